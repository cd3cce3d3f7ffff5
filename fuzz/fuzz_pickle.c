// fuzz_pickle.c: the non-executing pickle reader (io/pickle.h) on arbitrary bytes.
// Each input is parsed three times: with the default limits and an allow-list of every global the
// project's readers accept (numpy arrays and scalars, torch state_dicts), with the inert-classes
// policy of torch.save files (any class name, REDUCE only of TORCH_CALLABLES), then with tight limits
// (stack, MARK depth, memo, object count) so those refusals are exercised too. A parsed tree is
// walked by the helpers readers use and dumped (depth-bounded: hostile pickles can build cycles).
#include <string.h>

#include "core/common.h"
#include "fuzz_util.h"
#include "io/pickle.h"
#include "io/torch_load.h"

static const char *const ALLOW[] = {
    "collections.OrderedDict", "torch._utils._rebuild_tensor_v2", "torch._utils._rebuild_parameter",
    "torch.FloatStorage", "torch.DoubleStorage", "torch.HalfStorage", "torch.LongStorage",
    "numpy.core.multiarray._reconstruct", "numpy.ndarray", "numpy.dtype", "numpy.core.multiarray.scalar",
    "numpy._core.multiarray._reconstruct", "numpy._core.multiarray.scalar", "_codecs.encode",
    "builtins.set", "builtins.frozenset", "builtins.bytearray", "pandas.core.frame.DataFrame", NULL,
};

static volatile uint8_t sink;
static long walk_left; // node visits left for this input: memo references make the tree a DAG

static void walk(const PkObj *o, int depth) {
    if (!o || depth > 32 || --walk_left < 0) return;
    (void)pk_kind_name(o->kind);
    (void)pk_is_seq(o);
    (void)pk_is_global(o, "numpy.ndarray");
    (void)pk_is_call_of(o, "numpy.core.multiarray._reconstruct");
    switch (o->kind) {
    case PK_STR:
    case PK_BYTES: {
        char *s = pk_strdup(o);
        if (s && o->kind == PK_STR && strlen(s) > o->s.len) abort();
        free(s);
        uint8_t x = 0; // touch every payload byte: they must lie inside the input
        for (size_t i = 0; i < o->s.len; i++) x ^= o->s.p[i];
        sink = x;
        break;
    }
    case PK_DICT:
        (void)pk_dict_get(o, "train");
        (void)pk_dict_get(o, "raw_text");
        /* fall through */
    case PK_LIST:
    case PK_TUPLE:
    case PK_SET:
        if (o->seq.n > o->seq.cap && o->seq.cap) abort();
        for (size_t i = 0; i < o->seq.n && i < 256; i++) walk(o->seq.v[i], depth + 1);
        break;
    case PK_REDUCE:
    case PK_NEWOBJ:
        walk(o->call.callee, depth + 1);
        walk(o->call.args, depth + 1);
        walk(o->call.kwargs, depth + 1);
        walk(o->call.state, depth + 1);
        walk(o->call.dictitems, depth + 1);
        walk(o->call.listitems, depth + 1);
        break;
    case PK_PERSID:
        walk(o->pid, depth + 1);
        break;
    case PK_GLOBAL:
        if (!o->g.module || !o->g.name) abort();
        break;
    default:
        break;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char err[MIRD_ERRLEN];
    Pickle *pk = NULL;
    PickleOptions o = {.allow = ALLOW};
    err[0] = 0;
    if (pickle_parse(&pk, data, size, &o, "fuzz.pkl", err) == 0) {
        walk_left = 200000;
        walk(pickle_root(pk), 0);
        pk_dump(fuzz_devnull(), pickle_root(pk), 12);
        pickle_free(pk);
    } else {
        if (!err[0]) abort(); // a failure must say why
        fuzz_check_err(err);
    }
    // the inert-classes policy of torch.save files (any class a placeholder, REDUCE allow-listed)
    PickleOptions classes = {.callables = TORCH_CALLABLES};
    pk = NULL;
    if (pickle_parse(&pk, data, size, &classes, "fuzz.pkl", err) == 0) {
        walk_left = 200000;
        walk(pickle_root(pk), 0);
        pickle_free(pk);
    } else {
        fuzz_check_err(err);
    }
    PickleOptions tight = {.allow = ALLOW, .max_memo = 64, .max_stack = 64, .max_depth = 8, .max_objects = 500};
    pk = NULL;
    if (pickle_parse(&pk, data, size, &tight, "fuzz.pkl", err) == 0) pickle_free(pk);
    else fuzz_check_err(err);
    return 0;
}
