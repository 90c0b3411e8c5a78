/*
 * upload.c — multipart/form-data parts and base64 bodies (see upload.h).
 *
 * Threads: pure.
 */
#include "upload.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define BOUNDARY_MAX 70 /* RFC 2046 */

bool upload_is_multipart(const char *content_type)
{
	return content_type && strncasecmp(content_type, "multipart/form-data", 19) == 0;
}

/* The boundary parameter of the header, unquoted, into out (BOUNDARY_MAX + 1). */
static bool boundary_of(const char *ct, char *out)
{
	const char *p = ct;
	while ((p = strchr(p, ';'))) {
		p++;
		while (*p == ' ' || *p == '\t')
			p++;
		if (strncasecmp(p, "boundary=", 9))
			continue;
		p += 9;
		bool quoted = *p == '"';
		p += quoted;
		size_t n = quoted ? strcspn(p, "\"") : strcspn(p, "; \t");
		if (n == 0 || n > BOUNDARY_MAX || (quoted && p[n] != '"'))
			return false;
		memcpy(out, p, n);
		out[n] = '\0';
		return true;
	}
	return false;
}

/* The name="…" of a part's Content-Disposition header among `headers` (len bytes). */
static bool part_name(const char *headers, size_t len, char *name, size_t cap)
{
	const char *end = headers + len, *line = headers;
	while (line < end) {
		const char *eol = memmem(line, (size_t)(end - line), "\r\n", 2);
		if (!eol)
			eol = end;
		size_t n = (size_t)(eol - line);
		if (n > 20 && strncasecmp(line, "Content-Disposition:", 20) == 0) {
			const char *key = memmem(line, n, "name=\"", 6);
			/* "filename=" also ends in name=": the parameter must start after ';' or space. */
			while (key && key > line && key[-1] != ';' && key[-1] != ' ' && key[-1] != '\t')
				key = memmem(key + 1, (size_t)(eol - key - 1), "name=\"", 6);
			if (!key)
				return false;
			key += 6;
			const char *q = memchr(key, '"', (size_t)(eol - key));
			if (!q || (size_t)(q - key) >= cap)
				return false;
			memcpy(name, key, (size_t)(q - key));
			name[q - key] = '\0';
			return true;
		}
		line = eol + 2;
	}
	return false;
}

int upload_multipart_part(const char *content_type, const char *body, size_t len, const char *name,
			  struct upload_part *out, char *err, size_t errlen)
{
	char boundary[BOUNDARY_MAX + 1], delim[BOUNDARY_MAX + 5];
	if (!upload_is_multipart(content_type) || !boundary_of(content_type, boundary)) {
		snprintf(err, errlen, "Content-Type multipart/form-data needs a boundary of 1 to %d characters",
			 BOUNDARY_MAX);
		return -1;
	}
	int dl = snprintf(delim, sizeof delim, "\r\n--%s", boundary);
	const char *end = body + len;
	/* The first delimiter may open the body (no CRLF before it), or follow a preamble. */
	const char *p;
	if (len >= (size_t)dl - 2 && memcmp(body, delim + 2, (size_t)dl - 2) == 0) {
		p = body + dl - 2;
	} else {
		p = memmem(body, len, delim, (size_t)dl);
		if (p)
			p += dl;
	}
	while (p && end - p >= 2) {
		if (memcmp(p, "--", 2) == 0)
			return 0; /* the closing delimiter */
		if (memcmp(p, "\r\n", 2)) {
			snprintf(err, errlen, "malformed multipart body (a delimiter is not followed by a line end)");
			return -1;
		}
		p += 2;
		const char *hend = memmem(p, (size_t)(end - p), "\r\n\r\n", 4);
		if (!hend)
			break;
		const char *data = hend + 4;
		const char *next = memmem(data, (size_t)(end - data), delim, (size_t)dl);
		if (!next)
			break;
		char pname[128];
		if (part_name(p, (size_t)(hend - p), pname, sizeof pname) && strcmp(pname, name) == 0) {
			out->data = data;
			out->len = (size_t)(next - data);
			return 1;
		}
		p = next + dl;
	}
	snprintf(err, errlen, "malformed multipart body (a part or the closing delimiter is missing)");
	return -1;
}

static int b64_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	return c == '+' ? 62 : c == '/' ? 63 : -1;
}

unsigned char *upload_base64(const char *text, size_t max, size_t *len, char *err, size_t errlen)
{
	if (strncmp(text, "data:", 5) == 0) {
		const char *comma = strchr(text, ',');
		if (!comma || !memmem(text, (size_t)(comma - text), ";base64", 7)) {
			snprintf(err, errlen, "a data: URL must be base64 (data:image/png;base64,…)");
			return NULL;
		}
		text = comma + 1;
	}
	size_t n = strlen(text);
	*len = n / 4 * 3 + 3;
	unsigned char *out = malloc(*len ? *len : 1);
	if (!out) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	size_t o = 0;
	unsigned acc = 0;
	int bits = 0, pad = 0;
	for (const unsigned char *p = (const unsigned char *)text; *p; p++) {
		if (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t')
			continue;
		if (*p == '=') {
			pad++;
			continue;
		}
		int v = b64_value(*p);
		if (v < 0 || pad) {
			snprintf(err, errlen, "not base64 (character %zu)", (size_t)(p - (const unsigned char *)text));
			free(out);
			return NULL;
		}
		acc = (acc << 6) | (unsigned)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (unsigned char)(acc >> bits);
		}
	}
	*len = o;
	if (pad > 2 || bits >= 6) {
		snprintf(err, errlen, "not base64 (its length does not fit)");
		free(out);
		return NULL;
	}
	if (o > max) {
		snprintf(err, errlen, "%zu bytes decoded, more than the %zu accepted", o, max);
		free(out);
		return NULL;
	}
	return out;
}
