// synth.c: generation of the synthetic benchmark (clips, labels, vocabulary, metrics).
// The process is documented in docs/synthetic.md; keep the two in step.
#include "data/synth.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/rng.h"

const char *const SYN_GROUP_NAMES[SYN_NGROUPS] = {"S", "L", "A", "V"};
const char *const SYN_SPLIT_NAMES[SYN_NSPLITS] = {"train", "valid", "test", "unlabeled"};

#define SYN_UA 8 // audio driving signals
#define SYN_UV 7 // visual driving signals
#define TWO_PI 6.283185307179586
// RNG streams: clip i of split k uses stream SYN_STREAM + (k << 32) + i; the world uses SYN_STREAM - 1.
#define SYN_STREAM 0x53594E5400000000ull

void synth_default(SynthConfig *c) {
    memset(c, 0, sizeof *c);
    c->seed = 0;
    c->n[SYN_TRAIN] = 1284, c->n[SYN_VALID] = 229, c->n[SYN_TEST] = 686, c->n[SYN_UNLABELED] = 2568;
    c->Ta = 100, c->Tv = 40, c->Tl = 32;
    c->d_a = 33, c->d_v = 35;
    c->view_noise[0] = 0.35, c->view_noise[1] = 0.7, c->view_noise[2] = 0.7;
    c->spec_noise = 0.3, c->frame_noise = 0.3;
    c->annot_noise = 0.6, c->clip_noise = 0.3;
    c->pad_front = 0;
    c->hidden = 64, c->layers = 2, c->heads = 2, c->z = 32;
}

int synth_check(const SynthConfig *c, char *err) {
    for (int k = 0; k < SYN_NSPLITS; k++)
        if (c->n[k] < (k == SYN_UNLABELED ? 0 : 1) || c->n[k] > 10000000)
            return errf(err, "synth: --n-%s must be in [%d, 10000000]", SYN_SPLIT_NAMES[k], k == SYN_UNLABELED ? 0 : 1);
    if (c->Ta < 4 || c->Ta > 100000) return errf(err, "synth: --ta must be in [4, 100000]");
    if (c->Tv < 2 || c->Tv > 100000) return errf(err, "synth: --tv must be in [2, 100000]");
    if (c->Tl < 8 || c->Tl > 512) return errf(err, "synth: --tl must be in [8, 512]");
    if (c->d_a < 1 || c->d_a > 100000 || c->d_v < 1 || c->d_v > 100000)
        return errf(err, "synth: --d-a and --d-v must be in [1, 100000]");
    double nz[7] = {c->view_noise[0], c->view_noise[1], c->view_noise[2], c->spec_noise, c->frame_noise, c->annot_noise, c->clip_noise};
    for (int i = 0; i < 7; i++)
        if (!(nz[i] >= 0 && nz[i] <= 100)) return errf(err, "synth: noise levels must be in [0, 100]");
    if (c->hidden < 1 || c->layers < 1 || c->heads < 1 || c->z < 1 || c->hidden % c->heads)
        return errf(err, "synth: model sizes must be positive and --hidden divisible by --heads");
    if ((double)c->n[SYN_TRAIN] * c->Ta * c->d_a > 4e9 || (double)c->n[SYN_UNLABELED] * c->Ta * c->d_a > 4e9 ||
        (double)c->n[SYN_TRAIN] * c->Tv * c->d_v > 4e9 || (double)c->n[SYN_UNLABELED] * c->Tv * c->d_v > 4e9)
        return errf(err, "synth: a split would exceed 4e9 feature values; reduce the sizes");
    return 0;
}

