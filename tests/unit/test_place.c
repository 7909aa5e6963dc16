/* sched/place.c: choosing the rank a task runs on. */
#include "sched/sched.h"

#include <criterion/criterion.h>

#define MAXR 64
#define SEEDS 2000

static int loads[MAXR];

static int load_of(int r)
{
    cr_assert(r >= 0 && r < MAXR, "load asked for rank %d", r);
    return loads[r];
}

static int choose(int size, int me, const int *ncpus, uint32_t milli, uint64_t seed)
{
    uint64_t rng = seed;
    return rmpi__place_choose(size, me, ncpus, load_of, milli, &rng);
}

Test(place, single_rank_gets_a_fitting_task)
{
    const int ncpus[1] = {2};

    cr_assert_eq(choose(1, 0, ncpus, 1000, 1), 0);
    cr_assert_eq(choose(1, 0, ncpus, 2000, 1), 0);
}

Test(place, single_rank_refuses_a_task_too_big)
{
    const int ncpus[1] = {2};

    cr_assert_eq(choose(1, 0, ncpus, 2001, 1), -1);
}

Test(place, never_picks_a_rank_with_too_few_cpus)
{
    const int ncpus[6] = {1, 4, 1, 2, 1, 4};

    for (uint64_t seed = 0; seed < SEEDS; seed++) {
        int r = choose(6, 0, ncpus, 2000, seed);
        cr_assert(r == 1 || r == 3 || r == 5, "seed %llu: rank %d has %d cpus",
                  (unsigned long long)seed, r, r >= 0 ? ncpus[r] : -1);
    }
}

Test(place, only_fitting_rank_is_found)
{
    const int ncpus[8] = {1, 1, 1, 1, 1, 1, 8, 1};

    for (uint64_t seed = 0; seed < SEEDS; seed++)
        cr_assert_eq(choose(8, 2, ncpus, 8000, seed), 6, "seed %llu",
                     (unsigned long long)seed);
}

Test(place, none_fits_gives_minus_one)
{
    const int ncpus[4] = {1, 2, 1, 2};

    for (uint64_t seed = 0; seed < 100; seed++)
        cr_assert_eq(choose(4, 0, ncpus, 3000, seed), -1);
}

Test(place, ties_stay_on_this_rank)
{
    const int ncpus[4] = {2, 2, 2, 2};

    for (int me = 0; me < 4; me++)
        for (uint64_t seed = 0; seed < SEEDS; seed++)
            cr_assert_eq(choose(4, me, ncpus, 1000, seed), me, "me %d seed %llu", me,
                         (unsigned long long)seed);
}

Test(place, ties_stay_on_this_rank_under_load)
{
    const int ncpus[4] = {2, 2, 2, 2};

    for (int r = 0; r < 4; r++)
        loads[r] = 5;
    for (uint64_t seed = 0; seed < SEEDS; seed++)
        cr_assert_eq(choose(4, 1, ncpus, 1000, seed), 1);
}

Test(place, loaded_rank_sends_work_to_an_idle_one)
{
    const int ncpus[4] = {1, 1, 1, 1};

    loads[0] = 10;
    for (uint64_t seed = 0; seed < SEEDS; seed++) {
        int r = choose(4, 0, ncpus, 1000, seed);
        cr_assert(r >= 1 && r <= 3, "seed %llu: stayed on the loaded rank",
                  (unsigned long long)seed);
    }
}

/* FINDINGS.md "place: a second candidate is never scanned for": fails for about
 * 1 seed in 256 while the bug stands. */
Test(place, two_ranks_pick_the_idle_one)
{
    const int ncpus[2] = {1, 1};


    loads[0] = 10;
    loads[1] = 0;
    for (uint64_t seed = 0; seed < SEEDS; seed++)
        cr_assert_eq(choose(2, 0, ncpus, 1000, seed), 1, "seed %llu",
                     (unsigned long long)seed);
}

Test(place, never_more_loaded_than_this_rank)
{
    const int ncpus[8] = {1, 1, 1, 1, 1, 1, 1, 1};

    for (int r = 0; r < 8; r++)
        loads[r] = (r * 5) % 8; /* 0 5 2 7 4 1 6 3 */
    for (uint64_t seed = 0; seed < SEEDS; seed++) {
        int r = choose(8, 4, ncpus, 1000, seed);
        cr_assert(r >= 0 && r < 8);
        cr_assert_leq(loads[r], loads[4], "seed %llu: rank %d (load %d) over this rank (%d)",
                      (unsigned long long)seed, r, loads[r], loads[4]);
    }
}

Test(place, load_counts_per_cpu)
{
    /* This rank: 8 tasks on 8 cpus is less loaded than rank 0's 2 on 1, though
     * its count is higher. */
    const int ncpus[2] = {1, 8};

    loads[0] = 2;
    loads[1] = 8;
    for (uint64_t seed = 0; seed < SEEDS; seed++)
        cr_assert_eq(choose(2, 1, ncpus, 1000, seed), 1, "seed %llu",
                     (unsigned long long)seed);
}

Test(place, load_counts_per_cpu_against_this_rank)
{
    /* This rank: 2 tasks on 1 cpu is busier than 8 on 8 cpus elsewhere, though
     * its count is lower. */
    const int ncpus[4] = {1, 8, 8, 8};

    loads[0] = 2;
    loads[1] = loads[2] = loads[3] = 8;
    for (uint64_t seed = 0; seed < SEEDS; seed++)
        cr_assert_neq(choose(4, 0, ncpus, 1000, seed), 0, "seed %llu",
                      (unsigned long long)seed);
}

/* FINDINGS.md "place: a second candidate is never scanned for": with 64 ranks
 * of which two fit, about 88% of such tasks stay on the busy one. */
Test(place, few_fitting_ranks_share_the_load)
{
    int ncpus[64];

    for (int r = 0; r < 64; r++)
        ncpus[r] = 1;
    ncpus[10] = ncpus[20] = 8;
    loads[10] = 50; /* this rank is busy, rank 20 idle; only they fit */
    for (uint64_t seed = 0; seed < SEEDS; seed++)
        cr_assert_eq(choose(64, 10, ncpus, 4000, seed), 20, "seed %llu",
                     (unsigned long long)seed);
}

Test(place, this_rank_that_does_not_fit_is_not_chosen)
{
    const int ncpus[3] = {1, 4, 4};

    loads[1] = 100;
    loads[2] = 100;
    for (uint64_t seed = 0; seed < SEEDS; seed++) {
        int r = choose(3, 0, ncpus, 4000, seed);
        cr_assert(r == 1 || r == 2, "seed %llu: %d", (unsigned long long)seed, r);
    }
}

Test(place, spreads_over_idle_ranks_when_this_one_is_busy)
{
    const int ncpus[4] = {1, 1, 1, 1};
    int hits[4] = {0};

    loads[0] = 10;
    for (uint64_t seed = 0; seed < SEEDS; seed++) {
        int r = choose(4, 0, ncpus, 1000, seed);
        cr_assert(r >= 0 && r < 4);
        hits[r]++;
    }
    for (int r = 1; r < 4; r++)
        cr_assert_gt(hits[r], 0, "idle rank %d never chosen", r);
}

Test(place, advances_the_random_state)
{
    const int ncpus[4] = {1, 1, 1, 1};
    uint64_t rng = 12345;

    rmpi__place_choose(4, 0, ncpus, load_of, 1000, &rng);
    cr_assert_neq(rng, 12345);
}
