/*
 * test_access.c — the access rules (server/access.c): places of a
 * workspace, route rules against a real store (another user's run is 404
 * like a missing one), where a spec's data may come from (symlinks out of
 * a home, paths that do not exist, data roots), and single-user mode
 * allowing everything.
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

#include "engine/atomic_file.h"
#include "server/access.h"
#include "server/store.h"
#include "server/util.h"

struct fixture {
	char dir[64];     /* the workspace */
	char data[64];    /* a data root */
	char outside[64]; /* neither */
	char db[128];
	struct store *s;
	struct access_ctx c;
	char roots[1][PATH_MAX];
	int64_t alice_run;
};

static const struct acct_who alice = {.id = 1, .name = "alice"};
static const struct acct_who bob = {.id = 2, .name = "bob"};
static const struct acct_who prof = {.id = 3, .name = "prof", .instructor = true};

static void touch(const char *dir, const char *rel)
{
	char path[PATH_MAX];
	snprintf(path, sizeof path, "%s/%s", dir, rel);
	assert_int_equal(atomic_write(path, "a,b\n1,2\n", 8, false, NULL, 0), 0);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof *f);
	strcpy(f->dir, "/tmp/tb-acc-XXXXXX");
	strcpy(f->data, "/tmp/tb-accd-XXXXXX");
	strcpy(f->outside, "/tmp/tb-acco-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	assert_non_null(mkdtemp(f->data));
	assert_non_null(mkdtemp(f->outside));
	char path[PATH_MAX], err[256];
	const char *dirs[] = {"users", "users/alice", "users/bob", "course", ".trainbook"};
	for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
		snprintf(path, sizeof path, "%s/%s", f->dir, dirs[i]);
		assert_int_equal(mkdir(path, 0755), 0);
	}
	touch(f->dir, "users/alice/a.csv");
	touch(f->dir, "users/bob/b.csv");
	touch(f->dir, "course/c.csv");
	touch(f->data, "d.csv");
	touch(f->outside, "secret.csv");
	snprintf(f->db, sizeof f->db, "%s/.trainbook/db", f->dir);
	assert_int_equal(store_open(f->db, &f->s, err, sizeof err), 0);
	srv_strlcpy(f->roots[0], f->data, sizeof f->roots[0]);
	f->c = (struct access_ctx){
		.accounts = true, .store = f->s, .workspace = f->dir, .data_roots = f->roots, .ndata_roots = 1};
	/* Users 1, 2, 3 as the whos above say (tokens and sessions refer to them). */
	struct store_user_new users[] = {{.name = "alice"}, {.name = "bob"}, {.name = "prof", .instructor = true}};
	assert_int_equal(store_users_create(f->s, users, 3, NULL), STORE_OK);
	assert_int_equal(users[2].id, prof.id);
	struct store_run_new r = {.name = "t", .spec = "x", .owner = "alice"};
	assert_int_equal(store_run_create(f->s, &r, &f->alice_run), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	store_free(f->s);
	srv_rmtree(f->dir);
	srv_rmtree(f->data);
	srv_rmtree(f->outside);
	free(f);
	return 0;
}

static void places(void **state)
{
	(void)state;
	assert_true(access_nb_readable(&alice, "users/alice/x.ipynb"));
	assert_true(access_nb_readable(&alice, "course/w1/x.ipynb"));
	assert_false(access_nb_readable(&alice, "users/bob/x.ipynb"));
	assert_false(access_nb_readable(&alice, "users/alicex/x.ipynb"));
	assert_false(access_nb_readable(&alice, "examples/x.ipynb"));
	assert_false(access_nb_readable(&alice, "users/alice/../bob/x.ipynb"));
	assert_false(access_nb_readable(&alice, "users/alice//x.ipynb"));
	assert_false(access_nb_readable(&alice, "users/alice/.x/x.ipynb"));
	assert_false(access_nb_readable(&alice, "course"));
	assert_true(access_nb_writable(&alice, "users/alice/sub/x.ipynb"));
	assert_false(access_nb_writable(&alice, "course/x.ipynb"));
	assert_true(access_nb_writable(&prof, "course/x.ipynb"));
	assert_true(access_nb_readable(&prof, "users/bob/x.ipynb"));
	/* Listing walks only towards readable places. */
	assert_true(access_nb_visible(&alice, "users", true));
	assert_true(access_nb_visible(&alice, "users/alice", true));
	assert_true(access_nb_visible(&alice, "users/alice/deep", true));
	assert_false(access_nb_visible(&alice, "users/bob", true));
	assert_false(access_nb_visible(&alice, "users/alicex", true));
	assert_false(access_nb_visible(&alice, "examples", true));
	assert_true(access_nb_visible(&alice, "course/w1", true));
	char owner[64];
	assert_true(access_nb_home_owner("users/bob/x.ipynb", owner, sizeof owner));
	assert_string_equal(owner, "bob");
	assert_false(access_nb_home_owner("course/x.ipynb", owner, sizeof owner));
}

