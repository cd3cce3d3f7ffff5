// bert_config.c: BertConfig from / to a Hugging Face config.json object (jansson).
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/common.h"
#include "models/bert.h"

void bert_config_default(BertConfig *c) {
    c->vocab_size = 30522;
    c->hidden_size = 768;
    c->num_hidden_layers = 12;
    c->num_attention_heads = 12;
    c->intermediate_size = 3072;
    c->hidden_dropout_prob = 0.1f;
    c->attention_probs_dropout_prob = 0.1f;
    c->max_position_embeddings = 512;
    c->type_vocab_size = 2;
    c->layer_norm_eps = 1e-12f;
    c->pad_token_id = 0;
    c->initializer_range = 0.02f;
}

// An integer key: absent keeps the default; present must be a JSON integer in int range.
static int get_int(const json_t *obj, const char *key, int *dst, char *err) {
    json_t *v = json_object_get(obj, key);
    if (!v) return 0;
    if (!json_is_integer(v)) return errf(err, "bert config: %s must be an integer", key);
    json_int_t x = json_integer_value(v);
    if (x < -2147483647 || x > 2147483647) return errf(err, "bert config: %s out of range", key);
    *dst = (int)x;
    return 0;
}

static int get_float(const json_t *obj, const char *key, float *dst, char *err) {
    json_t *v = json_object_get(obj, key);
    if (!v) return 0;
    if (!json_is_number(v)) return errf(err, "bert config: %s must be a number", key);
    double x = json_number_value(v);
    if (!isfinite(x) || fabs(x) > FLT_MAX) // 8e41 would become an infinite float (found by fuzzing)
        return errf(err, "bert config: %s must be a finite float32 value", key);
    *dst = (float)x;
    return 0;
}

int bert_config_from_json(BertConfig *c, const json_t *obj, char *err) {
    bert_config_default(c);
    if (!json_is_object(obj)) return errf(err, "bert config: not a JSON object");
    if (get_int(obj, "vocab_size", &c->vocab_size, err) || get_int(obj, "hidden_size", &c->hidden_size, err) ||
        get_int(obj, "num_hidden_layers", &c->num_hidden_layers, err) ||
        get_int(obj, "num_attention_heads", &c->num_attention_heads, err) ||
        get_int(obj, "intermediate_size", &c->intermediate_size, err) ||
        get_float(obj, "hidden_dropout_prob", &c->hidden_dropout_prob, err) ||
        get_float(obj, "attention_probs_dropout_prob", &c->attention_probs_dropout_prob, err) ||
        get_int(obj, "max_position_embeddings", &c->max_position_embeddings, err) ||
        get_int(obj, "type_vocab_size", &c->type_vocab_size, err) ||
        get_float(obj, "layer_norm_eps", &c->layer_norm_eps, err) ||
        get_float(obj, "initializer_range", &c->initializer_range, err))
        return -1;
    json_t *pad = json_object_get(obj, "pad_token_id");
    if (pad && json_is_null(pad))
        c->pad_token_id = -1; // HF: padding_idx None
    else if (get_int(obj, "pad_token_id", &c->pad_token_id, err))
        return -1;
    json_t *act = json_object_get(obj, "hidden_act");
    if (act && !(json_is_string(act) && !strcmp(json_string_value(act), "gelu")))
        return errf(err, "bert config: hidden_act %s%s%s is not supported (only \"gelu\", the exact erf GELU)",
                    json_is_string(act) ? "\"" : "", json_is_string(act) ? json_string_value(act) : "(not a string)",
                    json_is_string(act) ? "\"" : "");
    json_t *pet = json_object_get(obj, "position_embedding_type");
    if (pet && !(json_is_string(pet) && !strcmp(json_string_value(pet), "absolute")))
        return errf(err, "bert config: position_embedding_type must be \"absolute\" (the only one supported)");
    return bert_config_validate(c, err);
}

enum { BERT_MAX_LAYERS = 1000 };

