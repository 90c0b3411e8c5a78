"""Engine vs PyTorch parity (Debian python3-torch, run under /usr/bin/python3).

Each case builds the same model twice — as a trainbook spec run by
`trainbook-engine parity` and as a torch.nn module with identical weights —
on fresh random inputs (seeded from the clock; the seed is printed on
failure), then compares forward outputs, the loss, the input gradient,
every parameter gradient and, for trajectories, the losses and parameters
after N optimizer steps.

Tolerance: relative error max|a-b| / max|b| ≤ 1e-5 for single forward and
backward passes. Trajectories of 20 steps use 1e-4 for parameters: each
Adam step divides by sqrt(v) + eps, which amplifies last-bit differences in
summation order (OpenBLAS vs PyTorch's kernels) by up to lr/eps per step,
and these compound over steps.

Prints one "PASS name" / "FAIL name: why" line per case.
"""
import copy
import os
import subprocess
import sys
import tempfile
import time
import traceback

import numpy as np
import torch

import st

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ENGINE = os.environ.get("TRAINBOOK_ENGINE", os.path.join(ROOT, "build", "trainbook-engine"))
SEED = int(os.environ.get("PARITY_SEED", time.time_ns() % (1 << 31)))
rng = np.random.default_rng(SEED)
torch.manual_seed(SEED)
torch.set_num_threads(1)

CASES = []


def case(fn):
    CASES.append(fn)
    return fn


# ---- layer lists: one description, two realisations ------------------------

def yaml_layer(kind, args):
    if not args:
        return kind
    inner = ", ".join(f"{k}: {v}" for k, v in args.items())
    return f"{{{kind}: {{{inner}}}}}"


def torch_layer(kind, args, shape):
    """Return (module, output shape) for one layer on per-sample `shape`."""
    nn = torch.nn
    if kind == "flatten":
        return nn.Flatten(), (int(np.prod(shape)),)
    if kind == "linear":
        return nn.Linear(shape[0], args["out"], bias=bool(args.get("bias", 1))), (args["out"],)
    if kind in ("relu", "gelu", "tanh", "sigmoid"):
        return {"relu": nn.ReLU, "gelu": nn.GELU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid}[kind](), shape
    if kind == "leaky_relu":
        return nn.LeakyReLU(args.get("slope", 0.01)), shape
    if kind == "dropout":
        return nn.Dropout(args.get("p", 0.5)), shape
    if kind == "conv2d":
        k, s, p, d = args.get("kernel", 3), args.get("stride", 1), args.get("padding", 0), args.get("dilation", 1)
        conv = nn.Conv2d(shape[0], args["out"], k, s, p, d, bias=bool(args.get("bias", 1)))
        h = (shape[1] + 2 * p - d * (k - 1) - 1) // s + 1
        w = (shape[2] + 2 * p - d * (k - 1) - 1) // s + 1
        return conv, (args["out"], h, w)
    if kind in ("batchnorm2d", "batchnorm1d"):
        cls = nn.BatchNorm2d if kind == "batchnorm2d" else nn.BatchNorm1d
        return cls(shape[0], eps=args.get("eps", 1e-5), momentum=args.get("momentum", 0.1)), shape
    if kind in ("maxpool2d", "avgpool2d"):
        k = args.get("kernel", 2)
        s = args.get("stride", k) or k
        p = args.get("padding", 0)
        cls = nn.MaxPool2d if kind == "maxpool2d" else nn.AvgPool2d
        h = (shape[1] + 2 * p - k) // s + 1
        w = (shape[2] + 2 * p - k) // s + 1
        return cls(k, s, p), (shape[0], h, w)
    if kind == "global_avgpool":
        return nn.AdaptiveAvgPool2d(1), (shape[0], 1, 1)
    raise ValueError(kind)


def build_pair(layers, in_shape):
    mods, shape = [], tuple(in_shape)
    for kind, args in layers:
        mod, shape = torch_layer(kind, args, shape)
        mods.append(mod)
    model_yaml = "[" + ", ".join(yaml_layer(k, a) for k, a in layers) + "]"
    return torch.nn.Sequential(*mods), model_yaml, shape


