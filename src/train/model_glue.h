// model_glue.h: what the trainer, `mird eval` and `mird predict` need from the MIRD model, in one
// place: creation from a configuration, initialisation, one training step with the run's options,
// predictions with latents, and checkpoints holding the whole training state.
#pragma once
#include <jansson.h>

#include "core/comm.h"
#include "core/rng.h"
#include "data/batch.h"
#include "io/safetensors.h"
#include "models/mird.h"
#include "train/runconfig.h"
#include "train/traindata.h"

// The per-step values logged (epoch means), in this order.
enum {
    STEP_LOSS,     // the objective's value
    STEP_PRED,     // L_pred (MSE over the labeled rows)
    STEP_REC_L,    // cross entropy of the text reconstruction
    STEP_REC_A,    // MSE of the acoustic reconstruction
    STEP_REC_V,    // MSE of the visual reconstruction
    STEP_LOG_PRED, // log of each (the terms of the log objective)
    STEP_LOG_REC_L,
    STEP_LOG_REC_A,
    STEP_LOG_REC_V,
    STEP_MI_LA,    // raw CLUB estimates I(zL;zA), I(zL;zV), I(zA;zV), I(zS;zL), I(zS;zA), I(zS;zV)
    STEP_MI_LV,
    STEP_MI_AV,
    STEP_MI_YL,
    STEP_MI_YA,
    STEP_MI_YV,
    STEP_MI_SUM,
    STEP_CLUB_LOSS, // summed estimator training loss at the last estimator step
    STEP_NVALS
};
extern const char *const STEP_KEYS[STEP_NVALS];

typedef struct {
    Mird mird;
    MirdStepOpts opts;
    int created;
} Model;

// The model configuration of a run as JSON: --model FILE, else the configuration stored in --init,
// else the defaults; with --bert, the BERT block comes from BERT_DIR/config.json.
int model_config_resolve(const RunConfig *c, json_t **out, char *err);
// The data must fit the configuration (d_a, d_v, vocabulary, max_position_embeddings).
int model_config_check_data(json_t *cfg, const TSplit *t, const char *data_path, char *err);
// Create for batches of at most Bmax rows; c (may be NULL for evaluation) sets the step options.
int model_create(Model *m, json_t *cfg, const RunConfig *c, int Bmax, int Tl, int Ta, int Tv, char *err);
// Initialise as the official code does from `init`'s seed stream, then copy pretrained BERT weights
// (--bert) and / or the model weights of a checkpoint (--init).
int model_init(Model *m, Rng *init, const RunConfig *c, char *err);
// The batch fits the model (mird_check_batch): 0, or -1 with err.
int model_check_batch(Model *m, const Batch *b, char *err);
// One training step at model learning rate lr (mi_lr for the estimators). vals gets STEP_NVALS
// values. A NaN or inf term fails with a message naming the term.
int model_train_step(Model *m, const Batch *b, double lr, double mi_lr, Rng *dropout, double *vals, char *err);
// Eval mode: y[B]; lat (may be NULL) [B, 4, z], z = model_latent_size: zS (zy), zL, zA, zV per row, each
// at its own size (model_latent_sizes) at the start of its slot.
void model_predict(Model *m, const Batch *b, float *y, float *lat);
// The latent sizes zS (zy), zL, zA, zV, and the largest of them (the slot size of model_predict's lat).
void model_latent_sizes(const Model *m, int z[4]);
int model_latent_size(const Model *m);
// Name of the first parameter (model or estimator) holding NaN or inf, or NULL.
const char *model_first_nonfinite(const Model *m);
// Training state besides the model parameters: estimators, optimiser moments, steps and flags.
void model_add_state(Model *m, StWriter *w);
int model_save(Model *m, const char *path, const StWriter *extra, char *err);
int model_load_state(Model *m, const StFile *f, char *err);
// Model and estimator parameters from a checkpoint (optimiser state untouched).
int model_load_params(Model *m, const char *path, char *err);
void model_free(Model *m);
// Data parallelism (docs/distributed.md): the model's steps over the ranks of c, global batches of
// at most Bmax_global rows (mird_set_comm).
void model_set_comm(Model *m, const Comm *c, int Bmax_global);
// Every rank's model made rank root's: parameters and estimators, and with with_optim both
// optimiser states and the has-gradient flags.
void model_bcast(Model *m, const Comm *c, int root, int with_optim);
// The replicas compared by a hash of their parameters and optimiser moments; if they differ
// (ranks on different CPUs taking different kernels, say), rank 0's state is copied to all: 1.
int model_sync_check(Model *m, const Comm *c);
// Create a model from a checkpoint for evaluation, sized for Bmax rows and the given lengths,
// parameters loaded: any weight file of mird_load_file (a MIRD checkpoint with its stored
// configuration, or a state_dict / whole module saved by the authors' code, configuration
// inferred). Every model tensor must be present; absent CLUB estimators stay zero (unused here).
int model_from_checkpoint(Model *m, const char *path, int Bmax, int Tl, int Ta, int Tv, char *err);
// A model of src's configuration and parameters (model and estimators), sized for other batches:
// Bmax rows of lengths Tl, Ta, Tv (the C API resizes with it, without rereading the checkpoint).
int model_create_like(Model *dst, const Model *src, int Bmax, int Tl, int Ta, int Tv, char *err);
// The data shape a training checkpoint was trained with (metadata "mird.data_shape"):
// shape = {Tl, Ta, Tv, d_a, d_v}. Returns 1 when present, 0 when absent (always for torch.save
// files), -1 on a read error.
int ckpt_data_shape(const char *path, int shape[5], char *err);
// The vocabulary file a training checkpoint's data was tokenized with (absolute path), if recorded
// and still readable: 1 (out filled), else 0.
int ckpt_vocab(const char *path, char *out, size_t cap);
