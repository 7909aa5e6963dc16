/*
 * paramserver.c - a parameter server actor and synchronous data-parallel training.
 *
 * The ParamServer actor holds the model: NPARAMS doubles (8 MiB).  pull() returns
 * the whole vector, written in place with rmpi_task_return_buffer, so it is a
 * large object: a worker on the server's rank reads it without a copy, a worker
 * elsewhere fetches it once.  push(round, worker, grad) takes a gradient as a ref
 * (the worker put it in its own store; the server's rank fetches it) and keeps a
 * copy; when every worker has pushed for the round, the server averages the
 * gradients in worker order and takes a step, so the result does not depend on
 * which push arrived first.
 *
 * Each round the driver submits one task per worker, spread over the ranks.
 * Worker w pulls the model, computes the gradient of its loss
 * 0.5 * sum_i (x_i - target_w(i))^2, pushes it and returns its mean loss.  The
 * driver prints the mean loss per round and, at the end, a summary of the model
 * that it pulls itself.  The output is the same on any number of ranks.
 */
#include <raympi.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NPARAMS  (1 << 20)   /* doubles: 8 MiB */
#define NWORKERS 8
#define NROUNDS  5
#define LR       0.5

/* What worker w's data says parameter i should be. */
static double target(int64_t w, int64_t i)
{
    return (double)((i * 7 + w * 13) % 101) / 100.0;
}

/* ---- the ParamServer class -------------------------------------------------- */

typedef struct {
    int64_t n, nworkers, round, received;
    double  lr;
    double *x;         /* the model */
    double **grad;     /* gradients received this round, by worker */
} server_t;

static void server_free(void *state)
{
    server_t *s = state;
    if (s == NULL)
        return;
    if (s->grad != NULL)
        for (int64_t w = 0; w < s->nworkers; w++)
            free(s->grad[w]);
    free(s->grad);
    free(s->x);
    free(s);
}

/* ParamServer(n: i64, nworkers: i64, lr: f64): n parameters, all 0 */
static void *server_new(rmpi_task_t *t)
{
    int64_t n = rmpi_task_arg_i64(t, 0), nworkers = rmpi_task_arg_i64(t, 1);
    double lr = rmpi_task_arg_f64(t, 2);
    if (n < 1 || nworkers < 1) {
        rmpi_task_fail(t, "need n >= 1 and nworkers >= 1");
        return NULL;
    }
    server_t *s = calloc(1, sizeof *s);
    if (s != NULL) {
        s->x = calloc((size_t)n, sizeof *s->x);
        s->grad = calloc((size_t)nworkers, sizeof *s->grad);
    }
    if (s == NULL || s->x == NULL || s->grad == NULL) {
        server_free(s);
        rmpi_task_fail(t, "out of memory");
        return NULL;
    }
    s->n = n;
    s->nworkers = nworkers;
    s->lr = lr;
    return s;
}

/* pull() -> double[n], the model */
static int server_pull(void *state, rmpi_task_t *t)
{
    server_t *s = state;
    double *out = rmpi_task_return_buffer(t, 0, (size_t)s->n * sizeof *out);
    if (out == NULL)
        return RMPI_ERR_TASK_FAILED;   /* the call already failed with the reason */
    memcpy(out, s->x, (size_t)s->n * sizeof *out);
    return RMPI_OK;
}

/* push(round: i64, worker: i64, grad: ref to double[n]) -> i64 gradients received
 * this round (0 once the round is complete and the step taken) */
static int server_push(void *state, rmpi_task_t *t)
{
    server_t *s = state;
    int64_t round = rmpi_task_arg_i64(t, 0), w = rmpi_task_arg_i64(t, 1);
    const void *data;
    size_t size;
    int st = rmpi_task_arg(t, 2, &data, &size);
    if (st != RMPI_OK)
        return rmpi_task_fail(t, "gradient: %s", rmpi_status_string(st));
    if (round != s->round)
        return rmpi_task_fail(t, "push for round %lld during round %lld", (long long)round,
                              (long long)s->round);
    if (w < 0 || w >= s->nworkers || s->grad[w] != NULL)
        return rmpi_task_fail(t, "worker %lld: bad id or pushed twice", (long long)w);
    if (size != (size_t)s->n * sizeof(double))
        return rmpi_task_fail(t, "gradient of %zu bytes", size);
    if ((s->grad[w] = malloc(size)) == NULL)
        return rmpi_task_fail(t, "out of memory");
    memcpy(s->grad[w], data, size);

    if (++s->received == s->nworkers) {
        /* Average in worker order, whatever order the pushes came in. */
        for (int64_t i = 0; i < s->n; i++) {
            double sum = 0;
            for (int64_t k = 0; k < s->nworkers; k++)
                sum += s->grad[k][i];
            s->x[i] -= s->lr * (sum / (double)s->nworkers);
        }
        for (int64_t k = 0; k < s->nworkers; k++) {
            free(s->grad[k]);
            s->grad[k] = NULL;
        }
        s->received = 0;
        s->round++;
    }
    return rmpi_task_return_i64(t, 0, s->received);
}

/* ---- the worker task -------------------------------------------------------- */

