/*
 * test_objects.c - objects and futures: rmpi_put / rmpi_get round trips for sizes
 * around the inline limit up to 64 MiB, locally and through tasks on other
 * ranks; zero-copy gets; rmpi_view_release; rmpi_get_i64 / rmpi_get_f64 and
 * RMPI_ERR_ARG_TYPE; rmpi_get timeouts; rmpi_wait with num_ready < n, timeouts
 * (not an error) and the ready[] flags.
 */
#include "testlib.h"

static const size_t sizes[] = {
    0, 1, 100 * 1024 - 1, 100 * 1024, 100 * 1024 + 1, 4u << 20, 64u << 20,
};
#define NSIZES (sizeof sizes / sizeof sizes[0])

static void check_round_trip(void)
{
    int last = rmpi_size() - 1;
    void *buf = malloc(64u << 20);
    CHECK(buf != NULL);
    for (size_t i = 0; i < NSIZES; i++) {
        size_t n = sizes[i];
        uint64_t seed = i + 1;
        printf("  size %zu\n", n);
        tl_fill(buf, n, seed);
        int64_t want = tl_hash(buf, n);

        /* put, then get here. */
        rmpi_ref_t p;
        CHECK_OK(rmpi_put(buf, n, &p));
        memset(buf, 0, n);                     /* put copied the bytes */
        rmpi_view_t v;
        CHECK_OK(rmpi_get(p, -1, &v));
        CHECK(v.size == n);
        CHECK(v.mem_type == RMPI_MEM_HOST);
        CHECK(n == 0 || v.data != NULL);
        CHECK(tl_check_pattern(v.data, n, seed) == -1);
        rmpi_view_release(&v);

        /* The put as an argument of a task on the last rank. */
        rmpi_arg_t a = rmpi_ref(p);
        CHECK(tl_take_i64(tl_submit("tl_checksum", &a, 1, last)) == want);
        CHECK_OK(rmpi_release(p));

        /* A result of that size made on the last rank, read here. */
        rmpi_arg_t b[2] = { rmpi_i64((int64_t)n), rmpi_i64((int64_t)seed) };
        rmpi_ref_t r = tl_submit("tl_pattern", b, 2, last);
        CHECK_OK(rmpi_get(r, -1, &v));
        CHECK(v.size == n);
        CHECK(tl_check_pattern(v.data, n, seed) == -1);
        rmpi_view_release(&v);

        /* ... and passed on to a task on rank 0. */
        rmpi_arg_t c = rmpi_ref(r);
        CHECK(tl_take_i64(tl_submit("tl_checksum", &c, 1, 0)) == want);
        CHECK_OK(rmpi_release(r));
    }
    free(buf);
}

static void check_zero_copy(void)
{
    size_t n = 1u << 20;
    char *buf = malloc(n);
    CHECK(buf != NULL);
    tl_fill(buf, n, 9);
    rmpi_ref_t p;
    CHECK_OK(rmpi_put(buf, n, &p));
    free(buf);

    rmpi_view_t v1, v2;
    CHECK_OK(rmpi_get(p, -1, &v1));
    CHECK_OK(rmpi_get(p, 0, &v2));
    CHECK_MSG(v1.data == v2.data, "two gets of a local put gave %p and %p", v1.data, v2.data);
    CHECK(v1.size == n && v2.size == n);
    CHECK(tl_check_pattern(v2.data, n, 9) == -1);
    rmpi_view_release(&v1);
    CHECK(v1.data == NULL && v1.size == 0);   /* released views are zeroed */
    CHECK(tl_check_pattern(v2.data, n, 9) == -1);
    rmpi_view_release(&v2);

    /* The view keeps the bytes even after the ref is released. */
    CHECK_OK(rmpi_get(p, -1, &v1));
    CHECK_OK(rmpi_release(p));
    CHECK(tl_check_pattern(v1.data, n, 9) == -1);
    rmpi_view_release(&v1);

    /* Zeroed views and double releases are harmless. */
    rmpi_view_t z;
    memset(&z, 0, sizeof z);
    rmpi_view_release(&z);
    rmpi_view_release(&z);
    rmpi_view_release(&v1);
}

