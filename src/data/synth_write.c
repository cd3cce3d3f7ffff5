// synth_write.c: `mird synth` output: the benchmark directory (pickles, vocabulary, model
// configuration, true factors, oracle scores). Every file is written atomically.
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "data/synth.h"
#include "io/pickle_write.h"
#include "io/safetensors.h"
#include "train/metrics.h"

#define JSON_FLAGS (JSON_INDENT(2) | JSON_REAL_PRECISION(6))

static void path_join(char *out, size_t cap, const char *dir, const char *name) {
    snprintf(out, cap, "%s/%s", dir, name);
}

// One split's dict {"raw_text", "audio", "video"[, "labels"]} into an open pickle.
static void pickle_split(PickleWriter *w, const SynthSplit *s, int with_labels) {
    pkw_dict_begin(w, with_labels ? 4 : 3);
    pkw_str(w, "raw_text");
    pkw_list_begin(w, s->n);
    for (int i = 0; i < s->n; i++) pkw_str(w, s->text[i]);
    pkw_list_end(w);
    pkw_str(w, "audio");
    int64_t sa[3] = {s->n, s->Ta, s->d_a}, sv[3] = {s->n, s->Tv, s->d_v};
    pkw_ndarray_f32(w, s->audio, 3, sa);
    pkw_str(w, "video");
    pkw_ndarray_f32(w, s->video, 3, sv);
    if (with_labels) {
        pkw_str(w, "labels");
        pkw_list_begin(w, s->n);
        for (int i = 0; i < s->n; i++) pkw_float(w, s->labels[i]);
        pkw_list_end(w);
    }
    pkw_dict_end(w);
}

// What the oracle, the factor file and the summary need after the big arrays are gone.
typedef struct {
    int n;
    float *factors;  // [n, SYN_NFACT]
    float *labels;   // [n]
    float *score;    // [n]
    float *lens;     // [n, 3]: audio frames, visual frames, words
    double *labels_d, *score_d;
} Kept;

static void keep(Kept *k, const SynthSplit *s) {
    k->n = s->n;
    k->factors = xmalloc(sizeof(float) * ((size_t)s->n * SYN_NFACT + 1));
    memcpy(k->factors, s->factors, sizeof(float) * (size_t)s->n * SYN_NFACT);
    k->labels = xmalloc(sizeof(float) * ((size_t)s->n + 1));
    k->score = xmalloc(sizeof(float) * ((size_t)s->n + 1));
    k->lens = xmalloc(sizeof(float) * ((size_t)s->n * 3 + 1));
    k->labels_d = xmalloc(sizeof(double) * ((size_t)s->n + 1));
    k->score_d = xmalloc(sizeof(double) * ((size_t)s->n + 1));
    for (int i = 0; i < s->n; i++) {
        k->labels[i] = (float)s->labels[i], k->score[i] = (float)s->score[i];
        k->labels_d[i] = s->labels[i], k->score_d[i] = s->score[i];
        k->lens[3 * i] = (float)s->len_a[i], k->lens[3 * i + 1] = (float)s->len_v[i], k->lens[3 * i + 2] = (float)s->n_words[i];
    }
}
static void kept_free(Kept *k) {
    free(k->factors), free(k->labels), free(k->score), free(k->lens), free(k->labels_d), free(k->score_d);
    memset(k, 0, sizeof *k);
}

// Finish a pickle written into af and commit the file (abandoned on failure).
static int finish_pickle(PickleWriter *w, AtomicFile *af, const char *path, char *err) {
    char e2[MIRD_ERRLEN];
    if (pkw_finish(w, e2)) {
        atomic_abort(af);
        return errf(err, "%s: %s", path, e2);
    }
    return atomic_commit(af, err);
}

static int write_json(json_t *j, const char *path, char *err) {
    AtomicFile af;
    if (atomic_open(&af, path, err)) return -1;
    int bad = json_dumpf(j, af.f, JSON_FLAGS) != 0 || fputc('\n', af.f) == EOF;
    if (bad) {
        atomic_abort(&af);
        return errf(err, "%s: write error", path);
    }
    return atomic_commit(&af, err);
}

