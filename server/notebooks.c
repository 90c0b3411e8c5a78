/*
 * notebooks.c — workspace notebooks on disk (see notebooks.h).
 *
 * Threads: any; writers hold nb->lock. Reads take no lock: a save renames a
 * complete file into place, so a reader sees the old or the new bytes.
 */
#include "notebooks.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "atomic_file.h"
#include "store.h"
#include "tb.h"
#include "util.h"

#define NB_PATH_MAX 1024
#define NB_LIST_DEPTH 6

static const char empty_notebook[] =
	"{\n \"cells\": [],\n \"metadata\": {\"trainbook\": {\"version\": 1}},\n"
	" \"nbformat\": 4,\n \"nbformat_minor\": 5\n}\n";

int nb_init(struct nb_store *nb, const char *workspace, struct store *store, const char *owner)
{
	memset(nb, 0, sizeof *nb);
	if (!realpath(workspace, nb->root))
		return NB_EIO;
	nb->store = store;
	srv_strlcpy(nb->owner, owner ? owner : "", sizeof nb->owner);
	pthread_mutex_init(&nb->lock, NULL);
	return NB_OK;
}

void nb_free(struct nb_store *nb)
{
	pthread_mutex_destroy(&nb->lock);
}

void nb_etag(const char *data, size_t len, char etag[NB_ETAG_LEN])
{
	snprintf(etag, NB_ETAG_LEN, "\"%016" PRIx64 "\"", srv_fnv1a64(data, len, 0));
}

/* The syntactic rules, before touching the disk. */
static int check_rel(const char *rel, char *err, size_t errlen)
{
	size_t n = rel ? strlen(rel) : 0;
	if (n == 0 || n >= NB_PATH_MAX) {
		snprintf(err, errlen, "a notebook path is 1 to %d characters", NB_PATH_MAX - 1);
		return NB_EBADPATH;
	}
	if (rel[0] == '/') {
		snprintf(err, errlen, "notebook paths are relative to the workspace");
		return NB_EBADPATH;
	}
	for (const char *p = rel; *p; p++) {
		if ((unsigned char)*p < 0x20 || *p == '\\' || *p == 0x7f) {
			snprintf(err, errlen, "notebook paths may not hold control characters or '\\'");
			return NB_EBADPATH;
		}
	}
	const char *c = rel;
	while (*c) {
		size_t len = strcspn(c, "/");
		if (len == 0 || c[0] == '.') {
			snprintf(err, errlen, "notebook paths may not hold empty, '.', '..' or hidden parts");
			return NB_EBADPATH;
		}
		c += len;
		if (*c == '/')
			c++;
	}
	if (n <= 6 || strcmp(rel + n - 6, ".ipynb") || rel[n - 7] == '/') {
		snprintf(err, errlen, "notebook paths end in .ipynb");
		return NB_EBADPATH;
	}
	return NB_OK;
}

int nb_resolve(const struct nb_store *nb, const char *rel, bool must_exist, char *abs,
	       size_t abslen, char *err, size_t errlen)
{
	int rc = check_rel(rel, err, errlen);
	if (rc)
		return rc;
	char joined[PATH_MAX + NB_PATH_MAX], parent[PATH_MAX];
	snprintf(joined, sizeof joined, "%s/%s", nb->root, rel);
	char *slash = strrchr(joined, '/');
	*slash = '\0';
	if (!realpath(joined, parent)) {
		snprintf(err, errlen, "folder of %s does not exist", rel);
		return NB_ENOENT;
	}
	if (!srv_path_inside(nb->root, parent)) {
		snprintf(err, errlen, "%s is outside the workspace", rel);
		return NB_EBADPATH;
	}
	int n = snprintf(abs, abslen, "%s/%s", parent, slash + 1);
	if (n < 0 || (size_t)n >= abslen) {
		snprintf(err, errlen, "path too long");
		return NB_EBADPATH;
	}
	struct stat st;
	if (lstat(abs, &st) < 0) {
		if (must_exist) {
			snprintf(err, errlen, "no notebook %s", rel);
			return NB_ENOENT;
		}
		return NB_OK;
	}
	if (S_ISLNK(st.st_mode)) {
		char target[PATH_MAX];
		if (!realpath(abs, target) || !srv_path_inside(nb->root, target)) {
			snprintf(err, errlen, "%s links outside the workspace", rel);
			return NB_EBADPATH;
		}
		if (stat(target, &st) < 0) {
			snprintf(err, errlen, "no notebook %s", rel);
			return NB_ENOENT;
		}
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s is not a file", rel);
		return NB_EBADPATH;
	}
	return NB_OK;
}

