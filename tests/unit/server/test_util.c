/*
 * test_util.c — server/util.c helpers that answers lean on: the short form
 * of a double in JSON (srv_buf_double9) against printf's %.9g, and text
 * cut to a buffer staying valid UTF-8 (srv_utf8_trim).
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "server/util.h"

static void format(double v, char *out, size_t len)
{
	struct srv_buf b = {0};
	srv_buf_double9(&b, v);
	snprintf(out, len, "%.*s", (int)b.len, b.data);
	srv_buf_free(&b);
}

static void double9_matches_printf(void **state)
{
	(void)state;
	static const double cases[] = {0,
				       1,
				       -1,
				       0.5,
				       0.125,
				       2.302585093,
				       1e-4,
				       0.00012345678912,
				       123456789,
				       1234567891,
				       99999999.95,
				       0.999999999,
				       0.9999999996,
				       1780000000.05,
				       1e14,
				       999999999999999.0,
				       1e15,
				       3.5e-9,
				       -7.25e20,
				       42.000000001,
				       0.30000000000000004};
	char got[64], want[64];
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		format(cases[i], got, sizeof got);
		snprintf(want, sizeof want, "%.9g", cases[i]);
		/* The same number, written without an exponent where printf would use one below 1e15. */
		assert_true(fabs(strtod(got, NULL) - strtod(want, NULL)) <= fabs(cases[i]) * 1e-15);
		if (!strchr(want, 'e'))
			assert_string_equal(got, want);
	}
	/* Many values of a training curve: each one reads back to 9 significant digits. */
	srand(7);
	for (int i = 0; i < 200000; i++) {
		double v = ((double)rand() / RAND_MAX - 0.3) * pow(10, rand() % 16 - 4);
		format(v, got, sizeof got);
		snprintf(want, sizeof want, "%.9g", v);
		if (strtod(got, NULL) != strtod(want, NULL))
			fail_msg("%.17g: %s, printf %s", v, got, want);
	}
}

static void utf8_trim_drops_a_cut_character_only(void **state)
{
	(void)state;
	static const struct {
		const char *in, *out;
	} cases[] = {
		{"", ""},
		{"abc", "abc"},
		{"a\xc3\xa9", "a\xc3\xa9"},
		{"a\xc3", "a"},
		{"\xe2\x82\xac", "\xe2\x82\xac"},
		{"x\xe2\x82", "x"},
		{"x\xe2", "x"},
		{"\xf0\x9f\x98\x80", "\xf0\x9f\x98\x80"},
		{"y\xf0\x9f\x98", "y"},
		{"\xc2\xb7 z", "\xc2\xb7 z"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char buf[16];
		snprintf(buf, sizeof buf, "%s", cases[i].in);
		srv_utf8_trim(buf);
		assert_string_equal(buf, cases[i].out);
		assert_true(srv_utf8_valid(buf, strlen(buf)));
	}
	/* Every cut of a run of two-byte characters, as a name buffer makes it. */
	char name[256];
	for (size_t size = 1; size <= sizeof name; size++) {
		snprintf(name, size, "%s", "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9");
		srv_utf8_trim(name);
		assert_true(srv_utf8_valid(name, strlen(name)));
		assert_int_equal(strlen(name) % 2, 0);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(double9_matches_printf),
		cmocka_unit_test(utf8_trim_drops_a_cut_character_only),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
