/*
 * runq_worker.c — one worker process: spawn it with its stdout on a pipe
 * and stderr in worker.log, turn its JSON lines into stored events, notice
 * hangs and garbage, and record how it ended (see runq.h for the rules).
 *
 * Threads: the supervisor thread, with q->lock held, except runq_spawn's
 * child between fork and exec, which only makes async-signal-safe calls.
 */
#include "runq_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "atomic_file.h"
#include "store.h"
#include "tb.h"
#include "util.h"

extern char **environ;

#define RUNQ_READ_CHUNK 65536
#define RUNQ_CHANGED_EVERY_MS 1000 /* progress-only run updates, at most this often */
#define RUNQ_HUNG_GRACE_MS 10000   /* SIGTERM to SIGKILL for a hung worker */

/*
 * OpenMP threads for a CPU run when several may run side by side: an equal
 * share of the cores (OpenBLAS and the engine's loops both read
 * OMP_NUM_THREADS). Oversubscribed OpenMP threads spin at every barrier:
 * one busy neighbour made a 2-thread CNN step 3.8x slower (12.5 -> 47 ms,
 * tests/bench/results/cpu-2026-11-23-2.md). 0: leave the default (all
 * cores), as with one CPU slot, a GPU run, or an OMP_NUM_THREADS the server
 * was started with. A spec's train.threads still wins inside the worker.
 */
static int cpu_share(const struct runq *q, const struct runq_need *need)
{
	if (need->gpu || q->cfg.cpu_runs <= 1 || getenv("OMP_NUM_THREADS"))
		return 0;
	long cores = sysconf(_SC_NPROCESSORS_ONLN);
	return cores / q->cfg.cpu_runs > 1 ? (int)(cores / q->cfg.cpu_runs) : 1;
}

/* Environment for the child, built before fork (setenv is not fork-safe). */
static char **child_env(const int *gpus, int ngpus, char *cvd, size_t cvdlen, int omp_threads, char *omp,
			size_t omplen)
{
	size_t n = 0;
	while (environ[n])
		n++;
	char **env = tb_xcalloc(n + 3, sizeof *env);
	size_t k = 0;
	for (size_t i = 0; i < n; i++)
		if (strncmp(environ[i], "CUDA_VISIBLE_DEVICES=", 21))
			env[k++] = environ[i];
	if (ngpus > 0) {
		size_t off = (size_t)snprintf(cvd, cvdlen, "CUDA_VISIBLE_DEVICES=");
		for (int i = 0; i < ngpus && off < cvdlen; i++)
			off += (size_t)snprintf(cvd + off, cvdlen - off, "%s%d", i ? "," : "", gpus[i]);
		env[k++] = cvd;
	}
	if (omp_threads > 0) {
		snprintf(omp, omplen, "OMP_NUM_THREADS=%d", omp_threads);
		env[k++] = omp;
	}
	env[k] = NULL;
	return env;
}