def spec_text(model_yaml, in_shape, classes, optimizer="{name: sgd, lr: 0.1}", loss="cross_entropy",
              schedule="constant"):
    shape = list(in_shape) if len(in_shape) == 3 else [in_shape[0], 1, 1]
    return (f"data: {{dataset: synthetic, shape: {shape}, classes: {classes}}}\n"
            f"model: {model_yaml}\n"
            f"loss: {loss}\n"
            f"optimizer: {optimizer}\n"
            f"schedule: {schedule}\n"
            f"train: {{threads: 1, seed: 1}}\n")


def run_engine(spec, module, x, y, steps=1, eval_mode=False):
    with tempfile.TemporaryDirectory() as d:
        paths = {k: os.path.join(d, k) for k in ("spec.yaml", "w.safetensors", "in.safetensors", "out.safetensors")}
        with open(paths["spec.yaml"], "w") as f:
            f.write(spec)
        state = {k: v.detach().numpy() for k, v in module.state_dict().items()}
        st.save(paths["w.safetensors"], state)
        st.save(paths["in.safetensors"], {"x": x.astype(np.float32), "y": y.astype(np.int64)})
        cmd = [ENGINE, "parity", "--spec", paths["spec.yaml"], "--weights", paths["w.safetensors"],
               "--input", paths["in.safetensors"], "--out", paths["out.safetensors"], "--steps", str(steps)]
        if eval_mode:
            cmd.append("--eval")
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode != 0:
            raise AssertionError(f"engine failed ({r.returncode}): {r.stderr.strip()}")
        out, _ = st.load(paths["out.safetensors"])
        return out


def rel_err(got, want):
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    if got.shape != want.shape:
        raise AssertionError(f"shape {got.shape} != {want.shape}")
    scale = max(np.abs(want).max(initial=0.0), 1e-12)
    return np.abs(got - want).max(initial=0.0) / scale


def check(what, got, want, tol):
    e = rel_err(got, want)
    if not e <= tol:
        raise AssertionError(f"{what}: relative error {e:.3g} > {tol:g}")


def make_optimizer(name, params, **kw):
    return {"sgd": torch.optim.SGD, "adam": torch.optim.Adam, "adamw": torch.optim.AdamW,
            "rmsprop": torch.optim.RMSprop}[name](params, **kw)


def torch_run(module, x, y, steps, loss_fn, opt=None, sched=None, clip=None, eval_mode=False):
    module.train(not eval_mode)
    xt = torch.tensor(x, requires_grad=True)
    yt = torch.tensor(y, dtype=torch.int64)
    losses, first = [], None
    for step in range(steps):
        if xt.grad is not None:
            xt.grad = None
        out = module(xt)
        loss = loss_fn(out, yt)
        module.zero_grad()
        loss.backward()
        losses.append(loss.item())
        if step == 0:
            first = {"logits": out.detach().numpy().copy(), "dx": xt.grad.numpy().copy(),
                     "grads": {n: p.grad.numpy().copy() for n, p in module.named_parameters()}}
        if steps > 1:
            if clip:
                torch.nn.utils.clip_grad_norm_(module.parameters(), clip)
            opt.step()
            if sched:
                sched.step()
    return first, np.array(losses, np.float32)


def compare_pass(name_layers, in_shape, classes, batch=8, loss="cross_entropy", eval_mode=False, tol=1e-5,
                 label_smoothing=0.0):
    module, model_yaml, _ = build_pair(name_layers, in_shape)
    x = rng.standard_normal((batch,) + tuple(in_shape)).astype(np.float32)
    y = rng.integers(0, classes, batch)
    loss_yaml = loss if not label_smoothing else f"{{name: cross_entropy, label_smoothing: {label_smoothing}}}"
    spec = spec_text(model_yaml, in_shape, classes, loss=loss_yaml)
    out = run_engine(spec, module, x, y, eval_mode=eval_mode)
    if loss == "mse":
        loss_fn = lambda o, t: torch.nn.functional.mse_loss(o, torch.nn.functional.one_hot(t, classes).float())
    else:
        loss_fn = lambda o, t: torch.nn.functional.cross_entropy(o, t, label_smoothing=label_smoothing)
    first, losses = torch_run(module, x, y, 1, loss_fn, eval_mode=eval_mode)
    check("logits", out["logits"], first["logits"], tol)
    check("loss", out["loss"], losses, tol)
    check("input gradient", out["dx"], first["dx"], tol)
    for n, g in first["grads"].items():
        check(f"grad {n}", out["grad." + n], g, tol)


