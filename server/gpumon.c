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
#define NVML_DEVICE_MIG_ENABLE 1
#define NVML_UUID_LEN 96

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

/* A place for runs (gpumon_device): a GPU's handle, or a MIG instance's. */
struct place {
	nvml_device handle;
	int gpu, mig;
	char visible[NVML_UUID_LEN];
};

struct gpumon {
	void *lib;
	int count;
	nvml_device devices[GPUMON_MAX_GPUS];
	int nplaces;
	struct place places[GPUMON_MAX_DEVICES];
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
	nvml_return (*get_mig_mode)(nvml_device, unsigned *current, unsigned *pending);
	nvml_return (*get_max_mig)(nvml_device, unsigned *);
	nvml_return (*get_mig_handle)(nvml_device, unsigned, nvml_device *);
	nvml_return (*get_uuid)(nvml_device, char *, unsigned);
	const char *(*error_string)(nvml_return);
};

/* Versioned names first: the unversioned ones are old ABI kept for old code. */
static void *sym(void *lib, const char *v2, const char *v1)
{
	void *p = v2 ? dlsym(lib, v2) : NULL;
	return p ? p : (v1 ? dlsym(lib, v1) : NULL);
}

static void add_place(struct gpumon *g, nvml_device h, int gpu, int mig, const char *visible)
{
	if (g->nplaces >= GPUMON_MAX_DEVICES)
		return;
	struct place *p = &g->places[g->nplaces++];
	p->handle = h;
	p->gpu = gpu;
	p->mig = mig;
	snprintf(p->visible, sizeof p->visible, "%s", visible);
}

/*
 * A GPU in MIG mode runs nothing itself: its instances do, each named by
 * its UUID in CUDA_VISIBLE_DEVICES (what NVML's GetUUID answers for a MIG
 * handle, "MIG-…", since driver R470). An instance without a UUID cannot
 * be named, so it is left out.
 */
static void find_places(struct gpumon *g)
{
	for (int i = 0; i < g->count; i++) {
		nvml_device d = g->devices[i];
		if (!d)
			continue;
		unsigned current = 0, pending = 0, max = 0;
		bool mig = g->get_mig_mode && g->get_max_mig && g->get_mig_handle && g->get_uuid &&
			   g->get_mig_mode(d, &current, &pending) == NVML_SUCCESS && current == NVML_DEVICE_MIG_ENABLE &&
			   g->get_max_mig(d, &max) == NVML_SUCCESS;
		if (!mig) {
			char index[16];
			snprintf(index, sizeof index, "%d", i);
			add_place(g, d, i, -1, index);
			continue;
		}
		for (unsigned k = 0; k < max; k++) {
			nvml_device h;
			char uuid[NVML_UUID_LEN];
			if (g->get_mig_handle(d, k, &h) != NVML_SUCCESS || g->get_uuid(h, uuid, sizeof uuid) != NVML_SUCCESS)
				continue;
			uuid[sizeof uuid - 1] = '\0';
			add_place(g, h, i, (int)k, uuid);
		}
	}
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
	*(void **)&g->get_mig_mode = sym(lib, "nvmlDeviceGetMigMode", NULL);
	*(void **)&g->get_max_mig = sym(lib, "nvmlDeviceGetMaxMigDeviceCount", NULL);
	*(void **)&g->get_mig_handle = sym(lib, "nvmlDeviceGetMigDeviceHandleByIndex", NULL);
	*(void **)&g->get_uuid = sym(lib, "nvmlDeviceGetUUID", NULL);
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
	find_places(g);
	note[0] = '\0';
	return g;
fail:
	dlclose(lib);
	free(g);
	return NULL;
}

/* A handle's compute processes into procs (at most GPUMON_MAX_PROCS); false when NVML cannot tell. */
static bool read_processes(struct gpumon *g, nvml_device d, struct gpumon_proc *out, int *nout)
{
	*nout = 0;
	if (!g->get_processes)
		return false;
	struct nvml_process_v2 procs[GPUMON_MAX_PROCS];
	unsigned n = GPUMON_MAX_PROCS;
	nvml_return r = g->get_processes(d, &n, procs);
	/* INSUFFICIENT_SIZE: more than we keep; the array is still filled. */
	if (r != NVML_SUCCESS && r != NVML_ERROR_INSUFFICIENT_SIZE)
		return false;
	if (n > GPUMON_MAX_PROCS)
		n = GPUMON_MAX_PROCS;
	for (unsigned k = 0; k < n; k++) {
		out[k].pid = procs[k].pid;
		out[k].has_memory = procs[k].used_gpu_memory != ~0ULL;
		out[k].memory = procs[k].used_gpu_memory;
	}
	*nout = (int)n;
	return true;
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
	out->has_processes = read_processes(g, d, out->procs, &out->nprocs);
	return 0;
}

int gpumon_device_count(const struct gpumon *g)
{
	return g ? g->nplaces : 0;
}

int gpumon_read_device(struct gpumon *g, int i, struct gpumon_device *out)
{
	memset(out, 0, sizeof *out);
	if (!g || i < 0 || i >= g->nplaces)
		return -1;
	const struct place *p = &g->places[i];
	out->gpu = p->gpu;
	out->mig = p->mig;
	if (p->mig >= 0)
		snprintf(out->label, sizeof out->label, "GPU %d (MIG %d)", p->gpu, p->mig);
	else
		snprintf(out->label, sizeof out->label, "GPU %d", p->gpu);
	snprintf(out->visible, sizeof out->visible, "%s", p->visible);
	struct nvml_memory m;
	if (g->get_memory && g->get_memory(p->handle, &m) == NVML_SUCCESS) {
		out->has_memory = true;
		out->memory_total = m.total;
		out->memory_free = m.free;
	}
	out->has_processes = read_processes(g, p->handle, out->procs, &out->nprocs);
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
