#!/bin/sh
# tests/deps.sh run|test|bench — install the Debian packages trainbook needs,
# only those missing, quietly when everything is there already.
# `run` is what building and serving needs; `test` adds the test-only
# packages (python3-torch is large, so `make run` never pulls it; clang with
# its libFuzzer runtime and OpenMP is what `make fuzz` builds with).
set -e
RUN_PKGS="build-essential pkg-config libopenblas-dev libopenblas-openmp-dev libyaml-dev zlib1g-dev libpng-dev libjpeg-dev
 libjansson-dev libmicrohttpd-dev libwebsockets-dev libssl-dev libsqlite3-dev libargon2-dev libprotobuf-c-dev
 protobuf-c-compiler dataset-fashion-mnist nodejs npm"
# nginx-light, openssl, systemd: tests/integration/deploy.test.mjs and install.test.mjs run
# their own nginx on free ports (Debian also starts the system one on port 80 where
# services may start: `systemctl disable --now nginx` if it is not wanted).
TEST_PKGS="libcmocka-dev python3-torch python3-numpy python3-nbformat python3-onnx libjpeg-turbo-progs curl chromium sqlite3
 slurm-wlm munge nginx-light openssl systemd
 clang libclang-rt-14-dev libomp-14-dev"
BENCH_PKGS="wrk jupyter-notebook"

case "${1:-run}" in
run) want="$RUN_PKGS" ;;
test) want="$RUN_PKGS $TEST_PKGS" ;;
bench) want="$RUN_PKGS $TEST_PKGS $BENCH_PKGS" ;;
*) echo "usage: $0 run|test|bench" >&2; exit 2 ;;
esac

missing=""
for p in $want; do
	# node/npm may come from elsewhere (nvm, nodesource): accept a working binary.
	case "$p" in
	nodejs) command -v node >/dev/null 2>&1 && continue ;;
	npm) command -v npm >/dev/null 2>&1 && continue ;;
	esac
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0

echo "trainbook: installing Debian packages:$missing"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
