/*
 * Actors: a registered class whose instance lives on one rank (its host), keeps
 * state between calls and runs method calls from anywhere in the job.
 *
 * Creation and calls are tasks with a fixed destination (the host, written in the
 * handle), so arguments, results, errors and completions take the task paths.  At
 * the host, a call whose arguments are ready enters its caller's queue; calls leave
 * it in the caller's sequence numbers (also when they arrived out of order), wait
 * behind the constructor, and run on executor threads, at most max_concurrency at
 * once.  Named actors are kept by the head (rank 0).
 *
 * A thread waiting for a call's result may run the call itself, see "Calls run by
 * the thread waiting for them" below.
 */
#include "core.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ACTOR_TAG 2
enum { A_CREATING, A_ALIVE, A_DEAD };
enum { NAME_REGISTER = 1, NAME_LOOKUP = 2, NAME_DROP = 3 };
#define NAME_EXISTING 1 /* REGISTER found the name taken and get_if_exists was set */

typedef struct caller_q {
    UT_hash_handle hh;
    int            caller;
    uint64_t       next; /* sequence number that may run next */
    rmpi_task_s   *held; /* ready calls waiting for earlier ones, by aseq */
} caller_q_t;

typedef struct actor actor_t;
struct actor {
    UT_hash_handle hh;
    uint64_t       lo; /* key: creator rank and sequence */
    rmpi_actor_t   handle;
    int            cls, state, max_conc, running, create_seen;
    uint32_t       cpus_milli;
    int            reserved;      /* cpus taken from the executors */
    void          *obj;
    int            dtor_claimed;
    char          *dead_msg;
    caller_q_t    *callers;
    rmpi_task_s   *ready_head, *ready_tail;
};

typedef struct seq_ent {
    UT_hash_handle hh;
    uint64_t       lo;
    uint64_t       next;
} seq_ent_t;

typedef struct name_ent {
    UT_hash_handle hh;
    char          *name;
    rmpi_actor_t   actor;
} name_ent_t;

typedef struct rpc {
    UT_hash_handle hh;
    uint64_t       token;
    atomic_int     done;
    int            status;
    rmpi_actor_t   actor;
    rmpi_waiter_t *waiter;
} rpc_t;

/* All under the store lock. */
static struct {
    actor_t    *hosted;
    seq_ent_t  *seqs;
    name_ent_t *names; /* head only */
    rpc_t      *rpcs;
    uint64_t    next_token;
    int        *placed; /* actors this rank placed on each rank */
} act;

static __thread uint64_t actor_rng;

uint64_t rmpi__actor_count(void)
{
    uint64_t n = 0;
    actor_t *a, *tmp;
    rmpi__store_lock();
    HASH_ITER(hh, act.hosted, a, tmp) {
        n += a->state != A_DEAD;
    }
    rmpi__store_unlock();
    return n;
}

/* ------------------------------------------------------------------------------
 * Handles
 * ------------------------------------------------------------------------------ */

static rmpi_actor_t handle_make(int host, int cls, int creator, uint64_t seq)
{
    rmpi_actor_t a = {((uint64_t)(uint32_t)host << 32) | ((uint64_t)(cls & 0xffffff) << 8) |
                          ACTOR_TAG,
                      ((uint64_t)(uint32_t)creator << 40) | (seq & ((1ull << 40) - 1))};
    return a;
}

static int handle_host(rmpi_actor_t a)
{
    return (int)(a.hi >> 32);
}

static int handle_cls(rmpi_actor_t a)
{
    return (int)((a.hi >> 8) & 0xffffff);
}

static int handle_valid(rmpi_actor_t a)
{
    return (a.hi & 0xff) == ACTOR_TAG && handle_host(a) < rmpi__rt.size &&
           handle_cls(a) < rmpi__rt.nclasses;
}

int rmpi_actor_rank(rmpi_actor_t a)
{
    return rmpi__rt.initialized && handle_valid(a) ? handle_host(a) : -1;
}

const char *rmpi__actor_class_name(rmpi_actor_t a)
{
    return handle_cls(a) < rmpi__rt.nclasses ? rmpi__rt.classes[handle_cls(a)].name : "?";
}

