// api_model.c: mird_model_* and mird_predict (include/mird.h). A checkpoint opened for prediction
// runs the code path of `mird predict` (cli/evalcommon.c): the model of model_from_checkpoint,
// clips gathered by batch_seq into batches of batch_size, padded / truncated by batch_put, raw
// text tokenised by tokenizer_encode at the checkpoint's training length, model_predict per batch.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "data/batch.h"
#include "io/safetensors.h"
#include "text/tokenizer.h"
#include "train/model_glue.h"

struct mird_model {
    char path[4096];
    MirdConfig cfg;
    Tokenizer *tok;            // NULL without a vocabulary
    int max_len;               // word pieces per raw text
    int frames_a, frames_v;    // frame counts clips are padded / truncated to; 0 = as given
    int batch_size, threads, precision; // precision: MIRD_KEY_PRECISION (0 fp32, 1 bf16)
    Model *m;                  // sized for batch_size rows and the lengths of the last call
    Batch b;                   // batch buffers of the same size
    int32_t *ids, *mask, *types; // [batch_size, Tl] token ids of one batch of clips
    int32_t *alen, *vlen;      // [batch_size] frame counts of one batch
    float *y;                  // [batch_size] scores when the caller wants none
};

// A lower bound on the model's parameter count from its configuration: the BERT embeddings and
// layers (twice with the BERT text encoder) and the text decoder's output layer. A checkpoint
// holding fewer values cannot be this model; refusing it keeps a hostile configuration (vocab_size
// 2e9) from reaching an allocation of terabytes, which would end the process (include/mird.h).
static double min_params(const MirdConfig *c) {
    const BertConfig *b = &c->bert;
    double H = b->hidden_size, I = b->intermediate_size, L = b->num_hidden_layers, V = b->vocab_size;
    double bert = (V + b->max_position_embeddings + b->type_vocab_size) * H + L * (4 * H * H + 2 * H * I);
    double text = c->text_encoder == MIRD_TEXT_BERT ? bert : V * MIRD_TEXT_LSTM_EMB;
    return bert + text + V * (double)(c->zy_size + c->zl_size);
}

static int check_size(const char *path, const MirdConfig *c, char *err) {
    StFile f;
    if (st_open(&f, path, err)) return -1;
    double have = 0;
    for (int i = 0; i < f.n; i++) have += (double)f.t[i].numel;
    st_close(&f);
    double need = min_params(c);
    if (need > have)
        return errf(err, "%s: its configuration declares at least %.0f parameters, the file holds %.0f values", path, need,
                    have);
    return 0;
}

void mird_model_close(mird_model *h) {
    if (!h) return;
    if (h->tok) tokenizer_free(h->tok);
    if (h->m) model_free(h->m);
    free(h->m);
    if (h->b.ids) batch_free(&h->b);
    free(h->ids), free(h->mask), free(h->types), free(h->alen), free(h->vlen), free(h->y);
    free(h);
}

int mird_model_open(mird_model **out, const char *ckpt, const char *vocab, mird_error *e) {
    api_clear(e);
    if (!out) return api_fail(e, MIRD_ERR_ARG, "mird_model_open: the model pointer is NULL");
    *out = NULL;
    if (!ckpt) return api_fail(e, MIRD_ERR_ARG, "mird_model_open: no checkpoint path");
    char err[MIRD_ERRLEN];
    mird_model *h = xcalloc(1, sizeof *h);
    int rc = MIRD_OK, sh[5] = {0};
    if (strlen(ckpt) >= sizeof h->path) rc = api_fail(e, MIRD_ERR_ARG, "%.200s...: path too long", ckpt);
    else if (mird_config_from_checkpoint(&h->cfg, ckpt, err) || mird_config_validate(&h->cfg, err) ||
             check_size(ckpt, &h->cfg, err))
        rc = api_fail(e, MIRD_ERR_FILE, "%s", err);
    int have = rc ? 0 : ckpt_data_shape(ckpt, sh, err);
    if (have < 0) rc = api_fail(e, MIRD_ERR_FILE, "%s", err);
    if (rc) {
        mird_model_close(h);
        return rc;
    }
    strcpy(h->path, ckpt);
    // as `mird predict`: the training data's text length (else 50) and frame counts
    h->max_len = have ? sh[0] : 50;
    if (h->max_len > h->cfg.bert.max_position_embeddings) h->max_len = h->cfg.bert.max_position_embeddings;
    h->frames_a = have ? sh[1] : 0, h->frames_v = have ? sh[2] : 0;
    h->batch_size = 64;
    char vpath[4200];
    const char *vp = vocab;
    if (!vp && ckpt_vocab(ckpt, vpath, sizeof vpath)) vp = vpath;
    if (vp && tokenizer_load(&h->tok, vp, err)) rc = api_fail(e, MIRD_ERR_FILE, "%s", err);
    if (!rc) {
        ApiEnv env;
        api_enter(&env, 0, MATMUL_FP32);
        h->m = xcalloc(1, sizeof *h->m);
        if (model_from_checkpoint(h->m, ckpt, h->batch_size, h->max_len, h->frames_a ? h->frames_a : 1,
                                  h->frames_v ? h->frames_v : 1, err))
            rc = api_fail(e, MIRD_ERR_FILE, "%s", err);
        api_leave(&env);
    }
    if (rc) {
        mird_model_close(h);
        return rc;
    }
    *out = h;
    return MIRD_OK;
}

