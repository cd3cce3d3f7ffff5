// test_train.c: learning-rate schedules (values of the Hugging Face formula, the official swapped
// call on CMU-MOSI's sizes) and, on a tiny model, the training run's reproducibility contracts.
#include <jansson.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/common.h"
#include "testutil.h"
#include "io/safetensors.h"
#include "train/metrics.h"
#include "train/runconfig.h"
#include "train/runlog.h"
#include "train/schedule.h"

#define CLOSE(a, b) assert_true(fabs((a) - (b)) < 1e-12)

// One word for the estimator mode: `mird train` runs the authors' procedure (official) by default,
// and its --help says so; `mird bench` defaults to once (INTERFACES.md) and says so too.
static void test_club_mode_default(void **state) {
    (void)state;
    RunConfig c;
    runconfig_defaults(&c);
    assert_string_equal(c.club_mode, "official");
    char *help = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&help, &n);
    runconfig_usage(f);
    fclose(f);
    assert_non_null(strstr(help, "official (default)"));
    assert_null(strstr(help, "once (default"));
    free(help);
    char cmd[512];
    snprintf(cmd, sizeof cmd, "%s bench --help", getenv("MIRD_BIN") && *getenv("MIRD_BIN") ? getenv("MIRD_BIN") : "build/mird");
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    static char out[8192];
    size_t k = fread(out, 1, sizeof out - 1, p);
    out[k] = 0;
    pclose(p);
    assert_non_null(strstr(out, "once (default here)"));
}

static void test_schedule_warmup_linear(void **state) {
    (void)state;
    Schedule s;
    schedule_init(&s, SCHED_WARMUP_LINEAR, 1284, 48, 100, 0.1); // 27 steps/epoch -> 2700, warm-up 270
    CLOSE(s.num_training_steps, 2700);
    CLOSE(s.num_warmup_steps, 270);
    CLOSE(schedule_factor(&s, 0), 0.0);
    CLOSE(schedule_factor(&s, 135), 0.5);
    CLOSE(schedule_factor(&s, 270), 1.0);
    CLOSE(schedule_factor(&s, 270 + 1215), 0.5);
    CLOSE(schedule_factor(&s, 2699), 1.0 / 2430);
    CLOSE(schedule_factor(&s, 2700), 0.0);
    CLOSE(schedule_factor(&s, 5000), 0.0);
    // no warm-up: starts at 1
    schedule_init(&s, SCHED_WARMUP_LINEAR, 10, 5, 2, 0.0);
    CLOSE(schedule_factor(&s, 0), 1.0);
    CLOSE(schedule_factor(&s, 2), 0.5);
}

static void test_schedule_paper_swapped(void **state) {
    (void)state;
    Schedule s;
    // official: T = int(1284 / 48) * 100 = 2600 passed as num_warmup_steps, 0.1 T = 260 as num_training_steps
    schedule_init(&s, SCHED_PAPER, 1284, 48, 100, 0.1);
    CLOSE(s.num_warmup_steps, 2600);
    CLOSE(s.num_training_steps, 260);
    CLOSE(schedule_factor(&s, 0), 0.0);
    CLOSE(schedule_factor(&s, 1), 1.0 / 2600);
    CLOSE(schedule_factor(&s, 1300), 0.5);
    CLOSE(schedule_factor(&s, 2599), 2599.0 / 2600);
    // from step T on: (260 - k) / max(1, 260 - 2600) = 260 - k < 0 -> 0
    CLOSE(schedule_factor(&s, 2600), 0.0);
    CLOSE(schedule_factor(&s, 2699), 0.0);
    long nonzero = 0;
    for (long k = 0; k < 2700; k++) nonzero += schedule_factor(&s, k) > 0;
    assert_int_equal(nonzero, 2599); // steps 1..2599: about 96% of the 2700 steps taken
    // fewer labeled clips than a batch: T = 0 -> always 0
    schedule_init(&s, SCHED_PAPER, 20, 48, 3, 0.1);
    for (long k = 0; k < 3; k++) CLOSE(schedule_factor(&s, k), 0.0);
}

