/*
 * runq_worker.c — one worker, whichever executor runs it: start it through
 * q->ex, turn its JSON lines (from a pipe, an HTTP post or the shared
 * events file) into stored events, notice hangs and garbage, and record
 * how it ended (see runq.h for the rules).
 *
 * What it is not: process or job control (executor_local.c,
 * executor_slurm.c).
 *
 * Threads: the supervisor thread, with q->lock held; runq_worker_take also
 * on the HTTP thread (POST /api/worker/runs/{id}/events), with q->lock held.
 */
#include "runq_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "atomic_file.h"
#include "store.h"
#include "tb.h"
#include "util.h"

#define RUNQ_READ_CHUNK 65536
/* Re-serialised events keep every digit the worker wrote: a Unix time with
 * milliseconds needs 13 significant digits, and 10 rounded it to the second. */
#define RUNQ_JSON_FLAGS (JSON_COMPACT | JSON_REAL_PRECISION(15))
#define RUNQ_CHANGED_EVERY_MS 1000 /* progress-only run updates, at most this often */
#define RUNQ_HUNG_GRACE_MS 10000   /* stop to kill for a hung worker */

static struct runq_worker *worker_new(struct runq *q, int64_t run, const char *owner)
{
	struct runq_worker *w = tb_xcalloc(1, sizeof *w);
	w->run = run;
	w->out_fd = -1;
	w->file_off = -1;
	w->last_event_ms = w->started_ms = w->acct_ms = w->usage_flushed_ms = srv_mono_ms();
	srv_strlcpy(w->owner, owner && *owner ? owner : q->owner, sizeof w->owner);
	w->limit_own = store_run_duration_limit(q->store, run);
	return w;
}

int runq_spawn(struct runq *q, int64_t run, const struct runq_need *need, const struct runq_place *place,
	       const char *spec, const char *resume, const char *evaluate, const char *owner, char *err,
	       size_t errlen)
{
	char dir[PATH_MAX], spec_path[PATH_MAX + 16], events[PATH_MAX + 32];
	runq_run_dir(q, run, dir, sizeof dir);
	snprintf(spec_path, sizeof spec_path, "%s/spec.yaml", dir);
	/* The run dir may have been removed by hand; the spec lives in the store. */
	if ((mkdir(dir, 0700) < 0 && errno != EEXIST) ||
	    atomic_write(spec_path, spec, strlen(spec), false, NULL, 0) < 0) {
		snprintf(err, errlen, "cannot write %s: %s", spec_path, strerror(errno));
		return -1;
	}
	struct runq_worker *w = worker_new(q, run, owner);
	if (!realpath(dir, w->run_dir)) {
		snprintf(err, errlen, "%s: %s", dir, strerror(errno));
		goto fail;
	}
	w->need = *need;
	w->ngpus = place->ngpus;
	memcpy(w->gpus, place->gpus, (size_t)w->ngpus * sizeof *w->gpus);
	w->charge_bytes = place->charge_bytes;
	if (q->ex.kind->dials_home) {
		/* A fresh secret and a fresh event numbering for every start: a
		 * worker left over from an earlier start can no longer report. */
		w->remote = true;
		snprintf(events, sizeof events, "%s/%s", w->run_dir, q->events_file);
		if ((unlink(events) < 0 && errno != ENOENT) || srv_random_hex(w->secret, 32) < 0) {
			snprintf(err, errlen, "cannot prepare the worker's event channel: %s", strerror(errno));
			goto fail;
		}
		w->file_off = 0;
	}
	/* An evaluation loads the checkpoint, evaluates it and trains nothing. */
	struct exec_start st = {.run = run, .run_dir = w->run_dir, .spec_path = spec_path, .resume = resume,
				.evaluate = resume && evaluate, .need = need, .gpus = w->gpus, .visible = place->visible,
				.placed_bytes = place->charge_bytes, .secret = w->secret, .owner = owner};
	if (q->ex.kind->start(&q->ex, w, &st, err, errlen) < 0)
		goto fail;
	w->restore = evaluate ? tb_xstrdup(evaluate) : NULL;
	q->workers[q->nworkers++] = w;
	store_run_set_pid(q->store, run, w->pid);
	store_run_set_job(q->store, run, w->job[0] ? w->job : NULL, w->remote ? w->secret : NULL);
	store_run_set_resume(q->store, run, NULL);
	return 0;
fail:
	free(w);
	return -1;
}

