// batchfile.c: see batchfile.h.
#include "cli/batchfile.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/comm.h"
#include "core/common.h"
#include "data/batch.h"
#include "io/safetensors.h"

static int is_float(StDtype t) { return t == ST_F32 || t == ST_F16 || t == ST_BF16 || t == ST_F64; }

// The first NaN or infinity of x (as read, after conversion to float: an F64 beyond float's range is inf).
static int check_finite(const float *x, size_t n, const char *path, const char *name, char *err) {
    for (size_t i = 0; i < n; i++)
        if (!isfinite(x[i]))
            return errf(err, "%s: %s: %s at index %zu", path, name, isnan(x[i]) ? "NaN" : x[i] > 0 ? "inf" : "-inf", i);
    return 0;
}

void batchfile_free(LoadedBatch *lb) {
    free(lb->ids), free(lb->mask), free(lb->types), free(lb->ac), free(lb->vi), free(lb->labels);
    memset(lb, 0, sizeof(*lb));
}

int batchfile_read(LoadedBatch *lb, const char *path, const MirdConfig *c, int need_labels, char *err) {
    memset(lb, 0, sizeof(*lb));
    StFile f;
    if (st_open(&f, path, err)) return -1;
    int rc = -1;
    const StTensor *ids = st_find(&f, "input_ids"), *mask = st_find(&f, "attention_mask"),
                   *tt = st_find(&f, "token_type_ids"), *ac = st_find(&f, "acoustic"), *vi = st_find(&f, "visual"),
                   *lab = st_find(&f, "labels");
    if (!ids || !ac || !vi || (need_labels && !lab)) {
        errf(err, "%s: the batch needs input_ids, acoustic%s visual%s (missing %s)", path, need_labels ? "," : " and",
             need_labels ? " and labels" : "", !ids ? "input_ids" : !ac ? "acoustic" : !vi ? "visual" : "labels");
        goto done;
    }
    if (ids->ndim != 2 || ids->shape[0] < 1 || ids->shape[1] < 1) {
        errf(err, "%s: input_ids must be [B, Tl]", path);
        goto done;
    }
    if (ids->dtype != ST_I64 && ids->dtype != ST_I32) {
        errf(err, "%s: input_ids must be I64 or I32", path);
        goto done;
    }
    int B = (int)ids->shape[0], Tl = (int)ids->shape[1];
    const StTensor *im[2] = {mask, tt};
    const char *imn[2] = {"attention_mask", "token_type_ids"};
    for (int k = 0; k < 2; k++)
        if (im[k] && (im[k]->ndim != 2 || im[k]->shape[0] != B || im[k]->shape[1] != Tl ||
                      (im[k]->dtype != ST_I64 && im[k]->dtype != ST_I32))) {
            errf(err, "%s: %s must be I64 or I32 [%d, %d] like input_ids", path, imn[k], B, Tl);
            goto done;
        }
    if (ac->ndim != 3 || ac->shape[0] != B || ac->shape[1] < 1 || ac->shape[2] != c->d_a) {
        errf(err, "%s: acoustic must be [%d, Ta, %d] (B from input_ids, d_a from the model)", path, B, c->d_a);
        goto done;
    }
    if (vi->ndim != 3 || vi->shape[0] != B || vi->shape[1] < 1 || vi->shape[2] != c->d_v) {
        errf(err, "%s: visual must be [%d, Tv, %d] (B from input_ids, d_v from the model)", path, B, c->d_v);
        goto done;
    }
    if (lab && (!(lab->ndim == 1 || (lab->ndim == 2 && lab->shape[1] == 1)) || lab->shape[0] > B)) {
        errf(err, "%s: labels must be [B_l] with B_l <= %d", path, B);
        goto done;
    }
    const StTensor *feat[2] = {ac, vi};
    const char *featn[2] = {"acoustic", "visual"};
    for (int k = 0; k < 2; k++)
        if (!is_float(feat[k]->dtype)) {
            errf(err, "%s: %s is %s, expected a floating type (F32, F16, BF16 or F64)", path, featn[k],
                 st_dtype_name(feat[k]->dtype));
            goto done;
        }
    lb->B = B, lb->Tl = Tl, lb->Ta = (int)ac->shape[1], lb->Tv = (int)vi->shape[1];
    lb->B_l = lab ? (int)lab->shape[0] : 0;
    size_t n = (size_t)B * Tl;
    lb->ids = xmalloc(n * sizeof(int32_t)), lb->mask = xmalloc(n * sizeof(int32_t));
    lb->types = xcalloc(n, sizeof(int32_t));
    lb->ac = falloc(ac->numel), lb->vi = falloc(vi->numel), lb->labels = falloc(lab && lab->numel ? lab->numel : 1);
    if (st_to_i32(&f, ids, lb->ids, n, err)) goto done;
    if (mask) {
        if (st_to_i32(&f, mask, lb->mask, n, err)) goto done;
    } else {
        for (size_t i = 0; i < n; i++) lb->mask[i] = 1;
    }
    if (tt && st_to_i32(&f, tt, lb->types, n, err)) goto done;
    if (st_to_f32(&f, ac, lb->ac, ac->numel, err) || st_to_f32(&f, vi, lb->vi, vi->numel, err) ||
        (lab && st_to_f32(&f, lab, lb->labels, lab->numel, err)))
        goto done;
    if (check_finite(lb->ac, ac->numel, path, "acoustic", err) || check_finite(lb->vi, vi->numel, path, "visual", err) ||
        (lab && check_finite(lb->labels, lab->numel, path, "labels", err)))
        goto done;
    rc = 0;
done:
    st_close(&f);
    if (rc) batchfile_free(lb);
    return rc;
}

