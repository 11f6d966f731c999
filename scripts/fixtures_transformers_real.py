"""Torch goldens for a real HF export: optimum's 2-layer DistilBERT (fixtures/hf-distilbert-optimum).

DistilBERT's maths as ``transformers.models.distilbert.modeling_distilbert`` computes it in eval mode,
loaded with the file's own weights (a Linear's weight is the transposed ``onnx::MatMul_*`` initializer
whose product its ``<module>.bias`` Add reads), run on ``input.npz`` the way
``output_hidden_states=True, output_attentions=True`` does. The test checks the file's logits
against these before trusting a hidden state.
"""

from __future__ import annotations

import math
import os
from collections import OrderedDict

import numpy as np
import torch
import torch.nn.functional as F

from make_fixtures import FIXTURES, maker, save_npz, to_numpy


def _linear_weights(proto) -> dict:
    """``<module>`` → weight [out, in], from the MatMul whose output the module's bias Add reads."""
    from onnx import numpy_helper

    inits = {t.name: numpy_helper.to_array(t) for t in proto.graph.initializer}
    producer = {o: n for n in proto.graph.node for o in n.output}
    weights = {}
    for n in proto.graph.node:
        if n.op_type != "Add":
            continue
        bias = next((i for i in n.input if i.endswith(".bias") and i in inits), None)
        other = next((i for i in n.input if i != bias), None)
        matmul = producer.get(other)
        if bias and matmul is not None and matmul.op_type == "MatMul" and matmul.input[1] in inits:
            weights[bias[: -len(".bias")]] = torch.from_numpy(inits[matmul.input[1]].T.copy())
    return weights, {k: torch.from_numpy(v.copy()) for k, v in inits.items()}


def _layer_norm(x, p, name, eps=1e-12):
    return F.layer_norm(x, x.shape[-1:], p[f"{name}.weight"], p[f"{name}.bias"], eps)


def _linear(x, w, p, name):
    return x @ w[name].t() + p[f"{name}.bias"]


@maker("hf-distilbert-optimum")
def make_hf_distilbert_optimum():
    import onnx

    folder = os.path.join(FIXTURES, "hf-distilbert-optimum")
    proto = onnx.load(os.path.join(folder, "model.onnx"))
    w, p = _linear_weights(proto)
    heads = 2
    input_ids = torch.tensor([[101, 7592, 2088, 2003, 1037, 3231, 102, 0], [101, 2023, 2003, 102, 0, 0, 0, 0]])
    attention_mask = (input_ids != 0).long()
    states, attentions = [], []
    with torch.no_grad():
        seq = input_ids.shape[1]
        x = p["distilbert.embeddings.word_embeddings.weight"][input_ids]
        x = x + p["distilbert.embeddings.position_embeddings.weight"][torch.arange(seq)][None]
        x = _layer_norm(x, p, "distilbert.embeddings.LayerNorm")
        for i in range(2):
            states.append(x)
            pre = f"distilbert.transformer.layer.{i}"
            b, s, dim = x.shape
            hd = dim // heads
            split = lambda t: t.view(b, -1, heads, hd).transpose(1, 2)  # noqa: E731
            q = split(_linear(x, w, p, f"{pre}.attention.q_lin")) / math.sqrt(hd)
            k = split(_linear(x, w, p, f"{pre}.attention.k_lin"))
            v = split(_linear(x, w, p, f"{pre}.attention.v_lin"))
            scores = q @ k.transpose(2, 3)
            masked = (attention_mask == 0).view(b, 1, 1, s).expand_as(scores)
            scores = scores.masked_fill(masked, torch.finfo(scores.dtype).min)
            weights = F.softmax(scores, dim=-1)
            attentions.append(weights)
            context = (weights @ v).transpose(1, 2).contiguous().view(b, -1, heads * hd)
            sa = _layer_norm(_linear(context, w, p, f"{pre}.attention.out_lin") + x, p, f"{pre}.sa_layer_norm")
            ffn = _linear(F.gelu(_linear(sa, w, p, f"{pre}.ffn.lin1")), w, p, f"{pre}.ffn.lin2")
            x = _layer_norm(ffn + sa, p, f"{pre}.output_layer_norm")
        states.append(x)
        pooled = F.relu(x[:, 0] @ p["pre_classifier.weight"].t() + p["pre_classifier.bias"])
        logits = pooled @ p["classifier.weight"].t() + p["classifier.bias"]
    save_npz(os.path.join(folder, "input.npz"),
             OrderedDict(input_ids=to_numpy(input_ids), attention_mask=to_numpy(attention_mask)))
    out = OrderedDict((f"hidden_states.{i}", to_numpy(t)) for i, t in enumerate(states))
    out.update((f"attentions.{i}", to_numpy(t)) for i, t in enumerate(attentions))
    out["logits"] = to_numpy(logits)
    save_npz(os.path.join(folder, "hf_outputs.npz"), out)
    print(f"hf-distilbert-optimum: {len(out)} arrays, linear weights of {len(w)} modules")
