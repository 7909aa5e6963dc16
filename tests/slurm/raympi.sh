#!/usr/bin/env bash
# tests/slurm/raympi.sh - ray-mpi under a real Slurm: the examples started with
# `srun --mpi=pmix` on one node (4 ranks) and on three nodes (2 ranks each), and
# from an sbatch job, each checked against examples/expected/; then the ray-mpi
# command: pi as a shared object and as an executable through `ray-mpi`,
# `ray-mpi info` per rank (cpus from --cpus-per-task), its errors under srun
# (APP not found, no --mpi=pmix), and the job templates slurm/cpu-job.sbatch and
# slurm/multi-rank-per-node.sbatch submitted with sbatch.  Run from a built
# tree (as root: the local cluster needs namespaces).  Prints PASS/FAIL lines and
# "N passed, N failed".
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TOP=$(cd "$HERE/../.." && pwd)
. "$HERE/lib.sh"

slurm_setup "$@" || { echo "FAIL cluster-up"; echo "0 passed, 1 failed"; exit 1; }
trap slurm_teardown EXIT

# The build tree may sit under /tmp, which every node sees privately: copy the
# library and the real example binaries (not libtool's wrappers) to the shared
# directory the nodes see.
DEST="$RMPI_SLURM_SHARED/raympi.$$"
mkdir -p "$DEST/lib" "$DEST/bin"
cp -a "$TOP"/src/.libs/libraympi.so* "$DEST/lib/"
for ex in hello pi fib mapreduce; do
    if [ -x "$TOP/examples/.libs/$ex" ]; then
        cp "$TOP/examples/.libs/$ex" "$DEST/bin/$ex"
    else
        cp "$TOP/examples/$ex" "$DEST/bin/$ex"
    fi
done
export LD_LIBRARY_PATH="$DEST/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
EXP="$TOP/examples/expected"

slurm_run pi-1x4 1 4 --srun --overcommit --expect "$EXP/pi.out" -- "$DEST/bin/pi"
slurm_run pi-3x2 3 6 --srun --ntasks-per-node=2 --expect "$EXP/pi.out" -- "$DEST/bin/pi"
slurm_run fib-3x2 3 6 --srun --ntasks-per-node=2 --expect "$EXP/fib.out" -- "$DEST/bin/fib"
slurm_run mapreduce-3x2 3 6 --srun --ntasks-per-node=2 --expect "$EXP/mapreduce.out" -- "$DEST/bin/mapreduce"
slurm_run hello-1x1 1 1 --expect "$EXP/hello.out" -- "$DEST/bin/hello"
slurm_batch hello-batch-3x2 3 6 --expect "$EXP/hello.out" -- "$DEST/bin/hello"

# --- the ray-mpi command (src/tools/ray-mpi.c) ---------------------------------
# ray-mpi itself, pi.c built as a shared object (examples/.libs/pi.so) and the
# mpicc-linked pi, run from the job's directory as `ray-mpi pi.so` and
# `ray-mpi ./pi`; `ray-mpi info` per rank; usage errors under srun; the job
# templates of slurm/ with their paths set by sed.
if [ -x "$TOP/src/.libs/ray-mpi" ]; then cp "$TOP/src/.libs/ray-mpi" "$DEST/bin/ray-mpi"
else cp "$TOP/src/ray-mpi" "$DEST/bin/ray-mpi"; fi
cp "$TOP/examples/.libs/pi.so" "$DEST/bin/pi.so"
cp "$DEST/bin/pi.so" "$DEST/bin/pi" "$WORK/"
RAYMPI=$DEST/bin/ray-mpi

