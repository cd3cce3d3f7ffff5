#!/usr/bin/python3
"""bert_golden.py: golden fixture for the C BERT (tests/test_bert.c).

A plain-PyTorch re-implementation of Hugging Face's BertModel (same module tree, so the
state_dict names are HF's), NOT the transformers package: embeddings (word + position + token
type, LayerNorm, dropout), N post-LayerNorm encoder layers with the additive key mask
(1 - mask) * -10000, exact erf GELU, and the tanh pooler on the first token. The word embedding
has padding_idx = pad_token_id.

It builds a tiny random BERT, runs it in float64 (so the reference carries no float32 rounding)
on a batch with one padded row and non-zero token types, in eval mode (no dropout), and writes
  tests/fixtures/bert_tiny_config.json       the HF-style config (with extra HF keys, to be ignored)
  tests/fixtures/bert_tiny.safetensors       parameters (prefix "encoder_l.bert."), inputs, the
                                             loss weights R1, R2 and, for the mask on ("masked.")
                                             and off ("nomask."): emb_out, seq, pooled, the
                                             gradient of the stack input (d_emb_out) and every
                                             parameter gradient ("grad." + name) of
                                             loss = sum(seq * R1) + sum(pooled * R2).
Everything is stored as float32 / int32. Usage: tools/bert_golden.py [OUT_DIR]
"""
import json
import math
import os
import struct
import sys

import numpy as np
import torch
from torch import nn

PREFIX = "encoder_l.bert."


from ref_bert import BertEmbeddings, BertEncoder, BertPooler  # noqa: E402  (shared with tools/mird_ref.py)


class BertModel(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.embeddings = BertEmbeddings(c)
        self.encoder = BertEncoder(c)
        self.pooler = BertPooler(c)

    def forward(self, ids, types, mask):
        e = self.embeddings(ids, types)
        e.retain_grad()
        ext = None if mask is None else (1.0 - mask[:, None, None, :].to(e.dtype)) * -10000.0
        seq = self.encoder(e, ext)
        return e, seq, self.pooler(seq)


def write_safetensors(path, tensors):
    """Hand-written safetensors writer (the format is tiny, and the safetensors package is not
    installed): 8-byte little-endian header length, JSON header, raw little-endian data."""
    header, blobs, off = {}, [], 0
    for name, arr in tensors.items():
        arr = np.ascontiguousarray(arr)
        dt = {np.dtype("float32"): "F32", np.dtype("int32"): "I32"}[arr.dtype]
        b = arr.astype(arr.dtype.newbyteorder("<")).tobytes()
        header[name] = {"dtype": dt, "shape": list(arr.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def main():
    out_dir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "tests", "fixtures")
    torch.manual_seed(20240917)
    cfg = {
        "architectures": ["BertForMaskedLM"], "model_type": "bert", "transformers_version": "4.6.0.dev0",
        "gradient_checkpointing": False, "use_cache": True, "classifier_dropout": None,
        "vocab_size": 40, "hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 4,
        "intermediate_size": 48, "hidden_act": "gelu", "hidden_dropout_prob": 0.1,
        "attention_probs_dropout_prob": 0.1, "max_position_embeddings": 16, "type_vocab_size": 2,
        "initializer_range": 0.02, "layer_norm_eps": 1e-12, "pad_token_id": 0,
        "position_embedding_type": "absolute",
    }
    B, T, H = 3, 7, cfg["hidden_size"]
    model = BertModel(cfg).double().eval()  # eval: dropout off
    with torch.no_grad():  # non-trivial LayerNorm affine parameters and biases
        for n, p in model.named_parameters():
            if "LayerNorm.weight" in n:
                p.copy_(1 + 0.1 * torch.randn_like(p))
            elif n.endswith("bias"):
                p.copy_(0.1 * torch.randn_like(p))
            else:
                p.copy_(0.3 * torch.randn_like(p))
    ids = torch.randint(1, cfg["vocab_size"], (B, T))
    ids[1, 5:] = cfg["pad_token_id"]  # row 1: 5 tokens then padding
    ids[2, 3] = cfg["pad_token_id"]   # a pad id inside a row that is not masked
    types = torch.zeros(B, T, dtype=torch.long)
    types[0, 4:] = 1
    types[2, 2:] = 1
    mask = torch.ones(B, T, dtype=torch.long)
    mask[1, 5:] = 0
    R1 = torch.randn(B, T, H, dtype=torch.float64)
    R2 = torch.randn(B, H, dtype=torch.float64)

    t = {PREFIX + n: p.detach().float().numpy() for n, p in model.named_parameters()}
    t["input_ids"] = ids.int().numpy()
    t["token_type_ids"] = types.int().numpy()
    t["attention_mask"] = mask.int().numpy()
    t["R1"] = R1.float().numpy()
    t["R2"] = R2.float().numpy()
    for tag, m in (("masked.", mask), ("nomask.", None)):
        model.zero_grad()
        e, seq, pooled = model(ids, types, m)
        loss = (seq * R1).sum() + (pooled * R2).sum()
        loss.backward()
        t[tag + "emb_out"] = e.detach().float().numpy()
        t[tag + "seq"] = seq.detach().float().numpy()
        t[tag + "pooled"] = pooled.detach().float().numpy()
        t[tag + "d_emb_out"] = e.grad.float().numpy()
        for n, p in model.named_parameters():
            t[tag + "grad." + PREFIX + n] = p.grad.float().numpy()
        assert float(model.embeddings.word_embeddings.weight.grad[cfg["pad_token_id"]].abs().max()) == 0.0
        print(f"{tag} loss {loss.item():.6f}")
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "bert_tiny_config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
        f.write("\n")
    write_safetensors(os.path.join(out_dir, "bert_tiny.safetensors"), t)


if __name__ == "__main__":
    main()