const char *rmpi__task_what(const rmpi_task_s *t, char *buf, size_t len)
{
    switch (t->kind) {
    case TK_TASK:
        return rmpi__fn_name(t->fn);
    case TK_CREATE:
        return rmpi__actor_class_name(t->actor);
    case TK_CALL: {
        int cls = handle_cls(t->actor);
        const rmpi_centry_t *c = cls < rmpi__rt.nclasses ? &rmpi__rt.classes[cls] : NULL;
        snprintf(buf, len, "%s.%s", c ? c->name : "?",
                 c && t->fn < (uint32_t)c->nmethods ? c->methods[t->fn].name : "?");
        return buf;
    }
    default:
        snprintf(buf, len, "%s destructor", rmpi__actor_class_name(t->actor));
        return buf;
    }
}

uint64_t rmpi__actor_next_seq_locked(rmpi_actor_t a)
{
    seq_ent_t *e;
    HASH_FIND(hh, act.seqs, &a.lo, sizeof(a.lo), e);
    if (e == NULL) {
        e = calloc(1, sizeof(*e));
        if (e == NULL)
            return 0; /* out of memory: ordering degrades, nothing crashes */
        e->lo = a.lo;
        HASH_ADD(hh, act.seqs, lo, sizeof(e->lo), e);
    }
    return e->next++;
}

/* ------------------------------------------------------------------------------
 * Host side
 * ------------------------------------------------------------------------------ */

static actor_t *find_actor(rmpi_actor_t h, int create)
{
    actor_t *a;
    HASH_FIND(hh, act.hosted, &h.lo, sizeof(h.lo), a);
    if (a == NULL && create) {
        a = calloc(1, sizeof(*a));
        if (a == NULL)
            return NULL;
        a->lo = h.lo;
        a->handle = h;
        a->cls = handle_cls(h);
        a->state = A_CREATING;
        a->max_conc = 1;
        HASH_ADD(hh, act.hosted, lo, sizeof(a->lo), a);
    }
    return a;
}

static void fail_call_locked(rmpi_task_s *t, const actor_t *a)
{
    rmpi__task_finish_locked(t, RMPI_ERR_ACTOR_DIED, a->dead_msg);
}

/* Claim the destructor once no call runs: it runs on an executor thread. */
static void maybe_dtor_locked(actor_t *a)
{
    if (a->state != A_DEAD || a->running != 0 || a->obj == NULL || a->dtor_claimed)
        return;
    a->dtor_claimed = 1;
    void *obj = a->obj;
    a->obj = NULL;
    if (rmpi__rt.classes[a->cls].dtor == NULL)
        return;
    rmpi_task_s *d = rmpi__task_build(NULL, 0, 0, 0);
    if (d == NULL) {
        rmpi_error(CORE, "out of memory: actor %s's destructor will not run",
                   rmpi__rt.classes[a->cls].name);
        return;
    }
    d->kind = TK_DTOR;
    d->actor = a->handle;
    d->aobj = obj;
    d->xn.cpus_milli = 0;
    rmpi__task_queue(&d->xn);
}

static void schedule_locked(actor_t *a)
{
    while (a->state == A_ALIVE && a->running < a->max_conc && a->ready_head != NULL) {
        rmpi_task_s *t = a->ready_head;
        a->ready_head = t->anext;
        if (a->ready_head == NULL)
            a->ready_tail = NULL;
        t->anext = NULL;
        a->running++;
        rmpi__task_queue(&t->xn);
    }
}

static void drop_name(rmpi_actor_t h);

/* ------------------------------------------------------------------------------
 * Calls run by the thread waiting for them
 *
 * A thread outside any task that waits in rmpi_get for the result of a call to an
 * actor of its own rank, queued there and not started, runs the call itself
 * (task.c, rmpi__task_run_awaited_locked), as it does a task.  Only calls that
 * cannot hold it up qualify: calls of actors with max_concurrency 1 whose method has
 * finished here before, has never waited in a get or wait, and whose recent calls
 * were short (RMPI_CALLER_RUN_MAX_US).  RAYMPI_SCHED_CALLER_RUNS=no turns it off.
 *
 * A submitting thread does not run calls between its submissions: with cores of
 * their own the executors take a ready call within microseconds, and a driver that
 * ran calls kept pace with them instead of getting ahead (doc/architecture.md).
 * ------------------------------------------------------------------------------ */

