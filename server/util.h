/*
 * util.h — small helpers shared by the server's modules: a growable byte
 * buffer, logging to stderr, opens that stay below a root, path
 * containment checks and removal of a run directory. (Durable file writes
 * are engine/atomic_file.h, one helper for the engine and the server.)
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

#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct sockaddr;

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
/*
 * Append a finite double as JSON with 9 significant digits, trailing zeros
 * dropped ("0.125", "1780000000.05", "1.5e-07"): what printf's %.9g gives,
 * several times faster, for answers of hundreds of thousands of numbers.
 */
void srv_buf_double9(struct srv_buf *b, double v);
void srv_buf_free(struct srv_buf *b);

/* "trainbook: <message>" on stderr with a time stamp; one write per line. */
void srv_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * srv_log for a condition that may repeat thousands of times a second (a
 * full disk, a failing checkpoint): at most one line per SRV_LOG_EVERY_MS
 * for each limiter, the next one saying how many were left out. The
 * limiter belongs to one thread (or is guarded by its owner's lock).
 */
#define SRV_LOG_EVERY_MS 10000
struct srv_log_limit {
	int64_t last_ms;    /* when a line was last written; 0 = never */
	int64_t suppressed; /* lines left out since */
};
void srv_log_limited(struct srv_log_limit *lim, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Wall-clock seconds (and milliseconds) since the epoch, and monotonic milliseconds. */
int64_t srv_unix_now(void);
int64_t srv_unix_ms(void);
/* The same with the fraction of a second: run durations add up short segments. */
double srv_unix_now_f(void);
int64_t srv_mono_ms(void);

/* Read at most `max` bytes of a regular file (EFBIG past that); NUL-terminated. */
int srv_read_file(const char *path, size_t max, char **data, size_t *len);
int srv_read_fd(int fd, size_t max, char **data, size_t *len);

/*
 * openat2(dirfd, rel) that the kernel keeps below dirfd: '..' past it, an
 * absolute path or a symlink leading out fail with EXDEV, as does any
 * /proc magic link. Symlinks that stay below dirfd are followed. Returns
 * the fd (O_CLOEXEC added) or -1 with errno.
 */
int srv_open_beneath(int dirfd, const char *rel, int flags, unsigned mode);
/* Open root/rel for reading that way, only if it is a regular file; fills *st. */
struct stat;
int srv_open_regular_beneath(const char *root, const char *rel, struct stat *st);
/* Where an open fd really is (from /proc/self/fd): -1 with errno. */
int srv_fd_path(int fd, char *out, size_t len);

/* Strict UTF-8: no overlong forms, no surrogates, nothing past U+10FFFF. */
bool srv_utf8_valid(const char *s, size_t len);
/*
 * After a copy of UTF-8 text was cut to fit a buffer: drop a last character
 * left incomplete, so the text stays valid (jansson refuses the rest).
 */
void srv_utf8_trim(char *s);

/*
 * `s` as it may be quoted in a one-line message: at most `max` bytes of it,
 * cut between characters with "…" after, control characters and bytes
 * that are not UTF-8 each written as '?'. Returns out.
 */
char *srv_shown(const char *s, size_t max, char *out, size_t outlen);

/* Random bytes from getrandom; srv_random_hex writes 2*nbytes hex digits + NUL (nbytes <= 64). */
int srv_random_bytes(void *buf, size_t n);
int srv_random_hex(char *out, size_t nbytes);

/*
 * The client a socket address stands for, as a short string key: an IPv4
 * address (also when IPv4-mapped), an IPv6 address's /64 (one host often
 * holds the whole prefix), "local" for anything else. For per-client
 * bounds (front door, login throttle).
 */
void srv_addr_key(const struct sockaddr *sa, char *out, size_t len);

/*
 * A relative path as users may write one: not empty, no empty, '.', '..'
 * or hidden parts, no backslashes or control characters. (The static
 * files and the access rules both judge paths by it.)
 */
bool srv_path_plain(const char *rel);

/* True when `path` equals `root` or lies below it (both already realpath'd). */
bool srv_path_inside(const char *root, const char *path);

/* Remove a directory tree without following symlinks. */
int srv_rmtree(const char *path);

/*
 * Stop a module's background thread: set *stop under `lock`, wake the
 * thread (it waits on `wake` with that lock), and join it.
 */
void srv_thread_stop(pthread_t thread, pthread_mutex_t *lock, pthread_cond_t *wake, bool *stop);

/* 64-bit FNV-1a, for ETags (not for security). */
uint64_t srv_fnv1a64(const void *data, size_t len, uint64_t seed);

/* Copy with truncation, always terminating; returns false when it truncated. */
bool srv_strlcpy(char *dst, const char *src, size_t size);

#endif
