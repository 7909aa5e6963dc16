/*
 * Executor pool.  Threads take tasks FIFO while the rank has cpus free for them;
 * a task blocked in get lends its cpus back (block_begin) and a new thread is
 * started when no idle one can take the queued work, so nested task graphs never
 * deadlock (Ray's semantics).  The cpus are taken back when the wait ends, which
 * may oversubscribe for a while.
 */
#include "sched.h"
#include "base/log.h"
#include "base/util.h"
#include "raympi.h"

#include <hwloc.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MOD "sched"
#define MAX_THREADS 4096

static struct {
    pthread_mutex_t  lock;
    pthread_cond_t   cond;     /* idle threads */
    pthread_cond_t   gone;     /* a thread exited */
    rmpi_xnode_t    *head, *tail;
    atomic_int       qlen;
    int              running;
    int64_t          free_milli;
    int              nthreads, idle, starting, stop;
    int              spinning; /* idle threads polling: they will see new work */
    int              ending;   /* threads whose task gave its cpus back, not yet looking
                                  for the next one: they will take it */
    int              ncpus, bind, exclusive, spin_us, busy_us, started;
    rmpi_exec_run_t  run;
    int            (*poll)(void);
    hwloc_topology_t topo;
    hwloc_bitmap_t   set;
} ex = {.lock = RMPI_SPIN_MUTEX_INITIALIZER,
        .cond = PTHREAD_COND_INITIALIZER,
        .gone = PTHREAD_COND_INITIALIZER};

static RMPI_TLS uint32_t my_cpus;
static RMPI_TLS int      my_blocked;
static RMPI_TLS int      my_released; /* the running task gave its cpus back early */
static RMPI_TLS int      on_executor;

static int spawn_locked(void);
static void kick_locked(void);

static void bind_thread(int index)
{
    hwloc_bitmap_t set;
    int ncores;

    if (!ex.bind || ex.topo == NULL || ex.set == NULL || ex.stop)
        return;
    set = hwloc_bitmap_dup(ex.set);
    ncores = hwloc_get_nbobjs_inside_cpuset_by_type(ex.topo, ex.set, HWLOC_OBJ_CORE);
    if (ex.exclusive && index >= 0 && index < ex.ncpus && ncores > 0) {
        hwloc_obj_t core = hwloc_get_obj_inside_cpuset_by_type(ex.topo, ex.set, HWLOC_OBJ_CORE,
                                                               (unsigned)(index % ncores));
        if (core != NULL)
            hwloc_bitmap_copy(set, core->cpuset);
    }
    if (hwloc_set_cpubind(ex.topo, set, HWLOC_CPUBIND_THREAD) != 0)
        rmpi_debug(MOD, "cannot bind executor %d: %m", index);
    hwloc_bitmap_free(set);
}

static int fits_locked(const rmpi_xnode_t *n)
{
    /* (A task larger than the whole rank never fits: it runs alone.) */
    return n->cpus_milli == 0 || n->cpus_milli <= ex.free_milli ||
           (n->cpus_milli > (uint32_t)ex.ncpus * 1000 && ex.running == 0);
}

/* The link to the first queued task that fits the free cpus (FIFO among those that
 * fit: a task waiting for cpus does not hold back one that needs none) and that pick
 * accepts (NULL: any), or NULL.  The scan is bounded; past it the queue waits for
 * cpus as a whole. */
static rmpi_xnode_t **first_fit_locked(int (*pick)(const rmpi_xnode_t *n))
{
    int scanned = 0;
    for (rmpi_xnode_t **p = &ex.head; *p != NULL && scanned < 256; p = &(*p)->next, scanned++)
        if (fits_locked(*p) && (pick == NULL || pick(*p)))
            return p;
    return NULL;
}

/* Take the task at *link off the queue; its cpus are this thread's until ran_locked. */
static rmpi_xnode_t *take_locked(rmpi_xnode_t **link)
{
    rmpi_xnode_t *n = *link, *prev = NULL;
    if (n == ex.tail) { /* find the new tail: the node whose link we hold */
        if (link != &ex.head)
            prev = (rmpi_xnode_t *)((char *)link - offsetof(rmpi_xnode_t, next));
        ex.tail = prev;
    }
    *link = n->next;
    atomic_fetch_sub_explicit(&ex.qlen, 1, memory_order_relaxed);
    ex.free_milli -= n->cpus_milli;
    ex.running++;
    my_cpus = n->cpus_milli;
    return n;
}

