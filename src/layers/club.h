// club.h: the CLUB mutual-information estimator (Cheng et al. 2020) as used by MIRD (MIRD.md
// "Modules" 6). For I(x; y) with x [N, xd] the conditioning sample and y [N, yd]:
//   mu = p_mu(x)      = Linear(xd, hid) -> ReLU -> Linear(hid, yd)          (p_mu.0, p_mu.2)
//   lv = p_logvar(x)  = Linear(xd, hid) -> ReLU -> Linear(hid, yd) -> tanh  (p_logvar.0, p_logvar.2)
//   hid = club_hidden / 2.
//   estimate  I = mean_i sum_d [ -(mu_id - y_id)^2 / (2 e^lv_id) + mean_j (y_jd - mu_id)^2 / (2 e^lv_id) ]
//   training loss (the estimator's own objective, minimised by Adam on its parameters):
//             L = -mean_i sum_d [ -(mu_id - y_id)^2 / e^lv_id - lv_id ]
// Parameter names: PREFIX "p_mu.0.weight" [hid, xd], "p_mu.0.bias" [hid], "p_mu.2.weight" [yd, hid],
// "p_mu.2.bias" [yd], and the same for "p_logvar.". Backward functions ACCUMULATE (+=).
#pragma once
#include "core/params.h"
#include "core/rng.h"

typedef struct {
    float *mu0_w, *mu0_b, *mu2_w, *mu2_b; // p_mu.0 [hid,xd],[hid]; p_mu.2 [yd,hid],[yd]
    float *lv0_w, *lv0_b, *lv2_w, *lv2_b; // p_logvar.0, p_logvar.2
} ClubWeights;

typedef struct {
    int xd, yd, hid;
    char prefix[64];
    ClubWeights w, g; // data and grad pointers (after club_bind)
} Club;

// Activations for at most Nmax rows (allocated once by club_acts_init).
typedef struct {
    int Nmax;
    float *h_mu, *a_mu, *mu;     // [N,hid] pre-ReLU, [N,hid] post-ReLU, [N,yd]
    float *h_lv, *a_lv, *lv;     // [N,hid], [N,hid], [N,yd] (tanh output)
    float *d_mu, *d_lv;          // [N,yd] scratch: gradient w.r.t. mu, lv (lv: then w.r.t. the tanh input)
    float *d_a;                  // [N,hid] scratch
} ClubActs;

void club_register(Club *c, ParamSet *ps, const char *prefix, int xd, int yd, int hid);
void club_bind(Club *c, const ParamSet *ps);
void club_acts_init(ClubActs *a, const Club *c, int Nmax);
void club_acts_free(ClubActs *a);

// mu, lv of x [N,xd] into a->mu, a->lv.
void club_mlp_forward(const Club *c, ClubActs *a, const float *x, int N);
// Given a->d_mu, a->d_lv (gradients w.r.t. mu and lv), backpropagate through both MLPs:
// dx [N,xd] += ... (dx may be NULL); parameter gradients accumulate when param_grads != 0.
// Overwrites a->d_lv and a->d_a.
void club_mlp_backward(const Club *c, ClubActs *a, float *dx, const float *x, int N, int param_grads);

// The estimate I(x; y) (runs the MLP forward). Sums in double.
float club_estimate_forward(const Club *c, ClubActs *a, const float *x, const float *y, int N);
// scale * dI: dx [N,xd] and dy [N,yd] accumulate (either may be NULL); parameter gradients when
// param_grads != 0. Needs the activations of the last club_estimate_forward on the same x, y.
void club_estimate_backward(const Club *c, ClubActs *a, float *dx, float *dy, const float *x, const float *y,
                            int N, float scale, int param_grads);

// The estimator training loss L (runs the MLP forward).
float club_loss_forward(const Club *c, ClubActs *a, const float *x, const float *y, int N);
// scale * dL into the parameter gradients (x, y are treated as constants).
void club_loss_backward(const Club *c, ClubActs *a, const float *x, const float *y, int N, float scale);

// PyTorch's default Linear init for all eight tensors: U(-1/sqrt(in), 1/sqrt(in)) for weights
// (kaiming_uniform with a = sqrt(5)) and biases.
void club_init_default(Club *c, Rng *rng);
