/*
 * test_store_limits.c - the object store's limits, with a 64 MiB store on every
 * rank (RAYMPI_STORE_CAPACITY=64M, set here before rmpi_init unless the caller
 * set it): a put larger than the store gives RMPI_ERR_TOO_LARGE; puts past the
 * capacity give RMPI_ERR_STORE_FULL, and after releasing them puts work again;
 * a task whose result cannot fit fails with the reason, and its rank goes on.
 */
#include "testlib.h"

#define CAPACITY   (64u << 20)
#define CHUNK      (10u << 20)
#define MAX_CHUNKS 16

/* big_result(size: i64) -> size bytes. */
static int big_result(rmpi_task_t *t)
{
    int64_t size = rmpi_task_arg_i64(t, 0);
    void *p = rmpi_task_return_buffer(t, 0, (size_t)size);
    if (p == NULL)
        return RMPI_ERR_TASK_FAILED;   /* the task failed with the reason */
    memset(p, 0x5a, (size_t)size);
    return RMPI_OK;
}
RMPI_REMOTE(big_result);

static void check_capacity(void)
{
    for (int rank = 0; rank < rmpi_size(); rank++)
        CHECK_MSG(tl_rank_stat(rank, TL_STAT_STORE_CAPACITY) == CAPACITY,
                  "rank %d: store capacity %lld, RAYMPI_STORE_CAPACITY=%s", rank,
                  (long long)tl_rank_stat(rank, TL_STAT_STORE_CAPACITY),
                  getenv("RAYMPI_STORE_CAPACITY"));
}

static void check_too_large(void)
{
    size_t n = CAPACITY + 1;
    char *buf = calloc(1, n);
    CHECK(buf != NULL);
    rmpi_ref_t r;
    CHECK_STATUS(rmpi_put(buf, n, &r), RMPI_ERR_TOO_LARGE);
    CHECK_STATUS(rmpi_put(buf, (size_t)2 * CAPACITY, &r), RMPI_ERR_TOO_LARGE);
    free(buf);

    /* A result too large for the store of the rank that makes it. */
    for (int rank = 0; rank < rmpi_size(); rank++) {
        rmpi_arg_t a = rmpi_i64((int64_t)CAPACITY + 1);
        r = tl_submit("big_result", &a, 1, rank);
        rmpi_view_t v;
        CHECK_STATUS2(rmpi_get(r, -1, &v), RMPI_ERR_TASK_FAILED, RMPI_ERR_TOO_LARGE);
        char msg[512];
        tl_error(r, msg, sizeof msg);
        printf("  error: %s\n", msg);
        CHECK_CONTAINS(msg, "big_result");
        CHECK_OK(rmpi_release(r));
    }
}

static void check_store_full(void)
{
    char *buf = malloc(CHUNK);
    CHECK(buf != NULL);
    memset(buf, 0x33, CHUNK);
    uint64_t before = (uint64_t)tl_rank_stat(0, TL_STAT_STORE_BYTES);

    for (int round = 0; round < 3; round++) {
        rmpi_ref_t r[MAX_CHUNKS];
        int n = 0, st = RMPI_OK;
        while (n < MAX_CHUNKS && (st = rmpi_put(buf, CHUNK, &r[n])) == RMPI_OK)
            n++;
        printf("  round %d: %d puts of %u bytes fit\n", round, n, CHUNK);
        CHECK_STATUS(st, RMPI_ERR_STORE_FULL);
        CHECK(n >= 3 && (unsigned)n <= CAPACITY / CHUNK);
        rmpi_stats_t s;
        CHECK_OK(rmpi_stats(&s));
        CHECK(s.store_bytes <= s.store_capacity);
        CHECK(s.store_bytes >= (uint64_t)n * CHUNK);

        /* Full: even a small large-object put fails, the stored ones are intact. */
        rmpi_view_t v;
        CHECK_OK(rmpi_get(r[n - 1], -1, &v));
        CHECK(v.size == CHUNK && ((const char *)v.data)[CHUNK - 1] == 0x33);
        rmpi_view_release(&v);

        for (int i = 0; i < n; i++)
            CHECK_OK(rmpi_release(r[i]));

        /* Released: the space is back. */
        rmpi_ref_t again;
        CHECK_OK(rmpi_put(buf, CHUNK, &again));
        CHECK_OK(rmpi_release(again));
    }
    CHECK(tl_rank_stat(0, TL_STAT_STORE_BYTES) == (int64_t)before);
    free(buf);
}

/* Results kept on another rank fill that rank's store; released, it has room again. */
static void check_remote_full(void)
{
    int last = rmpi_size() - 1;
    rmpi_ref_t r[MAX_CHUNKS];
    int n = 0, failed = 0;
    for (n = 0; n < MAX_CHUNKS; n++) {
        rmpi_arg_t a = rmpi_i64(CHUNK);
        r[n] = tl_submit("big_result", &a, 1, last);
        int ready, nready;
        CHECK_OK(rmpi_wait(&r[n], 1, 1, -1, &ready, &nready));
        /* Not fetched here: that would put copies into rank 0's store too. */
        char msg[512];
        if (rmpi_error_message(r[n], msg, sizeof msg) == RMPI_OK) {
            printf("  error: %s\n", msg);
            rmpi_view_t v;
            CHECK_STATUS2(rmpi_get(r[n], 0, &v), RMPI_ERR_TASK_FAILED, RMPI_ERR_STORE_FULL);
            failed = 1;
            n++;
            break;
        }
    }
    printf("  %d results of %u bytes on rank %d, last one %s\n", n, CHUNK, last,
           failed ? "failed" : "fit");
    CHECK_MSG(failed, "%d results of %u bytes fit in a store of %u", n, CHUNK, CAPACITY);
    for (int i = 0; i < n; i++)
        CHECK_OK(rmpi_release(r[i]));

    rmpi_arg_t a = rmpi_i64(CHUNK);
    rmpi_ref_t ok = tl_submit("big_result", &a, 1, last);
    rmpi_view_t v;
    CHECK_OK(rmpi_get(ok, -1, &v));
    CHECK(v.size == CHUNK);
    rmpi_view_release(&v);
    CHECK_OK(rmpi_release(ok));
}

int main(int argc, char **argv)
{
    setenv("RAYMPI_STORE_CAPACITY", "64M", 0);
    if (strcmp(getenv("RAYMPI_STORE_CAPACITY"), "64M") != 0) {
        printf("SKIP: RAYMPI_STORE_CAPACITY is set to something else\n");
        return TL_SKIP;
    }
    tl_start(&argc, &argv);
    RUN(check_capacity);
    RUN(check_too_large);
    RUN(check_store_full);
    RUN(check_remote_full);
    return tl_end();
}
