// zip.c: see zip.h (why hand-written, what is validated).
#include "io/zip.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "core/common.h"

#define SIG_LOCAL 0x04034b50u
#define SIG_CENTRAL 0x02014b50u
#define SIG_EOCD 0x06054b50u
#define SIG_EOCD64 0x06064b50u
#define SIG_LOC64 0x07064b50u

static uint16_t rd16(const uint8_t *p) { return (uint16_t)(p[0] | (p[1] << 8)); }
static uint32_t rd32(const uint8_t *p) { return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24); }
static uint64_t rd64(const uint8_t *p) { return (uint64_t)rd32(p) | ((uint64_t)rd32(p + 4) << 32); }

// [off, off + len) inside [0, lim)?
static int in_range(uint64_t off, uint64_t len, uint64_t lim) { return off <= lim && len <= lim - off; }

// Slicing-by-8 CRC-32, tables built on first use.
static uint32_t crc_tab[8][256];
static pthread_once_t crc_once = PTHREAD_ONCE_INIT; // threads may read archives concurrently

static void crc_init(void) {
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++) c = (c & 1) ? 0xedb88320u ^ (c >> 1) : c >> 1;
        crc_tab[0][i] = c;
    }
    for (int t = 1; t < 8; t++)
        for (int i = 0; i < 256; i++) crc_tab[t][i] = (crc_tab[t - 1][i] >> 8) ^ crc_tab[0][crc_tab[t - 1][i] & 0xff];
}

uint32_t zip_crc32(uint32_t crc, const uint8_t *p, size_t n) {
    pthread_once(&crc_once, crc_init);
    uint32_t c = ~crc;
    while (n >= 8) {
        uint32_t a = c ^ rd32(p), b = rd32(p + 4);
        c = crc_tab[7][a & 0xff] ^ crc_tab[6][(a >> 8) & 0xff] ^ crc_tab[5][(a >> 16) & 0xff] ^ crc_tab[4][a >> 24] ^
            crc_tab[3][b & 0xff] ^ crc_tab[2][(b >> 8) & 0xff] ^ crc_tab[1][(b >> 16) & 0xff] ^ crc_tab[0][b >> 24];
        p += 8;
        n -= 8;
    }
    while (n--) c = crc_tab[0][(c ^ *p++) & 0xff] ^ (c >> 8);
    return ~c;
}

void zip_free(Zip *z) {
    for (int i = 0; i < z->n; i++) free(z->e[i].name);
    free(z->e);
    free(z->path);
    memset(z, 0, sizeof(*z));
}

static int fail(Zip *z, int rc) {
    zip_free(z);
    return rc;
}

