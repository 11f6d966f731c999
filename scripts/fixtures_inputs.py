"""Fixtures for what modules receive (pre-hook inputs).

- ``opaque-first-input``: a call whose first input is a Conv with a folded BatchNorm (opaque: the graph
  holds bn(conv(x)) where the module received it after a step the export hid) and whose second input is
  the graph input. The second input must come back as ``in:join#1``, never shifted onto ``in:join#0``.
"""

from __future__ import annotations

from collections import OrderedDict

import torch
import torch.nn as nn

from make_fixtures import maker, randomize_batchnorm, save_fixture, seed_everything, simple_kwargs


class Join(nn.Module):
    def forward(self, a, b):
        return a + b


class OpaqueFirstInput(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 3, 3, padding=1)
        self.bn = nn.BatchNorm2d(3)
        self.join = Join()

    def forward(self, x):
        return self.join(self.bn(self.conv(x)), x)


@maker("opaque-first-input")
def make_opaque_first_input():
    seed_everything(0)
    model = OpaqueFirstInput()
    randomize_batchnorm(model)
    x = torch.randn(1, 3, 8, 8)
    save_fixture("opaque-first-input", model, OrderedDict(x=x), simple_kwargs(),
                 notes="join(bn(conv(x)), x): the first input is folded away, the second must keep index 1")
