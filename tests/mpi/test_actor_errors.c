/*
 * test_actor_errors.c - what goes wrong with actors: a constructor that fails
 * (or crashes) kills the actor, and every call gives RMPI_ERR_ACTOR_DIED with
 * the constructor's message; a method that fails gives an error value naming
 * the method and the rank, and the actor lives on; a method that crashes
 * (SIGSEGV) kills its actor but not the rank; rmpi_actor_kill (pending calls,
 * later calls, the destructor, a second kill, a kill from a task, a kill right
 * after create); unknown class, method and actor name; wrong argument counts;
 * duplicate names; invalid options and pointers; registration before and
 * after rmpi_init; 10,000 actors created and called once each; and the
 * destructors of the actors still alive when the driver ends.
 * (test_actor_register.c: duplicate registrations and registry mismatches.)
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

static rmpi_actor_t create_on(const char *cls, const rmpi_arg_t *args, int nargs, int rank)
{
    rmpi_actor_t a;
    rmpi_actor_opts_t o = actor_on(rank);
    CHECK_OK(rmpi_actor_create(cls, args, nargs, rank == RMPI_ANY_RANK ? NULL : &o, &a));
    return a;
}

static rmpi_actor_t fragile(int64_t mode, int rank)
{
    rmpi_arg_t a = rmpi_i64(mode);
    return create_on("Fragile", &a, 1, rank);
}

static int same_actor(rmpi_actor_t a, rmpi_actor_t b)
{
    return memcmp(&a, &b, sizeof a) == 0;
}

/* r must fail with status want; its message must contain each of the texts
 * (NULL ends the list).  Releases r. */
static void expect_error(rmpi_ref_t r, int want, ...)
{
    rmpi_view_t v;
    memset(&v, 0, sizeof v);
    int st = rmpi_get(r, -1, &v);
    if (st != want) {
        char msg[512] = "";
        if (st != RMPI_OK)
            rmpi_error_message(r, msg, sizeof msg);
        rmpi_view_release(&v);
        tl_fail(__FILE__, __LINE__, "get returned %s, expected %s (message: %s)",
                rmpi_status_string(st), rmpi_status_string(want), msg);
    }
    CHECK(v.data == NULL);
    char msg[512];
    tl_error(r, msg, sizeof msg);
    printf("  %s: %s\n", rmpi_status_string(st), msg);
    va_list ap;
    va_start(ap, want);
    for (const char *text; (text = va_arg(ap, const char *)) != NULL;)
        CHECK_CONTAINS(msg, text);
    va_end(ap);
    CHECK_OK(rmpi_release(r));
}

/* Calling method on a dead actor gives RMPI_ERR_ACTOR_DIED. */
static void expect_died(rmpi_actor_t a, const char *method, const char *text)
{
    rmpi_ref_t r = rmpi_actor_call1(a, method, 0);
    expect_error(r, RMPI_ERR_ACTOR_DIED, text, (const char *)NULL);
}

static char *rank_text(int rank, char *buf, size_t n)
{
    snprintf(buf, n, "rank %d", rank);
    return buf;
}

/* ------------------------------------------------------------------------------
 * Fragile(mode: i64): mode 0 lives, 1 fails in the constructor, 2 crashes there.
 * ------------------------------------------------------------------------------ */

typedef struct {
    int64_t calls;
} fragile_t;

/* UBSan would report the deliberate NULL store itself; the point is the real fault. */
#if defined(__clang__) || defined(__GNUC__)
__attribute__((no_sanitize("undefined")))
#endif
static void *fragile_new(rmpi_task_t *t)
{
    int64_t mode = rmpi_task_arg_i64(t, 0);
    if (mode == 1) {
        rmpi_task_fail(t, "constructor refused: code %d", 17);
        return NULL;
    }
    if (mode == 2) {
        volatile int *volatile p = NULL;   /* the compiler may not drop the store */
        *p = 1;
    }
    fragile_t *f = calloc(1, sizeof *f);
    if (f == NULL)
        rmpi_task_fail(t, "calloc");
    return f;
}

/* ok() -> i64 calls of ok so far, this one included */
static int fragile_ok(void *state, rmpi_task_t *t)
{
    fragile_t *f = state;
    return rmpi_task_return_i64(t, 0, ++f->calls);
}

/* fail(code: i64) -> never */
static int fragile_fail(void *state, rmpi_task_t *t)
{
    (void)state;
    return rmpi_task_fail(t, "method failed with code %lld", (long long)rmpi_task_arg_i64(t, 0));
}

/* retfail() -> never: returns an error status without rmpi_task_fail */
static int fragile_retfail(void *state, rmpi_task_t *t)
{
    (void)state;
    (void)t;
    return RMPI_ERR_INVALID_ARG;
}

/* crash() -> never: SIGSEGV */
/* UBSan would report the deliberate NULL store itself; the point is the real fault. */
#if defined(__clang__) || defined(__GNUC__)
__attribute__((no_sanitize("undefined")))
#endif
static int fragile_crash(void *state, rmpi_task_t *t)
{
    (void)state;
    volatile int *volatile p = NULL;
    *p = 42;
    return rmpi_task_return_i64(t, 0, *p);
}

/* add2(a: i64, b: i64) -> a + b; registered with 2 arguments */
static int fragile_add2(void *state, rmpi_task_t *t)
{
    (void)state;
    return rmpi_task_return_i64(t, 0, rmpi_task_arg_i64(t, 0) + rmpi_task_arg_i64(t, 1));
}

/* noargs() -> 7; registered with 0 arguments */
static int fragile_noargs(void *state, rmpi_task_t *t)
{
    (void)state;
    return rmpi_task_return_i64(t, 0, 7);
}