long mird_model_get(const mird_model *h, int key) {
    if (!h) return -1;
    const MirdConfig *c = &h->cfg;
    switch (key) {
    case MIRD_KEY_MAX_LEN: return h->max_len;
    case MIRD_KEY_FRAMES_A: return h->frames_a;
    case MIRD_KEY_FRAMES_V: return h->frames_v;
    case MIRD_KEY_BATCH_SIZE: return h->batch_size;
    case MIRD_KEY_THREADS: return h->threads;
    case MIRD_KEY_D_A: return c->d_a;
    case MIRD_KEY_D_V: return c->d_v;
    case MIRD_KEY_SIZE_ZY: return c->zy_size;
    case MIRD_KEY_SIZE_ZL: return c->zl_size;
    case MIRD_KEY_SIZE_ZA: return c->za_size;
    case MIRD_KEY_SIZE_ZV: return c->zv_size;
    case MIRD_KEY_VOCAB_SIZE: return c->bert.vocab_size;
    case MIRD_KEY_MAX_POSITIONS: return c->bert.max_position_embeddings;
    case MIRD_KEY_HAS_VOCAB: return h->tok != NULL;
    case MIRD_KEY_PRECISION: return h->precision;
    }
    return -1;
}

int mird_model_set(mird_model *h, int key, long v, mird_error *e) {
    api_clear(e);
    if (!h) return api_fail(e, MIRD_ERR_ARG, "mird_model_set: the model is NULL");
    long lo = 0, hi = 0;
    int *dst = NULL;
    const char *name = "";
    switch (key) {
    case MIRD_KEY_MAX_LEN: dst = &h->max_len, lo = 2, hi = h->cfg.bert.max_position_embeddings, name = "max_len"; break;
    case MIRD_KEY_FRAMES_A: dst = &h->frames_a, hi = 1 << 24, name = "frames_a"; break;
    case MIRD_KEY_FRAMES_V: dst = &h->frames_v, hi = 1 << 24, name = "frames_v"; break;
    case MIRD_KEY_BATCH_SIZE: dst = &h->batch_size, lo = 1, hi = 65536, name = "batch_size"; break;
    case MIRD_KEY_THREADS: dst = &h->threads, hi = 4096, name = "threads"; break;
    case MIRD_KEY_PRECISION:
        dst = &h->precision, hi = 1, name = "precision";
        if (v == 1 && !matmul_bf16_supported())
            return api_fail(e, MIRD_ERR_ARG, "mird_model_set: precision 1 (bf16): this CPU or build has no bfloat16 "
                                             "matrix products");
        break;
    default: return api_fail(e, MIRD_ERR_ARG, "mird_model_set: key %d is unknown or read-only", key);
    }
    if (v < lo || v > hi) return api_fail(e, MIRD_ERR_ARG, "mird_model_set: %s = %ld is outside [%ld, %ld]", name, v, lo, hi);
    *dst = (int)v;
    return MIRD_OK;
}

// ---------------------------------------------------------------- prediction
static int check_frames(const char *what, const float *x, int n, int T, int d, int d_model, char *err) {
    if (!x) return 0;
    if (d != d_model) return errf(err, "%s: %d values per frame, the model expects %d", what, d, d_model);
    if (T < 1) return errf(err, "%s: %d frames per clip (at least 1)", what, T);
    size_t per = (size_t)T * (size_t)d;
    for (size_t i = 0; i < (size_t)n * per; i++)
        if (!isfinite(x[i]))
            return errf(err, "%s: clip %zu, frame %zu, value %zu is not finite (%g)", what, i / per, i % per / (size_t)d,
                        i % (size_t)d, (double)x[i]);
    return 0;
}

