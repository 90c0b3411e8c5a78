#!/bin/sh
# tests/specs/run.sh — the broken-spec suite.
#
# Every tests/specs/bad/*.yaml opens with its expected errors, one comment
# line each, in the order they must be printed:
#     # expect: LINE:COL: substring of the message
# and, for errors found after parsing (layers, shapes, data files), a line
#     # stage: model
# Two runners are checked against them:
#   parse/<name>  a tiny driver of the spec parser, built under ASan+UBSan:
#                 parse-stage files must fail (exit 2) with exactly the expected
#                 lines; model-stage files must parse; never a sanitizer report.
#   check/<name>  `build/trainbook-engine check FILE`: exit 2 and exactly the
#                 expected error lines, "FILE:LINE:COL: error: ...", nothing else.
# tests/specs/good/*.yaml must pass both (exit 0).
cd "$(dirname "$0")/../.." || exit 2
export LC_ALL=C
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
OUT=build/specs
DRIVER=$OUT/parse_driver
CLI=build/trainbook-engine
status=0
mkdir -p "$OUT"

pass() { echo "PASS $1"; }
fail() { echo "FAIL $1: $2"; status=1; }

# Compare a run's output ($2) with the expect lines of spec $1; print why not, or nothing.
mismatch() {
	awk -v file="$1" '
	FNR == NR {
		if (!done && index($0, "# expect: ") == 1) {
			s = substr($0, 11)
			n++
			pos[n] = s; sub(/: .*$/, "", pos[n])
			txt[n] = s; sub(/^[0-9]+:[0-9]+: /, "", txt[n])
		} else if (index($0, "#") != 1) {
			done = 1
		}
		next
	}
	{
		m++
		if (m > n) { if (!why) why = "unexpected extra line: " $0; next }
		prefix = file ":" pos[m] ": error: "
		if (index($0, prefix) != 1) { if (!why) why = "line " m " should start \"" prefix "\", got: " $0; next }
		if (index($0, txt[m]) == 0) { if (!why) why = "line " m " lacks \"" txt[m] "\": " $0 }
	}
	END {
		if (n == 0) why = "no \"# expect:\" line at the top of the file"
		else if (!why && m != n) why = "expected " n " error line(s), got " m + 0
		if (why) print why
	}' "$1" "$2"
}

# Case $1: spec $2 was run into output $3 with exit code $4; a broken spec exits 2 with its expect lines.
expect_errors() {
	if [ "$4" -ne 2 ]; then
		fail "$1" "exit $4, expected 2: $(head -n 1 "$3")"
	elif why=$(mismatch "$2" "$3") && [ -n "$why" ]; then
		fail "$1" "$why"
	else
		pass "$1"
	fi
}

sanitizer_report() {
	grep -E -m1 'AddressSanitizer|LeakSanitizer|UndefinedBehaviorSanitizer|runtime error:' "$1"
}

# ---- the driver, built on the engine's ASan objects ---------------------------
# The parser reads the registries (optimizers, data sets, ...), which are
# engine objects, so the driver links the engine as `make unit` builds it.
if make -s "$DRIVER" >"$OUT/driver-build.log" 2>&1; then
	have_driver=1
	pass "parse/build-driver"
else
	have_driver=0
	fail "parse/build-driver" "$(grep -m3 -E 'error|Error' "$OUT/driver-build.log" | tr '\n' ' ')"
fi

