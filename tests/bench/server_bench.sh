#!/bin/sh
# tests/bench/server_bench.sh — the server's numbers, not pass/fail:
#   1. GET /api/status requests/s with wrk, trainbook beside Jupyter Notebook
#      (Debian's jupyter-notebook) on this machine in the same run, as a ratio;
#   2. live-feed latency worker → client (p50/p99), one client;
#   3. 1000 WebSocket clients on one run: how many got every event, latency,
#      server memory.
# Events come from tests/bench/bench_worker.py (stamped with the time they
# were written) so the latency covers pipe, supervisor, SQLite commit,
# fan-out and WebSocket. Writes tests/bench/results/server-<date>.md.
[ -n "$BASH_VERSION" ] || exec bash "$0" "$@"
set -u
cd "$(dirname "$0")/../.." || exit 2
ROOT=$(pwd)
BIN="$ROOT/build/trainbook"
TOKEN=bench-$$-token
DUR=${BENCH_SECONDS:-10}
CLIENTS=${BENCH_CLIENTS:-1000}
TMP=$(mktemp -d /tmp/tb-bench.XXXXXX)
OUT="$ROOT/tests/bench/results/server-$(date +%Y-%m-%d).md"
PIDS=""
cleanup() {
	for p in $PIDS; do kill "$p" 2>/dev/null; done
	sleep 0.5
	for p in $PIDS; do kill -9 "$p" 2>/dev/null; done
	rm -rf "$TMP"
}
trap cleanup EXIT

sh tests/deps.sh bench || { echo "server_bench: cannot install wrk and jupyter-notebook"; exit 1; }
[ -x "$BIN" ] || { echo "server_bench: build/trainbook missing (make)"; exit 1; }
if [ ! -d tests/integration/node_modules/ws ]; then
	(cd tests/integration && npm ci --no-audit --no-fund --loglevel=error) || exit 1
fi
ulimit -n 65536 2>/dev/null || ulimit -n 4096

spec() { # spec EVENTS RATE DELAY → JSON body for POST /api/runs
	/usr/bin/python3 -c "import json,sys; print(json.dumps({'spec': '# bench: events=%s rate=%s delay=%s\n' % tuple(sys.argv[1:4]) +
'data: {dataset: synthetic, shape: [1,8,8], classes: 4}\nmodel: [flatten, {linear: 4}]\ntrain: {device: cpu}\n'}))" "$@"
}
wrk_rps() { sed -n 's/^Requests\/sec: *\([0-9.]*\).*/\1/p' "$1"; }
wrk_p99() { sed -n 's/^ *99% *\([0-9.]*[a-z]*\).*/\1/p' "$1"; }

load0=$(cut -d' ' -f1-3 /proc/loadavg)

# ---- trainbook ------------------------------------------------------------------
mkdir -p "$TMP/ws"
TRAINBOOK_WORKER_CMD="$ROOT/tests/bench/bench_worker.py" "$BIN" serve --workspace "$TMP/ws" --port 0 \
	--token "$TOKEN" --no-seed --cpu-runs 4 >"$TMP/serve.log" 2>&1 &
SPID=$!
PIDS="$PIDS $SPID"
for _ in $(seq 1 50); do
	P=$(sed -n 's|.*open http://[^:]*:\([0-9]*\)/.*|\1|p' "$TMP/serve.log" | head -n 1)
	[ -n "$P" ] && break
	sleep 0.1
done
[ -n "${P:-}" ] || { echo "server_bench: trainbook did not start"; cat "$TMP/serve.log"; exit 1; }
echo "server_bench: wrk against trainbook for ${DUR}s"
wrk -t2 -c64 -d"${DUR}s" --latency -H "Authorization: token $TOKEN" "http://127.0.0.1:$P/api/status" >"$TMP/wrk-tb.txt"
tb_rss_idle=$(awk '/VmRSS/ {print $2}' /proc/$SPID/status)

# ---- Jupyter Notebook, same machine, same run ---------------------------------------
JP=$((P + 1))
mkdir -p "$TMP/jws"
jupyter notebook --no-browser --allow-root --port="$JP" --port-retries=50 --NotebookApp.token="$TOKEN" \
	--notebook-dir="$TMP/jws" >"$TMP/jupyter.log" 2>&1 &
JPID=$!
PIDS="$PIDS $JPID"
jp_ok=""
for _ in $(seq 1 150); do
	JP=$(sed -n 's|.*http://127.0.0.1:\([0-9]*\)/.*|\1|p' "$TMP/jupyter.log" | head -n 1)
	if [ -n "$JP" ] && [ "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: token $TOKEN" "http://127.0.0.1:$JP/api/status")" = 200 ]; then
		jp_ok=1
		break
	fi
	sleep 0.2
