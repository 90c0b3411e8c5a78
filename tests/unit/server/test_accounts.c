/*
 * test_accounts.c — classroom accounts against a real store
 * (server/accounts.c, server/store_accounts.c, server/secret.c): names,
 * rosters, argon2id passwords with their recorded parameters, one-time
 * links used once, sessions with idle and absolute expiry, API tokens,
 * archiving.
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
#include "server/accounts.h"
#include "server/secret.h"
#include "server/store.h"
#include "server/util.h"
#include "tests/unit/server/temp_store.h"

struct fixture {
	char dir[64];
	struct store *s;
	struct acct_policy p;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof *f);
	f->s = temp_store_open(f->dir, sizeof f->dir, "acct");
	f->p = (struct acct_policy){.idle_s = 3600, .max_s = 86400, .link_s = 600};
	snprintf(f->p.link_base, sizeof f->p.link_base, "http://127.0.0.1:1/");
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	temp_store_close(f->s, f->dir);
	free(f);
	return 0;
}

/* Add one user through the roster path; returns its id. */
static int64_t add(struct fixture *f, const char *name, bool instructor, char *link, size_t linklen)
{
	struct acct_roster_row row = {.line = 1, .instructor = instructor};
	char err[256];
	snprintf(row.name, sizeof row.name, "%s", name);
	assert_int_equal(acct_create_users(f->s, f->dir, &f->p, &row, 1, err, sizeof err), 0);
	if (link)
		snprintf(link, linklen, "%s", row.link);
	struct store_user u;
	assert_int_equal(store_user_get(f->s, name, &u), STORE_OK);
	return u.id;
}

static void names(void **state)
{
	(void)state;
	char out[64], err[200];
	assert_true(acct_name_ok("alice", err, sizeof err));
	assert_true(acct_name_ok("a.b-c_9", err, sizeof err));
	assert_false(acct_name_ok("", err, sizeof err));
	assert_false(acct_name_ok(".hidden", err, sizeof err));
	assert_false(acct_name_ok("a/b", err, sizeof err));
	assert_false(acct_name_ok("..", err, sizeof err));
	assert_false(acct_name_ok("Alice", err, sizeof err));
	assert_false(acct_name_ok("0123456789012345678901234567890123", err, sizeof err));
	assert_non_null(strstr(err, "not a user name"));
	assert_true(acct_name_fold("Alice.Smith", out, sizeof out, err, sizeof err));
	assert_string_equal(out, "alice.smith");
	assert_true(acct_email_ok("", err, sizeof err));
	assert_true(acct_email_ok("a@b.org", err, sizeof err));
	assert_false(acct_email_ok("a@b@c", err, sizeof err));
	assert_false(acct_email_ok("a b@c", err, sizeof err));
	/* Found by tests/fuzz/roster: a quoted roster field spanning lines, or
	 * bytes that are not UTF-8, came back verbatim inside the message (the
	 * preview shows one line per error; JSON cannot carry broken UTF-8). */
	assert_false(acct_name_ok("bo\nb", err, sizeof err));
	assert_null(strchr(err, '\n'));
	assert_non_null(strstr(err, "'bo?b'"));
	assert_false(acct_email_ok("a\xff\xfe@b\x01.org", err, sizeof err));
	assert_true(srv_utf8_valid(err, strlen(err)));
	assert_non_null(strstr(err, "'a??@b?.org'"));
	assert_false(acct_name_ok("\xc3\xa9lodie-with-a-name-far-longer-than-forty-bytes", err, sizeof err));
	assert_true(srv_utf8_valid(err, strlen(err)));
	assert_non_null(strstr(err, "\xc3\xa9lodie"));
	assert_non_null(strstr(err, "…'"));
}

