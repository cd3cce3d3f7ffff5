// test_safetensors.c: the safetensors reader and writer: round trips of every dtype (scalars and
// empty tensors included), the HF layout conventions (padded header, sorted aligned data), the
// float/int conversions, and hostile inputs (every truncation, every flipped header byte, huge
// header lengths, overlapping or out-of-range offsets, bad dtypes and shapes) giving a one-line error.
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/common.h"
#include "io/safetensors.h"
#include "testutil.h"

static char tmp_path[256];

static const char *tmpfile_path(const char *tag) {
    snprintf(tmp_path, sizeof(tmp_path), "build/test_st_%s_%ld.safetensors", tag, (long)getpid());
    return tmp_path;
}

static void assert_one_line(const char *err) {
    assert_true(err[0] != 0);
    assert_null(strchr(err, '\n'));
}

// Parse a private heap copy of exactly `n` bytes so the sanitizer catches any read past the end.
static int parse_copy(const uint8_t *buf, size_t n, char *err) {
    uint8_t *c = xmalloc(n);
    if (n) memcpy(c, buf, n);
    StFile f;
    int rc = st_parse(&f, c, n, "mem.safetensors", err);
    if (rc == 0) {
        // touch every tensor's bytes: they must lie inside the buffer
        volatile unsigned s = 0;
        for (int i = 0; i < st_count(&f); i++) {
            const StTensor *t = st_tensor(&f, i);
            for (size_t k = 0; k < t->nbytes; k++) s += ((const uint8_t *)t->data)[k];
        }
        st_close(&f);
    }
    free(c);
    return rc;
}

