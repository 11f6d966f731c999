"""Fixtures for torch.nn layer classes and everyday idioms found by the nnzoo sweep
(scripts/sweep/cases_nnzoo.py): each pins one class of defect, goldens from forward hooks."""

from __future__ import annotations

import copy
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


class Bag(nn.Module):
    def __init__(self):
        super().__init__()
        self.bag = nn.EmbeddingBag(20, 6, mode="mean")
        self.fc = nn.Linear(6, 2)

    def forward(self, ids):
        return self.fc(self.bag(ids))


@maker("nnzoo-embedding-bag")
def make_embedding_bag():
    seed_everything(0)
    save_fixture(
        "nnzoo-embedding-bag",
        Bag(),
        OrderedDict(ids=torch.tensor([[1, 2, 3], [4, 5, 19]])),
        {"output_names": ["output"]},
        notes="nn.EmbeddingBag exports as a Loop inside the module: its body's iteration number is no input of bag",
    )


@maker("nnzoo-weight-norm")
def make_weight_norm():
    """weight_norm's weight is computed ahead by constant folding (an anonymous onnx::Conv_* weight),
    like a folded BatchNorm's, but the Conv keeps its own bias (or none) and computes conv(x) exactly."""
    seed_everything(0)
    model = nn.Sequential(
        nn.utils.weight_norm(nn.Conv1d(2, 4, 3)),
        nn.ReLU(),
        nn.utils.weight_norm(nn.Conv1d(4, 3, 3, bias=False)),
        nn.utils.weight_norm(nn.Linear(6, 5)),
    )
    save_fixture("nnzoo-weight-norm", model, OrderedDict(x=torch.randn(2, 2, 10)), {"output_names": ["output"]},
                 notes="weight_norm Conv1d (bias / no bias) and Linear, default export: no BatchNorm was folded")


class Symmetric(nn.Module):
    def forward(self, w):
        return w.triu() + w.triu(1).transpose(-1, -2)


@maker("nnzoo-parametrize")
def make_parametrize():
    """torch.nn.utils.parametrize: the scopes name `0.weight.0` for `0.parametrizations.weight.0` (the
    ModuleDict dropped), its input is its parent's parameter, and its output feeds the Linear's Gemm
    as the weight (transB is the Linear's own transpose, not a folded one)."""
    import torch.nn.utils.parametrize as parametrize

    seed_everything(0)
    model = nn.Sequential(nn.Linear(6, 6), nn.ReLU(), nn.Linear(6, 3))
    parametrize.register_parametrization(model[0], "weight", Symmetric())
    save_fixture("nnzoo-parametrize", model, OrderedDict(x=torch.randn(3, 6)),
                 {"output_names": ["output"], "opset_version": 14, "do_constant_folding": False},
                 notes="parametrized Linear weight, exported without constant folding so its nodes stay")


class Root(nn.Module):
    """The root calls its Sequential's children directly: `m` itself never runs."""

    def __init__(self):
        super().__init__()
        self.m = nn.Sequential(nn.Linear(6, 6), nn.ReLU(), nn.Linear(6, 3))

    def forward(self, x):
        return self.m[2](self.m[1](self.m[0](x)))


@maker("nnzoo-fn-root")
def make_fn_root():
    seed_everything(0)
    save_fixture("nnzoo-fn-root", Root(), OrderedDict(x=torch.randn(3, 6)),
                 {"output_names": ["output"], "opset_version": 17, "export_modules_as_functions": True},
                 notes="the root's function call holds m.0 and m.2: it is the root's (m never ran), not m's")


class ReusedInTwoParents(nn.Module):
    """One Linear registered at the top and inside two Sequentials (named_modules() lists it once, as
    `shared`, called twice), beside a top-level Conv and a same-named inner Conv (`blk.conv` owns its
    parameters, so it stays `blk.conv`)."""

    def __init__(self):
        super().__init__()
        self.shared = nn.Linear(8, 8)
        self.p = nn.Sequential(self.shared, nn.ReLU())
        self.q = nn.Sequential(nn.Tanh(), self.shared)
        self.conv = nn.Conv2d(1, 2, 3, padding=1)
        self.blk = nn.Sequential()
        self.blk.add_module("conv", nn.Conv2d(2, 2, 3, padding=1))
        self.blk.add_module("act", nn.ReLU())

    def forward(self, x, img):
        return self.q(self.p(x)), self.blk(self.conv(img))


@maker("nnzoo-reused-parent")
def make_reused_parent():
    seed_everything(0)
    model = ReusedInTwoParents()
    save_fixture(
        "nnzoo-reused-parent",
        model,
        OrderedDict(x=torch.randn(3, 8), img=torch.randn(1, 1, 5, 5)),
        {"output_names": ["out", "feat"]},
        notes="/p/shared/Gemm and /q/shared/Gemm read shared.weight: shared:1 and shared:2, never p.shared / q.shared",
    )


class CallsSharedTwice(nn.Module):
    """`p` calls the top-level `shared` twice: the second call's scope is `/p/shared_1/Gemm`."""

    def __init__(self, lin):
        super().__init__()
        self.shared = lin

    def forward(self, x):
        return torch.relu(self.shared(torch.tanh(self.shared(x))))


class ReusedTwiceInParent(nn.Module):
    def __init__(self):
        super().__init__()
        self.shared = nn.Linear(6, 6)
        self.p = CallsSharedTwice(self.shared)

    def forward(self, x):
        return self.p(x)


@maker("nnzoo-reused-twice")
def make_reused_twice():
    seed_everything(0)
    save_fixture(
        "nnzoo-reused-twice",
        ReusedTwiceInParent(),
        OrderedDict(x=torch.randn(3, 6)),
        {"output_names": ["out"]},
        notes="/p/shared/Gemm and /p/shared_1/Gemm read shared.weight: shared:1 and shared:2",
    )


class ConvBnBlock(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(4, 4, 3, padding=1)
        self.bn = nn.BatchNorm2d(4)
        self.relu = nn.ReLU()

    def forward(self, x):
        return self.relu(self.bn(self.conv(x)))


class CopiedBlocks(nn.Module):
    """`b` is a deep copy of `a` with new Conv weights: equal BatchNorms fold into equal biases, which
    torch 1.13 deduplicates (b's Conv reads its bias through an Identity). Both Convs hold
    bn(conv(x)): both must be reported, never `b.conv` returned."""

    def __init__(self):
        super().__init__()
        a = ConvBnBlock()
        a.bn.running_mean.uniform_(-0.5, 0.5)
        a.bn.running_var.uniform_(0.2, 0.5)
        a.bn.weight.data.uniform_(1.5, 2.0)
        self.a = a
        self.b = copy.deepcopy(a)
        with torch.no_grad():
            self.b.conv.weight.normal_()

    def forward(self, x):
        return self.b(self.a(x))


@maker("nnzoo-dedup-bias")
def make_dedup_bias():
    seed_everything(0)
    save_fixture(
        "nnzoo-dedup-bias",
        CopiedBlocks(),
        OrderedDict(x=torch.randn(1, 4, 5, 5)),
        {"output_names": ["out"]},
        notes="b.conv's folded bias is a deduplicated Identity output: still a folded BatchNorm, reported",
    )