int bert_config_validate(const BertConfig *c, char *err) {
    const struct {
        const char *name;
        int v;
    } pos[] = {{"vocab_size", c->vocab_size},
               {"hidden_size", c->hidden_size},
               {"num_hidden_layers", c->num_hidden_layers},
               {"num_attention_heads", c->num_attention_heads},
               {"intermediate_size", c->intermediate_size},
               {"max_position_embeddings", c->max_position_embeddings},
               {"type_vocab_size", c->type_vocab_size}};
    for (size_t i = 0; i < sizeof(pos) / sizeof(pos[0]); i++)
        if (pos[i].v <= 0) return errf(err, "bert config: %s must be positive (got %d)", pos[i].name, pos[i].v);
    // An upper bound (hostile-input testing): registering L layers costs O(L^2) (by-name parameter lookup),
    // so a config.json declaring 10^8 layers made `mird init` spin for hours instead of failing.
    if (c->num_hidden_layers > BERT_MAX_LAYERS)
        return errf(err, "bert config: num_hidden_layers %d is too large (at most %d)", c->num_hidden_layers,
                    BERT_MAX_LAYERS);
    if (c->hidden_size % c->num_attention_heads)
        return errf(err, "bert config: hidden_size %d is not a multiple of num_attention_heads %d", c->hidden_size,
                    c->num_attention_heads);
    if (!(c->hidden_dropout_prob >= 0 && c->hidden_dropout_prob < 1))
        return errf(err, "bert config: hidden_dropout_prob must be in [0, 1)");
    if (!(c->attention_probs_dropout_prob >= 0 && c->attention_probs_dropout_prob < 1))
        return errf(err, "bert config: attention_probs_dropout_prob must be in [0, 1)");
    if (!(c->layer_norm_eps > 0)) return errf(err, "bert config: layer_norm_eps must be positive");
    if (!(c->initializer_range >= 0)) return errf(err, "bert config: initializer_range must be non-negative");
    if (c->pad_token_id < -1 || c->pad_token_id >= c->vocab_size)
        return errf(err, "bert config: pad_token_id %d outside the vocabulary (size %d)", c->pad_token_id,
                    c->vocab_size);
    return 0;
}

// The shortest decimal that reads back as the same float (0.1f -> 0.1, not 0.10000000149...).
static json_t *real_f(float x) {
    char buf[64];
    for (int prec = 6; prec <= 9; prec++) {
        snprintf(buf, sizeof(buf), "%.*g", prec, (double)x);
        if ((float)strtod(buf, NULL) == x) break;
    }
    return json_real(strtod(buf, NULL));
}

json_t *bert_config_to_json(const BertConfig *c) {
    json_t *o = json_object();
    json_object_set_new(o, "model_type", json_string("bert"));
    json_object_set_new(o, "vocab_size", json_integer(c->vocab_size));
    json_object_set_new(o, "hidden_size", json_integer(c->hidden_size));
    json_object_set_new(o, "num_hidden_layers", json_integer(c->num_hidden_layers));
    json_object_set_new(o, "num_attention_heads", json_integer(c->num_attention_heads));
    json_object_set_new(o, "intermediate_size", json_integer(c->intermediate_size));
    json_object_set_new(o, "hidden_act", json_string("gelu"));
    json_object_set_new(o, "hidden_dropout_prob", real_f(c->hidden_dropout_prob));
    json_object_set_new(o, "attention_probs_dropout_prob", real_f(c->attention_probs_dropout_prob));
    json_object_set_new(o, "max_position_embeddings", json_integer(c->max_position_embeddings));
    json_object_set_new(o, "type_vocab_size", json_integer(c->type_vocab_size));
    json_object_set_new(o, "initializer_range", real_f(c->initializer_range));
    json_object_set_new(o, "layer_norm_eps", real_f(c->layer_norm_eps));
    json_object_set_new(o, "pad_token_id", c->pad_token_id < 0 ? json_null() : json_integer(c->pad_token_id));
    json_object_set_new(o, "position_embedding_type", json_string("absolute"));
    return o;
}
