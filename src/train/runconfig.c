// runconfig.c: see runconfig.h. One table describes every option once: its flag, its type, where it
// lives in RunConfig, and its help text; flags, the JSON file and the resolved JSON all use it.
#include "train/runconfig.h"

#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/common.h"

typedef enum { T_STR, T_INT, T_LONG, T_DBL, T_BOOL, T_SEEDS, T_CHOICE } OptType;
typedef struct {
    const char *name; // flag without "--"
    OptType type;
    size_t off, size;
    const char *choices; // T_CHOICE: "a|b|c"
    const char *help;
    int hidden;
} Opt;

#define F(field) offsetof(RunConfig, field), sizeof(((RunConfig *)0)->field)
static const Opt OPTS[] = {
    {"data", T_STR, F(data), NULL, "dataset pickle (MIRD or MMSA format) with train/valid/test", 0},
    {"unlabeled", T_STR, F(unlabeled), NULL, "unlabeled clips (pickle); the first split-rate * N_train are used", 0},
    {"out", T_STR, F(out), NULL, "run folder (created); one subfolder seed_S per seed", 0},
    {"config", T_STR, F(config), NULL, "run configuration JSON (keys = these flag names); flags override it", 0},
    {"model", T_STR, F(model), NULL, "model configuration JSON (default: the paper's model)", 0},
    {"init", T_STR, F(init), NULL, "start from this checkpoint's model weights", 0},
    {"bert", T_STR, F(bert), NULL, "pretrained BERT directory (Hugging Face) for both BERTs", 0},
    {"vocab", T_STR, F(vocab), NULL, "vocab.txt for tokenizing raw_text (default: BERT dir's, or beside --data)", 0},
    {"seeds", T_SEEDS, F(seeds), NULL, "comma-separated seeds, e.g. 0,1,2 (default 0)", 0},
    {"epochs", T_INT, F(epochs), NULL, "training epochs (100)", 0},
    {"batch-size", T_INT, F(batch_size), NULL, "labeled clips per batch (48)", 0},
    {"eval-batch-size", T_INT, F(eval_batch_size), NULL, "clips per evaluation batch (64; no effect on results)", 0},
    {"split-rate", T_INT, F(split_rate), NULL, "unlabeled clips per labeled clip (2)", 0},
    {"lr", T_DBL, F(lr), NULL, "AdamW learning rate of the model (1e-5)", 0},
    {"mi-lr", T_DBL, F(mi_lr), NULL, "Adam learning rate of the CLUB estimators (1e-3)", 0},
    {"weight-decay", T_DBL, F(weight_decay), NULL, "AdamW decoupled weight decay (0.01)", 0},
    {"club-steps", T_INT, F(club_steps), NULL, "estimator steps per model step (5)", 0},
    {"club-mode", T_CHOICE, F(club_mode), "once|official",
     "official (default): a fresh train-mode forward before each estimator step, as the authors' code; once: the latents "
     "of one forward reused (exact only without dropout; mird bench's default)", 0},
    {"club-input", T_CHOICE, F(club_input), "raw|standardized",
     "what the CLUB estimators see: raw latents (the paper, default) or each latent standardised over the batch "
     "(then shrinking a latent cannot lower an estimate; docs/model.md)", 0},
    {"schedule", T_CHOICE, F(schedule), "warmup-linear|constant|paper",
     "learning-rate schedule (warmup-linear; paper = the official swapped call)", 0},
    {"warmup-proportion", T_DBL, F(warmup_proportion), NULL, "warm-up fraction of the steps (0.1)", 0},
    {"select", T_CHOICE, F(select), "valid|test", "model selection: lowest MSE on valid (default) or test (official)", 0},
    {"early-stop", T_INT, F(early_stop), NULL, "stop after N epochs without improvement (0 = never)", 0},
    {"ablation", T_CHOICE, F(ablation), "full|no-rec|no-mi|fixed-weight|wsa-only", "training objective (full)", 0},
    {"max-len", T_INT, F(max_len), NULL, "word pieces per text (50)", 0},
    {"threads", T_INT, F(threads), NULL, "OpenMP threads (default: all cores; under mpirun: the node's cores / its ranks)", 0},
    {"ranks-per-run", T_INT, F(ranks_per_run), NULL,
     "under mpirun: ranks that train one run together; the runs (seeds, ablation rows) are dealt to the groups "
     "(default 0: all ranks train each run, data parallel; docs/distributed.md)", 0},
    {"precision", T_CHOICE, F(precision), "fp32|bf16",
     "matrix products: fp32 (default) or bf16 (bfloat16 inputs, float32 accumulation, master weights and "
     "optimiser states; where the CPU has bfloat16 instructions)", 0},
    {"resume", T_BOOL, F(resume), NULL, "continue each seed from its last checkpoint", 0},
    {"dump-latents", T_BOOL, F(dump_latents), NULL, "write the test clips' latents zS, zL, zA, zV (best model)", 0},
    {"reference", T_STR, F(reference), NULL,
     "JSON of reference test metrics to print beside the result (mird synth's oracle.json)", 0},
    {"quiet", T_BOOL, F(quiet), NULL, "no progress output", 0},
    {"checkpoint-steps", T_LONG, F(checkpoint_steps), NULL,
     "also write last.safetensors every N steps inside an epoch (default: epoch ends, every 10 minutes)", 0},
    {"stop-after-steps", T_LONG, F(stop_after_steps), NULL, "testing: exit with status 75 after N steps", 1},
};
#undef F
#define NOPTS ((int)(sizeof(OPTS) / sizeof(OPTS[0])))

