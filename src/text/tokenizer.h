// tokenizer.h: Hugging Face's slow BertTokenizer for uncased models (do_lower_case=True,
// tokenize_chinese_chars=True, strip_accents=None), id for id. Golden reference: tools/tokenizer_ref.py.
//
// What one text goes through (tokenizer.c has the details, and why its shortcuts are exact):
//  - bytes are decoded as UTF-8; an invalid byte becomes U+FFFD, as Python's errors='replace' does
//    (the cleaning step then deletes it; it still breaks a literal special token, as in Python);
//  - a special token written exactly ("[CLS]", "[SEP]", "[PAD]", "[UNK]", "[MASK]", case-sensitive)
//    stays whole and becomes its id (HF's added-tokens trie); "[sep]" is ordinary text;
//  - lower-casing is HF's: per character, full mapping (U+0130 -> "i" U+0307), and so never the
//    final sigma (HF lower-cases one character at a time before the BasicTokenizer);
//  - cleaning (drop U+0000, U+FFFD and categories C* except \t \n \r), whitespace (space, \t, \n,
//    \r, Zs, and U+2028/U+2029 which Python's str.split() also splits on), spaces around CJK
//    ideographs, NFD with category Mn removed, punctuation split (ASCII non-alphanumerics and P*),
//    WordPiece (greedy longest match, "##" continuations, words over 100 code points -> [UNK],
//    unmatchable words -> one [UNK]).
// Unicode data comes from utf8proc (Unicode 15.0 in utf8proc 2.8), the version of Python 3.12's
// unicodedata. Against Python 3.11 (Unicode 14.0) the tables differ on exactly the 4,489 characters
// new in 15.0 (category, case, decomposition, combining class agree everywhere else; compare with
// tools/tok_unicode_dump.c + tools/tokenizer_ref.py --unicode-diff): Python 3.11 sees them as
// unassigned and deletes them, here they are letters, marks, symbols... (e.g. the emoji U+1FA75,
// CJK extension H U+31350-U+323AF -> [UNK]; U+2B739 is inside BERT's CJK blocks).
//
// Thread-safe: a Tokenizer is read-only after loading; every call allocates its own scratch
// (one allocation per call, none per character).
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "text/vocab.h"

typedef struct {
    Vocab *vocab;
    int32_t cls_id, sep_id, pad_id, unk_id, mask_id; // mask_id = unk_id when the vocab lacks [MASK]
} Tokenizer;

// Loads the vocab and finds the special tokens ([CLS], [SEP], [PAD], [UNK] must be present).
// Returns 0, or -1 with a one-line message in err[MIRD_ERRLEN].
int tokenizer_load(Tokenizer **out, const char *vocab_path, char *err);
void tokenizer_free(Tokenizer *tok);

// The word-piece ids of text[0..len) without [CLS]/[SEP] (HF: encode(text, add_special_tokens=False)).
// Writes at most cap ids to ids (ids may be NULL when cap is 0) and returns the total count,
// which may exceed cap. Never fails: any byte string is a valid input.
long tokenizer_pieces(const Tokenizer *tok, const char *text, size_t len, int32_t *ids, long cap);

// Fixed-length encoding: [CLS] + the first max_len-2 pieces + [SEP] + [PAD] up to exactly max_len
// ids; mask[i] = 1 for [CLS], pieces and [SEP], 0 for padding (mask may be NULL).
// Returns the number of pieces before truncation (so a return value > max_len-2 means the text was
// truncated), or -1 when max_len < 2. `text` is NUL-terminated; encode_n takes a length (NUL bytes
// inside are then part of the text, and deleted by the cleaning as in HF).
long tokenizer_encode(const Tokenizer *tok, const char *text, int max_len, int32_t *ids, int32_t *mask);
long tokenizer_encode_n(const Tokenizer *tok, const char *text, size_t len, int max_len, int32_t *ids,
                        int32_t *mask);
