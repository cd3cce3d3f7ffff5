// plot.c: see plot.h. Plain SVG 1.1: axes, "nice" ticks, one polyline per series, a legend.
#include "train/plot.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/common.h"
#include "train/runlog.h"

static const char *COLORS[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                               "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};

// Tick step: 1, 2 or 5 times a power of ten giving about `want` intervals over [lo, hi].
static double nice_step(double lo, double hi, int want) {
    double raw = (hi - lo) / want;
    if (!(raw > 0)) return 1;
    double p = pow(10, floor(log10(raw))), f = raw / p;
    return (f < 1.5 ? 1 : f < 3.5 ? 2 : f < 7.5 ? 5 : 10) * p;
}

static void xml_text(FILE *f, const char *s) {
    for (; *s; s++) {
        if (*s == '<') fputs("&lt;", f);
        else if (*s == '>') fputs("&gt;", f);
        else if (*s == '&') fputs("&amp;", f);
        else fputc(*s, f);
    }
}

int plot_svg(const char *path, const char *title, const char *xlabel, const double *x, int n,
             const PlotSeries *s, int ns, char *err) {
    const double W = 720, H = 420, L = 70, R = 190, T = 40, B = 50;
    double xlo = INFINITY, xhi = -INFINITY, ylo = INFINITY, yhi = -INFINITY;
    for (int i = 0; i < n; i++) {
        if (!isfinite(x[i])) continue;
        xlo = fmin(xlo, x[i]), xhi = fmax(xhi, x[i]);
        for (int k = 0; k < ns; k++)
            if (isfinite(s[k].y[i])) ylo = fmin(ylo, s[k].y[i]), yhi = fmax(yhi, s[k].y[i]);
    }
    if (!isfinite(xlo)) xlo = 0, xhi = 1;
    if (!isfinite(ylo)) ylo = 0, yhi = 1;
    if (xhi == xlo) xlo -= 0.5, xhi += 0.5;
    if (yhi == ylo) ylo -= fabs(ylo) * 0.1 + 0.5, yhi += fabs(yhi) * 0.1 + 0.5;
    double ys = nice_step(ylo, yhi, 6), xs = nice_step(xlo, xhi, 8);
    ylo = floor(ylo / ys) * ys, yhi = ceil(yhi / ys) * ys;
    double pw = W - L - R, ph = H - T - B;
#define PX(v) (L + ((v) - xlo) / (xhi - xlo) * pw)
#define PY(v) (T + ph - ((v) - ylo) / (yhi - ylo) * ph)
    AtomicFile af;
    if (atomic_open(&af, path, err)) return -1;
    FILE *f = af.f;
    fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
               "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%g\" height=\"%g\" viewBox=\"0 0 %g %g\" "
               "font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n",
            W, H, W, H);
    fprintf(f, "<text x=\"%g\" y=\"22\" font-size=\"15\" text-anchor=\"middle\">", L + pw / 2);
    xml_text(f, title);
    fprintf(f, "</text>\n");
    for (double v = ylo; v <= yhi + ys * 1e-6; v += ys) {
        double yy = PY(v), vv = fabs(v) < ys * 1e-9 ? 0 : v;
        fprintf(f, "<line x1=\"%g\" y1=\"%.1f\" x2=\"%g\" y2=\"%.1f\" stroke=\"#e0e0e0\"/>\n", L, yy, L + pw, yy);
        fprintf(f, "<text x=\"%g\" y=\"%.1f\" text-anchor=\"end\">%.4g</text>\n", L - 6, yy + 4, vv);
    }
    for (double v = ceil(xlo / xs) * xs; v <= xhi + xs * 1e-6; v += xs) {
        double xx = PX(v);
        fprintf(f, "<line x1=\"%.1f\" y1=\"%g\" x2=\"%.1f\" y2=\"%g\" stroke=\"#e0e0e0\"/>\n", xx, T, xx, T + ph);
        fprintf(f, "<text x=\"%.1f\" y=\"%g\" text-anchor=\"middle\">%.4g</text>\n", xx, T + ph + 16, v);
    }
    fprintf(f, "<rect x=\"%g\" y=\"%g\" width=\"%g\" height=\"%g\" fill=\"none\" stroke=\"black\"/>\n", L, T, pw, ph);
    fprintf(f, "<text x=\"%g\" y=\"%g\" text-anchor=\"middle\">", L + pw / 2, H - 12);
    xml_text(f, xlabel);
    fprintf(f, "</text>\n");
    for (int k = 0; k < ns; k++) {
        const char *c = COLORS[k % 10];
        int open = 0, npts = 0;
        for (int i = 0; i < n; i++) {
            if (!isfinite(x[i]) || !isfinite(s[k].y[i])) {
                if (open) fprintf(f, "\"/>\n");
                open = 0;
                continue;
            }
            if (!open) fprintf(f, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"1.8\" points=\"", c);
            fprintf(f, "%s%.1f,%.1f", open ? " " : "", PX(x[i]), PY(s[k].y[i]));
            open = 1, npts++;
        }
        if (open) fprintf(f, "\"/>\n");
        if (npts == 1) // a single point is invisible as a polyline
            for (int i = 0; i < n; i++)
                if (isfinite(x[i]) && isfinite(s[k].y[i]))
                    fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" fill=\"%s\"/>\n", PX(x[i]), PY(s[k].y[i]), c);
        double ly = T + 10 + 18 * k;
        fprintf(f, "<line x1=\"%g\" y1=\"%g\" x2=\"%g\" y2=\"%g\" stroke=\"%s\" stroke-width=\"3\"/>\n", L + pw + 12,
                ly, L + pw + 36, ly, c);
        fprintf(f, "<text x=\"%g\" y=\"%g\">", L + pw + 42, ly + 4);
        xml_text(f, s[k].name);
        fprintf(f, "</text>\n");
    }
