"""Fixtures for graph-level export patterns (issue 9, patterns 9, 10, 11, 13, 14) and a miniature
ONNX backend-test corpus for scripts/conformance.ts.

Where torch 1.13 cannot produce a pattern (int4 values, dynamo's torch.cond export, ONNX
local functions nested in control flow), the graph is built with the onnx 1.12 helper and its
goldens come from an equivalent eager PyTorch model with forward hooks.
"""

from __future__ import annotations

import os
import shutil
from collections import OrderedDict

import numpy as np
import onnx
import torch
import torch.nn as nn
from onnx import TensorProto, helper, numpy_helper

from make_fixtures import FIXTURES, maker, save_fixture, seed_everything, simple_kwargs, write_json


# --------------------------------------------------------------------------
# conformance-mini: a corpus in the backend-test layout (suite/case/model.onnx + test_data_set_0)
# --------------------------------------------------------------------------

def _tensor_info(name: str, elem_type: int, dims: list) -> onnx.ValueInfoProto:
    # Built by hand: onnx 1.12's helper does not know the newer element types (float8, int4).
    info = onnx.ValueInfoProto()
    info.name = name
    info.type.tensor_type.elem_type = elem_type
    for d in dims:
        info.type.tensor_type.shape.dim.add().dim_value = d
    return info


def _write_case(suite_dir: str, name: str, nodes, inputs, outputs, feeds, expected, opset=13, ir=8):
    folder = os.path.join(suite_dir, name)
    data = os.path.join(folder, "test_data_set_0")
    os.makedirs(data, exist_ok=True)
    graph = helper.make_graph(nodes, name, inputs, outputs)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = ir
    with open(os.path.join(folder, "model.onnx"), "wb") as f:
        f.write(model.SerializeToString())
    for prefix, tensors in (("input", feeds), ("output", expected)):
        for i, t in enumerate(tensors):
            with open(os.path.join(data, f"{prefix}_{i}.pb"), "wb") as f:
                f.write(t.SerializeToString())


def _bfloat16_tensor(name: str, values: np.ndarray) -> onnx.TensorProto:
    bits = (values.astype(np.float32).view(np.uint32) >> 16).astype(np.uint16)
    t = onnx.TensorProto()
    t.name = name
    t.data_type = TensorProto.BFLOAT16
    t.dims.extend(values.shape)
    t.raw_data = bits.tobytes()
    return t


@maker("conformance-mini")
def make_conformance_mini():
    suite = os.path.join(FIXTURES, "conformance-mini", "node")
    f32 = TensorProto.FLOAT
    x = np.array([1.0, -1.0, 0.0, 2.0], dtype=np.float32)
    zero = np.zeros(4, dtype=np.float32)
    # 1/0 and -1/0: ±inf in the expected output must compare equal (0/0 is NaN, also equal).
    _write_case(suite, "test_div_by_zero_inf",
                [helper.make_node("Div", ["x", "z"], ["y"])],
                [_tensor_info("x", f32, [4]), _tensor_info("z", f32, [4])], [_tensor_info("y", f32, [4])],
                [numpy_helper.from_array(x, "x"), numpy_helper.from_array(zero, "z")],
                [numpy_helper.from_array(np.array([np.inf, -np.inf, np.nan, np.inf], dtype=np.float32), "y")])
    # A bfloat16 feed: the JS API cannot create the tensor, so the case is not runnable here.
    _write_case(suite, "test_cast_BFLOAT16_to_FLOAT",
                [helper.make_node("Cast", ["x"], ["y"], to=f32)],
                [_tensor_info("x", TensorProto.BFLOAT16, [4])], [_tensor_info("y", f32, [4])],
                [_bfloat16_tensor("x", x)], [numpy_helper.from_array(x, "y")])
    # int4 (22) and float8e4m3fn (17) outputs: never fetched (int4 aborts onnxruntime-node).
    for elem, label in ((22, "INT4"), (17, "FLOAT8E4M3FN")):
        _write_case(suite, f"test_cast_FLOAT_to_{label}",
                    [helper.make_node("Cast", ["x"], ["y"], to=elem)],
                    [_tensor_info("x", f32, [4])], [_tensor_info("y", elem, [4])],
                    [numpy_helper.from_array(x, "x")], [numpy_helper.from_array(x, "y")], opset=21, ir=10)
    write_json(os.path.join(FIXTURES, "conformance-mini", "README.json"),
               {"notes": "hand-built with onnx 1.12 by scripts/fixtures_graphs.py; layout of onnx/backend/test/data"})


