/*
 * test_caller_runs.c - tasks and actor calls run by the thread waiting for them
 * (RAYMPI_SCHED_CALLER_RUNS, doc/architecture.md "How a task flows" and "Actors").
 *
 * Actor calls: results and order stay those of calls run by executors, in a chain on
 * the driver's rank and in a two-actor stencil across ranks (each call takes both
 * actors' previous results); the driver runs calls of its rank that it gets at once
 * itself when its rank has one cpu (never with the setting off), but not the calls of
 * a method that takes milliseconds; and it never runs a call merely because it
 * submitted it: a call that waits for a signal the driver sends after submitting it
 * would then wait forever.
 *
 * Tasks (the same setting): a task of the driver's rank that the driver gets at once
 * comes back right, and the driver runs it itself when its rank has one cpu (never
 * with the setting off); a function whose tasks take milliseconds never runs on the
 * waiting thread; and a get with a short timeout still times out on a long task of a
 * function whose tasks were short.
 */
#include "testlib.h"

#include <stdatomic.h>

/* ------------------------------------------------------------------------------
 * Column(): one column of a stencil.  step(i, prev_self, prev_other) checks that
 * both inputs are step i - 1 and returns i; add(by) adds to a running total.
 * ------------------------------------------------------------------------------ */

typedef struct {
    int64_t total;
    int64_t last_step;
} column_t;

static void *column_new(rmpi_task_t *t)
{
    (void)t;
    return calloc(1, sizeof(column_t));
}

static int column_add(void *state, rmpi_task_t *t)
{
    column_t *c = state;
    c->total += rmpi_task_arg_i64(t, 0);
    return rmpi_task_return_i64(t, 0, c->total);
}

static int column_nap(void *state, rmpi_task_t *t)
{
    (void)state;
    tl_sleep_s((double)rmpi_task_arg_i64(t, 0) / 1000.0);
    return rmpi_task_return_i64(t, 0, 1);
}

static int column_step(void *state, rmpi_task_t *t)
{
    column_t *c = state;
    int64_t i = rmpi_task_arg_i64(t, 0);
    for (int k = 1; k <= 2; k++) {
        int64_t in = rmpi_task_arg_i64(t, k);
        if (in != i - 1)
            return rmpi_task_fail(t, "step %lld: input %d is step %lld", (long long)i, k,
                                  (long long)in);
    }
    if (i != c->last_step + 1)
        return rmpi_task_fail(t, "step %lld ran after step %lld", (long long)i,
                              (long long)c->last_step);
    c->last_step = i;
    return rmpi_task_return_i64(t, 0, i);
}

/* Tasks: square(x) returns x * x; nap(ms) and pause(ms) sleep, then return 1. */
static int cr_square(rmpi_task_t *t)
{
    int64_t x = rmpi_task_arg_i64(t, 0);
    return rmpi_task_return_i64(t, 0, x * x);
}
RMPI_REMOTE(cr_square)

static int cr_sleep(rmpi_task_t *t)
{
    int64_t ms = rmpi_task_arg_i64(t, 0);
    if (ms > 0) /* (0: no system call, a task of microseconds) */
        tl_sleep_s((double)ms / 1000.0);
    return rmpi_task_return_i64(t, 0, 1);
}

static int cr_nap(rmpi_task_t *t)
{
    return cr_sleep(t);
}
RMPI_REMOTE(cr_nap)

static int cr_pause(rmpi_task_t *t)
{
    return cr_sleep(t);
}
RMPI_REMOTE(cr_pause)

/* Column.await_go(): returns 1 once the driver (same process: the actor is on the
 * driver's rank) set g_go, or fails after 20 s. */
static atomic_int g_go;

static int column_await_go(void *state, rmpi_task_t *t)
{
    (void)state;
    double until = tl_now() + 20;
    while (!atomic_load(&g_go)) {
        if (tl_now() > until)
            return rmpi_task_fail(t, "no go in 20 s: did the driver run this call itself "
                                     "when it submitted it?");
        tl_sleep_s(0.001);
    }
    return rmpi_task_return_i64(t, 0, 1);
}

/* ------------------------------------------------------------------------------
 * Driver
 * ------------------------------------------------------------------------------ */

static rmpi_actor_t create_on(const char *cls, int rank, int max_concurrency)
{
    rmpi_actor_opts_t o;
    memset(&o, 0, sizeof o);
    o.field_mask = RMPI_ACTOR_OPT_RANK;
    o.rank = rank;
    if (max_concurrency > 0) {
        o.field_mask |= RMPI_ACTOR_OPT_MAX_CONCURRENCY;
        o.max_concurrency = max_concurrency;
    }
    rmpi_actor_t a;
    CHECK_OK(rmpi_actor_create(cls, NULL, 0, &o, &a));
    return a;
}

static uint64_t calls_inline(void)
{
    return tl_stats().calls_inline;
}

static uint64_t tasks_inline(void)
{
    return tl_stats().tasks_inline;
}

/* n calls method(arg) to c, submitted at once: call i must return first + i * step.
 * How many of them the driver ran itself. */
