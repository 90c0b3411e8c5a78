#!/bin/sh
# tests/run.sh — run every test suite and end with one line "N passed, N failed".
#
# A suite is tests/<name>/run.sh; it prints one line per test case,
# "PASS <name>" or "FAIL <name>: <why>", and exits non-zero when any failed.
# A suite that exits non-zero without a FAIL line counts as one failure, so a
# crashing suite can never look green. A suite whose prerequisites are
# missing must FAIL, not skip.
#
# TB_SUITES picks the suites (default: all, in this order; `make check` runs
# the fast ones). At the end, a table of each suite's wall time, then the
# final line. Each suite's output is in build/test-logs/<suite>.log, and
# build/test-logs/<suite>.times has every output line with the seconds since
# the suite started, to see where a slow suite spends its time.
cd "$(dirname "$0")/.." || exit 2
SUITES="${TB_SUITES:-unit specs style fuzz cli parity onnx emu integration slurm web e2e}"
pass=0
fail=0
table=""
mkdir -p build/test-logs
# Python suites print each case as it ends, not in one block at exit, so the stamps mean something.
export PYTHONUNBUFFERED=1
now() { date +%s.%N; }
all_start=$(now)
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }
for s in $SUITES; do
	script="tests/$s/run.sh"
	[ -f "$script" ] || continue
	log="build/test-logs/$s.log"
	echo "== suite $s"
	start=$(now)
	# Stamp each line as it comes (a shell loop: mawk would wait for a full
	# input block); the suite's exit code travels beside the pipe.
	: >"$log"
	{
		sh "$script" 2>&1
		echo "$?" >"build/test-logs/$s.rc"
	} | while IFS= read -r line || [ -n "$line" ]; do
		printf '%s\n' "$line" >>"$log"
		printf '%s\t%s\n' "$(since "$start")" "$line"
	done >"build/test-logs/$s.times"
	rc=$(cat "build/test-logs/$s.rc")
	rm -f "build/test-logs/$s.rc"
	secs=$(since "$start")
	p=$(grep -c '^PASS ' "$log")
	f=$(grep -c '^FAIL ' "$log")
	grep -E '^(PASS|FAIL|SKIP) ' "$log" | sed 's/^/   /'
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		echo "   FAIL $s: suite exited $rc without reporting a failure; tail of $log:"
		tail -n 20 "$log" | sed 's/^/      /'
		f=1
	fi
	if [ "$f" -gt 0 ]; then
		echo "   (full log: $log)"
	fi
	pass=$((pass + p))
	fail=$((fail + f))
	table="$table$(printf '   %-12s %8.1f s %7d %7d' "$s" "$secs" "$p" "$f")
"
done
echo "== time per suite"
printf '   %-12s %10s %7s %7s\n' suite "wall" passed failed
printf '%s' "$table"
printf '   %-12s %8s s %7d %7d\n' total "$(since "$all_start")" "$pass" "$fail"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
