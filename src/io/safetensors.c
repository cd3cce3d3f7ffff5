// safetensors.c: see safetensors.h (why hand-written, what is validated).
#include "io/safetensors.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

static const char *DT_NAME[ST_NDTYPES] = {"F64", "F32", "F16", "BF16", "I64", "I32", "I16", "I8", "U8", "BOOL"};
static const size_t DT_SIZE[ST_NDTYPES] = {8, 4, 2, 2, 8, 4, 2, 1, 1, 1};

const char *st_dtype_name(StDtype t) { return (unsigned)t < ST_NDTYPES ? DT_NAME[t] : "?"; }
size_t st_dtype_size(StDtype t) { return (unsigned)t < ST_NDTYPES ? DT_SIZE[t] : 0; }

int st_dtype_parse(const char *s, StDtype *t) {
    for (int i = 0; i < ST_NDTYPES; i++)
        if (!strcmp(s, DT_NAME[i])) {
            *t = (StDtype)i;
            return 0;
        }
    return -1;
}

static int host_little_endian(void) {
    const uint16_t one = 1;
    return *(const uint8_t *)&one == 1;
}

// ---------------------------------------------------------------- reader

static __thread StFile *g_sort_file; // qsort context during st_open (per thread: files open concurrently)

static int cmp_by_name(const void *a, const void *b) {
    return strcmp(g_sort_file->t[*(const int *)a].name, g_sort_file->t[*(const int *)b].name);
}

static int cmp_by_offset(const void *a, const void *b) {
    const StTensor *x = a, *y = b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    if (x->nbytes != y->nbytes) return x->nbytes < y->nbytes ? -1 : 1;
    return strcmp(x->name, y->name);
}

// Parse one tensor entry. `dsize` is the data area's size.
static int parse_entry(StTensor *t, const char *name, json_t *v, size_t dsize, const char *fn, char *err) {
    if (!json_is_object(v)) return errf(err, "%s: tensor '%s': header entry is not an object", fn, name);
    json_t *jd = json_object_get(v, "dtype"), *js = json_object_get(v, "shape"),
           *jo = json_object_get(v, "data_offsets");
    if (!json_is_string(jd)) return errf(err, "%s: tensor '%s': missing or non-string dtype", fn, name);
    if (st_dtype_parse(json_string_value(jd), &t->dtype) != 0)
        return errf(err, "%s: tensor '%s': unsupported dtype '%.32s'", fn, name, json_string_value(jd));
    if (!json_is_array(js)) return errf(err, "%s: tensor '%s': missing or non-array shape", fn, name);
    size_t nd = json_array_size(js);
    if (nd > ST_MAX_DIMS) return errf(err, "%s: tensor '%s': %zu dimensions (max %d)", fn, name, nd, ST_MAX_DIMS);
    t->ndim = (int)nd;
    size_t numel = 1;
    int overflow = 0;
    for (size_t d = 0; d < nd; d++) {
        json_t *x = json_array_get(js, d);
        if (!json_is_integer(x) || json_integer_value(x) < 0)
            return errf(err, "%s: tensor '%s': shape entry %zu is not a non-negative integer", fn, name, d);
        json_int_t s = json_integer_value(x);
        t->shape[d] = (int64_t)s;
        if (s != 0 && numel > SIZE_MAX / (size_t)s) overflow = 1;
        else numel *= (size_t)s;
    }
    size_t isz = DT_SIZE[t->dtype];
    if (!overflow && numel > SIZE_MAX / isz) overflow = 1;
    // A zero dimension makes numel 0 whatever the others are; overflow only matters if nonzero.
    for (size_t d = 0; d < nd; d++)
        if (t->shape[d] == 0) overflow = 0, numel = 0;
    if (overflow) return errf(err, "%s: tensor '%s': shape too large (element count overflows)", fn, name);
    t->numel = numel;
    t->nbytes = numel * isz;
    if (!json_is_array(jo) || json_array_size(jo) != 2 || !json_is_integer(json_array_get(jo, 0)) ||
        !json_is_integer(json_array_get(jo, 1)))
        return errf(err, "%s: tensor '%s': data_offsets must be [begin, end] integers", fn, name);
    json_int_t b = json_integer_value(json_array_get(jo, 0)), e = json_integer_value(json_array_get(jo, 1));
    if (b < 0 || e < b || (unsigned long long)e > dsize)
        return errf(err, "%s: tensor '%s': data_offsets [%lld, %lld] outside the data area of %zu bytes", fn, name,
                    (long long)b, (long long)e, dsize);
    if ((size_t)(e - b) != t->nbytes)
        return errf(err, "%s: tensor '%s': data_offsets span %lld bytes but %s%s needs %zu", fn, name,
                    (long long)(e - b), DT_NAME[t->dtype], nd ? " shape" : " scalar", t->nbytes);
    t->begin = (size_t)b;
    return 0;
}

