/*
 * metg_core.h - the shared part of ray-mpi's Task Bench (METG) harness: the
 * compute_bound kernel, the dependency patterns, the counts Task Bench reports
 * (tasks, dependencies, FLOPs), its log format, and the METG(50%) computation.
 *
 * Method (Slaughter et al., "Task Bench", SC'20): a task graph of `width` points
 * (width = total cores) and `steps` timesteps; every task runs the kernel for
 * the same number of iterations; the sweep shrinks only the iteration count
 * (2^(26-s), s = 0..21).  Efficiency = achieved FLOP/s / peak FLOP/s (peak of
 * the same kernel at very large task sizes on all cores); granularity = wall
 * time x cores / tasks; METG(50%) = the granularity of the smallest-granularity
 * point at or above 50% efficiency, linearly interpolated to exactly 50% with
 * the next point of the sweep (the next smaller iteration count).
 *
 * This is our own implementation of that method; it links nothing of ray-mpi
 * (Python peers load it through ctypes for the same kernel and patterns).
 */
#ifndef METG_CORE_H
#define METG_CORE_H

#include <stddef.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Doubles in a task's buffer (Task Bench's compute_bound kernel works on 64). */
#define METG_NDOUBLES 64
/* Bytes a task returns: its 64-double buffer. */
#define METG_OUTPUT_BYTES (METG_NDOUBLES * sizeof(double))
/* Largest exponent of the sweep: iterations = 2^(METG_SWEEP_TOP - s). */
#define METG_SWEEP_TOP 26
/* Most dependencies one task can have (radix is capped at this). */
#define METG_MAX_DEPS 64

typedef enum {
    METG_TRIVIAL = 0,    /* no dependencies */
    METG_STENCIL_1D = 1, /* self and the two neighbours of the previous timestep */
    METG_NEAREST = 2,    /* the radix points around self (radix 5: p-2 .. p+2) */
    METG_SPREAD = 3      /* radix points spread over the width, shifted per period */
} metg_pattern_t;

typedef struct {
    metg_pattern_t type;
    long width;      /* points per timestep */
    long steps;      /* timesteps */
    long radix;      /* nearest, spread (default 5) */
    long period;     /* spread: dependence sets; Task Bench's default 3, capped */
    long iterations; /* kernel iterations per task */
} metg_graph_t;

/* ---- kernel ----------------------------------------------------------------- */

/** The starting values of a task's 64 doubles (in (-1, 0): the iteration
 *  x -> x*x + x converges to 0 without overflow or denormals). */
void metg_kernel_init(double *a);
/** Task Bench's compute_bound kernel: iterations x (A[i] = A[i]*A[i] + A[i]) over
 *  the 64 doubles of a. */
void metg_kernel(double *a, long iterations);
/** FLOPs Task Bench counts for one compute_bound task: 128 * iterations + 64. */
long long metg_flops_per_task(long iterations);
/** Iterations of sweep point s: 2^(26 - s) (1 for s >= 26). */
long metg_sweep_iterations(int s);

/** Kernel wall time summed over every metg_execute_point of this process, in
 *  nanoseconds (thread-safe).  metg_kernel_time_take() returns it and resets it. */
unsigned long long metg_kernel_time_ns(void);
unsigned long long metg_kernel_time_take(void);

/** Run a task: check that its inputs are the outputs of (timestep - 1, deps[i])
 *  (their first two doubles carry that tag), then write the kernel's result,
 *  tagged (timestep, point), to out.  Returns 0, or -1 - i for a bad input i. */
int metg_execute_point(const metg_graph_t *g, long timestep, long point,
                       const double *const *inputs, int ninputs, double *out);

/* ---- patterns ---------------------------------------------------------------- */

/** Parse "trivial", "stencil_1d", "nearest", "spread"; 0 or -1. */
int metg_pattern_parse(const char *name, metg_pattern_t *out);
const char *metg_pattern_name(metg_pattern_t type);
/** A graph with Task Bench's defaults for the pattern: radix 5 for nearest and
 *  spread; spread's period 3, capped at ceil(width / radix) as Task Bench
 *  requires (so 1 for width < radix). */
void metg_graph_init(metg_graph_t *g, metg_pattern_t type, long width, long steps,
                     long iterations);
/**
 * The points of timestep - 1 that point depends on, ascending and without
 * duplicates, into deps (room for METG_MAX_DEPS); returns the count.  Timestep 0
 * has none.  Task Bench rejects spread graphs whose radix points collide
 * (width < radix); here a collision counts once.
 */
int metg_deps(const metg_graph_t *g, long timestep, long point, long *deps);
/** The points of timestep + 1 that depend on (timestep, point), ascending, into
 *  rdeps (room for METG_MAX_DEPS); returns the count. */
int metg_rdeps(const metg_graph_t *g, long timestep, long point, long *rdeps);

/* ---- totals and the log ---------------------------------------------------------- */

long long metg_total_tasks(const metg_graph_t *g);
long long metg_total_deps(const metg_graph_t *g);
long long metg_total_flops(const metg_graph_t *g);

