/*
 * pi.c - Monte Carlo estimate of pi with independent remote tasks.
 *
 * Each of NTASKS tasks draws SAMPLES points in the unit square from its own
 * random stream (seeded by the task's index) and returns how many fell inside
 * the quarter circle.  The points use integer coordinates, so the hit count, and
 * the printed estimate, are the same on every machine and for any number of
 * ranks.
 */
#include <raympi.h>

#include <inttypes.h>
#include <stdio.h>

#define NTASKS  64
#define SAMPLES (1 << 18)   /* per task */

/* splitmix64: a tiny, good-enough generator whose state is one counter. */
static uint64_t next_random(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* count_hits(seed: i64, samples: i64) -> i64 */
static int count_hits(rmpi_task_t *t)
{
    uint64_t state   = (uint64_t)rmpi_task_arg_i64(t, 0);
    int64_t  samples = rmpi_task_arg_i64(t, 1);
    int64_t  hits    = 0;

    /* x and y are 31-bit integers; x^2 + y^2 < 2^62 is exact in 64 bits. */
    for (int64_t i = 0; i < samples; i++) {
        uint64_t r = next_random(&state);
        uint64_t x = r >> 33, y = r & 0x7fffffffu;
        if (x * x + y * y < (1ull << 62))
            hits++;
    }
    return rmpi_task_return_i64(t, 0, hits);
}
RMPI_REMOTE(count_hits);

int main(int argc, char **argv)
{
    int st = rmpi_init(&argc, &argv);
    if (st == RMPI_WORKER_DONE)
        return rmpi_finalize();
    if (st != RMPI_OK) {
        fprintf(stderr, "pi: rmpi_init: %s\n", rmpi_status_string(st));
        return 1;
    }

    rmpi_ref_t refs[NTASKS];
    for (int i = 0; i < NTASKS; i++)
        refs[i] = rmpi_call("count_hits", 2, rmpi_i64(i), rmpi_i64(SAMPLES));

    int64_t hits = 0;
    for (int i = 0; i < NTASKS; i++) {
        int64_t h;
        st = rmpi_get_i64(refs[i], -1, &h);
        if (st != RMPI_OK) {
            fprintf(stderr, "pi: task %d: %s\n", i, rmpi_status_string(st));
            return 1;
        }
        rmpi_release(refs[i]);
        hits += h;
    }

    int64_t samples = (int64_t)NTASKS * SAMPLES;
    printf("pi is about %.6f (%" PRId64 " of %" PRId64 " points in %d tasks)\n",
           4.0 * (double)hits / (double)samples, hits, samples, NTASKS);
    return rmpi_finalize();
}
