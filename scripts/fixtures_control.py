"""Fixtures for control flow (issue 9, patterns 10 and 11): scripted loops and branches, an If in a
Scan body (hand-built: PyTorch never emits Scan).

    /usr/bin/python3 scripts/make_fixtures.py loop-nested scan-branch
"""

from __future__ import annotations

from collections import OrderedDict

import numpy as np
import onnx
import torch
import torch.nn as nn
from onnx import TensorProto, helper, numpy_helper

from make_fixtures import maker, save_fixture, seed_everything


class LoopNested(nn.Module):
    """Two nested loops (torch.jit.script) with branches:
    - `f` is called in the outer body before the inner loop and in the inner body: PyTorch numbers
      its calls in execution order, interleaving the two depths;
    - `even` / `odd` sit in an If inside the inner loop: their inputs are computed outside the If
      and exist in every iteration, but each module was called only where its branch ran;
    - `a` / `b` / `c` form a state machine (`if … elif … else`): `b` and `c` sit in an If nested in
      the other If's else branch, whose condition exists only in the iterations reaching it."""

    def __init__(self):
        super().__init__()
        self.f = nn.Linear(4, 4)
        self.even = nn.Linear(4, 4)
        self.odd = nn.Linear(4, 4)
        self.a = nn.Linear(4, 4)
        self.b = nn.Linear(4, 4)
        self.c = nn.Linear(4, 4)
        self.head = nn.Linear(4, 2)

    def forward(self, x, n, m):
        state = 0
        for i in range(int(n)):
            x = self.f(x) * 0.5
            for j in range(int(m)):
                if (i + j) % 2 == 0:
                    x = torch.tanh(self.even(x))
                else:
                    x = torch.sigmoid(self.odd(x))
                x = self.f(x)
            if state == 0:
                x = self.a(x)
                state = 1
            elif state == 1:
                x = torch.relu(self.b(x))
                state = 2
            else:
                x = self.c(x)
                state = 0
        return self.head(x)


@maker("loop-nested")
def make_loop_nested():
    seed_everything(0)
    model = LoopNested().eval()
    inputs = OrderedDict(x=torch.randn(2, 4), n=torch.tensor(4), m=torch.tensor(2))
    kwargs = {"output_names": ["output"], "dynamic_axes": {"x": {0: "batch"}, "output": {0: "batch"}}}
    save_fixture("loop-nested", model, inputs, kwargs,
                 notes="torch.jit.script: a Loop in a Loop with If branches in both bodies, a nested If "
                       "(elif), a module called at two loop depths",
                 export_model=torch.jit.script(model))
