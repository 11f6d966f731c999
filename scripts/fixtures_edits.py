"""Intervention fixtures: PyTorch goldens of forward hooks that *return* an edited output.

Each fixture folder holds the plain fixture (model.onnx, input.npz, golden.npz, ...: the fidelity
test reads those) plus:

``edits.json``
    ``{"cases": [{"name", "edits": [{"key", "op", ...}], "input": "input.npz" | "clean.npz"}]}``,
    ops as neurotap spells them: ``zero``; ``scale`` with ``factor``; ``add`` with ``scale`` (the
    tensor is ``edit_tensors.npz[CASE/KEY]``); ``clamp`` with ``min`` / ``max`` (either may be
    absent); ``replace`` (tensor in ``edit_tensors.npz``); ``patch`` (the key's tensor from a clean
    run on ``clean.npz``).
``edited_golden.npz``
    ``CASE/KEY`` for every module output a forward hook saw in the edited run (hooks registered
    after the editing hooks see the edited output, as PyTorch chains hooks), and
    ``CASE/__output__#i`` for the model outputs.
``edit_tensors.npz`` / ``clean.npz``
    The tensors the ``add`` / ``replace`` edits use, and the clean input for ``patch``.
"""

from __future__ import annotations

import os
import re
from collections import OrderedDict

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from make_fixtures import (
    FIXTURES,
    OPSET,
    maker,
    record_hooks,
    save_fixture,
    save_npz,
    seed_everything,
    simple_kwargs,
    to_numpy,
    write_json,
)


def _split_key(key: str):
    """``name``, ``name:k`` -> (name, k or None). Tuple keys are not used by these fixtures."""
    name, _, call = key.partition(":")
    return name, (int(call) if call else None)


def _apply(op: dict, out: torch.Tensor, tensor, clean) -> torch.Tensor:
    kind = op["op"]
    if kind == "zero":
        return torch.zeros_like(out)
    if kind == "scale":
        return out * op["factor"]
    if kind == "add":
        return out + op.get("scale", 1.0) * tensor
    if kind == "clamp":
        return torch.clamp(out, min=op.get("min"), max=op.get("max"))
    if kind == "replace":
        return tensor.expand_as(out).clone()
    if kind == "patch":
        return clean.clone()
    raise ValueError(kind)


def edited_run(model: nn.Module, inputs: tuple, edits: list, tensors: dict, clean: dict):
    """Registers one returning forward hook per edit, then records every module's hook output."""
    modules = dict(model.named_modules())
    handles = []
    for op in edits:
        name, only = _split_key(op["key"])
        calls = {"n": 0}

        def hook(mod, inp, out, _op=op, _only=only, _calls=calls, _name=name):
            _calls["n"] += 1
            if _only is not None and _calls["n"] != _only:
                return None
            numbered = f"{_name}:{_calls['n']}"
            return _apply(_op, out, tensors.get(_op["key"]), clean[numbered] if numbered in clean else clean.get(_name))

        handles.append(modules[name].register_forward_hook(hook))
    try:
        golden, _, _, result = record_hooks(model, inputs)
    finally:
        for h in handles:
            h.remove()
    for i, r in enumerate(result):
        golden[f"__output__#{i}"] = to_numpy(r)
    return golden


def save_edit_cases(name: str, model: nn.Module, inputs: "OrderedDict[str, torch.Tensor]", cases: list,
                    tensors: dict, clean_inputs: "OrderedDict[str, torch.Tensor] | None" = None,
                    keep: "re.Pattern | None" = None) -> None:
    """Writes edits.json, edited_golden.npz, edit_tensors.npz (and clean.npz) next to the plain fixture."""
    folder = os.path.join(FIXTURES, name)
    model.eval()
    clean = {}
    if clean_inputs is not None:
        clean, _, _, _ = record_hooks(model, tuple(clean_inputs.values()))
        clean = {k: torch.from_numpy(v) for k, v in clean.items()}
        save_npz(os.path.join(folder, "clean.npz"), OrderedDict((k, to_numpy(v)) for k, v in clean_inputs.items()))
    goldens: "OrderedDict[str, np.ndarray]" = OrderedDict()
    stored: "OrderedDict[str, np.ndarray]" = OrderedDict()
    for case in cases:
        case_tensors = {e["key"]: tensors[f"{case['name']}/{e['key']}"] for e in case["edits"]
                        if f"{case['name']}/{e['key']}" in tensors}
        for key, t in case_tensors.items():
            stored[f"{case['name']}/{key}"] = to_numpy(t)
        with torch.no_grad():
            golden = edited_run(model, tuple(inputs.values()), case["edits"], case_tensors, clean)
        for key, arr in golden.items():
            if keep is not None and not keep.match(key):
                continue  # kept small: the modules the tests compare
            goldens[f"{case['name']}/{key}"] = arr
        case.setdefault("input", "input.npz")
    save_npz(os.path.join(folder, "edited_golden.npz"), goldens)
    save_npz(os.path.join(folder, "edit_tensors.npz"), stored)
    write_json(os.path.join(folder, "edits.json"), {"cases": cases})
    print(f"{name}: {len(cases)} edit cases")


