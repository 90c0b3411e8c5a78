"""A trainbook checkpoint loads into the equivalent torch.nn module
(load_state_dict, strict) and gives the same test accuracy trainbook
reported. Uses the real Fashion-MNIST test set."""
import gzip
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import torch

import st
from test_parity import ENGINE

CASES = []

FASHION = "/usr/share/datasets/fashion-mnist/"


def _idx(path, offset):
    with gzip.open(path) as f:
        return np.frombuffer(f.read(), np.uint8, offset=offset)


def _train(d, spec_text):
    """Train `spec_text` in folder d: (the last test metric event, the last checkpoint's path)."""
    spec = os.path.join(d, "spec.yaml")
    with open(spec, "w") as f:
        f.write(spec_text)
    r = subprocess.run([ENGINE, "train", spec, "--json", "--out", d], capture_output=True, text=True)
    assert r.returncode == 0, f"train failed: {r.stderr.strip()}"
    events = [json.loads(line) for line in r.stdout.splitlines()]
    test = [e for e in events if e["type"] == "metric" and e["split"] == "test"][-1]
    return test, [e for e in events if e["type"] == "checkpoint"][-1]["path"]


def checkpoint_loads_into_torch_with_same_accuracy():
    with tempfile.TemporaryDirectory() as d:
        test, ckpt = _train(d, "data: {dataset: fashion-mnist, batch_size: 64}\n"
                               "model: [flatten, {linear: 128}, relu, {linear: 10}]\n"
                               "optimizer: {name: adam, lr: 1.0e-3}\n"
                               "train: {epochs: 1, max_steps: 300, seed: 3}\n")
        tensors, meta = st.load(ckpt)
        assert meta.get("format") == "pt", meta
        model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(784, 128), torch.nn.ReLU(),
                                    torch.nn.Linear(128, 10))
        model.load_state_dict({k: torch.from_numpy(v) for k, v in tensors.items()}, strict=True)
        x = torch.from_numpy(_idx(FASHION + "t10k-images-idx3-ubyte.gz", 16).reshape(-1, 1, 28, 28) / np.float32(255))
        y = torch.from_numpy(_idx(FASHION + "t10k-labels-idx1-ubyte.gz", 8).astype(np.int64))
        with torch.no_grad():
            acc = (model(x.float()).argmax(1) == y).float().mean().item()
        reported = test["values"]["accuracy"]
        # Identical weights and inputs; only a near-tie between two logits could flip one sample.
        assert abs(acc - reported) <= 2e-4, f"torch accuracy {acc:.4f} != trainbook {reported:.4f}"


CASES.append(checkpoint_loads_into_torch_with_same_accuracy)


def checkpoint_metadata_rebuilds_module_and_preprocessing_in_torch():
    """What a PyTorch user has (the checkpoint and examples/pytorch_load.py,
    shown in the README) is enough: the module is rebuilt from the metadata,
    the inputs normalised with the mean/std the run computed, and the test
    accuracy is trainbook's."""
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../examples"))
    import pytorch_load
    with tempfile.TemporaryDirectory() as d:
        test, ckpt = _train(d, "data: {dataset: fashion-mnist, batch_size: 64, augment: [normalize]}\n"
                               "model: [{conv2d: {out: 8, kernel: 3, padding: 1}}, relu, {maxpool2d: 2},\n"
                               "        {batchnorm2d: {}}, flatten, {dropout: 0.1}, {linear: 10}]\n"
                               "optimizer: {name: adam, lr: 2.0e-3}\n"
                               "train: {epochs: 1, max_steps: 200, seed: 5}\n")
        model, meta = pytorch_load.load(ckpt)
        assert json.loads(meta["trainbook.input_shape"]) == [1, 28, 28], meta["trainbook.input_shape"]
        assert meta["trainbook.input_kind"] == "image" and meta["trainbook.channel_order"] == "gray", meta
        classes = json.loads(meta["trainbook.class_names"])
        assert classes[0] == "T-shirt/top" and classes[9] == "Ankle boot" and len(classes) == 10, classes
        mean = json.loads(meta["trainbook.normalize_mean"])
        std = json.loads(meta["trainbook.normalize_std"])
        pixels = _idx(FASHION + "train-images-idx3-ubyte.gz", 16).astype(np.float64) / 255
        # the mean/std recorded are the training split's, as the run computed them
        assert abs(mean[0] - pixels.mean()) < 1e-4 and abs(std[0] - pixels.std()) < 1e-4, (mean, std)
        module = json.loads(meta["trainbook.module"])
        assert module["preset"] is None and [l["type"] for l in module["layers"]][:3] == ["conv2d", "relu", "maxpool2d"]
        x = _idx(FASHION + "t10k-images-idx3-ubyte.gz", 16).reshape(-1, 1, 28, 28)
        y = _idx(FASHION + "t10k-labels-idx1-ubyte.gz", 8).astype(np.int64)
        acc = pytorch_load.score(model, meta, x, y)
        reported = test["values"]["accuracy"]
        assert abs(acc - reported) <= 3e-4, f"torch accuracy {acc:.4f} != trainbook {reported:.4f}"
        # without the normalisation the same weights do worse: the metadata is what makes it right
        raw = {k: v for k, v in meta.items() if k not in ("trainbook.normalize_mean", "trainbook.normalize_std")}
        assert pytorch_load.score(model, raw, x, y) < acc - 0.02


CASES.append(checkpoint_metadata_rebuilds_module_and_preprocessing_in_torch)
