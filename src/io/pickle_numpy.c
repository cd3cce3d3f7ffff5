// pickle_numpy.c: ndarray / dtype / scalar nodes of a pickle tree -> PkArray descriptions.
#include "io/pickle_numpy.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

const char *const PK_NUMPY_GLOBALS[] = {
    "numpy.core.multiarray._reconstruct", "numpy._core.multiarray._reconstruct",
    "numpy.core.numeric._frombuffer",     "numpy._core.numeric._frombuffer",
    "numpy.core.multiarray.scalar",       "numpy._core.multiarray.scalar",
    "numpy.ndarray",                      "numpy.dtype",
    "_codecs.encode",                     "builtins.bytes",
    "builtins.bytearray",                 NULL,
};

static int nerr(Pickle *pk, const char *what, char *err, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static int nerr(Pickle *pk, const char *what, char *err, const char *fmt, ...) {
    char msg[300];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    return errf(err, "%s: %s: %s", pickle_name(pk), what, msg);
}

static int is_reconstruct(const PkObj *o) {
    return pk_is_call_of(o, "numpy.core.multiarray._reconstruct") ||
           pk_is_call_of(o, "numpy._core.multiarray._reconstruct");
}
static int is_frombuffer(const PkObj *o) {
    return pk_is_call_of(o, "numpy.core.numeric._frombuffer") || pk_is_call_of(o, "numpy._core.numeric._frombuffer");
}
static int is_scalar(const PkObj *o) {
    return pk_is_call_of(o, "numpy.core.multiarray.scalar") || pk_is_call_of(o, "numpy._core.multiarray.scalar");
}
int pk_is_ndarray(const PkObj *o) { return is_reconstruct(o) || is_frombuffer(o); }

static const PkObj *arg(const PkObj *call, size_t i) {
    const PkObj *a = call->call.args;
    return a && a->kind == PK_TUPLE && i < a->seq.n ? a->seq.v[i] : NULL;
}

// numpy.dtype(typestr, False, True) [+ BUILD (3, byteorder, subarray, names, fields, elsize, align, flags)]
static int parse_dtype(Pickle *pk, const PkObj *o, const char *what, PkDtype *d, char *err) {
    if (!pk_is_call_of(o, "numpy.dtype")) return nerr(pk, what, err, "dtype is not a numpy.dtype(...) call");
    const PkObj *ts = arg(o, 0);
    if (!ts || ts->kind != PK_STR || ts->s.len == 0 || ts->s.len > 20) return nerr(pk, what, err, "bad dtype arguments");
    char t[24];
    memcpy(t, ts->s.p, ts->s.len);
    t[ts->s.len] = 0;
    const char *p = t;
    char order = '|';
    if (*p == '<' || *p == '>' || *p == '|' || *p == '=') order = *p++;
    char kind = *p++;
    long size = 0;
    int digits = 0;
    for (; *p >= '0' && *p <= '9' && size < 100000000; p++, digits++) size = size * 10 + (*p - '0');
    if (*p || !strchr("biufUSO", kind) || (!digits && kind != 'U' && kind != 'S'))
        return nerr(pk, what, err, "unsupported dtype '%s'", t);
    d->kind = kind;
    d->itemsize = (int)(kind == 'U' ? 4 * size : size);
    int ok = (kind == 'b' && size == 1) || ((kind == 'i' || kind == 'u') && (size == 1 || size == 2 || size == 4 || size == 8)) ||
             (kind == 'f' && (size == 4 || size == 8)) || (kind == 'O' && size == 8) || kind == 'U' || kind == 'S';
    if (!ok) return nerr(pk, what, err, "unsupported dtype '%s'", t);
    const PkObj *st = o->call.state;
    if (st) {
        if (st->kind != PK_TUPLE || st->seq.n < 8) return nerr(pk, what, err, "bad dtype state for '%s'", t);
        const PkObj *bo = st->seq.v[1];
        if (bo->kind != PK_STR || bo->s.len != 1) return nerr(pk, what, err, "bad dtype byte order for '%s'", t);
        order = (char)bo->s.p[0];
        if (!strchr("<>|=", order)) return nerr(pk, what, err, "bad dtype byte order '%c'", order);
        for (int i = 2; i <= 4; i++)
            if (st->seq.v[i]->kind != PK_NONE) return nerr(pk, what, err, "structured or sub-array dtypes are not supported");
        const PkObj *es = st->seq.v[5];
        if ((kind == 'U' || kind == 'S') && es->kind == PK_INT && es->i > 0 && es->i < (1 << 30)) d->itemsize = (int)es->i;
    }
    d->big_endian = order == '>' && d->itemsize > 1 && kind != 'S';
    if (kind == 'U' && d->itemsize % 4) return nerr(pk, what, err, "bad unicode dtype size %d", d->itemsize);
    return 0;
}

// bytes-like payload: bytes/bytearray, protocol 2's _codecs.encode(str, 'latin1'), or bytes() (empty).
static int payload(Pickle *pk, const PkObj *o, const char *what, const uint8_t **data, size_t *n, int *copied,
                   char *err) {
    *copied = 0;
    if (o && o->kind == PK_BYTES) {
        *data = o->s.p;
        *n = o->s.len;
        return 0;
    }
    if (pk_is_call_of(o, "_codecs.encode")) {
        const PkObj *s = arg(o, 0), *enc = arg(o, 1);
        if (!s || s->kind != PK_STR || !(pk_is_str(enc, "latin1") || pk_is_str(enc, "latin-1")))
            return nerr(pk, what, err, "unsupported _codecs.encode arguments");
        // every code point < 256 becomes one byte: UTF-8 of those is 1 or 2 bytes (0xC2/0xC3 lead)
        uint8_t *out = pickle_alloc(pk, s->s.len ? s->s.len : 1);
        size_t k = 0;
        for (size_t i = 0; i < s->s.len; i++) {
            uint8_t c = s->s.p[i];
            if (c < 0x80) out[k++] = c;
            else if ((c == 0xC2 || c == 0xC3) && i + 1 < s->s.len) out[k++] = (uint8_t)(((c & 0x03) << 6) | (s->s.p[++i] & 0x3F));
            else return nerr(pk, what, err, "latin-1 payload holds a character above U+00FF");
        }
        *data = out;
        *n = k;
        *copied = 1;
        pickle_release(pk, s->s.p, s->s.len); // the decoded copy replaces the mapped text
        return 0;
    }
    if (pk_is_call_of(o, "builtins.bytes") || pk_is_call_of(o, "builtins.bytearray")) {
        if (o->call.args->seq.n != 0) return nerr(pk, what, err, "unsupported bytes(...) payload");
        *data = (const uint8_t *)"";
        *n = 0;
        return 0;
    }
    return nerr(pk, what, err, "array data is a %s, not bytes", o ? pk_kind_name(o->kind) : "missing value");
}

static int set_shape(Pickle *pk, const PkObj *sh, const char *what, PkArray *a, char *err) {
    if (!sh || sh->kind != PK_TUPLE) return nerr(pk, what, err, "array shape is not a tuple");
    if (sh->seq.n > PK_MAX_DIMS) return nerr(pk, what, err, "array of %zu dimensions (at most %d)", sh->seq.n, PK_MAX_DIMS);
    a->ndim = (int)sh->seq.n;
    size_t numel = 1;
    for (int i = 0; i < a->ndim; i++) {
        const PkObj *d = sh->seq.v[i];
        if (d->kind != PK_INT || d->i < 0) return nerr(pk, what, err, "bad array dimension");
        a->shape[i] = d->i;
        if (d->i && numel > SIZE_MAX / 16 / (size_t)d->i) return nerr(pk, what, err, "array too large");
        numel *= (size_t)d->i;
    }
    a->numel = numel;
    return 0;
}

int pk_ndarray(Pickle *pk, const PkObj *o, const char *what, PkArray *a, char *err) {
    memset(a, 0, sizeof(*a));
    const PkObj *sh, *dt, *data;
    if (is_reconstruct(o)) {
        const PkObj *st = o->call.state;
        if (!st || st->kind != PK_TUPLE || (st->seq.n != 5 && st->seq.n != 4))
            return nerr(pk, what, err, "ndarray without a (version, shape, dtype, is_fortran, data) state");
        size_t k = st->seq.n - 4;
        sh = st->seq.v[k];
        dt = st->seq.v[k + 1];
        const PkObj *f = st->seq.v[k + 2];
        if (f->kind != PK_BOOL && f->kind != PK_INT) return nerr(pk, what, err, "bad is_fortran flag");
        a->fortran = f->i != 0;
        data = st->seq.v[k + 3];
    } else if (is_frombuffer(o)) {
        data = arg(o, 0), dt = arg(o, 1), sh = arg(o, 2);
        const PkObj *ord = arg(o, 3);
        if (!ord || o->call.args->seq.n != 4) return nerr(pk, what, err, "bad _frombuffer arguments");
        if (pk_is_str(ord, "F")) a->fortran = 1;
        else if (!pk_is_str(ord, "C")) return nerr(pk, what, err, "bad _frombuffer order");
    } else {
        return nerr(pk, what, err, "expected a numpy array, found a %s", o ? pk_kind_name(o->kind) : "missing value");
    }
    if (parse_dtype(pk, dt, what, &a->dtype, err) || set_shape(pk, sh, what, a, err)) return -1;
    if (a->ndim < 2) a->fortran = 0; // same layout either way
    if (a->dtype.kind == 'O') {
        if (!data || data->kind != PK_LIST || data->seq.n != a->numel)
            return nerr(pk, what, err, "object array data is not a list of %zu items", a->numel);
        a->items = data;
        return 0;
    }
    if (payload(pk, data, what, &a->data, &a->nbytes, &a->copied, err)) return -1;
    if ((size_t)a->dtype.itemsize && a->numel > SIZE_MAX / (size_t)a->dtype.itemsize)
        return nerr(pk, what, err, "array too large");
    if (a->nbytes != a->numel * (size_t)a->dtype.itemsize)
        return nerr(pk, what, err, "array data of %zu bytes, expected %zu", a->nbytes, a->numel * (size_t)a->dtype.itemsize);
    return 0;
}

int pk_array_is_numeric(const PkArray *a) { return a->dtype.kind && strchr("biuf", a->dtype.kind) != NULL; }

static size_t storage_index(const PkArray *a, size_t i) {
    if (!a->fortran) return i;
    size_t off = 0, stride = 1, idx[PK_MAX_DIMS];
    for (int d = a->ndim - 1; d >= 0; d--) {
        idx[d] = i % (size_t)a->shape[d];
        i /= (size_t)a->shape[d];
    }
    for (int d = 0; d < a->ndim; d++) {
        off += idx[d] * stride;
        stride *= (size_t)a->shape[d];
    }
    return off;
}

static uint64_t load_bits(const uint8_t *p, int size, int big) {
    uint64_t v = 0;
    if (big)
        for (int k = 0; k < size; k++) v = (v << 8) | p[k];
    else
        for (int k = size - 1; k >= 0; k--) v = (v << 8) | p[k];
    return v;
}

static double elem(const PkArray *a, size_t storage) {
    int sz = a->dtype.itemsize;
    uint64_t v = load_bits(a->data + storage * (size_t)sz, sz, a->dtype.big_endian);
    switch (a->dtype.kind) {
    case 'f':
        if (sz == 4) {
            uint32_t u = (uint32_t)v;
            float f;
            memcpy(&f, &u, 4);
            return f;
        } else {
            double f;
            memcpy(&f, &v, 8);
            return f;
        }
    case 'i': {
        if (sz < 8 && (v >> (8 * sz - 1)) & 1) v |= ~(uint64_t)0 << (8 * sz);
        int64_t s;
        memcpy(&s, &v, 8);
        return (double)s;
    }
    case 'u': return (double)v;
    case 'b': return v != 0;
    default: return 0;
    }
}

double pk_array_at(const PkArray *a, size_t i) { return elem(a, storage_index(a, i)); }

int pk_array_is_f32_view(const PkArray *a) {
    return a->dtype.kind == 'f' && a->dtype.itemsize == 4 && !a->dtype.big_endian && !a->fortran &&
           ((uintptr_t)a->data % 4) == 0;
}

void pk_array_to_f32(const PkArray *a, size_t begin, size_t n, float *dst) {
    if (a->dtype.kind == 'f' && !a->dtype.big_endian && !a->fortran) {
        if (a->dtype.itemsize == 4) {
            memcpy(dst, a->data + 4 * begin, 4 * n);
            return;
        }
        const uint8_t *p = a->data + 8 * begin;
        for (size_t i = 0; i < n; i++) {
            double d;
            memcpy(&d, p + 8 * i, 8);
            dst[i] = (float)d;
        }
        return;
    }
    for (size_t i = 0; i < n; i++) dst[i] = (float)pk_array_at(a, begin + i);
}

void pk_array_to_f64(const PkArray *a, size_t begin, size_t n, double *dst) {
    if (a->dtype.kind == 'f' && !a->dtype.big_endian && !a->fortran) {
        if (a->dtype.itemsize == 8) {
            memcpy(dst, a->data + 8 * begin, 8 * n);
            return;
        }
        const uint8_t *p = a->data + 4 * begin;
        for (size_t i = 0; i < n; i++) {
            float f;
            memcpy(&f, p + 4 * i, 4);
            dst[i] = f;
        }
        return;
    }
    for (size_t i = 0; i < n; i++) dst[i] = pk_array_at(a, begin + i);
}

int pk_number(Pickle *pk, const PkObj *o, const char *what, double *v, char *err) {
    if (!o) return nerr(pk, what, err, "missing number");
    switch (o->kind) {
    case PK_INT:
    case PK_BOOL: *v = (double)o->i; return 0;
    case PK_FLOAT: *v = o->f; return 0;
    default: break;
    }
    if (is_scalar(o)) {
        PkArray a = {0};
        if (parse_dtype(pk, arg(o, 0), what, &a.dtype, err)) return -1;
        if (!pk_array_is_numeric(&a)) return nerr(pk, what, err, "numpy scalar is not a number");
        if (payload(pk, arg(o, 1), what, &a.data, &a.nbytes, &a.copied, err)) return -1;
        if (a.nbytes != (size_t)a.dtype.itemsize) return nerr(pk, what, err, "numpy scalar of %zu bytes", a.nbytes);
        a.numel = 1;
        *v = pk_array_at(&a, 0);
        return 0;
    }
    if (pk_is_ndarray(o)) {
        PkArray a;
        if (pk_ndarray(pk, o, what, &a, err)) return -1;
        if (a.numel != 1 || !pk_array_is_numeric(&a)) return nerr(pk, what, err, "array is not a single number");
        *v = pk_array_at(&a, 0);
        return 0;
    }
    return nerr(pk, what, err, "expected a number, found a %s", pk_kind_name(o->kind));
}

int pk_numbers(Pickle *pk, const PkObj *o, const char *what, double **out, size_t *n, char *err) {
    *out = NULL;
    *n = 0;
    if (pk_is_seq(o)) {
        double *v = xmalloc((o->seq.n ? o->seq.n : 1) * sizeof(double));
        for (size_t i = 0; i < o->seq.n; i++)
            if (pk_number(pk, o->seq.v[i], what, &v[i], err)) {
                free(v);
                return -1;
            }
        *out = v;
        *n = o->seq.n;
        return 0;
    }
    PkArray a;
    if (pk_ndarray(pk, o, what, &a, err)) return -1;
    double *v = xmalloc((a.numel ? a.numel : 1) * sizeof(double));
    if (a.dtype.kind == 'O') {
        for (size_t i = 0; i < a.numel; i++)
            if (pk_number(pk, a.items->seq.v[storage_index(&a, i)], what, &v[i], err)) {
                free(v);
                return -1;
            }
    } else if (pk_array_is_numeric(&a)) {
        pk_array_to_f64(&a, 0, a.numel, v);
    } else {
        free(v);
        return nerr(pk, what, err, "array of dtype kind '%c' is not numeric", a.dtype.kind);
    }
    *out = v;
    *n = a.numel;
    return 0;
}

// UCS-4 (numpy 'U') to UTF-8, trailing NULs dropped.
static char *ucs4_to_utf8(const uint8_t *p, size_t nchars, int big) {
    while (nchars && load_bits(p + 4 * (nchars - 1), 4, big) == 0) nchars--;
    char *out = xmalloc(4 * nchars + 1), *q = out;
    for (size_t i = 0; i < nchars; i++) {
        uint32_t c = (uint32_t)load_bits(p + 4 * i, 4, big);
        if (c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF) || c == 0) {
            free(out);
            return NULL;
        }
        if (c < 0x80) *q++ = (char)c;
        else if (c < 0x800) *q++ = (char)(0xC0 | (c >> 6)), *q++ = (char)(0x80 | (c & 0x3F));
        else if (c < 0x10000)
            *q++ = (char)(0xE0 | (c >> 12)), *q++ = (char)(0x80 | ((c >> 6) & 0x3F)), *q++ = (char)(0x80 | (c & 0x3F));
        else
            *q++ = (char)(0xF0 | (c >> 18)), *q++ = (char)(0x80 | ((c >> 12) & 0x3F)),
            *q++ = (char)(0x80 | ((c >> 6) & 0x3F)), *q++ = (char)(0x80 | (c & 0x3F));
    }
    *q = 0;
    return out;
}

