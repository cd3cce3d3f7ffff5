// disentangle.c: cross-validated ridge probes from latents to planted factors (see disentangle.h).
#include "data/disentangle.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "io/safetensors.h"

const char *const DIS_LATENT_NAMES[DIS_NLAT] = {"zy", "zl", "za", "zv"};

// In-place Cholesky of the SPD matrix A [k, k] (lower triangle), then solve A X = B for B [k, m].
static int chol_solve(double *A, int k, double *B, int m) {
    for (int j = 0; j < k; j++) {
        double d = A[(size_t)j * k + j];
        for (int p = 0; p < j; p++) d -= A[(size_t)j * k + p] * A[(size_t)j * k + p];
        if (!(d > 0)) return -1;
        d = sqrt(d);
        A[(size_t)j * k + j] = d;
        for (int i = j + 1; i < k; i++) {
            double s = A[(size_t)i * k + j];
            for (int p = 0; p < j; p++) s -= A[(size_t)i * k + p] * A[(size_t)j * k + p];
            A[(size_t)i * k + j] = s / d;
        }
    }
    for (int c = 0; c < m; c++) {
        for (int i = 0; i < k; i++) { // L y = b
            double s = B[(size_t)i * m + c];
            for (int p = 0; p < i; p++) s -= A[(size_t)i * k + p] * B[(size_t)p * m + c];
            B[(size_t)i * m + c] = s / A[(size_t)i * k + i];
        }
        for (int i = k - 1; i >= 0; i--) { // L^T x = y
            double s = B[(size_t)i * m + c];
            for (int p = i + 1; p < k; p++) s -= A[(size_t)p * k + i] * B[(size_t)p * m + c];
            B[(size_t)i * m + c] = s / A[(size_t)i * k + i];
        }
    }
    return 0;
}

// Out-of-fold R^2 of ridge from x [n, k] to y [n, m] (pooled over the m targets).
static int ridge_cv_r2(int n, const float *x, int k, const float *y, int ystride, int m, double lambda, int folds,
                       double *r2) {
    double *mu = xmalloc(sizeof(double) * k), *sd = xmalloc(sizeof(double) * k), *ym = xmalloc(sizeof(double) * m);
    double *A = xmalloc(sizeof(double) * (size_t)k * k), *B = xmalloc(sizeof(double) * (size_t)k * m);
    double *z = xmalloc(sizeof(double) * k);
    double sse = 0, sst = 0;
    int rc = 0;
    for (int f = 0; f < folds && !rc; f++) {
        int ntr = 0;
        memset(mu, 0, sizeof(double) * k), memset(sd, 0, sizeof(double) * k), memset(ym, 0, sizeof(double) * m);
        for (int i = 0; i < n; i++) {
            if (i % folds == f) continue;
            ntr++;
            for (int j = 0; j < k; j++) mu[j] += x[(size_t)i * k + j];
            for (int c = 0; c < m; c++) ym[c] += y[(size_t)i * ystride + c];
        }
        for (int j = 0; j < k; j++) mu[j] /= ntr;
        for (int c = 0; c < m; c++) ym[c] /= ntr;
        for (int i = 0; i < n; i++) {
            if (i % folds == f) continue;
            for (int j = 0; j < k; j++) {
                double d = x[(size_t)i * k + j] - mu[j];
                sd[j] += d * d;
            }
        }
        for (int j = 0; j < k; j++) {
            sd[j] = sqrt(sd[j] / ntr);
            sd[j] = sd[j] > 1e-12 ? 1.0 / sd[j] : 0.0; // constant column: contributes nothing
        }
        memset(A, 0, sizeof(double) * (size_t)k * k), memset(B, 0, sizeof(double) * (size_t)k * m);
        for (int i = 0; i < n; i++) {
            if (i % folds == f) continue;
            for (int j = 0; j < k; j++) z[j] = (x[(size_t)i * k + j] - mu[j]) * sd[j];
            for (int a = 0; a < k; a++) {
                if (z[a] == 0) continue;
                for (int b = 0; b <= a; b++) A[(size_t)a * k + b] += z[a] * z[b];
                for (int c = 0; c < m; c++) B[(size_t)a * m + c] += z[a] * (y[(size_t)i * ystride + c] - ym[c]);
            }
        }
        for (int j = 0; j < k; j++) A[(size_t)j * k + j] += lambda * ntr;
        if (chol_solve(A, k, B, m)) {
            rc = -1;
            break;
        }
        for (int i = f; i < n; i += folds) {
            for (int j = 0; j < k; j++) z[j] = (x[(size_t)i * k + j] - mu[j]) * sd[j];
            for (int c = 0; c < m; c++) {
                double p = ym[c];
                for (int j = 0; j < k; j++) p += z[j] * B[(size_t)j * m + c];
                double t = y[(size_t)i * ystride + c];
                sse += (t - p) * (t - p), sst += (t - ym[c]) * (t - ym[c]);
            }
        }
    }
    *r2 = sst > 0 ? 1.0 - sse / sst : 0.0;
    free(mu), free(sd), free(ym), free(A), free(B), free(z);
    return rc;
}

static double clip01(double x) { return x < 0 ? 0 : x > 1 ? 1 : x; }