// Arguments first (MIRD_ERR_ARG), then values (MIRD_ERR_DATA): nothing is computed for a bad call.
static int check_clips(const mird_model *h, const mird_clips *c, mird_error *e) {
    char err[MIRD_ERRLEN];
    const MirdConfig *cfg = &h->cfg;
    if (c->n < 0) return api_fail(e, MIRD_ERR_ARG, "clips: n = %d is negative", c->n);
    if (!c->texts == !c->ids) return api_fail(e, MIRD_ERR_ARG, "clips: give either texts or token ids%s", c->texts ? ", not both" : "");
    if (c->texts) {
        if (!h->tok)
            return api_fail(e, MIRD_ERR_ARG, "no vocabulary to tokenise texts with: %s records none, open it with one",
                            h->path);
        for (int i = 0; i < c->n; i++)
            if (!c->texts[i]) return api_fail(e, MIRD_ERR_ARG, "clips: texts[%d] is NULL", i);
    } else if (c->tl < 1 || c->tl > cfg->bert.max_position_embeddings) {
        return api_fail(e, MIRD_ERR_ARG, "clips: %d token ids per clip, the model takes 1 to %d", c->tl,
                        cfg->bert.max_position_embeddings);
    }
    if (check_frames("audio", c->audio, 0, c->ta, c->da, cfg->d_a, err) || // shapes only (no clips)
        check_frames("video", c->video, 0, c->tv, c->dv, cfg->d_v, err))
        return api_fail(e, MIRD_ERR_ARG, "%s", err);
    if (c->ids) {
        size_t n = (size_t)c->n * (size_t)c->tl;
        for (size_t i = 0; i < n; i++) {
            size_t r = i / (size_t)c->tl, k = i % (size_t)c->tl;
            if (c->ids[i] < 0 || c->ids[i] >= cfg->bert.vocab_size)
                return api_fail(e, MIRD_ERR_DATA, "ids[%zu][%zu] = %d is outside the model's vocabulary [0, %d)", r, k,
                                (int)c->ids[i], cfg->bert.vocab_size);
            if (c->types && (c->types[i] < 0 || c->types[i] >= cfg->bert.type_vocab_size))
                return api_fail(e, MIRD_ERR_DATA, "types[%zu][%zu] = %d is outside [0, %d)", r, k, (int)c->types[i],
                                cfg->bert.type_vocab_size);
            if (c->mask && c->mask[i] != 0 && c->mask[i] != 1)
                return api_fail(e, MIRD_ERR_DATA, "mask[%zu][%zu] = %d is not 0 or 1", r, k, (int)c->mask[i]);
        }
    }
    if (check_frames("audio", c->audio, c->n, c->ta, c->da, cfg->d_a, err) ||
        check_frames("video", c->video, c->n, c->tv, c->dv, cfg->d_v, err))
        return api_fail(e, MIRD_ERR_DATA, "%s", err);
    return MIRD_OK;
}

// The model and the batch buffers for batch_size rows of lengths Tl, Ta, Tv (remade when a size
// changed since the last call; the parameters carry over).
static int ensure_shape(mird_model *h, int Tl, int Ta, int Tv, char *err) {
    const Mird *d = &h->m->mird;
    int B = h->batch_size;
    if (d->Bmax == B && d->Tl == Tl && d->Ta == Ta && d->Tv == Tv && h->b.cap == B && h->b.Tl == Tl && h->b.Ta == Ta &&
        h->b.Tv == Tv)
        return 0;
    Model *nm = xcalloc(1, sizeof *nm);
    if (model_create_like(nm, h->m, B, Tl, Ta, Tv, err)) {
        free(nm);
        return -1;
    }
    model_free(h->m);
    free(h->m);
    h->m = nm;
    if (h->b.ids) batch_free(&h->b);
    batch_alloc(&h->b, B, B, Tl, Ta, Tv, h->cfg.d_a, h->cfg.d_v);
    size_t nt = (size_t)B * (size_t)Tl;
    h->ids = xrealloc(h->ids, sizeof(int32_t) * nt), h->mask = xrealloc(h->mask, sizeof(int32_t) * nt);
    h->types = xrealloc(h->types, sizeof(int32_t) * nt);
    h->alen = xrealloc(h->alen, sizeof(int32_t) * (size_t)B), h->vlen = xrealloc(h->vlen, sizeof(int32_t) * (size_t)B);
    h->y = xrealloc(h->y, sizeof(float) * (size_t)B);
    return 0;
}

