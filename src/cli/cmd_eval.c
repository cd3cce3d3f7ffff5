// cmd_eval.c: `mird eval CKPT DATA`: every metric (train/metrics.h) of a checkpoint on the labeled
// splits of a dataset pickle, as one JSON object on stdout (or --out FILE, written atomically).
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/evalcommon.h"
#include "core/common.h"
#include "train/metrics.h"
#include "train/runfiles.h"

static const char USAGE[] =
    "usage: mird eval CKPT DATA [--split valid,test|all|NAME] [--vocab VOCAB.txt] [--max-len N]\n"
    "                 [--batch-size N] [--threads T] [--precision fp32|bf16] [--out FILE.json]\n"
    "  metrics of the checkpoint's model (eval mode) on each split: has0_acc2, has0_f1, non0_acc2,\n"
    "  non0_f1, mae, corr, non0_mae, non0_corr, acc5, acc7 (fractions), mse, n, n_nonzero.\n"
    "  --split: comma-separated names among train, valid, test, or all (default valid,test).\n"
    "  --vocab: default vocab.txt beside DATA, else the one recorded in the checkpoint. --max-len: default\n"
    "  the checkpoint's training length. --precision bf16: matrix products on bfloat16 inputs with float32\n"
    "  accumulation (where the CPU has bfloat16 instructions).\n";

int cmd_eval(int argc, char **argv) {
    EvalArgs a;
    int rc = eval_parse(&a, argc, argv, 0, USAGE);
    if (rc) return rc > 0 ? 0 : 2;
    char splits[256];
    snprintf(splits, sizeof splits, "%s", !a.split ? "valid,test" : !strcmp(a.split, "all") ? "train,valid,test" : a.split);
    char vocab[4200], err[MIRD_ERRLEN];
    eval_vocab(&a, vocab, sizeof vocab);
    int max_len = eval_max_len(&a);
    json_t *out = json_object();
    json_object_set_new(out, "checkpoint", json_string(a.ckpt));
    json_object_set_new(out, "data", json_string(a.data));
    char sha[65];
    if (sha256_file(a.data, sha, err)) {
        fprintf(stderr, "mird: %s\n", err);
        json_decref(out);
        return 1;
    }
    json_object_set_new(out, "data_sha256", json_string(sha));
    char *save = NULL;
    for (char *name = strtok_r(splits, ",", &save); name; name = strtok_r(NULL, ",", &save)) {
        if (strcmp(name, "train") && strcmp(name, "valid") && strcmp(name, "test")) {
            fprintf(stderr, "mird: eval: --split: '%s' is not train, valid or test\n", name);
            json_decref(out);
            return 2;
        }
        TSplit s;
        int unl = 0;
        if (tdata_load_split(a.data, name, vocab, max_len, &s, &unl, err)) {
            fprintf(stderr, "mird: %s\n", err);
            json_decref(out);
            return 1;
        }
        float *pred = xmalloc(sizeof(float) * ((size_t)s.n + 1));
        if (eval_predict(&a, &s, pred, err)) {
            fprintf(stderr, "mird: %s\n", err);
            free(pred), tsplit_free(&s), json_decref(out);
            return 1;
        }
        Metrics m;
        metrics_compute(&m, pred, s.labels, s.n);
        json_object_set_new(out, name, metrics_to_json(&m));
        free(pred);
        tsplit_free(&s);
    }
    if (a.out) {
        rc = json_write_atomic(a.out, out, err);
        if (rc) fprintf(stderr, "mird: %s\n", err);
    } else {
        json_dumpf(out, stdout, JSON_INDENT(2) | JSON_REAL_PRECISION(17));
        printf("\n");
    }
    json_decref(out);
    return rc ? 1 : 0;
}
