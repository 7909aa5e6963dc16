/*
 * Records between ranks.  Any thread reserves a record to a rank and commits it;
 * the progress thread gathers the records of each destination into one message
 * per pass (batching: many task specs or completions in one active message) and
 * decodes arriving batches, checking every length before trusting it.
 */
#include "core.h"
#include "base/seqbuf.h"
#include "base/util.h"

#include <stdlib.h>
#include <string.h>

#define MOD "msg"
#define BATCH_BYTES (256 * 1024)

typedef struct rmpi_out {
    rmpi_tp_work_t   work;
    struct rmpi_out *next;
    int              dest;
    rmpi_rec_hdr_t   rec; /* body follows */
} rmpi_out_t;

typedef struct {
    rmpi_out_t *head, *tail;
    int         dirty;
    uint32_t    seq;    /* batches sent to this rank */
} out_queue_t;

static struct {
    rmpi_seqbuf_t *in;  /* per source: batches in the sender's order; progress thread only */
    out_queue_t *q;     /* per destination; progress thread only */
    int         *dirty; /* destinations with records, in order */
    int          ndirty;
} mq;

static size_t rec_size(size_t body_len)
{
    return RMPI_ALIGN_UP(sizeof(rmpi_rec_hdr_t) + body_len, 8);
}

void *rmpi__rec_alloc(int dest, int type, size_t body_len)
{
    size_t len = rec_size(body_len);
    rmpi_out_t *o = malloc(offsetof(rmpi_out_t, rec) + len);

    if (o == NULL) {
        rmpi_error(MOD, "out of memory for a %zu-byte message to rank %d", len, dest);
        return NULL;
    }
    o->dest = dest;
    o->rec.len = (uint32_t)len;
    o->rec.type = (uint8_t)type;
    memset(o->rec.pad, 0, sizeof(o->rec.pad));
    /* zero the padding so no uninitialised bytes go on the wire */
    memset((char *)(&o->rec + 1) + body_len, 0, len - sizeof(rmpi_rec_hdr_t) - body_len);
    return &o->rec + 1;
}

static void enqueue(rmpi_out_t *o)
{
    out_queue_t *q = &mq.q[o->dest];

    o->next = NULL;
    if (q->tail != NULL)
        q->tail->next = o;
    else
        q->head = o;
    q->tail = o;
    if (!q->dirty) {
        q->dirty = 1;
        mq.dirty[mq.ndirty++] = o->dest;
    }
}

static void enqueue_work(rmpi_tp_work_t *w)
{
    enqueue((rmpi_out_t *)w);
}

static RMPI_TLS int urgent; /* this thread queued a record another rank waits on */

int rmpi__msg_take_urgent(void)
{
    int u = urgent;
    urgent = 0;
    return u;
}

void rmpi__rec_commit(void *body)
{
    rmpi_out_t *o = (rmpi_out_t *)((char *)body - sizeof(rmpi_rec_hdr_t) -
                                   offsetof(rmpi_out_t, rec));
    if (rmpi__tp_on_progress_thread()) {
        /* Records another thread posted before this one (e.g. a task this record's
         * result is for) go first: a rank gets records in the order they were made. */
        rmpi__tp_drain_posted();
        enqueue(o);
    } else {
        /* Tasks to start, requests to answer and results a waiting task wants hold
         * another rank up; completions and frees can wait for the next batch. */
        if (o->rec.type == REC_TASK || o->rec.type == REC_PULL || o->rec.type == REC_RESOLVE ||
            o->rec.type == REC_RESOLVED || o->rec.type == REC_SUB)
            urgent = 1;
        o->work.fn = enqueue_work;
        rmpi__tp_post(&o->work);
    }
}

int rmpi__wire_id_read(const void *body, size_t len, rmpi_oid_t *id)
{
    rmpi_wire_id_t w;

    if (len < sizeof(w))
        return -1;
    memcpy(&w, body, sizeof(w));
    id->hi = w.hi;
    id->lo = w.lo;
    return rmpi_oid_valid(*id) && rmpi_oid_owner(*id) < rmpi__rt.size ? 0 : -1;
}

void rmpi__rec_send(int dest, int type, const void *body, size_t len)
{
    void *b = rmpi__rec_alloc(dest, type, len);
    if (b == NULL)
        return;
    if (len != 0)
        memcpy(b, body, len);
    rmpi__rec_commit(b);
}

static void free_cb(void *arg, int status)
{
    free(arg);
}

/* Progress thread, once per pass: one message per destination with records.  A
 * batch that cannot go for want of memory keeps its records (and its number: the
 * receiver handles batches in order) for the next pass.  (Nothing is queued while
 * this runs: handlers run only from the worker's progress.) */
