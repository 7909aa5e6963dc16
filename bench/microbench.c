/*
 * microbench - ray-mpi's version of the rows of Ray's microbenchmark
 * (`ray microbenchmark`) that map onto remote tasks and objects, measured with
 * Ray's method: warm up for 1 s, then 4 rounds of at least 2 s; a round calls
 * the benchmark function in steps of (warm-up calls / 10 + 1) until its time is
 * up; its throughput is calls x multiplier / elapsed.  The mean and the
 * (population) standard deviation of the rounds are reported.  Tasks return a
 * tiny value ("ok").
 *
 * Run it like any MPI program: mpirun -n 2 bench/microbench [options].  Rank 0
 * is the driver and the only rank that prints; the other ranks serve tasks.
 * See usage() for the options, and bench/run.sh for the full procedure.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "raympi.h"

/* ---------------------------------------------------------------------------
 * Options
 * --------------------------------------------------------------------------- */

static struct {
    double warmup_s;
    double round_s;
    int rounds;
    size_t put_size;        /* single_client_put_gigabytes */
    size_t remote_size;     /* get_64MiB_remote */
    int batch;              /* tasks per async/batch call, refs per wait call */
    int submitters;         /* multi_client_tasks_async */
    int submitter_tasks;
    double timeout_s;       /* any one get or wait */
    double max_row_s;       /* stop a row after the round that passes this */
    const char *csv;
    const char *only;
    int actor_calls;        /* 1_n / n_n actor rows: calls per actor or submitter */
    int actors;             /* 1_n / n_n actor rows: actors (0: the job's cpus) */
    int create_actors;      /* create_10k_actors */
} opt = {
    .warmup_s = 1.0,
    .round_s = 2.0,
    .rounds = 4,
    .put_size = 800000000,
    .remote_size = 64 << 20,
    .batch = 1000,
    .submitters = 4,
    .submitter_tasks = 10000,
    .timeout_s = 60.0,
    .max_row_s = 120.0,
    .csv = NULL,
    .only = NULL,
    .actor_calls = 5000,
    .actors = 0,
    .create_actors = 10000,
};

static void usage(FILE *f)
{
    fprintf(f,
        "usage: mpirun -n N microbench [options]\n"
        "  --warmup S           warm-up time per row (1.0)\n"
        "  --round-time S       minimum time of a round (2.0)\n"
        "  --rounds N           rounds per row (4)\n"
        "  --put-size BYTES     object size of single_client_put_gigabytes (800000000)\n"
        "  --remote-size BYTES  object size of get_64MiB_remote (67108864)\n"
        "  --batch N            tasks per call of the async/batch/wait rows (1000)\n"
        "  --submitters N       submitter tasks of multi_client_tasks_async (4)\n"
        "  --submitter-tasks N  tasks each submitter submits and gets (10000)\n"
        "  --timeout S          limit of any one get or wait (60)\n"
        "  --max-row-time S     start no further round of a row after S seconds (120);\n"
        "                       a row always has one round\n"
        "  --actor-calls N      calls per actor (1_n) or per submitter (n_n) (5000)\n"
        "  --actors N           actors of the 1_n and n_n rows (0: the job's cpus)\n"
        "  --create-actors N    actors of create_10k_actors (10000)\n"
        "  --only A,B,...       run only these rows\n"
        "  --csv FILE           also write the results as CSV to FILE\n"
        "  --smoke              short run: --warmup 0.05 --round-time 0.1 --rounds 2\n"
        "                       --put-size 16000000 --submitter-tasks 1000\n"
        "  -h, --help           this text\n"
        "Sizes accept K/M/G suffixes (powers of 1024).\n");
}

static int parse_size(const char *s, size_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s)
        return -1;
    switch (*end) {
    case 'k': case 'K': v <<= 10; end++; break;
    case 'm': case 'M': v <<= 20; end++; break;
    case 'g': case 'G': v <<= 30; end++; break;
    default: break;
    }
    if (*end || v == 0)
        return -1;
    *out = (size_t)v;
    return 0;
}

static int parse_double(const char *s, double *out, double min)
{
    char *end;
    double v = strtod(s, &end);
    if (end == s || *end || !(v >= min))
        return -1;
    *out = v;
    return 0;
}

static int parse_int(const char *s, int *out, int min)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (end == s || *end || v < min || v > 1000000000L)
        return -1;
    *out = (int)v;
    return 0;
}

/* 0 on success, 1 for --help, -1 on a bad option (message printed). */
static int parse_args(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        int bad = 0, used = 1;
        if (!strcmp(a, "-h") || !strcmp(a, "--help"))
            return 1;
        if (!strcmp(a, "--smoke")) {
            opt.warmup_s = 0.05;
            opt.round_s = 0.1;
            opt.rounds = 2;
            opt.put_size = 16000000;
            opt.submitter_tasks = 1000;
            opt.actor_calls = 200;
            opt.create_actors = 1000;
            continue;
        }
        if (!v) {
            fprintf(stderr, "microbench: unknown option or missing value: %s\n", a);
            return -1;
        }
        if (!strcmp(a, "--warmup"))
            bad = parse_double(v, &opt.warmup_s, 0);
        else if (!strcmp(a, "--round-time"))
            bad = parse_double(v, &opt.round_s, 0);
        else if (!strcmp(a, "--rounds"))
            bad = parse_int(v, &opt.rounds, 1);
        else if (!strcmp(a, "--put-size"))
            bad = parse_size(v, &opt.put_size);
        else if (!strcmp(a, "--remote-size"))
            bad = parse_size(v, &opt.remote_size);
        else if (!strcmp(a, "--batch"))
            bad = parse_int(v, &opt.batch, 1);
        else if (!strcmp(a, "--submitters"))
            bad = parse_int(v, &opt.submitters, 1);
        else if (!strcmp(a, "--submitter-tasks"))
            bad = parse_int(v, &opt.submitter_tasks, 1);
        else if (!strcmp(a, "--timeout"))
            bad = parse_double(v, &opt.timeout_s, 0);
        else if (!strcmp(a, "--max-row-time"))
            bad = parse_double(v, &opt.max_row_s, 0);
        else if (!strcmp(a, "--actor-calls"))
            bad = parse_int(v, &opt.actor_calls, 1);
        else if (!strcmp(a, "--actors"))
            bad = parse_int(v, &opt.actors, 0);
        else if (!strcmp(a, "--create-actors"))
            bad = parse_int(v, &opt.create_actors, 1);
        else if (!strcmp(a, "--only"))
            opt.only = v;
        else if (!strcmp(a, "--csv"))
            opt.csv = v;
        else
            used = 0;
        if (!used) {
            fprintf(stderr, "microbench: unknown option %s\n", a);
            return -1;
        }
        if (bad) {
            fprintf(stderr, "microbench: bad value for %s: %s\n", a, v);
            return -1;
        }
        i++;
    }
    return 0;
}

