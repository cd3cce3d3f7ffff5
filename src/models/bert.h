// bert.h: Hugging Face BertModel (embeddings -> N post-LayerNorm transformer layers -> pooler) in
// the llm.c style, with Hugging Face's exact semantics and parameter names, any size from a
// config.json. Forward/backward of each stage can be called separately (WSA-BERT replaces the
// embedding output by a fused one before the transformer stack).
//
// Semantics (HF BertModel, eval = no dropout when rng == NULL):
//   E   = Dropout(LayerNorm(word[ids] + pos[0..T-1] + type[types]))          (eps = layer_norm_eps)
//   per layer, x [B,T,H] -> y [B,T,H], NH heads of size hs = H / NH:
//     q,k,v = x Wq^T + bq, ...;  P = Dropout_attn(softmax(q k^T / sqrt(hs) + (1 - mask[key]) * -10000))
//     a  = LayerNorm(x + Dropout(ctx Wo^T + bo)),  ctx = P v (heads concatenated)
//     y  = LayerNorm(a + Dropout(gelu_erf(a W1^T + b1) W2^T + b2))
//   pooled = tanh(seq[:, 0] Wp^T + bp)
// The word-embedding row pad_token_id (padding_idx) never receives a gradient.
//
// Parameter names are HF's under a caller-given prefix P (e.g. "encoder_l.bert."):
//   P embeddings.{word,position,token_type}_embeddings.weight, P embeddings.LayerNorm.{weight,bias},
//   P encoder.layer.{i}.attention.self.{query,key,value}.{weight,bias},
//   P encoder.layer.{i}.attention.output.dense.{weight,bias}, ...attention.output.LayerNorm.{weight,bias},
//   P encoder.layer.{i}.intermediate.dense.{weight,bias}, P encoder.layer.{i}.output.dense.{weight,bias},
//   P encoder.layer.{i}.output.LayerNorm.{weight,bias}, P pooler.dense.{weight,bias}.
// Linear weights are [out, in] (PyTorch layout).
//
// Usage:
//   BertConfig c; bert_config_from_json(&c, obj, err);
//   Bert m; bert_register(&m, &ps, &c, "encoder_l.bert.");   ... register other params ...
//   params_alloc(&ps); bert_bind(&m, &ps);
//   BertActs a; bert_acts_init(&a, &c, Bmax, Tmax, err);
//   bert_forward(&m, &a, ids, types, mask, B, T, rng);        -> a.seq [B,T,H], a.pooled [B,H]
//   bert_backward(&m, &a, dseq, dpooled, ids, types, B, T);   -> grads accumulate into ps.grad
// Split use (WSA-BERT): bert_embeddings_forward -> (caller fuses a.emb_out into F) ->
//   bert_stack_forward(F) -> bert_pooler_forward; backward in reverse order, with
//   bert_stack_backward returning dF (accumulated) for the caller to route.
#pragma once
#include <stdint.h>

#include <jansson.h>

#include "core/params.h"
#include "core/rng.h"
#include "layers/layers.h"

typedef struct {
    int vocab_size;                     // 30522
    int hidden_size;                    // 768 (H)
    int num_hidden_layers;              // 12 (L)
    int num_attention_heads;            // 12 (NH)
    int intermediate_size;              // 3072 (I)
    float hidden_dropout_prob;          // 0.1
    float attention_probs_dropout_prob; // 0.1
    int max_position_embeddings;        // 512
    int type_vocab_size;                // 2
    float layer_norm_eps;               // 1e-12
    int pad_token_id;                   // 0 (word-embedding padding_idx; -1 = none, from JSON null)
    float initializer_range;            // 0.02 (std of the normal init, used by bert_init_weights)
} BertConfig;

// bert-base-uncased's values (the defaults for every key missing from a config.json).
void bert_config_default(BertConfig *c);
// Read a Hugging Face config.json object: starts from the defaults, reads the keys above
// (unknown keys are ignored), accepts hidden_act "gelu" only (exact erf GELU) and
// position_embedding_type "absolute" only, then validates (bert_config_validate).
// Returns 0, or -1 with a one-line message in err (size MIRD_ERRLEN).
int bert_config_from_json(BertConfig *c, const json_t *obj, char *err);
// Positive sizes, hidden_size % num_attention_heads == 0, dropouts in [0, 1), eps > 0,
// pad_token_id in [-1, vocab_size). Returns 0 or -1 with err.
int bert_config_validate(const BertConfig *c, char *err);
// A new JSON object holding every key above (HF names, plus hidden_act "gelu" and
// model_type "bert"); the caller owns the reference (json_decref).
json_t *bert_config_to_json(const BertConfig *c);

