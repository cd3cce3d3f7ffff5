// fuzz_safetensors.c: the safetensors reader (io/safetensors.h) on arbitrary bytes: st_parse on
// the exact-size input buffer, then every accessor and conversion the loaders use.
#include <string.h>

#include "core/common.h"
#include "fuzz_util.h"
#include "io/safetensors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char err[MIRD_ERRLEN];
    err[0] = 0;
    StFile f;
    if (st_parse(&f, data, size, "fuzz.safetensors", err) != 0) {
        if (!err[0]) abort();
        fuzz_check_err(err);
        return 0;
    }
    for (int i = 0; i < st_count(&f); i++) {
        const StTensor *t = st_tensor(&f, i);
        if (st_find(&f, t->name) == NULL) abort();
        if (t->ndim < 0 || t->ndim > ST_MAX_DIMS) abort();
        const uint8_t *p = t->data;
        if (t->nbytes && (p < data || p + t->nbytes > data + size)) abort();
        if (t->numel > (1u << 22)) continue; // big but valid: its bytes are in the file; keep runs fast
        float *fb = malloc((t->numel ? t->numel : 1) * sizeof(float));
        int32_t *ib = malloc((t->numel ? t->numel : 1) * sizeof(int32_t));
        if (st_to_f32(&f, t, fb, t->numel, err) != 0) fuzz_check_err(err);
        if (st_to_i32(&f, t, ib, t->numel, err) != 0) fuzz_check_err(err);
        if (t->numel > 0 && st_to_f32(&f, t, fb, t->numel - 1, err) == 0) abort(); // wrong count refused
        free(fb);
        free(ib);
    }
    for (int i = 0; i < f.n_meta; i++)
        if (st_meta(&f, f.meta_key[i]) == NULL) abort();
    (void)st_meta(&f, "mird.config");
    (void)st_find(&f, "");
    st_close(&f);
    return 0;
}
