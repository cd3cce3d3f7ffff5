// test_pickle.c: the non-executing pickle reader: every supported opcode (Python-written fixtures
// for protocols 2, 4, 5 and hand-assembled streams for the rest), refusal of dangerous globals,
// the inert-classes policy of torch.save files (classes as placeholders, REDUCE only of listed
// callables), truncation at every byte offset, random garbage and mutations, and the limits.
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/common.h"
#include "core/rng.h"
#include "io/pickle.h"
#include "testutil.h"

#define FIX "tests/fixtures/pickle/"

static const char *const ALLOW[] = {"_codecs.encode", "builtins.set", "builtins.bytearray", "mod.Cls",
                                    "mod.fn", NULL};

// Parse a byte string from an exact-size heap copy (so the sanitizer sees any overread). The tree
// points into the copy, which stays alive until the next call (tests free each tree before that).
static uint8_t *last_buf;
static int parse_bytes(Pickle **pk, const void *data, size_t n, const PickleOptions *o, char *err) {
    free(last_buf);
    last_buf = malloc(n ? n : 1);
    memcpy(last_buf, data, n);
    PickleOptions def = {.allow = ALLOW};
    return pickle_parse(pk, last_buf, n, o ? o : &def, "test", err);
}

static void assert_one_line(const char *err) {
    assert_true(err[0] != 0);
    assert_null(strchr(err, '\n'));
    assert_true(strlen(err) < MIRD_ERRLEN);
}

static int64_t geti(const PkObj *o) {
    assert_non_null(o);
    assert_int_equal(o->kind, PK_INT);
    return o->i;
}

static void check_types(const char *file, int proto) {
    char err[MIRD_ERRLEN] = "";
    Pickle *pk;
    PickleOptions o = {.allow = ALLOW};
    if (pickle_load(&pk, file, &o, err)) fail_msg("%s", err);
    const PkObj *r = pickle_root(pk);
    assert_int_equal(r->kind, PK_DICT);
    const PkObj *ints = pk_dict_get(r, "ints");
    assert_int_equal(ints->kind, PK_LIST);
    int64_t want[] = {0, 1, 255, 256, 65535, 65536, -1, -129, 2147483647LL, -2147483648LL, 2147483648LL,
                      4611686018427387904LL, INT64_MIN, INT64_MAX};
    assert_int_equal(ints->seq.n, sizeof(want) / sizeof(want[0]));
    for (size_t i = 0; i < ints->seq.n; i++) assert_true(geti(ints->seq.v[i]) == want[i]);
    const PkObj *fl = pk_dict_get(r, "floats");
    assert_int_equal(fl->seq.n, 3);
    assert_true(fl->seq.v[0]->f == 0.5 && fl->seq.v[1]->f == -2.25 && fl->seq.v[2]->f == 1e300);
    assert_true(pk_is_str(pk_dict_get(r, "s"), "h\xc3\xa9llo \xe2\x9c\x93"));
    const PkObj *ls = pk_dict_get(r, "long_s");
    assert_int_equal(ls->kind, PK_STR);
    assert_int_equal(ls->s.len, 300);
    const PkObj *b = pk_dict_get(r, "b"), *lb = pk_dict_get(r, "long_b");
    if (proto >= 3) {
        assert_int_equal(b->kind, PK_BYTES);
        assert_int_equal(b->s.len, 3);
        assert_memory_equal(b->s.p, "\x00\x01\xff", 3);
        assert_int_equal(lb->kind, PK_BYTES);
        assert_int_equal(lb->s.len, 512);
        for (int i = 0; i < 512; i++) assert_int_equal(lb->s.p[i], i % 256);
    } else { // protocol 2: _codecs.encode(str, 'latin1'), never called
        assert_true(pk_is_call_of(b, "_codecs.encode"));
        assert_int_equal(b->call.args->seq.n, 2);
        assert_true(pk_is_str(b->call.args->seq.v[1], "latin1"));
        assert_true(pk_is_str(b->call.args->seq.v[0], "\x01\xc3\xbf") == 0); // starts with NUL
        assert_int_equal(b->call.args->seq.v[0]->s.len, 1 + 1 + 2);
    }
    for (int k = 0; k <= 4; k++) {
        char key[4] = {'t', (char)('0' + k), 0};
        const PkObj *t = pk_dict_get(r, key);
        assert_int_equal(t->kind, PK_TUPLE);
        assert_int_equal(t->seq.n, k);
        for (int j = 0; j < k; j++) assert_int_equal(geti(t->seq.v[j]), j + 1);
    }
    assert_int_equal(pk_dict_get(r, "none")->kind, PK_NONE);
    assert_int_equal(pk_dict_get(r, "true")->kind, PK_BOOL);
    assert_int_equal(pk_dict_get(r, "true")->i, 1);
    assert_int_equal(pk_dict_get(r, "false")->i, 0);
    const PkObj *sh = pk_dict_get(r, "shared");
    assert_int_equal(sh->seq.n, 2);
    assert_ptr_equal(sh->seq.v[0], sh->seq.v[1]); // memo: one node, shared
    assert_int_equal(geti(sh->seq.v[0]->seq.v[0]), 7);
    const PkObj *ne = pk_dict_get(pk_dict_get(r, "nested"), "a");
    const PkObj *t = pk_dict_get(ne->seq.v[0], "b");
    assert_int_equal(geti(t->seq.v[1]->seq.v[0]), 2);
    const PkObj *set = pk_dict_get(r, "set");
    if (proto >= 4) {
        assert_int_equal(set->kind, PK_SET);
        assert_int_equal(geti(set->seq.v[0]), 5);
    } else {
        assert_true(pk_is_call_of(set, "builtins.set")); // "__builtin__ set" mapped as Python 3 does
    }
    assert_null(pk_dict_get(r, "missing"));
    pickle_free(pk);
}

