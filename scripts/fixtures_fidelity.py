"""Fixtures for the remaining fidelity patterns of issue 9 (quantized exports, merged calls,
pass-through tuple elements, recurrent h_n assembled from per-layer states).

Each model is small and seeded; goldens come from forward hooks that clone their outputs
(save_fixture). A quantized tensor's golden is its integer representation (``int_repr()``, uint8),
which is what the ONNX QuantizeLinear that stands for it outputs.
Run one with ``/usr/bin/python3 scripts/make_fixtures.py quant-stubs`` (names below).
"""

from collections import OrderedDict

import torch
import torch.nn as nn
from make_fixtures import maker, save_fixture, seed_everything, simple_kwargs


class Stubbed(nn.Module):
    """Eager-mode static quantization: QuantStub, a quantized Conv and ReLU, DeQuantStub, a float head."""

    def __init__(self):
        super().__init__()
        self.quant = torch.ao.quantization.QuantStub()
        self.conv = nn.Conv2d(2, 4, 3, padding=1)
        self.relu = nn.ReLU()
        self.dequant = torch.ao.quantization.DeQuantStub()
        self.head = nn.Conv2d(4, 3, 1)

    def forward(self, x):
        return self.head(self.dequant(self.relu(self.conv(self.quant(x)))))


def exact_quantization(converted: nn.Module) -> dict:
    """Scales for which fbgemm's integer kernel and ONNX's float emulation agree bit for bit.

    The input scale is 2^-2, the weights are per-tensor integers in [-1, 1] at scale 2^-3 and the
    conv's output scale is their product (2^-5), so no value is ever rounded: the requantization
    multiplier is 1 and every float product and sum is exact. Only the module attribution is tested.
    """
    scale_x, scale_w = 2.0 ** -2, 2.0 ** -3
    converted.quant.scale = torch.tensor([scale_x])
    converted.quant.zero_point = torch.tensor([128])
    conv = converted.conv
    w = torch.randint(-1, 2, conv.weight().shape).float() * scale_w
    b = torch.randint(-8, 9, (conv.out_channels,)).float() * scale_x * scale_w
    conv.set_weight_bias(torch.quantize_per_tensor(w, scale_w, 0, torch.qint8), b)
    conv.scale, conv.zero_point = scale_x * scale_w, 128
    return {"quant": {"scale": scale_x, "zero_point": 128}, "conv": {"scale": scale_x * scale_w, "zero_point": 128}}


@maker("quant-stubs")
def make_quant_stubs():
    seed_everything()
    model = Stubbed().eval()
    model.qconfig = torch.ao.quantization.get_default_qconfig("fbgemm")
    model.head.qconfig = None
    prepared = torch.ao.quantization.prepare(model)
    with torch.no_grad():
        prepared(torch.randn(4, 2, 6, 6))
    converted = torch.ao.quantization.convert(prepared)
    scales = exact_quantization(converted)
    kwargs = simple_kwargs()
    kwargs["dynamic_axes"] = None  # quantized ops export with static shapes only
    save_fixture("quant-stubs", converted, OrderedDict(x=torch.randn(2, 2, 6, 6)), kwargs,
                 notes="torch.ao eager static quantization, exported: every quantized module's nodes "
                       "(QuantizeLinear included) carry its scope. Goldens of quantized tensors are their "
                       "int_repr() (uint8). Scales chosen so that no value is rounded (exact_quantization).",
                 extra={"quantization": scales})


@maker("quant-fake")
def make_quant_fake():
    """Quantization-aware training's fake quantization, exported as QuantizeLinear/DequantizeLinear pairs."""
    seed_everything()
    model = Stubbed().train()
    model.qconfig = torch.ao.quantization.QConfig(activation=torch.ao.quantization.default_fake_quant,
                                                  weight=torch.ao.quantization.default_weight_fake_quant)
    model.head.qconfig = None
    prepared = torch.ao.quantization.prepare_qat(model)
    prepared(torch.randn(4, 2, 6, 6))
    prepared.eval()
    prepared.apply(torch.ao.quantization.disable_observer)
    save_fixture("quant-fake", prepared, OrderedDict(x=torch.randn(2, 2, 6, 6)), simple_kwargs(),
                 notes="prepare_qat with per-tensor FakeQuantize, observers disabled, exported: the "
                       "activation fake-quantizers run in forward hooks, so their nodes are scoped "
                       "'/activation_post_process/' at the top level.")


