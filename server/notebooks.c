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

#include "access.h"
#include "atomic_file.h"
#include "store.h"
#include "tb.h"
#include "util.h"

#define NB_PATH_MAX 1024
#define NB_NAME_MAX 255 /* bytes in one part of a path: the file system's NAME_MAX */
#define NB_LIST_DEPTH 6

static const char empty_notebook[] =
	"{\n \"cells\": [],\n \"metadata\": {\"trainbook\": {\"version\": 1}},\n"
	" \"nbformat\": 4,\n \"nbformat_minor\": 5\n}\n";

int nb_init(struct nb_store *nb, const char *workspace, struct store *store, const char *owner)
{
	memset(nb, 0, sizeof *nb);
	nb->root_fd = -1;
	if (!realpath(workspace, nb->root))
		return NB_EIO;
	nb->root_fd = open(nb->root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (nb->root_fd < 0)
		return NB_EIO;
	nb->store = store;
	srv_strlcpy(nb->owner, owner ? owner : "", sizeof nb->owner);
	pthread_mutex_init(&nb->lock, NULL);
	return NB_OK;
}

void nb_free(struct nb_store *nb)
{
	if (nb->root_fd >= 0)
		close(nb->root_fd);
	nb->root_fd = -1;
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
	/* A name that is not UTF-8 could be saved but never listed (JSON is UTF-8). */
	if (!srv_utf8_valid(rel, n)) {
		snprintf(err, errlen, "notebook paths must be UTF-8 text");
		return NB_EBADPATH;
	}
	const char *c = rel;
	while (*c) {
		size_t len = strcspn(c, "/");
		if (len == 0 || c[0] == '.') {
			snprintf(err, errlen, "notebook paths may not hold empty, '.', '..' or hidden parts");
			return NB_EBADPATH;
		}
		if (len > NB_NAME_MAX) {
			snprintf(err, errlen, "a name in a notebook path is at most %d bytes (this one has %zu)",
				 NB_NAME_MAX, len);
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

/* Map the errno of a failed open below the workspace to a code and a message. */
static int open_error(const char *rel, const char *what, char *err, size_t errlen)
{
	switch (errno) {
	case ENOENT:
	case ENOTDIR:
		snprintf(err, errlen, "%s %s does not exist", what, rel);
		return NB_ENOENT;
	case EXDEV:
		snprintf(err, errlen, "%s links outside the workspace", rel);
		return NB_EBADPATH;
	case ELOOP:
		snprintf(err, errlen, "%s goes through too many symbolic links", rel);
		return NB_EBADPATH;
	case ENAMETOOLONG:
		snprintf(err, errlen, "%s is too long a path", rel);
		return NB_EBADPATH;
	default:
		snprintf(err, errlen, "%s: %s", rel, strerror(errno));
		return NB_EIO;
	}
}

/*
 * Where an open fd really landed must be a visible place of the workspace:
 * inside it, and no part below the root hidden. This is what keeps a link
 * like db.ipynb -> .trainbook/trainbook.db from serving the database. The
 * check is on the fd itself, so nothing can be swapped in after it.
 */
static int check_landing(const struct nb_store *nb, int fd, const char *rel, char *err, size_t errlen)
{
	char real[PATH_MAX];
	if (srv_fd_path(fd, real, sizeof real) < 0) {
		snprintf(err, errlen, "%s: cannot tell where it leads: %s", rel, strerror(errno));
		return NB_EIO;
	}
	if (!srv_path_inside(nb->root, real)) {
		snprintf(err, errlen, "%s links outside the workspace", rel);
		return NB_EBADPATH;
	}
	for (const char *c = real + strlen(nb->root); *c; c++) {
		if (c[0] == '/' && c[1] == '.') {
			snprintf(err, errlen, "%s leads into a hidden folder or file (like .trainbook/)", rel);
			return NB_EBADPATH;
		}
	}
	return NB_OK;
}

/* Open an existing notebook for reading: checked path, visible landing, a regular file. */
static int open_notebook(const struct nb_store *nb, const char *rel, int *fd_out, char *err, size_t errlen)
{
	int rc = check_rel(rel, err, errlen);
	if (rc)
		return rc;
	/* O_NONBLOCK: a FIFO named x.ipynb must not hang the server in open(). */
	int fd = srv_open_beneath(nb->root_fd, rel, O_RDONLY | O_NONBLOCK, 0);
	if (fd < 0)
		return open_error(rel, "notebook", err, errlen);
	struct stat st;
	rc = check_landing(nb, fd, rel, err, errlen);
	if (rc == NB_OK && (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))) {
		snprintf(err, errlen, "%s is not a file", rel);
		rc = NB_EBADPATH;
	}
	if (rc) {
		close(fd);
		return rc;
	}
	*fd_out = fd;
	return NB_OK;
}

int nb_resolve(const struct nb_store *nb, const char *rel, bool must_exist, int *dirfd_out,
	       const char **name_out, char *err, size_t errlen)
{
	int rc = check_rel(rel, err, errlen);
	if (rc)
		return rc;
	const char *slash = strrchr(rel, '/');
	char dir[NB_PATH_MAX];
	snprintf(dir, sizeof dir, "%.*s", slash ? (int)(slash - rel) : 1, slash ? rel : ".");
	int dirfd = srv_open_beneath(nb->root_fd, dir, O_RDONLY | O_DIRECTORY, 0);
	if (dirfd < 0)
		return open_error(rel, "the folder of", err, errlen);
	const char *name = slash ? slash + 1 : rel;
	rc = check_landing(nb, dirfd, rel, err, errlen);
	struct stat st;
	if (rc == NB_OK && fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		/* Something is there already: through any link it must be a
		 * visible notebook, or nothing may read, replace or remove it. */
		int fd = -1;
		rc = open_notebook(nb, rel, &fd, err, errlen);
		if (fd >= 0)
			close(fd);
		if (rc == NB_ENOENT) {
			snprintf(err, errlen, "%s is a link to nothing", rel);
			rc = NB_EBADPATH;
		}
	} else if (rc == NB_OK && must_exist) {
		snprintf(err, errlen, "no notebook %s", rel);
		rc = NB_ENOENT;
	}
	if (rc) {
		close(dirfd);
		return rc;
	}
	*dirfd_out = dirfd;
	*name_out = name;
	return NB_OK;
}

/* ---- listing ------------------------------------------------------------ */

struct list_filter {
	nb_visible_fn visible; /* NULL = everything */
	void *ctx;
};

static void list_dir(struct nb_store *nb, const char *abs, const char *rel, int depth, json_t *out,
		     const struct list_filter *f)
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
			if (depth < NB_LIST_DEPTH && (!f->visible || f->visible(f->ctx, child_rel, true)))
				list_dir(nb, child_abs, child_rel, depth + 1, out, f);
			continue;
		}
		size_t n = strlen(e->d_name);
		if (n <= 6 || strcmp(e->d_name + n - 6, ".ipynb"))
			continue;
		/* Names the API would refuse are not listed either, nor what the caller may not read. */
		if (check_rel(child_rel, NULL, 0) != NB_OK || (f->visible && !f->visible(f->ctx, child_rel, false)))
			continue;
		if (S_ISLNK(st.st_mode)) {
			int fd = -1;
			if (open_notebook(nb, child_rel, &fd, NULL, 0) != NB_OK)
				continue;
			int ok = fstat(fd, &st);
			close(fd);
			if (ok < 0)
				continue;
		}
		if (!S_ISREG(st.st_mode))
			continue;
		char owner[64];
		if (!access_nb_home_owner(child_rel, owner, sizeof owner) &&
		    (!nb->store || !store_notebook_owner(nb->store, child_rel, owner, sizeof owner)))
			srv_strlcpy(owner, nb->owner, sizeof owner);
		json_array_append_new(out, json_pack("{s:s, s:s, s:I, s:I, s:o}", "path", child_rel,
						     "name", e->d_name,
						     "modified", (json_int_t)st.st_mtime,
						     "size", (json_int_t)st.st_size,
						     "owner", owner[0] ? json_string(owner) : json_null()));
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
	return nb_list_visible(nb, NULL, NULL);
}

json_t *nb_list_visible(struct nb_store *nb, nb_visible_fn visible, void *ctx)
{
	json_t *items = json_array();
	struct list_filter f = {visible, ctx};
	list_dir(nb, nb->root, "", 0, items, &f);
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
	int fd = -1;
	int rc = open_notebook(nb, rel, &fd, err, errlen);
	if (rc)
		return rc;
	struct stat st;
	*mtime = fstat(fd, &st) == 0 ? (int64_t)st.st_mtime : srv_unix_now();
	if (srv_read_fd(fd, NB_MAX_BYTES, data, len) < 0) {
		int e = errno;
		close(fd);
		snprintf(err, errlen, "%s: %s", rel, strerror(e));
		return e == EFBIG ? NB_ETOOBIG : NB_EIO;
	}
	close(fd);
	nb_etag(*data, *len, etag);
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

static int write_checked(struct nb_store *nb, const char *rel, int dirfd, const char *name,
			 const char *data, size_t len, bool create, const char *owner, char *err, size_t errlen)
{
	if (atomic_write_at(dirfd, name, data, len, create, NULL, 0) < 0) {
		if (create && errno == EEXIST) {
			snprintf(err, errlen, "%s exists already", rel);
			return NB_EEXIST;
		}
		snprintf(err, errlen, "cannot write %s: %s", rel, strerror(errno));
		return NB_EIO;
	}
	if (nb->store)
		store_notebook_touch(nb->store, rel, owner ? owner : nb->owner);
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
	return nb_save_as(nb, rel, data, len, if_match, NULL, etag, mtime, err, errlen);
}

int nb_save_as(struct nb_store *nb, const char *rel, const char *data, size_t len, const char *if_match,
	       const char *owner, char etag[NB_ETAG_LEN], int64_t *mtime, char *err, size_t errlen)
{
	int rc = check_body(data, len, err, errlen);
	if (rc)
		return rc;
	int dirfd = -1;
	const char *name;
	pthread_mutex_lock(&nb->lock);
	rc = nb_resolve(nb, rel, false, &dirfd, &name, err, errlen);
	if (rc)
		goto out;
	if (if_match) {
		char *cur, cur_etag[NB_ETAG_LEN];
		size_t curlen;
		int64_t cur_mtime;
		if (nb_read(nb, rel, &cur, &curlen, cur_etag, &cur_mtime, err, errlen) != NB_OK) {
			snprintf(err, errlen, "%s changed on disk (it is gone)", rel);
			rc = NB_ECONFLICT;
			goto out;
		}
		free(cur);
		if (!etag_matches(if_match, cur_etag)) {
			snprintf(err, errlen, "%s was changed by someone else since you loaded it", rel);
			rc = NB_ECONFLICT;
			goto out;
		}
	}
	rc = write_checked(nb, rel, dirfd, name, data, len, false, owner, err, errlen);
	if (rc == NB_OK) {
		nb_etag(data, len, etag);
		*mtime = srv_unix_now();
	}
out:
	pthread_mutex_unlock(&nb->lock);
	if (dirfd >= 0)
		close(dirfd);
	return rc;
}

int nb_create(struct nb_store *nb, const char *rel, const char *data, size_t len,
	      char etag[NB_ETAG_LEN], char *err, size_t errlen)
{
	return nb_create_as(nb, rel, data, len, NULL, etag, err, errlen);
}

int nb_create_as(struct nb_store *nb, const char *rel, const char *data, size_t len, const char *owner,
		 char etag[NB_ETAG_LEN], char *err, size_t errlen)
{
	if (!data) {
		data = empty_notebook;
		len = sizeof empty_notebook - 1;
	}
	int rc = check_body(data, len, err, errlen);
	if (rc)
		return rc;
	int dirfd;
	const char *name;
	pthread_mutex_lock(&nb->lock);
	rc = nb_resolve(nb, rel, false, &dirfd, &name, err, errlen);
	if (rc == NB_OK) {
		rc = write_checked(nb, rel, dirfd, name, data, len, true, owner, err, errlen);
		close(dirfd);
	}
	pthread_mutex_unlock(&nb->lock);
	if (rc == NB_OK)
		nb_etag(data, len, etag);
	return rc;
}

int nb_rename(struct nb_store *nb, const char *from, const char *to, char *err, size_t errlen)
{
	int src_dir = -1, dst_dir = -1;
	const char *src, *dst;
	pthread_mutex_lock(&nb->lock);
	int rc = nb_resolve(nb, from, true, &src_dir, &src, err, errlen);
	if (rc == NB_OK)
		rc = nb_resolve(nb, to, false, &dst_dir, &dst, err, errlen);
	if (rc == NB_OK && renameat2(src_dir, src, dst_dir, dst, RENAME_NOREPLACE) < 0) {
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
	if (src_dir >= 0)
		close(src_dir);
	if (dst_dir >= 0)
		close(dst_dir);
	return rc;
}

int nb_delete(struct nb_store *nb, const char *rel, char *err, size_t errlen)
{
	int dirfd = -1;
	const char *name;
	pthread_mutex_lock(&nb->lock);
	int rc = nb_resolve(nb, rel, true, &dirfd, &name, err, errlen);
	if (rc == NB_OK && unlinkat(dirfd, name, 0) < 0) {
		snprintf(err, errlen, "cannot delete %s: %s", rel, strerror(errno));
		rc = errno == ENOENT ? NB_ENOENT : NB_EIO;
	}
	if (dirfd >= 0)
		close(dirfd);
	if (rc == NB_OK && nb->store)
		store_notebook_delete(nb->store, rel);
	pthread_mutex_unlock(&nb->lock);
	return rc;
}

int nb_copy(struct nb_store *nb, const char *from, const char *to, const char *owner, char etag[NB_ETAG_LEN],
	    char *err, size_t errlen)
{
	char *data, src_etag[NB_ETAG_LEN];
	size_t len;
	int64_t mtime;
	int rc = nb_read(nb, from, &data, &len, src_etag, &mtime, err, errlen);
	if (rc)
		return rc;
	json_error_t jerr;
	json_t *doc = json_loadb(data, len, 0, &jerr);
	free(data);
	if (!json_is_object(doc) || !json_is_object(json_object_get(doc, "metadata"))) {
		json_decref(doc);
		snprintf(err, errlen, "%s is not a notebook that can be copied", from);
		return NB_EINVALID;
	}
	json_t *meta = json_object_get(doc, "metadata");
	json_t *tb = json_object_get(meta, "trainbook");
	if (!json_is_object(tb)) {
		tb = json_object();
		json_object_set_new(meta, "trainbook", tb);
	}
	json_object_set_new(tb, "copied_from", json_pack("{s:s, s:s, s:I}", "path", from, "etag", src_etag, "time",
							 (json_int_t)srv_unix_now()));
	/* One-space indent and a final newline, as Jupyter writes them. */
	char *text = json_dumps(doc, JSON_INDENT(1) | JSON_PRESERVE_ORDER);
	json_decref(doc);
	if (!text) {
		snprintf(err, errlen, "cannot write the copy of %s", from);
		return NB_EIO;
	}
	size_t n = strlen(text);
	text = tb_xrealloc(text, n + 2);
	text[n++] = '\n';
	text[n] = '\0';
	rc = nb_create_as(nb, to, text, n, owner, etag, err, errlen);
	free(text);
	return rc;
}

int nb_seed(struct nb_store *nb, const char *examples_dir)
{
	return nb_seed_into(nb, examples_dir, "examples");
}

int nb_seed_into(struct nb_store *nb, const char *examples_dir, const char *dest)
{
	DIR *d = examples_dir && *examples_dir ? opendir(examples_dir) : NULL;
	if (!d)
		return 0;
	char dest_dir[PATH_MAX + 16];
	snprintf(dest_dir, sizeof dest_dir, "%s/%s", nb->root, dest);
	/* course/examples needs course/ first; one level of parents is all a seed needs. */
	const char *slash = strrchr(dest, '/');
	if (slash) {
		char parent[PATH_MAX + 16];
		snprintf(parent, sizeof parent, "%s/%.*s", nb->root, (int)(slash - dest), dest);
		mkdir(parent, 0755);
	}
	int copied = 0;
	struct dirent *e;
	char err[256];
	while ((e = readdir(d))) {
		size_t n = strlen(e->d_name);
		if (e->d_name[0] == '.' || n <= 6 || strcmp(e->d_name + n - 6, ".ipynb"))
			continue;
		char src[PATH_MAX + 256], rel[600];
		snprintf(src, sizeof src, "%s/%s", examples_dir, e->d_name);
		snprintf(rel, sizeof rel, "%s/%s", dest, e->d_name);
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
