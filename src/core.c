/*
 * Lifecycle and registry: rmpi_init brings a rank up (configuration, transport,
 * start-up exchange with the registry check, executors, progress thread);
 * rmpi_finalize brings the job down from the driver.
 */
#include "core.h"
#include "boot.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

rmpi_rt_t rmpi__rt = {.rank = -1};

/* ------------------------------------------------------------------------------
 * Registry
 * ------------------------------------------------------------------------------ */

static struct {
    rmpi_fentry_t *v;
    int            n, cap;
    rmpi_centry_t *c;
    int            nc, ccap;
    char           dup[256]; /* first name registered twice: rmpi_init reports it */
} reg;

static void note_dup(const char *what)
{
    rmpi_warn(CORE, "%s registered twice", what);
    if (reg.dup[0] == '\0')
        snprintf(reg.dup, sizeof(reg.dup), "%.250s", what);
}

static int valid_name(const char *name)
{
    return name != NULL && name[0] != '\0' && strlen(name) <= 255 && strchr(name, '.') == NULL;
}

/* Room for one more of n entries of size bytes in *v (capacity *cap, first when empty). */
static int reserve(void **v, int *cap, int n, size_t size, int first)
{
    if (n < *cap)
        return RMPI_OK;
    int ncap = *cap ? *cap * 2 : first;
    void *nv = realloc(*v, (size_t)ncap * size);
    if (nv == NULL)
        return RMPI_ERR_NO_MEMORY;
    *v = nv;
    *cap = ncap;
    return RMPI_OK;
}

static int register_fn(const char *name, rmpi_fn_t fn, int nargs)
{
    if (rmpi__rt.initialized)
        return RMPI_ERR_ALREADY_INITIALIZED;
    if (name == NULL || name[0] == '\0' || strlen(name) > 255 || fn == NULL ||
        (nargs < 0 && nargs != RMPI_NARGS_ANY) || nargs > 65535)
        return RMPI_ERR_INVALID_ARG;
    for (int i = 0; i < reg.n; i++) {
        if (strcmp(reg.v[i].name, name) == 0) {
            char what[300];
            snprintf(what, sizeof(what), "remote function '%s'", name);
            note_dup(what);
            return RMPI_ERR_NAME_EXISTS;
        }
    }
    if (reserve((void **)&reg.v, &reg.cap, reg.n, sizeof(*reg.v), 32) != RMPI_OK)
        return RMPI_ERR_NO_MEMORY;
    reg.v[reg.n].name = strdup(name);
    if (reg.v[reg.n].name == NULL)
        return RMPI_ERR_NO_MEMORY;
    reg.v[reg.n].fn = fn;
    reg.v[reg.n].nargs = nargs;
    atomic_init(&reg.v[reg.n].run_us, UINT32_MAX);
    reg.n++;
    return RMPI_OK;
}

int rmpi_register(const char *name, rmpi_fn_t fn)
{
    return register_fn(name, fn, RMPI_NARGS_ANY);
}

int rmpi_register_nargs(const char *name, rmpi_fn_t fn, int nargs)
{
    return register_fn(name, fn, nargs);
}

static rmpi_centry_t *find_class_reg(const char *cls)
{
    for (int i = 0; i < reg.nc; i++)
        if (strcmp(reg.c[i].name, cls) == 0)
            return &reg.c[i];
    return NULL;
}

int rmpi_class_register(const char *cls, rmpi_ctor_t ctor, rmpi_dtor_t dtor)
{
    if (rmpi__rt.initialized)
        return RMPI_ERR_ALREADY_INITIALIZED;
    if (!valid_name(cls) || ctor == NULL)
        return RMPI_ERR_INVALID_ARG;
    if (find_class_reg(cls) != NULL) {
        char what[300];
        snprintf(what, sizeof(what), "actor class '%s'", cls);
        note_dup(what);
        return RMPI_ERR_NAME_EXISTS;
    }
    if (reserve((void **)&reg.c, &reg.ccap, reg.nc, sizeof(*reg.c), 8) != RMPI_OK)
        return RMPI_ERR_NO_MEMORY;
    rmpi_centry_t *c = &reg.c[reg.nc];
    memset(c, 0, sizeof(*c));
    c->name = strdup(cls);
    if (c->name == NULL)
        return RMPI_ERR_NO_MEMORY;
    c->ctor = ctor;
    c->dtor = dtor;
    reg.nc++;
    return RMPI_OK;
}

