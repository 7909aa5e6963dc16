/* store/store.c: the accounted allocator and the object table with its waiters. */
#include "store/store.h"
#include "raympi.h"

#include <criterion/criterion.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#define CAP (1u << 20) /* 1 MiB */

static void setup(void)
{
    cr_assert_eq(rmpi__store_init(CAP), RMPI_OK);
}

/* The table's lock, taken through these so a failed assertion (which leaves
 * the test early) does not leave fini waiting on it. */
static int table_locked;

static void lock_table(void)
{
    rmpi__store_lock();
    table_locked = 1;
}

static void unlock_table(void)
{
    table_locked = 0;
    rmpi__store_unlock();
}

static void teardown(void)
{
    if (table_locked)
        unlock_table();
    rmpi__store_fini();
}

TestSuite(store_alloc, .init = setup, .fini = teardown);
TestSuite(store_obj, .init = setup, .fini = teardown);
TestSuite(oid);

/* ---- allocator ---- */

Test(store_alloc, init_sets_capacity_and_empty_counters)
{
    cr_assert_eq(rmpi__store_capacity(), CAP);
    cr_assert_eq(rmpi__store_bytes(), 0);
    cr_assert_eq(rmpi__store_objects(), 0);
}

Test(store_alloc, alloc_and_free_are_accounted)
{
    void *p = NULL, *q = NULL;

    cr_assert_eq(rmpi__store_alloc(1000, 0, &p), RMPI_OK);
    cr_assert_eq(rmpi__store_alloc(24, 0, &q), RMPI_OK);
    cr_assert_not_null(p);
    cr_assert_not_null(q);
    cr_assert_neq(p, q);
    cr_assert_eq(rmpi__store_bytes(), 1024);
    cr_assert_eq(rmpi__store_objects(), 2);
    memset(p, 0xab, 1000);
    memset(q, 0xcd, 24);
    rmpi__store_free(p, 1000);
    cr_assert_eq(rmpi__store_bytes(), 24);
    cr_assert_eq(rmpi__store_objects(), 1);
    rmpi__store_free(q, 24);
    cr_assert_eq(rmpi__store_bytes(), 0);
    cr_assert_eq(rmpi__store_objects(), 0);
}

Test(store_alloc, zero_size_counts_an_object_but_no_bytes)
{
    void *p = NULL;

    cr_assert_eq(rmpi__store_alloc(0, 0, &p), RMPI_OK);
    cr_assert_not_null(p, "an empty object still gets a pointer");
    cr_assert_eq(rmpi__store_bytes(), 0);
    cr_assert_eq(rmpi__store_objects(), 1);
    rmpi__store_free(p, 0);
    cr_assert_eq(rmpi__store_bytes(), 0);
    cr_assert_eq(rmpi__store_objects(), 0);
}

Test(store_alloc, exactly_capacity_fits)
{
    void *p = NULL;

    cr_assert_eq(rmpi__store_alloc(CAP, 0, &p), RMPI_OK);
    cr_assert_eq(rmpi__store_bytes(), CAP);
    rmpi__store_free(p, CAP);
    cr_assert_eq(rmpi__store_bytes(), 0);
}

Test(store_alloc, above_capacity_is_too_large)
{
    void *p = NULL;

    cr_assert_eq(rmpi__store_alloc(CAP + 1, 0, &p), RMPI_ERR_TOO_LARGE);
    cr_assert_eq(rmpi__store_bytes(), 0);
    cr_assert_eq(rmpi__store_objects(), 0);
}

Test(store_alloc, sum_above_capacity_is_full)
{
    void *a = NULL, *b = NULL;

    cr_assert_eq(rmpi__store_alloc(600 * 1024, 0, &a), RMPI_OK);
    cr_assert_eq(rmpi__store_alloc(600 * 1024, 0, &b), RMPI_ERR_STORE_FULL);
    cr_assert_eq(rmpi__store_bytes(), 600 * 1024, "the refused bytes are not accounted");
    cr_assert_eq(rmpi__store_objects(), 1);
    rmpi__store_free(a, 600 * 1024);
    cr_assert_eq(rmpi__store_alloc(600 * 1024, 0, &b), RMPI_OK, "room again after free");
    rmpi__store_free(b, 600 * 1024);
    cr_assert_eq(rmpi__store_bytes(), 0);
}

