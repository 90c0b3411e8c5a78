/*
 * report.h — a worker that runs away from the server (a Slurm job on a
 * compute node) sends its events home itself: a thread follows the events
 * file the run writes (JSON lines, one per event, on the shared file
 * system) and POSTs new lines to the server's per-run endpoint with the
 * run's secret, numbered by line. The server answers with how many it has
 * committed; after a dropped connection or a server restart the thread
 * reconnects and resends from there, and the server skips what it has, so
 * every event arrives once.
 *
 * What it is not: an HTTP library. It speaks the one request the server's
 * POST /api/worker/runs/{id}/events route takes (docs/api.md "Worker
 * events over HTTP"), over a plain TCP socket, with no library beyond libc
 * so that the engine-only binary stays free of the server's dependencies.
 * TLS is not spoken: the link runs inside the cluster's network.
 *
 * Threads: report_start/report_finish on the training thread; the sender
 * is its own thread and touches only its struct.
 */
#ifndef TB_REPORT_H
#define TB_REPORT_H

#include <stddef.h>

struct report;

/*
 * Start following `events_path` and sending to `url`
 * (http://HOST:PORT/PATH) with `secret`. Returns NULL with err when the
 * URL cannot be used.
 */
struct report *report_start(const char *url, const char *secret, const char *events_path, char *err, size_t errlen);

/*
 * Send what is left, waiting at most drain_s seconds for the server to
 * acknowledge every line, then stop the thread and free. Returns the count
 * of events the server never acknowledged (they stay in the events file,
 * which the server reads when the job ends).
 */
long report_finish(struct report *r, double drain_s);

#endif
