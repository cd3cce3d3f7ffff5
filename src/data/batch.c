// batch.c: gathering DataSplit clips into fixed batch buffers (see batch.h).
#include "data/batch.h"

#include <stdlib.h>
#include <string.h>

void batch_alloc(Batch *b, int cap_l, int cap, int Tl, int Ta, int Tv, int d_a, int d_v) {
    memset(b, 0, sizeof(*b));
    b->cap_l = cap_l, b->cap = cap;
    b->Tl = Tl, b->Ta = Ta, b->Tv = Tv, b->d_a = d_a, b->d_v = d_v;
    size_t c = (size_t)(cap > 0 ? cap : 1);
    b->ids = xcalloc(c * (size_t)Tl, sizeof(int32_t));
    b->mask = xcalloc(c * (size_t)Tl, sizeof(int32_t));
    b->types = xcalloc(c * (size_t)Tl, sizeof(int32_t));
    b->acoustic = falloc(c * (size_t)Ta * (size_t)d_a);
    b->visual = falloc(c * (size_t)Tv * (size_t)d_v);
    b->labels = falloc((size_t)(cap_l > 0 ? cap_l : 1));
    b->audio_len = xcalloc(c, sizeof(int32_t));
    b->visual_len = xcalloc(c, sizeof(int32_t));
    b->src = xcalloc(c, sizeof(int));
}

void batch_free(Batch *b) {
    free(b->ids), free(b->mask), free(b->types), free(b->acoustic), free(b->visual), free(b->labels);
    free(b->audio_len), free(b->visual_len), free(b->src);
    memset(b, 0, sizeof(*b));
}

// rows of T frames x d: copy the first min(Ts, T) frames of the source clip, zero the rest
static void put_frames(float *dst, int T, const float *src, int Ts, int d) {
    int k = Ts < T ? Ts : T;
    memcpy(dst, src, sizeof(float) * (size_t)k * (size_t)d);
    memset(dst + (size_t)k * d, 0, sizeof(float) * (size_t)(T - k) * (size_t)d);
}

void batch_put(Batch *b, int row, const DataSplit *s, int i) {
    size_t r = (size_t)row, c = (size_t)i;
    int kt = s->Tl < b->Tl ? s->Tl : b->Tl;
    int32_t *ids = b->ids + r * b->Tl, *mask = b->mask + r * b->Tl, *types = b->types + r * b->Tl;
    memset(ids, 0, sizeof(int32_t) * (size_t)b->Tl);
    memset(mask, 0, sizeof(int32_t) * (size_t)b->Tl);
    memset(types, 0, sizeof(int32_t) * (size_t)b->Tl);
    if (s->ids) {
        memcpy(ids, s->ids + c * s->Tl, sizeof(int32_t) * (size_t)kt);
        memcpy(mask, s->mask + c * s->Tl, sizeof(int32_t) * (size_t)kt);
        memcpy(types, s->seg + c * s->Tl, sizeof(int32_t) * (size_t)kt);
    }
    put_frames(b->acoustic + r * b->Ta * b->d_a, b->Ta, s->audio + c * s->Ta * s->d_a, s->Ta, b->d_a);
    put_frames(b->visual + r * b->Tv * b->d_v, b->Tv, s->visual + c * s->Tv * s->d_v, s->Tv, b->d_v);
    b->audio_len[row] = s->audio_len[i] < b->Ta ? s->audio_len[i] : b->Ta;
    b->visual_len[row] = s->visual_len[i] < b->Tv ? s->visual_len[i] : b->Tv;
    b->src[row] = i;
}

int batch_iter_init(BatchIter *it, const DataSplit *lab, const DataSplit *unl, int r, int B_l, uint64_t seed,
                    char *err) {
    memset(it, 0, sizeof(*it));
    if (r < 0 || B_l < 1) return errf(err, "batching: bad split rate %d or batch size %d", r, B_l);
    if (!lab->labels) return errf(err, "batching: split '%s' has no labels", lab->name);
    if (!lab->ids) return errf(err, "batching: split '%s' has no token ids (give a vocabulary)", lab->name);
    if (r > 0) {
        if (!unl) return errf(err, "batching: split rate %d needs unlabeled data", r);
        if ((long)unl->n < (long)r * lab->n)
            return errf(err, "batching: %d unlabeled clips, split rate %d with %d labeled clips needs %ld", unl->n, r,
                        lab->n, (long)r * lab->n);
        if (!unl->ids) return errf(err, "batching: unlabeled data has no token ids (give a vocabulary)");
        if (unl->d_a != lab->d_a || unl->d_v != lab->d_v)
            return errf(err, "batching: unlabeled features are %d/%d-dimensional, labeled ones %d/%d", unl->d_a,
                        unl->d_v, lab->d_a, lab->d_v);
    }
    it->lab = lab, it->unl = r > 0 ? unl : NULL, it->r = r, it->B_l = B_l, it->N_l = lab->n;
    it->order = xmalloc(sizeof(int) * (size_t)(lab->n > 0 ? lab->n : 1));
    for (int i = 0; i < lab->n; i++) it->order[i] = i;
    it->pos = lab->n; // no epoch begun
    rng_seed(&it->rng, seed, RNG_STREAM_SHUFFLE);
    return 0;
}

void batch_iter_free(BatchIter *it) {
    free(it->order);
    memset(it, 0, sizeof(*it));
}

void batch_iter_epoch(BatchIter *it) {
    for (int i = 0; i < it->N_l; i++) it->order[i] = i;
    rng_shuffle(&it->rng, it->order, it->N_l);
    it->pos = 0;
    it->epoch++;
}

void batch_iter_epoch_from(BatchIter *it, const Rng *start, long skip) {
    it->rng = *start;
    batch_iter_epoch(it);
    long pos = skip * (long)it->B_l;
    it->pos = pos < 0 ? 0 : pos > it->N_l ? it->N_l : (int)pos;
}

int batch_iter_count(const BatchIter *it) { return (it->N_l + it->B_l - 1) / it->B_l; }

int batch_iter_next(BatchIter *it, Batch *b) {
    if (it->pos >= it->N_l) return 0;
    int bl = it->N_l - it->pos < it->B_l ? it->N_l - it->pos : it->B_l;
    if (b->cap_l < bl || b->cap < bl * (1 + it->r) || b->d_a != it->lab->d_a || b->d_v != it->lab->d_v) return -1;
    for (int j = 0; j < bl; j++) {
        int i = it->order[it->pos + j];
        batch_put(b, j, it->lab, i);
        b->labels[j] = it->lab->labels[i];
    }
    for (int k = 0; k < it->r; k++)
        for (int j = 0; j < bl; j++) batch_put(b, bl + k * bl + j, it->unl, it->order[it->pos + j] + k * it->N_l);
    b->B_l = bl;
    b->B = bl * (1 + it->r);
    it->pos += bl;
    return 1;
}

int batch_seq(Batch *b, const DataSplit *s, int start, int count) {
    if (start < 0) start = 0;
    if (count > b->cap) count = b->cap;
    if (count > s->n - start) count = s->n - start;
    if (count < 0) count = 0;
    if (s->labels && count > b->cap_l) count = b->cap_l;
    for (int j = 0; j < count; j++) {
        batch_put(b, j, s, start + j);
        if (s->labels) b->labels[j] = s->labels[start + j];
    }
    b->B = count;
    b->B_l = s->labels ? count : 0;
    return count;
}
