# Criterion: unit tests (optional; without it make check runs only multi-rank tests).
AC_DEFUN([RMPI_CHECK_CRITERION], [RMPI_CHECK_PKG([criterion], [criterion], [no], [Criterion])])
