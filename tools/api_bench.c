/* api_bench.c: times mird_predict (include/mird.h only) on n synthetic clips, reps times, and prints
 * the median seconds per call. tools/api_bench.sh builds it twice, against build/libmird.a (the
 * program's objects) and build/libmird.so (the position-independent ones), to measure what -fPIC
 * costs the library.   api_bench CKPT VOCAB N REPS */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mird.h"

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + 1e-9 * t.tv_nsec;
}

static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
    if (argc != 5) {
        fprintf(stderr, "usage: api_bench CKPT VOCAB N REPS\n");
        return 2;
    }
    int n = atoi(argv[3]), reps = atoi(argv[4]);
    mird_error e;
    mird_model *m;
    if (mird_model_open(&m, argv[1], argv[2], &e)) {
        fprintf(stderr, "api_bench: %s\n", e.message);
        return 1;
    }
    static const char *const words[] = {"a", "really", "good", "movie", "bad", "plot", "and", "the", "acting", "was"};
    char **texts = malloc(sizeof(char *) * n);
    unsigned s = 1;
    for (int i = 0; i < n; i++) {
        texts[i] = calloc(200, 1);
        for (int w = 0; w < 12; w++) {
            s = s * 1103515245u + 12345u;
            strcat(texts[i], words[(s >> 16) % 10]);
            strcat(texts[i], " ");
        }
    }
    int ta = 100, tv = 40, da = (int)mird_model_get(m, MIRD_KEY_D_A), dv = (int)mird_model_get(m, MIRD_KEY_D_V);
    float *a = malloc(sizeof(float) * n * ta * da), *v = malloc(sizeof(float) * n * tv * dv), *y = malloc(sizeof(float) * n);
    for (long i = 0; i < (long)n * ta * da; i++) s = s * 1103515245u + 12345u, a[i] = ((s >> 16) % 1000) / 1000.0f - 0.5f;
    for (long i = 0; i < (long)n * tv * dv; i++) s = s * 1103515245u + 12345u, v[i] = ((s >> 16) % 1000) / 1000.0f - 0.5f;
    mird_clips c;
    memset(&c, 0, sizeof c);
    c.n = n, c.texts = (const char *const *)texts, c.audio = a, c.ta = ta, c.da = da, c.video = v, c.tv = tv, c.dv = dv;
    double *t = malloc(sizeof(double) * reps);
    for (int r = -1; r < reps; r++) { /* one untimed warm-up call */
        double t0 = now();
        if (mird_predict(m, &c, y, NULL, NULL, NULL, NULL, &e)) {
            fprintf(stderr, "api_bench: %s\n", e.message);
            return 1;
        }
        if (r >= 0) t[r] = now() - t0;
    }
    qsort(t, reps, sizeof(double), cmp);
    printf("%.6f %.9g\n", t[reps / 2], y[0]);
    mird_model_close(m);
    return 0;
}
