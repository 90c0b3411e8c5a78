/*
 * fuzz_upload.c — the request-body file readers of server/upload.c: a part
 * of a multipart/form-data body (the predict route's image upload) and a
 * base64 string or data: URL (its JSON form).
 *
 * Input: the Content-Type header's boundary parameter, FUZZ_SEP, the body.
 * The body is also read as base64 text.
 * Properties: a found part lies inside the body; a malformed body says why
 * in one line; base64 output is never longer than 3/4 of its text (+3), and
 * the max-size refusal reports the size it would have been.
 *
 * Threads: one.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "server/upload.h"

#define UPLOAD_FUZZ_MAX 4096

static void check_multipart(const char *type, const char *body, size_t len)
{
	static const char *const names[] = {"image", "checkpoint", "top"};
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
		struct upload_part part = {0};
		char err[256] = "";
		int rc = upload_multipart_part(type, body, len, names[i], &part, err, sizeof err);
		if (rc < 0)
			fuzz_check_message("multipart", err);
		else if (rc == 1 && (part.data < body || part.len > len || part.data + part.len > body + len))
			fuzz_fail("multipart: part '%s' (%zu bytes) lies outside the %zu-byte body", names[i], part.len,
				  len);
	}
}

static void check_base64(const char *text, size_t textlen)
{
	char err[256] = "";
	size_t len = 0;
	unsigned char *bytes = upload_base64(text, UPLOAD_FUZZ_MAX, &len, err, sizeof err);
	if (!bytes) {
		fuzz_check_message("base64", err);
	} else {
		if (len > UPLOAD_FUZZ_MAX)
			fuzz_fail("base64: %zu bytes past the %d-byte limit", len, UPLOAD_FUZZ_MAX);
		if (len > textlen / 4 * 3 + 3)
			fuzz_fail("base64: %zu bytes from %zu characters", len, textlen);
	}
	free(bytes);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_part parts[2];
	int n = fuzz_split(data, size, parts, 2);
	char *boundary = fuzz_strdup(&parts[0]);
	char *body = n > 1 ? fuzz_strdup(&parts[1]) : fuzz_strdup(&parts[0]);
	size_t body_len = n > 1 ? parts[1].len : parts[0].len;
	size_t tlen = strlen(boundary) + 64;
	char *type = malloc(tlen);
	snprintf(type, tlen, "multipart/form-data; boundary=%s", boundary);
	if (!upload_is_multipart(type))
		fuzz_fail("upload_is_multipart refuses '%s'", type);
	check_multipart(type, body, body_len);
	check_multipart(boundary, body, body_len); /* a fuzzed header whole */
	check_base64(body, strlen(body));
	free(type);
	free(body);
	free(boundary);
	return 0;
}