static rmpi_mentry_t *method_of(const rmpi_task_s *t)
{
    return &rmpi__rt.classes[handle_cls(t->actor)].methods[t->fn];
}

void rmpi__actor_note_wait(const rmpi_task_s *t)
{
    atomic_store_explicit(&method_of(t)->waited, 1, memory_order_relaxed);
}

/* Under the executors' lock (not the store's): only fields fixed before the call
 * was queued are read.  run_us is UINT32_MAX until a call of the method returned
 * here (rmpi__actor_run). */
int rmpi__actor_call_inline_ok(const rmpi_task_s *t)
{
    if (t->kind != TK_CALL || t->aentry == NULL)
        return 0;
    const actor_t *a = t->aentry;
    const rmpi_mentry_t *m = method_of(t);
    return a->max_conc == 1 && !atomic_load_explicit(&m->waited, memory_order_relaxed) &&
           atomic_load_explicit(&m->run_us, memory_order_relaxed) <= RMPI_CALLER_RUN_MAX_US;
}

static void die_locked(actor_t *a, const char *why)
{
    if (a->state == A_DEAD)
        return;
    a->state = A_DEAD;
    free(a->dead_msg);
    a->dead_msg = strdup(why);
    if (a->reserved) {
        rmpi__exec_adjust((int64_t)a->cpus_milli);
        a->reserved = 0;
    }
    rmpi_task_s *t = a->ready_head, *next;
    a->ready_head = a->ready_tail = NULL;
    for (; t != NULL; t = next) {
        next = t->anext;
        fail_call_locked(t, a);
    }
    maybe_dtor_locked(a);
    drop_name(a->handle);
}

/* A call left its caller's queue in order. */
static void enqueue_call_locked(actor_t *a, rmpi_task_s *t)
{
    t->anext = NULL;
    if (a->state == A_DEAD) {
        fail_call_locked(t, a);
        return;
    }
    if (t->dep_status != RMPI_OK) { /* an error value; the actor lives on */
        rmpi__task_finish_locked(t, t->dep_status, t->dep_msg);
        return;
    }
    if (a->ready_tail != NULL)
        a->ready_tail->anext = t;
    else
        a->ready_head = t;
    a->ready_tail = t;
}

static void deliver_create_locked(actor_t *a, rmpi_task_s *t)
{
    char msg[1200];

    if (a->create_seen) {
        rmpi__task_finish_locked(t, RMPI_ERR_INTERNAL, "actor created twice");
        return;
    }
    a->create_seen = 1;
    a->max_conc = t->max_conc > 0 ? (int)t->max_conc : 1;
    a->cpus_milli = t->cpus_milli;
    if (a->state == A_DEAD) { /* killed before it was built */
        rmpi__task_finish_locked(t, RMPI_ERR_ACTOR_DIED, a->dead_msg);
        return;
    }
    if (t->dep_status != RMPI_OK) {
        snprintf(msg, sizeof(msg), "actor %s died: an argument of its constructor failed: %s",
                 rmpi__rt.classes[a->cls].name, t->dep_msg ? t->dep_msg : "");
        die_locked(a, msg);
        rmpi__task_finish_locked(t, t->dep_status, t->dep_msg);
        return;
    }
    rmpi__exec_adjust(-(int64_t)a->cpus_milli); /* held while the actor lives */
    a->reserved = 1;
    a->running++; /* the constructor */
    rmpi__task_queue(&t->xn);
}

