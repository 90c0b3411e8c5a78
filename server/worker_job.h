/*
 * worker_job.h — a short-lived worker process for one HTTP request
 * (`trainbook predict …`, `trainbook export …`): the server never loads
 * model weights into its own memory, so a bad image or a broken checkpoint
 * can crash a child, never the server.
 *
 * What it is: start the command with the request parked (http_suspend),
 * collect its stdout (bounded) and the end of its stderr on a thread of its
 * own, kill it past a deadline or when the server closes, then resume the
 * request; the handler, called again, reads the result from r->job. A
 * private temporary folder for the job's files goes with it.
 * What it is not: a run (runs go through the run queue and executors).
 *
 * Threads: wjob_start on libmicrohttpd's thread; the job's own thread
 * until http_resume; the result is read on libmicrohttpd's thread after.
 */
#ifndef TB_SERVER_WORKER_JOB_H
#define TB_SERVER_WORKER_JOB_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "http.h"
#include "util.h"

struct wjob {
	char dir[PATH_MAX]; /* private temporary folder, removed with the job; "" = none */
	pid_t pid;
	int out_fd, err_fd; /* the child's stdout and stderr; -1 once closed */
	size_t out_max;
	int timeout_ms;
	int64_t started_ms;
	/* Results, written by the job's thread before http_resume: */
	struct srv_buf out;  /* stdout, at most out_max bytes */
	char err_tail[1024]; /* the last bytes of stderr, NUL-terminated */
	int exit_code;       /* -1 when it did not exit by itself */
	int signal;          /* the signal that ended it, or 0 */
	bool timed_out, too_much_output, cancelled;
	int64_t ms;           /* wall time from start to end */
	struct http_req *req; /* parked until the job ends */
	char label[PATH_MAX]; /* the handler's own note for its answer (which checkpoint) */
};

/* A new job for request r, owned by r (r->job), with its temporary folder made. -1 with err. */
struct wjob *wjob_new(struct http_req *r, char *err, size_t errlen);

/*
 * Start argv (argv[0] a path) with OMP_NUM_THREADS=threads (0 = as the
 * server has it) and park the request. Returns 0 (the handler returns
 * MHD_YES), or -1 with err when the process cannot be started (the
 * request was not parked).
 */
int wjob_start(struct wjob *job, const char *const *argv, int threads, size_t out_max, int timeout_ms, char *err,
	       size_t errlen);

#endif
