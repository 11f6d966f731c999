"""neurotap's PyTorch bridge: reference dumps and exactly observable ONNX exports.

One file, no dependency but ``torch``. Get it from the npm package::

    npx neurotap torch-helper > neurotap_torch.py     # or: npx neurotap torch-helper --path

``dump(model, args, path)``
    Runs ``model(*args)`` once with a forward hook on every module (``named_modules()`` without the
    root) and writes what each hook saw, cloned when the hook fired, to ``path`` (``.safetensors`` or
    ``.npz``), keyed exactly as neurotap keys captures: ``name`` for a module called once,
    ``name:k`` for its k-th call (from 1) when called several times, ``#i`` per element of a
    returned container, by position (nested: ``lstm#1#0``; a tuple's or list's index, a dict's
    insertion order, a ModelOutput's non-None fields, a dataclass's field order; None elements
    skipped, their position kept; the names of a dict's keys or a dataclass's fields are in the
    module table, ``"fields"``), ``in:KEY#i`` for the i-th
    positional input when ``inputs=True`` (forward pre-hooks), ``output:NAME`` for the model's
    outputs when ``output_names`` is given. The module tree (name, class name, calls) is stored in
    the file's metadata (safetensors ``__metadata__["neurotap.modules"]``; in an ``.npz``, the
    ``__metadata__`` member holds the same JSON as uint8 bytes).
    Compare an export with it: ``neurotap compare model.onnx dump.safetensors --input x=x.npy``.

``export(model, args, path, **export_kwargs)``
    ``torch.onnx.export`` such that every module call and every tuple element is exactly
    observable: each forward hook's output (and each pre-hook's input) passes through an ONNX
    ``Identity`` node, which the exporter cannot fuse across (no BatchNorm folded into the Conv
    before it, no transpose pair cancelled across a module boundary, no unused tuple element
    dropped from a module that computes it) and which ONNX Runtime removes when it optimises the
    graph (plain inference runs at the speed of a normal export). The model's ``metadata_props``
    hold ``neurotap.export``: the module tree with true class names and, for each marker, its
    output value and its neurotap key. neurotap's module map reads it ("names from
    neurotap-export"). BatchNorm is kept (``training=TrainingMode.PRESERVE`` with the model in
    eval mode) unless ``export_kwargs`` says otherwise.

    Tested with PyTorch 1.13's TorchScript exporter. ``dynamo=True`` (PyTorch >= 2.5, documented
    ``torch.onnx.export(model, args, f, dynamo=True)``) is passed through but UNTESTED here: the
    markers rely on the exporter calling ``_Mark.symbolic``, which the dynamo exporter does not;
    without markers neurotap falls back to the dynamo exporter's own node metadata. A scripted
    model (``torch.jit.script``) runs no Python hooks: export it with ``torch.onnx.export``.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import struct
import warnings
import zipfile
from collections.abc import Mapping

import torch
import torch.nn as nn

__all__ = ["dump", "export", "record"]

FORMAT_VERSION = 1
MARK_DOMAIN = "neurotap"

# --------------------------------------------------------------------------------------------
# Recording hooks
# --------------------------------------------------------------------------------------------


def _elements(value):
    """The elements of a container output, by position: a tuple's or list's (a namedtuple's too)
    in order, a dict's values in insertion order (a Hugging Face ModelOutput, an OrderedDict that
    leaves out None fields, as ``output[i]`` indexes it), a dataclass's fields in declaration
    order. None for anything else (a tensor, None, an int)."""
    if isinstance(value, (tuple, list)):
        return list(value)
    if isinstance(value, Mapping):
        return list(value.values())
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return [getattr(value, f.name) for f in dataclasses.fields(value)]
    return None


def _field_names(value):
    """A container's element names by position (dict keys, dataclass and namedtuple fields), or None."""
    if isinstance(value, Mapping):
        return [str(k) for k in value.keys()]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return [f.name for f in dataclasses.fields(value)]
    if isinstance(value, tuple) and hasattr(value, "_fields"):
        return list(value._fields)
    return None