/* ------------------------------------------------------------------------------
 * Tracked([delay_ms: i64]): counts its constructions and destructions in this
 * process, so the test sees when destructors ran.
 * ------------------------------------------------------------------------------ */

static atomic_long tracked_started, tracked_made, tracked_destroyed;

static void *tracked_new(rmpi_task_t *t)
{
    atomic_fetch_add(&tracked_started, 1);
    if (rmpi_task_nargs(t) > 0)
        tl_sleep_s((double)rmpi_task_arg_i64(t, 0) / 1000.0);
    int64_t *s = malloc(sizeof *s);
    if (s == NULL) {
        rmpi_task_fail(t, "malloc");
        return NULL;
    }
    *s = 0x7ac4ed;
    atomic_fetch_add(&tracked_made, 1);
    return s;
}

static void tracked_free(void *state)
{
    int64_t *s = state;
    if (*s != 0x7ac4ed)
        fprintf(stderr, "rank %d: Tracked destructor got another state\n", rmpi_rank());
    *s = 0;
    free(s);
    atomic_fetch_add(&tracked_destroyed, 1);
}

/* ping() -> i64 1 */
static int tracked_ping(void *state, rmpi_task_t *t)
{
    (void)state;
    return rmpi_task_return_i64(t, 0, 1);
}

/* block(path: bytes) -> i64 1: creates path.in, then waits until path exists
 * (at most two minutes). */
static int tracked_block(void *state, rmpi_task_t *t)
{
    (void)state;
    const void *data;
    size_t size;
    char path[256], in[300];
    if (rmpi_task_arg(t, 0, &data, &size) != RMPI_OK || size == 0 || size >= sizeof path)
        return rmpi_task_fail(t, "block takes a path");
    memcpy(path, data, size);
    path[size] = '\0';
    snprintf(in, sizeof in, "%s.in", path);
    FILE *f = fopen(in, "w");
    if (f == NULL)
        return rmpi_task_fail(t, "cannot create %s", in);
    fclose(f);
    for (int i = 0; i < 120000 && access(path, F_OK) != 0; i++)
        tl_sleep_s(0.001);
    return rmpi_task_return_i64(t, 0, 1);
}

/* tracked_counts() -> i64[3]: Tracked constructors started and finished, and
 * destructors run, on this rank */
static int tracked_counts(rmpi_task_t *t)
{
    int64_t v[3] = { atomic_load(&tracked_started), atomic_load(&tracked_made),
                     atomic_load(&tracked_destroyed) };
    return rmpi_task_return(t, 0, v, sizeof v);
}
RMPI_REMOTE(tracked_counts);

static void counts_on3(int rank, int64_t *started, int64_t *made, int64_t *destroyed)
{
    rmpi_ref_t r = tl_submit("tracked_counts", NULL, 0, rank);
    rmpi_view_t v;
    CHECK_OK(rmpi_get(r, -1, &v));
    CHECK(v.size == 3 * sizeof(int64_t));
    const int64_t *x = v.data;
    *started = x[0];
    *made = x[1];
    *destroyed = x[2];
    rmpi_view_release(&v);
    CHECK_OK(rmpi_release(r));
}

static void counts_on(int rank, int64_t *made, int64_t *destroyed)
{
    int64_t started;
    counts_on3(rank, &started, made, destroyed);
}

/* Wait (at most 60 s) until every Tracked constructor started on rank has
 * finished, every actor made there was destroyed, and at least want_destroyed
 * were; returns the number destroyed. */
static int64_t wait_destroyed(int rank, int64_t want_destroyed)
{
    int64_t started = 0, made = 0, destroyed = 0;
    double end = tl_now() + 60;
    for (;;) {
        counts_on3(rank, &started, &made, &destroyed);
        if (destroyed >= want_destroyed && started == made && destroyed == made)
            return destroyed;
        CHECK_MSG(tl_now() < end, "rank %d: %lld Tracked constructors started, %lld "
                  "finished, %lld destroyed; waited for %lld", rank, (long long)started,
                  (long long)made, (long long)destroyed, (long long)want_destroyed);
        tl_sleep_s(0.01);
    }
}

/* ------------------------------------------------------------------------------
 * Tiny(i: i64): one number, for many actors.
 * ------------------------------------------------------------------------------ */

static atomic_long tiny_live;

static void *tiny_new(rmpi_task_t *t)
{
    int64_t *s = malloc(sizeof *s);
    if (s == NULL) {
        rmpi_task_fail(t, "malloc");
        return NULL;
    }
    *s = rmpi_task_arg_i64(t, 0);
    atomic_fetch_add(&tiny_live, 1);
    return s;
}

static void tiny_free(void *state)
{
    free(state);
    atomic_fetch_sub(&tiny_live, 1);
}

/* get() -> i64 i */
static int tiny_get(void *state, rmpi_task_t *t)
{
    return rmpi_task_return_i64(t, 0, *(int64_t *)state);
}

/* ------------------------------------------------------------------------------
 * Tasks
 * ------------------------------------------------------------------------------ */

/* task_kill(a: actor) -> i64 status of rmpi_actor_kill(a) */
static int task_kill(rmpi_task_t *t)
{
    rmpi_actor_t a;
    int st = rmpi_task_arg_actor(t, 0, &a);
    if (st != RMPI_OK)
        return rmpi_task_fail(t, "argument 0: %s", rmpi_status_string(st));
    return rmpi_task_return_i64(t, 0, rmpi_actor_kill(a));
}
RMPI_REMOTE(task_kill);

