// mird.h: the MIRD model (MIRD.md "Modules", "Objective", "One training step"), forward and
// backward, with every activation and gradient buffer allocated once at creation.
//
// Parameters live in two ParamSets with the official state_dict names:
//   m->params  the model: encoder_l.* (BERT: encoder_l.bert.*, encoder_l.encoder.*; or the LSTM text
//              encoder: encoder_l.embedding.weight, encoder_l.lstm.{weight_ih,weight_hh,bias_ih,bias_hh},
//              encoder_l.fc1.* as in the authors' TextLSTMEncoder), encoder_a.*, encoder_v.*
//              (lstm.*, fc1.*), mult_encoder.model.* (BERT + WSA.*, or WA.* for fusion WA), mult_encoder.encoder.*,
//              decoder_{l,a,v}.{lstm,fc1}.*, zy_to_y_fc1.*, zy_to_y_fc2.*
//   m->est     the six CLUB estimators club_{la,lv,av,yl,ya,yv}.p_{mu,logvar}.{0,2}.{weight,bias}
// and the optimiser states m->opt (AdamW on params) and m->est_opt (Adam on est).
//
// Typical use (training):
//   MirdConfig cfg; mird_config_load(&cfg, path, err);
//   Mird m; mird_create(&m, &cfg, Bmax, Tl, Ta, Tv, err);   // then load or init the parameters
//   MirdBatch b = {ids, mask, types, acoustic, visual, labels, B, B_l, Tl, Ta, Tv};
//   MirdStepOpts o = mird_step_defaults(); o.lr = sched_lr; ...
//   mird_train_step(&m, &b, &o, &rng_dropout);  // m.loss holds the step's losses
// Evaluation / prediction: mird_forward(&m, &b, MIRD_FWD_PREDICT, MIRD_OBJ_LOG, NULL) -> m.y_hat.
#pragma once
#include <stdint.h>

#include "core/comm.h"
#include "core/params.h"
#include "core/rng.h"
#include "layers/club.h"
#include "models/bert.h"
#include "models/mird_config.h"
#include "models/wsa.h"
#include "train/optim.h"

// Which objective the model step minimises (MIRD.md "Objective" and the ablations).
typedef enum {
    MIRD_OBJ_LOG = 0,      // log L_pred + log L_rec_l + log L_rec_a + log L_rec_v + sum of the six CLUB estimates
    MIRD_OBJ_NO_REC = 1,   // log L_pred + sum of the CLUB estimates (no decoders)
    MIRD_OBJ_NO_MI = 2,    // log L_pred + the three log reconstruction terms (no estimators, no estimator steps)
    MIRD_OBJ_WEIGHTED = 3, // L_pred + 0.1 CE_L + 10 MSE_A + 100 MSE_V (the "+ reconstruction" ablation)
    MIRD_OBJ_PRED = 4,     // L_pred only (the "WSA-BERT alone" row in this model's structure: no decoders, no MI)
} MirdObjective;
// Whether the objective has reconstruction / MI terms.
int mird_obj_has_rec(MirdObjective o);
int mird_obj_has_mi(MirdObjective o);
// "log", "no_rec", "no_mi", "weighted", "pred" <-> enum (parse returns -1 for unknown names).
int mird_objective_parse(const char *s, MirdObjective *o);
const char *mird_objective_name(MirdObjective o);

typedef enum {
    MIRD_CLUB_ONCE = 0,     // latents computed once after the model update, reused for the K estimator steps
    MIRD_CLUB_OFFICIAL = 1, // a fresh forward (train mode, dropout resampled) before each estimator step
} MirdClubMode;

// How much of the model a forward computes.
typedef enum {
    MIRD_FWD_LATENTS = 0, // zl, za, zv, zy only
    MIRD_FWD_PREDICT = 1, // + y_hat
    MIRD_FWD_FULL = 2,    // + decoders, every loss term and CLUB estimate (needed before mird_backward)
} MirdFwdLevel;

// One batch; the first B_l rows are the labeled ones. Arrays are row-major and contiguous.
typedef struct {
    const int32_t *ids, *mask, *types; // [B,Tl] (mask 1 = token, 0 = pad; types may be NULL = all 0)
    const float *acoustic;             // [B,Ta,d_a]
    const float *visual;               // [B,Tv,d_v]
    const float *labels;               // [B_l] (may be NULL when B_l == 0)
    int B, B_l, Tl, Ta, Tv;
} MirdBatch;

// Loss terms of the last MIRD_FWD_FULL forward. pred is 0 when B_l == 0 (has_pred = 0).
typedef struct {
    float pred, rec_l, rec_a, rec_v;
    float mi[6];   // raw CLUB estimates, order la, lv, av, yl, ya, yv
    float total;   // the objective's value
    int has_pred;
    float est_loss; // sum of the six estimator training losses at the last estimator step (train step)
} MirdLosses;

