/*
 * runq_sched.c — the run queue's side of the scheduler: gather its inputs
 * (the queue in the store, the live workers, the GPU places NVML reports,
 * each user's decayed usage and quotas, the lab sessions, the clock), ask
 * sched_decide, and carry its decisions out — start runs where it says,
 * evict a run over its memory, record each waiting run's position and
 * reason in the store (and tell the feed when they change). Also the
 * device time workers use (usage per user and day, decayed for fair
 * share), the duration limit that stops a run, and the quota checks of
 * submission. The local executor and Slurm take the same decisions; for
 * Slurm the executor's capacity is one place with slurm-max-jobs slots.
 *
 * What it is not: the rules (scheduler.c, quota.c) or a worker's life
 * (runq_worker.c).
 *
 * Threads: the supervisor thread (runq_schedule, runq_account) and API
 * threads (runq_quota, runq_extend, runq_labs; runq_quota_check and
 * runq_record_need from runq_submit/resume), all with q->lock held but
 * runq_estimate, which needs none.
 */
#include "runq_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "gpumon.h"
#include "memlimit.h"
#include "store.h"
#include "sysmon.h"
#include "tb.h"

#define RUNQ_SCHED_PERIOD_MS 5000 /* a pass at least this often: usage decays, sessions begin and end */
#define RUNQ_SCHED_MAX 2048       /* queued runs one pass looks at (the oldest) */
#define RUNQ_USAGE_FLUSH_MS 10000 /* device time goes to the store this often (and when a worker ends) */
/* What a CPU run is taken to need when none is estimated, for cpu-runs = auto. */
#define RUNQ_CPU_RUN_BYTES ((int64_t)2 << 30)

/* ---- set-up --------------------------------------------------------------------- */

void runq_sched_init(struct runq *q)
{
	long cores = sysconf(_SC_NPROCESSORS_ONLN);
	int64_t total = 0, avail = 0;
	/* What all CPU runs together may hold: the machine less the margin one run is admitted against. */
	if (memlimit_machine(&total, &avail) == 0)
		q->cpu_memory = memlimit_allowance(total);
	if (q->cfg.cpu_runs != CFG_RUNS_AUTO) {
		q->cpu_slots = q->cfg.cpu_runs;
		return;
	}
	int64_t slots = cores > 0 ? cores : 1;
	if (q->cpu_memory && q->cpu_memory / RUNQ_CPU_RUN_BYTES < slots)
		slots = q->cpu_memory / RUNQ_CPU_RUN_BYTES;
	q->cpu_slots = slots > 0 ? (int)slots : 1;
	char mem[32];
	memlimit_format(q->cpu_memory, mem, sizeof mem);
	srv_log("cpu-runs auto: %d run%s at once on the CPU (%ld cores, %s of memory for runs)", q->cpu_slots,
		q->cpu_slots == 1 ? "" : "s", cores, mem);
}

/* ---- the clock ------------------------------------------------------------------- */

/* Local "YYYY-MM-DD" of now and of this week's Monday, and the offset from UTC. */
struct local_clock {
	char day[16], week[16];
	int utc_offset;
};

static void local_clock(int64_t now_ms, struct local_clock *c)
{
	time_t t = (time_t)(now_ms / 1000);
	struct tm tm;
	localtime_r(&t, &tm);
	strftime(c->day, sizeof c->day, "%Y-%m-%d", &tm);
	c->utc_offset = (int)tm.tm_gmtoff;
	time_t monday = t - (time_t)((tm.tm_wday + 6) % 7) * 86400;
	localtime_r(&monday, &tm);
	strftime(c->week, sizeof c->week, "%Y-%m-%d", &tm);
}

/* ---- users: role, quotas, use --------------------------------------------------- */

static bool is_instructor(struct runq *q, const char *user)
{
	if (!q->cfg.accounts)
		return true; /* single-user mode: the OS user, who may do everything */
	struct store_user u;
	return store_user_get(q->store, user, &u) == STORE_OK && u.instructor;
}

