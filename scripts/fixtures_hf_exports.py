"""Files shaped like the Hugging Face exports JavaScript users run, built from a tiny torch decoder.

``merged-decoder``: optimum's ``decoder_model_merged.onnx`` layout. The decoder is exported twice
with the TorchScript exporter (without and with a KV cache) and the two graphs become the branches of
one ``If`` on the boolean input ``use_cache_branch``, initializers shared in the main graph, as
optimum's ``merge_decoders`` does. The goldens are the torch model's hook outputs for the cached call
(``use_cache_branch`` true, a past of 2 tokens); ``input.npz`` feeds exactly that.
"""

from __future__ import annotations

import os
from collections import OrderedDict

import numpy as np
import onnx
import torch
import torch.nn as nn
from onnx import helper, numpy_helper, TensorProto

from make_fixtures import FIXTURES, maker, module_table, record_hooks, save_npz, seed_everything, to_numpy, write_json

HIDDEN, HEADS, VOCAB = 16, 2, 40


class SelfAttention(nn.Module):
    def __init__(self):
        super().__init__()
        self.q_proj = nn.Linear(HIDDEN, HIDDEN)
        self.k_proj = nn.Linear(HIDDEN, HIDDEN)
        self.v_proj = nn.Linear(HIDDEN, HIDDEN)
        self.o_proj = nn.Linear(HIDDEN, HIDDEN)

    def forward(self, x, past_k=None, past_v=None):
        b, t, _ = x.shape
        split = lambda y: y.view(b, t, HEADS, HIDDEN // HEADS).transpose(1, 2)
        q, k, v = split(self.q_proj(x)), split(self.k_proj(x)), split(self.v_proj(x))
        if past_k is not None:
            k = torch.cat([past_k, k], dim=2)
            v = torch.cat([past_v, v], dim=2)
        scores = q @ k.transpose(-1, -2) / (HIDDEN // HEADS) ** 0.5
        # Causal over the new tokens, every past token visible.
        past = k.shape[2] - t
        mask = torch.ones(t, k.shape[2], dtype=torch.bool).tril(diagonal=past)
        scores = scores.masked_fill(~mask, float("-inf"))
        out = (scores.softmax(-1) @ v).transpose(1, 2).reshape(b, t, HIDDEN)
        return self.o_proj(out), k, v


class Layer(nn.Module):
    def __init__(self):
        super().__init__()
        self.input_layernorm = nn.LayerNorm(HIDDEN)
        self.self_attn = SelfAttention()
        self.post_attention_layernorm = nn.LayerNorm(HIDDEN)
        self.mlp = nn.Sequential(OrderedDict(fc=nn.Linear(HIDDEN, 2 * HIDDEN), act=nn.GELU(), proj=nn.Linear(2 * HIDDEN, HIDDEN)))

    def forward(self, x, past_k=None, past_v=None):
        attn, k, v = self.self_attn(self.input_layernorm(x), past_k, past_v)
        x = x + attn
        return x + self.mlp(self.post_attention_layernorm(x)), k, v


class Decoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed_tokens = nn.Embedding(VOCAB, HIDDEN)
        self.layers = nn.ModuleList([Layer()])
        self.norm = nn.LayerNorm(HIDDEN)
        self.lm_head = nn.Linear(HIDDEN, VOCAB, bias=False)

    def forward(self, input_ids, past_k=None, past_v=None):
        x, k, v = self.layers[0](self.embed_tokens(input_ids), past_k, past_v)
        return self.lm_head(self.norm(x)), k, v


OUTPUTS = ["logits", "present.0.key", "present.0.value"]
PAST = ["past_key_values.0.key", "past_key_values.0.value"]


def export(model, args, names, path):
    axes = {"input_ids": {0: "batch_size", 1: "sequence_length"}, "logits": {0: "batch_size", 1: "sequence_length"}}
    for n in PAST:
        axes[n] = {0: "batch_size", 2: "past_sequence_length"}
    for n in OUTPUTS[1:]:
        axes[n] = {0: "batch_size", 2: "past_sequence_length + 1"}
    torch.onnx.export(model, args, path, input_names=names, output_names=OUTPUTS, dynamic_axes=axes, opset_version=14)
    return onnx.load(path)


def as_branch(graph: onnx.GraphProto, name: str, shared: dict) -> onnx.GraphProto:
    """The graph as a subgraph: no inputs (read from the main graph), its weights moved to `shared`."""
    branch = helper.make_graph(list(graph.node), name, [], list(graph.output))
    renames = {}
    for init in graph.initializer:
        array = numpy_helper.to_array(init)
        key = init.name
        if key in shared and not np.array_equal(numpy_helper.to_array(shared[key]), array):
            key = f"{name}::{init.name}"
            renames[init.name] = key
        shared[key] = numpy_helper.from_array(array, key)
    for node in branch.node:
        node.input[:] = [renames.get(i, i) for i in node.input]
    return branch


@maker("merged-decoder")
def make_merged_decoder():
    seed_everything(0)
    model = Decoder().eval()
    folder = os.path.join(FIXTURES, "merged-decoder")
    os.makedirs(folder, exist_ok=True)
    ids = torch.tensor([[3, 17, 5]])
    past = [torch.randn(1, HEADS, 2, HIDDEN // HEADS) for _ in PAST]
    tmp = os.path.join(folder, "tmp.onnx")
    with_past = export(model, (ids, *past), ["input_ids", *PAST], tmp)
    without = export(model, (ids,), ["input_ids"], tmp)
    os.remove(tmp)
    shared: dict = {}
    then_branch = as_branch(with_past.graph, "with_past", shared)
    else_branch = as_branch(without.graph, "without_past", shared)
    inputs = list(with_past.graph.input) + [helper.make_tensor_value_info("use_cache_branch", TensorProto.BOOL, [1])]
    node = helper.make_node("If", ["use_cache_branch"], OUTPUTS, name="optimum::if", then_branch=then_branch, else_branch=else_branch)
    graph = helper.make_graph([node], "merged", inputs, list(with_past.graph.output), list(shared.values()))
    merged = helper.make_model(graph, opset_imports=with_past.opset_import, producer_name="pytorch + optimum-style merge")
    onnx.checker.check_model(merged)
    onnx.save(merged, os.path.join(folder, "model.onnx"))

    record = lambda *args: record_hooks(model, args)
    golden, golden_inputs, calls, result = record(ids, *past)
    for i, r in enumerate(result):
        golden[f"__output__#{i}"] = to_numpy(r)
    save_npz(os.path.join(folder, "golden.npz"), golden)
    save_npz(os.path.join(folder, "golden_inputs.npz"), golden_inputs)
    feeds = OrderedDict(input_ids=to_numpy(ids))
    for n, p in zip(PAST, past):
        feeds[n] = to_numpy(p)
    feeds["use_cache_branch"] = np.array([True])
    save_npz(os.path.join(folder, "input.npz"), feeds)
    meta = OrderedDict(modules=module_table(model, calls), inputs=list(feeds), outputs=OUTPUTS, torch=torch.__version__)
    meta["notes"] = "optimum-style merged decoder: If(use_cache_branch), then = export with past, else = without"
    write_json(os.path.join(folder, "modules.json"), meta)
    print(f"merged-decoder: {len(meta['modules'])} modules, {len(golden)} golden arrays")
