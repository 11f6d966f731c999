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
