"""Fidelity sweep: real architectures and PyTorch idioms, each exported and recorded with hooks.

Not part of CI (it needs torch and takes minutes): it finds classes of wrong tensors, invented keys
and silent gaps; each class found gets a small fixture of its own in ``scripts/fixtures_*.py``.

    /usr/bin/python3 scripts/sweep/sweep.py [--out DIR] [NAME-or-GLOB ...]   # export + dump
    node --import tsx scripts/sweep/report.ts [--out DIR] [NAME-or-GLOB ...]  # compare + classify

A case is registered with ``@case("name")`` in a ``scripts/sweep/cases_*.py`` file (imported
automatically) and returns ``Case(model, args, ...)``. Each case is written to ``DIR/name/``:
``model.onnx`` (``torch.onnx.export``), ``reference.npz`` (``neurotap_torch.dump`` with inputs) and
``input.npz`` (the feeds, by input name). ``Case(..., scripted=True)`` exports a
``torch.jit.script``-ed copy of the model (its loops and branches become ONNX ``Loop``/``If``),
while the hooks record the eager model.
"""

from __future__ import annotations

import argparse
import fnmatch
import glob
import importlib
import io
import os
import sys
import traceback
import zipfile
from dataclasses import dataclass, field

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "python"))
sys.path.insert(0, HERE)
sys.path.insert(1, os.path.join(HERE, ".."))  # cases reuse the fixture makers' models
import neurotap_torch  # noqa: E402

DEFAULT_OUT = os.environ.get("NEUROTAP_SWEEP_DIR", "/tmp/neurotap-sweep")


@dataclass
class Case:
    model: torch.nn.Module
    args: tuple
    input_names: list = None  # default x0, x1, ...
    export: dict = field(default_factory=dict)  # extra torch.onnx.export kwargs
    inputs: bool = True  # record pre-hook inputs (in: keys)
    # Export a torch.jit.script-ed copy (loops and branches stay If/Loop nodes); the hooks record
    # the eager model, since a scripted module runs no Python hooks.
    scripted: bool = False
    export_args: tuple = None  # trace the export on these (e.g. batch 1) and capture on args (batch 3)


CASES = {}


def case(name):
    def register(fn):
        CASES[name] = fn
        return fn

    return register


def randomize_norm_stats(model):
    """Running statistics that differ from (0, 1), so a folded or skipped BatchNorm shows."""
    for m in model.modules():
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm) and m.running_mean is not None:
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2.0)
    return model


def _npz_bytes(arrays):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, a in arrays.items():
            member = io.BytesIO()
            np.save(member, a)
            z.writestr(f"{name}.npy", member.getvalue())
    return buf.getvalue()


def run_case(name, out_root):
    torch.manual_seed(0)
    c = CASES[name]()
    c.model.eval()
    args = c.args if isinstance(c.args, tuple) else (c.args,)
    names = c.input_names or [f"x{i}" for i in range(len(args))]
    folder = os.path.join(out_root, name)
    os.makedirs(folder, exist_ok=True)
    feeds = {n: a.detach().numpy() for n, a in zip(names, args) if isinstance(a, torch.Tensor)}
    with open(os.path.join(folder, "input.npz"), "wb") as f:
        f.write(_npz_bytes(feeds))
    neurotap_torch.dump(c.model, args, os.path.join(folder, "reference.npz"), inputs=c.inputs)
    kwargs = {"input_names": names, "opset_version": 14, **c.export}
    exported = torch.jit.script(c.model) if c.scripted else c.model
    traced = args if c.export_args is None else c.export_args
    torch.onnx.export(exported, traced, os.path.join(folder, "model.onnx"), **kwargs)


def main():
    sys.modules.setdefault("sweep", sys.modules[__name__])  # cases import this module by name
    for path in sorted(glob.glob(os.path.join(HERE, "cases_*.py"))):
        importlib.import_module(os.path.basename(path)[:-3])
    p = argparse.ArgumentParser()
    p.add_argument("--out", default=DEFAULT_OUT)
    p.add_argument("names", nargs="*")
    a = p.parse_args()
    patterns = a.names or ["*"]
    chosen = [n for n in CASES if any(fnmatch.fnmatch(n, pat) for pat in patterns)]
    failed = 0
    for name in chosen:
        try:
            run_case(name, a.out)
            print(f"ok      {name}", flush=True)
        except Exception as e:  # one case's failure must not stop the sweep
            failed += 1
            print(f"EXPORT  {name}: {type(e).__name__}: {(str(e).splitlines() or [''])[0][:200]}", flush=True)
            if os.environ.get("SWEEP_DEBUG"):
                traceback.print_exc()
    print(f"{len(chosen) - failed}/{len(chosen)} cases written to {a.out}")


if __name__ == "__main__":
    main()
