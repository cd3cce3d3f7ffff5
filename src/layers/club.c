// club.c: the CLUB estimator (see club.h). The estimate and loss reductions run in double;
// the MLPs use the linear / relu / tanh kernels of layers.h.
#include "layers/club.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/common.h"
#include "layers/layers.h"

static const char *NAMES[8] = {"p_mu.0.weight",     "p_mu.0.bias",     "p_mu.2.weight",     "p_mu.2.bias",
                               "p_logvar.0.weight", "p_logvar.0.bias", "p_logvar.2.weight", "p_logvar.2.bias"};

void club_register(Club *c, ParamSet *ps, const char *prefix, int xd, int yd, int hid) {
    memset(c, 0, sizeof(*c));
    c->xd = xd, c->yd = yd, c->hid = hid;
    snprintf(c->prefix, sizeof(c->prefix), "%s", prefix);
    char name[PARAM_NAME_MAX];
    for (int k = 0; k < 2; k++) {
        snprintf(name, sizeof(name), "%s%s", prefix, NAMES[4 * k + 0]);
        params_add2(ps, name, hid, xd);
        snprintf(name, sizeof(name), "%s%s", prefix, NAMES[4 * k + 1]);
        params_add1(ps, name, hid);
        snprintf(name, sizeof(name), "%s%s", prefix, NAMES[4 * k + 2]);
        params_add2(ps, name, yd, hid);
        snprintf(name, sizeof(name), "%s%s", prefix, NAMES[4 * k + 3]);
        params_add1(ps, name, yd);
    }
}

void club_bind(Club *c, const ParamSet *ps) {
    float **w[8] = {&c->w.mu0_w, &c->w.mu0_b, &c->w.mu2_w, &c->w.mu2_b,
                    &c->w.lv0_w, &c->w.lv0_b, &c->w.lv2_w, &c->w.lv2_b};
    float **g[8] = {&c->g.mu0_w, &c->g.mu0_b, &c->g.mu2_w, &c->g.mu2_b,
                    &c->g.lv0_w, &c->g.lv0_b, &c->g.lv2_w, &c->g.lv2_b};
    char name[PARAM_NAME_MAX];
    for (int i = 0; i < 8; i++) {
        snprintf(name, sizeof(name), "%s%s", c->prefix, NAMES[i]);
        *w[i] = params_data(ps, name);
        *g[i] = params_grad(ps, name);
    }
}

void club_acts_init(ClubActs *a, const Club *c, int Nmax) {
    memset(a, 0, sizeof(*a));
    a->Nmax = Nmax;
    size_t h = (size_t)Nmax * c->hid, y = (size_t)Nmax * c->yd;
    a->h_mu = falloc(h), a->a_mu = falloc(h), a->h_lv = falloc(h), a->a_lv = falloc(h), a->d_a = falloc(h);
    a->mu = falloc(y), a->lv = falloc(y), a->d_mu = falloc(y), a->d_lv = falloc(y);
}

void club_acts_free(ClubActs *a) {
    float *p[9] = {a->h_mu, a->a_mu, a->h_lv, a->a_lv, a->d_a, a->mu, a->lv, a->d_mu, a->d_lv};
    for (int i = 0; i < 9; i++) free(p[i]);
    memset(a, 0, sizeof(*a));
}

void club_mlp_forward(const Club *c, ClubActs *a, const float *x, int N) {
    int H = c->hid, Y = c->yd, X = c->xd;
    linear_forward(a->h_mu, x, c->w.mu0_w, c->w.mu0_b, N, X, H);
    relu_forward(a->a_mu, a->h_mu, (long)N * H);
    linear_forward(a->mu, a->a_mu, c->w.mu2_w, c->w.mu2_b, N, H, Y);
    linear_forward(a->h_lv, x, c->w.lv0_w, c->w.lv0_b, N, X, H);
    relu_forward(a->a_lv, a->h_lv, (long)N * H);
    linear_forward(a->lv, a->a_lv, c->w.lv2_w, c->w.lv2_b, N, H, Y);
    tanh_forward(a->lv, a->lv, (long)N * Y);
}

void club_mlp_backward(const Club *c, ClubActs *a, float *dx, const float *x, int N, int param_grads) {
    int H = c->hid, Y = c->yd, X = c->xd;
    long nh = (long)N * H, ny = (long)N * Y;
    const ClubWeights *g = &c->g;
    // p_mu: mu = W2 relu(W1 x + b1) + b2
    memset(a->d_a, 0, nh * sizeof(float));
    linear_backward(a->d_a, param_grads ? g->mu2_w : NULL, param_grads ? g->mu2_b : NULL, a->d_mu, a->a_mu,
                    c->w.mu2_w, N, H, Y);
    // relu backward in place: d_h = d_a * (a_mu > 0)
    for (long i = 0; i < nh; i++)
        if (!(a->a_mu[i] > 0)) a->d_a[i] = 0;
    linear_backward(dx, param_grads ? g->mu0_w : NULL, param_grads ? g->mu0_b : NULL, a->d_a, x, c->w.mu0_w, N, X,
                    H);
    // p_logvar: lv = tanh(W2 relu(W1 x + b1) + b2); d_lv becomes the gradient of the tanh input
    for (long i = 0; i < ny; i++) a->d_lv[i] *= 1.0f - a->lv[i] * a->lv[i];
    memset(a->d_a, 0, nh * sizeof(float));
    linear_backward(a->d_a, param_grads ? g->lv2_w : NULL, param_grads ? g->lv2_b : NULL, a->d_lv, a->a_lv,
                    c->w.lv2_w, N, H, Y);
    for (long i = 0; i < nh; i++)
        if (!(a->a_lv[i] > 0)) a->d_a[i] = 0;
    linear_backward(dx, param_grads ? g->lv0_w : NULL, param_grads ? g->lv0_b : NULL, a->d_a, x, c->w.lv0_w, N, X,
                    H);
}

