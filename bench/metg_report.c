/*
 * metg_report - METG(50%) from Task Bench logs, whatever printed them (metg_mpi,
 * metg_rmpi, metg_mpi4py.py, metg_dask.py): the blocks' "Dependence Type:",
 * "Iterations:", "Total Tasks" and "Elapsed Time" lines are collected per
 * dependence type; the repetitions of an iteration count are averaged; efficiency
 * uses the given peak FLOP/s and granularity the given cores (metg_core.c).
 *
 *   metg_report --peak-flops X --cores N [--threshold 0.5] [--label NAME] [--best] LOG...
 *
 * --best uses the fastest repetition of each iteration count instead of the mean
 * (not Task Bench's method: a view of the same runs that discounts interference
 * from other work on a shared machine).
 *
 * Prints, per dependence type found:
 *   point NAME TYPE ITERATIONS REPS ELAPSED_S STDDEV_S GRANULARITY_S EFFICIENCY TASKS_PER_S KEFF
 *   metg NAME TYPE STATUS VALUE_S
 *   kmetg NAME TYPE STATUS VALUE_S   (when the log has "Kernel Time" lines)
 * KEFF, the kernel-time efficiency: the runs' kernel time (summed over their tasks)
 * over their wall time x cores, or -1; kmetg is METG computed with it instead of
 * the peak-based efficiency.
 * STATUS: ok, above (no point reached the threshold: METG > VALUE), below (every
 * point did: METG <= VALUE).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metg_core.h"

#define MAXRUNS 4096

typedef struct {
    char type[32];
    long iterations[MAXRUNS];
    double elapsed[MAXRUNS];
    double kernel[MAXRUNS]; /* "Kernel Time" of the run, or -1 */
    long long tasks;
    int n;
} series_t;

static series_t series[METG_MAX_TYPES + 4];
static int nseries;

static series_t *find_series(const char *type)
{
    for (int i = 0; i < nseries; i++)
        if (!strcmp(series[i].type, type))
            return &series[i];
    if (nseries == (int)(sizeof series / sizeof series[0]))
        return NULL;
    series_t *s = &series[nseries++];
    memset(s, 0, sizeof *s);
    snprintf(s->type, sizeof s->type, "%s", type);
    return s;
}

static int read_log(const char *path)
{
    FILE *f = strcmp(path, "-") ? fopen(path, "r") : stdin;
    if (!f) {
        perror(path);
        return -1;
    }
    char line[1024], type[32] = "unknown";
    series_t *last = NULL;
    long iters = -1;
    long long tasks = -1;
    while (fgets(line, sizeof line, f)) {
        char *p = line;
        while (*p == ' ' || *p == '\t')
            p++;
        char word[32];
        double e;
        if (sscanf(p, "Dependence Type: %31s", word) == 1) {
            snprintf(type, sizeof type, "%s", word);
        } else if (sscanf(p, "Iterations: %ld", &iters) == 1) {
            /* set */
        } else if (sscanf(p, "Total Tasks %lld", &tasks) == 1) {
            /* set */
        } else if (sscanf(p, "Elapsed Time %lf seconds", &e) == 1) {
            series_t *s = find_series(type);
            if (!s || iters < 0 || tasks <= 0) {
                fprintf(stderr, "metg_report: %s: an Elapsed Time line without its block\n",
                        path);
                continue;
            }
            if (s->tasks && s->tasks != tasks)
                fprintf(stderr, "metg_report: %s: %s runs of %lld and %lld tasks mixed\n", path,
                        type, s->tasks, tasks);
            s->tasks = tasks;
            if (s->n < MAXRUNS) {
                s->iterations[s->n] = iters;
                s->elapsed[s->n] = e;
                s->kernel[s->n] = -1;
                s->n++;
                last = s;
            }
            iters = -1;
            tasks = -1;
        } else if (sscanf(p, "Kernel Time %lf seconds", &e) == 1) {
            if (last && last->n > 0)
                last->kernel[last->n - 1] = e;
        }
    }
    if (f != stdin)
        fclose(f);
    return 0;
}

