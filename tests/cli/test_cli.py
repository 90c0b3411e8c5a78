"""The engine's command line, end to end: accuracy of the example recipes,
bit-identical resume, stop on SIGTERM with a checkpoint, divergence, events
and errors. Prints "PASS name" / "FAIL name: why" per case."""
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import traceback

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ENGINE = os.environ.get("TRAINBOOK_ENGINE", os.path.join(ROOT, "build", "trainbook-engine"))
CASES = []


def case(fn):
    CASES.append(fn)
    return fn


def train(spec_path, *args, check=True):
    r = subprocess.run([ENGINE, "train", spec_path, "--json", *args], capture_output=True, text=True)
    events = []
    for line in r.stdout.splitlines():
        events.append(json.loads(line))  # every stdout line must be one JSON object
    if check and r.returncode != 0:
        raise AssertionError(f"train exited {r.returncode}: {r.stderr.strip()[-500:]}")
    return r, events


def final_test_accuracy(events):
    tests = [e for e in events if e["type"] == "metric" and e["split"] == "test"]
    assert tests, "no test metric event"
    return tests[-1]["values"]["accuracy"]


def running_event(events):
    """The status event that says the run trains (after the one that says it loads data)."""
    return next(e for e in events if e["type"] == "status" and e["status"] == "running" and "phase" not in e)


def write(d, name, text):
    path = os.path.join(d, name)
    with open(path, "w") as f:
        f.write(text)
    return path


def example_reaches(example, floor, *args):
    """Train examples/<example>.yaml (with `args`): its last test accuracy is `floor` or more."""
    with tempfile.TemporaryDirectory() as d:
        t = time.time()
        _, ev = train(os.path.join(ROOT, "examples", example + ".yaml"), *args, "--out", d)
        acc = final_test_accuracy(ev)
        assert acc >= floor, f"test accuracy {acc:.4f} < {floor}"
        print(f"# {' '.join([example, *args])}: test accuracy {acc:.4f} in {time.time() - t:.0f} s", file=sys.stderr)


@case
def fashion_mlp_one_epoch_reaches_084():
    example_reaches("fashion-mlp", 0.84, "--set", "train.epochs=1")


@case
def fashion_mlp_long_reaches_0885():
    example_reaches("fashion-mlp-long", 0.885)


@case
def fashion_cnn_reaches_0925():
    example_reaches("fashion-cnn", 0.925)