Test(store_alloc, force_passes_capacity)
{
    void *a = NULL, *b = NULL;

    cr_assert_eq(rmpi__store_alloc(CAP, 0, &a), RMPI_OK);
    cr_assert_eq(rmpi__store_alloc(4096, 1, &b), RMPI_OK, "forced into a full store");
    cr_assert_eq(rmpi__store_bytes(), CAP + 4096);
    rmpi__store_free(b, 4096);
    rmpi__store_free(a, CAP);
    cr_assert_eq(rmpi__store_bytes(), 0);
    cr_assert_eq(rmpi__store_objects(), 0);
}

Test(store_alloc, force_passes_size_above_capacity)
{
    void *p = NULL;

    cr_assert_eq(rmpi__store_alloc(2 * CAP, 1, &p), RMPI_OK);
    memset(p, 1, 2 * CAP);
    cr_assert_eq(rmpi__store_bytes(), 2 * CAP);
    rmpi__store_free(p, 2 * CAP);
    cr_assert_eq(rmpi__store_bytes(), 0);
}

/* Small objects: a cache line each, at every size below the large path, freed in
 * another order than made (ASan and valgrind see the blocks malloc returned). */
Test(store_alloc, small_objects_are_line_aligned)
{
    void *p[64];
    size_t sizes[64], n = 0;

    for (size_t size = 1; size < 65536; size = size * 3 / 2 + 1, n++) {
        sizes[n] = size;
        cr_assert_eq(rmpi__store_alloc(size, 0, &p[n]), RMPI_OK, "size %zu", size);
        cr_assert_eq((uintptr_t)p[n] % 64, 0, "size %zu at %p", size, p[n]);
        memset(p[n], 0x5a, size);
    }
    cr_assert_eq(rmpi__store_objects(), n);
    for (size_t odd = 1; odd <= 2; odd++) /* the odd ones, then the even ones */
        for (size_t i = odd % 2; i < n; i += 2)
            rmpi__store_free(p[i], sizes[i]);
    cr_assert_eq(rmpi__store_bytes(), 0);
    cr_assert_eq(rmpi__store_objects(), 0);
}

Test(store_alloc, large_buffers_are_page_aligned)
{
    const size_t sizes[] = {65536, 65537, 300000, CAP - 1};
    long page = sysconf(_SC_PAGESIZE);

    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        void *p = NULL;
        cr_assert_eq(rmpi__store_alloc(sizes[i], 0, &p), RMPI_OK, "size %zu", sizes[i]);
        cr_assert_eq((uintptr_t)p % (uintptr_t)page, 0, "size %zu at %p", sizes[i], p);
        memset(p, 0x5a, sizes[i]);
        rmpi__store_free(p, sizes[i]);
    }
    cr_assert_eq(rmpi__store_bytes(), 0);
    cr_assert_eq(rmpi__store_objects(), 0);
}

Test(store_alloc, reused_large_buffer_is_accounted_again)
{
    void *p = NULL;

    /* The second round may get the first round's buffer back from the cache. */
    for (int round = 0; round < 4; round++) {
        cr_assert_eq(rmpi__store_alloc(100000, 0, &p), RMPI_OK, "round %d", round);
        cr_assert_eq(rmpi__store_bytes(), 100000, "round %d", round);
        cr_assert_eq((uintptr_t)p % 4096, 0);
        memset(p, round, 100000);
        rmpi__store_free(p, 100000);
        cr_assert_eq(rmpi__store_bytes(), 0, "round %d", round);
    }
    cr_assert_eq(rmpi__store_objects(), 0);
}

#define THREADS 4
#define ROUNDS 2000

static void *alloc_free_loop(void *arg)
{
    size_t size = (size_t)(uintptr_t)arg;

    for (int i = 0; i < ROUNDS; i++) {
        void *p = NULL;
        if (rmpi__store_alloc(size, 0, &p) != RMPI_OK)
            return (void *)1;
        memset(p, i, size);
        rmpi__store_free(p, size);
    }
    return NULL;
}

