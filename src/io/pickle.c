// pickle.c: the non-executing pickle reader (see pickle.h for what it accepts and why it is
// hand-written). One pass over the opcodes with an explicit stack, a MARK stack and a memo; every
// length is checked against the bytes left before anything is read.
#include "io/pickle.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

// ---- arena: bump allocation in blocks, freed at once
typedef struct Block {
    struct Block *next;
    size_t used, cap;
    _Alignas(16) unsigned char mem[];
} Block;

struct Pickle {
    Block *blocks;
    PkObj *root;
    MappedFile mf;
    int mapped;
    const uint8_t *data;
    size_t n;
    char name[1024];
};

void *pickle_alloc(Pickle *pk, size_t n) {
    n = (n + 15) & ~(size_t)15;
    Block *b = pk->blocks;
    if (!b || b->cap - b->used < n) {
        size_t cap = n > (1u << 20) ? n : (1u << 20);
        b = xmalloc(sizeof(Block) + cap);
        b->cap = cap;
        b->used = 0;
        b->next = pk->blocks;
        pk->blocks = b;
    }
    void *p = b->mem + b->used;
    b->used += n;
    return p;
}

void pickle_free(Pickle *pk) {
    if (!pk) return;
    for (Block *b = pk->blocks, *nx; b; b = nx) {
        nx = b->next;
        free(b);
    }
    if (pk->mapped) unmap_file(&pk->mf);
    free(pk);
}

PkObj *pickle_root(const Pickle *pk) { return pk ? pk->root : NULL; }
const char *pickle_name(const Pickle *pk) { return pk ? pk->name : ""; }
const uint8_t *pickle_data(const Pickle *pk, size_t *n) {
    if (n) *n = pk->n;
    return pk->data;
}

void pickle_release(const Pickle *pk, const void *p, size_t n) {
    if (!pk || !pk->mapped || !pk->mf.base_) return;
    uintptr_t lo = (uintptr_t)pk->mf.base_, hi = lo + pk->mf.map_size_, a = (uintptr_t)p, b = a + n;
    if (a < lo || b > hi || b < a) return;
    uintptr_t pg = (uintptr_t)sysconf(_SC_PAGESIZE);
    a = (a + pg - 1) / pg * pg;
    b = b / pg * pg;
    if (b > a) madvise((void *)a, b - a, MADV_DONTNEED);
}

// ---- parser state
typedef struct {
    Pickle *pk;
    const uint8_t *p;
    size_t n, pos, op_pos;
    PickleOptions o;
    int proto;
    PkObj **stack;
    size_t sn, scap;
    size_t *marks;
    size_t mn, mcap;
    PkObj **memo;
    size_t memo_cap, memo_count;
    size_t nobj;
    PkObj *none, *t, *f; // shared singletons (immutable, so sharing is safe)
    char *err;
} P;

