/*
 * tensor.h — a view of memory with a dtype, shape and strides.
 *
 * What it is: the description of a buffer that safetensors files hold:
 * what checkpoint.c writes and reads and what `trainbook-engine parity`
 * exchanges with PyTorch. What it is not: an owner or an autograd node —
 * memory belongs to the group it was carved from (one allocation per
 * tensor group, as in llm.c) — nor what the rest of the engine passes
 * around: parameter tables (model.h), data batches (data.h) and layers
 * (raw backend pointers) have their own shapes.
 */
#ifndef TB_TENSOR_H
#define TB_TENSOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TENSOR_MAX_DIMS 4

enum tensor_dtype { TENSOR_F32, TENSOR_BF16, TENSOR_F16, TENSOR_U8, TENSOR_I32, TENSOR_I64 };

struct tensor {
	void *data;                        /* not owned */
	enum tensor_dtype dtype;
	int ndim;                          /* 0 = scalar */
	int64_t shape[TENSOR_MAX_DIMS];
	int64_t stride[TENSOR_MAX_DIMS];   /* in elements */
};

/* A contiguous (row-major) tensor over `data`. */
struct tensor tensor_make(void *data, enum tensor_dtype dtype, int ndim, const int64_t *shape);

int64_t tensor_numel(const struct tensor *t);
size_t tensor_nbytes(const struct tensor *t);
bool tensor_is_contiguous(const struct tensor *t);
size_t tensor_dtype_size(enum tensor_dtype dt);
/* safetensors dtype names: "F32", "BF16", "F16", "U8", "I32", "I64". */
const char *tensor_dtype_name(enum tensor_dtype dt);
/* Parse a safetensors dtype name; -1 when unknown. */
int tensor_dtype_parse(const char *name, enum tensor_dtype *out);
/* "[64, 1, 28, 28]" into buf. */
char *tensor_shape_str(const struct tensor *t, char *buf, size_t len);

#endif
