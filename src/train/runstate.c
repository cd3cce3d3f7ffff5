// runstate.c: see runstate.h.
#include "train/runstate.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/common.h"
#include "io/safetensors.h"
#include "train/metrics.h"

static void hex_u64(char *out, uint64_t x) { sprintf(out, "%016llx", (unsigned long long)x); }

static json_t *rng_to_json(const Rng *r) {
    json_t *a = json_array();
    char h[17];
    for (int i = 0; i < 4; i++) hex_u64(h, r->s[i]), json_array_append_new(a, json_string(h));
    return a;
}

static int rng_from_json(Rng *r, json_t *a) {
    if (!json_is_array(a) || json_array_size(a) != 4) return -1;
    for (int i = 0; i < 4; i++) {
        const char *s = json_string_value(json_array_get(a, i));
        if (!s || strlen(s) != 16) return -1;
        char *e;
        r->s[i] = strtoull(s, &e, 16);
        if (*e) return -1;
    }
    return 0;
}

json_t *runstate_to_json(const RunState *st) {
    json_t *o = json_object();
    json_object_set_new(o, "epoch", json_integer(st->epoch));
    json_object_set_new(o, "step_in_epoch", json_integer(st->step_in_epoch));
    json_object_set_new(o, "global_step", json_integer(st->global_step));
    json_object_set_new(o, "rng_shuffle_at_epoch", rng_to_json(&st->shuffle_at_epoch));
    json_object_set_new(o, "rng_shuffle", rng_to_json(&st->shuffle));
    json_object_set_new(o, "rng_dropout", rng_to_json(&st->dropout));
    json_t *s = json_array();
    for (int i = 0; i < NSUMS; i++) json_array_append_new(s, json_real_or_null(st->sums[i])); // %.17g: exact
    json_object_set_new(o, "sums", s);
    json_object_set_new(o, "epoch_seconds", json_real(st->epoch_seconds));
    json_object_set_new(o, "best_loss", json_real_or_null(st->best_loss));
    json_object_set_new(o, "best_epoch", json_integer(st->best_epoch));
    json_object_set_new(o, "since_improve", json_integer(st->since_improve));
    json_object_set_new(o, "finished", json_boolean(st->finished));
    json_object_set_new(o, "best_valid", st->best_valid ? json_incref(st->best_valid) : json_null());
    json_object_set_new(o, "best_test", st->best_test ? json_incref(st->best_test) : json_null());
    json_object_set_new(o, "last_log_line", st->last_line ? json_incref(st->last_line) : json_null());
    if (st->nranks > 1) {
        json_t *a = json_array();
        for (int r = 0; r < st->nranks; r++) json_array_append_new(a, rng_to_json(&st->rank_dropout[r]));
        json_object_set_new(o, "rng_dropout_ranks", a);
    }
    return o;
}

int runstate_from_json(RunState *st, json_t *o) {
    json_t *s = json_object_get(o, "sums");
    if (!json_is_object(o) || !json_is_array(s) || json_array_size(s) != NSUMS) return -1;
    st->epoch = (int)json_integer_value(json_object_get(o, "epoch"));
    st->step_in_epoch = (long)json_integer_value(json_object_get(o, "step_in_epoch"));
    st->global_step = (long)json_integer_value(json_object_get(o, "global_step"));
    if (rng_from_json(&st->shuffle_at_epoch, json_object_get(o, "rng_shuffle_at_epoch")) ||
        rng_from_json(&st->shuffle, json_object_get(o, "rng_shuffle")) ||
        rng_from_json(&st->dropout, json_object_get(o, "rng_dropout")))
        return -1;
    for (int i = 0; i < NSUMS; i++) {
        json_t *x = json_array_get(s, i);
        st->sums[i] = json_is_number(x) ? json_number_value(x) : NAN;
    }
    st->epoch_seconds = json_number_value(json_object_get(o, "epoch_seconds"));
    json_t *bl = json_object_get(o, "best_loss");
    st->best_loss = json_is_number(bl) ? json_number_value(bl) : INFINITY;
    st->best_epoch = (int)json_integer_value(json_object_get(o, "best_epoch"));
    st->since_improve = (int)json_integer_value(json_object_get(o, "since_improve"));
    st->finished = json_is_true(json_object_get(o, "finished"));
    json_t *bv = json_object_get(o, "best_valid"), *bt = json_object_get(o, "best_test");
    st->best_valid = json_is_object(bv) ? json_incref(bv) : NULL;
    st->best_test = json_is_object(bt) ? json_incref(bt) : NULL;
    json_t *ll = json_object_get(o, "last_log_line");
    st->last_line = json_is_object(ll) ? json_incref(ll) : NULL;
    json_t *rd = json_object_get(o, "rng_dropout_ranks");
    free(st->rank_dropout);
    st->rank_dropout = NULL, st->nranks = 0;
    if (json_is_array(rd) && json_array_size(rd) > 1) {
        st->nranks = (int)json_array_size(rd);
        st->rank_dropout = xcalloc((size_t)st->nranks, sizeof(Rng));
        for (int r = 0; r < st->nranks; r++)
            if (rng_from_json(&st->rank_dropout[r], json_array_get(rd, r))) return -1;
    }
    return 0;
}

