/*
 * metg_core.c - kernel, patterns, counts, log and METG of the Task Bench
 * harness (see metg_core.h for the method).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "metg_core.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- kernel ----------------------------------------------------------------- */

void metg_kernel_init(double *a)
{
    for (int i = 0; i < METG_NDOUBLES; i++)
        a[i] = -0.5 + (double)i / 256.0;
}

/* Kept out of line so that every implementation runs the very same loop, and
 * aligned: each program links its own copy, and where the copy happened to land
 * decided its speed.  With the inner loop across a 64-byte boundary the kernel ran
 * at half speed (seen after an unrelated change to metg_rmpi.c moved it from
 * offset 0x30 to 0x10 of a line: 12.4 against 6.4 us per task). */
__attribute__((noinline, aligned(64))) void metg_kernel(double *a, long iterations)
{
    for (long k = 0; k < iterations; k++)
        for (int i = 0; i < METG_NDOUBLES; i++)
            a[i] = a[i] * a[i] + a[i];
}

long long metg_flops_per_task(long iterations)
{
    return 2LL * METG_NDOUBLES * (long long)iterations + METG_NDOUBLES;
}

long metg_sweep_iterations(int s)
{
    if (s < 0)
        s = 0;
    if (s >= METG_SWEEP_TOP)
        return 1;
    return 1L << (METG_SWEEP_TOP - s);
}

static unsigned long long kernel_ns;

unsigned long long metg_kernel_time_ns(void)
{
    return __atomic_load_n(&kernel_ns, __ATOMIC_RELAXED);
}

unsigned long long metg_kernel_time_take(void)
{
    return __atomic_exchange_n(&kernel_ns, 0ULL, __ATOMIC_RELAXED);
}

static unsigned long long now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (unsigned long long)ts.tv_sec * 1000000000ULL + (unsigned long long)ts.tv_nsec;
}

int metg_execute_point(const metg_graph_t *g, long timestep, long point,
                       const double *const *inputs, int ninputs, double *out)
{
    long deps[METG_MAX_DEPS];
    int n = metg_deps(g, timestep, point, deps);
    if (ninputs != n)
        return -1 - (ninputs < n ? ninputs : n);
    for (int i = 0; i < n; i++) {
        if (!inputs[i] || inputs[i][0] != (double)(timestep - 1) ||
            inputs[i][1] != (double)deps[i])
            return -1 - i;
    }
    unsigned long long t0 = now_ns();
    metg_kernel_init(out);
    metg_kernel(out, g->iterations);
    __atomic_fetch_add(&kernel_ns, now_ns() - t0, __ATOMIC_RELAXED);
    out[0] = (double)timestep;
    out[1] = (double)point;
    return 0;
}

/* ---- patterns ---------------------------------------------------------------- */

static const char *const pattern_names[] = { "trivial", "stencil_1d", "nearest", "spread" };

int metg_pattern_parse(const char *name, metg_pattern_t *out)
{
    for (int i = 0; i < 4; i++) {
        if (name && !strcmp(name, pattern_names[i])) {
            *out = (metg_pattern_t)i;
            return 0;
        }
    }
    return -1;
}

const char *metg_pattern_name(metg_pattern_t type)
{
    return (unsigned)type < 4 ? pattern_names[type] : "unknown";
}

void metg_graph_init(metg_graph_t *g, metg_pattern_t type, long width, long steps,
                     long iterations)
{
    memset(g, 0, sizeof *g);
    g->type = type;
    g->width = width;
    g->steps = steps;
    g->iterations = iterations;
    g->radix = (type == METG_NEAREST || type == METG_SPREAD) ? 5 : 3;
    g->period = 0;
    if (type == METG_SPREAD) {
        long cap = (width + g->radix - 1) / g->radix;
        g->period = cap < 3 ? cap : 3;
        if (g->period < 1)
            g->period = 1;
    }
}

static int cmp_long(const void *a, const void *b)
{
    long x = *(const long *)a, y = *(const long *)b;
    return (x > y) - (x < y);
}

