"""torchvision architectures: classification, segmentation, detection, video, optical flow, quantized.

Each family in three exports: the default (``name``), ``training=TrainingMode.PRESERVE`` (``name-preserve``:
BatchNorm kept) and a dynamic batch (``name-dyn1`` / ``name-dyn3``: one export traced at batch 1 with
``dynamic_axes`` on the batch, captured at batch 1 and at batch 3). Random weights, randomized BatchNorm
statistics, small inputs (64 px; inception_v3 96 px, video 4x32x32).

    /usr/bin/python3 scripts/sweep/sweep.py --out /tmp/sweep-vision 'tv-*'
    node --import tsx scripts/sweep/report.ts --out /tmp/sweep-vision --verbose
"""

import torch
import torch.nn as nn
import torchvision.models as tvm
import torchvision.models.detection as tvd
import torchvision.models.optical_flow as tvf
import torchvision.models.quantization as tvq
import torchvision.models.segmentation as tvs
import torchvision.models.video as tvv

import neurotap_torch
from sweep import Case, case, randomize_norm_stats

PRESERVE = {"training": torch.onnx.TrainingMode.PRESERVE}


def _dynamic(names, outputs=None):
    axes = {n: {0: "batch"} for n in names}
    for n in outputs or []:
        axes[n] = {0: "batch"}
    return {"dynamic_axes": axes}


def _family(name, build, shape, dyn=True, preserve=True, export=None):
    """Registers the default, PRESERVE and dynamic-batch cases of one architecture."""
    base = dict(export or {})

    def make(batch, extra, traced_batch=None):
        def fn():
            torch.manual_seed(0)
            m = randomize_norm_stats(build())
            x = torch.randn(batch, *shape)
            traced = None if traced_batch is None else (torch.randn(traced_batch, *shape),)
            return Case(m, (x,), export={**base, **extra}, export_args=traced)

        return fn

    case(name)(make(1, {}))
    if preserve:
        case(f"{name}-preserve")(make(1, PRESERVE))
    if dyn:
        dyn_kwargs = {**_dynamic(["x0"]), "output_names": ["out"]}
        dyn_kwargs["dynamic_axes"]["out"] = {0: "batch"}
        case(f"{name}-dyn1")(make(1, dyn_kwargs, traced_batch=1))
        case(f"{name}-dyn3")(make(3, dyn_kwargs, traced_batch=1))


IMG = (3, 64, 64)
CLASSIFIERS = {
    "resnet18": tvm.resnet18,
    "resnet50": tvm.resnet50,
    "mobilenet_v2": tvm.mobilenet_v2,
    "mobilenet_v3_small": tvm.mobilenet_v3_small,
    "efficientnet_b0": tvm.efficientnet_b0,
    "efficientnet_v2_s": tvm.efficientnet_v2_s,
    "regnet_x_400mf": tvm.regnet_x_400mf,
    "regnet_y_400mf": tvm.regnet_y_400mf,
    "mnasnet0_5": tvm.mnasnet0_5,
    "shufflenet_v2_x0_5": tvm.shufflenet_v2_x0_5,
    "squeezenet1_1": tvm.squeezenet1_1,
    "densenet121": tvm.densenet121,
    "convnext_tiny": tvm.convnext_tiny,
    "resnext50_32x4d": tvm.resnext50_32x4d,
    "wide_resnet50_2": tvm.wide_resnet50_2,
    "swin_t": tvm.swin_t,
}
for _n, _b in CLASSIFIERS.items():
    _family(f"tv-{_n}", lambda b=_b: b(num_classes=10), IMG)

_family("tv-googlenet", lambda: tvm.googlenet(num_classes=10, aux_logits=False, init_weights=False), IMG)
_family("tv-inception_v3", lambda: tvm.inception_v3(num_classes=10, aux_logits=False, init_weights=False), (3, 96, 96))
_family(
    "tv-vit_small",
    lambda: tvm.VisionTransformer(image_size=32, patch_size=8, num_layers=2, num_heads=2, hidden_dim=32, mlp_dim=64),
    (3, 32, 32),
)


# Segmentation: the model returns a dict {'out': ..., 'aux': ...}; the wrapper returns its values.
class DictValues(nn.Module):
    def __init__(self, m):
        super().__init__()
        self.m = m

    def forward(self, x):
        return tuple(self.m(x).values())


_SEG = {
    "fcn_resnet50": lambda: tvs.fcn_resnet50(num_classes=4, weights_backbone=None, aux_loss=True),
    "deeplabv3_mobilenet_v3_large": lambda: tvs.deeplabv3_mobilenet_v3_large(
        num_classes=4, weights_backbone=None, aux_loss=True
    ),
    "lraspp_mobilenet_v3_large": lambda: tvs.lraspp_mobilenet_v3_large(num_classes=4, weights_backbone=None),
}
for _n, _b in _SEG.items():
    _family(f"tv-{_n}", lambda b=_b: DictValues(b()), IMG, dyn=False)


