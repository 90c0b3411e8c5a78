/*
 * test_sched.c — the pure scheduler (server/scheduler.c), quotas
 * (server/quota.c) and lab sessions (server/labs.c) with a simulated clock
 * and emulated GPU memory: fair share against first come first served,
 * packing by memory, MIG instances as devices, a run over its estimate
 * evicted before its neighbours run out, quotas at every boundary, lab
 * sessions at their edges, instructors first, Slurm's hand-over limit and
 * the words of every reason.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "server/labs.h"
#include "server/quota.h"
#include "server/scheduler.h"

#define GiB ((int64_t)1 << 30)
#define MiB ((int64_t)1 << 20)
/* Tuesday 2026-12-08 12:00:00 UTC, in ms. */
#define TUE_NOON_MS (1796731200LL * 1000)

/* A small world the tests edit, then hand to sched_decide. */
struct world {
	struct sched_device dev[8];
	struct sched_user users[16];
	struct sched_queued q[256];
	struct sched_running run[64];
	struct sched_lab labs[4];
	struct sched_input in;
	struct sched_output out;
	int64_t next_id;
};

static struct world *world_new(void)
{
	struct world *w = calloc(1, sizeof *w);
	w->in.now_ms = TUE_NOON_MS;
	w->in.devices = w->dev;
	w->in.users = w->users;
	w->in.queued = w->q;
	w->in.running = w->run;
	w->in.labs = w->labs;
	w->next_id = 1;
	return w;
}

static void world_free(struct world *w)
{
	sched_output_free(&w->out);
	free(w);
}

static int add_device(struct world *w, enum sched_pool pool, const char *label, int slots, int64_t total)
{
	struct sched_device *d = &w->dev[w->in.ndevices];
	d->pool = pool;
	snprintf(d->label, sizeof d->label, "%s", label);
	d->slots = slots;
	d->total_bytes = total;
	d->free_bytes = -1;
	return w->in.ndevices++;
}

static int add_user(struct world *w, const char *name, bool instructor)
{
	struct sched_user *u = &w->users[w->in.nusers];
	memset(u, 0, sizeof *u);
	snprintf(u->name, sizeof u->name, "%s", name);
	u->instructor = instructor;
	u->max_running = -1;
	return w->in.nusers++;
}

static int64_t queue(struct world *w, int user, enum sched_pool pool, int64_t est)
{
	struct sched_queued *q = &w->q[w->in.nqueued++];
	q->id = w->next_id++;
	q->user = user;
	q->queued_ms = w->in.now_ms;
	q->pool = pool;
	q->ndevices = 1;
	q->pinned = -1;
	q->est_bytes = est;
	w->in.now_ms += 1; /* each queued a millisecond after the one before */
	return q->id;
}

static void decide(struct world *w)
{
	sched_output_free(&w->out);
	sched_decide(&w->in, &w->out);
}

static bool started(const struct world *w, int64_t id)
{
	for (int i = 0; i < w->out.nstarts; i++)
		if (w->out.starts[i].id == id)
			return true;
	return false;
}

static const struct sched_wait *waiting(const struct world *w, int64_t id)
{
	for (int i = 0; i < w->out.nwaits; i++)
		if (w->out.waits[i].id == id)
			return &w->out.waits[i];
	return NULL;
}

/* Move what decide started from the queue to the running list. */
static void apply(struct world *w, int64_t used)
{
	for (int i = 0; i < w->out.nstarts; i++) {
		const struct sched_start *st = &w->out.starts[i];
		for (int k = 0; k < w->in.nqueued; k++) {
			if (w->q[k].id != st->id)
				continue;
			struct sched_running *r = &w->run[w->in.nrunning++];
			memset(r, 0, sizeof *r);
			r->id = st->id;
			r->user = w->q[k].user;
			r->pool = w->q[k].pool;
			r->ndevices = st->ndevices;
			memcpy(r->devices, st->devices, sizeof r->devices);
			r->charge_bytes = st->charge_bytes;
			r->used_bytes = used;
			w->q[k] = w->q[--w->in.nqueued];
			break;
		}
	}
}

static void finish(struct world *w, int64_t id)
{
	for (int i = 0; i < w->in.nrunning; i++)
		if (w->run[i].id == id) {
			w->run[i] = w->run[--w->in.nrunning];
			return;
		}
	fail_msg("r%lld is not running", (long long)id);
}

/* ---- fairness --------------------------------------------------------------------- */