static char *bytes_text(const uint8_t *p, size_t n, int strip) {
    if (strip)
        while (n && p[n - 1] == 0) n--;
    if (memchr(p, 0, n) || !pk_utf8_ok(p, n)) return NULL;
    char *s = xmalloc(n + 1);
    if (n) memcpy(s, p, n);
    s[n] = 0;
    return s;
}

// One text item: str, bytes holding UTF-8, or a numpy str_ scalar.
static char *text_of(Pickle *pk, const PkObj *o, const char *what, char *err) {
    char *s = NULL;
    if (o && o->kind == PK_STR) {
        s = bytes_text(o->s.p, o->s.len, 0);
        if (!s) nerr(pk, what, err, "text contains a NUL character");
        return s;
    }
    if (o && o->kind == PK_BYTES) {
        s = bytes_text(o->s.p, o->s.len, 0);
        if (!s) nerr(pk, what, err, "text is not valid UTF-8");
        return s;
    }
    if (is_scalar(o)) {
        PkDtype d;
        const uint8_t *p;
        size_t n;
        int copied;
        if (parse_dtype(pk, arg(o, 0), what, &d, err) || payload(pk, arg(o, 1), what, &p, &n, &copied, err)) return NULL;
        if (d.kind == 'U' && n % 4 == 0) s = ucs4_to_utf8(p, n / 4, d.big_endian);
        else if (d.kind == 'S') s = bytes_text(p, n, 1);
        else {
            nerr(pk, what, err, "numpy scalar is not text");
            return NULL;
        }
        if (!s) nerr(pk, what, err, "text is not valid Unicode");
        return s;
    }
    nerr(pk, what, err, "expected text, found a %s", o ? pk_kind_name(o->kind) : "missing value");
    return NULL;
}

