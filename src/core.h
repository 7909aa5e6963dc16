/*
 * Core runtime internals shared by core.c (lifecycle, registry), object.c (put,
 * get, wait, release, pulls), task.c (submit, dispatch, execution) and msg.c
 * (records between ranks).  Public calls are in raympi.h.
 */
#ifndef RMPI_CORE_H
#define RMPI_CORE_H

#include "raympi.h"
#include "base/config.h"
#include "base/idmap.h"
#include "base/log.h"
#include "base/util.h"
#include "sched/sched.h"
#include "store/store.h"
#include "transport/transport.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdatomic.h>
#include <stdint.h>
#include "base/hash.h"

#define CORE "core"

/* ---- registry ---- */
typedef struct {
    char     *name;
    rmpi_fn_t fn;
    int       nargs; /* RMPI_NARGS_ANY or a count */
    _Atomic uint32_t run_us; /* its tasks' recent length here, microseconds; UINT32_MAX:
                                none ran yet (task.c, RAYMPI_SCHED_CALLER_RUNS) */
} rmpi_fentry_t;

typedef struct {
    char         *name;
    rmpi_method_t fn;
    int           nargs;
    atomic_int    waited; /* a call of it waited in a get or wait: a thread waiting
                             for its calls no longer runs them (actor.c) */
    _Atomic uint32_t run_us; /* its calls' recent length here, microseconds; UINT32_MAX:
                                none returned yet (actor.c) */
} rmpi_mentry_t;

typedef struct {
    char          *name;
    rmpi_ctor_t    ctor;
    rmpi_dtor_t    dtor;
    rmpi_mentry_t *methods; /* sorted by name at rmpi_init */
    int            nmethods, cap;
} rmpi_centry_t;

/* ---- tasks ---- */
enum {
    ARGK_VALUE   = 0, /* bytes/scalar in the task's blob */
    ARGK_INLINE  = 1, /* a ref whose small value travelled in the blob */
    ARGK_AT      = 2, /* a ref whose bytes are at rank `holder` */
    ARGK_FOREIGN = 3, /* a ref to ask its owner about */
    ARGK_PENDING = 4, /* a ref whose task runs on rank `holder`: ask that rank */
    ARGK_PUSHED  = 5  /* a ref its owner (`holder`) sends here once it is made */
};

struct rmpi_task;

/* What a task spec runs. */
enum { TK_TASK = 0, TK_CREATE = 1, TK_CALL = 2, TK_DTOR = 3 };

typedef struct {
    uint8_t            type;   /* RMPI_ARG_* */
    uint8_t            kind;   /* ARGK_* */
    int32_t            holder;
    rmpi_oid_t         id;
    const void        *data;   /* resolved bytes */
    size_t             size;
    rmpi_obj_t        *pin;    /* local object pinned while the task needs it */
    rmpi_obj_t        *obj;    /* owner: its own object (task_refs holds it), else NULL */
    rmpi_waitnode_t    wn;
    struct rmpi_task  *task;
} rmpi_targ_t;

typedef struct {
    void  *data; /* store allocation, or NULL when never set */
    size_t size;
} rmpi_tret_t;

/* A rank that asked for a result of a task running here (REC_SUB). */
typedef struct {
    int32_t rank;
    int32_t index;
} rmpi_tsub_t;