void runconfig_defaults(RunConfig *c) {
    memset(c, 0, sizeof(*c));
    c->seeds[0] = 0, c->n_seeds = 1;
    c->epochs = 100, c->batch_size = 48, c->eval_batch_size = 64, c->split_rate = 2, c->club_steps = 5;
    c->max_len = 50;
    c->lr = 1e-5, c->mi_lr = 1e-3, c->weight_decay = 0.01, c->warmup_proportion = 0.1;
    strcpy(c->club_mode, "official");
    strcpy(c->club_input, "raw");
    strcpy(c->schedule, "warmup-linear");
    strcpy(c->select, "valid");
    strcpy(c->ablation, "full");
    strcpy(c->precision, "fp32");
}

static const Opt *find_opt(const char *name) {
    char buf[64];
    size_t n = strlen(name);
    if (n >= sizeof buf) return NULL;
    for (size_t i = 0; i <= n; i++) buf[i] = name[i] == '_' ? '-' : name[i];
    for (int i = 0; i < NOPTS; i++)
        if (!strcmp(OPTS[i].name, buf)) return &OPTS[i];
    return NULL;
}

static int choice_ok(const char *choices, const char *v) {
    size_t n = strlen(v);
    for (const char *p = choices; *p;) {
        const char *e = strchr(p, '|');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (len == n && !strncmp(p, v, n)) return 1;
        if (!e) break;
        p = e + 1;
    }
    return 0;
}

static int parse_seeds(RunConfig *c, const char *s, const char *src, char *err) {
    int n = 0;
    const char *p = s;
    while (*p) {
        char *e;
        errno = 0;
        long v = strtol(p, &e, 10);
        if (e == p || errno || v < 0 || v > INT_MAX || (*e && *e != ','))
            return errf(err, "%s: seeds: '%s' is not a comma-separated list of integers >= 0", src, s);
        if (n >= RC_MAX_SEEDS) return errf(err, "%s: seeds: more than %d", src, RC_MAX_SEEDS);
        c->seeds[n++] = (int)v;
        p = *e ? e + 1 : e;
    }
    if (!n) return errf(err, "%s: seeds: empty list", src);
    c->n_seeds = n;
    return 0;
}