# Detection: a list of images in, a list of dicts out; the wrapper takes a tensor and returns tuples.
class Detector(nn.Module):
    def __init__(self, m):
        super().__init__()
        self.m = m

    def forward(self, x):
        out = self.m([x[0]])[0]
        return tuple(out[k] for k in sorted(out))


_DET = {
    "ssdlite320_mobilenet_v3_large": lambda: tvd.ssdlite320_mobilenet_v3_large(num_classes=3, weights_backbone=None),
    "fasterrcnn_mobilenet_v3_large_320_fpn": lambda: tvd.fasterrcnn_mobilenet_v3_large_320_fpn(
        num_classes=3, weights_backbone=None, min_size=64, max_size=64
    ),
    "retinanet_resnet50_fpn": lambda: tvd.retinanet_resnet50_fpn(
        num_classes=3, weights_backbone=None, min_size=64, max_size=64
    ),
    "maskrcnn_resnet50_fpn": lambda: tvd.maskrcnn_resnet50_fpn(
        num_classes=3, weights_backbone=None, min_size=64, max_size=64
    ),
    "keypointrcnn_resnet50_fpn": lambda: tvd.keypointrcnn_resnet50_fpn(
        num_classes=2, num_keypoints=5, weights_backbone=None, min_size=64, max_size=64
    ),
}
for _n, _b in _DET.items():
    _family(f"tv-{_n}", lambda b=_b: Detector(b()), IMG, dyn=False, export={"opset_version": 11})


# Video: 1x3x4x32x32 clips.
CLIP = (3, 4, 32, 32)
for _n, _b in {"r3d_18": tvv.r3d_18, "mc3_18": tvv.mc3_18, "r2plus1d_18": tvv.r2plus1d_18}.items():
    _family(f"tv-{_n}", lambda b=_b: b(num_classes=5), CLIP)
_family("tv-s3d", lambda: tvv.s3d(num_classes=5), (3, 16, 224, 224), dyn=False)  # its head pools 2x7x7


# Optical flow: two images in; RAFT's update block is called once per iteration (name:k keys).
class Flow(nn.Module):
    def __init__(self, m, iters):
        super().__init__()
        self.m = m
        self.iters = iters

    def forward(self, a, b):
        return self.m(a, b, num_flow_updates=self.iters)[-1]


@case("tv-raft_small")
def raft_small():
    torch.manual_seed(0)
    m = randomize_norm_stats(Flow(tvf.raft_small(), 3))
    # 128 px: at 64 px the coarsest correlation level is 1x1, where torch's grid_sample (align_corners)
    # divides by W - 1 = 0 and the reference holds NaN.
    x = (torch.randn(1, 3, 128, 128), torch.randn(1, 3, 128, 128))
    return Case(m, x, export={"opset_version": 16})


# Quantized tensors are recorded dequantized (float): `neurotap compare` dequantizes what it captures
# (the fixtures' goldens keep int_repr() instead, as a plain capture returns the integers).
_snapshot = neurotap_torch._snapshot


def _snapshot_quantized(value):
    if isinstance(value, torch.Tensor) and value.is_quantized:
        return value.detach().dequantize()
    # Only plain tuples and lists are rebuilt here: this patch applies to every case of the sweep, and
    # other containers (a PackedSequence, namedtuples) are the bridge's own _snapshot's to copy.
    if type(value) in (tuple, list):
        return type(value)(_snapshot_quantized(v) for v in value)
    return _snapshot(value)


neurotap_torch._snapshot = _snapshot_quantized


# Quantized (torch.ao eager post-training quantization, fbgemm, calibrated on random data).
def _quantized(build, shape):
    m = build(quantize=False, num_classes=10).eval()
    randomize_norm_stats(m)
    m.fuse_model()
    m.qconfig = torch.ao.quantization.get_default_qconfig("fbgemm")
    torch.ao.quantization.prepare(m, inplace=True)
    with torch.no_grad():
        for _ in range(4):
            m(torch.randn(2, *shape))
    torch.ao.quantization.convert(m, inplace=True)
    return m


_Q = {
    "resnet18": tvq.resnet18,
    "mobilenet_v2": tvq.mobilenet_v2,
    "mobilenet_v3_large": tvq.mobilenet_v3_large,
    "shufflenet_v2_x0_5": tvq.shufflenet_v2_x0_5,
    "googlenet": lambda **k: tvq.googlenet(aux_logits=False, init_weights=False, **k),
}
for _n, _b in _Q.items():
    _family(f"tvq-{_n}", lambda b=_b: _quantized(b, IMG), IMG, preserve=False)
