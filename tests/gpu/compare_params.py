"""Compare the parameters of two .safetensors checkpoints; print one
"PASS name: …" or "FAIL name: …" line and exit 1 on FAIL.

    compare_params.py NAME GOT.safetensors WANT.safetensors TOL [--moved-from START.safetensors]

Per tensor, the error is max|got - want| / max|want|; every tensor must be
within TOL, and TOL 0 means bit-identical. With --moved-from, WANT must also
differ from START (an earlier checkpoint of the same run) by more than
MOVED relative in some tensor: a run whose training did nothing would match
any other such run, and must not pass.
"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "parity"))
import numpy as np  # noqa: E402
import st  # noqa: E402

MOVED = 1e-3


def rel_err(got, want):
    scale = max(float(np.abs(want).max()), 1e-12)
    return float(np.abs(got.astype(np.float64) - want.astype(np.float64)).max()) / scale


def main():
    args = sys.argv[1:]
    start = None
    if "--moved-from" in args:
        i = args.index("--moved-from")
        start = args[i + 1]
        del args[i:i + 2]
    if len(args) != 4:
        sys.exit(__doc__)
    name, got_path, want_path, tol = args[0], args[1], args[2], float(args[3])
    try:
        got, want = st.load(got_path)[0], st.load(want_path)[0]
    except OSError as e:
        print(f"FAIL {name}: {e}")
        return 1
    if sorted(got) != sorted(want):
        print(f"FAIL {name}: tensor names differ: {sorted(got)} vs {sorted(want)}")
        return 1
    worst, worst_name = 0.0, ""
    for key in want:
        if got[key].shape != want[key].shape:
            print(f"FAIL {name}: {key} has shape {got[key].shape}, want {want[key].shape}")
            return 1
        err = 0.0 if np.array_equal(got[key], want[key]) else rel_err(got[key], want[key])
        if err > worst or not worst_name:
            worst, worst_name = err, key
    moved = ""
    if start is not None:
        first = st.load(start)[0]
        change = max(rel_err(want[k], first[k]) for k in want)
        if change <= MOVED:
            print(f"FAIL {name}: parameters moved only {change:.3g} relative between checkpoints "
                  f"(the comparison would prove nothing)")
            return 1
        moved = f"; training moved them {change:.3g}"
    if worst > tol or (tol == 0 and worst != 0):
        print(f"FAIL {name}: {worst_name} differs by {worst:.3g} relative (tolerance {tol:g}){moved}")
        return 1
    what = "bit-identical" if worst == 0 else f"max rel err {worst:.3g} ({worst_name}) <= {tol:g}"
    print(f"PASS {name}: {what}{moved}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
