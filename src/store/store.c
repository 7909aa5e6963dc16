#include "store.h"
#include "base/idmap.h"
#include "base/log.h"
#include "base/util.h"
#include "raympi.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define MOD "store"
#define LARGE 65536 /* from here on, page-aligned and reused */
#define CACHE_SLOTS 8

static struct {
    pthread_mutex_t  lock;
    rmpi_idmap_t     objs;     /* by id (base/idmap.h) */
    uint64_t         capacity;
    _Atomic uint64_t bytes;
    _Atomic uint64_t objects;
    /* Recently freed large buffers: fresh pages cost a fault each, reused ones
     * do not, which is most of put's bandwidth. */
    pthread_mutex_t  cache_lock;
    struct { void *p; size_t cap; } cache[CACHE_SLOTS];
    size_t           cache_bytes;
} st = {.lock = RMPI_SPIN_MUTEX_INITIALIZER, .cache_lock = PTHREAD_MUTEX_INITIALIZER};

static char zero_byte; /* the bytes of every empty object */

int rmpi__store_init(uint64_t capacity)
{
    st.capacity = capacity;
    atomic_store(&st.bytes, 0);
    atomic_store(&st.objects, 0);
    return RMPI_OK;
}

static void *pages_alloc(size_t cap)
{
    void *p = mmap(NULL, cap, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return NULL;
#ifdef MADV_HUGEPAGE
    if (cap >= (4u << 20))
        madvise(p, cap, MADV_HUGEPAGE);
#endif
    return p;
}

static size_t large_cap(size_t size)
{
    return (size + 4095) & ~(size_t)4095;
}

/*
 * Small objects are 64-byte aligned (a cache line) without posix_memalign: glibc
 * serves it from the arena under its lock, splitting a larger chunk, never from
 * the thread's cache.  With one result or argument per task that cost 9-18% of a
 * Task Bench stencil run of 1-iteration tasks (bench/METG_FINDINGS.md, 9.).  The
 * block is malloc'd 64 bytes larger; the byte before the object says how far in it
 * starts (1..64; 16..64 with glibc, whose blocks are 16-byte aligned).
 */
static void *small_alloc(size_t size)
{
    unsigned char *raw = malloc(size + 64);

    if (raw == NULL)
        return NULL;
    unsigned char *p = (unsigned char *)(((uintptr_t)raw + 64) & ~(uintptr_t)63);
    p[-1] = (unsigned char)(p - raw);
    return p;
}

static void small_free(void *v)
{
    unsigned char *p = v;

    free(p - p[-1]);
}

static void obj_free(rmpi_obj_t *o)
{
    if (o->data != NULL)
        rmpi__store_free(o->data, o->size);
    free(o->errmsg);
    free(o);
}

static void obj_free_v(void *o, void *arg)
{
    (void)arg;
    obj_free(o);
}

void rmpi__store_fini(void)
{
    pthread_mutex_lock(&st.lock);
    rmpi_idmap_foreach(&st.objs, obj_free_v, NULL);
    rmpi_idmap_clear(&st.objs);
    pthread_mutex_unlock(&st.lock);
    pthread_mutex_lock(&st.cache_lock);
    for (int i = 0; i < CACHE_SLOTS; i++) {
        if (st.cache[i].p != NULL)
            munmap(st.cache[i].p, st.cache[i].cap);
        st.cache[i].p = NULL;
    }
    st.cache_bytes = 0;
    pthread_mutex_unlock(&st.cache_lock);
}

void rmpi__store_lock(void)
{
    pthread_mutex_lock(&st.lock);
}

void rmpi__store_unlock(void)
{
    pthread_mutex_unlock(&st.lock);
}

rmpi_obj_t *rmpi__obj_find(rmpi_oid_t id)
{
    return rmpi_idmap_get(&st.objs, id.hi, id.lo);
}

rmpi_obj_t *rmpi__obj_create(rmpi_oid_t id)
{
    rmpi_obj_t *o = rmpi_zalloc(sizeof(*o));
    if (o == NULL)
        return NULL;
    o->id = id;
    o->holder = -1;
    if (rmpi_idmap_put(&st.objs, id.hi, id.lo, o) != 0) {
        free(o);
        return NULL;
    }
    return o;
}

void rmpi__obj_destroy(rmpi_obj_t *o)
{
    rmpi_idmap_del(&st.objs, o->id.hi, o->id.lo);
    obj_free(o);
}

void rmpi__obj_wait(rmpi_obj_t *o, rmpi_waitnode_t *n)
{
    n->next = o->waiters;
    o->waiters = n;
}

int rmpi__obj_unwait(rmpi_obj_t *o, rmpi_waitnode_t *n)
{
    for (rmpi_waitnode_t **p = &o->waiters; *p != NULL; p = &(*p)->next) {
        if (*p == n) {
            *p = n->next;
            return 1;
        }
    }
    return 0;
}

void rmpi__obj_notify(rmpi_obj_t *o)
{
    rmpi_waitnode_t *keep = NULL, *n, *next, *fire = NULL;

    if (o->state == RMPI_OBJ_PENDING)
        return;
    /* Unlink first: a fire() may add new waiters or destroy nothing but itself. */
    for (n = o->waiters; n != NULL; n = next) {
        next = n->next;
        if (o->state == RMPI_OBJ_FAILED || !n->want_data || o->data != NULL) {
            n->next = fire;
            fire = n;
        } else {
            n->next = keep;
            keep = n;
        }
    }
    o->waiters = keep;
    /* A fire() may drop the last pin of a waiter: the pin held here keeps o alive
     * until the caller, who frees objects nobody needs, is done with it. */
    o->pins++;
    for (n = fire; n != NULL; n = next) {
        next = n->next;
        n->next = NULL;
        n->fire(n, o);
    }
    o->pins--;
}

void rmpi__obj_fail(rmpi_obj_t *o, int status, const char *msg)
{
    char *copy = strdup(msg != NULL ? msg : rmpi_status_string(status)); /* msg may be o's */

    o->state = RMPI_OBJ_FAILED;
    o->status = status;
    free(o->errmsg);
    o->errmsg = copy;
    rmpi__obj_notify(o);
}

struct visit {
    void (*fn)(rmpi_obj_t *o, void *arg);
    void *arg;
};

static void visit_obj(void *o, void *arg)
{
    struct visit *v = arg;
    v->fn(o, v->arg);
}

void rmpi__obj_foreach(void (*fn)(rmpi_obj_t *o, void *arg), void *arg)
{
    struct visit v = {fn, arg};
    rmpi_idmap_foreach(&st.objs, visit_obj, &v);
}

size_t rmpi__obj_count(void)
{
    return st.objs.count;
}

int rmpi__store_alloc(size_t size, int force, void **out)
{
    void *p = NULL;

    if (size == 0) {
        *out = &zero_byte;
        atomic_fetch_add(&st.objects, 1);
        return RMPI_OK;
    }
    if (size > st.capacity && !force)
        return RMPI_ERR_TOO_LARGE;
    uint64_t now = atomic_fetch_add(&st.bytes, size) + size;
    if (now > st.capacity && !force) {
        atomic_fetch_sub(&st.bytes, size);
        return RMPI_ERR_STORE_FULL;
    }
    if (size < LARGE) {
        p = small_alloc(size);
    } else {
        size_t cap = large_cap(size);
        pthread_mutex_lock(&st.cache_lock);
        for (int i = 0; i < CACHE_SLOTS; i++) {
            if (st.cache[i].p != NULL && st.cache[i].cap == cap) {
                p = st.cache[i].p;
                st.cache[i].p = NULL;
                st.cache_bytes -= cap;
                break;
            }
        }
        pthread_mutex_unlock(&st.cache_lock);
        if (p == NULL)
            p = pages_alloc(cap);
    }
    if (p == NULL) {
        atomic_fetch_sub(&st.bytes, size);
        return RMPI_ERR_NO_MEMORY;
    }
    atomic_fetch_add(&st.objects, 1);
    *out = p;
    return RMPI_OK;
}

void rmpi__store_free(void *p, size_t size)
{
    atomic_fetch_sub(&st.objects, 1);
    if (p == &zero_byte)
        return;
    atomic_fetch_sub(&st.bytes, size);
    if (size < LARGE) {
        small_free(p);
        return;
    }
    size_t cap = large_cap(size);
    /* Keep a few warm buffers, bounded to half the capacity (an 800 MB put must fit
     * on a node of four ranks, or every put faults its pages in again). */
    pthread_mutex_lock(&st.cache_lock);
    if (st.cache_bytes + cap <= st.capacity / 2) {
        for (int i = 0; i < CACHE_SLOTS; i++) {
            if (st.cache[i].p == NULL) {
                st.cache[i].p = p;
                st.cache[i].cap = cap;
                st.cache_bytes += cap;
                p = NULL;
                break;
            }
        }
    }
    pthread_mutex_unlock(&st.cache_lock);
    if (p != NULL)
        munmap(p, cap);
}

uint64_t rmpi__store_bytes(void)
{
    return atomic_load(&st.bytes);
}

uint64_t rmpi__store_objects(void)
{
    return atomic_load(&st.objects);
}

uint64_t rmpi__store_capacity(void)
{
    return st.capacity;
}
