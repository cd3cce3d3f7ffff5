// fpenv.h: floating-point environment of the compute threads.
#pragma once

// Flush denormal results to zero and treat denormal inputs as zero (x86 MXCSR FTZ and DAZ bits) on
// the calling thread and on every OpenMP worker thread (threads created later inherit the caller's
// setting). Gradients that fade through hundreds of LSTM steps end in denormal floats, and every
// multiply-add touching one takes a microcode assist (about 100x slower): the visual encoder's
// backward GEMMs ran 10x slower. Values below 1.2e-38 become 0, far under every tolerance of the
// model. No-op on other architectures. Idempotent; mird_create calls it.
void fp_flush_denormals(void);
