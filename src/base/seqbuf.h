/*
 * A numbered stream released in number order: items that arrive early are held
 * until those before them were handled.  Batches from one rank are numbered by
 * the sender; a large one, received by rendezvous, can complete after a later
 * small one, and a rank's records must be handled in the order they were made
 * (a task before the result pushed for it).  One consumer; no locking.
 */
#ifndef RMPI_BASE_SEQBUF_H
#define RMPI_BASE_SEQBUF_H

#include <stddef.h>
#include <stdint.h>

typedef struct rmpi_seqitem {
    struct rmpi_seqitem *next;
    uint32_t             seq;
    uint32_t             count; /* the caller's: records in it */
    void                *data;  /* malloc'd, or NULL */
    size_t               len;
} rmpi_seqitem_t;

typedef struct {
    uint32_t        expect; /* number of the next item to handle */
    uint64_t        ahead;  /* bit k: expect + 1 + k was handled out of turn */
    rmpi_seqitem_t *held;   /* early ones, in number order (wrapping) */
} rmpi_seqbuf_t;

static inline int rmpi_seqbuf_is_next(const rmpi_seqbuf_t *b, uint32_t seq)
{
    return seq == b->expect;
}

/* Keep an early item; the buffer takes data (malloc'd, or NULL).  0, or -1 when
 * out of memory (nothing was taken). */
int rmpi_seqbuf_hold(rmpi_seqbuf_t *b, uint32_t seq, uint32_t count, void *data, size_t len);

/* An early item that could not be held was handled at once: its turn is skipped.
 * 0, or -1 when it is more than 64 ahead (the stream then waits at its number). */
int rmpi_seqbuf_done_early(rmpi_seqbuf_t *b, uint32_t seq);

/* The expected item was handled: the next one, if it is held, for the caller to
 * handle (then free its data and it, and call again), else NULL. */
rmpi_seqitem_t *rmpi_seqbuf_advance(rmpi_seqbuf_t *b);

/* Free what is held. */
void rmpi_seqbuf_clear(rmpi_seqbuf_t *b);

#endif
