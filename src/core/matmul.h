// matmul.h: THE matrix-multiply entry point. Every layer multiplies through these functions.
// Row-major: C[M,N] = alpha * op(A)[M,K] @ op(B)[K,N] + beta * C.
// op(A) = A (A stored [M,K], lda >= K) or A^T (A stored [K,M], lda >= M) when transA; same for B.
// Backend chosen at build time (MIRD_BLAS=dnnl, the default, or openblas); see tools/gemm_probe.
//
// Precision is a concern of this module alone: with matmul_set_precision(MATMUL_BF16) every large
// product (at least MATMUL_BF16_MIN_FLOPS, outside OpenMP parallel regions) rounds its two inputs to
// bfloat16 (round to nearest even) and accumulates in float32 (oneDNN's avx512_core_bf16 kernels);
// C, alpha, beta and the bias stay float32. Callers keep float32 buffers everywhere.
#pragma once
#include <stddef.h>

void matmul(int transA, int transB, int M, int N, int K, float alpha, const float *A, int lda,
            const float *B, int ldb, float beta, float *C, int ldc);
// The same plus a bias row: C = alpha * op(A) @ op(B) + beta * C + bias[N] (added to every row).
void matmul_bias(int transA, int transB, int M, int N, int K, float alpha, const float *A, int lda,
                 const float *B, int ldb, float beta, float *C, int ldc, const float *bias);

// An element-wise map applied to one operand as the product reads it (prologue fusion):
// C = alpha * op(f(A)) @ op(B) + beta * C + bias with which == MATMUL_MAP_A, or op(f(B)) with
// MATMUL_MAP_B (map NULL: a plain matmul_bias). fn maps n contiguous floats of the operand's storage,
// src (the operand's base + off) to dst (no overlap); it may also write a side output at the same
// offsets of a buffer laid out like the operand (ctx), e.g. the GELU's derivative. It must be a pure
// function of src: it may run more than once on a value.
// In float32 fn(X) is written to work (X's shape and leading dimension) and the product reads it:
// exactly fn then matmul_bias, bit for bit. In bfloat16 the map is applied on the way to the
// operand's bfloat16 copy, a thousand values at a time in cache, and work is not written: one pass
// over X instead of the map's pass plus the conversion's (BERT's feed-forward: the GELU before the
// down-projection); there fn_bf16 (if not NULL) replaces fn: a cheaper evaluation of the same map
// whose error is far below bfloat16's rounding (side output included: what it feeds is computed from
// bfloat16-rounded products anyway). Either way work's contents are undefined afterwards. (A mapped
// copy is never reused by a matmul_reuse_begin scope.)
typedef void (*MatmulMapFn)(float *dst, const float *src, int n, void *ctx, size_t off);
typedef struct {
    MatmulMapFn fn, fn_bf16;
    void *ctx;
} MatmulMap;
enum { MATMUL_MAP_A = 0, MATMUL_MAP_B = 1 };
void matmul_mapped(int which, const MatmulMap *map, float *work, int transA, int transB, int M, int N, int K,
                   float alpha, const float *A, int lda, const float *B, int ldb, float beta, float *C, int ldc,
                   const float *bias);

// Name of the backend compiled in ("dnnl" or "openblas").
const char *matmul_backend(void);

typedef enum { MATMUL_FP32 = 0, MATMUL_BF16 = 1 } MatmulPrecision;
// Whether this build and CPU can multiply in bfloat16 (oneDNN backend on a CPU with the
// avx512_core_bf16 or AMX instructions).
int matmul_bf16_supported(void);
// Precision of the following products started by the calling thread (OpenMP workers inside a
// product follow it). Returns the precision in effect: MATMUL_FP32 when BF16 is asked for but not
// supported.
MatmulPrecision matmul_set_precision(MatmulPrecision p);
MatmulPrecision matmul_precision(void);
// "fp32" / "bf16" <-> enum (parse returns -1 for anything else).
const char *matmul_precision_name(MatmulPrecision p);
int matmul_precision_parse(const char *s, MatmulPrecision *p);

// Products below this many FLOPs (2 M N K) run in float32 whatever the precision: converting their
// inputs costs more than bfloat16 saves (the LSTM steps). Products started inside an OpenMP parallel
// region (the attention heads) stay float32 too. The environment variable MIRD_BF16_MIN_FLOPS
// (read once) overrides the threshold, e.g. 0 to put every product outside a parallel region in
// bfloat16: how the small demo model checks bfloat16's effect on training (docs/performance.md).
#define MATMUL_BF16_MIN_FLOPS 5e7

// Forward-shaped products (C = A B^T, B a [N,K] weight) of at least this many rows M that take the
// oneDNN primitive path (fp32 ones of at least 5e7 FLOPs, bf16 ones over the threshold above) run on
// B reordered into the layout oneDNN's brgemm kernels read, once per product (matmul.c says what it
// buys). The environment variable MIRD_WPACK_MIN_ROWS (read once) overrides the threshold.
#define MATMUL_WPACK_MIN_ROWS 2048

// Reuse of bfloat16 input copies (no effect in float32). Between matmul_reuse_begin() and the
// matching matmul_reuse_end() (they nest; per calling thread) the caller promises that no input of
// the products changes except as some product's C: an input (same pointer, rows, columns and leading
// dimension) already converted to bfloat16 in the scope is then not converted again; a product's C
// invalidates the copies it overlaps. E.g. linear_backward's two products share dout; BERT's Q, K and
// V projections share their input.
void matmul_reuse_begin(void);
void matmul_reuse_end(void);

// The backend's own float32 GEMM with no dispatch, threading rule or profiling (dnnl_sgemm, or
// cblas_sgemm in a BLAS=openblas build): the yardstick of core/gemm_probe.h.
void matmul_reference(int transA, int transB, int M, int N, int K, float alpha, const float *A, int lda,
                      const float *B, int ldb, float beta, float *C, int ldc);
