/* predict.c: the C API from a program outside the repository: it includes only include/mird.h and
 * links only build/libmird.so (`make` builds it as build/examples/predict).
 *
 *   build/examples/predict CKPT [--vocab VOCAB.txt] TEXT...
 *
 * Prints one line per text: its sentiment score (%.9g) and the size of each latent, with no
 * acoustic or visual frames (all zeros), as `mird predict CKPT --text TEXT` scores one clip.
 * Errors: the library's one-line message on stderr, exit status 1. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mird.h"

int main(int argc, char **argv) {
    const char *vocab = NULL;
    int first = 2;
    if (argc > 3 && !strcmp(argv[2], "--vocab")) vocab = argv[3], first = 4;
    if (argc <= first) {
        fprintf(stderr, "usage: predict CKPT [--vocab VOCAB.txt] TEXT...\n");
        return 2;
    }
    if (mird_api_version() / 100 != MIRD_API_VERSION_MAJOR || mird_api_version() < MIRD_API_VERSION) {
        fprintf(stderr, "predict: libmird has API version %d, this program needs %d\n", mird_api_version(),
                MIRD_API_VERSION);
        return 1;
    }
    mird_error e;
    mird_model *m;
    if (mird_model_open(&m, argv[1], vocab, &e)) {
        fprintf(stderr, "predict: %s\n", e.message);
        return 1;
    }
    /* one clip per forward pass, as `mird predict --text` scores one clip: bit-identical scores
     * (a batch's rows are computed together, so a score can differ in its last bits with the
     * batch it is computed in) */
    if (mird_model_set(m, MIRD_KEY_BATCH_SIZE, 1, &e)) {
        fprintf(stderr, "predict: %s\n", e.message);
        mird_model_close(m);
        return 1;
    }
    int n = argc - first;
    long z[4];
    for (int k = 0; k < 4; k++) z[k] = mird_model_get(m, MIRD_KEY_SIZE_ZY + k);
    float *y = malloc(sizeof(float) * (size_t)n), *zs[4];
    for (int k = 0; k < 4; k++) zs[k] = malloc(sizeof(float) * (size_t)n * (size_t)z[k]);
    mird_clips c;
    memset(&c, 0, sizeof c);
    c.n = n;
    c.texts = (const char *const *)(argv + first); /* no audio, no video: zero frames */
    int rc = mird_predict(m, &c, y, zs[0], zs[1], zs[2], zs[3], &e);
    if (rc) fprintf(stderr, "predict: %s\n", e.message);
    for (int i = 0; i < n && !rc; i++) printf("%.9g\tzy %ld zl %ld za %ld zv %ld\n", y[i], z[0], z[1], z[2], z[3]);
    free(y);
    for (int k = 0; k < 4; k++) free(zs[k]);
    mird_model_close(m);
    return rc ? 1 : 0;
}
