/*
 * test_notebooks.c — server/notebooks.c in a temporary workspace: the path
 * rules (no escape by '..', hidden parts or symlinks), atomic save with
 * If-Match, create/rename/delete, nbformat checks, run-cell source, seed.
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

#include <jansson.h>

#include "server/notebooks.h"
#include "server/util.h"

#define NB "{\"cells\":[{\"cell_type\":\"code\",\"id\":\"c1\",\"metadata\":{\"trainbook\":{\"kind\":\"run\"}}," \
	   "\"outputs\":[],\"source\":[\"train:\\n\",\"  epochs: 1\\n\"]},{\"cell_type\":\"markdown\",\"id\":\"m\"," \
	   "\"metadata\":{},\"source\":\"hi\"}],\"metadata\":{},\"nbformat\":4,\"nbformat_minor\":5}"

struct fixture {
	char root[64];
	char outside[64];
	struct nb_store nb;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof *f);
	strcpy(f->root, "/tmp/tb-nb-XXXXXX");
	strcpy(f->outside, "/tmp/tb-out-XXXXXX");
	assert_non_null(mkdtemp(f->root));
	assert_non_null(mkdtemp(f->outside));
	assert_int_equal(nb_init(&f->nb, f->root, NULL, "tester"), NB_OK);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	nb_free(&f->nb);
	srv_rmtree(f->root);
	srv_rmtree(f->outside);
	free(f);
	return 0;
}

/* nb_resolve's verdict on a path, closing the folder it opened. */
static int resolve(struct nb_store *nb, const char *rel, bool must_exist)
{
	int dirfd;
	const char *name;
	char err[256];
	int rc = nb_resolve(nb, rel, must_exist, &dirfd, &name, err, sizeof err);
	if (rc == NB_OK)
		close(dirfd);
	return rc;
}

static void path_rules(void **state)
{
	struct fixture *f = *state;
	char err[256], p[512];
	const char *bad[] = {"../x.ipynb", "a/../../x.ipynb", "/etc/x.ipynb", ".hidden.ipynb", ".trainbook/x.ipynb",
			     "a//b.ipynb", "./a.ipynb", "a.txt", ".ipynb", "dir/.ipynb", "a\\b.ipynb", "a\nb.ipynb", ""};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		assert_int_equal(resolve(&f->nb, bad[i], false), NB_EBADPATH);
	assert_int_equal(resolve(&f->nb, "new.ipynb", false), NB_OK);
	assert_int_equal(resolve(&f->nb, "new.ipynb", true), NB_ENOENT);
	assert_int_equal(resolve(&f->nb, "nodir/new.ipynb", false), NB_ENOENT);
	/* Symlinks that lead out are refused, for files and folders. */
	snprintf(p, sizeof p, "%s/secret.ipynb", f->outside);
	FILE *fp = fopen(p, "w");
	fputs(NB, fp);
	fclose(fp);
	char link[512];
	snprintf(link, sizeof link, "%s/out.ipynb", f->root);
	assert_int_equal(symlink(p, link), 0);
	snprintf(link, sizeof link, "%s/outdir", f->root);
	assert_int_equal(symlink(f->outside, link), 0);
	assert_int_equal(resolve(&f->nb, "out.ipynb", true), NB_EBADPATH);
	assert_int_equal(resolve(&f->nb, "outdir/secret.ipynb", true),
			 NB_EBADPATH);
	assert_int_equal(resolve(&f->nb, "outdir/new.ipynb", false),
			 NB_EBADPATH);
	char etag[NB_ETAG_LEN];
	assert_int_equal(nb_create(&f->nb, "outdir/new.ipynb", NULL, 0, etag, err, sizeof err), NB_EBADPATH);
	snprintf(p, sizeof p, "%s/new.ipynb", f->outside);
	assert_int_equal(access(p, F_OK), -1);
	/* A symlink inside the workspace is fine. */
	assert_int_equal(nb_create(&f->nb, "real.ipynb", NULL, 0, etag, err, sizeof err), NB_OK);
	snprintf(link, sizeof link, "%s/alias.ipynb", f->root);
	assert_int_equal(symlink("real.ipynb", link), 0);
	assert_int_equal(resolve(&f->nb, "alias.ipynb", true), NB_OK);
	/* A link that stays inside but lands in a hidden folder is refused for
	 * every use (issue 12, fault 9: db.ipynb -> .trainbook/trainbook.db). */
	snprintf(p, sizeof p, "%s/.trainbook", f->root);
	assert_int_equal(mkdir(p, 0700), 0);
	snprintf(p, sizeof p, "%s/.trainbook/trainbook.db", f->root);
	fp = fopen(p, "w");
	fputs(NB, fp);
	fclose(fp);
	snprintf(link, sizeof link, "%s/db.ipynb", f->root);
	assert_int_equal(symlink(".trainbook/trainbook.db", link), 0);
	snprintf(link, sizeof link, "%s/meta", f->root);
	assert_int_equal(symlink(".trainbook", link), 0);
	assert_int_equal(resolve(&f->nb, "db.ipynb", true), NB_EBADPATH);
	assert_int_equal(resolve(&f->nb, "db.ipynb", false), NB_EBADPATH);
	assert_int_equal(resolve(&f->nb, "meta/x.ipynb", false), NB_EBADPATH);
	char *data;
	size_t len;
	int64_t mtime;
	assert_int_equal(nb_read(&f->nb, "db.ipynb", &data, &len, etag, &mtime, err, sizeof err), NB_EBADPATH);
	assert_non_null(strstr(err, "hidden"));
	assert_int_equal(nb_save(&f->nb, "db.ipynb", NB, strlen(NB), NULL, etag, &mtime, err, sizeof err), NB_EBADPATH);
	assert_int_equal(nb_delete(&f->nb, "db.ipynb", err, sizeof err), NB_EBADPATH);
	assert_int_equal(nb_create(&f->nb, "meta/x.ipynb", NULL, 0, etag, err, sizeof err), NB_EBADPATH);
	assert_int_equal(nb_rename(&f->nb, "real.ipynb", "meta/x.ipynb", err, sizeof err), NB_EBADPATH);
	snprintf(p, sizeof p, "%s/.trainbook/x.ipynb", f->root);
	assert_int_equal(access(p, F_OK), -1);
	json_t *list = nb_list(&f->nb);
	char *text = json_dumps(list, JSON_COMPACT);
	assert_null(strstr(text, "db.ipynb"));
	assert_null(strstr(text, "out.ipynb"));
	assert_non_null(strstr(text, "alias.ipynb"));
	free(text);
	json_decref(list);
	/* A FIFO named like a notebook must not hang a read. */
	snprintf(p, sizeof p, "%s/fifo.ipynb", f->root);
	assert_int_equal(mkfifo(p, 0600), 0);
	assert_int_equal(nb_read(&f->nb, "fifo.ipynb", &data, &len, etag, &mtime, err, sizeof err), NB_EBADPATH);
}