int runq_spawn(struct runq *q, int64_t run, const struct runq_need *need, const int *gpus,
	       const char *spec, const char *resume, char *err, size_t errlen)
{
	char dir[PATH_MAX], spec_path[PATH_MAX + 16], log_path[PATH_MAX + 16], cvd[128], omp[32];
	runq_run_dir(q, run, dir, sizeof dir);
	snprintf(spec_path, sizeof spec_path, "%s/spec.yaml", dir);
	snprintf(log_path, sizeof log_path, "%s/worker.log", dir);
	int pipefd[2] = {-1, -1}, log_fd = -1, null_fd = -1;
	char **env = NULL;
	/* The run dir may have been removed by hand; the spec lives in the store. */
	if ((mkdir(dir, 0700) < 0 && errno != EEXIST) ||
	    atomic_write(spec_path, spec, strlen(spec), false, NULL, 0) < 0) {
		snprintf(err, errlen, "cannot write %s: %s", spec_path, strerror(errno));
		return -1;
	}
	struct runq_worker *w = tb_xcalloc(1, sizeof *w);
	if (!realpath(dir, w->run_dir)) {
		snprintf(err, errlen, "%s: %s", dir, strerror(errno));
		goto fail;
	}
	log_fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (log_fd < 0 || null_fd < 0 || pipe2(pipefd, O_CLOEXEC) < 0) {
		snprintf(err, errlen, "cannot set up the worker's output: %s", strerror(errno));
		goto fail;
	}
	const char *argv[10];
	int argc = 0;
	if (q->worker_cmd[0]) {
		argv[argc++] = q->worker_cmd;
	} else {
		argv[argc++] = q->exe;
		argv[argc++] = "worker";
	}
	argv[argc++] = spec_path;
	argv[argc++] = "--out";
	argv[argc++] = w->run_dir;
	if (resume) {
		argv[argc++] = "--resume";
		argv[argc++] = resume;
	}
	argv[argc] = NULL;
	w->ngpus = need->gpu ? (need->gpu_index >= 0 ? 1 : need->ngpus) : 0;
	memcpy(w->gpus, gpus, (size_t)w->ngpus * sizeof *gpus);
	/* cuda:N keeps its own numbering; "cuda"/"auto" see only the GPUs we chose. */
	env = child_env(w->gpus, need->gpu_index >= 0 ? 0 : w->ngpus, cvd, sizeof cvd, cpu_share(q, need), omp,
			sizeof omp);
	pid_t parent = getpid();
	pid_t pid = fork();
	if (pid < 0) {
		snprintf(err, errlen, "fork: %s", strerror(errno));
		goto fail;
	}
	if (pid == 0) {
		sigset_t none;
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		struct sigaction dfl = {.sa_handler = SIG_DFL};
		sigaction(SIGPIPE, &dfl, NULL);
		sigaction(SIGTERM, &dfl, NULL);
		sigaction(SIGINT, &dfl, NULL);
		/* Die with the server: a kill -9 of it must not leave trainers behind. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(1);
		/* Own process group: Ctrl-C in the server's terminal reaches only the
		 * server, which then stops workers in order (checkpoint first). */
		setpgid(0, 0);
		dup2(null_fd, STDIN_FILENO);
		dup2(pipefd[1], STDOUT_FILENO);
		dup2(log_fd, STDERR_FILENO);
		syscall(SYS_close_range, 3u, ~0u, 0u);
		execve(argv[0], (char *const *)argv, env);
		static const char msg[] = "trainbook: cannot execute the worker\n";
		ssize_t n = write(STDERR_FILENO, msg, sizeof msg - 1);
		(void)n;
		_exit(127);
	}
	close(pipefd[1]);
	close(log_fd);
	close(null_fd);
	free(env);
	fcntl(pipefd[0], F_SETFL, O_NONBLOCK);
	w->run = run;
	w->pid = pid;
	w->out_fd = pipefd[0];
	w->need = *need;
	w->last_event_ms = srv_mono_ms();
	if (need->gpu)
		for (int i = 0; i < w->ngpus; i++)
			q->gpu_busy[w->gpus[i]]++;
	else
		q->cpu_busy++;
	q->workers[q->nworkers++] = w;
	store_run_set_pid(q->store, run, pid);
	store_run_set_resume(q->store, run, NULL);
	srv_log("run r%lld: worker %d started%s%s", (long long)run, (int)pid,
		resume ? " resuming from " : "", resume ? resume : "");
	return 0;
fail:
	if (pipefd[0] >= 0)
		close(pipefd[0]);
	if (pipefd[1] >= 0)
		close(pipefd[1]);
	if (log_fd >= 0)
		close(log_fd);
	if (null_fd >= 0)
		close(null_fd);
	free(env);
	free(w);
	return -1;
}

void runq_worker_terminate(struct runq *q, struct runq_worker *w)
{
	w->stop_requested = true;
	kill(w->pid, SIGTERM);
	w->kill_at_ms = srv_mono_ms() + (int64_t)q->cfg.stop_timeout * 1000;
}