int metg_deps(const metg_graph_t *g, long timestep, long point, long *deps)
{
    long w = g->width;
    int n = 0;
    if (timestep <= 0 || timestep >= g->steps || point < 0 || point >= w)
        return 0;
    switch (g->type) {
    case METG_TRIVIAL:
        return 0;
    case METG_STENCIL_1D: {
        long lo = point > 0 ? point - 1 : 0;
        long hi = point + 1 < w ? point + 1 : w - 1;
        for (long d = lo; d <= hi; d++)
            deps[n++] = d;
        return n;
    }
    case METG_NEAREST: {
        long r = g->radix > METG_MAX_DEPS ? METG_MAX_DEPS : g->radix;
        if (r <= 0)
            return 0;
        long lo = point - r / 2, hi = point + (r - 1) / 2;
        if (lo < 0)
            lo = 0;
        if (hi > w - 1)
            hi = w - 1;
        for (long d = lo; d <= hi; d++)
            deps[n++] = d;
        return n;
    }
    case METG_SPREAD: {
        long r = g->radix > METG_MAX_DEPS ? METG_MAX_DEPS : g->radix;
        long period = g->period > 0 ? g->period : 1;
        long dset = timestep % period;
        for (long i = 0; i < r; i++) {
            long d = (point + i * w / r + (i > 0 ? dset : 0)) % w;
            int dup = 0;
            for (int j = 0; j < n; j++)
                dup |= deps[j] == d;
            if (!dup)
                deps[n++] = d;
        }
        qsort(deps, (size_t)n, sizeof *deps, cmp_long);
        return n;
    }
    }
    return 0;
}

int metg_rdeps(const metg_graph_t *g, long timestep, long point, long *rdeps)
{
    int n = 0;
    long deps[METG_MAX_DEPS];
    if (timestep + 1 >= g->steps || g->type == METG_TRIVIAL)
        return 0;
    for (long c = 0; c < g->width && n < METG_MAX_DEPS; c++) {
        int k = metg_deps(g, timestep + 1, c, deps);
        for (int i = 0; i < k; i++) {
            if (deps[i] == point) {
                rdeps[n++] = c;
                break;
            }
        }
    }
    return n;
}

/* ---- totals and the log ---------------------------------------------------------- */

long long metg_total_tasks(const metg_graph_t *g)
{
    return (long long)g->width * g->steps;
}

long long metg_total_deps(const metg_graph_t *g)
{
    long deps[METG_MAX_DEPS];
    long long total = 0;
    for (long t = 1; t < g->steps; t++)
        for (long p = 0; p < g->width; p++)
            total += metg_deps(g, t, p, deps);
    return total;
}

long long metg_total_flops(const metg_graph_t *g)
{
    return metg_total_tasks(g) * metg_flops_per_task(g->iterations);
}

void metg_print_config(FILE *f, const metg_graph_t *g)
{
    fprintf(f, "Running Task Benchmark\n");
    fprintf(f, "  Configuration:\n");
    fprintf(f, "    Task Graph 1:\n");
    fprintf(f, "      Time Steps: %ld\n", g->steps);
    fprintf(f, "      Max Width: %ld\n", g->width);
    fprintf(f, "      Dependence Type: %s\n", metg_pattern_name(g->type));
    fprintf(f, "      Radix: %ld\n", g->radix);
    fprintf(f, "      Period: %ld\n", g->period);
    fprintf(f, "      Fraction Connected: %f\n", 0.25);
    fprintf(f, "      Kernel:\n");
    fprintf(f, "        Type: %s\n", "compute_bound");
    fprintf(f, "        Iterations: %ld\n", g->iterations);
    fprintf(f, "        Samples: %d\n", 16);
    fprintf(f, "        Imbalance: %f\n", 0.0);
    fprintf(f, "      Output Bytes: %zu\n", (size_t)METG_OUTPUT_BYTES);
    fprintf(f, "      Scratch Bytes: %d\n", 0);
}

void metg_print_timing(FILE *f, const metg_graph_t *g, double elapsed_s)
{
    long long flops = metg_total_flops(g);
    fprintf(f, "Total Tasks %lld\n", metg_total_tasks(g));
    fprintf(f, "Total Dependencies %lld\n", metg_total_deps(g));
    fprintf(f, "  Unable to estimate local/nonlocal dependencies\n");
    fprintf(f, "Total FLOPs %lld\n", flops);
    fprintf(f, "Total Bytes %lld\n", 0LL);
    fprintf(f, "Elapsed Time %e seconds\n", elapsed_s);
    fprintf(f, "FLOP/s %e\n", elapsed_s > 0 ? (double)flops / elapsed_s : 0.0);
    fprintf(f, "B/s %e\n", 0.0);
    fprintf(f, "Transfer (estimated):\n");
    fprintf(f, "  Unable to estimate local/nonlocal transfer\n");
}

void metg_print_kernel_time(FILE *f, double kernel_s)
{
    if (kernel_s >= 0)
        fprintf(f, "Kernel Time %e seconds\n", kernel_s);
}