def _snapshot(value):
    """Tensors cloned now (a later in-place op such as ReLU(inplace=True) must not change them),
    containers as lists of their elements by position (see ``_elements``)."""
    if isinstance(value, torch.Tensor):
        return value.detach().clone()
    elements = _elements(value)
    return None if elements is None else [_snapshot(v) for v in elements]


def _flatten(value, key, out):
    """Nested containers to ``key#i#j`` entries, by position (see ``_elements``); non-tensor
    leaves (None, ints) are skipped, their position kept."""
    if isinstance(value, torch.Tensor):
        out[key] = value
        return
    for i, v in enumerate(_elements(value) or []):
        _flatten(v, f"{key}#{i}", out)


def _modules(model):
    return [(name, m) for name, m in model.named_modules() if name != ""]


def record(model: nn.Module, args, inputs: bool = False):
    """Runs ``model(*args)`` once under ``torch.no_grad()`` with hooks on every module.

    Returns ``(tensors, modules, result)``: a dict keyed as neurotap keys, in the order the hooks
    fired (pre-hook inputs at a call's start, outputs at its end, inner modules first), the module
    table ``[{"name", "type", "calls"}]`` in ``named_modules()`` order, and the model's output.
    """
    args = args if isinstance(args, tuple) else (args,)
    events = []  # (kind, name, call index, snapshot) in firing order
    calls = {}
    fields = {}  # module -> its output container's element names (dict keys, fields), by position
    handles = []
    for name, module in _modules(model):
        calls[name] = 0

        def pre_hook(mod, inp, _name=name):
            calls[_name] += 1
            if inputs:
                events.append(("in", _name, calls[_name], _snapshot(inp)))

        def hook(mod, inp, out, _name=name):
            events.append(("out", _name, calls[_name], _snapshot(out)))
            if _field_names(out) is not None:
                fields.setdefault(_name, _field_names(out))

        handles.append(module.register_forward_pre_hook(pre_hook))
        handles.append(module.register_forward_hook(hook))
    try:
        with torch.no_grad():
            result = model(*args)
    finally:
        for h in handles:
            h.remove()
    tensors = {}
    for kind, name, k, value in events:
        key = name if calls[name] == 1 else f"{name}:{k}"
        if kind == "in":
            for i, v in enumerate(value):
                _flatten(v, f"in:{key}#{i}", tensors)
        else:
            _flatten(value, key, tensors)
    table = [
        {"name": n, "type": type(m).__name__, "calls": calls[n], **({"fields": fields[n]} if n in fields else {})}
        for n, m in _modules(model)
    ]
    return tensors, table, result


def dump(model: nn.Module, args, path: str, inputs: bool = False, output_names=None) -> dict:
    """Writes every module's hook output (and inputs with ``inputs=True``) to .safetensors or .npz.

    ``output_names`` (the ONNX output names) adds the model's outputs as ``output:NAME``.
    Returns the dict of tensors written.
    """
    tensors, table, result = record(model, args, inputs)
    if output_names is not None:
        outs = {}
        _flatten(result if _elements(result) is not None else (result,), "", outs)
        flat = [outs[k] for k in outs]
        if len(flat) != len(output_names):
            raise ValueError(f"expected {len(flat)} output_names for the model's outputs; got {len(output_names)}")
        for name, t in zip(output_names, flat):
            tensors[f"output:{name}"] = t.detach().clone()
    metadata = {"neurotap.modules": json.dumps(table), "neurotap.torch": torch.__version__}
    if path.endswith(".safetensors"):
        _write_atomic(path, _safetensors_bytes(tensors, metadata))
    elif path.endswith(".npz"):
        _write_atomic(path, _npz_bytes(tensors, metadata))
    else:
        raise ValueError(f"expected a path ending in .safetensors or .npz; got {path}")
    return tensors


# --------------------------------------------------------------------------------------------
# Files (safetensors and npz written by hand: no dependency beyond torch)
# --------------------------------------------------------------------------------------------

