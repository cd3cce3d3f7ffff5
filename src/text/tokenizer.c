// tokenizer.c: Hugging Face's slow BertTokenizer (uncased) in one pass over the code points.
//
// HF's order of operations, and how this file gets the same result in a single pass:
//  1. PreTrainedTokenizer.tokenize lower-cases the text one character at a time (keeping the exact
//     special tokens), then splits it at the special tokens; each piece goes through BasicTokenizer.
//  2. BasicTokenizer: clean -> spaces around CJK -> NFC -> str.split() -> per word lower(), NFD,
//     drop Mn -> punctuation split -> WordPiece.
// Here: special tokens are found on the decoded text (lower-casing can neither create nor destroy
// one: it maps no character to an upper-case letter or to '[' ']'). Every character is classified
// (deleted / whitespace / CJK / word character) on its original code point: lower-casing keeps each
// character in its class (no letter lower-cases into categories C*, Z* or P*, into Python
// whitespace or into a CJK ideograph: `tools/tokenizer_ref.py --check-shortcuts` checks every code
// point), so classifying before or after lower-casing is the same. A word
// character is lower-cased (per character, full mapping: only U+0130 maps to two characters) and
// decomposed (NFD) straight into the current word. The second lower() of a word is a no-op (lower
// is idempotent, and no capital sigma survives step 1, so the final-sigma rule never applies).
// U+0130's two-character lower case is kept for fidelity, though the U+0307 it adds is Mn and
// removed again. The NFC step is skipped: for every code point c, NFD(lower(c)) == NFD(lower(NFD(c))) and
// lower() keeps canonical combining classes, hence NFD(lower(NFC(t))) == NFD(lower(t)) for every
// text t; and NFC maps no character into or out of Python whitespace once the text is cleaned.
#include "text/tokenizer.h"

#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "core/common.h"

#define MAX_WORD_CHARS 100 // HF WordpieceTokenizer.max_input_chars_per_word
#define MAX_EXPANSION 4    // longest NFD(lower(c)) over all code points (Unicode 14 and 15)

int tokenizer_load(Tokenizer **out, const char *vocab_path, char *err) {
    *out = NULL;
    Vocab *v;
    if (vocab_load(&v, vocab_path, err)) return -1;
    Tokenizer *t = xcalloc(1, sizeof(Tokenizer));
    t->vocab = v;
    const char *names[4] = {"[CLS]", "[SEP]", "[PAD]", "[UNK]"};
    int32_t *slots[4] = {&t->cls_id, &t->sep_id, &t->pad_id, &t->unk_id};
    for (int i = 0; i < 4; i++) {
        *slots[i] = vocab_find(v, names[i], 5, 0);
        if (*slots[i] < 0) {
            tokenizer_free(t);
            return errf(err, "%s: the vocabulary has no %s token", vocab_path, names[i]);
        }
    }
    t->mask_id = vocab_find(v, "[MASK]", 6, 0);
    if (t->mask_id < 0) t->mask_id = t->unk_id; // HF converts an unknown token to [UNK]
    *out = t;
    return 0;
}

void tokenizer_free(Tokenizer *tok) {
    if (!tok) return;
    vocab_free(tok->vocab);
    free(tok);
}

// ---- character classes (HF tokenization_utils: _is_control, _is_whitespace, _is_punctuation)

static int is_deleted(int32_t cp) { // _clean_text drops these
    if (cp == 0 || cp == 0xFFFD) return 1;
    if (cp == '\t' || cp == '\n' || cp == '\r') return 0;
    switch (utf8proc_category(cp)) {
    case UTF8PROC_CATEGORY_CC:
    case UTF8PROC_CATEGORY_CF:
    case UTF8PROC_CATEGORY_CS:
    case UTF8PROC_CATEGORY_CO:
    case UTF8PROC_CATEGORY_CN: return 1;
    default: return 0;
    }
}

// _is_whitespace, plus U+2028 / U+2029: category Zl / Zp, so _clean_text keeps them, but Python's
// str.split() (whitespace_tokenize) splits words on them.
static int is_space(int32_t cp) {
    if (cp == ' ' || cp == '\t' || cp == '\n' || cp == '\r' || cp == 0x2028 || cp == 0x2029) return 1;
    return cp > 127 && utf8proc_category(cp) == UTF8PROC_CATEGORY_ZS;
}