struct rmpi_task {
    rmpi_xnode_t   xn;         /* executor queue link; first member */
    uint64_t       seq;
    int32_t        owner;
    int            dest;
    uint32_t       fn;
    uint32_t       cpus_milli;
    uint16_t       nargs, nret;
    uint8_t        kind;       /* TK_* */
    uint32_t       max_conc;   /* TK_CREATE: the actor's max_concurrency */
    rmpi_actor_t   actor;      /* TK_CREATE, TK_CALL, TK_DTOR */
    uint64_t       aseq;       /* TK_CALL: the caller rank's sequence number for it */
    struct rmpi_task *anext;   /* actor queues (actor.c) */
    void          *aentry;     /* the host's actor entry once delivered */
    void          *aobj;       /* TK_CREATE: the constructor's result; TK_DTOR: the state */
    int            deps;       /* dependencies not yet ready (store lock) */
    int            dep_status; /* first failed dependency */
    char          *dep_msg;
    int            fail_status;
    char          *fail_msg;
    rmpi_tsub_t   *subs;       /* executor: ranks to send results to straight away */
    int            nsubs, subcap;
    int            local_subs; /* executor: tasks here wait for its small results */
    rmpi_targ_t   *args;
    rmpi_tret_t   *rets;
    char          *blob;
};
typedef struct rmpi_task rmpi_task_s;

/* ---- records between ranks (msg.c) ---- */
#define RMPI_PROTO_VERSION 2
enum { AM_BATCH = 1, AM_DATA = 2 };
enum {
    REC_TASK = 1,
    REC_DONE,
    REC_RESOLVE,
    REC_RESOLVED,
    REC_PULL,
    REC_FREE,
    REC_RELEASE,
    REC_SHUTDOWN,
    REC_SHUTDOWN_ACK,
    REC_KILL,     /* actor id: kill it (to its host) */
    REC_NAME_REQ, /* named-actor registry request (to rank 0) */
    REC_NAME_REP, /* its reply */
    REC_SUB,      /* object id: send me this result when the task making it ends */
    REC_SUB_MISS, /* object id: that task is not here (any more): ask the owner */
    REC_MAX
};

typedef struct {
    uint8_t  version;
    uint8_t  pad[3];
    uint32_t src;
    uint32_t count;
    uint32_t qlen; /* sender's queued + running tasks: load for placement */
    uint32_t seq;  /* the sender's count of batches to this rank: they are handled in
                      this order (a large one, received by rendezvous, can complete
                      after a later small one) */
    uint32_t pad2;
} rmpi_batch_hdr_t;

typedef struct {
    uint32_t len;  /* whole record, header included, multiple of 8 */
    uint8_t  type;
    uint8_t  pad[3];
} rmpi_rec_hdr_t;

typedef struct {
    uint64_t hi, lo;
} rmpi_wire_id_t;

typedef struct {
    uint64_t seq;
    uint32_t fn;          /* function, or class (TK_CREATE), or method (TK_CALL) */
    uint32_t cpus_milli;
    uint16_t nargs;
    uint16_t nret;
    uint8_t  kind;        /* TK_* */
    uint8_t  pad[3];
    uint32_t max_conc;
    uint32_t pad2;
    uint64_t actor_hi, actor_lo;
    uint64_t aseq;
} rmpi_wire_task_t;

typedef struct {
    uint64_t token;
    uint8_t  op;            /* NAME_REGISTER, NAME_LOOKUP, NAME_DROP */
    uint8_t  get_if_exists;
    uint16_t namelen;       /* name bytes follow */
    uint32_t pad;
    uint64_t actor_hi, actor_lo;
} rmpi_wire_name_req_t;

typedef struct {
    uint64_t token;
    int32_t  status;
    uint32_t pad;
    uint64_t actor_hi, actor_lo;
} rmpi_wire_name_rep_t;

typedef struct {
    uint8_t        type;
    uint8_t        kind;
    uint16_t       pad;
    int32_t        holder;
    uint64_t       size; /* bytes following (VALUE, INLINE) or object size (AT) */
    rmpi_wire_id_t id;
} rmpi_wire_arg_t;

enum { RET_INLINE = 1, RET_AT = 2 };

typedef struct {
    uint64_t seq;
    uint16_t nret;
    uint16_t pad;
    int32_t  status; /* RMPI_OK, else msglen bytes of message follow */
    uint32_t msglen;
    uint32_t pad2;
} rmpi_wire_done_t;

typedef struct {
    uint8_t  kind;
    uint8_t  mem_type;
    uint16_t pad;
    uint32_t pad2;
    uint64_t size;
} rmpi_wire_ret_t;

