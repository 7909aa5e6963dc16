/*
 * raympi.h - Ray Core's programming model (remote tasks, immutable objects with
 * futures) for the ranks of an MPI/Slurm job.
 *
 * Every call returns RMPI_OK (0) or a negative RMPI_ERR_* status unless its comment
 * says otherwise; rmpi_status_string() names every status.  Calls are thread-safe:
 * the driver, tasks running on executor threads and user threads may all submit,
 * get, wait, put and release at the same time.
 */
#ifndef RAYMPI_H
#define RAYMPI_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define RMPI_API __attribute__((visibility("default")))
#else
#define RMPI_API
#endif

#define RMPI_VERSION_MAJOR 0
#define RMPI_VERSION_MINOR 1
#define RMPI_VERSION_PATCH 0

/*
 * Status codes.  X(name, value, text): one list, so the strings cannot drift.
 */
#define RMPI_STATUS_LIST(X)                                                          \
    X(RMPI_OK,                      0, "success")                                    \
    X(RMPI_WORKER_DONE,             1, "worker rank served until the driver finished") \
    X(RMPI_ERR_INVALID_ARG,        -1, "invalid argument")                           \
    X(RMPI_ERR_NO_MEMORY,          -2, "out of memory")                              \
    X(RMPI_ERR_NOT_INITIALIZED,    -3, "runtime not initialized")                    \
    X(RMPI_ERR_ALREADY_INITIALIZED,-4, "runtime already initialized")                \
    X(RMPI_ERR_UNKNOWN_FUNCTION,   -5, "unknown remote function")                    \
    X(RMPI_ERR_NARGS,              -6, "wrong number of arguments")                  \
    X(RMPI_ERR_ARG_TYPE,           -7, "argument has another type")                  \
    X(RMPI_ERR_TIMEOUT,            -8, "timed out")                                  \
    X(RMPI_ERR_TASK_FAILED,        -9, "task failed")                                \
    X(RMPI_ERR_TASK_CRASHED,      -10, "task crashed")                               \
    X(RMPI_ERR_RANK_DIED,         -11, "rank died")                                  \
    X(RMPI_ERR_REF_RELEASED,      -12, "object reference already released")          \
    X(RMPI_ERR_UNKNOWN_REF,       -13, "unknown object reference")                   \
    X(RMPI_ERR_TOO_LARGE,         -14, "object larger than the store")               \
    X(RMPI_ERR_STORE_FULL,        -15, "object store full")                          \
    X(RMPI_ERR_INVALID_RANK,      -16, "no such rank")                               \
    X(RMPI_ERR_RESOURCES,         -17, "no rank has the resources the task asks for") \
    X(RMPI_ERR_NAME_EXISTS,       -18, "name already registered")                    \
    X(RMPI_ERR_REGISTRY_MISMATCH, -19, "ranks registered different functions")       \
    X(RMPI_ERR_CONFIG,            -20, "invalid configuration")                      \
    X(RMPI_ERR_BOOTSTRAP,         -21, "start-up exchange failed")                   \
    X(RMPI_ERR_TRANSPORT,         -22, "transport error")                            \
    X(RMPI_ERR_NOT_SUPPORTED,     -23, "not supported by this build")                \
    X(RMPI_ERR_SHUTDOWN,          -24, "runtime is shutting down")                   \
    X(RMPI_ERR_NOT_IN_TASK,       -25, "call valid only inside a task")              \
    X(RMPI_ERR_RETURN_INDEX,      -26, "no such return value")                       \
    X(RMPI_ERR_INTERNAL,          -27, "internal error")                             \
    X(RMPI_ERR_UNKNOWN_CLASS,     -28, "unknown actor class")                        \
    X(RMPI_ERR_UNKNOWN_METHOD,    -29, "unknown actor method")                       \
    X(RMPI_ERR_UNKNOWN_ACTOR,     -30, "no such actor")                              \
    X(RMPI_ERR_ACTOR_DIED,        -31, "actor died")

#define RMPI_STATUS_ENUM_(name, value, text) name = value,
typedef enum { RMPI_STATUS_LIST(RMPI_STATUS_ENUM_) } rmpi_status_t;
#undef RMPI_STATUS_ENUM_

/** Name and meaning of a status, e.g. "RMPI_ERR_TIMEOUT: timed out".  Never NULL. */
RMPI_API const char *rmpi_status_string(int status);

/* ------------------------------------------------------------------------------
 * Lifecycle
 * ------------------------------------------------------------------------------ */

