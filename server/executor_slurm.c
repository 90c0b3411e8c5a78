/*
 * executor_slurm.c — the `slurm` executor: one sbatch job per run start,
 * whose worker (the engine-only binary, under srun) appends its events to
 * <run dir>/events.jsonl on the shared file system and sends them home
 * over HTTP with the run's secret (engine/report.c → routes_worker.c).
 * Stop is `scancel --signal=TERM` (the worker checkpoints and says
 * "stopped"), kill is `scancel`; squeue tells the job's state, its pending
 * reason and queue position; how a job ended comes from `scontrol show
 * job`, or from `sacct` once slurmctld has forgotten it. Jobs outlive the
 * server: after a restart the runs are re-attached and their workers
 * reconnect. docs/slurm.md has the settings and the picture.
 *
 * What it is not: a scheduler. Which run goes to Slurm next is scheduler.c's
 * decision (fair share among our users, their quotas, at most
 * slurm-max-jobs handed over at once); placement on nodes and Slurm's own
 * fair share are Slurm's.
 *
 * Threads: the supervisor thread (start, tick, ended, reattach) and API
 * threads (stop, kill), all with q->lock held. Every Slurm command runs to
 * completion under that lock, bounded by SLURM_CMD_TIMEOUT_MS; squeue and
 * scancel answer in tens of milliseconds on a healthy controller.
 */
#include "runq_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "atomic_file.h"
#include "store.h"
#include "tb.h"

extern char **environ;

#define SLURM_CMD_TIMEOUT_MS 30000
#define SLURM_OUT_MAX (1u << 20) /* output of one command we read */
#define SLURM_MAX_ARGS (40 + CFG_MAX_EXTRA_ARGS)

struct slurm {
	char worker[PATH_MAX]; /* engine binary the job runs */
	int64_t next_poll_ms;
	struct srv_log_limit log; /* squeue failures, rate-limited */
};

/*
 * How a job state ends a run. `status` is used when the worker did not say
 * how it ended, or said "stopped" without being asked (the cluster sent
 * the SIGTERM): then the user needs Slurm's reason. NULL: the worker's own
 * final status stands. Not in the table: still live (PENDING, RUNNING,
 * COMPLETING, CONFIGURING, SUSPENDED, …).
 */
static const struct {
	const char *state;
	const char *status;
	const char *words;
} job_ends[] = {
	{"COMPLETED", NULL, "completed"},
	{"FAILED", "failed", "failed"},
	{"OUT_OF_MEMORY", "failed", "ran out of memory"},
	{"BOOT_FAIL", "interrupted", "could not boot its node"},
	{"CANCELLED", "interrupted", "was cancelled"},
	{"TIMEOUT", "interrupted", "reached its time limit"},
	{"NODE_FAIL", "interrupted", "lost its node"},
	{"PREEMPTED", "interrupted", "was preempted"},
	{"DEADLINE", "interrupted", "passed its deadline"},
};

static int job_end_index(const char *state)
{
	for (size_t i = 0; i < TB_ARRAY_LEN(job_ends); i++)
		if (!strcmp(state, job_ends[i].state))
			return (int)i;
	return -1;
}

/* ---- running a Slurm command ------------------------------------------------------ */

/* The server's environment without its token: sbatch passes it on to the job. */
static char **tool_env(void)
{
	size_t n = 0;
	while (environ[n])
		n++;
	char **env = tb_xcalloc(n + 1, sizeof *env);
	size_t k = 0;
	for (size_t i = 0; i < n; i++)
		if (strncmp(environ[i], "TRAINBOOK_", 10))
			env[k++] = environ[i];
	return env;
}

/*
 * Run argv (found in PATH) with stdout and stderr captured into out (NUL
 * terminated, at most SLURM_OUT_MAX). Returns its exit code, or -1 with
 * err when it could not run or took longer than SLURM_CMD_TIMEOUT_MS.
 */