static void apply_stored(struct runq *q, const char *subject, struct quota_limits *l)
{
	char *text = store_quota_get(q->store, subject);
	json_t *j = text ? json_loads(text, 0, NULL) : NULL;
	struct quota_override o;
	char err[200];
	if (j && quota_override_from_json(j, &o, err, sizeof err) == 0)
		quota_apply(l, &o);
	json_decref(j);
	free(text);
}

/* The config's limits for the role, then the role's stored override, then the user's. */
static void limits_of(struct runq *q, const char *user, bool instructor, struct quota_limits *l)
{
	enum quota_role role = instructor ? QUOTA_INSTRUCTOR : QUOTA_STUDENT;
	*l = q->sched.quotas.role[role];
	char subject[STORE_NAME_MAX + 16];
	snprintf(subject, sizeof subject, "role:%s", quota_role_names[role]);
	apply_stored(q, subject, l);
	snprintf(subject, sizeof subject, "user:%s", user);
	apply_stored(q, subject, l);
}

/* Device-seconds a worker counts per second of running: its GPUs, or one CPU slot. */
static double units(const struct runq_worker *w)
{
	if (!w->need.gpu)
		return 1;
	int n = w->ngpus > 0 ? w->ngpus : w->need.ngpus;
	return n > 0 ? n : 1;
}

/* What `user` has used and holds now: the store's counts plus what live workers have not sent yet. */
static void use_of(struct runq *q, const char *user, int64_t now_ms, const struct local_clock *lc, struct quota_use *u,
		   double *gpu_decayed, double *cpu_decayed)
{
	struct store_usage su;
	store_usage_get(q->store, user, now_ms, q->sched.half_life, lc->day, lc->week, &su);
	memset(u, 0, sizeof *u);
	u->gpu_s_day = su.gpu_day;
	u->gpu_s_week = su.gpu_week;
	u->cpu_s_day = su.cpu_day;
	u->cpu_s_week = su.cpu_week;
	*gpu_decayed = su.gpu_decayed;
	*cpu_decayed = su.cpu_decayed;
	for (int i = 0; i < q->nworkers; i++) {
		const struct runq_worker *w = q->workers[i];
		if (strcmp(w->owner, user))
			continue;
		u->running++;
		double pending = w->usage_pending;
		if (w->need.gpu) {
			u->gpu_s_day += pending;
			u->gpu_s_week += pending;
			*gpu_decayed += pending;
		} else {
			u->cpu_s_day += pending;
			u->cpu_s_week += pending;
			*cpu_decayed += pending;
		}
	}
	u->queued = store_count_user_status(q->store, user, "queued");
	u->checkpoint_bytes = store_checkpoint_bytes(q->store, user);
}

int runq_quota(struct runq *q, const char *user, struct quota_limits *limits, struct quota_use *use)
{
	struct local_clock lc;
	int64_t now = srv_unix_ms();
	local_clock(now, &lc);
	double g, c;
	pthread_mutex_lock(&q->lock);
	limits_of(q, user, is_instructor(q, user), limits);
	use_of(q, user, now, &lc, use, &g, &c);
	pthread_mutex_unlock(&q->lock);
	return 0;
}

int runq_quota_check(struct runq *q, const char *owner, bool gpu, char *err, size_t errlen)
{
	struct quota_limits l;
	struct quota_use u;
	struct local_clock lc;
	int64_t now = srv_unix_ms();
	local_clock(now, &lc);
	double g, c;
	limits_of(q, owner, is_instructor(q, owner), &l);
	use_of(q, owner, now, &lc, &u, &g, &c);
	enum quota_kind which;
	return quota_check_submit(&l, &u, gpu, &which, err, errlen) == 0 ? RUNQ_OK : RUNQ_EQUOTA;
}

int64_t runq_estimate(struct runq *q, const char *spec, size_t len, const struct runq_need *need)
{
	return q->hooks.estimate ? q->hooks.estimate(q->hooks.ctx, spec, len, need->gpu) : 0;
}