static void test_types_p2(void **st) { (void)st, check_types(FIX "types_p2.pkl", 2); }
static void test_types_p4(void **st) { (void)st, check_types(FIX "types_p4.pkl", 4); }
static void test_types_p5(void **st) { (void)st, check_types(FIX "types_p5.pkl", 5); }

static void test_bytearray_p5(void **st) {
    (void)st;
    char err[MIRD_ERRLEN];
    Pickle *pk;
    if (pickle_load(&pk, FIX "bytearray_p5.pkl", NULL, err)) fail_msg("%s", err);
    const PkObj *r = pickle_root(pk);
    assert_int_equal(r->kind, PK_BYTES);
    assert_true(r->flags & PK_FLAG_BYTEARRAY);
    assert_memory_equal(r->s.p, "abc", 3);
    pickle_free(pk);
}

// The data.pkl of a torch.save() zip: an OrderedDict REDUCE filled by SETITEMS, tensors as
// _rebuild_tensor_v2 calls on persistent ids ('storage', torch.FloatStorage, key, location, numel).
static void test_torch_state_dict(void **st) {
    (void)st;
    static const char *const allow[] = {"collections.OrderedDict", "torch._utils._rebuild_tensor_v2",
                                        "torch.FloatStorage", NULL};
    PickleOptions o = {.allow = allow};
    char err[MIRD_ERRLEN];
    Pickle *pk;
    if (pickle_load(&pk, FIX "torch_state_dict_data.pkl", &o, err)) fail_msg("%s", err);
    const PkObj *r = pickle_root(pk);
    assert_true(pk_is_call_of(r, "collections.OrderedDict"));
    assert_non_null(r->call.state); // BUILD with {'_metadata': ...}
    const PkObj *w = pk_dict_get(r->call.dictitems, "weight");
    assert_true(pk_is_call_of(w, "torch._utils._rebuild_tensor_v2"));
    const PkObj *args = w->call.args;
    assert_int_equal(args->seq.n, 6);
    const PkObj *pid = args->seq.v[0];
    assert_int_equal(pid->kind, PK_PERSID);
    assert_true(pk_is_str(pid->pid->seq.v[0], "storage"));
    assert_true(pk_is_global(pid->pid->seq.v[1], "torch.FloatStorage"));
    assert_true(pk_is_str(pid->pid->seq.v[2], "0"));
    assert_int_equal(geti(pid->pid->seq.v[4]), 6);
    assert_int_equal(geti(args->seq.v[2]->seq.v[0]), 2); // size (2, 3)
    assert_int_equal(geti(args->seq.v[3]->seq.v[0]), 3); // stride (3, 1)
    const PkObj *b = pk_dict_get(r->call.dictitems, "bias");
    assert_ptr_equal(b->call.args->seq.v[0]->pid->seq.v[1], pid->pid->seq.v[1]); // memo-shared class
    pickle_free(pk);
    // without the allow-list entries the same file is refused, naming the first global
    if (pickle_load(&pk, FIX "torch_state_dict_data.pkl", NULL, err) == 0) fail_msg("accepted without allow-list");
    assert_non_null(strstr(err, "collections.OrderedDict"));
}

