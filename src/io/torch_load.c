// torch_load.c: see torch_load.h.
#include "io/torch_load.h"

#include <stdlib.h>
#include <string.h>

#include "io/pickle.h"

// What REDUCE may call (io/pickle.h, inert-classes policy): the tensor rebuild functions and
// constructors of plain containers and values. Classes used by NEWOBJ need no entry: they only
// become placeholders. Nothing here can run code chosen by the file.
const char *const TORCH_CALLABLES[] = {
    "torch._utils._rebuild_tensor_v2",
    "torch._utils._rebuild_parameter",
    "torch._utils._rebuild_parameter_with_state",
    "torch._tensor._rebuild_from_type_v2",
    "collections.OrderedDict",
    "builtins.set",
    "builtins.frozenset",
    "builtins.bytearray",
    "builtins.complex",
    "builtins.slice",
    "_codecs.encode", // protocol 2 writes bytes as _codecs.encode(str, "latin1")
    "torch.Size",
    "torch.device",
    "numpy.dtype",
    "numpy.core.multiarray.scalar",
    "numpy.core.multiarray._reconstruct",
    "numpy._core.multiarray.scalar",
    "numpy._core.multiarray._reconstruct",
    NULL,
};

static const struct {
    const char *cls;
    StDtype dt;
} STORAGES[] = {
    {"FloatStorage", ST_F32}, {"DoubleStorage", ST_F64}, {"HalfStorage", ST_F16}, {"BFloat16Storage", ST_BF16},
    {"LongStorage", ST_I64},  {"IntStorage", ST_I32},    {"ShortStorage", ST_I16}, {"CharStorage", ST_I8},
    {"ByteStorage", ST_U8},   {"BoolStorage", ST_BOOL},
};

typedef struct {
    TorchFile *f;
    const Zip *zip;
    const char *prefix; // archive folder name
    size_t plen;
    unsigned char *crc_done; // per zip entry
    char *err;
    long visits; // left (whole-module walk)
} Ctx;

static int is_int(const PkObj *o) { return o && (o->kind == PK_INT || o->kind == PK_BOOL); }

// Resolve a persistent id ('storage', torch.XStorage, key, location, numel) to its zip entry.
static int resolve_storage(Ctx *c, const char *tname, const PkObj *pid, TorchTensor *t) {
    const char *fn = c->f->path;
    if (!pid || pid->kind != PK_TUPLE || pid->seq.n != 5 || !pk_is_str(pid->seq.v[0], "storage"))
        return errf(c->err, "%s: tensor '%s': persistent id is not ('storage', type, key, location, numel)", fn, tname);
    const PkObj *cls = pid->seq.v[1], *key = pid->seq.v[2], *numel = pid->seq.v[4];
    int found = 0;
    if (cls && cls->kind == PK_GLOBAL && !strcmp(cls->g.module, "torch"))
        for (size_t i = 0; i < sizeof(STORAGES) / sizeof(STORAGES[0]); i++)
            if (!strcmp(cls->g.name, STORAGES[i].cls)) {
                t->dtype = STORAGES[i].dt;
                found = 1;
            }
    if (!found) return errf(c->err, "%s: tensor '%s': unsupported storage type", fn, tname);
    if (!key || key->kind != PK_STR || key->s.len > 64 || !is_int(numel) || numel->i < 0)
        return errf(c->err, "%s: tensor '%s': bad storage key or size", fn, tname);
    char ename[4096];
    snprintf(ename, sizeof(ename), "%.*s/data/%.*s", (int)c->plen, c->prefix, (int)key->s.len, (const char *)key->s.p);
    const ZipEntry *e = zip_find(c->zip, ename);
    if (!e) return errf(c->err, "%s: tensor '%s': storage entry '%s' missing from the archive", fn, tname, ename);
    if (!e->data)
        return errf(c->err, "%s: entry '%s' is compressed (method %u); torch.save writes stored entries", fn, ename,
                    e->method);
    size_t isz = st_dtype_size(t->dtype);
    if ((uint64_t)numel->i > e->size / isz)
        return errf(c->err, "%s: tensor '%s': storage of %lld %s elements but entry '%s' holds %llu bytes", fn, tname,
                    (long long)numel->i, st_dtype_name(t->dtype), ename, (unsigned long long)e->size);
    size_t idx = (size_t)(e - c->zip->e);
    if (!c->crc_done[idx]) {
        if (zip_check_crc(c->zip, e, c->err) != 0) return -1;
        c->crc_done[idx] = 1;
    }
    t->storage = e->data;
    t->storage_numel = (size_t)numel->i;
    return 0;
}