static void roster(void **state)
{
	struct fixture *f = *state;
	const char *csv = "\xef\xbb\xbfName,E-mail,Role\r\n"
			  "Alice,alice@x.org,student\r\n"
			  "\"bob\",\"bob@x.org\",\r\n"
			  "\r\n"
			  "carol,,Instructor\r\n";
	json_t *errors = json_array();
	size_t n;
	struct acct_roster_row *rows = acct_roster_parse(csv, strlen(csv), &n, errors);
	assert_non_null(rows);
	assert_int_equal(json_array_size(errors), 0);
	assert_int_equal(n, 3);
	assert_string_equal(rows[0].name, "alice");
	assert_string_equal(rows[0].email, "alice@x.org");
	assert_string_equal(rows[1].name, "bob");
	assert_false(rows[1].instructor);
	assert_true(rows[2].instructor);
	assert_int_equal(rows[2].line, 5);
	char err[256];
	assert_int_equal(acct_create_users(f->s, f->dir, &f->p, rows, n, err, sizeof err), 0);
	for (size_t i = 0; i < n; i++)
		assert_non_null(strstr(rows[i].link, "http://127.0.0.1:1/login?link="));
	char *out = acct_roster_csv(rows, n);
	assert_non_null(strstr(out, "name,email,role,link\nalice,alice@x.org,student,http://"));
	free(out);
	/* Each got a home. */
	char home[128];
	struct stat st;
	snprintf(home, sizeof home, "%s/users/carol", f->dir);
	assert_int_equal(stat(home, &st), 0);
	free(rows);

	/* No header, one column; errors name their lines and nothing is created. */
	const char *bad = "dave\nEve Smith\nfrank,not-an-email\ndave\ngina,,boss\n\"open\n";
	rows = acct_roster_parse(bad, strlen(bad), &n, errors);
	assert_null(rows);
	assert_true(json_array_size(errors) >= 4);
	assert_int_equal(json_integer_value(json_object_get(json_array_get(errors, 0), "line")), 2);
	json_decref(errors);

	/* A taken name fails the whole import. */
	errors = json_array();
	const char *again = "henry\nalice\n";
	rows = acct_roster_parse(again, strlen(again), &n, errors);
	assert_non_null(rows);
	assert_int_equal(acct_create_users(f->s, f->dir, &f->p, rows, n, err, sizeof err), -1);
	assert_non_null(strstr(err, "line 2"));
	struct store_user u;
	assert_int_equal(store_user_get(f->s, "henry", &u), STORE_ENOENT);
	free(rows);
	json_decref(errors);
	/* Found by tests/fuzz/roster: a role quoted over two lines came back in the message whole. */
	errors = json_array();
	assert_null(acct_roster_parse("ada,,\"stu\ndent\"\n", 16, &n, errors));
	assert_null(strchr(json_string_value(json_object_get(json_array_get(errors, 0), "message")), '\n'));
	json_decref(errors);
}

/* 60 rows, header-less, in one transaction. */
static void roster_of_sixty(void **state)
{
	struct fixture *f = *state;
	char csv[8192] = "";
	for (int i = 0; i < 60; i++) {
		char line[96];
		snprintf(line, sizeof line, "student%02d,s%02d@uni.example\n", i, i);
		strcat(csv, line);
	}
	json_t *errors = json_array();
	size_t n;
	struct acct_roster_row *rows = acct_roster_parse(csv, strlen(csv), &n, errors);
	assert_non_null(rows);
	assert_int_equal(n, 60);
	char err[256];
	assert_int_equal(acct_create_users(f->s, f->dir, &f->p, rows, n, err, sizeof err), 0);
	json_t *users = store_users_json(f->s);
	assert_int_equal(json_array_size(users), 60);
	/* 60 distinct links. */
	for (int i = 0; i < 60; i++)
		for (int k = i + 1; k < 60; k++)
			assert_string_not_equal(rows[i].link, rows[k].link);
	json_decref(users);
	json_decref(errors);
	free(rows);
}

