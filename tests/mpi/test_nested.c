/*
 * test_nested.c - tasks that submit tasks and wait for them: sums of children,
 * a binary tree of blocking tasks, nested puts passed to children on other
 * ranks, rmpi_wait inside a task, and twice as many blocking parents as there
 * are executor slots in the whole job (a blocked get gives its slot up, so this
 * must finish rather than deadlock).
 */
#include "testlib.h"

/* square(x: i64) -> x * x */
static int square(rmpi_task_t *t)
{
    int64_t x = rmpi_task_arg_i64(t, 0);
    return rmpi_task_return_i64(t, 0, x * x);
}
RMPI_REMOTE(square);

/* sum_squares(k: i64) -> sum of i*i for i < k, one child task each. */
static int sum_squares(rmpi_task_t *t)
{
    int64_t k = rmpi_task_arg_i64(t, 0);
    if (k < 0 || k > 64)
        return rmpi_task_fail(t, "k out of range");
    rmpi_ref_t r[64];
    for (int64_t i = 0; i < k; i++)
        r[i] = rmpi_call("square", 1, rmpi_i64(i));
    int64_t sum = 0;
    int bad = RMPI_OK;
    for (int64_t i = 0; i < k; i++) {
        int64_t v = 0;
        int st = rmpi_get_i64(r[i], -1, &v);
        if (st != RMPI_OK)
            bad = st;
        sum += v;
        rmpi_release(r[i]);
    }
    if (bad != RMPI_OK)
        return rmpi_task_fail(t, "child: %s", rmpi_status_string(bad));
    return rmpi_task_return_i64(t, 0, sum);
}
RMPI_REMOTE(sum_squares);

/* tree(depth: i64) -> number of tasks in a binary tree of that depth. */
static int tree(rmpi_task_t *t)
{
    int64_t depth = rmpi_task_arg_i64(t, 0);
    if (depth <= 0)
        return rmpi_task_return_i64(t, 0, 1);
    rmpi_ref_t a = rmpi_call("tree", 1, rmpi_i64(depth - 1));
    rmpi_ref_t b = rmpi_call("tree", 1, rmpi_i64(depth - 1));
    int64_t x = 0, y = 0;
    int st = rmpi_get_i64(a, -1, &x);
    if (st == RMPI_OK)
        st = rmpi_get_i64(b, -1, &y);
    rmpi_release(a);
    rmpi_release(b);
    if (st != RMPI_OK)
        return rmpi_task_fail(t, "subtree: %s", rmpi_status_string(st));
    return rmpi_task_return_i64(t, 0, 1 + x + y);
}
RMPI_REMOTE(tree);

/* share(seed: i64) -> i64 1: puts 200 KiB, hands it to a child on the next rank
 * as a ref and checks the checksum the child computes. */
static int share(rmpi_task_t *t)
{
    int64_t seed = rmpi_task_arg_i64(t, 0);
    size_t n = 200 * 1024;
    char *buf = malloc(n);
    if (buf == NULL)
        return rmpi_task_fail(t, "malloc");
    tl_fill(buf, n, (uint64_t)seed);
    int64_t want = tl_hash(buf, n);
    rmpi_ref_t p, c;
    int st = rmpi_put(buf, n, &p);
    free(buf);
    if (st != RMPI_OK)
        return rmpi_task_fail(t, "rmpi_put: %s", rmpi_status_string(st));
    rmpi_arg_t a = rmpi_ref(p);
    rmpi_opts_t o = tl_on_rank((rmpi_rank() + 1) % rmpi_size());
    st = rmpi_submit("tl_checksum", &a, 1, &o, &c);
    rmpi_release(p);
    if (st != RMPI_OK)
        return rmpi_task_fail(t, "rmpi_submit: %s", rmpi_status_string(st));
    int64_t got = 0;
    st = rmpi_get_i64(c, -1, &got);
    rmpi_release(c);
    if (st != RMPI_OK)
        return rmpi_task_fail(t, "child: %s", rmpi_status_string(st));
    if (got != want)
        return rmpi_task_fail(t, "child saw other bytes");
    return rmpi_task_return_i64(t, 0, 1);
}
RMPI_REMOTE(share);

