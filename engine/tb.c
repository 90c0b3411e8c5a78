/*
 * tb.c — assertion reporting, aborting allocators and small utilities
 * shared by the whole engine. Thread-safe; the only state is the memory
 * policy, set once before threads start.
 */
#include "tb.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

void tb_assert_fail(const char *cond, const char *file, int line)
{
	fprintf(stderr, "trainbook: internal error: assertion '%s' failed at %s:%d\n", cond, file, line);
	abort();
}

/* Written once before threads start (tb_set_memory_policy's contract), read-only after. */
static struct tb_memory_policy memory_policy;

void tb_set_memory_policy(const struct tb_memory_policy *policy)
{
	memory_policy = policy ? *policy : (struct tb_memory_policy){0};
}

bool tb_admit(size_t n)
{
	return n < TB_ADMIT_MIN || !memory_policy.admit || memory_policy.admit(n);
}

void tb_out_of_memory(size_t n)
{
	if (memory_policy.fail)
		memory_policy.fail(n);
	fprintf(stderr, "trainbook: out of memory allocating %zu bytes\n", n);
	abort();
}

void *tb_xmalloc(size_t n)
{
	void *p = tb_admit(n) ? malloc(n ? n : 1) : NULL;
	if (!p)
		tb_out_of_memory(n);
	return p;
}

void *tb_xcalloc(size_t count, size_t size)
{
	size_t n;
	if (__builtin_mul_overflow(count, size, &n))
		tb_out_of_memory(SIZE_MAX);
	void *p = tb_admit(n) ? calloc(count ? count : 1, size ? size : 1) : NULL;
	if (!p)
		tb_out_of_memory(n);
	return p;
}

void *tb_xrealloc(void *p, size_t n)
{
	void *q = tb_admit(n) ? realloc(p, n ? n : 1) : NULL;
	if (!q)
		tb_out_of_memory(n);
	return q;
}

char *tb_xstrdup(const char *s)
{
	size_t n = strlen(s) + 1;
	char *d = tb_xmalloc(n);
	memcpy(d, s, n);
	return d;
}

char *tb_fmt(char *dst, size_t len, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(dst, len, fmt, ap);
	va_end(ap);
	return dst;
}

char *tb_fmt_number(char *dst, size_t len, double v)
{
	/* 2^53: past it a double no longer holds every integer, so %g says it better. */
	if (v != floor(v) || fabs(v) >= 9007199254740992.0)
		return tb_fmt(dst, len, "%g", v);
	char digits[32], out[48];
	snprintf(digits, sizeof(digits), "%.0f", fabs(v));
	size_t n = strlen(digits), k = 0;
	if (v < 0)
		out[k++] = '-';
	for (size_t i = 0; i < n; i++) {
		if (i && (n - i) % 3 == 0)
			out[k++] = ',';
		out[k++] = digits[i];
	}
	out[k] = 0;
	return tb_fmt(dst, len, "%s", out);
}

double tb_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

double tb_wall(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

int tb_read_file(const char *path, char **data, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return -1;
	size_t cap = 4096, n = 0;
	char *buf = tb_xmalloc(cap);
	for (;;) {
		if (n + 1 >= cap) {
			cap *= 2;
			buf = tb_xrealloc(buf, cap);
		}
		size_t got = fread(buf + n, 1, cap - n - 1, f);
		n += got;
		if (got == 0)
			break;
	}
	int err = ferror(f);
	fclose(f);
	if (err) {
		free(buf);
		errno = EIO;
		return -1;
	}
	buf[n] = 0;
	*data = buf;
	*len = n;
	return 0;
}

void tb_self_exe(char *out, size_t len)
{
	ssize_t n = len ? readlink("/proc/self/exe", out, len - 1) : -1;
	if (n < 0)
		n = 0;
	if (len)
		out[n] = 0;
}

bool tb_find_beside_exe(const char *exe, const char *const rel[], char *out, size_t len)
{
	const char *slash = exe ? strrchr(exe, '/') : NULL;
	if (!slash)
		return false;
	for (; *rel; rel++) {
		char cand[PATH_MAX], real[PATH_MAX];
		int n = snprintf(cand, sizeof cand, "%.*s/%s", (int)(slash - exe), exe, *rel);
		if (n < 0 || (size_t)n >= sizeof cand || !realpath(cand, real) || strlen(real) >= len)
			continue;
		memcpy(out, real, strlen(real) + 1);
		return true;
	}
	return false;
}

int tb_utf8_char(const char *s, size_t avail)
{
	const unsigned char *p = (const unsigned char *)s;
	if (avail == 0)
		return 0;
	unsigned c = p[0], cp, min;
	int more;
	if (c < 0x80)
		return 1;
	if ((c & 0xe0) == 0xc0)
		more = 1, cp = c & 0x1f, min = 0x80;
	else if ((c & 0xf0) == 0xe0)
		more = 2, cp = c & 0x0f, min = 0x800;
	else if ((c & 0xf8) == 0xf0)
		more = 3, cp = c & 0x07, min = 0x10000;
	else
		return 0; /* a continuation byte first, or 0xf8.. */
	if (avail < (size_t)more + 1)
		return 0;
	for (int i = 1; i <= more; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (p[i] & 0x3f);
	}
	/* Overlong forms spell '/' or '.' in disguise; surrogates are not characters. */
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return more + 1;
}
