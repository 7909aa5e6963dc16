/*
 * test_crash.c - a task that crashes (SIGSEGV from a NULL dereference) gives
 * RMPI_ERR_TASK_CRASHED with a message naming the signal, on every rank, and
 * the runtime keeps working: the next tasks on that rank run, and objects
 * stored there before the crash are still there.  (test_abort.c: abort().)
 * A short task that crashes while the driver runs it itself (the task it waits for,
 * RAYMPI_SCHED_CALLER_RUNS) is caught the same way, and the driver goes on.  So is a
 * task that overflows its stack, on an executor and on the driver's thread (the
 * crash handler runs on an alternate signal stack there too).
 */
#include "testlib.h"

#include <signal.h>
#include <sys/resource.h>

/* segfault() -> never: writes through a NULL pointer.  (UBSan would report the
 * store itself; the point here is the real fault, so it does not instrument it.) */
#if defined(__clang__) || defined(__GNUC__)
__attribute__((no_sanitize("undefined")))
#endif
static int segfault(rmpi_task_t *t)
{
    int *volatile p = NULL;   /* volatile: the compiler cannot prove it is NULL */
    *p = 42;
    return rmpi_task_return_i64(t, 0, *p);
}
RMPI_REMOTE(segfault);

/* segfault_if(x): crashes like segfault() when x is 1, else returns x at once. */
#if defined(__clang__) || defined(__GNUC__)
__attribute__((no_sanitize("undefined")))
#endif
static int segfault_if(rmpi_task_t *t)
{
    int64_t x = rmpi_task_arg_i64(t, 0);
    if (x == 1) { /* as segfault(): the value read back keeps the store */
        int *volatile p = NULL;
        *p = 42;
        return rmpi_task_return_i64(t, 0, *p);
    }
    return rmpi_task_return_i64(t, 0, x);
}
RMPI_REMOTE(segfault_if);

/* deep(up, n): n nested calls of 512-byte frames (each reads its caller's frame, so
 * the compiler can neither drop the frames nor turn the recursion into a loop). */
__attribute__((noinline)) static int64_t deep(volatile char *up, int64_t n)
{
    volatile char frame[512];
    frame[0] = (char)n;
    frame[511] = up != NULL ? up[0] : 0;
    if (n <= 0)
        return frame[511];
    return deep(frame, n - 1) + frame[511];
}

/* overflow_if(x): when x is 1, recurses until the stack overflows (1 TiB of frames:
 * no stack is that large); else returns x at once. */
static int overflow_if(rmpi_task_t *t)
{
    int64_t x = rmpi_task_arg_i64(t, 0);
    if (x == 1)
        return rmpi_task_return_i64(t, 0, deep(NULL, (int64_t)1 << 31));
    return rmpi_task_return_i64(t, 0, x);
}
RMPI_REMOTE(overflow_if);

static void check_crashed(rmpi_ref_t r, const char *fn, const char *signame)
{
    rmpi_view_t v;
    memset(&v, 0, sizeof v);
    CHECK_STATUS(rmpi_get(r, -1, &v), RMPI_ERR_TASK_CRASHED);
    CHECK(v.data == NULL);
    char msg[512];
    tl_error(r, msg, sizeof msg);
    printf("  error: %s\n", msg);
    CHECK_CONTAINS(msg, signame);
    CHECK_CONTAINS(msg, fn);
}

/* A 1 MiB object held in rank's store, to check it survives a crash there. */
static rmpi_ref_t stored_on(int rank, uint64_t seed)
{
    rmpi_arg_t a[2] = { rmpi_i64(1 << 20), rmpi_i64((int64_t)seed) };
    rmpi_ref_t r = tl_submit("tl_pattern", a, 2, rank);
    int ready, nready;
    CHECK_OK(rmpi_wait(&r, 1, 1, -1, &ready, &nready));
    return r;
}

static void check_still_there(rmpi_ref_t r, uint64_t seed)
{
    rmpi_view_t v;
    CHECK_OK(rmpi_get(r, -1, &v));
    CHECK(v.size == 1 << 20);
    CHECK(tl_check_pattern(v.data, v.size, seed) == -1);
    rmpi_view_release(&v);
    CHECK_OK(rmpi_release(r));
}

static void check_segfault_each_rank(void)
{
    /* Rank 0, where the driver runs, comes last. */
    for (int rank = rmpi_size() - 1; rank >= 0; rank--) {
        printf("  rank %d\n", rank);
        rmpi_ref_t kept = stored_on(rank, (uint64_t)rank);
        rmpi_ref_t r = tl_submit("segfault", NULL, 0, rank);
        check_crashed(r, "segfault", "SIGSEGV");
        CHECK_OK(rmpi_release(r));
        CHECK(tl_take_i64(tl_submit("tl_where", NULL, 0, rank)) == rank);
        check_still_there(kept, (uint64_t)rank);
    }
}

