// trainer.c: see trainer.h. The loop per seed:
//   fresh start (official init from the seed, optional pretrained BERT / --init checkpoint) or
//   --resume from last.safetensors; then per epoch: a permutation of the labeled clips from the
//   shuffle stream, batches of batch_size labeled clips each travelling with its split_rate
//   unlabeled partners (clip i with unlabeled i + k N_l), one model step + club_steps estimator
//   steps per batch; then evaluation of valid and test (eval mode), selection on the lowest MSE of
//   the selection split, the log line, the best and last checkpoints, early stopping.
#include "train/trainer.h"

#include <errno.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/common.h"
#include "core/matmul.h"
#include "core/rng.h"
#include "data/batch.h"
#include "io/checkpoint.h"
#include "train/metrics.h"
#include "train/model_glue.h"
#include "train/plot.h"
#include "train/progress.h"
#include "train/runfiles.h"
#include "train/runlog.h"
#include "train/schedule.h"
#include "train/traindata.h"

// ---------------------------------------------------------------- run state (saved in checkpoints)
// Sums of the per-step values of the current epoch, in the order of STEP_KEYS.
#define NSUMS STEP_NVALS
typedef struct {
    int epoch;             // the epoch in progress (0-based); == epochs when finished
    long step_in_epoch;    // steps of `epoch` already taken
    long global_step;      // optimiser steps so far (the schedule's step)
    Rng shuffle_at_epoch;  // shuffle stream at the start of `epoch` (regenerates its permutation)
    Rng shuffle, dropout;  // live streams
    double sums[NSUMS];    // of the current epoch
    double epoch_seconds;  // training seconds of the current epoch so far
    double best_loss;      // selection loss of the best epoch (INFINITY before the first)
    int best_epoch;        // 1-based, 0 = none
    int since_improve;     // epochs without improvement
    int finished;          // all epochs done or early-stopped
    json_t *best_valid, *best_test; // metrics of the best epoch (owned)
    json_t *last_line;     // the log line of the last finished epoch (owned): a crash between the
                           // checkpoint and the log append is repaired from it on resume
} RunState;

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

static json_t *state_to_json(const RunState *st) {
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
    return o;
}

static int state_from_json(RunState *st, json_t *o) {
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
    return 0;
}

// ---------------------------------------------------------------- checkpoints with the full state
static int save_state(const char *path, Model *m, const RunState *st, const char *run_json, const char *shape_json,
                      char *err) {
    // a non-finite parameter never reaches a checkpoint
    const char *bad = model_first_nonfinite(m);
    if (bad) return errf(err, "%s: not written: parameter %s holds NaN or inf", path, bad);
    StWriter w;
    stw_init(&w);
    model_add_state(m, &w); // estimators, both optimisers (moments and steps)
    json_t *sj = state_to_json(st);
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
                                         "checkpoint_steps", "eval_batch_size", "out", "seeds", "vocab", NULL};
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

static int load_state(const char *path, Model *m, RunState *st, const char *run_json, const TrainHooks *h, char *err) {
    StFile f;
    if (st_open(&f, path, err)) return -1;
    warn_changed(path, st_meta(&f, "mird.run_config"), run_json, h);
    int rc = model_load_state(m, &f, err);
    if (!rc) {
        const char *s = st_meta(&f, "mird.train_state");
        json_error_t je;
        json_t *o = s ? json_loads(s, 0, &je) : NULL;
        if (!o || state_from_json(st, o)) rc = errf(err, "%s: no valid mird.train_state (not a training checkpoint)", path);
        json_decref(o);
    }
    st_close(&f);
    return rc;
}

// ---------------------------------------------------------------- evaluation
// Predictions (eval mode) of every clip of a split; lat (may be NULL): [n, 4, z] latents zS zL zA zV.
static void predict_split(Model *m, const TSplit *s, Batch *b, float *pred, float *lat) {
    int zd = model_latent_size(m), nb;
    for (int i0 = 0; i0 < s->n; i0 += nb) {
        nb = batch_seq(b, &s->d, i0, b->cap);
        model_predict(m, b, pred + i0, lat ? lat + (size_t)i0 * 4 * zd : NULL);
    }
}

static void evaluate(Model *m, const TSplit *s, Batch *b, Metrics *out, float *pred) {
    predict_split(m, s, b, pred, NULL);
    metrics_compute(out, pred, s->labels, s->n);
}

