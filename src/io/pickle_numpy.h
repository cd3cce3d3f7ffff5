// pickle_numpy.h: numpy arrays and scalars from a parsed pickle tree (io/pickle.h), without numpy.
//
// numpy pickles an ndarray in one of two ways, both only DESCRIBED by the tree (nothing executes):
//  - numpy.core.multiarray._reconstruct(numpy.ndarray, (0,), b'b') followed by BUILD with the state
//    (version, shape, dtype, is_fortran, data). data is bytes (protocols 3+), or for protocol 2 a
//    _codecs.encode(str, 'latin1') call whose str holds the bytes as code points < 256 (decoded here
//    into a copy), or a list of objects for dtype=object;
//  - protocol 5: numpy.core.numeric._frombuffer(bytearray-or-bytes, dtype, shape, order 'C'|'F').
// A dtype is numpy.dtype(typestr, False, True) followed by BUILD with (3, byteorder, ...) where
// byteorder is '<', '>', '|' or '=' (native, little-endian here). Scalars (numpy.float64 labels) are
// numpy.core.multiarray.scalar(dtype, bytes). numpy 2 spells the modules numpy._core.*; both work.
// Bytes payloads stay where the pickle put them (in the mapped file); nothing is copied except the
// protocol-2 latin-1 text, which is decoded into the pickle's arena.
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "io/pickle.h"

// The globals numpy arrays, dtypes and scalars need (for PickleOptions.allow), NULL-terminated.
extern const char *const PK_NUMPY_GLOBALS[];

#define PK_MAX_DIMS 8

typedef struct {
    char kind;      // 'f' float, 'i' signed int, 'u' unsigned int, 'b' bool, 'U' UCS-4 text, 'S' bytes, 'O' object
    int itemsize;   // bytes per element ('U': 4 per character)
    int big_endian; // multi-byte elements stored big-endian ('>' in numpy)
} PkDtype;

typedef struct {
    PkDtype dtype;
    int ndim;
    int64_t shape[PK_MAX_DIMS];
    size_t numel;
    int fortran;          // elements stored in Fortran (column-major) order
    const uint8_t *data;  // numel * itemsize bytes (not 'O'): in the input, or the arena when copied
    size_t nbytes;
    int copied;           // 1 when data was decoded (protocol 2)
    const PkObj *items;   // 'O' arrays: list of numel objects, storage order
} PkArray;

int pk_is_ndarray(const PkObj *o); // a _reconstruct or _frombuffer node
// Describe an ndarray node. `what` names it in errors ("FILE: WHAT: ..."). 0 ok, -1 with err.
int pk_ndarray(Pickle *pk, const PkObj *o, const char *what, PkArray *a, char *err);
// A Python int / float / bool, or a numpy scalar, as a double.
int pk_number(Pickle *pk, const PkObj *o, const char *what, double *v, char *err);

// Element i (C-order flat index) of a numeric array as a double.
double pk_array_at(const PkArray *a, size_t i);
// Elements [begin, begin + n) (C order) converted to float32 / float64 / int64.
void pk_array_to_f32(const PkArray *a, size_t begin, size_t n, float *dst);
void pk_array_to_f64(const PkArray *a, size_t begin, size_t n, double *dst);
// 1 when the data is float32 little-endian in C order at a 4-byte aligned address: usable in place.
int pk_array_is_f32_view(const PkArray *a);
int pk_array_is_numeric(const PkArray *a);

// A list/tuple of numbers (ints, floats, numpy scalars) or a numeric ndarray (flattened, C order):
// heap array of n doubles (caller frees).
int pk_numbers(Pickle *pk, const PkObj *o, const char *what, double **out, size_t *n, char *err);
// A list/tuple of str, or an ndarray of str ('U', or 'O' holding str): n heap NUL-terminated UTF-8
// strings (free each and the array; see pk_free_strs). Trailing NULs of 'U' items are dropped, as
// numpy does.
int pk_strs(Pickle *pk, const PkObj *o, const char *what, char ***out, size_t *n, char *err);
void pk_free_strs(char **s, size_t n);