// ---------------------------------------------------------------------------------------------
// Vocabulary. Words listed under PIECES are not in the vocabulary whole: WordPiece splits them
// (e.g. "disappointing" -> "disappoint", "##ing"). Names are absent on purpose ([UNK]).
static const char *const VOCAB[] = {
    "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]",
    ".", ",", "!", "?", "'",
    // function words and fillers
    "i", "it", "s", "d", "the", "a", "was", "is", "and", "but", "to", "of", "this", "that", "movie", "film",
    "whole", "thing", "think", "thought", "found", "about", "what", "you", "expect", "me", "my", "so", "um",
    "uh", "well", "like", "know", "mean", "basically", "actually", "honestly", "yeah", "just", "kind", "not",
    "at", "all", "would", "never", "recommend", "total", "waste", "time", "do", "watch", "watching", "watched",
    "probably", "skip", "worth", "money", "regret", "guess", "whatever", "check", "out", "must", "see",
    "highly", "especially", "mostly", "though", "director", "directed", "guy", "long", "with", "friend",
    "friends", "felt", "seemed", "had", "in", "one", "by", "saw", "theater", "definite",
    // sentiment (shared factor s1)
    "terrible", "awful", "horrible", "dread", "bad", "boring", "disappoint", "poor", "weak", "dull",
    "mediocre", "forget", "okay", "fine", "average", "alright", "decent", "nice", "pleasant", "solid", "good",
    "great", "fun", "enjoy", "amazing", "awesome", "excellent", "fantastic", "wonder",
    // intensity (shared factor s2)
    "slightly", "barely", "somewhat", "fairly", "really", "very", "extreme", "incred", "insane",
    // topics (language-specific factor l2)
    "plot", "story", "script", "acting", "actor", "cast", "music", "soundtrack", "song", "effects", "visual",
    "camera", "ending", "character", "dialogue",
    // continuation pieces
    "##ful", "##ing", "##table", "##able", "##ly", "##ibly", "##s",
};

int synth_vocab(const char *const **tokens) {
    *tokens = VOCAB;
    return (int)(sizeof VOCAB / sizeof VOCAB[0]);
}

// Sentiment words by level -3..3 (from the text's noisy view of s1).
static const char *const SENT[7][5] = {
    {"terrible", "awful", "horrible", "dreadful", NULL},   {"bad", "boring", "disappointing", "poor", NULL},
    {"weak", "dull", "mediocre", "forgettable", NULL},     {"okay", "fine", "average", "alright", NULL},
    {"decent", "nice", "pleasant", "solid", NULL},         {"good", "great", "fun", "enjoyable", NULL},
    {"amazing", "awesome", "excellent", "fantastic", "wonderful"},
};
// Intensifiers by level -2..2 (from s2); level 0 has none.
static const char *const INTENS[5][3] = {
    {"slightly", "barely", NULL}, {"somewhat", "fairly", NULL}, {NULL, NULL, NULL},
    {"really", "very", NULL},     {"extremely", "incredibly", "insanely"},
};
// Recommendation phrases by level -2..2 (from l1).
static const char *const STANCE[5][3] = {
    {"i would never recommend it", "total waste of time", "do not watch it"},
    {"probably skip it", "not worth the money", "i regret watching it"},
    {"i guess", "whatever", NULL},
    {"worth watching", "i would recommend it", "check it out"},
    {"a must see", "i highly recommend it", "definitely watch it"},
};
// Topics by quintile of l2.
static const char *const TOPIC[5][3] = {
    {"plot", "story", "script"},      {"acting", "actors", "cast"},       {"music", "soundtrack", "songs"},
    {"effects", "visuals", "camera"}, {"ending", "characters", "dialogue"},
};
static const char *const FILLERS[] = {"um", "uh", "so", "well", "like", "you know", "i mean", "basically",
                                      "actually", "honestly", "yeah", "just"};
static const char *const SUBJECTS[] = {"the movie", "this movie", "the film", "this film", "it", "the whole thing"};
static const char *const NAMES[] = {"kubrick", "tarantino", "nolan", "fincher", "villeneuve", "spielberg"};
static const char *const NEUTRAL[] = {"i mean it was a long movie", "it was about a guy", "i watched it with my friends",
                                      "it was about what you expect", "i saw this one in a theater"};

#define NELEM(a) ((int)(sizeof(a) / sizeof((a)[0])))

static int pick_count(const char *const *list, int maxn) {
    int n = 0;
    while (n < maxn && list[n]) n++;
    return n;
}
static const char *pick(Rng *r, const char *const *list, int maxn) {
    int n = pick_count(list, maxn);
    return list[rng_below(r, (uint32_t)n)];
}
static int clampi(int x, int lo, int hi) { return x < lo ? lo : x > hi ? hi : x; }
static double gauss(Rng *r) { return (double)rng_normal(r); }

typedef struct {
    char buf[1024];
    size_t len;
    int words;
} Text;

// Appends words (space separated); punctuation ("." "," "!" "...") attaches to the previous word.
static void text_add(Text *t, const char *s) {
    int punct = (s[0] == '.' || s[0] == ',' || s[0] == '!' || s[0] == '?');
    size_t n = strlen(s);
    if (t->len + n + 2 >= sizeof t->buf) return;
    if (t->len && !punct) t->buf[t->len++] = ' ';
    memcpy(t->buf + t->len, s, n);
    t->len += n;
    t->buf[t->len] = 0;
    if (!punct)
        for (size_t i = 0; i < n; i++)
            if (i == 0 || s[i - 1] == ' ') t->words++;
}