void runq_record_need(struct runq *q, int64_t run, const struct runq_need *need, int64_t est_bytes)
{
	store_run_set_need(q->store, run, need->gpu ? need->ngpus : 0, need->gpu_index, est_bytes);
}

/* ---- lab sessions ---------------------------------------------------------------- */

/* The config file's sessions, then the instructor's (store setting "lab_sessions"). */
static int all_labs(struct runq *q, struct sched_lab *out, int max)
{
	int n = 0;
	for (int i = 0; i < q->sched.nlabs && n < max; i++)
		out[n++] = q->sched.labs[i];
	char *text = store_setting_get(q->store, "lab_sessions");
	json_t *arr = text ? json_loads(text, 0, NULL) : NULL;
	char err[200];
	if (arr && n < max) {
		int got = labs_list_from_json(arr, out + n, max - n, err, sizeof err);
		if (got > 0)
			n += got;
	}
	json_decref(arr);
	free(text);
	return n;
}

int runq_labs(struct runq *q, struct sched_lab *out, int max, int *active)
{
	struct local_clock lc;
	int64_t now = srv_unix_ms();
	local_clock(now, &lc);
	pthread_mutex_lock(&q->lock);
	int n = all_labs(q, out, max);
	pthread_mutex_unlock(&q->lock);
	*active = sched_lab_active(out, n, now, lc.utc_offset);
	return n;
}

/* ---- one pass ------------------------------------------------------------------------ */

/* The inputs of one pass and what they point into. */
struct pass {
	struct sched_input in;
	struct sched_device dev[RUNQ_MAX_GPUS + 1];
	int cpu_dev; /* index of the CPU in dev, or -1 */
	bool cluster;
	struct store_queued *rows; /* the queue from the store */
	int nrows;
	int *row_of; /* queued index → rows index */
	struct sched_queued *queued;
	struct sched_user *users;
	struct quota_limits *limits; /* per user */
	int nusers, cap_users;
	struct sched_running *running;
	struct sched_lab labs[LABS_MAX * 2];
	struct local_clock lc;
};

static void pass_free(struct pass *p)
{
	free(p->rows);
	free(p->row_of);
	free(p->queued);
	free(p->users);
	free(p->limits);
	free(p->running);
	free(p);
}

/* The index of `name` in p->users, added (role, limits, usage, blocks) when new. */
static int user_index(struct runq *q, struct pass *p, const char *name)
{
	for (int i = 0; i < p->nusers; i++)
		if (!strcmp(p->users[i].name, name))
			return i;
	if (p->nusers == p->cap_users) {
		p->cap_users = p->cap_users ? 2 * p->cap_users : 32;
		p->users = tb_xrealloc(p->users, (size_t)p->cap_users * sizeof *p->users);
		p->limits = tb_xrealloc(p->limits, (size_t)p->cap_users * sizeof *p->limits);
	}
	int i = p->nusers++;
	struct sched_user *u = &p->users[i];
	memset(u, 0, sizeof *u);
	srv_strlcpy(u->name, name, sizeof u->name);
	u->instructor = is_instructor(q, name);
	limits_of(q, name, u->instructor, &p->limits[i]);
	struct quota_use use;
	double g, c;
	use_of(q, name, p->in.now_ms, &p->lc, &use, &g, &c);
	u->usage[SCHED_POOL_GPU] = g;
	u->usage[SCHED_POOL_CPU] = c;
	u->usage[SCHED_POOL_CLUSTER] = g + c;
	int64_t most = p->limits[i].v[QUOTA_CONCURRENT_RUNS];
	u->max_running = most == QUOTA_NONE ? -1 : (int)most;
	quota_start_block(&p->limits[i], &use, true, u->blocked[SCHED_POOL_GPU], sizeof u->blocked[0]);
	quota_start_block(&p->limits[i], &use, false, u->blocked[SCHED_POOL_CPU], sizeof u->blocked[0]);
	/* Slurm runs of either kind share one pool: a used-up GPU quota holds it first. */
	memcpy(u->blocked[SCHED_POOL_CLUSTER],
	       u->blocked[SCHED_POOL_GPU][0] ? u->blocked[SCHED_POOL_GPU] : u->blocked[SCHED_POOL_CPU],
	       sizeof u->blocked[0]);
	return i;
}

