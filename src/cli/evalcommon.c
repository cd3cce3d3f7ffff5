// evalcommon.c: see evalcommon.h.
#include "cli/evalcommon.h"

#include "cli/commands.h"

#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/common.h"

int eval_parse(EvalArgs *a, int argc, char **argv, int allow_clip, const char *usage) {
    memset(a, 0, sizeof *a);
    a->batch_size = 64;
    int npos = 0;
    for (int i = 1; i < argc; i++) {
        const char *f = argv[i];
        if (!strcmp(f, "--help") || !strcmp(f, "-h")) {
            printf("%s", usage);
            return 1;
        }
        if (strncmp(f, "--", 2)) {
            if (npos == 0) a->ckpt = f;
            else if (npos == 1) a->data = f;
            else {
                fprintf(stderr, "mird: %s: unexpected argument '%s'\n", argv[0], f);
                return -1;
            }
            npos++;
            continue;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "mird: %s: %s needs a value\n", argv[0], f);
            return -1;
        }
        const char *v = argv[++i];
        char *e;
        if (!strcmp(f, "--split")) a->split = v;
        else if (!strcmp(f, "--vocab")) a->vocab = v;
        else if (!strcmp(f, "--out")) a->out = v;
        else if (!strcmp(f, "--precision")) {
            if (matmul_precision_parse(v, &a->precision)) {
                fprintf(stderr, "mird: %s: --precision '%s': expected fp32 or bf16\n", argv[0], v);
                return -1;
            }
        } else if (allow_clip && !strcmp(f, "--text")) a->text = v;
        else if (allow_clip && !strcmp(f, "--audio")) a->audio = v;
        else if (allow_clip && !strcmp(f, "--video")) a->video = v;
        else if (!strcmp(f, "--max-len") || !strcmp(f, "--batch-size") || !strcmp(f, "--threads")) {
            long x = strtol(v, &e, 10);
            if (e == v || *e || x < (f[2] == 't' ? 0 : 1) || x > 1000000) {
                fprintf(stderr, "mird: %s: %s: '%s' is not a valid count\n", argv[0], f, v);
                return -1;
            }
            if (f[2] == 'm') a->max_len = (int)x;
            else if (f[2] == 'b') a->batch_size = (int)x;
            else a->threads = (int)x;
        } else {
            fprintf(stderr, "mird: %s: unknown flag '%s' (see mird %s --help)\n", argv[0], f, argv[0]);
            return -1;
        }
    }
    if (!a->ckpt) {
        fprintf(stderr, "mird: %s: a checkpoint is required (see mird %s --help)\n", argv[0], argv[0]);
        return -1;
    }
    if (!a->data && !a->text) {
        fprintf(stderr, "mird: %s: a data file%s is required (see mird %s --help)\n", argv[0], allow_clip ? " or --text" : "",
                argv[0]);
        return -1;
    }
    if (a->data && a->text) {
        fprintf(stderr, "mird: %s: give either a data file or --text, not both\n", argv[0]);
        return -1;
    }
    if (a->threads > 0) omp_set_num_threads(a->threads);
    a->precision = cli_set_precision(a->precision);
    return 0;
}

void eval_vocab(const EvalArgs *a, char *out, size_t cap) {
    if (a->vocab) {
        snprintf(out, cap, "%s", a->vocab);
        return;
    }
    if (a->data) {
        tdata_default_vocab(NULL, NULL, a->data, out, cap);
        if (access(out, R_OK) == 0) return;
    }
    if (ckpt_vocab(a->ckpt, out, cap)) return;
    if (a->data) tdata_default_vocab(NULL, NULL, a->data, out, cap);
    else snprintf(out, cap, "vocab.txt");
}

int eval_max_len(const EvalArgs *a) {
    if (a->max_len) return a->max_len;
    int sh[5];
    char err[MIRD_ERRLEN];
    if (ckpt_data_shape(a->ckpt, sh, err) == 1) return sh[0];
    return 50;
}

int eval_predict(const EvalArgs *a, const TSplit *s, float *pred, char *err) {
    Model m;
    int bs = a->batch_size < s->n ? a->batch_size : s->n;
    if (bs < 1) bs = 1;
    if (model_from_checkpoint(&m, a->ckpt, bs, s->Tl, s->Ta, s->Tv, err)) return -1;
    if (m.mird.cfg.d_a != s->d_a || m.mird.cfg.d_v != s->d_v) {
        errf(err, "%s: features have %d / %d values per frame, the model expects %d / %d", a->data ? a->data : "clip",
             s->d_a, s->d_v, m.mird.cfg.d_a, m.mird.cfg.d_v);
        model_free(&m);
        return -1;
    }
    int mx = tsplit_max_id(s);
    if (mx >= m.mird.cfg.bert.vocab_size) {
        errf(err, "%s: token id %d is outside the model's vocabulary of %d (wrong --vocab?)", a->data ? a->data : "clip", mx,
             m.mird.cfg.bert.vocab_size);
        model_free(&m);
        return -1;
    }
    Batch b;
    batch_alloc(&b, bs, bs, s->Tl, s->Ta, s->Tv, s->d_a, s->d_v);
    for (int i0 = 0, nb; i0 < s->n; i0 += nb) {
        nb = batch_seq(&b, &s->d, i0, bs);
        model_predict(&m, &b, pred + i0, NULL);
    }
    batch_free(&b);
    model_free(&m);
    return 0;
}
