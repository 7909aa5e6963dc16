/*
 * Objects: put, get, wait, release, and the owner protocol behind them.
 *
 * The owner (the rank that submitted the task or called put) keeps each object's
 * state and where its bytes are.  Small values live at the owner; large ones stay
 * where they were made and a consumer pulls them straight from that holder (a
 * rendezvous active message: zero-copy CMA on a node, RDMA where the fabric has
 * it).  A rank holding a ref it does not own asks the owner (resolve).  An object
 * is freed everywhere when its owner drops the last reference.
 */
#include "core.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define VIEW_MAGIC ((void *)0x7261796d7069ull)

static int obj_busy(const rmpi_obj_t *o)
{
    return o->pins != 0 || o->waiters != NULL || o->pulling || o->resolving;
}

void rmpi__obj_maybe_free_locked(rmpi_obj_t *o)
{
    if (o->owned) {
        if (o->user_refs != 0 || o->task_refs != 0 || obj_busy(o) ||
            o->state == RMPI_OBJ_PENDING)
            return;
        if (o->state == RMPI_OBJ_READY && o->holder >= 0 && o->holder != rmpi__rt.rank) {
            rmpi_wire_id_t id = {o->id.hi, o->id.lo};
            rmpi__rec_send(o->holder, REC_FREE, &id, sizeof(id));
        }
        atomic_fetch_sub(&rmpi__rt.owned_objects, 1);
        rmpi__obj_destroy(o);
    } else if (!o->primary_here && !obj_busy(o)) {
        rmpi__obj_destroy(o);
    }
}

static void start_pull_locked(rmpi_obj_t *o)
{
    if (o->pulling || o->data != NULL)
        return;
    o->pulling = 1;
    rmpi_wire_id_t id = {o->id.hi, o->id.lo};
    rmpi__rec_send(o->holder, REC_PULL, &id, sizeof(id));
}

void rmpi__obj_ensure_data_locked(rmpi_obj_t *o)
{
    if (o->data != NULL || o->state == RMPI_OBJ_FAILED)
        return;
    if (o->state == RMPI_OBJ_READY && o->holder >= 0 && o->holder != rmpi__rt.rank) {
        start_pull_locked(o);
    } else if (o->state == RMPI_OBJ_PENDING && !o->owned && !o->resolving) {
        o->resolving = 1;
        rmpi_wire_id_t id = {o->id.hi, o->id.lo};
        rmpi__rec_send(rmpi_oid_owner(o->id), REC_RESOLVE, &id, sizeof(id));
    }
}

void rmpi__obj_settled_locked(rmpi_obj_t *o)
{
    rmpi__obj_notify(o);
    if (o->state == RMPI_OBJ_READY && o->data == NULL) {
        for (rmpi_waitnode_t *n = o->waiters; n != NULL; n = n->next) {
            if (n->want_data) {
                start_pull_locked(o);
                break;
            }
        }
    }
    rmpi__obj_maybe_free_locked(o);
}

rmpi_obj_t *rmpi__obj_lookup_locked(rmpi_oid_t id, int *rc)
{
    rmpi_obj_t *o;
    int owner = rmpi_oid_owner(id);

    if (!rmpi_oid_valid(id) || owner < 0 || owner >= rmpi__rt.size) {
        *rc = RMPI_ERR_UNKNOWN_REF;
        return NULL;
    }
    o = rmpi__obj_find(id);
    if (owner == rmpi__rt.rank) {
        if (o == NULL || o->user_refs == 0) {
            *rc = id.lo < atomic_load(&rmpi__rt.next_seq) ? RMPI_ERR_REF_RELEASED
                                                           : RMPI_ERR_UNKNOWN_REF;
            return NULL;
        }
        return o;
    }
    if (o == NULL) {
        o = rmpi__obj_create(id);
        if (o == NULL) {
            *rc = RMPI_ERR_NO_MEMORY;
            return NULL;
        }
    }
    return o;
}

/* ------------------------------------------------------------------------------
 * put
 * ------------------------------------------------------------------------------ */