def write_cifar(d, n_train=300, n_test=100, truncate=False):
    """CIFAR-10 binary batches: records of 1 label byte + 3072 pixel bytes (R, G, B planes)."""
    import numpy as np
    rng = np.random.default_rng(0)
    def batch(path, n):
        labels = rng.integers(0, 10, n).astype(np.uint8)
        # Learnable: each class brightens its own band of rows.
        pixels = rng.integers(0, 100, (n, 3, 32, 32)).astype(np.uint8)
        for i, c in enumerate(labels):
            pixels[i, :, 3 * c:3 * c + 3, :] += 150
        raw = np.concatenate([labels[:, None], pixels.reshape(n, -1)], axis=1).tobytes()
        with open(path, "wb") as f:
            f.write(raw[:-1000] if truncate and path.endswith("test_batch.bin") else raw)
    for i in range(1, 6):
        batch(os.path.join(d, f"data_batch_{i}.bin"), n_train // 5)
    batch(os.path.join(d, "test_batch.bin"), n_test)


@case
def cifar10_files_train_end_to_end():
    with tempfile.TemporaryDirectory() as d:
        write_cifar(d)
        spec = write(d, "spec.yaml", f"data: {{dataset: cifar10, path: {d}, batch_size: 20, augment: [{{random_crop: 4}}, hflip]}}\n"
                                     "model: lenet5\noptimizer: {name: adam, lr: 0.003}\ntrain: {epochs: 3, seed: 1}\n")
        _, ev = train(spec, "--out", os.path.join(d, "out"))
        info = running_event(ev)
        assert info["train_size"] == 300 and info["test_size"] == 100, info
        evals = [e for e in ev if e["type"] == "evaluation"]
        assert evals and evals[-1]["classes"][0] == "airplane" and len(evals[-1]["samples"]) > 0, evals[-1:]
        assert evals[-1]["samples"][0]["shape"] == [3, 32, 32]
        assert final_test_accuracy(ev) > 0.3, "LeNet-5 did not learn the synthetic CIFAR classes"


@case
def cifar10_truncated_batch_is_a_clear_error():
    with tempfile.TemporaryDirectory() as d:
        write_cifar(d, truncate=True)
        spec = write(d, "spec.yaml", f"data: {{dataset: cifar10, path: {d}}}\nmodel: lenet5\n")
        r, ev = train(spec, "--out", os.path.join(d, "out"), check=False)
        assert r.returncode == 2, f"exit {r.returncode}"
        assert "test_batch.bin" in ev[-1]["reason"], ev[-1]


RESUME_SPEC = """
data: {dataset: synthetic, shape: [1, 12, 12], classes: 5, train_size: 640, test_size: 64, batch_size: 32,
       augment: [{random_crop: 2}, hflip]}
model: [flatten, {linear: 48}, gelu, {dropout: 0.3}, {linear: 5}]
optimizer: {name: adam, lr: 0.003, weight_decay: 0.01}
schedule: {name: cosine, warmup_steps: 10}
train: {epochs: 3, seed: 7, log_every: 1, threads: 1}
checkpoint: {every: 1, every_steps: 25, keep: 10}
"""


def train_losses(events):
    return {e["step"]: e["values"]["loss"] for e in events if e["type"] == "metric" and e["split"] == "train"}


@case
def resume_is_bit_identical():
    with tempfile.TemporaryDirectory() as d:
        spec = write(d, "spec.yaml", RESUME_SPEC)
        _, full = train(spec, "--out", os.path.join(d, "a"))
        ckpt = os.path.join(d, "a", "step-000000025.safetensors")
        assert os.path.exists(ckpt), "no step-25 checkpoint"
        _, resumed = train(spec, "--out", os.path.join(d, "b"), "--resume", ckpt)
        a, b = train_losses(full), train_losses(resumed)
        assert min(b) == 26, f"resumed run starts at step {min(b)}"
        diff = [s for s in b if a.get(s) != b[s]]
        assert not diff, f"losses differ from step {diff[0]}: {a.get(diff[0])!r} vs {b[diff[0]]!r}"
        assert final_test_accuracy(full) == final_test_accuracy(resumed)


@case
def sigterm_finishes_step_checkpoints_and_resumes():
    with tempfile.TemporaryDirectory() as d:
        spec = write(d, "spec.yaml", RESUME_SPEC.replace("epochs: 3", "epochs: 2000"))
        out = os.path.join(d, "run")
        p = subprocess.Popen([ENGINE, "worker", spec, "--out", out], stdout=subprocess.PIPE, text=True)
        events = []
        for line in p.stdout:
            events.append(json.loads(line))
            if events[-1]["type"] == "metric" and events[-1]["step"] >= 40:
                p.send_signal(signal.SIGTERM)
                break
        events += [json.loads(line) for line in p.stdout]
        rc = p.wait(timeout=60)
        assert rc == 0, f"worker exited {rc}"
        assert events[-1] == {"type": "status", "status": "stopped", "reason": events[-1].get("reason")}, events[-1]
        ckpts = [e for e in events if e["type"] == "checkpoint"]
        assert ckpts and os.path.exists(ckpts[-1]["path"]), "no checkpoint written on stop"
        stop_step = ckpts[-1]["step"]
        _, resumed = train(spec, "--out", out, "--resume", ckpts[-1]["path"], "--set", "train.max_steps=%d" % (stop_step + 5))
        steps = sorted(train_losses(resumed))
        assert steps[0] == stop_step + 1 and steps[-1] == stop_step + 5, steps
        assert resumed[-1]["status"] == "completed"


@case
def nan_loss_stops_with_diverged():
    with tempfile.TemporaryDirectory() as d:
        # lr 1000 is the most optimizer.lr allows (1e30 is refused as a typo since the bounds came in).
        spec = write(d, "spec.yaml", RESUME_SPEC.replace("{name: adam, lr: 0.003, weight_decay: 0.01}",
                                                          "{name: sgd, lr: 1000}"))
        r, ev = train(spec, "--out", d, check=False)
        assert r.returncode == 1, f"exit {r.returncode}"
        assert ev[-1]["status"] == "failed" and ev[-1]["reason"].startswith("diverged at step "), ev[-1]


@case
def events_are_ordered_and_complete():
    with tempfile.TemporaryDirectory() as d:
        spec = write(d, "spec.yaml", RESUME_SPEC.replace("log_every: 1", "log_every: 0"))
        _, ev = train(spec, "--out", d)
        # First the worker says it loads the data (and what it will take), then it runs.
        assert ev[0]["type"] == "status" and ev[0]["status"] == "running", ev[0]
        assert ev[0]["phase"] == "loading data" and "estimated peak memory" in ev[0]["reason"], ev[0]
        assert ev[1]["type"] == "status" and ev[1]["status"] == "running" and "phase" not in ev[1], ev[1]
        assert ev[1]["total_steps"] == 60 and ev[1]["steps_per_epoch"] == 20, ev[1]
        assert ev[-1] == {"type": "status", "status": "completed"}, ev[-1]
        assert ev[-2]["type"] == "summary" and ev[-2]["steps"] == 60, ev[-2]
        steps = [e["step"] for e in ev if e["type"] == "metric" and e["split"] == "train"]
        assert steps == sorted(steps) and steps[-1] == 60, steps
        evals = [e for e in ev if e["type"] == "evaluation"]
        assert len(evals) == 3 and len(evals[-1]["confusion"]) == 5, len(evals)
        assert sum(map(sum, evals[-1]["confusion"])) == 64
        kept = sorted(f for f in os.listdir(d) if f.startswith("step-") and ".state." not in f)
        assert kept, "no checkpoints kept"


@case
def missing_dataset_is_a_clear_error():
    with tempfile.TemporaryDirectory() as d:
        spec = write(d, "spec.yaml", "data: {dataset: fashion-mnist, path: /nonexistent/fm}\nmodel: mlp\n")
        r, ev = train(spec, "--out", d, check=False)
        assert r.returncode == 2, f"exit {r.returncode}"
        assert ev[-1]["status"] == "failed" and "/nonexistent/fm" in ev[-1]["reason"], ev[-1]


DP_SPEC = """
data: {dataset: synthetic, shape: [1, 10, 10], classes: 4, train_size: 512, test_size: 64, batch_size: 32,
       augment: [hflip]}
model: [flatten, {linear: 64}, relu, {linear: 32}, tanh, {linear: 4}]
optimizer: %s
train: {epochs: 1, max_steps: 10, seed: 3, log_every: 1, threads: 2, devices: %d}
checkpoint: {every: 1, keep: 1}
"""


def load_st(path):
    sys.path.insert(0, os.path.join(ROOT, "tests", "parity"))
    import st
    return st.load(path)[0]


def dp_case(optimizer, tol):
    import numpy as np
    with tempfile.TemporaryDirectory() as d:
        params = {}
        for devices in (1, 2):
            spec = write(d, f"dp{devices}.yaml", DP_SPEC % (optimizer, devices))
            out = os.path.join(d, f"out{devices}")
            env = dict(os.environ, TRAINBOOK_CHECK_REPLICAS="1")  # asserts replicas stay identical
            r = subprocess.run([ENGINE, "train", spec, "--json", "--out", out], capture_output=True, text=True,
                               env=env)
            assert r.returncode == 0, f"devices={devices}: {r.stderr.strip()[-400:]}"
            params[devices] = load_st(os.path.join(out, "step-000000010.safetensors"))
        for name, want in params[1].items():
            got = params[2][name]
            err = np.abs(got - want).max() / max(np.abs(want).max(), 1e-12)
            # Two half-batch gradient sums added vs one whole-batch sum: only the
            # summation order differs, a few ulps per step, compounding over 10 steps.
            assert err <= tol, f"{name}: 2 replicas differ from 1 by {err:.3g} (> {tol:g})"


@case
def data_parallel_two_replicas_match_one_sgd():
    dp_case("{name: sgd, lr: 0.05, momentum: 0.9}", 1e-5)


@case
def data_parallel_two_replicas_match_one_adam():
    # Adam divides by sqrt(v)+eps, which magnifies last-bit differences in small gradients.
    dp_case("{name: adam, lr: 0.001}", 1e-4)


@case
def profile_reports_where_step_time_goes():
    # TRAINBOOK_PROFILE=1: after the summary, a table of sections that partition the step,
    # and the numbers of a run without it.
    with tempfile.TemporaryDirectory() as d:
        spec = write(d, "spec.yaml", RESUME_SPEC)
        _, plain = train(spec, "--out", os.path.join(d, "a"), "--set", "train.max_steps=12")
        r = subprocess.run([ENGINE, "train", spec, "--json", "--out", os.path.join(d, "b"), "--set",
                            "train.max_steps=12"], capture_output=True, text=True,
                           env=dict(os.environ, TRAINBOOK_PROFILE="1"))
        assert r.returncode == 0, r.stderr[-400:]
        profiled = [json.loads(line) for line in r.stdout.splitlines()]
        assert train_losses(profiled) == train_losses(plain), "profiling changed the losses"
        lines = r.stderr.splitlines()
        head = [i for i, line in enumerate(lines) if line.startswith("profile: 10 steps after 2 warm-up")]
        assert head, "no profile header for 10 counted steps in: " + r.stderr[-400:]
        rows = {}
        for line in lines[head[0] + 2:]:
            if not line.startswith("  "):
                break
            name, calls, ms, share = line[:42].strip(), *line[42:].split()
            rows[name] = (float(calls), float(ms), float(share.rstrip("%")))
        for want, calls in (("linear forward", 2), ("linear backward", 2), ("gelu forward", 1),
                            ("dropout backward", 1), ("loss", 1), ("optimizer", 1)):
            assert want in rows and rows[want][0] == calls, f"row {want!r} with {calls} calls/step: {rows}"
        total = sum(share for _, _, share in rows.values())
        assert 99.0 <= total <= 101.0, f"the sections' shares add up to {total}%, not the whole step"


@case
def check_prints_layer_table():
    r = subprocess.run([ENGINE, "check", os.path.join(ROOT, "examples/fashion-mlp.yaml")], capture_output=True,
                       text=True)
    assert r.returncode == 0, r.stderr
    assert "total trainable parameters: 101,770" in r.stdout, r.stdout
    assert "[128]" in r.stdout


# ---- memory: the estimate, refusing what cannot fit, the budget, stop while loading ----

UNITS = {"bytes": 1, "KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30, "TiB": 1 << 40, "PiB": 1 << 50}


def estimated_peak(spec, *sets):
    """The total `trainbook check` prints ("estimated peak memory: 215 MiB (...)"), in bytes."""
    args = [ENGINE, "check", spec]
    for s in sets:
        args += ["--set", s]
    r = subprocess.run(args, capture_output=True, text=True)
    assert r.returncode == 0, f"check {os.path.basename(spec)}: {r.stderr.strip()}"
    line = next(l for l in r.stdout.splitlines() if l.startswith("estimated peak memory: "))
    value, unit = line.split(": ", 1)[1].split()[:2]
    return float(value) * UNITS[unit]


def measured_worker(args):
    """Run a worker; its exit code, stdout, stderr and peak RSS in bytes (getrusage ru_maxrss of
    this one child, from wait4: RUSAGE_CHILDREN would mix in earlier children)."""
    with tempfile.TemporaryFile() as err:
        p = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=err)
        out = p.stdout.read()
        _, status, usage = os.wait4(p.pid, 0)
        p.returncode = os.waitstatus_to_exitcode(status)
        err.seek(0)
        return p.returncode, out.decode(), err.read().decode(), usage.ru_maxrss * 1024


@case
def memory_estimate_within_25_percent_of_peak_rss():
    # Every example runs as written (device auto: on this CPU-only machine the worker loads
    # the CUDA module, looks for a GPU and trains on the CPU), cut to a few steps: every
    # buffer is allocated by the first step, and the final evaluation and checkpoint follow.
    # ResNet-18 reads CIFAR-10 from a small generated copy. The table goes to stderr.
    with tempfile.TemporaryDirectory() as d:
        os.makedirs(os.path.join(d, "cifar"))
        write_cifar(os.path.join(d, "cifar"))
        examples = sorted(f for f in os.listdir(os.path.join(ROOT, "examples")) if f.endswith(".yaml"))
        assert "fashion-mlp.yaml" in examples and "resnet18-cifar10.yaml" in examples, examples
        rows, bad = [], []
        # On a machine with a GPU, auto would put the model in GPU memory, where RSS does not see it.
        on_cpu = ["train.device=cpu"] if os.path.exists("/dev/nvidiactl") else []
        for name in examples:
            sets = ["train.max_steps=2", *on_cpu]
            if name == "resnet18-cifar10.yaml":
                sets.append("data.path=" + os.path.join(d, "cifar"))
            spec = os.path.join(ROOT, "examples", name)
            with open(spec) as f:
                if any(line.startswith("sweep:") for line in f):
                    sets.append("sweep=null")  # a sweep's base spec, as one run: its trials vary a few values
            est = estimated_peak(spec, *sets)
            args = [ENGINE, "worker", spec, "--out", os.path.join(d, name)]
            for s in sets:
                args += ["--set", s]
            rc, stdout, stderr, rss = measured_worker(args)
            assert rc == 0, f"{name}: worker exited {rc}: {stderr[-300:]}"
            assert json.loads(stdout.splitlines()[-1])["status"] == "completed", name
            rows.append((name, est, rss))
        for name, est, rss in rows:
            print(f"# {name:24s} estimate {est / 2**20:8.1f} MiB  measured {rss / 2**20:8.1f} MiB  "
                  f"{(est - rss) / rss * 100:+5.1f}%", file=sys.stderr)
            if not 0.75 * rss <= est <= 1.25 * rss:
                bad.append(f"{name}: estimate {est / 2**20:.1f} MiB vs peak RSS {rss / 2**20:.1f} MiB")
        assert not bad, "; ".join(bad)


@case
def check_refuses_what_cannot_fit():
    with tempfile.TemporaryDirectory() as d:
        spec = write(d, "big.yaml", "data: {dataset: synthetic, shape: [1, 4, 4]}\n"
                                    "model: [flatten, {linear: 16000000}, {linear: 16000000}, {linear: 10}]\n")
        r = subprocess.run([ENGINE, "check", spec], capture_output=True, text=True)
        assert r.returncode == 2, f"check exited {r.returncode}: {r.stdout[-300:]}"
        assert re.search(r"big.yaml:2:39: error: not enough memory: the run needs ~5\.5 PiB \(.*\), "
                         r"this machine has [0-9.]+ [GT]iB \(a run may use [0-9.]+ [GT]iB\)", r.stderr), r.stderr
        # The worker refuses it too, before it allocates anything (it used to abort on a 1 PB malloc).
        r, ev = train(spec, "--out", d, check=False)
        assert r.returncode == 2 and ev[-1]["status"] == "failed", (r.returncode, ev[-1:])
        assert ev[-1]["reason"].startswith("not enough memory: the run needs ~5.5 PiB"), ev[-1]
        # A budget below the estimate is refused the same way, naming it.
        small = write(d, "small.yaml", "data: {dataset: synthetic, shape: [1, 28, 28], train_size: 60000}\n"
                                       "model: mlp\ntrain: {device: cpu}\n")
        env = dict(os.environ, TRAINBOOK_MEMORY_LIMIT="64M")
        r = subprocess.run([ENGINE, "worker", small, "--out", d], capture_output=True, text=True, env=env)
        last = json.loads(r.stdout.splitlines()[-1])
        assert r.returncode == 2 and last["status"] == "failed", (r.returncode, last)
        assert "not enough memory: the run needs ~" in last["reason"] and "a run may use 64.0 MiB" in last["reason"], last


def write_png(path, w, h):
    """An RGB PNG of zeros, written with zlib alone (a 6000×6000 one is ~100 KB on disk)."""
    import struct
    import zlib
    raw = b"".join(b"\x00" + bytes(w * 3) for _ in range(h))
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)) +
                chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))