static void passwords(void **state)
{
	struct fixture *f = *state;
	int64_t id = add(f, "alice", false, NULL, 0);
	char err[256], phc[SECRET_PHC_MAX];
	assert_int_equal(acct_set_password(f->s, id, "short", err, sizeof err), -1);
	assert_int_equal(acct_set_password(f->s, id, "correct horse", err, sizeof err), 0);
	struct store_user u;
	assert_int_equal(store_user_password(f->s, "alice", &u, phc, sizeof phc), STORE_OK);
	/* argon2id with the parameters recorded in the hash itself; never the password. */
	struct secret_cost cost;
	assert_true(secret_password_cost(phc, &cost));
	assert_int_equal(cost.m_kib, 19456);
	assert_int_equal(cost.t, 2);
	assert_int_equal(cost.p, 1);
	assert_non_null(strstr(phc, "$argon2id$v=19$m=19456,t=2,p=1$"));
	assert_null(strstr(phc, "correct horse"));
	assert_int_equal(acct_password_check(f->s, "alice", "correct horse", &u), ACCT_OK);
	assert_int_equal(acct_password_check(f->s, "alice", "correct horsE", &u), ACCT_DENIED);
	assert_int_equal(acct_password_check(f->s, "nobody", "correct horse", &u), ACCT_DENIED);
	/* A hash made with weaker parameters verifies and is upgraded on the next login. */
	struct secret_cost weak = {.m_kib = 1024, .t = 1, .p = 1};
	char old[SECRET_PHC_MAX];
	assert_int_equal(secret_password_hash("correct horse", &weak, old, err, sizeof err), 0);
	assert_int_equal(store_user_set_password(f->s, id, old), STORE_OK);
	assert_int_equal(acct_password_check(f->s, "alice", "correct horse", &u), ACCT_OK);
	assert_int_equal(store_user_password(f->s, "alice", &u, phc, sizeof phc), STORE_OK);
	assert_true(secret_password_cost(phc, &cost));
	assert_int_equal(cost.m_kib, 19456);
	/* A known vector: the same PHC string verifies its password only. */
	assert_true(secret_password_verify(old, "correct horse"));
	assert_false(secret_password_verify(old, "correct horse "));
	assert_false(secret_password_verify("$argon2i$v=19$m=1024,t=1,p=1$c2FsdHNhbHQ$aGFzaA", "x"));
}

static void links_once(void **state)
{
	struct fixture *f = *state;
	char link[ACCT_LINK_MAX];
	int64_t id = add(f, "bob", false, link, sizeof link);
	const char *secret = strstr(link, "link=") + 5;
	struct store_user u;
	/* Looking names the user and uses nothing, however often. */
	for (int i = 0; i < 2; i++) {
		memset(&u, 0, sizeof u);
		assert_int_equal(acct_link_peek(f->s, secret, &u), ACCT_OK);
		assert_string_equal(u.name, "bob");
	}
	assert_int_equal(acct_link_check(f->s, secret, &u), ACCT_OK);
	assert_int_equal(u.id, id);
	/* Used twice: refused; and looking at a used one finds nobody. */
	assert_int_equal(acct_link_check(f->s, secret, &u), ACCT_DENIED);
	assert_int_equal(acct_link_peek(f->s, secret, &u), ACCT_DENIED);
	/* A new link replaces an unused older one. */
	char l1[ACCT_LINK_MAX], l2[ACCT_LINK_MAX];
	assert_int_equal(acct_new_link(f->s, &f->p, id, l1, sizeof l1), ACCT_OK);
	assert_int_equal(acct_new_link(f->s, &f->p, id, l2, sizeof l2), ACCT_OK);
	assert_int_equal(acct_link_check(f->s, strstr(l1, "link=") + 5, &u), ACCT_DENIED);
	assert_int_equal(acct_link_check(f->s, strstr(l2, "link=") + 5, &u), ACCT_OK);
	/* Expired: a link made with a lifetime of one second, two seconds ago. */
	f->p.link_s = 1;
	assert_int_equal(acct_new_link(f->s, &f->p, id, l1, sizeof l1), ACCT_OK);
	sleep(2);
	assert_int_equal(acct_link_peek(f->s, strstr(l1, "link=") + 5, &u), ACCT_DENIED);
	assert_int_equal(acct_link_check(f->s, strstr(l1, "link=") + 5, &u), ACCT_DENIED);
	/* Garbage and the hash itself are not links. */
	assert_int_equal(acct_link_check(f->s, "x", &u), ACCT_DENIED);
	assert_int_equal(acct_link_peek(f->s, "x", &u), ACCT_DENIED);
}

