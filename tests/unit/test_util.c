/* base/util.c: the waiter (spin, then sleep on a condition variable). */
#include "base/util.h"

#include <criterion/criterion.h>
#include <pthread.h>
#include <unistd.h>

static rmpi_waiter_t w;

static void setup(void)
{
    rmpi__waiter_init(&w);
}

static void teardown(void)
{
    rmpi__waiter_destroy(&w);
}

TestSuite(waiter, .init = setup, .fini = teardown, .timeout = 30);

Test(waiter, new_waiter_has_no_notifications)
{
    cr_assert_eq(atomic_load(&w.count), 0);
}

Test(waiter, returns_at_once_when_already_notified)
{
    rmpi__waiter_notify(&w);
    /* No deadline, no spin: it must not sleep since the count moved already. */
    cr_assert_eq(rmpi__waiter_wait(&w, 0, -1, 0), 1);
}

Test(waiter, counts_every_notification)
{
    rmpi__waiter_notify(&w);
    rmpi__waiter_notify(&w);
    rmpi__waiter_notify(&w);
    cr_assert_eq(rmpi__waiter_wait(&w, 0, -1, 0), 3);
    cr_assert_eq(rmpi__waiter_wait(&w, 2, -1, 0), 3);
}

Test(waiter, times_out_returning_seen)
{
    cr_assert_eq(rmpi__waiter_wait(&w, 0, rmpi_now() + 0.05, 0), 0);
}

Test(waiter, times_out_while_spinning_returning_seen)
{
    /* A spin longer than the deadline is cut to the deadline. */
    cr_assert_eq(rmpi__waiter_wait(&w, 0, rmpi_now() + 0.05, 10 * 1000 * 1000), 0);
}

Test(waiter, past_deadline_returns_seen)
{
    cr_assert_eq(rmpi__waiter_wait(&w, 0, rmpi_now() - 1.0, 0), 0);
}

Test(waiter, not_sleeping_after_return)
{
    rmpi__waiter_wait(&w, 0, rmpi_now() + 0.01, 0);
    cr_assert_eq(atomic_load(&w.sleeping), 0);
}

static void *notify_later(void *arg)
{
    usleep(20 * 1000);
    rmpi__waiter_notify(&w);
    return NULL;
}

static int wait_for_other_thread(double deadline, int spin_us)
{
    pthread_t t;
    int c;

    cr_assert_eq(pthread_create(&t, NULL, notify_later, NULL), 0);
    c = rmpi__waiter_wait(&w, 0, deadline, spin_us);
    pthread_join(t, NULL);
    return c;
}

Test(waiter, wakes_on_notify_from_other_thread)
{
    cr_assert_eq(wait_for_other_thread(-1, 0), 1);
}

Test(waiter, wakes_on_notify_before_far_deadline)
{
    cr_assert_eq(wait_for_other_thread(rmpi_now() + 3600, 0), 1);
}

Test(waiter, wakes_on_notify_after_spinning)
{
    cr_assert_eq(wait_for_other_thread(-1, 100), 1);
}

Test(waiter, wakes_on_notify_during_spin)
{
    cr_assert_eq(wait_for_other_thread(-1, 10 * 1000 * 1000), 1);
}

/* Many rounds of notify/wait between two threads: no wake-up is lost. */
#define ROUNDS 2000
static rmpi_waiter_t back;

static void *ping(void *arg)
{
    int seen = 0;

    for (int i = 0; i < ROUNDS; i++) {
        rmpi__waiter_notify(&w);
        seen = rmpi__waiter_wait(&back, seen, -1, i % 2 ? 0 : 5);
    }
    return NULL;
}

Test(waiter, ping_pong_loses_no_wakeup)
{
    pthread_t t;
    int seen = 0;

    rmpi__waiter_init(&back);
    cr_assert_eq(pthread_create(&t, NULL, ping, NULL), 0);
    for (int i = 0; i < ROUNDS; i++) {
        seen = rmpi__waiter_wait(&w, seen, -1, i % 3 ? 0 : 5);
        rmpi__waiter_notify(&back);
    }
    pthread_join(t, NULL);
    cr_assert_eq(seen, ROUNDS);
    cr_assert_eq(atomic_load(&back.count), ROUNDS);
    rmpi__waiter_destroy(&back);
}