/* ---- listing ------------------------------------------------------------ */

static void list_dir(struct nb_store *nb, const char *abs, const char *rel, int depth, json_t *out)
{
	DIR *d = opendir(abs);
	if (!d)
		return;
	struct dirent *e;
	while ((e = readdir(d)) && json_array_size(out) < NB_MAX_LIST) {
		/* Hidden entries hold .trainbook/, editor temp files and our own
		 * in-progress saves; node_modules is never a place for notebooks. */
		if (e->d_name[0] == '.' || !strcmp(e->d_name, "node_modules"))
			continue;
		char child_abs[PATH_MAX], child_rel[NB_PATH_MAX];
		if (snprintf(child_abs, sizeof child_abs, "%s/%s", abs, e->d_name) >= (int)sizeof child_abs)
			continue;
		if (snprintf(child_rel, sizeof child_rel, "%s%s%s", rel, *rel ? "/" : "", e->d_name) >=
		    (int)sizeof child_rel)
			continue;
		struct stat st;
		if (lstat(child_abs, &st) < 0)
			continue;
		if (S_ISDIR(st.st_mode)) {
			if (depth < NB_LIST_DEPTH)
				list_dir(nb, child_abs, child_rel, depth + 1, out);
			continue;
		}
		size_t n = strlen(e->d_name);
		if (n <= 6 || strcmp(e->d_name + n - 6, ".ipynb"))
			continue;
		if (S_ISLNK(st.st_mode)) {
			char target[PATH_MAX];
			if (!realpath(child_abs, target) || !srv_path_inside(nb->root, target) ||
			    stat(target, &st) < 0)
				continue;
		}
		if (!S_ISREG(st.st_mode))
			continue;
		char owner[64];
		if (!nb->store || !store_notebook_owner(nb->store, child_rel, owner, sizeof owner))
			srv_strlcpy(owner, nb->owner, sizeof owner);
		json_array_append_new(out, json_pack("{s:s, s:s, s:I, s:I, s:s}", "path", child_rel,
						     "name", e->d_name,
						     "modified", (json_int_t)st.st_mtime,
						     "size", (json_int_t)st.st_size, "owner", owner));
	}
	closedir(d);
}

static int by_path(const void *a, const void *b)
{
	json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
	return strcmp(json_string_value(json_object_get(x, "path")),
		      json_string_value(json_object_get(y, "path")));
}

json_t *nb_list(struct nb_store *nb)
{
	json_t *items = json_array();
	list_dir(nb, nb->root, "", 0, items);
	size_t n = json_array_size(items);
	json_t **v = tb_xcalloc(n ? n : 1, sizeof *v);
	for (size_t i = 0; i < n; i++)
		v[i] = json_incref(json_array_get(items, i));
	qsort(v, n, sizeof *v, by_path);
	json_t *sorted = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(sorted, v[i]);
	free(v);
	json_decref(items);
	return json_pack("{s:o}", "notebooks", sorted);
}

/* ---- read / write ------------------------------------------------------- */

int nb_read(struct nb_store *nb, const char *rel, char **data, size_t *len,
	    char etag[NB_ETAG_LEN], int64_t *mtime, char *err, size_t errlen)
{
	char abs[PATH_MAX];
	int rc = nb_resolve(nb, rel, true, abs, sizeof abs, err, errlen);
	if (rc)
		return rc;
	if (srv_read_file(abs, NB_MAX_BYTES, data, len) < 0) {
		snprintf(err, errlen, "%s: %s", rel, strerror(errno));
		return errno == EFBIG ? NB_ETOOBIG : errno == ENOENT ? NB_ENOENT : NB_EIO;
	}
	nb_etag(*data, *len, etag);
	struct stat st;
	*mtime = stat(abs, &st) == 0 ? (int64_t)st.st_mtime : srv_unix_now();
	return NB_OK;
}

