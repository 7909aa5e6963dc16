/*
 * test_bad_input.c - every kind of bad input gives its status and leaves the
 * runtime working: unknown functions, wrong argument counts, missing and
 * mistyped arguments inside a task, released and null refs, bad options (rank,
 * num_returns, cpus, gpus), NULL pointers, misuse of the task calls inside and
 * outside a task, and rmpi_call carrying submission errors to get.
 */
#include "testlib.h"

#define ERR_STATUS_OR_REF(st) ((st) == RMPI_ERR_UNKNOWN_REF || (st) == RMPI_ERR_INVALID_ARG)

/* two_args(a: i64, b: i64) -> a - b; declares its argument count. */
static int two_args(rmpi_task_t *t)
{
    return rmpi_task_return_i64(t, 0, rmpi_task_arg_i64(t, 0) - rmpi_task_arg_i64(t, 1));
}
RMPI_REMOTE_NARGS(two_args, 2);

/* any_args(...) -> nargs */
static int any_args(rmpi_task_t *t)
{
    return rmpi_task_return_i64(t, 0, rmpi_task_nargs(t));
}
RMPI_REMOTE_NARGS(any_args, RMPI_NARGS_ANY);

/* Registered from main() with rmpi_register_nargs / rmpi_register. */
static int three_args(rmpi_task_t *t)
{
    return rmpi_task_return_i64(t, 0, rmpi_task_arg_i64(t, 0) + rmpi_task_arg_i64(t, 1) +
                                          rmpi_task_arg_i64(t, 2));
}

static int registered_by_hand(rmpi_task_t *t)
{
    return rmpi_task_return_i64(t, 0, 5);
}

/* read_arg9() -> argument 9 as i64: called with fewer arguments. */
static int read_arg9(rmpi_task_t *t)
{
    int64_t v = rmpi_task_arg_i64(t, 9);
    return rmpi_task_return_i64(t, 0, v);
}
RMPI_REMOTE(read_arg9);

/* read_i64_arg7(8 args) -> argument 7 as i64. */
static int read_i64_arg7(rmpi_task_t *t)
{
    int64_t v = rmpi_task_arg_i64(t, 7);
    return rmpi_task_return_i64(t, 0, v);
}
RMPI_REMOTE(read_i64_arg7);

/* read_f64_arg6(7 args) -> argument 6 as f64. */
static int read_f64_arg6(rmpi_task_t *t)
{
    double v = rmpi_task_arg_f64(t, 6);
    return rmpi_task_return_f64(t, 0, v);
}
RMPI_REMOTE(read_f64_arg6);

/* misuse(x: i64) -> i64 1 when the argument calls reject bad indexes and
 * pointers with the right statuses; fails naming the first one that did not. */
static int misuse(rmpi_task_t *t)
{
    const void *data;
    size_t size;
    int st;
    if (rmpi_task_nargs(t) != 1)
        return rmpi_task_fail(t, "nargs %d", rmpi_task_nargs(t));
    st = rmpi_task_arg(t, 5, &data, &size);
    if (st != RMPI_ERR_INVALID_ARG && st != RMPI_ERR_NARGS)
        return rmpi_task_fail(t, "rmpi_task_arg(5): %s", rmpi_status_string(st));
    st = rmpi_task_arg(t, -1, &data, &size);
    if (st != RMPI_ERR_INVALID_ARG && st != RMPI_ERR_NARGS)
        return rmpi_task_fail(t, "rmpi_task_arg(-1): %s", rmpi_status_string(st));
    if ((st = rmpi_task_arg(t, 0, NULL, &size)) != RMPI_ERR_INVALID_ARG)
        return rmpi_task_fail(t, "rmpi_task_arg(NULL data): %s", rmpi_status_string(st));
    if ((st = rmpi_task_arg_type(t, 5)) >= 0)
        return rmpi_task_fail(t, "rmpi_task_arg_type(5): %d", st);
    rmpi_actor_t a;
    if ((st = rmpi_task_arg_actor(t, 0, &a)) != RMPI_ERR_ARG_TYPE)
        return rmpi_task_fail(t, "rmpi_task_arg_actor(i64): %s", rmpi_status_string(st));
    return rmpi_task_return_i64(t, 0, 1);
}
RMPI_REMOTE(misuse);

