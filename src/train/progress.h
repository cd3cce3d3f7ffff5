// progress.h: training progress on stderr. On a terminal: one redrawn line with a bar, the step,
// the epoch, live losses and the ETA. Otherwise (a log file, CI): a plain line at most every
// `plain_every` seconds, plus one line per finished epoch. `quiet` prints nothing.
#pragma once

typedef struct {
    int tty, quiet;
    double t0, last, plain_every;
    long total, start; // steps in the whole run; step the run (re)started from
    int drawn;         // a live line is on screen
} Progress;

void progress_init(Progress *p, long total_steps, long start_step, int quiet);
// After each optimiser step; `status` is a short text with the live losses.
void progress_step(Progress *p, long step_done, int epoch, int epochs, const char *status);
// A whole line (epoch summary, messages): clears the live line first.
void progress_line(Progress *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void progress_done(Progress *p);
double now_seconds(void); // monotonic clock
