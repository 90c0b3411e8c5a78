#!/usr/bin/env python3
"""make_seeds.py — (re)write the seed corpora under tests/fuzz/<target>/corpus/.

Seeds are real inputs, kept small (the whole committed corpus is a few
hundred KiB): the example and test specs, the example notebook, a checkpoint
the engine wrote, the first samples of the Fashion-MNIST test files, CSVs of
each dialect the reader accepts, PNGs and JPEGs written by libpng/libjpeg,
one request per route, and feed conversations. Multi-file inputs are joined
with FUZZ_SEP (fuzz.h). Run from the repository root after `make`:

    python3 tests/fuzz/make_seeds.py

It replaces only the seed-*.bin files it writes; files libFuzzer added to
a corpus (named by their SHA-1) are left alone, and crashes/ is never
touched.
"""
import glob
import gzip
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile

SEP = b"\x00--8<--\x00"  # FUZZ_SEP in fuzz.h
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FUZZ = os.path.join(ROOT, "tests", "fuzz")


def corpus(target):
    d = os.path.join(FUZZ, target, "corpus")
    os.makedirs(d, exist_ok=True)
    for old in glob.glob(os.path.join(d, "seed-*.bin")):
        os.remove(old)
    return d


def put(d, name, data):
    with open(os.path.join(d, "seed-" + name + ".bin"), "wb") as f:
        f.write(data)


def read(path):
    with open(path, "rb") as f:
        return f.read()


def spec_seeds():
    d = corpus("spec")
    for path in sorted(glob.glob(os.path.join(ROOT, "examples", "*.yaml")) +
                       glob.glob(os.path.join(ROOT, "tests", "specs", "good", "*.yaml")) +
                       glob.glob(os.path.join(ROOT, "tests", "specs", "bad", "*.yaml"))):
        kind = os.path.basename(os.path.dirname(path))
        put(d, kind + "-" + os.path.basename(path)[:-5], read(path))
    mlp = read(os.path.join(ROOT, "tests", "specs", "good", "fashion_mlp.yaml"))
    # fuzz_spec.c's own override syntax: "\0SET", overrides split by \x01.
    put(d, "set-epochs-model", mlp + b"\x00SET" + b"train.epochs=1\x01model=resnet18")
    put(d, "set-list", mlp + b"\x00SET" + b"data.augment=[hflip]\x01optimizer.lr=-1")


def sweep_seeds():
    d = corpus("sweep")
    for path in sorted([os.path.join(ROOT, "examples", "fashion-mlp-sweep.yaml")] +
                       glob.glob(os.path.join(ROOT, "tests", "specs", "bad", "sweep_*.yaml")) +
                       glob.glob(os.path.join(ROOT, "tests", "specs", "bad", "early_stop_*.yaml"))):
        put(d, os.path.basename(path)[:-5], read(path))
    base = b"data: {dataset: synthetic, shape: [8], classes: 3}\nmodel: {preset: mlp, hidden: [16]}\ntrain: {epochs: 9}\n"
    put(d, "random-every-dist", base + b"sweep:\n  trials: 5\n  seed: 7\n  params:\n"
        b"    optimizer.lr: {loguniform: [1.0e-5, 1.0e-1]}\n    optimizer.weight_decay: {uniform: [0, 0.5]}\n"
        b"    train.seed: {range: [10, 13]}\n    model.hidden: {choice: [[8], [32, 16]]}\n"
        b"  stop: {asha: {metric: validation.loss, mode: min, min_epochs: 1, reduction: 3}}\n")
    put(d, "grid-counts", base + b"sweep: {method: grid, parallel: 2, params: {optimizer.lr: "
        b"{uniform: [0.1, 0.5], count: 3}, train.seed: {range: [0, 5, 2]}}}\n"
        b"early_stopping: {metric: validation.accuracy, patience: 2, min_delta: 0.01}\n")


