#!/bin/sh
# tests/integration/run.sh — `trainbook serve` with real clients: curl for
# HTTP, the npm `ws` package for the live feed, the real worker for runs.
# One line per test case: "PASS name" or "FAIL name: why"; exits non-zero
# if any failed. Every server is started on a free port (--port 0) with a
# temporary workspace and a fixed token, and killed at the end.
[ -n "$BASH_VERSION" ] || exec bash "$0" "$@"
set -u
cd "$(dirname "$0")/../.." || exit 2
ROOT=$(pwd)
BIN="${TRAINBOOK_BIN:-$ROOT/build/trainbook}" # TRAINBOOK_BIN: e.g. an ASan build
HERE="$ROOT/tests/integration"
PY=/usr/bin/python3
TOKEN=itest-$$-token
TMP=$(mktemp -d /tmp/tb-itest.XXXXXX)
FAILED=0
PIDS=""
# The servers started here decide their workers' OpenMP threads themselves (worker_cpu_share).
unset OMP_NUM_THREADS

pass() { echo "PASS $1"; }
fail() { echo "FAIL $1: $2"; FAILED=1; }
cleanup() {
	for p in $PIDS; do kill -9 "$p" 2>/dev/null; done
	for p in $PIDS; do wait "$p" 2>/dev/null; done
	# Workers die with their server (PR_SET_PDEATHSIG); wait a moment for them.
	sleep 0.2
	rm -rf "$TMP"
}
trap cleanup EXIT

# ---- prerequisites: missing ones are failures, never silent skips ----------
if [ ! -x "$BIN" ]; then
	fail build "build/trainbook is missing (run make)"
	exit 1
fi
for tool in curl node "$PY"; do
	command -v "$tool" >/dev/null 2>&1 || { fail prerequisites "$tool not found"; exit 1; }
done
if [ ! -d "$HERE/node_modules/ws" ]; then
	(cd "$HERE" && { npm ci --no-audit --no-fund --loglevel=error || npm install --no-audit --no-fund --loglevel=error; }) >"$TMP/npm.log" 2>&1 ||
		{ fail prerequisites "npm install of ws failed: $(tail -n 3 "$TMP/npm.log")"; exit 1; }
fi

# ---- helpers ------------------------------------------------------------------

# start_server NAME WORKSPACE [ARGS…]: sets PORT_<NAME>, PID_<NAME>; log in $TMP/NAME.log
start_server() {
	local name=$1 ws=$2
	shift 2
	mkdir -p "$ws"
	"$BIN" serve --workspace "$ws" --port 0 --token "$TOKEN" "$@" >"$TMP/$name.log" 2>&1 &
	local pid=$!
	PIDS="$PIDS $pid"
	local port=""
	for _ in $(seq 1 100); do
		port=$(sed -n 's|.*open http://[^:]*:\([0-9]*\)/.*|\1|p' "$TMP/$name.log" | head -n 1)
		[ -n "$port" ] && break
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	eval "PORT_$name=$port; PID_$name=$pid"
	[ -n "$port" ]
}

# req METHOD URL [curl args…]: body in $TMP/body, headers in $TMP/headers, prints the status
req() {
	local method=$1 url=$2
	shift 2
	curl -s -m 30 -o "$TMP/body" -D "$TMP/headers" -w '%{http_code}' -X "$method" "$@" "$url"
}
# api METHOD PORT PATH [curl args…]: with the token
api() {
	local method=$1 port=$2 path=$3
	shift 3
	req "$method" "http://127.0.0.1:$port$path" -H "Authorization: token $TOKEN" "$@"
}
# jq-ish: jget FILE PYTHON-EXPR (the JSON is `d`)
jget() { "$PY" -c "import json,sys; d=json.load(open(sys.argv[1])); print($2)" "$1" 2>/dev/null; }
header() { grep -i "^$1:" "$TMP/headers" | head -n 1 | cut -d' ' -f2- | tr -d '\r'; }

# wait_status PORT RUN STATUS SECONDS
wait_status() {
	local s=""
	for _ in $(seq 1 $(($4 * 5))); do
		api GET "$1" "/api/runs/$2" >/dev/null
		s=$(jget "$TMP/body" "d['run']['status']")
		[ "$s" = "$3" ] && return 0
		sleep 0.2
	done
	echo "status is '$s'" >&2
	return 1
}

spec_json() { "$PY" -c "import json,sys; print(json.dumps({'spec': open(sys.argv[1]).read()}))" "$1"; }

cat >"$TMP/small.yaml" <<'EOF'
data: {dataset: synthetic, shape: [1,8,8], classes: 4, train_size: 256, test_size: 64, batch_size: 32}
model: [flatten, {linear: 16}, relu, {linear: 4}]
train: {epochs: 2}
EOF
cat >"$TMP/long.yaml" <<'EOF'
data: {dataset: synthetic, shape: [1,8,8], classes: 4, train_size: 8192, test_size: 64, batch_size: 32}
model: [flatten, {linear: 64}, relu, {linear: 4}]
train: {epochs: 120}
checkpoint: {every_steps: 200, keep: 2}
EOF
spec_json "$TMP/small.yaml" >"$TMP/small.json"
spec_json "$TMP/long.yaml" >"$TMP/long.json"

# ============================================================================
WS="$TMP/ws-main"
if start_server main "$WS"; then
	P=$PORT_main
	grep -q "workspace $WS" "$TMP/main.log" && grep -q "?token=$TOKEN" "$TMP/main.log" &&
		pass startup_url || fail startup_url "start-up did not print the workspace and URL: $(head -n 3 "$TMP/main.log")"
else
	fail startup_url "server did not start: $(tail -n 5 "$TMP/main.log")"
	exit 1
fi

# ---- status and auth -----------------------------------------------------------
code=$(api GET "$P" /api/status)
if [ "$code" = 200 ] && [ "$(jget "$TMP/body" "d['workspace']")" = "$WS" ] &&
	[ "$(jget "$TMP/body" "'queued' in d['runs'] and 'running' in d['runs'] and bool(d['version'])")" = True ]; then
	pass status_with_token
else
	fail status_with_token "HTTP $code $(head -c 200 "$TMP/body")"
fi

code=$(req GET "http://127.0.0.1:$P/api/status" -H "Authorization: token wrong-$TOKEN")
[ "$code" = 401 ] && [ "$(jget "$TMP/body" "d['error']")" = unauthorized ] &&
	pass wrong_token_401 || fail wrong_token_401 "HTTP $code"

