// cmd_disentangle.c: `mird disentangle`: ridge-probe R^2 of learned latents against the planted
// factors of a `mird synth` data set (data/disentangle.h).
#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "core/common.h"
#include "data/disentangle.h"
#include "io/safetensors.h"

static void dis_usage(FILE *f) {
    fprintf(f, "usage: mird disentangle --latents LAT.safetensors --factors DIR|factors.safetensors\n"
               "                        [--split test] [--lambda 0.01] [--folds 5] [--out OUT.json]\n"
               "LAT holds F32 [N, k] tensors zy, zl, za, zv (or SPLIT.zy, ...) for the N clips of SPLIT, in\n"
               "data set order. Prints (and with --out writes) the 4 x 4 cross-validated ridge R^2 matrix\n"
               "latent x factor group (S, L, A, V) and its summaries; see docs/synthetic.md.\n");
}

int cmd_disentangle(int argc, char **argv) {
    const char *lat_path = NULL, *fac_path = NULL, *split = "test", *out = NULL;
    double lambda = 0.01;
    int folds = 5;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            dis_usage(stdout);
            return 0;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "mird disentangle: %s: missing value or unknown flag (see --help)\n", a);
            return 2;
        }
        const char *v = argv[++i];
        char *end;
        errno = 0;
        if (!strcmp(a, "--latents")) lat_path = v;
        else if (!strcmp(a, "--factors")) fac_path = v;
        else if (!strcmp(a, "--split")) split = v;
        else if (!strcmp(a, "--out")) out = v;
        else if (!strcmp(a, "--lambda")) {
            lambda = strtod(v, &end);
            if (errno || end == v || *end || !(lambda > 0)) {
                fprintf(stderr, "mird disentangle: --lambda: expected a positive number, got '%s'\n", v);
                return 2;
            }
        } else if (!strcmp(a, "--folds")) {
            long f = strtol(v, &end, 10);
            if (errno || end == v || *end || f < 2 || f > 1000) {
                fprintf(stderr, "mird disentangle: --folds: expected an integer in [2, 1000], got '%s'\n", v);
                return 2;
            }
            folds = (int)f;
        } else {
            fprintf(stderr, "mird disentangle: unknown flag '%s' (see --help)\n", a);
            return 2;
        }
    }
    if (!lat_path || !fac_path) {
        fprintf(stderr, "mird disentangle: --latents and --factors are required (see --help)\n");
        return 2;
    }
    char err[MIRD_ERRLEN];
    float *fac = NULL, *lat[DIS_NLAT] = {NULL, NULL, NULL, NULL};
    int n = 0, dims[DIS_NLAT], rc = 1;
    if (disent_load_factors(fac_path, split, &fac, &n, err)) {
        fprintf(stderr, "mird: %s\n", err);
        return 1;
    }
    StFile f;
    if (st_open(&f, lat_path, err)) {
        fprintf(stderr, "mird: %s\n", err);
        free(fac);
        return 1;
    }
    for (int g = 0; g < DIS_NLAT; g++) {
        char name[128];
        const StTensor *t = st_find(&f, DIS_LATENT_NAMES[g]);
        snprintf(name, sizeof name, "%s.%s", split, DIS_LATENT_NAMES[g]);
        if (!t) t = st_find(&f, name);
        if (!t || t->ndim != 2) {
            fprintf(stderr, "mird: %s: no 2-D tensor '%s' or '%s'\n", lat_path, DIS_LATENT_NAMES[g], name);
            goto done;
        }
        if (t->shape[0] != n) {
            fprintf(stderr, "mird: %s: %s has %lld rows but split '%s' has %d clips\n", lat_path, t->name,
                    (long long)t->shape[0], split, n);
            goto done;
        }
        dims[g] = (int)t->shape[1];
        lat[g] = xmalloc(sizeof(float) * (t->numel + 1));
        if (st_to_f32(&f, t, lat[g], t->numel, err)) {
            fprintf(stderr, "mird: %s\n", err);
            goto done;
        }
    }
    DisentResult r;
    if (disent_measure(n, (const float *const *)lat, dims, fac, lambda, folds, &r, err)) {
        fprintf(stderr, "mird: %s: %s\n", lat_path, err);
        goto done;
    }
    json_t *m = json_object();
    for (int g = 0; g < DIS_NLAT; g++) {
        json_t *row = json_object();
        for (int h = 0; h < SYN_NGROUPS; h++) json_object_set_new(row, SYN_GROUP_NAMES[h], json_real(r.r2[g][h]));
        json_object_set_new(m, DIS_LATENT_NAMES[g], row);
    }
    json_t *dm = json_object();
    for (int g = 0; g < DIS_NLAT; g++) {
        json_t *row = json_object();
        for (int h = 0; h < DIS_NLAT; h++)
            if (h != g) json_object_set_new(row, DIS_LATENT_NAMES[h], json_real(r.dep[g][h]));
        json_object_set_new(dm, DIS_LATENT_NAMES[g], row);
    }
    json_t *j = json_pack("{s:s, s:i, s:[i,i,i,i], s:o, s:f, s:f, s:f, s:f, s:f, s:o, s:f, s:f, s:i}", "split", split,
                          "n", n, "latent_dims", dims[0], dims[1], dims[2], dims[3], "r2", m, "informativeness",
                          r.informativeness, "shared_leakage", r.shared_leakage, "cross_leakage", r.cross_leakage,
                          "specific_in_shared", r.specific_in_shared, "disentanglement", r.disentanglement,
                          "dependence", dm, "latent_dependence", r.latent_dependence, "lambda", lambda, "folds", folds);
    json_dumpf(j, stdout, JSON_INDENT(2) | JSON_REAL_PRECISION(5));
    printf("\n");
    rc = 0;
    if (out) {
        AtomicFile af;
        err[0] = 0;
        if (atomic_open(&af, out, err) || json_dumpf(j, af.f, JSON_INDENT(2) | JSON_REAL_PRECISION(6)) != 0 ||
            atomic_commit(&af, err)) {
            if (af.f) atomic_abort(&af);
            fprintf(stderr, "mird: %s\n", err[0] ? err : "write failed");
            rc = 1;
        }
    }
    json_decref(j);
done:
    st_close(&f);
    free(fac);
    for (int g = 0; g < DIS_NLAT; g++) free(lat[g]);
    return rc;
}
