/* sched/exec.c: the executor pool. */
#include "sched/sched.h"
#include "base/util.h"
#include "raympi.h"

#include <criterion/criterion.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

/* A task: the executor node first, then what run_task() does with it. */
typedef struct task {
    rmpi_xnode_t xn;
    void (*body)(struct task *t);
    int          id;
} task_t;

static atomic_int ran;       /* tasks that finished */
static atomic_int dropped;   /* tasks given to drop_task() */
static atomic_int release;   /* lets blocking bodies go on */
static atomic_int started;   /* blocking bodies that began */
static atomic_int flag;      /* set by flag_body */
static rmpi_waiter_t done_w; /* notified when a task finishes */

static void run_task(rmpi_xnode_t *n)
{
    task_t *t = (task_t *)n;
    if (t->body != NULL)
        t->body(t);
    free(t); /* every task is the pool's once pushed: run or dropped, then freed */
    atomic_fetch_add(&ran, 1);
    rmpi__waiter_notify(&done_w);
}

static void drop_task(rmpi_xnode_t *n)
{
    free(n);
    atomic_fetch_add(&dropped, 1);
}

static void setup(void)
{
    atomic_store(&ran, 0);
    atomic_store(&dropped, 0);
    atomic_store(&release, 0);
    atomic_store(&started, 0);
    atomic_store(&flag, 0);
    rmpi__waiter_init(&done_w);
}

/* Hang guard only: a test that deadlocks fails instead of stalling the suite. */
TestSuite(exec, .init = setup, .timeout = 60);

static task_t *new_task(void (*body)(task_t *t), int id)
{
    task_t *t = calloc(1, sizeof(*t));
    cr_assert_not_null(t);
    t->xn.cpus_milli = 1000;
    t->body = body;
    t->id = id;
    return t;
}

static void wait_ran(int n)
{
    int seen = atomic_load(&done_w.count);
    while (atomic_load(&ran) < n)
        seen = rmpi__waiter_wait(&done_w, seen, rmpi_now() + 0.1, 0);
}

static void spin_until(atomic_int *v, int value)
{
    while (atomic_load(v) < value)
        usleep(100);
}

Test(exec, runs_every_pushed_task)
{
    enum { N = 1000 };
    task_t *tasks[N];

    cr_assert_eq(rmpi__exec_init(2, 0, 0, 0, 0, run_task, NULL), RMPI_OK);
    for (int i = 0; i < N; i++) {
        tasks[i] = new_task(NULL, i);
        rmpi__exec_push(&tasks[i]->xn);
    }
    wait_ran(N);
    rmpi__exec_fini(10, drop_task);
    cr_assert_eq(atomic_load(&ran), N);
    cr_assert_eq(atomic_load(&dropped), 0);
}

Test(exec, runs_tasks_pushed_from_other_threads_with_spinning)
{
    enum { N = 200 };
    task_t *tasks[N];

    cr_assert_eq(rmpi__exec_init(2, 0, 0, 50, 0, run_task, NULL), RMPI_OK);
    for (int i = 0; i < N; i++) {
        tasks[i] = new_task(NULL, i);
        rmpi__exec_push(&tasks[i]->xn);
        if (i % 10 == 0)
            usleep(200); /* let the executors go idle now and then */
    }
    wait_ran(N);
    rmpi__exec_fini(10, drop_task);
    cr_assert_eq(atomic_load(&ran), N);
}

static void push_child_body(task_t *t);

static void noop_body(task_t *t)
{
}

/* A task that queues another from inside the pool. */
static void push_child_body(task_t *t)
{
    if (t->id > 0)
        rmpi__exec_push(&new_task(push_child_body, t->id - 1)->xn);
}

Test(exec, task_may_push_tasks)
{
    cr_assert_eq(rmpi__exec_init(2, 0, 0, 0, 0, run_task, NULL), RMPI_OK);
    rmpi__exec_push(&new_task(push_child_body, 50)->xn);
    wait_ran(51);
    rmpi__exec_fini(10, drop_task);
    cr_assert_eq(atomic_load(&ran), 51);
}

static void flag_body(task_t *t)
{
    atomic_store(&flag, 1);
}

/* Waits for flag_body's flag, lending its cpu while it waits. */
static void wait_for_flag_body(task_t *t)
{
    atomic_fetch_add(&started, 1);
    rmpi__exec_block_begin();
    while (atomic_load(&flag) == 0)
        usleep(100);
    rmpi__exec_block_end();
}

Test(exec, blocked_task_lets_queued_task_run_on_one_cpu)
{
    task_t *waiter = new_task(wait_for_flag_body, 0);
    task_t *setter = new_task(flag_body, 1);

    cr_assert_eq(rmpi__exec_init(1, 0, 0, 0, 0, run_task, NULL), RMPI_OK);
    rmpi__exec_push(&waiter->xn);
    spin_until(&started, 1);
    rmpi__exec_push(&setter->xn);
    wait_ran(2);
    rmpi__exec_fini(10, drop_task);
    cr_assert_eq(atomic_load(&flag), 1);
    cr_assert_eq(atomic_load(&ran), 2);
    cr_assert_eq(atomic_load(&dropped), 0);
}

