"""Fixtures for what a module returns (keys of tuple, dict, dataclass and ModelOutput outputs).

Goldens are recorded with the bridge's hooks (``python/neurotap_torch.py``, ``record``), which key
every container's elements by position: ``#i`` is a tuple's index, a dict's insertion order (a
ModelOutput's non-None fields), a dataclass's field order; a None element is skipped, its
position kept.

``outputs-tuples``
    A default (TorchScript, torch 1.13) export whose modules return containers that the graph
    shows: ``nn.MultiheadAttention`` called with ``need_weights=False`` (``attn#0``, ``attn#1``
    reported: its hook output is ``(out, None)``), one whose weights are used (``attn_w#0``,
    ``attn_w#1``), a deep copy of ``attn`` whose deduplicated weights carry ``attn``'s names
    (``attn_clone#0``, as ``nn.TransformerDecoder``'s cloned layers), ``MaxPool2d(return_indices=True)`` (``pool#0``, ``pool#1`` from the op's
    Indices output), and a dict, a dataclass and a ModelOutput-like OrderedDict whose elements
    flow to separate graph outputs (``#0``, ``#1`` by position). Checked by test/fidelity.test.ts.
``outputs-marked``
    Containers the default export cannot show (a 1-entry dict, a 1-tuple, a None element before a
    tensor, a nested dict of tuples, an unused MaxPool index, ``return x, f(x)`` read by other
    nodes, by a sum, and from a single-op leaf): ``model.onnx`` is ``neurotap_torch.export``
    (markers), ``default.onnx`` the plain export, ``dump.npz`` ``neurotap_torch.dump`` with
    inputs. Checked by test/outputs.test.ts: every key of the marked export equals the dump.
"""

from __future__ import annotations

import copy
import os
import sys
from collections import OrderedDict, namedtuple
from dataclasses import dataclass

import torch
import torch.nn as nn

from make_fixtures import FIXTURES, maker, save_fixture, save_npz, seed_everything, to_numpy

sys.path.insert(0, os.path.join(os.path.dirname(FIXTURES), "python"))
import neurotap_torch  # noqa: E402


Pair = namedtuple("Pair", ["low", "high"])


@dataclass
class Feats:
    feat: torch.Tensor
    logits: torch.Tensor


class ModelOutputLike(OrderedDict):
    """Hugging Face's ModelOutput in miniature: an OrderedDict that leaves out None fields."""

    def __init__(self, **kw):
        super().__init__((k, v) for k, v in kw.items() if v is not None)


class Returns(nn.Module):
    """Returns two Linear outputs in the container ``kind`` names."""

    def __init__(self, kind):
        super().__init__()
        self.a = nn.Linear(16, 8)
        self.b = nn.Linear(16, 8)
        self.kind = kind

    def forward(self, x):
        f, g = self.a(x), torch.relu(self.b(x))
        if self.kind == "dict":
            return {"feat": f, "logits": g}
        if self.kind == "namedtuple":
            return Pair(f, g)
        if self.kind == "dataclass":
            return Feats(f, g)
        if self.kind == "modeloutput":
            return ModelOutputLike(last_hidden_state=f, attentions=None, pooler=g)
        if self.kind == "none":
            return (f, None, g)
        if self.kind == "nested":
            return {"pair": (f, g), "sum": f + g}
        if self.kind == "one-dict":
            return {"out": f + g}
        if self.kind == "one-tuple":
            return (f + g,)
        raise ValueError(self.kind)


def values_of(kind, r):
    """The tensors of a ``Returns(kind)`` output, in its container's order."""
    if kind == "namedtuple":
        return [r.low, r.high]
    if kind == "dataclass":
        return [r.feat, r.logits]
    if kind in ("dict", "modeloutput"):
        return list(r.values())
    if kind == "none":
        return [r[0], r[2]]
    if kind == "nested":
        return [r["pair"][0], r["pair"][1], r["sum"]]
    if kind == "one-dict":
        return [r["out"]]
    return [r[0]]


class Tuples(nn.Module):
    def __init__(self):
        super().__init__()
        self.attn = nn.MultiheadAttention(16, 2, batch_first=True)
        self.attn_w = nn.MultiheadAttention(16, 2, batch_first=True)
        # A clone, as nn.TransformerDecoder makes its layers: the exporter deduplicates its weights
        # into the original's initializers, so its parameters carry attn's names.
        self.attn_clone = copy.deepcopy(self.attn)
        self.pool = nn.MaxPool2d(2, return_indices=True)
        self.as_dict = Returns("dict")
        self.as_dataclass = Returns("dataclass")
        self.as_output = Returns("modeloutput")

    def forward(self, x):
        y, _ = self.attn(x, x, x, need_weights=False)
        z, w = self.attn_w(y, y, y)
        p, idx = self.pool(z.unsqueeze(1))
        y2, _ = self.attn_clone(y, y, y, need_weights=False)
        outs = [z, w, p, idx, y2]
        for kind, block in (("dict", self.as_dict), ("dataclass", self.as_dataclass),
                            ("modeloutput", self.as_output)):
            outs += values_of(kind, block(y))
        return tuple(outs)