typedef struct {
    rmpi_wire_id_t id;
    int32_t        status; /* RMPI_OK: kind says where; else msglen of message */
    int32_t        holder;
    uint64_t       size;
    uint8_t        kind; /* RET_INLINE (bytes follow) or RET_AT */
    uint8_t        pad[3];
    uint32_t       msglen;
} rmpi_wire_resolved_t;

typedef struct {
    uint8_t        version;
    uint8_t        pad[3];
    uint32_t       src;
    int32_t        status;
    uint32_t       pad2;
    rmpi_wire_id_t id;
    uint64_t       size;
} rmpi_data_hdr_t;

/* Reserve a record of body_len bytes to dest; fill the body, then commit. */
void *rmpi__rec_alloc(int dest, int type, size_t body_len);
void  rmpi__rec_commit(void *body);
/* 1 when this thread queued, since the last call, a record another rank is waiting
 * for (a task to run, a pull or resolve to answer); clears it. */
int   rmpi__msg_take_urgent(void);
/* The object id a record's body starts with; -1 when short or not a valid id. */
int   rmpi__wire_id_read(const void *body, size_t len, rmpi_oid_t *id);
/* A record with a fixed body (copied), e.g. an id. */
void  rmpi__rec_send(int dest, int type, const void *body, size_t len);
/* Register the active-message handlers (before the start-up exchange, so no
 * message can arrive at a rank without them). */
void  rmpi__msg_set_handlers(void);
int   rmpi__msg_init(void);
void  rmpi__msg_fini(void);
/* Transport hooks: send what was batched; a rank's endpoint failed. */
void  rmpi__msg_flush_hook(void);
void  rmpi__msg_peer_failed_hook(int rank, int status);

/* ---- runtime state ---- */
typedef struct {
    int            initialized;
    int            rank, size;
    int            boot_method;
    char           job[128];
    rmpi_fentry_t *fns;
    int            nfns;
    rmpi_centry_t *classes;   /* sorted by name */
    int            nclasses;
    int           *ncpus;     /* executor cpus of every rank */
    atomic_int    *inflight;  /* tasks this rank placed on each rank, not done */
    atomic_int    *qlen;      /* queue length each rank last reported */
    int            max_cpus;  /* largest ncpus of any rank */
    int            spin_us;   /* waiting threads poll this long before sleeping */
    int            busy_us;   /* ... idle executors the first part of it without yielding */
    uint64_t       inline_max;
    _Atomic uint64_t next_seq;
    rmpi_idmap_t   remote_tasks; /* owner's tasks running on other ranks, key (0, seq);
                                    store lock */
    rmpi_idmap_t   exec_tasks;   /* other owners' tasks on this rank, not over, key
                                    (owner, seq); store lock */
    _Atomic uint64_t owned_objects;
    _Atomic uint64_t tasks_executed, tasks_submitted;
    _Atomic uint64_t args_forwarded;
    _Atomic uint64_t calls_inline; /* actor calls the thread waiting for them ran */
    _Atomic uint64_t tasks_inline; /* tasks the thread waiting for them ran (task.c) */
    /* shutdown */
    atomic_int     shutdown_requested;
    atomic_char   *acked;     /* driver: ranks that acknowledged shutdown (or died) */
    rmpi_waiter_t  shutdown_waiter;
} rmpi_rt_t;

extern rmpi_rt_t rmpi__rt;

/* object.c */
void rmpi__obj_maybe_free_locked(rmpi_obj_t *o);
void rmpi__obj_ensure_data_locked(rmpi_obj_t *o);
/* After an object turned READY or FAILED: fire its waiters, start a pull if a
 * waiter needs bytes that are elsewhere, free it when nobody needs it. */
