/*
 * test_actors.c - actors: create, call and get; state kept between calls;
 * constructor and method arguments of every kind (i64, f64, bytes, refs,
 * actor handles); calls made before the constructor finished; several return
 * values; placement (rmpi_actor_rank, opts.rank) on every rank; handles passed
 * to tasks and to other actors, which call the actor from every rank; methods
 * that submit tasks and call other actors; actors created inside tasks; named
 * actors (rmpi_actor_lookup from the driver and from tasks, get_if_exists);
 * submission order of the calls of one caller, also when earlier calls wait
 * for slow ref arguments and when callers on every rank call at once;
 * max_concurrency (1 runs one call at a time, N runs N at once); the cpus an
 * actor holds while it lives.  (test_actor_errors.c: failures, kill, limits.)
 */
#include "testlib.h"

#include <stdatomic.h>

/* ------------------------------------------------------------------------------
 * Helpers for the driver
 * ------------------------------------------------------------------------------ */

static rmpi_actor_opts_t actor_on(int rank)
{
    rmpi_actor_opts_t o;
    memset(&o, 0, sizeof o);
    o.field_mask = RMPI_ACTOR_OPT_RANK;
    o.rank = rank;
    return o;
}

/* Create an actor of cls (on rank, or anywhere for RMPI_ANY_RANK). */
static rmpi_actor_t create_on(const char *cls, const rmpi_arg_t *args, int nargs, int rank)
{
    rmpi_actor_t a;
    rmpi_actor_opts_t o = actor_on(rank);
    CHECK_OK(rmpi_actor_create(cls, args, nargs, rank == RMPI_ANY_RANK ? NULL : &o, &a));
    return a;
}

/* Call method with one return value. */
static rmpi_ref_t call(rmpi_actor_t a, const char *method, const rmpi_arg_t *args, int nargs)
{
    rmpi_ref_t r;
    CHECK_OK(rmpi_actor_call(a, method, args, nargs, NULL, &r));
    return r;
}

/* Call method and take its i64 result. */
static int64_t call_i64(rmpi_actor_t a, const char *method, const rmpi_arg_t *args, int nargs)
{
    return tl_take_i64(call(a, method, args, nargs));
}

static int same_actor(rmpi_actor_t a, rmpi_actor_t b)
{
    return memcmp(&a, &b, sizeof a) == 0;
}

/* ------------------------------------------------------------------------------
 * Counter(start: i64 [, delay_ms: i64]): an i64 that methods change.  The
 * constructor sleeps delay_ms first, so calls queue behind it.
 * ------------------------------------------------------------------------------ */

typedef struct {
    int64_t value;
} counter_t;

static void *counter_new(rmpi_task_t *t)
{
    int n = rmpi_task_nargs(t);
    if (n < 1 || n > 2) {
        rmpi_task_fail(t, "Counter takes start [, delay_ms], not %d arguments", n);
        return NULL;
    }
    int64_t start = rmpi_task_arg_i64(t, 0);
    if (n == 2)
        tl_sleep_s((double)rmpi_task_arg_i64(t, 1) / 1000.0);
    counter_t *c = malloc(sizeof *c);
    if (c == NULL) {
        rmpi_task_fail(t, "malloc");
        return NULL;
    }
    c->value = start;
    return c;
}

static void counter_free(void *state)
{
    free(state);
}

/* incr(by: i64) -> i64 the new value */
static int counter_incr(void *state, rmpi_task_t *t)
{
    counter_t *c = state;
    c->value += rmpi_task_arg_i64(t, 0);
    return rmpi_task_return_i64(t, 0, c->value);
}

/* get() -> i64 */
static int counter_get(void *state, rmpi_task_t *t)
{
    return rmpi_task_return_i64(t, 0, ((counter_t *)state)->value);
}

/* where() -> i64 the rank the actor runs on */
static int counter_where(void *state, rmpi_task_t *t)
{
    (void)state;
    return rmpi_task_return_i64(t, 0, rmpi_rank());
}

/* pair() -> value, -value (two return values) */
static int counter_pair(void *state, rmpi_task_t *t)
{
    int64_t v = ((counter_t *)state)->value;
    if (rmpi_task_num_returns(t) != 2)
        return rmpi_task_fail(t, "pair wants 2 return values, got %d", rmpi_task_num_returns(t));
    int st = rmpi_task_return_i64(t, 0, v);
    return st != RMPI_OK ? st : rmpi_task_return_i64(t, 1, -v);
}

/* echo(x) -> the bytes of argument 0 */
static int counter_echo(void *state, rmpi_task_t *t)
{
    (void)state;
    const void *data;
    size_t size;
    int st = rmpi_task_arg(t, 0, &data, &size);
    if (st != RMPI_OK)
        return rmpi_task_fail(t, "argument 0: %s", rmpi_status_string(st));
    return rmpi_task_return(t, 0, data, size);
}

/* scale(f: f64) -> f64 value * f */
static int counter_scale(void *state, rmpi_task_t *t)
{
    return rmpi_task_return_f64(t, 0, (double)((counter_t *)state)->value *
                                          rmpi_task_arg_f64(t, 0));
}

/* ------------------------------------------------------------------------------
 * Proxy(target: actor): calls another actor and submits tasks from its methods.
 * ------------------------------------------------------------------------------ */

typedef struct {
    rmpi_actor_t target;
} proxy_t;

static void *proxy_new(rmpi_task_t *t)
{
    proxy_t *p = malloc(sizeof *p);
    if (p == NULL) {
        rmpi_task_fail(t, "malloc");
        return NULL;
    }
    int st = rmpi_task_arg_actor(t, 0, &p->target);
    if (st != RMPI_OK) {
        free(p);
        rmpi_task_fail(t, "Proxy takes an actor: %s", rmpi_status_string(st));
        return NULL;
    }
    return p;
}

static int incr_on(rmpi_task_t *t, rmpi_actor_t a, int64_t by)
{
    rmpi_ref_t r = rmpi_actor_call1(a, "incr", 1, rmpi_i64(by));
    int64_t v = 0;
    int st = rmpi_get_i64(r, -1, &v);
    rmpi_release(r);
    if (st != RMPI_OK)
        return rmpi_task_fail(t, "incr: %s", rmpi_status_string(st));
    return rmpi_task_return_i64(t, 0, v);
}

