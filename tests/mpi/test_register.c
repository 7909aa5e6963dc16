/*
 * test_register.c - what holds before rmpi_init: registration and its errors
 * (NULL name or function, bad argument count, a name taken twice), rmpi_rank
 * and rmpi_size, rmpi_status_string, and RMPI_ERR_NOT_INITIALIZED from every
 * call that needs the runtime.  It never starts the runtime.
 */
#include "testlib.h"

static int fn_a(rmpi_task_t *t)
{
    return rmpi_task_return_i64(t, 0, 1);
}

static int fn_b(rmpi_task_t *t)
{
    return rmpi_task_return_i64(t, 0, 2);
}

static void check_register(void)
{
    CHECK_OK(rmpi_register("fn_a", fn_a));
    CHECK_STATUS(rmpi_register("fn_a", fn_a), RMPI_ERR_NAME_EXISTS);
    CHECK_STATUS(rmpi_register("fn_a", fn_b), RMPI_ERR_NAME_EXISTS);
    CHECK_STATUS(rmpi_register_nargs("fn_a", fn_b, 1), RMPI_ERR_NAME_EXISTS);
    CHECK_OK(rmpi_register("fn_a2", fn_a));   /* one function under two names */
    CHECK_OK(rmpi_register_nargs("fn_b", fn_b, 2));
    CHECK_OK(rmpi_register_nargs("fn_any", fn_b, RMPI_NARGS_ANY));
    CHECK_OK(rmpi_register_nargs("fn_none", fn_b, 0));
    CHECK_STATUS(rmpi_register(NULL, fn_a), RMPI_ERR_INVALID_ARG);
    CHECK_STATUS(rmpi_register("fn_null", NULL), RMPI_ERR_INVALID_ARG);
    CHECK_STATUS(rmpi_register("", fn_a), RMPI_ERR_INVALID_ARG);
    CHECK_STATUS(rmpi_register_nargs(NULL, fn_a, 1), RMPI_ERR_INVALID_ARG);
    CHECK_STATUS(rmpi_register_nargs("fn_c", NULL, 1), RMPI_ERR_INVALID_ARG);
    CHECK_STATUS(rmpi_register_nargs("fn_c", fn_a, -2), RMPI_ERR_INVALID_ARG);
    /* A long name. */
    char name[200];
    memset(name, 'n', sizeof name - 1);
    name[sizeof name - 1] = '\0';
    CHECK_OK(rmpi_register(name, fn_a));
    CHECK_STATUS(rmpi_register(name, fn_a), RMPI_ERR_NAME_EXISTS);
}

static void check_not_initialized(void)
{
    rmpi_ref_t r = { 1, 1 };
    rmpi_view_t v;
    rmpi_stats_t s;
    int64_t i;
    double d;
    int ready, nready;
    char buf[64];

    CHECK(rmpi_rank() == -1);
    CHECK(rmpi_size() == 0);
    CHECK(rmpi_task_current() == NULL);
    CHECK_CONTAINS(rmpi_status_string(RMPI_ERR_NOT_INITIALIZED), "RMPI_ERR_NOT_INITIALIZED");

    CHECK_STATUS(rmpi_put("x", 1, &r), RMPI_ERR_NOT_INITIALIZED);
    CHECK_STATUS(rmpi_put_mem("x", 1, RMPI_MEM_HOST, &r), RMPI_ERR_NOT_INITIALIZED);
    rmpi_arg_t a = rmpi_i64(1);
    CHECK_STATUS(rmpi_submit("fn_a", &a, 1, NULL, &r), RMPI_ERR_NOT_INITIALIZED);
    CHECK_STATUS(rmpi_get(r, 0, &v), RMPI_ERR_NOT_INITIALIZED);
    CHECK_STATUS(rmpi_get_i64(r, 0, &i), RMPI_ERR_NOT_INITIALIZED);
    CHECK_STATUS(rmpi_get_f64(r, 0, &d), RMPI_ERR_NOT_INITIALIZED);
    CHECK_STATUS(rmpi_wait(&r, 1, 1, 0, &ready, &nready), RMPI_ERR_NOT_INITIALIZED);
    CHECK_STATUS(rmpi_release(r), RMPI_ERR_NOT_INITIALIZED);
    CHECK_STATUS(rmpi_error_message(r, buf, sizeof buf), RMPI_ERR_NOT_INITIALIZED);
    CHECK_STATUS(rmpi_stats(&s), RMPI_ERR_NOT_INITIALIZED);
    CHECK_STATUS(rmpi_peer_transports(0, buf, sizeof buf), RMPI_ERR_NOT_INITIALIZED);
    CHECK_STATUS(rmpi_finalize(), RMPI_ERR_NOT_INITIALIZED);

    /* rmpi_call has no status to return: its ref carries the error. */
    rmpi_ref_t c = rmpi_call("fn_a", 0);
    CHECK_STATUS(rmpi_get(c, 0, &v), RMPI_ERR_NOT_INITIALIZED);

    rmpi_view_t z;
    memset(&z, 0, sizeof z);
    rmpi_view_release(&z);
}

int main(void)
{
    RUN(check_register);
    RUN(check_not_initialized);
    printf("PASS\n");
    return 0;
}