int rmpi_method_register_nargs(const char *cls, const char *method, rmpi_method_t m, int nargs)
{
    if (rmpi__rt.initialized)
        return RMPI_ERR_ALREADY_INITIALIZED;
    if (cls == NULL || !valid_name(method) || m == NULL ||
        (nargs < 0 && nargs != RMPI_NARGS_ANY) || nargs > 65535)
        return RMPI_ERR_INVALID_ARG;
    rmpi_centry_t *c = find_class_reg(cls);
    if (c == NULL)
        return RMPI_ERR_UNKNOWN_CLASS;
    for (int i = 0; i < c->nmethods; i++) {
        if (strcmp(c->methods[i].name, method) == 0) {
            char what[600];
            snprintf(what, sizeof(what), "method '%s.%s'", cls, method);
            note_dup(what);
            return RMPI_ERR_NAME_EXISTS;
        }
    }
    if (reserve((void **)&c->methods, &c->cap, c->nmethods, sizeof(*c->methods), 8) != RMPI_OK)
        return RMPI_ERR_NO_MEMORY;
    c->methods[c->nmethods].name = strdup(method);
    if (c->methods[c->nmethods].name == NULL)
        return RMPI_ERR_NO_MEMORY;
    c->methods[c->nmethods].fn = m;
    c->methods[c->nmethods].nargs = nargs;
    atomic_init(&c->methods[c->nmethods].waited, 0);
    atomic_init(&c->methods[c->nmethods].run_us, UINT32_MAX);
    c->nmethods++;
    return RMPI_OK;
}

int rmpi_method_register(const char *cls, const char *method, rmpi_method_t m)
{
    return rmpi_method_register_nargs(cls, method, m, RMPI_NARGS_ANY);
}

static int cmp_centry(const void *a, const void *b)
{
    return strcmp(((const rmpi_centry_t *)a)->name, ((const rmpi_centry_t *)b)->name);
}

static int cmp_mentry(const void *a, const void *b)
{
    return strcmp(((const rmpi_mentry_t *)a)->name, ((const rmpi_mentry_t *)b)->name);
}

/* Registry arrays are sorted by name and every entry starts with its name. */
static int cmp_name_key(const void *key, const void *entry)
{
    return strcmp(key, *(char *const *)entry);
}

int rmpi__name_lookup(const void *sorted, int n, size_t size, const char *name)
{
    const char *e = n > 0 ? bsearch(name, sorted, (size_t)n, size, cmp_name_key) : NULL;
    return e != NULL ? (int)((e - (const char *)sorted) / (ptrdiff_t)size) : -1;
}

int rmpi__class_lookup(const char *name)
{
    return rmpi__name_lookup(rmpi__rt.classes, rmpi__rt.nclasses, sizeof(rmpi_centry_t), name);
}

int rmpi__method_lookup(int cls, const char *name)
{
    const rmpi_centry_t *c = &rmpi__rt.classes[cls];
    return rmpi__name_lookup(c->methods, c->nmethods, sizeof(rmpi_mentry_t), name);
}

static int cmp_fentry(const void *a, const void *b)
{
    return strcmp(((const rmpi_fentry_t *)a)->name, ((const rmpi_fentry_t *)b)->name);
}

const char *rmpi__fn_name(uint32_t fn)
{
    return fn < (uint32_t)rmpi__rt.nfns ? rmpi__rt.fns[fn].name : "?";
}

/* ------------------------------------------------------------------------------
 * Start-up data of one rank
 * ------------------------------------------------------------------------------ */

#define BLOB_MAGIC 0x726d7069u /* "rmpi" */

typedef struct {
    uint32_t magic;
    uint32_t version;
    uint32_t ncores;        /* cores in the rank's cpuset */
    uint32_t cpus_override; /* RAYMPI_SCHED_NUM_CPUS or SLURM_CPUS_PER_TASK, else 0 */
    uint32_t nfns;
    uint32_t addrlen;
    uint32_t nameslen;
    uint32_t dup;           /* 1: a name was registered twice (reg.dup) */
    uint64_t reghash;
    char     host[64];
    char     cpuset[128];
} blob_hdr_t;

typedef struct {
    uint64_t h;
    char    *buf;
    size_t   len, cap;
} reghash_t;

/* One registry entry: its name (classes as "@Class", methods as "@Class.method")
 * and argument count go into the hash and the list of names. */
