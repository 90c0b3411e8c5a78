/*
 * identity.h — who is asking, from what a request shows: the session
 * cookie, `Authorization: token …`, or (for the feed) `?token=`. The same
 * rules for HTTP (http.c) and the WebSocket feed (ws.c), in both modes:
 *
 *   single-user: the start-up token, or the cookie derived from it; the
 *                caller is the OS user and may do everything;
 *   accounts:    a server-side session (cookie) or a per-user API token;
 *                the caller is that user with their role.
 *
 * A credential that is shown and wrong is a failed login for the client's
 * address (the throttle shared with the login form); a wrong or stale
 * cookie is not (it is 256 bits, nobody guesses it).
 *
 * What it is not: the rules of what a user may touch (access.c) or the
 * login form (routes_static.c, routes_session.c).
 *
 * Threads: struct ident is filled at start-up and read-only afterwards;
 * ident_check is safe from any thread (the store and the throttle lock
 * themselves).
 */
#ifndef TB_SERVER_IDENTITY_H
#define TB_SERVER_IDENTITY_H

#include <stdbool.h>
#include <stddef.h>

#include "accounts.h"

struct auth;
struct store;
struct throttle;

struct ident {
	bool accounts;           /* --accounts */
	const struct auth *auth; /* single-user: the token and its cookie value */
	struct store *store;     /* accounts: sessions and API tokens */
	const struct acct_policy *policy;
	struct throttle *logins;    /* wrong credentials per client address */
	char owner[STORE_NAME_MAX]; /* single-user: the OS user, owner of everything */
	char cookie_name[48];       /* "trainbook_token_<port>"; set once the port is bound */
};

/* Per port, as Jupyter does: two servers on one host keep separate logins. */
void ident_cookie_name(int port, char *out, size_t len);

enum ident_result {
	IDENT_NONE = 0,  /* no credential at all */
	IDENT_OK,        /* *who is filled */
	IDENT_WRONG,     /* a credential was shown and is wrong (counted against the address) */
	IDENT_THROTTLED, /* the address is over its budget: *wait_s seconds (nothing was compared) */
};

/*
 * Decide from the header values (any may be NULL) and the client's
 * address key (srv_addr_key). In single-user mode *who is the OS user as
 * an instructor.
 */
enum ident_result ident_check(const struct ident *id, const char *cookie_header, const char *authorization,
			      const char *query_token, const char *client, struct acct_who *who, int *wait_s);

/* The cookie's value from a Cookie header; false when absent. */
bool ident_cookie_value(const struct ident *id, const char *cookie_header, char *out, size_t len);

#endif
