/*
 * Transport: one UCX worker per rank, driven by one progress thread, or for a pass
 * by another thread that has nothing better to do (rmpi__tp_help).  Other threads
 * hand it work with rmpi__tp_post() (wait-free) and it wakes through the worker's
 * own wake-up.  Every function marked "progress thread" may be called only from a
 * posted work item, a handler or a hook (which run in a pass, whichever thread
 * drives it).  This layer knows nothing of tasks or
 * objects: messages are (active-message id, header, data).
 */
#ifndef RMPI_TRANSPORT_H
#define RMPI_TRANSPORT_H

#include "base/mpsc.h"

#include <stddef.h>
#include <stdint.h>

#define RMPI_TP_MAX_AM 16

typedef struct {
    const void *hdr;
    size_t      hlen;
    void       *data;   /* NULL when status is an error */
    size_t      len;
    int         owned;  /* data came from the handler's alloc: the handler owns it */
    int         status; /* RMPI_OK, or why a large payload could not be received */
} rmpi_tp_msg_t;

/* Called on the progress thread for each message of its id. */
typedef void (*rmpi_tp_handler_t)(const rmpi_tp_msg_t *msg);
/* Buffer for a large (rendezvous) payload of len bytes; NULL: refuse it. */
typedef void *(*rmpi_tp_alloc_t)(const void *hdr, size_t hlen, size_t len);
/* Frees a buffer from alloc when the receive into it failed. */
typedef void (*rmpi_tp_free_t)(void *buf, size_t len);
/* A send finished (status RMPI_OK or error): its buffers may be reused. */
typedef void (*rmpi_tp_send_cb_t)(void *arg, int status);

typedef struct rmpi_tp_work {
    rmpi_mpsc_node_t node;
    void (*fn)(struct rmpi_tp_work *w);
} rmpi_tp_work_t;

typedef struct {
    int  spin_us;      /* idle polling before sleeping; < 0: never sleep */
    int  err_handling; /* RMPI_ERRH_*: UCX peer error handling on endpoints */
    void (*idle_hook)(void);                   /* after each drain of posted work */
    void (*peer_failed)(int rank, int status); /* an endpoint reported its peer gone */
} rmpi_tp_params_t;

/* Create the UCX context and worker; *addr (free with free()) is this rank's address. */
int  rmpi__tp_init(const rmpi_tp_params_t *params, void **addr, size_t *addrlen);
/* Create endpoints to every rank from their addresses; local[r]: same node. */
int  rmpi__tp_connect(int size, int me, void *const *addrs, const char *local);
void rmpi__tp_set_handler(int am_id, rmpi_tp_handler_t handler, rmpi_tp_alloc_t alloc,
                          rmpi_tp_free_t free_fn);
/* Idle polling of the progress thread (see rmpi_tp_params_t.spin_us); before start. */
void rmpi__tp_set_spin(int spin_us);
/* Start the progress thread. */
int  rmpi__tp_start(void);
/* Any thread but a handler: if no other thread is driving the worker, run one pass
 * of progress (posted work, sends, arriving messages and their handlers, the idle
 * hook) on this thread, as the progress thread would.  Returns the events handled,
 * or -1 when another thread holds the worker (or before start, after fini). */
int  rmpi__tp_help(void);
/* A pass (as rmpi__tp_help) once this thread posted `posts` items since its last:
 * a thread posting in a burst (a driver submitting a graph) sends as it goes,
 * since the progress thread may not get its core until the burst ends. */
void rmpi__tp_help_backlog(unsigned posts);
/* A thread about to post work and then help (a finishing executor): its posts do
 * not wake the progress thread until rmpi__tp_release_wakes(help), which first
 * helps when help is set, and wakes the thread if no pass of its own ran.  Returns
 * what rmpi__tp_help returned, or -1 without help. */
void rmpi__tp_hold_wakes(void);
int  rmpi__tp_release_wakes(int help);
/* Run w->fn on the progress thread soon.  Any thread. */
void rmpi__tp_post(rmpi_tp_work_t *w);
/* The thread running a pass (the progress thread or a helper): run what was posted
 * so far now (e.g. before queueing a message that must follow a posted one). */
void rmpi__tp_drain_posted(void);
/* Progress thread: send an active message; cb runs once hdr and data may be reused
 * (possibly before this returns).  cb is not called when this returns an error. */
int  rmpi__tp_send(int dest, int am_id, const void *hdr, size_t hlen, const void *data,
                   size_t len, rmpi_tp_send_cb_t cb, void *arg);
/* Progress thread: 1 while rank's endpoint works. */
int  rmpi__tp_peer_alive(int rank);
/* Progress thread: the UCX transports of rank's endpoint, space-separated. */
int  rmpi__tp_peer_transports(int rank, char *buf, size_t size);
/* The job is ending: peers closing their endpoints is expected from now on, so
 * endpoint errors are no longer reported (any thread). */
void rmpi__tp_quiesce(void);
/* Stop the progress thread, flush and close endpoints, destroy the worker. */
void rmpi__tp_fini(void);
/* 1 when the caller is the progress thread. */
int  rmpi__tp_on_progress_thread(void);

/* How rank is reached: decided from the endpoint's lanes at connect time. */
enum { RMPI_TP_SELF = 0, RMPI_TP_SHM = 1, RMPI_TP_NET = 2 };
int rmpi__tp_peer_class(int rank);

/* Counters (relaxed reads from any thread); class RMPI_TP_SHM or RMPI_TP_NET. */
uint64_t rmpi__tp_bytes_sent(void);
uint64_t rmpi__tp_bytes_received(void);
uint64_t rmpi__tp_bytes_sent_class(int cls);
uint64_t rmpi__tp_bytes_received_class(int cls);
/* The core tells the transport where a received message came from. */
void     rmpi__tp_count_received(int rank, size_t bytes);

#endif
