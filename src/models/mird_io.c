// mird_io.c: MIRD parameters from / to a MIRD checkpoint (io/checkpoint.h: official names, F32,
// config in the metadata under "mird.config"), see mird.h.
#include <stdlib.h>
#include <string.h>

#include "core/common.h"
#include "io/checkpoint.h"
#include "models/mird.h"

int mird_config_from_checkpoint(MirdConfig *c, const char *path, char *err) {
    char *s;
    if (checkpoint_read_config(path, &s, err)) return -1;
    int rc;
    if (!s) {
        // e.g. a state_dict exported from the official PyTorch code: the paper's configuration
        mird_config_default(c);
        rc = 0;
    } else {
        char what[600];
        snprintf(what, sizeof(what), "%s (metadata mird.config)", path);
        rc = mird_config_from_string(c, s, what, err);
    }
    free(s);
    return rc;
}

// Every tensor of ps by name (shape and floating dtype checked by ckpt_load_tensor); with
// allow_missing, a tensor absent from the file keeps its current value.
static int load_set(ParamSet *ps, const StFile *f, int allow_missing, char *err) {
    if (!allow_missing) return ckpt_load_params(f, ps, ps->data, "", err);
    for (int i = 0; i < ps->n; i++) {
        const ParamInfo *pi = &ps->p[i];
        if (st_find(f, pi->name) && ckpt_load_tensor(f, pi, pi->name, ps->data + pi->offset, err)) return -1;
    }
    return 0;
}

int mird_load_params(Mird *m, const char *path, int allow_missing, char *err) {
    StFile f;
    if (st_open(&f, path, err)) return -1;
    int rc = load_set(&m->params, &f, allow_missing, err);
    if (!rc) rc = load_set(&m->est, &f, allow_missing, err);
    st_close(&f);
    return rc;
}

// The model parameters, then the estimators' (as "extra" tensors of the checkpoint).
int mird_save_params(const Mird *m, const char *path, char *err) {
    StWriter est;
    stw_init(&est);
    ckpt_add_params(&est, &m->est, m->est.data, "");
    char *cfg = mird_config_to_string(&m->cfg);
    int rc = checkpoint_save(path, &m->params, cfg, &est, err);
    free(cfg);
    stw_free(&est);
    return rc;
}
