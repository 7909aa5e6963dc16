/*
 * test_memory.c - no object leaks under load: COUNT tasks (100,000 by default,
 * argv[1] to change) each return 1 MiB written in place with
 * rmpi_task_return_buffer; they are submitted in windows of WINDOW, each result
 * is checked by a get of a few bytes and released.  Afterwards every rank's
 * store holds what it held at the start (read by a task pinned to each rank).
 * The store may free released objects a moment later, so the final check
 * waits up to 30 s for the counters to settle.
 *
 *   test_memory [COUNT]
 */
#include "testlib.h"

#define RESULT (1u << 20)
#define WINDOW 256

/* mib(i: i64) -> 1 MiB; byte k is (i + k / 4096) & 0xff. */
static int mib(rmpi_task_t *t)
{
    int64_t i = rmpi_task_arg_i64(t, 0);
    uint8_t *p = rmpi_task_return_buffer(t, 0, RESULT);
    if (p == NULL)
        return RMPI_ERR_TASK_FAILED;
    for (size_t page = 0; page < RESULT / 4096; page++)
        memset(p + page * 4096, (int)((i + (int64_t)page) & 0xff), 4096);
    return RMPI_OK;
}
RMPI_REMOTE(mib);

static int64_t count = 100000;
static int64_t *start_bytes;

static void record_start(void)
{
    start_bytes = calloc((size_t)rmpi_size(), sizeof *start_bytes);
    CHECK(start_bytes != NULL);
    for (int rank = 0; rank < rmpi_size(); rank++) {
        start_bytes[rank] = tl_rank_stat(rank, TL_STAT_STORE_BYTES);
        printf("  rank %d: %lld bytes in store\n", rank, (long long)start_bytes[rank]);
    }
}

/* The counter the test relies on does count results: one 1 MiB result shows. */
static void check_counter_moves(void)
{
    rmpi_ref_t r = rmpi_call("mib", 1, rmpi_i64(0));
    int ready, nready;
    CHECK_OK(rmpi_wait(&r, 1, 1, -1, &ready, &nready));
    int64_t grew = 0;
    for (int rank = 0; rank < rmpi_size(); rank++)
        grew += tl_rank_stat(rank, TL_STAT_STORE_BYTES) - start_bytes[rank];
    CHECK_MSG(grew >= (int64_t)RESULT, "a 1 MiB result added %lld bytes to the stores",
              (long long)grew);
    CHECK_OK(rmpi_release(r));
}

static void check_many_results(void)
{
    rmpi_ref_t r[WINDOW];
    double t0 = tl_now();
    for (int64_t base = 0; base < count; base += WINDOW) {
        int n = count - base < WINDOW ? (int)(count - base) : WINDOW;
        for (int k = 0; k < n; k++)
            r[k] = rmpi_call("mib", 1, rmpi_i64(base + k));
        for (int k = 0; k < n; k++) {
            int64_t i = base + k;
            rmpi_view_t v;
            int st = rmpi_get(r[k], -1, &v);
            CHECK_MSG(st == RMPI_OK, "task %lld: %s", (long long)i, rmpi_status_string(st));
            CHECK(v.size == RESULT);
            const uint8_t *p = v.data;
            CHECK(p[0] == (uint8_t)i);
            CHECK(p[4095] == (uint8_t)i);
            CHECK(p[4096] == (uint8_t)(i + 1));
            CHECK(p[RESULT - 1] == (uint8_t)(i + RESULT / 4096 - 1));
            rmpi_view_release(&v);
            CHECK_OK(rmpi_release(r[k]));
        }
        if ((base / WINDOW) % 40 == 0)
            printf("  %lld tasks done, %.1f s\n", (long long)(base + n), tl_now() - t0);
    }
    printf("  %lld tasks of 1 MiB in %.1f s\n", (long long)count, tl_now() - t0);
}

static void check_store_back(void)
{
    for (int rank = 0; rank < rmpi_size(); rank++) {
        int64_t now = tl_rank_stat(rank, TL_STAT_STORE_BYTES);
        for (int tries = 0; now != start_bytes[rank] && tries < 300; tries++) {
            tl_sleep_s(0.1);
            now = tl_rank_stat(rank, TL_STAT_STORE_BYTES);
        }
        printf("  rank %d: %lld bytes in store\n", rank, (long long)now);
        CHECK_MSG(now == start_bytes[rank], "rank %d: store holds %lld bytes, %lld at start",
                  rank, (long long)now, (long long)start_bytes[rank]);
    }
    free(start_bytes);
}

int main(int argc, char **argv)
{
    tl_start(&argc, &argv);
    if (argc > 1)
        count = strtoll(argv[1], NULL, 10);
    CHECK(count > 0);
    RUN(record_start);
    RUN(check_counter_moves);
    RUN(check_many_results);
    RUN(check_store_back);
    return tl_end();
}
