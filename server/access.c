/*
 * access.c — the access rules and the places of a workspace (see
 * access.h).
 *
 * Threads: any; read-only tables, no state.
 */
#include "access.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "spec.h"
#include "store.h"
#include "tb.h"
#include "util.h"

/* What a rule looks at: a {param} of the URL or a field of the JSON body. */
enum target { T_NONE, T_RUN, T_NB_READ, T_NB_WRITE, T_TOKEN, T_SWEEP };

struct check {
	enum target what;
	int param;         /* index into the route's params, or -1 */
	const char *field; /* body field, when param < 0 */
	bool optional;     /* the field may be absent */
};

/* Signing in is the route's `access` column (http.h); a rule says what a signed-in caller may touch. */
struct rule {
	bool instructor; /* instructors only */
	struct check checks[2];
};

#define URL(t)                                                                                                         \
	{                                                                                                              \
		t, 0, NULL, false                                                                                      \
	}
#define BODY(t, f, opt)                                                                                                \
	{                                                                                                              \
		t, -1, f, opt                                                                                          \
	}

/* The rules; access_rules below names and explains them in the same order. */
static const struct rule rules[ACCESS_NRULES] = {
	[ACCESS_NONE] = {0},
	[ACCESS_PUBLIC] = {0},
	[ACCESS_USER] = {0},
	[ACCESS_INSTRUCTOR] = {.instructor = true},
	[ACCESS_RUN] = {.checks = {URL(T_RUN)}},
	[ACCESS_NB_READ] = {.checks = {URL(T_NB_READ)}},
	[ACCESS_NB_WRITE] = {.checks = {URL(T_NB_WRITE)}},
	[ACCESS_NB_MOVE] = {.checks = {URL(T_NB_WRITE), BODY(T_NB_WRITE, "path", false)}},
	[ACCESS_NB_NEW] = {.checks = {BODY(T_NB_WRITE, "path", false)}},
	[ACCESS_NB_COPY] = {.checks = {BODY(T_NB_READ, "from", false), BODY(T_NB_WRITE, "to", true)}},
	[ACCESS_RUN_NEW] = {.checks = {BODY(T_NB_READ, "notebook", true)}},
	[ACCESS_TOKEN] = {.checks = {URL(T_TOKEN)}},
	[ACCESS_RUN_SECRET] = {0}, /* http.c hands these to the handler before any login */
	[ACCESS_SWEEP] = {.checks = {URL(T_SWEEP)}},
};

const struct access_rule_info access_rules[ACCESS_NRULES] = {
	[ACCESS_NONE] = {"none", "no rule written: refused", false},
	[ACCESS_PUBLIC] = {"public", "anyone, before logging in", false},
	[ACCESS_USER] = {"user", "any signed-in user; lists hold only what the caller may see", false},
	[ACCESS_INSTRUCTOR] = {"instructor", "instructors only (students: 403)", false},
	[ACCESS_RUN] = {"run", "the owner of run {id}, or an instructor (others: 404, as for no such run)", false},
	[ACCESS_NB_READ] = {"notebook-read", "{path} in the caller's home or course/, or an instructor (else 404)",
			    false},
	[ACCESS_NB_WRITE] = {"notebook-write", "{path} in the caller's home, or an instructor (else 404)", false},
	[ACCESS_NB_MOVE] = {"notebook-move", "{path} and the body's \"path\" in the caller's home, or an instructor",
			    true},
	[ACCESS_NB_NEW] = {"notebook-new", "the body's \"path\" in the caller's home, or an instructor", true},
	[ACCESS_NB_COPY] = {"notebook-copy",
			    "the body's \"from\" readable and its \"to\" (default: the caller's home) writable", true},
	[ACCESS_RUN_NEW] = {"run-new", "any signed-in user; the body's \"notebook\", when given, readable", true},
	[ACCESS_TOKEN] = {"own-token", "the caller's own API token {id} (else 404)", false},
	[ACCESS_RUN_SECRET] = {"run-secret", "no login: run {id}'s worker, by the secret of its start (else 403)",
			       false},
	[ACCESS_SWEEP] = {"sweep", "the owner of sweep {id}, or an instructor (others: 404, as for no such sweep)",
			  false},
};

