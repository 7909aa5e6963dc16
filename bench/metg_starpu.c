/*
 * metg_starpu - StarPU, the task runtime of the HPC world, on the Task Bench METG
 * method: a peer, as mpi4py.futures and Dask are.  One process with one StarPU CPU
 * worker per core; the main thread submits every task of the graph, then waits
 * for all of them.  Data flow the way Task Bench's own StarPU implementation
 * does it: each point has two 512-byte buffers (StarPU vector handles), one per
 * parity of the timestep; task (t, p) writes buffer (t % 2, p) and reads the
 * buffers ((t - 1) % 2, q) of its dependencies q, and StarPU's sequential
 * consistency turns those accesses into the graph's edges.  (It also orders a
 * write after the reads of the buffer's previous contents, two timesteps back:
 * the trivial pattern gets those edges too.)  Links nothing of ray-mpi.
 *
 *   bench/metg_starpu [--type all] [sweep options]   the sweep
 *   bench/metg_starpu --latency [--count N]           round trip and burst of empty tasks
 *
 * STARPU_SCHED chooses StarPU's scheduler (its default otherwise); the number of
 * workers is --cores, else the width, else the cores of the machine.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <starpu.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "metg_core.h"

/* What a task needs besides its buffers (copied into the task by StarPU). */
typedef struct {
    metg_graph_t g;
    long timestep, point;
    int ninputs;
} point_arg_t;

static int g_bad; /* a task saw a wrong input (set by workers, read after the run) */

static void point_cpu(void *buffers[], void *cl_arg)
{
    point_arg_t a;
    starpu_codelet_unpack_args(cl_arg, &a);
    const double *inputs[METG_MAX_DEPS];
    for (int i = 0; i < a.ninputs; i++)
        inputs[i] = (const double *)STARPU_VECTOR_GET_PTR(buffers[i + 1]);
    double *out = (double *)STARPU_VECTOR_GET_PTR(buffers[0]);
    if (metg_execute_point(&a.g, a.timestep, a.point, inputs, a.ninputs, out) != 0)
        __atomic_store_n(&g_bad, 1, __ATOMIC_RELAXED);
}

static struct starpu_codelet point_cl = {
    .cpu_funcs = {point_cpu},
    .nbuffers = STARPU_VARIABLE_NBUFFERS,
    .name = "metg_point",
};

static void empty_cpu(void *buffers[], void *cl_arg)
{
    (void)buffers;
    (void)cl_arg;
}

static struct starpu_codelet empty_cl = {
    .cpu_funcs = {empty_cpu},
    .nbuffers = 0,
    .name = "metg_empty",
};

typedef struct {
    long width;                 /* handles registered for this width */
    double *buf;                /* [2][width][64] */
    starpu_data_handle_t *h;    /* [2][width] */
} state_t;

static void state_free(state_t *st)
{
    for (long i = 0; i < 2 * st->width; i++)
        starpu_data_unregister(st->h[i]);
    free(st->h);
    free(st->buf);
    memset(st, 0, sizeof *st);
}

static int state_ensure(state_t *st, long width)
{
    if (st->width == width)
        return 0;
    state_free(st);
    /* Cache-line aligned: the kernel works in place in a task's buffer, and two
     * buffers sharing a line (calloc aligns to 16 bytes) made two workers' kernels
     * fight over it, at half speed or less, in some processes and not others. */
    size_t bytes = (size_t)(2 * width) * METG_OUTPUT_BYTES;
    void *mem = NULL;
    if (posix_memalign(&mem, 64, bytes) == 0) {
        memset(mem, 0, bytes);
        st->buf = mem;
    }
    st->h = calloc((size_t)(2 * width), sizeof *st->h);
    if (st->buf == NULL || st->h == NULL) {
        fprintf(stderr, "metg_starpu: out of memory for width %ld\n", width);
        return -1;
    }
    for (long i = 0; i < 2 * width; i++)
        starpu_vector_data_register(&st->h[i], STARPU_MAIN_RAM,
                                    (uintptr_t)(st->buf + i * METG_NDOUBLES), METG_NDOUBLES,
                                    sizeof(double));
    st->width = width;
    return 0;
}