static void gather_devices(struct runq *q, struct pass *p)
{
	struct exec_capacity cap = q->ex.kind->capacity(&q->ex, q);
	int n = 0;
	p->cpu_dev = -1;
	if (!cap.places_gpus) {
		p->cluster = true;
		p->dev[n++] = (struct sched_device){
			.pool = SCHED_POOL_CLUSTER, .label = "Slurm", .slots = cap.jobs, .free_bytes = -1};
		p->in.ndevices = n;
		return;
	}
	int ngpu = q->hooks.devices ? q->hooks.devices(q->hooks.ctx, q->devs, RUNQ_MAX_GPUS) : 0;
	if (!q->hooks.devices) {
		/* No NVML readings: the GPUs the server was told of, memory unknown (slots decide). */
		ngpu = q->cfg.gpu_count < RUNQ_MAX_GPUS ? q->cfg.gpu_count : RUNQ_MAX_GPUS;
		for (int i = 0; i < ngpu; i++) {
			memset(&q->devs[i], 0, sizeof q->devs[i]);
			snprintf(q->devs[i].label, sizeof q->devs[i].label, "GPU %d", i);
			snprintf(q->devs[i].visible, sizeof q->devs[i].visible, "%d", i);
		}
	}
	q->ndevs = ngpu;
	for (int i = 0; i < ngpu; i++) {
		const struct gpumon_device *g = &q->devs[i];
		struct sched_device *d = &p->dev[n++];
		*d = (struct sched_device){.pool = SCHED_POOL_GPU, .slots = q->cfg.gpu_runs, .free_bytes = -1};
		srv_strlcpy(d->label, g->label, sizeof d->label);
		if (g->has_memory) {
			d->total_bytes = (int64_t)g->memory_total;
			d->free_bytes = (int64_t)g->memory_free;
		}
	}
	p->cpu_dev = n;
	p->dev[n++] = (struct sched_device){.pool = SCHED_POOL_CPU,
					    .label = "the CPU",
					    .slots = q->cpu_slots,
					    .total_bytes = q->cpu_memory,
					    .free_bytes = -1};
	p->in.ndevices = n;
}

/* GPU memory worker w's process uses on its places, the most of them; -1 when NVML does not tell. */
static int64_t used_by(const struct runq *q, const struct runq_worker *w)
{
	int64_t most = -1;
	for (int k = 0; k < w->ngpus; k++) {
		int d = w->gpus[k];
		if (d < 0 || d >= q->ndevs || !q->devs[d].has_processes || !w->pid)
			continue;
		for (int i = 0; i < q->devs[d].nprocs; i++) {
			const struct gpumon_proc *pr = &q->devs[d].procs[i];
			if ((int)pr->pid == w->pid && pr->has_memory && (int64_t)pr->memory > most)
				most = (int64_t)pr->memory;
		}
	}
	return most;
}

static void gather_running(struct runq *q, struct pass *p)
{
	p->running = tb_xcalloc((size_t)(q->nworkers ? q->nworkers : 1), sizeof *p->running);
	for (int i = 0; i < q->nworkers; i++) {
		struct runq_worker *w = q->workers[i];
		struct sched_running *r = &p->running[p->in.nrunning++];
		r->id = w->run;
		r->user = user_index(q, p, w->owner);
		r->charge_bytes = w->charge_bytes;
		r->used_bytes = -1;
		if (p->cluster) {
			r->pool = SCHED_POOL_CLUSTER;
			r->ndevices = 1;
		} else if (w->need.gpu) {
			r->pool = SCHED_POOL_GPU;
			for (int k = 0; k < w->ngpus && k < SCHED_RUN_DEVICES; k++)
				r->devices[r->ndevices++] = w->gpus[k];
			r->used_bytes = used_by(q, w);
		} else {
			r->pool = SCHED_POOL_CPU;
			r->devices[r->ndevices++] = p->cpu_dev;
		}
		int64_t most = p->limits[r->user].v[QUOTA_MAX_RUN_SECONDS];
		w->limit_quota = most == QUOTA_NONE ? 0 : most;
	}
}

