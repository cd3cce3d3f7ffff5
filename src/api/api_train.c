// api_train.c: mird_train (include/mird.h): `mird train` from a JSON run configuration, quiet,
// with the epoch and warning callbacks passed to the trainer as hooks (train/trainer.h).
#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api/api.h"
#include "train/runlog.h"
#include "train/trainer.h"

typedef struct {
    const mird_train_callbacks *cb;
} Hook;

static int on_epoch(void *user, int seed, json_t *line) {
    const mird_train_callbacks *cb = ((Hook *)user)->cb;
    char *s = runlog_format(line); // the line exactly as log.jsonl holds it
    int stop = s ? cb->on_epoch(cb->user, seed, s) : 0;
    free(s);
    return stop;
}

static void on_warning(void *user, const char *msg) {
    const mird_train_callbacks *cb = ((Hook *)user)->cb;
    cb->on_warning(cb->user, msg);
}

int mird_train(const char *config_json, const mird_train_callbacks *cb, char **summary_json, mird_error *e) {
    api_clear(e);
    if (summary_json) *summary_json = NULL;
    if (!config_json) return api_fail(e, MIRD_ERR_ARG, "mird_train: the run configuration is NULL");
    json_error_t je;
    json_t *obj = json_loads(config_json, 0, &je);
    if (!obj) return api_fail(e, MIRD_ERR_ARG, "run configuration: line %d: %s", je.line, je.text);
    char err[MIRD_ERRLEN];
    RunConfig *c = xmalloc(sizeof *c); // about 40 kB: not on a caller's (possibly small) thread stack
    runconfig_defaults(c);
    int rc = MIRD_OK;
    const char *file = json_string_value(json_object_get(obj, "config"));
    if (file && runconfig_load_file(c, file, err)) rc = api_fail(e, MIRD_ERR_FILE, "%s", err);
    if (!rc && runconfig_apply_json(c, obj, "run configuration", err)) rc = api_fail(e, MIRD_ERR_ARG, "%s", err);
    json_decref(obj);
    // the run's input files, so that a missing one is MIRD_ERR_FILE (the trainer reports it too)
    const char *const in[] = {c->data, c->unlabeled, c->model, c->init, c->vocab, c->reference};
    for (int i = 0; i < 6 && !rc; i++)
        if (in[i][0] && access(in[i], R_OK) != 0) rc = api_fail(e, MIRD_ERR_FILE, "%s: cannot read: %s", in[i], strerror(errno));
    if (!rc) {
        c->quiet = 1; // the library prints nothing
        Hook hk = {cb};
        TrainHooks hooks = {cb && cb->on_epoch ? on_epoch : NULL, cb && cb->on_warning ? on_warning : NULL, &hk};
        ApiEnv env;
        api_enter(&env, 0, MATMUL_FP32); // train_run sets the run's threads and precision; restored on return
        int t = train_run_hooked(c, &hooks, err);
        api_leave(&env);
        if (t == TRAIN_STOPPED)
            rc = api_fail(e, MIRD_ERR_CANCELLED, "stopped after %ld steps (stop_after_steps)", c->stop_after_steps);
        else if (t != TRAIN_OK)
            rc = api_fail(e, t == TRAIN_USAGE ? MIRD_ERR_ARG : t == TRAIN_CANCELLED ? MIRD_ERR_CANCELLED : MIRD_ERR_FAILED,
                          "%s", err);
    }
    if (!rc && summary_json) {
        char p[RC_PATH + 32];
        size_t len;
        snprintf(p, sizeof p, "%s/summary.json", c->out);
        if (read_file_all(p, summary_json, &len, err)) rc = api_fail(e, MIRD_ERR_FAILED, "%s", err);
    }
    free(c);
    return rc;
}
