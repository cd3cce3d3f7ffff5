// test_distributed.c: mird under mpirun (docs/distributed.md), 2 to 4 ranks oversubscribed on a
// small machine, each run under a timeout so that a hang fails instead of blocking CI:
//  - the golden debug-step cases (PyTorch's numbers) hold for the data-parallel step;
//  - equivalence: N ranks give what one process gives on the same global batch after several steps
//    (debug-step, dropout off), within float32 summation-order tolerances, also with a rank that
//    holds no row; a short training run (dropout off) gives the same metrics;
//  - --resume under mpirun ends bit-identical to an uninterrupted run (dropout on: per-rank streams);
//  - faults: a rank killed by SIGKILL ends the job (no hang) with the last checkpoint intact and
//    --resume continuing to the uninterrupted result; a rank that cannot read its data ends it with
//    one line naming the rank and the cause; a sweep group that fails ends the job likewise;
//  - sweeps (--ranks-per-run 1): seeds and ablation rows dealt to ranks give bit-identically the
//    single-process runs; bench reports the global step with the allreduce stage.
// The environment for mpirun (root, ASan) is set here and in tests/run.sh; see docs/distributed.md.
#include <jansson.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/common.h"
#include "io/safetensors.h"
#include "testutil.h"

// The sanitizer build runs the distributed code paths on fewer cases (each of its runs under
// mpirun takes seconds to start); the numbers, the faults and the command line are the optimised
// build's to check.
#ifdef __SANITIZE_ADDRESS__
#define SANITIZER_BUILD 1
#else
#define SANITIZER_BUILD 0
#endif

static char TMP[256], SUPP[1200];
static const char *MIRD;
static int have_mpi;

// The mpirun prefix for n ranks, under a timeout of `secs` (then SIGTERM, 5 s later SIGKILL).
// ASan builds: LeakSanitizer reads the suppressions of Open MPI's own allocations, with full stack
// unwinding (Open MPI is built without frame pointers) and MCA components kept loaded so that
// their frames have names.
static const char *mpirun(int n, int secs) {
    static char buf[4][2048];
    static int k = 0;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k],
             "env OMPI_MCA_mca_base_component_disable_dlclose=1 PMIX_MCA_mca_base_component_disable_dlclose=1 "
             "LSAN_OPTIONS=suppressions=%s:fast_unwind_on_malloc=0:print_suppressions=0 OMP_NUM_THREADS=1 "
             "timeout -k 5 %d mpirun --oversubscribe -np %d",
             SUPP, secs, n);
    return buf[k];
}

