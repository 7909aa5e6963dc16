/*
 * UCX transport: active messages (eager for control, rendezvous for large
 * payloads, which UCX carries zero-copy: CMA/RMA on a node, RDMA on fabrics), one
 * worker in serialized mode, driven by whoever holds the progress lock: the
 * progress thread, or an idle or just-finished executor thread that helps
 * (rmpi__tp_help), so that a message can leave and a task can start without
 * waking another thread.
 */
#include "transport.h"
#include "base/config.h"
#include "base/log.h"
#include "base/util.h"
#include "raympi.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <ucp/api/ucp.h>
#include <unistd.h>

#define MOD "ucx"

/* Foreign status codes are translated here, at the module edge. */
#define UCS_TO_RMPI(s)                                                               \
    ((s) == UCS_OK ? RMPI_OK                                                         \
     : ((s) == UCS_ERR_ENDPOINT_TIMEOUT || (s) == UCS_ERR_CONNECTION_RESET ||        \
        (s) == UCS_ERR_UNREACHABLE || (s) == UCS_ERR_CANCELED)                       \
         ? RMPI_ERR_RANK_DIED                                                        \
     : (s) == UCS_ERR_NO_MEMORY ? RMPI_ERR_NO_MEMORY                                 \
                                : RMPI_ERR_TRANSPORT)

typedef struct {
    rmpi_tp_handler_t handler;
    rmpi_tp_alloc_t   alloc;
    rmpi_tp_free_t    free_fn;
} am_slot_t;

typedef struct {
    rmpi_tp_send_cb_t cb;
    void             *arg;
    size_t            hlen;
    char              hdr[]; /* kept alive until UCX is done with it */
} send_ctx_t;

typedef struct {
    am_slot_t *slot;
    void      *buf;
    size_t     len;
    size_t     hlen;
    char       hdr[];
} recv_ctx_t;

static struct {
    ucp_context_h    ctx;
    ucp_worker_h     worker;
    ucp_ep_h        *eps;
    char            *dead;
    int              size, me;
    int              efd, epfd;
    rmpi_tp_params_t params;
    am_slot_t        slots[RMPI_TP_MAX_AM];
    rmpi_mpsc_t      posted;
    atomic_int       sleeping;
    atomic_int       stop;
    atomic_int       quiet; /* shutting down: endpoint errors are expected */
    pthread_t        thread;
    int              running;
    pthread_mutex_t  plock;    /* held by the thread driving the worker */
    atomic_int       helpable; /* other threads may drive it (between start and fini) */
    _Atomic uint64_t sent, received;
    _Atomic uint64_t sent_cls[3], recv_cls[3];
    char            *cls; /* per rank: RMPI_TP_* */
} tp;

static RMPI_TLS int on_progress_thread;

int rmpi__tp_on_progress_thread(void)
{
    return on_progress_thread;
}

uint64_t rmpi__tp_bytes_sent(void)
{
    return atomic_load_explicit(&tp.sent, memory_order_relaxed);
}

uint64_t rmpi__tp_bytes_received(void)
{
    return atomic_load_explicit(&tp.received, memory_order_relaxed);
}

uint64_t rmpi__tp_bytes_sent_class(int cls)
{
    return cls >= 0 && cls < 3 ? atomic_load_explicit(&tp.sent_cls[cls], memory_order_relaxed) : 0;
}

uint64_t rmpi__tp_bytes_received_class(int cls)
{
    return cls >= 0 && cls < 3 ? atomic_load_explicit(&tp.recv_cls[cls], memory_order_relaxed) : 0;
}

int rmpi__tp_peer_class(int rank)
{
    return tp.cls != NULL && rank >= 0 && rank < tp.size ? tp.cls[rank] : RMPI_TP_NET;
}

void rmpi__tp_count_received(int rank, size_t bytes)
{
    atomic_fetch_add_explicit(&tp.recv_cls[rmpi__tp_peer_class(rank)], bytes,
                              memory_order_relaxed);
}

