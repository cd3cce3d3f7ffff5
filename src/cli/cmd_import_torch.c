// cmd_import_torch.c: `mird import-torch FILE.pt --out CKPT.safetensors [--config MODEL.json] [--seed S]`:
// a MIRD checkpoint from a torch.save file of the authors' code: the whole model as their scripts
// save it (torch.save(model)) or its state_dict, read without executing anything (io/torch_load.h).
// The configuration is inferred from the file (models/mird.h, mird_config_of_file), --config
// replaces any of its keys; the six CLUB estimators, which the authors keep outside the saved
// model, are initialised as `mird init --seed S` does unless the file has them.
#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "core/common.h"
#include "models/mird.h"

static void usage(FILE *f) {
    fprintf(f, "usage: mird import-torch FILE.pt --out CKPT.safetensors [--config MODEL.json] [--seed S]\n"
               "  a MIRD checkpoint from a torch.save file of the authors' code: the whole model as their\n"
               "  scripts save it (torch.save(model)) or its state_dict. Nothing in the file is executed:\n"
               "  its classes become inert placeholders, and a pickle that would call anything but the\n"
               "  tensor rebuild functions is refused. The configuration is inferred from the tensor shapes\n"
               "  and, for a whole module, its attributes (BertConfig, beta_shift); --config MODEL.json\n"
               "  replaces any of its keys (e.g. {\"beta_shift\": 0.5} for a state_dict, which records none).\n"
               "  The six CLUB estimators are not in the authors' saved model: unless the file has them\n"
               "  they are initialised as `mird init --seed S` does (default 0). mird eval and mird predict\n"
               "  also read such files directly.\n");
}

int cmd_import_torch(int argc, char **argv) {
    const char *in = NULL, *out = NULL, *config = NULL;
    unsigned long long seed = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(a, "--out") && i + 1 < argc) {
            out = argv[++i];
        } else if (!strcmp(a, "--config") && i + 1 < argc) {
            config = argv[++i];
        } else if (!strcmp(a, "--seed") && i + 1 < argc) {
            char *end;
            const char *s = argv[++i];
            errno = 0;
            seed = strtoull(s, &end, 10);
            if (errno || *end || end == s || s[0] == '-') {
                fprintf(stderr, "mird: import-torch: --seed '%s': expected a non-negative integer\n", s);
                return 2;
            }
        } else if (a[0] == '-' || in) {
            fprintf(stderr, "mird: import-torch: unknown or incomplete argument '%s' (see mird import-torch --help)\n", a);
            return 2;
        } else {
            in = a;
        }
    }
    if (!in || !out) {
        fprintf(stderr, "mird: import-torch: FILE.pt and --out are required (see mird import-torch --help)\n");
        return 2;
    }
    char err[MIRD_ERRLEN];
    json_t *over = NULL;
    if (config) {
        json_error_t je;
        over = json_load_file(config, 0, &je);
        if (!json_is_object(over)) {
            if (over) fprintf(stderr, "mird: %s: the model configuration must be a JSON object\n", config);
            else fprintf(stderr, "mird: %s: invalid JSON at line %d: %s\n", config, je.line, je.text);
            json_decref(over);
            return 1;
        }
    }
    MirdConfig cfg;
    MirdFileInfo info;
    int rc = mird_config_of_file(&cfg, in, over, &info, err);
    json_decref(over);
    if (rc) {
        fprintf(stderr, "mird: %s\n", err);
        return 1;
    }
    Mird m;
    if (mird_create(&m, &cfg, 1, 1, 1, 1, err)) {
        fprintf(stderr, "mird: %s: %s\n", in, err);
        return 1;
    }
    mird_init_weights(&m, seed); // what the file does not hold (the estimators) starts as mird init does
    rc = mird_load_file(&m, in, 1, &info, err) || mird_save_params(&m, out, err);
    if (rc) {
        fprintf(stderr, "mird: %s\n", err);
        mird_free(&m);
        return 1;
    }
    fprintf(stderr, "mird: import-torch: %s: %s%s%s, %d tensors -> %s: fusion %s, text encoder %s, hidden %d, %d layers, "
                    "%d heads, vocabulary %d, d_a %d, d_v %d\n",
            in, info.whole_module ? "whole module " : "state_dict", info.whole_module ? info.root_class : "",
            info.torch ? "" : " (safetensors)", info.n_tensors, out, cfg.fusion == MIRD_FUSION_WA ? "WA" : "WSA",
            cfg.text_encoder == MIRD_TEXT_LSTM ? "lstm" : "bert", cfg.bert.hidden_size, cfg.bert.num_hidden_layers,
            cfg.bert.num_attention_heads, cfg.bert.vocab_size, cfg.d_a, cfg.d_v);
    if (info.n_est == 0)
        fprintf(stderr, "mird: import-torch: the six CLUB estimators are not in %s (the authors' scripts keep them "
                        "outside the saved model): initialised as `mird init --seed %llu` does\n", in, seed);
    else if (info.n_est < m.est.n)
        fprintf(stderr, "mird: import-torch: %d of the %d CLUB estimator tensors are in %s; the others initialised "
                        "as `mird init --seed %llu` does\n", info.n_est, m.est.n, in, seed);
    if (info.n_ignored)
        fprintf(stderr, "mird: import-torch: %d tensor%s of %s not used by the model (e.g. %s)\n", info.n_ignored,
                info.n_ignored > 1 ? "s" : "", in, info.ignored[0]);
    mird_free(&m);
    return 0;
}