/* ---- METG -------------------------------------------------------------------- */

double metg_granularity(double elapsed_s, int cores, long long tasks)
{
    return tasks > 0 ? elapsed_s * cores / (double)tasks : 0.0;
}

double metg_efficiency(long long flops, double elapsed_s, double peak_flops)
{
    if (elapsed_s <= 0 || peak_flops <= 0)
        return 0.0;
    return (double)flops / elapsed_s / peak_flops;
}

static int cmp_point_iters_desc(const void *a, const void *b)
{
    long x = ((const metg_point_t *)a)->iterations, y = ((const metg_point_t *)b)->iterations;
    return (x < y) - (x > y);
}

int metg_compute(const metg_point_t *points, int n, double threshold, double *metg)
{
    if (n <= 0 || !points)
        return METG_EMPTY;
    metg_point_t *p = malloc((size_t)n * sizeof *p);
    if (!p)
        return METG_EMPTY;
    memcpy(p, points, (size_t)n * sizeof *p);
    qsort(p, (size_t)n, sizeof *p, cmp_point_iters_desc);

    int best = -1, any_below = 0;
    double gmax = 0, gmin = INFINITY;
    for (int i = 0; i < n; i++) {
        if (p[i].granularity > gmax)
            gmax = p[i].granularity;
        if (p[i].granularity < gmin)
            gmin = p[i].granularity;
        if (p[i].efficiency >= threshold) {
            if (best < 0 || p[i].granularity < p[best].granularity)
                best = i;
        } else {
            any_below = 1;
        }
    }
    int rc;
    if (best < 0) {
        *metg = gmax;
        rc = METG_NONE_ABOVE;
    } else if (!any_below) {
        *metg = p[best].granularity;
        rc = METG_NONE_BELOW;
    } else {
        double g = p[best].granularity;
        if (best + 1 < n && p[best + 1].granularity < g) {
            /* Linear interpolation in efficiency between the point at or above the
             * threshold and the next point of the sweep. */
            const metg_point_t *a = &p[best], *b = &p[best + 1];
            if (b->efficiency >= threshold) {
                /* cannot happen for the smallest granularity at or above it unless
                 * b has a larger granularity; keep g */
            } else if (a->efficiency > b->efficiency) {
                double f = (threshold - b->efficiency) / (a->efficiency - b->efficiency);
                g = b->granularity + f * (a->granularity - b->granularity);
            }
        }
        *metg = g;
        rc = METG_OK;
    }
    free(p);
    return rc;
}

int metg_points_from_runs(const long *iterations, const double *elapsed, int n,
                          long long tasks, int cores, double peak_flops,
                          metg_point_t *points)
{
    int np = 0;
    for (int i = 0; i < n; i++) {
        int j;
        for (j = 0; j < np; j++)
            if (points[j].iterations == iterations[i])
                break;
        if (j == np) {
            memset(&points[np], 0, sizeof points[np]);
            points[np].iterations = iterations[i];
            np++;
        }
        points[j].reps++;
        points[j].elapsed += elapsed[i];
    }
    for (int j = 0; j < np; j++) {
        metg_point_t *p = &points[j];
        p->elapsed /= p->reps;
        double ss = 0;
        for (int i = 0; i < n; i++)
            if (iterations[i] == p->iterations)
                ss += (elapsed[i] - p->elapsed) * (elapsed[i] - p->elapsed);
        p->stddev = sqrt(ss / p->reps);
        p->granularity = metg_granularity(p->elapsed, cores, tasks);
        p->efficiency = metg_efficiency(tasks * metg_flops_per_task(p->iterations),
                                        p->elapsed, peak_flops);
    }
    qsort(points, (size_t)np, sizeof *points, cmp_point_iters_desc);
    return np;
}

double metg_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* ---- the sweep ------------------------------------------------------------------ */

void metg_opts_default(metg_opts_t *o, const char *label)
{
    memset(o, 0, sizeof *o);
    o->types[0] = METG_STENCIL_1D;
    o->ntypes = 1;
    o->steps = 1000;
    o->smin = 0;
    o->smax = 21;
    o->reps = 3;
    o->warmup_steps = 10;
    o->label = label;
}

