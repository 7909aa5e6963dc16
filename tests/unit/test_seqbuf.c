/* base/seqbuf.c: a numbered stream released in number order. */
#include "base/seqbuf.h"

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

static void *tag(uint32_t v)
{
    uint32_t *p = malloc(sizeof(*p));
    cr_assert_not_null(p);
    *p = v;
    return p;
}

/* Feed the numbers in the given arrival order; return the handling order. */
static void run(rmpi_seqbuf_t *b, const uint32_t *arrive, int n, uint32_t *handled, int *nh)
{
    *nh = 0;
    for (int i = 0; i < n; i++) {
        uint32_t s = arrive[i];
        if (!rmpi_seqbuf_is_next(b, s)) {
            cr_assert_eq(rmpi_seqbuf_hold(b, s, s * 2, tag(s), sizeof(uint32_t)), 0);
            continue;
        }
        handled[(*nh)++] = s;
        for (rmpi_seqitem_t *it; (it = rmpi_seqbuf_advance(b)) != NULL; free(it)) {
            cr_assert_eq(it->count, it->seq * 2);
            cr_assert_eq(*(uint32_t *)it->data, it->seq);
            handled[(*nh)++] = it->seq;
            free(it->data);
        }
    }
}

Test(seqbuf, in_order_items_are_handled_at_once)
{
    rmpi_seqbuf_t b = {.expect = 0};
    uint32_t arrive[] = {0, 1, 2, 3}, out[4];
    int n;

    run(&b, arrive, 4, out, &n);
    cr_assert_eq(n, 4);
    for (int i = 0; i < 4; i++)
        cr_assert_eq(out[i], (uint32_t)i);
    cr_assert_null(b.held);
    cr_assert_eq(b.expect, 4);
}

Test(seqbuf, early_items_wait_for_the_ones_before_them)
{
    rmpi_seqbuf_t b = {.expect = 0};
    uint32_t arrive[] = {2, 4, 1, 3, 0, 5}, out[6];
    int n;

    run(&b, arrive, 6, out, &n);
    cr_assert_eq(n, 6);
    for (int i = 0; i < 6; i++)
        cr_assert_eq(out[i], (uint32_t)i, "position %d handled %u", i, out[i]);
    cr_assert_null(b.held);
}

Test(seqbuf, nothing_is_released_while_the_first_is_missing)
{
    rmpi_seqbuf_t b = {.expect = 0};
    uint32_t arrive[] = {3, 1, 2}, out[3];
    int n;

    run(&b, arrive, 3, out, &n);
    cr_assert_eq(n, 0);
    cr_assert_eq(b.expect, 0);
    rmpi_seqbuf_clear(&b); /* frees what is held (ASan checks) */
    cr_assert_null(b.held);
}

Test(seqbuf, numbers_wrap)
{
    rmpi_seqbuf_t b = {.expect = UINT32_MAX - 1};
    uint32_t arrive[] = {1, UINT32_MAX, 0, UINT32_MAX - 1}, out[4];
    uint32_t want[] = {UINT32_MAX - 1, UINT32_MAX, 0, 1};
    int n;

    run(&b, arrive, 4, out, &n);
    cr_assert_eq(n, 4);
    for (int i = 0; i < 4; i++)
        cr_assert_eq(out[i], want[i], "position %d handled %u", i, out[i]);
}

Test(seqbuf, a_held_item_may_have_no_data)
{
    rmpi_seqbuf_t b = {.expect = 0};

    cr_assert_eq(rmpi_seqbuf_hold(&b, 1, 0, NULL, 0), 0); /* its receive failed */
    rmpi_seqitem_t *it = rmpi_seqbuf_advance(&b);
    cr_assert_not_null(it);
    cr_assert_eq(it->seq, 1);
    cr_assert_null(it->data);
    free(it);
    cr_assert_null(rmpi_seqbuf_advance(&b));
    cr_assert_eq(b.expect, 2);
}

Test(seqbuf, an_item_handled_out_of_turn_is_skipped_when_its_turn_comes)
{
    rmpi_seqbuf_t b = {.expect = 0};

    /* 2 could not be held and was handled at once; 3 is held; then 0 and 1 come. */
    cr_assert_eq(rmpi_seqbuf_done_early(&b, 2), 0);
    cr_assert_eq(rmpi_seqbuf_hold(&b, 3, 0, NULL, 0), 0);
    cr_assert(rmpi_seqbuf_is_next(&b, 0));
    cr_assert_null(rmpi_seqbuf_advance(&b)); /* 0 handled; 1 not here yet */
    cr_assert(rmpi_seqbuf_is_next(&b, 1));
    rmpi_seqitem_t *it = rmpi_seqbuf_advance(&b); /* 1 handled: 2 is skipped, 3 is due */
    cr_assert_not_null(it);
    cr_assert_eq(it->seq, 3);
    free(it);
    cr_assert_null(rmpi_seqbuf_advance(&b));
    cr_assert(rmpi_seqbuf_is_next(&b, 4));
}

Test(seqbuf, done_early_more_than_64_ahead_is_refused)
{
    rmpi_seqbuf_t b = {.expect = 0};

    cr_assert_eq(rmpi_seqbuf_done_early(&b, 64), 0);
    cr_assert_eq(rmpi_seqbuf_done_early(&b, 65), -1);
    cr_assert_eq(rmpi_seqbuf_done_early(&b, 0), -1); /* not ahead */
}
