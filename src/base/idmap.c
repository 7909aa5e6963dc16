#include "base/idmap.h"

#include <stdlib.h>

static void slot_put(rmpi_idmap_t *m, uint64_t hi, uint64_t lo, void *v)
{
    size_t i = rmpi_idmap_home(m, hi, lo);
    while (m->slots[i].v != NULL)
        i = (i + 1) & m->mask;
    m->slots[i] = (rmpi_idslot_t){hi, lo, v};
}

static int grow(rmpi_idmap_t *m)
{
    rmpi_idslot_t *old = m->slots;
    size_t oldcap = old != NULL ? m->mask + 1 : 0, cap = oldcap ? 2 * oldcap : 256;
    rmpi_idslot_t *v = calloc(cap, sizeof(*v));
    if (v == NULL)
        return -1;
    m->slots = v;
    m->mask = cap - 1;
    for (size_t i = 0; i < oldcap; i++)
        if (old[i].v != NULL)
            slot_put(m, old[i].hi, old[i].lo, old[i].v);
    free(old);
    return 0;
}

int rmpi_idmap_put(rmpi_idmap_t *m, uint64_t hi, uint64_t lo, void *v)
{
    if ((m->count + 1) * 2 > (m->slots != NULL ? m->mask + 1 : 0) && grow(m) != 0)
        return -1;
    slot_put(m, hi, lo, v);
    m->count++;
    return 0;
}

void *rmpi_idmap_del(rmpi_idmap_t *m, uint64_t hi, uint64_t lo)
{
    if (m->slots == NULL)
        return NULL;
    size_t i = rmpi_idmap_home(m, hi, lo);
    for (;; i = (i + 1) & m->mask) {
        if (m->slots[i].v == NULL)
            return NULL;
        if (m->slots[i].lo == lo && m->slots[i].hi == hi)
            break;
    }
    void *v = m->slots[i].v;
    /* Backward shift: pull later entries of the run into the hole when their home
     * slot does not lie after it (cyclically), so no lookup stops early. */
    for (size_t j = (i + 1) & m->mask; m->slots[j].v != NULL; j = (j + 1) & m->mask) {
        size_t home = rmpi_idmap_home(m, m->slots[j].hi, m->slots[j].lo);
        if (((j - home) & m->mask) >= ((j - i) & m->mask)) {
            m->slots[i] = m->slots[j];
            i = j;
        }
    }
    m->slots[i].v = NULL;
    m->count--;
    return v;
}

void rmpi_idmap_foreach(rmpi_idmap_t *m, void (*fn)(void *v, void *arg), void *arg)
{
    if (m->count == 0)
        return;
    /* From an empty slot on: a delete shifts only later entries of the same run
     * into the hole, so each entry is visited once. */
    size_t e = 0;
    while (m->slots[e].v != NULL)
        e++;
    for (size_t k = 1; k <= m->mask + 1; k++) {
        size_t i = (e + k) & m->mask;
        void *v;
        while ((v = m->slots[i].v) != NULL) {
            fn(v, arg);
            if (m->slots[i].v == v)
                break; /* kept; else what moved into the slot is next */
        }
    }
}

void rmpi_idmap_clear(rmpi_idmap_t *m)
{
    free(m->slots);
    m->slots = NULL;
    m->mask = m->count = 0;
}
