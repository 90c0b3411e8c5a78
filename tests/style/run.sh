#!/bin/sh
# tests/style/run.sh — formatting stays what .clang-format says.
#
# Every C and CUDA file the repository tracks must come out of clang-format
# unchanged (the same check `make format` would fix), except the files in
# tests/style/exceptions.txt, each with its reason. The list only shrinks:
# a file on it that is formatted by now is a FAIL until it leaves the list.
# A self-test first proves the check catches a misformatted file.
cd "$(dirname "$0")/../.." || exit 2
status=0
pass() { echo "PASS style/$1"; }
fail() { echo "FAIL style/$1: $2"; status=1; }
command -v clang-format >/dev/null || { fail "clang-format" "not installed (make deps-test)"; exit 1; }
[ -f .clang-format ] || { fail "config" "no .clang-format at the top of the tree"; exit 1; }
EXCEPTIONS=tests/style/exceptions.txt

# Formatted as .clang-format says: clang-format changes nothing.
formatted() {
	clang-format --dry-run --Werror "$1" >/dev/null 2>&1
}

# 1. The check can fail: a copy of a clean file with its indentation broken is caught.
tmp=$(mktemp -d) || exit 2
trap 'rm -rf "$tmp"' EXIT
cp .clang-format "$tmp/"
printf 'int  main( void ){\nreturn 0 ;}\n' >"$tmp/bad.c"
printf 'int main(void)\n{\n\treturn 0;\n}\n' >"$tmp/good.c"
if formatted "$tmp/bad.c"; then
	fail "detects-misformatting" "clang-format accepted a misformatted file"
elif ! formatted "$tmp/good.c"; then
	fail "detects-misformatting" "clang-format refused a formatted file: $(clang-format --dry-run "$tmp/good.c" 2>&1 | head -n 2 | tr '\n' ' ')"
else
	pass "detects-misformatting"
fi

# 2. Stable: formatting a formatted file again changes nothing (the config has no fixed point problems).
clang-format "$tmp/bad.c" >"$tmp/once.c"
if formatted "$tmp/once.c"; then pass "idempotent"; else fail "idempotent" "formatting twice differs from once"; fi

# 3. Every tracked file, or its listed exception.
listed() {
	grep -v '^#' "$EXCEPTIONS" 2>/dev/null | awk '{print $1}' | grep -qx "$1"
}
files=$(git ls-files '*.c' '*.h' '*.cu' 2>/dev/null)
[ -n "$files" ] || files=$(find engine server tests -name '*.[ch]' -o -name '*.cu' | sort)
checked=0
for f in $files; do
	[ -f "$f" ] || continue
	if listed "$f"; then
		if formatted "$f"; then
			fail "$f" "formatted now: take it off $EXCEPTIONS"
		fi
		continue
	fi
	checked=$((checked + 1))
	if formatted "$f"; then
		pass "$f"
	else
		fail "$f" "not as .clang-format says ($(clang-format --dry-run "$f" 2>&1 | grep -c 'warning:') places): run make format"
	fi
done
[ "$checked" -gt 0 ] || fail "files" "no file checked"
exit $status
