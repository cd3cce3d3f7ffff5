// testutil.c: see testutil.h.
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/common.h"
#include "io/safetensors.h"

int gradcheck(const char *name, LossFn f, void *ctx, float *param, const float *grad, long n, double eps,
              double rtol, double atol, long max_checks) {
    Rng r;
    rng_seed(&r, 12345, 99);
    long checks = n < max_checks ? n : max_checks;
    int bad = 0;
    double worst = -1;
    long worst_i = -1;
    double worst_a = 0, worst_n = 0;
    for (long c = 0; c < checks; c++) {
        long i = n <= max_checks ? c : (long)rng_below(&r, (uint32_t)n);
        float saved = param[i];
        param[i] = (float)(saved + eps);
        double lp = f(ctx);
        param[i] = (float)(saved - eps);
        double lm = f(ctx);
        param[i] = saved;
        double num = (lp - lm) / (2 * eps);
        double a = grad[i];
        double excess = fabs(a - num) - (atol + rtol * fabs(num));
        if (excess > 0) bad++;
        if (excess > worst || worst_i < 0) {
            worst = excess;
            worst_i = i;
            worst_a = a;
            worst_n = num;
        }
    }
    if (bad)
        fprintf(stderr, "gradcheck %s: %d/%ld entries out of tolerance; worst [%ld] analytic %.6g numeric %.6g\n",
                name, bad, checks, worst_i, worst_a, worst_n);
    return bad;
}

void fill_normal(float *x, long n, float scale, Rng *r) {
    for (long i = 0; i < n; i++) x[i] = scale * rng_normal(r);
}

void fill_uniform(float *x, long n, float lo, float hi, Rng *r) {
    for (long i = 0; i < n; i++) x[i] = lo + (hi - lo) * rng_uniform(r);
}

double dot_d(const float *x, const float *w, long n) {
    double s = 0;
    for (long i = 0; i < n; i++) s += (double)x[i] * w[i];
    return s;
}

double rel_err_scale(const float *a, const float *b, long n, double floor) {
    double m = floor, e = 0;
    for (long i = 0; i < n; i++) {
        if (fabs(b[i]) > m) m = fabs(b[i]);
        double d = fabs((double)a[i] - b[i]);
        if (d > e || isnan(d)) e = isnan(d) ? INFINITY : d;
    }
    return e / m;
}

int sh(const char *fmt, ...) {
    char cmd[16384];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    int rc = system(cmd);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : 128;
}

const char *shared_data(const char *name) {
    static char path[1024];
    snprintf(path, sizeof(path), "../shared/data/%s", name);
    if (access(path, R_OK) == 0) return path;
    fprintf(stderr, "skip: ../shared/data/%s not present\n", name);
    return NULL;
}

// ---------------------------------------------------------------- debug-step outputs
float *tensor_f32(const StFile *f, const StTensor *t) {
    char err[MIRD_ERRLEN];
    float *x = falloc(t->numel ? t->numel : 1);
    if (st_to_f32(f, t, x, t->numel, err)) fail_msg("%s", err);
    return x;
}

const GoldenTol GOLDEN_TOL_TORCH = {1e-4, 1e-3, 1e-4, 1e-4, 1e-5};
const GoldenTol GOLDEN_TOL_BF16 = {3e-2, 0.15, 1e-2, 5e-2, 1e-2};

