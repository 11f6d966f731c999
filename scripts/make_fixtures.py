#!/usr/bin/python3
"""Generate the committed test fixtures under ``fixtures/``.

Run it from the repository root with::

    npm run fixtures          # runs: /usr/bin/python3 scripts/make_fixtures.py

Requirements: PyTorch (tested with Debian python3-torch 1.13), torchvision
0.14, onnx 1.12, numpy, scikit-learn (for the digits demo model) and,
optionally, Pillow (for the digits PNGs).  No network access is needed: every
model is built with ``weights=None`` and random, seeded weights; the digits
model is trained for a few seconds on ``sklearn.datasets.load_digits()``.

For every model a folder ``fixtures/<name>/`` is written with:

``model.onnx``
    ``torch.onnx.export`` of the model in eval mode, batch axis dynamic.
``input.npz``
    The example inputs, keyed by ONNX input name (float32, int64 for ids).
``golden.npz``
    What ``register_forward_hook`` sees as *output* for every module of
    ``named_modules()`` (root ``''`` excluded), from one clean forward pass on
    ``input.npz`` done after the export.  Keys: the module name when the module
    ran once, ``name:k`` (k from 1) for each call when it ran more than once;
    tuple/list outputs are flattened recursively with ``#i`` suffixes (None
    elements are skipped, their index is kept).  The model outputs are stored
    as ``__output__#0``, ``__output__#1``, ... in the order of output_names.
``golden_inputs.npz``
    The same keys, holding what ``register_forward_pre_hook`` sees as the
    positional input tuple, always flattened with ``#i`` (tensors only).
``modules.json``
    The module table in ``named_modules()`` order (name, type, calls, leaf,
    directly-owned params), the ONNX input/output names, the torch version and
    the export kwargs used (as strings).

Fixtures grouped by topic are written by ``scripts/fixtures_*.py`` (imported by
this script; ``make_fixtures.py NAME ...`` writes only the fixtures named).
Plus the digits demo
assets in ``fixtures/digits/``; ``fixtures/digits-cnn.onnx`` is a copy of
``fixtures/digits-cnn/model.onnx`` (the path package.json's demo uses).

The output is deterministic: everything is seeded, CPU-only, single-threaded,
and the .npz archives are written with a fixed zip timestamp (they are plain
uncompressed ``np.savez`` archives otherwise and load with ``np.load``).
"""

from __future__ import annotations

import io
import json
import os
import shutil
import sys
import zipfile
from collections import OrderedDict

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURES = os.path.join(ROOT, "fixtures")
OPSET = 13
ZIP_DATE = (1980, 1, 1, 0, 0, 0)


def seed_everything(seed: int = 0) -> None:
    torch.manual_seed(seed)
    np.random.seed(seed)


# --------------------------------------------------------------------------
# Serialisation helpers
# --------------------------------------------------------------------------

def to_numpy(t: torch.Tensor) -> np.ndarray:
    # np.array, not np.ascontiguousarray: that one turns a 0-d tensor into shape (1,).
    if t.is_quantized:  # what a quantized module's hook sees: its integers (ONNX QuantizeLinear's output)
        return np.array(t.detach().int_repr().cpu().numpy(), order="C")
    a = t.detach().cpu().numpy()
    if a.dtype == np.int64:
        return np.array(a, order="C")
    if a.dtype == np.bool_:
        return np.array(a, order="C")
    return np.array(a, dtype=np.float32, order="C")