int st_parse(StFile *f, const uint8_t *buf, size_t size, const char *name, char *err) {
    memset(f, 0, sizeof(*f));
    if (!host_little_endian()) return errf(err, "%s: safetensors needs a little-endian host", name);
    if (size < 8) return errf(err, "%s: not a safetensors file (%zu bytes, shorter than the 8-byte header length)", name, size);
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--) hlen = (hlen << 8) | buf[i];
    if (hlen > ST_MAX_HEADER)
        return errf(err, "%s: not a safetensors file (header length %llu exceeds the limit of %llu bytes)", name,
                    (unsigned long long)hlen, ST_MAX_HEADER);
    if (hlen > size - 8)
        return errf(err, "%s: truncated safetensors file (header length %llu but only %zu bytes follow)", name,
                    (unsigned long long)hlen, size - 8);
    if (hlen < 2 || buf[8] != '{') return errf(err, "%s: not a safetensors file (header does not start with '{')", name);
    json_error_t je;
    json_t *root = json_loadb((const char *)buf + 8, (size_t)hlen, JSON_REJECT_DUPLICATES, &je);
    if (!root) return errf(err, "%s: bad safetensors header JSON (offset %d): %s", name, je.position, je.text);
    if (!json_is_object(root)) {
        json_decref(root);
        return errf(err, "%s: safetensors header is not a JSON object", name);
    }
    f->path = xstrdup(name);
    size_t doff = 8 + (size_t)hlen, dsize = size - doff;
    size_t cap = json_object_size(root);
    f->t = xcalloc(cap ? cap : 1, sizeof(StTensor));
    const char *key;
    json_t *v;
    int rc = 0;
    json_object_foreach(root, key, v) {
        if (!strcmp(key, "__metadata__")) {
            if (json_is_null(v)) continue;
            if (!json_is_object(v)) {
                rc = errf(err, "%s: __metadata__ is not an object", name);
                break;
            }
            size_t nm = json_object_size(v);
            f->meta_key = xcalloc(nm ? nm : 1, sizeof(char *));
            f->meta_val = xcalloc(nm ? nm : 1, sizeof(char *));
            const char *mk;
            json_t *mv;
            json_object_foreach(v, mk, mv) {
                if (!json_is_string(mv)) {
                    rc = errf(err, "%s: __metadata__ value of '%.64s' is not a string", name, mk);
                    break;
                }
                f->meta_key[f->n_meta] = xstrdup(mk);
                f->meta_val[f->n_meta] = xstrdup(json_string_value(mv));
                f->n_meta++;
            }
            if (rc) break;
            continue;
        }
        StTensor *t = &f->t[f->n];
        if (parse_entry(t, key, v, dsize, name, err) != 0) {
            rc = -1;
            break;
        }
        t->name = xstrdup(key);
        t->data = buf + doff + t->begin;
        f->n++;
    }
    json_decref(root);
    if (rc) {
        st_close(f);
        return -1;
    }
    qsort(f->t, (size_t)f->n, sizeof(StTensor), cmp_by_offset);
    // Sorted by begin: each non-empty tensor must start at or after the furthest end seen so far.
    const StTensor *last = NULL; // non-empty tensor reaching furthest
    for (int i = 0; i < f->n; i++) {
        const StTensor *b = &f->t[i];
        if (!b->nbytes) continue;
        if (last && b->begin < last->begin + last->nbytes) {
            rc = errf(err, "%s: tensors '%s' and '%s' overlap in the data area", name, last->name, b->name);
            st_close(f);
            return rc;
        }
        last = b;
    }
    f->by_name_ = xmalloc((size_t)(f->n ? f->n : 1) * sizeof(int));
    for (int i = 0; i < f->n; i++) f->by_name_[i] = i;
    g_sort_file = f;
    qsort(f->by_name_, (size_t)f->n, sizeof(int), cmp_by_name);
    g_sort_file = NULL;
    return 0;
}

