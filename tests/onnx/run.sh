#!/bin/sh
# tests/onnx/run.sh — exported ONNX models in ONNX Runtime and onnx.checker,
# and `trainbook predict` against the evaluation (tests/onnx/onnx.mjs).
# onnxruntime-node is installed from the lock file with --ignore-scripts:
# its postinstall fetches GPU add-ons from outside the npm registry, while
# the CPU runtime ships inside the package. Missing prerequisites FAIL.
cd "$(dirname "$0")/../.." || exit 2
missing=""
[ -x build/trainbook ] || missing="$missing build/trainbook(make)"
command -v node >/dev/null 2>&1 || missing="$missing node"
/usr/bin/python3 -c 'import onnx' 2>/dev/null || missing="$missing python3-onnx"
command -v cjpeg >/dev/null 2>&1 || missing="$missing cjpeg(libjpeg-turbo-progs)"
[ -f /usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz ] || missing="$missing dataset-fashion-mnist"
if [ -n "$missing" ]; then
	echo "FAIL onnx: prerequisites missing:$missing"
	exit 1
fi
stamp=tests/onnx/node_modules/.trainbook-installed
if [ ! -f "$stamp" ] || [ tests/onnx/package-lock.json -nt "$stamp" ]; then
	(cd tests/onnx && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error >/dev/null) || {
		echo "FAIL onnx: npm ci --ignore-scripts in tests/onnx failed"
		exit 1
	}
	touch "$stamp"
fi
exec node tests/onnx/onnx.mjs
