/*
 * atomic_file.h — writing a file so that a reader sees either the old file
 * or the new one, never a mix, even after a power cut.
 *
 * What it is: the one way trainbook replaces a file (checkpoints, their
 * sidecars, the rendezvous file, notebooks, run specs): a temporary file in
 * the target's directory, hidden (".name.tmp-XXXXXX", so listings and
 * checkpoint pruning never mistake it for a real file) and unique (mkostemp,
 * so two writers never share it), mode 0644, fsync, then rename over the
 * target — or link(2) for create-only writes, which fail with EEXIST
 * instead of replacing — and an fsync of the directory so the rename
 * itself survives a crash. What it is not: a lock; two writers of the same
 * path both succeed and the last rename wins.
 *
 * Errors: -1 with errno kept from the failing call (callers test EEXIST)
 * and, when err is not NULL, a message naming the file. On failure no
 * temporary file is left and the target is untouched.
 *
 * Threads: any; no globals.
 */
#ifndef TB_ATOMIC_FILE_H
#define TB_ATOMIC_FILE_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>

/* A write in progress: open, write any number of times, then commit or abort. */
struct atomic_file {
	int fd;             /* the temporary file, -1 once closed */
	const char *path;   /* the target, not owned: must outlive the write */
	char tmp[PATH_MAX]; /* the temporary file's path */
};

int atomic_file_open(struct atomic_file *f, const char *path, char *err, size_t errlen);
int atomic_file_write(struct atomic_file *f, const void *data, size_t len, char *err, size_t errlen);
/* fsync, close, rename (or link when no_replace) and fsync the directory; aborts on failure. */
int atomic_file_commit(struct atomic_file *f, bool no_replace, char *err, size_t errlen);
/* Close and remove the temporary file (keeps errno). */
void atomic_file_abort(struct atomic_file *f);

/* The whole write in one call. */
int atomic_write(const char *path, const void *data, size_t len, bool no_replace, char *err, size_t errlen);

#endif