static void label_stats(const double *y, int n, double *mean, double *std, double *mn, double *mx, double *zero) {
    double s = 0, s2 = 0;
    *mn = INFINITY, *mx = -INFINITY, *zero = 0;
    for (int i = 0; i < n; i++) {
        s += y[i];
        *mn = y[i] < *mn ? y[i] : *mn, *mx = y[i] > *mx ? y[i] : *mx;
        *zero += y[i] == 0;
    }
    *mean = n ? s / n : 0;
    for (int i = 0; i < n; i++) s2 += (y[i] - *mean) * (y[i] - *mean);
    *std = n ? sqrt(s2 / n) : 0;
    *zero = n ? *zero / n : 0;
}

static json_t *oracle_json(const Kept kept[SYN_NSPLITS], Metrics test_oracle[2]) {
    double tmean, tstd, tmin, tmax, tz;
    label_stats(kept[SYN_TRAIN].labels_d, kept[SYN_TRAIN].n, &tmean, &tstd, &tmin, &tmax, &tz);
    // the majority sign of the non-zero train labels
    int pos = 0, neg = 0;
    for (int i = 0; i < kept[SYN_TRAIN].n; i++) pos += kept[SYN_TRAIN].labels_d[i] > 0, neg += kept[SYN_TRAIN].labels_d[i] < 0;
    json_t *splits = json_object();
    for (int k = SYN_TRAIN; k <= SYN_TEST; k++) {
        const Kept *s = &kept[k];
        double mean, std, mn, mx, zero;
        label_stats(s->labels_d, s->n, &mean, &std, &mn, &mx, &zero);
        float *pred = xmalloc(sizeof(float) * ((size_t)s->n + 1)), *pshared = xmalloc(sizeof(float) * ((size_t)s->n + 1));
        float *pmaj = xmalloc(sizeof(float) * ((size_t)s->n + 1));
        for (int i = 0; i < s->n; i++) {
            pred[i] = (float)tmean;
            pmaj[i] = pos >= neg ? 1.0f : -1.0f;
            float f[SYN_NFACT] = {0};
            f[0] = s->factors[(size_t)i * SYN_NFACT], f[1] = s->factors[(size_t)i * SYN_NFACT + 1];
            pshared[i] = (float)synth_score(f);
        }
        Metrics mo, mc, ms, mm;
        metrics_compute(&mo, s->score, s->labels, s->n);
        metrics_compute(&mc, pred, s->labels, s->n);
        metrics_compute(&ms, pshared, s->labels, s->n);
        metrics_compute(&mm, pmaj, s->labels, s->n);
        if (k == SYN_TEST) test_oracle[0] = mo, test_oracle[1] = mc;
        json_object_set_new(splits, SYN_SPLIT_NAMES[k],
                            json_pack("{s:i, s:{s:f, s:f, s:f, s:f, s:f}, s:o, s:o, s:o, s:o}", "n", s->n, "labels",
                                      "mean", mean, "std", std, "min", mn, "max", mx, "zero_fraction", zero, "oracle",
                                      metrics_to_json(&mo), "chance", metrics_to_json(&mc), "oracle_shared_only",
                                      metrics_to_json(&ms), "majority_sign", metrics_to_json(&mm)));
        free(pred), free(pshared), free(pmaj);
    }
    char fn[256];
    snprintf(fn, sizeof fn,
             "y* = 3 tanh(h / %g), h = s1 (1 + 0.4 tanh s2) + 0.6 tanh(1.5 l1) + 0.5 tanh(1.5 a1) + 0.5 tanh(1.5 v1)",
             SYN_LABEL_SCALE);
    return json_pack(
        "{s:s, s:s, s:s, s:s, s:s, s:f, s:o}", "label_function", fn,
        "oracle", "predict y* from the true factors (the noiseless label function): the best achievable scores",
        "oracle_shared_only", "predict y* with l, a, v set to 0: what the shared factors alone give",
        "chance", "predict the train label mean for every clip (corr of a constant is reported as 0)",
        "majority_sign", "predict +1 or -1, the majority sign of the non-zero train labels, for every clip",
        "train_label_mean", tmean, "splits", splits);
}

