/*
 * Scheduling on one rank: the executor pool (threads = the rank's cores, bound
 * with hwloc; a task that blocks in get gives its cpus back so nested graphs
 * cannot deadlock) and the choice of the rank a task runs on.
 */
#ifndef RMPI_SCHED_H
#define RMPI_SCHED_H

#include <stddef.h>
#include <stdint.h>

typedef struct rmpi_xnode {
    struct rmpi_xnode *next;
    uint32_t           cpus_milli; /* thousandths of a cpu the task holds */
} rmpi_xnode_t;

typedef void (*rmpi_exec_run_t)(rmpi_xnode_t *n);

/* The process's cpuset as a list string ("0-3,8") and its cores (PUs if none). */
int  rmpi__cpus_detect(char *cpuset, size_t len, int *ncores);
/* 1 when two cpuset list strings share a cpu. */
int  rmpi__cpus_intersect(const char *a, const char *b);

/*
 * Start ncpus executor threads running run(); exclusive: the rank owns its cpuset
 * alone, so each thread gets a core of it; spin_us: idle polling before sleeping,
 * during which an idle thread calls poll() (may be NULL), e.g. to receive the
 * next task itself; poll returns > 0 when it did something, < 0 when the thread
 * should leave the core to others now.  For the first busy_us of it the thread
 * does not yield between polls (for ranks with cores of their own: the next task
 * usually comes within microseconds); then it yields often.
 */
int  rmpi__exec_init(int ncpus, int bind, int exclusive, int spin_us, int busy_us,
                     rmpi_exec_run_t run, int (*poll)(void));
/* Queue a task (any thread). */
void rmpi__exec_push(rmpi_xnode_t *n);
/* The running task's work is done and it is about to report: its cpus are free (the
 * load this rank reports must not count it, nor may queued work wait for it). */
void rmpi__exec_task_ending(void);
/* Around a blocking wait inside a task: lend the task's cpus to other tasks. */
void rmpi__exec_block_begin(void);
void rmpi__exec_block_end(void);
/* Take (delta < 0) or give back cpus outside any task, e.g. those an actor holds. */
void rmpi__exec_adjust(int64_t delta_milli);
/*
 * On a thread that is not an executor (e.g. the driver, waiting in a get):
 * take the first queued task that fits the free cpus and that pick accepts, and
 * run it here, as an executor would.  1 when one ran, 0 when none was taken.
 */
int  rmpi__exec_run_one(int (*pick)(const rmpi_xnode_t *n));
/* 1 on an executor thread (or while rmpi__exec_run_one runs a task). */
int  rmpi__exec_on_executor(void);
/* Queued (not yet running) tasks. */
int  rmpi__exec_queue_len(void);
int  rmpi__exec_running(void);
/* Stop: running tasks get timeout_s to finish; queued ones go to drop(). */
void rmpi__exec_fini(double timeout_s, void (*drop)(rmpi_xnode_t *n));

/*
 * Pick a rank for a task: candidates are ranks with ncpus[r] * 1000 >= cpus_milli;
 * load[r] is the estimated queue of rank r.  Two random choices, the lower load
 * (per cpu) wins, this rank on a tie.  -1 when no rank fits.
 */
int  rmpi__place_choose(int size, int me, const int *ncpus, int (*load)(int),
                        uint32_t cpus_milli, uint64_t *rng);

#endif