_DTYPES = {
    torch.float32: ("F32", "<f4"), torch.float64: ("F64", "<f8"), torch.float16: ("F16", "<f2"),
    torch.bfloat16: ("BF16", None), torch.int8: ("I8", "|i1"), torch.uint8: ("U8", "|u1"),
    torch.int16: ("I16", "<i2"), torch.int32: ("I32", "<i4"), torch.int64: ("I64", "<i8"),
    torch.bool: ("BOOL", "|b1"),
}


def _raw(t: torch.Tensor) -> bytes:
    t = t.detach().cpu().contiguous()
    if t.dtype == torch.bfloat16:
        t = t.view(torch.int16)
    return t.numpy().tobytes()


def _check_dtype(key, t):
    if t.dtype not in _DTYPES:
        raise TypeError(f"{key}: dtype {t.dtype} cannot be written (supported: {sorted(map(str, _DTYPES))})")


def _safetensors_bytes(tensors: dict, metadata: dict) -> bytes:
    header = {"__metadata__": metadata}
    chunks = []
    offset = 0
    for key, t in tensors.items():
        _check_dtype(key, t)
        data = _raw(t)
        header[key] = {"dtype": _DTYPES[t.dtype][0], "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        chunks.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 8)  # the data starts 8-byte aligned
    return struct.pack("<Q", len(text)) + text + b"".join(chunks)


def _npy_bytes(t: torch.Tensor) -> bytes:
    descr = _DTYPES[t.dtype][1]
    if descr is None:  # bfloat16: numpy has no such dtype; float32 holds it exactly
        t = t.float()
        descr = "<f4"
    shape = "(" + "".join(f"{d}," for d in t.shape) + ")" if t.dim() != 1 else f"({t.shape[0]},)"
    header = f"{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}"
    header += " " * (-(10 + len(header) + 1) % 64) + "\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode("latin1") + _raw(t)


def _zip_entry(name: str) -> zipfile.ZipInfo:
    """A fixed timestamp, so that the same tensors give the same bytes."""
    info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
    info.external_attr = 0o644 << 16
    return info


def _npz_bytes(tensors: dict, metadata: dict) -> bytes:
    import io

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_STORED) as zf:
        for key, t in tensors.items():
            _check_dtype(key, t)
            zf.writestr(_zip_entry(key + ".npy"), _npy_bytes(t))
        meta = torch.tensor(list(json.dumps(metadata).encode("utf-8")), dtype=torch.uint8)
        zf.writestr(_zip_entry("__metadata__.npy"), _npy_bytes(meta))
    return buf.getvalue()


def _write_atomic(path: str, data: bytes) -> None:
    """A temporary name, then a rename: no half-written file."""
    import os

    tmp = f"{path}.tmp-{os.getpid()}"
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


# --------------------------------------------------------------------------------------------
# Export with module boundaries marked
# --------------------------------------------------------------------------------------------


class _Mark(torch.autograd.Function):
    """Identity on its tensors; exported as one ``neurotap::Mark`` node carrying the marker id."""

    @staticmethod
    def forward(ctx, mark_id, *xs):
        return tuple(x.clone() for x in xs)

    @staticmethod
    def symbolic(g, mark_id, *xs):
        outs = g.op(f"{MARK_DOMAIN}::Mark", *xs, id_i=mark_id, outputs=len(xs))
        outs = outs if isinstance(outs, (tuple, list)) else (outs,)
        for out, x in zip(outs, xs):
            out.setType(x.type())
        return tuple(outs)


def _tensor_paths(value, path=()):
    """(path, tensor) for every tensor leaf of nested containers, by position (see ``_elements``)."""
    if isinstance(value, torch.Tensor):
        return [(path, value)]
    return [p for i, v in enumerate(_elements(value) or []) for p in _tensor_paths(v, path + (i,))]


