/*
 * worker_job.c — one short-lived worker process per request (see
 * worker_job.h).
 *
 * Threads: wjob_new and wjob_start run on libmicrohttpd's thread (the
 * fork happens there, and the child between fork and exec makes only
 * async-signal-safe calls); job_main runs on the job's own detached thread
 * and touches the job only until it calls http_resume; job_free runs when
 * libmicrohttpd ends the request, which cannot happen while it is parked.
 */
#include "worker_job.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "spawn.h"
#include "tb.h"

static void job_free(void *p)
{
	struct wjob *job = p;
	if (!job)
		return;
	if (job->out_fd >= 0)
		close(job->out_fd);
	if (job->err_fd >= 0)
		close(job->err_fd);
	srv_buf_free(&job->out);
	if (job->dir[0])
		srv_rmtree(job->dir);
	free(job);
}

struct wjob *wjob_new(struct http_req *r, char *err, size_t errlen)
{
	struct wjob *job = tb_xcalloc(1, sizeof *job);
	job->out_fd = job->err_fd = -1;
	job->exit_code = -1;
	job->req = r;
	const char *tmp = getenv("TMPDIR");
	snprintf(job->dir, sizeof job->dir, "%s/trainbook-job-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(job->dir)) {
		snprintf(err, errlen, "cannot make a temporary folder: %s", strerror(errno));
		job->dir[0] = '\0';
		job_free(job);
		return NULL;
	}
	r->job = job;
	r->job_free = job_free;
	return job;
}

static void keep_tail(struct wjob *job, const char *data, size_t n)
{
	size_t cap = sizeof job->err_tail - 1, have = strlen(job->err_tail);
	if (n >= cap) {
		memcpy(job->err_tail, data + n - cap, cap);
		job->err_tail[cap] = '\0';
		return;
	}
	if (have + n > cap) {
		memmove(job->err_tail, job->err_tail + (have + n - cap), cap - n);
		have = cap - n;
	}
	memcpy(job->err_tail + have, data, n);
	job->err_tail[have + n] = '\0';
}

/* Read what is there on one pipe; closes it at EOF. */
static void drain(struct wjob *job, int *fd, bool is_out)
{
	char buf[65536];
	ssize_t n = read(*fd, buf, sizeof buf);
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n <= 0) {
		close(*fd);
		*fd = -1;
		return;
	}
	if (!is_out) {
		keep_tail(job, buf, (size_t)n);
	} else if (job->out.len + (size_t)n > job->out_max) {
		job->too_much_output = true;
		kill(job->pid, SIGKILL);
	} else {
		srv_buf_append(&job->out, buf, (size_t)n);
	}
}

static void *job_main(void *arg)
{
	struct wjob *job = arg;
	bool killed = false;
	while (job->out_fd >= 0 || job->err_fd >= 0) {
		struct pollfd fds[2] = {{job->out_fd, POLLIN, 0}, {job->err_fd, POLLIN, 0}};
		int rc = poll(fds, 2, 100);
		if (rc < 0 && errno != EINTR)
			break;
		for (int i = 0; i < 2 && rc > 0; i++)
			if (fds[i].fd >= 0 && fds[i].revents)
				drain(job, i == 0 ? &job->out_fd : &job->err_fd, i == 0);
		if (killed)
			continue;
		if (srv_mono_ms() - job->started_ms > job->timeout_ms)
			killed = job->timed_out = true;
		else if (http_closing(job->req))
			killed = job->cancelled = true;
		if (killed)
			kill(job->pid, SIGKILL);
	}
	int status = 0;
	while (waitpid(job->pid, &status, 0) < 0 && errno == EINTR)
		;
	if (WIFEXITED(status))
		job->exit_code = WEXITSTATUS(status);
	else if (WIFSIGNALED(status))
		job->signal = WTERMSIG(status);
	job->ms = srv_mono_ms() - job->started_ms;
	http_resume(job->req); /* the last touch: the request may end at once */
	return NULL;
}

int wjob_start(struct wjob *job, const char *const *argv, int threads, size_t out_max, int timeout_ms, char *err,
	       size_t errlen)
{
	int out[2] = {-1, -1}, errp[2] = {-1, -1}, null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	char omp[32];
	if (null_fd < 0 || pipe2(out, O_CLOEXEC) < 0 || pipe2(errp, O_CLOEXEC) < 0) {
		snprintf(err, errlen, "cannot set up the worker's output: %s", strerror(errno));
		goto fail;
	}
	/* OMP_NUM_THREADS: OpenBLAS and the engine's loops both read it. */
	snprintf(omp, sizeof omp, "OMP_NUM_THREADS=%d", threads);
	const char *const omp_var[] = {"OMP_NUM_THREADS="}, *add[] = {omp};
	char **env = spawn_env(omp_var, threads > 0, add, threads > 0);
	pid_t parent = getpid();
	pid_t pid = fork();
	if (pid < 0) {
		snprintf(err, errlen, "fork: %s", strerror(errno));
		free(env);
		goto fail;
	}
	if (pid == 0)
		spawn_exec_child(parent, null_fd, out[1], errp[1], NULL, -1, argv, env);
	free(env);
	close(out[1]);
	close(errp[1]);
	close(null_fd);
	job->pid = pid;
	job->out_fd = out[0];
	job->err_fd = errp[0];
	job->out_max = out_max;
	job->timeout_ms = timeout_ms;
	job->started_ms = srv_mono_ms();
	http_suspend(job->req);
	pthread_t t;
	pthread_attr_t attr;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	int rc = pthread_create(&t, &attr, job_main, job);
	pthread_attr_destroy(&attr);
	if (rc != 0) {
		/* No thread to wait for it: end it here; the handler, called again, reports it. */
		kill(pid, SIGKILL);
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
			;
		job->signal = SIGKILL;
		snprintf(job->err_tail, sizeof job->err_tail, "cannot start a thread to watch the worker: %s",
			 strerror(rc));
		http_resume(job->req);
	}
	return 0;
fail:
	for (int i = 0; i < 2; i++) {
		if (out[i] >= 0)
			close(out[i]);
		if (errp[i] >= 0)
			close(errp[i]);
	}
	if (null_fd >= 0)
		close(null_fd);
	return -1;
}