static int write_factors(const SynthConfig *c, const Kept kept[SYN_NSPLITS], const char *path, char *err) {
    StWriter w;
    stw_init(&w);
    char name[64];
    for (int k = 0; k < SYN_NSPLITS; k++) {
        const Kept *s = &kept[k];
        int64_t sf[2] = {s->n, SYN_NFACT}, s1[1] = {s->n}, sl[2] = {s->n, 3};
        snprintf(name, sizeof name, "%s.factors", SYN_SPLIT_NAMES[k]);
        stw_add_f32(&w, name, 2, sf, s->factors);
        snprintf(name, sizeof name, "%s.score", SYN_SPLIT_NAMES[k]);
        stw_add_f32(&w, name, 1, s1, s->score);
        snprintf(name, sizeof name, "%s.labels", SYN_SPLIT_NAMES[k]);
        stw_add_f32(&w, name, 1, s1, s->labels);
        snprintf(name, sizeof name, "%s.lengths", SYN_SPLIT_NAMES[k]);
        stw_add_f32(&w, name, 2, sl, s->lens);
    }
    stw_meta(&w, "mird.synth.factor_names", "s1,s2,l1,l2,a1,a2,v1,v2");
    stw_meta(&w, "mird.synth.groups", "{\"S\": [0, 2], \"L\": [2, 4], \"A\": [4, 6], \"V\": [6, 8]}");
    stw_meta(&w, "mird.synth.lengths", "audio_frames,visual_frames,words");
    char seed[32];
    snprintf(seed, sizeof seed, "%llu", (unsigned long long)c->seed);
    stw_meta(&w, "mird.synth.seed", seed);
    int rc = stw_write(&w, path, err);
    stw_free(&w);
    return rc;
}

static json_t *model_json(const SynthConfig *c) {
    int nv = synth_vocab(&(const char *const *){NULL});
    return json_pack("{s:{s:i, s:i, s:i, s:i, s:i, s:s, s:f, s:f, s:i, s:i, s:f}, s:i, s:i, s:i, s:i, s:i, s:i, s:i}",
                     "bert", "vocab_size", nv, "hidden_size", c->hidden, "num_hidden_layers", c->layers,
                     "num_attention_heads", c->heads, "intermediate_size", 4 * c->hidden, "hidden_act", "gelu",
                     "hidden_dropout_prob", 0.1, "attention_probs_dropout_prob", 0.1, "max_position_embeddings",
                     c->Tl > 512 ? c->Tl : 512, "type_vocab_size", 2, "layer_norm_eps", 1e-12, "d_a", c->d_a, "d_v",
                     c->d_v, "zy_size", c->z, "zl_size", c->z, "za_size", c->z, "zv_size", c->z, "club_hidden", 32);
}

static json_t *config_json(const SynthConfig *c, const Kept kept[SYN_NSPLITS]) {
    json_t *lens = json_object();
    for (int k = 0; k < SYN_NSPLITS; k++) {
        double m[3] = {0, 0, 0}, mx[3] = {0, 0, 0}, mn[3] = {1e30, 1e30, 1e30};
        for (int i = 0; i < kept[k].n; i++)
            for (int j = 0; j < 3; j++) {
                double x = kept[k].lens[3 * i + j];
                m[j] += x, mx[j] = x > mx[j] ? x : mx[j], mn[j] = x < mn[j] ? x : mn[j];
            }
        if (!kept[k].n) continue;
        json_object_set_new(lens, SYN_SPLIT_NAMES[k],
                            json_pack("{s:[f,f,f], s:[f,f,f], s:[f,f,f]}", "audio_frames_min_mean_max", mn[0],
                                      m[0] / kept[k].n, mx[0], "visual_frames_min_mean_max", mn[1], m[1] / kept[k].n,
                                      mx[1], "words_min_mean_max", mn[2], m[2] / kept[k].n, mx[2]));
    }
    return json_pack("{s:I, s:{s:i, s:i, s:i, s:i}, s:i, s:i, s:i, s:i, s:i, s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:s, s:f, s:f, "
                     "s:o, s:s}",
                     "seed", (json_int_t)c->seed, "n", "train", c->n[0], "valid", c->n[1], "test", c->n[2],
                     "unlabeled", c->n[3], "Ta", c->Ta, "Tv", c->Tv, "Tl", c->Tl, "d_a", c->d_a, "d_v", c->d_v,
                     "view_noise_l", c->view_noise[0], "view_noise_a", c->view_noise[1], "view_noise_v", c->view_noise[2], "spec_noise", c->spec_noise, "frame_noise", c->frame_noise,
                     "annot_noise", c->annot_noise, "clip_noise", c->clip_noise, "padding",
                     c->pad_front ? "front" : "back", "audio_frames_per_second", c->Ta / 10.0,
                     "visual_frames_per_second", c->Tv / 10.0, "lengths", lens, "note",
                     "train with --max-len Tl; see docs/synthetic.md for the generative process");
}

