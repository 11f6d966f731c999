"""Fixtures for export optimisations that fuse values across module boundaries (issue 9, patterns 5, 7, 12).

- ``fused-bn``: BatchNorms folded into Convs owned by other modules (a wrapper holding only the Conv,
  a Conv+BN block, a Sequential Conv/BN/ReLU); ``fused-bn-preserve`` is the same model exported with
  ``training=TrainingMode.PRESERVE``, which keeps every BatchNorm (``do_constant_folding=False`` does
  not: measured with torch 1.13, the eval peephole folds them anyway).
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