static void check_segfault_anywhere(void)
{
    rmpi_ref_t r = rmpi_call("segfault", 0);
    check_crashed(r, "segfault", "SIGSEGV");

    /* What depends on a crashed task gets its error. */
    rmpi_ref_t d = rmpi_call("tl_checksum", 1, rmpi_ref(r));
    CHECK_STATUS(rmpi_get_i64(d, -1, &(int64_t){0}), RMPI_ERR_TASK_CRASHED);
    CHECK_OK(rmpi_release(d));
    CHECK_OK(rmpi_release(r));

    /* No retries asked for: the same answer. */
    rmpi_opts_t o;
    memset(&o, 0, sizeof o);
    o.field_mask = RMPI_OPT_MAX_RETRIES;
    o.max_retries = 0;
    CHECK_OK(rmpi_submit("segfault", NULL, 0, &o, &r));
    check_crashed(r, "segfault", "SIGSEGV");
    CHECK_OK(rmpi_release(r));
}

/* After the crashes, every rank still runs tasks and moves data. */
static void check_still_working(void)
{
    enum { PER_RANK = 20 };
    for (int rank = 0; rank < rmpi_size(); rank++) {
        rmpi_ref_t r[PER_RANK];
        for (int i = 0; i < PER_RANK; i++)
            r[i] = tl_submit("tl_where", NULL, 0, rank);
        for (int i = 0; i < PER_RANK; i++)
            CHECK(tl_take_i64(r[i]) == rank);
        rmpi_ref_t big = stored_on(rank, 99);
        check_still_there(big, 99);
    }
    CHECK(tl_take_i64(rmpi_call("tl_where", 0)) >= 0);
}

static uint64_t tasks_inline(void)
{
    return tl_stats().tasks_inline;
}

/* Tasks of a short function fn got one at a time on the driver's rank (the driver may
 * run them itself): those that crash give RMPI_ERR_TASK_CRASHED, the others their
 * value, and the driver goes on. */
static void crash_waited_for(const char *fn)
{
    uint64_t before = tasks_inline(), crashes_inline = 0;
    for (int i = 0; i < 60; i++) {
        int64_t x = i % 20 == 19 ? 1 : 2 + i; /* crash on 3 of them, late in a run of short ones */
        rmpi_arg_t a = rmpi_i64(x);
        rmpi_ref_t r = tl_submit(fn, &a, 1, rmpi_rank());
        uint64_t at = tasks_inline();
        if (x == 1) {
            check_crashed(r, fn, "SIGSEGV");
            crashes_inline += tasks_inline() - at;
            CHECK_OK(rmpi_release(r));
        } else {
            CHECK(tl_take_i64(r) == x);
        }
    }
    printf("# %llu of the 60 tasks ran on the driver's thread, %llu of the 3 crashes\n",
           (unsigned long long)(tasks_inline() - before), (unsigned long long)crashes_inline);
    if (!tl_caller_runs_off() && tl_one_cpu())
        CHECK_MSG(crashes_inline > 0, "one cpu, yet no crashing task ran on the driver's "
                                      "thread: the check above did not test that path");
}

static void check_segfault_waited_for(void)
{
    crash_waited_for("segfault_if");
}

/* The driver's (main) thread grows its stack up to RLIMIT_STACK: with no limit, a
 * task that overflows there would take the machine's memory first. */
static int main_stack_bounded(void)
{
    struct rlimit rl;
    return getrlimit(RLIMIT_STACK, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
           rl.rlim_cur <= ((rlim_t)1 << 30);
}

static void check_overflow_waited_for(void)
{
    if (!main_stack_bounded()) {
        printf("# skipped: the stack size is unlimited (ulimit -s)\n");
        return;
    }
    crash_waited_for("overflow_if");
}

/* A stack overflow on each rank's executors is reported, and the rank goes on. */
static void check_overflow_each_rank(void)
{
    for (int rank = rmpi_size() - 1; rank >= 0; rank--) {
        if (rank == rmpi_rank() && !main_stack_bounded())
            continue; /* the driver may run it itself: see above */
        rmpi_arg_t a = rmpi_i64(1);
        rmpi_ref_t r = tl_submit("overflow_if", &a, 1, rank);
        check_crashed(r, "overflow_if", "SIGSEGV");
        CHECK_OK(rmpi_release(r));
        CHECK(tl_take_i64(tl_submit("tl_where", NULL, 0, rank)) == rank);
    }
}

int main(int argc, char **argv)
{
    /* UCX's error handling (UCX_HANDLE_ERRORS, read as the library loads) may have
     * given this thread an alternate signal stack already: without it, the overflow
     * checks test the one ray-mpi installs. */
    stack_t none = {.ss_flags = SS_DISABLE};
    CHECK(sigaltstack(&none, NULL) == 0);
    tl_start(&argc, &argv);
    RUN(check_segfault_waited_for);
    RUN(check_overflow_waited_for);
    RUN(check_overflow_each_rank);
    RUN(check_segfault_each_rank);
    RUN(check_segfault_anywhere);
    RUN(check_still_working);
    return tl_end();
}
