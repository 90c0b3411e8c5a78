/*
 * tb.h — the few helpers every engine file uses: assertions that report
 * file:line, allocation that aborts with a message on out-of-memory, and
 * bounded string formatting.
 *
 * The three error tiers of STYLE.md: a broken invariant is TB_ASSERT (a bug,
 * abort loudly); out of memory is tb_xmalloc & co. (abort with a message,
 * or what the program's memory policy does instead);
 * everything a user or the world can cause is a return code plus message,
 * never one of these.
 */
#ifndef TB_TB_H
#define TB_TB_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define TB_ASSERT(cond)                                                                  \
	do {                                                                             \
		if (!(cond))                                                             \
			tb_assert_fail(#cond, __FILE__, __LINE__);                       \
	} while (0)

#define TB_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define TB_MIN(a, b) ((a) < (b) ? (a) : (b))
#define TB_MAX(a, b) ((a) > (b) ? (a) : (b))

_Noreturn void tb_assert_fail(const char *cond, const char *file, int line);

/*
 * Out of memory, for a program that wants more than an abort (the worker
 * reports a failed run, engine/cli/cmd_train.c). admit: may an allocation
 * of n ≥ TB_ADMIT_MIN bytes go ahead (a budget, memlimit.h)? fail: n bytes
 * could not be had; report and end the process — it must not return.
 * Either may be NULL. Set once, before any thread that allocates starts.
 */
struct tb_memory_policy {
	bool (*admit)(size_t n);
	void (*fail)(size_t n);
};
#define TB_ADMIT_MIN ((size_t)1 << 20)
void tb_set_memory_policy(const struct tb_memory_policy *policy);
/* The policy's verdict on n bytes (true without a policy, or below TB_ADMIT_MIN). */
bool tb_admit(size_t n);
/* n bytes could not be had: the policy's fail, else a message and abort. */
_Noreturn void tb_out_of_memory(size_t n);

/* Allocate or end the process through tb_out_of_memory; large requests ask tb_admit first. */
void *tb_xmalloc(size_t n);
void *tb_xcalloc(size_t count, size_t size);
void *tb_xrealloc(void *p, size_t n);
char *tb_xstrdup(const char *s);

/* snprintf that never overflows and always terminates; returns dst. */
char *tb_fmt(char *dst, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/*
 * A number for people: an integer in full with thousands separators
 * ("16,777,216", "-1,000"), anything else as %g ("0.001", "1e-08").
 * Returns dst.
 */
char *tb_fmt_number(char *dst, size_t len, double v);

/*
 * The length of the UTF-8 character starting at s (1 to 4), or 0 when the
 * bytes there are not one (strict: no overlong forms, no surrogates,
 * nothing past U+10FFFF, not cut off by `avail`).
 */
int tb_utf8_char(const char *s, size_t avail);

/* Monotonic seconds. */
double tb_now(void);
/* Wall-clock seconds since the epoch (for event timestamps). */
double tb_wall(void);

/* Read a whole file into a malloc'd, NUL-terminated buffer; -1 and errno on failure. */
int tb_read_file(const char *path, char **data, size_t *len);

/* The running binary's path (/proc/self/exe) into out; "" when it cannot be read. */
void tb_self_exe(char *out, size_t len);

/*
 * Files that ship with trainbook live in two layouts: the build tree
 * (build/trainbook beside build/libtrainbook-cuda.so, static/ one level
 * up) and an installed prefix (bin/trainbook, lib/trainbook/,
 * share/trainbook/). `rel` lists the places to look, relative to the
 * directory holding `exe`, NULL-terminated, best first. The first that
 * exists goes to out as an absolute path; false (out untouched) when none
 * does.
 */
bool tb_find_beside_exe(const char *exe, const char *const rel[], char *out, size_t len);

#endif