/* forward(by: i64) -> target.incr(by) */
static int proxy_forward(void *state, rmpi_task_t *t)
{
    return incr_on(t, ((proxy_t *)state)->target, rmpi_task_arg_i64(t, 0));
}

/* forward_to(a: actor, by: i64) -> a.incr(by) */
static int proxy_forward_to(void *state, rmpi_task_t *t)
{
    (void)state;
    rmpi_actor_t a;
    int st = rmpi_task_arg_actor(t, 0, &a);
    if (st != RMPI_OK)
        return rmpi_task_fail(t, "argument 0: %s", rmpi_status_string(st));
    return incr_on(t, a, rmpi_task_arg_i64(t, 1));
}

/* square_sum(n: i64) -> sum of square(i) for i < n, each a task on any rank */
static int proxy_square_sum(void *state, rmpi_task_t *t)
{
    (void)state;
    int64_t n = rmpi_task_arg_i64(t, 0);
    if (n < 0 || n > 64)
        return rmpi_task_fail(t, "n out of range");
    rmpi_ref_t r[64];
    for (int64_t i = 0; i < n; i++)
        r[i] = rmpi_call("square", 1, rmpi_i64(i));
    int64_t sum = 0;
    int st = RMPI_OK;
    for (int64_t i = 0; i < n; i++) {
        int64_t v = 0;
        if (st == RMPI_OK)
            st = rmpi_get_i64(r[i], -1, &v);
        sum += v;
        rmpi_release(r[i]);
    }
    if (st != RMPI_OK)
        return rmpi_task_fail(t, "square: %s", rmpi_status_string(st));
    return rmpi_task_return_i64(t, 0, sum);
}

/* ------------------------------------------------------------------------------
 * Log(): records what it is given, in the order the calls run.
 * ------------------------------------------------------------------------------ */

#define MAX_CALLERS 64

typedef struct {
    int64_t *v;
    size_t   n, cap;
    int64_t  last_seq[MAX_CALLERS];  /* per caller; -1 before its first call */
    int64_t  seen[MAX_CALLERS];
    int64_t  violations;             /* seqs that did not come in increasing order */
} log_t;

static void *log_new(rmpi_task_t *t)
{
    log_t *l = calloc(1, sizeof *l);
    if (l == NULL) {
        rmpi_task_fail(t, "calloc");
        return NULL;
    }
    for (int i = 0; i < MAX_CALLERS; i++)
        l->last_seq[i] = -1;
    return l;
}

static void log_free(void *state)
{
    log_t *l = state;
    free(l->v);
    free(l);
}

/* append(x: i64 or ref to 8 bytes) -> i64 the log's length */
static int log_append(void *state, rmpi_task_t *t)
{
    log_t *l = state;
    int64_t x = rmpi_task_arg_i64(t, 0);
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 256;
        int64_t *v = realloc(l->v, cap * sizeof *v);
        if (v == NULL)
            return rmpi_task_fail(t, "realloc");
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n++] = x;
    return rmpi_task_return_i64(t, 0, (int64_t)l->n);
}

/* get_log() -> i64[n] */
static int log_get(void *state, rmpi_task_t *t)
{
    log_t *l = state;
    return rmpi_task_return(t, 0, l->v, l->n * sizeof *l->v);
}

/* tagged(caller: i64, seq: i64) -> i64 seq */
static int log_tagged(void *state, rmpi_task_t *t)
{
    log_t *l = state;
    int64_t caller = rmpi_task_arg_i64(t, 0), seq = rmpi_task_arg_i64(t, 1);
    if (caller < 0 || caller >= MAX_CALLERS)
        return rmpi_task_fail(t, "caller %lld out of range", (long long)caller);
    if (seq <= l->last_seq[caller])
        l->violations++;
    l->last_seq[caller] = seq;
    l->seen[caller]++;
    return rmpi_task_return_i64(t, 0, seq);
}

/* tag_summary() -> i64[1 + MAX_CALLERS]: violations, then calls seen per caller */
static int log_tag_summary(void *state, rmpi_task_t *t)
{
    log_t *l = state;
    int64_t out[1 + MAX_CALLERS];
    out[0] = l->violations;
    memcpy(out + 1, l->seen, sizeof l->seen);
    return rmpi_task_return(t, 0, out, sizeof out);
}

/* ------------------------------------------------------------------------------
 * Gather(n: i64): for max_concurrency.
 * ------------------------------------------------------------------------------ */

typedef struct {
    int64_t    n;
    atomic_int started, running, max_running;
} gather_t;

static void *gather_new(rmpi_task_t *t)
{
    gather_t *g = calloc(1, sizeof *g);
    if (g == NULL) {
        rmpi_task_fail(t, "calloc");
        return NULL;
    }
    g->n = rmpi_task_arg_i64(t, 0);
    atomic_init(&g->started, 0);
    atomic_init(&g->running, 0);
    atomic_init(&g->max_running, 0);
    return g;
}

static void gather_free(void *state)
{
    free(state);
}

/* meet(timeout_ms: i64) -> i64 calls started: waits until n calls of meet have
 * started, so it only finishes when n calls run at once.  Fails after timeout_ms. */
static int gather_meet(void *state, rmpi_task_t *t)
{
    gather_t *g = state;
    int64_t timeout_ms = rmpi_task_arg_i64(t, 0);
    atomic_fetch_add(&g->started, 1);
    double end = tl_now() + (double)timeout_ms / 1000.0;
    while (atomic_load(&g->started) < g->n) {
        if (tl_now() > end)
            return rmpi_task_fail(t, "only %d of %lld calls of meet ran at once",
                                  atomic_load(&g->started), (long long)g->n);
        tl_sleep_s(0.001);
    }
    return rmpi_task_return_i64(t, 0, atomic_load(&g->started));
}