bool runq_reattach(struct runq *q, int64_t run, const char *job, const char *secret, int64_t wseq,
		   const char *owner, const char *evaluate)
{
	if (!q->ex.kind->reattach || q->nworkers >= RUNQ_MAX_WORKERS)
		return false;
	char dir[PATH_MAX];
	runq_run_dir(q, run, dir, sizeof dir);
	struct runq_worker *w = worker_new(q, run, owner);
	srv_strlcpy(w->job, job, sizeof w->job);
	srv_strlcpy(w->secret, secret ? secret : "", sizeof w->secret);
	w->remote = q->ex.kind->dials_home;
	w->wseq_in = w->wseq_done = wseq;
	if (!realpath(dir, w->run_dir) || !q->ex.kind->reattach(&q->ex, w)) {
		free(w);
		return false;
	}
	w->restore = evaluate ? tb_xstrdup(evaluate) : NULL;
	q->workers[q->nworkers++] = w;
	srv_log("run r%lld: re-attached to job %s (events 1..%lld already stored)", (long long)run, w->job,
		(long long)wseq);
	return true;
}

void runq_worker_terminate(struct runq *q, struct runq_worker *w)
{
	w->stop_requested = true;
	q->ex.kind->stop(&q->ex, w);
	w->kill_at_ms = srv_mono_ms() + (int64_t)q->cfg.stop_timeout * 1000;
}

/* The worker broke the contract: end it now, say why at reap. */
static void kill_for(struct runq *q, struct runq_worker *w, const char *fmt, const char *detail)
{
	if (!w->fail_reason[0])
		snprintf(w->fail_reason, sizeof w->fail_reason, fmt, detail);
	q->ex.kind->kill(&q->ex, w);
	if (w->out_fd >= 0) {
		close(w->out_fd);
		w->out_fd = -1;
	}
}

/* A checkpoint's path must lie inside the run dir; otherwise it is not served. */
static void check_checkpoint_path(struct runq_worker *w, json_t *ev, bool *rewritten)
{
	const char *path = json_string_value(json_object_get(ev, "path"));
	const char *file = json_string_value(json_object_get(ev, "file"));
	char cand[PATH_MAX * 2], real[PATH_MAX];
	if (!path && file && !strchr(file, '/')) {
		snprintf(cand, sizeof cand, "%s/%s", w->run_dir, file);
		path = cand;
	}
	if (path && realpath(path, real) && srv_path_inside(w->run_dir, real)) {
		if (strcmp(real, path) || path == cand) {
			json_object_set_new(ev, "path", json_string(real));
			*rewritten = true;
		}
		return;
	}
	if (json_object_get(ev, "path")) {
		srv_log("run r%lld: checkpoint %s is outside the run directory; not recorded",
			(long long)w->run, path);
		json_object_del(ev, "path");
		*rewritten = true;
	}
}

/* ---- train metrics past the rate ------------------------------------------- */

/*
 * With log_every: 1 a small model sends ~15,000 metric events a second;
 * stored one by one that is gigabytes a day for one run, and a page that
 * replays them stalls. The worker normally sends at most ~20 a second, so
 * past RUNQ_METRICS_PER_S (with a burst of as many) train metrics are
 * folded: the stored event is the window's last one, with the count it
 * stands for and each value's min and max, so curves keep their extremes
 * and their last point.
 */
#define RUNQ_METRICS_PER_S 50.0
#define RUNQ_METRICS_BURST 50.0

static bool is_train_metric(json_t *ev, const char *type)
{
	if (strcmp(type, "metric"))
		return false;
	const char *split = json_string_value(json_object_get(ev, "split"));
	return !split || !strcmp(split, "train");
}

static bool take_token(struct runq_worker *w, int64_t now_ms)
{
	if (!w->metric_tokens_ms) {
		w->metric_tokens = RUNQ_METRICS_BURST;
	} else {
		if (now_ms > w->metric_tokens_ms) /* a worker's clock may step back */
			w->metric_tokens += (double)(now_ms - w->metric_tokens_ms) * RUNQ_METRICS_PER_S / 1000.0;
		if (w->metric_tokens > RUNQ_METRICS_BURST)
			w->metric_tokens = RUNQ_METRICS_BURST;
	}
	if (now_ms > w->metric_tokens_ms)
		w->metric_tokens_ms = now_ms;
	if (w->metric_tokens < 1.0)
		return false;
	w->metric_tokens -= 1.0;
	return true;
}