/* What each queued row needs, filled in (and stored) for rows queued before the scheduler knew. */
static bool row_need(struct runq *q, struct store_queued *row)
{
	if (row->need_known)
		return true;
	struct store_run_info info;
	if (store_run_info(q->store, row->id, &info) < 0)
		return false;
	struct runq_need need;
	char err[512];
	bool ok = runq_classify(info.spec, strlen(info.spec), q->cfg.gpu_count, &need, err, sizeof err) == RUNQ_OK;
	if (ok) {
		/* Rare (rows from before the scheduler), so estimated here, under the lock. */
		row->est_bytes = runq_estimate(q, info.spec, strlen(info.spec), &need);
		runq_record_need(q, row->id, &need, row->est_bytes);
		row->need_gpus = need.gpu ? need.ngpus : 0;
		row->need_index = need.gpu_index;
	} else {
		runq_start_failed(q, row->id, info.evaluate, err);
	}
	store_run_info_free(&info);
	return ok;
}

static void gather_queue(struct runq *q, struct pass *p)
{
	p->rows = tb_xcalloc(RUNQ_SCHED_MAX, sizeof *p->rows);
	int n = store_queued_runs(q->store, p->rows, RUNQ_SCHED_MAX);
	p->nrows = n > 0 ? n : 0;
	p->queued = tb_xcalloc((size_t)(p->nrows ? p->nrows : 1), sizeof *p->queued);
	p->row_of = tb_xcalloc((size_t)(p->nrows ? p->nrows : 1), sizeof *p->row_of);
	for (int i = 0; i < p->nrows; i++) {
		struct store_queued *row = &p->rows[i];
		/* A resumed run whose old worker is still exiting starts once it is reaped. */
		if (runq_find_worker(q, row->id) || !row_need(q, row))
			continue;
		struct sched_queued *s = &p->queued[p->in.nqueued];
		p->row_of[p->in.nqueued++] = i;
		s->id = row->id;
		s->user = user_index(q, p, row->owner);
		s->queued_ms = row->queued_ms;
		s->est_bytes = row->est_bytes;
		s->ndevices = 1;
		s->pinned = -1;
		if (p->cluster) {
			s->pool = SCHED_POOL_CLUSTER;
		} else if (row->need_gpus > 0) {
			s->pool = SCHED_POOL_GPU;
			s->ndevices = row->need_index >= 0 ? 1 : row->need_gpus;
			s->pinned = row->need_index;
		} else {
			s->pool = SCHED_POOL_CPU;
		}
	}
}

/* Start what the scheduler chose, as it placed it. */
static void start_one(struct runq *q, struct pass *p, const struct sched_start *st)
{
	struct store_run_info info;
	if (store_run_info(q->store, st->id, &info) < 0)
		return;
	struct runq_need need;
	struct runq_place place = {0};
	char err[512];
	if (runq_classify(info.spec, strlen(info.spec), q->cfg.gpu_count, &need, err, sizeof err) != RUNQ_OK) {
		runq_start_failed(q, st->id, info.evaluate, err);
		goto out;
	}
	place.charge_bytes = st->charge_bytes;
	if (!p->cluster && need.gpu) {
		size_t off = 0;
		for (int k = 0; k < st->ndevices && k < RUNQ_MAX_GPUS; k++) {
			int d = st->devices[k];
			place.gpus[place.ngpus++] = d;
			if (need.gpu_index < 0 && off < sizeof place.visible)
				off += (size_t)snprintf(place.visible + off, sizeof place.visible - off, "%s%s",
							k ? "," : "", d < q->ndevs ? q->devs[d].visible : "");
		}
	}
	if (q->hooks.admit && q->hooks.admit(q->hooks.ctx, info.owner, info.spec, err, sizeof err) < 0)
		runq_start_failed(q, st->id, info.evaluate, err);
	else if (runq_spawn(q, st->id, &need, &place, info.spec, info.resume, info.evaluate, info.owner, err,
			    sizeof err) < 0)
		runq_start_failed(q, st->id, info.evaluate, err);
out:
	store_run_info_free(&info);
}

