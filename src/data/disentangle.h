// disentangle.h: how well learned latents separate the planted factors of the synthetic benchmark.
//
// Given the four latents of N clips (z_S = `zy`, z_L = `zl`, z_A = `za`, z_V = `zv`, each [N, k_g])
// and the true factor groups (S, L, A, V, each [N, 2]; data/synth.h), fit a ridge regression
// (closed form, double precision) from every latent to every factor group and report the
// cross-validated R^2: a 4 x 4 matrix r2[latent][group]. Folds: row i is held out in fold i % folds;
// latents are standardised and targets centred with the training rows' statistics; the ridge
// penalty is lambda * n_train on the standardised weights (intercept free). R^2 is pooled over the
// group's factors: 1 - sum (y - yhat)^2 / sum (y - mean_train(y))^2 over all held-out predictions,
// so 0 means "no better than the mean", 1 perfect, and noise gives slightly negative values.
// Summaries (entries clipped to [0, 1] first):
//   informativeness    = mean of the diagonal (z_S -> S, z_L -> L, z_A -> A, z_V -> V): high is good
//   shared_leakage     = mean of r2[z_L|z_A|z_V][S]: shared factors found in specific latents (low is good)
//   cross_leakage      = mean of r2[z_m][m'], m != m' both specific: one modality's factors in
//                        another's latent (low is good)
//   specific_in_shared = mean of r2[z_S][L|A|V]: specific factors in the shared latent (low is good)
//   disentanglement    = informativeness - mean(shared_leakage, cross_leakage, specific_in_shared)
// Between the latents themselves (no factors involved): dep[x][y] = out-of-fold R^2 of the same ridge
// from latent x to latent y, each dimension of y standardised first (constant dimensions dropped), so
// a latent's scale does not matter; the diagonal is not computed (0).
//   latent_dependence  = mean of clipped dep over MIRD's six CLUB pairs in their direction
//                        (zl->za, zl->zv, za->zv, zy->zl, zy->za, zy->zv): what the MI term should lower
// A linear probe: information encoded nonlinearly is under-counted.
#pragma once
#include "core/common.h"
#include "data/synth.h"

#define DIS_NLAT 4
extern const char *const DIS_LATENT_NAMES[DIS_NLAT]; // "zy", "zl", "za", "zv"

typedef struct {
    double r2[DIS_NLAT][SYN_NGROUPS];
    double informativeness, shared_leakage, cross_leakage, specific_in_shared, disentanglement;
    double dep[DIS_NLAT][DIS_NLAT];
    double latent_dependence;
    int n, folds;
    double lambda;
} DisentResult;

// lat[g]: [n, lat_dim[g]] row-major; fac: [n, SYN_NFACT] (group g = columns 2g, 2g + 1).
// n >= 2 * folds, folds >= 2, lambda > 0, lat_dim[g] in [1, 4096]. 0 ok, -1 with err.
int disent_measure(int n, const float *const lat[DIS_NLAT], const int lat_dim[DIS_NLAT], const float *fac,
                   double lambda, int folds, DisentResult *out, char *err);

// The true factors [n, SYN_NFACT] of one split ("train", "valid", "test", "unlabeled") from a
// `mird synth` output: `path` is its directory or its factors.safetensors. Caller frees *fac.
int disent_load_factors(const char *path, const char *split, float **fac, int *n, char *err);
