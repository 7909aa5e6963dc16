/*
 * metg_rmpi - ray-mpi in the Task Bench comparison, two ways:
 *
 *   --impl tasks   every point of every timestep is a task (rmpi_submit) that takes
 *                  the refs (futures) of its dependencies from the previous timestep
 *                  as rmpi_ref() arguments and returns its 64-double buffer (512
 *                  bytes: inline).  The driver submits the whole graph timestep by
 *                  timestep, releasing the refs of a timestep once the next one is
 *                  submitted (refs nothing consumes are kept until they are ready),
 *                  and finally gets the last timestep.
 *   --impl actors  one actor per column (width actors, round-robin over the ranks
 *                  with opts.rank); every timestep calls each actor's step method
 *                  with the dependency refs from the previous timestep.
 *
 * Every task checks that its inputs carry the tags of the right (timestep, point)
 * and the driver checks every result it gets.
 *
 *   mpirun -n 2 bench/metg_rmpi --impl tasks [--type all] [sweep options]
 *   mpirun -n 2 bench/metg_rmpi --latency [--count N]   round trip and burst of empty tasks
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metg_core.h"
#include "raympi.h"

/* What a task needs to know of its graph, as one bytes argument. */
typedef struct {
    int64_t type, width, steps, radix, period, iterations, timestep, point;
} desc_t;

static double g_timeout = 120.0; /* any one get */

/* METG_TRACE=DIR: every task's (timestep, point, start, end) on this rank goes to
 * DIR/metg-trace-RANK.txt at exit (CLOCK_MONOTONIC seconds; ranks of one node share
 * the clock), to see how the tasks of a timestep overlap. */
typedef struct { int64_t t, p; double start, end; } trace_t;
static trace_t *g_trace;
static long g_ntrace, g_trace_cap;
static pthread_mutex_t g_trace_lock = PTHREAD_MUTEX_INITIALIZER;

static void trace_add(int64_t t, int64_t p, double start, double end)
{
    pthread_mutex_lock(&g_trace_lock);
    if (g_ntrace < g_trace_cap)
        g_trace[g_ntrace++] = (trace_t){ t, p, start, end };
    pthread_mutex_unlock(&g_trace_lock);
}

static void trace_dump(void)
{
    const char *dir = getenv("METG_TRACE");
    if (!dir || !g_trace)
        return;
    char path[512];
    snprintf(path, sizeof path, "%s/metg-trace-%d.txt", dir, rmpi_rank());
    FILE *f = fopen(path, "w");
    if (!f)
        return;
    for (long i = 0; i < g_ntrace; i++)
        fprintf(f, "%d %lld %lld %.9f %.9f\n", rmpi_rank(), (long long)g_trace[i].t,
                (long long)g_trace[i].p, g_trace[i].start, g_trace[i].end);
    fclose(f);
}

/* The body of a task or an actor's step: arg 0 the desc, args 1.. the inputs. */
static int run_point(rmpi_task_t *t)
{
    const void *data;
    size_t size;
    if (rmpi_task_arg(t, 0, &data, &size) != RMPI_OK || size != sizeof(desc_t))
        return rmpi_task_fail(t, "metg: bad descriptor");
    desc_t d;
    memcpy(&d, data, sizeof d);
    metg_graph_t g;
    metg_graph_init(&g, (metg_pattern_t)d.type, d.width, d.steps, d.iterations);
    g.radix = d.radix;
    g.period = d.period;
    int n = rmpi_task_nargs(t) - 1;
    if (n < 0 || n > METG_MAX_DEPS)
        return rmpi_task_fail(t, "metg: %d inputs", n);
    const double *inputs[METG_MAX_DEPS];
    double copies[METG_MAX_DEPS][2];
    for (int i = 0; i < n; i++) {
        if (rmpi_task_arg(t, i + 1, &data, &size) != RMPI_OK || size != METG_OUTPUT_BYTES)
            return rmpi_task_fail(t, "metg: input %d has %zu bytes", i, size);
        /* only the tag (the first two doubles) is read: copy it, aligned */
        memcpy(copies[i], data, sizeof copies[i]);
        inputs[i] = copies[i];
    }
    double *out = rmpi_task_return_buffer(t, 0, METG_OUTPUT_BYTES);
    if (!out)
        return RMPI_ERR_NO_MEMORY;
    double local[METG_NDOUBLES];
    double t0 = g_trace ? metg_now() : 0;
    int rc = metg_execute_point(&g, d.timestep, d.point, inputs, n, local);
    if (g_trace)
        trace_add(d.timestep, d.point, t0, metg_now());
    if (rc != 0)
        return rmpi_task_fail(t, "metg: timestep %lld point %lld: wrong input %d",
                              (long long)d.timestep, (long long)d.point, -1 - rc);
    memcpy(out, local, sizeof local);
    return RMPI_OK;
}

