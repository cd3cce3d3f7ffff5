// test_mird_io.c: mird_load_params goes through io/checkpoint.h: a weight stored as an integer
// tensor (which st_to_f32 would happily convert) is refused with a one-line error naming the file
// and the tensor, with and without allow_missing; a save / load round trip is bit-exact. The fusion
// tensors take the authors' names (WA.* for fusion WA, WSA.* otherwise) and the other spelling
// loads with a note; model tensors are always required, estimators only without allow_missing.
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/common.h"
#include "io/safetensors.h"
#include "models/mird.h"
#include "testutil.h"

#define FIXTURE "tests/fixtures/mird_base/ckpt.safetensors"

static void test_integer_weight_refused(void **state) {
    (void)state;
    char err[MIRD_ERRLEN], path[256], path2[256];
    snprintf(path, sizeof(path), "build/test_mird_io_i32_%ld.safetensors", (long)getpid());
    snprintf(path2, sizeof(path2), "build/test_mird_io_rt_%ld.safetensors", (long)getpid());
    MirdConfig cfg;
    Mird m;
    assert_int_equal(mird_config_from_checkpoint(&cfg, FIXTURE, err), 0);
    assert_int_equal(mird_create(&m, &cfg, 2, 4, 3, 3, err), 0);
    assert_int_equal(mird_load_params(&m, FIXTURE, 0, err), 0);

    // round trip through mird_save_params
    assert_int_equal(mird_save_params(&m, path2, err), 0);
    float *keep = falloc(m.params.total);
    memcpy(keep, m.params.data, m.params.total * sizeof(float));
    memset(m.params.data, 0, m.params.total * sizeof(float));
    assert_int_equal(mird_load_params(&m, path2, 0, err), 0);
    assert_memory_equal(keep, m.params.data, m.params.total * sizeof(float));
    unlink(path2);

    // the same checkpoint with its first weight as I32
    const ParamInfo *p0 = &m.params.p[0];
    int32_t *ints = xcalloc((size_t)p0->numel, sizeof(int32_t));
    StWriter w;
    stw_init(&w);
    for (int i = 0; i < m.params.n; i++) {
        const ParamInfo *pi = &m.params.p[i];
        if (i == 0) stw_add(&w, pi->name, ST_I32, pi->ndim, pi->shape, ints);
        else stw_add_f32(&w, pi->name, pi->ndim, pi->shape, m.params.data + pi->offset);
    }
    for (int i = 0; i < m.est.n; i++) {
        const ParamInfo *pi = &m.est.p[i];
        stw_add_f32(&w, pi->name, pi->ndim, pi->shape, m.est.data + pi->offset);
    }
    assert_int_equal(stw_write(&w, path, err), 0);
    stw_free(&w);
    for (int allow_missing = 0; allow_missing < 2; allow_missing++) {
        err[0] = 0;
        assert_int_equal(mird_load_params(&m, path, allow_missing, err), -1);
        assert_non_null(strstr(err, path));
        assert_non_null(strstr(err, p0->name));
        assert_non_null(strstr(err, "I32"));
        assert_null(strchr(err, '\n'));
    }
    // nothing of the integer tensor reached the weights
    assert_memory_equal(keep, m.params.data, m.params.total * sizeof(float));
    unlink(path);
    free(ints);
    free(keep);
    mird_free(&m);
}

// Write m's model tensors (prefix `from` renamed `to`, skipping the one named `skip`) and, unless
// no_est, its estimators to path.
static void write_renamed(const Mird *m, const char *path, const char *from, const char *to, const char *skip,
                          int no_est) {
    char err[MIRD_ERRLEN], name[PARAM_NAME_MAX + 8];
    StWriter w;
    stw_init(&w);
    for (int i = 0; i < m->params.n; i++) {
        const ParamInfo *pi = &m->params.p[i];
        if (skip && !strcmp(pi->name, skip)) continue;
        size_t n = strlen(from);
        if (!strncmp(pi->name, from, n)) snprintf(name, sizeof name, "%s%s", to, pi->name + n);
        else snprintf(name, sizeof name, "%s", pi->name);
        stw_add_f32(&w, name, pi->ndim, pi->shape, m->params.data + pi->offset);
    }
    for (int i = 0; i < m->est.n && !no_est; i++) {
        const ParamInfo *pi = &m->est.p[i];
        stw_add_f32(&w, pi->name, pi->ndim, pi->shape, m->est.data + pi->offset);
    }
    char *cfg = mird_config_to_string(&m->cfg);
    stw_meta(&w, "mird.config", cfg);
    free(cfg);
    assert_int_equal(stw_write(&w, path, err), 0);
    stw_free(&w);
}

