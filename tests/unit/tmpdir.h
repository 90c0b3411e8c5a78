/*
 * tmpdir.h — a temporary folder for the engine unit tests that write
 * files: made by make_tmpdir and removed with all it holds by
 * remove_tmpdir, as cmocka set-up and tear-down (of a group or a test).
 *
 * What it is not: a library. Header only, because each unit test is its
 * own binary; include it once, from the test's .c. Threads: the test's.
 */
#ifndef TB_TESTS_UNIT_TMPDIR_H
#define TB_TESTS_UNIT_TMPDIR_H

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>

static char tmpdir[256]; /* the folder of the running test or group */

static int tmpdir_remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st, (void)flag, (void)ftw;
	return remove(path);
}

static int make_tmpdir(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof tmpdir, "/tmp/tb-unit-XXXXXX");
	return mkdtemp(tmpdir) ? 0 : -1;
}

/* Depth first, without following links: what a test linked there stays. */
static int remove_tmpdir(void **state)
{
	(void)state;
	return nftw(tmpdir, tmpdir_remove_entry, 16, FTW_DEPTH | FTW_PHYS) == 0 ? 0 : -1;
}

#endif