// The arguments of _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, hooks[, metadata]).
static int read_tensor_v2(Ctx *c, const char *tname, const PkObj *a, TorchTensor *t) {
    const char *fn = c->f->path;
    if (!a || a->kind != PK_TUPLE || a->seq.n < 4)
        return errf(c->err, "%s: tensor '%s': bad _rebuild_tensor_v2 arguments", fn, tname);
    const PkObj *st = a->seq.v[0], *off = a->seq.v[1], *size = a->seq.v[2], *stride = a->seq.v[3];
    if (!st || st->kind != PK_PERSID) return errf(c->err, "%s: tensor '%s': storage is not a persistent id", fn, tname);
    if (resolve_storage(c, tname, st->pid, t) != 0) return -1;
    if (!is_int(off) || off->i < 0 || !pk_is_seq(size) || !pk_is_seq(stride) || size->seq.n != stride->seq.n)
        return errf(c->err, "%s: tensor '%s': bad storage offset, size or stride", fn, tname);
    if (size->seq.n > ST_MAX_DIMS)
        return errf(c->err, "%s: tensor '%s': %zu dimensions (max %d)", fn, tname, size->seq.n, ST_MAX_DIMS);
    t->ndim = (int)size->seq.n;
    t->storage_offset = off->i;
    // numel with overflow checks; reach = largest element index used + 1 (0 for empty tensors)
    uint64_t numel = 1, reach = (uint64_t)off->i;
    int empty = 0, overflow = 0;
    for (int d = 0; d < t->ndim; d++) {
        const PkObj *s = size->seq.v[d], *r = stride->seq.v[d];
        if (!is_int(s) || !is_int(r) || s->i < 0 || r->i < 0)
            return errf(c->err, "%s: tensor '%s': sizes and strides must be non-negative integers", fn, tname);
        t->shape[d] = s->i;
        t->stride[d] = r->i;
        if (s->i == 0) empty = 1;
        else {
            uint64_t sz = (uint64_t)s->i, sr = (uint64_t)r->i;
            if (numel > UINT64_MAX / sz) overflow = 1;
            else numel *= sz;
            if (sr && sz - 1 > (UINT64_MAX / 2) / sr) overflow = 1;
            else if (reach > UINT64_MAX / 2) overflow = 1;
            else reach += (sz - 1) * sr;
        }
    }
    if (empty) numel = 0;
    else if (overflow || numel > SIZE_MAX / 8)
        return errf(c->err, "%s: tensor '%s': size too large (overflow)", fn, tname);
    if (!empty && reach >= t->storage_numel)
        return errf(c->err, "%s: tensor '%s': view reaches element %llu of a %zu-element storage", fn, tname,
                    (unsigned long long)reach, t->storage_numel);
    t->numel = (size_t)numel;
    return 0;
}

// A tensor value: _rebuild_tensor_v2(...), possibly inside _rebuild_parameter(tensor, requires_grad,
// hooks), _rebuild_parameter_with_state(tensor, requires_grad, hooks, state) or
// _rebuild_from_type_v2(_rebuild_tensor_v2, type, args, state) (a tensor with Python attributes).
static int read_tensor(Ctx *c, const char *tname, const PkObj *v, TorchTensor *t, int depth) {
    const char *fn = c->f->path;
    if (depth < 2 && (pk_is_call_of(v, "torch._utils._rebuild_parameter") ||
                      pk_is_call_of(v, "torch._utils._rebuild_parameter_with_state"))) {
        const PkObj *a = v->call.args;
        if (!a || a->kind != PK_TUPLE || a->seq.n < 1)
            return errf(c->err, "%s: tensor '%s': bad _rebuild_parameter arguments", fn, tname);
        return read_tensor(c, tname, a->seq.v[0], t, depth + 1);
    }
    if (pk_is_call_of(v, "torch._tensor._rebuild_from_type_v2")) {
        const PkObj *a = v->call.args;
        if (!a || a->kind != PK_TUPLE || a->seq.n < 3 || !pk_is_global(a->seq.v[0], "torch._utils._rebuild_tensor_v2"))
            return errf(c->err, "%s: tensor '%s': _rebuild_from_type_v2 of something other than a tensor", fn, tname);
        return read_tensor_v2(c, tname, a->seq.v[2], t);
    }
    if (!pk_is_call_of(v, "torch._utils._rebuild_tensor_v2"))
        return errf(c->err, "%s: entry '%s' is a %s, not a tensor", fn, tname, v ? pk_kind_name(v->kind) : "null");
    return read_tensor_v2(c, tname, v->call.args, t);
}

