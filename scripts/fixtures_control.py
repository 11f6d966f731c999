"""Fixtures for control flow (issue 9, patterns 10 and 11): scripted loops and branches, an If in a
Scan body (hand-built: PyTorch never emits Scan).

    /usr/bin/python3 scripts/make_fixtures.py loop-nested scan-branch
"""

from __future__ import annotations

import os
from collections import OrderedDict

import numpy as np
import onnx
import torch
import torch.nn as nn
from onnx import TensorProto, helper, numpy_helper

from make_fixtures import FIXTURES, maker, save_fixture, seed_everything


class LoopNested(nn.Module):
    """Two nested loops (torch.jit.script) with branches:
    - `f` is called in the outer body before the inner loop and in the inner body: PyTorch numbers
      its calls in execution order, interleaving the two depths;
    - `even` / `odd` sit in an If inside the inner loop: their inputs are computed outside the If
      and exist in every iteration, but each module was called only where its branch ran;
    - `a` / `b` / `c` form a state machine (`if … elif … else`): `b` and `c` sit in an If nested in
      the other If's else branch, whose condition exists only in the iterations reaching it."""

    def __init__(self):
        super().__init__()
        self.f = nn.Linear(4, 4)
        self.even = nn.Linear(4, 4)
        self.odd = nn.Linear(4, 4)
        self.a = nn.Linear(4, 4)
        self.b = nn.Linear(4, 4)
        self.c = nn.Linear(4, 4)
        self.head = nn.Linear(4, 2)

    def forward(self, x, n, m):
        state = 0
        for i in range(int(n)):
            x = self.f(x) * 0.5
            for j in range(int(m)):
                if (i + j) % 2 == 0:
                    x = torch.tanh(self.even(x))
                else:
                    x = torch.sigmoid(self.odd(x))
                x = self.f(x)
            if state == 0:
                x = self.a(x)
                state = 1
            elif state == 1:
                x = torch.relu(self.b(x))
                state = 2
            else:
                x = self.c(x)
                state = 0
        return self.head(x)


@maker("loop-nested")
def make_loop_nested():
    seed_everything(0)
    model = LoopNested().eval()
    inputs = OrderedDict(x=torch.randn(2, 4), n=torch.tensor(4), m=torch.tensor(2))
    kwargs = {"output_names": ["output"], "dynamic_axes": {"x": {0: "batch"}, "output": {0: "batch"}}}
    save_fixture("loop-nested", model, inputs, kwargs,
                 notes="torch.jit.script: a Loop in a Loop with If branches in both bodies, a nested If "
                       "(elif), a module called at two loop depths",
                 export_model=torch.jit.script(model))


# --------------------------------------------------------------------------
# scan-branch: an If inside a Scan body (hand-built; PyTorch exports no Scan, other converters do)
# --------------------------------------------------------------------------

STEPS = 5


class ScanBranch(nn.Module):
    """What the hand-built Scan computes, step by step: the state `h` and slice `x_t` of `xs`
    (forward) and `g_t` of `gs` (reverse direction) go through `proj`, then an If on the sign of
    the sum picks `pos` (ReLU) or `neg` (tanh); the scan output `2 h` is accumulated in reverse."""

    def __init__(self):
        super().__init__()
        self.proj = nn.Linear(4, 4)
        self.pos = nn.Linear(4, 4)
        self.neg = nn.Linear(4, 4)

    def forward(self, h, xs, gs):
        ys = []
        for t in range(xs.shape[0]):
            z = self.proj(h + xs[t]) * gs[xs.shape[0] - 1 - t]
            h = torch.relu(self.pos(z)) if bool(z.sum() > 0) else torch.tanh(self.neg(z))
            ys.append(h * 2.0)
        return h, torch.stack(ys[::-1])


