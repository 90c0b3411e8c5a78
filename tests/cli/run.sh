#!/bin/sh
# The engine command line end to end (train/worker/check), on real Fashion-MNIST.
cd "$(dirname "$0")" || exit 2
[ -x ../../build/trainbook-engine ] || { echo "FAIL cli: build/trainbook-engine missing (run make)"; exit 1; }
[ -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ] || { echo "FAIL cli: Fashion-MNIST missing (make deps)"; exit 1; }
status=0
/usr/bin/python3 test_cli.py || status=1
/usr/bin/python3 test_sweep.py || status=1   # early stopping and sweeps
exit $status