static int fail(P *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(P *s, const char *fmt, ...) {
    char msg[384];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    return errf(s->err, "%s: pickle: %s at byte %zu", s->pk->name, msg, s->op_pos);
}

static PkObj *new_obj(P *s, int kind) {
    if (s->nobj >= s->o.max_objects) return NULL;
    s->nobj++;
    PkObj *o = pickle_alloc(s->pk, sizeof(PkObj));
    memset(o, 0, sizeof(*o));
    o->kind = (uint8_t)kind;
    return o;
}
#define NEW(var, kind)                                                                         \
    PkObj *var = new_obj(s, kind);                                                             \
    if (!var) return fail(s, "more than %zu objects (limit)", s->o.max_objects)

static int need(P *s, size_t k) {
    if (s->n - s->pos < k) return fail(s, "truncated input (need %zu more bytes, %zu left)", k, s->n - s->pos);
    return 0;
}
static uint64_t rd_le(const uint8_t *p, int k) {
    uint64_t v = 0;
    for (int i = k - 1; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}

static int push(P *s, PkObj *o) {
    if (s->sn >= s->o.max_stack) return fail(s, "stack deeper than %zu entries (limit)", s->o.max_stack);
    if (s->sn == s->scap) {
        s->scap = s->scap ? 2 * s->scap : 64;
        s->stack = xrealloc(s->stack, s->scap * sizeof(PkObj *));
    }
    s->stack[s->sn++] = o;
    return 0;
}
static size_t fence(const P *s) { return s->mn ? s->marks[s->mn - 1] : 0; }
static int pop(P *s, PkObj **o) {
    if (s->sn <= fence(s)) return fail(s, "stack underflow");
    *o = s->stack[--s->sn];
    return 0;
}
static int top(P *s, PkObj **o) {
    if (s->sn <= fence(s)) return fail(s, "stack underflow");
    *o = s->stack[s->sn - 1];
    return 0;
}
// Items above the top mark: stack[*start .. sn); pops the mark (items stay until the caller drops them).
static int pop_mark(P *s, size_t *start) {
    if (!s->mn) return fail(s, "no MARK on the stack");
    *start = s->marks[--s->mn];
    return 0;
}

static int seq_push(P *s, PkObj *seq, PkObj *item) {
    if (seq->seq.n == seq->seq.cap) {
        size_t cap = seq->seq.cap ? 2 * seq->seq.cap : 4;
        PkObj **v = pickle_alloc(s->pk, cap * sizeof(PkObj *));
        if (seq->seq.n) memcpy(v, seq->seq.v, seq->seq.n * sizeof(PkObj *));
        seq->seq.v = v;
        seq->seq.cap = cap;
    }
    seq->seq.v[seq->seq.n++] = item;
    return 0;
}
static int make_seq(P *s, int kind, size_t start, PkObj **out) {
    NEW(o, kind);
    size_t k = s->sn - start;
    if (k) {
        o->seq.v = pickle_alloc(s->pk, k * sizeof(PkObj *));
        memcpy(o->seq.v, s->stack + start, k * sizeof(PkObj *));
    }
    o->seq.n = o->seq.cap = k;
    s->sn = start;
    *out = o;
    return 0;
}

int pk_utf8_ok(const uint8_t *p, size_t n) {
    size_t i = 0;
    while (i < n) {
        uint8_t c = p[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        int k;
        uint32_t cp;
        if (c >= 0xC2 && c <= 0xDF) k = 1, cp = c & 0x1F;
        else if (c >= 0xE0 && c <= 0xEF) k = 2, cp = c & 0x0F;
        else if (c >= 0xF0 && c <= 0xF4) k = 3, cp = c & 0x07;
        else return 0;
        if (n - i <= (size_t)k) return 0;
        for (int j = 1; j <= k; j++) {
            if ((p[i + j] & 0xC0) != 0x80) return 0;
            cp = (cp << 6) | (p[i + j] & 0x3F);
        }
        if ((k == 2 && cp < 0x800) || (k == 3 && (cp < 0x10000 || cp > 0x10FFFF))) return 0;
        if (cp >= 0xD800 && cp <= 0xDFFF) return 0;
        i += (size_t)k + 1;
    }
    return 1;
}

static int push_payload(P *s, int kind, uint64_t len, int flags) {
    if (len > s->n - s->pos)
        return fail(s, "truncated input (%s of %llu bytes, %zu left)", kind == PK_STR ? "str" : "bytes",
                    (unsigned long long)len, s->n - s->pos);
    const uint8_t *p = s->p + s->pos;
    if (kind == PK_STR && !pk_utf8_ok(p, (size_t)len)) return fail(s, "str is not valid UTF-8");
    NEW(o, kind);
    o->flags = (uint8_t)flags;
    o->s.p = p;
    o->s.len = (size_t)len;
    s->pos += (size_t)len;
    return push(s, o);
}

static int push_int(P *s, int64_t v) {
    NEW(o, PK_INT);
    o->i = v;
    return push(s, o);
}

// A module or attribute name: printable ASCII without spaces, 1..255 bytes.
static int name_ok(const uint8_t *p, size_t n) {
    if (n == 0 || n > 255) return 0;
    for (size_t i = 0; i < n; i++)
        if (p[i] <= 0x20 || p[i] >= 0x7F) return 0;
    return 1;
}

static int make_global(P *s, const uint8_t *mod, size_t mn, const uint8_t *name, size_t nn) {
    if (!name_ok(mod, mn) || !name_ok(name, nn)) return fail(s, "bad global name (not printable ASCII)");
    char m[256], nm[256], full[520];
    memcpy(m, mod, mn), m[mn] = 0;
    memcpy(nm, name, nn), nm[nn] = 0;
    if (s->proto < 3) { // what Python 3's unpickler does for Python 2 module names (fix_imports)
        if (!strcmp(m, "__builtin__")) strcpy(m, "builtins");
        else if (!strcmp(m, "copy_reg")) strcpy(m, "copyreg");
    }
    snprintf(full, sizeof(full), "%s.%s", m, nm);
    int ok = s->o.callables != NULL; // inert-classes policy: any name; REDUCE checks what it calls
    for (const char *const *a = s->o.allow; a && *a && !ok; a++) ok = !strcmp(*a, full);
    if (!ok) return fail(s, "refused global '%s' (not in the allow-list; nothing is executed)", full);
    NEW(o, PK_GLOBAL);
    size_t lm = strlen(m) + 1, ln = strlen(nm) + 1;
    char *pm = pickle_alloc(s->pk, lm), *pn = pickle_alloc(s->pk, ln);
    memcpy(pm, m, lm), memcpy(pn, nm, ln);
    o->g.module = pm;
    o->g.name = pn;
    return push(s, o);
}

// One text line (GLOBAL, PUT, GET): returns its start and length without the '\n'.
static int read_line(P *s, const uint8_t **line, size_t *len) {
    size_t max = s->n - s->pos;
    if (max > 1024) max = 1024;
    const uint8_t *nl = memchr(s->p + s->pos, '\n', max);
    if (!nl) return fail(s, max == 1024 ? "text line longer than 1024 bytes" : "truncated input (no end of line)");
    *line = s->p + s->pos;
    *len = (size_t)(nl - *line);
    s->pos += *len + 1;
    return 0;
}
static int parse_decimal(P *s, const uint8_t *p, size_t n, uint64_t *v) {
    if (n == 0 || n > 18) return fail(s, "bad decimal memo index");
    *v = 0;
    for (size_t i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9') return fail(s, "bad decimal memo index");
        *v = *v * 10 + (uint64_t)(p[i] - '0');
    }
    return 0;
}

static int memo_put(P *s, uint64_t idx) {
    PkObj *o;
    if (top(s, &o)) return -1;
    if (idx >= s->o.max_memo) return fail(s, "memo index %llu over the limit %zu", (unsigned long long)idx, s->o.max_memo);
    // Picklers number memo entries 0, 1, 2, ...: an index far beyond the objects made so far would
    // only inflate the (dense) memo table, so it is refused; the table stays proportional to the input.
    if (idx > 2 * (uint64_t)s->nobj + 1024)
        return fail(s, "memo index %llu with only %zu objects made", (unsigned long long)idx, s->nobj);
    if (idx >= s->memo_cap) {
        size_t cap = s->memo_cap ? s->memo_cap : 64;
        while (cap <= idx) cap *= 2;
        if (cap > s->o.max_memo) cap = s->o.max_memo;
        s->memo = xrealloc(s->memo, cap * sizeof(PkObj *));
        memset(s->memo + s->memo_cap, 0, (cap - s->memo_cap) * sizeof(PkObj *));
        s->memo_cap = cap;
    }
    if (!s->memo[idx]) s->memo_count++;
    s->memo[idx] = o;
    return 0;
}
static int memo_get(P *s, uint64_t idx) {
    if (idx >= s->memo_cap || !s->memo[idx]) return fail(s, "memo index %llu was never stored", (unsigned long long)idx);
    return push(s, s->memo[idx]);
}

static int is_call(const PkObj *o) { return o->kind == PK_REDUCE || o->kind == PK_NEWOBJ; }

// SETITEM(S) target: a dict, or a call result (recorded as its dictitems).
static int setitem(P *s, PkObj *target, PkObj *k, PkObj *v) {
    if (target->kind == PK_DICT) return seq_push(s, target, k) || seq_push(s, target, v);
    if (is_call(target)) {
        if (!target->call.dictitems) {
            NEW(d, PK_DICT);
            target->call.dictitems = d;
        }
        return seq_push(s, target->call.dictitems, k) || seq_push(s, target->call.dictitems, v);
    }
    return fail(s, "SETITEM on a %s", pk_kind_name(target->kind));
}
static int append(P *s, PkObj *target, PkObj *v) {
    if (target->kind == PK_LIST) return seq_push(s, target, v);
    if (is_call(target)) {
        if (!target->call.listitems) {
            NEW(l, PK_LIST);
            target->call.listitems = l;
        }
        return seq_push(s, target->call.listitems, v);
    }
    return fail(s, "APPEND on a %s", pk_kind_name(target->kind));
}

// Inert-classes policy: REDUCE may only call a named global of the callables list.
static int reduce_refused(P *s, const PkObj *callee) {
    if (callee->kind != PK_GLOBAL)
        return fail(s, "refused REDUCE of a computed %s (only named, allow-listed callables; nothing is executed)",
                    pk_kind_name(callee->kind));
    for (const char *const *c = s->o.callables; *c; c++)
        if (pk_is_global(callee, *c)) return 0;
    return fail(s, "refused call of '%s.%s' (not an allow-listed callable; nothing is executed)", callee->g.module,
                callee->g.name);
}

static int step(P *s, int *done) {
    s->op_pos = s->pos;
    if (need(s, 1)) return -1;
    uint8_t op = s->p[s->pos++];
    PkObj *a, *b, *c, *o;
    size_t start = 0;
    uint64_t u;
    switch (op) {
    case 0x80: // PROTO
        if (need(s, 1)) return -1;
        s->proto = s->p[s->pos++];
        if (s->proto > 5) return fail(s, "unsupported protocol %d", s->proto);
        return 0;
    case 0x95: // FRAME: a length hint; the frame must fit in the input
        if (need(s, 8)) return -1;
        u = rd_le(s->p + s->pos, 8);
        s->pos += 8;
        if (u > s->n - s->pos) return fail(s, "truncated input (frame of %llu bytes)", (unsigned long long)u);
        return 0;
    case '.': // STOP
        if (pop(s, &s->pk->root)) return -1;
        *done = 1;
        return 0;
    case '(': // MARK
        if (s->mn >= s->o.max_depth) return fail(s, "MARK nesting deeper than %zu (limit)", s->o.max_depth);
        if (s->mn == s->mcap) {
            s->mcap = s->mcap ? 2 * s->mcap : 16;
            s->marks = xrealloc(s->marks, s->mcap * sizeof(size_t));
        }
        s->marks[s->mn++] = s->sn;
        return 0;
    case '0': // POP (as Python: with nothing above the mark, it drops the mark)
        if (s->sn > fence(s)) {
            s->sn--;
            return 0;
        }
        return pop_mark(s, &start);
    case '1': // POP_MARK
        if (pop_mark(s, &start)) return -1;
        s->sn = start;
        return 0;
    case '2': // DUP
        return top(s, &a) || push(s, a);
    case 'N':
        return push(s, s->none);
    case 0x88:
        return push(s, s->t);
    case 0x89:
        return push(s, s->f);
    case 'J': // BININT
        if (need(s, 4)) return -1;
        u = rd_le(s->p + s->pos, 4);
        s->pos += 4;
        return push_int(s, (int32_t)(uint32_t)u);
    case 'K': // BININT1
        if (need(s, 1)) return -1;
        return push_int(s, s->p[s->pos++]);
    case 'M': // BININT2
        if (need(s, 2)) return -1;
        u = rd_le(s->p + s->pos, 2);
        s->pos += 2;
        return push_int(s, (int64_t)u);
    case 0x8a:   // LONG1
    case 0x8b: { // LONG4
        int w = op == 0x8a ? 1 : 4;
        if (need(s, (size_t)w)) return -1;
        u = rd_le(s->p + s->pos, w);
        s->pos += (size_t)w;
        if (w == 4 && (int32_t)(uint32_t)u < 0) return fail(s, "negative LONG4 length");
        if (u > 8) return fail(s, "integer of %llu bytes does not fit 64 bits", (unsigned long long)u);
        if (need(s, (size_t)u)) return -1;
        int64_t v = 0;
        if (u) {
            uint64_t x = rd_le(s->p + s->pos, (int)u);
            if (u < 8 && (x >> (8 * u - 1)) & 1) x |= ~(uint64_t)0 << (8 * u); // sign-extend
            memcpy(&v, &x, 8);
        }
        s->pos += (size_t)u;
        return push_int(s, v);
    }
    case 'G': { // BINFLOAT, big-endian IEEE double
        if (need(s, 8)) return -1;
        uint64_t x = 0;
        for (int i = 0; i < 8; i++) x = (x << 8) | s->p[s->pos + (size_t)i];
        s->pos += 8;
        NEW(f, PK_FLOAT);
        memcpy(&f->f, &x, 8);
        return push(s, f);
    }
    case 0x8c: // SHORT_BINUNICODE
        if (need(s, 1)) return -1;
        return push_payload(s, PK_STR, s->p[s->pos++], 0);
    case 'X': // BINUNICODE
        if (need(s, 4)) return -1;
        u = rd_le(s->p + s->pos, 4);
        s->pos += 4;
        return push_payload(s, PK_STR, u, 0);
    case 0x8d: // BINUNICODE8
        if (need(s, 8)) return -1;
        u = rd_le(s->p + s->pos, 8);
        s->pos += 8;
        return push_payload(s, PK_STR, u, 0);
    case 'C': // SHORT_BINBYTES
        if (need(s, 1)) return -1;
        return push_payload(s, PK_BYTES, s->p[s->pos++], 0);
    case 'B': // BINBYTES
        if (need(s, 4)) return -1;
        u = rd_le(s->p + s->pos, 4);
        s->pos += 4;
        return push_payload(s, PK_BYTES, u, 0);
    case 0x8e: // BINBYTES8
    case 0x96: // BYTEARRAY8
        if (need(s, 8)) return -1;
        u = rd_le(s->p + s->pos, 8);
        s->pos += 8;
        return push_payload(s, PK_BYTES, u, op == 0x96 ? PK_FLAG_BYTEARRAY : 0);
    case 'U': // SHORT_BINSTRING (Python 2 str): read as bytes
        if (need(s, 1)) return -1;
        return push_payload(s, PK_BYTES, s->p[s->pos++], PK_FLAG_BINSTRING);
    case 'T': // BINSTRING
        if (need(s, 4)) return -1;
        u = rd_le(s->p + s->pos, 4);
        s->pos += 4;
        if ((int32_t)(uint32_t)u < 0) return fail(s, "negative BINSTRING length");
        return push_payload(s, PK_BYTES, u, PK_FLAG_BINSTRING);
    case ']': {
        NEW(l, PK_LIST);
        return push(s, l);
    }
    case ')': {
        NEW(t, PK_TUPLE);
        return push(s, t);
    }
    case '}': {
        NEW(d, PK_DICT);
        return push(s, d);
    }
    case 0x8f: {
        NEW(st, PK_SET);
        return push(s, st);
    }
    case 0x85: // TUPLE1..3
    case 0x86:
    case 0x87: {
        size_t k = (size_t)(op - 0x84);
        if (s->sn < fence(s) + k) return fail(s, "stack underflow");
        return make_seq(s, PK_TUPLE, s->sn - k, &o) || push(s, o);
    }
    case 't': // TUPLE
        return pop_mark(s, &start) || make_seq(s, PK_TUPLE, start, &o) || push(s, o);
    case 'l': // LIST
        return pop_mark(s, &start) || make_seq(s, PK_LIST, start, &o) || push(s, o);
    case 0x91: // FROZENSET
        return pop_mark(s, &start) || make_seq(s, PK_SET, start, &o) || push(s, o);
    case 'd': // DICT
        if (pop_mark(s, &start)) return -1;
        if ((s->sn - start) % 2) return fail(s, "DICT with an odd number of items");
        return make_seq(s, PK_DICT, start, &o) || push(s, o);
    case 'a': // APPEND
        return pop(s, &b) || top(s, &a) || append(s, a, b);
    case 'e': // APPENDS
        if (pop_mark(s, &start)) return -1;
        if (start <= fence(s)) return fail(s, "APPENDS without a target");
        a = s->stack[start - 1];
        for (size_t i = start; i < s->sn; i++)
            if (append(s, a, s->stack[i])) return -1;
        s->sn = start;
        return 0;
    case 's': // SETITEM
        return pop(s, &c) || pop(s, &b) || top(s, &a) || setitem(s, a, b, c);
    case 'u': // SETITEMS
        if (pop_mark(s, &start)) return -1;
        if (start <= fence(s)) return fail(s, "SETITEMS without a target");
        if ((s->sn - start) % 2) return fail(s, "SETITEMS with an odd number of items");
        a = s->stack[start - 1];
        for (size_t i = start; i < s->sn; i += 2)
            if (setitem(s, a, s->stack[i], s->stack[i + 1])) return -1;
        s->sn = start;
        return 0;
    case 0x90: // ADDITEMS
        if (pop_mark(s, &start)) return -1;
        if (start <= fence(s)) return fail(s, "ADDITEMS without a target");
        a = s->stack[start - 1];
        if (a->kind != PK_SET) return fail(s, "ADDITEMS on a %s", pk_kind_name(a->kind));
        for (size_t i = start; i < s->sn; i++) seq_push(s, a, s->stack[i]);
        s->sn = start;
        return 0;
    case 'p': { // PUT (text)
        const uint8_t *line;
        size_t len;
        return read_line(s, &line, &len) || parse_decimal(s, line, len, &u) || memo_put(s, u);
    }
    case 'q': // BINPUT
        if (need(s, 1)) return -1;
        return memo_put(s, s->p[s->pos++]);
    case 'r': // LONG_BINPUT
        if (need(s, 4)) return -1;
        u = rd_le(s->p + s->pos, 4);
        s->pos += 4;
        return memo_put(s, u);
    case 0x94: // MEMOIZE: the next index is the number of entries stored so far (len(memo))
        return memo_put(s, s->memo_count);
    case 'g': { // GET (text)
        const uint8_t *line;
        size_t len;
        return read_line(s, &line, &len) || parse_decimal(s, line, len, &u) || memo_get(s, u);
    }
    case 'h': // BINGET
        if (need(s, 1)) return -1;
        return memo_get(s, s->p[s->pos++]);
    case 'j': // LONG_BINGET
        if (need(s, 4)) return -1;
        u = rd_le(s->p + s->pos, 4);
        s->pos += 4;
        return memo_get(s, u);
    case 'c': { // GLOBAL "module\nname\n"
        const uint8_t *m, *nm;
        size_t ml, nl;
        return read_line(s, &m, &ml) || read_line(s, &nm, &nl) || make_global(s, m, ml, nm, nl);
    }
    case 0x93: // STACK_GLOBAL
        if (pop(s, &b) || pop(s, &a)) return -1;
        if (a->kind != PK_STR || b->kind != PK_STR) return fail(s, "STACK_GLOBAL of non-str");
        return make_global(s, a->s.p, a->s.len, b->s.p, b->s.len);
    case 'R': { // REDUCE
        if (pop(s, &b) || pop(s, &a)) return -1;
        if (b->kind != PK_TUPLE) return fail(s, "REDUCE arguments are a %s, not a tuple", pk_kind_name(b->kind));
        if (s->o.callables && reduce_refused(s, a)) return -1;
        NEW(r, PK_REDUCE);
        r->call.callee = a;
        r->call.args = b;
        return push(s, r);
    }
    case 0x81:   // NEWOBJ
    case 0x92: { // NEWOBJ_EX
        c = NULL;
        if (op == 0x92 && pop(s, &c)) return -1;
        if (pop(s, &b) || pop(s, &a)) return -1;
        if (b->kind != PK_TUPLE) return fail(s, "NEWOBJ arguments are a %s, not a tuple", pk_kind_name(b->kind));
        if (c && c->kind != PK_DICT) return fail(s, "NEWOBJ_EX keywords are a %s, not a dict", pk_kind_name(c->kind));
        if (s->o.callables && a->kind != PK_GLOBAL) return fail(s, "NEWOBJ of a %s, not a class name", pk_kind_name(a->kind));
        NEW(r, PK_NEWOBJ);
        r->call.callee = a;
        r->call.args = b;
        r->call.kwargs = c;
        return push(s, r);
    }
    case 'b': // BUILD
        if (pop(s, &b) || top(s, &a)) return -1;
        if (!is_call(a)) return fail(s, "BUILD on a %s", pk_kind_name(a->kind));
        if (a->call.state) return fail(s, "second BUILD on one object");
        a->call.state = b;
        return 0;
    case 'Q': { // BINPERSID
        if (pop(s, &a)) return -1;
        NEW(r, PK_PERSID);
        r->pid = a;
        return push(s, r);
    }
    case 0x97:
    case 0x98:
        return fail(s, "out-of-band buffers (NEXT_BUFFER/READONLY_BUFFER) are not supported");
    case 0x82:
    case 0x83:
    case 0x84:
        return fail(s, "extension-registry opcodes (EXT1/2/4) are refused");
    case 'i':
    case 'o':
        return fail(s, "INST/OBJ opcodes are refused");
    case 'I':
    case 'L':
    case 'F':
    case 'S':
    case 'V':
    case 'P':
        return fail(s, "protocol 0/1 text opcode '%c' is not supported (write with protocol 2 or later)", op);
    default:
        if (op >= 0x20 && op < 0x7F) return fail(s, "unknown opcode 0x%02x ('%c')", op, op);
        return fail(s, "unknown opcode 0x%02x", op);
    }
}

int pickle_parse(Pickle **out, const uint8_t *data, size_t n, const PickleOptions *opt, const char *name,
                 char *err) {
    *out = NULL;
    Pickle *pk = xcalloc(1, sizeof(Pickle));
    snprintf(pk->name, sizeof(pk->name), "%s", name ? name : "pickle");
    pk->data = data;
    pk->n = n;
    P s = {0};
    s.pk = pk;
    s.p = data;
    s.n = n;
    s.err = err;
    if (opt) s.o = *opt;
    if (!s.o.max_memo) s.o.max_memo = 1u << 24;
    if (!s.o.max_stack) s.o.max_stack = 1u << 24;
    if (!s.o.max_depth) s.o.max_depth = 4096;
    if (!s.o.max_objects) s.o.max_objects = 1u << 25;
    s.none = pickle_alloc(pk, sizeof(PkObj));
    s.t = pickle_alloc(pk, sizeof(PkObj));
    s.f = pickle_alloc(pk, sizeof(PkObj));
    memset(s.none, 0, sizeof(PkObj));
    memset(s.t, 0, sizeof(PkObj));
    memset(s.f, 0, sizeof(PkObj));
    s.none->kind = PK_NONE;
    s.t->kind = s.f->kind = PK_BOOL;
    s.t->i = 1;
    int done = 0, rc = 0;
    if (n == 0) rc = errf(err, "%s: pickle: empty input", pk->name);
    while (!rc && !done) rc = step(&s, &done);
    free(s.stack);
    free(s.marks);
    free(s.memo);
    if (rc) {
        pickle_free(pk);
        return -1;
    }
    *out = pk;
    return 0;
}

int pickle_load(Pickle **out, const char *path, const PickleOptions *opt, char *err) {
    *out = NULL;
    MappedFile mf;
    if (map_file(&mf, path, err)) return -1;
    if (pickle_parse(out, mf.data, mf.size, opt, path, err)) {
        unmap_file(&mf);
        return -1;
    }
    (*out)->mf = mf;
    (*out)->mapped = 1;
    return 0;
}

// ---- helpers
const char *pk_kind_name(int kind) {
    static const char *names[] = {"None", "bool",   "int",    "float",  "str",    "bytes",  "list",
                                  "tuple", "dict", "set", "global", "reduce", "newobj", "persid"};
    return kind >= 0 && kind < (int)(sizeof(names) / sizeof(names[0])) ? names[kind] : "?";
}

int pk_is_str(const PkObj *o, const char *str) {
    size_t n = strlen(str);
    return o && o->kind == PK_STR && o->s.len == n && !memcmp(o->s.p, str, n);
}

const PkObj *pk_dict_get(const PkObj *d, const char *key) {
    if (!d || d->kind != PK_DICT) return NULL;
    for (size_t i = d->seq.n; i >= 2; i -= 2)
        if (pk_is_str(d->seq.v[i - 2], key)) return d->seq.v[i - 1];
    return NULL;
}

int pk_is_global(const PkObj *o, const char *full) {
    if (!o || o->kind != PK_GLOBAL) return 0;
    size_t ml = strlen(o->g.module);
    return !strncmp(full, o->g.module, ml) && full[ml] == '.' && !strcmp(full + ml + 1, o->g.name);
}

int pk_is_call_of(const PkObj *o, const char *full) {
    return o && (o->kind == PK_REDUCE || o->kind == PK_NEWOBJ) && pk_is_global(o->call.callee, full);
}

int pk_is_seq(const PkObj *o) { return o && (o->kind == PK_LIST || o->kind == PK_TUPLE); }

char *pk_strdup(const PkObj *o) {
    if (!o || (o->kind != PK_STR && o->kind != PK_BYTES)) return NULL;
    char *r = xmalloc(o->s.len + 1);
    if (o->s.len) memcpy(r, o->s.p, o->s.len);
    r[o->s.len] = 0;
    return r;
}

static void dump_rec(FILE *f, const PkObj *o, int depth, int max_depth, const char *label, long *left) {
    fprintf(f, "%*s%s", 2 * depth, "", label);
    if (--*left < 0) { // memo references make the tree a DAG: bound the total work, not only the depth
        if (*left == -1) fprintf(f, "... (output limit reached)\n");
        else fputc('\n', f);
        return;
    }
    if (!o) {
        fprintf(f, "(null)\n");
        return;
    }
    switch (o->kind) {
    case PK_NONE: fprintf(f, "None\n"); return;
    case PK_BOOL: fprintf(f, "%s\n", o->i ? "True" : "False"); return;
    case PK_INT: fprintf(f, "int %lld\n", (long long)o->i); return;
    case PK_FLOAT: fprintf(f, "float %.17g\n", o->f); return;
    case PK_STR:
    case PK_BYTES: {
        size_t k = o->s.len < 40 ? o->s.len : 40;
        fprintf(f, "%s[%zu] \"", pk_kind_name(o->kind), o->s.len);
        for (size_t i = 0; i < k; i++) {
            unsigned char c = o->s.p[i];
            if (c >= 0x20 && c < 0x7F && c != '"' && c != '\\') fputc(c, f);
            else fprintf(f, "\\x%02x", c);
        }
        fprintf(f, "%s\"\n", k < o->s.len ? "..." : "");
        return;
    }
    case PK_GLOBAL: fprintf(f, "global %s.%s\n", o->g.module, o->g.name); return;
    default: break;
    }
    if (depth >= max_depth) {
        fprintf(f, "%s ...\n", pk_kind_name(o->kind));
        return;
    }
    if (o->kind == PK_PERSID) {
        fprintf(f, "persid\n");
        dump_rec(f, o->pid, depth + 1, max_depth, "", left);
        return;
    }
    if (o->kind == PK_REDUCE || o->kind == PK_NEWOBJ) {
        fprintf(f, "%s\n", pk_kind_name(o->kind));
        dump_rec(f, o->call.callee, depth + 1, max_depth, "callee: ", left);
        dump_rec(f, o->call.args, depth + 1, max_depth, "args: ", left);
        if (o->call.kwargs) dump_rec(f, o->call.kwargs, depth + 1, max_depth, "kwargs: ", left);
        if (o->call.state) dump_rec(f, o->call.state, depth + 1, max_depth, "state: ", left);
        if (o->call.dictitems) dump_rec(f, o->call.dictitems, depth + 1, max_depth, "setitems: ", left);
        if (o->call.listitems) dump_rec(f, o->call.listitems, depth + 1, max_depth, "appends: ", left);
        return;
    }
    fprintf(f, "%s[%zu]\n", pk_kind_name(o->kind), o->kind == PK_DICT ? o->seq.n / 2 : o->seq.n);
    for (size_t i = 0; i < o->seq.n; i++)
        dump_rec(f, o->seq.v[i], depth + 1, max_depth, o->kind == PK_DICT ? (i % 2 ? "value: " : "key: ") : "", left);
}

void pk_dump(FILE *f, const PkObj *o, int max_depth) {
    long left = 100000; // lines at most
    dump_rec(f, o, 0, max_depth, "", &left);
}