def _scan_branch_numpy(eager, h, xs, gs):
    """The same recurrence in numpy (an independent check of the eager twin)."""
    p = {k: v.detach().numpy().astype(np.float64) for k, v in eager.state_dict().items()}
    lin = lambda name, v: v @ p[f"{name}.weight"].T + p[f"{name}.bias"]  # noqa: E731
    h, ys, branches = h.astype(np.float64), [], []
    for t in range(xs.shape[0]):
        z = lin("proj", h + xs[t]) * gs[xs.shape[0] - 1 - t]
        branches.append(bool(z.sum() > 0))
        h = np.maximum(lin("pos", z), 0) if branches[-1] else np.tanh(lin("neg", z))
        ys.append(h * 2.0)
    return h, np.stack(ys[::-1]), branches


def _scan_branch_graph(eager) -> onnx.ModelProto:
    f = TensorProto.FLOAT
    vi = lambda name, shape: helper.make_tensor_value_info(name, f, shape)  # noqa: E731
    gemm = lambda mod, x, out: helper.make_node(  # noqa: E731
        "Gemm", [x, f"{mod}.weight", f"{mod}.bias"], [out], name=f"/{mod}/Gemm", transB=1)
    then_branch = helper.make_graph(
        [gemm("pos", "z", "/pos/Gemm_output_0"), helper.make_node("Relu", ["/pos/Gemm_output_0"], ["h_pos"], name="/Relu")],
        "then", [], [vi("h_pos", [2, 4])])
    else_branch = helper.make_graph(
        [gemm("neg", "z", "/neg/Gemm_output_0"), helper.make_node("Tanh", ["/neg/Gemm_output_0"], ["h_neg"], name="/Tanh")],
        "else", [], [vi("h_neg", [2, 4])])
    two = numpy_helper.from_array(np.array(2.0, np.float32), "two")
    zero = numpy_helper.from_array(np.array(0.0, np.float32), "zero")
    body = helper.make_graph(
        [
            helper.make_node("Add", ["h_in", "x_t"], ["/Add_output_0"], name="/Add"),
            gemm("proj", "/Add_output_0", "/proj/Gemm_output_0"),
            helper.make_node("Mul", ["/proj/Gemm_output_0", "g_t"], ["z"], name="/Mul"),
            helper.make_node("ReduceSum", ["z"], ["/ReduceSum_output_0"], name="/ReduceSum", keepdims=0),
            helper.make_node("Greater", ["/ReduceSum_output_0", "zero"], ["/Greater_output_0"], name="/Greater"),
            helper.make_node("If", ["/Greater_output_0"], ["h_out"], name="/If",
                             then_branch=then_branch, else_branch=else_branch),
            helper.make_node("Mul", ["h_out", "two"], ["y_t"], name="/Mul_1"),
        ],
        "body", [vi("h_in", [2, 4]), vi("x_t", [2, 4]), vi("g_t", [2, 4])], [vi("h_out", [2, 4]), vi("y_t", [2, 4])],
        initializer=[two, zero])
    scan = helper.make_node("Scan", ["h", "xs", "gs"], ["h_final", "ys"], name="/Scan", body=body,
                            num_scan_inputs=2, scan_input_directions=[0, 1], scan_output_directions=[1])
    weights = [numpy_helper.from_array(v.detach().numpy(), k) for k, v in eager.state_dict().items()]
    graph = helper.make_graph([scan], "scan-branch",
                              [vi("h", [2, 4]), vi("xs", [STEPS, 2, 4]), vi("gs", [STEPS, 2, 4])],
                              [vi("h_final", [2, 4]), vi("ys", [STEPS, 2, 4])], initializer=weights)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 14)], ir_version=8,
                             producer_name="neurotap scripts/fixtures_control.py")