static void test_schedule_constant_and_names(void **state) {
    (void)state;
    Schedule s;
    schedule_init(&s, SCHED_CONSTANT, 100, 10, 3, 0.1);
    CLOSE(schedule_factor(&s, 0), 1.0);
    CLOSE(schedule_factor(&s, 29), 1.0);
    SchedKind k;
    assert_int_equal(schedule_parse("paper", &k), 0);
    assert_int_equal(k, SCHED_PAPER);
    assert_string_equal(schedule_name(k), "paper");
    assert_int_equal(schedule_parse("cosine", &k), -1);
    // the HF formula itself with ordinary arguments
    CLOSE(hf_linear_warmup_factor(5, 10, 110), 0.5);
    CLOSE(hf_linear_warmup_factor(60, 10, 110), 0.5);
}


// The run configuration: defaults, then the JSON file, then flags (which win); bad keys and values.
static void test_runconfig_layers(void **state) {
    (void)state;
    char path[] = "/tmp/mird_runconfig_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    const char *js = "{\"epochs\": 7, \"lr\": 2e-5, \"seeds\": [3, 4], \"schedule\": \"paper\", \"dump_latents\": true,"
                     " \"batch-size\": 16}";
    assert_int_equal(write(fd, js, strlen(js)), (ssize_t)strlen(js));
    close(fd);
    RunConfig c;
    runconfig_defaults(&c);
    assert_int_equal(c.epochs, 100);
    assert_int_equal(c.batch_size, 48);
    assert_string_equal(c.schedule, "warmup-linear");
    assert_string_equal(c.select, "valid");
    char err[MIRD_ERRLEN];
    char *argv[] = {"train", "--config", path, "--epochs", "9", "--data=d.pkl", "--out", "o", NULL};
    assert_int_equal(runconfig_parse_args(&c, 8, argv, err), 0);
    assert_int_equal(c.epochs, 9);      // the flag wins over the file
    assert_int_equal(c.batch_size, 16); // from the file
    assert_true(c.lr == 2e-5);
    assert_int_equal(c.n_seeds, 2);
    assert_int_equal(c.seeds[1], 4);
    assert_string_equal(c.schedule, "paper");
    assert_int_equal(c.dump_latents, 1);
    assert_string_equal(c.data, "d.pkl");
    assert_int_equal(runconfig_validate(&c, err), 0);
    json_t *j = runconfig_to_json(&c);
    assert_int_equal(json_integer_value(json_object_get(j, "epochs")), 9);
    assert_string_equal(json_string_value(json_object_get(j, "schedule")), "paper");
    json_decref(j);
    unlink(path);
    runconfig_defaults(&c);
    char *bad1[] = {"train", "--epochs", "x", NULL};
    assert_int_equal(runconfig_parse_args(&c, 3, bad1, err), -1);
    char *bad2[] = {"train", "--select", "best", NULL};
    assert_int_equal(runconfig_parse_args(&c, 3, bad2, err), -1);
    char *bad3[] = {"train", "--seeds", "1,,2", NULL};
    assert_int_equal(runconfig_parse_args(&c, 3, bad3, err), -1);
    char *bad4[] = {"train", "--batch_size", "3", NULL}; // flags are spelled with '-'
    assert_int_equal(runconfig_parse_args(&c, 3, bad4, err), -1);
    json_t *o = json_pack("{s:i}", "no_such_key", 1);
    assert_int_equal(runconfig_apply_json(&c, o, "x.json", err), -1);
    assert_non_null(strstr(err, "no_such_key"));
    json_decref(o);
    o = json_pack("{s:s}", "epochs", "3");
    assert_int_equal(runconfig_apply_json(&c, o, "x.json", err), -1);
    json_decref(o);
}

// The log keeps the epochs a checkpoint has; a torn last line (a crash mid-write) is dropped.
static void test_runlog_truncate(void **state) {
    (void)state;
    char path[] = "/tmp/mird_runlog_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    const char *txt = "{\"epoch\":1,\"x\":1}\n{\"epoch\":2,\"x\":2}\n{\"epoch\":3,\"x\":3}\n{\"epoch\":4,\"x";
    assert_int_equal(write(fd, txt, strlen(txt)), (ssize_t)strlen(txt));
    close(fd);
    char err[MIRD_ERRLEN];
    json_t *a = runlog_read(path, err);
    assert_int_equal(json_array_size(a), 3);
    json_decref(a);
    assert_int_equal(runlog_truncate(path, 2, err), 0);
    a = runlog_read(path, err);
    assert_int_equal(json_array_size(a), 2);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(a, 1), "epoch")), 2);
    json_decref(a);
    json_t *l = json_pack("{s:i}", "epoch", 3);
    assert_int_equal(runlog_append(path, l, err), 0);
    json_decref(l);
    a = runlog_read(path, err);
    assert_int_equal(json_array_size(a), 3);
    json_decref(a);
    unlink(path);
}

