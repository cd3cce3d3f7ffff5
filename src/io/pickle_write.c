// pickle_write.c: the protocol-4 pickle writer (see pickle_write.h for the opcode subset).
#include "io/pickle_write.h"

#include <string.h>

#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "pickle_write.c writes host-order floats as numpy little-endian data"
#endif

enum {
    OP_MARK = '(',
    OP_STOP = '.',
    OP_BINFLOAT = 'G',
    OP_BININT = 'J',
    OP_BININT1 = 'K',
    OP_BININT2 = 'M',
    OP_NONE = 'N',
    OP_REDUCE = 'R',
    OP_BINUNICODE = 'X',
    OP_APPEND = 'a',
    OP_BUILD = 'b',
    OP_APPENDS = 'e',
    OP_SETITEM = 's',
    OP_TUPLE = 't',
    OP_SETITEMS = 'u',
    OP_EMPTY_DICT = '}',
    OP_EMPTY_LIST = ']',
    OP_EMPTY_TUPLE = ')',
    OP_BINBYTES = 'B',
    OP_SHORT_BINBYTES = 'C',
    OP_PROTO = 0x80,
    OP_TUPLE1 = 0x85,
    OP_TUPLE2 = 0x86,
    OP_TUPLE3 = 0x87,
    OP_NEWTRUE = 0x88,
    OP_NEWFALSE = 0x89,
    OP_LONG1 = 0x8a,
    OP_SHORT_BINUNICODE = 0x8c,
    OP_BINUNICODE8 = 0x8d,
    OP_BINBYTES8 = 0x8e,
    OP_STACK_GLOBAL = 0x93,
};

static void fail(PickleWriter *w, const char *msg) {
    if (w->failed) return;
    w->failed = 1;
    snprintf(w->msg, sizeof w->msg, "%s", msg);
}

static void put(PickleWriter *w, const void *p, size_t n) {
    if (w->failed || n == 0) return;
    if (fwrite(p, 1, n, w->f) != n) fail(w, "write error");
}
static void op(PickleWriter *w, int c) {
    uint8_t b = (uint8_t)c;
    put(w, &b, 1);
}
static void le(PickleWriter *w, uint64_t x, int nbytes) {
    uint8_t b[8];
    for (int i = 0; i < nbytes; i++) b[i] = (uint8_t)(x >> (8 * i));
    put(w, b, (size_t)nbytes);
}

// Bookkeeping around every object: batching of the enclosing container. Python's pickler writes
// at most 1000 items per MARK .. APPENDS / SETITEMS, and a lone item with APPEND / SETITEM.
static void before_object(PickleWriter *w) {
    if (w->depth == 0) {
        if (w->root++ > 0) fail(w, "more than one top-level object");
        return;
    }
    int d = w->depth - 1;
    if (w->want[d] <= 0) {
        fail(w, "container received more items than announced");
        return;
    }
    if (w->left[d] == 0) {
        int64_t per = w->kind[d] == 'd' ? 2 : 1, items = w->want[d] / per;
        w->batch[d] = items < 1000 ? items : 1000;
        if (w->batch[d] > 1) op(w, OP_MARK);
        w->left[d] = w->batch[d] * per;
    }
}
static void after_object(PickleWriter *w) {
    if (w->depth == 0 || w->failed) return;
    int d = w->depth - 1;
    w->want[d]--, w->left[d]--;
    if (w->left[d] == 0) {
        if (w->kind[d] == 'd') op(w, w->batch[d] > 1 ? OP_SETITEMS : OP_SETITEM);
        else op(w, w->batch[d] > 1 ? OP_APPENDS : OP_APPEND);
    }
}

void pkw_begin(PickleWriter *w, FILE *f) {
    memset(w, 0, sizeof *w);
    w->f = f;
    op(w, OP_PROTO);
    op(w, 4);
}

int pkw_finish(PickleWriter *w, char *err) {
    if (!w->failed && w->depth != 0) fail(w, "unclosed container");
    if (!w->failed && w->root != 1) fail(w, "no top-level object");
    op(w, OP_STOP);
    if (!w->failed && fflush(w->f) != 0) fail(w, "write error");
    if (w->failed) return errf(err, "pickle writer: %s", w->msg);
    return 0;
}

static void container_begin(PickleWriter *w, char kind, int64_t n) {
    before_object(w);
    op(w, kind == 'd' ? OP_EMPTY_DICT : OP_EMPTY_LIST);
    if (n < 0) fail(w, "negative container size");
    if (w->depth >= PKW_MAX_DEPTH) fail(w, "containers nested too deeply");
    if (w->failed) return;
    int d = w->depth++;
    w->kind[d] = kind;
    w->want[d] = n * (kind == 'd' ? 2 : 1);
    w->left[d] = 0;
    w->batch[d] = 0;
}
static void container_end(PickleWriter *w, char kind) {
    if (w->failed) return;
    if (w->depth == 0 || w->kind[w->depth - 1] != kind) {
        fail(w, "container end without a matching begin");
        return;
    }
    if (w->want[w->depth - 1] != 0) {
        fail(w, "container closed before all announced items were written");
        return;
    }
    w->depth--;
    after_object(w);
}
void pkw_dict_begin(PickleWriter *w, int64_t n) { container_begin(w, 'd', n); }
void pkw_dict_end(PickleWriter *w) { container_end(w, 'd'); }
void pkw_list_begin(PickleWriter *w, int64_t n) { container_begin(w, 'l', n); }
void pkw_list_end(PickleWriter *w) { container_end(w, 'l'); }

