#include "boot.h"
#include "base/config.h"
#include "base/log.h"
#include "raympi.h"

#include <mpi.h>
#include <pmix.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MOD "boot"
#define BLOB_KEY "rmpi.blob"

const char *rmpi__boot_method_name(int method)
{
    switch (method) {
    case RMPI_BOOT_PMIX: return "pmix";
    case RMPI_BOOT_MPI: return "mpi";
    case RMPI_BOOT_SINGLETON: return "singleton";
    default: return "auto";
    }
}

static int alloc_result(rmpi_boot_t *b, int size)
{
    b->size = size;
    b->blobs = calloc((size_t)size, sizeof(*b->blobs));
    b->lens = calloc((size_t)size, sizeof(*b->lens));
    return b->blobs != NULL && b->lens != NULL ? RMPI_OK : RMPI_ERR_NO_MEMORY;
}

void rmpi__boot_free(rmpi_boot_t *b)
{
    if (b->blobs != NULL)
        for (int i = 0; i < b->size; i++)
            free(b->blobs[i]);
    free(b->blobs);
    free(b->lens);
    b->blobs = NULL;
    b->lens = NULL;
}

static int singleton(const void *blob, size_t len, rmpi_boot_t *out)
{
    if (alloc_result(out, 1) != RMPI_OK)
        return RMPI_ERR_NO_MEMORY;
    out->rank = 0;
    out->method = RMPI_BOOT_SINGLETON;
    snprintf(out->job, sizeof(out->job), "single.%ld", (long)getpid());
    out->blobs[0] = malloc(len);
    if (out->blobs[0] == NULL)
        return RMPI_ERR_NO_MEMORY;
    memcpy(out->blobs[0], blob, len);
    out->lens[0] = len;
    return RMPI_OK;
}

static int by_mpi(const void *blob, size_t len, rmpi_boot_t *out, char *err, size_t errlen)
{
    int rank, size, rc;
    int mylen = (int)len;
    int *lens = NULL, *displs = NULL;
    char *all = NULL;

    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    if (alloc_result(out, size) != RMPI_OK)
        return RMPI_ERR_NO_MEMORY;
    out->rank = rank;
    out->method = RMPI_BOOT_MPI;
    snprintf(out->job, sizeof(out->job), "mpi.%ld", (long)getppid());
    lens = calloc((size_t)size, sizeof(int));
    displs = calloc((size_t)size, sizeof(int));
    if (lens == NULL || displs == NULL)
        goto err_mem;
    rc = MPI_Allgather(&mylen, 1, MPI_INT, lens, 1, MPI_INT, MPI_COMM_WORLD);
    if (rc != MPI_SUCCESS)
        goto err_mpi;
    long total = 0;
    for (int i = 0; i < size; i++) {
        displs[i] = (int)total;
        total += lens[i];
    }
    all = malloc((size_t)total + 1);
    if (all == NULL)
        goto err_mem;
    rc = MPI_Allgatherv(blob, mylen, MPI_BYTE, all, lens, displs, MPI_BYTE, MPI_COMM_WORLD);
    if (rc != MPI_SUCCESS)
        goto err_mpi;
    for (int i = 0; i < size; i++) {
        out->blobs[i] = malloc((size_t)lens[i] + 1);
        if (out->blobs[i] == NULL)
            goto err_mem;
        memcpy(out->blobs[i], all + displs[i], (size_t)lens[i]);
        out->lens[i] = (size_t)lens[i];
    }
    free(all);
    free(lens);
    free(displs);
    return RMPI_OK;

err_mpi:
    snprintf(err, errlen, "MPI_Allgather of the start-up data failed (MPI error %d)", rc);
    free(all);
    free(lens);
    free(displs);
    return RMPI_ERR_BOOTSTRAP;
err_mem:
    free(all);
    free(lens);
    free(displs);
    return RMPI_ERR_NO_MEMORY;
}

/* 1 when a launcher evidently started several ranks, so a singleton would be wrong. */
static int launched_as_job(char *what, size_t len)
{
    const char *v;

    if ((v = getenv("OMPI_COMM_WORLD_SIZE")) != NULL && atoi(v) > 1) {
        snprintf(what, len, "mpirun started %s ranks", v);
        return 1;
    }
    if ((v = getenv("SLURM_STEP_NUM_TASKS")) != NULL && atoi(v) > 1) {
        snprintf(what, len, "srun started %s tasks (use srun --mpi=pmix)", v);
        return 1;
    }
    if ((v = getenv("PMIX_RANK")) != NULL) {
        snprintf(what, len, "PMIX_RANK is set");
        return 1;
    }
    return 0;
}

