/* Small shared helpers: clocks, a thread waiter that spins before it sleeps. */
#ifndef RMPI_BASE_UTIL_H
#define RMPI_BASE_UTIL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define RMPI_LIKELY(x)   __builtin_expect(!!(x), 1)
#define RMPI_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define RMPI_ALIGN_UP(x, a) (((x) + (a)-1) & ~((uint64_t)(a)-1))
/* Thread-locals read on every task or message: the initial-exec model reaches them
 * without a call to __tls_get_addr (1.5-2% of an executor in the stencil).  Small
 * ones only: a dlopen'ed library's share of static TLS is limited. */
#define RMPI_TLS __thread __attribute__((tls_model("initial-exec")))

/* The initializer of a lock that threads on other cores take for a few hundred
 * nanoseconds at a time (the store's, the executors' queue): a waiter spins a little
 * before it sleeps.  A plain mutex puts it to sleep at once, and the wake-up (a
 * futex call, a cross-core interrupt, in a VM an exit) costs 5-20 us: with two
 * executors on one rank the actors' Task Bench stencil made 4 futex calls per
 * timestep and ran 1.5x slower (bench/METG_FINDINGS.md, 11.). */
#ifdef PTHREAD_ADAPTIVE_MUTEX_INITIALIZER_NP
#define RMPI_SPIN_MUTEX_INITIALIZER PTHREAD_ADAPTIVE_MUTEX_INITIALIZER_NP
#else
#define RMPI_SPIN_MUTEX_INITIALIZER PTHREAD_MUTEX_INITIALIZER
#endif

/* A zeroed block for the hot paths (a task, an object): glibc's calloc (2.36) never
 * takes a block from the thread's cache, it locks the arena every time.  Zeroed with
 * explicit_bzero, which the compiler keeps as written: GCC turns malloc and a memset
 * of the whole block back into calloc. */
static inline void *rmpi_zalloc(size_t size)
{
    void *p = malloc(size);

    if (p != NULL)
        explicit_bzero(p, size);
    return p;
}

static inline double rmpi_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static inline void rmpi_cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

/*
 * A waiter belongs to one waiting thread.  The notifier bumps `count`; the waiter
 * spins for a while on it, then sleeps on the condition variable.  A notifier
 * takes the mutex only when the waiter said it sleeps.
 */
typedef struct {
    pthread_mutex_t lock;
    pthread_cond_t  cond;
    atomic_int      count;    /* notifications received */
    atomic_int      sleeping; /* the waiter is (about to be) in cond_wait */
} rmpi_waiter_t;

void rmpi__waiter_init(rmpi_waiter_t *w);
void rmpi__waiter_destroy(rmpi_waiter_t *w);
void rmpi__waiter_notify(rmpi_waiter_t *w);
/*
 * Wait until w->count > seen or the absolute deadline (rmpi_now() clock; < 0:
 * none) passes, spinning spin_us first.  Returns the new count (== seen on timeout).
 */
int rmpi__waiter_wait(rmpi_waiter_t *w, int seen, double deadline, int spin_us);
/* Threads of this process in the polling part of rmpi__waiter_wait: they want a
 * core now and then (a busy-polling thread beside them should yield). */
int rmpi__waiters_polling(void);

#endif