// Sentiment phrase from the text's view x1 of s1 and x2 of s2: [intensifier] word, or a negation.
static void sentiment_phrase(Text *t, Rng *r, double x1, double x2) {
    int lv = clampi((int)lrint(1.4 * x1), -3, 3);
    int li = clampi((int)lrint(1.2 * x2), -2, 2);
    if ((lv == 1 || lv == -1) && rng_uniform(r) < 0.35f) {
        // "not bad" = mildly positive, "not good" = mildly negative
        text_add(t, "not");
        text_add(t, pick(r, SENT[3 - 2 * lv], 5));
        return;
    }
    if (INTENS[li + 2][0]) text_add(t, pick(r, INTENS[li + 2], 3));
    text_add(t, pick(r, SENT[lv + 3], 5));
}
static void end_punct(Text *t, Rng *r, double x2) {
    float u = rng_uniform(r);
    if (x2 > 0.8 && u < 0.3 + 0.2 * (x2 - 0.8)) text_add(t, "!");
    else if (x2 < -0.8 && u < 0.4) text_add(t, "...");
    else text_add(t, u < 0.7f ? "." : ",");
}
static int topic_of(double x) {
    return x < -0.8416 ? 0 : x < -0.2533 ? 1 : x < 0.2533 ? 2 : x < 0.8416 ? 3 : 4; // quintiles of N(0, 1)
}

// The sentence of one clip. sv[2]: the text's noisy view of s; lv[2]: of l.
static void gen_text(Text *t, Rng *r, const double sv[2], const double lv[2], double view_noise) {
    memset(t, 0, sizeof *t);
    int topic = topic_of(lv[1]);
    int topic_used = 0;
    if (rng_uniform(r) < 0.35f) text_add(t, FILLERS[rng_below(r, NELEM(FILLERS))]);
    if (rng_uniform(r) < 0.88f) {
        switch (rng_below(r, 5)) {
        case 0: text_add(t, SUBJECTS[rng_below(r, NELEM(SUBJECTS))]), text_add(t, "was"); break;
        case 1: text_add(t, "the"), text_add(t, TOPIC[topic][rng_below(r, 3)]), text_add(t, "was"), topic_used = 1; break;
        case 2:
            text_add(t, "i thought the"), text_add(t, TOPIC[topic][rng_below(r, 3)]), text_add(t, "was");
            topic_used = 1;
            break;
        case 3: text_add(t, "i found it"); break;
        default: text_add(t, "it's"); break;
        }
        sentiment_phrase(t, r, sv[0], sv[1]);
        end_punct(t, r, sv[1]);
        if (rng_uniform(r) < 0.25f) {
            // a second, independently noisy statement of the same sentiment
            double x1 = sv[0] + 0.5 * view_noise * gauss(r), x2 = sv[1] + 0.5 * view_noise * gauss(r);
            text_add(t, "and");
            if (rng_uniform(r) < 0.4f) text_add(t, FILLERS[rng_below(r, NELEM(FILLERS))]);
            text_add(t, rng_uniform(r) < 0.5f ? "it was" : "the whole thing was");
            sentiment_phrase(t, r, x1, x2);
            end_punct(t, r, x2);
        }
    } else {
        text_add(t, NEUTRAL[rng_below(r, NELEM(NEUTRAL))]);
        text_add(t, ".");
    }
    if (!topic_used && rng_uniform(r) < 0.6f) {
        static const char *const LEAD[] = {"especially the", "mostly the", "the"};
        int k = (int)rng_below(r, 3);
        text_add(t, LEAD[k]);
        text_add(t, TOPIC[topic][rng_below(r, 3)]);
        if (k == 2) text_add(t, "though");
        text_add(t, ",");
    }
    if (rng_uniform(r) < 0.12f) {
        text_add(t, NAMES[rng_below(r, NELEM(NAMES))]);
        text_add(t, "directed it");
        text_add(t, ",");
    }
    int ls = clampi((int)lrint(1.2 * lv[0]), -2, 2);
    if (ls != 0 || rng_uniform(r) < 0.3f) {
        if (rng_uniform(r) < 0.3f) text_add(t, FILLERS[rng_below(r, NELEM(FILLERS))]);
        text_add(t, pick(r, STANCE[ls + 2], 3));
        text_add(t, rng_uniform(r) < 0.8f ? "." : "!");
    }
}