int rmpi__tp_init(const rmpi_tp_params_t *params, void **addr, size_t *addrlen)
{
    ucp_params_t cp;
    ucp_worker_params_t wp;
    ucp_config_t *config;
    ucp_address_t *uaddr;
    size_t ulen;
    ucs_status_t s;

    memset(&tp, 0, sizeof(tp));
    tp.params = *params;
    tp.efd = tp.epfd = -1;
    pthread_mutex_init(&tp.plock, NULL);
    rmpi_mpsc_init(&tp.posted);
    if (params->err_handling == RMPI_ERRH_YES) {
        /* In peer error mode UCX 1.13 silently drops shared memory unless these are
         * on: same-node traffic would go over TCP loopback.  The user's own
         * setting wins.  (CMA has no such switch: it is lost either way.) */
        setenv("UCX_POSIX_ERROR_HANDLING", "y", 0);
        setenv("UCX_SYSV_ERROR_HANDLING", "y", 0);
    }
    s = ucp_config_read(NULL, NULL, &config);
    if (s != UCS_OK) {
        rmpi_error(MOD, "ucp_config_read: %s", ucs_status_string(s));
        return RMPI_ERR_TRANSPORT;
    }
    memset(&cp, 0, sizeof(cp));
    cp.field_mask = UCP_PARAM_FIELD_FEATURES | UCP_PARAM_FIELD_MT_WORKERS_SHARED;
    cp.features = UCP_FEATURE_AM | UCP_FEATURE_WAKEUP;
    cp.mt_workers_shared = 0;
    s = ucp_init(&cp, config, &tp.ctx);
    ucp_config_release(config);
    if (s != UCS_OK) {
        rmpi_error(MOD, "ucp_init: %s", ucs_status_string(s));
        return RMPI_ERR_TRANSPORT;
    }
    memset(&wp, 0, sizeof(wp));
    wp.field_mask = UCP_WORKER_PARAM_FIELD_THREAD_MODE;
    wp.thread_mode = UCS_THREAD_MODE_SERIALIZED; /* one thread at a time: tp.plock */
    s = ucp_worker_create(tp.ctx, &wp, &tp.worker);
    if (s != UCS_OK) {
        rmpi_error(MOD, "ucp_worker_create: %s", ucs_status_string(s));
        goto err_ctx;
    }
    s = ucp_worker_get_efd(tp.worker, &tp.efd);
    if (s != UCS_OK) {
        rmpi_error(MOD, "ucp_worker_get_efd: %s", ucs_status_string(s));
        goto err_worker;
    }
    tp.epfd = epoll_create1(EPOLL_CLOEXEC);
    if (tp.epfd < 0) {
        rmpi_error(MOD, "epoll_create1: %m");
        goto err_worker;
    }
    struct epoll_event ev = {.events = EPOLLIN};
    if (epoll_ctl(tp.epfd, EPOLL_CTL_ADD, tp.efd, &ev) != 0) {
        rmpi_error(MOD, "epoll_ctl: %m");
        goto err_epoll;
    }
    s = ucp_worker_get_address(tp.worker, &uaddr, &ulen);
    if (s != UCS_OK) {
        rmpi_error(MOD, "ucp_worker_get_address: %s", ucs_status_string(s));
        goto err_epoll;
    }
    *addr = malloc(ulen);
    if (*addr == NULL) {
        ucp_worker_release_address(tp.worker, uaddr);
        goto err_epoll;
    }
    memcpy(*addr, uaddr, ulen);
    *addrlen = ulen;
    ucp_worker_release_address(tp.worker, uaddr);
    return RMPI_OK;

err_epoll:
    close(tp.epfd);
    tp.epfd = -1;
err_worker:
    ucp_worker_destroy(tp.worker);
    tp.worker = NULL;
err_ctx:
    ucp_cleanup(tp.ctx);
    tp.ctx = NULL;
    return RMPI_ERR_TRANSPORT;
}

