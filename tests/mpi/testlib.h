/*
 * testlib.h - what the multi-rank tests share: check macros that name the file,
 * line, rank and status, start-up and shut-down, and a few remote helper
 * functions (every test registers the same ones, on every rank).
 *
 * A test program is a plain C program using only the public API.  It runs its
 * checks on the driver (rank 0); the other ranks serve tasks inside rmpi_init.
 * Exit status: 0 passed, 1 failed, 77 skipped.
 */
#ifndef RAYMPI_TESTLIB_H
#define RAYMPI_TESTLIB_H

#include <raympi.h>

#include <errno.h>
#include <sched.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define TL_SKIP 77

/* Not every test uses every helper. */
#define TL_UNUSED __attribute__((unused))

__attribute__((noreturn, format(printf, 3, 4)))
static void tl_fail(const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    fflush(stdout);
    fprintf(stderr, "%s:%d: rank %d: ", file, line, rmpi_rank());
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(1);
}

/* A check that failed ends the program with status 1 (mpirun then ends the job). */
#define CHECK(cond)                                                                  \
    do {                                                                             \
        if (!(cond))                                                                 \
            tl_fail(__FILE__, __LINE__, "check failed: %s", #cond);                  \
    } while (0)

#define CHECK_MSG(cond, ...)                                                         \
    do {                                                                             \
        if (!(cond))                                                                 \
            tl_fail(__FILE__, __LINE__, __VA_ARGS__);                                \
    } while (0)

/* expr must return the status want. */
#define CHECK_STATUS(expr, want)                                                     \
    do {                                                                             \
        int st_ = (expr), want_ = (want);                                            \
        if (st_ != want_)                                                            \
            tl_fail(__FILE__, __LINE__, "%s\n  returned %d (%s)\n  expected %s",     \
                    #expr, st_, rmpi_status_string(st_), rmpi_status_string(want_)); \
    } while (0)

/* expr must return one of two statuses (where the contract allows either). */
#define CHECK_STATUS2(expr, want1, want2)                                            \
    do {                                                                             \
        int st_ = (expr), w1_ = (want1), w2_ = (want2);                              \
        if (st_ != w1_ && st_ != w2_)                                                \
            tl_fail(__FILE__, __LINE__, "%s\n  returned %d (%s)\n  expected %s or %s", \
                    #expr, st_, rmpi_status_string(st_), rmpi_status_string(w1_),    \
                    rmpi_status_string(w2_));                                        \
    } while (0)

#define CHECK_OK(expr) CHECK_STATUS(expr, RMPI_OK)

/* Checks that a string contains another, printing both when it does not. */
#define CHECK_CONTAINS(str, sub)                                                     \
    do {                                                                             \
        const char *s_ = (str), *sub_ = (sub);                                       \
        if (s_ == NULL || strstr(s_, sub_) == NULL)                                  \
            tl_fail(__FILE__, __LINE__, "\"%s\" does not contain \"%s\"",            \
                    s_ ? s_ : "(null)", sub_);                                       \
    } while (0)

/* Run one named check function; its name goes to stdout so a log shows where a
 * failure happened. */
#define RUN(fn)                                                                      \
    do {                                                                             \
        printf("# %s\n", #fn);                                                       \
        fflush(stdout);                                                              \
        fn();                                                                        \
        printf("ok %s\n", #fn);                                                      \
        fflush(stdout);                                                              \
    } while (0)

/* ------------------------------------------------------------------------------
 * Start-up and shut-down
 * ------------------------------------------------------------------------------ */

/* Start the runtime.  Worker ranks serve inside rmpi_init and then exit here;
 * only the driver returns. */
static TL_UNUSED void tl_start(int *argc, char ***argv)
{
    int st = rmpi_init(argc, argv);
    if (st == RMPI_WORKER_DONE) {
        st = rmpi_finalize();
        if (st != RMPI_OK) {
            fprintf(stderr, "worker rank: rmpi_finalize: %s\n", rmpi_status_string(st));
            exit(1);
        }
        exit(0);
    }
    CHECK_MSG(st == RMPI_OK, "rmpi_init: %s", rmpi_status_string(st));
    CHECK(rmpi_rank() == 0);
    CHECK(rmpi_size() >= 1);
}

/* Shut down and return the exit status for main. */
static TL_UNUSED int tl_end(void)
{
    CHECK_OK(rmpi_finalize());
    printf("PASS\n");
    return 0;
}

/* Skip the whole program (after a clean shut-down). */
__attribute__((noreturn))
static TL_UNUSED void tl_skip(const char *why)
{
    printf("SKIP: %s\n", why);
    fflush(stdout);
    rmpi_finalize();
    exit(TL_SKIP);
}

/* ------------------------------------------------------------------------------
 * Small helpers for the driver
 * ------------------------------------------------------------------------------ */

static TL_UNUSED rmpi_opts_t tl_on_rank(int rank)
{
    rmpi_opts_t o;
    memset(&o, 0, sizeof o);
    o.field_mask = RMPI_OPT_RANK;
    o.rank = rank;
    return o;
}

/* Submit fn with one return value, on rank (or anywhere for RMPI_ANY_RANK). */
static TL_UNUSED rmpi_ref_t tl_submit(const char *fn, const rmpi_arg_t *args, int nargs, int rank)
{
    rmpi_ref_t ref;
    rmpi_opts_t o = tl_on_rank(rank);
    CHECK_OK(rmpi_submit(fn, args, nargs, rank == RMPI_ANY_RANK ? NULL : &o, &ref));
    return ref;
}

/* Get an i64 result and release its ref. */
static TL_UNUSED int64_t tl_take_i64(rmpi_ref_t ref)
{
    int64_t v = 0;
    int st = rmpi_get_i64(ref, -1, &v);
    if (st != RMPI_OK) {
        char msg[512] = "";
        rmpi_error_message(ref, msg, sizeof msg);
        tl_fail(__FILE__, __LINE__, "rmpi_get_i64: %s: %s", rmpi_status_string(st), msg);
    }
    CHECK_OK(rmpi_release(ref));
    return v;
}

/* The error message of a failed object (empty string if there is none). */
static TL_UNUSED const char *tl_error(rmpi_ref_t ref, char *buf, size_t size)
{
    buf[0] = '\0';
    int st = rmpi_error_message(ref, buf, size);
    CHECK_MSG(st == RMPI_OK, "rmpi_error_message: %s", rmpi_status_string(st));
    return buf;
}

/* RAYMPI_SCHED_CALLER_RUNS is off in this run (the np2off mode). */
static TL_UNUSED int tl_caller_runs_off(void)
{
    const char *v = getenv("RAYMPI_SCHED_CALLER_RUNS");
    return v != NULL && (!strcmp(v, "no") || !strcmp(v, "0") || !strcmp(v, "false"));
}

/* This rank runs on one cpu: its executor waits for the core while the driver runs,
 * so work the driver may take itself (calls it submits, tasks it waits for) is its. */
static TL_UNUSED int tl_one_cpu(void)
{
    cpu_set_t set;
    return sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) == 1;
}

/* This rank's counters. */
static TL_UNUSED rmpi_stats_t tl_stats(void)
{
    rmpi_stats_t st;
    CHECK_OK(rmpi_stats(&st));
    return st;
}

static TL_UNUSED double tl_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static TL_UNUSED void tl_sleep_s(double s)
{
    struct timespec ts = { (time_t)s, (long)((s - (double)(time_t)s) * 1e9) };
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* A byte pattern that differs with the seed and the position. */
static TL_UNUSED uint8_t tl_pattern_byte(uint64_t seed, size_t i)
{
    return (uint8_t)((i * 131u) ^ (i >> 11) ^ (seed * 29u + 7u));
}

static TL_UNUSED void tl_fill(void *buf, size_t n, uint64_t seed)
{
    uint8_t *p = buf;
    for (size_t i = 0; i < n; i++)
        p[i] = tl_pattern_byte(seed, i);
}

/* Index of the first byte that differs from the pattern, or -1. */
static TL_UNUSED long tl_check_pattern(const void *buf, size_t n, uint64_t seed)
{
    const uint8_t *p = buf;
    for (size_t i = 0; i < n; i++)
        if (p[i] != tl_pattern_byte(seed, i))
            return (long)i;
    return -1;
}

/* A 64-bit hash of bytes (FNV-1a over 8-byte words, then the tail). */
static TL_UNUSED int64_t tl_hash(const void *buf, size_t n)
{
    const uint8_t *p = buf;
    uint64_t h = 0xcbf29ce484222325ull ^ n;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, p + i, 8);
        h = (h ^ w) * 0x100000001b3ull;
    }
    for (; i < n; i++)
        h = (h ^ p[i]) * 0x100000001b3ull;
    return (int64_t)h;
}

/* ------------------------------------------------------------------------------
 * Remote helpers, registered by every test program on every rank
 * ------------------------------------------------------------------------------ */

enum { TL_STAT_STORE_BYTES, TL_STAT_NUM_CPUS, TL_STAT_STORE_CAPACITY, TL_STAT_RANK,
       TL_STAT_STORE_OBJECTS, TL_STAT_TASKS_EXECUTED, TL_STAT_ARGS_FORWARDED };

/* tl_stat(field: i64) -> i64: one of this rank's counters. */
static TL_UNUSED int tl_stat(rmpi_task_t *t)
{
    int64_t field = rmpi_task_arg_i64(t, 0);
    rmpi_stats_t s;
    int st = rmpi_stats(&s);
    if (st != RMPI_OK)
        return rmpi_task_fail(t, "rmpi_stats: %s", rmpi_status_string(st));
    int64_t v;
    switch (field) {
    case TL_STAT_STORE_BYTES:     v = (int64_t)s.store_bytes; break;
    case TL_STAT_NUM_CPUS:        v = s.num_cpus; break;
    case TL_STAT_STORE_CAPACITY:  v = (int64_t)s.store_capacity; break;
    case TL_STAT_RANK:            v = rmpi_rank(); break;
    case TL_STAT_STORE_OBJECTS:   v = (int64_t)s.store_objects; break;
    case TL_STAT_TASKS_EXECUTED:  v = (int64_t)s.tasks_executed; break;
    case TL_STAT_ARGS_FORWARDED:  v = (int64_t)s.args_forwarded; break;
    default: return rmpi_task_fail(t, "no counter %lld", (long long)field);
    }
    return rmpi_task_return_i64(t, 0, v);
}
RMPI_REMOTE(tl_stat);

/* One counter of rank, read by a task pinned there. */
static TL_UNUSED int64_t tl_rank_stat(int rank, int field)
{
    rmpi_arg_t a = rmpi_i64(field);
    return tl_take_i64(tl_submit("tl_stat", &a, 1, rank));
}

/* Executor slots summed over all ranks. */
static TL_UNUSED int tl_total_cpus(void)
{
    int total = 0;
    for (int r = 0; r < rmpi_size(); r++)
        total += (int)tl_rank_stat(r, TL_STAT_NUM_CPUS);
    return total;
}

/* tl_pattern(size: i64, seed: i64) -> bytes[size] filled with tl_fill's pattern. */
static TL_UNUSED int tl_pattern(rmpi_task_t *t)
{
    int64_t size = rmpi_task_arg_i64(t, 0), seed = rmpi_task_arg_i64(t, 1);
    if (size < 0)
        return rmpi_task_fail(t, "negative size");
    void *buf = rmpi_task_return_buffer(t, 0, (size_t)size);
    if (buf == NULL && size > 0)
        return RMPI_ERR_TASK_FAILED;
    tl_fill(buf, (size_t)size, (uint64_t)seed);
    return RMPI_OK;
}
RMPI_REMOTE(tl_pattern);

/* tl_checksum(x) -> i64: tl_hash of argument 0's bytes, whatever its type. */
static TL_UNUSED int tl_checksum(rmpi_task_t *t)
{
    const void *data;
    size_t size;
    int st = rmpi_task_arg(t, 0, &data, &size);
    if (st != RMPI_OK)
        return rmpi_task_fail(t, "argument 0: %s", rmpi_status_string(st));
    return rmpi_task_return_i64(t, 0, tl_hash(data, size));
}
RMPI_REMOTE(tl_checksum);

/* tl_where() -> i64: the rank it ran on. */
static TL_UNUSED int tl_where(rmpi_task_t *t)
{
    return rmpi_task_return_i64(t, 0, rmpi_rank());
}
RMPI_REMOTE(tl_where);

/* tl_gate(path: bytes) -> i64 1: waits until the file path exists (at most
 * two minutes), so the driver decides when the task finishes.  All ranks of the
 * tests run on one node, so a file is a gate every rank sees. */
static TL_UNUSED int tl_gate(rmpi_task_t *t)
{
    const void *data;
    size_t size;
    char path[256];
    if (rmpi_task_arg(t, 0, &data, &size) != RMPI_OK || size == 0 || size >= sizeof path)
        return rmpi_task_fail(t, "tl_gate takes a path");
    memcpy(path, data, size);
    path[size] = '\0';
    for (int i = 0; i < 120000 && access(path, F_OK) != 0; i++)
        tl_sleep_s(0.001);
    return rmpi_task_return_i64(t, 0, 1);
}
RMPI_REMOTE(tl_gate);

typedef struct {
    char path[128];
} tl_gate_t;

/* Submit a gated task (on rank, or anywhere) that finishes after tl_gate_open. */
static TL_UNUSED rmpi_ref_t tl_gate_submit(tl_gate_t *g, int rank)
{
    static int count;
    snprintf(g->path, sizeof g->path, "/tmp/raympi-test-gate-%ld-%d", (long)getpid(), count++);
    unlink(g->path);
    rmpi_arg_t a = rmpi_bytes(g->path, strlen(g->path));
    return tl_submit("tl_gate", &a, 1, rank);
}

static TL_UNUSED void tl_gate_open(tl_gate_t *g)
{
    FILE *f = fopen(g->path, "w");
    CHECK_MSG(f != NULL, "cannot create %s", g->path);
    fclose(f);
}

static TL_UNUSED void tl_gate_remove(tl_gate_t *g)
{
    unlink(g->path);
}

#endif /* RAYMPI_TESTLIB_H */
