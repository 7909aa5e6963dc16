/*
 * Tasks: submission, dependency resolution, placement, execution, completion.
 *
 * The submitting rank owns the results.  It waits for the ref arguments it owns to
 * be ready, picks the executing rank (where the large arguments are, else the least
 * loaded of two random choices and itself) and sends the spec straight there: no
 * head on the path.  The executor resolves what is left (pulls large arguments,
 * asks the owners of refs it does not know), runs the function on an executor
 * thread and sends the completion straight back, small results inline.
 */
#include "core.h"
#include "base/util.h"

#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static RMPI_TLS rmpi_task_s *cur_task;
static RMPI_TLS uint64_t     rng_state;

/* ------------------------------------------------------------------------------
 * Allocation and small helpers
 * ------------------------------------------------------------------------------ */

static rmpi_task_s *task_alloc(int nargs, int nret, size_t blob)
{
    size_t sz = sizeof(rmpi_task_s) + (size_t)nargs * sizeof(rmpi_targ_t) +
                (size_t)nret * sizeof(rmpi_tret_t) + blob;
    rmpi_task_s *t = rmpi_zalloc(sz);

    if (t == NULL)
        return NULL;
    t->nargs = (uint16_t)nargs;
    t->nret = (uint16_t)nret;
    t->args = (rmpi_targ_t *)(t + 1);
    t->rets = (rmpi_tret_t *)(t->args + nargs);
    t->blob = (char *)(t->rets + nret);
    return t;
}

static void task_free(rmpi_task_s *t)
{
    for (int i = 0; i < t->nret; i++)
        if (t->rets[i].data != NULL)
            rmpi__store_free(t->rets[i].data, t->rets[i].size);
    free(t->dep_msg);
    free(t->fail_msg);
    free(t->subs);
    free(t);
}

static void dep_fail(rmpi_task_s *t, int status, const char *msg)
{
    if (t->dep_status != RMPI_OK)
        return;
    t->dep_status = status;
    t->dep_msg = strdup(msg != NULL ? msg : rmpi_status_string(status));
}

static char *fmt_msg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *fmt_msg(const char *fmt, ...)
{
    va_list ap;
    char *s = NULL;

    va_start(ap, fmt);
    if (vasprintf(&s, fmt, ap) < 0)
        s = NULL;
    va_end(ap);
    return s;
}

static int deferred_n; /* tasks rmpi__task_queue holds back (progress thread only) */

int rmpi__rank_load(int r)
{
    /* Both sides count what this rank placed there (waiting for its arguments too)
     * plus what is queued or running there. */
    if (r == rmpi__rt.rank)
        return atomic_load_explicit(&rmpi__rt.inflight[r], memory_order_relaxed) +
               rmpi__exec_queue_len() + rmpi__exec_running() +
               (rmpi__tp_on_progress_thread() ? deferred_n : 0);
    return atomic_load_explicit(&rmpi__rt.inflight[r], memory_order_relaxed) +
           atomic_load_explicit(&rmpi__rt.qlen[r], memory_order_relaxed);
}

/* ------------------------------------------------------------------------------
 * Completion (owner side)
 * ------------------------------------------------------------------------------ */

/* Drop the references the task held on the arguments this rank owns. */
static void release_args_locked(rmpi_task_s *t)
{
    for (int i = 0; i < t->nargs; i++) {
        rmpi_targ_t *a = &t->args[i];
        if (a->pin != NULL) {
            rmpi_obj_t *o = a->pin;
            a->pin = NULL;
            o->pins--;
            rmpi__obj_maybe_free_locked(o);
        }
    }
    if (t->owner == rmpi__rt.rank) {
        for (int i = 0; i < t->nargs; i++) {
            rmpi_targ_t *a = &t->args[i];
            if (a->type != RMPI_ARG_REF || rmpi_oid_owner(a->id) != rmpi__rt.rank)
                continue;
            rmpi_obj_t *o = a->obj;
            if (o != NULL && o->task_refs > 0) {
                o->task_refs--;
                rmpi__obj_maybe_free_locked(o);
            }
        }
    }
}

static void fail_results_locked(rmpi_task_s *t, int status, const char *msg)
{
    for (int i = 0; i < t->nret; i++) {
        rmpi_obj_t *o = rmpi__obj_find(rmpi_oid_make(t->owner, i, t->seq));
        if (o == NULL || o->state != RMPI_OBJ_PENDING)
            continue;
        rmpi__obj_fail(o, status, msg);
        rmpi__obj_settled_locked(o);
    }
}

/* Owner: the task's results are settled; drop its hold on its arguments, free it. */
static void retire_locked(rmpi_task_s *t)
{
    release_args_locked(t);
    if (t->dest >= 0) /* placed: it counted in the load of its rank */
        atomic_fetch_sub(&rmpi__rt.inflight[t->dest], 1);
    task_free(t);
}

/* Owner: the task ran here; its return buffers become the objects. */
static void complete_local_locked(rmpi_task_s *t, int status, const char *msg)
{
    if (status != RMPI_OK) {
        fail_results_locked(t, status, msg);
    } else {
        for (int i = 0; i < t->nret; i++) {
            rmpi_obj_t *o = rmpi__obj_find(rmpi_oid_make(t->owner, i, t->seq));
            if (o == NULL || o->state != RMPI_OBJ_PENDING)
                continue;
            if (t->rets[i].data == NULL)
                rmpi__store_alloc(0, 1, &t->rets[i].data);
            o->data = t->rets[i].data;
            o->size = t->rets[i].size;
            t->rets[i].data = NULL;
            o->state = RMPI_OBJ_READY;
            o->holder = rmpi__rt.rank;
            rmpi__obj_settled_locked(o);
        }
    }
    retire_locked(t);
}

/* Executor: send the completion of another rank's task back to its owner. */
static void send_done_locked(rmpi_task_s *t, int status, const char *msg)
{
    size_t len = sizeof(rmpi_wire_done_t), mlen = 0;

    if (status != RMPI_OK) {
        mlen = strlen(msg);
        len += RMPI_ALIGN_UP(mlen, 8);
    } else {
        for (int i = 0; i < t->nret; i++) {
            len += sizeof(rmpi_wire_ret_t);
            if (t->rets[i].size <= rmpi__rt.inline_max)
                len += RMPI_ALIGN_UP(t->rets[i].size, 8);
        }
    }
    char *b = rmpi__rec_alloc(t->owner, REC_DONE, len);
    if (b == NULL)
        return; /* logged; the owner learns nothing, as if this rank died */
    rmpi_wire_done_t d = {t->seq, t->nret, 0, status, (uint32_t)mlen, 0};
    memcpy(b, &d, sizeof(d));
    char *p = b + sizeof(d);
    if (status != RMPI_OK) {
        memcpy(p, msg, mlen);
    } else {
        for (int i = 0; i < t->nret; i++) {
            rmpi_tret_t *r = &t->rets[i];
            rmpi_wire_ret_t w = {RET_INLINE, RMPI_MEM_HOST, 0, 0, r->size};
            if (r->size > rmpi__rt.inline_max) {
                /* Large: stays here as the primary copy; the owner learns where.  A
                 * task here may already wait for it (an entry made by its argument). */
                rmpi_oid_t id = rmpi_oid_make(t->owner, i, t->seq);
                rmpi_obj_t *o = rmpi__obj_find(id);
                if (o == NULL)
                    o = rmpi__obj_create(id);
                if (o != NULL && o->state == RMPI_OBJ_PENDING) {
                    if (o->waiters != NULL)
                        atomic_fetch_add_explicit(&rmpi__rt.args_forwarded, 1,
                                                  memory_order_relaxed);
                    o->state = RMPI_OBJ_READY;
                    o->primary_here = 1;
                    o->resolving = 0;
                    o->holder = rmpi__rt.rank;
                    o->data = r->data;
                    o->size = r->size;
                    r->data = NULL;
                    rmpi__obj_settled_locked(o);
                }
                w.kind = RET_AT;
                memcpy(p, &w, sizeof(w));
                p += sizeof(w);
            } else {
                memcpy(p, &w, sizeof(w));
                p += sizeof(w);
                if (r->size != 0)
                    memcpy(p, r->data, r->size);
                p += RMPI_ALIGN_UP(r->size, 8);
            }
        }
    }
    rmpi__rec_commit(b);
}

