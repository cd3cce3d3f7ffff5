// checkpoint.c: see checkpoint.h.
#include "io/checkpoint.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#define CONFIG_KEY "mird.config"

void ckpt_add_params(StWriter *w, const ParamSet *layout, const float *buf, const char *prefix) {
    char name[PARAM_NAME_MAX + 256];
    for (int i = 0; i < layout->n; i++) {
        const ParamInfo *p = &layout->p[i];
        snprintf(name, sizeof(name), "%s%s", prefix ? prefix : "", p->name);
        stw_add_f32(w, name, p->ndim, p->shape, buf + p->offset);
    }
}

int checkpoint_save(const char *path, const ParamSet *ps, const char *config_json, const StWriter *extra,
                    char *err) {
    if (!ps->data) return errf(err, "%s: internal error: parameters not allocated", path);
    json_error_t je;
    json_t *cfg = json_loads(config_json ? config_json : "", 0, &je);
    if (!json_is_object(cfg)) {
        json_decref(cfg);
        return errf(err, "%s: model configuration is not a JSON object", path);
    }
    json_decref(cfg);
    StWriter w;
    stw_init(&w);
    ckpt_add_params(&w, ps, ps->data, "");
    if (extra) {
        for (int i = 0; i < extra->n; i++) {
            const StwEntry *e = &extra->e[i];
            stw_add(&w, e->name, e->dtype, e->ndim, e->shape, e->data);
        }
        for (int i = 0; i < extra->n_meta; i++) stw_meta(&w, extra->meta_key[i], extra->meta_val[i]);
    }
    stw_meta(&w, CONFIG_KEY, config_json);
    int rc = stw_write(&w, path, err);
    stw_free(&w);
    return rc;
}

static void shape_str(char *s, size_t cap, int ndim, const int64_t *shape) {
    size_t k = (size_t)snprintf(s, cap, "[");
    for (int d = 0; d < ndim && k < cap; d++) k += (size_t)snprintf(s + k, cap - k, "%s%lld", d ? ", " : "", (long long)shape[d]);
    if (k < cap) snprintf(s + k, cap - k, "]");
}

int ckpt_check_tensor(const char *path, const char *name, StDtype dtype, int ndim, const int64_t *shape,
                      const ParamInfo *p, char *err) {
    int same = ndim == p->ndim;
    for (int d = 0; same && d < p->ndim; d++) same = shape[d] == p->shape[d];
    if (!same) {
        char a[128], b[128];
        shape_str(a, sizeof(a), ndim, shape);
        shape_str(b, sizeof(b), p->ndim, p->shape);
        return errf(err, "%s: tensor '%s' has shape %s, the model expects %s", path, name, a, b);
    }
    if (dtype != ST_F32 && dtype != ST_F16 && dtype != ST_BF16 && dtype != ST_F64)
        return errf(err, "%s: tensor '%s' is %s, expected a floating type", path, name, st_dtype_name(dtype));
    return 0;
}

int ckpt_load_tensor(const StFile *f, const ParamInfo *p, const char *name, float *dst, char *err) {
    const StTensor *t = st_find(f, name);
    if (!t) return errf(err, "%s: missing tensor '%s'", f->path, name);
    if (ckpt_check_tensor(f->path, name, t->dtype, t->ndim, t->shape, p, err)) return -1;
    return st_to_f32(f, t, dst, p->numel, err) != 0 ? -1 : 0;
}

int ckpt_load_params(const StFile *f, const ParamSet *layout, float *buf, const char *prefix, char *err) {
    char name[PARAM_NAME_MAX + 256];
    for (int i = 0; i < layout->n; i++) {
        const ParamInfo *p = &layout->p[i];
        snprintf(name, sizeof(name), "%s%s", prefix ? prefix : "", p->name);
        if (ckpt_load_tensor(f, p, name, buf + p->offset, err)) return -1;
    }
    return 0;
}

int checkpoint_load(const char *path, ParamSet *ps, char **config_out, char *err) {
    if (config_out) *config_out = NULL;
    StFile f;
    if (st_open(&f, path, err) != 0) return -1;
    if (!ps->data) params_alloc(ps);
    int rc = ckpt_load_params(&f, ps, ps->data, "", err);
    if (rc == 0 && config_out) {
        const char *c = st_meta(&f, CONFIG_KEY);
        *config_out = c ? xstrdup(c) : NULL;
    }
    st_close(&f);
    return rc;
}

int checkpoint_read_config(const char *path, char **config_out, char *err) {
    *config_out = NULL;
    StFile f;
    if (st_open(&f, path, err) != 0) return -1;
    const char *c = st_meta(&f, CONFIG_KEY);
    *config_out = c ? xstrdup(c) : NULL;
    st_close(&f);
    return 0;
}

int checkpoint_inspect_json(const char *path, FILE *out, char *err) {
    StFile f;
    if (st_open(&f, path, err) != 0) return -1;
    json_t *cfg = json_null();
    const char *c = st_meta(&f, CONFIG_KEY);
    if (c) {
        json_error_t je;
        json_decref(cfg);
        cfg = json_loads(c, 0, &je);
        if (!json_is_object(cfg)) {
            json_decref(cfg);
            st_close(&f);
            return errf(err, "%s: __metadata__[\"" CONFIG_KEY "\"] is not a JSON object", path);
        }
    }
    json_t *root = json_object(), *tens = json_object();
    json_object_set_new(root, "format", json_string("checkpoint"));
    json_object_set_new(root, "config", cfg);
    for (int i = 0; i < st_count(&f); i++) {
        const StTensor *t = st_tensor(&f, i);
        json_t *s = json_array();
        for (int d = 0; d < t->ndim; d++) json_array_append_new(s, json_integer(t->shape[d]));
        json_object_set_new(tens, t->name, s);
    }
    json_object_set_new(root, "tensors", tens);
    st_close(&f);
    int rc = json_dumpf(root, out, JSON_PRESERVE_ORDER | JSON_INDENT(0) | JSON_COMPACT);
    json_decref(root);
    if (rc != 0 || fputc('\n', out) == EOF) return errf(err, "%s: cannot write the inspection output", path);
    return 0;
}
