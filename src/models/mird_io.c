// mird_io.c: MIRD parameters from / to a safetensors checkpoint (official names, config in the
// metadata under "mird.config"), see mird.h.
#include <stdlib.h>
#include <string.h>

#include "core/common.h"
#include "io/safetensors.h"
#include "models/mird.h"

int mird_config_from_checkpoint(MirdConfig *c, const char *path, char *err) {
    StFile f;
    if (st_open(&f, path, err)) return -1;
    const char *s = st_meta(&f, "mird.config");
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
    st_close(&f);
    return rc;
}

static int load_set(ParamSet *ps, const StFile *f, const char *path, int allow_missing, char *err) {
    for (int i = 0; i < ps->n; i++) {
        const ParamInfo *pi = &ps->p[i];
        const StTensor *t = st_find(f, pi->name);
        if (!t) {
            if (allow_missing) continue;
            return errf(err, "%s: tensor %s is missing", path, pi->name);
        }
        int ok = t->ndim == pi->ndim;
        for (int d = 0; ok && d < t->ndim; d++) ok = t->shape[d] == pi->shape[d];
        if (!ok) {
            char want[128] = "", got[128] = "";
            for (int d = 0; d < pi->ndim; d++)
                snprintf(want + strlen(want), sizeof(want) - strlen(want), "%s%lld", d ? "," : "",
                         (long long)pi->shape[d]);
            for (int d = 0; d < t->ndim; d++)
                snprintf(got + strlen(got), sizeof(got) - strlen(got), "%s%lld", d ? "," : "", (long long)t->shape[d]);
            return errf(err, "%s: tensor %s has shape [%s], the model needs [%s]", path, pi->name, got, want);
        }
        if (st_to_f32(f, t, ps->data + pi->offset, pi->numel, err)) return -1;
    }
    return 0;
}

int mird_load_params(Mird *m, const char *path, int allow_missing, char *err) {
    StFile f;
    if (st_open(&f, path, err)) return -1;
    int rc = load_set(&m->params, &f, path, allow_missing, err);
    if (!rc) rc = load_set(&m->est, &f, path, allow_missing, err);
    st_close(&f);
    return rc;
}

static void add_set(StWriter *w, const ParamSet *ps) {
    for (int i = 0; i < ps->n; i++) {
        const ParamInfo *pi = &ps->p[i];
        stw_add_f32(w, pi->name, pi->ndim, pi->shape, ps->data + pi->offset);
    }
}

int mird_save_params(const Mird *m, const char *path, char *err) {
    StWriter w;
    stw_init(&w);
    add_set(&w, &m->params);
    add_set(&w, &m->est);
    char *cfg = mird_config_to_string(&m->cfg);
    stw_meta(&w, "mird.config", cfg);
    free(cfg);
    int rc = stw_write(&w, path, err);
    stw_free(&w);
    return rc;
}
