/*
 * scheduler.c — the pure scheduler (see scheduler.h for the rules).
 *
 * One pass: account what runs now (device loads, memory, each user's
 * running runs), evict runs over their memory on a shared device, then
 * per pool (GPUs first: they are the scarce thing, and a concurrent-runs
 * quota counts across pools) start what fits in priority order, then put
 * every run left waiting in the order it would start, and word why.
 *
 * Threads: pure; any thread.
 */
#include "scheduler.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "memlimit.h"
#include "tb.h"

#define IDS_KEPT 6 /* run ids a device remembers for reasons */

/* Why a run (or a user's runs in a pool) did not start. */
enum hold {
	HOLD_NONE = 0,
	HOLD_ROOM,       /* no device has room for it */
	HOLD_DRAIN,      /* a run that waited long for room goes first */
	HOLD_BEHIND,     /* its user's earlier run goes first */
	HOLD_BLOCKED,    /* the user's quota for the pool is used up */
	HOLD_LAB,        /* an exclusive lab session it is not part of */
	HOLD_CONCURRENT, /* the user's runs-at-once quota */
};

struct dev_state {
	int load;         /* runs on it: running and started in this pass */
	int64_t reserved; /* Σ charge of those runs */
	int64_t unmet;    /* Σ max(0, charge − used): memory they may still take that free_bytes does not show */
	int64_t ids[IDS_KEPT];
	int nids;
};

struct user_state {
	int64_t ids[IDS_KEPT]; /* its running and started runs, for reasons */
	int nids;
	int running; /* runs running now, every pool */
	int started; /* runs started in this pass, every pool */
	int picks[SCHED_NPOOLS];
	enum hold hold[SCHED_NPOOLS];
	int head[SCHED_NPOOLS];  /* index into byTime where the scan for its next run goes on */
	int first[SCHED_NPOOLS]; /* byTime index of its first waiting run (for "behind"), -1 */
};

struct qstate {
	bool started;
	bool placed; /* given a position (phase 2) */
	enum hold hold;
	int position;
};

struct ctx {
	const struct sched_input *in;
	struct sched_output *out;
	struct dev_state *dev;
	struct user_state *us;
	struct qstate *qs;
	int *by_time;            /* queued indices by (queued_ms, id) */
	int lab;                 /* lab session in force, -1 */
	int drain[SCHED_NPOOLS]; /* queued index of the run others may not pass, -1 */
};

/* ---- small helpers ------------------------------------------------------------ */

/* "r1", "r1 and r2", "r1, r2 and r3", "r1, r2, r3 and 2 more" */
static void fmt_ids(const int64_t *ids, int n, int total, char *buf, size_t len)
{
	size_t off = 0;
	buf[0] = '\0';
	for (int i = 0; i < n && off < len; i++) {
		const char *sep = i == 0 ? "" : (i == n - 1 && total == n) ? " and " : ", ";
		off += (size_t)snprintf(buf + off, len - off, "%sr%" PRId64, sep, ids[i]);
	}
	if (total > n && off < len)
		snprintf(buf + off, len - off, " and %d more", total - n);
}

double sched_decay(double value, double dt_s, double half_life_s)
{
	if (dt_s <= 0 || half_life_s <= 0)
		return value;
	return value * exp2(-dt_s / half_life_s);
}

/* The margin kept free on d: GPUs keep policy's; the CPU's total leaves its own reserve. */
static int64_t margin_of(const struct sched_policy *p, const struct sched_device *d)
{
	return d->pool == SCHED_POOL_GPU ? p->margin_bytes : 0;
}

int64_t sched_fallback_charge(const struct sched_device *d, int64_t margin_bytes)
{
	int slots = d->slots > 0 ? d->slots : 1;
	int64_t m = d->pool == SCHED_POOL_GPU ? margin_bytes : 0;
	return d->total_bytes > m ? (d->total_bytes - m) / slots : 0;
}

static int slots_of(const struct sched_device *d)
{
	return d->slots > 0 ? d->slots : 0;
}

/* ---- lab sessions ------------------------------------------------------------ */

