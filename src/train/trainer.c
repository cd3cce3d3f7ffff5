// trainer.c: one run's data and one seed's training (trainer_internal.h). The loop per seed:
//   fresh start (official init from the seed, optional pretrained BERT / --init checkpoint) or
//   --resume from last.safetensors; then per epoch: a permutation of the labeled clips from the
//   shuffle stream, batches of batch_size labeled clips each travelling with its split_rate
//   unlabeled partners (clip i with unlabeled i + k N_l), one model step + club_steps estimator
//   steps per batch; then evaluation of valid and test (eval mode), selection on the lowest MSE of
//   the selection split, the log line, the best and last checkpoints, early stopping.
// Data parallel (R->comm with several ranks, docs/distributed.md): every rank holds the model and
// steps on its share of each batch; rank 0 of the group alone writes (logs, checkpoints, outputs)
// and hands its state to the others on a start or resume; every step that can fail on one rank
// only is followed by an agreement (comm_agree), so all ranks stop together with its message.
#include "train/trainer_internal.h"

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
#include "train/runstate.h"
#include "train/schedule.h"
#include "train/traindata.h"

// ---------------------------------------------------------------- evaluation
// Predictions (eval mode) of clips [a, e) of a split into pred[a..e); lat (may be NULL): [n, 4, z]
// latents zS zL zA zV.
static void predict_range(Model *m, const TSplit *s, Batch *b, int a, int e, float *pred, float *lat) {
    int zd = model_latent_size(m), nb;
    for (int i0 = a; i0 < e; i0 += nb) {
        nb = batch_seq(b, &s->d, i0, e - i0);
        model_predict(m, b, pred + i0, lat ? lat + (size_t)i0 * 4 * zd : NULL);
    }
}

// Every clip's prediction on every rank: each rank predicts a contiguous share of the split, one
// gather puts them together, and every rank computes the same metrics (they decide selection).
static void evaluate(Model *m, const Comm *cm, const TSplit *s, Batch *b, Metrics *out, float *pred) {
    int P = cm->size, *cnt = xmalloc(sizeof(int) * (size_t)P);
    for (int r = 0; r < P; r++) cnt[r] = (int)((long)(r + 1) * s->n / P - (long)r * s->n / P);
    int a = (int)((long)cm->rank * s->n / P);
    predict_range(m, s, b, a, a + cnt[cm->rank], pred, NULL);
    if (P > 1) {
        float *mine = xmalloc(sizeof(float) * (size_t)(cnt[cm->rank] + 1));
        memcpy(mine, pred + a, sizeof(float) * (size_t)cnt[cm->rank]);
        comm_allgatherv_rows(cm, mine, cnt, 1, pred);
        free(mine);
    }
    free(cnt);
    metrics_compute(out, pred, s->labels, s->n);
}

static int write_predictions_csv(const char *path, const TSplit *s, const float *pred, char *err) {
    AtomicFile af;
    if (atomic_open(&af, path, err)) return -1;
    tsplit_write_csv(af.f, s, pred);
    return atomic_commit(&af, err);
}

// ---------------------------------------------------------------- paths
static int file_exists(const char *p) { return access(p, F_OK) == 0; }

static void path_in(char *out, size_t cap, const char *dir, const char *name) { snprintf(out, cap, "%s/%s", dir, name); }

// ---------------------------------------------------------------- one seed
// Everything one seed's training holds; the phases below each take one responsibility.
typedef struct {
    Run *R;
    int seed;
    char dir[4200], p_last[4300], p_best[4300], p_log[4300], p_res[4300];
    Schedule sched;
    long steps_per_epoch, total_steps;
    Model m;
    RunState st;
    Batch batch, ebatch; // training batch (labeled rows + partners), evaluation batch
    BatchIter it;
    float *pred;         // predictions of the largest evaluation split
    Progress pg;
    double last_ckpt;    // when last.safetensors was last written
    int sel;             // the selection split
} Seed;

