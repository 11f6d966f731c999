"""Tiny Hugging Face-style transformers: GPT-2 and BERT in plain torch, with HF's module names and maths.

The ``transformers`` package is not needed: the modules below re-implement what
``transformers`` 4.x does in eval mode (GPT2LMHeadModel, BertModel), with the same
``named_modules()`` names, parameter names and arithmetic, so an export of them looks like an
export of the real classes. One difference, on purpose: blocks and attention modules return a
tensor, not HF's ``(hidden_states,)`` tuple, so their hook keys carry no ``#0``.

Besides the usual fixture files (make_fixtures.py), each folder holds ``hf_outputs.npz``:
``hidden_states.0 … hidden_states.L`` and ``attentions.0 … attentions.{L-1}`` exactly as HF's
``output_hidden_states=True`` / ``output_attentions=True`` return them (GPT-2's last hidden state
has ``ln_f`` applied; attentions are the softmax probabilities after the, in eval idle, dropout).
``scripts/optimize-fixtures.ts`` then writes the ONNX Runtime-optimised variants: ``model.ort.onnx``
(of model.onnx, dynamic batch and sequence) and ``model.static.ort.onnx`` (of a static-shape export
on the input.npz shapes, where ORT also fuses SkipLayerNormalization), with ``ort-fusions.json``.
"""

from __future__ import annotations

import math
import os
from collections import OrderedDict

import numpy as np
import torch
import torch.nn as nn

from make_fixtures import FIXTURES, OPSET, maker, save_fixture, save_npz, seed_everything, to_numpy

# --------------------------------------------------------------------------
# GPT-2 (transformers.models.gpt2.modeling_gpt2, eager attention)
# --------------------------------------------------------------------------


class Conv1D(nn.Module):
    """HF's Conv1D: a Linear whose weight is stored transposed, [in, out]."""

    def __init__(self, nf: int, nx: int):
        super().__init__()
        self.nf = nf
        self.weight = nn.Parameter(torch.empty(nx, nf))
        self.bias = nn.Parameter(torch.zeros(nf))
        nn.init.normal_(self.weight, std=0.02)

    def forward(self, x):
        size_out = x.size()[:-1] + (self.nf,)
        x = torch.addmm(self.bias, x.view(-1, x.size(-1)), self.weight)
        return x.view(size_out)


class NewGELUActivation(nn.Module):
    """``gelu_new``: the tanh approximation GPT-2 uses."""

    def forward(self, x):
        return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * torch.pow(x, 3.0))))


class GPT2Attention(nn.Module):
    def __init__(self, hidden: int, heads: int, n_positions: int, record: list):
        super().__init__()
        causal = torch.tril(torch.ones((n_positions, n_positions), dtype=torch.bool))
        self.register_buffer("bias", causal.view(1, 1, n_positions, n_positions), persistent=False)
        self.register_buffer("masked_bias", torch.tensor(-1e4), persistent=False)
        self.num_heads = heads
        self.head_dim = hidden // heads
        self.split_size = hidden
        self.c_attn = Conv1D(3 * hidden, hidden)
        self.c_proj = Conv1D(hidden, hidden)
        self.attn_dropout = nn.Dropout(0.1)
        self.resid_dropout = nn.Dropout(0.1)
        self.record = record  # HF's output_attentions: the returned probabilities, in call order

    def _split_heads(self, t):
        return t.view(t.size()[:-1] + (self.num_heads, self.head_dim)).permute(0, 2, 1, 3)

    def _attn(self, query, key, value, attention_mask):
        attn_weights = torch.matmul(query, key.transpose(-1, -2))
        attn_weights = attn_weights / torch.full(
            [], value.size(-1) ** 0.5, dtype=attn_weights.dtype, device=attn_weights.device
        )
        query_length, key_length = query.size(-2), key.size(-2)
        causal_mask = self.bias[:, :, key_length - query_length : key_length, :key_length]
        mask_value = torch.full([], torch.finfo(attn_weights.dtype).min, dtype=attn_weights.dtype)
        attn_weights = torch.where(causal_mask, attn_weights.to(attn_weights.dtype), mask_value)
        if attention_mask is not None:
            attn_weights = attn_weights + attention_mask
        attn_weights = nn.functional.softmax(attn_weights, dim=-1)
        attn_weights = attn_weights.type(value.dtype)
        attn_weights = self.attn_dropout(attn_weights)
        self.record.append(attn_weights.detach().clone())
        return torch.matmul(attn_weights, value)

    def forward(self, hidden_states, attention_mask=None):
        query, key, value = self.c_attn(hidden_states).split(self.split_size, dim=2)
        query, key, value = self._split_heads(query), self._split_heads(key), self._split_heads(value)
        attn_output = self._attn(query, key, value, attention_mask)
        attn_output = attn_output.permute(0, 2, 1, 3).contiguous()
        attn_output = attn_output.view(attn_output.size()[:-2] + (self.num_heads * self.head_dim,))
        return self.resid_dropout(self.c_proj(attn_output))


