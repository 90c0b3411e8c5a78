/*
 * users_main.c — `trainbook users …`: the instructor's accounts commands
 * from the shell (add, import a roster, API tokens, links, reset, revoke,
 * role, password, delete, list). They open the workspace's store directly
 * and go through accounts.c, as the page's Users routes do, so they work
 * while the server runs (SQLite WAL: the server sees each change at its
 * next request) and before it ever ran.
 *
 * What it is not: the server. Feed connections of a user revoked from
 * here stay open until they reconnect; the API's revoke closes them.
 *
 * Threads: the main thread only.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "accounts.h"
#include "atomic_file.h"
#include "config.h"
#include "serve.h"
#include "store.h"
#include "tb.h"
#include "util.h"

struct users_opts {
	struct cfg cfg;
	const char *args[4]; /* positional arguments after the command */
	int nargs;
	const char *email; /* add --email */
	bool instructor;   /* add --instructor */
	bool tokens;       /* revoke --tokens */
	const char *out;   /* import --out FILE */
	const char *label; /* token --name LABEL */
};

static void usage(FILE *out)
{
	fprintf(out,
		"usage: trainbook users <command> [options]\n"
		"\n"
		"Accounts of a classroom server (trainbook serve --accounts; docs/classroom.md).\n"
		"\n"
		"  add NAME [--email E] [--instructor]  add a user; prints their one-time login link\n"
		"  import ROSTER.csv [--out FILE]       add everyone in a CSV (name[,email][,role], header\n"
		"                                       optional); prints name,email,role,link as CSV\n"
		"  link NAME                            a new one-time login link (older ones stop working)\n"
		"  token NAME [--name LABEL]            a new API token for NAME's scripts (printed once)\n"
		"  password NAME                        set NAME's password, read from standard input\n"
		"  reset NAME                           remove the password, end sessions, print a new link\n"
		"  revoke NAME [--tokens]               end NAME's sessions (and API tokens)\n"
		"  role NAME student|instructor         change a role\n"
		"  delete NAME                          archive: logins end, users/NAME/ moves to archive/\n"
		"  list                                 every user with role, e-mail and state\n"
		"\n"
		"  -w, --workspace DIR    the server's workspace (default: current directory)\n"
		"  -c, --config FILE      the server's config file (workspace, public-url, port, …)\n"
		"      --public-url URL   how users reach the server, for the links (default http://ip:port/)\n"
		"      --KEY VALUE        any other setting of trainbook serve (port, base-url, link-expiry, …)\n");
}

/* Options: --config first (flags win over the file), then command flags and serve's keys. */
static int parse(struct users_opts *o, int argc, char **argv)
{
	char err[512];
	if (cfg_load_files_named(&o->cfg, argc, argv, err, sizeof err) < 0) {
		fprintf(stderr, "trainbook users: %s\n", err);
		return 2;
	}
	for (int i = 2; i < argc; i++) {
		const char *a = argv[i];
		const char *next = i + 1 < argc ? argv[i + 1] : NULL;
		if (!strcmp(a, "--config") || !strcmp(a, "-c")) {
			i++;
		} else if (!strncmp(a, "--config=", 9)) {
		} else if (!strcmp(a, "--instructor")) {
			o->instructor = true;
		} else if (!strcmp(a, "--tokens")) {
			o->tokens = true;
		} else if (!strcmp(a, "--email") && next) {
			o->email = argv[++i];
		} else if (!strcmp(a, "--out") && next) {
			o->out = argv[++i];
		} else if (!strcmp(a, "--name") && next) {
			o->label = argv[++i];
		} else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			usage(stdout);
			exit(0);
		} else if (a[0] == '-' && a[1]) {
			/* A setting of serve: --key value, --key=value, -w DIR. */
			char key[64];
			const char *value = NULL;
			const char *eq = strchr(a, '=');
			if (!strcmp(a, "-w")) {
				snprintf(key, sizeof key, "workspace");
				value = next;
				i++;
			} else if (eq) {
				snprintf(key, sizeof key, "%.*s", (int)(eq - a - 2), a + 2);
				value = eq + 1;
			} else {
				snprintf(key, sizeof key, "%s", a + 2);
				value = next;
				i++;
			}
			if (!value || cfg_set(&o->cfg, key, value, err, sizeof err) < 0) {
				fprintf(stderr, "trainbook users: %s\n", value ? err : "an option needs a value");
				return 2;
			}
		} else if (o->nargs < (int)TB_ARRAY_LEN(o->args)) {
			o->args[o->nargs++] = a;
		} else {
			fprintf(stderr, "trainbook users: unexpected argument '%s'\n", a);
			return 2;
		}
	}
	return 0;
}

