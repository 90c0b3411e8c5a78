#!/bin/sh
# web/build.sh — build the page: web/src/*.js (+ CSS) → static/app/app.js, app.css.
#
# Installs the pinned npm packages (package-lock.json) with `npm ci` only
# when node_modules is missing or older than the lock file, then bundles
# with esbuild. The bundle is a build output (git-ignored), never edited.
set -e
cd "$(dirname "$0")"
stamp=node_modules/.trainbook-installed
if ! command -v npm >/dev/null 2>&1; then
	echo "web/build.sh: npm is not installed (make deps installs nodejs and npm)" >&2
	exit 1
fi
if [ ! -f "$stamp" ] || [ package-lock.json -nt "$stamp" ] || [ package.json -nt "$stamp" ]; then
	echo "web: npm ci (installing the pinned front-end packages)"
	npm ci --no-audit --no-fund --loglevel=error >/dev/null
	touch "$stamp"
fi
mkdir -p ../static/app
node_modules/.bin/esbuild src/main.js --bundle --format=esm --target=es2022 \
	--minify --sourcemap --legal-comments=linked --log-level=warning \
	--outfile=../static/app/app.js
