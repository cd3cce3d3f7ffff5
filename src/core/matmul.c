// matmul.c: the single GEMM entry point. Backends, chosen per product:
//   - oneDNN's matmul primitive (brgemm kernels) for large products of the forward linear shape
//     (op(A) = A, op(B) = B^T: activations times a [out, in] weight) in float32, and for every large
//     product in bfloat16 mode: measured here (tools/gemm_probe, 2 threads, BERT-base shapes over
//     1200 rows) it runs that shape at about 385 GFLOP/s where dnnl_sgemm reaches 250-330;
//   - oneDNN's dnnl_sgemm (row-major API) for every other product: it is as fast or faster on the
//     backward shapes (A B, A^T B) and needs no primitive;
//   - OpenBLAS's cblas_sgemm instead of both in a BLAS=openblas build (no bfloat16 there).
// The choice depends only on the shape and the precision, never on timing, so results are
// reproducible run to run (resume is bit-identical).
#include "matmul.h"

#include "common.h"
#include "timer.h"

#include <omp.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#if defined(__AVX512BF16__)
#include <immintrin.h> // to_bf16's vcvtneps2bf16
#endif

#if defined(MIRD_BLAS_OPENBLAS)
#include <cblas.h>
#else
#include <oneapi/dnnl/dnnl.h>
#endif

// Threading: products under MATMUL_PAR_MIN_FLOPS (about half a millisecond of one core, e.g. the
// LSTM steps' [B,H] x [H,4H]) run on the calling thread with no parallel region at all: on 2 cores
// shared with other processes, a parallel region costs a barrier that waits for a descheduled
// partner thread (milliseconds), far more than it saves on a small product. Larger products use
// the backend's own threading. Inside a caller's parallel region the backends run single-threaded.
// (Cutting large products into dynamically scheduled single-threaded pieces was tried and dropped:
// on the GEMM probe it reached only 0.80x of dnnl_sgemm's own threading, 0.48x on the [3072 x 768]
// weight gradient over 7200 rows, whose pieces each re-read the whole right-hand operand.)
#define MATMUL_PAR_MIN_FLOPS 5e7

// The calling thread's precision: the bf16 path is taken only outside parallel regions, so the
// thread that starts a product decides (two API handles on two threads may differ).
static _Thread_local MatmulPrecision g_precision = MATMUL_FP32;

static void gemm_blas(int transA, int transB, int M, int N, int K, float alpha, const float *A, int lda,
                      const float *B, int ldb, float beta, float *C, int ldc);
static int gemm_primitive(int bf16, int transA, int transB, int M, int N, int K, float alpha, const float *A,
                          int lda, const float *B, int ldb, float beta, float *C, int ldc, const float *bias,
                          const MatmulMap *fa, const MatmulMap *fb);
static void bf16_invalidate(const float *C, int M, int N, int ldc);

static double g_bf16_min = MATMUL_BF16_MIN_FLOPS;
static void read_bf16_min(void) {
    const char *s = getenv("MIRD_BF16_MIN_FLOPS");
    char *e;
    double v = s ? strtod(s, &e) : 0;
    if (s && e != s && !*e && v >= 0) g_bf16_min = v;
}
static double bf16_min_flops(void) {
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, read_bf16_min);
    return g_bf16_min;
}

// C[r, :] += bias for every row.
static void add_bias_rows(float *C, int ldc, int M, int N, const float *bias) {
#pragma omp parallel for if ((long)M * N > 65536 && !omp_in_parallel()) schedule(static)
    for (int i = 0; i < M; i++) {
        float *c = C + (size_t)i * ldc;
#pragma omp simd
        for (int j = 0; j < N; j++) c[j] += bias[j];
    }
}

