// batchfile.c: see batchfile.h.
#include "cli/batchfile.h"

#include <stdlib.h>
#include <string.h>

#include "core/common.h"
#include "io/safetensors.h"

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
    rc = 0;
done:
    st_close(&f);
    if (rc) batchfile_free(lb);
    return rc;
}