static int metg_task(rmpi_task_t *t)
{
    return run_point(t);
}
RMPI_REMOTE(metg_task)

/* This rank's kernel time since the last call, in ns (and reset). */
static int metg_ktime(rmpi_task_t *t)
{
    return rmpi_task_return_i64(t, 0, (int64_t)metg_kernel_time_take());
}
RMPI_REMOTE(metg_ktime)

static int metg_empty(rmpi_task_t *t)
{
    return RMPI_OK;
}
RMPI_REMOTE(metg_empty)

static void *column_ctor(rmpi_task_t *t)
{
    return calloc(1, 16);
}

static void column_dtor(void *state)
{
    free(state);
}

static int column_step(void *state, rmpi_task_t *t)
{
    return run_point(t);
}

static int column_empty(void *state, rmpi_task_t *t)
{
    return RMPI_OK;
}

/* ---- the driver ----------------------------------------------------------------- */

typedef struct {
    int actors;          /* 1: actors, 0: tasks */
    int pin;             /* tasks: run point p on rank p * size / width */
    int size;
    rmpi_actor_t *cols;  /* one per column */
    long ncols;
    rmpi_ref_t *prev, *cur;
    rmpi_ref_t *pending; /* refs nothing consumes, kept until ready */
    int *ready;
    long npending, cap;
    long drain_at;       /* drain when npending reaches it (doubles: linear total cost) */
    long width;
    char err[512];
} ctx_t;

static int check_result(ctx_t *c, rmpi_ref_t ref, long timestep, long point)
{
    rmpi_view_t v;
    int rc = rmpi_get(ref, g_timeout, &v);
    if (rc != RMPI_OK) {
        char msg[256] = "";
        if (rc != RMPI_ERR_TIMEOUT)
            rmpi_error_message(ref, msg, sizeof msg);
        snprintf(c->err, sizeof c->err, "get of timestep %ld point %ld: %s %s", timestep, point,
                 rmpi_status_string(rc), msg);
        return rc;
    }
    double tag[2] = { -1, -1 };
    if (v.size == METG_OUTPUT_BYTES)
        memcpy(tag, v.data, sizeof tag);
    rmpi_view_release(&v);
    if (tag[0] != (double)timestep || tag[1] != (double)point) {
        snprintf(c->err, sizeof c->err,
                 "timestep %ld point %ld returned %zu bytes tagged (%g, %g)", timestep, point,
                 v.size, tag[0], tag[1]);
        return -1000;
    }
    return RMPI_OK;
}

static int ensure(ctx_t *c, const metg_graph_t *g)
{
    long w = g->width;
    if (w > c->width) {
        free(c->prev);
        free(c->cur);
        c->prev = calloc((size_t)w, sizeof *c->prev);
        c->cur = calloc((size_t)w, sizeof *c->cur);
        if (!c->prev || !c->cur)
            return RMPI_ERR_NO_MEMORY;
        c->width = w;
    }
    if (c->actors && c->ncols < w) {
        rmpi_actor_t *cols = realloc(c->cols, (size_t)w * sizeof *cols);
        if (!cols)
            return RMPI_ERR_NO_MEMORY;
        c->cols = cols;
        for (long p = c->ncols; p < w; p++) {
            rmpi_actor_opts_t ao = { .field_mask = RMPI_ACTOR_OPT_RANK,
                                     .rank = (int)(p % c->size) };
            int rc = rmpi_actor_create("metg_column", NULL, 0, &ao, &c->cols[p]);
            if (rc != RMPI_OK) {
                snprintf(c->err, sizeof c->err, "rmpi_actor_create: %s", rmpi_status_string(rc));
                return rc;
            }
            c->ncols = p + 1;
        }
    }
    return RMPI_OK;
}

static int push_pending(ctx_t *c, rmpi_ref_t ref)
{
    if (c->npending == c->cap) {
        long cap = c->cap ? 2 * c->cap : 1024;
        rmpi_ref_t *p = realloc(c->pending, (size_t)cap * sizeof *p);
        int *r = realloc(c->ready, (size_t)cap * sizeof *r);
        if (p)
            c->pending = p;
        if (r)
            c->ready = r;
        if (!p || !r)
            return RMPI_ERR_NO_MEMORY;
        c->cap = cap;
    }
    c->pending[c->npending++] = ref;
    return RMPI_OK;
}

