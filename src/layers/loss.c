// loss.c: mean squared error and softmax cross entropy (PyTorch's reduction = 'mean').
#include <math.h>

#include "layers/layers.h"
#include "layers/vmath.h"

float mse_forward(const float *pred, const float *target, long n) {
    double s = 0;
#pragma omp parallel for if (n > 65536) reduction(+ : s) schedule(static)
    for (long i = 0; i < n; i++) {
        double d = (double)pred[i] - target[i];
        s += d * d;
    }
    return (float)(s / n);
}

void mse_backward(float *dpred, const float *pred, const float *target, long n, float scale) {
    float k = 2.0f * scale / (float)n;
#pragma omp parallel for if (n > 65536) schedule(static)
    for (long i = 0; i < n; i++) dpred[i] += k * (pred[i] - target[i]);
}

// loss = mean_n [ logsumexp(logits_n) - logits_n[target_n] ], with logsumexp = max + log(sum exp(x - max)).
float cross_entropy_forward(float *probs, const float *logits, const int32_t *targets, int N, int V) {
    double total = 0;
#pragma omp parallel for if ((long)N * V > 16384) reduction(+ : total) schedule(static)
    for (int n = 0; n < N; n++) {
        const float *x = logits + (long)n * V;
        float *p = probs + (long)n * V;
        float mx = -INFINITY;
        for (int i = 0; i < V; i++) mx = x[i] > mx ? x[i] : mx;
        float s = 0;
#pragma omp simd reduction(+ : s)
        for (int i = 0; i < V; i++) {
            p[i] = vexpf(x[i] - mx);
            s += p[i];
        }
        float inv = 1.0f / s;
        for (int i = 0; i < V; i++) p[i] *= inv;
        total += (double)mx + log((double)s) - x[targets[n]];
    }
    return (float)(total / N);
}

// dlogits += scale / N * (probs - onehot(target))
void cross_entropy_backward(float *dlogits, const float *probs, const int32_t *targets, int N, int V, float scale) {
    float k = scale / (float)N;
#pragma omp parallel for if ((long)N * V > 32768) schedule(static)
    for (int n = 0; n < N; n++) {
        const float *p = probs + (long)n * V;
        float *d = dlogits + (long)n * V;
        for (int i = 0; i < V; i++) d[i] += k * p[i];
        d[targets[n]] -= k;
    }
}