Test(exec, blocked_task_queued_first_with_setter_behind_it)
{
    /* Both queued before any runs: the waiter takes the only cpu first. */
    task_t *waiter = new_task(wait_for_flag_body, 0);
    task_t *setter = new_task(flag_body, 1);

    cr_assert_eq(rmpi__exec_init(1, 0, 0, 0, 0, run_task, NULL), RMPI_OK);
    rmpi__exec_push(&waiter->xn);
    rmpi__exec_push(&setter->xn);
    wait_ran(2);
    rmpi__exec_fini(10, drop_task);
    cr_assert_eq(atomic_load(&ran), 2);
}

/* A chain: task i blocks until task i+1 ran; only the last sets nothing. */
#define CHAIN 6
static atomic_int chain_done[CHAIN];

static void chain_body(task_t *t)
{
    if (t->id + 1 < CHAIN) {
        rmpi__exec_push(&new_task(chain_body, t->id + 1)->xn);
        rmpi__exec_block_begin();
        while (atomic_load(&chain_done[t->id + 1]) == 0)
            usleep(100);
        rmpi__exec_block_end();
    }
    atomic_store(&chain_done[t->id], 1);
}

Test(exec, nested_blocking_chain_completes_on_one_cpu)
{
    cr_assert_eq(rmpi__exec_init(1, 0, 0, 0, 0, run_task, NULL), RMPI_OK);
    rmpi__exec_push(&new_task(chain_body, 0)->xn);
    wait_ran(CHAIN);
    rmpi__exec_fini(10, drop_task);
    for (int i = 0; i < CHAIN; i++)
        cr_assert_eq(atomic_load(&chain_done[i]), 1, "task %d", i);
}

Test(exec, block_outside_an_executor_does_nothing)
{
    cr_assert_eq(rmpi__exec_init(1, 0, 0, 0, 0, run_task, NULL), RMPI_OK);
    rmpi__exec_block_begin();
    rmpi__exec_block_end();
    cr_assert_eq(rmpi__exec_running(), 0);
    rmpi__exec_push(&new_task(noop_body, 0)->xn);
    wait_ran(1);
    rmpi__exec_fini(10, drop_task);
    cr_assert_eq(atomic_load(&ran), 1);
}

/* Holds the only cpu until released. */
static void hold_body(task_t *t)
{
    atomic_fetch_add(&started, 1);
    while (atomic_load(&release) == 0)
        usleep(100);
}

static void drop_and_release(rmpi_xnode_t *n)
{
    drop_task(n);
    if (atomic_load(&dropped) == 2)
        atomic_store(&release, 1); /* the running task may finish now */
}

Test(exec, fini_drops_queued_tasks)
{
    task_t *holder = new_task(hold_body, 0);

    cr_assert_eq(rmpi__exec_init(1, 0, 0, 0, 0, run_task, NULL), RMPI_OK);
    rmpi__exec_push(&holder->xn);
    spin_until(&started, 1);
    rmpi__exec_push(&new_task(noop_body, 1)->xn);
    rmpi__exec_push(&new_task(noop_body, 2)->xn);
    cr_assert_eq(rmpi__exec_queue_len(), 2, "one cpu, held: the others wait");
    cr_assert_eq(rmpi__exec_running(), 1);
    rmpi__exec_fini(30, drop_and_release);
    cr_assert_eq(atomic_load(&dropped), 2);
    cr_assert_eq(atomic_load(&ran), 1, "only the running task ran");
    cr_assert_eq(rmpi__exec_queue_len(), 0);
}

Test(exec, fini_with_nothing_queued_drops_nothing)
{
    cr_assert_eq(rmpi__exec_init(2, 0, 0, 0, 0, run_task, NULL), RMPI_OK);
    rmpi__exec_fini(10, drop_task);
    cr_assert_eq(atomic_load(&dropped), 0);
    cr_assert_eq(atomic_load(&ran), 0);
}

Test(exec, fini_without_init_returns)
{
    rmpi__exec_fini(1, drop_task);
    cr_assert_eq(atomic_load(&dropped), 0);
}

Test(exec, task_needing_more_cpus_than_the_rank_still_runs)
{
    task_t *big = new_task(NULL, 0);

    big->xn.cpus_milli = 4000; /* more than the pool has: runs when it is alone */
    cr_assert_eq(rmpi__exec_init(2, 0, 0, 0, 0, run_task, NULL), RMPI_OK);
    rmpi__exec_push(&big->xn);
    wait_ran(1);
    rmpi__exec_fini(10, drop_task);
    cr_assert_eq(atomic_load(&ran), 1);
}

Test(exec, bound_executors_run_tasks)
{
    enum { N = 50 };
    task_t *tasks[N];

    cr_assert_eq(rmpi__exec_init(2, 1, 1, 0, 0, run_task, NULL), RMPI_OK);
    for (int i = 0; i < N; i++) {
        tasks[i] = new_task(NULL, i);
        rmpi__exec_push(&tasks[i]->xn);
    }
    wait_ran(N);
    rmpi__exec_fini(10, drop_task);
    cr_assert_eq(atomic_load(&ran), N);
}