/*
 * One CPU slot, runs of 60 s. Alice queues 10 runs, then Bob 1. Returns
 * how many of Alice's runs started before Bob's (usage decays with a 1 h
 * half-life and grows by what each run used, as runq records it).
 */
static int alices_before_bobs(bool fifo, double bob_usage)
{
	struct world *w = world_new();
	w->in.policy.fifo = fifo;
	add_device(w, SCHED_POOL_CPU, "the CPU", 1, 0);
	int alice = add_user(w, "alice", false), bob = add_user(w, "bob", false);
	w->users[bob].usage[SCHED_POOL_CPU] = bob_usage;
	for (int i = 0; i < 10; i++)
		queue(w, alice, SCHED_POOL_CPU, 0);
	int64_t bobs = queue(w, bob, SCHED_POOL_CPU, 0);
	int before = 0;
	for (int step = 0; step < 20; step++) {
		decide(w);
		assert_int_equal(w->out.nstarts, 1);
		int64_t id = w->out.starts[0].id;
		if (id == bobs)
			break;
		before++;
		apply(w, -1);
		/* The run trains 60 s; usage then decays and the minute is added. */
		w->in.now_ms += 60000;
		for (int u = 0; u < 2; u++)
			w->users[u].usage[SCHED_POOL_CPU] = sched_decay(w->users[u].usage[SCHED_POOL_CPU], 60, 3600);
		w->users[alice].usage[SCHED_POOL_CPU] += 60;
		finish(w, id);
	}
	world_free(w);
	return before;
}

static void fair_share_does_not_starve_one_run(void **state)
{
	(void)state;
	/* Equal (no) usage: Alice's first run came first, then Bob's. */
	assert_int_equal(alices_before_bobs(false, 0), 1);
	/*
	 * Bob used 5 min just before: Alice's runs go until her usage has
	 * caught up with his (5 × 60 s against his 300 s decayed to 283 s),
	 * then his — not after all ten.
	 */
	assert_int_equal(alices_before_bobs(false, 300), 5);
	/* First come, first served: all ten of Alice's first. */
	assert_int_equal(alices_before_bobs(true, 0), 10);
}

static void positions_interleave_users(void **state)
{
	(void)state;
	struct world *w = world_new();
	add_device(w, SCHED_POOL_CPU, "the CPU", 1, 0);
	int alice = add_user(w, "alice", false), bob = add_user(w, "bob", false), carol = add_user(w, "carol", false);
	w->users[carol].usage[SCHED_POOL_CPU] = 100;
	int64_t a[4], b1, c1;
	for (int i = 0; i < 4; i++)
		a[i] = queue(w, alice, SCHED_POOL_CPU, 0);
	b1 = queue(w, bob, SCHED_POOL_CPU, 0);
	c1 = queue(w, carol, SCHED_POOL_CPU, 0);
	decide(w);
	assert_true(started(w, a[0]));
	/* a1 was charged 300 s: Carol (100 s) and Bob (0) go before Alice's second. */
	assert_int_equal(waiting(w, b1)->position, 1);
	assert_int_equal(waiting(w, c1)->position, 2);
	assert_int_equal(waiting(w, a[1])->position, 3);
	assert_int_equal(waiting(w, a[2])->position, 4);
	assert_string_equal(waiting(w, b1)->reason, "next in line; the CPU runs 1 of 1 at once (r1)");
	assert_string_equal(waiting(w, a[1])->reason, "2 ahead of you; the CPU runs 1 of 1 at once (r1)");
	assert_string_equal(waiting(w, a[2])->reason, "3 ahead of you (yours start in the order you queued them)");
	/* Two slots free at once go to two users. */
	w->dev[0].slots = 3;
	decide(w);
	assert_true(started(w, a[0]) && started(w, b1) && started(w, c1));
	assert_false(started(w, a[1]));
	world_free(w);
}

static void fifo_order_and_backfill(void **state)
{
	(void)state;
	struct world *w = world_new();
	w->in.policy.fifo = true;
	int g = add_device(w, SCHED_POOL_GPU, "GPU 0", 4, 16 * GiB);
	int alice = add_user(w, "alice", false), bob = add_user(w, "bob", false);
	int64_t big = queue(w, alice, SCHED_POOL_GPU, 20 * GiB);
	int64_t small = queue(w, bob, SCHED_POOL_GPU, 2 * GiB);
	decide(w);
	/* The run that cannot fit lets a later one that does pass it. */
	assert_false(started(w, big));
	assert_true(started(w, small));
	(void)g;
	assert_string_equal(waiting(w, big)->reason,
			    "next in line; GPU 0 shared by r2, 14.0 GiB free, yours needs 20.0 GiB");
	world_free(w);
}