def notebook_seeds():
    d = corpus("notebook")
    put(d, "example", read(os.path.join(ROOT, "examples", "fashion-mnist.ipynb")))
    put(d, "empty", b'{"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": []}\n')
    put(d, "cells", json.dumps({
        "nbformat": 4, "nbformat_minor": 5, "metadata": {"kernelspec": {"name": "yaml"}},
        "cells": [
            {"id": "a", "cell_type": "markdown", "metadata": {}, "source": ["# t\n", "x"]},
            {"id": "b", "cell_type": "code", "metadata": {}, "execution_count": None,
             "outputs": [], "source": "model: mlp\n"},
            {"id": "c", "cell_type": "raw", "metadata": {}, "source": ""},
            {"id": "d", "cell_type": "code", "metadata": {}, "source": []},
        ]}).encode())
    put(d, "nbformat3", b'{"nbformat": 3, "nbformat_minor": 0, "metadata": {}, "worksheets": []}')
    put(d, "bad-cell", b'{"nbformat": 4, "nbformat_minor": 5, "metadata": {}, '
                       b'"cells": [{"cell_type": "heading", "source": 3}]}')


def safetensors_seeds():
    """A checkpoint of fuzz_safetensors.c's model, written by the engine after one step."""
    d = corpus("safetensors")
    spec = ("data: {dataset: synthetic, shape: [1, 4, 4], classes: 3, train_size: 4, test_size: 4,"
            " batch_size: 4}\n"
            "model: [{conv2d: {out: 2, kernel: 3}}, batchnorm, relu, flatten, {linear: 3}]\n"
            "optimizer: {name: adam}\n"
            "train: {epochs: 1, device: cpu, threads: 1}\n"
            "checkpoint: {every: 1, keep: 1}\n")
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "s.yaml")
        with open(path, "w") as f:
            f.write(spec)
        out = os.path.join(tmp, "out")
        subprocess.run([os.path.join(ROOT, "build", "trainbook-engine"), "train", path,
                        "--out", out, "--json"], check=True, stdout=subprocess.DEVNULL)
        weights = read(os.path.join(out, "step-000000001.safetensors"))
        state = read(os.path.join(out, "step-000000001.state.safetensors"))
    put(d, "checkpoint", weights + SEP + state)
    put(d, "weights-only", weights)
    put(d, "empty-header", struct.pack("<Q", 2) + b"{}")
    header = b'{"__metadata__":{"format":"pt"},"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}'
    put(d, "one-tensor", struct.pack("<Q", len(header)) + header + b"\x00" * 8)


def idx_file(magic_dims, dims, payload):
    return bytes([0, 0, 8, magic_dims]) + b"".join(struct.pack(">I", v) for v in dims) + payload


def idx_seeds():
    """The first samples of the real Fashion-MNIST test files, re-headed."""
    d = corpus("idx")
    src = "/usr/share/datasets/fashion-mnist"
    images = gzip.open(os.path.join(src, "t10k-images-idx3-ubyte.gz")).read()
    labels = gzip.open(os.path.join(src, "t10k-labels-idx1-ubyte.gz")).read()
    px = images[16:16 + 6 * 784]
    lb = labels[8:8 + 6]
    train_i = idx_file(3, [4, 28, 28], px[:4 * 784])
    train_l = idx_file(1, [4], lb[:4])
    test_i = idx_file(3, [2, 28, 28], px[4 * 784:])
    test_l = idx_file(1, [2], lb[4:])
    put(d, "fashion", SEP.join([train_i, train_l, test_i, test_l]))
    put(d, "fashion-gzip", SEP.join(gzip.compress(x, mtime=0) for x in
                                    [train_i, train_l, test_i, test_l]))
    tiny_i = idx_file(3, [3, 2, 3], bytes(range(18)))
    tiny_l = idx_file(1, [3], bytes([0, 9, 4]))
    put(d, "tiny-train-only", SEP.join([tiny_i, tiny_l]))


def cifar_seeds():
    d = corpus("cifar")
    def record(label, seed):
        return bytes([label]) + bytes((i * seed + label) % 256 for i in range(3072))
    meta = b"\n".join(n.encode() for n in ["airplane", "automobile", "bird", "cat", "deer",
                                             "dog", "frog", "horse", "ship", "truck"]) + b"\n"
    put(d, "two-records", SEP.join([record(3, 7) + record(9, 13), record(0, 5), meta]))
    put(d, "no-meta", SEP.join([record(1, 3), record(2, 11)]))