// Folders and paths, the schedule, the model and every buffer of the seed.
static int seed_open(Seed *S, Run *R, int seed, char *err) {
    const RunConfig *c = R->c;
    memset(S, 0, sizeof *S);
    S->R = R, S->seed = seed;
    snprintf(S->dir, sizeof S->dir, "%s/seed_%d", c->out, seed);
    if (R->root && make_dirs(S->dir, err)) return TRAIN_FAIL;
    path_in(S->p_last, sizeof S->p_last, S->dir, "last.safetensors");
    path_in(S->p_best, sizeof S->p_best, S->dir, "best.safetensors");
    path_in(S->p_log, sizeof S->p_log, S->dir, "log.jsonl");
    path_in(S->p_res, sizeof S->p_res, S->dir, "results.json");
    const TSplit *tr = &R->sp[TD_TRAIN];
    const int r = R->have_unl ? c->split_rate : 0, bs = c->batch_size, Nl = tr->n;
    S->steps_per_epoch = (Nl + bs - 1) / bs, S->total_steps = S->steps_per_epoch * c->epochs;
    schedule_init(&S->sched, runconfig_schedule(c), Nl, bs, c->epochs, c->warmup_proportion);
    // this rank's share of a batch: at most ceil(bs / ranks) labeled clips and their partners
    const int bl = (bs + R->comm->size - 1) / R->comm->size;
    int evb = c->eval_batch_size, bmax = bl * (1 + r) > evb ? bl * (1 + r) : evb;
    if (model_create(&S->m, R->model_cfg, c, bmax, tr->Tl, tr->Ta, tr->Tv, err)) return TRAIN_FAIL;
    model_set_comm(&S->m, R->comm, bs * (1 + r));
    S->st.best_loss = INFINITY;
    // the batches (MIRD.md pairing): labeled clip i with unlabeled clips i + k N_l
    batch_alloc(&S->batch, bl, bl * (1 + r), tr->Tl, tr->Ta, tr->Tv, tr->d_a, tr->d_v);
    batch_alloc(&S->ebatch, evb, evb, tr->Tl, tr->Ta, tr->Tv, tr->d_a, tr->d_v);
    int nmax = R->sp[TD_VALID].n > R->sp[TD_TEST].n ? R->sp[TD_VALID].n : R->sp[TD_TEST].n;
    S->pred = xmalloc(sizeof(float) * (size_t)(nmax + 1));
    S->sel = !strcmp(c->select, "test") ? TD_TEST : TD_VALID;
    return TRAIN_OK;
}

static void seed_close(Seed *S) {
    runstate_free(&S->st);
    free(S->pred);
    if (S->it.order) batch_iter_free(&S->it);
    if (S->batch.ids) batch_free(&S->batch);
    if (S->ebatch.ids) batch_free(&S->ebatch);
    model_free(&S->m);
}

// Rank p's dropout stream: rank 0 keeps the single-process stream, rank p > 0 its own; resumed on
// as many ranks as the checkpoint was written by, each continues its saved stream.
static void seed_rank_dropout(Seed *S, int resumed) {
    const Comm *cm = S->R->comm;
    RunState *st = &S->st;
    int saved = st->nranks > 1 ? st->nranks : 1; // ranks that wrote the checkpoint
    if (resumed && saved == cm->size) {
        if (cm->size > 1) st->dropout = st->rank_dropout[cm->rank];
        return;
    }
    if (!resumed && cm->size == 1) return;
    if (resumed && S->R->root)
        fprintf(stderr, "mird: warning: seed %d: checkpoint written by %d rank(s), resumed on %d: batches split "
                        "differently and ranks but 0 draw fresh dropout streams (not bit-identical to an uninterrupted run)\n",
                S->seed, saved, cm->size);
    if (cm->rank > 0) rng_seed(&st->dropout, (uint64_t)S->seed, RNG_STREAM_DROPOUT_RANK + (uint64_t)cm->rank);
}