static void route_rules(void **state)
{
	struct fixture *f = *state;
	struct access_verdict v, missing;
	char rid[32], none[32], want[64];
	snprintf(rid, sizeof rid, "r%lld", (long long)f->alice_run);
	snprintf(none, sizeof none, "r%lld", (long long)f->alice_run + 50);
	char *p_own[] = {rid}, *p_none[] = {none};
	assert_true(access_url(&f->c, &alice, ACCESS_RUN, p_own, 1, &v));
	assert_true(access_url(&f->c, &prof, ACCESS_RUN, p_own, 1, &v));
	/* Bob: 404, worded as for a run that does not exist. */
	assert_false(access_url(&f->c, &bob, ACCESS_RUN, p_own, 1, &v));
	assert_false(access_url(&f->c, &bob, ACCESS_RUN, p_none, 1, &missing));
	assert_int_equal(v.status, 404);
	assert_int_equal(missing.status, 404);
	assert_string_equal(v.code, missing.code);
	snprintf(want, sizeof want, "no run %s", rid);
	assert_string_equal(v.message, want);
	/* Notebooks: by place, whatever exists. */
	char *nb_alice[] = {"users/alice/a.ipynb"}, *nb_course[] = {"course/c.ipynb"};
	assert_false(access_url(&f->c, &bob, ACCESS_NB_READ, nb_alice, 1, &v));
	assert_int_equal(v.status, 404);
	assert_true(access_url(&f->c, &bob, ACCESS_NB_READ, nb_course, 1, &v));
	assert_false(access_url(&f->c, &bob, ACCESS_NB_WRITE, nb_course, 1, &v));
	assert_true(access_url(&f->c, &prof, ACCESS_NB_WRITE, nb_course, 1, &v));
	/* Instructors only: 403 for students. */
	assert_false(access_url(&f->c, &alice, ACCESS_INSTRUCTOR, NULL, 0, &v));
	assert_int_equal(v.status, 403);
	assert_true(access_url(&f->c, &prof, ACCESS_INSTRUCTOR, NULL, 0, &v));
	/* No rule at all: refused, for everyone. */
	assert_false(access_url(&f->c, &prof, ACCESS_NONE, NULL, 0, &v));
	assert_int_equal(v.status, 500);
	/* Body rules. */
	json_t *body = json_pack("{s:s}", "path", "users/alice/new.ipynb");
	assert_true(access_body(&f->c, &alice, ACCESS_NB_NEW, body, &v));
	assert_false(access_body(&f->c, &bob, ACCESS_NB_NEW, body, &v));
	json_decref(body);
	body = json_pack("{s:s, s:s}", "from", "course/c.ipynb", "to", "users/bob/c.ipynb");
	assert_true(access_body(&f->c, &bob, ACCESS_NB_COPY, body, &v));
	assert_false(access_body(&f->c, &alice, ACCESS_NB_COPY, body, &v));
	json_decref(body);
	body = json_pack("{s:s}", "from", "users/alice/a.ipynb");
	assert_false(access_body(&f->c, &bob, ACCESS_NB_COPY, body, &v));
	json_decref(body);
	body = json_pack("{s:s, s:s}", "notebook", "users/alice/a.ipynb", "cell", "c1");
	assert_false(access_body(&f->c, &bob, ACCESS_RUN_NEW, body, &v));
	assert_true(access_body(&f->c, &alice, ACCESS_RUN_NEW, body, &v));
	json_decref(body);
	/* API tokens are personal, even for instructors. */
	int64_t tid;
	assert_int_equal(store_token_create(f->s, "h", alice.id, "x", 1, &tid), STORE_OK);
	char tids[32];
	snprintf(tids, sizeof tids, "%lld", (long long)tid);
	char *p_tok[] = {tids};
	assert_true(access_url(&f->c, &alice, ACCESS_TOKEN, p_tok, 1, &v));
	assert_false(access_url(&f->c, &bob, ACCESS_TOKEN, p_tok, 1, &v));
	assert_false(access_url(&f->c, &prof, ACCESS_TOKEN, p_tok, 1, &v));
	/* Every rule has a name and a summary. */
	for (int i = 0; i < ACCESS_NRULES; i++) {
		assert_non_null(access_rules[i].name);
		assert_non_null(access_rules[i].summary);
	}
}

/* Check `path` as data.path for `who`; returns whether allowed and leaves the message in msg. */
static bool data_ok(struct fixture *f, const struct acct_who *who, const char *path, char *msg, size_t len)
{
	char spec[1024];
	snprintf(spec, sizeof spec, "data: {dataset: csv, path: \"%s\"}\nmodel: [{linear: 2}]\ntrain: {epochs: 1}\n",
		 path);
	int line, column;
	msg[0] = '\0';
	bool ok = access_spec_data(&f->c, who, spec, strlen(spec), msg, len, &line, &column);
	if (!ok)
		assert_int_equal(line, 1);
	return ok;
}