static void reghash_add(reghash_t *r, const char *prefix, const char *name, const char *suffix,
                        int nargs)
{
    char item[600];
    int n = snprintf(item, sizeof(item), "%s%s%s%s", prefix, name, suffix[0] ? "." : "", suffix);
    for (int i = 0; i <= n; i++)
        r->h = (r->h ^ (uint8_t)item[i]) * 1099511628211ull;
    r->h = (r->h ^ (uint64_t)(nargs + 2)) * 1099511628211ull;
    if (r->len + (size_t)n + 1 > r->cap) {
        size_t cap = (r->cap + (size_t)n + 1) * 2;
        char *b = realloc(r->buf, cap);
        if (b == NULL)
            return;
        r->buf = b;
        r->cap = cap;
    }
    memcpy(r->buf + r->len, item, (size_t)n + 1);
    r->len += (size_t)n + 1;
}

static uint64_t registry_hash(char **names_out, size_t *len_out)
{
    reghash_t r = {1469598103934665603ull, NULL, 0, 0};

    for (int i = 0; i < rmpi__rt.nfns; i++)
        reghash_add(&r, "", rmpi__rt.fns[i].name, "", rmpi__rt.fns[i].nargs);
    for (int i = 0; i < rmpi__rt.nclasses; i++) {
        const rmpi_centry_t *c = &rmpi__rt.classes[i];
        reghash_add(&r, "@", c->name, "", c->dtor != NULL);
        for (int m = 0; m < c->nmethods; m++)
            reghash_add(&r, "@", c->name, c->methods[m].name, c->methods[m].nargs);
    }
    *names_out = r.buf;
    *len_out = r.len;
    return r.h;
}

static int cpus_override(char *why, size_t len)
{
    if (rmpi__cfg.num_cpus > 0) {
        snprintf(why, len, "RAYMPI_SCHED_NUM_CPUS");
        return rmpi__cfg.num_cpus;
    }
    const char *s = getenv("SLURM_CPUS_PER_TASK");
    if (s != NULL && atoi(s) > 0) {
        snprintf(why, len, "SLURM_CPUS_PER_TASK");
        return atoi(s);
    }
    return 0;
}

static int name_in(const char *name, const char *names, size_t len)
{
    for (size_t off = 0; off < len; off += strlen(names + off) + 1)
        if (strcmp(names + off, name) == 0)
            return 1;
    return 0;
}

/* Names in a but not in b, as "'x', 'y'" (truncated). */
static void names_missing(const char *a, size_t alen, const char *b, size_t blen, char *out,
                          size_t outlen)
{
    out[0] = '\0';
    for (size_t off = 0; off < alen; off += strlen(a + off) + 1) {
        if (name_in(a + off, b, blen))
            continue;
        size_t used = strlen(out);
        snprintf(out + used, outlen - used, "%s'%s'", used ? ", " : "", a + off);
    }
}

static int check_registries(const rmpi_boot_t *b, char *err, size_t errlen)
{
    const blob_hdr_t *h0 = b->blobs[0];
    const char *names0 = (const char *)(h0 + 1) + h0->addrlen;
    char ranks[256] = "";
    int bad = -1, nbad = 0;

    for (int r = 1; r < b->size; r++) {
        const blob_hdr_t *h = b->blobs[r];
        if (h->reghash == h0->reghash && h->nfns == h0->nfns)
            continue;
        if (bad < 0)
            bad = r;
        nbad++;
        size_t used = strlen(ranks);
        if (used < sizeof(ranks) - 16)
            snprintf(ranks + used, sizeof(ranks) - used, "%s%d", used ? ", " : "", r);
    }
    if (bad < 0)
        return RMPI_OK;
    const blob_hdr_t *hb = b->blobs[bad];
    const char *namesb = (const char *)(hb + 1) + hb->addrlen;
    char extra[256], missing[256];
    names_missing(namesb, hb->nameslen, names0, h0->nameslen, extra, sizeof(extra));
    names_missing(names0, h0->nameslen, namesb, hb->nameslen, missing, sizeof(missing));
    snprintf(err, errlen,
             "ranks registered different remote functions or actor classes: rank 0 has %u, "
             "rank%s %s differ%s; "
             "rank %d has %u%s%s%s%s%s",
             h0->nfns, nbad > 1 ? "s" : "", ranks, nbad > 1 ? "" : "s", bad, hb->nfns,
             extra[0] ? ", extra: " : "", extra, missing[0] ? ", missing: " : "", missing,
             !extra[0] && !missing[0] ? " (same names, other argument counts)" : "");
    return RMPI_ERR_REGISTRY_MISMATCH;
}