int sched_lab_active(const struct sched_lab *labs, int n, int64_t now_ms, int utc_offset_s)
{
	int64_t local = now_ms / 1000 + utc_offset_s;
	int64_t days = local >= 0 ? local / 86400 : (local - 86399) / 86400;
	int weekday = (int)(((days + 4) % 7 + 7) % 7); /* 1970-01-01 was a Thursday */
	int minute = (int)((local - days * 86400) / 60);
	for (int i = 0; i < n; i++)
		if (labs[i].weekday == weekday && minute >= labs[i].start_min && minute < labs[i].end_min)
			return i;
	return -1;
}

bool sched_lab_member(const struct sched_lab *lab, const char *user, bool instructor)
{
	if (!lab->users[0])
		return !instructor;
	size_t n = strlen(user);
	for (const char *p = lab->users; *p;) {
		while (*p == ',' || *p == ' ')
			p++;
		size_t k = strcspn(p, ", ");
		if (k == n && !strncmp(p, user, n))
			return true;
		p += k;
	}
	return false;
}

static const char *const weekdays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};

static void fmt_lab(const struct sched_lab *l, char *buf, size_t len)
{
	snprintf(buf, len, "%s %02d:%02d–%02d:%02d", weekdays[l->weekday % 7], l->start_min / 60, l->start_min % 60,
		 l->end_min / 60, l->end_min % 60);
}

/* ---- ordering --------------------------------------------------------------------- */

/* 0 = the lab's members while it is on, 1 = instructors when they go first, 2 = everyone else. */
static int user_class(const struct ctx *c, int u)
{
	const struct sched_user *su = &c->in->users[u];
	if (c->lab >= 0 && sched_lab_member(&c->in->labs[c->lab], su->name, su->instructor))
		return 0;
	if (c->in->policy.instructors_first && su->instructor)
		return 1;
	return 2;
}

static int cmp_time(const void *a, const void *b, void *arg)
{
	const struct sched_queued *q = arg;
	const struct sched_queued *x = &q[*(const int *)a], *y = &q[*(const int *)b];
	if (x->queued_ms != y->queued_ms)
		return x->queued_ms < y->queued_ms ? -1 : 1;
	return x->id < y->id ? -1 : x->id > y->id;
}

/* The byTime index of user u's next run in pool p not yet started or placed, from its head; -1 none. */
static int next_of(struct ctx *c, int u, enum sched_pool p)
{
	int *head = &c->us[u].head[p];
	for (; *head < c->in->nqueued; (*head)++) {
		int qi = c->by_time[*head];
		const struct sched_queued *q = &c->in->queued[qi];
		if (q->user == u && q->pool == p && !c->qs[qi].started && !c->qs[qi].placed)
			return *head;
	}
	return -1;
}

/*
 * The user whose next run in pool p goes first: lowest class, then usage
 * plus what was picked for them already, then the run's age. With
 * `held_last`, users held by a quota or a lab come after the others (for
 * ordering the queue); without it they are skipped (for starting).
 */
static int best_user(struct ctx *c, enum sched_pool p, bool ordering)
{
	int best = -1, best_tier = 0, best_class = 0;
	double best_key = 0;
	const struct sched_queued *best_q = NULL;
	for (int u = 0; u < c->in->nusers; u++) {
		struct user_state *s = &c->us[u];
		if (!ordering && s->hold[p] != HOLD_NONE)
			continue;
		int at = next_of(c, u, p);
		if (at < 0)
			continue;
		const struct sched_queued *q = &c->in->queued[c->by_time[at]];
		int tier = ordering && s->hold[p] >= HOLD_BLOCKED;
		int cls = c->in->policy.fifo ? 0 : user_class(c, u);
		double key = c->in->policy.fifo ? 0 : c->in->users[u].usage[p] + s->picks[p] * SCHED_PICK_CHARGE_S;
		bool better = best < 0;
		if (!better && tier != best_tier)
			better = tier < best_tier;
		else if (!better && cls != best_class)
			better = cls < best_class;
		else if (!better && key != best_key)
			better = key < best_key;
		else if (!better)
			better = q->queued_ms < best_q->queued_ms ||
				 (q->queued_ms == best_q->queued_ms && q->id < best_q->id);
		if (better) {
			best = u;
			best_tier = tier;
			best_class = cls;
			best_key = key;
			best_q = q;
		}
	}
	return best;
}

/* ---- devices ---------------------------------------------------------------------- */

/*
 * Memory a new run may still take on device d (INT64_MAX when its memory
 * is unknown): what the plan leaves (the charges of the runs there), and,
 * with `measured`, no more than NVML says is free less what those runs
 * may still take.
 */
