// vocab.c: vocab.txt loading (Hugging Face load_vocab semantics) and an open-addressing hash map
// from token bytes to id.
#include "text/vocab.h"

#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "core/common.h"

struct Vocab {
    char *data;        // the file, line terminators overwritten by NUL: tokens point into it
    size_t *off, *len; // [n] token start and byte length
    int32_t n;
    int32_t *slots; // [cap] id + 1, 0 = empty
    size_t cap;     // power of two
    size_t max_bytes;
};

static uint64_t hash_bytes(const char *s, size_t len, int cont) {
    uint64_t h = 0xcbf29ce484222325ULL;
    if (cont) {
        h = (h ^ '#') * 0x100000001b3ULL;
        h = (h ^ '#') * 0x100000001b3ULL;
    }
    for (size_t i = 0; i < len; i++) h = (h ^ (uint8_t)s[i]) * 0x100000001b3ULL;
    return h;
}

// Does token id equal ("##" if cont) + s[0..len)?
static int token_eq(const Vocab *v, int32_t id, const char *s, size_t len, int cont) {
    const char *t = v->data + v->off[id];
    size_t tl = v->len[id];
    if (cont) {
        if (tl != len + 2 || t[0] != '#' || t[1] != '#') return 0;
        t += 2;
    } else if (tl != len) {
        return 0;
    }
    return memcmp(t, s, len) == 0;
}

// Slot holding the token, or the empty slot where it would go.
static size_t find_slot(const Vocab *v, const char *s, size_t len, int cont) {
    size_t mask = v->cap - 1, i = (size_t)hash_bytes(s, len, cont) & mask;
    while (v->slots[i] && !token_eq(v, v->slots[i] - 1, s, len, cont)) i = (i + 1) & mask;
    return i;
}

int32_t vocab_find(const Vocab *v, const char *s, size_t len, int cont) {
    size_t i = find_slot(v, s, len, cont);
    return v->slots[i] ? v->slots[i] - 1 : -1;
}

int32_t vocab_size(const Vocab *v) { return v->n; }
size_t vocab_max_token_bytes(const Vocab *v) { return v->max_bytes; }

const char *vocab_token(const Vocab *v, int32_t id, size_t *len) {
    if (id < 0 || id >= v->n) return NULL;
    if (len) *len = v->len[id];
    return v->data + v->off[id];
}

void vocab_free(Vocab *v) {
    if (!v) return;
    free(v->data);
    free(v->off);
    free(v->len);
    free(v->slots);
    free(v);
}

int vocab_load(Vocab **out, const char *path, char *err) {
    *out = NULL;
    char *data;
    size_t size;
    if (read_file_all(path, &data, &size, err)) return -1;
    // Python decodes the whole file strictly before splitting it: any invalid byte is an error.
    size_t line = 1;
    for (size_t p = 0; p < size;) {
        utf8proc_int32_t cp;
        utf8proc_ssize_t k = utf8proc_iterate((const utf8proc_uint8_t *)data + p, (utf8proc_ssize_t)(size - p), &cp);
        if (k < 0) {
            free(data);
            return errf(err, "%s: invalid UTF-8 at byte %zu (line %zu): not a vocab.txt", path, p, line);
        }
        if (cp == '\n' || (cp == '\r' && !(p + 1 < size && data[p + 1] == '\n'))) line++;
        p += (size_t)k;
    }
    // Lines end at "\r\n", "\r" or "\n" (Python's universal newlines); a last line without one counts.
    size_t nlines = 0;
    for (size_t p = 0; p < size; p++)
        if (data[p] == '\n' || (data[p] == '\r' && !(p + 1 < size && data[p + 1] == '\n'))) nlines++;
    if (size && data[size - 1] != '\n' && data[size - 1] != '\r') nlines++;
    if (nlines == 0) {
        free(data);
        return errf(err, "%s: empty vocabulary file", path);
    }
    if (nlines > INT32_MAX / 2) {
        free(data);
        return errf(err, "%s: too many lines for a vocabulary", path);
    }
    Vocab *v = xcalloc(1, sizeof(Vocab));
    v->data = data;
    v->n = (int32_t)nlines;
    v->off = xmalloc(nlines * sizeof(size_t));
    v->len = xmalloc(nlines * sizeof(size_t));
    int32_t id = 0;
    size_t start = 0;
    for (size_t p = 0; p <= size; p++) {
        int end = p == size || data[p] == '\n' || data[p] == '\r';
        if (!end) continue;
        if (p == size && start == size) break; // the file ended with a line terminator
        v->off[id] = start;
        v->len[id] = p - start;
        id++;
        if (p < size && data[p] == '\r' && p + 1 < size && data[p + 1] == '\n') data[p++] = '\0';
        if (p < size) data[p] = '\0';
        start = p + 1;
    }
    v->cap = 16;
    while (v->cap < 2 * (size_t)v->n) v->cap *= 2;
    v->slots = xcalloc(v->cap, sizeof(int32_t));
    for (int32_t i = 0; i < v->n; i++) {
        const char *t = data + v->off[i];
        size_t s = find_slot(v, t, v->len[i], 0);
        v->slots[s] = i + 1; // a duplicate overwrites: the last line's id wins, as in HF
        size_t b = v->len[i] >= 2 && t[0] == '#' && t[1] == '#' ? v->len[i] - 2 : v->len[i];
        if (b > v->max_bytes) v->max_bytes = b;
    }
    *out = v;
    return 0;
}
