// synth.h: the built-in synthetic benchmark (`mird synth`), a MOSI-shaped data set with planted
// latent factors. docs/synthetic.md states the generative process exactly; in short, per clip:
//   factors  s = (s1, s2) shared (seen by all three modalities), l, a, v = 2 factors each seen by
//            one modality only, all i.i.d. N(0, 1);
//   score    y* = 3 tanh(h / SYN_LABEL_SCALE),
//            h = s1 (1 + 0.4 tanh s2) + 0.6 tanh(1.5 l1) + 0.5 tanh(1.5 a1) + 0.5 tanh(1.5 v1);
//   label    the mean of m simulated annotators' integer ratings clip(round(y* + d + e_j), -3, 3)
//            (m = 5, sometimes 4 or 3, as in MOSI), d a clip-level and e_j per-annotator noise;
//   text     a sentence from a small vocabulary: sentiment words (s1), intensifiers and
//            punctuation (s2), recommendation phrases (l1), topic words (l2), fillers, names;
//   audio    frames at Ta / 10 per second, visual at Tv / 10 per second over the clip's duration
//            (set by its word count): tanh of a fixed random projection of factor-driven
//            envelopes and sinusoids, plus noise; zero padding to Ta / Tv.
// Generation is deterministic in (seed, split, clip index) and independent of the other sizes.
#pragma once
#include <stdint.h>

#include "core/common.h"

#define SYN_NFACT 8         // s1 s2 l1 l2 a1 a2 v1 v2
#define SYN_NGROUPS 4       // S, L, A, V (2 factors each, in that order)
#define SYN_GROUP_DIM 2
#define SYN_LABEL_SCALE 1.8 // h -> y* = 3 tanh(h / SYN_LABEL_SCALE)
extern const char *const SYN_GROUP_NAMES[SYN_NGROUPS]; // "S", "L", "A", "V"

enum { SYN_TRAIN = 0, SYN_VALID = 1, SYN_TEST = 2, SYN_UNLABELED = 3, SYN_NSPLITS = 4 };
extern const char *const SYN_SPLIT_NAMES[SYN_NSPLITS]; // "train", "valid", "test", "unlabeled"

typedef struct {
    uint64_t seed;
    int n[SYN_NSPLITS];    // clips per split (1284 / 229 / 686 / 2568)
    int Ta, Tv, Tl;        // padded frame counts; Tl = the text length models should use
    int d_a, d_v;          // feature sizes
    double view_noise[3];  // per-clip noise on the shared factors as text / audio / visual see them
    double spec_noise;     // per-clip noise on the modality-specific factors
    double frame_noise;    // per-frame feature noise
    double annot_noise;    // per-annotator rating noise
    double clip_noise;     // clip-level label noise shared by the annotators
    int pad_front;         // 0: zero padding after the frames (default), 1: before
    // the model configuration written to model.json
    int hidden, layers, heads, z;
} SynthConfig;

void synth_default(SynthConfig *c);
// Checks ranges (sizes >= 1, noises >= 0, hidden divisible by heads, ...). 0 ok, -1 with err.
int synth_check(const SynthConfig *c, char *err);

// The fixed random projections of a seed (audio and visual), shared by all splits.
typedef struct {
    int d_a, d_v;
    double *Wa, *ba; // [d_a, SYN_UA], [d_a]
    double *Wv, *bv; // [d_v, SYN_UV], [d_v]
} SynthWorld;
void synth_world_init(SynthWorld *w, const SynthConfig *c);
void synth_world_free(SynthWorld *w);

typedef struct {
    int n, Ta, Tv, d_a, d_v;
    char **text;     // [n] one sentence each
    float *audio;    // [n, Ta, d_a]
    float *video;    // [n, Tv, d_v]
    int *len_a;      // [n] true frame counts (the rest is zero padding)
    int *len_v;      // [n]
    int *n_words;    // [n] words (punctuation excluded) in the sentence
    double *labels;  // [n] annotated labels (multiples of 1/m, m in {3, 4, 5}); also for unlabeled
    double *score;   // [n] noiseless score y* in (-3, 3)
    float *factors;  // [n, SYN_NFACT]
} SynthSplit;

// Generates clips [0, n) of a split. Deterministic; parallel over clips with OpenMP.
void synth_generate(const SynthConfig *c, const SynthWorld *w, int split, int n, SynthSplit *out);
void synth_split_free(SynthSplit *s);

// The noiseless label function of the factors f[SYN_NFACT] (h above, then y*).
double synth_score(const float *f);

// The vocabulary (BERT's vocab.txt layout: one token per line, id = line number): [PAD] [UNK]
// [CLS] [SEP] [MASK], punctuation, words, "##" continuation pieces.
int synth_vocab(const char *const **tokens);

// Writes the whole benchmark into dir (created if missing): data.pkl, unlabeled.pkl, vocab.txt,
// model.json, factors.safetensors, oracle.json, synth.json; each file atomically.
// If `summary` is not NULL, a one-paragraph human summary is printed there.
int synth_write(const SynthConfig *c, const char *dir, FILE *summary, char *err);
