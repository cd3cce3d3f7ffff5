"""ctypes declarations of include/mird.h, and where libmird.so is found.

The library: $MIRD_LIBRARY when set; else libmird.so beside this package (an installed copy);
else build/libmird.so of the repository this package sits in (PYTHONPATH=python after make).
"""
import ctypes
import os

API_MAJOR = 1

MIRD_OK, MIRD_ERR_ARG, MIRD_ERR_FILE, MIRD_ERR_DATA, MIRD_ERR_FAILED, MIRD_ERR_CANCELLED = range(6)
CODE_NAMES = {0: "ok", 1: "argument", 2: "file", 3: "data", 4: "failed", 5: "cancelled"}

(KEY_MAX_LEN, KEY_FRAMES_A, KEY_FRAMES_V, KEY_BATCH_SIZE, KEY_THREADS, KEY_D_A, KEY_D_V, KEY_SIZE_ZY,
 KEY_SIZE_ZL, KEY_SIZE_ZA, KEY_SIZE_ZV, KEY_VOCAB_SIZE, KEY_MAX_POSITIONS, KEY_HAS_VOCAB, KEY_PRECISION) = range(15)


class Error(ctypes.Structure):
    _fields_ = [("code", ctypes.c_int), ("message", ctypes.c_char * 512)]


class Clips(ctypes.Structure):
    _fields_ = [
        ("n", ctypes.c_int),
        ("texts", ctypes.POINTER(ctypes.c_char_p)),
        ("ids", ctypes.c_void_p),
        ("mask", ctypes.c_void_p),
        ("types", ctypes.c_void_p),
        ("tl", ctypes.c_int),
        ("audio", ctypes.c_void_p),
        ("ta", ctypes.c_int),
        ("da", ctypes.c_int),
        ("video", ctypes.c_void_p),
        ("tv", ctypes.c_int),
        ("dv", ctypes.c_int),
    ]


EPOCH_FN = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_int, ctypes.c_char_p)
WARNING_FN = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_char_p)


class TrainCallbacks(ctypes.Structure):
    _fields_ = [("on_epoch", EPOCH_FN), ("on_warning", WARNING_FN), ("user", ctypes.c_void_p)]


def library_path():
    env = os.environ.get("MIRD_LIBRARY")
    if env:
        return env
    here = os.path.dirname(os.path.abspath(__file__))
    for p in (os.path.join(here, "libmird.so"), os.path.join(here, "..", "..", "build", "libmird.so")):
        if os.path.exists(p):
            return os.path.normpath(p)
    raise ImportError("mird: libmird.so not found: run `make` in the mird repository (it builds "
                      "build/libmird.so), copy it beside this package, or set MIRD_LIBRARY to its path")


def load():
    path = library_path()
    try:
        lib = ctypes.CDLL(path)
    except OSError as e:
        raise ImportError("mird: cannot load %s: %s" % (path, e)) from None
    f = ctypes.POINTER
    decl = {
        "mird_api_version": (ctypes.c_int, []),
        "mird_version": (ctypes.c_char_p, []),
        "mird_string_free": (None, [ctypes.c_void_p]),
        "mird_model_open": (ctypes.c_int, [f(ctypes.c_void_p), ctypes.c_char_p, ctypes.c_char_p, f(Error)]),
        "mird_model_close": (None, [ctypes.c_void_p]),
        "mird_model_get": (ctypes.c_long, [ctypes.c_void_p, ctypes.c_int]),
        "mird_model_set": (ctypes.c_int, [ctypes.c_void_p, ctypes.c_int, ctypes.c_long, f(Error)]),
        "mird_predict": (ctypes.c_int, [ctypes.c_void_p, f(Clips)] + [ctypes.c_void_p] * 5 + [f(Error)]),
        "mird_train": (ctypes.c_int, [ctypes.c_char_p, f(TrainCallbacks), f(ctypes.c_void_p), f(Error)]),
    }
    for name, (res, args) in decl.items():
        fn = getattr(lib, name)
        fn.restype, fn.argtypes = res, args
    v = lib.mird_api_version()
    if v // 100 != API_MAJOR:
        raise ImportError("mird: %s has API version %d, this package needs %d.x" % (path, v, API_MAJOR))
    return lib, path