static void instructors_first(void **state)
{
	(void)state;
	struct world *w = world_new();
	add_device(w, SCHED_POOL_CPU, "the CPU", 1, 0);
	int s = add_user(w, "sam", false), prof = add_user(w, "prof", true);
	w->users[prof].usage[SCHED_POOL_CPU] = 5000;
	int64_t sams = queue(w, s, SCHED_POOL_CPU, 0);
	int64_t profs = queue(w, prof, SCHED_POOL_CPU, 0);
	decide(w);
	assert_true(started(w, sams)); /* usage decides by default */
	w->in.policy.instructors_first = true;
	decide(w);
	assert_true(started(w, profs));
	assert_int_equal(waiting(w, sams)->position, 1);
	world_free(w);
}

/* ---- packing -------------------------------------------------------------------- */

static void packs_by_memory(void **state)
{
	(void)state;
	struct world *w = world_new();
	w->in.policy.margin_bytes = 512 * MiB;
	add_device(w, SCHED_POOL_GPU, "GPU 0", 8, 16 * GiB);
	int u = add_user(w, "alice", false), v = add_user(w, "bob", false);
	int64_t r[4];
	for (int i = 0; i < 4; i++)
		r[i] = queue(w, i % 2 ? v : u, SCHED_POOL_GPU, 5 * GiB);
	decide(w);
	/* 3 × 5 GiB + 0.5 GiB margin fit 16 GiB; a fourth does not. */
	assert_true(started(w, r[0]) && started(w, r[1]) && started(w, r[2]));
	assert_false(started(w, r[3]));
	assert_int_equal(w->out.starts[0].charge_bytes, 5 * GiB);
	assert_string_equal(waiting(w, r[3])->reason,
			    "next in line; GPU 0 shared by r1, r2 and r3, 512 MiB free, yours needs 5.0 GiB");
	apply(w, 5 * GiB);
	finish(w, r[2]);
	/*
	 * Two runs hold 5 GiB each; another process took 4 GiB, so NVML says
	 * 2 GiB are free where the plan has 5.5 GiB: what is measured counts
	 * when it is the smaller. A 3 GiB run waits, a 1 GiB run fits.
	 */
	w->dev[0].free_bytes = 16 * GiB - 10 * GiB - 4 * GiB;
	w->in.nqueued = 0;
	int64_t three = queue(w, u, SCHED_POOL_GPU, 3 * GiB), one = queue(w, v, SCHED_POOL_GPU, 1 * GiB);
	decide(w);
	assert_false(started(w, three));
	assert_true(started(w, one));
	assert_string_equal(waiting(w, three)->reason,
			    "next in line; GPU 0 shared by r1, r2 and r6, 512 MiB free, yours needs 3.0 GiB");
	world_free(w);
}

static void no_estimate_takes_a_share(void **state)
{
	(void)state;
	struct world *w = world_new();
	w->in.policy.margin_bytes = 512 * MiB;
	int g = add_device(w, SCHED_POOL_GPU, "GPU 0", 2, 16 * GiB);
	/* Another process holds 1 GiB: runs without an estimate still go by slots, as --gpu-runs did. */
	w->dev[g].free_bytes = 15 * GiB;
	/* The CPU: its memory known, its slots what count without estimates. */
	add_device(w, SCHED_POOL_CPU, "the CPU", 2, 7 * GiB);
	int u = add_user(w, "alice", false);
	int64_t a = queue(w, u, SCHED_POOL_GPU, 0), b = queue(w, u, SCHED_POOL_GPU, 0),
		c = queue(w, u, SCHED_POOL_GPU, 0);
	int64_t x = queue(w, u, SCHED_POOL_CPU, 0), y = queue(w, u, SCHED_POOL_CPU, 0),
		z = queue(w, u, SCHED_POOL_CPU, 0);
	decide(w);
	assert_true(started(w, a) && started(w, b));
	assert_int_equal(w->out.starts[0].charge_bytes, (16 * GiB - 512 * MiB) / 2);
	assert_string_equal(waiting(w, c)->reason, "next in line; GPU 0 runs 2 of 2 at once (r1 and r2)");
	assert_true(started(w, x) && started(w, y));
	assert_false(started(w, z));
	assert_string_equal(waiting(w, z)->reason, "next in line; the CPU runs 2 of 2 at once (r4 and r5)");
	/* A third slot, but the two shares took the memory: a run with an estimate of 1 GiB does not fit. */
	apply(w, -1);
	w->dev[g].slots = 3;
	int v = add_user(w, "bob", false);
	int64_t est = queue(w, v, SCHED_POOL_GPU, 1 * GiB);
	decide(w);
	assert_false(started(w, est));
	assert_non_null(strstr(waiting(w, est)->reason, "GPU 0 shared by r1 and r2"));
	world_free(w);
}

