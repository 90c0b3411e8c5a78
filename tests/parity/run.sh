#!/bin/sh
# Parity suite: the engine against Debian's PyTorch (python3-torch, CPU).
cd "$(dirname "$0")" || exit 2
[ -x ../../build/trainbook-engine ] || { echo "FAIL parity: build/trainbook-engine missing (run make)"; exit 1; }
/usr/bin/python3 -c 'import torch, numpy' 2>/dev/null || { echo "FAIL parity: /usr/bin/python3 lacks torch or numpy (make deps-test)"; exit 1; }
exec /usr/bin/python3 test_parity.py