# --------------------------------------------------------------------------
# Hand-built graphs with TorchScript-style node names, goldens from an equivalent eager model
# --------------------------------------------------------------------------

def save_handmade(name: str, onnx_model: onnx.ModelProto, eager: nn.Module,
                  inputs: "OrderedDict[str, torch.Tensor]", output_names: list, notes: str):
    """Like save_fixture, for a graph torch 1.13 cannot export: model.onnx is ``onnx_model``, the
    goldens come from forward hooks on ``eager``, which computes what the graph computes."""
    from make_fixtures import module_table, record_hooks, save_npz, to_numpy, _shape
    folder = os.path.join(FIXTURES, name)
    os.makedirs(folder, exist_ok=True)
    onnx.checker.check_model(onnx_model) if onnx_model.ir_version <= 8 else None
    with open(os.path.join(folder, "model.onnx"), "wb") as f:
        f.write(onnx_model.SerializeToString())
    eager.eval()
    args = tuple(inputs.values())
    golden, golden_in, calls, result = record_hooks(eager, args)
    assert len(result) == len(output_names), (name, len(result), output_names)
    for i, r in enumerate(result):
        golden[f"__output__#{i}"] = to_numpy(r)
    save_npz(os.path.join(folder, "input.npz"), OrderedDict((k, to_numpy(v)) for k, v in inputs.items()))
    save_npz(os.path.join(folder, "golden.npz"), golden)
    save_npz(os.path.join(folder, "golden_inputs.npz"), golden_in)
    meta = OrderedDict()
    meta["modules"] = module_table(eager, calls)
    meta["inputs"] = list(inputs.keys())
    meta["outputs"] = list(output_names)
    meta["input_shapes"] = {k: _shape(to_numpy(v)) for k, v in inputs.items()}
    meta["output_shapes"] = {n: _shape(to_numpy(r)) for n, r in zip(output_names, result)}
    meta["torch"] = torch.__version__
    meta["export"] = {"exporter": "hand-built with onnx " + onnx.__version__}
    meta["notes"] = notes
    write_json(os.path.join(folder, "modules.json"), meta)
    print(f"{name}: {len(meta['modules'])} modules, {len(golden)} golden arrays")


def _init(name: str, array) -> onnx.TensorProto:
    return numpy_helper.from_array(np.asarray(array), name)


def _linear_inits(prefix: str, linear: nn.Linear) -> list:
    return [_init(f"{prefix}.weight", linear.weight.detach().numpy()),
            _init(f"{prefix}.bias", linear.bias.detach().numpy())]


class QuantInt4(nn.Module):
    """x / scale rounded half to even, clamped to int4's [-8, 7] (the graph then casts it to int4)."""

    def __init__(self, scale: float):
        super().__init__()
        self.scale = scale

    def forward(self, x):
        return torch.clamp(torch.round(x / self.scale), -8, 7)


class DequantInt4(nn.Module):
    def __init__(self, scale: float):
        super().__init__()
        self.scale = scale

    def forward(self, q):
        return q * self.scale


class Int4Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 6)
        self.quant = QuantInt4(0.25)
        self.dequant = DequantInt4(0.25)
        self.head = nn.Linear(6, 3)

    def forward(self, x):
        return self.head(self.dequant(self.quant(self.fc(x))))


