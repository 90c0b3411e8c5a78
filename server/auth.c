/*
 * auth.c — token, cookie parsing, Host and Origin checks (see auth.h).
 *
 * Threads: pure functions over a read-only struct auth.
 */
#include "auth.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <unistd.h>

#include "util.h"

static void add_host(struct auth *a, const char *name)
{
	if (a->nhosts >= (int)(sizeof a->hosts / sizeof a->hosts[0]))
		return;
	char *dst = a->hosts[a->nhosts];
	size_t n = 0;
	/* Stored without brackets so "[::1]" and "::1" compare equal. */
	for (const char *p = name; *p && n + 1 < sizeof a->hosts[0]; p++)
		if (*p != '[' && *p != ']')
			dst[n++] = (char)tolower((unsigned char)*p);
	dst[n] = '\0';
	if (n)
		a->nhosts++;
}

int auth_init(struct auth *a, const struct cfg *c, char *err, size_t errlen)
{
	memset(a, 0, sizeof *a);
	if (c->token[0]) {
		srv_strlcpy(a->token, c->token, sizeof a->token);
	} else if (srv_random_hex(a->token, 24) < 0) {
		snprintf(err, errlen, "getrandom: %s", strerror(errno));
		return -1;
	}
	a->token_len = strlen(a->token);
	/* The cookie is derived from the token, not the token itself: it
	 * survives a restart with the same token, dies with a new one, and is
	 * 256 bits however short a token the user chose, so guessing it is
	 * hopeless and it never needs the login throttle. */
	static const char label[] = "trainbook session cookie v1";
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned maclen = 0;
	if (!HMAC(EVP_sha256(), a->token, (int)a->token_len, (const unsigned char *)label, sizeof label - 1,
		  mac, &maclen) || maclen * 2 + 1 > sizeof a->session) {
		snprintf(err, errlen, "cannot derive the session cookie (HMAC-SHA256)");
		return -1;
	}
	for (unsigned i = 0; i < maclen; i++)
		sprintf(a->session + 2 * i, "%02x", mac[i]);
	add_host(a, "localhost");
	add_host(a, "127.0.0.1");
	add_host(a, "::1");
	if (strcmp(c->ip, "0.0.0.0") && strcmp(c->ip, "::"))
		add_host(a, c->ip);
	/* Reachable from other machines: its own name is a fair Host too. */
	char hostname[256];
	if (strcmp(c->ip, "127.0.0.1") && strcmp(c->ip, "::1") && strcmp(c->ip, "localhost") &&
	    gethostname(hostname, sizeof hostname) == 0) {
		hostname[sizeof hostname - 1] = '\0';
		add_host(a, hostname);
	}
	for (int i = 0; i < c->nallow_hosts; i++) {
		if (!strcmp(c->allow_hosts[i], "*"))
			a->any_host = true;
		else
			add_host(a, c->allow_hosts[i]);
	}
	/* cfg_set accepted only addresses inet_pton reads, so this cannot fail. */
	for (int i = 0; i < c->ntrusted_proxies && a->nproxies < CFG_MAX_TRUSTED_PROXIES; i++) {
		int fam = strchr(c->trusted_proxies[i], ':') ? AF_INET6 : AF_INET;
		if (inet_pton(fam, c->trusted_proxies[i], a->proxies[a->nproxies].addr) == 1)
			a->proxies[a->nproxies++].family = fam;
	}
	return 0;
}

bool auth_token_equal(const struct auth *a, const char *candidate, size_t len)
{
	if (!candidate || a->token_len == 0)
		return false;
	/* Walk the whole secret whatever the candidate is, so the time taken
	 * tells nothing about how many leading characters were right. */
	volatile unsigned diff = (unsigned)(len ^ a->token_len);
	for (size_t i = 0; i < a->token_len; i++) {
		unsigned char c = i < len ? (unsigned char)candidate[i] : 0;
		diff |= c ^ (unsigned char)a->token[i];
	}
	return diff == 0;
}

/* Where the credential of an Authorization header starts, and its length; NULL when none. */
static const char *header_credential(const char *h, size_t *len)
{
	while (*h == ' ')
		h++;
	size_t skip = 0;
	if (!strncasecmp(h, "token ", 6))
		skip = 6;
	else if (!strncasecmp(h, "bearer ", 7))
		skip = 7;
	else
		return NULL;
	h += skip;
	while (*h == ' ')
		h++;
	size_t n = strlen(h);
	while (n && h[n - 1] == ' ')
		n--;
	*len = n;
	return h;
}

static bool header_token(const struct auth *a, const char *h)
{
	size_t n;
	const char *t = header_credential(h, &n);
	return t && auth_token_equal(a, t, n);
}

bool auth_header_token(const char *authorization, char *out, size_t outlen)
{
	size_t n;
	const char *t = authorization ? header_credential(authorization, &n) : NULL;
	if (!t || n == 0 || n + 1 > outlen)
		return false;
	memcpy(out, t, n);
	out[n] = '\0';
	return true;
}

bool auth_cookie_value(const char *cookie_header, const char *name, char *out, size_t outlen)
{
	size_t nl = strlen(name);
	const char *p = cookie_header;
	while (p && *p) {
		while (*p == ' ' || *p == ';')
			p++;
		const char *end = strchr(p, ';');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		if (len > nl && !strncmp(p, name, nl) && p[nl] == '=') {
			size_t vl = len - nl - 1;
			if (vl + 1 > outlen)
				return false;
			memcpy(out, p + nl + 1, vl);
			out[vl] = '\0';
			return true;
		}
		p = end;
	}
	return false;
}

