#!/bin/sh
# tests/emu/run.sh — the "emu" suite: the CUDA backend's code checked on any
# machine through the CPU emulator of CUDA (tests/gpu/emu/): first the op
# parity and GPU data checks (tests/gpu/emu/run.sh, which builds the
# emulator's libraries), then every tests/gpu/emu/check_*.sh (the NCCL path,
# the GPU training loop, and whatever check is added there later).
#
# Every script prints PASS/FAIL lines. Nothing here skips: g++ is always
# present, and a missing tool, library or engine binary is a FAIL with its
# reason. Exit 1 when any script failed.
cd "$(dirname "$0")/../.." || exit 2
command -v bash >/dev/null || { echo "FAIL emu: bash not found"; exit 1; }
status=0
start=$(date +%s)
bash tests/gpu/emu/run.sh || status=1
found=0
for check in tests/gpu/emu/check_*.sh; do
	[ -f "$check" ] || continue
	found=1
	echo "== $check ($(($(date +%s) - start)) s)"
	bash "$check" || status=1
done
if [ "$found" -eq 0 ]; then
	echo "FAIL emu: no tests/gpu/emu/check_*.sh found"
	status=1
fi
echo "emu suite: $(($(date +%s) - start)) s"
exit $status
