/*
 * fuzz_cifar.c — the CIFAR-10 binary-batch reader (engine/data_cifar.c),
 * through data_probe and data_load.
 *
 * Input: up to three files joined by FUZZ_SEP: a train batch, the test
 * batch (the train batch again when missing) and batches.meta.txt (none
 * when missing). data_batch_2..5.bin are symlinks to data_batch_1.bin, made
 * once, so an input writes three files, not seven. Properties: fuzz_data.h.
 *
 * Threads: one.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "fuzz.h"
#include "fuzz_data.h"

static void link_batches(const char *dir)
{
	static int done;
	if (done)
		return;
	for (int i = 2; i <= 5; i++) {
		char name[32], path[512];
		snprintf(name, sizeof name, "data_batch_%d.bin", i);
		fuzz_path(path, sizeof path, dir, name);
		if (symlink("data_batch_1.bin", path) < 0 && errno != EEXIST)
			fuzz_fail("symlink %s: %s", path, strerror(errno));
	}
	done = 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *dir = fuzz_scratch();
	struct fuzz_part parts[3];
	int n = fuzz_split(data, size, parts, 3);
	link_batches(dir);
	fuzz_write(dir, "data_batch_1.bin", parts[0].data, parts[0].len);
	const struct fuzz_part *test = n > 1 ? &parts[1] : &parts[0];
	fuzz_write(dir, "test_batch.bin", test->data, test->len);
	if (n > 2)
		fuzz_write(dir, "batches.meta.txt", parts[2].data, parts[2].len);
	else
		fuzz_remove(dir, "batches.meta.txt");
	char yaml[1024];
	snprintf(yaml, sizeof yaml,
		 "data: {dataset: cifar10, path: \"%s\", validation: 0.25}\n"
		 "model: [flatten, {linear: 10}]\n",
		 dir);
	fuzz_data_run(yaml);
	return 0;
}
