# PMIx: start-up exchange under mpirun and srun --mpi=pmix (required).
AC_DEFUN([RMPI_CHECK_PMIX], [RMPI_CHECK_PKG([pmix], [pmix], [yes], [PMIx])])