Test(store_alloc, threads_leave_accounting_at_zero, .timeout = 60)
{
    pthread_t t[THREADS];
    const size_t sizes[THREADS] = {1, 1000, 70000, 4096};

    for (int i = 0; i < THREADS; i++)
        cr_assert_eq(pthread_create(&t[i], NULL, alloc_free_loop, (void *)(uintptr_t)sizes[i]),
                     0);
    for (int i = 0; i < THREADS; i++) {
        void *r;
        pthread_join(t[i], &r);
        cr_assert_null(r, "thread %d had an allocation refused", i);
    }
    cr_assert_eq(rmpi__store_bytes(), 0);
    cr_assert_eq(rmpi__store_objects(), 0);
}

/* ---- object ids ---- */

Test(oid, fields_round_trip)
{
    rmpi_oid_t id = rmpi_oid_make(7, 3, 42);

    cr_assert(rmpi_oid_valid(id));
    cr_assert_eq(rmpi_oid_owner(id), 7);
    cr_assert_eq(rmpi_oid_index(id), 3);
    cr_assert_eq(id.lo, 42);
}

Test(oid, zero_id_is_invalid)
{
    rmpi_oid_t id = {0, 0};
    cr_assert_not(rmpi_oid_valid(id));
}

/* ---- object table ---- */

typedef struct {
    rmpi_waitnode_t node;
    int             fired;
    rmpi_obj_t     *obj;
    int             state_seen;
} counter_t;

static void count_fire(rmpi_waitnode_t *n, rmpi_obj_t *o)
{
    counter_t *c = (counter_t *)n;
    c->fired++;
    c->obj = o;
    c->state_seen = o->state;
}

static void counter_init(counter_t *c, int want_data)
{
    memset(c, 0, sizeof(*c));
    c->node.want_data = want_data;
    c->node.fire = count_fire;
}

/* A fresh object; the table stays locked until unlock_table(). */
static rmpi_obj_t *new_obj(uint64_t seq)
{
    lock_table();
    rmpi_obj_t *o = rmpi__obj_create(rmpi_oid_make(0, 0, seq));
    cr_assert_not_null(o);
    return o;
}

Test(store_obj, create_then_find)
{
    rmpi_oid_t id = rmpi_oid_make(1, 2, 99);

    lock_table();
    rmpi_obj_t *o = rmpi__obj_create(id);
    cr_assert_not_null(o);
    cr_assert_eq(rmpi__obj_find(id), o);
    cr_assert_eq(rmpi__obj_count(), 1);
    unlock_table();
}

Test(store_obj, new_object_is_pending_with_no_holder)
{
    rmpi_obj_t *o = new_obj(1);

    cr_assert_eq(o->state, RMPI_OBJ_PENDING);
    cr_assert_eq(o->holder, -1);
    cr_assert_null(o->data);
    cr_assert_null(o->waiters);
    cr_assert_null(o->errmsg);
    unlock_table();
}

Test(store_obj, find_of_unknown_id_is_null)
{
    rmpi_obj_t *o = new_obj(1);

    cr_assert_null(rmpi__obj_find(rmpi_oid_make(0, 0, 2)));
    cr_assert_null(rmpi__obj_find(rmpi_oid_make(1, 0, 1)), "another owner, same sequence");
    cr_assert_null(rmpi__obj_find(rmpi_oid_make(0, 1, 1)), "another index, same sequence");
    cr_assert_eq(rmpi__obj_find(o->id), o);
    unlock_table();
}

Test(store_obj, destroy_removes_it)
{
    rmpi_obj_t *o = new_obj(5);
    rmpi_oid_t id = o->id;

    rmpi__obj_destroy(o);
    cr_assert_null(rmpi__obj_find(id));
    cr_assert_eq(rmpi__obj_count(), 0);
    unlock_table();
}