/* track(ms: i64) -> i64 0, after ms milliseconds; counts the calls running at once */
static int gather_track(void *state, rmpi_task_t *t)
{
    gather_t *g = state;
    int64_t ms = rmpi_task_arg_i64(t, 0);
    int now = atomic_fetch_add(&g->running, 1) + 1;
    int max = atomic_load(&g->max_running);
    while (now > max && !atomic_compare_exchange_weak(&g->max_running, &max, now))
        ;
    tl_sleep_s((double)ms / 1000.0);
    atomic_fetch_sub(&g->running, 1);
    return rmpi_task_return_i64(t, 0, 0);
}

/* max_running() -> i64 the most calls of track that ran at once */
static int gather_max_running(void *state, rmpi_task_t *t)
{
    return rmpi_task_return_i64(t, 0, atomic_load(&((gather_t *)state)->max_running));
}

/* ------------------------------------------------------------------------------
 * Tasks
 * ------------------------------------------------------------------------------ */

/* square(x: i64) -> x * x */
static int square(rmpi_task_t *t)
{
    int64_t x = rmpi_task_arg_i64(t, 0);
    return rmpi_task_return_i64(t, 0, x * x);
}
RMPI_REMOTE(square);

/* slow_value(x: i64, ms: i64) -> x, after ms milliseconds */
static int slow_value(rmpi_task_t *t)
{
    int64_t x = rmpi_task_arg_i64(t, 0), ms = rmpi_task_arg_i64(t, 1);
    tl_sleep_s((double)ms / 1000.0);
    return rmpi_task_return_i64(t, 0, x);
}
RMPI_REMOTE(slow_value);

/* task_incr(a: actor, by: i64) -> a.incr(by) */
static int task_incr(rmpi_task_t *t)
{
    rmpi_actor_t a;
    int st = rmpi_task_arg_actor(t, 0, &a);
    if (st != RMPI_OK)
        return rmpi_task_fail(t, "argument 0: %s", rmpi_status_string(st));
    return incr_on(t, a, rmpi_task_arg_i64(t, 1));
}
RMPI_REMOTE(task_incr);

/* task_actor_rank(a: actor) -> i64 rmpi_actor_rank(a) seen from this rank */
static int task_actor_rank(rmpi_task_t *t)
{
    rmpi_actor_t a;
    int st = rmpi_task_arg_actor(t, 0, &a);
    if (st != RMPI_OK)
        return rmpi_task_fail(t, "argument 0: %s", rmpi_status_string(st));
    return rmpi_task_return_i64(t, 0, rmpi_actor_rank(a));
}
RMPI_REMOTE(task_actor_rank);

static int name_arg(rmpi_task_t *t, int i, char *name, size_t n)
{
    const void *data;
    size_t size;
    if (rmpi_task_arg(t, i, &data, &size) != RMPI_OK || size == 0 || size >= n)
        return rmpi_task_fail(t, "argument %d is not a name", i);
    memcpy(name, data, size);
    name[size] = '\0';
    return RMPI_OK;
}

/* task_lookup_incr(name: bytes, by: i64) -> the named actor's incr(by) */
static int task_lookup_incr(rmpi_task_t *t)
{
    char name[128];
    if (name_arg(t, 0, name, sizeof name) != RMPI_OK)
        return RMPI_ERR_TASK_FAILED;
    rmpi_actor_t a;
    int st = rmpi_actor_lookup(name, &a);
    if (st != RMPI_OK)
        return rmpi_task_fail(t, "rmpi_actor_lookup(%s): %s", name, rmpi_status_string(st));
    return incr_on(t, a, rmpi_task_arg_i64(t, 1));
}
RMPI_REMOTE(task_lookup_incr);

/* task_lookup(name: bytes) -> the named actor's handle (16 bytes) */
static int task_lookup(rmpi_task_t *t)
{
    char name[128];
    if (name_arg(t, 0, name, sizeof name) != RMPI_OK)
        return RMPI_ERR_TASK_FAILED;
    rmpi_actor_t a;
    int st = rmpi_actor_lookup(name, &a);
    if (st != RMPI_OK)
        return rmpi_task_fail(t, "rmpi_actor_lookup(%s): %s", name, rmpi_status_string(st));
    return rmpi_task_return(t, 0, &a, sizeof a);
}
RMPI_REMOTE(task_lookup);

/* task_get_or_create(name: bytes) -> the handle of Counter(0) named name,
 * created with get_if_exists */
static int task_get_or_create(rmpi_task_t *t)
{
    char name[128];
    if (name_arg(t, 0, name, sizeof name) != RMPI_OK)
        return RMPI_ERR_TASK_FAILED;
    rmpi_actor_opts_t o;
    memset(&o, 0, sizeof o);
    o.field_mask = RMPI_ACTOR_OPT_NAME | RMPI_ACTOR_OPT_GET_IF_EXISTS;
    o.name = name;
    o.get_if_exists = 1;
    rmpi_arg_t a = rmpi_i64(0);
    rmpi_actor_t h;
    int st = rmpi_actor_create("Counter", &a, 1, &o, &h);
    if (st != RMPI_OK)
        return rmpi_task_fail(t, "rmpi_actor_create: %s", rmpi_status_string(st));
    return rmpi_task_return(t, 0, &h, sizeof h);
}
RMPI_REMOTE(task_get_or_create);

/* task_new_counter(start: i64) -> the handle of a new Counter(start) on this
 * rank, after calling incr(1) on it (so the task returns a used actor) */
static int task_new_counter(rmpi_task_t *t)
{
    rmpi_arg_t a = rmpi_i64(rmpi_task_arg_i64(t, 0));
    rmpi_actor_opts_t o = actor_on(rmpi_rank());
    rmpi_actor_t h;
    int st = rmpi_actor_create("Counter", &a, 1, &o, &h);
    if (st != RMPI_OK)
        return rmpi_task_fail(t, "rmpi_actor_create: %s", rmpi_status_string(st));
    rmpi_ref_t r = rmpi_actor_call1(h, "incr", 1, rmpi_i64(1));
    int64_t v = 0;
    st = rmpi_get_i64(r, -1, &v);
    rmpi_release(r);
    if (st != RMPI_OK)
        return rmpi_task_fail(t, "incr: %s", rmpi_status_string(st));
    if (v != rmpi_task_arg_i64(t, 0) + 1)
        return rmpi_task_fail(t, "incr gave %lld", (long long)v);
    return rmpi_task_return(t, 0, &h, sizeof h);
}
RMPI_REMOTE(task_new_counter);