// Pointers to one layer's tensors (into ParamSet data, or into its grad buffer).
typedef struct {
    float *q_w, *q_b, *k_w, *k_b, *v_w, *v_b; // [H,H], [H] each
    float *ao_w, *ao_b;                       // attention.output.dense [H,H], [H]
    float *ln1_w, *ln1_b;                     // attention.output.LayerNorm [H]
    float *fc_w, *fc_b;                       // intermediate.dense [I,H], [I]
    float *proj_w, *proj_b;                   // output.dense [H,I], [H]
    float *ln2_w, *ln2_b;                     // output.LayerNorm [H]
} BertLayerW;

typedef struct {
    float *word, *pos, *type; // [V,H], [maxpos,H], [type_vocab,H]
    float *ln_w, *ln_b;       // embeddings.LayerNorm [H]
    BertLayerW *layer;        // [L]
    float *pool_w, *pool_b;   // pooler.dense [H,H], [H]
} BertWeights;

typedef struct {
    BertConfig cfg;
    char prefix[96];
    BertWeights w; // parameters (valid after bert_bind)
    BertWeights g; // their gradients in the ParamSet's grad buffer (valid after bert_bind)
} Bert;

// Register every BERT tensor (HF names with `prefix`, shapes from cfg) into ps. ps must not be
// allocated yet. prefix is copied (at most 95 chars, e.g. "encoder_l.bert." or "").
void bert_register(Bert *m, ParamSet *ps, const BertConfig *cfg, const char *prefix);
// After params_alloc(ps): look up the data and grad pointers of every tensor.
void bert_bind(Bert *m, const ParamSet *ps);
// HF BertPreTrainedModel-style init from rng: Linear and Embedding weights N(0, initializer_range),
// biases 0, LayerNorm weight 1 / bias 0. As MIRD.md specifies, the pad row is initialised like
// every other row (not zeroed).
void bert_init_weights(Bert *m, Rng *rng);
// Free what bert_register allocated (the layer pointer arrays; the ParamSet is the caller's).
void bert_free(Bert *m);

// Activations and backward scratch for at most Bmax x Tmax tokens, allocated once.
// Layer-stacked buffers are laid out [L][Bmax*Tmax][...]; a call with B <= Bmax, T <= Tmax uses
// the first B*T rows of each. Public outputs (read them, do not free):
//   emb_out [B,T,H]  E (embedding output, after LayerNorm and dropout)
//   seq     [B,T,H]  transformer stack output (= last layer's output LayerNorm)
//   pooled  [B,H]    pooler output
typedef struct {
    int Bmax, Tmax, L, H, I, NH;
    // embeddings
    float *emb_sum;               // [BT,H] word + pos + type (LayerNorm input)
    float *emb_mean, *emb_rstd;   // [BT]
    float *emb_ln;                // [BT,H] LayerNorm output (dropout input)
    float *emb_out;               // [BT,H]
    DropKey emb_drop;             // dropout of the last embeddings forward (thr 0 = none)
    // transformer stack, per layer (index l * BT * width). The stack runs on R0 rows: every token,
    // or with `varlen` only the tokens it must compute (see below), packed.
    float *mask_add;              // [R0] (1 - mask) * -10000 on keys; valid when has_mask
    int has_mask;
    float *q, *k, *v;             // [L,R0,H]
    float *probs;                 // [L,B,NH,T,T] softmax output (before attention dropout)
    float *ctx;                   // [L,R0,H] attention context (output dense input)
    float *res1;                  // [L,R0,H] x + dropout(dense(ctx)): first LayerNorm input
    float *ln1_mean, *ln1_rstd;   // [L,R0]
    float *ln1;                   // [L,R0,H] attention block output
    float *fc;                    // [L,R0,I] intermediate dense output (GELU input; the GELU output is
                                  // recomputed from it in the backward instead of stored)
    float *res2;                  // [L,R0,H] ln1 + dropout(dense(act)): second LayerNorm input
    float *ln2_mean, *ln2_rstd;   // [L,R0]
    float *ln2;                   // [L,R0,H] layer output; layer L-1's is `seq`
    float *seq;                   // = ln2 + (L-1) * BTmax * H
    DropKey *attn_drop, *ao_drop, *proj_drop; // [L] dropout keys of the last stack forward
    int stack_train;              // the last stack forward used dropout
    // Pooled-output-only mode (set by the caller after bert_acts_init; MIRD uses it): the pooler
    // reads only the [CLS] row, so the LAST layer computes keys and values for every token but its
    // queries, attention, output dense, feed-forward and LayerNorms for the B [CLS] rows only
    // (exactly the same numbers for those rows, about 1/6 of the layer's work). Then `seq` holds
    // the B [CLS] rows compactly ([B,H]), only `pooled` is a valid output, and the dseq given to
    // the backward must be zero outside the [CLS] rows (bert_backward with dseq NULL).
    int cls_only;
    int cls_last;                 // the last stack forward ran in cls_only mode
    // Padding skipped (set by the caller, with cls_only; MIRD's WSA-BERT uses it): with a 0/1 mask,
    // a masked token (mask 0) other than [CLS] at position 0 is a key every query gives weight
    // exp(-10000 + ...) = 0 in float, and the pooled output never reads its row: the stack computes
    // only the other R0 rows, packed (sequence b = rows seq_off[b] .. seq_off[b+1]-1). Same numbers
    // up to float summation order; the pads' gradients are exactly 0 either way.
    int varlen;
    int packed;                   // the last stack forward skipped padding
    int nrows;                    // R0 of the last stack forward
    int *seq_off;                 // [Bmax+1]
    int *rows;                    // [BT] packed row -> token index b * T + t
    float *xpack;                 // [BT,H] the stack input's packed rows
    // pooler
    float *pool_in;               // [B,H] seq[:, 0] (dense input)
    float *pool_pre;              // [B,H] dense output (tanh input)
    float *pooled;                // [B,H]
    // backward scratch (contents undefined between calls; the forward uses some as scratch too)
    float *dseq;                  // [BT,H] gradient w.r.t. seq inside bert_backward
    float *demb;                  // [BT,H] gradient w.r.t. emb_out inside bert_backward
    float *d_h[7];                // [BT,H] each
    float *d_i[2];                // [BT,I] each
    float *d_att;                 // [B,NH,T,T]
    float *block_;                // the single allocation behind the float buffers above
} BertActs;