def csv_seeds():
    """First byte: fuzz_csv.c's option index; then train [SEP test]."""
    d = corpus("csv")
    put(d, "header", b"\x00" + b"a,b,label\n1,2,0\n3.5,-4,1\n0,0,1\n1e3,2,0\n")
    put(d, "no-header", b"\x01" + b"1,2,0\n3,4,1\n5,6,2\n7,8,0\n")
    put(d, "named-label", b"\x02" + b"label,x,y\ncat,1,2\ndog,3,4\ncat,5,6\nbird,7,8\n")
    put(d, "index-label", b"\x03" + b"\xef\xbb\xbfy,x\r\n1,0.5\r\n0,0.25\r\n1,1\r\n")
    put(d, "quoted", b"\x04" + b'1,"b",2\n3,"say ""hi""",4\n5,"c, d",6\n')
    put(d, "split", b"\x05" + b"f1,f2,f3,c\n" +
        b"".join(b"%d,%d,%d,%d\n" % (i, i * 2, i % 3, i % 2) for i in range(10)))
    put(d, "normalize", b"\x06" + b"x,y\n1,0\n2,1\n3,0\n")
    put(d, "test-file", b"\x07" + b"x,y\n1,a\n2,b\n" + SEP + b"x,y\n3,a\n4,c\n")


def image_seeds():
    """First byte: fuzz_images.c's layout/shape choice; then up to three images."""
    d = corpus("images")
    with tempfile.TemporaryDirectory() as tmp:
        exe = os.path.join(tmp, "seed_images")
        subprocess.run(["cc", "-O1", "-Wall", "-Werror", "-o", exe, os.path.join(FUZZ, "seed_images.c"),
                        "-lpng", "-ljpeg"], check=True)
        subprocess.run([exe, tmp], check=True)
        img = {n: read(os.path.join(tmp, n)) for n in os.listdir(tmp) if "." in n}
    put(d, "gray-png", b"\x00" + img["gray.png"] + SEP + img["gray16.png"])
    put(d, "rgb-png-shape", b"\x02" + img["rgb.png"] + SEP + img["rgba.png"] + SEP + img["cmap.png"])
    put(d, "gray-jpeg", b"\x01" + img["gray.jpg"] + SEP + img["gray.png"])
    put(d, "rgb-jpeg-split", b"\x04" + img["rgb.jpg"] + SEP + img["progressive.jpg"] + SEP +
        img["rgb.jpg"])
    put(d, "fraction", b"\x03" + img["progressive.jpg"] + SEP + img["rgb.png"] + SEP + img["rgb.jpg"])


