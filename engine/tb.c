/*
 * tb.c — assertion reporting, aborting allocators and small utilities
 * shared by the whole engine. Thread-safe; no state.
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

static void out_of_memory(size_t n)
{
	fprintf(stderr, "trainbook: out of memory allocating %zu bytes\n", n);
	abort();
}

void *tb_xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p)
		out_of_memory(n);
	return p;
}

void *tb_xcalloc(size_t count, size_t size)
{
	void *p = calloc(count ? count : 1, size ? size : 1);
	if (!p)
		out_of_memory(count * size);
	return p;
}

void *tb_xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);
	if (!q)
		out_of_memory(n);
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
