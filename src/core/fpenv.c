// fpenv.c: see fpenv.h.
#include "core/fpenv.h"

#if defined(__SSE__) || defined(__x86_64__)
#include <xmmintrin.h>
static void set_here(void) { _mm_setcsr(_mm_getcsr() | 0x8040); } // FTZ (bit 15) | DAZ (bit 6)
#else
static void set_here(void) {}
#endif

void fp_flush_denormals(void) {
    set_here();
#pragma omp parallel
    set_here();
}