// Rank 0's run state to every rank of the group (as its checkpoint JSON).
static int seed_bcast_state(Seed *S, char *err) {
    const Comm *cm = S->R->comm;
    char *js = NULL;
    size_t len = 0;
    if (S->R->root) {
        json_t *o = runstate_to_json(&S->st);
        js = json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(17));
        json_decref(o);
        len = strlen(js) + 1;
    }
    comm_bcast(cm, &len, sizeof len, 0);
    if (!S->R->root) js = xmalloc(len);
    comm_bcast(cm, js, len, 0);
    int rc = TRAIN_OK;
    if (!S->R->root) {
        json_error_t je;
        json_t *o = json_loads(js, 0, &je);
        runstate_free(&S->st);
        if (!o || runstate_from_json(&S->st, o)) {
            errf(err, "run state from rank 0 unreadable (internal error)");
            rc = TRAIN_FAIL;
        }
        json_decref(o);
    }
    free(js);
    return comm_agree(cm, rc, err);
}

// --resume, on rank 0: the state of last.safetensors, and the log cut back to the checkpoint's epochs.
static int seed_resume_root(Seed *S, char *err) {
    RunState *st = &S->st;
    if (runstate_load(S->p_last, &S->m, st, S->R->run_json, S->R->hooks, err)) return TRAIN_FAIL;
    // the log keeps the epochs the checkpoint has (1-based): later lines go, a missing last one
    // (a crash between the checkpoint and the append) comes back from the checkpoint
    if (runlog_truncate(S->p_log, st->epoch, err)) return TRAIN_FAIL;
    if (st->last_line) {
        json_t *arr = runlog_read(S->p_log, err);
        json_t *last = arr ? json_array_get(arr, json_array_size(arr) - 1) : NULL;
        long have = last ? (long)json_integer_value(json_object_get(last, "epoch")) : 0;
        int rc = TRAIN_OK;
        if (!arr) rc = TRAIN_FAIL;
        else if (have < json_integer_value(json_object_get(st->last_line, "epoch")) && runlog_append(S->p_log, st->last_line, err))
            rc = TRAIN_FAIL;
        json_decref(arr);
        if (rc) return rc;
    }
    if (!S->R->c->quiet)
        fprintf(stderr, "mird: seed %d: resuming at epoch %d, step %ld of it\n", S->seed, st->epoch + 1, st->step_in_epoch);
    return TRAIN_OK;
}

// --resume: rank 0 reads the checkpoint and hands the whole state to the other ranks.
static int seed_resume(Seed *S, char *err) {
    int rc = S->R->root ? seed_resume_root(S, err) : TRAIN_OK;
    if ((rc = comm_agree(S->R->comm, rc, err))) return rc;
    model_bcast(&S->m, S->R->comm, 0, 1);
    if ((rc = seed_bcast_state(S, err))) return rc;
    seed_rank_dropout(S, 1);
    return TRAIN_OK;
}


// A fresh start: the official initialisation from the seed (by rank 0, copied to the others), the
// seed's streams, no old outputs.
static int seed_fresh(Seed *S, char *err) {
    const RunConfig *c = S->R->c;
    Rng init;
    rng_seed(&init, (uint64_t)S->seed, RNG_STREAM_INIT);
    int rc = S->R->root && model_init(&S->m, &init, c, err) ? TRAIN_FAIL : TRAIN_OK;
    if ((rc = comm_agree(S->R->comm, rc, err))) return rc;
    model_bcast(&S->m, S->R->comm, 0, 0);
    rng_seed(&S->st.shuffle, (uint64_t)S->seed, RNG_STREAM_SHUFFLE);
    rng_seed(&S->st.dropout, (uint64_t)S->seed, RNG_STREAM_DROPOUT);
    S->st.shuffle_at_epoch = S->st.shuffle;
    seed_rank_dropout(S, 0);
    if (S->R->root) unlink(S->p_log), unlink(S->p_res), unlink(S->p_best);
    return TRAIN_OK;
}

