#!/usr/bin/python3
"""Writes the pickle fixtures of tests/test_pickle.c and tests/test_dataset.c into tests/fixtures/pickle/.

Run from the repo root: tools/make_pickles.py   (needs numpy; deterministic: same bytes every run
for a given Python / numpy version). The C tests compare what they read with expected.json, which
holds what numpy computes here (counts, shapes, label statistics, float64 feature sums)."""
import json
import os
import pickle

import numpy as np

OUT = os.path.join("tests", "fixtures", "pickle")


def write(name, obj, protocol):
    with open(os.path.join(OUT, name), "wb") as f:
        pickle.dump(obj, f, protocol=protocol)


def types_object():
    shared = [7]
    return {
        "ints": [0, 1, 255, 256, 65535, 65536, -1, -129, 2**31 - 1, -2**31, 2**31, 2**62, -2**63, 2**63 - 1],
        "floats": [0.5, -2.25, 1e300],
        "s": "h\u00e9llo \u2713",
        "long_s": "x" * 300,
        "b": b"\x00\x01\xff",
        "long_b": bytes(range(256)) * 2,
        "t0": (), "t1": (1,), "t2": (1, 2), "t3": (1, 2, 3), "t4": (1, 2, 3, 4),
        "none": None, "true": True, "false": False,
        "shared": [shared, shared],
        "nested": {"a": [{"b": (1, [2])}]},
        "set": {5},
    }


def main():
    os.makedirs(OUT, exist_ok=True)
    for p in (2, 4, 5):
        write(f"types_p{p}.pkl", types_object(), p)
    write("bytearray_p5.pkl", bytearray(b"abc"), 5)
    torch_state_dict()


def torch_state_dict():
    """data.pkl of a torch.save zip (what PyTorch checkpoints hold): OrderedDict + persistent ids."""
    import io
    import zipfile
    import torch
    torch.manual_seed(0)
    buf = io.BytesIO()
    torch.save(torch.nn.Linear(3, 2).state_dict(), buf)
    z = zipfile.ZipFile(io.BytesIO(buf.getvalue()))
    name = [n for n in z.namelist() if n.endswith("/data.pkl")][0]
    with open(os.path.join(OUT, "torch_state_dict_data.pkl"), "wb") as f:
        f.write(z.read(name))


if __name__ == "__main__":
    main()
