#!/usr/bin/env bash
# tests/slurm/raympi.sh - ray-mpi under a real Slurm: the examples started with
# `srun --mpi=pmix` on one node (4 ranks) and on three nodes (2 ranks each), and
# from an sbatch job, each checked against examples/expected/.  Run from a built
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
slurm_run pi-3x2 3 6 --expect "$EXP/pi.out" -- "$DEST/bin/pi"
slurm_run fib-3x2 3 6 --expect "$EXP/fib.out" -- "$DEST/bin/fib"
slurm_run mapreduce-3x2 3 6 --expect "$EXP/mapreduce.out" -- "$DEST/bin/mapreduce"
slurm_run hello-1x1 1 1 --expect "$EXP/hello.out" -- "$DEST/bin/hello"
slurm_batch hello-batch-3x2 3 6 --expect "$EXP/hello.out" -- "$DEST/bin/hello"

rm -rf "$DEST"
slurm_summary
