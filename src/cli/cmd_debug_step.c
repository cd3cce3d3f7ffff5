// cmd_debug_step.c: `mird debug-step --checkpoint CKPT --batch BATCH.safetensors --out OUT.safetensors
//   [--steps N] [--lr X] [--mi-lr X] [--weight-decay X] [--club-steps K] [--objective NAME]
//   [--club-input raw|standardized] [--precision fp32|bf16]`
// The golden-test interface of INTERFACES.md section 4: dropout off, constant learning rates.
// OUT holds the first step's forward outputs (zl, za, zv, zy, x_l_hat, x_a_hat, x_v_hat, y_hat),
// its loss terms as F32 [1] (loss.pred is 0 when the batch has no labeled row), grad.NAME for every
// model parameter (gradient of loss.total before the first update; zeros for a parameter outside
// the objective), and after all steps param.NAME for every model and estimator parameter and
// losses [N]. Each step = forward + backward + one AdamW step on the model + K Adam steps on the
// estimators (latents recomputed after the model update; dropout is off, so once suffices).
// Under mpirun with several ranks the batch's rows are split over the ranks (labeled rows with
// their unlabeled partners, docs/distributed.md), each step is the data-parallel step, and rank 0
// writes the same file a single process would (per-row outputs gathered back into row order).
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli/batchfile.h"
#include "cli/commands.h"
#include "core/comm.h"
#include "core/common.h"
#include "core/matmul.h"
#include "io/safetensors.h"
#include "models/mird.h"

static void ds_usage(FILE *f) {
    fprintf(f, "usage: mird debug-step --checkpoint CKPT --batch BATCH.safetensors --out OUT.safetensors\n"
               "         [--steps N] [--lr X] [--mi-lr X] [--weight-decay X] [--club-steps K] [--objective O]\n"
               "         [--club-input raw|standardized] [--precision fp32|bf16]\n"
               "  runs N training steps (default 1) with dropout off and writes the first step's outputs,\n"
               "  loss terms and gradients and the final parameters (see INTERFACES.md section 4);\n"
               "  defaults: --lr 1e-5 --mi-lr 1e-3 --weight-decay 0.01 --club-steps 5 --objective log\n"
               "  (objectives: log, no_rec, no_mi, weighted, pred); --precision bf16: products of at least\n"
               "  MIRD_BF16_MIN_FLOPS (env; 0 = all) on bfloat16 inputs (the golden cases' bf16 check)\n"
               "  under mpirun the batch's rows are split over the ranks and rank 0 writes the same file\n");
}

static int parse_float(const char *flag, const char *s, float *dst) {
    char *end;
    errno = 0;
    double x = strtod(s, &end);
    if (errno || *end || end == s || !isfinite(x) || x < 0) {
        fprintf(stderr, "mird: debug-step: %s '%s': expected a non-negative number\n", flag, s);
        return -1;
    }
    *dst = (float)x;
    return 0;
}

static int parse_int(const char *flag, const char *s, int lo, int *dst) {
    char *end;
    errno = 0;
    long x = strtol(s, &end, 10);
    if (errno || *end || end == s || x < lo || x > 1000000) {
        fprintf(stderr, "mird: debug-step: %s '%s': expected an integer >= %d\n", flag, s, lo);
        return -1;
    }
    *dst = (int)x;
    return 0;
}

