// test_tokenizer.c: the BERT tokenizer against ids written by tools/tokenizer_ref.py (a faithful
// re-implementation of Hugging Face's BertTokenizer): a tiny committed vocab with HF's vocab.txt
// quirks on ~70 tricky strings (always runs), the same strings with the real bert-base-uncased vocab,
// and every transcript of ../shared/data/mosi-label.csv through hashes (both skip when absent);
// the vocab loader's semantics and errors, the encode API, threads, and `mird tokenize` as a process.
// Regenerate the fixtures: tools/tokenizer_ref.py --write-fixtures tests/fixtures
//   --vocab ../shared/data/bert-base-uncased-vocab.txt --mosi ../shared/data/mosi-label.csv
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/common.h"
#include "testutil.h"
#include "text/tokenizer.h"

#define FIX "tests/fixtures/"
#define TINY FIX "tok_tiny_vocab.txt"

// ---- fixture helpers

typedef struct {
    char *buf;
    char **line;
    size_t *len;
    long n;
} Lines;

static Lines read_lines(const char *path) { // split on '\n'; a final line needs its '\n'
    Lines L = {0};
    size_t size;
    char err[MIRD_ERRLEN];
    if (read_file_all(path, &L.buf, &size, err)) fail_msg("%s", err);
    long cap = 16;
    L.line = malloc(sizeof(char *) * cap);
    L.len = malloc(sizeof(size_t) * cap);
    size_t start = 0;
    for (size_t p = 0; p < size; p++) {
        if (L.buf[p] != '\n') continue;
        if (L.n == cap) {
            cap *= 2;
            L.line = realloc(L.line, sizeof(char *) * cap);
            L.len = realloc(L.len, sizeof(size_t) * cap);
        }
        L.buf[p] = '\0';
        L.line[L.n] = L.buf + start;
        L.len[L.n++] = p - start;
        start = p + 1;
    }
    return L;
}

static void free_lines(Lines *L) {
    free(L->buf);
    free(L->line);
    free(L->len);
}

// Hex line -> bytes in place (the line's own buffer); returns the byte count.
static size_t unhex(char *s, size_t len) {
    for (size_t i = 0; 2 * i + 1 < len; i++) {
        unsigned v;
        sscanf(s + 2 * i, "%2x", &v);
        s[i] = (char)v;
    }
    return len / 2;
}

// Space-separated ids -> array; returns the count.
static long parse_ids(const char *s, int32_t *out, long cap) {
    long n = 0;
    char *end;
    while (*s) {
        long v = strtol(s, &end, 10);
        if (end == s) break;
        if (n < cap) out[n] = (int32_t)v;
        n++;
        s = end;
    }
    return n;
}

static uint64_t fnv64(const char *s, size_t n) {
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < n; i++) h = (h ^ (uint8_t)s[i]) * 0x100000001b3ULL;
    return h;
}

static size_t ids_text(const int32_t *ids, long n, char *out) { // "101 7592 102"
    size_t k = 0;
    for (long i = 0; i < n; i++) k += (size_t)sprintf(out + k, i ? " %d" : "%d", ids[i]);
    return k;
}

// Inputs of tok_tricky.hex as raw bytes.
static Lines tricky_inputs(void) {
    Lines in = read_lines(FIX "tok_tricky.hex");
    for (long i = 0; i < in.n; i++) in.len[i] = unhex(in.line[i], in.len[i]);
    return in;
}