static void test_roundtrip_all_dtypes(void **state) {
    (void)state;
    double f64[3] = {1.5, -2.25, 1e300};
    float f32[6] = {1, 2, 3, 4, 5, -0.0f};
    uint16_t f16[4] = {0x3c00, 0xc000, 0x0001, 0x7c00};  // 1, -2, smallest subnormal, inf
    uint16_t bf16[3] = {0x3f80, 0xc040, 0x0000};         // 1, -3, 0
    int64_t i64[2] = {-5, 3000000000LL};
    int32_t i32[2] = {-7, 7};
    int16_t i16[2] = {-300, 300};
    int8_t i8[2] = {-128, 127};
    uint8_t u8[2] = {0, 255};
    uint8_t bl[3] = {1, 0, 1};
    float scalar = 42.0f;
    StWriter w;
    stw_init(&w);
    int64_t s1[1] = {3}, s23[2] = {2, 3}, s4[1] = {4}, s2[1] = {2}, s0[2] = {0, 5};
    stw_add(&w, "f64", ST_F64, 1, s1, f64);
    stw_add_f32(&w, "b.f32", 2, s23, f32);
    stw_add(&w, "f16", ST_F16, 1, s4, f16);
    stw_add(&w, "bf16", ST_BF16, 1, s1, bf16);
    stw_add(&w, "i64", ST_I64, 1, s2, i64);
    stw_add(&w, "i32", ST_I32, 1, s2, i32);
    stw_add(&w, "i16", ST_I16, 1, s2, i16);
    stw_add(&w, "i8", ST_I8, 1, s2, i8);
    stw_add(&w, "u8", ST_U8, 1, s2, u8);
    stw_add(&w, "bool", ST_BOOL, 1, s1, bl);
    stw_add_f32(&w, "scalar", 0, NULL, &scalar);
    stw_add_f32(&w, "empty", 2, s0, NULL);
    stw_meta(&w, "mird.config", "{\"d_a\": 5}");
    stw_meta(&w, "note", "x");
    stw_meta(&w, "note", "y \"quoted\" \xc3\xa9");
    char err[MIRD_ERRLEN] = "";
    const char *path = tmpfile_path("rt");
    assert_int_equal(stw_write(&w, path, err), 0);
    stw_free(&w);

    StFile f;
    if (st_open(&f, path, err) != 0) fail_msg("%s", err);
    assert_int_equal(st_count(&f), 12);
    assert_string_equal(st_meta(&f, "mird.config"), "{\"d_a\": 5}");
    assert_string_equal(st_meta(&f, "note"), "y \"quoted\" \xc3\xa9");
    assert_null(st_meta(&f, "absent"));
    assert_null(st_find(&f, "absent"));
    // HF conventions: header length a multiple of 8, data sorted by item size then name, aligned.
    uint64_t hlen;
    memcpy(&hlen, f.mf_.data, 8);
    assert_int_equal(hlen % 8, 0);
    assert_int_equal(f.mf_.data[8 + hlen - 1] == ' ' || f.mf_.data[8 + hlen - 1] == '}', 1);
    for (int i = 0; i < st_count(&f); i++) {
        const StTensor *t = st_tensor(&f, i);
        assert_int_equal((uintptr_t)t->data % st_dtype_size(t->dtype), 0);
        if (i > 0) assert_true(st_dtype_size(st_tensor(&f, i - 1)->dtype) >= st_dtype_size(t->dtype));
    }
    assert_string_equal(st_tensor(&f, 0)->name, "f64");

    float out[8];
    const StTensor *t = st_find(&f, "b.f32");
    assert_non_null(t);
    assert_int_equal(t->ndim, 2);
    assert_int_equal(t->shape[0], 2);
    assert_int_equal(t->shape[1], 3);
    assert_int_equal(st_to_f32(&f, t, out, 6, err), 0);
    assert_memory_equal(out, f32, sizeof(f32));
    assert_int_equal(st_to_f32(&f, t, out, 5, err), -1); // wrong count
    assert_one_line(err);
    assert_int_equal(st_to_f32(&f, st_find(&f, "f16"), out, 4, err), 0);
    assert_true(out[0] == 1.0f && out[1] == -2.0f && out[2] == ldexpf(1.0f, -24) && isinf(out[3]));
    assert_int_equal(st_to_f32(&f, st_find(&f, "bf16"), out, 3, err), 0);
    assert_true(out[0] == 1.0f && out[1] == -3.0f && out[2] == 0.0f);
    assert_int_equal(st_to_f32(&f, st_find(&f, "f64"), out, 3, err), 0);
    assert_true(out[0] == 1.5f && out[1] == -2.25f && isinf(out[2]));
    t = st_find(&f, "scalar");
    assert_int_equal(t->ndim, 0);
    assert_int_equal(t->numel, 1);
    assert_int_equal(st_to_f32(&f, t, out, 1, err), 0);
    assert_true(out[0] == 42.0f);
    t = st_find(&f, "empty");
    assert_int_equal(t->numel, 0);
    assert_int_equal(st_to_f32(&f, t, out, 0, err), 0);

    int32_t iv[3];
    assert_int_equal(st_to_i32(&f, st_find(&f, "i64"), iv, 2, err), -1); // 3e9 out of range
    assert_one_line(err);
    assert_non_null(strstr(err, "i64"));
    assert_int_equal(st_to_i32(&f, st_find(&f, "i32"), iv, 2, err), 0);
    assert_true(iv[0] == -7 && iv[1] == 7);
    assert_int_equal(st_to_i32(&f, st_find(&f, "i16"), iv, 2, err), 0);
    assert_true(iv[0] == -300 && iv[1] == 300);
    assert_int_equal(st_to_i32(&f, st_find(&f, "i8"), iv, 2, err), 0);
    assert_true(iv[0] == -128 && iv[1] == 127);
    assert_int_equal(st_to_i32(&f, st_find(&f, "u8"), iv, 2, err), 0);
    assert_true(iv[0] == 0 && iv[1] == 255);
    assert_int_equal(st_to_i32(&f, st_find(&f, "bool"), iv, 3, err), 0);
    assert_true(iv[0] == 1 && iv[1] == 0 && iv[2] == 1);
    assert_int_equal(st_to_i32(&f, st_find(&f, "b.f32"), iv, 6, err), -1);
    assert_one_line(err);
    st_close(&f);
    unlink(path);
}

static void test_i64_in_range(void **state) {
    (void)state;
    int64_t ids[4] = {101, 2023, 102, 0};
    int64_t s[2] = {2, 2};
    StWriter w;
    stw_init(&w);
    stw_add(&w, "input_ids", ST_I64, 2, s, ids);
    char err[MIRD_ERRLEN];
    const char *path = tmpfile_path("i64");
    assert_int_equal(stw_write(&w, path, err), 0);
    stw_free(&w);
    StFile f;
    assert_int_equal(st_open(&f, path, err), 0);
    int32_t out[4];
    assert_int_equal(st_to_i32(&f, st_find(&f, "input_ids"), out, 4, err), 0);
    assert_true(out[0] == 101 && out[1] == 2023 && out[2] == 102 && out[3] == 0);
    st_close(&f);
    unlink(path);
}

