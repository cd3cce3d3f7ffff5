// runfiles.c: see runfiles.h.
#include "train/runfiles.h"

#include <errno.h>
#include <math.h>
#include <nettle/sha2.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "core/common.h"
#include "train/metrics.h"

int sha256_file(const char *path, char hex[65], char *err) {
    FILE *f = fopen(path, "rb");
    if (!f) return errf(err, "%s: cannot read: %s", path, strerror(errno));
    struct sha256_ctx ctx;
    sha256_init(&ctx);
    static __thread uint8_t buf[1 << 16];
    size_t r;
    while ((r = fread(buf, 1, sizeof buf, f)) > 0) sha256_update(&ctx, r, buf);
    int bad = ferror(f);
    fclose(f);
    if (bad) return errf(err, "%s: read error", path);
    uint8_t d[SHA256_DIGEST_SIZE];
    sha256_digest(&ctx, sizeof d, d);
    for (int i = 0; i < SHA256_DIGEST_SIZE; i++) sprintf(hex + 2 * i, "%02x", d[i]);
    hex[64] = 0;
    return 0;
}

int make_dirs(const char *path, char *err) {
    char p[4096];
    if (snprintf(p, sizeof p, "%s", path) >= (int)sizeof p) return errf(err, "%s: path too long", path);
    for (char *s = p + 1;; s++) {
        int end = *s == 0;
        if (*s == '/' || end) {
            *s = 0;
            if (mkdir(p, 0777) != 0 && errno != EEXIST) return errf(err, "%s: cannot create folder: %s", p, strerror(errno));
            struct stat st;
            if (stat(p, &st) != 0 || !S_ISDIR(st.st_mode)) return errf(err, "%s: exists and is not a folder", p);
            if (end) break;
            *s = '/';
        }
    }
    return 0;
}

int json_write_atomic(const char *path, json_t *v, char *err) {
    AtomicFile af;
    if (atomic_open(&af, path, err)) return -1;
    if (json_dumpf(v, af.f, JSON_INDENT(2) | JSON_REAL_PRECISION(17)) != 0 || fputc('\n', af.f) == EOF) {
        atomic_abort(&af);
        return errf(err, "%s: write failed", path);
    }
    return atomic_commit(&af, err);
}

int summary_write(const char *run_dir, const int *seeds, int n_seeds, char *err) {
    json_t **res = xcalloc((size_t)n_seeds, sizeof(json_t *));
    int rc = 0;
    for (int s = 0; s < n_seeds && !rc; s++) {
        char p[4200];
        snprintf(p, sizeof p, "%s/seed_%d/results.json", run_dir, seeds[s]);
        json_error_t je;
        res[s] = json_load_file(p, 0, &je);
        if (!res[s]) rc = errf(err, "%s: %s", p, je.text);
    }
    json_t *out = NULL;
    if (!rc) {
        out = json_object();
        json_object_set_new(out, "std_ddof", json_integer(0));
        json_object_set_new(out, "note", json_string("mean and population standard deviation (ddof 0) over seeds"));
        json_t *sj = json_array();
        for (int s = 0; s < n_seeds; s++) json_array_append_new(sj, json_integer(seeds[s]));
        json_object_set_new(out, "seeds", sj);
        json_object_set_new(out, "n_seeds", json_integer(n_seeds));
        const char *splits[] = {"valid", "test"};
        for (int k = 0; k < 2; k++) {
            json_t *so = json_object();
            for (int m = 0; m <= MET_COUNT; m++) {
                const char *key = m < MET_COUNT ? METRIC_KEYS[m] : "mse";
                double sum = 0, sq = 0;
                int n = 0;
                json_t *vals = json_array();
                for (int s = 0; s < n_seeds; s++) {
                    json_t *v = json_object_get(json_object_get(res[s], splits[k]), key);
                    if (json_is_number(v)) {
                        double x = json_number_value(v);
                        sum += x, n++;
                        json_array_append_new(vals, json_real(x));
                    } else {
                        json_array_append_new(vals, json_null());
                    }
                }
                double mean = n ? sum / n : NAN;
                for (int s = 0; s < n_seeds; s++) {
                    json_t *v = json_object_get(json_object_get(res[s], splits[k]), key);
                    if (json_is_number(v)) sq += (json_number_value(v) - mean) * (json_number_value(v) - mean);
                }
                json_t *mo = json_object();
                json_object_set_new(mo, "mean", json_real_or_null(mean));
                json_object_set_new(mo, "std", json_real_or_null(n ? sqrt(sq / n) : NAN));
                json_object_set_new(mo, "n", json_integer(n));
                json_object_set_new(mo, "values", vals);
                json_object_set_new(so, key, mo);
            }
            json_object_set_new(out, splits[k], so);
        }
        json_t *be = json_array();
        for (int s = 0; s < n_seeds; s++) json_array_append(be, json_object_get(res[s], "best_epoch"));
        json_object_set_new(out, "best_epoch", be);
        char p[4200];
        snprintf(p, sizeof p, "%s/summary.json", run_dir);
        rc = json_write_atomic(p, out, err);
    }
    json_decref(out);
    for (int s = 0; s < n_seeds; s++) json_decref(res[s]);
    free(res);
    return rc;
}

static void cell(char *out, size_t cap, json_t *v, int pct) {
    if (!json_is_number(v)) snprintf(out, cap, "n/a");
    else if (pct) snprintf(out, cap, "%.2f", 100 * json_number_value(v));
    else snprintf(out, cap, "%.3f", json_number_value(v));
}

void summary_print(FILE *f, json_t *summary, const char *split, json_t *reference) {
    static const char *const label[MET_COUNT] = {"Has0 Acc-2", "Has0 F1", "Non0 Acc-2", "Non0 F1", "MAE",
                                                 "Corr",       "Non0 MAE", "Non0 Corr", "Acc-5",    "Acc-7"};
    json_t *so = json_object_get(summary, split);
    // reference columns
    json_t *ref = json_object_get(json_object_get(reference, "splits"), split);
    if (!ref) ref = reference;
    const char *rn[8];
    json_t *rv[8];
    int nr = 0;
    const char *key;
    json_t *v;
    json_object_foreach(ref, key, v) {
        if (nr < 8 && json_is_object(v) && json_object_get(v, "mae")) rn[nr] = key, rv[nr] = v, nr++;
    }
    fprintf(f, "  %-11s %16s", "metric", "this run");
    for (int r = 0; r < nr; r++) fprintf(f, " %18.18s", rn[r]);
    fprintf(f, "\n");
    for (int m = 0; m < MET_COUNT; m++) {
        json_t *mo = json_object_get(so, METRIC_KEYS[m]);
        json_t *mean = json_object_get(mo, "mean"), *sd = json_object_get(mo, "std");
        int pct = m != MET_MAE && m != MET_NON0_MAE && m != MET_CORR && m != MET_NON0_CORR;
        char a[32], b[32], ms[72];
        cell(a, sizeof a, mean, pct), cell(b, sizeof b, sd, pct);
        snprintf(ms, sizeof ms, "%s +- %s", a, b);
        fprintf(f, "  %-11s %16s", label[m], ms);
        for (int r = 0; r < nr; r++) {
            cell(a, sizeof a, json_object_get(rv[r], METRIC_KEYS[m]), pct);
            fprintf(f, " %18s", a);
        }
        fprintf(f, "\n");
    }
}
