/*
 * Intrusive multi-producer single-consumer queue (Vyukov): push is one atomic
 * exchange, wait-free; only the consumer pops.  Nodes are embedded in the items.
 */
#ifndef RMPI_BASE_MPSC_H
#define RMPI_BASE_MPSC_H

#include <stdatomic.h>
#include <stddef.h>

typedef struct rmpi_mpsc_node {
    _Atomic(struct rmpi_mpsc_node *) next;
} rmpi_mpsc_node_t;

typedef struct {
    _Atomic(rmpi_mpsc_node_t *) head; /* producers push here */
    rmpi_mpsc_node_t           *tail; /* consumer pops here */
    rmpi_mpsc_node_t            stub;
} rmpi_mpsc_t;

static inline void rmpi_mpsc_init(rmpi_mpsc_t *q)
{
    atomic_store_explicit(&q->stub.next, NULL, memory_order_relaxed);
    atomic_store_explicit(&q->head, &q->stub, memory_order_relaxed);
    q->tail = &q->stub;
}

static inline void rmpi_mpsc_push(rmpi_mpsc_t *q, rmpi_mpsc_node_t *n)
{
    atomic_store_explicit(&n->next, NULL, memory_order_relaxed);
    rmpi_mpsc_node_t *prev = atomic_exchange_explicit(&q->head, n, memory_order_acq_rel);
    atomic_store_explicit(&prev->next, n, memory_order_release);
}

/* 1 when nothing has been pushed that is not popped (consumer side, racy hint). */
static inline int rmpi_mpsc_empty(rmpi_mpsc_t *q)
{
    return q->tail == &q->stub &&
           atomic_load_explicit(&q->stub.next, memory_order_acquire) == NULL &&
           atomic_load_explicit(&q->head, memory_order_acquire) == &q->stub;
}

/*
 * Pop one node, or NULL when the queue is empty or a push is half done (the
 * caller polls again later; the pusher's next store completes it).
 */
static inline rmpi_mpsc_node_t *rmpi_mpsc_pop(rmpi_mpsc_t *q)
{
    rmpi_mpsc_node_t *tail = q->tail;
    rmpi_mpsc_node_t *next = atomic_load_explicit(&tail->next, memory_order_acquire);

    if (tail == &q->stub) {
        if (next == NULL)
            return NULL;
        q->tail = next;
        tail = next;
        next = atomic_load_explicit(&next->next, memory_order_acquire);
    }
    if (next != NULL) {
        q->tail = next;
        return tail;
    }
    if (tail != atomic_load_explicit(&q->head, memory_order_acquire))
        return NULL; /* a producer is between its exchange and its link */
    rmpi_mpsc_push(q, &q->stub);
    next = atomic_load_explicit(&tail->next, memory_order_acquire);
    if (next != NULL) {
        q->tail = next;
        return tail;
    }
    return NULL;
}

#endif