def save_npz(path: str, arrays: "OrderedDict[str, np.ndarray]") -> None:
    """Like ``np.savez`` (uncompressed, ``<key>.npy`` members) but with a fixed
    zip timestamp so that the bytes are reproducible."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as zf:
        for key, arr in arrays.items():
            buf = io.BytesIO()
            np.lib.format.write_array(buf, np.array(arr, order="C"), allow_pickle=False)  # keeps 0-d arrays 0-d
            info = zipfile.ZipInfo(key + ".npy", date_time=ZIP_DATE)
            info.compress_type = zipfile.ZIP_STORED
            info.external_attr = 0o644 << 16
            zf.writestr(info, buf.getvalue())


def write_json(path: str, obj) -> None:
    with open(path, "w") as f:
        json.dump(obj, f, indent=2)
        f.write("\n")


def flatten(value, key: str, out: "OrderedDict[str, np.ndarray]") -> None:
    """Flatten tensors / nested tuples & lists into ``out`` with ``#i`` suffixes.
    Non-tensor leaves (None, ints, ...) are skipped."""
    if isinstance(value, torch.Tensor):
        out[key] = to_numpy(value)
    elif isinstance(value, (tuple, list)):
        for i, v in enumerate(value):
            flatten(v, f"{key}#{i}", out)


# --------------------------------------------------------------------------
# Hook recording
# --------------------------------------------------------------------------

def snapshot(value):
    """A deep copy of the tensors in ``value`` (nested tuples/lists kept)."""
    if isinstance(value, torch.Tensor):
        return value.detach().clone()
    if isinstance(value, (tuple, list)):  # a namedtuple (PackedSequence) as a plain tuple: its fields in order
        return (list if isinstance(value, list) else tuple)(snapshot(v) for v in value)
    return value


def record_hooks(model: nn.Module, inputs: tuple):
    """One clean forward pass with forward and forward-pre hooks on every
    module of ``named_modules()`` except the root.

    Returns ``(outputs, inputs, calls, model_outputs)``: two ordered dicts
    keyed as described in the module docstring (in call order), the call
    count per module name, and the model's own output (tuple of tensors).
    """
    outs_raw: "OrderedDict[str, list]" = OrderedDict()
    ins_raw: "OrderedDict[str, list]" = OrderedDict()
    order: list = []  # (name, call index) in the order the calls finished
    handles = []
    for name, module in model.named_modules():
        if name == "":
            continue
        outs_raw[name] = []
        ins_raw[name] = []

        # Snapshot at hook time: a later in-place op (ResNet's ReLU(inplace=True))
        # would otherwise overwrite what the hook saw.
        def pre_hook(mod, inp, _name=name):
            ins_raw[_name].append(snapshot(inp))

        def hook(mod, inp, out, _name=name):
            outs_raw[_name].append(snapshot(out))
            order.append((_name, len(outs_raw[_name])))

        handles.append(module.register_forward_pre_hook(pre_hook))
        handles.append(module.register_forward_hook(hook))
    try:
        with torch.no_grad():
            result = model(*inputs)
    finally:
        for h in handles:
            h.remove()

    calls = {name: len(v) for name, v in outs_raw.items()}
    golden: "OrderedDict[str, np.ndarray]" = OrderedDict()
    golden_in: "OrderedDict[str, np.ndarray]" = OrderedDict()
    for name, k in order:
        key = name if calls[name] == 1 else f"{name}:{k}"
        flatten(outs_raw[name][k - 1], key, golden)
        for i, v in enumerate(ins_raw[name][k - 1]):
            flatten(v, f"{key}#{i}", golden_in)
    if not isinstance(result, (tuple, list)):
        result = (result,)
    return golden, golden_in, calls, tuple(result)


def module_table(model: nn.Module, calls: dict) -> list:
    table = []
    for name, module in model.named_modules():
        if name == "":
            continue
        table.append(
            {
                "name": name,
                "type": type(module).__name__,
                "calls": calls.get(name, 0),
                "leaf": len(list(module.children())) == 0,
                "params": [p for p, _ in module.named_parameters(recurse=False)],
            }
        )
    return table


def _shape(a: np.ndarray) -> list:
    return [int(d) for d in a.shape]


MAKERS: "OrderedDict[str, object]" = OrderedDict()  # fixture name -> function that writes it


def maker(name: str):
    """Registers a fixture-writing function under its fixture name (``make_fixtures.py NAME`` runs one)."""
    def register(fn):
        MAKERS[name] = fn
        return fn
    return register


def save_fixture(name: str, model: nn.Module, inputs: "OrderedDict[str, torch.Tensor]",
                 export_kwargs: dict, notes: str = "", extra: dict | None = None,
                 export_model: "nn.Module | None" = None):
    """Export ``model`` to ``fixtures/<name>/model.onnx``, then record the
    hook goldens on ``inputs`` and write input.npz, golden.npz,
    golden_inputs.npz and modules.json.  Returns the golden dict."""
    folder = os.path.join(FIXTURES, name)
    os.makedirs(folder, exist_ok=True)
    model.eval()
    args = tuple(inputs.values())
    kwargs = dict(export_kwargs)
    kwargs.setdefault("input_names", list(inputs.keys()))
    kwargs.setdefault("opset_version", OPSET)
    onnx_path = os.path.join(folder, "model.onnx")
    # A scripted model exports its Python control flow as If/Loop; hooks are recorded on the eager twin.
    torch.onnx.export(export_model if export_model is not None else model, args, onnx_path, **kwargs)

    # Clean forward pass after the export (no hooks were registered during it).
    model.eval()
    golden, golden_in, calls, result = record_hooks(model, args)
    output_names = kwargs["output_names"]
    assert len(result) == len(output_names), (name, len(result), output_names)
    for i, r in enumerate(result):
        golden[f"__output__#{i}"] = to_numpy(r)

    save_npz(os.path.join(folder, "input.npz"),
             OrderedDict((k, to_numpy(v)) for k, v in inputs.items()))
    save_npz(os.path.join(folder, "golden.npz"), golden)
    save_npz(os.path.join(folder, "golden_inputs.npz"), golden_in)

    meta = OrderedDict()
    meta["modules"] = module_table(model, calls)
    meta["inputs"] = list(inputs.keys())
    meta["outputs"] = list(output_names)
    meta["input_shapes"] = {k: _shape(to_numpy(v)) for k, v in inputs.items()}
    meta["output_shapes"] = {n: _shape(to_numpy(r)) for n, r in zip(output_names, result)}
    meta["torch"] = torch.__version__
    meta["export"] = {k: str(v) for k, v in kwargs.items()}
    meta["notes"] = notes
    if extra:
        meta.update(extra)
    write_json(os.path.join(folder, "modules.json"), meta)
    print(f"{name}: {len(meta['modules'])} modules, {len(golden)} golden arrays")
    return golden, result


def simple_kwargs(inp="x", out="output", in_axes=None, out_axes=None) -> dict:
    return {
        "input_names": [inp],
        "output_names": [out],
        "dynamic_axes": {inp: in_axes or {0: "batch"}, out: out_axes or {0: "batch"}},
        "opset_version": OPSET,
    }


# --------------------------------------------------------------------------
# Models
# --------------------------------------------------------------------------

@maker("seed-mlp")
def make_seed_mlp():
    seed_everything()
    model = nn.Sequential(nn.Linear(10, 20), nn.ReLU(), nn.Linear(20, 5))
    x = torch.randn(2, 10)
    save_fixture("seed-mlp", model, OrderedDict(x=x), simple_kwargs(),
                 notes="Sequential MLP; modules named '0', '1', '2'.")


@maker("seed-cnn")
def make_seed_cnn():
    seed_everything()
    model = nn.Sequential(
        nn.Conv2d(3, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2, 2),
        nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(),
    )
    x = torch.randn(1, 3, 32, 32)
    save_fixture("seed-cnn", model, OrderedDict(x=x), simple_kwargs(),
                 notes="Sequential CNN, batch 1; module '0' output is [1,16,32,32].")


class MyCustomModule(nn.Module):
    def __init__(self):
        super().__init__()
        self.linear1 = nn.Linear(10, 20)
        self.relu = nn.ReLU()
        self.linear2 = nn.Linear(20, 5)

    def forward(self, x):
        return self.linear2(self.relu(self.linear1(x)))


@maker("seed-custom")
def make_seed_custom():
    seed_everything()
    model = MyCustomModule()
    x = torch.randn(2, 10)
    save_fixture("seed-custom", model, OrderedDict(x=x), simple_kwargs(),
                 notes="Custom nn.Module with named attributes linear1/relu/linear2.")


class RNNModel(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = nn.Linear(8, 16)
        self.lstm = nn.LSTM(16, 32, batch_first=True)
        self.gru = nn.GRU(32, 24, batch_first=True)
        self.head = nn.Linear(24, 3)

    def forward(self, x):
        h = self.embed(x)
        y, (hn, cn) = self.lstm(h)
        z, gh = self.gru(y)
        return self.head(z[:, -1])


@maker("rnn")
def make_rnn():
    seed_everything()
    model = RNNModel()
    x = torch.randn(2, 5, 8)
    save_fixture("rnn", model, OrderedDict(x=x),
                 simple_kwargs(in_axes={0: "batch", 1: "time"}),
                 notes="Linear -> LSTM -> GRU -> Linear, batch_first; tuple outputs "
                       "flattened as lstm#0, lstm#1#0, lstm#1#1, gru#0, gru#1. "
                       "Dynamic axes: batch (0) and time (1).")


class Twice(nn.Module):
    def __init__(self):
        super().__init__()
        self.proj = nn.Linear(16, 16)
        self.act = nn.ReLU()
        self.out = nn.Linear(16, 4)

    def forward(self, x):
        x = self.act(self.proj(x))
        x = self.act(self.proj(x))
        return self.out(x)


@maker("twice")
def make_twice():
    seed_everything()
    model = Twice()
    x = torch.randn(2, 16)
    save_fixture("twice", model, OrderedDict(x=x), simple_kwargs(),
                 notes="proj and act are each called twice: keys proj:1, proj:2, act:1, act:2.")


def randomize_batchnorm(model: nn.Module, seed: int = 0) -> None:
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for _, m in model.named_modules():
            if isinstance(m, nn.modules.batchnorm._BatchNorm):
                n = m.num_features
                m.running_mean.copy_(torch.randn(n, generator=g) * 0.1)
                m.running_var.copy_(torch.rand(n, generator=g) + 0.5)
                m.weight.copy_(torch.rand(n, generator=g) + 0.5)
                m.bias.copy_(torch.randn(n, generator=g) * 0.1)


@maker("resnet18")
def make_resnet18():
    import torchvision

    seed_everything()
    model = torchvision.models.resnet18(weights=None)
    randomize_batchnorm(model)
    model.eval()
    x = torch.randn(1, 3, 64, 64)
    g1, r1 = save_fixture(
        "resnet18", model, OrderedDict(x=x), simple_kwargs(),
        notes="torchvision resnet18(weights=None), seeded, BN stats randomized; "
              "default export (EVAL): BatchNorm folded into the preceding Conv.")
    kw = simple_kwargs()
    kw["training"] = torch.onnx.TrainingMode.PRESERVE
    g2, r2 = save_fixture(
        "resnet18-preserve", model, OrderedDict(x=x), kw,
        notes="Same weights/input/goldens as resnet18, exported with "
              "training=TrainingMode.PRESERVE (model in eval): BatchNormalization nodes kept.")
    assert list(g1) == list(g2) and all(np.array_equal(g1[k], g2[k]) for k in g1)


class SelfAttention(nn.Module):
    def __init__(self, dim: int, heads: int):
        super().__init__()
        self.heads = heads
        self.head_dim = dim // heads
        self.q = nn.Linear(dim, dim)
        self.k = nn.Linear(dim, dim)
        self.v = nn.Linear(dim, dim)
        self.o = nn.Linear(dim, dim)

    def forward(self, x):
        b, t, d = x.shape
        h, hd = self.heads, self.head_dim
        q = self.q(x).reshape(b, t, h, hd).transpose(1, 2)
        k = self.k(x).reshape(b, t, h, hd).transpose(1, 2)
        v = self.v(x).reshape(b, t, h, hd).transpose(1, 2)
        att = torch.matmul(q, k.transpose(-2, -1)) / (hd ** 0.5)
        att = F.softmax(att, dim=-1)
        y = torch.matmul(att, v).transpose(1, 2).reshape(b, t, d)
        return self.o(y)


class Block(nn.Module):
    def __init__(self, dim: int = 32, heads: int = 4):
        super().__init__()
        self.ln1 = nn.LayerNorm(dim)
        self.attn = SelfAttention(dim, heads)
        self.ln2 = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, 2 * dim), nn.GELU(), nn.Linear(2 * dim, dim))

    def forward(self, x):
        x = x + self.attn(self.ln1(x))
        x = x + self.mlp(self.ln2(x))
        return x


@maker("transformer")
def make_transformer():
    seed_everything()
    model = Block(32, 4)
    x = torch.randn(2, 6, 32)
    axes = {0: "batch", 1: "seq"}
    save_fixture("transformer", model, OrderedDict(x=x),
                 simple_kwargs(in_axes=axes, out_axes=axes),
                 notes="Pre-norm transformer block, manual scaled-dot-product attention "
                       "(q/k/v/o Linear), LayerNorm decomposed at opset 13, GELU via Erf. "
                       "Dynamic axes: batch (0) and seq (1).")


@maker("digits-cnn")
def make_digits_cnn():
    from sklearn.datasets import load_digits

    seed_everything()
    data = load_digits()
    X = (data.images.astype(np.float32) / 16.0)[:, None, :, :]  # [N,1,8,8], 0..1
    y = data.target.astype(np.int64)
    perm = np.random.RandomState(0).permutation(len(X))
    n_train = int(0.8 * len(X))
    tr, te = perm[:n_train], perm[n_train:]
    Xtr, ytr = torch.from_numpy(X[tr]), torch.from_numpy(y[tr])
    Xte, yte = torch.from_numpy(X[te]), torch.from_numpy(y[te])

    model = nn.Sequential(OrderedDict([
        ("conv1", nn.Conv2d(1, 8, 3, padding=1)),
        ("relu1", nn.ReLU()),
        ("conv2", nn.Conv2d(8, 16, 3, padding=1)),
        ("relu2", nn.ReLU()),
        ("pool", nn.MaxPool2d(2)),
        ("flatten", nn.Flatten()),
        ("fc1", nn.Linear(16 * 4 * 4, 32)),
        ("relu3", nn.ReLU()),
        ("fc2", nn.Linear(32, 10)),
    ]))
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    g = torch.Generator().manual_seed(0)
    model.train()
    for epoch in range(30):
        order = torch.randperm(len(Xtr), generator=g)
        for i in range(0, len(Xtr), 32):
            idx = order[i:i + 32]
            opt.zero_grad()
            loss = F.cross_entropy(model(Xtr[idx]), ytr[idx])
            loss.backward()
            opt.step()
    model.eval()
    with torch.no_grad():
        pred = model(Xte).argmax(1)
    acc = float((pred == yte).float().mean())
    print(f"digits-cnn: test accuracy {acc:.4f} ({len(te)} test images)")
    if acc <= 0.95:
        print("WARNING: digits-cnn accuracy <= 0.95", file=sys.stderr)

    image = Xte[:4].clone()
    save_fixture(
        "digits-cnn", model, OrderedDict(image=image),
        simple_kwargs(inp="image", out="logits"),
        notes=f"Bundled demo model: small CNN trained on sklearn load_digits "
              f"(8x8, scaled to 0..1), test accuracy {acc:.4f}. input.npz holds 4 test digits.",
        extra={"accuracy": round(acc, 4)})
    shutil.copyfile(os.path.join(FIXTURES, "digits-cnn", "model.onnx"),
                    os.path.join(FIXTURES, "digits-cnn.onnx"))

    # Demo assets: one test image per class.
    out_dir = os.path.join(FIXTURES, "digits")
    os.makedirs(out_dir, exist_ok=True)
    try:
        from PIL import Image
    except ImportError:  # pragma: no cover
        Image = None
        print("Pillow not available: skipping digit PNGs", file=sys.stderr)
    labels = OrderedDict()
    yte_np = yte.numpy()
    for label in range(10):
        j = int(np.nonzero(yte_np == label)[0][0])
        img = Xte[j:j + 1].clone()  # [1,1,8,8]
        with torch.no_grad():
            p = int(model(img).argmax(1)[0])
        npy = f"digit-{label}.npy"
        np.save(os.path.join(out_dir, npy), np.ascontiguousarray(img.numpy(), dtype=np.float32))
        labels[npy] = {"label": label, "predicted": p}
        if Image is not None:
            png = f"digit-{label}.png"
            px = np.clip(np.round(img.numpy()[0, 0] * 255.0), 0, 255).astype(np.uint8)
            Image.fromarray(px, mode="L").save(os.path.join(out_dir, png))
            labels[png] = {"label": label, "predicted": p}
    write_json(os.path.join(out_dir, "labels.json"), labels)


class DeepRnn(nn.Module):
    """Stacked and bidirectional recurrent layers: several ONNX LSTM/GRU nodes per module, whose
    final states are concatenated into PyTorch's h_n / c_n."""

    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(8, 16, num_layers=2, bidirectional=True, batch_first=True)
        self.gru = nn.GRU(32, 8, num_layers=2)

    def forward(self, x):
        y, _ = self.lstm(x)
        z, h = self.gru(y.transpose(0, 1))
        return z[-1] + h[-1]


