// evalcommon.h: what `mird eval` and `mird predict` share: their flags and predictions of a split.
#pragma once
#include "core/matmul.h"
#include "train/model_glue.h"
#include "train/traindata.h"

typedef struct {
    const char *ckpt, *data, *split, *vocab, *out, *text, *audio, *video;
    int max_len, batch_size, threads;
    MatmulPrecision precision; // --precision (set for the process by eval_parse)
} EvalArgs;

// Parses `CKPT [DATA] [flags]`; single-clip flags (--text, --audio, --video) only when allow_clip.
// Returns 0, 1 for --help (printed), or -1 after printing a usage error.
int eval_parse(EvalArgs *a, int argc, char **argv, int allow_clip, const char *usage);
// Predictions of every clip of s with the checkpoint's model (eval mode). pred: s->n floats.
int eval_predict(const EvalArgs *a, const TSplit *s, float *pred, char *err);
// The vocabulary: --vocab, else vocab.txt beside the data file when it exists, else the one the
// checkpoint's training data was tokenized with (recorded in it), else vocab.txt beside the data.
void eval_vocab(const EvalArgs *a, char *out, size_t cap);
// The word-piece length to use: --max-len, else the checkpoint's training length, else 50.
int eval_max_len(const EvalArgs *a);