@maker("scan-branch")
def make_scan_branch():
    from fixtures_graphs import save_handmade
    seed_everything(3)
    eager = ScanBranch().eval()
    inputs = OrderedDict(h=torch.randn(2, 4), xs=torch.randn(STEPS, 2, 4), gs=torch.randn(STEPS, 2, 4))
    with torch.no_grad():
        h, ys = eager(*inputs.values())
    nh, nys, branches = _scan_branch_numpy(eager, *(v.numpy() for v in inputs.values()))
    assert np.allclose(h.numpy(), nh, atol=1e-5) and np.allclose(ys.numpy(), nys, atol=1e-5)
    assert any(branches) and not all(branches), branches  # both branches run, in different steps
    save_handmade("scan-branch", _scan_branch_graph(eager), eager, inputs, ["h_final", "ys"],
                  "hand-built: an If inside a Scan body (a reverse scan input, a reverse scan output); "
                  f"goldens from ScanBranch's hooks, checked against numpy; branches per step: {branches}")


# --------------------------------------------------------------------------
# parameter-names: an export whose node names carry no scope (`Gemm_3`, as older exporters wrote)
# --------------------------------------------------------------------------

class BetweenNodes(nn.Module):
    """Names can come from parameters only. `trunk.1` (a ReLU between two Linears) lies between
    its container's nodes; `tail`'s ReLU comes after its last one, where the graph cannot say
    whether it is `tail`'s or the caller's; the ReLU after `res` is the root's."""

    def __init__(self):
        super().__init__()
        self.trunk = nn.Sequential(nn.Linear(4, 4), nn.ReLU(), nn.Linear(4, 4))
        self.tail = nn.Sequential(nn.Linear(4, 4), nn.ReLU())
        self.res = nn.Linear(4, 4)
        self.head = nn.Linear(4, 2)

    def forward(self, x):
        x = self.trunk(x) + x
        x = self.tail(x)
        x = torch.relu(self.res(x)) + x
        return self.head(x) * 2.0


@maker("parameter-names")
def make_parameter_names():
    import io
    from fixtures_graphs import save_handmade
    seed_everything(0)
    model = BetweenNodes().eval()
    inputs = OrderedDict(x=torch.randn(2, 4))
    f = io.BytesIO()
    torch.onnx.export(model, tuple(inputs.values()), f, input_names=["x"], output_names=["output"], opset_version=14)
    graph = _rewire(onnx.load_from_string(f.getvalue()))
    save_handmade("parameter-names", graph, model, inputs, ["output"],
                  "torch.onnx.export (traced) with node and value names replaced by op_index names, "
                  "as older exporters wrote them: module names come from parameter names only")


def _rewire(model: onnx.ModelProto) -> onnx.ModelProto:
    """Renames every node output to `<op>_<i>_out<k>` (the graph output keeps its name) and its readers."""
    g = model.graph
    names = {}
    for i, node in enumerate(g.node):
        for k, o in enumerate(node.output):
            names[o] = o if o in {out.name for out in g.output} else f"{node.op_type}_{i}_out{k}"
    for i, node in enumerate(g.node):
        node.name = f"{node.op_type}_{i}"
        node.input[:] = [names.get(v, v) for v in node.input]
        node.output[:] = [names[o] for o in node.output]
    del g.value_info[:]
    return model


# --------------------------------------------------------------------------
# scripted-scopeless: a scripted model exported a second time in one process (no scopes at all)
# --------------------------------------------------------------------------

class Scopeless(BetweenNodes):
    """torch 1.13 writes no scope into any node name (`/Gemm_2`) when a scripted module's class
    was exported before in the same process. The names say every node ran in the root's forward:
    every module is reported (its parameters and their containers prove it exists), none guessed."""

    def forward(self, x, steps):
        for i in range(int(steps)):
            x = self.trunk(x) + x
        x = self.tail(x)
        x = torch.relu(self.res(x)) + x
        return self.head(x) * 2.0