static void flush(void)
{
    int n = mq.ndirty, keep = 0;

    for (int i = 0; i < n; i++) {
        int dest = mq.dirty[i];
        out_queue_t *q = &mq.q[dest];

        while (q->head != NULL) {
            size_t total = 0;
            uint32_t count = 0;
            rmpi_out_t *o, *end;

            for (o = q->head; o != NULL; o = o->next) {
                if (count > 0 && (total + o->rec.len > BATCH_BYTES ||
                                  count >= (uint32_t)rmpi__cfg.batch))
                    break;
                total += o->rec.len;
                count++;
            }
            end = o;
            char *buf = malloc(total);
            if (buf == NULL) {
                rmpi_error(MOD, "out of memory batching %zu bytes to rank %d", total, dest);
                break;
            }
            size_t off = 0;
            for (o = q->head; o != end; o = o->next) {
                memcpy(buf + off, &o->rec, o->rec.len);
                off += o->rec.len;
            }
            rmpi_batch_hdr_t h = {RMPI_PROTO_VERSION, {0, 0, 0}, (uint32_t)rmpi__rt.rank, count,
                                  (uint32_t)(rmpi__exec_queue_len() + rmpi__exec_running()),
                                  q->seq, 0};
            int rc = rmpi__tp_send(dest, AM_BATCH, &h, sizeof(h), buf, total, free_cb, buf);
            if (rc == RMPI_ERR_NO_MEMORY) {
                rmpi_error(MOD, "out of memory sending %u record(s) to rank %d", count, dest);
                free(buf);
                break;
            }
            if (rc == RMPI_OK) {
                q->seq++;
            } else {
                /* A dead rank: its tasks are failed by the peer-failure path. */
                rmpi_debug(MOD, "dropping %u record(s) to rank %d: %s", count, dest,
                           rmpi_status_string(rc));
                free(buf);
            }
            for (o = q->head; o != end;) {
                rmpi_out_t *next = o->next;
                free(o);
                o = next;
            }
            q->head = end;
            if (end == NULL)
                q->tail = NULL;
        }
        if (q->head != NULL)
            mq.dirty[keep++] = dest; /* (keep <= i: a slot already read) */
        else
            q->dirty = 0;
    }
    mq.ndirty = keep;
}

static void handle_records(int src, const char *p, size_t len, uint32_t count)
{
    const char *end = p + len;

    for (uint32_t i = 0; i < count; i++) {
        rmpi_rec_hdr_t r;
        if ((size_t)(end - p) < sizeof(r)) {
            rmpi_error(MOD, "batch from rank %d truncated at record %u", src, i);
            break;
        }
        memcpy(&r, p, sizeof(r));
        if (r.len < sizeof(r) || r.len % 8 != 0 || r.len > (size_t)(end - p)) {
            rmpi_error(MOD, "record %u from rank %d has a bad length %u", i, src, r.len);
            break;
        }
        const void *body = p + sizeof(r);
        size_t blen = r.len - sizeof(r);
        switch (r.type) {
        case REC_TASK: rmpi__task_handle_task(src, body, blen); break;
        case REC_DONE: rmpi__task_handle_done(src, body, blen); break;
        case REC_RESOLVE: rmpi__obj_handle_resolve(src, body, blen); break;
        case REC_RESOLVED: rmpi__obj_handle_resolved(src, body, blen); break;
        case REC_PULL: rmpi__obj_handle_pull(src, body, blen); break;
        case REC_FREE: rmpi__obj_handle_free(src, body, blen); break;
        case REC_RELEASE: rmpi__obj_handle_release(src, body, blen); break;
        case REC_KILL: rmpi__actor_handle_kill(src, body, blen); break;
        case REC_NAME_REQ: rmpi__actor_handle_name_req(src, body, blen); break;
        case REC_NAME_REP: rmpi__actor_handle_name_rep(src, body, blen); break;
        case REC_SUB: rmpi__task_handle_sub(src, body, blen); break;
        case REC_SUB_MISS: rmpi__task_handle_sub_miss(src, body, blen); break;
        case REC_SHUTDOWN:
            atomic_store(&rmpi__rt.shutdown_requested, 1);
            rmpi__waiter_notify(&rmpi__rt.shutdown_waiter);
            break;
        case REC_SHUTDOWN_ACK:
            atomic_store(&rmpi__rt.acked[src], 1);
            rmpi__waiter_notify(&rmpi__rt.shutdown_waiter);
            break;
        default:
            rmpi_error(MOD, "unknown record type %d from rank %d", r.type, src);
            break;
        }
        p += r.len;
    }
}

/* Keep a batch that came early until the ones before it are handled: 0, or -1
 * when there is no memory to. */
