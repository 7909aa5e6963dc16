/*
 * counter.c - an actor: one Counter, called from tasks on every rank.
 *
 * The Counter class keeps an integer between calls: its constructor takes the
 * start value, incr(by) adds and returns the new value, get() returns it.  An
 * actor runs one call at a time, so concurrent increments never get lost.
 *
 * The driver creates one Counter and submits NTASKS tasks, spread over the
 * ranks, each given the actor's handle as an argument (a handle is a plain
 * value, valid on every rank).  Task i calls incr(i + 1) CALLS times.  The
 * final value does not depend on the order the calls ran in, so the program
 * prints the same on any number of ranks.
 */
#include <raympi.h>

#include <stdio.h>
#include <stdlib.h>

#define START  1000
#define NTASKS 16
#define CALLS  100

/* ---- the Counter class ------------------------------------------------------ */

typedef struct {
    int64_t value;
} counter_t;

/* Counter(start: i64) */
static void *counter_new(rmpi_task_t *t)
{
    counter_t *c = malloc(sizeof *c);
    if (c == NULL) {
        rmpi_task_fail(t, "out of memory");
        return NULL;
    }
    c->value = rmpi_task_arg_i64(t, 0);
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

/* ---- a task that uses the actor -------------------------------------------- */

/* bump(counter: actor, by: i64, calls: i64) -> i64 calls made */
static int bump(rmpi_task_t *t)
{
    rmpi_actor_t counter;
    int st = rmpi_task_arg_actor(t, 0, &counter);
    if (st != RMPI_OK)
        return rmpi_task_fail(t, "argument 0 is not an actor: %s", rmpi_status_string(st));
    int64_t by = rmpi_task_arg_i64(t, 1), calls = rmpi_task_arg_i64(t, 2);

    /* Submit every call, then collect: calls from one caller run in order. */
    rmpi_ref_t *r = malloc((size_t)calls * sizeof *r + 1);
    if (r == NULL)
        return rmpi_task_fail(t, "out of memory");
    for (int64_t i = 0; i < calls; i++)
        r[i] = rmpi_actor_call1(counter, "incr", 1, rmpi_i64(by));
    int64_t prev = INT64_MIN;
    for (int64_t i = 0; i < calls && st == RMPI_OK; i++) {
        int64_t v;
        st = rmpi_get_i64(r[i], -1, &v);
        if (st == RMPI_OK && v <= prev)   /* our own increments come in order */
            st = RMPI_ERR_INTERNAL;
        prev = v;
    }
    for (int64_t i = 0; i < calls; i++)
        rmpi_release(r[i]);
    free(r);
    if (st != RMPI_OK)
        return rmpi_task_fail(t, "incr: %s", rmpi_status_string(st));
    return rmpi_task_return_i64(t, 0, calls);
}
RMPI_REMOTE(bump);

static int fail(const char *what, int st)
{
    fprintf(stderr, "counter: %s: %s\n", what, rmpi_status_string(st));
    return 1;
}

int main(int argc, char **argv)
{
    /* Classes and methods are registered on every rank before rmpi_init. */
    int st;
    if ((st = rmpi_class_register("Counter", counter_new, counter_free)) != RMPI_OK ||
        (st = rmpi_method_register_nargs("Counter", "incr", counter_incr, 1)) != RMPI_OK ||
        (st = rmpi_method_register_nargs("Counter", "get", counter_get, 0)) != RMPI_OK)
        return fail("registration", st);

    st = rmpi_init(&argc, &argv);
    if (st == RMPI_WORKER_DONE)
        return rmpi_finalize();
    if (st != RMPI_OK)
        return fail("rmpi_init", st);

    rmpi_actor_t counter;
    rmpi_arg_t start = rmpi_i64(START);
    if ((st = rmpi_actor_create("Counter", &start, 1, NULL, &counter)) != RMPI_OK)
        return fail("rmpi_actor_create", st);

    /* Task i runs on rank i % size and adds i + 1, CALLS times. */
    rmpi_ref_t done[NTASKS];
    int64_t want = START;
    for (int i = 0; i < NTASKS; i++) {
        rmpi_arg_t args[3] = { rmpi_actor_arg(counter), rmpi_i64(i + 1), rmpi_i64(CALLS) };
        rmpi_opts_t o = { .field_mask = RMPI_OPT_RANK, .rank = i % rmpi_size() };
        if ((st = rmpi_submit("bump", args, 3, &o, &done[i])) != RMPI_OK)
            return fail("rmpi_submit", st);
        want += (int64_t)(i + 1) * CALLS;
    }
    int64_t calls = 0;
    for (int i = 0; i < NTASKS; i++) {
        int64_t n = 0;
        if ((st = rmpi_get_i64(done[i], -1, &n)) != RMPI_OK) {
            char msg[256] = "";
            rmpi_error_message(done[i], msg, sizeof msg);
            fprintf(stderr, "counter: %s\n", msg);
            return fail("bump", st);
        }
        calls += n;
        rmpi_release(done[i]);
    }

    rmpi_ref_t r = rmpi_actor_call1(counter, "get", 0);
    int64_t value = 0;
    if ((st = rmpi_get_i64(r, -1, &value)) != RMPI_OK)
        return fail("get", st);
    rmpi_release(r);

    printf("%d tasks made %lld calls of incr\n", NTASKS, (long long)calls);
    printf("final value: %lld (expected %lld)\n", (long long)value, (long long)want);
    rmpi_actor_kill(counter);
    return rmpi_finalize() == RMPI_OK && value == want ? 0 : 1;
}
