// hf_import.c: see hf_import.h.
#include "io/hf_import.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "io/safetensors.h"
#include "io/torch_load.h"

static int join(char *out, size_t cap, const char *dir, const char *name, char *err) {
    if ((size_t)snprintf(out, cap, "%s/%s", dir, name) >= cap) return errf(err, "%s: path too long", dir);
    return 0;
}

static int is_file(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

int hf_bert_read_config(const char *dir, BertConfig *cfg, json_t **raw, char *err) {
    if (raw) *raw = NULL;
    char path[4096];
    if (join(path, sizeof(path), dir, "config.json", err)) return -1;
    char *txt;
    if (read_file_all(path, &txt, NULL, err) != 0) return -1;
    json_error_t je;
    json_t *obj = json_loads(txt, 0, &je);
    free(txt);
    if (!obj) return errf(err, "%s: bad JSON at line %d: %s", path, je.line, je.text);
    if (!json_is_object(obj)) {
        json_decref(obj);
        return errf(err, "%s: not a JSON object", path);
    }
    char e2[MIRD_ERRLEN];
    if (bert_config_from_json(cfg, obj, e2) != 0) {
        json_decref(obj);
        return errf(err, "%s: %s", path, e2);
    }
    if (join(path, sizeof(path), dir, "vocab.txt", err)) {
        json_decref(obj);
        return -1;
    }
    if (!is_file(path)) {
        json_decref(obj);
        return errf(err, "%s: missing (a Hugging Face BERT directory needs vocab.txt)", path);
    }
    if (raw) *raw = obj;
    else json_decref(obj);
    return 0;
}

// The BertModel tensors a config implies, in HF order (name without prefix, shape).
typedef struct {
    char name[PARAM_NAME_MAX];
    int ndim;
    int64_t shape[2];
} Want;

static int want_list(const BertConfig *c, Want **out) {
    int n = 5 + 16 * c->num_hidden_layers + 2, k = 0;
    Want *w = xcalloc((size_t)n, sizeof(Want));
    int64_t H = c->hidden_size, I = c->intermediate_size;
#define ADD(nd, d0, d1, ...)                                             \
    do {                                                                 \
        snprintf(w[k].name, PARAM_NAME_MAX, __VA_ARGS__);                \
        w[k].ndim = nd, w[k].shape[0] = d0, w[k].shape[1] = d1, k++;     \
    } while (0)
    ADD(2, c->vocab_size, H, "embeddings.word_embeddings.weight");
    ADD(2, c->max_position_embeddings, H, "embeddings.position_embeddings.weight");
    ADD(2, c->type_vocab_size, H, "embeddings.token_type_embeddings.weight");
    ADD(1, H, 0, "embeddings.LayerNorm.weight");
    ADD(1, H, 0, "embeddings.LayerNorm.bias");
    static const char *qkv[3] = {"query", "key", "value"};
    for (int l = 0; l < c->num_hidden_layers; l++) {
        for (int j = 0; j < 3; j++) {
            ADD(2, H, H, "encoder.layer.%d.attention.self.%s.weight", l, qkv[j]);
            ADD(1, H, 0, "encoder.layer.%d.attention.self.%s.bias", l, qkv[j]);
        }
        ADD(2, H, H, "encoder.layer.%d.attention.output.dense.weight", l);
        ADD(1, H, 0, "encoder.layer.%d.attention.output.dense.bias", l);
        ADD(1, H, 0, "encoder.layer.%d.attention.output.LayerNorm.weight", l);
        ADD(1, H, 0, "encoder.layer.%d.attention.output.LayerNorm.bias", l);
        ADD(2, I, H, "encoder.layer.%d.intermediate.dense.weight", l);
        ADD(1, I, 0, "encoder.layer.%d.intermediate.dense.bias", l);
        ADD(2, H, I, "encoder.layer.%d.output.dense.weight", l);
        ADD(1, H, 0, "encoder.layer.%d.output.dense.bias", l);
        ADD(1, H, 0, "encoder.layer.%d.output.LayerNorm.weight", l);
        ADD(1, H, 0, "encoder.layer.%d.output.LayerNorm.bias", l);
    }
    ADD(2, H, H, "pooler.dense.weight");
    ADD(1, H, 0, "pooler.dense.bias");
#undef ADD
    *out = w;
    return k;
}

// One weights file, either format.
typedef struct {
    int is_st;
    StFile st;
    TorchFile pt;
    const char *path;
} Src;

typedef struct {
    const StTensor *st;
    const TorchTensor *pt;
    int ndim;
    const int64_t *shape;
    const char *name;
    StDtype dtype;
} SrcTensor;

static int src_find(const Src *s, const char *name, SrcTensor *t) {
    memset(t, 0, sizeof(*t));
    if (s->is_st) {
        t->st = st_find(&s->st, name);
        if (!t->st) return 0;
        t->ndim = t->st->ndim, t->shape = t->st->shape, t->name = t->st->name, t->dtype = t->st->dtype;
    } else {
        t->pt = torch_find(&s->pt, name);
        if (!t->pt) return 0;
        t->ndim = t->pt->ndim, t->shape = t->pt->shape, t->name = t->pt->name, t->dtype = t->pt->dtype;
    }
    return 1;
}

// Look a BertModel name up under its aliases: "bert." + name, name, and gamma/beta for LayerNorm.
static int lookup(const Src *s, const char *name, SrcTensor *t) {
    char base[PARAM_NAME_MAX + 16], alias[sizeof(base) + 8];
    snprintf(base, sizeof(base), "%s", name);
    for (int pass = 0; pass < 2; pass++) {
        if (pass == 1) { // old TF-converted names
            size_t n = strlen(base);
            if (n > 16 && !strcmp(base + n - 16, "LayerNorm.weight")) strcpy(base + n - 6, "gamma");
            else if (n > 14 && !strcmp(base + n - 14, "LayerNorm.bias")) strcpy(base + n - 4, "beta");
            else break;
        }
        snprintf(alias, sizeof(alias), "bert.%s", base);
        if (src_find(s, alias, t) || src_find(s, base, t)) return 1;
    }
    return 0;
}

static void shape_str(char *s, size_t cap, int ndim, const int64_t *shape) {
    size_t k = (size_t)snprintf(s, cap, "[");
    for (int d = 0; d < ndim && k < cap; d++)
        k += (size_t)snprintf(s + k, cap - k, "%s%lld", d ? ", " : "", (long long)shape[d]);
    if (k < cap) snprintf(s + k, cap - k, "]");
}

int hf_bert_import(const char *dir, ParamSet *ps, const char *const *prefixes, int n_prefixes, char *err) {
    if (!ps->data) return errf(err, "%s: internal error: parameters not allocated", dir);
    BertConfig cfg;
    if (hf_bert_read_config(dir, &cfg, NULL, err) != 0) return -1;
    char path[4096];
    Src s;
    memset(&s, 0, sizeof(s));
    if (join(path, sizeof(path), dir, "model.safetensors", err)) return -1;
    if (is_file(path)) {
        s.is_st = 1;
        if (st_open(&s.st, path, err) != 0) return -1;
    } else {
        if (join(path, sizeof(path), dir, "pytorch_model.bin", err)) return -1;
        if (!is_file(path))
            return errf(err, "%s: no model.safetensors or pytorch_model.bin in the directory", dir);
        if (torch_open(&s.pt, path, err) != 0) return -1;
    }
    s.path = path;
    Want *w;
    int nw = want_list(&cfg, &w), rc = 0;
    for (int i = 0; i < nw && rc == 0; i++) {
        SrcTensor t;
        if (!lookup(&s, w[i].name, &t)) {
            rc = errf(err, "%s: missing tensor '%s' (or 'bert.%s')", path, w[i].name, w[i].name);
            break;
        }
        int same = t.ndim == w[i].ndim;
        for (int d = 0; same && d < t.ndim; d++) same = t.shape[d] == w[i].shape[d];
        if (!same) {
            char a[128], b[128];
            shape_str(a, sizeof(a), t.ndim, t.shape);
            shape_str(b, sizeof(b), w[i].ndim, w[i].shape);
            rc = errf(err, "%s: tensor '%s' has shape %s, config.json implies %s", path, t.name, a, b);
            break;
        }
        if (t.dtype != ST_F32 && t.dtype != ST_F16 && t.dtype != ST_BF16 && t.dtype != ST_F64) {
            rc = errf(err, "%s: tensor '%s' is %s, expected a floating type", path, t.name, st_dtype_name(t.dtype));
            break;
        }
        float *first = NULL;
        size_t numel = 0;
        for (int p = 0; p < n_prefixes; p++) {
            char full[PARAM_NAME_MAX + 128];
            snprintf(full, sizeof(full), "%s%s", prefixes[p], w[i].name);
            int j = params_find(ps, full);
            const ParamInfo *pi = j >= 0 ? &ps->p[j] : NULL;
            same = pi && pi->ndim == w[i].ndim;
            for (int d = 0; same && d < pi->ndim; d++) same = pi->shape[d] == w[i].shape[d];
            if (!same) {
                rc = errf(err, "%s: the model has no parameter '%s' of the shape this BERT needs "
                               "(model configuration and config.json disagree)", dir, full);
                break;
            }
            float *dst = ps->data + pi->offset;
            if (!first) {
                first = dst, numel = pi->numel;
                rc = s.is_st ? st_to_f32(&s.st, t.st, dst, numel, err) : torch_to_f32(&s.pt, t.pt, dst, numel, err);
                if (rc) break;
            } else memcpy(dst, first, numel * sizeof(float));
        }
    }
    free(w);
    if (s.is_st) st_close(&s.st);
    else torch_close(&s.pt);
    return rc;
}