/**
 * Start the runtime.  Under mpirun or `srun --mpi=pmix` the ranks find each other
 * through PMIx; when the application called MPI_Init first, through MPI_Allgather on
 * MPI_COMM_WORLD; started alone it runs as a singleton with local executor threads.
 * Returns RMPI_OK on rank 0 (the driver).  On every other rank it serves tasks until
 * the driver calls rmpi_finalize(), then returns RMPI_WORKER_DONE: the program should
 * call rmpi_finalize() and exit.  Remote functions must be registered before.
 */
RMPI_API int rmpi_init(int *argc, char ***argv);

/** Shut down.  On the driver this ends the job's runtime on every rank. */
RMPI_API int rmpi_finalize(void);

/** This rank, or -1 before rmpi_init. */
RMPI_API int rmpi_rank(void);
/** Ranks in the job, or 0 before rmpi_init. */
RMPI_API int rmpi_size(void);

/* ------------------------------------------------------------------------------
 * Remote functions
 * ------------------------------------------------------------------------------ */

/** The running task's context, valid only while the function runs. */
typedef struct rmpi_task rmpi_task_t;

/** A remote function: returns RMPI_OK, or an error (see rmpi_task_fail). */
typedef int (*rmpi_fn_t)(rmpi_task_t *task);

/** Accept any number of arguments (rmpi_register_nargs). */
#define RMPI_NARGS_ANY (-1)

/**
 * Register fn under name.  Every rank must register the same names before
 * rmpi_init (a mismatch fails rmpi_init on every rank, naming the ranks).
 * RMPI_ERR_NAME_EXISTS for a name already taken.
 */
RMPI_API int rmpi_register(const char *name, rmpi_fn_t fn);
/** As rmpi_register, declaring the argument count that rmpi_submit checks. */
RMPI_API int rmpi_register_nargs(const char *name, rmpi_fn_t fn, int nargs);

/* Registration from a constructor, so main() needs no registration code.  An error
 * there (duplicate name) is reported by rmpi_init. */
