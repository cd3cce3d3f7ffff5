#!/usr/bin/python3
"""Golden PyTorch reference for the layer kernels: writes tests/fixtures/layers_golden.h, used by
tests/test_layers_golden.c. Inputs are random float32 values; PyTorch's own modules/functionals
(nn.LSTMCell, F.linear, F.layer_norm, F.gelu, F.softmax, F.cross_entropy, an attention written with
torch ops) evaluate outputs and autograd gradients in float64 from exactly those inputs, so the C
kernels (float32) must match to ~1e-5 relative. Every gradient is of loss = sum(output * proj).
Usage: tools/layers_golden.py [--out tests/fixtures/layers_golden.h]
"""
import argparse
import math

import numpy as np
import torch
import torch.nn.functional as F

rng = np.random.default_rng(2409)
arrays = []  # (name, np.float32 or int32 array)
defines = []


def rnd(*shape, scale=1.0):
    return (rng.standard_normal(shape) * scale).astype(np.float32)


def t64(a, grad=True):
    return torch.tensor(a.astype(np.float64), requires_grad=grad)


def emit(name, x):
    x = x.detach().numpy() if isinstance(x, torch.Tensor) else x
    arrays.append((name, np.ascontiguousarray(x)))


def linear_case():
    N, IC, OC = 3, 5, 4
    x, W, b, proj = rnd(N, IC), rnd(OC, IC, scale=0.5), rnd(OC), rnd(N, OC)
    tx, tW, tb = t64(x), t64(W), t64(b)
    out = F.linear(tx, tW, tb)
    (out * t64(proj, False)).sum().backward()
    defines.append(("LIN_N", N)), defines.append(("LIN_IC", IC)), defines.append(("LIN_OC", OC))
    for n, a in [("lin_x", x), ("lin_W", W), ("lin_b", b), ("lin_proj", proj), ("lin_out", out),
                 ("lin_dx", tx.grad), ("lin_dW", tW.grad), ("lin_db", tb.grad)]:
        emit(n, a)


def layernorm_case():
    N, C = 3, 7
    x, w, b, proj = rnd(N, C, scale=2.0) + 0.5, rnd(C, scale=0.5) + 1, rnd(C), rnd(N, C)
    tx, tw, tb = t64(x), t64(w), t64(b)
    out = F.layer_norm(tx, (C,), tw, tb, eps=1e-5)
    (out * t64(proj, False)).sum().backward()
    defines.append(("LN_N", N)), defines.append(("LN_C", C))
    for n, a in [("ln_x", x), ("ln_w", w), ("ln_b", b), ("ln_proj", proj), ("ln_out", out),
                 ("ln_dx", tx.grad), ("ln_dw", tw.grad), ("ln_db", tb.grad)]:
        emit(n, a)


def gelu_softmax_ce_case():
    n = 16
    x, proj = rnd(n, scale=2.0), rnd(n)
    tx = t64(x)
    out = F.gelu(tx)  # default approximate='none': the exact erf form
    (out * t64(proj, False)).sum().backward()
    defines.append(("GELU_N", n))
    for nm, a in [("gelu_x", x), ("gelu_proj", proj), ("gelu_out", out), ("gelu_dx", tx.grad)]:
        emit(nm, a)
    R, V = 4, 6
    x, proj = rnd(R, V, scale=2.0), rnd(R, V)
    tx = t64(x)
    out = F.softmax(tx, dim=-1)
    (out * t64(proj, False)).sum().backward()
    defines.append(("SM_R", R)), defines.append(("SM_V", V))
    for nm, a in [("sm_x", x), ("sm_proj", proj), ("sm_out", out), ("sm_dx", tx.grad)]:
        emit(nm, a)
    tgt = rng.integers(0, V, R).astype(np.int32)
    tx = t64(x)
    loss = F.cross_entropy(tx, torch.tensor(tgt.astype(np.int64)))  # reduction='mean'
    loss.backward()
    emit("ce_targets", tgt)
    emit("ce_loss", np.array([loss.item()]))
    emit("ce_dx", tx.grad)