int cmd_debug_step(int argc, char **argv) {
    const char *ckpt = NULL, *batch = NULL, *out = NULL;
    int steps = 1, K = 5;
    float lr = 1e-5f, mi_lr = 1e-3f, wd = 0.01f;
    MirdObjective obj = MIRD_OBJ_LOG;
    int club_std = 0;
    MatmulPrecision prec = MATMUL_FP32;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int has = i + 1 < argc;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            ds_usage(stdout);
            return 0;
        } else if (!strcmp(a, "--checkpoint") && has) {
            ckpt = argv[++i];
        } else if (!strcmp(a, "--batch") && has) {
            batch = argv[++i];
        } else if (!strcmp(a, "--out") && has) {
            out = argv[++i];
        } else if (!strcmp(a, "--steps") && has) {
            if (parse_int(a, argv[++i], 1, &steps)) return 2;
        } else if (!strcmp(a, "--club-steps") && has) {
            if (parse_int(a, argv[++i], 0, &K)) return 2;
        } else if (!strcmp(a, "--lr") && has) {
            if (parse_float(a, argv[++i], &lr)) return 2;
        } else if (!strcmp(a, "--mi-lr") && has) {
            if (parse_float(a, argv[++i], &mi_lr)) return 2;
        } else if (!strcmp(a, "--weight-decay") && has) {
            if (parse_float(a, argv[++i], &wd)) return 2;
        } else if (!strcmp(a, "--club-input") && has) {
            const char *v = argv[++i];
            if (strcmp(v, "raw") && strcmp(v, "standardized")) {
                fprintf(stderr, "mird: debug-step: --club-input '%s': expected raw or standardized\n", v);
                return 2;
            }
            club_std = !strcmp(v, "standardized");
        } else if (!strcmp(a, "--precision") && has) {
            if (matmul_precision_parse(argv[++i], &prec)) {
                fprintf(stderr, "mird: debug-step: --precision '%s': expected fp32 or bf16\n", argv[i]);
                return 2;
            }
        } else if (!strcmp(a, "--objective") && has) {
            if (mird_objective_parse(argv[++i], &obj)) {
                fprintf(stderr, "mird: debug-step: --objective '%s': expected log, no_rec, no_mi, weighted or pred\n",
                        argv[i]);
                return 2;
            }
        } else {
            fprintf(stderr, "mird: debug-step: unknown or incomplete argument '%s' (see mird debug-step --help)\n", a);
            return 2;
        }
    }
    if (!ckpt || !batch || !out) {
        fprintf(stderr, "mird: debug-step: --checkpoint, --batch and --out are required (see mird debug-step --help)\n");
        return 2;
    }
    cli_set_precision(prec);
    char err[MIRD_ERRLEN];
    LoadedBatch lb;
    Mird m;
    const Comm *w = comm_world();
    if (batchfile_load_with_model(ckpt, batch, 1, &m, &lb, err)) {
        if (w->rank == 0) fprintf(stderr, "mird: %s\n", err);
        return 1;
    }
    MirdBatch b = {lb.ids, lb.mask, lb.types, lb.ac, lb.vi, lb.labels, lb.B, lb.B_l, lb.Tl, lb.Ta, lb.Tv};
    char e2[MIRD_ERRLEN] = "";
    int bad = mird_check_batch(&m, &b, e2);
    if (bad) errf(err, "%s: %s", batch, e2);
    if (comm_agree(w, bad, err)) {
        if (w->rank == 0) fprintf(stderr, "mird: %s\n", err);
        mird_free(&m);
        batchfile_free(&lb);
        return 1;
    }
    m.club_std = club_std;
    const MirdConfig *c = &m.cfg;
    int B = lb.B, V = c->bert.vocab_size;
    size_t nzl = (size_t)B * c->zl_size, nza = (size_t)B * c->za_size, nzv = (size_t)B * c->zv_size,
           nzy = (size_t)B * c->zy_size, nxl = (size_t)B * lb.Tl * V, nxa = (size_t)B * lb.Ta * c->d_a,
           nxv = (size_t)B * lb.Tv * c->d_v;
    float *o_zl = falloc(nzl), *o_za = falloc(nza), *o_zv = falloc(nzv), *o_zy = falloc(nzy);
    float *o_xl = falloc(nxl), *o_xa = falloc(nxa), *o_xv = falloc(nxv), *o_y = falloc((size_t)B);
    float *o_grad = falloc(m.params.total ? m.params.total : 1);
    float *losses = falloc((size_t)steps);
    MirdLosses first;
    memset(&first, 0, sizeof(first));
    for (int s = 0; s < steps; s++) {
        mird_forward(&m, &b, MIRD_FWD_FULL, obj, NULL);
        if (s == 0) {
            first = m.loss;
            memcpy(o_zl, m.zl, nzl * 4), memcpy(o_za, m.za, nza * 4), memcpy(o_zv, m.zv, nzv * 4);
            memcpy(o_zy, m.zy, nzy * 4), memcpy(o_y, m.y_hat, (size_t)B * 4);
            if (mird_obj_has_rec(obj)) {
                memcpy(o_xl, m.x_l_hat, nxl * 4), memcpy(o_xa, m.x_a_hat, nxa * 4), memcpy(o_xv, m.x_v_hat, nxv * 4);
            }
        }
        losses[s] = m.loss.total;
        mird_backward(&m, &b, obj);
        if (s == 0) memcpy(o_grad, m.params.grad, m.params.total * sizeof(float));
        m.opt.weight_decay = wd;
        optim_step(&m.opt, &m.params, lr, m.has_grad);
        if (mird_obj_has_mi(obj) && K > 0) mird_estimator_steps(&m, &b, K, mi_lr, MIRD_CLUB_ONCE, NULL);
    }
    // per-row outputs in the file's row order (gathered from every rank under mpirun)
    float **rowout[8] = {&o_zl, &o_za, &o_zv, &o_zy, &o_y, &o_xl, &o_xa, &o_xv};
    const long width[8] = {c->zl_size, c->za_size, c->zv_size, c->zy_size, 1, (long)lb.Tl * V, (long)lb.Ta * c->d_a,
                           (long)lb.Tv * c->d_v};
    for (int k = 0; k < 8 && w->size > 1; k++) {
        float *all = falloc((size_t)lb.B_all * width[k]);
        batchfile_gather_rows(&lb, *rowout[k], width[k], all);
        free(*rowout[k]);
        *rowout[k] = all;
    }
    StWriter sw;
    stw_init(&sw);
    int64_t sh[3];
    sh[0] = lb.B_all, sh[1] = c->zl_size, stw_add_f32(&sw, "zl", 2, sh, o_zl);
    sh[1] = c->za_size, stw_add_f32(&sw, "za", 2, sh, o_za);
    sh[1] = c->zv_size, stw_add_f32(&sw, "zv", 2, sh, o_zv);
    sh[1] = c->zy_size, stw_add_f32(&sw, "zy", 2, sh, o_zy);
    sh[1] = 1, stw_add_f32(&sw, "y_hat", 2, sh, o_y);
    sh[1] = lb.Tl, sh[2] = V, stw_add_f32(&sw, "x_l_hat", 3, sh, o_xl);
    sh[1] = lb.Ta, sh[2] = c->d_a, stw_add_f32(&sw, "x_a_hat", 3, sh, o_xa);
    sh[1] = lb.Tv, sh[2] = c->d_v, stw_add_f32(&sw, "x_v_hat", 3, sh, o_xv);
    float scal[11] = {first.pred, first.rec_l, first.rec_a, first.rec_v, first.mi[0], first.mi[1],
                      first.mi[2], first.mi[3], first.mi[4], first.mi[5], first.total};
    const char *sn[11] = {"loss.pred", "loss.rec_l", "loss.rec_a", "loss.rec_v", "mi.la", "mi.lv",
                          "mi.av",     "mi.yl",      "mi.ya",      "mi.yv",      "loss.total"};
    int64_t one = 1;
    for (int i = 0; i < 11; i++) stw_add_f32(&sw, sn[i], 1, &one, &scal[i]);
    char name[PARAM_NAME_MAX + 8];
    for (int i = 0; i < m.params.n; i++) {
        const ParamInfo *pi = &m.params.p[i];
        snprintf(name, sizeof(name), "grad.%s", pi->name);
        stw_add_f32(&sw, name, pi->ndim, pi->shape, o_grad + pi->offset);
        snprintf(name, sizeof(name), "param.%s", pi->name);
        stw_add_f32(&sw, name, pi->ndim, pi->shape, m.params.data + pi->offset);
    }
    for (int i = 0; i < m.est.n; i++) {
        const ParamInfo *pi = &m.est.p[i];
        snprintf(name, sizeof(name), "param.%s", pi->name);
        stw_add_f32(&sw, name, pi->ndim, pi->shape, m.est.data + pi->offset);
    }
    int64_t ns = steps;
    stw_add_f32(&sw, "losses", 1, &ns, losses);
    int rc = w->rank == 0 && stw_write(&sw, out, err); // every rank holds the same model: rank 0 writes
    if (comm_agree(w, rc, err)) {
        if (w->rank == 0) fprintf(stderr, "mird: %s\n", err);
        rc = 1;
    }
    stw_free(&sw);
    free(o_zl), free(o_za), free(o_zv), free(o_zy), free(o_xl), free(o_xa), free(o_xv), free(o_y), free(o_grad);
    free(losses);
    mird_free(&m);
    batchfile_free(&lb);
    return rc;
}
