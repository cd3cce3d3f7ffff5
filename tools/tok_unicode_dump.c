// tok_unicode_dump.c: dumps the utf8proc data the tokenizer uses, one line per code point:
// "CP CATEGORY LOWER CCC NFD..." (hex, category as utf8proc's enum), for
// `tools/tokenizer_ref.py --unicode-diff` to compare with Python's unicodedata:
//   gcc -O2 tools/tok_unicode_dump.c -lutf8proc -o /tmp/tok_unicode_dump && /tmp/tok_unicode_dump > /tmp/ud.txt
//   tools/tokenizer_ref.py --unicode-diff /tmp/ud.txt
#include <stdio.h>
#include <utf8proc.h>

int main(void) {
    printf("# utf8proc %s, Unicode %s\n", utf8proc_version(), utf8proc_unicode_version());
    for (utf8proc_int32_t cp = 0; cp < 0x110000; cp++) {
        if (cp >= 0xD800 && cp < 0xE000) continue;
        utf8proc_int32_t buf[32];
        utf8proc_ssize_t n = utf8proc_decompose_char(cp, buf, 32, UTF8PROC_DECOMPOSE, NULL);
        printf("%X %d %X %d", cp, (int)utf8proc_category(cp), utf8proc_tolower(cp),
               utf8proc_get_property(cp)->combining_class);
        for (utf8proc_ssize_t i = 0; i < n; i++) printf(" %X", buf[i]);
        printf("\n");
    }
    return 0;
}