// Hand-assembled streams for opcodes Python 3 rarely writes.
static void test_rare_opcodes(void **st) {
    (void)st;
    char err[MIRD_ERRLEN];
    Pickle *pk;
    // (  U"ab"  T"xyz"  \x8d"q"(8-byte len)  \x8e"zz"(8-byte len)  J-5  \x8a\x02\x00\x80 (LONG1 -32768)
    //   \x8b\x01\x00\x00\x00\xff (LONG4 -1) \x8a\x00 (LONG1 0)  t  p0\n  0  g0\n .
    static const uint8_t a[] = {0x80, 2, '(', 'U', 2, 'a', 'b', 'T', 3, 0, 0, 0, 'x', 'y', 'z', 0x8d, 1, 0, 0, 0,
                                0, 0, 0, 0, 'q', 0x8e, 2, 0, 0, 0, 0, 0, 0, 0, 'z', 'z', 'J', 0xfb, 0xff, 0xff, 0xff,
                                0x8a, 2, 0x00, 0x80, 0x8b, 1, 0, 0, 0, 0xff, 0x8a, 0, 't', 'p', '0', '\n', '0', 'g',
                                '0', '\n', '.'};
    if (parse_bytes(&pk, a, sizeof(a), NULL, err)) fail_msg("%s", err);
    const PkObj *t = pickle_root(pk);
    assert_int_equal(t->kind, PK_TUPLE);
    assert_int_equal(t->seq.n, 8);
    assert_int_equal(t->seq.v[0]->kind, PK_BYTES);
    assert_true(t->seq.v[0]->flags & PK_FLAG_BINSTRING);
    assert_int_equal(t->seq.v[1]->s.len, 3);
    assert_true(pk_is_str(t->seq.v[2], "q"));
    assert_int_equal(t->seq.v[3]->kind, PK_BYTES);
    assert_int_equal(geti(t->seq.v[4]), -5);
    assert_int_equal(geti(t->seq.v[5]), -32768);
    assert_int_equal(geti(t->seq.v[6]), -1);
    assert_int_equal(geti(t->seq.v[7]), 0);
    pickle_free(pk);

    // LONG_BINPUT / LONG_BINGET
    static const uint8_t lp[] = {0x80, 4, 'K', 9, 'r', 5, 0, 0, 0, '0', 'j', 5, 0, 0, 0, '.'};
    if (parse_bytes(&pk, lp, sizeof(lp), NULL, err)) fail_msg("%s", err);
    assert_int_equal(geti(pickle_root(pk)), 9);
    pickle_free(pk);

    // ( N ( K1 1(POP_MARK) ( K2 2(DUP) l(LIST) ( K3 K4 d(DICT) \x8f(EMPTY_SET) ( K5 \x90(ADDITEMS)
    //   ( K6 \x91(FROZENSET) ( 0(POP drops the empty mark) t .
    static const uint8_t b[] = {0x80, 4, '(', 'N', '(', 'K', 1, '1', '(', 'K', 2, '2', 'l', '(', 'K', 3, 'K', 4, 'd',
                                0x8f, '(', 'K', 5, 0x90, '(', 'K', 6, 0x91, '(', '0', 't', '.'};
    if (parse_bytes(&pk, b, sizeof(b), NULL, err)) fail_msg("%s", err);
    t = pickle_root(pk);
    assert_int_equal(t->seq.n, 5);
    assert_int_equal(t->seq.v[0]->kind, PK_NONE);
    // after POP_MARK the stack above the first mark holds: None, then LIST of (K2, K2)
    assert_int_equal(t->seq.v[1]->kind, PK_LIST);
    assert_int_equal(t->seq.v[1]->seq.n, 2);
    assert_ptr_equal(t->seq.v[1]->seq.v[0], t->seq.v[1]->seq.v[1]);
    assert_int_equal(t->seq.v[2]->kind, PK_DICT);
    assert_int_equal(geti(t->seq.v[2]->seq.v[1]), 4);
    assert_int_equal(t->seq.v[3]->kind, PK_SET);
    assert_int_equal(geti(t->seq.v[3]->seq.v[0]), 5);
    assert_int_equal(t->seq.v[4]->kind, PK_SET);
    pickle_free(pk);

    // Calls: c mod\nCls\n ) \x81(NEWOBJ) } b(BUILD) ( K1 K2 u(SETITEMS) ( K7 e(APPENDS)
    //        then c mod\nfn\n ) } \x92(NEWOBJ_EX), ( X"pid" \x85 Q(BINPERSID) \x86(TUPLE2)... as a tuple3.
    static const uint8_t c[] = {0x80, 4, 'c', 'm', 'o', 'd', '\n', 'C', 'l', 's', '\n', ')', 0x81, '}', 'b', '(',
                                'K', 1, 'K', 2, 'u', '(', 'K', 7, 'e', 'c', 'm', 'o', 'd', '\n', 'f', 'n', '\n',
                                ')', '}', 0x92, 'X', 3, 0, 0, 0, 'p', 'i', 'd', 0x85, 'Q', 0x87, '.'};
    if (parse_bytes(&pk, c, sizeof(c), NULL, err)) fail_msg("%s", err);
    t = pickle_root(pk);
    assert_int_equal(t->seq.n, 3);
    const PkObj *n = t->seq.v[0];
    assert_true(pk_is_call_of(n, "mod.Cls"));
    assert_int_equal(n->kind, PK_NEWOBJ);
    assert_int_equal(n->call.state->kind, PK_DICT);
    assert_int_equal(geti(n->call.dictitems->seq.v[1]), 2);
    assert_int_equal(geti(n->call.listitems->seq.v[0]), 7);
    assert_true(pk_is_call_of(t->seq.v[1], "mod.fn"));
    assert_non_null(t->seq.v[1]->call.kwargs);
    assert_int_equal(t->seq.v[2]->kind, PK_PERSID);
    assert_true(pk_is_str(t->seq.v[2]->pid->seq.v[0], "pid"));
    {
        FILE *f = fopen("/dev/null", "w");
        pk_dump(f, pickle_root(pk), 8);
        fclose(f);
    }
    pickle_free(pk);
}

