// cmd_synth.c: `mird synth`: write the built-in synthetic benchmark (see docs/synthetic.md).
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "core/common.h"
#include "data/synth.h"

static void synth_usage(FILE *f) {
    SynthConfig d;
    synth_default(&d);
    fprintf(f,
            "usage: mird synth --out DIR [flags]\n"
            "Writes DIR/data.pkl, unlabeled.pkl, vocab.txt, model.json, factors.safetensors, oracle.json, synth.json.\n"
            "  --seed S            generation seed (%llu)\n"
            "  --n-train N         clips per split (%d / %d / %d / %d)\n"
            "  --n-valid N\n  --n-test N\n  --n-unlabeled N\n"
            "  --ta T --tv T       padded audio / visual frames (%d / %d); --tl T text length for models (%d)\n"
            "  --d-a D --d-v D     audio / visual feature sizes (%d / %d)\n"
            "  --view-noise-l X    noise on the shared factors as the text sees them (%g)\n"
            "  --view-noise-a X    ... as the audio sees them (%g)\n"
            "  --view-noise-v X    ... as the video sees them (%g)\n"
            "  --spec-noise X      noise on the modality-specific factors (%g)\n"
            "  --frame-noise X     per-frame feature noise (%g)\n"
            "  --annot-noise X     per-annotator rating noise (%g)\n"
            "  --clip-noise X      clip-level label noise (%g)\n"
            "  --pad back|front    where the zero padding goes (back)\n"
            "  --hidden H --layers L --heads A --z Z   model.json sizes (%d / %d / %d / %d)\n"
            "  --quiet             no summary on stdout\n",
            (unsigned long long)d.seed, d.n[0], d.n[1], d.n[2], d.n[3], d.Ta, d.Tv, d.Tl, d.d_a, d.d_v, d.view_noise[0], d.view_noise[1], d.view_noise[2],
            d.spec_noise, d.frame_noise, d.annot_noise, d.clip_noise, d.hidden, d.layers, d.heads, d.z);
}

static int parse_int(const char *flag, const char *s, int *out) {
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < -2147483647L || v > 2147483647L) {
        fprintf(stderr, "mird synth: %s: not an integer: '%s'\n", flag, s);
        return -1;
    }
    *out = (int)v;
    return 0;
}
static int parse_double(const char *flag, const char *s, double *out) {
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end) {
        fprintf(stderr, "mird synth: %s: not a number: '%s'\n", flag, s);
        return -1;
    }
    *out = v;
    return 0;
}

int cmd_synth(int argc, char **argv) {
    SynthConfig c;
    synth_default(&c);
    const char *out = NULL;
    int quiet = 0;
    struct {
        const char *flag;
        int *i;
        double *d;
    } opts[] = {
        {"--n-train", &c.n[0], NULL},        {"--n-valid", &c.n[1], NULL},          {"--n-test", &c.n[2], NULL},
        {"--n-unlabeled", &c.n[3], NULL},    {"--ta", &c.Ta, NULL},                 {"--tv", &c.Tv, NULL},
        {"--tl", &c.Tl, NULL},               {"--d-a", &c.d_a, NULL},               {"--d-v", &c.d_v, NULL},
        {"--hidden", &c.hidden, NULL},       {"--layers", &c.layers, NULL},         {"--heads", &c.heads, NULL},
        {"--z", &c.z, NULL},                 {"--view-noise-l", NULL, &c.view_noise[0]},
        {"--view-noise-a", NULL, &c.view_noise[1]}, {"--view-noise-v", NULL, &c.view_noise[2]}, {"--spec-noise", NULL, &c.spec_noise},
        {"--frame-noise", NULL, &c.frame_noise}, {"--annot-noise", NULL, &c.annot_noise},
        {"--clip-noise", NULL, &c.clip_noise},
    };
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            synth_usage(stdout);
            return 0;
        }
        if (!strcmp(a, "--quiet")) {
            quiet = 1;
            continue;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "mird synth: %s: missing value or unknown flag (see mird synth --help)\n", a);
            return 2;
        }
        const char *v = argv[++i];
        if (!strcmp(a, "--out")) {
            out = v;
        } else if (!strcmp(a, "--seed")) {
            char *end;
            errno = 0;
            unsigned long long s = strtoull(v, &end, 10);
            if (errno || end == v || *end || v[0] == '-') {
                fprintf(stderr, "mird synth: --seed: not a non-negative integer: '%s'\n", v);
                return 2;
            }
            c.seed = s;
        } else if (!strcmp(a, "--pad")) {
            if (!strcmp(v, "back")) c.pad_front = 0;
            else if (!strcmp(v, "front")) c.pad_front = 1;
            else {
                fprintf(stderr, "mird synth: --pad: expected back or front, got '%s'\n", v);
                return 2;
            }
        } else {
            size_t k = 0, nopt = sizeof opts / sizeof opts[0];
            while (k < nopt && strcmp(a, opts[k].flag)) k++;
            if (k == nopt) {
                fprintf(stderr, "mird synth: unknown flag '%s' (see mird synth --help)\n", a);
                return 2;
            }
            if (opts[k].i ? parse_int(a, v, opts[k].i) : parse_double(a, v, opts[k].d)) return 2;
        }
    }
    if (!out) {
        fprintf(stderr, "mird synth: --out DIR is required (see mird synth --help)\n");
        return 2;
    }
    char err[MIRD_ERRLEN];
    if (synth_check(&c, err)) {
        fprintf(stderr, "mird %s\n", err);
        return 2;
    }
    if (synth_write(&c, out, quiet ? NULL : stdout, err)) {
        fprintf(stderr, "mird: %s\n", err);
        return 1;
    }
    return 0;
}
