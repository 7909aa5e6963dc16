#!/usr/bin/env bash
# tests/slurm/shared_node.sh - ray-mpi on shared nodes of a real Slurm cluster:
#  - two jobs of one user on the same node at the same time: both run, in distinct
#    job directories of mode 0700;
#  - two users (root and rmpiuser) on the same node at the same time;
#  - a job killed with SIGKILL leaves its directory; the next start removes it;
#  - objects within a node travel over shared memory and across nodes over the
#    network, as the runtime's own transfer counters show.
# Root only.  Prints PASS/FAIL lines and "N passed, N failed".
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TOP=$(cd "$HERE/../.." && pwd)
. "$HERE/lib.sh"

slurm_setup --users "$@" || { echo "FAIL cluster-up"; echo "0 passed, 1 failed"; exit 1; }
trap slurm_teardown EXIT

DEST="$RMPI_SLURM_SHARED/shared.$$"
mkdir -p "$DEST"
cp -a "$TOP"/src/.libs/libraympi.so* "$DEST/"
mpicc -O2 -I"$TOP/src" "$HERE/node_probe.c" -o "$DEST/node_probe" -L"$DEST" -lraympi \
    -Wl,-rpath,"$DEST" || { slurm_fail build-probe "mpicc failed"; slurm_summary; exit 1; }
chmod -R a+rX "$DEST"
chmod 777 "$WORK"
NODE=rmpi-n1
uid_other=$(id -u rmpiuser 2>/dev/null)

# job_in_node NAME USER ARGS...: srun on $NODE as USER, output to $WORK/NAME.out
job_on_node() {
    local name=$1 user=$2; shift 2
    local cmd=(srun --mpi=pmix -w "$NODE" -N1 -n2 --overcommit -J "$name" --chdir="$WORK"
               "$DEST/node_probe" "$@")
    if [ "$user" = root ]; then
        timeout 120 "${cmd[@]}" >"$WORK/$name.out" 2>"$WORK/$name.err"
    else
        timeout 120 su -s /bin/bash "$user" -c "SLURM_CONF=$SLURM_CONF $(printf '%q ' "${cmd[@]}")" \
            >"$WORK/$name.out" 2>"$WORK/$name.err"
    fi
}

jobdir_of() { sed -n 's/^jobdir \([^ ]*\) .*/\1/p' "$WORK/$1.out"; }

# Two jobs of root at once on one node.
job_on_node twin-a root jobdir 1.5 & a=$!
job_on_node twin-b root jobdir 1.5 & b=$!
wait $a; ra=$?; wait $b; rb=$?
da=$(jobdir_of twin-a); db=$(jobdir_of twin-b)
if [ $ra -eq 0 ] && [ $rb -eq 0 ] && [ -n "$da" ] && [ -n "$db" ] && [ "$da" != "$db" ] &&
   grep -q "^jobdir .* 700 0$" "$WORK/twin-a.out" && grep -q "^jobdir .* 700 0$" "$WORK/twin-b.out"; then
    slurm_pass two-jobs-one-node
else
    slurm_fail two-jobs-one-node "status $ra/$rb, dirs '$da' '$db'" "$WORK/twin-a.out" "$WORK/twin-a.err" \
        "$WORK/twin-b.out" "$WORK/twin-b.err"
fi

# Two users at once on one node.
if [ -z "$uid_other" ]; then
    slurm_fail two-users-one-node "no user rmpiuser (cluster.sh up --users)"
else
    job_on_node user-root root jobdir 1.5 & a=$!
    job_on_node user-other rmpiuser jobdir 1.5 & b=$!
    wait $a; ra=$?; wait $b; rb=$?
    if [ $ra -eq 0 ] && [ $rb -eq 0 ] && grep -q "^jobdir .*/rmpi-0/.* 700 0$" "$WORK/user-root.out" &&
       grep -q "^jobdir .*/rmpi-$uid_other/.* 700 $uid_other$" "$WORK/user-other.out"; then
        slurm_pass two-users-one-node
    else
        slurm_fail two-users-one-node "status $ra/$rb" "$WORK/user-root.out" "$WORK/user-root.err" \
            "$WORK/user-other.out" "$WORK/user-other.err"
    fi
fi

# A job killed with SIGKILL: its directory stays until the next start on the node.
job_on_node killed root jobdir 30 & k=$!
for _ in $(seq 100); do [ -s "$WORK/killed.out" ] && break; sleep 0.1; done
dk=$(jobdir_of killed)
scancel -s KILL -n killed >/dev/null 2>&1
wait $k 2>/dev/null
left=$(srun -w "$NODE" -N1 -n1 sh -c "test -d '$dk' && echo present || echo gone" 2>/dev/null)
sleep 6 # the cleaner leaves directories younger than 5 s alone (a job may be starting)
job_on_node after-kill root jobdir 0.1
after=$(srun -w "$NODE" -N1 -n1 sh -c "test -d '$dk' && echo present || echo gone" 2>/dev/null)
if [ -n "$dk" ] && [ "$left" = present ] && [ "$after" = gone ]; then
    slurm_pass killed-job-cleaned-up
else
    slurm_fail killed-job-cleaned-up "dir '$dk': after SIGKILL '$left', after next start '$after'" \
        "$WORK/killed.out" "$WORK/killed.err" "$WORK/after-kill.err"
fi

# Transfer paths: 2 nodes x 2 ranks; rank 1 shares rank 0's node, ranks 2-3 do not.
check_paths() {
    grep -q "^rank 1: shm ok" "$1" && grep -q "^rank 2: net ok" "$1" && grep -q "^rank 3: net ok" "$1"
}
slurm_run transfer-paths 2 4 --srun --ntasks-per-node=2 --check check_paths -- \
    "$DEST/node_probe" paths 8388608

rm -rf "$DEST"
slurm_summary