// Compares every tricky input with the fixtures of one vocab: no truncation, and max_len L.
static void check_tricky(const char *vocab_path, const char *name, int L) {
    char err[MIRD_ERRLEN], path[256];
    Tokenizer *tok;
    if (tokenizer_load(&tok, vocab_path, err)) fail_msg("%s", err);
    Lines in = tricky_inputs();
    snprintf(path, sizeof(path), FIX "tok_tricky_%s_full.txt", name);
    Lines full = read_lines(path);
    snprintf(path, sizeof(path), FIX "tok_tricky_%s_%d.txt", name, L);
    Lines cut = read_lines(path);
    assert_int_equal(in.n, full.n);
    assert_int_equal(in.n, cut.n);
    long cap = 100000, bad = 0;
    int32_t *want = malloc(sizeof(int32_t) * cap), *got = malloc(sizeof(int32_t) * cap);
    int32_t *mask = malloc(sizeof(int32_t) * L);
    for (long i = 0; i < in.n; i++) {
        long nw = parse_ids(full.line[i], want, cap);
        long ng = tokenizer_pieces(tok, in.line[i], in.len[i], got, cap);
        int same = ng == nw - 2 && !memcmp(got, want + 1, sizeof(int32_t) * (size_t)ng) && want[0] == tok->cls_id &&
                   want[nw - 1] == tok->sep_id;
        long r = tokenizer_encode_n(tok, in.line[i], in.len[i], L, got, mask);
        long nc = parse_ids(cut.line[i], want, cap);
        same = same && r == nw - 2 && nc == L && !memcmp(got, want, sizeof(int32_t) * (size_t)L);
        for (int j = 0; j < L; j++) same = same && mask[j] == (j < (r < L - 2 ? r : L - 2) + 2);
        if (!same) {
            if (bad++ < 5) print_error("%s vocab: tricky input line %ld differs from the reference\n", name, i + 1);
        }
    }
    free(want), free(got), free(mask);
    free_lines(&in), free_lines(&full), free_lines(&cut);
    tokenizer_free(tok);
    assert_int_equal(bad, 0);
}

// ---- tests

static void test_vocab_semantics(void **state) {
    (void)state;
    char err[MIRD_ERRLEN];
    Vocab *v;
    assert_int_equal(vocab_load(&v, TINY, err), 0);
    // 56 lines: "\r\n" and a lone "\r" end lines, the empty line 5 is a token, no final newline.
    assert_int_equal(vocab_size(v), 56);
    assert_int_equal(vocab_find(v, "[UNK]", 5, 0), 1);
    assert_int_equal(vocab_find(v, "[CLS]", 5, 0), 2);
    assert_int_equal(vocab_find(v, "[SEP]", 5, 0), 3);
    assert_int_equal(vocab_find(v, "", 0, 0), 5);
    assert_int_equal(vocab_find(v, "hello", 5, 0), 54); // duplicate of line 7: the last one wins
    assert_int_equal(vocab_find(v, "z", 1, 0), 55);     // the last line, without a newline
    int32_t xs = vocab_find(v, "x ", 2, 0), x = vocab_find(v, "x", 1, 0);
    assert_true(xs >= 0 && x == xs + 1); // a trailing space is part of the token
    int32_t aff = vocab_find(v, "aff", 3, 1);
    size_t len;
    const char *t = vocab_token(v, aff, &len);
    assert_non_null(t);
    assert_int_equal(len, 5);
    assert_string_equal(t, "##aff");
    assert_int_equal(vocab_find(v, "aff", 3, 0), -1);
    assert_int_equal(vocab_find(v, "##aff", 5, 0), aff);
    assert_int_equal(vocab_find(v, "hello", 4, 0), -1);
    assert_null(vocab_token(v, 56, NULL));
    assert_null(vocab_token(v, -1, NULL));
    assert_string_equal(vocab_token(v, 7, NULL), "hello"); // the first copy keeps its own id
    vocab_free(v);
}

static void write_file(const char *path, const char *data, size_t n) {
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, n, f), n);
    fclose(f);
}

static void expect_load_error(const char *path, const char *what) {
    char err[MIRD_ERRLEN] = "";
    Tokenizer *tok = (Tokenizer *)1;
    assert_int_equal(tokenizer_load(&tok, path, err), -1);
    assert_null(tok);
    if (!strstr(err, path) || !strstr(err, what) || strchr(err, '\n'))
        fail_msg("error message '%s' should name %s and say '%s', on one line", err, path, what);
}