@maker("int4-quant")
def make_int4_quant():
    """An int4 intermediate (a Cast to int4 of values already integral and in range, so the cast
    is exact): fetching it would abort onnxruntime-node, so `quant` and `in:dequant` are reported."""
    seed_everything(0)
    eager = Int4Net().eval()
    q = "/quant/Cast_output_0"
    nodes = [
        helper.make_node("Gemm", ["x", "fc.weight", "fc.bias"], ["/fc/Gemm_output_0"], name="/fc/Gemm", transB=1),
        helper.make_node("Div", ["/fc/Gemm_output_0", "onnx::Div_scale"], ["/quant/Div_output_0"], name="/quant/Div"),
        helper.make_node("Round", ["/quant/Div_output_0"], ["/quant/Round_output_0"], name="/quant/Round"),
        helper.make_node("Clip", ["/quant/Round_output_0", "onnx::Clip_min", "onnx::Clip_max"],
                         ["/quant/Clip_output_0"], name="/quant/Clip"),
        helper.make_node("Cast", ["/quant/Clip_output_0"], [q], name="/quant/Cast", to=22),  # INT4
        helper.make_node("Cast", [q], ["/dequant/Cast_output_0"], name="/dequant/Cast", to=TensorProto.FLOAT),
        helper.make_node("Mul", ["/dequant/Cast_output_0", "onnx::Div_scale"], ["/dequant/Mul_output_0"],
                         name="/dequant/Mul"),
        helper.make_node("Gemm", ["/dequant/Mul_output_0", "head.weight", "head.bias"], ["output"],
                         name="/head/Gemm", transB=1),
    ]
    inits = _linear_inits("fc", eager.fc) + _linear_inits("head", eager.head) + [
        _init("onnx::Div_scale", np.float32(0.25)), _init("onnx::Clip_min", np.float32(-8)),
        _init("onnx::Clip_max", np.float32(7))]
    graph = helper.make_graph(nodes, "int4", [_tensor_info("x", TensorProto.FLOAT, [2, 4])],
                              [_tensor_info("output", TensorProto.FLOAT, [2, 3])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 21)])
    model.ir_version = 10
    x = torch.randn(2, 4)
    save_handmade("int4-quant", model, eager, OrderedDict(x=x), ["output"],
                  "hand-built: an int4 Cast between two float modules (opset 21); goldens from Int4Net")


class ScaledByScalar(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 3)
        self.act = nn.Tanh()

    def forward(self, x, gain):
        return self.act(self.fc(x) * gain)


@maker("scalar-input")
def make_scalar_input():
    """A 0-d input (a gain, like a sample rate): its declared shape is [], not unknown."""
    seed_everything(0)
    model = ScaledByScalar().eval()
    x = torch.randn(2, 4)
    gain = torch.tensor(0.5)
    kwargs = {"input_names": ["x", "gain"], "output_names": ["output"],
              "dynamic_axes": {"x": {0: "batch"}, "output": {0: "batch"}}}
    save_fixture("scalar-input", model, OrderedDict(x=x, gain=gain), kwargs,
                 notes="TorchScript export with a scalar (0-d) input 'gain'")


class LoopBranch(nn.Module):
    """An If inside a Loop (torch.jit.script): `step_a` runs on even iterations, `step_b` on odd
    ones, so each branch's values exist only in some iterations. With steps=3: step_a:1, step_a:2,
    step_b once; `shared` is called in both branches, interleaved (shared:1 in iteration 0 ...)."""

    def __init__(self):
        super().__init__()
        self.step_a = nn.Linear(4, 4)
        self.step_b = nn.Linear(4, 4)
        self.shared = nn.Tanh()
        self.head = nn.Linear(4, 2)

    def forward(self, x, steps):
        for i in range(int(steps)):
            if i % 2 == 0:
                x = self.shared(self.step_a(x))
            else:
                x = self.shared(self.step_b(x)) * 2.0
        return self.head(x)


