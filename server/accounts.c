/*
 * accounts.c — users, rosters, links, logins, sessions, tokens (see
 * accounts.h).
 *
 * Threads: any; no state of its own.
 */
#include "accounts.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tb.h"
#include "util.h"

#define NAME_LEN_MAX 32
#define TOUCH_TOKEN_S 60 /* an API token's last_used is right to the minute */

bool acct_name_ok(const char *name, char *err, size_t errlen)
{
	size_t n = strlen(name);
	bool ok = n >= 1 && n <= NAME_LEN_MAX && isalnum((unsigned char)name[0]);
	for (size_t i = 0; ok && i < n; i++) {
		char c = name[i];
		ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
	}
	char shown[64];
	if (!ok && err)
		snprintf(err, errlen,
			 "'%s' is not a user name: 1 to %d of a-z 0-9 . _ -, starting with a letter or digit",
			 srv_shown(name, 40, shown, sizeof shown), NAME_LEN_MAX);
	return ok;
}

bool acct_name_fold(const char *in, char *out, size_t outlen, char *err, size_t errlen)
{
	size_t n = strlen(in);
	if (n + 1 > outlen) {
		char shown[64];
		snprintf(err, errlen, "'%s' is too long for a user name (at most %d characters)",
			 srv_shown(in, 40, shown, sizeof shown), NAME_LEN_MAX);
		return false;
	}
	for (size_t i = 0; i <= n; i++)
		out[i] = (char)((in[i] >= 'A' && in[i] <= 'Z') ? in[i] - 'A' + 'a' : in[i]);
	return acct_name_ok(out, err, errlen);
}

bool acct_email_ok(const char *email, char *err, size_t errlen)
{
	size_t n = strlen(email);
	if (n == 0)
		return true;
	const char *at = strchr(email, '@');
	bool ok = n <= 254 && at && at != email && at[1] && !strchr(at + 1, '@');
	for (const char *p = email; ok && *p; p++)
		ok = (unsigned char)*p > 0x20 && *p != 0x7f && *p != ',' && *p != '"';
	char shown[96];
	if (!ok && err)
		snprintf(err, errlen, "'%s' is not an e-mail address", srv_shown(email, 60, shown, sizeof shown));
	return ok;
}

/* <link_base>login?link=<secret> */
static void link_url(const struct acct_policy *p, const char *secret, char *out, size_t outlen)
{
	snprintf(out, outlen, "%slogin?link=%s", p->link_base, secret);
}

/* ---- the roster ------------------------------------------------------------- */

#define CSV_FIELDS 8
#define CSV_FIELD_MAX 512

/*
 * One CSV record from *pos: fields into f (each up to CSV_FIELD_MAX-1
 * bytes), *line advanced past its line breaks. Returns the number of
 * fields, 0 at the end, -1 on a field that is too long or a quote left open.
 */
static int csv_record(const char *s, size_t len, size_t *pos, int *line, char f[CSV_FIELDS][CSV_FIELD_MAX], char *err,
		      size_t errlen)
{
	size_t i = *pos;
	if (i >= len)
		return 0;
	int nf = 0, start = *line;
	size_t fl = 0;
	bool quoted = false, was_quoted = false;
	for (;; i++) {
		char c = i < len ? s[i] : '\n';
		if (quoted) {
			if (i >= len) {
				snprintf(err, errlen, "line %d: a quoted field is never closed", start);
				return -1;
			}
			if (c == '"' && i + 1 < len && s[i + 1] == '"') {
				c = '"';
				i++;
			} else if (c == '"') {
				quoted = false;
				continue;
			} else if (c == '\n') {
				(*line)++;
			}
		} else if (c == '"' && fl == 0 && !was_quoted) {
			quoted = was_quoted = true;
			continue;
		} else if (c == ',' || c == '\n') {
			if (nf < CSV_FIELDS) {
				while (fl && isspace((unsigned char)f[nf][fl - 1]) && !was_quoted)
					fl--;
				f[nf][fl] = '\0';
			}
			nf++;
			fl = 0;
			was_quoted = false;
			if (c == '\n') {
				(*line)++;
				*pos = i + 1;
				return nf > CSV_FIELDS ? CSV_FIELDS : nf;
			}
			continue;
		} else if (c == '\r') {
			continue;
		} else if (fl == 0 && (c == ' ' || c == '\t')) {
			continue; /* spaces after a comma */
		}
		if (nf < CSV_FIELDS) {
			if (fl + 1 >= CSV_FIELD_MAX) {
				snprintf(err, errlen, "line %d: field %d is longer than %d bytes", start, nf + 1,
					 CSV_FIELD_MAX - 1);
				return -1;
			}
			f[nf][fl++] = c;
		}
	}
}