int st_open(StFile *f, const char *path, char *err) {
    MappedFile mf;
    if (map_file(&mf, path, err) != 0) {
        memset(f, 0, sizeof(*f));
        return -1;
    }
    if (st_parse(f, mf.data, mf.size, path, err) != 0) {
        unmap_file(&mf);
        return -1;
    }
    f->mf_ = mf;
    return 0;
}

void st_close(StFile *f) {
    for (int i = 0; i < f->n; i++) free(f->t[i].name);
    free(f->t);
    free(f->by_name_);
    for (int i = 0; i < f->n_meta; i++) free(f->meta_key[i]), free(f->meta_val[i]);
    free(f->meta_key);
    free(f->meta_val);
    free(f->path);
    unmap_file(&f->mf_);
    memset(f, 0, sizeof(*f));
}

const StTensor *st_find(const StFile *f, const char *name) {
    int lo = 0, hi = f->n - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2;
        const StTensor *t = &f->t[f->by_name_[mid]];
        int c = strcmp(name, t->name);
        if (c == 0) return t;
        if (c < 0) hi = mid - 1;
        else lo = mid + 1;
    }
    return NULL;
}

const char *st_meta(const StFile *f, const char *key) {
    for (int i = 0; i < f->n_meta; i++)
        if (!strcmp(f->meta_key[i], key)) return f->meta_val[i];
    return NULL;
}

float st_f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h >> 15) << 31, exp = (h >> 10) & 0x1f, man = h & 0x3ff, bits;
    if (exp == 0) {
        if (man == 0) bits = sign;
        else { // subnormal: normalise
            int e = -1;
            do {
                man <<= 1;
                e++;
            } while (!(man & 0x400));
            bits = sign | ((uint32_t)(127 - 15 - e) << 23) | ((man & 0x3ff) << 13);
        }
    } else if (exp == 0x1f) bits = sign | 0x7f800000u | (man << 13); // inf / nan
    else bits = sign | ((exp + 127 - 15) << 23) | (man << 13);
    float out;
    memcpy(&out, &bits, 4);
    return out;
}

float st_bf16_to_f32(uint16_t h) {
    uint32_t bits = (uint32_t)h << 16;
    float out;
    memcpy(&out, &bits, 4);
    return out;
}

static int check_n(const StFile *f, const StTensor *t, size_t n, char *err) {
    if (n != t->numel)
        return errf(err, "%s: tensor '%s' has %zu elements, caller expected %zu", f->path, t->name, t->numel, n);
    return 0;
}

int st_to_f32(const StFile *f, const StTensor *t, float *dst, size_t n, char *err) {
    if (check_n(f, t, n, err)) return -1;
    const uint8_t *s = t->data;
    switch (t->dtype) {
    case ST_F32: if (n) memcpy(dst, s, n * 4); break;
    case ST_F16: for (size_t i = 0; i < n; i++) { uint16_t h; memcpy(&h, s + 2 * i, 2); dst[i] = st_f16_to_f32(h); } break;
    case ST_BF16: for (size_t i = 0; i < n; i++) { uint16_t h; memcpy(&h, s + 2 * i, 2); dst[i] = st_bf16_to_f32(h); } break;
    case ST_F64: for (size_t i = 0; i < n; i++) { double d; memcpy(&d, s + 8 * i, 8); dst[i] = (float)d; } break;
    case ST_I64: for (size_t i = 0; i < n; i++) { int64_t v; memcpy(&v, s + 8 * i, 8); dst[i] = (float)v; } break;
    case ST_I32: for (size_t i = 0; i < n; i++) { int32_t v; memcpy(&v, s + 4 * i, 4); dst[i] = (float)v; } break;
    case ST_I16: for (size_t i = 0; i < n; i++) { int16_t v; memcpy(&v, s + 2 * i, 2); dst[i] = (float)v; } break;
    case ST_I8: for (size_t i = 0; i < n; i++) dst[i] = (float)(int8_t)s[i]; break;
    case ST_U8: for (size_t i = 0; i < n; i++) dst[i] = (float)s[i]; break;
    case ST_BOOL: for (size_t i = 0; i < n; i++) dst[i] = s[i] ? 1.0f : 0.0f; break;
    default: return errf(err, "%s: tensor '%s': bad dtype", f->path, t->name);
    }
    return 0;
}