class GPT2MLP(nn.Module):
    def __init__(self, inner: int, hidden: int):
        super().__init__()
        self.c_fc = Conv1D(inner, hidden)
        self.c_proj = Conv1D(hidden, inner)
        self.act = NewGELUActivation()
        self.dropout = nn.Dropout(0.1)

    def forward(self, hidden_states):
        return self.dropout(self.c_proj(self.act(self.c_fc(hidden_states))))


class GPT2Block(nn.Module):
    def __init__(self, hidden: int, heads: int, n_positions: int, record: list):
        super().__init__()
        self.ln_1 = nn.LayerNorm(hidden, eps=1e-5)
        self.attn = GPT2Attention(hidden, heads, n_positions, record)
        self.ln_2 = nn.LayerNorm(hidden, eps=1e-5)
        self.mlp = GPT2MLP(4 * hidden, hidden)

    def forward(self, hidden_states, attention_mask=None):
        residual = hidden_states
        hidden_states = self.attn(self.ln_1(hidden_states), attention_mask) + residual
        residual = hidden_states
        return residual + self.mlp(self.ln_2(hidden_states))


class GPT2Model(nn.Module):
    def __init__(self, vocab: int, n_positions: int, hidden: int, layers: int, heads: int, record: dict):
        super().__init__()
        self.wte = nn.Embedding(vocab, hidden)
        self.wpe = nn.Embedding(n_positions, hidden)
        self.drop = nn.Dropout(0.1)
        self.h = nn.ModuleList(
            [GPT2Block(hidden, heads, n_positions, record["attentions"]) for _ in range(layers)]
        )
        self.ln_f = nn.LayerNorm(hidden, eps=1e-5)
        self.record = record

    def forward(self, input_ids, position_ids=None, attention_mask=None):
        seq = input_ids.size(-1)
        if position_ids is None:
            position_ids = torch.arange(0, seq, dtype=torch.long, device=input_ids.device).unsqueeze(0)
        if attention_mask is not None:  # HF: 0 where attended, dtype-min where padded
            attention_mask = (1.0 - attention_mask[:, None, None, :].to(torch.float32)) * torch.finfo(torch.float32).min
        hidden_states = self.drop(self.wte(input_ids) + self.wpe(position_ids))
        states = self.record["hidden_states"]
        for block in self.h:
            states.append(hidden_states.detach().clone())
            hidden_states = block(hidden_states, attention_mask)
        hidden_states = self.ln_f(hidden_states)
        states.append(hidden_states.detach().clone())  # HF: the last hidden state is after ln_f
        return hidden_states


