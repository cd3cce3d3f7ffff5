// model_glue.c: see model_glue.h.
#include "train/model_glue.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/common.h"
#include "io/checkpoint.h"
#include "io/hf_import.h"

const char *const STEP_KEYS[STEP_NVALS] = {"loss",  "pred",  "rec_l", "rec_a", "rec_v", "log_pred",
                                           "log_rec_l", "log_rec_a", "log_rec_v", "mi_la", "mi_lv", "mi_av",
                                           "mi_yl", "mi_ya", "mi_yv", "mi_sum", "club_loss"};

static MirdObjective objective_of(const char *ablation) {
    if (!strcmp(ablation, "no-rec")) return MIRD_OBJ_NO_REC;
    if (!strcmp(ablation, "no-mi")) return MIRD_OBJ_NO_MI;
    if (!strcmp(ablation, "fixed-weight")) return MIRD_OBJ_WEIGHTED;
    if (!strcmp(ablation, "wsa-only")) return MIRD_OBJ_PRED;
    return MIRD_OBJ_LOG;
}

int model_config_resolve(const RunConfig *c, json_t **out, char *err) {
    MirdConfig mc;
    mird_config_default(&mc);
    if (c->model[0]) {
        if (mird_config_load(&mc, c->model, err)) return -1;
    } else if (c->init[0]) {
        if (mird_config_from_checkpoint(&mc, c->init, err)) return -1;
    }
    if (c->bert[0]) {
        char p[4200];
        snprintf(p, sizeof p, "%s/config.json", c->bert);
        json_error_t je;
        json_t *bj = json_load_file(p, 0, &je);
        if (!bj) return errf(err, "%s: %s", p, je.text);
        int rc = bert_config_from_json(&mc.bert, bj, err);
        json_decref(bj);
        if (rc) return -1;
    }
    if (mird_config_validate(&mc, err)) return -1;
    *out = mird_config_to_json(&mc);
    return 0;
}

int model_config_check_data(json_t *cfg, const TSplit *t, const char *data_path, char *err) {
    MirdConfig mc;
    if (mird_config_from_json(&mc, cfg, err)) return -1;
    if (mc.d_a != t->d_a)
        return errf(err, "%s: acoustic features have %d values per frame, the model's d_a is %d", data_path, t->d_a, mc.d_a);
    if (mc.d_v != t->d_v)
        return errf(err, "%s: visual features have %d values per frame, the model's d_v is %d", data_path, t->d_v, mc.d_v);
    int mx = tsplit_max_id(t);
    if (mx >= mc.bert.vocab_size)
        return errf(err, "%s: token id %d is outside the model's vocabulary of %d (wrong --vocab?)", data_path, mx,
                    mc.bert.vocab_size);
    if (t->Tl > mc.bert.max_position_embeddings)
        return errf(err, "%s: %d word pieces exceed max_position_embeddings %d", data_path, t->Tl,
                    mc.bert.max_position_embeddings);
    return 0;
}

int model_create(Model *m, json_t *cfg, const RunConfig *c, int Bmax, int Tl, int Ta, int Tv, char *err) {
    memset(m, 0, sizeof *m);
    MirdConfig mc;
    if (mird_config_from_json(&mc, cfg, err)) return -1;
    if (mird_create(&m->mird, &mc, Bmax, Tl, Ta, Tv, err)) return -1;
    m->created = 1;
    m->opts = mird_step_defaults();
    if (c) {
        m->opts.weight_decay = (float)c->weight_decay;
        m->opts.club_steps = c->club_steps;
        m->opts.club_mode = !strcmp(c->club_mode, "once") ? MIRD_CLUB_ONCE : MIRD_CLUB_OFFICIAL;
        m->opts.objective = objective_of(c->ablation);
        mird_set_weight_decay(&m->mird, (float)c->weight_decay);
        m->mird.club_std = !strcmp(c->club_input, "standardized");
    }
    return 0;
}

int model_init(Model *m, Rng *init, const RunConfig *c, char *err) {
    mird_init_weights(&m->mird, rng_u64(init));
    if (c->bert[0]) {
        // both BERTs start from the pretrained weights (the LSTM text encoder has no BERT)
        static const char *const both[2] = {"encoder_l.bert.", "mult_encoder.model."};
        int lstm = m->mird.cfg.text_encoder == MIRD_TEXT_LSTM;
        if (hf_bert_import(c->bert, &m->mird.params, lstm ? both + 1 : both, lstm ? 1 : 2, err)) return -1;
    }
    if (c->init[0]) {
        // a MIRD checkpoint, or the authors' saved model (which holds no CLUB estimators)
        MirdFileInfo info;
        if (mird_load_file(&m->mird, c->init, 1, &info, err)) return -1;
        if (info.n_est < m->mird.est.n)
            fprintf(stderr, "mird: note: %s holds %d of the %d CLUB estimator tensors; the others start from the "
                            "seed's initialisation\n", c->init, info.n_est, m->mird.est.n);
    }
    return 0;
}

