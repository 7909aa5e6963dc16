/* base/mpsc.h: the intrusive multi-producer single-consumer queue. */
#include "base/mpsc.h"

#include <criterion/criterion.h>
#include <pthread.h>
#include <stdlib.h>

typedef struct {
    rmpi_mpsc_node_t node; /* first member: a node pointer is the item pointer */
    int              producer;
    int              seq;
} item_t;

static item_t *pop_item(rmpi_mpsc_t *q)
{
    return (item_t *)rmpi_mpsc_pop(q);
}

Test(mpsc, new_queue_is_empty)
{
    rmpi_mpsc_t q;

    rmpi_mpsc_init(&q);
    cr_assert(rmpi_mpsc_empty(&q));
    cr_assert_null(rmpi_mpsc_pop(&q));
}

Test(mpsc, push_makes_queue_non_empty)
{
    rmpi_mpsc_t q;
    item_t a = {.seq = 1};

    rmpi_mpsc_init(&q);
    rmpi_mpsc_push(&q, &a.node);
    cr_assert_not(rmpi_mpsc_empty(&q));
}

Test(mpsc, pop_returns_items_in_push_order)
{
    rmpi_mpsc_t q;
    item_t items[5];

    rmpi_mpsc_init(&q);
    for (int i = 0; i < 5; i++) {
        items[i].seq = i;
        rmpi_mpsc_push(&q, &items[i].node);
    }
    for (int i = 0; i < 5; i++) {
        item_t *it = pop_item(&q);
        cr_assert_not_null(it, "pop %d gave NULL", i);
        cr_assert_eq(it->seq, i);
    }
    cr_assert_null(rmpi_mpsc_pop(&q));
}

Test(mpsc, empty_again_after_popping_everything)
{
    rmpi_mpsc_t q;
    item_t a, b;

    rmpi_mpsc_init(&q);
    rmpi_mpsc_push(&q, &a.node);
    rmpi_mpsc_push(&q, &b.node);
    cr_assert_eq(pop_item(&q), &a);
    cr_assert_not(rmpi_mpsc_empty(&q), "b is still queued");
    cr_assert_eq(pop_item(&q), &b);
    cr_assert(rmpi_mpsc_empty(&q));
    cr_assert_null(rmpi_mpsc_pop(&q));
}

Test(mpsc, single_item_round_trips)
{
    rmpi_mpsc_t q;
    item_t a;

    rmpi_mpsc_init(&q);
    for (int round = 0; round < 3; round++) {
        rmpi_mpsc_push(&q, &a.node);
        cr_assert_eq(pop_item(&q), &a, "round %d", round);
        cr_assert(rmpi_mpsc_empty(&q), "round %d", round);
    }
}

Test(mpsc, interleaved_push_and_pop_keep_order)
{
    rmpi_mpsc_t q;
    item_t items[100];
    int next_pop = 0;

    rmpi_mpsc_init(&q);
    for (int i = 0; i < 100; i++) {
        items[i].seq = i;
        rmpi_mpsc_push(&q, &items[i].node);
        if (i % 3 == 2) { /* pop two of every three pushed */
            for (int k = 0; k < 2; k++) {
                item_t *it = pop_item(&q);
                cr_assert_not_null(it);
                cr_assert_eq(it->seq, next_pop++);
            }
        }
    }
    for (item_t *it; (it = pop_item(&q)) != NULL;)
        cr_assert_eq(it->seq, next_pop++);
    cr_assert_eq(next_pop, 100);
    cr_assert(rmpi_mpsc_empty(&q));
}

/* ---- four producers, one consumer ---- */

#define PRODUCERS 4
#define PER_PRODUCER 10000

typedef struct {
    rmpi_mpsc_t *q;
    item_t      *items;
    int          producer;
} producer_arg_t;

static void *produce(void *p)
{
    producer_arg_t *a = p;

    for (int i = 0; i < PER_PRODUCER; i++) {
        item_t *it = &a->items[a->producer * PER_PRODUCER + i];
        it->producer = a->producer;
        it->seq = i;
        rmpi_mpsc_push(a->q, &it->node);
    }
    return NULL;
}

/* Run the producers while this thread pops all PRODUCERS * PER_PRODUCER items
 * into out[] in the order they came out (NULL pops, a push half done, retry). */
static void run_producers(item_t *items, item_t **out)
{
    rmpi_mpsc_t q;
    pthread_t threads[PRODUCERS];
    producer_arg_t args[PRODUCERS];
    int n = 0;

    rmpi_mpsc_init(&q);
    for (int p = 0; p < PRODUCERS; p++) {
        args[p] = (producer_arg_t){&q, items, p};
        cr_assert_eq(pthread_create(&threads[p], NULL, produce, &args[p]), 0);
    }
    while (n < PRODUCERS * PER_PRODUCER) {
        item_t *it = pop_item(&q);
        if (it != NULL)
            out[n++] = it;
    }
    for (int p = 0; p < PRODUCERS; p++)
        pthread_join(threads[p], NULL);
    cr_assert_null(rmpi_mpsc_pop(&q), "an item came out twice or from nowhere");
    cr_assert(rmpi_mpsc_empty(&q));
}

Test(mpsc, four_producers_every_item_seen_once, .timeout = 60)
{
    item_t *items = calloc(PRODUCERS * PER_PRODUCER, sizeof(*items));
    item_t **out = calloc(PRODUCERS * PER_PRODUCER, sizeof(*out));
    char *seen = calloc(PRODUCERS * PER_PRODUCER, 1);

    cr_assert(items != NULL && out != NULL && seen != NULL);
    run_producers(items, out);
    for (int i = 0; i < PRODUCERS * PER_PRODUCER; i++) {
        ptrdiff_t k = out[i] - items;
        cr_assert(k >= 0 && k < PRODUCERS * PER_PRODUCER, "pop %d gave a foreign node", i);
        cr_assert_eq(seen[k], 0, "item %td popped twice", k);
        seen[k] = 1;
    }
    free(seen);
    free(out);
    free(items);
}

Test(mpsc, four_producers_each_keep_their_order, .timeout = 60)
{
    item_t *items = calloc(PRODUCERS * PER_PRODUCER, sizeof(*items));
    item_t **out = calloc(PRODUCERS * PER_PRODUCER, sizeof(*out));
    int next[PRODUCERS] = {0};

    cr_assert(items != NULL && out != NULL);
    run_producers(items, out);
    for (int i = 0; i < PRODUCERS * PER_PRODUCER; i++) {
        int p = out[i]->producer;
        cr_assert(p >= 0 && p < PRODUCERS);
        cr_assert_eq(out[i]->seq, next[p], "producer %d: got %d, expected %d", p, out[i]->seq,
                     next[p]);
        next[p]++;
    }
    free(out);
    free(items);
}