nbad=0
for f in tests/specs/bad/*.yaml; do
	[ -f "$f" ] || continue
	nbad=$((nbad + 1))
	name=$(basename "$f" .yaml)
	stage=parse
	grep -q '^# stage: model' "$f" && stage=model
	[ "$have_driver" -eq 1 ] || continue
	o="$OUT/parse-$name.out"
	timeout 60 "$DRIVER" "$f" >"$o" 2>&1
	rc=$?
	if r=$(sanitizer_report "$o"); then
		fail "parse/$name" "sanitizer: $r"
	elif [ "$stage" = model ]; then
		if [ "$rc" -eq 0 ] && [ ! -s "$o" ]; then pass "parse/$name"
		else fail "parse/$name" "a model-stage spec must parse; exit $rc: $(head -n 1 "$o")"; fi
	else
		expect_errors "parse/$name" "$f" "$o" "$rc"
	fi
done
[ "$nbad" -ge 24 ] || fail "specs/count" "only $nbad broken specs in tests/specs/bad (want at least 24)"

for f in tests/specs/good/*.yaml; do
	[ -f "$f" ] && [ "$have_driver" -eq 1 ] || continue
	name=$(basename "$f" .yaml)
	o="$OUT/parse-good-$name.out"
	timeout 60 "$DRIVER" "$f" >"$o" 2>&1
	rc=$?
	if r=$(sanitizer_report "$o"); then fail "parse/good/$name" "sanitizer: $r"
	elif [ "$rc" -ne 0 ] || [ -s "$o" ]; then fail "parse/good/$name" "exit $rc: $(head -n 1 "$o")"
	else pass "parse/good/$name"; fi
done

# An override is checked like the text it replaces, and its error has no position.
if [ "$have_driver" -eq 1 ]; then
	o="$OUT/parse-override.out"
	timeout 60 "$DRIVER" --set optimizer.lr=-1 tests/specs/good/fashion_mlp.yaml >"$o" 2>&1
	rc=$?
	if [ "$rc" -eq 2 ] && grep -q "^tests/specs/good/fashion_mlp.yaml: error: optimizer.lr: .*(from --set 'optimizer.lr=-1')$" "$o" \
		&& ! sanitizer_report "$o" >/dev/null; then pass "parse/override-validated"
	else fail "parse/override-validated" "exit $rc: $(head -n 1 "$o")"; fi
	o="$OUT/parse-override-ok.out"
	SPEC_DRIVER_SOURCE=1 timeout 60 "$DRIVER" --set train.epochs=1 --set model=resnet18 \
		tests/specs/good/fashion_mlp.yaml >"$o" 2>&1
	rc=$?
	if [ "$rc" -eq 0 ] && grep -q '^model: resnet18$' "$o" && grep -q 'epochs: 1[,}]' "$o"; then
		pass "parse/override-source"
	else fail "parse/override-source" "exit $rc: $(head -n 3 "$o" | tr '\n' ' ')"; fi
fi

# ---- the CLI: `trainbook-engine check` ------------------------------------------
if [ ! -x "$CLI" ]; then
	fail "check" "$CLI is not built (run make); the CLI half of this suite cannot run"
	exit 1
fi
for f in tests/specs/bad/*.yaml; do
	[ -f "$f" ] || continue
	name=$(basename "$f" .yaml)
	o="$OUT/check-$name.out"
	timeout 60 "$CLI" check "$f" >"$o" 2>&1
	expect_errors "check/$name" "$f" "$o" $?
done
for f in tests/specs/good/*.yaml; do
	[ -f "$f" ] || continue
	name=$(basename "$f" .yaml)
	o="$OUT/check-good-$name.out"
	timeout 60 "$CLI" check "$f" >"$o" 2>&1
	rc=$?
	if [ "$rc" -eq 0 ]; then pass "check/good/$name"
	else fail "check/good/$name" "exit $rc: $(head -n 1 "$o")"; fi
done
o="$OUT/check-override.out"
timeout 60 "$CLI" check tests/specs/good/fashion_mlp.yaml --set train.epochs=0 >"$o" 2>&1
rc=$?
if [ "$rc" -eq 2 ] && grep -q "^tests/specs/good/fashion_mlp.yaml: error: train.epochs: .*(from --set 'train.epochs=0')$" "$o"; then
	pass "check/override-validated"
else
	fail "check/override-validated" "exit $rc: $(head -n 1 "$o")"
fi
exit $status
