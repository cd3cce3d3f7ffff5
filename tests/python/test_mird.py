"""The Python package (python/mird) against the `mird` program, with Debian's python3 + numpy.

Run by tests/test_python.sh (from `make test`), which sets MIRD_BIN (the program), MIRD_LIBRARY
(build/libmird.so), MIRD_EXAMPLE (build/examples/predict) and PYTHONPATH=python. One small
synthetic data set and two runs of a tiny model (seeds 0 and 1), one by `mird train`, one by
mird.train, are made once; every comparison with the program is bit for bit.
"""
import csv
import io
import json
import os
import pickle
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import threading
import unittest
import warnings

import numpy as np

import mird

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
MIRD = os.path.abspath(os.environ.get("MIRD_BIN", os.path.join(ROOT, "build", "mird")))
EXAMPLE = os.path.abspath(os.environ.get("MIRD_EXAMPLE", os.path.join(os.path.dirname(MIRD), "examples", "predict")))
TMP = None
CFG = None     # the run configuration both runs use (without "out")
RECORDS = []   # what mird.train's on_epoch saw
SUMMARY = None
DATA = None    # the unpickled data set


def sh(*args, check=True):
    return subprocess.run([MIRD] + list(args), capture_output=True, text=True, check=check)


def text(path):
    with open(path) as f:
        return f.read()


def jsonl(path):
    return [json.loads(line) for line in text(path).splitlines()]


def read_st(path):
    """A safetensors file as {name: numpy array} and its metadata."""
    with open(path, "rb") as f:
        b = f.read()
    n = struct.unpack("<Q", b[:8])[0]
    head = json.loads(b[8:8 + n])
    types = {"F32": np.float32, "I64": np.int64, "I32": np.int32, "U8": np.uint8}
    out = {}
    for k, v in head.items():
        if k != "__metadata__":
            s, e = v["data_offsets"]
            out[k] = np.frombuffer(b[8 + n + s:8 + n + e], types[v["dtype"]]).reshape(v["shape"])
    return out, head.get("__metadata__", {})


def csv_scores(text):
    return np.array([np.float32(r["score"]) for r in csv.DictReader(io.StringIO(text))], np.float32)


def setUpModule():
    global TMP, CFG, SUMMARY, DATA
    os.makedirs(os.path.join(ROOT, "build"), exist_ok=True)
    TMP = tempfile.mkdtemp(prefix="test_python_", dir=os.path.join(ROOT, "build"))
    sh("synth", "--out", TMP + "/syn", "--n-train", "48", "--n-valid", "16", "--n-test", "70", "--n-unlabeled", "96",
       "--ta", "12", "--tv", "8", "--tl", "16", "--d-a", "5", "--d-v", "6", "--hidden", "16", "--layers", "1",
       "--heads", "2", "--z", "8", "--quiet")
    CFG = {"data": TMP + "/syn/data.pkl", "unlabeled": TMP + "/syn/unlabeled.pkl", "model": TMP + "/syn/model.json",
           "epochs": 2, "batch_size": 16, "max_len": 16, "seeds": [0, 1], "lr": 1e-3, "club_steps": 2,
           "dump_latents": True, "threads": 2}
    with open(TMP + "/run.json", "w") as f:
        json.dump(CFG, f)
    sh("train", "--config", TMP + "/run.json", "--out", TMP + "/cli", "--quiet")
    SUMMARY = mird.train(dict(CFG, out=TMP + "/api"), on_epoch=RECORDS.append)
    with open(TMP + "/syn/data.pkl", "rb") as f:
        DATA = pickle.load(f)


def tearDownModule():
    if TMP:
        shutil.rmtree(TMP, ignore_errors=True)


def best(run="cli", seed=0):
    return "%s/%s/seed_%d/best.safetensors" % (TMP, run, seed)