// Fresh or resumed, then the batch iterator (its shuffle stream is st.shuffle_at_epoch at each
// epoch start, checkpointed with the run state) and the progress display.
static int seed_start(Seed *S, char *err) {
    const RunConfig *c = S->R->c;
    int resume = c->resume && S->R->root && file_exists(S->p_last); // rank 0 decides
    comm_bcast(S->R->comm, &resume, sizeof resume, 0);
    int rc = resume ? seed_resume(S, err) : seed_fresh(S, err);
    const Run *R = S->R;
    if (rc == TRAIN_OK && batch_iter_init(&S->it, &R->sp[TD_TRAIN].d, R->have_unl ? &R->unl.d : NULL,
                                          R->have_unl ? c->split_rate : 0, c->batch_size, (uint64_t)S->seed, err))
        rc = TRAIN_FAIL;
    progress_init(&S->pg, S->total_steps, S->st.global_step, c->quiet || !R->root);
    S->last_ckpt = now_seconds();
    return comm_agree(R->comm, rc, err);
}

// A checkpoint of the whole state (collective): every rank's dropout stream gathered into the
// state, written by rank 0.
static int seed_save(Seed *S, const char *path, char *err) {
    const Comm *cm = S->R->comm;
    RunState *st = &S->st;
    if (cm->size == 1 && st->nranks) { // resumed from a run on several ranks: one stream now
        free(st->rank_dropout);
        st->rank_dropout = NULL, st->nranks = 0;
    }
    if (cm->size > 1) {
        if (st->nranks != cm->size) {
            free(st->rank_dropout);
            st->nranks = cm->size, st->rank_dropout = xcalloc((size_t)cm->size, sizeof(Rng));
        }
        comm_allgather_int(cm, (const int *)&st->dropout, (int)(sizeof(Rng) / sizeof(int)), (int *)st->rank_dropout);
    }
    int rc = S->R->root && runstate_save(path, &S->m, st, S->R->run_json, S->R->shape_json, err) ? TRAIN_FAIL : TRAIN_OK;
    return comm_agree(cm, rc, err);
}

// One optimiser step on the next batch (this rank's share of it; the values go into the epoch's
// sums). *due: rank 0's clock says a mid-epoch checkpoint is due (agreed with the batch check).
static int seed_step(Seed *S, int *due, char *err) {
    RunState *st = &S->st;
    const Comm *cm = S->R->comm;
    char tmp[MIRD_ERRLEN];
    int bad = 0;
    if (batch_iter_next_part(&S->it, &S->batch, cm->rank, cm->size) != 1)
        bad = 1, errf(err, "seed %d, epoch %d: batching ended early (internal error)", S->seed, st->epoch + 1);
    else if (model_check_batch(&S->m, &S->batch, err))
        bad = 1;
    int flags[2] = {bad, S->R->root && now_seconds() - S->last_ckpt > 600};
    comm_allreduce_max_int(cm, flags, 2); // one exchange: did any rank fail, is rank 0's checkpoint due
    if (flags[0]) {
        comm_agree(cm, bad ? TRAIN_FAIL : TRAIN_OK, err); // every rank gets the failing one's message
        return TRAIN_FAIL;
    }
    *due = flags[1];
    double f = schedule_factor(&S->sched, st->global_step);
    double vals[STEP_NVALS];
    if (model_train_step(&S->m, &S->batch, S->R->c->lr * f, S->R->c->mi_lr, &st->dropout, vals, err)) {
        snprintf(tmp, sizeof tmp, "%s", err);
        errf(err, "seed %d, epoch %d, step %ld (global step %ld): %s", S->seed, st->epoch + 1, st->step_in_epoch + 1,
             st->global_step + 1, tmp);
        return TRAIN_FAIL;
    }
    for (int k = 0; k < NSUMS; k++) st->sums[k] += vals[k];
    st->step_in_epoch++, st->global_step++;
    char status[160];
    snprintf(status, sizeof status, "loss %.4f pred %.4f mi %.3g", vals[STEP_LOSS], vals[STEP_PRED], vals[STEP_MI_SUM]);
    progress_step(&S->pg, st->global_step, st->epoch + 1, S->R->c->epochs, status);
    return TRAIN_OK;
}

