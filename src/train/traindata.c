// traindata.c: see traindata.h.
#include "train/traindata.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <unistd.h>

#include "core/common.h"
#include "data/dataset.h"
#include "text/tokenizer.h"

typedef struct {
    Dataset ds;
    int refs;
} Shared;

void tsplit_free(TSplit *s) {
    if (s->owns_) {
        free((void *)s->ids), free((void *)s->mask), free((void *)s->types), free((void *)s->audio),
            free((void *)s->video), free((void *)s->labels);
        free(s->d.audio_len), free(s->d.visual_len);
        if (s->clip_id)
            for (int i = 0; i < s->n; i++) free(s->clip_id[i]);
        free((void *)s->clip_id);
    } else if (s->owner_) {
        Shared *sh = s->owner_;
        if (--sh->refs == 0) {
            dataset_free(&sh->ds);
            free(sh);
        }
    }
    memset(s, 0, sizeof *s);
}

static void view(TSplit *t, const DataSplit *d, Shared *sh) {
    memset(t, 0, sizeof *t);
    t->n = d->n, t->Tl = d->Tl, t->Ta = d->Ta, t->Tv = d->Tv, t->d_a = d->d_a, t->d_v = d->d_v;
    t->ids = d->ids, t->mask = d->mask, t->types = d->seg;
    t->audio = d->audio, t->video = d->visual, t->labels = d->labels, t->clip_id = d->clip_id;
    t->d = *d;
    t->owner_ = sh;
    sh->refs++;
}

// Load a dataset file, tokenizing raw text with vocab when the file has no token ids.
static Shared *load_shared(const char *path, const char *vocab, int max_len, char *err) {
    Tokenizer *tok = NULL;
    if (vocab && access(vocab, R_OK) == 0 && tokenizer_load(&tok, vocab, err)) return NULL;
    DatasetOptions o = {tok, max_len};
    Shared *sh = xcalloc(1, sizeof *sh);
    int rc = dataset_load(&sh->ds, path, &o, err);
    if (tok) tokenizer_free(tok);
    if (rc) {
        free(sh);
        return NULL;
    }
    for (int k = 0; k < sh->ds.nsplits; k++)
        if (!sh->ds.split[k].ids || !sh->ds.split[k].mask) {
            dataset_free(&sh->ds);
            free(sh);
            errf(err, "%s: raw text only and no vocabulary to tokenize it (%s not found; give --vocab)", path,
                 vocab ? vocab : "none");
            return NULL;
        }
    return sh;
}

static void drop_if_unused(Shared *sh) {
    if (sh && sh->refs == 0) {
        dataset_free(&sh->ds);
        free(sh);
    }
}

int tdata_load(const char *path, const char *vocab, int max_len, TSplit out[3], char *err) {
    Shared *sh = load_shared(path, vocab, max_len, err);
    if (!sh) return -1;
    static const char *const names[3] = {"train", "valid", "test"};
    for (int k = 0; k < 3; k++) {
        const DataSplit *d = dataset_split(&sh->ds, names[k]);
        if (!d) {
            for (int j = 0; j < k; j++) tsplit_free(&out[j]);
            if (!strcmp(sh->ds.format, "unlabeled"))
                errf(err, "%s: an unlabeled file (no train/valid/test splits): give it as --unlabeled", path);
            else errf(err, "%s: no \"%s\" split", path, names[k]);
            drop_if_unused(sh);
            return -1;
        }
        view(&out[k], d, sh);
    }
    return 0;
}

int tdata_load_split(const char *path, const char *split, const char *vocab, int max_len, TSplit *out,
                     int *is_unlabeled, char *err) {
    Shared *sh = load_shared(path, vocab, max_len, err);
    if (!sh) return -1;
    int unl = !strcmp(sh->ds.format, "unlabeled");
    if (is_unlabeled) *is_unlabeled = unl;
    const DataSplit *d = dataset_split(&sh->ds, split ? split : "unlabeled");
    if (!d) {
        errf(err, "%s: no \"%s\" split (%s file)", path, split ? split : "unlabeled", sh->ds.format);
        drop_if_unused(sh);
        return -1;
    }
    view(out, d, sh);
    return 0;
}

int tdata_load_unlabeled(const char *path, const char *vocab, int max_len, TSplit *out, char *err) {
    int unl = 0;
    if (tdata_load_split(path, NULL, vocab, max_len, out, &unl, err)) {
        char e2[MIRD_ERRLEN];
        snprintf(e2, sizeof e2, "%s", err);
        errf(err, "%s (--unlabeled needs an unlabeled pickle: a dict of raw_text, audio, video)", e2);
        return -1;
    }
    return 0;
}

void tdata_default_vocab(const char *flag, const char *bert_dir, const char *data_path, char *out, size_t cap) {
    if (flag && flag[0]) {
        snprintf(out, cap, "%s", flag);
        return;
    }
    if (bert_dir && bert_dir[0]) {
        snprintf(out, cap, "%s/vocab.txt", bert_dir);
        return;
    }
    const char *slash = data_path ? strrchr(data_path, '/') : NULL;
    if (slash) snprintf(out, cap, "%.*s/vocab.txt", (int)(slash - data_path), data_path);
    else snprintf(out, cap, "vocab.txt");
}