/* ---- places ----------------------------------------------------------------- */

/* "users/<name>/" prefix of a path: the name's length, 0 when it is not in a home. */
static size_t home_name_len(const char *path)
{
	if (strncmp(path, "users/", 6))
		return 0;
	const char *slash = strchr(path + 6, '/');
	return slash && slash > path + 6 ? (size_t)(slash - path - 6) : 0;
}

bool access_nb_home_owner(const char *path, char *out, size_t len)
{
	size_t n = home_name_len(path);
	if (!n || n + 1 > len)
		return false;
	memcpy(out, path + 6, n);
	out[n] = '\0';
	return true;
}

static bool in_own_home(const struct acct_who *who, const char *path)
{
	size_t n = home_name_len(path);
	return n && n == strlen(who->name) && !strncmp(path + 6, who->name, n);
}

/*
 * Paths are judged as written. notebooks.c refuses '.', '..', empty and
 * hidden parts and backslashes outright; refuse them here too
 * (srv_path_plain), so a path that one side reads differently from the
 * other never passes.
 */
bool access_nb_readable(const struct acct_who *who, const char *path)
{
	if (who->instructor)
		return true;
	return srv_path_plain(path) && (in_own_home(who, path) || !strncmp(path, "course/", 7));
}

bool access_nb_writable(const struct acct_who *who, const char *path)
{
	if (who->instructor)
		return true;
	return srv_path_plain(path) && in_own_home(who, path);
}

bool access_nb_visible(const struct acct_who *who, const char *rel, bool is_dir)
{
	if (who->instructor)
		return true;
	if (!is_dir)
		return access_nb_readable(who, rel);
	/* A folder is worth walking when it is on the way to, or inside, a readable place. */
	char home[STORE_NAME_MAX + 8];
	snprintf(home, sizeof home, "users/%s", who->name);
	size_t n = strlen(rel);
	if (!strcmp(rel, "users") || !strcmp(rel, "course") || !strcmp(rel, home))
		return true;
	return (n > 7 && !strncmp(rel, "course/", 7)) ||
	       (n > strlen(home) && !strncmp(rel, home, strlen(home)) && rel[strlen(home)] == '/');
}

const char *access_list_owner(const struct acct_who *who)
{
	return who->instructor ? NULL : who->name;
}

/* ---- deciding a rule ------------------------------------------------------- */

static void refuse(struct access_verdict *v, unsigned status, const char *code, const char *fmt, const char *arg)
{
	v->status = status;
	v->code = code;
	snprintf(v->message, sizeof v->message, fmt, arg);
}

/* One check against one value (a URL param or a body string). */
static bool check_one(const struct access_ctx *c, const struct acct_who *who, enum target what, const char *value,
		      struct access_verdict *v)
{
	switch (what) {
	case T_RUN:
	case T_SWEEP: {
		bool sweep = what == T_SWEEP;
		int64_t id = sweep ? store_parse_sweep_id(value) : store_parse_run_id(value);
		if (id < 0)
			return true; /* not an id: the handler says 404 with the id's format */
		char owner[STORE_NAME_MAX];
		bool found = sweep ? store_sweep_owner(c->store, id, owner, sizeof owner)
				   : store_run_owner(c->store, id, owner, sizeof owner);
		/* Missing and not yours answer alike, so ids tell nothing. */
		if (!found || (!who->instructor && strcmp(owner, who->name))) {
			refuse(v, 404, "not_found", sweep ? "no sweep %s" : "no run %s", value);
			return false;
		}
		return true;
	}
	case T_NB_READ:
	case T_NB_WRITE:
		if (what == T_NB_READ ? access_nb_readable(who, value) : access_nb_writable(who, value))
			return true;
		refuse(v, 404, "not_found", "no notebook %s", value);
		return false;
	case T_TOKEN: {
		char *end;
		long long id = strtoll(value, &end, 10);
		int64_t user = 0;
		if (*end || id <= 0 || !who->id || store_token_owner(c->store, id, &user) != STORE_OK ||
		    user != who->id) {
			refuse(v, 404, "not_found", "no token %s", value);
			return false;
		}
		return true;
	}
	case T_NONE:
		break;
	}
	return true;
}

