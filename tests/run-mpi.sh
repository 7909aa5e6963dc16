#!/bin/sh
# run-mpi.sh NP PROGRAM [ARGS...] - run a multi-rank test or example.
#
# NP is a number of ranks: PROGRAM runs under
#   mpirun --oversubscribe --allow-run-as-root -n NP
# (more ranks than cores is on purpose).  NP "singleton" runs PROGRAM directly,
# without mpirun, as a lone process.  A hang fails: the run is killed after
# RMPI_TEST_TIMEOUT seconds (300 by default).  The exit status is PROGRAM's
# (77, skipped, passes through); 77 also when mpirun is missing.
#
# Environment: MPIRUN (the mpirun to use; default: mpirun from PATH),
# MPIRUN_FLAGS (more flags for mpirun), RMPI_TEST_TIMEOUT (not RAYMPI_: the
# runtime warns about RAYMPI_ variables it does not know).

if [ $# -lt 2 ]; then
    echo "usage: $0 NP|singleton PROGRAM [ARGS...]" >&2
    exit 2
fi
np=$1
shift

# Open MPI refuses root without these, and oversubscription without the last.
OMPI_ALLOW_RUN_AS_ROOT=1
OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
OMPI_MCA_rmaps_base_oversubscribe=1
export OMPI_ALLOW_RUN_AS_ROOT OMPI_ALLOW_RUN_AS_ROOT_CONFIRM OMPI_MCA_rmaps_base_oversubscribe

# Crashing tasks are tested on purpose: no core files.
ulimit -c 0 2>/dev/null

limit=${RMPI_TEST_TIMEOUT:-300}
if command -v timeout >/dev/null 2>&1; then
    # --kill-after: a rank stuck in a signal handler still goes.
    run_limited() { timeout --kill-after=10 "$limit" "$@"; }
else
    run_limited() { "$@"; }
fi

case $np in
singleton)
    run_limited "$@"
    rc=$?
    ;;
*[!0-9]* | '')
    echo "$0: NP must be a number or 'singleton', not '$np'" >&2
    exit 2
    ;;
*)
    mpirun=${MPIRUN:-mpirun}
    if ! command -v "$mpirun" >/dev/null 2>&1; then
        echo "SKIP: no mpirun ('$mpirun')"
        exit 77
    fi
    # shellcheck disable=SC2086  # MPIRUN_FLAGS is a list of flags
    run_limited "$mpirun" --oversubscribe --allow-run-as-root -n "$np" $MPIRUN_FLAGS "$@"
    rc=$?
    ;;
esac

if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
    echo "$0: '$*' on $np ranks killed after $limit s (hung?)" >&2
fi
exit "$rc"