# Every route in the table that needs the token must refuse a request without it.
"$BIN" serve --list-routes >"$TMP/routes.txt"
n=0
bad=""
while read -r method pattern access _; do
	[ "$access" = token ] || continue
	path=$(echo "$pattern" | sed -e 's/{[a-z]*\*}/x\/y.ipynb/g' -e 's/{[a-z]*}/r1/g')
	n=$((n + 1))
	code=$(req "$method" "http://127.0.0.1:$P$path" -H 'Content-Type: application/json' --data-binary '{}')
	[ "$method" = GET ] && code=$(req GET "http://127.0.0.1:$P$path")
	[ "$code" = 401 ] || bad="$bad $method $path -> $code;"
done <"$TMP/routes.txt"
if [ "$n" -ge 20 ] && [ -z "$bad" ]; then
	pass every_token_route_401
else
	fail every_token_route_401 "$n routes checked;$bad"
fi

# The table the API reports is the one --list-routes prints.
api GET "$P" /api/routes >/dev/null
"$PY" - "$TMP/body" "$TMP/routes.txt" >"$TMP/cmp" 2>&1 <<'EOF'
import json, sys
api = {(r['method'], r['path'], r['access']) for r in json.load(open(sys.argv[1]))['routes']}
cli = {tuple(l.split()[:3]) for l in open(sys.argv[2]) if l.strip()}
print('same' if api == cli else f'differ: {api ^ cli}')
EOF
grep -q '^same' "$TMP/cmp" && pass route_table_listed || fail route_table_listed "$(cat "$TMP/cmp")"

code=$(req GET "http://127.0.0.1:$P/api/nonexistent")
[ "$code" = 401 ] && pass unknown_api_path_401 || fail unknown_api_path_401 "HTTP $code"

# ?token= visit: cookie (HttpOnly, SameSite=Strict; a session value derived from the token,
# not the token itself), redirect to the clean URL; the cookie works.
code=$(req GET "http://127.0.0.1:$P/?token=$TOKEN")
cookie=$(header Set-Cookie)
loc=$(header Location)
if [ "$code" = 302 ] && echo "$cookie" | grep -q "trainbook_token=" && ! echo "$cookie" | grep -q "$TOKEN" &&
	echo "$cookie" | grep -q HttpOnly && echo "$cookie" | grep -q 'SameSite=Strict' && [ "$loc" = / ]; then
	code=$(req GET "http://127.0.0.1:$P/api/status" -H "Cookie: ${cookie%%;*}")
	[ "$code" = 200 ] && pass token_visit_sets_cookie || fail token_visit_sets_cookie "cookie refused: HTTP $code"
else
	fail token_visit_sets_cookie "HTTP $code, Set-Cookie '$cookie', Location '$loc'"
fi

code=$(req GET "http://127.0.0.1:$P/")
if [ "$code" = 200 ] && grep -q 'name="token"' "$TMP/body" && grep -q 'action="/login"' "$TMP/body"; then
	c1=$(req POST "http://127.0.0.1:$P/login" --data-urlencode "token=nope")
	c2=$(req POST "http://127.0.0.1:$P/login" --data-urlencode "token=$TOKEN")
	if [ "$c1" = 401 ] && [ "$c2" = 303 ] && header Set-Cookie | grep -q "trainbook_token="; then
		pass login_page
	else
		fail login_page "wrong token: HTTP $c1, right token: HTTP $c2"
	fi
else
	fail login_page "GET / without token: HTTP $code, no login form"
fi

# ---- Host and Origin (DNS rebinding, CSRF) --------------------------------------
code=$(api GET "$P" /api/status -H "Host: evil.example:$P")
[ "$code" = 403 ] && pass foreign_host_403 || fail foreign_host_403 "HTTP $code"
code=$(api POST "$P" /api/notebooks -H "Origin: http://evil.example" --data '{"path":"csrf.ipynb"}')
code2=$(api POST "$P" /api/notebooks -H "Origin: http://127.0.0.1:$P" --data '{"path":"same-origin.ipynb"}')
[ "$code" = 403 ] && [ "$code2" = 201 ] && [ ! -e "$WS/csrf.ipynb" ] &&
	pass foreign_origin_403 || fail foreign_origin_403 "foreign Origin: HTTP $code, same Origin: HTTP $code2"

WSC="node $HERE/wsclient.mjs"
$WSC --url "ws://127.0.0.1:$P/ws" --token "$TOKEN" --origin http://evil.example --timeout 10 >/dev/null 2>"$TMP/wserr"
rc=$?
[ $rc = 3 ] && pass ws_foreign_origin_refused || fail ws_foreign_origin_refused "rc $rc: $(cat "$TMP/wserr")"
$WSC --url "ws://127.0.0.1:$P/ws" --token "$TOKEN" --host "evil.example:$P" --timeout 10 >/dev/null 2>"$TMP/wserr"
rc=$?
[ $rc = 3 ] && pass ws_foreign_host_refused || fail ws_foreign_host_refused "rc $rc: $(cat "$TMP/wserr")"
$WSC --url "ws://127.0.0.1:$P/ws" --timeout 10 >/dev/null 2>"$TMP/wserr"
rc=$?
[ $rc = 3 ] && pass ws_without_token_refused || fail ws_without_token_refused "rc $rc: $(cat "$TMP/wserr")"
$WSC --url "ws://127.0.0.1:$P/ws?token=$TOKEN" --origin "http://127.0.0.1:$P" --system --count 1 --timeout 10 >"$TMP/sys.out" 2>"$TMP/wserr"
rc=$?
if [ $rc = 0 ] && "$PY" -c "
import json,sys; m=json.loads(open(sys.argv[1]).readline()); s=m['system']
assert m['type']=='system' and isinstance(s['gpus'],list) and s['memory']['total']>0 and s['cpu']['cores']>0
assert s['gpus'] or s['gpu_note']" "$TMP/sys.out" 2>/dev/null; then
	pass ws_system_feed
else
	fail ws_system_feed "rc $rc: $(cat "$TMP/wserr") $(head -c 300 "$TMP/sys.out")"
fi

code=$(api GET "$P" /api/system)
if [ "$code" = 200 ] && "$PY" -c "
import json,sys; s=json.load(open(sys.argv[1]))
assert isinstance(s['time'], int) and s['memory']['used'] > 0
assert s['gpus'] or 'NVIDIA' in s['gpu_note']" "$TMP/body" 2>/dev/null; then
	pass system_stats
else
	fail system_stats "HTTP $code $(head -c 300 "$TMP/body")"
fi