// ---- the whole-module walk

static int add_tensor(Ctx *c, char *name, const PkObj *v) {
    TorchFile *f = c->f;
    if (f->n == f->cap_) {
        f->cap_ = f->cap_ ? 2 * f->cap_ : 64;
        f->t = xrealloc(f->t, (size_t)f->cap_ * sizeof(TorchTensor));
    }
    TorchTensor *t = &f->t[f->n];
    memset(t, 0, sizeof(*t));
    if (read_tensor(c, name, v, t, 0) != 0) {
        free(name);
        return -1;
    }
    t->name = name;
    f->n++;
    return 0;
}

static void add_attr(TorchFile *f, const char *prefix, const PkObj *key, const PkObj *v) {
    if (key->s.len > 200 || !v || (v->kind != PK_BOOL && v->kind != PK_INT && v->kind != PK_FLOAT && v->kind != PK_STR))
        return;
    if (f->n_attr == f->cap_attr_) {
        f->cap_attr_ = f->cap_attr_ ? 2 * f->cap_attr_ : 64;
        f->attr = xrealloc(f->attr, (size_t)f->cap_attr_ * sizeof(TorchAttr));
    }
    TorchAttr *a = &f->attr[f->n_attr++];
    size_t n = strlen(prefix) + key->s.len + 1;
    a->name = xmalloc(n);
    snprintf(a->name, n, "%s%.*s", prefix, (int)key->s.len, (const char *)key->s.p);
    a->kind = v->kind;
    a->num = v->kind == PK_FLOAT ? v->f : v->kind == PK_STR ? 0 : (double)v->i;
    a->str = NULL;
    if (v->kind == PK_STR) {
        size_t k = v->s.len < 255 ? v->s.len : 255;
        a->str = xmalloc(k + 1);
        memcpy(a->str, v->s.p, k);
        a->str[k] = 0;
    }
}

// The instance state (__dict__) that BUILD gave a placeholder object (NEWOBJ of a class; protocol
// 2 and later write every object so). BUILD may pass (dict, slots); NULL if not an object.
static const PkObj *obj_state(const PkObj *o) {
    if (!o || o->kind != PK_NEWOBJ) return NULL;
    const PkObj *st = o->call.state;
    if (st && st->kind == PK_TUPLE && st->seq.n == 2) st = st->seq.v[0];
    return st && st->kind == PK_DICT ? st : NULL;
}
// pk_dict_get that charges the entries it scans to the walk's budget: memo references can make one
// large dict be looked up many times. NULL once the budget is spent (the caller then fails).
static const PkObj *sget(Ctx *c, const PkObj *d, const char *key) {
    if (!d || d->kind != PK_DICT) return NULL;
    c->visits -= (long)(d->seq.n / 2);
    return c->visits < 0 ? NULL : pk_dict_get(d, key);
}
static int is_module(Ctx *c, const PkObj *o) {
    const PkObj *st = obj_state(o);
    return st && (sget(c, st, "_parameters") || sget(c, st, "_modules"));
}
// The items of a dict or an OrderedDict() (NULL = empty); -1 if o is neither.
static int dict_items(const PkObj *o, const PkObj **items) {
    *items = NULL;
    if (o && o->kind == PK_DICT) *items = o;
    else if (pk_is_call_of(o, "collections.OrderedDict") && (!o->call.args || !pk_is_seq(o->call.args) || o->call.args->seq.n == 0))
        *items = o->call.dictitems;
    else return -1;
    return 0;
}
// Is the str `key` an element of `set` (a set literal, or builtins.set / frozenset of a list)?
static int set_has(Ctx *c, const PkObj *set, const PkObj *key) {
    if (set && (pk_is_call_of(set, "builtins.set") || pk_is_call_of(set, "builtins.frozenset")))
        set = set->call.args && set->call.args->seq.n ? set->call.args->seq.v[0] : NULL;
    if (!set || !(set->kind == PK_SET || pk_is_seq(set))) return 0;
    c->visits -= (long)set->seq.n;
    for (size_t i = 0; i < set->seq.n; i++) {
        const PkObj *e = set->seq.v[i];
        if (e && e->kind == PK_STR && e->s.len == key->s.len && !memcmp(e->s.p, key->s.p, key->s.len)) return 1;
    }
    return 0;
}

