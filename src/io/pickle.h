// pickle.h: a Python pickle READER that never executes anything.
//
// Why hand-written: Debian ships no C library that reads pickles safely, and Python's own unpickler
// is unsafe by design (GLOBAL + REDUCE call any importable function: os.system, builtins.eval).
// This reader understands the opcodes that Python 3, numpy and torch.save write with protocols 2 to
// 5 and turns the stream into a tree of objects. Calls (GLOBAL/STACK_GLOBAL, REDUCE, BUILD, NEWOBJ,
// NEWOBJ_EX, BINPERSID) become NODES that describe the call; nothing is ever called or imported.
// Two policies for globals, chosen by the caller:
// - allow-list (PickleOptions.allow; datasets): every global must appear in a list of "module.name"
//   strings; any other global (os.system, builtins.eval, posix.system, subprocess.Popen, ...) stops
//   the parse with a one-line error that names it.
// - inert classes (PickleOptions.callables; torch.save(model) files, whose pickle names the authors'
//   classes): any well-formed global is accepted as a NAME, so NEWOBJ of any class becomes an inert
//   placeholder whose BUILD state is only recorded (as PyTorch's weights_only unpickler treats the
//   allowed classes), but REDUCE, the opcode that CALLS something, may only name a global in the
//   callables list (tensor rebuild functions, collections.OrderedDict, builtins.set, ...). A REDUCE
//   of anything else (os.system, builtins.eval, an unknown function, a computed callee) stops the
//   parse with a one-line error naming it. NEWOBJ's callee must be a global name too.
// Text opcodes of protocols 0/1 (other than PUT/GET), EXT1/2/4, INST, OBJ, PERSID and the
// out-of-band buffer opcodes (NEXT_BUFFER, READONLY_BUFFER) are refused.
//
// Memory: all nodes live in one arena freed by pickle_free(). str and bytes payloads point INTO the
// input (for pickle_load: the memory-mapped file), so a 10 GB pickle of arrays needs 10 GB of address
// space but no second copy. They are NOT NUL-terminated (use len). str payloads are checked to be
// valid UTF-8 (no surrogates). Python 2 str (SHORT_BINSTRING / BINSTRING) are read as bytes.
//
// The tree is a graph: memo GETs share nodes, and a hostile pickle can build cycles (a list that
// contains itself). Code that walks the tree generically must bound its depth AND its total work: memo references can share a node many times, so a depth-bounded walk is still exponential (pk_dump bounds both).
//
// Limits (PickleOptions, 0 = default): memo indices, stack size, MARK nesting depth, object count.
// Every read is bounds-checked; truncated input, a bad opcode or a broken limit gives a one-line error
// "NAME: pickle: ... at byte N" and the partial tree is freed.
#pragma once
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "core/common.h"

typedef enum {
    PK_NONE,
    PK_BOOL,     // i = 0/1
    PK_INT,      // i (ints that do not fit int64 are refused)
    PK_FLOAT,    // f
    PK_STR,      // s.p / s.len: UTF-8, not NUL-terminated
    PK_BYTES,    // s.p / s.len; flags & PK_FLAG_BYTEARRAY for bytearray
    PK_LIST,     // seq.v[0..seq.n)
    PK_TUPLE,    // seq.v[0..seq.n)
    PK_DICT,     // seq.v: key0, value0, key1, value1, ... (seq.n = 2 * entries, insertion order)
    PK_SET,      // seq.v (set and frozenset)
    PK_GLOBAL,   // g.module, g.name (NUL-terminated; Python 2 module names mapped as Python 3 does)
    PK_REDUCE,   // call: callee(*args), then optional BUILD state / SETITEMS / APPENDS
    PK_NEWOBJ,   // call: callee.__new__(callee, *args, **kwargs), same optional parts
    PK_PERSID,   // pid: the persistent id object (torch: ('storage', cls, key, location, numel))
} PkKind;

enum { PK_FLAG_BYTEARRAY = 1, PK_FLAG_BINSTRING = 2 };

typedef struct PkObj PkObj;
struct PkObj {
    uint8_t kind;  // PkKind
    uint8_t flags; // PK_FLAG_*
    union {
        int64_t i;
        double f;
        struct {
            const uint8_t *p;
            size_t len;
        } s;
        struct {
            PkObj **v;
            size_t n, cap;
        } seq;
        struct {
            const char *module, *name;
        } g;
        struct {
            PkObj *callee, *args, *kwargs; // kwargs only for NEWOBJ_EX (else NULL)
            PkObj *state;                  // BUILD argument or NULL
            PkObj *dictitems;              // PK_DICT of SETITEM(S) applied to the result, or NULL
            PkObj *listitems;              // PK_LIST of APPEND(S) applied to the result, or NULL
        } call;
        PkObj *pid;
    };
};

typedef struct {
    const char *const *allow; // NULL-terminated list of allowed "module.name" globals (NULL = none)
    // Non-NULL: the inert-classes policy (above); `allow` is then not consulted. NULL-terminated
    // list of the "module.name" callables REDUCE may name.
    const char *const *callables;
    size_t max_memo;          // largest memo index + 1 (default 1 << 24)
    size_t max_stack;         // stack entries (default 1 << 24)
    size_t max_depth;         // MARK nesting (default 4096)
    size_t max_objects;       // nodes created (default 1 << 25)
} PickleOptions;

typedef struct Pickle Pickle;

// Parse n bytes at data (which must outlive the Pickle). `name` names the input in error messages.
int pickle_parse(Pickle **out, const uint8_t *data, size_t n, const PickleOptions *opt, const char *name,
                 char *err);
// Map the file read-only and parse it; the map lives until pickle_free().
int pickle_load(Pickle **out, const char *path, const PickleOptions *opt, char *err);
void pickle_free(Pickle *pk);
PkObj *pickle_root(const Pickle *pk);
const char *pickle_name(const Pickle *pk);
// Input bytes the tree points into (for range checks and madvise by readers of big payloads).
const uint8_t *pickle_data(const Pickle *pk, size_t *n);
// Hint that bytes [p, p + n) of a file-mapped input will not be read again soon: the whole pages
// inside are dropped from this process's memory (MADV_DONTNEED; they are re-read from the file if
// touched again). A no-op for pickle_parse input or ranges outside the input. Readers that convert
// a big payload into their own buffer call it behind them, so peak memory stays near one copy.
void pickle_release(const Pickle *pk, const void *p, size_t n);
// Arena allocation that lives as long as the Pickle (used by readers that must decode a payload).
void *pickle_alloc(Pickle *pk, size_t n);

// ---- helpers for readers of the tree (all NULL-safe)
const char *pk_kind_name(int kind);
int pk_is_str(const PkObj *o, const char *s);                   // a str equal to s
const PkObj *pk_dict_get(const PkObj *d, const char *key);      // str key lookup (last wins), or NULL
int pk_is_global(const PkObj *o, const char *module_dot_name);  // a PK_GLOBAL "module.name"
int pk_is_call_of(const PkObj *o, const char *module_dot_name); // REDUCE/NEWOBJ whose callee is that
int pk_is_seq(const PkObj *o);                                  // list or tuple
// Strict UTF-8 (no overlong forms, no surrogates, nothing above U+10FFFF): 1 if p[0..n) is valid.
int pk_utf8_ok(const uint8_t *p, size_t n);
// Copy a str/bytes payload into a NUL-terminated heap string (caller frees); NULL if not str/bytes.
char *pk_strdup(const PkObj *o);
// A one-line-per-node dump down to max_depth (debugging and tests).
void pk_dump(FILE *f, const PkObj *o, int max_depth);
