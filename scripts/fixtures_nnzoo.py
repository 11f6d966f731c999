"""Fixtures for torch.nn layer classes and everyday idioms found by the nnzoo sweep
(scripts/sweep/cases_nnzoo.py): each pins one class of defect, goldens from forward hooks."""

from __future__ import annotations

from collections import OrderedDict

import torch
import torch.nn as nn

from make_fixtures import maker, save_fixture, seed_everything


class TwoNames(nn.Module):
    """One Linear registered as `a` and `b`: named_modules() lists it once, as `a`; hooks fire twice."""

    def __init__(self):
        super().__init__()
        lin = nn.Linear(6, 6)
        self.a = lin
        self.b = lin
        self.c = nn.Linear(6, 3)

    def forward(self, x):
        return self.c(self.b(torch.relu(self.a(x))))


@maker("nnzoo-fn-two-names")
def make_fn_two_names():
    seed_everything(0)
    save_fixture(
        "nnzoo-fn-two-names",
        TwoNames(),
        OrderedDict(x=torch.randn(3, 6)),
        {"output_names": ["output"], "opset_version": 17, "export_modules_as_functions": True},
        notes="export_modules_as_functions=True: the ReLU between a's two calls is the root's, not a:1's",
    )


class DictHeads(nn.Module):
    """A ModuleDict (its forward never runs, so scopes drop it) holding a Sequential with a parameterless child."""

    def __init__(self):
        super().__init__()
        self.body = nn.Linear(6, 6)
        self.heads = nn.ModuleDict({"left": nn.Linear(6, 2), "right": nn.Sequential(nn.Linear(6, 3), nn.Tanh())})

    def forward(self, x):
        h = torch.relu(self.body(x))
        return self.heads["left"](h), self.heads["right"](h) * 2  # the Tanh is not the graph output


@maker("nnzoo-dict-sibling")
def make_dict_sibling():
    seed_everything(0)
    save_fixture(
        "nnzoo-dict-sibling",
        DictHeads(),
        OrderedDict(x=torch.randn(3, 6)),
        {"output_names": ["left", "right"]},
        notes="/right/right.1/Tanh is heads.right.1: the sibling of heads.right.0 follows the parameter path",
    )