void rmpi__actor_deliver_locked(rmpi_task_s *t)
{
    actor_t *a = find_actor(t->actor, 1);

    if (a == NULL) {
        rmpi__task_finish_locked(t, RMPI_ERR_NO_MEMORY, "out of memory for an actor");
        return;
    }
    t->aentry = a;
    if (t->kind == TK_CREATE) {
        deliver_create_locked(a, t);
        return;
    }
    caller_q_t *q;
    HASH_FIND_INT(a->callers, &t->owner, q);
    if (q == NULL) {
        q = calloc(1, sizeof(*q));
        if (q == NULL) {
            rmpi__task_finish_locked(t, RMPI_ERR_NO_MEMORY, "out of memory for an actor call");
            return;
        }
        q->caller = t->owner;
        HASH_ADD_INT(a->callers, caller, q);
    }
    /* Insert by sequence number, then release what is now in order. */
    rmpi_task_s **p = &q->held;
    while (*p != NULL && (*p)->aseq < t->aseq)
        p = &(*p)->anext;
    t->anext = *p;
    *p = t;
    while (q->held != NULL && q->held->aseq == q->next) {
        rmpi_task_s *x = q->held;
        q->held = x->anext;
        q->next++;
        enqueue_call_locked(a, x);
    }
    schedule_locked(a);
}

int rmpi__actor_run(rmpi_task_s *t)
{
    const rmpi_centry_t *c = &rmpi__rt.classes[handle_cls(t->actor)];

    switch (t->kind) {
    case TK_CREATE:
        t->aobj = c->ctor(t);
        if (t->aobj == NULL && t->fail_msg == NULL)
            rmpi_task_fail(t, "constructor returned no state");
        return t->aobj != NULL ? RMPI_OK : RMPI_ERR_TASK_FAILED;
    case TK_CALL: {
        rmpi__store_lock();
        const actor_t *a = t->aentry;
        void *obj = a->obj;
        rmpi__store_unlock();
        if (!rmpi__cfg.caller_runs || a->max_conc != 1) /* only these calls qualify */
            return c->methods[t->fn].fn(obj, t);
        double t0 = rmpi_now();
        int rc = c->methods[t->fn].fn(obj, t);
        rmpi__note_run_us(&method_of(t)->run_us, rmpi_now() - t0);
        return rc;
    }
    case TK_DTOR:
        if (c->dtor != NULL)
            c->dtor(t->aobj);
        return RMPI_OK;
    default:
        return RMPI_ERR_INTERNAL;
    }
}

void rmpi__actor_after_run_locked(rmpi_task_s *t, int crashed, const char *crash_msg)
{
    actor_t *a = t->aentry;
    char msg[1400];

    if (t->kind == TK_DTOR || a == NULL)
        return;
    const char *cls = rmpi__rt.classes[a->cls].name;
    a->running--;
    if (t->kind == TK_CREATE) {
        if (crashed || t->aobj == NULL) {
            snprintf(msg, sizeof(msg), "actor %s died: its constructor on rank %d %s%s", cls,
                     rmpi__rt.rank, crashed ? "crashed: " : "failed: ",
                     crashed ? (crash_msg ? crash_msg : "") : (t->fail_msg ? t->fail_msg : ""));
            if (!crashed && t->aobj != NULL)
                a->obj = t->aobj;
            a->dtor_claimed = crashed;
            die_locked(a, msg);
        } else {
            a->obj = t->aobj;
            if (a->state == A_DEAD) { /* killed while the constructor ran */
                maybe_dtor_locked(a);
            } else {
                a->state = A_ALIVE;
            }
        }
    } else if (crashed) {
        /* The destructor still runs, so the state's memory is not lost; it runs
         * under the same crash guard, in case the state is corrupt. */
        snprintf(msg, sizeof(msg), "actor %s died: %s", cls, crash_msg ? crash_msg : "crashed");
        die_locked(a, msg);
    }
    schedule_locked(a);
    maybe_dtor_locked(a);
}

static int kill_locked(rmpi_actor_t h)
{
    actor_t *a = find_actor(h, 1);
    char msg[400];

    if (a == NULL)
        return RMPI_ERR_NO_MEMORY;
    if (a->state == A_DEAD)
        return RMPI_ERR_ACTOR_DIED;
    snprintf(msg, sizeof(msg), "actor %s was killed", rmpi__rt.classes[a->cls].name);
    die_locked(a, msg);
    return RMPI_OK;
}

void rmpi__actor_handle_kill(int src, const void *body, size_t len)
{
    rmpi_wire_id_t w;

    if (len < sizeof(w))
        return;
    memcpy(&w, body, sizeof(w));
    rmpi_actor_t h = {w.hi, w.lo};
    if (!handle_valid(h) || handle_host(h) != rmpi__rt.rank)
        return;
    rmpi__store_lock();
    kill_locked(h);
    rmpi__store_unlock();
}