static int selected(const char *name)
{
    if (!opt.only)
        return 1;
    size_t n = strlen(name);
    for (const char *p = opt.only; *p;) {
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (len == n && !strncmp(p, name, n))
            return 1;
        if (!e)
            break;
        p = e + 1;
    }
    return 0;
}

/* ---------------------------------------------------------------------------
 * Remote functions (registered on every rank by RMPI_REMOTE)
 * --------------------------------------------------------------------------- */

static const char OK_VALUE[2] = { 'o', 'k' };

/* The tiny task of Ray's benchmark: returns "ok". */
static int small_value(rmpi_task_t *t)
{
    return rmpi_task_return(t, 0, OK_VALUE, sizeof OK_VALUE);
}
RMPI_REMOTE(small_value)

/* Returns an object of arg 0 bytes, written in place. */
static int big_value(rmpi_task_t *t)
{
    int64_t n = rmpi_task_arg_i64(t, 0);
    if (n <= 0)
        return rmpi_task_fail(t, "big_value: bad size %lld", (long long)n);
    char *p = rmpi_task_return_buffer(t, 0, (size_t)n);
    if (!p)
        return RMPI_ERR_NO_MEMORY; /* the runtime has failed the task already */
    memset(p, 0x42, (size_t)n);
    return RMPI_OK;
}
RMPI_REMOTE(big_value)

static int get_ok(rmpi_ref_t ref);

/* A submitter of multi_client_tasks_async: submits arg 0 small_value tasks,
 * then gets them all (Ray's small_value_batch). */
static int small_value_batch(rmpi_task_t *t)
{
    int64_t n = rmpi_task_arg_i64(t, 0);
    if (n <= 0)
        return rmpi_task_fail(t, "small_value_batch: bad count %lld", (long long)n);
    rmpi_ref_t *refs = malloc((size_t)n * sizeof *refs);
    if (!refs)
        return rmpi_task_fail(t, "small_value_batch: out of memory");
    int64_t i, submitted = 0;
    int rc = RMPI_OK;
    for (i = 0; i < n; i++) {
        rc = rmpi_submit("small_value", NULL, 0, NULL, &refs[i]);
        if (rc != RMPI_OK)
            break;
        submitted++;
    }
    if (rc != RMPI_OK) {
        for (i = 0; i < submitted; i++)
            rmpi_release(refs[i]);
        free(refs);
        return rmpi_task_fail(t, "small_value_batch: submit %lld: %s", (long long)submitted,
                              rmpi_status_string(rc));
    }
    int first = RMPI_OK;
    for (i = 0; i < n; i++) {
        rc = get_ok(refs[i]);
        if (rc != RMPI_OK && first == RMPI_OK)
            first = rc;
        rmpi_release(refs[i]);
    }
    free(refs);
    if (first != RMPI_OK)
        return rmpi_task_fail(t, "small_value_batch: get: %s", rmpi_status_string(first));
    return rmpi_task_return(t, 0, OK_VALUE, sizeof OK_VALUE);
}
RMPI_REMOTE(small_value_batch)

/* The actors of the actor rows (Ray's Actor with small_value and small_value_arg). */
static int g_actor_state;
static void *bench_actor_new(rmpi_task_t *t)
{
    return &g_actor_state;
}

static int actor_small_value(void *state, rmpi_task_t *t)
{
    return rmpi_task_return(t, 0, OK_VALUE, sizeof OK_VALUE);
}

static int actor_small_value_arg(void *state, rmpi_task_t *t)
{
    const void *d;
    size_t n;
    if (rmpi_task_arg(t, 0, &d, &n) != RMPI_OK)
        return rmpi_task_fail(t, "small_value_arg: no argument");
    return rmpi_task_return(t, 0, OK_VALUE, sizeof OK_VALUE);
}

__attribute__((constructor)) static void register_bench_actor(void)
{
    rmpi_class_register("BenchActor", bench_actor_new, NULL);
    rmpi_method_register("BenchActor", "small_value", actor_small_value);
    rmpi_method_register("BenchActor", "small_value_arg", actor_small_value_arg);
}

/* A submitter of the n_n rows: arg 0 the actor handles (bytes), arg 1 the calls,
 * arg 2 whether each call takes a put ref argument; calls round-robin, gets all. */