static int is_cjk(int32_t cp) { // BasicTokenizer._is_chinese_char: these exact blocks
    return (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0x3400 && cp <= 0x4DBF) || (cp >= 0x20000 && cp <= 0x2A6DF) ||
           (cp >= 0x2A700 && cp <= 0x2B73F) || (cp >= 0x2B740 && cp <= 0x2B81F) ||
           (cp >= 0x2B820 && cp <= 0x2CEAF) || (cp >= 0xF900 && cp <= 0xFAFF) || (cp >= 0x2F800 && cp <= 0x2FA1F);
}

static int is_punct(int32_t cp) {
    if ((cp >= 33 && cp <= 47) || (cp >= 58 && cp <= 64) || (cp >= 91 && cp <= 96) || (cp >= 123 && cp <= 126))
        return 1;
    if (cp < 128) return 0;
    utf8proc_category_t c = utf8proc_category(cp);
    return c >= UTF8PROC_CATEGORY_PC && c <= UTF8PROC_CATEGORY_PO;
}

// ---- the per-call state

typedef struct {
    const Tokenizer *tok;
    int32_t *ids; // output, cap entries
    long cap, n;  // n = pieces produced so far (may exceed cap)
    int32_t *word; // current word: lower-cased, NFD code points
    long wn;
} Run;

static void emit(Run *r, int32_t id) {
    if (r->n < r->cap) r->ids[r->n] = id;
    r->n++;
}

// WordPiece on one punctuation-free run of code points (HF WordpieceTokenizer.tokenize).
static void wordpiece(Run *r, const int32_t *cps, long m) {
    const Vocab *v = r->tok->vocab;
    if (m > MAX_WORD_CHARS) {
        emit(r, r->tok->unk_id);
        return;
    }
    uint8_t bytes[MAX_WORD_CHARS * 4];
    long off[MAX_WORD_CHARS + 1];
    off[0] = 0;
    for (long i = 0; i < m; i++) off[i + 1] = off[i] + utf8proc_encode_char(cps[i], bytes + off[i]);
    size_t maxb = vocab_max_token_bytes(v);
    long n0 = r->n;
    for (long start = 0; start < m;) {
        long end = m;
        while (end > start && (size_t)(off[end] - off[start]) > maxb) end--; // no longer token exists
        int32_t id = -1;
        for (; end > start; end--) {
            id = vocab_find(v, (const char *)bytes + off[start], (size_t)(off[end] - off[start]), start > 0);
            if (id >= 0) break;
        }
        if (id < 0) { // unmatchable: the whole word becomes one [UNK]
            r->n = n0;
            emit(r, r->tok->unk_id);
            return;
        }
        emit(r, id);
        start = end;
    }
}

// End of a whitespace-delimited word: canonical ordering (completing NFD), drop Mn, split on
// punctuation, WordPiece each part.
static void flush_word(Run *r) {
    int32_t *w = r->word;
    long n = r->wn;
    r->wn = 0;
    if (n == 0) return;
    // Canonical ordering: stable sort by combining class inside each run of non-starters.
    for (long i = 1; i < n; i++) {
        int32_t c = w[i];
        int cc = utf8proc_get_property(c)->combining_class;
        if (cc == 0) continue;
        long j = i;
        while (j > 0) {
            int pc = utf8proc_get_property(w[j - 1])->combining_class;
            if (pc <= cc) break; // also stops at a starter (class 0)
            w[j] = w[j - 1];
            j--;
        }
        w[j] = c;
    }
    long k = 0;
    for (long i = 0; i < n; i++)
        if (w[i] < 128 || utf8proc_category(w[i]) != UTF8PROC_CATEGORY_MN) w[k++] = w[i];
    long start = 0;
    for (long i = 0; i < k; i++) {
        if (!is_punct(w[i])) continue;
        if (i > start) wordpiece(r, w + start, i - start);
        wordpiece(r, w + i, 1);
        start = i + 1;
    }
    if (k > start) wordpiece(r, w + start, k - start);
}

