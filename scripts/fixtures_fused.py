"""Fixtures for export optimisations that fuse values across module boundaries (issue 9, patterns 5, 7, 12).

- ``fused-bn``: BatchNorms folded into Convs owned by other modules (a wrapper holding only the Conv,
  a Conv+BN block, a Sequential Conv/BN/ReLU); ``fused-bn-preserve`` is the same model exported with
  ``training=TrainingMode.PRESERVE``, which keeps every BatchNorm (``do_constant_folding=False`` does
  not: measured with torch 1.13, the eval peephole folds them anyway).
- ``fused-qdq``: a small CNN QDQ-quantized by ``scripts/qdq_quantize.py`` (no onnxruntime for Python
  here); no PyTorch goldens, its reference is the plain ONNX Runtime run (test/fidelity-patterns-fused.test.ts).
"""

from __future__ import annotations

from collections import OrderedDict

import torch
import torch.nn as nn

from make_fixtures import maker, randomize_batchnorm, save_fixture, seed_everything, simple_kwargs


class ConvOnly(nn.Module):
    """Holds the Conv; the BatchNorm after it belongs to the parent, so this module returns conv(x)."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1)

    def forward(self, x):
        return self.conv(x)


class ConvBN(nn.Module):
    """Holds both: returns bn(conv(x)), which the folded graph holds too, indistinguishable from ConvOnly."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(8, 8, 3, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(8)

    def forward(self, x):
        return self.bn(self.conv(x))


