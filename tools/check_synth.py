#!/usr/bin/python3
"""Loads a `mird synth` output directory with Python's own pickle + numpy and checks its layout.

Usage: tools/check_synth.py DIR
Verifies that data.pkl / unlabeled.pkl unpickle with the standard library (numpy arrays come back
as numpy.ndarray float32), the shapes agree with synth.json, the labels sit in [-3, 3], the
padding is zero, and factors.safetensors (read with plain numpy) has one row per clip.
Prints a short summary; exits 1 on the first problem. Not run by `make test` (tests never need Python).
"""
import json
import pickle
import struct
import sys

import numpy as np


def load_safetensors(path):
    with open(path, "rb") as f:
        b = f.read()
    n = struct.unpack("<Q", b[:8])[0]
    h = json.loads(b[8:8 + n])
    meta = h.pop("__metadata__", {})
    out = {k: np.frombuffer(b[8 + n + v["data_offsets"][0]:8 + n + v["data_offsets"][1]], dtype="<f4").reshape(v["shape"])
           for k, v in h.items()}
    return out, meta


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    d = sys.argv[1]
    cfg = json.load(open(d + "/synth.json"))
    data = pickle.load(open(d + "/data.pkl", "rb"))
    unl = pickle.load(open(d + "/unlabeled.pkl", "rb"))
    fac, meta = load_safetensors(d + "/factors.safetensors")
    vocab = open(d + "/vocab.txt").read().split("\n")[:-1]
    model = json.load(open(d + "/model.json"))
    assert model["bert"]["vocab_size"] == len(vocab), "model.json vocab_size != vocab.txt lines"
    assert vocab[:5] == ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    for name, split in list(data.items()) + [("unlabeled", unl)]:
        n = cfg["n"][name]
        a, v, t = split["audio"], split["video"], split["raw_text"]
        assert isinstance(a, np.ndarray) and a.dtype == np.float32 and a.shape == (n, cfg["Ta"], cfg["d_a"]), name
        assert isinstance(v, np.ndarray) and v.dtype == np.float32 and v.shape == (n, cfg["Tv"], cfg["d_v"]), name
        assert len(t) == n and all(isinstance(s, str) for s in t), name
        assert fac[name + ".factors"].shape == (n, 8), name
        lens = fac[name + ".lengths"]
        for i in range(n):
            la, lv = int(lens[i, 0]), int(lens[i, 1])
            pa = a[i, la:] if cfg["padding"] == "back" else a[i, :cfg["Ta"] - la]
            pv = v[i, lv:] if cfg["padding"] == "back" else v[i, :cfg["Tv"] - lv]
            assert not pa.any() and not pv.any(), (name, i, "padding not zero")
        if name != "unlabeled":
            y = np.asarray(split["labels"], dtype=np.float64)
            assert y.shape == (n,) and y.min() >= -3 and y.max() <= 3, name
            assert np.array_equal(y.astype(np.float32), fac[name + ".labels"]), name
            print("%-9s n=%5d audio %s video %s labels mean %+.3f std %.3f zero %.3f" % (
                name, n, a.shape, v.shape, y.mean(), y.std(), (y == 0).mean()))
        else:
            assert "labels" not in split
            print("%-9s n=%5d audio %s video %s" % (name, n, a.shape, v.shape))
    print("ok: %s loads with pickle + numpy %s (groups %s)" % (d, np.__version__, meta.get("mird.synth.groups")))


if __name__ == "__main__":
    main()