int rmpi_put_mem(const void *data, size_t size, int mem_type, rmpi_ref_t *ref_out)
{
    void *buf;
    int rc;

    if (!rmpi__rt.initialized)
        return RMPI_ERR_NOT_INITIALIZED;
    if (ref_out == NULL || (data == NULL && size != 0))
        return RMPI_ERR_INVALID_ARG;
    if (mem_type == RMPI_MEM_CUDA)
        return RMPI_ERR_NOT_SUPPORTED;
    if (mem_type != RMPI_MEM_HOST)
        return RMPI_ERR_INVALID_ARG;
    rc = rmpi__store_alloc(size, 0, &buf);
    if (rc != RMPI_OK) {
        if (rc == RMPI_ERR_TOO_LARGE || rc == RMPI_ERR_STORE_FULL)
            rmpi_debug(CORE, "put of %zu bytes: %s (capacity %llu, in use %llu)", size,
                       rmpi_status_string(rc), (unsigned long long)rmpi__store_capacity(),
                       (unsigned long long)rmpi__store_bytes());
        return rc;
    }
    if (size != 0)
        memcpy(buf, data, size);
    rmpi_oid_t id = rmpi_oid_make(rmpi__rt.rank, 0, atomic_fetch_add(&rmpi__rt.next_seq, 1));
    rmpi__store_lock();
    rmpi_obj_t *o = rmpi__obj_create(id);
    if (o == NULL) {
        rmpi__store_unlock();
        rmpi__store_free(buf, size);
        return RMPI_ERR_NO_MEMORY;
    }
    o->owned = 1;
    o->state = RMPI_OBJ_READY;
    o->holder = rmpi__rt.rank;
    o->mem_type = RMPI_MEM_HOST;
    o->user_refs = 1;
    o->data = buf;
    o->size = size;
    rmpi__store_unlock();
    atomic_fetch_add(&rmpi__rt.owned_objects, 1);
    *ref_out = rmpi__ref_of(id);
    return RMPI_OK;
}

int rmpi_put(const void *data, size_t size, rmpi_ref_t *ref_out)
{
    return rmpi_put_mem(data, size, RMPI_MEM_HOST, ref_out);
}

/* ------------------------------------------------------------------------------
 * get, wait, release
 * ------------------------------------------------------------------------------ */

typedef struct {
    rmpi_waitnode_t wn;
    rmpi_waiter_t  *w;
} thread_wait_t;

static void thread_fire(rmpi_waitnode_t *n, rmpi_obj_t *o)
{
    rmpi__waiter_notify(((thread_wait_t *)n)->w);
}

static double deadline_of(double timeout_s)
{
    return timeout_s < 0 || isnan(timeout_s) ? -1 : rmpi_now() + timeout_s;
}

/*
 * Wait (store lock held, dropped while sleeping) until o is FAILED, or READY with
 * local bytes when want_data, or READY.  o is pinned by the caller.  Returns
 * RMPI_OK, or RMPI_ERR_TIMEOUT.
 */
static int wait_obj_locked(rmpi_obj_t *o, int want_data, double deadline)
{
    thread_wait_t tw = {{NULL, want_data, thread_fire}, rmpi__thread_waiter()};
    int blocked = 0, helped = 0, rc = RMPI_OK;

    for (;;) {
        if (o->state == RMPI_OBJ_FAILED)
            break;
        if (o->state == RMPI_OBJ_READY && (!want_data || o->data != NULL))
            break;
        if (want_data || o->state == RMPI_OBJ_PENDING)
            rmpi__obj_ensure_data_locked(o); /* pull the bytes, or ask the owner */
        if (deadline >= 0 && rmpi_now() >= deadline) {
            rc = RMPI_ERR_TIMEOUT;
            break;
        }
        if (!helped && o->owned && o->state == RMPI_OBJ_PENDING) {
            helped = 1; /* once: its task is queued here now, or runs elsewhere or later */
            if (rmpi__task_run_awaited_locked(o->id, deadline))
                continue; /* the store was unlocked: look at o again */
        }
        int seen = atomic_load(&tw.w->count);
        rmpi__obj_wait(o, &tw.wn);
        rmpi__store_unlock();
        if (!blocked) {
            rmpi__exec_block_begin(); /* a waiting task lends its cpus */
            rmpi__task_note_wait();
            blocked = 1;
        }
        int c = rmpi__waiter_wait(tw.w, seen, deadline, rmpi__rt.spin_us);
        rmpi__store_lock();
        rmpi__obj_unwait(o, &tw.wn);
        if (c == seen && deadline >= 0 && rmpi_now() >= deadline &&
            o->state == RMPI_OBJ_PENDING) {
            rc = RMPI_ERR_TIMEOUT;
            break;
        }
    }
    if (blocked) {
        rmpi__store_unlock();
        rmpi__exec_block_end();
        rmpi__store_lock();
    }
    return rc;
}