class GPT2LMHeadModel(nn.Module):
    def __init__(self, vocab=96, n_positions=16, hidden=32, layers=2, heads=4):
        super().__init__()
        self.hf_record = {"hidden_states": [], "attentions": []}
        self.transformer = GPT2Model(vocab, n_positions, hidden, layers, heads, self.hf_record)
        self.lm_head = nn.Linear(hidden, vocab, bias=False)
        self.lm_head.weight = self.transformer.wte.weight  # tie_word_embeddings=True, as GPT-2

    def forward(self, input_ids, position_ids=None, attention_mask=None):
        return self.lm_head(self.transformer(input_ids, position_ids, attention_mask))


# --------------------------------------------------------------------------
# BERT (transformers.models.bert.modeling_bert, eager attention)
# --------------------------------------------------------------------------


class BertEmbeddings(nn.Module):
    def __init__(self, vocab: int, max_positions: int, type_vocab: int, hidden: int):
        super().__init__()
        self.word_embeddings = nn.Embedding(vocab, hidden, padding_idx=0)
        self.position_embeddings = nn.Embedding(max_positions, hidden)
        self.token_type_embeddings = nn.Embedding(type_vocab, hidden)
        self.LayerNorm = nn.LayerNorm(hidden, eps=1e-12)
        self.dropout = nn.Dropout(0.1)
        self.register_buffer("position_ids", torch.arange(max_positions).expand((1, -1)), persistent=False)

    def forward(self, input_ids, token_type_ids):
        seq = input_ids.size(1)
        position_ids = self.position_ids[:, :seq]
        embeddings = self.word_embeddings(input_ids) + self.token_type_embeddings(token_type_ids)
        embeddings = embeddings + self.position_embeddings(position_ids)
        return self.dropout(self.LayerNorm(embeddings))


class BertSelfAttention(nn.Module):
    def __init__(self, hidden: int, heads: int, record: list):
        super().__init__()
        self.num_attention_heads = heads
        self.attention_head_size = hidden // heads
        self.all_head_size = hidden
        self.query = nn.Linear(hidden, hidden)
        self.key = nn.Linear(hidden, hidden)
        self.value = nn.Linear(hidden, hidden)
        self.dropout = nn.Dropout(0.1)
        self.record = record

    def transpose_for_scores(self, x):
        x = x.view(x.size()[:-1] + (self.num_attention_heads, self.attention_head_size))
        return x.permute(0, 2, 1, 3)

    def forward(self, hidden_states, attention_mask):
        query_layer = self.transpose_for_scores(self.query(hidden_states))
        key_layer = self.transpose_for_scores(self.key(hidden_states))
        value_layer = self.transpose_for_scores(self.value(hidden_states))
        attention_scores = torch.matmul(query_layer, key_layer.transpose(-1, -2))
        attention_scores = attention_scores / math.sqrt(self.attention_head_size)
        attention_scores = attention_scores + attention_mask
        attention_probs = nn.functional.softmax(attention_scores, dim=-1)
        attention_probs = self.dropout(attention_probs)
        self.record.append(attention_probs.detach().clone())
        context_layer = torch.matmul(attention_probs, value_layer).permute(0, 2, 1, 3).contiguous()
        return context_layer.view(context_layer.size()[:-2] + (self.all_head_size,))


class BertSelfOutput(nn.Module):
    def __init__(self, hidden: int):
        super().__init__()
        self.dense = nn.Linear(hidden, hidden)
        self.LayerNorm = nn.LayerNorm(hidden, eps=1e-12)
        self.dropout = nn.Dropout(0.1)

    def forward(self, hidden_states, input_tensor):
        return self.LayerNorm(self.dropout(self.dense(hidden_states)) + input_tensor)


class BertAttention(nn.Module):
    def __init__(self, hidden: int, heads: int, record: list):
        super().__init__()
        self.self = BertSelfAttention(hidden, heads, record)
        self.output = BertSelfOutput(hidden)

    def forward(self, hidden_states, attention_mask):
        return self.output(self.self(hidden_states, attention_mask), hidden_states)


class GELUActivation(nn.Module):
    """``gelu``: the exact, erf form."""

    def forward(self, x):
        return nn.functional.gelu(x)


