// mird_io.c: MIRD parameters from / to weight files (see mird.h): a MIRD checkpoint (io/checkpoint.h:
// official names, F32, config in the metadata under "mird.config"), a safetensors state_dict
// without a configuration, or a torch.save zip (io/torch_load.h) holding the official model's
// state_dict or the whole module as the authors' scripts save it. Files without a configuration
// get one inferred from their tensor shapes (and, for whole modules, the modules' attributes).
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "core/common.h"
#include "io/checkpoint.h"
#include "io/pickle.h"
#include "io/torch_load.h"
#include "models/mird.h"

// ---------------------------------------------------------------- one view of both file formats
typedef struct {
    const char *path;
    int torch; // 1: torch.save zip (pt), 0: safetensors (st)
    StFile st;
    TorchFile pt;
} WFile;

// The pickle that torch.save wrote before PyTorch 1.6 starts with protocol 2 and this magic number.
static const uint8_t LEGACY_TORCH[] = {0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19};

// 1: torch.save zip, 2: legacy torch.save pickle, 0: anything else (or unreadable).
static int torch_kind(const char *path) {
    uint8_t head[sizeof(LEGACY_TORCH)] = {0};
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    size_t n = fread(head, 1, sizeof(head), f);
    fclose(f);
    if (torch_is_zip(head, n)) return 1;
    return n == sizeof(head) && !memcmp(head, LEGACY_TORCH, sizeof(head)) ? 2 : 0;
}

int mird_file_is_torch(const char *path) { return torch_kind(path) != 0; }

int mird_torch_open(TorchFile *f, const char *path, char *err) {
    if (torch_kind(path) == 2)
        return errf(err, "%s: a torch.save file in the legacy format of PyTorch < 1.6 (not a zip): re-save it with "
                         "a newer PyTorch, then retry", path);
    return torch_open(f, path, err);
}

static int wf_open(WFile *w, const char *path, char *err) {
    memset(w, 0, sizeof(*w));
    w->path = path;
    w->torch = torch_kind(path) != 0;
    return w->torch ? mird_torch_open(&w->pt, path, err) : st_open(&w->st, path, err);
}
static void wf_close(WFile *w) {
    if (w->torch) torch_close(&w->pt);
    else st_close(&w->st);
}
static int wf_count(const WFile *w) { return w->torch ? w->pt.n : st_count(&w->st); }
static const char *wf_name(const WFile *w, int i) { return w->torch ? w->pt.t[i].name : st_tensor(&w->st, i)->name; }
// ndim of tensor `name` and its shape, or -1 if absent.
static int wf_shape(const WFile *w, const char *name, int64_t shape[ST_MAX_DIMS]) {
    if (w->torch) {
        const TorchTensor *t = torch_find(&w->pt, name);
        if (!t) return -1;
        memcpy(shape, t->shape, sizeof(int64_t) * (size_t)t->ndim);
        return t->ndim;
    }
    const StTensor *t = st_find(&w->st, name);
    if (!t) return -1;
    memcpy(shape, t->shape, sizeof(int64_t) * (size_t)t->ndim);
    return t->ndim;
}
static int wf_has(const WFile *w, const char *name) {
    int64_t s[ST_MAX_DIMS];
    return wf_shape(w, name, s) >= 0;
}
static int wf_load(const WFile *w, const ParamInfo *p, const char *name, float *dst, char *err) {
    if (!w->torch) return ckpt_load_tensor(&w->st, p, name, dst, err);
    const TorchTensor *t = torch_find(&w->pt, name);
    if (!t) return errf(err, "%s: missing tensor '%s'", w->path, name);
    if (ckpt_check_tensor(w->path, name, t->dtype, t->ndim, t->shape, p, err)) return -1;
    return torch_to_f32(&w->pt, t, dst, p->numel, err);
}

int mird_notes = 1;

// A note on stderr, once per distinct text (eval and predict reopen a file per split).
static void note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void note(const char *fmt, ...) {
    static char last[MIRD_ERRLEN];
    if (!mird_notes) return;
    char msg[MIRD_ERRLEN];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (!strcmp(msg, last)) return;
    snprintf(last, sizeof(last), "%s", msg);
    fprintf(stderr, "mird: note: %s\n", msg);
}

