// rng.h: seeded random numbers with independent streams, so a run is reproducible from one seed.
// xoshiro256** seeded through splitmix64 from (seed, stream); distinct streams never share state.
#pragma once
#include <stdint.h>

enum { RNG_STREAM_INIT = 0, RNG_STREAM_DROPOUT = 1, RNG_STREAM_SHUFFLE = 2, RNG_STREAM_DATA = 3 };
// Data-parallel training: rank p >= 1 draws its dropout from stream RNG_STREAM_DROPOUT_RANK + p
// (rank 0 keeps RNG_STREAM_DROPOUT, the single-process stream).
#define RNG_STREAM_DROPOUT_RANK 1024

typedef struct {
    uint64_t s[4];
} Rng;

void rng_seed(Rng *r, uint64_t seed, uint64_t stream);
uint64_t rng_u64(Rng *r);
float rng_uniform(Rng *r);                     // [0, 1)
double rng_uniform_double(Rng *r);             // [0, 1)
float rng_normal(Rng *r);                      // N(0, 1), Box-Muller in double
uint32_t rng_below(Rng *r, uint32_t n);        // uniform integer in [0, n), unbiased
void rng_shuffle(Rng *r, int *a, int n);       // Fisher-Yates