/* Names: a part of 255 bytes is fine, 256 is a clear 400 (not ENAMETOOLONG); UTF-8 only. */
static void names(void **state)
{
	struct fixture *f = *state;
	char name[300], err[256], etag[NB_ETAG_LEN];
	memset(name, 'a', 249);
	strcpy(name + 249, ".ipynb"); /* 255 bytes */
	assert_int_equal(nb_create(&f->nb, name, NULL, 0, etag, err, sizeof err), NB_OK);
	memset(name, 'a', 250);
	strcpy(name + 250, ".ipynb"); /* 256 bytes */
	assert_int_equal(nb_create(&f->nb, name, NULL, 0, etag, err, sizeof err), NB_EBADPATH);
	assert_non_null(strstr(err, "255"));
	const char *bad[] = {"caf\xe9.ipynb", "\xff\xfe.ipynb", "\xc0\xae.ipynb", "\xed\xa0\x80.ipynb", "\xf4\x90\x80\x80.ipynb"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		assert_int_equal(nb_create(&f->nb, bad[i], NULL, 0, etag, err, sizeof err), NB_EBADPATH);
		assert_non_null(strstr(err, "UTF-8"));
	}
	assert_int_equal(nb_create(&f->nb, "caf\xc3\xa9-\xf0\x9f\x93\x93.ipynb", NULL, 0, etag, err, sizeof err), NB_OK);
}

static void save_conflicts(void **state)
{
	struct fixture *f = *state;
	char etag[NB_ETAG_LEN], etag2[NB_ETAG_LEN], etag3[NB_ETAG_LEN], err[256];
	int64_t mtime;
	assert_int_equal(nb_create(&f->nb, "a.ipynb", NB, strlen(NB), etag, err, sizeof err), NB_OK);
	assert_int_equal(nb_create(&f->nb, "a.ipynb", NB, strlen(NB), etag2, err, sizeof err), NB_EEXIST);
	char *changed = strdup(NB);
	changed[strlen(changed) - 2] = '6'; /* nbformat_minor 6 */
	assert_int_equal(nb_save(&f->nb, "a.ipynb", changed, strlen(changed), etag, etag2, &mtime, err, sizeof err),
			 NB_OK);
	assert_string_not_equal(etag, etag2);
	/* Somebody saved since we loaded `etag`: conflict, file unchanged. */
	assert_int_equal(nb_save(&f->nb, "a.ipynb", NB, strlen(NB), etag, etag3, &mtime, err, sizeof err),
			 NB_ECONFLICT);
	char *data;
	size_t len;
	assert_int_equal(nb_read(&f->nb, "a.ipynb", &data, &len, etag3, &mtime, err, sizeof err), NB_OK);
	assert_string_equal(data, changed);
	assert_string_equal(etag3, etag2);
	free(data);
	/* Weak and unquoted forms of the same tag match. */
	char weak[NB_ETAG_LEN + 2];
	snprintf(weak, sizeof weak, "W/%s", etag2);
	assert_int_equal(nb_save(&f->nb, "a.ipynb", NB, strlen(NB), weak, etag3, &mtime, err, sizeof err), NB_OK);
	assert_int_equal(nb_save(&f->nb, "a.ipynb", "{\"nbformat\":3}", 14, NULL, etag3, &mtime, err, sizeof err),
			 NB_EINVALID);
	assert_int_equal(nb_save(&f->nb, "gone.ipynb", NB, strlen(NB), etag2, etag3, &mtime, err, sizeof err),
			 NB_ECONFLICT);
	free(changed);
	/* No temp files are left behind. */
	json_t *list = nb_list(&f->nb);
	assert_int_equal(json_array_size(json_object_get(list, "notebooks")), 1);
	json_decref(list);
}

