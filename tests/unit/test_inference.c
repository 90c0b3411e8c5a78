/*
 * test_inference.c — what predict and export stand on: every layer kind
 * has an ONNX form (a new kind without one fails here, not in a user's
 * export); the input contract survives checkpoint metadata (class names
 * with quotes and UTF-8, per-channel mean/std) and malformed metadata is
 * an error naming the key; preprocess_pixels is the loader's arithmetic;
 * data_image_read refuses an image by its header's size before decoding.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <png.h>

#include "data.h"
#include "layer.h"
#include "preprocess.h"
#include "safetensors.h"
#include "spec.h"
#include "tests/unit/tmpdir.h"

static void every_kind_exports(void **state)
{
	(void)state;
	const char *names[64];
	int n = layer_kind_names(names, 64);
	assert_true(n > 10);
	for (int i = 0; i < n; i++) {
		const struct layer_kind *k = layer_kind_find(names[i]);
		assert_non_null(k);
		if (!k->onnx)
			fail_msg("layer kind %s has no onnx slot: `trainbook export` would refuse every model using it",
				 names[i]);
	}
}

/* Write a checkpoint-like file with just the metadata m (and one tensor). */
static void write_meta(const char *path, const struct st_meta *m, int n)
{
	float x = 1;
	struct st_entry e = {"x", tensor_make(&x, TENSOR_F32, 1, (int64_t[]){1})};
	char err[256];
	assert_int_equal(safetensors_write(path, &e, 1, m, n, err, sizeof(err)), 0);
}

static int read_back(const char *path, struct preprocess *p, char *err, size_t errlen)
{
	struct safetensors st;
	assert_int_equal(safetensors_read(path, &st, err, errlen), 0);
	struct spec spec;
	memset(&spec, 0, sizeof(spec));
	int rc = preprocess_from_checkpoint(p, &st, &spec, path, err, errlen);
	safetensors_free(&st);
	return rc;
}

static void metadata_round_trip(void **state)
{
	(void)state;
	char *names[3] = {"cat", "Ankle \"boot\" \\ é", "日本"};
	float mean[3] = {0.4914f, 0.4822f, 0.4465f}, std[3] = {0.247f, 0.2435f, 0.2616f};
	struct preprocess in = {.c = 3,
				.h = 32,
				.w = 32,
				.classes = 3,
				.image = true,
				.normalize = true,
				.mean = mean,
				.std = std,
				.class_names = names};
	struct preprocess_meta m;
	preprocess_meta(&in, &m);
	char path[128], err[512];
	snprintf(path, sizeof(path), "%s/meta.safetensors", tmpdir);
	write_meta(path, m.meta, m.n);
	preprocess_meta_free(&m);
	struct preprocess out;
	assert_int_equal(read_back(path, &out, err, sizeof(err)), 0);
	assert_int_equal(out.c, 3);
	assert_int_equal(out.h, 32);
	assert_int_equal(out.classes, 3);
	assert_true(out.image && out.normalize);
	for (int i = 0; i < 3; i++) {
		assert_float_equal(out.mean[i], mean[i], 0);
		assert_float_equal(out.std[i], std[i], 0);
		assert_string_equal(out.class_names[i], names[i]);
	}
	struct shape s = preprocess_input_shape(&out);
	assert_int_equal(s.ndim, 3);
	preprocess_free(&out);
}

static void malformed_metadata(void **state)
{
	(void)state;
	static const struct {
		const char *shape, *kind, *mean, *std, *names, *key;
	} cases[] = {
		{"[1, 28]", "image", NULL, NULL, "[\"a\"]", "input_shape"},
		{"[1, 28, 28]", "pixels", NULL, NULL, "[\"a\"]", "input_kind"},
		{"[1, 28, 28]", "image", NULL, NULL, "[]", "class_names"},
		{"[1, 28, 28]", "image", NULL, NULL, "[\"a\", 3]", "class_names"},
		{"[1, 28, 28]", "image", NULL, NULL, "[\"a\\u0000\"]", "class_names"},
		{"[1, 28, 28]", "image", "[0.5]", NULL, "[\"a\"]", "normalize"},
		{"[1, 28, 28]", "image", "[0.5]", "[0]", "[\"a\"]", "normalize_std"},
		{"[3, 28, 28]", "image", "[0.5]", "[0.5]", "[\"a\"]", "normalize"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct st_meta m[5];
		int n = 0;
		m[n++] = (struct st_meta){"trainbook.input_shape", cases[i].shape};
		m[n++] = (struct st_meta){"trainbook.input_kind", cases[i].kind};
		m[n++] = (struct st_meta){"trainbook.class_names", cases[i].names};
		if (cases[i].mean)
			m[n++] = (struct st_meta){"trainbook.normalize_mean", cases[i].mean};
		if (cases[i].std)
			m[n++] = (struct st_meta){"trainbook.normalize_std", cases[i].std};
		char path[128], err[512];
		snprintf(path, sizeof(path), "%s/bad%zu.safetensors", tmpdir, i);
		write_meta(path, m, n);
		struct preprocess out;
		assert_int_equal(read_back(path, &out, err, sizeof(err)), -1);
		if (!strstr(err, cases[i].key))
			fail_msg("case %zu: '%s' does not name %s", i, err, cases[i].key);
	}
}

static void pixels_as_the_loader(void **state)
{
	(void)state;
	float mean[1] = {0.5f}, std[1] = {0.25f}, x[2];
	struct preprocess p = {.c = 1, .h = 1, .w = 2, .image = true, .normalize = true, .mean = mean, .std = std};
	const unsigned char px[2] = {0, 255};
	preprocess_pixels(&p, px, x);
	assert_float_equal(x[0], (0.0f - 0.5f) / 0.25f, 0);
	assert_float_equal(x[1], (255 / 255.0f - 0.5f) / 0.25f, 0);
	p.normalize = false;
	preprocess_pixels(&p, px, x);
	assert_float_equal(x[1], 1.0f, 0);
}

static void image_size_refused_first(void **state)
{
	(void)state;
	char path[128], err[512];
	snprintf(path, sizeof(path), "%s/img.png", tmpdir);
	png_image img;
	memset(&img, 0, sizeof(img));
	img.version = PNG_IMAGE_VERSION;
	img.width = 20;
	img.height = 10;
	img.format = PNG_FORMAT_RGB;
	unsigned char rgb[20 * 10 * 3];
	for (size_t i = 0; i < sizeof(rgb); i++)
		rgb[i] = (unsigned char)i;
	assert_true(png_image_write_to_file(&img, path, 0, rgb, 0, NULL));
	unsigned char out[3 * 5 * 10];
	int w, h;
	assert_int_equal(data_image_read(path, 3, 5, 10, 199, out, &w, &h, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "20 x 10 pixels is more than the 199"));
	assert_int_equal(data_image_read(path, 3, 5, 10, 200, out, &w, &h, err, sizeof(err)), 0);
	assert_int_equal(w, 20);
	assert_int_equal(h, 10);
	unsigned char gray[5 * 10];
	assert_int_equal(data_image_read(path, 1, 5, 10, 200, gray, &w, &h, err, sizeof(err)), 0);
	assert_int_equal(data_image_read(path, 2, 5, 10, 200, gray, &w, &h, err, sizeof(err)), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(every_kind_exports),       cmocka_unit_test(metadata_round_trip),
		cmocka_unit_test(malformed_metadata),       cmocka_unit_test(pixels_as_the_loader),
		cmocka_unit_test(image_size_refused_first),
	};
	return cmocka_run_group_tests(tests, make_tmpdir, remove_tmpdir);
}