static void to_batch(MirdBatch *mb, const Batch *b) {
    mb->ids = b->ids, mb->mask = b->mask, mb->types = b->types;
    mb->acoustic = b->acoustic, mb->visual = b->visual, mb->labels = b->labels;
    mb->B = b->B, mb->B_l = b->B_l, mb->Tl = b->Tl, mb->Ta = b->Ta, mb->Tv = b->Tv;
}

int model_check_batch(Model *m, const Batch *b, char *err) {
    MirdBatch mb;
    to_batch(&mb, b);
    return mird_check_batch(&m->mird, &mb, err);
}

int model_train_step(Model *m, const Batch *b, double lr, double mi_lr, Rng *dropout, double *vals, char *err) {
    MirdBatch mb;
    to_batch(&mb, b);
    if (mird_check_batch(&m->mird, &mb, err)) return -1;
    MirdStepOpts o = m->opts;
    o.lr = (float)lr, o.mi_lr = (float)mi_lr;
    mird_train_step(&m->mird, &mb, &o, dropout);
    const MirdLosses *L = &m->mird.loss;
    const float terms[] = {L->total, L->pred, L->rec_l, L->rec_a, L->rec_v, L->mi[0], L->mi[1], L->mi[2], L->mi[3],
                           L->mi[4], L->mi[5], L->est_loss};
    static const char *const names[] = {"loss.total", "loss.pred", "loss.rec_l", "loss.rec_a", "loss.rec_v", "mi.la",
                                        "mi.lv",      "mi.av",     "mi.yl",      "mi.ya",      "mi.yv", "estimator loss"};
    for (int k = 0; k < (int)(sizeof terms / sizeof terms[0]); k++)
        if (!isfinite(terms[k])) return errf(err, "%s is %s: training stopped, no checkpoint written for this step", names[k], isnan(terms[k]) ? "NaN" : "inf");
    int rec = mird_obj_has_rec(o.objective), mi = mird_obj_has_mi(o.objective);
    vals[STEP_LOSS] = L->total;
    vals[STEP_PRED] = L->pred;
    vals[STEP_REC_L] = rec ? L->rec_l : NAN;
    vals[STEP_REC_A] = rec ? L->rec_a : NAN;
    vals[STEP_REC_V] = rec ? L->rec_v : NAN;
    vals[STEP_LOG_PRED] = log((double)L->pred);
    vals[STEP_LOG_REC_L] = rec ? log((double)L->rec_l) : NAN;
    vals[STEP_LOG_REC_A] = rec ? log((double)L->rec_a) : NAN;
    vals[STEP_LOG_REC_V] = rec ? log((double)L->rec_v) : NAN;
    double s = 0;
    for (int k = 0; k < 6; k++) vals[STEP_MI_LA + k] = mi ? L->mi[k] : NAN, s += L->mi[k];
    vals[STEP_MI_SUM] = mi ? s : NAN;
    vals[STEP_CLUB_LOSS] = mi ? L->est_loss : NAN;
    return 0;
}

void model_predict(Model *m, const Batch *b, float *y, float *lat) {
    MirdBatch mb;
    to_batch(&mb, b);
    mb.B_l = 0, mb.labels = NULL;
    mird_forward(&m->mird, &mb, MIRD_FWD_PREDICT, m->opts.objective, NULL);
    memcpy(y, m->mird.y_hat, sizeof(float) * (size_t)b->B);
    if (lat) { // each latent at its own size in a slot of the largest one's (zero-filled past it)
        int z = model_latent_size(m), zs[4];
        model_latent_sizes(m, zs);
        const float *src[4] = {m->mird.zy, m->mird.zl, m->mird.za, m->mird.zv};
        for (int i = 0; i < b->B; i++)
            for (int k = 0; k < 4; k++) {
                float *d = lat + ((size_t)i * 4 + k) * z;
                memcpy(d, src[k] + (size_t)i * zs[k], sizeof(float) * zs[k]);
                memset(d + zs[k], 0, sizeof(float) * (size_t)(z - zs[k]));
            }
    }
}

