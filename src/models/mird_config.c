// mird_config.c: MirdConfig from / to JSON (jansson). See mird_config.h.
#include "models/mird_config.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/common.h"

void mird_config_default(MirdConfig *c) {
    memset(c, 0, sizeof(*c));
    bert_config_default(&c->bert);
    c->d_a = 33;
    c->d_v = 709;
    c->zy_size = c->zl_size = c->za_size = c->zv_size = 64;
    c->club_hidden = 32;
    c->beta_shift = 1.0f;
    c->fusion = MIRD_FUSION_WSA;
    c->text_encoder = MIRD_TEXT_BERT;
    c->dropout_prob = c->dropout_l = c->dropout_multi = c->zy_to_y_dropout = 0.5f;
}

static int get_int(const json_t *obj, const char *key, int *dst, const char *what, char *err) {
    json_t *v = json_object_get(obj, key);
    if (!v) return 0;
    if (!json_is_integer(v)) return errf(err, "%s: %s must be an integer", what, key);
    json_int_t x = json_integer_value(v);
    if (x < 1 || x > 1000000000) return errf(err, "%s: %s must be a positive integer", what, key);
    *dst = (int)x;
    return 0;
}

static int get_float(const json_t *obj, const char *key, float *dst, const char *what, char *err) {
    json_t *v = json_object_get(obj, key);
    if (!v) return 0;
    if (!json_is_number(v)) return errf(err, "%s: %s must be a number", what, key);
    double x = json_number_value(v);
    if (!isfinite(x) || fabs(x) > FLT_MAX) // 8e41 would become an infinite float (found by fuzzing)
        return errf(err, "%s: %s must be a finite float32 value", what, key);
    *dst = (float)x;
    return 0;
}

static int get_choice(const json_t *obj, const char *key, const char *a, const char *b, int *dst,
                      const char *what, char *err) {
    json_t *v = json_object_get(obj, key);
    if (!v) return 0;
    if (json_is_string(v) && !strcmp(json_string_value(v), a)) *dst = 0;
    else if (json_is_string(v) && !strcmp(json_string_value(v), b)) *dst = 1;
    else return errf(err, "%s: %s must be \"%s\" or \"%s\"", what, key, a, b);
    return 0;
}

static int from_json(MirdConfig *c, const json_t *obj, const char *what, char *err) {
    mird_config_default(c);
    if (!json_is_object(obj)) return errf(err, "%s: the model configuration must be a JSON object", what);
    json_t *bert = json_object_get(obj, "bert");
    if (bert && !json_is_null(bert)) {
        char e2[MIRD_ERRLEN];
        if (bert_config_from_json(&c->bert, bert, e2)) return errf(err, "%s: %s", what, e2);
    }
    int fusion = 0, text = 0;
    if (get_int(obj, "d_a", &c->d_a, what, err) || get_int(obj, "d_v", &c->d_v, what, err) ||
        get_int(obj, "zy_size", &c->zy_size, what, err) || get_int(obj, "zl_size", &c->zl_size, what, err) ||
        get_int(obj, "za_size", &c->za_size, what, err) || get_int(obj, "zv_size", &c->zv_size, what, err) ||
        get_int(obj, "club_hidden", &c->club_hidden, what, err) ||
        get_float(obj, "beta_shift", &c->beta_shift, what, err) ||
        get_choice(obj, "fusion", "WSA", "WA", &fusion, what, err) ||
        get_choice(obj, "text_encoder", "bert", "lstm", &text, what, err) ||
        get_float(obj, "dropout_prob", &c->dropout_prob, what, err) ||
        get_float(obj, "dropout_l", &c->dropout_l, what, err) ||
        get_float(obj, "dropout_multi", &c->dropout_multi, what, err) ||
        get_float(obj, "zy_to_y_dropout", &c->zy_to_y_dropout, what, err))
        return -1;
    c->fusion = (MirdFusion)fusion;
    c->text_encoder = (MirdTextEncoder)text;
    char e2[MIRD_ERRLEN];
    if (mird_config_validate(c, e2)) return errf(err, "%s: %s", what, e2);
    return 0;
}

int mird_config_from_json(MirdConfig *c, const json_t *obj, char *err) {
    return from_json(c, obj, "model configuration", err);
}

int mird_config_from_string(MirdConfig *c, const char *text, const char *what, char *err) {
    json_error_t je;
    json_t *obj = json_loads(text, 0, &je);
    if (!obj) return errf(err, "%s: invalid JSON at line %d: %s", what, je.line, je.text);
    int rc = from_json(c, obj, what, err);
    json_decref(obj);
    return rc;
}

int mird_config_load(MirdConfig *c, const char *path, char *err) {
    char *text;
    size_t len;
    if (read_file_all(path, &text, &len, err)) return -1;
    int rc = mird_config_from_string(c, text, path, err);
    free(text);
    return rc;
}

int mird_config_validate(const MirdConfig *c, char *err) {
    char e2[MIRD_ERRLEN];
    if (bert_config_validate(&c->bert, e2)) return errf(err, "%s", e2);
    if (c->d_a < 1 || c->d_v < 1 || c->zy_size < 1 || c->zl_size < 1 || c->za_size < 1 || c->zv_size < 1)
        return errf(err, "sizes must be positive");
    if (c->club_hidden < 2) return errf(err, "club_hidden must be at least 2 (the networks use club_hidden / 2)");
    if (!(c->beta_shift >= 0) || !isfinite(c->beta_shift)) return errf(err, "beta_shift must be finite and >= 0");
    const float d[4] = {c->dropout_prob, c->dropout_l, c->dropout_multi, c->zy_to_y_dropout};
    for (int i = 0; i < 4; i++)
        if (!(d[i] >= 0 && d[i] < 1)) return errf(err, "dropout probabilities must lie in [0, 1)");
    return 0;
}

json_t *mird_config_to_json(const MirdConfig *c) {
    json_t *o = json_object();
    json_object_set_new(o, "bert", bert_config_to_json(&c->bert));
    json_object_set_new(o, "d_a", json_integer(c->d_a));
    json_object_set_new(o, "d_v", json_integer(c->d_v));
    json_object_set_new(o, "zy_size", json_integer(c->zy_size));
    json_object_set_new(o, "zl_size", json_integer(c->zl_size));
    json_object_set_new(o, "za_size", json_integer(c->za_size));
    json_object_set_new(o, "zv_size", json_integer(c->zv_size));
    json_object_set_new(o, "club_hidden", json_integer(c->club_hidden));
    json_object_set_new(o, "beta_shift", json_real(c->beta_shift));
    json_object_set_new(o, "fusion", json_string(c->fusion == MIRD_FUSION_WA ? "WA" : "WSA"));
    json_object_set_new(o, "text_encoder", json_string(c->text_encoder == MIRD_TEXT_LSTM ? "lstm" : "bert"));
    json_object_set_new(o, "dropout_prob", json_real(c->dropout_prob));
    json_object_set_new(o, "dropout_l", json_real(c->dropout_l));
    json_object_set_new(o, "dropout_multi", json_real(c->dropout_multi));
    json_object_set_new(o, "zy_to_y_dropout", json_real(c->zy_to_y_dropout));
    return o;
}

char *mird_config_to_string(const MirdConfig *c) {
    json_t *o = mird_config_to_json(c);
    char *s = json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(9));
    json_decref(o);
    if (!s) {
        fprintf(stderr, "mird: out of memory\n");
        exit(1);
    }
    return s;
}
