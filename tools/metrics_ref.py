#!/usr/bin/python3
"""Reference implementation of mird's evaluation metrics (numpy only) and generator of the golden
fixture tests/fixtures/metrics_cases.txt used by tests/test_metrics.c.

Definitions (MIRD.md; the MMSA toolkit's conventions):
  has0: truth >= 0 vs pred >= 0 over all clips; non0: truth > 0 vs pred > 0 over clips with truth != 0;
  acc5 / acc7: np.round(np.clip(x, -2, 2)) / np.round(np.clip(x, -3, 3)) equal (round half to even);
  F1: sklearn's f1_score(truth, pred, average='weighted'), written out here so that sklearn is not
  needed: per class c of the labels present in truth or pred, F1_c = 2 tp / (2 tp + fp + fn)
  (0 when that is 0/0), weighted by the class's support in the truth.
  Pearson r with zero variance on either side -> 0 (documented convention); empty set -> NaN.
Usage: tools/metrics_ref.py [--out tests/fixtures/metrics_cases.txt]
"""
import argparse
import numpy as np


def weighted_f1(truth, pred):
    truth = np.asarray(truth, dtype=bool)
    pred = np.asarray(pred, dtype=bool)
    if truth.size == 0:
        return float("nan")
    total = 0.0
    for c in np.unique(np.concatenate([truth, pred])):
        tp = np.sum((truth == c) & (pred == c))
        fp = np.sum((truth != c) & (pred == c))
        fn = np.sum((truth == c) & (pred != c))
        den = 2 * tp + fp + fn
        f = 2.0 * tp / den if den else 0.0
        total += f * np.sum(truth == c)
    return total / truth.size


def pearson(x, y):
    if x.size == 0:
        return float("nan")
    if np.all(x == x[0]) or np.all(y == y[0]):
        return 0.0
    return float(np.corrcoef(x, y)[0, 1])


def metrics(pred, truth):
    p = np.asarray(pred, dtype=np.float32).astype(np.float64)
    t = np.asarray(truth, dtype=np.float32).astype(np.float64)
    nan = float("nan")
    out = {}
    n = p.size
    out["has0_acc2"] = float(np.mean((p >= 0) == (t >= 0))) if n else nan
    out["has0_f1"] = weighted_f1(t >= 0, p >= 0)
    nz = t != 0
    pn, tn = p[nz], t[nz]
    out["non0_acc2"] = float(np.mean((pn > 0) == (tn > 0))) if pn.size else nan
    out["non0_f1"] = weighted_f1(tn > 0, pn > 0)
    out["mae"] = float(np.mean(np.abs(p - t))) if n else nan
    out["corr"] = pearson(p, t)
    out["non0_mae"] = float(np.mean(np.abs(pn - tn))) if pn.size else nan
    out["non0_corr"] = pearson(pn, tn)
    out["acc5"] = float(np.mean(np.round(np.clip(p, -2, 2)) == np.round(np.clip(t, -2, 2)))) if n else nan
    out["acc7"] = float(np.mean(np.round(np.clip(p, -3, 3)) == np.round(np.clip(t, -3, 3)))) if n else nan
    out["mse"] = float(np.mean((p - t) ** 2)) if n else nan
    return out


KEYS = ["has0_acc2", "has0_f1", "non0_acc2", "non0_f1", "mae", "corr", "non0_mae", "non0_corr", "acc5", "acc7", "mse"]


def cases(rng):
    halves = np.array([-3.5, -2.5, -1.5, -0.5, 0.5, 1.5, 2.5, 3.5, 0.0, -0.0], dtype=np.float32)
    mosi_like = (np.round(rng.uniform(-3, 3, 400) * 5) / 5).astype(np.float32)  # steps of 0.2, some 0
    yield "random_continuous", rng.normal(0, 1.5, 300).astype(np.float32), rng.uniform(-3, 3, 300).astype(np.float32)
    t = mosi_like.copy()
    t[::7] = 0
    yield "mosi_like_with_zeros", (t + rng.normal(0, 0.8, t.size)).astype(np.float32), t
    p = rng.choice(halves, 200)
    yield "ties_at_half_boundaries", p, rng.choice(halves, 200)
    p = rng.choice(halves, 150)
    yield "ties_pred_vs_continuous_truth", p, rng.uniform(-4, 4, 150).astype(np.float32)
    yield "constant_prediction", np.full(50, 0.25, np.float32), rng.uniform(-3, 3, 50).astype(np.float32)
    yield "constant_zero_prediction", np.zeros(40, np.float32), rng.choice(halves, 40)
    yield "all_labels_zero", rng.normal(0, 1, 20).astype(np.float32), np.zeros(20, np.float32)
    yield "single_clip", np.array([0.5], np.float32), np.array([1.5], np.float32)
    yield "one_class_only", rng.uniform(0.1, 3, 30).astype(np.float32), rng.uniform(0.1, 3, 30).astype(np.float32)
    yield "empty", np.zeros(0, np.float32), np.zeros(0, np.float32)
    yield "out_of_range", rng.normal(0, 6, 100).astype(np.float32), rng.normal(0, 6, 100).astype(np.float32)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="tests/fixtures/metrics_cases.txt")
    args = ap.parse_args()
    rng = np.random.default_rng(20240918)
    lines = ["# golden metrics written by tools/metrics_ref.py: case NAME N, N lines 'pred truth', expect KEY VALUE"]
    for name, p, t in cases(rng):
        lines.append("case %s %d" % (name, p.size))
        for a, b in zip(p, t):
            lines.append("%.9g %.9g" % (a, b))
        m = metrics(p, t)
        for k in KEYS:
            lines.append("expect %s %s" % (k, "nan" if np.isnan(m[k]) else "%.17g" % m[k]))
    with open(args.out, "w") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
