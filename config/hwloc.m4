# hwloc: the rank's cpuset and executor thread binding (required).
AC_DEFUN([RMPI_CHECK_HWLOC], [RMPI_CHECK_PKG([hwloc], [hwloc], [yes], [hwloc])])