static uint64_t default_capacity(int local_ranks)
{
    long pages = sysconf(_SC_PHYS_PAGES), psize = sysconf(_SC_PAGESIZE);
    uint64_t mem = pages > 0 && psize > 0 ? (uint64_t)pages * (uint64_t)psize : (4ull << 30);
    return mem * 3 / 10 / (uint64_t)(local_ranks > 0 ? local_ranks : 1);
}

/* ------------------------------------------------------------------------------
 * Init and finalize
 * ------------------------------------------------------------------------------ */

static __thread rmpi_waiter_t thread_waiter;
static __thread int           thread_waiter_ready;

rmpi_waiter_t *rmpi__thread_waiter(void)
{
    if (!thread_waiter_ready) {
        rmpi__waiter_init(&thread_waiter);
        thread_waiter_ready = 1;
    }
    return &thread_waiter;
}

static void free_runtime(void)
{
    free(rmpi__rt.ncpus);
    free(rmpi__rt.inflight);
    free(rmpi__rt.qlen);
    free((void *)rmpi__rt.acked);
    rmpi__rt.ncpus = NULL;
    rmpi__rt.inflight = NULL;
    rmpi__rt.qlen = NULL;
    rmpi__rt.acked = NULL;
    free(rmpi__rt.fns);
    rmpi__rt.fns = NULL;
    rmpi__rt.nfns = 0;
    free(rmpi__rt.classes); /* the method arrays belong to the registry */
    rmpi__rt.classes = NULL;
    rmpi__rt.nclasses = 0;
}

static int worker_serve(void);

/* An idle executor's poll: a pass of progress; < 0 (yield) also when a thread of
 * this rank polls in a wait, e.g. the driver in a synchronous get: polling beside it
 * without yielding would keep from it the core it needs to see the result (2 ranks,
 * synchronous tasks: 152,000/s against 30,000/s). */
static int exec_poll(void)
{
    int n = rmpi__tp_help();
    return n == 0 && rmpi__waiters_polling() > 0 ? -1 : n;
}

