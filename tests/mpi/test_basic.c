/*
 * test_basic.c - submission and arguments: rmpi_call and rmpi_submit with bytes,
 * i64, f64, ref and actor-handle arguments, several return values, the cpus,
 * gpus, max_retries and rank options, placement on each rank, rmpi_ref_owner,
 * rmpi_ref_equal, rmpi_rank/rmpi_size, rmpi_stats, rmpi_status_string, and the
 * calls that only make sense before rmpi_init.
 */
#include "testlib.h"

/* echo(x) -> the bytes of argument 0 */
static int echo(rmpi_task_t *t)
{
    const void *data;
    size_t size;
    int st = rmpi_task_arg(t, 0, &data, &size);
    if (st != RMPI_OK)
        return rmpi_task_fail(t, "argument 0: %s", rmpi_status_string(st));
    return rmpi_task_return(t, 0, data, size);
}
RMPI_REMOTE(echo);

/* add_i64(a: i64, b: i64) -> a + b */
static int add_i64(rmpi_task_t *t)
{
    return rmpi_task_return_i64(t, 0, rmpi_task_arg_i64(t, 0) + rmpi_task_arg_i64(t, 1));
}
RMPI_REMOTE(add_i64);

/* mul_f64(a: f64, b: f64) -> a * b */
static int mul_f64(rmpi_task_t *t)
{
    return rmpi_task_return_f64(t, 0, rmpi_task_arg_f64(t, 0) * rmpi_task_arg_f64(t, 1));
}
RMPI_REMOTE(mul_f64);

/* describe(...) -> i64[1 + 2 * nargs]: nargs, then each argument's type and size.
 * Fails unless rmpi_task_current() is the task. */
static int describe(rmpi_task_t *t)
{
    if (rmpi_task_current() != t)
        return rmpi_task_fail(t, "rmpi_task_current() is not the running task");
    int n = rmpi_task_nargs(t);
    if (n < 0 || n > 16)
        return rmpi_task_fail(t, "rmpi_task_nargs: %d", n);
    int64_t out[1 + 2 * 16];
    out[0] = n;
    for (int i = 0; i < n; i++) {
        const void *data;
        size_t size;
        int st = rmpi_task_arg(t, i, &data, &size);
        if (st != RMPI_OK)
            return rmpi_task_fail(t, "argument %d: %s", i, rmpi_status_string(st));
        out[1 + 2 * i] = rmpi_task_arg_type(t, i);
        out[2 + 2 * i] = (int64_t)size;
    }
    return rmpi_task_return(t, 0, out, sizeof(int64_t) * (size_t)(1 + 2 * n));
}
RMPI_REMOTE(describe);

/* multi() -> num_returns values: value i is the i64 10*i+1 for even i; odd ones
 * are never set, so they must come back empty. */
static int multi(rmpi_task_t *t)
{
    int n = rmpi_task_num_returns(t);
    for (int i = 0; i < n; i += 2) {
        int st = rmpi_task_return_i64(t, i, 10 * i + 1);
        if (st != RMPI_OK)
            return rmpi_task_fail(t, "return %d: %s", i, rmpi_status_string(st));
    }
    return RMPI_OK;
}
RMPI_REMOTE(multi);

/* actor_sum(a: actor) -> hi + lo of the handle, checking its type. */
static int actor_sum(rmpi_task_t *t)
{
    rmpi_actor_t a;
    if (rmpi_task_arg_type(t, 0) != RMPI_ARG_ACTOR)
        return rmpi_task_fail(t, "argument 0 has type %d", rmpi_task_arg_type(t, 0));
    int st = rmpi_task_arg_actor(t, 0, &a);
    if (st != RMPI_OK)
        return rmpi_task_fail(t, "rmpi_task_arg_actor: %s", rmpi_status_string(st));
    return rmpi_task_return_i64(t, 0, (int64_t)(a.hi + a.lo));
}
RMPI_REMOTE(actor_sum);

/* owners() -> i64[3]: this rank, the owner of an object it puts and the owner
 * of a task it submits (both must be this rank). */
