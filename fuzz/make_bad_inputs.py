#!/usr/bin/python3
"""Writes the hostile and broken input files of tests/test_bad_inputs.sh into tests/fixtures/bad/
(the table in docs/bad_inputs.md lists them with the expected outcome).

Run from the repo root: fuzz/make_bad_inputs.py   (needs numpy; deterministic). Every file is tiny.
Pickles that would run a command if Python's own unpickler loaded them do `touch mird_pwned`: the
test checks that no such file ever appears."""
import io
import json
import os
import pickle
import shutil
import struct
import zipfile

import numpy as np

OUT = os.path.join("tests", "fixtures", "bad")
FIX = os.path.join("tests", "fixtures")


def put(name, data):
    if isinstance(data, str):
        data = data.encode()
    path = os.path.join(OUT, name)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)


def safetensors(header, blob=b""):
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    return struct.pack("<Q", len(h)) + h + blob


def f32(*v):
    return np.array(v, np.float32).tobytes()


class Cmd:
    """Pickles as os.system("touch mird_pwned") (what a malicious dataset or checkpoint does)."""

    def __init__(self, fn):
        self.fn = fn

    def __reduce__(self):
        return (self.fn, ("touch mird_pwned",))


def split(n=2, Ta=3, da=2, Tv=2, dv=3, labels=True, texts=None):
    r = np.random.default_rng(n)
    s = {"raw_text": texts if texts is not None else ["clip %d" % i for i in range(n)],
         "audio": r.standard_normal((n, Ta, da)).astype(np.float32),
         "video": r.standard_normal((n, Tv, dv)).astype(np.float32)}
    if labels:
        s["labels"] = np.linspace(-1, 1, n).astype(np.float32)
    return s


def dataset(**mod):
    d = {"train": split(), "valid": split(), "test": split()}
    for k, v in mod.items():
        name, key = k.split("__")
        d[name][key] = v
    return d


def pk(obj, protocol=4):
    return pickle.dumps(obj, protocol=protocol)


