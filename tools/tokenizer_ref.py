#!/usr/bin/python3
"""tokenizer_ref.py: a pure-Python re-implementation of Hugging Face's slow `BertTokenizer`
(do_lower_case=True, tokenize_chinese_chars=True, strip_accents=None), written from the algorithm
as the golden reference for src/text/tokenizer.c. It needs only the standard library (unicodedata).

The pipeline it reproduces, step by step, for one text:
 1. PreTrainedTokenizer.tokenize: with do_lower_case, every character that is not part of a special
    token written exactly ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]") is lower-cased ONE CHARACTER
    AT A TIME (HF does re.sub(r"(SPECIALS)|(.+?)", ...): the lazy `.+?` matches single characters),
    so str.lower()'s final-sigma rule never fires: a capital sigma always becomes U+03C3.
    U+0130 becomes "i" + U+0307 (full lower-case mapping).
 2. The text is split at the special tokens (HF's added-tokens trie); each special token becomes its
    own id, each piece between them goes through BasicTokenizer + WordPiece separately.
 3. BasicTokenizer: clean (drop U+0000, U+FFFD, categories C* except \\t \\n \\r; whitespace -> ' '),
    spaces around CJK ideographs, NFC, str.split() (Python whitespace: note U+2028/U+2029 survive
    the cleaning and split words here), per word: lower(), NFD, drop category Mn, split on
    punctuation; then str.split() again.
 4. WordPiece: greedy longest match first, "##" continuation, >100 code points or unmatchable -> [UNK].
 5. [CLS] + first max_len-2 ids + [SEP] + [PAD]... (max_len 0: no truncation, no padding).

Usage:
  tokenizer_ref.py --vocab VOCAB.txt [--max-len N]      stdin lines (bytes, split on \\n, decoded as
                                                       UTF-8 with errors='replace') -> id lines
  tokenizer_ref.py --vocab VOCAB.txt --mosi-hashes LABEL.csv   one line per CSV row:
                                                       "ROW FNV64(no truncation) FNV64(max_len 50)"
  tokenizer_ref.py --write-fixtures tests/fixtures [--vocab BERT_VOCAB [--mosi LABEL.csv]]
                                                       the committed test fixtures tests/fixtures/tok_*
  tokenizer_ref.py --check-shortcuts                   checks over all code points the facts that
                                                       src/text/tokenizer.c relies on
  tokenizer_ref.py --unicode-diff DUMP                 compare a dump of utf8proc's tables
                                                       (tests/tok_unicode_dump, see there) with
                                                       this Python's unicodedata
"""
import argparse
import csv
import sys
import unicodedata

SPECIAL_TOKENS = ["[UNK]", "[SEP]", "[PAD]", "[CLS]", "[MASK]"]


def load_vocab(path):
    # HF: open(..., encoding="utf-8").readlines() in text mode (universal newlines: \r\n, \r and \n
    # all end a line), each line rstrip("\n"), vocab[token] = index (a duplicate: the last one wins).
    with open(path, "r", encoding="utf-8") as f:
        lines = f.readlines()
    vocab = {}
    for i, line in enumerate(lines):
        vocab[line.rstrip("\n")] = i
    return vocab


def lower_per_char(text):
    out = []
    i = 0
    n = len(text)
    while i < n:
        for s in SPECIAL_TOKENS:
            if text.startswith(s, i):
                out.append(s)
                i += len(s)
                break
        else:
            out.append(text[i].lower())
            i += 1
    return "".join(out)


def split_specials(text):
    """Leftmost, longest match of the special tokens (what HF's Trie.split gives for this set of
    tokens, which cannot overlap one another). Returns a list of (is_special, str)."""
    parts = []
    start = 0
    i = 0
    n = len(text)
    while i < n:
        best = None
        for s in SPECIAL_TOKENS:
            if text.startswith(s, i) and (best is None or len(s) > len(best)):
                best = s
        if best is None:
            i += 1
            continue
        if i > start:
            parts.append((False, text[start:i]))
        parts.append((True, best))
        i += len(best)
        start = i
    if start < n:
        parts.append((False, text[start:]))
    return parts


def is_whitespace(ch):
    if ch in (" ", "\t", "\n", "\r"):
        return True
    return unicodedata.category(ch) == "Zs"


def is_control(ch):
    if ch in ("\t", "\n", "\r"):
        return False
    return unicodedata.category(ch).startswith("C")


def is_punctuation(ch):
    cp = ord(ch)
    if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
        return True
    return unicodedata.category(ch).startswith("P")