static int run_tool(const char *const *argv, char **out, char *err, size_t errlen)
{
	*out = NULL;
	int pipefd[2];
	if (pipe2(pipefd, O_CLOEXEC) < 0) {
		snprintf(err, errlen, "pipe: %s", strerror(errno));
		return -1;
	}
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, pipefd[1], STDOUT_FILENO);
	posix_spawn_file_actions_adddup2(&fa, pipefd[1], STDERR_FILENO);
	posix_spawnattr_t attr;
	posix_spawnattr_init(&attr);
	sigset_t none;
	sigemptyset(&none);
	posix_spawnattr_setsigmask(&attr, &none);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK);
	char **env = tool_env();
	pid_t pid;
	int rc = posix_spawnp(&pid, argv[0], &fa, &attr, (char *const *)argv, env);
	free(env);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	close(pipefd[1]);
	if (rc != 0) {
		close(pipefd[0]);
		snprintf(err, errlen, "cannot run %s: %s", argv[0], strerror(rc));
		return -1;
	}
	struct srv_buf buf = {0};
	int64_t deadline = srv_mono_ms() + SLURM_CMD_TIMEOUT_MS;
	bool timed_out = false;
	char chunk[4096];
	for (;;) {
		int64_t left = deadline - srv_mono_ms();
		struct pollfd pfd = {.fd = pipefd[0], .events = POLLIN};
		if (left <= 0 || poll(&pfd, 1, (int)left) == 0) {
			timed_out = true;
			kill(pid, SIGKILL);
			break;
		}
		ssize_t n = read(pipefd[0], chunk, sizeof chunk);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if (buf.len + (size_t)n <= SLURM_OUT_MAX)
			srv_buf_append(&buf, chunk, (size_t)n);
	}
	close(pipefd[0]);
	int wstatus = 0;
	while (waitpid(pid, &wstatus, 0) < 0 && errno == EINTR)
		;
	srv_buf_append(&buf, "", 1);
	*out = srv_buf_steal(&buf);
	if (timed_out) {
		snprintf(err, errlen, "%s did not answer within %d s", argv[0], SLURM_CMD_TIMEOUT_MS / 1000);
		return -1;
	}
	return WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : -1;
}

/* The first line of a command's output, for error messages. */
static void first_line(const char *text, char *out, size_t outlen)
{
	snprintf(out, outlen, "%.*s", (int)strcspn(text ? text : "", "\n"), text ? text : "");
}

static bool in_path(const char *tool)
{
	const char *path = getenv("PATH");
	char cand[PATH_MAX];
	for (const char *p = path ? path : "/usr/bin:/bin"; *p;) {
		size_t n = strcspn(p, ":");
		snprintf(cand, sizeof cand, "%.*s/%s", (int)n, p, tool);
		if (access(cand, X_OK) == 0)
			return true;
		p += n + (p[n] == ':');
	}
	return false;
}

/* ---- the kind's slots -------------------------------------------------------------- */

static int slurm_open(struct executor *ex, char *err, size_t errlen)
{
	static const char *const tools[] = {"sbatch", "squeue", "scancel", "scontrol"};
	for (size_t i = 0; i < TB_ARRAY_LEN(tools); i++)
		if (!in_path(tools[i])) {
			snprintf(err, errlen, "executor slurm: %s is not in PATH (install Slurm's client commands)",
				 tools[i]);
			return -1;
		}
	struct slurm *s = tb_xcalloc(1, sizeof *s);
	const struct runq *q = ex->q;
	if (ex->cfg.worker[0]) {
		srv_strlcpy(s->worker, ex->cfg.worker, sizeof s->worker);
	} else {
		/* The engine-only binary beside this one needs none of the server's libraries. */
		char dir[PATH_MAX];
		srv_strlcpy(dir, q->exe, sizeof dir);
		char *slash = strrchr(dir, '/');
		if (slash)
			*slash = '\0';
		snprintf(s->worker, sizeof s->worker, "%s/trainbook-engine", slash ? dir : ".");
		if (access(s->worker, X_OK) != 0)
			srv_strlcpy(s->worker, q->exe, sizeof s->worker);
	}
	ex->priv = s;
	return 0;
}

static void slurm_close(struct executor *ex)
{
	free(ex->priv);
	ex->priv = NULL;
}

static struct exec_capacity slurm_capacity(const struct executor *ex, const struct runq *q)
{
	(void)q;
	return (struct exec_capacity){.places_gpus = false, .jobs = ex->cfg.max_jobs, .gpus = ex->cfg.gpus_per_node};
}

/* 'text' for sh, with ' inside written as '\'' */
static void sh_quote(struct srv_buf *b, const char *text)
{
	srv_buf_puts(b, "'");
	for (const char *p = text; *p; p++) {
		if (*p == '\'')
			srv_buf_puts(b, "'\\''");
		else
			srv_buf_append(b, p, 1);
	}
	srv_buf_puts(b, "'");
}

