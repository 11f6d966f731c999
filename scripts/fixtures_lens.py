"""Logit-lens goldens: the final norm and LM head applied in torch to every hidden state.

``fixtures/lens/<model>.npz`` holds, for each hidden state i of the model's fixture,
``logits.i`` = ``lm_head(ln_f(h_i))`` computed with ``torch.nn.functional.layer_norm`` and a
matmul on the parameters the ONNX file holds, and ``top_id.i`` / ``top_p.i`` (``torch.topk`` of its
softmax, k = 5); for HF-style fixtures also ``norm.i``, the per-token L2 norms of HF's
``hidden_states.i`` that the viewer draws. The hidden states are the fixture's own PyTorch goldens: HF's
``hidden_states.0 … hidden_states.{L-1}`` and, for the last one, the last block's output (the final
norm's input: HF's ``hidden_states[L]`` already has ``ln_f`` applied), or where no hook golden
holds it (the real ORT-fused GPT-2), the model's logits themselves. Nothing is re-exported.

It reads other fixtures' files, so regenerate it after them:
``make_fixtures.py edits-gpt hf-gpt2 lens``. ``fixtures/lens/hf-gpt2-tokenizer.json`` is a
byte-level BPE tokenizer.json (GPT-2's ``Ġ`` markers) for the 96-token vocabulary of hf-gpt2.
"""

from __future__ import annotations

import json
import os
from collections import OrderedDict

import numpy as np
import onnx
import torch
import torch.nn.functional as F
from onnx import numpy_helper

from make_fixtures import FIXTURES, maker, save_npz

TOP = 5

# fixture: (hidden-state keys in golden files, final norm's parameter prefix, LM head MatMul node, eps)
SOURCES = {
    "edits-gpt": ([("golden", f"h.{i}") for i in range(12)], "ln_f", "/lm_head/MatMul", 1e-5),
    # ORT fused ln_f into the last SkipLayerNormalization (its scale stored once for every LayerNorm):
    # the norm's parameters are that node's; the last row is the model's own logits (hf_outputs.npz).
    "hf-gpt2-ort-fused": (
        [("hf_outputs", f"hidden_states.{i}") for i in range(5)] + [("hf_outputs", "logits")],
        None,
        "/lm_head/MatMul",
        1e-5,
    ),
    "hf-gpt2": (
        [("hf_outputs", "hidden_states.0"), ("hf_outputs", "hidden_states.1"), ("golden", "transformer.h.1")],
        "transformer.ln_f",
        "/lm_head/MatMul",
        1e-5,
    ),
}


def _initializers(model: onnx.ModelProto) -> dict:
    """Weights by name, through the Identity nodes the exporter puts on deduplicated parameters."""
    weights = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    for n in model.graph.node:
        if n.op_type == "Identity" and n.input[0] in weights:
            weights[n.output[0]] = weights[n.input[0]]
    return weights


def _head_weight(model: onnx.ModelProto, weights: dict, node_name: str) -> np.ndarray:
    node = next(n for n in model.graph.node if n.name == node_name)
    return weights[node.input[1]]  # [hidden, vocab]: the Linear's weight, transposed by the exporter


def _norm_params(model: onnx.ModelProto, weights: dict, norm: "str | None", head_node: str) -> tuple:
    """The final norm's scale and bias: by parameter name, or (norm None) the norm node the head reads."""
    if norm is not None:
        return weights[f"{norm}.weight"], weights[f"{norm}.bias"]
    head = next(n for n in model.graph.node if n.name == head_node)
    node = next(n for n in model.graph.node if head.input[0] in n.output)
    first = 2 if node.op_type.startswith("Skip") else 1
    return weights[node.input[first]], weights[node.input[first + 1]]


