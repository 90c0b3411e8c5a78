/*
 * test_runq.c — the run queue and worker supervision (server/runq*.c) with
 * small shell scripts standing in for the worker: events stored in order,
 * every way a worker can end turned into a status, stop, resume, delete,
 * queue bound and slot placement.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>
#include <pthread.h>

#include "server/runq.h"
#include "server/store.h"
#include "server/util.h"
#include "tests/unit/server/temp_store.h"

#define SPEC "data: {dataset: synthetic, shape: [1,8,8], classes: 4, train_size: 64, test_size: 16}\n" \
	     "model: [flatten, {linear: 4}]\ntrain: {epochs: 1, device: cpu}\n"

/* The fake worker: the mode comes from the spec's first line "# MODE". */
static const char script[] =
	"#!/bin/sh\n"
	"mode=$(head -n 1 \"$1\" | sed 's/^# //')\n"
	"[ $mode = slow ] && trap 'echo \"{\\\"type\\\":\\\"status\\\",\\\"status\\\":\\\"stopped\\\",\\\"reason\\\":\\\"asked\\\"}\"; exit 0' TERM\n"
	"[ \"$4\" = --resume ] && echo \"{\\\"type\\\":\\\"log\\\",\\\"message\\\":\\\"resume $5\\\"}\"\n"
	"echo '{\"type\":\"status\",\"status\":\"running\",\"device\":\"cpu\",\"total_steps\":3,\"epochs\":1}'\n"
	"case $mode in\n"
	"ok) for i in 1 2 3; do echo \"{\\\"type\\\":\\\"metric\\\",\\\"split\\\":\\\"train\\\",\\\"step\\\":$i,\\\"values\\\":{\\\"loss\\\":1}}\"; done\n"
	"    touch \"$3/c.safetensors\"\n"
	"    echo \"{\\\"type\\\":\\\"checkpoint\\\",\\\"step\\\":3,\\\"file\\\":\\\"c.safetensors\\\",\\\"path\\\":\\\"$3/c.safetensors\\\"}\"\n"
	"    printf '{\"type\":\"status\",\"status\":\"completed\"}' ;;\n"
	"garbage) echo 'not json'; sleep 20 ;;\n"
	"signal) echo 'going down' >&2; kill -9 $$ ;;\n"
	"outside) echo '{\"type\":\"checkpoint\",\"step\":1,\"file\":\"p\",\"path\":\"/etc/passwd\"}'\n"
	"    echo '{\"type\":\"status\",\"status\":\"completed\"}' ;;\n"
	"slow) i=0; while [ $i -lt 200 ]; do sleep 0.05; i=$((i+1)); done ;;\n"
	"esac\n";

struct fixture {
	char dir[64];
	char cmd[128];
	struct store *s;
	struct runq *q;
	pthread_mutex_t lock;
	int events;
	int changes;
};

static void on_event(void *ctx, int64_t run, int64_t seq, const char *json, size_t len)
{
	(void)run;
	(void)seq;
	struct fixture *f = ctx;
	json_t *j = json_loadb(json, len, 0, NULL);
	assert_non_null(j); /* only JSON objects reach the feed */
	json_decref(j);
	pthread_mutex_lock(&f->lock);
	f->events++;
	pthread_mutex_unlock(&f->lock);
}

static void on_changed(void *ctx, int64_t run)
{
	(void)run;
	struct fixture *f = ctx;
	pthread_mutex_lock(&f->lock);
	f->changes++;
	pthread_mutex_unlock(&f->lock);
}

static struct fixture *make(int cpu_runs, int max_queued)
{
	struct fixture *f = calloc(1, sizeof *f);
	f->s = temp_store_open(f->dir, sizeof f->dir, "runq");
	pthread_mutex_init(&f->lock, NULL);
	snprintf(f->cmd, sizeof f->cmd, "%s/fake-worker.sh", f->dir);
	FILE *fp = fopen(f->cmd, "w");
	fputs(script, fp);
	fclose(fp);
	chmod(f->cmd, 0755);
	char err[256];
	struct runq_config cfg = {.workspace = f->dir, .exe = "/nonexistent", .worker_cmd = f->cmd,
				  .owner = "tester", .cpu_runs = cpu_runs, .gpu_count = 0, .gpu_runs = 1,
				  .worker_timeout = 30, .stop_timeout = 5, .max_queued = max_queued};
	struct runq_hooks hooks = {.event = on_event, .run_changed = on_changed, .ctx = f};
	assert_int_equal(runq_new(&cfg, f->s, &hooks, &f->q, err, sizeof err), 0);
	assert_int_equal(runq_start(f->q), 0);
	return f;
}