static int hold(rmpi_seqbuf_t *in, const rmpi_batch_hdr_t *h, const rmpi_tp_msg_t *m)
{
    void *data = NULL;

    if (m->status == RMPI_OK) { /* (else its records are lost; its turn still comes) */
        if (m->owned) {
            data = m->data;
        } else if ((data = malloc(m->len ? m->len : 1)) == NULL) {
            return -1;
        } else {
            memcpy(data, m->data, m->len);
        }
    }
    if (rmpi_seqbuf_hold(in, h->seq, h->count, data, data != NULL ? m->len : 0) != 0) {
        if (data != m->data)
            free(data);
        return -1;
    }
    return 0;
}

static void handle_batch(const rmpi_tp_msg_t *m)
{
    const rmpi_batch_hdr_t *h = m->hdr;

    if (m->hlen < sizeof(*h) || h->version != RMPI_PROTO_VERSION ||
        h->src >= (uint32_t)rmpi__rt.size) {
        rmpi_error(MOD, "dropping a malformed batch (header %zu bytes, version %d)", m->hlen,
                   m->hlen >= 1 ? ((const uint8_t *)m->hdr)[0] : -1);
        if (m->owned)
            free(m->data);
        return;
    }
    int src = (int)h->src;
    rmpi_seqbuf_t *in = &mq.in[src];
    atomic_store_explicit(&rmpi__rt.qlen[src], (int)h->qlen, memory_order_relaxed);
    rmpi__tp_count_received(src, m->len + m->hlen);
    int early = !rmpi_seqbuf_is_next(in, h->seq);
    if (early) {
        if (hold(in, h, m) == 0)
            return;
        /* No memory to keep it: out of turn now, and its turn skipped later. */
        rmpi_error(MOD, "out of memory holding an early batch from rank %d: handled now", src);
        if (rmpi_seqbuf_done_early(in, h->seq) != 0)
            rmpi_error(MOD, "batches from rank %d wait for batch %u", src, h->seq);
    }
    if (m->status == RMPI_OK) /* (a failed receive lost its records: the rank is dying) */
        handle_records(src, m->data, m->len, h->count);
    if (m->owned)
        free(m->data);
    if (early)
        return;
    for (rmpi_seqitem_t *b; (b = rmpi_seqbuf_advance(in)) != NULL; free(b)) {
        if (b->data != NULL)
            handle_records(src, b->data, b->len, b->count);
        free(b->data);
    }
}

void rmpi__msg_peer_failed_hook(int rank, int status)
{
    rmpi__store_lock();
    rmpi__task_peer_failed_locked(rank);
    rmpi__obj_peer_failed_locked(rank);
    rmpi__store_unlock();
    /* A driver waiting for this rank's shutdown acknowledgement need not; a worker
     * whose driver is gone has nobody left to serve. */
    if (rmpi__rt.acked != NULL)
        atomic_store(&rmpi__rt.acked[rank], 1);
    if (rank == 0)
        atomic_store(&rmpi__rt.shutdown_requested, 1);
    rmpi__waiter_notify(&rmpi__rt.shutdown_waiter);
}

void rmpi__msg_set_handlers(void)
{
    rmpi__tp_set_handler(AM_BATCH, handle_batch, NULL, NULL);
    rmpi__tp_set_handler(AM_DATA, rmpi__obj_handle_data, rmpi__obj_data_alloc,
                         rmpi__obj_data_free);
}

int rmpi__msg_init(void)
{
    mq.in = calloc((size_t)rmpi__rt.size, sizeof(*mq.in));
    mq.q = calloc((size_t)rmpi__rt.size, sizeof(*mq.q));
    mq.dirty = calloc((size_t)rmpi__rt.size, sizeof(*mq.dirty));
    mq.ndirty = 0;
    if (mq.in == NULL || mq.q == NULL || mq.dirty == NULL)
        return RMPI_ERR_NO_MEMORY;
    return RMPI_OK;
}

void rmpi__msg_flush_hook(void)
{
    if (mq.ndirty > 0)
        flush();
    rmpi__task_queue_flush(); /* executors start after the messages left */
}

void rmpi__msg_fini(void)
{
    if (mq.q != NULL) {
        for (int r = 0; r < rmpi__rt.size; r++) {
            rmpi_out_t *o = mq.q[r].head, *next;
            for (; o != NULL; o = next) {
                next = o->next;
                free(o);
            }
        }
    }
    for (int r = 0; mq.in != NULL && r < rmpi__rt.size; r++)
        rmpi_seqbuf_clear(&mq.in[r]);
    free(mq.in);
    mq.in = NULL;
    free(mq.q);
    free(mq.dirty);
    mq.q = NULL;
    mq.dirty = NULL;
}
