/*
 * test_errors.c - errors are values: a task that calls rmpi_task_fail gives
 * RMPI_ERR_TASK_FAILED to get, and rmpi_error_message names the function, the
 * rank and the text; tasks that depend on a failed object (a chain of three)
 * give the same error; every return value of a failed task fails; wait counts
 * failed objects as ready; rmpi_error_message on objects that did not fail.
 */
#include "testlib.h"

/* always_fails(code: i64) -> never: fails with a message that carries code. */
static int always_fails(rmpi_task_t *t)
{
    int64_t code = rmpi_task_arg_i64(t, 0);
    return rmpi_task_fail(t, "expected failure %lld", (long long)code);
}
RMPI_REMOTE(always_fails);

/* returns_error() -> never: returns an error status without rmpi_task_fail. */
static int returns_error(rmpi_task_t *t)
{
    (void)t;
    return RMPI_ERR_INVALID_ARG;
}
RMPI_REMOTE(returns_error);

/* passes(x) -> i64 1, after reading argument 0 (a ref to a failed object never
 * gets here). */
static int passes(rmpi_task_t *t)
{
    const void *data;
    size_t size;
    if (rmpi_task_arg(t, 0, &data, &size) != RMPI_OK)
        return rmpi_task_fail(t, "passes: argument 0 unreadable");
    return rmpi_task_return_i64(t, 0, 1);
}
RMPI_REMOTE(passes);

/* fails_late(n) -> sets every return value, then fails. */
static int fails_late(rmpi_task_t *t)
{
    for (int i = 0; i < rmpi_task_num_returns(t); i++)
        rmpi_task_return_i64(t, i, i);
    return rmpi_task_fail(t, "failed after setting %d returns", rmpi_task_num_returns(t));
}
RMPI_REMOTE(fails_late);

static void check_failed(rmpi_ref_t r, const char *fn, int rank, const char *text)
{
    char msg[512], want[64];
    rmpi_view_t v;
    memset(&v, 0, sizeof v);
    CHECK_STATUS(rmpi_get(r, -1, &v), RMPI_ERR_TASK_FAILED);
    CHECK(v.data == NULL);
    int64_t i;
    CHECK_STATUS(rmpi_get_i64(r, -1, &i), RMPI_ERR_TASK_FAILED);
    tl_error(r, msg, sizeof msg);
    printf("  error: %s\n", msg);
    CHECK_CONTAINS(msg, fn);
    if (rank >= 0) {
        snprintf(want, sizeof want, "rank %d", rank);
        CHECK_CONTAINS(msg, want);
    }
    CHECK_CONTAINS(msg, text);
}

static void check_task_fail(void)
{
    for (int rank = 0; rank < rmpi_size(); rank++) {
        rmpi_arg_t a = rmpi_i64(100 + rank);
        rmpi_ref_t r = tl_submit("always_fails", &a, 1, rank);
        char text[64];
        snprintf(text, sizeof text, "expected failure %d", 100 + rank);
        check_failed(r, "always_fails", rank, text);
        CHECK_OK(rmpi_release(r));
    }
    /* rmpi_call and unpinned. */
    rmpi_ref_t r = rmpi_call("always_fails", 1, rmpi_i64(7));
    check_failed(r, "always_fails", -1, "expected failure 7");
    CHECK_OK(rmpi_release(r));
}

static void check_error_status(void)
{
    /* A function that returns an error without rmpi_task_fail fails too. */
    rmpi_ref_t r = rmpi_call("returns_error", 0);
    rmpi_view_t v;
    int st = rmpi_get(r, -1, &v);
    CHECK_MSG(st < 0, "get of a task that returned an error: %s", rmpi_status_string(st));
    char msg[512];
    tl_error(r, msg, sizeof msg);
    printf("  error: %s (%s)\n", msg, rmpi_status_string(st));
    CHECK_CONTAINS(msg, "returns_error");
    CHECK_OK(rmpi_release(r));
}