Test(store_obj, many_objects_are_found)
{
    rmpi_obj_t *objs[1000];

    lock_table();
    for (int i = 0; i < 1000; i++)
        objs[i] = rmpi__obj_create(rmpi_oid_make(i % 4, i % 3, (uint64_t)i));
    cr_assert_eq(rmpi__obj_count(), 1000);
    for (int i = 0; i < 1000; i++)
        cr_assert_eq(rmpi__obj_find(rmpi_oid_make(i % 4, i % 3, (uint64_t)i)), objs[i]);
    for (int i = 0; i < 1000; i += 2)
        rmpi__obj_destroy(objs[i]);
    cr_assert_eq(rmpi__obj_count(), 500);
    for (int i = 1; i < 1000; i += 2)
        cr_assert_eq(rmpi__obj_find(objs[i]->id), objs[i]);
    unlock_table();
}

Test(store_obj, destroy_frees_its_bytes)
{
    rmpi_obj_t *o = new_obj(1);

    cr_assert_eq(rmpi__store_alloc(5000, 0, &o->data), RMPI_OK);
    o->size = 5000;
    o->state = RMPI_OBJ_READY;
    cr_assert_eq(rmpi__store_bytes(), 5000);
    rmpi__obj_destroy(o);
    cr_assert_eq(rmpi__store_bytes(), 0);
    cr_assert_eq(rmpi__store_objects(), 0);
    unlock_table();
}

Test(store_obj, fini_destroys_every_object)
{
    lock_table();
    for (int i = 0; i < 10; i++) {
        rmpi_obj_t *o = rmpi__obj_create(rmpi_oid_make(0, 0, (uint64_t)i));
        cr_assert_eq(rmpi__store_alloc(100, 0, &o->data), RMPI_OK);
        o->size = 100;
    }
    unlock_table();
    rmpi__store_fini();
    cr_assert_eq(rmpi__obj_count(), 0);
    cr_assert_eq(rmpi__store_bytes(), 0);
    cr_assert_eq(rmpi__store_objects(), 0);
}

Test(store_obj, notify_while_pending_fires_nothing)
{
    rmpi_obj_t *o = new_obj(1);
    counter_t c;

    counter_init(&c, 0);
    rmpi__obj_wait(o, &c.node);
    rmpi__obj_notify(o);
    cr_assert_eq(c.fired, 0);
    cr_assert_eq(o->waiters, &c.node);
    unlock_table();
}

Test(store_obj, ready_fires_waiter_without_data)
{
    rmpi_obj_t *o = new_obj(1);
    counter_t c;

    counter_init(&c, 0);
    rmpi__obj_wait(o, &c.node);
    o->state = RMPI_OBJ_READY; /* bytes elsewhere: data stays NULL */
    rmpi__obj_notify(o);
    cr_assert_eq(c.fired, 1);
    cr_assert_eq(c.obj, o);
    cr_assert_eq(c.state_seen, RMPI_OBJ_READY);
    cr_assert_null(o->waiters, "a fired waiter is unlinked");
    rmpi__obj_notify(o);
    cr_assert_eq(c.fired, 1, "fires once");
    unlock_table();
}

Test(store_obj, want_data_waits_for_the_bytes)
{
    rmpi_obj_t *o = new_obj(1);
    counter_t c;

    counter_init(&c, 1);
    rmpi__obj_wait(o, &c.node);
    o->state = RMPI_OBJ_READY;
    rmpi__obj_notify(o);
    cr_assert_eq(c.fired, 0, "READY but the bytes are not here");
    cr_assert_eq(o->waiters, &c.node, "still waiting");
    cr_assert_eq(rmpi__store_alloc(64, 0, &o->data), RMPI_OK);
    o->size = 64;
    rmpi__obj_notify(o);
    cr_assert_eq(c.fired, 1);
    cr_assert_null(o->waiters);
    unlock_table();
}

Test(store_obj, ready_fires_only_the_waiters_whose_condition_holds)
{
    rmpi_obj_t *o = new_obj(1);
    counter_t plain, data;

    counter_init(&plain, 0);
    counter_init(&data, 1);
    rmpi__obj_wait(o, &plain.node);
    rmpi__obj_wait(o, &data.node);
    o->state = RMPI_OBJ_READY;
    rmpi__obj_notify(o);
    cr_assert_eq(plain.fired, 1);
    cr_assert_eq(data.fired, 0);
    cr_assert_eq(o->waiters, &data.node);
    cr_assert_null(data.node.next);
    unlock_table();
}

