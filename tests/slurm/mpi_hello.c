/* mpi_hello.c - smallest proof that an MPI job runs on the test Slurm cluster.
 *
 * Every rank prints "hello rank R of S on HOST"; rank 0 then checks an
 * MPI_Allreduce (sum of rank+1 == S(S+1)/2), counts the distinct host names
 * gathered from all ranks and prints
 *   "allreduce ok sum=X size=S hosts=H"   (or "allreduce FAILED ...", exit 1).
 */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define HOST_LEN 64

int main(int argc, char **argv)
{
    int rank, size;
    char host[HOST_LEN];

    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);

    memset(host, 0, sizeof host);
    if (gethostname(host, sizeof host - 1) != 0)
        strcpy(host, "unknown");

    printf("hello rank %d of %d on %s\n", rank, size, host);
    fflush(stdout);

    long mine = rank + 1, sum = 0;
    MPI_Allreduce(&mine, &sum, 1, MPI_LONG, MPI_SUM, MPI_COMM_WORLD);
    long want = (long)size * (size + 1) / 2;

    char *all = rank == 0 ? calloc((size_t)size, HOST_LEN) : NULL;
    MPI_Gather(host, HOST_LEN, MPI_CHAR, all, HOST_LEN, MPI_CHAR, 0, MPI_COMM_WORLD);

    int rc = sum == want ? 0 : 1;
    if (rank == 0) {
        int hosts = 0;
        for (int i = 0; i < size; i++) {
            int seen = 0;
            for (int j = 0; j < i && !seen; j++)
                seen = strcmp(all + (size_t)i * HOST_LEN, all + (size_t)j * HOST_LEN) == 0;
            hosts += !seen;
        }
        printf("allreduce %s sum=%ld size=%d hosts=%d\n", rc == 0 ? "ok" : "FAILED", sum, size, hosts);
        fflush(stdout);
        free(all);
    }
    /* every rank learns the verdict so the exit codes agree */
    MPI_Bcast(&rc, 1, MPI_INT, 0, MPI_COMM_WORLD);
    MPI_Finalize();
    return rc;
}