extern const char *const MIRD_MI_NAMES[6]; // "la", "lv", "av", "yl", "ya", "yv"

typedef struct {
    float lr;            // model AdamW learning rate (1e-5)
    float mi_lr;         // estimator Adam learning rate (1e-3)
    float weight_decay;  // 0.01
    int club_steps;      // K = 5
    MirdClubMode club_mode;
    MirdObjective objective;
} MirdStepOpts;
MirdStepOpts mird_step_defaults(void);

typedef struct MirdInternal MirdInternal;
#define MIRD_CLUB_STD_EPS 1e-10f

typedef struct {
    MirdConfig cfg;
    int Bmax, Tl, Ta, Tv;   // capacity given to mird_create (batches may be smaller in B and T)
    ParamSet params;        // model parameters (+ grads)
    ParamSet est;           // CLUB parameters (+ grads)
    Optim opt;              // AdamW state over params (adamw_init'ed with weight_decay of mird_create: 0.01)
    Optim est_opt;          // Adam state over est
    // Which model parameters have ever received a gradient (PyTorch's p.grad is not None): AdamW
    // skips the others. Reset by mird_reset_optim.
    uint8_t *has_grad;      // [params.n]
    // outputs of the last forward (valid up to the level computed), row-major:
    float *zl, *za, *zv, *zy;        // [B,zl_size] ... [B,zy_size]
    float *y_hat;                    // [B]
    float *x_l_hat;                  // [B,Tl,V] logits (FULL only, when the objective has reconstruction)
    float *x_a_hat, *x_v_hat;        // [B,Ta,d_a], [B,Tv,d_v]
    MirdLosses loss;
    // 0 (the paper): the CLUB estimators see the latents as they are. 1: each latent is standardised
    // per dimension over the batch rows (layers.h standardize_*, eps MIRD_CLUB_STD_EPS) before every
    // CLUB estimate and estimator step, gradient included. CLUB's log-variance is bounded by tanh, so
    // on raw latents an estimate falls when a latent merely shrinks; standardised, it can only fall
    // when the dependence does. Not in the paper or the official code (docs/model.md).
    int club_std;
    // NULL (or one rank): the batch is the whole batch. Several ranks (mird_set_comm): the batch
    // given to forward / backward / the estimator steps is this rank's share of a global batch,
    // and losses, CLUB estimates, gradients and estimator steps are those of the global batch
    // (docs/distributed.md): every rank must call them in step, each with its own rows.
    const Comm *comm;
    MirdInternal *in;                // everything else (modules, activations, scratch)
} Mird;

// Register every parameter, allocate parameters, optimiser states and all buffers for batches of
// at most Bmax rows and sequence lengths Tl, Ta, Tv. Parameters start at zero: load a checkpoint
// (mird_load_params) or initialise (mird_init_weights). Returns 0 or -1 with err.
int mird_create(Mird *m, const MirdConfig *cfg, int Bmax, int Tl, int Ta, int Tv, char *err);
void mird_free(Mird *m);

// The official initialisation (MIRD.md "Initialisation"): BERT-style N(0, initializer_range) for
// every Linear / Embedding outside the LSTMCells and CLUBs (biases 0, LayerNorm 1 / 0), PyTorch's
// U(-1/sqrt(h), 1/sqrt(h)) for LSTMCells, PyTorch's default Linear init for the CLUB networks.
// Deterministic in seed (RNG_STREAM_INIT).
void mird_init_weights(Mird *m, uint64_t seed);

// Validate a batch against the model: sizes within capacity, ids / types in range, mask 0/1
// (B >= 1, or B >= 0 for a rank's share under mird_set_comm).
int mird_check_batch(const Mird *m, const MirdBatch *b, char *err);

// Whether WSA-BERT skips the masked tokens of a batch (default 1; bert.h varlen: the same numbers
// up to float summation order). 0 runs every token as PyTorch does (mird bench uses it to count the
// padded computation's work).
void mird_set_skip_padding(Mird *m, int on);

// Forward. rng NULL = eval (dropout off); otherwise train mode, dropout drawn from rng.
// FULL also computes the losses of `obj` into m->loss (decoders are skipped when obj has no
// reconstruction term, then x_*_hat are not computed and rec_* are 0).
void mird_forward(Mird *m, const MirdBatch *b, MirdFwdLevel level, MirdObjective obj, Rng *rng);
// Backward of m->loss.total after a FULL forward of the same batch and objective: zeroes the
// model gradients, then fills m->params.grad (and marks has_grad). CLUB parameter gradients are
// not touched. Only gradients into the model flow through the CLUB estimates.
// To save memory at paper width (B x Tl x 30522 floats), m->x_l_hat is OVERWRITTEN by its
// gradient: copy the logits out before calling this if you need them.
void mird_backward(Mird *m, const MirdBatch *b, MirdObjective obj);

