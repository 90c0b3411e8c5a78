/*
 * fuzz_idx.c — the MNIST / Fashion-MNIST IDX reader (engine/data_idx.c),
 * plain or gzip-compressed, through data_probe and data_load.
 *
 * Input: up to four files joined by FUZZ_SEP: train images, train labels,
 * test images, test labels; a missing test file repeats its train one.
 * They are written to a scratch folder under the canonical names (without
 * .gz: zlib reads gzip or plain data alike, so a gzip seed fuzzes the
 * inflater). The spec asks for a validation split and train-set
 * normalisation so data.c's split and statistics run too. Properties:
 * fuzz_data.h.
 *
 * Threads: one.
 */
#include <stdio.h>

#include "fuzz.h"
#include "fuzz_data.h"

static const char *const idx_names[4] = {
	"train-images-idx3-ubyte",
	"train-labels-idx1-ubyte",
	"t10k-images-idx3-ubyte",
	"t10k-labels-idx1-ubyte",
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *dir = fuzz_scratch();
	struct fuzz_part parts[4];
	int n = fuzz_split(data, size, parts, 4);
	for (int i = 0; i < 4; i++) {
		const struct fuzz_part *p = i < n ? &parts[i] : i >= 2 && i - 2 < n ? &parts[i - 2] : NULL;
		fuzz_write(dir, idx_names[i], p ? p->data : NULL, p ? p->len : 0);
	}
	char yaml[1024];
	snprintf(yaml, sizeof yaml,
		 "data: {dataset: mnist, path: \"%s\", validation: 0.25, augment: [normalize]}\n"
		 "model: [flatten, {linear: 10}]\n",
		 dir);
	fuzz_data_run(yaml);
	return 0;
}