// The steps of the epoch in progress (a resumed epoch skips those already taken), with mid-epoch
// copies of the whole state in last.safetensors when due.
static int seed_train_epoch(Seed *S, double *t_epoch, char *err) {
    const RunConfig *c = S->R->c;
    RunState *st = &S->st;
    // the epoch's permutation: identity shuffled by the stream's state at the epoch start
    batch_iter_epoch_from(&S->it, &st->shuffle_at_epoch, st->step_in_epoch);
    st->shuffle = S->it.rng;
    *t_epoch = now_seconds() - st->epoch_seconds;
    while (st->step_in_epoch < S->steps_per_epoch) {
        int due, rc = seed_step(S, &due, err);
        if (rc) return rc;
        if (c->stop_after_steps > 0 && st->global_step >= c->stop_after_steps) {
            progress_done(&S->pg);
            return TRAIN_STOPPED; // a simulated crash: nothing more is written
        }
        due |= c->checkpoint_steps > 0 && st->step_in_epoch % c->checkpoint_steps == 0;
        if (st->step_in_epoch < S->steps_per_epoch && due) { // a mid-epoch copy of the whole state
            st->epoch_seconds = now_seconds() - *t_epoch;
            if (seed_save(S, S->p_last, err)) return TRAIN_FAIL;
            S->last_ckpt = now_seconds();
        }
    }
    return TRAIN_OK;
}

// The epoch's log line: the means of the step values, both splits' metrics, rates and seconds.
static json_t *epoch_line(const Seed *S, const Metrics *mv, const Metrics *mt, int improved, double train_seconds,
                          double eval_seconds) {
    const RunState *st = &S->st;
    const RunConfig *c = S->R->c;
    json_t *line = json_object();
    json_object_set_new(line, "epoch", json_integer(st->epoch + 1));
    json_object_set_new(line, "global_step", json_integer(st->global_step));
    json_object_set_new(line, "lr", json_real(c->lr * schedule_factor(&S->sched, st->global_step - 1)));
    json_object_set_new(line, "mi_lr", json_real(c->mi_lr));
    json_t *tj = json_object();
    for (int k = 0; k < STEP_NVALS; k++)
        json_object_set_new(tj, STEP_KEYS[k], json_real_or_null(st->sums[k] / (double)S->steps_per_epoch));
    json_object_set_new(line, "train", tj);
    json_object_set_new(line, "valid", metrics_to_json(mv));
    json_object_set_new(line, "test", metrics_to_json(mt));
    json_object_set_new(line, "improved", json_boolean(improved));
    json_object_set_new(line, "train_seconds", json_real(train_seconds));
    json_object_set_new(line, "eval_seconds", json_real(eval_seconds));
    return line;
}

