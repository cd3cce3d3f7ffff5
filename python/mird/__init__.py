"""mird from Python: MIRD sentiment scores, latents and training over the C library (libmird.so).

    import mird
    model = mird.Model.load("runs/r/seed_0/best.safetensors")   # vocab: as `mird predict` finds it
    scores = model.predict(texts, audio, video)    # texts: N str; audio float32 [N, Ta, d_a]; video [N, Tv, d_v]
    z = model.latents(texts, audio, video)         # {"zy", "zl", "za", "zv"}: float32 [N, size]
    summary = mird.train({"data": "d.pkl", "out": "runs/r", "epochs": 5}, on_epoch=print)

Scores and latents are those of `mird predict` and `mird train --dump-latents` (the same code, bit
for bit at the same batch size and thread count). Arrays that are float32 and C-contiguous are read
in place; anything else is converted once. Every error of the library, and every bad argument,
raises MirdError with a one-line message. Needs numpy only; no compiler.
"""
import ctypes
import json
import os
import threading
import warnings

import numpy as np

from . import _capi

_lib, library_path = _capi.load()
api_version = _lib.mird_api_version()
__version__ = _lib.mird_version().decode()
__all__ = ["Model", "train", "MirdError", "MirdWarning", "api_version", "library_path"]


class MirdError(Exception):
    """An error of mird: str(e) is the library's one-line message; e.code says what kind
    ("argument", "file", "data", "failed", "cancelled")."""

    def __init__(self, message, code=_capi.MIRD_ERR_ARG):
        super().__init__(message)
        self.code = _capi.CODE_NAMES.get(code, str(code))


class MirdWarning(UserWarning):
    """A warning of a training run (e.g. resuming with changed settings)."""


def _check(rc, err):
    if rc:
        raise MirdError(err.message.decode("utf-8", "replace"), err.code)


def _frames(x, name, n):
    """x as float32 [n, T, d], C order: the array itself when it already is one (no copy)."""
    try:
        a = np.ascontiguousarray(x, dtype=np.float32)
    except (TypeError, ValueError) as e:
        raise MirdError("%s: cannot be read as float32 numbers (%s)" % (name, str(e).splitlines()[0])) from None
    if a.ndim != 3:
        raise MirdError("%s: expected an array [N, frames, values per frame], got shape %s" % (name, a.shape))
    if a.shape[0] != n:
        raise MirdError("%s: %d clips, but %d texts" % (name, a.shape[0], n))
    return a


def _ids(x, name, n, tl):
    try:
        a = np.ascontiguousarray(x, dtype=np.int32)
    except (TypeError, ValueError, OverflowError) as e:
        raise MirdError("%s: cannot be read as int32 (%s)" % (name, str(e).splitlines()[0])) from None
    if a.shape != (n, tl):
        raise MirdError("%s: expected shape (%d, %d), got %s" % (name, n, tl, a.shape))
    return a


def _ptr(a):
    return None if a is None else ctypes.c_void_p(a.ctypes.data)


