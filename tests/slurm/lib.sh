# tests/slurm/lib.sh - helpers for tests that run programs on the local test
# Slurm cluster (slurm/cluster.sh). Source it from bash:
#
#   . tests/slurm/lib.sh
#   slurm_setup [--install] [cluster.sh up options...]  # up if needed, $WORK made
#   slurm_run   NAME NODES NTASKS [OPTS] -- CMD [ARGS...]   # srun, then check
#   slurm_batch NAME NODES NTASKS [OPTS] -- CMD [ARGS...]   # sbatch (script runs srun CMD)
#   slurm_summary                                           # "N passed, N failed"; returns 1 on failures
#   slurm_teardown                                          # down again if slurm_setup brought it up
#
# OPTS:
#   --expect FILE   the job's stdout, sorted, must equal FILE sorted, after
#                   @NTASKS@ and @NODES@ in FILE are replaced by the numbers and
#                   each line with @RANK@ is repeated for ranks 0..NTASKS-1
#   --check FUNC    FUNC OUTFILE NODES NTASKS must return 0 (it may print why not)
#   --srun ARG      extra srun/sbatch argument (repeatable), e.g. --srun --overcommit
#   --timeout S     limit for this run (default $RMPI_TEST_TIMEOUT or 120 s)
#   --rc N          expected exit status (default 0)
# Every check prints one line "PASS NAME" or "FAIL NAME" (details follow a
# FAIL, indented); timings go to stderr as "# NAME: X s". Outputs stay in
# $WORK/NAME.out and $WORK/NAME.err ($WORK is visible on every node).

SLT_REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
SLT_CLUSTER=$SLT_REPO/slurm/cluster.sh
SLT_PASSED=0
SLT_FAILED=0
SLT_BROUGHT_UP=
SLT_LAST_SECONDS=
WORK=

_slurm_now() { date +%s.%N; }
_slurm_since() { awk -v a="$1" -v b="$(_slurm_now)" 'BEGIN { printf "%.3f", b - a }'; }

slurm_pass() { echo "PASS $1"; SLT_PASSED=$((SLT_PASSED + 1)); }

# slurm_fail NAME [WHY] [FILE...]: FAIL line, then the reason and file tails
slurm_fail() {
    local name=$1 why=${2:-} f
    echo "FAIL $name"
    [ -z "$why" ] || echo "    $why"
    shift 2 2>/dev/null || shift $#
    for f in "$@"; do
        [ -s "$f" ] || continue
        echo "    --- $f (last 15 lines)"
        tail -n 15 "$f" | sed 's/^/    | /'
    done
    SLT_FAILED=$((SLT_FAILED + 1))
}

# slurm_check NAME CMD...: PASS if CMD succeeds
slurm_check() {
    local name=$1; shift
    local out
    if out=$("$@" 2>&1); then slurm_pass "$name"; else slurm_fail "$name" "$(echo "$out" | tail -n 5)"; fi
}

slurm_setup() {
    local install=() ; local up=()
    while [ $# -gt 0 ]; do
        case $1 in --install) install=(--install) ;; *) up+=("$1") ;; esac
        shift
    done
    if ! "$SLT_CLUSTER" status >/dev/null 2>&1 || [ ${#up[@]} -gt 0 ] || [ ${#install[@]} -gt 0 ]; then
        "$SLT_CLUSTER" status >/dev/null 2>&1 || SLT_BROUGHT_UP=1
        "$SLT_CLUSTER" up "${install[@]}" "${up[@]}" || return 1
    fi
    eval "$("$SLT_CLUSTER" env)"
    WORK=$(mktemp -d "$RMPI_SLURM_SHARED/test.XXXXXX") || return 1
    chmod 755 "$WORK"
}

slurm_teardown() {
    [ -n "$WORK" ] && [ -d "$WORK" ] && [ "$SLT_FAILED" = 0 ] && rm -rf -- "$WORK"
    if [ -n "$SLT_BROUGHT_UP" ]; then "$SLT_CLUSTER" down >/dev/null || return 1; fi
    return 0
}

slurm_summary() {
    echo "$SLT_PASSED passed, $SLT_FAILED failed"
    [ "$SLT_FAILED" = 0 ]
}

# shared option parser of slurm_run/slurm_batch; sets _expect _checkf _extra _tmo _rc, CMD in _cmd
_slurm_opts() {
    _expect='' _checkf='' _extra=() _tmo=${RMPI_TEST_TIMEOUT:-120} _rc=0 _cmd=()
    while [ $# -gt 0 ]; do
        case $1 in
            --expect) _expect=$2; shift ;;
            --check) _checkf=$2; shift ;;
            --srun) _extra+=("$2"); shift ;;
            --timeout) _tmo=$2; shift ;;
            --rc) _rc=$2; shift ;;
            --) shift; _cmd=("$@"); return 0 ;;
            *) echo "slurm lib: unknown option $1" >&2; return 1 ;;
        esac
        shift
    done
    echo "slurm lib: missing -- CMD" >&2
    return 1
}

