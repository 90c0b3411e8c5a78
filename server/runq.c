/*
 * runq.c — the queue, the supervisor loop and the API (see runq.h); which
 * run starts where is runq_sched.c's (the scheduler's inputs and
 * decisions), what happens to one worker process is runq_worker.c's.
 *
 * Threads: the supervisor thread runs supervisor_main; API functions run on
 * HTTP threads. Both hold q->lock while they touch workers or slots. Lock
 * order: q->lock, then the store's lock (store never calls back).
 */
#include "runq_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "atomic_file.h"
#include "gpumon.h"
#include "spec.h"
#include "spec_flat.h"
#include "store.h"
#include "tb.h"
#include "util.h"

#define RUNQ_FOLLOW_MS 200   /* events files of workers that cannot dial home are read this often */

void runq_run_dir(const struct runq *q, int64_t run, char *buf, size_t len)
{
	char rid[32];
	store_format_run_id(run, rid, sizeof rid);
	snprintf(buf, len, "%s/%s", q->runs_dir, rid);
}

/* ---- committing events ------------------------------------------------------ */

void runq_pending_add(struct runq *q, struct runq_worker *w, char *text, size_t len, json_t *event,
		      bool changed, int64_t wseq)
{
	if (q->npending == q->pending_cap) {
		q->pending_cap = q->pending_cap ? 2 * q->pending_cap : 64;
		q->pending = tb_xrealloc(q->pending, q->pending_cap * sizeof *q->pending);
	}
	q->pending[q->npending++] = (struct runq_pending){
		.w = w, .run = w ? w->run : 0, .wseq = wseq, .text = text, .len = len, .event = event, .changed = changed};
}

/*
 * Why a batch: one commit per event wrote ~4 WAL pages per event (16 KB for
 * a 200-byte metric) and capped a run at a few thousand events a second.
 * Everything the supervisor read in one pass of its poll loop goes in one
 * transaction instead, and nobody sees an event before it is committed, so
 * a reconnecting client still finds in the store everything it was sent.
 */
void runq_flush(struct runq *q)
{
	size_t n = q->npending;
	if (!n)
		return;
	struct store_event *evs = tb_xcalloc(n, sizeof *evs);
	for (size_t i = 0; i < n; i++)
		evs[i] = (struct store_event){.run = q->pending[i].run, .text = q->pending[i].text,
					      .len = q->pending[i].len, .event = q->pending[i].event,
					      .wseq = q->pending[i].wseq};
	int rc = store_append_events(q->store, evs, n);
	if (rc != STORE_OK)
		runq_disk_trouble(q, rc);
	for (size_t i = 0; i < n; i++) {
		struct runq_pending *p = &q->pending[i];
		if (rc != STORE_OK && p->w && !p->w->store_failed) {
			/* Its events cannot be kept: end it rather than let it train unrecorded. */
			p->w->store_failed = true;
			snprintf(p->w->fail_reason, sizeof p->w->fail_reason, "%s", q->disk_reason);
			q->ex.kind->kill(&q->ex, p->w);
		}
		/* Committed: a dial-home worker may now forget it (the acknowledgement). */
		if (rc == STORE_OK && p->w && p->wseq > p->w->wseq_done)
			p->w->wseq_done = p->wseq;
		if (evs[i].seq > 0 && q->hooks.event)
			q->hooks.event(q->hooks.ctx, p->run, evs[i].seq, p->text, p->len);
		if (evs[i].seq > 0 && p->changed && q->hooks.run_changed)
			q->hooks.run_changed(q->hooks.ctx, p->run);
		free(p->text);
		json_decref(p->event);
	}
	q->npending = 0;
	free(evs);
}

/* ---- a full disk ------------------------------------------------------------ */

#define RUNQ_RESERVE_BYTES (4 << 20) /* freed when the disk fills, so final statuses fit */
#define RUNQ_SPACE_CHECK_MS 2000

/*
 * The reserve is the room a full disk leaves for what must still be
 * written: the final status of every run it ends. Without it those writes
 * failed too and the runs stayed "running" with no worker behind them.
 */
