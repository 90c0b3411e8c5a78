"""GPU training throughput: trainbook vs PyTorch eager vs torch.compile, on
one GPU, same model, same batch, same precision, plus the machine's bf16
GEMM ceiling and the share of it each system reaches.

    gpu_bench.py --trainbook TB.json --out RESULT.md [--budget SECONDS]
    gpu_bench.py --one MODEL BATCH MODE          (internal: one measurement, JSON on stdout)

Workloads (synthetic data held on the GPU, so PyTorch pays no loader cost;
trainbook's numbers include its host loader and upload, which makes the
ratios conservative for trainbook):
  - ResNet-18, CIFAR layout (tests/parity/models.py), 3x32x32, batch 128 and
    512, bf16 autocast, SGD momentum 0.9, weight decay 5e-4;
  - the Fashion-MNIST MLP 784-128-10, batch 64, fp32, Adam.
PyTorch modes: eager, torch.compile default, reduce-overhead (CUDA graphs),
max-autotune. Each runs in its own process with a deadline, so one slow
compile cannot eat the whole budget; what does not fit says so.

TB.json (written by tests/gpu/run.sh) maps workload keys ("resnet18_b128",
"resnet18_b512", "mlp_b64") to {"images_per_sec": x} or {"error": why},
plus "device_name". Timing only: nothing here passes or fails.
"""
import argparse
import datetime
import json
import os
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
WORKLOADS = [("resnet18", 128), ("resnet18", 512), ("mlp", 64)]
MODES = ["eager", "default", "reduce-overhead", "max-autotune"]
STEPS = {"resnet18": (15, 40), "mlp": (30, 400)}  # (warm-up, timed) steps


def build(model_name):
    import torch
    sys.path.insert(0, os.path.join(ROOT, "tests", "parity"))
    if model_name == "resnet18":
        from models import ResNet18
        return ResNet18(3, 10), (3, 32, 32), torch.bfloat16
    nn = torch.nn
    return nn.Sequential(nn.Flatten(), nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10)), (1, 28, 28), None