void rmpi__obj_settled_locked(rmpi_obj_t *o);
void rmpi__obj_handle_pull(int src, const void *body, size_t len);
/* Owner: send o (PENDING) to rank dest once it is READY or FAILED, as an answer to
 * a resolve would be (REC_RESOLVED); RMPI_OK or RMPI_ERR_NO_MEMORY. */
int  rmpi__obj_push_locked(rmpi_obj_t *o, int dest);
void rmpi__obj_handle_resolve(int src, const void *body, size_t len);
void rmpi__obj_handle_resolved(int src, const void *body, size_t len);
/* Tell rank dest what object id came to (REC_RESOLVED): failed with status and msg,
 * else its bytes when small and here (data), else that they are at rank holder. */
void rmpi__obj_send_resolved(int dest, rmpi_oid_t id, int status, const char *msg,
                             const void *data, size_t size, int holder);
void rmpi__obj_handle_free(int src, const void *body, size_t len);
void rmpi__obj_handle_release(int src, const void *body, size_t len);
void rmpi__obj_handle_data(const rmpi_tp_msg_t *m);
void *rmpi__obj_data_alloc(const void *hdr, size_t hlen, size_t len);
void rmpi__obj_data_free(void *buf, size_t len);
/* A rank died: fail what depended on it (store lock held). */
void rmpi__obj_peer_failed_locked(int rank);
/* Lookup for a user call: owned objects must be alive; foreign ones get a local
 * entry that asks the owner.  NULL with *rc set on error. */
rmpi_obj_t *rmpi__obj_lookup_locked(rmpi_oid_t id, int *rc);

/* task.c */
void rmpi__task_run(rmpi_xnode_t *n);
/* Queue a task on the executors (deferred to the end of the pass on the progress
 * thread, after its sends), and push what was deferred. */
void rmpi__task_queue(rmpi_xnode_t *n);
void rmpi__task_queue_flush(void);
/* The task is over: its results get status/msg (or its returns), then it is freed. */
void rmpi__task_finish_locked(rmpi_task_s *t, int status, const char *msg);
void rmpi__task_drop(rmpi_xnode_t *n);
void rmpi__task_handle_task(int src, const void *body, size_t len);
/* The checks a task record from rank src passes before anything is allocated: every
 * length inside it, each argument's kind and holder, the returns, the function, class
 * or method.  0 and the bytes its values need (*blob), or -1. */
int  rmpi__task_wire_check(const void *body, size_t len, int src, size_t *blob);
void rmpi__task_handle_done(int src, const void *body, size_t len);
void rmpi__task_handle_sub(int src, const void *body, size_t len);
void rmpi__task_handle_sub_miss(int src, const void *body, size_t len);
void rmpi__task_peer_failed_locked(int rank);
void rmpi__task_fini(void);
int  rmpi__crash_init(void);
void rmpi__crash_fini(void);

/* actor.c */
/* Host: a create or call whose arguments are ready (store lock held). */
void rmpi__actor_deliver_locked(rmpi_task_s *t);
/* Executor thread: run a create, call or destructor job. */
int  rmpi__actor_run(rmpi_task_s *t);
/* After a create or call ran (store lock held): status of the run. */
void rmpi__actor_after_run_locked(rmpi_task_s *t, int crashed, const char *crash_msg);
void rmpi__actor_handle_kill(int src, const void *body, size_t len);
void rmpi__actor_handle_name_req(int src, const void *body, size_t len);
void rmpi__actor_handle_name_rep(int src, const void *body, size_t len);
/* Shutdown: destroy every actor hosted here (destructors run). */
void rmpi__actor_fini(void);
uint64_t rmpi__actor_count(void);
/* Under the executors' lock: t is an actor call that a thread outside any task,
 * waiting for its result, may run itself (max_concurrency 1, its method has finished
 * here before and never waited, and its calls are short). */
int rmpi__actor_call_inline_ok(const rmpi_task_s *t);
/* The running task waits in a get or wait: its method's calls are no longer run by a
 * thread waiting for them (rmpi__actor_call_inline_ok). */