/* bad_return(which: i64) -> i64 1 after setting a return value that does not
 * exist (one task call per case).  The call must say RMPI_ERR_RETURN_INDEX; the
 * runtime may also fail the task for it (the header leaves that open), but
 * then not with this function's own "wrong status" message. */
static int bad_return(rmpi_task_t *t)
{
    int64_t which = rmpi_task_arg_i64(t, 0);
    int st, want = RMPI_ERR_RETURN_INDEX;
    switch (which) {
    case 0: st = rmpi_task_return(t, 1, "x", 1); break;
    case 1: st = rmpi_task_return_i64(t, -1, 0); break;
    case 2: st = rmpi_task_return_f64(t, RMPI_MAX_RETURNS, 0); break;
    default: st = rmpi_task_return(t, 0, NULL, 4); want = RMPI_ERR_INVALID_ARG; break;
    }
    if (st != want)
        return rmpi_task_fail(t, "wrong status %s", rmpi_status_string(st));
    return rmpi_task_return_i64(t, 0, 1);
}
RMPI_REMOTE(bad_return);

/* bad_buffer() -> asks for a return buffer that does not exist: NULL, and the
 * task fails. */
static int bad_buffer(rmpi_task_t *t)
{
    void *p = rmpi_task_return_buffer(t, 3, 16);
    if (p != NULL)
        return rmpi_task_return_i64(t, 0, 2);   /* the test sees the wrong value */
    return RMPI_OK;                              /* the runtime failed the task */
}
RMPI_REMOTE(bad_buffer);

/* ------------------------------------------------------------------------------ */

static const rmpi_ref_t sentinel = { 0x5e5e5e5e5e5e5e5eull, 0x5e5e5e5e5e5e5e5eull };

static void check_unknown_function(void)
{
    rmpi_ref_t r = sentinel;
    CHECK_STATUS(rmpi_submit("no_such_function", NULL, 0, NULL, &r), RMPI_ERR_UNKNOWN_FUNCTION);
    CHECK(rmpi_ref_equal(r, sentinel));       /* outputs written only on success */
    CHECK_STATUS(rmpi_submit("", NULL, 0, NULL, &r), RMPI_ERR_UNKNOWN_FUNCTION);
    CHECK_STATUS(rmpi_submit("two_args ", NULL, 0, NULL, &r), RMPI_ERR_UNKNOWN_FUNCTION);
    /* Never registered (defined in this file, but not registered). */
    CHECK_STATUS(rmpi_submit("tl_fail", NULL, 0, NULL, &r), RMPI_ERR_UNKNOWN_FUNCTION);

    r = rmpi_call("no_such_function", 1, rmpi_i64(1));
    rmpi_view_t v;
    CHECK_STATUS(rmpi_get(r, -1, &v), RMPI_ERR_UNKNOWN_FUNCTION);
    CHECK_STATUS(rmpi_get(r, 0, &v), RMPI_ERR_UNKNOWN_FUNCTION);
    int64_t i;
    CHECK_STATUS(rmpi_get_i64(r, -1, &i), RMPI_ERR_UNKNOWN_FUNCTION);
    int ready = 0, nready = 0;
    CHECK_OK(rmpi_wait(&r, 1, 1, -1, &ready, &nready));   /* an error is ready */
    CHECK(nready == 1 && ready == 1);
    char msg[256];
    tl_error(r, msg, sizeof msg);
    CHECK_CONTAINS(msg, "no_such_function");
    CHECK_OK(rmpi_release(r));
    CHECK_STATUS(rmpi_release(r), RMPI_ERR_REF_RELEASED);
}

