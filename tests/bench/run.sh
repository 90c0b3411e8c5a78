#!/bin/sh
# make bench: every benchmark, side by side with its reference, on this machine.
# Timing only; results go to tests/bench/results/.
cd "$(dirname "$0")/../.." || exit 2
echo "== CPU training: trainbook vs PyTorch"
/usr/bin/python3 tests/bench/cpu_bench.py --conv
if [ -f tests/bench/server_bench.sh ]; then
	echo "== server: trainbook vs Jupyter"
	sh tests/bench/server_bench.sh
fi
echo "== store: WAL size and write rate under event floods"
node tests/bench/store_bench.mjs --events 1000000 --out "tests/bench/results/store-$(date +%F).md"
echo "== curves: the Runs page on 50 runs of 1,000,000 points (and one run of 100,000 with its events)"
mkdir -p build/bench
node tests/bench/curves_bench.mjs --runs 1 --points 100000 --events --keep build/bench/curves-1x100k \
	--label "1 x 100k" --out "tests/bench/results/curves-$(date +%F).md"
node tests/bench/curves_bench.mjs --runs 50 --points 1000000 --keep build/bench/curves-50x1M \
	--label "50 x 1M" --out "tests/bench/results/curves-$(date +%F).md"
echo "== data loader"
sh tests/bench/loader_bench.sh
echo "== front door: /api/status while thousands of idle sockets are open"
node tests/bench/frontdoor_idle.mjs --idle 4100
echo "== accounts: a 60-student roster imported and 60 logins (argon2id)"
node tests/bench/accounts_bench.mjs --students 60 --out "tests/bench/results/accounts-$(date +%F).md"
echo "== predict: a short-lived worker per image, over HTTP and alone"
node tests/bench/predict_bench.mjs --n 30
echo "== a simulated class: 60 students, fair share beside FIFO, the board in Chromium"
node tests/bench/class_bench.mjs --out "tests/bench/results/class-$(date +%F).md"