static int run_graph(const metg_graph_t *g, void *ctx, double *elapsed, double *kernel_s)
{
    state_t *st = ctx;
    long w = g->width, deps[METG_MAX_DEPS];
    struct starpu_data_descr d[METG_MAX_DEPS + 1];

    if (state_ensure(st, w) != 0)
        return 1;
    __atomic_store_n(&g_bad, 0, __ATOMIC_RELAXED);
    metg_kernel_time_take();
    double t0 = metg_now();
    for (long t = 0; t < g->steps; t++) {
        for (long p = 0; p < w; p++) {
            point_arg_t a = {*g, t, p, metg_deps(g, t, p, deps)};
            d[0].handle = st->h[(t % 2) * w + p];
            d[0].mode = STARPU_W;
            for (int i = 0; i < a.ninputs; i++) {
                d[i + 1].handle = st->h[((t - 1) % 2) * w + deps[i]];
                d[i + 1].mode = STARPU_R;
            }
            int rc = starpu_task_insert(&point_cl, STARPU_DATA_MODE_ARRAY, d, a.ninputs + 1,
                                        STARPU_VALUE, &a, sizeof a, 0);
            if (rc != 0) {
                fprintf(stderr, "metg_starpu: task (%ld, %ld) not submitted: %s\n", t, p,
                        strerror(-rc));
                starpu_task_wait_for_all();
                return 1;
            }
        }
    }
    starpu_task_wait_for_all();
    *elapsed = metg_now() - t0;
    *kernel_s = (double)metg_kernel_time_take() * 1e-9;
    int bad = __atomic_load_n(&g_bad, __ATOMIC_RELAXED);
    if (bad)
        fprintf(stderr, "metg_starpu: a task got a wrong input (pattern %s)\n",
                metg_pattern_name(g->type));
    return bad;
}

/* One empty task submitted and waited for, count times; then a burst of count. */
static int latency(long count)
{
    double t0 = metg_now();
    for (long i = 0; i < count; i++) {
        struct starpu_task *t = starpu_task_create();
        t->cl = &empty_cl;
        t->synchronous = 1;
        if (starpu_task_submit(t) != 0) {
            fprintf(stderr, "metg_starpu: an empty task was not submitted\n");
            return 1;
        }
    }
    double e = metg_now() - t0;
    printf("latency starpu_task_roundtrip_us %.3f\n", e / (double)count * 1e6);
    t0 = metg_now();
    for (long i = 0; i < count; i++) {
        if (starpu_task_insert(&empty_cl, 0) != 0) {
            fprintf(stderr, "metg_starpu: an empty task was not submitted\n");
            starpu_task_wait_for_all();
            return 1;
        }
    }
    starpu_task_wait_for_all();
    e = metg_now() - t0;
    printf("latency starpu_task_burst_per_s %.1f (%ld tasks)\n", (double)count / e, count);
    return 0;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: metg_starpu [options]\n");
    metg_opts_usage(f);
    fprintf(f,
        "  --latency            round trip and burst of empty tasks instead\n"
        "  --count N            tasks of --latency (20000)\n"
        "Environment: STARPU_SCHED (StarPU's scheduler); workers: --cores, else the\n"
        "width, else the machine's cores.\n");
}

int main(int argc, char **argv)
{
    metg_opts_t o;
    metg_opts_default(&o, "starpu");
    int lat = 0;
    long count = 20000;
    for (int i = 1; i < argc; i++) {
        int r = metg_parse_opt(&o, argc, argv, &i);
        if (r < 0) {
            usage(stderr);
            return 2;
        }
        if (r)
            continue;
        if (!strcmp(argv[i], "--latency")) {
            lat = 1;
        } else if (!strcmp(argv[i], "--count") && i + 1 < argc) {
            char *end;
            count = strtol(argv[++i], &end, 10);
            if (*end != '\0' || count < 1) {
                fprintf(stderr, "metg_starpu: --count needs a whole number of 1 or more, not '%s'\n",
                        argv[i]);
                return 2;
            }
        } else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            usage(stdout);
            return 0;
        } else {
            fprintf(stderr, "metg_starpu: unknown option %s\n", argv[i]);
            usage(stderr);
            return 2;
        }
    }
    long ncores = sysconf(_SC_NPROCESSORS_ONLN);
    int workers = o.cores > 0 ? o.cores : o.width > 0 ? (int)o.width : (int)(ncores > 0 ? ncores : 1);

    setenv("STARPU_SILENT", "1", 0); /* no banner on every run */
    struct starpu_conf conf;
    starpu_conf_init(&conf);
    conf.ncpus = workers;
    conf.ncuda = 0;
    conf.nopencl = 0;
    int rc = starpu_init(&conf);
    if (rc != 0) {
        fprintf(stderr, "metg_starpu: starpu_init: %s\n", strerror(-rc));
        return 1;
    }
    int status;
    if (lat) {
        status = latency(count);
    } else {
        const char *sched = getenv("STARPU_SCHED");
        printf("metg_starpu: StarPU %d.%d, %u CPU workers, scheduler %s\n", STARPU_MAJOR_VERSION,
               STARPU_MINOR_VERSION, starpu_cpu_worker_get_count(), sched ? sched : "(default)");
        fflush(stdout);
        state_t st;
        memset(&st, 0, sizeof st);
        status = metg_sweep(&o, workers, run_graph, &st, stdout);
        if (status)
            fprintf(stderr, "metg_starpu: a run failed validation\n");
        state_free(&st);
    }
    starpu_shutdown();
    return status ? 1 : 0;
}
