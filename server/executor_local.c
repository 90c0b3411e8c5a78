/*
 * executor_local.c — the `local` executor: each worker is a child process
 * of the server, its stdout on a pipe the supervisor reads and its stderr
 * in worker.log; stop is SIGTERM, kill is SIGKILL, its end is waitpid.
 * Workers die with the server (PR_SET_PDEATHSIG), so there is nothing to
 * re-attach after a restart.
 *
 * Threads: the supervisor thread (start, ended) and API threads (stop,
 * kill), all with q->lock held; start's child between fork and exec makes
 * only async-signal-safe calls.
 */
#include "runq_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "memlimit.h"
#include "sandbox.h"
#include "spawn.h"
#include "tb.h"

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
	if (need->gpu || q->cpu_slots <= 1 || getenv("OMP_NUM_THREADS"))
		return 0;
	long cores = sysconf(_SC_NPROCESSORS_ONLN);
	return cores / q->cpu_slots > 1 ? (int)(cores / q->cpu_slots) : 1;
}

/*
 * The worker's memory: its budget (what memlimit.h's allocators and its
 * start check hold it to) and, for CPU runs, RLIMIT_DATA as the backstop
 * for what the budget does not see. A CPU run that may share the CPU
 * (cpu-runs above 1) is budgeted what it was placed with and a quarter
 * more (memlimit_packed), so one that outgrows its estimate fails itself
 * rather than its neighbours; alone, it may use the machine's allowance
 * (both no more than --worker-memory). RLIMIT_DATA limits private writable
 * memory — malloc's heap and mmapped chunks, thread stacks, OpenBLAS's
 * buffers — where RLIMIT_AS would also count the address space OpenMP and
 * CUDA reserve and never touch. It leaves room for what is mapped but not
 * budgeted: measured on a 2-thread worker, 300 MiB of such data at start
 * (each thread's stack, OpenBLAS's 128 MiB buffer per thread, glibc's
 * arenas), 440 MiB with device auto (the CUDA libraries' writable
 * segments). Not for GPU runs: the CUDA driver maps device memory into the
 * process (UVM), which RLIMIT_DATA would count as the worker's.
 */
struct worker_memory {
	int64_t budget;    /* bytes; 0 = unknown (no /proc/meminfo): no limits */
	rlim_t data_limit; /* RLIM_INFINITY for GPU runs */
};

#define WORKER_DATA_SLACK ((int64_t)1 << 30)
#define WORKER_DATA_PER_THREAD ((int64_t)256 << 20)

static struct worker_memory worker_memory(const struct runq *q, const struct exec_start *st, int omp_threads)
{
	struct worker_memory wm = {.data_limit = RLIM_INFINITY};
	wm.budget = memlimit_host_allowance(q->cfg.worker_memory);
	if (!wm.budget || st->need->gpu)
		return wm;
	if (q->cpu_slots > 1)
		wm.budget = memlimit_packed(wm.budget, st->placed_bytes);
	long threads = omp_threads > 0 ? omp_threads : sysconf(_SC_NPROCESSORS_ONLN);
	wm.data_limit = (rlim_t)(wm.budget + WORKER_DATA_SLACK + TB_MAX(threads, 1) * WORKER_DATA_PER_THREAD);
	return wm;
}

/* Variables the server sets for a worker (the rest it inherits), as "NAME=value" strings. */
struct child_vars {
	char cvd[RUNQ_VISIBLE_MAX + 32]; /* CUDA_VISIBLE_DEVICES=… or "" */
	char gpu_limit[64];              /* TRAINBOOK_GPU_MEMORY_LIMIT=<bytes> or "" */
	char omp[32];                    /* OMP_NUM_THREADS=… or "" */
	char user[96];                   /* TRAINBOOK_USER=<owner> (accounts) or "" */
	char tmp[PATH_MAX + 16];         /* TMPDIR=<run dir>/tmp (--user-separation) or "" */
	char mem[64];                    /* TRAINBOOK_MEMORY_LIMIT=<bytes> or "" */
};

/*
 * Environment for the child (spawn_env): the GPUs it may see, the GPU
 * memory it was placed with, its OpenMP threads and memory budget, and in
 * accounts mode its user and private temp dir. visible: "" = leave
 * CUDA_VISIBLE_DEVICES alone, as for cuda:N, which keeps its own
 * numbering. gpu_limit: per device (docs/gpu.md: the CUDA backend is to
 * hold its allocations under TRAINBOOK_GPU_MEMORY_LIMIT, so a run past its
 * estimate fails itself rather than its neighbours).
 */
static char **child_env(const char *visible, int64_t gpu_limit, int omp_threads, int64_t budget, struct child_vars *v)
{
	/* What we set replaces what the server inherited; the rest is kept. */
	const char *drop[5] = {"CUDA_VISIBLE_DEVICES=", "TRAINBOOK_GPU_MEMORY_LIMIT=", "TRAINBOOK_MEMORY_LIMIT="},
		   *add[6];
	int ndrop = 3, nadd = 0;
	if (budget > 0) {
		snprintf(v->mem, sizeof v->mem, "TRAINBOOK_MEMORY_LIMIT=%lld", (long long)budget);
		add[nadd++] = v->mem;
	}
	if (v->user[0]) {
		drop[ndrop++] = "TRAINBOOK_USER=";
		add[nadd++] = v->user;
	}
	if (v->tmp[0]) {
		drop[ndrop++] = "TMPDIR=";
		add[nadd++] = v->tmp;
	}
	if (visible && *visible) {
		snprintf(v->cvd, sizeof v->cvd, "CUDA_VISIBLE_DEVICES=%s", visible);
		add[nadd++] = v->cvd;
	}
	if (gpu_limit > 0) {
		snprintf(v->gpu_limit, sizeof v->gpu_limit, "TRAINBOOK_GPU_MEMORY_LIMIT=%lld", (long long)gpu_limit);
		add[nadd++] = v->gpu_limit;
	}
	if (omp_threads > 0) {
		snprintf(v->omp, sizeof v->omp, "OMP_NUM_THREADS=%d", omp_threads);
		add[nadd++] = v->omp;
	}
	return spawn_env(drop, ndrop, add, nadd);
}