int rmpi_init(int *argc, char ***argv)
{
    char err[1024] = "";
    char why[64] = "";
    char cpuset[128];
    void *addr = NULL;
    size_t addrlen = 0, nameslen = 0;
    char *names = NULL;
    rmpi_boot_t boot;
    int ncores, rc;

    if (rmpi__rt.initialized)
        return RMPI_ERR_ALREADY_INITIALIZED;
    rc = rmpi__config_load(err, sizeof(err));
    if (rc != RMPI_OK) {
        rmpi_error(CORE, "%s", err);
        return rc;
    }
    /* The registry, sorted so every rank numbers the functions alike. */
    rmpi__rt.fns = malloc((size_t)(reg.n ? reg.n : 1) * sizeof(*rmpi__rt.fns));
    if (rmpi__rt.fns == NULL)
        return RMPI_ERR_NO_MEMORY;
    if (reg.n > 0) {
        memcpy(rmpi__rt.fns, reg.v, (size_t)reg.n * sizeof(*reg.v));
        qsort(rmpi__rt.fns, (size_t)reg.n, sizeof(*rmpi__rt.fns), cmp_fentry);
    }
    rmpi__rt.nfns = reg.n;
    rmpi__rt.classes = malloc((size_t)(reg.nc ? reg.nc : 1) * sizeof(*rmpi__rt.classes));
    if (rmpi__rt.classes == NULL)
        return RMPI_ERR_NO_MEMORY;
    if (reg.nc > 0) {
        memcpy(rmpi__rt.classes, reg.c, (size_t)reg.nc * sizeof(*reg.c));
        qsort(rmpi__rt.classes, (size_t)reg.nc, sizeof(*rmpi__rt.classes), cmp_centry);
    }
    rmpi__rt.nclasses = reg.nc;
    for (int i = 0; i < reg.nc; i++)
        if (rmpi__rt.classes[i].nmethods > 0)
            qsort(rmpi__rt.classes[i].methods, (size_t)rmpi__rt.classes[i].nmethods,
                  sizeof(rmpi_mentry_t), cmp_mentry);
    uint64_t reghash = registry_hash(&names, &nameslen);

    rmpi__cpus_detect(cpuset, sizeof(cpuset), &ncores);
    rmpi_tp_params_t tpp = {0, rmpi__cfg.err_handling, rmpi__msg_flush_hook,
                            rmpi__msg_peer_failed_hook};
    rc = rmpi__tp_init(&tpp, &addr, &addrlen);
    if (rc != RMPI_OK)
        goto err_names;
    rmpi__msg_set_handlers();

    size_t bloblen = sizeof(blob_hdr_t) + addrlen + nameslen;
    blob_hdr_t *blob = calloc(1, bloblen);
    if (blob == NULL) {
        rc = RMPI_ERR_NO_MEMORY;
        goto err_tp;
    }
    blob->magic = BLOB_MAGIC;
    blob->version = RMPI_PROTO_VERSION;
    blob->ncores = (uint32_t)ncores;
    blob->cpus_override = (uint32_t)cpus_override(why, sizeof(why));
    blob->nfns = (uint32_t)(rmpi__rt.nfns + rmpi__rt.nclasses);
    blob->addrlen = (uint32_t)addrlen;
    blob->nameslen = (uint32_t)nameslen;
    blob->reghash = reghash;
    blob->dup = reg.dup[0] != '\0';
    gethostname(blob->host, sizeof(blob->host) - 1);
    snprintf(blob->cpuset, sizeof(blob->cpuset), "%s", cpuset);
    memcpy(blob + 1, addr, addrlen);
    if (nameslen)
        memcpy((char *)(blob + 1) + addrlen, names, nameslen);
    rc = rmpi__boot_exchange(rmpi__cfg.boot, blob, bloblen, &boot, err, sizeof(err));
    free(blob);
    if (rc != RMPI_OK) {
        rmpi_error(CORE, "start-up exchange failed: %s", err[0] ? err : rmpi_status_string(rc));
        goto err_tp;
    }
    rmpi__rt.rank = boot.rank;
    rmpi__rt.size = boot.size;
    rmpi__rt.boot_method = boot.method;
    snprintf(rmpi__rt.job, sizeof(rmpi__rt.job), "%s", boot.job);
    rmpi__log_set_rank(boot.rank);
    rc = rmpi__jobdir_open(boot.job, boot.rank, err, sizeof(err));
    for (int r = 0; r < boot.size && rc == RMPI_OK; r++) {
        const blob_hdr_t *h = boot.blobs[r];
        if (boot.lens[r] < sizeof(*h) || h->magic != BLOB_MAGIC ||
            h->version != RMPI_PROTO_VERSION ||
            boot.lens[r] < sizeof(*h) + h->addrlen + h->nameslen) {
            snprintf(err, sizeof(err), "rank %d sent start-up data of another version or size "
                     "(%zu bytes): are all ranks running the same ray-mpi?", r, boot.lens[r]);
            rc = RMPI_ERR_BOOTSTRAP;
            break;
        }
    }
    for (int r = 0; r < boot.size && rc == RMPI_OK; r++) {
        if (((const blob_hdr_t *)boot.blobs[r])->dup) {
            if (reg.dup[0] != '\0')
                snprintf(err, sizeof(err), "%s was registered twice: every name "
                         "must be registered once", reg.dup);
            else
                snprintf(err, sizeof(err), "rank %d registered a name twice", r);
            rc = RMPI_ERR_NAME_EXISTS;
        }
    }
    if (rc == RMPI_OK)
        rc = check_registries(&boot, err, sizeof(err));
    if (rc != RMPI_OK) {
        rmpi_error(CORE, "%s", err);
        goto err_boot;
    }

    /* Cpus of every rank, computed alike everywhere: an explicit count, else the
     * cores of its cpuset shared among the ranks of its node whose cpusets overlap. */
    int size = boot.size, me = boot.rank, local = 0, sharing = 0;
    rmpi__rt.ncpus = calloc((size_t)size, sizeof(int));
    rmpi__rt.inflight = calloc((size_t)size, sizeof(atomic_int));
    rmpi__rt.qlen = calloc((size_t)size, sizeof(atomic_int));
    rmpi__rt.acked = calloc((size_t)size, sizeof(atomic_char));
    if (!rmpi__rt.ncpus || !rmpi__rt.inflight || !rmpi__rt.qlen || !rmpi__rt.acked) {
        rc = RMPI_ERR_NO_MEMORY;
        goto err_boot;
    }
    rmpi__rt.max_cpus = 0;
    for (int r = 0; r < size; r++) {
        const blob_hdr_t *h = boot.blobs[r];
        int share = 0;
        for (int q = 0; q < size; q++) {
            const blob_hdr_t *g = boot.blobs[q];
            if (strcmp(g->host, h->host) == 0 && rmpi__cpus_intersect(g->cpuset, h->cpuset))
                share++;
        }
        int n = h->cpus_override > 0 ? (int)h->cpus_override
                                     : (int)h->ncores / (share > 0 ? share : 1);
        rmpi__rt.ncpus[r] = n > 0 ? n : 1;
        if (rmpi__rt.ncpus[r] > rmpi__rt.max_cpus)
            rmpi__rt.max_cpus = rmpi__rt.ncpus[r];
        if (strcmp(h->host, ((const blob_hdr_t *)boot.blobs[me])->host) == 0) {
            if (r == me)
                sharing = share;
            local++;
        }
    }
    /* Idle threads poll with sched_yield before they sleep: the yield hands the core
     * to the thread being waited for when both share it, and a wake-up through the
     * kernel costs more than the gap it saves.  Measured on 2 cores (sync tasks/s):
     * 2 ranks 26k blocking, 32k yield-polling; 8 ranks 35k blocking, 59k polling
     * 10 us.  With more ranks than cores the polling is short; busy polling without
     * yielding (spin) is only for dedicated cores. */
    int oversubscribed = sharing > ncores;
    int mode = rmpi__cfg.progress;
    if (mode == RMPI_PROGRESS_AUTO)
        mode = RMPI_PROGRESS_HYBRID;
    int spin = rmpi__cfg.spin_us >= 0 ? rmpi__cfg.spin_us : oversubscribed ? 10 : 50;
    int tp_spin = mode == RMPI_PROGRESS_SPIN ? -1 : mode == RMPI_PROGRESS_BLOCK ? 0 : spin;
    rmpi__rt.spin_us = mode == RMPI_PROGRESS_BLOCK ? 0 : mode == RMPI_PROGRESS_SPIN ? 1000 : spin;
    /* An idle executor of a rank with cores of its own polls without yielding for
     * the first half of that: in a chain of tasks across ranks the next one comes
     * within microseconds (Task Bench stencil, 2 ranks: 11 -> 8 us per timestep). */
    rmpi__rt.busy_us = oversubscribed ? 0 : rmpi__rt.spin_us / 2;
    rmpi__rt.inline_max = rmpi__cfg.inline_max;
    rmpi__tp_set_spin(tp_spin);

    void **addrs = malloc((size_t)size * sizeof(*addrs));
    char *is_local = calloc((size_t)size, 1);
    if (addrs == NULL || is_local == NULL) {
        free(addrs);
        free(is_local);
        rc = RMPI_ERR_NO_MEMORY;
        goto err_arrays;
    }
    for (int r = 0; r < size; r++) {
        addrs[r] = (char *)boot.blobs[r] + sizeof(blob_hdr_t);
        is_local[r] = strcmp(((const blob_hdr_t *)boot.blobs[r])->host,
                             ((const blob_hdr_t *)boot.blobs[me])->host) == 0;
    }
    rc = rmpi__tp_connect(size, me, addrs, is_local);
    free(addrs);
    free(is_local);
    if (rc != RMPI_OK)
        goto err_arrays;
    rc = rmpi__msg_init();
    if (rc != RMPI_OK)
        goto err_arrays;
    uint64_t cap = rmpi__cfg.store_capacity ? rmpi__cfg.store_capacity : default_capacity(local);
    rmpi__store_init(cap);
    rmpi__waiter_init(&rmpi__rt.shutdown_waiter);
    atomic_store(&rmpi__rt.shutdown_requested, 0);
    atomic_store(&rmpi__rt.next_seq, 1);
    rmpi__rt.initialized = 1;
    rmpi__crash_init();
    rc = rmpi__exec_init(rmpi__rt.ncpus[me], rmpi__cfg.bind, sharing <= 1, rmpi__rt.spin_us,
                         rmpi__rt.busy_us, rmpi__task_run, exec_poll);
    if (rc == RMPI_OK)
        rc = rmpi__tp_start();
    if (rc != RMPI_OK) {
        rmpi__rt.initialized = 0;
        rmpi__exec_fini(1.0, rmpi__task_drop);
        rmpi__crash_fini();
        rmpi__msg_fini();
        goto err_arrays;
    }
    rmpi_info(CORE, "rank %d of %d up (%s start-up, %d cpus%s%s, store %llu MiB, %s progress)",
              me, size, rmpi__boot_method_name(boot.method), rmpi__rt.ncpus[me],
              why[0] ? " from " : "", why, (unsigned long long)(cap >> 20),
              mode == RMPI_PROGRESS_BLOCK ? "blocking" : mode == RMPI_PROGRESS_SPIN ? "spinning"
                                                                                    : "hybrid");
    rmpi__boot_free(&boot);
    free(names);
    free(addr);
    if (me == 0)
        return RMPI_OK;
    return worker_serve();

err_arrays:
err_boot:
    rmpi__boot_free(&boot);
    rmpi__jobdir_close();
err_tp:
    rmpi__tp_fini();
err_names:
    free(names);
    free(addr);
    free_runtime();
    rmpi__rt.rank = -1;
    rmpi__rt.size = 0;
    return rc;
}