static void check_nargs(void)
{
    rmpi_arg_t a[3] = { rmpi_i64(10), rmpi_i64(4), rmpi_i64(1) };
    rmpi_ref_t r = sentinel;
    CHECK_STATUS(rmpi_submit("two_args", a, 1, NULL, &r), RMPI_ERR_NARGS);
    CHECK_STATUS(rmpi_submit("two_args", a, 3, NULL, &r), RMPI_ERR_NARGS);
    CHECK_STATUS(rmpi_submit("two_args", NULL, 0, NULL, &r), RMPI_ERR_NARGS);
    CHECK(rmpi_ref_equal(r, sentinel));
    CHECK_OK(rmpi_submit("two_args", a, 2, NULL, &r));
    CHECK(tl_take_i64(r) == 6);

    CHECK_STATUS(rmpi_submit("three_args", a, 2, NULL, &r), RMPI_ERR_NARGS);
    CHECK_OK(rmpi_submit("three_args", a, 3, NULL, &r));
    CHECK(tl_take_i64(r) == 15);
    CHECK(tl_take_i64(rmpi_call("registered_by_hand", 0)) == 5);
    CHECK(tl_take_i64(rmpi_call("registered_by_hand", 2, rmpi_i64(1), rmpi_i64(2))) == 5);

    r = rmpi_call("two_args", 1, rmpi_i64(1));
    int64_t i;
    CHECK_STATUS(rmpi_get_i64(r, -1, &i), RMPI_ERR_NARGS);
    CHECK_OK(rmpi_release(r));

    for (int n = 0; n <= 3; n++) {
        CHECK_OK(rmpi_submit("any_args", a, n, NULL, &r));
        CHECK(tl_take_i64(r) == n);
    }
    CHECK_STATUS2(rmpi_submit("any_args", a, -1, NULL, &r), RMPI_ERR_INVALID_ARG,
                  RMPI_ERR_NARGS);
}

static void check_failed_arg(rmpi_ref_t r, const char *fn, const char *argname)
{
    char msg[512];
    int64_t i;
    CHECK_STATUS(rmpi_get_i64(r, -1, &i), RMPI_ERR_TASK_FAILED);
    tl_error(r, msg, sizeof msg);
    printf("  error: %s\n", msg);
    CHECK_CONTAINS(msg, fn);
    CHECK_CONTAINS(msg, argname);
    CHECK_OK(rmpi_release(r));
}

static void check_task_args(void)
{
    /* Missing. */
    check_failed_arg(rmpi_call("read_arg9", 1, rmpi_i64(1)), "read_arg9", "9");
    check_failed_arg(rmpi_call("read_arg9", 0), "read_arg9", "9");

    /* Bytes, a ref to bytes and an f64 where an i64 is read. */
    rmpi_arg_t a[8];
    for (int i = 0; i < 7; i++)
        a[i] = rmpi_i64(i);
    a[7] = rmpi_bytes("hello", 5);
    rmpi_ref_t r;
    CHECK_OK(rmpi_submit("read_i64_arg7", a, 8, NULL, &r));
    check_failed_arg(r, "read_i64_arg7", "7");

    rmpi_ref_t p;
    CHECK_OK(rmpi_put("hello", 5, &p));
    a[7] = rmpi_ref(p);
    CHECK_OK(rmpi_submit("read_i64_arg7", a, 8, NULL, &r));
    check_failed_arg(r, "read_i64_arg7", "7");
    CHECK_OK(rmpi_release(p));

    a[7] = rmpi_f64(7.0);
    CHECK_OK(rmpi_submit("read_i64_arg7", a, 8, NULL, &r));
    check_failed_arg(r, "read_i64_arg7", "7");

    /* An i64 where an f64 is read. */
    CHECK_OK(rmpi_submit("read_f64_arg6", a, 7, NULL, &r));
    check_failed_arg(r, "read_f64_arg6", "6");
    a[6] = rmpi_f64(6.5);
    CHECK_OK(rmpi_submit("read_f64_arg6", a, 7, NULL, &r));
    double d;
    CHECK_OK(rmpi_get_f64(r, -1, &d));
    CHECK(d == 6.5);
    CHECK_OK(rmpi_release(r));

    /* The task calls check their indexes and pointers. */
    for (int rank = 0; rank < rmpi_size(); rank++) {
        rmpi_arg_t x = rmpi_i64(1);
        r = tl_submit("misuse", &x, 1, rank);
        int64_t v;
        int st = rmpi_get_i64(r, -1, &v);
        if (st != RMPI_OK) {
            char msg[512];
            tl_error(r, msg, sizeof msg);
            tl_fail(__FILE__, __LINE__, "misuse on rank %d: %s: %s", rank,
                    rmpi_status_string(st), msg);
        }
        CHECK(v == 1);
        CHECK_OK(rmpi_release(r));
    }

    for (int which = 0; which < 4; which++) {
        int64_t v = 0;
        r = rmpi_call("bad_return", 1, rmpi_i64(which));
        int st = rmpi_get_i64(r, -1, &v);
        if (st == RMPI_OK) {
            CHECK(v == 1);
        } else {
            char msg[512];
            CHECK_STATUS(st, RMPI_ERR_TASK_FAILED);
            tl_error(r, msg, sizeof msg);
            printf("  bad_return %d: %s\n", which, msg);
            CHECK_MSG(strstr(msg, "wrong status") == NULL, "%s", msg);
        }
        CHECK_OK(rmpi_release(r));
    }

    r = rmpi_call("bad_buffer", 0);
    int64_t v;
    CHECK_STATUS(rmpi_get_i64(r, -1, &v), RMPI_ERR_TASK_FAILED);
    CHECK_OK(rmpi_release(r));
}