typedef struct {
    void       *obj;
    rmpi_dtor_t dtor;
} pending_dtor_t;

void rmpi__actor_fini(void)
{
    pending_dtor_t *dt = NULL;
    size_t n = 0;

    rmpi__store_lock();
    size_t cap = HASH_COUNT(act.hosted);
    dt = calloc(cap ? cap : 1, sizeof(*dt));
    actor_t *a, *atmp;
    HASH_ITER(hh, act.hosted, a, atmp) {
        HASH_DEL(act.hosted, a);
        if (a->obj != NULL && !a->dtor_claimed && dt != NULL &&
            rmpi__rt.classes[a->cls].dtor != NULL)
            dt[n++] = (pending_dtor_t){a->obj, rmpi__rt.classes[a->cls].dtor};
        rmpi_task_s *t, *next;
        for (t = a->ready_head; t != NULL; t = next) {
            next = t->anext;
            rmpi__task_finish_locked(t, RMPI_ERR_SHUTDOWN, "runtime shut down");
        }
        caller_q_t *q, *qtmp;
        HASH_ITER(hh, a->callers, q, qtmp) {
            for (t = q->held; t != NULL; t = next) {
                next = t->anext;
                rmpi__task_finish_locked(t, RMPI_ERR_SHUTDOWN, "runtime shut down");
            }
            HASH_DEL(a->callers, q);
            free(q);
        }
        free(a->dead_msg);
        free(a);
    }
    seq_ent_t *s, *stmp;
    HASH_ITER(hh, act.seqs, s, stmp) {
        HASH_DEL(act.seqs, s);
        free(s);
    }
    name_ent_t *e, *etmp;
    HASH_ITER(hh, act.names, e, etmp) {
        HASH_DEL(act.names, e);
        free(e->name);
        free(e);
    }
    free(act.placed);
    act.placed = NULL;
    rmpi__store_unlock();
    /* The job ends: every actor's destructor runs (outside the lock: user code). */
    for (size_t i = 0; i < n; i++)
        dt[i].dtor(dt[i].obj);
    free(dt);
}

/* ------------------------------------------------------------------------------
 * Named actors (head)
 * ------------------------------------------------------------------------------ */

static int name_op_locked(int op, const char *name, int get_if_exists, rmpi_actor_t *a)
{
    name_ent_t *e = NULL;

    if (op == NAME_DROP) {
        name_ent_t *tmp;
        HASH_ITER(hh, act.names, e, tmp) {
            if (e->actor.hi == a->hi && e->actor.lo == a->lo) {
                HASH_DEL(act.names, e);
                free(e->name);
                free(e);
            }
        }
        return RMPI_OK;
    }
    HASH_FIND_STR(act.names, name, e);
    if (op == NAME_LOOKUP) {
        if (e == NULL)
            return RMPI_ERR_UNKNOWN_ACTOR;
        *a = e->actor;
        return RMPI_OK;
    }
    if (e != NULL) {
        if (!get_if_exists)
            return RMPI_ERR_NAME_EXISTS;
        *a = e->actor;
        return NAME_EXISTING;
    }
    e = calloc(1, sizeof(*e));
    if (e == NULL || (e->name = strdup(name)) == NULL) {
        free(e);
        return RMPI_ERR_NO_MEMORY;
    }
    e->actor = *a;
    HASH_ADD_KEYPTR(hh, act.names, e->name, strlen(e->name), e);
    return RMPI_OK;
}

static void send_name_req(uint64_t token, int op, const char *name, int get_if_exists,
                          rmpi_actor_t a)
{
    size_t nlen = name ? strlen(name) : 0;
    char *b = rmpi__rec_alloc(0, REC_NAME_REQ, sizeof(rmpi_wire_name_req_t) + nlen);
    if (b == NULL)
        return;
    rmpi_wire_name_req_t r;
    memset(&r, 0, sizeof(r));
    r.token = token;
    r.op = (uint8_t)op;
    r.get_if_exists = (uint8_t)(get_if_exists != 0);
    r.namelen = (uint16_t)nlen;
    r.actor_hi = a.hi;
    r.actor_lo = a.lo;
    memcpy(b, &r, sizeof(r));
    if (nlen)
        memcpy(b + sizeof(r), name, nlen);
    rmpi__rec_commit(b);
}

