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

// Counter-based hash for random numbers computed in parallel (dropout masks): element i of the
// sequence keyed by `key` (one rng_u64 draw). Two rounds of Wellons' lowbias32 integer mix, the key
// folded in before each; for a fixed key, i -> value is a bijection on 32-bit i. Pure integer
// arithmetic, so the value of an element never depends on the thread count or vector width, and
// the loops that use it vectorise.
// The same on 32-bit halves: rng_hash32(key, i) = rng_hash32_lo((uint32_t)key, rng_hash32_hi(key, i),
// (uint32_t)i). Loops over consecutive i compute the high part once: pure 32-bit lanes vectorise.
static inline uint32_t rng_hash32_hi(uint64_t key, uint64_t i) {
    return (uint32_t)(key >> 32) ^ ((uint32_t)(i >> 32) * 0x9e3779b9u);
}
static inline uint32_t rng_hash32_lo(uint32_t klo, uint32_t khi, uint32_t lo) {
    uint32_t x = lo ^ klo;
    x ^= x >> 16, x *= 0x21f0aaadu, x ^= x >> 15, x *= 0x735a2d97u, x ^= x >> 15;
    x ^= khi;
    x ^= x >> 16, x *= 0x21f0aaadu, x ^= x >> 15, x *= 0x735a2d97u, x ^= x >> 15;
    return x;
}
static inline uint32_t rng_hash32(uint64_t key, uint64_t i) {
    return rng_hash32_lo((uint32_t)key, rng_hash32_hi(key, i), (uint32_t)i);
}