static void fold_extreme(json_t *into, const char *key, json_t *v, bool want_min)
{
	json_t *have = json_object_get(into, key);
	if (!have || (want_min ? json_number_value(v) < json_number_value(have)
			       : json_number_value(v) > json_number_value(have)))
		json_object_set(into, key, v);
}

/* Fold `ev` (taken) into w->fold. */
static void fold_add(struct runq_worker *w, json_t *ev)
{
	struct runq_fold *f = &w->fold;
	if (!f->last) {
		f->min = json_object();
		f->max = json_object();
		f->from_step = json_incref(json_object_get(ev, "step"));
	}
	const char *key;
	json_t *v;
	json_object_foreach(json_object_get(ev, "values"), key, v) {
		if (!json_is_number(v))
			continue;
		fold_extreme(f->min, key, v, true);
		fold_extreme(f->max, key, v, false);
	}
	json_decref(f->last);
	f->last = ev;
	f->count++;
	w->fold_wseq = w->remote ? w->wseq_in : 0;
}

void runq_fold_flush(struct runq *q, struct runq_worker *w)
{
	struct runq_fold *f = &w->fold;
	if (!f->last)
		return;
	json_t *ev = f->last;
	json_object_set_new(ev, "thinned", json_pack("{s:I, s:o, s:o, s:o}", "events", (json_int_t)f->count,
						     "from_step", f->from_step ? f->from_step : json_null(),
						     "min", f->min, "max", f->max));
	char *text = json_dumps(ev, RUNQ_JSON_FLAGS);
	*f = (struct runq_fold){0};
	if (!text) {
		json_decref(ev);
		return;
	}
	runq_pending_add(q, w, text, strlen(text), ev, false, w->fold_wseq);
}

void runq_worker_fold_due(struct runq *q, struct runq_worker *w, int64_t now_ms)
{
	if (w->fold.last && take_token(w, now_ms + w->clock_offset_ms))
		runq_fold_flush(q, w);
}

static void fold_free(struct runq_fold *f)
{
	json_decref(f->last);
	json_decref(f->min);
	json_decref(f->max);
	json_decref(f->from_step);
	*f = (struct runq_fold){0};
}

/* ---- one line from the worker ------------------------------------------------- */

static char *copy_text(const char *text, size_t len)
{
	char *c = tb_xmalloc(len + 1);
	memcpy(c, text, len);
	c[len] = '\0';
	return c;
}