def _replace(value, new, path=()):
    """``value`` with its tensor leaves taken from ``new`` (a dict path -> tensor): the same kind of
    container (a copy, so that an object the module keeps is left alone), elements by position."""
    if isinstance(value, torch.Tensor):
        return new[path]
    elements = _elements(value)
    if elements is None:
        return value
    items = [_replace(v, new, path + (i,)) for i, v in enumerate(elements)]
    if isinstance(value, tuple) and hasattr(value, "_fields"):
        return type(value)(*items)
    if isinstance(value, (tuple, list)):
        return type(value)(items)
    out = copy.copy(value)
    if isinstance(value, Mapping):
        for k, v in zip(list(value.keys()), items):
            out[k] = v
    else:  # a dataclass (frozen ones too)
        for f, v in zip(dataclasses.fields(value), items):
            object.__setattr__(out, f.name, v)
    return out


class _Marker:
    """Hooks that pass every module's inputs and outputs through a Mark while the exporter traces."""

    def __init__(self):
        self.marks = []  # id -> {"module", "call", "kind", "paths"}
        self.calls = {}

    def mark(self, name, kind, value):
        leaves = _tensor_paths(value)
        if not leaves:
            return value
        mark_id = len(self.marks)
        self.marks.append({"module": name, "call": self.calls[name], "kind": kind, "paths": [p for p, _ in leaves]})
        outs = _Mark.apply(mark_id, *[t for _, t in leaves])
        return _replace(value, {p: o for (p, _), o in zip(leaves, outs)})

    def install(self, model):
        handles = []
        for name, module in _modules(model):
            self.calls[name] = 0

            def pre_hook(mod, inp, _name=name):
                self.calls[_name] += 1
                return self.mark(_name, "in", tuple(inp))

            def hook(mod, inp, out, _name=name):
                return self.mark(_name, "out", out)

            handles.append(module.register_forward_pre_hook(pre_hook))
            handles.append(module.register_forward_hook(hook))
        return handles


def export(model: nn.Module, args, path: str, **export_kwargs) -> dict:
    """``torch.onnx.export`` with every module call and tuple element marked (see the module doc).

    Returns the ``neurotap.export`` metadata written into the model.
    """
    args = args if isinstance(args, tuple) else (args,)
    kwargs = dict(export_kwargs)
    if kwargs.get("dynamo"):
        # UNTESTED (PyTorch >= 2.5 only): the dynamo exporter never calls a Function's symbolic,
        # so no markers; its node metadata (pkg.torch.onnx.name_scopes / class_hierarchy) names
        # the modules instead, which neurotap reads. Returned: the module tree, not written.
        torch.onnx.export(model, args, path, **kwargs)
        return {"version": FORMAT_VERSION, "modules": [{"name": n, "type": type(m).__name__} for n, m in _modules(model)],
                "marks": []}
    kwargs.setdefault("training", torch.onnx.TrainingMode.PRESERVE)
    kwargs.setdefault("opset_version", 13)
    kwargs["custom_opsets"] = {**kwargs.get("custom_opsets", {}), MARK_DOMAIN: 1}
    marker = _Marker()
    handles = marker.install(model)
    try:
        with warnings.catch_warnings():
            # The exporter warns that it cannot infer a custom op's shapes (the Identity that
            # replaces it can) and that g.op is deprecated; neither concerns the user.
            warnings.filterwarnings("ignore", message=".*neurotap::Mark.*")
            warnings.filterwarnings("ignore", message=".*_graph_op.*")
            warnings.filterwarnings("ignore", message=".*constant folding be turned off.*")
            torch.onnx.export(model, args, path, **kwargs)
    finally:
        for h in handles:
            h.remove()
    table = [{"name": n, "type": type(m).__name__} for n, m in _modules(model)]
    with open(path, "rb") as f:
        data = f.read()
    rewritten, meta = _unmark(data, marker.marks, table)
    _write_atomic(path, rewritten)
    return meta


# --------------------------------------------------------------------------------------------
# Protobuf rewrite: Mark nodes -> Identity nodes, metadata added (no dependency on the onnx package)
# --------------------------------------------------------------------------------------------