class Inner(nn.Module):
    """No op of its own: its calls leave only its child's nodes."""

    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(4, 4)

    def forward(self, x):
        return self.lin(x)


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(4, 4)
        self.act = nn.ReLU()

    def forward(self, x):
        return self.act(self.lin(x)) + 1.0


class MergedCalls(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(4, 4)
        self.proj = Inner()
        self.block = Block()
        self.twin = Block()

    def forward(self, x, y):
        a = self.lin(x)
        b = self.lin(x)  # identical to a: the exporter's CSE merges it, lin_1 is then PyTorch's call 3
        c = self.lin(a)
        p = self.proj(x) * self.proj(y)  # exported /proj/lin, /proj/lin_1: proj's two calls look like one
        q = self.block(x) * self.block(y)  # /block/Add, /block_1/Add, but /block/lin_1 for the second call's child
        t = self.twin(y) * self.twin(y)  # both calls merged into one: twin and twin.lin look called once
        return a * b + c, p, q + t


@maker("calls-merged")
def make_calls_merged():
    seed_everything()
    inputs = OrderedDict(x=torch.randn(2, 4), y=torch.randn(2, 4))
    save_fixture("calls-merged", MergedCalls(), inputs,
                 {"input_names": ["x", "y"], "output_names": ["out", "p", "q"]},
                 notes="Pattern 6 with torch 1.13: lin called 3 times (calls 1 and 2 identical, merged by the "
                       "exporter's CSE: lin, lin_1 = calls 1 and 3); proj and block called twice, their "
                       "children's second calls scoped under the parent's first name (/proj/lin_1); twin's two "
                       "identical calls merged into one.")


class StackedStates(nn.Module):
    """Stacked and bidirectional recurrent modules whose h_n / c_n the model never uses."""

    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(6, 8, num_layers=2, batch_first=True)
        self.gru = nn.GRU(8, 5, num_layers=2, bidirectional=True)
        self.rnn = nn.RNN(10, 4, num_layers=3)

    def forward(self, x):
        y, _ = self.lstm(x)
        z, _ = self.gru(y.transpose(0, 1))
        w, _ = self.rnn(z)
        return w


@maker("rnn-states")
def make_rnn_states():
    seed_everything()
    save_fixture("rnn-states", StackedStates(), OrderedDict(x=torch.randn(2, 3, 6)),
                 simple_kwargs(out="out", out_axes={1: "batch"}),
                 notes="Pattern 4: a 2-layer batch-first LSTM, a 2-layer bidirectional GRU and a 3-layer RNN "
                       "whose final states are unused: the export keeps one Y_h (Y_c) per layer op and no h_n.")


class PairOwn(nn.Module):
    """`return x, f(x)` in a module with ops of its own."""

    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(4, 4)

    def forward(self, x):
        return x, torch.relu(self.lin(x)) * 2.0


class PairLeaf(nn.Module):
    """A leaf returning its input next to a value it computes (two ops: a single op's leaf is taken as torch.nn's)."""

    def forward(self, x):
        return x, torch.tanh(x) * 2.0


class Gate(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(4, 4)

    def forward(self, x):
        return torch.sigmoid(self.lin(x))


class PassThroughs(nn.Module):
    def __init__(self):
        super().__init__()
        self.pre = nn.Linear(4, 4)
        self.pair = PairOwn()
        self.leaf = PairLeaf()
        self.gate = Gate()
        self.res = nn.Linear(4, 4)
        self.head = nn.Linear(8, 3)
        self.tail = nn.Linear(4, 3)

    def forward(self, x):
        h = self.pre(x)
        a, b = self.pair(h)  # a is h: one Concat reads pair's input and its output
        c, d = self.leaf(b)  # c is b: one Mul reads leaf's input and its output
        m = c * d
        g = m * self.gate(m)  # a gate: its input times its output, the same graph as a returned pair
        r = g + self.res(g)  # a residual sum stays observable
        return self.head(torch.cat([a, b], -1)) + self.tail(r)


@maker("pass-through")
def make_pass_through():
    seed_everything()
    save_fixture("pass-through", PassThroughs(), OrderedDict(x=torch.randn(2, 4)), simple_kwargs(),
                 notes="Pattern 3: modules with ops of their own (pair) and a leaf (leaf) returning their input "
                       "as a tuple element, read by one node next to the other element; gate returns one "
                       "tensor that the parent multiplies with gate's input (the same graph).")