/* Executor: the ranks that asked for results of t (REC_SUB) get them now, before
 * the owner does: the task that waits for them must not wait for two trips. */
static void send_subs_locked(rmpi_task_s *t, int status, const char *msg)
{
    for (int k = 0; k < t->nsubs; k++) {
        rmpi_tsub_t *s = &t->subs[k];
        rmpi_oid_t id = rmpi_oid_make(t->owner, s->index, t->seq);
        rmpi_tret_t *r = &t->rets[s->index];
        if (status != RMPI_OK)
            rmpi__obj_send_resolved(s->rank, id, status, msg, NULL, 0, -1);
        else /* the bytes, or for a large one "at this rank" (send_done_locked keeps it) */
            rmpi__obj_send_resolved(s->rank, id, RMPI_OK, NULL, r->data != NULL ? r->data : "",
                                    r->size, rmpi__rt.rank);
    }
}

/* Executor: tasks here that subscribed to a small result of t (subscribe_locked)
 * take it now instead of asking the owner. */
static void settle_local_locked(rmpi_task_s *t, int status, const char *msg)
{
    for (int i = 0; i < t->nret; i++) {
        rmpi_obj_t *o = rmpi__obj_find(rmpi_oid_make(t->owner, i, t->seq));
        if (o == NULL || o->owned || o->state != RMPI_OBJ_PENDING)
            continue;
        o->resolving = 0;
        o->holder = -1;
        atomic_fetch_add_explicit(&rmpi__rt.args_forwarded, 1, memory_order_relaxed);
        if (status != RMPI_OK) {
            rmpi__obj_fail(o, status, msg);
        } else {
            rmpi_tret_t *r = &t->rets[i];
            if (r->data == NULL && rmpi__store_alloc(0, 1, &r->data) != RMPI_OK) {
                rmpi__obj_fail(o, RMPI_ERR_NO_MEMORY, "out of memory for a result");
            } else {
                o->data = r->data;
                o->size = r->size;
                o->holder = rmpi__rt.rank;
                o->state = RMPI_OBJ_READY;
                r->data = NULL;
            }
        }
        rmpi__obj_settled_locked(o);
    }
}

/* The task is over (ran, crashed, or a dependency failed): report and free it. */
void rmpi__task_finish_locked(rmpi_task_s *t, int status, const char *msg)
{
    if (t->owner == rmpi__rt.rank) {
        complete_local_locked(t, status, msg);
        return;
    }
    rmpi_idmap_del(&rmpi__rt.exec_tasks, (uint64_t)t->owner, t->seq);
    release_args_locked(t);
    send_subs_locked(t, status, msg);
    send_done_locked(t, status, msg);
    if (t->local_subs)
        settle_local_locked(t, status, msg);
    task_free(t);
}

/* ------------------------------------------------------------------------------
 * Argument resolution (executing side) and dispatch (owner side)
 * ------------------------------------------------------------------------------ */

/*
 * Queue a task on this rank's executors.  On the progress thread the push waits
 * until the pass has sent its messages: an executor woken first would take the core
 * (a rank often has one) from the progress thread before it sends the task that
 * another rank is waiting for, serialising the two ranks' work.
 */
static rmpi_xnode_t *deferred_head, *deferred_tail; /* progress thread only */

void rmpi__task_queue(rmpi_xnode_t *n)
{
    if (!rmpi__tp_on_progress_thread()) {
        rmpi__exec_push(n);
        return;
    }
    n->next = NULL;
    if (deferred_tail != NULL)
        deferred_tail->next = n;
    else
        deferred_head = n;
    deferred_tail = n;
    deferred_n++;
}

void rmpi__task_queue_flush(void)
{
    rmpi_xnode_t *n = deferred_head, *next;

    deferred_head = deferred_tail = NULL;
    deferred_n = 0;
    for (; n != NULL; n = next) {
        next = n->next;
        rmpi__exec_push(n);
    }
}

static void exec_ready_locked(rmpi_task_s *t)
{
    if (t->kind == TK_CREATE || t->kind == TK_CALL) {
        rmpi__actor_deliver_locked(t); /* in order, behind the constructor */
        return;
    }
    if (t->dep_status != RMPI_OK) {
        rmpi__task_finish_locked(t, t->dep_status, t->dep_msg);
        return;
    }
    rmpi__task_queue(&t->xn);
}

static void exec_dep_fire(rmpi_waitnode_t *n, rmpi_obj_t *o)
{
    rmpi_targ_t *a = (rmpi_targ_t *)((char *)n - offsetof(rmpi_targ_t, wn));
    rmpi_task_s *t = a->task;

    if (o->state == RMPI_OBJ_FAILED) {
        dep_fail(t, o->status, o->errmsg);
    } else {
        a->data = o->data;
        a->size = o->size;
    }
    if (--t->deps == 0)
        exec_ready_locked(t);
}

static rmpi_task_s *exec_task_find_locked(int owner, uint64_t seq)
{
    return rmpi_idmap_get(&rmpi__rt.exec_tasks, (uint64_t)owner, seq);
}

/*
 * An argument still being made by a task on rank `producer`: have that rank send
 * it here when the task ends (one trip), rather than the owner after it heard (two).
 * Here, the producing task's end settles it (settle_local_locked).  Where the task
 * is not known, the owner is asked as usual.
 */
static void subscribe_locked(rmpi_obj_t *o, int producer)
{
    if (o->owned || o->state != RMPI_OBJ_PENDING || o->resolving ||
        producer == rmpi_oid_owner(o->id))
        return;
    if (producer == rmpi__rt.rank) {
        rmpi_task_s *p = exec_task_find_locked(rmpi_oid_owner(o->id), o->id.lo);
        if (p == NULL)
            return;
        p->local_subs = 1;
    } else {
        rmpi_wire_id_t id = {o->id.hi, o->id.lo};
        rmpi__rec_send(producer, REC_SUB, &id, sizeof(id));
    }
    o->resolving = 1;
    o->holder = producer;
}

/* Make every ref argument's bytes local (pinned), then queue the task. */
static void acquire_args_locked(rmpi_task_s *t)
{
    t->deps = 1; /* held until the loop ends */
    for (int i = 0; i < t->nargs; i++) {
        rmpi_targ_t *a = &t->args[i];
        a->task = t;
        if (a->type != RMPI_ARG_REF || a->kind == ARGK_VALUE || a->kind == ARGK_INLINE)
            continue;
        rmpi_obj_t *o = rmpi__obj_find(a->id);
        if (o == NULL) {
            int owner = rmpi_oid_owner(a->id);
            if (owner == rmpi__rt.rank || (a->kind == ARGK_AT && a->holder == rmpi__rt.rank)) {
                char msg[160];
                snprintf(msg, sizeof(msg), "argument %d: object %d:%llu was released", i,
                         owner, (unsigned long long)a->id.lo);
                dep_fail(t, RMPI_ERR_REF_RELEASED, msg);
                continue;
            }
            o = rmpi__obj_create(a->id);
            if (o == NULL) {
                dep_fail(t, RMPI_ERR_NO_MEMORY, "out of memory resolving an argument");
                continue;
            }
            if (a->kind == ARGK_AT) {
                o->state = RMPI_OBJ_READY;
                o->holder = a->holder;
                o->size = a->size;
            }
        }
        o->pins++;
        a->pin = o;
        if (o->state == RMPI_OBJ_FAILED) {
            dep_fail(t, o->status, o->errmsg);
        } else if (o->data != NULL) {
            a->data = o->data;
            a->size = o->size;
        } else {
            t->deps++;
            a->wn.want_data = 1;
            a->wn.fire = exec_dep_fire;
            rmpi__obj_wait(o, &a->wn);
            if (a->kind == ARGK_PENDING) {
                subscribe_locked(o, a->holder);
            } else if (a->kind == ARGK_PUSHED && o->state == RMPI_OBJ_PENDING && !o->owned &&
                       !o->resolving) {
                o->resolving = 1; /* the owner sends it */
                o->holder = a->holder;
            }
            rmpi__obj_ensure_data_locked(o); /* asks the owner unless subscribed */
        }
    }
    if (--t->deps == 0)
        exec_ready_locked(t);
}