static void test_f16_all_values(void **state) {
    (void)state;
    // every finite half converts exactly: value = (-1)^s * 2^(e-15) * (1 + m/1024), subnormals 2^-14 * m/1024
    for (uint32_t h = 0; h < 65536; h++) {
        uint32_t s = h >> 15, e = (h >> 10) & 31, m = h & 1023;
        float got = st_f16_to_f32((uint16_t)h);
        if (e == 31) {
            assert_true(m ? isnan(got) : isinf(got));
            continue;
        }
        double want = e ? ldexp(1.0 + m / 1024.0, (int)e - 15) : ldexp(m / 1024.0, -14);
        if (s) want = -want;
        if ((double)got != want) fail_msg("f16 %04x: got %g want %g", h, (double)got, want);
        if (s && !e && !m) assert_true(signbit(got));
    }
}

static void test_writer_errors(void **state) {
    (void)state;
    float x[2] = {1, 2};
    int64_t s[1] = {2};
    char err[MIRD_ERRLEN];
    StWriter w;
    stw_init(&w);
    stw_add_f32(&w, "a", 1, s, x);
    stw_add_f32(&w, "a", 1, s, x);
    const char *path = tmpfile_path("dup");
    assert_int_equal(stw_write(&w, path, err), -1);
    assert_one_line(err);
    assert_non_null(strstr(err, "duplicate"));
    assert_int_equal(access(path, F_OK), -1); // nothing written
    stw_free(&w);
    assert_int_equal(stw_write(&w, "build/no/such/dir/x.safetensors", err), -1);
    assert_one_line(err);
    stw_meta(&w, "bad", "\xff\xfe");
    assert_int_equal(stw_write(&w, path, err), -1);
    assert_non_null(strstr(err, "UTF-8"));
    stw_free(&w);
    stw_add_f32(&w, "caf\xe9", 1, s, x); // Latin-1, not UTF-8
    assert_int_equal(stw_write(&w, path, err), -1);
    assert_non_null(strstr(err, "UTF-8"));
    stw_free(&w);
    assert_int_equal(access(path, F_OK), -1);
}

// Build a raw file from a header string and `dlen` data bytes.
static uint8_t *raw_file(const char *hdr, size_t dlen, size_t *n) {
    size_t h = strlen(hdr);
    *n = 8 + h + dlen;
    uint8_t *b = xcalloc(*n, 1);
    for (int i = 0; i < 8; i++) b[i] = (uint8_t)((uint64_t)h >> (8 * i));
    memcpy(b + 8, hdr, h);
    for (size_t i = 0; i < dlen; i++) b[8 + h + i] = (uint8_t)i;
    return b;
}

static void expect_bad(const char *hdr, size_t dlen, const char *needle) {
    size_t n;
    uint8_t *b = raw_file(hdr, dlen, &n);
    char err[MIRD_ERRLEN] = "";
    if (parse_copy(b, n, err) == 0) fail_msg("accepted bad header: %s", hdr);
    assert_one_line(err);
    if (needle && !strstr(err, needle)) fail_msg("error '%s' lacks '%s'", err, needle);
    free(b);
}

