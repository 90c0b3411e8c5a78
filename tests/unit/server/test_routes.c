/*
 * test_routes.c — the route table and its matcher (server/http.c,
 * server/routes.c), and the front door's request-line classifier.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "server/frontdoor.h"
#include "server/http.h"

static void free_params(char **p, int n)
{
	for (int i = 0; i < n; i++)
		free(p[i]);
}

/* A request the matcher must route: the pattern it finds, how many parameters, and the last one. */
static const struct match_case {
	const char *method, *path, *pattern;
	int nparams;
	const char *last;
} matches[] = {
	{"GET", "/api/runs/r7/events", "/api/runs/{id}/events", 1, "r7"},
	{"PUT", "/api/notebooks/a/b/c.ipynb", "/api/notebooks/{path*}", 1, "a/b/c.ipynb"},
	{"GET", "/api/runs/r7/checkpoints/step-1.safetensors", "/api/runs/{id}/checkpoints/{file}", 2,
	 "step-1.safetensors"},
	/* Unknown GET paths fall to the static-file route, which answers 404 for api/. */
	{"GET", "/api/runs/r7/nothing", "/{file*}", 1, "api/runs/r7/nothing"},
	{"GET", "/", "/", 0, NULL},
	{"GET", "/app/main.js", "/{file*}", 1, "app/main.js"},
};

static void matching(void **state)
{
	(void)state;
	char *p[HTTP_MAX_PARAMS];
	int n;
	bool known;
	for (size_t i = 0; i < sizeof matches / sizeof matches[0]; i++) {
		const struct match_case *c = &matches[i];
		const struct http_route *r = http_match(c->method, c->path, p, &n, &known);
		assert_non_null(r);
		assert_string_equal(r->pattern, c->pattern);
		assert_int_equal(n, c->nparams);
		if (c->last)
			assert_string_equal(p[n - 1], c->last);
		free_params(p, n);
	}

	/* HEAD is answered by the GET route. */
	const struct http_route *r = http_match("HEAD", "/api/status", p, &n, &known);
	assert_non_null(r);
	assert_string_equal(r->method, "GET");

	/* Known path, wrong method: the caller answers 405. */
	r = http_match("POST", "/api/status", p, &n, &known);
	assert_null(r);
	assert_true(known);
	assert_int_equal(n, 0);

	r = http_match("GET", "/api/runs//events", p, &n, &known);
	assert_true(r == NULL || strcmp(r->pattern, "/api/runs/{id}/events") != 0);
	if (r)
		free_params(p, n);
}

/*
 * Every /api route and /ws needs a login except logging in itself and the
 * routes cluster workers dial home on (/api/worker/…), which take their
 * run's secret and nothing else; every row names an access rule, "public"
 * exactly when it needs no login at all; no two routes share method + pattern.
 */
static void table_invariants(void **state)
{
	(void)state;
	assert_true(http_nroutes >= 20);
	for (size_t i = 0; i < http_nroutes; i++) {
		const struct http_route *r = &http_routes[i];
		assert_non_null(r->handler);
		assert_non_null(r->summary);
		bool worker = !strncmp(r->pattern, "/api/worker/", 12);
		assert_int_equal(r->access == HTTP_RUN_SECRET, worker);
		assert_int_equal(r->rule == ACCESS_RUN_SECRET, worker);
		if ((!strncmp(r->pattern, "/api/", 5) && strcmp(r->pattern, "/api/login") && !worker) ||
		    !strcmp(r->pattern, "/ws"))
			assert_int_equal(r->access, HTTP_TOKEN);
		assert_true(r->rule > ACCESS_NONE && r->rule < ACCESS_NRULES);
		assert_true((r->rule == ACCESS_PUBLIC) == (r->access != HTTP_TOKEN && !worker));
		/* A rule about {id} or {path} needs a pattern that has one. */
		if (r->rule == ACCESS_RUN || r->rule == ACCESS_TOKEN)
			assert_non_null(strstr(r->pattern, "{id}"));
		if (r->rule == ACCESS_NB_READ || r->rule == ACCESS_NB_WRITE || r->rule == ACCESS_NB_MOVE)
			assert_non_null(strstr(r->pattern, "{path*}"));
		bool changes = strcmp(r->method, "GET") != 0;
		if (!changes)
			assert_int_equal(r->body_max, 0);
		for (size_t k = i + 1; k < http_nroutes; k++)
			assert_false(!strcmp(r->method, http_routes[k].method) &&
				     !strcmp(r->pattern, http_routes[k].pattern));
	}
}

static void door(void **state)
{
	(void)state;
	const char *ws = "GET /ws HTTP/1.1\r\n";
	assert_int_equal(door_classify("/", ws, strlen(ws)), 1);
	assert_int_equal(door_classify("/", "GET /ws?token=x HTTP/1.1", 24), 1);
	assert_int_equal(door_classify("/", "GET /wsx HTTP/1.1", 17), 0);
	assert_int_equal(door_classify("/", "GET /api/status HTTP/1.1", 24), 0);
	assert_int_equal(door_classify("/", "POST /ws HTTP/1.1", 17), 0);
	assert_int_equal(door_classify("/", "GET /w", 6), -1);
	assert_int_equal(door_classify("/", "GET /ws", 7), -1);
	assert_int_equal(door_classify("/", "G", 1), -1);
	assert_int_equal(door_classify("/", "\x16\x03\x01", 3), 0); /* TLS: not ours */
	assert_int_equal(door_classify("/tb/", "GET /tb/ws HTTP/1.1", 19), 1);
	assert_int_equal(door_classify("/tb/", "GET /ws HTTP/1.1", 16), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(matching), cmocka_unit_test(table_invariants), cmocka_unit_test(door),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