def attention_case():
    B, T, NH, hs = 2, 5, 2, 3
    C = NH * hs
    q, k, v, proj = rnd(B, T, C), rnd(B, T, C), rnd(B, T, C), rnd(B, T, C)
    mask = np.zeros((B, T), np.float32)
    mask[1, 3:] = -10000.0  # padded keys of the second sequence
    drop = np.where(rng.random((B, NH, T, T)) < 0.2, 0.0, 1.25).astype(np.float32)
    tq, tk, tv = t64(q), t64(k), t64(v)

    def heads(t):
        return t.view(B, T, NH, hs).transpose(1, 2)  # [B, NH, T, hs]
    s = heads(tq) @ heads(tk).transpose(-1, -2) / math.sqrt(hs) + t64(mask, False)[:, None, None, :]
    p = F.softmax(s, dim=-1)
    out = (p * t64(drop, False)) @ heads(tv)
    out = out.transpose(1, 2).reshape(B, T, C)
    (out * t64(proj, False)).sum().backward()
    for nm, val in [("ATT_B", B), ("ATT_T", T), ("ATT_NH", NH), ("ATT_C", C)]:
        defines.append((nm, val))
    for nm, a in [("att_q", q), ("att_k", k), ("att_v", v), ("att_mask", mask), ("att_drop", drop),
                  ("att_proj", proj), ("att_out", out), ("att_probs", p), ("att_dq", tq.grad),
                  ("att_dk", tk.grad), ("att_dv", tv.grad)]:
        emit(nm, a)


def lstm_case(decoder):
    B, T, H = 2, 4, 5
    D = H if decoder else 3
    pre = "dec" if decoder else "enc"
    cell = torch.nn.LSTMCell(D, H).double()
    with torch.no_grad():
        for name, prm in cell.named_parameters():
            val = rnd(*prm.shape, scale=0.5)
            if name == "bias_ih":
                val[H:2 * H] += 1.0  # forget gates open
            prm.copy_(torch.tensor(val.astype(np.float64)))
    x = rnd(B, H) if decoder else rnd(B, T, D)
    proj = rnd(B, T, H)
    tx = t64(x)
    h = torch.zeros(B, H, dtype=torch.float64)
    c = torch.zeros(B, H, dtype=torch.float64)
    hs = []
    for t in range(T):
        inp = (tx if t == 0 else h) if decoder else tx[:, t]
        h, c = cell(inp, (h, c))
        hs.append(h)
    hs = torch.stack(hs, 1)  # [B, T, H]
    (hs * t64(proj, False)).sum().backward()
    defines.append((f"{pre.upper()}_B", B)), defines.append((f"{pre.upper()}_T", T))
    defines.append((f"{pre.upper()}_D", D)), defines.append((f"{pre.upper()}_H", H))
    for nm, a in [("x", x), ("proj", proj), ("h", hs), ("dx", tx.grad)]:
        emit(f"{pre}_{nm}", a)
    for name, prm in cell.named_parameters():
        emit(f"{pre}_{name}", prm.detach().numpy().astype(np.float32))
        emit(f"{pre}_d{name}", prm.grad)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="tests/fixtures/layers_golden.h")
    args = ap.parse_args()
    linear_case()
    layernorm_case()
    gelu_softmax_ce_case()
    attention_case()
    lstm_case(False)
    lstm_case(True)
    lines = ["// layers_golden.h: GENERATED by tools/layers_golden.py (PyTorch %s, float64 reference from"
             % torch.__version__.split("a")[0],
             "// float32 inputs). Do not edit; regenerate with the script.", "#pragma once", "#include <stdint.h>", ""]
    for n, v in defines:
        lines.append(f"#define {n} {v}")
    lines.append("")
    for n, a in arrays:
        flat = a.reshape(-1)
        if a.dtype == np.int32:
            body = ", ".join(str(int(v)) for v in flat)
            lines.append(f"static const int32_t {n}[{flat.size}] = {{{body}}};")
        else:
            body = ", ".join("%.9g" % float(v) for v in flat)
            typ = "float" if a.dtype == np.float32 else "double"
            lines.append(f"static const {typ} {n}[{flat.size}] = {{{body}}};")
    with open(args.out, "w") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