/* The task this thread took has run: its cpus are free again. */
static void ran_locked(void)
{
    if (!my_released) {
        ex.free_milli += my_cpus;
        ex.running--;
    } else {
        ex.ending--;
    }
    my_released = 0;
}

/*
 * An alternate signal stack, so that a task that overflows its stack is reported
 * (the crash handler needs a stack to run on) instead of killing the process.
 * Executors install one for their life; a thread that runs a task itself
 * (rmpi__exec_run_one: the driver) gets one the first time, kept until it exits,
 * unless it already has its own.
 */
#define ALTSTACK_SIZE (SIGSTKSZ * 4)

static RMPI_TLS void *my_altstack;   /* ours, installed on this thread */
static RMPI_TLS int   altstack_tried;
static pthread_key_t  altstack_key;  /* frees a caller thread's at its exit */
static int            altstack_key_ok;
static pthread_once_t altstack_once = PTHREAD_ONCE_INIT;

static void altstack_remove(void *mem)
{
    if (mem == NULL)
        return;
    stack_t ss = {.ss_flags = SS_DISABLE};
    sigaltstack(&ss, NULL);
    free(mem);
}

static void altstack_key_init(void)
{
    altstack_key_ok = pthread_key_create(&altstack_key, altstack_remove) == 0;
}

static void altstack_install(void)
{
    stack_t old, ss;

    altstack_tried = 1;
    if (sigaltstack(NULL, &old) != 0 || !(old.ss_flags & SS_DISABLE))
        return; /* the thread has one (the application's, or a sanitizer's) */
    ss.ss_sp = malloc(ALTSTACK_SIZE);
    ss.ss_size = ALTSTACK_SIZE;
    ss.ss_flags = 0;
    if (ss.ss_sp == NULL || sigaltstack(&ss, NULL) != 0) {
        free(ss.ss_sp);
        rmpi_debug(MOD, "no alternate signal stack: a stack overflow in a task on this "
                        "thread will not be reported");
        return;
    }
    my_altstack = ss.ss_sp;
}

/* On a thread that is about to run a task itself. */
static void altstack_for_caller(void)
{
    if (altstack_tried)
        return;
    altstack_install();
    if (my_altstack == NULL)
        return;
    pthread_once(&altstack_once, altstack_key_init);
    if (altstack_key_ok) /* (else it stays until the process ends) */
        pthread_setspecific(altstack_key, my_altstack);
}

static void *executor_main(void *arg)
{
    int index = (int)(intptr_t)arg;

    altstack_install();
    on_executor = 1;
    char name[16];
    snprintf(name, sizeof(name), "rmpi-exec-%d", index);
    pthread_setname_np(pthread_self(), name);
    pthread_mutex_lock(&ex.lock);
    bind_thread(index); /* under the lock: shutdown frees the topology under it */
    ex.starting--;
    for (;;) {
        rmpi_xnode_t **link;
        while (!ex.stop && (link = first_fit_locked(NULL)) == NULL) {
            if (ex.spin_us > 0) {
                /* Poll a while before sleeping: a futex wake costs more than the
                 * gap between two tasks.  The poll hook may bring the next task in
                 * on this very thread. */
                ex.spinning++;
                pthread_mutex_unlock(&ex.lock);
                double now = rmpi_now();
                double until = now + ex.spin_us * 1e-6, busy = now + ex.busy_us * 1e-6;
                for (unsigned empty = 0; atomic_load_explicit(&ex.qlen, memory_order_relaxed) == 0 &&
                                         !ex.stop;) {
                    int did = ex.poll != NULL ? ex.poll() : -1;
                    now = rmpi_now();
                    if (did > 0) {
                        until = now + ex.spin_us * 1e-6;
                        empty = 0;
                    } else if (now >= until) {
                        break;
                    } else if (did < 0 || (now >= busy && ++empty % 8 == 0)) {
                        sched_yield(); /* every few empty polls: others may need the core */
                    } else {
                        rmpi_cpu_relax();
                    }
                }
                pthread_mutex_lock(&ex.lock);
                ex.spinning--;
                if (ex.stop || (link = first_fit_locked(NULL)) != NULL)
                    break;
            }
            ex.idle++;
            pthread_cond_wait(&ex.cond, &ex.lock);
            ex.idle--;
        }
        if (ex.stop)
            break;
        rmpi_xnode_t *n = take_locked(link);
        kick_locked(); /* more work that fits: wake or start the next thread */
        pthread_mutex_unlock(&ex.lock);

        ex.run(n); /* n belongs to run() from here */

        pthread_mutex_lock(&ex.lock);
        ran_locked();
        /* More threads than cpus exist after blocked tasks resumed: shrink. */
        if (ex.nthreads > ex.ncpus && ex.idle >= 1 && ex.head == NULL)
            break;
    }
    ex.nthreads--;
    pthread_cond_broadcast(&ex.gone);
    pthread_mutex_unlock(&ex.lock);
    on_executor = 0;
    altstack_remove(my_altstack);
    my_altstack = NULL;
    return NULL;
}

