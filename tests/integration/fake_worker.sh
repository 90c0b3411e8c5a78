#!/bin/sh
# fake_worker.sh SPEC --out DIR [--resume CKPT] — a test-only stand-in for
# `trainbook worker`, selected with TRAINBOOK_WORKER_CMD, that misbehaves on
# purpose so the supervisor's fault handling can be tested. The spec line
# "# fake: MODE" picks what it does. Never used outside tests/.
# Long waits `exec sleep`, so that the waiting process is the worker itself
# and dies with its server (PR_SET_PDEATHSIG survives exec) instead of
# outliving the test as an orphaned child of the shell.
spec=$1
mode=$(sed -n 's/^# fake: *//p' "$spec" | head -n 1)
echo '{"type":"status","status":"running","device":"cpu","total_steps":10,"epochs":1}'
case "$mode" in
garbage) echo 'this is not json'; exec sleep 30 ;;
array) echo '[1,2,3]'; exec sleep 30 ;;
huge) head -c 1100000 /dev/zero | tr '\0' 'x'; echo; exec sleep 30 ;;
hang) exec sleep 600 ;;
exit3) echo 'fake worker: something broke' >&2; exit 3 ;;
threads) echo "fake worker: OMP_NUM_THREADS=${OMP_NUM_THREADS:-unset}" >&2; exit 3 ;;
env) echo "fake worker: TRAINBOOK_TOKEN=${TRAINBOOK_TOKEN:-unset}" >&2; exit 3 ;;
noreport) exit 0 ;;
escape)
	# --user-separation: what may this worker write? ($spec is <run dir>/spec.yaml)
	dir=$(dirname "$spec")
	can() { (echo x >"$1") 2>/dev/null && echo yes || echo no; }
	echo "{\"type\":\"log\",\"level\":\"info\",\"message\":\"inside=$(can "$dir/inside.txt") outside=$(can "${ESCAPE_TARGET:-/tmp}/escape-$$.txt") tmp=$(can "${TMPDIR:-${ESCAPE_TARGET:-/tmp}}/t-$$.txt") tmpdir=${TMPDIR:-unset} workspace=$(can "$dir/../../../escape-$$.txt")\"}"
	echo '{"type":"status","status":"completed"}' ;;
sleep)
	i=0
	while [ $i -lt "${FAKE_STEPS:-20}" ]; do
		i=$((i + 1))
		echo "{\"type\":\"metric\",\"split\":\"train\",\"step\":$i,\"epoch\":0,\"values\":{\"loss\":1}}"
		sleep 0.2
	done
	echo '{"type":"status","status":"completed"}' ;;
flood)
	# Big events, fast: a client that does not read falls behind.
	pad=$(head -c 8000 /dev/zero | tr '\0' 'p')
	sleep "${FLOOD_DELAY:-2}"
	i=0
	while [ $i -lt "${FLOOD_EVENTS:-3000}" ]; do
		i=$((i + 1))
		echo "{\"type\":\"log\",\"level\":\"info\",\"message\":\"$i $pad\"}"
	done
	echo '{"type":"status","status":"completed"}' ;;
firehose)
	# log_every: 1 on a tiny model: train metrics as fast as a pipe takes
	# them (loss = step), an evaluation every 1000 steps, then the end.
	awk -v n="${FIREHOSE_EVENTS:-20000}" 'BEGIN {
		for (i = 1; i <= n; i++) {
			printf "{\"type\":\"metric\",\"split\":\"train\",\"step\":%d,\"epoch\":0,\"time\":1780000000.123,\"values\":{\"loss\":%d}}\n", i, i
			if (i % 1000 == 0)
				printf "{\"type\":\"metric\",\"split\":\"test\",\"step\":%d,\"epoch\":0,\"values\":{\"loss\":%d}}\n", i, -i
		}
	}'
	echo '{"type":"status","status":"completed"}' ;;
logflood)
	# Small log events (never thinned) as fast as a pipe takes them: the store's write path.
	awk -v n="${FLOOD_EVENTS:-100000}" 'BEGIN {
		for (i = 1; i <= n; i++)
			printf "{\"type\":\"log\",\"level\":\"info\",\"message\":\"line %d of the flood\"}\n", i
	}'
	echo '{"type":"status","status":"completed"}' ;;
*) echo '{"type":"status","status":"completed"}' ;;
esac