// After the epoch's steps: evaluation of valid and test (eval mode), selection on the lowest MSE of
// the selection split, the log line, the best and last checkpoints, early stopping.
static int seed_end_epoch(Seed *S, double t_epoch, char *err) {
    const RunConfig *c = S->R->c;
    RunState *st = &S->st;
    double train_seconds = now_seconds() - t_epoch, t_eval = now_seconds();
    Metrics mv, mt;
    evaluate(&S->m, S->R->comm, &S->R->sp[TD_VALID], &S->ebatch, &mv, S->pred);
    evaluate(&S->m, S->R->comm, &S->R->sp[TD_TEST], &S->ebatch, &mt, S->pred);
    double sel_loss = S->sel == TD_TEST ? mt.mse : mv.mse;
    int improved = sel_loss < st->best_loss; // strictly lower, as the official script
    json_t *line = epoch_line(S, &mv, &mt, improved, train_seconds, now_seconds() - t_eval);
    if (improved) {
        st->best_loss = sel_loss, st->best_epoch = st->epoch + 1, st->since_improve = 0;
        json_decref(st->best_valid), json_decref(st->best_test);
        st->best_valid = metrics_to_json(&mv), st->best_test = metrics_to_json(&mt);
    } else {
        st->since_improve++;
    }
    progress_line(&S->pg, "seed %d epoch %d/%d  loss %.4f  valid MAE %.4f Corr %.4f Non0-Acc2 %.4f  test MAE %.4f%s",
                  S->seed, st->epoch + 1, c->epochs, st->sums[STEP_LOSS] / S->steps_per_epoch, mv.v[MET_MAE],
                  mv.v[MET_CORR], mv.v[MET_NON0_ACC2], mt.v[MET_MAE], improved ? "  *best" : "");
    // next epoch's state
    json_decref(st->last_line);
    st->last_line = json_incref(line);
    st->epoch++;
    st->step_in_epoch = 0;
    memset(st->sums, 0, sizeof st->sums);
    st->epoch_seconds = 0;
    st->shuffle_at_epoch = st->shuffle;
    if (st->epoch >= c->epochs || (c->early_stop > 0 && st->since_improve >= c->early_stop)) st->finished = 1;
    // the replicas should be identical; if not (ranks on unlike CPUs), rank 0's state wins
    if (model_sync_check(&S->m, S->R->comm) && S->R->root)
        fprintf(stderr, "mird: warning: seed %d, epoch %d: the ranks' model replicas differed; rank 0's copied to all\n",
                S->seed, st->epoch);
    int rc = TRAIN_OK;
    if (improved && seed_save(S, S->p_best, err)) rc = TRAIN_FAIL;
    if (rc == TRAIN_OK && seed_save(S, S->p_last, err)) rc = TRAIN_FAIL;
    S->last_ckpt = now_seconds();
    // the log line goes after the checkpoint: a crash in between re-runs the epoch, and the
    // resumed run truncates the log to the checkpoint's epoch
    if (rc == TRAIN_OK) rc = comm_agree(S->R->comm, S->R->root && runlog_append(S->p_log, line, err) ? TRAIN_FAIL : 0, err);
    const TrainHooks *h = S->R->hooks;
    if (rc == TRAIN_OK && h && h->on_epoch) { // rank 0's callback decides for all ranks
        int stop = S->R->root && h->on_epoch(h->user, S->seed, line);
        comm_bcast(S->R->comm, &stop, sizeof stop, 0);
        if (stop) {
            errf(err, "seed %d: stopped by the epoch callback after epoch %d (resume continues from there)", S->seed, st->epoch);
            rc = TRAIN_CANCELLED;
        }
    }
    json_decref(line);
    if (st->finished && st->epoch < c->epochs && !c->quiet)
        progress_line(&S->pg, "seed %d: early stop after epoch %d (%d epochs without improvement)", S->seed, st->epoch,
                      st->since_improve);
    return rc;
}

// --dump-latents: the test clips' latents of the best model, and their labels and predictions.
// lat: [n, 4, zd] (model_predict); each latent written at its own size sz[k].
static int write_latents(const char *path, const TSplit *ts, const float *lat, int zd, const int sz[4],
                         const float *pred, char *err) {
    StWriter w;
    stw_init(&w);
    float *zs[4];
    static const char *const names[4] = {"zy", "zl", "za", "zv"};
    for (int k = 0; k < 4; k++) {
        int64_t shape[2] = {ts->n, sz[k]};
        zs[k] = xmalloc(sizeof(float) * (size_t)ts->n * sz[k] + 1);
        for (int i = 0; i < ts->n; i++)
            memcpy(zs[k] + (size_t)i * sz[k], lat + ((size_t)i * 4 + k) * zd, sizeof(float) * sz[k]);
        stw_add_f32(&w, names[k], 2, shape, zs[k]);
    }
    int64_t ls[1] = {ts->n};
    stw_add_f32(&w, "labels", 1, ls, ts->labels);
    stw_add_f32(&w, "y_hat", 1, ls, pred);
    stw_meta(&w, "mird.note", "test clips' latents of the best model (eval mode): zy = z_S, zl, za, zv");
    int rc = stw_write(&w, path, err);
    stw_free(&w);
    for (int k = 0; k < 4; k++) free(zs[k]);
    return rc;
}