/* task_lookup_status(name: bytes) -> i64 status of rmpi_actor_lookup(name) */
static int task_lookup_status(rmpi_task_t *t)
{
    const void *data;
    size_t size;
    char name[128];
    if (rmpi_task_arg(t, 0, &data, &size) != RMPI_OK || size == 0 || size >= sizeof name)
        return rmpi_task_fail(t, "argument 0 is not a name");
    memcpy(name, data, size);
    name[size] = '\0';
    rmpi_actor_t a;
    return rmpi_task_return_i64(t, 0, rmpi_actor_lookup(name, &a));
}
RMPI_REMOTE(task_lookup_status);

/* task_call_status(a: actor) -> i64 status of get on a.ok() */
static int task_call_status(rmpi_task_t *t)
{
    rmpi_actor_t a;
    int st = rmpi_task_arg_actor(t, 0, &a);
    if (st != RMPI_OK)
        return rmpi_task_fail(t, "argument 0: %s", rmpi_status_string(st));
    rmpi_ref_t r = rmpi_actor_call1(a, "ok", 0);
    int64_t v;
    st = rmpi_get_i64(r, -1, &v);
    rmpi_release(r);
    return rmpi_task_return_i64(t, 0, st);
}
RMPI_REMOTE(task_call_status);

/* always_fails() -> never */
static int always_fails(rmpi_task_t *t)
{
    return rmpi_task_fail(t, "upstream task failed");
}
RMPI_REMOTE(always_fails);

/* ------------------------------------------------------------------------------
 * Checks
 * ------------------------------------------------------------------------------ */

static void check_after_init(void)
{
    CHECK_STATUS(rmpi_class_register("Late", tracked_new, tracked_free),
                 RMPI_ERR_ALREADY_INITIALIZED);
    CHECK_STATUS(rmpi_method_register("Fragile", "late", fragile_ok),
                 RMPI_ERR_ALREADY_INITIALIZED);
    CHECK_STATUS(rmpi_method_register_nargs("Fragile", "late", fragile_ok, 0),
                 RMPI_ERR_ALREADY_INITIALIZED);
}

static void check_ctor_fails(void)
{
    for (int rank = 0; rank < rmpi_size(); rank++) {
        rmpi_actor_t a = fragile(1, rank);   /* create returns at once: no error yet */
        CHECK(rmpi_actor_rank(a) == rank);
        rmpi_ref_t early = rmpi_actor_call1(a, "ok", 0);   /* before the ctor ran, maybe */
        expect_error(early, RMPI_ERR_ACTOR_DIED, "constructor refused: code 17",
                     (const char *)NULL);
        for (int i = 0; i < 3; i++)
            expect_died(a, "ok", "constructor refused: code 17");
        /* rmpi_actor_call too; a status from the call itself is not allowed:
         * the header says the refs carry it. */
        rmpi_ref_t r;
        CHECK_OK(rmpi_actor_call(a, "ok", NULL, 0, NULL, &r));
        expect_error(r, RMPI_ERR_ACTOR_DIED, (const char *)NULL);
        /* From a task on another rank. */
        rmpi_arg_t h = rmpi_actor_arg(a);
        int from = (rank + 1) % rmpi_size();
        CHECK_STATUS((int)tl_take_i64(tl_submit("task_call_status", &h, 1, from)),
                     RMPI_ERR_ACTOR_DIED);
        /* A healthy actor of the same class on that rank works. */
        rmpi_actor_t b = fragile(0, rank);
        CHECK(tl_take_i64(rmpi_actor_call1(b, "ok", 0)) == 1);
    }
}

static void check_ctor_crashes(void)
{
    for (int rank = rmpi_size() - 1; rank >= 0; rank--) {
        printf("  rank %d\n", rank);
        rmpi_actor_t a = fragile(2, rank);
        expect_died(a, "ok", NULL);
        expect_died(a, "ok", NULL);
        CHECK(tl_take_i64(tl_submit("tl_where", NULL, 0, rank)) == rank);
        rmpi_actor_t b = fragile(0, rank);
        CHECK(tl_take_i64(rmpi_actor_call1(b, "ok", 0)) == 1);
    }
}

static void check_method_fails(void)
{
    char rt[32];
    for (int rank = 0; rank < rmpi_size(); rank++) {
        rmpi_actor_t a = fragile(0, rank);
        CHECK(tl_take_i64(rmpi_actor_call1(a, "ok", 0)) == 1);
        char text[64];
        snprintf(text, sizeof text, "method failed with code %d", 40 + rank);
        expect_error(rmpi_actor_call1(a, "fail", 1, rmpi_i64(40 + rank)), RMPI_ERR_TASK_FAILED,
                     "fail", rank_text(rank, rt, sizeof rt), text, (const char *)NULL);
        /* The actor lives on with its state. */
        CHECK(tl_take_i64(rmpi_actor_call1(a, "ok", 0)) == 2);

        /* An error status without rmpi_task_fail fails the call too. */
        rmpi_ref_t r = rmpi_actor_call1(a, "retfail", 0);
        int64_t v;
        int st = rmpi_get_i64(r, -1, &v);
        CHECK_MSG(st < 0, "get of a method that returned an error: %s", rmpi_status_string(st));
        char msg[512];
        tl_error(r, msg, sizeof msg);
        printf("  %s: %s\n", rmpi_status_string(st), msg);
        CHECK_CONTAINS(msg, "retfail");
        CHECK_OK(rmpi_release(r));
        CHECK(tl_take_i64(rmpi_actor_call1(a, "ok", 0)) == 3);

        /* What depends on a failed call gets its error: a task, and another call. */
        rmpi_ref_t f = rmpi_actor_call1(a, "fail", 1, rmpi_i64(1));
        rmpi_ref_t d = rmpi_call("tl_checksum", 1, rmpi_ref(f));
        rmpi_ref_t e = rmpi_actor_call1(a, "add2", 2, rmpi_ref(f), rmpi_i64(1));
        expect_error(d, RMPI_ERR_TASK_FAILED, "method failed with code 1", (const char *)NULL);
        expect_error(e, RMPI_ERR_TASK_FAILED, "method failed with code 1", (const char *)NULL);
        CHECK_OK(rmpi_release(f));

        /* A method whose ref argument failed does not run; the actor lives on. */
        rmpi_ref_t up = rmpi_call("always_fails", 0);
        expect_error(rmpi_actor_call1(a, "add2", 2, rmpi_ref(up), rmpi_i64(1)),
                     RMPI_ERR_TASK_FAILED, "upstream task failed", (const char *)NULL);
        CHECK_OK(rmpi_release(up));
        CHECK(tl_take_i64(rmpi_actor_call1(a, "ok", 0)) == 4);

        /* Many failures in a row, interleaved with successes. */
        rmpi_ref_t many[40];
        for (int i = 0; i < 40; i++)
            many[i] = i % 2 ? rmpi_actor_call1(a, "fail", 1, rmpi_i64(i))
                            : rmpi_actor_call1(a, "ok", 0);
        for (int i = 0; i < 40; i++) {
            st = rmpi_get_i64(many[i], -1, &v);
            CHECK_STATUS(st, i % 2 ? RMPI_ERR_TASK_FAILED : RMPI_OK);
            if (st == RMPI_OK)
                CHECK(v == 5 + i / 2);
            CHECK_OK(rmpi_release(many[i]));
        }
    }
}

