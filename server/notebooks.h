/*
 * notebooks.h — the workspace's .ipynb files: list, read, create, save
 * (atomic, with ETag / If-Match conflict detection), rename, delete, seed
 * from examples, and pull a run cell's YAML out of a notebook.
 *
 * What it is: the only module that turns a user-given path into a file
 * name, so the rules live here: relative, '/'-separated UTF-8, no '.' or
 * '..' or hidden components, no part over 255 bytes, ending in .ipynb, and
 * after resolving symlinks still a visible place inside the workspace
 * (never .trainbook/). Paths are opened below the workspace's directory fd
 * with openat2(RESOLVE_BENEATH) and checked on the fd they opened, so a
 * link swapped in between a check and a use cannot redirect it.
 * What it is not: HTTP (routes_notebooks.c maps the NB_E* codes to statuses).
 *
 * Threads: any. nb->lock serialises writers so an If-Match check and the
 * write that follows it cannot interleave with another save.
 */
#ifndef TB_SERVER_NOTEBOOKS_H
#define TB_SERVER_NOTEBOOKS_H

#include <jansson.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct store;

#define NB_MAX_BYTES (16u << 20) /* a notebook with embedded images, not a data set */
#define NB_MAX_LIST 5000         /* files returned by a listing */
#define NB_ETAG_LEN 20           /* "\"" + 16 hex + "\"" + NUL, rounded */

enum nb_err {
	NB_OK = 0,
	NB_EBADPATH = -1,  /* escapes the workspace, hidden, not .ipynb: 400 */
	NB_ENOENT = -2,    /* 404 */
	NB_EEXIST = -3,    /* 409 */
	NB_ECONFLICT = -4, /* If-Match does not match: 412 */
	NB_EINVALID = -5,  /* not nbformat 4: 400 */
	NB_EIO = -6,       /* the disk said no: 500 */
	NB_ETOOBIG = -7,   /* 413 */
};

struct nb_store {
	char root[PATH_MAX];   /* realpath of the workspace */
	int root_fd;           /* O_PATH fd of root: every path is opened below it */
	struct store *store;   /* owner records; may be NULL in tests */
	char owner[64];        /* who owns what is written without a named owner ("" = nobody) */
	pthread_mutex_t lock;  /* held across check-then-write in save/create/rename/delete */
};

int nb_init(struct nb_store *nb, const char *workspace, struct store *store, const char *owner);
void nb_free(struct nb_store *nb);

/*
 * Where a workspace-relative notebook path lands: its folder, opened
 * (O_RDONLY | O_DIRECTORY) in *dirfd for the caller to close, and its last
 * part in *name (pointing into rel). The folder must be a visible place
 * inside the workspace. Whatever already has that name must be, through
 * any link, a visible regular file inside the workspace; with must_exist
 * something must (NB_ENOENT otherwise).
 */
int nb_resolve(const struct nb_store *nb, const char *rel, bool must_exist, int *dirfd,
	       const char **name, char *err, size_t errlen);

/* {"notebooks":[{"path","name","modified","size","owner"}…]} sorted by path. */
json_t *nb_list(struct nb_store *nb);
/*
 * The same, showing only what `visible` allows: a file when it says yes
 * to its path, a folder's contents only when it says yes to the folder
 * (is_dir), so a listing never walks into places the caller cannot read.
 * The owner of a file under users/<name>/ is <name>; elsewhere the owner
 * recorded when it was made, else nb->owner (null when that is "").
 */
typedef bool (*nb_visible_fn)(void *ctx, const char *rel, bool is_dir);
json_t *nb_list_visible(struct nb_store *nb, nb_visible_fn visible, void *ctx);

/* Read a notebook; etag is the quoted strong ETag of the bytes. */
int nb_read(struct nb_store *nb, const char *rel, char **data, size_t *len,
	    char etag[NB_ETAG_LEN], int64_t *mtime, char *err, size_t errlen);

/*
 * Save over (or create) a notebook. `if_match` NULL saves unconditionally;
 * otherwise the current file's ETag must equal it (NB_ECONFLICT if not, or
 * if the file is gone).
 */
int nb_save(struct nb_store *nb, const char *rel, const char *data, size_t len,
	    const char *if_match, char etag[NB_ETAG_LEN], int64_t *mtime, char *err, size_t errlen);

/* Create a new notebook; NB_EEXIST if the path is taken. data NULL = empty notebook. */
int nb_create(struct nb_store *nb, const char *rel, const char *data, size_t len,
	      char etag[NB_ETAG_LEN], char *err, size_t errlen);
/* The same recording `owner` (NULL = nb->owner) as the maker of a new file. */
int nb_create_as(struct nb_store *nb, const char *rel, const char *data, size_t len, const char *owner,
		 char etag[NB_ETAG_LEN], char *err, size_t errlen);
int nb_save_as(struct nb_store *nb, const char *rel, const char *data, size_t len, const char *if_match,
	       const char *owner, char etag[NB_ETAG_LEN], int64_t *mtime, char *err, size_t errlen);

/*
 * Copy notebook `from` to the new path `to` (NB_EEXIST if taken), made by
 * `owner`. The copy records where it came from in its metadata:
 * "trainbook": {"copied_from": {"path": from, "etag": …, "time": unix}}.
 */
int nb_copy(struct nb_store *nb, const char *from, const char *to, const char *owner, char etag[NB_ETAG_LEN],
	    char *err, size_t errlen);

int nb_rename(struct nb_store *nb, const char *from, const char *to, char *err, size_t errlen);
int nb_delete(struct nb_store *nb, const char *rel, char *err, size_t errlen);

/* nbformat 4 shape check: object, nbformat 4, metadata object, cells with types and sources. */
int nb_validate(const char *data, size_t len, char *err, size_t errlen);

/* The quoted ETag of some bytes. */
void nb_etag(const char *data, size_t len, char etag[NB_ETAG_LEN]);

/*
 * Copy the .ipynb files of examples_dir to <workspace>/examples/ (existing files are
 * left alone). Returns how many were copied, -1 on error.
 */
int nb_seed(struct nb_store *nb, const char *examples_dir);
/* The same into another workspace folder (accounts mode seeds course/examples/). */
int nb_seed_into(struct nb_store *nb, const char *examples_dir, const char *dest);

/*
 * The YAML source of the code cell with id `cell` (malloc'd), or NULL with
 * a message.
 */
char *nb_cell_source(json_t *notebook, const char *cell, char *err, size_t errlen);

#endif