/* The workspace's store, created (with .trainbook/) when the server never ran there. */
static struct store *open_store(const struct cfg *cfg)
{
	char path[PATH_MAX + 32], err[512];
	snprintf(path, sizeof path, "%s/.trainbook", cfg->workspace);
	if (mkdir(path, 0700) == 0) {
		/* The server seeds a new workspace with the examples; adding the
		 * first instructor before it ever ran must not rob it of that. */
		snprintf(path, sizeof path, "%s/.trainbook/%s", cfg->workspace, SERVE_FRESH_MARK);
		atomic_write(path, "", 0, false, NULL, 0);
	} else if (errno != EEXIST) {
		fprintf(stderr, "trainbook users: cannot create %s: %s\n", path, strerror(errno));
		return NULL;
	}
	snprintf(path, sizeof path, "%s/.trainbook/trainbook.db", cfg->workspace);
	struct store *s;
	if (store_open(path, &s, err, sizeof err) < 0) {
		fprintf(stderr, "trainbook users: %s\n", err);
		return NULL;
	}
	return s;
}

static int need_args(const struct users_opts *o, int n, const char *what)
{
	if (o->nargs == n)
		return 0;
	fprintf(stderr, "trainbook users: expected %s\n", what);
	return 2;
}

/* The active user named on the command line, or a message and false. */
static bool find(struct store *s, const char *name, struct store_user *u)
{
	if (store_user_get(s, name, u) == STORE_OK && !u->archived)
		return true;
	fprintf(stderr, "trainbook users: no user %s\n", name);
	return false;
}

static int cmd_import(struct store *s, const struct users_opts *o, const struct acct_policy *p, const char *csv,
		      size_t len)
{
	json_t *errors = json_array();
	size_t n = 0;
	char err[512];
	struct acct_roster_row *rows = acct_roster_parse(csv, len, &n, errors);
	int rc = 0;
	if (!rows) {
		size_t i;
		json_t *e;
		json_array_foreach(errors, i, e)
			fprintf(stderr, "trainbook users: %s:%d: %s\n", o->args[0] ? o->args[0] : "roster",
				(int)json_integer_value(json_object_get(e, "line")),
				json_string_value(json_object_get(e, "message")));
		fprintf(stderr, "trainbook users: nobody was added\n");
		rc = 1;
	} else if (acct_create_users(s, o->cfg.workspace, p, rows, n, err, sizeof err) < 0) {
		fprintf(stderr, "trainbook users: %s\n", err);
		rc = 1;
	} else {
		char *out = acct_roster_csv(rows, n);
		if (o->out) {
			if (atomic_write(o->out, out, strlen(out), false, NULL, 0) < 0) {
				fprintf(stderr, "trainbook users: cannot write %s: %s\n", o->out, strerror(errno));
				rc = 1;
			} else {
				printf("%zu users added; their login links are in %s\n", n, o->out);
			}
		} else {
			fputs(out, stdout);
		}
		free(out);
	}
	free(rows);
	json_decref(errors);
	return rc;
}

static int cmd_list(struct store *s)
{
	json_t *users = store_users_json(s);
	size_t i;
	json_t *u;
	printf("%-24s %-10s %-8s %-8s %s\n", "name", "role", "password", "state", "email");
	json_array_foreach(users, i, u)
	{
		json_t *email = json_object_get(u, "email");
		printf("%-24s %-10s %-8s %-8s %s\n", json_string_value(json_object_get(u, "name")),
		       json_string_value(json_object_get(u, "role")),
		       json_is_true(json_object_get(u, "has_password")) ? "yes" : "no",
		       json_is_null(json_object_get(u, "archived")) ? "active" : "archived",
		       json_is_string(email) ? json_string_value(email) : "");
	}
	json_decref(users);
	return 0;
}

/* One line from stdin, without its line end. */
static bool read_password(char *out, size_t len)
{
	if (!fgets(out, (int)len, stdin))
		return false;
	out[strcspn(out, "\r\n")] = '\0';
	return true;
}

