#!/bin/sh
# Unit tests (cmocka, built under ASan + UBSan by `make unit`).
# Each cmocka case becomes a PASS/FAIL line; a binary that dies counts as a failure.
cd "$(dirname "$0")/../.." || exit 2
status=0
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
export CMOCKA_MESSAGE_OUTPUT=stdout
export OPENBLAS_NUM_THREADS=2
found=0
for t in build/tests/test_* build/tests/server/test_*; do
	[ -x "$t" ] || continue
	found=1
	name=$(basename "$t")
	out=$("$t" 2>&1)
	rc=$?
	echo "$out" | sed -n 's/^\[       OK \] \(.*\)$/PASS '"$name"'.\1/p'
	echo "$out" | sed -n 's/^\[  FAILED  \] \([^ ]*\)$/FAIL '"$name"'.\1/p' | grep -v 'FAIL .*\.[0-9]* test' || true
	if [ $rc -ne 0 ]; then
		status=1
		echo "$out" | grep -q '^\[  FAILED  \] [a-z_]' || echo "FAIL $name: exited $rc"
		echo "$out" | tail -n 40 >&2
	fi
done
[ $found -eq 1 ] || { echo "FAIL unit: no unit test binaries (run make unit)"; exit 1; }
exit $status