/* <run dir>/job.sh: what the job runs, readable by whoever debugs a run. */
static int write_job_script(struct executor *ex, struct runq_worker *w, const struct exec_start *st, char *path,
			    size_t pathlen)
{
	struct slurm *s = ex->priv;
	const struct runq *q = ex->q;
	char rid[32], url[768], tmp[PATH_MAX + 64];
	store_format_run_id(st->run, rid, sizeof rid);
	struct srv_buf b = {0};
	srv_buf_printf(&b, "#!/bin/sh\n# trainbook run %s: written by the server, submitted with sbatch.\n", rid);
	if (!st->need->gpu)
		srv_buf_puts(&b, "export OMP_NUM_THREADS=\"${SLURM_CPUS_PER_TASK:-1}\"\n");
	srv_buf_puts(&b, "export TRAINBOOK_RENDEZVOUS=");
	snprintf(tmp, sizeof tmp, "%s/rendezvous.bin", st->run_dir);
	sh_quote(&b, tmp);
	srv_buf_puts(&b, "\nrm -f \"$TRAINBOOK_RENDEZVOUS\"\nexec srun --kill-on-bad-exit=1 ");
	sh_quote(&b, s->worker);
	srv_buf_puts(&b, " worker ");
	sh_quote(&b, st->spec_path);
	srv_buf_puts(&b, " --out ");
	sh_quote(&b, st->run_dir);
	srv_buf_puts(&b, " --events-file ");
	snprintf(tmp, sizeof tmp, "%s/%s", st->run_dir, q->events_file);
	sh_quote(&b, tmp);
	if (strcmp(ex->cfg.events, "file")) {
		snprintf(url, sizeof url, "%sapi/worker/runs/%s/events", ex->cfg.report_url, rid);
		srv_buf_puts(&b, " --report ");
		sh_quote(&b, url);
		srv_buf_puts(&b, " --secret-file ");
		snprintf(tmp, sizeof tmp, "%s/worker.secret", st->run_dir);
		sh_quote(&b, tmp);
	}
	if (st->resume) {
		srv_buf_puts(&b, st->evaluate ? " --evaluate " : " --resume ");
		sh_quote(&b, st->resume);
	}
	/* cuda:N names a GPU of the server's; on a node Slurm picks the GPU. */
	if (st->need->gpu && st->need->gpu_index >= 0)
		srv_buf_puts(&b, " --set train.device=cuda");
	srv_buf_puts(&b, "\n");
	snprintf(path, pathlen, "%s/job.sh", st->run_dir);
	int rc = atomic_write(path, b.data, b.len, false, NULL, 0);
	srv_buf_free(&b);
	if (rc == 0)
		rc = chmod(path, 0700);
	(void)w;
	return rc;
}