static int visit(Ctx *c) {
    if (--c->visits < 0)
        return errf(c->err, "%s: module tree too large (more than %ld modules, tensors and attributes; shared submodules?)",
                    c->f->path, TORCH_MAX_VISITS);
    return 0;
}

// A name part: a str of printable characters (names end up in one-line messages), at most 1024 bytes.
static int key_ok(const PkObj *k) {
    if (!k || k->kind != PK_STR || k->s.len > 1024) return 0;
    for (size_t i = 0; i < k->s.len; i++)
        if (k->s.p[i] < 0x20 || k->s.p[i] == 0x7f) return 0;
    return 1;
}

// prefix + key as a new heap string, or NULL (error set) if the key is not a printable str.
static char *join(Ctx *c, const char *prefix, const PkObj *key, const char *what) {
    if (!key_ok(key)) {
        errf(c->err, "%s: %s: a key under '%s' is not a short printable str", c->f->path, what, prefix);
        return NULL;
    }
    if (strlen(prefix) + key->s.len > 4096) {
        errf(c->err, "%s: a name longer than 4096 bytes under '%.64s...'", c->f->path, prefix);
        return NULL;
    }
    size_t n = strlen(prefix) + key->s.len + 1;
    char *s = xmalloc(n);
    snprintf(s, n, "%s%.*s", prefix, (int)key->s.len, (const char *)key->s.p);
    return s;
}

// Module.state_dict() of one module: parameters, persistent buffers, then the children.
static int walk_module(Ctx *c, const PkObj *mod, const char *prefix, int depth) {
    const char *fn = c->f->path;
    if (depth > TORCH_MAX_DEPTH) return errf(c->err, "%s: modules nested deeper than %d levels", fn, TORCH_MAX_DEPTH);
    const PkObj *st = obj_state(mod), *items;
    static const char *const groups[2] = {"_parameters", "_buffers"};
    const PkObj *nonpersistent = sget(c, st, "_non_persistent_buffers_set");
    for (int g = 0; g < 2; g++) {
        const PkObj *d = sget(c, st, groups[g]);
        if (c->visits < 0) return visit(c);
        if (!d) continue;
        if (dict_items(d, &items) != 0)
            return errf(c->err, "%s: module '%s': %s is a %s, not a dict", fn, prefix, groups[g], pk_kind_name(d->kind));
        for (size_t i = 0; items && i + 1 < items->seq.n; i += 2) {
            const PkObj *k = items->seq.v[i], *v = items->seq.v[i + 1];
            if (visit(c)) return -1;
            if (v->kind == PK_NONE || (g == 1 && set_has(c, nonpersistent, k))) continue;
            char *name = join(c, prefix, k, groups[g]);
            if (!name || add_tensor(c, name, v)) return -1;
        }
    }
    // scalar attributes, and one level into plain objects (a BertConfig)
    for (size_t i = 0; i + 1 < st->seq.n; i += 2) {
        const PkObj *k = st->seq.v[i], *v = st->seq.v[i + 1], *ost = NULL;
        if (visit(c)) return -1;
        if (!key_ok(k)) continue;
        add_attr(c->f, prefix, k, v);
        int sub_module = is_module(c, v);
        if (c->visits < 0) return visit(c);
        if (!sub_module && (ost = obj_state(v)) != NULL) {
            char sub[4400]; // prefix <= 4096 bytes (join), key <= 200 (add_attr)
            snprintf(sub, sizeof(sub), "%s%.*s.", prefix, (int)(k->s.len < 200 ? k->s.len : 200), (const char *)k->s.p);
            for (size_t j = 0; j + 1 < ost->seq.n; j += 2) {
                if (visit(c)) return -1;
                if (key_ok(ost->seq.v[j])) add_attr(c->f, sub, ost->seq.v[j], ost->seq.v[j + 1]);
            }
        }
    }
    const PkObj *m = sget(c, st, "_modules");
    if (c->visits < 0) return visit(c);
    if (!m) return 0;
    if (dict_items(m, &items) != 0)
        return errf(c->err, "%s: module '%s': _modules is a %s, not a dict", fn, prefix, pk_kind_name(m->kind));
    for (size_t i = 0; items && i + 1 < items->seq.n; i += 2) {
        const PkObj *k = items->seq.v[i], *v = items->seq.v[i + 1];
        if (visit(c)) return -1;
        if (v->kind == PK_NONE) continue;
        char *name = join(c, prefix, k, "_modules");
        if (!name) return -1;
        if (!is_module(c, v)) {
            if (c->visits < 0) visit(c);
            else errf(c->err, "%s: submodule '%s' is a %s, not a module", fn, name, pk_kind_name(v->kind));
            free(name);
            return -1;
        }
        size_t n = strlen(name);
        name = xrealloc(name, n + 2);
        name[n] = '.', name[n + 1] = 0;
        int rc = walk_module(c, v, name, depth + 1);
        free(name);
        if (rc) return -1;
    }
    return 0;
}