// A list that contains itself parses; a bounded dump terminates.
static void test_cycle(void **st) {
    (void)st;
    char err[MIRD_ERRLEN];
    Pickle *pk;
    static const uint8_t a[] = {0x80, 4, ']', 0x94, 'h', 0, 'a', '.'};
    if (parse_bytes(&pk, a, sizeof(a), NULL, err)) fail_msg("%s", err);
    const PkObj *r = pickle_root(pk);
    assert_ptr_equal(r->seq.v[0], r);
    FILE *f = fopen("/dev/null", "w");
    pk_dump(f, r, 50);
    fclose(f);
    pickle_free(pk);
}

#define PWNED "/tmp/mird_test_pickle_pwned"

static void expect_refused(const void *data, size_t n, const char *global) {
    char err[MIRD_ERRLEN] = "";
    Pickle *pk = NULL;
    int rc = parse_bytes(&pk, data, n, NULL, err);
    if (rc == 0) fail_msg("malicious pickle accepted (expected refusal of %s)", global);
    assert_one_line(err);
    if (!strstr(err, global)) fail_msg("error does not name %s: %s", global, err);
    assert_int_equal(access(PWNED, F_OK), -1);
}

static void test_malicious(void **st) {
    (void)st;
    unlink(PWNED);
    const char p0[] = "cos\nsystem\n(S'touch " PWNED "'\ntR.";
    expect_refused(p0, sizeof(p0) - 1, "os.system");
    const char p1[] = "cposix\nsystem\n(S'touch " PWNED "'\ntR.";
    expect_refused(p1, sizeof(p1) - 1, "posix.system");
    // STACK_GLOBAL builtins.eval("open('...','w')")
    static const uint8_t p2[] = {0x80, 4, 0x8c, 8, 'b', 'u', 'i', 'l', 't', 'i', 'n', 's', 0x8c, 4, 'e', 'v', 'a',
                                 'l', 0x93, 0x8c, 2, '1', '+', 0x85, 'R', '.'};
    expect_refused(p2, sizeof(p2), "builtins.eval");
    // protocol 2 with the Python 2 spelling: mapped, then refused under its Python 3 name
    const char p3[] = "\x80\x02" "c__builtin__\neval\nq\x00" "X\x02\x00\x00\x00" "1+\x85R.";
    expect_refused(p3, sizeof(p3) - 1, "builtins.eval");
    // nested deep inside a dict of lists, via NEWOBJ
    const char p4[] = "\x80\x04}(X\x01\x00\x00\x00" "a](K\x01" "csubprocess\nPopen\n)\x81" "eu.";
    expect_refused(p4, sizeof(p4) - 1, "subprocess.Popen");
    // an allowed module name with a refused attribute
    const char p5[] = "\x80\x02" "c_codecs\ndecode\n.";
    expect_refused(p5, sizeof(p5) - 1, "_codecs.decode");
    // names with control bytes are refused before any lookup
    const char p6[] = "\x80\x02" "cmod\x01\nfn\n.";
    expect_refused(p6, sizeof(p6) - 1, "bad global name");
    // INST / OBJ / EXT opcodes never get through
    const char p7[] = "(ios\nsystem\nS'x'\n.";
    expect_refused(p7, sizeof(p7) - 1, "INST/OBJ");
    assert_int_equal(access(PWNED, F_OK), -1);
}

