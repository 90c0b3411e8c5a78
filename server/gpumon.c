/*
 * gpumon.c — NVML via dlopen (see gpumon.h). Only the declarations we use
 * are written here; their layouts follow NVML's public nvml.h.
 *
 * Threads: the sysmon thread only.
 */
#include "gpumon.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tb.h"
#include "util.h"

typedef int nvml_return;              /* nvmlReturn_t; 0 = NVML_SUCCESS */
typedef struct nvml_device *nvml_device; /* nvmlDevice_t, opaque */

#define NVML_SUCCESS 0
#define NVML_ERROR_INSUFFICIENT_SIZE 7
#define NVML_TEMPERATURE_GPU 0

struct nvml_utilization { /* nvmlUtilization_t */
	unsigned gpu;
	unsigned memory;
};

struct nvml_memory { /* nvmlMemory_t (v1) */
	unsigned long long total;
	unsigned long long free;
	unsigned long long used;
};

struct nvml_process_v2 { /* nvmlProcessInfo_v2_t, taken by ..._v2 below */
	unsigned pid;
	unsigned long long used_gpu_memory; /* NVML_VALUE_NOT_AVAILABLE = ~0ULL */
	unsigned gpu_instance_id;
	unsigned compute_instance_id;
};

struct gpumon {
	void *lib;
	int count;
	nvml_device devices[GPUMON_MAX_GPUS];
	nvml_return (*init)(void);
	nvml_return (*shutdown)(void);
	nvml_return (*get_count)(unsigned *);
	nvml_return (*get_handle)(unsigned, nvml_device *);
	nvml_return (*get_name)(nvml_device, char *, unsigned);
	nvml_return (*get_utilization)(nvml_device, struct nvml_utilization *);
	nvml_return (*get_memory)(nvml_device, struct nvml_memory *);
	nvml_return (*get_temperature)(nvml_device, int, unsigned *);
	nvml_return (*get_power)(nvml_device, unsigned *);
	nvml_return (*get_processes)(nvml_device, unsigned *, struct nvml_process_v2 *);
	const char *(*error_string)(nvml_return);
};

/* Versioned names first: the unversioned ones are old ABI kept for old code. */
static void *sym(void *lib, const char *v2, const char *v1)
{
	void *p = v2 ? dlsym(lib, v2) : NULL;
	return p ? p : (v1 ? dlsym(lib, v1) : NULL);
}

struct gpumon *gpumon_open(char *note, size_t notelen)
{
	void *lib = dlopen("libnvidia-ml.so.1", RTLD_NOW | RTLD_LOCAL);
	if (!lib) {
		/* NVML ships with the driver: without it there is no driver (the log says which file). */
		srv_log("gpu: %s: %s", "libnvidia-ml.so.1", dlerror());
		snprintf(note, notelen, "no NVIDIA driver found");
		return NULL;
	}
	struct gpumon *g = tb_xcalloc(1, sizeof *g);
	g->lib = lib;
	*(void **)&g->init = sym(lib, "nvmlInit_v2", "nvmlInit");
	*(void **)&g->shutdown = sym(lib, "nvmlShutdown", NULL);
	*(void **)&g->get_count = sym(lib, "nvmlDeviceGetCount_v2", "nvmlDeviceGetCount");
	*(void **)&g->get_handle = sym(lib, "nvmlDeviceGetHandleByIndex_v2", "nvmlDeviceGetHandleByIndex");
	*(void **)&g->get_name = sym(lib, "nvmlDeviceGetName", NULL);
	*(void **)&g->get_utilization = sym(lib, "nvmlDeviceGetUtilizationRates", NULL);
	*(void **)&g->get_memory = sym(lib, "nvmlDeviceGetMemoryInfo", NULL);
	*(void **)&g->get_temperature = sym(lib, "nvmlDeviceGetTemperature", NULL);
	*(void **)&g->get_power = sym(lib, "nvmlDeviceGetPowerUsage", NULL);
	*(void **)&g->get_processes = sym(lib, "nvmlDeviceGetComputeRunningProcesses_v2", NULL);
	*(void **)&g->error_string = sym(lib, "nvmlErrorString", NULL);
	if (!g->init || !g->shutdown || !g->get_count || !g->get_handle) {
		snprintf(note, notelen, "the NVIDIA driver is too old (its NVML lacks nvmlInit_v2)");
		goto fail;
	}
	nvml_return r = g->init();
	if (r != NVML_SUCCESS) {
		snprintf(note, notelen, "the NVIDIA driver did not start (%s)",
			 g->error_string ? g->error_string(r) : "error");
		goto fail;
	}
	unsigned count = 0;
	if (g->get_count(&count) != NVML_SUCCESS || count == 0) {
		snprintf(note, notelen, "no NVIDIA GPU found (NVML reports none)");
		g->shutdown();
		goto fail;
	}
	if (count > GPUMON_MAX_GPUS)
		count = GPUMON_MAX_GPUS;
	for (unsigned i = 0; i < count; i++)
		if (g->get_handle(i, &g->devices[i]) != NVML_SUCCESS)
			g->devices[i] = NULL;
	g->count = (int)count;
	note[0] = '\0';
	return g;
fail:
	dlclose(lib);
	free(g);
	return NULL;
}

int gpumon_count(const struct gpumon *g)
{
	return g ? g->count : 0;
}

int gpumon_read(struct gpumon *g, int i, struct gpumon_gpu *out)
{
	memset(out, 0, sizeof *out);
	out->index = i;
	if (!g || i < 0 || i >= g->count || !g->devices[i])
		return -1;
	nvml_device d = g->devices[i];
	if (!g->get_name || g->get_name(d, out->name, sizeof out->name) != NVML_SUCCESS)
		snprintf(out->name, sizeof out->name, "GPU %d", i);
	struct nvml_utilization u;
	if (g->get_utilization && g->get_utilization(d, &u) == NVML_SUCCESS) {
		out->has_utilization = true;
		out->utilization = u.gpu;
	}
	struct nvml_memory m;
	if (g->get_memory && g->get_memory(d, &m) == NVML_SUCCESS) {
		out->has_memory = true;
		out->memory_used = m.used;
		out->memory_total = m.total;
	}
	unsigned t;
	if (g->get_temperature && g->get_temperature(d, NVML_TEMPERATURE_GPU, &t) == NVML_SUCCESS) {
		out->has_temperature = true;
		out->temperature = t;
	}
	unsigned mw;
	if (g->get_power && g->get_power(d, &mw) == NVML_SUCCESS) {
		out->has_power = true;
		out->power = mw / 1000.0;
	}
	if (g->get_processes) {
		struct nvml_process_v2 procs[GPUMON_MAX_PROCS];
		unsigned n = GPUMON_MAX_PROCS;
		nvml_return r = g->get_processes(d, &n, procs);
		/* INSUFFICIENT_SIZE: more than we keep; the array is still filled. */
		if (r == NVML_SUCCESS || r == NVML_ERROR_INSUFFICIENT_SIZE) {
			out->has_processes = true;
			if (n > GPUMON_MAX_PROCS)
				n = GPUMON_MAX_PROCS;
			for (unsigned k = 0; k < n; k++) {
				out->procs[k].pid = procs[k].pid;
				out->procs[k].has_memory = procs[k].used_gpu_memory != ~0ULL;
				out->procs[k].memory = procs[k].used_gpu_memory;
			}
			out->nprocs = (int)n;
		}
	}
	return 0;
}

void gpumon_close(struct gpumon *g)
{
	if (!g)
		return;
	g->shutdown();
	dlclose(g->lib);
	free(g);
}