int zip_parse(Zip *z, const uint8_t *buf, size_t size, const char *name, char *err) {
    memset(z, 0, sizeof(*z));
    if (size < 22) return errf(err, "%s: not a zip archive (%zu bytes)", name, size);
    // End of central directory: the last 22-byte record whose comment runs exactly to the end.
    size_t eocd = SIZE_MAX;
    size_t lo = size - 22 > 65535 ? size - 22 - 65535 : 0;
    for (size_t p = size - 22 + 1; p-- > lo;) {
        if (rd32(buf + p) == SIG_EOCD && p + 22 + rd16(buf + p + 20) == size) {
            eocd = p;
            break;
        }
    }
    if (eocd == SIZE_MAX) return errf(err, "%s: not a zip archive (no end-of-central-directory record)", name);
    const uint8_t *e = buf + eocd;
    if (rd16(e + 4) != 0 || rd16(e + 6) != 0) return errf(err, "%s: multi-disk zip archives are not supported", name);
    uint64_t n_ent = rd16(e + 10), cd_size = rd32(e + 12), cd_off = rd32(e + 16);
    uint64_t cd_limit = eocd; // the central directory must end before this
    if (eocd >= 20 && rd32(buf + eocd - 20) == SIG_LOC64) {
        uint64_t r64 = rd64(buf + eocd - 20 + 8);
        if (!in_range(r64, 56, eocd - 20) || rd32(buf + r64) != SIG_EOCD64)
            return errf(err, "%s: corrupt zip archive (bad ZIP64 end record offset)", name);
        const uint8_t *q = buf + r64;
        if (rd32(q + 16) != 0 || rd32(q + 20) != 0) return errf(err, "%s: multi-disk zip archives are not supported", name);
        n_ent = rd64(q + 32);
        cd_size = rd64(q + 40);
        cd_off = rd64(q + 48);
        cd_limit = r64;
    } else if (n_ent == 0xffff || cd_size == 0xffffffffu || cd_off == 0xffffffffu) {
        return errf(err, "%s: corrupt zip archive (ZIP64 sizes without a ZIP64 end record)", name);
    }
    if (!in_range(cd_off, cd_size, cd_limit))
        return errf(err, "%s: corrupt zip archive (central directory at %llu+%llu outside the file)", name,
                    (unsigned long long)cd_off, (unsigned long long)cd_size);
    if (n_ent > cd_size / 46)
        return errf(err, "%s: corrupt zip archive (%llu entries cannot fit a %llu-byte central directory)", name,
                    (unsigned long long)n_ent, (unsigned long long)cd_size);
    z->path = xstrdup(name);
    z->buf = buf;
    z->size = size;
    z->e = xcalloc(n_ent ? (size_t)n_ent : 1, sizeof(ZipEntry));
    uint64_t p = cd_off, cd_end = cd_off + cd_size;
    for (uint64_t i = 0; i < n_ent; i++) {
        if (!in_range(p, 46, cd_end) || rd32(buf + p) != SIG_CENTRAL)
            return fail(z, errf(err, "%s: corrupt zip archive (central directory entry %llu)", name, (unsigned long long)i));
        const uint8_t *c = buf + p;
        uint16_t flags = rd16(c + 8), method = rd16(c + 10);
        uint32_t crc = rd32(c + 16);
        uint64_t csize = rd32(c + 20), usize = rd32(c + 24), loff = rd32(c + 42);
        uint16_t nlen = rd16(c + 28), xlen = rd16(c + 30), clen = rd16(c + 32);
        if (!in_range(p + 46, (uint64_t)nlen + xlen + clen, cd_end))
            return fail(z, errf(err, "%s: corrupt zip archive (central directory entry %llu overruns)", name,
                                (unsigned long long)i));
        const uint8_t *nm = c + 46, *x = nm + nlen;
        if (memchr(nm, 0, nlen))
            return fail(z, errf(err, "%s: corrupt zip archive (NUL in entry name)", name));
        char *ename = xmalloc((size_t)nlen + 1);
        memcpy(ename, nm, nlen);
        ename[nlen] = 0;
        ZipEntry *ze = &z->e[z->n++];
        ze->name = ename;
        // ZIP64 extended information: the fields that are saturated, in this order.
        for (uint32_t k = 0; k + 4 <= xlen;) {
            uint16_t id = rd16(x + k), len = rd16(x + k + 2);
            if (k + 4 + (uint32_t)len > xlen) break;
            if (id == 0x0001) {
                const uint8_t *f = x + k + 4;
                uint32_t left = len;
                if (usize == 0xffffffffu) {
                    if (left < 8) break;
                    usize = rd64(f), f += 8, left -= 8;
                }
                if (csize == 0xffffffffu) {
                    if (left < 8) break;
                    csize = rd64(f), f += 8, left -= 8;
                }
                if (loff == 0xffffffffu) {
                    if (left < 8) break;
                    loff = rd64(f), f += 8, left -= 8;
                }
            }
            k += 4 + (uint32_t)len;
        }
        if (usize == 0xffffffffu || csize == 0xffffffffu || loff == 0xffffffffu)
            return fail(z, errf(err, "%s: corrupt zip archive (entry '%s': missing ZIP64 sizes)", name, ename));
        if (flags & 1) return fail(z, errf(err, "%s: entry '%s' is encrypted", name, ename));
        if (!in_range(loff, 30, cd_off) || rd32(buf + loff) != SIG_LOCAL)
            return fail(z, errf(err, "%s: corrupt zip archive (entry '%s': bad local header offset %llu)", name, ename,
                                (unsigned long long)loff));
        const uint8_t *l = buf + loff;
        uint64_t lnlen = rd16(l + 26), lxlen = rd16(l + 28);
        if (!in_range(loff + 30, lnlen + lxlen, cd_off) || lnlen != nlen || memcmp(l + 30, nm, nlen) != 0)
            return fail(z, errf(err, "%s: corrupt zip archive (entry '%s': local header does not match)", name, ename));
        uint64_t doff = loff + 30 + lnlen + lxlen;
        if (!in_range(doff, csize, cd_off))
            return fail(z, errf(err, "%s: corrupt zip archive (entry '%s': %llu data bytes at %llu run past the data area)",
                                name, ename, (unsigned long long)csize, (unsigned long long)doff));
        if (method == 0 && csize != usize)
            return fail(z, errf(err, "%s: corrupt zip archive (stored entry '%s' with different sizes)", name, ename));
        ze->method = method;
        ze->crc32 = crc;
        ze->size = usize;
        ze->comp_size = csize;
        ze->data_offset = doff;
        ze->data = method == 0 ? buf + doff : NULL;
        p += 46 + (uint64_t)nlen + xlen + clen;
    }
    return 0;
}

const ZipEntry *zip_find(const Zip *z, const char *name) {
    for (int i = 0; i < z->n; i++)
        if (!strcmp(z->e[i].name, name)) return &z->e[i];
    return NULL;
}

int zip_check_crc(const Zip *z, const ZipEntry *e, char *err) {
    if (!e->data) return errf(err, "%s: entry '%s' is compressed (method %u), only stored entries are supported", z->path,
                              e->name, e->method);
    uint32_t c = zip_crc32(0, e->data, (size_t)e->size);
    if (c != e->crc32)
        return errf(err, "%s: entry '%s' is corrupt (CRC-32 %08x, expected %08x)", z->path, e->name, c, e->crc32);
    return 0;
}