static void mig_instances_and_several_gpus(void **state)
{
	(void)state;
	struct world *w = world_new();
	/* One GPU cut into two MIG instances of 10 GiB, and a whole second GPU. */
	int m0 = add_device(w, SCHED_POOL_GPU, "GPU 0 (MIG 0)", 4, 10 * GiB);
	int m1 = add_device(w, SCHED_POOL_GPU, "GPU 0 (MIG 1)", 4, 10 * GiB);
	int g1 = add_device(w, SCHED_POOL_GPU, "GPU 1", 4, 80 * GiB);
	int u = add_user(w, "alice", false), v = add_user(w, "bob", false);
	int64_t x = queue(w, u, SCHED_POOL_GPU, 6 * GiB), y = queue(w, v, SCHED_POOL_GPU, 6 * GiB);
	int64_t z = queue(w, u, SCHED_POOL_GPU, 6 * GiB);
	decide(w);
	/* Spread over the least loaded devices: three runs, three devices. */
	assert_int_equal(w->out.nstarts, 3);
	bool seen[3] = {0};
	for (int i = 0; i < 3; i++)
		seen[w->out.starts[i].devices[0]] = true;
	assert_true(seen[m0] && seen[m1] && seen[g1]);
	apply(w, 6 * GiB);
	/* A run pinned to MIG 1 (full) waits, and says which device. */
	int64_t pinned = queue(w, v, SCHED_POOL_GPU, 6 * GiB);
	w->q[w->in.nqueued - 1].pinned = m1;
	decide(w);
	assert_false(started(w, pinned));
	assert_non_null(strstr(waiting(w, pinned)->reason, "GPU 0 (MIG 1) shared by"));
	/* Two GPUs at once: only whole devices with room each. */
	int64_t pair = queue(w, u, SCHED_POOL_GPU, 50 * GiB);
	w->q[w->in.nqueued - 1].ndevices = 2;
	decide(w);
	assert_false(started(w, pair));
	assert_non_null(strstr(waiting(w, pair)->reason, "it needs 2 GPUs with 50.0 GiB free each"));
	(void)x, (void)y, (void)z;
	world_free(w);
}

/*
 * Emulated GPU memory: 16 GiB, three runs placed with 5 GiB each. One of
 * them grows 1 GiB a second past its estimate; the others hold 5 GiB. A
 * device that cannot give an allocation fails whoever asks for it (as
 * CUDA does). The scheduler sees the measured use each second: the run
 * over its estimate is evicted before the device is full, and its
 * neighbours never fail.
 */
static void over_estimate_spares_neighbours(void **state)
{
	(void)state;
	struct world *w = world_new();
	w->in.policy.margin_bytes = 512 * MiB;
	add_device(w, SCHED_POOL_GPU, "GPU 0", 8, 16 * GiB);
	int u = add_user(w, "alice", false), v = add_user(w, "bob", false);
	int64_t a = queue(w, u, SCHED_POOL_GPU, 5 * GiB), b = queue(w, v, SCHED_POOL_GPU, 5 * GiB);
	int64_t greedy = queue(w, v, SCHED_POOL_GPU, 5 * GiB);
	decide(w);
	assert_int_equal(w->out.nstarts, 3);
	apply(w, 5 * GiB);
	int64_t used[3] = {5 * GiB, 5 * GiB, 5 * GiB};
	bool oom[3] = {false}, evicted = false;
	for (int t = 0; t < 10 && !evicted; t++) {
		/* The greedy run asks for one more GiB; the device gives it only if it has it. */
		if (used[0] + used[1] + used[2] + GiB <= 16 * GiB)
			used[2] += GiB;
		else
			oom[2] = true;
		for (int i = 0; i < w->in.nrunning; i++)
			w->run[i].used_bytes = used[w->run[i].id == a ? 0 : w->run[i].id == b ? 1 : 2];
		w->dev[0].free_bytes = 16 * GiB - used[0] - used[1] - used[2];
		decide(w);
		for (int i = 0; i < w->out.nevicts; i++) {
			assert_int_equal(w->out.evicts[i].id, greedy);
			assert_string_equal(
				w->out.evicts[i].reason,
				"it used 6.0 GiB of GPU 0's memory, more than the 5.0 GiB it was placed with "
				"(plus a 512 MiB margin); stopped so that r1 and r2, sharing GPU 0, keep their memory");
			evicted = true;
		}
	}
	assert_true(evicted);
	assert_false(oom[0] || oom[1] || oom[2]);
	/* Alone on its device a run may use what it likes: nobody else is there to hurt. */
	finish(w, a);
	finish(w, b);
	w->run[0].used_bytes = 12 * GiB;
	decide(w);
	assert_int_equal(w->out.nevicts, 0);
	world_free(w);
}