static int64_t avail_as(const struct ctx *c, int d, bool measured)
{
	const struct sched_device *dv = &c->in->devices[d];
	const struct dev_state *s = &c->dev[d];
	if (dv->total_bytes <= 0)
		return INT64_MAX;
	int64_t m = margin_of(&c->in->policy, dv);
	int64_t planned = dv->total_bytes - m - s->reserved;
	if (measured && dv->free_bytes >= 0 && dv->free_bytes - m - s->unmet < planned)
		planned = dv->free_bytes - m - s->unmet;
	return planned;
}

static int64_t avail(const struct ctx *c, int d)
{
	return avail_as(c, d, true);
}

static int64_t charge_on(const struct ctx *c, const struct sched_queued *q, const struct sched_device *d)
{
	return q->est_bytes > 0 ? q->est_bytes : sched_fallback_charge(d, c->in->policy.margin_bytes);
}

static bool candidate(const struct ctx *c, const struct sched_queued *q, int d)
{
	if (c->in->devices[d].pool != q->pool)
		return false;
	return q->pinned < 0 || q->pinned == d;
}

/*
 * A run without an estimate is charged an equal share of the device and
 * fits while the plan has that share: slots decide, as --gpu-runs always
 * did, whatever else NVML sees on the device. With an estimate, what NVML
 * says is free counts too.
 */
static bool fits(const struct ctx *c, const struct sched_queued *q, int d)
{
	const struct sched_device *dv = &c->in->devices[d];
	return c->dev[d].load < slots_of(dv) &&
	       (dv->total_bytes <= 0 || charge_on(c, q, dv) <= avail_as(c, d, q->est_bytes > 0));
}

static void hold_on(struct ctx *c, int d, int64_t id, int64_t charge, int64_t used)
{
	struct dev_state *s = &c->dev[d];
	s->load++;
	s->reserved += charge;
	if (charge > (used > 0 ? used : 0))
		s->unmet += charge - (used > 0 ? used : 0);
	if (s->nids < IDS_KEPT)
		s->ids[s->nids++] = id;
}

/* Place queued run qi: pick its devices, less loaded first, then more room. */
static bool place(struct ctx *c, int qi, struct sched_start *st)
{
	const struct sched_queued *q = &c->in->queued[qi];
	int need = q->ndevices > 0 ? q->ndevices : 1;
	if (need > SCHED_RUN_DEVICES)
		return false;
	int chosen[SCHED_RUN_DEVICES], n = 0;
	bool taken[SCHED_MAX_DEVICES] = {0};
	while (n < need) {
		int best = -1;
		for (int d = 0; d < c->in->ndevices; d++) {
			if (taken[d] || !candidate(c, q, d) || !fits(c, q, d))
				continue;
			if (best < 0 || c->dev[d].load < c->dev[best].load ||
			    (c->dev[d].load == c->dev[best].load && avail(c, d) > avail(c, best)))
				best = d;
		}
		if (best < 0)
			return false;
		taken[best] = true;
		chosen[n++] = best;
	}
	memset(st, 0, sizeof *st);
	st->id = q->id;
	st->ndevices = n;
	for (int i = 0; i < n; i++) {
		const struct sched_device *dv = &c->in->devices[chosen[i]];
		int64_t charge = charge_on(c, q, dv);
		hold_on(c, chosen[i], q->id, charge, -1);
		st->devices[i] = chosen[i];
		if (charge > st->charge_bytes)
			st->charge_bytes = charge;
	}
	return true;
}

/* ---- what holds a run back ---------------------------------------------------------- */

static enum hold user_hold(struct ctx *c, int u, enum sched_pool p)
{
	const struct sched_user *su = &c->in->users[u];
	if (c->lab >= 0 && c->in->labs[c->lab].exclusive &&
	    !sched_lab_member(&c->in->labs[c->lab], su->name, su->instructor))
		return HOLD_LAB;
	if (su->blocked[p][0])
		return HOLD_BLOCKED;
	if (su->max_running >= 0 && c->us[u].running + c->us[u].started >= su->max_running)
		return HOLD_CONCURRENT;
	return HOLD_NONE;
}

static void user_run(struct user_state *s, int64_t id)
{
	if (s->nids < IDS_KEPT)
		s->ids[s->nids++] = id;
}