static uint64_t call_many(rmpi_actor_t c, const char *method, int64_t arg, int n,
                          int64_t first, int64_t step)
{
    uint64_t before = calls_inline();
    rmpi_ref_t *r = malloc((size_t)n * sizeof *r);
    CHECK(r != NULL);
    for (int i = 0; i < n; i++)
        r[i] = rmpi_actor_call1(c, method, 1, rmpi_i64(arg));
    for (int i = 0; i < n; i++) {
        int64_t v = tl_take_i64(r[i]);
        CHECK_MSG(v == first + i * step, "%s call %d returned %lld", method, i, (long long)v);
    }
    free(r);
    return calls_inline() - before;
}

/* n calls method(arg) to c, each got before the next is submitted: call i must
 * return first + i * step.  How many of them the driver ran itself. */
static uint64_t call_each(rmpi_actor_t c, const char *method, int64_t arg, int n,
                          int64_t first, int64_t step)
{
    uint64_t before = calls_inline();
    for (int i = 0; i < n; i++) {
        int64_t v = tl_take_i64(rmpi_actor_call1(c, method, 1, rmpi_i64(arg)));
        CHECK_MSG(v == first + i * step, "%s call %d returned %lld", method, i, (long long)v);
    }
    return calls_inline() - before;
}

/* The driver ran `ran` of the n calls or tasks (what) of its rank: none with the
 * setting off, some when its rank has one cpu (its executor waits for the core). */
static void check_ran_here(uint64_t ran, int n, const char *what)
{
    printf("# the driver's thread ran %llu of the %d %s\n", (unsigned long long)ran, n, what);
    if (tl_caller_runs_off())
        CHECK_MSG(ran == 0, "RAYMPI_SCHED_CALLER_RUNS=no, yet the driver ran %llu %s",
                  (unsigned long long)ran, what);
    else if (tl_one_cpu())
        CHECK_MSG(ran > 0, "the driver's rank has one cpu, and the driver ran none of the "
                           "%d %s", n, what);
}

/* Many calls to an actor on the driver's rank, submitted at once and then one at a
 * time: the totals come back in order; the driver runs calls it gets at once. */
static void check_chain_here(void)
{
    enum { N = 400 };
    rmpi_actor_t c = create_on("Column", 0, 0);
    CHECK(tl_take_i64(rmpi_actor_call1(c, "add", 1, rmpi_i64(0))) == 0);
    uint64_t ran = call_many(c, "add", 1, N, 1, 1);
    printf("# the driver's thread ran %llu of %d calls submitted at once\n",
           (unsigned long long)ran, N);
    if (tl_caller_runs_off())
        CHECK_MSG(ran == 0, "RAYMPI_SCHED_CALLER_RUNS=no, yet the driver ran %llu calls",
                  (unsigned long long)ran);
    check_ran_here(call_each(c, "add", 1, N, N + 1, 1), N, "calls it waited for");
    CHECK_OK(rmpi_actor_kill(c));
}

/* Task Bench's stencil with one actor per column: column 0 on the driver's rank,
 * column 1 on the last rank; step i of each takes step i - 1 of both. */
static void check_stencil(void)
{
    enum { STEPS = 300 };
    rmpi_actor_t col[2] = { create_on("Column", 0, 0), create_on("Column", rmpi_size() - 1, 0) };
    rmpi_ref_t prev[2], cur[2];
    uint64_t before = calls_inline();
    int64_t zero = 0;
    for (int p = 0; p < 2; p++)
        CHECK_OK(rmpi_put(&zero, sizeof zero, &prev[p]));
    for (int64_t i = 1; i <= STEPS; i++) {
        /* (step 1 ends before the others are submitted: the method has then finished
         * once on each rank) */
        for (int p = 0; p < 2; p++) {
            rmpi_arg_t a[3] = { rmpi_i64(i), rmpi_ref(prev[p]), rmpi_ref(prev[1 - p]) };
            CHECK_OK(rmpi_actor_call(col[p], "step", a, 3, NULL, &cur[p]));
        }
        for (int p = 0; p < 2; p++) {
            CHECK_OK(rmpi_release(prev[p]));
            prev[p] = cur[p];
        }
        if (i == 1) {
            int ready[2], nready = 0;
            CHECK_OK(rmpi_wait(prev, 2, 2, -1, ready, &nready));
            CHECK(nready == 2);
        }
    }
    for (int p = 0; p < 2; p++) {
        int64_t v = tl_take_i64(prev[p]);
        CHECK_MSG(v == STEPS, "column %d ended at step %lld", p, (long long)v);
    }
    /* (How many depends on how far the other rank gets while the driver submits.) */
    uint64_t ran = calls_inline() - before;
    int here = rmpi_size() == 1 ? 2 * STEPS : STEPS;
    printf("# %llu of the %d calls on the driver's rank ran on its thread\n",
           (unsigned long long)ran, here);
    if (tl_caller_runs_off())
        CHECK_MSG(ran == 0, "RAYMPI_SCHED_CALLER_RUNS=no, yet the driver ran %llu calls",
                  (unsigned long long)ran);
    CHECK_OK(rmpi_actor_kill(col[0]));
    CHECK_OK(rmpi_actor_kill(col[1]));
}