static void cluster_hands_over_at_most_its_jobs(void **state)
{
	(void)state;
	struct world *w = world_new();
	add_device(w, SCHED_POOL_CLUSTER, "Slurm", 2, 0);
	int u = add_user(w, "alice", false), v = add_user(w, "bob", false);
	int64_t r1 = queue(w, u, SCHED_POOL_CLUSTER, 0), r2 = queue(w, u, SCHED_POOL_CLUSTER, 0);
	int64_t r3 = queue(w, v, SCHED_POOL_CLUSTER, 0);
	decide(w);
	assert_int_equal(w->out.nstarts, 2);
	assert_true(started(w, r1) && started(w, r3)); /* fair share across users here too */
	assert_string_equal(waiting(w, r2)->reason, "next in line; Slurm runs 2 of 2 at once (r1 and r3)");
	world_free(w);
}

static void backfill_wait_lets_a_big_run_drain(void **state)
{
	(void)state;
	struct world *w = world_new();
	w->in.policy.backfill_wait_ms = 600000;
	add_device(w, SCHED_POOL_GPU, "GPU 0", 8, 16 * GiB);
	int u = add_user(w, "alice", false), v = add_user(w, "bob", false);
	int64_t busy = queue(w, u, SCHED_POOL_GPU, 10 * GiB);
	decide(w);
	apply(w, 10 * GiB);
	int64_t big = queue(w, v, SCHED_POOL_GPU, 12 * GiB);
	int64_t small = queue(w, u, SCHED_POOL_GPU, 2 * GiB);
	decide(w);
	assert_true(started(w, small)); /* young: small runs may pass it */
	apply(w, 2 * GiB);
	w->in.now_ms += 600000;
	int64_t small2 = queue(w, u, SCHED_POOL_GPU, 1 * GiB);
	decide(w);
	assert_false(started(w, small2)); /* waited 10 min: the GPU drains for it */
	assert_non_null(strstr(waiting(w, small2)->reason, "r2 has waited 10 min for room and starts first"));
	(void)busy, (void)big;
	world_free(w);
}

/* ---- quotas -------------------------------------------------------------------------- */

static void concurrent_runs_quota(void **state)
{
	(void)state;
	struct world *w = world_new();
	add_device(w, SCHED_POOL_CPU, "the CPU", 8, 0);
	int u = add_user(w, "alice", false);
	w->users[u].max_running = 2;
	int64_t r1 = queue(w, u, SCHED_POOL_CPU, 0), r2 = queue(w, u, SCHED_POOL_CPU, 0);
	int64_t r3 = queue(w, u, SCHED_POOL_CPU, 0);
	decide(w);
	/* At the limit (2 of 2) the third waits; one below it (1 running) it would start. */
	assert_true(started(w, r1) && started(w, r2));
	assert_false(started(w, r3));
	assert_string_equal(waiting(w, r3)->reason, "your 2 runs at once are the limit (r1 and r2 are running)");
	apply(w, -1);
	finish(w, r1);
	decide(w);
	assert_true(started(w, r3));
	w->users[u].max_running = 0;
	decide(w);
	assert_string_equal(waiting(w, r3)->reason, "your quota allows no runs at once");
	world_free(w);
}