# ---- paths never escape the workspace --------------------------------------------
mkdir -p "$TMP/outside"
echo '{"cells":[],"metadata":{},"nbformat":4,"nbformat_minor":5}' >"$TMP/outside/secret.ipynb"
ln -s "$TMP/outside/secret.ipynb" "$WS/link-out.ipynb"
ln -s "$TMP/outside" "$WS/dir-out"
bad=""
for p in '../outside/secret.ipynb' '..%2Foutside%2Fsecret.ipynb' '%2E%2E/outside/secret.ipynb' \
	'link-out.ipynb' 'dir-out/secret.ipynb' '.trainbook/x.ipynb' 'sub/../../outside/secret.ipynb'; do
	code=$(api GET "$P" "/api/notebooks/$p" --path-as-is)
	case "$code" in 400 | 404) ;; *) bad="$bad GET $p -> $code;" ;; esac
	grep -q '"cells"' "$TMP/body" && bad="$bad $p leaked;"
done
code=$(api PUT "$P" "/api/notebooks/dir-out/new.ipynb" --data-binary @"$TMP/outside/secret.ipynb")
[ "$code" = 400 ] || bad="$bad PUT through symlinked dir -> $code;"
[ -e "$TMP/outside/new.ipynb" ] && bad="$bad file written outside;"
code=$(api PATCH "$P" "/api/notebooks/same-origin.ipynb" --data '{"path":"../escaped.ipynb"}')
[ "$code" = 400 ] || bad="$bad rename to ../ -> $code;"
code=$(req GET "http://127.0.0.1:$P/../../etc/passwd" --path-as-is)
grep -q root: "$TMP/body" && bad="$bad static ../ leaked /etc/passwd;"
[ -z "$bad" ] && pass path_escapes_refused || fail path_escapes_refused "$bad"

# ---- notebooks -----------------------------------------------------------------------
cat >"$TMP/nb.json" <<'EOF'
{"path": "work/first.ipynb", "content": {"cells": [
  {"cell_type": "markdown", "id": "m1", "metadata": {}, "source": "# hello"},
  {"cell_type": "code", "id": "c1", "metadata": {"trainbook": {"kind": "run"}}, "execution_count": null, "outputs": [],
   "source": ["data: {dataset: synthetic, shape: [1,8,8], classes: 4, train_size: 256, test_size: 64, batch_size: 32}\n",
              "model: [flatten, {linear: 16}, relu, {linear: 4}]\n", "train: {epochs: 1}\n"]}],
 "metadata": {"kernelspec": {"name": "trainbook"}}, "nbformat": 4, "nbformat_minor": 5}}
EOF
mkdir -p "$WS/work"
bad=""
code=$(api POST "$P" /api/notebooks --data-binary @"$TMP/nb.json")
etag1=$(header ETag)
[ "$code" = 201 ] && [ -n "$etag1" ] || bad="$bad create -> $code;"
code=$(api POST "$P" /api/notebooks --data-binary @"$TMP/nb.json")
[ "$code" = 409 ] || bad="$bad create again -> $code (want 409);"
api GET "$P" /api/notebooks >/dev/null
[ "$(jget "$TMP/body" "[n['path'] for n in d['notebooks']].count('work/first.ipynb')")" = 1 ] || bad="$bad not listed;"
code=$(api GET "$P" /api/notebooks/work/first.ipynb)
[ "$code" = 200 ] && [ "$(header ETag)" = "$etag1" ] && [ "$(jget "$TMP/body" "d['cells'][1]['metadata']['trainbook']['kind']")" = run ] ||
	bad="$bad read -> $code;"
cp "$TMP/body" "$TMP/nb-edit.json"
"$PY" -c "import json,sys; d=json.load(open(sys.argv[1])); d['cells'][0]['source']='# edited'; json.dump(d,open(sys.argv[1],'w'),indent=1)" "$TMP/nb-edit.json"
code=$(api PUT "$P" /api/notebooks/work/first.ipynb -H "If-Match: $etag1" --data-binary @"$TMP/nb-edit.json")
etag2=$(header ETag)
[ "$code" = 200 ] && [ "$etag2" != "$etag1" ] && [ "$(jget "$TMP/body" "d['etag']")" = "$etag2" ] || bad="$bad save with If-Match -> $code;"
code=$(api PUT "$P" /api/notebooks/work/first.ipynb -H "If-Match: $etag1" --data-binary @"$TMP/nb-edit.json")
[ "$code" = 412 ] && [ "$(jget "$TMP/body" "d['error']")" = conflict ] || bad="$bad stale If-Match -> $code (want 412);"
code=$(api PUT "$P" /api/notebooks/work/first.ipynb --data '{"nbformat": 3, "cells": []}')
[ "$code" = 400 ] || bad="$bad invalid nbformat -> $code;"
grep -q '# edited' "$WS/work/first.ipynb" || bad="$bad the edit is not on disk;"
ls -a "$WS/work" | grep -q tmp && bad="$bad temp files left;"
code=$(api GET "$P" '/api/notebooks/work/first.ipynb?download=1')
header Content-Disposition | grep -q 'attachment; filename="first.ipynb"' || bad="$bad download -> $code no attachment;"
code=$(api PATCH "$P" /api/notebooks/work/first.ipynb --data '{"path":"work/renamed.ipynb"}')
[ "$code" = 200 ] && [ -f "$WS/work/renamed.ipynb" ] && [ ! -e "$WS/work/first.ipynb" ] || bad="$bad rename -> $code;"
code=$(api POST "$P" /api/notebooks --data '{"path":"work/other.ipynb"}')
code2=$(api PATCH "$P" /api/notebooks/work/renamed.ipynb --data '{"path":"work/other.ipynb"}')
[ "$code" = 201 ] && [ "$code2" = 409 ] || bad="$bad rename onto existing -> $code2;"
code=$(api DELETE "$P" /api/notebooks/work/other.ipynb)
[ "$code" = 204 ] && [ ! -e "$WS/work/other.ipynb" ] || bad="$bad delete -> $code;"
code=$(api GET "$P" /api/notebooks/work/other.ipynb)
[ "$code" = 404 ] || bad="$bad read deleted -> $code;"
[ -z "$bad" ] && pass notebooks_crud || fail notebooks_crud "$bad"

