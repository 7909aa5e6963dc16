#!/bin/sh
# run-test.sh TEST - how `make check` runs one multi-rank test (the LOG_COMPILER
# of the .run tests in Makefile.am).
#
# TEST names a program and a way to start it: DIR/NAME-MODE.run, where MODE is
#   single  the program alone, without mpirun (singleton start-up)
#   npN     under mpirun with N ranks (see run-mpi.sh)
#   npNlate the same with RAYMPI_SCHED_EARLY_DISPATCH=no
#   npNoff  the same with RAYMPI_SCHED_CALLER_RUNS=no
# DIR mpi:      the test program mpi/NAME, exit status 0 pass, 77 skip.
# DIR examples: the example program NAME; it must exit 0 with the output in
#               examples/expected/NAME.out.
# Arguments some tests take are kept here, by name.

tst=$1
here=$(dirname "$0")
base=${tst%.run}
mode=${base##*-}
name=${base%-*}
name=${name##*/}
dir=$(dirname "$base")
dir=${dir##*/}

case $mode in
single) np=singleton ;;
np[0-9]*late) # tasks wait at their owner for their arguments (no early dispatch)
    np=${mode#np}
    np=${np%late}
    RAYMPI_SCHED_EARLY_DISPATCH=no
    export RAYMPI_SCHED_EARLY_DISPATCH ;;
np[0-9]*off) # executors run every actor call
    np=${mode#np}
    np=${np%off}
    RAYMPI_SCHED_CALLER_RUNS=no
    export RAYMPI_SCHED_CALLER_RUNS ;;
np[0-9]*) np=${mode#np} ;;
*) echo "$0: cannot tell how to run '$tst'" >&2; exit 99 ;;
esac

args=
case $name in
test_memory) args=${RMPI_TEST_MEMORY_COUNT:-100000}
             RMPI_TEST_TIMEOUT=${RMPI_TEST_TIMEOUT:-1200}
             export RMPI_TEST_TIMEOUT ;;
esac

case $dir in
examples)
    prog=${top_builddir:-..}/examples/$name
    expected=${top_srcdir:-$here/..}/examples/expected/$name.out
    out=$base.out
    "$here/run-mpi.sh" "$np" "$prog" >"$out"
    rc=$?
    cat "$out"
    if [ "$rc" -ne 0 ]; then
        echo "$name exited with status $rc" >&2
        exit "$rc"
    fi
    if ! diff -u "$expected" "$out"; then
        echo "$name: output differs from $expected" >&2
        exit 1
    fi
    rm -f "$out"
    exit 0
    ;;
*)
    # shellcheck disable=SC2086  # args is a list
    exec "$here/run-mpi.sh" "$np" "./$dir/$name" $args
    ;;
esac
