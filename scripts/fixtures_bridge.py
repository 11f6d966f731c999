"""Fixtures for ``neurotap compare`` and the PyTorch bridge (``neurotap_torch.py``).

``mnist-mlp-float``
    The architecture of ``fixtures/real-models/mnist-mlp-dynamic-int8.onnx`` (Flatten, three
    bias-free Linears, one ReLU called twice) as a float PyTorch model whose weights are that
    model's int8 weights dequantized, exported with the TorchScript exporter: compared with the
    int8 model, keys match by module name (``fc1``, ``relu:1``, ...).
``compare/seed-cnn-fp16.onnx``
    ``fixtures/seed-cnn/model.onnx`` converted to float16 (initializers, constants and every
    declared float type cast, as onnxconverter-common's ``convert_float_to_float16`` does with
    ``keep_io_types=False``). PyTorch 1.13 cannot run Half convolutions on the CPU, so a
    ``model.half()`` export is not possible here.
"""

from __future__ import annotations

import os
from collections import OrderedDict

import numpy as np
import torch
import torch.nn as nn

from make_fixtures import FIXTURES, maker, save_fixture, seed_everything, simple_kwargs


class MnistMlp(nn.Module):
    def __init__(self):
        super().__init__()
        self.flatten = nn.Flatten()
        self.fc1 = nn.Linear(25, 20, bias=False)
        self.relu = nn.ReLU()
        self.fc2 = nn.Linear(20, 15, bias=False)
        self.fc3 = nn.Linear(15, 10, bias=False)

    def forward(self, x):
        return self.fc3(self.relu(self.fc2(self.relu(self.fc1(self.flatten(x))))))


def dequantized_weights(path: str) -> dict:
    """``onnx::MatMul_N`` weights of the int8 model as floats: (q - zero_point) * scale."""
    import onnx
    from onnx import numpy_helper

    init = {t.name: numpy_helper.to_array(t) for t in onnx.load(path).graph.initializer}
    out = {}
    for base in sorted({n[: -len("_quantized")] for n in init if n.endswith("_quantized")}):
        q = init[base + "_quantized"].astype(np.float32)
        out[base] = (q - init[base + "_zero_point"].astype(np.float32)) * init[base + "_scale"].astype(np.float32)
    return out


@maker("mnist-mlp-float")
def make_mnist_mlp_float():
    seed_everything(0)
    weights = dequantized_weights(os.path.join(FIXTURES, "real-models", "mnist-mlp-dynamic-int8.onnx"))
    model = MnistMlp().eval()
    with torch.no_grad():
        for linear, (_, w) in zip([model.fc1, model.fc2, model.fc3], sorted(weights.items())):
            linear.weight.copy_(torch.from_numpy(w.T.copy()))  # MatMul's [in, out] is Linear's [out, in]
    x = torch.rand(2, 25)
    save_fixture("mnist-mlp-float", model, OrderedDict(input=x),
                 simple_kwargs(inp="input", out="output"),
                 notes="Float twin of real-models/mnist-mlp-dynamic-int8.onnx (its int8 weights dequantized).")


@maker("compare-fp16")
def make_compare_fp16():
    import onnx
    from onnx import TensorProto, numpy_helper

    model = onnx.load(os.path.join(FIXTURES, "seed-cnn", "model.onnx"))
    graph = model.graph
    for i, t in enumerate(graph.initializer):
        if t.data_type == TensorProto.FLOAT:
            graph.initializer[i].CopyFrom(numpy_helper.from_array(numpy_helper.to_array(t).astype(np.float16), t.name))
    for v in list(graph.input) + list(graph.output) + list(graph.value_info):
        if v.type.tensor_type.elem_type == TensorProto.FLOAT:
            v.type.tensor_type.elem_type = TensorProto.FLOAT16
    for node in graph.node:
        for a in node.attribute:
            if a.name == "value" and a.t.data_type == TensorProto.FLOAT:
                a.t.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(a.t).astype(np.float16)))
    folder = os.path.join(FIXTURES, "compare")
    os.makedirs(folder, exist_ok=True)
    onnx.save(model, os.path.join(folder, "seed-cnn-fp16.onnx"))
    print("compare-fp16: fixtures/compare/seed-cnn-fp16.onnx")


