// cmd_bench.c: `mird bench --checkpoint CKPT --batch BATCH.safetensors [--steps N]
//   [--club-mode once|official] [--threads T] [--seed S] [--precision fp32|bf16] [--probe-reps R]
//   [--epoch-clips N] [--epochs E] [--json]`
// INTERFACES.md section 4: N timed training steps (dropout on, constant learning rates, K = 5
// estimator steps) after one untimed warm-up step on the same batch. Prints a per-stage table
// (wall seconds per step and achieved GEMM GFLOP/s, from the stage timers of core/timer.h that the
// model code brackets) unless --json, and always, as its last line, one JSON object:
//   step_seconds_median, step_seconds_min, step_seconds (all N), peak_rss_bytes (the process's
//   maximum resident set, getrusage), step_peak_rss_bytes (the maximum resident set during the
//   steps alone: the kernel's high-water mark is reset after loading, where /proc allows it),
//   club_mode, threads, steps, batch sizes, gflop_per_step (GEMM FLOPs), and "stages": for each
//   stage its seconds per step (median-free mean over the N steps), GFLOP per step and GFLOP/s.
// The yardstick (issue: the step near the GEMM limit): the backend's dnnl_sgemm on BERT-base shapes
// (core/gemm_probe.h), timed in the same run after the steps, twice (the better of the two), and
// the step's GEMM work as the padded computation counts it (one extra untimed step with WSA-BERT's
// padding not skipped): gemm_fraction = reference GFLOP per step / median step / probe rate. Also
// the projected time of a CMU-MOSI epoch (--epoch-clips labeled clips in batches of the batch's
// labeled rows) and of --epochs epochs, training steps only.
// The model's weights change during the run (each step updates them); the batch is reused.
// Under mpirun with several ranks the batch's rows are split over the ranks (docs/distributed.md)
// and each timed step is the global data-parallel step; rank 0 reports (its step times and stage
// table, which has the gradient allreduce as "comm.allreduce"), with batch sizes of the global
// batch, "ranks", and peak_rss_bytes_all_ranks.
#include <errno.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include <jansson.h>

#include "cli/batchfile.h"
#include "cli/commands.h"
#include "core/comm.h"
#include "core/common.h"
#include "core/gemm_probe.h"
#include "core/matmul.h"
#include "core/timer.h"
#include "io/safetensors.h"
#include "models/mird.h"

static void bench_usage(FILE *f) {
    fprintf(f, "usage: mird bench --checkpoint CKPT --batch BATCH.safetensors [--steps N] [--club-mode once|official]\n"
               "         [--threads T] [--seed S] [--precision fp32|bf16] [--json]\n"
               "  times N training steps (default 5; dropout on, lr 1e-5 / 1e-3, weight decay 0.01, K = 5\n"
               "  estimator steps) after one untimed warm-up step. --club-mode: once (default here) reuses\n"
               "  the latents of one forward for the estimator steps; official recomputes them before each,\n"
               "  as the authors' code and `mird train` (its default) do. The last output line is a JSON object\n"
               "  (step_seconds_median, step_seconds_min, peak_rss_bytes, club_mode, stages, ...);\n"
               "  --json prints only that line. --threads sets the OpenMP threads (default: OpenMP's).\n"
               "  --precision bf16: matrix products on bfloat16 inputs with float32 accumulation (where the CPU\n"
               "  has bfloat16 instructions; otherwise a one-line note and float32).\n"
               "  --compare-precision P: then P pairs of steps, one fp32 and one bf16 each (in alternating\n"
               "  order), and the fp32 / bf16 ratio of each pair: the speed-up measured step against step in\n"
               "  one process, which a shared machine's drift between runs does not bias (JSON\n"
               "  \"precision_compare\"; needs bfloat16 instructions).\n"
               "  The step is also rated against dnnl_sgemm on BERT-base shapes timed in the same run\n"
               "  (--probe-reps R, default 3; 0 = no probe) and projected to a CMU-MOSI epoch of\n"
               "  --epoch-clips N labeled clips (1284) and to --epochs E epochs (100).\n"
               "  Under mpirun the batch's rows are split over the ranks: the global step, with comm.* stages.\n");
}