/* Rank with the most bytes of large arguments this rank knows about, or -1. */
static int locality_rank_locked(rmpi_task_s *t)
{
    int best = -1;
    size_t best_bytes = 0;

    for (int i = 0; i < t->nargs; i++) {
        rmpi_targ_t *a = &t->args[i];
        if (a->type != RMPI_ARG_REF || rmpi_oid_owner(a->id) != rmpi__rt.rank)
            continue;
        rmpi_obj_t *o = a->obj;
        if (o == NULL || o->state != RMPI_OBJ_READY || o->size <= rmpi__rt.inline_max)
            continue;
        int h = o->data != NULL ? rmpi__rt.rank : o->holder;
        size_t bytes = 0;
        for (int j = 0; j < t->nargs; j++) { /* few arguments: a quadratic tally is fine */
            rmpi_targ_t *b = &t->args[j];
            if (b->type != RMPI_ARG_REF || rmpi_oid_owner(b->id) != rmpi__rt.rank)
                continue;
            rmpi_obj_t *p = b->obj;
            if (p != NULL && p->state == RMPI_OBJ_READY && p->size > rmpi__rt.inline_max &&
                (p->data != NULL ? rmpi__rt.rank : p->holder) == h)
                bytes += p->size;
        }
        if (bytes > best_bytes && h >= 0 &&
            (uint64_t)rmpi__rt.ncpus[h] * 1000 >= t->cpus_milli) {
            best_bytes = bytes;
            best = h;
        }
    }
    return best;
}

/* Owner: the rank running the task that makes pending object o (this rank when it
 * runs here or waits here for its own arguments). */
static int producer_rank_locked(const rmpi_obj_t *o)
{
    rmpi_task_s *p = rmpi_idmap_get(&rmpi__rt.remote_tasks, 0, o->id.lo);
    return p != NULL ? p->dest : rmpi__rt.rank;
}

static long load_per_cpu(int r)
{
    return (long)rmpi__rank_load(r) * 1000 / (rmpi__rt.ncpus[r] > 0 ? rmpi__rt.ncpus[r] : 1);
}

/*
 * Owner: a rank for a task some of whose owned arguments are still being made.
 * When one rank makes all of them, that rank (its results then need no trip),
 * unless the scheduler's usual pick is less loaded: placement follows the
 * producers only while that keeps the ranks balanced, or a chain of tasks would
 * pile up where it began.  -1: no preference.
 */
static int pending_rank_locked(rmpi_task_s *t)
{
    int producer = -1;

    for (int i = 0; i < t->nargs; i++) {
        rmpi_targ_t *a = &t->args[i];
        if (a->type != RMPI_ARG_REF || rmpi_oid_owner(a->id) != rmpi__rt.rank)
            continue;
        rmpi_obj_t *o = a->obj;
        if (o == NULL || o->state != RMPI_OBJ_PENDING)
            continue;
        int r = producer_rank_locked(o);
        if (producer >= 0 && r != producer)
            return -1;
        producer = r;
    }
    if (producer < 0 || (uint64_t)rmpi__rt.ncpus[producer] * 1000 < t->cpus_milli)
        return -1;
    int alt = rmpi__place_choose(rmpi__rt.size, rmpi__rt.rank, rmpi__rt.ncpus, rmpi__rank_load,
                                 t->cpus_milli, &rng_state);
    if (alt < 0 || alt == producer || load_per_cpu(producer) <= load_per_cpu(alt))
        return producer;
    return alt;
}

/* An earlier argument of t is the same owned object: that one registered the push. */
static int pushed_before(const rmpi_task_s *t, int i)
{
    for (int j = 0; j < i; j++)
        if (t->args[j].type == RMPI_ARG_REF && t->args[j].obj == t->args[i].obj)
            return 1;
    return 0;
}

/* Encode the spec for a remote executor. */
static int send_task_locked(rmpi_task_s *t)
{
    size_t len = sizeof(rmpi_wire_task_t);

    for (int i = 0; i < t->nargs; i++) {
        rmpi_targ_t *a = &t->args[i];
        len += sizeof(rmpi_wire_arg_t);
        if (a->type != RMPI_ARG_REF) {
            len += RMPI_ALIGN_UP(a->size, 8);
        } else if (rmpi_oid_owner(a->id) == rmpi__rt.rank) {
            rmpi_obj_t *o = a->obj;
            if (o != NULL && o->data != NULL && o->size <= rmpi__rt.inline_max)
                len += RMPI_ALIGN_UP(o->size, 8);
        }
    }
    char *b = rmpi__rec_alloc(t->dest, REC_TASK, len);
    if (b == NULL)
        return RMPI_ERR_NO_MEMORY;
    rmpi_wire_task_t w;
    memset(&w, 0, sizeof(w));
    w.seq = t->seq;
    w.fn = t->fn;
    w.cpus_milli = t->cpus_milli;
    w.nargs = t->nargs;
    w.nret = t->nret;
    w.kind = t->kind;
    w.max_conc = t->max_conc;
    w.actor_hi = t->actor.hi;
    w.actor_lo = t->actor.lo;
    w.aseq = t->aseq;
    memcpy(b, &w, sizeof(w));
    char *p = b + sizeof(w);
    for (int i = 0; i < t->nargs; i++) {
        rmpi_targ_t *a = &t->args[i];
        rmpi_wire_arg_t wa;
        const void *payload = NULL;
        memset(&wa, 0, sizeof(wa));
        wa.type = a->type;
        wa.holder = -1;
        if (a->type != RMPI_ARG_REF) {
            wa.kind = ARGK_VALUE;
            wa.size = a->size;
            payload = a->data;
        } else {
            wa.id.hi = a->id.hi;
            wa.id.lo = a->id.lo;
            wa.kind = ARGK_FOREIGN;
            if (rmpi_oid_owner(a->id) == rmpi__rt.rank) {
                rmpi_obj_t *o = a->obj;
                if (o != NULL && o->data != NULL && o->size <= rmpi__rt.inline_max) {
                    wa.kind = ARGK_INLINE;
                    wa.size = o->size;
                    payload = o->data;
                } else if (o != NULL && o->state == RMPI_OBJ_READY) {
                    wa.kind = ARGK_AT;
                    wa.size = o->size;
                    wa.holder = o->data != NULL ? rmpi__rt.rank : o->holder;
                } else if (o != NULL && o->state == RMPI_OBJ_PENDING) {
                    int producer = producer_rank_locked(o);
                    if (producer != rmpi__rt.rank) {
                        wa.kind = ARGK_PENDING;
                        wa.holder = producer;
                    } else if (pushed_before(t, i) ||
                               rmpi__obj_push_locked(o, t->dest) == RMPI_OK) {
                        /* Made here: it follows the task there when it is, unasked
                         * (records to a rank are handled in order).  Else the executor
                         * asks.  (Once per object and task.) */
                        wa.kind = ARGK_PUSHED;
                        wa.holder = rmpi__rt.rank;
                    }
                }
            }
        }
        memcpy(p, &wa, sizeof(wa));
        p += sizeof(wa);
        if (payload != NULL && wa.size != 0)
            memcpy(p, payload, wa.size);
        if (wa.kind == ARGK_VALUE || wa.kind == ARGK_INLINE)
            p += RMPI_ALIGN_UP(wa.size, 8);
    }
    rmpi__rec_commit(b);
    return RMPI_OK;
}

/* Owner: place and send the task.  Its owned arguments are READY or FAILED, or,
 * with early dispatch, some may still be PENDING: the executor then waits for them
 * and gets them from the rank making them. */
