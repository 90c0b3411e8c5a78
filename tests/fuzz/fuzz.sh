#!/bin/sh
# tests/fuzz/fuzz.sh [TARGET...] — run each libFuzzer target (built by
# `make fuzz-build` into build/fuzz/bin/) for FUZZ_SECONDS, one after the
# other, and print per target: executions, seconds, executions per second,
# crashes, and corpus size. `make fuzz` calls it with every target.
#
# Corpora: libFuzzer starts from tests/fuzz/<t>/corpus (the committed
# seeds) and tests/fuzz/<t>/crashes, and writes what it discovers to
# build/fuzz/corpus/<t>, which persists between runs but is not committed
# (merge the best of it into the seeds by hand with -merge=1 when useful).
# A crash, leak, timeout or out-of-memory input is written to
# tests/fuzz/<t>/crashes/ — commit it once fixed: `make test` replays it
# from then on. libFuzzer stops a target at its first crash; the others
# still run. Exit status: 1 when any target crashed.
#
# FUZZ_SECONDS (default 60), FUZZ_RUNS (stop a target after this many
# executions, FUZZ_SECONDS still capping it: FUZZ_RUNS=10000000 is the
# issue's goal per target), FUZZ_JOBS (default 1: parallel workers per
# target), FUZZ_ARGS (extra libFuzzer flags) tune it. The machines this
# runs on are shared: run it under nice.
cd "$(dirname "$0")/../.." || exit 2
SECONDS_EACH=${FUZZ_SECONDS:-60}
JOBS=${FUZZ_JOBS:-1}
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1
[ $# -gt 0 ] || set -- $(ls -d tests/fuzz/*/fuzz_*.c | sed 's|tests/fuzz/\([^/]*\)/.*|\1|')
mkdir -p build/fuzz/logs
# Inputs larger than this are not generated (the seeds set the scale):
# binary formats need room for a few samples, text formats far less.
max_len() {
	case "$1" in
	idx | cifar | images | safetensors) echo 65536 ;;
	http) echo 32768 ;;
	*) echo 8192 ;;
	esac
}
status=0
summary=""
for t in "$@"; do
	bin=build/fuzz/bin/$t
	if [ ! -x "$bin" ]; then
		echo "fuzz: $bin is not built (make fuzz-build)" >&2
		status=1
		continue
	fi
	work=build/fuzz/corpus/$t
	crashes=tests/fuzz/$t/crashes
	mkdir -p "$work" "$crashes"
	log=build/fuzz/logs/fuzz-$t.log
	echo "== $t: ${SECONDS_EACH}s"
	start=$(date +%s)
	# shellcheck disable=SC2086
	"$bin" "$work" "tests/fuzz/$t/corpus" "$crashes" \
		-max_total_time="$SECONDS_EACH" -max_len="$(max_len "$t")" -timeout=25 \
		-rss_limit_mb=3072 -print_final_stats=1 -artifact_prefix="$crashes/" \
		$( [ "$JOBS" -gt 1 ] && echo "-fork=$JOBS -ignore_crashes=0" ) \
		${FUZZ_RUNS:+-runs=$FUZZ_RUNS} \
		${FUZZ_ARGS:-} >"$log" 2>&1
	rc=$?
	took=$(( $(date +%s) - start ))
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | awk '{s += $1} END {print s + 0}')
	if [ "$execs" -eq 0 ]; then
		# -fork prints no final stats; take the last status line instead.
		execs=$(grep -E '^#[0-9]+' "$log" | tail -n 1 | sed 's/^#\([0-9]*\).*/\1/')
		execs=${execs:-0}
	fi
	rate=$(( execs / (took > 0 ? took : 1) ))
	files=$(ls "$work" | wc -l)
	if [ "$rc" -ne 0 ]; then
		status=1
		what=$(grep -m1 -E 'ERROR: |runtime error:|property violated' "$log")
		unit=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -n 1)
		line="$t: CRASH after $execs executions in ${took}s: ${what:-exit $rc} -> ${unit:-see $log}"
	else
		line="$t: $execs executions in ${took}s ($rate/s), 0 crashes, corpus $files files"
	fi
	echo "$line"
	summary="$summary$line
"
done
echo "== summary"
printf '%s' "$summary"
exit $status