static void check_dependents(void)
{
    int last = rmpi_size() - 1;
    /* a fails on the last rank; b depends on a (on rank 0); c on b (anywhere). */
    rmpi_arg_t x = rmpi_i64(3);
    rmpi_ref_t a = tl_submit("always_fails", &x, 1, last);
    rmpi_arg_t y = rmpi_ref(a);
    rmpi_ref_t b = tl_submit("passes", &y, 1, 0);
    rmpi_ref_t c = rmpi_call("passes", 1, rmpi_ref(b));
    /* Submitted before a finished or after: both must fail the same way. */
    rmpi_ref_t d = rmpi_call("passes", 2, rmpi_i64(1), rmpi_ref(c));

    check_failed(c, "always_fails", last, "expected failure 3");
    check_failed(b, "always_fails", last, "expected failure 3");
    check_failed(a, "always_fails", last, "expected failure 3");
    check_failed(d, "always_fails", last, "expected failure 3");
    rmpi_ref_t e = rmpi_call("passes", 1, rmpi_ref(a));
    check_failed(e, "always_fails", last, "expected failure 3");

    /* Waiting counts failed objects as ready. */
    rmpi_ref_t all[5] = { a, b, c, d, e };
    int ready[5], nready = -1;
    CHECK_OK(rmpi_wait(all, 5, 5, -1, ready, &nready));
    CHECK(nready == 5);

    for (int i = 0; i < 5; i++)
        CHECK_OK(rmpi_release(all[i]));
}

static void check_all_returns_fail(void)
{
    rmpi_opts_t o;
    memset(&o, 0, sizeof o);
    o.field_mask = RMPI_OPT_NUM_RETURNS;
    o.num_returns = 3;
    rmpi_ref_t r[3];
    CHECK_OK(rmpi_submit("fails_late", NULL, 0, &o, r));
    for (int i = 0; i < 3; i++) {
        check_failed(r[i], "fails_late", -1, "failed after setting 3 returns");
        CHECK_OK(rmpi_release(r[i]));
    }
}

static void check_error_message(void)
{
    char msg[512];
    rmpi_ref_t ok;
    CHECK_OK(rmpi_put("fine", 4, &ok));
    CHECK_STATUS(rmpi_error_message(ok, msg, sizeof msg), RMPI_ERR_INVALID_ARG);
    rmpi_ref_t t = rmpi_call("tl_where", 0);
    CHECK_STATUS(rmpi_error_message(t, msg, sizeof msg), RMPI_ERR_INVALID_ARG);  /* waits */
    CHECK_OK(rmpi_release(ok));
    CHECK_OK(rmpi_release(t));

    /* A small buffer gets a terminated prefix of the message. */
    rmpi_ref_t f = rmpi_call("always_fails", 1, rmpi_i64(5));
    char small[8];
    memset(small, 'z', sizeof small);
    CHECK_OK(rmpi_error_message(f, small, sizeof small));
    CHECK(memchr(small, '\0', sizeof small) != NULL);
    tl_error(f, msg, sizeof msg);
    CHECK(strncmp(msg, small, strlen(small)) == 0);
    CHECK_OK(rmpi_release(f));
}

/* The runtime keeps working after many failures. */
static void check_many_failures(void)
{
    enum { N = 100 };
    rmpi_ref_t r[N];
    for (int i = 0; i < N; i++)
        r[i] = i % 2 ? rmpi_call("always_fails", 1, rmpi_i64(i)) : rmpi_call("tl_where", 0);
    for (int i = 0; i < N; i++) {
        int64_t v;
        CHECK_STATUS(rmpi_get_i64(r[i], -1, &v), i % 2 ? RMPI_ERR_TASK_FAILED : RMPI_OK);
        CHECK_OK(rmpi_release(r[i]));
    }
}

int main(int argc, char **argv)
{
    tl_start(&argc, &argv);
    RUN(check_task_fail);
    RUN(check_error_status);
    RUN(check_dependents);
    RUN(check_all_returns_fail);
    RUN(check_error_message);
    RUN(check_many_failures);
    return tl_end();
}