static void check_released(void)
{
    rmpi_ref_t p, r, out = sentinel;
    rmpi_view_t v;
    int64_t i;
    int ready, nready;
    char msg[64];

    CHECK_OK(rmpi_put("data", 4, &p));
    CHECK_OK(rmpi_release(p));
    CHECK_STATUS(rmpi_get(p, -1, &v), RMPI_ERR_REF_RELEASED);
    CHECK_STATUS(rmpi_get(p, 0, &v), RMPI_ERR_REF_RELEASED);
    CHECK_STATUS(rmpi_get_i64(p, -1, &i), RMPI_ERR_REF_RELEASED);
    CHECK_STATUS(rmpi_wait(&p, 1, 1, -1, &ready, &nready), RMPI_ERR_REF_RELEASED);
    CHECK_STATUS(rmpi_error_message(p, msg, sizeof msg), RMPI_ERR_REF_RELEASED);
    CHECK_STATUS(rmpi_release(p), RMPI_ERR_REF_RELEASED);
    rmpi_arg_t a = rmpi_ref(p);
    CHECK_STATUS(rmpi_submit("tl_checksum", &a, 1, NULL, &out), RMPI_ERR_REF_RELEASED);
    CHECK(rmpi_ref_equal(out, sentinel));
    r = rmpi_call("tl_checksum", 1, rmpi_ref(p));
    CHECK_STATUS(rmpi_get(r, -1, &v), RMPI_ERR_REF_RELEASED);
    CHECK_OK(rmpi_release(r));

    /* A task's result: released before and after it finished. */
    r = rmpi_call("tl_where", 0);
    CHECK_OK(rmpi_release(r));
    CHECK_STATUS(rmpi_get_i64(r, -1, &i), RMPI_ERR_REF_RELEASED);
    CHECK_STATUS(rmpi_release(r), RMPI_ERR_REF_RELEASED);
    r = rmpi_call("tl_where", 0);
    CHECK_OK(rmpi_get_i64(r, -1, &i));
    CHECK_OK(rmpi_release(r));
    CHECK_STATUS(rmpi_get_i64(r, -1, &i), RMPI_ERR_REF_RELEASED);
    CHECK_STATUS(rmpi_release(r), RMPI_ERR_REF_RELEASED);

    /* A large result stored on another rank. */
    rmpi_arg_t b[2] = { rmpi_i64(1 << 20), rmpi_i64(1) };
    r = tl_submit("tl_pattern", b, 2, rmpi_size() - 1);
    CHECK_OK(rmpi_wait(&r, 1, 1, -1, &ready, &nready));
    CHECK_OK(rmpi_release(r));
    CHECK_STATUS(rmpi_get(r, -1, &v), RMPI_ERR_REF_RELEASED);
    CHECK_STATUS(rmpi_release(r), RMPI_ERR_REF_RELEASED);

    /* One released ref among good ones spoils a wait. */
    rmpi_ref_t good;
    CHECK_OK(rmpi_put("ok", 2, &good));
    rmpi_ref_t two[2] = { good, p };
    int ready2[2];
    CHECK_STATUS(rmpi_wait(two, 2, 1, -1, ready2, &nready), RMPI_ERR_REF_RELEASED);
    CHECK_OK(rmpi_release(good));
}