static int slurm_start(struct executor *ex, struct runq_worker *w, const struct exec_start *st, char *err,
		       size_t errlen)
{
	const struct exec_config *c = &ex->cfg;
	char script[PATH_MAX + 16], secret_path[PATH_MAX + 16], log_path[PATH_MAX + 16];
	if (strcmp(c->events, "file") && !c->report_url[0]) {
		snprintf(err, errlen, "executor slurm: no address for workers to send events to (slurm-report-url)");
		return -1;
	}
	snprintf(secret_path, sizeof secret_path, "%s/worker.secret", st->run_dir);
	if (atomic_write(secret_path, st->secret, strlen(st->secret), false, NULL, 0) < 0 ||
	    chmod(secret_path, 0600) < 0 || write_job_script(ex, w, st, script, sizeof script) < 0) {
		snprintf(err, errlen, "cannot write the job's files in %s: %s", st->run_dir, strerror(errno));
		return -1;
	}
	snprintf(log_path, sizeof log_path, "%s/worker.log", st->run_dir);
	char rid[32], name[48], opt[SLURM_MAX_ARGS][320];
	store_format_run_id(st->run, rid, sizeof rid);
	snprintf(name, sizeof name, "trainbook-%s", rid);
	const char *argv[SLURM_MAX_ARGS + 2];
	int argc = 0, nopt = 0;
#define OPT(...) (snprintf(opt[nopt], sizeof opt[nopt], __VA_ARGS__), argv[argc++] = opt[nopt++])
	argv[argc++] = "sbatch";
	argv[argc++] = "--parsable";
	OPT("--job-name=%s", name);
	OPT("--chdir=%s", st->run_dir);
	OPT("--output=%s", log_path);
	argv[argc++] = "--open-mode=append";
	/* A requeued job would train again from the start and number its
	 * events from 1 once more; a resume is the server's to decide. */
	argv[argc++] = "--no-requeue";
	int nodes = st->need->nodes > 0 ? st->need->nodes : 1;
	OPT("--nodes=%d", nodes);
	argv[argc++] = "--ntasks-per-node=1";
	int cpus = c->cpus_per_task;
	if (!st->need->gpu && st->need->devices > cpus)
		cpus = st->need->devices; /* CPU replicas (train.devices) want a core each */
	OPT("--cpus-per-task=%d", cpus);
	if (st->need->gpu && c->gres[0]) {
		char gres[160];
		const char *at = strstr(c->gres, "{devices}");
		if (at)
			snprintf(gres, sizeof gres, "%.*s%d%s", (int)(at - c->gres), c->gres, w->ngpus, at + 9);
		else
			snprintf(gres, sizeof gres, "%s", c->gres);
		OPT("--gres=%s", gres);
	}
	if (c->partition[0])
		OPT("--partition=%s", c->partition);
	if (c->account[0])
		OPT("--account=%s", c->account);
	if (c->qos[0])
		OPT("--qos=%s", c->qos);
	if (c->time_limit[0])
		OPT("--time=%s", c->time_limit);
	for (int i = 0; i < c->nextra_args; i++)
		argv[argc++] = c->extra_args[i];
	argv[argc++] = script;
	argv[argc] = NULL;
#undef OPT
	char *out = NULL, msg[256];
	int rc = run_tool(argv, &out, err, errlen);
	if (rc != 0) {
		first_line(out, msg, sizeof msg);
		if (rc > 0)
			snprintf(err, errlen, "sbatch refused the job: %s", msg[0] ? msg : "(no message)");
		free(out);
		return -1;
	}
	size_t digits = strspn(out, "0123456789");
	if (digits == 0 || digits >= sizeof w->job) {
		first_line(out, msg, sizeof msg);
		snprintf(err, errlen, "sbatch answered without a job id: %s", msg);
		free(out);
		return -1;
	}
	snprintf(w->job, sizeof w->job, "%.*s", (int)digits, out);
	free(out);
	snprintf(w->job_state, sizeof w->job_state, "PENDING");
	srv_log("run r%lld: Slurm job %s submitted%s%s", (long long)st->run, w->job,
		st->resume ? (st->evaluate ? " evaluating " : " resuming from ") : "", st->resume ? st->resume : "");
	return 0;
}

static void scancel(struct runq_worker *w, bool term)
{
	const char *argv[] = {"scancel", term ? "--signal=TERM" : w->job, term ? w->job : NULL, NULL};
	char *out = NULL, err[256];
	int rc = run_tool(argv, &out, err, sizeof err);
	if (rc != 0)
		srv_log("run r%lld: scancel %s%s: %s", (long long)w->run, term ? "--signal=TERM " : "", w->job,
			rc < 0 ? err : out);
	free(out);
}

static void slurm_stop(struct executor *ex, struct runq_worker *w)
{
	(void)ex;
	/* A job still waiting has nothing to checkpoint, and a signal cannot reach it. */
	scancel(w, strcmp(w->job_state, "PENDING") != 0);
}

static void slurm_kill(struct executor *ex, struct runq_worker *w)
{
	(void)ex;
	scancel(w, false);
}

/* ---- how a job stands and how it ended ---------------------------------------------- */

/* "Key=value" out of scontrol's one-line record; "" when absent. */
static void scontrol_field(const char *rec, const char *key, char *out, size_t outlen)
{
	out[0] = '\0';
	size_t kl = strlen(key);
	for (const char *p = rec; (p = strstr(p, key)) != NULL; p += kl)
		if ((p == rec || p[-1] == ' ') && p[kl] == '=') {
			snprintf(out, outlen, "%.*s", (int)strcspn(p + kl + 1, " \n"), p + kl + 1);
			return;
		}
}

/*
 * State, reason and exit code of an ended job into w; false when neither
 * slurmctld (scontrol, for MinJobAge after the end) nor the accounting
 * database (sacct) knows it.
 */
