/*
 * atomic_file.c — temp file, fsync, rename, fsync of the directory (see
 * atomic_file.h for the rules and why each step is there).
 */
#include "atomic_file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tb.h"

/* Report the failure of `what` on `file` (errno kept), then -1. */
static int fail(const char *what, const char *file, char *err, size_t errlen)
{
	int saved = errno;
	if (err && errlen)
		tb_fmt(err, errlen, "%s: cannot %s: %s", file, what, strerror(saved));
	errno = saved;
	return -1;
}

static int fsync_parent(const char *path)
{
	char dir[PATH_MAX];
	const char *slash = strrchr(path, '/');
	if (!slash)
		tb_fmt(dir, sizeof(dir), ".");
	else if (slash == path)
		tb_fmt(dir, sizeof(dir), "/");
	else
		tb_fmt(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	int rc = fsync(fd);
	int saved = errno;
	close(fd);
	errno = saved;
	return rc;
}

int atomic_file_open(struct atomic_file *f, const char *path, char *err, size_t errlen)
{
	const char *slash = strrchr(path, '/');
	int dirlen = slash ? (int)(slash - path + 1) : 0;
	f->fd = -1;
	f->path = path;
	int n = snprintf(f->tmp, sizeof(f->tmp), "%.*s.%s.tmp-XXXXXX", dirlen, path, path + dirlen);
	if (n < 0 || (size_t)n >= sizeof(f->tmp)) {
		errno = ENAMETOOLONG;
		return fail("create a temporary file", path, err, errlen);
	}
	f->fd = mkostemp(f->tmp, O_CLOEXEC);
	if (f->fd < 0)
		return fail("create", f->tmp, err, errlen);
	if (fchmod(f->fd, 0644) < 0) {
		fail("create", f->tmp, err, errlen);
		atomic_file_abort(f);
		return -1;
	}
	return 0;
}

int atomic_file_write(struct atomic_file *f, const void *data, size_t len, char *err, size_t errlen)
{
	const char *p = data;
	while (len) {
		ssize_t w = write(f->fd, p, len);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			fail("write", f->tmp, err, errlen);
			atomic_file_abort(f);
			return -1;
		}
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

int atomic_file_commit(struct atomic_file *f, bool no_replace, char *err, size_t errlen)
{
	if (fsync(f->fd) < 0 || close(f->fd) < 0) {
		f->fd = -1; /* close(2) releases the descriptor even when it fails */
		fail("write", f->tmp, err, errlen);
		atomic_file_abort(f);
		return -1;
	}
	f->fd = -1;
	int rc = no_replace ? link(f->tmp, f->path) : rename(f->tmp, f->path);
	if (rc < 0) {
		fail(no_replace ? "create" : "rename into place", f->path, err, errlen);
		atomic_file_abort(f);
		return -1;
	}
	if (no_replace)
		unlink(f->tmp);
	if (fsync_parent(f->path) < 0)
		return fail("sync the directory of", f->path, err, errlen);
	return 0;
}

void atomic_file_abort(struct atomic_file *f)
{
	int saved = errno;
	if (f->fd >= 0)
		close(f->fd);
	f->fd = -1;
	unlink(f->tmp);
	errno = saved;
}

int atomic_write(const char *path, const void *data, size_t len, bool no_replace, char *err, size_t errlen)
{
	struct atomic_file f;
	if (atomic_file_open(&f, path, err, errlen) < 0 || atomic_file_write(&f, data, len, err, errlen) < 0)
		return -1;
	return atomic_file_commit(&f, no_replace, err, errlen);
}