static void ep_error_cb(void *arg, ucp_ep_h ep, ucs_status_t status)
{
    int rank = (int)(intptr_t)arg;

    if (tp.dead[rank])
        return;
    tp.dead[rank] = 1;
    if (atomic_load(&tp.quiet)) {
        rmpi_debug(MOD, "endpoint to rank %d closed at shutdown: %s", rank,
                   ucs_status_string(status));
        return;
    }
    rmpi_warn(MOD, "endpoint to rank %d failed: %s", rank, ucs_status_string(status));
    if (tp.params.peer_failed != NULL)
        tp.params.peer_failed(rank, UCS_TO_RMPI(status));
}

int rmpi__tp_connect(int size, int me, void *const *addrs, const char *local)
{
    tp.size = size;
    tp.me = me;
    tp.eps = calloc((size_t)size, sizeof(*tp.eps));
    tp.dead = calloc((size_t)size, 1);
    if (tp.eps == NULL || tp.dead == NULL)
        return RMPI_ERR_NO_MEMORY;
    for (int r = 0; r < size; r++) {
        ucp_ep_params_t ep;
        ucs_status_t s;

        memset(&ep, 0, sizeof(ep));
        ep.field_mask = UCP_EP_PARAM_FIELD_REMOTE_ADDRESS;
        ep.address = addrs[r];
        int peer_mode = tp.params.err_handling == RMPI_ERRH_YES ||
                        (tp.params.err_handling == RMPI_ERRH_AUTO && !local[r]);
        if (peer_mode) {
            ep.field_mask |= UCP_EP_PARAM_FIELD_ERR_HANDLING_MODE |
                             UCP_EP_PARAM_FIELD_ERR_HANDLER;
            ep.err_mode = UCP_ERR_HANDLING_MODE_PEER;
            ep.err_handler.cb = ep_error_cb;
            ep.err_handler.arg = (void *)(intptr_t)r;
        }
        s = ucp_ep_create(tp.worker, &ep, &tp.eps[r]);
        if (s != UCS_OK) {
            rmpi_error(MOD, "ucp_ep_create to rank %d: %s", r, ucs_status_string(s));
            return RMPI_ERR_TRANSPORT;
        }
    }
    /* Which kind of path each peer is on, for the transfer counters. */
    tp.cls = calloc((size_t)size, 1);
    if (tp.cls == NULL)
        return RMPI_ERR_NO_MEMORY;
    for (int r = 0; r < size; r++) {
        char names[256];
        if (r == me) {
            tp.cls[r] = RMPI_TP_SELF;
            continue;
        }
        rmpi__tp_peer_transports(r, names, sizeof(names));
        char padded[264];
        snprintf(padded, sizeof(padded), " %s ", names);
        int net = strstr(padded, " tcp ") != NULL || strstr(padded, " rc") != NULL ||
                  strstr(padded, " dc") != NULL || strstr(padded, " ud") != NULL ||
                  strstr(padded, " gga") != NULL;
        tp.cls[r] = net ? RMPI_TP_NET : RMPI_TP_SHM;
        rmpi_debug(MOD, "rank %d reached over: %s", r, names);
    }
    return RMPI_OK;
}

static void deliver(am_slot_t *slot, const void *hdr, size_t hlen, void *data, size_t len,
                    int owned, int status)
{
    rmpi_tp_msg_t m = {hdr, hlen, data, len, owned, status};

    atomic_fetch_add_explicit(&tp.received, len + hlen, memory_order_relaxed);
    slot->handler(&m);
}

static void recv_done(void *request, ucs_status_t status, size_t length, void *user_data)
{
    recv_ctx_t *rc = user_data;

    if (status != UCS_OK) {
        rmpi_warn(MOD, "receive of %zu bytes failed: %s", rc->len, ucs_status_string(status));
        if (rc->slot->free_fn)
            rc->slot->free_fn(rc->buf, rc->len);
        else
            free(rc->buf);
        deliver(rc->slot, rc->hdr, rc->hlen, NULL, rc->len, 0, UCS_TO_RMPI(status));
    } else {
        deliver(rc->slot, rc->hdr, rc->hlen, rc->buf, rc->len, 1, RMPI_OK);
    }
    free(rc);
    if (request != NULL)
        ucp_request_free(request);
}