static void roster_error(json_t *errors, int line, const char *msg)
{
	json_array_append_new(errors, json_pack("{s:i, s:s}", "line", line, "message", msg));
}

enum { COL_NAME, COL_EMAIL, COL_ROLE, NCOLS };

struct acct_roster_row *acct_roster_parse(const char *csv, size_t len, size_t *n, json_t *errors)
{
	char f[CSV_FIELDS][CSV_FIELD_MAX]; /* 4 KiB on the stack: any thread may parse */
	char err[300];
	size_t pos = 0, cap = 0;
	int line = 1, col[NCOLS] = {0, 1, 2};
	bool first = true;
	struct acct_roster_row *rows = NULL;
	*n = 0;
	if (len >= 3 && !memcmp(csv, "\xef\xbb\xbf", 3))
		pos = 3; /* a byte-order mark from a spreadsheet */
	size_t errors_before = json_array_size(errors);
	for (;;) {
		int at = line;
		int nf = csv_record(csv, len, &pos, &line, f, err, sizeof err);
		if (nf < 0) {
			roster_error(errors, at, err);
			break;
		}
		if (nf == 0)
			break;
		if (nf == 1 && !f[0][0])
			continue; /* a blank line */
		if (first && !strcasecmp(f[0], "name")) {
			/* A header: its names say where each column is. */
			col[COL_EMAIL] = col[COL_ROLE] = -1;
			for (int i = 1; i < nf; i++) {
				if (!strcasecmp(f[i], "email") || !strcasecmp(f[i], "e-mail"))
					col[COL_EMAIL] = i;
				else if (!strcasecmp(f[i], "role"))
					col[COL_ROLE] = i;
			}
			first = false;
			continue;
		}
		first = false;
		if (*n >= ACCT_ROSTER_MAX) {
			snprintf(err, sizeof err, "a roster has at most %d rows", ACCT_ROSTER_MAX);
			roster_error(errors, at, err);
			break;
		}
		if (*n == cap) {
			cap = cap ? cap * 2 : 64;
			rows = tb_xrealloc(rows, cap * sizeof *rows);
		}
		struct acct_roster_row *r = &rows[*n];
		memset(r, 0, sizeof *r);
		r->line = at;
		const char *email = col[COL_EMAIL] >= 0 && col[COL_EMAIL] < nf ? f[col[COL_EMAIL]] : "";
		const char *role = col[COL_ROLE] >= 0 && col[COL_ROLE] < nf ? f[col[COL_ROLE]] : "";
		char msg[400];
		if (!acct_name_fold(f[COL_NAME], r->name, sizeof r->name, err, sizeof err)) {
			snprintf(msg, sizeof msg, "%s", err);
			roster_error(errors, at, msg);
			continue;
		}
		if (!acct_email_ok(email, err, sizeof err)) {
			roster_error(errors, at, err);
			continue;
		}
		srv_strlcpy(r->email, email, sizeof r->email);
		if (!strcasecmp(role, "instructor")) {
			r->instructor = true;
		} else if (role[0] && strcasecmp(role, "student")) {
			char shown[64];
			snprintf(msg, sizeof msg, "role '%s' is neither student nor instructor",
				 srv_shown(role, 40, shown, sizeof shown));
			roster_error(errors, at, msg);
			continue;
		}
		bool dup = false;
		for (size_t k = 0; k < *n && !dup; k++) {
			if (!strcmp(rows[k].name, r->name)) {
				snprintf(msg, sizeof msg, "'%s' is on line %d already", r->name, rows[k].line);
				roster_error(errors, at, msg);
				dup = true;
			}
		}
		if (!dup)
			(*n)++;
	}
	if (json_array_size(errors) > errors_before || *n == 0) {
		if (*n == 0 && json_array_size(errors) == errors_before)
			roster_error(errors, line, "the roster names nobody (columns: name[,email][,role])");
		free(rows);
		*n = 0;
		return NULL;
	}
	return rows;
}

