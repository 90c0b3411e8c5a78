/*
 * access.h — who may touch what, decided in one place. Every row of the
 * route table (routes.c) names one of the rules below; http.c applies it
 * before the handler runs, so no handler decides access by itself. The
 * live feed's message types name rules of their own (feed.c), and the
 * isolation sweep (tests/integration/isolation.test.mjs) walks both tables
 * for every role.
 *
 * The places of a workspace in accounts mode:
 *   users/<name>/…   the home of <name>: theirs to read and write;
 *   course/…         published by instructors: every user reads it;
 *   anything else    (examples/, archive/, …) instructors only.
 * A run, its events, metrics (exports) and checkpoints belong to the user
 * who started it, and so does a sweep (its trials are runs of that user). Instructors see and manage everything, each item
 * labelled with its owner. Another user's resource answers 404, exactly
 * as a missing one does, so nothing tells a student what others have.
 *
 * In single-user mode the caller is the OS user as an instructor: every
 * rule passes, and nothing behaves differently from before accounts.
 *
 * What it is not: authentication (identity.c says who is asking).
 *
 * Threads: any; the tables are read-only data.
 */
#ifndef TB_SERVER_ACCESS_H
#define TB_SERVER_ACCESS_H

#include <jansson.h>
#include <limits.h>
#include <stdbool.h>
#include <stddef.h>

#include "accounts.h"

struct store;

enum access_rule {
	ACCESS_NONE = 0,   /* no rule written: refused (500), and the sweep fails */
	ACCESS_PUBLIC,     /* anyone, before logging in */
	ACCESS_USER,       /* any signed-in user; answers hold only what the user may see */
	ACCESS_INSTRUCTOR, /* instructors only; students get 403 */
	ACCESS_RUN,        /* the owner of run {id}, or an instructor */
	ACCESS_NB_READ,    /* notebook {path} readable: home, course/, or instructor */
	ACCESS_NB_WRITE,   /* notebook {path} writable: home, or instructor */
	ACCESS_NB_MOVE,    /* {path} and the body's "path" writable */
	ACCESS_NB_NEW,     /* the body's "path" writable */
	ACCESS_NB_COPY,    /* the body's "from" readable, its "to" (when given) writable */
	ACCESS_RUN_NEW,    /* any user; the body's "notebook", when given, readable */
	ACCESS_TOKEN,      /* the caller's own API token {id} (instructors too: tokens are personal) */
	ACCESS_RUN_SECRET, /* no login: run {id}'s own worker on a cluster, by the secret of its start (handler) */
	ACCESS_SWEEP,      /* the owner of sweep {id}, or an instructor */
	ACCESS_NRULES
};

/* One rule: its name in --list-routes and GET /api/routes, and what it says. */
struct access_rule_info {
	const char *name;
	const char *summary;
	bool reads_body; /* decided only once the body is in (fields of a JSON object) */
};
extern const struct access_rule_info access_rules[ACCESS_NRULES];

/* What a rule is decided against. */
struct access_ctx {
	bool accounts;
	struct store *store;
	const char *workspace;              /* realpath of the workspace */
	const char (*data_roots)[PATH_MAX]; /* realpaths of the configured data roots */
	int ndata_roots;
};

/* A refusal: the HTTP status and the error body's code and message. */
struct access_verdict {
	unsigned status; /* 0 = allowed */
	const char *code;
	char message[300];
};

/*
 * Decide `rule` for `who` against the route's {…} params (URL rules) or,
 * for rules that read the body, its parsed JSON (body may be NULL or not
 * an object: the handler then answers 400 itself). Returns true when
 * allowed; otherwise fills *v.
 */
bool access_url(const struct access_ctx *c, const struct acct_who *who, enum access_rule rule, char *const *params,
		int nparams, struct access_verdict *v);
bool access_body(const struct access_ctx *c, const struct acct_who *who, enum access_rule rule, const json_t *body,
		 struct access_verdict *v);

/* ---- places (notebook paths, workspace-relative) ---------------------------- */

bool access_nb_readable(const struct acct_who *who, const char *path);
bool access_nb_writable(const struct acct_who *who, const char *path);
/*
 * For listings: may an entry at `rel` be shown (a file), or may a walk go
 * into it (a folder, is_dir) because it leads to something readable?
 */
bool access_nb_visible(const struct acct_who *who, const char *rel, bool is_dir);
/* The user whose home holds `path` (into out), or false for other places. */
bool access_nb_home_owner(const char *path, char *out, size_t len);

/* The owner filter of a list: NULL for instructors (everything), else the caller's name. */
const char *access_list_owner(const struct acct_who *who);

/*
 * Where a spec may read data from (accounts mode): data.path and
 * data.test_path, resolved after symlinks (relative ones against the
 * workspace), must lie in the caller's home, course/ or a data root;
 * instructors anywhere in the workspace or a data root. A path that does
 * not resolve is judged as written, so the answer never tells whether a
 * file outside exists. Returns true when allowed; otherwise a message
 * naming the field, and the field's line and column in the spec.
 */
bool access_spec_data(const struct access_ctx *c, const struct acct_who *who, const char *yaml, size_t len, char *msg,
		      size_t msglen, int *line, int *column);

/*
 * /api/system and the feed's system messages for `who`: GPU processes of
 * other users' runs lose their pid and run (their memory still counts);
 * the caller's own are named, and every named one carries its "owner".
 * Instructors see everything. Modifies `system` in place.
 */
void access_system_view(const struct acct_who *who, json_t *system);

#endif
