#!/bin/sh
# End-to-end tests: the real server (build/trainbook serve) and the page in
# Debian's headless chromium, driven by playwright-core (web/node_modules):
# e2e.mjs (single-user mode), classroom.mjs (--accounts: an instructor
# and two students), then sweep.mjs (a 4-trial sweep and its view). One line
# per case, "PASS …" or "FAIL …: why"; missing prerequisites FAIL; the exit
# status is non-zero when any file failed.
cd "$(dirname "$0")/../.." || exit 2
missing=""
command -v node >/dev/null 2>&1 || missing="$missing node"
[ -x /usr/bin/chromium ] || missing="$missing chromium(/usr/bin/chromium)"
/usr/bin/python3 -c 'import nbformat' 2>/dev/null || missing="$missing python3-nbformat"
[ -x build/trainbook ] || missing="$missing build/trainbook(make)"
[ -f static/app/app.js ] || missing="$missing static/app/app.js(make web)"
[ -f web/node_modules/playwright-core/index.mjs ] || missing="$missing playwright-core(sh web/build.sh)"
if [ -n "$missing" ]; then
	echo "FAIL e2e: prerequisites missing:$missing"
	exit 1
fi
status=0
node tests/e2e/e2e.mjs || status=1
node tests/e2e/board.mjs || status=1
node tests/e2e/classroom.mjs || status=1
node tests/e2e/sweep.mjs || status=1
exit $status
