/*
 * fuzz.c — helpers shared by the fuzz targets (see fuzz.h).
 *
 * Threads: one.
 */
#include "fuzz.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int fuzz_split(const uint8_t *data, size_t size, struct fuzz_part *parts, int max)
{
	int n = 0;
	while (n < max - 1) {
		const uint8_t *sep = memmem(data, size, FUZZ_SEP, FUZZ_SEP_LEN);
		if (!sep)
			break;
		parts[n].data = data;
		parts[n].len = (size_t)(sep - data);
		n++;
		size -= parts[n - 1].len + FUZZ_SEP_LEN;
		data = sep + FUZZ_SEP_LEN;
	}
	parts[n].data = data;
	parts[n].len = size;
	return n + 1;
}

char *fuzz_strdup(const struct fuzz_part *p)
{
	char *s = malloc(p->len + 1);
	if (!s)
		abort();
	if (p->len)
		memcpy(s, p->data, p->len);
	s[p->len] = '\0';
	return s;
}

_Noreturn void fuzz_fail(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("fuzz: property violated: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	abort();
}

void fuzz_check_message(const char *what, const char *msg)
{
	if (!msg || !msg[0])
		fuzz_fail("%s: an error without a message", what);
	if (strchr(msg, '\n'))
		fuzz_fail("%s: a message of more than one line: %s", what, msg);
}

static char scratch[256];

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

void fuzz_remove_tree(const char *path)
{
	nftw(path, remove_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void scratch_cleanup(void)
{
	if (scratch[0])
		fuzz_remove_tree(scratch);
}

const char *fuzz_scratch(void)
{
	if (scratch[0])
		return scratch;
	const char *base = getenv("TMPDIR");
	struct stat st;
	if (!base || !*base)
		base = stat("/dev/shm", &st) == 0 && S_ISDIR(st.st_mode) ? "/dev/shm" : "/tmp";
	snprintf(scratch, sizeof scratch, "%s/tb-fuzz-XXXXXX", base);
	if (!mkdtemp(scratch))
		fuzz_fail("mkdtemp %s: %s", scratch, strerror(errno));
	atexit(scratch_cleanup);
	return scratch;
}

char *fuzz_path(char *out, size_t len, const char *dir, const char *name)
{
	if ((size_t)snprintf(out, len, "%s/%s", dir, name) >= len)
		fuzz_fail("path %s/%s too long", dir, name);
	return out;
}

void fuzz_write(const char *dir, const char *name, const void *data, size_t len)
{
	char path[512];
	fuzz_path(path, sizeof path, dir, name);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		fuzz_fail("open %s: %s", path, strerror(errno));
	const char *p = data;
	while (len) {
		ssize_t n = write(fd, p, len);
		if (n <= 0)
			fuzz_fail("write %s: %s", path, strerror(errno));
		p += n;
		len -= (size_t)n;
	}
	close(fd);
}

void fuzz_remove(const char *dir, const char *name)
{
	char path[512];
	unlink(fuzz_path(path, sizeof path, dir, name));
}

void fuzz_mkdir(const char *dir, const char *name)
{
	char path[512];
	if (mkdir(fuzz_path(path, sizeof path, dir, name), 0700) < 0 && errno != EEXIST)
		fuzz_fail("mkdir %s: %s", path, strerror(errno));
}
