#!/usr/bin/env bash
# tests/slurm/run.sh - run MPI programs on the local test Slurm cluster.
#
#   tests/slurm/run.sh [--install] [--keep|--down] [--expect FILE] [PROGRAM [ARGS...]]
#
# Brings the cluster up if it is not (slurm/cluster.sh up), then
#  - without PROGRAM: builds tests/slurm/mpi_hello.c with mpicc and checks
#    node isolation, srun -N1 -n4 --overcommit, srun -N3 -n6 and an sbatch job;
#  - with PROGRAM: runs PROGRAM ARGS the same three ways and checks the exit
#    status (and, with --expect FILE, the sorted output; see tests/slurm/lib.sh).
# Prints "PASS name" / "FAIL name" per check and "N passed, N failed"; exits 0
# only if all passed. The cluster is taken down again at the end if this run
# brought it up (--keep: leave it up; --down: always take it down).
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$HERE/lib.sh"

install='' keep='' down='' expect=''
while [ $# -gt 0 ]; do
    case $1 in
        --install) install=--install ;;
        --keep) keep=1 ;;
        --down) down=1 ;;
        --expect) expect=$(realpath -- "${2:?--expect needs a file}"); shift ;;
        -h|--help) sed -n '2,/^set -uo/{/^set -uo/d;s/^# \{0,1\}//;p}' "$0"; exit 0 ;;
        --) shift; break ;;
        -*) echo "run.sh: unknown option $1" >&2; exit 2 ;;
        *) break ;;
    esac
    shift
done

t_up=$(_slurm_now)
slurm_setup $install || { echo "FAIL cluster-up"; echo "0 passed, 1 failed"; exit 1; }
echo "# cluster ready in $(_slurm_since "$t_up") s ($SLURM_CONF)" >&2
# shellcheck disable=SC2034  # SLT_BROUGHT_UP is read by slurm_teardown (lib.sh)
{ [ -z "$keep" ] || SLT_BROUGHT_UP=''; [ -z "$down" ] || SLT_BROUGHT_UP=1; }
trap slurm_teardown EXIT  # uses SLT_BROUGHT_UP (lib.sh)

# --- checks -----------------------------------------------------------------

# OUT NODES NTASKS: output of mpi_hello
check_hello() {
    local out=$1 nodes=$2 ntasks=$3 r n hosts
    n=$(grep -c "^hello rank [0-9]* of $ntasks on " "$out")
    [ "$n" = "$ntasks" ] || { echo "$n hello lines of size $ntasks, want $ntasks"; return 1; }
    for ((r = 0; r < ntasks; r++)); do
        grep -q "^hello rank $r of $ntasks on " "$out" || { echo "rank $r missing"; return 1; }
    done
    hosts=$(sed -n "s/^hello rank [0-9]* of $ntasks on //p" "$out" | sort -u | wc -l)
    [ "$hosts" = "$nodes" ] || { echo "$hosts distinct hostnames, want $nodes"; return 1; }
    if sed -n "s/^hello rank [0-9]* of $ntasks on //p" "$out" | grep -qvx 'rmpi-n[0-9]*'; then
        echo "a hostname is not a node name"; return 1
    fi
    grep -qx "allreduce ok sum=$((ntasks * (ntasks + 1) / 2)) size=$ntasks hosts=$nodes" "$out" ||
        { echo "no 'allreduce ok ... size=$ntasks hosts=$nodes' line"; return 1; }
}

# OUT NODES NTASKS: one line per node "HOST SHM_DEV TMP_DEV:INODE"
check_isolation() {
    local out=$1 nodes=$2 host_shm host_tmp
    host_shm=$(stat -c %d /dev/shm); host_tmp=$(stat -c %d:%i /tmp)
    [ "$(awk '{print $1}' "$out" | sort -u | grep -cx 'rmpi-n[0-9]*')" = "$nodes" ] ||
        { echo "want $nodes distinct node hostnames"; return 1; }
    [ "$(awk '{print $2}' "$out" | sort -u | wc -l)" = "$nodes" ] || { echo "/dev/shm shared between nodes"; return 1; }
    [ "$(awk '{print $3}' "$out" | sort -u | wc -l)" = "$nodes" ] || { echo "/tmp shared between nodes"; return 1; }
    ! awk '{print $2}' "$out" | grep -qx "$host_shm" || { echo "a node uses the host's /dev/shm"; return 1; }
    ! awk '{print $3}' "$out" | grep -qx "$host_tmp" || { echo "a node uses the host's /tmp"; return 1; }
}

if [ $# -eq 0 ]; then
    # --- the MPI hello suite ---
    slurm_check compile mpicc -O2 -Wall -o "$WORK/mpi_hello" "$HERE/mpi_hello.c"
    nodes=$(sinfo -h -N -o %N | sort -u | wc -l)
    slurm_run isolation "$nodes" "$nodes" --srun --ntasks-per-node=1 --check check_isolation -- \
        sh -c 'echo "$(hostname) $(stat -c %d /dev/shm) $(stat -c %d:%i /tmp)"'
    slurm_run hello-n1x4 1 4 --srun --overcommit --check check_hello -- "$WORK/mpi_hello"
    slurm_run hello-n3x6 3 6 --check check_hello -- "$WORK/mpi_hello"
    slurm_batch hello-sbatch-n3x6 3 6 --check check_hello -- "$WORK/mpi_hello"
else
    # --- a given program, the same three ways ---
    prog=$1; shift
    case $prog in */*) prog=$(realpath -- "$prog") ;; *) prog=$(command -v "$prog" || echo "$prog") ;; esac
    name=$(basename "$prog")
    exp=(); [ -n "$expect" ] && exp=(--expect "$expect")
    # private /tmp per node: a program under the host's /tmp is not visible there
    if ! slurm_run "$name-visible" 3 3 --srun --ntasks-per-node=1 -- test -x "$prog"; then
        echo "    $prog is not an executable on every node: each node has a private /tmp;"
        echo "    put it under \$RMPI_SLURM_SHARED ($RMPI_SLURM_SHARED) or outside /tmp"
        slurm_summary
        exit 1
    fi
    slurm_run "$name-n1x4" 1 4 --srun --overcommit "${exp[@]}" -- "$prog" "$@"
    slurm_run "$name-n3x6" 3 6 "${exp[@]}" -- "$prog" "$@"
    slurm_batch "$name-sbatch-n3x6" 3 6 "${exp[@]}" -- "$prog" "$@"
fi

slurm_summary
