"""Sweep cases for control flow: torch.jit.script-ed models (If/Loop in the ONNX graph).

The hooks record the eager model; the export is of its scripted copy (``scripted=True``). Inputs
that decide the control flow (trip counts, a sample rate) are tensors, as scripted exports need.

    /usr/bin/python3 scripts/sweep/sweep.py --out /tmp/sweep-control 'ctl-*'
    node --import tsx scripts/sweep/report.ts --out /tmp/sweep-control --verbose 'ctl-*'
"""

import io
from typing import List

import torch
import torch.nn as nn

from sweep import Case, case
from fixtures_control import ModuleListLoop, Scopeless  # noqa: E402


def scripted(model, args, names, **export):
    return Case(model, args, input_names=names, scripted=True, export=export)


class BranchInLoop(nn.Module):
    """If inside Loop; the branch taken depends on the data, so both run in different iterations."""

    def __init__(self):
        super().__init__()
        self.up = nn.Linear(6, 6)
        self.down = nn.Linear(6, 6)
        self.act = nn.ReLU()
        self.head = nn.Linear(6, 3)

    def forward(self, x, steps):
        for i in range(int(steps)):
            if bool(x.sum() > 0):
                x = self.act(self.down(x)) - 1.0
            else:
                x = self.act(self.up(x)) + 0.5
        return self.head(x)


@case("ctl-branch-in-loop")
def branch_in_loop():
    return scripted(BranchInLoop(), (torch.randn(2, 6), torch.tensor(5)), ["x", "steps"])


class NestedLoops(nn.Module):
    def __init__(self):
        super().__init__()
        self.inner = nn.Linear(4, 4)
        self.outer = nn.Linear(4, 4)
        self.act = nn.Tanh()

    def forward(self, x, n, m):
        for i in range(int(n)):
            for j in range(int(m)):
                x = self.act(self.inner(x))
            x = self.outer(x)
        return x


@case("ctl-nested-loops")
def nested_loops():
    return scripted(NestedLoops(), (torch.randn(2, 4), torch.tensor(2), torch.tensor(3)), ["x", "n", "m"])


class NestedBranch(nn.Module):
    """If inside the inner of two Loops: inputs of the branch modules live outside the If."""

    def __init__(self):
        super().__init__()
        self.even = nn.Linear(4, 4)
        self.odd = nn.Linear(4, 4)
        self.pre = nn.Linear(4, 4)

    def forward(self, x, n, m):
        for i in range(int(n)):
            x = self.pre(x)
            for j in range(int(m)):
                if (i + j) % 2 == 0:
                    x = torch.tanh(self.even(x))
                else:
                    x = torch.sigmoid(self.odd(x))
        return x


@case("ctl-nested-branch")
def nested_branch():
    return scripted(NestedBranch(), (torch.randn(2, 4), torch.tensor(2), torch.tensor(3)), ["x", "n", "m"])


class EarlyExit(nn.Module):
    def __init__(self):
        super().__init__()
        self.step = nn.Linear(4, 4)
        self.head = nn.Linear(4, 2)

    def forward(self, x):
        i = 0
        while bool(x.abs().sum() < 40.0) and i < 10:
            x = self.step(x) * 1.7
            i += 1
        return self.head(x)


@case("ctl-early-exit")
def early_exit():
    return scripted(EarlyExit(), (torch.randn(2, 4),), ["x"])


class ListStack(nn.Module):
    def __init__(self):
        super().__init__()
        self.cell = nn.Linear(4, 4)
        self.mix = nn.Linear(4, 4)

    def forward(self, x, steps):
        outs: List[torch.Tensor] = []
        h = x
        for i in range(int(steps)):
            h = torch.tanh(self.cell(h))
            outs.append(h)
        stacked = torch.stack(outs, 1)
        cat = torch.cat(outs, 1)
        return self.mix(stacked).sum(1) + cat.sum(1, keepdim=True)


@case("ctl-list-stack")
def list_stack():
    return scripted(ListStack(), (torch.randn(2, 4), torch.tensor(3)), ["x", "steps"])