// mird_load_params with stderr captured into out (cap bytes).
static int load_capturing(Mird *m, const char *path, int allow_missing, char *err, char *out, size_t cap) {
    char tmp[128];
    snprintf(tmp, sizeof tmp, "build/test_mird_io_stderr_%ld.txt", (long)getpid());
    fflush(stderr);
    int saved = dup(2), fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(saved >= 0 && fd >= 0);
    dup2(fd, 2);
    int rc = mird_load_params(m, path, allow_missing, err);
    fflush(stderr);
    dup2(saved, 2);
    close(saved), close(fd);
    FILE *f = fopen(tmp, "r");
    size_t n = f ? fread(out, 1, cap - 1, f) : 0;
    out[n] = 0;
    if (f) fclose(f);
    unlink(tmp);
    return rc;
}

// The authors' attribute is WA for the WA variant: a WA model registers mult_encoder.model.WA.*,
// a WSA model mult_encoder.model.WSA.*, and a file with the other spelling loads bit-exactly with
// one note on stderr. A missing model tensor is an error even where estimators may be missing.
static void test_fusion_names(void **state) {
    (void)state;
    char err[MIRD_ERRLEN], path[256], note[2048];
    snprintf(path, sizeof(path), "build/test_mird_io_alias_%ld.safetensors", (long)getpid());
    for (int wa = 0; wa < 2; wa++) {
        const char *src = wa ? "tests/fixtures/mird_nolabel_wa/ckpt.safetensors" : FIXTURE;
        const char *own = wa ? "mult_encoder.model.WA." : "mult_encoder.model.WSA.";
        const char *other = wa ? "mult_encoder.model.WSA." : "mult_encoder.model.WA.";
        MirdConfig cfg;
        Mird m;
        assert_int_equal(mird_config_from_checkpoint(&cfg, src, err), 0);
        assert_int_equal(cfg.fusion, wa ? MIRD_FUSION_WA : MIRD_FUSION_WSA);
        assert_int_equal(mird_create(&m, &cfg, 2, 4, 3, 3, err), 0);
        char nm[PARAM_NAME_MAX];
        snprintf(nm, sizeof nm, "%sW_hv.weight", own);
        assert_true(params_find(&m.params, nm) >= 0);
        snprintf(nm, sizeof nm, "%sW_hv.weight", other);
        assert_true(params_find(&m.params, nm) < 0);
        note[0] = 0;
        assert_int_equal(load_capturing(&m, src, 0, err, note, sizeof note), 0);
        assert_null(strstr(note, "mird: note:")); // official names: nothing to say
        float *keep = falloc(m.params.total);
        memcpy(keep, m.params.data, m.params.total * sizeof(float));
        write_renamed(&m, path, own, other, NULL, 0);
        memset(m.params.data, 0, m.params.total * sizeof(float));
        assert_int_equal(load_capturing(&m, path, 0, err, note, sizeof note), 0);
        assert_memory_equal(keep, m.params.data, m.params.total * sizeof(float));
        assert_non_null(strstr(note, "mird: note: "));
        assert_non_null(strstr(note, other));
        assert_non_null(strstr(note, "loaded under the official names"));
        assert_int_equal(strchr(note, '\n') - note + 1, (long)strlen(note)); // one line
        // a missing model tensor: refused even when the estimators may be missing
        write_renamed(&m, path, own, own, "zy_to_y_fc2.bias", 1);
        assert_int_equal(load_capturing(&m, path, 1, err, note, sizeof note), -1);
        assert_non_null(strstr(err, "zy_to_y_fc2.bias"));
        // estimators missing: fine with allow_missing, an error without
        write_renamed(&m, path, own, own, NULL, 1);
        assert_int_equal(load_capturing(&m, path, 1, err, note, sizeof note), 0);
        assert_int_equal(load_capturing(&m, path, 0, err, note, sizeof note), -1);
        assert_non_null(strstr(err, "club_"));
        unlink(path);
        free(keep);
        mird_free(&m);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_integer_weight_refused), cmocka_unit_test(test_fusion_names)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
