"""ResNet-18 at 224², exported three ways into fixtures/big/ (git-ignored), for bench/markers.ts:
default export (BatchNorm folded), TrainingMode.PRESERVE, and neurotap_torch.export (every module
marked with Identity nodes, BatchNorm kept). Run with /usr/bin/python3 (Debian's torch 1.13)."""
import os
import sys

import torch
import torchvision

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "fixtures", "big")
sys.path.insert(0, os.path.join(ROOT, "python"))
import neurotap_torch  # noqa: E402

torch.manual_seed(0)
model = torchvision.models.resnet18(weights=None).eval()
x = torch.randn(1, 3, 224, 224)
kw = dict(input_names=["x"], output_names=["logits"], dynamic_axes={"x": {0: "batch"}, "logits": {0: "batch"}},
          opset_version=13)
os.makedirs(OUT, exist_ok=True)
torch.onnx.export(model, (x,), os.path.join(OUT, "resnet18-224.onnx"), **kw)
torch.onnx.export(model, (x,), os.path.join(OUT, "resnet18-224-preserve.onnx"),
                  training=torch.onnx.TrainingMode.PRESERVE, **kw)
neurotap_torch.export(model, (x,), os.path.join(OUT, "resnet18-224-marked.onnx"), **kw)
print("fixtures/big/resnet18-224{,-preserve,-marked}.onnx")