class FusedBN(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = ConvOnly()
        self.bn = nn.BatchNorm2d(8)
        self.act = nn.ReLU()
        self.block = ConvBN()
        self.seq = nn.Sequential(nn.Conv2d(8, 8, 1), nn.BatchNorm2d(8), nn.ReLU())
        self.head = nn.Linear(8, 4)

    def forward(self, x):
        x = self.act(self.bn(self.stem(x)))
        x = self.seq(self.block(x))
        return self.head(x.mean((2, 3)))


def _fused_bn_model():
    seed_everything()
    model = FusedBN()
    randomize_batchnorm(model)
    return model.eval(), OrderedDict(x=torch.randn(2, 3, 8, 8))


@maker("fused-bn")
def make_fused_bn():
    model, inputs = _fused_bn_model()
    save_fixture("fused-bn", model, inputs, simple_kwargs(),
                 notes="Default export: every BatchNorm folded into the Conv before it. stem (a wrapper "
                       "of the Conv, BN after it) and block (Conv+BN inside) both output the fused value: "
                       "not observable; seq (Conv, BN, ReLU) ends in its ReLU: observable.")


@maker("fused-bn-preserve")
def make_fused_bn_preserve():
    model, inputs = _fused_bn_model()
    kwargs = simple_kwargs()
    kwargs["training"] = torch.onnx.TrainingMode.PRESERVE
    save_fixture("fused-bn-preserve", model, inputs, kwargs,
                 notes="fused-bn exported with training=TrainingMode.PRESERVE (model in eval): "
                       "BatchNormalization nodes kept, every module observable.")


class SmallCNN(nn.Module):
    """Every op a module, so each ONNX activation is named after the module computing it."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 16, 3, padding=1)
        self.relu1 = nn.ReLU()
        self.pool = nn.MaxPool2d(2)
        self.conv2 = nn.Conv2d(16, 32, 3, padding=1)
        self.relu2 = nn.ReLU()
        self.conv3 = nn.Conv2d(32, 32, 3, padding=1)
        self.relu3 = nn.ReLU()
        self.gap = nn.AdaptiveAvgPool2d(1)
        self.flatten = nn.Flatten()
        self.fc = nn.Linear(32, 10)

    def forward(self, x):
        x = self.pool(self.relu1(self.conv1(x)))
        x = self.relu3(self.conv3(self.relu2(self.conv2(x))))
        return self.fc(self.flatten(self.gap(x)))


def calibrated_ranges(model: nn.Module, graph, batch: torch.Tensor) -> dict:
    """(min, max) of every ONNX activation, from the forward hook of the module whose node computes it."""
    seen = {}
    hooks = [m.register_forward_hook(lambda mod, i, o, n=name: seen.__setitem__(n, o.detach()))
             for name, m in model.named_modules() if name]
    with torch.no_grad():
        model(batch)
    for h in hooks:
        h.remove()
    ranges = {graph.input[0].name: (float(batch.min()), float(batch.max()))}
    for node in graph.node:
        module = node.name.split("/")[1]
        ranges[node.output[0]] = (float(seen[module].min()), float(seen[module].max()))
    return ranges


@maker("fused-qdq")
def make_fused_qdq():
    """No PyTorch goldens: a QDQ model has no PyTorch twin; its reference is the plain ONNX Runtime run."""
    import io
    import os

    import onnx

    from make_fixtures import FIXTURES, OPSET, save_npz, to_numpy, write_json
    from qdq_quantize import quantize_qdq

    seed_everything()
    model = SmallCNN().eval()
    calibration = torch.randn(16, 1, 16, 16)
    buf = io.BytesIO()
    torch.onnx.export(model, (calibration[:1],), buf, **simple_kwargs())
    proto = onnx.load_from_string(buf.getvalue())
    quantized = quantize_qdq(proto, calibrated_ranges(model, proto.graph, calibration))
    onnx.checker.check_model(quantized)
    folder = os.path.join(FIXTURES, "fused-qdq")
    os.makedirs(folder, exist_ok=True)
    onnx.save(quantized, os.path.join(folder, "model.onnx"))
    save_npz(os.path.join(folder, "input.npz"), OrderedDict(x=to_numpy(torch.randn(4, 1, 16, 16))))
    write_json(os.path.join(folder, "modules.json"), {
        "modules": [{"name": n, "type": type(m).__name__} for n, m in model.named_modules() if n],
        "inputs": ["x"], "outputs": ["output"], "torch": torch.__version__, "opset": OPSET,
        "notes": "SmallCNN exported, then QDQ-quantized by scripts/qdq_quantize.py (uint8 activations, "
                 "int8 weights, int32 biases, ranges from 16 calibration images). Reference: the plain "
                 "ONNX Runtime run, which fuses DequantizeLinear->Conv->QuantizeLinear into QLinearConv.",
    })
    print(f"fused-qdq: {len(quantized.graph.node)} nodes")


class TransposedOut(nn.Module):
    """Returns lin(x).t(): the exporter folds the .t() into the next Gemm's transA, so the graph holds lin(x)."""

    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(6, 4)

    def forward(self, x):
        return self.lin(x).t()


class CrossTranspose(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = TransposedOut()
        self.b = nn.Linear(3, 5)
        self.c = nn.Linear(6, 6)
        self.d = nn.Linear(3, 2)
        self.enc = nn.Linear(6, 7)
        self.l1 = nn.LSTM(7, 8, batch_first=True)
        self.l2 = nn.GRU(8, 8, batch_first=True)
        self.l3 = nn.LSTM(8, 5, batch_first=True)

    def forward(self, x, z):
        y = self.b(self.a(x))  # a's transpose, inside a: folded into b's Gemm
        w = self.d(self.c(x).t())  # the transpose in the parent: folded the same way
        e = self.enc(z).transpose(0, 1)  # time-major -> batch-first: cancels against l1's own transpose
        o1, _ = self.l1(e)
        o2, _ = self.l2(o1)  # l1's output transpose cancels against l2's input transpose, and so on
        o3, (h3, _) = self.l3(o2)
        return y, w, o3, h3


@maker("fused-transpose")
def make_fused_transpose():
    seed_everything()
    model = CrossTranspose().eval()
    inputs = OrderedDict(x=torch.randn(3, 6), z=torch.randn(5, 2, 6))
    kwargs = {"input_names": ["x", "z"], "output_names": ["y", "w", "o3", "h3"]}
    save_fixture("fused-transpose", model, inputs, kwargs,
                 notes="Transposes cancelled across module boundaries: a.t() and c(x).t() folded into the next "
                       "Gemm's transA; enc's output transposed by the parent and batch-first l1, l2, l3 stacked: "
                       "the exporter removes every transpose pair between them.")
