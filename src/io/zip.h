// zip.h: a read-only reader of ZIP archives' STORED entries, in place in memory.
//
// Why hand-written: PyTorch's checkpoint format (torch.save since 1.6, e.g. pytorch_model.bin) is a
// ZIP archive whose entries are STORED (uncompressed) with their data padded to 64-byte file
// offsets, precisely so that readers can use the tensor bytes in place from a memory map. The
// Debian zip libraries (libzip, minizip) hand out entries through stream reads into a copy; here we
// only need the central directory, so a small reader gives in-place pointers into the map.
//
// Supported: the end-of-central-directory record, ZIP64 (torch always writes the ZIP64 end record
// and locator), ZIP64 extra fields, STORED entries. Deflated entries are listed but their data is
// refused (torch does not write them); encrypted entries are refused.
// Validation (hostile input gives a one-line error, never an out-of-range read): every offset and
// size is checked against the buffer with overflow-safe arithmetic, the entry count against the
// central directory size, each local header's signature and name against the central one, and
// each entry's data range lies inside the buffer before the central directory. Since nothing is
// decompressed, declared sizes cannot make us allocate or write more than the file holds.
#pragma once
#include <stddef.h>
#include <stdint.h>

typedef struct {
    char *name;           // NUL-terminated copy
    uint16_t method;      // 0 = stored, 8 = deflate (data then unavailable)
    uint32_t crc32;
    uint64_t size;        // uncompressed size
    uint64_t comp_size;
    uint64_t data_offset; // offset of the entry's data in the buffer
    const uint8_t *data;  // buf + data_offset (STORED entries only; NULL otherwise)
} ZipEntry;

typedef struct {
    char *path; // for messages
    const uint8_t *buf;
    size_t size;
    ZipEntry *e;
    int n;
} Zip;

// Parse the central directory of size bytes at buf (buf must outlive the Zip).
int zip_parse(Zip *z, const uint8_t *buf, size_t size, const char *name, char *err);
void zip_free(Zip *z);
const ZipEntry *zip_find(const Zip *z, const char *name); // exact name, NULL if absent
// Check a STORED entry's data against its CRC-32. 0 or -1 with err naming the entry.
int zip_check_crc(const Zip *z, const ZipEntry *e, char *err);
// CRC-32 (ISO-HDLC, as zip and zlib use), continuing from crc (0 to start).
uint32_t zip_crc32(uint32_t crc, const uint8_t *p, size_t n);
