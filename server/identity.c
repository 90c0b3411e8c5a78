/*
 * identity.c — from credentials to a user, in both modes (see identity.h).
 *
 * Threads: any.
 */
#include "identity.h"

#include <stdio.h>
#include <string.h>

#include "auth.h"
#include "throttle.h"
#include "util.h"

void ident_cookie_name(int port, char *out, size_t len)
{
	snprintf(out, len, "trainbook_token_%d", port);
}

bool ident_cookie_value(const struct ident *id, const char *cookie_header, char *out, size_t len)
{
	return cookie_header && id->cookie_name[0] && auth_cookie_value(cookie_header, id->cookie_name, out, len);
}

static void single_user(const struct ident *id, struct acct_who *who)
{
	memset(who, 0, sizeof *who);
	srv_strlcpy(who->name, id->owner, sizeof who->name);
	who->instructor = true;
}

/* Is either credential right? (Accounts: an API token of an active user.) */
static bool credential_ok(const struct ident *id, const char *authorization, const char *query_token,
			  struct acct_who *who)
{
	if (!id->accounts) {
		if (auth_token_check(id->auth, authorization, query_token) != AUTH_TOKEN_OK)
			return false;
		single_user(id, who);
		return true;
	}
	char token[SECRET_HEX + 1];
	if (authorization && auth_header_token(authorization, token, sizeof token) &&
	    acct_token_who(id->store, token, who) == ACCT_OK)
		return true;
	return query_token && acct_token_who(id->store, query_token, who) == ACCT_OK;
}

enum ident_result ident_check(const struct ident *id, const char *cookie_header, const char *authorization,
			      const char *query_token, const char *client, struct acct_who *who, int *wait_s)
{
	*wait_s = 0;
	if (!id->accounts) {
		if (cookie_header && auth_session_ok(id->auth, cookie_header, id->cookie_name)) {
			single_user(id, who);
			return IDENT_OK;
		}
	} else {
		char value[SECRET_HEX + 1];
		if (ident_cookie_value(id, cookie_header, value, sizeof value) &&
		    acct_session_who(id->store, id->policy, value, who) == ACCT_OK)
			return IDENT_OK;
	}
	if (!authorization && !query_token)
		return IDENT_NONE;
	/* Shown: throttled, compared, and the outcome counted for the address. */
	*wait_s = throttle_wait_s(id->logins, client, srv_mono_ms());
	if (*wait_s)
		return IDENT_THROTTLED;
	if (credential_ok(id, authorization, query_token, who)) {
		throttle_succeeded(id->logins, client);
		return IDENT_OK;
	}
	throttle_failed(id->logins, client, srv_mono_ms());
	return IDENT_WRONG;
}