class Model:
    """A MIRD checkpoint opened for prediction (eval mode). Use Model.load(path)."""

    def __init__(self, *args, **kwargs):
        raise TypeError("use mird.Model.load(path, vocab=None)")

    @classmethod
    def load(cls, path, vocab=None):
        """Open a checkpoint (`mird train`'s best.safetensors, `mird init`'s output, an exported
        state_dict). vocab: the vocab.txt raw texts are tokenised with; None = the one the
        checkpoint's training data was tokenised with, as `mird predict` finds it."""
        self = object.__new__(cls)
        self._h = None
        self._lock = threading.Lock()
        self.path = os.fspath(path)
        h, err = ctypes.c_void_p(), _capi.Error()
        rc = _lib.mird_model_open(ctypes.byref(h), os.fsencode(path), None if vocab is None else os.fsencode(vocab),
                                  ctypes.byref(err))
        _check(rc, err)
        self._h = h
        return self

    def close(self):
        with self._lock:
            if self._h:
                _lib.mird_model_close(self._h)
                self._h = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        try:
            if self._h:
                _lib.mird_model_close(self._h)
                self._h = None
        except Exception:  # a half-built object, or the interpreter shutting down
            pass

    def __repr__(self):
        return "mird.Model(%r)" % self.path

    def _handle(self):
        if not self._h:
            raise MirdError("the model is closed")
        return self._h

    def _get(self, key):
        return int(_lib.mird_model_get(self._handle(), key))

    def _set(self, key, value):
        err = _capi.Error()
        with self._lock:
            _check(_lib.mird_model_set(self._handle(), key, int(value), ctypes.byref(err)), err)

    # sizes and settings
    max_len = property(lambda s: s._get(_capi.KEY_MAX_LEN), lambda s, v: s._set(_capi.KEY_MAX_LEN, v),
                       doc="word pieces per raw text (the checkpoint's training length, else 50)")
    batch_size = property(lambda s: s._get(_capi.KEY_BATCH_SIZE), lambda s, v: s._set(_capi.KEY_BATCH_SIZE, v),
                          doc="clips per forward pass (64, as `mird predict`)")
    threads = property(lambda s: s._get(_capi.KEY_THREADS), lambda s, v: s._set(_capi.KEY_THREADS, v),
                       doc="OpenMP threads of a call; 0 = OMP_NUM_THREADS / all cores")
    frames = property(lambda s: (s._get(_capi.KEY_FRAMES_A), s._get(_capi.KEY_FRAMES_V)),
                      doc="(acoustic, visual) frame counts clips are padded / truncated to; 0 = as given")
    precision = property(lambda s: ("fp32", "bf16")[s._get(_capi.KEY_PRECISION)],
                         lambda s, v: s._set(_capi.KEY_PRECISION, {"fp32": 0, "bf16": 1}.get(v, -1)),
                         doc="matrix products: 'fp32' (default) or 'bf16' (bfloat16 inputs, float32 accumulation;"
                             " where the CPU has bfloat16 instructions)")
    d_a = property(lambda s: s._get(_capi.KEY_D_A), doc="values per acoustic frame")
    d_v = property(lambda s: s._get(_capi.KEY_D_V), doc="values per visual frame")
    has_vocab = property(lambda s: bool(s._get(_capi.KEY_HAS_VOCAB)), doc="raw texts can be tokenised")
    latent_sizes = property(lambda s: {k: s._get(_capi.KEY_SIZE_ZY + i) for i, k in enumerate(("zy", "zl", "za", "zv"))})

    def predict(self, texts, audio=None, video=None, mask=None, types=None):
        """Sentiment scores, float32 [N]. texts: N strings (tokenised with the model's vocabulary),
        or int token ids [N, Tl] ([CLS] ... [SEP] [PAD]=0; mask / types optional). audio float32
        [N, Ta, d_a], video float32 [N, Tv, d_v], zero-padded or truncated to the checkpoint's
        frame counts; None = all zeros."""
        return self._run(texts, audio, video, mask, types, latents=False)

    def latents(self, texts, audio=None, video=None, mask=None, types=None):
        """The four latents of each clip: {"zy": [N, zy_size] (z_S), "zl", "za", "zv"}, float32."""
        return self._run(texts, audio, video, mask, types, latents=True)

    def _run(self, texts, audio, video, mask, types, latents):
        c = _capi.Clips()
        keep = []  # arrays the C call reads
        if isinstance(texts, (str, bytes)):
            raise MirdError("texts: expected a list of N strings (or token ids [N, Tl]), got one %s" % type(texts).__name__)
        if isinstance(texts, np.ndarray) and texts.dtype.kind in "iu":
            if texts.ndim != 2:
                raise MirdError("texts: token ids must be an array [N, Tl], got shape %s" % (texts.shape,))
            n, tl = texts.shape
            ids = _ids(texts, "ids", n, tl)
            c.ids, c.tl = _ptr(ids), tl
            keep.append(ids)
            for name, v in (("mask", mask), ("types", types)):
                if v is not None:
                    a = _ids(v, name, n, tl)
                    setattr(c, name, _ptr(a))
                    keep.append(a)
        else:
            try:
                texts = list(texts)
            except TypeError:
                raise MirdError("texts: expected a list of N strings, got %s" % type(texts).__name__) from None
            n = len(texts)
            enc = []
            for i, t in enumerate(texts):
                if not isinstance(t, str):
                    raise MirdError("texts[%d]: expected a str, got %s" % (i, type(t).__name__))
                enc.append(t.encode("utf-8", "surrogatepass"))
            arr = (ctypes.c_char_p * max(n, 1))(*enc)
            c.texts = ctypes.cast(arr, ctypes.POINTER(ctypes.c_char_p))
            keep.append(arr)
        c.n = n
        if audio is not None:
            a = _frames(audio, "audio", n)
            c.audio, c.ta, c.da = _ptr(a), a.shape[1], a.shape[2]
            keep.append(a)
        if video is not None:
            v = _frames(video, "video", n)
            c.video, c.tv, c.dv = _ptr(v), v.shape[1], v.shape[2]
            keep.append(v)
        err = _capi.Error()
        with self._lock:
            h = self._handle()
            if latents:
                z = {k: np.empty((n, s), np.float32) for k, s in self.latent_sizes.items()}
                outs = [None] + [_ptr(z[k]) for k in ("zy", "zl", "za", "zv")]
            else:
                y = np.empty(n, np.float32)
                outs = [_ptr(y), None, None, None, None]
            rc = _lib.mird_predict(h, ctypes.byref(c), *outs, ctypes.byref(err))
        _check(rc, err)
        return z if latents else y


def train(config, on_epoch=None):
    """Run `mird train` with a run configuration: a dict with the keys of its --config JSON ("data",
    "out", "epochs", "seeds", "model", ...). on_epoch(record) is called after each epoch with that
    epoch's log.jsonl line as a dict, plus "seed"; raising stops the run after that epoch (the
    exception propagates), returning False stops it too (MirdError, code "cancelled"). Returns the
    run's summary.json as a dict. Nothing is printed; warnings are MirdWarning."""
    if not isinstance(config, dict):
        raise MirdError("train: the run configuration must be a dict, got %s" % type(config).__name__)
    try:
        js = json.dumps(config)
    except (TypeError, ValueError) as e:
        raise MirdError("run configuration: %s" % e) from None
    raised = []

    def epoch_cb(user, seed, record):
        try:
            if on_epoch is None:
                return 0
            r = json.loads(record.decode("utf-8"))
            r["seed"] = seed
            return 1 if on_epoch(r) is False else 0
        except BaseException as e:  # stop the run; re-raised below
            raised.append(e)
            return 1

    def warning_cb(user, message):
        try:
            warnings.warn(message.decode("utf-8", "replace"), MirdWarning, stacklevel=2)
        except BaseException as e:  # warnings turned into errors
            raised.append(e)

    cbs = _capi.TrainCallbacks(_capi.EPOCH_FN(epoch_cb), _capi.WARNING_FN(warning_cb), None)
    out, err = ctypes.c_void_p(), _capi.Error()
    rc = _lib.mird_train(js.encode("utf-8"), ctypes.byref(cbs), ctypes.byref(out), ctypes.byref(err))
    if raised:
        raise raised[0]
    _check(rc, err)
    try:
        return json.loads(ctypes.string_at(out.value).decode("utf-8"))
    finally:
        _lib.mird_string_free(out)
