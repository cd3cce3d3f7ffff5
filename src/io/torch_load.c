// torch_load.c: see torch_load.h.
#include "io/torch_load.h"

#include <stdlib.h>
#include <string.h>

#include "io/pickle.h"

static const char *const ALLOW[] = {
    "collections.OrderedDict",   "torch._utils._rebuild_tensor_v2", "torch._utils._rebuild_parameter",
    "torch.FloatStorage",        "torch.DoubleStorage",             "torch.HalfStorage",
    "torch.BFloat16Storage",     "torch.LongStorage",               "torch.IntStorage",
    "torch.ShortStorage",        "torch.CharStorage",               "torch.ByteStorage",
    "torch.BoolStorage",         NULL,
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

// _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, hooks[, metadata])
// or _rebuild_parameter(tensor, requires_grad, hooks).
static int read_tensor(Ctx *c, const char *tname, const PkObj *v, TorchTensor *t, int depth) {
    const char *fn = c->f->path;
    if (depth < 2 && pk_is_call_of(v, "torch._utils._rebuild_parameter")) {
        const PkObj *a = v->call.args;
        if (!a || a->kind != PK_TUPLE || a->seq.n < 1)
            return errf(c->err, "%s: tensor '%s': bad _rebuild_parameter arguments", fn, tname);
        return read_tensor(c, tname, a->seq.v[0], t, depth + 1);
    }
    if (!pk_is_call_of(v, "torch._utils._rebuild_tensor_v2"))
        return errf(c->err, "%s: entry '%s' is a %s, not a tensor", fn, tname, v ? pk_kind_name(v->kind) : "null");
    const PkObj *a = v->call.args;
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
    opt.allow = ALLOW;
    Pickle *pk = NULL;
    char pname[4200];
    snprintf(pname, sizeof(pname), "%s:%s", name, pkl->name);
    if (pickle_parse(&pk, pkl->data, (size_t)pkl->size, &opt, pname, err) != 0) {
        torch_close(f);
        return -1;
    }
    const PkObj *root = pickle_root(pk), *items = NULL;
    if (root && root->kind == PK_DICT) items = root;
    else if (pk_is_call_of(root, "collections.OrderedDict")) {
        items = root->call.dictitems; // NULL = empty
        if (root->call.args && pk_is_seq(root->call.args) && root->call.args->seq.n != 0) items = NULL, root = NULL;
    } else root = NULL;
    if (!root) {
        pickle_free(pk);
        torch_close(f);
        return errf(err, "%s: data.pkl does not hold a state_dict (a dict of tensors)", name);
    }
    size_t n = items ? items->seq.n / 2 : 0;
    f->t = xcalloc(n ? n : 1, sizeof(TorchTensor));
    Ctx c = {f, z, pkl->name, plen, xcalloc((size_t)(z->n ? z->n : 1), 1), err};
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        const PkObj *k = items->seq.v[2 * i], *v = items->seq.v[2 * i + 1];
        char *kn = pk_strdup(k);
        if (!kn || k->kind != PK_STR) {
            free(kn);
            rc = errf(err, "%s: state_dict key %zu is not a string", name, i);
            break;
        }
        TorchTensor *t = &f->t[f->n];
        if (read_tensor(&c, kn, v, t, 0) != 0) {
            free(kn);
            rc = -1;
            break;
        }
        t->name = kn;
        f->n++;
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
