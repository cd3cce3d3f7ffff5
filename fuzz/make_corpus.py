#!/usr/bin/python3
"""Writes the seed corpora fuzz/corpus/<target>/ of the libFuzzer targets (fuzz/fuzz_<target>.c).

Run from the repo root: fuzz/make_corpus.py   (needs numpy and torch; deterministic for a given
Python / numpy / torch version). Seeds are copies or slices of the test fixtures plus small files
written here in each format, valid ones and the typical broken ones; everything stays small (the
whole corpus well under 2 MB) so the smoke run in tests/ starts fast."""
import collections
import io
import json
import os
import pickle
import shutil
import struct
import zipfile

import numpy as np

FIX = os.path.join("tests", "fixtures")
OUT = os.path.join("fuzz", "corpus")


def put(target, name, data):
    d = os.path.join(OUT, target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def fixture(*parts):
    with open(os.path.join(FIX, *parts), "rb") as f:
        return f.read()


def safetensors(tensors, metadata=None, pad=True):
    """tensors: list of (name, dtype string, shape, raw bytes) in data order."""
    header, off, blob = {}, 0, b""
    if metadata is not None:
        header["__metadata__"] = metadata
    for name, dt, shape, raw in tensors:
        header[name] = {"dtype": dt, "shape": list(shape), "data_offsets": [off, off + len(raw)]}
        off += len(raw)
        blob += raw
    h = json.dumps(header, separators=(",", ":")).encode()
    if pad:
        h += b" " * (-len(h) % 8)
    return struct.pack("<Q", len(h)) + h + blob


def arr(a):
    return np.ascontiguousarray(a).tobytes()


def corpus_safetensors():
    for d in ("st_plain", "st_prefixed"):
        put("safetensors", d + ".safetensors", fixture("hf_bert", d, "model.safetensors"))
    r = np.random.default_rng(0)
    f32 = r.standard_normal((2, 3)).astype(np.float32)
    put("safetensors", "dtypes.safetensors", safetensors([
        ("f64", "F64", (2,), arr(np.array([1.5, -2.0]))),
        ("f32", "F32", (2, 3), arr(f32)),
        ("f16", "F16", (3,), arr(np.array([1, -0.5, 65504], np.float16))),
        ("bf16", "BF16", (2,), struct.pack("<HH", 0x3F80, 0xC000)),
        ("i64", "I64", (2,), arr(np.array([2**40, -1], np.int64))),
        ("i32", "I32", (1, 2), arr(np.array([[7, -7]], np.int32))),
        ("i16", "I16", (1,), arr(np.array([-3], np.int16))),
        ("i8", "I8", (2,), arr(np.array([-1, 1], np.int8))),
        ("u8", "U8", (2,), bytes([0, 255])),
        ("b", "BOOL", (2,), bytes([0, 1])),
        ("scalar", "F32", (), arr(np.array(3.0, np.float32))),
        ("empty", "F32", (0, 4), b""),
    ], {"format": "pt", "mird.config": "{\"d_a\": 5}"}))
    put("safetensors", "unpadded.safetensors", safetensors([("x", "F32", (1,), arr(np.ones(1, np.float32)))], pad=False))
    put("safetensors", "empty_header.safetensors", safetensors([]))
    good = safetensors([("a", "F32", (2,), arr(np.ones(2, np.float32)))])
    put("safetensors", "truncated.safetensors", good[:-3])
    put("safetensors", "huge_len.safetensors", struct.pack("<Q", 2**63) + good[8:])
    put("safetensors", "overlap.safetensors", b"P\0\0\0\0\0\0\0" + json.dumps(
        {"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]},
         "b": {"dtype": "F32", "shape": [1], "data_offsets": [2, 6]}}).encode().ljust(80) + b"\0" * 8)


def corpus_checkpoint():
    r = np.random.default_rng(1)
    layout = [("encoder_l.bert.embeddings.word_embeddings.weight", (11, 4)), ("zy_to_y_fc1.bias", (3,)),
              ("club_la.p_mu.0.weight", (5, 7)), ("conv.weight", (2, 1, 3, 2))]
    cfg = json.dumps({"bert": {"hidden_size": 4, "num_attention_heads": 1}, "d_a": 5, "d_v": 7, "fusion": "WSA"})
    params = [(n, "F32", s, arr(r.standard_normal(s).astype(np.float32))) for n, s in layout]
    optim = [("optim.m." + n, "F32", s, arr(np.zeros(s, np.float32))) for n, s in layout]
    put("checkpoint", "ckpt.safetensors", safetensors(params + optim, {"mird.config": cfg, "mird.step": "3"}))
    put("checkpoint", "ckpt_f16.safetensors", safetensors(
        [(n, "F16", s, arr(r.standard_normal(s).astype(np.float16))) for n, s in layout], {"mird.config": "{}"}))
    put("checkpoint", "ckpt_noconfig.safetensors", safetensors(params))
    put("checkpoint", "ckpt_badconfig.safetensors", safetensors(params, {"mird.config": "[1, 2"}))
    put("checkpoint", "ckpt_wrongshape.safetensors", safetensors(
        [(layout[0][0], "F32", (4, 11), params[0][3])] + params[1:], {"mird.config": cfg}))
    put("checkpoint", "ckpt_int.safetensors", safetensors(
        [(layout[1][0], "I32", (3,), arr(np.arange(3, dtype=np.int32)))] + params[:1] + params[2:]))


def torch_bytes(obj):
    b = io.BytesIO()
    import torch
    torch.save(obj, b)
    return b.getvalue()


def corpus_torch_zip():
    import torch
    torch.manual_seed(0)
    for d in ("pt_plain", "pt_prefixed_half"):
        put("torch_zip", d + ".bin", fixture("hf_bert", d, "pytorch_model.bin"))
    for n in ("deflated.bin", "evil.bin", "notensor.bin", "views.bin"):
        put("torch_zip", n, fixture("torch_misc", n))
    base = torch.arange(12, dtype=torch.float32).reshape(3, 4)
    sd = collections.OrderedDict([("t", base.t()), ("row", base[1]), ("d", torch.ones(2, dtype=torch.float64)),
                                  ("h", torch.ones(3, dtype=torch.float16)), ("bf", torch.ones(2, dtype=torch.bfloat16)),
                                  ("i", torch.arange(3)), ("s", torch.tensor(2.5)), ("e", torch.zeros(0, 3)),
                                  ("p", torch.nn.Parameter(torch.ones(2)))])
    put("torch_zip", "mixed.bin", torch_bytes(sd))
    put("torch_zip", "linear.bin", torch_bytes(torch.nn.Linear(2, 2).state_dict()))
    # a zip whose entry is deflated and declares a big size (a zip bomb's shape: never inflated)
    b = io.BytesIO()
    with zipfile.ZipFile(b, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(zipfile.ZipInfo("archive/data.pkl", (2020, 1, 1, 0, 0, 0)), b"\0" * 100000,
                   compress_type=zipfile.ZIP_DEFLATED)
    put("torch_zip", "bomb.zip", b.getvalue())
    b = io.BytesIO()
    with zipfile.ZipFile(b, "w", zipfile.ZIP_STORED) as z:
        z.writestr(zipfile.ZipInfo("archive/data.pkl", (2020, 1, 1, 0, 0, 0)), pickle.dumps({"a": 1}, protocol=2))
        z.writestr(zipfile.ZipInfo("archive/version", (2020, 1, 1, 0, 0, 0)), "3\n")
    put("torch_zip", "stored_plain.zip", b.getvalue())
    # the MIRD authors' torch.save files (tools/make_official_models.py): a whole module of each
    # variant at a micro size (its data.pkl also seeds the pickle target), and the hostile ones
    import sys
    import tempfile
    sys.path.insert(0, "tools")
    import make_official_models as mom
    with tempfile.TemporaryDirectory() as tmp:
        for i, (fusion, text) in enumerate((("WSA", "bert"), ("WA", "lstm"))):
            name = "module_%s_%s" % (fusion.lower(), text)
            mom.write_case(tmp, name, 30 + i, fusion, text, hf4=text == "lstm", micro=True)
            data = open(os.path.join(tmp, name, "model.pt"), "rb").read()
            put("torch_zip", name + ".pt", data)
            with zipfile.ZipFile(io.BytesIO(data)) as z:
                put("pickle", name + "_data.pkl", z.read("model/data.pkl"))
    for n in sorted(os.listdir(os.path.join(FIX, "torch_module", "hostile"))):
        put("torch_zip", "module_hostile_" + n, fixture("torch_module", "hostile", n))


def corpus_pickle():
    for n in sorted(os.listdir(os.path.join(FIX, "pickle"))):
        if n.endswith(".pkl"):
            put("pickle", n, fixture("pickle", n))
    r = np.random.default_rng(2)
    a = r.standard_normal((2, 3, 4)).astype(np.float32)
    a[0, 0, 0] = -np.inf
    for p in (2, 4, 5):
        put("pickle", f"ndarray_f32_p{p}.pkl", pickle.dumps(a, protocol=p))
    put("pickle", "ndarray_f64_p4.pkl", pickle.dumps(r.standard_normal((2, 2)), protocol=4))
    put("pickle", "ndarray_fortran_p2.pkl", pickle.dumps(np.asfortranarray(a[0]), protocol=2))
    put("pickle", "scalars_p4.pkl", pickle.dumps([np.float32(1.5), np.float64(-2), np.int64(3)], protocol=4))
    split = {"raw_text": ["a good movie", "bad"], "audio": r.standard_normal((2, 3, 2)).astype(np.float32),
             "video": r.standard_normal((2, 4, 3)).astype(np.float32), "labels": np.array([[1.2], [-0.4]], np.float32)}
    put("pickle", "mird_p4.pkl", pickle.dumps({"train": split, "valid": split, "test": split}, protocol=4))
    mmsa = dict(raw_text=split["raw_text"], audio=split["audio"], vision=split["video"],
                regression_labels=np.array([1.2, -0.4], np.float32), id=["v$_1", "v$_2"],
                audio_lengths=[3, 2], vision_lengths=[4, 4],
                text_bert=np.zeros((2, 3, 5), np.float32))
    put("pickle", "mmsa_p4.pkl", pickle.dumps({"train": mmsa, "valid": mmsa, "test": mmsa}, protocol=4))
    put("pickle", "unlabeled_p2.pkl", pickle.dumps({k: split[k] for k in ("raw_text", "audio", "video")}, protocol=2))

    class Evil:
        def __reduce__(self):
            return (os.system, ("echo pwned",))
    put("pickle", "os_system.pkl", pickle.dumps(Evil(), protocol=2))
    put("pickle", "od_p2.pkl", pickle.dumps(collections.OrderedDict([("x", 1)]), protocol=2))
    put("pickle", "recursive_p4.pkl", pickle.dumps((lambda l: (l.append(l), l)[1])([]), protocol=4))
    put("pickle", "text_p0.pkl", pickle.dumps({"a": [1, 2.5, "s"]}, protocol=0))
    put("pickle", "truncated_p4.pkl", pickle.dumps(split, protocol=4)[:-20])


def corpus_configs():
    for d in ("st_plain", "pt_plain"):
        put("hf_config", d + ".json", fixture("hf_bert", d, "config.json"))
    put("hf_config", "bert_tiny.json", fixture("bert_tiny_config.json"))
    put("hf_config", "base.json", json.dumps({"vocab_size": 30522, "hidden_size": 768, "num_hidden_layers": 12,
                                              "num_attention_heads": 12, "intermediate_size": 3072, "hidden_act": "gelu",
                                              "position_embedding_type": "absolute", "pad_token_id": None}))
    put("hf_config", "bad_act.json", '{"hidden_act": "relu", "hidden_size": 7, "num_attention_heads": 2}')
    put("hf_config", "huge.json", '{"vocab_size": 2147483647, "hidden_size": 1e30, "layer_norm_eps": -1}')
    put("run_config", "basic.json", json.dumps({"data": "d.pkl", "out": "runs/x", "seeds": [1, 2, 3], "epochs": 3,
                                                "batch_size": 8, "lr": 5e-5, "club-mode": "official",
                                                "schedule": "paper", "select": "test", "ablation": "no-mi",
                                                "early_stop": 2, "resume": True, "max_len": 50}))
    put("run_config", "args.bin", b'{"data": "d"}\0--out\0r\0--seeds=1,2\0--lr\01e-3\0--quiet\0--schedule\0constant')
    put("run_config", "bad.json", '{"epochs": "3", "nope": 1}')
    put("run_config", "seeds_str.json", '{"seeds": "1,2,x", "warmup_proportion": 2.0, "threads": -1}')


def corpus_text():
    put("vocab", "tiny.txt", fixture("tok_tiny_vocab.txt"))
    put("vocab", "hf.txt", fixture("hf_bert", "st_plain", "vocab.txt"))
    put("vocab", "crlf.txt", fixture("tok_tiny_vocab.txt").replace(b"\n", b"\r\n"))
    put("vocab", "dups.txt", b"[PAD]\n[UNK]\n[CLS]\n[SEP]\na\n##a\na\n\n  \n##\n")
    put("vocab", "badutf8.txt", b"[PAD]\n[UNK]\n\xff\xfe\n")
    lines = [bytes.fromhex(l.strip()) for l in open(os.path.join(FIX, "tok_tricky.hex")) if l.strip()]
    for i, l in enumerate(lines[:40]):
        put("tokenizer", f"tricky_{i:02d}.txt", l)
    put("tokenizer", "invalid_utf8.txt", b"caf\xc3 \xff\xfe \xed\xa0\x80 [CLS]\x00[SEP]")


def st_metadata(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        return json.loads(f.read(n)).get("__metadata__", {})


def corpus_model_config():
    for d in sorted(os.listdir(FIX)):
        ck = os.path.join(FIX, d, "ckpt.safetensors")
        if d.startswith("mird_") and os.path.exists(ck):
            put("model_config", d + ".json", st_metadata(ck)["mird.config"])
    put("model_config", "paper.json", json.dumps({
        "bert": {"vocab_size": 30522, "hidden_size": 768, "num_hidden_layers": 12, "num_attention_heads": 12,
                 "intermediate_size": 3072, "hidden_act": "gelu", "hidden_dropout_prob": 0.1,
                 "attention_probs_dropout_prob": 0.1, "max_position_embeddings": 512, "type_vocab_size": 2,
                 "layer_norm_eps": 1e-12},
        "d_a": 33, "d_v": 709, "zy_size": 64, "zl_size": 64, "za_size": 64, "zv_size": 64, "club_hidden": 32,
        "beta_shift": 1.0, "fusion": "WSA", "text_encoder": "bert", "dropout_prob": 0.5, "dropout_l": 0.5,
        "dropout_multi": 0.5, "zy_to_y_dropout": 0.5}, indent=1))
    put("model_config", "empty.json", "{}")
    put("model_config", "lstm_wa.json", '{"fusion": "WA", "text_encoder": "lstm", "club_hidden": 3, "bert": {}}')
    put("model_config", "bad.json", '{"fusion": "wsa", "d_a": -1, "beta_shift": "1", "bert": []}')


def corpus_datasets(mird):
    """Dataset pickles (the loader's test fixtures and the generated ones) and .mird files made
    from them by `mird convert` (skipped when the program is not built)."""
    import subprocess
    import tempfile
    for n in sorted(os.listdir(os.path.join(FIX, "pickle"))):
        if n.endswith(".pkl") and not n.startswith("types") and not n.startswith("torch"):
            put("dataset_pickle", n, fixture("pickle", n))
    for n in ("mird_p4.pkl", "mmsa_p4.pkl", "unlabeled_p2.pkl", "os_system.pkl"):
        shutil.copy(os.path.join(OUT, "pickle", n), os.path.join(OUT, "dataset_pickle", "gen_" + n))
    if not os.access(mird, os.X_OK):
        print("make_corpus: %s not built: no .mird seeds" % mird)
        return
    with tempfile.TemporaryDirectory() as td:
        for n, extra in (("mird_p4_f32", []), ("mmsa_p4_text_bert", []), ("mmsa_p2_raw_text", []),
                         ("unlabeled_p5", ["--unlabeled"]), ("mird_p5_fortran_be", [])):
            for vocab in (False, True):
                out = os.path.join(td, "x.mird")
                args = [mird, "convert", os.path.join(FIX, "pickle", n + ".pkl"), out] + extra
                if vocab:
                    args += ["--vocab", os.path.join(FIX, "tok_tiny_vocab.txt"), "--max-len", "8"]
                subprocess.run(args, check=True)
                with open(out, "rb") as f:
                    put("dataset_file", n + ("_ids" if vocab else "") + ".mird", f.read())


def corpus_frames():
    put("frames", "audio5.txt", "0.1 0.2 0.3 0.4 0.5\n-1 -2 -3 -4 -5\n1e-3,2e3,3,4,5\n")
    put("frames", "video3.txt", "# visual frames\n1\t2\t3\n\n4, 5, 6\r\n")
    put("frames", "long.txt", "".join("%d %d %d %d %d\n" % (i, i + 1, i + 2, i + 3, i + 4) for i in range(10)))
    put("frames", "bad.txt", "1 2 3 4 5\nnan inf -inf 1e999 0x1p3\n1 2\nabc\n")


def main():
    if os.path.isdir(OUT):
        shutil.rmtree(OUT)
    corpus_safetensors()
    corpus_checkpoint()
    corpus_torch_zip()
    corpus_pickle()
    corpus_configs()
    corpus_text()
    corpus_model_config()
    corpus_frames()
    corpus_datasets(os.path.join("build", "mird"))


if __name__ == "__main__":
    main()
