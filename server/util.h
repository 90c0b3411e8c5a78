/*
 * util.h — small helpers shared by the server's modules: a growable byte
 * buffer, logging to stderr, durable file writes, path containment checks
 * and removal of a run directory.
 *
 * What it is not: a general library. Allocation that aborts on
 * out-of-memory comes from the engine's tb.h (tb_xmalloc & co.); everything
 * here that touches the world returns -1 with errno set (or an error
 * message) and never exits.
 *
 * Threads: every function is safe from any thread; a struct srv_buf belongs
 * to whoever made it.
 */
#ifndef TB_SERVER_UTIL_H
#define TB_SERVER_UTIL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A growable, always NUL-terminated byte buffer. Zero-initialise to start. */
struct srv_buf {
	char *data; /* NULL until the first append */
	size_t len; /* bytes used, not counting the terminating NUL */
	size_t cap; /* bytes allocated */
};

void srv_buf_append(struct srv_buf *b, const void *data, size_t len);
void srv_buf_puts(struct srv_buf *b, const char *s);
void srv_buf_printf(struct srv_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Hand the bytes to the caller (who frees them) and reset the buffer. */
char *srv_buf_steal(struct srv_buf *b);
void srv_buf_free(struct srv_buf *b);

/* "trainbook: <message>" on stderr with a time stamp; one write per line. */
void srv_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Wall-clock seconds since the epoch and monotonic milliseconds. */
int64_t srv_unix_now(void);
int64_t srv_mono_ms(void);

/* Read at most `max` bytes of a file (EFBIG past that); NUL-terminated. */
int srv_read_file(const char *path, size_t max, char **data, size_t *len);

/* True when `path` equals `root` or lies below it (both already realpath'd). */
bool srv_path_inside(const char *root, const char *path);

/* Remove a directory tree without following symlinks. */
int srv_rmtree(const char *path);

/* 64-bit FNV-1a, for ETags (not for security). */
uint64_t srv_fnv1a64(const void *data, size_t len, uint64_t seed);

/* Copy with truncation, always terminating; returns false when it truncated. */
bool srv_strlcpy(char *dst, const char *src, size_t size);

#endif
