// mird_dist.c: the model's side of data-parallel training (docs/distributed.md, mird.h
// mird_set_comm): the loss sums, the latents the CLUB estimators see, and the gradient sums go
// through core/comm.h. Serially every function leaves the single-process arithmetic untouched.
#include <stdlib.h>
#include <string.h>

#include "core/common.h"
#include "core/timer.h"
#include "models/mird_internal.h"

static int zsz(const MirdConfig *c, int w) { // 0 zl 1 za 2 zv 3 zy
    return w == 0 ? c->zl_size : w == 1 ? c->za_size : w == 2 ? c->zv_size : c->zy_size;
}
static const float *latent(const Mird *m, int w) { return w == 0 ? m->zl : w == 1 ? m->za : w == 2 ? m->zv : m->zy; }

void mird_set_comm(Mird *m, const Comm *c, int Bmax_global) {
    MirdInternal *in = m->in;
    m->comm = c;
    in->dist = c && c->size > 1;
    if (!in->dist) return;
    int cap = Bmax_global > m->Bmax ? Bmax_global : m->Bmax, zall = 0;
    in->Bcap = cap;
    in->counts = xcalloc((size_t)c->size * 2, sizeof(int));
    // the CLUB estimators and the standardisation run on the gathered batch: sized for all ranks
    for (int k = 0; k < 6; k++) {
        club_acts_free(&in->cacts[k]);
        club_acts_init(&in->cacts[k], &in->club[k], cap);
    }
    for (int w = 0; w < 4; w++) {
        int z = zsz(&m->cfg, w);
        zall += z;
        free(in->zst[w]), free(in->dzst[w]);
        in->zst[w] = falloc((size_t)cap * z), in->dzst[w] = falloc((size_t)cap * z);
        in->zg[w] = falloc((size_t)cap * z), in->dzg[w] = falloc((size_t)cap * z);
    }
    in->zpack = falloc((size_t)m->Bmax * zall), in->zgpack = falloc((size_t)cap * zall);
    // measured on one node (docs/distributed.md): Open MPI progresses non-blocking collectives only
    // inside MPI calls, so overlap hid little and its non-blocking allreduce was slower; its blocking
    // one moves large buffers slowly through shared-memory fragments, which the reduce-scatter +
    // allgather of comm_allreduce_f32_rsag avoids
    const char *e = getenv("MIRD_ALLREDUCE");
    in->ar_mode = e && !strcmp(e, "mpi") ? 1 : e && !strcmp(e, "overlap") ? 2 : 0;
}

// Every rank's rows and labeled rows (one allgather of 2 ints per rank); this rank's first row in
// rank order.
static void layout(Mird *m, const MirdBatch *b) {
    MirdInternal *in = m->in;
    int mine[2] = {b->B, b->B_l};
    comm_allgather_int(m->comm, mine, 2, in->counts);
    in->Bg = in->Blg = in->row0 = 0;
    for (int r = 0; r < m->comm->size; r++) {
        if (r == m->comm->rank) in->row0 = in->Bg;
        in->Bg += in->counts[2 * r], in->Blg += in->counts[2 * r + 1];
    }
}

void mird_dist_reduce_losses(Mird *m, const MirdBatch *b, double S[4]) {
    MirdInternal *in = m->in;
    if (!in->dist) {
        in->Bg = b->B, in->Blg = b->B_l;
        return;
    }
    TIMER_BEGIN(t);
    layout(m, b);
    comm_allreduce_f64(m->comm, S, 4);
    TIMER_END(t, "comm.loss_sums");
}

void mird_dist_gather_latents(Mird *m, const MirdBatch *b) {
    MirdInternal *in = m->in;
    if (!in->dist) {
        in->Bc = b->B, in->row0 = 0;
        return;
    }
    TIMER_BEGIN(t);
    layout(m, b);
    in->Bc = in->Bg;
    int zall = 0, ranks = m->comm->size;
    for (int w = 0; w < 4; w++) zall += zsz(&m->cfg, w);
    for (int i = 0; i < b->B; i++) // rows of [zl za zv zy]
        for (int w = 0, o = 0; w < 4; o += zsz(&m->cfg, w), w++)
            memcpy(in->zpack + (size_t)i * zall + o, latent(m, w) + (size_t)i * zsz(&m->cfg, w),
                   sizeof(float) * (size_t)zsz(&m->cfg, w));
    int *rows = xmalloc(sizeof(int) * (size_t)ranks);
    for (int r = 0; r < ranks; r++) rows[r] = in->counts[2 * r];
    comm_allgatherv_rows(m->comm, in->zpack, rows, zall, in->zgpack);
    free(rows);
    for (int i = 0; i < in->Bc; i++)
        for (int w = 0, o = 0; w < 4; o += zsz(&m->cfg, w), w++)
            memcpy(in->zg[w] + (size_t)i * zsz(&m->cfg, w), in->zgpack + (size_t)i * zall + o,
                   sizeof(float) * (size_t)zsz(&m->cfg, w));
    TIMER_END(t, "comm.gather_latents");
}

const float *mird_club_src(const Mird *m, int which) { return m->in->dist ? m->in->zg[which] : latent(m, which); }

void mird_dist_take_grads(Mird *m, float *const dZ[4], int B) {
    MirdInternal *in = m->in;
    if (!in->dist) return;
    for (int w = 0; w < 4; w++) {
        int z = zsz(&m->cfg, w);
        const float *src = in->dzg[w] + (size_t)in->row0 * z;
        for (long i = 0; i < (long)B * z; i++) dZ[w][i] += src[i];
    }
}

// The contiguous gradient slice of parameter group g (index range grp[g] of m->params).
static void group_slice(const Mird *m, int g, float **p, size_t *n) {
    const ParamSet *ps = &m->params;
    int a = m->in->grp[g][0], e = m->in->grp[g][1];
    if (a >= e) {
        *p = NULL, *n = 0;
        return;
    }
    *p = ps->grad + ps->p[a].offset;
    *n = ps->p[e - 1].offset + ps->p[e - 1].numel - ps->p[a].offset;
}

void mird_dist_grad_ready(Mird *m, int g) {
    MirdInternal *in = m->in;
    if (!in->dist) return;
    if (in->ar_mode != 2) {
        in->ready[g] = 1;
        return;
    }
    TIMER_BEGIN(t);
    comm_progress(in->req, G_N); // earlier groups' transfers move on
    float *p;
    size_t n;
    group_slice(m, g, &p, &n);
    if (n && !in->req[g].h) comm_iallreduce_f32(m->comm, p, n, &in->req[g]);
    TIMER_END(t, "comm.allreduce");
}

void mird_dist_grad_wait(Mird *m) {
    MirdInternal *in = m->in;
    if (!in->dist) return;
    TIMER_BEGIN(t);
    comm_wait(in->req, G_N);
    // the noted groups in memory order (the same on every rank), adjacent ones in one call: the
    // alignment padding between them is zero everywhere
    for (int g = 0; g < G_N;) {
        if (!in->ready[g]) {
            g++;
            continue;
        }
        int e = g;
        while (e + 1 < G_N && in->ready[e + 1]) e++;
        float *p, *q;
        size_t n, k;
        group_slice(m, g, &p, &n), group_slice(m, e, &q, &k);
        size_t len = (size_t)(q + k - p);
        if (in->ar_mode == 1) comm_allreduce_f32(m->comm, p, len);
        else comm_allreduce_f32_rsag(m->comm, p, len);
        for (int j = g; j <= e; j++) in->ready[j] = 0;
        g = e + 1;
    }
    TIMER_END(t, "comm.allreduce");
}
