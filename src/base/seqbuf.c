#include "seqbuf.h"

#include <stdlib.h>

int rmpi_seqbuf_hold(rmpi_seqbuf_t *b, uint32_t seq, uint32_t count, void *data, size_t len)
{
    rmpi_seqitem_t *it = malloc(sizeof(*it));

    if (it == NULL)
        return -1;
    it->seq = seq;
    it->count = count;
    it->data = data;
    it->len = len;
    /* Numbers wrap: order by distance from the expected one. */
    rmpi_seqitem_t **pp = &b->held;
    while (*pp != NULL && (*pp)->seq - b->expect < seq - b->expect)
        pp = &(*pp)->next;
    it->next = *pp;
    *pp = it;
    return 0;
}

int rmpi_seqbuf_done_early(rmpi_seqbuf_t *b, uint32_t seq)
{
    uint32_t k = seq - b->expect - 1;

    if (k >= 64)
        return -1;
    b->ahead |= 1ull << k;
    return 0;
}

rmpi_seqitem_t *rmpi_seqbuf_advance(rmpi_seqbuf_t *b)
{
    int done;
    do { /* past the numbers already handled out of turn */
        b->expect++;
        done = (int)(b->ahead & 1);
        b->ahead >>= 1;
    } while (done);
    rmpi_seqitem_t *it = b->held;
    if (it == NULL || it->seq != b->expect)
        return NULL;
    b->held = it->next;
    it->next = NULL;
    return it;
}

void rmpi_seqbuf_clear(rmpi_seqbuf_t *b)
{
    rmpi_seqitem_t *it = b->held, *next;

    for (; it != NULL; it = next) {
        next = it->next;
        free(it->data);
        free(it);
    }
    b->held = NULL;
}
