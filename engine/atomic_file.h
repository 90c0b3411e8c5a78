/*
 * atomic_file.h — writing a file so that a reader sees either the old file
 * or the new one, never a mix, even after a power cut.
 *
 * What it is: the one way trainbook replaces a file (checkpoints, their
 * sidecars, the rendezvous file, notebooks, run specs, uploads, account
 * files): a temporary file in the target's directory, hidden and of a fixed
 * length (".tb-tmp-" and 16 random hex digits: listings and checkpoint
 * pruning never mistake it for a real file, two writers never share it, and
 * a target name of NAME_MAX bytes still fits), mode 0644, fsync, then
 * rename over the target — or link(2) for create-only writes, which fail
 * with EEXIST instead of replacing — and an fsync of the directory so the
 * rename itself survives a crash. The _at forms work inside a directory
 * the caller opened (the server opens notebook folders with openat2
 * RESOLVE_BENEATH, so the write cannot be sent outside the workspace by a
 * symlink swapped in after the check). What it is not: a lock; two
 * writers of the same path both succeed and the last rename wins.
 *
 * Errors: -1 with errno kept from the failing call (callers test EEXIST)
 * and, when err is not NULL, a message naming the file. On failure no
 * temporary file is left and the target is untouched.
 *
 * Threads: any; no globals.
 */
#ifndef TB_ATOMIC_FILE_H
#define TB_ATOMIC_FILE_H

#include <stdbool.h>
#include <stddef.h>

/* A write in progress: open, write any number of times, then commit or abort. */
struct atomic_file {
	int fd;           /* the temporary file, -1 once closed */
	int dirfd;        /* the target's directory (opened O_RDONLY so it can be fsync'd) */
	bool own_dirfd;   /* atomic_file_open opened dirfd and closes it; the _at form does not */
	const char *name; /* the target inside dirfd, not owned: must outlive the write */
	const char *path; /* the target as the caller named it, for messages; not owned */
	char tmp[32];     /* the temporary file's name inside dirfd */
};

int atomic_file_open(struct atomic_file *f, const char *path, char *err, size_t errlen);
/* The same for `name` inside `dirfd`, which stays the caller's to close. */
int atomic_file_open_at(struct atomic_file *f, int dirfd, const char *name, char *err, size_t errlen);
int atomic_file_write(struct atomic_file *f, const void *data, size_t len, char *err, size_t errlen);
/* fsync, close, rename (or link when no_replace) and fsync the directory; aborts on failure. */
int atomic_file_commit(struct atomic_file *f, bool no_replace, char *err, size_t errlen);
/* Close and remove the temporary file (keeps errno). */
void atomic_file_abort(struct atomic_file *f);

/* The whole write in one call. */
int atomic_write(const char *path, const void *data, size_t len, bool no_replace, char *err, size_t errlen);
int atomic_write_at(int dirfd, const char *name, const void *data, size_t len, bool no_replace, char *err,
		    size_t errlen);

#endif
