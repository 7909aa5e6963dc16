/*
 * metg_mpi - the physical reference of the Task Bench comparison: plain MPI with
 * non-blocking point-to-point.  Each rank owns a block of width/size columns;
 * every timestep it posts MPI_Irecv for the inputs its columns need from other
 * ranks and MPI_Isend of its previous outputs to the columns of other ranks that
 * need them, waits, then runs its columns' tasks (check inputs, kernel, output).
 * Links nothing of ray-mpi.
 *
 *   mpirun -n 2 bench/metg_mpi [--type all] [sweep options]   the sweep (rank 0 prints)
 *   mpirun -n 2 bench/metg_mpi --peak [--peak-iters N]        peak FLOP/s of the kernel
 *   mpirun -n 2 bench/metg_mpi --latency [--count N]          ping-pong and message rate
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metg_core.h"

static int g_rank, g_size;

typedef struct {
    double *out[2];   /* [width][64] outputs of the previous and current timestep */
    double *in;       /* [width][METG_MAX_DEPS][64] remote inputs */
    MPI_Request *req; /* room for width * METG_MAX_DEPS * 2 */
    long width;
} state_t;

static long first_point(long width, int rank)
{
    return (long)rank * width / g_size;
}

static int owner(long width, long point)
{
    /* the rank r with first_point(r) <= point < first_point(r + 1) */
    int r = (int)(((point + 1) * g_size - 1) / width);
    while (r > 0 && first_point(width, r) > point)
        r--;
    while (r + 1 < g_size && first_point(width, r + 1) <= point)
        r++;
    return r;
}