// The inert-classes policy (torch.save(model) files): any class name is accepted and NEWOBJ of it
// only builds a placeholder whose BUILD state is recorded; REDUCE may only name a listed callable.
static void test_inert_classes(void **st) {
    (void)st;
    static const char *const CALLS[] = {"collections.OrderedDict", NULL};
    PickleOptions o = {.callables = CALLS};
    char err[MIRD_ERRLEN] = "";
    Pickle *pk = NULL;
    // models.Net.__new__(models.Net) + BUILD {"_modules": OrderedDict()}, and os.system as a mere value
    const char ok[] = "\x80\x02" "cmodels\nNet\n)\x81}(X\x08\x00\x00\x00_modules"
                      "ccollections\nOrderedDict\n)R" "X\x01\x00\x00\x00" "f" "cos\nsystem\n" "ub.";
    if (parse_bytes(&pk, ok, sizeof(ok) - 1, &o, err)) fail_msg("%s", err);
    const PkObj *r = pickle_root(pk);
    assert_int_equal(r->kind, PK_NEWOBJ);
    assert_true(pk_is_global(r->call.callee, "models.Net"));
    assert_true(pk_is_call_of(pk_dict_get(r->call.state, "_modules"), "collections.OrderedDict"));
    assert_true(pk_is_global(pk_dict_get(r->call.state, "f"), "os.system")); // named, never called
    pickle_free(pk);
    // the same names under the allow-list policy: refused at the GLOBAL
    assert_int_equal(parse_bytes(&pk, ok, sizeof(ok) - 1, NULL, err), -1);
    assert_non_null(strstr(err, "models.Net"));
    // REDUCE of anything but a listed callable: refused, named
#define BYTES(lit) lit, sizeof(lit) - 1
    static const struct {
        const char *p;
        size_t n;
        const char *says;
    } bad[] = {
        {BYTES("\x80\x02" "cposix\nsystem\nX\x05\x00\x00\x00" "touch\x85R."), "posix.system"},
        {BYTES("\x80\x02" "cbuiltins\neval\nX\x02\x00\x00\x00" "1+\x85R."), "builtins.eval"},
        {BYTES("\x80\x02" "cmodels\nNet\n)R."), "models.Net"},             // a class called, not NEWOBJ'd
        {BYTES("\x80\x02" "ccollections\nOrderedDict\n)R)R."), "computed"}, // a call result called
        {BYTES("\x80\x02" "K\x01)\x81."), "not a class name"},               // NEWOBJ of an int
    };
#undef BYTES
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = 0;
        assert_int_equal(parse_bytes(&pk, bad[i].p, bad[i].n, &o, err), -1);
        assert_one_line(err);
        if (!strstr(err, bad[i].says)) fail_msg("'%s' does not say '%s'", err, bad[i].says);
    }
    assert_int_equal(access(PWNED, F_OK), -1);
}