static void dispatch_locked(rmpi_task_s *t, int fixed_rank)
{
    /* (Actor calls go to their host even then: the failure must take its place in
     * the caller's order there.) */
    for (int i = 0; i < t->nargs && t->dep_status == RMPI_OK && t->kind == TK_TASK; i++) {
        rmpi_targ_t *a = &t->args[i];
        if (a->type != RMPI_ARG_REF || rmpi_oid_owner(a->id) != rmpi__rt.rank)
            continue;
        rmpi_obj_t *o = a->obj;
        if (o != NULL && o->state == RMPI_OBJ_FAILED)
            dep_fail(t, o->status, o->errmsg);
    }
    if (t->dep_status != RMPI_OK) {
        /* Errors propagate: the results carry the dependency's error. */
        t->dest = -1; /* never placed */
        complete_local_locked(t, t->dep_status, t->dep_msg);
        return;
    }
    int dest = fixed_rank;
    if (dest < 0)
        dest = locality_rank_locked(t);
    if (dest < 0 && t->deps > 0)
        dest = pending_rank_locked(t);
    if (dest < 0)
        dest = rmpi__place_choose(rmpi__rt.size, rmpi__rt.rank, rmpi__rt.ncpus, rmpi__rank_load,
                                  t->cpus_milli, &rng_state);
    if (dest < 0)
        dest = rmpi__rt.rank; /* feasibility was checked at submit */
    t->dest = dest;
    atomic_fetch_add(&rmpi__rt.inflight[dest], 1);
    if (dest == rmpi__rt.rank) {
        acquire_args_locked(t);
        return;
    }
    if (rmpi_idmap_put(&rmpi__rt.remote_tasks, 0, t->seq, t) != 0) {
        complete_local_locked(t, RMPI_ERR_NO_MEMORY, "out of memory placing the task");
    } else if (send_task_locked(t) != RMPI_OK) {
        rmpi_idmap_del(&rmpi__rt.remote_tasks, 0, t->seq);
        complete_local_locked(t, RMPI_ERR_NO_MEMORY, "out of memory sending the task");
    }
}

static void submit_dep_fire(rmpi_waitnode_t *n, rmpi_obj_t *o)
{
    rmpi_targ_t *a = (rmpi_targ_t *)((char *)n - offsetof(rmpi_targ_t, wn));
    rmpi_task_s *t = a->task;

    if (--t->deps == 0)
        dispatch_locked(t, t->dest);
}

/* ------------------------------------------------------------------------------
 * Submission
 * ------------------------------------------------------------------------------ */

static size_t arg_value_size(const rmpi_arg_t *a)
{
    switch (a->type) {
    case RMPI_ARG_BYTES: return a->u.bytes.size;
    case RMPI_ARG_I64:
    case RMPI_ARG_F64: return 8;
    case RMPI_ARG_ACTOR: return sizeof(rmpi_actor_t);
    default: return 0;
    }
}

static int check_submit(const char *fn, const rmpi_arg_t *args, int nargs,
                        const rmpi_opts_t *opts, int *fidx, int *nret, uint32_t *milli,
                        int *rank, size_t *blob)
{
    if (fn == NULL || nargs < 0 || nargs > 65535 || (nargs > 0 && args == NULL))
        return RMPI_ERR_INVALID_ARG;
    *fidx = rmpi__name_lookup(rmpi__rt.fns, rmpi__rt.nfns, sizeof(rmpi_fentry_t), fn);
    if (*fidx < 0) {
        rmpi_info(CORE, "submit: no remote function '%s' is registered", fn);
        return RMPI_ERR_UNKNOWN_FUNCTION;
    }
    int want = rmpi__rt.fns[*fidx].nargs;
    if (want != RMPI_NARGS_ANY && want != nargs) {
        rmpi_info(CORE, "submit: '%s' takes %d argument(s), got %d", fn, want, nargs);
        return RMPI_ERR_NARGS;
    }
    *nret = 1;
    *milli = 1000;
    *rank = RMPI_ANY_RANK;
    if (opts != NULL) {
        const uint64_t known = RMPI_OPT_NUM_RETURNS | RMPI_OPT_CPUS | RMPI_OPT_GPUS |
                               RMPI_OPT_MAX_RETRIES | RMPI_OPT_RANK;
        if (opts->field_mask & ~known)
            return RMPI_ERR_INVALID_ARG;
        if (opts->field_mask & RMPI_OPT_NUM_RETURNS) {
            if (opts->num_returns < 1 || opts->num_returns > RMPI_MAX_RETURNS)
                return RMPI_ERR_INVALID_ARG;
            *nret = opts->num_returns;
        }
        if (opts->field_mask & RMPI_OPT_CPUS) {
            if (!isfinite(opts->cpus) || opts->cpus < 0 || opts->cpus > 1e6)
                return RMPI_ERR_INVALID_ARG;
            *milli = (uint32_t)llround(opts->cpus * 1000);
        }
        if (opts->field_mask & RMPI_OPT_GPUS) {
            if (!isfinite(opts->gpus) || opts->gpus < 0)
                return RMPI_ERR_INVALID_ARG;
            if (opts->gpus > 0) {
                rmpi_info(CORE, "submit: '%s' asks for %g GPU(s); no rank has GPUs", fn,
                          opts->gpus);
                return RMPI_ERR_RESOURCES;
            }
        }
        if ((opts->field_mask & RMPI_OPT_MAX_RETRIES) && opts->max_retries < 0)
            return RMPI_ERR_INVALID_ARG;
        if (opts->field_mask & RMPI_OPT_RANK) {
            if (opts->rank != RMPI_ANY_RANK && (opts->rank < 0 || opts->rank >= rmpi__rt.size))
                return RMPI_ERR_INVALID_RANK;
            *rank = opts->rank;
        }
    }
    uint64_t have = (uint64_t)(*rank >= 0 ? rmpi__rt.ncpus[*rank] : rmpi__rt.max_cpus) * 1000;
    if (*milli > have) {
        rmpi_info(CORE, "submit: '%s' asks for %.3f cpus; %s has %llu", fn, *milli / 1000.0,
                  *rank >= 0 ? "that rank" : "the largest rank", (unsigned long long)have / 1000);
        return RMPI_ERR_RESOURCES;
    }
    return rmpi__task_check_args(args, nargs, blob);
}

int rmpi__task_check_args(const rmpi_arg_t *args, int nargs, size_t *blob)
{
    if (nargs < 0 || nargs > 65535 || (nargs > 0 && args == NULL))
        return RMPI_ERR_INVALID_ARG;
    *blob = 0;
    for (int i = 0; i < nargs; i++) {
        const rmpi_arg_t *a = &args[i];
        switch (a->type) {
        case RMPI_ARG_BYTES:
            if (a->u.bytes.data == NULL && a->u.bytes.size != 0)
                return RMPI_ERR_INVALID_ARG;
            break;
        case RMPI_ARG_I64:
        case RMPI_ARG_F64:
        case RMPI_ARG_ACTOR:
            break;
        case RMPI_ARG_REF: {
            rmpi_oid_t id = rmpi__oid_of(a->u.ref);
            if (!rmpi_oid_valid(id) || rmpi_oid_owner(id) >= rmpi__rt.size)
                return RMPI_ERR_UNKNOWN_REF;
            break;
        }
        default:
            return RMPI_ERR_INVALID_ARG;
        }
        *blob += RMPI_ALIGN_UP(arg_value_size(a), 8);
    }
    return RMPI_OK;
}

rmpi_task_s *rmpi__task_build(const rmpi_arg_t *args, int nargs, int nret, size_t blob)
{
    rmpi_task_s *t = task_alloc(nargs, nret, blob);
    if (t == NULL)
        return NULL;
    t->owner = rmpi__rt.rank;
    size_t off = 0;
    for (int i = 0; i < nargs; i++) {
        rmpi_targ_t *a = &t->args[i];
        const rmpi_arg_t *u = &args[i];
        a->type = (uint8_t)u->type;
        a->task = t;
        if (u->type == RMPI_ARG_REF) {
            a->kind = ARGK_FOREIGN;
            a->id = rmpi__oid_of(u->u.ref);
            continue;
        }
        const void *src = u->type == RMPI_ARG_BYTES ? u->u.bytes.data : (const void *)&u->u;
        a->kind = ARGK_VALUE;
        a->size = arg_value_size(u);
        a->data = t->blob + off;
        if (a->size != 0)
            memcpy(t->blob + off, src, a->size);
        off += RMPI_ALIGN_UP(a->size, 8);
    }
    return t;
}