/* The worker broke the contract: end it now, say why at reap. */
static void kill_for(struct runq_worker *w, const char *fmt, const char *detail)
{
	if (!w->fail_reason[0])
		snprintf(w->fail_reason, sizeof w->fail_reason, fmt, detail);
	kill(w->pid, SIGKILL);
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

static void handle_line(struct runq *q, struct runq_worker *w, char *line, size_t len)
{
	while (len && (line[len - 1] == '\r' || line[len - 1] == ' ' || line[len - 1] == '\t'))
		len--;
	if (len == 0)
		return;
	if (w->deleting)
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
		kill_for(w, "the worker wrote a line that is not a JSON event: %s", head);
		json_decref(ev);
		return;
	}
	w->last_event_ms = srv_mono_ms();
	bool rewritten = false, changed = false;
	if (!strcmp(type, "checkpoint")) {
		check_checkpoint_path(w, ev, &rewritten);
		changed = true;
	} else if (!strcmp(type, "status")) {
		const char *st = json_string_value(json_object_get(ev, "status"));
		if (st && (!strcmp(st, "completed") || !strcmp(st, "failed") || !strcmp(st, "stopped")))
			w->got_final = true;
		changed = true;
	} else if (!strcmp(type, "summary")) {
		changed = true;
	} else if (!strcmp(type, "metric")) {
		int64_t now = srv_mono_ms();
		if (now - w->changed_sent_ms >= RUNQ_CHANGED_EVERY_MS) {
			w->changed_sent_ms = now;
			changed = true;
		}
	}
	char *text = rewritten ? json_dumps(ev, JSON_COMPACT | JSON_REAL_PRECISION(10)) : NULL;
	const char *body = text ? text : line;
	size_t body_len = text ? strlen(text) : len;
	int64_t seq;
	if (store_append_event(q->store, w->run, body, body_len, ev, &seq) == 0) {
		if (q->hooks.event)
			q->hooks.event(q->hooks.ctx, w->run, seq, body, body_len);
		if (changed && q->hooks.run_changed)
			q->hooks.run_changed(q->hooks.ctx, w->run);
	}
	free(text);
	json_decref(ev);
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
			kill_for(w, "the worker wrote an event line longer than %s", "1 MiB");
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

void runq_worker_timers(struct runq *q, struct runq_worker *w, int64_t now_ms)
{
	if (w->kill_at_ms && now_ms >= w->kill_at_ms) {
		kill(w->pid, SIGKILL);
		w->kill_at_ms = 0;
		if (!w->fail_reason[0] && !w->hung)
			snprintf(w->fail_reason, sizeof w->fail_reason,
				 "killed: the worker did not stop within %d s of SIGTERM", q->cfg.stop_timeout);
	}
	if (!w->hung && !w->got_final && !w->stop_requested && w->out_fd >= 0 &&
	    now_ms - w->last_event_ms > (int64_t)q->cfg.worker_timeout * 1000) {
		w->hung = true;
		snprintf(w->fail_reason, sizeof w->fail_reason,
			 "the worker sent no event for %d s and was stopped as hung", q->cfg.worker_timeout);
		kill(w->pid, SIGTERM);
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
	if (w->need.gpu)
		for (int i = 0; i < w->ngpus; i++)
			q->gpu_busy[w->gpus[i]]--;
	else
		q->cpu_busy--;
	if (w->out_fd >= 0)
		close(w->out_fd);
	free(w->line);
	free(w);
}

bool runq_worker_reap(struct runq *q, struct runq_worker *w)
{
	int wstatus;
	pid_t r = waitpid(w->pid, &wstatus, WNOHANG);
	if (r == 0 || (r < 0 && errno == EINTR))
		return false;
	/* Drain what the pipe still holds: the final status may be in it. A
	 * grandchild may keep the pipe open; then stop at the first EAGAIN. */
	while (w->out_fd >= 0 && runq_worker_read(q, w) > 0)
		;
	char reason[1024], tail[256];
	const char *status = NULL;
	if (w->deleting) {
		srv_rmtree(w->run_dir);
		srv_log("run r%lld: deleted", (long long)w->run);
		release(q, w);
		return true;
	}
	if (w->garbage) {
		status = "failed";
		snprintf(reason, sizeof reason, "%s", w->fail_reason);
	} else if (w->hung) {
		/* Even if it checkpointed and said "stopped" on SIGTERM: nobody
		 * asked it to stop, and the reason is what the user needs. */
		status = "failed";
		snprintf(reason, sizeof reason, "%s", w->fail_reason);
	} else if (w->got_final) {
		status = NULL; /* the worker said how it ended */
	} else if (w->stop_requested) {
		status = "stopped";
		snprintf(reason, sizeof reason, "%s",
			 w->fail_reason[0] ? w->fail_reason : "stopped before it wrote a final status");
	} else {
		status = "failed";
		log_tail(w->run_dir, tail, sizeof tail);
		if (r < 0)
			snprintf(reason, sizeof reason, "the worker's exit status was lost");
		else if (WIFSIGNALED(wstatus))
			snprintf(reason, sizeof reason, "the worker was killed by signal %d (%s)%s%s",
				 WTERMSIG(wstatus), strsignal(WTERMSIG(wstatus)), tail[0] ? "; last log line: " : "",
				 tail);
		else if (WEXITSTATUS(wstatus) != 0)
			snprintf(reason, sizeof reason, "the worker exited with code %d without a final status%s%s",
				 WEXITSTATUS(wstatus), tail[0] ? "; last log line: " : "", tail);
		else
			snprintf(reason, sizeof reason, "the worker exited without reporting a final status");
	}
	if (status)
		runq_emit_status(q, w->run, status, reason);
	store_run_set_pid(q->store, w->run, 0);
	if (r > 0 && WIFSIGNALED(wstatus))
		srv_log("run r%lld: worker %d ended by signal %d", (long long)w->run, (int)w->pid,
			WTERMSIG(wstatus));
	else if (r > 0)
		srv_log("run r%lld: worker %d exited with code %d", (long long)w->run, (int)w->pid,
			WEXITSTATUS(wstatus));
	if (q->hooks.run_changed)
		q->hooks.run_changed(q->hooks.ctx, w->run);
	release(q, w);
	return true;
}