// ---------------------------------------------------------------- checkpoints with the full state
int runstate_save(const char *path, Model *m, const RunState *st, const char *run_json, const char *shape_json,
                      char *err) {
    // a non-finite parameter never reaches a checkpoint
    const char *bad = model_first_nonfinite(m);
    if (bad) return errf(err, "%s: not written: parameter %s holds NaN or inf", path, bad);
    StWriter w;
    stw_init(&w);
    model_add_state(m, &w); // estimators, both optimisers (moments and steps)
    json_t *sj = runstate_to_json(st);
    char *s = json_dumps(sj, JSON_COMPACT | JSON_REAL_PRECISION(17));
    json_decref(sj);
    stw_meta(&w, "mird.train_state", s);
    stw_meta(&w, "mird.run_config", run_json);
    stw_meta(&w, "mird.data_shape", shape_json);
    free(s);
    int rc = model_save(m, path, &w, err);
    stw_free(&w);
    return rc;
}

// Settings that change what a run computes: resuming with other values would not continue the same
// run, so a difference is reported (the new values apply from the resumed step on).
static void warn_changed(const char *path, const char *saved, const char *now, const TrainHooks *h) {
    static const char *const ignore[] = {"resume", "quiet", "threads", "config", "dump_latents", "reference",
                                         "checkpoint_steps", "eval_batch_size", "out", "seeds", "vocab", "ranks_per_run", NULL};
    json_error_t je;
    json_t *a = saved ? json_loads(saved, 0, &je) : NULL, *b = json_loads(now, 0, &je);
    const char *key;
    json_t *v;
    char diff[400] = "";
    json_object_foreach(b, key, v) {
        int skip = 0;
        for (int i = 0; ignore[i]; i++) skip |= !strcmp(key, ignore[i]);
        if (skip || !a || json_equal(v, json_object_get(a, key))) continue;
        size_t l = strlen(diff);
        snprintf(diff + l, sizeof diff - l, "%s%s", l ? ", " : "", key);
    }
    if (diff[0] && h && h->on_warning) {
        char msg[800];
        snprintf(msg, sizeof msg, "%.300s was trained with other values of: %s (the new ones apply from here on)", path, diff);
        h->on_warning(h->user, msg);
    } else if (diff[0]) fprintf(stderr, "mird: warning: %s was trained with other values of: %s (the new ones apply from here on)\n", path, diff);
    json_decref(a), json_decref(b);
}

int runstate_load(const char *path, Model *m, RunState *st, const char *run_json, const TrainHooks *hooks, char *err) {
    StFile f;
    if (st_open(&f, path, err)) return -1;
    warn_changed(path, st_meta(&f, "mird.run_config"), run_json, hooks);
    int rc = model_load_state(m, &f, err);
    if (!rc) {
        const char *s = st_meta(&f, "mird.train_state");
        json_error_t je;
        json_t *o = s ? json_loads(s, 0, &je) : NULL;
        if (!o || runstate_from_json(st, o)) rc = errf(err, "%s: no valid mird.train_state (not a training checkpoint)", path);
        json_decref(o);
    }
    st_close(&f);
    return rc;
}


void runstate_free(RunState *st) {
    json_decref(st->best_valid), json_decref(st->best_test), json_decref(st->last_line);
    st->best_valid = st->best_test = st->last_line = NULL;
    free(st->rank_dropout);
    st->rank_dropout = NULL, st->nranks = 0;
}
