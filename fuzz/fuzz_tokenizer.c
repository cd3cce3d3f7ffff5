// fuzz_tokenizer.c: the BERT tokenizer (text/tokenizer.h) on arbitrary input text (bytes are not
// necessarily UTF-8, may hold NULs). The vocab is MIRD_FUZZ_VOCAB if set (e.g. the real
// bert-base-uncased vocab.txt), else the tests' tiny vocab tests/fixtures/tok_tiny_vocab.txt
// (run from the repo root). Checks: encode gives exactly max_len ids, all in range, [CLS] first,
// the mask a prefix of ones, and the piece count agrees between encode and pieces.
#include <string.h>

#include "core/common.h"
#include "fuzz_util.h"
#include "text/tokenizer.h"

static Tokenizer *tok;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc, (void)argv;
    tok = fuzz_load_tokenizer("fuzz_tokenizer");
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *text = (const char *)data;
    int32_t n = vocab_size(tok->vocab);
    long np = tokenizer_pieces(tok, text, size, NULL, 0);
    if (np < 0) abort();
    int32_t small[8];
    if (tokenizer_pieces(tok, text, size, small, 8) != np) abort();
    int32_t *all = malloc(((size_t)np + 1) * sizeof(int32_t));
    if (tokenizer_pieces(tok, text, size, all, np) != np) abort();
    for (long i = 0; i < np; i++)
        if (all[i] < 0 || all[i] >= n) abort();
    for (int k = 0; k < np && k < 8; k++)
        if (small[k] != all[k]) abort();
    static const int lens[] = {2, 3, 16, 50};
    for (int li = 0; li < 4; li++) {
        int L = lens[li];
        int32_t ids[50], mask[50];
        long r = tokenizer_encode_n(tok, text, size, L, ids, mask);
        if (r != np) abort();
        if (ids[0] != tok->cls_id || mask[0] != 1) abort();
        long kept = np < L - 2 ? np : L - 2;
        if (ids[kept + 1] != tok->sep_id) abort();
        for (int i = 0; i < L; i++) {
            if (ids[i] < 0 || ids[i] >= n) abort();
            if (mask[i] != (i <= kept + 1)) abort();
            if (i > kept + 1 && ids[i] != tok->pad_id) abort();
            if (i >= 1 && i <= kept && ids[i] != all[i - 1]) abort();
        }
    }
    if (tokenizer_encode_n(tok, text, size, 1, NULL, NULL) != -1) abort();
    free(all);
    return 0;
}