// A state_dict: every entry a tensor.
static int read_state_dict(Ctx *c, const PkObj *items) {
    for (size_t i = 0; items && i + 1 < items->seq.n; i += 2) {
        const PkObj *k = items->seq.v[i], *v = items->seq.v[i + 1];
        if (!key_ok(k)) return errf(c->err, "%s: state_dict key %zu is not a short printable string", c->f->path, i / 2);
        if (add_tensor(c, pk_strdup(k), v)) return -1;
    }
    return 0;
}

int torch_is_zip(const uint8_t *data, size_t size) { return size >= 4 && !memcmp(data, "PK\x03\x04", 4); }

int torch_parse(TorchFile *f, const uint8_t *buf, size_t size, const char *name, char *err) {
    memset(f, 0, sizeof(*f));
    f->path = xstrdup(name);
    Zip *z = &f->zip_;
    if (zip_parse(z, buf, size, name, err) != 0) {
        free(f->path);
        f->path = NULL;
        return -1;
    }
    // The archive folder: the first entry named "<prefix>/data.pkl" with a one-level prefix.
    const ZipEntry *pkl = NULL;
    for (int i = 0; i < z->n && !pkl; i++) {
        const char *s = strchr(z->e[i].name, '/');
        if (s && s != z->e[i].name && !strcmp(s, "/data.pkl")) pkl = &z->e[i];
    }
    if (!pkl) {
        torch_close(f);
        return errf(err, "%s: zip archive without <name>/data.pkl (not a torch.save checkpoint)", name);
    }
    size_t plen = (size_t)(strchr(pkl->name, '/') - pkl->name);
    char bo[4200];
    snprintf(bo, sizeof(bo), "%.*s/byteorder", (int)plen, pkl->name);
    const ZipEntry *boe = zip_find(z, bo);
    if (boe && !(boe->data && boe->size == 6 && !memcmp(boe->data, "little", 6))) {
        torch_close(f);
        return errf(err, "%s: only little-endian torch checkpoints are supported", name);
    }
    if (zip_check_crc(z, pkl, err) != 0) {
        torch_close(f);
        return -1;
    }
    PickleOptions opt = {0};
    opt.callables = TORCH_CALLABLES;
    Pickle *pk = NULL;
    char pname[4200];
    snprintf(pname, sizeof(pname), "%s:%s", name, pkl->name);
    if (pickle_parse(&pk, pkl->data, (size_t)pkl->size, &opt, pname, err) != 0) {
        torch_close(f);
        return -1;
    }
    const PkObj *root = pickle_root(pk), *items = NULL;
    Ctx c = {f, z, pkl->name, plen, xcalloc((size_t)(z->n ? z->n : 1), 1), err, TORCH_MAX_VISITS};
    int rc;
    if (dict_items(root, &items) == 0) {
        rc = read_state_dict(&c, items);
    } else if (is_module(&c, root)) {
        f->whole_module = 1;
        const PkObj *cls = root->call.callee; // a NEWOBJ's callee is a global (io/pickle.h)
        if (cls && cls->kind == PK_GLOBAL) {
            size_t n = strlen(cls->g.module) + strlen(cls->g.name) + 2;
            f->root_class = xmalloc(n);
            snprintf(f->root_class, n, "%s.%s", cls->g.module, cls->g.name);
        }
        rc = walk_module(&c, root, "", 0);
    } else {
        rc = errf(err, "%s: data.pkl holds neither a state_dict (a dict of tensors) nor a torch.nn.Module "
                       "(an object with _parameters and _modules)", name);
    }
    free(c.crc_done);
    pickle_free(pk);
    if (rc) {
        torch_close(f);
        return -1;
    }
    return 0;
}

