#!/usr/bin/python3
"""Write tiny random Hugging Face BERT model directories (the test fixtures of tests/test_hf_import.c).

Usage: tools/make_hf_bert.py [OUT_DIR]      (default tests/fixtures/hf_bert)

Each directory holds config.json, vocab.txt, the weights, and checksums.txt: one line per BERT
tensor, "CANONICAL_NAME FNV1A64_HEX NUMEL", where CANONICAL_NAME is the Hugging Face BertModel name
without a "bert." prefix and with LayerNorm.weight/bias (not gamma/beta), and the checksum is the
64-bit FNV-1a of the tensor's float32 values, row-major, little-endian: the bytes the importer
must produce (bit-exactly).

  st_prefixed/  model.safetensors (written by hand below: no safetensors package needed), names
                "bert.*", plus a "cls.*" pre-training head and the int64 buffer
                bert.embeddings.position_ids, as BertForPreTraining.save_pretrained writes.
  st_plain/     model.safetensors with BertModel names (no prefix) and __metadata__ {"format": "pt"};
                also a pytorch_model.bin that is NOT a zip file: the importer must prefer the
                safetensors file and never open it.
  pt_plain/     pytorch_model.bin (torch.save zip) with BertModel names, old TF-style
                LayerNorm.gamma/beta names, and views: transposed (strides (1, n)) weights and
                tensors at storage offsets inside one shared storage.
  pt_prefixed_half/  pytorch_model.bin, "bert.*" names + "cls.*" head, an OrderedDict with
                _metadata like Module.state_dict(), weights stored as float16 and bfloat16
                (the checksums are of their exact float32 values).
st_prefixed, st_plain and pt_plain hold the same weights (identical checksums).

Also OUT_DIR/../torch_misc/ (tests/test_torch_load.c): views.bin (a plain dict with a permuted 3-d
view, a 0-d tensor, an empty tensor, float64 and int64 tensors; checksums in views.txt),
evil.bin (a pickle calling os.system: must be refused, never run), deflated.bin (pt_plain's
archive recompressed with deflate: refused), notensor.bin (a dict holding an int).
"""
import collections
import json
import os
import struct
import sys

import numpy as np
import torch

CFG = dict(architectures=["BertForMaskedLM"], attention_probs_dropout_prob=0.1, hidden_act="gelu",
           hidden_dropout_prob=0.1, hidden_size=8, initializer_range=0.02, intermediate_size=16,
           layer_norm_eps=1e-12, max_position_embeddings=16, model_type="bert", num_attention_heads=2,
           num_hidden_layers=2, pad_token_id=0, type_vocab_size=2, vocab_size=30)

VOCAB = ["[PAD]", "[unused0]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "a", "movie", "was", "good", "bad",
         "not", "very", "i", "it", "and", "##s", "##ing", "##ly", "!", ",", ".", "?", "great", "fun", "bor",
         "##ed", "love", "hate"]


def bert_shapes(c):
    H, I, V, P, T = c["hidden_size"], c["intermediate_size"], c["vocab_size"], c["max_position_embeddings"], \
        c["type_vocab_size"]
    s = collections.OrderedDict()
    s["embeddings.word_embeddings.weight"] = (V, H)
    s["embeddings.position_embeddings.weight"] = (P, H)
    s["embeddings.token_type_embeddings.weight"] = (T, H)
    s["embeddings.LayerNorm.weight"] = (H,)
    s["embeddings.LayerNorm.bias"] = (H,)
    for i in range(c["num_hidden_layers"]):
        p = "encoder.layer.%d." % i
        for n in ("query", "key", "value"):
            s[p + "attention.self.%s.weight" % n] = (H, H)
            s[p + "attention.self.%s.bias" % n] = (H,)
        s[p + "attention.output.dense.weight"] = (H, H)
        s[p + "attention.output.dense.bias"] = (H,)
        s[p + "attention.output.LayerNorm.weight"] = (H,)
        s[p + "attention.output.LayerNorm.bias"] = (H,)
        s[p + "intermediate.dense.weight"] = (I, H)
        s[p + "intermediate.dense.bias"] = (I,)
        s[p + "output.dense.weight"] = (H, I)
        s[p + "output.dense.bias"] = (H,)
        s[p + "output.LayerNorm.weight"] = (H,)
        s[p + "output.LayerNorm.bias"] = (H,)
    s["pooler.dense.weight"] = (H, H)
    s["pooler.dense.bias"] = (H,)
    return s


def cls_head(c, g):
    H, V = c["hidden_size"], c["vocab_size"]
    return collections.OrderedDict([
        ("cls.predictions.bias", torch.randn(V, generator=g)),
        ("cls.predictions.transform.dense.weight", torch.randn(H, H, generator=g)),
        ("cls.predictions.transform.dense.bias", torch.randn(H, generator=g)),
        ("cls.predictions.transform.LayerNorm.weight", torch.randn(H, generator=g)),
        ("cls.predictions.transform.LayerNorm.bias", torch.randn(H, generator=g)),
        ("cls.predictions.decoder.weight", torch.randn(V, H, generator=g)),
        ("cls.seq_relationship.weight", torch.randn(2, H, generator=g)),
        ("cls.seq_relationship.bias", torch.randn(2, generator=g)),
    ])


def fnv1a64(b):
    h = 0xcbf29ce484222325
    for x in b:
        h = ((h ^ x) * 0x100000001b3) & 0xffffffffffffffff
    return h


def write_checksums(path, weights):
    with open(path, "w") as f:
        for name, t in weights.items():
            a = t.detach().to(torch.float32).contiguous().numpy().astype("<f4")
            f.write("%s %016x %d\n" % (name, fnv1a64(a.tobytes()), a.size))