typedef struct {
    rmpi_tp_work_t w;
    rmpi_waiter_t *waiter;
    atomic_int     done;
} flush_work_t;

static void flush_and_notify(rmpi_tp_work_t *w)
{
    flush_work_t *fw = (flush_work_t *)w;
    rmpi__msg_flush_hook();
    atomic_store(&fw->done, 1);
    rmpi__waiter_notify(fw->waiter);
}

/* Workers serve until the driver shuts the job down. */
static int worker_serve(void)
{
    rmpi_waiter_t *w = &rmpi__rt.shutdown_waiter;
    int seen = atomic_load(&w->count);

    while (!atomic_load(&rmpi__rt.shutdown_requested))
        seen = rmpi__waiter_wait(w, seen, -1, 0);
    rmpi__exec_fini(rmpi__cfg.shutdown_timeout, rmpi__task_drop);
    rmpi__actor_fini();
    rmpi__tp_quiesce();
    rmpi__rec_send(0, REC_SHUTDOWN_ACK, NULL, 0);
    /* Hand the acknowledgement to UCX before returning, in case the program exits
     * without rmpi_finalize. */
    rmpi_waiter_t *me = rmpi__thread_waiter();
    flush_work_t fw = {{.fn = flush_and_notify}, me, 0};
    seen = atomic_load(&me->count);
    rmpi__tp_post(&fw.w);
    /* The work item lives on this stack: wait until the progress thread ran it. */
    while (!atomic_load(&fw.done))
        seen = rmpi__waiter_wait(me, seen, -1, 0);
    return RMPI_WORKER_DONE;
}

