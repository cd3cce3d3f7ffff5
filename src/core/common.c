// common.c: see common.h.
#include "common.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

int errf(char *err, const char *fmt, ...) {
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, MIRD_ERRLEN, fmt, ap);
        va_end(ap);
        // One line, whatever names a hostile file smuggles in (a tensor or key named "a\nmird: ..."):
        // control characters become '?'.
        for (char *p = err; *p; p++)
            if ((unsigned char)*p < 0x20 || *p == 0x7f) *p = '?';
    }
    return -1;
}

static void oom(size_t n) {
    fprintf(stderr, "mird: out of memory allocating %zu bytes\n", n);
    exit(1);
}

void *xmalloc(size_t n) {
    void *p = malloc(n ? n : 1);
    if (!p) oom(n);
    return p;
}

void *xcalloc(size_t count, size_t size) {
    void *p = calloc(count ? count : 1, size ? size : 1);
    if (!p) oom(count * size);
    return p;
}

void *xrealloc(void *p, size_t n) {
    void *q = realloc(p, n ? n : 1);
    if (!q) oom(n);
    return q;
}

char *xstrdup(const char *s) {
    size_t n = strlen(s) + 1;
    char *p = xmalloc(n);
    memcpy(p, s, n);
    return p;
}

// Buffers of 2 MiB or more (parameters, gradients, optimiser states, activations, bfloat16 copies:
// gigabytes at the paper's size) start on a 2 MiB boundary and ask for transparent huge pages
// (Linux's default THP mode is "madvise": nothing gets them unless asked). With 4 KiB pages the
// products' operands at the paper's batch (7200 token rows) overflow the TLB: a [7200,768] x
// [768,768]^T bfloat16 product took 20 ms instead of 11.6. Zeroing also costs one page fault per
// 2 MiB instead of per 4 KiB (12-layer `mird bench` set-up: 1.35 M faults and 34 s became 52 k and
// 20 s). Where the kernel refuses, madvise is a no-op and small pages are used.
#define HUGE_PAGE ((size_t)2 << 20)
void *alloc_big(size_t bytes) {
    void *p = NULL;
    int huge = bytes >= HUGE_PAGE;
    if (posix_memalign(&p, huge ? HUGE_PAGE : 64, bytes ? bytes : 64) != 0) return NULL;
#ifdef MADV_HUGEPAGE
    if (huge) (void)madvise(p, bytes & ~(HUGE_PAGE - 1), MADV_HUGEPAGE);
#endif
    return p;
}

float *falloc(size_t n) {
    size_t bytes = (n * sizeof(float) + 63) & ~(size_t)63;
    void *p = alloc_big(bytes);
    if (!p) oom(bytes);
    memset(p, 0, bytes);
    return p;
}

int map_file(MappedFile *mf, const char *path, char *err) {
    memset(mf, 0, sizeof(*mf));
    int fd = open(path, O_RDONLY);
    if (fd < 0) return errf(err, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) {
        close(fd);
        return errf(err, "%s: cannot stat: %s", path, strerror(errno));
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return errf(err, "%s: not a regular file", path);
    }
    mf->size = (size_t)st.st_size;
    if (mf->size == 0) {
        close(fd);
        mf->data = (const uint8_t *)"";
        return 0;
    }
    void *p = mmap(NULL, mf->size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (p == MAP_FAILED) return errf(err, "%s: cannot map: %s", path, strerror(errno));
    mf->base_ = p;
    mf->map_size_ = mf->size;
    mf->data = p;
    return 0;
}

void unmap_file(MappedFile *mf) {
    if (mf->base_) munmap(mf->base_, mf->map_size_);
    memset(mf, 0, sizeof(*mf));
}

int read_file_all(const char *path, char **out, size_t *len, char *err) {
    // O_NONBLOCK so that a FIFO planted where a config or vocabulary should be cannot block open();
    // only regular files below READ_FILE_MAX are read (configs and vocabularies are far smaller).
    enum { READ_FILE_MAX = 1 << 30 };
    int fd = open(path, O_RDONLY | O_NONBLOCK);
    if (fd < 0) return errf(err, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return errf(err, "%s: cannot stat: %s", path, strerror(e));
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return errf(err, "%s: not a regular file", path);
    }
    if (st.st_size > READ_FILE_MAX) {
        close(fd);
        return errf(err, "%s: too large (%lld bytes; at most %d)", path, (long long)st.st_size, READ_FILE_MAX);
    }
    size_t cap = (size_t)st.st_size + 1, n = 0;
    char *buf = xmalloc(cap);
    while (n + 1 < cap) { // the file may shrink or grow while we read: stop at EOF or at the size seen
        ssize_t r = read(fd, buf + n, cap - 1 - n);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) {
            int e = errno;
            close(fd);
            free(buf);
            return errf(err, "%s: read error: %s", path, strerror(e));
        }
        if (r == 0) break;
        n += (size_t)r;
    }
    close(fd);
    buf[n] = 0;
    *out = buf;
    if (len) *len = n;
    return 0;
}

int atomic_open(AtomicFile *af, const char *path, char *err) {
    memset(af, 0, sizeof(*af));
    if (strlen(path) >= sizeof(af->path)) return errf(err, "%s: path too long", path);
    strcpy(af->path, path);
    snprintf(af->tmp, sizeof(af->tmp), "%s.tmp.%ld", path, (long)getpid());
    af->f = fopen(af->tmp, "wb");
    if (!af->f) return errf(err, "%s: cannot write: %s", path, strerror(errno));
    return 0;
}

int atomic_commit(AtomicFile *af, char *err) {
    if (!af->f) return errf(err, "%s: not open", af->path);
    int bad = fflush(af->f) != 0 || ferror(af->f);
    if (!bad) bad = fsync(fileno(af->f)) != 0;
    int e = errno;
    bad |= fclose(af->f) != 0;
    af->f = NULL;
    if (bad) {
        unlink(af->tmp);
        return errf(err, "%s: write failed: %s", af->path, strerror(e ? e : EIO));
    }
    if (rename(af->tmp, af->path) != 0) {
        e = errno;
        unlink(af->tmp);
        return errf(err, "%s: cannot rename into place: %s", af->path, strerror(e));
    }
    return 0;
}

void atomic_abort(AtomicFile *af) {
    if (af->f) fclose(af->f);
    af->f = NULL;
    if (af->tmp[0]) unlink(af->tmp);
}