def write_safetensors(path, tensors, metadata=None):
    """The safetensors layout, by hand: u64 LE header length, JSON header padded with spaces to a
    multiple of 8, then the raw little-endian data of each tensor in header order."""
    dt = {torch.float32: ("F32", "<f4"), torch.int64: ("I64", "<i8"), torch.float16: ("F16", "<f2")}
    header, blobs, off = collections.OrderedDict(), [], 0
    if metadata:
        header["__metadata__"] = metadata
    for name, t in tensors.items():
        code, npt = dt[t.dtype]
        b = t.contiguous().numpy().astype(npt).tobytes()
        header[name] = {"dtype": code, "shape": list(t.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def write_common(d):
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump(CFG, f, indent=2, sort_keys=True)
        f.write("\n")
    with open(os.path.join(d, "vocab.txt"), "w") as f:
        f.write("\n".join(VOCAB) + "\n")


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "tests/fixtures/hf_bert"
    g = torch.Generator().manual_seed(1234)
    shapes = bert_shapes(CFG)
    W = collections.OrderedDict((n, torch.randn(*s, generator=g)) for n, s in shapes.items())
    pos_ids = torch.arange(CFG["max_position_embeddings"]).unsqueeze(0)

    # st_prefixed: bert.* + cls head + position_ids buffer
    d = os.path.join(out, "st_prefixed")
    write_common(d)
    sd = collections.OrderedDict()
    for n, t in W.items():
        sd["bert." + n] = t
        if n == "embeddings.LayerNorm.bias":
            sd["bert.embeddings.position_ids"] = pos_ids
    sd.update(cls_head(CFG, g))
    write_safetensors(os.path.join(d, "model.safetensors"), sd, {"format": "pt"})
    write_checksums(os.path.join(d, "checksums.txt"), W)

    # st_plain: no prefix, a decoy pytorch_model.bin that must not be read
    d = os.path.join(out, "st_plain")
    write_common(d)
    write_safetensors(os.path.join(d, "model.safetensors"), W, {"format": "pt"})
    with open(os.path.join(d, "pytorch_model.bin"), "wb") as f:
        f.write(b"this is not a zip file: the importer must use model.safetensors\n")
    write_checksums(os.path.join(d, "checksums.txt"), W)

    # pt_plain: torch.save zip, no prefix, gamma/beta names, views with strides and storage offsets
    d = os.path.join(out, "pt_plain")
    write_common(d)
    total = sum(t.numel() for n, t in W.items() if n.endswith(".bias")) + 5
    shared = torch.zeros(total)  # every bias is a slice of one storage, at an offset
    sd, pos = collections.OrderedDict(), 3
    for n, t in W.items():
        key = n.replace("LayerNorm.weight", "LayerNorm.gamma").replace("LayerNorm.bias", "LayerNorm.beta")
        if n.endswith(".bias"):
            shared[pos:pos + t.numel()] = t
            sd[key] = shared[pos:pos + t.numel()]
            pos += t.numel()
        elif t.dim() == 2:
            sd[key] = t.t().contiguous().t()  # same values, strides (1, rows)
        else:
            sd[key] = t.clone()
    torch.save(sd, os.path.join(d, "pytorch_model.bin"))
    write_checksums(os.path.join(d, "checksums.txt"), W)

    # pt_prefixed_half: bert.* + cls head, float16 / bfloat16 storages, Module-style _metadata
    d = os.path.join(out, "pt_prefixed_half")
    write_common(d)
    sd, conv = collections.OrderedDict(), collections.OrderedDict()
    for i, (n, t) in enumerate(W.items()):
        h = t.to(torch.bfloat16) if i % 3 == 0 else t.to(torch.float16)
        sd["bert." + n] = h
        conv[n] = h.to(torch.float32)
    sd["bert.embeddings.position_ids"] = pos_ids
    sd.update(cls_head(CFG, g))
    sd._metadata = collections.OrderedDict([("", {"version": 1}), ("bert", {"version": 1})])
    torch.save(sd, os.path.join(d, "pytorch_model.bin"))
    write_checksums(os.path.join(d, "checksums.txt"), conv)
    misc = os.path.join(os.path.dirname(os.path.abspath(out)), "torch_misc")
    os.makedirs(misc, exist_ok=True)
    base = torch.randn(2, 3, 4, generator=g)
    views = {"perm": base.permute(2, 0, 1), "scalar": torch.tensor(2.5), "empty": torch.zeros(0, 3),
             "f64": torch.randn(3, generator=g, dtype=torch.float64), "ids": torch.arange(5),
             "slice": base[1, 1:, ::2]}
    torch.save(views, os.path.join(misc, "views.bin"))
    write_checksums(os.path.join(misc, "views.txt"),
                    collections.OrderedDict((k, v) for k, v in views.items() if k != "ids"))
    torch.save({"a": Evil()}, os.path.join(misc, "evil.bin"))
    torch.save({"a": torch.ones(2), "n": 3}, os.path.join(misc, "notensor.bin"))
    import zipfile
    with zipfile.ZipFile(os.path.join(out, "pt_plain", "pytorch_model.bin")) as zi, \
            zipfile.ZipFile(os.path.join(misc, "deflated.bin"), "w", zipfile.ZIP_DEFLATED) as zo:
        for info in zi.infolist():
            zo.writestr(info.filename, zi.read(info.filename))
    print("wrote", out, "and", misc)


class Evil:
    def __reduce__(self):
        return (os.system, ("echo this must never run",))


if __name__ == "__main__":
    main()
