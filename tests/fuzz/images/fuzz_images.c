/*
 * fuzz_images.c — the PNG and JPEG decoding of the image-folder data set
 * (engine/data_images.c: libpng's simplified API, libjpeg with its errors
 * turned into messages, the bilinear resize), through data_probe and
 * data_load.
 *
 * Input: one byte that picks the layout and shape, then up to three image
 * files joined by FUZZ_SEP, stored as classes a/0, b/0 and b/1 (or, in the
 * train/test layout, train/a/0, train/b/0 and test/a/0), each named .png
 * or .jpg after its first bytes. The first image fixes the shape unless
 * data.shape is given, so a second image of another size is resized.
 * Properties: fuzz_data.h.
 *
 * Threads: one.
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "fuzz.h"
#include "fuzz_data.h"

/* Extra data keys, picked by the low bits of the first byte. */
static const char *const image_options[] = {
	"",
	", shape: [1, 6, 5]",
	", shape: [3, 4, 4]",
	", validation: 0.5",
};

static void put_image(const char *root, const char *cls, const char *stem, const struct fuzz_part *p)
{
	char dir[512], name[64];
	fuzz_path(dir, sizeof dir, root, cls);
	fuzz_mkdir(root, cls);
	bool png = p->len >= 4 && memcmp(p->data, "\x89PNG", 4) == 0;
	snprintf(name, sizeof name, "%s.%s", stem, png ? "png" : "jpg");
	fuzz_write(dir, name, p->data, p->len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	const char *scratch = fuzz_scratch();
	char root[512], train[512], test[512];
	fuzz_path(root, sizeof root, scratch, "images");
	fuzz_remove_tree(root);
	fuzz_mkdir(scratch, "images");
	bool split = data[0] & 4;
	const char *options = image_options[data[0] % 4];
	struct fuzz_part parts[3];
	int n = fuzz_split(data + 1, size - 1, parts, 3);
	if (split) {
		fuzz_mkdir(root, "train");
		fuzz_mkdir(root, "test");
		fuzz_path(train, sizeof train, root, "train");
		fuzz_path(test, sizeof test, root, "test");
	} else {
		snprintf(train, sizeof train, "%s", root);
		snprintf(test, sizeof test, "%s", root);
	}
	put_image(train, "a", "0", &parts[0]);
	if (n > 1)
		put_image(train, "b", "0", &parts[1]);
	if (n > 2)
		put_image(test, split ? "a" : "b", split ? "0" : "1", &parts[2]);
	char yaml[1024];
	snprintf(yaml, sizeof yaml,
		 "data: {dataset: image-folder, path: \"%s\"%s}\n"
		 "model: [flatten, {linear: 2}]\n",
		 root, options);
	fuzz_data_run(yaml);
	return 0;
}
