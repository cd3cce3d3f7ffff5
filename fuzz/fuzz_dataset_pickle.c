// fuzz_dataset_pickle.c: dataset pickles (MIRD / MMSA / unlabeled; data/dataset.h) from arbitrary
// bytes. First the numpy layer (io/pickle_numpy.h) on libFuzzer's exact-size heap copy: every
// ndarray node the tree holds is described and converted, every list read as numbers and strings.
// Then the real loader, dataset_load, on an in-memory file: without a tokenizer and with the tests'
// tiny vocab (raw text tokenised), followed by the inspect summary that `mird inspect` prints.
#include <jansson.h>
#include <math.h>
#include <string.h>

#include "core/common.h"
#include "data/dataset.h"
#include "fuzz_util.h"
#include "io/pickle_numpy.h"
#include "text/tokenizer.h"

static Tokenizer *tok;
static int budget;
static volatile int64_t sink; // ndarray nodes examined per input (hostile trees can share one node many times)

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc, (void)argv;
    tok = fuzz_load_tokenizer("fuzz_dataset_pickle");
    return 0;
}

static void numpy_walk(Pickle *pk, const PkObj *o, int depth) {
    char err[MIRD_ERRLEN];
    if (!o || depth > 24 || budget <= 0) return;
    if (pk_is_ndarray(o)) {
        budget--;
        PkArray a;
        if (pk_ndarray(pk, o, "x", &a, err) == 0) {
            if (pk_array_is_numeric(&a) && a.numel <= (1u << 20)) {
                float *f = malloc((a.numel + 1) * sizeof(float));
                double *d = malloc((a.numel + 1) * sizeof(double));
                pk_array_to_f32(&a, 0, a.numel, f);
                pk_array_to_f64(&a, 0, a.numel, d);
                if (a.numel) (void)pk_array_at(&a, a.numel - 1);
                free(f);
                free(d);
            }
            (void)pk_array_is_f32_view(&a);
        } else {
            fuzz_check_err(err);
        }
    }
    double v, *nums;
    size_t n;
    char **strs;
    if (pk_number(pk, o, "x", &v, err) != 0) fuzz_check_err(err);
    if (pk_numbers(pk, o, "x", &nums, &n, err) == 0) free(nums);
    else fuzz_check_err(err);
    if (pk_strs(pk, o, "x", &strs, &n, err) == 0) pk_free_strs(strs, n);
    else fuzz_check_err(err);
    switch (o->kind) {
    case PK_LIST:
    case PK_TUPLE:
    case PK_DICT:
    case PK_SET:
        for (size_t i = 0; i < o->seq.n && i < 64; i++) numpy_walk(pk, o->seq.v[i], depth + 1);
        break;
    case PK_REDUCE:
    case PK_NEWOBJ:
        numpy_walk(pk, o->call.args, depth + 1);
        numpy_walk(pk, o->call.state, depth + 1);
        break;
    default:
        break;
    }
}

static void load(const char *path, const DatasetOptions *opt) {
    char err[MIRD_ERRLEN];
    Dataset ds;
    if (dataset_load(&ds, path, opt, err) != 0) {
        fuzz_check_err(err);
        return;
    }
    for (int s = 0; s < ds.nsplits; s++) {
        const DataSplit *sp = &ds.split[s];
        if (sp->n <= 0) abort(); // "no empty split"
        if (dataset_split(&ds, sp->name) != sp) abort();
        size_t na = (size_t)sp->n * sp->Ta * sp->d_a, nv = (size_t)sp->n * sp->Tv * sp->d_v;
        for (size_t i = 0; i < na; i++)
            if (!isfinite(sp->audio[i])) abort(); // features were validated finite (MMSA: -inf -> 0)
        for (size_t i = 0; i < nv; i++)
            if (!isfinite(sp->visual[i])) abort();
        for (int i = 0; i < sp->n; i++) {
            if (sp->labels && !(sp->labels[i] == sp->labels[i])) abort();
            if (sp->audio_len[i] < 0 || sp->audio_len[i] > sp->Ta) abort();
            if (sp->visual_len[i] < 0 || sp->visual_len[i] > sp->Tv) abort();
            if (sp->text && strlen(sp->text[i]) > (1u << 30)) abort();
            if (sp->ids)
                for (int t = 0; t < sp->Tl; t++) sink += (int64_t)sp->ids[(size_t)i * sp->Tl + t] + sp->mask[(size_t)i * sp->Tl + t];
        }
    }
    json_t *j = dataset_inspect(&ds);
    char *s = json_dumps(j, JSON_REAL_PRECISION(17));
    free(s);
    json_decref(j);
    dataset_free(&ds);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char err[MIRD_ERRLEN];
    Pickle *pk = NULL;
    PickleOptions po = {.allow = PK_NUMPY_GLOBALS};
    if (pickle_parse(&pk, data, size, &po, "fuzz.pkl", err) == 0) {
        budget = 64;
        numpy_walk(pk, pickle_root(pk), 0);
        pickle_free(pk);
    } else {
        fuzz_check_err(err);
    }
    const char *path = fuzz_memfile(data, size);
    (void)dataset_file_is_pickle(path);
    load(path, NULL);
    DatasetOptions opt = {.tok = tok, .Tl = 8};
    load(path, &opt);
    return 0;
}