/* The actor died: its name becomes free (store lock held). */
static void drop_name(rmpi_actor_t h)
{
    if (rmpi__rt.rank == 0)
        name_op_locked(NAME_DROP, NULL, 0, &h);
    else
        send_name_req(0, NAME_DROP, NULL, 0, h);
}

/* Ask the head; waits for the answer. */
static int name_rpc(int op, const char *name, int get_if_exists, rmpi_actor_t *a)
{
    int rc;

    rmpi__store_lock();
    if (rmpi__rt.rank == 0) {
        rc = name_op_locked(op, name, get_if_exists, a);
        rmpi__store_unlock();
        return rc;
    }
    rpc_t *r = calloc(1, sizeof(*r));
    if (r == NULL) {
        rmpi__store_unlock();
        return RMPI_ERR_NO_MEMORY;
    }
    r->token = ++act.next_token;
    r->waiter = rmpi__thread_waiter();
    HASH_ADD(hh, act.rpcs, token, sizeof(r->token), r);
    int seen = atomic_load(&r->waiter->count);
    send_name_req(r->token, op, name, get_if_exists, *a);
    rmpi__store_unlock();
    while (!atomic_load(&r->done))
        seen = rmpi__waiter_wait(r->waiter, seen, -1, 0);
    rmpi__store_lock();
    HASH_DEL(act.rpcs, r);
    rmpi__store_unlock();
    rc = r->status;
    if (rc == RMPI_OK || rc == NAME_EXISTING)
        *a = r->actor;
    free(r);
    return rc;
}

void rmpi__actor_handle_name_req(int src, const void *body, size_t len)
{
    rmpi_wire_name_req_t r;
    char name[256];

    if (len < sizeof(r))
        return;
    memcpy(&r, body, sizeof(r));
    if (r.namelen > len - sizeof(r) || r.namelen >= sizeof(name))
        return;
    memcpy(name, (const char *)body + sizeof(r), r.namelen);
    name[r.namelen] = '\0';
    rmpi_actor_t a = {r.actor_hi, r.actor_lo};
    rmpi__store_lock();
    int st = name_op_locked(r.op, name, r.get_if_exists, &a);
    rmpi__store_unlock();
    if (r.op == NAME_DROP)
        return;
    rmpi_wire_name_rep_t rep = {r.token, st, 0, a.hi, a.lo};
    rmpi__rec_send(src, REC_NAME_REP, &rep, sizeof(rep));
}

void rmpi__actor_handle_name_rep(int src, const void *body, size_t len)
{
    rmpi_wire_name_rep_t rep;
    rpc_t *r;

    if (len < sizeof(rep))
        return;
    memcpy(&rep, body, sizeof(rep));
    rmpi__store_lock();
    HASH_FIND(hh, act.rpcs, &rep.token, sizeof(rep.token), r);
    if (r != NULL) {
        r->status = rep.status;
        r->actor.hi = rep.actor_hi;
        r->actor.lo = rep.actor_lo;
        atomic_store(&r->done, 1);
        rmpi__waiter_notify(r->waiter);
    }
    rmpi__store_unlock();
}

/* ------------------------------------------------------------------------------
 * API
 * ------------------------------------------------------------------------------ */

static int actor_placed_load(int r)
{
    return act.placed != NULL ? act.placed[r] : 0;
}

