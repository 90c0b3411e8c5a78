"""CPU training throughput: trainbook vs Debian PyTorch, same machine, same
run, same thread count, same recipe, one epoch each, side by side.

For each model (the Fashion-MNIST MLP recipe; the CNN and ResNet-18 when
--conv is given) it reports images/s of the training loop and the test
accuracy reached, for trainbook and for two PyTorch loops:
  - "torch DataLoader": the idiomatic script (TensorDataset + DataLoader,
    shuffle=True), what most users run;
  - "torch tight loop": the fastest plain PyTorch loop (data pre-loaded as
    one tensor, batches by index slicing), to be fair to PyTorch.
Ratios are trainbook / torch. Timing only: nothing here passes or fails.
Writes a Markdown table to tests/bench/results/cpu-<date>.md (--out to
choose), with the load average before and after and OPENBLAS_CORETYPE.

On a shared machine single runs are noisy, two-thread runs above all (a
thread the OS parks holds up every barrier): --repeat N runs each pair N
times, trainbook and torch alternating, and reports medians and the range
of the ratio. --models picks a subset (mlp, cnn, resnet18).
"""
import argparse
import datetime
import gzip
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tests", "parity"))
import models  # noqa: E402  (the PyTorch modules matching trainbook's presets)
ENGINE = os.path.join(ROOT, "build", "trainbook-engine")
FASHION = "/usr/share/datasets/fashion-mnist/"


def idx(path, offset):
    with gzip.open(path) as f:
        return np.frombuffer(f.read(), np.uint8, offset=offset)


def fashion():
    xtr = idx(FASHION + "train-images-idx3-ubyte.gz", 16).reshape(-1, 1, 28, 28).astype(np.float32) / 255
    ytr = idx(FASHION + "train-labels-idx1-ubyte.gz", 8).astype(np.int64)
    xte = idx(FASHION + "t10k-images-idx3-ubyte.gz", 16).reshape(-1, 1, 28, 28).astype(np.float32) / 255
    yte = idx(FASHION + "t10k-labels-idx1-ubyte.gz", 8).astype(np.int64)
    mean, std = xtr.mean(), xtr.std()
    return [torch.from_numpy(a) for a in ((xtr - mean) / std, ytr, (xte - mean) / std, yte)]


def mlp():
    nn = torch.nn
    return nn.Sequential(nn.Flatten(), nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10))