class Predict(unittest.TestCase):
    def test_scores_equal_mird_predict_csv(self):
        m = mird.Model.load(best())
        for split in ("test", "valid"):  # 70 clips: a batch of 64 and one of 6; 16 clips: one batch
            s = DATA[split]
            ref = csv_scores(sh("predict", best(), TMP + "/syn/data.pkl", "--split", split).stdout)
            y = m.predict(s["raw_text"], s["audio"], s["video"])
            self.assertEqual(y.dtype, np.float32)
            self.assertEqual(y.shape, (len(s["raw_text"]),))
            self.assertTrue(np.array_equal(y, ref), split)
        m.batch_size = 7  # the same batches as `mird predict --batch-size 7`
        s = DATA["test"]
        ref = csv_scores(sh("predict", best(), TMP + "/syn/data.pkl", "--batch-size", "7").stdout)
        self.assertTrue(np.array_equal(m.predict(s["raw_text"], s["audio"], s["video"]), ref))

    def test_latents_equal_dump_latents(self):
        m = mird.Model.load(best())
        s = DATA["test"]
        z = m.latents(s["raw_text"], s["audio"], s["video"])
        dump, _ = read_st(TMP + "/cli/seed_0/latents.safetensors")
        self.assertEqual(sorted(z), ["za", "zl", "zv", "zy"])
        for k in z:
            self.assertEqual(z[k].shape, (70, 8))
            self.assertTrue(np.array_equal(z[k], dump[k]), k)
        self.assertTrue(np.array_equal(m.predict(s["raw_text"], s["audio"], s["video"]), dump["y_hat"]))

    def test_converted_inputs_and_no_copy(self):
        s = DATA["test"]
        a = s["audio"]
        self.assertTrue(a.dtype == np.float32 and a.flags["C_CONTIGUOUS"])
        self.assertEqual(mird._frames(a, "audio", 70).ctypes.data, a.ctypes.data)  # read in place
        a64 = a.astype(np.float64)
        c = mird._frames(a64, "audio", 70)  # converted once
        self.assertFalse(np.shares_memory(c, a64))
        self.assertEqual(c.dtype, np.float32)
        m = mird.Model.load(best())
        ref = m.predict(s["raw_text"], s["audio"], s["video"])
        # float64, Fortran order, a strided view, nested lists, a tuple of texts: the same scores
        y = m.predict(tuple(s["raw_text"]), a64, np.asfortranarray(s["video"]))
        self.assertTrue(np.array_equal(y, ref))
        big = np.zeros((70, 12, 10), np.float32)
        big[:, :, ::2] = s["audio"]
        y = m.predict(s["raw_text"], big[:, :, ::2], s["video"].tolist())
        self.assertTrue(np.array_equal(y, ref))
        self.assertEqual(m.predict([], np.zeros((0, 12, 5)), None).shape, (0,))

    def test_token_ids_equal_texts(self):
        m = mird.Model.load(best())
        s = DATA["test"]
        out = subprocess.run([MIRD, "tokenize", "--vocab", TMP + "/syn/vocab.txt", "--max-len", "16"],
                             input="\n".join(s["raw_text"]) + "\n", capture_output=True, text=True, check=True).stdout
        ids = np.array([[int(x) for x in line.split()] for line in out.splitlines()], np.int64)
        self.assertEqual(ids.shape, (70, 16))
        ref = m.predict(s["raw_text"], s["audio"], s["video"])
        self.assertTrue(np.array_equal(m.predict(ids, s["audio"], s["video"]), ref))
        self.assertTrue(np.array_equal(m.predict(ids, s["audio"], s["video"], mask=ids != 0), ref))

    def test_settings(self):
        m = mird.Model.load(best())
        self.assertEqual((m.max_len, m.frames, m.d_a, m.d_v, m.batch_size, m.threads), (16, (12, 8), 5, 6, 64, 0))
        self.assertEqual(m.latent_sizes, {"zy": 8, "zl": 8, "za": 8, "zv": 8})
        self.assertTrue(m.has_vocab)
        m.threads = 1
        self.assertEqual(m.threads, 1)
        with self.assertRaises(mird.MirdError) as cm:
            m.batch_size = 0
        self.assertEqual(str(cm.exception), "mird_model_set: batch_size = 0 is outside [1, 65536]")
        self.assertEqual(m.precision, "fp32")
        with self.assertRaises(mird.MirdError):
            m.precision = "fp16"
        self.assertEqual(m.precision, "fp32")

    def test_distinct_models_in_threads(self):
        s = DATA["test"]
        ref = mird.Model.load(best()).predict(s["raw_text"], s["audio"], s["video"])
        out = [None] * 3

        def work(k):
            m = mird.Model.load(best())
            for _ in range(3):
                out[k] = m.predict(s["raw_text"], s["audio"], s["video"])

        ts = [threading.Thread(target=work, args=(k,)) for k in range(3)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        for y in out:
            self.assertTrue(np.array_equal(y, ref))


class BadArguments(unittest.TestCase):
    """A MirdError with one line for every bad argument; the library's own message where it has one."""

    def check(self, code, message, fn, *args, **kwargs):
        with self.assertRaises(mird.MirdError) as cm:
            fn(*args, **kwargs)
        e = cm.exception
        self.assertEqual(e.code, code, str(e))
        self.assertIn(message, str(e))
        self.assertNotIn("\n", str(e))
        return e

    def test_missing_files_like_the_program(self):
        missing = TMP + "/no_such.safetensors"
        e = self.check("file", "no_such.safetensors", mird.Model.load, missing)
        cli = sh("predict", missing, TMP + "/syn/data.pkl", check=False)
        self.assertEqual(cli.returncode, 1)
        self.assertEqual(cli.stderr.strip(), "mird: " + str(e))  # the same one-line message
        self.check("file", "no_such_vocab.txt", mird.Model.load, best(), vocab=TMP + "/no_such_vocab.txt")
        self.check("file", "not a safetensors file", mird.Model.load, TMP + "/syn/data.pkl")

    def test_shapes_dtypes_values(self):
        m = mird.Model.load(best())
        s = DATA["test"]
        t, a, v = s["raw_text"], s["audio"], s["video"]
        self.check("argument", "audio: 3 values per frame, the model expects 5", m.predict, t, a[:, :, :3], v)
        self.check("argument", "video: 2 values per frame, the model expects 6", m.predict, t, a, v[:, :, :2])
        self.check("argument", "audio: expected an array [N, frames, values per frame], got shape (70, 60)",
                   m.predict, t, a.reshape(70, 60), v)
        self.check("argument", "audio: 69 clips, but 70 texts", m.predict, t, a[1:], v)
        self.check("argument", "audio: 0 frames per clip", m.predict, t, a[:, :0], v)
        self.check("argument", "audio: cannot be read as float32", m.predict, t, np.full(a.shape, "x"), v)
        self.check("argument", "texts: expected a list of N strings", m.predict, t[0], a[:1], v[:1])
        self.check("argument", "texts[1]: expected a str, got int", m.predict, [t[0], 3], a[:2], v[:2])
        self.check("argument", "texts: expected a list of N strings, got int", m.predict, 5)
        bad = a.copy()
        bad[3, 2, 1] = np.nan
        self.check("data", "audio: clip 3, frame 2, value 1 is not finite", m.predict, t, bad, v)
        ids = np.full((2, 16), 2, np.int32)
        ids[1, 4] = 100000
        self.check("data", "ids[1][4] = 100000 is outside the model's vocabulary", m.predict, ids)
        self.check("argument", "mask: expected shape (2, 16)", m.predict, ids, mask=np.ones((2, 3)))
        m.close()
        self.check("argument", "the model is closed", m.predict, t, a, v)

    def test_train_configurations(self):
        self.check("argument", "must be a dict", mird.train, "run.json")
        self.check("argument", 'unknown key "bogus"', mird.train, {"bogus": 1})
        self.check("argument", "is not JSON serializable", mird.train, {"data": object()})
        self.check("file", "no_such.pkl: cannot read: No such file or directory", mird.train,
                   {"data": TMP + "/no_such.pkl", "out": TMP + "/x"})
        self.check("argument", "--epochs must be >= 1", mird.train, dict(CFG, out=TMP + "/x", epochs=0))


class Train(unittest.TestCase):
    def test_api_run_equals_mird_train(self):
        self.assertEqual(len(RECORDS), 4)  # 2 seeds x 2 epochs
        strip = lambda r: {k: v for k, v in r.items() if not k.endswith("seconds")}
        for seed in (0, 1):
            for f in ("best.safetensors", "last.safetensors", "latents.safetensors"):
                a, _ = read_st("%s/api/seed_%d/%s" % (TMP, seed, f))
                c, _ = read_st("%s/cli/seed_%d/%s" % (TMP, seed, f))
                self.assertEqual(sorted(a), sorted(c))
                for k in a:
                    self.assertTrue(a[k].dtype == c[k].dtype and np.array_equal(a[k].view(np.uint8), c[k].view(np.uint8)),
                                    "%s %s" % (f, k))
            self.assertEqual(text("%s/api/seed_%d/test_predictions.csv" % (TMP, seed)),
                             text("%s/cli/seed_%d/test_predictions.csv" % (TMP, seed)))
            la = jsonl("%s/api/seed_%d/log.jsonl" % (TMP, seed))
            lc = jsonl("%s/cli/seed_%d/log.jsonl" % (TMP, seed))
            self.assertEqual([strip(r) for r in la], [strip(r) for r in lc])
            # the records are the log lines, with the seed
            recs = [dict(r) for r in RECORDS if r["seed"] == seed]
            for r in recs:
                del r["seed"]
            self.assertEqual(recs, la)
            ra = json.loads(text("%s/api/seed_%d/results.json" % (TMP, seed)))
            rc = json.loads(text("%s/cli/seed_%d/results.json" % (TMP, seed)))
            for k in ("valid", "test", "best_epoch", "selection_loss"):
                self.assertEqual(ra[k], rc[k], k)
        self.assertEqual(SUMMARY, json.loads(text(TMP + "/api/summary.json")))
        self.assertEqual(SUMMARY["test"], json.loads(text(TMP + "/cli/summary.json"))["test"])

    def test_stop_from_on_epoch(self):
        out = TMP + "/stopped"
        with self.assertRaises(mird.MirdError) as cm:
            mird.train(dict(CFG, out=out, seeds=[0]), on_epoch=lambda r: False)
        self.assertEqual(cm.exception.code, "cancelled")
        self.assertIn("stopped by the epoch callback after epoch 1", str(cm.exception))
        seen = []

        def boom(r):
            seen.append(r["epoch"])
            raise KeyError("stop here")

        with self.assertRaises(KeyError):  # the callback's own exception comes through
            mird.train(dict(CFG, out=out, seeds=[0], resume=True), on_epoch=boom)
        self.assertEqual(seen, [2])
        self.assertEqual(len(jsonl(out + "/seed_0/log.jsonl")), 2)

    def test_warning_on_resume_with_changed_settings(self):
        out = TMP + "/warn"
        mird.train(dict(CFG, out=out, seeds=[0], epochs=1))
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            mird.train(dict(CFG, out=out, seeds=[0], resume=True, lr=2e-3))
        msgs = [str(x.message) for x in w if issubclass(x.category, mird.MirdWarning)]
        self.assertEqual(len(msgs), 1)
        self.assertIn("was trained with other values of: epochs, lr", msgs[0])


class Outside(unittest.TestCase):
    def test_c_example_equals_mird_predict_text(self):
        texts = ["what a great movie", "terrible , boring film !", "ok"]
        r = subprocess.run([EXAMPLE, best()] + texts, capture_output=True, text=True, check=True)
        got = [line.split("\t")[0] for line in r.stdout.splitlines()]
        want = [list(csv.DictReader(io.StringIO(sh("predict", best(), "--text", t).stdout)))[0]["score"] for t in texts]
        self.assertEqual(got, want)
        self.assertIn("zy 8 zl 8 za 8 zv 8", r.stdout)
        r = subprocess.run([EXAMPLE, TMP + "/no_such.safetensors", "x"], capture_output=True, text=True)
        self.assertEqual(r.returncode, 1)
        self.assertEqual(r.stderr, "predict: %s/no_such.safetensors: cannot open: No such file or directory\n" % TMP)

    def test_example_uses_only_the_public_header(self):
        src = text(os.path.join(ROOT, "examples", "predict.c"))
        self.assertEqual(re.findall(r'#include "([^"]+)"', src), ["mird.h"])
        nm = subprocess.run(["nm", "-D", "--defined-only", os.environ.get("MIRD_LIBRARY", "build/libmird.so")],
                            capture_output=True, text=True, check=True).stdout
        exported = sorted(l.split()[-1].split("@")[0] for l in nm.splitlines() if " T " in l)
        header = text(os.path.join(ROOT, "include", "mird.h"))
        declared = sorted(set(re.findall(r"^[a-z][^(\n]*?\b(mird_[a-z_]+)\(", header, re.M)))
        self.assertEqual(exported, declared)

    def test_readme_example_runs_as_written(self):
        readme = text(os.path.join(ROOT, "README.md"))
        section = readme.split("## From Python", 1)[1]
        code = section.split("```python\n", 1)[1].split("```", 1)[0]
        self.assertLessEqual(len(code.strip().splitlines()), 10)
        d = tempfile.mkdtemp(dir=TMP)
        os.symlink(os.path.dirname(MIRD), os.path.join(d, "build"))
        env = dict(os.environ, PYTHONPATH=os.path.join(ROOT, "python"))
        r = subprocess.run([sys.executable, "-c", code], cwd=d, env=env, capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("{'zy': (40, 32), 'zl': (40, 32), 'za': (40, 32), 'zv': (40, 32)}", r.stdout)

    def test_pip_install(self):
        d = tempfile.mkdtemp(dir=TMP)
        shutil.copytree(os.path.join(ROOT, "python"), d + "/src", ignore=shutil.ignore_patterns("__pycache__", "*.so"))
        r = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-build-isolation", "--no-index",
                            "--no-deps", "--target", d + "/site", d + "/src"], capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        lib = os.path.abspath(os.environ.get("MIRD_LIBRARY", os.path.join(os.path.dirname(MIRD), "libmird.so")))
        env = dict(os.environ, PYTHONPATH=d + "/site")
        env.pop("MIRD_LIBRARY", None)
        code = "import mird; print(mird.library_path); print(mird.Model.load(%r).d_a)" % best()
        r = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, cwd=d)
        self.assertNotEqual(r.returncode, 0)  # no library anywhere: a clear ImportError
        self.assertIn("libmird.so not found", r.stderr)
        r = subprocess.run([sys.executable, "-c", code], env=dict(env, MIRD_LIBRARY=lib), capture_output=True,
                           text=True, cwd=d)
        self.assertEqual(r.stdout.split(), [lib, "5"], r.stderr)
        shutil.copy(lib, d + "/site/mird/libmird.so")  # beside the installed package
        r = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, cwd=d)
        self.assertEqual(r.stdout.split(), [d + "/site/mird/libmird.so", "5"], r.stderr)


if __name__ == "__main__":
    unittest.main()
