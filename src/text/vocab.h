// vocab.h: a WordPiece vocabulary (BERT's vocab.txt): one token per line, id = line index.
// Loading follows Hugging Face's load_vocab exactly: the file is UTF-8 read in Python's text mode,
// so "\r\n", "\r" and "\n" all end a line; a missing final newline is fine; every line is a token,
// empty lines and trailing spaces included; when a token appears twice, looking it up gives the
// LAST line's id (both lines keep their ids, so vocab_size() is the number of lines).
// A file that is not valid UTF-8 (HF would raise UnicodeDecodeError) or holds no line is refused.
// Read-only after loading: safe to share between threads.
#pragma once
#include <stddef.h>
#include <stdint.h>

typedef struct Vocab Vocab;

// Returns 0 and *out, or -1 with a one-line message naming the file in err[MIRD_ERRLEN].
int vocab_load(Vocab **out, const char *path, char *err);
void vocab_free(Vocab *v);

// Number of ids (lines of the file).
int32_t vocab_size(const Vocab *v);
// The id of the token given as bytes (s, len) (not NUL-terminated), or -1 when absent.
// With cont != 0 the token looked up is "##" followed by s (a WordPiece continuation), without
// building that string.
int32_t vocab_find(const Vocab *v, const char *s, size_t len, int cont);
// The token of an id (NUL-terminated; *len gets its byte length when len is not NULL), or NULL.
const char *vocab_token(const Vocab *v, int32_t id, size_t *len);
// Length in bytes of the longest token (continuations counted without their "##").
size_t vocab_max_token_bytes(const Vocab *v);
