/*
 * sysmon.c — the once-a-second sampler (see sysmon.h).
 *
 * Threads: the sampler thread owns gpumon and the CPU counters; m->lock
 * guards `latest`, which HTTP handlers read.
 */
#include "sysmon.h"

#include <inttypes.h>
#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "gpumon.h"
#include "memlimit.h"
#include "store.h"
#include "tb.h"
#include "util.h"

struct sysmon {
	struct sysmon_hooks hooks;
	struct gpumon *gpu;       /* NULL without NVML or GPUs; sampler thread only */
	char gpu_note[160];       /* why there is no GPU; "" when there is one */
	uint64_t prev_busy, prev_total; /* last /proc/stat reading; sampler thread only */
	pthread_t thread;
	bool started;
	pthread_mutex_t lock;     /* guards latest and stop */
	pthread_cond_t wake;      /* signalled on stop, so free does not wait a second */
	char *latest;             /* JSON of the last sample */
	struct gpumon_device *devices; /* places for runs in the last sample (gpumon_device_count of them) */
	int ndevices;
	uint64_t gpu_memory;      /* the smallest GPU's memory in the last sample, 0 = unknown */
	bool stop;
};

int sysmon_parse_stat(const char *text, uint64_t *busy, uint64_t *total)
{
	unsigned long long v[8] = {0};
	if (strncmp(text, "cpu ", 4) ||
	    sscanf(text + 4, "%llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3],
		   &v[4], &v[5], &v[6], &v[7]) < 4)
		return -1;
	uint64_t sum = 0;
	for (int i = 0; i < 8; i++)
		sum += v[i];
	*total = sum;
	*busy = sum - v[3] - v[4]; /* idle and iowait are not work */
	return 0;
}

static char *read_proc(const char *path)
{
	char *data = NULL;
	size_t len = 0;
	if (srv_read_file(path, 1 << 20, &data, &len) < 0)
		return NULL;
	return data;
}

static json_t *cpu_json(struct sysmon *m)
{
	json_t *util = json_null();
	char *stat = read_proc("/proc/stat");
	uint64_t busy, total;
	if (stat && sysmon_parse_stat(stat, &busy, &total) == 0) {
		/* Utilisation needs two readings; the first sample has none. */
		if (m->prev_total && total > m->prev_total)
			util = json_real(100.0 * (double)(busy - m->prev_busy) /
					 (double)(total - m->prev_total));
		m->prev_busy = busy;
		m->prev_total = total;
	}
	free(stat);
	long cores = sysconf(_SC_NPROCESSORS_ONLN);
	return json_pack("{s:o, s:o}", "utilization", util, "cores",
			 cores > 0 ? json_integer(cores) : json_null());
}

static json_t *memory_json(void)
{
	int64_t total, avail;
	if (memlimit_machine(&total, &avail) == 0)
		return json_pack("{s:I, s:I}", "used", (json_int_t)(total - avail), "total", (json_int_t)total);
	return json_pack("{s:n, s:n}", "used", "total");
}

#define OR_NULL(has, make) ((has) ? (make) : json_null())

static json_t *gpu_json(struct sysmon *m, const struct gpumon_gpu *g)
{
	json_t *procs = json_null();
	if (g->has_processes) {
		procs = json_array();
		for (int i = 0; i < g->nprocs; i++) {
			const struct gpumon_proc *p = &g->procs[i];
			int64_t run = m->hooks.run_of_pid ? m->hooks.run_of_pid(m->hooks.ctx, (int)p->pid) : 0;
			char rid[32], owner[64];
			store_format_run_id(run, rid, sizeof rid);
			json_t *proc = json_pack("{s:I, s:o, s:o}", "pid", (json_int_t)p->pid,
						 "memory", OR_NULL(p->has_memory, json_integer((json_int_t)p->memory)),
						 "run", run ? json_string(rid) : json_null());
			/* Whose run it is: what the feed hides from other students (access.c). */
			if (run && m->hooks.owner_of_run && m->hooks.owner_of_run(m->hooks.ctx, run, owner, sizeof owner))
				json_object_set_new(proc, "owner", json_string(owner));
			json_array_append_new(procs, proc);
		}
	}
	return json_pack("{s:i, s:s, s:o, s:o, s:o, s:o, s:o, s:o}", "index", g->index, "name", g->name,
			 "utilization", OR_NULL(g->has_utilization, json_integer(g->utilization)),
			 "memory_used", OR_NULL(g->has_memory, json_integer((json_int_t)g->memory_used)),
			 "memory_total", OR_NULL(g->has_memory, json_integer((json_int_t)g->memory_total)),
			 "temperature", OR_NULL(g->has_temperature, json_integer(g->temperature)),
			 "power", OR_NULL(g->has_power, json_real(g->power)), "processes", procs);
}