static ucs_status_t am_cb(void *arg, const void *header, size_t hlen, void *data,
                          size_t length, const ucp_am_recv_param_t *param)
{
    am_slot_t *slot = arg;

    if (!(param->recv_attr & UCP_AM_RECV_ATTR_FLAG_RNDV)) {
        deliver(slot, header, hlen, data, length, 0, RMPI_OK);
        return UCS_OK;
    }
    /* Rendezvous: the handler's alloc picks the destination (e.g. a store buffer). */
    void *buf;
    if (slot->alloc != NULL) {
        buf = slot->alloc(header, hlen, length);
    } else if (posix_memalign(&buf, 4096, length ? length : 1) != 0) {
        buf = NULL;
    }
    if (buf == NULL) {
        deliver(slot, header, hlen, NULL, length, 0, RMPI_ERR_NO_MEMORY);
        return UCS_ERR_NO_MEMORY; /* the sender's send completes with this */
    }
    recv_ctx_t *rc = malloc(sizeof(*rc) + hlen);
    if (rc == NULL) {
        if (slot->free_fn)
            slot->free_fn(buf, length);
        else
            free(buf);
        deliver(slot, header, hlen, NULL, length, 0, RMPI_ERR_NO_MEMORY);
        return UCS_ERR_NO_MEMORY;
    }
    rc->slot = slot;
    rc->buf = buf;
    rc->len = length;
    rc->hlen = hlen;
    memcpy(rc->hdr, header, hlen);

    ucp_request_param_t p;
    memset(&p, 0, sizeof(p));
    p.op_attr_mask = UCP_OP_ATTR_FIELD_CALLBACK | UCP_OP_ATTR_FIELD_USER_DATA;
    p.cb.recv_am = recv_done;
    p.user_data = rc;
    ucs_status_ptr_t sp = ucp_am_recv_data_nbx(tp.worker, data, buf, length, &p);
    if (sp == NULL)
        recv_done(NULL, UCS_OK, length, rc);
    else if (UCS_PTR_IS_ERR(sp))
        recv_done(NULL, UCS_PTR_STATUS(sp), length, rc);
    return UCS_INPROGRESS;
}

void rmpi__tp_set_handler(int am_id, rmpi_tp_handler_t handler, rmpi_tp_alloc_t alloc,
                          rmpi_tp_free_t free_fn)
{
    ucp_am_handler_param_t hp;
    ucs_status_t s;

    tp.slots[am_id] = (am_slot_t){handler, alloc, free_fn};
    memset(&hp, 0, sizeof(hp));
    hp.field_mask = UCP_AM_HANDLER_PARAM_FIELD_ID | UCP_AM_HANDLER_PARAM_FIELD_CB |
                    UCP_AM_HANDLER_PARAM_FIELD_ARG | UCP_AM_HANDLER_PARAM_FIELD_FLAGS;
    hp.id = (unsigned)am_id;
    hp.cb = am_cb;
    hp.arg = &tp.slots[am_id];
    hp.flags = UCP_AM_FLAG_WHOLE_MSG;
    s = ucp_worker_set_am_recv_handler(tp.worker, &hp);
    if (s != UCS_OK)
        rmpi_error(MOD, "ucp_worker_set_am_recv_handler(%d): %s", am_id,
                   ucs_status_string(s));
}

static void send_done(void *request, ucs_status_t status, void *user_data)
{
    send_ctx_t *sc = user_data;

    if (status != UCS_OK)
        rmpi_debug(MOD, "send failed: %s", ucs_status_string(status));
    sc->cb(sc->arg, UCS_TO_RMPI(status));
    free(sc);
    ucp_request_free(request);
}

