/*
 * Object store of one rank: the table of objects this rank owns or holds bytes of,
 * and the accounted allocator for object bytes.  One lock guards the table; object
 * bytes are immutable once READY, so readers of a pinned object need no lock.
 */
#ifndef RMPI_STORE_H
#define RMPI_STORE_H

#include <stddef.h>
#include <stdint.h>
#include "base/hash.h"

typedef struct { uint64_t hi, lo; } rmpi_oid_t;

/* An object id: hi = owner rank << 32 | return index << 8; lo = owner's sequence. */
static inline rmpi_oid_t rmpi_oid_make(int owner, int index, uint64_t seq)
{
    rmpi_oid_t id = {((uint64_t)(uint32_t)owner << 32) | ((uint64_t)(index & 0xffffff) << 8) | 1u,
                     seq};
    return id;
}
static inline int rmpi_oid_owner(rmpi_oid_t id)
{
    return (int)(id.hi >> 32);
}
static inline int rmpi_oid_index(rmpi_oid_t id)
{
    return (int)((id.hi >> 8) & 0xffffff);
}
static inline int rmpi_oid_valid(rmpi_oid_t id)
{
    return (id.hi & 0xff) == 1;
}

enum { RMPI_OBJ_PENDING = 0, RMPI_OBJ_READY = 1, RMPI_OBJ_FAILED = 2 };

struct rmpi_obj;

/*
 * A waiter on an object.  fire() runs with the store lock held once the object is
 * READY or FAILED (want_data: once its bytes are local, or FAILED); the node is
 * unlinked before it runs.
 */
typedef struct rmpi_waitnode {
    struct rmpi_waitnode *next;
    int                   want_data;
    void (*fire)(struct rmpi_waitnode *node, struct rmpi_obj *obj);
} rmpi_waitnode_t;

typedef struct rmpi_obj {
    rmpi_oid_t       id;
    uint8_t          state;
    uint8_t          owned;        /* this rank owns it */
    uint8_t          primary_here; /* bytes here are the primary copy, for the owner */
    uint8_t          pulling;      /* a pull of the bytes is in flight */
    uint8_t          resolving;    /* asked the owner for the state */
    uint8_t          mem_type;
    int              status;       /* FAILED: why */
    int              holder;       /* rank with the primary bytes (READY), -1 unknown */
    uint32_t         user_refs;    /* owner: references held by users */
    uint32_t         task_refs;    /* owner: in-flight tasks using it as argument */
    uint32_t         pins;         /* local views and sends reading the bytes */
    size_t           size;
    void            *data;         /* local bytes, or NULL */
    char            *errmsg;       /* FAILED: message */
    rmpi_waitnode_t *waiters;
} rmpi_obj_t;

int  rmpi__store_init(uint64_t capacity);
void rmpi__store_fini(void);

void rmpi__store_lock(void);
void rmpi__store_unlock(void);

/* Table operations: store lock held. */
rmpi_obj_t *rmpi__obj_find(rmpi_oid_t id);
rmpi_obj_t *rmpi__obj_create(rmpi_oid_t id); /* NULL: out of memory */
void        rmpi__obj_destroy(rmpi_obj_t *o); /* frees its bytes and message */
void        rmpi__obj_wait(rmpi_obj_t *o, rmpi_waitnode_t *n);
int         rmpi__obj_unwait(rmpi_obj_t *o, rmpi_waitnode_t *n); /* 1 if it was linked */
/* Fire the waiters whose condition now holds.  o stays allocated; the caller then
 * decides whether it can be freed (a fire may have dropped its last user). */
void        rmpi__obj_notify(rmpi_obj_t *o);
/* Mark FAILED with status and message (copied), then notify. */
void        rmpi__obj_fail(rmpi_obj_t *o, int status, const char *msg);
/* Visit every object (store lock held); fn may destroy the object it gets, not
 * create or destroy others. */
void        rmpi__obj_foreach(void (*fn)(rmpi_obj_t *o, void *arg), void *arg);
size_t      rmpi__obj_count(void);

/*
 * Object bytes, page-aligned when large, accounted against the capacity.
 * force: account past the capacity (copies the rank must take, e.g. results
 * arriving at their owner).  Returns RMPI_OK, RMPI_ERR_TOO_LARGE (size above the
 * capacity), RMPI_ERR_STORE_FULL or RMPI_ERR_NO_MEMORY.  Any thread, no lock.
 */
int  rmpi__store_alloc(size_t size, int force, void **out);
void rmpi__store_free(void *p, size_t size);

uint64_t rmpi__store_bytes(void);
uint64_t rmpi__store_objects(void);
uint64_t rmpi__store_capacity(void);

#endif
