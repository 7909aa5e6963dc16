#include "util.h"

#include <errno.h>
#include <math.h>
#include <sched.h>

static atomic_int polling;

int rmpi__waiters_polling(void)
{
    return atomic_load_explicit(&polling, memory_order_relaxed);
}

void rmpi__waiter_init(rmpi_waiter_t *w)
{
    pthread_condattr_t attr;

    pthread_mutex_init(&w->lock, NULL);
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&w->cond, &attr);
    pthread_condattr_destroy(&attr);
    atomic_init(&w->count, 0);
    atomic_init(&w->sleeping, 0);
}

void rmpi__waiter_destroy(rmpi_waiter_t *w)
{
    pthread_cond_destroy(&w->cond);
    pthread_mutex_destroy(&w->lock);
}

void rmpi__waiter_notify(rmpi_waiter_t *w)
{
    atomic_fetch_add(&w->count, 1);
    if (atomic_load(&w->sleeping)) {
        pthread_mutex_lock(&w->lock);
        pthread_cond_signal(&w->cond);
        pthread_mutex_unlock(&w->lock);
    }
}

int rmpi__waiter_wait(rmpi_waiter_t *w, int seen, double deadline, int spin_us)
{
    int c = atomic_load(&w->count);

    if (c != seen)
        return c;
    if (spin_us > 0) {
        double until = rmpi_now() + spin_us * 1e-6;
        if (deadline >= 0 && deadline < until)
            until = deadline;
        atomic_fetch_add_explicit(&polling, 1, memory_order_relaxed);
        do {
            sched_yield(); /* lets a thread of this core make the progress we wait for */
            if ((c = atomic_load(&w->count)) != seen)
                break;
        } while (rmpi_now() < until);
        atomic_fetch_sub_explicit(&polling, 1, memory_order_relaxed);
        if (c != seen)
            return c;
    }
    pthread_mutex_lock(&w->lock);
    atomic_store(&w->sleeping, 1);
    while ((c = atomic_load(&w->count)) == seen) {
        if (deadline < 0) {
            pthread_cond_wait(&w->cond, &w->lock);
        } else {
            double now = rmpi_now();
            if (now >= deadline)
                break;
            struct timespec ts;
            clock_gettime(CLOCK_MONOTONIC, &ts);
            double rem = deadline - now;
            ts.tv_sec += (time_t)rem;
            ts.tv_nsec += (long)((rem - floor(rem)) * 1e9);
            if (ts.tv_nsec >= 1000000000L) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000L;
            }
            pthread_cond_timedwait(&w->cond, &w->lock, &ts);
        }
    }
    atomic_store(&w->sleeping, 0);
    pthread_mutex_unlock(&w->lock);
    return c;
}
