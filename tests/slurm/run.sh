#!/bin/sh
# tests/slurm/run.sh — the Slurm executor on a real one-node Slurm cluster
# (cluster.mjs starts munged, slurmctld and slurmd from Debian's packages as
# root, state in a temporary folder, and stops them at the end). One line per
# case, "PASS …" or "FAIL …: why"; a cluster that cannot start fails every
# case with the reason, never skips.
cd "$(dirname "$0")/../.." || exit 2
for f in build/trainbook build/trainbook-engine; do
	[ -x "$f" ] || { echo "FAIL slurm: $f is missing (run make)"; exit 1; }
done
unset OMP_NUM_THREADS
exec node --test --test-concurrency=1 --test-reporter=./tests/web/reporter.mjs --test-reporter-destination=stdout \
	tests/slurm/*.test.mjs
