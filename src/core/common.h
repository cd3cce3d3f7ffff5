// common.h: allocation, error reporting and file helpers shared by every module.
// Library functions that can fail on bad input return 0 on success and -1 on failure,
// writing a one-line message into a caller-provided buffer `char err[MIRD_ERRLEN]`.
// Only the CLI turns such failures into exit codes.
#pragma once
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define MIRD_ERRLEN 512
#define MIRD_VERSION "0.1.0"

// printf-style write into an error buffer (may be NULL); returns -1 for `return errf(...)`.
int errf(char *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

// Allocation that never returns NULL: on failure prints a one-line error and exits 1.
void *xmalloc(size_t n);
void *xcalloc(size_t count, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
// 64-byte aligned, zeroed allocation for float buffers (free with free()).
float *falloc(size_t n);
// 64-byte aligned allocation (not zeroed; NULL when out of memory; free with free()); from 2 MiB up
// on a 2 MiB boundary with transparent huge pages requested (common.c says why).
void *alloc_big(size_t bytes);

// Read-only memory map of a whole file. Returns 0 and fills data/size, or -1 with err.
typedef struct {
    const uint8_t *data;
    size_t size;
    void *base_; // for unmapping
    size_t map_size_;
} MappedFile;
int map_file(MappedFile *mf, const char *path, char *err);
void unmap_file(MappedFile *mf);

// Read a whole (small) file into a NUL-terminated heap buffer.
int read_file_all(const char *path, char **out, size_t *len, char *err);

// Atomic output: write to "<path>.tmp.<pid>", fsync, rename over path on commit.
// On abort (or if commit fails) the temporary file is removed and `path` is untouched.
typedef struct {
    FILE *f;
    char path[4096];
    char tmp[4200];
} AtomicFile;
int atomic_open(AtomicFile *af, const char *path, char *err);
int atomic_commit(AtomicFile *af, char *err); // closes the file
void atomic_abort(AtomicFile *af);