// ---------------------------------------------------------------- end to end (the mird program)
// A tiny synthetic benchmark and a tiny model: the contracts of `mird train`, `eval`, `predict`.
static char TMP[256];
static const char *MIRD;

static const char *TRAIN_FLAGS = "--epochs 3 --batch-size 8 --split-rate 2 --lr 1e-3 --mi-lr 1e-3 --club-steps 2 --max-len 12 "
                                 "--eval-batch-size 7 --threads 1 --quiet";

static int setup_e2e(void **state) {
    (void)state;
    MIRD = getenv("MIRD_BIN");
    if (!MIRD) MIRD = "build/mird";
    snprintf(TMP, sizeof TMP, "/tmp/mird_test_train_XXXXXX");
    if (!mkdtemp(TMP)) return -1;
    return sh("%s synth --out %s/data --quiet --n-train 20 --n-valid 8 --n-test 10 --n-unlabeled 40 --ta 8 --tv 4 "
              "--tl 12 --d-a 5 --d-v 6 --hidden 16 --layers 1 --heads 2 --z 8",
              MIRD, TMP);
}

static int teardown_e2e(void **state) {
    (void)state;
    if (TMP[0]) sh("rm -rf %s", TMP);
    return 0;
}

static int train(const char *out, const char *extra) {
    return sh("%s train --data %s/data/data.pkl --unlabeled %s/data/unlabeled.pkl --model %s/data/model.json "
              "--out %s/%s %s %s 2>%s/%s.stderr",
              MIRD, TMP, TMP, TMP, TMP, out, TRAIN_FLAGS, extra, TMP, out);
}

static json_t *load_json(const char *fmt, const char *a) {
    char p[1024];
    snprintf(p, sizeof p, fmt, TMP, a);
    json_error_t je;
    json_t *j = json_load_file(p, 0, &je);
    if (!j) fail_msg("%s: %s", p, je.text);
    return j;
}

static void same_results(const char *a, const char *b) {
    json_t *ra = load_json("%s/%s/seed_0/results.json", a), *rb = load_json("%s/%s/seed_0/results.json", b);
    const char *keys[] = {"valid", "test", "best_epoch", "selection_loss", "epochs_run"};
    for (int k = 0; k < 5; k++)
        if (!json_equal(json_object_get(ra, keys[k]), json_object_get(rb, keys[k])))
            fail_msg("results.json \"%s\" differs between runs %s and %s", keys[k], a, b);
    json_decref(ra), json_decref(rb);
}

static void test_same_seed_same_files(void **state) {
    (void)state;
    assert_int_equal(train("a", ""), 0);
    assert_int_equal(train("b", ""), 0);
    char p[1024], q[1024];
    for (int k = 0; k < 2; k++) {
        const char *f = k ? "best.safetensors" : "last.safetensors";
        snprintf(p, sizeof p, "%s/a/seed_0/%s", TMP, f);
        snprintf(q, sizeof q, "%s/b/seed_0/%s", TMP, f);
        same_tensors(p, q);
    }
    same_results("a", "b");
    json_t *r = load_json("%s/%s/seed_0/results.json", "a");
    for (int k = 0; k < MET_COUNT; k++) {
        json_t *v = json_object_get(json_object_get(r, "test"), METRIC_KEYS[k]);
        if (!json_is_number(v) && !json_is_null(v)) fail_msg("results.json test.%s missing", METRIC_KEYS[k]);
    }
    assert_true(json_integer_value(json_object_get(r, "best_epoch")) >= 1);
    assert_int_equal(json_integer_value(json_object_get(r, "seed")), 0);
    assert_non_null(json_object_get(json_object_get(json_object_get(r, "data"), "data"), "sha256"));
    json_decref(r);
    // three epochs logged, plots drawn
    assert_int_equal(sh("test $(wc -l < %s/a/seed_0/log.jsonl) -eq 3", TMP), 0);
    assert_int_equal(sh("test -s %s/a/seed_0/losses.svg -a -s %s/a/seed_0/mi.svg -a -s %s/a/seed_0/valid.svg", TMP, TMP, TMP), 0);
    assert_int_equal(sh("test -s %s/a/summary.json", TMP), 0);
}