// A text matrix: rows of numbers separated by spaces, tabs or commas; empty lines and lines
// starting with '#' are skipped. All rows must have the same length.
static int read_matrix(const char *path, float **out, int *rows, int *cols, char *err) {
    char *buf;
    size_t len;
    if (read_file_all(path, &buf, &len, err)) return -1;
    int r = 0, c = -1, cap = 0;
    float *v = NULL;
    size_t nv = 0;
    char *save = NULL;
    for (char *line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char *p = line;
        while (*p == ' ' || *p == '\t' || *p == '\r') p++;
        if (!*p || *p == '#') continue;
        int k = 0;
        for (;;) {
            while (*p == ' ' || *p == '\t' || *p == ',' || *p == '\r') p++;
            if (!*p) break;
            char *e;
            float x = strtof(p, &e);
            if (e == p) {
                errf(err, "%s: line %d: '%.20s' is not a number", path, r + 1, p); // before p's buffer is freed
                free(buf), free(v);
                return -1;
            }
            if (!isfinite(x)) { // "nan", "inf", or out of float32's range (hostile-input testing)
                errf(err, "%s: line %d: '%.*s' is not a finite float32 value", path, r + 1,
                     (int)(e - p < 20 ? e - p : 20), p);
                free(buf), free(v);
                return -1;
            }
            if ((int)nv >= cap) cap = cap ? 2 * cap : 1024, v = xrealloc(v, sizeof(float) * cap);
            v[nv++] = x, k++;
            p = e;
        }
        if (c >= 0 && k != c) {
            free(buf), free(v);
            return errf(err, "%s: row %d has %d values, the first row has %d", path, r + 1, k, c);
        }
        c = k, r++;
    }
    free(buf);
    if (r == 0) {
        free(v);
        return errf(err, "%s: no frames", path);
    }
    *out = v, *rows = r, *cols = c;
    return 0;
}

int tdata_single_clip(const char *text, const char *audio_path, const char *video_path, const char *vocab,
                      int max_len, int Ta, int Tv, int d_a, int d_v, TSplit *out, char *err) {
    memset(out, 0, sizeof *out);
    Tokenizer *tok;
    if (tokenizer_load(&tok, vocab, err)) return -1;
    TSplit *s = out;
    s->owns_ = 1;
    s->n = 1, s->Tl = max_len, s->Ta = Ta, s->Tv = Tv, s->d_a = d_a, s->d_v = d_v;
    int32_t *ids = xcalloc((size_t)max_len, sizeof(int32_t)), *mask = xcalloc((size_t)max_len, sizeof(int32_t));
    s->ids = ids, s->mask = mask;
    s->types = xcalloc((size_t)max_len, sizeof(int32_t));
    tokenizer_encode(tok, text, max_len, ids, mask);
    tokenizer_free(tok);
    float *dst[2] = {falloc((size_t)Ta * d_a + 1), falloc((size_t)Tv * d_v + 1)};
    s->audio = dst[0], s->video = dst[1];
    char **cid = xmalloc(sizeof(char *));
    cid[0] = xstrdup("clip");
    s->clip_id = cid;
    DataSplit *d = &s->d; // the batching view of the same arrays (owned through s)
    snprintf(d->name, sizeof d->name, "clip");
    d->n = 1, d->Tl = max_len, d->Ta = Ta, d->Tv = Tv, d->d_a = d_a, d->d_v = d_v;
    d->ids = ids, d->mask = mask, d->seg = (int32_t *)s->types;
    d->audio = dst[0], d->visual = dst[1], d->clip_id = cid;
    d->audio_len = xmalloc(sizeof(int32_t)), d->visual_len = xmalloc(sizeof(int32_t));
    d->audio_len[0] = Ta, d->visual_len[0] = Tv;
    const char *paths[2] = {audio_path, video_path};
    int T[2] = {Ta, Tv}, D[2] = {d_a, d_v};
    for (int k = 0; k < 2; k++) {
        if (!paths[k]) continue;
        float *m = NULL;
        int rows = 0, cols = 0;
        if (read_matrix(paths[k], &m, &rows, &cols, err)) {
            tsplit_free(s);
            return -1;
        }
        if (cols != D[k]) {
            free(m);
            tsplit_free(s);
            return errf(err, "%s: frames have %d values, the model expects %d", paths[k], cols, D[k]);
        }
        int n = rows < T[k] ? rows : T[k];
        memcpy(dst[k], m, sizeof(float) * (size_t)n * cols);
        free(m);
    }
    return 0;
}

int tsplit_max_id(const TSplit *s) {
    int mx = -1;
    for (size_t i = 0; i < (size_t)s->n * s->Tl; i++)
        if (s->ids[i] > mx) mx = s->ids[i];
    return mx;
}

void tsplit_write_csv(FILE *f, const TSplit *s, const float *pred) {
    fprintf(f, "id,score,label\n");
    for (int i = 0; i < s->n; i++) {
        const char *id = s->clip_id && s->clip_id[i] && s->clip_id[i][0] ? s->clip_id[i] : NULL;
        if (!id) {
            fprintf(f, "%d", i);
        } else if (strpbrk(id, ",\"\r\n")) {
            fputc('"', f);
            for (const char *p = id; *p; p++) {
                if (*p == '"') fputc('"', f);
                fputc(*p, f);
            }
            fputc('"', f);
        } else {
            fputs(id, f);
        }
        fprintf(f, ",%.9g,", pred[i]);
        if (s->labels) fprintf(f, "%.9g", s->labels[i]);
        fputc('\n', f);
    }
}