// ---------------------------------------------------------------------------------------------
void synth_world_init(SynthWorld *w, const SynthConfig *c) {
    Rng r;
    rng_seed(&r, c->seed, SYN_STREAM - 1);
    w->d_a = c->d_a, w->d_v = c->d_v;
    w->Wa = xmalloc(sizeof(double) * (size_t)c->d_a * SYN_UA), w->ba = xmalloc(sizeof(double) * (size_t)c->d_a);
    w->Wv = xmalloc(sizeof(double) * (size_t)c->d_v * SYN_UV), w->bv = xmalloc(sizeof(double) * (size_t)c->d_v);
    for (long i = 0; i < (long)c->d_a * SYN_UA; i++) w->Wa[i] = 0.7 * gauss(&r);
    for (int i = 0; i < c->d_a; i++) w->ba[i] = 0.3 * gauss(&r);
    for (long i = 0; i < (long)c->d_v * SYN_UV; i++) w->Wv[i] = 0.7 * gauss(&r);
    for (int i = 0; i < c->d_v; i++) w->bv[i] = 0.3 * gauss(&r);
}
void synth_world_free(SynthWorld *w) {
    free(w->Wa), free(w->ba), free(w->Wv), free(w->bv);
    memset(w, 0, sizeof *w);
}

double synth_score(const float *f) {
    double h = f[0] * (1.0 + 0.4 * tanh(f[1])) + 0.6 * tanh(1.5 * f[2]) + 0.5 * tanh(1.5 * f[4]) +
               0.5 * tanh(1.5 * f[6]);
    return 3.0 * tanh(h / SYN_LABEL_SCALE);
}

// x[T, d] rows t < len: tanh(W u(t) + b) + noise; u(t) from `drive`. Rows >= len stay zero.
typedef void (*DriveFn)(double *u, double tau, double env, const double *p);
static void drive_audio(double *u, double tau, double e, const double *p) {
    // p: s^1 s^2 a^1 a^2 nuis1 nuis2 phase0 phase1
    u[0] = p[0] * e;
    u[1] = tanh(p[1]) * (0.6 + 0.4 * sin(TWO_PI * (0.8 + 0.4 * tanh(p[1])) * tau + p[6]));
    u[2] = p[2] * (0.5 + 0.5 * e);
    u[3] = sin(TWO_PI * (0.5 + 0.3 * tanh(p[3])) * tau + p[7]);
    u[4] = tanh(p[3]) * e;
    u[5] = p[4];
    u[6] = p[5];
    u[7] = e;
}
static void drive_video(double *u, double tau, double e, const double *p) {
    // p: s^1 s^2 v^1 v^2 nuis1 nuis2 phase0 phase1
    u[0] = p[0] * (0.6 + 0.4 * e);
    u[1] = tanh(p[1]) * (0.5 + 0.5 * sin(TWO_PI * 0.3 * tau + p[6]));
    u[2] = p[2];
    u[3] = tanh(p[3]) * (0.7 + 0.3 * cos(TWO_PI * 0.2 * tau + p[7]));
    u[4] = p[4];
    u[5] = p[5];
    u[6] = e;
}
static void gen_frames(float *x, int T, int d, int len, int pad_front, double rate, double dur, const double *W,
                       const double *b, int nu, DriveFn drive, const double *p, double noise, Rng *r) {
    double u[16];
    int off = pad_front ? T - len : 0;
    for (int t = 0; t < len; t++) {
        double tau = (t + 0.5) / rate, sn = sin(M_PI * tau / dur);
        double e = sn > 0 ? sqrt(sn) : 0;
        drive(u, tau, e, p);
        float *row = x + (size_t)(off + t) * d;
        for (int j = 0; j < d; j++) {
            double a = b[j];
            for (int k = 0; k < nu; k++) a += W[(size_t)j * nu + k] * u[k];
            row[j] = (float)(tanh(a) + noise * gauss(r));
        }
    }
}