static int owners(rmpi_task_t *t)
{
    rmpi_ref_t p, s;
    int64_t v = 7, out[3];
    int st = rmpi_put(&v, sizeof v, &p);
    if (st != RMPI_OK)
        return rmpi_task_fail(t, "rmpi_put: %s", rmpi_status_string(st));
    s = rmpi_call("tl_where", 0);
    out[0] = rmpi_rank();
    out[1] = rmpi_ref_owner(p);
    out[2] = rmpi_ref_owner(s);
    int64_t where = -1;
    st = rmpi_get_i64(s, -1, &where);
    rmpi_release(p);
    rmpi_release(s);
    if (st != RMPI_OK)
        return rmpi_task_fail(t, "nested tl_where: %s", rmpi_status_string(st));
    return rmpi_task_return(t, 0, out, sizeof out);
}
RMPI_REMOTE(owners);

static int unregistered(rmpi_task_t *t)
{
    return rmpi_task_return_i64(t, 0, 0);
}

/* ------------------------------------------------------------------------------ */

static void check_status_strings(void)
{
#define CHECK_NAME_(name, value, text)                                               \
    CHECK_MSG(strncmp(rmpi_status_string(value), #name, strlen(#name)) == 0,         \
              "rmpi_status_string(%d) = \"%s\"", value, rmpi_status_string(value));  \
    CHECK_CONTAINS(rmpi_status_string(value), text);
    RMPI_STATUS_LIST(CHECK_NAME_)
#undef CHECK_NAME_
    CHECK(rmpi_status_string(-12345) != NULL);
    CHECK(rmpi_status_string(12345) != NULL);
}

static void check_rank_size(void)
{
    CHECK(rmpi_rank() == 0);
    const char *env = getenv("OMPI_COMM_WORLD_SIZE");
    if (env == NULL)
        env = getenv("PMIX_SIZE");   /* not always set; then nothing to compare */
    if (env != NULL)
        CHECK_MSG(rmpi_size() == atoi(env), "rmpi_size() %d, job of %s", rmpi_size(), env);
    else if (getenv("OMPI_COMM_WORLD_RANK") == NULL && getenv("PMIX_RANK") == NULL)
        CHECK(rmpi_size() == 1);     /* started alone: a singleton */
    printf("ranks: %d\n", rmpi_size());
}

static void check_after_init(void)
{
    CHECK_STATUS(rmpi_register("unregistered", unregistered), RMPI_ERR_ALREADY_INITIALIZED);
    CHECK_STATUS(rmpi_register_nargs("unregistered", unregistered, 0),
                 RMPI_ERR_ALREADY_INITIALIZED);
    int argc = 1;
    char *args[] = { "test_basic", NULL }, **argv = args;
    CHECK_STATUS(rmpi_init(&argc, &argv), RMPI_ERR_ALREADY_INITIALIZED);
    CHECK(rmpi_rank() == 0);
    CHECK(rmpi_task_current() == NULL);   /* the driver is not a task */
}

static void check_scalars(void)
{
    CHECK(tl_take_i64(rmpi_call("add_i64", 2, rmpi_i64(40), rmpi_i64(2))) == 42);
    CHECK(tl_take_i64(rmpi_call("add_i64", 2, rmpi_i64(INT64_MAX - 1), rmpi_i64(1))) ==
          INT64_MAX);
    CHECK(tl_take_i64(rmpi_call("add_i64", 2, rmpi_i64(-5), rmpi_i64(-6))) == -11);

    rmpi_ref_t r = rmpi_call("mul_f64", 2, rmpi_f64(1.5), rmpi_f64(-0.25));
    double d = 0;
    CHECK_OK(rmpi_get_f64(r, -1, &d));
    CHECK(d == -0.375);
    CHECK_OK(rmpi_release(r));

    /* Scalars read as 8 bytes with rmpi_task_arg, and their type is kept. */
    r = rmpi_call("describe", 3, rmpi_i64(1), rmpi_f64(2.0), rmpi_bytes("abc", 3));
    rmpi_view_t v;
    CHECK_OK(rmpi_get(r, -1, &v));
    CHECK(v.size == 7 * sizeof(int64_t));
    CHECK(v.mem_type == RMPI_MEM_HOST);
    int64_t want[7] = { 3, RMPI_ARG_I64, 8, RMPI_ARG_F64, 8, RMPI_ARG_BYTES, 3 };
    CHECK(memcmp(v.data, want, sizeof want) == 0);
    rmpi_view_release(&v);
    CHECK_OK(rmpi_release(r));

    /* No arguments at all. */
    r = rmpi_call("describe", 0);
    CHECK_OK(rmpi_get(r, -1, &v));
    CHECK(v.size == sizeof(int64_t) && *(const int64_t *)v.data == 0);
    rmpi_view_release(&v);
    CHECK_OK(rmpi_release(r));
}

static void check_bytes(void)
{
    /* Bytes are copied at submission: changing the buffer afterwards is safe. */
    char buf[32] = "hello, ranks";
    rmpi_ref_t r = rmpi_call("echo", 1, rmpi_bytes(buf, 13));
    memset(buf, 'x', sizeof buf);
    rmpi_view_t v;
    CHECK_OK(rmpi_get(r, -1, &v));
    CHECK(v.size == 13 && memcmp(v.data, "hello, ranks", 13) == 0);
    rmpi_view_release(&v);
    CHECK_OK(rmpi_release(r));

    /* Empty bytes. */
    r = rmpi_call("echo", 1, rmpi_bytes("", 0));
    CHECK_OK(rmpi_get(r, -1, &v));
    CHECK(v.size == 0);
    rmpi_view_release(&v);
    CHECK_OK(rmpi_release(r));

    /* Bytes larger than the inline limit (100 KiB), to every rank. */
    size_t n = 300 * 1024;
    char *big = malloc(n);
    CHECK(big != NULL);
    for (int rank = 0; rank < rmpi_size(); rank++) {
        tl_fill(big, n, (uint64_t)rank);
        rmpi_arg_t a = rmpi_bytes(big, n);
        r = tl_submit("echo", &a, 1, rank);
        memset(big, 0, n);
        CHECK_OK(rmpi_get(r, -1, &v));
        CHECK(v.size == n);
        CHECK(tl_check_pattern(v.data, n, (uint64_t)rank) == -1);
        rmpi_view_release(&v);
        CHECK_OK(rmpi_release(r));
    }
    free(big);
}

static void check_refs(void)
{
    /* A put object as an argument, read as bytes with type REF. */
    int64_t data[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };
    rmpi_ref_t p;
    CHECK_OK(rmpi_put(data, sizeof data, &p));
    CHECK(rmpi_ref_owner(p) == 0);
    for (int rank = 0; rank < rmpi_size(); rank++) {
        rmpi_arg_t a[2] = { rmpi_ref(p), rmpi_i64(rank) };
        rmpi_ref_t r = tl_submit("describe", a, 2, rank);
        rmpi_view_t v;
        CHECK_OK(rmpi_get(r, -1, &v));
        int64_t want[5] = { 2, RMPI_ARG_REF, sizeof data, RMPI_ARG_I64, 8 };
        CHECK(v.size == sizeof want && memcmp(v.data, want, sizeof want) == 0);
        rmpi_view_release(&v);
        CHECK_OK(rmpi_release(r));

        r = tl_submit("echo", a, 1, rank);
        CHECK_OK(rmpi_get(r, -1, &v));
        CHECK(v.size == sizeof data && memcmp(v.data, data, sizeof data) == 0);
        rmpi_view_release(&v);
        CHECK_OK(rmpi_release(r));
    }
    CHECK_OK(rmpi_release(p));

    /* A task's result as another task's argument: a chain of three. */
    rmpi_ref_t a = rmpi_call("add_i64", 2, rmpi_i64(1), rmpi_i64(2));
    rmpi_ref_t b = rmpi_call("echo", 1, rmpi_ref(a));
    rmpi_ref_t c = rmpi_call("echo", 1, rmpi_ref(b));
    CHECK_OK(rmpi_release(a));   /* the tasks that depend on a keep it alive */
    CHECK_OK(rmpi_release(b));
    CHECK(tl_take_i64(c) == 3);

    /* rmpi_ref_equal. */
    rmpi_ref_t x, y;
    CHECK_OK(rmpi_put("x", 1, &x));
    CHECK_OK(rmpi_put("x", 1, &y));
    rmpi_ref_t x2 = x;
    CHECK(rmpi_ref_equal(x, x2));
    CHECK(!rmpi_ref_equal(x, y));
    CHECK(!rmpi_ref_equal(x, RMPI_REF_NIL));
    CHECK_OK(rmpi_release(x));
    CHECK_OK(rmpi_release(y));
}

/* A ref's value holding an 8-byte integer reads as an i64 argument. */
static void check_scalar_from_ref(void)
{
    rmpi_ref_t a = rmpi_call("add_i64", 2, rmpi_i64(20), rmpi_i64(1));
    rmpi_ref_t b = rmpi_call("add_i64", 2, rmpi_ref(a), rmpi_i64(21));
    CHECK(tl_take_i64(b) == 42);
    CHECK_OK(rmpi_release(a));
}

static void check_actor_handle(void)
{
    rmpi_actor_t h = { 40, 2 };
    rmpi_ref_t r = rmpi_call("actor_sum", 1, rmpi_actor_arg(h));
    CHECK(tl_take_i64(r) == 42);
}

static void check_num_returns(void)
{
    int counts[] = { 1, 2, 3, 17, RMPI_MAX_RETURNS };
    for (size_t c = 0; c < sizeof counts / sizeof counts[0]; c++) {
        int n = counts[c];
        rmpi_opts_t o;
        memset(&o, 0, sizeof o);
        o.field_mask = RMPI_OPT_NUM_RETURNS;
        o.num_returns = n;
        rmpi_ref_t refs[RMPI_MAX_RETURNS + 1];
        memset(refs, 0, sizeof refs);
        CHECK_OK(rmpi_submit("multi", NULL, 0, &o, refs));
        CHECK(rmpi_ref_equal(refs[n], RMPI_REF_NIL));   /* wrote exactly n refs */
        for (int i = 0; i < n; i++)
            for (int j = i + 1; j < n; j++)
                CHECK(!rmpi_ref_equal(refs[i], refs[j]));
        for (int i = 0; i < n; i++) {
            rmpi_view_t v;
            CHECK_OK(rmpi_get(refs[i], -1, &v));
            if (i % 2 == 0) {
                int64_t x;
                CHECK(v.size == 8);
                memcpy(&x, v.data, 8);
                CHECK(x == 10 * i + 1);
            } else {
                CHECK_MSG(v.size == 0, "unset return %d of %d has %zu bytes", i, n, v.size);
            }
            rmpi_view_release(&v);
            CHECK_OK(rmpi_release(refs[i]));
        }
    }
}

static void check_options(void)
{
    int max_cpus = 0;
    for (int rank = 0; rank < rmpi_size(); rank++) {
        int c = (int)tl_rank_stat(rank, TL_STAT_NUM_CPUS);
        CHECK(c >= 1);
        if (c > max_cpus)
            max_cpus = c;
    }
    double cpus[] = { 0.5, 1, (double)max_cpus };
    for (size_t i = 0; i < sizeof cpus / sizeof cpus[0]; i++) {
        rmpi_opts_t o;
        memset(&o, 0, sizeof o);
        o.field_mask = RMPI_OPT_CPUS;
        o.cpus = cpus[i];
        rmpi_arg_t a[2] = { rmpi_i64(1), rmpi_i64((int64_t)i) };
        rmpi_ref_t r;
        CHECK_OK(rmpi_submit("add_i64", a, 2, &o, &r));
        CHECK(tl_take_i64(r) == 1 + (int64_t)i);
    }

    /* Every field at once, with default-like values. */
    rmpi_opts_t o;
    memset(&o, 0, sizeof o);
    o.field_mask = RMPI_OPT_NUM_RETURNS | RMPI_OPT_CPUS | RMPI_OPT_GPUS |
                   RMPI_OPT_MAX_RETRIES | RMPI_OPT_RANK;
    o.num_returns = 1;
    o.cpus = 1;
    o.gpus = 0;
    o.max_retries = 0;
    o.rank = RMPI_ANY_RANK;
    rmpi_arg_t a[2] = { rmpi_i64(5), rmpi_i64(6) };
    rmpi_ref_t r;
    CHECK_OK(rmpi_submit("add_i64", a, 2, &o, &r));
    CHECK(tl_take_i64(r) == 11);

    /* Fields not named in field_mask are not read: garbage there is harmless. */
    memset(&o, 0xff, sizeof o);
    o.field_mask = 0;
    CHECK_OK(rmpi_submit("add_i64", a, 2, &o, &r));
    CHECK(tl_take_i64(r) == 11);
}

static void check_placement(void)
{
    for (int rank = 0; rank < rmpi_size(); rank++) {
        rmpi_ref_t r = tl_submit("tl_where", NULL, 0, rank);
        CHECK(rmpi_ref_owner(r) == 0);   /* the submitter owns the result */
        CHECK_MSG(tl_take_i64(r) == rank, "task pinned to rank %d ran elsewhere", rank);
        CHECK(tl_rank_stat(rank, TL_STAT_RANK) == rank);

        /* Objects put and tasks submitted by a task on rank are owned by rank. */
        r = tl_submit("owners", NULL, 0, rank);
        rmpi_view_t v;
        CHECK_OK(rmpi_get(r, -1, &v));
        CHECK(v.size == 3 * sizeof(int64_t));
        const int64_t *o = v.data;
        CHECK(o[0] == rank && o[1] == rank && o[2] == rank);
        rmpi_view_release(&v);
        CHECK_OK(rmpi_release(r));
    }
    /* Unpinned tasks run somewhere in the job. */
    for (int i = 0; i < 4 * rmpi_size(); i++) {
        int64_t where = tl_take_i64(rmpi_call("tl_where", 0));
        CHECK(where >= 0 && where < rmpi_size());
    }
}

static void check_stats(void)
{
    rmpi_stats_t s0, s1;
    CHECK_OK(rmpi_stats(&s0));
    CHECK(s0.num_cpus >= 1);
    CHECK(s0.store_capacity > 0);
    CHECK(s0.store_bytes <= s0.store_capacity);
    for (int i = 0; i < 10; i++)
        CHECK(tl_take_i64(rmpi_call("add_i64", 2, rmpi_i64(i), rmpi_i64(i))) == 2 * i);
    CHECK_OK(rmpi_stats(&s1));
    CHECK(s1.tasks_submitted >= s0.tasks_submitted + 10);

    int64_t executed = 0;
    for (int rank = 0; rank < rmpi_size(); rank++)
        executed += tl_rank_stat(rank, TL_STAT_TASKS_EXECUTED);
    CHECK(executed >= 10);

    /* A put's bytes show in the store. */
    char buf[200 * 1024];
    tl_fill(buf, sizeof buf, 3);
    rmpi_ref_t p;
    CHECK_OK(rmpi_put(buf, sizeof buf, &p));
    CHECK_OK(rmpi_stats(&s1));
    CHECK(s1.store_bytes >= s0.store_bytes + sizeof buf);
    CHECK(s1.store_objects >= 1);
    CHECK(s1.owned_objects >= 1);
    CHECK_OK(rmpi_release(p));

    if (rmpi_size() > 1) {
        /* Moving a large result between ranks counts bytes on both sides. */
        rmpi_arg_t a[2] = { rmpi_i64(1 << 20), rmpi_i64(1) };
        rmpi_ref_t r = tl_submit("tl_pattern", a, 2, 1);
        rmpi_view_t v;
        CHECK_OK(rmpi_get(r, -1, &v));
        rmpi_view_release(&v);
        CHECK_OK(rmpi_release(r));
        CHECK_OK(rmpi_stats(&s1));
        CHECK(s1.bytes_received >= s0.bytes_received + (1 << 20));
        CHECK(s1.bytes_sent > s0.bytes_sent);
    }
}

static void check_put_mem(void)
{
    rmpi_ref_t r;
    int64_t v = 99, out = 0;
    CHECK_OK(rmpi_put_mem(&v, sizeof v, RMPI_MEM_HOST, &r));
    CHECK_OK(rmpi_get_i64(r, -1, &out));
    CHECK(out == 99);
    CHECK_OK(rmpi_release(r));
    /* This build has no GPU objects (and &v is no device pointer anyway). */
    CHECK_STATUS2(rmpi_put_mem(&v, sizeof v, RMPI_MEM_CUDA, &r), RMPI_ERR_NOT_SUPPORTED,
                  RMPI_ERR_INVALID_ARG);
    CHECK_STATUS(rmpi_put_mem(&v, sizeof v, 7, &r), RMPI_ERR_INVALID_ARG);
}

int main(int argc, char **argv)
{
    /* Before rmpi_init. */
    CHECK(rmpi_rank() == -1);
    CHECK(rmpi_size() == 0);

    tl_start(&argc, &argv);
    RUN(check_status_strings);
    RUN(check_rank_size);
    RUN(check_after_init);
    RUN(check_scalars);
    RUN(check_bytes);
    RUN(check_refs);
    RUN(check_scalar_from_ref);
    RUN(check_actor_handle);
    RUN(check_num_returns);
    RUN(check_options);
    RUN(check_placement);
    RUN(check_stats);
    RUN(check_put_mem);
    return tl_end();
}