static void quota_submit_boundaries(void **state)
{
	(void)state;
	struct quota_limits l;
	quota_limits_none(&l);
	struct quota_use u = {0};
	enum quota_kind which = QUOTA_NKINDS;
	char msg[300];
	/* No limits: anything goes. */
	u.queued = 1000;
	u.gpu_s_day = 1e9;
	assert_int_equal(quota_check_submit(&l, &u, true, &which, msg, sizeof msg), 0);
	memset(&u, 0, sizeof u);
	l.v[QUOTA_QUEUED_RUNS] = 10;
	u.queued = 9;
	assert_int_equal(quota_check_submit(&l, &u, false, &which, msg, sizeof msg), 0);
	u.queued = 10;
	assert_int_equal(quota_check_submit(&l, &u, false, &which, msg, sizeof msg), -1);
	assert_int_equal(which, QUOTA_QUEUED_RUNS);
	assert_string_equal(
		msg,
		"quota queued runs: you have 10 runs waiting, the limit is 10 (stop one, or wait until one starts)");
	l.v[QUOTA_QUEUED_RUNS] = 0;
	u.queued = 0;
	assert_int_equal(quota_check_submit(&l, &u, false, &which, msg, sizeof msg), -1);
	l.v[QUOTA_QUEUED_RUNS] = QUOTA_NONE;
	/* GPU minutes per day: 119.98 of 120 may queue, 120.0 may not; CPU runs are not counted against it. */
	l.v[QUOTA_GPU_MINUTES_DAY] = 120;
	u.gpu_s_day = 120 * 60 - 1;
	assert_int_equal(quota_check_submit(&l, &u, true, &which, msg, sizeof msg), 0);
	u.gpu_s_day = 120 * 60;
	assert_int_equal(quota_check_submit(&l, &u, true, &which, msg, sizeof msg), -1);
	assert_int_equal(which, QUOTA_GPU_MINUTES_DAY);
	assert_string_equal(
		msg,
		"quota GPU minutes per day: you have used 120.0 of your 120 GPU minutes today (it resets at midnight)");
	assert_int_equal(quota_check_submit(&l, &u, false, &which, msg, sizeof msg), 0);
	char block[200];
	quota_start_block(&l, &u, true, block, sizeof block);
	assert_string_equal(block, "your GPU minutes for today are used up (120.0 of 120); it starts after midnight");
	quota_start_block(&l, &u, false, block, sizeof block);
	assert_string_equal(block, "");
	u.gpu_s_day = 0;
	/* The week's CPU minutes. */
	l.v[QUOTA_CPU_MINUTES_WEEK] = 600;
	u.cpu_s_week = 600 * 60 - 0.5;
	assert_int_equal(quota_check_submit(&l, &u, false, &which, msg, sizeof msg), 0);
	u.cpu_s_week = 600 * 60;
	assert_int_equal(quota_check_submit(&l, &u, false, &which, msg, sizeof msg), -1);
	assert_int_equal(which, QUOTA_CPU_MINUTES_WEEK);
	assert_non_null(strstr(msg, "600.0 of your 600 CPU minutes this week (it resets on Monday at 00:00)"));
	u.cpu_s_week = 0;
	/* Checkpoint disk: at the limit is over it. */
	l.v[QUOTA_CHECKPOINT_BYTES] = 5 * GiB;
	u.checkpoint_bytes = 5 * GiB - 1;
	assert_int_equal(quota_check_submit(&l, &u, true, &which, msg, sizeof msg), 0);
	u.checkpoint_bytes = 5 * GiB;
	assert_int_equal(quota_check_submit(&l, &u, true, &which, msg, sizeof msg), -1);
	assert_int_equal(which, QUOTA_CHECKPOINT_BYTES);
	assert_string_equal(
		msg,
		"quota checkpoint disk: your runs' checkpoints take 5.0 GiB, the limit is 5.0 GiB (delete runs you no longer need)");
}

