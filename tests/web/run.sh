#!/bin/sh
# Unit tests of the page's pure modules (web/src/*.js) with node's test runner.
# One line per test, "PASS …" or "FAIL …: why"; exits non-zero when any failed.
cd "$(dirname "$0")/../.." || exit 2
if ! command -v node >/dev/null 2>&1; then
	echo "FAIL web: node is not installed (make deps)"
	exit 1
fi
if [ ! -x /usr/bin/python3 ] || ! /usr/bin/python3 -c 'import nbformat' 2>/dev/null; then
	echo "FAIL web: python3-nbformat is missing (make deps-test); notebook checks need it"
	exit 1
fi
exec node --test --test-reporter=./tests/web/reporter.mjs --test-reporter-destination=stdout tests/web/*.test.mjs
