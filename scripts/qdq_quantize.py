"""QDQ-quantize a float ONNX model the way onnxruntime's ``quantize_static`` (QDQ format) does,
without onnxruntime: every float activation gets a QuantizeLinear/DequantizeLinear pair right after
it is produced (uint8, asymmetric, scale and zero point from its calibrated range), every Conv/Gemm
weight becomes an int8 initializer read through DequantizeLinear (symmetric, per tensor), and every
bias an int32 initializer with scale = input scale x weight scale (zero point 0).

``ranges`` maps each activation's ONNX value name to its calibrated (min, max); the caller computes
them (the fixture maker does it with PyTorch forward hooks on the calibration data).

One choice differs from quantize_static's MinMax calibration: a Conv or Gemm output's scale is the
power-of-two multiple of (input scale x weight scale) that covers its range, so the integer kernel's
requantization multiplier is exactly 2^-k. Its rounding then meets exact ties often, which the float
emulation (DequantizeLinear, float Conv, QuantizeLinear) breaks by float error: a small model shows
the divergence that a real model's long accumulations show anyway.
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import helper, numpy_helper, TensorProto


def activation_params(lo: float, hi: float) -> tuple[float, int]:
    """uint8 scale and zero point covering [lo, hi] and 0, as quantize_static's MinMax calibrator."""
    lo, hi = min(lo, 0.0), max(hi, 0.0)
    scale = (hi - lo) / 255.0 if hi > lo else 1.0
    zero_point = int(np.clip(round(-lo / scale), 0, 255))
    return float(scale), zero_point


def weight_scale(w: np.ndarray) -> float:
    """Symmetric int8 scale, as quantize_static for weights."""
    return float(np.abs(w).max() / 127.0) or 1.0


def quantize_qdq(model: onnx.ModelProto, ranges: dict[str, tuple[float, float]]) -> onnx.ModelProto:
    graph = model.graph
    inits = {t.name: t for t in graph.initializer}
    new_inits: list[TensorProto] = []
    # A graph output is produced under a new name; its DequantizeLinear returns the original name.
    outputs = {o.name for o in graph.output if o.name in ranges}
    for node in graph.node:
        node.output[:] = [f"{v}_float" if v in outputs else v for v in node.output]
    ranges = {(f"{v}_float" if v in outputs else v): r for v, r in ranges.items()}

    def const(name: str, array: np.ndarray) -> str:
        new_inits.append(numpy_helper.from_array(array, name))
        return name

    act_scale: dict[str, float] = {}
    renamed: dict[str, str] = {}  # activation -> its dequantized twin, which every consumer reads

    def qdq(value: str, product_scale: float | None = None) -> list:
        """The Q/DQ pair right after `value` is produced."""
        lo, hi = ranges[value]
        scale, zp = activation_params(lo, hi)
        if product_scale is not None:
            scale = product_scale * 2.0 ** np.ceil(np.log2(scale / product_scale))
            zp = int(np.clip(round(-min(lo, 0.0) / scale), 0, 255))
        act_scale[value] = scale
        s = const(f"{value}_scale", np.array(scale, dtype=np.float32))
        z = const(f"{value}_zero_point", np.array(zp, dtype=np.uint8))
        q = f"{value}_quantized"
        dq = value[: -len("_float")] if value.endswith("_float") and value[:-6] in outputs else f"{value}_dequantized"
        renamed[value] = dq
        return [
            helper.make_node("QuantizeLinear", [value, s, z], [q], name=f"{value}_QuantizeLinear"),
            helper.make_node("DequantizeLinear", [q, s, z], [dq], name=f"{value}_DequantizeLinear"),
        ]

    nodes = [n for i in graph.input if i.name in ranges for n in qdq(i.name)]
    for node in graph.node:
        inputs = [renamed.get(v, v) for v in node.input]
        product = None
        if node.op_type in ("Conv", "Gemm"):
            inputs, product = quantize_weights(node, inputs, inits, act_scale, const, nodes)
        node.input[:] = inputs
        nodes.append(node)
        for v in node.output:
            if v in ranges:
                nodes.extend(qdq(v, product))
    used = {v for n in nodes for v in n.input}
    kept = [t for t in graph.initializer if t.name in used]
    del graph.node[:]
    graph.node.extend(nodes)
    del graph.initializer[:]
    graph.initializer.extend(kept + new_inits)
    return model


def quantize_weights(node, inputs, inits, act_scale, const, out_nodes):
    """int8 weight and int32 bias read through DequantizeLinear, as quantize_static writes them.
    Returns the new inputs and the input x weight scale."""
    x_scale = act_scale[node.input[0]]
    w = numpy_helper.to_array(inits[node.input[1]]).astype(np.float32)
    w_scale = weight_scale(w)
    w_q = np.clip(np.round(w / w_scale), -127, 127).astype(np.int8)
    name = node.input[1]
    ws = const(f"{name}_scale", np.array(w_scale, dtype=np.float32))
    wz = const(f"{name}_zero_point", np.array(0, dtype=np.int8))
    const(f"{name}_quantized", w_q)
    out_nodes.append(helper.make_node("DequantizeLinear", [f"{name}_quantized", ws, wz], [f"{name}_dequantized"],
                                      name=f"{name}_DequantizeLinear"))
    inputs[1] = f"{name}_dequantized"
    b_scale = float(np.float32(x_scale) * np.float32(w_scale))
    if len(node.input) > 2 and node.input[2] in inits:
        b = numpy_helper.to_array(inits[node.input[2]]).astype(np.float32)
        b_name = node.input[2]
        bs = const(f"{b_name}_scale", np.array(b_scale, dtype=np.float32))
        bz = const(f"{b_name}_zero_point", np.array(0, dtype=np.int32))
        const(f"{b_name}_quantized", np.round(b / b_scale).astype(np.int32))
        out_nodes.append(helper.make_node("DequantizeLinear", [f"{b_name}_quantized", bs, bz],
                                          [f"{b_name}_dequantized"], name=f"{b_name}_DequantizeLinear"))
        inputs[2] = f"{b_name}_dequantized"
    return inputs, b_scale