# OUT NODES NTASKS CPUS: `ray-mpi info --short` lines of ranks 0..NTASKS-1, each
# with cpus=CPUS, on NODES node hostnames
check_short() {
    local out=$1 nodes=$2 ntasks=$3 cpus=$4 r n hosts
    n=$(grep -c '^rank=' "$out")
    [ "$n" = "$ntasks" ] || { echo "$n info lines, want $ntasks"; return 1; }
    for ((r = 0; r < ntasks; r++)); do
        grep -Eq "^rank=$r host=rmpi-n[0-9]+ cpus=$cpus cpuset=[0-9,-]+ gpus=none\$" "$out" ||
            { echo "no line 'rank=$r host=rmpi-nX cpus=$cpus cpuset=... gpus=none'"; return 1; }
    done
    hosts=$(sed -n 's/^rank=[0-9]* host=\([^ ]*\) .*/\1/p' "$out" | sort -u | wc -l)
    [ "$hosts" = "$nodes" ] || { echo "$hosts hosts, want $nodes"; return 1; }
}
check_short_c2() { check_short "$1" "$2" "$3" 2; }
check_short_c3() { check_short "$1" "$2" "$3" 3; }

# OUT NODES NTASKS: pi's result, and every rank said (-v) that it called main()
check_pi_verbose() {
    local out=$1 ntasks=$3 err=${1%.out}.err n
    diff -u "$EXP/pi.out" "$out" || return 1
    n=$(grep -c '^ray-mpi\[[0-9]*@rmpi-n[0-9]*\]: calling main() of ./pi.so' "$err")
    [ "$n" = "$ntasks" ] || { echo "$n ranks said 'calling main()', want $ntasks"; return 1; }
}

# OUT NODES NTASKS: full `ray-mpi info` of every rank, each line prefixed "RANK: "
check_info_blocks() {
    local out=$1 ntasks=$3 r
    if grep -qvE '^[0-9]+: ' "$out"; then echo "a line without the rank prefix"; return 1; fi
    for ((r = 0; r < ntasks; r++)); do
        grep -q "^$r:   start-up    PMIx" "$out" || { echo "rank $r: no 'start-up PMIx'"; return 1; }
        grep -q "^$r:   cpus        2 executor threads (SLURM_CPUS_PER_TASK)" "$out" ||
            { echo "rank $r: cpus not 2 from SLURM_CPUS_PER_TASK"; return 1; }
        grep -q "^$r: RAYMPI_LOG_LEVEL=" "$out" || { echo "rank $r: RAYMPI_LOG_LEVEL not listed"; return 1; }
        grep -Eq "^$r:   (tcp|self|posix|sysv|cma) " "$out" || { echo "rank $r: no UCX transport"; return 1; }
    done
}

# OUT NODES NTASKS: every rank said the application is not found
check_not_found() {
    local err=${1%.out}.err ntasks=$3 n
    n=$(grep -c '^ray-mpi\[[0-9]*@rmpi-n1\]: raympi-no-such-app: not found' "$err")
    [ "$n" = "$ntasks" ] || { echo "$n 'not found' messages, want $ntasks"; return 1; }
}

# OUT NODES NTASKS: srun without PMIx: rmpi_init tells to use --mpi=pmix
check_no_pmix() {
    local err=${1%.out}.err
    grep -q 'srun started 2 tasks (use srun --mpi=pmix)' "$err" ||
        { echo "no 'use srun --mpi=pmix' message"; return 1; }
}

slurm_run raympi-so-3x2 3 6 --expect "$EXP/pi.out" -- "$RAYMPI" pi.so
slurm_run raympi-exe-3x2 3 6 --expect "$EXP/pi.out" -- "$RAYMPI" ./pi
slurm_run raympi-so-verbose-1x4 1 4 --srun --overcommit --check check_pi_verbose -- \
    "$RAYMPI" -v --cpus 1 ./pi.so
slurm_run info-short-1x2-c2 1 2 --srun -c --srun 2 --check check_short_c2 -- "$RAYMPI" info --short
slurm_run info-short-3x4-c2 3 4 --srun -c --srun 2 --check check_short_c2 -- "$RAYMPI" info --short
slurm_run info-short-cpus3 1 2 --srun -c --srun 2 --check check_short_c3 -- \
    "$RAYMPI" --cpus 3 info --short