int rmpi_actor_create(const char *cls, const rmpi_arg_t *args, int nargs,
                      const rmpi_actor_opts_t *opts, rmpi_actor_t *actor_out)
{
    uint32_t milli = 0;
    int rank = RMPI_ANY_RANK, max_conc = 1, gie = 0, rc;
    const char *name = NULL;
    size_t blob;

    if (!rmpi__rt.initialized)
        return RMPI_ERR_NOT_INITIALIZED;
    if (cls == NULL || actor_out == NULL)
        return RMPI_ERR_INVALID_ARG;
    int cidx = rmpi__class_lookup(cls);
    if (cidx < 0) {
        rmpi_info(CORE, "actor create: no actor class '%s' is registered", cls);
        return RMPI_ERR_UNKNOWN_CLASS;
    }
    rc = rmpi__task_check_args(args, nargs, &blob);
    if (rc != RMPI_OK)
        return rc;
    if (opts != NULL) {
        const uint64_t known = RMPI_ACTOR_OPT_CPUS | RMPI_ACTOR_OPT_GPUS | RMPI_ACTOR_OPT_RANK |
                               RMPI_ACTOR_OPT_NAME | RMPI_ACTOR_OPT_GET_IF_EXISTS |
                               RMPI_ACTOR_OPT_MAX_CONCURRENCY;
        if (opts->field_mask & ~known)
            return RMPI_ERR_INVALID_ARG;
        if (opts->field_mask & RMPI_ACTOR_OPT_CPUS) {
            if (!(opts->cpus >= 0 && opts->cpus <= 1e6))
                return RMPI_ERR_INVALID_ARG;
            milli = (uint32_t)(opts->cpus * 1000 + 0.5);
        }
        if ((opts->field_mask & RMPI_ACTOR_OPT_GPUS) && !(opts->gpus >= 0))
            return RMPI_ERR_INVALID_ARG;
        if ((opts->field_mask & RMPI_ACTOR_OPT_GPUS) && opts->gpus > 0)
            return RMPI_ERR_RESOURCES;
        if (opts->field_mask & RMPI_ACTOR_OPT_RANK) {
            if (opts->rank != RMPI_ANY_RANK && (opts->rank < 0 || opts->rank >= rmpi__rt.size))
                return RMPI_ERR_INVALID_RANK;
            rank = opts->rank;
        }
        if (opts->field_mask & RMPI_ACTOR_OPT_NAME) {
            name = opts->name;
            if (name == NULL || name[0] == '\0' || strlen(name) > 255)
                return RMPI_ERR_INVALID_ARG;
        }
        if (opts->field_mask & RMPI_ACTOR_OPT_GET_IF_EXISTS)
            gie = opts->get_if_exists != 0;
        if (opts->field_mask & RMPI_ACTOR_OPT_MAX_CONCURRENCY) {
            if (opts->max_concurrency < 1 || opts->max_concurrency > 4096)
                return RMPI_ERR_INVALID_ARG;
            max_conc = opts->max_concurrency;
        }
    }
    uint64_t have = (uint64_t)(rank >= 0 ? rmpi__rt.ncpus[rank] : rmpi__rt.max_cpus) * 1000;
    if (milli > have)
        return RMPI_ERR_RESOURCES;

    rmpi__store_lock();
    if (act.placed == NULL)
        act.placed = calloc((size_t)rmpi__rt.size, sizeof(int));
    if (actor_rng == 0)
        actor_rng = ((uint64_t)rmpi__rt.rank << 32) ^ (uint64_t)(uintptr_t)&actor_rng;
    int host = rank >= 0 ? rank
                         : rmpi__place_choose(rmpi__rt.size, rmpi__rt.rank, rmpi__rt.ncpus,
                                              actor_placed_load, milli, &actor_rng);
    if (host < 0)
        host = rmpi__rt.rank;
    if (act.placed != NULL)
        act.placed[host]++;
    rmpi__store_unlock();

    rmpi_actor_t h = handle_make(host, cidx, rmpi__rt.rank,
                                 atomic_fetch_add(&rmpi__rt.next_seq, 1));
    if (name != NULL) {
        rmpi_actor_t got = h;
        rc = name_rpc(NAME_REGISTER, name, gie, &got);
        if (rc == NAME_EXISTING) {
            *actor_out = got;
            return RMPI_OK;
        }
        if (rc != RMPI_OK)
            return rc;
    }
    rmpi_task_s *t = rmpi__task_build(args, nargs, 1, blob);
    if (t == NULL)
        return RMPI_ERR_NO_MEMORY;
    t->kind = TK_CREATE;
    t->fn = (uint32_t)cidx;
    t->cpus_milli = milli;
    t->xn.cpus_milli = 0;
    t->max_conc = (uint32_t)max_conc;
    t->actor = h;
    rmpi_ref_t done;
    rc = rmpi__task_submit(t, host, &done);
    if (rc != RMPI_OK)
        return rc;
    rmpi_release(done); /* creation errors reach callers as the actor's death */
    *actor_out = h;
    return RMPI_OK;
}