@case
def allocation_over_the_budget_fails_cleanly():
    # The estimate sizes an image folder's decode buffer from its first image; a later
    # 6000×6000 one needs 103 MiB more than estimated. With a 64 MiB budget that allocation
    # must end the run "failed", out of memory with what it needs, not SIGABRT.
    with tempfile.TemporaryDirectory() as d:
        for cls in ("a", "b"):
            os.makedirs(os.path.join(d, "imgs", cls))
            for i in range(4):
                write_png(os.path.join(d, "imgs", cls, f"{i}.png"), 8, 8)
        write_png(os.path.join(d, "imgs", "b", "9-large.png"), 6000, 6000)
        spec = write(d, "img.yaml", f"data: {{dataset: image-folder, path: {d}/imgs, shape: [3, 8, 8], batch_size: 4}}\n"
                                    "model: [flatten, {linear: 2}]\ntrain: {device: cpu}\n")
        env = dict(os.environ, TRAINBOOK_MEMORY_LIMIT="64M")
        r = subprocess.run([ENGINE, "worker", spec, "--out", os.path.join(d, "out")], capture_output=True, text=True,
                           env=env)
        assert r.returncode == 1, f"worker exited {r.returncode} (a signal is negative): {r.stderr[-300:]}"
        ev = [json.loads(line) for line in r.stdout.splitlines()]
        assert ev[0].get("phase") == "loading data", ev[0]
        assert ev[-1]["status"] == "failed", ev[-1]
        assert re.match(r"out of memory: the run needs ~10[0-9] MiB \(.* this worker may use 64\.0 MiB\)$",
                        ev[-1]["reason"]), ev[-1]


