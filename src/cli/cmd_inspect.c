// cmd_inspect.c: `mird inspect [--json] FILE`: what a dataset file (MIRD / MMSA / unlabeled pickle,
// or a .mird file) or a checkpoint (safetensors) holds, as one JSON object on stdout
// (INTERFACES.md section 4). Dataset pickles are read without executing anything.
#include <jansson.h>
#include <string.h>

#include "cli/commands.h"
#include "core/common.h"
#include "data/dataset.h"
#include "io/checkpoint.h"
#include "io/torch_load.h"
#include "models/mird.h"

static void inspect_usage(FILE *f) {
    fprintf(f, "usage: mird inspect [--json] FILE\n"
               "  FILE: a dataset pickle (MIRD, MMSA or unlabeled), a .mird dataset file, a checkpoint, or a\n"
               "  torch.save file (the authors' model or state_dict, read without executing anything)\n"
               "  prints one JSON object: {\"format\", \"splits\": {...}}, {\"format\": \"checkpoint\", ...} or\n"
               "  {\"format\": \"torch\", \"whole_module\", \"root_class\", \"config\" (inferred), \"tensors\"}\n");
}

// A torch.save file: what it holds and the MIRD configuration mird infers from it (null, with
// config_error, when it is not a MIRD model).
static int inspect_torch(const char *path, char *err) {
    TorchFile f;
    if (mird_torch_open(&f, path, err)) return -1;
    json_t *o = json_object(), *t = json_object();
    json_object_set_new(o, "format", json_string("torch"));
    json_object_set_new(o, "whole_module", json_boolean(f.whole_module));
    json_object_set_new(o, "root_class", f.root_class ? json_string(f.root_class) : json_null());
    MirdConfig c;
    char e2[MIRD_ERRLEN];
    if (mird_config_of_file(&c, path, NULL, NULL, e2) == 0) json_object_set_new(o, "config", mird_config_to_json(&c));
    else json_object_set_new(o, "config", json_null()), json_object_set_new(o, "config_error", json_string(e2));
    for (int i = 0; i < f.n; i++) {
        json_t *s = json_array();
        for (int d = 0; d < f.t[i].ndim; d++) json_array_append_new(s, json_integer(f.t[i].shape[d]));
        json_object_set_new(t, f.t[i].name, s);
    }
    json_object_set_new(o, "tensors", t);
    torch_close(&f);
    int rc = json_dumpf(o, stdout, JSON_PRESERVE_ORDER | JSON_COMPACT);
    json_decref(o);
    if (rc != 0 || fputc('\n', stdout) == EOF || fflush(stdout)) return errf(err, "%s: cannot write the inspection output", path);
    return 0;
}

int cmd_inspect(int argc, char **argv) {
    const char *path = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            inspect_usage(stdout);
            return 0;
        } else if (!strcmp(argv[i], "--json")) {
            // the only output format
        } else if (argv[i][0] == '-' && argv[i][1]) {
            fprintf(stderr, "mird: inspect: unknown argument '%s' (see mird inspect --help)\n", argv[i]);
            return 2;
        } else if (!path) {
            path = argv[i];
        } else {
            fprintf(stderr, "mird: inspect: more than one FILE ('%s')\n", argv[i]);
            return 2;
        }
    }
    if (!path) {
        fprintf(stderr, "mird: inspect: FILE is required (see mird inspect --help)\n");
        return 2;
    }
    char err[MIRD_ERRLEN];
    if (mird_file_is_torch(path)) {
        if (inspect_torch(path, err)) {
            fprintf(stderr, "mird: %s\n", err);
            return 1;
        }
        return 0;
    }
    if (!dataset_file_is_pickle(path) && !dataset_file_is_mird(path)) {
        if (checkpoint_inspect_json(path, stdout, err)) {
            fprintf(stderr, "mird: %s\n", err);
            return 1;
        }
        return 0;
    }
    Dataset ds;
    if (dataset_load(&ds, path, NULL, err)) {
        fprintf(stderr, "mird: %s\n", err);
        return 1;
    }
    json_t *o = dataset_inspect(&ds);
    dataset_free(&ds);
    char *s = json_dumps(o, JSON_REAL_PRECISION(17));
    json_decref(o);
    printf("%s\n", s);
    free(s);
    return fflush(stdout) == 0 ? 0 : 1;
}
