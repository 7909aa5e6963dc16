/*
 * fib.c - recursive Fibonacci with nested tasks.
 *
 * fib(n) submits fib(n-1) and fib(n-2) as tasks and waits for them from inside
 * the task; below CUTOFF it computes locally.  Waiting inside a task is safe:
 * a task blocked in rmpi_get gives its executor slot up, so the recursion
 * cannot run out of slots.
 *
 *   ./fib [N]      prints fib(N), N = 22 by default
 */
#include <raympi.h>

#include <stdio.h>
#include <stdlib.h>

#define CUTOFF 12

static int64_t fib_local(int64_t n)
{
    int64_t a = 0, b = 1;
    for (int64_t i = 0; i < n; i++) {
        int64_t c = a + b;
        a = b;
        b = c;
    }
    return a;
}

/* fib(n: i64) -> i64 */
static int fib(rmpi_task_t *t)
{
    int64_t n = rmpi_task_arg_i64(t, 0);
    if (n < CUTOFF)
        return rmpi_task_return_i64(t, 0, fib_local(n));

    rmpi_ref_t a = rmpi_call("fib", 1, rmpi_i64(n - 1));
    rmpi_ref_t b = rmpi_call("fib", 1, rmpi_i64(n - 2));
    int64_t x = 0, y = 0;
    int st = rmpi_get_i64(a, -1, &x);
    if (st == RMPI_OK)
        st = rmpi_get_i64(b, -1, &y);
    rmpi_release(a);
    rmpi_release(b);
    if (st != RMPI_OK)
        return rmpi_task_fail(t, "fib(%lld): %s", (long long)n, rmpi_status_string(st));
    return rmpi_task_return_i64(t, 0, x + y);
}
RMPI_REMOTE(fib);

int main(int argc, char **argv)
{
    int st = rmpi_init(&argc, &argv);
    if (st == RMPI_WORKER_DONE)
        return rmpi_finalize();
    if (st != RMPI_OK) {
        fprintf(stderr, "fib: rmpi_init: %s\n", rmpi_status_string(st));
        return 1;
    }

    int64_t n = argc > 1 ? strtoll(argv[1], NULL, 10) : 22;
    if (n < 0 || n > 90) {
        fprintf(stderr, "fib: N must be in 0..90\n");
        rmpi_finalize();
        return 2;
    }

    rmpi_ref_t r = rmpi_call("fib", 1, rmpi_i64(n));
    int64_t v;
    st = rmpi_get_i64(r, -1, &v);
    if (st != RMPI_OK) {
        char msg[256] = "";
        rmpi_error_message(r, msg, sizeof msg);
        fprintf(stderr, "fib: %s %s\n", rmpi_status_string(st), msg);
        return 1;
    }
    rmpi_release(r);
    printf("fib(%lld) = %lld\n", (long long)n, (long long)v);
    return rmpi_finalize();
}
