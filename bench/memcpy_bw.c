/*
 * memcpy_bw - single-thread memcpy bandwidth, the physical limit that
 * single_client_put_gigabytes is compared against.
 *
 * Source and destination are separate page-aligned mappings; both are written
 * before timing and one untimed copy warms the destination.  For each size the
 * copy is repeated in batches of at least --batch seconds until --time seconds
 * have passed; the median batch bandwidth is reported (GB/s = 1e9 bytes/s).
 *
 * usage: memcpy_bw [-t SECONDS] [-b SECONDS] [-c] SIZE...
 *   SIZE accepts k/K (1024), m/M (1024^2), g/G (1024^3) suffixes or plain bytes
 *   (so 800 MB is written 800000000).  -c prints CSV: memcpy,SIZE,GBPS.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int parse_size(const char *s, size_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s)
        return -1;
    switch (*end) {
    case 'k': case 'K': v <<= 10; end++; break;
    case 'm': case 'M': v <<= 20; end++; break;
    case 'g': case 'G': v <<= 30; end++; break;
    default: break;
    }
    if (*end == 'i' || *end == 'B' || *end == 'b') /* tolerate KiB, MB, ... */
        while (*end && strchr("iBb", *end))
            end++;
    if (*end || v == 0)
        return -1;
    *out = (size_t)v;
    return 0;
}

static void *map_pages(size_t size)
{
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Keep the compiler from treating the copies as dead stores. */
static inline void clobber(void *p)
{
    __asm__ __volatile__("" : : "r"(p) : "memory");
}

static double measure(size_t size, double total_s, double batch_s)
{
    size_t len = (size + 4095) & ~(size_t)4095;
    char *src = map_pages(len), *dst = map_pages(len);
    if (!src || !dst) {
        fprintf(stderr, "memcpy_bw: cannot map 2 x %zu bytes\n", len);
        exit(1);
    }
    memset(src, 0x5a, size);
    memset(dst, 0, size);
    memcpy(dst, src, size); /* warm destination */
    clobber(dst);

    /* Calibrate: copies per batch so that a batch lasts about batch_s. */
    size_t reps = 1;
    for (;;) {
        double t0 = now();
        for (size_t i = 0; i < reps; i++) {
            memcpy(dst, src, size);
            clobber(dst);
        }
        double dt = now() - t0;
        if (dt >= batch_s || reps >= ((size_t)1 << 30))
            break;
        reps = dt <= 0 ? reps * 16 : (size_t)((double)reps * batch_s / dt * 1.1) + 1;
    }

    size_t cap = 64, n = 0;
    double *bw = malloc(cap * sizeof *bw);
    double start = now();
    do {
        double t0 = now();
        for (size_t i = 0; i < reps; i++) {
            memcpy(dst, src, size);
            clobber(dst);
        }
        double dt = now() - t0;
        if (n == cap)
            bw = realloc(bw, (cap *= 2) * sizeof *bw);
        bw[n++] = (double)size * (double)reps / dt / 1e9;
    } while (now() - start < total_s || n < 3);

    qsort(bw, n, sizeof *bw, cmp_double);
    double med = (n % 2) ? bw[n / 2] : 0.5 * (bw[n / 2 - 1] + bw[n / 2]);
    free(bw);
    munmap(src, len);
    munmap(dst, len);
    return med;
}

static void usage(void)
{
    fprintf(stderr, "usage: memcpy_bw [-t SECONDS] [-b SECONDS] [-c] SIZE...\n");
    exit(2);
}

int main(int argc, char **argv)
{
    double total_s = 0.3, batch_s = 0.02;
    int csv = 0, opt;
    while ((opt = getopt(argc, argv, "t:b:ch")) != -1) {
        switch (opt) {
        case 't': total_s = atof(optarg); break;
        case 'b': batch_s = atof(optarg); break;
        case 'c': csv = 1; break;
        default: usage();
        }
    }
    if (optind >= argc || total_s < 0 || batch_s <= 0)
        usage();
    for (int i = optind; i < argc; i++) {
        size_t size;
        if (parse_size(argv[i], &size) != 0) {
            fprintf(stderr, "memcpy_bw: bad size '%s'\n", argv[i]);
            return 2;
        }
        double gbps = measure(size, total_s, batch_s);
        if (csv)
            printf("memcpy,%zu,%.3f\n", size, gbps);
        else
            printf("memcpy %12zu bytes  %8.2f GB/s\n", size, gbps);
        fflush(stdout);
    }
    return 0;
}
