#!/bin/sh
# test_ray_mpi.sh - the ray-mpi command without Slurm:
#  - --help, --version;
#  - `ray-mpi info` lists every RAYMPI_ variable and names a UCX transport;
#    `info --short` is one line whose cpus follow --cpus, RAYMPI_SCHED_NUM_CPUS
#    and SLURM_CPUS_PER_TASK; an invalid RAYMPI_ value makes info exit 1;
#  - wrong usage exits 2 with a message; a missing APP exits 127, one that cannot
#    be run or loaded 126, each with a message that says why;
#  - an executable linked with libraympi (examples/hello, pi) and pi.c built as a
#    shared object (examples/.libs/pi.so) give the examples' expected output,
#    alone and under mpirun with 2 ranks; arguments and the exit status pass
#    through.
# Run from the tests build folder (make check does); top_builddir, top_srcdir and
# RUN_MPI come from tests/Makefile.am.

here=$(cd "$(dirname "$0")" && pwd)
top_builddir=${top_builddir:-$here/../..}
top_srcdir=${top_srcdir:-$here/../..}
run_mpi=${RUN_MPI:-$here/../run-mpi.sh}
RAYMPI=${RAYMPI:-$top_builddir/src/ray-mpi}
case $RAYMPI in /*) ;; *) RAYMPI=$(pwd)/$RAYMPI ;; esac
EXP=$top_srcdir/examples/expected
work=${TMPDIR:-/tmp}/raympi-test-tool.$$
mkdir -p "$work" || exit 99
trap 'rm -rf "$work"' EXIT
# The checks set what they need; an inherited job environment would steer them.
unset RAYMPI_SCHED_NUM_CPUS RAYMPI_LOG_LEVEL SLURM_CPUS_PER_TASK SLURM_PROCID \
    SLURM_STEP_NUM_TASKS SLURM_JOB_ID SLURM_CPU_BIND_TYPE OMPI_COMM_WORLD_RANK \
    OMPI_COMM_WORLD_SIZE PMIX_RANK PMIX_NAMESPACE

if [ ! -x "$RAYMPI" ]; then
    echo "FAIL: $RAYMPI not built"
    exit 99
fi

passed=0 failed=0
ok() { echo "PASS: $1"; passed=$((passed + 1)); }
fail() {
    echo "FAIL: $1"
    [ -z "${2:-}" ] || echo "  $2"
    echo "  --- stdout"; sed 's/^/  | /' "$work/out"
    echo "  --- stderr"; sed 's/^/  | /' "$work/err"
    failed=$((failed + 1))
}

# run CMD...: stdout, stderr to $work/out, $work/err; status in $rc
run() {
    "$@" >"$work/out" 2>"$work/err"
    rc=$?
}

# expect_rc NAME RC [PATTERN]: the last run exited RC and stderr matches PATTERN
expect_rc() {
    if [ "$rc" -ne "$2" ]; then
        fail "$1" "exit status $rc, expected $2"
    elif [ -n "${3:-}" ] && ! grep -q -e "$3" "$work/err"; then
        fail "$1" "stderr does not match '$3'"
    else
        ok "$1"
    fi
}

# expect_out NAME FILE: the last run exited 0 with stdout equal to FILE
expect_out() {
    if [ "$rc" -ne 0 ]; then
        fail "$1" "exit status $rc"
    elif ! diff -u "$2" "$work/out" >"$work/diff"; then
        cat "$work/diff"
        fail "$1" "output differs from $2"
    else
        ok "$1"
    fi
}

# --- help and version --------------------------------------------------------
run "$RAYMPI" --help
if [ "$rc" -eq 0 ] && grep -q '^Usage: .*ray-mpi \[options\] APP' "$work/out" &&
    grep -q -- '--cpus' "$work/out" && grep -q 'info' "$work/out"; then
    ok "--help"
else
    fail "--help"
fi
run "$RAYMPI" --version
if [ "$rc" -eq 0 ] && grep -qx 'ray-mpi [0-9][0-9.]*' "$work/out"; then ok "--version"; else fail "--version"; fi

# --- info --------------------------------------------------------------------
run "$RAYMPI" info
if [ "$rc" -ne 0 ]; then
    fail "info" "exit status $rc"
else
    missing=''
    for v in RAYMPI_LOG_LEVEL RAYMPI_BOOT_METHOD RAYMPI_SCHED_NUM_CPUS RAYMPI_STORE_CAPACITY; do
        grep -q "^$v=" "$work/out" || missing="$missing $v"
    done
    # a transport UCX offers here: "  tcp   lo (net), ..." under the heading
    tl=$(sed -n '/^UCX transports/,/^this rank/p' "$work/out" |
        grep -Eo '^  (self|tcp|sysv|posix|cma|knem|xpmem|rc|rc_mlx5|rc_verbs|ud|ud_verbs|ud_mlx5|dc_mlx5|cuda_copy|cuda_ipc|gdr_copy|rocm_copy|ze_copy) ' | head -n 1)
    if [ -n "$missing" ]; then
        fail "info" "variables not listed:$missing"
    elif [ -z "$tl" ]; then
        fail "info" "no UCX transport named"
    elif ! grep -q '^  UCX  *[0-9]' "$work/out" || ! grep -q '^  PMIx ' "$work/out" ||
        ! grep -q '^  MPI ' "$work/out" || ! grep -q '^  CUDA ' "$work/out"; then
        fail "info" "build features (UCX, PMIx, MPI, CUDA) missing"
    elif ! grep -q '^  cpus  *[0-9]' "$work/out" || ! grep -q '^  cpuset ' "$work/out"; then
        fail "info" "rank resources missing"
    else
        ok "info (names UCX transport $(echo $tl))"
    fi
fi

run "$RAYMPI" info --short
if [ "$rc" -eq 0 ] && [ "$(wc -l <"$work/out")" -eq 1 ] &&
    grep -Eq '^rank=0 host=[^ ]+ cpus=[0-9]+ cpuset=[^ ]+ gpus=none$' "$work/out"; then
    ok "info --short"
else
    fail "info --short"
fi
run "$RAYMPI" --cpus 3 info --short
if [ "$rc" -eq 0 ] && grep -q ' cpus=3 ' "$work/out"; then ok "--cpus 3 info --short"; else fail "--cpus 3 info --short"; fi
run env SLURM_CPUS_PER_TASK=2 "$RAYMPI" info --short
if [ "$rc" -eq 0 ] && grep -q ' cpus=2 ' "$work/out"; then ok "info --short with SLURM_CPUS_PER_TASK=2"; else fail "info --short with SLURM_CPUS_PER_TASK=2"; fi
run env SLURM_CPUS_PER_TASK=2 RAYMPI_SCHED_NUM_CPUS=5 CUDA_VISIBLE_DEVICES=0,1 "$RAYMPI" info --short
if [ "$rc" -eq 0 ] && grep -q ' cpus=5 .* gpus=0,1$' "$work/out"; then ok "info --short: RAYMPI_SCHED_NUM_CPUS first, gpus"; else fail "info --short: RAYMPI_SCHED_NUM_CPUS first, gpus"; fi
run env SLURM_PROCID=3 SLURM_STEP_NUM_TASKS=4 "$RAYMPI" info
if [ "$rc" -eq 0 ] && ! grep -qv '^3: ' "$work/out" && grep -q '^3:   rank        3 of 4' "$work/out"; then
    ok "info in a step: every line prefixed with the rank"
else
    fail "info in a step: every line prefixed with the rank"
fi
run env SLURM_PROCID=1 SLURM_STEP_NUM_TASKS=2 "$RAYMPI" info
if grep -q 'start-up *WILL FAIL.*--mpi=pmix' "$work/out"; then ok "info: srun without PMIx foretold"; else fail "info: srun without PMIx foretold"; fi
run env RAYMPI_LOG_LEVEL=loud "$RAYMPI" info
expect_rc "info with an invalid RAYMPI_LOG_LEVEL" 1 'RAYMPI_LOG_LEVEL'

# --- wrong usage: 2 ------------------------------------------------------------
run "$RAYMPI"
expect_rc "no APP" 2 'no application given'
run "$RAYMPI" --bogus x
expect_rc "unknown option" 2 "unknown option '--bogus'"
run "$RAYMPI" --cpus 0 x
expect_rc "--cpus 0" 2 '--cpus wants'
run "$RAYMPI" --cpus
expect_rc "--cpus without a value" 2 'needs a value'
run "$RAYMPI" --log loud x
expect_rc "--log loud" 2 '--log wants'
run "$RAYMPI" info --bogus
expect_rc "info --bogus" 2 "unknown argument '--bogus'"

# --- APP that cannot run: 127 not found, 126 not runnable ------------------------
run "$RAYMPI" raympi-no-such-app-$$
expect_rc "APP not found" 127 "raympi-no-such-app-$$: not found"
run "$RAYMPI" "$work/nothing/here"
expect_rc "APP path not found" 127 'not found'
printf 'not a program\n' >"$work/text"
run "$RAYMPI" "$work/text"
expect_rc "APP not executable" 126 'cannot execute it'
run "$RAYMPI" "$work"
expect_rc "APP a directory" 126 'is a directory'
run "$RAYMPI" --load "$work/text"
expect_rc "--load of a text file: dlopen's error" 126 "cannot load .*text: .*$work/text"
lib=$top_builddir/src/.libs/libraympi.so.0
if [ -f "$lib" ]; then
    run "$RAYMPI" "$lib"
    expect_rc "shared object without main" 126 "neither 'rmpi_main' nor 'main'"
fi

# --- running applications ------------------------------------------------------
run "$RAYMPI" "$top_builddir/examples/hello"
expect_out "ray-mpi examples/hello" "$EXP/hello.out"
run "$RAYMPI" -v --cpus 2 --log warn -- "$top_builddir/examples/pi"
expect_out "ray-mpi -v --cpus 2 --log warn -- examples/pi" "$EXP/pi.out"
pi_so=$top_builddir/examples/.libs/pi.so
if [ -f "$pi_so" ]; then
    run "$RAYMPI" -v "$pi_so"
    expect_out "ray-mpi examples/.libs/pi.so" "$EXP/pi.out"
    grep -q 'calling main()' "$work/err" || fail "ray-mpi -v pi.so says it calls main"
    # a bare name: found in the current directory
    (cd "$(dirname "$pi_so")" && "$RAYMPI" pi.so) >"$work/out" 2>"$work/err"
    rc=$?
    expect_out "ray-mpi pi.so (current directory)" "$EXP/pi.out"
    run "$run_mpi" 2 "$RAYMPI" "$pi_so"
    expect_out "mpirun -n 2 ray-mpi pi.so" "$EXP/pi.out"
else
    fail "pi.so" "$pi_so not built (examples/Makefile.am)"
fi
# A shared object that parses its arguments with getopt, whose state it shares
# with ray-mpi's own option parsing (needs a C compiler; skipped without one).
cc=${CC:-cc}
if command -v "$cc" >/dev/null 2>&1; then
    cat >"$work/opts.c" <<'EOF_C'
#include <stdio.h>
#include <unistd.h>
int rmpi_main(int argc, char **argv)
{
    int c;
    while ((c = getopt(argc, argv, "ab:")) != -1)
        printf("opt %c %s\n", c, optarg ? optarg : "-");
    for (int i = optind; i < argc; i++)
        printf("arg %s\n", argv[i]);
    return 5;
}
EOF_C
    if "$cc" -shared -fPIC -o "$work/opts.so" "$work/opts.c" 2>"$work/err"; then
        printf 'opt a -\nopt b y\narg x\n' >"$work/opts.expected"
        run "$RAYMPI" -v --cpus 2 "$work/opts.so" -a x -b y
        if [ "$rc" -eq 5 ] && diff -u "$work/opts.expected" "$work/out"; then
            ok "shared object with getopt: arguments, rmpi_main's status"
        else
            fail "shared object with getopt: arguments, rmpi_main's status" "status $rc"
        fi
    else
        echo "SKIP: shared object with getopt: $cc failed"
    fi
fi
run "$run_mpi" 2 "$RAYMPI" "$top_builddir/examples/hello"
expect_out "mpirun -n 2 ray-mpi examples/hello" "$EXP/hello.out"
run "$RAYMPI" /bin/sh -c 'echo "$0 $1 $2"; exit 3' zero one two
if [ "$rc" -eq 3 ] && [ "$(cat "$work/out")" = "zero one two" ]; then
    ok "arguments and exit status pass through"
else
    fail "arguments and exit status pass through" "status $rc"
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