// One clip. All random draws come from the clip's own stream, in a fixed order.
static void gen_clip(const SynthConfig *c, const SynthWorld *w, Rng *r, char **text, float *audio, float *video,
                     int *len_a, int *len_v, int *n_words, double *label, double *score, float *f) {
    for (int k = 0; k < SYN_NFACT; k++) f[k] = (float)gauss(r);
    double s[2] = {f[0], f[1]}, l[2] = {f[2], f[3]}, a[2] = {f[4], f[5]}, v[2] = {f[6], f[7]};
    // each modality's noisy view: shared factors with view_noise, its own factors with spec_noise
    double sl[2], ll[2], pa[8], pv[8];
    for (int k = 0; k < 2; k++) sl[k] = s[k] + c->view_noise[0] * gauss(r), ll[k] = l[k] + c->spec_noise * gauss(r);
    for (int k = 0; k < 2; k++) pa[k] = s[k] + c->view_noise[1] * gauss(r), pa[2 + k] = a[k] + c->spec_noise * gauss(r);
    for (int k = 0; k < 2; k++) pv[k] = s[k] + c->view_noise[2] * gauss(r), pv[2 + k] = v[k] + c->spec_noise * gauss(r);
    for (int k = 0; k < 2; k++) pa[4 + k] = gauss(r), pv[4 + k] = gauss(r); // nuisance (speaker, face)
    for (int k = 0; k < 2; k++) pa[6 + k] = TWO_PI * rng_uniform_double(r), pv[6 + k] = TWO_PI * rng_uniform_double(r);

    Text t;
    gen_text(&t, r, sl, ll, c->view_noise[0]);
    *text = xstrdup(t.buf);
    *n_words = t.words;

    // duration from the word count; the frame rates make Ta / Tv frames cover 10 seconds
    double dur = 0.6 + 0.32 * t.words + 0.5 * rng_uniform_double(r);
    double rate_a = c->Ta / 10.0, rate_v = c->Tv / 10.0;
    *len_a = clampi((int)ceil(dur * rate_a), 4 < c->Ta ? 4 : c->Ta, c->Ta);
    *len_v = clampi((int)ceil(dur * rate_v), 2 < c->Tv ? 2 : c->Tv, c->Tv);
    gen_frames(audio, c->Ta, c->d_a, *len_a, c->pad_front, rate_a, dur, w->Wa, w->ba, SYN_UA, drive_audio, pa,
               c->frame_noise, r);
    gen_frames(video, c->Tv, c->d_v, *len_v, c->pad_front, rate_v, dur, w->Wv, w->bv, SYN_UV, drive_video, pv,
               c->frame_noise, r);

    // label: m annotators (5, sometimes 4 or 3) rate round(y* + clip noise + own noise) in [-3, 3]
    double ys = synth_score(f);
    *score = ys;
    double un = rng_uniform_double(r);
    int m = un < 0.9 ? 5 : un < 0.96 ? 4 : 3;
    double dclip = c->clip_noise * gauss(r);
    int sum = 0;
    for (int j = 0; j < m; j++) sum += clampi((int)lrint(ys + dclip + c->annot_noise * gauss(r)), -3, 3);
    *label = (double)sum / m;
}

void synth_generate(const SynthConfig *c, const SynthWorld *w, int split, int n, SynthSplit *o) {
    memset(o, 0, sizeof *o);
    o->n = n, o->Ta = c->Ta, o->Tv = c->Tv, o->d_a = c->d_a, o->d_v = c->d_v;
    o->text = xcalloc((size_t)n + 1, sizeof(char *));
    o->audio = falloc((size_t)n * c->Ta * c->d_a + 1);
    o->video = falloc((size_t)n * c->Tv * c->d_v + 1);
    o->len_a = xcalloc((size_t)n + 1, sizeof(int));
    o->len_v = xcalloc((size_t)n + 1, sizeof(int));
    o->n_words = xcalloc((size_t)n + 1, sizeof(int));
    o->labels = xcalloc((size_t)n + 1, sizeof(double));
    o->score = xcalloc((size_t)n + 1, sizeof(double));
    o->factors = falloc((size_t)n * SYN_NFACT + 1);
#pragma omp parallel for schedule(dynamic, 32)
    for (int i = 0; i < n; i++) {
        Rng r;
        rng_seed(&r, c->seed, SYN_STREAM + ((uint64_t)split << 32) + (uint64_t)i);
        gen_clip(c, w, &r, &o->text[i], o->audio + (size_t)i * c->Ta * c->d_a, o->video + (size_t)i * c->Tv * c->d_v,
                 &o->len_a[i], &o->len_v[i], &o->n_words[i], &o->labels[i], &o->score[i],
                 o->factors + (size_t)i * SYN_NFACT);
    }
}

void synth_split_free(SynthSplit *s) {
    if (s->text)
        for (int i = 0; i < s->n; i++) free(s->text[i]);
    free(s->text), free(s->audio), free(s->video), free(s->len_a), free(s->len_v), free(s->n_words);
    free(s->labels), free(s->score), free(s->factors);
    memset(s, 0, sizeof *s);
}
