// hf_import.h: import a pretrained Hugging Face BERT model directory (INTERFACES.md section 2):
// config.json, vocab.txt, and model.safetensors or else pytorch_model.bin (torch.save zip format).
// Weight names may carry a "bert." prefix (BertForPreTraining, BertForMaskedLM, ...) or none
// (BertModel); old TF-converted names LayerNorm.gamma / LayerNorm.beta stand for
// LayerNorm.weight / LayerNorm.bias; anything else (cls.* heads, position_ids buffers) is ignored.
// Every BertModel tensor must be present with the shape config.json implies; float32 tensors are
// copied bit-exactly, float16 / bfloat16 / float64 ones converted to float32.
#pragma once
#include <jansson.h>

#include "core/common.h"
#include "core/params.h"
#include "models/bert.h"

// Read DIR/config.json with bert_config_from_json and check that DIR/vocab.txt exists.
// raw (may be NULL) receives the parsed config.json object (caller json_decref()s it).
int hf_bert_read_config(const char *dir, BertConfig *cfg, json_t **raw, char *err);

// Copy the weights of DIR into ps under each of the n_prefixes prefixes (e.g. "encoder_l.bert."
// and "mult_encoder.model."): ps must be allocated and hold, under every prefix, each BertModel
// tensor name with DIR's config shapes (as bert_register makes them). The weights are read once.
// Errors name the missing or mis-shaped tensor (in the directory or in ps).
int hf_bert_import(const char *dir, ParamSet *ps, const char *const *prefixes, int n_prefixes, char *err);
