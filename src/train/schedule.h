// schedule.h: learning-rate schedules, as a multiplier of the base rate for each optimiser step.
// Step k (0-based: the k-th call of the optimiser) uses lr = base * schedule_factor(s, k), which is
// what PyTorch's LambdaLR gives when scheduler.step() follows every optimizer.step().
//   warmup-linear (default): Hugging Face's linear warm-up/decay with
//       num_warmup_steps = floor(warmup_proportion * total), num_training_steps = total,
//       total = the steps actually taken = ceil(n_train / batch) * epochs.
//   constant: 1.
//   paper: the official MIRD script's call, with its arguments swapped:
//       get_linear_schedule_with_warmup(num_warmup_steps = T, num_training_steps = warmup_proportion * T)
//       with T = int(n_train / batch) * epochs (floor, unlike the steps actually taken), so the rate
//       climbs as k / T and is 0 from step T on (T is ~96% of the steps on CMU-MOSI).
#pragma once

typedef enum { SCHED_WARMUP_LINEAR, SCHED_CONSTANT, SCHED_PAPER } SchedKind;

typedef struct {
    SchedKind kind;
    double num_warmup_steps, num_training_steps; // the arguments handed to the HF formula
} Schedule;

// Hugging Face transformers' get_linear_schedule_with_warmup lambda, for any (even swapped) arguments:
//   k < W: k / max(1, W); else max(0, (N - k) / max(1, N - W)).
double hf_linear_warmup_factor(double k, double num_warmup_steps, double num_training_steps);

void schedule_init(Schedule *s, SchedKind kind, long n_train, long batch_size, long epochs, double warmup_proportion);
double schedule_factor(const Schedule *s, long step);
// "warmup-linear" | "constant" | "paper" -> kind; returns -1 for an unknown name.
int schedule_parse(const char *name, SchedKind *kind);
const char *schedule_name(SchedKind kind);