# ---- bounded bodies ------------------------------------------------------------------
head -c 3000000 /dev/zero | tr '\0' 'a' >"$TMP/big"
code=$(api POST "$P" /api/validate --data-binary @"$TMP/big")
head -c 17000000 /dev/zero | tr '\0' ' ' >"$TMP/huge"
code2=$(api PUT "$P" /api/notebooks/huge.ipynb --data-binary @"$TMP/huge")
code3=$(api POST "$P" /api/runs/r1/stop -H 'Transfer-Encoding: chunked' --data-binary @"$TMP/big")
[ "$code" = 413 ] && [ "$code2" = 413 ] && [ "$code3" = 413 ] && [ ! -e "$WS/huge.ipynb" ] &&
	pass body_limits_413 || fail body_limits_413 "3 MB spec: $code, 17 MB notebook: $code2, chunked 3 MB: $code3"

# ---- validation --------------------------------------------------------------------------
code=$(api POST "$P" /api/validate --data-binary @"$TMP/small.json")
ok=$(jget "$TMP/body" "d['ok'] and d['total_params'] == 1108 and len(d['layers']) == 4")
code2=$(api POST "$P" /api/validate --data '{"spec":"data: {dataset: synthetic}\nmodel: [flatten, {lineer: 4}]\n"}')
err=$(jget "$TMP/body" "(not d['ok']) and d['errors'][0]['line'] == 2 and d['errors'][0]['column'] > 0")
[ "$code" = 200 ] && [ "$ok" = True ] && [ "$code2" = 200 ] && [ "$err" = True ] &&
	pass validate_spec || fail validate_spec "valid: $code $ok; invalid: $code2 $err $(head -c 200 "$TMP/body")"

code=$(api POST "$P" /api/runs --data '{"spec":"data: {dataset: synthetic}\nmodel: [flatten, {lineer: 4}]\n"}')
[ "$code" = 400 ] && [ "$(jget "$TMP/body" "d['error'] == 'invalid_spec' and d['errors'][0]['line'] == 2")" = True ] &&
	pass run_invalid_spec_400 || fail run_invalid_spec_400 "HTTP $code $(head -c 200 "$TMP/body")"

# ---- a real run over the API, its events over /ws ----------------------------------------
code=$(api POST "$P" /api/runs --data-binary @"$TMP/small.json")
RUN=$(jget "$TMP/body" "d['run']['id']")
if [ "$code" = 201 ] && [ -n "$RUN" ]; then
	$WSC --url "ws://127.0.0.1:$P/ws" --token "$TOKEN" --origin "http://127.0.0.1:$P" --subscribe "$RUN" --since 0 \
		--until-status completed --timeout 120 >"$TMP/feed.out" 2>"$TMP/wserr"
	rc=$?
	api GET "$P" "/api/runs/$RUN/events?since=0&limit=10000" >/dev/null
	cp "$TMP/body" "$TMP/events.json"
	"$PY" - "$TMP/feed.out" "$TMP/events.json" "$RUN" >"$TMP/check" 2>&1 <<'EOF'
import json, sys
feed = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
ev = [m for m in feed if m['type'] == 'event']
seqs = [m['seq'] for m in ev]
assert all(m['run'] == sys.argv[3] for m in ev), 'wrong run'
assert seqs == list(range(1, len(seqs) + 1)), f'not gapless and in order: {seqs}'
types = [m['event']['type'] for m in ev]
assert 'metric' in types, 'no metric events'
metric_steps = [m['event']['step'] for m in ev if m['event']['type'] == 'metric' and m['event']['split'] == 'train']
assert metric_steps == sorted(metric_steps), 'metric steps out of order'
assert ev[-1]['event'] == {'type': 'status', 'status': 'completed'}, f'last is {ev[-1]}'
stored = json.load(open(sys.argv[2]))['events']
assert [(e['seq'], e['event']) for e in stored][:len(ev)] == [(m['seq'], m['event']) for m in ev], 'feed differs from the records'
print('ok', len(ev))
EOF
	if [ $rc = 0 ] && grep -q '^ok' "$TMP/check"; then
		pass run_events_over_ws
	else
		fail run_events_over_ws "rc $rc $(cat "$TMP/wserr" | tail -n 2) $(tail -n 1 "$TMP/check")"
	fi
else
	fail run_events_over_ws "POST /api/runs: HTTP $code $(head -c 300 "$TMP/body")"
fi

if [ -n "${RUN:-}" ] && wait_status "$P" "$RUN" completed 60 2>/dev/null; then
	api GET "$P" "/api/runs/$RUN" >/dev/null
	ok=$(jget "$TMP/body" "d['run']['device'] == 'cpu' and d['run']['progress']['step'] == d['run']['progress']['total_steps'] > 0 and d['run']['owner'] != '' and d['run']['ended'] >= d['run']['started'] > 0")
	[ "$ok" = True ] && pass run_record || fail run_record "$(head -c 400 "$TMP/body")"
	api GET "$P" "/api/runs/$RUN/checkpoints" >/dev/null
	ck=$(jget "$TMP/body" "d['checkpoints'][-1]['file']")
	code=$(api GET "$P" "/api/runs/$RUN/checkpoints/$ck" -o "$TMP/ck.safetensors")
	curl -s -m 30 -o "$TMP/ck.safetensors" -H "Authorization: token $TOKEN" "http://127.0.0.1:$P/api/runs/$RUN/checkpoints/$ck"
	if [ -n "$ck" ] && [ "$code" = 200 ] && "$PY" - "$TMP/ck.safetensors" <<'EOF' 2>"$TMP/st.err"; then
import json, struct, sys
b = open(sys.argv[1], 'rb').read()
n = struct.unpack('<Q', b[:8])[0]
h = json.loads(b[8:8 + n])
tensors = {k: v for k, v in h.items() if k != '__metadata__'}
assert tensors, 'no tensors'
for k, v in tensors.items():
    s, e = v['data_offsets']
    assert 0 <= s <= e <= len(b) - 8 - n, k
    assert v['dtype'] in ('F32', 'F16', 'BF16', 'I64', 'I32', 'U8'), v['dtype']