int rmpi__task_submit(rmpi_task_s *t, int rank, rmpi_ref_t *refs_out)
{
    int rc = RMPI_OK;

    t->dest = rank;
    rmpi__store_lock();
    /* Hold the owned arguments; a released one is an error and nothing is submitted. */
    for (int i = 0; i < t->nargs; i++) {
        rmpi_targ_t *a = &t->args[i];
        if (a->type != RMPI_ARG_REF || rmpi_oid_owner(a->id) != rmpi__rt.rank)
            continue;
        rmpi_obj_t *o = rmpi__obj_lookup_locked(a->id, &rc);
        if (o == NULL) {
            for (int j = 0; j < i; j++) {
                rmpi_targ_t *b = &t->args[j];
                if (b->type == RMPI_ARG_REF && rmpi_oid_owner(b->id) == rmpi__rt.rank)
                    b->obj->task_refs--;
            }
            rmpi__store_unlock();
            free(t);
            return rc;
        }
        o->task_refs++;
        a->obj = o; /* alive while task_refs holds it */
        if (o->state == RMPI_OBJ_PENDING)
            t->deps++;
    }
    t->seq = atomic_fetch_add(&rmpi__rt.next_seq, 1);
    if (t->kind == TK_CALL)
        t->aseq = rmpi__actor_next_seq_locked(t->actor);
    for (int i = 0; i < t->nret; i++) {
        rmpi_obj_t *o = rmpi__obj_create(rmpi_oid_make(rmpi__rt.rank, i, t->seq));
        if (o == NULL) {
            rmpi__store_unlock();
            rmpi_error(CORE, "out of memory creating result objects");
            return RMPI_ERR_NO_MEMORY; /* unrecoverable state; reported loudly */
        }
        o->owned = 1;
        o->state = RMPI_OBJ_PENDING;
        o->user_refs = 1;
        refs_out[i] = rmpi__ref_of(o->id);
    }
    atomic_fetch_add(&rmpi__rt.owned_objects, (uint64_t)t->nret);
    atomic_fetch_add(&rmpi__rt.tasks_submitted, 1);
    if (t->deps > 0 && !rmpi__cfg.early_dispatch) {
        /* Placed when the owned arguments are ready. */
        for (int i = 0; i < t->nargs; i++) {
            rmpi_targ_t *a = &t->args[i];
            if (a->type != RMPI_ARG_REF || rmpi_oid_owner(a->id) != rmpi__rt.rank)
                continue;
            rmpi_obj_t *o = a->obj;
            if (o->state == RMPI_OBJ_PENDING) {
                a->wn.want_data = 0;
                a->wn.fire = submit_dep_fire;
                rmpi__obj_wait(o, &a->wn);
            }
        }
    } else {
        dispatch_locked(t, rank); /* with early dispatch the executor waits */
    }
    rmpi__store_unlock();
    rmpi__tp_help_backlog(64);
    return RMPI_OK;
}

int rmpi_submit(const char *fn, const rmpi_arg_t *args, int nargs, const rmpi_opts_t *opts,
                rmpi_ref_t *refs_out)
{
    int fidx, nret, rank, rc;
    uint32_t milli;
    size_t blob;

    if (!rmpi__rt.initialized)
        return RMPI_ERR_NOT_INITIALIZED;
    if (refs_out == NULL)
        return RMPI_ERR_INVALID_ARG;
    rc = check_submit(fn, args, nargs, opts, &fidx, &nret, &milli, &rank, &blob);
    if (rc != RMPI_OK)
        return rc;
    rmpi_task_s *t = rmpi__task_build(args, nargs, nret, blob);
    if (t == NULL)
        return RMPI_ERR_NO_MEMORY;
    t->kind = TK_TASK;
    t->fn = (uint32_t)fidx;
    t->cpus_milli = milli;
    t->xn.cpus_milli = milli;
    return rmpi__task_submit(t, rank, refs_out);
}

rmpi_arg_t *rmpi__va_args(int nargs, va_list ap, rmpi_arg_t *stack)
{
    rmpi_arg_t *args = stack;

    if (nargs < 0 || nargs > 65535)
        return NULL;
    if (nargs > RMPI_VA_STACK && (args = malloc((size_t)nargs * sizeof(*args))) == NULL)
        return NULL;
    for (int i = 0; i < nargs; i++)
        args[i] = va_arg(ap, rmpi_arg_t);
    return args;
}

rmpi_ref_t rmpi_call(const char *fn, int nargs, ...)
{
    rmpi_arg_t stack[RMPI_VA_STACK], *args;
    rmpi_ref_t ref = RMPI_REF_NIL;
    va_list ap;
    int rc;

    va_start(ap, nargs);
    args = rmpi__va_args(nargs, ap, stack);
    va_end(ap);
    rc = args == NULL ? RMPI_ERR_INVALID_ARG : rmpi_submit(fn, args, nargs, NULL, &ref);
    if (args != stack)
        free(args);
    if (rc == RMPI_OK)
        return ref;
    /* The error must not get lost: it becomes the value of the ref. */
    char msg[320];
    snprintf(msg, sizeof(msg), "rmpi_call(\"%s\", %d): %s", fn ? fn : "(null)", nargs,
             rmpi_status_string(rc));
    return rmpi__error_ref(rc, msg);
}

rmpi_ref_t rmpi__error_ref(int rc, const char *msg)
{
    rmpi_ref_t ref = RMPI_REF_NIL;

    if (!rmpi__rt.initialized)
        return ref;
    rmpi_oid_t id = rmpi_oid_make(rmpi__rt.rank, 0, atomic_fetch_add(&rmpi__rt.next_seq, 1));
    rmpi__store_lock();
    rmpi_obj_t *o = rmpi__obj_create(id);
    if (o != NULL) {
        o->owned = 1;
        o->user_refs = 1;
        rmpi__obj_fail(o, rc, msg);
        atomic_fetch_add(&rmpi__rt.owned_objects, 1);
        ref = rmpi__ref_of(id);
    }
    rmpi__store_unlock();
    return ref;
}

/* ------------------------------------------------------------------------------
 * Execution
 * ------------------------------------------------------------------------------ */

static __thread sigjmp_buf            crash_jmp;
static RMPI_TLS volatile sig_atomic_t crash_armed;
static __thread volatile int          crash_sig;
static __thread void *volatile        crash_addr;
#define NCRASH 5
static struct sigaction               old_actions[NCRASH];
static const int                      crash_signals[NCRASH] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL,
                                                               SIGABRT};
static int                            crash_installed;
static RMPI_TLS int                   thread_mask_known;
static __thread sigset_t              thread_mask;

static void crash_handler(int sig, siginfo_t *si, void *uc)
{
    if (crash_armed) {
        crash_armed = 0;
        crash_sig = sig;
        crash_addr = si != NULL ? si->si_addr : NULL;
        siglongjmp(crash_jmp, 1);
    }
    for (int i = 0; i < NCRASH; i++) {
        if (crash_signals[i] != sig)
            continue;
        struct sigaction *old = &old_actions[i];
        if ((old->sa_flags & SA_SIGINFO) && old->sa_sigaction != NULL) {
            old->sa_sigaction(sig, si, uc);
            return;
        }
        if (old->sa_handler != SIG_DFL && old->sa_handler != SIG_IGN) {
            old->sa_handler(sig);
            return;
        }
    }
    signal(sig, SIG_DFL); /* returning re-runs the fault with the default action */
}

int rmpi__crash_init(void)
{
    struct sigaction sa;

    if (!rmpi__cfg.crash_handler || crash_installed)
        return RMPI_OK;
    memset(&sa, 0, sizeof(sa));
    sa.sa_sigaction = crash_handler;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    for (int i = 0; i < NCRASH; i++)
        sigaction(crash_signals[i], &sa, &old_actions[i]);
    crash_installed = 1;
    return RMPI_OK;
}