class LoopThenAfter(nn.Module):
    """`f` is called before the loop, in it and after it: one numbering across graph and body."""

    def __init__(self):
        super().__init__()
        self.f = nn.Linear(4, 4)
        self.g = nn.ReLU()

    def forward(self, x, steps):
        x = self.f(x)
        for i in range(int(steps)):
            x = self.g(self.f(x))
        return self.f(x) * 2.0


@case("ctl-loop-then-after")
def loop_then_after():
    return scripted(LoopThenAfter(), (torch.randn(2, 4), torch.tensor(3)), ["x", "steps"])


class OneBranchModule(nn.Module):
    def __init__(self):
        super().__init__()
        self.only = nn.Sequential(nn.Linear(4, 4), nn.ReLU(), nn.Linear(4, 4))
        self.head = nn.Linear(4, 2)

    def forward(self, x):
        if bool(x.mean() > 0):
            y = self.only(x)
        else:
            y = x * 2.0
        return self.head(y)


@case("ctl-one-branch-taken")
def one_branch_taken():
    torch.manual_seed(1)
    return scripted(OneBranchModule(), (torch.randn(2, 4).abs() + 0.1,), ["x"])


@case("ctl-one-branch-untaken")
def one_branch_untaken():
    return scripted(OneBranchModule(), (-(torch.randn(2, 4).abs() + 0.1),), ["x"])


class SameModuleBranches(nn.Module):
    def __init__(self):
        super().__init__()
        self.m = nn.Linear(4, 4)
        self.post = nn.Tanh()

    def forward(self, x):
        if bool(x.sum() > 0):
            y = self.post(self.m(x)) + 1.0
        else:
            y = self.m(x * 2.0)
        return self.m(y)


@case("ctl-same-module-branches")
def same_module_branches():
    return scripted(SameModuleBranches(), (torch.randn(2, 4).abs(),), ["x"])


class StateMachine(nn.Module):
    """A recursion-free state machine: the state decides which module runs in each iteration."""

    def __init__(self):
        super().__init__()
        self.a = nn.Linear(4, 4)
        self.b = nn.Linear(4, 4)
        self.c = nn.Linear(4, 4)

    def forward(self, x, steps):
        state = 0
        for i in range(int(steps)):
            if state == 0:
                x = self.a(x)
                state = 1
            elif state == 1:
                x = torch.relu(self.b(x))
                state = 2
            else:
                x = self.c(x)
                state = 0
        return x


@case("ctl-state-machine")
def state_machine():
    return scripted(StateMachine(), (torch.randn(2, 4), torch.tensor(5)), ["x", "steps"])


@case("ctl-modulelist")
def modulelist():
    return scripted(ModuleListLoop(), (torch.randn(2, 4),), ["x"])


class VadLike(nn.Module):
    """Silero-VAD-like: the whole network inside an If on the sample rate; an LSTM state in and out."""

    def __init__(self):
        super().__init__()
        self.stft = nn.Conv1d(1, 8, 16, stride=8)
        self.encoder = nn.Sequential(nn.Conv1d(8, 8, 3, padding=1), nn.ReLU(), nn.Conv1d(8, 8, 3, padding=1), nn.ReLU())
        self.rnn = nn.LSTMCell(8, 8)
        self.decoder = nn.Sequential(nn.ReLU(), nn.Conv1d(8, 1, 1), nn.Sigmoid())
        self.encoder8k = nn.Sequential(nn.Conv1d(8, 8, 3, padding=1), nn.ReLU())

    def forward(self, x, sr, h, c):
        feats = self.stft(x.unsqueeze(1))
        if bool(sr == 16000):
            z = self.encoder(feats)
        else:
            z = self.encoder8k(feats)
        z = z.mean(2)
        h2, c2 = self.rnn(z, (h, c))
        out = self.decoder(h2.unsqueeze(2)).squeeze(2)
        return out, h2, c2


@case("ctl-vad-like")
def vad_like():
    args = (torch.randn(1, 128), torch.tensor(16000), torch.zeros(1, 8), torch.zeros(1, 8))
    return scripted(VadLike(), args, ["x", "sr", "h", "c"])


