/*
 * profile.c — per-section time of training steps (see profile.h).
 *
 * A step is a list of marks, each saying which section the time after it
 * belongs to (the innermost open one). At the step's end the gaps between
 * consecutive marks are added to their sections: CUDA events' elapsed
 * device time on a GPU, wall-clock differences on the CPU.
 */
#include "profile.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "backend_ext.h"
#include "tb.h"

#define PROFILE_MARKS 8192   /* marks one step may hold; a bigger step is left out (and said so) */
#define PROFILE_SECTIONS 64
#define PROFILE_DEPTH 32
#define PROFILE_WARMUP 2     /* steps left out: the first tunes convolutions and grows scratch */

struct section {
	const char *name;
	enum profile_pass pass;
	double seconds;          /* over the counted steps */
	int64_t calls;           /* over the counted steps */
	int64_t step_calls;      /* in the step being recorded */
};

struct profile {
	struct backend *be;
	/* a device's timing marks (backend_ext.h); NULL when operations are timed by the wall clock */
	const struct backend_ext *ext;
	struct backend_marks *marks;
	double *wall;            /* without timing marks (the CPU): the clock at each mark */
	int *owner;              /* section the time after each mark belongs to */
	int nmarks;
	bool active, overflow;
	int stack[PROFILE_DEPTH];
	int depth;
	struct section sections[PROFILE_SECTIONS];
	int nsections;
	int64_t steps_seen, steps_counted, steps_too_big;
	double step_seconds;
};

struct profile *profile_new(struct backend *be)
{
	const char *v = getenv("TRAINBOOK_PROFILE");
	if (!v || !*v || strcmp(v, "0") == 0)
		return NULL;
	struct profile *p = tb_xcalloc(1, sizeof(*p));
	p->be = be;
	p->owner = tb_xcalloc(PROFILE_MARKS, sizeof(*p->owner));
	const struct backend_ext *x = be->ext;
	if (be->host_memory) {
		/* Operations have finished when they return: the wall clock measures them. */
		p->wall = tb_xcalloc(PROFILE_MARKS, sizeof(*p->wall));
	} else if (x && x->marks_new && x->marks_record && x->marks_between && x->marks_free) {
		p->ext = x;
		p->marks = x->marks_new(be, PROFILE_MARKS);
	} else {
		fprintf(stderr, "trainbook: TRAINBOOK_PROFILE: the %s backend has no timing marks; not profiling\n",
			be->name);
		profile_free(p);
		return NULL;
	}
	return p;
}

void profile_free(struct profile *p)
{
	if (!p)
		return;
	if (p->marks)
		p->ext->marks_free(p->be, p->marks);
	free(p->wall);
	free(p->owner);
	free(p);
}

static int section_index(struct profile *p, const char *name, enum profile_pass pass)
{
	for (int i = 0; i < p->nsections; i++)
		if (p->sections[i].pass == pass && (p->sections[i].name == name || strcmp(p->sections[i].name, name) == 0))
			return i;
	if (p->nsections == PROFILE_SECTIONS)
		return -1; /* its time goes to the enclosing section */
	p->sections[p->nsections] = (struct section){.name = name, .pass = pass};
	return p->nsections++;
}

/* The time from now on belongs to section `owner` (-1: none). */
static void mark(struct profile *p, int owner)
{
	if (p->nmarks == PROFILE_MARKS) {
		p->overflow = true;
		return;
	}
	if (p->marks)
		p->ext->marks_record(p->be, p->marks, p->nmarks);
	else
		p->wall[p->nmarks] = tb_now();
	p->owner[p->nmarks++] = owner;
}

void profile_enter(struct profile *p, const char *name, enum profile_pass pass)
{
	if (!p || !p->active)
		return;
	TB_ASSERT(p->depth < PROFILE_DEPTH);
	int s = section_index(p, name, pass);
	if (s < 0)
		s = p->depth ? p->stack[p->depth - 1] : -1;
	else
		p->sections[s].step_calls++;
	p->stack[p->depth++] = s;
	mark(p, s);
}