void metg_opts_usage(FILE *f)
{
    fprintf(f,
        "  --type LIST          patterns, comma separated: trivial, stencil_1d, nearest,\n"
        "                       spread, or all (stencil_1d)\n"
        "  --width N            points per timestep (the total cores)\n"
        "  --steps N            timesteps (1000)\n"
        "  --sweep S0:S1        sweep points s = S0..S1, iterations 2^(26-s) (0:21)\n"
        "  --reps N             repetitions of each point (3)\n"
        "  --peak-flops X       peak FLOP/s of all cores, for efficiency and METG\n"
        "  --stop-below E       end a pattern's sweep after a point under efficiency E\n"
        "                       (kernel-time efficiency where known, else peak-based)\n"
        "  --max-time S         end a pattern's sweep once its runs took S seconds\n"
        "  --warmup-steps N     untimed warm-up run of N timesteps first (10)\n"
        "  --cores N            cores for granularity (the implementation's total)\n"
        "  --smoke              --steps 20 --sweep 14:18 --reps 1 --warmup-steps 2\n");
}

static int parse_long_opt(const char *s, long *out, long min)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (end == s || *end || v < min)
        return -1;
    *out = v;
    return 0;
}

int metg_parse_opt(metg_opts_t *o, int argc, char **argv, int *i)
{
    const char *a = argv[*i];
    const char *v = *i + 1 < argc ? argv[*i + 1] : NULL;
    long x = 0;
    char *end;
    if (!strcmp(a, "--smoke")) {
        o->steps = 20;
        o->smin = 14;
        o->smax = 18;
        o->reps = 1;
        o->warmup_steps = 2;
        return 1;
    }
    static const char *const with_value[] = { "--type", "--width", "--steps", "--sweep",
        "--reps", "--peak-flops", "--stop-below", "--max-time", "--warmup-steps",
        "--cores", NULL };
    int known = 0;
    for (int k = 0; with_value[k]; k++)
        known |= !strcmp(a, with_value[k]);
    if (!known)
        return 0;
    if (!v) {
        fprintf(stderr, "metg: %s needs a value\n", a);
        return -1;
    }
    int bad = 0;
    if (!strcmp(a, "--type")) {
        o->ntypes = 0;
        if (!strcmp(v, "all")) {
            for (int k = 0; k < 4; k++)
                o->types[o->ntypes++] = (metg_pattern_t)k;
        } else {
            char buf[256];
            snprintf(buf, sizeof buf, "%s", v);
            for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok;
                 tok = strtok_r(NULL, ",", &save)) {
                metg_pattern_t t;
                if (metg_pattern_parse(tok, &t) || o->ntypes >= METG_MAX_TYPES) {
                    bad = 1;
                    break;
                }
                o->types[o->ntypes++] = t;
            }
            bad |= o->ntypes == 0;
        }
    } else if (!strcmp(a, "--width")) {
        bad = parse_long_opt(v, &o->width, 1);
    } else if (!strcmp(a, "--steps")) {
        bad = parse_long_opt(v, &o->steps, 1);
    } else if (!strcmp(a, "--sweep")) {
        long s0 = strtol(v, &end, 10);
        if (end == v || *end != ':')
            bad = 1;
        else {
            const char *p = end + 1;
            long s1 = strtol(p, &end, 10);
            bad = end == p || *end || s0 < 0 || s1 < s0 || s1 > METG_SWEEP_TOP;
            o->smin = (int)s0;
            o->smax = (int)s1;
        }
    } else if (!strcmp(a, "--reps")) {
        bad = parse_long_opt(v, &x, 1);
        o->reps = (int)x;
    } else if (!strcmp(a, "--peak-flops")) {
        o->peak_flops = strtod(v, &end);
        bad = end == v || *end || o->peak_flops < 0;
    } else if (!strcmp(a, "--stop-below")) {
        o->stop_below = strtod(v, &end);
        bad = end == v || *end || o->stop_below < 0;
    } else if (!strcmp(a, "--max-time")) {
        o->max_time = strtod(v, &end);
        bad = end == v || *end || o->max_time < 0;
    } else if (!strcmp(a, "--warmup-steps")) {
        bad = parse_long_opt(v, &x, 0);
        o->warmup_steps = (int)x;
    } else if (!strcmp(a, "--cores")) {
        bad = parse_long_opt(v, &x, 1);
        o->cores = (int)x;
    }
    if (bad) {
        fprintf(stderr, "metg: bad value for %s: %s\n", a, v);
        return -1;
    }
    (*i)++;
    return 1;
}

