/*
 * atomic_file.c — temp file, fsync, rename, fsync of the directory (see
 * atomic_file.h for the rules and why each step is there).
 */
#include "atomic_file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
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

/* ".tb-tmp-" and 16 random hex digits: unique without mkostemp, which has no directory-fd form. */
static int temp_name(char out[32])
{
	unsigned char raw[8];
	size_t got = 0;
	while (got < sizeof(raw)) {
		ssize_t k = getrandom(raw + got, sizeof(raw) - got, 0);
		if (k < 0 && errno != EINTR)
			return -1;
		got += k > 0 ? (size_t)k : 0;
	}
	memcpy(out, ".tb-tmp-", 8);
	for (size_t i = 0; i < sizeof(raw); i++)
		snprintf(out + 8 + 2 * i, 3, "%02x", raw[i]);
	return 0;
}

static void close_dir(struct atomic_file *f)
{
	if (f->own_dirfd && f->dirfd >= 0)
		close(f->dirfd);
	f->dirfd = -1;
}

/* Both opens end here: f->dirfd, f->own_dirfd and f->path are set. */
static int open_in_dir(struct atomic_file *f, const char *name, char *err, size_t errlen)
{
	f->name = name;
	if (temp_name(f->tmp) < 0) {
		fail("create a temporary file for", f->path, err, errlen);
		close_dir(f);
		return -1;
	}
	f->fd = openat(f->dirfd, f->tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
	/* fchmod: the umask must not make a checkpoint or notebook unreadable to the group. */
	if (f->fd < 0 || fchmod(f->fd, 0644) < 0) {
		fail("create a temporary file for", f->path, err, errlen);
		atomic_file_abort(f);
		return -1;
	}
	return 0;
}

int atomic_file_open(struct atomic_file *f, const char *path, char *err, size_t errlen)
{
	char dir[4096];
	const char *slash = strrchr(path, '/');
	f->fd = -1;
	f->path = path;
	f->own_dirfd = true;
	if (!slash)
		tb_fmt(dir, sizeof(dir), ".");
	else if (slash == path)
		tb_fmt(dir, sizeof(dir), "/");
	else if ((size_t)(slash - path) >= sizeof(dir)) {
		errno = ENAMETOOLONG;
		f->dirfd = -1;
		return fail("open the directory of", path, err, errlen);
	} else
		tb_fmt(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
	f->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (f->dirfd < 0)
		return fail("open the directory of", path, err, errlen);
	return open_in_dir(f, slash ? slash + 1 : path, err, errlen);
}

int atomic_file_open_at(struct atomic_file *f, int dirfd, const char *name, char *err, size_t errlen)
{
	f->fd = -1;
	f->dirfd = dirfd;
	f->own_dirfd = false;
	f->path = name;
	return open_in_dir(f, name, err, errlen);
}

int atomic_file_write(struct atomic_file *f, const void *data, size_t len, char *err, size_t errlen)
{
	const char *p = data;
	while (len) {
		ssize_t w = write(f->fd, p, len);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			fail("write", f->path, err, errlen);
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
		fail("write", f->path, err, errlen);
		atomic_file_abort(f);
		return -1;
	}
	f->fd = -1;
	int rc = no_replace ? linkat(f->dirfd, f->tmp, f->dirfd, f->name, 0)
			    : renameat(f->dirfd, f->tmp, f->dirfd, f->name);
	if (rc < 0) {
		fail(no_replace ? "create" : "rename into place", f->path, err, errlen);
		atomic_file_abort(f);
		return -1;
	}
	if (no_replace)
		unlinkat(f->dirfd, f->tmp, 0);
	rc = fsync(f->dirfd) < 0 ? fail("sync the directory of", f->path, err, errlen) : 0;
	int saved = errno;
	close_dir(f);
	errno = saved;
	return rc;
}

void atomic_file_abort(struct atomic_file *f)
{
	int saved = errno;
	if (f->fd >= 0)
		close(f->fd);
	f->fd = -1;
	if (f->dirfd >= 0)
		unlinkat(f->dirfd, f->tmp, 0);
	close_dir(f);
	errno = saved;
}

int atomic_write(const char *path, const void *data, size_t len, bool no_replace, char *err, size_t errlen)
{
	struct atomic_file f;
	if (atomic_file_open(&f, path, err, errlen) < 0 || atomic_file_write(&f, data, len, err, errlen) < 0)
		return -1;
	return atomic_file_commit(&f, no_replace, err, errlen);
}

int atomic_write_at(int dirfd, const char *name, const void *data, size_t len, bool no_replace, char *err,
		    size_t errlen)
{
	struct atomic_file f;
	if (atomic_file_open_at(&f, dirfd, name, err, errlen) < 0 || atomic_file_write(&f, data, len, err, errlen) < 0)
		return -1;
	return atomic_file_commit(&f, no_replace, err, errlen);
}