char *acct_roster_csv(const struct acct_roster_row *rows, size_t n)
{
	struct srv_buf b = {0};
	srv_buf_puts(&b, "name,email,role,link\n");
	for (size_t i = 0; i < n; i++)
		srv_buf_printf(&b, "%s,%s,%s,%s\n", rows[i].name, rows[i].email,
			       rows[i].instructor ? "instructor" : "student", rows[i].link);
	if (!b.data)
		srv_buf_puts(&b, "");
	return srv_buf_steal(&b);
}

int acct_make_home(const char *workspace, const char *name, char *err, size_t errlen)
{
	char path[PATH_MAX];
	snprintf(path, sizeof path, "%s/users", workspace);
	if (mkdir(path, 0755) < 0 && errno != EEXIST) {
		snprintf(err, errlen, "cannot create %s: %s", path, strerror(errno));
		return -1;
	}
	if (snprintf(path, sizeof path, "%s/users/%s", workspace, name) >= (int)sizeof path ||
	    (mkdir(path, 0755) < 0 && errno != EEXIST)) {
		snprintf(err, errlen, "cannot create %s: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

int acct_new_link(struct store *s, const struct acct_policy *p, int64_t user, char *link, size_t linklen)
{
	char secret[SECRET_HEX], hash[SECRET_HEX];
	if (secret_new(secret) < 0)
		return ACCT_EIO;
	secret_hash(secret, strlen(secret), hash);
	int64_t now = srv_unix_now();
	if (store_link_create(s, hash, user, now, now + p->link_s) != STORE_OK)
		return ACCT_EIO;
	link_url(p, secret, link, linklen);
	return ACCT_OK;
}

int acct_create_users(struct store *s, const char *workspace, const struct acct_policy *p, struct acct_roster_row *rows,
		      size_t n, char *err, size_t errlen)
{
	err[0] = '\0';
	struct store_user_new *nu = tb_xcalloc(n ? n : 1, sizeof *nu);
	for (size_t i = 0; i < n; i++)
		nu[i] = (struct store_user_new){
			.name = rows[i].name, .email = rows[i].email, .instructor = rows[i].instructor};
	size_t bad = 0;
	int rc = store_users_create(s, nu, n, &bad);
	if (rc == STORE_EEXIST) {
		snprintf(err, errlen, "line %d: the name '%s' is taken (perhaps by an archived user); nobody was added",
			 rows[bad].line, rows[bad].name);
		goto out;
	}
	if (rc != STORE_OK) {
		snprintf(err, errlen, "the store could not record the users; nobody was added");
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		if (acct_make_home(workspace, rows[i].name, err, errlen) < 0 ||
		    acct_new_link(s, p, nu[i].id, rows[i].link, sizeof rows[i].link) != ACCT_OK) {
			if (!err[0])
				snprintf(err, errlen, "cannot make a login link for %s", rows[i].name);
			rc = -1;
			goto out;
		}
	}
	rc = 0;
out:
	free(nu);
	return rc == STORE_OK ? 0 : -1;
}

/* ---- logging in ------------------------------------------------------------- */

int acct_password_check(struct store *s, const char *name, const char *password, struct store_user *out)
{
	char phc[SECRET_PHC_MAX];
	int rc = store_user_password(s, name, out, phc, sizeof phc);
	if (rc == STORE_ENOENT) {
		secret_password_dummy_verify(password);
		return ACCT_DENIED;
	}
	if (rc != STORE_OK)
		return ACCT_EIO;
	if (!secret_password_verify(phc, password))
		return ACCT_DENIED;
	/* Parameters raised since this hash was made: rehash now that we have the password. */
	struct secret_cost have;
	const struct secret_cost *want = &secret_default_cost;
	if (!secret_password_cost(phc, &have) || have.m_kib < want->m_kib || have.t < want->t) {
		char fresh[SECRET_PHC_MAX], err[128];
		if (secret_password_hash(password, want, fresh, err, sizeof err) == 0)
			store_user_set_password(s, out->id, fresh);
	}
	return ACCT_OK;
}

/* A link secret's user by `find` (store_link_use or store_link_peek). */
static int link_secret(struct store *s, const char *secret, struct store_user *out,
		       int (*find)(struct store *, const char *, int64_t, struct store_user *))
{
	char hash[SECRET_HEX];
	if (strlen(secret) != SECRET_HEX - 1)
		return ACCT_DENIED;
	secret_hash(secret, strlen(secret), hash);
	int rc = find(s, hash, srv_unix_now(), out);
	return rc == STORE_OK ? ACCT_OK : rc == STORE_ENOENT ? ACCT_DENIED : ACCT_EIO;
}

int acct_link_check(struct store *s, const char *secret, struct store_user *out)
{
	return link_secret(s, secret, out, store_link_use);
}

int acct_link_peek(struct store *s, const char *secret, struct store_user *out)
{
	return link_secret(s, secret, out, store_link_peek);
}

#define PRUNE_KEEP_S (30 * 86400) /* ended sessions and links are kept a month for the record */

int acct_session_start(struct store *s, const struct acct_policy *p, const struct store_user *u, const char *method,
		       const char *address, const char *user_agent, char cookie[SECRET_HEX])
{
	char hash[SECRET_HEX];
	if (secret_new(cookie) < 0)
		return ACCT_EIO;
	secret_hash(cookie, strlen(cookie), hash);
	int64_t now = srv_unix_now();
	struct store_session_new n = {.hash = hash,
				      .user = u->id,
				      .method = method,
				      .now = now,
				      .expires = now + p->max_s,
				      .address = address,
				      .user_agent = user_agent};
	if (store_session_create(s, &n) != STORE_OK)
		return ACCT_EIO;
	store_user_logged_in(s, u->id, now);
	store_sessions_prune(s, now, PRUNE_KEEP_S);
	return ACCT_OK;
}

static void who_from_user(const struct store_user *u, struct acct_who *out)
{
	memset(out, 0, sizeof *out);
	out->id = u->id;
	srv_strlcpy(out->name, u->name, sizeof out->name);
	out->instructor = u->instructor;
}

int acct_session_who(struct store *s, const struct acct_policy *p, const char *cookie, struct acct_who *out)
{
	char hash[SECRET_HEX], method[16] = "";
	if (strlen(cookie) != SECRET_HEX - 1)
		return ACCT_DENIED;
	secret_hash(cookie, strlen(cookie), hash);
	struct store_user u;
	/* last_seen needs to be right only to a tenth of the idle time (at
	 * most a minute), not to the request. */
	int64_t touch = p->idle_s / 10 < 60 ? p->idle_s / 10 : 60;
	int rc = store_session_user(s, hash, srv_unix_now(), p->idle_s, touch > 0 ? touch : 1, &u, method,
				    sizeof method);
	if (rc != STORE_OK)
		return rc == STORE_ENOENT ? ACCT_DENIED : ACCT_EIO;
	who_from_user(&u, out);
	srv_strlcpy(out->session, hash, sizeof out->session);
	srv_strlcpy(out->method, method, sizeof out->method);
	return ACCT_OK;
}

int acct_token_who(struct store *s, const char *token, struct acct_who *out)
{
	char hash[SECRET_HEX];
	if (strlen(token) != SECRET_HEX - 1)
		return ACCT_DENIED;
	secret_hash(token, strlen(token), hash);
	struct store_user u;
	int64_t token_id = 0;
	int rc = store_token_user(s, hash, srv_unix_now(), TOUCH_TOKEN_S, &u, &token_id);
	if (rc != STORE_OK)
		return rc == STORE_ENOENT ? ACCT_DENIED : ACCT_EIO;
	who_from_user(&u, out);
	out->token = token_id;
	return ACCT_OK;
}

/* ---- managing -------------------------------------------------------------- */

int acct_set_password(struct store *s, int64_t user, const char *password, char *err, size_t errlen)
{
	char phc[SECRET_PHC_MAX];
	if (secret_password_hash(password, &secret_default_cost, phc, err, errlen) < 0)
		return -1;
	if (store_user_set_password(s, user, phc) != STORE_OK) {
		snprintf(err, errlen, "the store could not record the password");
		return -1;
	}
	return 0;
}

int acct_reset(struct store *s, const struct acct_policy *p, int64_t user, char *link, size_t linklen)
{
	if (store_user_set_password(s, user, NULL) != STORE_OK ||
	    store_sessions_revoke_user(s, user, srv_unix_now()) < 0)
		return ACCT_EIO;
	return acct_new_link(s, p, user, link, linklen);
}

int acct_token_new(struct store *s, int64_t user, const char *label, char token[SECRET_HEX], int64_t *id)
{
	char hash[SECRET_HEX];
	if (secret_new(token) < 0)
		return ACCT_EIO;
	secret_hash(token, strlen(token), hash);
	return store_token_create(s, hash, user, label, srv_unix_now(), id) == STORE_OK ? ACCT_OK : ACCT_EIO;
}

int acct_archive(struct store *s, const char *workspace, const char *name, char *err, size_t errlen)
{
	struct store_user u;
	if (store_user_get(s, name, &u) != STORE_OK || u.archived) {
		snprintf(err, errlen, "no user %s", name);
		return -1;
	}
	char home[PATH_MAX], dir[PATH_MAX], dest[PATH_MAX + 16];
	snprintf(home, sizeof home, "%s/users/%s", workspace, name);
	snprintf(dir, sizeof dir, "%s/archive", workspace);
	struct stat st;
	if (lstat(home, &st) == 0 && S_ISDIR(st.st_mode)) {
		if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
			snprintf(err, errlen, "cannot create %s: %s", dir, strerror(errno));
			return -1;
		}
		/* Move first: a user whose work could not be kept is not archived. */
		int moved = -1;
		for (int k = 1; k < 1000 && moved < 0; k++) {
			if (k == 1)
				snprintf(dest, sizeof dest, "%s/%s", dir, name);
			else
				snprintf(dest, sizeof dest, "%s/%s-%d", dir, name, k);
			moved = renameat2(AT_FDCWD, home, AT_FDCWD, dest, RENAME_NOREPLACE);
			if (moved < 0 && errno != EEXIST && errno != ENOTEMPTY) {
				snprintf(err, errlen, "cannot move %s to %s: %s", home, dest, strerror(errno));
				return -1;
			}
		}
		if (moved < 0) {
			snprintf(err, errlen, "cannot find a free name for %s under %s", name, dir);
			return -1;
		}
	}
	if (store_user_archive(s, u.id, srv_unix_now()) != STORE_OK) {
		snprintf(err, errlen, "the store could not archive %s", name);
		return -1;
	}
	return 0;
}