static void test_vocab_errors(void **state) {
    (void)state;
    char dir[] = "/tmp/mird_tok_XXXXXX", path[64];
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/none.txt", dir);
    expect_load_error(path, "");
    snprintf(path, sizeof(path), "%s/empty.txt", dir);
    write_file(path, "", 0);
    expect_load_error(path, "empty");
    snprintf(path, sizeof(path), "%s/bad.txt", dir);
    write_file(path, "[PAD]\n[UNK]\n[CLS]\n[SEP]\nab\xff\n", 28);
    expect_load_error(path, "invalid UTF-8");
    snprintf(path, sizeof(path), "%s/nounk.txt", dir);
    write_file(path, "[PAD]\n[CLS]\n[SEP]\n[unk]\n", 24);
    expect_load_error(path, "[UNK]");
    unlink(path);
    snprintf(path, sizeof(path), "%s/bad.txt", dir);
    unlink(path);
    snprintf(path, sizeof(path), "%s/empty.txt", dir);
    unlink(path);
    rmdir(dir);
}

static void test_tricky_tiny_vocab(void **state) {
    (void)state;
    check_tricky(TINY, "tiny", 16);
}

static void test_tricky_bert_vocab(void **state) {
    (void)state;
    const char *p = shared_data("bert-base-uncased-vocab.txt");
    if (!p) skip();
    char path[1024];
    snprintf(path, sizeof(path), "%s", p);
    check_tricky(path, "bert", 50);
}

// One CSV record of label.csv (RFC 4180: quoted fields may hold commas, "" and newlines).
// Returns the number of fields (0 at the end); fields point into a copy in `rec`.
static int csv_record(const char **p, const char *end, char *rec, char **field, int maxf) {
    if (*p >= end) return 0;
    int nf = 0;
    char *w = rec;
    const char *s = *p;
    for (;;) {
        if (nf < maxf) field[nf] = w;
        nf++;
        if (s < end && *s == '"') {
            s++;
            while (s < end) {
                if (*s == '"') {
                    if (s + 1 < end && s[1] == '"') {
                        *w++ = '"';
                        s += 2;
                        continue;
                    }
                    s++;
                    break;
                }
                *w++ = *s++;
            }
        }
        while (s < end && *s != ',' && *s != '\n' && *s != '\r') *w++ = *s++;
        *w++ = '\0';
        if (s < end && *s == ',') {
            s++;
            continue;
        }
        if (s < end && *s == '\r') s++;
        if (s < end && *s == '\n') s++;
        break;
    }
    *p = s;
    return nf;
}

static void test_mosi_transcripts(void **state) {
    (void)state;
    const char *p = shared_data("mosi-label.csv");
    char csv_path[1024];
    if (p) snprintf(csv_path, sizeof(csv_path), "%s", p);
    const char *vp = p ? shared_data("bert-base-uncased-vocab.txt") : NULL;
    if (!p || !vp) skip();
    char err[MIRD_ERRLEN];
    Tokenizer *tok;
    if (tokenizer_load(&tok, vp, err)) fail_msg("%s", err);
    char *data;
    size_t size;
    if (read_file_all(csv_path, &data, &size, err)) fail_msg("%s", err);
    Lines want = read_lines(FIX "tok_mosi_hashes.txt");
    const char *s = data, *end = data + size;
    char *rec = malloc(size + 1), *field[16];
    int nf = csv_record(&s, end, rec, field, 16), text_col = -1;
    for (int i = 0; i < nf && i < 16; i++)
        if (!strcmp(field[i], "text")) text_col = i;
    assert_true(text_col >= 0);
    long cap = 4096, rows = 0, bad = 0, truncated = 0;
    int32_t *ids = malloc(sizeof(int32_t) * cap);
    char *line = malloc((size_t)cap * 12);
    while ((nf = csv_record(&s, end, rec, field, 16)) > 0) {
        if (nf <= text_col) continue;
        rows++;
        const char *text = field[text_col];
        long n = tokenizer_pieces(tok, text, strlen(text), ids + 1, cap - 2);
        assert_true(n <= cap - 2);
        ids[0] = tok->cls_id;
        ids[n + 1] = tok->sep_id;
        uint64_t h0 = fnv64(line, ids_text(ids, n + 2, line));
        if (tokenizer_encode(tok, text, 50, ids, NULL) > 48) truncated++;
        uint64_t h50 = fnv64(line, ids_text(ids, 50, line));
        char mine[64];
        snprintf(mine, sizeof(mine), "%ld %016llx %016llx", rows, (unsigned long long)h0, (unsigned long long)h50);
        if (rows > want.n || strcmp(mine, want.line[rows - 1])) {
            if (bad++ < 5) print_error("mosi-label.csv data row %ld: ids differ from the reference\n", rows);
        }
    }
    print_message("mosi: %ld transcripts, %ld truncated at max_len 50, %ld mismatches\n", rows, truncated, bad);
    assert_int_equal(rows, want.n);
    assert_int_equal(bad, 0);
    free(ids), free(line), free(rec), free(data);
    free_lines(&want);
    tokenizer_free(tok);
}