def is_cjk(cp):
    return (0x4E00 <= cp <= 0x9FFF or 0x3400 <= cp <= 0x4DBF or 0x20000 <= cp <= 0x2A6DF
            or 0x2A700 <= cp <= 0x2B73F or 0x2B740 <= cp <= 0x2B81F or 0x2B820 <= cp <= 0x2CEAF
            or 0xF900 <= cp <= 0xFAFF or 0x2F800 <= cp <= 0x2FA1F)


def basic_tokenize(text):
    cleaned = []
    for ch in text:
        cp = ord(ch)
        if cp == 0 or cp == 0xFFFD or is_control(ch):
            continue
        cleaned.append(" " if is_whitespace(ch) else ch)
    spaced = []
    for ch in cleaned:
        if is_cjk(ord(ch)):
            spaced += [" ", ch, " "]
        else:
            spaced.append(ch)
    text = unicodedata.normalize("NFC", "".join(spaced))
    pieces = []
    for word in text.split():
        word = word.lower()
        word = "".join(c for c in unicodedata.normalize("NFD", word) if unicodedata.category(c) != "Mn")
        cur = None
        for ch in word:
            if is_punctuation(ch):
                pieces.append(ch)
                cur = None
            else:
                if cur is None:
                    pieces.append("")
                    cur = len(pieces) - 1
                pieces[cur] += ch
    return " ".join(pieces).split()


def wordpiece(word, vocab, unk):
    out = []
    for w in word.split():
        if len(w) > 100:
            out.append(unk)
            continue
        subs = []
        start = 0
        bad = False
        while start < len(w):
            end = len(w)
            found = None
            while start < end:
                s = w[start:end]
                if start > 0:
                    s = "##" + s
                if s in vocab:
                    found = s
                    break
                end -= 1
            if found is None:
                bad = True
                break
            subs.append(found)
            start = end
        out += [unk] if bad else subs
    return out


def token_ids(text, vocab):
    """The ids of HF BertTokenizer.encode(text, add_special_tokens=False)."""
    unk = vocab["[UNK]"]
    ids = []
    for special, part in split_specials(lower_per_char(text)):
        if special:
            ids.append(vocab.get(part, unk))
            continue
        for word in basic_tokenize(part):
            ids += [vocab.get(p, unk) for p in wordpiece(word, vocab, "[UNK]")]
    return ids


def encode(text, vocab, max_len):
    ids = token_ids(text, vocab)
    if max_len == 0:
        return [vocab["[CLS]"]] + ids + [vocab["[SEP]"]]
    ids = [vocab["[CLS]"]] + ids[: max_len - 2] + [vocab["[SEP]"]]
    return ids + [vocab["[PAD]"]] * (max_len - len(ids))


