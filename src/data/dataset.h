// dataset.h: one in-memory multimodal dataset file (INTERFACES.md section 3), split by split.
//
// Sources (detected from the content, not the file name):
//  - the MIRD pickle {"train": S, "valid": S, "test": S}, S = {raw_text, audio, video, labels};
//  - the MMSA pickle, splits with raw_text, audio, vision, regression_labels, id and optionally
//    text_bert [N, 3, Tl] (ids, mask, segment: used when present, else raw_text is tokenised),
//    audio_lengths, vision_lengths; -inf in audio becomes 0 as MMSA's loader does;
//  - the unlabeled pickle: one dict {raw_text, audio, video} without a split level (one split
//    named "unlabeled", no labels);
//  - the project's own .mird file (dataset_convert; a safetensors container, memory-mapped).
// Pickles are read with io/pickle.h (nothing executes; only numpy's globals are allowed).
//
// Features are float32 [n, T, d]. When the file already holds float32 little-endian C-order data at
// an aligned address it is used IN PLACE (a pointer into the memory map); anything else (float64,
// big-endian, Fortran order, MMSA audio with -inf, unaligned) is converted into an owned buffer,
// releasing the source pages behind the conversion so peak memory stays near one copy.
// Validation (one-line errors naming the file and split): the same clip count in every field, rank-3
// features, finite features (except MMSA's -inf audio), finite labels, UTF-8 text, no empty split,
// lengths within [0, T].
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "core/common.h"
#include "text/tokenizer.h"

#define DS_MAX_SPLITS 3

typedef struct {
    char name[16];                  // "train", "valid", "test" or "unlabeled"
    int n;                          // clips
    int Tl, Ta, Tv, d_a, d_v;
    int32_t *ids, *mask, *seg;      // [n, Tl] token ids / attention mask / segment ids; NULL when the
                                    // file has raw text only and no tokenizer was given
    const float *audio;             // [n, Ta, d_a]
    const float *visual;            // [n, Tv, d_v]
    int32_t *audio_len, *visual_len; // [n] true lengths (Ta / Tv when the file has none)
    float *labels;                  // [n], NULL for unlabeled data
    char **clip_id;                 // [n] or NULL
    char **text;                    // [n] raw text (UTF-8) or NULL
    // statistics of the source values in float64 (inspect): sums after -inf -> 0
    double audio_sum, visual_sum, label_min, label_max, label_mean;
    float *audio_own_, *visual_own_; // owned feature buffers (NULL when in place)
} DataSplit;

typedef struct {
    char format[16]; // "mird", "mmsa" or "unlabeled" (the source format, kept by .mird files)
    int nsplits;
    DataSplit split[DS_MAX_SPLITS];
    void *pk_;       // Pickle kept alive for in-place features
    void *st_;       // StFile for .mird files
} Dataset;

typedef struct {
    const Tokenizer *tok; // tokenises raw text when the file has no token ids (NULL: ids stay NULL)
    int Tl;               // token length for that tokenisation (0: 50)
} DatasetOptions;

// Load a pickle or a .mird file. On failure nothing needs freeing.
int dataset_load(Dataset *ds, const char *path, const DatasetOptions *opt, char *err);
void dataset_free(Dataset *ds);
// The split of that name, or NULL.
const DataSplit *dataset_split(const Dataset *ds, const char *name);

// Write ds as a .mird file (atomically): safetensors with tensors "<split>.audio" F32 [n,Ta,d_a],
// "<split>.visual", "<split>.labels" F32 [n], "<split>.audio_len"/"visual_len" I32 [n], when present
// "<split>.input_ids"/"attention_mask"/"token_type_ids" I32 [n,Tl], "<split>.text"/"clip_id" U8
// (the strings, each followed by a NUL byte), and metadata "mird.dataset" (JSON: format, splits,
// statistics of the source values).
int dataset_save_mird(const Dataset *ds, const char *path, char *err);

// INTERFACES.md section 4's inspect object for a dataset: {"format": ..., "splits": {NAME: {"n",
// "audio_shape", "visual_shape", "label_min", "label_max", "label_mean", "audio_sum", "visual_sum"}}}
// (no label keys for unlabeled splits). A new jansson reference (json_decref it).
struct json_t;
struct json_t *dataset_inspect(const Dataset *ds);

// 1 when the file starts like a pickle (protocol 2+), 0 otherwise (also when unreadable).
int dataset_file_is_pickle(const char *path);
// 1 when the file is a safetensors file holding a "mird.dataset" metadata entry.
int dataset_file_is_mird(const char *path);
