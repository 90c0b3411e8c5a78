/*
 * jsonw.c — the JSON writer (see jsonw.h). Strings are escaped per RFC
 * 8259; UTF-8 passes through, and a byte that is not part of a UTF-8
 * character (a name cut mid-character, a file's Latin-1) is written as
 * U+FFFD, so what the engine writes is always JSON a reader accepts.
 */
#include "jsonw.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "tb.h"

void jsonw_init(struct jsonw *w)
{
	memset(w, 0, sizeof(*w));
	w->cap = 256;
	w->buf = tb_xmalloc(w->cap);
	w->buf[0] = 0;
}

void jsonw_free(struct jsonw *w)
{
	free(w->buf);
	w->buf = NULL;
	w->len = w->cap = 0;
}

char *jsonw_take(struct jsonw *w)
{
	char *out = w->buf;
	jsonw_init(w);
	return out;
}

static void put(struct jsonw *w, const char *s, size_t n)
{
	if (w->len + n + 1 > w->cap) {
		while (w->len + n + 1 > w->cap)
			w->cap *= 2;
		w->buf = tb_xrealloc(w->buf, w->cap);
	}
	memcpy(w->buf + w->len, s, n);
	w->len += n;
	w->buf[w->len] = 0;
}

static void puts_(struct jsonw *w, const char *s)
{
	put(w, s, strlen(s));
}

/* Separator before a value at the current level. */
static void before_value(struct jsonw *w)
{
	if (w->after_key) {
		w->after_key = false;
		return;
	}
	if (w->need_comma[w->depth])
		put(w, ",", 1);
	w->need_comma[w->depth] = true;
}

static void open_(struct jsonw *w, char c)
{
	before_value(w);
	put(w, &c, 1);
	TB_ASSERT(w->depth < 31);
	w->depth++;
	w->need_comma[w->depth] = false;
}

static void close_(struct jsonw *w, char c)
{
	TB_ASSERT(w->depth > 0);
	w->depth--;
	put(w, &c, 1);
}

void jsonw_begin_object(struct jsonw *w) { open_(w, '{'); }
void jsonw_end_object(struct jsonw *w) { close_(w, '}'); }
void jsonw_begin_array(struct jsonw *w) { open_(w, '['); }
void jsonw_end_array(struct jsonw *w) { close_(w, ']'); }

static void escaped(struct jsonw *w, const char *s, size_t n)
{
	put(w, "\"", 1);
	size_t run = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		const char *esc = NULL;
		char ubuf[8];
		switch (c) {
		case '"': esc = "\\\""; break;
		case '\\': esc = "\\\\"; break;
		case '\n': esc = "\\n"; break;
		case '\r': esc = "\\r"; break;
		case '\t': esc = "\\t"; break;
		default:
			if (c < 0x20) {
				snprintf(ubuf, sizeof(ubuf), "\\u%04x", c);
				esc = ubuf;
			} else if (c >= 0x80) {
				int len = tb_utf8_char(s + i, n - i);
				if (len == 0) {
					esc = "\\ufffd";
				} else {
					run += (size_t)len;
					i += (size_t)len - 1;
					continue;
				}
			}
		}
		if (esc) {
			put(w, s + i - run, run);
			run = 0;
			puts_(w, esc);
		} else {
			run++;
		}
	}
	put(w, s + n - run, run);
	put(w, "\"", 1);
}

void jsonw_key(struct jsonw *w, const char *key)
{
	before_value(w);
	escaped(w, key, strlen(key));
	put(w, ":", 1);
	w->after_key = true;
}

void jsonw_strn(struct jsonw *w, const char *s, size_t n)
{
	before_value(w);
	escaped(w, s, n);
}

void jsonw_str(struct jsonw *w, const char *s)
{
	if (!s) {
		jsonw_null(w);
		return;
	}
	jsonw_strn(w, s, strlen(s));
}

void jsonw_num(struct jsonw *w, double v)
{
	before_value(w);
	if (!isfinite(v)) {
		puts_(w, "null");
		return;
	}
	char buf[40];
	snprintf(buf, sizeof(buf), "%.9g", v);
	puts_(w, buf);
}

void jsonw_fixed(struct jsonw *w, double v, int decimals)
{
	before_value(w);
	if (!isfinite(v)) {
		puts_(w, "null");
		return;
	}
	char buf[64];
	snprintf(buf, sizeof(buf), "%.*f", decimals, v);
	puts_(w, buf);
}

void jsonw_int(struct jsonw *w, int64_t v)
{
	before_value(w);
	char buf[32];
	snprintf(buf, sizeof(buf), "%lld", (long long)v);
	puts_(w, buf);
}

void jsonw_bool(struct jsonw *w, bool v)
{
	before_value(w);
	puts_(w, v ? "true" : "false");
}

void jsonw_null(struct jsonw *w)
{
	before_value(w);
	puts_(w, "null");
}

void jsonw_kstr(struct jsonw *w, const char *key, const char *s) { jsonw_key(w, key); jsonw_str(w, s); }
void jsonw_knum(struct jsonw *w, const char *key, double v) { jsonw_key(w, key); jsonw_num(w, v); }
void jsonw_kint(struct jsonw *w, const char *key, int64_t v) { jsonw_key(w, key); jsonw_int(w, v); }
void jsonw_kbool(struct jsonw *w, const char *key, bool v) { jsonw_key(w, key); jsonw_bool(w, v); }

void jsonw_base64(struct jsonw *w, const void *bytes, size_t n)
{
	const uint8_t *data = bytes;
	static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t outlen = 4 * ((n + 2) / 3);
	char *out = tb_xmalloc(outlen + 1);
	size_t o = 0;
	for (size_t i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t)data[i] << 16;
		if (i + 1 < n)
			v |= (uint32_t)data[i + 1] << 8;
		if (i + 2 < n)
			v |= data[i + 2];
		out[o++] = tbl[(v >> 18) & 63];
		out[o++] = tbl[(v >> 12) & 63];
		out[o++] = i + 1 < n ? tbl[(v >> 6) & 63] : '=';
		out[o++] = i + 2 < n ? tbl[v & 63] : '=';
	}
	out[o] = 0;
	jsonw_str(w, out);
	free(out);
}
