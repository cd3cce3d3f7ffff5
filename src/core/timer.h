// timer.h: cheap wall-clock stage timers for profiling (`mird bench`).
//
// Model code brackets a stage with TIMER_BEGIN / TIMER_END; when timing is off (the default) each
// bracket costs one load and a branch. When it is on (timer_enable(1)), each named stage
// accumulates its wall seconds, its call count and the GEMM FLOPs that matmul() counted between
// the two brackets (2 M N K per call, summed across threads), so a report can print GFLOP/s.
// Stages are flat: a stage's time does not include any other stage it might enclose only if the
// caller does not nest them (nested stages simply both count the inner time).
//
//   TIMER_BEGIN(t);                  // declares `double t` (start time) and a FLOP snapshot
//   bert_stack_forward(...);
//   TIMER_END(t, "fwd.wsa_bert");    // registers the name on first use (serial code only)
//
// Names are registered on first use (at most TIMER_MAX_STAGES); call TIMER_* from serial code,
// never inside an OpenMP parallel region. timer_reset() zeroes the sums, keeping the names.
#pragma once

#define TIMER_MAX_STAGES 64

typedef struct {
    const char *name; // as given to timer_stage (a string literal)
    double seconds;   // total wall time
    double flops;     // total GEMM FLOPs counted by matmul()
    long calls;
} TimerStat;

extern int timer_on_;             // read by the macros; set through timer_enable
extern double timer_gemm_flops_;  // running GEMM FLOP count (matmul adds to it when timer_on_)

void timer_enable(int on);
int timer_enabled(void);
double timer_now(void);                           // monotonic seconds
int timer_stage(const char *name);                // id of a named stage (registered on first use)
void timer_add(int id, double seconds, double flops);
void timer_count_flops(double flops);             // thread-safe; matmul() calls it
void timer_reset(void);
int timer_count(void);                            // number of registered stages
const TimerStat *timer_get(int id);               // NULL when out of range
// Seconds / FLOPs of a named stage (0 when unknown).
double timer_seconds(const char *name);
double timer_flops(const char *name);

#define TIMER_BEGIN(var)                                                                                   \
    double var = 0.0, var##_f = 0.0;                                                                       \
    if (timer_on_) var = timer_now(), var##_f = timer_gemm_flops_

// Restart an existing TIMER_BEGIN variable (e.g. inside a loop).
#define TIMER_RESTART(var)                                                                                 \
    do {                                                                                                   \
        if (timer_on_) var = timer_now(), var##_f = timer_gemm_flops_;                                     \
    } while (0)

#define TIMER_END(var, name)                                                                               \
    do {                                                                                                   \
        if (timer_on_) {                                                                                   \
            static int var##_id = -1;                                                                      \
            if (var##_id < 0) var##_id = timer_stage(name);                                                \
            timer_add(var##_id, timer_now() - var, timer_gemm_flops_ - var##_f);                           \
        }                                                                                                  \
    } while (0)
