#!/bin/sh
# tests/fuzz/run.sh — replay every fuzz corpus and every saved crash, once,
# under ASan+UBSan (the build/fuzz/replay/<target> binaries of
# `make fuzz-replay`: gcc, a plain main(), no libFuzzer needed).
#
# One line per target: PASS when every file in tests/fuzz/<target>/corpus/
# and crashes/ ran without a crash, a sanitizer report, a leak or a broken
# property; FAIL with the input that did it otherwise. A target with no
# replay binary, or no corpus, FAILs: nothing here may skip silently.
cd "$(dirname "$0")/../.." || exit 2
# Every allocation over 3 GiB fails loudly, as under fuzz.sh's
# -rss_limit_mb=3072: an input that makes the engine ask for that much
# (a forged header) is a bug, and its saved input must fail here too.
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:max_allocation_size_mb=3072"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
export OPENBLAS_NUM_THREADS=1
OUT=build/fuzz/logs
mkdir -p "$OUT"
status=0
found=0
for src in tests/fuzz/*/fuzz_*.c; do
	[ -f "$src" ] || continue
	found=1
	dir=$(dirname "$src")
	t=$(basename "$dir")
	bin=build/fuzz/replay/$t
	log=$OUT/replay-$t.log
	if [ ! -x "$bin" ]; then
		echo "FAIL fuzz/$t: $bin is not built (run make fuzz-replay)"
		status=1
		continue
	fi
	set --
	[ -d "$dir/corpus" ] && set -- "$@" "$dir/corpus"
	[ -d "$dir/crashes" ] && set -- "$@" "$dir/crashes"
	if [ ! -d "$dir/corpus" ] || [ -z "$(ls "$dir/corpus")" ]; then
		echo "FAIL fuzz/$t: no seed corpus in $dir/corpus"
		status=1
		continue
	fi
	timeout 600 "$bin" "$@" >"$log" 2>&1
	rc=$?
	count=$(sed -n 's/^replayed \([0-9]*\) inputs$/\1/p' "$log")
	if [ "$rc" -eq 0 ] && [ -n "$count" ] && \
		! grep -qE 'AddressSanitizer|LeakSanitizer|runtime error:' "$log"; then
		echo "PASS fuzz/$t ($count inputs)"
	else
		last=$(grep '^replay: ' "$log" | tail -n 1 | sed 's/^replay: //')
		why=$(grep -m1 -E 'ERROR: |runtime error:|property violated' "$log")
		echo "FAIL fuzz/$t: exit $rc on ${last:-?}: ${why:-see $log}"
		tail -n 30 "$log" >&2
		status=1
	fi
done
[ $found -eq 1 ] || { echo "FAIL fuzz: no targets under tests/fuzz"; exit 1; }
exit $status
