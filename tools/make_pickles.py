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
    datasets()


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


TEXTS = ["it was great", "not good at all", "Caf\u00e9 na\u00efve \u2014 ok", "meh", "I LOVED it!!",
         "so-so movie", "", "the end"]


def feats(rng, n, t, d, dtype):
    return (rng.standard_normal((n, t, d)) * 2 + 0.5).astype(dtype)


def labels_of(rng, n):
    return np.round(rng.uniform(-3, 3, n), 1)


def stats(audio, video, labels):
    a = np.asarray(audio, dtype=np.float64).copy()
    a[np.isneginf(a)] = 0
    v = np.asarray(video, dtype=np.float64)
    d = {"n": int(a.shape[0]), "audio_shape": list(a.shape), "visual_shape": list(v.shape)}
    if labels is not None:
        l = np.asarray([float(x) for x in np.ravel(np.asarray(labels, dtype=object))], dtype=np.float64)
        d.update(label_min=float(l.min()), label_max=float(l.max()), label_mean=float(l.mean()))
    d.update(audio_sum=float(a.sum()), visual_sum=float(v.sum()))
    return d


def mird_split(rng, n, dtype, label_style, fortran=False, big_endian=False):
    a = feats(rng, n, 7, 3, dtype)
    v = feats(rng, n, 6, 4, dtype)
    if big_endian:
        v = v.astype(v.dtype.newbyteorder(">"))
    if fortran:
        a = np.asfortranarray(a)
    lab = labels_of(rng, n)
    if label_style == "np_scalars":
        labels = [np.float64(x) for x in lab]
    elif label_style == "array":
        labels = lab.astype(np.float32)
    elif label_style == "array2d":
        labels = lab.reshape(n, 1)
    else:
        labels = [float(x) for x in lab]
    texts = [TEXTS[i % len(TEXTS)] for i in range(n)]
    return {"raw_text": texts, "audio": a, "video": v, "labels": labels}


def mmsa_split(rng, n, text_bert, protocol_texts_as_array):
    a = feats(rng, n, 7, 3, np.float32)
    a[0, 1, :] = -np.inf
    a[n - 1, 6, 2] = -np.inf
    v = feats(rng, n, 6, 4, np.float32)
    texts = [TEXTS[i % len(TEXTS)] for i in range(n)]
    s = {
        "raw_text": np.array(texts) if protocol_texts_as_array else texts,
        "audio": a, "vision": v,
        "regression_labels": labels_of(rng, n).astype(np.float32),
        "classification_labels": np.zeros(n, dtype=np.float32),
        "id": np.array([f"vid{i}$_$clip{i}" for i in range(n)], dtype=object),
        "annotations": ["Positive"] * n,
        "text": rng.standard_normal((n, 5, 2)).astype(np.float32),
        "audio_lengths": [int(x) for x in rng.integers(1, 8, n)],
        "vision_lengths": rng.integers(1, 7, n),
    }
    if text_bert:
        tb = np.zeros((n, 3, 5), dtype=np.float32)
        for i in range(n):
            L = 2 + i % 4
            tb[i, 0, :L] = [101] + [1000 + i + k for k in range(L - 2)] + [102]
            tb[i, 1, :L] = 1
        s["text_bert"] = tb
    return s


def save_dataset(name, obj, protocol, fmt, expected):
    write(name, obj, protocol)
    if fmt == "unlabeled":
        splits = {"unlabeled": stats(obj["audio"], obj["video"], None)}
    else:
        vis = "vision" if fmt == "mmsa" else "video"
        lab = "regression_labels" if fmt == "mmsa" else "labels"
        splits = {k: stats(s["audio"], s[vis], s[lab]) for k, s in obj.items()}
    info = {"format": fmt, "splits": splits}
    # extra facts for tests/test_dataset.c (not part of the inspect output)
    extra = {}
    for k, s in (obj.items() if fmt != "unlabeled" else [("unlabeled", obj)]):
        e = {"text0": str(s["raw_text"][0]), "text2": str(s["raw_text"][2])}
        if fmt == "mmsa":
            e["clip_id1"] = str(s["id"][1])
            e["audio_len"] = [int(x) for x in s["audio_lengths"]]
            e["vision_len"] = [int(x) for x in s["vision_lengths"]]
            if "text_bert" in s:
                e["ids1"] = [int(x) for x in s["text_bert"][1, 0]]
                e["mask1"] = [int(x) for x in s["text_bert"][1, 1]]
        vis = "vision" if fmt == "mmsa" else "video"
        e["audio_last"] = float(np.nan_to_num(np.asarray(s["audio"], dtype=np.float64), neginf=0)[-1, -1, -1])
        e["visual_110"] = float(np.asarray(s[vis], dtype=np.float64)[1, 1, 0])
        e["audio_012"] = float(np.nan_to_num(np.asarray(s["audio"], dtype=np.float64), neginf=0)[0, 1, 2])
        extra[k] = e
    expected[name] = {"inspect": info, "extra": extra}