static const char *path(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static const char *path(const char *fmt, ...) {
    static char buf[8][1024];
    static int k = 0;
    k = (k + 1) % 8;
    char rel[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(rel, sizeof rel, fmt, ap);
    va_end(ap);
    snprintf(buf[k], sizeof buf[k], "%s/%s", TMP, rel);
    return buf[k];
}

// Files a and b (under TMP) have the same bytes; else the test fails showing their difference.
static void same_file(const char *a, const char *b) {
    if (!sh("cmp -s %s/%s %s/%s", TMP, a, TMP, b)) return;
    sh("diff %s/%s %s/%s | head -n 20", TMP, a, TMP, b);
    fail_msg("%s and %s differ", a, b);
}

// rc must be want; else the test fails after showing the end of the command's log.
static void expect_rc(int rc, int want, const char *log, const char *what) {
    if (rc == want) return;
    printf("%s: exit status %d, expected %d; end of %s:\n", what, rc, want, log);
    fflush(stdout);
    sh("tail -n 40 %s", log);
    fail_msg("%s failed", what);
}

static int setup(void **state) {
    (void)state;
    MIRD = getenv("MIRD_BIN");
    if (!MIRD) MIRD = "build/mird";
    // the test runner's environment for Open MPI (also set by tests/run.sh): root in CI and
    // containers, no single-copy shared memory (ptrace rules in containers)
    setenv("OMPI_ALLOW_RUN_AS_ROOT", "1", 0);
    setenv("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1", 0);
    setenv("OMPI_MCA_btl_vader_single_copy_mechanism", "none", 0);
    char cwd[1024];
    if (!getcwd(cwd, sizeof cwd)) return -1;
    snprintf(SUPP, sizeof SUPP, "%s/tests/lsan_mpi.supp", cwd);
    snprintf(TMP, sizeof TMP, "/tmp/mird_test_dist_XXXXXX");
    if (!mkdtemp(TMP)) return -1;
    have_mpi = sh("command -v mpirun >/dev/null && %s version | grep -q 'mpi: yes'", MIRD) == 0;
    if (!have_mpi) return 0;
    // the tiny synthetic benchmark of test_train.c, and its model without dropout
    int rc = sh("%s synth --out %s/data --quiet --n-train 20 --n-valid 8 --n-test 10 --n-unlabeled 40 --ta 8 --tv 4 "
                "--tl 12 --d-a 5 --d-v 6 --hidden 16 --layers 1 --heads 2 --z 8",
                MIRD, TMP);
    if (rc) return -1;
    char p[1024];
    snprintf(p, sizeof p, "%s/data/model.json", TMP);
    json_error_t je;
    json_t *m = json_load_file(p, 0, &je);
    if (!m) return -1;
    json_t *b = json_object_get(m, "bert");
    json_object_set_new(b, "hidden_dropout_prob", json_real(0));
    json_object_set_new(b, "attention_probs_dropout_prob", json_real(0));
    const char *keys[] = {"dropout_prob", "dropout_l", "dropout_multi", "zy_to_y_dropout"};
    for (int k = 0; k < 4; k++) json_object_set_new(m, keys[k], json_real(0));
    snprintf(p, sizeof p, "%s/data/model_nodrop.json", TMP);
    rc = json_dump_file(m, p, 0);
    json_decref(m);
    return rc;
}

static int teardown(void **state) {
    (void)state;
    if (TMP[0]) sh("rm -rf %s", TMP);
    return 0;
}

#define NEED_MPI()                                                                                                   \
    do {                                                                                                             \
        if (!have_mpi) {                                                                                             \
            print_message("skip: no mpirun, or mird built with MPI=0\n");                                            \
            return;                                                                                                  \
        }                                                                                                            \
    } while (0)
#define NOT_UNDER_SANITIZER()                                                                                        \
    do {                                                                                                             \
        if (SANITIZER_BUILD) {                                                                                       \
            print_message("skip under the sanitizers (the optimised build runs it)\n");                              \
            return;                                                                                                  \
        }                                                                                                            \
    } while (0)

// ---------------------------------------------------------------- debug-step
static const char *fixture_args(const char *name) {
    static char args[512];
    char p[300];
    snprintf(p, sizeof p, "tests/fixtures/%s/args", name);
    FILE *f = fopen(p, "r");
    if (!f || !fgets(args, sizeof args, f)) fail_msg("cannot read %s", p);
    fclose(f);
    args[strcspn(args, "\n")] = 0;
    return args;
}

// debug-step of a golden case on n ranks (n = 1: a plain process, no mpirun) into OUT; must succeed.
static void debug_step(const char *name, int n, const char *extra, const char *out) {
    const char *d = "tests/fixtures", *log = path("debug_step.log");
    int rc = sh("%s %s debug-step --checkpoint %s/%s/ckpt.safetensors --batch %s/%s/batch.safetensors --out %s %s %s >%s 2>&1",
                n > 1 ? mpirun(n, 120) : "", MIRD, d, name, d, name, out, fixture_args(name), extra, log);
    expect_rc(rc, 0, log, name);
}

static const char *const CASES[4] = {"mird_club_std", "mird_lstm_full", "mird_base", "mird_nolabel_wa"};

static void test_golden_cases_on_2_ranks(void **state) {
    (void)state;
    NEED_MPI();
    for (int k = 0; k < (SANITIZER_BUILD ? 2 : 4); k++) {
        const char *out = path("golden_%s.safetensors", CASES[k]);
        debug_step(CASES[k], 2, "", out);
        char exp[300];
        snprintf(exp, sizeof exp, "tests/fixtures/%s/expected.safetensors", CASES[k]);
        assert_int_equal(golden_compare(out, exp, CASES[k], &GOLDEN_TOL_TORCH), 0);
    }
}

// N ranks against one process after 4 steps. Measured worst errors (2 to 4 ranks, all four
// cases, several runs): outputs 5e-7, gradients 1.2e-5 of each tensor's scale, parameters 2e-5
// (the standardised-CLUB case at lr 1e-3), MI 7e-6.
static const GoldenTol TOL_RANKS = {1e-5, 1e-4, 2e-4, 2e-4, 1e-5};

static void test_ranks_equal_one_process(void **state) {
    (void)state;
    NEED_MPI();
    // 4 ranks on the 3-row batch of mird_nolabel_wa: one rank holds no row; 3 ranks on the 5-row
    // batch of mird_club_std (3 labeled + 2 unlabeled: labeled and unlabeled rows split separately)
    struct {
        const char *name;
        int n;
    } runs[] = {{"mird_nolabel_wa", 4}, {"mird_club_std", 3}, {"mird_base", 2}, {"mird_lstm_full", 2}};
    size_t nruns = SANITIZER_BUILD ? 2 : sizeof runs / sizeof runs[0];
    for (size_t k = 0; k < nruns; k++) {
        // the last cases with the other ways of summing the gradients (MIRD_ALLREDUCE): MPI_Allreduce
        // after the backward, MPI_Iallreduce during it
        if (k + 2 == nruns) setenv("MIRD_ALLREDUCE", "mpi", 1);
        if (k + 1 == nruns) setenv("MIRD_ALLREDUCE", "overlap", 1);
        const char *one = path("one_%s.safetensors", runs[k].name), *many = path("many_%s.safetensors", runs[k].name);
        debug_step(runs[k].name, 1, "--steps 4", one);
        debug_step(runs[k].name, runs[k].n, "--steps 4", many);
        char tag[96];
        const char *mode = getenv("MIRD_ALLREDUCE");
        snprintf(tag, sizeof tag, "%s, %d ranks vs 1%s%s", runs[k].name, runs[k].n, mode ? ", " : "", mode ? mode : "");
        unsetenv("MIRD_ALLREDUCE");
        assert_int_equal(golden_compare(many, one, tag, &TOL_RANKS), 0);
    }
}

static void test_bench_global_step(void **state) {
    (void)state;
    NEED_MPI();
    const char *f = "tests/fixtures/mird_base";
    const char *out = path("bench.json");
    int rc = sh("%s %s bench --checkpoint %s/ckpt.safetensors --batch %s/batch.safetensors --steps 2 --threads 1 --json > %s "
                "2>%s/bench.log",
                mpirun(2, 120), MIRD, f, f, out, TMP);
    expect_rc(rc, 0, path("bench.log"), "bench");
    json_error_t je;
    json_t *j = json_load_file(out, 0, &je);
    if (!j) fail_msg("%s: %s", out, je.text);
    assert_int_equal(json_integer_value(json_object_get(j, "ranks")), 2);
    assert_int_equal(json_integer_value(json_object_get(j, "batch_rows")), 4); // the global batch
    assert_true(json_is_number(json_object_get(j, "step_seconds_median")));
    json_t *st = json_object_get(j, "stages");
    assert_non_null(json_object_get(st, "comm.allreduce"));
    assert_non_null(json_object_get(st, "comm.gather_latents"));
    json_decref(j);
}

// ---------------------------------------------------------------- training
static const char *FLAGS = "--epochs 3 --batch-size 8 --split-rate 2 --lr 1e-3 --mi-lr 1e-3 --club-steps 2 --max-len 12 "
                           "--eval-batch-size 7 --threads 1 --quiet";

// mird train (n ranks; 1 = a plain process) on the synthetic data into TMP/out; its exit status
// must be `want`.
static void train(int n, const char *model, const char *out, const char *extra, int want) {
    int rc = sh("%s %s train --data %s/data/data.pkl --unlabeled %s/data/unlabeled.pkl --model %s/data/%s --out %s/%s %s %s "
                ">%s/%s.log 2>&1",
                n > 1 ? mpirun(n, 180) : "", MIRD, TMP, TMP, TMP, model, TMP, out, FLAGS, extra, TMP, out);
    expect_rc(rc, want, path("%s.log", out), out);
}

static json_t *results(const char *run, int seed) {
    const char *p = path("%s/seed_%d/results.json", run, seed);
    json_error_t je;
    json_t *j = json_load_file(p, 0, &je);
    if (!j) fail_msg("%s: %s", p, je.text);
    return j;
}

static void test_training_equals_one_process(void **state) {
    (void)state;
    NEED_MPI();
    train(1, "model_nodrop.json", "eq1", "--seeds 0", 0);
    train(2, "model_nodrop.json", "eq2", "--seeds 0", 0);
    json_t *a = results("eq1", 0), *b = results("eq2", 0);
    assert_int_equal(json_integer_value(json_object_get(a, "best_epoch")), json_integer_value(json_object_get(b, "best_epoch")));
    // continuous metrics within 1e-5 (measured: 1e-6 for Corr, 1e-10 for MAE); counts exactly
    const char *keys[] = {"mae", "corr", "non0_mae", "non0_corr", "mse", "has0_acc2", "non0_acc2", "acc7"};
    for (int s = 0; s < 2; s++)
        for (int k = 0; k < 8; k++) {
            const char *split = s ? "test" : "valid";
            double x = json_number_value(json_object_get(json_object_get(a, split), keys[k]));
            double y = json_number_value(json_object_get(json_object_get(b, split), keys[k]));
            if (!(fabs(x - y) <= 1e-5)) fail_msg("%s %s: one process %.9g, 2 ranks %.9g", split, keys[k], x, y);
        }
    json_decref(a), json_decref(b);
    // only rank 0 writes: the run folder holds one of everything
    assert_int_equal(sh("test $(wc -l < %s/eq2/seed_0/log.jsonl) -eq 3 && test -s %s/eq2/summary.json", TMP, TMP), 0);
}

// The tensors of two checkpoints are identical (the metadata holds the run folder's name).
static void same_ckpt(const char *run_a, const char *run_b, const char *file) {
    same_tensors(path("%s/seed_0/%s", run_a, file), path("%s/seed_0/%s", run_b, file));
}

static void test_resume_bit_identical(void **state) {
    (void)state;
    NEED_MPI();
    train(2, "model.json", "ru", "--seeds 0", 0); // uninterrupted, dropout on
    // with a checkpoint after every step, stopped mid-epoch 2 (resumed inside it); and stopped
    // mid-epoch 2 without one (resumed from the end of epoch 1)
    train(2, "model.json", "rc", "--seeds 0 --stop-after-steps 5 --checkpoint-steps 1", 75);
    train(2, "model.json", "rc", "--seeds 0 --resume --checkpoint-steps 1", 0);
    if (!SANITIZER_BUILD) {
        train(2, "model.json", "rs", "--seeds 0 --stop-after-steps 4", 75);
        train(2, "model.json", "rs", "--seeds 0 --resume", 0);
    }
    const char *runs[2] = {"rc", "rs"};
    for (int k = 0; k < (SANITIZER_BUILD ? 1 : 2); k++) {
        same_ckpt("ru", runs[k], "last.safetensors");
        same_ckpt("ru", runs[k], "best.safetensors");
    }
}

// Rank 1 killed by SIGKILL once a mid-epoch checkpoint exists: mpirun ends the job (within the
// timeout: no hang) naming rank 1, last.safetensors still loads, and --resume ends where the
// uninterrupted run "ku" (6 epochs) ended.
static void test_rank_killed(void **state) {
    (void)state;
    NEED_MPI();
    NOT_UNDER_SANITIZER();
    train(2, "model.json", "ku", "--seeds 0 --epochs 6", 0);
    char d[1024]; // path()'s buffers rotate
    snprintf(d, sizeof d, "%s", path("kill"));
    assert_int_equal(sh("mkdir -p %s", d), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        char cmd[8192];
        snprintf(cmd, sizeof cmd,
                 "%s sh -c 'echo $$ > %s/pid.$OMPI_COMM_WORLD_RANK; exec %s train --data %s/data/data.pkl --unlabeled "
                 "%s/data/unlabeled.pkl --model %s/data/model.json --out %s/k --seeds 0 %s --epochs 6 "
                 "--checkpoint-steps 1' > %s/out.txt 2>&1",
                 mpirun(2, 120), d, MIRD, TMP, TMP, TMP, TMP, FLAGS, d);
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    // wait for a checkpoint, then kill rank 1
    int found = 0;
    for (int i = 0; i < 6000 && !found; i++) {
        found = access(path("k/seed_0/last.safetensors"), F_OK) == 0 && access(path("kill/pid.1"), F_OK) == 0;
        if (!found) usleep(20000);
    }
    assert_true(found);
    assert_int_equal(sh("kill -9 $(cat %s/pid.1)", d), 0);
    int st;
    waitpid(pid, &st, 0);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) != 0 && WEXITSTATUS(st) != 124); // ended, not timed out
    assert_int_equal(sh("grep -q 'rank 1' %s/out.txt", d), 0);
    char err[MIRD_ERRLEN];
    StFile f;
    if (st_open(&f, path("k/seed_0/last.safetensors"), err)) fail_msg("last checkpoint damaged: %s", err);
    assert_true(st_count(&f) > 0);
    st_close(&f);
    // --resume continues to the uninterrupted result
    train(2, "model.json", "k", "--seeds 0 --epochs 6 --resume", 0);
    same_ckpt("ku", "k", "last.safetensors");
    same_ckpt("ku", "k", "best.safetensors");
}

// Rank 1 cannot read its data: the job ends with exactly one line, naming rank 1 and the cause.
static void test_rank_cannot_read_data(void **state) {
    (void)state;
    NEED_MPI();
    int rc = sh("%s sh -c 'D=%s/data/data.pkl; [ $OMPI_COMM_WORLD_RANK = 1 ] && D=%s/missing.pkl; exec %s train --data $D "
                "--model %s/data/model.json --out %s/bad %s' >/dev/null 2>%s/bad.stderr",
                mpirun(2, 60), TMP, TMP, MIRD, TMP, TMP, FLAGS, TMP);
    assert_true(rc == 1);
    assert_int_equal(sh("test $(grep -c '^mird' %s/bad.stderr) -eq 1 && grep -q '^mird: rank 1: .*missing.pkl' %s/bad.stderr",
                        TMP, TMP),
                     0);
}

// A command that does not run distributed refuses under mpirun, once.
static void test_other_commands_refuse(void **state) {
    (void)state;
    NEED_MPI();
    NOT_UNDER_SANITIZER();
    int rc = sh("%s %s inspect --json %s/data/data.pkl >/dev/null 2>%s/refuse.stderr", mpirun(2, 60), MIRD, TMP, TMP);
    assert_true(rc == 2);
    assert_int_equal(sh("test $(grep -c 'does not run on several MPI ranks' %s/refuse.stderr) -eq 1", TMP), 0);
}

// ---------------------------------------------------------------- sweeps
static void test_seed_sweep(void **state) {
    (void)state;
    NEED_MPI();
    train(1, "model.json", "sw1", "--seeds 0,1,2 --epochs 2", 0);
    train(2, "model.json", "sw2", "--seeds 0,1,2 --epochs 2 --ranks-per-run 1", 0);
    for (int s = 0; s < 3; s++)
        same_tensors(path("sw1/seed_%d/last.safetensors", s), path("sw2/seed_%d/last.safetensors", s));
    same_file("sw1/summary.json", "sw2/summary.json");
    if (SANITIZER_BUILD) return;
    // a group that fails ends the whole job at once with its message (rank 1 cannot read its data)
    int rc = sh("%s sh -c 'D=%s/data/data.pkl; [ $OMPI_COMM_WORLD_RANK = 1 ] && D=%s/missing.pkl; exec %s train --data $D "
                "--model %s/data/model.json --out %s/swbad --seeds 0,1 --ranks-per-run 1 %s' >/dev/null 2>%s/swbad.stderr",
                mpirun(2, 60), TMP, TMP, MIRD, TMP, TMP, FLAGS, TMP);
    assert_true(rc != 0 && rc != 124);
    assert_int_equal(sh("test $(grep -c '^mird' %s/swbad.stderr) -eq 1 && grep -q '^mird: rank 1: .*missing.pkl' "
                        "%s/swbad.stderr",
                        TMP, TMP),
                     0);
    // ranks that do not divide: a usage error
    train(2, "model.json", "swu", "--ranks-per-run 3", 2);
}

static void test_ablate_sweep(void **state) {
    (void)state;
    NEED_MPI();
    NOT_UNDER_SANITIZER();
    const char *fl = "--epochs 1 --batch-size 8 --split-rate 2 --club-steps 1 --max-len 12 --threads 1 --quiet --seeds 0,1";
    const char *data = path("data/data.pkl"), *unl = path("data/unlabeled.pkl"), *model = path("data/model.json");
    int rc = sh("%s ablate --data %s --unlabeled %s --model %s --out %s/ab1 %s >%s/ab1.txt 2>&1", MIRD, data, unl, model, TMP,
                fl, TMP);
    expect_rc(rc, 0, path("ab1.txt"), "ablate, 1 process");
    rc = sh("%s %s ablate --data %s --unlabeled %s --model %s --out %s/ab2 %s --ranks-per-run 1 > %s/ab2.txt 2>&1",
            mpirun(2, 180), MIRD, data, unl, model, TMP, fl, TMP);
    expect_rc(rc, 0, path("ab2.txt"), "ablate, 2 ranks");
    const char *rows[4] = {"wsa-only", "recon", "recon-mi", "full"};
    for (int r = 0; r < 4; r++) {
        char a[64], b[64];
        snprintf(a, sizeof a, "ab1/%s/summary.json", rows[r]), snprintf(b, sizeof b, "ab2/%s/summary.json", rows[r]);
        same_file(a, b);
        for (int s = 0; s < 2; s++)
            same_tensors(path("ab1/%s/seed_%d/best.safetensors", rows[r], s), path("ab2/%s/seed_%d/best.safetensors", rows[r], s));
    }
    assert_int_equal(sh("grep -q 'MIRD (+ unlabeled)' %s/ab2.txt", TMP), 0); // the table, once
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_golden_cases_on_2_ranks), cmocka_unit_test(test_ranks_equal_one_process),
        cmocka_unit_test(test_bench_global_step),       cmocka_unit_test(test_training_equals_one_process),
        cmocka_unit_test(test_resume_bit_identical),    cmocka_unit_test(test_rank_killed),
        cmocka_unit_test(test_rank_cannot_read_data),   cmocka_unit_test(test_other_commands_refuse),
        cmocka_unit_test(test_seed_sweep),              cmocka_unit_test(test_ablate_sweep),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