static void quota_config_and_overrides(void **state)
{
	(void)state;
	struct quota_config c;
	quota_config_init(&c);
	char err[300];
	assert_int_equal(quota_cfg_set(&c, "port", "1", err, sizeof err), 0);
	assert_int_equal(quota_cfg_set(&c, "quota-student-gpu-minutes-per-day", "120", err, sizeof err), 1);
	assert_int_equal(quota_cfg_set(&c, "quota-student-max-run-seconds", "1h30m", err, sizeof err), 1);
	assert_int_equal(quota_cfg_set(&c, "quota-instructor-checkpoint-bytes", "5G", err, sizeof err), 1);
	assert_int_equal(quota_cfg_set(&c, "quota-student-concurrent-runs", "none", err, sizeof err), 1);
	assert_int_equal(c.role[QUOTA_STUDENT].v[QUOTA_GPU_MINUTES_DAY], 120);
	assert_int_equal(c.role[QUOTA_STUDENT].v[QUOTA_MAX_RUN_SECONDS], 5400);
	assert_int_equal(c.role[QUOTA_INSTRUCTOR].v[QUOTA_CHECKPOINT_BYTES], 5 * GiB);
	assert_int_equal(c.role[QUOTA_STUDENT].v[QUOTA_CONCURRENT_RUNS], QUOTA_NONE);
	assert_int_equal(quota_cfg_set(&c, "quota-student-gpu-minutes-per-day", "-3", err, sizeof err), -1);
	assert_non_null(strstr(err, "expected a number of minutes or none"));
	assert_int_equal(quota_cfg_set(&c, "quota-teacher-queued-runs", "3", err, sizeof err), -1);
	assert_int_equal(quota_cfg_set(&c, "quota-student-gpu-hours", "3", err, sizeof err), -1);
	/* An override sets some kinds (null: no limit there) and leaves the rest to the role. */
	json_t *j = json_pack("{s:i, s:n}", "concurrent_runs", 3, "gpu_minutes_per_day");
	struct quota_override o;
	assert_int_equal(quota_override_from_json(j, &o, err, sizeof err), 0);
	json_decref(j);
	struct quota_limits l = c.role[QUOTA_STUDENT];
	quota_apply(&l, &o);
	assert_int_equal(l.v[QUOTA_CONCURRENT_RUNS], 3);
	assert_int_equal(l.v[QUOTA_GPU_MINUTES_DAY], QUOTA_NONE);
	assert_int_equal(l.v[QUOTA_MAX_RUN_SECONDS], 5400);
	j = json_pack("{s:s}", "gpu_hours", "x");
	assert_int_equal(quota_override_from_json(j, &o, err, sizeof err), -1);
	assert_non_null(strstr(err, "unknown quota \"gpu_hours\""));
	json_decref(j);
	j = json_pack("{s:i}", "queued_runs", -1);
	assert_int_equal(quota_override_from_json(j, &o, err, sizeof err), -1);
	json_decref(j);
	int64_t v;
	assert_int_equal(quota_parse_duration("2h", &v), 0);
	assert_int_equal(v, 7200);
	assert_int_equal(quota_parse_duration("90min", &v), 0);
	assert_int_equal(v, 5400);
	assert_int_equal(quota_parse_duration("h", &v), -1);
	assert_int_equal(quota_parse_bytes("512MiB", &v), 0);
	assert_int_equal(v, 512 * MiB);
	assert_int_equal(quota_parse_bytes("5X", &v), -1);
}

static void quota_blocks_a_queued_run(void **state)
{
	(void)state;
	struct world *w = world_new();
	add_device(w, SCHED_POOL_GPU, "GPU 0", 4, 16 * GiB);
	add_device(w, SCHED_POOL_CPU, "the CPU", 4, 0);
	int u = add_user(w, "alice", false);
	snprintf(w->users[u].blocked[SCHED_POOL_GPU], SCHED_BLOCK_MAX, "your GPU minutes for today are used up");
	int64_t g = queue(w, u, SCHED_POOL_GPU, GiB), c = queue(w, u, SCHED_POOL_CPU, 0);
	decide(w);
	assert_false(started(w, g));
	assert_true(started(w, c));
	assert_string_equal(waiting(w, g)->reason, "your GPU minutes for today are used up");
	world_free(w);
}

/* ---- lab sessions -------------------------------------------------------------------- */

