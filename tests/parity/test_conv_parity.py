"""Convolutional layers and presets vs PyTorch (imported by test_parity.py).

Every conv layer kind on fresh random data: conv2d (padding, stride,
dilation, no bias, 1×1, batches large enough to run as several GEMMs),
batchnorm2d/1d in training and evaluation mode (with the running statistics
and num_batches_tracked compared after the step), max/avg pooling with
padding and overlapping windows, global average pooling, basic_block with
and without a projection shortcut, LeNet-5 and the cnn preset, and a full
CIFAR ResNet-18 (batch 4, identical weights): first-step outputs and
gradients within 1e-4, then batch-norm running statistics and parameters
after 5 SGD steps.

Batch-norm scales and shifts are drawn away from 1 and 0 before each run so
a dropped γ or β cannot pass unnoticed.
"""
import copy
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

import models

# The shared helpers (rng, engine runner, checks) live in test_parity, which
# normally runs as __main__; use that instance so the printed seed is the one used.
_main = sys.modules.get("__main__")
tp = _main if hasattr(_main, "run_engine") else __import__("test_parity")

CASES = []


def case(fn):
    CASES.append(fn)
    return fn


def perturb_batchnorm(module, running=False):
    """Random γ, β (and running statistics) in every batch-norm layer."""
    with torch.no_grad():
        for m in module.modules():
            if isinstance(m, nn.modules.batchnorm._BatchNorm):
                m.weight.copy_(torch.from_numpy(tp.rng.uniform(0.5, 1.5, m.num_features).astype(np.float32)))
                m.bias.copy_(torch.from_numpy(tp.rng.uniform(-0.5, 0.5, m.num_features).astype(np.float32)))
                if running:
                    m.running_mean.copy_(torch.from_numpy(tp.rng.uniform(-1, 1, m.num_features).astype(np.float32)))
                    m.running_var.copy_(torch.from_numpy(tp.rng.uniform(0.5, 2, m.num_features).astype(np.float32)))
                    m.num_batches_tracked.fill_(3)


def compare(module, model_yaml, in_shape, classes, batch, eval_mode=False, tol=1e-5, steps=1, running=False,
            sgd=None, attempts=3, accept_draw=None):
    """Run `model_yaml` in the engine and `module` in torch from the same weights and batch;
    compare logits, loss, input and parameter gradients, buffers and (steps > 1) parameters.

    Gradients of ReLU/max-pool networks are discontinuous: float rounding can
    put a value just below zero in one implementation and just above in the
    other, which changes a few gradient entries by O(1) while both are right.
    That happens on a small fraction of random batches (about a third for
    ResNet-18, far fewer for small models); a real discrepancy happens on every
    batch. So a case passes when one of `attempts` fresh batches (and
    batch-norm parameters) matches everywhere; `accept_draw(x)` may reject
    batches known to sit on a kink before they are run."""
    perturb_batchnorm(module, running)
    initial = {k: v.clone() for k, v in module.state_dict().items()}
    errors = []
    for _ in range(attempts):
        module.load_state_dict(initial)
        for _ in range(20):
            x = tp.rng.standard_normal((batch,) + tuple(in_shape)).astype(np.float32)
            if accept_draw is None or accept_draw(x):
                break
        y = tp.rng.integers(0, classes, batch)
        try:
            compare_once(module, model_yaml, in_shape, classes, x, y, eval_mode, tol, steps, sgd)
            return
        except AssertionError as e:
            errors.append(str(e))
            if str(e).startswith("engine failed"):
                break
    raise AssertionError("; ".join(f"batch {i + 1}: {e}" for i, e in enumerate(errors)))


def compare_once(module, model_yaml, in_shape, classes, x, y, eval_mode, tol, steps, sgd):
    optimizer = "{name: sgd, lr: 0.1}"
    opt = None
    if steps > 1:
        lr, momentum = sgd
        optimizer = f"{{name: sgd, lr: {lr}, momentum: {momentum}}}"
        opt = torch.optim.SGD(module.parameters(), lr=lr, momentum=momentum)
    spec = tp.spec_text(model_yaml, in_shape, classes, optimizer=optimizer)
    out = tp.run_engine(spec, module, x, y, steps=steps, eval_mode=eval_mode)
    first, losses = tp.torch_run(module, x, y, steps, F.cross_entropy, opt, eval_mode=eval_mode)
    tp.check("logits", out["logits"], first["logits"], tol)
    tp.check("loss", out["loss"][:1], losses[:1], tol)
    tp.check("input gradient", out["dx"], first["dx"], tol)
    for n, g in first["grads"].items():
        tp.check(f"grad {n}", out["grad." + n], g, tol)
    for n, b in module.named_buffers():
        got = out.get("buffer." + n)
        if got is None:
            raise AssertionError(f"engine wrote no buffer {n}")
        tp.check(f"buffer {n} after {steps} step(s)", got, b.numpy(), tol)
    if steps > 1:
        tp.check("loss trajectory", out["loss"], losses, tol)
        for n, p in module.named_parameters():
            tp.check(f"param {n} after {steps} steps", out["param." + n], p.detach().numpy(), tol)


def layers_case(name, layers, in_shape, classes=4, batch=6, **kw):
    def fn():
        module, model_yaml, _ = tp.build_pair(layers, in_shape)
        compare(module, model_yaml, in_shape, classes, batch, **kw)
    fn.__name__ = name
    CASES.append(fn)


HEAD = [("flatten", {}), ("linear", {"out": 4})]

layers_case("conv2d_padded_with_bias",
            [("conv2d", {"out": 6, "kernel": 3, "padding": 1}), ("relu", {})] + HEAD, (3, 8, 8))