/* The places for runs, memory and processes, for the scheduler (sysmon_devices). */
static void sample_devices(struct sysmon *m)
{
	int n = gpumon_device_count(m->gpu);
	if (!n)
		return;
	struct gpumon_device *d = tb_xcalloc((size_t)n, sizeof *d);
	for (int i = 0; i < n; i++)
		gpumon_read_device(m->gpu, i, &d[i]);
	pthread_mutex_lock(&m->lock);
	free(m->devices);
	m->devices = d;
	m->ndevices = n;
	pthread_mutex_unlock(&m->lock);
}

static void sample(struct sysmon *m)
{
	sample_devices(m);
	json_t *gpus = json_array();
	struct gpumon_gpu *g = tb_xmalloc(sizeof *g);
	uint64_t smallest = 0;
	for (int i = 0; i < gpumon_count(m->gpu); i++) {
		if (gpumon_read(m->gpu, i, g) != 0)
			continue;
		json_array_append_new(gpus, gpu_json(m, g));
		if (g->has_memory && (!smallest || g->memory_total < smallest))
			smallest = g->memory_total;
	}
	free(g);
	json_t *doc = json_pack("{s:I, s:o, s:o, s:o, s:o}", "time", (json_int_t)srv_unix_now(),
				"gpus", gpus, "gpu_note",
				m->gpu_note[0] ? json_string(m->gpu_note) : json_null(),
				"cpu", cpu_json(m), "memory", memory_json());
	char *text = json_dumps(doc, JSON_COMPACT | JSON_REAL_PRECISION(4));
	json_decref(doc);
	if (!text)
		return;
	pthread_mutex_lock(&m->lock);
	free(m->latest);
	m->latest = tb_xstrdup(text);
	m->gpu_memory = smallest;
	pthread_mutex_unlock(&m->lock);
	if (m->hooks.on_sample)
		m->hooks.on_sample(m->hooks.ctx, text);
	free(text);
}

struct sysmon *sysmon_new(const struct sysmon_hooks *hooks)
{
	struct sysmon *m = tb_xcalloc(1, sizeof *m);
	if (hooks)
		m->hooks = *hooks;
	pthread_mutex_init(&m->lock, NULL);
	pthread_cond_init(&m->wake, NULL);
	m->gpu = gpumon_open(m->gpu_note, sizeof m->gpu_note);
	struct sysmon_hooks quiet = m->hooks;
	m->hooks.on_sample = NULL; /* nobody is listening yet */
	sample(m);
	m->hooks = quiet;
	return m;
}

static void *sampler_main(void *arg)
{
	struct sysmon *m = arg;
	pthread_mutex_lock(&m->lock);
	while (!m->stop) {
		struct timespec until;
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += 1;
		pthread_cond_timedwait(&m->wake, &m->lock, &until);
		if (m->stop)
			break;
		pthread_mutex_unlock(&m->lock);
		sample(m);
		pthread_mutex_lock(&m->lock);
	}
	pthread_mutex_unlock(&m->lock);
	return NULL;
}

int sysmon_start(struct sysmon *m)
{
	if (pthread_create(&m->thread, NULL, sampler_main, m) != 0)
		return -1;
	m->started = true;
	return 0;
}

void sysmon_free(struct sysmon *m)
{
	if (!m)
		return;
	if (m->started)
		srv_thread_stop(m->thread, &m->lock, &m->wake, &m->stop);
	gpumon_close(m->gpu);
	free(m->latest);
	free(m->devices);
	pthread_cond_destroy(&m->wake);
	pthread_mutex_destroy(&m->lock);
	free(m);
}

int sysmon_gpu_count(const struct sysmon *m)
{
	return gpumon_count(m->gpu);
}

int sysmon_device_count(const struct sysmon *m)
{
	return gpumon_device_count(m->gpu);
}

int sysmon_devices(struct sysmon *m, struct gpumon_device *out, int max)
{
	pthread_mutex_lock(&m->lock);
	int n = m->ndevices < max ? m->ndevices : max;
	if (n > 0)
		memcpy(out, m->devices, (size_t)n * sizeof *out);
	pthread_mutex_unlock(&m->lock);
	return n;
}

uint64_t sysmon_gpu_memory(struct sysmon *m)
{
	pthread_mutex_lock(&m->lock);
	uint64_t bytes = m->gpu_memory;
	pthread_mutex_unlock(&m->lock);
	return bytes;
}

char *sysmon_json(struct sysmon *m)
{
	pthread_mutex_lock(&m->lock);
	char *t = tb_xstrdup(m->latest ? m->latest : "{}");
	pthread_mutex_unlock(&m->lock);
	return t;
}