static void start(struct ctx *c, int qi, const struct sched_start *st)
{
	const struct sched_queued *q = &c->in->queued[qi];
	c->out->starts[c->out->nstarts++] = *st;
	c->qs[qi].started = true;
	c->us[q->user].started++;
	c->us[q->user].picks[q->pool]++;
	user_run(&c->us[q->user], q->id);
}

static void fair_pool(struct ctx *c, enum sched_pool p)
{
	const struct sched_input *in = c->in;
	for (int u = 0; u < in->nusers; u++) {
		c->us[u].head[p] = 0;
		c->us[u].hold[p] = HOLD_NONE;
	}
	for (;;) {
		int u = best_user(c, p, false);
		if (u < 0)
			break;
		int qi = c->by_time[next_of(c, u, p)];
		enum hold h = user_hold(c, u, p);
		if (h == HOLD_NONE && c->drain[p] >= 0)
			h = HOLD_DRAIN;
		struct sched_start st;
		if (h == HOLD_NONE && place(c, qi, &st)) {
			start(c, qi, &st);
			continue;
		}
		c->us[u].hold[p] = h == HOLD_NONE ? HOLD_ROOM : h;
		const struct sched_queued *q = &in->queued[qi];
		if (h == HOLD_NONE && in->policy.backfill_wait_ms > 0 &&
		    in->now_ms - q->queued_ms >= in->policy.backfill_wait_ms)
			c->drain[p] = qi;
	}
}

static void fifo_pool(struct ctx *c, enum sched_pool p)
{
	for (int i = 0; i < c->in->nqueued; i++) {
		int qi = c->by_time[i];
		const struct sched_queued *q = &c->in->queued[qi];
		if (q->pool != p)
			continue;
		enum hold h = user_hold(c, q->user, p);
		struct sched_start st;
		if (h == HOLD_NONE && place(c, qi, &st))
			start(c, qi, &st);
		else
			c->qs[qi].hold = h == HOLD_NONE ? HOLD_ROOM : h;
	}
}

/* Positions: the order the waiting runs of pool p would start in. */
static void order_pool(struct ctx *c, enum sched_pool p)
{
	const struct sched_input *in = c->in;
	int pos = 0;
	if (in->policy.fifo) {
		for (int i = 0; i < in->nqueued; i++) {
			int qi = c->by_time[i];
			if (in->queued[qi].pool == p && !c->qs[qi].started)
				c->qs[qi].position = ++pos;
		}
		return;
	}
	for (int u = 0; u < in->nusers; u++) {
		c->us[u].head[p] = 0;
		int at = next_of(c, u, p);
		c->us[u].first[p] = at < 0 ? -1 : c->by_time[at];
	}
	for (;;) {
		int u = best_user(c, p, true);
		if (u < 0)
			break;
		int qi = c->by_time[next_of(c, u, p)];
		c->qs[qi].placed = true;
		c->qs[qi].position = ++pos;
		enum hold h = c->us[u].hold[p];
		c->qs[qi].hold = h >= HOLD_BLOCKED || qi == c->us[u].first[p] ? h : HOLD_BEHIND;
		c->us[u].picks[p]++;
	}
}

/* ---- words ------------------------------------------------------------------------- */