static int actor_submitter(rmpi_task_t *t)
{
    const void *d;
    size_t n;
    if (rmpi_task_arg(t, 0, &d, &n) != RMPI_OK || n == 0 || n % sizeof(rmpi_actor_t))
        return rmpi_task_fail(t, "actor_submitter: bad handles");
    const rmpi_actor_t *actors = d;
    int nact = (int)(n / sizeof(rmpi_actor_t));
    int64_t calls = rmpi_task_arg_i64(t, 1), with_arg = rmpi_task_arg_i64(t, 2);
    rmpi_ref_t *refs = malloc((size_t)calls * sizeof *refs), arg = RMPI_REF_NIL;
    if (!refs)
        return rmpi_task_fail(t, "actor_submitter: out of memory");
    int rc = with_arg ? rmpi_put(OK_VALUE, sizeof OK_VALUE, &arg) : RMPI_OK;
    int64_t i, made = 0;
    for (i = 0; i < calls && rc == RMPI_OK; i++, made++) {
        rmpi_arg_t a = rmpi_ref(arg);
        rc = rmpi_actor_call(actors[i % nact], with_arg ? "small_value_arg" : "small_value",
                             with_arg ? &a : NULL, with_arg ? 1 : 0, NULL, &refs[i]);
    }
    int first = rc;
    for (i = 0; i < made; i++) {
        int r = first == RMPI_OK ? get_ok(refs[i]) : RMPI_OK;
        if (r != RMPI_OK && first == RMPI_OK)
            first = r;
        rmpi_release(refs[i]);
    }
    if (with_arg && arg.hi)
        rmpi_release(arg);
    free(refs);
    if (first != RMPI_OK)
        return rmpi_task_fail(t, "actor_submitter: %s", rmpi_status_string(first));
    return rmpi_task_return(t, 0, OK_VALUE, sizeof OK_VALUE);
}
RMPI_REMOTE(actor_submitter)

/* This rank, its executor slots and its store capacity, as three int64. */
static int rank_info(rmpi_task_t *t)
{
    rmpi_stats_t st;
    int rc = rmpi_stats(&st);
    if (rc != RMPI_OK)
        return rmpi_task_fail(t, "rmpi_stats: %s", rmpi_status_string(rc));
    int64_t v[3] = { rmpi_rank(), st.num_cpus, (int64_t)st.store_capacity };
    return rmpi_task_return(t, 0, v, sizeof v);
}
RMPI_REMOTE(rank_info)

/* ---------------------------------------------------------------------------
 * Helpers of the driver
 * --------------------------------------------------------------------------- */

#define BENCH_ERR_WRONG_VALUE (-1000)

static char g_errmsg[512]; /* detail of the last failure, if any */

static const char *status_text(int rc)
{
    if (rc == BENCH_ERR_WRONG_VALUE)
        return "benchmark: wrong value returned";
    return rmpi_status_string(rc);
}

