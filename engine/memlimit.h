/*
 * memlimit.h — how much memory a run may use, and what to say when it
 * wants more.
 *
 * What it is: the machine's memory (/proc/meminfo) and the share of it a
 * run may be admitted with; a budget in bytes for this process, checked by
 * the engine's own allocators (tb_admit, tb.h) against what malloc holds
 * (mallinfo2: bytes in use in the arenas plus mmapped chunks), so a run
 * whose estimate was too low fails with "out of memory: the run needs ~X"
 * instead of the kernel's OOM killer or an abort; sizes printed for people
 * ("412 MiB", "7.6 TiB"). What it is not: the estimate (memest.h), or a
 * limit on memory the engine does not get from malloc (OpenBLAS buffers,
 * CUDA's): the server's RLIMIT_DATA on CPU workers is the backstop there.
 *
 * Threads: memlimit_set runs once before training threads start; the rest
 * may be called from any thread (memlimit_admit from loader threads too).
 */
#ifndef TB_MEMLIMIT_H
#define TB_MEMLIMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* MemTotal and MemAvailable from /proc/meminfo text, in bytes; -1 when either is missing. */
int memlimit_parse_meminfo(const char *text, int64_t *total, int64_t *available);
/* The same, read from /proc/meminfo; -1 when it cannot be read. */
int memlimit_machine(int64_t *total, int64_t *available);

/*
 * What one run may be admitted with on a machine of `total` bytes:
 * MemTotal less a margin of 10% (at least 512 MiB) for the kernel, the
 * server and the estimate's error. MemTotal, not MemAvailable: a run is
 * admitted once and may wait in the queue, and MemAvailable is a snapshot
 * that page cache and the neighbouring runs move — refusing on it would
 * turn away a run that fits as soon as its neighbour ends.
 */
int64_t memlimit_allowance(int64_t total);
/* The smaller of `allowance` and a configured budget (0 = none): what a worker may use. */
int64_t memlimit_with_budget(int64_t allowance, int64_t budget);
/* memlimit_with_budget(memlimit_allowance of this machine, budget); 0 when neither is known. */
int64_t memlimit_host_allowance(int64_t budget);
/*
 * What a run placed beside others with `placed` bytes (its estimate, or
 * an equal share without one) may use: that and a quarter more, at least
 * MEMLIMIT_PACKED_SLACK more — the estimate's error on the examples is
 * within ±25% — and never more than `allowance`. A run that outgrows its
 * estimate then fails itself instead of crowding its neighbours into the
 * kernel's OOM killer. `allowance` when placed is 0 (not known).
 */
#define MEMLIMIT_PACKED_SLACK ((int64_t)128 << 20)
int64_t memlimit_packed(int64_t allowance, int64_t placed);
/*
 * TRAINBOOK_MEMORY_LIMIT, the budget a server gives its workers (or a
 * person sets): *budget = its bytes, or 0 when unset. -1 with err when it
 * is not a size.
 */
int memlimit_env_budget(int64_t *budget, char *err, size_t errlen);

/*
 * The budget of this process in bytes (0 = none) and the run's estimated
 * peak (0 = unknown), which the out-of-memory message quotes.
 */
void memlimit_set(int64_t budget, int64_t estimate);
int64_t memlimit_budget(void);
/* Bytes malloc holds for this process now (arenas in use + mmapped chunks). */
int64_t memlimit_in_use(void);
/* May `bytes` more be allocated within the budget? (Always true without one.) */
bool memlimit_admit(size_t bytes);

/*
 * The failure's reason, allocation-free (an out-of-memory hook calls it):
 * "out of memory: the run needs ~3.1 GiB (1.5 GiB in use, 1.6 GiB more
 * asked for; this worker may use 2.0 GiB)". Needs is the larger of the
 * estimate and what was in use plus the request.
 */
void memlimit_reason(char *buf, size_t len, size_t request);

/* "412 MiB", "23.5 GiB", "7.6 TiB": one decimal below 100 of a unit. */
char *memlimit_format(int64_t bytes, char *buf, size_t len);
/* "2G", "512M", "65536K", "1073741824" (binary units); -1 on anything else. */
int memlimit_parse_bytes(const char *text, int64_t *out);

#endif
