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

// [p m / n, (p + 1) m / n): part p of a balanced contiguous split of m items into n parts
static void share(int m, int p, int n, int *a, int *e) {
    *a = (int)((long)p * m / n), *e = (int)((long)(p + 1) * m / n);
}

int batch_part_rows(int B, int B_l, int p, int n, int *rows, int *labeled) {
    int cnt = 0, a, e;
    share(B_l, p, n, &a, &e);
    for (int j = a; j < e; j++, cnt++)
        if (rows) rows[cnt] = j;
    if (labeled) *labeled = e - a;
    if (B_l > 0 && (B - B_l) % B_l == 0) { // partners k of the part's labeled rows
        for (int k = 0; k < (B - B_l) / B_l; k++)
            for (int j = a; j < e; j++, cnt++)
                if (rows) rows[cnt] = B_l + k * B_l + j;
    } else {
        share(B - B_l, p, n, &a, &e);
        for (int j = a; j < e; j++, cnt++)
            if (rows) rows[cnt] = B_l + j;
    }
    return cnt;
}

int batch_iter_next(BatchIter *it, Batch *b) { return batch_iter_next_part(it, b, 0, 1); }

int batch_iter_next_part(BatchIter *it, Batch *b, int p, int n) {
    if (it->pos >= it->N_l) return 0;
    int bl = it->N_l - it->pos < it->B_l ? it->N_l - it->pos : it->B_l, B = bl * (1 + it->r), nl;
    int *rows = xmalloc(sizeof(int) * (size_t)B), cnt = batch_part_rows(B, bl, p, n, rows, &nl);
    if (b->cap_l < nl || b->cap < cnt || b->d_a != it->lab->d_a || b->d_v != it->lab->d_v) {
        free(rows);
        return -1;
    }
    for (int q = 0; q < cnt; q++) {
        int g = rows[q], j = g < bl ? g : (g - bl) % bl, k = g < bl ? -1 : (g - bl) / bl;
        int i = it->order[it->pos + j];
        if (k < 0) {
            batch_put(b, q, it->lab, i);
            b->labels[q] = it->lab->labels[i];
        } else {
            batch_put(b, q, it->unl, i + k * it->N_l);
        }
    }
    free(rows);
    b->B_l = nl;
    b->B = cnt;
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
