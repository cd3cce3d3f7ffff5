// runlog.c: see runlog.h.
#include "train/runlog.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/common.h"

char *runlog_format(json_t *obj) { return json_dumps(obj, JSON_COMPACT | JSON_REAL_PRECISION(9)); }

int runlog_append(const char *path, json_t *obj, char *err) {
    char *s = runlog_format(obj);
    if (!s) return errf(err, "%s: cannot encode a log line", path);
    FILE *f = fopen(path, "ab");
    if (!f) {
        free(s);
        return errf(err, "%s: cannot append: %s", path, strerror(errno));
    }
    int bad = fprintf(f, "%s\n", s) < 0 || fflush(f) != 0;
    if (!bad) bad = fsync(fileno(f)) != 0;
    bad |= fclose(f) != 0;
    free(s);
    return bad ? errf(err, "%s: write failed: %s", path, strerror(errno)) : 0;
}

json_t *runlog_read(const char *path, char *err) {
    json_t *arr = json_array();
    FILE *f = fopen(path, "rb");
    if (!f) {
        if (errno == ENOENT) return arr;
        json_decref(arr);
        errf(err, "%s: cannot read: %s", path, strerror(errno));
        return NULL;
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    while ((len = getline(&line, &cap, f)) > 0) {
        json_error_t je;
        json_t *o = json_loadb(line, (size_t)len, 0, &je);
        if (o && json_is_object(o)) json_array_append_new(arr, o);
        else json_decref(o); // a torn line from a crash: skipped
    }
    free(line);
    fclose(f);
    return arr;
}

int runlog_truncate(const char *path, long max_epoch, char *err) {
    if (access(path, F_OK) != 0) return 0;
    json_t *arr = runlog_read(path, err);
    if (!arr) return -1;
    AtomicFile af;
    if (atomic_open(&af, path, err)) {
        json_decref(arr);
        return -1;
    }
    size_t i;
    json_t *o;
    json_array_foreach(arr, i, o) {
        json_int_t e = json_integer_value(json_object_get(o, "epoch"));
        if (e > max_epoch) continue;
        char *s = json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(9));
        if (s) fprintf(af.f, "%s\n", s);
        free(s);
    }
    json_decref(arr);
    return atomic_commit(&af, err);
}
