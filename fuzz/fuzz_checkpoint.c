// fuzz_checkpoint.c: loading a MIRD checkpoint (io/checkpoint.h) from arbitrary bytes: by-name
// loading into a small fixed model layout (shape / dtype checks, conversions), the configuration
// string, and `mird inspect --json`'s rendering (checkpoint_inspect_json, output discarded).
// The path-taking functions read the input from an in-memory file (fuzz_util.h).
#include <string.h>

#include "core/common.h"
#include "core/params.h"
#include "fuzz_util.h"
#include "io/checkpoint.h"

static ParamSet layout;

static void make_layout(ParamSet *ps) {
    params_init(ps);
    params_add2(ps, "encoder_l.bert.embeddings.word_embeddings.weight", 11, 4);
    params_add1(ps, "zy_to_y_fc1.bias", 3);
    params_add2(ps, "club_la.p_mu.0.weight", 5, 7);
    int64_t s4[4] = {2, 1, 3, 2};
    params_add(ps, "conv.weight", 4, s4);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char err[MIRD_ERRLEN];
    if (!layout.p) {
        make_layout(&layout);
        params_alloc(&layout);
    }
    err[0] = 0;
    StFile f;
    if (st_parse(&f, data, size, "fuzz.safetensors", err) == 0) {
        if (ckpt_load_params(&f, &layout, layout.data, "", err) != 0) fuzz_check_err(err);
        if (ckpt_load_params(&f, &layout, layout.grad, "optim.m.", err) != 0) fuzz_check_err(err);
        st_close(&f);
    } else {
        fuzz_check_err(err);
    }

    const char *path = fuzz_memfile(data, size);
    ParamSet ps;
    make_layout(&ps);
    char *cfg = NULL;
    if (checkpoint_load(path, &ps, &cfg, err) != 0) fuzz_check_err(err);
    free(cfg);
    params_free(&ps);
    cfg = NULL;
    if (checkpoint_read_config(path, &cfg, err) != 0) fuzz_check_err(err);
    free(cfg);
    if (checkpoint_inspect_json(path, fuzz_devnull(), err) != 0) fuzz_check_err(err);
    return 0;
}
