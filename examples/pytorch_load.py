"""Use a trainbook checkpoint in PyTorch: rebuild the module from the
checkpoint's metadata, load the weights, preprocess inputs exactly as the
run did, and score it.

    python3 examples/pytorch_load.py CHECKPOINT [IMAGES.npy LABELS.npy]

IMAGES.npy: uint8 pictures as the data set stores them, N x C x H x W (or
N x H x W for grey ones); LABELS.npy: N class indices. Without them it
prints what the checkpoint says about itself.

The metadata (README, "Using a checkpoint in PyTorch") is plain JSON in the
safetensors header: trainbook.module (the layers), trainbook.preprocess
(scale, per-channel mean and std as computed for the run, NCHW),
trainbook.input_shape and trainbook.classes.
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


def preprocess(meta, pixels):
    """Raw samples (uint8 pictures, N x C x H x W) as the run's loader fed them to the model."""
    p = json.loads(meta["trainbook.preprocess"])
    shape = json.loads(meta["trainbook.input_shape"])
    x = torch.from_numpy(np.array(pixels, dtype=np.float32)).reshape(-1, *shape) * p["scale"]
    if p["mean"] is not None:
        view = (1, -1, 1, 1) if p["layout"] == "NCHW" else (1, -1)
        x = (x - torch.tensor(p["mean"]).view(view)) / torch.tensor(p["std"]).view(view)
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
    classes = json.loads(meta["trainbook.classes"])
    print(f"input {meta['trainbook.input_shape']}, {len(classes)} classes: {', '.join(classes)}")
    print(f"preprocess {meta['trainbook.preprocess']}")
    print(model)
    if len(sys.argv) == 4:
        acc = score(model, meta, np.load(sys.argv[2]), np.load(sys.argv[3]))
        print(f"accuracy {acc:.4f}")