int rmpi_get(rmpi_ref_t ref, double timeout_s, rmpi_view_t *view)
{
    rmpi_obj_t *o;
    int rc = RMPI_OK;

    if (!rmpi__rt.initialized)
        return RMPI_ERR_NOT_INITIALIZED;
    if (view == NULL)
        return RMPI_ERR_INVALID_ARG;
    double deadline = deadline_of(timeout_s);
    rmpi__store_lock();
    o = rmpi__obj_lookup_locked(rmpi__oid_of(ref), &rc);
    if (o == NULL) {
        rmpi__store_unlock();
        return rc;
    }
    o->pins++; /* keeps o while we wait; becomes the view's pin */
    rc = wait_obj_locked(o, 1, deadline);
    if (rc == RMPI_OK && o->state == RMPI_OBJ_FAILED)
        rc = o->status;
    if (rc != RMPI_OK) {
        o->pins--;
        rmpi__obj_maybe_free_locked(o);
        rmpi__store_unlock();
        return rc;
    }
    view->data = o->data;
    view->size = o->size;
    view->mem_type = o->mem_type;
    view->priv_[0] = o;
    view->priv_[1] = VIEW_MAGIC;
    rmpi__store_unlock();
    return RMPI_OK;
}

void rmpi_view_release(rmpi_view_t *view)
{
    if (view == NULL || view->priv_[1] != VIEW_MAGIC || view->priv_[0] == NULL)
        return;
    rmpi_obj_t *o = view->priv_[0];
    rmpi__store_lock();
    o->pins--;
    rmpi__obj_maybe_free_locked(o);
    rmpi__store_unlock();
    memset(view, 0, sizeof(*view));
}

static int get_scalar(rmpi_ref_t ref, double timeout_s, void *out)
{
    rmpi_view_t v;
    int rc;

    if (out == NULL)
        return RMPI_ERR_INVALID_ARG;
    rc = rmpi_get(ref, timeout_s, &v);
    if (rc != RMPI_OK)
        return rc;
    if (v.size != 8) {
        rmpi_view_release(&v);
        return RMPI_ERR_ARG_TYPE;
    }
    memcpy(out, v.data, 8);
    rmpi_view_release(&v);
    return RMPI_OK;
}

int rmpi_get_i64(rmpi_ref_t ref, double timeout_s, int64_t *out)
{
    return get_scalar(ref, timeout_s, out);
}

int rmpi_get_f64(rmpi_ref_t ref, double timeout_s, double *out)
{
    return get_scalar(ref, timeout_s, out);
}

int rmpi_error_message(rmpi_ref_t ref, char *buf, size_t size)
{
    rmpi_obj_t *o;
    int rc = RMPI_OK;

    if (!rmpi__rt.initialized)
        return RMPI_ERR_NOT_INITIALIZED;
    if (buf == NULL || size == 0)
        return RMPI_ERR_INVALID_ARG;
    rmpi__store_lock();
    o = rmpi__obj_lookup_locked(rmpi__oid_of(ref), &rc);
    if (o == NULL) {
        rmpi__store_unlock();
        return rc;
    }
    o->pins++;
    rc = wait_obj_locked(o, 0, -1);
    if (rc == RMPI_OK) {
        if (o->state == RMPI_OBJ_FAILED)
            snprintf(buf, size, "%s", o->errmsg != NULL ? o->errmsg : "");
        else
            rc = RMPI_ERR_INVALID_ARG;
    }
    o->pins--;
    rmpi__obj_maybe_free_locked(o);
    rmpi__store_unlock();
    return rc;
}

typedef struct {
    rmpi_waitnode_t wn;
    rmpi_waiter_t  *w;
} wait_node_t;