int nb_validate(const char *data, size_t len, char *err, size_t errlen)
{
	json_error_t jerr;
	json_t *nb = json_loadb(data, len, 0, &jerr);
	if (!nb) {
		snprintf(err, errlen, "not JSON: line %d: %s", jerr.line, jerr.text);
		return NB_EINVALID;
	}
	int rc = NB_EINVALID;
	json_t *cells = json_object_get(nb, "cells");
	if (!json_is_object(nb)) {
		snprintf(err, errlen, "a notebook is a JSON object");
	} else if (json_integer_value(json_object_get(nb, "nbformat")) != 4) {
		snprintf(err, errlen, "only nbformat 4 notebooks are supported");
	} else if (!json_is_integer(json_object_get(nb, "nbformat_minor"))) {
		snprintf(err, errlen, "nbformat_minor must be an integer");
	} else if (!json_is_object(json_object_get(nb, "metadata"))) {
		snprintf(err, errlen, "metadata must be an object");
	} else if (!json_is_array(cells)) {
		snprintf(err, errlen, "cells must be an array");
	} else {
		rc = NB_OK;
		size_t i;
		json_t *cell;
		json_array_foreach(cells, i, cell) {
			const char *type = json_string_value(json_object_get(cell, "cell_type"));
			json_t *src = json_object_get(cell, "source");
			json_t *meta = json_object_get(cell, "metadata");
			bool src_ok = json_is_string(src) || json_is_array(src);
			size_t k;
			json_t *line;
			if (json_is_array(src))
				json_array_foreach(src, k, line) src_ok &= json_is_string(line);
			if (!type || (strcmp(type, "code") && strcmp(type, "markdown") && strcmp(type, "raw"))) {
				snprintf(err, errlen, "cell %zu: cell_type must be code, markdown or raw", i);
				rc = NB_EINVALID;
			} else if (!src_ok) {
				snprintf(err, errlen, "cell %zu: source must be a string or a list of strings", i);
				rc = NB_EINVALID;
			} else if (meta && !json_is_object(meta)) {
				snprintf(err, errlen, "cell %zu: metadata must be an object", i);
				rc = NB_EINVALID;
			}
			if (rc)
				break;
		}
	}
	json_decref(nb);
	return rc;
}

static int write_checked(struct nb_store *nb, const char *rel, const char *abs, const char *data,
			 size_t len, bool create, char *err, size_t errlen)
{
	if (atomic_write(abs, data, len, create, NULL, 0) < 0) {
		if (create && errno == EEXIST) {
			snprintf(err, errlen, "%s exists already", rel);
			return NB_EEXIST;
		}
		snprintf(err, errlen, "cannot write %s: %s", rel, strerror(errno));
		return NB_EIO;
	}
	if (nb->store)
		store_notebook_touch(nb->store, rel, nb->owner);
	return NB_OK;
}

/* ETags compare without the quotes and a weak W/ prefix, as browsers may send either. */
static bool etag_matches(const char *want, const char *have)
{
	if (!strncmp(want, "W/", 2))
		want += 2;
	if (!strcmp(want, "*"))
		return true;
	size_t wl = strlen(want), hl = strlen(have);
	if (wl >= 2 && want[0] == '"' && want[wl - 1] == '"') {
		want++;
		wl -= 2;
	}
	return wl + 2 == hl && !strncmp(want, have + 1, wl);
}

/* What every write of a notebook body checks first: its size, then nbformat. */
static int check_body(const char *data, size_t len, char *err, size_t errlen)
{
	if (len > NB_MAX_BYTES) {
		snprintf(err, errlen, "notebooks are limited to %u bytes", NB_MAX_BYTES);
		return NB_ETOOBIG;
	}
	return nb_validate(data, len, err, errlen);
}

int nb_save(struct nb_store *nb, const char *rel, const char *data, size_t len,
	    const char *if_match, char etag[NB_ETAG_LEN], int64_t *mtime, char *err, size_t errlen)
{
	int rc = check_body(data, len, err, errlen);
	if (rc)
		return rc;
	char abs[PATH_MAX];
	pthread_mutex_lock(&nb->lock);
	rc = nb_resolve(nb, rel, false, abs, sizeof abs, err, errlen);
	if (rc)
		goto out;
	if (if_match) {
		char *cur;
		size_t curlen;
		char cur_etag[NB_ETAG_LEN];
		if (srv_read_file(abs, NB_MAX_BYTES, &cur, &curlen) < 0) {
			snprintf(err, errlen, "%s changed on disk (it is gone)", rel);
			rc = NB_ECONFLICT;
			goto out;
		}
		nb_etag(cur, curlen, cur_etag);
		free(cur);
		if (!etag_matches(if_match, cur_etag)) {
			snprintf(err, errlen, "%s was changed by someone else since you loaded it", rel);
			rc = NB_ECONFLICT;
			goto out;
		}
	}
	rc = write_checked(nb, rel, abs, data, len, false, err, errlen);
	if (rc == NB_OK) {
		nb_etag(data, len, etag);
		*mtime = srv_unix_now();
	}
out:
	pthread_mutex_unlock(&nb->lock);
	return rc;
}