def fnv64(data):
    h = 0xCBF29CE484222325
    for b in data:
        h ^= b
        h = (h * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return h


def ids_line(ids):
    return " ".join(str(i) for i in ids)


def unicode_diff(path):
    """Compares utf8proc's tables (dumped by the C test helper as 'cp category lower ccc nfd...')
    with this Python's unicodedata, printing every code point where they disagree."""
    cats = ["Cn", "Lu", "Ll", "Lt", "Lm", "Lo", "Mn", "Mc", "Me", "Nd", "Nl", "No", "Pc", "Pd", "Ps",
            "Pe", "Pi", "Pf", "Po", "Sm", "Sc", "Sk", "So", "Zs", "Zl", "Zp", "Cc", "Cf", "Cs", "Co"]
    ndiff = 0
    with open(path) as f:
        for line in f:
            if line.startswith("#"):
                continue
            fields = line.split()
            cp = int(fields[0], 16)
            ch = chr(cp)
            cat, low, ccc = cats[int(fields[1])], int(fields[2], 16), int(fields[3])
            nfd = [int(x, 16) for x in fields[4:]]
            what = []
            if unicodedata.category(ch) != cat:
                what.append(f"category {unicodedata.category(ch)} vs {cat}")
            pl = ch.lower()
            if cp != 0x130 and (len(pl) != 1 or ord(pl) != low):
                what.append(f"lower {pl!r} vs U+{low:04X}")
            if unicodedata.combining(ch) != ccc:
                what.append(f"ccc {unicodedata.combining(ch)} vs {ccc}")
            if [ord(c) for c in unicodedata.normalize("NFD", ch)] != nfd:
                what.append("nfd")
            if what:
                ndiff += 1
                print(f"U+{cp:04X} python {unicodedata.unidata_version}: " + "; ".join(what))
    print(f"{ndiff} code points differ", file=sys.stderr)


# ---- committed test fixtures (tests/fixtures/tok_*): our own strings, never data from shared/

# A tiny vocabulary that also exercises HF's load_vocab: "\r\n", a lone "\r", an empty line, a
# token with a trailing space, a duplicate (the last id wins) and no newline at the end.
TINY_VOCAB = (b"[PAD]\n[UNK]\r\n[CLS]\r[SEP]\n[MASK]\n\nthe\nhello\nworld\n,\n!\n.\n'\n-\n?\n[\n]\n"
              b"un\n##aff\n##able\na\n##a\nb\n##b\nc\n##c\nsep\n##sep\ncls\nx \nx\n##x\n"
              b"\xce\xbf\n##\xce\xb4\n##\xce\xbf\n##\xcf\x83\n##\xcf\x82\n\xcf\x83\ni\n##stanbul\n"
              b"caf\n##e\ne\nnaive\n\xe4\xb8\xad\n\xe6\x96\x87\nok\n1\n##0\n0\n$\n"
              + "##\U0001D165\n##\U0001D16D\n##y\nhello\nz".encode("utf-8"))

TRICKY = [
    b"",
    "Hello, World!", "unaffable", "UNAFFABLE hello the", "   leading and trailing   ",
    "Café naïve résumé Ångström ÉCOLE Crème Brûlée", "Tiếng Việt có dấu", "ΆΈΉ Ώ ϊ ΐ",
    "ΟΔΟΣ Σ ΣΑΣ. σοφός ς ΟΔΟς οδος", "ΣΑΣ, ΟΔΟΣ's", "İstanbul İ ı I iİ", "ǅemal Ⅻ Ⓐ ǈ",
    "\u212a \u212b \u2126 K\u00c5",
    "中文字符 and 日本語 テスト 한국어 \u1100\u1161\u11a8", "\uf900\uf901 \U0002f800 \u4e00x\u9fff\U00020000",
    "I \u2764\ufe0f \U0001F600\U0001F44D\U0001F3FD \U0001F468\u200d\U0001F469\u200d\U0001F467",
    "\u0645\u064e\u0631\u0652\u062d\u064e\u0628\u064b\u0627 \u0627\u0644\u0639\u0631\u0628\u064a\u0629",
    "\u0928\u092e\u0938\u094d\u0924\u0947 \u0939\u093f\u0928\u094d\u0926\u0940",
    "a\x01b\x7fc\x1bd\te\rf\x0bg\x0ch\x85i\x1cj\x1fk",
    "zero\u200bwidth\u200cjoin\u200d\ufeffbom\u2060x \u202ehello\u202c co\u00adop \U000E0041tag",
    "a\u00a0b\u2002c\u3000d\u202fe\u1680f\u205fg\u2000h\u2001i",
    "line\u2028sep\u2029para", "a\rb", "tab\tsep",
    "a" * 100, "a" * 101, "x" * 150 + " ok " + "ab" * 60 + " c",
    "\u00e9" * 100, "e\u0301" * 51,
    "!!!...???---((()))\"'`~^$ #@%&*+/<=>[\\]_{|}", "«quote» — dash… ‘single’ “double” ¿qué? ¡sí! ·・、。",
    "can't won't e-mail U.S.A. 3.14 1,000 $5 10%",
    "[SEP]", "a[SEP]b", "[sep] [Sep]", "[CLS] x [PAD][UNK][MASK]", "[SE P] [[SEP]] [SEP", "[SEP][SEP]",
    b"[SE\xffP] [C\xc3LS]", "[SE\u200bP]", "hello[MASK]world",
    b"ab\xffcd", b"\xc3\x28 x", b"\xe2\x82\x28 ok", b"\xed\xa0\x80surrogate", b"\xf4\x90\x80\x80big",
    b"\xc0\xaf overlong", b"trail\xe2\x82", b"\xe2\x82\xe2\x82\xac euro", b"nu\x00ll \x00",
    "a\ufffdb \ufffd", "\ue000x \U000F0000y", "\u0378unassigned\u0378", " \u0301 x\u0301\u0327 \u0301\u0301",
    "ﬁne ½ ① ｆｕｌｌ ｗｉｄｔｈ", "a\u0323\u0302 a\u0302\u0323 \u1ead", "x\U0001D16D\U0001D165y",
    "caf\u00e9 cafe\u0301 CAFE\u0301", "1000 00 $1000$",
    " ".join(["Supercalifragilistic, the hello world!"] * 600),
]


def write_fixtures(outdir, bert_vocab, mosi):
    import os
    tiny_path = os.path.join(outdir, "tok_tiny_vocab.txt")
    with open(tiny_path, "wb") as f:
        f.write(TINY_VOCAB)
    inputs = [t if isinstance(t, bytes) else t.encode("utf-8") for t in TRICKY]
    with open(os.path.join(outdir, "tok_tricky.hex"), "w") as f:
        f.write("".join(t.hex() + "\n" for t in inputs))
    vocabs = [("tiny", tiny_path, 16)]
    if bert_vocab:
        vocabs.append(("bert", bert_vocab, 50))
    for name, path, L in vocabs:
        vocab = load_vocab(path)
        for tag, ml in (("full", 0), (str(L), L)):
            with open(os.path.join(outdir, f"tok_tricky_{name}_{tag}.txt"), "w") as f:
                for t in inputs:
                    f.write(ids_line(encode(t.decode("utf-8", errors="replace"), vocab, ml)) + "\n")
    if bert_vocab and mosi:
        vocab = load_vocab(bert_vocab)
        with open(os.path.join(outdir, "tok_mosi_hashes.txt"), "w") as out, \
                open(mosi, newline="", encoding="utf-8") as f:
            for row, r in enumerate(csv.DictReader(f), start=1):
                h0 = fnv64(ids_line(encode(r["text"], vocab, 0)).encode())
                h50 = fnv64(ids_line(encode(r["text"], vocab, 50)).encode())
                out.write(f"{row} {h0:016x} {h50:016x}\n")


def check_shortcuts():
    """Checks, for every code point, the facts that let src/text/tokenizer.c work in one pass
    (classify each character before lower-casing it, skip NFC, lower-case once)."""
    bad = []
    for cp in range(0x110000):
        if 0xD800 <= cp < 0xE000:
            continue
        c = chr(cp)
        low = c.lower()
        if len(low) != 1 and cp != 0x130:
            bad.append(f"U+{cp:04X}: lower() gives {len(low)} characters")
        if low.lower() != low:
            bad.append(f"U+{cp:04X}: lower() is not idempotent")
        for x in low:
            if x == c:
                continue
            if unicodedata.category(x)[0] in "CZP" or unicodedata.category(c)[0] in "CZP":
                bad.append(f"U+{cp:04X}: lower() changes a C/Z/P character")
            if x.isspace() != c.isspace() or is_cjk(ord(x)) != is_cjk(cp) or is_punctuation(x):
                bad.append(f"U+{cp:04X}: lower() changes whitespace/CJK/punctuation")
        if unicodedata.combining(c) and low != c:
            bad.append(f"U+{cp:04X}: lower() changes a combining mark")
        nfd = unicodedata.normalize
        if nfd("NFD", low) != nfd("NFD", nfd("NFD", c).lower()):
            bad.append(f"U+{cp:04X}: NFD(lower(c)) != NFD(lower(NFD(c)))")
        nfc = nfd("NFC", c)
        if not is_control(c) and not is_whitespace(c) and any(x.isspace() for x in nfc) != c.isspace():
            bad.append(f"U+{cp:04X}: NFC changes Python whitespace")
        if len(nfd("NFD", low)) > 4:
            bad.append(f"U+{cp:04X}: NFD(lower(c)) longer than 4")
    spaces = [cp for cp in range(0x110000) if not 0xD800 <= cp < 0xE000 and chr(cp).isspace()
              and not is_control(chr(cp)) and not is_whitespace(chr(cp))]
    if spaces != [0x2028, 0x2029]:
        bad.append(f"Python whitespace kept by the cleaning is {spaces}, not U+2028 U+2029")
    print("\n".join(bad) if bad else f"all shortcuts hold (unicodedata {unicodedata.unidata_version})")
    return 1 if bad else 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--vocab")
    ap.add_argument("--max-len", type=int, default=50)
    ap.add_argument("--mosi-hashes")
    ap.add_argument("--unicode-diff")
    ap.add_argument("--write-fixtures", metavar="DIR")
    ap.add_argument("--check-shortcuts", action="store_true")
    ap.add_argument("--mosi", help="label.csv for --write-fixtures")
    a = ap.parse_args()
    if a.check_shortcuts:
        sys.exit(check_shortcuts())
    if a.write_fixtures:
        write_fixtures(a.write_fixtures, a.vocab, a.mosi)
        return
    if a.unicode_diff:
        unicode_diff(a.unicode_diff)
        return
    vocab = load_vocab(a.vocab)
    if a.mosi_hashes:
        with open(a.mosi_hashes, newline="", encoding="utf-8") as f:
            for row, r in enumerate(csv.DictReader(f), start=1):
                h0 = fnv64(ids_line(encode(r["text"], vocab, 0)).encode())
                h50 = fnv64(ids_line(encode(r["text"], vocab, 50)).encode())
                print(f"{row} {h0:016x} {h50:016x}")
        return
    data = sys.stdin.buffer.read()
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    out = sys.stdout
    for line in lines:
        out.write(ids_line(encode(line.decode("utf-8", errors="replace"), vocab, a.max_len)) + "\n")


if __name__ == "__main__":
    main()