class BertIntermediate(nn.Module):
    def __init__(self, hidden: int, inner: int):
        super().__init__()
        self.dense = nn.Linear(hidden, inner)
        self.intermediate_act_fn = GELUActivation()

    def forward(self, hidden_states):
        return self.intermediate_act_fn(self.dense(hidden_states))


class BertOutput(nn.Module):
    def __init__(self, inner: int, hidden: int):
        super().__init__()
        self.dense = nn.Linear(inner, hidden)
        self.LayerNorm = nn.LayerNorm(hidden, eps=1e-12)
        self.dropout = nn.Dropout(0.1)

    def forward(self, hidden_states, input_tensor):
        return self.LayerNorm(self.dropout(self.dense(hidden_states)) + input_tensor)


class BertLayer(nn.Module):
    def __init__(self, hidden: int, heads: int, inner: int, record: list):
        super().__init__()
        self.attention = BertAttention(hidden, heads, record)
        self.intermediate = BertIntermediate(hidden, inner)
        self.output = BertOutput(inner, hidden)

    def forward(self, hidden_states, attention_mask):
        attention_output = self.attention(hidden_states, attention_mask)
        return self.output(self.intermediate(attention_output), attention_output)


class BertEncoder(nn.Module):
    def __init__(self, hidden: int, heads: int, inner: int, layers: int, record: dict):
        super().__init__()
        self.layer = nn.ModuleList([BertLayer(hidden, heads, inner, record["attentions"]) for _ in range(layers)])
        self.record = record

    def forward(self, hidden_states, attention_mask):
        states = self.record["hidden_states"]
        for layer in self.layer:
            states.append(hidden_states.detach().clone())
            hidden_states = layer(hidden_states, attention_mask)
        states.append(hidden_states.detach().clone())
        return hidden_states


class BertPooler(nn.Module):
    def __init__(self, hidden: int):
        super().__init__()
        self.dense = nn.Linear(hidden, hidden)
        self.activation = nn.Tanh()

    def forward(self, hidden_states):
        return self.activation(self.dense(hidden_states[:, 0]))


class BertModel(nn.Module):
    def __init__(self, vocab=100, max_positions=16, type_vocab=2, hidden=32, layers=2, heads=4, inner=64):
        super().__init__()
        self.hf_record = {"hidden_states": [], "attentions": []}
        self.embeddings = BertEmbeddings(vocab, max_positions, type_vocab, hidden)
        self.encoder = BertEncoder(hidden, heads, inner, layers, self.hf_record)
        self.pooler = BertPooler(hidden)

    def forward(self, input_ids, attention_mask, token_type_ids):
        # get_extended_attention_mask: 0 where attended, dtype-min where padded, broadcast over heads and queries.
        extended = attention_mask[:, None, None, :].to(torch.float32)
        extended = (1.0 - extended) * torch.finfo(torch.float32).min
        sequence_output = self.encoder(self.embeddings(input_ids, token_type_ids), extended)
        return sequence_output, self.pooler(sequence_output)


# --------------------------------------------------------------------------
# Fixtures
# --------------------------------------------------------------------------


def randomize_layernorms(model: nn.Module, seed: int = 1) -> None:
    """LayerNorm weights away from (1, 0), so a capture that skipped one would not pass by accident."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.LayerNorm):
                m.weight.copy_(1.0 + 0.2 * torch.randn(m.weight.shape, generator=g))
                m.bias.copy_(0.1 * torch.randn(m.bias.shape, generator=g))


def save_hf_outputs(name: str, model: nn.Module, args: tuple) -> None:
    """One clean forward pass recording HF's hidden_states / attentions into hf_outputs.npz."""
    record = model.hf_record
    record["hidden_states"].clear()
    record["attentions"].clear()
    with torch.no_grad():
        model(*args)
    out = OrderedDict()
    for i, t in enumerate(record["hidden_states"]):
        out[f"hidden_states.{i}"] = to_numpy(t)
    for i, t in enumerate(record["attentions"]):
        out[f"attentions.{i}"] = to_numpy(t)
    save_npz(os.path.join(FIXTURES, name, "hf_outputs.npz"), out)
    record["hidden_states"].clear()
    record["attentions"].clear()