static int spawn_locked(void)
{
    pthread_t t;
    pthread_attr_t attr;
    int rc;

    if (ex.nthreads >= MAX_THREADS)
        return RMPI_ERR_RESOURCES;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    rc = pthread_create(&t, &attr, executor_main, (void *)(intptr_t)ex.nthreads);
    pthread_attr_destroy(&attr);
    if (rc != 0) {
        rmpi_error(MOD, "cannot start an executor thread (%d running): %s", ex.nthreads,
                   strerror(rc));
        return RMPI_ERR_NO_MEMORY;
    }
    ex.nthreads++;
    ex.starting++;
    return RMPI_OK;
}

/* Make sure someone will take the queue head if it can run now. */
static void kick_locked(void)
{
    if (ex.stop || first_fit_locked(NULL) == NULL) /* (no thread starts once shutting down) */
        return;
    /* Threads that are not idle are running or blocked in a wait: only an idle
     * or starting thread can take the task. */
    if (ex.idle > 0)
        pthread_cond_signal(&ex.cond);
    else if (ex.starting == 0 && ex.spinning == 0 && ex.ending == 0)
        spawn_locked();
}

int rmpi__exec_init(int ncpus, int bind, int exclusive, int spin_us, int busy_us,
                    rmpi_exec_run_t run, int (*poll)(void))
{
    pthread_mutex_lock(&ex.lock);
    ex.head = ex.tail = NULL;
    atomic_store(&ex.qlen, 0);
    ex.running = ex.idle = ex.nthreads = ex.starting = ex.stop = 0;
    ex.ncpus = ncpus;
    ex.free_milli = (int64_t)ncpus * 1000;
    ex.bind = bind;
    ex.exclusive = exclusive;
    ex.spin_us = spin_us;
    ex.busy_us = busy_us < spin_us ? busy_us : spin_us;
    ex.run = run;
    ex.poll = poll;
    ex.spinning = ex.ending = 0;
    if (bind) {
        if (hwloc_topology_init(&ex.topo) == 0 && hwloc_topology_load(ex.topo) == 0) {
            ex.set = hwloc_bitmap_alloc();
            if (hwloc_get_cpubind(ex.topo, ex.set, HWLOC_CPUBIND_PROCESS) != 0 ||
                hwloc_bitmap_iszero(ex.set))
                hwloc_bitmap_copy(ex.set, hwloc_topology_get_topology_cpuset(ex.topo));
        } else {
            rmpi_warn(MOD, "hwloc topology unavailable: executors are not bound");
            ex.bind = 0;
        }
    }
    int rc = RMPI_OK;
    for (int i = 0; i < ncpus && rc == RMPI_OK; i++)
        rc = spawn_locked();
    ex.started = 1;
    pthread_mutex_unlock(&ex.lock);
    return rc;
}

void rmpi__exec_push(rmpi_xnode_t *n)
{
    n->next = NULL;
    pthread_mutex_lock(&ex.lock);
    if (ex.tail != NULL)
        ex.tail->next = n;
    else
        ex.head = n;
    ex.tail = n;
    atomic_fetch_add_explicit(&ex.qlen, 1, memory_order_relaxed);
    kick_locked();
    pthread_mutex_unlock(&ex.lock);
}

