#!/usr/bin/python3
"""club_latents.py LAT.safetensors [LAT2.safetensors ...]: post-hoc CLUB estimates of the six MI
terms of MIRD (I(zL;zA), I(zL;zV), I(zA;zV), I(zS;zL), I(zS;zA), I(zS;zV)) on dumped latents
(mird train --dump-latents: test clips, eval mode).

Why: a run trained with --ablation no-mi logs no CLUB estimates (its estimators are not trained),
so comparing the full run's and the no-mi run's latents needs one estimator fitted the same way
on both. For each pair a fresh CLUB network of MIRD.md's shape (p_mu = Linear(z, h), ReLU,
Linear(h, z); p_logvar the same followed by tanh; h = 16) is fitted with Adam (lr 1e-3) on the
estimator loss over one half of the clips, and the CLUB estimate is taken on the other half;
both halves in turn (2-fold), averaged. Numbers are comparable between runs only with the same
settings. CLUB's log-variance is bounded (tanh), so on raw latents an estimate scales with the
latents' spread: a latent that merely shrinks looks less dependent. The script therefore prints two
sets, "club" (raw latents, as MIRD's estimators see them by default) and "club_standardized" (each
latent dimension standardised with the fitting half's mean and std, which MI is invariant to), and
each latent's mean per-dimension standard deviation.
"""
import json
import struct
import sys

import numpy as np
import torch

PAIRS = [("la", "zl", "za"), ("lv", "zl", "zv"), ("av", "za", "zv"), ("yl", "zy", "zl"), ("ya", "zy", "za"),
         ("yv", "zy", "zv")]


def load_safetensors(path):
    # plain format: 8-byte header length, JSON header, raw little-endian data
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        head = json.loads(f.read(n))
        data = f.read()
    out = {}
    for k, v in head.items():
        if k == "__metadata__" or v["dtype"] != "F32":
            continue
        a, b = v["data_offsets"]
        out[k] = np.frombuffer(data[a:b], dtype="<f4").reshape(v["shape"])
    return out


class Club(torch.nn.Module):
    def __init__(self, zx, zy, h=16):
        super().__init__()
        self.mu = torch.nn.Sequential(torch.nn.Linear(zx, h), torch.nn.ReLU(), torch.nn.Linear(h, zy))
        self.lv = torch.nn.Sequential(torch.nn.Linear(zx, h), torch.nn.ReLU(), torch.nn.Linear(h, zy), torch.nn.Tanh())

    def estimate(self, x, y):
        mu, lv = self.mu(x), self.lv(x)
        pos = -(mu - y) ** 2 / 2 / lv.exp()
        neg = -((y.unsqueeze(0) - mu.unsqueeze(1)) ** 2).mean(dim=1) / 2 / lv.exp()
        return (pos.sum(1) - neg.sum(1)).mean()

    def loss(self, x, y):
        mu, lv = self.mu(x), self.lv(x)
        return -(-(mu - y) ** 2 / lv.exp() - lv).sum(1).mean()


def standardized(a, rows):
    # per-dimension standardisation with the statistics of the fitting rows (a constant dimension stays 0)
    m, s = a[rows].mean(0), a[rows].std(0, unbiased=False)
    return (a - m) / torch.where(s > 0, s, torch.ones_like(s))


def club_pair(x, y, steps, seed, std=False):
    n = x.shape[0]
    g = torch.Generator().manual_seed(seed)
    perm = torch.randperm(n, generator=g)
    halves = [perm[: n // 2], perm[n // 2:]]
    vals = []
    for f in range(2):
        tr, te = halves[f], halves[1 - f]
        if std:
            x, y = standardized(x, tr), standardized(y, tr)
        torch.manual_seed(seed + f)
        c = Club(x.shape[1], y.shape[1])
        opt = torch.optim.Adam(c.parameters(), lr=1e-3)
        for _ in range(steps):
            opt.zero_grad()
            c.loss(x[tr], y[tr]).backward()
            opt.step()
        with torch.no_grad():
            vals.append(float(c.estimate(x[te], y[te])))
    return sum(vals) / len(vals)


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    steps = 2000
    for a in sys.argv[1:]:
        if a.startswith("--steps="):
            steps = int(a.split("=", 1)[1])
    if not args:
        sys.exit(__doc__)
    torch.set_num_threads(1)
    for path in args:
        z = {k: torch.tensor(np.array(v)) for k, v in load_safetensors(path).items()}
        out = {"latents": path, "steps": steps}
        for key, std in (("club", False), ("club_standardized", True)):
            res = {name: club_pair(z[a], z[b], steps, 0, std) for name, a, b in PAIRS}
            res["sum"] = sum(res[n] for n, _, _ in PAIRS)
            out[key] = res
        out["std"] = {k: float(z[k].std(0).mean()) for k in ("zy", "zl", "za", "zv")}
        print(json.dumps(out))


if __name__ == "__main__":
    main()