void rmpi__actor_note_wait(const rmpi_task_s *t);

/* jobdir.c: the job's directory on this node */
int  rmpi__jobdir_open(const char *job, int rank, char *err, size_t errlen);
void rmpi__jobdir_close(void);
const char *rmpi__jobdir_path(void);
/* Caller side: next sequence number of this rank's calls to an actor (store lock). */
uint64_t rmpi__actor_next_seq_locked(rmpi_actor_t a);
const char *rmpi__actor_class_name(rmpi_actor_t a);
/* Name of what task t runs: function, "Class" or "Class.method". */
const char *rmpi__task_what(const rmpi_task_s *t, char *buf, size_t len);

/* task.c: build and submit (shared with actor.c) */
int  rmpi__rank_load(int r);
rmpi_task_s *rmpi__task_build(const rmpi_arg_t *args, int nargs, int nret, size_t blob);
int  rmpi__task_check_args(const rmpi_arg_t *args, int nargs, size_t *blob);
int  rmpi__task_submit(rmpi_task_s *t, int rank, rmpi_ref_t *refs_out);
/* The nargs rmpi_arg_t of a variadic call: into stack (RMPI_VA_STACK long) or a
 * malloc'd array the caller frees when it is not stack; NULL on a bad count. */
#define RMPI_VA_STACK 16
rmpi_arg_t *rmpi__va_args(int nargs, va_list ap, rmpi_arg_t *stack);
/* A ref whose value is the error status/msg (rmpi_call and friends). */
rmpi_ref_t rmpi__error_ref(int status, const char *msg);
/* The running task waits in a get or wait (object.c). */
void rmpi__task_note_wait(void);
/* Under the store lock: a thread that is not running a task waits until deadline
 * (< 0: none) for object id, a result of this rank's.  If the task or actor call
 * making it is queued here, not started, and short (its function's recent tasks,
 * or rmpi__actor_call_inline_ok), run it on this thread now
 * (RAYMPI_SCHED_CALLER_RUNS).  1: the store was unlocked meanwhile (whether it ran
 * or not), look at the object again; 0: nothing was done. */
int rmpi__task_run_awaited_locked(rmpi_oid_t id, double deadline);

/* A waiting thread runs a task or call itself only when the recent runs of its
 * function or method took at most this long (task.c, actor.c). */
#define RMPI_CALLER_RUN_MAX_US 100

/* A run took s seconds: the recent length in *us rises to a longer run at once and
 * comes down by an eighth of the difference per shorter one (from UINT32_MAX, "none
 * yet", to the first run's).  Threads running the same function or method share the
 * entry: a lost update only delays the estimate, and it is written only on a change. */
static inline void rmpi__note_run_us(_Atomic uint32_t *us, double s)
{
    uint32_t v = s * 1e6 >= (double)UINT32_MAX ? UINT32_MAX - 1 : (uint32_t)(s * 1e6);
    uint32_t old = atomic_load_explicit(us, memory_order_relaxed);
    uint32_t now = old == UINT32_MAX || v >= old ? v : old - (old - v + 7) / 8;
    if (now != old)
        atomic_store_explicit(us, now, memory_order_relaxed);
}

/* core.c */
const char *rmpi__fn_name(uint32_t fn);
/* Index of name in a sorted registry array whose entries start with their name. */
int rmpi__name_lookup(const void *sorted, int n, size_t size, const char *name);
int rmpi__class_lookup(const char *name);
int rmpi__method_lookup(int cls, const char *name);
static inline rmpi_oid_t rmpi__oid_of(rmpi_ref_t r)
{
    rmpi_oid_t id = {r.hi, r.lo};
    return id;
}
static inline rmpi_ref_t rmpi__ref_of(rmpi_oid_t id)
{
    rmpi_ref_t r = {id.hi, id.lo};
    return r;
}
/* The calling thread's waiter (lazily made). */
rmpi_waiter_t *rmpi__thread_waiter(void);

#endif
