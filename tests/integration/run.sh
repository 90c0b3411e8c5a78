#!/bin/sh
# tests/integration/run.sh — the server with real clients: every
# tests/integration/*.test.mjs file (node:test cases on fixture.mjs, one real
# `trainbook serve` per case on --port 0 with its own workspace and token),
# files run in parallel. One line per case, "PASS <file>: <name>" or
# "FAIL <file>: <name>: <why>" (tests/web/reporter.mjs), then
# "N passed, N failed"; exits non-zero if any failed. Missing prerequisites
# are failures, never skips. What each case checks, and where each check of
# the old single-script suite went: tests/integration/README.md.
#
#   TRAINBOOK_BIN=…            the binary under test (default build/trainbook; e.g. an ASan build)
#   TB_ITEST_CONCURRENCY=N     test files run at once (default 3; see README.md for the measurements)
#   run.sh ARGS…               ARGS go to node --test (e.g. --test-name-pattern=nvml)
#   one file, one case:        node --test tests/integration/auth.test.mjs
#                              node --test --test-name-pattern=login_page tests/integration/auth.test.mjs
cd "$(dirname "$0")/../.." || exit 2
BIN="${TRAINBOOK_BIN:-build/trainbook}"

prereq() { echo "FAIL prerequisites: $1"; exit 1; }
[ -x "$BIN" ] || { echo "FAIL build: $BIN is missing (run make)"; exit 1; }
command -v node >/dev/null 2>&1 || prereq "node not found (make deps-test)"
# --test-concurrency and the reporter API need node 20.10 or later.
node -e 'const [a, b] = process.versions.node.split(".").map(Number); process.exit(a > 20 || (a === 20 && b >= 10) ? 0 : 1)' ||
	prereq "node $(node --version) is too old: node:test needs 20.10 or later"
[ -x /usr/bin/python3 ] || prereq "/usr/bin/python3 not found (slow_client.py needs it)"
command -v cc >/dev/null 2>&1 || prereq "cc not found (system.test.mjs compiles the stand-in NVML)"
if [ ! -d tests/integration/node_modules/ws ]; then
	log=$(cd tests/integration && { npm ci --no-audit --no-fund --loglevel=error || npm install --no-audit --no-fund --loglevel=error; } 2>&1) ||
		prereq "npm install of ws failed: $(echo "$log" | tail -n 3)"
fi
[ -n "$(ls tests/integration/*.test.mjs 2>/dev/null)" ] || prereq "no tests/integration/*.test.mjs files"

# Beside the PASS/FAIL lines, node's TAP output keeps each case's duration_ms:
# the files run in parallel, so the time between two lines says little.
mkdir -p build/test-logs
exec node --test --test-concurrency="${TB_ITEST_CONCURRENCY:-3}" \
	--test-reporter=./tests/web/reporter.mjs --test-reporter-destination=stdout \
	--test-reporter=tap --test-reporter-destination=build/test-logs/integration.tap \
	"$@" tests/integration/*.test.mjs