static int parse_int(const char *flag, const char *s, int lo, int hi, int *dst) {
    char *end;
    errno = 0;
    long x = strtol(s, &end, 10);
    if (errno || *end || end == s || x < lo || x > hi) {
        fprintf(stderr, "mird: bench: %s '%s': expected an integer in [%d, %d]\n", flag, s, lo, hi);
        return -1;
    }
    *dst = (int)x;
    return 0;
}

// Resident-set high-water mark: reset (Linux >= 4.0: "5" > /proc/self/clear_refs) and read (VmHWM).
static int hwm_reset(void) {
    FILE *f = fopen("/proc/self/clear_refs", "w");
    if (!f) return -1;
    int ok = fputs("5", f) >= 0;
    return fclose(f) == 0 && ok ? 0 : -1;
}
static long long hwm_bytes(void) {
    FILE *f = fopen("/proc/self/status", "r");
    if (!f) return -1;
    char line[256];
    long long kb = -1;
    while (fgets(line, sizeof(line), f))
        if (!strncmp(line, "VmHWM:", 6)) {
            kb = atoll(line + 6);
            break;
        }
    fclose(f);
    return kb < 0 ? -1 : kb * 1024;
}
static long long maxrss_bytes(void) {
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru)) return -1;
    return (long long)ru.ru_maxrss * 1024;
}