def measure_one(model_name, batch, mode):
    """Images/s of the training step (forward, loss, backward, optimizer) after warm-up."""
    import torch
    torch.manual_seed(0)
    dev = torch.device("cuda")
    model, shape, amp_dtype = build(model_name)
    model = model.to(dev).train()
    if model_name == "resnet18":
        opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=5e-4)
    else:
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    step_model = model if mode == "eager" else torch.compile(model, mode=None if mode == "default" else mode)
    xs = torch.randn(8, batch, *shape, device=dev)
    ys = torch.randint(0, 10, (8, batch), device=dev)

    def step(i):
        x, y = xs[i % 8], ys[i % 8]
        with torch.autocast("cuda", dtype=amp_dtype, enabled=amp_dtype is not None):
            loss = torch.nn.functional.cross_entropy(step_model(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return loss

    warm, timed = STEPS[model_name]
    t0 = time.perf_counter()
    for i in range(warm):
        step(i)
    torch.cuda.synchronize()
    compile_s = time.perf_counter() - t0
    torch.cuda.reset_peak_memory_stats()
    t0 = time.perf_counter()
    for i in range(timed):
        step(i)
    torch.cuda.synchronize()
    seconds = time.perf_counter() - t0
    return {"images_per_sec": timed * batch / seconds, "warmup_seconds": compile_s,
            "peak_mib": torch.cuda.max_memory_allocated() / 2**20}


def gemm_ceiling():
    """bf16 TFLOP/s of a large square matmul (cuBLASLt through torch.matmul)."""
    import torch
    n = 8192
    a = torch.randn(n, n, device="cuda", dtype=torch.bfloat16)
    b = torch.randn(n, n, device="cuda", dtype=torch.bfloat16)
    for _ in range(3):
        a @ b
    torch.cuda.synchronize()
    iters = 20
    t0 = time.perf_counter()
    for _ in range(iters):
        a @ b
    torch.cuda.synchronize()
    return 2 * n**3 * iters / (time.perf_counter() - t0) / 1e12


def train_flops_per_image(model_name, batch=32):
    """Forward + backward FLOPs per image, counted by PyTorch's FlopCounterMode."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode
    model, shape, _ = build(model_name)
    model = model.cuda().train()
    x = torch.randn(batch, *shape, device="cuda")
    y = torch.randint(0, 10, (batch,), device="cuda")
    counter = FlopCounterMode(display=False)
    with counter:
        torch.nn.functional.cross_entropy(model(x), y).backward()
    return counter.get_total_flops() / batch


def run_one_subprocess(model_name, batch, mode, deadline):
    remaining = deadline - time.time()
    if remaining < 20:
        return {"error": "skipped (time budget)"}
    try:
        out = subprocess.run([sys.executable, os.path.abspath(__file__), "--one", model_name, str(batch), mode],
                             capture_output=True, text=True, timeout=remaining)
    except subprocess.TimeoutExpired:
        return {"error": "timed out (time budget)"}
    for line in reversed(out.stdout.splitlines()):
        if line.startswith("{"):
            return json.loads(line)
    tail = (out.stderr or out.stdout).strip().splitlines()
    return {"error": "failed: " + (tail[-1][:120] if tail else "no output")}


def fmt(r):
    return "%.0f" % r["images_per_sec"] if r and "images_per_sec" in r else "—"


def ratio(a, b):
    if a and b and "images_per_sec" in a and "images_per_sec" in b and b["images_per_sec"] > 0:
        return "%.2f" % (a["images_per_sec"] / b["images_per_sec"])
    return "—"


def report(args):
    import torch
    deadline = time.time() + args.budget
    tb = {}
    if args.trainbook and os.path.exists(args.trainbook):
        with open(args.trainbook) as f:
            tb = json.load(f)
    device = torch.cuda.get_device_name(0)
    ceiling = gemm_ceiling()
    flops = {m: train_flops_per_image(m) for m in ("resnet18", "mlp")}
    results = {}
    # Cheapest first, so a tight budget still yields the eager and default-compile columns.
    for mode in MODES:
        for model_name, batch in WORKLOADS:
            key = "%s_b%d" % (model_name, batch)
            results[(key, mode)] = run_one_subprocess(model_name, batch, mode, deadline)
            print("  %-14s %-16s %s" % (key, mode, fmt(results[(key, mode)]) if "error" not in results[(key, mode)]
                                         else results[(key, mode)]["error"]), flush=True)

    lines = []
    lines.append("# GPU training throughput: trainbook vs PyTorch (%s)" % device)
    lines.append("")
    lines.append("Date %s; PyTorch %s, CUDA %s, cuDNN %s. Images/s of whole training steps after warm-up; "
                 "PyTorch reads synthetic data already on the GPU; so does trainbook (its data set is uploaded "
                 "once and batches are assembled on the GPU), replaying one CUDA graph per step."
                 % (datetime.date.today().isoformat(), torch.__version__, torch.version.cuda,
                    torch.backends.cudnn.version()))
    lines.append("")
    lines.append("| workload | precision | trainbook | eager | compile | reduce-overhead | max-autotune "
                 "| tb/eager | tb/best compiled | trainbook share of bf16 GEMM peak |")
    lines.append("|---|---|---|---|---|---|---|---|---|---|")
    for model_name, batch in WORKLOADS:
        key = "%s_b%d" % (model_name, batch)
        t = tb.get(key, {"error": "not run"})
        compiled = [results[(key, m)] for m in MODES[1:] if "images_per_sec" in results[(key, m)]]
        best = max(compiled, key=lambda r: r["images_per_sec"]) if compiled else None
        share = "—"
        if "images_per_sec" in t:
            share = "%.1f%%" % (100 * t["images_per_sec"] * flops[model_name] / (ceiling * 1e12))
        lines.append("| %s batch %d | %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
            "ResNet-18" if model_name == "resnet18" else "MLP 784-128-10", batch,
            "bf16" if model_name == "resnet18" else "fp32", fmt(t) if "images_per_sec" in t else t.get("error", "—"),
            fmt(results[(key, "eager")]), fmt(results[(key, "default")]), fmt(results[(key, "reduce-overhead")]),
            fmt(results[(key, "max-autotune")]), ratio(t, results[(key, "eager")]), ratio(t, best), share))
    lines.append("")
    lines.append("bf16 GEMM ceiling (8192³ torch.matmul, cuBLASLt): %.1f TFLOP/s. Training FLOPs per image "
                 "(FlopCounterMode, forward + backward): ResNet-18 %.2f GFLOP, MLP %.3f MFLOP."
                 % (ceiling, flops["resnet18"] / 1e9, flops["mlp"] / 1e6))
    extra = sorted(k for k in tb if k not in {"%s_b%d" % w for w in WORKLOADS})
    if extra:
        lines.append("")
        lines.append("trainbook variants (`_eager`: TRAINBOOK_CUDA_GRAPH=0 TRAINBOOK_GPU_DATA=0, i.e. host loader, "
                     "upload and one launch per operation):")
        lines.append("")
        lines.append("| run | images/s |")
        lines.append("|---|---|")
        for k in extra:
            lines.append("| %s | %s |" % (k, fmt(tb[k]) if "images_per_sec" in tb[k] else tb[k].get("error", "—")))
    notes = [(k, m, r["error"]) for (k, m), r in results.items() if "error" in r]
    if notes:
        lines.append("")
        lines.append("Not measured: " + "; ".join("%s %s: %s" % n for n in notes) + ".")
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
        with open(args.out, "w") as f:
            f.write(text)
        print("wrote %s" % args.out)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--trainbook", help="trainbook results (JSON) from tests/gpu/run.sh")
    p.add_argument("--out", help="Markdown file for the table")
    p.add_argument("--budget", type=float, default=300, help="seconds for all PyTorch measurements")
    p.add_argument("--one", nargs=3, metavar=("MODEL", "BATCH", "MODE"), help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.one:
        print(json.dumps(measure_one(args.one[0], int(args.one[1]), args.one[2])))
        return 0
    report(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