static void handle_line(struct runq *q, struct runq_worker *w, const char *line, size_t len)
{
	while (len && (line[len - 1] == '\r' || line[len - 1] == ' ' || line[len - 1] == '\t'))
		len--;
	if (len == 0)
		return;
	if (w->deleting || w->store_failed)
		return;
	json_error_t jerr;
	json_t *ev = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr);
	const char *type = json_string_value(json_object_get(ev, "type"));
	if (!json_is_object(ev) || !type) {
		char head[81];
		snprintf(head, sizeof head, "%.*s", (int)(len < 80 ? len : 80), line);
		for (char *p = head; *p; p++)
			if ((unsigned char)*p < 0x20)
				*p = ' ';
		w->garbage = true;
		kill_for(q, w, "the worker wrote a line that is not a JSON event: %s", head);
		json_decref(ev);
		return;
	}
	int64_t now = srv_mono_ms(), clock = now;
	w->last_event_ms = now;
	if (w->remote) {
		/* A dial-home worker's events may arrive in a burst (resent after a
		 * break or a server restart): their rate is the worker's own clock's. */
		json_t *t = json_object_get(ev, "time");
		if (json_is_number(t))
			w->clock_offset_ms = (int64_t)(json_number_value(t) * 1000.0) - now;
		clock = now + w->clock_offset_ms;
	}
	if (is_train_metric(ev, type)) {
		if (w->fold.last && take_token(w, clock))
			runq_fold_flush(q, w);
		if (w->fold.last || !take_token(w, clock)) {
			fold_add(w, ev);
			return;
		}
	} else {
		runq_fold_flush(q, w); /* keep the order: folded metrics came first */
	}
	bool rewritten = false, changed = false;
	if (!strcmp(type, "checkpoint")) {
		check_checkpoint_path(w, ev, &rewritten);
		changed = true;
	} else if (!strcmp(type, "status")) {
		const char *st = json_string_value(json_object_get(ev, "status"));
		if (st && (!strcmp(st, "completed") || !strcmp(st, "failed") || !strcmp(st, "stopped"))) {
			/* Stopped by the scheduler (a duration limit, memory over its
			 * estimate): the recorded end says so from the first moment,
			 * rather than "stopped at step N" until the worker is reaped. */
			if (w->evicted && strcmp(st, "completed")) {
				json_object_set_new(ev, "status", json_string("failed"));
				json_object_set_new(ev, "reason", json_string(w->fail_reason));
				rewritten = w->final_told = true;
			} else if (w->limit_reason[0] && !strcmp(st, "stopped")) {
				json_object_set_new(ev, "reason", json_string(w->limit_reason));
				rewritten = w->final_told = true;
			}
			st = json_string_value(json_object_get(ev, "status"));
			w->got_final = true;
			srv_strlcpy(w->final_status, st, sizeof w->final_status);
			runq_account_flush(q, w, now); /* its device time is recorded by the time its end is */
			if (w->restore) {
				/* The end of an evaluation is not the run's: it goes back to how it was. */
				char outcome[600];
				const char *why = json_string_value(json_object_get(ev, "reason"));
				snprintf(outcome, sizeof outcome, "%s%s%s", st, why ? ": " : "", why ? why : "");
				json_decref(ev);
				ev = runq_restore_event(w->restore, outcome);
				store_run_set_evaluate(q->store, w->run, NULL);
				rewritten = true;
			}
		}
		changed = true;
	} else if (!strcmp(type, "summary")) {
		changed = true;
	} else if (!strcmp(type, "metric")) {
		if (now - w->changed_sent_ms >= RUNQ_CHANGED_EVERY_MS) {
			w->changed_sent_ms = now;
			changed = true;
		}
	}
	char *text = rewritten ? json_dumps(ev, RUNQ_JSON_FLAGS) : copy_text(line, len);
	if (!text) {
		json_decref(ev);
		return;
	}
	runq_pending_add(q, w, text, strlen(text), ev, changed, w->remote ? w->wseq_in : 0);
}

int runq_worker_read(struct runq *q, struct runq_worker *w)
{
	char *chunk = tb_xmalloc(RUNQ_READ_CHUNK);
	int rc = 0;
	if (w->out_fd < 0)
		goto out;
	ssize_t n = read(w->out_fd, chunk, RUNQ_READ_CHUNK);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		goto out;
	rc = n > 0 ? 1 : -1;
	if (n <= 0) {
		close(w->out_fd);
		w->out_fd = -1;
		/* A last line without '\n' still counts. */
		if (w->len && !w->garbage)
			handle_line(q, w, w->line, w->len);
		w->len = 0;
		goto out;
	}
	const char *p = chunk, *end = chunk + n;
	while (p < end && w->out_fd >= 0) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t take = nl ? (size_t)(nl - p) : (size_t)(end - p);
		if (w->len + take > RUNQ_LINE_MAX) {
			w->garbage = true;
			kill_for(q, w, "the worker wrote an event line longer than %s", "1 MiB");
			w->len = 0;
			break;
		}
		if (w->len + take + 1 > w->cap) {
			size_t cap = w->cap ? w->cap : 4096;
			while (cap < w->len + take + 1)
				cap *= 2;
			w->line = tb_xrealloc(w->line, cap);
			w->cap = cap;
		}
		memcpy(w->line + w->len, p, take);
		w->len += take;
		if (!nl)
			break;
		w->line[w->len] = '\0';
		handle_line(q, w, w->line, w->len);
		w->len = 0;
		p = nl + 1;
	}
	/* Give back the memory of a huge line once it is handled. */
	if (w->cap > (1u << 16) && w->len == 0) {
		free(w->line);
		w->line = NULL;
		w->cap = 0;
	}
out:
	free(chunk);
	return rc;
}

/* ---- events of a worker that dials home ---------------------------------------- */

