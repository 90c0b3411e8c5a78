/*
 * memlimit.c — the machine's memory, this process's budget and the
 * out-of-memory message (see memlimit.h).
 *
 * Threads: budget and estimate are written once by memlimit_set before any
 * other thread starts and only read afterwards.
 */
#include "memlimit.h"

#include <fcntl.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tb.h"

#define MEMLIMIT_MARGIN_MIN ((int64_t)512 << 20)

static int64_t budget_bytes;   /* memlimit_set; 0 = no budget */
static int64_t estimate_bytes; /* memlimit_set; 0 = unknown */

int memlimit_parse_meminfo(const char *text, int64_t *total, int64_t *available)
{
	const char *t = strstr(text, "MemTotal:"), *a = strstr(text, "MemAvailable:");
	long long kt, ka;
	if (!t || !a || sscanf(t, "MemTotal: %lld", &kt) != 1 || sscanf(a, "MemAvailable: %lld", &ka) != 1 || kt < 0 ||
	    ka < 0)
		return -1;
	*total = (int64_t)kt * 1024;
	*available = (int64_t)ka * 1024;
	return 0;
}

int memlimit_machine(int64_t *total, int64_t *available)
{
	/* read(2) into the stack: also usable where malloc must not be called. */
	char buf[8192];
	int fd = open("/proc/meminfo", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = 0;
	return memlimit_parse_meminfo(buf, total, available);
}

int64_t memlimit_allowance(int64_t total)
{
	int64_t margin = TB_MAX(total / 10, MEMLIMIT_MARGIN_MIN);
	return total > margin ? total - margin : 0;
}

int64_t memlimit_with_budget(int64_t allowance, int64_t budget)
{
	return budget > 0 && (allowance <= 0 || budget < allowance) ? budget : allowance;
}

int64_t memlimit_host_allowance(int64_t budget)
{
	int64_t total, available;
	return memlimit_with_budget(memlimit_machine(&total, &available) == 0 ? memlimit_allowance(total) : 0, budget);
}

int64_t memlimit_packed(int64_t allowance, int64_t placed)
{
	if (placed <= 0)
		return allowance;
	int64_t slack = TB_MAX(placed / 4, MEMLIMIT_PACKED_SLACK);
	int64_t packed = placed > INT64_MAX - slack ? INT64_MAX : placed + slack;
	return memlimit_with_budget(allowance, packed);
}

int memlimit_env_budget(int64_t *budget, char *err, size_t errlen)
{
	const char *env = getenv("TRAINBOOK_MEMORY_LIMIT");
	*budget = 0;
	if (!env || !*env)
		return 0;
	if (memlimit_parse_bytes(env, budget) < 0 || *budget <= 0) {
		*budget = 0;
		tb_fmt(err, errlen, "TRAINBOOK_MEMORY_LIMIT=%s is not a size (write e.g. 2G, 512M or bytes)", env);
		return -1;
	}
	return 0;
}

void memlimit_set(int64_t budget, int64_t estimate)
{
	budget_bytes = budget > 0 ? budget : 0;
	estimate_bytes = estimate > 0 ? estimate : 0;
}

int64_t memlimit_budget(void)
{
	return budget_bytes;
}

int64_t memlimit_in_use(void)
{
	struct mallinfo2 mi = mallinfo2();
	return (int64_t)(mi.uordblks + mi.hblkhd);
}

bool memlimit_admit(size_t bytes)
{
	return !budget_bytes || memlimit_in_use() + (int64_t)bytes <= budget_bytes;
}

char *memlimit_format(int64_t bytes, char *buf, size_t len)
{
	static const char *const units[] = {"bytes", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
	double v = (double)bytes;
	size_t u = 0;
	while (v >= 1024 && u + 1 < TB_ARRAY_LEN(units)) {
		v /= 1024;
		u++;
	}
	if (u == 0)
		snprintf(buf, len, "%lld bytes", (long long)bytes);
	else
		snprintf(buf, len, v < 99.95 ? "%.1f %s" : "%.0f %s", v, units[u]);
	return buf;
}

void memlimit_reason(char *buf, size_t len, size_t request)
{
	char needs[32], used[32], asked[32], may[32];
	int64_t in_use = memlimit_in_use();
	int64_t total = in_use + (int64_t)TB_MIN(request, (size_t)INT64_MAX / 2);
	memlimit_format(TB_MAX(total, estimate_bytes), needs, sizeof(needs));
	memlimit_format(in_use, used, sizeof(used));
	memlimit_format((int64_t)TB_MIN(request, (size_t)INT64_MAX / 2), asked, sizeof(asked));
	if (budget_bytes)
		snprintf(buf, len,
			 "out of memory: the run needs ~%s (%s in use, %s more asked for; this worker may use %s)",
			 needs, used, asked, memlimit_format(budget_bytes, may, sizeof(may)));
	else
		snprintf(buf, len, "out of memory: the run needs ~%s (%s in use, %s more asked for)", needs, used,
			 asked);
}

int memlimit_parse_bytes(const char *text, int64_t *out)
{
	char *end;
	long long v = strtoll(text, &end, 10);
	if (end == text || v < 0)
		return -1;
	int shift = 0;
	switch (*end) {
	case 'K':
	case 'k':
		shift = 10;
		end++;
		break;
	case 'M':
	case 'm':
		shift = 20;
		end++;
		break;
	case 'G':
	case 'g':
		shift = 30;
		end++;
		break;
	case 'T':
	case 't':
		shift = 40;
		end++;
		break;
	default:
		break;
	}
	if (*end == 'i' && shift)
		end++;
	if (*end == 'B' && shift)
		end++;
	if (*end || v > (INT64_MAX >> shift))
		return -1;
	*out = (int64_t)v << shift;
	return 0;
}