static void check_method_crashes(void)
{
    /* Rank 0, where the driver runs, comes last. */
    for (int rank = rmpi_size() - 1; rank >= 0; rank--) {
        printf("  rank %d\n", rank);
        rmpi_actor_t a = fragile(0, rank), bystander = fragile(0, rank);
        CHECK(tl_take_i64(rmpi_actor_call1(a, "ok", 0)) == 1);
        CHECK(tl_take_i64(rmpi_actor_call1(bystander, "ok", 0)) == 1);

        rmpi_ref_t c = rmpi_actor_call1(a, "crash", 0);
        rmpi_ref_t after[3];
        for (int i = 0; i < 3; i++)
            after[i] = rmpi_actor_call1(a, "ok", 0);   /* queued behind the crash */

        rmpi_view_t v;
        memset(&v, 0, sizeof v);
        int st = rmpi_get(c, -1, &v);
        CHECK_STATUS2(st, RMPI_ERR_TASK_CRASHED, RMPI_ERR_ACTOR_DIED);
        char msg[512];
        tl_error(c, msg, sizeof msg);
        printf("  crash: %s: %s\n", rmpi_status_string(st), msg);
        if (st == RMPI_ERR_TASK_CRASHED)
            CHECK_CONTAINS(msg, "SIGSEGV");
        CHECK_OK(rmpi_release(c));
        for (int i = 0; i < 3; i++)
            expect_error(after[i], RMPI_ERR_ACTOR_DIED, (const char *)NULL);
        expect_died(a, "ok", NULL);
        /* The rank serves other actors and tasks. */
        CHECK(tl_take_i64(rmpi_actor_call1(bystander, "ok", 0)) == 2);
        CHECK(tl_take_i64(tl_submit("tl_where", NULL, 0, rank)) == rank);
        rmpi_actor_t fresh = fragile(0, rank);
        CHECK(tl_take_i64(rmpi_actor_call1(fresh, "ok", 0)) == 1);
    }
}

static void check_kill(void)
{
    for (int rank = 0; rank < rmpi_size(); rank++) {
        int64_t made0, destroyed0;
        counts_on(rank, &made0, &destroyed0);
        rmpi_actor_t a = create_on("Tracked", NULL, 0, rank);
        CHECK(tl_take_i64(rmpi_actor_call1(a, "ping", 0)) == 1);

        /* One call running (blocked on a gate), three waiting behind it. */
        char gate[128], in[160];
        snprintf(gate, sizeof gate, "/tmp/raympi-test-actor-%ld-%d", (long)getpid(), rank);
        snprintf(in, sizeof in, "%s.in", gate);
        unlink(gate);
        unlink(in);
        rmpi_ref_t blocked = rmpi_actor_call1(a, "block", 1, rmpi_bytes(gate, strlen(gate)));
        for (int i = 0; i < 6000 && access(in, F_OK) != 0; i++)
            tl_sleep_s(0.01);
        CHECK_MSG(access(in, F_OK) == 0, "the blocking call never started");
        rmpi_ref_t pending[3];
        for (int i = 0; i < 3; i++)
            pending[i] = rmpi_actor_call1(a, "ping", 0);

        CHECK_OK(rmpi_actor_kill(a));
        /* Pending calls fail; give them time before the running call ends. */
        int64_t v;
        int st = rmpi_get_i64(pending[0], 20, &v);
        if (st == RMPI_ERR_TIMEOUT)
            printf("  note: pending calls of a killed actor wait for the running call\n");
        else
            CHECK_STATUS(st, RMPI_ERR_ACTOR_DIED);
        /* Later calls fail. */
        expect_died(a, "ping", NULL);

        FILE *f = fopen(gate, "w");
        CHECK(f != NULL);
        fclose(f);
        st = rmpi_get_i64(blocked, -1, &v);
        CHECK_STATUS2(st, RMPI_OK, RMPI_ERR_ACTOR_DIED);
        CHECK_OK(rmpi_release(blocked));
        for (int i = 0; i < 3; i++)
            expect_error(pending[i], RMPI_ERR_ACTOR_DIED, (const char *)NULL);
        unlink(gate);
        unlink(in);

        /* The destructor ran, once. */
        CHECK(wait_destroyed(rank, destroyed0 + 1) == destroyed0 + 1);
        CHECK_STATUS2(rmpi_actor_kill(a), RMPI_OK, RMPI_ERR_ACTOR_DIED);
        expect_died(a, "ping", NULL);
        tl_sleep_s(0.05);
        int64_t made, destroyed;
        counts_on(rank, &made, &destroyed);
        CHECK_MSG(made == made0 + 1 && destroyed == destroyed0 + 1,
                  "after a second kill: %lld made, %lld destroyed (before: %lld, %lld)",
                  (long long)made, (long long)destroyed, (long long)made0, (long long)destroyed0);
    }
}