// Appends lower(cp), decomposed, to the current word.
static void add_char(Run *r, int32_t cp) {
    if (cp < 128) {
        r->word[r->wn++] = cp >= 'A' && cp <= 'Z' ? cp + 32 : cp;
        return;
    }
    int32_t low[2];
    int nl = 1;
    if (cp == 0x130) { // Python's full lower-case mapping (SpecialCasing); the only 1->2 mapping
        low[0] = 'i';
        low[1] = 0x307;
        nl = 2;
    } else {
        low[0] = utf8proc_tolower(cp);
    }
    for (int i = 0; i < nl; i++) {
        int32_t buf[16];
        utf8proc_ssize_t k = utf8proc_decompose_char(low[i], buf, 16, UTF8PROC_DECOMPOSE, NULL);
        if (k < 0 || k > MAX_EXPANSION) { // cannot happen with Unicode 15 data; keep the character
            buf[0] = low[i];
            k = 1;
        }
        for (utf8proc_ssize_t j = 0; j < k; j++) r->word[r->wn++] = buf[j];
    }
}

static const char *const SPECIALS[5] = {"[CLS]", "[SEP]", "[PAD]", "[UNK]", "[MASK]"};

// Length of the special token starting at cps[i] (0 if none) and its id.
static int special_at(const Tokenizer *t, const int32_t *cps, long i, long n, int32_t *id) {
    if (cps[i] != '[') return 0;
    const int32_t ids[5] = {t->cls_id, t->sep_id, t->pad_id, t->unk_id, t->mask_id};
    for (int s = 0; s < 5; s++) {
        long L = (long)strlen(SPECIALS[s]);
        if (i + L > n) continue;
        long j = 0;
        while (j < L && cps[i + j] == (unsigned char)SPECIALS[s][j]) j++;
        if (j == L) {
            *id = ids[s];
            return (int)L;
        }
    }
    return 0;
}

long tokenizer_pieces(const Tokenizer *tok, const char *text, size_t len, int32_t *ids, long cap) {
    if (len == 0) return 0;
    // Scratch: decoded code points [len], then the current word [MAX_EXPANSION * len].
    int32_t *cps = xmalloc(sizeof(int32_t) * (len + (size_t)MAX_EXPANSION * len));
    long n = 0;
    const utf8proc_uint8_t *s = (const utf8proc_uint8_t *)text;
    for (size_t p = 0; p < len;) {
        if (s[p] < 128) {
            cps[n++] = s[p++];
            continue;
        }
        utf8proc_int32_t cp;
        utf8proc_ssize_t k = utf8proc_iterate(s + p, (utf8proc_ssize_t)(len - p), &cp);
        if (k < 0) { // invalid byte: U+FFFD like errors='replace' (then deleted by the cleaning)
            cps[n++] = 0xFFFD;
            p++;
        } else {
            cps[n++] = cp;
            p += (size_t)k;
        }
    }
    Run r = {.tok = tok, .ids = ids, .cap = ids ? cap : 0, .n = 0, .word = cps + len, .wn = 0};
    for (long i = 0; i < n;) {
        int32_t cp = cps[i], sid;
        int sl = special_at(tok, cps, i, n, &sid);
        if (sl) {
            flush_word(&r);
            emit(&r, sid);
            i += sl;
            continue;
        }
        i++;
        if (is_deleted(cp)) continue; // deleted characters join their neighbours, as in HF
        if (is_space(cp)) {
            flush_word(&r);
        } else if (is_cjk(cp)) {
            flush_word(&r);
            add_char(&r, cp);
            flush_word(&r);
        } else {
            add_char(&r, cp);
        }
    }
    flush_word(&r);
    free(cps);
    return r.n;
}

long tokenizer_encode_n(const Tokenizer *tok, const char *text, size_t len, int max_len, int32_t *ids,
                        int32_t *mask) {
    if (max_len < 2) return -1;
    long total = tokenizer_pieces(tok, text, len, ids + 1, max_len - 2);
    long k = total < max_len - 2 ? total : max_len - 2;
    ids[0] = tok->cls_id;
    ids[k + 1] = tok->sep_id;
    for (long i = k + 2; i < max_len; i++) ids[i] = tok->pad_id;
    if (mask)
        for (long i = 0; i < max_len; i++) mask[i] = i < k + 2;
    return total;
}

long tokenizer_encode(const Tokenizer *tok, const char *text, int max_len, int32_t *ids, int32_t *mask) {
    return tokenizer_encode_n(tok, text, strlen(text), max_len, ids, mask);
}
