/*
 * fake_nvml.c — a test-only stand-in for libnvidia-ml.so.1, so the
 * integration suite can check the server's NVML path (dlopen, the _v2
 * symbols, null for unreadable values, GPU process → run mapping, GPU
 * slots and CUDA_VISIBLE_DEVICES) on a machine without a GPU. system.test.mjs
 * compiles it into a temp directory and starts the server with
 * LD_LIBRARY_PATH pointing there. One GPU: utilization 42 %, 1 GiB of
 * 80 GiB used, 250 W, temperature not supported; its compute processes
 * are the pids listed in the file named by $FAKE_NVML_PIDS.
 * With $FAKE_NVML_MIG=N (1..7) the GPU is in MIG mode, cut into N
 * instances of 80/N GiB named MIG-fake-0 … (their UUIDs), each reporting
 * the same processes (sched.test.mjs). $FAKE_NVML_MEMORY_MIB sets the
 * GPU's memory (default 80 GiB), so packing by the engine's estimate can
 * be filled by a few small runs.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct fake_device *nvmlDevice_t;
static struct fake_device {
	int index; /* 0 = the GPU, 1 + k = MIG instance k */
} gpu0, migs[7] = {{1}, {2}, {3}, {4}, {5}, {6}, {7}};

static int mig_count(void)
{
	const char *v = getenv("FAKE_NVML_MIG");
	int n = v ? atoi(v) : 0;
	return n < 0 ? 0 : n > 7 ? 7 : n;
}

struct utilization {
	unsigned gpu, memory;
};
struct memory {
	unsigned long long total, free, used;
};
struct process_v2 {
	unsigned pid;
	unsigned long long used;
	unsigned gi, ci;
};

int nvmlInit_v2(void) { return 0; }
int nvmlShutdown(void) { return 0; }
const char *nvmlErrorString(int r) { return r ? "fake error" : "success"; }
int nvmlDeviceGetCount_v2(unsigned *n) { *n = 1; return 0; }
int nvmlDeviceGetHandleByIndex_v2(unsigned i, nvmlDevice_t *d)
{
	if (i != 0)
		return 2; /* NVML_ERROR_INVALID_ARGUMENT */
	*d = &gpu0;
	return 0;
}
int nvmlDeviceGetName(nvmlDevice_t d, char *name, unsigned len)
{
	(void)d;
	snprintf(name, len, "Fake NVML GPU");
	return 0;
}
int nvmlDeviceGetUtilizationRates(nvmlDevice_t d, struct utilization *u)
{
	(void)d;
	u->gpu = 42;
	u->memory = 7;
	return 0;
}
int nvmlDeviceGetMemoryInfo(nvmlDevice_t d, struct memory *m)
{
	const char *mib = getenv("FAKE_NVML_MEMORY_MIB");
	unsigned long long total = mib ? strtoull(mib, NULL, 10) << 20 : 80ULL << 30;
	m->total = total / (d->index ? (unsigned)mig_count() : 1);
	m->used = 1ULL << 30;
	m->free = m->total - m->used;
	return 0;
}
int nvmlDeviceGetTemperature(nvmlDevice_t d, int sensor, unsigned *t)
{
	(void)d;
	(void)sensor;
	(void)t;
	return 3; /* NVML_ERROR_NOT_SUPPORTED */
}
int nvmlDeviceGetPowerUsage(nvmlDevice_t d, unsigned *mw)
{
	(void)d;
	*mw = 250000;
	return 0;
}
int nvmlDeviceGetComputeRunningProcesses_v2(nvmlDevice_t d, unsigned *count, struct process_v2 *p)
{
	(void)d;
	unsigned n = 0;
	const char *path = getenv("FAKE_NVML_PIDS");
	FILE *f = path ? fopen(path, "r") : NULL;
	unsigned pid;
	while (f && n < *count && fscanf(f, "%u", &pid) == 1) {
		p[n].pid = pid;
		p[n].used = 512ULL << 20;
		p[n].gi = p[n].ci = 0;
		n++;
	}
	if (f)
		fclose(f);
	*count = n;
	return 0;
}

int nvmlDeviceGetMigMode(nvmlDevice_t d, unsigned *current, unsigned *pending)
{
	if (d->index)
		return 3; /* an instance has no MIG mode of its own */
	*current = *pending = mig_count() > 0;
	return 0;
}
int nvmlDeviceGetMaxMigDeviceCount(nvmlDevice_t d, unsigned *n)
{
	(void)d;
	*n = 7;
	return 0;
}
int nvmlDeviceGetMigDeviceHandleByIndex(nvmlDevice_t d, unsigned i, nvmlDevice_t *out)
{
	if (d->index || (int)i >= mig_count())
		return 6; /* NVML_ERROR_NOT_FOUND: no instance at that index */
	*out = &migs[i];
	return 0;
}
int nvmlDeviceGetUUID(nvmlDevice_t d, char *uuid, unsigned len)
{
	if (d->index)
		snprintf(uuid, len, "MIG-fake-%d", d->index - 1);
	else
		snprintf(uuid, len, "GPU-fake-0");
	return 0;
}
