/*
 * auth.h — who may talk to the server: the token (constant-time compare),
 * where a request may show it (`Authorization: token …`, `?token=`, the
 * login form), the session cookie derived from it, the Host / Origin
 * checks that stop DNS rebinding and cross-site requests, and which
 * X-Forwarded-* headers to believe (only a trusted proxy's).
 *
 * What it is not: HTTP. Every function takes header values as plain
 * strings, so the libmicrohttpd routes and the libwebsockets feed apply the
 * same rules.
 *
 * Threads: struct auth is filled once at start-up and read-only afterwards;
 * every function is safe from any thread.
 */
#ifndef TB_SERVER_AUTH_H
#define TB_SERVER_AUTH_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"

struct sockaddr;

struct auth {
	char token[CFG_TOKEN_MAX + 1];  /* the secret; never logged except in the start-up URL */
	size_t token_len;
	char session[65];               /* the cookie's value: hex HMAC-SHA256(token, label) */
	char hosts[CFG_MAX_ALLOW_HOSTS + 8][256]; /* Host names accepted, lower case */
	int nhosts;
	bool any_host;                  /* allow-host = * */
	struct {
		int family;                 /* AF_INET or AF_INET6 */
		unsigned char addr[16];     /* network order; 4 bytes used for AF_INET */
	} proxies[CFG_MAX_TRUSTED_PROXIES]; /* trusted-proxy addresses */
	int nproxies;
};

/*
 * Take the token from cfg (or generate 24 random bytes as 48 hex digits
 * with getrandom) and the accepted Host names: localhost, 127.0.0.1, ::1,
 * the bound address, the machine's name when bound beyond loopback, and
 * the allow-host list. -1 with err when the system
 * has no randomness to give.
 */
int auth_init(struct auth *a, const struct cfg *c, char *err, size_t errlen);

/* Compare in time that does not depend on where the strings differ. */
bool auth_token_equal(const struct auth *a, const char *candidate, size_t len);

/*
 * The session cookie (`cookie_name`, trainbook_token_<port>, set after the
 * token was shown once) holds a->session, never the token. True when the
 * Cookie header carries it. A wrong or stale cookie is not a guess at the
 * token, so the login throttle ignores it.
 */
bool auth_session_ok(const struct auth *a, const char *cookie_header, const char *cookie_name);

/* The credential of an Authorization header (`token X` or `Bearer X`) into out; false when none. */
bool auth_header_token(const char *authorization, char *out, size_t outlen);

enum auth_token {
	AUTH_NO_TOKEN = 0, /* the request shows no token */
	AUTH_TOKEN_OK,     /* one of them is right */
	AUTH_TOKEN_WRONG,  /* it shows a token and it is wrong: a failed login */
};

/*
 * The token a request shows: Authorization header (`token X` or
 * `Bearer X`) or query `token`. Either may be NULL.
 */
enum auth_token auth_token_check(const struct auth *a, const char *authorization, const char *query_token);

/* Copy the value of cookie `name` out of a Cookie header; false if absent. */
bool auth_cookie_value(const char *cookie_header, const char *name, char *out, size_t outlen);

/*
 * Host header names this server (port ignored): an accepted name or any IP
 * address (a rebinding attack carries a host name). False when missing.
 */
bool auth_host_ok(const struct auth *a, const char *host);

/*
 * Origin, when present, must name the same host and port as the Host
 * header (default ports by scheme). A missing Origin is fine (curl,
 * scripts); "null" is not.
 */
bool auth_origin_ok(const char *origin, const char *host);

/*
 * Whether the browser reached us over https, for the cookie's `Secure`
 * flag: true only when the connection comes from a trusted proxy
 * (trusted-proxy) and that proxy says `X-Forwarded-Proto: https` (the
 * first of a comma-separated list). From anyone else the header is
 * ignored: a client talking to us directly could claim anything. peer
 * is the connection's address (IPv4, IPv6 or v4-mapped); NULL is false.
 */
bool auth_forwarded_https(const struct auth *a, const struct sockaddr *peer, const char *forwarded_proto);

#endif