// The estimator part of a step: K Adam steps on the CLUB parameters minimising the sum of the six
// estimator training losses. mode ONCE: the latents are computed once (forward with rng) and reused;
// OFFICIAL: a fresh forward with rng before each step. Returns the last step's summed loss.
float mird_estimator_steps(Mird *m, const MirdBatch *b, int K, float mi_lr, MirdClubMode mode, Rng *rng);

// One full training step: FULL forward (rng), backward, AdamW on the model (lr, weight decay),
// then (when the objective has MI terms) mird_estimator_steps. m->loss holds the forward's losses;
// afterwards m->zl.. hold the latents of the last estimator forward (of the updated model).
void mird_train_step(Mird *m, const MirdBatch *b, const MirdStepOpts *o, Rng *rng);

// Data parallelism over the ranks of c (docs/distributed.md): global batches of at most
// Bmax_global rows (the sum over the ranks; each rank's own share must fit mird_create's Bmax).
// A rank may then hold no row of a batch (B = 0). Call once after mird_create; c must outlive m.
void mird_set_comm(Mird *m, const Comm *c, int Bmax_global);

// Set the AdamW weight decay (default 0.01) / clear both optimiser states and has_grad.
void mird_set_weight_decay(Mird *m, float wd);
void mird_reset_optim(Mird *m);

// ---- weight files. Each function below reads any of: a MIRD checkpoint (safetensors with
// "mird.config"), a safetensors state_dict without configuration, or a torch.save zip holding the
// official model's state_dict or the whole module (torch.save(model), as the authors' scripts save
// it; read without executing anything, io/torch_load.h). Tensor names are the official state_dict
// names; the fusion module's tensors are "mult_encoder.model.WSA.*", or "mult_encoder.model.WA.*"
// for fusion WA (the authors' attribute follows the variant), and either spelling is accepted.

// What a weight file held (filled by the functions below; any may be given NULL).
typedef struct {
    int torch;            // a torch.save zip
    int whole_module;     // ... of a whole module (torch.save(model))
    char root_class[160]; // its root object's class, e.g. "models.WSABERTReconMIM"
    int n_tensors;        // tensors in the file
    int has_config;       // a MIRD checkpoint's mird.config was used
    int inferred;         // the configuration was inferred from the tensors (and module attributes)
    int heads_assumed;    // ... with num_attention_heads = hidden / 64 (a state_dict does not record it)
    int n_model, n_est;   // tensors loaded into the model / the six CLUB estimators
    int alias;            // fusion tensors found under the other spelling (WA <-> WSA)
    int n_ignored;        // tensors of the file the model does not have (e.g. position_ids buffers)
    char ignored[3][PARAM_NAME_MAX]; // the first of them
} MirdFileInfo;

// 0 silences the one-line notes ("mird: note: ...") the functions below print on stderr (fuzzers).
extern int mird_notes;

// 1 if path starts like a torch.save file (zip, or the legacy pickle of PyTorch < 1.6).
int mird_file_is_torch(const char *path);
// torch_open (io/torch_load.h), with a clear refusal of the legacy format.
typedef struct TorchFile TorchFile;
int mird_torch_open(TorchFile *f, const char *path, char *err);

// The model configuration of a weight file: a MIRD checkpoint's "mird.config"; otherwise inferred
// from the tensor shapes (sizes, layers, fusion WSA / WA from the names, text encoder BERT / LSTM)
// and, for a whole module, its attributes (the BertConfig object's heads / activation / eps /
// dropouts, the fusion module's beta_shift, the Dropout modules' p); what neither says keeps the
// paper's default. A state_dict does not record the BERT head count: hidden / 64 is assumed (every
// BERT release) with a note on stderr, and a hidden size that is not a multiple of 64 is an error.
// override (may be NULL): a JSON object whose keys replace the result's ("bert" key by key).
int mird_config_of_file(MirdConfig *c, const char *path, const json_t *override, MirdFileInfo *info, char *err);
// mird_config_of_file without override and info.
int mird_config_from_checkpoint(MirdConfig *c, const char *path, char *err);

// Copy every model tensor (and estimator tensor) of a weight file into m by name (F32, or any
// floating type converted; shapes must match). Tensors the file has but the model lacks are ignored
// (counted in info). A missing model tensor is always an error; a missing estimator tensor only
// when !est_optional (then the estimators keep their current values). Fusion tensors found under
// the other spelling (a WA model saved as ...WSA.*) load with a one-line note on stderr.
int mird_load_file(Mird *m, const char *path, int est_optional, MirdFileInfo *info, char *err);
// mird_load_file(m, path, allow_missing, NULL, err). Returns 0 or -1 with err.
int mird_load_params(Mird *m, const char *path, int allow_missing, char *err);
// Write a checkpoint: every model and estimator tensor plus the configuration in the metadata.
int mird_save_params(const Mird *m, const char *path, char *err);
