// cmd_init.c: `mird init --config MODEL.json [--bert HF_DIR] [--seed S] --out CKPT.safetensors`:
// a fresh checkpoint initialised as the official code does (MIRD.md "Initialisation"); with
// --bert both BERTs (encoder_l.bert., mult_encoder.model.) are copied from the pretrained
// directory, whose config.json then fixes the "bert" block of the configuration.
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "core/common.h"
#include "io/hf_import.h"
#include "models/mird.h"

static void init_usage(FILE *f) {
    fprintf(f, "usage: mird init --config MODEL.json [--bert HF_DIR] [--seed S] --out CKPT.safetensors\n"
               "  writes a freshly initialised MIRD checkpoint (model + the six CLUB estimators);\n"
               "  --bert copies a pretrained Hugging Face BERT into both BERTs (its config.json\n"
               "  replaces the \"bert\" block); --seed (default 0) fixes the random initialisation\n");
}

int cmd_init(int argc, char **argv) {
    const char *config = NULL, *bert = NULL, *out = NULL;
    unsigned long long seed = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            init_usage(stdout);
            return 0;
        } else if (!strcmp(argv[i], "--config") && i + 1 < argc) {
            config = argv[++i];
        } else if (!strcmp(argv[i], "--bert") && i + 1 < argc) {
            bert = argv[++i];
        } else if (!strcmp(argv[i], "--out") && i + 1 < argc) {
            out = argv[++i];
        } else if (!strcmp(argv[i], "--seed") && i + 1 < argc) {
            char *end;
            errno = 0;
            const char *s = argv[++i];
            seed = strtoull(s, &end, 10);
            if (errno || *end || end == s || s[0] == '-') {
                fprintf(stderr, "mird: init: --seed '%s': expected a non-negative integer\n", s);
                return 2;
            }
        } else {
            fprintf(stderr, "mird: init: unknown or incomplete argument '%s' (see mird init --help)\n", argv[i]);
            return 2;
        }
    }
    if (!config || !out) {
        fprintf(stderr, "mird: init: --config and --out are required (see mird init --help)\n");
        return 2;
    }
    char err[MIRD_ERRLEN];
    MirdConfig cfg;
    if (mird_config_load(&cfg, config, err)) {
        fprintf(stderr, "mird: %s\n", err);
        return 1;
    }
    if (bert) {
        if (hf_bert_read_config(bert, &cfg.bert, NULL, err) || mird_config_validate(&cfg, err)) {
            fprintf(stderr, "mird: %s\n", err);
            return 1;
        }
    }
    Mird m;
    if (mird_create(&m, &cfg, 1, 1, 1, 1, err)) {
        fprintf(stderr, "mird: %s\n", err);
        return 1;
    }
    mird_init_weights(&m, seed);
    int rc = 0;
    if (bert) {
        const char *both[2] = {"encoder_l.bert.", "mult_encoder.model."};
        const char *const *pref = cfg.text_encoder == MIRD_TEXT_BERT ? both : both + 1;
        int np = cfg.text_encoder == MIRD_TEXT_BERT ? 2 : 1;
        if (hf_bert_import(bert, &m.params, pref, np, err)) rc = 1;
    }
    if (!rc && mird_save_params(&m, out, err)) rc = 1;
    if (rc) fprintf(stderr, "mird: %s\n", err);
    mird_free(&m);
    return rc;
}