/* The part of a rule every request gets: written at all, signed in, role. */
static bool rule_base(const struct acct_who *who, enum access_rule rule, struct access_verdict *v)
{
	memset(v, 0, sizeof *v);
	if (rule <= ACCESS_NONE || rule >= ACCESS_NRULES) {
		refuse(v, 500, "internal", "%s", "this route has no access rule (a server bug)");
		return false;
	}
	const struct rule *r = &rules[rule];
	if (r->instructor && !who->instructor) {
		refuse(v, 403, "forbidden", "%s", "only instructors may do this");
		return false;
	}
	return true;
}

bool access_url(const struct access_ctx *c, const struct acct_who *who, enum access_rule rule, char *const *params,
		int nparams, struct access_verdict *v)
{
	if (!rule_base(who, rule, v))
		return false;
	/* Instructors reach everything; API tokens are personal even for them. */
	if (who->instructor && rule != ACCESS_TOKEN)
		return true;
	for (int i = 0; i < 2; i++) {
		const struct check *k = &rules[rule].checks[i];
		if (k->what == T_NONE || k->param < 0)
			continue;
		if (k->param >= nparams)
			continue; /* a pattern without it cannot name this rule's object */
		if (!check_one(c, who, k->what, params[k->param], v))
			return false;
	}
	return true;
}

bool access_body(const struct access_ctx *c, const struct acct_who *who, enum access_rule rule, const json_t *body,
		 struct access_verdict *v)
{
	if (!rule_base(who, rule, v))
		return false;
	if (who->instructor || !json_is_object(body))
		return true; /* not an object: the handler answers 400 and does nothing */
	for (int i = 0; i < 2; i++) {
		const struct check *k = &rules[rule].checks[i];
		if (k->what == T_NONE || k->param >= 0)
			continue;
		const json_t *f = json_object_get(body, k->field);
		if (!f && k->optional)
			continue;
		if (!json_is_string(f))
			continue; /* missing or not text: the handler refuses it (400) */
		if (!check_one(c, who, k->what, json_string_value(f), v))
			return false;
	}
	return true;
}

/* ---- data paths ------------------------------------------------------------- */

/*
 * `path` made absolute (against the workspace), symlinks resolved as far
 * as the path exists, and the rest folded lexically ('.' dropped, '..'
 * taking one part off). What it names then says where it is.
 */
static void resolve_loosely(const char *workspace, const char *path, char *out, size_t len)
{
	char abs[PATH_MAX * 2], real[PATH_MAX];
	if (path[0] == '/')
		snprintf(abs, sizeof abs, "%s", path);
	else
		snprintf(abs, sizeof abs, "%s/%s", workspace, path);
	/* The longest prefix that exists, resolved. */
	size_t cut = strlen(abs);
	char saved;
	for (;;) {
		saved = abs[cut];
		abs[cut] = '\0';
		bool ok = realpath(cut ? abs : "/", real) != NULL;
		abs[cut] = saved;
		if (ok)
			break;
		while (cut > 0 && abs[cut - 1] != '/')
			cut--;
		while (cut > 0 && abs[cut - 1] == '/')
			cut--;
		if (cut == 0) {
			strcpy(real, "/");
			break;
		}
	}
	/* Fold the rest onto it. */
	char folded[PATH_MAX * 2];
	snprintf(folded, sizeof folded, "%s", strcmp(real, "/") ? real : "");
	for (const char *p = abs + cut; *p;) {
		while (*p == '/')
			p++;
		size_t n = strcspn(p, "/");
		if (n == 0)
			break;
		if (n == 2 && !strncmp(p, "..", 2)) {
			char *slash = strrchr(folded, '/');
			if (slash)
				*slash = '\0';
		} else if (!(n == 1 && p[0] == '.')) {
			size_t fl = strlen(folded);
			if (fl + 1 + n + 1 < sizeof folded) {
				folded[fl] = '/';
				memcpy(folded + fl + 1, p, n);
				folded[fl + 1 + n] = '\0';
			}
		}
		p += n;
	}
	snprintf(out, len, "%s", folded[0] ? folded : "/");
}