static void check_scalar_gets(void)
{
    rmpi_ref_t r;
    int64_t i = 0;
    double d = 0;

    int64_t iv = -1234567890123ll;
    CHECK_OK(rmpi_put(&iv, sizeof iv, &r));
    CHECK_OK(rmpi_get_i64(r, -1, &i));
    CHECK(i == iv);
    CHECK_OK(rmpi_release(r));

    double dv = 2.718281828;
    CHECK_OK(rmpi_put(&dv, sizeof dv, &r));
    CHECK_OK(rmpi_get_f64(r, -1, &d));
    CHECK(d == dv);
    CHECK_OK(rmpi_release(r));

    /* Any 8-byte object reads either way. */
    r = rmpi_call("tl_where", 0);
    CHECK_OK(rmpi_get_f64(r, -1, &d));
    CHECK_OK(rmpi_get_i64(r, -1, &i));
    CHECK_OK(rmpi_release(r));

    /* Objects that are not 8 bytes. */
    size_t bad[] = { 0, 1, 4, 7, 9, 16, 200 * 1024 };
    char buf[200 * 1024];
    memset(buf, 1, sizeof buf);
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        CHECK_OK(rmpi_put(buf, bad[k], &r));
        i = 77;
        d = 77;
        CHECK_STATUS(rmpi_get_i64(r, -1, &i), RMPI_ERR_ARG_TYPE);
        CHECK_STATUS(rmpi_get_f64(r, -1, &d), RMPI_ERR_ARG_TYPE);
        CHECK(i == 77 && d == 77);           /* outputs untouched on error */
        CHECK_OK(rmpi_release(r));
    }
    /* ... also when the object comes from a task on another rank. */
    rmpi_arg_t a[2] = { rmpi_i64(4), rmpi_i64(0) };
    r = tl_submit("tl_pattern", a, 2, rmpi_size() - 1);
    CHECK_STATUS(rmpi_get_i64(r, -1, &i), RMPI_ERR_ARG_TYPE);
    CHECK_STATUS(rmpi_get_f64(r, -1, &d), RMPI_ERR_ARG_TYPE);
    CHECK_OK(rmpi_release(r));
}

static void check_get_timeout(void)
{
    for (int rank = 0; rank < rmpi_size(); rank++) {
        tl_gate_t g;
        rmpi_ref_t r = tl_gate_submit(&g, rank);
        rmpi_view_t v;
        memset(&v, 0, sizeof v);
        int64_t i = 5;
        double d = 5;

        double t0 = tl_now();
        CHECK_STATUS(rmpi_get(r, 0.05, &v), RMPI_ERR_TIMEOUT);
        printf("  rank %d: get with a 0.05 s timeout returned after %.3f s\n", rank,
               tl_now() - t0);   /* shown, not checked: timings are no assertions */
        CHECK(v.data == NULL);
        CHECK_STATUS(rmpi_get(r, 0, &v), RMPI_ERR_TIMEOUT);
        CHECK_STATUS(rmpi_get_i64(r, 0.01, &i), RMPI_ERR_TIMEOUT);
        CHECK_STATUS(rmpi_get_f64(r, 0, &d), RMPI_ERR_TIMEOUT);
        CHECK(i == 5 && d == 5);

        tl_gate_open(&g);
        CHECK_OK(rmpi_get_i64(r, -1, &i));
        CHECK(i == 1);
        CHECK_OK(rmpi_get(r, 0, &v));         /* ready now: polling succeeds */
        CHECK(v.size == 8);
        rmpi_view_release(&v);
        CHECK_OK(rmpi_release(r));
        tl_gate_remove(&g);
    }
}

static int count_ready(const int *ready, int n)
{
    int c = 0;
    for (int i = 0; i < n; i++) {
        CHECK(ready[i] == 0 || ready[i] == 1);
        c += ready[i];
    }
    return c;
}