void model_latent_sizes(const Model *m, int z[4]) {
    const MirdConfig *c = &m->mird.cfg;
    z[0] = c->zy_size, z[1] = c->zl_size, z[2] = c->za_size, z[3] = c->zv_size;
}

int model_latent_size(const Model *m) {
    int z[4], mx = 0;
    model_latent_sizes(m, z);
    for (int k = 0; k < 4; k++) mx = z[k] > mx ? z[k] : mx;
    return mx;
}

static const char *nonfinite_in(const ParamSet *ps) {
    for (int i = 0; i < ps->n; i++) {
        const float *p = ps->data + ps->p[i].offset;
        for (size_t k = 0; k < ps->p[i].numel; k++)
            if (!isfinite(p[k])) return ps->p[i].name;
    }
    return NULL;
}

const char *model_first_nonfinite(const Model *m) {
    const char *s = nonfinite_in(&m->mird.params);
    return s ? s : nonfinite_in(&m->mird.est);
}

void model_add_state(Model *m, StWriter *w) {
    Mird *d = &m->mird;
    ckpt_add_params(w, &d->est, d->est.data, "");
    ckpt_add_params(w, &d->params, d->opt.m, "optim.adamw.m.");
    ckpt_add_params(w, &d->params, d->opt.v, "optim.adamw.v.");
    ckpt_add_params(w, &d->est, d->est_opt.m, "optim.adam.m.");
    ckpt_add_params(w, &d->est, d->est_opt.v, "optim.adam.v.");
    int64_t n1[1] = {d->params.n}, n2[1] = {d->est.n};
    stw_add(w, "optim.adamw.step", ST_I64, 1, n1, d->opt.step);
    stw_add(w, "optim.adamw.has_grad", ST_U8, 1, n1, d->has_grad);
    stw_add(w, "optim.adam.step", ST_I64, 1, n2, d->est_opt.step);
}

int model_save(Model *m, const char *path, const StWriter *extra, char *err) {
    char *cfg = mird_config_to_string(&m->mird.cfg);
    int rc = checkpoint_save(path, &m->mird.params, cfg, extra, err);
    free(cfg);
    return rc;
}

static int load_raw(const StFile *f, const char *name, StDtype dt, void *dst, size_t n, char *err) {
    const StTensor *t = st_find(f, name);
    if (!t) return errf(err, "%s: tensor %s missing (not a training checkpoint)", f->path, name);
    if (t->dtype != dt || t->numel != n) return errf(err, "%s: tensor %s has the wrong type or size", f->path, name);
    memcpy(dst, t->data, t->nbytes);
    return 0;
}

int model_load_state(Model *m, const StFile *f, char *err) {
    Mird *d = &m->mird;
    if (ckpt_load_params(f, &d->params, d->params.data, "", err) || ckpt_load_params(f, &d->est, d->est.data, "", err) ||
        ckpt_load_params(f, &d->params, d->opt.m, "optim.adamw.m.", err) ||
        ckpt_load_params(f, &d->params, d->opt.v, "optim.adamw.v.", err) ||
        ckpt_load_params(f, &d->est, d->est_opt.m, "optim.adam.m.", err) ||
        ckpt_load_params(f, &d->est, d->est_opt.v, "optim.adam.v.", err) ||
        load_raw(f, "optim.adamw.step", ST_I64, d->opt.step, (size_t)d->params.n, err) ||
        load_raw(f, "optim.adamw.has_grad", ST_U8, d->has_grad, (size_t)d->params.n, err) ||
        load_raw(f, "optim.adam.step", ST_I64, d->est_opt.step, (size_t)d->est.n, err))
        return -1;
    return 0;
}

void model_set_comm(Model *m, const Comm *c, int Bmax_global) { mird_set_comm(&m->mird, c, Bmax_global); }

void model_bcast(Model *m, const Comm *c, int root, int with_optim) {
    Mird *d = &m->mird;
    if (c->size == 1) return;
    comm_bcast(c, d->params.data, d->params.total * sizeof(float), root);
    comm_bcast(c, d->est.data, d->est.total * sizeof(float), root);
    if (!with_optim) return;
    Optim *o[2] = {&d->opt, &d->est_opt};
    for (int k = 0; k < 2; k++) {
        comm_bcast(c, o[k]->m, o[k]->total * sizeof(float), root);
        comm_bcast(c, o[k]->v, o[k]->total * sizeof(float), root);
        comm_bcast(c, o[k]->step, (size_t)o[k]->n * sizeof(int64_t), root);
    }
    comm_bcast(c, d->has_grad, (size_t)d->params.n, root);
}

