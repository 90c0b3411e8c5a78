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
#define GPUMON_MAX_DEVICES 64 /* places for runs: GPUs, or the MIG instances they are cut into */

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
 * A place to run on: a whole GPU, or one MIG instance of a GPU in MIG
 * mode (its own memory, processes and CUDA_VISIBLE_DEVICES name; the GPU
 * itself then takes no runs). The scheduler packs runs into these.
 */
struct gpumon_device {
	int gpu;                   /* the physical GPU's index */
	int mig;                   /* the MIG instance's index on it, or -1 for the whole GPU */
	char label[48];            /* "GPU 0", "GPU 1 (MIG 2)" */
	char visible[96];          /* its CUDA_VISIBLE_DEVICES entry: "0", or NVML's "MIG-…" UUID */
	bool has_memory;
	unsigned long long memory_total, memory_free; /* bytes */
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
/* Places for runs (found at open: restart the server after changing the MIG layout). */
int gpumon_device_count(const struct gpumon *g);
/* Read place i's memory and processes; -1 if its handle is gone. */
int gpumon_read_device(struct gpumon *g, int i, struct gpumon_device *out);
void gpumon_close(struct gpumon *g);

#endif
