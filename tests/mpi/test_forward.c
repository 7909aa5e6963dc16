/*
 * test_forward.c - tasks sent to their rank while their arguments are still
 * being made (early dispatch, RAYMPI_SCHED_EARLY_DISPATCH): the rank making an
 * argument sends it straight to the waiting task's rank.  Checked: the value
 * arrives right, small and large (beyond the inline limit: the consumer pulls it
 * from the producer), to a task on another rank, on the producer's own rank and
 * on the owner's, made on the owner's rank (which pushes it to the consumer's
 * rank behind the task); one result to consumers on every rank at once; a producer's
 * failure reaches its consumers as that error; an actor method taking a result
 * being made elsewhere; a long chain of tiny tasks across the ranks (races
 * between the result and the subscription, which falls back to the owner).  The
 * args_forwarded counter shows which path was taken: with early dispatch the
 * consumers' ranks count the results they got straight from the producer; with
 * RAYMPI_SCHED_EARLY_DISPATCH=no (the "late" runs) nothing is forwarded.
 */
#include "testlib.h"

#define SLOW_MS 300 /* a producer's delay: long enough for its consumers to subscribe */

/* fw_slow(ms: i64, value: i64) -> i64 value, after sleeping ms. */
static int fw_slow(rmpi_task_t *t)
{
    int64_t ms = rmpi_task_arg_i64(t, 0), v = rmpi_task_arg_i64(t, 1);
    tl_sleep_s((double)ms / 1000.0);
    return rmpi_task_return_i64(t, 0, v);
}
RMPI_REMOTE(fw_slow);

/* fw_sum(refs...) -> i64: the sum of its i64 arguments. */
static int fw_sum(rmpi_task_t *t)
{
    int64_t s = 0;
    for (int i = 0; i < rmpi_task_nargs(t); i++)
        s += rmpi_task_arg_i64(t, i);
    return rmpi_task_return_i64(t, 0, s);
}
RMPI_REMOTE(fw_sum);

/* fw_mix(a, b, i: i64) -> i64 (a + b + i) mod 1000003. */
static int fw_mix(rmpi_task_t *t)
{
    int64_t v = rmpi_task_arg_i64(t, 0) + rmpi_task_arg_i64(t, 1) + rmpi_task_arg_i64(t, 2);
    return rmpi_task_return_i64(t, 0, v % 1000003);
}
RMPI_REMOTE(fw_mix);

/* fw_fail(ms: i64) -> fails with "fw boom" after sleeping ms. */
static int fw_fail(rmpi_task_t *t)
{
    tl_sleep_s((double)rmpi_task_arg_i64(t, 0) / 1000.0);
    return rmpi_task_fail(t, "fw boom");
}
RMPI_REMOTE(fw_fail);

/* fw_big(ms: i64, size: i64, seed: i64) -> bytes[size] of tl_fill's pattern, after ms. */
static int fw_big(rmpi_task_t *t)
{
    int64_t ms = rmpi_task_arg_i64(t, 0), size = rmpi_task_arg_i64(t, 1);
    int64_t seed = rmpi_task_arg_i64(t, 2);
    tl_sleep_s((double)ms / 1000.0);
    void *buf = rmpi_task_return_buffer(t, 0, (size_t)size);
    if (buf == NULL)
        return RMPI_ERR_STORE_FULL;
    tl_fill(buf, (size_t)size, (uint64_t)seed);
    return RMPI_OK;
}
RMPI_REMOTE(fw_big);

/* Adder(): an actor whose add(x) returns the running total. */
typedef struct {
    int64_t total;
} adder_t;

static void *adder_new(rmpi_task_t *t)
{
    (void)t;
    return calloc(1, sizeof(adder_t));
}

static void adder_free(void *self)
{
    free(self);
}

static int adder_add(void *self, rmpi_task_t *t)
{
    adder_t *a = self;
    a->total += rmpi_task_arg_i64(t, 0);
    return rmpi_task_return_i64(t, 0, a->total);
}

static void register_adder(void)
{
    CHECK_OK(rmpi_class_register("Adder", adder_new, adder_free));
    CHECK_OK(rmpi_method_register_nargs("Adder", "add", adder_add, 1));
}