/** Task Bench's configuration block ("Running Task Benchmark", "Time Steps: N", ...). */
void metg_print_config(FILE *f, const metg_graph_t *g);
/** Task Bench's result block ("Total Tasks N", ..., "Elapsed Time X seconds", ...). */
void metg_print_timing(FILE *f, const metg_graph_t *g, double elapsed_s);
/** Our addition after the block: "Kernel Time X seconds", the kernel's wall time
 *  summed over all tasks (kernel_s < 0: not printed).  Kernel time / (elapsed x
 *  cores) is the efficiency measured against the kernel's own speed during the run,
 *  which a machine whose CPU capacity varies (shared, virtual) does not distort. */
void metg_print_kernel_time(FILE *f, double kernel_s);

/* ---- METG -------------------------------------------------------------------- */

/** One point of a sweep: the mean over its repetitions. */
typedef struct {
    long iterations;
    int reps;           /* runs averaged */
    double elapsed;     /* mean wall time of the runs, seconds */
    double stddev;      /* their population standard deviation */
    double granularity; /* seconds: wall time x cores / tasks */
    double efficiency;  /* achieved FLOP/s / peak FLOP/s */
} metg_point_t;

/** Granularity of a run: elapsed_s * cores / tasks (seconds). */
double metg_granularity(double elapsed_s, int cores, long long tasks);
/** Efficiency of a run: flops / elapsed_s / peak_flops. */
double metg_efficiency(long long flops, double elapsed_s, double peak_flops);

enum {
    METG_OK = 0,          /* *metg is the interpolated granularity */
    METG_NONE_ABOVE = 1,  /* no point reached the threshold: *metg = the largest
                             granularity measured (METG is above it) */
    METG_NONE_BELOW = 2,  /* every point reached it: *metg = the smallest granularity
                             measured (METG is at most that) */
    METG_EMPTY = -1       /* no points */
};

/**
 * METG(threshold) of a sweep (points in any order; they are ordered by iterations,
 * largest first).  The point with the smallest granularity among those with
 * efficiency >= threshold is taken; when the next point of the sweep (the next
 * smaller iteration count) has a smaller granularity, the granularity is
 * interpolated linearly in efficiency between the two, to exactly threshold.
 */
int metg_compute(const metg_point_t *points, int n, double threshold, double *metg);

/**
 * Collapse runs (iterations[i], elapsed[i]) of one graph of `tasks` tasks into
 * sweep points, as Task Bench's analysis does: the mean elapsed time of each
 * iteration count's repetitions gives its granularity and efficiency.  points has
 * room for n; returns the number of points, ordered by iterations, largest first.
 */
int metg_points_from_runs(const long *iterations, const double *elapsed, int n,
                          long long tasks, int cores, double peak_flops,
                          metg_point_t *points);

/** Monotonic clock in seconds. */
double metg_now(void);

/* ---- the sweep, shared by the C implementations ------------------------------------ */

#define METG_MAX_TYPES 4

typedef struct {
    metg_pattern_t types[METG_MAX_TYPES]; /* patterns to run, in order */
    int ntypes;
    long width;         /* 0: the implementation's total cores */
    long steps;         /* timesteps (1000) */
    int smin, smax;     /* sweep points s = smin..smax, iterations 2^(26-s) (0..21) */
    int reps;           /* repetitions of each point (3) */
    double peak_flops;  /* peak FLOP/s of all cores (0: unknown, no efficiency) */
    double stop_below;  /* end a pattern's sweep after a point under this efficiency (0:
                           never); the kernel-time efficiency when the runs report kernel
                           time, else the peak-based one */
    double max_time;    /* end a pattern's sweep once its runs took this long, seconds (0: never) */
    int warmup_steps;   /* untimed warm-up run of this many timesteps first (10; 0: none) */
    int cores;          /* cores for granularity (0: the implementation's) */
    const char *label;  /* the system's name in the summary */
} metg_opts_t;

/** Defaults: stencil_1d, steps 1000, s = 0..21, 3 reps, warm-up 10 steps. */
void metg_opts_default(metg_opts_t *o, const char *label);
/**
 * Parse one option at argv[*i] (advancing *i past its value): --type LIST (comma
 * separated, or "all"), --width N, --steps N, --sweep S0:S1, --reps N,
 * --peak-flops X, --stop-below E, --max-time S, --warmup-steps N, --cores N,
 * --smoke (steps 20, sweep 14:18, reps 1, warm-up 2).
 * Returns 1 when consumed, 0 when not ours, -1 on a bad value (message printed).
 */
int metg_parse_opt(metg_opts_t *o, int argc, char **argv, int *i);
/** The help text of the options above. */
void metg_opts_usage(FILE *f);

/** One timed run of graph g: 0, *elapsed_s and *kernel_s (the kernel time of all
 *  its tasks, or -1 when unknown), or nonzero on failure.  Every caller of
 *  metg_sweep (every MPI rank) must get the same elapsed value, so that all make
 *  the same decisions. */
typedef int (*metg_run_fn)(const metg_graph_t *g, void *ctx, double *elapsed_s,
                           double *kernel_s);

/**
 * Run the sweep: for each pattern, a warm-up run, then for s = smin..smax the reps
 * runs of iterations 2^(26-s), each printed to out (NULL: nothing printed) as Task
 * Bench's blocks; then a summary ("METG ..." lines).  Stops a pattern early as the
 * options say.  Returns 0, or the first failing run's status.
 */
int metg_sweep(const metg_opts_t *o, int cores, metg_run_fn run, void *ctx, FILE *out);

#ifdef __cplusplus
}
#endif

#endif /* METG_CORE_H */
