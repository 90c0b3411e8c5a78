/*
 * data_internal.h — what the data-set readers (data_idx.c, data_csv.c,
 * data_cifar.c, data_images.c, data_synthetic.c) share with data.c.
 * Private to engine/data*.c and loader.c; the rest of the engine uses data.h.
 *
 * Each format provides a load function that fills the train and test
 * splits (data.c then carves validation off train) and a probe function
 * that answers shape and class count cheaply. Both follow the data.h error
 * contract: -1 and a one-line message naming the file and the fix.
 *
 * Threads: caller's thread only; no globals.
 */
#ifndef TB_DATA_INTERNAL_H
#define TB_DATA_INTERNAL_H

#include "data.h"

/* Fixed key for the test split that csv and image-folder carve off when no
 * separate test set exists: independent of the run seed, so runs with
 * different seeds are scored on the same test samples. */
#define DATA_TEST_SPLIT_KEY 0x7465737473706c74ULL /* "testsplt" */

/* Largest accepted image side and channel count: bounds every allocation a
 * file header can ask for before any data has been read. */
#define DATA_MAX_SIDE 65535
#define DATA_MAX_CHANNELS 4096

/* A load function gives up with data_stopped's error once *stop (may be NULL) is set. */
typedef int (*data_load_fn)(const struct spec_data *spec, const volatile sig_atomic_t *stop,
			    struct data_splits *out, char *err, size_t errlen);
/* A probe fills every field of *out (data.h). */
typedef int (*data_probe_fn)(const struct spec_data *spec, struct data_info *out, char *err,
			     size_t errlen);

int data_idx_load(const struct spec_data *spec, const volatile sig_atomic_t *stop,
		  struct data_splits *out, char *err, size_t errlen);
int data_idx_probe(const struct spec_data *spec, struct data_info *out, char *err, size_t errlen);
int data_cifar_load(const struct spec_data *spec, const volatile sig_atomic_t *stop,
		    struct data_splits *out, char *err, size_t errlen);
int data_cifar_probe(const struct spec_data *spec, struct data_info *out, char *err, size_t errlen);
int data_csv_load(const struct spec_data *spec, const volatile sig_atomic_t *stop,
		  struct data_splits *out, char *err, size_t errlen);
int data_csv_probe(const struct spec_data *spec, struct data_info *out, char *err, size_t errlen);
int data_images_load(const struct spec_data *spec, const volatile sig_atomic_t *stop,
		     struct data_splits *out, char *err, size_t errlen);
int data_images_probe(const struct spec_data *spec, struct data_info *out, char *err, size_t errlen);
int data_synthetic_load(const struct spec_data *spec, const volatile sig_atomic_t *stop,
			struct data_splits *out, char *err, size_t errlen);
int data_synthetic_probe(const struct spec_data *spec, struct data_info *out, char *err,
			 size_t errlen);

/* One data set a spec may name: its keys (the data section's keys it takes) and its reader. */
struct data_set_kind {
	struct spec_kind spec; /* name, docs, FIELD keys: the data section's keys it takes */
	data_load_fn load;
	data_probe_fn probe;
	const void *source;    /* the reader's own description of this set (data_idx.c's struct idx_source), or NULL */
};

/* The row of the data set `spec` names (spec->kind, which the parser set). */
const struct data_set_kind *data_kind(const struct spec_data *spec);

/* The two IDX sets (data_idx.c): default folder, how to get them, class names. */
struct idx_source;
extern const struct idx_source data_idx_fashion_mnist, data_idx_mnist;

/* Fill err (if non-NULL) printf-style and return -1, so a reader can say
 * `return data_fail(err, errlen, "...")`. */
int data_fail(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Samples (or lines, or records) a reader handles between looks at the stop flag. */
#define DATA_STOP_EVERY 65536

/* -1 with the "stopped" message when *stop is set (stop may be NULL), else 0. */
int data_stopped(const volatile sig_atomic_t *stop, char *err, size_t errlen);

/*
 * Set up `d` (zeroed first) with storage for n samples of c×h×w and n
 * labels. The size comes from a file header, so an impossible size is a
 * user error, not an abort: returns -1 with "<what>: cannot allocate ...".
 */
int data_dataset_alloc(struct dataset *d, const char *name, enum dataset_storage storage,
		       int64_t n, int c, int h, int w, int classes, const char *what, char *err,
		       size_t errlen);

/* Copy `count` strings into a new owned class_names array. */
char **data_class_names_copy(const char *const *names, int count);

/* data_permutation (data.h) is a Fisher-Yates shuffle driven by
 * rng_seed(key): the one shuffle used for epoch orders and splits, so both
 * are reproducible. */

/*
 * Move `count` samples (a random subset drawn with `key`, kept in their
 * original order) from *whole into *part and the rest into *rest; *whole
 * is freed. Class names and channel statistics are copied to both.
 */
void data_split(struct dataset *whole, int64_t count, uint64_t key, struct dataset *rest,
		struct dataset *part);

/* Room for a data.path plus a file name inside it. */
#define DATA_PATH_MAX (SPEC_PATH_MAX + 128)

/* dst = dir "/" name; returns -1 (dst truncated) when it does not fit. */
int data_join(char *dst, size_t len, const char *dir, const char *name);

/* Does `path` name an existing regular file / directory? */
int data_is_file(const char *path);
int data_is_dir(const char *path);

#endif