@maker("loop-branch")
def make_loop_branch():
    seed_everything(0)
    model = LoopBranch().eval()
    x = torch.randn(2, 4)
    steps = torch.tensor(3)
    kwargs = {"input_names": ["x", "steps"], "output_names": ["output"],
              "dynamic_axes": {"x": {0: "batch"}, "output": {0: "batch"}}}
    save_fixture("loop-branch", model, OrderedDict(x=x, steps=steps), kwargs,
                 notes="torch.jit.script: an If inside a Loop body (step_a on even, step_b on odd iterations)",
                 export_model=torch.jit.script(model))


# --------------------------------------------------------------------------
# Modules exported as ONNX local functions (export_modules_as_functions, opset >= 15)
# --------------------------------------------------------------------------

class FnBlock(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 4)

    def forward(self, x):
        return torch.relu(self.fc(x))


class FnBlock2(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(4, 4)
        self.fc2 = nn.Linear(4, 4)

    def forward(self, x):
        return self.fc2(torch.tanh(self.fc1(x))) + x


class FunctionsNet(nn.Module):
    """b1 (called twice) and b2 are exported as local functions; every module has parameters, the
    evidence that names a function call (parameterless modules inside a function leave none)."""

    def __init__(self):
        super().__init__()
        self.b1 = FnBlock()
        self.b2 = FnBlock2()
        self.head = nn.Linear(4, 2)

    def forward(self, x):
        return self.head(self.b2(self.b1(self.b1(x))))


def _functions_fixture(name: str, which, notes: str):
    seed_everything(0)
    model = FunctionsNet().eval()
    kwargs = simple_kwargs()
    kwargs["opset_version"] = 15
    kwargs["export_modules_as_functions"] = which
    save_fixture(name, model, OrderedDict(x=torch.randn(2, 4)), kwargs, notes=notes)


@maker("local-functions")
def make_local_functions():
    _functions_fixture("local-functions", {FnBlock, FnBlock2},
                       "export_modules_as_functions={FnBlock, FnBlock2}: b1 (twice) and b2 are function calls")


@maker("local-functions-all")
def make_local_functions_all():
    _functions_fixture("local-functions-all", True,
                       "export_modules_as_functions=True: every module, the root included, is a function")


# --------------------------------------------------------------------------
# Dynamo export of torch.cond: the whole network inside an If whose branch nodes carry no name_scopes
# --------------------------------------------------------------------------

class CondNet(nn.Module):
    """The eager twin of `torch.cond(x.sum() > 0, pos, neg, (x,))`: torch 1.13 has no torch.cond."""

    def __init__(self):
        super().__init__()
        self.encoder = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 8))
        self.head_pos = nn.Linear(8, 2)
        self.head_neg = nn.Linear(8, 2)

    def forward(self, x):
        if bool(x.sum() > 0):
            return self.head_pos(self.encoder(x))
        return self.head_neg(self.encoder(x) * -1.0)


def _proto_field(number: int, payload: bytes) -> bytes:
    """A length-delimited protobuf field (wire type 2)."""
    def varint(n: int) -> bytes:
        out = b""
        while True:
            low, n = n & 0x7F, n >> 7
            out += bytes([low | (0x80 if n else 0)])
            if not n:
                return out
    return varint(number << 3 | 2) + varint(len(payload)) + payload


def _dynamo_meta(node: onnx.NodeProto, scopes: list, classes: list) -> onnx.NodeProto:
    """The dynamo exporter's node metadata (NodeProto.metadata_props, field 9, onnx >= 1.16), as
    Python list reprs (what src/modules/scopes.ts reads). onnx 1.12 lacks the field, so it is
    written as raw protobuf bytes, which the parsed node keeps as an unknown field."""
    extra = b""
    for k, v in (("pkg.torch.onnx.name_scopes", repr(scopes)), ("pkg.torch.onnx.class_hierarchy", repr(classes))):
        extra += _proto_field(9, _proto_field(1, k.encode()) + _proto_field(2, v.encode()))
    return onnx.NodeProto.FromString(node.SerializeToString() + extra)


