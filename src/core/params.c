// params.c: see params.h.
#include "params.h"

#include <stdio.h>
#include <stdlib.h>
#include <omp.h>
#include <string.h>

#include "common.h"

void params_init(ParamSet *ps) { memset(ps, 0, sizeof(*ps)); }

int params_add(ParamSet *ps, const char *name, int ndim, const int64_t *shape) {
    if (ps->data || ndim < 1 || ndim > PARAM_MAX_DIMS || strlen(name) >= PARAM_NAME_MAX || params_find(ps, name) >= 0) {
        fprintf(stderr, "mird: internal error registering parameter %s\n", name);
        abort();
    }
    if (ps->n == ps->cap) {
        ps->cap = ps->cap ? 2 * ps->cap : 64;
        ps->p = xrealloc(ps->p, (size_t)ps->cap * sizeof(ParamInfo));
    }
    ParamInfo *pi = &ps->p[ps->n];
    memset(pi, 0, sizeof(*pi));
    strcpy(pi->name, name);
    pi->ndim = ndim;
    pi->numel = 1;
    for (int d = 0; d < ndim; d++) {
        pi->shape[d] = shape[d];
        pi->numel *= (size_t)shape[d];
    }
    pi->offset = ps->total;
    ps->total += (pi->numel + 15) & ~(size_t)15;
    return ps->n++;
}

int params_add1(ParamSet *ps, const char *name, int64_t d0) { return params_add(ps, name, 1, &d0); }

int params_add2(ParamSet *ps, const char *name, int64_t d0, int64_t d1) {
    int64_t s[2] = {d0, d1};
    return params_add(ps, name, 2, s);
}

void params_alloc(ParamSet *ps) {
    if (ps->data) return;
    ps->data = falloc(ps->total);
    ps->grad = falloc(ps->total);
}

int params_find(const ParamSet *ps, const char *name) {
    for (int i = 0; i < ps->n; i++)
        if (!strcmp(ps->p[i].name, name)) return i;
    return -1;
}

static const ParamInfo *must_find(const ParamSet *ps, const char *name) {
    int i = params_find(ps, name);
    if (i < 0 || !ps->data) {
        fprintf(stderr, "mird: internal error: parameter %s %s\n", name, i < 0 ? "not registered" : "not allocated");
        abort();
    }
    return &ps->p[i];
}

float *params_data(const ParamSet *ps, const char *name) { return ps->data + must_find(ps, name)->offset; }
float *params_grad(const ParamSet *ps, const char *name) { return ps->grad + must_find(ps, name)->offset; }

// Each thread clears a contiguous share (one core's stores do not saturate the memory bus: 226 M
// gradients at paper size).
void params_zero_grad(ParamSet *ps) {
    if (!ps->grad) return;
    size_t n = ps->total;
#pragma omp parallel if (n > (1u << 20))
    {
        int t = omp_get_thread_num(), nt = omp_get_num_threads();
        size_t a = n * t / nt, b = n * (t + 1) / nt;
        memset(ps->grad + a, 0, (b - a) * sizeof(float));
    }
}

void params_free(ParamSet *ps) {
    free(ps->p);
    free(ps->data);
    free(ps->grad);
    memset(ps, 0, sizeof(*ps));
}

int params_decays(const char *name) {
    return !(strstr(name, "bias") || strstr(name, "LayerNorm.weight") || strstr(name, "LayerNorm.bias"));
}
