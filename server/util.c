/*
 * util.c — byte buffer, logging, durable writes, path checks (see util.h).
 *
 * Threads: no shared state; srv_log relies on one write(2) per line so lines
 * from different threads do not interleave.
 */
#include "util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <linux/openat2.h>
#include <math.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/syscall.h>
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

void srv_buf_double9(struct srv_buf *b, double v)
{
	double a = fabs(v);
	/* Outside 1e-4..1e15 (rare for metrics) printf decides the exponent form. */
	if (!(a >= 1e-4 && a < 1e15)) {
		if (v == 0)
			srv_buf_puts(b, "0");
		else
			srv_buf_printf(b, "%.9g", v);
		return;
	}
	int e = (int)floor(log10(a)); /* a = d.dddddddd × 10^e */
	double scaled = a * pow(10, 8 - e);
	uint64_t m = (uint64_t)llround(scaled);
	if (m >= 1000000000u) { /* rounding carried into a tenth digit */
		m = (m + 5) / 10;
		e++;
	} else if (m < 100000000u) { /* log10 fell just short */
		m = (uint64_t)llround(a * pow(10, 9 - e));
		e--;
	}
	char digits[16], out[48];
	int nd = snprintf(digits, sizeof digits, "%llu", (unsigned long long)m);
	while (nd > 1 && digits[nd - 1] == '0')
		nd--; /* the trailing zeros of the 9 digits */
	size_t n = 0;
	if (v < 0)
		out[n++] = '-';
	if (e < 0) { /* 0.000ddd */
		out[n++] = '0';
		out[n++] = '.';
		for (int z = -1; z > e; z--)
			out[n++] = '0';
		for (int i = 0; i < nd; i++)
			out[n++] = digits[i];
	} else {
		for (int i = 0; i <= e; i++)
			out[n++] = i < nd ? digits[i] : '0';
		if (nd > e + 1) {
			out[n++] = '.';
			for (int i = e + 1; i < nd; i++)
				out[n++] = digits[i];
		}
	}
	srv_buf_append(b, out, n);
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

void srv_log_limited(struct srv_log_limit *lim, const char *fmt, ...)
{
	int64_t now = srv_mono_ms();
	if (lim->last_ms && now - lim->last_ms < SRV_LOG_EVERY_MS) {
		lim->suppressed++;
		return;
	}
	char msg[900];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (lim->suppressed)
		srv_log("%s (and %lld more like it in the last %lld s)", msg, (long long)lim->suppressed,
			(long long)((now - lim->last_ms) / 1000));
	else
		srv_log("%s", msg);
	lim->last_ms = now;
	lim->suppressed = 0;
}

int64_t srv_unix_now(void)
{
	return (int64_t)time(NULL);
}

int64_t srv_unix_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

double srv_unix_now_f(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int64_t srv_mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int srv_random_bytes(void *buf, size_t n)
{
	unsigned char *p = buf;
	size_t got = 0;
	while (got < n) {
		ssize_t k = getrandom(p + got, n - got, 0);
		if (k < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		got += (size_t)k;
	}
	return 0;
}

int srv_random_hex(char *out, size_t nbytes)
{
	unsigned char raw[64];
	TB_ASSERT(nbytes <= sizeof raw);
	if (srv_random_bytes(raw, nbytes) < 0)
		return -1;
	for (size_t i = 0; i < nbytes; i++)
		sprintf(out + 2 * i, "%02x", raw[i]);
	return 0;
}

int srv_open_beneath(int dirfd, const char *rel, int flags, unsigned mode)
{
	/* RESOLVE_BENEATH refuses '..' above dirfd, absolute paths and symlinks
	 * that lead out, as the kernel walks the path: no window between a
	 * check and the open. Magic links (/proc/self/fd/N) are never wanted. */
	struct open_how how = {.flags = (unsigned long long)(flags | O_CLOEXEC),
			       .mode = (flags & O_CREAT) ? mode : 0,
			       .resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS};
	for (;;) {
		long fd = syscall(SYS_openat2, dirfd, rel, &how, sizeof how);
		if (fd >= 0 || errno != EINTR)
			return (int)fd;
		/* EAGAIN from openat2 means a rename raced the walk: try again. */
	}
}

int srv_open_regular_beneath(const char *root, const char *rel, struct stat *st)
{
	int dirfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0)
		return -1;
	/* O_NONBLOCK: a FIFO under the root must not hang the caller in open(). */
	int fd = srv_open_beneath(dirfd, rel, O_RDONLY | O_NONBLOCK, 0);
	close(dirfd);
	if (fd >= 0 && (fstat(fd, st) < 0 || !S_ISREG(st->st_mode))) {
		close(fd);
		errno = EISDIR;
		fd = -1;
	}
	return fd;
}

int srv_fd_path(int fd, char *out, size_t len)
{
	char link[64];
	snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
	ssize_t n = readlink(link, out, len - 1);
	if (n < 0)
		return -1;
	if ((size_t)n >= len - 1) {
		errno = ENAMETOOLONG;
		return -1;
	}
	out[n] = '\0';
	return 0;
}

int srv_read_fd(int fd, size_t max, char **data, size_t *len)
{
	struct stat st;
	if (fstat(fd, &st) < 0)
		return -1;
	if (!S_ISREG(st.st_mode)) {
		errno = EISDIR;
		return -1;
	}
	if ((size_t)st.st_size > max) {
		errno = EFBIG;
		return -1;
	}
	size_t cap = (size_t)st.st_size + 1, got = 0;
	char *buf = tb_xmalloc(cap);
	for (;;) {
		if (got + 1 >= cap) {
			if (cap > max + 1) {
				free(buf);
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
			errno = e;
			return -1;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
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

int srv_read_file(const char *path, size_t max, char **data, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	int rc = srv_read_fd(fd, max, data, len);
	int saved = errno;
	close(fd);
	errno = saved;
	return rc;
}

bool srv_utf8_valid(const char *s, size_t len)
{
	for (size_t i = 0; i < len;) {
		int n = tb_utf8_char(s + i, len - i);
		if (n == 0)
			return false;
		i += (size_t)n;
	}
	return true;
}

char *srv_shown(const char *s, size_t max, char *out, size_t outlen)
{
	static const char cut[] = "…";
	size_t o = 0, n = strlen(s);
	if (outlen == 0)
		return out;
	for (size_t i = 0; i < n;) {
		size_t len = 1;
		unsigned char c = (unsigned char)s[i];
		if (c >= 0x80) {
			int k = tb_utf8_char(s + i, n - i);
			len = k ? (size_t)k : 1;
		}
		bool plain = c >= 0x80 ? len > 1 : c >= 0x20 && c != 0x7f;
		size_t need = plain ? len : 1;
		if (i + len > max || o + need + sizeof cut > outlen) {
			if (o + sizeof cut <= outlen)
				memcpy(out + o, cut, sizeof cut - 1), o += sizeof cut - 1;
			break;
		}
		if (plain)
			memcpy(out + o, s + i, len);
		else
			out[o] = '?';
		o += need;
		i += len;
	}
	out[o] = '\0';
	return out;
}

void srv_utf8_trim(char *s)
{
	size_t n = strlen(s), lead = n;
	while (lead > 0 && n - lead < 3 && ((unsigned char)s[lead - 1] & 0xc0) == 0x80)
		lead--;
	if (lead == 0)
		return;
	unsigned c = (unsigned char)s[lead - 1];
	size_t need = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 1;
	if (n - (lead - 1) < need)
		s[lead - 1] = '\0';
}

void srv_addr_key(const struct sockaddr *sa, char *out, size_t len)
{
	char text[INET6_ADDRSTRLEN];
	if (sa && sa->sa_family == AF_INET) {
		inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, text, sizeof text);
		snprintf(out, len, "%s", text);
	} else if (sa && sa->sa_family == AF_INET6) {
		const struct in6_addr *a = &((const struct sockaddr_in6 *)sa)->sin6_addr;
		if (IN6_IS_ADDR_V4MAPPED(a)) {
			inet_ntop(AF_INET, &a->s6_addr[12], text, sizeof text);
			snprintf(out, len, "%s", text);
			return;
		}
		/* One host usually holds a whole /64: count it as one client. */
		struct in6_addr prefix;
		memset(&prefix, 0, sizeof prefix);
		memcpy(&prefix, a, 8);
		inet_ntop(AF_INET6, &prefix, text, sizeof text);
		snprintf(out, len, "%s/64", text);
	} else {
		snprintf(out, len, "local");
	}
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

bool srv_path_plain(const char *rel)
{
	if (!*rel || strchr(rel, '\\'))
		return false;
	for (const char *c = rel; *c; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f)
			return false;
	for (const char *c = rel; *c;) {
		size_t len = strcspn(c, "/");
		if (len == 0 || c[0] == '.')
			return false;
		c += len;
		if (*c == '/')
			c++;
	}
	return true;
}

void srv_thread_stop(pthread_t thread, pthread_mutex_t *lock, pthread_cond_t *wake, bool *stop)
{
	pthread_mutex_lock(lock);
	*stop = true;
	pthread_cond_signal(wake);
	pthread_mutex_unlock(lock);
	pthread_join(thread, NULL);
}