// CPU seconds of the whole process (all threads): on a machine shared with other work a step's CPU
// time varies far less than its wall time (time spent descheduled does not count).
static double cpu_seconds(void) {
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

// Sorts v[n] (n >= 1) ascending and returns its median.
static double median_sort(double *v, int n) {
    qsort(v, (size_t)n, sizeof(double), cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

int cmd_bench(int argc, char **argv) {
    const char *ckpt = NULL, *batch = NULL;
    int steps = 5, threads = 0, json_only = 0, seed = 1, probe_reps = 3, epoch_clips = 1284, epochs = 100, pairs = 0;
    MirdClubMode mode = MIRD_CLUB_ONCE;
    MatmulPrecision prec = MATMUL_FP32;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int has = i + 1 < argc;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            bench_usage(stdout);
            return 0;
        } else if (!strcmp(a, "--checkpoint") && has) {
            ckpt = argv[++i];
        } else if (!strcmp(a, "--batch") && has) {
            batch = argv[++i];
        } else if (!strcmp(a, "--steps") && has) {
            if (parse_int(a, argv[++i], 1, 100000, &steps)) return 2;
        } else if (!strcmp(a, "--threads") && has) {
            if (parse_int(a, argv[++i], 1, 4096, &threads)) return 2;
        } else if (!strcmp(a, "--seed") && has) {
            if (parse_int(a, argv[++i], 0, 2147483647, &seed)) return 2;
        } else if (!strcmp(a, "--probe-reps") && has) {
            if (parse_int(a, argv[++i], 0, 1000, &probe_reps)) return 2;
        } else if (!strcmp(a, "--epoch-clips") && has) {
            if (parse_int(a, argv[++i], 1, 100000000, &epoch_clips)) return 2;
        } else if (!strcmp(a, "--compare-precision") && has) {
            if (parse_int(a, argv[++i], 1, 100000, &pairs)) return 2;
        } else if (!strcmp(a, "--epochs") && has) {
            if (parse_int(a, argv[++i], 1, 1000000, &epochs)) return 2;
        } else if (!strcmp(a, "--club-mode") && has) {
            const char *s = argv[++i];
            if (!strcmp(s, "once")) mode = MIRD_CLUB_ONCE;
            else if (!strcmp(s, "official")) mode = MIRD_CLUB_OFFICIAL;
            else {
                fprintf(stderr, "mird: bench: --club-mode '%s': expected once or official\n", s);
                return 2;
            }
        } else if (!strcmp(a, "--precision") && has) {
            if (matmul_precision_parse(argv[++i], &prec)) {
                fprintf(stderr, "mird: bench: --precision '%s': expected fp32 or bf16\n", argv[i]);
                return 2;
            }
        } else if (!strcmp(a, "--json")) {
            json_only = 1;
        } else {
            fprintf(stderr, "mird: bench: unknown or incomplete argument '%s' (see mird bench --help)\n", a);
            return 2;
        }
    }
    if (!ckpt || !batch) {
        fprintf(stderr, "mird: bench: --checkpoint and --batch are required (see mird bench --help)\n");
        return 2;
    }
    if (pairs && !matmul_bf16_supported()) {
        fprintf(stderr, "mird: bench: --compare-precision needs bfloat16 products, which this CPU or build lacks\n");
        return 1;
    }
    if (threads > 0) omp_set_num_threads(threads);
    prec = cli_set_precision(prec);
    char err[MIRD_ERRLEN];
    LoadedBatch lb;
    Mird m;
    const Comm *w = comm_world();
    if (batchfile_load_with_model(ckpt, batch, 0, &m, &lb, err)) {
        if (w->rank == 0) fprintf(stderr, "mird: %s\n", err);
        return 1;
    }
    const MirdConfig cfg = m.cfg;
    MirdBatch b = {lb.ids, lb.mask, lb.types, lb.ac, lb.vi, lb.B_l ? lb.labels : NULL,
                   lb.B,   lb.B_l, lb.Tl,    lb.Ta, lb.Tv};
    if (comm_agree(w, mird_check_batch(&m, &b, err), err)) {
        if (w->rank == 0) fprintf(stderr, "mird: %s: %s\n", batch, err);
        mird_free(&m);
        batchfile_free(&lb);
        return 1;
    }
    MirdStepOpts o = mird_step_defaults();
    o.club_mode = mode;
    Rng rng;
    rng_seed(&rng, (uint64_t)seed, RNG_STREAM_DROPOUT);
    int hwm_ok = hwm_reset() == 0;

    mird_train_step(&m, &b, &o, &rng); // warm-up (untimed): first-touch of buffers, oneDNN kernels
    timer_reset();
    timer_enable(1);
    double *ts = xmalloc((size_t)steps * sizeof(double)), *cpu = xmalloc((size_t)steps * sizeof(double));
    int finite = 1;
    for (int s = 0; s < steps; s++) {
        double t0 = timer_now(), c0 = cpu_seconds();
        TIMER_BEGIN(tstep);
        mird_train_step(&m, &b, &o, &rng);
        TIMER_END(tstep, "step");
        ts[s] = timer_now() - t0;
        cpu[s] = cpu_seconds() - c0;
        if (!isfinite(m.loss.total)) finite = 0;
    }
    timer_enable(0);
    long long step_hwm = hwm_ok ? hwm_bytes() : -1, peak = maxrss_bytes();
    double step_flops = timer_flops("step") / steps;
    // the yardstick, after the memory readings (its buffers are not the model's)
    double probe1 = probe_reps ? gemm_probe_run(matmul_reference, GEMM_PROBE_ROWS, probe_reps, NULL) : 0;
    // the reference GEMM work: one more step (untimed) with nothing skipped, counted alone
    TimerStat saved[TIMER_MAX_STAGES];
    int nsaved = timer_count();
    for (int i = 0; i < nsaved; i++) saved[i] = *timer_get(i);
    timer_reset();
    timer_enable(1);
    mird_set_skip_padding(&m, 0);
    {
        TIMER_BEGIN(tref);
        mird_train_step(&m, &b, &o, &rng);
        TIMER_END(tref, "reference");
    }
    mird_set_skip_padding(&m, 1);
    timer_enable(0);
    double ref_flops = timer_flops("reference");
    double probe2 = probe_reps ? gemm_probe_run(matmul_reference, GEMM_PROBE_ROWS, probe_reps, NULL) : 0;
    double probe = probe1 > probe2 ? probe1 : probe2;
    // fp32 against bf16, step against step: one untimed step in the precision not run yet, then pairs
    double *pt = xmalloc((size_t)(pairs > 0 ? 3 * pairs : 1) * sizeof(double)); // fp32, bf16, ratio
    if (pairs) {
        matmul_set_precision(prec == MATMUL_FP32 ? MATMUL_BF16 : MATMUL_FP32);
        mird_train_step(&m, &b, &o, &rng);
        for (int k = 0; k < pairs; k++)
            for (int h = 0; h < 2; h++) {
                int bf = (k + h) % 2; // fp32 first in even pairs, bf16 first in odd ones
                matmul_set_precision(bf ? MATMUL_BF16 : MATMUL_FP32);
                double t0 = timer_now();
                mird_train_step(&m, &b, &o, &rng);
                pt[bf * pairs + k] = timer_now() - t0;
                if (!isfinite(m.loss.total)) finite = 0;
            }
        matmul_set_precision(prec);
        for (int k = 0; k < pairs; k++) pt[2 * pairs + k] = pt[k] / pt[pairs + k];
    }
    double *sorted = xmalloc((size_t)steps * sizeof(double));
    memcpy(sorted, ts, (size_t)steps * sizeof(double));
    double med = median_sort(sorted, steps), mn = sorted[0], cpu_med = median_sort(cpu, steps);
    // GEMM rates over the median step: the reference (padded) count and the executed one
    double gf_ref = ref_flops * 1e-9 / med, gf_exec = step_flops * 1e-9 / med;

    json_t *j = json_object();
    json_object_set_new(j, "command", json_string("bench"));
    json_object_set_new(j, "club_mode", json_string(mode == MIRD_CLUB_ONCE ? "once" : "official"));
    json_object_set_new(j, "steps", json_integer(steps));
    json_object_set_new(j, "threads", json_integer(omp_get_max_threads()));
    json_object_set_new(j, "ranks", json_integer(w->size));
    double rss_all = (double)peak;
    comm_allreduce_f64(w, &rss_all, 1);
    json_object_set_new(j, "peak_rss_bytes_all_ranks", json_integer((json_int_t)rss_all));
    json_object_set_new(j, "blas", json_string(matmul_backend()));
    json_object_set_new(j, "precision", json_string(matmul_precision_name(prec)));
    json_object_set_new(j, "batch_rows", json_integer(lb.B_all));
    json_object_set_new(j, "batch_labeled", json_integer(lb.B_l_all));
    json_object_set_new(j, "Tl", json_integer(lb.Tl));
    json_object_set_new(j, "Ta", json_integer(lb.Ta));
    json_object_set_new(j, "Tv", json_integer(lb.Tv));
    json_object_set_new(j, "hidden_size", json_integer(cfg.bert.hidden_size));
    json_object_set_new(j, "num_hidden_layers", json_integer(cfg.bert.num_hidden_layers));
    json_object_set_new(j, "vocab_size", json_integer(cfg.bert.vocab_size));
    json_object_set_new(j, "step_seconds_median", json_real(med));
    json_object_set_new(j, "step_seconds_min", json_real(mn));
    json_object_set_new(j, "step_cpu_seconds_median", json_real(cpu_med));
    json_t *arr = json_array();
    for (int s = 0; s < steps; s++) json_array_append_new(arr, json_real(ts[s]));
    json_object_set_new(j, "step_seconds", arr);
    json_object_set_new(j, "peak_rss_bytes", json_integer(peak));
    json_object_set_new(j, "step_peak_rss_bytes", json_integer(step_hwm));
    json_object_set_new(j, "parameters", json_integer((json_int_t)m.params.total));
    json_object_set_new(j, "last_loss", finite ? json_real(m.loss.total) : json_null());
    json_object_set_new(j, "gflop_per_step", json_real(step_flops * 1e-9));
    json_object_set_new(j, "gflop_per_step_reference", json_real(ref_flops * 1e-9));
    json_object_set_new(j, "gflops_achieved", json_real(gf_ref));
    json_object_set_new(j, "gflops_executed", json_real(gf_exec));
    if (probe > 0) {
        json_object_set_new(j, "gemm_probe_gflops", json_real(probe));
        json_object_set_new(j, "gemm_fraction", json_real(gf_ref / probe));
        json_object_set_new(j, "gemm_fraction_executed", json_real(gf_exec / probe));
    }
    int bl = lb.B_l > 0 ? lb.B_l : lb.B;
    long epoch_steps = (epoch_clips + bl - 1) / bl;
    json_object_set_new(j, "epoch_clips", json_integer(epoch_clips));
    json_object_set_new(j, "epoch_steps", json_integer(epoch_steps));
    json_object_set_new(j, "epoch_seconds_projected", json_real(epoch_steps * med));
    json_object_set_new(j, "epochs", json_integer(epochs));
    json_object_set_new(j, "run_hours_projected", json_real(epoch_steps * med * epochs / 3600.0));
    double ratio_med = 0;
    if (pairs) {
        json_t *pc = json_object(), *a32 = json_array(), *a16 = json_array(), *ar = json_array();
        for (int k = 0; k < pairs; k++) {
            json_array_append_new(a32, json_real(pt[k]));
            json_array_append_new(a16, json_real(pt[pairs + k]));
            json_array_append_new(ar, json_real(pt[2 * pairs + k]));
        }
        ratio_med = median_sort(pt + 2 * pairs, pairs); // sorts the ratios, after they are listed
        json_object_set_new(pc, "pairs", json_integer(pairs));
        json_object_set_new(pc, "fp32_seconds", a32);
        json_object_set_new(pc, "bf16_seconds", a16);
        json_object_set_new(pc, "fp32_over_bf16", ar);
        json_object_set_new(pc, "ratio_median", json_real(ratio_med));
        json_object_set_new(j, "precision_compare", pc);
    }
    json_t *st = json_object();
    if (!json_only) {
        printf("mird bench: %d steps, club mode %s, %d ranks x %d threads, batch %d rows (%d labeled), Tl %d Ta %d Tv %d, "
               "H %d, %d BERT layers, V %d\n",
               steps, mode == MIRD_CLUB_ONCE ? "once" : "official", w->size, omp_get_max_threads(), lb.B_all, lb.B_l_all, lb.Tl,
               lb.Ta, lb.Tv, cfg.bert.hidden_size, cfg.bert.num_hidden_layers, cfg.bert.vocab_size);
        printf("%-24s %12s %8s %12s %10s\n", "stage", "s/step", "share", "GFLOP/step", "GFLOP/s");
    }
    double tstep_mean = 0;
    for (int i = 0; i < nsaved; i++)
        if (!strcmp(saved[i].name, "step")) tstep_mean = saved[i].seconds / steps;
    for (int i = 0; i < nsaved; i++) {
        const TimerStat *s = &saved[i];
        double sec = s->seconds / steps, gf = s->flops / steps * 1e-9;
        json_t *e = json_object();
        json_object_set_new(e, "seconds", json_real(sec));
        json_object_set_new(e, "calls_per_step", json_real((double)s->calls / steps));
        json_object_set_new(e, "gflop", json_real(gf));
        json_object_set_new(e, "gflops", json_real(sec > 0 ? gf / sec : 0));
        json_object_set_new(st, s->name, e);
        if (!json_only)
            printf("%-24s %12.4f %7.1f%% %12.3f %10.1f\n", s->name, sec, tstep_mean > 0 ? 100 * sec / tstep_mean : 0,
                   gf, sec > 0 ? gf / sec : 0);
    }
    json_object_set_new(j, "stages", st);
    if (!json_only) {
        printf("step seconds: median %.4f, min %.4f (CPU %.4f); peak RSS %.1f MiB (steps alone %.1f MiB)\n", med, mn,
               cpu_med, peak / 1048576.0, step_hwm / 1048576.0);
        printf("GEMM work per step: %.1f GFLOP as the padded computation counts it (%.1f executed); achieved "
               "%.1f GFLOP/s\n",
               ref_flops * 1e-9, step_flops * 1e-9, gf_ref);
        if (probe > 0)
            printf("  = %.3f of dnnl_sgemm's %.1f GFLOP/s on BERT-base shapes in this run (executed work: %.3f)\n",
                   gf_ref / probe, probe, gf_exec / probe);
        printf("projected (training steps only): epoch of %d labeled clips = %ld steps = %.1f min; %d epochs = %.1f h\n",
               epoch_clips, epoch_steps, epoch_steps * med / 60, epochs, epoch_steps * med * epochs / 3600);
        if (pairs)
            printf("fp32 / bf16, step against step over %d pairs: median %.3f (from %.3f to %.3f)\n", pairs, ratio_med,
                   pt[2 * pairs], pt[3 * pairs - 1]);
    }
    char *js = json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(6));
    printf("%s\n", js);
    free(js);
    json_decref(j);
    free(ts), free(sorted), free(cpu), free(pt);
    mird_free(&m);
    batchfile_free(&lb);
    if (!finite) {
        if (w->rank == 0) fprintf(stderr, "mird: bench: the loss became non-finite during the run\n");
        return 1;
    }
    return 0;
}
