// fuzz_dataset_file.c: the project's own .mird dataset file (data/dataset.h: a safetensors
// container with "mird.dataset" metadata, memory-mapped) from arbitrary bytes, through
// dataset_load on an in-memory file, then the checks and inspect summary `mird inspect` runs.
#include <jansson.h>
#include <math.h>
#include <string.h>

#include "core/common.h"
#include "data/dataset.h"
#include "fuzz_util.h"

static volatile int64_t sink;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char err[MIRD_ERRLEN];
    const char *path = fuzz_memfile(data, size);
    (void)dataset_file_is_mird(path);
    Dataset ds;
    if (dataset_load(&ds, path, NULL, err) != 0) {
        fuzz_check_err(err);
        return 0;
    }
    for (int s = 0; s < ds.nsplits; s++) {
        const DataSplit *sp = &ds.split[s];
        if (sp->n <= 0) abort();
        size_t na = (size_t)sp->n * sp->Ta * sp->d_a, nv = (size_t)sp->n * sp->Tv * sp->d_v;
        for (size_t i = 0; i < na; i++)
            if (!isfinite(sp->audio[i])) abort();
        for (size_t i = 0; i < nv; i++)
            if (!isfinite(sp->visual[i])) abort();
        for (int i = 0; i < sp->n; i++) {
            if (sp->labels && !(sp->labels[i] == sp->labels[i])) abort();
            if (sp->audio_len[i] < 0 || sp->audio_len[i] > sp->Ta) abort();
            if (sp->visual_len[i] < 0 || sp->visual_len[i] > sp->Tv) abort();
            if (sp->text) (void)strlen(sp->text[i]);
            if (sp->clip_id) (void)strlen(sp->clip_id[i]);
            if (sp->ids)
                for (int t = 0; t < sp->Tl; t++) sink += (int64_t)sp->ids[(size_t)i * sp->Tl + t] + sp->mask[(size_t)i * sp->Tl + t] + sp->seg[(size_t)i * sp->Tl + t];
        }
    }
    json_t *j = dataset_inspect(&ds);
    char *s = json_dumps(j, JSON_REAL_PRECISION(17));
    free(s);
    json_decref(j);
    dataset_free(&ds);
    return 0;
}