float club_estimate_forward(const Club *c, ClubActs *a, const float *x, const float *y, int N) {
    club_mlp_forward(c, a, x, N);
    int Y = c->yd;
    double total = 0;
    for (int i = 0; i < N; i++) {
        double row = 0;
        for (int d = 0; d < Y; d++) {
            double mu = a->mu[(size_t)i * Y + d], inv = exp(-(double)a->lv[(size_t)i * Y + d]);
            double e = mu - y[(size_t)i * Y + d];
            double q = 0;
            for (int j = 0; j < N; j++) {
                double t = y[(size_t)j * Y + d] - mu;
                q += t * t;
            }
            q /= N;
            row += -e * e * inv * 0.5 + q * inv * 0.5;
        }
        total += row;
    }
    return (float)(total / N);
}

void club_estimate_backward(const Club *c, ClubActs *a, float *dx, float *dy, const float *x, const float *y,
                            int N, float scale, int param_grads) {
    int Y = c->yd;
    double invN = 1.0 / N;
    for (int d = 0; d < Y; d++) {
        double ybar = 0, sinv = 0, sinvmu = 0;
        for (int j = 0; j < N; j++) ybar += y[(size_t)j * Y + d];
        ybar *= invN;
        for (int i = 0; i < N; i++) {
            size_t k = (size_t)i * Y + d;
            double mu = a->mu[k], inv = exp(-(double)a->lv[k]), yy = y[k];
            double q = 0;
            for (int j = 0; j < N; j++) {
                double t = y[(size_t)j * Y + d] - mu;
                q += t * t;
            }
            q *= invN;
            a->d_mu[k] = (float)(scale * invN * inv * (yy - ybar));
            a->d_lv[k] = (float)(scale * invN * 0.5 * inv * ((mu - yy) * (mu - yy) - q));
            sinv += inv, sinvmu += inv * mu;
        }
        if (dy)
            for (int k2 = 0; k2 < N; k2++) {
                size_t k = (size_t)k2 * Y + d;
                double mu = a->mu[k], inv = exp(-(double)a->lv[k]), yy = y[k];
                dy[k] += (float)(scale * (invN * (mu - yy) * inv + invN * invN * (yy * sinv - sinvmu)));
            }
    }
    club_mlp_backward(c, a, dx, x, N, param_grads);
}

float club_loss_forward(const Club *c, ClubActs *a, const float *x, const float *y, int N) {
    club_mlp_forward(c, a, x, N);
    long n = (long)N * c->yd;
    double s = 0;
    for (long k = 0; k < n; k++) {
        double e = a->mu[k] - y[k];
        s += e * e * exp(-(double)a->lv[k]) + a->lv[k];
    }
    return (float)(s / N);
}

void club_loss_backward(const Club *c, ClubActs *a, const float *x, const float *y, int N, float scale) {
    long n = (long)N * c->yd;
    double invN = 1.0 / N;
    for (long k = 0; k < n; k++) {
        double e = a->mu[k] - y[k], inv = exp(-(double)a->lv[k]);
        a->d_mu[k] = (float)(scale * 2.0 * invN * e * inv);
        a->d_lv[k] = (float)(scale * invN * (1.0 - e * e * inv));
    }
    club_mlp_backward(c, a, NULL, x, N, 1);
}

static void uniform_fill(float *p, long n, float bound, Rng *rng) {
    for (long i = 0; i < n; i++) p[i] = (2.0f * rng_uniform(rng) - 1.0f) * bound;
}

void club_init_default(Club *c, Rng *rng) {
    float bx = 1.0f / sqrtf((float)c->xd), bh = 1.0f / sqrtf((float)c->hid);
    long hx = (long)c->hid * c->xd, yh = (long)c->yd * c->hid;
    uniform_fill(c->w.mu0_w, hx, bx, rng), uniform_fill(c->w.mu0_b, c->hid, bx, rng);
    uniform_fill(c->w.mu2_w, yh, bh, rng), uniform_fill(c->w.mu2_b, c->yd, bh, rng);
    uniform_fill(c->w.lv0_w, hx, bx, rng), uniform_fill(c->w.lv0_b, c->hid, bx, rng);
    uniform_fill(c->w.lv2_w, yh, bh, rng), uniform_fill(c->w.lv2_b, c->yd, bh, rng);
}