def http_seeds():
    """One request per route: route index + params, body, query, headers (fuzz_http.c)."""
    d = corpus("http")
    out = subprocess.run([os.path.join(ROOT, "build", "trainbook"), "serve", "--list-routes"],
                         check=True, capture_output=True, text=True).stdout
    routes = [tuple(line.split()[:2]) for line in out.splitlines() if line.strip()]
    spec = read(os.path.join(ROOT, "tests", "specs", "good", "synthetic_cnn.yaml")).decode()
    nb = read(os.path.join(ROOT, "examples", "fashion-mnist.ipynb"))

    def req(name, method, pattern, params=(), body=b"", query=b"", headers=b""):
        i = routes.index((method, pattern))
        parts = [bytes([i]) + "\n".join(params).encode(), body, query, headers]
        while len(parts) > 1 and not parts[-1]:
            parts.pop()
        put(d, name, SEP.join(parts))

    j = lambda o: json.dumps(o).encode()
    req("status", "GET", "/api/status")
    req("status-headers", "GET", "/api/status",
        headers=b"Host: 127.0.0.1:8888\nOrigin: http://127.0.0.1:8888\n"
                b"Authorization: token fuzz-token\nCookie: a=b; trainbook_token=fuzz-token")
    req("status-ipv6", "GET", "/api/status",
        headers=b"Host: [::1]:8888\nOrigin: http://[::1]:8888\nAuthorization: Bearer x")
    req("system", "GET", "/api/system")
    req("routes", "GET", "/api/routes")
    req("nb-list", "GET", "/api/notebooks")
    req("nb-create", "POST", "/api/notebooks", body=j({"path": "new.ipynb"}))
    req("nb-upload-text", "POST", "/api/notebooks", body=j({"path": "dir/up.ipynb", "content": nb.decode()}))
    req("nb-upload-object", "POST", "/api/notebooks",
        body=j({"path": "obj.ipynb", "content": json.loads(nb)}))
    req("nb-get", "GET", "/api/notebooks/{path*}", ["nb.ipynb"], query=b"download=1")
    req("nb-get-304", "GET", "/api/notebooks/{path*}", ["nb.ipynb"], headers=b'If-None-Match: "x"')
    req("nb-save", "PUT", "/api/notebooks/{path*}", ["nb.ipynb"], body=nb, headers=b'If-Match: "0"')
    req("nb-save-new", "PUT", "/api/notebooks/{path*}", ["a/b.ipynb"], body=nb)
    req("nb-rename", "PATCH", "/api/notebooks/{path*}", ["nb.ipynb"], body=j({"path": "moved.ipynb"}))
    req("nb-delete", "DELETE", "/api/notebooks/{path*}", ["nb.ipynb"])
    req("validate", "POST", "/api/validate", body=j({"spec": spec}))
    req("validate-bad", "POST", "/api/validate", body=j({"spec": "model: [{linear: -1}]"}))
    req("run-spec", "POST", "/api/runs", body=j({"spec": spec, "name": "fuzz"}))
    req("run-cell", "POST", "/api/runs", body=j({"notebook": "nb.ipynb", "cell": "c1"}))
    req("run-list", "GET", "/api/runs")
    req("run-get", "GET", "/api/runs/{id}", ["r1"])
    req("run-delete", "DELETE", "/api/runs/{id}", ["r2"])
    req("run-stop", "POST", "/api/runs/{id}/stop", ["r2"])
    req("run-resume", "POST", "/api/runs/{id}/resume", ["r1"],
        body=j({"checkpoint": "step-000000001.safetensors"}))
    req("events", "GET", "/api/runs/{id}/events", ["r1"], query=b"since=1&limit=2")
    req("metrics-csv", "GET", "/api/runs/{id}/metrics.csv", ["r1"])
    req("metrics-json", "GET", "/api/runs/{id}/metrics.json", ["r1"])
    req("checkpoints", "GET", "/api/runs/{id}/checkpoints", ["r1"])
    req("checkpoint-get", "GET", "/api/runs/{id}/checkpoints/{file}",
        ["r1", "step-000000001.safetensors"])
    req("ws", "GET", "/ws")
    req("login", "POST", "/login", body=b"token=fuzz-token")
    req("login-url", "POST", "/login", body=b"token=http%3A%2F%2Fh%2F%3Ftoken%3Dfuzz-token+")
    req("page", "GET", "/")
    req("page-token", "GET", "/", query=b"token=fuzz-token")
    req("file", "GET", "/{file*}", ["app/main.js"])


def ws_seeds():
    """Steps of fuzz_ws.c: 0 message, 1 publish, 2 lost, 3 run+system, 4+ take."""
    d = corpus("ws")
    msg = lambda o: b"\x00" + json.dumps(o).encode()
    put(d, "subscribe-catch-up", SEP.join([
        msg({"type": "subscribe", "run": "r1", "since": 0}), b"\x04\x40", b"\x01\x20",
        b"\x04\xff", b"\x04\xff", b"\x04\xff"]))
    put(d, "live", SEP.join([
        b"\x01\x05", msg({"type": "subscribe", "run": "r1", "since": 5}), b"\x01\x10",
        b"\x02", b"\x04\x08", msg({"type": "unsubscribe", "run": "r1"}), b"\x01\x03"]))
    put(d, "overflow", SEP.join([
        msg({"type": "subscribe", "run": "r1"}), b"\x01\xff", b"\x01\xff", b"\x01\xff",
        b"\x04\x10", msg({"type": "subscribe", "run": "r1", "since": 600})]))
    put(d, "system-runs", SEP.join([
        msg({"type": "subscribe_system"}), msg({"type": "subscribe_runs"}), b"\x03", b"\x03",
        b"\x04\x02", msg({"type": "unsubscribe_system"}), msg({"type": "unsubscribe_runs"})]))
    put(d, "errors", SEP.join([
        msg({"type": "subscribe", "run": "r2", "since": -1}), msg({"type": "subscribe", "run": "r9"}),
        msg({"type": "nope"}), b"\x00[1,2]", b"\x00not json", msg({"type": "subscribe", "run": "x"})]))