int st_to_i32(const StFile *f, const StTensor *t, int32_t *dst, size_t n, char *err) {
    if (check_n(f, t, n, err)) return -1;
    const uint8_t *s = t->data;
    switch (t->dtype) {
    case ST_I64:
        for (size_t i = 0; i < n; i++) {
            int64_t v;
            memcpy(&v, s + 8 * i, 8);
            if (v < INT32_MIN || v > INT32_MAX)
                return errf(err, "%s: tensor '%s': element %zu = %lld does not fit in int32", f->path, t->name, i,
                            (long long)v);
            dst[i] = (int32_t)v;
        }
        break;
    case ST_I32: if (n) memcpy(dst, s, n * 4); break;
    case ST_I16: for (size_t i = 0; i < n; i++) { int16_t v; memcpy(&v, s + 2 * i, 2); dst[i] = v; } break;
    case ST_I8: for (size_t i = 0; i < n; i++) dst[i] = (int8_t)s[i]; break;
    case ST_U8: for (size_t i = 0; i < n; i++) dst[i] = s[i]; break;
    case ST_BOOL: for (size_t i = 0; i < n; i++) dst[i] = s[i] != 0; break;
    default:
        return errf(err, "%s: tensor '%s' is %s, expected an integer dtype", f->path, t->name, st_dtype_name(t->dtype));
    }
    return 0;
}

// ---------------------------------------------------------------- writer

void stw_init(StWriter *w) { memset(w, 0, sizeof(*w)); }

void stw_add(StWriter *w, const char *name, StDtype dtype, int ndim, const int64_t *shape, const void *data) {
    if (w->n == w->cap) {
        w->cap = w->cap ? 2 * w->cap : 64;
        w->e = xrealloc(w->e, (size_t)w->cap * sizeof(StwEntry));
    }
    StwEntry *e = &w->e[w->n++];
    memset(e, 0, sizeof(*e));
    e->name = xstrdup(name);
    e->dtype = dtype;
    e->ndim = ndim;
    for (int d = 0; d < ndim && d < ST_MAX_DIMS; d++) e->shape[d] = shape[d];
    e->data = data;
}

void stw_add_f32(StWriter *w, const char *name, int ndim, const int64_t *shape, const float *data) {
    stw_add(w, name, ST_F32, ndim, shape, data);
}

void stw_meta(StWriter *w, const char *key, const char *value) {
    for (int i = 0; i < w->n_meta; i++)
        if (!strcmp(w->meta_key[i], key)) {
            free(w->meta_val[i]);
            w->meta_val[i] = xstrdup(value);
            return;
        }
    if (w->n_meta == w->meta_cap) {
        w->meta_cap = w->meta_cap ? 2 * w->meta_cap : 8;
        w->meta_key = xrealloc(w->meta_key, (size_t)w->meta_cap * sizeof(char *));
        w->meta_val = xrealloc(w->meta_val, (size_t)w->meta_cap * sizeof(char *));
    }
    w->meta_key[w->n_meta] = xstrdup(key);
    w->meta_val[w->n_meta] = xstrdup(value);
    w->n_meta++;
}

void stw_free(StWriter *w) {
    for (int i = 0; i < w->n; i++) free(w->e[i].name);
    free(w->e);
    for (int i = 0; i < w->n_meta; i++) free(w->meta_key[i]), free(w->meta_val[i]);
    free(w->meta_key);
    free(w->meta_val);
    memset(w, 0, sizeof(*w));
}

static const StWriter *g_sort_writer;

// Layout order: decreasing item size (keeps every tensor aligned to its item size), then name.
static int cmp_layout(const void *a, const void *b) {
    const StwEntry *x = &g_sort_writer->e[*(const int *)a], *y = &g_sort_writer->e[*(const int *)b];
    size_t sx = st_dtype_size(x->dtype), sy = st_dtype_size(y->dtype);
    if (sx != sy) return sx > sy ? -1 : 1;
    return strcmp(x->name, y->name);
}