int nb_create(struct nb_store *nb, const char *rel, const char *data, size_t len,
	      char etag[NB_ETAG_LEN], char *err, size_t errlen)
{
	if (!data) {
		data = empty_notebook;
		len = sizeof empty_notebook - 1;
	}
	int rc = check_body(data, len, err, errlen);
	if (rc)
		return rc;
	char abs[PATH_MAX];
	pthread_mutex_lock(&nb->lock);
	rc = nb_resolve(nb, rel, false, abs, sizeof abs, err, errlen);
	if (rc == NB_OK)
		rc = write_checked(nb, rel, abs, data, len, true, err, errlen);
	pthread_mutex_unlock(&nb->lock);
	if (rc == NB_OK)
		nb_etag(data, len, etag);
	return rc;
}

int nb_rename(struct nb_store *nb, const char *from, const char *to, char *err, size_t errlen)
{
	char src[PATH_MAX], dst[PATH_MAX];
	pthread_mutex_lock(&nb->lock);
	int rc = nb_resolve(nb, from, true, src, sizeof src, err, errlen);
	if (rc == NB_OK)
		rc = nb_resolve(nb, to, false, dst, sizeof dst, err, errlen);
	if (rc == NB_OK && renameat2(AT_FDCWD, src, AT_FDCWD, dst, RENAME_NOREPLACE) < 0) {
		if (errno == EEXIST) {
			snprintf(err, errlen, "%s exists already", to);
			rc = NB_EEXIST;
		} else {
			snprintf(err, errlen, "cannot rename %s: %s", from, strerror(errno));
			rc = NB_EIO;
		}
	}
	if (rc == NB_OK && nb->store)
		store_notebook_rename(nb->store, from, to);
	pthread_mutex_unlock(&nb->lock);
	return rc;
}

int nb_delete(struct nb_store *nb, const char *rel, char *err, size_t errlen)
{
	char abs[PATH_MAX];
	pthread_mutex_lock(&nb->lock);
	int rc = nb_resolve(nb, rel, true, abs, sizeof abs, err, errlen);
	if (rc == NB_OK && unlink(abs) < 0) {
		snprintf(err, errlen, "cannot delete %s: %s", rel, strerror(errno));
		rc = errno == ENOENT ? NB_ENOENT : NB_EIO;
	}
	if (rc == NB_OK && nb->store)
		store_notebook_delete(nb->store, rel);
	pthread_mutex_unlock(&nb->lock);
	return rc;
}

int nb_seed(struct nb_store *nb, const char *examples_dir)
{
	DIR *d = examples_dir && *examples_dir ? opendir(examples_dir) : NULL;
	if (!d)
		return 0;
	char dest_dir[PATH_MAX + 16];
	snprintf(dest_dir, sizeof dest_dir, "%s/examples", nb->root);
	int copied = 0;
	struct dirent *e;
	char err[256];
	while ((e = readdir(d))) {
		size_t n = strlen(e->d_name);
		if (e->d_name[0] == '.' || n <= 6 || strcmp(e->d_name + n - 6, ".ipynb"))
			continue;
		char src[PATH_MAX + 256], rel[300];
		snprintf(src, sizeof src, "%s/%s", examples_dir, e->d_name);
		snprintf(rel, sizeof rel, "examples/%s", e->d_name);
		char *data;
		size_t len;
		if (srv_read_file(src, NB_MAX_BYTES, &data, &len) < 0)
			continue;
		if (mkdir(dest_dir, 0755) < 0 && errno != EEXIST) {
			free(data);
			break;
		}
		char etag[NB_ETAG_LEN];
		if (nb_create(nb, rel, data, len, etag, err, sizeof err) == NB_OK)
			copied++;
		else if (!strstr(err, "exists"))
			srv_log("seed: %s: %s", e->d_name, err);
		free(data);
	}
	closedir(d);
	return copied;
}

char *nb_cell_source(json_t *notebook, const char *cell, char *err, size_t errlen)
{
	size_t i;
	json_t *c;
	json_array_foreach(json_object_get(notebook, "cells"), i, c) {
		const char *id = json_string_value(json_object_get(c, "id"));
		if (!id || strcmp(id, cell))
			continue;
		if (strcmp(json_string_value(json_object_get(c, "cell_type")) ?: "", "code")) {
			snprintf(err, errlen, "cell %s is not a run cell", cell);
			return NULL;
		}
		json_t *src = json_object_get(c, "source");
		if (json_is_string(src))
			return tb_xstrdup(json_string_value(src));
		struct srv_buf b = {0};
		size_t k;
		json_t *line;
		json_array_foreach(src, k, line) srv_buf_puts(&b, json_string_value(line) ?: "");
		return srv_buf_steal(&b);
	}
	snprintf(err, errlen, "no cell with id %s", cell);
	return NULL;
}