int rmpi__tp_send(int dest, int am_id, const void *hdr, size_t hlen, const void *data,
                  size_t len, rmpi_tp_send_cb_t cb, void *arg)
{
    send_ctx_t *sc;
    ucp_request_param_t p;
    ucs_status_ptr_t sp;

    if (dest < 0 || dest >= tp.size)
        return RMPI_ERR_INVALID_RANK;
    if (tp.dead[dest])
        return RMPI_ERR_RANK_DIED;
    sc = malloc(sizeof(*sc) + hlen);
    if (sc == NULL)
        return RMPI_ERR_NO_MEMORY;
    sc->cb = cb;
    sc->arg = arg;
    sc->hlen = hlen;
    memcpy(sc->hdr, hdr, hlen);
    memset(&p, 0, sizeof(p));
    p.op_attr_mask = UCP_OP_ATTR_FIELD_CALLBACK | UCP_OP_ATTR_FIELD_USER_DATA |
                     UCP_OP_ATTR_FIELD_FLAGS;
    p.cb.send = send_done;
    p.user_data = sc;
    p.flags = UCP_AM_SEND_FLAG_REPLY;
    sp = ucp_am_send_nbx(tp.eps[dest], (unsigned)am_id, sc->hdr, hlen, data, len, &p);
    atomic_fetch_add_explicit(&tp.sent, len + hlen, memory_order_relaxed);
    atomic_fetch_add_explicit(&tp.sent_cls[(unsigned char)tp.cls[dest]], len + hlen, memory_order_relaxed);
    if (sp == NULL) {
        free(sc);
        cb(arg, RMPI_OK);
        return RMPI_OK;
    }
    if (UCS_PTR_IS_ERR(sp)) {
        ucs_status_t s = UCS_PTR_STATUS(sp);
        free(sc);
        rmpi_debug(MOD, "send to rank %d: %s", dest, ucs_status_string(s));
        return UCS_TO_RMPI(s);
    }
    return RMPI_OK;
}

int rmpi__tp_peer_alive(int rank)
{
    return rank >= 0 && rank < tp.size && !tp.dead[rank];
}

int rmpi__tp_peer_transports(int rank, char *buf, size_t size)
{
    char *text = NULL;
    size_t textlen = 0;
    FILE *f;

    if (rank < 0 || rank >= tp.size)
        return RMPI_ERR_INVALID_RANK;
    f = open_memstream(&text, &textlen);
    if (f == NULL)
        return RMPI_ERR_NO_MEMORY;
    ucp_ep_print_info(tp.eps[rank], f);
    fclose(f);
    /* Lines read "lane[0]:  3:posix/memory.0 md[3] ...": collect the names. */
    buf[0] = '\0';
    for (char *p = text; p != NULL && (p = strstr(p, "lane[")) != NULL; p++) {
        char *colon = strchr(p, ':');
        if (colon == NULL)
            break;
        char *q = colon + 1;
        while (*q == ' ')
            q++;
        while (*q >= '0' && *q <= '9')
            q++;
        if (*q != ':')
            continue;
        q++;
        size_t n = strcspn(q, "/ \n");
        if (n == 0 || n > 31)
            continue;
        char name[32];
        memcpy(name, q, n);
        name[n] = '\0';
        /* skip duplicates */
        char padded[40];
        snprintf(padded, sizeof(padded), " %s ", name);
        char have[512];
        snprintf(have, sizeof(have), " %s ", buf);
        if (strstr(have, padded) != NULL)
            continue;
        if (strlen(buf) + n + 2 > size)
            break;
        if (buf[0] != '\0')
            strcat(buf, " ");
        strcat(buf, name);
    }
    free(text);
    if (tp.dead[rank] && strlen(buf) + 8 < size)
        strcat(buf, buf[0] ? " (dead)" : "(dead)");
    return RMPI_OK;
}

static RMPI_TLS int wakes_held, wake_missed;

static void wake_progress_thread(void)
{
    /* Dekker pairing with the progress thread's sleeping/empty check. */
    if (atomic_load(&tp.sleeping) && atomic_exchange(&tp.sleeping, 0))
        ucp_worker_signal(tp.worker);
}

static RMPI_TLS unsigned posts_since_help; /* this thread's posts since its last pass */

