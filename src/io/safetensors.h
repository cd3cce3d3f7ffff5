// safetensors.h: reader and writer for the Hugging Face safetensors format.
//
// Layout: 8-byte little-endian header length N, N bytes of JSON header, then the data area.
// The header maps each tensor name to {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}
// (offsets relative to the data area) and may hold "__metadata__", a string -> string map.
//
// Why hand-written: Debian ships no C library for safetensors (the reference implementation is
// Rust), and the format is small: the JSON header is parsed with jansson, the rest is validation.
//
// Reader: the file is memory-mapped and every tensor's data pointer points into the map (no copy).
// Every header field is validated before use: header length bounded by the file size and
// ST_MAX_HEADER, dtypes from the list below, non-negative shapes with overflow-checked products,
// data_offsets inside the data area with end - begin == numel * itemsize, no two tensors overlapping.
// (Unlike the Rust reader we do not insist that tensors cover the data area without holes.)
// Data pointers are only as aligned as the file makes them (page + 8 + N + begin): read through
// st_to_f32 / st_to_i32, or check alignment before casting.
//
// Writer: collects (name, dtype, shape, pointer) entries and metadata, writes atomically
// (AtomicFile). Like the Hugging Face writer, the header is padded with spaces to a multiple of 8
// and the tensors are laid out sorted by decreasing item size, then by name, so every tensor is
// aligned to its item size in the file. The header lists "__metadata__" first, then the tensors
// in data order.
// Host byte order must be little-endian (checked at open / write).
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "core/common.h"

#define ST_MAX_DIMS 8
#define ST_MAX_HEADER 100000000ull // bytes, as the Rust reader's limit

typedef enum { ST_F64, ST_F32, ST_F16, ST_BF16, ST_I64, ST_I32, ST_I16, ST_I8, ST_U8, ST_BOOL, ST_NDTYPES } StDtype;

const char *st_dtype_name(StDtype t);        // "F32", ...
size_t st_dtype_size(StDtype t);             // bytes per element
int st_dtype_parse(const char *s, StDtype *t); // 0 ok, -1 unknown

typedef struct {
    char *name;
    StDtype dtype;
    int ndim;
    int64_t shape[ST_MAX_DIMS];
    size_t numel;
    size_t nbytes;
    size_t begin;     // offset in the data area
    const void *data; // in place, into the mapped file (may be unaligned, see above)
} StTensor;

typedef struct {
    MappedFile mf_;
    char *path;        // for messages
    StTensor *t;       // in data-offset order
    int n;
    int *by_name_;     // indices sorted by name (lookup)
    char **meta_key, **meta_val;
    int n_meta;
} StFile;

// Map and validate a file. On failure nothing needs closing.
int st_open(StFile *f, const char *path, char *err);
// Validate a buffer already in memory (kept referenced, not copied); `name` is used in messages.
int st_parse(StFile *f, const uint8_t *buf, size_t size, const char *name, char *err);
void st_close(StFile *f);

static inline int st_count(const StFile *f) { return f->n; }
static inline const StTensor *st_tensor(const StFile *f, int i) { return &f->t[i]; }
const StTensor *st_find(const StFile *f, const char *name); // NULL if absent
const char *st_meta(const StFile *f, const char *key);     // NULL if absent

// Convert a tensor into a caller buffer of exactly t->numel elements.
// st_to_f32: F32 copies; F16, BF16, F64 convert (F64 rounds to nearest); integer and BOOL types
//            convert to their float value.
// st_to_i32: I32, I16, I8, U8, BOOL convert; I64 with a range check (error naming the tensor);
//            floating types are refused.
int st_to_f32(const StFile *f, const StTensor *t, float *dst, size_t n, char *err);
int st_to_i32(const StFile *f, const StTensor *t, int32_t *dst, size_t n, char *err);

// Half-precision helpers (exact: every F16/BF16 value is representable in F32).
float st_f16_to_f32(uint16_t h);
float st_bf16_to_f32(uint16_t h);

// ---- writer
typedef struct {
    char *name;
    StDtype dtype;
    int ndim;
    int64_t shape[ST_MAX_DIMS];
    const void *data; // not copied: must stay valid until stw_write
} StwEntry;

typedef struct {
    StwEntry *e;
    int n, cap;
    char **meta_key, **meta_val;
    int n_meta, meta_cap;
} StWriter;

void stw_init(StWriter *w);
// Add a tensor (name copied, data referenced). Problems (bad ndim, duplicate names) surface in stw_write.
void stw_add(StWriter *w, const char *name, StDtype dtype, int ndim, const int64_t *shape, const void *data);
// Convenience: F32 tensor.
void stw_add_f32(StWriter *w, const char *name, int ndim, const int64_t *shape, const float *data);
// Set a metadata string (copied; a later call with the same key replaces the value).
void stw_meta(StWriter *w, const char *key, const char *value);
// Write the file atomically. The writer is left unchanged (write again or free).
int stw_write(const StWriter *w, const char *path, char *err);
void stw_free(StWriter *w);