/* Release the pending refs that are ready (checking them), keep the others. */
static int drain_pending(ctx_t *c, int all)
{
    if (c->npending == 0)
        return RMPI_OK;
    int nready = 0;
    int rc = rmpi_wait(c->pending, (int)c->npending, all ? (int)c->npending : 1,
                       all ? g_timeout : 0.0, c->ready, &nready);
    if (rc != RMPI_OK) {
        snprintf(c->err, sizeof c->err, "rmpi_wait: %s", rmpi_status_string(rc));
        return rc;
    }
    if (all && nready < c->npending) {
        snprintf(c->err, sizeof c->err, "rmpi_wait: %d of %ld ready after %.0f s", nready,
                 c->npending, g_timeout);
        return RMPI_ERR_TIMEOUT;
    }
    long k = 0;
    for (long i = 0; i < c->npending; i++) {
        if (c->ready[i]) {
            rmpi_view_t v;
            rc = rmpi_get(c->pending[i], 0, &v);
            if (rc != RMPI_OK) {
                snprintf(c->err, sizeof c->err, "get of a finished task: %s",
                         rmpi_status_string(rc));
                return rc;
            }
            int good = v.size == METG_OUTPUT_BYTES;
            rmpi_view_release(&v);
            rmpi_release(c->pending[i]);
            if (!good) {
                snprintf(c->err, sizeof c->err, "a task returned %zu bytes", v.size);
                return -1000;
            }
        } else {
            c->pending[k++] = c->pending[i];
        }
    }
    c->npending = k;
    return RMPI_OK;
}

/* Sum (and reset) the kernel time of every rank: one metg_ktime task per rank. */
static double take_kernel_time(ctx_t *c)
{
    double sum = 0;
    for (int r = 0; r < c->size; r++) {
        rmpi_opts_t o = { .field_mask = RMPI_OPT_RANK, .rank = r };
        rmpi_ref_t ref;
        int64_t ns = 0;
        if (rmpi_submit("metg_ktime", NULL, 0, &o, &ref) != RMPI_OK)
            return -1;
        int rc = rmpi_get_i64(ref, g_timeout, &ns);
        rmpi_release(ref);
        if (rc != RMPI_OK)
            return -1;
        sum += (double)ns * 1e-9;
    }
    return sum;
}

static int run_graph(const metg_graph_t *g, void *vctx, double *elapsed, double *kernel_s)
{
    ctx_t *c = vctx;
    int rc = ensure(c, g);
    if (rc != RMPI_OK)
        return rc;
    long w = g->width;
    long deps[METG_MAX_DEPS], rdeps[METG_MAX_DEPS];
    rmpi_arg_t args[METG_MAX_DEPS + 1];
    desc_t d = { .type = g->type, .width = w, .steps = g->steps, .radix = g->radix,
                 .period = g->period, .iterations = g->iterations };
    c->npending = 0;
    c->drain_at = 0;
    take_kernel_time(c);

    double t0 = metg_now();
    for (long t = 0; t < g->steps; t++) {
        d.timestep = t;
        for (long p = 0; p < w; p++) {
            d.point = p;
            int n = metg_deps(g, t, p, deps);
            args[0] = rmpi_bytes(&d, sizeof d);
            for (int k = 0; k < n; k++)
                args[k + 1] = rmpi_ref(c->prev[deps[k]]);
            if (c->actors) {
                rc = rmpi_actor_call(c->cols[p], "step", args, n + 1, NULL, &c->cur[p]);
            } else if (c->pin) {
                rmpi_opts_t o = { .field_mask = RMPI_OPT_RANK,
                                  .rank = (int)(p * c->size / w) };
                rc = rmpi_submit("metg_task", args, n + 1, &o, &c->cur[p]);
            } else {
                rc = rmpi_submit("metg_task", args, n + 1, NULL, &c->cur[p]);
            }
            if (rc != RMPI_OK) {
                snprintf(c->err, sizeof c->err, "submit of timestep %ld point %ld: %s", t, p,
                         rmpi_status_string(rc));
                return rc;
            }
        }
        if (t > 0) {
            /* timestep t - 1 is no longer needed by the driver once t is submitted;
             * what nothing consumed is kept until it is done */
            for (long q = 0; q < w; q++) {
                if (metg_rdeps(g, t - 1, q, rdeps) > 0) {
                    rmpi_release(c->prev[q]);
                } else if ((rc = push_pending(c, c->prev[q])) != RMPI_OK) {
                    return rc;
                }
            }
            if (c->npending >= c->drain_at && c->npending >= 4 * w) {
                if ((rc = drain_pending(c, 0)) != RMPI_OK)
                    return rc;
                c->drain_at = 2 * c->npending;
            }
        }
        rmpi_ref_t *tmp = c->prev;
        c->prev = c->cur;
        c->cur = tmp;
    }
    /* the last timestep: get and check each result */
    int first = RMPI_OK;
    for (long p = 0; p < w; p++) {
        rc = check_result(c, c->prev[p], g->steps - 1, p);
        if (rc != RMPI_OK && first == RMPI_OK)
            first = rc;
        rmpi_release(c->prev[p]);
    }
    if (first == RMPI_OK)
        first = drain_pending(c, 1);
    *elapsed = metg_now() - t0;
    if (first == RMPI_OK)
        *kernel_s = take_kernel_time(c);
    return first;
}

