/*
 * hello.c - the whole-program example of the API: the sum of the squares of
 * 0..99, each square computed by a remote task.  Prints 328350.
 *
 * Run it alone (./hello), with mpirun -n N ./hello or srun --mpi=pmix -n N ./hello.
 */
#include <raympi.h>

#include <stdio.h>

static int square(rmpi_task_t *t)
{
    int64_t x = rmpi_task_arg_i64(t, 0);
    return rmpi_task_return_i64(t, 0, x * x);
}
RMPI_REMOTE(square);

int main(int argc, char **argv)
{
    int st = rmpi_init(&argc, &argv);
    if (st == RMPI_WORKER_DONE)          /* a worker rank: it served until the end */
        return rmpi_finalize();
    if (st != RMPI_OK) {
        fprintf(stderr, "hello: rmpi_init: %s\n", rmpi_status_string(st));
        return 1;
    }

    rmpi_ref_t r[100];
    for (int i = 0; i < 100; i++)
        r[i] = rmpi_call("square", 1, rmpi_i64(i));

    int64_t sum = 0;
    for (int i = 0; i < 100; i++) {
        int64_t v;
        st = rmpi_get_i64(r[i], -1, &v);
        if (st != RMPI_OK) {
            fprintf(stderr, "hello: square(%d): %s\n", i, rmpi_status_string(st));
            return 1;
        }
        rmpi_release(r[i]);
        sum += v;
    }
    printf("%lld\n", (long long)sum);
    return rmpi_finalize();
}
