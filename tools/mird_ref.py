#!/usr/bin/python3
"""mird_ref.py: a PyTorch reference of the whole MIRD model and training step, written from the
project's spec (MIRD.md / INTERFACES.md), with module and parameter names equal to the official
state_dict names. It needs only torch and numpy (no transformers, no safetensors package).

Modes:
  mird_ref.py debug-step --checkpoint CKPT --batch BATCH --out OUT [--steps N] [--lr X] [--mi-lr X]
                         [--weight-decay X] [--club-steps K]
      The same contract as `mird debug-step` (INTERFACES.md section 4), computed in PyTorch.
  mird_ref.py golden OUTDIR
      Writes the committed golden fixtures: for each case a tiny random configuration, a checkpoint
      (safetensors, official names, config in __metadata__ "mird.config"), a batch and the expected
      debug-step output (2 steps, dropout off).
  mird_ref.py random-case DIR [--seed S] [--paper]
      One random case (config + checkpoint + batch) for ad-hoc comparisons (tools/check_paper.sh).

Semantics worth knowing (all from MIRD.md):
- encoder_l BERT is called with ids only (mask all ones, token types 0);
- word embeddings have padding_idx 0 (the [PAD] row gets no gradient);
- the official Sparsemax (max shift, sort, cumsum, torch.max(0, z - tau)) with autograd through it:
  at an exact tie z_i == tau the element gets half the gradient (torch.maximum's rule);
- alpha = min(beta * ||E|| / (||M|| + 1e-6), 1) with ||M|| == 0 replaced by 1;
- AdamW = transformers.optimization.AdamW (eps 1e-6, bias correction, decay after the update,
  parameters whose grad was never created are skipped); estimators use torch.optim.Adam.
"""
import argparse
import json
import math
import os
import struct
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

# ----------------------------------------------------------------------------- safetensors I/O
# (hand-written because the safetensors package is not installed here; the format is tiny:
#  8-byte little-endian header length, JSON header, raw little-endian data)
_DT = {"F32": np.float32, "F64": np.float64, "I64": np.int64, "I32": np.int32}
_DT_INV = {np.dtype(np.float32): "F32", np.dtype(np.float64): "F64", np.dtype(np.int64): "I64",
           np.dtype(np.int32): "I32"}


def st_save(path, tensors, metadata=None):
    header = {}
    if metadata:
        header["__metadata__"] = metadata
    off = 0
    blobs = []
    for name in sorted(tensors):
        a = np.ascontiguousarray(tensors[name])
        b = a.tobytes()
        header[name] = {"dtype": _DT_INV[a.dtype], "shape": list(a.shape), "data_offsets": [off, off + len(b)]}
        off += len(b)
        blobs.append(b)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)
    os.replace(tmp, path)


def st_load_meta(path):
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
    return header, header.get("__metadata__", {}) or {}


def st_load(path):
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    meta = header.pop("__metadata__", {}) or {}
    out = {}
    base = 8 + n
    for name, info in header.items():
        b, e = info["data_offsets"]
        out[name] = np.frombuffer(data[base + b:base + e], dtype=_DT[info["dtype"]]).reshape(info["shape"]).copy()
    return out, meta


# ----------------------------------------------------------------------------- configuration
BERT_DEFAULT = {"vocab_size": 30522, "hidden_size": 768, "num_hidden_layers": 12, "num_attention_heads": 12,
                "intermediate_size": 3072, "hidden_act": "gelu", "hidden_dropout_prob": 0.1,
                "attention_probs_dropout_prob": 0.1, "max_position_embeddings": 512, "type_vocab_size": 2,
                "layer_norm_eps": 1e-12, "pad_token_id": 0}
MIRD_DEFAULT = {"d_a": 33, "d_v": 709, "zy_size": 64, "zl_size": 64, "za_size": 64, "zv_size": 64,
                "club_hidden": 32, "beta_shift": 1.0, "fusion": "WSA", "text_encoder": "bert",
                "dropout_prob": 0.5, "dropout_l": 0.5, "dropout_multi": 0.5, "zy_to_y_dropout": 0.5}


def resolve_config(cfg):
    out = dict(MIRD_DEFAULT)
    for k, v in cfg.items():
        if k != "bert":
            out[k] = v
    b = dict(BERT_DEFAULT)
    for k, v in (cfg.get("bert") or {}).items():
        if k in BERT_DEFAULT:
            b[k] = v
    out["bert"] = b
    return out


# ----------------------------------------------------------------------------- BERT (HF names)
from ref_bert import (  # noqa: E402  (the BERT modules shared with tools/bert_golden.py)
    BertAttention, BertEmbeddings, BertEncoder, BertIntermediate, BertLayer, BertOutput, BertPooler,
    BertSelfAttention, BertSelfOutput, ext_mask_of)