/* "GPU 0 shared by r12 and r14, 3.1 GiB free, yours needs 5.0 GiB" and the like. */
static void room_words(const struct ctx *c, const struct sched_queued *q, char *buf, size_t len)
{
	const struct sched_input *in = c->in;
	int best = -1, with_slot = 0, candidates = 0;
	for (int d = 0; d < in->ndevices; d++) {
		if (!candidate(c, q, d))
			continue;
		candidates++;
		if (c->dev[d].load >= slots_of(&in->devices[d]))
			continue;
		with_slot++;
		if (best < 0 || avail(c, d) > avail(c, best))
			best = d;
	}
	char ids[160], fr[32], need[32];
	if (!candidates) {
		snprintf(buf, len, "no device of this server can take it");
		return;
	}
	if (best < 0) { /* every candidate's slots are taken */
		int d = -1;
		for (int k = 0; k < in->ndevices && d < 0; k++)
			if (candidate(c, q, k))
				d = k;
		if (candidates == 1) {
			const struct dev_state *s = &c->dev[d];
			fmt_ids(s->ids, s->nids, s->load, ids, sizeof ids);
			snprintf(buf, len, "%s runs %d of %d at once (%s)", in->devices[d].label, s->load,
				 slots_of(&in->devices[d]), ids);
		} else {
			snprintf(buf, len, "all %d %s are full", candidates,
				 q->pool == SCHED_POOL_GPU ? "GPUs" : "devices");
		}
		return;
	}
	const struct sched_device *dv = &in->devices[best];
	int64_t charge = charge_on(c, q, dv);
	memlimit_format(avail(c, best), fr, sizeof fr);
	memlimit_format(charge, need, sizeof need);
	const char *counted = q->est_bytes > 0 ? "needs" : "counts as (no estimate)";
	int want = q->ndevices > 0 ? q->ndevices : 1;
	if (want > 1) {
		snprintf(buf, len, "it needs %d GPUs with %s free each; %d of %d %s room now", want, need, with_slot,
			 candidates, with_slot == 1 ? "has" : "have");
		return;
	}
	const struct dev_state *s = &c->dev[best];
	if (s->load) {
		fmt_ids(s->ids, s->nids, s->load, ids, sizeof ids);
		snprintf(buf, len, "%s shared by %s, %s free, yours %s %s", dv->label, ids, fr, counted, need);
	} else {
		snprintf(buf, len, "%s has %s free, yours %s %s", dv->label, fr, counted, need);
	}
}

static void ahead_words(int position, char *buf, size_t len)
{
	if (position <= 1)
		snprintf(buf, len, "next in line");
	else
		snprintf(buf, len, "%d ahead of you", position - 1);
}

static void wait_reason(struct ctx *c, int qi, char *buf, size_t len)
{
	const struct sched_input *in = c->in;
	const struct sched_queued *q = &in->queued[qi];
	const struct sched_user *su = &in->users[q->user];
	struct qstate *s = &c->qs[qi];
	char ahead[48], room[200], ids[160], lab[48];
	ahead_words(s->position, ahead, sizeof ahead);
	switch (s->hold) {
	case HOLD_BLOCKED:
		snprintf(buf, len, "%s", su->blocked[q->pool]);
		return;
	case HOLD_LAB: {
		const struct sched_lab *l = &in->labs[c->lab];
		fmt_lab(l, lab, sizeof lab);
		snprintf(buf, len, "lab session %s: only its students' runs start until %02d:%02d", lab,
			 l->end_min / 60, l->end_min % 60);
		return;
	}
	case HOLD_CONCURRENT: {
		const struct user_state *us = &c->us[q->user];
		int total = us->running + us->started;
		fmt_ids(us->ids, us->nids, total, ids, sizeof ids);
		if (su->max_running == 0)
			snprintf(buf, len, "your quota allows no runs at once");
		else
			snprintf(buf, len, "your %d run%s at once %s the limit (%s %s running)", su->max_running,
				 su->max_running == 1 ? "" : "s", su->max_running == 1 ? "is" : "are", ids,
				 total == 1 ? "is" : "are");
		return;
	}
	case HOLD_BEHIND:
		snprintf(buf, len, "%s (yours start in the order you queued them)", ahead);
		return;
	case HOLD_DRAIN: {
		const struct sched_queued *d = &in->queued[c->drain[q->pool]];
		snprintf(buf, len, "%s; r%" PRId64 " has waited %d min for room and starts first", ahead, d->id,
			 (int)((in->now_ms - d->queued_ms) / 60000));
		return;
	}
	case HOLD_ROOM:
	case HOLD_NONE:
		break;
	}
	room_words(c, q, room, sizeof room);
	snprintf(buf, len, "%s; %s", ahead, room);
}

/* ---- evictions -------------------------------------------------------------------- */

