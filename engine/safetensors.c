/*
 * safetensors.c — the .safetensors reader and writer (see safetensors.h).
 *
 * The header parser is a small recursive-descent JSON reader that accepts
 * exactly what the format allows (an object of tensor descriptions plus an
 * optional string map) and checks every offset against the file size, so
 * a truncated or hostile file is an error message, never a crash.
 */
#include "safetensors.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "atomic_file.h"
#include "jsonw.h"
#include "tb.h"

int safetensors_write(const char *path, const struct st_entry *entries, int n, const struct st_meta *meta,
		      int nmeta, char *err, size_t errlen)
{
	struct jsonw w;
	jsonw_init(&w);
	jsonw_begin_object(&w);
	if (nmeta) {
		jsonw_key(&w, "__metadata__");
		jsonw_begin_object(&w);
		for (int i = 0; i < nmeta; i++)
			jsonw_kstr(&w, meta[i].key, meta[i].value);
		jsonw_end_object(&w);
	}
	size_t offset = 0;
	for (int i = 0; i < n; i++) {
		const struct tensor *t = &entries[i].t;
		TB_ASSERT(tensor_is_contiguous(t));
		size_t nb = tensor_nbytes(t);
		jsonw_key(&w, entries[i].name);
		jsonw_begin_object(&w);
		jsonw_kstr(&w, "dtype", tensor_dtype_name(t->dtype));
		jsonw_key(&w, "shape");
		jsonw_begin_array(&w);
		for (int d = 0; d < t->ndim; d++)
			jsonw_int(&w, t->shape[d]);
		jsonw_end_array(&w);
		jsonw_key(&w, "data_offsets");
		jsonw_begin_array(&w);
		jsonw_int(&w, (int64_t)offset);
		jsonw_int(&w, (int64_t)(offset + nb));
		jsonw_end_array(&w);
		jsonw_end_object(&w);
		offset += nb;
	}
	jsonw_end_object(&w);
	/* Pad the header with spaces so tensor data starts 8-byte aligned. */
	size_t hlen = w.len, padded = (hlen + 7) & ~(size_t)7;
	char *header = jsonw_take(&w);
	jsonw_free(&w);
	header = tb_xrealloc(header, padded + 1);
	memset(header + hlen, ' ', padded - hlen);
	header[padded] = 0;

	struct atomic_file f;
	unsigned char lenbuf[8];
	for (int i = 0; i < 8; i++)
		lenbuf[i] = (unsigned char)((uint64_t)padded >> (8 * i));
	int bad = atomic_file_open(&f, path, err, errlen) < 0 || atomic_file_write(&f, lenbuf, 8, err, errlen) < 0 ||
		  atomic_file_write(&f, header, padded, err, errlen) < 0;
	for (int i = 0; i < n && !bad; i++)
		bad = atomic_file_write(&f, entries[i].t.data, tensor_nbytes(&entries[i].t), err, errlen) < 0;
	free(header);
	return bad ? -1 : atomic_file_commit(&f, false, err, errlen);
}

/* ---- header parser --------------------------------------------------------- */

struct parser {
	const char *p, *end;
	const char *error; /* first problem, static text */
};

static void skip_ws(struct parser *ps)
{
	while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\n' || *ps->p == '\r' || *ps->p == '\t'))
		ps->p++;
}

static bool expect(struct parser *ps, char c)
{
	skip_ws(ps);
	if (ps->p < ps->end && *ps->p == c) {
		ps->p++;
		return true;
	}
	if (!ps->error)
		ps->error = "malformed JSON header";
	return false;
}

static bool peek(struct parser *ps, char c)
{
	skip_ws(ps);
	return ps->p < ps->end && *ps->p == c;
}

