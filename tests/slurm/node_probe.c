/*
 * node_probe.c - what the Slurm tests check of a running ray-mpi job:
 *   node_probe jobdir SECONDS   rank 0 prints "jobdir PATH MODE UID", keeps the job
 *                               busy with tasks for SECONDS, then checks again
 *   node_probe paths SIZE       rank 0 pulls a SIZE-byte object made on every other
 *                               rank and prints, per rank, whether it came over
 *                               shared memory or the network, from the runtime's
 *                               own transfer counters
 */
#include <raympi.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int nap(rmpi_task_t *t)
{
    usleep((useconds_t)rmpi_task_arg_i64(t, 0));
    return rmpi_task_return_i64(t, 0, 1);
}
RMPI_REMOTE(nap);

static int make_bytes(rmpi_task_t *t)
{
    size_t n = (size_t)rmpi_task_arg_i64(t, 0);
    char *p = rmpi_task_return_buffer(t, 0, n);
    if (p == NULL)
        return RMPI_ERR_STORE_FULL;
    memset(p, 0x5a, n);
    return RMPI_OK;
}
RMPI_REMOTE(make_bytes);

static int fail(const char *what, int rc)
{
    fprintf(stderr, "node_probe: %s: %s\n", what, rmpi_status_string(rc));
    return 1;
}

static int jobdir(double seconds)
{
    rmpi_stats_t st;
    struct stat sb;
    int rc = rmpi_stats(&st);
    if (rc != RMPI_OK)
        return fail("rmpi_stats", rc);
    if (st.job_dir[0] == '\0' || stat(st.job_dir, &sb) != 0) {
        fprintf(stderr, "node_probe: no job directory (%s)\n", st.job_dir);
        return 1;
    }
    printf("jobdir %s %o %u\n", st.job_dir, (unsigned)(sb.st_mode & 0777), (unsigned)sb.st_uid);
    fflush(stdout);
    int n = (int)(seconds / 0.05) + 1;
    for (int i = 0; i < n; i++) {
        int64_t v;
        rmpi_ref_t r = rmpi_call("nap", 1, rmpi_i64(50000));
        rc = rmpi_get_i64(r, 60, &v);
        rmpi_release(r);
        if (rc != RMPI_OK)
            return fail("nap", rc);
    }
    return stat(st.job_dir, &sb) == 0 ? 0 : 1;
}

static int paths(size_t size)
{
    for (int r = 1; r < rmpi_size(); r++) {
        rmpi_stats_t before, after;
        rmpi_opts_t o = {.field_mask = RMPI_OPT_RANK, .rank = r};
        rmpi_ref_t ref;
        rmpi_view_t v;
        int ready, n;
        int rc = rmpi_submit("make_bytes", (rmpi_arg_t[]){rmpi_i64((int64_t)size)}, 1, &o, &ref);
        if (rc == RMPI_OK)
            rc = rmpi_wait(&ref, 1, 1, 60, &ready, &n);
        if (rc != RMPI_OK)
            return fail("make_bytes", rc);
        rmpi_stats(&before);
        rc = rmpi_get(ref, 60, &v);
        if (rc != RMPI_OK)
            return fail("get", rc);
        rmpi_stats(&after);
        int ok = v.size == size && ((const char *)v.data)[size - 1] == 0x5a;
        uint64_t shm = after.bytes_received_shm - before.bytes_received_shm;
        uint64_t net = after.bytes_received_net - before.bytes_received_net;
        char tl[128];
        rmpi_peer_transports(r, tl, sizeof(tl));
        printf("rank %d: %s %s (shm %llu net %llu; transports %s)\n", r,
               shm >= size && net < size ? "shm" : net >= size && shm < size ? "net" : "unclear",
               ok ? "ok" : "BAD", (unsigned long long)shm, (unsigned long long)net, tl);
        rmpi_view_release(&v);
        rmpi_release(ref);
    }
    return 0;
}

int main(int argc, char **argv)
{
    int rc = rmpi_init(&argc, &argv);
    if (rc == RMPI_WORKER_DONE)
        return rmpi_finalize() == RMPI_OK ? 0 : 1;
    if (rc != RMPI_OK)
        return fail("rmpi_init", rc);
    int ret = 2;
    if (argc == 3 && strcmp(argv[1], "jobdir") == 0)
        ret = jobdir(atof(argv[2]));
    else if (argc == 3 && strcmp(argv[1], "paths") == 0)
        ret = paths((size_t)atol(argv[2]));
    else
        fprintf(stderr, "usage: node_probe jobdir SECONDS | paths SIZE\n");
    rmpi_finalize();
    return ret;
}
