# UCX: transport for control messages and object transfer (required).
AC_DEFUN([RMPI_CHECK_UCX], [RMPI_CHECK_PKG([ucx], [ucx], [yes], [UCX])])