static void check_wait(void)
{
    int last = rmpi_size() - 1;
    tl_gate_t g1, g2;
    rmpi_ref_t refs[5];
    int ready[5], nready;
    int64_t i;
    int64_t cpus0 = tl_rank_stat(0, TL_STAT_NUM_CPUS);

    /* Finish the quick ones first: a gated task holds an executor slot, and a
     * rank may have only one. */
    refs[1] = tl_submit("tl_where", NULL, 0, last);
    refs[4] = rmpi_call("tl_where", 0);
    CHECK_OK(rmpi_put("abc", 3, &refs[3]));
    CHECK_OK(rmpi_get_i64(refs[1], -1, &i));
    CHECK_OK(rmpi_get_i64(refs[4], -1, &i));
    refs[0] = tl_gate_submit(&g1, 0);
    refs[2] = tl_gate_submit(&g2, last);

    /* Three of five are ready: asking for all five times out, without error. */
    memset(ready, 0xff, sizeof ready);
    nready = -1;
    CHECK_OK(rmpi_wait(refs, 5, 5, 0.1, ready, &nready));
    CHECK(nready == 3);
    CHECK(ready[0] == 0 && ready[1] == 1 && ready[2] == 0 && ready[3] == 1 && ready[4] == 1);

    /* Polling. */
    nready = -1;
    CHECK_OK(rmpi_wait(refs, 5, 4, 0, ready, &nready));
    CHECK(nready == 3 && count_ready(ready, 5) == 3);

    /* Fewer than are ready: returns at once with at least that many. */
    nready = -1;
    CHECK_OK(rmpi_wait(refs, 5, 2, -1, ready, &nready));
    CHECK(nready >= 2 && nready <= 3 && count_ready(ready, 5) == nready);
    CHECK(ready[0] == 0 && ready[2] == 0);

    /* Only pending refs. */
    rmpi_ref_t pending[2] = { refs[0], refs[2] };
    nready = -1;
    CHECK_OK(rmpi_wait(pending, 2, 1, 0.05, ready, &nready));
    CHECK(nready == 0 && ready[0] == 0 && ready[1] == 0);

    /* Open one gate: waiting for one of the two returns that one.  Both gated
     * tasks must be running for this, so on one rank it needs two slots. */
    if (last > 0 || cpus0 >= 2) {
        tl_gate_open(&g2);
        nready = -1;
        CHECK_OK(rmpi_wait(pending, 2, 1, -1, ready, &nready));
        CHECK(nready == 1 && ready[0] == 0 && ready[1] == 1);
    }

    tl_gate_open(&g1);
    tl_gate_open(&g2);
    nready = -1;
    CHECK_OK(rmpi_wait(refs, 5, 5, -1, ready, &nready));
    CHECK(nready == 5 && count_ready(ready, 5) == 5);

    /* The same ref twice. */
    rmpi_ref_t twice[2] = { refs[3], refs[3] };
    CHECK_OK(rmpi_wait(twice, 2, 2, -1, ready, &nready));
    CHECK(nready == 2 && ready[0] == 1 && ready[1] == 1);

    for (int k = 0; k < 5; k++)
        CHECK_OK(rmpi_release(refs[k]));
    tl_gate_remove(&g1);
    tl_gate_remove(&g2);
}

/* Many refs from many tasks, collected with wait as they finish. */
static void check_wait_many(void)
{
    enum { N = 200 };
    rmpi_ref_t refs[N];
    int done[N], ready[N], nready;
    memset(done, 0, sizeof done);
    for (int i = 0; i < N; i++)
        refs[i] = rmpi_call("tl_where", 0);
    int left = N;
    while (left > 0) {
        CHECK_OK(rmpi_wait(refs, N, N - left + 1, -1, ready, &nready));
        CHECK(nready >= N - left + 1 && nready == count_ready(ready, N));
        for (int i = 0; i < N; i++) {
            CHECK(!(done[i] && !ready[i]));  /* ready stays ready */
            if (ready[i] && !done[i]) {
                done[i] = 1;
                left--;
            }
        }
    }
    for (int i = 0; i < N; i++) {
        int64_t w = tl_take_i64(refs[i]);
        CHECK(w >= 0 && w < rmpi_size());
    }
}

int main(int argc, char **argv)
{
    tl_start(&argc, &argv);
    RUN(check_round_trip);
    RUN(check_zero_copy);
    RUN(check_scalar_gets);
    RUN(check_get_timeout);
    RUN(check_wait);
    RUN(check_wait_many);
    return tl_end();
}