int main(int argc, char **argv)
{
    double peak = 0, threshold = 0.5;
    int cores = 0;
    const char *label = "system";
    int nlogs = 0, best = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--peak-flops") && i + 1 < argc)
            peak = atof(argv[++i]);
        else if (!strcmp(argv[i], "--cores") && i + 1 < argc)
            cores = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--threshold") && i + 1 < argc)
            threshold = atof(argv[++i]);
        else if (!strcmp(argv[i], "--label") && i + 1 < argc)
            label = argv[++i];
        else if (!strcmp(argv[i], "--best"))
            best = 1;
        else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            printf("usage: metg_report --peak-flops X --cores N [--threshold 0.5] "
                   "[--label NAME] [--best] LOG...\n");
            return 0;
        } else {
            if (read_log(argv[i]) != 0)
                return 1;
            nlogs++;
        }
    }
    if (peak <= 0 || cores <= 0 || nlogs == 0) {
        fprintf(stderr, "usage: metg_report --peak-flops X --cores N [--threshold 0.5] "
                        "[--label NAME] LOG...\n");
        return 2;
    }
    for (int i = 0; i < nseries; i++) {
        series_t *s = &series[i];
        if (s->n == 0)
            continue;
        metg_point_t *pts = malloc((size_t)s->n * sizeof *pts);
        if (!pts)
            return 1;
        if (best) {
            /* keep only the fastest run of each iteration count */
            static long it2[MAXRUNS];
            static double el2[MAXRUNS], ke2[MAXRUNS];
            int k = 0;
            for (int a = 0; a < s->n; a++) {
                int j;
                for (j = 0; j < k && it2[j] != s->iterations[a]; j++)
                    ;
                if (j == k) {
                    it2[k] = s->iterations[a];
                    el2[k] = s->elapsed[a];
                    ke2[k] = s->kernel[a];
                    k++;
                } else if (s->elapsed[a] < el2[j]) {
                    el2[j] = s->elapsed[a];
                    ke2[j] = s->kernel[a];
                }
            }
            memcpy(s->iterations, it2, (size_t)k * sizeof *it2);
            memcpy(s->elapsed, el2, (size_t)k * sizeof *el2);
            memcpy(s->kernel, ke2, (size_t)k * sizeof *ke2);
            s->n = k;
        }
        int np = metg_points_from_runs(s->iterations, s->elapsed, s->n, s->tasks, cores, peak,
                                       pts);
        /* the kernel-time efficiency of each point: its runs' kernel time over their
         * wall time x cores (-1 when a run has no Kernel Time line) */
        metg_point_t *kpts = malloc((size_t)np * sizeof *kpts);
        if (!kpts)
            return 1;
        int kok = 1;
        for (int k = 0; k < np; k++) {
            double ks = 0, es = 0;
            for (int r = 0; r < s->n; r++) {
                if (s->iterations[r] != pts[k].iterations)
                    continue;
                if (s->kernel[r] < 0)
                    ks = -1e300;
                ks += s->kernel[r];
                es += s->elapsed[r];
            }
            kpts[k] = pts[k];
            kpts[k].efficiency = (ks >= 0 && es > 0) ? ks / (es * cores) : -1;
            if (ks < 0)
                kok = 0;
        }
        for (int k = 0; k < np; k++)
            printf("point %s %s %ld %d %.6e %.3e %.6e %.5f %.1f %.5f\n", label, s->type,
                   pts[k].iterations, pts[k].reps, pts[k].elapsed, pts[k].stddev,
                   pts[k].granularity, pts[k].efficiency, (double)s->tasks / pts[k].elapsed,
                   kpts[k].efficiency);
        double m = 0;
        int rc = metg_compute(pts, np, threshold, &m);
        printf("metg %s %s %s %.6e\n", label, s->type,
               rc == METG_OK ? "ok" : rc == METG_NONE_ABOVE ? "above"
                                    : rc == METG_NONE_BELOW ? "below" : "none",
               m);
        if (kok) {
            rc = metg_compute(kpts, np, threshold, &m);
            printf("kmetg %s %s %s %.6e\n", label, s->type,
                   rc == METG_OK ? "ok" : rc == METG_NONE_ABOVE ? "above"
                                        : rc == METG_NONE_BELOW ? "below" : "none",
                   m);
        }
        free(kpts);
        free(pts);
    }
    return 0;
}
