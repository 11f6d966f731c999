#!/usr/bin/env python3
"""Read a data-set store written by `neurotap extract MODEL --inputs DATA --out store.zarr`.

    python3 scripts/read_store.py store.zarr            # one line per array
    python3 scripts/read_store.py store.zarr --json     # shapes, dtypes and sums, as JSON

With zarr-python >= 3 installed (pip install "zarr>=3" xarray), arrays are read by zarr and, if
xarray is there too, the whole store is also opened as one xarray Dataset. Without zarr the
store is read with numpy alone: the layout is plain Zarr v3 (uncompressed little-endian chunks,
one file per chunk), which this script decodes in a few lines, so the data stays readable
with nothing but numpy.

In your own code:

    import zarr, json
    root = zarr.open_group("store.zarr", mode="r")
    keys = root.attrs["neurotap"]["keys"]          # PyTorch key -> array name
    fc1 = root[keys["fc1"]][:]                      # numpy array [items, 32]
    manifest = json.load(open("store.zarr/.neurotap/manifest.json"))
    ids = manifest["items"]["ids"]                  # item ids, in array order
"""
import argparse
import json
import os
import sys

import numpy as np


def read_json(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def numpy_array(store, name):
    """Decodes one Zarr v3 array with numpy (bytes codec only, which is what neurotap writes)."""
    meta = read_json(os.path.join(store, name, "zarr.json"))
    codecs = [c["name"] for c in meta["codecs"]]
    if codecs != ["bytes"]:
        raise ValueError(f"{name}: codecs {codecs} need zarr-python; neurotap writes ['bytes']")
    dtype = np.dtype(meta["data_type"]).newbyteorder("<")
    shape = meta["shape"]
    chunk = meta["chunk_grid"]["configuration"]["chunk_shape"]
    sep = meta["chunk_key_encoding"]["configuration"].get("separator", "/")
    fill = meta["fill_value"]
    out = np.full(shape, np.nan if fill == "NaN" else fill, dtype=dtype)
    for k in range(-(-shape[0] // chunk[0])):
        key = sep.join(["c", str(k)] + ["0"] * (len(shape) - 1))
        path = os.path.join(store, name, *key.split("/"))
        if not os.path.exists(path):
            continue  # never written: stays at the fill value (NaN for floats)
        block = np.fromfile(path, dtype=dtype).reshape(chunk)
        rows = min(chunk[0], shape[0] - k * chunk[0])
        out[k * chunk[0]: k * chunk[0] + rows] = block[:rows]
    return out


def load_store(store):
    """Returns ({key: numpy array}, manifest); keys are the PyTorch keys (conv1, lstm#1#0, ...)."""
    manifest = read_json(os.path.join(store, ".neurotap", "manifest.json"))
    arrays = {}
    try:
        import zarr  # noqa: F401 (optional)
        if int(zarr.__version__.split(".")[0]) < 3:
            raise ImportError("zarr < 3 reads only Zarr v2")
        root = zarr.open_group(store, mode="r")
        for k in manifest["keys"]:
            arrays[k["key"]] = root[k["array"]][:]
        reader = f"zarr {zarr.__version__}"
    except ImportError:
        for k in manifest["keys"]:
            arrays[k["key"]] = numpy_array(store, k["array"])
        reader = "numpy"
    return arrays, manifest, reader


def open_xarray(store):
    """The store as one xarray Dataset (dimension 'item' shared by every array), or None."""
    try:
        import xarray as xr
        return xr.open_zarr(store, consolidated=False, zarr_format=3)
    except Exception:  # xarray or zarr 3 missing
        return None


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("store")
    parser.add_argument("--json", action="store_true", help="print shapes, dtypes and sums as JSON")
    args = parser.parse_args()
    arrays, manifest, reader = load_store(args.store)
    summary = {
        "reader": reader,
        "items": manifest["items"]["count"],
        "arrays": {key: {"shape": list(a.shape), "dtype": str(a.dtype), "sum": float(np.sum(a, dtype=np.float64))} for key, a in arrays.items()},
    }
    if args.json:
        json.dump(summary, sys.stdout)
        print()
        return
    print(f"{args.store}: {summary['items']} items, read with {reader}")
    for key, info in summary["arrays"].items():
        print(f"  {key:24} {str(tuple(info['shape'])):20} {info['dtype']:8} sum {info['sum']:.6g}")
    ds = open_xarray(args.store)
    if ds is not None:
        print(ds)


if __name__ == "__main__":
    main()