// Stopped after N steps (a crash: nothing written after the last checkpoint), then --resume:
// the parameters, optimiser states and metrics end bit-identical to the uninterrupted run "a".
static void test_resume_bit_identical(void **state) {
    (void)state;
    // mid-epoch 2 (resumed from the end of epoch 1); exactly at the end of epoch 2 (before its
    // evaluation); mid-epoch 2 with a mid-epoch checkpoint after every step (resumed inside the epoch)
    const long stops[] = {4, 6, 5};
    const char *ck[] = {"", "", "--checkpoint-steps 1"};
    for (int k = 0; k < 3; k++) {
        char name[32], extra[96], p[1024], q[1024];
        snprintf(name, sizeof name, "r%d", k);
        snprintf(extra, sizeof extra, "--stop-after-steps %ld %s", stops[k], ck[k]);
        assert_int_equal(train(name, extra), 75);
        snprintf(extra, sizeof extra, "--resume %s", ck[k]);
        assert_int_equal(train(name, extra), 0);
        snprintf(p, sizeof p, "%s/a/seed_0/last.safetensors", TMP);
        snprintf(q, sizeof q, "%s/%s/seed_0/last.safetensors", TMP, name);
        same_tensors(p, q);
        snprintf(p, sizeof p, "%s/a/seed_0/best.safetensors", TMP);
        snprintf(q, sizeof q, "%s/%s/seed_0/best.safetensors", TMP, name);
        same_tensors(p, q);
        same_results("a", name);
        assert_int_equal(sh("test $(wc -l < %s/%s/seed_0/log.jsonl) -eq 3", TMP, name), 0);
    }
}

// SIGKILL at arbitrary moments (wherever it lands: inside a step, while a checkpoint or the log is
// written, after the end), then --resume: the same end state as the uninterrupted run "a".
static void test_sigkill_resume(void **state) {
    (void)state;
    const int delays_ms[] = {50, 120, 250};
    for (int k = 0; k < 3; k++) {
        char name[32], cmd[4096], p[1024], q[1024];
        snprintf(name, sizeof name, "k%d", k);
        snprintf(cmd, sizeof cmd,
                 "exec %s train --data %s/data/data.pkl --unlabeled %s/data/unlabeled.pkl --model %s/data/model.json "
                 "--out %s/%s %s 2>/dev/null",
                 MIRD, TMP, TMP, TMP, TMP, name, TRAIN_FLAGS);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
            _exit(127);
        }
        usleep((useconds_t)delays_ms[k] * 1000);
        kill(pid, SIGKILL);
        int st;
        waitpid(pid, &st, 0);
        assert_int_equal(train(name, "--resume"), 0);
        snprintf(p, sizeof p, "%s/a/seed_0/last.safetensors", TMP);
        snprintf(q, sizeof q, "%s/%s/seed_0/last.safetensors", TMP, name);
        same_tensors(p, q);
        same_results("a", name);
        assert_int_equal(sh("test $(wc -l < %s/%s/seed_0/log.jsonl) -eq 3", TMP, name), 0);
    }
}

