/*
 * Start-up exchange: every rank contributes a blob (its UCX address and what the
 * others must know of it) and gets everyone's.  PMIx under mpirun and srun
 * --mpi=pmix; MPI_Allgather when the application initialised MPI; a singleton
 * when started alone.  No PMIx connection is held afterwards.
 */
#ifndef RMPI_BOOT_H
#define RMPI_BOOT_H

#include <stddef.h>

typedef struct {
    int     rank, size;
    int     method;    /* RMPI_BOOT_PMIX, _MPI or _SINGLETON */
    char    job[128];  /* PMIx namespace or a singleton/MPI name */
    void  **blobs;     /* [size], each malloc'd */
    size_t *lens;
} rmpi_boot_t;

int  rmpi__boot_exchange(int method, const void *blob, size_t len, rmpi_boot_t *out,
                         char *err, size_t errlen);
void rmpi__boot_free(rmpi_boot_t *b);
const char *rmpi__boot_method_name(int method);

#endif
