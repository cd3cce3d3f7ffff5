// plot.h: small self-contained SVG line charts of a training run (no plotting library needed).
#pragma once

typedef struct {
    const char *name;
    const double *y; // n values; NaN / inf values leave a gap
} PlotSeries;

// One chart: x[n] against each series, auto-scaled axes with ticks, a legend. Written atomically.
int plot_svg(const char *path, const char *title, const char *xlabel, const double *x, int n,
             const PlotSeries *s, int ns, char *err);

// Redraw the charts of one seed's run folder from its log.jsonl: losses.svg (every loss term),
// mi.svg (the six raw CLUB estimates), valid.svg (validation metrics per epoch).
// Returns 0, or -1 with err (missing or empty log).
int plot_run(const char *seed_dir, char *err);
