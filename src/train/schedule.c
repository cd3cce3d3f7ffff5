// schedule.c: see schedule.h.
#include "train/schedule.h"

#include <string.h>

double hf_linear_warmup_factor(double k, double W, double N) {
    if (k < W) return k / (W > 1 ? W : 1);
    double den = N - W > 1 ? N - W : 1;
    double f = (N - k) / den;
    return f > 0 ? f : 0;
}

void schedule_init(Schedule *s, SchedKind kind, long n_train, long batch_size, long epochs, double warmup_proportion) {
    s->kind = kind;
    if (batch_size < 1) batch_size = 1;
    if (kind == SCHED_PAPER) {
        double T = (double)(n_train / batch_size) * (double)epochs; // int(len / batch) * epochs
        s->num_warmup_steps = T;
        s->num_training_steps = warmup_proportion * T;
    } else {
        long total = (n_train + batch_size - 1) / batch_size * epochs;
        s->num_warmup_steps = (double)(long)(warmup_proportion * (double)total);
        s->num_training_steps = (double)total;
    }
}

double schedule_factor(const Schedule *s, long step) {
    if (s->kind == SCHED_CONSTANT) return 1.0;
    return hf_linear_warmup_factor((double)step, s->num_warmup_steps, s->num_training_steps);
}

int schedule_parse(const char *name, SchedKind *kind) {
    if (!strcmp(name, "warmup-linear")) *kind = SCHED_WARMUP_LINEAR;
    else if (!strcmp(name, "constant")) *kind = SCHED_CONSTANT;
    else if (!strcmp(name, "paper")) *kind = SCHED_PAPER;
    else return -1;
    return 0;
}

const char *schedule_name(SchedKind kind) {
    return kind == SCHED_CONSTANT ? "constant" : kind == SCHED_PAPER ? "paper" : "warmup-linear";
}