// work = f(X) for the mapped operand X (A or B, stored rows x cols with its leading dimension), which
// the product then reads instead of X.
static void map_to_work(int which, const MatmulMap *f, float *work, int transA, int transB, int M, int N, int K,
                        const float **A, int lda, const float **B, int ldb, int serial) {
    int a = which == MATMUL_MAP_A, t = a ? transA : transB, ld = a ? lda : ldb;
    int rows = a ? (t ? K : M) : (t ? N : K), cols = a ? (t ? M : K) : (t ? K : N);
    const float *src = a ? *A : *B;
#pragma omp parallel for if ((long)rows * cols > 65536 && !serial) schedule(static)
    for (int r = 0; r < rows; r++) f->fn(work + (size_t)r * ld, src + (size_t)r * ld, cols, f->ctx, (size_t)r * ld);
    *(a ? A : B) = work;
    bf16_invalidate(work, rows, cols, ld); // written outside a product's C
}

// Every product: matmul_mapped's (f set) and matmul_bias's (f NULL).
static void matmul_impl(int which, const MatmulMap *f, float *work, int transA, int transB, int M, int N, int K,
                        float alpha, const float *A, int lda, const float *B, int ldb, float beta, float *C, int ldc,
                        const float *bias) {
    if (M <= 0 || N <= 0) return;
    double flops = 2.0 * M * N * K;
    if (timer_on_ && flops > 0) timer_count_flops(flops); // profiling only (mird bench)
    int serial = omp_in_parallel();
    int bf16 = K > 0 && !serial && g_precision == MATMUL_BF16 && flops >= bf16_min_flops();
    if (f && !bf16) { // a float32 product reads f(X) from work
        map_to_work(which, f, work, transA, transB, M, N, K, &A, lda, &B, ldb, serial);
        f = NULL;
    }
    if (K > 0 && !serial) {
        int fwd_shape = !transA && transB && flops >= MATMUL_PAR_MIN_FLOPS;
        if ((bf16 || fwd_shape) &&
            !gemm_primitive(bf16, transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, bias,
                            which == MATMUL_MAP_A ? f : NULL, which == MATMUL_MAP_B ? f : NULL))
            return;
    }
    if (f) map_to_work(which, f, work, transA, transB, M, N, K, &A, lda, &B, ldb, serial); // no primitive
    // BLAS path: a bias with beta == 0 is broadcast first and the product added to it (beta = 1);
    // otherwise it is added after the product.
    int pre_bias = bias && beta == 0.0f;
    if (pre_bias) {
#pragma omp parallel for if ((long)M * N > 65536 && !serial) schedule(static)
        for (int i = 0; i < M; i++) memcpy(C + (size_t)i * ldc, bias, sizeof(float) * (size_t)N);
        beta = 1.0f;
    }
    // a small product on the calling thread alone (the backends size their teams by omp_get_max_threads())
    int nt = flops < MATMUL_PAR_MIN_FLOPS && flops > 0 && !serial ? omp_get_max_threads() : 1;
    if (nt > 1) omp_set_num_threads(1);
    gemm_blas(transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    if (nt > 1) omp_set_num_threads(nt);
    if (bias && !pre_bias) add_bias_rows(C, ldc, M, N, bias);
    bf16_invalidate(C, M, N, ldc); // a copy made in a reuse scope is stale once C overlaps it
}

void matmul_bias(int transA, int transB, int M, int N, int K, float alpha, const float *A, int lda,
                 const float *B, int ldb, float beta, float *C, int ldc, const float *bias) {
    matmul_impl(0, NULL, NULL, transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, bias);
}

void matmul_mapped(int which, const MatmulMap *map, float *work, int transA, int transB, int M, int N, int K,
                   float alpha, const float *A, int lda, const float *B, int ldb, float beta, float *C, int ldc,
                   const float *bias) {
    matmul_impl(which, map, work, transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, bias);
}

void matmul(int transA, int transB, int M, int N, int K, float alpha, const float *A, int lda,
            const float *B, int ldb, float beta, float *C, int ldc) {
    matmul_bias(transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, NULL);
}

static void gemm_blas(int transA, int transB, int M, int N, int K, float alpha, const float *A, int lda,
                      const float *B, int ldb, float beta, float *C, int ldc) {
    if (K <= 0) { // C = beta * C (BLAS semantics with an empty inner dimension)
        for (int i = 0; i < M; i++)
            for (int j = 0; j < N; j++) C[(size_t)i * ldc + j] = beta == 0.0f ? 0.0f : beta * C[(size_t)i * ldc + j];
        return;
    }
#if defined(MIRD_BLAS_OPENBLAS)
    cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
#else
    dnnl_status_t st = dnnl_sgemm(transA ? 'T' : 'N', transB ? 'T' : 'N', M, N, K, alpha, A, lda, B,
                                  ldb, beta, C, ldc);
    if (st != dnnl_success) {
        fprintf(stderr, "mird: dnnl_sgemm failed (status %d, M=%d N=%d K=%d)\n", (int)st, M, N, K);
        exit(1);
    }
#endif
}

void matmul_reference(int transA, int transB, int M, int N, int K, float alpha, const float *A, int lda,
                      const float *B, int ldb, float beta, float *C, int ldc) {
    if (M > 0 && N > 0) gemm_blas(transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

const char *matmul_backend(void) {
#if defined(MIRD_BLAS_OPENBLAS)
    return "openblas";
#else
    return "dnnl";
#endif
}

const char *matmul_precision_name(MatmulPrecision p) { return p == MATMUL_BF16 ? "bf16" : "fp32"; }

int matmul_precision_parse(const char *s, MatmulPrecision *p) {
    if (!strcmp(s, "fp32")) *p = MATMUL_FP32;
    else if (!strcmp(s, "bf16")) *p = MATMUL_BF16;
    else return -1;
    return 0;
}

MatmulPrecision matmul_set_precision(MatmulPrecision p) {
    g_precision = p == MATMUL_BF16 && matmul_bf16_supported() ? MATMUL_BF16 : MATMUL_FP32;
    return g_precision;
}

MatmulPrecision matmul_precision(void) { return g_precision; }

#if defined(MIRD_BLAS_OPENBLAS)
int matmul_bf16_supported(void) { return 0; }
void matmul_reuse_begin(void) {}
void matmul_reuse_end(void) {}

static void bf16_invalidate(const float *C, int M, int N, int ldc) { (void)C, (void)M, (void)N, (void)ldc; }
static int gemm_primitive(int bf16, int transA, int transB, int M, int N, int K, float alpha, const float *A,
                          int lda, const float *B, int ldb, float beta, float *C, int ldc, const float *bias,
                          const MatmulMap *fa, const MatmulMap *fb) {
    (void)fa, (void)fb, (void)bf16, (void)transA, (void)transB, (void)M, (void)N, (void)K, (void)alpha, (void)A, (void)lda, (void)B;
    (void)ldb, (void)beta, (void)C, (void)ldc, (void)bias;
    return -1; // no primitives: the BLAS path
}
#else
// ---------------------------------------------------------------- oneDNN matmul primitives
// Created once per distinct shape (and kept in a small cache, least recently used out): creating
// one JIT-compiles its kernels (0.1-1 ms), running it costs microseconds. Memory objects are made
// per call around the caller's pointers (cheap), so a cached primitive is never shared state.
// M == 0 in a key: a primitive for any M (oneDNN's runtime dimension; lda too when transA).
typedef struct {
    int bf16, ta, tb, M, N, K, lda, ldb, ldc, has_bias;
    int wpack; // forward shape, either precision: B in the primitive's own blocked layout (see wpack_rows)
    float alpha, beta;
} PrimKey;
typedef struct {
    dnnl_primitive_t prim;
    dnnl_primitive_t reorder; // wpack: float32 B (the caller's layout) -> wmd
    dnnl_memory_desc_t wmd;   // wpack: the weights layout the primitive runs on
    size_t wbytes;
} Prim;
typedef struct {
    PrimKey key;
    Prim p;
    uint64_t used;
} PrimEntry;
#define PRIM_CACHE 96
static PrimEntry g_cache[PRIM_CACHE];
static int g_ncache;
static uint64_t g_clock;
static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static dnnl_engine_t g_engine;
static int g_bf16_ok = -1; // -1 unknown

static int engine_ready(void) { // under g_mu
    if (!g_engine && dnnl_engine_create(&g_engine, dnnl_cpu, 0) != dnnl_success) g_engine = NULL;
    return g_engine != NULL;
}

int matmul_bf16_supported(void) {
    pthread_mutex_lock(&g_mu);
    if (g_bf16_ok < 0) {
        dnnl_cpu_isa_t isa = dnnl_get_effective_cpu_isa();
        g_bf16_ok = isa == dnnl_cpu_isa_avx512_core_bf16 || isa == dnnl_cpu_isa_avx512_core_amx;
    }
    int ok = g_bf16_ok;
    pthread_mutex_unlock(&g_mu);
    return ok;
}

static int md2(dnnl_memory_desc_t *md, int64_t d0, int64_t d1, int64_t s0, int64_t s1, dnnl_data_type_t dt) {
    dnnl_dims_t dims = {d0, d1}, strides = {s0, s1};
    return dnnl_memory_desc_init_by_strides(md, 2, dims, dt, strides) == dnnl_success ? 0 : -1;
}

// The three (four with bias) memory descriptors of a key for M rows (lda the leading dimension of
// A; DNNL_RUNTIME_DIM_VAL for both when creating a runtime-M primitive): src op(A) [M,K], weights
// op(B) [K,N], dst [M,N], bias [1,N]. A wpack key's B is the caller's float32 (the reorder's source).
static int key_mds(const PrimKey *k, int64_t M, int64_t lda, dnnl_memory_desc_t *a, dnnl_memory_desc_t *b,
                   dnnl_memory_desc_t *c, dnnl_memory_desc_t *bias) {
    dnnl_data_type_t dt = k->bf16 ? dnnl_bf16 : dnnl_f32;
    if (md2(a, M, k->K, k->ta ? 1 : lda, k->ta ? lda : 1, dt)) return -1;
    if (md2(b, k->K, k->N, k->tb ? 1 : k->ldb, k->tb ? k->ldb : 1, k->wpack ? dnnl_f32 : dt)) return -1;
    if (md2(c, M, k->N, k->ldc, 1, dnnl_f32)) return -1;
    if (k->has_bias && md2(bias, 1, k->N, k->N, 1, dnnl_f32)) return -1;
    return 0;
}

// A reorder from src (a wpack key's float32 B, strides as the caller stores it) into wmd.
static dnnl_primitive_t create_reorder(const dnnl_memory_desc_t *src, const dnnl_memory_desc_t *wmd) { // under g_mu
    dnnl_primitive_desc_t pd = NULL;
    dnnl_primitive_t r = NULL;
    if (dnnl_reorder_primitive_desc_create(&pd, src, g_engine, wmd, g_engine, NULL) != dnnl_success)
        return NULL;
    if (dnnl_primitive_create(&r, pd) != dnnl_success) r = NULL;
    dnnl_primitive_desc_destroy(pd);
    return r;
}

static void destroy_prim(Prim *p) {
    if (p->prim) dnnl_primitive_destroy(p->prim);
    if (p->reorder) dnnl_primitive_destroy(p->reorder);
    memset(p, 0, sizeof *p);
}

static int create_primitive(const PrimKey *k, Prim *out) { // under g_mu; 0 or -1
    dnnl_memory_desc_t a, b, c, bias;
    int64_t M = k->M ? k->M : DNNL_RUNTIME_DIM_VAL, lda = k->M || !k->ta ? k->lda : DNNL_RUNTIME_DIM_VAL;
    memset(out, 0, sizeof *out);
    if (!engine_ready() || key_mds(k, M, lda, &a, &b, &c, &bias)) return -1;
    dnnl_memory_desc_t bsrc = b; // wpack: the reorder's source
    if (k->wpack && dnnl_memory_desc_init_by_tag(&b, 2, b.dims, k->bf16 ? dnnl_bf16 : dnnl_f32, dnnl_format_tag_any) !=
                         dnnl_success)
        return -1;
    dnnl_matmul_desc_t d;
    if (dnnl_matmul_desc_init(&d, &a, &b, k->has_bias ? &bias : NULL, &c) != dnnl_success) return -1;
    dnnl_primitive_attr_t attr = NULL;
    dnnl_post_ops_t po = NULL;
    dnnl_primitive_desc_t pd = NULL;
    dnnl_primitive_t prim = NULL;
    int ok = dnnl_primitive_attr_create(&attr) == dnnl_success;
    if (ok && k->alpha != 1.0f) ok = dnnl_primitive_attr_set_output_scales(attr, 1, 0, &k->alpha) == dnnl_success;
    if (ok && k->beta != 0.0f) {
        ok = dnnl_post_ops_create(&po) == dnnl_success && dnnl_post_ops_append_sum(po, k->beta) == dnnl_success &&
             dnnl_primitive_attr_set_post_ops(attr, po) == dnnl_success;
    }
    if (ok) ok = dnnl_primitive_desc_create(&pd, &d, attr, g_engine, NULL) == dnnl_success;
    if (ok) ok = dnnl_primitive_create(&prim, pd) == dnnl_success;
    out->prim = ok ? prim : NULL;
    if (ok && k->wpack) {
        out->wmd = *dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0);
        out->wbytes = dnnl_memory_desc_get_size(&out->wmd);
        ok = (out->reorder = create_reorder(&bsrc, &out->wmd)) != NULL;
    }
    if (pd) dnnl_primitive_desc_destroy(pd);
    if (po) dnnl_post_ops_destroy(po);
    if (attr) dnnl_primitive_attr_destroy(attr);
    if (!ok) destroy_prim(out);
    return ok ? 0 : -1;
}

// The cached primitive(s) of a key (created on first use); -1 when oneDNN cannot make them.
static int get_primitive(const PrimKey *k, Prim *out) {
    pthread_mutex_lock(&g_mu);
    int found = 0, rc = 0;
    for (int i = 0; i < g_ncache && !found; i++)
        if (!memcmp(&g_cache[i].key, k, sizeof *k)) *out = g_cache[i].p, g_cache[i].used = ++g_clock, found = 1;
    if (!found && !(rc = create_primitive(k, out))) {
        int slot = g_ncache;
        if (g_ncache == PRIM_CACHE) { // evict the least recently used
            slot = 0;
            for (int i = 1; i < PRIM_CACHE; i++)
                if (g_cache[i].used < g_cache[slot].used) slot = i;
            destroy_prim(&g_cache[slot].p);
        } else {
            g_ncache++;
        }
        g_cache[slot].key = *k, g_cache[slot].p = *out, g_cache[slot].used = ++g_clock;
    }
    pthread_mutex_unlock(&g_mu);
    return rc;
}

// float -> bfloat16, round to nearest even (NaN stays NaN).
static inline uint16_t f2bf(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40);
    u += 0x7fffu + ((u >> 16) & 1u);
    return (uint16_t)(u >> 16);
}

// n floats into bfloat16. Where the compiler targets AVX512-BF16, 16 at a time by the CPU's own
// round-to-nearest-even conversion (vcvtneps2bf16: the same bits as f2bf for normal numbers; it reads
// denormals as zero, which the products see anyway under core/fpenv.h's flush-to-zero); the bit
// trick below vectorises to about 6 instructions per vector instead of 1.
static void row_to_bf16(uint16_t *d, const float *s, int n) {
    int c = 0;
#ifdef __AVX512BF16__
    for (; c + 16 <= n; c += 16) {
        __m256bh h = _mm512_cvtneps_pbh(_mm512_loadu_ps(s + c));
        _mm256_storeu_si256((__m256i *)(d + c), (__m256i)h);
    }
#endif
#pragma omp simd
    for (int k = c; k < n; k++) d[k] = f2bf(s[k]);
}

// rows x cols of f(src) (row stride ld; f NULL: src itself; f->fn_bf16 where set) into a packed
// bfloat16 [rows, cols]. The map runs on MAP_CHUNK values at a time into a buffer that stays in the L1
// cache, so a mapped operand costs one pass over memory, like a plain one.
#define MAP_CHUNK 1024
static void to_bf16(uint16_t *dst, const float *src, int rows, int cols, int ld, const MatmulMap *f) {
    MatmulMapFn fn = f ? (f->fn_bf16 ? f->fn_bf16 : f->fn) : NULL;
#pragma omp parallel for if ((long)rows * cols > 65536) schedule(static)
    for (int r = 0; r < rows; r++) {
        const float *s = src + (size_t)r * ld;
        uint16_t *d = dst + (size_t)r * cols;
        if (!f) {
            row_to_bf16(d, s, cols);
            continue;
        }
        float buf[MAP_CHUNK];
        for (int c = 0; c < cols; c += MAP_CHUNK) {
            int n = cols - c < MAP_CHUNK ? cols - c : MAP_CHUNK;
            fn(buf, s + c, n, f->ctx, (size_t)r * ld + c);
            row_to_bf16(d + c, buf, n);
        }
    }
}

// *buf holding at least n elements of elsize bytes: a kept buffer, regrown (with a quarter to spare)
// only when too small, so steady products allocate nothing. NULL (and *cap 0) when out of memory.
static void *grow_kept(void **buf, size_t *cap, size_t n, size_t elsize) {
    if (n > *cap) {
        free(*buf);
        size_t c = n + n / 4;
        *buf = alloc_big((c * elsize + 63) & ~(size_t)63);
        *cap = *buf ? c : 0;
    }
    return *buf;
}

// The calling thread's bfloat16 copies of inputs, in a few slots whose buffers are grown as needed and
// kept: a fresh allocation of tens of megabytes on every product costs its page faults every time
// (0.4 s per step for the vocabulary projection's [1200, 30522] operand on this virtual machine).
// Inside matmul_reuse_begin / _end a copy stays valid for later products of the same input until a
// product's C overlaps its source.
#define CONV_SLOTS 6
typedef struct {
    const float *src;
    int rows, cols, ld, valid;
    void *buf; // uint16_t[cap]
    size_t cap;
    unsigned long used;
} Conv;
static _Thread_local Conv g_conv[CONV_SLOTS];
static _Thread_local int g_reuse_depth;
static _Thread_local unsigned long g_conv_clock;

void matmul_reuse_begin(void) { g_reuse_depth++; }
void matmul_reuse_end(void) {
    if (g_reuse_depth > 0 && --g_reuse_depth == 0)
        for (int i = 0; i < CONV_SLOTS; i++) g_conv[i].valid = 0;
}

// The packed bfloat16 copy of rows x cols of f(src) (row stride ld; f NULL: src), converted unless a
// valid copy of the same input is held; `keep` (may be NULL) is a buffer the caller still needs (not
// evicted). A mapped copy is made every time and never kept valid (its map may write a side output).
static const uint16_t *bf16_input(const float *src, int rows, int cols, int ld, const MatmulMap *f,
                                  const uint16_t *keep) {
    for (int i = 0; i < CONV_SLOTS && g_reuse_depth && !f; i++) {
        Conv *c = &g_conv[i];
        if (c->valid && c->src == src && c->rows == rows && c->cols == cols && c->ld == ld) {
            c->used = ++g_conv_clock;
            return c->buf;
        }
    }
    // The slot to overwrite: one whose buffer already holds n values if there is one (a fresh buffer's
    // page faults cost more than the conversion: about 30 k faults per 12-layer bf16 step when big
    // buffers were traded for small ones), invalid before valid, then the smallest such buffer, then
    // the least recently used; else (no buffer fits) the largest one is grown.
    size_t n = (size_t)rows * cols;
    Conv *s = NULL;
    for (int i = 0; i < CONV_SLOTS; i++) {
        Conv *c = &g_conv[i];
        if (c->buf && c->buf == keep) continue;
        if (!s) {
            s = c;
            continue;
        }
        int cf = c->cap >= n, sf = s->cap >= n;
        if (cf != sf) {
            if (cf) s = c;
        } else if (c->valid != s->valid) {
            if (!c->valid) s = c;
        } else if (c->cap != s->cap) {
            if (cf ? c->cap < s->cap : c->cap > s->cap) s = c;
        } else if (c->used < s->used) {
            s = c;
        }
    }
    if (!grow_kept(&s->buf, &s->cap, n, sizeof(uint16_t))) return s->valid = 0, NULL;
    to_bf16(s->buf, src, rows, cols, ld, f);
    s->src = src, s->rows = rows, s->cols = cols, s->ld = ld, s->valid = g_reuse_depth > 0 && !f, s->used = ++g_conv_clock;
    return s->buf;
}

// A product wrote C[M rows of ldc, N columns]: copies of inputs it overlaps are stale.
static void bf16_invalidate(const float *C, int M, int N, int ldc) {
    if (!g_reuse_depth || M <= 0 || N <= 0) return;
    const float *c0 = C, *c1 = C + (size_t)(M - 1) * ldc + N;
    for (int i = 0; i < CONV_SLOTS; i++) {
        Conv *c = &g_conv[i];
        const float *s0 = c->src, *s1 = c->src + (size_t)(c->rows - 1) * c->ld + c->cols;
        if (c->valid && s0 < c1 && c0 < s1) c->valid = 0;
    }
}

static int mem(dnnl_memory_t *m, const dnnl_memory_desc_t *md, const void *p) {
    return dnnl_memory_create(m, md, g_engine, (void *)p) == dnnl_success ? 0 : -1;
}

// Forward products C = A B^T (+ bias) of MATMUL_WPACK_MIN_ROWS rows or more run on B reordered into
// the blocked layout oneDNN's brgemm kernels read (format_tag_any) instead of B's rows. Measured in
// one process on the BERT-base forward shapes ([R,768] x [768,768]^T, [R,768] x [3072,768]^T,
// [R,3072] x [768,3072]^T) at 4300-7200 rows: bf16 830-870 GFLOP/s against 730-810 with the plain
// layout, fp32 390-420 against 345-395. The reorder is paid on every product (0.2-1.5 ms per BERT
// weight inside a step; the weights change every step and a product's inputs are not assumed
// unchanged between calls), so at the 1200 rows of batch 8 + 16 it ate the gain; at the paper's
// 7200 it does not.
static int g_wpack_min = MATMUL_WPACK_MIN_ROWS;
static void read_wpack_min(void) {
    const char *s = getenv("MIRD_WPACK_MIN_ROWS");
    char *e;
    long v = s ? strtol(s, &e, 10) : 0;
    if (s && e != s && !*e && v >= 0) g_wpack_min = v > 1 << 30 ? 1 << 30 : (int)v;
}
static int wpack_rows(void) {
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, read_wpack_min);
    return g_wpack_min;
}