// results.json of the seed (INTERFACES.md keys under "valid" and "test").
static json_t *seed_results(const Seed *S) {
    const Run *R = S->R;
    const RunConfig *c = R->c;
    const RunState *st = &S->st;
    json_t *res = json_object();
    json_object_set_new(res, "program", json_string("mird"));
    json_object_set_new(res, "version", json_string(MIRD_VERSION));
    json_object_set_new(res, "seed", json_integer(S->seed));
    json_object_set_new(res, "best_epoch", json_integer(st->best_epoch));
    json_object_set_new(res, "epochs_run", json_integer(st->epoch));
    json_object_set_new(res, "early_stopped", json_boolean(st->epoch < c->epochs));
    json_object_set_new(res, "select", json_string(c->select));
    json_object_set_new(res, "selection_loss", json_real_or_null(st->best_loss));
    json_object_set_new(res, "selection_metric", json_string("mse"));
    json_object_set_new(res, "valid", st->best_valid ? json_incref(st->best_valid) : json_null());
    json_object_set_new(res, "test", st->best_test ? json_incref(st->best_test) : json_null());
    json_error_t je;
    json_t *cfg = json_loads(R->run_json, 0, &je);
    json_object_set_new(cfg, "seeds", json_pack("[i]", S->seed));
    json_object_set_new(res, "config", cfg);
    json_object_set_new(res, "model_config", json_incref(R->model_cfg));
    const TSplit *tr = &R->sp[TD_TRAIN];
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
    return res;
}

// The finished seed (rank 0): the best model's test predictions (and latents), results.json, plots.
static int seed_outputs_root(Seed *S, char *err) {
    const RunConfig *c = S->R->c;
    char tmp[4300];
    // the best model: its metrics were recorded; reload it for predictions and latents
    if (S->st.best_epoch > 0 && model_load_params(&S->m, S->p_best, err)) return TRAIN_FAIL;
    const TSplit *ts = &S->R->sp[TD_TEST];
    int zd = model_latent_size(&S->m), rc = TRAIN_OK;
    float *lat = c->dump_latents ? xmalloc(sizeof(float) * (size_t)ts->n * 4 * zd + 1) : NULL;
    predict_range(&S->m, ts, &S->ebatch, 0, ts->n, S->pred, lat);
    path_in(tmp, sizeof tmp, S->dir, "test_predictions.csv");
    if (write_predictions_csv(tmp, ts, S->pred, err)) rc = TRAIN_FAIL;
    path_in(tmp, sizeof tmp, S->dir, "latents.safetensors");
    int sz[4];
    model_latent_sizes(&S->m, sz);
    if (lat && rc == TRAIN_OK && write_latents(tmp, ts, lat, zd, sz, S->pred, err)) rc = TRAIN_FAIL;
    free(lat);
    if (rc == TRAIN_OK) {
        json_t *res = seed_results(S);
        if (json_write_atomic(S->p_res, res, err)) rc = TRAIN_FAIL;
        json_decref(res);
    }
    if (rc == TRAIN_OK && plot_run(S->dir, err)) rc = TRAIN_FAIL;
    return rc;
}

int train_seed(Run *R, int seed, char *err) {
    Seed S;
    int rc = comm_agree(R->comm, seed_open(&S, R, seed, err), err);
    if (rc == TRAIN_OK) rc = seed_start(&S, err);
    while (rc == TRAIN_OK && !S.st.finished && S.st.epoch < R->c->epochs) {
        double t_epoch;
        rc = seed_train_epoch(&S, &t_epoch, err);
        if (rc == TRAIN_OK) rc = seed_end_epoch(&S, t_epoch, err);
    }
    progress_done(&S.pg);
    if (rc == TRAIN_OK) rc = comm_agree(R->comm, R->root ? seed_outputs_root(&S, err) : TRAIN_OK, err);
    seed_close(&S);
    return rc;
}

