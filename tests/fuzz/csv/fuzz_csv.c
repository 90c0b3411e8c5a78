/*
 * fuzz_csv.c — the CSV reader (engine/data_csv.c), through data_probe and
 * data_load.
 *
 * Input: one byte that picks the data options (header or not, label column
 * by name or index, a test file or a test fraction, validation,
 * normalisation), then the train file, optionally followed by FUZZ_SEP and
 * a test file (data.test_path). Properties: fuzz_data.h.
 *
 * Threads: one.
 */
#include <stdio.h>

#include "fuzz.h"
#include "fuzz_data.h"

/* Extra data keys, picked by the first byte of the input. */
static const char *const csv_options[] = {
	"",
	"header: false",
	"label_column: label",
	"label_column: \"0\"",
	"header: false, label_column: \"1\"",
	"test_fraction: 0.5, validation: 0.25",
	"augment: [normalize]",
	"test_fraction: 0",
};
#define CSV_NOPTIONS (sizeof csv_options / sizeof csv_options[0])

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	const char *dir = fuzz_scratch();
	const char *options = csv_options[data[0] % CSV_NOPTIONS];
	struct fuzz_part parts[2];
	int n = fuzz_split(data + 1, size - 1, parts, 2);
	fuzz_write(dir, "train.csv", parts[0].data, parts[0].len);
	char test_key[600] = "";
	if (n > 1) {
		fuzz_write(dir, "test.csv", parts[1].data, parts[1].len);
		snprintf(test_key, sizeof test_key, ", test_path: \"%s/test.csv\"", dir);
	}
	char yaml[2048];
	snprintf(yaml, sizeof yaml,
		 "data: {dataset: csv, path: \"%s/train.csv\"%s%s%s}\n"
		 "model: [flatten, {linear: 2}]\n",
		 dir, test_key, options[0] ? ", " : "", options);
	fuzz_data_run(yaml);
	return 0;
}