// Set one option from a string (flags) .
static int set_str(RunConfig *c, const Opt *o, const char *v, const char *src, char *err) {
    char *base = (char *)c + o->off, *e;
    errno = 0;
    switch (o->type) {
    case T_STR:
        if (strlen(v) >= o->size) return errf(err, "%s: --%s: value too long", src, o->name);
        strcpy(base, v);
        return 0;
    case T_CHOICE:
        if (!choice_ok(o->choices, v)) return errf(err, "%s: --%s: '%s' is not one of %s", src, o->name, v, o->choices);
        strcpy(base, v);
        return 0;
    case T_INT: {
        long x = strtol(v, &e, 10);
        if (e == v || *e || errno || x < INT_MIN || x > INT_MAX)
            return errf(err, "%s: --%s: '%s' is not an integer", src, o->name, v);
        *(int *)base = (int)x;
        return 0;
    }
    case T_LONG: {
        long x = strtol(v, &e, 10);
        if (e == v || *e || errno) return errf(err, "%s: --%s: '%s' is not an integer", src, o->name, v);
        *(long *)base = x;
        return 0;
    }
    case T_DBL: {
        double x = strtod(v, &e);
        if (e == v || *e || errno) return errf(err, "%s: --%s: '%s' is not a number", src, o->name, v);
        *(double *)base = x;
        return 0;
    }
    case T_BOOL:
        if (!strcmp(v, "1") || !strcmp(v, "true")) *(int *)base = 1;
        else if (!strcmp(v, "0") || !strcmp(v, "false")) *(int *)base = 0;
        else return errf(err, "%s: --%s: '%s' is not a boolean", src, o->name, v);
        return 0;
    case T_SEEDS:
        return parse_seeds(c, v, src, err);
    }
    return 0;
}

int runconfig_apply_json(RunConfig *c, json_t *obj, const char *src, char *err) {
    if (!json_is_object(obj)) return errf(err, "%s: the run configuration must be a JSON object", src);
    const char *key;
    json_t *v;
    json_object_foreach(obj, key, v) {
        const Opt *o = find_opt(key);
        if (!o) return errf(err, "%s: unknown key \"%s\" (keys are mird train's flag names)", src, key);
        char buf[RC_PATH];
        if (o->type == T_SEEDS && json_is_array(v)) {
            size_t i, len = 0;
            json_t *x;
            buf[0] = 0;
            json_array_foreach(v, i, x) {
                if (!json_is_integer(x)) return errf(err, "%s: \"%s\" must hold integers", src, key);
                len += (size_t)snprintf(buf + len, sizeof buf - len, "%s%lld", i ? "," : "", (long long)json_integer_value(x));
                if (len >= sizeof buf) return errf(err, "%s: \"%s\": too many seeds", src, key);
            }
        } else if (json_is_string(v)) {
            if (o->type == T_INT || o->type == T_DBL || o->type == T_LONG || o->type == T_BOOL)
                return errf(err, "%s: \"%s\" must be a %s, not a string", src, key,
                            o->type == T_BOOL ? "boolean" : "number");
            snprintf(buf, sizeof buf, "%s", json_string_value(v));
        } else if (json_is_boolean(v) && o->type == T_BOOL) {
            strcpy(buf, json_is_true(v) ? "1" : "0");
        } else if (json_is_integer(v) && (o->type == T_INT || o->type == T_LONG || o->type == T_DBL || o->type == T_SEEDS)) {
            snprintf(buf, sizeof buf, "%lld", (long long)json_integer_value(v));
        } else if (json_is_real(v) && o->type == T_DBL) {
            snprintf(buf, sizeof buf, "%.17g", json_real_value(v));
        } else {
            return errf(err, "%s: \"%s\" has the wrong type", src, key);
        }
        if (set_str(c, o, buf, src, err)) return -1;
    }
    return 0;
}

int runconfig_load_file(RunConfig *c, const char *path, char *err) {
    json_error_t je;
    json_t *j = json_load_file(path, 0, &je);
    if (!j) return errf(err, "%s: line %d: %s", path, je.line, je.text);
    int rc = runconfig_apply_json(c, j, path, err);
    json_decref(j);
    return rc;
}

void runconfig_usage(FILE *f) {
    fprintf(f, "usage: mird train --data DATA --out RUN_DIR [flags]\n\nflags (also accepted as keys of --config RUN.json):\n");
    for (int i = 0; i < NOPTS; i++) {
        if (OPTS[i].hidden) continue;
        const char *arg = OPTS[i].type == T_BOOL ? "" : OPTS[i].type == T_CHOICE ? OPTS[i].choices : "X";
        char left[80];
        snprintf(left, sizeof left, "--%s %s", OPTS[i].name, arg);
        fprintf(f, "  %-40s %s\n", left, OPTS[i].help);
    }
}