static int run(struct store *s, const char *cmd, struct users_opts *o, const struct acct_policy *p)
{
	struct store_user u;
	char link[ACCT_LINK_MAX], err[512];
	if (!strcmp(cmd, "list"))
		return need_args(o, 0, "no arguments") ?: cmd_list(s);
	if (!strcmp(cmd, "add")) {
		if (need_args(o, 1, "add NAME [--email E] [--instructor]"))
			return 2;
		struct acct_roster_row row = {.line = 1, .instructor = o->instructor};
		if (!acct_name_fold(o->args[0], row.name, sizeof row.name, err, sizeof err) ||
		    !acct_email_ok(o->email ? o->email : "", err, sizeof err)) {
			fprintf(stderr, "trainbook users: %s\n", err);
			return 2;
		}
		srv_strlcpy(row.email, o->email ? o->email : "", sizeof row.email);
		if (acct_create_users(s, o->cfg.workspace, p, &row, 1, err, sizeof err) < 0) {
			fprintf(stderr, "trainbook users: %s\n", strstr(err, "taken") ? "that name is taken" : err);
			return 1;
		}
		printf("%s (%s) added. One-time login link:\n%s\n", row.name, row.instructor ? "instructor" : "student",
		       row.link);
		return 0;
	}
	if (!strcmp(cmd, "import")) {
		if (need_args(o, 1, "import ROSTER.csv [--out FILE]"))
			return 2;
		char *csv;
		size_t len;
		if (srv_read_file(o->args[0], 1u << 20, &csv, &len) < 0) {
			fprintf(stderr, "trainbook users: %s: %s\n", o->args[0], strerror(errno));
			return 1;
		}
		int rc = cmd_import(s, o, p, csv, len);
		free(csv);
		return rc;
	}
	if (need_args(o, !strcmp(cmd, "role") ? 2 : 1, "NAME (see trainbook users --help)"))
		return 2;
	if (!find(s, o->args[0], &u))
		return 1;
	if (!strcmp(cmd, "link") || !strcmp(cmd, "reset")) {
		int rc = !strcmp(cmd, "link") ? acct_new_link(s, p, u.id, link, sizeof link)
					      : acct_reset(s, p, u.id, link, sizeof link);
		if (rc != ACCT_OK) {
			fprintf(stderr, "trainbook users: the store could not record the link\n");
			return 1;
		}
		printf("%s\n", link);
		return 0;
	}
	if (!strcmp(cmd, "token")) {
		char token[SECRET_HEX];
		int64_t id;
		if (acct_token_new(s, u.id, o->label ? o->label : "cli", token, &id) != ACCT_OK) {
			fprintf(stderr, "trainbook users: the store could not record the token\n");
			return 1;
		}
		printf("%s\n", token);
		return 0;
	}
	if (!strcmp(cmd, "password")) {
		char pw[SECRET_PASSWORD_MAX + 2] = "";
		if (isatty(STDIN_FILENO))
			fprintf(stderr, "password for %s: ", u.name);
		if (!read_password(pw, sizeof pw) || acct_set_password(s, u.id, pw, err, sizeof err) < 0) {
			fprintf(stderr, "trainbook users: %s\n", pw[0] ? err : "no password given");
			return 1;
		}
		return 0;
	}
	if (!strcmp(cmd, "revoke")) {
		int64_t now = srv_unix_now();
		int n = store_sessions_revoke_user(s, u.id, now);
		int t = o->tokens ? store_tokens_revoke_user(s, u.id, now) : 0;
		if (n < 0 || t < 0)
			return 1;
		printf("%d session%s ended, %d API token%s revoked\n", n, n == 1 ? "" : "s", t, t == 1 ? "" : "s");
		return 0;
	}
	if (!strcmp(cmd, "role")) {
		bool instructor = !strcmp(o->args[1], "instructor");
		if (!instructor && strcmp(o->args[1], "student")) {
			fprintf(stderr, "trainbook users: a role is student or instructor\n");
			return 2;
		}
		if (store_user_set_role(s, u.id, instructor) != STORE_OK)
			return 1;
		/* Sessions carry no role (it is read at every request): the change applies at once. */
		return 0;
	}
	if (!strcmp(cmd, "delete")) {
		if (acct_archive(s, o->cfg.workspace, u.name, err, sizeof err) < 0) {
			fprintf(stderr, "trainbook users: %s\n", err);
			return 1;
		}
		printf("%s archived: logins ended, their notebooks are in archive/%s/ (or a numbered folder)\n", u.name,
		       u.name);
		return 0;
	}
	fprintf(stderr, "trainbook users: unknown command '%s'\n\n", cmd);
	usage(stderr);
	return 2;
}

int users_main(int argc, char **argv)
{
	struct users_opts *o = tb_xcalloc(1, sizeof *o);
	cfg_defaults(&o->cfg);
	int rc = 2;
	if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
		usage(argc < 2 ? stderr : stdout);
		rc = argc < 2 ? 2 : 0;
		goto out;
	}
	const char *cmd = argv[1];
	if ((rc = parse(o, argc, argv)) != 0)
		goto out;
	char exe[PATH_MAX] = "", err[512];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
	if (n > 0)
		exe[n] = '\0';
	if (cfg_finish(&o->cfg, exe, err, sizeof err) < 0) {
		fprintf(stderr, "trainbook users: %s\n", err);
		rc = 1;
		goto out;
	}
	struct acct_policy p = {
		.idle_s = o->cfg.session_idle, .max_s = o->cfg.session_max, .link_s = o->cfg.link_expiry};
	cfg_link_base(&o->cfg, o->cfg.port, p.link_base, sizeof p.link_base);
	struct store *s = open_store(&o->cfg);
	if (!s) {
		rc = 1;
		goto out;
	}
	rc = run(s, cmd, o, &p);
	store_free(s);
out:
	free(o);
	return rc;
}
