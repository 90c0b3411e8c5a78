/*
 * fuzz.h — what the fuzz targets under tests/fuzz/<target>/ share.
 *
 * Every target is one file, tests/fuzz/<target>/fuzz_<target>.c, that
 * defines LLVMFuzzerTestOneInput and is built twice (Makefile):
 *   - with clang's -fsanitize=fuzzer,address,undefined into
 *     build/fuzz/bin/<target>, which `make fuzz` runs for FUZZ_SECONDS;
 *   - with the unit tests' ASan+UBSan flags and replay_main.c into
 *     build/fuzz/replay/<target>, which tests/fuzz/run.sh (part of
 *     `make test`) runs once over every file in corpus/ and crashes/.
 * A target checks properties (no crash, no leak, no UB, plus its own
 * invariants, enforced with abort()) and keeps no state between inputs
 * that could change what the next one does, so a saved crash replays.
 *
 * Several targets need more than one file (four IDX files, a checkpoint
 * and its state sidecar, an HTTP request's parts): their input is the
 * parts joined by FUZZ_SEP, a byte string no real file of these formats
 * holds by chance. libFuzzer learns it from the memmem in fuzz_split.
 *
 * Threads: one; a target is never entered concurrently.
 */
#ifndef TB_TESTS_FUZZ_H
#define TB_TESTS_FUZZ_H

#include <stddef.h>
#include <stdint.h>

#define FUZZ_SEP "\x00--8<--\x00"
#define FUZZ_SEP_LEN (sizeof FUZZ_SEP - 1)

struct fuzz_part {
	const uint8_t *data;
	size_t len;
};

/* Cut data at each FUZZ_SEP into at most max parts (the last takes the
 * rest, separators included). Returns the count, ≥ 1. */
int fuzz_split(const uint8_t *data, size_t size, struct fuzz_part *parts, int max);

/* A NUL-terminated malloc'd copy of a part (text inputs). */
char *fuzz_strdup(const struct fuzz_part *p);

/*
 * A private scratch folder for this process (under $TMPDIR, else /dev/shm,
 * else /tmp), made on first use and removed with everything in it at exit.
 */
const char *fuzz_scratch(void);

/* dir/name, in a static buffer of the caller's (len bytes); aborts if it does not fit. */
char *fuzz_path(char *out, size_t len, const char *dir, const char *name);

/* Write bytes to dir/name (replacing it); aborts on failure: the harness is broken. */
void fuzz_write(const char *dir, const char *name, const void *data, size_t len);

/* Remove dir/name if it is there. */
void fuzz_remove(const char *dir, const char *name);

/* mkdir -p of one level; aborts on failure other than EEXIST. */
void fuzz_mkdir(const char *dir, const char *name);

/* rm -rf; for scratch folders only. */
void fuzz_remove_tree(const char *path);

/* Abort with a message when an invariant a target checks does not hold. */
_Noreturn void fuzz_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* The error message contract of the whole project: non-empty and one line. */
void fuzz_check_message(const char *what, const char *msg);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#endif