// The calling thread's buffer for reordered weights (grown as needed and kept, like the conversions).
static _Thread_local void *g_wbuf;
static _Thread_local size_t g_wcap;

// Runs the product on a oneDNN matmul primitive. Returns -1 (nothing written) when oneDNN cannot
// build one for this shape: the caller then takes the BLAS path.
// fa, fb: maps of A and B (matmul_mapped), bfloat16 only (applied in the conversion).
static int gemm_primitive(int bf16, int transA, int transB, int M, int N, int K, float alpha, const float *A,
                          int lda, const float *B, int ldb, float beta, float *C, int ldc, const float *bias,
                          const MatmulMap *fa, const MatmulMap *fb) {
    if (bias && alpha != 1.0f) return -1; // oneDNN would scale the bias too
    int wpack = !transA && transB && M >= wpack_rows() && !fb; // the reorder reads B itself
    const uint16_t *Ah = NULL, *Bh = NULL;
    if (bf16) { // packed copies: rows of op-storage, leading dimension = row length
        int ar = transA ? K : M, ac = transA ? M : K, br = transB ? N : K, bc = transB ? K : N;
        if (!(Ah = bf16_input(A, ar, ac, lda, fa, NULL))) return -1;
        if (!wpack && !(Bh = bf16_input(B, br, bc, ldb, fb, Ah))) return -1;
        lda = ac;
    }
    PrimKey k;
    memset(&k, 0, sizeof k); // padding bytes too: keys are compared with memcmp
    k.bf16 = bf16, k.ta = transA, k.tb = transB, k.M = M, k.N = N, k.K = K, k.lda = lda, k.ldb = ldb, k.ldc = ldc;
    k.has_bias = bias != NULL, k.alpha = alpha, k.beta = beta, k.wpack = wpack;
    if (bf16 && !wpack) k.ldb = transB ? K : N; // the packed copy's
    // bfloat16: one primitive for any M (oneDNN's gemm_bf16bf16f32 kernels; 5-10% faster than the
    // fixed-M brgemm kernels on the BERT shapes here) except the forward shape with both N and K at
    // most 1024 ([R,768] x [768,768]^T: brgemm was 2x faster when chosen; on 4 Dec 2026 the runtime-M
    // kernel was 6% faster in isolation at 1200 rows but 10% slower inside the 12-layer step, by
    // oneDNN's own timings) and the wpack products (brgemm on blocked weights needs a fixed M)
    if (bf16 && !wpack && !(!transA && transB && N <= 1024 && K <= 1024)) k.M = 0, k.lda = transA ? 0 : lda;
    int rc = -1;
    Prim p;
    if (!get_primitive(&k, &p)) {
        static _Thread_local dnnl_stream_t stream; // one per calling thread, kept for its lifetime
        dnnl_memory_desc_t a, b, c, bd;
        dnnl_memory_t ma = NULL, mb = NULL, mc = NULL, mbias = NULL, mw = NULL;
        void *wbuf = wpack ? grow_kept(&g_wbuf, &g_wcap, p.wbytes, 1) : NULL;
        if (!stream && dnnl_stream_create(&stream, g_engine, dnnl_stream_default_flags) != dnnl_success) stream = NULL;
        if (stream && (!wpack || wbuf) && !key_mds(&k, M, lda, &a, &b, &c, &bd) &&
            !mem(&ma, &a, bf16 ? (const void *)Ah : A) && !mem(&mc, &c, C) && (!bias || !mem(&mbias, &bd, bias)) &&
            (wpack ? !mem(&mb, &b, B) && !mem(&mw, &p.wmd, wbuf) : !mem(&mb, &b, bf16 ? (const void *)Bh : B))) {
            dnnl_exec_arg_t re[2] = {{DNNL_ARG_FROM, mb}, {DNNL_ARG_TO, mw}};
            dnnl_exec_arg_t args[4] = {{DNNL_ARG_SRC, ma}, {DNNL_ARG_WEIGHTS, wpack ? mw : mb}, {DNNL_ARG_DST, mc},
                                       {DNNL_ARG_BIAS, mbias}};
            if ((!wpack || dnnl_primitive_execute(p.reorder, stream, 2, re) == dnnl_success) &&
                dnnl_primitive_execute(p.prim, stream, bias ? 4 : 3, args) == dnnl_success &&
                dnnl_stream_wait(stream) == dnnl_success)
                rc = 0;
            else { // C may be partly written: nothing sensible to fall back to
                fprintf(stderr, "mird: oneDNN matmul failed (M=%d N=%d K=%d)\n", M, N, K);
                exit(1);
            }
        }
        bf16_invalidate(C, M, N, ldc);
        if (ma) dnnl_memory_destroy(ma);
        if (mb) dnnl_memory_destroy(mb);
        if (mc) dnnl_memory_destroy(mc);
        if (mbias) dnnl_memory_destroy(mbias);
        if (mw) dnnl_memory_destroy(mw);
    }
    return rc;
}
#endif
