/*
 * test_crash.c - a task that crashes (SIGSEGV from a NULL dereference) gives
 * RMPI_ERR_TASK_CRASHED with a message naming the signal, on every rank, and
 * the runtime keeps working: the next tasks on that rank run, and objects
 * stored there before the crash are still there.  (test_abort.c: abort().)
 */
#include "testlib.h"

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

int main(int argc, char **argv)
{
    tl_start(&argc, &argv);
    RUN(check_segfault_each_rank);
    RUN(check_segfault_anywhere);
    RUN(check_still_working);
    return tl_end();
}
