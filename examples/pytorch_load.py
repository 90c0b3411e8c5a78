"""Use a trainbook checkpoint in PyTorch: rebuild the module from the
checkpoint's metadata, load the weights, preprocess inputs exactly as the
run did, and score it.

    python3 examples/pytorch_load.py CHECKPOINT [IMAGES.npy LABELS.npy]

IMAGES.npy: uint8 pictures as the data set stores them, N x C x H x W (or
N x H x W for grey ones); LABELS.npy: N class indices. Without them it
prints what the checkpoint says about itself.

The metadata (README, "Using a checkpoint in PyTorch") is plain strings in
the safetensors header, the lists JSON: trainbook.module (the layers),
trainbook.input_shape (C, H, W), trainbook.input_kind ("image": bytes / 255,
or "features" as stored), trainbook.normalize_mean / normalize_std (per
channel, as the run computed them; absent without normalisation) and
trainbook.class_names: the keys `trainbook predict` and the ONNX export
read too (engine/preprocess.h).
"""
import json
import struct
import sys
from collections import OrderedDict
from math import prod

import numpy as np
import torch
from torch import nn


def read_checkpoint(path):
    """(state_dict, metadata) of a .safetensors file."""
    try:
        from safetensors import safe_open
    except ImportError:  # the format is simple enough to read by hand
        with open(path, "rb") as f:
            data = f.read()
        (n,) = struct.unpack("<Q", data[:8])
        header = json.loads(data[8:8 + n])
        meta = header.pop("__metadata__", {})
        dtypes = {"F32": np.float32, "I64": np.int64, "F16": np.float16}
        state = {}
        for name, t in header.items():
            a, b = t["data_offsets"]
            arr = np.frombuffer(data[8 + n + a:8 + n + b], dtypes[t["dtype"]]).reshape(t["shape"])
            state[name] = torch.from_numpy(arr.copy())
        return state, meta
    with safe_open(path, "pt") as f:
        return {k: f.get_tensor(k) for k in f.keys()}, f.metadata()


def _batchnorm(a, i):
    bn = nn.BatchNorm2d if len(i) == 3 else nn.BatchNorm1d
    return bn(i[0], eps=a["eps"], momentum=a["momentum"])


# trainbook layer type -> torch module, from its arguments and input/output shapes
LAYERS = {
    "flatten": lambda a, i, o: nn.Flatten(),
    "linear": lambda a, i, o: nn.Linear(prod(i), a["out"], bias=bool(a["bias"])),
    "relu": lambda a, i, o: nn.ReLU(),
    "gelu": lambda a, i, o: nn.GELU(),
    "tanh": lambda a, i, o: nn.Tanh(),
    "sigmoid": lambda a, i, o: nn.Sigmoid(),
    "leaky_relu": lambda a, i, o: nn.LeakyReLU(a["slope"]),
    "dropout": lambda a, i, o: nn.Dropout(a["p"]),
    "conv2d": lambda a, i, o: nn.Conv2d(i[0], a["out"], a["kernel"], a["stride"], a["padding"], a["dilation"],
                                        bias=bool(a["bias"])),
    "maxpool2d": lambda a, i, o: nn.MaxPool2d(a["kernel"], a["stride"] or None, a["padding"]),
    "avgpool2d": lambda a, i, o: nn.AvgPool2d(a["kernel"], a["stride"] or None, a["padding"]),
    "adaptive_avgpool": lambda a, i, o: nn.AdaptiveAvgPool2d(a["output"]),
    "global_avgpool": lambda a, i, o: nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten()),
    "batchnorm": lambda a, i, o: _batchnorm(a, i),
    "batchnorm1d": lambda a, i, o: _batchnorm(a, i),
    "batchnorm2d": lambda a, i, o: _batchnorm(a, i),
}


def build_module(meta):
    """The nn.Sequential the checkpoint's layers describe, named as its state_dict."""
    spec = json.loads(meta["trainbook.module"])
    missing = sorted({l["type"] for l in spec["layers"] if l["type"] not in LAYERS})
    if missing:
        raise NotImplementedError(f"layers {missing} (preset {spec['preset']}): see tests/parity/models.py")
    return nn.Sequential(OrderedDict(
        (l["name"], LAYERS[l["type"]](l["args"], l["in"], l["out"])) for l in spec["layers"]))


def input_shape(meta):
    """One sample's shape as the model takes it: [C, H, W], or [F] for tabular data (H = W = 1)."""
    c, h, w = json.loads(meta["trainbook.input_shape"])
    return [c] if h == 1 and w == 1 else [c, h, w]


def preprocess(meta, pixels):
    """Raw samples (uint8 pictures, N x C x H x W) as the run's loader fed them to the model."""
    shape = input_shape(meta)
    scale = 1 / 255 if meta["trainbook.input_kind"] == "image" else 1.0
    x = torch.from_numpy(np.array(pixels, dtype=np.float32)).reshape(-1, *shape) * scale
    if "trainbook.normalize_mean" in meta:
        view = (1, -1, 1, 1) if len(shape) == 3 else (1, -1)
        mean = torch.tensor(json.loads(meta["trainbook.normalize_mean"])).view(view)
        std = torch.tensor(json.loads(meta["trainbook.normalize_std"])).view(view)
        x = (x - mean) / std
    return x


def load(path):
    """(model in eval mode, metadata) of a checkpoint."""
    state, meta = read_checkpoint(path)
    model = build_module(meta)
    model.load_state_dict(state, strict=True)
    return model.eval(), meta


def score(model, meta, pixels, labels, batch=1000):
    """Accuracy of the model on raw samples and their labels."""
    right = 0
    with torch.no_grad():
        for i in range(0, len(labels), batch):
            x = preprocess(meta, pixels[i:i + batch])
            right += (model(x).argmax(1) == torch.as_tensor(labels[i:i + batch])).sum().item()
    return right / len(labels)


if __name__ == "__main__":
    model, meta = load(sys.argv[1])
    classes = json.loads(meta["trainbook.class_names"])
    print(f"input {meta['trainbook.input_shape']} ({meta['trainbook.input_kind']}), "
          f"{len(classes)} classes: {', '.join(classes)}")
    print(f"normalize mean {meta.get('trainbook.normalize_mean', 'none')}, std {meta.get('trainbook.normalize_std', 'none')}")
    print(model)
    if len(sys.argv) == 4:
        acc = score(model, meta, np.load(sys.argv[2]), np.load(sys.argv[3]))
        print(f"accuracy {acc:.4f}")
