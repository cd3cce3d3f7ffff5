// pickle_write.h: a minimal, streaming writer of Python pickles (protocol 4), enough to write the
// MIRD dataset pickles (INTERFACES.md section 3): dicts, lists, str, float, int, None, bool and
// numpy arrays of float32 / float64 exactly as numpy pickles them, so that Python + numpy
// (`pickle.load`) and this project's reader (io/pickle.h) both load the files.
//
// Why hand-written: Debian ships no C library that writes pickles; the subset needed is small.
//
// Opcodes used (no memo, no framing; both are optional for every unpickler):
//   PROTO 4, STOP, EMPTY_DICT + (SETITEM | MARK .. SETITEMS), EMPTY_LIST + (APPEND | MARK .. APPENDS)
//   with Python's batching of at most 1000 items per SETITEMS / APPENDS, SHORT_BINUNICODE /
//   BINUNICODE / BINUNICODE8, BINFLOAT (big-endian double), BININT1 / BININT2 / BININT / LONG1,
//   NONE, NEWTRUE / NEWFALSE, EMPTY_TUPLE / TUPLE1..3 / MARK .. TUPLE, SHORT_BINBYTES / BINBYTES /
//   BINBYTES8, STACK_GLOBAL, REDUCE, BUILD.
// A numpy array is written the way numpy's ndarray.__reduce__ pickles it under protocols 2-4:
//   numpy.core.multiarray._reconstruct(numpy.ndarray, (0,), b'b')
//   BUILD (1, shape, numpy.dtype('f4', False, True) BUILD (3, '<', None, None, None, -1, -1, 0),
//          False, <raw little-endian C-order bytes>)
//
// Containers take their item count up front (so the opcodes match Python's choices); the writer
// checks that each container receives exactly that many items (dict: key + value per item).
// Errors (I/O, misuse) are sticky: check pkw_finish().
#pragma once
#include <stdint.h>
#include <stdio.h>

#include "core/common.h"

#define PKW_MAX_DEPTH 32

typedef struct {
    FILE *f;
    int failed;
    char msg[MIRD_ERRLEN];
    int depth;
    int64_t want[PKW_MAX_DEPTH];  // objects (dict: keys and values) a container still expects
    int64_t left[PKW_MAX_DEPTH];  // objects still to come in the current batch
    int64_t batch[PKW_MAX_DEPTH]; // items in the current batch
    char kind[PKW_MAX_DEPTH];     // 'd' dict, 'l' list
    int64_t root;                // top-level objects written (must be 1)
} PickleWriter;

// Starts a pickle on an open binary stream (writes PROTO 4).
void pkw_begin(PickleWriter *w, FILE *f);
// Writes STOP, flushes, and reports the first error (one line, into err): 0 ok, -1 failure.
int pkw_finish(PickleWriter *w, char *err);

// Containers: n = number of items (dict: number of key/value pairs); then exactly n items
// (dict: key, value, key, value, ...) and the matching *_end.
void pkw_dict_begin(PickleWriter *w, int64_t n);
void pkw_dict_end(PickleWriter *w);
void pkw_list_begin(PickleWriter *w, int64_t n);
void pkw_list_end(PickleWriter *w);

// Scalars.
void pkw_str(PickleWriter *w, const char *s); // UTF-8, NUL-terminated
void pkw_float(PickleWriter *w, double x);
void pkw_int(PickleWriter *w, int64_t x);
void pkw_none(PickleWriter *w);
void pkw_bool(PickleWriter *w, int b);

// numpy.ndarray of float32 / float64 in C order; shape[ndim], ndim 0..8.
void pkw_ndarray_f32(PickleWriter *w, const float *data, int ndim, const int64_t *shape);
void pkw_ndarray_f64(PickleWriter *w, const double *data, int ndim, const int64_t *shape);