#undef PX
#undef PY
    fprintf(f, "</svg>\n");
    return atomic_commit(&af, err);
}

// One chart from the log: for each key, obj[group][key] (group NULL: obj[key]) per epoch line.
static int chart(const char *dir, const char *file, const char *title, json_t *arr, const char *group,
                 const char *const *keys, const char *const *labels, int nk, char *err) {
    int n = (int)json_array_size(arr);
    double *x = xmalloc(sizeof(double) * (n + 1)), *y = xmalloc(sizeof(double) * (size_t)(n + 1) * nk);
    PlotSeries s[16];
    int present = 0;
    for (int k = 0; k < nk; k++) s[k].name = labels[k], s[k].y = y + (size_t)k * n;
    for (int i = 0; i < n; i++) {
        json_t *o = json_array_get(arr, i);
        x[i] = (double)json_integer_value(json_object_get(o, "epoch"));
        json_t *g = group ? json_object_get(o, group) : o;
        for (int k = 0; k < nk; k++) {
            json_t *v = json_object_get(g, keys[k]);
            y[(size_t)k * n + i] = json_is_number(v) ? json_number_value(v) : NAN;
            present |= json_is_number(v);
        }
    }
    int rc = 0;
    if (present) {
        char path[4200];
        snprintf(path, sizeof path, "%s/%s", dir, file);
        rc = plot_svg(path, title, "epoch", x, n, s, nk, err);
    }
    free(x), free(y);
    return rc;
}

int plot_run(const char *seed_dir, char *err) {
    char path[4200];
    snprintf(path, sizeof path, "%s/log.jsonl", seed_dir);
    json_t *arr = runlog_read(path, err);
    if (!arr) return -1;
    if (json_array_size(arr) == 0) {
        json_decref(arr);
        return errf(err, "%s: no epoch logged yet", path);
    }
    static const char *const lk[] = {"loss", "log_pred", "log_rec_l", "log_rec_a", "log_rec_v", "mi_sum"};
    static const char *const ll[] = {"total loss", "log L_pred", "log L_rec_l", "log L_rec_a", "log L_rec_v", "sum of MI"};
    static const char *const mk[] = {"mi_la", "mi_lv", "mi_av", "mi_yl", "mi_ya", "mi_yv"};
    static const char *const ml[] = {"I(zL;zA)", "I(zL;zV)", "I(zA;zV)", "I(zS;zL)", "I(zS;zA)", "I(zS;zV)"};
    static const char *const vk[] = {"mae", "corr", "has0_acc2", "non0_acc2", "non0_f1", "acc5", "acc7"};
    static const char *const vl[] = {"MAE", "Corr", "Has0 Acc-2", "Non0 Acc-2", "Non0 F1", "Acc-5", "Acc-7"};
    int rc = chart(seed_dir, "losses.svg", "training losses (epoch means)", arr, "train", lk, ll, 6, err);
    if (!rc) rc = chart(seed_dir, "mi.svg", "raw CLUB estimates (epoch means)", arr, "train", mk, ml, 6, err);
    if (!rc) rc = chart(seed_dir, "valid.svg", "validation metrics", arr, "valid", vk, vl, 7, err);
    json_decref(arr);
    return rc;
}