static void check_nil(void)
{
    rmpi_ref_t nil = RMPI_REF_NIL, out = sentinel;
    rmpi_view_t v;
    int64_t i;
    double d;
    int ready, nready, st;
    char msg[64];

    st = rmpi_get(nil, -1, &v);
    CHECK_MSG(ERR_STATUS_OR_REF(st), "get(NIL): %s", rmpi_status_string(st));
    st = rmpi_get(nil, 0, &v);
    CHECK_MSG(ERR_STATUS_OR_REF(st), "get(NIL, 0): %s", rmpi_status_string(st));
    st = rmpi_get_i64(nil, -1, &i);
    CHECK_MSG(ERR_STATUS_OR_REF(st), "get_i64(NIL): %s", rmpi_status_string(st));
    st = rmpi_get_f64(nil, -1, &d);
    CHECK_MSG(ERR_STATUS_OR_REF(st), "get_f64(NIL): %s", rmpi_status_string(st));
    st = rmpi_release(nil);
    CHECK_MSG(ERR_STATUS_OR_REF(st), "release(NIL): %s", rmpi_status_string(st));
    st = rmpi_wait(&nil, 1, 1, -1, &ready, &nready);
    CHECK_MSG(ERR_STATUS_OR_REF(st), "wait(NIL): %s", rmpi_status_string(st));
    st = rmpi_error_message(nil, msg, sizeof msg);
    CHECK_MSG(ERR_STATUS_OR_REF(st), "error_message(NIL): %s", rmpi_status_string(st));
    CHECK(rmpi_ref_owner(nil) < 0);
    rmpi_arg_t a = rmpi_ref(nil);
    st = rmpi_submit("tl_checksum", &a, 1, NULL, &out);
    CHECK_MSG(ERR_STATUS_OR_REF(st), "submit(ref NIL): %s", rmpi_status_string(st));
    CHECK(rmpi_ref_equal(out, sentinel));
}

static void check_bad_options(void)
{
    rmpi_arg_t a[2] = { rmpi_i64(3), rmpi_i64(1) };
    rmpi_ref_t r[RMPI_MAX_RETURNS + 2];
    rmpi_opts_t o;

    int ranks[] = { rmpi_size(), rmpi_size() + 7, -2, -100 };
    for (size_t k = 0; k < sizeof ranks / sizeof ranks[0]; k++) {
        o = tl_on_rank(ranks[k]);
        r[0] = sentinel;
        CHECK_STATUS(rmpi_submit("two_args", a, 2, &o, r), RMPI_ERR_INVALID_RANK);
        CHECK(rmpi_ref_equal(r[0], sentinel));
    }

    int counts[] = { 0, -1, RMPI_MAX_RETURNS + 1, 1000 };
    for (size_t k = 0; k < sizeof counts / sizeof counts[0]; k++) {
        memset(&o, 0, sizeof o);
        o.field_mask = RMPI_OPT_NUM_RETURNS;
        o.num_returns = counts[k];
        CHECK_STATUS(rmpi_submit("two_args", a, 2, &o, r), RMPI_ERR_INVALID_ARG);
    }

    /* More cpus or gpus than any rank has. */
    memset(&o, 0, sizeof o);
    o.field_mask = RMPI_OPT_CPUS;
    o.cpus = 1e6;
    CHECK_STATUS(rmpi_submit("two_args", a, 2, &o, r), RMPI_ERR_RESOURCES);
    o.field_mask = RMPI_OPT_CPUS | RMPI_OPT_RANK;
    o.rank = 0;
    CHECK_STATUS(rmpi_submit("two_args", a, 2, &o, r), RMPI_ERR_RESOURCES);
    o.field_mask = RMPI_OPT_GPUS;
    o.gpus = 1e6;
    CHECK_STATUS(rmpi_submit("two_args", a, 2, &o, r), RMPI_ERR_RESOURCES);
    o.field_mask = RMPI_OPT_CPUS;
    o.cpus = -1;
    CHECK_STATUS(rmpi_submit("two_args", a, 2, &o, r), RMPI_ERR_INVALID_ARG);
    o.field_mask = RMPI_OPT_GPUS;
    o.gpus = -1;
    CHECK_STATUS(rmpi_submit("two_args", a, 2, &o, r), RMPI_ERR_INVALID_ARG);
    o.field_mask = RMPI_OPT_MAX_RETRIES;
    o.max_retries = -2;
    CHECK_STATUS(rmpi_submit("two_args", a, 2, &o, r), RMPI_ERR_INVALID_ARG);

    /* Still fine afterwards. */
    CHECK_OK(rmpi_submit("two_args", a, 2, NULL, r));
    CHECK(tl_take_i64(r[0]) == 2);
}