int runq_worker_take(struct runq *q, struct runq_worker *w, int64_t first, const char *data, size_t len)
{
	if (first < 1 || first > w->wseq_in + 1)
		return -1; /* a gap: the sender must go back to what we have */
	int64_t seq = first;
	int taken = 0;
	const char *p = data, *end = data + len;
	while (p < end && !w->garbage) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
		if (seq > w->wseq_in) {
			w->wseq_in = seq;
			if (n > RUNQ_LINE_MAX) {
				w->garbage = true;
				kill_for(q, w, "the worker sent an event line longer than %s", "1 MiB");
				break;
			}
			handle_line(q, w, p, n);
			taken++;
		}
		seq++;
		if (!nl)
			break;
		p = nl + 1;
	}
	return taken;
}

#define RUNQ_FOLLOW_MAX (RUNQ_LINE_MAX + 1) /* bytes of events.jsonl read at once: one whole line fits */

/* Offset just after the n-th line of fd, or -1 when it has fewer. */
static int64_t offset_after_line(int fd, int64_t n)
{
	char buf[RUNQ_READ_CHUNK];
	int64_t off = 0, lines = 0;
	if (n == 0)
		return 0;
	for (;;) {
		ssize_t got = pread(fd, buf, sizeof buf, off);
		if (got <= 0)
			return -1;
		for (ssize_t i = 0; i < got; i++)
			if (buf[i] == '\n' && ++lines == n)
				return off + i + 1;
		off += got;
	}
}

/*
 * The worker appends every event to <run dir>/events.jsonl on the shared
 * file system before it sends it. Following that file is the second way
 * home (slurm-events = file, for compute nodes that cannot reach the
 * server) and, at a job's end, picks up whatever the worker could not send.
 */
void runq_worker_follow_file(struct runq *q, struct runq_worker *w)
{
	char path[PATH_MAX + 32];
	snprintf(path, sizeof path, "%s/%s", w->run_dir, q->events_file);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	char *buf = NULL;
	if (w->file_off < 0)
		w->file_off = offset_after_line(fd, w->wseq_in);
	while (w->file_off >= 0 && !w->garbage) {
		if (!buf)
			buf = tb_xmalloc(RUNQ_FOLLOW_MAX);
		ssize_t got = pread(fd, buf, RUNQ_FOLLOW_MAX, w->file_off);
		if (got <= 0)
			break;
		const char *last = memrchr(buf, '\n', (size_t)got);
		if (!last) {
			if (got == RUNQ_FOLLOW_MAX) {
				w->garbage = true;
				kill_for(q, w, "the worker wrote an event line longer than %s", "1 MiB");
			}
			break; /* the rest of the line is still being written */
		}
		size_t used = (size_t)(last - buf) + 1;
		runq_worker_take(q, w, w->wseq_in + 1, buf, used - 1);
		w->file_off += (int64_t)used;
		runq_flush(q); /* a long file goes in several commits, each at most ~1 MiB */
	}
	free(buf);
	close(fd);
}

void runq_worker_timers(struct runq *q, struct runq_worker *w, int64_t now_ms)
{
	if (w->kill_at_ms && now_ms >= w->kill_at_ms) {
		q->ex.kind->kill(&q->ex, w);
		w->kill_at_ms = 0;
		if (!w->fail_reason[0] && !w->hung)
			snprintf(w->fail_reason, sizeof w->fail_reason,
				 "killed: the worker did not stop within %d s of SIGTERM", q->cfg.stop_timeout);
	}
	if (!w->hung && !w->got_final && !w->stop_requested && (w->out_fd >= 0 || w->remote) &&
	    now_ms - w->last_event_ms > (int64_t)q->cfg.worker_timeout * 1000) {
		w->hung = true;
		snprintf(w->fail_reason, sizeof w->fail_reason,
			 "the worker sent no event for %d s and was stopped as hung", q->cfg.worker_timeout);
		q->ex.kind->stop(&q->ex, w);
		w->kill_at_ms = now_ms + RUNQ_HUNG_GRACE_MS;
	}
}

/* The last non-empty line of worker.log, for failure reasons. */
static void log_tail(const char *run_dir, char *out, size_t outlen)
{
	out[0] = '\0';
	char path[PATH_MAX + 16];
	snprintf(path, sizeof path, "%s/worker.log", run_dir);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	char buf[2048];
	off_t size = lseek(fd, 0, SEEK_END);
	off_t from = size > (off_t)sizeof buf - 1 ? size - (off_t)sizeof buf + 1 : 0;
	ssize_t n = pread(fd, buf, sizeof buf - 1, from);
	close(fd);
	if (n <= 0)
		return;
	buf[n] = '\0';
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' '))
		buf[--n] = '\0';
	char *last = strrchr(buf, '\n');
	snprintf(out, outlen, "%s", last ? last + 1 : buf);
}