static void evict(struct runq *q, const struct sched_evict *e)
{
	struct runq_worker *w = runq_find_worker(q, e->id);
	if (!w || w->stop_requested || w->got_final)
		return;
	w->evicted = true;
	srv_strlcpy(w->fail_reason, e->reason, sizeof w->fail_reason);
	srv_log("run r%lld: %s", (long long)e->id, e->reason);
	runq_worker_terminate(q, w);
}

/* Record where each waiting run stands; tell the feed about those that moved. */
static void record_waits(struct runq *q, struct pass *p, const struct sched_output *out)
{
	struct store_queue_place *changed = tb_xcalloc((size_t)(out->nwaits ? out->nwaits : 1), sizeof *changed);
	size_t n = 0;
	int k = 0;
	for (int i = 0; i < out->nwaits; i++) {
		/* The waits come in the order of the input's queue. */
		const struct sched_wait *w = &out->waits[i];
		while (k < p->in.nqueued && p->queued[k].id != w->id)
			k++;
		const struct store_queued *row = k < p->in.nqueued ? &p->rows[p->row_of[k]] : NULL;
		if (row && row->position == w->position && !strcmp(row->reason, w->reason))
			continue;
		changed[n++] = (struct store_queue_place){.id = w->id, .position = w->position, .reason = w->reason};
	}
	if (n && store_set_queue(q->store, changed, n) == 0 && q->hooks.run_changed)
		for (size_t i = 0; i < n; i++)
			q->hooks.run_changed(q->hooks.ctx, changed[i].id);
	free(changed);
}

void runq_schedule(struct runq *q, int64_t now_ms)
{
	if (q->stopping || q->disk_full)
		return;
	if (!q->sched_dirty && now_ms < q->sched_next_ms)
		return;
	q->sched_dirty = false;
	q->sched_next_ms = now_ms + RUNQ_SCHED_PERIOD_MS;
	struct pass *p = tb_xcalloc(1, sizeof *p);
	p->in.now_ms = srv_unix_ms();
	local_clock(p->in.now_ms, &p->lc);
	p->in.utc_offset_s = p->lc.utc_offset;
	p->in.policy = (struct sched_policy){.fifo = q->sched.fifo,
					     .instructors_first = q->sched.instructors_first,
					     .margin_bytes = q->sched.gpu_margin,
					     .backfill_wait_ms = (int64_t)q->sched.backfill_wait * 1000};
	gather_devices(q, p);
	gather_queue(q, p);
	gather_running(q, p);
	p->in.nlabs = all_labs(q, p->labs, (int)TB_ARRAY_LEN(p->labs));
	p->in.devices = p->dev;
	p->in.users = p->users;
	p->in.nusers = p->nusers;
	p->in.queued = p->queued;
	p->in.running = p->running;
	p->in.labs = p->labs;
	struct sched_output out;
	sched_decide(&p->in, &out);
	for (int i = 0; i < out.nevicts; i++)
		evict(q, &out.evicts[i]);
	for (int i = 0; i < out.nstarts && q->nworkers < RUNQ_MAX_WORKERS; i++) {
		start_one(q, p, &out.starts[i]);
		struct runq_worker *w = runq_find_worker(q, out.starts[i].id);
		for (int k = 0; w && k < p->in.nqueued; k++)
			if (p->queued[k].id == w->run) {
				int64_t most = p->limits[p->queued[k].user].v[QUOTA_MAX_RUN_SECONDS];
				w->limit_quota = most == QUOTA_NONE ? 0 : most;
			}
	}
	record_waits(q, p, &out);
	sched_output_free(&out);
	pass_free(p);
}

/* ---- device time and duration limits ------------------------------------------------ */