static int local_open(struct executor *ex, char *err, size_t errlen)
{
	(void)ex;
	(void)err;
	(void)errlen;
	return 0;
}

static void local_close(struct executor *ex)
{
	(void)ex;
}

static struct exec_capacity local_capacity(const struct executor *ex, const struct runq *q)
{
	(void)ex;
	(void)q;
	return (struct exec_capacity){.places_gpus = true};
}

static int local_start(struct executor *ex, struct runq_worker *w, const struct exec_start *st, char *err,
		       size_t errlen)
{
	struct runq *q = ex->q;
	char log_path[PATH_MAX + 16];
	struct child_vars vars = {0};
	snprintf(log_path, sizeof log_path, "%s/worker.log", st->run_dir);
	int pipefd[2] = {-1, -1}, log_fd = -1, null_fd = -1, sandbox_fd = -1;
	char **env = NULL;
	if (q->cfg.separation) {
		/* The worker's private temp dir: the only place outside its
		 * records where it may write, and inside its run dir anyway. */
		snprintf(vars.tmp, sizeof vars.tmp, "TMPDIR=%s/tmp", st->run_dir);
		if (mkdir(vars.tmp + 7, 0700) < 0 && errno != EEXIST) {
			snprintf(err, errlen, "cannot create %s: %s", vars.tmp + 7, strerror(errno));
			goto fail;
		}
		if ((sandbox_fd = sandbox_prepare(st->run_dir, err, errlen)) < 0)
			goto fail;
	}
	if (q->cfg.accounts && st->owner)
		snprintf(vars.user, sizeof vars.user, "TRAINBOOK_USER=%s", st->owner);
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
	argv[argc++] = st->spec_path;
	argv[argc++] = "--out";
	argv[argc++] = st->run_dir;
	if (st->resume) {
		argv[argc++] = st->evaluate ? "--evaluate" : "--resume";
		argv[argc++] = st->resume;
	}
	argv[argc] = NULL;
	/* cuda:N keeps its own numbering (runq_sched.c leaves `visible` empty); "cuda"/"auto" see only the GPUs we chose. */
	int omp_threads = cpu_share(q, st->need);
	struct worker_memory wm = worker_memory(q, st, omp_threads);
	env = child_env(st->visible, st->need->gpu ? st->placed_bytes : 0, omp_threads, wm.budget, &vars);
	pid_t parent = getpid();
	pid_t pid = fork();
	if (pid < 0) {
		snprintf(err, errlen, "fork: %s", strerror(errno));
		goto fail;
	}
	if (pid == 0) {
		if (wm.data_limit != RLIM_INFINITY)
			setrlimit(RLIMIT_DATA, &(struct rlimit){wm.data_limit, wm.data_limit});
		spawn_exec_child(parent, null_fd, pipefd[1], log_fd, q->cfg.accounts ? q->workspace : NULL, sandbox_fd,
				 argv, env);
	}
	close(pipefd[1]);
	close(log_fd);
	close(null_fd);
	if (sandbox_fd >= 0)
		close(sandbox_fd);
	free(env);
	fcntl(pipefd[0], F_SETFL, O_NONBLOCK);
	w->pid = pid;
	w->out_fd = pipefd[0];
	srv_log("run r%lld: worker %d started%s%s", (long long)st->run, (int)pid,
		st->resume ? (st->evaluate ? " evaluating " : " resuming from ") : "", st->resume ? st->resume : "");
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
	if (sandbox_fd >= 0)
		close(sandbox_fd);
	free(env);
	return -1;
}

static void local_stop(struct executor *ex, struct runq_worker *w)
{
	(void)ex;
	kill(w->pid, SIGTERM);
}

static void local_kill(struct executor *ex, struct runq_worker *w)
{
	(void)ex;
	kill(w->pid, SIGKILL);
}

static void local_tick(struct executor *ex, struct runq *q, int64_t now_ms)
{
	(void)ex;
	(void)q;
	(void)now_ms;
}

static bool local_ended(struct executor *ex, struct runq_worker *w, struct exec_end *end)
{
	(void)ex;
	int wstatus;
	pid_t r = waitpid(w->pid, &wstatus, WNOHANG);
	if (r == 0 || (r < 0 && errno == EINTR))
		return false;
	*end = (struct exec_end){.lost = r < 0};
	if (r > 0 && WIFSIGNALED(wstatus)) {
		end->signaled = true;
		end->sig = WTERMSIG(wstatus);
		srv_log("run r%lld: worker %d ended by signal %d", (long long)w->run, (int)w->pid, end->sig);
	} else if (r > 0) {
		end->code = WEXITSTATUS(wstatus);
		srv_log("run r%lld: worker %d exited with code %d", (long long)w->run, (int)w->pid, end->code);
	}
	return true;
}

const struct executor_kind executor_local = {
	.name = "local",
	.summary = "worker processes on this machine, events on a pipe",
	.dials_home = false,
	.open = local_open,
	.close = local_close,
	.capacity = local_capacity,
	.start = local_start,
	.stop = local_stop,
	.kill = local_kill,
	.tick = local_tick,
	.ended = local_ended,
	.reattach = NULL,
};