layers_case("conv2d_stride_padding_dilation_no_bias",
            [("conv2d", {"out": 5, "kernel": 3, "stride": 2, "padding": 2, "dilation": 2, "bias": 0})] + HEAD,
            (2, 9, 9))
layers_case("conv2d_5x5_stride_3",
            [("conv2d", {"out": 4, "kernel": 5, "stride": 3, "padding": 1})] + HEAD, (3, 11, 10))
layers_case("conv2d_1x1_and_strided_1x1",
            [("conv2d", {"out": 4, "kernel": 1}), ("relu", {}),
             ("conv2d", {"out": 3, "kernel": 1, "stride": 2, "bias": 0})] + HEAD, (3, 6, 6))
layers_case("conv2d_batch_in_several_gemms",
            [("conv2d", {"out": 8, "kernel": 3, "padding": 1}), ("global_avgpool", {})] + HEAD, (32, 32, 32),
            batch=16)
BN2D = [("conv2d", {"out": 4, "kernel": 3, "padding": 1, "bias": 0}), ("batchnorm2d", {}), ("relu", {})] + HEAD
layers_case("batchnorm2d_train_and_running_stats", BN2D, (2, 6, 6), batch=8)
layers_case("batchnorm2d_eval", BN2D, (2, 6, 6), batch=8, eval_mode=True, running=True)
layers_case("batchnorm2d_momentum_eps",
            [("batchnorm2d", {"momentum": 0.3, "eps": 0.001})] + HEAD, (3, 4, 4), batch=5)
# No bias before batch norm: its true gradient is 0, and two roundings of 0 have no relative error.
BN1D = [("linear", {"out": 16, "bias": 0}), ("batchnorm1d", {}), ("relu", {}), ("linear", {"out": 5})]
layers_case("batchnorm1d_train_and_running_stats", BN1D, (12,), classes=5, batch=8)
layers_case("batchnorm1d_eval", BN1D, (12,), classes=5, batch=8, eval_mode=True, running=True)
layers_case("maxpool2d_padded_overlapping_then_2x2",
            [("conv2d", {"out": 3, "kernel": 3, "padding": 1}), ("maxpool2d", {"kernel": 3, "stride": 2, "padding": 1}),
             ("maxpool2d", {"kernel": 2})] + HEAD, (2, 12, 12))
layers_case("avgpool2d_padded_overlapping_then_2x2",
            [("conv2d", {"out": 3, "kernel": 3, "padding": 1}), ("avgpool2d", {"kernel": 3, "stride": 2, "padding": 1}),
             ("avgpool2d", {"kernel": 2})] + HEAD, (2, 12, 11))
layers_case("global_avgpool",
            [("conv2d", {"out": 5, "kernel": 3}), ("relu", {}), ("global_avgpool", {})] + HEAD, (2, 7, 9))


def blocks_module(in_ch, specs, classes):
    mods, ch = [], in_ch
    for out, stride in specs:
        mods.append(models.BasicBlock(ch, out, stride))
        ch = out
    return nn.Sequential(*mods, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(ch, classes))


def blocks_yaml(specs, classes):
    items = [f"{{basic_block: {{out: {o}, stride: {s}}}}}" for o, s in specs]
    return "[" + ", ".join(items + ["global_avgpool", "flatten", f"{{linear: {classes}}}"]) + "]"


def block_case(name, specs, in_shape, **kw):
    def fn():
        compare(blocks_module(in_shape[0], specs, 5), blocks_yaml(specs, 5), in_shape, 5, 4, **kw)
    fn.__name__ = name
    CASES.append(fn)


block_case("basic_block_projection_then_identity", [(8, 2), (8, 1)], (2, 8, 8))
block_case("basic_block_projection_without_stride", [(6, 1)], (3, 5, 5))
block_case("basic_block_eval", [(8, 2), (8, 1)], (2, 8, 8), eval_mode=True, running=True)


@case
def lenet5_preset():
    compare(models.LeNet5(1, 28, 28, 10), "lenet5", (1, 28, 28), 10, 8)


@case
def cnn_preset_eval():
    # Evaluation mode: dropout is the identity, so no mask needs to match.
    compare(models.CNN(1, 28, 28, 10), "cnn", (1, 28, 28), 10, 8, eval_mode=True, running=True)


def resnet_relu_margin(model, x):
    """Smallest |input| of any ReLU of a models.ResNet18 on x, in float64 and
    training mode (batch statistics), without touching the running statistics."""
    m = copy.deepcopy(model).double()
    with torch.no_grad():
        o = torch.tensor(x, dtype=torch.float64)
        pre = m.bn1(m.conv1(o))
        low = pre.abs().min().item()
        o = F.relu(pre)
        for layer in (m.layer1, m.layer2, m.layer3, m.layer4):
            for b in layer:
                inner = b.bn1(b.conv1(o))
                total = b.bn2(b.conv2(F.relu(inner))) + b.shortcut(o)
                low = min(low, inner.abs().min().item(), total.abs().min().item())
                o = F.relu(total)
    return low


@case
def resnet18_batch4_gradients_and_bn_stats_after_5_sgd_steps():
    # 4 × 3 × 32 × 32 inputs meet about four million ReLUs, and float32 rounding
    # reaches ~1e-5 at depth in both implementations: batches with an input
    # within 1e-6 of a kink are skipped, and a small learning rate keeps a
    # later-step kink from moving the 5-step statistics past the tolerance.
    module = models.ResNet18(3, 10)
    compare(module, "resnet18", (3, 32, 32), 10, 4, tol=1e-4, steps=5, sgd=(1e-4, 0.9), attempts=8,
            accept_draw=lambda x: resnet_relu_margin(module, x) > 1e-6)


if __name__ == "__main__":
    sys.exit(1 if tp.run_cases(CASES) else 0)