void rmpi__tp_post(rmpi_tp_work_t *w)
{
    rmpi_mpsc_push(&tp.posted, &w->node);
    posts_since_help++;
    if (wakes_held)
        wake_missed = 1;
    else
        wake_progress_thread();
}

void rmpi__tp_hold_wakes(void)
{
    wakes_held = 1;
}

int rmpi__tp_release_wakes(int help)
{
    int n = help ? rmpi__tp_help() : -1;

    wakes_held = 0;
    if (wake_missed && n < 0) /* nobody ran a pass for certain: wake the thread */
        wake_progress_thread();
    wake_missed = 0;
    return n;
}

static int drain_posted(void)
{
    int n = 0;
    rmpi_mpsc_node_t *node;

    while ((node = rmpi_mpsc_pop(&tp.posted)) != NULL) {
        rmpi_tp_work_t *w = (rmpi_tp_work_t *)((char *)node - offsetof(rmpi_tp_work_t, node));
        w->fn(w);
        n++;
    }
    return n;
}

void rmpi__tp_drain_posted(void)
{
    if (on_progress_thread)
        drain_posted();
}

static int progress_once(void)
{
    int n = drain_posted();
    int k;

    /* What was posted (e.g. a finished task's results) leaves before the worker is
     * polled for arrivals, then what the arrivals' handlers queued. */
    if (n != 0 && tp.params.idle_hook != NULL)
        tp.params.idle_hook();
    while ((k = (int)ucp_worker_progress(tp.worker)) != 0) {
        /* A flood of arrivals holds back neither the tasks the first ones released
         * nor what other threads posted meanwhile (a finished task's completion). */
        n += k + drain_posted();
        if (tp.params.idle_hook != NULL)
            tp.params.idle_hook();
    }
    if (tp.params.idle_hook != NULL)
        tp.params.idle_hook();
    return n;
}

/* One pass holding the progress lock: the number of events, or -1 when another
 * thread holds it (or, for a helper, the worker is not open to helpers). */
static int pass_run(int helper, int block)
{
    if (on_progress_thread ||
        (block ? pthread_mutex_lock(&tp.plock) : pthread_mutex_trylock(&tp.plock)) != 0)
        return -1;
    int n = -1;
    if (!helper || atomic_load_explicit(&tp.helpable, memory_order_relaxed)) {
        on_progress_thread = 1;
        n = progress_once();
        on_progress_thread = 0;
    }
    pthread_mutex_unlock(&tp.plock);
    return n;
}

int rmpi__tp_help(void)
{
    if (!atomic_load_explicit(&tp.helpable, memory_order_relaxed))
        return -1;
    posts_since_help = 0;
    return pass_run(1, 0);
}

void rmpi__tp_help_backlog(unsigned posts)
{
    if (posts_since_help < posts || !atomic_load_explicit(&tp.helpable, memory_order_relaxed))
        return;
    /* The lock's holder may be a thread of this core that this one preempted: after
     * a few misses, wait for it (the holder runs, then this thread sends). */
    int n = pass_run(1, 0);
    if (n < 0 && posts_since_help >= 4 * posts)
        n = pass_run(1, 1);
    if (n >= 0)
        posts_since_help = 0;
}

static void sleep_until_woken(void)
{
    struct epoll_event ev;

    atomic_store(&tp.sleeping, 1);
    if (!rmpi_mpsc_empty(&tp.posted) || atomic_load(&tp.stop)) {
        atomic_store(&tp.sleeping, 0);
        return;
    }
    if (pthread_mutex_trylock(&tp.plock) != 0) { /* a helper is driving: not idle */
        atomic_store(&tp.sleeping, 0);
        return;
    }
    ucs_status_t s = ucp_worker_arm(tp.worker);
    pthread_mutex_unlock(&tp.plock);
    if (s == UCS_OK) {
        /* A helper may take the events first: the wake-up is then spurious. */
        int r = epoll_wait(tp.epfd, &ev, 1, 1000);
        if (r < 0 && errno != EINTR)
            rmpi_warn(MOD, "epoll_wait: %m");
    } else if (s != UCS_ERR_BUSY) {
        rmpi_warn(MOD, "ucp_worker_arm: %s", ucs_status_string(s));
    }
    atomic_store(&tp.sleeping, 0);
}