void rmpi__crash_fini(void)
{
    if (!crash_installed)
        return;
    for (int i = 0; i < NCRASH; i++)
        sigaction(crash_signals[i], &old_actions[i], NULL);
    crash_installed = 0;
}

static const char *signal_text(int sig)
{
    switch (sig) {
    case SIGSEGV: return "SIGSEGV (invalid memory access)";
    case SIGBUS: return "SIGBUS (bus error)";
    case SIGFPE: return "SIGFPE (arithmetic error)";
    case SIGILL: return "SIGILL (illegal instruction)";
    case SIGABRT: return "SIGABRT (abort, e.g. a failed assert)";
    default: return "a signal";
    }
}

static int run_body(rmpi_task_s *t)
{
    if (t->kind != TK_TASK)
        return rmpi__actor_run(t);
    rmpi_fentry_t *f = &rmpi__rt.fns[t->fn];
    /* The estimate serves rmpi__task_run_awaited_locked only: the owner's own tasks. */
    if (!rmpi__cfg.caller_runs || t->owner != rmpi__rt.rank)
        return f->fn(t);
    double t0 = rmpi_now();
    int rc = f->fn(t);
    rmpi__note_run_us(&f->run_us, rmpi_now() - t0);
    return rc;
}

void rmpi__task_run(rmpi_xnode_t *n)
{
    rmpi_task_s *volatile t = (rmpi_task_s *)n;
    rmpi_task_s *prev = cur_task;
    volatile int rc = RMPI_OK, crashed = 0;
    char *volatile msg = NULL;
    char what[300];
    const char *kind = t->kind == TK_TASK ? "function" : t->kind == TK_CREATE ? "constructor"
                                                                                : "method";

    cur_task = t;
    if (crash_installed) {
        /* The signal mask is not saved per task (a system call each): the thread's
         * mask, taken once, is put back after a crash (the handler blocked the signal). */
        if (!thread_mask_known) {
            pthread_sigmask(SIG_SETMASK, NULL, &thread_mask);
            thread_mask_known = 1;
        }
        if (sigsetjmp(crash_jmp, 0) == 0) {
            crash_armed = 1;
            rc = run_body(t);
            crash_armed = 0;
        } else {
            pthread_sigmask(SIG_SETMASK, &thread_mask, NULL);
            rc = RMPI_ERR_TASK_CRASHED;
            crashed = 1;
            msg = fmt_msg("%s '%s' on rank %d crashed: %s at address %p", kind,
                          rmpi__task_what(t, what, sizeof(what)), rmpi__rt.rank,
                          signal_text(crash_sig), crash_addr);
            rmpi_warn(CORE, "%s; the rank goes on, but the task's memory may be corrupt",
                      msg ? msg : "a task crashed");
        }
    } else {
        rc = run_body(t);
    }
    cur_task = prev;
    if (t->kind == TK_DTOR) {
        rmpi__store_lock();
        rmpi__actor_after_run_locked(t, crashed, msg);
        rmpi__store_unlock();
        free(msg);
        free(t);
        return;
    }
    atomic_fetch_add(&rmpi__rt.tasks_executed, 1);

    int status = RMPI_OK;
    if (crashed) {
        status = RMPI_ERR_TASK_CRASHED;
    } else if (t->fail_msg != NULL || rc != RMPI_OK) {
        status = RMPI_ERR_TASK_FAILED;
        const char *name = rmpi__task_what(t, what, sizeof(what));
        if (t->fail_msg != NULL)
            msg = fmt_msg("%s '%s' on rank %d: %s", kind, name, rmpi__rt.rank, t->fail_msg);
        else
            msg = fmt_msg("%s '%s' on rank %d returned %s", kind, name, rmpi__rt.rank,
                          rmpi_status_string(rc));
    }
    rmpi__exec_task_ending();
    rmpi__tp_hold_wakes(); /* this thread sends what it posts below, or wakes */
    rmpi__store_lock();
    if (t->kind != TK_TASK) {
        /* The actor learns how it went; a crash kills it and the call reports that. */
        rmpi__actor_after_run_locked(t, crashed, msg);
        if (crashed)
            status = RMPI_ERR_ACTOR_DIED;
    }
    rmpi__task_finish_locked(t, status, msg != NULL ? msg : rmpi_status_string(status));
    rmpi__store_unlock();
    free(msg);
    /* Tasks or results this one released for other ranks wait in the progress
     * thread's queue: send them now, on this thread when the worker is free, else
     * let that thread run before this one starts the next task on what is often the
     * same core.  Measured with Task Bench's stencil: without this, the ranks took
     * turns instead of running together.  (Not for plain completions: those batch.) */
    int urgent = rmpi__msg_take_urgent();
    if (rmpi__tp_release_wakes(urgent) < 0 && urgent)
        sched_yield();
}

void rmpi__task_drop(rmpi_xnode_t *n)
{
    rmpi_task_s *t = (rmpi_task_s *)n;
    if (t->kind == TK_DTOR) { /* a destructor still runs */
        rmpi__task_run(n);
        return;
    }
    rmpi__store_lock();
    rmpi__task_finish_locked(t, RMPI_ERR_SHUTDOWN, "runtime shut down before the task ran");
    rmpi__store_unlock();
}

/* ------------------------------------------------------------------------------
 * Protocol handlers (progress thread)
 * ------------------------------------------------------------------------------ */

int rmpi__task_wire_check(const void *body, size_t len, int src, size_t *blob_out)
{
    rmpi_wire_task_t w;
    const char *p = body, *end = p + len;
    size_t blob = 0;

    if (len < sizeof(w))
        return -1;
    memcpy(&w, p, sizeof(w));
    p += sizeof(w);
    for (int i = 0; i < w.nargs; i++) {
        rmpi_wire_arg_t a;
        if ((size_t)(end - p) < sizeof(a))
            return -1;
        memcpy(&a, p, sizeof(a));
        p += sizeof(a);
        if (a.kind == ARGK_VALUE || a.kind == ARGK_INLINE) {
            if (a.size > (size_t)(end - p))
                return -1;
            p += RMPI_ALIGN_UP(a.size, 8);
            blob += RMPI_ALIGN_UP(a.size, 8);
        } else if (a.kind == ARGK_AT || a.kind == ARGK_PENDING) {
            if (a.holder < 0 || a.holder >= rmpi__rt.size)
                return -1;
        } else if (a.kind == ARGK_PUSHED) {
            if (a.holder != src) /* only the owner, who sends the task, pushes */
                return -1;
        } else if (a.kind != ARGK_FOREIGN) {
            return -1;
        }
    }
    if (w.nret < 1 || w.nret > RMPI_MAX_RETURNS)
        return -1;
    if (w.kind == TK_TASK) {
        if (w.fn >= (uint32_t)rmpi__rt.nfns)
            return -1;
    } else if (w.kind == TK_CREATE || w.kind == TK_CALL) {
        uint32_t cls = (uint32_t)((w.actor_hi >> 8) & 0xffffff);
        if (cls >= (uint32_t)rmpi__rt.nclasses ||
            (w.kind == TK_CALL && w.fn >= (uint32_t)rmpi__rt.classes[cls].nmethods))
            return -1;
    } else {
        return -1;
    }
    *blob_out = blob;
    return 0;
}

