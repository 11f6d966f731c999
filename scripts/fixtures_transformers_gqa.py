"""A tiny Llama (grouped-query attention, rotary, RMSNorm) with HF's module names and maths, and its
ONNX Runtime ``GroupQueryAttention`` (com.microsoft) variant.

``LlamaForCausalLM`` below re-implements what ``transformers.models.llama.modeling_llama`` does in
eval mode with eager attention: rotary embeddings (``rotate_half``, theta 10000), ``repeat_kv`` of
2 key/value heads to 4 query heads, a causal mask at the dtype's minimum, softmax in float32.
Blocks return a tensor, not HF's ``(hidden_states,)`` tuple (as in fixtures_transformers.py).

``fixtures/hf-llama-gqa/model.onnx`` is its TorchScript export (input_ids only, causal);
``model.gqa.onnx`` (and ``model.gqa-packed.onnx``, its packed-QKV form) replaces each self-attention's maths between the q/k/v projections and o_proj
by one ``GroupQueryAttention`` node as model-builder exports write it (do_rotary with cos/sin caches
from the same inverse frequencies, seqlens_k and total_sequence_length from an ``attention_mask``
input, BNSH past/present caches as graph inputs and outputs). onnxruntime-node's optimizer does not
make this fusion. ``hf_outputs.npz`` holds HF's hidden states and attentions of the 6-token prompt;
``hf_outputs_step.npz`` the same model run on the prompt plus one token (its attentions' last query
row is what the cached step returns); ``model.gqa-window.onnx`` sets ``local_window_size`` 3 and
``hf_outputs_window.npz`` holds the same model's outputs with Mistral's ``sliding_window`` 3.
"""

from __future__ import annotations

import math
import os
from collections import OrderedDict

import numpy as np
import torch
import torch.nn as nn

from fixtures_transformers import set_live_nodes
from make_fixtures import FIXTURES, maker, save_fixture, save_npz, seed_everything, to_numpy

HEADS, KV_HEADS, HEAD_DIM, THETA = 4, 2, 16, 10000.0
WINDOW = 3
SOFTCAP = 0.5


class LlamaRMSNorm(nn.Module):
    def __init__(self, hidden: int, eps: float = 1e-6):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(hidden))
        self.variance_epsilon = eps

    def forward(self, hidden_states):
        variance = hidden_states.pow(2).mean(-1, keepdim=True)
        return self.weight * (hidden_states * torch.rsqrt(variance + self.variance_epsilon))