static int early; /* early dispatch on (the default) */
static int nranks;

static int64_t forwarded(int rank)
{
    return tl_rank_stat(rank, TL_STAT_ARGS_FORWARDED);
}

static rmpi_ref_t slow_on(int rank, int64_t ms, int64_t v)
{
    rmpi_arg_t a[2] = { rmpi_i64(ms), rmpi_i64(v) };
    return tl_submit("fw_slow", a, 2, rank);
}

/* sum(x, x) on consumer of x being made on producer; the number of arguments the
 * consumer's rank got straight from the producer's. */
static int64_t pair_forwarded(int producer, int consumer, int64_t ms)
{
    int64_t before = forwarded(consumer);
    rmpi_ref_t x = slow_on(producer, ms, 21);
    rmpi_arg_t a[2] = { rmpi_ref(x), rmpi_ref(x) };
    rmpi_ref_t y = tl_submit("fw_sum", a, 2, consumer);
    CHECK_OK(rmpi_release(x));
    CHECK(tl_take_i64(y) == 42);
    int64_t got = forwarded(consumer) - before;
    printf("  producer rank %d, consumer rank %d, %lld ms: %lld argument(s) forwarded\n",
           producer, consumer, (long long)ms, (long long)got);
    return got;
}

static void check_pair(int producer, int consumer)
{
    /* The owner (rank 0) gets results as their owner: nothing to forward there.  One
     * entry per object and rank: x twice counts once.  A result the owner's rank makes
     * is pushed to the consumer's rank behind the task: forwarded too. */
    int want = early && consumer != 0 ? 1 : 0;
    int64_t got = pair_forwarded(producer, consumer, SLOW_MS);
    /* The subscription can overtake the task on its way to the producer (they come
     * from different ranks; a first message between two ranks may wait for UCX's
     * wire-up): the producer then says so and the owner answers, one trip later.
     * That is correct but not what is checked here, so try again, with more time. */
    for (int64_t ms = SLOW_MS * 3; got != want && want == 1 && ms <= SLOW_MS * 9; ms *= 3)
        got = pair_forwarded(producer, consumer, ms);
    CHECK_MSG(got == want, "rank %d got %lld forwarded arguments, expected %d", consumer,
              (long long)got, want);
}

static void check_fan_out(void)
{
    rmpi_ref_t x = slow_on(nranks - 1, SLOW_MS, 5);
    rmpi_ref_t *y = calloc((size_t)nranks, sizeof *y);
    CHECK(y != NULL);
    for (int r = 0; r < nranks; r++) {
        rmpi_arg_t a[3] = { rmpi_ref(x), rmpi_i64(r), rmpi_ref(x) };
        y[r] = tl_submit("fw_sum", a, 3, r);
    }
    CHECK_OK(rmpi_release(x));
    for (int r = 0; r < nranks; r++)
        CHECK(tl_take_i64(y[r]) == 10 + r);
    free(y);
}

static void check_failure(void)
{
    char buf[512];
    rmpi_arg_t f = rmpi_i64(SLOW_MS);
    rmpi_ref_t x = tl_submit("fw_fail", &f, 1, nranks - 1);
    for (int r = 0; r < nranks; r++) {
        rmpi_arg_t a[2] = { rmpi_ref(x), rmpi_i64(1) };
        rmpi_ref_t y = tl_submit("fw_sum", a, 2, r);
        int64_t v;
        CHECK_STATUS(rmpi_get_i64(y, 60, &v), RMPI_ERR_TASK_FAILED);
        CHECK_CONTAINS(tl_error(y, buf, sizeof buf), "fw boom");
        CHECK_CONTAINS(buf, "fw_fail");
        CHECK_OK(rmpi_release(y));
    }
    CHECK_OK(rmpi_release(x));
}