static void test_bad_headers(void **state) {
    (void)state;
    size_t n;
    char err[MIRD_ERRLEN];
    uint8_t *ok = raw_file("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8, &n);
    assert_int_equal(parse_copy(ok, n, err), 0);
    free(ok);
    expect_bad("{\"a\":{\"dtype\":\"F8\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8, "dtype");
    expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}", 8, "shape");
    expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[2.0],\"data_offsets\":[0,8]}}", 8, "shape");
    expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 8, "needs");
    expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,12]}}", 8, "outside");
    expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,0]}}", 8, "outside");
    expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[-8,0]}}", 8, "outside");
    expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0]}}", 8, "data_offsets");
    expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[2]}}", 8, "data_offsets");
    expect_bad("{\"a\":{\"shape\":[2],\"data_offsets\":[0,8]}}", 8, "dtype");
    expect_bad("{\"a\":{\"dtype\":\"F32\",\"data_offsets\":[0,8]}}", 8, "shape");
    expect_bad("{\"a\":[1,2]}", 8, "not an object");
    expect_bad("[1,2]", 8, NULL);
    expect_bad("{\"a\":1", 8, "JSON");
    expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
               "\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8, "JSON");
    // overflow: 2^62 * 2^62 elements, and numel * itemsize overflow
    expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[4611686018427387904,4611686018427387904],\"data_offsets\":[0,8]}}", 8,
               "overflow");
    expect_bad("{\"a\":{\"dtype\":\"F64\",\"shape\":[4611686018427387904],\"data_offsets\":[0,8]}}", 8, "overflow");
    expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,1,1],\"data_offsets\":[0,4]}}", 8, "dimensions");
    expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,99999999999999999999]}}", 8, "JSON");
    // overlap
    expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
               "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8, "overlap");
    expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
               "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8, "overlap");
    expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
               "\"e\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[4,4]},"
               "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8, "overlap");
    expect_bad("{\"__metadata__\":{\"k\":1}}", 0, "metadata");
    expect_bad("{\"__metadata__\":[1]}", 0, "metadata");
    expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},\"n\":{\"dtype\":\"F32\",\"shape\":[0],"
               "\"data_offsets\":[4,4]}}extra", 8, "JSON");
    // an empty tensor inside another's range is not an overlap; a zero-dim shape with huge others is fine
    ok = raw_file("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},\"n\":{\"dtype\":\"F32\",\"shape\":"
                  "[0,4611686018427387904,4611686018427387904],\"data_offsets\":[4,4]}}", 8, &n);
    assert_int_equal(parse_copy(ok, n, err), 0);
    free(ok);
    // header lengths: huge, larger than the file, too small
    uint8_t b[16] = {0};
    memset(b, 0xff, 8);
    assert_int_equal(parse_copy(b, 16, err), -1);
    assert_one_line(err);
    memset(b, 0, 16);
    b[0] = 100;
    assert_int_equal(parse_copy(b, 16, err), -1);
    assert_non_null(strstr(err, "truncated"));
    b[0] = 0;
    assert_int_equal(parse_copy(b, 16, err), -1);
    assert_int_equal(parse_copy(b, 5, err), -1);
    assert_int_equal(parse_copy(b, 0, err), -1);
    assert_one_line(err);
}

static void test_truncations_and_flips(void **state) {
    (void)state;
    float a[6] = {1, 2, 3, 4, 5, 6};
    int64_t ids[3] = {1, 2, 3};
    uint16_t h[2] = {0x3c00, 0x4000};
    int64_t s23[2] = {2, 3}, s3[1] = {3}, s2[1] = {2};
    StWriter w;
    stw_init(&w);
    stw_add_f32(&w, "layer.weight", 2, s23, a);
    stw_add(&w, "ids", ST_I64, 1, s3, ids);
    stw_add(&w, "half", ST_F16, 1, s2, h);
    stw_meta(&w, "mird.config", "{}");
    char err[MIRD_ERRLEN];
    const char *path = tmpfile_path("trunc");
    assert_int_equal(stw_write(&w, path, err), 0);
    stw_free(&w);
    uint8_t *buf;
    size_t n;
    assert_int_equal(read_file_all(path, (char **)&buf, &n, err), 0);
    unlink(path);
    assert_int_equal(parse_copy(buf, n, err), 0);
    for (size_t k = 0; k < n; k++) {
        err[0] = 0;
        if (parse_copy(buf, k, err) == 0) fail_msg("truncation to %zu of %zu bytes accepted", k, n);
        assert_one_line(err);
    }
    uint64_t hlen;
    memcpy(&hlen, buf, 8);
    int rejected = 0;
    for (size_t k = 0; k < 8 + hlen; k++)
        for (int bit = 0; bit < 8; bit += 3) {
            buf[k] ^= (uint8_t)(1u << bit);
            err[0] = 0;
            if (parse_copy(buf, n, err) != 0) {
                assert_one_line(err);
                rejected++;
            }
            buf[k] ^= (uint8_t)(1u << bit);
        }
    assert_true(rejected > (int)(8 + hlen)); // most flips must be caught (some only rename a tensor)
    free(buf);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip_all_dtypes), cmocka_unit_test(test_i64_in_range),
        cmocka_unit_test(test_f16_all_values),       cmocka_unit_test(test_writer_errors),
        cmocka_unit_test(test_bad_headers),          cmocka_unit_test(test_truncations_and_flips),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