// Metrics computed from `mird predict`'s CSV equal `mird eval`'s.
static void test_predict_csv_matches_eval(void **state) {
    (void)state;
    assert_int_equal(sh("%s eval %s/a/seed_0/best.safetensors %s/data/data.pkl --split test --out %s/eval.json", MIRD, TMP,
                        TMP, TMP),
                     0);
    assert_int_equal(sh("%s predict %s/a/seed_0/best.safetensors %s/data/data.pkl --split test --out %s/pred.csv", MIRD,
                        TMP, TMP, TMP),
                     0);
    char p[1024];
    snprintf(p, sizeof p, "%s/pred.csv", TMP);
    FILE *f = fopen(p, "r");
    assert_non_null(f);
    char line[512];
    float pred[64], lab[64];
    int n = 0;
    assert_non_null(fgets(line, sizeof line, f));
    assert_string_equal(line, "id,score,label\n");
    while (fgets(line, sizeof line, f) && n < 64) {
        char *c1 = strchr(line, ','), *c2 = c1 ? strchr(c1 + 1, ',') : NULL;
        assert_non_null(c2);
        pred[n] = strtof(c1 + 1, NULL), lab[n] = strtof(c2 + 1, NULL), n++;
    }
    fclose(f);
    assert_int_equal(n, 10);
    Metrics m;
    metrics_compute(&m, pred, lab, n);
    json_t *e = load_json("%s/%s", "eval.json");
    json_t *t = json_object_get(e, "test");
    for (int k = 0; k < MET_COUNT; k++) {
        json_t *v = json_object_get(t, METRIC_KEYS[k]);
        if (json_is_null(v) ? !isnan(m.v[k]) : json_number_value(v) != m.v[k])
            fail_msg("%s: eval %.17g, from predict's CSV %.17g", METRIC_KEYS[k], json_number_value(v), m.v[k]);
    }
    json_decref(e);
}

// --dump-latents with four different latent sizes: each latent is written at its own size, and the
// values are the model's (zy's first entries are not another latent's).
static void test_dump_latents_unequal_sizes(void **state) {
    (void)state;
    char p[1024];
    json_t *mc = load_json("%s/%s", "data/model.json");
    json_object_set_new(mc, "zy_size", json_integer(6));
    json_object_set_new(mc, "zl_size", json_integer(5));
    json_object_set_new(mc, "za_size", json_integer(4));
    json_object_set_new(mc, "zv_size", json_integer(7));
    snprintf(p, sizeof p, "%s/model_uneq.json", TMP);
    assert_int_equal(json_dump_file(mc, p, 0), 0);
    json_decref(mc);
    assert_int_equal(sh("%s train --data %s/data/data.pkl --model %s/model_uneq.json --out %s/uneq --epochs 1 "
                        "--batch-size 8 --max-len 12 --quiet --dump-latents 2>%s/uneq.stderr",
                        MIRD, TMP, TMP, TMP, TMP),
                     0);
    snprintf(p, sizeof p, "%s/uneq/seed_0/latents.safetensors", TMP);
    StFile f;
    char err[MIRD_ERRLEN];
    if (st_open(&f, p, err)) fail_msg("%s", err);
    const char *names[4] = {"zy", "zl", "za", "zv"};
    const int sizes[4] = {6, 5, 4, 7};
    for (int k = 0; k < 4; k++) {
        const StTensor *t = st_find(&f, names[k]);
        assert_non_null(t);
        assert_int_equal(t->ndim, 2);
        assert_int_equal(t->shape[0], 10);
        assert_int_equal(t->shape[1], sizes[k]);
    }
    st_close(&f);
}

// --bert: both BERTs start from the pretrained directory's weights (bit-exact; lr 0 keeps them).
static void test_bert_init(void **state) {
    (void)state;
    const char *F = "tests/fixtures/hf_bert/st_plain";
    assert_int_equal(sh("%s train --data %s/data/data.pkl --model %s/data/model.json --bert %s --vocab %s/vocab.txt "
                        "--max-len 12 --out %s/bert --epochs 1 --batch-size 8 --lr 0 --quiet --threads 1 2>%s/bert.err",
                        MIRD, TMP, TMP, F, F, TMP, TMP),
                     0);
    char p[1024], err[MIRD_ERRLEN];
    snprintf(p, sizeof p, "%s/model.safetensors", F);
    StFile fa, fb;
    if (st_open(&fa, p, err)) fail_msg("%s", err);
    snprintf(p, sizeof p, "%s/bert/seed_0/last.safetensors", TMP);
    if (st_open(&fb, p, err)) fail_msg("%s", err);
    int compared = 0;
    for (int i = 0; i < st_count(&fa); i++) {
        const StTensor *t = st_tensor(&fa, i);
        const char *name = !strncmp(t->name, "bert.", 5) ? t->name + 5 : t->name;
        if (!strncmp(name, "cls.", 4) || strstr(name, "position_ids")) continue;
        const char *pre[2] = {"encoder_l.bert.", "mult_encoder.model."};
        for (int k = 0; k < 2; k++) {
            char full[512];
            snprintf(full, sizeof full, "%s%s", pre[k], name);
            const StTensor *u = st_find(&fb, full);
            if (!u) fail_msg("%s missing in the trained checkpoint", full);
            if (u->nbytes != t->nbytes || memcmp(u->data, t->data, t->nbytes)) fail_msg("%s differs from %s", full, t->name);
            compared++;
        }
    }
    assert_true(compared >= 40);
    st_close(&fa), st_close(&fb);
}