static void evictions(struct ctx *c)
{
	const struct sched_input *in = c->in;
	for (int i = 0; i < in->nrunning; i++) {
		const struct sched_running *r = &in->running[i];
		if (r->used_bytes < 0 || r->ndevices < 1)
			continue;
		for (int k = 0; k < r->ndevices; k++) {
			int d = r->devices[k];
			if (d < 0 || d >= in->ndevices || in->devices[d].total_bytes <= 0 ||
			    in->devices[d].pool != SCHED_POOL_GPU)
				continue;
			if (r->used_bytes <= r->charge_bytes + in->policy.margin_bytes)
				continue;
			/* Alone on the device it hurts nobody: only its own physical limit counts. */
			int64_t others[IDS_KEPT];
			int n = 0, total = 0;
			for (int j = 0; j < in->nrunning; j++) {
				if (j == i)
					continue;
				for (int m = 0; m < in->running[j].ndevices; m++)
					if (in->running[j].devices[m] == d && total++ < IDS_KEPT)
						others[n++] = in->running[j].id;
			}
			if (!total)
				continue;
			char used[32], charge[32], margin[32], ids[160];
			memlimit_format(r->used_bytes, used, sizeof used);
			memlimit_format(r->charge_bytes, charge, sizeof charge);
			memlimit_format(in->policy.margin_bytes, margin, sizeof margin);
			fmt_ids(others, n, total, ids, sizeof ids);
			struct sched_evict *e = &c->out->evicts[c->out->nevicts++];
			e->id = r->id;
			snprintf(e->reason, sizeof e->reason,
				 "it used %s of %s's memory, more than the %s it was placed with (plus a %s margin); "
				 "stopped so that %s, sharing %s, keep%s their memory",
				 used, in->devices[d].label, charge, margin, ids, in->devices[d].label,
				 total == 1 ? "s" : "");
			break;
		}
	}
}

/* ---- the pass ------------------------------------------------------------------------ */

void sched_decide(const struct sched_input *in, struct sched_output *out)
{
	memset(out, 0, sizeof *out);
	TB_ASSERT(in->ndevices >= 0 && in->ndevices <= SCHED_MAX_DEVICES);
	int nq = in->nqueued;
	out->starts = tb_xcalloc((size_t)(nq ? nq : 1), sizeof *out->starts);
	out->waits = tb_xcalloc((size_t)(nq ? nq : 1), sizeof *out->waits);
	out->evicts = tb_xcalloc((size_t)(in->nrunning ? in->nrunning : 1), sizeof *out->evicts);
	out->lab = sched_lab_active(in->labs, in->nlabs, in->now_ms, in->utc_offset_s);
	struct ctx c = {.in = in, .out = out, .lab = out->lab, .drain = {-1, -1, -1}};
	c.dev = tb_xcalloc((size_t)(in->ndevices ? in->ndevices : 1), sizeof *c.dev);
	c.us = tb_xcalloc((size_t)(in->nusers ? in->nusers : 1), sizeof *c.us);
	c.qs = tb_xcalloc((size_t)(nq ? nq : 1), sizeof *c.qs);
	c.by_time = tb_xmalloc((size_t)(nq ? nq : 1) * sizeof *c.by_time);
	for (int i = 0; i < nq; i++)
		c.by_time[i] = i;
	qsort_r(c.by_time, (size_t)nq, sizeof *c.by_time, cmp_time, (void *)in->queued);

	for (int i = 0; i < in->nrunning; i++) {
		const struct sched_running *r = &in->running[i];
		if (r->user >= 0 && r->user < in->nusers) {
			c.us[r->user].running++;
			user_run(&c.us[r->user], r->id);
		}
		for (int k = 0; k < r->ndevices && k < SCHED_RUN_DEVICES; k++)
			if (r->devices[k] >= 0 && r->devices[k] < in->ndevices)
				hold_on(&c, r->devices[k], r->id, r->charge_bytes, r->used_bytes);
	}
	evictions(&c);
	static const enum sched_pool pools[] = {SCHED_POOL_GPU, SCHED_POOL_CPU, SCHED_POOL_CLUSTER};
	for (size_t i = 0; i < TB_ARRAY_LEN(pools); i++) {
		if (in->policy.fifo)
			fifo_pool(&c, pools[i]);
		else
			fair_pool(&c, pools[i]);
		order_pool(&c, pools[i]);
	}
	for (int qi = 0; qi < nq; qi++) {
		if (c.qs[qi].started)
			continue;
		struct sched_wait *w = &out->waits[out->nwaits++];
		w->id = in->queued[qi].id;
		w->position = c.qs[qi].position;
		wait_reason(&c, qi, w->reason, sizeof w->reason);
	}
	free(c.dev);
	free(c.us);
	free(c.qs);
	free(c.by_time);
}

void sched_output_free(struct sched_output *out)
{
	free(out->starts);
	free(out->waits);
	free(out->evicts);
	memset(out, 0, sizeof *out);
}