int torch_open(TorchFile *f, const char *path, char *err) {
    MappedFile mf;
    memset(f, 0, sizeof(*f));
    if (map_file(&mf, path, err) != 0) return -1;
    if (torch_parse(f, mf.data, mf.size, path, err) != 0) {
        unmap_file(&mf);
        return -1;
    }
    f->mf_ = mf;
    return 0;
}

void torch_close(TorchFile *f) {
    for (int i = 0; i < f->n; i++) free(f->t[i].name);
    free(f->t);
    for (int i = 0; i < f->n_attr; i++) free(f->attr[i].name), free(f->attr[i].str);
    free(f->attr);
    free(f->root_class);
    zip_free(&f->zip_);
    free(f->path);
    unmap_file(&f->mf_);
    memset(f, 0, sizeof(*f));
}

const TorchTensor *torch_find(const TorchFile *f, const char *name) {
    for (int i = 0; i < f->n; i++)
        if (!strcmp(f->t[i].name, name)) return &f->t[i];
    return NULL;
}

const TorchAttr *torch_attr(const TorchFile *f, const char *name) {
    for (int i = 0; i < f->n_attr; i++)
        if (!strcmp(f->attr[i].name, name)) return &f->attr[i];
    return NULL;
}

static float elem_f32(StDtype dt, const uint8_t *p) {
    switch (dt) {
    case ST_F32: { float v; memcpy(&v, p, 4); return v; }
    case ST_F16: { uint16_t h; memcpy(&h, p, 2); return st_f16_to_f32(h); }
    case ST_BF16: { uint16_t h; memcpy(&h, p, 2); return st_bf16_to_f32(h); }
    default: { double d; memcpy(&d, p, 8); return (float)d; } // ST_F64
    }
}

int torch_to_f32(const TorchFile *f, const TorchTensor *t, float *dst, size_t n, char *err) {
    if (n != t->numel)
        return errf(err, "%s: tensor '%s' has %zu elements, caller expected %zu", f->path, t->name, t->numel, n);
    if (t->dtype != ST_F32 && t->dtype != ST_F16 && t->dtype != ST_BF16 && t->dtype != ST_F64)
        return errf(err, "%s: tensor '%s' is %s, expected a floating type", f->path, t->name, st_dtype_name(t->dtype));
    if (!n) return 0;
    size_t isz = st_dtype_size(t->dtype);
    // walk the multi-index in row-major order; element index = offset + sum(idx_d * stride_d)
    int64_t idx[ST_MAX_DIMS] = {0};
    int64_t pos = t->storage_offset;
    int nd = t->ndim;
    int64_t inner = nd ? t->shape[nd - 1] : 1, istride = nd ? t->stride[nd - 1] : 0;
    for (size_t o = 0; o < n;) {
        if (t->dtype == ST_F32 && istride == 1) {
            memcpy(dst + o, t->storage + (size_t)pos * 4, (size_t)inner * 4);
        } else {
            for (int64_t j = 0; j < inner; j++) dst[o + (size_t)j] = elem_f32(t->dtype, t->storage + (size_t)(pos + j * istride) * isz);
        }
        o += (size_t)inner;
        // advance the outer dimensions
        for (int d = nd - 2; d >= 0; d--) {
            idx[d]++;
            pos += t->stride[d];
            if (idx[d] < t->shape[d]) break;
            pos -= t->stride[d] * t->shape[d];
            idx[d] = 0;
        }
    }
    return 0;
}
