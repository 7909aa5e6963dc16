/*
 * test_actor_register.c - actor registration errors that stop rmpi_init, and
 * the actor calls that need the runtime, before it starts.
 *
 * The ranks in the job decide the case (read from the launcher's environment,
 * since rmpi_size() needs rmpi_init):
 *  - alone or 1 rank: a class and a method registered twice give
 *    RMPI_ERR_NAME_EXISTS, and rmpi_init then fails with RMPI_ERR_NAME_EXISTS;
 *  - 2 ranks: rank 1 registers one method more, so rmpi_init fails with
 *    RMPI_ERR_REGISTRY_MISMATCH on every rank;
 *  - 3 ranks or more: the last rank registers one class more (same outcome).
 * Every rank prints what rmpi_init returned and exits 0 when it was expected.
 */
#include "testlib.h"

static void *obj_new(rmpi_task_t *t)
{
    (void)t;
    static int dummy;
    return &dummy;
}

static int obj_m(void *state, rmpi_task_t *t)
{
    (void)state;
    return rmpi_task_return_i64(t, 0, 1);
}

static int obj_m2(void *state, rmpi_task_t *t)
{
    (void)state;
    return rmpi_task_return_i64(t, 0, 2);
}

static int env_int(const char *a, const char *b, int dflt)
{
    const char *v = getenv(a);
    if (v == NULL)
        v = getenv(b);
    return v ? atoi(v) : dflt;
}

static void check_not_initialized(void)
{
    rmpi_actor_t a = { 1, 1 };
    rmpi_ref_t r;
    CHECK(rmpi_actor_rank(a) == -1);
    CHECK_STATUS(rmpi_actor_create("Obj", NULL, 0, NULL, &a), RMPI_ERR_NOT_INITIALIZED);
    CHECK_STATUS(rmpi_actor_call(a, "m", NULL, 0, NULL, &r), RMPI_ERR_NOT_INITIALIZED);
    CHECK_STATUS(rmpi_actor_lookup("x", &a), RMPI_ERR_NOT_INITIALIZED);
    CHECK_STATUS(rmpi_actor_kill(a), RMPI_ERR_NOT_INITIALIZED);
}

int main(int argc, char **argv)
{
    int rank = env_int("OMPI_COMM_WORLD_RANK", "PMIX_RANK", 0);
    int size = env_int("OMPI_COMM_WORLD_SIZE", "PMIX_SIZE", 1);
    int expected;

    CHECK_OK(rmpi_class_register("Obj", obj_new, NULL));   /* no destructor is fine */
    CHECK_OK(rmpi_method_register("Obj", "m", obj_m));
    check_not_initialized();

    if (size <= 1) {
        /* Registered twice: the first stays, rmpi_init reports it. */
        CHECK_STATUS(rmpi_class_register("Obj", obj_new, NULL), RMPI_ERR_NAME_EXISTS);
        CHECK_STATUS(rmpi_method_register("Obj", "m", obj_m2), RMPI_ERR_NAME_EXISTS);
        CHECK_STATUS(rmpi_method_register_nargs("Obj", "m", obj_m, 0), RMPI_ERR_NAME_EXISTS);
        /* One method in two classes is no duplicate. */
        CHECK_OK(rmpi_class_register("Other", obj_new, NULL));
        CHECK_OK(rmpi_method_register("Other", "m", obj_m));
        expected = RMPI_ERR_NAME_EXISTS;
    } else {
        if (size == 2 && rank == 1)
            CHECK_OK(rmpi_method_register("Obj", "only_on_rank_1", obj_m2));
        if (size > 2 && rank == size - 1)
            CHECK_OK(rmpi_class_register("OnlyOnTheLastRank", obj_new, NULL));
        expected = RMPI_ERR_REGISTRY_MISMATCH;
    }

    int st = rmpi_init(&argc, &argv);
    printf("rank %d: rmpi_init: %s\n", rank, rmpi_status_string(st));
    fflush(stdout);
    if (st == RMPI_OK || st == RMPI_WORKER_DONE) {
        rmpi_finalize();
        fprintf(stderr, "rank %d: rmpi_init: %s, expected %s\n", rank, rmpi_status_string(st),
                rmpi_status_string(expected));
        return 1;
    }
    rmpi_finalize();   /* not initialized: must be harmless */
    if (st != expected) {
        fprintf(stderr, "rank %d: rmpi_init: %s, expected %s\n", rank, rmpi_status_string(st),
                rmpi_status_string(expected));
        return 1;
    }
    return 0;
}