slurm_run info-full-1x2 1 2 --srun -c --srun 2 --check check_info_blocks -- "$RAYMPI" info
slurm_run raympi-not-found 1 2 --rc 127 --check check_not_found -- "$RAYMPI" raympi-no-such-app
slurm_run raympi-no-pmix 1 2 --srun --mpi=none --rc 1 --check check_no_pmix -- "$RAYMPI" ./pi.so

# The job templates, as users submit them: their own #SBATCH resources, APP and
# RAYMPI set by sed.  NAME TEMPLATE FUNC NODES NTASKS: FUNC checks the output.
template_batch() {
    local name=$1 tpl=$TOP/slurm/$2 checkf=$3 nodes=$4 ntasks=$5
    local script=$WORK/$1.sbatch jobid info state rc t0 deadline
    sed -e "s|^APP=.*|APP=$DEST/bin/pi.so|" -e "s|^RAYMPI=.*|RAYMPI=$DEST/bin/ray-mpi|" \
        "$tpl" >"$script"
    if ! grep -q "^APP=$DEST/bin/pi.so\$" "$script" || ! grep -q "^RAYMPI=$DEST/bin/ray-mpi\$" "$script"; then
        slurm_fail "$name" "no APP= or RAYMPI= line to set in $tpl"; return 1
    fi
    _slurm_opts --check "$checkf" -- "$script" || return 1
    t0=$(_slurm_now)
    if ! jobid=$(sbatch --parsable -J "$name" -D "$WORK" -o "$WORK/$name.out" \
            -e "$WORK/$name.err" "$script" 2>"$WORK/$name.submit"); then
        slurm_fail "$name" "sbatch failed" "$WORK/$name.submit"; return 1
    fi
    jobid=${jobid%%;*}
    deadline=$(( $(date +%s) + _tmo ))
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
    echo "# $name: sbatch job $jobid $state in $(_slurm_since "$t0") s" >&2
    rc=$(sed -n 's/.* ExitCode=\([0-9]*\):.*/\1/p' <<<"$info")
    [ "$state" = COMPLETED ] ||
        { slurm_fail "$name" "job $jobid ended $state" "$WORK/$name.out" "$WORK/$name.err"; return 1; }
    _slurm_verify "$name" "$nodes" "$ntasks" "${rc:-255}"
}

# OUT NODES NTASKS CPUS: the templates' output: info --short lines (NTASKS/NODES
# ranks per node, cpus=CPUS), then pi's result and nothing else
check_template() {
    local out=$1 nodes=$2 ntasks=$3 cpus=$4 per
    check_short "$out" "$nodes" "$ntasks" "$cpus" || return 1
    per=$(sed -n 's/^rank=[0-9]* host=\([^ ]*\) .*/\1/p' "$out" | sort | uniq -c | awk '{print $1}' | sort -u)
    [ "$per" = "$((ntasks / nodes))" ] || { echo "ranks per node: $(echo $per), want $((ntasks / nodes))"; return 1; }
    grep -v '^rank=' "$out" | diff -u "$EXP/pi.out" - || { echo "not pi's output"; return 1; }
}
check_cpu_job() { check_template "$1" "$2" "$3" 8; }
check_multi_job() { check_template "$1" "$2" "$3" 2; }

for t in cpu-job multi-rank-per-node gpu-job; do
    slurm_check "template-syntax-$t" bash -n "$TOP/slurm/$t.sbatch"
done
# cpu-job: 3 nodes x 1 rank x 8 cpus; multi-rank-per-node: 2 nodes x 4 ranks x 2 cpus
template_batch template-cpu-job cpu-job.sbatch check_cpu_job 3 3
template_batch template-multi-rank-per-node multi-rank-per-node.sbatch check_multi_job 2 8

rm -rf "$DEST"
slurm_summary
