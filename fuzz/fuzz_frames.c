// fuzz_frames.c: the frame matrices of `mird predict CKPT --text T --audio A.txt --video V.txt`
// (train/traindata.h tdata_single_clip: rows of numbers separated by spaces, tabs or commas, '#'
// comments) from arbitrary bytes, read through an in-memory file as acoustic frames (d_a 5, padded
// or truncated to 4 frames) and as visual frames (d_v 3, 2 frames). An accepted clip must hold
// finite values only.
#include <math.h>
#include <string.h>

#include "core/common.h"
#include "fuzz_util.h"
#include "train/traindata.h"

static const char *vocab;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc, (void)argv;
    vocab = fuzz_vocab_path();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char err[MIRD_ERRLEN];
    const char *path = fuzz_memfile(data, size);
    for (int k = 0; k < 2; k++) {
        TSplit s;
        int rc = k == 0 ? tdata_single_clip("hello world", path, NULL, vocab, 8, 4, 2, 5, 3, &s, err)
                        : tdata_single_clip("hello world", NULL, path, vocab, 8, 4, 2, 5, 3, &s, err);
        if (rc != 0) {
            fuzz_check_err(err);
            continue;
        }
        for (int i = 0; i < 4 * 5; i++)
            if (!isfinite(s.audio[i])) abort();
        for (int i = 0; i < 2 * 3; i++)
            if (!isfinite(s.video[i])) abort();
        tsplit_free(&s);
    }
    return 0;
}
