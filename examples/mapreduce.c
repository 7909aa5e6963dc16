/*
 * mapreduce.c - map-reduce over large objects.
 *
 * The driver puts NCHUNKS arrays of 4 MiB (random 32-bit values) into the
 * object store.  One map task per array takes it as a ref argument and returns
 * a histogram of the values' top 16 bits (65536 64-bit counters, 512 KiB), written in
 * place with rmpi_task_return_buffer.  Reduce tasks add histograms pairwise
 * (refs again) until one is left; the driver reads it and prints a summary.
 * Large arguments and results never pass through the driver: the scheduler runs
 * each task where its input lives and the bytes move rank to rank.
 */
#include <raympi.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NCHUNKS     8                 /* a power of two: the reduce is a tree */
#define CHUNK_ELEMS (1u << 20)        /* uint32 values: 4 MiB per chunk */
#define NBINS       65536u            /* histogram of the top 16 bits */
#define HIST_BYTES  (NBINS * sizeof(uint64_t))

static uint64_t next_random(uint64_t *state)   /* splitmix64 */
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* histogram(chunk: ref to uint32[]) -> uint64[NBINS] */
static int histogram(rmpi_task_t *t)
{
    const void *data;
    size_t size;
    int st = rmpi_task_arg(t, 0, &data, &size);
    if (st != RMPI_OK)
        return rmpi_task_fail(t, "chunk: %s", rmpi_status_string(st));
    if (size % sizeof(uint32_t) != 0)
        return rmpi_task_fail(t, "chunk of %zu bytes is not an array of uint32", size);

    uint64_t *hist = rmpi_task_return_buffer(t, 0, HIST_BYTES);
    if (hist == NULL)
        return RMPI_ERR_TASK_FAILED;       /* the task already failed with the reason */
    memset(hist, 0, HIST_BYTES);
    const uint32_t *v = data;
    for (size_t i = 0; i < size / sizeof(uint32_t); i++)
        hist[v[i] >> 16]++;
    return RMPI_OK;
}
RMPI_REMOTE(histogram);

/* add(a: ref to uint64[NBINS], b: ref to uint64[NBINS]) -> uint64[NBINS] */
static int add(rmpi_task_t *t)
{
    const void *a, *b;
    size_t na, nb;
    if (rmpi_task_arg(t, 0, &a, &na) != RMPI_OK || rmpi_task_arg(t, 1, &b, &nb) != RMPI_OK ||
        na != HIST_BYTES || nb != HIST_BYTES)
        return rmpi_task_fail(t, "add takes two histograms of %zu bytes", HIST_BYTES);

    uint64_t *sum = rmpi_task_return_buffer(t, 0, HIST_BYTES);
    if (sum == NULL)
        return RMPI_ERR_TASK_FAILED;
    const uint64_t *ha = a, *hb = b;
    for (size_t i = 0; i < NBINS; i++)
        sum[i] = ha[i] + hb[i];
    return RMPI_OK;
}
RMPI_REMOTE(add);

static int fail(const char *what, int st)
{
    fprintf(stderr, "mapreduce: %s: %s\n", what, rmpi_status_string(st));
    return 1;
}

int main(int argc, char **argv)
{
    int st = rmpi_init(&argc, &argv);
    if (st == RMPI_WORKER_DONE)
        return rmpi_finalize();
    if (st != RMPI_OK)
        return fail("rmpi_init", st);

    /* Put the input: rmpi_put copies, so one staging buffer serves every chunk. */
    uint32_t *buf = malloc(CHUNK_ELEMS * sizeof(uint32_t));
    if (buf == NULL)
        return fail("malloc", RMPI_ERR_NO_MEMORY);
    rmpi_ref_t chunks[NCHUNKS];
    for (int c = 0; c < NCHUNKS; c++) {
        uint64_t state = (uint64_t)c;
        for (uint32_t i = 0; i < CHUNK_ELEMS; i++)
            buf[i] = (uint32_t)(next_random(&state) >> 32);
        if ((st = rmpi_put(buf, CHUNK_ELEMS * sizeof(uint32_t), &chunks[c])) != RMPI_OK)
            return fail("rmpi_put", st);
    }
    free(buf);

    /* Map: one histogram per chunk. */
    rmpi_ref_t level[NCHUNKS];
    for (int c = 0; c < NCHUNKS; c++) {
        rmpi_arg_t arg = rmpi_ref(chunks[c]);
        if ((st = rmpi_submit("histogram", &arg, 1, NULL, &level[c])) != RMPI_OK)
            return fail("submit histogram", st);
    }
    /* The tasks hold what they need: the driver can drop its input refs now. */
    for (int c = 0; c < NCHUNKS; c++)
        rmpi_release(chunks[c]);

    /* Reduce: add pairs until one histogram is left. */
    for (int n = NCHUNKS; n > 1; n /= 2) {
        for (int i = 0; i < n / 2; i++) {
            rmpi_arg_t args[2] = { rmpi_ref(level[2 * i]), rmpi_ref(level[2 * i + 1]) };
            rmpi_ref_t sum;
            if ((st = rmpi_submit("add", args, 2, NULL, &sum)) != RMPI_OK)
                return fail("submit add", st);
            rmpi_release(level[2 * i]);
            rmpi_release(level[2 * i + 1]);
            level[i] = sum;
        }
    }

    rmpi_view_t view;
    if ((st = rmpi_get(level[0], -1, &view)) != RMPI_OK) {
        char msg[256] = "";
        rmpi_error_message(level[0], msg, sizeof msg);
        fprintf(stderr, "mapreduce: %s\n", msg);
        return fail("rmpi_get", st);
    }
    if (view.size != HIST_BYTES)
        return fail("result size", RMPI_ERR_INTERNAL);

    const uint64_t *hist = view.data;
    uint64_t total = 0, max = 0, min = UINT64_MAX, median_bin = 0;
    size_t max_bin = 0;
    for (size_t i = 0; i < NBINS; i++) {
        total += hist[i];
        if (hist[i] > max) {
            max = hist[i];
            max_bin = i;
        }
        if (hist[i] < min)
            min = hist[i];
    }
    for (uint64_t i = 0, below = 0; i < NBINS; i++) {
        below += hist[i];
        if (2 * below >= total) {
            median_bin = i;
            break;
        }
    }
    printf("values: %" PRIu64 " in %d chunks of %u\n", total, NCHUNKS, CHUNK_ELEMS);
    printf("bins: %u, fewest values in a bin: %" PRIu64 ", most: %" PRIu64 " (bin %zu)\n",
           NBINS, min, max, max_bin);
    printf("median bin: %" PRIu64 "\n", median_bin);

    rmpi_view_release(&view);
    rmpi_release(level[0]);
    return rmpi_finalize();
}