int rmpi_wait(const rmpi_ref_t *refs, int n, int num_ready, double timeout_s, int *ready,
              int *nready)
{
    rmpi_obj_t **objs;
    wait_node_t *nodes;
    int rc = RMPI_OK, count = 0, blocked = 0;

    if (!rmpi__rt.initialized)
        return RMPI_ERR_NOT_INITIALIZED;
    if (n < 0 || (n > 0 && (refs == NULL || ready == NULL)) || nready == NULL ||
        num_ready < 0 || num_ready > n)
        return RMPI_ERR_INVALID_ARG;
    if (n == 0) {
        *nready = 0;
        return RMPI_OK;
    }
    objs = rmpi_zalloc((size_t)n * sizeof(*objs));
    nodes = rmpi_zalloc((size_t)n * sizeof(*nodes));
    if (objs == NULL || nodes == NULL) {
        free(objs);
        free(nodes);
        return RMPI_ERR_NO_MEMORY;
    }
    double deadline = deadline_of(timeout_s);
    rmpi_waiter_t *w = rmpi__thread_waiter();
    rmpi__store_lock();
    for (int i = 0; i < n; i++) {
        objs[i] = rmpi__obj_lookup_locked(rmpi__oid_of(refs[i]), &rc);
        if (objs[i] == NULL)
            break;
        objs[i]->pins++;
    }
    if (rc == RMPI_OK) {
        int seen = atomic_load(&w->count);
        for (int i = 0; i < n; i++) {
            nodes[i].wn.want_data = 0;
            nodes[i].wn.fire = thread_fire;
            nodes[i].w = w;
            if (objs[i]->state == RMPI_OBJ_PENDING) {
                rmpi__obj_wait(objs[i], &nodes[i].wn);
                rmpi__obj_ensure_data_locked(objs[i]);
            }
        }
        for (;;) {
            count = 0;
            for (int i = 0; i < n; i++)
                count += objs[i]->state != RMPI_OBJ_PENDING;
            if (count >= num_ready || (deadline >= 0 && rmpi_now() >= deadline))
                break;
            rmpi__store_unlock();
            if (!blocked) {
                rmpi__exec_block_begin();
                rmpi__task_note_wait();
                blocked = 1;
            }
            seen = rmpi__waiter_wait(w, seen, deadline, rmpi__rt.spin_us);
            rmpi__store_lock();
        }
        for (int i = 0; i < n; i++) {
            rmpi__obj_unwait(objs[i], &nodes[i].wn);
            ready[i] = objs[i]->state != RMPI_OBJ_PENDING;
        }
    }
    for (int i = 0; i < n && objs[i] != NULL; i++) {
        objs[i]->pins--;
        rmpi__obj_maybe_free_locked(objs[i]);
    }
    rmpi__store_unlock();
    if (blocked)
        rmpi__exec_block_end();
    free(objs);
    free(nodes);
    if (rc == RMPI_OK)
        *nready = count;
    return rc;
}

static int release_owned_locked(rmpi_oid_t id)
{
    rmpi_obj_t *o = rmpi__obj_find(id);

    if (o == NULL || o->user_refs == 0)
        return id.lo < atomic_load(&rmpi__rt.next_seq) ? RMPI_ERR_REF_RELEASED
                                                         : RMPI_ERR_UNKNOWN_REF;
    o->user_refs--;
    rmpi__obj_maybe_free_locked(o);
    return RMPI_OK;
}

int rmpi_release(rmpi_ref_t ref)
{
    rmpi_oid_t id = rmpi__oid_of(ref);
    int owner = rmpi_oid_owner(id);
    int rc;

    if (!rmpi__rt.initialized)
        return RMPI_ERR_NOT_INITIALIZED;
    if (!rmpi_oid_valid(id) || owner < 0 || owner >= rmpi__rt.size)
        return RMPI_ERR_UNKNOWN_REF;
    if (owner != rmpi__rt.rank) {
        /* The reference travels back to its owner. */
        rmpi_wire_id_t w = {id.hi, id.lo};
        rmpi__rec_send(owner, REC_RELEASE, &w, sizeof(w));
        return RMPI_OK;
    }
    rmpi__store_lock();
    rc = release_owned_locked(id);
    rmpi__store_unlock();
    return rc;
}

int rmpi_ref_owner(rmpi_ref_t ref)
{
    rmpi_oid_t id = rmpi__oid_of(ref);
    return rmpi_oid_valid(id) ? rmpi_oid_owner(id) : -1;
}

/* ------------------------------------------------------------------------------
 * Protocol handlers (progress thread)
 * ------------------------------------------------------------------------------ */