static bool job_record(struct runq_worker *w, char *exit_code, size_t eclen)
{
	const char *sc[] = {"scontrol", "-o", "show", "job", w->job, NULL};
	char *out = NULL, err[256], state[32] = "";
	exit_code[0] = '\0';
	if (run_tool(sc, &out, err, sizeof err) == 0) {
		scontrol_field(out, "JobState", state, sizeof state);
		scontrol_field(out, "Reason", w->job_reason, sizeof w->job_reason);
		scontrol_field(out, "ExitCode", exit_code, eclen);
	}
	free(out);
	if (!state[0]) {
		const char *sa[] = {"sacct", "-X", "-n", "-P", "-j", w->job, "-o", "State,Reason,ExitCode", NULL};
		if (run_tool(sa, &out, err, sizeof err) == 0 && out[0] && strchr(out, '|')) {
			char *f1 = strchr(out, '|'), *f2 = strchr(f1 + 1, '|');
			snprintf(state, sizeof state, "%.*s", (int)strcspn(out, " |"), out); /* "CANCELLED by 0" */
			if (f2) {
				snprintf(w->job_reason, sizeof w->job_reason, "%.*s", (int)(f2 - f1 - 1), f1 + 1);
				snprintf(exit_code, eclen, "%.*s", (int)strcspn(f2 + 1, "|\n"), f2 + 1);
			}
		}
		free(out);
	}
	if (!state[0])
		return false;
	srv_strlcpy(w->job_state, state, sizeof w->job_state);
	return true;
}

/* What squeue says of one line "ID|STATE|REASON" for a job of ours. */
static void take_queue_line(struct runq *q, const char *line, int64_t now)
{
	char id[32], state[32], reason[64];
	if (sscanf(line, "%31[^|]|%31[^|]|%63[^\n]", id, state, reason) < 2)
		return;
	for (int i = 0; i < q->nworkers; i++) {
		struct runq_worker *w = q->workers[i];
		if (strcmp(w->job, id))
			continue;
		w->job_seen_ms = now;
		srv_strlcpy(w->job_state, state, sizeof w->job_state);
		if (job_end_index(state) >= 0)
			w->job_gone = true;
		if (!strcmp(state, "PENDING")) {
			w->last_event_ms = now; /* waiting in Slurm's queue is not a hang */
			if (strcmp(w->job_reason, reason)) {
				srv_strlcpy(w->job_reason, reason, sizeof w->job_reason);
				w->job_position = -1; /* say it again below */
			}
		}
	}
}

/* Queue positions of our pending jobs among all pending jobs (highest priority first). */
static void pending_positions(struct executor *ex, struct runq *q)
{
	const char *argv[] = {"squeue", "-h", "-t", "PD", "-o", "%i", "--sort=-p,i", NULL, NULL};
	char part[96];
	if (ex->cfg.partition[0]) {
		snprintf(part, sizeof part, "--partition=%s", ex->cfg.partition);
		argv[7] = part;
	}
	char *out = NULL, err[256];
	if (run_tool(argv, &out, err, sizeof err) != 0) {
		free(out);
		return;
	}
	int total = 0;
	for (const char *p = out; *p; p += strcspn(p, "\n") + (p[strcspn(p, "\n")] == '\n'))
		total++;
	int pos = 0;
	for (const char *p = out; *p; p += strcspn(p, "\n") + (p[strcspn(p, "\n")] == '\n')) {
		pos++;
		size_t n = strcspn(p, "\n");
		for (int i = 0; i < q->nworkers; i++) {
			struct runq_worker *w = q->workers[i];
			if (strlen(w->job) != n || strncmp(w->job, p, n) || strcmp(w->job_state, "PENDING"))
				continue;
			if (w->job_position == pos && w->job_queue == total)
				continue;
			w->job_position = pos;
			w->job_queue = total;
			char reason[256];
			snprintf(reason, sizeof reason, "waiting in Slurm as job %s: %s (position %d of %d)", w->job,
				 w->job_reason[0] ? w->job_reason : "pending", pos, total);
			runq_emit_status(q, w->run, "queued", reason);
		}
	}
	free(out);
}