static void release(struct runq *q, struct runq_worker *w)
{
	runq_flush(q); /* nothing queued may outlive the worker it points at */
	runq_account_flush(q, w, srv_mono_ms());
	fold_free(&w->fold);
	if (w->out_fd >= 0)
		close(w->out_fd);
	free(w->line);
	free(w->restore);
	free(w);
}

bool runq_worker_reap(struct runq *q, struct runq_worker *w)
{
	struct exec_end end;
	if (!q->ex.kind->ended(&q->ex, w, &end))
		return false;
	/* Drain what the pipe still holds: the final status may be in it. A
	 * grandchild may keep the pipe open; then stop at the first EAGAIN. */
	while (w->out_fd >= 0 && runq_worker_read(q, w) > 0)
		;
	/* What a dial-home worker could not send before it ended is in its file. */
	if (w->remote && !w->deleting)
		runq_worker_follow_file(q, w);
	char reason[1024], tail[256];
	const char *status = NULL;
	if (w->deleting) {
		srv_rmtree(w->run_dir);
		srv_log("run r%lld: deleted", (long long)w->run);
		release(q, w);
		return true;
	}
	runq_fold_flush(q, w); /* its last train metric is kept */
	runq_account_flush(q, w, srv_mono_ms()); /* its device time is in the store before its end is told */
	if (w->garbage || w->store_failed) {
		status = "failed";
		snprintf(reason, sizeof reason, "%s", w->fail_reason);
	} else if (w->hung || (w->evicted && !w->final_told)) {
		/* Even if it checkpointed and said "stopped" on SIGTERM: nobody
		 * asked it to stop, and the reason is what the user needs. */
		status = "failed";
		snprintf(reason, sizeof reason, "%s", w->fail_reason);
	} else if (w->limit_reason[0] && !w->final_told) {
		/* Its duration limit stopped it (after a checkpoint, as a stop
		 * does): the reason names the limit, not the worker's "asked". */
		status = "stopped";
		snprintf(reason, sizeof reason, "%s", w->limit_reason);
	} else if (end.status && !w->stop_requested && (!w->got_final || !strcmp(w->final_status, "stopped"))) {
		/* The cluster ended it (time limit, scancel, node failure): the
		 * worker may have checkpointed and said "stopped", but the reason
		 * the user needs is the cluster's. */
		status = end.status;
		snprintf(reason, sizeof reason, "%s", end.reason);
	} else if (w->got_final) {
		status = NULL; /* the worker said how it ended */
	} else if (w->stop_requested) {
		status = "stopped";
		snprintf(reason, sizeof reason, "%s",
			 w->fail_reason[0] ? w->fail_reason : "stopped before it wrote a final status");
	} else {
		status = "failed";
		log_tail(w->run_dir, tail, sizeof tail);
		if (end.reason[0])
			snprintf(reason, sizeof reason, "%s%s%s", end.reason, tail[0] ? "; last log line: " : "", tail);
		else if (end.lost)
			snprintf(reason, sizeof reason, "the worker's exit status was lost");
		else if (end.signaled)
			snprintf(reason, sizeof reason, "the worker was killed by signal %d (%s)%s%s", end.sig,
				 strsignal(end.sig), tail[0] ? "; last log line: " : "", tail);
		else if (end.code != 0)
			snprintf(reason, sizeof reason, "the worker exited with code %d without a final status%s%s",
				 end.code, tail[0] ? "; last log line: " : "", tail);
		else
			snprintf(reason, sizeof reason, "the worker exited without reporting a final status");
	}
	if (status && w->restore) {
		char outcome[1100];
		snprintf(outcome, sizeof outcome, "%s: %s", status, reason);
		store_run_set_evaluate(q->store, w->run, NULL);
		runq_emit_restore(q, w->run, w->restore, outcome);
	} else if (status) {
		runq_emit_status(q, w->run, status, reason);
	}
	store_run_set_pid(q->store, w->run, 0);
	if (q->hooks.run_changed)
		q->hooks.run_changed(q->hooks.ctx, w->run);
	release(q, w);
	return true;
}