static void check_kill_variants(void)
{
    int last = rmpi_size() - 1;

    /* Killed right after create, while the constructor still runs. */
    int64_t made0, destroyed0;
    counts_on(last, &made0, &destroyed0);
    rmpi_arg_t d = rmpi_i64(200);
    rmpi_actor_t a = create_on("Tracked", &d, 1, last);
    rmpi_ref_t queued = rmpi_actor_call1(a, "ping", 0);
    CHECK_OK(rmpi_actor_kill(a));
    int64_t v;
    CHECK_STATUS2(rmpi_get_i64(queued, -1, &v), RMPI_OK, RMPI_ERR_ACTOR_DIED);
    CHECK_OK(rmpi_release(queued));
    expect_died(a, "ping", NULL);
    tl_sleep_s(0.3);   /* a constructor that started anyway has finished by now */
    wait_destroyed(last, destroyed0);   /* destroyed if it was made */

    /* Killed by a task on another rank through its handle. */
    a = create_on("Tracked", NULL, 0, 0);
    CHECK(tl_take_i64(rmpi_actor_call1(a, "ping", 0)) == 1);
    counts_on(0, &made0, &destroyed0);
    rmpi_arg_t h = rmpi_actor_arg(a);
    CHECK_STATUS((int)tl_take_i64(tl_submit("task_kill", &h, 1, last)), RMPI_OK);
    expect_died(a, "ping", NULL);
    wait_destroyed(0, destroyed0 + 1);

    /* A killed named actor: lookup finds nothing, or an actor that is dead. */
    rmpi_actor_opts_t o;
    memset(&o, 0, sizeof o);
    o.field_mask = RMPI_ACTOR_OPT_NAME;
    o.name = "test_actor_errors.killed";
    CHECK_OK(rmpi_actor_create("Tracked", NULL, 0, &o, &a));
    CHECK(tl_take_i64(rmpi_actor_call1(a, "ping", 0)) == 1);
    CHECK_OK(rmpi_actor_kill(a));
    rmpi_actor_t found;
    int st = rmpi_actor_lookup(o.name, &found);
    CHECK_STATUS2(st, RMPI_ERR_UNKNOWN_ACTOR, RMPI_OK);
    if (st == RMPI_OK)
        expect_died(found, "ping", NULL);
}

static void check_unknown(void)
{
    rmpi_actor_t a;
    memset(&a, 0xab, sizeof a);
    rmpi_actor_t before = a;
    CHECK_STATUS(rmpi_actor_create("NoSuchClass", NULL, 0, NULL, &a), RMPI_ERR_UNKNOWN_CLASS);
    CHECK(same_actor(a, before));   /* nothing written */
    CHECK_STATUS(rmpi_actor_create("fragile", NULL, 0, NULL, &a), RMPI_ERR_UNKNOWN_CLASS);
    /* A remote function's name is no class. */
    CHECK_STATUS(rmpi_actor_create("always_fails", NULL, 0, NULL, &a), RMPI_ERR_UNKNOWN_CLASS);

    a = fragile(0, RMPI_ANY_RANK);
    rmpi_ref_t r = RMPI_REF_NIL;
    CHECK_STATUS(rmpi_actor_call(a, "nope", NULL, 0, NULL, &r), RMPI_ERR_UNKNOWN_METHOD);
    CHECK(rmpi_ref_equal(r, RMPI_REF_NIL));
    /* A method of another class, and a remote function's name. */
    CHECK_STATUS(rmpi_actor_call(a, "ping", NULL, 0, NULL, &r), RMPI_ERR_UNKNOWN_METHOD);
    CHECK_STATUS(rmpi_actor_call(a, "tl_where", NULL, 0, NULL, &r), RMPI_ERR_UNKNOWN_METHOD);
    /* rmpi_actor_call1: the ref holds the error. */
    expect_error(rmpi_actor_call1(a, "nope", 0), RMPI_ERR_UNKNOWN_METHOD, "nope",
                 (const char *)NULL);
    CHECK(tl_take_i64(rmpi_actor_call1(a, "ok", 0)) == 1);

    /* Unknown names. */
    CHECK_STATUS(rmpi_actor_lookup("test_actor_errors.nobody", &a), RMPI_ERR_UNKNOWN_ACTOR);
    CHECK_STATUS2(rmpi_actor_lookup("", &a), RMPI_ERR_UNKNOWN_ACTOR, RMPI_ERR_INVALID_ARG);
    for (int rank = 0; rank < rmpi_size(); rank++) {
        const char *name = "test_actor_errors.nobody";
        rmpi_arg_t n = rmpi_bytes(name, strlen(name));
        CHECK_STATUS((int)tl_take_i64(tl_submit("task_lookup_status", &n, 1, rank)),
                     RMPI_ERR_UNKNOWN_ACTOR);
    }
}