static int setup(void **state)
{
	*state = make(2, 8);
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	runq_free(f->q);
	temp_store_close(f->s, f->dir);
	pthread_mutex_destroy(&f->lock);
	free(f);
	return 0;
}

static int64_t submit(struct fixture *f, const char *mode)
{
	char spec[512], err[256];
	snprintf(spec, sizeof spec, "# %s\n%s", mode, SPEC);
	struct runq_submit sub = {.spec = spec, .spec_len = strlen(spec), .name = mode};
	int64_t id = 0;
	assert_int_equal(runq_submit(f->q, &sub, &id, err, sizeof err), RUNQ_OK);
	return id;
}

static char *status_of(struct fixture *f, int64_t id, char *buf, size_t len)
{
	struct store_run_info info;
	if (store_run_info(f->s, id, &info) < 0)
		return strcpy(buf, "gone");
	srv_strlcpy(buf, info.status, len);
	store_run_info_free(&info);
	return buf;
}

static bool wait_for(struct fixture *f, int64_t id, const char *status)
{
	char buf[16];
	for (int i = 0; i < 1500; i++) { /* 30 s: ASan on a loaded machine is slow */
		if (!strcmp(status_of(f, id, buf, sizeof buf), status))
			return true;
		usleep(20000);
	}
	fprintf(stderr, "run %lld is %s, wanted %s\n", (long long)id, buf, status);
	return false;
}

static const char *reason_of(struct fixture *f, int64_t id, char *buf, size_t len)
{
	json_t *run = store_run_json(f->s, id);
	srv_strlcpy(buf, json_string_value(json_object_get(run, "reason")) ?: "", len);
	json_decref(run);
	return buf;
}

struct find {
	const char *needle;
	bool found;
};

static int find_text(void *ctx, int64_t seq, const char *json, size_t len)
{
	(void)seq;
	(void)len;
	struct find *fd = ctx;
	fd->found |= strstr(json, fd->needle) != NULL;
	return 0;
}

static void completes_in_order(void **state)
{
	struct fixture *f = *state;
	int64_t id = submit(f, "ok");
	assert_true(wait_for(f, id, "completed"));
	struct store_run_info info;
	assert_int_equal(store_run_info(f->s, id, &info), 0);
	/* queued, running, 3 metrics, checkpoint, completed */
	assert_int_equal(info.last_seq, 7);
	store_run_info_free(&info);
	json_t *cks = store_checkpoints_json(f->s, id);
	assert_int_equal(json_array_size(cks), 1);
	json_decref(cks);
	char spec_path[256];
	snprintf(spec_path, sizeof spec_path, "%s/.trainbook/runs/r%lld/spec.yaml", f->dir, (long long)id);
	assert_int_equal(access(spec_path, R_OK), 0);
	pthread_mutex_lock(&f->lock);
	assert_int_equal(f->events, 7);
	assert_true(f->changes >= 3);
	pthread_mutex_unlock(&f->lock);
	/* Resume continues the same sequence from the recorded checkpoint. */
	char err[256];
	assert_int_equal(runq_resume(f->q, id, NULL, err, sizeof err), RUNQ_OK);
	assert_true(wait_for(f, id, "completed"));
	char last[256];
	snprintf(last, sizeof last, "resume %s/.trainbook/runs/r%lld/c.safetensors", f->dir, (long long)id);
	json_t *run = store_run_json(f->s, id);
	assert_true(json_integer_value(json_object_get(run, "last_seq")) > 7);
	json_decref(run);
	struct find fd = {last, false};
	store_events_foreach(f->s, id, 7, 100, false, find_text, &fd);
	assert_true(fd.found); /* the worker was started with --resume <last checkpoint> */
}

static void failures_have_reasons(void **state)
{
	struct fixture *f = *state;
	char buf[512];
	int64_t g = submit(f, "garbage"), s = submit(f, "signal");
	assert_true(wait_for(f, g, "failed"));
	assert_non_null(strstr(reason_of(f, g, buf, sizeof buf), "not a JSON event: not json"));
	assert_true(wait_for(f, s, "failed"));
	reason_of(f, s, buf, sizeof buf);
	assert_non_null(strstr(buf, "signal 9"));
	assert_non_null(strstr(buf, "going down")); /* the worker's last log line */
	int64_t o = submit(f, "outside");
	assert_true(wait_for(f, o, "completed"));
	json_t *cks = store_checkpoints_json(f->s, o);
	assert_int_equal(json_array_size(cks), 0); /* a path outside the run dir is not recorded */
	json_decref(cks);
}