// Allocate activations for at most Bmax x Tmax tokens. Fails (-1, err) when Tmax exceeds
// max_position_embeddings or a size is not positive.
int bert_acts_init(BertActs *a, const BertConfig *c, int Bmax, int Tmax, char *err);
void bert_acts_free(BertActs *a);

// Check token ids in [0, vocab_size) and types (may be NULL) in [0, type_vocab_size), T within
// max_position_embeddings. Returns 0 or -1 with err naming the first bad entry. The forward
// functions assume valid inputs (they do not check).
int bert_check_inputs(const BertConfig *c, const int32_t *ids, const int32_t *types, int B, int T, char *err);
// Convert an integer 0/1 attention mask to the float mask the stack takes.
void bert_mask_from_int(float *out, const int32_t *mask, long n);

// ---- (1) embeddings: ids[B,T], types[B,T] (NULL = all 0) -> a->emb_out [B,T,H].
// Position ids are 0..T-1. rng NULL = eval (no dropout); otherwise hidden_dropout_prob.
void bert_embeddings_forward(const Bert *m, BertActs *a, const int32_t *ids, const int32_t *types, int B, int T,
                             Rng *rng);
// demb [B,T,H]: gradient w.r.t. emb_out. Accumulates into the word/position/type tables (not the
// pad_token_id row) and the embeddings LayerNorm gradients. Uses d_h scratch.
void bert_embeddings_backward(const Bert *m, BertActs *a, const float *demb, const int32_t *ids,
                              const int32_t *types, int B, int T);

// ---- (2) transformer stack: x [B,T,H] -> a->seq [B,T,H].
// mask [B,T] float (1 = attend, 0 = masked key; any float works as in HF) or NULL = all ones
// (no masking term at all). x is NOT copied: it must stay unchanged until bert_stack_backward,
// and must not be one of a->d_h / a->d_i (scratch); a->emb_out or a caller buffer is fine.
// rng NULL = eval; otherwise hidden_dropout_prob and attention_probs_dropout_prob.
void bert_stack_forward(const Bert *m, BertActs *a, const float *x, const float *mask, int B, int T, Rng *rng);
// dseq [B,T,H]: gradient w.r.t. a->seq (the caller's own term plus what bert_pooler_backward added).
// dx [B,T,H]: gradient w.r.t. the stack input x, ACCUMULATED (+=); may be NULL.
// Parameter gradients accumulate into the ParamSet grad buffer. dseq is not modified (it may
// alias a->dseq). Uses d_h, d_i, d_att scratch.
void bert_stack_backward(const Bert *m, BertActs *a, float *dx, const float *dseq, const float *x, int B, int T);

// ---- (3) pooler: a->pooled [B,H] = tanh(a->seq[:, 0] Wp^T + bp).
void bert_pooler_forward(const Bert *m, BertActs *a, int B, int T);
// dpooled [B,H] -> dseq[:, 0, :] += ... (dseq [B,T,H]), and pooler weight gradients.
// Uses d_h[0..1] scratch: dseq must not be one of a->d_h (a->dseq is fine).
void bert_pooler_backward(const Bert *m, BertActs *a, float *dseq, const float *dpooled, int B, int T);

// ---- full model: embeddings -> stack (on a->emb_out) -> pooler.
void bert_forward(const Bert *m, BertActs *a, const int32_t *ids, const int32_t *types, const float *mask, int B,
                  int T, Rng *rng);
// dseq [B,T,H] (gradient w.r.t. a->seq) and dpooled [B,H] may each be NULL (= zero).
// All parameter gradients accumulate into the ParamSet grad buffer.
void bert_backward(const Bert *m, BertActs *a, const float *dseq, const float *dpooled, const int32_t *ids,
                   const int32_t *types, int B, int T);