// Usage errors exit 2, failures exit 1, each with one line on stderr; earlier files stay intact.
static void test_errors(void **state) {
    (void)state;
    char d[600];
    snprintf(d, sizeof d, "--data %s/data/data.pkl --model %s/data/model.json", TMP, TMP);
    assert_int_equal(sh("%s train %s --out %s/e --bogus 2>%s/err.txt", MIRD, d, TMP, TMP), 2);
    assert_int_equal(sh("%s train %s --out %s/e --schedule cosine 2>%s/err.txt", MIRD, d, TMP, TMP), 2);
    assert_int_equal(sh("%s train --data %s/nope.pkl --out %s/e --quiet 2>%s/err.txt", MIRD, TMP, TMP, TMP), 1);
    assert_int_equal(sh("test $(wc -l < %s/err.txt) -eq 1", TMP), 0);
    assert_int_equal(sh("echo '{\"epochs\": \"x\"}' > %s/bad.json && %s train %s --out %s/e --config %s/bad.json 2>%s/err.txt",
                        TMP, MIRD, d, TMP, TMP, TMP),
                     1);
    assert_int_equal(sh("printf 'garbage' > %s/bad.pkl && %s train --data %s/bad.pkl --out %s/e --quiet 2>%s/err.txt", TMP, MIRD,
                        TMP, TMP, TMP),
                     1);
    assert_int_equal(sh("test $(wc -l < %s/err.txt) -eq 1", TMP), 0);
    // an unwritable output folder
    assert_int_equal(sh("touch %s/file && %s train %s --out %s/file/sub --quiet 2>%s/err.txt", TMP, MIRD, d, TMP, TMP), 1);
    assert_int_equal(sh("test $(wc -l < %s/err.txt) -eq 1", TMP), 0);
    // a NaN loss stops with the step and the term named; the checkpoints of run "a" are untouched
    assert_int_equal(sh("cp -r %s/a %s/n && %s train %s --out %s/n --epochs 3 --lr 1e30 --quiet --resume 2>%s/err.txt", TMP,
                        TMP, MIRD, d, TMP, TMP),
                     0); // finished run: --resume has nothing to do
    assert_int_equal(sh("%s train %s --out %s/n2 --epochs 2 --batch-size 8 --lr 1e30 --quiet 2>%s/err.txt", MIRD, d, TMP, TMP),
                     1);
    assert_int_equal(sh("grep -q 'step' %s/err.txt && grep -qiE 'nan|inf' %s/err.txt", TMP, TMP), 0);
    assert_int_equal(sh("test ! -e %s/n2/seed_0/last.safetensors", TMP), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_schedule_warmup_linear),
        cmocka_unit_test(test_schedule_paper_swapped),
        cmocka_unit_test(test_schedule_constant_and_names),
        cmocka_unit_test(test_runconfig_layers),
        cmocka_unit_test(test_club_mode_default),
        cmocka_unit_test(test_runlog_truncate),
    };
    const struct CMUnitTest e2e[] = {
        cmocka_unit_test(test_same_seed_same_files),
        cmocka_unit_test(test_resume_bit_identical),
        cmocka_unit_test(test_sigkill_resume),
        cmocka_unit_test(test_predict_csv_matches_eval),
        cmocka_unit_test(test_bert_init),
        cmocka_unit_test(test_dump_latents_unequal_sizes),
        cmocka_unit_test(test_errors),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    return rc + cmocka_run_group_tests(e2e, setup_e2e, teardown_e2e);
}