def _varint(data, pos):
    shift = result = 0
    while True:
        b = data[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if b < 0x80:
            return result, pos
        shift += 7


def _enc_varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _fields(data):
    """(field number, wire type, value, raw bytes of the whole field) for each field of a message."""
    pos = 0
    while pos < len(data):
        start = pos
        tag, pos = _varint(data, pos)
        field, wire = tag >> 3, tag & 7
        if wire == 0:
            value, pos = _varint(data, pos)
        elif wire == 1:
            value, pos = data[pos:pos + 8], pos + 8
        elif wire == 5:
            value, pos = data[pos:pos + 4], pos + 4
        elif wire == 2:
            n, pos = _varint(data, pos)
            value, pos = data[pos:pos + n], pos + n
        else:
            raise ValueError(f"unsupported protobuf wire type {wire}")
        yield field, wire, value, data[start:pos]


def _bytes_field(field, payload):
    return _enc_varint(field << 3 | 2) + _enc_varint(len(payload)) + payload


def _node_parts(node):
    parts = {"input": [], "output": [], "name": b"", "op_type": b"", "domain": b"", "attrs": []}
    for field, _, value, _ in _fields(node):
        if field == 1:
            parts["input"].append(bytes(value))
        elif field == 2:
            parts["output"].append(bytes(value))
        elif field == 3:
            parts["name"] = bytes(value)
        elif field == 4:
            parts["op_type"] = bytes(value)
        elif field == 7:
            parts["domain"] = bytes(value)
        elif field == 5:
            parts["attrs"].append(bytes(value))
    return parts


def _mark_id(attrs):
    for attr in attrs:
        fields = {f: v for f, _, v, _ in _fields(attr)}
        if bytes(fields.get(1, b"")) == b"id":
            return fields[3]  # AttributeProto.i
    raise ValueError("a neurotap::Mark node without its id attribute")


def _identity(name, inp, out):
    return b"".join([_bytes_field(1, inp), _bytes_field(2, out), _bytes_field(3, name), _bytes_field(4, b"Identity")])


def _key(mark, calls, path):
    key = mark["module"] if calls[mark["module"]] == 1 else f"{mark['module']}:{mark['call']}"
    if mark["kind"] == "in":
        return f"in:{key}" + "".join(f"#{i}" for i in path)
    return key + "".join(f"#{i}" for i in path)


def _unmark_graph(graph, marks):
    """The graph with each Mark split into Identity nodes; returns (bytes, [(mark id, element, value)])."""
    out = bytearray()
    found = []
    for field, _, value, raw in _fields(graph):
        if field != 1:
            out += raw
            continue
        node = _node_parts(value)
        if node["domain"] != MARK_DOMAIN.encode() or node["op_type"] != b"Mark":
            out += raw
            continue
        mark_id = _mark_id(node["attrs"])
        for element, (inp, outp) in enumerate(zip(node["input"], node["output"])):
            out += _bytes_field(1, _identity(node["name"] + f"_{element}".encode(), inp, outp))
            found.append((mark_id, element, outp.decode()))
    return bytes(out), found


def _unmark(data, marks, table):
    model = bytearray()
    found = []
    for field, _, value, raw in _fields(data):
        if field == 7:  # graph
            graph, found = _unmark_graph(value, marks)
            model += _bytes_field(7, graph)
        elif field == 8 and any(f == 1 and bytes(v) == MARK_DOMAIN.encode() for f, _, v, _ in _fields(value)):
            continue  # the neurotap opset import: no node uses it any more
        else:
            model += raw
    ids = sorted({mark_id for mark_id, _, _ in found})
    calls = {}
    for mark_id in ids:  # calls counted on the marks the exporter kept (it traced the model once)
        m = marks[mark_id]
        calls[m["module"]] = max(calls.get(m["module"], 0), m["call"])
    values = [
        {"value": value, "key": _key(marks[mark_id], calls, marks[mark_id]["paths"][element])}
        for mark_id, element, value in found
    ]
    modules = [{**row, "calls": calls.get(row["name"], 0)} for row in table]
    meta = {"version": FORMAT_VERSION, "torch": torch.__version__, "modules": modules, "marks": values}
    entry = _bytes_field(1, b"neurotap.export") + _bytes_field(2, json.dumps(meta).encode())
    model += _bytes_field(14, entry)
    return bytes(model), meta
