// timer.c: stage timers for profiling, see timer.h.
#include "core/timer.h"

#include <string.h>
#include <time.h>

int timer_on_ = 0;
double timer_gemm_flops_ = 0.0;

static TimerStat stats[TIMER_MAX_STAGES];
static int nstats = 0;

void timer_enable(int on) { timer_on_ = on != 0; }
int timer_enabled(void) { return timer_on_; }

double timer_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int timer_stage(const char *name) {
    for (int i = 0; i < nstats; i++)
        if (!strcmp(stats[i].name, name)) return i;
    if (nstats == TIMER_MAX_STAGES) return TIMER_MAX_STAGES - 1; // overflow: lumped into the last slot
    stats[nstats].name = name;
    return nstats++;
}

void timer_add(int id, double seconds, double flops) {
    if (id < 0 || id >= nstats) return;
    stats[id].seconds += seconds;
    stats[id].flops += flops;
    stats[id].calls++;
}

void timer_count_flops(double flops) {
#pragma omp atomic
    timer_gemm_flops_ += flops;
}

void timer_reset(void) {
    for (int i = 0; i < nstats; i++) stats[i].seconds = stats[i].flops = 0, stats[i].calls = 0;
    timer_gemm_flops_ = 0;
}

int timer_count(void) { return nstats; }
const TimerStat *timer_get(int id) { return id >= 0 && id < nstats ? &stats[id] : NULL; }

static const TimerStat *find(const char *name) {
    for (int i = 0; i < nstats; i++)
        if (!strcmp(stats[i].name, name)) return &stats[i];
    return NULL;
}
double timer_seconds(const char *name) {
    const TimerStat *s = find(name);
    return s ? s->seconds : 0.0;
}
double timer_flops(const char *name) {
    const TimerStat *s = find(name);
    return s ? s->flops : 0.0;
}