static void check_null_pointers(void)
{
    rmpi_arg_t a[2] = { rmpi_i64(3), rmpi_i64(1) };
    rmpi_ref_t r, p;
    rmpi_view_t v;
    int ready[2], nready;
    char buf[64];

    CHECK_STATUS(rmpi_submit(NULL, a, 2, NULL, &r), RMPI_ERR_INVALID_ARG);
    CHECK_STATUS(rmpi_submit("two_args", NULL, 2, NULL, &r), RMPI_ERR_INVALID_ARG);
    CHECK_STATUS(rmpi_submit("two_args", a, 2, NULL, NULL), RMPI_ERR_INVALID_ARG);
    CHECK_STATUS2(rmpi_submit("two_args", a, -1, NULL, &r), RMPI_ERR_INVALID_ARG,
                  RMPI_ERR_NARGS);
    rmpi_arg_t nullbytes = rmpi_bytes(NULL, 10);
    CHECK_STATUS(rmpi_submit("any_args", &nullbytes, 1, NULL, &r), RMPI_ERR_INVALID_ARG);
    rmpi_arg_t badtype;
    memset(&badtype, 0, sizeof badtype);
    badtype.type = 99;
    CHECK_STATUS(rmpi_submit("any_args", &badtype, 1, NULL, &r), RMPI_ERR_INVALID_ARG);

    r = rmpi_call(NULL, 0);
    CHECK_STATUS2(rmpi_get(r, -1, &v), RMPI_ERR_INVALID_ARG, RMPI_ERR_UNKNOWN_FUNCTION);
    rmpi_release(r);
    r = rmpi_call("any_args", 1, rmpi_bytes(NULL, 10));
    CHECK_STATUS(rmpi_get(r, -1, &v), RMPI_ERR_INVALID_ARG);
    rmpi_release(r);

    CHECK_STATUS(rmpi_put(NULL, 10, &p), RMPI_ERR_INVALID_ARG);
    CHECK_STATUS(rmpi_put("x", 1, NULL), RMPI_ERR_INVALID_ARG);
    CHECK_STATUS(rmpi_put_mem(NULL, 10, RMPI_MEM_HOST, &p), RMPI_ERR_INVALID_ARG);
    CHECK_STATUS(rmpi_put_mem("x", 1, RMPI_MEM_HOST, NULL), RMPI_ERR_INVALID_ARG);

    CHECK_OK(rmpi_put("12345678", 8, &p));
    CHECK_STATUS(rmpi_get(p, -1, NULL), RMPI_ERR_INVALID_ARG);
    CHECK_STATUS(rmpi_get_i64(p, -1, NULL), RMPI_ERR_INVALID_ARG);
    CHECK_STATUS(rmpi_get_f64(p, -1, NULL), RMPI_ERR_INVALID_ARG);
    CHECK_STATUS(rmpi_wait(NULL, 1, 1, -1, ready, &nready), RMPI_ERR_INVALID_ARG);
    CHECK_STATUS(rmpi_wait(&p, 1, 1, -1, NULL, &nready), RMPI_ERR_INVALID_ARG);
    CHECK_STATUS(rmpi_wait(&p, 1, 1, -1, ready, NULL), RMPI_ERR_INVALID_ARG);
    CHECK_STATUS(rmpi_wait(&p, 1, 2, -1, ready, &nready), RMPI_ERR_INVALID_ARG);
    CHECK_STATUS(rmpi_wait(&p, 1, -1, -1, ready, &nready), RMPI_ERR_INVALID_ARG);
    CHECK_STATUS(rmpi_wait(&p, -1, 0, -1, ready, &nready), RMPI_ERR_INVALID_ARG);
    rmpi_ref_t f = rmpi_call("read_arg9", 0);
    CHECK_STATUS(rmpi_error_message(f, NULL, 64), RMPI_ERR_INVALID_ARG);
    CHECK_STATUS(rmpi_error_message(f, buf, 0), RMPI_ERR_INVALID_ARG);
    CHECK_OK(rmpi_release(f));
    CHECK_STATUS(rmpi_stats(NULL), RMPI_ERR_INVALID_ARG);
    CHECK_STATUS(rmpi_peer_transports(0, NULL, 64), RMPI_ERR_INVALID_ARG);
    CHECK_STATUS(rmpi_peer_transports(0, buf, 0), RMPI_ERR_INVALID_ARG);
    CHECK_STATUS(rmpi_peer_transports(-1, buf, sizeof buf), RMPI_ERR_INVALID_RANK);
    CHECK_STATUS(rmpi_peer_transports(rmpi_size(), buf, sizeof buf), RMPI_ERR_INVALID_RANK);
    CHECK_OK(rmpi_release(p));

    /* An absurd size is refused before the data is read. */
    CHECK_STATUS(rmpi_put("x", (size_t)1 << 60, &p), RMPI_ERR_TOO_LARGE);
}