static void test_truncated_everywhere(void **st) {
    (void)st;
    const char *files[] = {FIX "types_p2.pkl", FIX "types_p4.pkl", FIX "types_p5.pkl"};
    for (int fi = 0; fi < 3; fi++) {
        char *data;
        size_t n;
        char err[MIRD_ERRLEN];
        if (read_file_all(files[fi], &data, &n, err)) fail_msg("%s", err);
        for (size_t k = 0; k < n; k++) {
            Pickle *pk = NULL;
            err[0] = 0;
            if (parse_bytes(&pk, data, k, NULL, err) == 0) fail_msg("%s: prefix of %zu bytes accepted", files[fi], k);
            assert_one_line(err);
        }
        free(data);
    }
}

static void test_garbage_and_mutations(void **st) {
    (void)st;
    Rng r;
    rng_seed(&r, 7, RNG_STREAM_DATA);
    char err[MIRD_ERRLEN];
    uint8_t buf[256];
    for (int it = 0; it < 3000; it++) {
        size_t n = 1 + rng_below(&r, 200);
        for (size_t i = 0; i < n; i++) buf[i] = (uint8_t)rng_u64(&r);
        if (it % 2) buf[0] = 0x80, buf[1] = 4; // half of them look like a real header
        Pickle *pk = NULL;
        err[0] = 0;
        if (parse_bytes(&pk, buf, n, NULL, err)) assert_one_line(err);
        else pickle_free(pk);
    }
    char *data;
    size_t n;
    if (read_file_all(FIX "types_p4.pkl", &data, &n, err)) fail_msg("%s", err);
    for (int it = 0; it < 2000; it++) {
        uint8_t *m = malloc(n);
        memcpy(m, data, n);
        int flips = 1 + (int)rng_below(&r, 4);
        for (int k = 0; k < flips; k++) m[rng_below(&r, (uint32_t)n)] = (uint8_t)rng_u64(&r);
        Pickle *pk = NULL;
        err[0] = 0;
        if (parse_bytes(&pk, m, n, NULL, err)) assert_one_line(err);
        else {
            FILE *f = fopen("/dev/null", "w");
            pk_dump(f, pickle_root(pk), 20);
            fclose(f);
            pickle_free(pk);
        }
        free(m);
    }
    free(data);
}

static void expect_error(const void *data, size_t n, const PickleOptions *o, const char *needle) {
    char err[MIRD_ERRLEN] = "";
    Pickle *pk = NULL;
    if (parse_bytes(&pk, data, n, o, err) == 0) fail_msg("accepted; expected error with '%s'", needle);
    assert_one_line(err);
    if (!strstr(err, needle)) fail_msg("expected '%s' in: %s", needle, err);
}

