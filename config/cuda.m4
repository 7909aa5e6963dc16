# CUDA: GPU-resident objects (optional, --with-cuda[=DIR], default: guess /usr/local/cuda).
AC_DEFUN([RMPI_CHECK_CUDA], [
  AC_ARG_WITH([cuda],
    [AS_HELP_STRING([--with-cuda@<:@=DIR@:>@], [CUDA toolkit for GPU objects (default: guess /usr/local/cuda)])],
    [], [with_cuda=guess])
  rmpi_have_cuda=no
  AS_CASE([$with_cuda],
    [no], [],
    [guess|yes], [rmpi_cuda_dir=/usr/local/cuda],
    [rmpi_cuda_dir=$with_cuda])
  AS_IF([test "x$with_cuda" != xno], [
    rmpi_save_CPPFLAGS=$CPPFLAGS; rmpi_save_LIBS=$LIBS; rmpi_save_LDFLAGS=$LDFLAGS
    CPPFLAGS="$CPPFLAGS -I$rmpi_cuda_dir/include"
    LDFLAGS="$LDFLAGS -L$rmpi_cuda_dir/lib64"
    AC_CHECK_HEADER([cuda_runtime_api.h],
      [AC_CHECK_LIB([cudart], [cudaGetDeviceCount], [rmpi_have_cuda=yes])])
    CPPFLAGS=$rmpi_save_CPPFLAGS; LIBS=$rmpi_save_LIBS; LDFLAGS=$rmpi_save_LDFLAGS
    AS_IF([test "x$rmpi_have_cuda" = xno && test "x$with_cuda" != xguess],
      [AC_MSG_ERROR([CUDA requested but not found under $rmpi_cuda_dir])])
  ])
  AS_IF([test "x$rmpi_have_cuda" = xyes], [
    CUDA_CFLAGS="-I$rmpi_cuda_dir/include"
    CUDA_LIBS="-L$rmpi_cuda_dir/lib64 -Wl,-rpath,$rmpi_cuda_dir/lib64 -lcudart"
    AC_DEFINE([HAVE_CUDA], [1], [Define if CUDA is available])
    rmpi_cuda_summary="yes ($rmpi_cuda_dir)"
  ], [CUDA_CFLAGS=""; CUDA_LIBS=""; rmpi_cuda_summary=no])
  AC_SUBST([CUDA_CFLAGS])
  AC_SUBST([CUDA_LIBS])
  AM_CONDITIONAL([HAVE_CUDA], [test "x$rmpi_have_cuda" = xyes])
])
