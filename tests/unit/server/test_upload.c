/*
 * test_upload.c — request-body uploads (server/upload.c): multipart parts
 * found by name (binary bytes, a quoted boundary, a filename= that must
 * not pass for name=, a preamble), malformed bodies refused, and base64
 * with data: URLs, whitespace, a size bound and garbage refused.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "server/upload.h"

static const char ct[] = "multipart/form-data; boundary=XyZ";

static void finds_parts_by_name(void **state)
{
	(void)state;
	/* A binary part with CR LF and a fake delimiter-looking run inside it. */
	static const char body[] = "--XyZ\r\n"
				   "Content-Disposition: form-data; name=\"checkpoint\"\r\n\r\n"
				   "best.safetensors\r\n"
				   "--XyZ\r\n"
				   "Content-Disposition: form-data; filename=\"name=.png\"; name=\"image\"\r\n"
				   "Content-Type: image/png\r\n\r\n"
				   "\x89PNG\r\n\x00--Xy\r\nZ\r\n"
				   "--XyZ--\r\n";
	struct upload_part p;
	char err[128];
	assert_int_equal(upload_multipart_part(ct, body, sizeof body - 1, "image", &p, err, sizeof err), 1);
	assert_int_equal(p.len, 14);
	assert_memory_equal(p.data, "\x89PNG\r\n\x00--Xy\r\nZ", 14);
	assert_int_equal(upload_multipart_part(ct, body, sizeof body - 1, "checkpoint", &p, err, sizeof err), 1);
	assert_int_equal(p.len, 16);
	assert_memory_equal(p.data, "best.safetensors", 16);
	assert_int_equal(upload_multipart_part(ct, body, sizeof body - 1, "top", &p, err, sizeof err), 0);
}

static void quoted_boundary_and_preamble(void **state)
{
	(void)state;
	static const char body[] = "ignored preamble\r\n--a b\r\n"
				   "content-disposition: form-data; name=\"image\"\r\n\r\nxyz\r\n--a b--";
	struct upload_part p;
	char err[128];
	assert_int_equal(upload_multipart_part("Multipart/Form-Data; charset=x; boundary=\"a b\"", body,
					       sizeof body - 1, "image", &p, err, sizeof err),
			 1);
	assert_int_equal(p.len, 3);
	assert_memory_equal(p.data, "xyz", 3);
}

static void refuses_malformed(void **state)
{
	(void)state;
	struct upload_part p;
	char err[128];
	static const char unclosed[] = "--XyZ\r\nContent-Disposition: form-data; name=\"image\"\r\n\r\nabc";
	assert_int_equal(upload_multipart_part(ct, unclosed, sizeof unclosed - 1, "image", &p, err, sizeof err), -1);
	assert_non_null(strstr(err, "malformed"));
	static const char no_headers_end[] = "--XyZ\r\nContent-Disposition: form-data; name=\"image\"\r\n";
	assert_int_equal(
		upload_multipart_part(ct, no_headers_end, sizeof no_headers_end - 1, "image", &p, err, sizeof err), -1);
	assert_int_equal(upload_multipart_part("multipart/form-data", "", 0, "image", &p, err, sizeof err), -1);
	assert_non_null(strstr(err, "boundary"));
	assert_int_equal(upload_multipart_part("application/json; boundary=XyZ", "", 0, "image", &p, err, sizeof err),
			 -1);
	assert_int_equal(upload_multipart_part(ct, "", 0, "image", &p, err, sizeof err), -1);
}

static void base64_forms(void **state)
{
	(void)state;
	size_t len;
	char err[128];
	unsigned char *b = upload_base64("aGVs\nbG8=", 100, &len, err, sizeof err);
	assert_non_null(b);
	assert_int_equal(len, 5);
	assert_memory_equal(b, "hello", 5);
	free(b);
	b = upload_base64("data:image/png;base64,aGVsbG8", 100, &len, err, sizeof err);
	assert_non_null(b);
	assert_int_equal(len, 5);
	free(b);
	b = upload_base64("", 100, &len, err, sizeof err);
	assert_non_null(b);
	assert_int_equal(len, 0);
	free(b);
	assert_null(upload_base64("aGVsbG8=!", 100, &len, err, sizeof err));
	assert_null(upload_base64("aG=Vs", 100, &len, err, sizeof err));
	assert_null(upload_base64("a", 100, &len, err, sizeof err));
	assert_null(upload_base64("data:image/png,hello", 100, &len, err, sizeof err));
	assert_null(upload_base64("aGVsbG8=", 4, &len, err, sizeof err));
	assert_int_equal(len, 5); /* the size is said, for a 413 */
	assert_non_null(strstr(err, "more than"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(finds_parts_by_name),
		cmocka_unit_test(quoted_boundary_and_preamble),
		cmocka_unit_test(refuses_malformed),
		cmocka_unit_test(base64_forms),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
