// cmd_convert.c: `mird convert IN.pkl OUT.mird [--unlabeled] [--vocab VOCAB.txt] [--max-len N]`:
// a dataset pickle (MIRD, MMSA or unlabeled) into the project's memory-mappable .mird file, so later
// runs start without parsing the pickle. With --vocab the raw text is tokenised now and the ids are
// stored (files with MMSA's text_bert keep those ids); the raw text is always kept.
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "core/common.h"
#include "data/dataset.h"
#include "text/tokenizer.h"

static void convert_usage(FILE *f) {
    fprintf(f, "usage: mird convert IN.pkl OUT.mird [--unlabeled] [--vocab VOCAB.txt] [--max-len N]\n"
               "  IN: a MIRD, MMSA or unlabeled dataset pickle (the format is detected);\n"
               "  --unlabeled: require IN to be an unlabeled pickle (one dict, no split level);\n"
               "  --vocab: also store BERT token ids of the raw text, N per clip (default 50)\n");
}

int cmd_convert(int argc, char **argv) {
    const char *in = NULL, *out = NULL, *vocab = NULL;
    int unlabeled = 0;
    long max_len = 50;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            convert_usage(stdout);
            return 0;
        } else if (!strcmp(argv[i], "--unlabeled")) {
            unlabeled = 1;
        } else if (!strcmp(argv[i], "--vocab") && i + 1 < argc) {
            vocab = argv[++i];
        } else if (!strcmp(argv[i], "--max-len") && i + 1 < argc) {
            char *end;
            errno = 0;
            max_len = strtol(argv[++i], &end, 10);
            if (errno || *end || end == argv[i] || max_len < 2 || max_len > 100000) {
                fprintf(stderr, "mird: convert: --max-len '%s': expected an integer from 2 to 100000\n", argv[i]);
                return 2;
            }
        } else if (argv[i][0] == '-' && argv[i][1]) {
            fprintf(stderr, "mird: convert: unknown or incomplete argument '%s' (see mird convert --help)\n", argv[i]);
            return 2;
        } else if (!in) {
            in = argv[i];
        } else if (!out) {
            out = argv[i];
        } else {
            fprintf(stderr, "mird: convert: unexpected argument '%s'\n", argv[i]);
            return 2;
        }
    }
    if (!in || !out) {
        fprintf(stderr, "mird: convert: IN and OUT are required (see mird convert --help)\n");
        return 2;
    }
    char err[MIRD_ERRLEN];
    Tokenizer *tok = NULL;
    if (vocab && tokenizer_load(&tok, vocab, err)) {
        fprintf(stderr, "mird: %s\n", err);
        return 1;
    }
    DatasetOptions opt = {.tok = tok, .Tl = (int)max_len};
    Dataset ds;
    int rc = 0;
    if (dataset_load(&ds, in, &opt, err)) {
        fprintf(stderr, "mird: %s\n", err);
        rc = 1;
    } else {
        if (unlabeled && strcmp(ds.format, "unlabeled")) {
            fprintf(stderr, "mird: %s: --unlabeled given but the file is a %s dataset with splits\n", in, ds.format);
            rc = 1;
        } else if (dataset_save_mird(&ds, out, err)) {
            fprintf(stderr, "mird: %s\n", err);
            rc = 1;
        }
        dataset_free(&ds);
    }
    tokenizer_free(tok);
    return rc;
}
