// traindata.h: the data of a training run in the form the loop uses: per split, token ids
// (tokenized once), features and labels in flat arrays; batches come from data/batch.h.
#pragma once
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "data/dataset.h"

// A view of one split of a loaded dataset (data/dataset.h; the arrays stay where the dataset keeps
// them, e.g. in the memory-mapped file) or of a single clip (owned arrays).
typedef struct {
    int n, Tl, Ta, Tv, d_a, d_v;
    const int32_t *ids, *mask, *types; // [n, Tl]
    const float *audio;                // [n, Ta, d_a]
    const float *video;                // [n, Tv, d_v]
    const float *labels;               // [n] (NULL when unlabeled)
    char *const *clip_id;              // [n] clip names, or NULL
    DataSplit d;                       // the same split as data/dataset.h sees it (batches are gathered
                                       // from it with data/batch.h)
    void *owner_;                      // shared loaded dataset (reference counted)
    int owns_;                         // arrays are the split's own (single clip)
} TSplit;

enum { TD_TRAIN = 0, TD_VALID = 1, TD_TEST = 2 };

// Loads train/valid/test of a dataset pickle (MIRD or MMSA format), tokenizing raw_text with vocab.
int tdata_load(const char *path, const char *vocab, int max_len, TSplit out[3], char *err);
// Loads an unlabeled pickle (raw_text, audio, video).
int tdata_load_unlabeled(const char *path, const char *vocab, int max_len, TSplit *out, char *err);
// One split ("train", "valid", "test") of a dataset pickle; for an unlabeled pickle, split must be
// NULL or "unlabeled". *is_unlabeled (may be NULL) tells which kind the file is.
int tdata_load_split(const char *path, const char *split, const char *vocab, int max_len, TSplit *out,
                     int *is_unlabeled, char *err);
// One clip given as files: text, and acoustic / visual frames as text matrices (one frame per line,
// values separated by spaces or commas; NULL = no frames). Padded with zero frames (or truncated)
// to Ta / Tv frames; d_a / d_v must match the files.
int tdata_single_clip(const char *text, const char *audio_path, const char *video_path, const char *vocab,
                      int max_len, int Ta, int Tv, int d_a, int d_v, TSplit *out, char *err);
void tsplit_free(TSplit *s);

// The vocabulary to tokenize with: `flag` if set, else BERT_DIR/vocab.txt when bert_dir is set,
// else vocab.txt in the data file's folder (the synthetic benchmark writes one there).
void tdata_default_vocab(const char *flag, const char *bert_dir, const char *data_path, char *out, size_t cap);
// The largest token id in a split (-1 when empty): must be below the model's vocab_size.
int tsplit_max_id(const TSplit *s);
// CSV "id,score,label" of predictions (label empty for an unlabeled split; id = the clip's name,
// quoted when needed, or its index when the file has no names).
void tsplit_write_csv(FILE *f, const TSplit *s, const float *pred);