static void *progress_main(void *arg)
{
    double idle_since = -1;
    int spin_us = tp.params.spin_us;

    pthread_setname_np(pthread_self(), "rmpi-progress"); /* for top -H, perf, gdb */

    while (!atomic_load_explicit(&tp.stop, memory_order_relaxed)) {
        int n = pass_run(0, 0);
        if (n != 0) { /* work done, or a helper is driving the worker */
            idle_since = -1;
            if (n < 0)
                sched_yield();
            continue;
        }
        if (spin_us < 0) { /* pure spin */
            rmpi_cpu_relax();
            continue;
        }
        if (spin_us > 0) {
            double now = rmpi_now();
            if (idle_since < 0)
                idle_since = now;
            if (now - idle_since < spin_us * 1e-6) {
                sched_yield();
                continue;
            }
        }
        sleep_until_woken();
        idle_since = -1;
    }
    /* Last sends (e.g. shutdown acknowledgements) get flushed by rmpi__tp_fini. */
    return NULL;
}

void rmpi__tp_quiesce(void)
{
    atomic_store(&tp.quiet, 1);
}

void rmpi__tp_set_spin(int spin_us)
{
    tp.params.spin_us = spin_us;
}

int rmpi__tp_start(void)
{
    if (pthread_create(&tp.thread, NULL, progress_main, NULL) != 0) {
        rmpi_error(MOD, "cannot start the progress thread: %m");
        return RMPI_ERR_NO_MEMORY;
    }
    tp.running = 1;
    atomic_store_explicit(&tp.helpable, 1, memory_order_release);
    return RMPI_OK;
}

static void wait_request(ucs_status_ptr_t sp, double deadline)
{
    if (sp == NULL || UCS_PTR_IS_ERR(sp))
        return;
    while (ucp_request_check_status(sp) == UCS_INPROGRESS && rmpi_now() < deadline) {
        ucp_worker_progress(tp.worker);
        drain_posted();
    }
    if (ucp_request_check_status(sp) == UCS_INPROGRESS)
        ucp_request_cancel(tp.worker, sp);
    ucp_request_free(sp);
}

void rmpi__tp_fini(void)
{
    /* No helper from here on (one in a pass finishes it first). */
    pthread_mutex_lock(&tp.plock);
    atomic_store(&tp.helpable, 0);
    pthread_mutex_unlock(&tp.plock);
    if (tp.running) {
        atomic_store(&tp.stop, 1);
        ucp_worker_signal(tp.worker);
        pthread_join(tp.thread, NULL);
        tp.running = 0;
    }
    on_progress_thread = 1; /* this thread owns the worker from here on */
    if (tp.worker != NULL) {
        double deadline = rmpi_now() + 2.0;
        /* Deliver what is still queued, then flush and close every endpoint. */
        for (int i = 0; i < 100; i++)
            progress_once();
        if (tp.eps != NULL) {
            for (int r = 0; r < tp.size; r++) {
                if (tp.eps[r] == NULL)
                    continue;
                ucp_request_param_t p;
                memset(&p, 0, sizeof(p));
                p.op_attr_mask = UCP_OP_ATTR_FIELD_FLAGS;
                p.flags = tp.dead[r] ? UCP_EP_CLOSE_FLAG_FORCE : 0;
                wait_request(ucp_ep_close_nbx(tp.eps[r], &p), deadline);
            }
        }
        ucp_worker_destroy(tp.worker);
        tp.worker = NULL;
    }
    if (tp.epfd >= 0)
        close(tp.epfd);
    if (tp.ctx != NULL)
        ucp_cleanup(tp.ctx);
    tp.ctx = NULL;
    free(tp.eps);
    free(tp.dead);
    free(tp.cls);
    tp.eps = NULL;
    tp.dead = NULL;
    tp.cls = NULL;
    on_progress_thread = 0;
}
