/*
 * init_probe.c - starts the runtime and says how rmpi_init went, for the
 * start-up tests in test_init.sh.
 *
 *   init_probe EXPECTED
 *
 * EXPECTED is the status every rank's rmpi_init should return, by name
 * (RMPI_OK also accepts RMPI_WORKER_DONE on the other ranks).  Each rank prints
 * "rank R: rmpi_init: STATUS" and exits 0 when it got EXPECTED, 1 otherwise.
 * Read before rmpi_init, so they can make the ranks differ:
 *   PROBE_EXTRA_ON_RANK=R   rank R registers one function more than the others
 *   PROBE_DUPLICATE=1       a constructor registers another function under a
 *                           name already taken
 * The rank is taken from the launcher's environment (OMPI_COMM_WORLD_RANK or
 * PMIX_RANK; 0 when started alone) because rmpi_rank() needs rmpi_init.
 */
#include <raympi.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int probe_fn(rmpi_task_t *t)
{
    return rmpi_task_return_i64(t, 0, 1);
}
RMPI_REMOTE(probe_fn);

static int only_on_one_rank(rmpi_task_t *t)
{
    return rmpi_task_return_i64(t, 0, 2);
}

/* A second function under the name probe_fn, registered the way RMPI_REMOTE
 * does it: from a constructor that cannot check the status.  rmpi_init must
 * report the error. */
__attribute__((constructor)) static void register_twice(void)
{
    if (getenv("PROBE_DUPLICATE") != NULL)
        rmpi_register("probe_fn", only_on_one_rank);
}

static int launcher_rank(void)
{
    const char *r = getenv("OMPI_COMM_WORLD_RANK");
    if (r == NULL)
        r = getenv("PMIX_RANK");
    return r ? atoi(r) : 0;
}

static int status_by_name(const char *name)
{
#define MATCH_(n, value, text)                                                       \
    if (strcmp(name, #n) == 0)                                                       \
        return value;
    RMPI_STATUS_LIST(MATCH_)
#undef MATCH_
    fprintf(stderr, "init_probe: no status called %s\n", name);
    exit(2);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: init_probe EXPECTED-STATUS\n");
        return 2;
    }
    int expected = status_by_name(argv[1]);
    int rank = launcher_rank();
    const char *extra = getenv("PROBE_EXTRA_ON_RANK");
    if (extra != NULL && atoi(extra) == rank &&
        rmpi_register("only_on_one_rank", only_on_one_rank) != RMPI_OK) {
        fprintf(stderr, "rank %d: rmpi_register failed\n", rank);
        return 1;
    }

    int st = rmpi_init(&argc, &argv);
    printf("rank %d: rmpi_init: %s\n", rank, rmpi_status_string(st));
    fflush(stdout);

    if (st == RMPI_WORKER_DONE)
        return expected == RMPI_OK && rmpi_finalize() == RMPI_OK ? 0 : 1;
    if (st != RMPI_OK) {
        rmpi_finalize();   /* not initialized: must be harmless */
        return st == expected ? 0 : 1;
    }
    /* The driver: prove the runtime works, then end the job. */
    int64_t v = 0;
    rmpi_ref_t r = rmpi_call("probe_fn", 0);
    int ok = rmpi_get_i64(r, -1, &v) == RMPI_OK && v == 1;
    rmpi_release(r);
    if (rmpi_finalize() != RMPI_OK)
        ok = 0;
    return ok && expected == RMPI_OK ? 0 : 1;
}