class VadWhole(nn.Module):
    """The whole network inside the If (Silero's own layout), with a tuple returned from both branches."""

    def __init__(self):
        super().__init__()
        self.model16 = nn.Sequential(nn.Conv1d(1, 4, 8, stride=4), nn.ReLU(), nn.Conv1d(4, 4, 3))
        self.model8 = nn.Sequential(nn.Conv1d(1, 4, 4, stride=2), nn.ReLU(), nn.Conv1d(4, 4, 3))
        self.head = nn.Linear(4, 1)

    def forward(self, x, sr):
        if bool(sr == 16000):
            y = self.model16(x.unsqueeze(1)).mean(2)
        else:
            y = self.model8(x.unsqueeze(1)).mean(2)
        return torch.sigmoid(self.head(y))


@case("ctl-vad-whole-16k")
def vad_whole_16k():
    return scripted(VadWhole(), (torch.randn(1, 64), torch.tensor(16000)), ["x", "sr"])


@case("ctl-vad-whole-8k")
def vad_whole_8k():
    return scripted(VadWhole(), (torch.randn(1, 64), torch.tensor(8000)), ["x", "sr"])


class NestedSameModule(nn.Module):
    """`f` called in the inner loop and in the outer loop's body after it: calls interleave."""

    def __init__(self):
        super().__init__()
        self.f = nn.Linear(4, 4)

    def forward(self, x, n, m):
        for i in range(int(n)):
            x = self.f(x) * 0.5
            for j in range(int(m)):
                x = torch.tanh(self.f(x))
            x = self.f(x) + 1.0
        return x


@case("ctl-nested-same-module")
def nested_same_module():
    return scripted(NestedSameModule(), (torch.randn(2, 4), torch.tensor(2), torch.tensor(2)), ["x", "n", "m"])


@case("ctl-scopeless")
def scopeless():
    args = (torch.randn(2, 4), torch.tensor(2))
    # A throwaway export first: the harness's export of the case model is then the second one.
    torch.onnx.export(torch.jit.script(Scopeless()), args, io.BytesIO(), input_names=["x", "steps"], opset_version=14)
    return scripted(Scopeless(), args, ["x", "steps"])


class BreakLoop(nn.Module):
    """`break` on a data-dependent condition, and a list appended to only in one branch."""

    def __init__(self):
        super().__init__()
        self.step = nn.Linear(4, 4)
        self.keep = nn.Linear(4, 4)
        self.head = nn.Linear(4, 2)

    def forward(self, x, steps):
        kept: List[torch.Tensor] = []
        for i in range(int(steps)):
            x = torch.tanh(self.step(x))
            if bool(x.sum() > 0):
                kept.append(self.keep(x))
            if bool(x.abs().max() > 0.99):
                break
        total = x
        for k in kept:
            total = total + k
        return self.head(total)


@case("ctl-break-loop")
def break_loop():
    torch.manual_seed(3)
    return scripted(BreakLoop(), (torch.randn(2, 4) * 2, torch.tensor(6)), ["x", "steps"])


class BranchThenAfter(nn.Module):
    """`f` in one branch of an If inside a loop and again after the loop."""

    def __init__(self):
        super().__init__()
        self.f = nn.Linear(4, 4)
        self.g = nn.Linear(4, 4)

    def forward(self, x, steps):
        for i in range(int(steps)):
            if i % 3 == 1:
                x = self.f(x)
            else:
                x = torch.relu(self.g(x))
        return self.f(x)


@case("ctl-branch-then-after")
def branch_then_after():
    return scripted(BranchThenAfter(), (torch.randn(2, 4), torch.tensor(5)), ["x", "steps"])


class Pair(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = nn.Linear(4, 4)
        self.b = nn.Linear(4, 4)

    def forward(self, x, h):
        return torch.tanh(self.a(x) + h), torch.sigmoid(self.b(h))


class TupleInBranch(nn.Module):
    """A submodule returning a tuple, called in an If inside a Loop (scripted GRUCell does not export)."""

    def __init__(self):
        super().__init__()
        self.cell = Pair()
        self.skip = nn.Linear(4, 4)

    def forward(self, x, h, steps):
        for i in range(int(steps)):
            if i % 2 == 0:
                a, b = self.cell(x, h)
                h = a * b
            else:
                h = self.skip(h)
        return h


@case("ctl-cell-in-branch")
def cell_in_branch():
    return scripted(TupleInBranch(), (torch.randn(2, 4), torch.randn(2, 4), torch.tensor(4)), ["x", "h", "steps"])