static void check_outside_task(void)
{
    const void *data;
    size_t size;
    rmpi_actor_t a;
    CHECK(rmpi_task_current() == NULL);
    CHECK(rmpi_task_nargs(NULL) < 0);
    CHECK(rmpi_task_num_returns(NULL) < 0);
    CHECK(rmpi_task_arg_type(NULL, 0) < 0);
    CHECK_STATUS2(rmpi_task_arg(NULL, 0, &data, &size), RMPI_ERR_NOT_IN_TASK,
                  RMPI_ERR_INVALID_ARG);
    CHECK(rmpi_task_arg_i64(NULL, 0) == 0);
    CHECK(rmpi_task_arg_f64(NULL, 0) == 0);
    CHECK_STATUS2(rmpi_task_arg_actor(NULL, 0, &a), RMPI_ERR_NOT_IN_TASK,
                  RMPI_ERR_INVALID_ARG);
    CHECK_STATUS2(rmpi_task_return(NULL, 0, "x", 1), RMPI_ERR_NOT_IN_TASK,
                  RMPI_ERR_INVALID_ARG);
    CHECK_STATUS2(rmpi_task_return_i64(NULL, 0, 1), RMPI_ERR_NOT_IN_TASK,
                  RMPI_ERR_INVALID_ARG);
    CHECK_STATUS2(rmpi_task_return_f64(NULL, 0, 1), RMPI_ERR_NOT_IN_TASK,
                  RMPI_ERR_INVALID_ARG);
    CHECK(rmpi_task_return_buffer(NULL, 0, 8) == NULL);
    CHECK(rmpi_task_fail(NULL, "not in a task") < 0);
}

int main(int argc, char **argv)
{
    CHECK_OK(rmpi_register_nargs("three_args", three_args, 3));
    CHECK_OK(rmpi_register("registered_by_hand", registered_by_hand));

    tl_start(&argc, &argv);
    RUN(check_unknown_function);
    RUN(check_nargs);
    RUN(check_task_args);
    RUN(check_released);
    RUN(check_nil);
    RUN(check_bad_options);
    RUN(check_null_pointers);
    RUN(check_outside_task);
    /* After all that, the runtime still runs tasks everywhere. */
    for (int rank = 0; rank < rmpi_size(); rank++)
        CHECK(tl_take_i64(tl_submit("tl_where", NULL, 0, rank)) == rank);
    return tl_end();
}