def torch_resnet18_throughput(threads, batch=32, steps=30):
    """ResNet-18 on synthetic CIFAR-shaped data: SGD steps per second, after 3 warm-up steps."""
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    model = models.ResNet18()
    opt = torch.optim.SGD(model.parameters(), 0.05, momentum=0.9)
    x = torch.randn(batch, 3, 32, 32)
    y = torch.randint(0, 10, (batch,))
    model.train()
    for step in range(steps + 3):
        if step == 3:
            t0 = time.perf_counter()
        loss = torch.nn.functional.cross_entropy(model(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return steps * batch / (time.perf_counter() - t0)


def torch_epoch(make_model, data, batch, threads, loader_kind, max_steps=None):
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    xtr, ytr, xte, yte = data
    model = make_model()
    opt = torch.optim.Adam(model.parameters(), 1e-3)
    steps = (len(xtr) + batch - 1) // batch if not max_steps else max_steps
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=steps)
    model.train()
    if loader_kind == "dataloader":
        loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(xtr, ytr), batch_size=batch, shuffle=True)
        batches = iter(loader)
    else:
        perm = torch.randperm(len(xtr))
        batches = ((xtr[perm[i:i + batch]], ytr[perm[i:i + batch]]) for i in range(0, len(xtr), batch))
    t0, n = time.perf_counter(), 0
    for step, (x, y) in enumerate(batches):
        if step == steps:
            break
        loss = torch.nn.functional.cross_entropy(model(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        n += len(x)
    seconds = time.perf_counter() - t0
    model.eval()
    with torch.no_grad():
        acc = sum((model(xte[i:i + 1000]).argmax(1) == yte[i:i + 1000]).sum().item()
                  for i in range(0, len(xte), 1000)) / len(xte)
    return n / seconds, acc


def trainbook_epoch(spec, threads, extra=()):
    with tempfile.TemporaryDirectory() as d:
        r = subprocess.run([ENGINE, "train", spec, "--json", "--out", d, "--set", "train.epochs=1",
                            "--set", f"train.threads={threads}", *extra], capture_output=True, text=True)
        if r.returncode != 0:
            raise SystemExit(f"trainbook failed: {r.stderr}")
        events = [json.loads(line) for line in r.stdout.splitlines()]
        summary = [e for e in events if e["type"] == "summary"][0]
        tests = [e for e in events if e["type"] == "metric" and e["split"] == "test"]
        return summary["images_per_sec"], tests[-1]["values"]["accuracy"] if tests else float("nan")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--conv", action="store_true", help="also the CNN (Fashion-MNIST) and ResNet-18 (synthetic)")
    ap.add_argument("--models", default=None,
                    help="comma-separated subset of mlp,cnn,resnet18 (default: mlp, plus cnn,resnet18 with --conv)")
    ap.add_argument("--repeat", type=int, default=1,
                    help="run each pair this many times, alternating trainbook and torch, and report the medians")
    ap.add_argument("--out", default=None, help="results file (default tests/bench/results/cpu-<date>.md)")
    args = ap.parse_args()
    models_wanted = set((args.models or ("mlp,cnn,resnet18" if args.conv else "mlp")).split(","))
    data = fashion()
    cnn_set = ("--set", "train.max_steps=300", "--set", "data.batch_size=64", "--set", "data.augment=[normalize]",
               "--set", "optimizer={name: adam, lr: 1.0e-3}", "--set", "schedule=cosine")
    # (name, [(torch loop, trainbook run, torch run)]): each run returns (img/s, accuracy).
    pairs = {
        "mlp": ("MLP 784-128-10, batch 64",
                [(kind, lambda t: trainbook_epoch(os.path.join(ROOT, "examples/fashion-mlp.yaml"), t),
                  lambda t, kind=kind: torch_epoch(mlp, data, 64, t, kind)) for kind in ("dataloader", "tight")]),
        # The CNN with the same recipe on both sides: batch 64, Adam, cosine, no augmentation.
        "cnn": ("CNN (cnn preset), batch 64, 300 steps",
                [("tight", lambda t: trainbook_epoch(os.path.join(ROOT, "examples/fashion-cnn.yaml"), t, cnn_set),
                  lambda t: torch_epoch(models.CNN, data, 64, t, "tight", max_steps=300))]),
        "resnet18": ("ResNet-18, synthetic 3x32x32, batch 32, 30 steps",
                     [("tight", lambda t: (trainbook_epoch(os.path.join(ROOT, "tests/bench/resnet18-synthetic.yaml"), t,
                                                           ("--set", "train.max_steps=30"))[0], float("nan")),
                       lambda t: (torch_resnet18_throughput(t), float("nan")))]),
    }
    load_before = os.getloadavg()
    rows = []
    for threads in [int(t) for t in args.threads.split(",")]:
        for key in ("mlp", "cnn", "resnet18"):
            if key not in models_wanted:
                continue
            name, runs = pairs[key]
            for kind, tb_run, torch_run in runs:
                tb, th = [], []
                for _ in range(args.repeat):  # interleaved, so a burst of load hits both sides
                    tb.append(tb_run(threads))
                    th.append(torch_run(threads))
                ratio = statistics.median(a[0] / b[0] for a, b in zip(tb, th))
                med = lambda runs, i: statistics.median(r[i] for r in runs)  # noqa: E731
                rows.append((name, threads, kind, med(tb, 0), med(tb, 1), med(th, 0), med(th, 1), ratio,
                             min(a[0] / b[0] for a, b in zip(tb, th)), max(a[0] / b[0] for a, b in zip(tb, th))))
    load_after = os.getloadavg()
    coretype = os.environ.get("OPENBLAS_CORETYPE", "auto-detected")
    lines = [f"# CPU training throughput, {platform.node()}, {datetime.date.today()}",
             "",
             f"CPU: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; torch {torch.__version__}; "
             f"OpenBLAS kernels: {coretype}",
             f"Load average (1/5/15 min) before: {load_before[0]:.2f} {load_before[1]:.2f} {load_before[2]:.2f}, "
             f"after: {load_after[0]:.2f} {load_after[1]:.2f} {load_after[2]:.2f}",
             "MLP: one epoch of Fashion-MNIST (accuracy = test accuracy after it); CNN: 300 steps.",
             f"Each pair run {args.repeat}x, trainbook and torch alternating; medians, and the ratio's range.",
             "",
             "| model | threads | torch loop | trainbook img/s | trainbook acc | torch img/s | torch acc | ratio | ratio range |",
             "|---|---|---|---|---|---|---|---|---|"]
    for name, threads, kind, a, aacc, b, bacc, ratio, lo, hi in rows:
        lines.append(f"| {name} | {threads} | {kind} | {a:,.0f} | {aacc:.4f} | {b:,.0f} | {bacc:.4f} | {ratio:.2f}x "
                     f"| {lo:.2f}–{hi:.2f} |")
    text = "\n".join(lines) + "\n"
    print(text)
    out = args.out or os.path.join(ROOT, f"tests/bench/results/cpu-{datetime.date.today()}.md")
    os.makedirs(os.path.dirname(out), exist_ok=True)
    with open(out, "w") as f:
        f.write(text)

if __name__ == "__main__":
    main()
