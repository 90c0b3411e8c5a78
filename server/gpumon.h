/*
 * gpumon.h — NVIDIA GPU readings through NVML, loaded with
 * dlopen("libnvidia-ml.so.1") so the server needs no CUDA or driver at
 * build time and runs fine without them.
 *
 * What it is: the few NVML calls we need (utilization, memory, temperature,
 * power, compute processes) declared here by hand, versioned (_v2) symbols
 * first. A reading NVML refuses is marked unavailable, never guessed. What
 * it is not: a sampler with a thread (sysmon.c) or anything CUDA.
 *
 * Threads: NVML is thread-safe, but a struct gpumon is used by one thread
 * (sysmon's) after gpumon_open.
 */
#ifndef TB_SERVER_GPUMON_H
#define TB_SERVER_GPUMON_H

#include <stdbool.h>
#include <stddef.h>

#define GPUMON_MAX_GPUS 16
#define GPUMON_MAX_PROCS 64

struct gpumon;

struct gpumon_proc {
	unsigned pid;
	unsigned long long memory; /* bytes */
	bool has_memory;           /* false when NVML cannot tell (some MIG / WSL setups) */
};

struct gpumon_gpu {
	int index;
	char name[96];
	bool has_utilization;
	unsigned utilization;      /* percent */
	bool has_memory;
	unsigned long long memory_used, memory_total; /* bytes */
	bool has_temperature;
	unsigned temperature;      /* °C */
	bool has_power;
	double power;              /* watts */
	bool has_processes;
	int nprocs;
	struct gpumon_proc procs[GPUMON_MAX_PROCS];
};

/*
 * Load NVML and count the GPUs. Returns NULL when there is no usable NVML
 * or no GPU, with a sentence for the user in `note` (e.g. "no NVIDIA GPU
 * found (libnvidia-ml.so.1 not loadable)").
 */
struct gpumon *gpumon_open(char *note, size_t notelen);
int gpumon_count(const struct gpumon *g);
/* Read GPU i; fields NVML refuses stay has_* = false. -1 if the handle is gone. */
int gpumon_read(struct gpumon *g, int i, struct gpumon_gpu *out);
void gpumon_close(struct gpumon *g);

#endif