def lens_goldens(name: str) -> "OrderedDict[str, np.ndarray]":
    keys, norm, head_node, eps = SOURCES[name]
    folder = os.path.join(FIXTURES, name)
    model = onnx.load(os.path.join(folder, "model.onnx"))
    weights = _initializers(model)
    gamma, beta = (torch.from_numpy(np.array(w)) for w in _norm_params(model, weights, norm, head_node))
    head = torch.from_numpy(np.array(_head_weight(model, weights, head_node)))
    files = {f: np.load(os.path.join(folder, f"{f}.npz")) for f in {f for f, _ in keys}}
    out: "OrderedDict[str, np.ndarray]" = OrderedDict()
    for i, (file, key) in enumerate(keys):
        h = torch.from_numpy(np.array(files[file][key]))
        logits = h if key == "logits" else F.layer_norm(h, (h.shape[-1],), gamma, beta, eps) @ head
        probs, ids = torch.topk(torch.softmax(logits, dim=-1), TOP, dim=-1)
        out[f"logits.{i}"] = logits.numpy().astype(np.float32)
        out[f"top_p.{i}"] = probs.numpy().astype(np.float32)
        out[f"top_id.{i}"] = ids.numpy().astype(np.int64)
    # The viewer's heatmap: per-token L2 norms of HF's hidden states (the last one after ln_f, as HF returns it).
    hf = os.path.join(folder, "hf_outputs.npz")
    if os.path.exists(hf):
        states = np.load(hf)
        for key in sorted((k for k in states.files if k.startswith("hidden_states.")), key=lambda k: int(k.split(".")[1])):
            norm = torch.linalg.vector_norm(torch.from_numpy(np.array(states[key])), dim=-1)
            out[f"norm.{key.split('.')[1]}"] = norm.numpy().astype(np.float32)
    # The last state is the final norm's input, so its lens is the model's own output.
    if os.path.exists(os.path.join(folder, "golden.npz")):
        golden = np.load(os.path.join(folder, "golden.npz"))["lm_head"]
        np.testing.assert_allclose(out[f"logits.{len(keys) - 1}"], golden, rtol=1e-4, atol=1e-5)
    else:  # the last row is the logits themselves; the rows before use the same head on ln_f(h)
        last = torch.from_numpy(np.array(files["hf_outputs"][f"hidden_states.{len(keys) - 1}"]))
        np.testing.assert_allclose((last @ head).numpy(), out[f"logits.{len(keys) - 1}"], rtol=1e-4, atol=1e-5)
    return out


def byte_level_tokenizer(size: int) -> dict:
    """A GPT-2-style tokenizer.json: byte-level pieces (Ġ for a space), two of them non-ASCII."""
    words = ["the", "cat", "sat", "on", "mat", "a", "dog", "ran", "é", "naïve", "\n", "你"]
    pieces = ["<|endoftext|>"]
    byte_to_char = _bytes_to_unicode()
    for w in words:
        for text in (w, " " + w):
            pieces.append("".join(byte_to_char[b] for b in text.encode("utf-8")))
    pieces += [byte_to_char[b] for b in range(33, 127)]
    seen: dict = {}
    for p in pieces:
        if p not in seen and len(seen) < size:
            seen[p] = len(seen)
    return {
        "version": "1.0",
        "added_tokens": [{"id": 0, "content": "<|endoftext|>", "special": True}],
        "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True},
        "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True},
        "model": {"type": "BPE", "vocab": seen, "merges": []},
    }


def _bytes_to_unicode() -> dict:
    """GPT-2's table (openai/gpt-2 encoder.py): printable bytes map to themselves, the rest to 256 + n."""
    direct = list(range(33, 127)) + list(range(161, 173)) + list(range(174, 256))
    table, n = {}, 0
    for b in range(256):
        if b in direct:
            table[b] = chr(b)
        else:
            table[b] = chr(256 + n)
            n += 1
    return table


@maker("lens")
def make_lens():
    folder = os.path.join(FIXTURES, "lens")
    os.makedirs(folder, exist_ok=True)
    for name in SOURCES:
        if os.path.exists(os.path.join(FIXTURES, name, "model.onnx")):
            save_npz(os.path.join(folder, f"{name}.npz"), lens_goldens(name))
    with open(os.path.join(folder, "hf-gpt2-tokenizer.json"), "w", encoding="utf-8") as f:
        json.dump(byte_level_tokenizer(96), f, ensure_ascii=False, indent=1)
        f.write("\n")