def roster_seeds():
    d = corpus("roster")
    put(d, "plain", b"ada\nbob\ncarol\n")
    put(d, "header", b"name,email,role\nada,ada@uni.example,student\nprof,p@uni.example,instructor\n")
    put(d, "quoted", b'name,email\r\n"ada","ada@uni.example"\r\n\r\n"b""ob",\r\n')
    put(d, "errors", b"name,email,role\nAda Lovelace,not-an-email,teacher\nada,,\nada,,\n")
    put(d, "bom", b"\xef\xbb\xbfname\nzoe\n")


def upload_seeds():
    d = corpus("upload")
    png = read(os.path.join(FUZZ, "images", "corpus", "seed-gray-png.bin"))[:200] if os.path.exists(
        os.path.join(FUZZ, "images", "corpus", "seed-gray-png.bin")) else b"\x89PNG\r\n\x1a\n"
    body = (b"--XyZ\r\nContent-Disposition: form-data; name=\"top\"\r\n\r\n3\r\n"
            b"--XyZ\r\nContent-Disposition: form-data; name=\"image\"; filename=\"a.png\"\r\n"
            b"Content-Type: image/png\r\n\r\n" + png + b"\r\n--XyZ--\r\n")
    put(d, "multipart", b"XyZ" + SEP + body)
    put(d, "quoted-boundary", b'"a b"' + SEP + body.replace(b"XyZ", b"a b"))
    put(d, "base64", b"x" + SEP + b"data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAAAAAA6fptVAAAACklEQVR4nGNgAAAAAgABSK+kcQAAAABJRU5ErkJggg==")
    put(d, "base64-spaces", b"x" + SEP + b"aGVs\nbG8g d29y bGQ")


def wsguard_seeds():
    """A feed client's bytes: the upgrade request, then frames of each length form."""
    d = corpus("wsguard")
    req = (b"GET /ws HTTP/1.1\r\nHost: 127.0.0.1:8888\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
           b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")

    def frame(opcode, payload, masked=True):
        n = len(payload)
        m = 0x80 if masked else 0
        if n < 126:
            head = bytes([0x80 | opcode, m | n])
        elif n < 65536:
            head = bytes([0x80 | opcode, m | 126]) + struct.pack(">H", n)
        else:
            head = bytes([0x80 | opcode, m | 127]) + struct.pack(">Q", n)
        if not masked:
            return head + payload
        key = b"\x37\xfa\x21\x3d"
        return head + key + bytes(b ^ key[i & 3] for i, b in enumerate(payload))

    sub = json.dumps({"type": "subscribe", "run": "r1", "since": 0}).encode()
    put(d, "masked", req + frame(1, sub) + frame(9, b"hi") + frame(1, b"x" * 300) + frame(8, b"\x03\xe8"))
    # The 64-bit length form, here for a short payload (a sender may; the guard must follow it).
    put(d, "masked-64bit-length", req + bytes([0x82, 0x80 | 127]) + struct.pack(">Q", 10) + b"\x01\x02\x03\x04" + b"\0" * 10
        + frame(1, b"{}"))
    put(d, "unmasked-text", req + frame(1, sub) + frame(1, sub, masked=False))
    put(d, "unmasked-ping", req + frame(9, b"", masked=False))
    put(d, "unmasked-pipelined", req + frame(1, b"{}", masked=False))


def main():
    for gen in (spec_seeds, sweep_seeds, notebook_seeds, safetensors_seeds, idx_seeds, cifar_seeds, csv_seeds,
                image_seeds, http_seeds, ws_seeds, wsguard_seeds, roster_seeds, upload_seeds):
        gen()
    total = 0
    for f in glob.glob(os.path.join(FUZZ, "*", "corpus", "*")):
        total += os.path.getsize(f)
    print("seed corpora written; all corpora together: %.1f KiB" % (total / 1024))


if __name__ == "__main__":
    sys.exit(main())