// ---------------------------------------------------------------- the fusion module's two names
// The authors' BERTModel holds the fusion module as attribute `WA` for the WA variant and `WSA`
// otherwise, so the state_dict names follow the variant (mird.c registers the same).
static const char *const FUSION_PREFIX[2] = {"mult_encoder.model.WSA.", "mult_encoder.model.WA."};

// The same tensor under the other fusion spelling, into alt; 0 if name is not a fusion tensor.
static int fusion_alias(const char *name, char *alt, size_t cap) {
    for (int k = 0; k < 2; k++) {
        size_t n = strlen(FUSION_PREFIX[k]);
        if (!strncmp(name, FUSION_PREFIX[k], n)) {
            snprintf(alt, cap, "%s%s", FUSION_PREFIX[1 - k], name + n);
            return 1;
        }
    }
    return 0;
}

// ---------------------------------------------------------------- configuration inference
static int dim(const WFile *w, const char *name, int d) {
    int64_t s[ST_MAX_DIMS];
    int nd = wf_shape(w, name, s);
    return nd > d && s[d] > 0 && s[d] < 1000000000 ? (int)s[d] : 0;
}
static void set_int(json_t *o, const char *key, int v) {
    if (v > 0) json_object_set_new(o, key, json_integer(v));
}
// A scalar attribute of a whole module (TorchAttr), or NULL.
static const TorchAttr *attr(const WFile *w, const char *name) { return w->torch ? torch_attr(&w->pt, name) : NULL; }
static void set_attr_num(json_t *o, const char *key, const TorchAttr *a) {
    if (a && a->kind == PK_INT) json_object_set_new(o, key, json_integer((json_int_t)a->num));
    else if (a && a->kind == PK_FLOAT) json_object_set_new(o, key, json_real(a->num));
}