// ---- raw encoders (no bookkeeping), shared by the public scalars and the ndarray writer
static void raw_str(PickleWriter *w, const char *s, size_t n) {
    if (n < 256) {
        op(w, OP_SHORT_BINUNICODE);
        le(w, n, 1);
    } else if (n <= 0xffffffffu) {
        op(w, OP_BINUNICODE);
        le(w, n, 4);
    } else {
        op(w, OP_BINUNICODE8);
        le(w, n, 8);
    }
    put(w, s, n);
}
static void raw_bytes(PickleWriter *w, const void *p, size_t n) {
    if (n < 256) {
        op(w, OP_SHORT_BINBYTES);
        le(w, n, 1);
    } else if (n <= 0xffffffffu) {
        op(w, OP_BINBYTES);
        le(w, n, 4);
    } else {
        op(w, OP_BINBYTES8);
        le(w, n, 8);
    }
    put(w, p, n);
}
static void raw_int(PickleWriter *w, int64_t x) {
    if (x >= 0 && x < 256) {
        op(w, OP_BININT1);
        le(w, (uint64_t)x, 1);
    } else if (x >= 0 && x < 65536) {
        op(w, OP_BININT2);
        le(w, (uint64_t)x, 2);
    } else if (x >= INT32_MIN && x <= INT32_MAX) {
        op(w, OP_BININT);
        le(w, (uint64_t)(uint32_t)(int32_t)x, 4);
    } else {
        // LONG1: little-endian two's complement, minimal length (8 bytes always suffice here)
        uint8_t b[8];
        for (int i = 0; i < 8; i++) b[i] = (uint8_t)((uint64_t)x >> (8 * i));
        int n = 8;
        while (n > 1 && ((b[n - 1] == 0 && !(b[n - 2] & 0x80)) || (b[n - 1] == 0xff && (b[n - 2] & 0x80)))) n--;
        op(w, OP_LONG1);
        le(w, (uint64_t)n, 1);
        put(w, b, (size_t)n);
    }
}
static void raw_global(PickleWriter *w, const char *module, const char *name) {
    raw_str(w, module, strlen(module));
    raw_str(w, name, strlen(name));
    op(w, OP_STACK_GLOBAL);
}

void pkw_str(PickleWriter *w, const char *s) {
    before_object(w);
    raw_str(w, s, strlen(s));
    after_object(w);
}
void pkw_float(PickleWriter *w, double x) {
    before_object(w);
    uint64_t u;
    memcpy(&u, &x, 8);
    uint8_t b[8];
    for (int i = 0; i < 8; i++) b[i] = (uint8_t)(u >> (56 - 8 * i)); // big-endian
    op(w, OP_BINFLOAT);
    put(w, b, 8);
    after_object(w);
}
void pkw_int(PickleWriter *w, int64_t x) {
    before_object(w);
    raw_int(w, x);
    after_object(w);
}
void pkw_none(PickleWriter *w) {
    before_object(w);
    op(w, OP_NONE);
    after_object(w);
}
void pkw_bool(PickleWriter *w, int b) {
    before_object(w);
    op(w, b ? OP_NEWTRUE : OP_NEWFALSE);
    after_object(w);
}

static void ndarray(PickleWriter *w, const void *data, size_t itemsize, const char *dtype, int ndim,
                    const int64_t *shape) {
    before_object(w);
    if (ndim < 0 || ndim > 8) fail(w, "ndarray: ndim out of range");
    size_t numel = 1;
    for (int i = 0; i < ndim && !w->failed; i++) {
        if (shape[i] < 0) fail(w, "ndarray: negative dimension");
        else numel *= (size_t)shape[i];
    }
    if (w->failed) return;
    // numpy.core.multiarray._reconstruct(numpy.ndarray, (0,), b'b')
    raw_global(w, "numpy.core.multiarray", "_reconstruct");
    raw_global(w, "numpy", "ndarray");
    raw_int(w, 0);
    op(w, OP_TUPLE1);
    raw_bytes(w, "b", 1);
    op(w, OP_TUPLE3);
    op(w, OP_REDUCE);
    // state: (1, shape, dtype, False, rawdata)
    op(w, OP_MARK);
    raw_int(w, 1);
    if (ndim == 0) op(w, OP_EMPTY_TUPLE);
    else {
        if (ndim > 3) op(w, OP_MARK);
        for (int i = 0; i < ndim; i++) raw_int(w, shape[i]);
        op(w, ndim == 1 ? OP_TUPLE1 : ndim == 2 ? OP_TUPLE2 : ndim == 3 ? OP_TUPLE3 : OP_TUPLE);
    }
    // numpy.dtype(dtype, False, True) BUILD (3, '<', None, None, None, -1, -1, 0)
    raw_global(w, "numpy", "dtype");
    raw_str(w, dtype, strlen(dtype));
    op(w, OP_NEWFALSE);
    op(w, OP_NEWTRUE);
    op(w, OP_TUPLE3);
    op(w, OP_REDUCE);
    op(w, OP_MARK);
    raw_int(w, 3);
    raw_str(w, "<", 1);
    op(w, OP_NONE);
    op(w, OP_NONE);
    op(w, OP_NONE);
    raw_int(w, -1);
    raw_int(w, -1);
    raw_int(w, 0);
    op(w, OP_TUPLE);
    op(w, OP_BUILD);
    op(w, OP_NEWFALSE); // not Fortran order
    raw_bytes(w, data, numel * itemsize); // host order: little-endian (x86-64 / aarch64)
    op(w, OP_TUPLE);
    op(w, OP_BUILD);
    after_object(w);
}
void pkw_ndarray_f32(PickleWriter *w, const float *data, int ndim, const int64_t *shape) {
    ndarray(w, data, 4, "f4", ndim, shape);
}
void pkw_ndarray_f64(PickleWriter *w, const double *data, int ndim, const int64_t *shape) {
    ndarray(w, data, 8, "f8", ndim, shape);
}