static void test_encode_api(void **state) {
    (void)state;
    char err[MIRD_ERRLEN];
    Tokenizer *tok;
    assert_int_equal(tokenizer_load(&tok, TINY, err), 0);
    assert_int_equal(tok->pad_id, 0);
    assert_int_equal(tok->unk_id, 1);
    assert_int_equal(tok->cls_id, 2);
    assert_int_equal(tok->sep_id, 3);
    assert_int_equal(tok->mask_id, 4);
    int32_t ids[8], mask[8], ids2[8];
    assert_int_equal(tokenizer_encode(tok, "hello", 1, ids, mask), -1);
    // "unaffable hello , world" = un ##aff ##able hello , world: 6 pieces.
    assert_int_equal(tokenizer_encode(tok, "unaffable hello, world", 8, ids, mask), 6);
    int32_t h = vocab_find(tok->vocab, "hello", 5, 0), w = vocab_find(tok->vocab, "world", 5, 0);
    int32_t e1[8] = {2, vocab_find(tok->vocab, "un", 2, 0), vocab_find(tok->vocab, "aff", 3, 1),
                     vocab_find(tok->vocab, "able", 4, 1), h, vocab_find(tok->vocab, ",", 1, 0), w, 3};
    assert_memory_equal(ids, e1, sizeof(e1));
    for (int i = 0; i < 8; i++) assert_int_equal(mask[i], 1);
    // Truncated to 2 pieces: the return value still counts all 6.
    assert_int_equal(tokenizer_encode(tok, "unaffable hello, world", 4, ids, mask), 6);
    int32_t e2[4] = {2, e1[1], e1[2], 3};
    assert_memory_equal(ids, e2, sizeof(e2));
    // Padding and mask.
    assert_int_equal(tokenizer_encode(tok, "HELLO", 6, ids, mask), 1);
    int32_t e3[6] = {2, h, 3, 0, 0, 0}, m3[6] = {1, 1, 1, 0, 0, 0};
    assert_memory_equal(ids, e3, sizeof(e3));
    assert_memory_equal(mask, m3, sizeof(m3));
    assert_int_equal(tokenizer_encode(tok, "", 2, ids, NULL), 0);
    assert_int_equal(ids[0], 2);
    assert_int_equal(ids[1], 3);
    // encode stops at the NUL ("hel" is one [UNK]), encode_n deletes it (as HF's cleaning does).
    assert_int_equal(tokenizer_encode(tok, "hel\0lo", 6, ids, NULL), 1);
    assert_int_equal(ids[1], tok->unk_id);
    assert_int_equal(tokenizer_encode_n(tok, "hel\0lo", 6, 6, ids2, NULL), 1);
    assert_int_equal(ids2[1], h);
    // pieces: cap bounds the writes, the return value counts everything.
    ids[2] = -7;
    assert_int_equal(tokenizer_pieces(tok, "hello world hello", 17, ids, 2), 3);
    assert_int_equal(ids[0], h);
    assert_int_equal(ids[1], w);
    assert_int_equal(ids[2], -7);
    assert_int_equal(tokenizer_pieces(tok, "hello world", 11, NULL, 0), 2);
    tokenizer_free(tok);
}