static int write_predictions_csv(const char *path, const TSplit *s, const float *pred, char *err) {
    AtomicFile af;
    if (atomic_open(&af, path, err)) return -1;
    tsplit_write_csv(af.f, s, pred);
    return atomic_commit(&af, err);
}

// ---------------------------------------------------------------- one seed
typedef struct {
    const RunConfig *c;
    TSplit sp[3], unl;
    int have_unl;
    char data_sha[65], unl_sha[65];
    char *run_json;   // resolved run config (compact)
    char *shape_json; // {"Tl":..,"Ta":..,"Tv":..}
    json_t *model_cfg;
    const TrainHooks *hooks; // may be NULL
} Run;

static int file_exists(const char *p) { return access(p, F_OK) == 0; }

static void path_in(char *out, size_t cap, const char *dir, const char *name) { snprintf(out, cap, "%s/%s", dir, name); }

static int train_seed(Run *R, int seed, char *err) {
    const RunConfig *c = R->c;
    char dir[4200], p_last[4300], p_best[4300], p_log[4300], p_res[4300], tmp[4300];
    snprintf(dir, sizeof dir, "%s/seed_%d", c->out, seed);
    if (make_dirs(dir, err)) return TRAIN_FAIL;
    path_in(p_last, sizeof p_last, dir, "last.safetensors");
    path_in(p_best, sizeof p_best, dir, "best.safetensors");
    path_in(p_log, sizeof p_log, dir, "log.jsonl");
    path_in(p_res, sizeof p_res, dir, "results.json");

    const TSplit *tr = &R->sp[TD_TRAIN];
    const int r = R->have_unl ? c->split_rate : 0;
    const int bs = c->batch_size, Nl = tr->n;
    const long steps_per_epoch = (Nl + bs - 1) / bs, total_steps = steps_per_epoch * c->epochs;
    Schedule sched;
    schedule_init(&sched, runconfig_schedule(c), Nl, bs, c->epochs, c->warmup_proportion);

    Model m;
    int evb = c->eval_batch_size, bmax = bs * (1 + r) > evb ? bs * (1 + r) : evb;
    if (model_create(&m, R->model_cfg, c, bmax, tr->Tl, tr->Ta, tr->Tv, err)) return TRAIN_FAIL;
    RunState st;
    memset(&st, 0, sizeof st);
    st.best_loss = INFINITY;
    int rc = TRAIN_OK;
    if (c->resume && file_exists(p_last)) {
        if (load_state(p_last, &m, &st, R->run_json, R->hooks, err)) {
            model_free(&m);
            return TRAIN_FAIL;
        }
        // the log keeps the epochs the checkpoint has (1-based): later lines go, a missing last one
        // (a crash between the checkpoint and the append) comes back from the checkpoint
        if (runlog_truncate(p_log, st.epoch, err)) rc = TRAIN_FAIL;
        if (rc == TRAIN_OK && st.last_line) {
            json_t *arr = runlog_read(p_log, err);
            json_t *last = arr ? json_array_get(arr, json_array_size(arr) - 1) : NULL;
            long have = last ? (long)json_integer_value(json_object_get(last, "epoch")) : 0;
            if (!arr) rc = TRAIN_FAIL;
            else if (have < json_integer_value(json_object_get(st.last_line, "epoch")) && runlog_append(p_log, st.last_line, err))
                rc = TRAIN_FAIL;
            json_decref(arr);
        }
        if (!c->quiet) fprintf(stderr, "mird: seed %d: resuming at epoch %d, step %ld of it\n", seed, st.epoch + 1, st.step_in_epoch);
    } else {
        Rng init;
        rng_seed(&init, (uint64_t)seed, RNG_STREAM_INIT);
        if (model_init(&m, &init, c, err)) rc = TRAIN_FAIL;
        rng_seed(&st.shuffle, (uint64_t)seed, RNG_STREAM_SHUFFLE);
        rng_seed(&st.dropout, (uint64_t)seed, RNG_STREAM_DROPOUT);
        st.shuffle_at_epoch = st.shuffle;
        unlink(p_log);
        unlink(p_res);
        unlink(p_best);
    }

    // the batches (MIRD.md pairing): labeled clip i with unlabeled clips i + k N_l; the iterator's
    // shuffle stream is st.shuffle_at_epoch at each epoch start (checkpointed with the run state)
    Batch batch, ebatch;
    batch_alloc(&batch, bs, bs * (1 + r), tr->Tl, tr->Ta, tr->Tv, tr->d_a, tr->d_v);
    batch_alloc(&ebatch, evb, evb, tr->Tl, tr->Ta, tr->Tv, tr->d_a, tr->d_v);
    BatchIter it;
    memset(&it, 0, sizeof it);
    if (rc == TRAIN_OK && batch_iter_init(&it, &tr->d, R->have_unl ? &R->unl.d : NULL, r, bs, (uint64_t)seed, err))
        rc = TRAIN_FAIL;
    int nmax = R->sp[TD_VALID].n > R->sp[TD_TEST].n ? R->sp[TD_VALID].n : R->sp[TD_TEST].n;
    float *pred = xmalloc(sizeof(float) * (size_t)(nmax + 1));
    Progress pg;
    progress_init(&pg, total_steps, st.global_step, c->quiet);
    double last_ckpt = now_seconds();
    const int sel = !strcmp(c->select, "test") ? TD_TEST : TD_VALID;

    while (rc == TRAIN_OK && !st.finished && st.epoch < c->epochs) {
        // the epoch's permutation: identity shuffled by the stream's state at the epoch start; a
        // resumed epoch skips the steps already taken
        batch_iter_epoch_from(&it, &st.shuffle_at_epoch, st.step_in_epoch);
        st.shuffle = it.rng;
        double t_epoch = now_seconds() - st.epoch_seconds;
        while (st.step_in_epoch < steps_per_epoch) {
            if (batch_iter_next(&it, &batch) != 1) {
                errf(err, "seed %d, epoch %d: batching ended early (internal error)", seed, st.epoch + 1);
                rc = TRAIN_FAIL;
                break;
            }
            double f = schedule_factor(&sched, st.global_step);
            double vals[STEP_NVALS];
            if (model_train_step(&m, &batch, c->lr * f, c->mi_lr, &st.dropout, vals, err)) {
                snprintf(tmp, sizeof tmp, "%s", err);
                errf(err, "seed %d, epoch %d, step %ld (global step %ld): %s", seed, st.epoch + 1, st.step_in_epoch + 1,
                     st.global_step + 1, tmp);
                rc = TRAIN_FAIL;
                break;
            }
            for (int k = 0; k < NSUMS; k++) st.sums[k] += vals[k];
            st.step_in_epoch++, st.global_step++;
            char status[160];
            snprintf(status, sizeof status, "loss %.4f pred %.4f mi %.3g", vals[STEP_LOSS], vals[STEP_PRED], vals[STEP_MI_SUM]);
            progress_step(&pg, st.global_step, st.epoch + 1, c->epochs, status);
            if (c->stop_after_steps > 0 && st.global_step >= c->stop_after_steps) {
                progress_done(&pg);
                rc = TRAIN_STOPPED; // a simulated crash: nothing more is written
                break;
            }
            int due = now_seconds() - last_ckpt > 600 ||
                      (c->checkpoint_steps > 0 && st.step_in_epoch % c->checkpoint_steps == 0);
            if (st.step_in_epoch < steps_per_epoch && due) { // a mid-epoch copy of the whole state
                st.epoch_seconds = now_seconds() - t_epoch;
                if (save_state(p_last, &m, &st, R->run_json, R->shape_json, err)) {
                    rc = TRAIN_FAIL;
                    break;
                }
                last_ckpt = now_seconds();
            }
        }
        if (rc != TRAIN_OK) break;
        double train_seconds = now_seconds() - t_epoch;
        // evaluation
        double t_eval = now_seconds();
        Metrics mv, mt;
        evaluate(&m, &R->sp[TD_VALID], &ebatch, &mv, pred);
        evaluate(&m, &R->sp[TD_TEST], &ebatch, &mt, pred);
        double sel_loss = sel == TD_TEST ? mt.mse : mv.mse;
        int improved = sel_loss < st.best_loss; // strictly lower, as the official script
        // the log line
        json_t *line = json_object();
        json_object_set_new(line, "epoch", json_integer(st.epoch + 1));
        json_object_set_new(line, "global_step", json_integer(st.global_step));
        json_object_set_new(line, "lr", json_real(c->lr * schedule_factor(&sched, st.global_step - 1)));
        json_object_set_new(line, "mi_lr", json_real(c->mi_lr));
        json_t *tj = json_object();
        for (int k = 0; k < STEP_NVALS; k++)
            json_object_set_new(tj, STEP_KEYS[k], json_real_or_null(st.sums[k] / (double)steps_per_epoch));
        json_object_set_new(line, "train", tj);
        json_object_set_new(line, "valid", metrics_to_json(&mv));
        json_object_set_new(line, "test", metrics_to_json(&mt));
        json_object_set_new(line, "improved", json_boolean(improved));
        json_object_set_new(line, "train_seconds", json_real(train_seconds));
        json_object_set_new(line, "eval_seconds", json_real(now_seconds() - t_eval));
        if (improved) {
            st.best_loss = sel_loss, st.best_epoch = st.epoch + 1, st.since_improve = 0;
            json_decref(st.best_valid), json_decref(st.best_test);
            st.best_valid = metrics_to_json(&mv), st.best_test = metrics_to_json(&mt);
        } else {
            st.since_improve++;
        }
        progress_line(&pg, "seed %d epoch %d/%d  loss %.4f  valid MAE %.4f Corr %.4f Non0-Acc2 %.4f  test MAE %.4f%s",
                      seed, st.epoch + 1, c->epochs, st.sums[STEP_LOSS] / steps_per_epoch, mv.v[MET_MAE], mv.v[MET_CORR],
                      mv.v[MET_NON0_ACC2], mt.v[MET_MAE], improved ? "  *best" : "");
        // next epoch's state
        json_decref(st.last_line);
        st.last_line = json_incref(line);
        st.epoch++;
        st.step_in_epoch = 0;
        memset(st.sums, 0, sizeof st.sums);
        st.epoch_seconds = 0;
        st.shuffle_at_epoch = st.shuffle;
        if (st.epoch >= c->epochs || (c->early_stop > 0 && st.since_improve >= c->early_stop)) st.finished = 1;
        if (improved && save_state(p_best, &m, &st, R->run_json, R->shape_json, err)) rc = TRAIN_FAIL;
        if (rc == TRAIN_OK && save_state(p_last, &m, &st, R->run_json, R->shape_json, err)) rc = TRAIN_FAIL;
        last_ckpt = now_seconds();
        // the log line goes after the checkpoint: a crash in between re-runs the epoch, and the
        // resumed run truncates the log to the checkpoint's epoch
        if (rc == TRAIN_OK && runlog_append(p_log, line, err)) rc = TRAIN_FAIL;
        if (rc == TRAIN_OK && R->hooks && R->hooks->on_epoch && R->hooks->on_epoch(R->hooks->user, seed, line)) {
            errf(err, "seed %d: stopped by the epoch callback after epoch %d (resume continues from there)", seed, st.epoch);
            rc = TRAIN_CANCELLED;
        }
        json_decref(line);
        if (st.finished && st.epoch < c->epochs && !c->quiet)
            progress_line(&pg, "seed %d: early stop after epoch %d (%d epochs without improvement)", seed, st.epoch,
                          st.since_improve);
    }
    progress_done(&pg);

    if (rc == TRAIN_OK) {
        // the best model: its metrics were recorded; reload it for predictions and latents
        if (st.best_epoch > 0 && model_load_params(&m, p_best, err)) rc = TRAIN_FAIL;
        if (rc == TRAIN_OK) {
            const TSplit *ts = &R->sp[TD_TEST];
            int zd = model_latent_size(&m);
            float *lat = c->dump_latents ? xmalloc(sizeof(float) * (size_t)ts->n * 4 * zd + 1) : NULL;
            predict_split(&m, ts, &ebatch, pred, lat);
            path_in(tmp, sizeof tmp, dir, "test_predictions.csv");
            if (write_predictions_csv(tmp, ts, pred, err)) rc = TRAIN_FAIL;
            if (lat && rc == TRAIN_OK) {
                StWriter w;
                stw_init(&w);
                float *zs[4];
                static const char *const names[4] = {"zy", "zl", "za", "zv"};
                int64_t shape[2] = {ts->n, zd};
                for (int k = 0; k < 4; k++) {
                    zs[k] = xmalloc(sizeof(float) * (size_t)ts->n * zd + 1);
                    for (int i = 0; i < ts->n; i++) memcpy(zs[k] + (size_t)i * zd, lat + ((size_t)i * 4 + k) * zd, sizeof(float) * zd);
                    stw_add_f32(&w, names[k], 2, shape, zs[k]);
                }
                int64_t ls[1] = {ts->n};
                stw_add_f32(&w, "labels", 1, ls, ts->labels);
                stw_add_f32(&w, "y_hat", 1, ls, pred);
                stw_meta(&w, "mird.note", "test clips' latents of the best model (eval mode): zy = z_S, zl, za, zv");
                path_in(tmp, sizeof tmp, dir, "latents.safetensors");
                if (stw_write(&w, tmp, err)) rc = TRAIN_FAIL;
                stw_free(&w);
                for (int k = 0; k < 4; k++) free(zs[k]);
            }
            free(lat);
        }
        if (rc == TRAIN_OK) {
            json_t *res = json_object();
            json_object_set_new(res, "program", json_string("mird"));
            json_object_set_new(res, "version", json_string(MIRD_VERSION));
            json_object_set_new(res, "seed", json_integer(seed));
            json_object_set_new(res, "best_epoch", json_integer(st.best_epoch));
            json_object_set_new(res, "epochs_run", json_integer(st.epoch));
            json_object_set_new(res, "early_stopped", json_boolean(st.epoch < c->epochs));
            json_object_set_new(res, "select", json_string(c->select));
            json_object_set_new(res, "selection_loss", json_real_or_null(st.best_loss));
            json_object_set_new(res, "selection_metric", json_string("mse"));
            json_object_set_new(res, "valid", st.best_valid ? json_incref(st.best_valid) : json_null());
            json_object_set_new(res, "test", st.best_test ? json_incref(st.best_test) : json_null());
            json_error_t je;
            json_t *cfg = json_loads(R->run_json, 0, &je);
            json_object_set_new(cfg, "seeds", json_pack("[i]", seed));
            json_object_set_new(res, "config", cfg);
            json_object_set_new(res, "model_config", json_incref(R->model_cfg));
            json_t *data = json_object();
            json_object_set_new(data, "data", json_pack("{s:s,s:s}", "path", c->data, "sha256", R->data_sha));
            if (R->have_unl)
                json_object_set_new(data, "unlabeled", json_pack("{s:s,s:s,s:i}", "path", c->unlabeled, "sha256", R->unl_sha,
                                                                 "used", tr->n * c->split_rate));
            json_object_set_new(data, "n_train", json_integer(tr->n));
            json_object_set_new(data, "n_valid", json_integer(R->sp[TD_VALID].n));
            json_object_set_new(data, "n_test", json_integer(R->sp[TD_TEST].n));
            json_object_set_new(res, "data", data);
            json_object_set_new(res, "checkpoint", json_string("best.safetensors"));
            if (json_write_atomic(p_res, res, err)) rc = TRAIN_FAIL;
            json_decref(res);
        }
        if (rc == TRAIN_OK && plot_run(dir, err)) rc = TRAIN_FAIL;
    }
    json_decref(st.best_valid), json_decref(st.best_test), json_decref(st.last_line);
    free(pred);
    if (it.order) batch_iter_free(&it);
    batch_free(&batch), batch_free(&ebatch);
    model_free(&m);
    return rc;
}