// The configuration a file without "mird.config" implies, as the JSON keys it determines (the rest
// keeps the paper's defaults): sizes from the tensor shapes; from a whole module also the
// BertConfig object (heads, activation, eps, dropouts), the fusion module's beta_shift and the
// Dropout modules' p. *heads_assumed: 1 when num_attention_heads came from hidden / 64 (an error
// when hidden is not a multiple of 64, unless the override gives the head count).
static int infer_config(const WFile *w, json_t *o, const json_t *override, int *heads_assumed, char *err) {
    *heads_assumed = 0;
    const char *M = "mult_encoder.model.";
    char n[256];
    json_t *b = json_object();
    json_object_set_new(o, "bert", b);
    snprintf(n, sizeof n, "%sembeddings.word_embeddings.weight", M);
    int V = dim(w, n, 0), H = dim(w, n, 1);
    char mag[64];
    snprintf(mag, sizeof mag, "%sMAG.W_ha.weight", M);
    if (wf_has(w, mag))
        return errf(err, "%s: MAG-BERT fusion (mult_encoder.model.MAG.*) is not implemented by mird (WSA and WA are)",
                    w->path);
    if (!V || !H) // before a paper-sized model is allocated for nothing
        return errf(err, "%s: no mird.config and no 2-d tensor %s: not a MIRD model's weights (official state_dict "
                         "names expected)", w->path, n);
    set_int(b, "vocab_size", V);
    set_int(b, "hidden_size", H);
    snprintf(n, sizeof n, "%sembeddings.position_embeddings.weight", M);
    set_int(b, "max_position_embeddings", dim(w, n, 0));
    snprintf(n, sizeof n, "%sembeddings.token_type_embeddings.weight", M);
    set_int(b, "type_vocab_size", dim(w, n, 0));
    int L = 0;
    for (;; L++) {
        snprintf(n, sizeof n, "%sencoder.layer.%d.attention.self.query.weight", M, L);
        if (!wf_has(w, n) || L > 100000) break;
    }
    set_int(b, "num_hidden_layers", L);
    snprintf(n, sizeof n, "%sencoder.layer.0.intermediate.dense.weight", M);
    set_int(b, "intermediate_size", dim(w, n, 0));
    // the BertConfig object of a whole module (the authors' BERTModel, or the top model's)
    static const char *const cfg_at[3] = {"mult_encoder.model.config.", "config.", "encoder_l.bert.config."};
    const char *cp = NULL;
    for (int i = 0; i < 3 && !cp; i++) {
        snprintf(n, sizeof n, "%snum_attention_heads", cfg_at[i]);
        if (attr(w, n)) cp = cfg_at[i];
    }
    if (cp) {
        static const char *const keys[6] = {"num_attention_heads", "layer_norm_eps", "hidden_dropout_prob",
                                            "attention_probs_dropout_prob", "initializer_range", "pad_token_id"};
        for (int i = 0; i < 6; i++) {
            snprintf(n, sizeof n, "%s%s", cp, keys[i]);
            set_attr_num(b, keys[i], attr(w, n));
        }
        snprintf(n, sizeof n, "%shidden_act", cp);
        const TorchAttr *a = attr(w, n);
        if (a && a->kind == PK_STR) json_object_set_new(b, "hidden_act", json_string(a->str));
    } else if (H > 0 && !json_object_get(json_object_get(override, "bert"), "num_attention_heads")) {
        // a state_dict does not record the head count; every BERT release has 64-wide heads
        if (H % 64)
            return errf(err, "%s: the number of attention heads of hidden size %d cannot be inferred from a state_dict "
                             "(not a multiple of 64): give it with mird import-torch --config", w->path, H);
        set_int(b, "num_attention_heads", H / 64);
        *heads_assumed = 1;
    }
    // fusion
    int wa = 0;
    snprintf(n, sizeof n, "%sW_a.weight", FUSION_PREFIX[1]);
    if (wf_has(w, n)) wa = 1;
    const char *F = FUSION_PREFIX[wa];
    json_object_set_new(o, "fusion", json_string(wa ? "WA" : "WSA"));
    snprintf(n, sizeof n, "%sW_a.weight", F);
    set_int(o, "d_a", dim(w, n, 1));
    snprintf(n, sizeof n, "%sW_v.weight", F);
    set_int(o, "d_v", dim(w, n, 1));
    snprintf(n, sizeof n, "%sbeta_shift", F);
    set_attr_num(o, "beta_shift", attr(w, n));
    snprintf(n, sizeof n, "%sdropout.p", F);
    set_attr_num(o, "dropout_prob", attr(w, n));
    // latents and the rest
    set_int(o, "zy_size", dim(w, "mult_encoder.encoder.weight", 0));
    set_attr_num(o, "dropout_multi", attr(w, "mult_encoder.dropout.p"));
    if (wf_has(w, "encoder_l.embedding.weight")) {
        json_object_set_new(o, "text_encoder", json_string("lstm"));
        set_int(o, "zl_size", dim(w, "encoder_l.fc1.weight", 0));
    } else {
        set_int(o, "zl_size", dim(w, "encoder_l.encoder.weight", 0));
        set_attr_num(o, "dropout_l", attr(w, "encoder_l.dropout.p"));
    }
    set_int(o, "za_size", dim(w, "encoder_a.fc1.weight", 0));
    set_int(o, "zv_size", dim(w, "encoder_v.fc1.weight", 0));
    set_int(o, "club_hidden", 2 * dim(w, "club_la.p_mu.0.weight", 0));
    set_attr_num(o, "zy_to_y_dropout", attr(w, "zy_to_y_dropout.p"));
    return 0;
}

// Keys of `over` replace those of `base` ("bert" merged key by key).
static void overlay(json_t *base, const json_t *over) {
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)over, k, v) {
        json_t *bb = json_object_get(base, "bert");
        if (!strcmp(k, "bert") && json_is_object(v) && json_is_object(bb)) json_object_update(bb, v);
        else json_object_set(base, k, v);
    }
}

// wf_open, and what the file is into info (cleared first).
static int wf_open_info(WFile *w, const char *path, MirdFileInfo *info, char *err) {
    memset(info, 0, sizeof(*info));
    if (wf_open(w, path, err)) return -1;
    info->torch = w->torch;
    info->whole_module = w->torch && w->pt.whole_module;
    if (w->torch && w->pt.root_class) snprintf(info->root_class, sizeof(info->root_class), "%s", w->pt.root_class);
    info->n_tensors = wf_count(w);
    return 0;
}

