"""Compare the per-step training losses of two trainbook runs (JSON-lines
event streams from `trainbook-engine train --json` with log_every: 1).

    compare_losses.py NAME REF.jsonl GOT.jsonl TOL

Prints one line, `PASS NAME: ...` or `FAIL NAME: ...`, and exits 0 or 1.
The error of a step is |got - ref| / max(|ref|, 0.1): relative while the
loss is large, absolute once a run has driven it near zero (where a
relative error would measure only noise). Every step must be present in
both runs and finite.
"""
import json
import math
import sys


def losses(path):
    out, status = {}, None
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line.startswith("{"):
                continue
            try:
                ev = json.loads(line)
            except ValueError:
                continue
            if ev.get("type") == "metric" and ev.get("split") == "train":
                out[int(ev["step"])] = float(ev["values"]["loss"])
            elif ev.get("type") == "status" and ev.get("status") in ("failed", "stopped"):
                status = ev.get("reason", ev.get("status"))
    return out, status


def main():
    name, ref_path, got_path, tol = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
    ref, ref_fail = losses(ref_path)
    got, got_fail = losses(got_path)
    if ref_fail or got_fail or not ref or not got:
        print("FAIL %s: run failed or produced no losses (reference: %s; under test: %s)"
              % (name, ref_fail or "%d steps" % len(ref), got_fail or "%d steps" % len(got)))
        return 1
    if sorted(ref) != sorted(got):
        print("FAIL %s: steps differ (%d vs %d)" % (name, len(ref), len(got)))
        return 1
    worst, at = 0.0, 0
    for step in sorted(ref):
        a, b = ref[step], got[step]
        err = math.inf if not (math.isfinite(a) and math.isfinite(b)) else abs(a - b) / max(abs(a), 0.1)
        if err > worst:
            worst, at = err, step
    first, last = min(ref), max(ref)
    ok = worst <= tol
    print("%s %s: %d steps, loss %.4f -> %.4f (ref) vs %.4f -> %.4f, worst err %.2e at step %d (tol %.0e)"
          % ("PASS" if ok else "FAIL", name, len(ref), ref[first], ref[last], got[first], got[last], worst, at, tol))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
