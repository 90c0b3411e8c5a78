/*
 * jsonw.h — a small JSON writer into a growable buffer: what the engine
 * needs to print events, the check result and safetensors headers without
 * a JSON library (the engine CLI must run where only libc, OpenBLAS and
 * libyaml exist).
 *
 * Usage: jsonw_begin_object, jsonw_key, jsonw_str/num/int/bool, …,
 * jsonw_end_object; commas are inserted automatically.
 * Threads: a writer belongs to one thread.
 */
#ifndef TB_JSONW_H
#define TB_JSONW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct jsonw {
	char *buf;        /* NUL-terminated, owned */
	size_t len, cap;
	int depth;
	bool need_comma[32]; /* per nesting level: a value was written at this level */
	bool after_key;      /* the next value follows a key: no comma */
};

void jsonw_init(struct jsonw *w);
void jsonw_free(struct jsonw *w);
/* Hand the buffer to the caller (malloc'd) and reset the writer. */
char *jsonw_take(struct jsonw *w);

void jsonw_begin_object(struct jsonw *w);
void jsonw_end_object(struct jsonw *w);
void jsonw_begin_array(struct jsonw *w);
void jsonw_end_array(struct jsonw *w);
void jsonw_key(struct jsonw *w, const char *key);
void jsonw_str(struct jsonw *w, const char *s);
void jsonw_strn(struct jsonw *w, const char *s, size_t n);
/* A finite number with enough digits to round-trip a float; NaN/inf become null. */
void jsonw_num(struct jsonw *w, double v);
void jsonw_int(struct jsonw *w, int64_t v);
/* A number with a fixed count of decimals (timestamps: "%.3f"). */
void jsonw_fixed(struct jsonw *w, double v, int decimals);
void jsonw_bool(struct jsonw *w, bool v);
void jsonw_null(struct jsonw *w);
/* Bytes as one base64 string value (standard alphabet, padded). */
void jsonw_base64(struct jsonw *w, const void *bytes, size_t n);

/* Convenience: key + value. */
void jsonw_kstr(struct jsonw *w, const char *key, const char *s);
void jsonw_knum(struct jsonw *w, const char *key, double v);
void jsonw_kint(struct jsonw *w, const char *key, int64_t v);
void jsonw_kbool(struct jsonw *w, const char *key, bool v);

#endif