@maker("rnn-deep")
def make_rnn_deep():
    seed_everything(0)
    model = DeepRnn().eval()
    x = torch.randn(2, 5, 8)
    kwargs = {"input_names": ["x"], "output_names": ["output"],
              "dynamic_axes": {"x": {0: "batch"}, "output": {0: "batch"}}, "opset_version": OPSET}
    save_fixture("rnn-deep", model, OrderedDict(x=x), kwargs, notes="2-layer bidirectional LSTM, 2-layer GRU")


class Attention(nn.Module):
    """nn.MultiheadAttention returns a tuple (output, averaged attention weights); both are used."""

    def __init__(self):
        super().__init__()
        self.mha = nn.MultiheadAttention(16, 2, batch_first=True)
        self.norm = nn.LayerNorm(16)

    def forward(self, x):
        out, weights = self.mha(x, x, x)
        return self.norm(out + x), weights


@maker("attention")
def make_attention():
    seed_everything(0)
    model = Attention().eval()
    x = torch.randn(2, 4, 16)
    kwargs = {"input_names": ["x"], "output_names": ["output", "weights"],
              "dynamic_axes": {"x": {0: "batch"}, "output": {0: "batch"}, "weights": {0: "batch"}}, "opset_version": OPSET}
    save_fixture("attention", model, OrderedDict(x=x), kwargs, notes="nn.MultiheadAttention tuple output")