static void test_limits_and_errors(void **st) {
    (void)st;
    uint8_t *deep = malloc(6000);
    deep[0] = 0x80, deep[1] = 4;
    memset(deep + 2, '(', 5000);
    deep[5002] = '.';
    expect_error(deep, 5003, NULL, "MARK nesting");
    free(deep);
    static const uint8_t bigput[] = {0x80, 4, 'N', 'r', 0xf0, 0xff, 0xff, 0xff, '.'};
    expect_error(bigput, sizeof(bigput), NULL, "memo index");
    static const uint8_t sparse[] = {0x80, 4, 'N', 'r', 0x00, 0x00, 0x10, 0x00, '.'};
    expect_error(sparse, sizeof(sparse), NULL, "objects made");
    static const uint8_t noget[] = {0x80, 4, 'h', 3, '.'};
    expect_error(noget, sizeof(noget), NULL, "never stored");
    static const uint8_t many[] = {0x80, 4, ']', ']', ']', ']', ']', '.'};
    PickleOptions o = {.allow = ALLOW, .max_objects = 3};
    expect_error(many, sizeof(many), &o, "objects");
    PickleOptions o2 = {.allow = ALLOW, .max_stack = 3};
    expect_error(many, sizeof(many), &o2, "stack deeper");
    static const uint8_t buildlist[] = {0x80, 4, ']', '}', 'b', '.'};
    expect_error(buildlist, sizeof(buildlist), NULL, "BUILD on a list");
    static const uint8_t bigint[] = {0x80, 4, 0x8a, 9, 1, 2, 3, 4, 5, 6, 7, 8, 9, '.'};
    expect_error(bigint, sizeof(bigint), NULL, "64 bits");
    static const uint8_t p6[] = {0x80, 6, 'N', '.'};
    expect_error(p6, sizeof(p6), NULL, "protocol 6");
    static const uint8_t badutf[] = {0x80, 4, 0x8c, 2, 0xc3, 0x28, '.'};
    expect_error(badutf, sizeof(badutf), NULL, "UTF-8");
    static const uint8_t surrogate[] = {0x80, 4, 0x8c, 3, 0xed, 0xa0, 0x80, '.'};
    expect_error(surrogate, sizeof(surrogate), NULL, "UTF-8");
    expect_error("", 0, NULL, "empty");
    static const uint8_t oob[] = {0x80, 5, 0x97, '.'};
    expect_error(oob, sizeof(oob), NULL, "out-of-band");
    static const uint8_t underflow[] = {0x80, 4, 'N', '(', 'a', '.'};
    expect_error(underflow, sizeof(underflow), NULL, "underflow");
    static const uint8_t hugelen[] = {0x80, 4, 0x8e, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, '.'};
    expect_error(hugelen, sizeof(hugelen), NULL, "truncated");
    static const uint8_t frame[] = {0x80, 4, 0x95, 100, 0, 0, 0, 0, 0, 0, 0, 'N', '.'};
    expect_error(frame, sizeof(frame), NULL, "frame");
    static const uint8_t text[] = {'I', '1', '\n', '.'};
    expect_error(text, sizeof(text), NULL, "text opcode");
    static const uint8_t reduce_notuple[] = {0x80, 4, 'c', 'm', 'o', 'd', '\n', 'f', 'n', '\n', ']', 'R', '.'};
    expect_error(reduce_notuple, sizeof(reduce_notuple), NULL, "not a tuple");
    static const uint8_t nostop[] = {0x80, 4, 'N'};
    expect_error(nostop, sizeof(nostop), NULL, "truncated");
    char err[MIRD_ERRLEN];
    Pickle *pk;
    assert_int_equal(pickle_load(&pk, "tests/fixtures/pickle/does-not-exist.pkl", NULL, err), -1);
    assert_non_null(strstr(err, "does-not-exist.pkl"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_types_p2),         cmocka_unit_test(test_types_p4),
        cmocka_unit_test(test_types_p5),         cmocka_unit_test(test_bytearray_p5), cmocka_unit_test(test_torch_state_dict),
        cmocka_unit_test(test_rare_opcodes),     cmocka_unit_test(test_cycle),
        cmocka_unit_test(test_malicious),        cmocka_unit_test(test_inert_classes),
        cmocka_unit_test(test_truncated_everywhere),
        cmocka_unit_test(test_garbage_and_mutations), cmocka_unit_test(test_limits_and_errors),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    free(last_buf);
    return rc;
}