def export_static(name: str, model: nn.Module, inputs: "OrderedDict[str, torch.Tensor]", outputs: list) -> None:
    """The same model exported with static shapes (no dynamic axes): ONNX Runtime's optimizer can then
    prove the shapes its SkipLayerNormalization / Gelu fusions need. optimize-fixtures.ts turns
    ``model.static.onnx`` into ``model.static.ort.onnx`` (and removes it)."""
    path = os.path.join(FIXTURES, name, "model.static.onnx")
    torch.onnx.export(model, tuple(inputs.values()), path, input_names=list(inputs), output_names=outputs,
                      opset_version=OPSET, do_constant_folding=True)


def _export_kwargs(inputs: list, outputs: list) -> dict:
    axes = {0: "batch", 1: "sequence"}
    return {
        "input_names": inputs,
        "output_names": outputs,
        "dynamic_axes": {n: dict(axes) for n in inputs + outputs if n != "pooler_output"}
        | ({"pooler_output": {0: "batch"}} if "pooler_output" in outputs else {}),
        "opset_version": OPSET,
        "do_constant_folding": True,
    }


@maker("hf-gpt2")
def make_hf_gpt2():
    seed_everything()
    model = GPT2LMHeadModel(vocab=96, n_positions=16, hidden=32, layers=2, heads=4)
    randomize_layernorms(model)
    model.eval()
    input_ids = torch.randint(0, 96, (2, 8), generator=torch.Generator().manual_seed(3))
    save_fixture(
        "hf-gpt2", model, OrderedDict(input_ids=input_ids), _export_kwargs(["input_ids"], ["logits"]),
        notes="Tiny GPT-2 (GPT2LMHeadModel maths and module names; 2 layers, hidden 32, 4 heads, vocab 96, "
              "lm_head tied to transformer.wte). TorchScript export, unfused; hf_outputs.npz holds HF's "
              "hidden_states (the last after ln_f) and attentions; model.ort.onnx its ONNX Runtime-optimised variant.")
    save_hf_outputs("hf-gpt2", model, (input_ids,))
    export_static("hf-gpt2", model, OrderedDict(input_ids=input_ids), ["logits"])


@maker("hf-bert")
def make_hf_bert():
    seed_everything()
    model = BertModel(vocab=100, max_positions=16, type_vocab=2, hidden=32, layers=2, heads=4, inner=64)
    randomize_layernorms(model)
    model.eval()
    g = torch.Generator().manual_seed(3)
    input_ids = torch.randint(1, 100, (2, 8), generator=g)
    attention_mask = torch.ones(2, 8, dtype=torch.long)
    attention_mask[1, 5:] = 0  # the second sequence is 5 tokens long, padded to 8
    input_ids[1, 5:] = 0
    token_type_ids = torch.zeros(2, 8, dtype=torch.long)
    token_type_ids[:, 4:] = 1
    inputs = OrderedDict(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids)
    save_fixture(
        "hf-bert", model, inputs,
        _export_kwargs(list(inputs), ["last_hidden_state", "pooler_output"]),
        notes="Tiny BERT (BertModel maths and module names; 2 layers, hidden 32, 4 heads, intermediate 64, "
              "vocab 100) with a padding mask (sequence 1 has 5 real tokens of 8). TorchScript export, "
              "unfused; hf_outputs.npz holds HF's hidden_states and attentions; model.ort.onnx its "
              "ONNX Runtime-optimised variant.")
    save_hf_outputs("hf-bert", model, tuple(inputs.values()))
    export_static("hf-bert", model, inputs, ["last_hidden_state", "pooler_output"])