/* A JSON string into a malloc'd buffer (\uXXXX below 0x80 only: names are ASCII in practice). */
static char *parse_string(struct parser *ps)
{
	if (!expect(ps, '"'))
		return NULL;
	size_t cap = 32, n = 0;
	char *out = tb_xmalloc(cap);
	while (ps->p < ps->end && *ps->p != '"') {
		char c = *ps->p++;
		if (c == '\\') {
			if (ps->p >= ps->end)
				break;
			char e = *ps->p++;
			switch (e) {
			case 'n': c = '\n'; break;
			case 't': c = '\t'; break;
			case 'r': c = '\r'; break;
			case 'b': c = '\b'; break;
			case 'f': c = '\f'; break;
			case 'u': {
				unsigned v = 0;
				if (ps->end - ps->p < 4 || sscanf(ps->p, "%4x", &v) != 1) {
					ps->error = "bad \\u escape in header";
					free(out);
					return NULL;
				}
				ps->p += 4;
				c = v < 0x80 ? (char)v : '?';
				break;
			}
			default: c = e;
			}
		}
		if (n + 2 > cap)
			out = tb_xrealloc(out, cap *= 2);
		out[n++] = c;
	}
	if (!expect(ps, '"')) {
		free(out);
		return NULL;
	}
	out[n] = 0;
	return out;
}

static bool parse_uint(struct parser *ps, uint64_t *out)
{
	skip_ws(ps);
	if (ps->p >= ps->end || *ps->p < '0' || *ps->p > '9') {
		ps->error = "expected a non-negative integer in header";
		return false;
	}
	uint64_t v = 0;
	while (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9') {
		if (v > (UINT64_MAX - 9) / 10) {
			ps->error = "integer overflow in header";
			return false;
		}
		v = v * 10 + (uint64_t)(*ps->p++ - '0');
	}
	*out = v;
	return true;
}

static int parse_uint_array(struct parser *ps, uint64_t *vals, int max)
{
	if (!expect(ps, '['))
		return -1;
	int n = 0;
	if (peek(ps, ']')) {
		ps->p++;
		return 0;
	}
	do {
		if (n >= max) {
			ps->error = "too many dimensions in header";
			return -1;
		}
		if (!parse_uint(ps, &vals[n++]))
			return -1;
	} while (peek(ps, ',') && ps->p++);
	return expect(ps, ']') ? n : -1;
}

/* Consume '{' and, for an empty object, '}': -1 on error, 0 when empty, 1 when members follow. */
static int begin_object(struct parser *ps)
{
	if (!expect(ps, '{'))
		return -1;
	if (peek(ps, '}')) {
		ps->p++;
		return 0;
	}
	return 1;
}

static bool parse_metadata(struct parser *ps, struct safetensors *st)
{
	int members = begin_object(ps);
	if (members <= 0)
		return members == 0;
	do {
		char *k = parse_string(ps);
		if (!k)
			return false;
		char *v = NULL;
		if (!expect(ps, ':') || !(v = parse_string(ps))) {
			free(k);
			return false;
		}
		st->meta_keys = tb_xrealloc(st->meta_keys, (size_t)(st->nmeta + 1) * sizeof(char *));
		st->meta_values = tb_xrealloc(st->meta_values, (size_t)(st->nmeta + 1) * sizeof(char *));
		st->meta_keys[st->nmeta] = k;
		st->meta_values[st->nmeta++] = v;
	} while (peek(ps, ',') && ps->p++);
	return expect(ps, '}');
}

static bool parse_tensor(struct parser *ps, struct st_tensor *t, size_t data_size)
{
	char *dtype = NULL;
	uint64_t shape[TENSOR_MAX_DIMS + 1], offsets[3];
	int ndim = -1, noff = -1;
	if (!expect(ps, '{'))
		return false;
	do {
		char *k = parse_string(ps);
		if (!k || !expect(ps, ':')) {
			free(k);
			free(dtype);
			return false;
		}
		if (strcmp(k, "dtype") == 0) {
			free(dtype);
			dtype = parse_string(ps);
		} else if (strcmp(k, "shape") == 0) {
			ndim = parse_uint_array(ps, shape, TENSOR_MAX_DIMS);
		} else if (strcmp(k, "data_offsets") == 0) {
			noff = parse_uint_array(ps, offsets, 2);
		} else {
			ps->error = "unknown field in a tensor description";
		}
		free(k);
		if (ps->error) {
			free(dtype);
			return false;
		}
	} while (peek(ps, ',') && ps->p++);
	bool ok = expect(ps, '}');
	enum tensor_dtype dt = TENSOR_F32;
	if (ok && (!dtype || tensor_dtype_parse(dtype, &dt) < 0))
		ps->error = "unsupported or missing dtype", ok = false;
	free(dtype);
	if (ok && (ndim < 0 || noff != 2))
		ps->error = "tensor without shape or data_offsets", ok = false;
	if (!ok)
		return false;
	int64_t dims[TENSOR_MAX_DIMS];
	uint64_t numel = 1;
	for (int i = 0; i < ndim; i++) {
		dims[i] = (int64_t)shape[i];
		if (shape[i] > (1ULL << 40) || (numel *= shape[i]) > (1ULL << 40)) {
			ps->error = "tensor shape too large";
			return false;
		}
	}
	t->t = tensor_make(NULL, dt, ndim, dims);
	t->nbytes = numel * tensor_dtype_size(dt);
	if (offsets[0] > offsets[1] || offsets[1] > data_size || offsets[1] - offsets[0] != t->nbytes) {
		ps->error = "tensor data offsets do not match its shape or the file size (truncated file?)";
		return false;
	}
	t->t.data = (void *)(uintptr_t)offsets[0]; /* rebased onto the data section by the caller */
	return true;
}

