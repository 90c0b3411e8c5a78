/*
 * labs.h — lab sessions as people write them: a config line
 * `lab-session = tue 14:00-16:00 exclusive alice,bob` and the JSON of
 * GET/PUT /api/lab-sessions {"day":"tue","start":"14:00","end":"16:00",
 * "mode":"exclusive","users":["alice","bob"]}. Both become struct
 * sched_lab, which the scheduler reads (scheduler.h: while a session is on,
 * its members' runs go first, or only theirs start).
 *
 * What it is not: deciding anything (scheduler.c) or storing them
 * (store_sched.c keeps the instructor's list).
 *
 * Threads: pure; any thread.
 */
#ifndef TB_SERVER_LABS_H
#define TB_SERVER_LABS_H

#include <jansson.h>
#include <stddef.h>

#include "scheduler.h"

#define LABS_MAX 64 /* sessions in the config file, and in the instructor's list */

/* "tue 14:00-16:00 [priority|exclusive] [name,name…]"; mode defaults to priority. */
int labs_parse(const char *text, struct sched_lab *out, char *err, size_t errlen);
/* The same line back (for --print-config). */
void labs_format(const struct sched_lab *l, char *buf, size_t len);

json_t *labs_json(const struct sched_lab *l);
int labs_from_json(const json_t *j, struct sched_lab *out, char *err, size_t errlen);

/* A JSON array of sessions; at most `max`, each checked. Returns the count, or -1 with err. */
int labs_list_from_json(const json_t *arr, struct sched_lab *out, int max, char *err, size_t errlen);
json_t *labs_list_json(const struct sched_lab *l, int n);

#endif
