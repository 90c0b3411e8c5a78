/*
 * loader_bench.c — batches per second of the data loader on Fashion-MNIST
 * (batch 64), with and without augmentation, for 1 and 2 worker threads.
 * A benchmark, not a test: it prints numbers and never fails on speed.
 *
 * Build and run: sh tests/bench/loader_bench.sh
 * Threads: main thread consumes; the loader's workers produce.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data.h"
#include "tb.h"

/* Consume `epochs` epochs and return batches per second. The checksum
 * touches every float, as a train step would read them. */
static double bench_run(const struct dataset *d, const struct spec_data *aug, int augment,
			int workers, int epochs, double *checksum)
{
	struct loader_options opt = {
		.batch_size = 64, .shuffle = true, .drop_last = false, .augment = augment,
		.workers = workers, .prefetch = 4, .seed = 1,
	};
	char err[256];
	struct loader *l = loader_new(d, aug, &opt, 0, 0, err, sizeof(err));
	if (!l) {
		fprintf(stderr, "loader_bench: %s\n", err);
		exit(1);
	}
	struct batch b;
	long batches = 0;
	double sum = 0, t0 = tb_now();
	for (int e = 0; e < epochs; e++) {
		while (loader_next(l, &b) == 0) {
			for (int64_t k = 0; k < (int64_t)b.n * dataset_sample_size(d); k += 97)
				sum += b.x[k];
			batches++;
		}
	}
	double dt = tb_now() - t0;
	loader_free(l);
	*checksum += sum;
	return batches / dt;
}

int main(int argc, char **argv)
{
	int epochs = argc > 1 ? atoi(argv[1]) : 3;
	struct spec_data spec;
	memset(&spec, 0, sizeof(spec));
	snprintf(spec.dataset, sizeof(spec.dataset), "fashion-mnist");
	struct data_splits s;
	char err[512];
	double t0 = tb_now();
	if (data_load(&spec, 0, &s, err, sizeof(err)) != 0) {
		fprintf(stderr, "loader_bench: %s\n", err);
		return 1;
	}
	printf("load fashion-mnist (gzip IDX, 70000 images): %.3f s\n", tb_now() - t0);

	struct spec_data aug;
	memset(&aug, 0, sizeof(aug));
	aug.naugment = 3;
	snprintf(aug.augment[0].name, SPEC_NAME_MAX, "random_crop");
	aug.augment[0].value = 4;
	snprintf(aug.augment[1].name, SPEC_NAME_MAX, "hflip");
	aug.augment[1].value = 0.5;
	snprintf(aug.augment[2].name, SPEC_NAME_MAX, "normalize");
	aug.nnormalize = 1;
	aug.mean[0] = 0.2860f;
	aug.std[0] = 0.3530f;

	double checksum = 0;
	for (int workers = 1; workers <= 2; workers++) {
		double plain = bench_run(&s.train, NULL, 0, workers, epochs, &checksum);
		double augd = bench_run(&s.train, &aug, 1, workers, epochs, &checksum);
		printf("workers %d: plain %8.0f batches/s (%7.0f images/s)   "
		       "crop+flip+normalize %8.0f batches/s (%7.0f images/s)\n",
		       workers, plain, plain * 64, augd, augd * 64);
	}
	printf("(checksum %.3f)\n", checksum);
	data_splits_free(&s);
	return 0;
}