Test(store_obj, every_waiter_fires)
{
    rmpi_obj_t *o = new_obj(1);
    counter_t c[8];

    for (int i = 0; i < 8; i++) {
        counter_init(&c[i], 0);
        rmpi__obj_wait(o, &c[i].node);
    }
    o->state = RMPI_OBJ_READY;
    rmpi__obj_notify(o);
    for (int i = 0; i < 8; i++)
        cr_assert_eq(c[i].fired, 1, "waiter %d", i);
    unlock_table();
}

Test(store_obj, fail_fires_every_waiter_and_keeps_message)
{
    rmpi_obj_t *o = new_obj(1);
    counter_t plain, data;

    counter_init(&plain, 0);
    counter_init(&data, 1);
    rmpi__obj_wait(o, &plain.node);
    rmpi__obj_wait(o, &data.node);
    rmpi__obj_fail(o, RMPI_ERR_TASK_FAILED, "boom in task");
    cr_assert_eq(plain.fired, 1);
    cr_assert_eq(data.fired, 1, "FAILED fires want_data waiters too");
    cr_assert_eq(plain.state_seen, RMPI_OBJ_FAILED);
    cr_assert_eq(o->state, RMPI_OBJ_FAILED);
    cr_assert_eq(o->status, RMPI_ERR_TASK_FAILED);
    cr_assert_not_null(o->errmsg);
    cr_assert_str_eq(o->errmsg, "boom in task");
    cr_assert_null(o->waiters);
    unlock_table();
}

Test(store_obj, fail_copies_the_message)
{
    rmpi_obj_t *o = new_obj(1);
    char msg[] = "transient";

    rmpi__obj_fail(o, RMPI_ERR_RANK_DIED, msg);
    msg[0] = 'X';
    cr_assert_str_eq(o->errmsg, "transient");
    unlock_table();
}

/* FINDINGS.md "store: rmpi__obj_fail with the object's own message": the old
 * message is freed before it is copied. */
Test(store_obj, fail_with_its_own_message_keeps_it)
{
    rmpi_obj_t *o = new_obj(1);

    rmpi__obj_fail(o, RMPI_ERR_TASK_FAILED, "the original reason");
    rmpi__obj_fail(o, RMPI_ERR_TASK_CRASHED, o->errmsg);
    cr_assert_eq(o->status, RMPI_ERR_TASK_CRASHED);
    cr_assert_str_eq(o->errmsg, "the original reason");
    unlock_table();
}

Test(store_obj, fail_without_message_uses_status_string)
{
    rmpi_obj_t *o = new_obj(1);

    rmpi__obj_fail(o, RMPI_ERR_RANK_DIED, NULL);
    cr_assert_eq(o->status, RMPI_ERR_RANK_DIED);
    cr_assert_not_null(o->errmsg);
    cr_assert_str_eq(o->errmsg, rmpi_status_string(RMPI_ERR_RANK_DIED));
    unlock_table();
}

Test(store_obj, fail_twice_replaces_the_message)
{
    rmpi_obj_t *o = new_obj(1);

    rmpi__obj_fail(o, RMPI_ERR_TASK_FAILED, "first");
    rmpi__obj_fail(o, RMPI_ERR_TASK_CRASHED, "second");
    cr_assert_eq(o->status, RMPI_ERR_TASK_CRASHED);
    cr_assert_str_eq(o->errmsg, "second");
    rmpi__obj_destroy(o); /* frees the message (checked under ASan builds) */
    unlock_table();
}

Test(store_obj, unwait_unlinks_the_waiter)
{
    rmpi_obj_t *o = new_obj(1);
    counter_t c;

    counter_init(&c, 0);
    rmpi__obj_wait(o, &c.node);
    cr_assert_eq(rmpi__obj_unwait(o, &c.node), 1);
    cr_assert_null(o->waiters);
    o->state = RMPI_OBJ_READY;
    rmpi__obj_notify(o);
    cr_assert_eq(c.fired, 0);
    unlock_table();
}