static int run_graph(const metg_graph_t *g, void *ctx, double *elapsed, double *kernel_s)
{
    state_t *st = ctx;
    long w = g->width;
    if (w > st->width) {
        free(st->out[0]);
        free(st->out[1]);
        free(st->in);
        free(st->req);
        st->out[0] = calloc((size_t)w * METG_NDOUBLES, sizeof(double));
        st->out[1] = calloc((size_t)w * METG_NDOUBLES, sizeof(double));
        st->in = calloc((size_t)w * METG_MAX_DEPS * METG_NDOUBLES, sizeof(double));
        st->req = calloc((size_t)w * METG_MAX_DEPS * 2, sizeof(MPI_Request));
        if (!st->out[0] || !st->out[1] || !st->in || !st->req) {
            fprintf(stderr, "metg_mpi: out of memory\n");
            MPI_Abort(MPI_COMM_WORLD, 1);
        }
        st->width = w;
    }
    long lo = first_point(w, g_rank), hi = first_point(w, g_rank + 1);
    long deps[METG_MAX_DEPS], rdeps[METG_MAX_DEPS];
    const double *inputs[METG_MAX_DEPS];
    int bad = 0;

    metg_kernel_time_take();
    MPI_Barrier(MPI_COMM_WORLD);
    double t0 = MPI_Wtime();
    for (long t = 0; t < g->steps; t++) {
        double *cur = st->out[t & 1], *prev = st->out[(t + 1) & 1];
        int nreq = 0;
        if (t > 0) {
            for (long p = lo; p < hi; p++) {
                int n = metg_deps(g, t, p, deps);
                for (int k = 0; k < n; k++) {
                    int o = owner(w, deps[k]);
                    if (o != g_rank)
                        MPI_Irecv(st->in + ((size_t)p * METG_MAX_DEPS + k) * METG_NDOUBLES,
                                  METG_NDOUBLES, MPI_DOUBLE, o, (int)p, MPI_COMM_WORLD,
                                  &st->req[nreq++]);
                }
            }
            for (long q = lo; q < hi; q++) {
                int n = metg_rdeps(g, t - 1, q, rdeps);
                for (int k = 0; k < n; k++) {
                    int o = owner(w, rdeps[k]);
                    if (o != g_rank)
                        MPI_Isend(prev + (size_t)q * METG_NDOUBLES, METG_NDOUBLES, MPI_DOUBLE,
                                  o, (int)rdeps[k], MPI_COMM_WORLD, &st->req[nreq++]);
                }
            }
            if (nreq)
                MPI_Waitall(nreq, st->req, MPI_STATUSES_IGNORE);
        }
        for (long p = lo; p < hi; p++) {
            int n = metg_deps(g, t, p, deps);
            for (int k = 0; k < n; k++) {
                if (owner(w, deps[k]) == g_rank)
                    inputs[k] = prev + (size_t)deps[k] * METG_NDOUBLES;
                else
                    inputs[k] = st->in + ((size_t)p * METG_MAX_DEPS + k) * METG_NDOUBLES;
            }
            if (metg_execute_point(g, t, p, inputs, n, cur + (size_t)p * METG_NDOUBLES) != 0 &&
                !bad) {
                bad = 1;
                fprintf(stderr, "metg_mpi: rank %d: wrong input at timestep %ld point %ld\n",
                        g_rank, t, p);
            }
        }
    }
    MPI_Barrier(MPI_COMM_WORLD);
    double e = MPI_Wtime() - t0;
    /* every rank takes the same (largest) time, so all make the same decisions */
    MPI_Allreduce(&e, elapsed, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
    double k = (double)metg_kernel_time_take() * 1e-9;
    MPI_Allreduce(&k, kernel_s, 1, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
    int anybad = 0;
    MPI_Allreduce(&bad, &anybad, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    return anybad;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Peak: every rank runs the kernel at once on large task sizes; FLOP/s of all
 * ranks together.  The peak is the median of the repetitions, the best is printed
 * too: on a shared virtual machine a few repetitions run up to twice as fast as the
 * rest (4.8-5.0 against 8-9.2 GFLOP/s per core in one run), a speed the sweeps
 * then rarely see, and efficiencies against it never reach 50%. */
static void peak(long iters, int reps) /* reps >= 1 (checked in main) */
{
    double a[METG_NDOUBLES];
    double *all = calloc((size_t)reps, sizeof(*all));
    if (all == NULL) {
        fprintf(stderr, "metg_mpi: out of memory\n");
        MPI_Abort(MPI_COMM_WORLD, 1);
    }
    for (int r = 0; r < reps; r++) {
        metg_kernel_init(a);
        MPI_Barrier(MPI_COMM_WORLD);
        double t0 = MPI_Wtime();
        metg_kernel(a, iters);
        double e = MPI_Wtime() - t0, emax;
        MPI_Allreduce(&e, &emax, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
        double flops = (double)metg_flops_per_task(iters) * g_size / emax;
        if (g_rank == 0)
            printf("peak rep %d: %d ranks x %ld iterations in %.4f s: %.4e FLOP/s (%.4e per core)\n",
                   r, g_size, iters, emax, flops, flops / g_size);
        all[r] = flops;
        if (a[5] > 0) /* keep the result live */
            printf("?\n");
    }
    qsort(all, (size_t)reps, sizeof(*all), cmp_double);
    double med = reps % 2 ? all[reps / 2] : (all[reps / 2 - 1] + all[reps / 2]) / 2;
    if (g_rank == 0) {
        printf("Peak FLOP/s %e\n", med);
        printf("Peak FLOP/s per core %e\n", med / g_size);
        printf("Best FLOP/s %e (of %d repetitions)\n", all[reps - 1], reps);
    }
    free(all);
}

/* Round trip of a small message between ranks 0 and 1, and the rate of a burst of
 * small non-blocking messages: MPI's counterpart of a task round trip and burst. */
static void latency(int count)
{
    if (g_size < 2) {
        if (g_rank == 0)
            printf("latency: needs 2 ranks\n");
        return;
    }
    char buf[METG_OUTPUT_BYTES];
    memset(buf, 0, sizeof buf);
    for (int size = 8; size <= (int)METG_OUTPUT_BYTES; size *= 64) {
        for (int phase = 0; phase < 2; phase++) {
            int n = phase ? count : count / 10 + 1; /* warm-up, then timed */
            MPI_Barrier(MPI_COMM_WORLD);
            double t0 = MPI_Wtime();
            for (int i = 0; i < n; i++) {
                if (g_rank == 0) {
                    MPI_Send(buf, size, MPI_BYTE, 1, 0, MPI_COMM_WORLD);
                    MPI_Recv(buf, size, MPI_BYTE, 1, 0, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
                } else if (g_rank == 1) {
                    MPI_Recv(buf, size, MPI_BYTE, 0, 0, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
                    MPI_Send(buf, size, MPI_BYTE, 0, 0, MPI_COMM_WORLD);
                }
            }
            double e = MPI_Wtime() - t0;
            if (phase && g_rank == 0)
                printf("latency mpi_pingpong_%dB_roundtrip_us %.3f\n", size, e / n * 1e6);
        }
    }
    /* burst: rank 0 sends `count` 8-byte messages with Isend, rank 1 receives
     * them, then acknowledges */
    int burst = count < 100000 ? count : 100000;
    MPI_Request *req = malloc((size_t)burst * sizeof *req);
    char *rb = malloc((size_t)burst * 8);
    if (!req || !rb)
        MPI_Abort(MPI_COMM_WORLD, 1);
    for (int phase = 0; phase < 2; phase++) {
        MPI_Barrier(MPI_COMM_WORLD);
        double t0 = MPI_Wtime();
        if (g_rank == 0) {
            for (int i = 0; i < burst; i++)
                MPI_Isend(buf, 8, MPI_BYTE, 1, 1, MPI_COMM_WORLD, &req[i]);
            MPI_Waitall(burst, req, MPI_STATUSES_IGNORE);
            MPI_Recv(buf, 1, MPI_BYTE, 1, 2, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        } else if (g_rank == 1) {
            for (int i = 0; i < burst; i++)
                MPI_Irecv(rb + (size_t)i * 8, 8, MPI_BYTE, 0, 1, MPI_COMM_WORLD, &req[i]);
            MPI_Waitall(burst, req, MPI_STATUSES_IGNORE);
            MPI_Send(buf, 1, MPI_BYTE, 0, 2, MPI_COMM_WORLD);
        }
        double e = MPI_Wtime() - t0;
        if (phase && g_rank == 0)
            printf("latency mpi_burst_msgs_per_s %.1f (%d messages)\n", burst / e, burst);
    }
    free(req);
    free(rb);

    /* bandwidth: rank 0 streams `reps` messages of 64 MiB to rank 1, which acknowledges */
    size_t big = (size_t)64 << 20;
    char *bb = malloc(big);
    if (!bb)
        MPI_Abort(MPI_COMM_WORLD, 1);
    memset(bb, 1, big);
    for (int phase = 0; phase < 2; phase++) {
        int reps = phase ? 10 : 2;
        MPI_Barrier(MPI_COMM_WORLD);
        double t0 = MPI_Wtime();
        for (int i = 0; i < reps; i++) {
            if (g_rank == 0)
                MPI_Send(bb, (int)big, MPI_BYTE, 1, 3, MPI_COMM_WORLD);
            else if (g_rank == 1)
                MPI_Recv(bb, (int)big, MPI_BYTE, 0, 3, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        }
        if (g_rank == 0)
            MPI_Recv(buf, 1, MPI_BYTE, 1, 4, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        else if (g_rank == 1)
            MPI_Send(buf, 1, MPI_BYTE, 0, 4, MPI_COMM_WORLD);
        double e = MPI_Wtime() - t0;
        if (phase && g_rank == 0)
            printf("bandwidth mpi_send_64MiB_GBps %.3f\n", (double)big * reps / e / 1e9);
    }
    free(bb);
}

static void usage(FILE *f)
{
    fprintf(f, "usage: mpirun -n N metg_mpi [options]\n");
    metg_opts_usage(f);
    fprintf(f,
        "  --peak               measure peak FLOP/s instead (all ranks run the kernel)\n"
        "  --peak-iters N       iterations per peak run (2^24)\n"
        "  --peak-reps N        peak runs (3)\n"
        "  --latency            ping-pong and message-rate instead\n"
        "  --count N            round trips of --latency (20000)\n");
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &g_rank);
    MPI_Comm_size(MPI_COMM_WORLD, &g_size);

    metg_opts_t o;
    metg_opts_default(&o, "mpi");
    int mode = 0; /* 0 sweep, 1 peak, 2 latency */
    long peak_iters = 1L << 24;
    long peak_reps = 3, count = 20000;
    for (int i = 1; i < argc; i++) {
        int r = metg_parse_opt(&o, argc, argv, &i);
        if (r < 0)
            goto bad;
        if (r)
            continue;
        if (!strcmp(argv[i], "--peak"))
            mode = 1;
        else if (!strcmp(argv[i], "--latency"))
            mode = 2;
        else if (!strcmp(argv[i], "--peak-iters") && i + 1 < argc)
            peak_iters = atol(argv[++i]);
        else if (!strcmp(argv[i], "--peak-reps") && i + 1 < argc)
            peak_reps = atol(argv[++i]);
        else if (!strcmp(argv[i], "--count") && i + 1 < argc)
            count = atol(argv[++i]);
        else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            if (g_rank == 0)
                usage(stdout);
            MPI_Finalize();
            return 0;
        } else {
            if (g_rank == 0)
                fprintf(stderr, "metg_mpi: unknown option %s\n", argv[i]);
            goto bad;
        }
    }
    if (peak_iters < 1 || peak_reps < 1 || count < 1)
        goto bad;

    int status = 0;
    if (mode == 1) {
        peak(peak_iters, (int)peak_reps);
    } else if (mode == 2) {
        latency((int)count);
    } else {
        state_t st;
        memset(&st, 0, sizeof st);
        if (g_rank == 0) {
            printf("metg_mpi: %d ranks (one per core), MPI non-blocking point-to-point\n", g_size);
            fflush(stdout);
        }
        status = metg_sweep(&o, g_size, run_graph, &st, g_rank == 0 ? stdout : NULL);
        if (status && g_rank == 0)
            fprintf(stderr, "metg_mpi: a run failed validation\n");
        free(st.out[0]);
        free(st.out[1]);
        free(st.in);
        free(st.req);
    }
    MPI_Finalize();
    return status ? 1 : 0;
bad:
    if (g_rank == 0)
        usage(stderr);
    MPI_Finalize();
    return 2;
}