// ---------------------------------------------------------------- one run: data, configuration
// The labeled data and the unlabeled clips, checked against each other and the model.
static int run_load_data(Run *R, const char *vocab, char *err) {
    const RunConfig *c = R->c;
    TSplit *sp = R->sp;
    if (sha256_file(c->data, R->data_sha, err) || tdata_load(c->data, vocab, c->max_len, sp, err)) return TRAIN_FAIL;
    if (c->unlabeled[0] && c->split_rate > 0) {
        R->have_unl = 1;
        // raw text is tokenized to the labeled data's length (which an MMSA file's text_bert may fix)
        if (sha256_file(c->unlabeled, R->unl_sha, err) || tdata_load_unlabeled(c->unlabeled, vocab, sp[TD_TRAIN].Tl, &R->unl, err))
            return TRAIN_FAIL;
        if (R->unl.n < sp[TD_TRAIN].n * c->split_rate)
            return errf(err, "%s: %d unlabeled clips, but split-rate %d x %d labeled clips need %d", c->unlabeled, R->unl.n,
                        c->split_rate, sp[TD_TRAIN].n, sp[TD_TRAIN].n * c->split_rate), TRAIN_FAIL;
        if (R->unl.Tl != sp[0].Tl || R->unl.Ta != sp[0].Ta || R->unl.Tv != sp[0].Tv || R->unl.d_a != sp[0].d_a ||
            R->unl.d_v != sp[0].d_v)
            return errf(err, "%s: clips of %d word pieces, %d x %d audio, %d x %d visual; %s has %d, %d x %d, %d x %d",
                        c->unlabeled, R->unl.Tl, R->unl.Ta, R->unl.d_a, R->unl.Tv, R->unl.d_v, c->data, sp[0].Tl, sp[0].Ta,
                        sp[0].d_a, sp[0].Tv, sp[0].d_v), TRAIN_FAIL;
    }
    if (sp[TD_TRAIN].n == 0 || sp[TD_VALID].n == 0 || sp[TD_TEST].n == 0)
        return errf(err, "%s: train, valid and test must each hold at least one clip", c->data), TRAIN_FAIL;
    for (int k = 0; k < 3; k++)
        if (model_config_check_data(R->model_cfg, &sp[k], c->data, err)) return TRAIN_FAIL;
    if (R->have_unl && model_config_check_data(R->model_cfg, &R->unl, c->unlabeled, err)) return TRAIN_FAIL;
    return TRAIN_OK;
}

void run_close(Run *R) {
    for (int k = 0; k < 3; k++) tsplit_free(&R->sp[k]);
    if (R->have_unl) tsplit_free(&R->unl);
    free(R->run_json), free(R->shape_json);
    json_decref(R->model_cfg);
}

// The model configuration (--model, else the one in --init, else the paper's defaults), the run
// folder, the data, config.json (rank 0) and the data shape recorded in checkpoints.
static int run_open_rank(Run *R, const RunConfig *c, char *err) {
    if (model_config_resolve(c, &R->model_cfg, err) || (R->root && make_dirs(c->out, err))) return TRAIN_FAIL;
    char vocab[4200];
    tdata_default_vocab(c->vocab, c->bert, c->data, vocab, sizeof vocab);
    if (run_load_data(R, vocab, err)) return TRAIN_FAIL;
    json_t *rj = runconfig_to_json(c);
    R->run_json = json_dumps(rj, JSON_COMPACT | JSON_REAL_PRECISION(17));
    json_t *all = json_pack("{s:O,s:O,s:s}", "run", rj, "model", R->model_cfg, "version", MIRD_VERSION);
    char p[4200];
    snprintf(p, sizeof p, "%s/config.json", c->out);
    int rc = R->root && json_write_atomic(p, all, err) ? TRAIN_FAIL : TRAIN_OK;
    json_decref(all), json_decref(rj);
    const TSplit *t = &R->sp[TD_TRAIN];
    json_t *sh = json_pack("{s:i,s:i,s:i,s:i,s:i}", "Tl", t->Tl, "Ta", t->Ta, "Tv", t->Tv, "d_a", t->d_a, "d_v", t->d_v);
    char *rp = realpath(vocab, NULL); // the vocabulary, for mird eval / predict without --vocab
    if (rp) json_object_set_new(sh, "vocab", json_string(rp));
    free(rp);
    R->shape_json = json_dumps(sh, JSON_COMPACT);
    json_decref(sh);
    return rc;
}

int run_open(Run *R, const RunConfig *c, const Comm *comm, char *err) {
    memset(R, 0, sizeof *R);
    R->c = c, R->comm = comm, R->root = comm->rank == 0;
    return comm_agree(comm, run_open_rank(R, c, err), err); // every rank reads the data
}