/* nap(2 ms) is too long for the waiting thread to run (a get that also waits for
 * other results would be held up), whether got at once or after the others. */
static void check_long_method(void)
{
    enum { N = 20 };
    rmpi_actor_t c = create_on("Column", 0, 0);
    CHECK(tl_take_i64(rmpi_actor_call1(c, "nap", 1, rmpi_i64(2))) == 1);
    uint64_t ran = call_each(c, "nap", 2, N, 1, 0) + call_many(c, "nap", 2, N, 1, 0);
    CHECK_MSG(ran == 0, "the driver ran %llu calls of a 2 ms method", (unsigned long long)ran);
    CHECK_OK(rmpi_actor_kill(c));
}

/* await_go waits for a flag the driver sets only after submitting the call: the
 * driver must not run it when it submits it (it would wait forever; here: fail after
 * 20 s).  The method is short and has finished here before, as the calls the driver
 * runs when it waits for them are. */
static void check_not_run_on_submit(void)
{
    rmpi_actor_t c = create_on("Column", 0, 0);
    atomic_store(&g_go, 1);
    CHECK(tl_take_i64(rmpi_actor_call1(c, "await_go", 0)) == 1);
    for (int round = 0; round < 3; round++) {
        atomic_store(&g_go, 0);
        rmpi_ref_t r = rmpi_actor_call1(c, "await_go", 0);
        rmpi_ref_t more = rmpi_actor_call1(c, "add", 1, rmpi_i64(1)); /* another submission */
        tl_sleep_s(0.02); /* the call is queued here, ready to run, in the meantime */
        atomic_store(&g_go, 1);
        CHECK(tl_take_i64(r) == 1);
        CHECK(tl_take_i64(more) == round + 1);
    }
    CHECK_OK(rmpi_actor_kill(c));
}

/* fn(arg) on the driver's rank, got at once (with timeout_s): how many of the n
 * tasks the driver ran itself.  Each must return want, or the get must time out
 * when want is RMPI_ERR_TIMEOUT (the result is then got without a timeout). */
static uint64_t get_each(const char *fn, int64_t arg, int n, double timeout_s, int64_t want)
{
    uint64_t before = tasks_inline();
    for (int i = 0; i < n; i++) {
        rmpi_arg_t a = rmpi_i64(arg < 0 ? i : arg);
        rmpi_ref_t r = tl_submit(fn, &a, 1, rmpi_rank());
        int64_t v = -1;
        int st = rmpi_get_i64(r, timeout_s, &v);
        if (want == RMPI_ERR_TIMEOUT) {
            CHECK_MSG(st == RMPI_ERR_TIMEOUT, "%s task %d: get with a %g s timeout: %s", fn, i,
                      timeout_s, rmpi_status_string(st));
            CHECK(tl_take_i64(r) == 1);
            continue;
        }
        CHECK_OK(st);
        CHECK_MSG(v == (arg < 0 ? (int64_t)i * i : want), "%s task %d returned %lld", fn, i,
                  (long long)v);
        CHECK_OK(rmpi_release(r));
    }
    return tasks_inline() - before;
}

/* Tasks of the driver's rank got one at a time: right results; the driver runs them
 * when its rank has one cpu, never with the setting off. */
static void check_tasks_waited_for(void)
{
    enum { N = 300 };
    check_ran_here(get_each("cr_square", -1, N, -1, 0), N, "tasks it waited for");
}

/* A function whose tasks take 2 ms never runs on the waiting thread (its first task,
 * with no length known, runs on an executor too). */
static void check_long_task(void)
{
    uint64_t ran = get_each("cr_nap", 2, 6, -1, 1);
    CHECK_MSG(ran == 0, "the driver ran %llu tasks of 2 ms", (unsigned long long)ran);
}

/* A get with a 50 ms timeout returns at its timeout even when the task is a 400 ms
 * one of a function whose tasks were short: the waiting thread does not take it. */
static void check_get_timeout_kept(void)
{
    get_each("cr_pause", 0, 20, -1, 1); /* short ones: its length here is known */
    double t0 = tl_now();
    get_each("cr_pause", 400, 1, 0.05, RMPI_ERR_TIMEOUT);
    printf("# timed out, then got, after %.3f s\n", tl_now() - t0);
}

int main(int argc, char **argv)
{
    CHECK_OK(rmpi_class_register("Column", column_new, free));
    CHECK_OK(rmpi_method_register_nargs("Column", "add", column_add, 1));
    CHECK_OK(rmpi_method_register_nargs("Column", "step", column_step, 3));
    CHECK_OK(rmpi_method_register_nargs("Column", "nap", column_nap, 1));
    CHECK_OK(rmpi_method_register_nargs("Column", "await_go", column_await_go, 0));
    tl_start(&argc, &argv);
    RUN(check_chain_here);
    RUN(check_stencil);
    RUN(check_long_method);
    RUN(check_not_run_on_submit);
    RUN(check_tasks_waited_for);
    RUN(check_long_task);
    RUN(check_get_timeout_kept);
    return tl_end();
}
