/*
 * sysmon.h — system stats for GET /api/system and the feed: GPUs through
 * gpumon (NVML), CPU utilisation and memory from /proc, sampled once a
 * second by a thread of its own.
 *
 * What it is: the sampler and the JSON of docs/api.md. A value that cannot
 * be read is null, never invented; without a GPU "gpus" is empty and
 * "gpu_note" says why in plain words. What it is not: the scheduler (it
 * only tells it how many GPUs there are).
 *
 * Threads: sysmon_new/start/free on the main thread; the sampler thread
 * calls on_sample and run_of_pid; sysmon_json and sysmon_devices from any
 * thread (they copy under m->lock, which is never held across a hook).
 */
#ifndef TB_SERVER_SYSMON_H
#define TB_SERVER_SYSMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct sysmon;

struct sysmon_hooks {
	/* Called after every sample with the JSON text (owned by sysmon, valid during the call). */
	void (*on_sample)(void *ctx, const char *json);
	/* Which run a GPU process belongs to; 0 for none. */
	int64_t (*run_of_pid)(void *ctx, int pid);
	/* Who started that run (into owner); false when unknown. NULL = owners are not named. */
	bool (*owner_of_run)(void *ctx, int64_t run, char *owner, size_t len);
	void *ctx;
};

/* Loads NVML (if any) and takes a first sample so /api/system answers at once. */
struct sysmon *sysmon_new(const struct sysmon_hooks *hooks);
int sysmon_start(struct sysmon *m);
void sysmon_free(struct sysmon *m); /* stops the thread */

int sysmon_gpu_count(const struct sysmon *m);
/* Places for runs (GPUs, or their MIG instances: gpumon.h), and the last sample of them (into out). */
struct gpumon_device;
int sysmon_device_count(const struct sysmon *m);
int sysmon_devices(struct sysmon *m, struct gpumon_device *out, int max);
/* The smallest GPU's total memory in bytes from the last sample; 0 when unknown (for the
 * memory check of a run, memest.h). */
uint64_t sysmon_gpu_memory(struct sysmon *m);
/* The latest sample as JSON text, malloc'd. */
char *sysmon_json(struct sysmon *m);

/* Parse /proc/stat text (exposed for unit tests; /proc/meminfo is memlimit.h's). */
int sysmon_parse_stat(const char *text, uint64_t *busy, uint64_t *total);

#endif