Test(store_obj, unwait_of_unlinked_waiter_returns_0)
{
    rmpi_obj_t *o = new_obj(1);
    counter_t c;

    counter_init(&c, 0);
    cr_assert_eq(rmpi__obj_unwait(o, &c.node), 0);
    rmpi__obj_wait(o, &c.node);
    cr_assert_eq(rmpi__obj_unwait(o, &c.node), 1);
    cr_assert_eq(rmpi__obj_unwait(o, &c.node), 0, "already unlinked");
    unlock_table();
}

Test(store_obj, unwait_keeps_the_other_waiters)
{
    rmpi_obj_t *o = new_obj(1);
    counter_t a, b, c;

    counter_init(&a, 0);
    counter_init(&b, 0);
    counter_init(&c, 0);
    rmpi__obj_wait(o, &a.node);
    rmpi__obj_wait(o, &b.node);
    rmpi__obj_wait(o, &c.node);
    cr_assert_eq(rmpi__obj_unwait(o, &b.node), 1);
    o->state = RMPI_OBJ_READY;
    rmpi__obj_notify(o);
    cr_assert_eq(a.fired, 1);
    cr_assert_eq(b.fired, 0);
    cr_assert_eq(c.fired, 1);
    unlock_table();
}

Test(store_obj, unwait_after_fire_returns_0)
{
    rmpi_obj_t *o = new_obj(1);
    counter_t c;

    counter_init(&c, 0);
    rmpi__obj_wait(o, &c.node);
    o->state = RMPI_OBJ_READY;
    rmpi__obj_notify(o);
    cr_assert_eq(rmpi__obj_unwait(o, &c.node), 0);
    unlock_table();
}

static void count_visit(rmpi_obj_t *o, void *arg)
{
    (*(int *)arg)++;
}

static void destroy_visit(rmpi_obj_t *o, void *arg)
{
    rmpi__obj_destroy(o);
}

Test(store_obj, foreach_visits_every_object)
{
    int n = 0;

    lock_table();
    for (int i = 0; i < 20; i++)
        rmpi__obj_create(rmpi_oid_make(0, 0, (uint64_t)i));
    rmpi__obj_foreach(count_visit, &n);
    cr_assert_eq(n, 20);
    unlock_table();
}

Test(store_obj, foreach_may_destroy_what_it_visits)
{
    lock_table();
    for (int i = 0; i < 20; i++)
        rmpi__obj_create(rmpi_oid_make(0, 0, (uint64_t)i));
    rmpi__obj_foreach(destroy_visit, NULL);
    cr_assert_eq(rmpi__obj_count(), 0);
    unlock_table();
}

/* The table is open addressing with backward-shift deletion: a long random mix of
 * creates and destroys (ids that collide in the low bits included) against a plain
 * array, then a foreach that destroys everything it visits. */
static void destroy_count_visit(rmpi_obj_t *o, void *arg)
{
    (*(int *)arg)++;
    rmpi__obj_destroy(o);
}

Test(store_obj, random_creates_and_destroys_match_a_reference, .timeout = 60)
{
    enum { N = 5000 };
    static rmpi_obj_t *ref[N];
    unsigned seed = 12345;

    memset(ref, 0, sizeof(ref));
    lock_table();
    for (int round = 0; round < 200000; round++) {
        seed = seed * 1103515245u + 12345u;
        int k = (int)((seed >> 8) % N);
        rmpi_oid_t id = rmpi_oid_make(k % 3, k % 5, (uint64_t)k << 20);
        if ((seed >> 4) % 2 == 0 && ref[k] == NULL)
            ref[k] = rmpi__obj_create(id);
        else if (ref[k] != NULL)
            rmpi__obj_destroy(ref[k]), ref[k] = NULL;
        cr_assert_eq(rmpi__obj_find(id), ref[k], "round %d, key %d", round, k);
    }
    int live = 0, visited = 0;
    for (int k = 0; k < N; k++)
        live += ref[k] != NULL;
    cr_assert_eq(rmpi__obj_count(), (size_t)live);
    rmpi__obj_foreach(destroy_count_visit, &visited);
    cr_assert_eq(visited, live);
    cr_assert_eq(rmpi__obj_count(), 0);
    unlock_table();
}
