// runlog.h: the per-epoch JSON-lines log of a training run (one JSON object per line, appended and
// flushed after each epoch). After a crash the last line may be torn: runlog_truncate drops it and
// every line past the epoch a resumed run restarts from, so the log always matches the checkpoint.
#pragma once
#include <jansson.h>

// One log line as written (compact JSON, 9 significant digits, no newline); free() it. NULL when
// jansson cannot encode obj.
char *runlog_format(json_t *obj);
// Append one compact JSON object (runlog_format) and a newline; fflush + fsync. Returns 0 / -1 with err.
int runlog_append(const char *path, json_t *obj, char *err);
// Keep only the parsable lines whose "epoch" is <= max_epoch (all of them if max_epoch < 0 means:
// keep none). A missing file is fine. Rewritten atomically.
int runlog_truncate(const char *path, long max_epoch, char *err);
// Read every parsable line into a JSON array (caller decrefs); NULL with err if the file is unreadable.
json_t *runlog_read(const char *path, char *err);