/* Is w's worker computing now? A Slurm job waiting in Slurm's own queue is not. */
static bool counts(const struct runq *q, const struct runq_worker *w)
{
	if (w->deleting)
		return false;
	if (w->job[0] && !q->ex.kind->capacity(&q->ex, q).places_gpus)
		return !strcmp(w->job_state, "RUNNING") || !strcmp(w->job_state, "COMPLETING");
	return true;
}

/* Count w's device time up to now_ms. */
static void count(struct runq *q, struct runq_worker *w, int64_t now_ms)
{
	if (now_ms > w->acct_ms && counts(q, w)) {
		double dt = (double)(now_ms - w->acct_ms) / 1000.0;
		w->usage_pending += dt * units(w);
		w->ran_s += dt;
	}
	if (now_ms > w->acct_ms)
		w->acct_ms = now_ms;
}

void runq_account_flush(struct runq *q, struct runq_worker *w, int64_t now_ms)
{
	count(q, w, now_ms);
	w->usage_flushed_ms = now_ms;
	if (w->usage_pending <= 0 || w->deleting)
		return;
	struct local_clock lc;
	int64_t now = srv_unix_ms();
	local_clock(now, &lc);
	if (store_usage_add(q->store, w->owner, w->run, w->need.gpu, w->usage_pending, now, lc.day,
			    q->sched.half_life) == 0)
		w->usage_pending = 0;
}

void runq_account(struct runq *q, int64_t now_ms)
{
	for (int i = 0; i < q->nworkers; i++) {
		struct runq_worker *w = q->workers[i];
		count(q, w, now_ms);
		if (now_ms - w->usage_flushed_ms >= RUNQ_USAGE_FLUSH_MS)
			runq_account_flush(q, w, now_ms);
		int64_t limit = w->limit_own > 0 ? w->limit_own : w->limit_quota;
		if (limit > 0 && w->ran_s >= (double)limit && !w->stop_requested && !w->got_final && !w->deleting) {
			char words[64];
			quota_fmt_duration(limit, words, sizeof words);
			snprintf(w->limit_reason, sizeof w->limit_reason,
				 "stopped at its duration limit of %s%s; resume it to go on from its last checkpoint",
				 words, w->limit_own > 0 ? " (as extended)" : " (an instructor can extend it)");
			srv_log("run r%lld: duration limit of %s reached: checkpoint and stop", (long long)w->run,
				words);
			runq_worker_terminate(q, w);
		}
	}
}

int runq_extend(struct runq *q, int64_t id, int64_t seconds, int64_t *limit, char *err, size_t errlen)
{
	char owner[STORE_NAME_MAX];
	pthread_mutex_lock(&q->lock);
	int rc = RUNQ_OK;
	if (!store_run_owner(q->store, id, owner, sizeof owner)) {
		snprintf(err, errlen, "no run r%lld", (long long)id);
		rc = RUNQ_ENOENT;
		goto out;
	}
	int64_t base = store_run_duration_limit(q->store, id);
	if (base <= 0) {
		struct quota_limits l;
		limits_of(q, owner, is_instructor(q, owner), &l);
		base = l.v[QUOTA_MAX_RUN_SECONDS] == QUOTA_NONE ? 0 : l.v[QUOTA_MAX_RUN_SECONDS];
	}
	if (base <= 0) {
		snprintf(err, errlen, "run r%lld has no duration limit to extend", (long long)id);
		rc = RUNQ_ESTATE;
		goto out;
	}
	*limit = base + seconds;
	if (store_run_set_duration_limit(q->store, id, *limit) < 0) {
		snprintf(err, errlen, "cannot record the new limit of r%lld", (long long)id);
		rc = RUNQ_EIO;
		goto out;
	}
	struct runq_worker *w = runq_find_worker(q, id);
	if (w)
		w->limit_own = *limit;
	char words[64];
	quota_fmt_duration(*limit, words, sizeof words);
	srv_log("run r%lld: duration limit extended to %s", (long long)id, words);
out:
	pthread_mutex_unlock(&q->lock);
	if (rc == RUNQ_OK && q->hooks.run_changed)
		q->hooks.run_changed(q->hooks.ctx, id);
	return rc;
}
