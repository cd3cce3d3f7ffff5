// test_dataset.c: dataset pickles (MIRD / MMSA / unlabeled, protocols 2, 4, 5, float32 / float64,
// Fortran order, big-endian, numpy 2 names) against what numpy computed when writing them
// (tests/fixtures/pickle/expected.json, from tools/make_pickles.py); the .mird round trip; the
// one-line refusals of bad files (bad.json); `mird inspect`; and peak memory on a 200 MB pickle.
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/common.h"
#include "data/dataset.h"
#include "io/safetensors.h"
#include "testutil.h"

#define FIX "tests/fixtures/pickle/"

static char tmpdir[256];

static int setup(void **st) {
    (void)st;
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/mird_test_dataset_XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}
static int teardown(void **st) {
    (void)st;
    char cmd[400];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

static json_t *load_json(const char *path) {
    json_error_t je;
    json_t *j = json_load_file(path, 0, &je);
    if (!j) fail_msg("%s: %s", path, je.text);
    return j;
}

static void near(double got, double want, double rtol, const char *what, const char *file) {
    if (!(fabs(got - want) <= 1e-9 + rtol * fabs(want))) fail_msg("%s: %s = %.17g, numpy says %.17g", file, what, got, want);
}

// The inspect object must equal numpy's (integers exactly, floats to 1e-9 relative).
static void compare_inspect(json_t *got, json_t *want, const char *file) {
    assert_string_equal(json_string_value(json_object_get(got, "format")), json_string_value(json_object_get(want, "format")));
    json_t *gs = json_object_get(got, "splits"), *ws = json_object_get(want, "splits");
    assert_int_equal(json_object_size(gs), json_object_size(ws));
    const char *name;
    json_t *w;
    json_object_foreach(ws, name, w) {
        json_t *g = json_object_get(gs, name);
        if (!g) fail_msg("%s: split %s missing", file, name);
        assert_int_equal(json_object_size(g), json_object_size(w));
        const char *key;
        json_t *wv;
        json_object_foreach(w, key, wv) {
            json_t *gv = json_object_get(g, key);
            if (!gv) fail_msg("%s: %s.%s missing", file, name, key);
            if (json_is_array(wv)) assert_true(json_equal(gv, wv));
            else if (json_is_integer(wv)) assert_int_equal(json_integer_value(gv), json_integer_value(wv));
            else near(json_number_value(gv), json_number_value(wv), 1e-9, key, file);
        }
    }
}

static void compare_extra(const Dataset *ds, json_t *extra, const char *file, int tokens_expected) {
    const char *name;
    json_t *e;
    json_object_foreach(extra, name, e) {
        const DataSplit *s = dataset_split(ds, name);
        assert_non_null(s);
        assert_string_equal(s->text[0], json_string_value(json_object_get(e, "text0")));
        assert_string_equal(s->text[2], json_string_value(json_object_get(e, "text2")));
        size_t last = (size_t)s->n * s->Ta * s->d_a - 1;
        near(s->audio[last], json_number_value(json_object_get(e, "audio_last")), 1e-7, "audio[-1,-1,-1]", file);
        near(s->visual[(size_t)1 * s->Tv * s->d_v + (size_t)1 * s->d_v], json_number_value(json_object_get(e, "visual_110")),
             1e-7, "visual[1,1,0]", file);
        near(s->audio[(size_t)1 * s->d_a + 2], json_number_value(json_object_get(e, "audio_012")), 1e-7, "audio[0,1,2]", file);
        json_t *id = json_object_get(e, "clip_id1");
        if (id) assert_string_equal(s->clip_id[1], json_string_value(id));
        json_t *al = json_object_get(e, "audio_len"), *vl = json_object_get(e, "vision_len");
        for (int i = 0; i < s->n; i++) {
            assert_int_equal(s->audio_len[i], al ? json_integer_value(json_array_get(al, (size_t)i)) : s->Ta);
            assert_int_equal(s->visual_len[i], vl ? json_integer_value(json_array_get(vl, (size_t)i)) : s->Tv);
        }
        json_t *ids = json_object_get(e, "ids1"), *mask = json_object_get(e, "mask1");
        if (ids) {
            assert_non_null(s->ids);
            assert_int_equal(s->Tl, json_array_size(ids));
            for (int t = 0; t < s->Tl; t++) {
                assert_int_equal(s->ids[s->Tl + t], json_integer_value(json_array_get(ids, (size_t)t)));
                assert_int_equal(s->mask[s->Tl + t], json_integer_value(json_array_get(mask, (size_t)t)));
                assert_int_equal(s->seg[s->Tl + t], 0);
            }
        } else if (!tokens_expected) {
            assert_null(s->ids);
        }
        for (size_t i = 0; i < (size_t)s->n * s->Ta * s->d_a; i++) assert_true(isfinite(s->audio[i]));
    }
}

static void same_split(const DataSplit *a, const DataSplit *b) {
    assert_string_equal(a->name, b->name);
    assert_int_equal(a->n, b->n);
    assert_int_equal(a->Ta, b->Ta), assert_int_equal(a->Tv, b->Tv);
    assert_int_equal(a->d_a, b->d_a), assert_int_equal(a->d_v, b->d_v);
    assert_memory_equal(a->audio, b->audio, sizeof(float) * a->n * a->Ta * a->d_a);
    assert_memory_equal(a->visual, b->visual, sizeof(float) * a->n * a->Tv * a->d_v);
    assert_memory_equal(a->audio_len, b->audio_len, sizeof(int32_t) * a->n);
    assert_memory_equal(a->visual_len, b->visual_len, sizeof(int32_t) * a->n);
    assert_int_equal(!a->labels, !b->labels);
    if (a->labels) assert_memory_equal(a->labels, b->labels, sizeof(float) * a->n);
    assert_int_equal(!a->ids, !b->ids);
    if (a->ids) {
        assert_int_equal(a->Tl, b->Tl);
        assert_memory_equal(a->ids, b->ids, sizeof(int32_t) * a->n * a->Tl);
        assert_memory_equal(a->mask, b->mask, sizeof(int32_t) * a->n * a->Tl);
        assert_memory_equal(a->seg, b->seg, sizeof(int32_t) * a->n * a->Tl);
    }
    assert_int_equal(!a->clip_id, !b->clip_id);
    for (int i = 0; i < a->n; i++) {
        assert_string_equal(a->text[i], b->text[i]);
        if (a->clip_id) assert_string_equal(a->clip_id[i], b->clip_id[i]);
    }
}

static void test_fixtures_match_numpy(void **st) {
    (void)st;
    json_t *exp = load_json(FIX "expected.json");
    const char *file;
    json_t *e;
    int count = 0;
    json_object_foreach(exp, file, e) {
        char path[512], err[MIRD_ERRLEN], out[600];
        snprintf(path, sizeof(path), FIX "%s", file);
        Dataset ds, back;
        if (dataset_load(&ds, path, NULL, err)) fail_msg("%s", err);
        json_t *got = dataset_inspect(&ds);
        compare_inspect(got, json_object_get(e, "inspect"), file);
        json_decref(got);
        compare_extra(&ds, json_object_get(e, "extra"), file, 0);
        // .mird round trip: same arrays, same inspect output
        snprintf(out, sizeof(out), "%s/%s.mird", tmpdir, file);
        if (dataset_save_mird(&ds, out, err)) fail_msg("%s", err);
        assert_true(dataset_file_is_mird(out));
        assert_false(dataset_file_is_pickle(out));
        if (dataset_load(&back, out, NULL, err)) fail_msg("%s", err);
        assert_string_equal(back.format, ds.format);
        assert_int_equal(back.nsplits, ds.nsplits);
        for (int i = 0; i < ds.nsplits; i++) same_split(&ds.split[i], &back.split[i]);
        got = dataset_inspect(&back);
        compare_inspect(got, json_object_get(e, "inspect"), out);
        json_decref(got);
        dataset_free(&back);
        dataset_free(&ds);
        count++;
    }
    assert_true(count >= 9);
    json_decref(exp);
}

static void assert_one_line(const char *err) {
    assert_true(err[0] != 0);
    assert_null(strchr(err, '\n'));
}

static void test_bad_files_refused(void **st) {
    (void)st;
    json_t *bad = load_json(FIX "bad.json");
    const char *file;
    json_t *msg;
    json_object_foreach(bad, file, msg) {
        char path[512], err[MIRD_ERRLEN] = "";
        snprintf(path, sizeof(path), FIX "%s", file);
        Dataset ds;
        if (dataset_load(&ds, path, NULL, err) == 0) fail_msg("%s accepted", file);
        assert_one_line(err);
        if (!strstr(err, json_string_value(msg)) || !strstr(err, file))
            fail_msg("%s: expected '%s' in: %s", file, json_string_value(msg), err);
    }
    json_decref(bad);
    assert_int_equal(access("/tmp/mird_test_dataset_pwned", F_OK), -1);
}

// Every prefix of a dataset pickle fails cleanly (sampled offsets plus the last 64 bytes).
static void test_truncated_dataset(void **st) {
    (void)st;
    char *data, err[MIRD_ERRLEN];
    size_t n;
    if (read_file_all(FIX "mmsa_p4_text_bert.pkl", &data, &n, err)) fail_msg("%s", err);
    char path[400];
    snprintf(path, sizeof(path), "%s/trunc.pkl", tmpdir);
    for (size_t k = 2; k < n; k += (k + 64 < n ? 37 : 1)) {
        FILE *f = fopen(path, "wb");
        fwrite(data, 1, k, f);
        fclose(f);
        Dataset ds;
        err[0] = 0;
        if (dataset_load(&ds, path, NULL, err) == 0) fail_msg("prefix of %zu bytes accepted", k);
        assert_one_line(err);
    }
    free(data);
    Dataset ds;
    assert_int_equal(dataset_load(&ds, FIX "missing.pkl", NULL, err), -1);
    assert_one_line(err);
}

// Random byte mutations of dataset pickles: loads or fails with one line, never crashes (sanitizers).
static void test_mutated_datasets(void **st) {
    (void)st;
    const char *files[] = {FIX "mmsa_p4_text_bert.pkl", FIX "mird_p2_f64_fortran.pkl", FIX "mird_p5_fortran_be.pkl"};
    Rng r;
    rng_seed(&r, 11, RNG_STREAM_DATA);
    char path[400];
    snprintf(path, sizeof(path), "%s/mut.pkl", tmpdir);
    int loaded = 0, refused = 0;
    for (int fi = 0; fi < 3; fi++) {
        char *data, err[MIRD_ERRLEN];
        size_t n;
        if (read_file_all(files[fi], &data, &n, err)) fail_msg("%s", err);
        for (int it = 0; it < 300; it++) {
            char *m = malloc(n);
            memcpy(m, data, n);
            int flips = 1 + (int)rng_below(&r, 3);
            for (int k = 0; k < flips; k++) m[2 + rng_below(&r, (uint32_t)n - 2)] = (char)rng_u64(&r);
            FILE *f = fopen(path, "wb");
            fwrite(m, 1, n, f);
            fclose(f);
            free(m);
            Dataset ds;
            err[0] = 0;
            if (dataset_load(&ds, path, NULL, err) == 0) {
                json_t *j = dataset_inspect(&ds);
                json_decref(j);
                dataset_free(&ds);
                loaded++;
            } else {
                assert_one_line(err);
                refused++;
            }
        }
        free(data);
    }
    printf("mutations: %d loaded, %d refused\n", loaded, refused);
    assert_true(refused > 0);
}

static void test_tokenized_raw_text(void **st) {
    (void)st;
    const char *vocab = shared_data("bert-base-uncased-vocab.txt");
    if (!vocab) {
        printf("skip: ../shared/data/bert-base-uncased-vocab.txt absent\n");
        return;
    }
    char err[MIRD_ERRLEN];
    Tokenizer *tok;
    if (tokenizer_load(&tok, vocab, err)) fail_msg("%s", err);
    DatasetOptions opt = {.tok = tok, .Tl = 12};
    Dataset ds;
    if (dataset_load(&ds, FIX "mird_p4_f32.pkl", &opt, err)) fail_msg("%s", err);
    const DataSplit *s = dataset_split(&ds, "train");
    assert_int_equal(s->Tl, 12);
    int32_t ids[12], mask[12];
    for (int i = 0; i < s->n; i++) {
        tokenizer_encode(tok, s->text[i], 12, ids, mask);
        assert_memory_equal(s->ids + 12 * i, ids, sizeof(ids));
        assert_memory_equal(s->mask + 12 * i, mask, sizeof(mask));
        assert_int_equal(s->ids[12 * i], tok->cls_id);
        for (int t = 0; t < 12; t++) assert_int_equal(s->seg[12 * i + t], 0);
    }
    // "it was great" -> [CLS] it was great [SEP] [PAD]...
    assert_int_equal(s->mask[3], 1);
    assert_int_equal(s->mask[4], 1);
    assert_int_equal(s->mask[5], 0);
    // text_bert wins over the tokenizer for MMSA files that have it
    Dataset m;
    if (dataset_load(&m, FIX "mmsa_p4_text_bert.pkl", &opt, err)) fail_msg("%s", err);
    assert_int_equal(dataset_split(&m, "train")->Tl, 5);
    dataset_free(&m);
    // the tokenised ids survive a .mird round trip, and a .mird without ids is tokenised on load
    char out[400];
    snprintf(out, sizeof(out), "%s/tok.mird", tmpdir);
    if (dataset_save_mird(&ds, out, err)) fail_msg("%s", err);
    Dataset back;
    if (dataset_load(&back, out, NULL, err)) fail_msg("%s", err);
    same_split(s, dataset_split(&back, "train"));
    dataset_free(&back);
    Dataset raw;
    if (dataset_load(&raw, FIX "mird_p4_f32.pkl", NULL, err)) fail_msg("%s", err);
    if (dataset_save_mird(&raw, out, err)) fail_msg("%s", err);
    dataset_free(&raw);
    if (dataset_load(&back, out, &opt, err)) fail_msg("%s", err);
    same_split(s, dataset_split(&back, "train"));
    dataset_free(&back);
    dataset_free(&ds);
    tokenizer_free(tok);
}

// Runs `mird ARGS...`, returns the exit status; *maxrss_kb gets the child's peak RSS.
static int run_mird(char *const args[], const char *out_path, long *maxrss_kb) {
    const char *bin = getenv("MIRD_BIN");
    if (!bin) bin = "build/mird";
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        if (out_path && !freopen(out_path, "w", stdout)) _exit(127);
        if (!getenv("MIRD_TEST_VERBOSE") && !freopen("/dev/null", "w", stderr)) _exit(127);
        char *argv[16];
        int k = 0;
        argv[k++] = (char *)bin;
        for (int i = 0; args[i] && k < 15; i++) argv[k++] = args[i];
        argv[k] = NULL;
        execv(bin, argv);
        _exit(127);
    }
    int status;
    struct rusage ru;
    if (wait4(pid, &status, 0, &ru) != pid) return -1;
    if (maxrss_kb) *maxrss_kb = ru.ru_maxrss;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void test_cli_inspect_and_convert(void **st) {
    (void)st;
    char out[400], conv[400];
    snprintf(out, sizeof(out), "%s/inspect.json", tmpdir);
    snprintf(conv, sizeof(conv), "%s/cli.mird", tmpdir);
    char *a1[] = {"inspect", "--json", FIX "mmsa_p2_raw_text.pkl", NULL};
    assert_int_equal(run_mird(a1, out, NULL), 0);
    json_t *got = load_json(out), *exp = load_json(FIX "expected.json");
    compare_inspect(got, json_object_get(json_object_get(exp, "mmsa_p2_raw_text.pkl"), "inspect"), out);
    json_decref(got);
    char *a2[] = {"convert", FIX "unlabeled_p5.pkl", conv, "--unlabeled", NULL};
    assert_int_equal(run_mird(a2, NULL, NULL), 0);
    char *a3[] = {"inspect", "--json", conv, NULL};
    assert_int_equal(run_mird(a3, out, NULL), 0);
    got = load_json(out);
    compare_inspect(got, json_object_get(json_object_get(exp, "unlabeled_p5.pkl"), "inspect"), out);
    json_decref(got);
    json_decref(exp);
    char *a4[] = {"convert", FIX "mird_p4_f32.pkl", conv, "--unlabeled", NULL};
    assert_int_equal(run_mird(a4, NULL, NULL), 1);
    char *a5[] = {"inspect", "--json", FIX "bad_malicious_labels.pkl", NULL};
    assert_int_equal(run_mird(a5, out, NULL), 1);
    char *a6[] = {"inspect", "--bogus", NULL};
    assert_int_equal(run_mird(a6, NULL, NULL), 2);
    char *a7[] = {"convert", FIX "mird_p4_f32.pkl", NULL};
    assert_int_equal(run_mird(a7, NULL, NULL), 2);
    // a safetensors file that is not a dataset is inspected as a checkpoint
    char ck[400];
    snprintf(ck, sizeof(ck), "%s/ck.safetensors", tmpdir);
    StWriter w;
    stw_init(&w);
    float x[6] = {1, 2, 3, 4, 5, 6};
    int64_t shape[2] = {2, 3};
    stw_add_f32(&w, "zy_to_y_fc1.weight", 2, shape, x);
    char err[MIRD_ERRLEN];
    if (stw_write(&w, ck, err)) fail_msg("%s", err);
    stw_free(&w);
    char *a8[] = {"inspect", "--json", ck, NULL};
    assert_int_equal(run_mird(a8, out, NULL), 0);
    got = load_json(out);
    assert_string_equal(json_string_value(json_object_get(got, "format")), "checkpoint");
    json_t *sh = json_object_get(json_object_get(got, "tensors"), "zy_to_y_fc1.weight");
    assert_int_equal(json_integer_value(json_array_get(sh, 1)), 3);
    json_decref(got);
}

// ---- peak memory: an unlabeled pickle with one big float audio array, written here
static void put(FILE *f, const void *p, size_t n) { assert_int_equal(fwrite(p, 1, n, f), n); }
#define PUTS(f, lit) put(f, lit, sizeof(lit) - 1)
static void put_str(FILE *f, const char *s) {
    size_t n = strlen(s);
    uint8_t h[2] = {0x8c, (uint8_t)n};
    put(f, h, 2), put(f, s, n);
}
static void put_i32(FILE *f, int32_t v) {
    uint8_t b[5] = {'J', (uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
    put(f, b, 5);
}
// ndarray header up to the payload length, _reconstruct form; returns after writing BINBYTES8 + length.
static void put_array_head(FILE *f, int n, int T, int d, const char *typestr, uint64_t nbytes) {
    put_str(f, "numpy.core.multiarray"), put_str(f, "_reconstruct"), put(f, "\x93", 1);
    put_str(f, "numpy"), put_str(f, "ndarray"), put(f, "\x93", 1);
    PUTS(f, "K\x00\x85" "C\x01" "b\x87R(K\x01");
    put_i32(f, n), put_i32(f, T), put_i32(f, d), put(f, "\x87", 1);
    put_str(f, "numpy"), put_str(f, "dtype"), put(f, "\x93", 1);
    put_str(f, typestr), PUTS(f, "\x89\x88\x87R(K\x03"), put_str(f, "<");
    PUTS(f, "NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00tb\x89\x8e");
    uint8_t len[8];
    for (int i = 0; i < 8; i++) len[i] = (uint8_t)(nbytes >> (8 * i));
    put(f, len, 8);
}

// Everything up to the audio payload; the first text has 3 + extra characters (to move the payload).
static void write_head(FILE *f, int n, int T, int d, int f64, int extra) {
    put(f, "\x80\x04}(", 4);
    put_str(f, "raw_text");
    put(f, "](", 2);
    char first[8] = "abcxxx";
    first[3 + extra] = 0;
    for (int i = 0; i < n; i++) put_str(f, i ? "t" : first);
    put(f, "e", 1);
    put_str(f, "video");
    put_array_head(f, n, 1, 1, "f4", (uint64_t)n * 4);
    for (int i = 0; i < n; i++) {
        float v = (float)i;
        put(f, &v, 4);
    }
    put(f, "tb", 2);
    put_str(f, "audio");
    put_array_head(f, n, T, d, f64 ? "f8" : "f4", (uint64_t)n * T * d * (f64 ? 8 : 4));
}

// Writes the pickle with audio of n x T x d elements (f32 or f64) whose payload starts at a file
// offset = `mod4` modulo 4 (so 0 gives an aligned in-place array). Returns the expected audio sum.
static double write_big(const char *path, int n, int T, int d, int f64, int mod4) {
    char *mem;
    size_t memlen;
    FILE *m = open_memstream(&mem, &memlen);
    write_head(m, n, T, d, f64, 0);
    fclose(m);
    free(mem);
    int extra = (int)((mod4 - (long)memlen % 4 + 8) % 4);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    write_head(f, n, T, d, f64, extra);
    assert_int_equal(ftell(f) % 4, mod4);
    size_t numel = (size_t)n * T * d;
    enum { CH = 1 << 16 };
    static float fb[CH];
    static double db[CH];
    double sum = 0;
    for (size_t i = 0; i < numel; i += CH) {
        size_t k = numel - i < CH ? numel - i : CH;
        for (size_t j = 0; j < k; j++) {
            float v = (float)((i + j) % 1000) * 0.25f - 100.0f;
            sum += v;
            fb[j] = v, db[j] = v;
        }
        if (f64) put(f, db, k * 8);
        else put(f, fb, k * 4);
    }
    put(f, "tbu.", 4);
    assert_int_equal(fclose(f), 0);
    return sum;
}

static void check_big(int n, int T, int d, int f64, int misalign, double max_ratio) {
    char path[400], out[400];
    snprintf(path, sizeof(path), "%s/big_%d_%d.pkl", tmpdir, f64, misalign);
    snprintf(out, sizeof(out), "%s/big.json", tmpdir);
    double want = write_big(path, n, T, d, f64, misalign);
    long kb = 0;
    char *args[] = {"inspect", "--json", path, NULL};
    assert_int_equal(run_mird(args, out, &kb), 0);
    json_t *j = load_json(out);
    json_t *s = json_object_get(json_object_get(j, "splits"), "unlabeled");
    near(json_number_value(json_object_get(s, "audio_sum")), want, 1e-12, "audio_sum", path);
    assert_int_equal(json_integer_value(json_object_get(s, "n")), n);
    json_decref(j);
    double payload = (double)n * T * d * (f64 ? 8 : 4);
    double f32_bytes = (double)n * T * d * 4;
    printf("peak RSS %s payload %.0f MB, %s: %.0f MB\n", f64 ? "f64" : "f32", payload / 1e6,
           f64 ? "converted to f32" : (misalign ? "unaligned, copied" : "aligned, in place"), kb * 1024.0 / 1e6);
#if !defined(__SANITIZE_ADDRESS__)
    // the one copy we keep (the map or the converted f32 buffer) + program and libraries (~40 MB)
    double limit = max_ratio * (f64 ? f32_bytes : payload) + 48e6;
    if (kb * 1024.0 > limit) fail_msg("peak RSS %.0f MB over %.0f MB", kb * 1024.0 / 1e6, limit / 1e6);
#else
    (void)max_ratio, (void)f32_bytes;
#endif
    unlink(path);
}

static void test_peak_memory_big_pickle(void **st) {
    (void)st;
#if defined(__SANITIZE_ADDRESS__)
    int n = 20; // correctness only under the sanitizers
#else
    int n = 1000; // 1000 x 400 x 125 float32 = 200 MB
#endif
    check_big(n, 400, 125, 0, 0, 1.1);
    check_big(n, 400, 125, 0, 1, 1.1);
    check_big(n / 2, 400, 125, 1, 2, 1.1);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fixtures_match_numpy),   cmocka_unit_test(test_bad_files_refused),
        cmocka_unit_test(test_truncated_dataset),      cmocka_unit_test(test_tokenized_raw_text),
        cmocka_unit_test(test_mutated_datasets),
        cmocka_unit_test(test_cli_inspect_and_convert), cmocka_unit_test(test_peak_memory_big_pickle),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