def rotate_half(x):
    x1, x2 = x[..., : x.shape[-1] // 2], x[..., x.shape[-1] // 2 :]
    return torch.cat((-x2, x1), dim=-1)


def inv_freq() -> torch.Tensor:
    return 1.0 / (THETA ** (torch.arange(0, HEAD_DIM, 2, dtype=torch.float32) / HEAD_DIM))


def repeat_kv(x, n_rep: int):
    b, kv, s, d = x.shape
    return x[:, :, None, :, :].expand(b, kv, n_rep, s, d).reshape(b, kv * n_rep, s, d)


class LlamaAttention(nn.Module):
    def __init__(self, hidden: int, record: list):
        super().__init__()
        self.q_proj = nn.Linear(hidden, HEADS * HEAD_DIM, bias=False)
        self.k_proj = nn.Linear(hidden, KV_HEADS * HEAD_DIM, bias=False)
        self.v_proj = nn.Linear(hidden, KV_HEADS * HEAD_DIM, bias=False)
        self.o_proj = nn.Linear(HEADS * HEAD_DIM, hidden, bias=False)
        self.register_buffer("inv_freq", inv_freq(), persistent=False)
        self.record = record
        self.sliding_window = None  # Mistral's: a query sees itself and the sliding_window - 1 tokens before it
        self.softcap = None  # Gemma 2's attn_logit_softcapping: scores = cap * tanh(scores / cap)

    def forward(self, hidden_states):
        b, s, _ = hidden_states.shape
        q = self.q_proj(hidden_states).view(b, s, HEADS, HEAD_DIM).transpose(1, 2)
        k = self.k_proj(hidden_states).view(b, s, KV_HEADS, HEAD_DIM).transpose(1, 2)
        v = self.v_proj(hidden_states).view(b, s, KV_HEADS, HEAD_DIM).transpose(1, 2)
        positions = torch.arange(s, dtype=torch.float32)
        freqs = positions[:, None] * self.inv_freq[None, :]
        emb = torch.cat((freqs, freqs), dim=-1)
        cos, sin = emb.cos(), emb.sin()
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        k, v = repeat_kv(k, HEADS // KV_HEADS), repeat_kv(v, HEADS // KV_HEADS)
        scores = torch.matmul(q, k.transpose(2, 3)) / math.sqrt(HEAD_DIM)
        if self.softcap:
            scores = self.softcap * torch.tanh(scores / self.softcap)
        rows = torch.arange(s)
        future = rows[None, :] > rows[:, None]
        if self.sliding_window:
            future = future | (rows[:, None] - rows[None, :] >= self.sliding_window)
        scores = scores.masked_fill(future, torch.finfo(torch.float32).min)
        probs = torch.softmax(scores, dim=-1, dtype=torch.float32)
        self.record.append(probs.detach().clone())
        out = torch.matmul(probs, v).transpose(1, 2).reshape(b, s, HEADS * HEAD_DIM)
        return self.o_proj(out)


class LlamaMLP(nn.Module):
    def __init__(self, hidden: int, inner: int):
        super().__init__()
        self.gate_proj = nn.Linear(hidden, inner, bias=False)
        self.up_proj = nn.Linear(hidden, inner, bias=False)
        self.down_proj = nn.Linear(inner, hidden, bias=False)
        self.act_fn = nn.SiLU()

    def forward(self, x):
        return self.down_proj(self.act_fn(self.gate_proj(x)) * self.up_proj(x))


class LlamaDecoderLayer(nn.Module):
    def __init__(self, hidden: int, inner: int, record: list):
        super().__init__()
        self.self_attn = LlamaAttention(hidden, record)
        self.mlp = LlamaMLP(hidden, inner)
        self.input_layernorm = LlamaRMSNorm(hidden)
        self.post_attention_layernorm = LlamaRMSNorm(hidden)

    def forward(self, hidden_states):
        hidden_states = hidden_states + self.self_attn(self.input_layernorm(hidden_states))
        return hidden_states + self.mlp(self.post_attention_layernorm(hidden_states))


class LlamaModel(nn.Module):
    def __init__(self, vocab: int, hidden: int, inner: int, layers: int, record: dict):
        super().__init__()
        self.embed_tokens = nn.Embedding(vocab, hidden)
        self.layers = nn.ModuleList([LlamaDecoderLayer(hidden, inner, record["attentions"]) for _ in range(layers)])
        self.norm = LlamaRMSNorm(hidden)
        self.record = record

    def forward(self, input_ids):
        hidden_states = self.embed_tokens(input_ids)
        for layer in self.layers:
            self.record["hidden_states"].append(hidden_states.detach().clone())
            hidden_states = layer(hidden_states)
        hidden_states = self.norm(hidden_states)
        self.record["hidden_states"].append(hidden_states.detach().clone())
        return hidden_states


class LlamaForCausalLM(nn.Module):
    def __init__(self, vocab=48, hidden=32, inner=48, layers=2):
        super().__init__()
        self.hf_record = {"hidden_states": [], "attentions": []}
        self.model = LlamaModel(vocab, hidden, inner, layers, self.hf_record)
        self.lm_head = nn.Linear(hidden, vocab, bias=False)

    def forward(self, input_ids):
        return self.lm_head(self.model(input_ids))


def _hf_outputs(model: LlamaForCausalLM, input_ids: torch.Tensor) -> OrderedDict:
    record = model.hf_record
    record["hidden_states"].clear()
    record["attentions"].clear()
    with torch.no_grad():
        logits = model(input_ids)
    out = OrderedDict((f"hidden_states.{i}", to_numpy(t)) for i, t in enumerate(record["hidden_states"]))
    out.update((f"attentions.{i}", to_numpy(t)) for i, t in enumerate(record["attentions"]))
    out["logits"] = to_numpy(logits)
    record["hidden_states"].clear()
    record["attentions"].clear()
    return out


@maker("hf-llama-gqa")
def make_hf_llama_gqa():
    seed_everything()
    model = LlamaForCausalLM()
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():  # norms away from 1, so a capture that skipped one would not pass by accident
        for m in model.modules():
            if isinstance(m, LlamaRMSNorm):
                m.weight.copy_(1.0 + 0.2 * torch.randn(m.weight.shape, generator=g))
    model.eval()
    ids = torch.randint(0, 48, (2, 7), generator=torch.Generator().manual_seed(3))
    prompt = ids[:, :6]
    axes = {0: "batch", 1: "sequence"}
    save_fixture(
        "hf-llama-gqa", model, OrderedDict(input_ids=prompt),
        {"input_names": ["input_ids"], "output_names": ["logits"],
         "dynamic_axes": {"input_ids": axes, "logits": axes}, "do_constant_folding": True},
        notes="Tiny Llama (LlamaForCausalLM maths and module names; 2 layers, hidden 32, 4 heads over 2 "
              "key/value heads, head_dim 16 (the CPU kernel needs a multiple of 16; 4 x 16 > hidden, as a config.head_dim allows), rotary, RMSNorm). TorchScript export, unfused; model.gqa.onnx "
              "its GroupQueryAttention variant (scripts/fixtures_transformers_gqa.py).")
    folder = os.path.join(FIXTURES, "hf-llama-gqa")
    save_npz(os.path.join(folder, "hf_outputs.npz"), _hf_outputs(model, prompt))
    step = _hf_outputs(model, ids)
    step["input_ids"] = to_numpy(ids)
    save_npz(os.path.join(folder, "hf_outputs_step.npz"), step)
    _write_gqa_variant(folder, layers=len(model.model.layers), packed=False)
    _write_gqa_variant(folder, layers=len(model.model.layers), packed=True)
    # The same weights with a sliding window of 3 (Mistral), and GroupQueryAttention's local_window_size 3.
    for layer in model.model.layers:
        layer.self_attn.sliding_window = WINDOW
    window = OrderedDict((f"prompt.{k}", v) for k, v in _hf_outputs(model, prompt).items())
    window.update((f"step.{k}", v) for k, v in _hf_outputs(model, ids).items())
    save_npz(os.path.join(folder, "hf_outputs_window.npz"), window)
    _with_attribute(folder, "model.gqa-window.onnx", "local_window_size", WINDOW)
    # No window, a softcap of 0.5 (strong enough to change every row).
    for layer in model.model.layers:
        layer.self_attn.sliding_window, layer.self_attn.softcap = None, SOFTCAP
    capped = OrderedDict((f"prompt.{k}", v) for k, v in _hf_outputs(model, prompt).items())
    capped.update((f"step.{k}", v) for k, v in _hf_outputs(model, ids).items())
    save_npz(os.path.join(folder, "hf_outputs_softcap.npz"), capped)
    _with_attribute(folder, "model.gqa-softcap.onnx", "softcap", SOFTCAP)


def _with_attribute(folder: str, file: str, name: str, value) -> None:
    """model.gqa.onnx with one more attribute on each GroupQueryAttention."""
    import onnx
    from onnx import helper

    proto = onnx.load(os.path.join(folder, "model.gqa.onnx"))
    for n in proto.graph.node:
        if n.op_type == "GroupQueryAttention":
            n.attribute.append(helper.make_attribute(name, value))
    onnx.save(proto, os.path.join(folder, file))


def _write_gqa_variant(folder: str, layers: int, packed: bool) -> None:
    """``model.gqa.onnx``, or with ``packed`` ``model.gqa-packed.onnx``: the q/k/v projections concatenated
    into one packed QKV query input (key and value inputs empty), as the op's packed form reads them."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    proto = onnx.load(os.path.join(folder, "model.onnx"))
    graph = proto.graph
    by_name = {n.name: n for n in graph.node}
    # The caches the kernel reads: cos/sin of position × inverse frequency, [max_positions, head_size / 2].
    freqs = np.arange(32, dtype=np.float32)[:, None] * to_numpy(inv_freq())[None, :]
    graph.initializer.extend([numpy_helper.from_array(np.cos(freqs).astype(np.float32), "cos_cache"),
                              numpy_helper.from_array(np.sin(freqs).astype(np.float32), "sin_cache"),
                              numpy_helper.from_array(np.array([1], dtype=np.int64), "reduce_axes"),
                              numpy_helper.from_array(np.array([1], dtype=np.int32), "const_one"),
                              numpy_helper.from_array(np.array(1, dtype=np.int64), "gather_idx")])
    # seqlens_k (total length - 1 per sequence) and total_sequence_length, as model-builder computes them;
    # node names without a scope, so they name no module the torch model lacks.
    head = [
        helper.make_node("Cast", ["attention_mask"], ["attn_mask_i32"], name="attn_mask_Cast", to=6),
        helper.make_node("ReduceSum", ["attn_mask_i32", "reduce_axes"], ["seqlens_k_p1"], name="attn_mask_ReduceSum", keepdims=0),
        helper.make_node("Sub", ["seqlens_k_p1", "const_one"], ["seqlens_k"], name="attn_mask_Sub"),
        helper.make_node("Shape", ["attention_mask"], ["mask_shape"], name="attn_mask_Shape"),
        helper.make_node("Gather", ["mask_shape", "gather_idx"], ["total_sl_i64"], name="attn_mask_Gather", axis=0),
        helper.make_node("Cast", ["total_sl_i64"], ["total_sl"], name="attn_mask_Cast_1", to=6),
    ]
    gqa = {}
    for i in range(layers):
        scope = f"/model/layers.{i}/self_attn/"
        q, k, v = (by_name[f"{scope}{p}_proj/MatMul"].output[0] for p in ("q", "k", "v"))
        context = by_name[f"{scope}o_proj/MatMul"].input[0]
        past, present = f"past_key_values.{i}", f"present.{i}"
        if packed:
            concat = helper.make_node("Concat", [q, k, v], [f"{scope}qkv"], name=f"{scope}Concat_qkv", axis=-1)
            q, k, v = concat.output[0], "", ""
        gqa[context] = helper.make_node(
            "GroupQueryAttention",
            [q, k, v, f"{past}.key", f"{past}.value", "seqlens_k", "total_sl", "cos_cache", "sin_cache"],
            [context, f"{present}.key", f"{present}.value"],
            name=f"{scope}GroupQueryAttention", domain="com.microsoft",
            num_heads=HEADS, kv_num_heads=KV_HEADS, do_rotary=1)
        if packed:
            gqa[context] = [concat, gqa[context]]
    internal = lambda n: any(n.name.startswith(f"/model/layers.{i}/self_attn/") and "_proj/" not in n.name
                             for i in range(layers))
    ordered = list(head)
    for n in graph.node:
        if internal(n):
            continue
        for x in [x for x in n.input if x in gqa]:
            fused = gqa.pop(x)
            ordered.extend(fused if isinstance(fused, list) else [fused])
        ordered.append(n)
    outputs = {o.name for o in graph.output} | {f"present.{i}.{kv}" for i in range(layers) for kv in ("key", "value")}
    # Drop what nothing reads any more (the rotary and mask constants of the unfused maths).
    ordered = set_live_nodes(graph, ordered, outputs)
    cache = ["batch", KV_HEADS, "past_sequence", HEAD_DIM]
    graph.input.append(helper.make_tensor_value_info("attention_mask", TensorProto.INT64, ["batch", "total_sequence"]))
    for i in range(layers):
        for kv in ("key", "value"):
            graph.input.append(helper.make_tensor_value_info(f"past_key_values.{i}.{kv}", TensorProto.FLOAT, cache))
            graph.output.append(helper.make_tensor_value_info(
                f"present.{i}.{kv}", TensorProto.FLOAT, ["batch", KV_HEADS, "total_sequence", HEAD_DIM]))
    proto.opset_import.append(helper.make_opsetid("com.microsoft", 1))
    onnx.checker.check_model(proto)
    file = "model.gqa-packed.onnx" if packed else "model.gqa.onnx"
    onnx.save(proto, os.path.join(folder, file))
    print(f"hf-llama-gqa: {file} with {layers} GroupQueryAttention nodes, {len(ordered)} nodes")