@maker("edits-mlp")
def make_edits_mlp():
    seed_everything(1)
    model = nn.Sequential(nn.Linear(10, 16), nn.ReLU(), nn.Linear(16, 16), nn.ReLU(), nn.Linear(16, 4)).eval()
    x = torch.randn(3, 10)
    save_fixture("edits-mlp", model, OrderedDict(x=x), simple_kwargs(), notes="MLP for intervention goldens")
    g = torch.Generator().manual_seed(2)
    tensors = {
        "add/2": torch.randn(16, generator=g),
        "replace/0": torch.randn(16, generator=g),
        "pair/2": torch.randn(16, generator=g),
    }
    cases = [
        {"name": "zero", "edits": [{"key": "1", "op": "zero"}]},
        {"name": "scale", "edits": [{"key": "0", "op": "scale", "factor": -0.5}]},
        {"name": "add", "edits": [{"key": "2", "op": "add", "scale": 3.0}]},
        {"name": "clamp", "edits": [{"key": "2", "op": "clamp", "min": -0.2, "max": 0.3}]},
        {"name": "clamp-max", "edits": [{"key": "0", "op": "clamp", "max": 0.0}]},
        {"name": "replace", "edits": [{"key": "0", "op": "replace"}]},
        {"name": "output", "edits": [{"key": "4", "op": "scale", "factor": 2.0}]},
        {"name": "pair", "edits": [{"key": "0", "op": "clamp", "min": 0.1}, {"key": "2", "op": "add", "scale": 1.0}]},
    ]
    save_edit_cases("edits-mlp", model, OrderedDict(x=x), cases, tensors)


@maker("edits-cnn")
def make_edits_cnn():
    seed_everything(3)
    model = nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 8, 3, padding=1), nn.ReLU(),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 5),
    ).eval()
    x = torch.randn(2, 3, 8, 8)
    save_fixture("edits-cnn", model, OrderedDict(x=x), simple_kwargs(), notes="CNN for intervention goldens")
    g = torch.Generator().manual_seed(4)
    tensors = {"channel/0": torch.randn(8, 1, 1, generator=g), "replace/2": torch.randn(8, 1, 1, generator=g)}
    cases = [
        {"name": "channel", "edits": [{"key": "0", "op": "add", "scale": 1.0}]},
        {"name": "replace", "edits": [{"key": "2", "op": "replace"}]},
        {"name": "clamp", "edits": [{"key": "2", "op": "clamp", "min": 0.0, "max": 0.05}]},
    ]
    save_edit_cases("edits-cnn", model, OrderedDict(x=x), cases, tensors)


class Twice(nn.Module):
    def __init__(self):
        super().__init__()
        self.proj = nn.Linear(8, 8)
        self.act = nn.Tanh()
        self.out = nn.Linear(8, 3)

    def forward(self, x):
        x = self.act(self.proj(x))
        x = self.act(self.proj(x))
        return self.out(x)


@maker("edits-twice")
def make_edits_twice():
    seed_everything(5)
    model = Twice().eval()
    x = torch.randn(2, 8)
    save_fixture("edits-twice", model, OrderedDict(x=x), simple_kwargs(), notes="proj called twice: edit call 2 only")
    g = torch.Generator().manual_seed(6)
    tensors = {"both/proj": torch.randn(8, generator=g)}
    cases = [
        {"name": "second", "edits": [{"key": "proj:2", "op": "scale", "factor": -1.0}]},
        {"name": "both", "edits": [{"key": "proj", "op": "add", "scale": 1.0}]},
    ]
    save_edit_cases("edits-twice", model, OrderedDict(x=x), cases, tensors)