class ControlFlow(nn.Module):
    """Python control flow that torch.jit.script keeps: an If choosing `a` or `c`, and a loop
    calling `b` (a Sequential) `steps` times. Exported as ONNX If and Loop nodes."""

    def __init__(self):
        super().__init__()
        self.a = nn.Linear(8, 8)
        self.b = nn.Sequential(nn.Linear(8, 8), nn.Tanh())
        self.c = nn.Linear(8, 8)
        self.head = nn.Linear(8, 3)

    def forward(self, x, steps):
        if bool(x.sum() > 0):
            x = self.a(x)
        else:
            x = self.c(x)
        for _ in range(int(steps)):
            x = self.b(x)
        return self.head(x)


@maker("control-flow")
def make_control_flow():
    seed_everything(0)
    model = ControlFlow().eval()
    x = torch.randn(2, 8).abs()  # positive sum: the `a` branch runs, `c` does not
    steps = torch.tensor(3)
    kwargs = {"input_names": ["x", "steps"], "output_names": ["output"],
              "dynamic_axes": {"x": {0: "batch"}, "output": {0: "batch"}}, "opset_version": OPSET}
    save_fixture("control-flow", model, OrderedDict(x=x, steps=steps), kwargs,
                 notes="torch.jit.script: If (a or c) and Loop (b, 3 calls)",
                 export_model=torch.jit.script(model))


# --------------------------------------------------------------------------

def load_topic_files() -> None:
    """Fixtures grouped by topic live in scripts/fixtures_*.py; importing one registers its makers."""
    import importlib
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    sys.modules.setdefault("make_fixtures", sys.modules[__name__])
    for file in sorted(os.listdir(os.path.dirname(os.path.abspath(__file__)))):
        if file.startswith("fixtures_") and file.endswith(".py"):
            importlib.import_module(file[:-3])


def main() -> None:
    """``make_fixtures.py`` writes every fixture; ``make_fixtures.py NAME ...`` only those named."""
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    os.makedirs(FIXTURES, exist_ok=True)
    load_topic_files()
    names = sys.argv[1:] or list(MAKERS)
    unknown = [n for n in names if n not in MAKERS]
    if unknown:
        sys.exit(f"unknown fixture(s) {unknown}; known: {list(MAKERS)}")
    for name in names:
        MAKERS[name]()


if __name__ == "__main__":
    main()