MLP = [("flatten", {}), ("linear", {"out": 32}), ("relu", {}), ("linear", {"out": 10})]
# The optimizer and schedule trajectories train a smooth model: with ReLU, a
# hidden unit whose input crosses 0 at a rounding error's distance takes
# the other branch in one of the two runs, and 20 steps of Adam carry that
# into a 2% difference in its weights (PARITY_SEED=59 did, one seed in 150).
# That is the kink, not the optimizer; ReLU's own gradients are compared
# per pass above.
SMOOTH_MLP = [("flatten", {}), ("linear", {"out": 32}), ("tanh", {}), ("linear", {"out": 10})]


@case
def linear_relu_cross_entropy():
    compare_pass(MLP, (1, 6, 6), 10)


@case
def linear_without_bias():
    compare_pass([("linear", {"out": 16, "bias": 0}), ("tanh", {}), ("linear", {"out": 5})], (12,), 5)


def activation_case(kind, args=None):
    def fn():
        compare_pass([("linear", {"out": 24}), (kind, args or {}), ("linear", {"out": 7})], (20,), 7)
    fn.__name__ = f"activation_{kind}"
    return fn


for _kind, _args in (("relu", None), ("gelu", None), ("tanh", None), ("sigmoid", None),
                     ("leaky_relu", {"slope": 0.1})):
    case(activation_case(_kind, _args))


@case
def dropout_eval_is_identity():
    compare_pass([("linear", {"out": 24}), ("dropout", {"p": 0.5}), ("relu", {}), ("linear", {"out": 4})],
                 (10,), 4, eval_mode=True)


@case
def cross_entropy_label_smoothing():
    compare_pass(MLP, (1, 5, 5), 10, label_smoothing=0.1)


@case
def mse_loss():
    compare_pass([("linear", {"out": 16}), ("sigmoid", {}), ("linear", {"out": 6})], (9,), 6, loss="mse")


def check_trajectory(what, got, runs, tol):
    """runs: PyTorch's float32 run, its float64 run, then float32 runs whose inputs moved by an ulp.
    `got` passes within tol of the first, or no further from the float64 trajectory than twice the
    furthest float32 run. A trajectory can magnify rounding: Adam and RMSprop divide a gradient by
    its own running size, so where one hovers near zero, or in RMSprop's first large steps, an ulp
    can grow into 1e-3 (PARITY_SEED=24's rmsprop: PyTorch's float32 run lands 1e-5 from float64, the
    same run with inputs an ulp apart up to 1.5e-3, ours 2.5e-4). Any float32 implementation strays
    that far; a wrong formula strays further, on every seed."""
    want, exact, others = runs[0], runs[1], runs[2:]
    e = rel_err(got, want)
    if e <= tol:
        return
    ours = rel_err(got, exact)
    floor = max(rel_err(r, exact) for r in [want] + others)
    if not ours <= 2 * floor:
        raise AssertionError(f"{what}: relative error {e:.3g} > {tol:g}; from PyTorch's float64 run {ours:.3g},"
                             f" where its float32 runs are up to {floor:.3g}")


def trajectory(opt_name, opt_yaml, torch_kw, steps=20, sched_yaml="constant", make_sched=None, clip=None,
               tol=1e-4, layers=None, in_shape=(1, 8, 8), classes=10, batch=16):
    module, model_yaml, _ = build_pair(layers or SMOOTH_MLP, in_shape)
    start = copy.deepcopy(module)
    x = rng.standard_normal((batch,) + tuple(in_shape)).astype(np.float32)
    y = rng.integers(0, classes, batch)
    if clip:
        opt_yaml = opt_yaml[:-1] + f", grad_clip: {clip}}}"
    spec = spec_text(model_yaml, in_shape, classes, optimizer=opt_yaml, schedule=sched_yaml)
    out = run_engine(spec, module, x, y, steps=steps)
    ulp = np.random.default_rng(SEED + 1)  # its own stream: the cases' inputs stay as they were
    variants = [(torch.float32, x), (torch.float64, x.astype(np.float64))] + [
        (torch.float32, (x * (1 + ulp.choice([-1, 1], x.shape) * 2.0 ** -23)).astype(np.float32)) for _ in range(3)]
    losses, params = [], []
    for dtype, inputs in variants:
        m = copy.deepcopy(start).to(dtype)
        opt = make_optimizer(opt_name, m.parameters(), **torch_kw)
        sched = make_sched(opt) if make_sched else None
        losses.append(torch_run(m, inputs, y, steps, torch.nn.functional.cross_entropy, opt, sched, clip)[1])
        params.append({n: p.detach().double().numpy() for n, p in m.named_parameters()})
    check_trajectory("loss trajectory", out["loss"], losses, tol)
    for n in params[0]:
        check_trajectory(f"param {n} after {steps} steps", out["param." + n], [p[n] for p in params], tol)