static void set_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void set_err(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(g_errmsg, sizeof g_errmsg, fmt, ap);
    va_end(ap);
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Get ref and check that it holds "ok". */
static int get_ok(rmpi_ref_t ref)
{
    rmpi_view_t v;
    int rc = rmpi_get(ref, opt.timeout_s, &v);
    if (rc != RMPI_OK) {
        if (rmpi_task_current() == NULL) {
            char msg[256] = "";
            if (rc != RMPI_ERR_TIMEOUT && rmpi_error_message(ref, msg, sizeof msg) == RMPI_OK)
                set_err("rmpi_get: %s (%s)", rmpi_status_string(rc), msg);
            else
                set_err("rmpi_get: %s", rmpi_status_string(rc));
        }
        return rc;
    }
    int good = v.size == sizeof OK_VALUE && v.data && !memcmp(v.data, OK_VALUE, sizeof OK_VALUE);
    if (!good && rmpi_task_current() == NULL)
        set_err("rmpi_get returned %zu bytes, expected \"ok\"", v.size);
    rmpi_view_release(&v);
    return good ? RMPI_OK : BENCH_ERR_WRONG_VALUE;
}

#define CHECK(call)                                                                   \
    do {                                                                              \
        int rc_ = (call);                                                             \
        if (rc_ != RMPI_OK) {                                                         \
            if (!g_errmsg[0])                                                         \
                set_err("%s: %s", #call, status_text(rc_));                           \
            return rc_;                                                               \
        }                                                                             \
    } while (0)

/* ---------------------------------------------------------------------------
 * The rows: one call of each benchmark function
 * --------------------------------------------------------------------------- */

static rmpi_ref_t g_held;      /* single_client_get_calls' object */
static char *g_big;            /* single_client_put_gigabytes' buffer */
static size_t g_big_len;
static rmpi_ref_t *g_refs;     /* batch of refs */
static int *g_ready;

static int setup_get_calls(void)
{
    int64_t zero = 0;
    CHECK(rmpi_put(&zero, sizeof zero, &g_held));
    return RMPI_OK;
}

static void teardown_get_calls(void)
{
    rmpi_release(g_held);
}

/* single_client_get_calls: get of a held small object. */
static int fn_get_calls(void)
{
    rmpi_view_t v;
    CHECK(rmpi_get(g_held, opt.timeout_s, &v));
    if (v.size != sizeof(int64_t)) {
        set_err("rmpi_get of the held object returned %zu bytes, expected 8", v.size);
        rmpi_view_release(&v);
        return BENCH_ERR_WRONG_VALUE;
    }
    rmpi_view_release(&v);
    return RMPI_OK;
}

/* single_client_put_calls: put of a small value, dropped at once. */
static int fn_put_calls(void)
{
    int64_t zero = 0;
    rmpi_ref_t r;
    CHECK(rmpi_put(&zero, sizeof zero, &r));
    CHECK(rmpi_release(r));
    return RMPI_OK;
}

static int setup_put_gigabytes(void)
{
    g_big_len = (opt.put_size + 4095) & ~(size_t)4095;
    g_big = mmap(NULL, g_big_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (g_big == MAP_FAILED) {
        g_big = NULL;
        set_err("cannot map %zu bytes", g_big_len);
        return RMPI_ERR_NO_MEMORY;
    }
    memset(g_big, 0x17, opt.put_size);
    return RMPI_OK;
}

static void teardown_put_gigabytes(void)
{
    if (g_big)
        munmap(g_big, g_big_len);
    g_big = NULL;
}

/* single_client_put_gigabytes: put of a large buffer, dropped at once. */
static int fn_put_gigabytes(void)
{
    rmpi_ref_t r;
    CHECK(rmpi_put(g_big, opt.put_size, &r));
    CHECK(rmpi_release(r));
    return RMPI_OK;
}

/* single_client_tasks_sync: submit one task and get it. */
static int fn_tasks_sync(void)
{
    rmpi_ref_t r;
    CHECK(rmpi_submit("small_value", NULL, 0, NULL, &r));
    int rc = get_ok(r);
    rmpi_release(r);
    return rc;
}

static int submit_batch(int n)
{
    for (int i = 0; i < n; i++) {
        int rc = rmpi_submit("small_value", NULL, 0, NULL, &g_refs[i]);
        if (rc != RMPI_OK) {
            set_err("rmpi_submit (task %d of the batch): %s", i, rmpi_status_string(rc));
            for (int j = 0; j < i; j++)
                rmpi_release(g_refs[j]);
            return rc;
        }
    }
    return RMPI_OK;
}

/* single_client_tasks_async (x batch) and single_client_tasks_and_get_batch
 * (x 1): submit a batch of tasks, then get them all. */
static int fn_tasks_batch(void)
{
    int n = opt.batch, first = RMPI_OK;
    CHECK(submit_batch(n));
    for (int i = 0; i < n; i++) {
        int rc = get_ok(g_refs[i]);
        if (rc != RMPI_OK && first == RMPI_OK)
            first = rc;
        rmpi_release(g_refs[i]);
    }
    return first;
}

/* single_client_wait_1k_refs: submit a batch, then wait for one ready ref at a
 * time, dropping it from the list (as ray.wait(not_ready) with num_returns=1). */
static int fn_wait_refs(void)
{
    int n = opt.batch;
    CHECK(submit_batch(n));
    while (n > 0) {
        int nready = 0;
        int rc = rmpi_wait(g_refs, n, 1, opt.timeout_s, g_ready, &nready);
        if (rc == RMPI_OK && nready < 1)
            rc = RMPI_ERR_TIMEOUT;
        if (rc != RMPI_OK) {
            set_err("rmpi_wait (%d refs left): %s", n, rmpi_status_string(rc));
            for (int i = 0; i < n; i++)
                rmpi_release(g_refs[i]);
            return rc;
        }
        int k = 0;
        while (k < n && !g_ready[k])
            k++;
        if (k == n) {
            set_err("rmpi_wait reported %d ready but set no ready[] flag", nready);
            for (int i = 0; i < n; i++)
                rmpi_release(g_refs[i]);
            return BENCH_ERR_WRONG_VALUE;
        }
        rmpi_release(g_refs[k]);
        memmove(&g_refs[k], &g_refs[k + 1], (size_t)(n - k - 1) * sizeof *g_refs);
        n--;
    }
    return RMPI_OK;
}

/* multi_client_tasks_async: remote submitter tasks, each submitting and getting
 * submitter_tasks small tasks. */
static int fn_multi_client(void)
{
    int m = opt.submitters, first = RMPI_OK, i;
    for (i = 0; i < m; i++) {
        rmpi_arg_t a = rmpi_i64(opt.submitter_tasks);
        int rc = rmpi_submit("small_value_batch", &a, 1, NULL, &g_refs[i]);
        if (rc != RMPI_OK) {
            set_err("rmpi_submit(small_value_batch): %s", rmpi_status_string(rc));
            for (int j = 0; j < i; j++)
                rmpi_release(g_refs[j]);
            return rc;
        }
    }
    for (i = 0; i < m; i++) {
        int rc = get_ok(g_refs[i]);
        if (rc != RMPI_OK && first == RMPI_OK)
            first = rc;
        rmpi_release(g_refs[i]);
    }
    return first;
}

/* ---------------------------------------------------------------------------
 * Actor rows
 * --------------------------------------------------------------------------- */

static rmpi_actor_t *g_actors;
static int g_nactors;
static int g_total_cpus; /* the job's executor cpus (sum over ranks) */

static void kill_actors(void)
{
    for (int i = 0; i < g_nactors; i++)
        rmpi_actor_kill(g_actors[i]);
    free(g_actors);
    g_actors = NULL;
    g_nactors = 0;
}

/* n actors, spread round-robin over the ranks from the last one (the first actor is
 * on another rank than the driver, like Ray's actor process). */
static int make_actors(int n, int max_concurrency)
{
    g_actors = calloc((size_t)n, sizeof *g_actors);
    if (!g_actors)
        return RMPI_ERR_NO_MEMORY;
    for (int i = 0; i < n; i++) {
        rmpi_actor_opts_t o = { .field_mask = RMPI_ACTOR_OPT_RANK | RMPI_ACTOR_OPT_MAX_CONCURRENCY,
                                .rank = (rmpi_size() - 1 + i) % rmpi_size(),
                                .max_concurrency = max_concurrency };
        int rc = rmpi_actor_create("BenchActor", NULL, 0, &o, &g_actors[i]);
        if (rc != RMPI_OK) {
            set_err("rmpi_actor_create: %s", rmpi_status_string(rc));
            g_nactors = i;
            kill_actors();
            return rc;
        }
        g_nactors = i + 1;
    }
    return RMPI_OK;
}

static int nactors(void) { return opt.actors > 0 ? opt.actors : g_total_cpus; }
static int setup_one_actor(void) { return make_actors(1, 1); }
static int setup_one_concurrent_actor(void) { return make_actors(1, 16); }
static int setup_n_actors(void) { return make_actors(nactors(), 1); }

/* n calls spread over the actors, then get them all */
static int call_actors(int n)
{
    int first = RMPI_OK, made;
    for (made = 0; made < n; made++) {
        int rc = rmpi_actor_call(g_actors[made % g_nactors], "small_value", NULL, 0, NULL,
                                 &g_refs[made % opt.batch]);
        if (rc != RMPI_OK) {
            set_err("rmpi_actor_call: %s", rmpi_status_string(rc));
            first = rc;
            break;
        }
        if ((made + 1) % opt.batch == 0) { /* keep at most a batch of refs */
            for (int i = 0; i < opt.batch; i++) {
                int r = get_ok(g_refs[i]);
                if (r != RMPI_OK && first == RMPI_OK)
                    first = r;
                rmpi_release(g_refs[i]);
            }
        }
    }
    for (int i = 0; i < made % opt.batch; i++) {
        int r = get_ok(g_refs[i]);
        if (r != RMPI_OK && first == RMPI_OK)
            first = r;
        rmpi_release(g_refs[i]);
    }
    return first;
}

static int fn_actor_sync(void) { return call_actors(1); }
static int fn_actor_async(void) { return call_actors(opt.batch); }
static int fn_1_n_actor_async(void) { return call_actors(opt.actor_calls * g_nactors); }

/* n_n rows: opt.submitters submitter tasks, each calling round-robin over the actors. */
static int n_n_calls(int with_arg)
{
    rmpi_arg_t a[3] = { rmpi_bytes(g_actors, (size_t)g_nactors * sizeof *g_actors),
                        rmpi_i64(with_arg ? 1000 : opt.actor_calls), rmpi_i64(with_arg) };
    int m = with_arg ? g_nactors : opt.submitters, first = RMPI_OK, i;
    for (i = 0; i < m; i++) {
        int rc = rmpi_submit("actor_submitter", a, 3, NULL, &g_refs[i]);
        if (rc != RMPI_OK) {
            set_err("rmpi_submit(actor_submitter): %s", rmpi_status_string(rc));
            first = rc;
            break;
        }
    }
    for (int j = 0; j < i; j++) {
        int rc = get_ok(g_refs[j]);
        if (rc != RMPI_OK && first == RMPI_OK)
            first = rc;
        rmpi_release(g_refs[j]);
    }
    return first;
}

static int fn_n_n_actor_async(void) { return n_n_calls(0); }
static int fn_n_n_actor_arg_async(void) { return n_n_calls(1); }

/* create_10k_actors: create the actors (the scheduler places them) and call each
 * once; they are killed outside the timed part. */
static int fn_create_actors(void)
{
    int n = opt.create_actors, first = RMPI_OK, made;
    rmpi_actor_t *as = calloc((size_t)n, sizeof *as);
    rmpi_ref_t *rs = calloc((size_t)n, sizeof *rs);
    if (!as || !rs) {
        free(as);
        free(rs);
        return RMPI_ERR_NO_MEMORY;
    }
    for (made = 0; made < n; made++) {
        int rc = rmpi_actor_create("BenchActor", NULL, 0, NULL, &as[made]);
        if (rc == RMPI_OK)
            rc = rmpi_actor_call(as[made], "small_value", NULL, 0, NULL, &rs[made]);
        if (rc != RMPI_OK) {
            set_err("actor %d: %s", made, rmpi_status_string(rc));
            first = rc;
            break;
        }
    }
    for (int i = 0; i < made; i++) {
        int rc = get_ok(rs[i]);
        if (rc != RMPI_OK && first == RMPI_OK)
            first = rc;
        rmpi_release(rs[i]);
    }
    for (int i = 0; i < made; i++)
        rmpi_actor_kill(as[i]);
    free(as);
    free(rs);
    return first;
}

static double mult_1_n(void) { return (double)opt.actor_calls * nactors(); }
static double mult_n_n(void) { return (double)opt.submitters * opt.actor_calls; }
static double mult_n_n_arg(void) { return (double)nactors() * 1000; }
static double mult_create(void) { return opt.create_actors; }

/* ---------------------------------------------------------------------------
 * Ray's timeit
 * --------------------------------------------------------------------------- */

typedef struct {
    const char *name;
    const char *unit;
    double ray;          /* Ray 2.48's published figure, 0 when none */
    double mean, sd;
    int rounds;          /* rounds completed */
    long long calls;     /* calls in the completed rounds */
    int status;          /* RMPI_OK or the failure */
    int skipped;
    char err[512];
    char note[256];
} result_t;

static void finish_stats(result_t *r, const double *v, int n)
{
    double sum = 0, sq = 0;
    for (int i = 0; i < n; i++)
        sum += v[i];
    r->mean = n ? sum / n : 0;
    for (int i = 0; i < n; i++)
        sq += (v[i] - r->mean) * (v[i] - r->mean);
    r->sd = n ? sqrt(sq / n) : 0; /* numpy.std: population deviation */
    r->rounds = n;
}

static void fail(result_t *r, int rc)
{
    r->status = rc;
    if (g_errmsg[0])
        snprintf(r->err, sizeof r->err, "%s", g_errmsg);
    else
        snprintf(r->err, sizeof r->err, "%s", status_text(rc));
}

static void timeit(result_t *r, int (*fn)(void), double multiplier)
{
    double *stats = calloc((size_t)opt.rounds, sizeof *stats);
    double row_start = now(), start = now();
    long long count = 0;
    int rc, n = 0;
    g_errmsg[0] = 0;
    /* warm-up: at least one call */
    do {
        if ((rc = fn()) != RMPI_OK)
            goto failed;
        count++;
    } while (now() - start < opt.warmup_s);
    long long step = count / 10 + 1;
    for (int round = 0; round < opt.rounds; round++) {
        if (round > 0 && now() - row_start > opt.max_row_s) {
            snprintf(r->note, sizeof r->note, "stopped after %d of %d rounds (--max-row-time %g s)",
                     n, opt.rounds, opt.max_row_s);
            break;
        }
        count = 0;
        start = now();
        do {
            for (long long i = 0; i < step; i++)
                if ((rc = fn()) != RMPI_OK)
                    goto failed;
            count += step;
        } while (now() - start < opt.round_s);
        double end = now();
        stats[n++] = multiplier * (double)count / (end - start);
        r->calls += count;
    }
    finish_stats(r, stats, n);
    free(stats);
    return;
failed:
    finish_stats(r, stats, n);
    fail(r, rc);
    free(stats);
}

/* get_64MiB_remote: a task pinned to rank 1 returns remote_size bytes; the
 * driver waits until it is ready, then only its rmpi_get is timed.  A round's
 * throughput is bytes got / time inside rmpi_get. */
static int remote_get_once(double *get_s, uint64_t *rx_bytes)
{
    rmpi_opts_t o = { .field_mask = RMPI_OPT_RANK, .rank = 1 };
    rmpi_arg_t a = rmpi_i64((int64_t)opt.remote_size);
    rmpi_ref_t ref;
    CHECK(rmpi_submit("big_value", &a, 1, &o, &ref));
    int ready = 0, nready = 0;
    int rc = rmpi_wait(&ref, 1, 1, opt.timeout_s, &ready, &nready);
    if (rc == RMPI_OK && nready != 1)
        rc = RMPI_ERR_TIMEOUT;
    if (rc != RMPI_OK) {
        set_err("rmpi_wait(big_value): %s", rmpi_status_string(rc));
        rmpi_release(ref);
        return rc;
    }
    rmpi_stats_t s0, s1;
    rmpi_stats(&s0);
    rmpi_view_t v;
    double t0 = now();
    rc = rmpi_get(ref, opt.timeout_s, &v);
    double t1 = now();
    rmpi_stats(&s1);
    if (rc != RMPI_OK) {
        char msg[256] = "";
        if (rmpi_error_message(ref, msg, sizeof msg) == RMPI_OK)
            set_err("rmpi_get(big_value): %s (%s)", rmpi_status_string(rc), msg);
        else
            set_err("rmpi_get(big_value): %s", rmpi_status_string(rc));
        rmpi_release(ref);
        return rc;
    }
    const unsigned char *p = v.data;
    int good = v.size == opt.remote_size && p && p[0] == 0x42 && p[v.size / 2] == 0x42 &&
               p[v.size - 1] == 0x42;
    if (!good)
        set_err("rmpi_get(big_value) returned %zu bytes (expected %zu of 0x42)", v.size,
                opt.remote_size);
    rmpi_view_release(&v);
    rmpi_release(ref);
    *get_s += t1 - t0;
    *rx_bytes += s1.bytes_received - s0.bytes_received;
    return good ? RMPI_OK : BENCH_ERR_WRONG_VALUE;
}

static void time_remote_get(result_t *r)
{
    double *stats = calloc((size_t)opt.rounds, sizeof *stats);
    double row_start = now(), start = now(), get_s = 0;
    uint64_t rx = 0, rx_total = 0;
    long long count = 0;
    int rc, n = 0;
    g_errmsg[0] = 0;
    do {
        if ((rc = remote_get_once(&get_s, &rx)) != RMPI_OK)
            goto failed;
        count++;
    } while (now() - start < opt.warmup_s);
    long long step = count / 10 + 1;
    for (int round = 0; round < opt.rounds; round++) {
        if (round > 0 && now() - row_start > opt.max_row_s) {
            snprintf(r->note, sizeof r->note, "stopped after %d of %d rounds (--max-row-time %g s)",
                     n, opt.rounds, opt.max_row_s);
            break;
        }
        count = 0;
        get_s = 0;
        rx = 0;
        start = now();
        do {
            for (long long i = 0; i < step; i++)
                if ((rc = remote_get_once(&get_s, &rx)) != RMPI_OK)
                    goto failed;
            count += step;
        } while (now() - start < opt.round_s);
        stats[n++] = (double)opt.remote_size * (double)count / get_s / 1e9;
        r->calls += count;
        rx_total += rx;
    }
    finish_stats(r, stats, n);
    if (r->calls > 0) {
        size_t len = strlen(r->note);
        snprintf(r->note + len, sizeof r->note - len, "%sbytes_received grew %.1f MiB per timed get",
                 len ? "; " : "", (double)rx_total / (double)r->calls / 1048576.0);
    }
    free(stats);
    return;
failed:
    finish_stats(r, stats, n);
    fail(r, rc);
    free(stats);
}

/* ---------------------------------------------------------------------------
 * Output
 * --------------------------------------------------------------------------- */

static void fmt_num(char *buf, size_t size, double v)
{
    if (v >= 1000)
        snprintf(buf, size, "%.0f", v);
    else if (v >= 10)
        snprintf(buf, size, "%.1f", v);
    else
        snprintf(buf, size, "%.2f", v);
}

static void print_row(const result_t *r)
{
    char mean[32], sd[32], ray[32], ratio[32];
    if (r->skipped) {
        printf("%-34s %14s %12s  %-5s %10s %9s  skipped: %s\n", r->name, "-", "-", r->unit, "-", "-",
               r->note);
        return;
    }
    if (r->status != RMPI_OK && r->rounds == 0) {
        printf("%-34s %14s %12s  %-5s %10s %9s  FAILED: %s\n", r->name, "-", "-", r->unit, "-", "-",
               r->err);
        return;
    }
    fmt_num(mean, sizeof mean, r->mean);
    fmt_num(sd, sizeof sd, r->sd);
    if (r->ray > 0) {
        fmt_num(ray, sizeof ray, r->ray);
        snprintf(ratio, sizeof ratio, "%.2fx", r->mean / r->ray);
    } else {
        snprintf(ray, sizeof ray, "-");
        snprintf(ratio, sizeof ratio, "-");
    }
    printf("%-34s %14s %12s  %-5s %10s %9s", r->name, mean, sd, r->unit, ray, ratio);
    if (r->status != RMPI_OK)
        printf("  FAILED after %d rounds: %s", r->rounds, r->err);
    if (r->note[0])
        printf("  (%s)", r->note);
    printf("\n");
    fflush(stdout);
}

/* CSV field without commas, quotes or newlines. */
static void csv_text(FILE *f, const char *s)
{
    for (; *s; s++)
        fputc(*s == ',' ? ';' : (*s == '"' || *s == '\n') ? ' ' : *s, f);
}

/* The CSV is written row by row, so that a run cut short keeps its rows. */
static FILE *csv_open(const char *path, int size, const char *cpus, const char *store,
                      const char *transports)
{
    FILE *f = fopen(path, "w");
    if (!f) {
        fprintf(stderr, "microbench: cannot write %s: %s\n", path, strerror(errno));
        return NULL;
    }
    fprintf(f, "# ranks=%d\n# cpus_per_rank=%s\n# store_mib_per_rank=%s\n# transports=%s\n", size,
            cpus, store, transports);
    fprintf(f, "# warmup_s=%g round_s=%g rounds=%d put_size=%zu remote_size=%zu batch=%d "
               "submitters=%d submitter_tasks=%d\n",
            opt.warmup_s, opt.round_s, opt.rounds, opt.put_size, opt.remote_size, opt.batch,
            opt.submitters, opt.submitter_tasks);
    fprintf(f, "name,mean,stddev,unit,ray_2_48,ratio,rounds,calls,status,note\n");
    fflush(f);
    return f;
}

static void csv_row(FILE *f, const result_t *r)
{
    const char *status = r->skipped ? "skipped" : r->status == RMPI_OK ? "ok" : "failed";
    if (r->skipped || r->rounds == 0)
        fprintf(f, "%s,,,%s,%g,,0,0,%s,", r->name, r->unit, r->ray, status);
    else if (r->ray > 0)
        fprintf(f, "%s,%.6g,%.6g,%s,%g,%.4f,%d,%lld,%s,", r->name, r->mean, r->sd, r->unit,
                r->ray, r->mean / r->ray, r->rounds, r->calls, status);
    else
        fprintf(f, "%s,%.6g,%.6g,%s,,,%d,%lld,%s,", r->name, r->mean, r->sd, r->unit,
                r->rounds, r->calls, status);
    if (r->status != RMPI_OK) {
        csv_text(f, r->err);
        if (r->note[0])
            fputs("; ", f);
    }
    csv_text(f, r->note);
    fputc('\n', f);
    fflush(f);
}

/* ---------------------------------------------------------------------------
 * Driver
 * --------------------------------------------------------------------------- */

enum { ROW_TIMEIT, ROW_REMOTE_GET };

typedef struct {
    const char *name;
    const char *unit;
    double ray;
    int kind;
    int (*fn)(void);
    double (*multiplier)(void);
    int (*setup)(void);
    void (*teardown)(void);
} row_t;

static double mult_one(void) { return 1; }
static double mult_batch(void) { return opt.batch; }
static double mult_put(void) { return (double)opt.put_size / 1e9; }
static double mult_multi(void) { return (double)opt.submitters * opt.submitter_tasks; }

static const row_t ROWS[] = {
    { "single_client_get_calls", "/s", 10620, ROW_TIMEIT, fn_get_calls, mult_one,
      setup_get_calls, teardown_get_calls },
    { "single_client_put_calls", "/s", 5173, ROW_TIMEIT, fn_put_calls, mult_one, NULL, NULL },
    { "single_client_put_gigabytes", "GB/s", 19.9, ROW_TIMEIT, fn_put_gigabytes, mult_put,
      setup_put_gigabytes, teardown_put_gigabytes },
    { "single_client_tasks_sync", "/s", 981, ROW_TIMEIT, fn_tasks_sync, mult_one, NULL, NULL },
    { "single_client_tasks_async", "/s", 8041, ROW_TIMEIT, fn_tasks_batch, mult_batch, NULL,
      NULL },
    { "single_client_tasks_and_get_batch", "/s", 5.8, ROW_TIMEIT, fn_tasks_batch, mult_one,
      NULL, NULL },
    { "single_client_wait_1k_refs", "/s", 5.08, ROW_TIMEIT, fn_wait_refs, mult_one, NULL,
      NULL },
    { "multi_client_tasks_async", "/s", 21230, ROW_TIMEIT, fn_multi_client, mult_multi, NULL,
      NULL },
    { "get_64MiB_remote", "GB/s", 0, ROW_REMOTE_GET, NULL, NULL, NULL, NULL },
    { "1_1_actor_calls_sync", "/s", 2012, ROW_TIMEIT, fn_actor_sync, mult_one,
      setup_one_actor, kill_actors },
    { "1_1_actor_calls_async", "/s", 8664, ROW_TIMEIT, fn_actor_async, mult_batch,
      setup_one_actor, kill_actors },
    { "1_1_actor_calls_concurrent", "/s", 5775, ROW_TIMEIT, fn_actor_async, mult_batch,
      setup_one_concurrent_actor, kill_actors },
    { "1_n_actor_calls_async", "/s", 8038, ROW_TIMEIT, fn_1_n_actor_async, mult_1_n,
      setup_n_actors, kill_actors },
    { "n_n_actor_calls_async", "/s", 27376, ROW_TIMEIT, fn_n_n_actor_async, mult_n_n,
      setup_n_actors, kill_actors },
    { "n_n_actor_calls_with_arg_async", "/s", 2759, ROW_TIMEIT, fn_n_n_actor_arg_async,
      mult_n_n_arg, setup_n_actors, kill_actors },
    { "create_10k_actors", "/s", 551, ROW_TIMEIT, fn_create_actors, mult_create, NULL, NULL },
};
#define NROWS ((int)(sizeof ROWS / sizeof ROWS[0]))

/* cpus: "0:2 1:2" (rank:num_cpus) and store: "0:4096 1:4096" (rank:MiB of store
 * capacity) from a rank_info task pinned to each rank; tr: the transports from
 * rank 0 to each other rank. */
static void describe_ranks(int size, char *cpus, size_t cpus_size, char *store,
                           size_t store_size, char *tr, size_t tr_size)
{
    size_t used = 0, tused = 0, sused = 0;
    cpus[0] = tr[0] = store[0] = 0;
    for (int r = 0; r < size; r++) {
        rmpi_opts_t o = { .field_mask = RMPI_OPT_RANK, .rank = r };
        rmpi_ref_t ref;
        char item[64];
        int rc = rmpi_submit("rank_info", NULL, 0, &o, &ref);
        rmpi_view_t v = { 0 };
        int64_t x[3] = { -1, -1, -1 };
        size_t got = 0;
        if (rc == RMPI_OK) {
            rc = rmpi_get(ref, opt.timeout_s, &v);
            if (rc == RMPI_OK) {
                got = v.size;
                if (got == sizeof x)
                    memcpy(x, v.data, sizeof x);
                rmpi_view_release(&v);
            }
            rmpi_release(ref);
        }
        if (rc == RMPI_OK && got == sizeof x)
            snprintf(item, sizeof item, "%s%lld:%lld", r ? " " : "", (long long)x[0],
                     (long long)x[1]);
        else
            snprintf(item, sizeof item, "%s%d:? (%s)", r ? " " : "", r,
                     rc == RMPI_OK ? "bad reply" : rmpi_status_string(rc));
        char sitem[64];
        if (rc == RMPI_OK && got == sizeof x)
            snprintf(sitem, sizeof sitem, "%s%lld:%.0f", r ? " " : "", (long long)x[0],
                     (double)x[2] / 1048576.0);
        else
            snprintf(sitem, sizeof sitem, "%s%d:?", r ? " " : "", r);
        sused += (size_t)snprintf(store + sused, sused < store_size ? store_size - sused : 0,
                                  "%s", sitem);
        if (sused >= store_size)
            sused = store_size - 1;
        used += (size_t)snprintf(cpus + used, used < cpus_size ? cpus_size - used : 0, "%s", item);
        if (used >= cpus_size)
            used = cpus_size - 1;
        if (r > 0) {
            char t[128];
            rc = rmpi_peer_transports(r, t, sizeof t);
            tused += (size_t)snprintf(tr + tused, tused < tr_size ? tr_size - tused : 0,
                                      "%s0->%d:%s", r > 1 ? "; " : "", r,
                                      rc == RMPI_OK ? t : rmpi_status_string(rc));
            if (tused >= tr_size)
                tused = tr_size - 1;
        }
    }
    if (size == 1)
        snprintf(tr, tr_size, "none (one rank)");
}

int main(int argc, char **argv)
{
    int rc = rmpi_init(&argc, &argv);
    if (rc == RMPI_WORKER_DONE)
        return rmpi_finalize() == RMPI_OK ? 0 : 1;
    if (rc != RMPI_OK) {
        fprintf(stderr, "microbench: rmpi_init: %s\n", rmpi_status_string(rc));
        return 1;
    }
    int pr = parse_args(argc, argv);
    if (pr != 0) {
        usage(pr > 0 ? stdout : stderr);
        rmpi_finalize();
        return pr > 0 ? 0 : 2;
    }

    int size = rmpi_size();
    int cap = opt.batch > opt.submitters ? opt.batch : opt.submitters;
    g_refs = calloc((size_t)cap, sizeof *g_refs);
    g_ready = calloc((size_t)cap, sizeof *g_ready);
    if (!g_refs || !g_ready) {
        fprintf(stderr, "microbench: out of memory\n");
        rmpi_finalize();
        return 1;
    }

    char cpus[1024], store[1024], transports[2048];
    describe_ranks(size, cpus, sizeof cpus, store, sizeof store, transports, sizeof transports);
    for (const char *p = cpus; (p = strchr(p, ':')) != NULL; p++)
        g_total_cpus += atoi(p + 1);
    if (g_total_cpus < 1)
        g_total_cpus = 1;
    int need = nactors() > cap ? nactors() : cap;
    if (need > cap) {
        rmpi_ref_t *nr = realloc(g_refs, (size_t)need * sizeof *g_refs);
        if (nr)
            g_refs = nr;
    }
    printf("ray-mpi %d.%d.%d microbenchmark: %d ranks; CPUs per rank (rank:cpus): %s\n",
           RMPI_VERSION_MAJOR, RMPI_VERSION_MINOR, RMPI_VERSION_PATCH, size, cpus);
    printf("store capacity per rank (rank:MiB): %s\n", store);
    printf("transports: %s\n", transports);
    printf("method: %.3g s warm-up, %d rounds of >= %.3g s; put %zu B, remote get %zu B, "
           "batch %d, %d submitters x %d tasks\n\n",
           opt.warmup_s, opt.rounds, opt.round_s, opt.put_size, opt.remote_size, opt.batch,
           opt.submitters, opt.submitter_tasks);
    printf("%-34s %14s %12s  %-5s %10s %9s\n", "name", "mean", "stddev", "unit", "Ray 2.48",
           "ratio");
    fflush(stdout);
    FILE *csv = opt.csv ? csv_open(opt.csv, size, cpus, store, transports) : NULL;
    if (csv) { /* the rows this run will try, so that a reader can tell which are missing */
        const char *sep = "";
        fputs("# rows=", csv);
        for (int i = 0; i < NROWS; i++)
            if (selected(ROWS[i].name)) {
                fprintf(csv, "%s%s", sep, ROWS[i].name);
                sep = ",";
            }
        fputc('\n', csv);
        fflush(csv);
    }

    result_t results[NROWS];
    int nres = 0, failures = 0;
    for (int i = 0; i < NROWS; i++) {
        const row_t *row = &ROWS[i];
        if (!selected(row->name))
            continue;
        result_t *r = &results[nres++];
        memset(r, 0, sizeof *r);
        r->name = row->name;
        r->unit = row->unit;
        r->ray = row->ray;
        if (row->kind == ROW_REMOTE_GET) {
            if (size < 2) {
                r->skipped = 1;
                snprintf(r->note, sizeof r->note, "needs at least 2 ranks");
            } else {
                time_remote_get(r);
            }
        } else {
            g_errmsg[0] = 0;
            rc = row->setup ? row->setup() : RMPI_OK;
            if (rc != RMPI_OK) {
                fail(r, rc);
            } else {
                timeit(r, row->fn, row->multiplier());
                if (row->teardown)
                    row->teardown();
            }
        }
        if (r->status != RMPI_OK)
            failures++;
        print_row(r);
        if (csv)
            csv_row(csv, r);
    }
    if (csv)
        fclose(csv);
    free(g_refs);
    free(g_ready);
    rc = rmpi_finalize();
    if (rc != RMPI_OK) {
        fprintf(stderr, "microbench: rmpi_finalize: %s\n", rmpi_status_string(rc));
        return 1;
    }
    return failures ? 1 : 0;
}