static bool below(const char *root, const char *path)
{
	return srv_path_inside(root, path);
}

/* May `who` read data at the resolved absolute path? */
static bool data_place_ok(const struct access_ctx *c, const struct acct_who *who, const char *real)
{
	for (int i = 0; i < c->ndata_roots; i++)
		if (below(c->data_roots[i], real))
			return true;
	char place[PATH_MAX + 128];
	if (who->instructor)
		return below(c->workspace, real);
	snprintf(place, sizeof place, "%s/users/%s", c->workspace, who->name);
	if (below(place, real))
		return true;
	snprintf(place, sizeof place, "%s/course", c->workspace);
	return below(place, real);
}

bool access_spec_data(const struct access_ctx *c, const struct acct_who *who, const char *yaml, size_t len, char *msg,
		      size_t msglen, int *line, int *column)
{
	*line = *column = 0;
	if (!c->accounts)
		return true;
	struct spec *s = tb_xcalloc(1, sizeof *s);
	struct spec_errors *errs = tb_xcalloc(1, sizeof *errs);
	bool ok = true;
	/* A spec that does not parse reads nothing; its errors are the checker's to tell. */
	if (spec_parse(yaml, len, "<spec>", NULL, 0, s, errs) == 0) {
		const char *fields[] = {"data.path", "data.test_path"};
		const char *values[] = {s->data.path, s->data.test_path};
		for (int i = 0; i < 2 && ok; i++) {
			if (!values[i][0])
				continue; /* the data set's own default (a system package) */
			char real[PATH_MAX * 2];
			resolve_loosely(c->workspace, values[i], real, sizeof real);
			if (data_place_ok(c, who, real))
				continue;
			ok = false;
			char roots[160] = "";
			if (c->ndata_roots)
				snprintf(roots, sizeof roots, ", and the data roots (%s%s)", c->data_roots[0],
					 c->ndata_roots > 1 ? ", …" : "");
			if (who->instructor)
				snprintf(msg, msglen, "%s %s is outside the workspace%s: runs may not read it",
					 fields[i], values[i], c->ndata_roots ? " and the data roots" : "");
			else
				snprintf(msg, msglen,
					 "%s %s is outside the folders your runs may read: your home users/%s/, "
					 "course/%s",
					 fields[i], values[i], who->name, roots);
			struct spec_pos pos = s->data.path_pos.line ? s->data.path_pos : s->data.pos;
			*line = pos.line;
			*column = pos.column;
		}
		spec_free(s);
	}
	free(s);
	free(errs);
	return ok;
}

/* ---- system samples --------------------------------------------------------- */

void access_system_view(const struct acct_who *who, json_t *system)
{
	if (who->instructor)
		return;
	size_t i, k;
	json_t *gpu, *proc;
	json_array_foreach(json_object_get(system, "gpus"), i, gpu)
	{
		json_array_foreach(json_object_get(gpu, "processes"), k, proc)
		{
			const char *owner = json_string_value(json_object_get(proc, "owner"));
			if (owner && !strcmp(owner, who->name))
				continue;
			/* Someone else's, or no run of ours at all: memory only. */
			json_object_set_new(proc, "pid", json_null());
			json_object_set_new(proc, "run", json_null());
			json_object_set_new(proc, "owner", json_null());
		}
	}
}
