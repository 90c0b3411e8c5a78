/*
 * util.c — byte buffer, logging, durable writes, path checks (see util.h).
 *
 * Threads: no shared state; srv_log relies on one write(2) per line so lines
 * from different threads do not interleave.
 */
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "tb.h"

static void buf_reserve(struct srv_buf *b, size_t extra)
{
	size_t need = b->len + extra + 1;
	if (need <= b->cap)
		return;
	size_t cap = b->cap ? b->cap : 256;
	while (cap < need)
		cap *= 2;
	b->data = tb_xrealloc(b->data, cap);
	b->cap = cap;
}

void srv_buf_append(struct srv_buf *b, const void *data, size_t len)
{
	buf_reserve(b, len);
	if (len)
		memcpy(b->data + b->len, data, len);
	b->len += len;
	b->data[b->len] = '\0';
}

void srv_buf_puts(struct srv_buf *b, const char *s)
{
	srv_buf_append(b, s, strlen(s));
}

void srv_buf_printf(struct srv_buf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char small[256];
	int n = vsnprintf(small, sizeof small, fmt, ap);
	va_end(ap);
	TB_ASSERT(n >= 0);
	if ((size_t)n < sizeof small) {
		srv_buf_append(b, small, (size_t)n);
		return;
	}
	buf_reserve(b, (size_t)n);
	va_start(ap, fmt);
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

char *srv_buf_steal(struct srv_buf *b)
{
	if (!b->data)
		return tb_xstrdup("");
	char *p = b->data;
	b->data = NULL;
	b->len = b->cap = 0;
	return p;
}

void srv_buf_free(struct srv_buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

void srv_log(const char *fmt, ...)
{
	char line[1024];
	time_t now = time(NULL);
	struct tm tm;
	localtime_r(&now, &tm);
	size_t n = strftime(line, sizeof line, "[%H:%M:%S] trainbook: ", &tm);
	va_list ap;
	va_start(ap, fmt);
	int m = vsnprintf(line + n, sizeof line - n - 1, fmt, ap);
	va_end(ap);
	if (m < 0)
		return;
	n += (size_t)m < sizeof line - n - 1 ? (size_t)m : sizeof line - n - 2;
	line[n++] = '\n';
	ssize_t w = write(STDERR_FILENO, line, n);
	(void)w; /* nothing sensible to do when stderr is gone */
}

int64_t srv_unix_now(void)
{
	return (int64_t)time(NULL);
}

int64_t srv_mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int srv_read_file(const char *path, size_t max, char **data, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	struct stat st;
	if (fstat(fd, &st) < 0) {
		int e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		errno = EISDIR;
		return -1;
	}
	if ((size_t)st.st_size > max) {
		close(fd);
		errno = EFBIG;
		return -1;
	}
	size_t cap = (size_t)st.st_size + 1, got = 0;
	char *buf = tb_xmalloc(cap);
	for (;;) {
		if (got + 1 >= cap) {
			if (cap > max + 1) {
				free(buf);
				close(fd);
				errno = EFBIG;
				return -1;
			}
			cap *= 2;
			buf = tb_xrealloc(buf, cap);
		}
		ssize_t n = read(fd, buf + got, cap - got - 1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			int e = errno;
			free(buf);
			close(fd);
			errno = e;
			return -1;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	if (got > max) {
		free(buf);
		errno = EFBIG;
		return -1;
	}
	buf[got] = '\0';
	*data = buf;
	*len = got;
	return 0;
}

bool srv_path_inside(const char *root, const char *path)
{
	size_t n = strlen(root);
	if (n == 1 && root[0] == '/')
		return path[0] == '/';
	return strncmp(root, path, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	int rc = (flag == FTW_DP) ? rmdir(path) : unlink(path);
	return rc < 0 && errno != ENOENT ? -1 : 0;
}

int srv_rmtree(const char *path)
{
	/* FTW_PHYS: a symlink inside a run dir is removed, never followed. */
	return nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
}

uint64_t srv_fnv1a64(const void *data, size_t len, uint64_t seed)
{
	const unsigned char *p = data;
	uint64_t h = seed ? seed : 0xcbf29ce484222325ULL;
	for (size_t i = 0; i < len; i++) {
		h ^= p[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

bool srv_strlcpy(char *dst, const char *src, size_t size)
{
	size_t n = strlen(src);
	if (size == 0)
		return n == 0;
	if (n >= size) {
		memcpy(dst, src, size - 1);
		dst[size - 1] = '\0';
		return false;
	}
	memcpy(dst, src, n + 1);
	return true;
}