// Clips [i0, i0 + cnt) as a DataSplit over the caller's frames (in place) and the batch's token
// buffers (tokenised or copied here), for batch_seq.
static int chunk_view(mird_model *h, const mird_clips *c, int i0, int cnt, int Tl, DataSplit *d, mird_error *e) {
    static const float none = 0; // a missing modality: clips of 0 frames, padded with zeros
    memset(d, 0, sizeof *d);
    d->n = cnt, d->Tl = Tl, d->d_a = h->cfg.d_a, d->d_v = h->cfg.d_v;
    d->Ta = c->audio ? c->ta : 0, d->Tv = c->video ? c->tv : 0;
    d->audio = c->audio ? c->audio + (size_t)i0 * c->ta * c->da : &none;
    d->visual = c->video ? c->video + (size_t)i0 * c->tv * c->dv : &none;
    d->ids = h->ids, d->mask = h->mask, d->seg = h->types;
    d->audio_len = h->alen, d->visual_len = h->vlen;
    memset(h->types, 0, sizeof(int32_t) * (size_t)cnt * Tl);
    for (int j = 0; j < cnt; j++) {
        size_t r = (size_t)j * Tl, s = (size_t)(i0 + j) * Tl;
        h->alen[j] = d->Ta, h->vlen[j] = d->Tv;
        if (c->texts) {
            tokenizer_encode(h->tok, c->texts[i0 + j], Tl, h->ids + r, h->mask + r);
            for (int k = 0; k < Tl; k++)
                if (h->ids[r + k] >= h->cfg.bert.vocab_size)
                    return api_fail(e, MIRD_ERR_DATA, "texts[%d]: word piece id %d is outside the model's vocabulary of %d (wrong vocab?)",
                                    i0 + j, h->ids[r + k], h->cfg.bert.vocab_size);
        } else {
            memcpy(h->ids + r, c->ids + s, sizeof(int32_t) * Tl);
            for (int k = 0; k < Tl; k++) {
                h->mask[r + k] = c->mask ? c->mask[s + k] : c->ids[s + k] != 0;
                if (c->types) h->types[r + k] = c->types[s + k];
            }
        }
    }
    return MIRD_OK;
}

int mird_predict(mird_model *h, const mird_clips *c, float *scores, float *zy, float *zl, float *za, float *zv,
                 mird_error *e) {
    api_clear(e);
    if (!h || !c) return api_fail(e, MIRD_ERR_ARG, "mird_predict: the %s is NULL", h ? "clips pointer" : "model");
    int rc = check_clips(h, c, e);
    if (rc || c->n == 0) return rc;
    const int Tl = c->texts ? h->max_len : c->tl;
    const int Ta = h->frames_a ? h->frames_a : c->audio ? c->ta : 1;
    const int Tv = h->frames_v ? h->frames_v : c->video ? c->tv : 1;
    char err[MIRD_ERRLEN];
    ApiEnv env;
    api_enter(&env, h->threads, h->precision ? MATMUL_BF16 : MATMUL_FP32);
    if (ensure_shape(h, Tl, Ta, Tv, err)) rc = api_fail(e, MIRD_ERR_ARG, "%s", err);
    const Mird *md = &h->m->mird;
    float *const out[4] = {zy, zl, za, zv};
    const int zs[4] = {h->cfg.zy_size, h->cfg.zl_size, h->cfg.za_size, h->cfg.zv_size};
    for (int i0 = 0, cnt; !rc && i0 < c->n; i0 += cnt) {
        cnt = c->n - i0 < h->batch_size ? c->n - i0 : h->batch_size;
        DataSplit d;
        if ((rc = chunk_view(h, c, i0, cnt, Tl, &d, e))) break;
        batch_seq(&h->b, &d, 0, cnt);
        model_predict(h->m, &h->b, scores ? scores + i0 : h->y, NULL);
        const float *src[4] = {md->zy, md->zl, md->za, md->zv};
        for (int k = 0; k < 4; k++)
            if (out[k]) memcpy(out[k] + (size_t)i0 * zs[k], src[k], sizeof(float) * (size_t)cnt * zs[k]);
    }
    api_leave(&env);
    return rc;
}
