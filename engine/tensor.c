/*
 * tensor.c — shape, stride and dtype bookkeeping for struct tensor.
 * Pure functions; any thread.
 */
#include "tensor.h"

#include <stdio.h>
#include <string.h>

#include "tb.h"

static const struct {
	const char *name;
	size_t size;
} dtype_table[] = {
	[TENSOR_F32] = {"F32", 4}, [TENSOR_BF16] = {"BF16", 2}, [TENSOR_F16] = {"F16", 2},
	[TENSOR_U8] = {"U8", 1},   [TENSOR_I32] = {"I32", 4},   [TENSOR_I64] = {"I64", 8},
};

struct tensor tensor_make(void *data, enum tensor_dtype dtype, int ndim, const int64_t *shape)
{
	TB_ASSERT(ndim >= 0 && ndim <= TENSOR_MAX_DIMS);
	struct tensor t = {.data = data, .dtype = dtype, .ndim = ndim};
	int64_t stride = 1;
	for (int i = ndim - 1; i >= 0; i--) {
		t.shape[i] = shape[i];
		t.stride[i] = stride;
		stride *= shape[i];
	}
	return t;
}

int64_t tensor_numel(const struct tensor *t)
{
	int64_t n = 1;
	for (int i = 0; i < t->ndim; i++)
		n *= t->shape[i];
	return n;
}

size_t tensor_dtype_size(enum tensor_dtype dt)
{
	TB_ASSERT((size_t)dt < TB_ARRAY_LEN(dtype_table));
	return dtype_table[dt].size;
}

size_t tensor_nbytes(const struct tensor *t)
{
	return (size_t)tensor_numel(t) * tensor_dtype_size(t->dtype);
}

bool tensor_is_contiguous(const struct tensor *t)
{
	int64_t stride = 1;
	for (int i = t->ndim - 1; i >= 0; i--) {
		if (t->shape[i] != 1 && t->stride[i] != stride)
			return false;
		stride *= t->shape[i];
	}
	return true;
}

const char *tensor_dtype_name(enum tensor_dtype dt)
{
	TB_ASSERT((size_t)dt < TB_ARRAY_LEN(dtype_table));
	return dtype_table[dt].name;
}

int tensor_dtype_parse(const char *name, enum tensor_dtype *out)
{
	for (size_t i = 0; i < TB_ARRAY_LEN(dtype_table); i++) {
		if (strcmp(name, dtype_table[i].name) == 0) {
			*out = (enum tensor_dtype)i;
			return 0;
		}
	}
	return -1;
}

char *tensor_shape_str(const struct tensor *t, char *buf, size_t len)
{
	size_t used = 0;
	buf[0] = 0;
	used += snprintf(buf + used, len - used, "[");
	for (int i = 0; i < t->ndim && used < len; i++)
		used += snprintf(buf + used, len - used, "%s%lld", i ? ", " : "", (long long)t->shape[i]);
	if (used < len)
		snprintf(buf + used, len - used, "]");
	return buf;
}