@case
def sigterm_while_loading_data_stops_at_once():
    # 100 million values to generate: seconds of loading. SIGTERM then must end the run
    # within a second, "stopped", without a step or a checkpoint (it used to load on,
    # train a step and checkpoint, or be killed by the server after --stop-timeout).
    with tempfile.TemporaryDirectory() as d:
        spec = write(d, "load.yaml", "data: {dataset: synthetic, shape: [1, 16, 16], train_size: 400000, batch_size: 1}\n"
                                     "model: [flatten, {linear: 10}]\ntrain: {device: cpu}\n")
        out = os.path.join(d, "run")
        p = subprocess.Popen([ENGINE, "worker", spec, "--out", out], stdout=subprocess.PIPE, text=True)
        time.sleep(0.5)
        sent = time.time()
        p.send_signal(signal.SIGTERM)
        events = [json.loads(line) for line in p.stdout]
        rc = p.wait(timeout=60)
        took = time.time() - sent
        assert rc == 0, f"worker exited {rc}"
        assert events and events[0].get("phase") == "loading data", events[:1]
        assert events[-1] == {"type": "status", "status": "stopped",
                              "reason": "stopped while loading the data, before any step"}, events[-1]
        assert took < 1.5, f"the worker took {took:.1f} s to stop"
        assert not os.path.exists(out) or not [f for f in os.listdir(out) if f.endswith(".safetensors")], out


def run_cases(cases, only):
    """Run the cases (those named in `only`, when given): a PASS/FAIL line each; 1 when any failed."""
    failed = 0
    for fn in cases:
        if only and fn.__name__ not in only:
            continue
        try:
            fn()
            print(f"PASS cli.{fn.__name__}", flush=True)
        except Exception as e:
            failed += 1
            print(f"FAIL cli.{fn.__name__}: {e}", flush=True)
            traceback.print_exc(file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(run_cases(CASES, sys.argv[1:]))
