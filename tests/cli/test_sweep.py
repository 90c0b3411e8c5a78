"""Early stopping and sweeps from the command line, end to end: a run whose
validation loss rises on purpose stops at the epoch the rule names, keeps the
best checkpoint and only evaluates when resumed; `trainbook check` previews a
sweep's trials; `trainbook sweep` runs them and ASHA stops the bad ones.
Prints "PASS name" / "FAIL name: why" per case, like test_cli.py."""
import json
import os
import random
import struct
import subprocess
import sys
import tempfile

from test_cli import ENGINE, run_cases, train, write

CASES = []


def case(fn):
    CASES.append(fn)
    return fn


def noise_csv(d, rows=300, features=20, seed=1):
    """Random features, random labels: nothing to learn, so a big model memorises
    the training rows and its validation loss rises after the first epochs."""
    r = random.Random(seed)
    lines = [",".join(f"x{i}" for i in range(features)) + ",label"]
    for _ in range(rows):
        lines.append(",".join(f"{r.gauss(0, 1):.4f}" for _ in range(features)) + f",{r.randrange(2)}")
    return write(d, "noise.csv", "\n".join(lines) + "\n")


NOISE_SPEC = """data: {dataset: csv, path: %s, test_fraction: 0.2, validation: 0.25, batch_size: 16, workers: 1}
model: [{linear: 256}, relu, {linear: 256}, relu, {linear: 2}]
optimizer: {name: adam, lr: 0.01}
train: {epochs: 30, seed: 0}
checkpoint: {every: 1, keep: 50}
"""


def expected_stop(values, patience, min_delta=0.0):
    """The rule, written again: (stop epoch, best epoch) for a minimised series."""
    best, best_epoch, bad = None, 0, 0
    for epoch, v in enumerate(values, 1):
        if best is None or v < best - min_delta:
            best, best_epoch, bad = v, epoch, 0
        else:
            bad += 1
            if bad >= patience:
                return epoch, best_epoch, best
    return None, best_epoch, best


def status_of(events):
    st = [e for e in events if e["type"] == "status" and e["status"] != "running"]
    assert len(st) == 1, st
    return st[0]