static bool parse_header(struct parser *ps, struct safetensors *st, size_t data_size)
{
	int members = begin_object(ps);
	if (members <= 0)
		return members == 0;
	do {
		char *name = parse_string(ps);
		if (!name || !expect(ps, ':')) {
			free(name);
			return false;
		}
		if (strcmp(name, "__metadata__") == 0) {
			free(name);
			if (!parse_metadata(ps, st))
				return false;
			continue;
		}
		st->tensors = tb_xrealloc(st->tensors, (size_t)(st->n + 1) * sizeof(*st->tensors));
		struct st_tensor *t = &st->tensors[st->n];
		memset(t, 0, sizeof(*t));
		t->name = name;
		st->n++;
		if (!parse_tensor(ps, t, data_size))
			return false;
	} while (peek(ps, ',') && ps->p++);
	return expect(ps, '}');
}

int safetensors_read(const char *path, struct safetensors *st, char *err, size_t errlen)
{
	memset(st, 0, sizeof(*st));
	char *data;
	size_t size;
	if (tb_read_file(path, &data, &size) < 0) {
		tb_fmt(err, errlen, "%s: cannot read: %s", path, strerror(errno));
		return -1;
	}
	st->bytes = (unsigned char *)data;
	st->size = size;
	if (size < 8) {
		tb_fmt(err, errlen, "%s: not a safetensors file (only %zu bytes)", path, size);
		goto fail;
	}
	uint64_t hlen = 0;
	for (int i = 0; i < 8; i++)
		hlen |= (uint64_t)st->bytes[i] << (8 * i);
	if (hlen > size - 8 || hlen > (100u << 20)) {
		tb_fmt(err, errlen, "%s: header length %llu does not fit in a %zu-byte file", path,
		       (unsigned long long)hlen, size);
		goto fail;
	}
	size_t data_size = size - 8 - hlen;
	struct parser ps = {.p = data + 8, .end = data + 8 + hlen};
	if (!parse_header(&ps, st, data_size)) {
		tb_fmt(err, errlen, "%s: %s", path, ps.error ? ps.error : "malformed JSON header");
		goto fail;
	}
	unsigned char *base = st->bytes + 8 + hlen;
	for (int i = 0; i < st->n; i++)
		st->tensors[i].t.data = base + (uintptr_t)st->tensors[i].t.data;
	return 0;
fail:
	safetensors_free(st);
	return -1;
}

const struct st_tensor *safetensors_find(const struct safetensors *st, const char *name)
{
	for (int i = 0; i < st->n; i++)
		if (strcmp(st->tensors[i].name, name) == 0)
			return &st->tensors[i];
	return NULL;
}

const char *safetensors_meta(const struct safetensors *st, const char *key)
{
	for (int i = 0; i < st->nmeta; i++)
		if (strcmp(st->meta_keys[i], key) == 0)
			return st->meta_values[i];
	return NULL;
}

void safetensors_free(struct safetensors *st)
{
	for (int i = 0; i < st->n; i++)
		free(st->tensors[i].name);
	for (int i = 0; i < st->nmeta; i++) {
		free(st->meta_keys[i]);
		free(st->meta_values[i]);
	}
	free(st->tensors);
	free(st->meta_keys);
	free(st->meta_values);
	free(st->bytes);
	memset(st, 0, sizeof(*st));
}