// Keep rows[0..n) (global indices) of every per-row array, in that order.
static void *pick(void *src, size_t row_bytes, const int *rows, int n) {
    char *dst = xmalloc(row_bytes * (size_t)(n > 0 ? n : 1));
    for (int i = 0; i < n; i++) memcpy(dst + row_bytes * i, (char *)src + row_bytes * rows[i], row_bytes);
    free(src);
    return dst;
}

static void take_part(LoadedBatch *lb, const MirdConfig *c, int p, int n) {
    int *rows = xmalloc(sizeof(int) * (size_t)lb->B), nl;
    int cnt = batch_part_rows(lb->B, lb->B_l, p, n, rows, &nl);
    size_t T = (size_t)lb->Tl * sizeof(int32_t);
    lb->ids = pick(lb->ids, T, rows, cnt), lb->mask = pick(lb->mask, T, rows, cnt);
    lb->types = pick(lb->types, T, rows, cnt);
    lb->ac = pick(lb->ac, (size_t)lb->Ta * c->d_a * sizeof(float), rows, cnt);
    lb->vi = pick(lb->vi, (size_t)lb->Tv * c->d_v * sizeof(float), rows, cnt);
    if (lb->labels) lb->labels = pick(lb->labels, sizeof(float), rows, nl); // labeled rows come first
    lb->B = cnt, lb->B_l = nl;
    free(rows);
}

int batchfile_load_with_model(const char *ckpt, const char *batch, int need_labels, Mird *m, LoadedBatch *lb,
                              char *err) {
    const Comm *w = comm_world();
    MirdConfig cfg;
    memset(lb, 0, sizeof *lb);
    int rc = mird_config_from_checkpoint(&cfg, ckpt, err) || batchfile_read(lb, batch, &cfg, need_labels, err);
    if (comm_agree(w, rc, err)) {
        batchfile_free(lb);
        return -1;
    }
    lb->B_all = lb->B, lb->B_l_all = lb->B_l;
    if (w->size > 1) take_part(lb, &cfg, w->rank, w->size);
    rc = mird_create(m, &cfg, lb->B > 0 ? lb->B : 1, lb->Tl, lb->Ta, lb->Tv, err);
    if (!rc && mird_load_params(m, ckpt, 0, err)) {
        mird_free(m);
        rc = -1;
    }
    if (comm_agree(w, rc, err)) {
        if (!rc) mird_free(m);
        batchfile_free(lb);
        return -1;
    }
    mird_set_comm(m, w, lb->B_all);
    return 0;
}

void batchfile_gather_rows(const LoadedBatch *lb, const float *mine, long width, float *out) {
    const Comm *w = comm_world();
    if (w->size == 1) {
        memcpy(out, mine, sizeof(float) * (size_t)lb->B * width);
        return;
    }
    // every rank's rows in rank order, then each row to its place in the file
    int *cnt = xmalloc(sizeof(int) * (size_t)w->size), *rows = xmalloc(sizeof(int) * (size_t)lb->B_all);
    int k = 0;
    for (int r = 0; r < w->size; r++) {
        cnt[r] = batch_part_rows(lb->B_all, lb->B_l_all, r, w->size, rows + k, NULL);
        k += cnt[r];
    }
    float *all = falloc((size_t)lb->B_all * width);
    if (width > 1L << 24) comm_abort(1, "batchfile_gather_rows: rows too wide");
    comm_allgatherv_rows(w, mine, cnt, (int)width, all);
    for (int i = 0; i < lb->B_all; i++)
        memcpy(out + (size_t)rows[i] * width, all + (size_t)i * width, sizeof(float) * (size_t)width);
    free(all), free(cnt), free(rows);
}
