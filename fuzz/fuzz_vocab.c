// fuzz_vocab.c: a vocab.txt (text/vocab.h and the special-token lookup of text/tokenizer.h) from
// arbitrary bytes, read through an in-memory file; every id's token is looked up again, and when
// the special tokens are present a few texts (including the vocab bytes themselves) are encoded.
#include <string.h>

#include "core/common.h"
#include "fuzz_util.h"
#include "text/tokenizer.h"
#include "text/vocab.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char err[MIRD_ERRLEN];
    const char *path = fuzz_memfile(data, size);
    Vocab *v = NULL;
    if (vocab_load(&v, path, err) != 0) {
        fuzz_check_err(err);
        return 0;
    }
    int32_t n = vocab_size(v);
    if (n <= 0) abort();
    for (int32_t id = 0; id < n && id < 4096; id++) {
        size_t len;
        const char *t = vocab_token(v, id, &len);
        if (!t || strlen(t) > len) abort();
        int32_t back = vocab_find(v, t, len, 0);
        if (back < 0 || back >= n || vocab_token(v, back, NULL) == NULL) abort();
        if (len >= 2 && t[0] == '#' && t[1] == '#' && vocab_find(v, t + 2, len - 2, 1) < 0) abort();
    }
    if (vocab_token(v, -1, NULL) || vocab_token(v, n, NULL)) abort();
    (void)vocab_max_token_bytes(v);
    vocab_free(v);

    Tokenizer *tok = NULL;
    if (tokenizer_load(&tok, path, err) != 0) {
        fuzz_check_err(err);
        return 0;
    }
    int32_t ids[32], mask[32];
    const char *texts[] = {"hello, World! unaffable [CLS] [sep]", "\xe4\xb8\xad\xe6\x96\x87 caf\xc3\xa9"};
    for (int i = 0; i < 2; i++) (void)tokenizer_encode(tok, texts[i], 32, ids, mask);
    (void)tokenizer_encode_n(tok, (const char *)data, size < 2000 ? size : 2000, 32, ids, mask);
    tokenizer_free(tok);
    return 0;
}
