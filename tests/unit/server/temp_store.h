/*
 * temp_store.h — a real store in a new temporary folder, for the server
 * unit tests that need a database: temp_store_open makes the folder and
 * opens `db` in it, temp_store_close closes it and removes the folder.
 *
 * What it is not: a fake store or a library. Header only, because each
 * unit test is its own binary; include it once, after cmocka.h, from the
 * test's .c. Threads: the test's.
 */
#ifndef TB_TESTS_UNIT_SERVER_TEMP_STORE_H
#define TB_TESTS_UNIT_SERVER_TEMP_STORE_H

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>

#include "server/store.h"
#include "server/util.h"

/* Make `dir` ("/tmp/tb-<name>-XXXXXX", len bytes at most) and open the store `dir`/db; asserts. */
static struct store *temp_store_open(char *dir, size_t len, const char *name)
{
	snprintf(dir, len, "/tmp/tb-%s-XXXXXX", name);
	assert_non_null(mkdtemp(dir));
	char path[PATH_MAX], err[256];
	snprintf(path, sizeof path, "%s/db", dir);
	struct store *s = NULL;
	assert_int_equal(store_open(path, &s, err, sizeof err), 0);
	return s;
}

static void temp_store_close(struct store *s, const char *dir)
{
	store_free(s);
	srv_rmtree(dir);
}

#endif