// Out-of-fold R^2 from x [n, kx] to y [n, ky] with every non-constant column of y standardised over
// the n rows (constant columns dropped; none left: R^2 = 0).
static int dep_r2(int n, const float *x, int kx, const float *y, int ky, double lambda, int folds, double *r2) {
    float *t = xmalloc(sizeof(float) * ((size_t)n * ky + 1));
    int m = 0;
    for (int c = 0; c < ky; c++) {
        double mu = 0, v = 0;
        for (int i = 0; i < n; i++) mu += y[(size_t)i * ky + c];
        mu /= n;
        for (int i = 0; i < n; i++) v += (y[(size_t)i * ky + c] - mu) * (y[(size_t)i * ky + c] - mu);
        double sd = sqrt(v / n);
        if (!(sd > 1e-12 * (1 + fabs(mu)))) continue;
        for (int i = 0; i < n; i++) t[(size_t)i * ky + m] = (float)((y[(size_t)i * ky + c] - mu) / sd);
        m++;
    }
    int rc = 0;
    *r2 = 0;
    if (m > 0) rc = ridge_cv_r2(n, x, kx, t, ky, m, lambda, folds, r2);
    free(t);
    return rc;
}

// MIRD's six CLUB pairs (conditioning latent, estimated latent) as indices of DIS_LATENT_NAMES
static const int DEP_X[6] = {1, 1, 2, 0, 0, 0}, DEP_Y[6] = {2, 3, 3, 1, 2, 3};

int disent_measure(int n, const float *const lat[DIS_NLAT], const int lat_dim[DIS_NLAT], const float *fac,
                   double lambda, int folds, DisentResult *out, char *err) {
    memset(out, 0, sizeof *out);
    if (folds < 2 || n < 2 * folds) return errf(err, "disentangle: need folds >= 2 and at least 2 * folds clips (n = %d)", n);
    if (!(lambda > 0)) return errf(err, "disentangle: lambda must be > 0");
    for (int g = 0; g < DIS_NLAT; g++)
        if (lat_dim[g] < 1 || lat_dim[g] > 4096) return errf(err, "disentangle: latent %s has %d dims (1..4096)", DIS_LATENT_NAMES[g], lat_dim[g]);
    for (int g = 0; g < DIS_NLAT; g++) {
        for (size_t i = 0; i < (size_t)n * lat_dim[g]; i++)
            if (!isfinite(lat[g][i])) return errf(err, "disentangle: latent %s holds a non-finite value", DIS_LATENT_NAMES[g]);
        for (int h = 0; h < SYN_NGROUPS; h++)
            if (ridge_cv_r2(n, lat[g], lat_dim[g], fac + SYN_GROUP_DIM * h, SYN_NFACT, SYN_GROUP_DIM, lambda, folds,
                            &out->r2[g][h]))
                return errf(err, "disentangle: ridge system not positive definite (latent %s)", DIS_LATENT_NAMES[g]);
    }
    for (int g = 0; g < DIS_NLAT; g++)
        for (int h = 0; h < DIS_NLAT; h++)
            if (g != h && dep_r2(n, lat[g], lat_dim[g], lat[h], lat_dim[h], lambda, folds, &out->dep[g][h]))
                return errf(err, "disentangle: ridge system not positive definite (latent %s)", DIS_LATENT_NAMES[g]);
    double dsum = 0;
    for (int k = 0; k < 6; k++) dsum += clip01(out->dep[DEP_X[k]][DEP_Y[k]]);
    out->latent_dependence = dsum / 6;
    double diag = 0, sl = 0, cl = 0, sis = 0;
    for (int g = 0; g < DIS_NLAT; g++) diag += clip01(out->r2[g][g]);
    for (int g = 1; g < DIS_NLAT; g++) {
        sl += clip01(out->r2[g][0]);
        sis += clip01(out->r2[0][g]);
        for (int h = 1; h < SYN_NGROUPS; h++)
            if (h != g) cl += clip01(out->r2[g][h]);
    }
    out->informativeness = diag / 4, out->shared_leakage = sl / 3, out->cross_leakage = cl / 6, out->specific_in_shared = sis / 3;
    out->disentanglement = out->informativeness - (out->shared_leakage + out->cross_leakage + out->specific_in_shared) / 3;
    out->n = n, out->folds = folds, out->lambda = lambda;
    return 0;
}

int disent_load_factors(const char *path, const char *split, float **fac, int *n, char *err) {
    char file[4096];
    struct stat st;
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) snprintf(file, sizeof file, "%s/factors.safetensors", path);
    else snprintf(file, sizeof file, "%s", path);
    StFile f;
    if (st_open(&f, file, err)) return -1;
    char name[64];
    snprintf(name, sizeof name, "%s.factors", split);
    const StTensor *t = st_find(&f, name);
    if (!t || t->ndim != 2 || t->shape[1] != SYN_NFACT) {
        st_close(&f);
        return errf(err, "%s: no tensor '%s' of shape [N, %d] (not a mird synth factor file?)", file, name, SYN_NFACT);
    }
    *n = (int)t->shape[0];
    *fac = xmalloc(sizeof(float) * (t->numel + 1));
    int rc = st_to_f32(&f, t, *fac, t->numel, err);
    st_close(&f);
    if (rc) free(*fac), *fac = NULL;
    return rc;
}
