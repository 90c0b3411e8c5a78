/*
 * accounts.h — classroom accounts: user names, creating users with their
 * home folder (one at a time or a roster in one go), one-time login links,
 * password logins, server-side sessions and per-user API tokens, and
 * archiving a user instead of deleting their work.
 *
 * What it is: the rules of docs/classroom.md on top of the store. The
 * server's routes and the `trainbook users` command both call it, so a
 * user made from the shell and one made in the page are the same.
 * What it is not: HTTP (cookies, throttling: identity.c and the routes),
 * the store's SQL (store_accounts.c) or hashing (secret.c).
 *
 * Threads: any; all state is in the store.
 */
#ifndef TB_SERVER_ACCOUNTS_H
#define TB_SERVER_ACCOUNTS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "secret.h"
#include "store.h"

#define ACCT_ROSTER_MAX 2000 /* rows in one roster import */
#define ACCT_LINK_MAX 1200   /* a printed login link */
/* What a link that would log nobody in answers, wherever it is tried. */
#define ACCT_LINK_DENIED_MESSAGE                                                                                       \
	"This login link does not work (used already, expired or replaced by a newer one). "                           \
	"Ask your instructor for a new one."

/* Who is asking: what every access rule is decided on. */
struct acct_who {
	int64_t id;                /* users.id; 0 in single-user mode */
	char name[STORE_NAME_MAX]; /* the owner recorded on what they make */
	bool instructor;           /* sees and manages everything (single-user mode: always) */
	char session[SECRET_HEX];  /* SHA-256 of the session cookie that authenticated it, or "" */
	char method[16];           /* how that session began: "password", "link"; "" otherwise */
	int64_t token;             /* the API token that authenticated it, or 0 */
};

/* How long things live and where links point. */
struct acct_policy {
	int64_t idle_s;      /* a session unused this long ends */
	int64_t max_s;       /* a session ends this long after login, used or not */
	int64_t link_s;      /* a one-time link works this long */
	char link_base[600]; /* links are <link_base>login?link=<secret>; ends in '/' */
};

/*
 * User names become folder names (users/<name>/) and owners: 1 to 32 of
 * a-z 0-9 . _ -, starting with a letter or digit. acct_name_fold lower-cases
 * ASCII letters first (rosters from an LMS say "Alice.Smith"); both return
 * false with a message naming the rule.
 */
bool acct_name_ok(const char *name, char *err, size_t errlen);
bool acct_name_fold(const char *in, char *out, size_t outlen, char *err, size_t errlen);
/* Plausible e-mail address: one '@', no spaces or control characters, ≤ 254 bytes. "" is fine (none). */
bool acct_email_ok(const char *email, char *err, size_t errlen);

/* ---- creating users ---------------------------------------------------------- */

struct acct_roster_row {
	char name[STORE_NAME_MAX];
	char email[256];
	bool instructor;
	int line;                 /* in the CSV, for messages */
	char link[ACCT_LINK_MAX]; /* out: the user's one-time login link */
};

/*
 * Parse a roster: CSV (RFC 4180 quoting) with columns name[,email][,role],
 * a header line optional (recognised by "name" in its first column), role
 * "student" (default) or "instructor", blank lines ignored. Every problem
 * goes into `errors` as {"line":L,"message":…}; duplicates within the
 * file count. Returns the rows (malloc'd) or NULL when there are errors or
 * no rows.
 */
struct acct_roster_row *acct_roster_parse(const char *csv, size_t len, size_t *n, json_t *errors);

/*
 * Create the users of `rows` in one transaction (all or none: a name that
 * is taken fails the whole import with its line), their home folders
 * users/<name>/ under `workspace`, and a one-time link each (into row.link).
 * 0, or -1 with a message.
 */
int acct_create_users(struct store *s, const char *workspace, const struct acct_policy *p, struct acct_roster_row *rows,
		      size_t n, char *err, size_t errlen);

/* name,email,role,link lines with a header: what the instructor mails or uploads to an LMS. */
char *acct_roster_csv(const struct acct_roster_row *rows, size_t n);

/* users/<name>/ under the workspace (mode 0755), users/ too if needed. */
int acct_make_home(const char *workspace, const char *name, char *err, size_t errlen);

/* ---- logging in ------------------------------------------------------------- */

enum acct_result {
	ACCT_OK = 0,
	ACCT_DENIED = -1, /* wrong name/password, unknown/used/expired link */
	ACCT_EIO = -2,    /* the store failed */
};

/*
 * Check a password. An unknown name costs an argon2id verification all
 * the same, so the answer's time tells nothing. A hash made with weaker
 * parameters than today's is replaced on success.
 */
int acct_password_check(struct store *s, const char *name, const char *password, struct store_user *out);

/* Use a one-time link secret (once: a second use is ACCT_DENIED). */
int acct_link_check(struct store *s, const char *secret, struct store_user *out);
/* Whose link a secret is, leaving it unused: ACCT_DENIED when it would not log anyone in. */
int acct_link_peek(struct store *s, const char *secret, struct store_user *out);

/*
 * Start a session for `u`: a fresh 256-bit secret for the cookie (into
 * cookie, never stored), its hash in the store, expiring after max_s.
 */
int acct_session_start(struct store *s, const struct acct_policy *p, const struct store_user *u, const char *method,
		       const char *address, const char *user_agent, char cookie[SECRET_HEX]);

/* Who a session cookie value or an API token stands for; ACCT_DENIED when nobody (now). */
int acct_session_who(struct store *s, const struct acct_policy *p, const char *cookie, struct acct_who *out);
int acct_token_who(struct store *s, const char *token, struct acct_who *out);

/* ---- managing -------------------------------------------------------------- */

/* Set a password (argon2id at the default cost); -1 with a message. */
int acct_set_password(struct store *s, int64_t user, const char *password, char *err, size_t errlen);

/* A new one-time link for the user (earlier unused ones stop working). */
int acct_new_link(struct store *s, const struct acct_policy *p, int64_t user, char *link, size_t linklen);

/*
 * Reset a login: remove the password, end every session, and give a new
 * one-time link. API tokens stay (revoke them separately).
 */
int acct_reset(struct store *s, const struct acct_policy *p, int64_t user, char *link, size_t linklen);

/* A new API token named `label`: the secret (shown once) and its id. */
int acct_token_new(struct store *s, int64_t user, const char *label, char token[SECRET_HEX], int64_t *id);

/*
 * Archive a user: sessions, tokens and links end, the name stays taken,
 * their runs keep them as owner, and users/<name>/ moves to
 * archive/<name>/ (archive/<name>-2/ … when taken), where only
 * instructors see it. -1 with a message.
 */
int acct_archive(struct store *s, const char *workspace, const char *name, char *err, size_t errlen);

#endif
