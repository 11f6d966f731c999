"""Fixtures for tuple outputs, recurrent states, containers and completeness (issue 9, patterns 1-4, 8, 15).

Each model is small and seeded; goldens come from forward hooks that clone their outputs (save_fixture).
Run one with ``/usr/bin/python3 scripts/make_fixtures.py tuples-unet`` (names below).
"""

from collections import OrderedDict

import torch
import torch.nn as nn
import torch.nn.functional as F
from make_fixtures import maker, save_fixture, seed_everything, simple_kwargs


class Down(nn.Module):
    """A U-Net encoder block: the skip connection `h` is returned next to `pool(h)`."""

    def __init__(self, cin, cout):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, 3, padding=1)
        self.pool = nn.MaxPool2d(2)

    def forward(self, x):
        h = self.conv(x)
        return self.pool(h), h


class TinyUNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.down = Down(2, 4)
        self.mid = nn.Conv2d(4, 4, 3, padding=1)
        self.out = nn.Conv2d(8, 3, 1)

    def forward(self, x):
        p, skip = self.down(x)
        y = F.interpolate(self.mid(p), scale_factor=2.0, mode="nearest")
        return self.out(torch.cat([y, skip], 1))


@maker("tuples-unet")
def make_tuples_unet():
    seed_everything(0)
    save_fixture("tuples-unet", TinyUNet(), OrderedDict(x=torch.randn(1, 2, 8, 8)), simple_kwargs(),
                 notes="Pattern 1: Down returns (pool(h), h), h also read inside by pool; both elements "
                       "feed one graph output, so their order has no evidence.")


class Cell(nn.Module):
    """An LSTM-like cell in plain ops: returns (h, c) where c is also used to compute h."""

    def __init__(self, n):
        super().__init__()
        self.gates = nn.Linear(2 * n, 4 * n)

    def forward(self, x, h, c):
        i, f, g, o = self.gates(torch.cat([x, h], -1)).chunk(4, -1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        h = torch.sigmoid(o) * torch.tanh(c)
        return h, c


class CellModel(nn.Module):
    def __init__(self):
        super().__init__()
        self.cell = Cell(6)
        self.head = nn.Linear(6, 2)

    def forward(self, x, h0, c0):
        h, c = self.cell(x, h0, c0)
        return self.head(h), c


@maker("tuples-cell")
def make_tuples_cell():
    seed_everything(0)
    kwargs = {"input_names": ["x", "h0", "c0"], "output_names": ["y", "c"], "opset_version": 13}
    inputs = OrderedDict(x=torch.randn(2, 6), h0=torch.randn(2, 6), c0=torch.randn(2, 6))
    save_fixture("tuples-cell", CellModel(), inputs, kwargs,
                 notes="Pattern 1: cell returns (h, c), c read inside (for h) and returned as graph "
                       "output 1, h flows only to graph output 0: the order has evidence.")


class DictEncoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Linear(5, 5)
        self.head = nn.Linear(5, 5)

    def forward(self, x):
        f = torch.relu(self.body(x))
        return {"feat": f, "logits": self.head(f)}


class DictModel(nn.Module):
    def __init__(self):
        super().__init__()
        self.enc = DictEncoder()

    def forward(self, x):
        d = self.enc(x)
        return d["logits"] * d["feat"]


@maker("tuples-dict")
def make_tuples_dict():
    seed_everything(0)
    save_fixture("tuples-dict", DictModel(), OrderedDict(x=torch.randn(2, 5)), simple_kwargs(),
                 notes="Pattern 1: enc returns a dict (no golden key: hooks see a dict); its feat is "
                       "also read inside by head.")


class Split(nn.Module):
    def __init__(self):
        super().__init__()
        self.q = nn.Linear(4, 3)
        self.p = nn.Linear(4, 3)

    def forward(self, x):
        return self.q(x), self.p(x)


class OrderModel(nn.Module):
    def __init__(self):
        super().__init__()
        self.split = Split()

    def forward(self, x):
        q, p = self.split(x)
        return torch.cat([p, q], -1)


@maker("tuples-order")
def make_tuples_order():
    seed_everything(0)
    save_fixture("tuples-order", OrderModel(), OrderedDict(x=torch.randn(2, 4)), simple_kwargs(),
                 notes="Pattern 2: split returns (q, p), both read by one Concat (as [p, q]): no order evidence.")


class PassThrough(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(4, 4)

    def forward(self, x):
        return x, self.lin(x)


class PassModel(nn.Module):
    def __init__(self):
        super().__init__()
        self.pre = nn.Linear(4, 4)
        self.pair = PassThrough()
        self.head = nn.Linear(8, 2)

    def forward(self, x):
        a, b = self.pair(self.pre(x))
        return self.head(torch.cat([a, b], -1))


@maker("tuples-pass")
def make_tuples_pass():
    seed_everything(0)
    save_fixture("tuples-pass", PassModel(), OrderedDict(x=torch.randn(2, 4)), simple_kwargs(),
                 notes="Pattern 3: pair returns (x, lin(x)); its input is read outside next to its output.")


class RecurrentStates(nn.Module):
    """`_, h = gru(x)`: only h_n is used; a stacked bidirectional LSTM whose h_n is never used."""

    def __init__(self):
        super().__init__()
        self.gru = nn.GRU(4, 5, batch_first=True)
        self.lstm = nn.LSTM(4, 3, num_layers=2, bidirectional=True, batch_first=True)

    def forward(self, x):
        _, h = self.gru(x)
        y, _ = self.lstm(x)
        return h[-1], y


@maker("tuples-rnn-state")
def make_tuples_rnn_state():
    seed_everything(0)
    kwargs = {"input_names": ["x"], "output_names": ["h", "y"], "opset_version": 13}
    save_fixture("tuples-rnn-state", RecurrentStates(), OrderedDict(x=torch.randn(2, 3, 4)), kwargs,
                 notes="Pattern 4: gru's output sequence unused (keys gru#0, gru#1); lstm (2 layers, "
                       "bidirectional) keeps its final states per layer.")


class Attn(nn.Module):
    def __init__(self):
        super().__init__()
        self.proj = nn.ModuleDict({"q": nn.Linear(4, 4), "k": nn.Linear(4, 4)})

    def forward(self, x):
        return self.proj["q"](x) * self.proj["k"](x)


class Containers(nn.Module):
    def __init__(self):
        super().__init__()
        self.blocks = nn.ModuleList([Attn(), Attn()])
        self.heads = nn.ModuleDict({"a": nn.Linear(4, 2)})

    def forward(self, x):
        for block in self.blocks:
            x = block(x)
        return self.heads["a"](x)


@maker("tuples-containers")
def make_tuples_containers():
    seed_everything(0)
    save_fixture("tuples-containers", Containers(), OrderedDict(x=torch.randn(2, 4)), simple_kwargs(),
                 notes="Pattern 8: ModuleDicts never called, so the export drops them from scopes "
                       "(/blocks.0/q/Gemm, /a/Gemm) while the parameters say blocks.0.proj.q, heads.a.")


@maker("tuples-no-trace")
def make_tuples_no_trace():
    seed_everything(0)
    model = nn.Sequential(nn.Linear(4, 4), nn.Dropout(0.1), nn.Identity(), nn.ReLU(), nn.Linear(4, 2))
    save_fixture("tuples-no-trace", model, OrderedDict(x=torch.randn(2, 4)), simple_kwargs(),
                 notes="Pattern 15: Dropout (eval) and Identity leave no node: '1' and '2' have no trace.")