#define RMPI_REMOTE(fn)                                                              \
    __attribute__((constructor)) static void rmpi_remote_ctor_##fn(void)             \
    {                                                                                \
        rmpi_register(#fn, fn);                                                      \
    }
#define RMPI_REMOTE_NARGS(fn, n)                                                     \
    __attribute__((constructor)) static void rmpi_remote_ctor_##fn(void)             \
    {                                                                                \
        rmpi_register_nargs(#fn, fn, (n));                                           \
    }

/* ------------------------------------------------------------------------------
 * Futures
 * ------------------------------------------------------------------------------ */

/**
 * An object reference (future).  A small value: copying it takes no reference.
 * The ref returned by submit or put carries one reference, dropped by
 * rmpi_release(); any rank holding the value may use or release it.
 */
typedef struct { uint64_t hi, lo; } rmpi_ref_t;
/** An actor handle (a value, valid on every rank). */
typedef struct { uint64_t hi, lo; } rmpi_actor_t;

/** The null ref: never refers to an object. */
#define RMPI_REF_NIL ((rmpi_ref_t){0, 0})
/** 1 when two refs name the same object. */
static inline int rmpi_ref_equal(rmpi_ref_t a, rmpi_ref_t b)
{
    return a.hi == b.hi && a.lo == b.lo;
}
/** The rank that owns the object named by ref. */
RMPI_API int rmpi_ref_owner(rmpi_ref_t ref);

/* ------------------------------------------------------------------------------
 * Arguments
 * ------------------------------------------------------------------------------ */

enum {
    RMPI_ARG_BYTES = 1,
    RMPI_ARG_I64   = 2,
    RMPI_ARG_F64   = 3,
    RMPI_ARG_REF   = 4,
    RMPI_ARG_ACTOR = 5
};

/** One argument; build it with the helpers below, treat the fields as private. */
typedef struct rmpi_arg {
    int type;
    union {
        struct { const void *data; size_t size; } bytes;
        int64_t      i64;
        double       f64;
        rmpi_ref_t   ref;
        rmpi_actor_t actor;
    } u;
} rmpi_arg_t;

/** Bytes, copied at submission: the buffer may be reused as soon as submit returns. */
RMPI_API rmpi_arg_t rmpi_bytes(const void *data, size_t size);
RMPI_API rmpi_arg_t rmpi_i64(int64_t v);
RMPI_API rmpi_arg_t rmpi_f64(double v);
/** A ref, resolved to its value before the function runs (the task waits for it). */
RMPI_API rmpi_arg_t rmpi_ref(rmpi_ref_t ref);
/** An actor handle travels as a value. */
RMPI_API rmpi_arg_t rmpi_actor_arg(rmpi_actor_t a);

/* ------------------------------------------------------------------------------
 * Submission
 * ------------------------------------------------------------------------------ */

#define RMPI_ANY_RANK (-1)

enum {
    RMPI_OPT_NUM_RETURNS = 1u << 0,
    RMPI_OPT_CPUS        = 1u << 1,
    RMPI_OPT_GPUS        = 1u << 2,
    RMPI_OPT_MAX_RETRIES = 1u << 3,
    RMPI_OPT_RANK        = 1u << 4
};

/** Most return values one task may have. */
#define RMPI_MAX_RETURNS 64

/** Submission options; only the fields named in field_mask are read. */
typedef struct {
    uint64_t field_mask;   /**< RMPI_OPT_* bits saying which fields are set */
    int      num_returns;  /**< default 1, at most RMPI_MAX_RETURNS */
    double   cpus;         /**< default 1 */
    double   gpus;         /**< default 0 */
    int      max_retries;  /**< default 3 for system failures; 0 for app errors */
    int      rank;         /**< run on this rank, or RMPI_ANY_RANK (default) */
} rmpi_opts_t;

/**
 * Submit fn with nargs arguments; writes num_returns refs to refs_out.  The task
 * runs on the rank the scheduler picks (where its large arguments are, else the
 * least loaded) once every ref argument is ready.  opts may be NULL.
 * Errors found at submission (unknown function, wrong argument count, bad option,
 * released ref argument) are returned here and nothing is submitted.
 */
RMPI_API int rmpi_submit(const char *fn, const rmpi_arg_t *args, int nargs,
                         const rmpi_opts_t *opts, rmpi_ref_t *refs_out);

/**
 * One return value, default options.  ... are nargs rmpi_arg_t values.  A submission
 * error does not get lost: the returned ref holds it, and get reports it.
 */
RMPI_API rmpi_ref_t rmpi_call(const char *fn, int nargs, ...);

/* ------------------------------------------------------------------------------
 * Objects
 * ------------------------------------------------------------------------------ */

enum {
    RMPI_MEM_HOST = 0,
    RMPI_MEM_CUDA = 1
};

/** Copy size bytes into a new immutable object owned by this rank. */
RMPI_API int rmpi_put(const void *data, size_t size, rmpi_ref_t *ref_out);
/** As rmpi_put with the memory type of data given (RMPI_MEM_HOST; RMPI_MEM_CUDA
 *  returns RMPI_ERR_NOT_SUPPORTED until GPU objects land). */
RMPI_API int rmpi_put_mem(const void *data, size_t size, int mem_type,
                          rmpi_ref_t *ref_out);

/** A read-only view of an object's bytes, released with rmpi_view_release. */
typedef struct {
    const void *data;      /**< read-only; zero-copy where the bytes are local */
    size_t      size;
    int         mem_type;  /**< RMPI_MEM_HOST or RMPI_MEM_CUDA */
    void       *priv_[2];  /**< private */
} rmpi_view_t;

/**
 * Wait for ref's value (timeout_s < 0: forever; 0: poll).  On RMPI_OK, view holds
 * the bytes until rmpi_view_release.  A failed task gives RMPI_ERR_TASK_FAILED (or
 * the failure's own status); rmpi_error_message() tells why.
 */
RMPI_API int rmpi_get(rmpi_ref_t ref, double timeout_s, rmpi_view_t *view);
/** Unpin a view from rmpi_get.  Safe on a zeroed view; the view is zeroed. */
RMPI_API void rmpi_view_release(rmpi_view_t *view);
/** Get an 8-byte value; RMPI_ERR_ARG_TYPE when the object is not 8 bytes. */
RMPI_API int rmpi_get_i64(rmpi_ref_t ref, double timeout_s, int64_t *out);
RMPI_API int rmpi_get_f64(rmpi_ref_t ref, double timeout_s, double *out);

/**
 * Wait until num_ready of the n refs are ready (finished, successfully or not) or
 * the timeout passes; ready[i] is set to 1 for each ready ref and 0 otherwise;
 * *nready tells how many.  A timeout is not an error: check *nready.
 */
RMPI_API int rmpi_wait(const rmpi_ref_t *refs, int n, int num_ready, double timeout_s,
                       int *ready, int *nready);

/** Drop this holder's reference.  RMPI_ERR_REF_RELEASED when already released. */
RMPI_API int rmpi_release(rmpi_ref_t ref);

/**
 * A failed object's error message ("function 'f' on rank 1: text") into buf.
 * RMPI_ERR_INVALID_ARG when the object did not fail.  Waits for the object.
 */
RMPI_API int rmpi_error_message(rmpi_ref_t ref, char *buf, size_t size);

/* ------------------------------------------------------------------------------
 * Inside a task
 * ------------------------------------------------------------------------------ */

RMPI_API int     rmpi_task_nargs(rmpi_task_t *task);
/** Type of argument i (RMPI_ARG_*; a resolved ref reads as RMPI_ARG_REF). */
RMPI_API int     rmpi_task_arg_type(rmpi_task_t *task, int i);
/** Bytes of argument i (bytes, a resolved ref's value, or the 8 bytes of a scalar). */
RMPI_API int     rmpi_task_arg(rmpi_task_t *task, int i, const void **data, size_t *size);
/** Scalar argument i.  A missing or mistyped argument fails the task (its error
 *  names the argument) and returns 0. */
RMPI_API int64_t rmpi_task_arg_i64(rmpi_task_t *task, int i);
RMPI_API double  rmpi_task_arg_f64(rmpi_task_t *task, int i);
RMPI_API int     rmpi_task_arg_actor(rmpi_task_t *task, int i, rmpi_actor_t *a);
/** Set return value i to a copy of data.  A return value never set is empty (0 bytes). */
RMPI_API int     rmpi_task_return(rmpi_task_t *task, int i, const void *data, size_t size);
/** A buffer of size bytes that becomes return value i: write the result in place.
 *  NULL on error (the task then fails with the reason). */
RMPI_API void   *rmpi_task_return_buffer(rmpi_task_t *task, int i, size_t size);
RMPI_API int     rmpi_task_return_i64(rmpi_task_t *task, int i, int64_t v);
RMPI_API int     rmpi_task_return_f64(rmpi_task_t *task, int i, double v);
/** Fail the task with a message; returns RMPI_ERR_TASK_FAILED, so the function can
 *  `return rmpi_task_fail(t, "...")`. */
RMPI_API int     rmpi_task_fail(rmpi_task_t *task, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/** Number of return values the caller asked for. */
RMPI_API int     rmpi_task_num_returns(rmpi_task_t *task);
/** The running task on this thread, or NULL outside a task. */
RMPI_API rmpi_task_t *rmpi_task_current(void);

/* ------------------------------------------------------------------------------
 * Actors: a registered class whose instance lives on one rank, keeps state between
 * calls, and runs method calls from anywhere in the job, each returning refs.
 * ------------------------------------------------------------------------------ */

/** Constructor: returns the actor's state, or NULL after rmpi_task_fail (the actor
 *  then dies with that error and every call to it fails with RMPI_ERR_ACTOR_DIED). */
typedef void *(*rmpi_ctor_t)(rmpi_task_t *task);
/** Destructor: runs when the actor is killed or the job ends.  May be NULL. */
typedef void (*rmpi_dtor_t)(void *state);
/** A method: state is the constructor's result; arguments and returns as for tasks.
 *  Returning an error gives an error value; the actor lives on. */
typedef int (*rmpi_method_t)(void *state, rmpi_task_t *task);

/** Register an actor class (before rmpi_init, identically on every rank). */
RMPI_API int rmpi_class_register(const char *cls, rmpi_ctor_t ctor, rmpi_dtor_t dtor);
/** Register a method of a registered class.  RMPI_ERR_UNKNOWN_CLASS, NAME_EXISTS. */
RMPI_API int rmpi_method_register(const char *cls, const char *method, rmpi_method_t m);
/** As rmpi_method_register, declaring the argument count rmpi_actor_call checks. */
RMPI_API int rmpi_method_register_nargs(const char *cls, const char *method, rmpi_method_t m,
                                        int nargs);

enum {
    RMPI_ACTOR_OPT_CPUS            = 1u << 0,
    RMPI_ACTOR_OPT_GPUS            = 1u << 1,
    RMPI_ACTOR_OPT_RANK            = 1u << 2,
    RMPI_ACTOR_OPT_NAME            = 1u << 3,
    RMPI_ACTOR_OPT_GET_IF_EXISTS   = 1u << 4,
    RMPI_ACTOR_OPT_MAX_CONCURRENCY = 1u << 5
};

/** Actor options; only the fields named in field_mask are read. */
typedef struct {
    uint64_t    field_mask;
    double      cpus;            /**< held while the actor lives; default 0 */
    double      gpus;            /**< default 0 */
    int         rank;            /**< or RMPI_ANY_RANK (default): the scheduler picks */
    const char *name;            /**< named actor, found with rmpi_actor_lookup */
    int         get_if_exists;   /**< with name: return the existing actor, no error */
    int         max_concurrency; /**< calls run at once on the actor's rank; default 1 */
} rmpi_actor_opts_t;

/**
 * Create an actor of class cls; the constructor gets args.  Returns at once with the
 * handle: calls made before the constructor finishes queue behind it.  Errors at
 * creation: RMPI_ERR_UNKNOWN_CLASS, RMPI_ERR_NARGS, RMPI_ERR_INVALID_RANK,
 * RMPI_ERR_RESOURCES, RMPI_ERR_NAME_EXISTS (name taken and get_if_exists not set).
 */
RMPI_API int rmpi_actor_create(const char *cls, const rmpi_arg_t *args, int nargs,
                               const rmpi_actor_opts_t *opts, rmpi_actor_t *actor_out);
/**
 * Call a method; writes num_returns refs (opts: only num_returns is used).  Calls
 * from one rank run in the order they were submitted (with max_concurrency 1).  A
 * call on a dead or killed actor gives refs whose get is RMPI_ERR_ACTOR_DIED.
 */
RMPI_API int rmpi_actor_call(rmpi_actor_t a, const char *method, const rmpi_arg_t *args,
                             int nargs, const rmpi_opts_t *opts, rmpi_ref_t *refs_out);
/** One return value, default options; a submission error becomes the ref's value. */
RMPI_API rmpi_ref_t rmpi_actor_call1(rmpi_actor_t a, const char *method, int nargs, ...);
/** Find a named actor from any rank.  RMPI_ERR_UNKNOWN_ACTOR when none has the name. */
RMPI_API int rmpi_actor_lookup(const char *name, rmpi_actor_t *actor_out);
/** Kill an actor: pending and later calls fail with RMPI_ERR_ACTOR_DIED; its
 *  destructor runs once running calls end. */
RMPI_API int rmpi_actor_kill(rmpi_actor_t a);
/** The rank an actor lives on, or -1 for an invalid handle. */
RMPI_API int rmpi_actor_rank(rmpi_actor_t a);

/* ------------------------------------------------------------------------------
 * Introspection
 * ------------------------------------------------------------------------------ */

/** Counters of this rank. */
typedef struct {
    uint64_t store_bytes;      /**< bytes of object data held in this rank's store */
    uint64_t store_objects;    /**< objects with bytes in this rank's store */
    uint64_t store_capacity;   /**< configured store capacity in bytes */
    uint64_t owned_objects;    /**< objects this rank owns that are not yet freed */
    uint64_t tasks_executed;   /**< tasks run on this rank's executors */
    uint64_t tasks_submitted;  /**< tasks submitted from this rank */
    uint64_t bytes_sent;       /**< bytes sent to other ranks */
    uint64_t bytes_received;   /**< bytes received from other ranks */
    uint64_t bytes_sent_shm;   /**< ... of which to ranks reached over shared memory */
    uint64_t bytes_sent_net;   /**< ... of which to ranks reached over a network (tcp, rdma) */
    uint64_t bytes_received_shm;
    uint64_t bytes_received_net;
    uint64_t actors_hosted;    /**< live actors on this rank */
    int      num_cpus;         /**< executor slots (cores) of this rank */
    char     job_dir[256];     /**< this job's directory on the node ("" if none) */
    uint64_t args_forwarded;   /**< task arguments this rank got straight from the rank
                                    whose task made them, without asking their owner */
    uint64_t calls_inline;     /**< actor calls run by the thread waiting for their
                                    result in rmpi_get (RAYMPI_SCHED_CALLER_RUNS) */
    uint64_t tasks_inline;     /**< tasks run by the thread waiting for their result in
                                    rmpi_get (RAYMPI_SCHED_CALLER_RUNS) */
} rmpi_stats_t;

/** This rank's counters into the first size bytes of out (the struct may grow in
 *  later versions; a program built against an older header keeps working). */
RMPI_API int rmpi_stats_get(rmpi_stats_t *out, size_t size);
/** This rank's counters. */
static inline int rmpi_stats(rmpi_stats_t *out)
{
    return rmpi_stats_get(out, sizeof(*out));
}

/**
 * Which UCX transports the endpoint to rank uses, e.g. "posix cma" or "tcp", as a
 * space-separated list in buf.  RMPI_ERR_INVALID_RANK for a bad rank.
 */
RMPI_API int rmpi_peer_transports(int rank, char *buf, size_t size);

#ifdef __cplusplus
}
#endif

#endif /* RAYMPI_H */
