"""Generates the large benchmark models into fixtures/big/ (git-ignored): `npm run bench:models`.

- resnet18-224.onnx: torchvision ResNet-18 (random weights, seeded), input [batch, 3, 224, 224],
  default export (BatchNorm folded), as the performance issue measures it; resnet18-224-preserve.onnx,
  the same exported with TrainingMode.PRESERVE (BatchNorm kept: all 52 leaves observable).
- mlp-1gb.onnx + mlp-1gb.onnx.data: a deep MLP of 4096x4096 Linear layers (~1.07 GB of float32
  weights) stored as ONNX external data, for the big-model loading case.
Needs Debian's python3-torch and python3-torchvision (run with /usr/bin/python3).
"""
import os
import sys

import torch
import torch.nn as nn
import torchvision

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "fixtures", "big")


def export_resnet(path: str, **export_kwargs) -> None:
    torch.manual_seed(0)
    model = torchvision.models.resnet18(weights=None).eval()
    x = torch.randn(1, 3, 224, 224)
    torch.onnx.export(model, (x,), path, input_names=["x"], output_names=["logits"],
                      dynamic_axes={"x": {0: "batch"}, "logits": {0: "batch"}}, opset_version=13, **export_kwargs)


def export_big_mlp(path: str, layers: int = 16, width: int = 4096) -> None:
    import onnx
    torch.manual_seed(0)
    blocks = []
    for _ in range(layers):
        blocks += [nn.Linear(width, width), nn.ReLU()]
    model = nn.Sequential(*blocks).eval()
    tmp = path + ".tmp.onnx"
    torch.onnx.export(model, (torch.randn(1, width),), tmp, input_names=["x"], output_names=["y"],
                      dynamic_axes={"x": {0: "batch"}, "y": {0: "batch"}}, opset_version=13)
    proto = onnx.load(tmp)
    os.remove(tmp)
    onnx.save_model(proto, path, save_as_external_data=True, all_tensors_to_one_file=True,
                    location=os.path.basename(path) + ".data", size_threshold=1024)


def main() -> None:
    os.makedirs(OUT, exist_ok=True)
    which = sys.argv[1:] or ["resnet18", "mlp"]
    if "resnet18" in which:
        export_resnet(os.path.join(OUT, "resnet18-224.onnx"))
        # BatchNorm kept as its own nodes: every one of the 52 leaf modules is observable.
        export_resnet(os.path.join(OUT, "resnet18-224-preserve.onnx"), training=torch.onnx.TrainingMode.PRESERVE)
    if "mlp" in which:
        export_big_mlp(os.path.join(OUT, "mlp-1gb.onnx"))
    for name in sorted(os.listdir(OUT)):
        print(name, os.path.getsize(os.path.join(OUT, name)))


if __name__ == "__main__":
    main()
