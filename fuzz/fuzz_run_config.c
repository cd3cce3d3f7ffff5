// fuzz_run_config.c: the run configuration of `mird train` (train/runconfig.h) from arbitrary bytes.
// The input is a JSON object (what --config RUN.json holds) up to the first NUL byte; the bytes
// after it are NUL-separated command-line arguments applied on top (runconfig_parse_args, with
// "--config" arguments renamed so that the fuzzer cannot make it read files), then validation and
// the resolved configuration's JSON.
#include <string.h>

#include "core/common.h"
#include "fuzz_util.h"
#include "train/runconfig.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char err[MIRD_ERRLEN];
    static RunConfig c; // big (paths): static, not on the stack
    runconfig_defaults(&c);
    const uint8_t *nul = memchr(data, 0, size);
    size_t jn = nul ? (size_t)(nul - data) : size;
    json_error_t je;
    json_t *j = json_loadb((const char *)data, jn, 0, &je);
    if (j) {
        if (runconfig_apply_json(&c, j, "fuzz.json", err) != 0) fuzz_check_err(err);
        json_decref(j);
    }
    if (nul) {
        size_t rest = size - jn - 1;
        char *args = malloc(rest + 1);
        memcpy(args, nul + 1, rest);
        args[rest] = 0;
        char *argv[65];
        int argc = 0;
        argv[argc++] = "train";
        for (char *p = args; p < args + rest && argc < 64; p += strlen(p) + 1) {
            if (!strcmp(p, "--config") || !strncmp(p, "--config=", 9)) p[2] = 'X';
            argv[argc++] = p;
        }
        argv[argc] = NULL;
        int r = runconfig_parse_args(&c, argc, argv, err);
        if (r < 0) fuzz_check_err(err);
        free(args);
    }
    if (runconfig_validate(&c, err) != 0) fuzz_check_err(err);
    json_t *out = runconfig_to_json(&c);
    char *s = json_dumps(out, 0);
    if (!s) abort();
    free(s);
    json_decref(out);
    return 0;
}
