// mird_config.h: the MIRD model configuration (INTERFACES.md section 1). Every key is optional;
// the defaults are the paper's model (MIRD.md). The "bert" block is a Hugging Face BERT
// config.json (parsed by bert_config_from_json; unknown keys ignored). Unknown top-level keys are
// ignored too (like HF configs), but known keys with a wrong type or value are errors.
#pragma once
#include <jansson.h>

#include "models/bert.h"

typedef enum { MIRD_FUSION_WSA = 0, MIRD_FUSION_WA = 1 } MirdFusion;          // sparsemax / softmax
typedef enum { MIRD_TEXT_BERT = 0, MIRD_TEXT_LSTM = 1 } MirdTextEncoder;      // encoder_l kind

// Fixed by the authors' TextLSTMEncoder(30522, 128, 64): the embedding width of the LSTM text encoder.
#define MIRD_TEXT_LSTM_EMB 128

typedef struct {
    BertConfig bert;             // both BERTs (encoder_l.bert, mult_encoder.model)
    int d_a, d_v;                // 33, 709: acoustic / visual feature sizes
    int zy_size, zl_size, za_size, zv_size; // 64 each: z_S, z_L, z_A, z_V
    int club_hidden;             // 32: CLUB networks use club_hidden / 2 hidden units
    float beta_shift;            // 1.0: WSA alpha scale
    MirdFusion fusion;           // "WSA" (sparsemax) or "WA" (softmax)
    MirdTextEncoder text_encoder;// "bert" or "lstm"
    float dropout_prob;          // 0.5: WSA output dropout
    float dropout_l;             // 0.5: before encoder_l.encoder
    float dropout_multi;         // 0.5: before mult_encoder.encoder
    float zy_to_y_dropout;       // 0.5: regressor dropout
} MirdConfig;

void mird_config_default(MirdConfig *c);
// From a JSON object (defaults for absent keys), then validated. 0 or -1 with err.
int mird_config_from_json(MirdConfig *c, const json_t *obj, char *err);
// From JSON text; `what` names the source in messages (a file name or "checkpoint metadata").
int mird_config_from_string(MirdConfig *c, const char *text, const char *what, char *err);
// From a JSON file.
int mird_config_load(MirdConfig *c, const char *path, char *err);
int mird_config_validate(const MirdConfig *c, char *err);
// The fully resolved configuration as a new JSON object (caller owns it) / a malloc'd compact string.
json_t *mird_config_to_json(const MirdConfig *c);
char *mird_config_to_string(const MirdConfig *c);