int synth_write(const SynthConfig *c, const char *dir, FILE *summary, char *err) {
    if (synth_check(c, err)) return -1;
    if (mkdir(dir, 0777) != 0 && errno != EEXIST) return errf(err, "%s: cannot create directory: %s", dir, strerror(errno));
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) return errf(err, "%s: not a directory", dir);

    char path[4096];
    int rc = -1;
    SynthWorld world;
    synth_world_init(&world, c);
    Kept kept[SYN_NSPLITS];
    memset(kept, 0, sizeof kept);
    AtomicFile af;
    json_t *j = NULL;
    Metrics tm[2];
    memset(tm, 0, sizeof tm);

    // data.pkl: the three labeled splits, one generated at a time
    path_join(path, sizeof path, dir, "data.pkl");
    if (atomic_open(&af, path, err)) goto done;
    {
        PickleWriter w;
        pkw_begin(&w, af.f);
        pkw_dict_begin(&w, 3);
        for (int k = SYN_TRAIN; k <= SYN_TEST; k++) {
            SynthSplit s;
            synth_generate(c, &world, k, c->n[k], &s);
            pkw_str(&w, SYN_SPLIT_NAMES[k]);
            pickle_split(&w, &s, 1);
            keep(&kept[k], &s);
            synth_split_free(&s);
        }
        pkw_dict_end(&w);
        if (finish_pickle(&w, &af, path, err)) goto done;
    }
    // unlabeled.pkl
    path_join(path, sizeof path, dir, "unlabeled.pkl");
    if (atomic_open(&af, path, err)) goto done;
    {
        PickleWriter w;
        pkw_begin(&w, af.f);
        SynthSplit s;
        synth_generate(c, &world, SYN_UNLABELED, c->n[SYN_UNLABELED], &s);
        pickle_split(&w, &s, 0);
        keep(&kept[SYN_UNLABELED], &s);
        synth_split_free(&s);
        if (finish_pickle(&w, &af, path, err)) goto done;
    }
    // vocab.txt
    path_join(path, sizeof path, dir, "vocab.txt");
    if (atomic_open(&af, path, err)) goto done;
    {
        const char *const *tok;
        int nv = synth_vocab(&tok);
        for (int i = 0; i < nv; i++) fprintf(af.f, "%s\n", tok[i]);
        if (atomic_commit(&af, err)) goto done;
    }
    path_join(path, sizeof path, dir, "model.json");
    j = model_json(c);
    if (write_json(j, path, err)) goto done;
    json_decref(j);
    path_join(path, sizeof path, dir, "synth.json");
    j = config_json(c, kept);
    if (write_json(j, path, err)) goto done;
    json_decref(j);
    path_join(path, sizeof path, dir, "oracle.json");
    j = oracle_json(kept, tm);
    if (write_json(j, path, err)) goto done;
    json_decref(j);
    j = NULL;
    path_join(path, sizeof path, dir, "factors.safetensors");
    if (write_factors(c, kept, path, err)) goto done;

    if (summary) {
        double mean, std, mn, mx, zero;
        label_stats(kept[SYN_TRAIN].labels_d, kept[SYN_TRAIN].n, &mean, &std, &mn, &mx, &zero);
        fprintf(summary,
                "synth: wrote %s: %d train / %d valid / %d test / %d unlabeled clips, Ta %d Tv %d d_a %d d_v %d\n"
                "synth: train labels mean %.3f std %.3f range [%.2f, %.2f], %.1f%% zero\n"
                "synth: test oracle MAE %.3f Corr %.3f Non0 Acc-2 %.3f | chance MAE %.3f Non0 Acc-2 %.3f\n",
                dir, c->n[0], c->n[1], c->n[2], c->n[3], c->Ta, c->Tv, c->d_a, c->d_v, mean, std, mn, mx, 100 * zero,
                tm[0].v[MET_MAE], tm[0].v[MET_CORR], tm[0].v[MET_NON0_ACC2], tm[1].v[MET_MAE], tm[1].v[MET_NON0_ACC2]);
    }
    rc = 0;
done:
    if (j) json_decref(j);
    for (int k = 0; k < SYN_NSPLITS; k++) kept_free(&kept[k]);
    synth_world_free(&world);
    return rc;
}
