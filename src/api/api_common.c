// api_common.c: versions, errors, the per-call environment and mird_string_free of the C API (api.h).
#include "api/api.h"

#include <omp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/fpenv.h"

#if defined(__SSE__) || defined(__x86_64__)
#include <xmmintrin.h>
static unsigned csr_get(void) { return _mm_getcsr(); }
static void csr_set(unsigned v) { _mm_setcsr(v); }
#else
static unsigned csr_get(void) { return 0; }
static void csr_set(unsigned v) { (void)v; }
#endif

int mird_api_version(void) { return MIRD_API_VERSION; }

const char *mird_version(void) { return MIRD_VERSION; }

void mird_string_free(char *s) { free(s); }

void api_clear(mird_error *e) {
    if (e) e->code = MIRD_OK, e->message[0] = 0;
}

int api_fail(mird_error *e, int code, const char *fmt, ...) {
    if (e) {
        char msg[MIRD_ERRLEN];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof msg, fmt, ap);
        va_end(ap);
        errf(e->message, "%s", msg); // errf makes it one line
        e->code = code;
    }
    return code;
}

void api_enter(ApiEnv *env, int threads, MatmulPrecision precision) {
    env->threads = omp_get_max_threads();
    env->csr = csr_get();
    env->precision = matmul_precision();
    if (threads > 0) omp_set_num_threads(threads);
    fp_flush_denormals();
    matmul_set_precision(precision);
}

void api_leave(const ApiEnv *env) {
    omp_set_num_threads(env->threads);
    csr_set(env->csr);
    matmul_set_precision(env->precision);
}
