/*
 * fuzz_roster.c — the classroom roster reader (server/accounts.c,
 * acct_roster_parse): the CSV an instructor uploads to import a class.
 *
 * Input: the CSV file, as uploaded.
 * Properties: the answer is rows or errors, never both and never neither;
 * every error is {"line": L ≥ 1, "message": one line}; every row's name
 * and e-mail pass the same checks as a user created by hand
 * (acct_name_ok, acct_email_ok), its line lies within the file, and no
 * name appears twice; the rows written back out (acct_roster_csv) are
 * one line each plus the header.
 *
 * Threads: one.
 */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "server/accounts.h"

static void check_errors(const json_t *errors)
{
	size_t i;
	const json_t *e;
	json_array_foreach(errors, i, e)
	{
		json_int_t line = json_integer_value(json_object_get(e, "line"));
		if (line < 1)
			fuzz_fail("roster error %zu: line %lld", i, (long long)line);
		fuzz_check_message("roster", json_string_value(json_object_get(e, "message")));
	}
}

static void check_rows(const struct acct_roster_row *rows, size_t n, const char *csv, size_t len)
{
	int lines = 1;
	for (size_t i = 0; i < len; i++)
		lines += csv[i] == '\n';
	char err[256];
	for (size_t i = 0; i < n; i++) {
		if (!acct_name_ok(rows[i].name, err, sizeof err))
			fuzz_fail("roster row %zu: name '%s' was accepted but %s", i, rows[i].name, err);
		if (!acct_email_ok(rows[i].email, err, sizeof err))
			fuzz_fail("roster row %zu: e-mail '%s' was accepted but %s", i, rows[i].email, err);
		if (rows[i].line < 1 || rows[i].line > lines)
			fuzz_fail("roster row %zu: line %d of a %d-line file", i, rows[i].line, lines);
		for (size_t j = 0; j < i; j++)
			if (!strcmp(rows[i].name, rows[j].name))
				fuzz_fail("roster: '%s' twice (lines %d and %d)", rows[i].name, rows[j].line,
					  rows[i].line);
	}
	char *out = acct_roster_csv(rows, n);
	size_t out_lines = 0;
	for (const char *c = out; *c; c++)
		out_lines += *c == '\n';
	if (out_lines != n + 1)
		fuzz_fail("roster: %zu rows written as %zu lines", n, out_lines);
	free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* The parser takes a length, not a C string: keep it honest about NULs. */
	char *csv = malloc(size ? size : 1);
	if (size)
		memcpy(csv, data, size);
	json_t *errors = json_array();
	size_t n = 0;
	struct acct_roster_row *rows = acct_roster_parse(csv, size, &n, errors);
	check_errors(errors);
	if (rows && json_array_size(errors))
		fuzz_fail("roster: %zu rows and %zu errors", n, json_array_size(errors));
	if (rows && n == 0)
		fuzz_fail("roster: rows without a row");
	if (rows)
		check_rows(rows, n, csv, size);
	free(rows);
	json_decref(errors);
	free(csv);
	return 0;
}
