// cmd_predict.c: `mird predict`: sentiment scores of a checkpoint's model (eval mode) as CSV
// "id,score,label" (label empty when unknown), for a split of a dataset pickle, every clip of an
// unlabeled pickle, or one clip given as files.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/evalcommon.h"
#include "core/common.h"

static const char USAGE[] =
    "usage: mird predict CKPT DATA [--split test] [--vocab VOCAB.txt] [--max-len N] [--batch-size N]\n"
    "                    [--threads T] [--precision fp32|bf16] [--out FILE.csv]\n"
    "       mird predict CKPT --text \"TEXT\" [--audio FRAMES.txt] [--video FRAMES.txt] [--vocab VOCAB.txt]\n"
    "  CSV on stdout (or --out, written atomically): id,score,label. DATA is a dataset pickle (one split,\n"
    "  default test) or an unlabeled pickle (all clips). One clip: the text, and its acoustic / visual\n"
    "  frames as text matrices (one frame per line, d_a or d_v numbers separated by spaces or commas);\n"
    "  they are zero-padded or truncated to the frame counts the checkpoint was trained with (stored in\n"
    "  its metadata; otherwise the frames given are used as they are). A missing modality is all zeros.\n";

int cmd_predict(int argc, char **argv) {
    EvalArgs a;
    int rc = eval_parse(&a, argc, argv, 1, USAGE);
    if (rc) return rc > 0 ? 0 : 2;
    char vocab[4200], err[MIRD_ERRLEN];
    int max_len = eval_max_len(&a);
    TSplit s;
    if (a.text) {
        if (!a.vocab && !ckpt_vocab(a.ckpt, vocab, sizeof vocab)) {
            fprintf(stderr, "mird: predict: --text needs --vocab VOCAB.txt (the checkpoint records none)\n");
            return 2;
        }
        if (a.vocab) snprintf(vocab, sizeof vocab, "%s", a.vocab);
        int sh[5];
        int have = ckpt_data_shape(a.ckpt, sh, err);
        if (have < 0) {
            fprintf(stderr, "mird: %s\n", err);
            return 1;
        }
        MirdConfig mc; // d_a, d_v from the checkpoint's configuration
        if (mird_config_from_checkpoint(&mc, a.ckpt, err)) {
            fprintf(stderr, "mird: %s\n", err);
            return 1;
        }
        int Ta = have ? sh[1] : 0, Tv = have ? sh[2] : 0;
        if (!have) { // no training metadata: the frames as given (at least one)
            Ta = 1, Tv = 1;
            FILE *f;
            char line[1 << 16];
            if (a.audio && (f = fopen(a.audio, "r"))) {
                int n = 0;
                while (fgets(line, sizeof line, f)) n += line[strspn(line, " \t\r\n")] != 0;
                fclose(f);
                Ta = n > 0 ? n : 1;
            }
            if (a.video && (f = fopen(a.video, "r"))) {
                int n = 0;
                while (fgets(line, sizeof line, f)) n += line[strspn(line, " \t\r\n")] != 0;
                fclose(f);
                Tv = n > 0 ? n : 1;
            }
        }
        if (tdata_single_clip(a.text, a.audio, a.video, vocab, max_len, Ta, Tv, mc.d_a, mc.d_v, &s, err)) {
            fprintf(stderr, "mird: %s\n", err);
            return 1;
        }
    } else {
        eval_vocab(&a, vocab, sizeof vocab);
        int unl = 0;
        const char *split = a.split ? a.split : "test";
        if (tdata_load_split(a.data, split, vocab, max_len, &s, &unl, err)) {
            // an unlabeled pickle has no splits: retry as one
            char err2[MIRD_ERRLEN];
            if (a.split || tdata_load_split(a.data, NULL, vocab, max_len, &s, &unl, err2)) {
                fprintf(stderr, "mird: %s\n", err);
                return 1;
            }
        }
    }
    float *pred = xmalloc(sizeof(float) * ((size_t)s.n + 1));
    if (eval_predict(&a, &s, pred, err)) {
        fprintf(stderr, "mird: %s\n", err);
        free(pred), tsplit_free(&s);
        return 1;
    }
    AtomicFile af;
    FILE *f = stdout;
    if (a.out) {
        if (atomic_open(&af, a.out, err)) {
            fprintf(stderr, "mird: %s\n", err);
            free(pred), tsplit_free(&s);
            return 1;
        }
        f = af.f;
    }
    tsplit_write_csv(f, &s, pred);
    rc = 0;
    if (a.out && atomic_commit(&af, err)) {
        fprintf(stderr, "mird: %s\n", err);
        rc = 1;
    }
    free(pred);
    tsplit_free(&s);
    return rc;
}