int mird_config_of_file(MirdConfig *c, const char *path, const json_t *override, MirdFileInfo *info, char *err) {
    MirdFileInfo dummy;
    if (!info) info = &dummy;
    if (override && !json_is_object(override)) return errf(err, "%s: the configuration override is not a JSON object", path);
    WFile w;
    if (wf_open_info(&w, path, info, err)) return -1;
    json_t *o = NULL;
    int rc = 0;
    const char *s = w.torch ? NULL : st_meta(&w.st, "mird.config");
    if (s) {
        json_error_t je;
        o = json_loads(s, 0, &je);
        if (!o) rc = errf(err, "%s (metadata mird.config): invalid JSON at line %d: %s", path, je.line, je.text);
        info->has_config = 1;
    } else {
        o = json_object();
        rc = infer_config(&w, o, override, &info->heads_assumed, err);
        info->inferred = 1;
    }
    wf_close(&w);
    if (!rc && override && json_is_object(o)) overlay(o, override);
    if (!rc) {
        char what[600];
        snprintf(what, sizeof(what), "%s (%s)", path,
                 info->has_config ? "metadata mird.config" : "configuration inferred from its tensors");
        char *text = json_dumps(o, JSON_COMPACT);
        rc = text ? mird_config_from_string(c, text, what, err) : errf(err, "%s: out of memory", path);
        free(text);
    }
    json_decref(o);
    if (!rc && info->inferred && !info->whole_module)
        note("%s: a state_dict records no BertConfig and no WSA settings; taken as num_attention_heads %d%s, "
             "layer_norm_eps %g, beta_shift %g (mird import-torch --config changes them)",
             path, c->bert.num_attention_heads, info->heads_assumed ? " (hidden / 64)" : "", c->bert.layer_norm_eps,
             c->beta_shift);
    return rc;
}

int mird_config_from_checkpoint(MirdConfig *c, const char *path, char *err) {
    return mird_config_of_file(c, path, NULL, NULL, err);
}

// ---------------------------------------------------------------- loading
// Every tensor of ps by name (shape and floating dtype checked); a fusion tensor may come under the
// other spelling (counted in *alias). With optional, a tensor absent from the file keeps its value.
static int load_set(ParamSet *ps, const WFile *w, int optional, int *loaded, int *alias, char *err) {
    char alt[PARAM_NAME_MAX + 8];
    for (int i = 0; i < ps->n; i++) {
        const ParamInfo *pi = &ps->p[i];
        const char *name = pi->name;
        if (!wf_has(w, name) && fusion_alias(name, alt, sizeof alt) && wf_has(w, alt)) name = alt, (*alias)++;
        if (optional && !wf_has(w, name)) continue;
        if (wf_load(w, pi, name, ps->data + pi->offset, err)) return -1;
        (*loaded)++;
    }
    return 0;
}

static int used_by(const Mird *m, const char *name) {
    char alt[PARAM_NAME_MAX + 8];
    return params_find(&m->params, name) >= 0 || params_find(&m->est, name) >= 0 ||
           (fusion_alias(name, alt, sizeof alt) && params_find(&m->params, alt) >= 0);
}

int mird_load_file(Mird *m, const char *path, int est_optional, MirdFileInfo *info, char *err) {
    MirdFileInfo dummy;
    if (!info) info = &dummy;
    WFile w;
    if (wf_open_info(&w, path, info, err)) return -1;
    int rc = load_set(&m->params, &w, 0, &info->n_model, &info->alias, err);
    if (!rc) rc = load_set(&m->est, &w, est_optional, &info->n_est, &info->alias, err);
    for (int i = 0; !rc && i < wf_count(&w); i++) {
        const char *name = wf_name(&w, i);
        if (used_by(m, name)) continue;
        if (info->n_ignored < 3)
            snprintf(info->ignored[info->n_ignored], sizeof(info->ignored[0]), "%s", name);
        info->n_ignored++;
    }
    wf_close(&w);
    if (!rc && info->alias)
        note("%s: the fusion tensors are named %s* but the configuration's fusion is %s (official names %s*): "
             "loaded under the official names",
             path, FUSION_PREFIX[m->cfg.fusion != MIRD_FUSION_WA], m->cfg.fusion == MIRD_FUSION_WA ? "WA" : "WSA",
             FUSION_PREFIX[m->cfg.fusion == MIRD_FUSION_WA]);
    return rc;
}

int mird_load_params(Mird *m, const char *path, int allow_missing, char *err) {
    return mird_load_file(m, path, allow_missing, NULL, err);
}

// The model parameters, then the estimators' (as "extra" tensors of the checkpoint).
int mird_save_params(const Mird *m, const char *path, char *err) {
    StWriter est;
    stw_init(&est);
    ckpt_add_params(&est, &m->est, m->est.data, "");
    char *cfg = mird_config_to_string(&m->cfg);
    int rc = checkpoint_save(path, &m->params, cfg, &est, err);
    free(cfg);
    stw_free(&est);
    return rc;
}