/* wait_children(k: i64) -> k, after collecting k children with rmpi_wait. */
static int wait_children(rmpi_task_t *t)
{
    int64_t k = rmpi_task_arg_i64(t, 0);
    if (k < 1 || k > 32)
        return rmpi_task_fail(t, "k out of range");
    rmpi_ref_t r[32];
    int ready[32], nready = 0;
    for (int64_t i = 0; i < k; i++)
        r[i] = rmpi_call("square", 1, rmpi_i64(i));
    int st = rmpi_wait(r, (int)k, 1, -1, ready, &nready);
    if (st == RMPI_OK && nready < 1)
        st = RMPI_ERR_INTERNAL;
    if (st == RMPI_OK)
        st = rmpi_wait(r, (int)k, (int)k, -1, ready, &nready);
    for (int64_t i = 0; i < k; i++)
        rmpi_release(r[i]);
    if (st != RMPI_OK || nready != k)
        return rmpi_task_fail(t, "rmpi_wait: %s, %d ready", rmpi_status_string(st), nready);
    return rmpi_task_return_i64(t, 0, k);
}
RMPI_REMOTE(wait_children);

/* parent_of_failure() -> fails, passing on its child's error text. */
static int child_fails(rmpi_task_t *t)
{
    return rmpi_task_fail(t, "the child failed");
}
RMPI_REMOTE(child_fails);

static int parent_of_failure(rmpi_task_t *t)
{
    rmpi_ref_t c = rmpi_call("child_fails", 0);
    int64_t v;
    int st = rmpi_get_i64(c, -1, &v);
    char msg[256] = "";
    if (st == RMPI_ERR_TASK_FAILED)
        rmpi_error_message(c, msg, sizeof msg);
    rmpi_release(c);
    return rmpi_task_fail(t, "child said: %s (%s)", msg, rmpi_status_string(st));
}
RMPI_REMOTE(parent_of_failure);

/* ------------------------------------------------------------------------------ */

static void check_children(void)
{
    for (int rank = 0; rank < rmpi_size(); rank++) {
        rmpi_arg_t a = rmpi_i64(10);
        CHECK(tl_take_i64(tl_submit("sum_squares", &a, 1, rank)) == 285);
    }
    CHECK(tl_take_i64(rmpi_call("sum_squares", 1, rmpi_i64(64))) == 85344);
}

static void check_tree(void)
{
    CHECK(tl_take_i64(rmpi_call("tree", 1, rmpi_i64(5))) == 63);
}

static void check_share(void)
{
    for (int rank = 0; rank < rmpi_size(); rank++) {
        rmpi_arg_t a = rmpi_i64(rank + 1);
        CHECK(tl_take_i64(tl_submit("share", &a, 1, rank)) == 1);
    }
}

static void check_wait_inside(void)
{
    CHECK(tl_take_i64(rmpi_call("wait_children", 1, rmpi_i64(20))) == 20);
}

static void check_failure_inside(void)
{
    rmpi_ref_t r = rmpi_call("parent_of_failure", 0);
    int64_t v;
    CHECK_STATUS(rmpi_get_i64(r, -1, &v), RMPI_ERR_TASK_FAILED);
    char msg[512];
    tl_error(r, msg, sizeof msg);
    printf("  error: %s\n", msg);
    CHECK_CONTAINS(msg, "parent_of_failure");
    CHECK_CONTAINS(msg, "the child failed");
    CHECK_OK(rmpi_release(r));
}

/* Twice as many blocking parents as slots in the job, each with children. */
static void check_saturated(void)
{
    int slots = tl_total_cpus();
    int n = 2 * slots;
    printf("  %d slots, %d parents\n", slots, n);
    rmpi_ref_t *r = calloc((size_t)n, sizeof *r);
    CHECK(r != NULL);
    for (int i = 0; i < n; i++)
        r[i] = rmpi_call("sum_squares", 1, rmpi_i64(4));
    for (int i = 0; i < n; i++)
        CHECK(tl_take_i64(r[i]) == 14);

    /* Deeper: parents of parents, every one blocking. */
    for (int i = 0; i < n; i++)
        r[i] = rmpi_call("tree", 1, rmpi_i64(3));
    for (int i = 0; i < n; i++)
        CHECK(tl_take_i64(r[i]) == 15);

    /* Pinned: more parents on one rank than it has slots, children anywhere. */
    for (int rank = 0; rank < rmpi_size(); rank++) {
        int m = 2 * (int)tl_rank_stat(rank, TL_STAT_NUM_CPUS) + 2;
        rmpi_ref_t *q = calloc((size_t)m, sizeof *q);
        CHECK(q != NULL);
        for (int i = 0; i < m; i++) {
            rmpi_arg_t a = rmpi_i64(3);
            q[i] = tl_submit("tree", &a, 1, rank);
        }
        for (int i = 0; i < m; i++)
            CHECK(tl_take_i64(q[i]) == 15);
        free(q);
    }
    free(r);
}

int main(int argc, char **argv)
{
    tl_start(&argc, &argv);
    RUN(check_children);
    RUN(check_tree);
    RUN(check_share);
    RUN(check_wait_inside);
    RUN(check_failure_inside);
    RUN(check_saturated);
    return tl_end();
}
