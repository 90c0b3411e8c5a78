/*
 * test_auth.c — token comparison, where a token may come from, and the
 * Host / Origin rules of server/auth.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <arpa/inet.h>
#include <cmocka.h>

#include "server/auth.h"
#include "server/config.h"

static struct auth make_auth(const char *token, const char *extra_host)
{
	struct cfg c;
	cfg_defaults(&c);
	char err[128];
	if (token)
		assert_int_equal(cfg_set(&c, "token", token, err, sizeof err), 0);
	if (extra_host)
		assert_int_equal(cfg_set(&c, "allow-host", extra_host, err, sizeof err), 0);
	struct auth a;
	assert_int_equal(auth_init(&a, &c, err, sizeof err), 0);
	return a;
}

static void token_compare(void **state)
{
	(void)state;
	struct auth a = make_auth("s3cret-token", NULL);
	assert_true(auth_token_equal(&a, "s3cret-token", 12));
	assert_false(auth_token_equal(&a, "s3cret-toke", 11));
	assert_false(auth_token_equal(&a, "s3cret-token!", 13));
	assert_false(auth_token_equal(&a, "S3cret-token", 12));
	assert_false(auth_token_equal(&a, "", 0));
	assert_false(auth_token_equal(&a, NULL, 0));
}

static void random_token(void **state)
{
	(void)state;
	struct auth a = make_auth(NULL, NULL), b = make_auth(NULL, NULL);
	assert_int_equal(a.token_len, 48);
	assert_string_not_equal(a.token, b.token);
	for (size_t i = 0; i < a.token_len; i++)
		assert_non_null(strchr("0123456789abcdef", a.token[i]));
}

static void token_sources(void **state)
{
	(void)state;
	struct auth a = make_auth("tok", NULL);
	assert_int_equal(auth_token_check(&a, "token tok", NULL), AUTH_TOKEN_OK);
	assert_int_equal(auth_token_check(&a, "Bearer tok", NULL), AUTH_TOKEN_OK);
	assert_int_equal(auth_token_check(&a, "  token   tok  ", NULL), AUTH_TOKEN_OK);
	assert_int_equal(auth_token_check(&a, "Basic tok", NULL), AUTH_TOKEN_WRONG);
	assert_int_equal(auth_token_check(&a, "token tok2", NULL), AUTH_TOKEN_WRONG);
	assert_int_equal(auth_token_check(&a, NULL, "tok"), AUTH_TOKEN_OK);
	assert_int_equal(auth_token_check(&a, NULL, "to"), AUTH_TOKEN_WRONG);
	assert_int_equal(auth_token_check(&a, "token nope", "tok"), AUTH_TOKEN_OK);
	assert_int_equal(auth_token_check(&a, NULL, NULL), AUTH_NO_TOKEN);
	/* The cookie holds HMAC-SHA256(token, label), checked here against Python's hmac. */
	static const char session[] = "248339a6ca66921179cf0209d4f160b907e6bda29263278429ae90c24e44b2e4";
	assert_string_equal(a.session, session);
	char cookie[160];
	snprintf(cookie, sizeof cookie, "a=1; trainbook_token_8888=%s; b=2", session);
	assert_true(auth_session_ok(&a, cookie, "trainbook_token_8888"));
	/* Another port's cookie is not this server's (two servers on one host keep separate logins). */
	assert_false(auth_session_ok(&a, cookie, "trainbook_token_8889"));
	/* The token itself is not a session cookie, nor is a prefix of the right one. */
	assert_false(auth_session_ok(&a, "trainbook_token_8888=tok", "trainbook_token_8888"));
	snprintf(cookie, sizeof cookie, "trainbook_token_8888=%.63s", session);
	assert_false(auth_session_ok(&a, cookie, "trainbook_token_8888"));
	snprintf(cookie, sizeof cookie, "xtrainbook_token_8888=%s", session);
	assert_false(auth_session_ok(&a, cookie, "trainbook_token_8888"));
	assert_false(auth_session_ok(&a, NULL, "trainbook_token_8888"));
	char tok[16];
	assert_true(auth_header_token("  Bearer  abc ", tok, sizeof tok));
	assert_string_equal(tok, "abc");
	assert_false(auth_header_token("Basic abc", tok, sizeof tok));
	assert_false(auth_header_token("token 0123456789abcdefXYZ", tok, sizeof tok));
	struct auth other = make_auth("tok2", NULL);
	assert_string_not_equal(other.session, a.session);
	char v[16];
	assert_true(auth_cookie_value("x=1;y=22", "y", v, sizeof v));
	assert_string_equal(v, "22");
	assert_false(auth_cookie_value("y=0123456789abcdefXYZ", "y", v, sizeof v));
}