void profile_leave(struct profile *p)
{
	if (!p || !p->active)
		return;
	TB_ASSERT(p->depth > 0);
	p->depth--;
	mark(p, p->depth ? p->stack[p->depth - 1] : -1);
}

void profile_step_begin(struct profile *p)
{
	if (!p)
		return;
	p->active = true;
	p->nmarks = 0;
	p->overflow = false;
	p->depth = 0;
	for (int i = 0; i < p->nsections; i++)
		p->sections[i].step_calls = 0;
	profile_enter(p, "step (not in a section below)", PROFILE_OTHER);
}

static double mark_gap(struct profile *p, int a, int b)
{
	return p->marks ? (double)p->ext->marks_between(p->be, p->marks, a, b) * 1e-3 : p->wall[b] - p->wall[a];
}

void profile_step_end(struct profile *p)
{
	if (!p || !p->active)
		return;
	profile_leave(p);
	p->active = false;
	TB_ASSERT(p->depth == 0);
	if (p->steps_seen++ < PROFILE_WARMUP)
		return;
	if (p->overflow) {
		p->steps_too_big++;
		return;
	}
	for (int i = 0; i + 1 < p->nmarks; i++) {
		double dt = mark_gap(p, i, i + 1);
		if (p->owner[i] >= 0)
			p->sections[p->owner[i]].seconds += dt;
	}
	if (p->nmarks > 1)
		p->step_seconds += mark_gap(p, 0, p->nmarks - 1);
	for (int i = 0; i < p->nsections; i++)
		p->sections[i].calls += p->sections[i].step_calls;
	p->steps_counted++;
}

static int by_time(const void *a, const void *b)
{
	double x = ((const struct section *)a)->seconds, y = ((const struct section *)b)->seconds;
	return x < y ? 1 : x > y ? -1 : 0;
}

void profile_report(const struct profile *p, FILE *out)
{
	if (!p)
		return;
	if (p->steps_counted == 0) {
		fprintf(out, "profile: no step counted (%lld seen, the first %d are warm-up%s)\n",
			(long long)p->steps_seen, PROFILE_WARMUP, p->steps_too_big ? ", some had too many marks" : "");
		return;
	}
	double n = (double)p->steps_counted, step_ms = p->step_seconds / n * 1e3;
	fprintf(out, "profile: %lld steps after %d warm-up, %.3f ms per step (%s)\n", (long long)p->steps_counted,
		PROFILE_WARMUP, step_ms, p->marks ? "device time between CUDA events, no CUDA graph" : "wall clock");
	fprintf(out, "  %-40s %10s %10s %7s\n", "section", "calls/step", "ms/step", "share");
	struct section sorted[PROFILE_SECTIONS];
	memcpy(sorted, p->sections, (size_t)p->nsections * sizeof(*sorted));
	qsort(sorted, (size_t)p->nsections, sizeof(*sorted), by_time);
	static const char *const pass_names[] = {[PROFILE_FORWARD] = " forward", [PROFILE_BACKWARD] = " backward",
						 [PROFILE_OTHER] = ""};
	for (int i = 0; i < p->nsections; i++) {
		const struct section *s = &sorted[i];
		char label[96];
		tb_fmt(label, sizeof(label), "%s%s", s->name, pass_names[s->pass]);
		double ms = s->seconds / n * 1e3;
		fprintf(out, "  %-40s %10.1f %10.3f %6.1f%%\n", label, (double)s->calls / n, ms,
			step_ms > 0 ? 100.0 * ms / step_ms : 0.0);
	}
	if (p->steps_too_big)
		fprintf(out, "  (%lld steps left out: more than %d marks)\n", (long long)p->steps_too_big, PROFILE_MARKS);
}
