"""Fixtures for torchvision export patterns found by the sweep (scripts/sweep/cases_vision.py).

- ``vision-list-input``: DenseNet's dense block in miniature: each layer takes the list of all
  earlier features and starts with ``torch.cat(features, 1)`` (layer 1 gets a one-element list). The
  graph shows the call's inputs going into one Concat, the same graph as separate arguments
  ``forward(a, b)`` give, so the layers' ``in:`` keys (PyTorch's ``in:block.layer2#0#1``) are reported,
  never keyed ``in:block.layer2#1``.
- ``vision-untraced``: modules a default export leaves no trace of and that are no numbered gap: a
  BatchNorm folded into the Conv before it at the end of a Conv+BN ``Sequential`` (mobilenet_v3's
  ``block.3.1``), a named one (ResNet's ``bn1``), a trailing Dropout and an Identity. ``dump.npz``
  (``neurotap_torch.dump(..., inputs=True)``) carries the module tree, from which ``neurotap compare``
  explains them. The ReLU after the folded Conv receives bn(conv(x)), which the graph holds, but it
  cannot show whether a BatchNorm ran inside the ReLU's module first: ``in:relu#0`` is reported with
  that reason.
- ``vision-constant-input``: RAFT's update block in miniature: a Conv called once per iteration,
  first on a zero flow that depends on no model input (the exporter folds it into a constant, so the
  call reads no graph value) and then on computed flows. ``neurotap compare`` against ``dump.npz``
  reports that first call's ``in:`` key with that reason.
"""

from __future__ import annotations

import os
import sys
from collections import OrderedDict

import torch
import torch.nn as nn

from make_fixtures import FIXTURES, maker, randomize_batchnorm, save_fixture, seed_everything, simple_kwargs


class DenseLayer(nn.Module):
    def __init__(self, c_in, growth):
        super().__init__()
        self.conv = nn.Conv2d(c_in, growth, 3, padding=1)
        self.relu = nn.ReLU()

    def forward(self, features):
        return self.relu(self.conv(torch.cat(features, 1)))


class DenseBlock(nn.Module):
    def __init__(self, c_in=3, growth=2, n=3):
        super().__init__()
        self.layers = nn.ModuleList(DenseLayer(c_in + i * growth, growth) for i in range(n))

    def forward(self, x):
        features = [x]
        for layer in self.layers:
            features.append(layer(features))
        return torch.cat(features, 1)


@maker("vision-list-input")
def make_vision_list_input():
    seed_everything(0)
    model = nn.Sequential(OrderedDict(stem=nn.Conv2d(3, 3, 1), block=DenseBlock(), head=nn.Conv2d(9, 2, 1)))
    save_fixture("vision-list-input", model, OrderedDict(x=torch.randn(1, 3, 6, 6)), simple_kwargs(),
                 notes="DenseNet-style layers taking a list whose first op is torch.cat: in: keys reported")


class ConvBN(nn.Sequential):
    def __init__(self, c_in, c_out):
        super().__init__(nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out))


class Untraced(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 4, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(4)
        self.relu = nn.ReLU()
        self.block = nn.Sequential(ConvBN(4, 4), nn.ReLU(), ConvBN(4, 4))
        self.skip = nn.Identity()
        self.head = nn.Linear(4, 2)
        self.drop = nn.Dropout(0.5)

    def forward(self, x):
        h = self.block(self.relu(self.bn1(self.conv1(x))))
        return self.drop(self.head(self.skip(h).mean((2, 3))))


@maker("vision-untraced")
def make_vision_untraced():
    seed_everything(0)
    model = Untraced()
    randomize_batchnorm(model)
    inputs = OrderedDict(x=torch.randn(1, 3, 6, 6))
    save_fixture("vision-untraced", model, inputs, simple_kwargs(),
                 notes="folded BatchNorms at a trailing slot and under a name, a Dropout, an Identity: "
                       "dump.npz holds the module tree compare explains them from")
    _dump("vision-untraced", model, inputs)


class Refine(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(2, 2, 3, padding=1)

    def forward(self, x):
        flow = torch.zeros(1, 2, 4, 4)
        for _ in range(2):
            flow = flow + torch.tanh(self.conv(flow) + x)
        return flow


def _dump(name, model, inputs):
    sys.path.insert(0, os.path.join(os.path.dirname(FIXTURES), "python"))
    import neurotap_torch

    model.eval()
    neurotap_torch.dump(model, tuple(inputs.values()), os.path.join(FIXTURES, name, "dump.npz"), inputs=True)


@maker("vision-constant-input")
def make_vision_constant_input():
    seed_everything(0)
    model = Refine()
    inputs = OrderedDict(x=torch.randn(1, 2, 4, 4))
    kwargs = {"input_names": ["x"], "output_names": ["output"]}
    save_fixture("vision-constant-input", model, inputs, kwargs,
                 notes="a Conv whose first call reads a constant-folded zero flow (RAFT's first iteration)")
    _dump("vision-constant-input", model, inputs)