void rmpi__task_handle_task(int src, const void *body, size_t len)
{
    rmpi_wire_task_t w;
    const char *p = body;
    size_t blob = 0;

    if (rmpi__task_wire_check(body, len, src, &blob) != 0)
        goto bad;
    memcpy(&w, p, sizeof(w));
    p += sizeof(w);
    rmpi_task_s *t = task_alloc(w.nargs, w.nret, blob);
    if (t == NULL) {
        rmpi_error(CORE, "out of memory for a task from rank %d", src);
        return;
    }
    t->seq = w.seq;
    t->owner = src;
    t->dest = rmpi__rt.rank;
    t->fn = w.fn;
    t->cpus_milli = w.cpus_milli;
    t->xn.cpus_milli = w.kind == TK_TASK ? w.cpus_milli : 0;
    t->kind = w.kind;
    t->max_conc = w.max_conc;
    t->actor.hi = w.actor_hi;
    t->actor.lo = w.actor_lo;
    t->aseq = w.aseq;
    size_t off = 0;
    for (int i = 0; i < w.nargs; i++) {
        rmpi_wire_arg_t a;
        rmpi_targ_t *ta = &t->args[i];
        memcpy(&a, p, sizeof(a));
        p += sizeof(a);
        ta->type = a.type;
        ta->kind = a.kind;
        ta->holder = a.holder;
        ta->id.hi = a.id.hi;
        ta->id.lo = a.id.lo;
        ta->size = a.size;
        ta->task = t;
        if (a.kind == ARGK_VALUE || a.kind == ARGK_INLINE) {
            if (a.size != 0)
                memcpy(t->blob + off, p, a.size);
            ta->data = t->blob + off;
            off += RMPI_ALIGN_UP(a.size, 8);
            p += RMPI_ALIGN_UP(a.size, 8);
        }
    }
    rmpi__store_lock();
    if (exec_task_find_locked(t->owner, t->seq) != NULL) {
        rmpi__store_unlock();
        task_free(t);
        goto bad;
    }
    if (rmpi_idmap_put(&rmpi__rt.exec_tasks, (uint64_t)t->owner, t->seq, t) != 0) {
        rmpi__task_finish_locked(t, RMPI_ERR_NO_MEMORY, "out of memory registering the task");
        rmpi__store_unlock();
        return;
    }
    acquire_args_locked(t);
    rmpi__store_unlock();
    return;
bad:
    rmpi_error(CORE, "dropping a malformed task from rank %d", src);
}

void rmpi__task_handle_done(int src, const void *body, size_t len)
{
    rmpi_wire_done_t d;
    const char *p = body, *end = p + len;

    if (len < sizeof(d))
        goto bad;
    memcpy(&d, p, sizeof(d));
    p += sizeof(d);
    rmpi__store_lock();
    rmpi_task_s *t = rmpi_idmap_get(&rmpi__rt.remote_tasks, 0, d.seq);
    if (t == NULL || t->dest != src || d.nret != t->nret) {
        rmpi__store_unlock();
        rmpi_warn(CORE, "completion of unknown task %llu from rank %d ignored",
                  (unsigned long long)d.seq, src);
        return;
    }
    rmpi_idmap_del(&rmpi__rt.remote_tasks, 0, d.seq);
    if (d.status != RMPI_OK) {
        char *msg = NULL;
        if (d.msglen <= (size_t)(end - p))
            msg = fmt_msg("%.*s", (int)d.msglen, p);
        complete_local_locked(t, d.status, msg ? msg : rmpi_status_string(d.status));
        free(msg);
        rmpi__store_unlock();
        return;
    }
    int i;
    for (i = 0; i < d.nret; i++) {
        rmpi_wire_ret_t r;
        if ((size_t)(end - p) < sizeof(r))
            break;
        memcpy(&r, p, sizeof(r));
        p += sizeof(r);
        rmpi_obj_t *o = rmpi__obj_find(rmpi_oid_make(t->owner, i, t->seq));
        if (r.kind == RET_INLINE) {
            if (r.size > (size_t)(end - p))
                break;
            if (o != NULL && o->state == RMPI_OBJ_PENDING) {
                void *buf;
                if (rmpi__store_alloc(r.size, 1, &buf) != RMPI_OK) {
                    rmpi__obj_fail(o, RMPI_ERR_NO_MEMORY, "out of memory receiving a result");
                } else {
                    if (r.size != 0)
                        memcpy(buf, p, r.size);
                    o->data = buf;
                    o->size = r.size;
                    o->holder = rmpi__rt.rank;
                    o->state = RMPI_OBJ_READY;
                }
                rmpi__obj_settled_locked(o);
            }
            p += RMPI_ALIGN_UP(r.size, 8);
        } else if (o != NULL && o->state == RMPI_OBJ_PENDING) {
            o->size = r.size;
            o->holder = src;
            o->state = RMPI_OBJ_READY;
            rmpi__obj_settled_locked(o); /* frees at once (and tells src) if released */
        } else {
            rmpi_wire_id_t id = {rmpi_oid_make(t->owner, i, t->seq).hi, t->seq};
            rmpi__rec_send(src, REC_FREE, &id, sizeof(id));
        }
    }
    if (i < d.nret) /* what a truncated completion left pending fails rather than hangs */
        fail_results_locked(t, RMPI_ERR_INTERNAL, "malformed completion message");
    retire_locked(t);
    rmpi__store_unlock();
    return;
bad:
    rmpi_error(CORE, "dropping a malformed completion from rank %d", src);
}

/* Rank src waits for a result of a task here: send it when the task ends. */
void rmpi__task_handle_sub(int src, const void *body, size_t len)
{
    rmpi_oid_t id;

    if (rmpi__wire_id_read(body, len, &id) != 0) {
        rmpi_error(CORE, "dropping a malformed subscription from rank %d", src);
        return;
    }
    rmpi__store_lock();
    rmpi_task_s *t = exec_task_find_locked(rmpi_oid_owner(id), id.lo);
    int idx = rmpi_oid_index(id);
    if (t != NULL && idx < t->nret && t->nsubs == t->subcap) {
        int cap = t->subcap ? t->subcap * 2 : 2;
        rmpi_tsub_t *ns = realloc(t->subs, (size_t)cap * sizeof(*ns));
        if (ns != NULL) {
            t->subs = ns;
            t->subcap = cap;
        }
    }
    if (t != NULL && idx < t->nret && t->nsubs < t->subcap) {
        t->subs[t->nsubs++] = (rmpi_tsub_t){src, idx};
    } else {
        /* Over already (or not here yet, or no memory): the owner answers. */
        rmpi_wire_id_t w = {id.hi, id.lo};
        rmpi__rec_send(src, REC_SUB_MISS, &w, sizeof(w));
    }
    rmpi__store_unlock();
}

/* The rank asked by subscribe_locked does not have the task: ask the owner. */
void rmpi__task_handle_sub_miss(int src, const void *body, size_t len)
{
    rmpi_oid_t id;

    if (rmpi__wire_id_read(body, len, &id) != 0)
        return;
    rmpi__store_lock();
    rmpi_obj_t *o = rmpi__obj_find(id);
    if (o != NULL && !o->owned && o->state == RMPI_OBJ_PENDING && o->resolving &&
        o->holder == src) {
        o->resolving = 0;
        o->holder = -1;
        rmpi__obj_ensure_data_locked(o);
    }
    rmpi__store_unlock();
}

struct on_rank {
    int           rank;
    size_t        n, cap;
    rmpi_task_s **v;
};

static void take_if_on(void *v, void *arg)
{
    rmpi_task_s *t = v;
    struct on_rank *c = arg;

    if (t->dest != c->rank || c->n == c->cap)
        return;
    rmpi_idmap_del(&rmpi__rt.remote_tasks, 0, t->seq);
    c->v[c->n++] = t;
}

void rmpi__task_peer_failed_locked(int rank)
{
    /* Taken out of the table first, a few at a time: failing one may dispatch or
     * fail others, which changes the table. */
    for (;;) {
        rmpi_task_s *taken[64];
        struct on_rank c = {rank, 0, 64, taken};
        rmpi_idmap_foreach(&rmpi__rt.remote_tasks, take_if_on, &c);
        if (c.n == 0)
            break;
        for (size_t i = 0; i < c.n; i++) {
            rmpi_task_s *t = taken[i];
            char what[300];
            char *msg = fmt_msg("rank %d died while running '%s'", rank,
                                rmpi__task_what(t, what, sizeof(what)));
            complete_local_locked(t, RMPI_ERR_RANK_DIED, msg ? msg : "rank died");
            free(msg);
        }
    }
}

static void free_task_v(void *v, void *arg)
{
    (void)arg;
    task_free(v);
}

void rmpi__task_fini(void)
{
    rmpi__store_lock();
    rmpi_idmap_foreach(&rmpi__rt.remote_tasks, free_task_v, NULL);
    rmpi_idmap_clear(&rmpi__rt.remote_tasks);
    /* Tasks still waiting for arguments at shutdown belong to their waiters. */
    rmpi_idmap_clear(&rmpi__rt.exec_tasks);
    rmpi__store_unlock();
}