void pk_free_strs(char **s, size_t n) {
    if (!s) return;
    for (size_t i = 0; i < n; i++) free(s[i]);
    free(s);
}

int pk_strs(Pickle *pk, const PkObj *o, const char *what, char ***out, size_t *n, char *err) {
    *out = NULL;
    *n = 0;
    PkArray a;
    size_t cnt;
    if (pk_is_seq(o)) {
        cnt = o->seq.n;
    } else {
        if (pk_ndarray(pk, o, what, &a, err)) return -1;
        if (!strchr("UOS", a.dtype.kind)) return nerr(pk, what, err, "array of dtype kind '%c' is not text", a.dtype.kind);
        cnt = a.numel;
    }
    char **v = xcalloc(cnt ? cnt : 1, sizeof(char *));
    for (size_t i = 0; i < cnt; i++) {
        if (pk_is_seq(o)) {
            v[i] = text_of(pk, o->seq.v[i], what, err);
        } else if (a.dtype.kind == 'O') {
            v[i] = text_of(pk, a.items->seq.v[storage_index(&a, i)], what, err);
        } else {
            const uint8_t *p = a.data + storage_index(&a, i) * (size_t)a.dtype.itemsize;
            v[i] = a.dtype.kind == 'U' ? ucs4_to_utf8(p, (size_t)a.dtype.itemsize / 4, a.dtype.big_endian)
                                       : bytes_text(p, (size_t)a.dtype.itemsize, 1);
            if (!v[i]) nerr(pk, what, err, "text item %zu is not valid Unicode", i);
        }
        if (!v[i]) {
            pk_free_strs(v, i);
            return -1;
        }
    }
    *out = v;
    *n = cnt;
    return 0;
}