int golden_compare(const char *got_path, const char *exp_path, const char *tag, const GoldenTol *tl) {
    char err[MIRD_ERRLEN];
    StFile g, e;
    if (st_open(&g, got_path, err)) fail_msg("%s", err);
    if (st_open(&e, exp_path, err)) fail_msg("%s", err);
    int bad = 0;
    double worst[4] = {0, 0, 0, 0}; // outputs/losses, grads, params, mi
    double gscale = 0;
    for (int i = 0; i < st_count(&e); i++) {
        const StTensor *te = st_tensor(&e, i);
        if (strncmp(te->name, "grad.", 5)) continue;
        float *b = tensor_f32(&e, te);
        for (size_t k = 0; k < te->numel; k++) gscale = fmax(gscale, fabs(b[k]));
        free(b);
    }
    for (int i = 0; i < st_count(&e); i++) {
        const StTensor *te = st_tensor(&e, i);
        const StTensor *tg = st_find(&g, te->name);
        if (!tg) {
            printf("%s: missing %s\n", tag, te->name);
            bad++;
            continue;
        }
        if (tg->numel != te->numel || tg->ndim != te->ndim) {
            printf("%s: %s has the wrong shape\n", tag, te->name);
            bad++;
            continue;
        }
        float *a = tensor_f32(&g, tg), *b = tensor_f32(&e, te);
        int isgrad = !strncmp(te->name, "grad.", 5),
            ismi = !strncmp(te->name, "mi.", 3) || !strncmp(te->name, "loss", 4), // MI estimates and losses
            isparam = !strncmp(te->name, "param.", 6);
        double floor = isgrad ? fmax(1e-5, 1e-6 * gscale) : ismi ? 1e-2 : isparam ? 1e-5 : 1e-6;
        double tol = isgrad ? tl->grad : isparam ? tl->param : ismi ? tl->mi : tl->out;
        double r = rel_err_scale(a, b, (long)te->numel, floor);
        const char *zero[5] = {"attention.self.key.bias", "WSA.W_a.bias", "WSA.W_v.bias", ".WA.W_a.bias", ".WA.W_v.bias"};
        for (int z = 0; isgrad && z < 5; z++) {
            size_t ln = strlen(te->name), lz = strlen(zero[z]);
            if (ln >= lz && !strcmp(te->name + ln - lz, zero[z])) { // exactly 0 in exact arithmetic
                double mx = 0;
                for (size_t q = 0; q < te->numel; q++) mx = fmax(mx, fmax(fabs(a[q]), fabs(b[q])));
                r = mx / fmax(gscale, 1e-5) * (tl->grad / tl->zero_grad); // at most zero_grad of the largest gradient
            }
        }
        int k = isgrad ? 1 : isparam ? 2 : ismi ? 3 : 0;
        if (r > worst[k]) worst[k] = r;
        if (!(r <= tol)) {
            printf("%s: %s rel err %.3g > %g\n", tag, te->name, r, tol);
            bad++;
        }
        free(a), free(b);
    }
    printf("%s: %d tensors; worst rel err outputs %.2g, grads %.2g, params %.2g, mi %.2g\n", tag, st_count(&e),
           worst[0], worst[1], worst[2], worst[3]);
    st_close(&g);
    st_close(&e);
    return bad;
}

int tensors_differ(const char *a, const char *b, char *why, size_t n) {
    char err[MIRD_ERRLEN];
    StFile fa, fb;
    if (st_open(&fa, a, err) || st_open(&fb, b, err)) fail_msg("%s", err);
    int d = 0;
    if (st_count(&fa) != st_count(&fb))
        d = 1, snprintf(why, n, "%s holds %d tensors, %s %d", a, st_count(&fa), b, st_count(&fb));
    for (int i = 0; !d && i < st_count(&fa); i++) {
        const StTensor *t = st_tensor(&fa, i), *u = st_find(&fb, t->name);
        if (!u) d = 1, snprintf(why, n, "%s: %s missing in %s", a, t->name, b);
        else if (t->nbytes != u->nbytes || memcmp(t->data, u->data, t->nbytes))
            d = 1, snprintf(why, n, "%s differs between %s and %s", t->name, a, b);
    }
    st_close(&fa), st_close(&fb);
    return d;
}

// Every tensor of a and b has the same name, dtype, shape and bytes.
void same_tensors(const char *a, const char *b) {
    char why[1024];
    if (tensors_differ(a, b, why, sizeof why)) fail_msg("%s", why);
}