def _gemm(a: str, prefix: str, out: str, n: int) -> onnx.NodeProto:
    return helper.make_node("Gemm", [a, f"{prefix}.weight", f"{prefix}.bias"], [out], name=f"node_Gemm_{n}", transB=1)


@maker("dynamo-cond")
def make_dynamo_cond():
    """Mimics torch >= 2.5's dynamo exporter on torch.cond (after its optimizer inlined the branch
    functions): top-level nodes carry name_scopes/class_hierarchy metadata, the If's branch nodes
    none, parameters keep their names (encoder.0.weight). Names must come from the parameters."""
    seed_everything(0)
    eager = CondNet().eval()
    f32 = TensorProto.FLOAT
    then_nodes = [
        _gemm("x", "encoder.0", "linear", 0),
        helper.make_node("Relu", ["linear"], ["relu"], name="node_Relu_1"),
        _gemm("relu", "encoder.2", "linear_1", 2),
        _gemm("linear_1", "head_pos", "linear_2", 3),
    ]
    else_nodes = [
        _gemm("x", "encoder.0", "linear_3", 4),
        helper.make_node("Relu", ["linear_3"], ["relu_1"], name="node_Relu_5"),
        _gemm("relu_1", "encoder.2", "linear_4", 6),
        helper.make_node("Mul", ["linear_4", "scalar_tensor_default"], ["mul"], name="node_Mul_7"),
        _gemm("mul", "head_neg", "linear_5", 8),
    ]
    then_g = helper.make_graph(then_nodes, "true_graph_0", [], [_tensor_info("linear_2", f32, [2, 2])])
    else_g = helper.make_graph(else_nodes, "false_graph_0", [], [_tensor_info("linear_5", f32, [2, 2])])
    root = "__main__.CondNet"
    nodes = [
        _dynamo_meta(helper.make_node("ReduceSum", ["x"], ["sum_1"], name="node_ReduceSum_9", keepdims=0),
                     ["", "sum_1"], [root, "aten.sum.default"]),
        _dynamo_meta(helper.make_node("Greater", ["sum_1", "scalar_tensor_zero"], ["gt"], name="node_Greater_10"),
                     ["", "gt"], [root, "aten.gt.Scalar"]),
        _dynamo_meta(helper.make_node("If", ["gt"], ["getitem"], name="node_If_11",
                                      then_branch=then_g, else_branch=else_g),
                     ["", "cond"], [root, "torch.ops.higher_order.cond"]),
    ]
    inits = [_init("scalar_tensor_zero", np.float32(0)), _init("scalar_tensor_default", np.float32(-1))]
    for prefix in ("encoder.0", "encoder.2", "head_pos", "head_neg"):
        inits += _linear_inits(prefix, eager.get_submodule(prefix))
    graph = helper.make_graph(nodes, "main_graph", [_tensor_info("x", f32, [2, 4])], [_tensor_info("getitem", f32, [2, 2])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)], producer_name="pytorch")
    model.ir_version = 8
    x = torch.randn(2, 4).abs()  # positive sum: the then branch (head_pos) runs
    save_handmade("dynamo-cond", model, eager, OrderedDict(x=x), ["getitem"],
                  "hand-built like the dynamo exporter's torch.cond graph; goldens from the eager CondNet")


def _as_function(name: str, nodes: list, outer_inputs: list, output: str):
    """A dynamo-style torch.cond branch function: outer values become formal inputs (`arg_*`)."""
    formal = {v: f"arg_{i}" for i, v in enumerate(outer_inputs)}
    body = []
    for n in nodes:
        copy = onnx.NodeProto()
        copy.CopyFrom(n)
        del copy.input[:]
        copy.input.extend(formal.get(v, v) for v in n.input)
        body.append(copy)
    fn = helper.make_function("pkg.torch.__subgraph__", name, [formal[v] for v in outer_inputs], [output], body,
                              [helper.make_opsetid("", 18)])
    call = helper.make_node(name, outer_inputs, [f"{output}_out"], name=f"node_{name}", domain="pkg.torch.__subgraph__")
    return fn, call


