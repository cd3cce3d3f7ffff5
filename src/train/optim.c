// optim.c: AdamW (transformers) and Adam (PyTorch), see optim.h. The arithmetic follows the
// PyTorch kernels in float: scalars computed in double by Python are rounded to float where
// PyTorch passes them to a float kernel.
#include "train/optim.h"

#include <math.h>
#ifdef _OPENMP
#include <omp.h>
#endif
#include <stdlib.h>
#include <string.h>

#include "core/common.h"

static void init_common(Optim *o, const ParamSet *ps, OptimKind kind, float b1, float b2, float eps, float wd) {
    memset(o, 0, sizeof(*o));
    o->kind = kind;
    o->beta1 = b1, o->beta2 = b2, o->eps = eps, o->weight_decay = wd;
    o->n = ps->n;
    o->total = ps->total;
    o->step = xcalloc((size_t)(ps->n > 0 ? ps->n : 1), sizeof(int64_t));
    o->decay = xcalloc((size_t)(ps->n > 0 ? ps->n : 1), 1);
    for (int i = 0; i < ps->n; i++) o->decay[i] = kind == OPTIM_ADAMW_HF && params_decays(ps->p[i].name);
    o->m = falloc(ps->total ? ps->total : 1);
    o->v = falloc(ps->total ? ps->total : 1);
}

void adamw_init(Optim *o, const ParamSet *ps, float beta1, float beta2, float eps, float weight_decay) {
    init_common(o, ps, OPTIM_ADAMW_HF, beta1, beta2, eps, weight_decay);
}

void adam_init(Optim *o, const ParamSet *ps, float beta1, float beta2, float eps) {
    init_common(o, ps, OPTIM_ADAM_TORCH, beta1, beta2, eps, 0.0f);
}

// The element-wise updates over [k0, k1) of one tensor.
static void adamw_kernel(float *p, const float *g, float *m, float *v,
                                                                    long k0, long k1, float fb1, float omb1,
                                                                    float fb2, float omb2, float eps, float step,
                                                                    float decay) {
#pragma omp simd
    for (long k = k0; k < k1; k++) {
        float mk = m[k] * fb1 + g[k] * omb1;
        float vk = v[k] * fb2 + omb2 * g[k] * g[k];
        m[k] = mk, v[k] = vk;
        float denom = sqrtf(vk) + eps;
        float pk = p[k] + step * (mk / denom);
        p[k] = pk + decay * pk; // decay 0: unchanged (finite parameters)
    }
}

static void adam_kernel(float *p, const float *g, float *m, float *v,
                                                                   long k0, long k1, float fb1, float omb1,
                                                                   float fb2, float omb2, float eps, float step,
                                                                   float bc2s) {
#pragma omp simd
    for (long k = k0; k < k1; k++) {
        float mk = m[k] * fb1 + g[k] * omb1;
        float vk = v[k] * fb2 + omb2 * g[k] * g[k];
        m[k] = mk, v[k] = vk;
        float denom = sqrtf(vk) / bc2s + eps;
        p[k] = p[k] + step * (mk / denom);
    }
}

// One parallel region for the whole update (not one per tensor): each thread takes a contiguous
// share of every large tensor, no barrier between tensors; small tensors go whole to one thread.
void optim_step(Optim *o, ParamSet *ps, float lr, const uint8_t *active) {
    const double b1 = o->beta1, b2 = o->beta2;
    const float omb1 = (float)(1.0 - b1), omb2 = (float)(1.0 - b2); // alpha / value scalars
    const float fb1 = o->beta1, fb2 = o->beta2, eps = o->eps;
    for (int i = 0; i < ps->n; i++)
        if (!active || active[i]) ++o->step[i];
    long big = 0;
    for (int i = 0; i < ps->n; i++)
        if (!active || active[i]) big += (long)ps->p[i].numel;
#pragma omp parallel if (big > 262144)
    {
        int t = 0, nt = 1;
#ifdef _OPENMP
        t = omp_get_thread_num(), nt = omp_get_num_threads();
#endif
        for (int i = 0; i < ps->n; i++) {
            if (active && !active[i]) continue;
            const ParamInfo *pi = &ps->p[i];
            float *p = ps->data + pi->offset, *g = ps->grad + pi->offset;
            float *m = o->m + pi->offset, *v = o->v + pi->offset;
            long n = (long)pi->numel, k0, k1;
            if (n > 65536) { // every thread a contiguous share
                k0 = n * t / nt, k1 = n * (t + 1) / nt;
            } else { // whole, round-robin over the threads
                if (i % nt != t) continue;
                k0 = 0, k1 = n;
            }
            int64_t st = o->step[i];
            double bc1 = 1.0 - pow(b1, (double)st), bc2 = 1.0 - pow(b2, (double)st);
            if (o->kind == OPTIM_ADAMW_HF) {
                const float step = (float)-((double)lr * sqrt(bc2) / bc1);
                const float decay =
                    o->decay[i] && o->weight_decay > 0 ? (float)(-(double)lr * o->weight_decay) : 0.0f;
                adamw_kernel(p, g, m, v, k0, k1, fb1, omb1, fb2, omb2, eps, step, decay);
            } else {
                const float step = (float)-((double)lr / bc1);
                const float bc2s = (float)sqrt(bc2);
                adam_kernel(p, g, m, v, k0, k1, fb1, omb1, fb2, omb2, eps, step, bc2s);
            }
        }
    }
}

void optim_reset(Optim *o) {
    memset(o->step, 0, (size_t)(o->n > 0 ? o->n : 1) * sizeof(int64_t));
    memset(o->m, 0, o->total * sizeof(float));
    memset(o->v, 0, o->total * sizeof(float));
}

void optim_free(Optim *o) {
    free(o->step), free(o->decay), free(o->m), free(o->v);
    memset(o, 0, sizeof(*o));
}