static void check_nargs(void)
{
    rmpi_actor_t a = fragile(0, RMPI_ANY_RANK);
    rmpi_arg_t args[3] = { rmpi_i64(1), rmpi_i64(2), rmpi_i64(3) };
    rmpi_ref_t r = RMPI_REF_NIL;
    CHECK_STATUS(rmpi_actor_call(a, "add2", args, 1, NULL, &r), RMPI_ERR_NARGS);
    CHECK_STATUS(rmpi_actor_call(a, "add2", args, 3, NULL, &r), RMPI_ERR_NARGS);
    CHECK_STATUS(rmpi_actor_call(a, "add2", NULL, 0, NULL, &r), RMPI_ERR_NARGS);
    CHECK_STATUS(rmpi_actor_call(a, "noargs", args, 1, NULL, &r), RMPI_ERR_NARGS);
    CHECK(rmpi_ref_equal(r, RMPI_REF_NIL));
    expect_error(rmpi_actor_call1(a, "add2", 1, rmpi_i64(1)), RMPI_ERR_NARGS, (const char *)NULL);
    /* The right counts work; a method registered without a count takes any. */
    CHECK_OK(rmpi_actor_call(a, "add2", args, 2, NULL, &r));
    CHECK(tl_take_i64(r) == 3);
    CHECK(tl_take_i64(rmpi_actor_call1(a, "noargs", 0)) == 7);
    CHECK(tl_take_i64(rmpi_actor_call1(a, "ok", 2, rmpi_i64(1), rmpi_i64(2))) == 1);
    /* Bad argument arrays. */
    CHECK_STATUS(rmpi_actor_call(a, "ok", NULL, 1, NULL, &r), RMPI_ERR_INVALID_ARG);
    CHECK_STATUS(rmpi_actor_call(a, "ok", args, -1, NULL, &r), RMPI_ERR_INVALID_ARG);
    CHECK_STATUS(rmpi_actor_call(a, NULL, NULL, 0, NULL, &r), RMPI_ERR_INVALID_ARG);
    CHECK_STATUS(rmpi_actor_call(a, "ok", NULL, 0, NULL, NULL), RMPI_ERR_INVALID_ARG);
    rmpi_opts_t o;
    memset(&o, 0, sizeof o);
    o.field_mask = RMPI_OPT_NUM_RETURNS;
    o.num_returns = 0;
    CHECK_STATUS(rmpi_actor_call(a, "ok", NULL, 0, &o, &r), RMPI_ERR_INVALID_ARG);
    o.num_returns = RMPI_MAX_RETURNS + 1;
    CHECK_STATUS(rmpi_actor_call(a, "ok", NULL, 0, &o, &r), RMPI_ERR_INVALID_ARG);
    CHECK(tl_take_i64(rmpi_actor_call1(a, "ok", 0)) == 2);

    /* A released ref as an argument. */
    rmpi_ref_t p;
    CHECK_OK(rmpi_put("x", 1, &p));
    CHECK_OK(rmpi_release(p));
    rmpi_arg_t pa = rmpi_ref(p);
    CHECK_STATUS(rmpi_actor_call(a, "ok", &pa, 1, NULL, &r), RMPI_ERR_REF_RELEASED);
    CHECK_STATUS(rmpi_actor_create("Fragile", &pa, 1, NULL, &a), RMPI_ERR_REF_RELEASED);
}

static void check_names(void)
{
    const char *name = "test_actor_errors.dup";
    rmpi_actor_opts_t o;
    memset(&o, 0, sizeof o);
    o.field_mask = RMPI_ACTOR_OPT_NAME;
    o.name = name;
    rmpi_arg_t m = rmpi_i64(0);
    rmpi_actor_t a, b;
    CHECK_OK(rmpi_actor_create("Fragile", &m, 1, &o, &a));
    memset(&b, 0xcd, sizeof b);
    rmpi_actor_t before = b;
    CHECK_STATUS(rmpi_actor_create("Fragile", &m, 1, &o, &b), RMPI_ERR_NAME_EXISTS);
    CHECK(same_actor(b, before));
    /* Also with another class, another rank. */
    o.field_mask |= RMPI_ACTOR_OPT_RANK;
    o.rank = rmpi_size() - 1;
    CHECK_STATUS(rmpi_actor_create("Tracked", NULL, 0, &o, &b), RMPI_ERR_NAME_EXISTS);
    /* get_if_exists: the same handle. */
    o.field_mask = RMPI_ACTOR_OPT_NAME | RMPI_ACTOR_OPT_GET_IF_EXISTS;
    o.get_if_exists = 1;
    CHECK_OK(rmpi_actor_create("Fragile", &m, 1, &o, &b));
    CHECK(same_actor(a, b));
    CHECK(tl_take_i64(rmpi_actor_call1(a, "ok", 0)) == 1);
    CHECK(tl_take_i64(rmpi_actor_call1(b, "ok", 0)) == 2);
    /* get_if_exists 0 is as if unset. */
    o.get_if_exists = 0;
    CHECK_STATUS(rmpi_actor_create("Fragile", &m, 1, &o, &b), RMPI_ERR_NAME_EXISTS);

    /* A name whose actor died in its constructor: lookup finds nothing, or the
     * dead actor. */
    o.field_mask = RMPI_ACTOR_OPT_NAME;
    o.name = "test_actor_errors.stillborn";
    rmpi_arg_t one = rmpi_i64(1);
    CHECK_OK(rmpi_actor_create("Fragile", &one, 1, &o, &a));
    expect_died(a, "ok", "constructor refused");
    int st = rmpi_actor_lookup(o.name, &b);
    CHECK_STATUS2(st, RMPI_OK, RMPI_ERR_UNKNOWN_ACTOR);
    if (st == RMPI_OK)
        expect_died(b, "ok", NULL);
}