/* ---- latency: one empty task (or actor call) submit + get, and a burst ----------------- */

static int latency(ctx_t *c, int count)
{
    rmpi_actor_t a;
    rmpi_actor_opts_t ao = { .field_mask = RMPI_ACTOR_OPT_RANK, .rank = c->size > 1 ? 1 : 0 };
    int rc = rmpi_actor_create("metg_column", NULL, 0, &ao, &a);
    if (rc != RMPI_OK)
        return rc;
    int burst = count < 100000 ? count : 100000;
    rmpi_ref_t *refs = malloc((size_t)burst * sizeof *refs);
    if (!refs)
        return RMPI_ERR_NO_MEMORY;
    static const char *const names[] = { "task", "task_rank1", "actor" };
    for (int kind = 0; kind < 3; kind++) {
        if (kind == 1 && c->size < 2)
            continue;
        rmpi_opts_t o = { .field_mask = RMPI_OPT_RANK, .rank = 1 };
        for (int phase = 0; phase < 2; phase++) {
            int n = phase ? count : count / 10 + 1;
            double t0 = metg_now();
            for (int i = 0; i < n; i++) {
                rmpi_ref_t r;
                if (kind == 2)
                    rc = rmpi_actor_call(a, "empty", NULL, 0, NULL, &r);
                else
                    rc = rmpi_submit("metg_empty", NULL, 0, kind == 1 ? &o : NULL, &r);
                if (rc != RMPI_OK)
                    goto out;
                rmpi_view_t v;
                rc = rmpi_get(r, g_timeout, &v);
                rmpi_view_release(&v);
                rmpi_release(r);
                if (rc != RMPI_OK)
                    goto out;
            }
            double e = metg_now() - t0;
            if (phase)
                printf("latency rmpi_%s_roundtrip_us %.3f\n", names[kind], e / n * 1e6);
        }
        for (int phase = 0; phase < 2; phase++) {
            int n = phase ? burst : burst / 10 + 1;
            double t0 = metg_now();
            for (int i = 0; i < n; i++) {
                if (kind == 2)
                    rc = rmpi_actor_call(a, "empty", NULL, 0, NULL, &refs[i]);
                else
                    rc = rmpi_submit("metg_empty", NULL, 0, kind == 1 ? &o : NULL, &refs[i]);
                if (rc != RMPI_OK)
                    goto out;
            }
            for (int i = 0; i < n; i++) {
                rmpi_view_t v;
                int r2 = rmpi_get(refs[i], g_timeout, &v);
                rmpi_view_release(&v);
                rmpi_release(refs[i]);
                if (r2 != RMPI_OK && rc == RMPI_OK)
                    rc = r2;
            }
            if (rc != RMPI_OK)
                goto out;
            double e = metg_now() - t0;
            if (phase)
                printf("latency rmpi_%s_burst_per_s %.1f (%d calls)\n", names[kind], n / e, n);
        }
        fflush(stdout);
    }
out:
    free(refs);
    rmpi_actor_kill(a);
    return rc;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: mpirun -n N metg_rmpi [options]\n");
    metg_opts_usage(f);
    fprintf(f,
        "  --impl tasks|actors  tasks (default) or one actor per column\n"
        "  --pin                tasks: run point p on rank p * size / width\n"
        "  --timeout S          limit of any one get (120)\n"
        "  --latency            round trip and burst of empty tasks and actor calls\n"
        "  --count N            round trips of --latency (20000)\n"
        "Environment: METG_TRACE=DIR writes every task's start and end to\n"
        "DIR/metg-trace-RANK.txt.\n");
}

