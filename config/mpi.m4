# MPI: start-up when the application runs MPI itself (required).  Prefers the
# pkg-config module, falls back to the mpicc wrapper's flags.
AC_DEFUN([RMPI_CHECK_MPI], [
  AC_ARG_WITH([mpi],
    [AS_HELP_STRING([--with-mpi@<:@=DIR@:>@], [MPI installation (required)])],
    [], [with_mpi=guess])
  AS_IF([test "x$with_mpi" = xno], [AC_MSG_ERROR([MPI is required])])
  AS_IF([test "x$with_mpi" != xguess && test "x$with_mpi" != xyes],
    [export PKG_CONFIG_PATH="$with_mpi/lib/pkgconfig:$PKG_CONFIG_PATH"
     MPIRUN_PATH="$with_mpi/bin:$PATH"], [MPIRUN_PATH="$PATH"])
  PKG_CHECK_MODULES([MPI], [ompi-c], [rmpi_mpi_summary="yes (Open MPI $($PKG_CONFIG --modversion ompi-c))"], [
    PKG_CHECK_MODULES([MPI], [mpi], [rmpi_mpi_summary="yes (mpi $($PKG_CONFIG --modversion mpi))"], [
      AC_PATH_PROG([MPICC_PROBE], [mpicc], [], [$MPIRUN_PATH])
      AS_IF([test -z "$MPICC_PROBE"], [AC_MSG_ERROR([MPI not found: install libopenmpi-dev or pass --with-mpi=DIR])])
      MPI_CFLAGS=$($MPICC_PROBE --showme:compile)
      MPI_LIBS=$($MPICC_PROBE --showme:link)
      rmpi_mpi_summary="yes ($MPICC_PROBE)"])])
  AC_PATH_PROG([MPIRUN], [mpirun], [], [$MPIRUN_PATH])
  AS_IF([test -z "$MPIRUN"], [AC_MSG_WARN([mpirun not found: multi-rank tests will be skipped])])
  AC_SUBST([MPIRUN])
])