// ---------------------------------------------------------------- all seeds
int train_run(const RunConfig *c, char *err) { return train_run_hooked(c, NULL, err); }

int train_run_hooked(const RunConfig *c, const TrainHooks *hooks, char *err) {
    if (runconfig_validate(c, err)) return TRAIN_USAGE;
    if (c->threads > 0) omp_set_num_threads(c->threads);
    MatmulPrecision want = strcmp(c->precision, "bf16") ? MATMUL_FP32 : MATMUL_BF16;
    if (matmul_set_precision(want) != want && !c->quiet)
        fprintf(stderr, "mird: precision bf16: this CPU (or build) has no bfloat16 matrix products; running fp32\n");
    Run R;
    memset(&R, 0, sizeof R);
    R.c = c;
    R.hooks = hooks;
    // the model configuration: --model, else the one in --init, else the paper's defaults
    json_t *mc = NULL;
    if (model_config_resolve(c, &mc, err)) return TRAIN_FAIL;
    R.model_cfg = mc;
    if (make_dirs(c->out, err)) {
        json_decref(mc);
        return TRAIN_FAIL;
    }
    char vocab[4200];
    tdata_default_vocab(c->vocab, c->bert, c->data, vocab, sizeof vocab);
    int rc = TRAIN_OK;
    if (sha256_file(c->data, R.data_sha, err) || tdata_load(c->data, vocab, c->max_len, R.sp, err)) rc = TRAIN_FAIL;
    if (rc == TRAIN_OK && c->unlabeled[0] && c->split_rate > 0) {
        R.have_unl = 1;
        // raw text is tokenized to the labeled data's length (which an MMSA file's text_bert may fix)
        if (sha256_file(c->unlabeled, R.unl_sha, err) || tdata_load_unlabeled(c->unlabeled, vocab, R.sp[TD_TRAIN].Tl, &R.unl, err))
            rc = TRAIN_FAIL;
        else if (R.unl.n < R.sp[TD_TRAIN].n * c->split_rate) {
            errf(err, "%s: %d unlabeled clips, but split-rate %d x %d labeled clips need %d", c->unlabeled, R.unl.n,
                 c->split_rate, R.sp[TD_TRAIN].n, R.sp[TD_TRAIN].n * c->split_rate);
            rc = TRAIN_FAIL;
        } else if (R.unl.Tl != R.sp[0].Tl || R.unl.Ta != R.sp[0].Ta || R.unl.Tv != R.sp[0].Tv || R.unl.d_a != R.sp[0].d_a ||
                   R.unl.d_v != R.sp[0].d_v) {
            errf(err, "%s: clips of %d word pieces, %d x %d audio, %d x %d visual; %s has %d, %d x %d, %d x %d", c->unlabeled,
                 R.unl.Tl, R.unl.Ta, R.unl.d_a, R.unl.Tv, R.unl.d_v, c->data, R.sp[0].Tl, R.sp[0].Ta, R.sp[0].d_a,
                 R.sp[0].Tv, R.sp[0].d_v);
            rc = TRAIN_FAIL;
        }
    }
    if (rc == TRAIN_OK && (R.sp[TD_TRAIN].n == 0 || R.sp[TD_VALID].n == 0 || R.sp[TD_TEST].n == 0)) {
        errf(err, "%s: train, valid and test must each hold at least one clip", c->data);
        rc = TRAIN_FAIL;
    }
    for (int k = 0; k < 3 && rc == TRAIN_OK; k++)
        if (model_config_check_data(mc, &R.sp[k], c->data, err)) rc = TRAIN_FAIL;
    if (rc == TRAIN_OK && R.have_unl && model_config_check_data(mc, &R.unl, c->unlabeled, err)) rc = TRAIN_FAIL;
    if (rc == TRAIN_OK) {
        json_t *rj = runconfig_to_json(c);
        R.run_json = json_dumps(rj, JSON_COMPACT | JSON_REAL_PRECISION(17));
        json_t *all = json_pack("{s:O,s:O,s:s}", "run", rj, "model", mc, "version", MIRD_VERSION);
        char p[4200];
        snprintf(p, sizeof p, "%s/config.json", c->out);
        if (json_write_atomic(p, all, err)) rc = TRAIN_FAIL;
        json_decref(all), json_decref(rj);
        const TSplit *t = &R.sp[TD_TRAIN];
        json_t *sh = json_pack("{s:i,s:i,s:i,s:i,s:i}", "Tl", t->Tl, "Ta", t->Ta, "Tv", t->Tv, "d_a", t->d_a, "d_v", t->d_v);
        char *rp = realpath(vocab, NULL); // the vocabulary, for mird eval / predict without --vocab
        if (rp) json_object_set_new(sh, "vocab", json_string(rp));
        free(rp);
        R.shape_json = json_dumps(sh, JSON_COMPACT);
        json_decref(sh);
    }
    for (int s = 0; s < c->n_seeds && rc == TRAIN_OK; s++) rc = train_seed(&R, c->seeds[s], err);
    if (rc == TRAIN_OK && summary_write(c->out, c->seeds, c->n_seeds, err)) rc = TRAIN_FAIL;
    if (rc == TRAIN_OK && !c->quiet) {
        char p[4200];
        snprintf(p, sizeof p, "%s/summary.json", c->out);
        json_error_t je;
        json_t *sm = json_load_file(p, 0, &je);
        json_t *ref = NULL;
        if (c->reference[0]) {
            ref = json_load_file(c->reference, 0, &je);
            if (!ref) fprintf(stderr, "mird: %s: %s (reference columns left out)\n", c->reference, je.text);
        }
        printf("test metrics of the selected epochs (%d seed%s, mean +- std, ddof 0; percentages except MAE and Corr):\n",
               c->n_seeds, c->n_seeds > 1 ? "s" : "");
        summary_print(stdout, sm, "test", ref);
        printf("run folder: %s (summary.json; per seed: results.json, log.jsonl, losses.svg, mi.svg, valid.svg)\n", c->out);
        json_decref(ref);
        json_decref(sm);
    }
    for (int k = 0; k < 3; k++) tsplit_free(&R.sp[k]);
    if (R.have_unl) tsplit_free(&R.unl);
    free(R.run_json), free(R.shape_json);
    json_decref(mc);
    return rc;
}