/* ------------------------------------------------------------------------------
 * Inside a task
 * ------------------------------------------------------------------------------ */

/*
 * Tasks run by the thread waiting for them.  A thread that waits in rmpi_get for a
 * result of a task of its own rank that sits in the executors' queue, not started,
 * runs that task itself: it would wait for it anyway, and the hand-over to an
 * executor and back (a wake-up, often on the same core) costs more than a short task
 * (single_client_tasks_sync, 1 rank: 9.2 -> 4.5 us per task).  Only the task it
 * waits for, only outside a task (a task's get lends its cpus instead), and only when
 * the function's recent tasks here took at most RMPI_CALLER_RUN_MAX_US and the get
 * has no timeout or one at least AWAITED_MIN_TIMEOUT_S away (10,000 times that): a
 * get that polls must not be held up by the task.  Actor calls likewise, those that
 * rmpi__actor_call_inline_ok allows.
 */
#define AWAITED_MIN_TIMEOUT_S 1.0

static RMPI_TLS uint64_t awaited_seq;
static RMPI_TLS int      awaited_kind; /* TK_*: of the task is_awaited looked at */

/* Under the executors' lock: only fields fixed before the task was queued. */
static int is_awaited(const rmpi_xnode_t *n)
{
    const rmpi_task_s *t = (const rmpi_task_s *)n;
    if (t->owner != rmpi__rt.rank || t->seq != awaited_seq)
        return 0;
    awaited_kind = t->kind;
    if (t->kind == TK_CALL)
        return rmpi__actor_call_inline_ok(t);
    return t->kind == TK_TASK &&
           atomic_load_explicit(&rmpi__rt.fns[t->fn].run_us, memory_order_relaxed) <=
               RMPI_CALLER_RUN_MAX_US;
}

int rmpi__task_run_awaited_locked(rmpi_oid_t id, double deadline)
{
    /* (Everything that rules it out before the store is unlocked: most gets.) */
    if (!rmpi__cfg.caller_runs || cur_task != NULL || rmpi__exec_on_executor() ||
        rmpi__tp_on_progress_thread() || rmpi_oid_owner(id) != rmpi__rt.rank ||
        rmpi__exec_queue_len() == 0 ||
        (deadline >= 0 && deadline - rmpi_now() < AWAITED_MIN_TIMEOUT_S))
        return 0;
    awaited_seq = id.lo;
    rmpi__store_unlock();
    if (rmpi__exec_run_one(is_awaited))
        atomic_fetch_add_explicit(awaited_kind == TK_CALL ? &rmpi__rt.calls_inline
                                                          : &rmpi__rt.tasks_inline,
                                  1, memory_order_relaxed);
    rmpi__store_lock();
    return 1;
}

void rmpi__task_note_wait(void)
{
    if (cur_task != NULL && cur_task->kind == TK_CALL)
        rmpi__actor_note_wait(cur_task);
}

rmpi_task_t *rmpi_task_current(void)
{
    return cur_task;
}

int rmpi_task_nargs(rmpi_task_t *t)
{
    return t != NULL ? t->nargs : RMPI_ERR_INVALID_ARG;
}

int rmpi_task_num_returns(rmpi_task_t *t)
{
    return t != NULL ? t->nret : RMPI_ERR_INVALID_ARG;
}

int rmpi_task_arg_type(rmpi_task_t *t, int i)
{
    if (t == NULL || i < 0 || i >= t->nargs)
        return RMPI_ERR_INVALID_ARG;
    return t->args[i].type;
}

int rmpi_task_arg(rmpi_task_t *t, int i, const void **data, size_t *size)
{
    if (t == NULL || data == NULL || size == NULL || i < 0 || i >= t->nargs)
        return RMPI_ERR_INVALID_ARG;
    *data = t->args[i].data;
    *size = t->args[i].size;
    return RMPI_OK;
}

static int scalar_arg(rmpi_task_t *t, int i, int type, const char *what, void *out)
{
    if (t == NULL)
        return RMPI_ERR_INVALID_ARG;
    if (i < 0 || i >= t->nargs)
        return rmpi_task_fail(t, "argument %d requested as %s, but the task has %d argument(s)",
                              i, what, t->nargs);
    rmpi_targ_t *a = &t->args[i];
    int ok = a->type == type ||
             ((a->type == RMPI_ARG_BYTES || a->type == RMPI_ARG_REF) && a->size == 8);
    if (!ok) {
        static const char *const names[] = {"?", "bytes", "an i64", "an f64", "a ref", "an actor"};
        return rmpi_task_fail(t, "argument %d is %s of %zu bytes, not %s", i,
                              a->type >= 1 && a->type <= 5 ? names[a->type] : "?", a->size, what);
    }
    memcpy(out, a->data, 8);
    return RMPI_OK;
}

int64_t rmpi_task_arg_i64(rmpi_task_t *t, int i)
{
    int64_t v = 0;
    if (scalar_arg(t, i, RMPI_ARG_I64, "an i64", &v) != RMPI_OK)
        return 0;
    return v;
}

double rmpi_task_arg_f64(rmpi_task_t *t, int i)
{
    double v = 0;
    if (scalar_arg(t, i, RMPI_ARG_F64, "an f64", &v) != RMPI_OK)
        return 0;
    return v;
}

int rmpi_task_arg_actor(rmpi_task_t *t, int i, rmpi_actor_t *out)
{
    if (t == NULL || out == NULL || i < 0 || i >= t->nargs)
        return RMPI_ERR_INVALID_ARG;
    if (t->args[i].type != RMPI_ARG_ACTOR || t->args[i].size != sizeof(*out))
        return RMPI_ERR_ARG_TYPE;
    memcpy(out, t->args[i].data, sizeof(*out));
    return RMPI_OK;
}

void *rmpi_task_return_buffer(rmpi_task_t *t, int i, size_t size)
{
    void *buf;
    int rc;

    if (t == NULL)
        return NULL;
    if (i < 0 || i >= t->nret) {
        rmpi_task_fail(t, "return value %d does not exist: the caller asked for %d", i, t->nret);
        return NULL;
    }
    rc = rmpi__store_alloc(size, 0, &buf);
    if (rc != RMPI_OK) {
        rmpi_task_fail(t, "cannot store a %zu-byte result: %s", size, rmpi_status_string(rc));
        return NULL;
    }
    if (t->rets[i].data != NULL)
        rmpi__store_free(t->rets[i].data, t->rets[i].size);
    t->rets[i].data = buf;
    t->rets[i].size = size;
    return buf;
}

int rmpi_task_return(rmpi_task_t *t, int i, const void *data, size_t size)
{
    if (t == NULL || (data == NULL && size != 0))
        return RMPI_ERR_INVALID_ARG;
    if (i < 0 || i >= t->nret) {
        rmpi_task_fail(t, "return value %d does not exist: the caller asked for %d", i, t->nret);
        return RMPI_ERR_RETURN_INDEX;
    }
    void *buf = rmpi_task_return_buffer(t, i, size);
    if (buf == NULL)
        return RMPI_ERR_STORE_FULL;
    if (size != 0)
        memcpy(buf, data, size);
    return RMPI_OK;
}

int rmpi_task_return_i64(rmpi_task_t *t, int i, int64_t v)
{
    return rmpi_task_return(t, i, &v, sizeof(v));
}

int rmpi_task_return_f64(rmpi_task_t *t, int i, double v)
{
    return rmpi_task_return(t, i, &v, sizeof(v));
}

int rmpi_task_fail(rmpi_task_t *t, const char *fmt, ...)
{
    va_list ap;
    char *s = NULL;

    if (t == NULL)
        return RMPI_ERR_NOT_IN_TASK;
    if (t->fail_msg != NULL)
        return RMPI_ERR_TASK_FAILED; /* the first failure is the one reported */
    va_start(ap, fmt);
    if (fmt == NULL || vasprintf(&s, fmt, ap) < 0)
        s = strdup("task failed");
    va_end(ap);
    t->fail_msg = s;
    return RMPI_ERR_TASK_FAILED;
}