/* task_meet(g: actor, timeout_ms: i64) -> g.meet(timeout_ms) */
static int task_meet(rmpi_task_t *t)
{
    rmpi_actor_t g;
    int st = rmpi_task_arg_actor(t, 0, &g);
    if (st != RMPI_OK)
        return rmpi_task_fail(t, "argument 0: %s", rmpi_status_string(st));
    rmpi_ref_t r = rmpi_actor_call1(g, "meet", 1, rmpi_i64(rmpi_task_arg_i64(t, 1)));
    int64_t v = 0;
    st = rmpi_get_i64(r, -1, &v);
    if (st != RMPI_OK) {
        char msg[256] = "";
        rmpi_error_message(r, msg, sizeof msg);
        rmpi_release(r);
        return rmpi_task_fail(t, "meet: %s: %s", rmpi_status_string(st), msg);
    }
    rmpi_release(r);
    return rmpi_task_return_i64(t, 0, v);
}
RMPI_REMOTE(task_meet);

/* caller(log: actor, id: i64, n: i64) -> i64 n: calls log.tagged(id, seq) for
 * seq 0..n-1 without waiting in between, then checks every result. */
static int caller(rmpi_task_t *t)
{
    rmpi_actor_t log;
    int st = rmpi_task_arg_actor(t, 0, &log);
    if (st != RMPI_OK)
        return rmpi_task_fail(t, "argument 0: %s", rmpi_status_string(st));
    int64_t id = rmpi_task_arg_i64(t, 1), n = rmpi_task_arg_i64(t, 2);
    if (n < 0 || n > 10000)
        return rmpi_task_fail(t, "n out of range");
    rmpi_ref_t *r = malloc((size_t)n * sizeof *r + 1);
    if (r == NULL)
        return rmpi_task_fail(t, "malloc");
    for (int64_t i = 0; i < n && st == RMPI_OK; i++) {
        rmpi_arg_t a[2] = { rmpi_i64(id), rmpi_i64(i) };
        st = rmpi_actor_call(log, "tagged", a, 2, NULL, &r[i]);
        if (st != RMPI_OK)
            n = i;
    }
    int bad = 0;
    for (int64_t i = 0; i < n; i++) {
        int64_t v = -1;
        if (rmpi_get_i64(r[i], -1, &v) != RMPI_OK || v != i)
            bad++;
        rmpi_release(r[i]);
    }
    free(r);
    if (st != RMPI_OK)
        return rmpi_task_fail(t, "rmpi_actor_call: %s", rmpi_status_string(st));
    if (bad)
        return rmpi_task_fail(t, "%d calls of caller %lld gave a wrong result", bad, (long long)id);
    return rmpi_task_return_i64(t, 0, n);
}
RMPI_REMOTE(caller);

/* ------------------------------------------------------------------------------
 * Checks
 * ------------------------------------------------------------------------------ */

static void check_create_call(void)
{
    rmpi_arg_t a = rmpi_i64(10);
    rmpi_actor_t c = create_on("Counter", &a, 1, RMPI_ANY_RANK);
    int rank = rmpi_actor_rank(c);
    CHECK(rank >= 0 && rank < rmpi_size());
    printf("  Counter on rank %d\n", rank);

    /* State is kept between calls. */
    for (int i = 1; i <= 20; i++) {
        a = rmpi_i64(i);
        CHECK(call_i64(c, "incr", &a, 1) == 10 + i * (i + 1) / 2);
    }
    CHECK(call_i64(c, "get", NULL, 0) == 220);
    CHECK(call_i64(c, "where", NULL, 0) == rank);

    /* rmpi_actor_call1. */
    CHECK(tl_take_i64(rmpi_actor_call1(c, "incr", 1, rmpi_i64(-20))) == 200);
    CHECK(tl_take_i64(rmpi_actor_call1(c, "get", 0)) == 200);

    /* f64 arguments and results. */
    rmpi_ref_t r = rmpi_actor_call1(c, "scale", 1, rmpi_f64(0.25));
    double d = 0;
    CHECK_OK(rmpi_get_f64(r, -1, &d));
    CHECK(d == 50.0);
    CHECK_OK(rmpi_release(r));

    /* Two return values. */
    rmpi_opts_t o;
    memset(&o, 0, sizeof o);
    o.field_mask = RMPI_OPT_NUM_RETURNS;
    o.num_returns = 2;
    rmpi_ref_t two[3];
    memset(two, 0, sizeof two);
    CHECK_OK(rmpi_actor_call(c, "pair", NULL, 0, &o, two));
    CHECK(rmpi_ref_equal(two[2], RMPI_REF_NIL));
    CHECK(!rmpi_ref_equal(two[0], two[1]));
    CHECK(tl_take_i64(two[0]) == 200);
    CHECK(tl_take_i64(two[1]) == -200);

    /* Results are owned by the caller. */
    r = rmpi_actor_call1(c, "get", 0);
    CHECK(rmpi_ref_owner(r) == 0);
    CHECK(tl_take_i64(r) == 200);

    /* Two actors of one class have their own state. */
    a = rmpi_i64(1000);
    rmpi_actor_t c2 = create_on("Counter", &a, 1, RMPI_ANY_RANK);
    CHECK(!same_actor(c, c2));
    CHECK(tl_take_i64(rmpi_actor_call1(c2, "incr", 1, rmpi_i64(1))) == 1001);
    CHECK(tl_take_i64(rmpi_actor_call1(c, "get", 0)) == 200);

    /* A copy of a handle is the same actor. */
    rmpi_actor_t copy;
    memcpy(&copy, &c, sizeof c);
    CHECK(tl_take_i64(rmpi_actor_call1(copy, "incr", 1, rmpi_i64(1))) == 201);
    CHECK(tl_take_i64(rmpi_actor_call1(c, "get", 0)) == 201);
}

