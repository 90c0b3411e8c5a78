#!/usr/bin/python3
# bench_worker.py SPEC --out DIR — a stand-in worker for the server bench
# (selected with TRAINBOOK_WORKER_CMD): it emits `events` metric events at
# `rate` per second, each stamped with the wall-clock time it was written,
# after waiting `delay` seconds for feed clients to subscribe. The numbers
# come from a spec comment line "# bench: events=1000 rate=50 delay=2".
# The clients subtract that stamp from their receive time: worker → client
# latency through pipe, supervisor, SQLite commit, fan-out and WebSocket.
import json
import os
import sys
import time

opts = {"events": "1000", "rate": "50", "delay": "2"}
for line in open(sys.argv[1]):
    if line.startswith("# bench:"):
        opts.update(kv.split("=", 1) for kv in line[len("# bench:"):].split())
n, rate, delay = int(opts["events"]), float(opts["rate"]), float(opts["delay"])
out = sys.stdout
out.write(json.dumps({"type": "status", "status": "running", "device": "cpu",
                      "total_steps": n, "epochs": 1}) + "\n")
out.flush()
time.sleep(delay)
for i in range(1, n + 1):
    out.write(json.dumps({"type": "metric", "split": "train", "step": i, "epoch": 0,
                          "time": time.time(), "values": {"loss": 1.0 / i, "accuracy": 1.0 - 1.0 / (i + 1)}}) + "\n")
    out.flush()
    time.sleep(1.0 / rate)
out.write('{"type":"status","status":"completed"}\n')
out.flush()
