/*
 * export.h — a run's metric rows as CSV or JSON, produced a page of rows at
 * a time. A long run has a million rows; building that answer in one go
 * held libmicrohttpd's only thread (and the store) for seconds, so every
 * other request waited. Here each call reads at most EXPORT_PAGE_ROWS rows.
 *
 * CSV: `step,epoch,split,time,<metric>,…`, one column per metric name in
 * order of first appearance, time with milliseconds. JSON:
 * {"run":"rN","metrics":[{"step":…,"epoch":…,"split":…,"time":…,"values":{…}},…]}.
 *
 * Threads: one export is used by one thread at a time (libmicrohttpd's).
 */
#ifndef TB_SERVER_EXPORT_H
#define TB_SERVER_EXPORT_H

#include <stddef.h>
#include <stdint.h>

struct store;
struct export;

#define EXPORT_PAGE_ROWS 2000

enum export_format { EXPORT_CSV, EXPORT_JSON };

struct export *export_new(struct store *s, int64_t run, enum export_format format);
/* Copy up to `max` bytes of the answer into buf; returns how many, 0 at the end. */
size_t export_read(struct export *e, char *buf, size_t max);
void export_free(struct export *e);

#endif
