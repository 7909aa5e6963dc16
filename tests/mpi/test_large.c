/*
 * test_large.c - 64 MiB objects between ranks: a result made on rank 1 read by
 * the driver, a put of the driver read by a task on rank 1, a result passed
 * from one rank's task to another's, and tasks placed where their large
 * argument lives.  With one rank, rank 0 plays every part.
 */
#include "testlib.h"

#define BIG (64u << 20)

/* where_with(x) -> i64: the rank it ran on (x is only there to be placed by). */
static int where_with(rmpi_task_t *t)
{
    const void *data;
    size_t size;
    if (rmpi_task_arg(t, 0, &data, &size) != RMPI_OK)
        return rmpi_task_fail(t, "argument 0");
    return rmpi_task_return_i64(t, 0, rmpi_rank());
}
RMPI_REMOTE(where_with);

static int other(void)
{
    return rmpi_size() > 1 ? 1 : 0;
}

static void check_result_to_driver(void)
{
    rmpi_arg_t a[2] = { rmpi_i64(BIG), rmpi_i64(11) };
    rmpi_ref_t r = tl_submit("tl_pattern", a, 2, other());
    rmpi_view_t v;
    double t0 = tl_now();
    CHECK_OK(rmpi_get(r, -1, &v));
    printf("  got %zu bytes from rank %d in %.3f s\n", v.size, other(), tl_now() - t0);
    CHECK(v.size == BIG);
    long bad = tl_check_pattern(v.data, v.size, 11);
    CHECK_MSG(bad == -1, "byte %ld differs", bad);
    rmpi_view_release(&v);

    /* Again, and from two views at once. */
    rmpi_view_t w;
    CHECK_OK(rmpi_get(r, -1, &v));
    CHECK_OK(rmpi_get(r, -1, &w));
    CHECK(v.size == BIG && w.size == BIG);
    CHECK(memcmp(v.data, w.data, BIG) == 0);
    rmpi_view_release(&v);
    rmpi_view_release(&w);
    CHECK_OK(rmpi_release(r));
}

static void check_put_to_task(void)
{
    char *buf = malloc(BIG);
    CHECK(buf != NULL);
    tl_fill(buf, BIG, 12);
    int64_t want = tl_hash(buf, BIG);
    rmpi_ref_t p;
    CHECK_OK(rmpi_put(buf, BIG, &p));
    free(buf);

    rmpi_arg_t a = rmpi_ref(p);
    CHECK(tl_take_i64(tl_submit("tl_checksum", &a, 1, other())) == want);
    /* Every rank reads it, all at once. */
    rmpi_ref_t *r = calloc((size_t)rmpi_size(), sizeof *r);
    CHECK(r != NULL);
    for (int rank = 0; rank < rmpi_size(); rank++)
        r[rank] = tl_submit("tl_checksum", &a, 1, rank);
    for (int rank = 0; rank < rmpi_size(); rank++)
        CHECK(tl_take_i64(r[rank]) == want);
    free(r);
    CHECK_OK(rmpi_release(p));
}

static void check_rank_to_rank(void)
{
    int from = other(), to = rmpi_size() > 2 ? 2 : 0;
    rmpi_arg_t a[2] = { rmpi_i64(BIG), rmpi_i64(13) };
    rmpi_ref_t r = tl_submit("tl_pattern", a, 2, from);
    rmpi_arg_t b = rmpi_ref(r);
    int64_t sum = tl_take_i64(tl_submit("tl_checksum", &b, 1, to));

    char *buf = malloc(BIG);
    CHECK(buf != NULL);
    tl_fill(buf, BIG, 13);
    CHECK(sum == tl_hash(buf, BIG));
    free(buf);
    CHECK_OK(rmpi_release(r));
}

static void check_locality(void)
{
    for (int rank = 0; rank < rmpi_size(); rank++) {
        rmpi_arg_t a[2] = { rmpi_i64(BIG / 4), rmpi_i64(rank) };
        rmpi_ref_t r = tl_submit("tl_pattern", a, 2, rank);
        int ready, nready;
        CHECK_OK(rmpi_wait(&r, 1, 1, -1, &ready, &nready));
        rmpi_ref_t w = rmpi_call("where_with", 1, rmpi_ref(r));
        int64_t where = tl_take_i64(w);
        CHECK_MSG(where == rank, "a task whose 16 MiB argument is on rank %d ran on rank %lld",
                  rank, (long long)where);
        CHECK_OK(rmpi_release(r));
    }
}

int main(int argc, char **argv)
{
    tl_start(&argc, &argv);
    RUN(check_result_to_driver);
    RUN(check_put_to_task);
    RUN(check_rank_to_rank);
    RUN(check_locality);
    return tl_end();
}