static int by_pmix(const void *blob, size_t len, rmpi_boot_t *out, int required, char *err,
                   size_t errlen)
{
    pmix_proc_t me, wild;
    pmix_value_t val, *vp = NULL;
    pmix_info_t info;
    pmix_status_t s;
    bool collect = true;
    int rc = RMPI_ERR_BOOTSTRAP;

    s = PMIx_Init(&me, NULL, 0);
    if (s != PMIX_SUCCESS) {
        char what[128];
        if (!required && !launched_as_job(what, sizeof(what)))
            return 1; /* alone: singleton */
        snprintf(err, errlen, "PMIx_Init failed (%s)%s%s", PMIx_Error_string(s),
                 required ? "" : ", but ", required ? "" : what);
        return RMPI_ERR_BOOTSTRAP;
    }
    out->rank = (int)me.rank;
    out->method = RMPI_BOOT_PMIX;
    snprintf(out->job, sizeof(out->job), "%.120s", me.nspace);
    PMIX_PROC_CONSTRUCT(&wild);
    PMIX_LOAD_PROCID(&wild, me.nspace, PMIX_RANK_WILDCARD);
    s = PMIx_Get(&wild, PMIX_JOB_SIZE, NULL, 0, &vp);
    if (s != PMIX_SUCCESS) {
        snprintf(err, errlen, "PMIx_Get(PMIX_JOB_SIZE) failed: %s", PMIx_Error_string(s));
        goto out_fini;
    }
    int size = (int)vp->data.uint32;
    PMIX_VALUE_RELEASE(vp);
    if (alloc_result(out, size) != RMPI_OK) {
        rc = RMPI_ERR_NO_MEMORY;
        goto out_fini;
    }
    PMIX_VALUE_CONSTRUCT(&val);
    val.type = PMIX_BYTE_OBJECT;
    val.data.bo.bytes = (char *)blob;
    val.data.bo.size = len;
    s = PMIx_Put(PMIX_GLOBAL, BLOB_KEY, &val);
    if (s == PMIX_SUCCESS)
        s = PMIx_Commit();
    if (s != PMIX_SUCCESS) {
        snprintf(err, errlen, "PMIx_Put/Commit failed: %s", PMIx_Error_string(s));
        goto out_fini;
    }
    PMIX_INFO_CONSTRUCT(&info);
    PMIX_INFO_LOAD(&info, PMIX_COLLECT_DATA, &collect, PMIX_BOOL);
    s = PMIx_Fence(&wild, 1, &info, 1);
    PMIX_INFO_DESTRUCT(&info);
    if (s != PMIX_SUCCESS) {
        snprintf(err, errlen, "PMIx_Fence failed: %s", PMIx_Error_string(s));
        goto out_fini;
    }
    for (int r = 0; r < size; r++) {
        pmix_proc_t p;
        PMIX_LOAD_PROCID(&p, me.nspace, (pmix_rank_t)r);
        s = PMIx_Get(&p, BLOB_KEY, NULL, 0, &vp);
        if (s != PMIX_SUCCESS || vp->type != PMIX_BYTE_OBJECT) {
            snprintf(err, errlen, "PMIx_Get of rank %d's start-up data failed: %s", r,
                     PMIx_Error_string(s));
            if (s == PMIX_SUCCESS)
                PMIX_VALUE_RELEASE(vp);
            goto out_fini;
        }
        out->blobs[r] = malloc(vp->data.bo.size + 1);
        if (out->blobs[r] == NULL) {
            PMIX_VALUE_RELEASE(vp);
            rc = RMPI_ERR_NO_MEMORY;
            goto out_fini;
        }
        memcpy(out->blobs[r], vp->data.bo.bytes, vp->data.bo.size);
        out->lens[r] = vp->data.bo.size;
        PMIX_VALUE_RELEASE(vp);
    }
    rc = RMPI_OK;
out_fini:
    /* Hold no PMIx connection: under Slurm a live client makes the step die with
     * any rank.  (An application that runs MPI keeps its own.) */
    PMIx_Finalize(NULL, 0);
    return rc;
}

int rmpi__boot_exchange(int method, const void *blob, size_t len, rmpi_boot_t *out,
                        char *err, size_t errlen)
{
    int flag = 0;

    memset(out, 0, sizeof(*out));
    if (method == RMPI_BOOT_AUTO || method == RMPI_BOOT_MPI)
        MPI_Initialized(&flag);
    if (method == RMPI_BOOT_MPI && !flag) {
        snprintf(err, errlen, "RAYMPI_BOOT_METHOD=mpi but the application did not call MPI_Init");
        return RMPI_ERR_BOOTSTRAP;
    }
    if (flag) {
        int fin = 0;
        MPI_Finalized(&fin);
        if (!fin)
            return by_mpi(blob, len, out, err, errlen);
    }
    if (method == RMPI_BOOT_SINGLETON)
        return singleton(blob, len, out);
    int rc = by_pmix(blob, len, out, method == RMPI_BOOT_PMIX, err, errlen);
    if (rc == 1) {
        rmpi__boot_free(out);
        return singleton(blob, len, out);
    }
    return rc;
}