EOF
		pass checkpoint_download_safetensors
	else
		fail checkpoint_download_safetensors "file '$ck' HTTP $code $(cat "$TMP/st.err" | tail -n 1)"
	fi
	code=$(api GET "$P" "/api/runs/$RUN/checkpoints/..%2F..%2Ftrainbook.db")
	code2=$(api GET "$P" "/api/runs/$RUN/checkpoints/spec.yaml")
	[ "$code" = 404 ] && [ "$code2" = 404 ] && pass checkpoint_only_recorded || fail checkpoint_only_recorded "$code $code2"
	code=$(api GET "$P" "/api/runs/$RUN/metrics.csv")
	head -n 1 "$TMP/body" | grep -q '^step,epoch,split,time,loss' && [ "$(header Content-Type | cut -d';' -f1)" = text/csv ] &&
		ncsv=$(($(wc -l <"$TMP/body") - 1))
	code2=$(api GET "$P" "/api/runs/$RUN/metrics.json")
	njson=$(jget "$TMP/body" "len(d['metrics'])")
	nev=$("$PY" -c "import json,sys; print(sum(1 for e in json.load(open(sys.argv[1]))['events'] if e['event']['type']=='metric'))" "$TMP/events.json")
	[ "$code" = 200 ] && [ "$code2" = 200 ] && [ "${ncsv:-x}" = "$nev" ] && [ "$njson" = "$nev" ] && [ "$nev" -gt 0 ] &&
		pass metrics_export || fail metrics_export "csv $code rows ${ncsv:-?}, json $code2 rows $njson, metric events $nev"
	# Reconnect with since=k: only what came after k.
	$WSC --url "ws://127.0.0.1:$P/ws" --token "$TOKEN" --subscribe "$RUN" --since 5 --until-status completed --timeout 20 >"$TMP/feed2.out" 2>/dev/null
	first=$(head -n 1 "$TMP/feed2.out" | "$PY" -c "import json,sys; print(json.loads(sys.stdin.read())['seq'])" 2>/dev/null)
	[ "$first" = 6 ] && pass ws_resubscribe_since || fail ws_resubscribe_since "first seq after since=5 is '$first'"
else
	fail run_record "run ${RUN:-?} did not complete"
fi

# ---- a run from a notebook cell -------------------------------------------------------------
code=$(api POST "$P" /api/runs --data '{"notebook":"work/renamed.ipynb","cell":"c1","name":"from cell"}')
NRUN=$(jget "$TMP/body" "d['run']['id']")
if [ "$code" = 201 ] && [ "$(jget "$TMP/body" "d['run']['notebook'] == 'work/renamed.ipynb' and d['run']['cell'] == 'c1' and d['run']['name'] == 'from cell'")" = True ] &&
	wait_status "$P" "$NRUN" completed 60 2>/dev/null; then
	pass run_from_notebook_cell
else
	fail run_from_notebook_cell "HTTP $code $(head -c 300 "$TMP/body")"
fi

# ---- stop, resume, delete ---------------------------------------------------------------------
code=$(api POST "$P" /api/runs --data-binary @"$TMP/long.json")
LRUN=$(jget "$TMP/body" "d['run']['id']")
if [ "$code" = 201 ] && wait_status "$P" "$LRUN" running 30 2>/dev/null; then
	# wait for a first checkpoint so stop has something to resume from
	for _ in $(seq 1 100); do
		api GET "$P" "/api/runs/$LRUN/checkpoints" >/dev/null
		[ "$(jget "$TMP/body" "len(d['checkpoints'])")" -gt 0 ] 2>/dev/null && break
		sleep 0.2
	done
	code=$(api POST "$P" "/api/runs/$LRUN/stop")
	if [ "$code" = 202 ] && wait_status "$P" "$LRUN" stopped 60 2>/dev/null; then
		api GET "$P" "/api/runs/$LRUN/events?limit=10000" >/dev/null
		stop_step=$(jget "$TMP/body" "max(e['event']['step'] for e in d['events'] if e['event']['type']=='checkpoint')")
		code=$(api POST "$P" "/api/runs/$LRUN/resume")
		if [ "$code" = 201 ] && wait_status "$P" "$LRUN" completed 120 2>/dev/null; then
			api GET "$P" "/api/runs/$LRUN/events?limit=10000" >/dev/null
			start=$(jget "$TMP/body" "[e['event'].get('start_step') for e in d['events'] if e['event'].get('status')=='running'][-1]")
			[ "$start" = "$stop_step" ] && pass stop_then_resume || fail stop_then_resume "resumed at step $start, last checkpoint $stop_step"
		else
			fail stop_then_resume "resume: HTTP $code $(head -c 200 "$TMP/body")"
		fi
	else
		fail stop_then_resume "stop: HTTP $code"
	fi
	code=$(api POST "$P" "/api/runs/$LRUN/stop")
	[ "$code" = 409 ] && pass stop_finished_run_409 || fail stop_finished_run_409 "HTTP $code"
	code=$(api DELETE "$P" "/api/runs/$LRUN")
	code2=$(api GET "$P" "/api/runs/$LRUN")
	[ "$code" = 204 ] && [ "$code2" = 404 ] && [ ! -e "$WS/.trainbook/runs/$LRUN" ] &&
		pass delete_run || fail delete_run "DELETE $code, GET after $code2"
else
	fail stop_then_resume "long run did not start: HTTP $code"
fi

# ---- fault: kill -9 of a worker mid-run -----------------------------------------------------------
code=$(api POST "$P" /api/runs --data-binary @"$TMP/long.json")
KRUN=$(jget "$TMP/body" "d['run']['id']")
if [ "$code" = 201 ] && wait_status "$P" "$KRUN" running 30 2>/dev/null; then
	sleep 0.5
	wpid=$(pgrep -f "$WS/.trainbook/runs/$KRUN/spec.yaml" | head -n 1)
	[ -n "$wpid" ] && kill -9 "$wpid"
	if [ -n "$wpid" ] && wait_status "$P" "$KRUN" failed 30 2>/dev/null; then
		api GET "$P" "/api/runs/$KRUN" >/dev/null
		reason=$(jget "$TMP/body" "d['run']['reason']")
		code=$(api GET "$P" /api/status)
		echo "$reason" | grep -q 'signal 9' && [ "$code" = 200 ] && pass worker_kill9_fails_run ||
			fail worker_kill9_fails_run "reason '$reason', status HTTP $code"
	else
		fail worker_kill9_fails_run "worker pid '$wpid'; run did not fail"
	fi
else
	fail worker_kill9_fails_run "run did not start: HTTP $code"
fi