static void check_bad_options(void)
{
    rmpi_actor_t a, sentinel;
    memset(&sentinel, 0x5a, sizeof sentinel);
    rmpi_arg_t m = rmpi_i64(0);
    rmpi_actor_opts_t o;

    int counts[] = { 0, -1, -100 };
    for (size_t k = 0; k < sizeof counts / sizeof counts[0]; k++) {
        memset(&o, 0, sizeof o);
        o.field_mask = RMPI_ACTOR_OPT_MAX_CONCURRENCY;
        o.max_concurrency = counts[k];
        a = sentinel;
        CHECK_STATUS(rmpi_actor_create("Fragile", &m, 1, &o, &a), RMPI_ERR_INVALID_ARG);
        CHECK(same_actor(a, sentinel));
    }

    int ranks[] = { rmpi_size(), rmpi_size() + 7, -2, -100 };
    for (size_t k = 0; k < sizeof ranks / sizeof ranks[0]; k++) {
        o = actor_on(ranks[k]);
        a = sentinel;
        CHECK_STATUS(rmpi_actor_create("Fragile", &m, 1, &o, &a), RMPI_ERR_INVALID_RANK);
        CHECK(same_actor(a, sentinel));
    }

    /* More cpus than any rank has, or than the chosen rank has; any GPUs. */
    memset(&o, 0, sizeof o);
    o.field_mask = RMPI_ACTOR_OPT_CPUS;
    o.cpus = 1e6;
    CHECK_STATUS(rmpi_actor_create("Fragile", &m, 1, &o, &a), RMPI_ERR_RESOURCES);
    o.field_mask = RMPI_ACTOR_OPT_CPUS | RMPI_ACTOR_OPT_RANK;
    o.rank = 0;
    CHECK_STATUS(rmpi_actor_create("Fragile", &m, 1, &o, &a), RMPI_ERR_RESOURCES);
    o.field_mask = RMPI_ACTOR_OPT_GPUS;
    o.gpus = 1e6;
    CHECK_STATUS(rmpi_actor_create("Fragile", &m, 1, &o, &a), RMPI_ERR_RESOURCES);
    o.field_mask = RMPI_ACTOR_OPT_CPUS;
    o.cpus = -1;
    CHECK_STATUS(rmpi_actor_create("Fragile", &m, 1, &o, &a), RMPI_ERR_INVALID_ARG);
    o.field_mask = RMPI_ACTOR_OPT_GPUS;
    o.gpus = -1;
    CHECK_STATUS(rmpi_actor_create("Fragile", &m, 1, &o, &a), RMPI_ERR_INVALID_ARG);

    /* Unknown option bits; a name option without a name. */
    memset(&o, 0, sizeof o);
    o.field_mask = 1u << 20;
    CHECK_STATUS(rmpi_actor_create("Fragile", &m, 1, &o, &a), RMPI_ERR_INVALID_ARG);
    o.field_mask = RMPI_ACTOR_OPT_NAME;
    o.name = NULL;
    CHECK_STATUS(rmpi_actor_create("Fragile", &m, 1, &o, &a), RMPI_ERR_INVALID_ARG);
    o.name = "";
    CHECK_STATUS(rmpi_actor_create("Fragile", &m, 1, &o, &a), RMPI_ERR_INVALID_ARG);

    /* NULL pointers and bad argument arrays. */
    CHECK_STATUS(rmpi_actor_create(NULL, &m, 1, NULL, &a), RMPI_ERR_INVALID_ARG);
    CHECK_STATUS(rmpi_actor_create("Fragile", &m, 1, NULL, NULL), RMPI_ERR_INVALID_ARG);
    CHECK_STATUS(rmpi_actor_create("Fragile", NULL, 1, NULL, &a), RMPI_ERR_INVALID_ARG);
    CHECK_STATUS(rmpi_actor_create("Fragile", &m, -1, NULL, &a), RMPI_ERR_INVALID_ARG);
    CHECK_STATUS(rmpi_actor_lookup(NULL, &a), RMPI_ERR_INVALID_ARG);
    CHECK_STATUS(rmpi_actor_lookup("x", NULL), RMPI_ERR_INVALID_ARG);

    /* The nil handle is no actor. */
    rmpi_actor_t nil = { 0, 0 };
    rmpi_ref_t r;
    CHECK(rmpi_actor_rank(nil) == -1);
    CHECK_STATUS2(rmpi_actor_call(nil, "ok", NULL, 0, NULL, &r), RMPI_ERR_UNKNOWN_ACTOR,
                  RMPI_ERR_INVALID_ARG);
    CHECK_STATUS2(rmpi_actor_kill(nil), RMPI_ERR_UNKNOWN_ACTOR, RMPI_ERR_INVALID_ARG);

    /* Still fine afterwards. */
    a = fragile(0, RMPI_ANY_RANK);
    CHECK(tl_take_i64(rmpi_actor_call1(a, "ok", 0)) == 1);
}

/* 10,000 actors, each called once. */
static void check_many_actors(void)
{
    enum { N = 10000 };
    static rmpi_actor_t a[N];
    static rmpi_ref_t r[N];
    for (int i = 0; i < N; i++) {
        rmpi_arg_t x = rmpi_i64(i);
        CHECK_OK(rmpi_actor_create("Tiny", &x, 1, NULL, &a[i]));
    }
    for (int i = 0; i < N; i++)
        CHECK_OK(rmpi_actor_call(a[i], "get", NULL, 0, NULL, &r[i]));
    for (int i = 0; i < N; i++)
        CHECK_MSG(tl_take_i64(r[i]) == i, "actor %d gave another value", i);
    int per_rank[64] = { 0 };
    for (int i = 0; i < N; i++) {
        int rank = rmpi_actor_rank(a[i]);
        CHECK(rank >= 0 && rank < rmpi_size());
        if (rank < 64)
            per_rank[rank]++;
    }
    for (int rank = 0; rank < rmpi_size() && rank < 64; rank++)
        printf("  rank %d: %d actors\n", rank, per_rank[rank]);
    for (int i = 0; i < N; i++)
        CHECK_OK(rmpi_actor_kill(a[i]));
}