void rmpi__exec_task_ending(void)
{
    if (!on_executor || my_released || my_blocked > 0)
        return;
    pthread_mutex_lock(&ex.lock);
    ex.free_milli += my_cpus;
    ex.running--;
    my_released = 1;
    ex.ending++;
    kick_locked();
    pthread_mutex_unlock(&ex.lock);
}

void rmpi__exec_block_begin(void)
{
    if (!on_executor || my_blocked++ > 0)
        return;
    pthread_mutex_lock(&ex.lock);
    ex.free_milli += my_cpus;
    ex.running--;
    kick_locked();
    pthread_mutex_unlock(&ex.lock);
}

void rmpi__exec_block_end(void)
{
    if (!on_executor || --my_blocked > 0)
        return;
    pthread_mutex_lock(&ex.lock);
    ex.free_milli -= my_cpus;
    ex.running++;
    pthread_mutex_unlock(&ex.lock);
}

void rmpi__exec_adjust(int64_t delta_milli)
{
    pthread_mutex_lock(&ex.lock);
    ex.free_milli += delta_milli;
    if (delta_milli > 0)
        kick_locked();
    pthread_mutex_unlock(&ex.lock);
}

int rmpi__exec_run_one(int (*pick)(const rmpi_xnode_t *n))
{
    if (on_executor || atomic_load_explicit(&ex.qlen, memory_order_relaxed) == 0)
        return 0;
    pthread_mutex_lock(&ex.lock);
    rmpi_xnode_t **link = ex.stop || !ex.started ? NULL : first_fit_locked(pick);
    if (link == NULL) {
        pthread_mutex_unlock(&ex.lock);
        return 0;
    }
    rmpi_xnode_t *n = take_locked(link);
    pthread_mutex_unlock(&ex.lock);

    altstack_for_caller();
    /* For the task's length this thread counts as an executor (a wait inside it
     * lends its cpus, its end frees them early), then it is the caller again. */
    on_executor = 1;
    ex.run(n);
    on_executor = 0;

    pthread_mutex_lock(&ex.lock);
    ran_locked();
    kick_locked(); /* what queued meanwhile and fits now */
    pthread_mutex_unlock(&ex.lock);
    return 1;
}

int rmpi__exec_on_executor(void)
{
    return on_executor;
}

int rmpi__exec_queue_len(void)
{
    return atomic_load_explicit(&ex.qlen, memory_order_relaxed);
}

int rmpi__exec_running(void)
{
    return ex.running;
}

void rmpi__exec_fini(double timeout_s, void (*drop)(rmpi_xnode_t *n))
{
    rmpi_xnode_t *n, *next;
    double deadline = rmpi_now() + timeout_s;

    pthread_mutex_lock(&ex.lock);
    if (!ex.started) {
        pthread_mutex_unlock(&ex.lock);
        return;
    }
    ex.stop = 1;
    n = ex.head;
    ex.head = ex.tail = NULL;
    atomic_store(&ex.qlen, 0);
    pthread_cond_broadcast(&ex.cond);
    pthread_mutex_unlock(&ex.lock);
    for (; n != NULL; n = next) {
        next = n->next;
        if (drop != NULL)
            drop(n);
    }
    pthread_mutex_lock(&ex.lock);
    while (ex.nthreads > 0) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 20 * 1000 * 1000;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_broadcast(&ex.cond);
        pthread_cond_timedwait(&ex.gone, &ex.lock, &ts);
        if (rmpi_now() > deadline) {
            rmpi_warn(MOD, "%d executor thread(s) still running a task at shutdown",
                      ex.running);
            break;
        }
    }
    ex.started = 0;
    /* A thread still starting (past the timeout) binds under the lock and finds
     * these gone. */
    hwloc_topology_t topo = ex.topo;
    hwloc_bitmap_t set = ex.set;
    ex.topo = NULL;
    ex.set = NULL;
    pthread_mutex_unlock(&ex.lock);
    if (set != NULL)
        hwloc_bitmap_free(set);
    if (topo != NULL)
        hwloc_topology_destroy(topo);
}
