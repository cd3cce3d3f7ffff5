// embedding.c: table lookup; the backward scatters rows (sequential: ids repeat, so rows would race).
#include <string.h>

#include "layers/layers.h"

void embedding_forward(float *out, const int32_t *ids, const float *table, int N, int C) {
#pragma omp parallel for if ((long)N * C > 65536) schedule(static)
    for (int n = 0; n < N; n++) memcpy(out + (long)n * C, table + (long)ids[n] * C, sizeof(float) * (size_t)C);
}

void embedding_backward(float *dtable, const float *dout, const int32_t *ids, int N, int C, int padding_idx) {
    for (int n = 0; n < N; n++) {
        if (ids[n] == padding_idx) continue;
        float *dt = dtable + (long)ids[n] * C;
        const float *d = dout + (long)n * C;
        for (int c = 0; c < C; c++) dt[c] += d[c];
    }
}