static void print_summary(FILE *out, const metg_opts_t *o, const metg_graph_t *g, int cores,
                          const long *iters, const double *elapsed, int n)
{
    metg_point_t *pts = malloc((size_t)(n > 0 ? n : 1) * sizeof *pts);
    if (!pts)
        return;
    int np = metg_points_from_runs(iters, elapsed, n, metg_total_tasks(g), cores,
                                   o->peak_flops, pts);
    fprintf(out, "METG summary: %s, %s, width %ld, %ld steps, %d cores, peak %.4e FLOP/s\n",
            o->label ? o->label : "?", metg_pattern_name(g->type), g->width, g->steps,
            cores, o->peak_flops);
    fprintf(out, "METG   %12s %4s %14s %12s %16s %10s\n", "iterations", "reps", "elapsed_s",
            "stddev_s", "granularity_us", "efficiency");
    for (int k = 0; k < np; k++)
        fprintf(out, "METG   %12ld %4d %14.6e %12.3e %16.3f %10.4f\n", pts[k].iterations,
                pts[k].reps, pts[k].elapsed, pts[k].stddev, pts[k].granularity * 1e6,
                pts[k].efficiency);
    if (o->peak_flops > 0) {
        double m;
        int rc = metg_compute(pts, np, 0.5, &m);
        if (rc == METG_OK)
            fprintf(out, "METG(50%%) %s %s: %.3f us\n", o->label ? o->label : "?",
                    metg_pattern_name(g->type), m * 1e6);
        else if (rc == METG_NONE_ABOVE)
            fprintf(out, "METG(50%%) %s %s: > %.3f us (no point reached 50%%)\n",
                    o->label ? o->label : "?", metg_pattern_name(g->type), m * 1e6);
        else if (rc == METG_NONE_BELOW)
            fprintf(out, "METG(50%%) %s %s: <= %.3f us (every point reached 50%%)\n",
                    o->label ? o->label : "?", metg_pattern_name(g->type), m * 1e6);
    } else {
        fprintf(out, "METG(50%%) %s %s: unknown (no --peak-flops)\n",
                o->label ? o->label : "?", metg_pattern_name(g->type));
    }
    fflush(out);
    free(pts);
}

int metg_sweep(const metg_opts_t *o, int cores, metg_run_fn run, void *ctx, FILE *out)
{
    int npoints = o->smax - o->smin + 1;
    int cap = npoints * o->reps;
    long *iters = malloc((size_t)cap * sizeof *iters);
    double *elapsed = malloc((size_t)cap * sizeof *elapsed);
    if (!iters || !elapsed) {
        free(iters);
        free(elapsed);
        return -1;
    }
    long width = o->width > 0 ? o->width : cores;
    int status = 0;
    for (int k = 0; k < o->ntypes && !status; k++) {
        metg_graph_t g;
        double e;
        if (o->warmup_steps > 0) {
            metg_graph_init(&g, o->types[k], width, o->warmup_steps,
                            metg_sweep_iterations(o->smax));
            double ks;
            status = run(&g, ctx, &e, &ks);
            if (status)
                break;
        }
        int n = 0;
        double spent = 0;
        for (int s = o->smin; s <= o->smax && !status; s++) {
            metg_graph_init(&g, o->types[k], width, o->steps, metg_sweep_iterations(s));
            double sum = 0, ksum = 0;
            for (int r = 0; r < o->reps; r++) {
                double ks = -1;
                status = run(&g, ctx, &e, &ks);
                if (status)
                    break;
                if (out) {
                    metg_print_config(out, &g);
                    metg_print_timing(out, &g, e);
                    metg_print_kernel_time(out, ks);
                    fflush(out);
                }
                iters[n] = g.iterations;
                elapsed[n] = e;
                n++;
                sum += e;
                spent += e;
                ksum = (ks >= 0 && ksum >= 0) ? ksum + ks : -1;
            }
            if (status)
                break;
            /* the stop decision trusts the kernel-time efficiency when there is one:
             * a peak measured at another moment may not fit this one */
            double eff = ksum >= 0 ? ksum / (sum * (o->cores > 0 ? o->cores : cores))
                                   : metg_efficiency(metg_total_flops(&g), sum / o->reps,
                                                     o->peak_flops);
            if ((o->peak_flops > 0 || ksum >= 0) && o->stop_below > 0 && eff < o->stop_below)
                break;
            if (o->max_time > 0 && spent >= o->max_time)
                break;
        }
        if (out && n > 0) {
            metg_graph_init(&g, o->types[k], width, o->steps, 1);
            print_summary(out, o, &g, o->cores > 0 ? o->cores : cores, iters, elapsed, n);
        }
    }
    free(iters);
    free(elapsed);
    return status;
}