static void check_arguments(void)
{
    for (int rank = 0; rank < rmpi_size(); rank++) {
        /* A ref as the constructor's argument. */
        int64_t start = 100 + rank;
        rmpi_ref_t p;
        CHECK_OK(rmpi_put(&start, sizeof start, &p));
        rmpi_arg_t a = rmpi_ref(p);
        rmpi_actor_t c = create_on("Counter", &a, 1, rank);
        CHECK_OK(rmpi_release(p));   /* the constructor holds what it needs */
        CHECK(tl_take_i64(rmpi_actor_call1(c, "get", 0)) == start);

        /* A task's result as a method's argument. */
        rmpi_ref_t sq = rmpi_call("square", 1, rmpi_i64(3));
        a = rmpi_ref(sq);
        rmpi_ref_t r = call(c, "incr", &a, 1);
        CHECK_OK(rmpi_release(sq));
        CHECK(tl_take_i64(r) == start + 9);

        /* Bytes, small and larger than the inline limit, there and back. */
        size_t sizes[] = { 0, 13, 300 * 1024 };
        for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
            size_t n = sizes[k];
            char *buf = malloc(n + 1);
            CHECK(buf != NULL);
            tl_fill(buf, n, (uint64_t)(rank + 10 * k));
            a = rmpi_bytes(buf, n);
            r = call(c, "echo", &a, 1);
            memset(buf, 0, n);   /* copied at submission */
            rmpi_view_t v;
            CHECK_OK(rmpi_get(r, -1, &v));
            CHECK(v.size == n);
            CHECK(tl_check_pattern(v.data, n, (uint64_t)(rank + 10 * k)) == -1);
            rmpi_view_release(&v);
            CHECK_OK(rmpi_release(r));
            free(buf);
        }

        /* A large object as a method's argument. */
        rmpi_arg_t pa[2] = { rmpi_i64(1 << 20), rmpi_i64(rank) };
        rmpi_ref_t big = tl_submit("tl_pattern", pa, 2, RMPI_ANY_RANK);
        a = rmpi_ref(big);
        r = call(c, "echo", &a, 1);
        rmpi_view_t v;
        CHECK_OK(rmpi_get(r, -1, &v));
        CHECK(v.size == 1 << 20);
        CHECK(tl_check_pattern(v.data, v.size, (uint64_t)rank) == -1);
        rmpi_view_release(&v);
        CHECK_OK(rmpi_release(r));
        CHECK_OK(rmpi_release(big));
    }
}

/* Calls made before the constructor finished queue behind it. */
static void check_calls_before_ctor(void)
{
    for (int rank = 0; rank < rmpi_size(); rank++) {
        rmpi_arg_t a[2] = { rmpi_i64(5), rmpi_i64(300) };
        rmpi_actor_t c = create_on("Counter", a, 2, rank);
        rmpi_ref_t r[10];
        for (int i = 0; i < 10; i++)
            r[i] = rmpi_actor_call1(c, "incr", 1, rmpi_i64(1));
        rmpi_ref_t g = rmpi_actor_call1(c, "get", 0);
        for (int i = 0; i < 10; i++)
            CHECK(tl_take_i64(r[i]) == 6 + i);
        CHECK(tl_take_i64(g) == 15);
    }
}

