/*
 * test_abort.c - a task that calls abort() crashes like one that dereferences
 * NULL (test_crash.c): get gives RMPI_ERR_TASK_CRASHED with a message naming
 * SIGABRT, on every rank, and the ranks keep running tasks afterwards.
 */
#include "testlib.h"

/* aborts() -> never */
static int aborts(rmpi_task_t *t)
{
    (void)t;
    abort();
}
RMPI_REMOTE(aborts);

static void check_abort(void)
{
    /* Rank 0, where the driver runs, comes last. */
    for (int rank = rmpi_size() - 1; rank >= 0; rank--) {
        printf("  rank %d\n", rank);
        rmpi_ref_t r = tl_submit("aborts", NULL, 0, rank);
        CHECK_STATUS(rmpi_get(r, -1, &(rmpi_view_t){0}), RMPI_ERR_TASK_CRASHED);
        char msg[512];
        tl_error(r, msg, sizeof msg);
        printf("  error: %s\n", msg);
        CHECK_CONTAINS(msg, "SIGABRT");
        CHECK_CONTAINS(msg, "aborts");
        CHECK_OK(rmpi_release(r));
        CHECK(tl_take_i64(tl_submit("tl_where", NULL, 0, rank)) == rank);
    }
}

int main(int argc, char **argv)
{
    tl_start(&argc, &argv);
    RUN(check_abort);
    return tl_end();
}
