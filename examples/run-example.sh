#!/bin/sh
# make run: serve the bundled example notebooks from ./workspace (created and
# seeded with examples/*.ipynb on first start; your notebooks and runs stay
# there across restarts). Set PORT, IP or WORKSPACE to change the defaults.
cd "$(dirname "$0")/.." || exit 2
WORKSPACE="${WORKSPACE:-workspace}"
mkdir -p "$WORKSPACE"
echo "trainbook: open the URL below in a browser (through ssh -L 8888:localhost:8888 on a remote box)"
exec build/trainbook serve --workspace "$WORKSPACE" --ip "${IP:-127.0.0.1}" --port "${PORT:-8888}"
