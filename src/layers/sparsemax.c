// sparsemax.c: sparsemax (Martins & Astudillo 2016), the Euclidean projection of each row onto the
// probability simplex: sort descending, k = max{k : 1 + k z_(k) > sum_{j<=k} z_(j)},
// tau = (sum_{j<=k} z_(j) - 1) / k, p = max(z - tau, 0).
// The sort uses the output row as its work space (in-place heapsort: no allocation, unlike qsort,
// which may call malloc), so the forward needs no scratch buffer.
// Why src/models/wsa.c has a second sparsemax (official_sparsemax_*): that one reproduces PyTorch
// autograd through the MIRD authors' implementation bit for bit (float shift by the max, float-rounded
// cumsum, half gradient at exact ties d == 0, and the extra gradient through tau's dependence on the
// sorted values z >= z_(k)), for the golden test against PyTorch (tests/test_mird.c). This layer is
// the spec's sparsemax (tau in double, Jacobian on the support only, tests/test_layers*.c). The two
// differ in rounding and in the gradient at ties, so one cannot serve both without changing one's
// results; they are kept separate on purpose.
#include <math.h>

#include "layers/layers.h"

static void sift_down(float *a, int start, int end) { // max-heap on a[start..end)
    int root = start;
    for (;;) {
        int child = 2 * root + 1;
        if (child >= end) return;
        if (child + 1 < end && a[child + 1] > a[child]) child++;
        if (a[root] >= a[child]) return;
        float t = a[root];
        a[root] = a[child];
        a[child] = t;
        root = child;
    }
}

static void heapsort_ascending(float *a, int n) {
    for (int s = n / 2 - 1; s >= 0; s--) sift_down(a, s, n);
    for (int end = n - 1; end > 0; end--) {
        float t = a[0];
        a[0] = a[end];
        a[end] = t;
        sift_down(a, 0, end);
    }
}

void sparsemax_forward(float *out, const float *inp, int rows, int n) {
#pragma omp parallel for if ((long)rows * n > 4096) schedule(static)
    for (int r = 0; r < rows; r++) {
        const float *z = inp + (long)r * n;
        float *o = out + (long)r * n;
        // tau >= max - 1 (k = 1 satisfies the condition), so entries <= max - 1 are never in the
        // support and never reach k: only the m candidates above it are sorted. The prefix sums and
        // k are exactly those of the full sort; rows with a peaked distribution sort only a few values.
        float mx = -INFINITY;
        for (int i = 0; i < n; i++) mx = z[i] > mx ? z[i] : mx;
        int m = 0;
        for (int i = 0; i < n; i++)
            if ((double)z[i] > (double)mx - 1.0) o[m++] = z[i]; // exact comparison in double
        heapsort_ascending(o, m); // o[m-1] is the largest: z_(j) = o[m-j]
        double cum = 0, cum_k = 0;
        int k = 0;
        for (int j = 1; j <= m; j++) {
            double zk = o[m - j];
            cum += zk;
            if (1.0 + j * zk > cum) k = j, cum_k = cum;
        }
        float tau = (float)((cum_k - 1.0) / k); // k >= 1 always (j = 1 satisfies the condition)
        for (int i = 0; i < n; i++) {
            float p = z[i] - tau;
            o[i] = p > 0.0f ? p : 0.0f;
        }
    }
}

// On the support S = {i : out_i > 0}: dinp_i += dout_i - mean_{j in S} dout_j ; zero elsewhere.
void sparsemax_backward(float *dinp, const float *dout, const float *out, int rows, int n) {
#pragma omp parallel for if ((long)rows * n > 32768) schedule(static)
    for (int r = 0; r < rows; r++) {
        const float *p = out + (long)r * n, *d = dout + (long)r * n;
        float *dx = dinp + (long)r * n;
        float s = 0;
        int cnt = 0;
        for (int i = 0; i < n; i++)
            if (p[i] > 0.0f) s += d[i], cnt++;
        if (cnt == 0) continue;
        float m = s / cnt;
        for (int i = 0; i < n; i++)
            if (p[i] > 0.0f) dx[i] += d[i] - m;
    }
}
