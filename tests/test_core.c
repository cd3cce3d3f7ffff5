// test_core.c: the numeric core: matmul against a naive double-precision reference for every
// transpose combination and leading dimension, and the RNG's reproducibility and stream independence.
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/common.h"
#include "core/matmul.h"
#include "testutil.h"

static void naive(int ta, int tb, int M, int N, int K, float alpha, const float *A, int lda, const float *B,
                  int ldb, float beta, double *C, int ldc) {
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            double s = 0;
            for (int k = 0; k < K; k++) {
                double a = ta ? A[(size_t)k * lda + i] : A[(size_t)i * lda + k];
                double b = tb ? B[(size_t)j * ldb + k] : B[(size_t)k * ldb + j];
                s += a * b;
            }
            C[(size_t)i * ldc + j] = alpha * s + beta * C[(size_t)i * ldc + j];
        }
}

static void test_matmul_all_transposes(void **state) {
    (void)state;
    Rng r;
    rng_seed(&r, 1, 0);
    int shapes[][3] = {{1, 1, 1}, {7, 5, 3}, {33, 17, 64}, {64, 128, 96}, {3, 200, 1}};
    for (size_t s = 0; s < sizeof(shapes) / sizeof(shapes[0]); s++) {
        int M = shapes[s][0], N = shapes[s][1], K = shapes[s][2];
        for (int ta = 0; ta < 2; ta++)
            for (int tb = 0; tb < 2; tb++) {
                int lda = (ta ? M : K) + 3, ldb = (tb ? K : N) + 1, ldc = N + 2;
                float *A = falloc((size_t)(ta ? K : M) * lda), *B = falloc((size_t)(tb ? N : K) * ldb);
                float *C = falloc((size_t)M * ldc);
                double *R = calloc((size_t)M * ldc, sizeof(double));
                fill_normal(A, (long)(ta ? K : M) * lda, 1, &r);
                fill_normal(B, (long)(tb ? N : K) * ldb, 1, &r);
                fill_normal(C, (long)M * ldc, 1, &r);
                for (long i = 0; i < (long)M * ldc; i++) R[i] = C[i];
                matmul(ta, tb, M, N, K, 0.5f, A, lda, B, ldb, 0.25f, C, ldc);
                naive(ta, tb, M, N, K, 0.5f, A, lda, B, ldb, 0.25f, R, ldc);
                double worst = 0;
                for (int i = 0; i < M; i++)
                    for (int j = 0; j < N; j++) {
                        double d = fabs(C[(size_t)i * ldc + j] - R[(size_t)i * ldc + j]);
                        if (d > worst) worst = d;
                    }
                if (worst > 1e-4 * sqrt((double)K) + 1e-5)
                    fail_msg("matmul ta=%d tb=%d %dx%dx%d: max abs err %g", ta, tb, M, N, K, worst);
                free(A), free(B), free(C), free(R);
            }
    }
}

static void test_matmul_beta_zero_ignores_nan(void **state) {
    (void)state;
    float A[4] = {1, 2, 3, 4}, B[4] = {1, 0, 0, 1}, C[4] = {NAN, NAN, NAN, NAN};
    matmul(0, 0, 2, 2, 2, 1.0f, A, 2, B, 2, 0.0f, C, 2);
    for (int i = 0; i < 4; i++) assert_float_equal(C[i], A[i], 0);
}

static void test_rng_reproducible_and_streams_independent(void **state) {
    (void)state;
    Rng a, b, c;
    rng_seed(&a, 42, RNG_STREAM_INIT);
    rng_seed(&b, 42, RNG_STREAM_INIT);
    rng_seed(&c, 42, RNG_STREAM_DROPOUT);
    int same_ac = 0;
    for (int i = 0; i < 1000; i++) {
        uint64_t x = rng_u64(&a), y = rng_u64(&b), z = rng_u64(&c);
        assert_true(x == y);
        same_ac += x == z;
    }
    assert_true(same_ac == 0);
    // uniform in [0,1), normal with the right moments
    double s = 0, s2 = 0;
    for (int i = 0; i < 200000; i++) {
        float u = rng_uniform(&a);
        assert_true(u >= 0.0f && u < 1.0f);
        float n = rng_normal(&a);
        s += n, s2 += (double)n * n;
    }
    assert_true(fabs(s / 200000) < 0.01);
    assert_true(fabs(s2 / 200000 - 1) < 0.02);
    int perm[50];
    for (int i = 0; i < 50; i++) perm[i] = i;
    rng_shuffle(&a, perm, 50);
    int seen[50] = {0};
    for (int i = 0; i < 50; i++) seen[perm[i]]++;
    for (int i = 0; i < 50; i++) assert_int_equal(seen[i], 1);
}

// alloc_big: 64-byte alignment below 2 MiB, a 2 MiB boundary from there (where huge pages can back
// it); falloc's buffers are zeroed either way.
static void test_alloc_big_alignment(void **state) {
    (void)state;
    size_t sizes[] = {1, 4096, ((size_t)2 << 20) - 64, (size_t)2 << 20, ((size_t)5 << 20) + 12};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        unsigned char *p = alloc_big(sizes[i]);
        assert_non_null(p);
        size_t align = sizes[i] >= ((size_t)2 << 20) ? (size_t)2 << 20 : 64;
        assert_int_equal((uintptr_t)p % align, 0);
        memset(p, 0xab, sizes[i]); // all of it is writable
        free(p);
        float *f = falloc(sizes[i] / sizeof(float) + 1);
        assert_int_equal((uintptr_t)f % align, 0);
        for (size_t j = 0; j <= sizes[i] / sizeof(float); j += 1 + j / 7) assert_true(f[j] == 0.0f);
        free(f);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_alloc_big_alignment),
        cmocka_unit_test(test_matmul_all_transposes),
        cmocka_unit_test(test_matmul_beta_zero_ignores_nan),
        cmocka_unit_test(test_rng_reproducible_and_streams_independent),
    };
    return cmocka_run_group_tests_name("core", tests, NULL, NULL);
}
