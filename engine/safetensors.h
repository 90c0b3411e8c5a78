/*
 * safetensors.h — reading and writing .safetensors files (the format of
 * Hugging Face's safetensors: 8-byte little-endian header length, a JSON
 * header {name: {dtype, shape, data_offsets}, "__metadata__": {str: str}},
 * then the raw little-endian tensor bytes).
 *
 * What it is: the file format only, written atomically (atomic_file.h)
 * and read by a validating reader that never
 * trusts offsets or shapes. What it is not: which tensors a checkpoint
 * holds (checkpoint.h).
 *
 * Threads: no shared state.
 */
#ifndef TB_SAFETENSORS_H
#define TB_SAFETENSORS_H

#include <stddef.h>

#include "tensor.h"

struct st_entry {
	const char *name;
	struct tensor t; /* host memory, contiguous */
};

struct st_meta {
	const char *key;
	const char *value;
};

/* Write atomically; on failure nothing is left at `path` that was not there before. */
int safetensors_write(const char *path, const struct st_entry *entries, int n, const struct st_meta *meta,
		      int nmeta, char *err, size_t errlen);

struct st_tensor {
	char *name;
	struct tensor t;  /* data points into the file's bytes */
	size_t nbytes;
};

struct safetensors {
	unsigned char *bytes; /* whole file, owned */
	size_t size;
	int n;
	struct st_tensor *tensors;
	int nmeta;
	char **meta_keys;
	char **meta_values;
};

/* Read and validate a whole file. Errors name the file and the problem. */
int safetensors_read(const char *path, struct safetensors *st, char *err, size_t errlen);
const struct st_tensor *safetensors_find(const struct safetensors *st, const char *name);
const char *safetensors_meta(const struct safetensors *st, const char *key);
void safetensors_free(struct safetensors *st);

#endif