static void check_placement(void)
{
    for (int rank = 0; rank < rmpi_size(); rank++) {
        rmpi_arg_t a = rmpi_i64(0);
        rmpi_actor_t c = create_on("Counter", &a, 1, rank);
        CHECK_MSG(rmpi_actor_rank(c) == rank, "actor placed on rank %d: rmpi_actor_rank %d",
                  rank, rmpi_actor_rank(c));
        CHECK_MSG(call_i64(c, "where", NULL, 0) == rank, "actor placed on rank %d ran elsewhere",
                  rank);
        /* Every rank sees the same rank in the handle. */
        for (int from = 0; from < rmpi_size(); from++) {
            rmpi_arg_t h = rmpi_actor_arg(c);
            CHECK(tl_take_i64(tl_submit("task_actor_rank", &h, 1, from)) == rank);
        }
    }
    /* Anywhere: on some rank, the one rmpi_actor_rank names. */
    for (int i = 0; i < 2 * rmpi_size(); i++) {
        rmpi_arg_t a = rmpi_i64(0);
        rmpi_actor_t c = create_on("Counter", &a, 1, RMPI_ANY_RANK);
        int rank = rmpi_actor_rank(c);
        CHECK(rank >= 0 && rank < rmpi_size());
        CHECK(call_i64(c, "where", NULL, 0) == rank);
    }
    /* The rank option with RMPI_ANY_RANK, and every field at default-like values. */
    rmpi_actor_opts_t o;
    memset(&o, 0, sizeof o);
    o.field_mask = RMPI_ACTOR_OPT_RANK | RMPI_ACTOR_OPT_CPUS | RMPI_ACTOR_OPT_GPUS |
                   RMPI_ACTOR_OPT_MAX_CONCURRENCY;
    o.rank = RMPI_ANY_RANK;
    o.cpus = 0;
    o.gpus = 0;
    o.max_concurrency = 1;
    rmpi_arg_t a = rmpi_i64(7);
    rmpi_actor_t c;
    CHECK_OK(rmpi_actor_create("Counter", &a, 1, &o, &c));
    CHECK(tl_take_i64(rmpi_actor_call1(c, "get", 0)) == 7);
    /* Fields not named in field_mask are not read. */
    memset(&o, 0xff, sizeof o);
    o.field_mask = 0;
    CHECK_OK(rmpi_actor_create("Counter", &a, 1, &o, &c));
    CHECK(tl_take_i64(rmpi_actor_call1(c, "get", 0)) == 7);
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* A handle passed to tasks on every rank, which call the actor. */
static void check_handles_in_tasks(void)
{
    enum { PER_RANK = 8 };
    for (int home = 0; home < rmpi_size(); home++) {
        rmpi_arg_t a = rmpi_i64(0);
        rmpi_actor_t c = create_on("Counter", &a, 1, home);
        int n = PER_RANK * rmpi_size();
        rmpi_ref_t r[PER_RANK * 64];
        CHECK(rmpi_size() <= 64);
        for (int i = 0; i < n; i++) {
            rmpi_arg_t ta[2] = { rmpi_actor_arg(c), rmpi_i64(1) };
            r[i] = tl_submit("task_incr", ta, 2, i % rmpi_size());
        }
        /* Each call saw another value: the calls did not interleave. */
        int64_t seen[PER_RANK * 64];
        for (int i = 0; i < n; i++)
            seen[i] = tl_take_i64(r[i]);
        qsort(seen, (size_t)n, sizeof seen[0], cmp_i64);
        for (int i = 0; i < n; i++)
            CHECK_MSG(seen[i] == i + 1, "the calls saw values %lld and %lld",
                      (long long)seen[i > 0 ? i - 1 : 0], (long long)seen[i]);
        CHECK(tl_take_i64(rmpi_actor_call1(c, "get", 0)) == n);
    }
}

/* Methods that call other actors and submit tasks. */
static void check_actor_to_actor(void)
{
    int last = rmpi_size() - 1;
    rmpi_arg_t a = rmpi_i64(50);
    rmpi_actor_t c = create_on("Counter", &a, 1, 0);
    a = rmpi_actor_arg(c);
    rmpi_actor_t p = create_on("Proxy", &a, 1, last);   /* a handle as ctor argument */
    CHECK(tl_take_i64(rmpi_actor_call1(p, "forward", 1, rmpi_i64(5))) == 55);
    CHECK(tl_take_i64(rmpi_actor_call1(c, "get", 0)) == 55);

    /* A handle as a method's argument. */
    a = rmpi_i64(-1);
    rmpi_actor_t other = create_on("Counter", &a, 1, RMPI_ANY_RANK);
    CHECK(tl_take_i64(rmpi_actor_call1(p, "forward_to", 2, rmpi_actor_arg(other),
                                       rmpi_i64(2))) == 1);
    CHECK(tl_take_i64(rmpi_actor_call1(other, "get", 0)) == 1);

    /* Tasks from a method. */
    CHECK(tl_take_i64(rmpi_actor_call1(p, "square_sum", 1, rmpi_i64(20))) == 2470);

    /* Many forwards at once, from the driver. */
    rmpi_ref_t r[50];
    for (int i = 0; i < 50; i++)
        r[i] = rmpi_actor_call1(p, "forward", 1, rmpi_i64(1));
    for (int i = 0; i < 50; i++)
        CHECK(tl_take_i64(r[i]) == 56 + i);   /* one caller: in order */
}

/* Actors created inside tasks, used by the driver afterwards. */
static void check_create_in_task(void)
{
    for (int rank = 0; rank < rmpi_size(); rank++) {
        rmpi_arg_t a = rmpi_i64(100 * rank);
        rmpi_ref_t r = tl_submit("task_new_counter", &a, 1, rank);
        rmpi_view_t v;
        CHECK_OK(rmpi_get(r, -1, &v));
        CHECK(v.size == sizeof(rmpi_actor_t));
        rmpi_actor_t c;
        memcpy(&c, v.data, sizeof c);
        rmpi_view_release(&v);
        CHECK_OK(rmpi_release(r));
        CHECK(rmpi_actor_rank(c) == rank);
        CHECK(tl_take_i64(rmpi_actor_call1(c, "incr", 1, rmpi_i64(1))) == 100 * rank + 2);
        CHECK(tl_take_i64(rmpi_actor_call1(c, "where", 0)) == rank);
    }
}

static rmpi_actor_t handle_result(rmpi_ref_t r)
{
    rmpi_view_t v;
    int st = rmpi_get(r, -1, &v);
    if (st != RMPI_OK) {
        char msg[512];
        tl_fail(__FILE__, __LINE__, "%s: %s", rmpi_status_string(st), tl_error(r, msg, sizeof msg));
    }
    CHECK(v.size == sizeof(rmpi_actor_t));
    rmpi_actor_t a;
    memcpy(&a, v.data, sizeof a);
    rmpi_view_release(&v);
    CHECK_OK(rmpi_release(r));
    return a;
}

static void check_named(void)
{
    const char *name = "test_actors.counter";
    rmpi_actor_opts_t o;
    memset(&o, 0, sizeof o);
    o.field_mask = RMPI_ACTOR_OPT_NAME | RMPI_ACTOR_OPT_RANK;
    o.name = name;
    o.rank = rmpi_size() - 1;
    rmpi_arg_t a = rmpi_i64(0);
    rmpi_actor_t c;
    CHECK_OK(rmpi_actor_create("Counter", &a, 1, &o, &c));

    /* The name is copied: the caller's buffer may change. */
    char buf[64];
    snprintf(buf, sizeof buf, "test_actors.other");
    o.field_mask = RMPI_ACTOR_OPT_NAME;
    o.name = buf;
    rmpi_actor_t other;
    CHECK_OK(rmpi_actor_create("Counter", &a, 1, &o, &other));
    memset(buf, 'x', sizeof buf - 1);
    buf[sizeof buf - 1] = '\0';

    rmpi_actor_t found;
    CHECK_OK(rmpi_actor_lookup(name, &found));
    CHECK(same_actor(found, c));
    CHECK_OK(rmpi_actor_lookup("test_actors.other", &found));
    CHECK(same_actor(found, other));
    CHECK(!same_actor(found, c));

    /* get_if_exists gives the same actor, not a new one. */
    o.field_mask = RMPI_ACTOR_OPT_NAME | RMPI_ACTOR_OPT_GET_IF_EXISTS;
    o.name = name;
    o.get_if_exists = 1;
    a = rmpi_i64(12345);
    CHECK_OK(rmpi_actor_create("Counter", &a, 1, &o, &found));
    CHECK(same_actor(found, c));
    CHECK(tl_take_i64(rmpi_actor_call1(found, "get", 0)) == 0);   /* not 12345 */

    /* get_if_exists with a new name creates it. */
    o.name = "test_actors.fresh";
    CHECK_OK(rmpi_actor_create("Counter", &a, 1, &o, &found));
    CHECK(tl_take_i64(rmpi_actor_call1(found, "get", 0)) == 12345);
    rmpi_actor_t again;
    CHECK_OK(rmpi_actor_lookup("test_actors.fresh", &again));
    CHECK(same_actor(found, again));

    /* Looked up and called from tasks on every rank. */
    int n = 0;
    for (int rank = 0; rank < rmpi_size(); rank++) {
        rmpi_arg_t ta[2] = { rmpi_bytes(name, strlen(name)), rmpi_i64(1) };
        int64_t v = tl_take_i64(tl_submit("task_lookup_incr", ta, 2, rank));
        CHECK(v >= 1 && v <= rmpi_size());
        n++;
        rmpi_ref_t r = tl_submit("task_lookup", ta, 1, rank);
        CHECK(same_actor(handle_result(r), c));
        /* get_if_exists from a task finds the driver's actor too. */
        r = tl_submit("task_get_or_create", ta, 1, rank);
        CHECK(same_actor(handle_result(r), c));
    }
    CHECK(tl_take_i64(rmpi_actor_call1(c, "get", 0)) == n);

    /* Created by a task on the last rank (get_if_exists, the name is new),
     * found by the driver. */
    const char *tname = "test_actors.from_task";
    rmpi_arg_t ta = rmpi_bytes(tname, strlen(tname));
    rmpi_actor_t made = handle_result(tl_submit("task_get_or_create", &ta, 1, rmpi_size() - 1));
    CHECK_OK(rmpi_actor_lookup(tname, &found));
    CHECK(same_actor(found, made));
    CHECK(tl_take_i64(rmpi_actor_call1(found, "incr", 1, rmpi_i64(3))) == 3);
}

/* One caller's calls run in submission order, also when the earlier ones wait
 * for slow ref arguments. */
static void check_order_with_refs(void)
{
    enum { N = 1000 };
    int last = rmpi_size() - 1;
    for (int pass = 0; pass < 2; pass++) {
        int home = pass == 0 ? last : 0;
        rmpi_actor_t log = create_on("Log", NULL, 0, home);
        static rmpi_ref_t r[N];
        for (int i = 0; i < N; i++) {
            rmpi_arg_t a;
            rmpi_ref_t slow = RMPI_REF_NIL;
            if (i % 10 == 3) {
                rmpi_arg_t sa[2] = { rmpi_i64(i), rmpi_i64(20) };
                slow = tl_submit("slow_value", sa, 2, RMPI_ANY_RANK);
                a = rmpi_ref(slow);
            } else {
                a = rmpi_i64(i);
            }
            r[i] = call(log, "append", &a, 1);
            if (!rmpi_ref_equal(slow, RMPI_REF_NIL))
                CHECK_OK(rmpi_release(slow));   /* the call keeps its argument */
        }
        rmpi_ref_t g = call(log, "get_log", NULL, 0);
        for (int i = 0; i < N; i++) {
            int64_t len = tl_take_i64(r[i]);
            CHECK_MSG(len == i + 1, "append(%d) ran as call %lld", i, (long long)len);
        }
        rmpi_view_t v;
        CHECK_OK(rmpi_get(g, -1, &v));
        CHECK_MSG(v.size == N * sizeof(int64_t), "log of %zu bytes", v.size);
        const int64_t *x = v.data;
        for (int i = 0; i < N; i++)
            CHECK_MSG(x[i] == i, "log[%d] = %lld", i, (long long)x[i]);
        rmpi_view_release(&v);
        CHECK_OK(rmpi_release(g));
    }
}

/* Callers on every rank at once: each caller's calls run in its order. */
static void check_order_many_callers(void)
{
    enum { CALLS = 200 };
    int ntasks = 2 * rmpi_size();
    if (ntasks > MAX_CALLERS - 1)
        ntasks = MAX_CALLERS - 1;
    rmpi_actor_t log = create_on("Log", NULL, 0, RMPI_ANY_RANK);
    printf("  %d calling tasks, Log on rank %d\n", ntasks, rmpi_actor_rank(log));
    rmpi_ref_t r[MAX_CALLERS];
    for (int c = 0; c < ntasks; c++) {
        rmpi_arg_t a[3] = { rmpi_actor_arg(log), rmpi_i64(c), rmpi_i64(CALLS) };
        r[c] = tl_submit("caller", a, 3, c % rmpi_size());
    }
    /* The driver is a caller too (the last id), meanwhile. */
    static rmpi_ref_t mine[CALLS];
    for (int i = 0; i < CALLS; i++) {
        rmpi_arg_t a[2] = { rmpi_i64(ntasks), rmpi_i64(i) };
        mine[i] = call(log, "tagged", a, 2);
    }
    for (int i = 0; i < CALLS; i++)
        CHECK(tl_take_i64(mine[i]) == i);
    for (int c = 0; c < ntasks; c++)
        CHECK(tl_take_i64(r[c]) == CALLS);

    rmpi_ref_t s = call(log, "tag_summary", NULL, 0);
    rmpi_view_t v;
    CHECK_OK(rmpi_get(s, -1, &v));
    CHECK(v.size == (1 + MAX_CALLERS) * sizeof(int64_t));
    const int64_t *x = v.data;
    CHECK_MSG(x[0] == 0, "%lld calls came out of their caller's order", (long long)x[0]);
    for (int c = 0; c <= ntasks; c++)
        CHECK_MSG(x[1 + c] == CALLS, "caller %d: %lld calls ran", c, (long long)x[1 + c]);
    rmpi_view_release(&v);
    CHECK_OK(rmpi_release(s));
}

static rmpi_actor_t gather(int64_t n, int max_concurrency, int rank)
{
    rmpi_actor_opts_t o = actor_on(rank);
    if (max_concurrency > 0) {
        o.field_mask |= RMPI_ACTOR_OPT_MAX_CONCURRENCY;
        o.max_concurrency = max_concurrency;
    }
    rmpi_arg_t a = rmpi_i64(n);
    rmpi_actor_t g;
    CHECK_OK(rmpi_actor_create("Gather", &a, 1, &o, &g));
    return g;
}

static void check_max_concurrency(void)
{
    enum { N = 4 };
    for (int rank = 0; rank < rmpi_size(); rank++) {
        /* Default (1): one call at a time. */
        rmpi_actor_t g = gather(0, 0, rank);
        rmpi_ref_t r[8];
        for (int i = 0; i < 8; i++)
            r[i] = rmpi_actor_call1(g, "track", 1, rmpi_i64(10));
        for (int i = 0; i < 8; i++)
            CHECK(tl_take_i64(r[i]) == 0);
        CHECK(tl_take_i64(rmpi_actor_call1(g, "max_running", 0)) == 1);

        /* max_concurrency 2: never more than 2. */
        g = gather(0, 2, rank);
        for (int i = 0; i < 8; i++)
            r[i] = rmpi_actor_call1(g, "track", 1, rmpi_i64(20));
        for (int i = 0; i < 8; i++)
            CHECK(tl_take_i64(r[i]) == 0);
        int64_t max = tl_take_i64(rmpi_actor_call1(g, "max_running", 0));
        CHECK_MSG(max >= 1 && max <= 2, "%lld calls ran at once with max_concurrency 2",
                  (long long)max);

        /* max_concurrency N: N calls that each wait for all N to start finish. */
        g = gather(N, N, rank);
        for (int i = 0; i < N; i++)
            r[i] = rmpi_actor_call1(g, "meet", 1, rmpi_i64(20000));
        for (int i = 0; i < N; i++)
            CHECK(tl_take_i64(r[i]) >= N);
    }
    /* The same with the calls coming from tasks on every rank. */
    int n = rmpi_size() < 2 ? 2 : rmpi_size();
    CHECK(n <= 64);
    rmpi_actor_t g = gather(n, n, RMPI_ANY_RANK);
    rmpi_ref_t r[64];
    for (int i = 0; i < n; i++) {
        rmpi_arg_t a[2] = { rmpi_actor_arg(g), rmpi_i64(20000) };
        r[i] = tl_submit("task_meet", a, 2, i % rmpi_size());
    }
    for (int i = 0; i < n; i++)
        CHECK(tl_take_i64(r[i]) >= n);
}

/* An actor holds its cpus while it lives. */
static void check_cpus_held(void)
{
    int rank = rmpi_size() - 1;
    int ncpus = (int)tl_rank_stat(rank, TL_STAT_NUM_CPUS);
    rmpi_actor_opts_t o = actor_on(rank);
    o.field_mask |= RMPI_ACTOR_OPT_CPUS;
    o.cpus = ncpus;
    rmpi_arg_t a = rmpi_i64(0);
    rmpi_actor_t c;
    CHECK_OK(rmpi_actor_create("Counter", &a, 1, &o, &c));
    CHECK(tl_take_i64(rmpi_actor_call1(c, "incr", 1, rmpi_i64(1))) == 1);   /* it runs */

    /* A task that needs a cpu of that rank waits for the actor to go. */
    rmpi_ref_t t = tl_submit("tl_where", NULL, 0, rank);
    int ready = 0, nready = -1;
    CHECK_OK(rmpi_wait(&t, 1, 1, 0.5, &ready, &nready));
    CHECK_MSG(nready == 0, "a task ran on rank %d while an actor held its %d cpus", rank, ncpus);
    CHECK_OK(rmpi_actor_kill(c));
    CHECK(tl_take_i64(t) == rank);

    /* Actors with the default 0 cpus do not hold any: many on one rank, and
     * tasks still run there. */
    rmpi_actor_t many[16];
    for (int i = 0; i < 16; i++) {
        a = rmpi_i64(i);
        many[i] = create_on("Counter", &a, 1, rank);
    }
    CHECK(tl_take_i64(tl_submit("tl_where", NULL, 0, rank)) == rank);
    for (int i = 0; i < 16; i++)
        CHECK(tl_take_i64(rmpi_actor_call1(many[i], "get", 0)) == i);
}

static void register_classes(void)
{
    CHECK_OK(rmpi_class_register("Counter", counter_new, counter_free));
    CHECK_OK(rmpi_method_register_nargs("Counter", "incr", counter_incr, 1));
    CHECK_OK(rmpi_method_register_nargs("Counter", "get", counter_get, 0));
    CHECK_OK(rmpi_method_register_nargs("Counter", "where", counter_where, 0));
    CHECK_OK(rmpi_method_register_nargs("Counter", "pair", counter_pair, 0));
    CHECK_OK(rmpi_method_register("Counter", "echo", counter_echo));
    CHECK_OK(rmpi_method_register("Counter", "scale", counter_scale));

    CHECK_OK(rmpi_class_register("Proxy", proxy_new, free));
    CHECK_OK(rmpi_method_register_nargs("Proxy", "forward", proxy_forward, 1));
    CHECK_OK(rmpi_method_register_nargs("Proxy", "forward_to", proxy_forward_to, 2));
    CHECK_OK(rmpi_method_register_nargs("Proxy", "square_sum", proxy_square_sum, 1));

    CHECK_OK(rmpi_class_register("Log", log_new, log_free));
    CHECK_OK(rmpi_method_register_nargs("Log", "append", log_append, 1));
    CHECK_OK(rmpi_method_register_nargs("Log", "get_log", log_get, 0));
    CHECK_OK(rmpi_method_register_nargs("Log", "tagged", log_tagged, 2));
    CHECK_OK(rmpi_method_register_nargs("Log", "tag_summary", log_tag_summary, 0));

    CHECK_OK(rmpi_class_register("Gather", gather_new, gather_free));
    CHECK_OK(rmpi_method_register_nargs("Gather", "meet", gather_meet, 1));
    CHECK_OK(rmpi_method_register_nargs("Gather", "track", gather_track, 1));
    CHECK_OK(rmpi_method_register_nargs("Gather", "max_running", gather_max_running, 0));
}

int main(int argc, char **argv)
{
    register_classes();
    tl_start(&argc, &argv);
    RUN(check_create_call);
    RUN(check_arguments);
    RUN(check_calls_before_ctor);
    RUN(check_placement);
    RUN(check_handles_in_tasks);
    RUN(check_actor_to_actor);
    RUN(check_create_in_task);
    RUN(check_named);
    RUN(check_order_with_refs);
    RUN(check_order_many_callers);
    RUN(check_max_concurrency);
    RUN(check_cpus_held);
    return tl_end();
}