/* Actors still alive at the end: their destructors run when the driver ends
 * (checked on each rank after rmpi_finalize, see check_destroyed_at_end). */
static void check_alive_at_end(void)
{
    for (int rank = 0; rank < rmpi_size(); rank++) {
        rmpi_actor_t a = create_on("Tracked", NULL, 0, rank);
        CHECK(tl_take_i64(rmpi_actor_call1(a, "ping", 0)) == 1);
    }
    /* One whose constructor is still running, too. */
    rmpi_arg_t d = rmpi_i64(100);
    create_on("Tracked", &d, 1, rmpi_size() - 1);
}

static void check_destroyed_at_end(const char *who)
{
    long started = atomic_load(&tracked_started), made = atomic_load(&tracked_made);
    long destroyed = atomic_load(&tracked_destroyed), tiny = atomic_load(&tiny_live);
    if (started != made || made != destroyed || tiny != 0) {
        fprintf(stderr, "%s (pid %ld): after rmpi_finalize %ld Tracked constructors started, "
                "%ld finished, %ld destroyed; %ld Tiny actors alive\n", who, (long)getpid(),
                started, made, destroyed, tiny);
        exit(1);
    }
}

static void register_classes(void)
{
    CHECK_OK(rmpi_class_register("Fragile", fragile_new, free));
    CHECK_OK(rmpi_method_register("Fragile", "ok", fragile_ok));
    CHECK_OK(rmpi_method_register_nargs("Fragile", "fail", fragile_fail, 1));
    CHECK_OK(rmpi_method_register_nargs("Fragile", "retfail", fragile_retfail, 0));
    CHECK_OK(rmpi_method_register_nargs("Fragile", "crash", fragile_crash, 0));
    CHECK_OK(rmpi_method_register_nargs("Fragile", "add2", fragile_add2, 2));
    CHECK_OK(rmpi_method_register_nargs("Fragile", "noargs", fragile_noargs, 0));

    CHECK_OK(rmpi_class_register("Tracked", tracked_new, tracked_free));
    CHECK_OK(rmpi_method_register_nargs("Tracked", "ping", tracked_ping, 0));
    CHECK_OK(rmpi_method_register_nargs("Tracked", "block", tracked_block, 1));

    CHECK_OK(rmpi_class_register("Tiny", tiny_new, tiny_free));
    CHECK_OK(rmpi_method_register_nargs("Tiny", "get", tiny_get, 0));

    /* Errors that do not stop rmpi_init. */
    CHECK_STATUS(rmpi_method_register("NoSuchClass", "m", fragile_ok), RMPI_ERR_UNKNOWN_CLASS);
    CHECK_STATUS(rmpi_method_register_nargs("NoSuchClass", "m", fragile_ok, 0),
                 RMPI_ERR_UNKNOWN_CLASS);
    CHECK_STATUS(rmpi_class_register(NULL, fragile_new, free), RMPI_ERR_INVALID_ARG);
    CHECK_STATUS(rmpi_class_register("", fragile_new, free), RMPI_ERR_INVALID_ARG);
    CHECK_STATUS(rmpi_class_register("NoCtor", NULL, free), RMPI_ERR_INVALID_ARG);
    CHECK_STATUS(rmpi_method_register("Fragile", NULL, fragile_ok), RMPI_ERR_INVALID_ARG);
    CHECK_STATUS(rmpi_method_register("Fragile", "", fragile_ok), RMPI_ERR_INVALID_ARG);
    CHECK_STATUS(rmpi_method_register("Fragile", "nofn", NULL), RMPI_ERR_INVALID_ARG);
    CHECK_STATUS(rmpi_method_register(NULL, "m", fragile_ok), RMPI_ERR_INVALID_ARG);
    CHECK_STATUS(rmpi_method_register_nargs("Fragile", "bad", fragile_ok, -2),
                 RMPI_ERR_INVALID_ARG);
}

int main(int argc, char **argv)
{
    register_classes();

    /* tl_start, but a worker rank checks its destructors after rmpi_finalize. */
    int st = rmpi_init(&argc, &argv);
    if (st == RMPI_WORKER_DONE) {
        st = rmpi_finalize();
        if (st != RMPI_OK) {
            fprintf(stderr, "worker rank: rmpi_finalize: %s\n", rmpi_status_string(st));
            return 1;
        }
        check_destroyed_at_end("worker rank");
        return 0;
    }
    CHECK_MSG(st == RMPI_OK, "rmpi_init: %s", rmpi_status_string(st));
    CHECK(rmpi_rank() == 0);

    RUN(check_after_init);
    RUN(check_ctor_fails);
    RUN(check_method_fails);
    RUN(check_unknown);
    RUN(check_nargs);
    RUN(check_names);
    RUN(check_bad_options);
    RUN(check_kill);
    RUN(check_kill_variants);
    RUN(check_method_crashes);
    RUN(check_ctor_crashes);
    RUN(check_many_actors);
    RUN(check_alive_at_end);

    CHECK_OK(rmpi_finalize());
    check_destroyed_at_end("driver");
    printf("PASS\n");
    return 0;
}
