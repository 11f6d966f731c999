"""Sweep cases for what a module returns: tuple-returning torch.nn classes, dicts, namedtuples,
ModelOutput-like containers, dataclasses, None elements and `return x, f(x)` pass-throughs.

    /usr/bin/python3 scripts/sweep/sweep.py --out /tmp/sweep-outputs 'out-*'
    node --import tsx scripts/sweep/report.ts --out /tmp/sweep-outputs --verbose 'out-*'
"""

import os
import sys

import torch
import torch.nn as nn
import torchvision
from torchvision.models._utils import IntermediateLayerGetter

from sweep import Case, case, randomize_norm_stats

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from fixtures_outputs import Pass, Returns, values_of  # noqa: E402  (the fixtures' container models)


@case("out-vit-tiny")
def vit_tiny():
    from torchvision.models.vision_transformer import VisionTransformer

    m = VisionTransformer(image_size=32, patch_size=8, num_layers=2, num_heads=2, hidden_dim=32, mlp_dim=64)
    return Case(m, (torch.randn(2, 3, 32, 32),))


class MhaDiscard(nn.Module):
    """torchvision's EncoderBlock idiom: `x, _ = self.attn(x, x, x, need_weights=False)`."""

    def __init__(self, need_weights=False, use_weights=False, kdim=None):
        super().__init__()
        self.attn = nn.MultiheadAttention(16, 2, batch_first=True, kdim=kdim, vdim=kdim)
        self.head = nn.Linear(16, 4)
        self.need_weights, self.use_weights, self.kdim = need_weights, use_weights, kdim

    def forward(self, x):
        kv = x if self.kdim is None else torch.cat([x, x[..., : self.kdim - 16]], -1)
        y, w = self.attn(x, kv, kv, need_weights=self.need_weights)
        out = self.head(y)
        return (out, w) if self.use_weights else out


@case("out-mha-discard")
def mha_discard():
    return Case(MhaDiscard(), (torch.randn(2, 5, 16),))


@case("out-mha-weights-unused")
def mha_weights_unused():
    return Case(MhaDiscard(need_weights=True), (torch.randn(2, 5, 16),))


@case("out-mha-weights-used")
def mha_weights_used():
    return Case(MhaDiscard(need_weights=True, use_weights=True), (torch.randn(2, 5, 16),))


@case("out-mha-kdim")
def mha_kdim():
    return Case(MhaDiscard(kdim=24), (torch.randn(2, 5, 16),))


class PoolIndices(nn.Module):
    def __init__(self, use_indices, adaptive=False):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.pool = nn.AdaptiveMaxPool2d(4, return_indices=True) if adaptive else nn.MaxPool2d(2, return_indices=True)
        self.use_indices = use_indices

    def forward(self, x):
        y, idx = self.pool(self.conv(x))
        return (y, idx) if self.use_indices else y * 2


@case("out-maxpool-indices-used")
def maxpool_used():
    return Case(PoolIndices(True), (torch.randn(2, 3, 8, 8),))


@case("out-maxpool-indices-unused")
def maxpool_unused():
    return Case(PoolIndices(False), (torch.randn(2, 3, 8, 8),))


@case("out-adaptive-maxpool-indices")
def adaptive_maxpool():
    return Case(PoolIndices(True, adaptive=True), (torch.randn(2, 3, 8, 8),))


def small_resnet_body():
    m = torchvision.models.resnet18()
    return randomize_norm_stats(m)


@case("out-fcn-dict")
def fcn_dict():
    """torchvision's segmentation backbone: IntermediateLayerGetter returns an OrderedDict."""
    from torchvision.models.segmentation.fcn import FCN, FCNHead

    backbone = IntermediateLayerGetter(small_resnet_body(), {"layer4": "out", "layer3": "aux"})
    m = FCN(backbone, FCNHead(512, 3), FCNHead(256, 3))
    return Case(randomize_norm_stats(m), (torch.randn(1, 3, 32, 32),))


@case("out-fcn-dict-one")
def fcn_dict_one():
    from torchvision.models.segmentation.fcn import FCN, FCNHead

    backbone = IntermediateLayerGetter(small_resnet_body(), {"layer4": "out"})
    m = FCN(backbone, FCNHead(512, 3), None)
    return Case(randomize_norm_stats(m), (torch.randn(1, 3, 32, 32),))


class Consumer(nn.Module):
    def __init__(self, kind):
        super().__init__()
        self.block = Returns(kind)
        self.head = nn.Linear(8, 3)
        self.kind = kind

    def forward(self, x):
        return tuple(self.head(v) for v in values_of(self.kind, self.block(x)))


for _kind in ("dict", "namedtuple", "dataclass", "modeloutput", "none", "nested"):

    def _make(kind=_kind):
        return Case(Consumer(kind), (torch.randn(2, 16),))

    case(f"out-container-{_kind}")(_make)


class PassOuter(nn.Module):
    """The three forms the graph shows no trace of."""

    def __init__(self, form):
        super().__init__()
        self.pre = nn.Linear(16, 16)
        self.m = Pass(single_op=form == "single-op")
        self.g = nn.Linear(16, 16)
        self.form = form

    def forward(self, x):
        b = self.pre(x)
        c, d = self.m(b)
        if self.form == "other-readers":
            return c * self.g(b) + d
        if self.form == "sum":
            return c + d
        return c * d


for _form in ("other-readers", "sum", "single-op"):

    def _make_pass(form=_form):
        return Case(PassOuter(form), (torch.randn(2, 16),))

    case(f"out-pass-{_form}")(_make_pass)


class PassToOutputs(nn.Module):
    """`return x, f(x)` whose elements are both returned by the model."""

    def __init__(self):
        super().__init__()
        self.pre = nn.Linear(16, 16)
        self.m = Pass()

    def forward(self, x):
        return self.m(self.pre(x))


@case("out-pass-graph-outputs")
def pass_graph_outputs():
    return Case(PassToOutputs(), (torch.randn(2, 16),))


class CrossAttention(nn.Module):
    """nn.TransformerDecoderLayer's idiom: self-attention, then `multihead_attn(x, mem, mem)`."""

    def __init__(self):
        super().__init__()
        self.self_attn = nn.MultiheadAttention(16, 2, batch_first=True)
        self.cross = nn.MultiheadAttention(16, 2, batch_first=True)

    def forward(self, x, mem):
        y = x + self.self_attn(x, x, x, need_weights=False)[0]
        return y + self.cross(y, mem, mem, need_weights=False)[0]


@case("out-mha-cross")
def mha_cross():
    return Case(CrossAttention(), (torch.randn(2, 5, 16), torch.randn(2, 7, 16)))


@case("out-transformer-decoder")
def transformer_decoder():
    layer = nn.TransformerDecoderLayer(16, 2, 32, dropout=0.0, batch_first=True)
    return Case(nn.TransformerDecoder(layer, 2), (torch.randn(2, 5, 16), torch.randn(2, 7, 16)))