static void data_paths(void **state)
{
	struct fixture *f = *state;
	char msg[600], p[PATH_MAX], link[PATH_MAX];
	assert_true(data_ok(f, &alice, "users/alice/a.csv", msg, sizeof msg));
	snprintf(p, sizeof p, "%s/users/alice/a.csv", f->dir);
	assert_true(data_ok(f, &alice, p, msg, sizeof msg));
	assert_true(data_ok(f, &alice, "course/c.csv", msg, sizeof msg));
	snprintf(p, sizeof p, "%s/d.csv", f->data);
	assert_true(data_ok(f, &alice, p, msg, sizeof msg));
	/* Another home, /etc, .., the store: refused, with the path as written and no contents. */
	assert_false(data_ok(f, &alice, "users/bob/b.csv", msg, sizeof msg));
	assert_non_null(strstr(msg, "data.path users/bob/b.csv is outside"));
	assert_false(data_ok(f, &alice, "/etc/passwd", msg, sizeof msg));
	assert_null(strstr(msg, "root:"));
	assert_false(data_ok(f, &alice, "users/alice/../bob/b.csv", msg, sizeof msg));
	assert_false(data_ok(f, &alice, ".trainbook/db", msg, sizeof msg));
	snprintf(p, sizeof p, "%s/secret.csv", f->outside);
	assert_false(data_ok(f, &alice, p, msg, sizeof msg));
	/* A file that does not exist is judged where it would be: in bob's home, refused alike. */
	char exists[600], absent[600];
	assert_false(data_ok(f, &alice, "users/bob/b.csv", exists, sizeof exists));
	assert_false(data_ok(f, &alice, "users/bob/none.csv", absent, sizeof absent));
	assert_null(strstr(absent, "exist"));
	/* A symlink in alice's home leading out is judged by where it leads. */
	snprintf(link, sizeof link, "%s/users/alice/link.csv", f->dir);
	snprintf(p, sizeof p, "%s/secret.csv", f->outside);
	assert_int_equal(symlink(p, link), 0);
	assert_false(data_ok(f, &alice, "users/alice/link.csv", msg, sizeof msg));
	snprintf(link, sizeof link, "%s/users/alice/dirlink", f->dir);
	assert_int_equal(symlink(f->outside, link), 0);
	assert_false(data_ok(f, &alice, "users/alice/dirlink/none.csv", msg, sizeof msg));
	/* Instructors: anywhere in the workspace or a data root, not elsewhere. */
	assert_true(data_ok(f, &prof, "users/bob/b.csv", msg, sizeof msg));
	assert_false(data_ok(f, &prof, "/etc/passwd", msg, sizeof msg));
	/* The data set's default (no path) is always fine; test_path is checked too. */
	int line, column;
	const char *dflt = "data: {dataset: synthetic}\nmodel: [{linear: 2}]\n";
	assert_true(access_spec_data(&f->c, &alice, dflt, strlen(dflt), msg, sizeof msg, &line, &column));
	const char *tp = "data: {dataset: csv, path: course/c.csv, test_path: /etc/hosts}\nmodel: [{linear: 2}]\n";
	assert_false(access_spec_data(&f->c, &alice, tp, strlen(tp), msg, sizeof msg, &line, &column));
	assert_non_null(strstr(msg, "data.test_path"));
	/* Single-user mode: no such rule. */
	f->c.accounts = false;
	assert_true(data_ok(f, &alice, "/etc/passwd", msg, sizeof msg));
}

static void system_view(void **state)
{
	(void)state;
	json_t *sys =
		json_loads("{\"gpus\":[{\"processes\":[{\"pid\":1,\"memory\":2,\"run\":\"r1\",\"owner\":\"alice\"},"
			   "{\"pid\":3,\"memory\":4,\"run\":null}]}]}",
			   0, NULL);
	access_system_view(&bob, sys);
	json_t *procs = json_object_get(json_array_get(json_object_get(sys, "gpus"), 0), "processes");
	assert_true(json_is_null(json_object_get(json_array_get(procs, 0), "run")));
	assert_true(json_is_null(json_object_get(json_array_get(procs, 0), "pid")));
	assert_int_equal(json_integer_value(json_object_get(json_array_get(procs, 0), "memory")), 2);
	json_decref(sys);
	sys = json_loads("{\"gpus\":[{\"processes\":[{\"pid\":1,\"memory\":2,\"run\":\"r1\",\"owner\":\"alice\"}]}]}",
			 0, NULL);
	access_system_view(&alice, sys);
	procs = json_object_get(json_array_get(json_object_get(sys, "gpus"), 0), "processes");
	assert_string_equal(json_string_value(json_object_get(json_array_get(procs, 0), "run")), "r1");
	json_decref(sys);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(places),
		cmocka_unit_test_setup_teardown(route_rules, setup, teardown),
		cmocka_unit_test_setup_teardown(data_paths, setup, teardown),
		cmocka_unit_test(system_view),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
