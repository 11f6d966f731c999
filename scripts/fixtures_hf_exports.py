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


# --------------------------------------------------------------------------
# onnxruntime-genai model builder layout, 4-bit weights (MatMulNBits)
# --------------------------------------------------------------------------

BLOCK = 16


def q4_weight(rng, k: int, n: int):
    """A [k, n] weight exactly representable in 4 bits per block of 16 along k, and its MatMulNBits
    initializers: B [n, k/16, 8] uint8 (two values a byte, low nibble first), scales [n * k/16]."""
    q = rng.integers(0, 16, size=(n, k // BLOCK, BLOCK)).astype(np.uint8)
    scales = (rng.random((n, k // BLOCK)).astype(np.float32) * 0.05 + 0.01).astype(np.float32)
    weight = ((q.astype(np.float32) - 8) * scales[:, :, None]).reshape(n, k).T.copy()
    packed = (q[:, :, 0::2] | (q[:, :, 1::2] << 4)).astype(np.uint8)
    return weight, packed, scales.reshape(-1)


@maker("builder-q4")
def make_builder_q4():
    """A one-layer Llama-style decoder as onnxruntime-genai's model builder writes it: node names
    `/model/layers.0/attn/q_proj/MatMul`, MatMulNBits 4-bit weights named `...q_proj.MatMul.weight_Q4`,
    GroupQueryAttention with a KV cache, SimplifiedLayerNormalization / SkipSimplifiedLayerNormalization,
    the final norm as `/model/layers.1/final_norm_layernorm`. Built by hand (no exporter writes it
    here); `reference.npz` holds the float weights the 4-bit ones stand for."""
    rng = np.random.default_rng(0)
    hidden, inter, vocab, heads, head = 16, 32, 48, 2, 8
    inits, nodes, reference = [], [], OrderedDict()
    ms = "com.microsoft"

    def init(name, array):
        inits.append(numpy_helper.from_array(array, name))
        return name

    def linear(path, x, k, n, out):
        prefix = path.replace("/", ".").strip(".") + ".MatMul"
        weight, packed, scales = q4_weight(rng, k, n)
        reference[path.strip("/").replace("/", ".")] = weight
        nodes.append(helper.make_node(
            "MatMulNBits", [x, init(f"{prefix}.weight_Q4", packed), init(f"{prefix}.weight_scales", scales)],
            [out], name=f"{path}/MatMul", domain=ms, K=k, N=n, bits=4, block_size=BLOCK))
        return out

    def ones(name, n):
        return init(name, (1 + 0.1 * rng.standard_normal(n)).astype(np.float32))

    nodes.append(helper.make_node("Gather", [init("model.embed_tokens.weight", rng.standard_normal((vocab, hidden)).astype(np.float32)), "input_ids"], ["/model/embed_tokens/Gather/output_0"], name="/model/embed_tokens/Gather"))
    # The attention mask as GroupQueryAttention takes it: per-row lengths - 1, and the total length.
    nodes += [
        helper.make_node("ReduceSum", ["attention_mask", init("/model/attn_mask_reformat/one", np.array([1], np.int64))], ["/model/attn_mask_reformat/ReduceSum/output_0"], name="/model/attn_mask_reformat/attn_mask_subgraph/ReduceSum", keepdims=0),
        helper.make_node("Sub", ["/model/attn_mask_reformat/ReduceSum/output_0", init("/model/attn_mask_reformat/one_i64", np.array(1, np.int64))], ["/model/attn_mask_reformat/Sub/output_0"], name="/model/attn_mask_reformat/attn_mask_subgraph/Sub"),
        helper.make_node("Cast", ["/model/attn_mask_reformat/Sub/output_0"], ["/model/attn_mask_reformat/seqlens_k"], name="/model/attn_mask_reformat/attn_mask_subgraph/Sub/Cast", to=TensorProto.INT32),
        helper.make_node("Shape", ["attention_mask"], ["/model/attn_mask_reformat/Shape/output_0"], name="/model/attn_mask_reformat/attn_mask_subgraph/Shape"),
        helper.make_node("Gather", ["/model/attn_mask_reformat/Shape/output_0", init("/model/attn_mask_reformat/idx", np.array(1, np.int64))], ["/model/attn_mask_reformat/Gather/output_0"], name="/model/attn_mask_reformat/attn_mask_subgraph/Gather", axis=0),
        helper.make_node("Cast", ["/model/attn_mask_reformat/Gather/output_0"], ["/model/attn_mask_reformat/total_seq_len"], name="/model/attn_mask_reformat/attn_mask_subgraph/Gather/Cast", to=TensorProto.INT32),
    ]
    emb = "/model/embed_tokens/Gather/output_0"
    nodes.append(helper.make_node("SimplifiedLayerNormalization", [emb, ones("model.layers.0.input_layernorm.weight", hidden)], ["/model/layers.0/input_layernorm/output_0"], name="/model/layers.0/input_layernorm/LayerNorm", epsilon=1e-6, axis=-1))
    x = "/model/layers.0/input_layernorm/output_0"
    q = linear("/model/layers.0/attn/q_proj", x, hidden, hidden, "/model/layers.0/attn/q_proj/MatMul/output_0")
    k = linear("/model/layers.0/attn/k_proj", x, hidden, hidden, "/model/layers.0/attn/k_proj/MatMul/output_0")
    v = linear("/model/layers.0/attn/v_proj", x, hidden, hidden, "/model/layers.0/attn/v_proj/MatMul/output_0")
    nodes.append(helper.make_node("GroupQueryAttention", [q, k, v, "past_key_values.0.key", "past_key_values.0.value", "/model/attn_mask_reformat/seqlens_k", "/model/attn_mask_reformat/total_seq_len"], ["/model/layers.0/attn/GroupQueryAttention/output_0", "present.0.key", "present.0.value"], name="/model/layers.0/attn/GroupQueryAttention", domain=ms, num_heads=heads, kv_num_heads=heads))
    o = linear("/model/layers.0/attn/o_proj", "/model/layers.0/attn/GroupQueryAttention/output_0", hidden, hidden, "/model/layers.0/attn/o_proj/MatMul/output_0")
    nodes.append(helper.make_node("SkipSimplifiedLayerNormalization", [emb, o, ones("model.layers.0.post_attention_layernorm.weight", hidden)], ["/model/layers.0/post_attention_layernorm/output_0", "", "", "/model/layers.0/post_attention_layernorm/output_3"], name="/model/layers.0/post_attention_layernorm/SkipLayerNorm", domain=ms, epsilon=1e-6))
    h = "/model/layers.0/post_attention_layernorm/output_0"
    gate = linear("/model/layers.0/mlp/gate_proj", h, hidden, inter, "/model/layers.0/mlp/gate_proj/MatMul/output_0")
    up = linear("/model/layers.0/mlp/up_proj", h, hidden, inter, "/model/layers.0/mlp/up_proj/MatMul/output_0")
    nodes += [
        helper.make_node("Sigmoid", [gate], ["/model/layers.0/mlp/act_fn/Sigmoid/output_0"], name="/model/layers.0/mlp/act_fn/Sigmoid"),
        helper.make_node("Mul", [gate, "/model/layers.0/mlp/act_fn/Sigmoid/output_0"], ["/model/layers.0/mlp/act_fn/Mul/output_0"], name="/model/layers.0/mlp/act_fn/Mul"),
        helper.make_node("Mul", ["/model/layers.0/mlp/act_fn/Mul/output_0", up], ["/model/layers.0/mlp/Mul/output_0"], name="/model/layers.0/mlp/Mul"),
    ]
    down = linear("/model/layers.0/mlp/down_proj", "/model/layers.0/mlp/Mul/output_0", inter, hidden, "/model/layers.0/mlp/down_proj/MatMul/output_0")
    nodes.append(helper.make_node("SkipSimplifiedLayerNormalization", [down, "/model/layers.0/post_attention_layernorm/output_3", ones("model.layers.1.final_norm_layernorm.weight", hidden)], ["/model/layers.1/final_norm_layernorm/output_0"], name="/model/layers.1/final_norm_layernorm/SkipLayerNorm", domain=ms, epsilon=1e-6))
    linear("/lm_head", "/model/layers.1/final_norm_layernorm/output_0", hidden, vocab, "logits")

    past = lambda n: helper.make_tensor_value_info(n, TensorProto.FLOAT, ["batch_size", heads, "past_sequence_length", head])
    present = lambda n: helper.make_tensor_value_info(n, TensorProto.FLOAT, ["batch_size", heads, "total_sequence_length", head])
    graph = helper.make_graph(
        nodes, "main_graph",
        [helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch_size", "sequence_length"]),
         helper.make_tensor_value_info("attention_mask", TensorProto.INT64, ["batch_size", "total_sequence_length"]),
         past("past_key_values.0.key"), past("past_key_values.0.value")],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch_size", "sequence_length", vocab]),
         present("present.0.key"), present("present.0.value")],
        inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid(ms, 1)], producer_name="onnxruntime-genai (layout, hand-built)")
    model.ir_version = 8
    folder = os.path.join(FIXTURES, "builder-q4")
    os.makedirs(folder, exist_ok=True)
    onnx.save(model, os.path.join(folder, "model.onnx"))
    save_npz(os.path.join(folder, "reference.npz"), reference)
    print(f"builder-q4: {len(nodes)} nodes, {len(reference)} 4-bit weights")


OPTIMIZE_JS = """
const ort = require(process.argv[1]);
ort.InferenceSession.create(process.argv[2], {
  graphOptimizationLevel: 'all', executionProviders: ['cpu'], optimizedModelFilePath: process.argv[3],
}).then(() => process.exit(0), (e) => { console.error(e); process.exit(1); });
"""


@maker("ort-decoder")
def make_ort_decoder():
    """The tiny decoder (no cache) exported with static shapes, then optimised by onnxruntime-node
    at level 'all' (its LayerNorm, SkipLayerNorm, BiasGelu, MatMulAdd, Reshape fusions and constant
    folding): every key must still equal PyTorch's or be reported."""
    import subprocess

    seed_everything(1)
    model = Decoder().eval()
    folder = os.path.join(FIXTURES, "ort-decoder")
    os.makedirs(folder, exist_ok=True)
    ids = torch.tensor([[3, 17, 5, 9], [1, 2, 30, 4]])
    plain = os.path.join(folder, "plain.onnx")
    torch.onnx.export(model, (ids,), plain, input_names=["input_ids"], output_names=OUTPUTS, opset_version=14)
    ort = os.path.join(os.path.dirname(FIXTURES), "node_modules", "onnxruntime-node")
    subprocess.run(["node", "-e", OPTIMIZE_JS, ort, plain, os.path.join(folder, "model.onnx")], check=True)
    os.remove(plain)
    golden, golden_inputs, calls, result = record_hooks(model, (ids,))
    for i, r in enumerate(result):
        golden[f"__output__#{i}"] = to_numpy(r)
    save_npz(os.path.join(folder, "golden.npz"), golden)
    save_npz(os.path.join(folder, "golden_inputs.npz"), golden_inputs)
    save_npz(os.path.join(folder, "input.npz"), OrderedDict(input_ids=to_numpy(ids)))
    meta = OrderedDict(modules=module_table(model, calls), inputs=["input_ids"], outputs=OUTPUTS, torch=torch.__version__)
    meta["notes"] = "TorchScript export, static shapes, optimised by onnxruntime-node (graphOptimizationLevel 'all')"
    write_json(os.path.join(folder, "modules.json"), meta)
    print(f"ort-decoder: {len(meta['modules'])} modules, {len(golden)} golden arrays")
