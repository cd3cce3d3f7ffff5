// dataset.c: dataset files (MIRD / MMSA / unlabeled pickles and .mird files) -> DataSplit arrays.
#include "data/dataset.h"

#include <jansson.h>
#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "io/pickle.h"
#include "io/pickle_numpy.h"
#include "io/safetensors.h"

static const char *const SPLITS[DS_MAX_SPLITS] = {"train", "valid", "test"};

static int derr(const char *path, const char *where, char *err, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int derr(const char *path, const char *where, char *err, const char *fmt, ...) {
    char msg[320];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    return where ? errf(err, "%s: %s: %s", path, where, msg) : errf(err, "%s: %s", path, msg);
}

// 64-byte aligned float buffer WITHOUT zeroing: pages are touched only as they are written, which
// keeps peak memory near one copy when converting a mapped payload.
static float *falloc_nozero(size_t n) {
    void *p = NULL;
    size_t bytes = (n * sizeof(float) + 63) & ~(size_t)63;
    if (posix_memalign(&p, 64, bytes ? bytes : 64) != 0) {
        fprintf(stderr, "mird: out of memory (%zu bytes)\n", bytes);
        exit(1);
    }
    return p;
}

static void free_split(DataSplit *s) {
    free(s->ids), free(s->mask), free(s->seg);
    free(s->audio_len), free(s->visual_len), free(s->labels);
    free(s->audio_own_), free(s->visual_own_);
    if (s->clip_id)
        for (int i = 0; i < s->n; i++) free(s->clip_id[i]);
    if (s->text)
        for (int i = 0; i < s->n; i++) free(s->text[i]);
    free(s->clip_id), free(s->text);
    memset(s, 0, sizeof(*s));
}

void dataset_free(Dataset *ds) {
    if (!ds) return;
    for (int i = 0; i < ds->nsplits; i++) free_split(&ds->split[i]);
    pickle_free(ds->pk_);
    if (ds->st_) {
        st_close(ds->st_);
        free(ds->st_);
    }
    memset(ds, 0, sizeof(*ds));
}

const DataSplit *dataset_split(const Dataset *ds, const char *name) {
    for (int i = 0; i < ds->nsplits; i++)
        if (!strcmp(ds->split[i].name, name)) return &ds->split[i];
    return NULL;
}

// Where flat index i of a [n, T, d] array sits, for messages.
static void where3(size_t i, int T, int d, char *buf, size_t cap) {
    size_t per = (size_t)T * (size_t)d;
    snprintf(buf, cap, "clip %zu, frame %zu, feature %zu", per ? i / per : 0, d ? (i % per) / (size_t)d : 0,
             d ? i % (size_t)d : 0);
}

// Features [n, T, d]: validate (finite; -inf -> 0 when neg_inf_zero), sum in float64 and give a float32
// C-order pointer: in place when possible, else an owned conversion.
static int features(Pickle *pk, const PkArray *a, int neg_inf_zero, const float **out, float **own, double *sum,
                    const char *path, const char *what, char *err) {
    size_t n = a->numel;
    int T = (int)a->shape[1], d = (int)a->shape[2];
    char at[96];
    double s = 0;
    *own = NULL;
    if (pk_array_is_f32_view(a)) {
        const float *x = (const float *)(const void *)a->data;
        int neg_inf = 0;
        for (size_t i = 0; i < n; i++) {
            float v = x[i];
            if (isfinite(v)) s += v;
            else if (neg_inf_zero && v == -INFINITY) neg_inf = 1;
            else {
                where3(i, T, d, at, sizeof(at));
                return derr(path, what, err, "%s value at %s", isnan(v) ? "NaN" : "infinite", at);
            }
        }
        *sum = s;
        if (!neg_inf) {
            *out = x;
            return 0;
        }
    }
    // Converting pass in chunks: read source values in float64, check, sum, store float32, then let the
    // kernel drop the source pages just read (C-order mapped data only).
    enum { CH = 1 << 15 };
    double *tmp = xmalloc(CH * sizeof(double));
    float *dst = falloc_nozero(n);
    s = 0;
    for (size_t i = 0; i < n; i += CH) {
        size_t k = n - i < CH ? n - i : CH;
        pk_array_to_f64(a, i, k, tmp);
        for (size_t j = 0; j < k; j++) {
            double v = tmp[j];
            if (!isfinite(v)) {
                if (neg_inf_zero && v == -INFINITY) v = 0;
                else {
                    where3(i + j, T, d, at, sizeof(at));
                    free(tmp), free(dst);
                    return derr(path, what, err, "%s value at %s", isnan(v) ? "NaN" : "infinite", at);
                }
            } else if (fabs(v) > FLT_MAX) { // finite in float64 but infinite as float32 (found by fuzzing)
                where3(i + j, T, d, at, sizeof(at));
                free(tmp), free(dst);
                return derr(path, what, err, "value %g at %s is too large for float32", v, at);
            }
            s += v;
            dst[i + j] = (float)v;
        }
        if (!a->fortran && !a->copied)
            pickle_release(pk, a->data + i * (size_t)a->dtype.itemsize, k * (size_t)a->dtype.itemsize);
    }
    free(tmp);
    *sum = s;
    *out = *own = dst;
    return 0;
}

static int get_array3(Pickle *pk, const PkObj *o, const char *path, const char *what, PkArray *a, char *err) {
    if (!o) return derr(path, what, err, "missing");
    if (pk_ndarray(pk, o, what, a, err)) return -1;
    if (!pk_array_is_numeric(a)) return derr(path, what, err, "not a numeric array (dtype kind '%c')", a->dtype.kind);
    if (a->ndim != 3) return derr(path, what, err, "expected rank 3 [N, T, d], got rank %d", a->ndim);
    if (a->shape[1] > INT32_MAX / 2 || a->shape[2] > INT32_MAX / 2 || a->shape[0] > INT32_MAX / 2)
        return derr(path, what, err, "dimensions too large");
    return 0;
}

static int tokenize_split(DataSplit *s, const Tokenizer *tok, int Tl) {
    s->Tl = Tl;
    s->ids = xmalloc((size_t)s->n * (size_t)Tl * sizeof(int32_t));
    s->mask = xmalloc((size_t)s->n * (size_t)Tl * sizeof(int32_t));
    s->seg = xcalloc((size_t)s->n * (size_t)Tl, sizeof(int32_t));
    for (int i = 0; i < s->n; i++)
        tokenizer_encode(tok, s->text[i], Tl, s->ids + (size_t)i * Tl, s->mask + (size_t)i * Tl);
    return 0;
}

static int lengths(Pickle *pk, const PkObj *o, int n, int T, int32_t **out, const char *path, const char *what,
                   char *err) {
    *out = xmalloc((size_t)(n ? n : 1) * sizeof(int32_t));
    if (!o) {
        for (int i = 0; i < n; i++) (*out)[i] = T;
        return 0;
    }
    double *v;
    size_t m;
    if (pk_numbers(pk, o, what, &v, &m, err)) return -1;
    if (m != (size_t)n) {
        free(v);
        return derr(path, what, err, "%zu lengths for %d clips", m, n);
    }
    for (int i = 0; i < n; i++) {
        if (!(v[i] >= 0 && v[i] <= T) || v[i] != floor(v[i])) {
            double bad = v[i];
            free(v);
            return derr(path, what, err, "length %g of clip %d is not an integer in [0, %d]", bad, i, T);
        }
        (*out)[i] = (int32_t)v[i];
    }
    free(v);
    return 0;
}

static int load_split(Dataset *ds, Pickle *pk, const PkObj *S, const char *name, const DatasetOptions *opt,
                      const char *path, char *err) {
    DataSplit *s = &ds->split[ds->nsplits];
    memset(s, 0, sizeof(*s));
    snprintf(s->name, sizeof(s->name), "%s", name);
    int mmsa = !strcmp(ds->format, "mmsa"), labeled = strcmp(ds->format, "unlabeled") != 0;
    char what[64];
    if (!S || S->kind != PK_DICT) return derr(path, name, err, "split is not a dict");
    const PkObj *o_audio = pk_dict_get(S, "audio"), *o_vis = pk_dict_get(S, mmsa ? "vision" : "video");
    const PkObj *o_text = pk_dict_get(S, "raw_text"), *o_lab = pk_dict_get(S, mmsa ? "regression_labels" : "labels");
    const PkObj *o_tb = mmsa ? pk_dict_get(S, "text_bert") : NULL;
    PkArray A, V;
    snprintf(what, sizeof(what), "%s.audio", name);
    if (get_array3(pk, o_audio, path, what, &A, err)) return -1;
    snprintf(what, sizeof(what), "%s.%s", name, mmsa ? "vision" : "video");
    if (get_array3(pk, o_vis, path, what, &V, err)) return -1;
    s->n = (int)A.shape[0], s->Ta = (int)A.shape[1], s->d_a = (int)A.shape[2];
    s->Tv = (int)V.shape[1], s->d_v = (int)V.shape[2];
    ds->nsplits++; // from here on, failures are cleaned up by dataset_free
    if (s->n == 0) return derr(path, name, err, "split is empty");
    if (V.shape[0] != s->n)
        return derr(path, name, err, "audio has %d clips but %s has %lld", s->n, mmsa ? "vision" : "video",
                    (long long)V.shape[0]);
    // text
    if (o_text || !o_tb) {
        size_t m;
        snprintf(what, sizeof(what), "%s.raw_text", name);
        if (!o_text) return derr(path, what, err, "missing");
        if (pk_strs(pk, o_text, what, &s->text, &m, err)) return -1;
        if (m != (size_t)s->n) {
            pk_free_strs(s->text, m);
            s->text = NULL;
            return derr(path, name, err, "audio has %d clips but raw_text has %zu", s->n, m);
        }
    }
    if (mmsa && pk_dict_get(S, "id")) {
        size_t m;
        snprintf(what, sizeof(what), "%s.id", name);
        if (pk_strs(pk, pk_dict_get(S, "id"), what, &s->clip_id, &m, err)) return -1;
        if (m != (size_t)s->n) {
            pk_free_strs(s->clip_id, m);
            s->clip_id = NULL;
            return derr(path, name, err, "audio has %d clips but id has %zu", s->n, m);
        }
    }
    // labels
    if (labeled) {
        double *v;
        size_t m;
        snprintf(what, sizeof(what), "%s.%s", name, mmsa ? "regression_labels" : "labels");
        if (!o_lab) return derr(path, what, err, "missing");
        if (pk_numbers(pk, o_lab, what, &v, &m, err)) return -1;
        if (m != (size_t)s->n) {
            free(v);
            return derr(path, name, err, "audio has %d clips but %s has %zu", s->n, what + strlen(name) + 1, m);
        }
        s->labels = xmalloc((size_t)s->n * sizeof(float));
        double sum = 0, lo = INFINITY, hi = -INFINITY;
        for (int i = 0; i < s->n; i++) {
            if (!isfinite(v[i]) || fabs(v[i]) > 3.4e38) {
                double bad = v[i];
                free(v);
                return derr(path, what, err, "label %d is %g (labels must be finite)", i, bad);
            }
            s->labels[i] = (float)v[i];
            sum += v[i];
            lo = fmin(lo, v[i]);
            hi = fmax(hi, v[i]);
        }
        s->label_min = lo, s->label_max = hi, s->label_mean = sum / s->n;
        free(v);
    }
    // token ids
    if (o_tb) {
        PkArray B;
        snprintf(what, sizeof(what), "%s.text_bert", name);
        if (pk_ndarray(pk, o_tb, what, &B, err)) return -1;
        if (!pk_array_is_numeric(&B) || B.ndim != 3 || B.shape[1] != 3 || B.shape[0] != s->n || B.shape[2] < 1 ||
            B.shape[2] > 100000)
            return derr(path, what, err, "expected a numeric [%d, 3, Tl] array", s->n);
        int Tl = (int)B.shape[2];
        s->Tl = Tl;
        size_t nt = (size_t)s->n * (size_t)Tl;
        s->ids = xmalloc(nt * sizeof(int32_t));
        s->mask = xmalloc(nt * sizeof(int32_t));
        s->seg = xmalloc(nt * sizeof(int32_t));
        int32_t *dst[3] = {s->ids, s->mask, s->seg};
        for (size_t i = 0; i < (size_t)s->n; i++)
            for (int c = 0; c < 3; c++)
                for (int t = 0; t < Tl; t++) {
                    double v = pk_array_at(&B, (i * 3 + (size_t)c) * (size_t)Tl + (size_t)t);
                    if (!(v >= 0 && v < 2147483648.0) || v != floor(v))
                        return derr(path, what, err, "value %g at clip %zu is not a token id", v, i);
                    dst[c][i * (size_t)Tl + (size_t)t] = (int32_t)v;
                }
    } else if (opt && opt->tok) {
        tokenize_split(s, opt->tok, opt->Tl > 0 ? opt->Tl : 50);
    } else {
        s->Tl = opt && opt->Tl > 0 ? opt->Tl : 50;
    }
    // lengths
    snprintf(what, sizeof(what), "%s.audio_lengths", name);
    if (lengths(pk, mmsa ? pk_dict_get(S, "audio_lengths") : NULL, s->n, s->Ta, &s->audio_len, path, what, err))
        return -1;
    snprintf(what, sizeof(what), "%s.vision_lengths", name);
    if (lengths(pk, mmsa ? pk_dict_get(S, "vision_lengths") : NULL, s->n, s->Tv, &s->visual_len, path, what, err))
        return -1;
    // features last (the big pass)
    snprintf(what, sizeof(what), "%s.audio", name);
    if (features(pk, &A, mmsa, &s->audio, &s->audio_own_, &s->audio_sum, path, what, err)) return -1;
    snprintf(what, sizeof(what), "%s.%s", name, mmsa ? "vision" : "video");
    if (features(pk, &V, 0, &s->visual, &s->visual_own_, &s->visual_sum, path, what, err)) return -1;
    return 0;
}

static int load_pickle(Dataset *ds, const char *path, const DatasetOptions *opt, char *err) {
    Pickle *pk;
    PickleOptions po = {.allow = PK_NUMPY_GLOBALS};
    if (pickle_load(&pk, path, &po, err)) return -1;
    ds->pk_ = pk;
    const PkObj *root = pickle_root(pk);
    if (!root || root->kind != PK_DICT)
        return derr(path, NULL, err, "not a dataset pickle (top level is a %s, not a dict)",
                    root ? pk_kind_name(root->kind) : "nothing");
    const PkObj *sp[DS_MAX_SPLITS];
    int nsp = 0, mmsa = 0;
    for (int i = 0; i < DS_MAX_SPLITS; i++) {
        sp[i] = pk_dict_get(root, SPLITS[i]);
        if (sp[i]) {
            nsp++;
            if (pk_dict_get(sp[i], "vision") || pk_dict_get(sp[i], "regression_labels")) mmsa = 1;
        }
    }
    if (nsp) {
        snprintf(ds->format, sizeof(ds->format), "%s", mmsa ? "mmsa" : "mird");
        for (int i = 0; i < DS_MAX_SPLITS; i++)
            if (sp[i] && load_split(ds, pk, sp[i], SPLITS[i], opt, path, err)) return -1;
        return 0;
    }
    if (pk_dict_get(root, "audio")) {
        snprintf(ds->format, sizeof(ds->format), "unlabeled");
        return load_split(ds, pk, root, "unlabeled", opt, path, err);
    }
    return derr(path, NULL, err, "not a MIRD, MMSA or unlabeled dataset pickle (no train/valid/test or audio key)");
}

// ---- .mird files
static int st_strings(const StFile *f, const char *name, int n, char ***out, const char *path, char *err) {
    *out = NULL;
    const StTensor *t = st_find(f, name);
    if (!t) return 0;
    if (t->dtype != ST_U8 || t->ndim != 1) return derr(path, name, err, "expected a U8 vector");
    const char *p = t->data, *end = p + t->nbytes;
    char **v = xcalloc((size_t)(n ? n : 1), sizeof(char *));
    int k = 0;
    while (p < end) {
        const char *z = memchr(p, 0, (size_t)(end - p));
        if (!z || k == n) {
            pk_free_strs(v, (size_t)k);
            return derr(path, name, err, "expected %d NUL-terminated strings", n);
        }
        v[k++] = xstrdup(p);
        p = z + 1;
    }
    if (k != n) {
        pk_free_strs(v, (size_t)k);
        return derr(path, name, err, "%d strings for %d clips", k, n);
    }
    *out = v;
    return 0;
}

static const StTensor *st_need(const StFile *f, const char *split, const char *field, StDtype dt, int ndim,
                               const char *path, char *err) {
    char name[64];
    snprintf(name, sizeof(name), "%s.%s", split, field);
    const StTensor *t = st_find(f, name);
    if (!t) {
        derr(path, name, err, "missing tensor");
        return NULL;
    }
    if (t->dtype != dt || t->ndim != ndim) {
        derr(path, name, err, "expected %s of rank %d, got %s of rank %d", st_dtype_name(dt), ndim,
             st_dtype_name(t->dtype), t->ndim);
        return NULL;
    }
    return t;
}

static int st_features(const StFile *f, const StTensor *t, const float **out, float **own, const char *path,
                       char *err) {
    *own = NULL;
    if ((uintptr_t)t->data % 4 == 0) {
        *out = t->data;
    } else {
        *own = falloc_nozero(t->numel);
        if (st_to_f32(f, t, *own, t->numel, err)) return -1;
        *out = *own;
    }
    for (size_t i = 0; i < t->numel; i++)
        if (!isfinite((*out)[i])) return derr(path, t->name, err, "non-finite value at element %zu", i);
    return 0;
}

static int st_ints(const StFile *f, const char *split, const char *field, int n, int cols, int32_t **out,
                   const char *path, char *err) {
    const StTensor *t = st_need(f, split, field, ST_I32, cols ? 2 : 1, path, err);
    if (!t) return -1;
    if (t->shape[0] != n || (cols && t->shape[1] != cols)) return derr(path, t->name, err, "wrong shape");
    *out = xmalloc((size_t)(t->numel ? t->numel : 1) * sizeof(int32_t));
    return st_to_i32(f, t, *out, t->numel, err);
}

static double jnum(json_t *o, const char *k) { return json_number_value(json_object_get(o, k)); }

static int load_mird(Dataset *ds, const char *path, const DatasetOptions *opt, char *err) {
    StFile *f = xcalloc(1, sizeof(StFile));
    if (st_open(f, path, err)) {
        free(f);
        return -1;
    }
    ds->st_ = f;
    const char *meta = st_meta(f, "mird.dataset");
    if (!meta) return derr(path, NULL, err, "safetensors file without mird.dataset metadata (not a dataset)");
    json_error_t je;
    json_t *m = json_loads(meta, 0, &je);
    json_t *splits = m ? json_object_get(m, "splits") : NULL;
    const char *fmt = m ? json_string_value(json_object_get(m, "format")) : NULL;
    if (!json_is_array(splits) || !fmt || json_array_size(splits) > DS_MAX_SPLITS || !json_array_size(splits)) {
        json_decref(m);
        return derr(path, "mird.dataset", err, "bad metadata");
    }
    snprintf(ds->format, sizeof(ds->format), "%s", fmt);
    int rc = 0;
    for (size_t i = 0; i < json_array_size(splits) && !rc; i++) {
        json_t *js = json_array_get(splits, i);
        const char *name = json_string_value(json_object_get(js, "name"));
        if (!name || strlen(name) >= 16) {
            rc = derr(path, "mird.dataset", err, "bad split name");
            break;
        }
        DataSplit *s = &ds->split[ds->nsplits++];
        snprintf(s->name, sizeof(s->name), "%s", name);
        const StTensor *A = st_need(f, name, "audio", ST_F32, 3, path, err);
        const StTensor *V = A ? st_need(f, name, "visual", ST_F32, 3, path, err) : NULL;
        if (!A || !V) {
            rc = -1;
            break;
        }
        s->n = (int)A->shape[0], s->Ta = (int)A->shape[1], s->d_a = (int)A->shape[2];
        s->Tv = (int)V->shape[1], s->d_v = (int)V->shape[2];
        if (V->shape[0] != s->n || s->n <= 0) {
            rc = derr(path, name, err, "audio has %d clips but visual has %lld", s->n, (long long)V->shape[0]);
            break;
        }
        s->audio_sum = jnum(js, "audio_sum"), s->visual_sum = jnum(js, "visual_sum");
        char tn[64];
        snprintf(tn, sizeof(tn), "%s.labels", name);
        if (st_find(f, tn)) {
            const StTensor *L = st_need(f, name, "labels", ST_F32, 1, path, err);
            if (!L || L->shape[0] != s->n) {
                rc = L ? derr(path, tn, err, "wrong shape") : -1;
                break;
            }
            s->labels = xmalloc((size_t)s->n * sizeof(float));
            if ((rc = st_to_f32(f, L, s->labels, (size_t)s->n, err))) break;
            for (int k = 0; k < s->n; k++)
                if (!isfinite(s->labels[k])) {
                    rc = derr(path, tn, err, "label %d is not finite", k);
                    break;
                }
            if (rc) break;
            s->label_min = jnum(js, "label_min"), s->label_max = jnum(js, "label_max");
            s->label_mean = jnum(js, "label_mean");
        }
        if (st_ints(f, name, "audio_len", s->n, 0, &s->audio_len, path, err) ||
            st_ints(f, name, "visual_len", s->n, 0, &s->visual_len, path, err)) {
            rc = -1;
            break;
        }
        for (int k = 0; k < s->n && !rc; k++)
            if (s->audio_len[k] < 0 || s->audio_len[k] > s->Ta || s->visual_len[k] < 0 || s->visual_len[k] > s->Tv)
                rc = derr(path, name, err, "length of clip %d out of range", k);
        if (rc) break;
        snprintf(tn, sizeof(tn), "%s.text", name);
        if ((rc = st_strings(f, tn, s->n, &s->text, path, err))) break;
        snprintf(tn, sizeof(tn), "%s.clip_id", name);
        if ((rc = st_strings(f, tn, s->n, &s->clip_id, path, err))) break;
        snprintf(tn, sizeof(tn), "%s.input_ids", name);
        const StTensor *I = st_find(f, tn);
        if (I) {
            s->Tl = I->ndim == 2 ? (int)I->shape[1] : 0;
            if (st_ints(f, name, "input_ids", s->n, s->Tl, &s->ids, path, err) ||
                st_ints(f, name, "attention_mask", s->n, s->Tl, &s->mask, path, err) ||
                st_ints(f, name, "token_type_ids", s->n, s->Tl, &s->seg, path, err)) {
                rc = -1;
                break;
            }
        } else if (opt && opt->tok && s->text) {
            tokenize_split(s, opt->tok, opt->Tl > 0 ? opt->Tl : 50);
        } else {
            s->Tl = opt && opt->Tl > 0 ? opt->Tl : 50;
        }
        if (!s->text && !s->ids) {
            rc = derr(path, name, err, "neither text nor token ids");
            break;
        }
        if (st_features(f, A, &s->audio, &s->audio_own_, path, err) ||
            st_features(f, V, &s->visual, &s->visual_own_, path, err))
            rc = -1;
    }
    json_decref(m);
    return rc;
}

static int file_head(const char *path, uint8_t *buf, size_t n) {
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    size_t r = fread(buf, 1, n, f);
    fclose(f);
    return (int)r;
}

int dataset_file_is_pickle(const char *path) {
    uint8_t b[2];
    return file_head(path, b, 2) == 2 && b[0] == 0x80 && b[1] >= 2 && b[1] <= 5;
}

int dataset_file_is_mird(const char *path) {
    if (dataset_file_is_pickle(path)) return 0;
    StFile f;
    char err[MIRD_ERRLEN];
    if (st_open(&f, path, err)) return 0;
    int r = st_meta(&f, "mird.dataset") != NULL;
    st_close(&f);
    return r;
}

int dataset_load(Dataset *ds, const char *path, const DatasetOptions *opt, char *err) {
    memset(ds, 0, sizeof(*ds));
    int rc = dataset_file_is_pickle(path) ? load_pickle(ds, path, opt, err) : load_mird(ds, path, opt, err);
    if (rc) dataset_free(ds);
    return rc;
}

// ---- writing .mird
static uint8_t *join_strs(char **v, int n, size_t *len) {
    size_t total = 0;
    for (int i = 0; i < n; i++) total += strlen(v[i]) + 1;
    uint8_t *b = xmalloc(total ? total : 1), *p = b;
    for (int i = 0; i < n; i++) {
        size_t k = strlen(v[i]) + 1;
        memcpy(p, v[i], k);
        p += k;
    }
    *len = total;
    return b;
}

int dataset_save_mird(const Dataset *ds, const char *path, char *err) {
    StWriter w;
    stw_init(&w);
    json_t *meta = json_object(), *splits = json_array();
    json_object_set_new(meta, "version", json_integer(1));
    json_object_set_new(meta, "format", json_string(ds->format));
    uint8_t *blobs[2 * DS_MAX_SPLITS] = {0};
    int nb = 0;
    for (int i = 0; i < ds->nsplits; i++) {
        const DataSplit *s = &ds->split[i];
        char nm[64];
#define NAME(field) (snprintf(nm, sizeof(nm), "%s.%s", s->name, field), nm)
        int64_t sa[3] = {s->n, s->Ta, s->d_a}, sv[3] = {s->n, s->Tv, s->d_v}, sn[1] = {s->n}, st[2] = {s->n, s->Tl};
        stw_add(&w, NAME("audio"), ST_F32, 3, sa, s->audio);
        stw_add(&w, NAME("visual"), ST_F32, 3, sv, s->visual);
        stw_add(&w, NAME("audio_len"), ST_I32, 1, sn, s->audio_len);
        stw_add(&w, NAME("visual_len"), ST_I32, 1, sn, s->visual_len);
        if (s->labels) stw_add(&w, NAME("labels"), ST_F32, 1, sn, s->labels);
        if (s->ids) {
            stw_add(&w, NAME("input_ids"), ST_I32, 2, st, s->ids);
            stw_add(&w, NAME("attention_mask"), ST_I32, 2, st, s->mask);
            stw_add(&w, NAME("token_type_ids"), ST_I32, 2, st, s->seg);
        }
        size_t len;
        if (s->text) {
            blobs[nb] = join_strs(s->text, s->n, &len);
            int64_t sl[1] = {(int64_t)len};
            stw_add(&w, NAME("text"), ST_U8, 1, sl, blobs[nb++]);
        }
        if (s->clip_id) {
            blobs[nb] = join_strs(s->clip_id, s->n, &len);
            int64_t sl[1] = {(int64_t)len};
            stw_add(&w, NAME("clip_id"), ST_U8, 1, sl, blobs[nb++]);
        }
#undef NAME
        json_t *js = json_object();
        json_object_set_new(js, "name", json_string(s->name));
        json_object_set_new(js, "n", json_integer(s->n));
        json_object_set_new(js, "audio_sum", json_real(s->audio_sum));
        json_object_set_new(js, "visual_sum", json_real(s->visual_sum));
        if (s->labels) {
            json_object_set_new(js, "label_min", json_real(s->label_min));
            json_object_set_new(js, "label_max", json_real(s->label_max));
            json_object_set_new(js, "label_mean", json_real(s->label_mean));
        }
        json_array_append_new(splits, js);
    }
    json_object_set_new(meta, "splits", splits);
    char *ms = json_dumps(meta, JSON_COMPACT | JSON_REAL_PRECISION(17));
    stw_meta(&w, "mird.dataset", ms);
    int rc = stw_write(&w, path, err);
    free(ms);
    json_decref(meta);
    for (int i = 0; i < nb; i++) free(blobs[i]);
    stw_free(&w);
    return rc;
}

json_t *dataset_inspect(const Dataset *ds) {
    json_t *o = json_object(), *splits = json_object();
    json_object_set_new(o, "format", json_string(ds->format));
    for (int i = 0; i < ds->nsplits; i++) {
        const DataSplit *s = &ds->split[i];
        json_t *js = json_object();
        json_object_set_new(js, "n", json_integer(s->n));
        json_object_set_new(js, "audio_shape", json_pack("[iii]", s->n, s->Ta, s->d_a));
        json_object_set_new(js, "visual_shape", json_pack("[iii]", s->n, s->Tv, s->d_v));
        if (s->labels) {
            json_object_set_new(js, "label_min", json_real(s->label_min));
            json_object_set_new(js, "label_max", json_real(s->label_max));
            json_object_set_new(js, "label_mean", json_real(s->label_mean));
        }
        json_object_set_new(js, "audio_sum", json_real(s->audio_sum));
        json_object_set_new(js, "visual_sum", json_real(s->visual_sum));
        json_object_set_new(splits, s->name, js);
    }
    json_object_set_new(o, "splits", splits);
    return o;
}