static void slurm_tick(struct executor *ex, struct runq *q, int64_t now)
{
	struct slurm *s = ex->priv;
	if (now < s->next_poll_ms)
		return;
	s->next_poll_ms = now + (int64_t)ex->cfg.poll_s * 1000;
	struct srv_buf ids = {0};
	for (int i = 0; i < q->nworkers; i++)
		if (q->workers[i]->job[0] && !q->workers[i]->job_gone)
			srv_buf_printf(&ids, "%s%s", ids.len ? "," : "", q->workers[i]->job);
	if (!ids.len)
		return;
	srv_buf_append(&ids, "", 1);
	char jobs[64];
	const char *argv[] = {"squeue", "-h", "--states=all", "-o", "%i|%T|%r", NULL, NULL};
	char *list = srv_buf_steal(&ids);
	char *arg = tb_xmalloc(strlen(list) + 8);
	sprintf(arg, "--jobs=%s", list);
	argv[5] = arg;
	char *out = NULL, err[256];
	int rc = run_tool(argv, &out, err, sizeof err);
	if (rc < 0 || (rc != 0 && !strstr(out, "Invalid job id"))) {
		/* slurmctld down or busy: keep what we knew and ask again next time. */
		first_line(out, jobs, sizeof jobs);
		srv_log_limited(&s->log, "squeue failed: %s", rc < 0 ? err : jobs);
	} else {
		for (const char *p = out; *p; p += strcspn(p, "\n") + (p[strcspn(p, "\n")] == '\n'))
			take_queue_line(q, p, now);
		/* A job squeue no longer lists has ended long enough ago for
		 * slurmctld to forget it (MinJobAge), or was never known. */
		bool pending = false;
		for (int i = 0; i < q->nworkers; i++) {
			struct runq_worker *w = q->workers[i];
			if (w->job[0] && !w->job_gone && w->job_seen_ms != now)
				w->job_gone = true;
			pending |= w->job[0] && !strcmp(w->job_state, "PENDING");
		}
		if (pending)
			pending_positions(ex, q);
	}
	free(out);
	free(arg);
	free(list);
}

static bool slurm_ended(struct executor *ex, struct runq_worker *w, struct exec_end *end)
{
	(void)ex;
	if (!w->job_gone)
		return false;
	*end = (struct exec_end){0};
	char exit_code[32];
	if (!job_record(w, exit_code, sizeof exit_code)) {
		end->lost = true;
		end->status = "interrupted";
		snprintf(end->reason, sizeof end->reason,
			 "Slurm no longer knows job %s (last seen %s); resume the run to continue from its last "
			 "checkpoint",
			 w->job, w->job_state);
		return true;
	}
	int k = job_end_index(w->job_state);
	if (k < 0) { /* squeue lost it but scontrol still sees it live: look again later */
		w->job_gone = false;
		return false;
	}
	end->code = atoi(exit_code);
	char *colon = strchr(exit_code, ':');
	if (colon && atoi(colon + 1) > 0) {
		end->signaled = true;
		end->sig = atoi(colon + 1);
	}
	end->status = job_ends[k].status;
	snprintf(end->reason, sizeof end->reason, "Slurm job %s %s: %s, reason %s, exit code %s%s", w->job,
		 job_ends[k].words, w->job_state, w->job_reason[0] ? w->job_reason : "None",
		 exit_code[0] ? exit_code : "?",
		 end->status && !strcmp(end->status, "interrupted")
			 ? "; resume the run to continue from its last checkpoint"
			 : "");
	srv_log("run r%lld: %s", (long long)w->run, end->reason);
	return true;
}

static bool slurm_reattach(struct executor *ex, struct runq_worker *w)
{
	(void)ex;
	const char *argv[] = {"squeue", "-h", "--states=all", "-o", "%i|%T|%r", "-j", w->job, NULL};
	char *out = NULL, err[256], id[32], state[32] = "", reason[64] = "";
	bool known = false;
	if (run_tool(argv, &out, err, sizeof err) == 0 &&
	    sscanf(out, "%31[^|]|%31[^|]|%63[^\n]", id, state, reason) >= 2 && !strcmp(id, w->job)) {
		srv_strlcpy(w->job_state, state, sizeof w->job_state);
		srv_strlcpy(w->job_reason, reason, sizeof w->job_reason);
		w->job_gone = job_end_index(state) >= 0;
		w->job_seen_ms = srv_mono_ms();
		known = true;
	}
	free(out);
	if (!known) {
		char exit_code[32];
		known = job_record(w, exit_code, sizeof exit_code);
		w->job_gone = known;
	}
	w->job_position = -1;
	return known;
}

const struct executor_kind executor_slurm = {
	.name = "slurm",
	.summary = "one sbatch job per run; the worker sends its events home over HTTP",
	.dials_home = true,
	.open = slurm_open,
	.close = slurm_close,
	.capacity = slurm_capacity,
	.start = slurm_start,
	.stop = slurm_stop,
	.kill = slurm_kill,
	.tick = slurm_tick,
	.ended = slurm_ended,
	.reattach = slurm_reattach,
};