class BertModel(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.embeddings = BertEmbeddings(c)
        self.encoder = BertEncoder(c)
        self.pooler = BertPooler(c)

    def forward(self, ids):  # encoder_l: ids only, no mask, token types 0
        e = self.embeddings(ids, torch.zeros_like(ids))
        return self.pooler(self.encoder(e, None))


# ----------------------------------------------------------------------------- WSA
def official_sparsemax(x):
    """The authors' Sparsemax over the last dim, with autograd through it (as in their code)."""
    n = x.shape[-1]
    z = x - torch.max(x, dim=-1, keepdim=True)[0]
    zs = torch.sort(z, dim=-1, descending=True)[0]
    rng = torch.arange(1, n + 1, dtype=x.dtype).expand_as(zs)
    bound = 1 + rng * zs
    cs = torch.cumsum(zs, -1)
    is_gt = torch.gt(bound, cs).type(x.dtype)
    k = torch.max(is_gt * rng, -1, keepdim=True)[0]
    taus = (torch.sum(is_gt * zs, -1, keepdim=True) - 1) / k
    return torch.max(torch.zeros_like(z), z - taus)


class WSA(nn.Module):
    def __init__(self, H, d_a, d_v, beta_shift, dropout_prob, fusion):
        super().__init__()
        self.W_v = nn.Linear(d_v, H)
        self.W_a = nn.Linear(d_a, H)
        self.W_v_ = nn.Linear(d_v, H)
        self.W_a_ = nn.Linear(d_a, H)
        self.W_hv = nn.Linear(d_v + H, H)
        self.W_ha = nn.Linear(d_a + H, H)
        self.beta_shift = beta_shift
        self.fusion = fusion
        self.LayerNorm = nn.LayerNorm(H)  # eps 1e-5
        self.dropout = nn.Dropout(dropout_prob)

    def forward(self, text, visual, acoustic):
        eps = 1e-6
        att = official_sparsemax if self.fusion == "WSA" else (lambda s: F.softmax(s, dim=-1))
        new_v = self.W_v(visual)
        new_a = self.W_a(acoustic)
        aligned_v = torch.bmm(att(torch.bmm(text, new_v.transpose(1, 2))), visual)
        aligned_a = torch.bmm(att(torch.bmm(text, new_a.transpose(1, 2))), acoustic)
        weight_v = F.relu(self.W_hv(torch.cat((aligned_v, text), dim=-1)))
        weight_a = F.relu(self.W_ha(torch.cat((aligned_a, text), dim=-1)))
        h_m = weight_v * self.W_v_(aligned_v) + weight_a * self.W_a_(aligned_a)
        em_norm = text.norm(2, dim=-1)
        hm_norm = h_m.norm(2, dim=-1)
        hm_norm = torch.where(hm_norm == 0, torch.ones_like(hm_norm), hm_norm)
        thresh = (em_norm / (hm_norm + eps)) * self.beta_shift
        alpha = torch.min(thresh, torch.ones_like(thresh)).unsqueeze(-1)
        return self.dropout(self.LayerNorm(alpha * h_m + text))


class BERTModelWSA(nn.Module):
    def __init__(self, c):
        super().__init__()
        b = c["bert"]
        self.embeddings = BertEmbeddings(b)
        self.encoder = BertEncoder(b)
        self.pooler = BertPooler(b)
        # the authors' BERTModel names the fusion attribute after the variant: WA for WA, else WSA
        self.fusion_attr = "WA" if c["fusion"] == "WA" else "WSA"
        self.add_module(self.fusion_attr, WSA(b["hidden_size"], c["d_a"], c["d_v"], c["beta_shift"],
                                              c["dropout_prob"], c["fusion"]))

    def forward(self, ids, visual, acoustic, mask, tt):
        e = self.embeddings(ids, tt)
        f = getattr(self, self.fusion_attr)(e, visual, acoustic)
        return self.pooler(self.encoder(f, ext_mask_of(mask)))


class MultiEncoder(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.model = BERTModelWSA(c)
        self.encoder = nn.Linear(c["bert"]["hidden_size"], c["zy_size"])
        self.dropout = nn.Dropout(c["dropout_multi"])

    def forward(self, ids, visual, acoustic, mask, tt):
        return self.encoder(self.dropout(self.model(ids, visual, acoustic, mask, tt)))


class BERTEncoder(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.bert = BertModel(c["bert"])
        self.encoder = nn.Linear(c["bert"]["hidden_size"], c["zl_size"])
        self.dropout = nn.Dropout(c["dropout_l"])

    def forward(self, ids):
        return self.encoder(self.dropout(self.bert(ids)))


def lstm_run(cell, x, H):  # x [B, T, D] -> list of h_t
    B = x.shape[0]
    h = torch.zeros(B, H)
    c = torch.zeros(B, H)
    hs = []
    for t in range(x.shape[1]):
        h, c = cell(x[:, t], (h, c))
        hs.append(h)
    return hs


class TextLSTMEncoder(nn.Module):  # names as the authors' TextLSTMEncoder: embedding, lstm, fc1
    def __init__(self, V, E, H):
        super().__init__()
        self.H = H
        self.embedding = nn.Embedding(V, E)
        self.lstm = nn.LSTMCell(E, H)
        self.fc1 = nn.Linear(H, H)

    def forward(self, ids):
        return self.fc1(lstm_run(self.lstm, self.embedding(ids), self.H)[-1])


class EncoderLSTM(nn.Module):
    def __init__(self, d, h):
        super().__init__()
        self.h = h
        self.lstm = nn.LSTMCell(d, h)
        self.fc1 = nn.Linear(h, h)

    def forward(self, x):
        return self.fc1(lstm_run(self.lstm, x, self.h)[-1])


class DecoderLSTM(nn.Module):
    def __init__(self, h, d):
        super().__init__()
        self.h = h
        self.lstm = nn.LSTMCell(h, h)
        self.fc1 = nn.Linear(h, d)

    def forward(self, z, T):
        B = z.shape[0]
        h = torch.zeros(B, self.h)
        c = torch.zeros(B, self.h)
        hs = []
        inp = z
        for _ in range(T):
            h, c = self.lstm(inp, (h, c))
            hs.append(h)
            inp = h
        return self.fc1(torch.stack(hs, 1))


class MIRD(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c = c
        V = c["bert"]["vocab_size"]
        if c["text_encoder"] == "lstm":
            self.encoder_l = TextLSTMEncoder(V, 128, c["zl_size"])
        else:
            self.encoder_l = BERTEncoder(c)
        self.encoder_a = EncoderLSTM(c["d_a"], c["za_size"])
        self.encoder_v = EncoderLSTM(c["d_v"], c["zv_size"])
        zy = c["zy_size"]
        self.decoder_l = DecoderLSTM(zy + c["zl_size"], V)
        self.decoder_a = DecoderLSTM(zy + c["za_size"], c["d_a"])
        self.decoder_v = DecoderLSTM(zy + c["zv_size"], c["d_v"])
        self.mult_encoder = MultiEncoder(c)
        self.zy_to_y_fc1 = nn.Linear(zy + c["zl_size"] + c["za_size"] + c["zv_size"], zy)
        self.zy_to_y_fc2 = nn.Linear(zy, 1)
        self.zy_to_y_dropout = nn.Dropout(c["zy_to_y_dropout"])

    def latents(self, ids, mask, tt, acoustic, visual):
        zl = self.encoder_l(ids)
        za = self.encoder_a(acoustic)
        zv = self.encoder_v(visual)
        zy = self.mult_encoder(ids, visual, acoustic, mask, tt)
        return zl, za, zv, zy

    def forward(self, ids, mask, tt, acoustic, visual):
        zl, za, zv, zy = self.latents(ids, mask, tt, acoustic, visual)
        x_l_hat = self.decoder_l(torch.cat([zy, zl], 1), ids.shape[1])
        x_a_hat = self.decoder_a(torch.cat([zy, za], 1), acoustic.shape[1])
        x_v_hat = self.decoder_v(torch.cat([zy, zv], 1), visual.shape[1])
        y_hat = self.zy_to_y_fc2(self.zy_to_y_dropout(F.relu(self.zy_to_y_fc1(torch.cat([zy, zl, za, zv], 1)))))
        return zl, za, zv, zy, x_l_hat, x_a_hat, x_v_hat, y_hat


class CLUB(nn.Module):
    def __init__(self, x_dim, y_dim, hidden):
        super().__init__()
        self.p_mu = nn.Sequential(nn.Linear(x_dim, hidden // 2), nn.ReLU(), nn.Linear(hidden // 2, y_dim))
        self.p_logvar = nn.Sequential(nn.Linear(x_dim, hidden // 2), nn.ReLU(), nn.Linear(hidden // 2, y_dim),
                                      nn.Tanh())

    def forward(self, x, y):
        mu, logvar = self.p_mu(x), self.p_logvar(x)
        positive = -(mu - y) ** 2 / 2. / logvar.exp()
        negative = -((y.unsqueeze(0) - mu.unsqueeze(1)) ** 2).mean(dim=1) / 2. / logvar.exp()
        return (positive.sum(dim=-1) - negative.sum(dim=-1)).mean()

    def learning_loss(self, x, y):
        mu, logvar = self.p_mu(x), self.p_logvar(x)
        return -(-(mu - y) ** 2 / logvar.exp() - logvar).sum(dim=1).mean(dim=0)


CLUB_PAIRS = [("la", "zl", "za"), ("lv", "zl", "zv"), ("av", "za", "zv"),
              ("yl", "zy", "zl"), ("ya", "zy", "za"), ("yv", "zy", "zv")]


class Estimators(nn.Module):
    def __init__(self, c):
        super().__init__()
        size = {"zl": c["zl_size"], "za": c["za_size"], "zv": c["zv_size"], "zy": c["zy_size"]}
        for n, x, y in CLUB_PAIRS:
            setattr(self, "club_" + n, CLUB(size[x], size[y], c["club_hidden"]))


class AdamW(torch.optim.Optimizer):
    """transformers.optimization.AdamW (the formula used by the official code)."""

    def __init__(self, groups, lr, betas=(0.9, 0.999), eps=1e-6, weight_decay=0.0):
        super().__init__(groups, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay))

    @torch.no_grad()
    def step(self):
        for g in self.param_groups:
            for p in g["params"]:
                if p.grad is None:
                    continue
                st = self.state[p]
                if not st:
                    st["step"] = 0
                    st["exp_avg"] = torch.zeros_like(p)
                    st["exp_avg_sq"] = torch.zeros_like(p)
                m, v = st["exp_avg"], st["exp_avg_sq"]
                b1, b2 = g["betas"]
                st["step"] += 1
                m.mul_(b1).add_(p.grad, alpha=1.0 - b1)
                v.mul_(b2).addcmul_(p.grad, p.grad, value=1.0 - b2)
                denom = v.sqrt().add_(g["eps"])
                step_size = g["lr"] * math.sqrt(1.0 - b2 ** st["step"]) / (1.0 - b1 ** st["step"])
                p.addcdiv_(m, denom, value=-step_size)
                if g["weight_decay"] > 0.0:
                    p.add_(p, alpha=-g["lr"] * g["weight_decay"])


# ----------------------------------------------------------------------------- losses and step
def club_inputs(lat, club_std):
    """--club-input standardized (not in the paper): each latent standardised per dimension over the
    batch rows (biased variance, eps 1e-10) before the estimators, gradient included."""
    if not club_std:
        return lat
    return {k: (v - v.mean(0)) / torch.sqrt(v.var(0, unbiased=False) + 1e-10) for k, v in lat.items()}


def model_losses(model, est, batch, B_l, objective="log", club_std=False):
    ids, mask, tt, ac, vi, labels = batch
    zl, za, zv, zy, xl, xa, xv, yh = model(ids, mask, tt, ac, vi)
    out = {"zl": zl, "za": za, "zv": zv, "zy": zy, "x_l_hat": xl, "x_a_hat": xa, "x_v_hat": xv, "y_hat": yh}
    lat = club_inputs({"zl": zl, "za": za, "zv": zv, "zy": zy}, club_std)
    rec_l = F.cross_entropy(xl.reshape(-1, xl.shape[-1]), ids.reshape(-1))
    rec_a = F.mse_loss(xa, ac)
    rec_v = F.mse_loss(xv, vi)
    pred = F.mse_loss(yh[:B_l].view(-1), labels.view(-1)) if B_l > 0 else None
    mis = {n: getattr(est, "club_" + n)(lat[x], lat[y]) for n, x, y in CLUB_PAIRS}
    mi = sum(mis.values())
    if objective in ("log", "no_rec", "no_mi"):
        total = torch.zeros(())
        if objective != "no_rec":
            total = total + torch.log(rec_l) + torch.log(rec_a) + torch.log(rec_v)
        if objective != "no_mi":
            total = total + mi
        if pred is not None:
            total = total + torch.log(pred)
    elif objective == "pred":
        total = pred if pred is not None else torch.zeros(())
    elif objective == "weighted":
        total = 0.1 * rec_l + 10.0 * rec_a + 100.0 * rec_v
        if pred is not None:
            total = total + pred
    else:
        raise ValueError(objective)
    out.update({"loss.pred": pred if pred is not None else torch.zeros(()), "loss.rec_l": rec_l,
                "loss.rec_a": rec_a, "loss.rec_v": rec_v, "loss.total": total})
    for n in mis:
        out["mi." + n] = mis[n]
    return out


def est_loss(model, est, batch, club_std=False):
    ids, mask, tt, ac, vi, _ = batch
    with torch.no_grad():
        zl, za, zv, zy = model.latents(ids, mask, tt, ac, vi)
    lat = club_inputs({"zl": zl, "za": za, "zv": zv, "zy": zy}, club_std)
    return sum(getattr(est, "club_" + n).learning_loss(lat[x], lat[y]) for n, x, y in CLUB_PAIRS)


def load_model(ckpt_path):
    tensors, meta = st_load(ckpt_path)
    cfg = resolve_config(json.loads(meta.get("mird.config", "{}")))
    model, est = MIRD(cfg), Estimators(cfg)
    for mod in (model, est):
        sd = mod.state_dict()
        for k in sd:
            src = k
            if k not in tensors:  # a WA checkpoint written before the fusion tensors took the name WA
                src = k.replace(".WA.", ".WSA.", 1) if ".WA." in k else k.replace(".WSA.", ".WA.", 1)
            if src not in tensors:
                raise SystemExit("mird_ref: checkpoint lacks %s" % k)
            sd[k] = torch.from_numpy(tensors[src].astype(np.float32))
        mod.load_state_dict(sd)
    return cfg, model, est


def load_batch(path):
    t, _ = st_load(path)
    ids = torch.from_numpy(t["input_ids"].astype(np.int64))
    mask = torch.from_numpy(t["attention_mask"].astype(np.int64))
    tt = torch.from_numpy(t["token_type_ids"].astype(np.int64))
    ac = torch.from_numpy(t["acoustic"].astype(np.float32))
    vi = torch.from_numpy(t["visual"].astype(np.float32))
    labels = torch.from_numpy(t["labels"].astype(np.float32).reshape(-1))
    return (ids, mask, tt, ac, vi, labels), labels.shape[0]


def debug_step(model, est, batch, B_l, steps=1, lr=1e-5, mi_lr=1e-3, wd=0.01, K=5, objective="log",
               club_std=False):
    model.eval()  # dropout off
    est.eval()
    named = list(model.named_parameters())
    opt = AdamW([{"params": [p for n, p in named if not any(s in n for s in ("bias", "LayerNorm.weight",
                                                                             "LayerNorm.bias"))],
                  "weight_decay": wd},
                 {"params": [p for n, p in named if any(s in n for s in ("bias", "LayerNorm.weight",
                                                                         "LayerNorm.bias"))],
                  "weight_decay": 0.0}], lr=lr)
    mi_opt = torch.optim.Adam(est.parameters(), lr=mi_lr)
    out = {}
    losses = []
    for s in range(steps):
        o = model_losses(model, est, batch, B_l, objective, club_std)
        opt.zero_grad()
        if o["loss.total"].requires_grad:  # (the "pred" objective without a labeled row has no graph)
            o["loss.total"].backward()
        losses.append(float(o["loss.total"]))
        if s == 0:
            for k, v in o.items():
                out[k] = v.detach().numpy().astype(np.float32).reshape(v.shape if v.dim() else (1,))
            for n, p in named:
                g = p.grad if p.grad is not None else torch.zeros_like(p)
                out["grad." + n] = g.detach().numpy().copy()
        opt.step()
        if objective in ("log", "no_rec"):
            for _ in range(K):
                l = est_loss(model, est, batch, club_std)
                mi_opt.zero_grad()
                l.backward()
                mi_opt.step()
    for n, p in list(model.named_parameters()) + list(est.named_parameters()):
        out["param." + n] = p.detach().numpy().copy()
    out["losses"] = np.array(losses, dtype=np.float32)
    return out


# ----------------------------------------------------------------------------- random cases
def tiny_config(rs, fusion="WSA", text_encoder="bert", paper=False):
    if paper:
        return {"fusion": fusion, "text_encoder": text_encoder}
    H = 16
    return {"bert": {"vocab_size": 40, "hidden_size": H, "num_hidden_layers": 2, "num_attention_heads": 2,
                     "intermediate_size": 24, "max_position_embeddings": 16, "type_vocab_size": 2},
            "d_a": 5, "d_v": 7, "zy_size": 6, "zl_size": 5, "za_size": 4, "zv_size": 7, "club_hidden": 8,
            "beta_shift": float(rs.choice([1.0, 0.7])), "fusion": fusion, "text_encoder": text_encoder}


def random_params(model, est, rs, scale=0.2):
    g = torch.Generator().manual_seed(int(rs.randint(1 << 30)))
    with torch.no_grad():
        for n, p in model.named_parameters():
            if "LayerNorm.weight" in n:
                p.copy_(1.0 + 0.1 * torch.randn(p.shape, generator=g))
            elif "lstm" in n:
                p.copy_(0.4 * torch.randn(p.shape, generator=g))
            elif any(x in n for x in (".WSA.W_a.", ".WSA.W_v.", ".WA.W_a.", ".WA.W_v.")):
                p.copy_(0.5 * torch.randn(p.shape, generator=g))
            elif "word_embeddings" in n or "encoder_l.embedding" in n:
                p.copy_(torch.randn(p.shape, generator=g))
            else:
                p.copy_(scale * torch.randn(p.shape, generator=g))
        for n, p in est.named_parameters():
            p.copy_(0.3 * torch.randn(p.shape, generator=g))


def random_batch(rs, cfg, B, B_l, Tl, Ta, Tv, pad=True, ids_dtype=np.int64):
    V = cfg["bert"]["vocab_size"]
    ids = np.zeros((B, Tl), dtype=np.int64)
    mask = np.zeros((B, Tl), dtype=np.int64)
    for i in range(B):
        n = Tl if not pad or Tl < 2 else int(rs.randint(2, Tl + 1))
        ids[i, :n] = rs.randint(1, V, size=n)
        ids[i, 0] = min(2, V - 1)  # a [CLS]-like id
        mask[i, :n] = 1
    tt = np.zeros((B, Tl), dtype=np.int64)
    if cfg["bert"]["type_vocab_size"] > 1:
        tt[:, Tl // 2:] = rs.randint(0, 2, size=(B, Tl - Tl // 2)) * mask[:, Tl // 2:]
    ac = rs.randn(B, Ta, cfg["d_a"]).astype(np.float32)
    vi = rs.randn(B, Tv, cfg["d_v"]).astype(np.float32)
    if pad:
        for i in range(B):
            ac[i, rs.randint(1, Ta + 1):] = 0
            vi[i, rs.randint(1, Tv + 1):] = 0
    labels = rs.uniform(-3, 3, size=(B_l,)).astype(np.float32)
    return {"input_ids": ids.astype(ids_dtype), "attention_mask": mask.astype(ids_dtype),
            "token_type_ids": tt.astype(ids_dtype), "acoustic": ac, "visual": vi, "labels": labels}


def write_case(d, seed, B=4, B_l=2, Tl=6, Ta=7, Tv=5, pad=True, fusion="WSA", text_encoder="bert",
               ids_dtype=np.int64, paper=False, steps=2, expected=True, lr=1e-5, mi_lr=1e-3, wd=0.01, K=5,
               club_std=False):
    os.makedirs(d, exist_ok=True)
    rs = np.random.RandomState(seed)
    torch.manual_seed(seed)
    cfg_user = tiny_config(rs, fusion, text_encoder, paper)
    cfg = resolve_config(cfg_user)
    model, est = MIRD(cfg), Estimators(cfg)
    if not paper:
        random_params(model, est, rs)
    tensors = {k: v.detach().numpy().copy() for k, v in list(model.state_dict().items()) +
               list(est.state_dict().items())}
    st_save(os.path.join(d, "ckpt.safetensors"), tensors, {"mird.config": json.dumps(cfg_user)})
    bt = random_batch(rs, cfg, B, B_l, Tl, Ta, Tv, pad, ids_dtype)
    st_save(os.path.join(d, "batch.safetensors"), bt)
    if expected:
        batch, bl = load_batch(os.path.join(d, "batch.safetensors"))
        if club_std:
            # In float64: standardising a latent column with a small spread over the rows (rstd ~ 250
            # here) amplifies float32 rounding, and PyTorch's float32 gradients then differ from the
            # exact ones by ~1e-3 relative (mird keeps the column statistics in double and lands far
            # closer). The reference is exact instead of one more float32 computation.
            prev = torch.get_default_dtype()
            torch.set_default_dtype(torch.float64)
            try:
                _, model, est = load_model(os.path.join(d, "ckpt.safetensors"))
                batch = tuple(t.double() if t.is_floating_point() else t for t in batch)
                out = debug_step(model, est, batch, bl, steps=steps, lr=lr, mi_lr=mi_lr, wd=wd, K=K, club_std=True)
            finally:
                torch.set_default_dtype(prev)
            out = {k: v.astype(np.float32) for k, v in out.items()}
        else:
            out = debug_step(model, est, batch, bl, steps=steps, lr=lr, mi_lr=mi_lr, wd=wd, K=K)
        st_save(os.path.join(d, "expected.safetensors"), out)
        with open(os.path.join(d, "args"), "w") as f:  # the debug-step flags of this case
            f.write("--steps %d --lr %r --mi-lr %r --weight-decay %r --club-steps %d%s\n" %
                    (steps, lr, mi_lr, wd, K, " --club-input standardized" if club_std else ""))


GOLDEN_CASES = [
    # name, kwargs
    ("base", dict(seed=1, B=4, B_l=2, pad=True, fusion="WSA")),
    ("nolabel_wa", dict(seed=2, B=3, B_l=0, pad=True, fusion="WA", ids_dtype=np.int32)),
    # large rates so that the parameter comparison after two steps tests the optimisers too
    ("lstm_full", dict(seed=3, B=4, B_l=4, pad=False, fusion="WSA", text_encoder="lstm", lr=1e-2, mi_lr=1e-2,
                       wd=0.1, K=3)),
    # the CLUB estimators on batch-standardised latents (--club-input standardized)
    ("club_std", dict(seed=4, B=5, B_l=3, pad=True, fusion="WSA", lr=1e-3, mi_lr=1e-2, club_std=True)),
]


STRUCTURALLY_ZERO = ("attention.self.key.bias", "WSA.W_a.bias", "WSA.W_v.bias", ".WA.W_a.bias", ".WA.W_v.bias")


def grad_scale(exp):
    return max([float(np.abs(v).max()) for k, v in exp.items() if k.startswith("grad.") and v.size] + [0.0])


def tensor_error(name, got, exp, gscale=0.0):
    """max |got - exp| / max(max |exp|, floor) and its tolerance: the rule tests/test_mird.c uses.
    Floors: gradients max(1e-5, 1e-6 * the largest gradient of the model) (some gradients are exactly
    0 in exact arithmetic, e.g. attention key biases and the WSA W_a / W_v biases, and carry only
    rounding noise), MI estimates and losses 1e-2 (differences / logs of O(1) terms; a total made of
    MI estimates alone can be ~1e-4), parameters 1e-5 (a zero-initialised
    bias whose gradient is such noise moves by noise-driven Adam steps), others 1e-6."""
    if name.startswith("grad.") and name.endswith(STRUCTURALLY_ZERO):
        # exactly 0 in exact arithmetic (a softmax / sparsemax is shift invariant): both sides are
        # rounding noise, which must stay small against the model's largest gradient
        return float(max(np.abs(got).max(), np.abs(exp).max())) / max(gscale, 1e-5), 1e-5
    floor = (max(1e-5, 1e-6 * gscale) if name.startswith("grad.") else
             1e-2 if name.startswith(("mi.", "loss.", "losses")) else 1e-5 if name.startswith("param.") else 1e-6)
    scale = max(float(np.abs(exp).max()) if exp.size else 0.0, floor)
    err = float(np.abs(exp - got).max()) / scale if exp.size else 0.0
    return err, (1e-3 if name.startswith("grad.") else 1e-4)


def compare(got_path, exp_path):
    """Error of each tensor relative to the expected tensor's scale; tolerances as the tests use."""
    got, _ = st_load(got_path)
    exp, _ = st_load(exp_path)
    bad = 0
    worst = {}
    gs = grad_scale(exp)
    for k in sorted(exp):
        if k not in got:
            print("MISSING", k)
            bad += 1
            continue
        e = exp[k].astype(np.float64).reshape(-1)
        g = got[k].astype(np.float64).reshape(-1)
        if e.shape != g.shape:
            print("SHAPE", k, got[k].shape, exp[k].shape)
            bad += 1
            continue
        err, tol = tensor_error(k, g, e, gs)
        kind = k.split(".")[0] if "." in k else k
        if err > worst.get(kind, (0, ""))[0]:
            worst[kind] = (err, k)
        if not err <= tol:
            print("FAIL %-70s rel err %.3g (tol %g)" % (k, err, tol))
            bad += 1
    for kind, (err, k) in sorted(worst.items()):
        print("worst %-10s %.3g  %s" % (kind, err, k))
    print("%d tensors, %d out of tolerance" % (len(exp), bad))
    return 1 if bad else 0


OPTIM_SHAPES = [("a.weight", (5, 4)), ("a.bias", (5,)), ("b.LayerNorm.weight", (3,)), ("late.weight", (2, 3))]


def optim_golden(path, steps=3):
    """AdamW (transformers formula, lr 0.1, wd 0.1) and torch.optim.Adam (lr 0.05) over a few
    tensors for `steps` steps; late.weight has no gradient at step 0 (p.grad is None)."""
    rs = np.random.RandomState(5)
    out = {}
    init = {n: rs.randn(*s).astype(np.float32) for n, s in OPTIM_SHAPES}
    grads = [{n: (rs.randn(*s) * 10.0 ** rs.randint(-3, 1)).astype(np.float32) for n, s in OPTIM_SHAPES}
             for _ in range(steps)]
    for n in init:
        out["init." + n] = init[n]
        for t in range(steps):
            out["grad.%d.%s" % (t, n)] = grads[t][n]
    for kind in ("adamw", "adam"):
        ps = {n: torch.nn.Parameter(torch.from_numpy(init[n].copy())) for n in init}
        decay = [p for n, p in ps.items() if not any(s in n for s in ("bias", "LayerNorm.weight", "LayerNorm.bias"))]
        nodecay = [p for n, p in ps.items() if any(s in n for s in ("bias", "LayerNorm.weight", "LayerNorm.bias"))]
        if kind == "adamw":
            opt = AdamW([{"params": decay, "weight_decay": 0.1}, {"params": nodecay, "weight_decay": 0.0}], lr=0.1)
        else:
            opt = torch.optim.Adam(list(ps.values()), lr=0.05)
        for t in range(steps):
            opt.zero_grad()
            for n, p in ps.items():
                if t == 0 and n == "late.weight":
                    continue
                p.grad = torch.from_numpy(grads[t][n].copy())
            opt.step()
        for n, p in ps.items():
            out["%s.%s" % (kind, n)] = p.detach().numpy().copy()
    st_save(path, out)


def random_config(rs):
    H = int(rs.choice([8, 12, 16]))
    nh = int(rs.choice([h for h in (1, 2, 4) if H % h == 0]))
    return {"bert": {"vocab_size": int(rs.randint(10, 60)), "hidden_size": H,
                     "num_hidden_layers": int(rs.randint(1, 3)), "num_attention_heads": nh,
                     "intermediate_size": int(rs.randint(4, 20)), "max_position_embeddings": 12,
                     "type_vocab_size": int(rs.choice([1, 2]))},
            "d_a": int(rs.randint(1, 8)), "d_v": int(rs.randint(1, 10)), "zy_size": int(rs.randint(1, 9)),
            "zl_size": int(rs.randint(1, 9)), "za_size": int(rs.randint(1, 9)), "zv_size": int(rs.randint(1, 9)),
            "club_hidden": int(rs.randint(2, 11)), "beta_shift": float(rs.choice([1.0, 0.5, 2.0])),
            "fusion": str(rs.choice(["WSA", "WA"])), "text_encoder": str(rs.choice(["bert", "bert", "lstm"]))}


def selfcheck(n, binary, seed0, workdir):
    """n random configurations / batches / flags: `binary debug-step` against this reference."""
    import subprocess
    os.makedirs(workdir, exist_ok=True)
    failed = 0
    for case in range(n):
        seed = seed0 + case
        rs = np.random.RandomState(seed)
        torch.manual_seed(seed)
        cfg_user = random_config(rs)
        cfg = resolve_config(cfg_user)
        model, est = MIRD(cfg), Estimators(cfg)
        random_params(model, est, rs, scale=float(rs.choice([0.05, 0.2, 0.5])))
        tensors = {k: v.detach().numpy().copy() for k, v in list(model.state_dict().items()) +
                   list(est.state_dict().items())}
        ck, bp = os.path.join(workdir, "ckpt.safetensors"), os.path.join(workdir, "batch.safetensors")
        st_save(ck, tensors, {"mird.config": json.dumps(cfg_user)})
        B = int(rs.randint(1, 7))
        B_l = int(rs.randint(0, B + 1))
        bt = random_batch(rs, cfg, B, B_l, int(rs.randint(1, 9)), int(rs.randint(1, 10)), int(rs.randint(1, 10)),
                          pad=bool(rs.randint(2)), ids_dtype=rs.choice([np.int64, np.int32]))
        st_save(bp, bt)
        steps, K = int(rs.randint(1, 4)), int(rs.randint(0, 6))
        lr, mi_lr, wd = float(rs.choice([1e-5, 1e-3])), float(rs.choice([1e-3, 1e-2])), float(rs.choice([0.01, 0.1]))
        objective = str(rs.choice(["log", "log", "log", "log", "weighted", "no_rec", "no_mi", "pred"]))
        batch, bl = load_batch(bp)
        exp = debug_step(model, est, batch, bl, steps, lr, mi_lr, wd, K, objective)
        # terms outside the objective are not computed by the C model (it reports 0 for them)
        skip = (("mi.",) if objective in ("weighted", "no_mi", "pred") else ()) + \
            (("loss.rec", "x_l_hat", "x_a_hat", "x_v_hat") if objective in ("no_rec", "pred") else ())
        exp = {k: v for k, v in exp.items() if not k.startswith(skip)} if skip else exp
        ep = os.path.join(workdir, "expected.safetensors")
        st_save(ep, exp)
        gp = os.path.join(workdir, "got.safetensors")
        cmd = [binary, "debug-step", "--checkpoint", ck, "--batch", bp, "--out", gp, "--steps", str(steps),
               "--lr", repr(lr), "--mi-lr", repr(mi_lr), "--weight-decay", repr(wd), "--club-steps", str(K),
               "--objective", objective]
        r = subprocess.run(cmd, capture_output=True, text=True)
        desc = "case %d seed %d: %s B=%d B_l=%d steps=%d K=%d objective=%s" % (
            case, seed, json.dumps(cfg_user), B, B_l, steps, K, objective)
        if r.returncode:
            print("FAIL (exit %d) %s\n  %s" % (r.returncode, desc, r.stderr.strip()))
            failed += 1
            continue
        got, _ = st_load(gp)
        bad = []
        gs = grad_scale(exp)
        for k in exp:
            if k not in got or got[k].size != exp[k].size:
                bad.append(k + " (missing/shape)")
                continue
            err, tol = tensor_error(k, got[k].astype(np.float64).reshape(-1), exp[k].astype(np.float64).reshape(-1), gs)
            if not err <= tol:
                bad.append("%s %.3g" % (k, err))
        if bad:
            failed += 1
            print("FAIL %s\n  %s" % (desc, "; ".join(bad[:8])))
        else:
            print("ok   case %d seed %d" % (case, seed))
    print("%d of %d random cases failed" % (failed, n))
    return 1 if failed else 0


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="mode", required=True)
    d = sub.add_parser("debug-step")
    d.add_argument("--checkpoint", required=True)
    d.add_argument("--batch", required=True)
    d.add_argument("--out", required=True)
    d.add_argument("--steps", type=int, default=1)
    d.add_argument("--lr", type=float, default=1e-5)
    d.add_argument("--mi-lr", type=float, default=1e-3)
    d.add_argument("--weight-decay", type=float, default=0.01)
    d.add_argument("--club-steps", type=int, default=5)
    g = sub.add_parser("golden")
    g.add_argument("outdir")
    r = sub.add_parser("random-case")
    r.add_argument("dir")
    r.add_argument("--seed", type=int, default=7)
    r.add_argument("--paper", action="store_true")
    r.add_argument("--B", type=int, default=4)
    r.add_argument("--B-l", type=int, default=2)
    r.add_argument("--Tl", type=int, default=6)
    r.add_argument("--Ta", type=int, default=7)
    r.add_argument("--Tv", type=int, default=5)
    r.add_argument("--fusion", default="WSA")
    r.add_argument("--text-encoder", default="bert")
    bb = sub.add_parser("batch")
    bb.add_argument("--checkpoint", required=True)
    bb.add_argument("--out", required=True)
    bb.add_argument("--seed", type=int, default=1)
    bb.add_argument("--B", type=int, default=4)
    bb.add_argument("--B-l", type=int, default=2)
    bb.add_argument("--Tl", type=int, default=50)
    bb.add_argument("--Ta", type=int, default=400)
    bb.add_argument("--Tv", type=int, default=55)
    sc = sub.add_parser("selfcheck")
    sc.add_argument("--n", type=int, default=20)
    sc.add_argument("--bin", default="build/mird")
    sc.add_argument("--seed", type=int, default=1000)
    sc.add_argument("--workdir", default="build/selfcheck")
    og = sub.add_parser("optim-golden")
    og.add_argument("out")
    cm = sub.add_parser("compare")
    cm.add_argument("got")
    cm.add_argument("expected")
    a = ap.parse_args()
    torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))
    if a.mode == "debug-step":
        cfg, model, est = load_model(a.checkpoint)
        batch, B_l = load_batch(a.batch)
        out = debug_step(model, est, batch, B_l, a.steps, a.lr, a.mi_lr, a.weight_decay, a.club_steps)
        st_save(a.out, out)
    elif a.mode == "golden":
        for name, kw in GOLDEN_CASES:
            write_case(os.path.join(a.outdir, "mird_" + name), **kw)
    elif a.mode == "batch":
        _, meta = st_load_meta(a.checkpoint)
        cfg = resolve_config(json.loads(meta.get("mird.config", "{}")))
        rs = np.random.RandomState(a.seed)
        st_save(a.out, random_batch(rs, cfg, a.B, a.B_l, a.Tl, a.Ta, a.Tv, pad=True))
    elif a.mode == "selfcheck":
        return selfcheck(a.n, a.bin, a.seed, a.workdir)
    elif a.mode == "optim-golden":
        optim_golden(a.out)
    elif a.mode == "compare":
        return compare(a.got, a.expected)
    else:
        write_case(a.dir, a.seed, B=a.B, B_l=a.B_l, Tl=a.Tl, Ta=a.Ta, Tv=a.Tv, fusion=a.fusion,
                   text_encoder=a.text_encoder, paper=a.paper, expected=False)


if __name__ == "__main__":
    sys.exit(main())
