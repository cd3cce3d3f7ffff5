// api.h: what the files of the C API (include/mird.h) share: filling a mird_error, and the
// per-call environment (OpenMP thread count, flush-to-zero) set on entry and restored on return.
#pragma once
#include "core/common.h"
#include "core/matmul.h"
#include "../../include/mird.h" // the public header (relative: every build of src/ finds it)

_Static_assert(MIRD_MESSAGE_LEN == MIRD_ERRLEN, "mird_error.message holds one internal error message");

// Clear e (code 0, empty message); e may be NULL.
void api_clear(mird_error *e);
// Fill e with code and a one-line message (control characters become '?'); returns code.
int api_fail(mird_error *e, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

// What a call changes in the calling thread and restores on return: its OpenMP thread count
// (threads > 0 sets it for the call) and its MXCSR (flush-to-zero and denormals-are-zero are set
// on the caller and the OpenMP workers, as mird_create does for the program: core/fpenv.h).
typedef struct {
    int threads;
    unsigned csr;
    MatmulPrecision precision;
} ApiEnv;
// Saves the caller's OpenMP threads, floating-point mode and matmul precision, then sets threads
// (0 = keep) and precision for the call; api_leave restores them.
void api_enter(ApiEnv *env, int threads, MatmulPrecision precision);
void api_leave(const ApiEnv *env);