def main():
    if os.path.isdir(OUT):
        shutil.rmtree(OUT)
    os.makedirs(OUT)
    good_st = safetensors({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}, f32(1, 2))
    # ---- safetensors (mird inspect, checkpoints)
    put("st_truncated.safetensors", good_st[:-3])
    put("st_header_truncated.safetensors", good_st[:20])
    put("st_huge_header_len.safetensors", struct.pack("<Q", 2**63 + 8) + good_st[8:])
    put("st_offsets_outside.safetensors", safetensors(
        {"a": {"dtype": "F32", "shape": [1 << 28], "data_offsets": [0, 1 << 30]}}, f32(1)))
    put("st_unknown_dtype.safetensors", safetensors({"a": {"dtype": "F8_E9M9", "shape": [2], "data_offsets": [0, 2]}}, b"xx"))
    put("st_shape_mismatch.safetensors", safetensors({"a": {"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}}, f32(1, 2)))
    put("st_huge_shape.safetensors", safetensors(
        {"a": {"dtype": "F32", "shape": [1 << 40, 1 << 40], "data_offsets": [0, 8]}}, f32(1, 2)))
    put("st_overlap.safetensors", safetensors({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
                                               "b": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}}, f32(1, 2)))
    put("st_header_not_json.safetensors", struct.pack("<Q", 8) + b"{\"a\": [ ")
    put("st_newline_in_name.safetensors", safetensors(
        {"a\nmird: a forged second line": {"dtype": "F32", "shape": [1], "data_offsets": [0, 8]}}, f32(1)))
    put("st_config_not_json.safetensors", safetensors(
        {"__metadata__": {"mird.config": "{\"d_a\": "}, "a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}},
        f32(1, 2)))
    # ---- pickles: the reader's refusals
    put("pk_os_system.pkl", pk(Cmd(os.system), 2))
    put("pk_system_in_dataset.pkl", pk({"train": {"labels": Cmd(os.system)}}, 4))
    put("pk_eval.pkl", b"\x80\x02cbuiltins\neval\nX\x1a\x00\x00\x00__import__('os').system('touch mird_pwned')\x85R.")
    put("pk_unknown_opcode.pkl", b"\x80\x04\x95\x03\x00\x00\x00\x00\x00\x00\x00}\xff.")
    put("pk_truncated.pkl", pk(dataset())[:400])
    put("pk_huge_bytes.pkl", b"\x80\x04\x8e" + struct.pack("<Q", 1 << 62) + b"abc.")
    put("pk_huge_memo_get.pkl", b"\x80\x02}j\xff\xff\xff\xff.")
    put("pk_deep_marks.pkl", b"\x80\x02" + b"(" * 100000 + b".")
    put("pk_empty.pkl", b"\x80\x02")
    # ---- dataset pickles: well-formed pickles with bad contents
    nan_a = split()
    nan_a["audio"][1, 2, 0] = np.nan
    put("ds_nan_audio.pkl", pk(dataset(valid__audio=nan_a["audio"])))
    inf_v = split()
    inf_v["video"][0, 1, 2] = np.inf
    put("ds_inf_video.pkl", pk(dataset(test__video=inf_v["video"])))
    big = split()["video"].astype(np.float64)
    big[0, 0, 0] = 1e300
    put("ds_f64_overflows_f32.pkl", pk(dataset(train__video=big)))
    put("ds_nan_label.pkl", pk(dataset(train__labels=np.array([0.5, np.nan], np.float32))))
    put("ds_empty_split.pkl", pk({"train": split(), "valid": split(), "test": split(n=0)}))
    put("ds_label_count.pkl", pk(dataset(valid__labels=np.zeros(3, np.float32))))
    put("ds_text_count.pkl", pk(dataset(train__raw_text=["only one"])))
    put("ds_wrong_rank.pkl", pk(dataset(train__audio=np.zeros((2, 6), np.float32))))
    put("ds_wrong_dtype.pkl", pk(dataset(train__audio=np.zeros((2, 3, 2), np.complex64))))
    # a lone surrogate (what a Python 2 writer or a broken tool leaves): the same length as "clip 1"
    put("ds_text_not_utf8.pkl", pk(dataset(), 4).replace(b"clip 1", b"cli\xed\xa0\x80", 1))
    put("ds_not_a_dict.pkl", pk([1, 2, 3], 2))
    put("ds_no_splits.pkl", pk({"hello": 1}, 2))
    put("ds_mmsa_huge_lengths.pkl", pk({s: dict(raw_text=["a", "b"], audio=np.zeros((2, 3, 2), np.float32),
                                              vision=np.zeros((2, 2, 3), np.float32),
                                              regression_labels=np.zeros(2, np.float32), id=["x", "y"],
                                              audio_lengths=[3, 2**40], vision_lengths=[1, 1])
                                        for s in ("train", "valid", "test")}))
    # ---- model configurations (mird init --config)
    put("cfg_not_json.json", '{"d_a": 33,')
    put("cfg_wrong_type.json", '{"d_a": "33"}')
    put("cfg_bad_value.json", '{"fusion": "attention"}')
    put("cfg_negative.json", '{"zy_size": -4}')
    put("cfg_huge_vocab.json", '{"bert": {"vocab_size": 2000000000}}')
    put("cfg_huge_layers.json", '{"bert": {"num_hidden_layers": 100000000}}')
    put("cfg_not_object.json", '[1, 2, 3]')
    put("cfg_tiny.json", json.dumps({"bert": {"vocab_size": 30, "hidden_size": 8, "num_hidden_layers": 1,
                                              "num_attention_heads": 2, "intermediate_size": 16,
                                              "max_position_embeddings": 16},
                                     "d_a": 5, "d_v": 7, "zy_size": 4, "zl_size": 4, "za_size": 4, "zv_size": 4,
                                     "club_hidden": 4}))
    # ---- vocabularies (mird tokenize --vocab)
    put("vocab_not_utf8.txt", b"[PAD]\n[UNK]\n[CLS]\n[SEP]\ncaf\xe9\n")
    put("vocab_no_cls.txt", "[PAD]\n[UNK]\n[SEP]\nhello\n")
    put("text_not_utf8.txt", b"caf\xe9 \xff\xfe hello\n\x00\x01 world\n")
    # ---- Hugging Face directories (mird init --bert): tiny BERT (tests/fixtures/hf_bert/pt_plain)
    src = os.path.join(FIX, "hf_bert", "pt_plain")
    cfg = open(os.path.join(src, "config.json"), "rb").read()
    vocab = open(os.path.join(src, "vocab.txt"), "rb").read()
    model = open(os.path.join(src, "pytorch_model.bin"), "rb").read()

    def hf(name, files):
        for fn, data in files.items():
            put(os.path.join(name, fn), data)
    hf("hf_truncated_bin", {"config.json": cfg, "vocab.txt": vocab, "pytorch_model.bin": model[:len(model) // 2]})
    b = io.BytesIO()
    with zipfile.ZipFile(b, "w", zipfile.ZIP_DEFLATED) as z:  # 10 MB of zeros in 10 kB: never inflated
        z.writestr(zipfile.ZipInfo("archive/data.pkl", (2020, 1, 1, 0, 0, 0)), b"\0" * 10_000_000,
                   compress_type=zipfile.ZIP_DEFLATED)
    hf("hf_zip_bomb", {"config.json": cfg, "vocab.txt": vocab, "pytorch_model.bin": b.getvalue()})
    b = io.BytesIO()
    with zipfile.ZipFile(b, "w", zipfile.ZIP_STORED) as z:
        z.writestr(zipfile.ZipInfo("archive/data.pkl", (2020, 1, 1, 0, 0, 0)), pk(Cmd(os.system), 2))
        z.writestr(zipfile.ZipInfo("archive/version", (2020, 1, 1, 0, 0, 0)), b"3\n")
    hf("hf_evil_pickle", {"config.json": cfg, "vocab.txt": vocab, "pytorch_model.bin": b.getvalue()})
    bad_cfg = json.loads(cfg)
    bad_cfg["hidden_act"] = "relu"
    hf("hf_bad_config", {"config.json": json.dumps(bad_cfg), "vocab.txt": vocab, "pytorch_model.bin": model})
    hf("hf_no_weights", {"config.json": cfg, "vocab.txt": vocab})
    # a zip whose end record claims 65535 entries and a central directory past the end of the file
    eocd = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 0xFFFF, 0xFFFF, 0xFFFFFFF0, 0x10, 0)
    hf("hf_bad_zip", {"config.json": cfg, "vocab.txt": vocab, "pytorch_model.bin": b"PK\x03\x04" + b"\0" * 26 + eocd})
    # ---- batches (mird debug-step --batch) next to tests/fixtures/mird_base/ckpt.safetensors
    bpath = os.path.join(FIX, "mird_base", "batch.safetensors")
    if os.path.exists(bpath):
        raw = open(bpath, "rb").read()
        n = struct.unpack("<Q", raw[:8])[0]
        header, data = json.loads(raw[8:8 + n]), raw[8 + n:]

        def batch(name, change):
            h = json.loads(json.dumps(header))
            d = bytearray(data)
            change(h, d)
            put(name, safetensors(h, bytes(d)))

        def wrong_dtype(h, d):
            h["input_ids"]["dtype"] = "F64"  # same byte count as I64: token ids must be integers

        def wrong_shape(h, d):
            h["acoustic"]["shape"] = [4, 5, 7]  # same bytes, d_a 7 instead of 5

        def bad_id(h, d):
            o = h["input_ids"]["data_offsets"][0]
            d[o:o + 8] = struct.pack("<q", 999999)

        def nan_label(h, d):
            o = h["labels"]["data_offsets"][0]
            d[o:o + 4] = struct.pack("<f", float("nan"))

        def missing(h, d):
            del h["visual"]
        batch("batch_wrong_dtype.safetensors", wrong_dtype)
        batch("batch_wrong_shape.safetensors", wrong_shape)
        batch("batch_id_out_of_range.safetensors", bad_id)
        batch("batch_nan_label.safetensors", nan_label)
        batch("batch_missing_visual.safetensors", missing)


if __name__ == "__main__":
    main()