int rmpi_finalize(void)
{
    if (!rmpi__rt.initialized)
        return RMPI_ERR_NOT_INITIALIZED;
    if (rmpi__rt.rank == 0) {
        rmpi_waiter_t *w = &rmpi__rt.shutdown_waiter;
        int seen = atomic_load(&w->count);
        for (int r = 1; r < rmpi__rt.size; r++)
            rmpi__rec_send(r, REC_SHUTDOWN, NULL, 0);
        double deadline = rmpi_now() + rmpi__cfg.shutdown_timeout;
        for (;;) {
            int missing = 0;
            for (int r = 1; r < rmpi__rt.size; r++)
                missing += !atomic_load(&rmpi__rt.acked[r]);
            if (missing == 0)
                break;
            if (rmpi_now() >= deadline) {
                rmpi_warn(CORE, "%d rank(s) did not acknowledge shutdown within %.1f s", missing,
                          rmpi__cfg.shutdown_timeout);
                break;
            }
            seen = rmpi__waiter_wait(w, seen, deadline, 0);
        }
        rmpi__tp_quiesce();
        rmpi__exec_fini(rmpi__cfg.shutdown_timeout, rmpi__task_drop);
        rmpi__actor_fini();
    }
    rmpi__tp_fini();
    rmpi__rt.initialized = 0;
    rmpi__msg_fini();
    rmpi__task_fini();
    rmpi__store_fini();
    rmpi__crash_fini();
    rmpi__jobdir_close();
    rmpi__waiter_destroy(&rmpi__rt.shutdown_waiter);
    free_runtime();
    rmpi__rt.rank = -1;
    rmpi__rt.size = 0;
    return RMPI_OK;
}

int rmpi_rank(void)
{
    return rmpi__rt.initialized ? rmpi__rt.rank : -1;
}

int rmpi_size(void)
{
    return rmpi__rt.initialized ? rmpi__rt.size : 0;
}

