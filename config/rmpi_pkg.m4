# RMPI_CHECK_PKG(NAME, MODULES, REQUIRED, DESCRIPTION)
# --with-NAME[=DIR]: DIR is a prefix whose lib/pkgconfig is searched first.
# Sets NAME_CFLAGS, NAME_LIBS, the automake conditional HAVE_NAME and
# rmpi_<name>_summary.
AC_DEFUN([RMPI_CHECK_PKG], [
  m4_pushdef([UP], m4_toupper([$1]))
  AC_ARG_WITH([$1],
    [AS_HELP_STRING([--with-$1@<:@=DIR@:>@], [$4 (]m4_if([$3], [yes], [required], [default: guess])[)])],
    [], [with_$1=guess])
  rmpi_have_$1=no
  AS_IF([test "x$with_$1" != xno], [
    AS_IF([test "x$with_$1" != xguess && test "x$with_$1" != xyes],
      [export PKG_CONFIG_PATH="$with_$1/lib/pkgconfig:$with_$1/lib64/pkgconfig:$PKG_CONFIG_PATH"])
    PKG_CHECK_MODULES(UP, [$2], [rmpi_have_$1=yes], [rmpi_have_$1=no])
  ])
  AS_IF([test "x$rmpi_have_$1" = xno], [
    AS_IF([test "x$3" = xyes || test "x$with_$1" = xyes || (test "x$with_$1" != xguess && test "x$with_$1" != xno)],
      [AC_MSG_ERROR([$4 not found (pkg-config $2); install it or pass --with-$1=DIR])])
    rmpi_$1_summary=no
  ], [
    rmpi_$1_summary="yes ($($PKG_CONFIG --modversion $2 | head -n1))"
    AC_DEFINE([HAVE_]UP, [1], [Define if $4 is available])
  ])
  AM_CONDITIONAL([HAVE_]UP, [test "x$rmpi_have_$1" = xyes])
  m4_popdef([UP])
])