# _slurm_verify NAME NODES NTASKS RC: exit status and output checks -> PASS/FAIL
_slurm_verify() {
    local name=$1 nodes=$2 ntasks=$3 rc=$4 out=$WORK/$1.out err=$WORK/$1.err why
    if [ "$rc" != "$_rc" ]; then
        slurm_fail "$name" "exit status $rc, expected $_rc" "$out" "$err"; return 1
    fi
    if [ -n "$_expect" ]; then
        awk -v nt="$ntasks" -v nn="$nodes" '{
                gsub(/@NTASKS@/, nt); gsub(/@NODES@/, nn)
                if ($0 !~ /@RANK@/) { print; next }
                for (r = 0; r < nt; r++) { l = $0; gsub(/@RANK@/, r, l); print l }
            }' "$_expect" | LC_ALL=C sort >"$WORK/$name.expected"
        if ! LC_ALL=C sort "$out" | diff -u "$WORK/$name.expected" - >"$WORK/$name.diff"; then
            slurm_fail "$name" "output differs from $_expect" "$WORK/$name.diff" "$err"; return 1
        fi
    fi
    if [ -n "$_checkf" ]; then
        if ! why=$("$_checkf" "$out" "$nodes" "$ntasks" 2>&1); then
            slurm_fail "$name" "${why:-check $_checkf failed}" "$out" "$err"; return 1
        fi
    fi
    slurm_pass "$name"
}

slurm_run() {
    local name=$1 nodes=$2 ntasks=$3; shift 3
    _slurm_opts "$@" || { slurm_fail "$name" "bad arguments"; return 1; }
    local t0 rc=0
    t0=$(_slurm_now)
    timeout -k 5 "$_tmo" srun --mpi=pmix -N "$nodes" -n "$ntasks" -J "$name" --chdir="$WORK" \
        "${_extra[@]}" -- "${_cmd[@]}" >"$WORK/$name.out" 2>"$WORK/$name.err" || rc=$?
    SLT_LAST_SECONDS=$(_slurm_since "$t0")
    echo "# $name: srun ${SLT_LAST_SECONDS} s" >&2
    [ "$rc" != 124 ] && [ "$rc" != 137 ] || { slurm_fail "$name" "timed out after $_tmo s" "$WORK/$name.out" "$WORK/$name.err"; return 1; }
    _slurm_verify "$name" "$nodes" "$ntasks" "$rc"
}

# The job script is "srun --mpi=pmix CMD" in an allocation of NODES/NTASKS;
# its stdout/stderr land in $WORK/NAME.out/.err. Waits by polling scontrol.
slurm_batch() {
    local name=$1 nodes=$2 ntasks=$3; shift 3
    _slurm_opts "$@" || { slurm_fail "$name" "bad arguments"; return 1; }
    local script=$WORK/$name.sbatch jobid t0 state='' info='' rc
    { echo '#!/bin/bash'; printf 'exec srun --mpi=pmix'; printf ' %q' "${_cmd[@]}"; echo; } >"$script"
    t0=$(_slurm_now)
    if ! jobid=$(sbatch --parsable -N "$nodes" -n "$ntasks" -J "$name" -D "$WORK" \
            -o "$WORK/$name.out" -e "$WORK/$name.err" "${_extra[@]}" "$script" 2>"$WORK/$name.submit"); then
        slurm_fail "$name" "sbatch failed" "$WORK/$name.submit"; return 1
    fi
    jobid=${jobid%%;*}
    local deadline=$(( $(date +%s) + _tmo ))
    while :; do
        info=$(scontrol show job -o "$jobid" 2>/dev/null || true)
        state=$(sed -n 's/.*JobState=\([A-Z_]*\).*/\1/p' <<<"$info")
        case $state in
            COMPLETED|FAILED|CANCELLED|TIMEOUT|NODE_FAIL|OUT_OF_MEMORY|PREEMPTED|BOOT_FAIL|DEADLINE) break ;;
        esac
        if [ "$(date +%s)" -ge "$deadline" ]; then
            scancel "$jobid" 2>/dev/null || true
            slurm_fail "$name" "job $jobid still ${state:-unknown} after $_tmo s" "$WORK/$name.out" "$WORK/$name.err"
            return 1
        fi
        sleep 0.1
    done
    SLT_LAST_SECONDS=$(_slurm_since "$t0")
    echo "# $name: sbatch job $jobid $state in ${SLT_LAST_SECONDS} s" >&2
    rc=$(sed -n 's/.* ExitCode=\([0-9]*\):.*/\1/p' <<<"$info")
    [ "$state" = COMPLETED ] || [ "$_rc" != 0 ] ||
        { slurm_fail "$name" "job $jobid ended $state" "$WORK/$name.out" "$WORK/$name.err"; return 1; }
    _slurm_verify "$name" "$nodes" "$ntasks" "${rc:-255}"
}