static void pull_sent(void *arg, int status)
{
    rmpi_obj_t *o = arg;
    rmpi__store_lock();
    o->pins--;
    rmpi__obj_maybe_free_locked(o);
    rmpi__store_unlock();
}

static void nop_sent(void *arg, int status)
{
}

void rmpi__obj_handle_pull(int src, const void *body, size_t len)
{
    rmpi_oid_t id;
    rmpi_data_hdr_t h;

    if (rmpi__wire_id_read(body, len, &id) != 0)
        return;
    memset(&h, 0, sizeof(h));
    h.version = RMPI_PROTO_VERSION;
    h.src = (uint32_t)rmpi__rt.rank;
    h.id.hi = id.hi;
    h.id.lo = id.lo;
    rmpi__store_lock();
    rmpi_obj_t *o = rmpi__obj_find(id);
    if (o == NULL || o->data == NULL) {
        rmpi__store_unlock();
        h.status = RMPI_ERR_UNKNOWN_REF;
        rmpi__tp_send(src, AM_DATA, &h, sizeof(h), NULL, 0, nop_sent, NULL);
        return;
    }
    o->pins++; /* until the bytes are sent */
    h.size = o->size;
    const void *data = o->data;
    size_t size = o->size;
    rmpi__store_unlock();
    if (rmpi__tp_send(src, AM_DATA, &h, sizeof(h), data, size, pull_sent, o) != RMPI_OK)
        pull_sent(o, RMPI_ERR_TRANSPORT);
}

void *rmpi__obj_data_alloc(const void *hdr, size_t hlen, size_t len)
{
    void *p;
    return rmpi__store_alloc(len, 1, &p) == RMPI_OK ? p : NULL;
}

void rmpi__obj_data_free(void *buf, size_t len)
{
    rmpi__store_free(buf, len);
}

void rmpi__obj_handle_data(const rmpi_tp_msg_t *m)
{
    rmpi_data_hdr_t h;
    rmpi_oid_t id;

    if (m->hlen < sizeof(h)) {
        rmpi_error(CORE, "dropping a malformed object transfer (%zu-byte header)", m->hlen);
        if (m->owned)
            rmpi__store_free(m->data, m->len);
        return;
    }
    memcpy(&h, m->hdr, sizeof(h));
    id.hi = h.id.hi;
    id.lo = h.id.lo;
    if (h.src < (uint32_t)rmpi__rt.size)
        rmpi__tp_count_received((int)h.src, m->len + m->hlen);
    rmpi__store_lock();
    rmpi_obj_t *o = rmpi__obj_find(id);
    if (o == NULL || o->data != NULL) {
        rmpi__store_unlock();
        if (m->owned)
            rmpi__store_free(m->data, m->len);
        return;
    }
    o->pulling = 0;
    if (h.status != RMPI_OK || m->status != RMPI_OK || (m->data == NULL && m->len != 0) ||
        m->len != h.size) {
        char msg[256];
        int st = m->status != RMPI_OK ? m->status : RMPI_ERR_RANK_DIED;
        if (h.status == RMPI_ERR_UNKNOWN_REF)
            st = RMPI_ERR_REF_RELEASED;
        snprintf(msg, sizeof(msg), "object %d:%llu could not be fetched from rank %d: %s",
                 rmpi_oid_owner(id), (unsigned long long)id.lo, (int)h.src,
                 rmpi_status_string(h.status != RMPI_OK ? h.status : st));
        if (m->owned)
            rmpi__store_free(m->data, m->len);
        rmpi__obj_fail(o, st, msg);
    } else {
        void *buf = m->owned ? m->data : NULL;
        if (buf == NULL && rmpi__store_alloc(m->len, 1, &buf) != RMPI_OK) {
            rmpi__obj_fail(o, RMPI_ERR_NO_MEMORY, "out of memory receiving an object");
            rmpi__obj_maybe_free_locked(o);
            rmpi__store_unlock();
            return;
        }
        if (!m->owned && m->len != 0)
            memcpy(buf, m->data, m->len);
        o->data = buf;
        o->size = m->len;
    }
    rmpi__obj_settled_locked(o);
    rmpi__store_unlock();
}