// FNV-1a over n floats taken two at a time as 64-bit words (n is even: ParamSet totals are
// 64-byte aligned), folded into h.
static uint64_t fnv(uint64_t h, const float *x, size_t n) {
    for (size_t i = 0; i + 1 < n; i += 2) {
        uint64_t w;
        memcpy(&w, x + i, sizeof w);
        h = (h ^ w) * 1099511628211ull;
    }
    return h;
}

int model_sync_check(Model *m, const Comm *c) {
    if (c->size == 1) return 0;
    Mird *d = &m->mird;
    uint64_t h = 1469598103934665603ull;
    h = fnv(h, d->params.data, d->params.total), h = fnv(h, d->est.data, d->est.total);
    h = fnv(h, d->opt.m, d->opt.total), h = fnv(h, d->opt.v, d->opt.total);
    int mine[2] = {(int)(h & 0x7fffffff), (int)((h >> 32) & 0x7fffffff)}, *all = xmalloc(sizeof(int) * 2 * (size_t)c->size);
    comm_allgather_int(c, mine, 2, all);
    int differ = 0;
    for (int r = 1; r < c->size; r++) differ |= all[2 * r] != all[0] || all[2 * r + 1] != all[1];
    free(all);
    if (differ) model_bcast(m, c, 0, 1);
    return differ;
}

int model_load_params(Model *m, const char *path, char *err) { return mird_load_params(&m->mird, path, 0, err); }

void model_free(Model *m) {
    if (m->created) mird_free(&m->mird);
    m->created = 0;
}

int model_from_checkpoint(Model *m, const char *path, int Bmax, int Tl, int Ta, int Tv, char *err) {
    memset(m, 0, sizeof *m);
    MirdConfig mc;
    if (mird_config_from_checkpoint(&mc, path, err)) return -1;
    if (mird_create(&m->mird, &mc, Bmax, Tl, Ta, Tv, err)) return -1;
    m->created = 1;
    m->opts = mird_step_defaults();
    if (mird_load_params(&m->mird, path, 1, err)) {
        model_free(m);
        return -1;
    }
    return 0;
}

int model_create_like(Model *dst, const Model *src, int Bmax, int Tl, int Ta, int Tv, char *err) {
    memset(dst, 0, sizeof *dst);
    if (mird_create(&dst->mird, &src->mird.cfg, Bmax, Tl, Ta, Tv, err)) return -1;
    dst->created = 1;
    dst->opts = src->opts;
    dst->mird.club_std = src->mird.club_std;
    memcpy(dst->mird.params.data, src->mird.params.data, sizeof(float) * src->mird.params.total);
    memcpy(dst->mird.est.data, src->mird.est.data, sizeof(float) * src->mird.est.total);
    return 0;
}

int ckpt_data_shape(const char *path, int shape[5], char *err) {
    if (mird_file_is_torch(path)) return 0; // the authors' files record no training data shape
    StFile f;
    if (st_open(&f, path, err)) return -1;
    const char *s = st_meta(&f, "mird.data_shape");
    int rc = 0;
    json_error_t je;
    json_t *o = s ? json_loads(s, 0, &je) : NULL;
    if (o) {
        static const char *const k[5] = {"Tl", "Ta", "Tv", "d_a", "d_v"};
        rc = 1;
        for (int i = 0; i < 5; i++) {
            json_t *v = json_object_get(o, k[i]);
            if (!json_is_integer(v)) rc = 0;
            else shape[i] = (int)json_integer_value(v);
        }
    }
    json_decref(o);
    st_close(&f);
    return rc;
}

int ckpt_vocab(const char *path, char *out, size_t cap) {
    if (mird_file_is_torch(path)) return 0;
    StFile f;
    char err[MIRD_ERRLEN];
    if (st_open(&f, path, err)) return 0;
    const char *s = st_meta(&f, "mird.data_shape");
    json_error_t je;
    json_t *o = s ? json_loads(s, 0, &je) : NULL;
    const char *v = json_string_value(json_object_get(o, "vocab"));
    int ok = v && access(v, R_OK) == 0 && strlen(v) < cap;
    if (ok) strcpy(out, v);
    json_decref(o);
    st_close(&f);
    return ok;
}
