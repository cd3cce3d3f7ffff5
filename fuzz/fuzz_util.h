// fuzz_util.h: helpers shared by the libFuzzer targets (fuzz/fuzz_*.c).
// Parsers that only take a path (vocab_load, checkpoint_load, ...) read the input through an
// in-memory file (memfd) named /proc/self/fd/N: no disk traffic, no temporary files left behind.
// Parsers that take a buffer are fed libFuzzer's own heap copy of the input, whose exact size
// lets AddressSanitizer catch a read even one byte past the end.
#pragma once
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "core/common.h"
#include "text/tokenizer.h"

// Replace the contents of the process's in-memory file with data[0..n) and return its path.
static inline const char *fuzz_memfile(const uint8_t *data, size_t n) {
    static int fd = -1;
    static char path[64];
    if (fd < 0) {
        fd = memfd_create("fuzz-input", 0);
        if (fd < 0) {
            perror("memfd_create");
            abort();
        }
        snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
    }
    if (ftruncate(fd, 0) != 0 || ftruncate(fd, (off_t)n) != 0) abort();
    size_t done = 0;
    while (done < n) {
        ssize_t w = pwrite(fd, data + done, n - done, (off_t)done);
        if (w <= 0) abort();
        done += (size_t)w;
    }
    return path;
}

// A sink for output the targets produce (inspect JSON, dumps): /dev/null, opened once.
static inline FILE *fuzz_devnull(void) {
    static FILE *f;
    if (!f) f = fopen("/dev/null", "w");
    if (!f) abort();
    return f;
}

// A failure must come with a message, and the message must be one line (errf replaces control
// characters, so a newline copied from a hostile name cannot split it). FUZZ_ONE_LINE=0 in the
// environment turns the one-line check off.
static inline void fuzz_check_err(const char *err) {
    static int strict = -1;
    if (strict < 0) strict = !(getenv("FUZZ_ONE_LINE") && getenv("FUZZ_ONE_LINE")[0] == '0');
    if (!err[0]) {
        fprintf(stderr, "a failure without an error message\n");
        abort();
    }
    for (const char *p = err; strict && *p; p++)
        if (*p == '\n') {
            fprintf(stderr, "error message is not one line: %s\n", err);
            abort();
        }
}

// The vocabulary the text-reading targets use: $MIRD_FUZZ_VOCAB, else the tiny committed one.
static inline const char *fuzz_vocab_path(void) {
    const char *path = getenv("MIRD_FUZZ_VOCAB");
    return path && *path ? path : "tests/fixtures/tok_tiny_vocab.txt";
}

// Load that vocabulary's tokenizer once, at start-up; a missing file ends the run with a hint.
static inline Tokenizer *fuzz_load_tokenizer(const char *target) {
    Tokenizer *tok = NULL;
    char err[MIRD_ERRLEN];
    if (tokenizer_load(&tok, fuzz_vocab_path(), err) != 0) {
        fprintf(stderr, "%s: %s (run from the repo root or set MIRD_FUZZ_VOCAB)\n", target, err);
        exit(1);
    }
    return tok;
}
