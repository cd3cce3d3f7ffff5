// cmd_inspect.c: `mird inspect [--json] FILE`: what a dataset file (MIRD / MMSA / unlabeled pickle,
// or a .mird file) or a checkpoint (safetensors) holds, as one JSON object on stdout
// (INTERFACES.md section 4). Dataset pickles are read without executing anything.
#include <jansson.h>
#include <string.h>

#include "cli/commands.h"
#include "core/common.h"
#include "data/dataset.h"
#include "io/checkpoint.h"

static void inspect_usage(FILE *f) {
    fprintf(f, "usage: mird inspect [--json] FILE\n"
               "  FILE: a dataset pickle (MIRD, MMSA or unlabeled), a .mird dataset file, or a checkpoint\n"
               "  prints one JSON object: {\"format\", \"splits\": {...}} or {\"format\": \"checkpoint\", ...}\n");
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