static bool make_reserve(struct runq *q)
{
	int fd = open(q->reserve_path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return false;
	int err = posix_fallocate(fd, 0, RUNQ_RESERVE_BYTES);
	close(fd);
	if (err) {
		unlink(q->reserve_path);
		return false;
	}
	return true;
}

void runq_disk_trouble(struct runq *q, int store_rc)
{
	if (!q->disk_full) {
		q->disk_full = true;
		unlink(q->reserve_path);
		snprintf(q->disk_reason, sizeof q->disk_reason,
			 store_rc == STORE_EFULL
				 ? "disk full: the server could not store this run's events"
				 : "the server could not store this run's events (a disk error; see the server log)");
		srv_log("%s under %s: runs that send events now end as failed and new runs wait until "
			"space returns", store_rc == STORE_EFULL ? "the disk is full" : "the store cannot be written",
			q->workspace);
	}
	srv_log_limited(&q->disk_log, "store: still cannot write (%s)",
			store_rc == STORE_EFULL ? "disk full" : "I/O error");
	q->space_check_ms = srv_mono_ms() + RUNQ_SPACE_CHECK_MS;
}

/* Supervisor: leave disk-trouble mode once the reserve can be written again. */
static void check_space(struct runq *q, int64_t now)
{
	if (!q->disk_full || now < q->space_check_ms)
		return;
	q->space_check_ms = now + RUNQ_SPACE_CHECK_MS;
	if (!make_reserve(q))
		return;
	q->disk_full = false;
	q->sched_dirty = true;
	srv_log("space is back under %s: queued runs start again", q->workspace);
}

/* ---- server-made events ------------------------------------------------------ */

int runq_emit(struct runq *q, int64_t run, json_t *event)
{
	runq_flush(q); /* what the run sent before comes first */
	char *text = json_dumps(event, JSON_COMPACT | JSON_REAL_PRECISION(10));
	if (!text)
		return -1;
	int64_t seq = 0;
	int rc = store_append_event(q->store, run, text, strlen(text), event, &seq);
	if (rc == STORE_EFULL || rc == STORE_EIO) {
		/* The reserve is given up now, so this event (a final status) fits. */
		runq_disk_trouble(q, rc);
		rc = store_append_event(q->store, run, text, strlen(text), event, &seq);
	}
	if (rc == 0 && q->hooks.event)
		q->hooks.event(q->hooks.ctx, run, seq, text, strlen(text));
	free(text);
	return rc;
}

json_t *runq_restore_event(const char *restore, const char *outcome)
{
	json_t *r = json_loads(restore, 0, NULL);
	const char *status = json_string_value(json_object_get(r, "status"));
	json_t *ev = json_pack("{s:s, s:s, s:s}", "type", "status", "status", status ? status : "completed",
			       "evaluation", outcome);
	json_t *reason = json_object_get(r, "reason");
	if (json_is_string(reason))
		json_object_set(ev, "reason", reason);
	json_decref(r);
	return ev;
}

int runq_emit_restore(struct runq *q, int64_t run, const char *restore, const char *outcome)
{
	json_t *ev = runq_restore_event(restore, outcome);
	int rc = runq_emit(q, run, ev);
	json_decref(ev);
	if (q->hooks.run_changed)
		q->hooks.run_changed(q->hooks.ctx, run);
	return rc;
}

int runq_emit_status(struct runq *q, int64_t run, const char *status, const char *reason)
{
	json_t *ev = json_pack("{s:s, s:s}", "type", "status", "status", status);
	if (reason)
		json_object_set_new(ev, "reason", json_string(reason));
	int rc = runq_emit(q, run, ev);
	json_decref(ev);
	if (q->hooks.run_changed)
		q->hooks.run_changed(q->hooks.ctx, run);
	return rc;
}

static void wake(struct runq *q)
{
	char c = 1;
	ssize_t n = write(q->wake[1], &c, 1);
	(void)n; /* a full pipe already means "wake up" */
}

int runq_classify(const char *yaml, size_t len, int gpu_count, struct runq_need *need, char *err,
		  size_t errlen)
{
	memset(need, 0, sizeof *need);
	need->gpu_index = -1;
	struct spec *s = tb_xcalloc(1, sizeof *s);
	struct spec_errors *errs = tb_xcalloc(1, sizeof *errs);
	int rc = RUNQ_OK;
	if (spec_parse(yaml, len, "<run>", NULL, 0, s, errs) != 0) {
		snprintf(err, errlen, "%s", errs->count ? errs->list[0].message : "invalid spec");
		rc = RUNQ_EINVALID;
		goto out;
	}
	const char *dev = s->train.device;
	int devices = s->train.devices > 0 ? s->train.devices : 1;
	need->devices = devices;
	need->nodes = s->train.nodes > 0 ? s->train.nodes : 1;
	if (!strcmp(dev, "cpu")) {
		need->gpu = false;
	} else if (!strncmp(dev, "cuda", 4)) {
		need->gpu = true;
		if (dev[4] == ':')
			need->gpu_index = atoi(dev + 5);
	} else { /* auto */
		need->gpu = gpu_count > 0;
	}
	if (need->gpu) {
		need->ngpus = need->gpu_index >= 0 ? 1 : devices;
		if (gpu_count == 0) {
			snprintf(err, errlen, "this run asks for %s but the server sees no NVIDIA GPU", dev);
			rc = RUNQ_EINVALID;
		} else if (need->gpu_index >= gpu_count || need->ngpus > gpu_count) {
			snprintf(err, errlen, "this run asks for %s (%d GPU%s) but the server has %d", dev,
				 need->ngpus, need->ngpus > 1 ? "s" : "", gpu_count);
			rc = RUNQ_EINVALID;
		}
	}
	spec_free(s);
out:
	free(s);
	free(errs);
	return rc;
}

static int open_executor(struct runq *q, const struct exec_config *ec, char *err, size_t errlen)
{
	const char *kind = ec && ec->kind[0] ? ec->kind : "local";
	q->ex.kind = executor_find(kind);
	if (!q->ex.kind) {
		snprintf(err, errlen, "executor: no kind '%s' (one of %s)", kind, executor_names());
		return -1;
	}
	if (ec)
		q->ex.cfg = *ec;
	q->ex.q = q;
	snprintf(q->events_file, sizeof q->events_file, "events.jsonl");
	if (q->ex.kind->open(&q->ex, err, errlen) < 0) {
		q->ex.kind = NULL;
		return -1;
	}
	struct exec_capacity cap = q->ex.kind->capacity(&q->ex, q);
	if (!cap.places_gpus)
		q->cfg.gpu_count = cap.gpus; /* what a run may ask for, checked at submit */
	return 0;
}

int runq_new(const struct runq_config *cfg, struct store *store, const struct runq_hooks *hooks,
	     struct runq **out, char *err, size_t errlen)
{
	struct runq *q = tb_xcalloc(1, sizeof *q);
	q->wake[0] = q->wake[1] = -1;
	pthread_mutex_init(&q->lock, NULL);
	srv_strlcpy(q->workspace, cfg->workspace, sizeof q->workspace);
	srv_strlcpy(q->exe, cfg->exe ? cfg->exe : "", sizeof q->exe);
	srv_strlcpy(q->worker_cmd, cfg->worker_cmd ? cfg->worker_cmd : "", sizeof q->worker_cmd);
	srv_strlcpy(q->owner, cfg->owner ? cfg->owner : "", sizeof q->owner);
	q->cfg = *cfg;
	if (cfg->sched) {
		q->sched = *cfg->sched;
	} else {
		q->sched.half_life = 3600;
		quota_config_init(&q->sched.quotas);
	}
	q->cfg.sched = &q->sched;
	q->cfg.workspace = q->workspace;
	q->cfg.exe = q->exe;
	q->cfg.worker_cmd = q->worker_cmd;
	q->cfg.owner = q->owner;
	if (q->cfg.gpu_count > RUNQ_MAX_GPUS)
		q->cfg.gpu_count = RUNQ_MAX_GPUS;
	q->store = store;
	if (hooks)
		q->hooks = *hooks;
	char dot[PATH_MAX + 16];
	snprintf(dot, sizeof dot, "%s/.trainbook", q->workspace);
	if (cfg->runs_dir && *cfg->runs_dir)
		srv_strlcpy(q->runs_dir, cfg->runs_dir, sizeof q->runs_dir);
	else
		snprintf(q->runs_dir, sizeof q->runs_dir, "%s/.trainbook/runs", q->workspace);
	q->cfg.runs_dir = q->runs_dir;
	if ((mkdir(dot, 0700) < 0 && errno != EEXIST) ||
	    (mkdir(q->runs_dir, 0700) < 0 && errno != EEXIST)) {
		snprintf(err, errlen, "%s: %s", q->runs_dir, strerror(errno));
		goto fail;
	}
	if (open_executor(q, cfg->executor, err, errlen) < 0)
		goto fail;
	snprintf(q->reserve_path, sizeof q->reserve_path, "%s/.trainbook/reserve", q->workspace);
	if (!make_reserve(q))
		srv_log("warning: cannot reserve %d MiB in %s (%s): on a full disk, runs may be left "
			"without a final status", RUNQ_RESERVE_BYTES >> 20, dot, strerror(errno));
	if (pipe2(q->wake, O_CLOEXEC | O_NONBLOCK) < 0) {
		snprintf(err, errlen, "pipe: %s", strerror(errno));
		goto fail;
	}
	q->devs = tb_xcalloc(RUNQ_MAX_GPUS, sizeof *q->devs);
	runq_sched_init(q);
	q->sched_dirty = true;
	*out = q;
	return 0;
fail:
	runq_free(q);
	*out = NULL;
	return -1;
}

/* A worker of a dead server may still run (it normally dies with us through
 * PR_SET_PDEATHSIG); make sure it cannot write into a run we restart. */
static void kill_leftover(const struct runq *q, int64_t run, int pid)
{
	if (pid <= 0)
		return;
	char path[64], dir[PATH_MAX];
	snprintf(path, sizeof path, "/proc/%d/cmdline", pid);
	char *cmd;
	size_t len;
	if (srv_read_file(path, 1 << 16, &cmd, &len) < 0)
		return;
	for (size_t i = 0; i < len; i++)
		if (cmd[i] == '\0')
			cmd[i] = ' ';
	runq_run_dir(q, run, dir, sizeof dir);
	if (strstr(cmd, dir)) {
		srv_log("killing worker %d left over from a previous server (run r%lld)", pid,
			(long long)run);
		kill(pid, SIGKILL);
	}
	free(cmd);
}

static void *supervisor_main(void *arg);

/*
 * Runs a previous server handed to an executor whose workers outlive it
 * (Slurm): follow their jobs again. A queued run whose job is gone is
 * submitted anew; a running one whose job cannot be found is interrupted
 * below. Returns how many were re-attached.
 */
static int reattach_jobs(struct runq *q, const char *status, int64_t *ids, int max)
{
	int n = store_runs_with_status(q->store, status, ids, max), adopted = 0;
	for (int i = 0; i < n; i++) {
		struct store_run_info info;
		if (store_run_info(q->store, ids[i], &info) < 0)
			continue;
		if (info.job[0]) {
			if (runq_reattach(q, ids[i], info.job, info.job_secret, info.worker_seq, info.owner, info.evaluate))
				adopted++;
			else if (!strcmp(status, "queued"))
				store_run_set_job(q->store, ids[i], NULL, NULL);
		}
		store_run_info_free(&info);
	}
	return adopted;
}

int runq_start(struct runq *q)
{
	int64_t ids[RUNQ_MAX_WORKERS * 4];
	pthread_mutex_lock(&q->lock);
	int adopted = reattach_jobs(q, "running", ids, (int)TB_ARRAY_LEN(ids));
	adopted += reattach_jobs(q, "queued", ids, (int)TB_ARRAY_LEN(ids));
	int n = store_runs_with_status(q->store, "running", ids, (int)TB_ARRAY_LEN(ids)), lost = 0;
	for (int i = 0; i < n; i++) {
		if (runq_find_worker(q, ids[i]))
			continue;
		struct store_run_info info = {0};
		bool evaluating = false;
		if (store_run_info(q->store, ids[i], &info) == 0) {
			kill_leftover(q, ids[i], info.worker_pid);
			evaluating = info.evaluate != NULL;
		}
		store_run_set_pid(q->store, ids[i], 0);
		if (evaluating) { /* only an evaluation was cut short: the run is as it was */
			store_run_set_evaluate(q->store, ids[i], NULL);
			runq_emit_restore(q, ids[i], info.evaluate, "interrupted: the server stopped");
		} else {
			runq_emit_status(q, ids[i], "interrupted",
					 "the server stopped while this run was running; resume it to continue "
					 "from its last checkpoint");
		}
		store_run_info_free(&info);
		lost++;
	}
	pthread_mutex_unlock(&q->lock);
	if (lost)
		srv_log("%d run%s marked interrupted", lost, lost == 1 ? "" : "s");
	if (adopted)
		srv_log("%d run%s re-attached to %s jobs", adopted, adopted == 1 ? "" : "s", q->ex.kind->name);
	if (pthread_create(&q->thread, NULL, supervisor_main, q) != 0)
		return -1;
	q->thread_started = true;
	return 0;
}

struct runq_worker *runq_find_worker(struct runq *q, int64_t run)
{
	for (int i = 0; i < q->nworkers; i++)
		if (q->workers[i]->run == run)
			return q->workers[i];
	return NULL;
}

/* A queued run that cannot start fails; an evaluation that cannot start leaves the run as it was. */
void runq_start_failed(struct runq *q, int64_t run, const char *evaluate, const char *err)
{
	if (evaluate) {
		store_run_set_evaluate(q->store, run, NULL);
		runq_emit_restore(q, run, evaluate, err);
	} else {
		runq_emit_status(q, run, "failed", err);
	}
}

static void *supervisor_main(void *arg)
{
	struct runq *q = arg;
	struct pollfd *fds = tb_xcalloc(RUNQ_MAX_WORKERS + 1, sizeof *fds);
	struct runq_worker **owners = tb_xcalloc(RUNQ_MAX_WORKERS, sizeof *owners);
	/* Workers that cannot reach us over the network leave their events in the shared file. */
	bool follow_files = q->ex.kind->dials_home && !strcmp(q->ex.cfg.events, "file");
	for (;;) {
		pthread_mutex_lock(&q->lock);
		runq_schedule(q, srv_mono_ms());
		if (q->stopping && q->nworkers == 0) {
			pthread_mutex_unlock(&q->lock);
			break;
		}
		int nfds = 1, timeout = 1000;
		fds[0] = (struct pollfd){.fd = q->wake[0], .events = POLLIN};
		for (int i = 0; i < q->nworkers; i++) {
			struct runq_worker *w = q->workers[i];
			if (w->out_fd >= 0) {
				owners[nfds - 1] = w;
				fds[nfds++] = (struct pollfd){.fd = w->out_fd, .events = POLLIN};
			} else if (w->remote) {
				if (follow_files && timeout > RUNQ_FOLLOW_MS)
					timeout = RUNQ_FOLLOW_MS;
			} else {
				timeout = 50; /* pipe closed: the exit status follows shortly */
			}
			if (w->fold.last && timeout > RUNQ_FOLD_WAIT_MS)
				timeout = RUNQ_FOLD_WAIT_MS; /* folded metrics go out when the rate allows */
		}
		pthread_mutex_unlock(&q->lock);

		if (poll(fds, (nfds_t)nfds, timeout) < 0 && errno != EINTR)
			srv_log("supervisor: poll: %s", strerror(errno));
		if (fds[0].revents & POLLIN) {
			char drain[64];
			while (read(q->wake[0], drain, sizeof drain) > 0)
				;
		}

		pthread_mutex_lock(&q->lock);
		for (int i = 1; i < nfds; i++)
			if (fds[i].revents & (POLLIN | POLLHUP | POLLERR))
				runq_worker_read(q, owners[i - 1]);
		int64_t now = srv_mono_ms();
		q->ex.kind->tick(&q->ex, q, now);
		runq_account(q, now);
		for (int i = 0; i < q->nworkers; i++) {
			if (follow_files && q->workers[i]->remote)
				runq_worker_follow_file(q, q->workers[i]);
			runq_worker_fold_due(q, q->workers[i], now);
		}
		runq_flush(q);
		check_space(q, now);
		for (int i = 0; i < q->nworkers;) {
			struct runq_worker *w = q->workers[i];
			runq_worker_timers(q, w, now);
			if (runq_worker_reap(q, w)) {
				q->workers[i] = q->workers[--q->nworkers];
				q->sched_dirty = true;
			} else {
				i++;
			}
		}
		pthread_mutex_unlock(&q->lock);
	}
	free(fds);
	free(owners);
	return NULL;
}

void runq_shutdown(struct runq *q)
{
	if (!q || !q->thread_started)
		return;
	pthread_mutex_lock(&q->lock);
	q->stopping = true;
	for (int i = 0; i < q->nworkers; i++)
		if (!q->workers[i]->stop_requested)
			runq_worker_terminate(q, q->workers[i]);
	if (q->nworkers)
		srv_log("waiting for %d worker%s to checkpoint and stop", q->nworkers,
			q->nworkers == 1 ? "" : "s");
	pthread_mutex_unlock(&q->lock);
	wake(q);
	pthread_join(q->thread, NULL);
	q->thread_started = false;
}

void runq_free(struct runq *q)
{
	if (!q)
		return;
	runq_shutdown(q);
	if (q->wake[0] >= 0)
		close(q->wake[0]);
	if (q->wake[1] >= 0)
		close(q->wake[1]);
	free(q->pending);
	free(q->devs);
	if (q->ex.kind)
		q->ex.kind->close(&q->ex);
	pthread_mutex_destroy(&q->lock);
	free(q);
}

/* ---- API ------------------------------------------------------------------ */

int runq_submit(struct runq *q, const struct runq_submit *sub, int64_t *id, char *err, size_t errlen)
{
	struct runq_need need;
	if (sub->spec_len > RUNQ_SPEC_MAX) {
		snprintf(err, errlen, "specs are limited to %u bytes", RUNQ_SPEC_MAX);
		return RUNQ_EINVALID;
	}
	int rc = runq_classify(sub->spec, sub->spec_len, q->cfg.gpu_count, &need, err, errlen);
	if (rc)
		return rc;
	char *spec = tb_xmalloc(sub->spec_len + 1);
	memcpy(spec, sub->spec, sub->spec_len);
	spec[sub->spec_len] = '\0';
	/* A name people tell runs apart by: "fashion-mnist · cnn" (the notebook
	 * and what the cell trains), or the data set's for a bare spec. */
	char name[256], label[64], stem[160] = "";
	spec_run_label(spec, sub->spec_len, label, sizeof label);
	if (sub->notebook) {
		const char *base = strrchr(sub->notebook, '/');
		snprintf(stem, sizeof stem, "%s", base ? base + 1 : sub->notebook);
		char *dot = strstr(stem, ".ipynb");
		if (dot)
			*dot = '\0';
	} else {
		spec_dataset(spec, sub->spec_len, stem, sizeof stem);
	}
	/* Each cut to its buffer at a character boundary: half a UTF-8
	 * character is a name the store cannot turn into JSON, and the run
	 * answered 404 and vanished from the list
	 * (tests/fuzz/http/crashes/run-name-cut-mid-character*). */
	srv_utf8_trim(stem);
	srv_utf8_trim(label);
	if (sub->name && *sub->name)
		srv_strlcpy(name, sub->name, sizeof name);
	else if (stem[0])
		snprintf(name, sizeof name, "%s \xc2\xb7 %s", stem, label);
	else
		snprintf(name, sizeof name, "%s", label);
	srv_utf8_trim(name);
	int64_t est = runq_estimate(q, spec, sub->spec_len, &need);
	pthread_mutex_lock(&q->lock);
	if (q->stopping) {
		snprintf(err, errlen, "the server is shutting down");
		rc = RUNQ_ESTATE;
		goto out;
	}
	if (q->disk_full) {
		snprintf(err, errlen, "the disk holding the workspace is full; free some space and try again");
		rc = RUNQ_ENOSPACE;
		goto out;
	}
	const char *owner = sub->owner && *sub->owner ? sub->owner : q->owner;
	if (store_count_status(q->store, "queued") >= q->cfg.max_queued) {
		snprintf(err, errlen, "%d runs are waiting already; stop some or wait", q->cfg.max_queued);
		rc = RUNQ_EFULL;
		goto out;
	}
	if ((rc = runq_quota_check(q, owner, need.gpu, err, errlen)) != RUNQ_OK)
		goto out;
	json_t *params_json = spec_summary_params(spec, sub->spec_len);
	char *params = json_dumps(params_json, JSON_COMPACT | JSON_REAL_PRECISION(10));
	json_decref(params_json);
	struct store_run_new r = {.name = name, .spec = spec, .notebook = sub->notebook,
				  .cell = sub->cell, .owner = owner, .params = params};
	int created = store_run_create(q->store, &r, id);
	free(params);
	if (created < 0) {
		snprintf(err, errlen, "cannot record the run");
		rc = RUNQ_EIO;
		goto out;
	}
	char dir[PATH_MAX], path[PATH_MAX + 16];
	runq_run_dir(q, *id, dir, sizeof dir);
	snprintf(path, sizeof path, "%s/spec.yaml", dir);
	if ((mkdir(dir, 0700) < 0 && errno != EEXIST) ||
	    atomic_write(path, spec, sub->spec_len, false, NULL, 0) < 0) {
		snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
		store_run_delete(q->store, *id);
		rc = RUNQ_EIO;
		goto out;
	}
	runq_record_need(q, *id, &need, est);
	runq_emit_status(q, *id, "queued", NULL);
	q->sched_dirty = true;
out:
	pthread_mutex_unlock(&q->lock);
	free(spec);
	if (rc == RUNQ_OK)
		wake(q);
	return rc;
}

static int run_status(struct runq *q, int64_t id, char *status, size_t len, char *err, size_t errlen)
{
	struct store_run_info info;
	if (store_run_info(q->store, id, &info) < 0) {
		snprintf(err, errlen, "no run r%lld", (long long)id);
		return RUNQ_ENOENT;
	}
	srv_strlcpy(status, info.status, len);
	store_run_info_free(&info);
	return RUNQ_OK;
}

/* Its owner too (empty when there is no such run). */
static void run_owner(struct runq *q, int64_t id, char *owner, size_t len)
{
	if (!store_run_owner(q->store, id, owner, len))
		owner[0] = '\0';
}

/*
 * End run `id`: with `by` NULL a stop (SIGTERM: the worker finishes its
 * step and checkpoints), else a kill by that user (SIGKILL now, no
 * checkpoint; the reap records it stopped with the reason).
 */
static int end_run(struct runq *q, int64_t id, const char *by, char *err, size_t errlen)
{
	char status[16], why[128];
	pthread_mutex_lock(&q->lock);
	int rc = run_status(q, id, status, sizeof status, err, errlen);
	struct runq_worker *w = runq_find_worker(q, id);
	struct store_run_info info = {0};
	if (rc) {
	} else if (w && !w->got_final && by) {
		snprintf(w->fail_reason, sizeof w->fail_reason, "killed by %s (no checkpoint was written)", by);
		w->stop_requested = true;
		w->kill_at_ms = 0;
		q->ex.kind->kill(&q->ex, w);
	} else if (w && !w->got_final) {
		if (!w->stop_requested)
			runq_worker_terminate(q, w);
	} else if (!strcmp(status, "queued") && store_run_info(q->store, id, &info) == 0 && info.evaluate) {
		/* An evaluation that had not started: the run is as it was. */
		store_run_set_evaluate(q->store, id, NULL);
		store_run_set_resume(q->store, id, NULL);
		runq_emit_restore(q, id, info.evaluate, "stopped before it started");
	} else if (!strcmp(status, "queued")) {
		snprintf(why, sizeof why, by ? "killed by %s before it started" : "stopped before it started", by);
		runq_emit_status(q, id, "stopped", why);
	} else if (!w && !strcmp(status, "running")) {
		/* Recorded as running, but no worker of ours runs it: say so and end it. */
		runq_emit_status(q, id, "stopped", by ? "killed; the server had lost its worker"
						    : "stopped; the server had lost its worker");
	} else {
		snprintf(err, errlen, "run r%lld is %s, not running", (long long)id, status);
		rc = RUNQ_ESTATE;
	}
	store_run_info_free(&info);
	pthread_mutex_unlock(&q->lock);
	if (rc == RUNQ_OK)
		wake(q);
	return rc;
}

int runq_stop(struct runq *q, int64_t id, char *err, size_t errlen)
{
	return end_run(q, id, NULL, err, errlen);
}

int runq_kill(struct runq *q, int64_t id, const char *by, char *err, size_t errlen)
{
	return end_run(q, id, by, err, errlen);
}

/*
 * A run may start again (resume, evaluate) once it has ended, and when its
 * owner's quotas would let it be submitted now. A worker
 * that already reported how it ended may still be exiting: that is fine,
 * the scheduler starts the run once it is reaped (it skips runs that still
 * have a worker). Caller holds q->lock.
 */
static int check_ended(struct runq *q, int64_t id, const char *what, char *status, size_t len, char *err,
		       size_t errlen)
{
	int rc = run_status(q, id, status, len, err, errlen);
	if (rc)
		return rc;
	struct runq_worker *w = runq_find_worker(q, id);
	if ((w && !w->got_final) || !strcmp(status, "queued") || (w && !strcmp(status, "running"))) {
		snprintf(err, errlen, "run r%lld is %s; it can %s once it has ended", (long long)id, status, what);
		return RUNQ_ESTATE;
	}
	/* Back in the queue is a new submission as far as quotas go. */
	struct store_run_info info;
	if (store_run_info(q->store, id, &info) == 0) {
		struct runq_need need;
		char why[256];
		bool gpu = runq_classify(info.spec, strlen(info.spec), q->cfg.gpu_count, &need, why, sizeof why) ==
				   RUNQ_OK &&
			   need.gpu;
		rc = runq_quota_check(q, info.owner, gpu, err, errlen);
		store_run_info_free(&info);
	}
	return rc;
}

/*
 * The path of checkpoint `file` of run `id`, only inside the run's
 * directory; without a file, its newest checkpoint, or "" when it has none
 * and that is fine (`required` false: resume starts over). Caller holds
 * q->lock.
 */
static int pick_checkpoint(struct runq *q, int64_t id, const char *file, bool required, char *ckpt, size_t len,
			   char *err, size_t errlen)
{
	char dir[PATH_MAX], real[PATH_MAX];
	if (!file) {
		ckpt[0] = '\0';
		if (store_last_checkpoint(q->store, id, ckpt, len) < 0 && required) {
			snprintf(err, errlen, "run r%lld has no checkpoint", (long long)id);
			return RUNQ_ENOENT;
		}
		return RUNQ_OK;
	}
	runq_run_dir(q, id, dir, sizeof dir);
	if (store_checkpoint_path(q->store, id, file, ckpt, len) < 0 || !realpath(ckpt, real) ||
	    !srv_path_inside(dir, real)) {
		snprintf(err, errlen, "run r%lld has no checkpoint %s", (long long)id, file);
		return RUNQ_ENOENT;
	}
	return RUNQ_OK;
}

/* The run waits for a slot again: {"status":"queued", <why>: checkpoint file or null}. Caller holds q->lock. */
static void queue_again(struct runq *q, int64_t id, const char *why, const char *ckpt)
{
	json_t *ev = json_pack("{s:s, s:s}", "type", "status", "status", "queued");
	const char *base = strrchr(ckpt, '/');
	json_object_set_new(ev, why, ckpt[0] ? json_string(base ? base + 1 : ckpt) : json_null());
	runq_emit(q, id, ev);
	json_decref(ev);
	if (q->hooks.run_changed)
		q->hooks.run_changed(q->hooks.ctx, id);
	q->sched_dirty = true;
}

int runq_resume(struct runq *q, int64_t id, const char *checkpoint_file, char *err, size_t errlen)
{
	char status[16], ckpt[PATH_MAX] = "";
	pthread_mutex_lock(&q->lock);
	/* A completed run may resume too: from its last checkpoint there is
	 * nothing left to train and the worker ends at once (evaluating a
	 * checkpoint is runq_evaluate). */
	int rc = check_ended(q, id, "resume", status, sizeof status, err, errlen);
	if (rc || (rc = pick_checkpoint(q, id, checkpoint_file, false, ckpt, sizeof ckpt, err, errlen)))
		goto out;
	store_run_set_resume(q->store, id, ckpt[0] ? ckpt : NULL);
	queue_again(q, id, "resume", ckpt);
out:
	pthread_mutex_unlock(&q->lock);
	if (rc == RUNQ_OK)
		wake(q);
	return rc;
}

int runq_evaluate(struct runq *q, int64_t id, const char *checkpoint_file, char *err, size_t errlen)
{
	char status[16], ckpt[PATH_MAX] = "";
	pthread_mutex_lock(&q->lock);
	struct store_run_info info = {0};
	int rc = check_ended(q, id, "be evaluated", status, sizeof status, err, errlen);
	if (rc || (rc = pick_checkpoint(q, id, checkpoint_file, true, ckpt, sizeof ckpt, err, errlen)))
		goto out;
	/* What the run goes back to when the evaluation ends, however it ends. */
	store_run_info(q->store, id, &info);
	json_t *restore = json_pack("{s:s, s:o}", "status", status, "reason",
				    info.reason ? json_string(info.reason) : json_null());
	char *text = json_dumps(restore, JSON_COMPACT);
	json_decref(restore);
	store_run_set_resume(q->store, id, ckpt);
	store_run_set_evaluate(q->store, id, text);
	free(text);
	queue_again(q, id, "evaluate", ckpt);
out:
	store_run_info_free(&info);
	pthread_mutex_unlock(&q->lock);
	if (rc == RUNQ_OK)
		wake(q);
	return rc;
}

void runq_changed(struct runq *q, int64_t id)
{
	if (q->hooks.run_changed)
		q->hooks.run_changed(q->hooks.ctx, id);
}

int runq_delete(struct runq *q, int64_t id, char *err, size_t errlen)
{
	char status[16], dir[PATH_MAX], owner[64];
	pthread_mutex_lock(&q->lock);
	run_owner(q, id, owner, sizeof owner);
	int rc = run_status(q, id, status, sizeof status, err, errlen);
	if (rc == RUNQ_OK) {
		struct runq_worker *w = runq_find_worker(q, id);
		if (store_run_delete(q->store, id) < 0) {
			snprintf(err, errlen, "cannot delete the records of r%lld", (long long)id);
			rc = RUNQ_EIO;
		} else if (w) {
			/* A deleted run needs no checkpoint: kill now, remove the dir at reap. */
			w->deleting = true;
			q->ex.kind->kill(&q->ex, w);
		} else {
			runq_run_dir(q, id, dir, sizeof dir);
			srv_rmtree(dir);
		}
	}
	pthread_mutex_unlock(&q->lock);
	if (rc == RUNQ_OK && q->hooks.run_deleted)
		q->hooks.run_deleted(q->hooks.ctx, id, owner);
	else if (rc == RUNQ_OK && q->hooks.run_changed)
		q->hooks.run_changed(q->hooks.ctx, id);
	return rc;
}

void runq_reschedule(struct runq *q)
{
	pthread_mutex_lock(&q->lock);
	q->sched_dirty = true;
	pthread_mutex_unlock(&q->lock);
	wake(q);
}

void runq_set_report_url(struct runq *q, const char *url)
{
	struct exec_config *c = &q->ex.cfg;
	if (!c->report_url[0])
		srv_strlcpy(c->report_url, url, sizeof c->report_url);
	size_t n = strlen(c->report_url);
	if (n && c->report_url[n - 1] != '/' && n + 1 < sizeof c->report_url)
		strcat(c->report_url, "/");
}

int64_t runq_run_of_pid(struct runq *q, int pid)
{
	int64_t run = 0;
	pthread_mutex_lock(&q->lock);
	for (int i = 0; i < q->nworkers; i++)
		if (q->workers[i]->pid == pid)
			run = q->workers[i]->run;
	pthread_mutex_unlock(&q->lock);
	return run;
}

/* Constant time: how long a comparison takes must not tell how much of a guess was right. */
static bool secret_equal(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	unsigned diff = la != lb;
	for (size_t i = 0; i < la && i < lb; i++)
		diff |= (unsigned char)a[i] ^ (unsigned char)b[i];
	return diff == 0;
}

int runq_worker_post(struct runq *q, int64_t run, const char *secret, int64_t first, const char *body,
		     size_t len, int64_t *have, int64_t *taken, char *err, size_t errlen)
{
	*have = *taken = 0;
	pthread_mutex_lock(&q->lock);
	int rc = RUNQ_OK;
	struct runq_worker *w = runq_find_worker(q, run);
	if (!w || !w->remote || w->deleting) {
		struct store_run_info info;
		bool exists = store_run_info(q->store, run, &info) == 0;
		bool denied = exists && (!secret || !info.job_secret[0] || !secret_equal(secret, info.job_secret));
		if (exists)
			store_run_info_free(&info);
		/* A stranger learns nothing about which runs exist. */
		rc = !exists || denied ? RUNQ_EDENIED : RUNQ_EGONE;
		snprintf(err, errlen, rc == RUNQ_EGONE ? "run r%lld has ended; its worker may stop" : "wrong run or secret",
			 (long long)run);
		goto out;
	}
	if (!secret || !secret_equal(secret, w->secret)) {
		snprintf(err, errlen, "wrong run or secret");
		rc = RUNQ_EDENIED;
		goto out;
	}
	if (runq_worker_take(q, w, first, body, len) < 0) {
		snprintf(err, errlen, "events from %lld would leave a gap: the server has 1..%lld", (long long)first,
			 (long long)w->wseq_in);
		rc = RUNQ_EGAP;
	}
	w->file_off = -1; /* the events file is read again from the start when followed */
	runq_flush(q);
	*have = w->wseq_done;
	*taken = w->wseq_in;
	if (w->fold.last)
		wake(q); /* folded metrics go out when the rate allows: the supervisor keeps time */
out:
	pthread_mutex_unlock(&q->lock);
	return rc;
}