@maker("scripted-scopeless")
def make_scripted_scopeless():
    import io
    seed_everything(0)
    model = Scopeless().eval()
    inputs = OrderedDict(x=torch.randn(2, 4), steps=torch.tensor(2))
    kwargs = {"output_names": ["output"], "dynamic_axes": {"x": {0: "batch"}, "output": {0: "batch"}}}
    # Throwaway exports first: the fixture's export of the same classes is then scopeless.
    for _ in range(2):
        torch.onnx.export(torch.jit.script(Scopeless().eval()), tuple(inputs.values()), io.BytesIO(),
                          input_names=list(inputs), opset_version=14)
    save_fixture("scripted-scopeless", model, inputs, kwargs,
                 notes="torch.jit.script, exported as the second export of its class in one process: "
                       "no node name carries a scope",
                 export_model=torch.jit.script(model))
    folder = f"{FIXTURES}/scripted-scopeless"
    names = [n.name for n in onnx.load(f"{folder}/model.onnx").graph.node]
    assert not any("/" in n.strip("/") for n in names), names
    # Nothing is observable, so test/fidelity.test.ts (which compares at least one key) skips it:
    # test/control-flow-loops.test.ts checks that every hook key is reported instead.
    for kind in ("", "_inputs"):
        os.replace(f"{folder}/golden{kind}.npz", f"{folder}/hooks{kind}.npz")


class ModuleListLoop(nn.Module):
    """`for layer in self.layers` in a scripted model is unrolled, and torch 1.13 scopes the children
    of the first element only (`/layers.0/0/Gemm`, then `/layers.1/Gemm` for `layers.1.0`)."""

    def __init__(self):
        super().__init__()
        self.layers = nn.ModuleList([nn.Sequential(nn.Linear(4, 4), nn.GELU()) for _ in range(3)])
        self.norm = nn.LayerNorm(4)

    def forward(self, x):
        for layer in self.layers:
            x = x + layer(x)
        return self.norm(x)


@maker("scripted-modulelist")
def make_scripted_modulelist():
    seed_everything(0)
    model = ModuleListLoop().eval()
    inputs = OrderedDict(x=torch.randn(2, 4))
    kwargs = {"output_names": ["output"], "dynamic_axes": {"x": {0: "batch"}, "output": {0: "batch"}}}
    save_fixture("scripted-modulelist", model, inputs, kwargs,
                 notes="torch.jit.script: a loop over a ModuleList, unrolled; only layers.0's children are scoped",
                 export_model=torch.jit.script(model))


class Pair(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = nn.Linear(4, 4)
        self.b = nn.Linear(4, 4)

    def forward(self, x, h):
        # b reads a's result, so no optimiser can reorder the first reads of x and h (ONNX Runtime's
        # topological sort does, for independent nodes, and the input order then has no evidence).
        a = torch.tanh(self.a(x) + h)
        return a, torch.sigmoid(self.b(a))


class LoopInvariant(nn.Module):
    """Modules in a loop reading a value computed before it (`x`): the same input for every call.
    `pair` runs in an If inside the loop (iterations 0 and 2) and reads `x` and the carried `h`;
    `shift` runs in every iteration and reads only `x`."""

    def __init__(self):
        super().__init__()
        self.pair = Pair()
        self.skip = nn.Linear(4, 4)
        self.shift = nn.Linear(4, 4)

    def forward(self, x, h, steps):
        for i in range(int(steps)):
            if i % 2 == 0:
                a, b = self.pair(x, h)
                h = a * b
            else:
                h = self.skip(h)
            h = h + self.shift(x)
        return h


@maker("loop-invariant")
def make_loop_invariant():
    seed_everything(0)
    model = LoopInvariant().eval()
    inputs = OrderedDict(x=torch.randn(2, 4), h=torch.randn(2, 4), steps=torch.tensor(4))
    kwargs = {"output_names": ["output"], "dynamic_axes": {"x": {0: "batch"}, "h": {0: "batch"}, "output": {0: "batch"}}}
    save_fixture("loop-invariant", model, inputs, kwargs,
                 notes="torch.jit.script: modules in a Loop (one in an If) reading a value computed before it",
                 export_model=torch.jit.script(model))
