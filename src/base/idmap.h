/*
 * A map from 128-bit keys (object ids, task keys) to pointers: open addressing
 * with linear probing, kept at most half full, backward-shift deletion.  A lookup
 * reads the key in its slot and rarely a second slot; uthash's chains cost a cache
 * miss per entry walked, several times per task on the hot paths.  No locking:
 * callers hold the lock that guards the table.
 */
#ifndef RMPI_BASE_IDMAP_H
#define RMPI_BASE_IDMAP_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint64_t hi, lo;
    void    *v; /* NULL: empty */
} rmpi_idslot_t;

typedef struct {
    rmpi_idslot_t *slots;
    size_t         mask, count; /* capacity - 1 (0: none yet), entries */
} rmpi_idmap_t;

#define RMPI_IDMAP_INIT {NULL, 0, 0}

static inline size_t rmpi_idmap_home(const rmpi_idmap_t *m, uint64_t hi, uint64_t lo)
{
    uint64_t h = (lo ^ (hi * 0x9e3779b97f4a7c15ull)) * 0xbf58476d1ce4e5b9ull;
    return (size_t)(h ^ (h >> 29)) & m->mask;
}

/* The value under (hi, lo), or NULL. */
static inline void *rmpi_idmap_get(const rmpi_idmap_t *m, uint64_t hi, uint64_t lo)
{
    if (m->slots == NULL)
        return NULL;
    for (size_t i = rmpi_idmap_home(m, hi, lo);; i = (i + 1) & m->mask) {
        const rmpi_idslot_t *s = &m->slots[i];
        if (s->v == NULL || (s->lo == lo && s->hi == hi))
            return s->v;
    }
}

/* Add v (not NULL) under a key not in the map.  0, or -1 when the table cannot
 * grow (out of memory; the map is unchanged). */
int rmpi_idmap_put(rmpi_idmap_t *m, uint64_t hi, uint64_t lo, void *v);

/* Remove the key's entry and return its value (NULL: there was none). */
void *rmpi_idmap_del(rmpi_idmap_t *m, uint64_t hi, uint64_t lo);

/* Call fn on every value once.  fn may delete the entry it is given (and only
 * that one). */
void rmpi_idmap_foreach(rmpi_idmap_t *m, void (*fn)(void *v, void *arg), void *arg);

/* Drop every entry (the values are the caller's) and the slots. */
void rmpi_idmap_clear(rmpi_idmap_t *m);

#endif