static void host_check(void **state)
{
	(void)state;
	struct auth a = make_auth("t", "Trainbook.Example.org");
	assert_true(auth_host_ok(&a, "localhost:8888"));
	assert_true(auth_host_ok(&a, "127.0.0.1"));
	assert_true(auth_host_ok(&a, "[::1]:8888"));
	assert_true(auth_host_ok(&a, "trainbook.example.org"));
	assert_false(auth_host_ok(&a, "evil.example:8888"));
	assert_false(auth_host_ok(&a, "localhost.evil.example"));
	assert_false(auth_host_ok(&a, NULL));
	assert_false(auth_host_ok(&a, "localhost:88x"));
	assert_true(auth_host_ok(&a, "192.168.1.20:8888")); /* an address cannot be rebound */
	assert_true(auth_host_ok(&a, "[fe80::1]:8888"));
	assert_false(auth_host_ok(&a, "192.168.1.20.evil.example"));
	struct auth any = make_auth("t", "*");
	assert_true(auth_host_ok(&any, "anything.example"));
}

static void origin_check(void **state)
{
	(void)state;
	assert_true(auth_origin_ok(NULL, "127.0.0.1:8888"));
	assert_true(auth_origin_ok("http://127.0.0.1:8888", "127.0.0.1:8888"));
	assert_true(auth_origin_ok("https://nb.example.org", "nb.example.org"));
	assert_true(auth_origin_ok("https://nb.example.org:443", "nb.example.org"));
	assert_true(auth_origin_ok("http://[::1]:8888", "[::1]:8888"));
	assert_false(auth_origin_ok("http://127.0.0.1:9999", "127.0.0.1:8888"));
	assert_false(auth_origin_ok("http://evil.example", "127.0.0.1:8888"));
	assert_false(auth_origin_ok("null", "127.0.0.1:8888"));
	assert_false(auth_origin_ok("http://nb.example.org", "nb.example.org:443"));
	assert_false(auth_origin_ok("http://127.0.0.1:8888", NULL));
	/* Behind nginx on a port other than 443 (issue 20): `Host $http_host`
	 * keeps the port and matches; `Host $host` dropped it and every POST
	 * and the feed were refused as cross-origin. */
	assert_true(auth_origin_ok("https://trainbook.example.org:18443", "trainbook.example.org:18443"));
	assert_false(auth_origin_ok("https://trainbook.example.org:18443", "trainbook.example.org"));
}

static struct sockaddr_in6 v6_peer(const char *text)
{
	struct sockaddr_in6 sa = {.sin6_family = AF_INET6};
	assert_int_equal(inet_pton(AF_INET6, text, &sa.sin6_addr), 1);
	return sa;
}

/* X-Forwarded-Proto counts only from a trusted-proxy address (issue 20, item 8). */
static void forwarded_https(void **state)
{
	(void)state;
	struct cfg c;
	char err[128];
	cfg_defaults(&c);
	assert_int_equal(cfg_set(&c, "trusted-proxy", "127.0.0.1", err, sizeof err), 0);
	assert_int_equal(cfg_set(&c, "trusted-proxy", "fd00::2", err, sizeof err), 0);
	struct auth a;
	assert_int_equal(auth_init(&a, &c, err, sizeof err), 0);
	struct sockaddr_in lo = {.sin_family = AF_INET}, other = {.sin_family = AF_INET};
	inet_pton(AF_INET, "127.0.0.1", &lo.sin_addr);
	inet_pton(AF_INET, "10.0.0.7", &other.sin_addr);
	const struct sockaddr *plo = (const struct sockaddr *)&lo, *pother = (const struct sockaddr *)&other;
	assert_true(auth_forwarded_https(&a, plo, "https"));
	assert_true(auth_forwarded_https(&a, plo, " HTTPS"));
	assert_true(auth_forwarded_https(&a, plo, "https, http")); /* the client's side comes first */
	assert_false(auth_forwarded_https(&a, plo, "http"));
	assert_false(auth_forwarded_https(&a, plo, "httpsx"));
	assert_false(auth_forwarded_https(&a, plo, NULL));
	assert_false(auth_forwarded_https(&a, pother, "https")); /* anyone else: never */
	assert_false(auth_forwarded_https(&a, NULL, "https"));
	struct sockaddr_in6 mapped = v6_peer("::ffff:127.0.0.1"), v6 = v6_peer("fd00::2"), v6o = v6_peer("fd00::3");
	assert_true(auth_forwarded_https(&a, (const struct sockaddr *)&mapped, "https"));
	assert_true(auth_forwarded_https(&a, (const struct sockaddr *)&v6, "https"));
	assert_false(auth_forwarded_https(&a, (const struct sockaddr *)&v6o, "https"));
	/* No trusted-proxy at all (the default): nobody's header counts. */
	struct auth none = make_auth("t", NULL);
	assert_false(auth_forwarded_https(&none, plo, "https"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(token_compare), cmocka_unit_test(random_token),
		cmocka_unit_test(token_sources), cmocka_unit_test(host_check),
		cmocka_unit_test(origin_check), cmocka_unit_test(forwarded_https),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
