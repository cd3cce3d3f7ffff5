// cmd_plot.c: `mird plot RUN_DIR`: redraw the SVG charts of a training run from its JSON-lines logs
// (RUN_DIR is either the run folder, whose seed_* subfolders are all drawn, or one seed folder).
#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/commands.h"
#include "core/common.h"
#include "train/plot.h"

static int has_log(const char *dir) {
    char p[8300];
    struct stat st;
    if (snprintf(p, sizeof p, "%s/log.jsonl", dir) >= (int)sizeof p) return 0;
    return stat(p, &st) == 0;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

int cmd_plot(int argc, char **argv) {
    if (argc == 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        printf("usage: mird plot RUN_DIR\n  redraws losses.svg, mi.svg and valid.svg in each seed folder from log.jsonl\n");
        return 0;
    }
    if (argc != 2 || argv[1][0] == '-') {
        fprintf(stderr, "mird: usage: mird plot RUN_DIR\n");
        return 2;
    }
    char err[MIRD_ERRLEN];
    const char *run = argv[1];
    if (has_log(run)) {
        if (plot_run(run, err)) {
            fprintf(stderr, "mird: %s\n", err);
            return 1;
        }
        printf("%s/losses.svg %s/mi.svg %s/valid.svg\n", run, run, run);
        return 0;
    }
    DIR *d = opendir(run);
    if (!d) {
        fprintf(stderr, "mird: %s: not a run folder (no log.jsonl, cannot list it)\n", run);
        return 1;
    }
    char **names = NULL;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (strncmp(e->d_name, "seed_", 5)) continue;
        char p[8300];
        if (snprintf(p, sizeof p, "%s/%s", run, e->d_name) >= (int)sizeof p) continue;
        if (!has_log(p)) continue;
        names = xrealloc(names, sizeof(char *) * (n + 1));
        names[n++] = xstrdup(p);
    }
    closedir(d);
    if (!n) {
        fprintf(stderr, "mird: %s: no log.jsonl in it or in a seed_* subfolder\n", run);
        return 1;
    }
    qsort(names, n, sizeof(char *), cmp_str);
    int rc = 0;
    for (int i = 0; i < n; i++) {
        if (plot_run(names[i], err)) fprintf(stderr, "mird: %s\n", err), rc = 1;
        else printf("%s/losses.svg %s/mi.svg %s/valid.svg\n", names[i], names[i], names[i]);
        free(names[i]);
    }
    free(names);
    return rc;
}