void rmpi__obj_send_resolved(int dest, rmpi_oid_t id, int status, const char *msg,
                             const void *data, size_t size, int holder)
{
    rmpi_wire_resolved_t r;
    const void *tail = NULL;
    size_t tlen = 0;

    memset(&r, 0, sizeof(r));
    r.id.hi = id.hi;
    r.id.lo = id.lo;
    r.status = status;
    if (status != RMPI_OK) {
        tail = msg;
        tlen = msg != NULL ? strlen(msg) : 0;
        r.msglen = (uint32_t)tlen;
    } else if (data != NULL && size <= rmpi__rt.inline_max) {
        r.kind = RET_INLINE;
        r.size = size;
        r.holder = rmpi__rt.rank;
        tail = data;
        tlen = size;
    } else {
        r.kind = RET_AT;
        r.size = size;
        r.holder = holder;
    }
    char *b = rmpi__rec_alloc(dest, REC_RESOLVED, sizeof(r) + tlen);
    if (b == NULL)
        return;
    memcpy(b, &r, sizeof(r));
    if (tlen != 0)
        memcpy(b + sizeof(r), tail, tlen);
    rmpi__rec_commit(b);
}

/* Owner side: answer a resolve for o (READY or FAILED) to rank dest. */
static void send_resolved_locked(int dest, rmpi_oid_t id, rmpi_obj_t *o, int status)
{
    if (o == NULL)
        rmpi__obj_send_resolved(dest, id, status, NULL, NULL, 0, -1);
    else if (o->state == RMPI_OBJ_FAILED)
        rmpi__obj_send_resolved(dest, id, o->status, o->errmsg, NULL, 0, -1);
    else
        rmpi__obj_send_resolved(dest, id, RMPI_OK, NULL, o->data, o->size,
                                o->data != NULL ? rmpi__rt.rank : o->holder);
}

typedef struct {
    rmpi_waitnode_t wn;
    int             dest;
} remote_wait_t;

static void remote_fire(rmpi_waitnode_t *n, rmpi_obj_t *o)
{
    remote_wait_t *rw = (remote_wait_t *)n;
    send_resolved_locked(rw->dest, o->id, o, RMPI_OK);
    free(rw);
    /* the caller (settled) decides whether o can go */
}

int rmpi__obj_push_locked(rmpi_obj_t *o, int dest)
{
    remote_wait_t *rw = malloc(sizeof(*rw));

    if (rw == NULL)
        return RMPI_ERR_NO_MEMORY;
    rw->wn.want_data = 0;
    rw->wn.fire = remote_fire;
    rw->dest = dest;
    rmpi__obj_wait(o, &rw->wn);
    return RMPI_OK;
}

void rmpi__obj_handle_resolve(int src, const void *body, size_t len)
{
    rmpi_oid_t id;

    if (rmpi__wire_id_read(body, len, &id) != 0)
        return;
    rmpi__store_lock();
    rmpi_obj_t *o = rmpi__obj_find(id);
    if (o == NULL || (o->user_refs == 0 && o->task_refs == 0 && o->state != RMPI_OBJ_PENDING)) {
        int st = rmpi_oid_owner(id) == rmpi__rt.rank && id.lo < atomic_load(&rmpi__rt.next_seq)
                     ? RMPI_ERR_REF_RELEASED
                     : RMPI_ERR_UNKNOWN_REF;
        send_resolved_locked(src, id, NULL, st);
    } else if (o->state == RMPI_OBJ_PENDING) {
        if (rmpi__obj_push_locked(o, src) != RMPI_OK)
            send_resolved_locked(src, id, NULL, RMPI_ERR_NO_MEMORY);
    } else {
        send_resolved_locked(src, id, o, RMPI_OK);
    }
    rmpi__store_unlock();
}

