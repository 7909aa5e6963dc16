#!/bin/sh
# test_init.sh - start-up errors, through mpi/init_probe:
#  - a misspelt RAYMPI_ variable only warns, naming it and suggesting the right
#    one, and rmpi_init succeeds;
#  - an invalid value makes rmpi_init fail with RMPI_ERR_CONFIG on every rank,
#    and the message names the variable;
#  - a function registered on rank 1 only makes rmpi_init fail with
#    RMPI_ERR_REGISTRY_MISMATCH on every rank, and the message names the ranks;
#  - a name registered twice by constructors is reported by rmpi_init;
#  - a bad or foreign job directory base is refused with RMPI_ERR_CONFIG.
# Run from the tests build folder (make check does); RUN_MPI and PROBE may
# point elsewhere.

here=$(cd "$(dirname "$0")" && pwd)
run_mpi=${RUN_MPI:-$here/../run-mpi.sh}
probe=${PROBE:-./mpi/init_probe}
work=${TMPDIR:-/tmp}/raympi-test-init.$$
mkdir -p "$work" || exit 99
trap 'rm -rf "$work"' EXIT

failures=0
fail() {
    echo "FAIL: $*"
    echo "--- stdout"; cat "$work/out"
    echo "--- stderr"; cat "$work/err"
    echo "---"
    failures=$((failures + 1))
}

# probe NP EXPECTED [VAR=VALUE...]: run init_probe on NP ranks (or singleton)
# with the variables set; passes when every rank got EXPECTED.
probe() {
    np=$1 expected=$2
    shift 2
    echo "== np $np, $*: expect $expected"
    env "$@" "$run_mpi" "$np" "$probe" "$expected" >"$work/out" 2>"$work/err"
    rc=$?
    n=$np
    [ "$np" = singleton ] && n=1
    got=$(grep -c "rmpi_init: $expected" "$work/out")
    if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
        fail "np $np, $*: hung"
        return 1
    fi
    if [ "$rc" -ne 0 ] || { [ "$expected" != RMPI_OK ] && [ "$got" -ne "$n" ]; }; then
        fail "np $np, $*: exit status $rc, $got of $n ranks saw $expected"
        return 1
    fi
    return 0
}

# stderr_has TEXT...: the last run's stderr contains each TEXT.
stderr_has() {
    for text in "$@"; do
        if ! grep -q -- "$text" "$work/err"; then
            fail "stderr does not contain '$text'"
            return 1
        fi
    done
    return 0
}

for np in singleton 2; do
    # A clean start, for comparison.
    probe $np RMPI_OK

    # Misspelt: a warning with a suggestion, and start-up goes on.
    probe $np RMPI_OK RAYMPI_STORE_CAPACTY=1G &&
        stderr_has RAYMPI_STORE_CAPACTY RAYMPI_STORE_CAPACITY

    # Invalid values.
    for value in abc -5 12Q; do
        probe $np RMPI_ERR_CONFIG "RAYMPI_STORE_CAPACITY=$value" &&
            stderr_has RAYMPI_STORE_CAPACITY
    done
    # A valid one, with a unit.
    probe $np RMPI_OK RAYMPI_STORE_CAPACITY=256M

    # One name registered twice.
    probe $np RMPI_ERR_NAME_EXISTS PROBE_DUPLICATE=1 && stderr_has probe_fn

    # The job directory: a relative RAYMPI_CORE_TMPDIR is invalid; a per-user
    # directory that others may write to is refused, named, and left alone; a
    # private one is used.
    probe $np RMPI_ERR_CONFIG RAYMPI_CORE_TMPDIR=relative/dir && stderr_has RAYMPI_CORE_TMPDIR
    mkdir -p "$work/open/rmpi-$(id -u)" && chmod 777 "$work/open/rmpi-$(id -u)"
    probe $np RMPI_ERR_CONFIG "RAYMPI_CORE_TMPDIR=$work/open" &&
        stderr_has "$work/open/rmpi-$(id -u)" "not a private directory"
    mkdir -p "$work/private"
    probe $np RMPI_OK "RAYMPI_CORE_TMPDIR=$work/private"
    if [ -n "$(ls -A "$work/private/rmpi-$(id -u)" 2>/dev/null)" ]; then
        fail "np $np: the job directory was left behind in $work/private/rmpi-$(id -u)"
    fi
done

# names_rank R: the last run's stderr names rank R ("rank 1", "ranks 0 and 1", ...).
names_rank() {
    if ! grep -Eiq "rank.*[^0-9]$1([^0-9]|\$)" "$work/err"; then
        fail "the mismatch message does not name rank $1"
        return 1
    fi
    grep -q only_on_one_rank "$work/err" ||
        echo "note: the mismatch message does not name the function only_on_one_rank"
    return 0
}

# Rank 1 registers a function the others do not have.
for np in 2 4; do
    probe $np RMPI_ERR_REGISTRY_MISMATCH PROBE_EXTRA_ON_RANK=1 && names_rank 1
done
# The same, with rank 0 as the odd one.
probe 2 RMPI_ERR_REGISTRY_MISMATCH PROBE_EXTRA_ON_RANK=0 && names_rank 0

if [ "$failures" -ne 0 ]; then
    echo "$failures failures"
    exit 1
fi
echo PASS
exit 0