static void lab_session_edges(void **state)
{
	(void)state;
	struct sched_lab lab;
	char err[300];
	assert_int_equal(labs_parse("tue 14:00-16:00 exclusive alice,bob", &lab, err, sizeof err), 0);
	assert_int_equal(lab.weekday, 2);
	assert_int_equal(lab.start_min, 14 * 60);
	assert_int_equal(lab.end_min, 16 * 60);
	assert_true(lab.exclusive);
	assert_true(sched_lab_member(&lab, "bob", false));
	assert_false(sched_lab_member(&lab, "bo", false));
	char line[600];
	labs_format(&lab, line, sizeof line);
	assert_string_equal(line, "tue 14:00-16:00 exclusive alice,bob");
	/* UTC+1: Tuesday noon UTC is 13:00 local; 14:00 local is one hour later. */
	int64_t local14 = TUE_NOON_MS + 3600 * 1000;
	assert_int_equal(sched_lab_active(&lab, 1, local14 - 60000, 3600), -1);
	assert_int_equal(sched_lab_active(&lab, 1, local14, 3600), 0);
	assert_int_equal(sched_lab_active(&lab, 1, local14 + 119 * 60000, 3600), 0);
	assert_int_equal(sched_lab_active(&lab, 1, local14 + 120 * 60000, 3600), -1);
	assert_int_equal(sched_lab_active(&lab, 1, local14 + 7 * 86400000LL, 3600), 0); /* next Tuesday */
	assert_int_equal(sched_lab_active(&lab, 1, local14 + 86400000LL, 3600), -1);    /* Wednesday */
	assert_int_equal(labs_parse("tue 16:00-14:00", &lab, err, sizeof err), -1);
	assert_int_equal(labs_parse("someday 1-2", &lab, err, sizeof err), -1);
	assert_int_equal(labs_parse("fri 09:00-11:30", &lab, err, sizeof err), 0);
	assert_false(lab.exclusive);
	assert_true(sched_lab_member(&lab, "anyone", false)); /* no list: every student */
	assert_false(sched_lab_member(&lab, "prof", true));
	json_t *j = labs_json(&lab);
	struct sched_lab back;
	assert_int_equal(labs_from_json(j, &back, err, sizeof err), 0);
	assert_memory_equal(&lab, &back, sizeof lab);
	json_decref(j);
}

static void lab_session_priority_and_exclusive(void **state)
{
	(void)state;
	struct world *w = world_new();
	add_device(w, SCHED_POOL_GPU, "GPU 0", 1, 0);
	char err[200];
	assert_int_equal(labs_parse("tue 12:00-14:00 priority alice", &w->labs[0], err, sizeof err), 0);
	w->in.nlabs = 1;
	int bob = add_user(w, "bob", false), alice = add_user(w, "alice", false), prof = add_user(w, "prof", true);
	w->users[alice].usage[SCHED_POOL_GPU] = 10000;
	int64_t bobs = queue(w, bob, SCHED_POOL_GPU, 0), alices = queue(w, alice, SCHED_POOL_GPU, 0);
	int64_t profs = queue(w, prof, SCHED_POOL_GPU, 0);
	decide(w);
	assert_int_equal(w->out.lab, 0);
	assert_true(started(w, alices)); /* a member first, whatever her usage */
	assert_int_equal(waiting(w, bobs)->position, 1);
	/* Exclusive: only members start, others say why. */
	w->labs[0].exclusive = true;
	w->dev[0].slots = 4;
	decide(w);
	assert_true(started(w, alices));
	assert_false(started(w, bobs) || started(w, profs));
	assert_string_equal(waiting(w, bobs)->reason,
			    "lab session Tue 12:00–14:00: only its students' runs start until 14:00");
	/* After the session everyone's runs start. */
	w->in.now_ms += 2 * 3600 * 1000;
	decide(w);
	assert_int_equal(w->out.lab, -1);
	assert_true(started(w, bobs) && started(w, profs));
	world_free(w);
}

static void decay_halves_each_half_life(void **state)
{
	(void)state;
	assert_true(sched_decay(100, 3600, 3600) > 49.999 && sched_decay(100, 3600, 3600) < 50.001);
	assert_true(sched_decay(100, 7200, 3600) > 24.999 && sched_decay(100, 7200, 3600) < 25.001);
	assert_true(sched_decay(100, 0, 3600) == 100);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(fair_share_does_not_starve_one_run),
		cmocka_unit_test(positions_interleave_users),
		cmocka_unit_test(fifo_order_and_backfill),
		cmocka_unit_test(instructors_first),
		cmocka_unit_test(packs_by_memory),
		cmocka_unit_test(no_estimate_takes_a_share),
		cmocka_unit_test(mig_instances_and_several_gpus),
		cmocka_unit_test(over_estimate_spares_neighbours),
		cmocka_unit_test(cluster_hands_over_at_most_its_jobs),
		cmocka_unit_test(backfill_wait_lets_a_big_run_drain),
		cmocka_unit_test(concurrent_runs_quota),
		cmocka_unit_test(quota_submit_boundaries),
		cmocka_unit_test(quota_config_and_overrides),
		cmocka_unit_test(quota_blocks_a_queued_run),
		cmocka_unit_test(lab_session_edges),
		cmocka_unit_test(lab_session_priority_and_exclusive),
		cmocka_unit_test(decay_halves_each_half_life),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