# --------------------------------------------------------------------------------------------
# neurotap_torch.py: dumps and marked exports of our fixture models
# --------------------------------------------------------------------------------------------

BRIDGE_SOURCES = ["seed-mlp", "twice", "rnn", "rnn-deep", "transformer", "attention", "fused-bn",
                  "fused-transpose"]


class Down(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(4, 8, 3, stride=2, padding=1)
        self.bn = nn.BatchNorm2d(8)

    def forward(self, x):
        return torch.relu(self.bn(self.conv(x)))


class BridgeCases(nn.Module):
    """What a default export cannot show: a Conv before its BatchNorm, a U-Net skip (the encoder
    output read by the decoder's concatenation), and ``_, h = gru(x)`` (the unused output sequence)."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 4, 3, padding=1)
        self.stem_bn = nn.BatchNorm2d(4)
        self.down = Down()
        self.up = nn.ConvTranspose2d(8, 4, 2, stride=2)
        self.fuse = nn.Conv2d(8, 4, 1)
        self.gru = nn.GRU(8, 6, batch_first=True)
        self.head = nn.Linear(6, 2)

    def forward(self, x):
        skip = self.stem_bn(self.stem(x))
        y = self.fuse(torch.cat([self.up(self.down(skip)), skip], dim=1))
        _, h = self.gru(y.mean(3))  # [N, C, W]: C as time, W as features
        return self.head(h[-1])


def _bridge_cases():
    from make_fixtures import randomize_batchnorm

    seed_everything(0)
    model = BridgeCases()
    randomize_batchnorm(model)
    return model.eval(), OrderedDict(x=torch.randn(2, 3, 8, 8)), simple_kwargs()


def _capture_maker(name):
    """Runs the maker of fixture ``name`` with save_fixture stubbed: returns its model, inputs and kwargs."""
    import importlib
    import make_fixtures

    seen = {}

    def stub(fixture, model, inputs, export_kwargs, notes="", extra=None, export_model=None):
        seen[fixture] = (model, inputs, export_kwargs)
        return OrderedDict(), ()

    fn = make_fixtures.MAKERS[name]
    module = importlib.import_module(fn.__module__) if fn.__module__ != "__main__" else make_fixtures
    original = module.save_fixture
    module.save_fixture = stub
    try:
        fn()
    finally:
        module.save_fixture = original
    return seen[name]


@maker("bridge")
def make_bridge():
    """``fixtures/bridge/<source>/``: ``neurotap_torch.export`` of the source fixture's model as
    ``model.onnx`` and ``neurotap_torch.dump(..., inputs=True)`` on its ``input.npz`` as ``dump.npz``."""
    import sys

    sys.path.insert(0, os.path.join(os.path.dirname(FIXTURES), "python"))
    import neurotap_torch

    from make_fixtures import save_npz, to_numpy

    for source in BRIDGE_SOURCES + ["bridge-cases"]:
        model, inputs, kwargs = _bridge_cases() if source == "bridge-cases" else _capture_maker(source)
        model.eval()
        args = tuple(inputs.values())
        folder = os.path.join(FIXTURES, "bridge", source)
        os.makedirs(folder, exist_ok=True)
        export_kwargs = {k: v for k, v in kwargs.items() if k != "training"}
        export_kwargs.setdefault("input_names", list(inputs.keys()))
        neurotap_torch.export(model, args, os.path.join(folder, "model.onnx"), **export_kwargs)
        neurotap_torch.dump(model, args, os.path.join(folder, "dump.npz"), inputs=True)
        if source == "bridge-cases":  # no fixture folder of its own: its default export and input here
            torch.onnx.export(model, args, os.path.join(folder, "default.onnx"), **kwargs)
            save_npz(os.path.join(folder, "input.npz"), OrderedDict((k, to_numpy(v)) for k, v in inputs.items()))
        print(f"bridge/{source}: export + dump")