@case
def sgd_plain_trajectory():
    trajectory("sgd", "{name: sgd, lr: 0.05}", {"lr": 0.05})


@case
def sgd_momentum_weight_decay_trajectory():
    trajectory("sgd", "{name: sgd, lr: 0.05, momentum: 0.9, dampening: 0.1, weight_decay: 0.01}",
               {"lr": 0.05, "momentum": 0.9, "dampening": 0.1, "weight_decay": 0.01})


@case
def sgd_nesterov_trajectory():
    trajectory("sgd", "{name: sgd, lr: 0.05, momentum: 0.9, nesterov: true}",
               {"lr": 0.05, "momentum": 0.9, "nesterov": True})


@case
def adam_mlp_20_step_trajectory():
    trajectory("adam", "{name: adam, lr: 0.001}", {"lr": 1e-3})


@case
def adam_weight_decay_trajectory():
    trajectory("adam", "{name: adam, lr: 0.002, weight_decay: 0.05, beta1: 0.8, beta2: 0.99, eps: 1.0e-6}",
               {"lr": 2e-3, "weight_decay": 0.05, "betas": (0.8, 0.99), "eps": 1e-6})


@case
def adamw_trajectory():
    trajectory("adamw", "{name: adamw, lr: 0.001, weight_decay: 0.1}", {"lr": 1e-3, "weight_decay": 0.1})


@case
def rmsprop_trajectory():
    trajectory("rmsprop", "{name: rmsprop, lr: 0.001}", {"lr": 1e-3})


@case
def rmsprop_momentum_centered_weight_decay_trajectory():
    trajectory("rmsprop", "{name: rmsprop, lr: 0.001, alpha: 0.9, eps: 1.0e-6, momentum: 0.8, centered: true,"
               " weight_decay: 0.01}",
               {"lr": 1e-3, "alpha": 0.9, "eps": 1e-6, "momentum": 0.8, "centered": True, "weight_decay": 0.01})


@case
def grad_clip_trajectory():
    trajectory("sgd", "{name: sgd, lr: 0.1, momentum: 0.9}", {"lr": 0.1, "momentum": 0.9}, clip=0.05)


@case
def cosine_schedule_trajectory():
    # Our cosine runs per step over the whole run: CosineAnnealingLR(T_max=steps) stepped every step.
    trajectory("sgd", "{name: sgd, lr: 0.1}", {"lr": 0.1}, sched_yaml="cosine",
               make_sched=lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=20))


@case
def onecycle_schedule_trajectory():
    trajectory("sgd", "{name: sgd, lr: 0.1, momentum: 0.9}", {"lr": 0.1, "momentum": 0.9},
               sched_yaml="{name: onecycle, max_lr: 0.2}",
               make_sched=lambda o: torch.optim.lr_scheduler.OneCycleLR(o, max_lr=0.2, total_steps=20,
                                                                       cycle_momentum=False))


def run_cases(cases):
    failed = 0
    for fn in cases:
        try:
            fn()
            print(f"PASS parity.{fn.__name__}", flush=True)
        except Exception as e:  # a failing case must not stop the others
            failed += 1
            print(f"FAIL parity.{fn.__name__}: {e} (PARITY_SEED={SEED})", flush=True)
            traceback.print_exc(file=sys.stderr)
    return failed


if __name__ == "__main__":
    import test_checkpoint  # noqa: F401  (registers the checkpoint cases)
    extra = []
    try:
        import test_conv_parity  # noqa: F401  (conv layers, when present)
        extra = getattr(test_conv_parity, "CASES", [])
    except ImportError:
        pass
    sys.exit(1 if run_cases(CASES + test_checkpoint.CASES + extra) else 0)
