/* base/idmap.c: the open-addressing map of 128-bit keys (objects, tasks). */
#include "base/idmap.h"

#include <criterion/criterion.h>
#include <stdint.h>
#include <string.h>

static rmpi_idmap_t m = RMPI_IDMAP_INIT;

static void teardown(void)
{
    rmpi_idmap_clear(&m);
}

TestSuite(idmap, .fini = teardown);

Test(idmap, empty_map_finds_nothing)
{
    cr_assert_null(rmpi_idmap_get(&m, 0, 1));
    cr_assert_null(rmpi_idmap_del(&m, 0, 1));
    cr_assert_eq(m.count, 0);
}

Test(idmap, keys_differing_only_in_hi_are_distinct)
{
    int a, b;
    cr_assert_eq(rmpi_idmap_put(&m, 1, 7, &a), 0);
    cr_assert_eq(rmpi_idmap_put(&m, 2, 7, &b), 0);
    cr_assert_eq(rmpi_idmap_get(&m, 1, 7), &a);
    cr_assert_eq(rmpi_idmap_get(&m, 2, 7), &b);
    cr_assert_null(rmpi_idmap_get(&m, 0, 7));
    cr_assert_eq(rmpi_idmap_del(&m, 1, 7), &a);
    cr_assert_null(rmpi_idmap_get(&m, 1, 7));
    cr_assert_eq(rmpi_idmap_get(&m, 2, 7), &b, "the other key survives the delete");
    cr_assert_eq(m.count, 1);
}

/* A long random mix of puts and deletes (task keys: a few owners, sequence numbers
 * with equal low bits) checked against an array at every step: a backward shift
 * that moved an entry past its home slot, or left a hole in a run, loses keys. */
Test(idmap, random_puts_and_deletes_match_a_reference, .timeout = 60)
{
    enum { N = 6000 };
    static char vals[N];
    static int in[N];
    unsigned seed = 777;

    memset(in, 0, sizeof(in));
    for (int round = 0; round < 300000; round++) {
        seed = seed * 1103515245u + 12345u;
        int k = (int)((seed >> 8) % N);
        uint64_t hi = (uint64_t)(k % 4), lo = (uint64_t)k << 16;
        if ((seed >> 4) % 2 == 0 && !in[k]) {
            cr_assert_eq(rmpi_idmap_put(&m, hi, lo, &vals[k]), 0);
            in[k] = 1;
        } else if (in[k]) {
            cr_assert_eq(rmpi_idmap_del(&m, hi, lo), &vals[k], "round %d, key %d", round, k);
            in[k] = 0;
        }
        cr_assert_eq(rmpi_idmap_get(&m, hi, lo), in[k] ? &vals[k] : NULL, "round %d, key %d",
                     round, k);
    }
    size_t live = 0;
    for (int k = 0; k < N; k++) {
        live += in[k];
        cr_assert_eq(rmpi_idmap_get(&m, (uint64_t)(k % 4), (uint64_t)k << 16),
                     in[k] ? &vals[k] : NULL, "key %d at the end", k);
    }
    cr_assert_eq(m.count, live);
}

/* foreach may delete the entry it is given: every entry is still seen once. */
static char base[4096];
static int seen[4096];

static void visit_delete_odd(void *v, void *arg)
{
    int k = (int)((char *)v - base);
    seen[k]++;
    (*(int *)arg)++;
    if (k % 2 == 1)
        cr_assert_eq(rmpi_idmap_del(&m, 9, (uint64_t)k * 1024), v);
}

Test(idmap, foreach_visits_each_once_while_deleting)
{
    int visits = 0;
    memset(seen, 0, sizeof(seen));
    for (int k = 0; k < 4096; k++)
        cr_assert_eq(rmpi_idmap_put(&m, 9, (uint64_t)k * 1024, &base[k]), 0);
    rmpi_idmap_foreach(&m, visit_delete_odd, &visits);
    cr_assert_eq(visits, 4096);
    for (int k = 0; k < 4096; k++) {
        cr_assert_eq(seen[k], 1, "key %d seen %d times", k, seen[k]);
        cr_assert_eq(rmpi_idmap_get(&m, 9, (uint64_t)k * 1024), k % 2 ? NULL : &base[k]);
    }
    cr_assert_eq(m.count, 2048);
}