void rmpi__obj_handle_resolved(int src, const void *body, size_t len)
{
    rmpi_wire_resolved_t r;
    rmpi_oid_t id;

    if (len < sizeof(r))
        return;
    memcpy(&r, body, sizeof(r));
    const char *tail = (const char *)body + sizeof(r);
    size_t tlen = len - sizeof(r);
    id.hi = r.id.hi;
    id.lo = r.id.lo;
    rmpi__store_lock();
    rmpi_obj_t *o = rmpi__obj_find(id);
    if (o == NULL || o->owned || o->state != RMPI_OBJ_PENDING) {
        rmpi__store_unlock();
        return;
    }
    /* Unasked, from the rank that made it: a subscription at the producing rank, or
     * the owner's push when the owner made it (holder: where it was expected from). */
    if (src != rmpi_oid_owner(id) || o->holder == src)
        atomic_fetch_add_explicit(&rmpi__rt.args_forwarded, 1, memory_order_relaxed);
    o->resolving = 0;
    if (r.status != RMPI_OK) {
        char msg[1024];
        if (r.msglen > 0 && r.msglen <= tlen)
            snprintf(msg, sizeof(msg), "%.*s", (int)r.msglen, tail);
        else
            snprintf(msg, sizeof(msg), "object %d:%llu: %s (asked its owner)",
                     rmpi_oid_owner(id), (unsigned long long)id.lo,
                     rmpi_status_string(r.status));
        rmpi__obj_fail(o, r.status, msg);
    } else if (r.kind == RET_INLINE && r.size <= tlen) {
        void *buf;
        if (rmpi__store_alloc(r.size, 1, &buf) != RMPI_OK) {
            rmpi__obj_fail(o, RMPI_ERR_NO_MEMORY, "out of memory receiving an object");
        } else {
            if (r.size != 0)
                memcpy(buf, tail, r.size);
            o->data = buf;
            o->size = r.size;
            o->holder = src;
            o->state = RMPI_OBJ_READY;
        }
    } else if (r.kind == RET_AT && r.holder >= 0 && r.holder < rmpi__rt.size) {
        o->size = r.size;
        o->holder = r.holder;
        o->state = RMPI_OBJ_READY;
    } else {
        rmpi__obj_fail(o, RMPI_ERR_INTERNAL, "malformed resolve reply");
    }
    rmpi__obj_settled_locked(o);
    rmpi__store_unlock();
}

void rmpi__obj_handle_free(int src, const void *body, size_t len)
{
    rmpi_oid_t id;

    if (rmpi__wire_id_read(body, len, &id) != 0)
        return;
    rmpi__store_lock();
    rmpi_obj_t *o = rmpi__obj_find(id);
    if (o != NULL && !o->owned) {
        o->primary_here = 0;
        rmpi__obj_maybe_free_locked(o);
    }
    rmpi__store_unlock();
}

void rmpi__obj_handle_release(int src, const void *body, size_t len)
{
    rmpi_oid_t id;

    if (rmpi__wire_id_read(body, len, &id) != 0)
        return;
    rmpi__store_lock();
    int rc = release_owned_locked(id);
    rmpi__store_unlock();
    if (rc != RMPI_OK)
        rmpi_warn(CORE, "rank %d released object %d:%llu: %s", src, rmpi_oid_owner(id),
                  (unsigned long long)id.lo, rmpi_status_string(rc));
}

typedef struct {
    int          rank;
    rmpi_obj_t **list;
    size_t       n, cap;
} lost_t;

static void collect_lost(rmpi_obj_t *o, void *arg)
{
    lost_t *l = arg;
    int lost = (o->state == RMPI_OBJ_READY && o->data == NULL && o->holder == l->rank) ||
               (o->state == RMPI_OBJ_PENDING && !o->owned &&
                (rmpi_oid_owner(o->id) == l->rank || (o->resolving && o->holder == l->rank)));
    if (!lost)
        return;
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        rmpi_obj_t **nl = realloc(l->list, cap * sizeof(*nl));
        if (nl == NULL)
            return;
        l->list = nl;
        l->cap = cap;
    }
    l->list[l->n++] = o;
}

void rmpi__obj_peer_failed_locked(int rank)
{
    lost_t l = {rank, NULL, 0, 0};
    char msg[160];

    rmpi__obj_foreach(collect_lost, &l);
    for (size_t i = 0; i < l.n; i++) {
        rmpi_obj_t *o = l.list[i];
        if (o->state == RMPI_OBJ_PENDING && rmpi_oid_owner(o->id) != rank) {
            /* It was to come from the dead rank's task: the owner says what became of it. */
            o->resolving = 0;
            o->holder = -1;
            rmpi__obj_ensure_data_locked(o);
            continue;
        }
        o->pulling = 0;
        o->resolving = 0;
        snprintf(msg, sizeof(msg), "object %d:%llu lost: rank %d died", rmpi_oid_owner(o->id),
                 (unsigned long long)o->id.lo, rank);
        o->holder = -1;
        rmpi__obj_fail(o, RMPI_ERR_RANK_DIED, msg);
        rmpi__obj_maybe_free_locked(o);
    }
    free(l.list);
}