@maker("hf-gpt2-ort-fused")
def make_hf_gpt2_ort_fused():
    """Goldens for the real ORT-fused tiny GPT-2 (fixtures/hf-gpt2-ort-fused/model.onnx, see its README):
    the torch GPT-2 above loaded with the file's own weights (HF parameter names; the optimizer stored
    equal tensors once, so every LayerNorm reads transformer.h.0.ln_1.*), run the HF way. The test
    checks the file's logits against these before trusting a single hidden state."""
    import onnx
    from onnx import numpy_helper

    folder = os.path.join(FIXTURES, "hf-gpt2-ort-fused")
    proto = onnx.load(os.path.join(folder, "model.onnx"))
    w = {t.name: torch.from_numpy(numpy_helper.to_array(t).copy()) for t in proto.graph.initializer}
    model = GPT2LMHeadModel(vocab=1000, n_positions=512, hidden=32, layers=5, heads=4)
    model.eval()
    zeros = w["transformer.h.0.ln_1.bias"]  # the bias every fused op reads (c_proj's included)
    with torch.no_grad():
        model.transformer.wte.weight.copy_(w["transformer.wte.weight"])
        model.transformer.wpe.weight.copy_(w["transformer.wpe.weight"])
        for i, block in enumerate(model.transformer.h):
            for ln in (block.ln_1, block.ln_2):
                ln.weight.copy_(w["transformer.h.0.ln_1.weight"])
                ln.bias.copy_(zeros)
            block.attn.c_attn.weight.copy_(w[f"transformer.h.{i}.attn.c_attn.weight"])
            block.attn.c_attn.bias.copy_(w["transformer.h.0.attn.c_attn.bias"])
            block.attn.c_proj.weight.copy_(w[f"transformer.h.{i}.attn.c_proj.weight"])
            block.attn.c_proj.bias.copy_(zeros)
            block.mlp.c_fc.weight.copy_(w[f"transformer.h.{i}.mlp.c_fc.weight"])
            block.mlp.c_fc.bias.copy_(w["transformer.h.0.mlp.c_fc.bias"])
            block.mlp.c_proj.weight.copy_(w[f"transformer.h.{i}.mlp.c_proj.weight"])
            block.mlp.c_proj.bias.copy_(zeros)
        model.transformer.ln_f.weight.copy_(w["transformer.h.0.ln_1.weight"])
        model.transformer.ln_f.bias.copy_(zeros)
        model.lm_head.weight = nn.Parameter(w["onnx::MatMul_1400"].t().contiguous())
    g = torch.Generator().manual_seed(5)
    input_ids = torch.randint(0, 1000, (2, 8), generator=g)
    position_ids = torch.arange(8).unsqueeze(0).repeat(2, 1)
    attention_mask = torch.ones(2, 8, dtype=torch.long)
    attention_mask[1, 6:] = 0  # right padding: sequence 1 has 6 tokens
    inputs = OrderedDict(input_ids=input_ids, position_ids=position_ids, attention_mask=attention_mask)
    for i in range(5):
        inputs[f"past_{i}"] = torch.zeros(2, 2, 4, 0, 8)
    # The file's ids, positions and mask are int32 (the optimizer's EmbedLayerNormalization reads int32).
    save_npz(os.path.join(folder, "input.npz"),
             OrderedDict((k, to_numpy(v).astype(np.int32) if v.dtype == torch.long else to_numpy(v))
                         for k, v in inputs.items()))
    model.hf_record["hidden_states"].clear()
    model.hf_record["attentions"].clear()
    with torch.no_grad():
        logits = model(input_ids, position_ids, attention_mask)
    out = OrderedDict()
    for i, t in enumerate(model.hf_record["hidden_states"]):
        out[f"hidden_states.{i}"] = to_numpy(t)
    for i, t in enumerate(model.hf_record["attentions"]):
        out[f"attentions.{i}"] = to_numpy(t)
    out["logits"] = to_numpy(logits)
    save_npz(os.path.join(folder, "hf_outputs.npz"), out)
    print(f"hf-gpt2-ort-fused: {len(out)} arrays")