static void stop_and_delete(void **state)
{
	struct fixture *f = *state;
	char err[256], buf[512];
	int64_t id = submit(f, "slow");
	assert_true(wait_for(f, id, "running"));
	assert_int_equal(runq_resume(f->q, id, NULL, err, sizeof err), RUNQ_ESTATE);
	assert_int_equal(runq_stop(f->q, id, err, sizeof err), RUNQ_OK);
	assert_true(wait_for(f, id, "stopped"));
	assert_string_equal(reason_of(f, id, buf, sizeof buf), "asked");
	assert_int_equal(runq_stop(f->q, id, err, sizeof err), RUNQ_ESTATE);
	assert_int_equal(runq_stop(f->q, 9999, err, sizeof err), RUNQ_ENOENT);
	/* Deleting a running run kills it and removes its directory. */
	int64_t d = submit(f, "slow");
	assert_true(wait_for(f, d, "running"));
	assert_int_equal(runq_delete(f->q, d, err, sizeof err), RUNQ_OK);
	assert_true(wait_for(f, d, "gone"));
	char dir[256];
	snprintf(dir, sizeof dir, "%s/.trainbook/runs/r%lld", f->dir, (long long)d);
	for (int i = 0; i < 100 && access(dir, F_OK) == 0; i++)
		usleep(20000);
	assert_int_equal(access(dir, F_OK), -1);
}

static void queue_bound_and_slots(void **state)
{
	(void)state;
	struct fixture *f = make(0, 2); /* no CPU slot: runs wait */
	char err[256];
	int64_t a = submit(f, "ok");
	submit(f, "ok");
	struct runq_submit sub = {.spec = SPEC, .spec_len = strlen(SPEC)};
	int64_t id;
	assert_int_equal(runq_submit(f->q, &sub, &id, err, sizeof err), RUNQ_EFULL);
	usleep(200000);
	char buf[16];
	assert_string_equal(status_of(f, a, buf, sizeof buf), "queued");
	/* A queued run stops at once. */
	assert_int_equal(runq_stop(f->q, a, err, sizeof err), RUNQ_OK);
	assert_string_equal(status_of(f, a, buf, sizeof buf), "stopped");
	/* A GPU run on a machine without one is refused up front. */
	const char *gpu = "data: {dataset: synthetic}\nmodel: [flatten, {linear: 4}]\ntrain: {device: cuda}\n";
	struct runq_submit g = {.spec = gpu, .spec_len = strlen(gpu)};
	assert_int_equal(runq_submit(f->q, &g, &id, err, sizeof err), RUNQ_EINVALID);
	assert_non_null(strstr(err, "no NVIDIA GPU"));
	teardown((void **)&f);
}

/* Positions of runs ids[0..n) once the scheduler has placed them all (0 = never placed). */
static bool queue_positions(struct fixture *f, const int64_t *ids, int n, int *pos)
{
	for (int tries = 0; tries < 500; tries++) {
		int placed = 0;
		for (int i = 0; i < n; i++) {
			json_t *run = store_run_json(f->s, ids[i]);
			json_t *q = json_object_get(run, "queue");
			pos[i] = json_is_object(q) ? (int)json_integer_value(json_object_get(q, "position")) : 0;
			placed += pos[i] > 0;
			json_decref(run);
		}
		if (placed == n)
			return true;
		usleep(20000);
	}
	return false;
}

static int64_t submit_as(struct fixture *f, const char *owner)
{
	char err[256];
	struct runq_submit sub = {.spec = SPEC, .spec_len = strlen(SPEC), .owner = owner};
	int64_t id = 0;
	assert_int_equal(runq_submit(f->q, &sub, &id, err, sizeof err), RUNQ_OK);
	return id;
}

/*
 * No CPU slot, so everything waits: four users' runs get positions, fair
 * share interleaving them; a server restart (queue and store closed and
 * opened again) keeps the order and every position.
 */