static void check_large(void)
{
    const int64_t size = (1 << 20) + 3; /* beyond the default 100K inline limit */
    char *want = malloc((size_t)size);
    CHECK(want != NULL);
    tl_fill(want, (size_t)size, 99);
    int64_t hash = tl_hash(want, (size_t)size);
    free(want);
    int producer = nranks - 1;
    for (int r = 0; r < nranks; r++) {
        rmpi_arg_t a[3] = { rmpi_i64(SLOW_MS / 3), rmpi_i64(size), rmpi_i64(99) };
        rmpi_ref_t x = tl_submit("fw_big", a, 3, producer);
        rmpi_arg_t b = rmpi_ref(x);
        rmpi_ref_t y = tl_submit("tl_checksum", &b, 1, r);
        CHECK_MSG(tl_take_i64(y) == hash, "checksum on rank %d differs", r);
        rmpi_view_t v;
        CHECK_OK(rmpi_get(x, 60, &v));
        CHECK(v.size == (size_t)size);
        rmpi_view_release(&v);
        CHECK_OK(rmpi_release(x));
    }
}

static void check_actor(void)
{
    rmpi_actor_t acc;
    rmpi_actor_opts_t o;
    memset(&o, 0, sizeof o);
    o.field_mask = RMPI_ACTOR_OPT_RANK;
    o.rank = nranks > 2 ? 2 : 0;
    CHECK_OK(rmpi_actor_create("Adder", NULL, 0, &o, &acc));
    rmpi_ref_t last = RMPI_REF_NIL;
    for (int i = 1; i <= 5; i++) {
        rmpi_ref_t x = slow_on(nranks - 1, (6 - i) * 20, i); /* later ones are ready first */
        rmpi_arg_t a = rmpi_ref(x);
        rmpi_ref_t r;
        CHECK_OK(rmpi_actor_call(acc, "add", &a, 1, NULL, &r));
        CHECK_OK(rmpi_release(x));
        if (i < 5)
            CHECK(tl_take_i64(r) == (int64_t)i * (i + 1) / 2);
        else
            last = r;
    }
    CHECK(tl_take_i64(last) == 15);
    CHECK_OK(rmpi_actor_kill(acc));
}

/* x[i] = (x[i-1] + x[i-2] + i) mod 1000003 over n tiny tasks that go round the
 * ranks; every 64 steps a task elsewhere reads the latest one. */
static void check_chain(int n)
{
    rmpi_ref_t a = slow_on(0, 0, 1), b = slow_on(nranks - 1, 0, 1);
    int64_t va = 1, vb = 1;
    for (int i = 2; i < n; i++) {
        rmpi_arg_t args[3] = { rmpi_ref(a), rmpi_ref(b), rmpi_i64(i) };
        rmpi_ref_t c = tl_submit("fw_mix", args, 3, i % nranks);
        CHECK_OK(rmpi_release(a));
        a = b;
        b = c;
        int64_t vc = (va + vb + i) % 1000003;
        va = vb;
        vb = vc;
        if (i % 64 == 0) {
            rmpi_arg_t m[2] = { rmpi_ref(b), rmpi_i64(0) };
            int64_t got = tl_take_i64(tl_submit("fw_sum", m, 2, (i / 64) % nranks));
            CHECK_MSG(got == vb, "chain step %d: %lld, expected %lld", i, (long long)got,
                      (long long)vb);
        }
    }
    CHECK(tl_take_i64(b) == vb);
    CHECK_OK(rmpi_release(a));
}

int main(int argc, char **argv)
{
    register_adder();
    tl_start(&argc, &argv);
    nranks = rmpi_size();
    const char *e = getenv("RAYMPI_SCHED_EARLY_DISPATCH");
    early = e == NULL || (strcmp(e, "no") != 0 && strcmp(e, "0") != 0);
    printf("%d rank(s), early dispatch %s\n", nranks, early ? "on" : "off");

    check_pair(nranks - 1, nranks > 2 ? 2 : 0);     /* to another rank */
    check_pair(nranks - 1, nranks - 1);             /* on the producer's rank */
    check_pair(nranks > 1 ? 1 : 0, 0);              /* to the owner */
    check_pair(0, nranks - 1);                      /* from the owner's rank (pushed) */
    check_fan_out();
    check_failure();
    check_large();
    check_actor();
    check_chain(2000);
    return tl_end();
}