@maker("dynamo-cond-functions")
def make_dynamo_cond_functions():
    """dynamo-cond as the exporter writes it before inlining: each If branch calls a local function
    in domain pkg.torch.__subgraph__ that receives x and the weights as inputs."""
    make_dynamo_cond()
    folder = os.path.join(FIXTURES, "dynamo-cond")
    model = onnx.load(os.path.join(folder, "model.onnx"))
    cond = model.graph.node[2]
    functions = []
    for attr in cond.attribute:
        branch = attr.g
        outer = []
        produced = {o for n in branch.node for o in n.output}
        for n in branch.node:
            outer += [v for v in n.input if v not in produced and v not in outer]
        fn, call = _as_function(branch.name, list(branch.node), outer, branch.output[0].name)
        functions.append(fn)
        out = branch.output[0]
        out.name = call.output[0]
        del branch.node[:]
        branch.node.append(call)
    model.functions.extend(functions)
    model.opset_import.append(helper.make_opsetid("pkg.torch.__subgraph__", 1))
    target = os.path.join(FIXTURES, "dynamo-cond-functions")
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(folder, target)
    with open(os.path.join(target, "model.onnx"), "wb") as f:
        f.write(model.SerializeToString())
    meta_path = os.path.join(target, "modules.json")
    import json
    with open(meta_path) as f:
        meta = json.load(f)
    meta["notes"] = "dynamo-cond with each branch a pkg.torch.__subgraph__ local function (the exporter's form before inlining)"
    write_json(meta_path, meta)
    print("dynamo-cond-functions: copy of dynamo-cond's goldens, branches as functions")


class SeqBlock(nn.Module):
    def __init__(self):
        super().__init__()
        self.seq = nn.Sequential(nn.Linear(4, 4), nn.ReLU(), nn.Linear(4, 4))

    def forward(self, x):
        return self.seq(x) + x


class NestedFunctionsNet(nn.Module):
    """b1 (a SeqBlock, exported as a function) holds exactly the parameters of its child b1.seq, so
    the export cannot tell which of the call's nodes are b1's and which b1.seq's (b1.seq is
    reported ambiguous); b1.seq.1 (a ReLU) leaves no name (reported); the rest is observable."""

    def __init__(self):
        super().__init__()
        self.b1 = SeqBlock()
        self.head = nn.Linear(4, 2)

    def forward(self, x):
        return self.head(self.b1(x))


@maker("local-functions-nested")
def make_local_functions_nested():
    seed_everything(0)
    model = NestedFunctionsNet().eval()
    kwargs = simple_kwargs()
    kwargs["opset_version"] = 15
    kwargs["export_modules_as_functions"] = {SeqBlock}
    save_fixture("local-functions-nested", model, OrderedDict(x=torch.randn(2, 4)), kwargs,
                 notes="export_modules_as_functions={SeqBlock}: a function call wrapping a Sequential")


class WrapperBlock(nn.Module):
    def __init__(self):
        super().__init__()
        self.seq = nn.Sequential(nn.Linear(4, 4), nn.ReLU(), nn.Linear(4, 4))

    def forward(self, x):
        return self.seq(x)


class WrapperNet(nn.Module):
    """b1 (a function) only calls b1.seq: nothing in the export tells the two apart, so the call is
    b1's and b1.seq is reported ambiguous."""

    def __init__(self):
        super().__init__()
        self.b1 = WrapperBlock()
        self.head = nn.Linear(4, 2)

    def forward(self, x):
        return self.head(self.b1(x))


@maker("local-functions-wrapper")
def make_local_functions_wrapper():
    seed_everything(0)
    model = WrapperNet().eval()
    kwargs = simple_kwargs()
    kwargs["opset_version"] = 15
    kwargs["export_modules_as_functions"] = {WrapperBlock}
    save_fixture("local-functions-wrapper", model, OrderedDict(x=torch.randn(2, 4)), kwargs,
                 notes="export_modules_as_functions={WrapperBlock}: a function call that only wraps a Sequential")