static int cmp_name_idx(const void *a, const void *b) {
    return strcmp(g_sort_writer->e[*(const int *)a].name, g_sort_writer->e[*(const int *)b].name);
}

int stw_write(const StWriter *w, const char *path, char *err) {
    if (!host_little_endian()) return errf(err, "%s: safetensors needs a little-endian host", path);
    int *order = xmalloc((size_t)(w->n ? w->n : 1) * sizeof(int));
    size_t *nbytes = xcalloc((size_t)(w->n ? w->n : 1), sizeof(size_t));
    for (int i = 0; i < w->n; i++) order[i] = i;
    g_sort_writer = w;
    qsort(order, (size_t)w->n, sizeof(int), cmp_name_idx);
    for (int i = 1; i < w->n; i++)
        if (!strcmp(w->e[order[i]].name, w->e[order[i - 1]].name)) {
            errf(err, "%s: duplicate tensor name '%s'", path, w->e[order[i]].name);
            goto fail;
        }
    qsort(order, (size_t)w->n, sizeof(int), cmp_layout);
    g_sort_writer = NULL;

    json_t *root = json_object();
    if (w->n_meta) {
        json_t *m = json_object();
        json_object_set_new(root, "__metadata__", m);
        for (int i = 0; i < w->n_meta; i++) {
            json_t *v = json_string(w->meta_val[i]);
            if (!v || json_object_set_new(m, w->meta_key[i], v) != 0) {
                json_decref(root);
                errf(err, "%s: metadata '%.64s' is not valid UTF-8", path, w->meta_key[i]);
                goto fail;
            }
        }
    }
    size_t off = 0;
    for (int k = 0; k < w->n; k++) {
        const StwEntry *e = &w->e[order[k]];
        if ((unsigned)e->dtype >= ST_NDTYPES || e->ndim < 0 || e->ndim > ST_MAX_DIMS || !strcmp(e->name, "__metadata__")) {
            json_decref(root);
            errf(err, "%s: tensor '%s': bad dtype, rank or name", path, e->name);
            goto fail;
        }
        size_t numel = 1;
        json_t *shape = json_array();
        for (int d = 0; d < e->ndim; d++) {
            if (e->shape[d] < 0) {
                json_decref(shape);
                json_decref(root);
                errf(err, "%s: tensor '%s': negative dimension", path, e->name);
                goto fail;
            }
            numel *= (size_t)e->shape[d];
            json_array_append_new(shape, json_integer(e->shape[d]));
        }
        nbytes[order[k]] = numel * st_dtype_size(e->dtype);
        json_t *ent = json_object();
        json_object_set_new(ent, "dtype", json_string(st_dtype_name(e->dtype)));
        json_object_set_new(ent, "shape", shape);
        json_t *offs = json_array();
        json_array_append_new(offs, json_integer((json_int_t)off));
        json_array_append_new(offs, json_integer((json_int_t)(off + nbytes[order[k]])));
        json_object_set_new(ent, "data_offsets", offs);
        if (json_object_set_new(root, e->name, ent) != 0) { // e.g. invalid UTF-8 name
            json_decref(root);
            errf(err, "%s: tensor name '%s' is not valid UTF-8", path, e->name);
            goto fail;
        }
        off += nbytes[order[k]];
    }
    char *hdr = json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(root);
    if (!hdr) {
        errf(err, "%s: cannot encode the safetensors header", path);
        goto fail;
    }
    size_t hlen = strlen(hdr), padded = (hlen + 7) & ~(size_t)7;
    AtomicFile af;
    if (atomic_open(&af, path, err) != 0) {
        free(hdr);
        goto fail;
    }
    uint8_t lenb[8];
    for (int i = 0; i < 8; i++) lenb[i] = (uint8_t)((uint64_t)padded >> (8 * i));
    fwrite(lenb, 1, 8, af.f);
    fwrite(hdr, 1, hlen, af.f);
    for (size_t i = hlen; i < padded; i++) fputc(' ', af.f);
    free(hdr);
    for (int k = 0; k < w->n; k++)
        if (nbytes[order[k]]) fwrite(w->e[order[k]].data, 1, nbytes[order[k]], af.f);
    free(order);
    free(nbytes);
    return atomic_commit(&af, err);
fail:
    g_sort_writer = NULL;
    free(order);
    free(nbytes);
    return -1;
}