def st_meta(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        return json.loads(f.read(n))["__metadata__"]


@case
def early_stop_ends_at_the_right_epoch_and_keeps_the_best():
    with tempfile.TemporaryDirectory() as d:
        spec = write(d, "es.yaml", NOISE_SPEC % noise_csv(d) +
                     "early_stopping: {metric: validation.loss, mode: min, patience: 3, min_delta: 0.0}\n")
        # Without early stopping the same run goes all 30 epochs: the series the rule sees.
        _, full = train(spec, "--set", "early_stopping=~", "--out", os.path.join(d, "full"))
        series = [e["values"]["loss"] for e in full if e["type"] == "metric" and e["split"] == "validation"]
        assert len(series) == 30, len(series)
        assert max(series[5:]) > min(series) + 0.1, f"the validation loss should rise: {series}"
        stop, best_epoch, best = expected_stop(series, 3)
        assert stop is not None and stop < 30, series

        _, ev = train(spec, "--out", os.path.join(d, "es"))
        st = status_of(ev)
        assert st["status"] == "completed", st
        want = f"early stopped at epoch {stop} (best validation.loss {best:.4g} at epoch {best_epoch})"
        assert st["reason"] == want, (st["reason"], want)
        vals = [e for e in ev if e["type"] == "metric" and e["split"] == "validation"]
        assert [e["epoch"] for e in vals] == list(range(1, stop + 1)), [e["epoch"] for e in vals]
        # best.safetensors is the epoch with the lowest validation loss
        meta = st_meta(os.path.join(d, "es", "best.safetensors"))
        best_step = next(e["step"] for e in vals if e["epoch"] == best_epoch)
        assert int(meta["trainbook.step"]) == best_step, (meta["trainbook.step"], best_step)

        # Resuming the early-stopped run evaluates and trains no further.
        ckpts = sorted(f for f in os.listdir(os.path.join(d, "es")) if f.startswith("step-") and ".state." not in f)
        _, again = train(spec, "--resume", os.path.join(d, "es", ckpts[-1]), "--out", os.path.join(d, "es"))
        st = status_of(again)
        assert st["status"] == "completed" and st["reason"].startswith(want) and "evaluated only" in st["reason"], st
        assert not [e for e in again if e["type"] == "metric" and e["split"] == "train"], "resume trained"
        assert [e for e in again if e["type"] == "metric" and e["split"] == "validation"], "resume did not evaluate"


@case
def early_stop_without_validation_split_watches_test_with_a_warning():
    with tempfile.TemporaryDirectory() as d:
        spec = write(d, "es.yaml", (NOISE_SPEC % noise_csv(d)).replace(" validation: 0.25,", "") +
                     "early_stopping: {patience: 2}\n")
        _, ev = train(spec, "--out", os.path.join(d, "o"))
        warn = [e for e in ev if e["type"] == "log" and e["level"] == "warning"]
        assert warn and "watching the test split" in warn[0]["message"], warn
        st = status_of(ev)
        assert st["reason"].startswith("early stopped at epoch") and "validation.loss" in st["reason"], st


SYNTH_SWEEP = """data: {dataset: synthetic, shape: [16], classes: 4, train_size: 512, test_size: 128, validation: 0.25, workers: 1}
model: {preset: mlp, hidden: [32]}
optimizer: {name: sgd, lr: 0.1}
train: {epochs: 4, seed: 0}
sweep:
  method: grid
  params:
    optimizer.lr: {choice: [0.5, 1.0e-7]}
    train.seed: {range: [0, 3]}
  stop: {asha: {metric: validation.accuracy, mode: max, min_epochs: 1, reduction: 3}}
"""


def sweep(spec, *args):
    r = subprocess.run([ENGINE, "sweep", spec, *args], capture_output=True, text=True, timeout=600)
    rows = []
    for line in r.stdout.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("| ") and cells[0].isdigit():
            rows.append(cells)
    return r, rows


@case
def check_previews_the_trials():
    with tempfile.TemporaryDirectory() as d:
        spec = write(d, "s.yaml", SYNTH_SWEEP)
        r = subprocess.run([ENGINE, "check", spec], capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
        assert "sweep: grid search, 6 trials" in r.stdout, r.stdout
        assert "ASHA on validation.accuracy (max), keep the top 1/3 at epochs 1, 3" in r.stdout, r.stdout
        lines = [l.split() for l in r.stdout.splitlines() if l.strip()[:1].isdigit() and len(l.split()) == 3]
        assert lines == [[str(i + 1), lr, str(seed)] for i, (lr, seed) in
                         enumerate((lr, s) for lr in ("0.5", "1.0e-7") for s in range(3))], lines
        # A value the spec refuses is reported at its swept key, with the trial.
        bad = write(d, "bad.yaml", SYNTH_SWEEP.replace("[0.5, 1.0e-7]", "[0.5, -2]"))
        r = subprocess.run([ENGINE, "check", bad], capture_output=True, text=True)
        assert r.returncode == 2, r.stdout
        assert f"{bad}:8:5: error: sweep.params.optimizer.lr: trial 4 sets -2: optimizer.lr: expected a positive number" \
            in r.stderr, r.stderr


@case
def train_refuses_a_sweep_spec_and_sweep_needs_one():
    with tempfile.TemporaryDirectory() as d:
        spec = write(d, "s.yaml", SYNTH_SWEEP)
        r = subprocess.run([ENGINE, "train", spec, "--out", os.path.join(d, "o")], capture_output=True, text=True)
        assert r.returncode == 2 and "has a sweep: section: run it with trainbook sweep" in r.stderr, r.stderr
        plain = write(d, "p.yaml", SYNTH_SWEEP.split("sweep:")[0])
        r = subprocess.run([ENGINE, "sweep", plain], capture_output=True, text=True)
        assert r.returncode == 2 and "has no sweep: section" in r.stderr, r.stderr


@case
def asha_stops_the_bad_learning_rates():
    with tempfile.TemporaryDirectory() as d:
        spec = write(d, "s.yaml", SYNTH_SWEEP)
        for parallel in ("1", "2"):
            out = os.path.join(d, "out" + parallel)
            r, rows = sweep(spec, "--parallel", parallel, "--out", out)
            assert r.returncode == 0, r.stderr[-800:]
            assert len(rows) == 6, r.stdout
            by_trial = {int(c[1]): c for c in rows}
            for t in (4, 5, 6):  # lr 1e-7: nothing learnt after one epoch
                assert by_trial[t][2] == "1.0e-7" and by_trial[t][-1] == "stopped by ASHA at epoch 1", by_trial[t]
            # One after another, trial 1 is alone at its rungs; two at a time, trials 1 and 2 race
            # to the rung and either may lose it to the other. A good rate always goes the distance.
            good = [by_trial[1]] if parallel == "1" else [c for c in rows if c[2] == "0.5" and "ASHA" not in c[-1]]
            assert good and all(c[-1] == "completed" and c[-2] == "4" for c in good), rows
            assert rows[0][2] == "0.5", rows[0]  # ranked by validation accuracy, best first
            accs = [float(c[4]) for c in rows]
            assert accs == sorted(accs, reverse=True), accs
            # a stopped trial ended at its rung with a checkpoint, like SIGTERM
            ev = [json.loads(l) for l in open(os.path.join(out, "trial-004", "events.jsonl"))]
            assert [e for e in ev if e["type"] == "status"][-1]["status"] == "stopped", ev[-1]
            assert any(f.startswith("step-") for f in os.listdir(os.path.join(out, "trial-004")))
            assert open(os.path.join(out, "results.md")).read().strip() in r.stdout


@case
def random_sweep_is_deterministic_for_a_seed():
    with tempfile.TemporaryDirectory() as d:
        text = SYNTH_SWEEP.replace("method: grid", "method: random\n  trials: 5\n  seed: 7").replace(
            "{choice: [0.5, 1.0e-7]}", "{loguniform: [1.0e-4, 1.0]}")
        spec = write(d, "s.yaml", text)
        a = subprocess.run([ENGINE, "check", spec], capture_output=True, text=True).stdout
        b = subprocess.run([ENGINE, "check", spec], capture_output=True, text=True).stdout
        c = subprocess.run([ENGINE, "check", spec, "--set", "sweep.seed=8"], capture_output=True, text=True).stdout
        assert "random search, 5 trials" in a and a == b and a != c, (a, c)


if __name__ == "__main__":
    sys.exit(run_cases(CASES, sys.argv[1:]))
