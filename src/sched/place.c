/* Where a task runs: two random choices weighted by load per cpu (no head). */
#include "sched.h"

static uint64_t next_rand(uint64_t *s)
{
    /* splitmix64 */
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static int fits(int ncpus, uint32_t cpus_milli)
{
    return (uint64_t)ncpus * 1000 >= cpus_milli;
}

/* load per cpu, scaled; this rank gets half a task of advantage for locality */
static long score(int r, int me, const int *ncpus, int (*load)(int))
{
    long s = (long)load(r) * 1000 / (ncpus[r] > 0 ? ncpus[r] : 1);
    return r == me ? s * 2 : s * 2 + 1;
}

int rmpi__place_choose(int size, int me, const int *ncpus, int (*load)(int),
                       uint32_t cpus_milli, uint64_t *rng)
{
    int a = -1, b = -1;

    if (size <= 1)
        return fits(ncpus[0], cpus_milli) ? 0 : -1;
    /* Two random feasible candidates (a bounded number of draws, then a scan). */
    for (int tries = 0; tries < 8 && (a < 0 || b < 0); tries++) {
        int r = (int)(next_rand(rng) % (uint64_t)size);
        if (!fits(ncpus[r], cpus_milli) || r == a)
            continue;
        if (a < 0)
            a = r;
        else
            b = r;
    }
    if (b < 0) {
        /* Few ranks fit: draw the candidates among those that do. */
        int nfit = 0, ia, ib;
        for (int r = 0; r < size; r++)
            nfit += fits(ncpus[r], cpus_milli);
        if (nfit == 0)
            return -1;
        ia = (int)(next_rand(rng) % (uint64_t)nfit);
        ib = nfit > 1 ? (ia + 1 + (int)(next_rand(rng) % (uint64_t)(nfit - 1))) % nfit : -1;
        a = b = -1;
        for (int r = 0, k = 0; r < size; r++) {
            if (!fits(ncpus[r], cpus_milli))
                continue;
            if (k == ia)
                a = r;
            if (k == ib)
                b = r;
            k++;
        }
    }
    /* This rank is always a third candidate when it fits: local is cheapest. */
    int best = a;
    if (b >= 0 && score(b, me, ncpus, load) < score(best, me, ncpus, load))
        best = b;
    if (fits(ncpus[me], cpus_milli) && score(me, me, ncpus, load) < score(best, me, ncpus, load))
        best = me;
    return best;
}