# ---- fault: misbehaving workers (test-only fake worker) --------------------------------------------
WSF="$TMP/ws-fake"
if TRAINBOOK_WORKER_CMD="$HERE/fake_worker.sh" start_server fake "$WSF" --worker-timeout 2 --cpu-runs 4; then
	PF=$PORT_fake
	for mode in garbage array huge hang exit3 noreport threads; do
		printf '# fake: %s\n' "$mode" | cat - "$TMP/small.yaml" >"$TMP/fake.yaml"
		spec_json "$TMP/fake.yaml" >"$TMP/fake.json"
		api POST "$PF" /api/runs --data-binary @"$TMP/fake.json" >/dev/null
		eval "FR_$mode=$(jget "$TMP/body" "d['run']['id']")"
	done
	for pair in "garbage:not a JSON event" "array:not a JSON event" "huge:longer than 1 MiB" "hang:no event for 2 s" \
		"exit3:exited with code 3" "noreport:without reporting a final status"; do
		mode=${pair%%:*}
		want=${pair#*:}
		eval "r=\$FR_$mode"
		if wait_status "$PF" "$r" failed 30 2>/dev/null; then
			api GET "$PF" "/api/runs/$r" >/dev/null
			reason=$(jget "$TMP/body" "d['run']['reason']")
			echo "$reason" | grep -q "$want" && pass "worker_$mode" || fail "worker_$mode" "reason '$reason'"
		else
			fail "worker_$mode" "run $r did not fail"
		fi
	done
	api GET "$PF" /api/runs/$FR_exit3 >/dev/null
	grep -q 'something broke' "$TMP/body" && pass worker_log_in_reason || fail worker_log_in_reason "stderr not in the reason"
	# Four CPU slots: each run gets an equal share of the cores as its OpenMP threads.
	share=$(($(getconf _NPROCESSORS_ONLN) / 4))
	[ "$share" -ge 1 ] || share=1
	if wait_status "$PF" "$FR_threads" failed 30 2>/dev/null; then
		api GET "$PF" "/api/runs/$FR_threads" >/dev/null
		grep -q "OMP_NUM_THREADS=$share\b" "$TMP/body" && pass worker_cpu_share ||
			fail worker_cpu_share "want OMP_NUM_THREADS=$share in: $(jget "$TMP/body" "d['run']['reason']")"
	else
		fail worker_cpu_share "run $FR_threads did not fail"
	fi
	code=$(api GET "$PF" /api/status)
	[ "$code" = 200 ] && pass server_survives_bad_workers || fail server_survives_bad_workers "HTTP $code"

	# One CPU slot: the second run waits in the queue.
	kill "$PID_fake"
	wait "$PID_fake" 2>/dev/null
	if FAKE_STEPS=15 TRAINBOOK_WORKER_CMD="$HERE/fake_worker.sh" start_server fake2 "$WSF" --cpu-runs 1; then
		PF=$PORT_fake2
		printf '# fake: sleep\n' | cat - "$TMP/small.yaml" >"$TMP/fake.yaml"
		spec_json "$TMP/fake.yaml" >"$TMP/fake.json"
		api POST "$PF" /api/runs --data-binary @"$TMP/fake.json" >/dev/null
		q1=$(jget "$TMP/body" "d['run']['id']")
		api POST "$PF" /api/runs --data-binary @"$TMP/fake.json" >/dev/null
		q2=$(jget "$TMP/body" "d['run']['id']")
		wait_status "$PF" "$q1" running 20 2>/dev/null
		api GET "$PF" "/api/runs/$q2" >/dev/null
		s2=$(jget "$TMP/body" "d['run']['status']")
		if [ "$s2" = queued ] && wait_status "$PF" "$q1" completed 30 2>/dev/null && wait_status "$PF" "$q2" completed 30 2>/dev/null; then
			pass queue_one_cpu_slot
		else
			fail queue_one_cpu_slot "second run was '$s2' while the first ran"
		fi

		# A client that stops reading falls behind alone: its queue overflows into
		# a resync message while a reading client gets every event.
		printf '# fake: flood\n' | cat - "$TMP/small.yaml" >"$TMP/flood.yaml"
		spec_json "$TMP/flood.yaml" >"$TMP/flood.json"
		api POST "$PF" /api/runs --data-binary @"$TMP/flood.json" >/dev/null
		fr=$(jget "$TMP/body" "d['run']['id']")
		"$PY" "$HERE/slow_client.py" "$PF" "$TOKEN" "$fr" 12 >"$TMP/slow.out" 2>"$TMP/slow.err" &
		slow_pid=$!
		$WSC --url "ws://127.0.0.1:$PF/ws" --token "$TOKEN" --subscribe "$fr" --until-status completed --timeout 60 >"$TMP/fast.out" 2>/dev/null
		rc=$?
		wait "$slow_pid"
		"$PY" - "$TMP/fast.out" "$TMP/slow.out" "$fr" >"$TMP/check" 2>&1 <<'PYEOF'
import json, sys
fast = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
seqs = [m['seq'] for m in fast if m['type'] == 'event']
assert seqs == list(range(1, len(seqs) + 1)) and len(seqs) > 3000, f'reading client: {len(seqs)} events, gapless {seqs == list(range(1, len(seqs) + 1))}'
slow = [l.strip() for l in open(sys.argv[2]) if l.strip()]
got = [int(l.split()[1]) for l in slow if l.startswith('event ')]
resync = [json.loads(l) for l in slow if l.startswith('{') and json.loads(l).get('type') == 'resync']
assert got == list(range(1, len(got) + 1)), 'slow client events out of order'
assert resync and resync[0]['run'] == sys.argv[3] and resync[0]['since'] == len(got), f'resync {resync}, got {len(got)}'
assert len(got) < len(seqs), 'the slow client was not behind'
print('ok', len(seqs), len(got))
PYEOF
		if [ $rc = 0 ] && grep -q '^ok' "$TMP/check"; then
			pass slow_client_resync_others_unaffected
		else
			fail slow_client_resync_others_unaffected "rc $rc; $(tail -n 1 "$TMP/check") $(tail -n 2 "$TMP/slow.err")"
		fi
	else
		fail queue_one_cpu_slot "fake server did not start"
	fi
else
	fail worker_faults "fake-worker server did not start: $(tail -n 3 "$TMP/fake.log")"
fi

# ---- NVML through dlopen, with a stand-in libnvidia-ml.so.1 ------------------------------------------
mkdir -p "$TMP/nvml"
if cc -shared -fPIC -O1 -o "$TMP/nvml/libnvidia-ml.so.1" "$HERE/fake_nvml.c" 2>"$TMP/nvml.err"; then
	: >"$TMP/nvml/pids"
	if FAKE_NVML_PIDS="$TMP/nvml/pids" LD_LIBRARY_PATH="$TMP/nvml" FAKE_STEPS=100 \
		TRAINBOOK_WORKER_CMD="$HERE/fake_worker.sh" start_server gpu "$TMP/ws-gpu" --cpu-runs 1; then
		PG=$PORT_gpu
		printf '# fake: sleep\n' | cat - "$TMP/small.yaml" >"$TMP/gpu.yaml" # device auto → the GPU
		spec_json "$TMP/gpu.yaml" >"$TMP/gpu.json"
		api POST "$PG" /api/runs --data-binary @"$TMP/gpu.json" >/dev/null
		g1=$(jget "$TMP/body" "d['run']['id']")
		printf '# fake: sleep\n' | cat - "$TMP/small.yaml" | sed 's/train: {epochs: 2}/train: {epochs: 2, device: cpu}/' >"$TMP/cpu.yaml"
		spec_json "$TMP/cpu.yaml" >"$TMP/cpu.json"
		api POST "$PG" /api/runs --data-binary @"$TMP/cpu.json" >/dev/null
		c1=$(jget "$TMP/body" "d['run']['id']")
		wait_status "$PG" "$g1" running 20 2>/dev/null
		wait_status "$PG" "$c1" running 20 2>/dev/null && both=yes || both=no
		wpid=$(pgrep -f "$TMP/ws-gpu/.trainbook/runs/$g1/spec.yaml" | head -n 1)
		cvd=$(tr '\0' '\n' <"/proc/${wpid:-0}/environ" 2>/dev/null | sed -n 's/^CUDA_VISIBLE_DEVICES=//p')
		echo "$wpid" >"$TMP/nvml/pids"
		sleep 2.5
		api GET "$PG" /api/system >/dev/null
		"$PY" - "$TMP/body" "$g1" >"$TMP/check" 2>&1 <<'PYEOF'
import json, sys
s = json.load(open(sys.argv[1]))
g = s['gpus'][0]
assert s['gpu_note'] is None, s['gpu_note']
assert g['name'] == 'Fake NVML GPU' and g['utilization'] == 42, g
assert g['memory_used'] == 1 << 30 and g['memory_total'] == 80 << 30, g
assert g['temperature'] is None, 'unreadable temperature must be null'
assert abs(g['power'] - 250) < 0.01, g['power']
assert [p['run'] for p in g['processes']] == [sys.argv[2]], g['processes']
print('ok')
PYEOF
		code=$(api POST "$PG" /api/runs --data '{"spec":"data: {dataset: synthetic}\nmodel: [flatten, {linear: 4}]\ntrain: {device: \"cuda:3\"}\n"}')
		if grep -q '^ok' "$TMP/check" && [ "$cvd" = 0 ] && [ "$both" = yes ] && [ "$code" = 400 ]; then
			pass nvml_gpu_slots
		else
			fail nvml_gpu_slots "$(tail -n 1 "$TMP/check"); CUDA_VISIBLE_DEVICES '$cvd'; GPU and CPU run together: $both; cuda:3 -> $code"
		fi
		kill "$PID_gpu"
	else
		fail nvml_gpu_slots "server with the stand-in NVML did not start"
	fi
else
	fail nvml_gpu_slots "cannot compile the stand-in NVML: $(head -n 3 "$TMP/nvml.err")"
fi

# ---- fault: kill -9 of the server mid-run, restart, resume -------------------------------------------
WSK="$TMP/ws-crash"
if start_server crash "$WSK"; then
	PK=$PORT_crash
	api POST "$PK" /api/runs --data-binary @"$TMP/long.json" >/dev/null
	CRUN=$(jget "$TMP/body" "d['run']['id']")
	# The feed client records what it was delivered until the server dies.
	$WSC --url "ws://127.0.0.1:$PK/ws" --token "$TOKEN" --subscribe "$CRUN" --until-status completed --timeout 120 \
		>"$TMP/crash-feed.out" 2>/dev/null &
	feed_pid=$!
	for _ in $(seq 1 150); do
		grep -q '"type":"checkpoint"' "$TMP/crash-feed.out" 2>/dev/null && break
		sleep 0.2
	done
	sleep 0.3
	kill -9 "$PID_crash"
	wait "$PID_crash" 2>/dev/null
	wait "$feed_pid" 2>/dev/null
	sleep 0.5
	orphans=$(pgrep -f "$WSK/.trainbook/runs/$CRUN/spec.yaml" | wc -l)
	if start_server crash2 "$WSK"; then
		PK=$PORT_crash2
		api GET "$PK" "/api/runs/$CRUN" >/dev/null
		st=$(jget "$TMP/body" "d['run']['status']")
		api GET "$PK" "/api/runs/$CRUN/events?limit=10000" >/dev/null
		"$PY" - "$TMP/crash-feed.out" "$TMP/body" >"$TMP/check" 2>&1 <<'EOF'
import json, sys
feed = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
feed = [m for m in feed if m['type'] == 'event']
stored = {e['seq']: e['event'] for e in json.load(open(sys.argv[2]))['events']}
missing = [m['seq'] for m in feed if stored.get(m['seq']) != m['event']]
assert feed, 'the feed delivered nothing before the crash'
assert not missing, f'delivered but not recorded: {missing[:10]}'
print('ok', len(feed))
EOF
		if [ "$st" = interrupted ] && grep -q '^ok' "$TMP/check" && [ "$orphans" = 0 ]; then
			pass server_kill9_run_interrupted
		else
			fail server_kill9_run_interrupted "status '$st', orphan workers $orphans, $(tail -n 1 "$TMP/check")"
		fi
		code=$(api POST "$PK" "/api/runs/$CRUN/resume")
		if [ "$code" = 201 ] && wait_status "$PK" "$CRUN" completed 120 2>/dev/null; then
			api GET "$PK" "/api/runs/$CRUN/events?limit=10000" >/dev/null
			gapless=$(jget "$TMP/body" "[e['seq'] for e in d['events']] == list(range(1, len(d['events']) + 1))")
			[ "$gapless" = True ] && pass restart_resume_completes || fail restart_resume_completes "sequence has gaps"
		else
			fail restart_resume_completes "resume HTTP $code"
		fi

		# SIGTERM: stop accepting, workers checkpoint and stop, exit 0.
		api POST "$PK" /api/runs --data-binary @"$TMP/long.json" >/dev/null
		TRUN=$(jget "$TMP/body" "d['run']['id']")
		wait_status "$PK" "$TRUN" running 30 2>/dev/null
		sleep 1
		kill -TERM "$PID_crash2"
		rc=0
		for _ in $(seq 1 300); do kill -0 "$PID_crash2" 2>/dev/null || break; sleep 0.1; done
		wait "$PID_crash2"
		rc=$?
		if start_server crash3 "$WSK"; then
			api GET "$PORT_crash3" "/api/runs/$TRUN" >/dev/null
			st=$(jget "$TMP/body" "d['run']['status']")
			api GET "$PORT_crash3" "/api/runs/$TRUN/events?limit=10000" >/dev/null
			final_ck=$(jget "$TMP/body" "any(e['event']['type']=='checkpoint' for e in d['events'][-4:])")
			[ "$rc" = 0 ] && [ "$st" = stopped ] && [ "$final_ck" = True ] && pass sigterm_graceful_shutdown ||
				fail sigterm_graceful_shutdown "exit $rc, run '$st', checkpoint at the end: $final_ck"
		else
			fail sigterm_graceful_shutdown "restart failed"
		fi
	else
		fail server_kill9_run_interrupted "restart failed: $(tail -n 3 "$TMP/crash2.log")"
	fi
else
	fail server_kill9_run_interrupted "server did not start"
fi

# ---- base URL, static files, config file, busy port --------------------------------------------------
mkdir -p "$TMP/static/app"
echo '<!doctype html><title>tb test page</title>' >"$TMP/static/index.html"
echo 'export const x = 1;' >"$TMP/static/app/main.js"
echo 'body{}' >"$TMP/static/app/style.css"
if start_server base "$TMP/ws-base" --base-url /tb/ --static "$TMP/static"; then
	PB=$PORT_base
	c1=$(api GET "$PB" /tb/api/status)
	c2=$(api GET "$PB" /api/status)
	c3=$(req GET "http://127.0.0.1:$PB/tb/?token=$TOKEN")
	loc=$(header Location)
	cookie=$(header Set-Cookie)
	$WSC --url "ws://127.0.0.1:$PB/tb/ws" --token "$TOKEN" --system --count 1 --timeout 10 >/dev/null 2>&1
	rc=$?
	[ "$c1" = 200 ] && [ "$c2" = 404 ] && [ "$c3" = 302 ] && [ "$loc" = /tb/ ] && echo "$cookie" | grep -q 'Path=/tb/' && [ $rc = 0 ] &&
		pass base_url_prefix || fail base_url_prefix "/tb/api $c1, /api $c2, token visit $c3 -> '$loc', cookie '$cookie', ws rc $rc"
	c1=$(req GET "http://127.0.0.1:$PB/tb/app/main.js")
	ct=$(header Content-Type)
	et=$(header ETag)
	c2=$(req GET "http://127.0.0.1:$PB/tb/app/main.js" -H "If-None-Match: $et")
	c3=$(req GET "http://127.0.0.1:$PB/tb/app/style.css")
	ct3=$(header Content-Type)
	c4=$(req GET "http://127.0.0.1:$PB/tb/" -H "Cookie: ${cookie%%;*}")
	grep -q 'tb test page' "$TMP/body" && page=yes || page=no
	[ "$c1" = 200 ] && echo "$ct" | grep -q '^text/javascript' && [ -n "$et" ] && [ "$c2" = 304 ] && [ "$c3" = 200 ] &&
		echo "$ct3" | grep -q '^text/css' && [ "$c4" = 200 ] && [ $page = yes ] &&
		pass static_files_etag || fail static_files_etag "js $c1 '$ct' etag '$et', revalidate $c2, css $c3 '$ct3', index $c4 $page"
else
	fail base_url_prefix "server with --base-url did not start"
fi

cat >"$TMP/tb.conf" <<EOF
# trainbook test config
port = 0
token = from-config-file
cpu-runs = 3
EOF
mkdir -p "$TMP/ws-conf"
"$BIN" serve --config "$TMP/tb.conf" --workspace "$TMP/ws-conf" --print-config >"$TMP/conf.out" 2>&1
"$BIN" serve --cpu-runs 2 --config "$TMP/tb.conf" --workspace "$TMP/ws-conf" --print-config >"$TMP/conf2.out" 2>&1
grep -q '^cpu-runs = 3' "$TMP/conf.out" && grep -q '^cpu-runs = 2' "$TMP/conf2.out" &&
	pass config_file_and_flags || fail config_file_and_flags "$(cat "$TMP/conf.out" "$TMP/conf2.out" | grep cpu-runs)"
# The shipped default config is valid and changes nothing.
"$BIN" serve --config "$ROOT/config/trainbook.conf" --workspace "$TMP/ws-conf" --print-config >"$TMP/conf3.out" 2>&1
"$BIN" serve --workspace "$TMP/ws-conf" --print-config >"$TMP/conf4.out" 2>&1
cmp -s "$TMP/conf3.out" "$TMP/conf4.out" && pass shipped_config_is_defaults ||
	fail shipped_config_is_defaults "$(diff "$TMP/conf3.out" "$TMP/conf4.out" | head -n 4)"
"$BIN" serve --workspace "$TMP/ws-conf" --port 0 --config "$TMP/tb.conf" >"$TMP/conf.log" 2>&1 &
cpid=$!
PIDS="$PIDS $cpid"
sleep 1
cport=$(sed -n 's|.*open http://[^:]*:\([0-9]*\)/.*|\1|p' "$TMP/conf.log" | head -n 1)
code=$(req GET "http://127.0.0.1:${cport:-1}/api/status" -H "Authorization: token from-config-file")
[ "$code" = 200 ] && pass config_file_token || fail config_file_token "HTTP $code"
kill "$cpid" 2>/dev/null

# A busy port: like Jupyter, the next one is used and printed.
busy=$PORT_main
"$BIN" serve --workspace "$TMP/ws-conf" --port "$busy" --token "$TOKEN" >"$TMP/busy.log" 2>&1 &
bpid=$!
PIDS="$PIDS $bpid"
sleep 1
bport=$(sed -n 's|.*open http://[^:]*:\([0-9]*\)/.*|\1|p' "$TMP/busy.log" | head -n 1)
code=$(api GET "${bport:-1}" /api/status)
[ -n "$bport" ] && [ "$bport" != "$busy" ] && [ "$code" = 200 ] && grep -q "port $busy is busy" "$TMP/busy.log" &&
	pass busy_port_next || fail busy_port_next "asked $busy, got '${bport:-}' (HTTP $code)"
kill "$bpid" 2>/dev/null

# Clean shutdown of the main server: exit code 0.
kill -INT "$PID_main"
for _ in $(seq 1 100); do kill -0 "$PID_main" 2>/dev/null || break; sleep 0.1; done
wait "$PID_main"
rc=$?
[ "$rc" = 0 ] && grep -q stopped "$TMP/main.log" && pass sigint_exit_0 || fail sigint_exit_0 "exit $rc"

exit $FAILED
