// cmd_tokenize.c: `mird tokenize --vocab VOCAB.txt [--max-len N]`: one text per stdin line (split on
// "\n"; bytes as they are, invalid UTF-8 included), one line of space-separated ids per text on
// stdout: Hugging Face BertTokenizer (uncased) ids, [CLS] ... [SEP] [PAD]... to exactly N ids
// (default 50). --max-len 0: no truncation and no padding ([CLS] pieces [SEP]).
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "core/common.h"
#include "text/tokenizer.h"

static void tokenize_usage(FILE *f) {
    fprintf(f, "usage: mird tokenize --vocab VOCAB.txt [--max-len N]\n"
               "  reads one text per line on stdin, writes one line of token ids per text:\n"
               "  [CLS] pieces [SEP] [PAD]... to exactly N ids (default 50, at least 2);\n"
               "  --max-len 0 writes [CLS] pieces [SEP] without truncation or padding\n");
}

int cmd_tokenize(int argc, char **argv) {
    const char *vocab = NULL;
    long max_len = 50;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            tokenize_usage(stdout);
            return 0;
        } else if (!strcmp(argv[i], "--vocab") && i + 1 < argc) {
            vocab = argv[++i];
        } else if (!strcmp(argv[i], "--max-len") && i + 1 < argc) {
            char *end;
            errno = 0;
            max_len = strtol(argv[++i], &end, 10);
            if (errno || *end || end == argv[i] || max_len < 0 || max_len == 1 || max_len > 1000000) {
                fprintf(stderr, "mird: tokenize: --max-len '%s': expected 0 or an integer from 2 to 1000000\n",
                        argv[i]);
                return 2;
            }
        } else {
            fprintf(stderr, "mird: tokenize: unknown or incomplete argument '%s' (see mird tokenize --help)\n",
                    argv[i]);
            return 2;
        }
    }
    if (!vocab) {
        fprintf(stderr, "mird: tokenize: --vocab VOCAB.txt is required (see mird tokenize --help)\n");
        return 2;
    }
    char err[MIRD_ERRLEN];
    Tokenizer *tok;
    if (tokenizer_load(&tok, vocab, err)) {
        fprintf(stderr, "mird: %s\n", err);
        return 1;
    }
    char *line = NULL;
    size_t lcap = 0;
    long cap = max_len ? max_len : 256;
    int32_t *ids = xmalloc(sizeof(int32_t) * (size_t)cap);
    ssize_t got;
    int rc = 0;
    while ((got = getline(&line, &lcap, stdin)) >= 0) {
        size_t len = (size_t)got;
        if (len && line[len - 1] == '\n') len--;
        long n;
        if (max_len) {
            tokenizer_encode_n(tok, line, len, (int)max_len, ids, NULL);
            n = max_len;
        } else {
            long total = tokenizer_pieces(tok, line, len, ids + 1, cap - 2);
            if (total > cap - 2) { // grow and redo: rare
                cap = total + 2;
                ids = xrealloc(ids, sizeof(int32_t) * (size_t)cap);
                tokenizer_pieces(tok, line, len, ids + 1, cap - 2);
            }
            ids[0] = tok->cls_id;
            ids[total + 1] = tok->sep_id;
            n = total + 2;
        }
        for (long i = 0; i < n; i++) fprintf(stdout, i ? " %d" : "%d", ids[i]);
        fputc('\n', stdout);
    }
    if (ferror(stdin)) {
        fprintf(stderr, "mird: tokenize: reading stdin: %s\n", strerror(errno));
        rc = 1;
    }
    if (fflush(stdout) || ferror(stdout)) {
        fprintf(stderr, "mird: tokenize: writing stdout failed\n");
        rc = 1;
    }
    free(line);
    free(ids);
    tokenizer_free(tok);
    return rc;
}