bool auth_session_ok(const struct auth *a, const char *cookie, const char *cookie_name)
{
	char value[sizeof a->session + 1];
	if (!cookie || !auth_cookie_value(cookie, cookie_name, value, sizeof value))
		return false;
	size_t n = strlen(value), want = strlen(a->session);
	volatile unsigned diff = (unsigned)(n ^ want);
	for (size_t i = 0; i < want; i++)
		diff |= (unsigned char)(i < n ? value[i] : 0) ^ (unsigned char)a->session[i];
	return diff == 0;
}

enum auth_token auth_token_check(const struct auth *a, const char *authorization, const char *query_token)
{
	if (!authorization && !query_token)
		return AUTH_NO_TOKEN;
	if (authorization && header_token(a, authorization))
		return AUTH_TOKEN_OK;
	if (query_token && auth_token_equal(a, query_token, strlen(query_token)))
		return AUTH_TOKEN_OK;
	return AUTH_TOKEN_WRONG;
}

/*
 * Split "host[:port]" or "[v6]:port" into a lower-case host name (no
 * brackets) and a port (0 when absent). False for malformed input.
 */
static bool split_host_port(const char *s, size_t len, char *host, size_t hostlen, int *port)
{
	const char *end = s + len, *colon = NULL;
	*port = 0;
	if (len && s[0] == '[') {
		const char *rb = memchr(s, ']', len);
		if (!rb)
			return false;
		if (rb + 1 < end) {
			if (rb[1] != ':')
				return false;
			colon = rb + 1;
		}
		s++;
		len = (size_t)(rb - s);
	} else {
		colon = memchr(s, ':', len);
		if (colon && memchr(colon + 1, ':', (size_t)(end - colon - 1)))
			colon = NULL; /* a bare IPv6 address, no port */
		else if (colon)
			len = (size_t)(colon - s);
	}
	if (colon) {
		char digits[8];
		size_t dl = (size_t)(end - colon - 1);
		if (dl == 0 || dl >= sizeof digits)
			return false;
		memcpy(digits, colon + 1, dl);
		digits[dl] = '\0';
		for (size_t i = 0; i < dl; i++)
			if (!isdigit((unsigned char)digits[i]))
				return false;
		*port = atoi(digits);
	}
	if (len == 0 || len + 1 > hostlen)
		return false;
	for (size_t i = 0; i < len; i++)
		host[i] = (char)tolower((unsigned char)s[i]);
	host[len] = '\0';
	return true;
}

bool auth_host_ok(const struct auth *a, const char *host)
{
	char name[256];
	int port;
	if (!host || !split_host_port(host, strlen(host), name, sizeof name, &port))
		return false;
	if (a->any_host)
		return true;
	/* DNS rebinding needs the attacker's host name in Host; an IP address
	 * there cannot be one, and is how people reach --ip 0.0.0.0 servers. */
	unsigned char addr[sizeof(struct in6_addr)];
	if (inet_pton(AF_INET, name, addr) == 1 || inet_pton(AF_INET6, name, addr) == 1)
		return true;
	for (int i = 0; i < a->nhosts; i++)
		if (!strcmp(a->hosts[i], name))
			return true;
	return false;
}

bool auth_origin_ok(const char *origin, const char *host)
{
	if (!origin)
		return true;
	if (!host)
		return false;
	int default_port;
	const char *rest;
	if (!strncasecmp(origin, "http://", 7)) {
		default_port = 80;
		rest = origin + 7;
	} else if (!strncasecmp(origin, "https://", 8)) {
		default_port = 443;
		rest = origin + 8;
	} else {
		return false; /* "null", file://, extensions: never same-origin */
	}
	size_t len = strcspn(rest, "/");
	char oname[256], hname[256];
	int oport, hport;
	if (!split_host_port(rest, len, oname, sizeof oname, &oport) ||
	    !split_host_port(host, strlen(host), hname, sizeof hname, &hport))
		return false;
	if (!oport)
		oport = default_port;
	if (!hport)
		hport = default_port;
	return !strcmp(oname, hname) && oport == hport;
}

static bool peer_trusted(const struct auth *a, const struct sockaddr *peer)
{
	int fam = AF_UNSPEC;
	const unsigned char *addr = NULL;
	if (peer && peer->sa_family == AF_INET) {
		fam = AF_INET;
		addr = (const unsigned char *)&((const struct sockaddr_in *)peer)->sin_addr;
	} else if (peer && peer->sa_family == AF_INET6) {
		const struct in6_addr *a6 = &((const struct sockaddr_in6 *)peer)->sin6_addr;
		/* A socket bound to :: sees IPv4 clients as ::ffff:a.b.c.d. */
		fam = IN6_IS_ADDR_V4MAPPED(a6) ? AF_INET : AF_INET6;
		addr = fam == AF_INET ? a6->s6_addr + 12 : a6->s6_addr;
	}
	for (int i = 0; addr && i < a->nproxies; i++)
		if (a->proxies[i].family == fam && !memcmp(a->proxies[i].addr, addr, fam == AF_INET ? 4 : 16))
			return true;
	return false;
}

bool auth_forwarded_https(const struct auth *a, const struct sockaddr *peer, const char *forwarded_proto)
{
	if (!forwarded_proto || !peer_trusted(a, peer))
		return false;
	const char *p = forwarded_proto;
	while (*p == ' ' || *p == '\t')
		p++;
	size_t n = strcspn(p, ", \t");
	return n == 5 && !strncasecmp(p, "https", 5);
}