/* ------------------------------------------------------------------------------
 * Arguments and introspection
 * ------------------------------------------------------------------------------ */

rmpi_arg_t rmpi_bytes(const void *data, size_t size)
{
    rmpi_arg_t a = {.type = RMPI_ARG_BYTES};
    a.u.bytes.data = data;
    a.u.bytes.size = size;
    return a;
}

rmpi_arg_t rmpi_i64(int64_t v)
{
    rmpi_arg_t a = {.type = RMPI_ARG_I64};
    a.u.i64 = v;
    return a;
}

rmpi_arg_t rmpi_f64(double v)
{
    rmpi_arg_t a = {.type = RMPI_ARG_F64};
    a.u.f64 = v;
    return a;
}

rmpi_arg_t rmpi_ref(rmpi_ref_t ref)
{
    rmpi_arg_t a = {.type = RMPI_ARG_REF};
    a.u.ref = ref;
    return a;
}

rmpi_arg_t rmpi_actor_arg(rmpi_actor_t actor)
{
    rmpi_arg_t a = {.type = RMPI_ARG_ACTOR};
    a.u.actor = actor;
    return a;
}

int rmpi_stats_get(rmpi_stats_t *user, size_t size)
{
    rmpi_stats_t st, *out = &st;

    if (user == NULL || size == 0)
        return RMPI_ERR_INVALID_ARG;
    if (!rmpi__rt.initialized)
        return RMPI_ERR_NOT_INITIALIZED;
    memset(out, 0, sizeof(*out));
    out->store_bytes = rmpi__store_bytes();
    out->store_objects = rmpi__store_objects();
    out->store_capacity = rmpi__store_capacity();
    out->owned_objects = atomic_load(&rmpi__rt.owned_objects);
    out->tasks_executed = atomic_load(&rmpi__rt.tasks_executed);
    out->tasks_submitted = atomic_load(&rmpi__rt.tasks_submitted);
    out->bytes_sent = rmpi__tp_bytes_sent();
    out->bytes_received = rmpi__tp_bytes_received();
    out->bytes_sent_shm = rmpi__tp_bytes_sent_class(RMPI_TP_SHM);
    out->bytes_sent_net = rmpi__tp_bytes_sent_class(RMPI_TP_NET);
    out->bytes_received_shm = rmpi__tp_bytes_received_class(RMPI_TP_SHM);
    out->bytes_received_net = rmpi__tp_bytes_received_class(RMPI_TP_NET);
    out->actors_hosted = rmpi__actor_count();
    out->args_forwarded = atomic_load(&rmpi__rt.args_forwarded);
    out->calls_inline = atomic_load(&rmpi__rt.calls_inline);
    out->tasks_inline = atomic_load(&rmpi__rt.tasks_inline);
    snprintf(out->job_dir, sizeof(out->job_dir), "%s", rmpi__jobdir_path());
    out->num_cpus = rmpi__rt.ncpus[rmpi__rt.rank];
    memcpy(user, out, size < sizeof(*out) ? size : sizeof(*out));
    return RMPI_OK;
}

typedef struct {
    rmpi_tp_work_t w;
    rmpi_waiter_t *waiter;
    int            rank, rc;
    char          *buf;
    size_t         size;
    atomic_int     done;
} transports_work_t;

static void transports_fn(rmpi_tp_work_t *w)
{
    transports_work_t *tw = (transports_work_t *)w;
    tw->rc = rmpi__tp_peer_transports(tw->rank, tw->buf, tw->size);
    atomic_store(&tw->done, 1);
    rmpi__waiter_notify(tw->waiter);
}

int rmpi_peer_transports(int rank, char *buf, size_t size)
{
    if (!rmpi__rt.initialized)
        return RMPI_ERR_NOT_INITIALIZED;
    if (buf == NULL || size == 0)
        return RMPI_ERR_INVALID_ARG;
    if (rank < 0 || rank >= rmpi__rt.size)
        return RMPI_ERR_INVALID_RANK;
    rmpi_waiter_t *w = rmpi__thread_waiter();
    transports_work_t tw = {{.fn = transports_fn}, w, rank, RMPI_ERR_TIMEOUT, buf, size, 0};
    int seen = atomic_load(&w->count);
    rmpi__tp_post(&tw.w);
    while (!atomic_load(&tw.done))
        seen = rmpi__waiter_wait(w, seen, -1, 0);
    return tw.rc;
}