static void rename_delete_list(void **state)
{
	struct fixture *f = *state;
	char etag[NB_ETAG_LEN], err[256], dir[128];
	snprintf(dir, sizeof dir, "%s/sub", f->root);
	mkdir(dir, 0755);
	assert_int_equal(nb_create(&f->nb, "sub/b.ipynb", NULL, 0, etag, err, sizeof err), NB_OK);
	assert_int_equal(nb_create(&f->nb, "a.ipynb", NULL, 0, etag, err, sizeof err), NB_OK);
	assert_int_equal(nb_rename(&f->nb, "a.ipynb", "sub/b.ipynb", err, sizeof err), NB_EEXIST);
	assert_int_equal(nb_rename(&f->nb, "a.ipynb", "sub/c.ipynb", err, sizeof err), NB_OK);
	assert_int_equal(nb_rename(&f->nb, "a.ipynb", "d.ipynb", err, sizeof err), NB_ENOENT);
	json_t *list = nb_list(&f->nb);
	json_t *items = json_object_get(list, "notebooks");
	assert_int_equal(json_array_size(items), 2);
	assert_string_equal(json_string_value(json_object_get(json_array_get(items, 0), "path")), "sub/b.ipynb");
	assert_string_equal(json_string_value(json_object_get(json_array_get(items, 1), "owner")), "tester");
	json_decref(list);
	assert_int_equal(nb_delete(&f->nb, "sub/c.ipynb", err, sizeof err), NB_OK);
	assert_int_equal(nb_delete(&f->nb, "sub/c.ipynb", err, sizeof err), NB_ENOENT);
}

static void validate_and_cells(void **state)
{
	(void)state;
	char err[256];
	assert_int_equal(nb_validate(NB, strlen(NB), err, sizeof err), NB_OK);
	const char *bad[] = {"[]", "{", "{\"nbformat\":4,\"nbformat_minor\":0,\"metadata\":{}}",
			     "{\"nbformat\":4,\"nbformat_minor\":0,\"metadata\":{},\"cells\":[{\"cell_type\":\"x\",\"source\":\"\"}]}",
			     "{\"nbformat\":4,\"nbformat_minor\":0,\"metadata\":{},\"cells\":[{\"cell_type\":\"code\",\"source\":[1]}]}"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		assert_int_equal(nb_validate(bad[i], strlen(bad[i]), err, sizeof err), NB_EINVALID);
	json_t *nb = json_loads(NB, 0, NULL);
	char *src = nb_cell_source(nb, "c1", err, sizeof err);
	assert_string_equal(src, "train:\n  epochs: 1\n");
	free(src);
	assert_null(nb_cell_source(nb, "m", err, sizeof err));
	assert_null(nb_cell_source(nb, "zz", err, sizeof err));
	json_decref(nb);
}

static void seed_examples(void **state)
{
	struct fixture *f = *state;
	char p[256], err[256];
	snprintf(p, sizeof p, "%s/ex.ipynb", f->outside);
	FILE *fp = fopen(p, "w");
	fputs(NB, fp);
	fclose(fp);
	snprintf(p, sizeof p, "%s/notes.txt", f->outside);
	fp = fopen(p, "w");
	fputs("x", fp);
	fclose(fp);
	assert_int_equal(nb_seed(&f->nb, f->outside), 1);
	assert_int_equal(nb_seed(&f->nb, f->outside), 0); /* never overwrites */
	char *data, etag[NB_ETAG_LEN];
	size_t len;
	int64_t mtime;
	assert_int_equal(nb_read(&f->nb, "examples/ex.ipynb", &data, &len, etag, &mtime, err, sizeof err), NB_OK);
	free(data);
	assert_int_equal(nb_seed(&f->nb, "/nonexistent"), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(path_rules, setup, teardown),
		cmocka_unit_test_setup_teardown(names, setup, teardown),
		cmocka_unit_test_setup_teardown(save_conflicts, setup, teardown),
		cmocka_unit_test_setup_teardown(rename_delete_list, setup, teardown),
		cmocka_unit_test(validate_and_cells),
		cmocka_unit_test_setup_teardown(seed_examples, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
