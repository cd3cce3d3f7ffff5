// progress.c: see progress.h.
#include "train/progress.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void fmt_dur(char *buf, size_t n, double s) {
    if (!(s >= 0) || s > 1e7) snprintf(buf, n, "--:--");
    else if (s >= 3600) snprintf(buf, n, "%dh%02dm", (int)(s / 3600), (int)(s / 60) % 60);
    else snprintf(buf, n, "%dm%02ds", (int)(s / 60), (int)s % 60);
}

void progress_init(Progress *p, long total_steps, long start_step, int quiet) {
    memset(p, 0, sizeof(*p));
    p->tty = isatty(fileno(stderr));
    p->quiet = quiet;
    p->t0 = p->last = now_seconds();
    p->plain_every = 30;
    p->total = total_steps, p->start = start_step;
}

void progress_step(Progress *p, long done, int epoch, int epochs, const char *status) {
    if (p->quiet) return;
    double t = now_seconds();
    int final = done >= p->total;
    if (p->tty ? (t - p->last < 0.2 && !final) : (t - p->last < p->plain_every)) return;
    p->last = t;
    double rate = (t - p->t0) / (double)(done - p->start > 0 ? done - p->start : 1);
    char eta[32], el[32];
    fmt_dur(eta, sizeof eta, rate * (double)(p->total - done));
    fmt_dur(el, sizeof el, t - p->t0);
    double frac = p->total ? (double)done / (double)p->total : 1;
    if (p->tty) {
        char bar[26];
        int fill = (int)(frac * 24 + 0.5);
        for (int i = 0; i < 24; i++) bar[i] = i < fill ? '#' : '-';
        bar[24] = 0;
        fprintf(stderr, "\r\033[K[%s] %3.0f%% step %ld/%ld epoch %d/%d  %s  %.2fs/step  ETA %s", bar, 100 * frac, done,
                p->total, epoch, epochs, status, rate, eta);
        p->drawn = 1;
    } else {
        fprintf(stderr, "step %ld/%ld (%.0f%%) epoch %d/%d  %s  %.2fs/step  elapsed %s  ETA %s\n", done, p->total,
                100 * frac, epoch, epochs, status, rate, el, eta);
    }
    fflush(stderr);
}

void progress_line(Progress *p, const char *fmt, ...) {
    if (p->quiet) return;
    if (p->drawn) fprintf(stderr, "\r\033[K");
    p->drawn = 0;
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    fflush(stderr);
}

void progress_done(Progress *p) {
    if (!p->quiet && p->drawn) fprintf(stderr, "\n");
    p->drawn = 0;
}