class Attention(nn.Module):
    def __init__(self, dim: int, heads: int, seq: int):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        self.register_buffer("mask", torch.tril(torch.ones(seq, seq)).view(1, 1, seq, seq) == 0)

    def forward(self, x):
        b, t, d = x.shape
        h = self.heads
        q, k, v = self.qkv(x).split(d, dim=2)
        q = q.reshape(b, t, h, d // h).transpose(1, 2)
        k = k.reshape(b, t, h, d // h).transpose(1, 2)
        v = v.reshape(b, t, h, d // h).transpose(1, 2)
        att = (q @ k.transpose(-2, -1)) / ((d // h) ** 0.5)
        att = att.masked_fill(self.mask[:, :, :t, :t], float("-inf"))
        y = F.softmax(att, dim=-1) @ v
        return self.proj(y.transpose(1, 2).reshape(b, t, d))


class GptBlock(nn.Module):
    def __init__(self, dim: int, heads: int, seq: int):
        super().__init__()
        self.ln_1 = nn.LayerNorm(dim)
        self.attn = Attention(dim, heads, seq)
        self.ln_2 = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, 4 * dim), nn.GELU(), nn.Linear(4 * dim, dim))

    def forward(self, x):
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


class TinyGpt(nn.Module):
    """GPT-2's shape at toy size: token + position embeddings, 12 pre-norm blocks h.0..h.11, lm_head."""

    def __init__(self, vocab: int = 32, dim: int = 16, heads: int = 2, seq: int = 8, layers: int = 12):
        super().__init__()
        self.wte = nn.Embedding(vocab, dim)
        self.wpe = nn.Embedding(seq, dim)
        self.h = nn.ModuleList(GptBlock(dim, heads, seq) for _ in range(layers))
        self.ln_f = nn.LayerNorm(dim)
        self.lm_head = nn.Linear(dim, vocab, bias=False)

    def forward(self, ids):
        pos = torch.arange(ids.shape[1]).unsqueeze(0)
        x = self.wte(ids) + self.wpe(pos)
        for block in self.h:
            x = block(x)
        return self.lm_head(self.ln_f(x))


@maker("edits-gpt")
def make_edits_gpt():
    seed_everything(7)
    model = TinyGpt().eval()
    g = torch.Generator().manual_seed(8)
    ids = torch.randint(0, 32, (2, 8), generator=g)
    clean_ids = torch.randint(0, 32, (2, 8), generator=g)
    kwargs = simple_kwargs(inp="ids", out="logits")
    save_fixture("edits-gpt", model, OrderedDict(ids=ids), kwargs,
                 notes="12-block toy GPT (dim 16, 2 heads, causal mask) for steering, patching, ablation")
    steer = torch.randn(16, generator=g)
    tensors = {"steer/h.0": steer, "together/h.0": steer}
    cases = [
        {"name": "steer", "edits": [{"key": "h.0", "op": "add", "scale": 4.0}]},
        {"name": "patch", "edits": [{"key": "h.1.mlp", "op": "patch"}], "clean": "clean.npz"},
        {"name": "ablate", "edits": [{"key": "h.0.attn", "op": "zero"}]},
        {"name": "together", "clean": "clean.npz", "edits": [
            {"key": "h.0", "op": "add", "scale": 4.0},
            {"key": "h.0.attn", "op": "zero"},
            {"key": "h.1.mlp", "op": "patch"},
            {"key": "h.2.mlp.0", "op": "clamp", "max": 0.0},
        ]},
    ]
    save_edit_cases("edits-gpt", model, OrderedDict(ids=ids), cases, tensors, OrderedDict(ids=clean_ids),
                    keep=re.compile(r"^(h\.\d+(\.attn|\.mlp)?|h\.1\.mlp\.2|ln_f|lm_head|__output__#\d+)$"))


@maker("edits-control-flow")
def make_edits_control_flow():
    from make_fixtures import ControlFlow

    seed_everything(9)
    model = ControlFlow().eval()
    x = torch.randn(2, 8).abs()  # positive sum: the `a` branch runs
    steps = torch.tensor(3)
    kwargs = {"input_names": ["x", "steps"], "output_names": ["output"],
              "dynamic_axes": {"x": {0: "batch"}, "output": {0: "batch"}}, "opset_version": OPSET}
    save_fixture("edits-control-flow", model, OrderedDict(x=x, steps=steps), kwargs,
                 notes="torch.jit.script If (a or c) and Loop (b, 3 calls): edits inside the branch and the body",
                 export_model=torch.jit.script(model))
    g = torch.Generator().manual_seed(10)
    tensors = {"branch/a": torch.randn(8, generator=g), "both/a": torch.randn(8, generator=g)}
    cases = [
        {"name": "branch", "edits": [{"key": "a", "op": "add", "scale": 1.0}]},
        {"name": "body", "edits": [{"key": "b.0", "op": "scale", "factor": 0.5}]},
        {"name": "both", "edits": [{"key": "a", "op": "add", "scale": 2.0}, {"key": "b.1", "op": "clamp", "max": 0.2}]},
    ]
    save_edit_cases("edits-control-flow", model, OrderedDict(x=x, steps=steps), cases, tensors)