int runconfig_parse_args(RunConfig *c, int argc, char **argv, char *err) {
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            runconfig_usage(stdout);
            return 1;
        }
        if (!strcmp(argv[i], "--config")) {
            if (i + 1 >= argc) return errf(err, "--config needs a value");
            if (runconfig_load_file(c, argv[i + 1], err)) return -2; // a bad file is a failure, not usage
        }
    }
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strncmp(a, "--", 2)) return errf(err, "unexpected argument '%s'", a);
        const char *eq = strchr(a, '=');
        char name[64];
        size_t nl = eq ? (size_t)(eq - a - 2) : strlen(a + 2);
        if (nl >= sizeof name) return errf(err, "unknown flag '%s'", a);
        memcpy(name, a + 2, nl), name[nl] = 0;
        const Opt *o = find_opt(name);
        if (!o || strchr(name, '_')) return errf(err, "unknown flag '--%s' (see mird train --help)", name);
        const char *v;
        if (eq) v = eq + 1;
        else if (o->type == T_BOOL) v = "1";
        else if (i + 1 < argc) v = argv[++i];
        else return errf(err, "--%s needs a value", name);
        if (set_str(c, o, v, "mird train", err)) return -1;
    }
    return 0;
}

int runconfig_validate(const RunConfig *c, char *err) {
    if (!c->data[0]) return errf(err, "--data is required");
    if (!c->out[0]) return errf(err, "--out is required");
    if (c->epochs < 1) return errf(err, "--epochs must be >= 1");
    if (c->batch_size < 1) return errf(err, "--batch-size must be >= 1");
    if (c->eval_batch_size < 1) return errf(err, "--eval-batch-size must be >= 1");
    if (c->split_rate < 0) return errf(err, "--split-rate must be >= 0");
    if (c->club_steps < 0) return errf(err, "--club-steps must be >= 0");
    if (c->max_len < 2) return errf(err, "--max-len must be >= 2");
    if (c->early_stop < 0) return errf(err, "--early-stop must be >= 0");
    if (c->threads < 0) return errf(err, "--threads must be >= 0");
    if (c->checkpoint_steps < 0) return errf(err, "--checkpoint-steps must be >= 0");
    if (!(c->lr >= 0) || !(c->mi_lr >= 0) || !(c->weight_decay >= 0))
        return errf(err, "learning rates and weight decay must be >= 0");
    if (!(c->warmup_proportion >= 0 && c->warmup_proportion <= 1))
        return errf(err, "--warmup-proportion must be in [0, 1]");
    return 0;
}

json_t *runconfig_to_json(const RunConfig *c) {
    json_t *o = json_object();
    for (int i = 0; i < NOPTS; i++) {
        const Opt *p = &OPTS[i];
        if (p->hidden) continue;
        char key[64];
        size_t k = 0;
        for (; p->name[k] && k < sizeof key - 1; k++) key[k] = p->name[k] == '-' ? '_' : p->name[k];
        key[k] = 0;
        const char *base = (const char *)c + p->off;
        json_t *v = NULL;
        switch (p->type) {
        case T_STR:
            v = base[0] ? json_string(base) : json_null();
            break;
        case T_CHOICE:
            v = json_string(base);
            break;
        case T_INT:
            v = json_integer(*(const int *)base);
            break;
        case T_LONG:
            v = json_integer(*(const long *)base);
            break;
        case T_DBL:
            v = json_real(*(const double *)base);
            break;
        case T_BOOL:
            v = json_boolean(*(const int *)base);
            break;
        case T_SEEDS:
            v = json_array();
            for (int s = 0; s < c->n_seeds; s++) json_array_append_new(v, json_integer(c->seeds[s]));
            break;
        }
        json_object_set_new(o, key, v);
    }
    return o;
}

SchedKind runconfig_schedule(const RunConfig *c) {
    SchedKind k = SCHED_WARMUP_LINEAR;
    schedule_parse(c->schedule, &k);
    return k;
}
