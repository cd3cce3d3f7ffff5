// optim.c: AdamW (transformers) and Adam (PyTorch), see optim.h. The arithmetic follows the
// PyTorch kernels in float: scalars computed in double by Python are rounded to float where
// PyTorch passes them to a float kernel.
#include "train/optim.h"

#include <math.h>
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

void optim_step(Optim *o, ParamSet *ps, float lr, const uint8_t *active) {
    const double b1 = o->beta1, b2 = o->beta2;
    const float omb1 = (float)(1.0 - b1), omb2 = (float)(1.0 - b2); // alpha / value scalars
    const float fb1 = o->beta1, fb2 = o->beta2, eps = o->eps;
    for (int i = 0; i < ps->n; i++) {
        if (active && !active[i]) continue;
        const ParamInfo *pi = &ps->p[i];
        float *p = ps->data + pi->offset, *g = ps->grad + pi->offset;
        float *m = o->m + pi->offset, *v = o->v + pi->offset;
        long n = (long)pi->numel;
        int64_t t = ++o->step[i];
        double bc1 = 1.0 - pow(b1, (double)t), bc2 = 1.0 - pow(b2, (double)t);
        if (o->kind == OPTIM_ADAMW_HF) {
            const float step = (float)-((double)lr * sqrt(bc2) / bc1);
            const float decay = o->decay[i] && o->weight_decay > 0 ? (float)(-(double)lr * o->weight_decay) : 0.0f;
#pragma omp parallel for if (n > 65536)
            for (long k = 0; k < n; k++) {
                float mk = m[k] * fb1 + g[k] * omb1;
                float vk = v[k] * fb2 + omb2 * g[k] * g[k];
                m[k] = mk, v[k] = vk;
                float denom = sqrtf(vk) + eps;
                float pk = p[k] + step * (mk / denom);
                if (decay != 0.0f) pk = pk + decay * pk;
                p[k] = pk;
            }
        } else {
            const float step = (float)-((double)lr / bc1);
            const float bc2s = (float)sqrt(bc2);
#pragma omp parallel for if (n > 65536)
            for (long k = 0; k < n; k++) {
                float mk = m[k] * fb1 + g[k] * omb1;
                float vk = v[k] * fb2 + omb2 * g[k] * g[k];
                m[k] = mk, v[k] = vk;
                float denom = sqrtf(vk) / bc2s + eps;
                p[k] = p[k] + step * (mk / denom);
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