static void sessions(void **state)
{
	struct fixture *f = *state;
	int64_t id = add(f, "carol", false, NULL, 0);
	struct store_user u;
	assert_int_equal(store_user_by_id(f->s, id, &u), STORE_OK);
	char cookie[SECRET_HEX];
	assert_int_equal(acct_session_start(f->s, &f->p, &u, "password", "1.2.3.4", "UA", cookie), ACCT_OK);
	struct acct_who who;
	assert_int_equal(acct_session_who(f->s, &f->p, cookie, &who), ACCT_OK);
	assert_string_equal(who.name, "carol");
	assert_false(who.instructor);
	assert_string_equal(who.method, "password");
	/* The store keeps its hash, not the cookie. */
	char hash[SECRET_HEX];
	secret_hash(cookie, strlen(cookie), hash);
	assert_string_equal(who.session, hash);
	/* Revoked: gone. */
	assert_int_equal(store_session_revoke(f->s, hash, srv_unix_now()), STORE_OK);
	assert_int_equal(acct_session_who(f->s, &f->p, cookie, &who), ACCT_DENIED);

	/* Idle expiry: unused for longer than idle_s. */
	f->p.idle_s = 1;
	assert_int_equal(acct_session_start(f->s, &f->p, &u, "link", NULL, NULL, cookie), ACCT_OK);
	assert_int_equal(acct_session_who(f->s, &f->p, cookie, &who), ACCT_OK);
	sleep(2);
	assert_int_equal(acct_session_who(f->s, &f->p, cookie, &who), ACCT_DENIED);

	/* Absolute expiry: used all along, still ends after max_s. */
	f->p.idle_s = 3600;
	f->p.max_s = 2;
	assert_int_equal(acct_session_start(f->s, &f->p, &u, "password", NULL, NULL, cookie), ACCT_OK);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(acct_session_who(f->s, &f->p, cookie, &who), ACCT_OK);
		sleep(1);
	}
	sleep(1);
	assert_int_equal(acct_session_who(f->s, &f->p, cookie, &who), ACCT_DENIED);

	/* A role change applies to a live session at once (read each time). */
	f->p.max_s = 3600;
	assert_int_equal(acct_session_start(f->s, &f->p, &u, "password", NULL, NULL, cookie), ACCT_OK);
	assert_int_equal(store_user_set_role(f->s, id, true), STORE_OK);
	assert_int_equal(acct_session_who(f->s, &f->p, cookie, &who), ACCT_OK);
	assert_true(who.instructor);
	/* Revoking a user's sessions ends them all. */
	assert_true(store_sessions_revoke_user(f->s, id, srv_unix_now()) >= 1);
	assert_int_equal(acct_session_who(f->s, &f->p, cookie, &who), ACCT_DENIED);
}

static void tokens_and_archive(void **state)
{
	struct fixture *f = *state;
	int64_t id = add(f, "dave", false, NULL, 0);
	char token[SECRET_HEX];
	int64_t tid;
	assert_int_equal(acct_token_new(f->s, id, "laptop", token, &tid), ACCT_OK);
	struct acct_who who;
	assert_int_equal(acct_token_who(f->s, token, &who), ACCT_OK);
	assert_string_equal(who.name, "dave");
	assert_int_equal(who.token, tid);
	assert_string_equal(who.session, "");
	json_t *list = store_tokens_json(f->s, id);
	assert_int_equal(json_array_size(list), 1);
	char *text = json_dumps(list, 0);
	assert_null(strstr(text, token)); /* never the secret */
	free(text);
	json_decref(list);
	int64_t owner;
	assert_int_equal(store_token_owner(f->s, tid, &owner), STORE_OK);
	assert_int_equal(owner, id);
	assert_int_equal(store_token_revoke(f->s, tid, srv_unix_now()), STORE_OK);
	assert_int_equal(acct_token_who(f->s, token, &who), ACCT_DENIED);

	/* Archive: home moves, logins end, the name stays taken. */
	assert_int_equal(acct_token_new(f->s, id, "again", token, &tid), ACCT_OK);
	char path[160], err[256];
	snprintf(path, sizeof path, "%s/users/dave/nb.ipynb", f->dir);
	assert_int_equal(atomic_write(path, "{}", 2, false, NULL, 0), 0);
	assert_int_equal(acct_archive(f->s, f->dir, "dave", err, sizeof err), 0);
	assert_int_equal(acct_token_who(f->s, token, &who), ACCT_DENIED);
	struct stat st;
	assert_int_not_equal(stat(path, &st), 0);
	snprintf(path, sizeof path, "%s/archive/dave/nb.ipynb", f->dir);
	assert_int_equal(stat(path, &st), 0);
	struct acct_roster_row row = {.name = "dave", .line = 1};
	assert_int_equal(acct_create_users(f->s, f->dir, &f->p, &row, 1, err, sizeof err), -1);
	assert_int_equal(acct_archive(f->s, f->dir, "dave", err, sizeof err), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(names),
		cmocka_unit_test_setup_teardown(roster, setup, teardown),
		cmocka_unit_test_setup_teardown(roster_of_sixty, setup, teardown),
		cmocka_unit_test_setup_teardown(passwords, setup, teardown),
		cmocka_unit_test_setup_teardown(links_once, setup, teardown),
		cmocka_unit_test_setup_teardown(sessions, setup, teardown),
		cmocka_unit_test_setup_teardown(tokens_and_archive, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