// One tokenizer shared by several threads gives the same ids as the fixture.
static void test_threads(void **state) {
    (void)state;
    char err[MIRD_ERRLEN];
    Tokenizer *tok;
    assert_int_equal(tokenizer_load(&tok, TINY, err), 0);
    Lines in = tricky_inputs(), cut = read_lines(FIX "tok_tricky_tiny_16.txt");
    long bad = 0;
#pragma omp parallel for schedule(dynamic) reduction(+ : bad) num_threads(4)
    for (long k = 0; k < 8 * in.n; k++) {
        long i = k % in.n;
        int32_t got[16], want[16];
        tokenizer_encode_n(tok, in.line[i], in.len[i], 16, got, NULL);
        parse_ids(cut.line[i], want, 16);
        bad += memcmp(got, want, sizeof(got)) != 0;
    }
    assert_int_equal(bad, 0);
    free_lines(&in), free_lines(&cut);
    tokenizer_free(tok);
}

static int run_status(const char *cmd) {
    int st = system(cmd);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

// `mird tokenize` as a process: the tricky strings on stdin (raw bytes, one per line).
static void test_cli(void **state) {
    (void)state;
    const char *bin = getenv("MIRD_BIN");
    if (!bin) bin = "build/mird";
    char dir[] = "/tmp/mird_tokcli_XXXXXX", in_path[64], out_path[64], err_path[64], cmd[1024];
    assert_non_null(mkdtemp(dir));
    snprintf(in_path, sizeof(in_path), "%s/in.txt", dir);
    snprintf(out_path, sizeof(out_path), "%s/out.txt", dir);
    snprintf(err_path, sizeof(err_path), "%s/err.txt", dir);
    Lines in = tricky_inputs();
    FILE *f = fopen(in_path, "wb");
    assert_non_null(f);
    for (long i = 0; i < in.n; i++) {
        fwrite(in.line[i], 1, in.len[i], f);
        fputc('\n', f);
    }
    fclose(f);
    const char *modes[2][2] = {{"16", FIX "tok_tricky_tiny_16.txt"}, {"0", FIX "tok_tricky_tiny_full.txt"}};
    for (int m = 0; m < 2; m++) {
        snprintf(cmd, sizeof(cmd), "'%s' tokenize --vocab " TINY " --max-len %s < %s > %s", bin, modes[m][0], in_path,
                 out_path);
        assert_int_equal(run_status(cmd), 0);
        char *got, *want, e[MIRD_ERRLEN];
        size_t ng, nw;
        assert_int_equal(read_file_all(out_path, &got, &ng, e), 0);
        assert_int_equal(read_file_all(modes[m][1], &want, &nw, e), 0);
        assert_int_equal(ng, nw);
        assert_memory_equal(got, want, nw);
        free(got), free(want);
    }
    // Usage errors exit 2, a bad vocab exits 1, each with a one-line "mird: ..." message.
    const char *bad[3][2] = {{"--vocab " TINY " --max-len 1", "2"},
                             {"--vocab " TINY " --bogus", "2"},
                             {"--vocab tests/fixtures/no_such_vocab.txt", "1"}};
    for (int b = 0; b < 3; b++) {
        snprintf(cmd, sizeof(cmd), "'%s' tokenize %s < /dev/null > %s 2> %s", bin, bad[b][0], out_path, err_path);
        assert_int_equal(run_status(cmd), atoi(bad[b][1]));
        char *msg, e[MIRD_ERRLEN];
        size_t n;
        assert_int_equal(read_file_all(err_path, &msg, &n, e), 0);
        assert_true(n > 6 && !strncmp(msg, "mird: ", 6) && strchr(msg, '\n') == msg + n - 1);
        free(msg);
    }
    free_lines(&in);
    unlink(in_path), unlink(out_path), unlink(err_path);
    rmdir(dir);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vocab_semantics), cmocka_unit_test(test_vocab_errors),
        cmocka_unit_test(test_tricky_tiny_vocab), cmocka_unit_test(test_tricky_bert_vocab),
        cmocka_unit_test(test_mosi_transcripts), cmocka_unit_test(test_encode_api),
        cmocka_unit_test(test_threads),         cmocka_unit_test(test_cli),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