def datasets():
    rng = np.random.default_rng(1234)
    expected = {}
    mird = {k: mird_split(rng, n, np.float32, "np_scalars") for k, n in (("train", 5), ("valid", 3), ("test", 4))}
    save_dataset("mird_p4_f32.pkl", mird, 4, "mird", expected)
    mird = {k: mird_split(rng, n, np.float64, "array", fortran=True) for k, n in (("train", 4), ("valid", 3), ("test", 3))}
    save_dataset("mird_p2_f64_fortran.pkl", mird, 2, "mird", expected)
    mird = {k: mird_split(rng, n, np.float32, st, fortran=True, big_endian=True)
            for (k, n), st in zip((("train", 6), ("valid", 3), ("test", 3)), ("list", "array2d", "np_scalars"))}
    save_dataset("mird_p5_fortran_be.pkl", mird, 5, "mird", expected)
    mird = {k: mird_split(rng, n, np.float32, "np_scalars") for k, n in (("train", 3), ("valid", 3), ("test", 3))}
    save_dataset("mird_p2_f32.pkl", mird, 2, "mird", expected)
    # numpy 2 spells numpy.core as numpy._core: same bytes with the new module names (protocol 2 GLOBALs)
    with open(os.path.join(OUT, "mird_p2_f32.pkl"), "rb") as f:
        data = f.read().replace(b"cnumpy.core.", b"cnumpy._core.")
    with open(os.path.join(OUT, "mird_p2_numpy2.pkl"), "wb") as f:
        f.write(data)
    expected["mird_p2_numpy2.pkl"] = expected["mird_p2_f32.pkl"]
    mmsa = {k: mmsa_split(rng, n, True, True) for k, n in (("train", 5), ("valid", 3), ("test", 3))}
    save_dataset("mmsa_p4_text_bert.pkl", mmsa, 4, "mmsa", expected)
    mmsa = {k: mmsa_split(rng, n, False, False) for k, n in (("train", 4), ("valid", 3), ("test", 3))}
    save_dataset("mmsa_p2_raw_text.pkl", mmsa, 2, "mmsa", expected)
    unl = mird_split(rng, 12, np.float32, "list")
    del unl["labels"]
    save_dataset("unlabeled_p5.pkl", unl, 5, "unlabeled", expected)
    unl = mird_split(rng, 7, np.float64, "list")
    del unl["labels"]
    save_dataset("unlabeled_p4_f64.pkl", unl, 4, "unlabeled", expected)
    with open(os.path.join(OUT, "expected.json"), "w") as f:
        json.dump(expected, f, indent=1, sort_keys=True)
    bad_datasets(rng)


def bad_datasets(rng):
    """Each must be refused with a one-line error containing the given text (listed in bad.json)."""
    bad = {}

    def base():
        return {k: mird_split(rng, 3, np.float32, "list") for k in ("train", "valid", "test")}

    d = base(); d["valid"]["labels"] = d["valid"]["labels"][:2]
    bad["bad_label_count.pkl"] = (d, "valid: audio has 3 clips but labels has 2")
    d = base(); d["test"]["video"] = d["test"]["video"][:2]
    bad["bad_video_count.pkl"] = (d, "test: audio has 3 clips but video has 2")
    d = base(); d["train"]["raw_text"] = d["train"]["raw_text"] + ["x"]
    bad["bad_text_count.pkl"] = (d, "train: audio has 3 clips but raw_text has 4")
    d = base(); d["train"]["audio"] = d["train"]["audio"][:, :, 0]
    bad["bad_rank.pkl"] = (d, "train.audio: expected rank 3")
    d = base(); d["valid"]["audio"][1, 2, 0] = np.nan
    bad["bad_nan_audio.pkl"] = (d, "valid.audio: NaN value at clip 1, frame 2, feature 0")
    d = base(); d["test"]["video"][2, 0, 3] = -np.inf
    bad["bad_inf_video.pkl"] = (d, "test.video: infinite value at clip 2, frame 0, feature 3")
    d = base(); d["train"]["audio"] = d["train"]["audio"].astype(np.float64); d["train"]["audio"][0, 0, 0] = np.inf
    bad["bad_inf_audio_f64.pkl"] = (d, "train.audio: infinite value at clip 0")
    d = base(); d["train"]["labels"][1] = float("nan")
    bad["bad_nan_label.pkl"] = (d, "label 1 is nan")
    d = base(); d["train"]["raw_text"][0] = "bad \udc80 surrogate"
    bad["bad_text_utf8.pkl"] = (d, "not valid UTF-8")
    d = base()
    for k in d["valid"]:
        d["valid"][k] = d["valid"][k][:0]
    d["valid"]["audio"] = np.zeros((0, 7, 3), np.float32); d["valid"]["video"] = np.zeros((0, 6, 4), np.float32)
    bad["bad_empty_split.pkl"] = (d, "valid: split is empty")
    d = base(); d["train"]["audio"] = d["train"]["audio"].astype(np.complex64)
    bad["bad_dtype.pkl"] = (d, "unsupported dtype 'c8'")
    bad["bad_not_dict.pkl"] = ([1, 2, 3], "top level is a list")
    bad["bad_keys.pkl"] = ({"foo": 1}, "not a MIRD, MMSA or unlabeled dataset pickle")
    d = base(); d["test"]["labels"] = os_system_labels()
    bad["bad_malicious_labels.pkl"] = (d, "refused global 'posix.system'")
    msgs = {}
    for name, (obj, msg) in bad.items():
        write(name, obj, 4)
        msgs[name] = msg
    with open(os.path.join(OUT, "bad.json"), "w") as f:
        json.dump(msgs, f, indent=1, sort_keys=True)


class _Evil:
    def __reduce__(self):
        return (os.system, ("touch /tmp/mird_test_dataset_pwned",))


def os_system_labels():
    return [_Evil()]


if __name__ == "__main__":
    main()