static void restart_keeps_queue_order(void **state)
{
	(void)state;
	struct fixture *f = make(0, 16);
	const char *owners[] = {"alice", "alice", "alice", "bob", "carol", "bob"};
	int64_t ids[6];
	for (int i = 0; i < 6; i++)
		ids[i] = submit_as(f, owners[i]);
	int before[6], after[6];
	assert_true(queue_positions(f, ids, 6, before));
	/* Alice's first, Bob's first, Carol's, then the second ones: a fair share of places. */
	assert_int_equal(before[0], 1);
	assert_int_equal(before[3], 2);
	assert_int_equal(before[4], 3);
	assert_int_equal(before[1], 4);
	assert_int_equal(before[5], 5);
	assert_int_equal(before[2], 6);
	json_t *run = store_run_json(f->s, ids[2]);
	assert_string_equal(json_string_value(json_object_get(json_object_get(run, "queue"), "reason")),
			    "5 ahead of you (yours start in the order you queued them)");
	json_decref(run);
	struct store_queued rows[8];
	assert_int_equal(store_queued_runs(f->s, rows, 8), 6);
	runq_free(f->q);
	store_free(f->s);
	/* The positions are cleared so that only a pass after the restart can set them again. */
	char path[128], err[256];
	snprintf(path, sizeof path, "%s/db", f->dir);
	assert_int_equal(store_open(path, &f->s, err, sizeof err), 0);
	struct store_queue_place clear[6];
	for (int i = 0; i < 6; i++)
		clear[i] = (struct store_queue_place){.id = ids[i], .position = 0, .reason = NULL};
	assert_int_equal(store_set_queue(f->s, clear, 6), 0);
	struct runq_config cfg = {.workspace = f->dir, .exe = "/nonexistent", .worker_cmd = f->cmd, .owner = "tester",
				  .cpu_runs = 0, .gpu_runs = 1, .worker_timeout = 30, .stop_timeout = 5, .max_queued = 16};
	struct runq_hooks hooks = {.event = on_event, .run_changed = on_changed, .ctx = f};
	assert_int_equal(runq_new(&cfg, f->s, &hooks, &f->q, err, sizeof err), 0);
	assert_int_equal(runq_start(f->q), 0);
	assert_true(queue_positions(f, ids, 6, after));
	assert_memory_equal(before, after, sizeof before);
	struct store_queued again[8];
	assert_int_equal(store_queued_runs(f->s, again, 8), 6);
	for (int i = 0; i < 6; i++) {
		assert_int_equal(again[i].id, rows[i].id);
		assert_int_equal(again[i].queued_ms, rows[i].queued_ms);
	}
	teardown((void **)&f);
}

static void shutdown_stops_workers(void **state)
{
	struct fixture *f = *state;
	int64_t id = submit(f, "slow");
	assert_true(wait_for(f, id, "running"));
	runq_shutdown(f->q); /* SIGTERM, the worker reports stopped, the thread ends */
	char buf[16];
	assert_string_equal(status_of(f, id, buf, sizeof buf), "stopped");
}

static void classify(void **state)
{
	(void)state;
	struct runq_need need;
	char err[256];
	const char *base = "data: {dataset: synthetic}\nmodel: [flatten, {linear: 4}]\n";
	char spec[256];
	snprintf(spec, sizeof spec, "%strain: {device: auto}\n", base);
	assert_int_equal(runq_classify(spec, strlen(spec), 0, &need, err, sizeof err), RUNQ_OK);
	assert_false(need.gpu);
	assert_int_equal(runq_classify(spec, strlen(spec), 2, &need, err, sizeof err), RUNQ_OK);
	assert_true(need.gpu);
	assert_int_equal(need.gpu_index, -1);
	snprintf(spec, sizeof spec, "%strain: {device: cuda:1}\n", base);
	assert_int_equal(runq_classify(spec, strlen(spec), 2, &need, err, sizeof err), RUNQ_OK);
	assert_int_equal(need.gpu_index, 1);
	assert_int_equal(runq_classify(spec, strlen(spec), 1, &need, err, sizeof err), RUNQ_EINVALID);
	snprintf(spec, sizeof spec, "%strain: {device: cpu}\n", base);
	assert_int_equal(runq_classify(spec, strlen(spec), 4, &need, err, sizeof err), RUNQ_OK);
	assert_false(need.gpu);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(classify),
		cmocka_unit_test_setup_teardown(completes_in_order, setup, teardown),
		cmocka_unit_test_setup_teardown(failures_have_reasons, setup, teardown),
		cmocka_unit_test_setup_teardown(stop_and_delete, setup, teardown),
		cmocka_unit_test(queue_bound_and_slots),
		cmocka_unit_test(restart_keeps_queue_order),
		cmocka_unit_test_setup_teardown(shutdown_stops_workers, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