int main(int argc, char **argv)
{
    if (rmpi_class_register("metg_column", column_ctor, column_dtor) != RMPI_OK ||
        rmpi_method_register("metg_column", "step", column_step) != RMPI_OK ||
        rmpi_method_register("metg_column", "empty", column_empty) != RMPI_OK) {
        fprintf(stderr, "metg_rmpi: class registration failed\n");
        return 1;
    }
    if (getenv("METG_TRACE")) {
        g_trace_cap = 1L << 20;
        g_trace = calloc((size_t)g_trace_cap, sizeof *g_trace);
    }
    int rc = rmpi_init(&argc, &argv);
    if (rc == RMPI_WORKER_DONE) {
        trace_dump();
        return rmpi_finalize() == RMPI_OK ? 0 : 1;
    }
    if (rc != RMPI_OK) {
        fprintf(stderr, "metg_rmpi: rmpi_init: %s\n", rmpi_status_string(rc));
        return 1;
    }
    ctx_t c;
    memset(&c, 0, sizeof c);
    c.size = rmpi_size();
    metg_opts_t o;
    metg_opts_default(&o, "rmpi-tasks");
    int lat = 0, count = 20000, status = 0;
    for (int i = 1; i < argc; i++) {
        int r = metg_parse_opt(&o, argc, argv, &i);
        if (r < 0) {
            status = 2;
            break;
        }
        if (r)
            continue;
        if (!strcmp(argv[i], "--impl") && i + 1 < argc) {
            i++;
            if (!strcmp(argv[i], "tasks"))
                c.actors = 0;
            else if (!strcmp(argv[i], "actors"))
                c.actors = 1;
            else {
                fprintf(stderr, "metg_rmpi: --impl tasks or actors\n");
                status = 2;
                break;
            }
        } else if (!strcmp(argv[i], "--pin")) {
            c.pin = 1;
        } else if (!strcmp(argv[i], "--latency")) {
            lat = 1;
        } else if (!strcmp(argv[i], "--count") && i + 1 < argc) {
            count = atoi(argv[++i]);
        } else if (!strcmp(argv[i], "--timeout") && i + 1 < argc) {
            g_timeout = atof(argv[++i]);
        } else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            usage(stdout);
            rmpi_finalize();
            return 0;
        } else {
            fprintf(stderr, "metg_rmpi: unknown option %s\n", argv[i]);
            status = 2;
            break;
        }
    }
    if (status || count < 1) {
        usage(stderr);
        rmpi_finalize();
        return 2;
    }
    o.label = c.actors ? "rmpi-actors" : c.pin ? "rmpi-tasks-pinned" : "rmpi-tasks";

    rmpi_stats_t st;
    int cores = c.size;
    if (rmpi_stats(&st) == RMPI_OK && st.num_cpus > 0)
        cores = c.size * st.num_cpus; /* every rank of the job has as many */

    if (lat) {
        rc = latency(&c, count);
        if (rc != RMPI_OK) {
            fprintf(stderr, "metg_rmpi: latency: %s\n", rmpi_status_string(rc));
            status = 1;
        }
    } else {
        printf("metg_rmpi: %d ranks, %d executor cores in all, %s\n", c.size, cores,
               c.actors ? "one actor per column (round-robin over ranks)"
                        : c.pin ? "tasks pinned to rank p * size / width"
                                : "tasks placed by the scheduler");
        fflush(stdout);
        rc = metg_sweep(&o, cores, run_graph, &c, stdout);
        if (rc != 0) {
            fprintf(stderr, "metg_rmpi: run failed: %s (%s)\n",
                    rc == -1000 ? "wrong result" : rmpi_status_string(rc), c.err);
            status = 1;
        }
    }
    for (long p = 0; p < c.ncols; p++)
        rmpi_actor_kill(c.cols[p]);
    free(c.cols);
    free(c.prev);
    free(c.cur);
    free(c.pending);
    free(c.ready);
    trace_dump();
    free(g_trace);
    rc = rmpi_finalize();
    if (rc != RMPI_OK) {
        fprintf(stderr, "metg_rmpi: rmpi_finalize: %s\n", rmpi_status_string(rc));
        status = status ? status : 1;
    }
    return status;
}
