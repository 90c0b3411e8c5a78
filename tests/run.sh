#!/bin/sh
# tests/run.sh — run every test suite and end with one line "N passed, N failed".
#
# A suite is tests/<name>/run.sh; it prints one line per test case,
# "PASS <name>" or "FAIL <name>: <why>", and exits non-zero when any failed.
# A suite that exits non-zero without a FAIL line counts as one failure, so a
# crashing suite can never look green. A suite whose prerequisites are
# missing must FAIL, not skip.
cd "$(dirname "$0")/.." || exit 2
SUITES="${TB_SUITES:-unit specs style cli parity emu integration web e2e}"
pass=0
fail=0
mkdir -p build/test-logs
for s in $SUITES; do
	script="tests/$s/run.sh"
	[ -f "$script" ] || continue
	log="build/test-logs/$s.log"
	echo "== suite $s"
	sh "$script" >"$log" 2>&1
	rc=$?
	p=$(grep -c '^PASS ' "$log")
	f=$(grep -c '^FAIL ' "$log")
	grep -E '^(PASS|FAIL) ' "$log" | sed 's/^/   /'
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
done
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