def _rewrite_goldens(name, model, args):
    """golden.npz / golden_inputs.npz from the bridge's hooks (containers by position), same layout."""
    folder = os.path.join(FIXTURES, name)
    tensors, _, result = neurotap_torch.record(model, args, inputs=True)
    golden = OrderedDict((k, to_numpy(v)) for k, v in tensors.items() if not k.startswith("in:"))
    for i, r in enumerate(result if isinstance(result, tuple) else (result,)):
        golden[f"__output__#{i}"] = to_numpy(r)
    inputs = OrderedDict((k[3:], to_numpy(v)) for k, v in tensors.items() if k.startswith("in:"))
    save_npz(os.path.join(folder, "golden.npz"), golden)
    save_npz(os.path.join(folder, "golden_inputs.npz"), inputs)


@maker("outputs-tuples")
def make_outputs_tuples():
    seed_everything(0)
    model = Tuples().eval()
    x = torch.randn(2, 6, 16)
    names = ["z", "w", "p", "idx", "y2", "d0", "d1", "c0", "c1", "m0", "m1"]
    kwargs = {"input_names": ["x"], "output_names": names, "opset_version": 14}
    save_fixture("outputs-tuples", model, OrderedDict(x=x), kwargs,
                 notes="Containers a default export shows: nn.MultiheadAttention, MaxPool indices, dicts by position.")
    _rewrite_goldens("outputs-tuples", model, (x,))


class Pass(nn.Module):
    def __init__(self, single_op=False):
        super().__init__()
        self.f = None if single_op else nn.Linear(16, 16)

    def forward(self, x):
        return x, (torch.tanh(x) if self.f is None else self.f(x))


class Marked(nn.Module):
    """What only a marked export shows: containers the graph cannot tell from a tensor, and pass-throughs."""

    def __init__(self):
        super().__init__()
        self.pre = nn.Linear(16, 16)
        self.kinds = ["none", "nested", "one-dict", "one-tuple"]
        self.blocks = nn.ModuleDict({k.replace("-", "_"): Returns(k) for k in self.kinds})
        self.pool = nn.MaxPool2d(2, return_indices=True)
        self.pass_others = Pass()
        self.g = nn.Linear(16, 16)
        self.pass_sum = Pass()
        self.pass_op = Pass(single_op=True)

    def forward(self, x):
        b = self.pre(x)
        outs = []
        for kind in self.kinds:
            outs += values_of(kind, self.blocks[kind.replace("-", "_")](b))
        p, _ = self.pool(b.view(-1, 1, 4, 4))
        c, d = self.pass_others(b)
        e = c * self.g(b) + d
        s1, s2 = self.pass_sum(e)
        t1, t2 = self.pass_op(s1 + s2)
        return tuple(outs) + (p, t1 * t2)


@maker("outputs-marked")
def make_outputs_marked():
    seed_everything(0)
    model = Marked().eval()
    x = torch.randn(2, 16)
    folder = os.path.join(FIXTURES, "outputs-marked")
    os.makedirs(folder, exist_ok=True)
    kwargs = {"input_names": ["x"], "opset_version": 13}
    neurotap_torch.export(model, (x,), os.path.join(folder, "model.onnx"), **kwargs)
    torch.onnx.export(model, (x,), os.path.join(folder, "default.onnx"), **kwargs)
    neurotap_torch.dump(model, (x,), os.path.join(folder, "dump.npz"), inputs=True)
    save_npz(os.path.join(folder, "input.npz"), OrderedDict(x=to_numpy(x)))
    print("outputs-marked: marked export, default export, dump")


class CausalEncoder(nn.Module):
    """Two nn.TransformerEncoderLayers under a causal float mask: torch 1.13 unsqueezes the mask inside
    layer 0's self_attn and the exporter shares that value with layer 1's, so it leaves layer 0's
    attention. need_weights=False makes element 1 None: the shared mask must not be taken for it."""

    def __init__(self):
        super().__init__()
        self.enc = nn.TransformerEncoder(nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0), 2)

    def forward(self, x, mask):
        return self.enc(x, mask=mask)


@maker("outputs-shared-mask")
def make_shared_mask():
    seed_everything(0)
    mask = torch.triu(torch.full((5, 5), float("-inf")), diagonal=1)
    save_fixture(
        "outputs-shared-mask",
        CausalEncoder(),
        OrderedDict(x=torch.randn(5, 2, 8), mask=mask),
        {"output_names": ["output"]},
        notes="enc.layers.0.self_attn#1 is None in PyTorch (need_weights=False): reported, never the shared mask",
    )