/* worker(server: actor, w: i64, round: i64) -> f64 mean loss before the step */
static int worker(rmpi_task_t *t)
{
    rmpi_actor_t server;
    int st = rmpi_task_arg_actor(t, 0, &server);
    if (st != RMPI_OK)
        return rmpi_task_fail(t, "argument 0 is not an actor: %s", rmpi_status_string(st));
    int64_t w = rmpi_task_arg_i64(t, 1), round = rmpi_task_arg_i64(t, 2);

    rmpi_ref_t model = rmpi_actor_call1(server, "pull", 0);
    rmpi_view_t v;
    st = rmpi_get(model, -1, &v);
    rmpi_release(model);   /* the view keeps the bytes */
    if (st != RMPI_OK)
        return rmpi_task_fail(t, "pull: %s", rmpi_status_string(st));
    size_t n = v.size / sizeof(double);
    const double *x = v.data;
    double *grad = malloc(v.size);
    if (grad == NULL) {
        rmpi_view_release(&v);
        return rmpi_task_fail(t, "out of memory");
    }
    double loss = 0;
    for (size_t i = 0; i < n; i++) {
        double d = x[i] - target(w, (int64_t)i);
        grad[i] = d;
        loss += 0.5 * d * d;
    }
    rmpi_view_release(&v);

    rmpi_ref_t g;
    st = rmpi_put(grad, n * sizeof *grad, &g);
    free(grad);
    if (st != RMPI_OK)
        return rmpi_task_fail(t, "rmpi_put: %s", rmpi_status_string(st));
    rmpi_arg_t args[3] = { rmpi_i64(round), rmpi_i64(w), rmpi_ref(g) };
    rmpi_ref_t pushed;
    st = rmpi_actor_call(server, "push", args, 3, NULL, &pushed);
    rmpi_release(g);       /* the call holds its argument */
    if (st != RMPI_OK)
        return rmpi_task_fail(t, "push: %s", rmpi_status_string(st));
    int64_t received;
    st = rmpi_get_i64(pushed, -1, &received);
    if (st != RMPI_OK) {
        char msg[256] = "";
        rmpi_error_message(pushed, msg, sizeof msg);
        rmpi_release(pushed);
        return rmpi_task_fail(t, "push: %s", msg);
    }
    rmpi_release(pushed);
    return rmpi_task_return_f64(t, 0, loss / (double)n);
}
RMPI_REMOTE(worker);

static int fail(const char *what, int st)
{
    fprintf(stderr, "paramserver: %s: %s\n", what, rmpi_status_string(st));
    return 1;
}

int main(int argc, char **argv)
{
    int st;
    if ((st = rmpi_class_register("ParamServer", server_new, server_free)) != RMPI_OK ||
        (st = rmpi_method_register_nargs("ParamServer", "pull", server_pull, 0)) != RMPI_OK ||
        (st = rmpi_method_register_nargs("ParamServer", "push", server_push, 3)) != RMPI_OK)
        return fail("registration", st);

    st = rmpi_init(&argc, &argv);
    if (st == RMPI_WORKER_DONE)
        return rmpi_finalize();
    if (st != RMPI_OK)
        return fail("rmpi_init", st);

    /* The server lives on the last rank (on the driver's when started alone). */
    rmpi_actor_opts_t o = { .field_mask = RMPI_ACTOR_OPT_RANK, .rank = rmpi_size() - 1 };
    rmpi_arg_t cargs[3] = { rmpi_i64(NPARAMS), rmpi_i64(NWORKERS), rmpi_f64(LR) };
    rmpi_actor_t server;
    if ((st = rmpi_actor_create("ParamServer", cargs, 3, &o, &server)) != RMPI_OK)
        return fail("rmpi_actor_create", st);
    printf("parameter server: %d doubles (%d MiB), %d workers, %d rounds\n", NPARAMS,
           (int)(NPARAMS * sizeof(double) >> 20), NWORKERS, NROUNDS);

    for (int round = 0; round < NROUNDS; round++) {
        rmpi_ref_t loss[NWORKERS];
        for (int w = 0; w < NWORKERS; w++) {
            rmpi_arg_t args[3] = { rmpi_actor_arg(server), rmpi_i64(w), rmpi_i64(round) };
            rmpi_opts_t to = { .field_mask = RMPI_OPT_RANK, .rank = w % rmpi_size() };
            if ((st = rmpi_submit("worker", args, 3, &to, &loss[w])) != RMPI_OK)
                return fail("rmpi_submit", st);
        }
        double sum = 0;
        for (int w = 0; w < NWORKERS; w++) {
            double l = 0;
            if ((st = rmpi_get_f64(loss[w], -1, &l)) != RMPI_OK) {
                char msg[256] = "";
                rmpi_error_message(loss[w], msg, sizeof msg);
                fprintf(stderr, "paramserver: %s\n", msg);
                return fail("worker", st);
            }
            sum += l;
            rmpi_release(loss[w]);
        }
        printf("round %d: mean loss %.6f\n", round + 1, sum / NWORKERS);
    }

    /* The trained model, pulled by the driver. */
    rmpi_ref_t model = rmpi_actor_call1(server, "pull", 0);
    rmpi_view_t v;
    if ((st = rmpi_get(model, -1, &v)) != RMPI_OK)
        return fail("pull", st);
    const double *x = v.data;
    size_t n = v.size / sizeof(double);
    double sum = 0, min = x[0], max = x[0];
    for (size_t i = 0; i < n; i++) {
        sum += x[i];
        if (x[i] < min)
            min = x[i];
        if (x[i] > max)
            max = x[i];
    }
    printf("model: %zu parameters, sum %.6f, min %.6f, max %.6f\n", n, sum, min, max);
    rmpi_view_release(&v);
    rmpi_release(model);
    rmpi_actor_kill(server);
    return rmpi_finalize() == RMPI_OK ? 0 : 1;
}