int rmpi_actor_call(rmpi_actor_t a, const char *method, const rmpi_arg_t *args, int nargs,
                    const rmpi_opts_t *opts, rmpi_ref_t *refs_out)
{
    int nret = 1, rc;
    size_t blob;

    if (!rmpi__rt.initialized)
        return RMPI_ERR_NOT_INITIALIZED;
    if (method == NULL || refs_out == NULL)
        return RMPI_ERR_INVALID_ARG;
    if (!handle_valid(a))
        return RMPI_ERR_UNKNOWN_ACTOR;
    int cls = handle_cls(a);
    int m = rmpi__method_lookup(cls, method);
    if (m < 0) {
        rmpi_info(CORE, "actor call: class %s has no method '%s'", rmpi__rt.classes[cls].name,
                  method);
        return RMPI_ERR_UNKNOWN_METHOD;
    }
    int want = rmpi__rt.classes[cls].methods[m].nargs;
    if (want != RMPI_NARGS_ANY && want != nargs)
        return RMPI_ERR_NARGS;
    if (opts != NULL && (opts->field_mask & RMPI_OPT_NUM_RETURNS)) {
        if (opts->num_returns < 1 || opts->num_returns > RMPI_MAX_RETURNS)
            return RMPI_ERR_INVALID_ARG;
        nret = opts->num_returns;
    }
    rc = rmpi__task_check_args(args, nargs, &blob);
    if (rc != RMPI_OK)
        return rc;
    rmpi_task_s *t = rmpi__task_build(args, nargs, nret, blob);
    if (t == NULL)
        return RMPI_ERR_NO_MEMORY;
    t->kind = TK_CALL;
    t->fn = (uint32_t)m;
    t->xn.cpus_milli = 0;
    t->actor = a;
    return rmpi__task_submit(t, handle_host(a), refs_out);
}

rmpi_ref_t rmpi_actor_call1(rmpi_actor_t a, const char *method, int nargs, ...)
{
    rmpi_arg_t stack[RMPI_VA_STACK], *args;
    rmpi_ref_t ref = RMPI_REF_NIL;
    va_list ap;
    int rc;

    va_start(ap, nargs);
    args = rmpi__va_args(nargs, ap, stack);
    va_end(ap);
    rc = args == NULL ? RMPI_ERR_INVALID_ARG : rmpi_actor_call(a, method, args, nargs, NULL, &ref);
    if (args != stack)
        free(args);
    if (rc == RMPI_OK)
        return ref;
    char msg[400];
    snprintf(msg, sizeof(msg), "rmpi_actor_call1(\"%s\", %d): %s", method ? method : "(null)",
             nargs, rmpi_status_string(rc));
    return rmpi__error_ref(rc, msg);
}

int rmpi_actor_lookup(const char *name, rmpi_actor_t *actor_out)
{
    rmpi_actor_t a = {0, 0};

    if (!rmpi__rt.initialized)
        return RMPI_ERR_NOT_INITIALIZED;
    if (name == NULL || name[0] == '\0' || strlen(name) > 255 || actor_out == NULL)
        return RMPI_ERR_INVALID_ARG;
    int rc = name_rpc(NAME_LOOKUP, name, 0, &a);
    if (rc == RMPI_OK)
        *actor_out = a;
    return rc;
}

int rmpi_actor_kill(rmpi_actor_t a)
{
    if (!rmpi__rt.initialized)
        return RMPI_ERR_NOT_INITIALIZED;
    if (!handle_valid(a))
        return RMPI_ERR_UNKNOWN_ACTOR;
    if (handle_host(a) != rmpi__rt.rank) {
        rmpi_wire_id_t w = {a.hi, a.lo};
        rmpi__rec_send(handle_host(a), REC_KILL, &w, sizeof(w));
        return RMPI_OK;
    }
    rmpi__store_lock();
    int rc = kill_locked(a);
    rmpi__store_unlock();
    return rc;
}