done
jp_version=$(jupyter notebook --version 2>/dev/null | tail -n 1)
if [ -n "$jp_ok" ]; then
	echo "server_bench: wrk against Jupyter Notebook $jp_version for ${DUR}s"
	wrk -t2 -c64 -d"${DUR}s" --latency -H "Authorization: token $TOKEN" "http://127.0.0.1:$JP/api/status" >"$TMP/wrk-jp.txt"
else
	echo "server_bench: Jupyter did not start; see below"
	tail -n 20 "$TMP/jupyter.log"
	: >"$TMP/wrk-jp.txt"
fi
kill "$JPID" 2>/dev/null
wait "$JPID" 2>/dev/null # Jupyter's shutdown must not share the cores with the latency runs
sleep 2
tb_rps=$(wrk_rps "$TMP/wrk-tb.txt")
jp_rps=$(wrk_rps "$TMP/wrk-jp.txt")
ratio=$(/usr/bin/python3 -c "import sys; a,b=sys.argv[1:]; print(f'{float(a)/float(b):.1f}x' if b else 'n/a')" "${tb_rps:-0}" "${jp_rps:-}")

# ---- feed latency, one client -----------------------------------------------------------
run_and_watch() { # EVENTS RATE DELAY CLIENTS TIMEOUT → summary JSON on stdout
	spec "$1" "$2" "$3" >"$TMP/spec.json"
	local id
	id=$(curl -s -H "Authorization: token $TOKEN" -X POST --data @"$TMP/spec.json" "http://127.0.0.1:$P/api/runs" |
		/usr/bin/python3 -c "import json,sys; print(json.load(sys.stdin)['run']['id'])")
	node tests/bench/ws_clients.mjs "ws://127.0.0.1:$P/ws" "$TOKEN" "$id" "$4" "$1" "$5"
}
echo "server_bench: feed latency with one client (1000 events at 50/s)"
one=$(run_and_watch 1000 50 2 1 120)
echo "server_bench: $CLIENTS clients on one run (500 events at 20/s)"
( peak=0; while kill -0 $SPID 2>/dev/null; do r=$(awk '/VmRSS/ {print $2}' /proc/$SPID/status 2>/dev/null); [ "${r:-0}" -gt "$peak" ] && peak=$r && echo $peak >"$TMP/peak"; sleep 0.5; done ) &
PIDS="$PIDS $!"
many=$(run_and_watch 500 20 15 "$CLIENTS" 180)
feed_clients_after=$(curl -s -H "Authorization: token $TOKEN" "http://127.0.0.1:$P/api/status" | /usr/bin/python3 -c "import json,sys; print(json.load(sys.stdin)['feed_clients'])")
tb_rss_peak=$(cat "$TMP/peak" 2>/dev/null || echo "?")

get() { echo "$1" | /usr/bin/python3 -c "import json,sys; d=json.load(sys.stdin); print($2)"; }
cpu=$(sed -n 's/^model name[^:]*: //p' /proc/cpuinfo | head -n 1)
mkdir -p "$(dirname "$OUT")"
{
	echo "# Server benchmark — $(date +%Y-%m-%d)"
	echo
	echo "Machine: $cpu, $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo) RAM; load generator on the same cores;"
	echo "load average at the start: $load0 (other work shares the machine)."
	echo "trainbook $(git rev-parse --short HEAD), Jupyter Notebook ${jp_version:-?} (Debian), wrk -t2 -c64 -d${DUR}s, node $(node --version)."
	echo
	echo "| measure | trainbook | Jupyter Notebook | ratio |"
	echo "|---|---|---|---|"
	echo "| GET /api/status, requests/s | ${tb_rps:-?} | ${jp_rps:-?} | $ratio (target ≥ 10x) |"
	echo "| GET /api/status, p99 latency | $(wrk_p99 "$TMP/wrk-tb.txt") | $(wrk_p99 "$TMP/wrk-jp.txt") | |"
	echo
	echo "| live feed | value |"
	echo "|---|---|"
	echo "| worker → client latency, 1 client, p50 / p99 / max (ms) | $(get "$one" "d['latency_ms']['p50']") / $(get "$one" "d['latency_ms']['p99']") / $(get "$one" "d['latency_ms']['max']") (target p99 ≤ 10 ms) |"
	echo "| $CLIENTS clients: connected / got every event / dropped / closed early / resyncs | $(get "$many" "d['connected']") / $(get "$many" "d['complete']") / $(get "$many" "d['dropped']") / $(get "$many" "d['closed_early']") / $(get "$many" "d['resyncs']") |"
	echo "| $CLIENTS clients: worker → client latency p50 / p99 (ms) | $(get "$many" "d['latency_ms']['p50']") / $(get "$many" "d['latency_ms']['p99']") |"
	echo "| server RSS idle / peak with $CLIENTS clients | $((tb_rss_idle / 1024)) MiB / $((${tb_rss_peak:-0} / 1024)) MiB |"
	echo
	echo "Raw: one client \`$one\`; $CLIENTS clients \`$many\`; feed clients left connected afterwards: $feed_clients_after."
} >"$OUT"
cat "$OUT"