def set_live_nodes(graph, ordered: list, outputs: set) -> list:
    """The graph's nodes become ``ordered`` less what nothing reads any more (nor ``outputs``), and
    its initializers those still read; returns the nodes kept (used by the hand-fused variants)."""
    while True:
        read = {i for n in ordered for i in n.input} | outputs
        alive = [n for n in ordered if any(o in read for o in n.output)]
        if len(alive) == len(ordered):
            break
        ordered = alive
    del graph.node[:]
    graph.node.extend(ordered)
    used = {i for n in ordered for i in n.input}
    keep_inits = [t for t in graph.initializer if t.name in used]
    del graph.initializer[:]
    graph.initializer.extend(keep_inits)
    return ordered


@maker("hf-bert-fused-attention")
def make_hf_bert_fused_attention():
    """``fixtures/hf-bert/model.fused-attention.onnx``: hf-bert/model.onnx with each layer's self-attention
    replaced by ONNX Runtime's fused ``Attention`` (com.microsoft) as its Python transformer optimizer
    writes it for BERT: packed [hidden, 3*hidden] QKV weights and bias, the raw 2-D int32 mask, no
    probabilities out. onnxruntime-node's own optimizer does not make this fusion; the goldens are
    hf-bert's (the model's maths is unchanged, the test checks its outputs)."""
    import onnx
    from onnx import helper, numpy_helper

    folder = os.path.join(FIXTURES, "hf-bert")
    proto = onnx.load(os.path.join(folder, "model.onnx"))
    graph = proto.graph
    inits = {t.name: t for t in graph.initializer}
    nodes = list(graph.node)
    by_name = {n.name: n for n in nodes}
    mask = "/attention_mask_int32"
    new_nodes = [helper.make_node("Cast", ["attention_mask"], [mask], name="/Cast_attention_mask", to=6)]
    layers = sorted({int(n.name.split("/")[2].split(".")[1]) for n in nodes if n.name.startswith("/encoder/layer.")})
    for i in layers:
        scope = f"/encoder/layer.{i}/attention/self/"
        weights, biases = [], []
        for proj in ("query", "key", "value"):
            matmul = by_name[f"{scope}{proj}/MatMul"]
            weights.append(numpy_helper.to_array(inits[matmul.input[1]]))
            biases.append(numpy_helper.to_array(inits[f"encoder.layer.{i}.attention.self.{proj}.bias"]))
        x = by_name[f"{scope}query/MatMul"].input[0]
        context = by_name[f"/encoder/layer.{i}/attention/output/dense/MatMul"].input[0]
        w_name, b_name = f"{scope}qkv_weight", f"{scope}qkv_bias"
        graph.initializer.extend([numpy_helper.from_array(np.concatenate(weights, axis=1), w_name),
                                  numpy_helper.from_array(np.concatenate(biases), b_name)])
        new_nodes.append(helper.make_node("Attention", [x, w_name, b_name, mask], [context],
                                          name=f"{scope}Attention", domain="com.microsoft", num_heads=4))
    kept = [n for n in nodes if not any(n.name.startswith(f"/encoder/layer.{i}/attention/self/") for i in layers)]
    # Insert each Attention where its layer's self-attention was; then drop what nothing reads any more.
    ordered = []
    for n in kept:
        for a in new_nodes:
            if a.op_type == "Cast" and a not in ordered and n.op_type != "Constant":
                ordered.append(a)
            if a.op_type == "Attention" and a not in ordered and a.output[0] in n.input:
                ordered.append(a)
        ordered.append(n)
    ordered = set_live_nodes(graph, ordered, {o.name for o in graph.output})
    proto.opset_import.append(helper.make_opsetid("com.microsoft", 1))
    onnx.checker.check_model(proto)
    onnx.save(proto, os.path.join(folder, "model.fused-attention.onnx"))
    print(f"hf-bert-fused-attention: {sum(n.op_type == 'Attention' for n in ordered)} Attention nodes")
