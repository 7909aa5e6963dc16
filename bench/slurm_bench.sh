#!/usr/bin/env bash
# bench/slurm_bench.sh - ray-mpi between the nodes of the local Slurm cluster
# (network namespaces, TCP over veth), with the limit measured in the same run:
#   - get of a 64 MiB object made on another node (bench/microbench's
#     get_64MiB_remote row under srun -N2 -n2) against ucx_perftest tag bandwidth
#     at 64 MiB between the same two namespaces;
#   - start-up of a 6-rank, 3-node job to the first task result (examples/hello
#     under srun, init + 100 tasks + finalize) against srun's own start of `true`.
# Writes the section to FILE (default doc/performance-slurm.md).  Root only.
#   bench/slurm_bench.sh [--out FILE] [--repeat N]
set -uo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TOP=$(cd "$HERE/.." && pwd)
out=$TOP/doc/performance-slurm.md
repeat=5
while [ $# -gt 0 ]; do
    case $1 in
    --out) out=$2; shift ;;
    --repeat) repeat=$2; shift ;;
    *) echo "slurm_bench.sh: unknown option $1" >&2; exit 2 ;;
    esac
    shift
done
. "$TOP/tests/slurm/lib.sh"
slurm_setup || { echo "slurm_bench.sh: cluster did not come up" >&2; exit 1; }
trap slurm_teardown EXIT
DEST=$RMPI_SLURM_SHARED/bench.$$
mkdir -p "$DEST"
cp -a "$TOP"/src/.libs/libraympi.so* "$DEST/"
for p in bench/microbench examples/hello; do
    b=$TOP/$(dirname $p)/.libs/$(basename $p)
    [ -x "$b" ] || b=$TOP/$p
    cp "$b" "$DEST/$(basename $p)"
done
export LD_LIBRARY_PATH=$DEST${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}

median() { sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) print "nan"; else if (NR % 2) print v[(NR + 1) / 2]; else printf "%.4g\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# ucx_perftest tag bandwidth at 64 MiB, server on rmpi-n1 (10.77.0.11), client on rmpi-n2.
perf=()
for i in $(seq "$repeat"); do
    port=$((23000 + i + $$ % 1000))
    UCX_TLS=tcp,self nsenter --net=/run/netns/rmpi-n1 timeout 60 ucx_perftest -p $port >/dev/null 2>&1 &
    srv=$!
    line=""
    for _ in $(seq 20); do
        sleep 0.2
        line=$(UCX_TLS=tcp,self nsenter --net=/run/netns/rmpi-n2 timeout 60 ucx_perftest 10.77.0.11 \
                 -p $port -t tag_bw -s 67108864 -n 20 -w 3 -f -v 2>/dev/null |
               awk -F, 'h { print; exit } /^iterations,/ { h = 1 }') && [ -n "$line" ] && break
        kill -0 $srv 2>/dev/null || break
    done
    kill $srv 2>/dev/null; wait $srv 2>/dev/null
    # overall_bw is column 6, in MB/s of 2^20 bytes
    [ -n "$line" ] && perf+=("$(echo "$line" | awk -F, '{ printf "%.3f", $6 * 1048576 / 1e9 }')")
done
perf_bw=$(printf '%s\n' "${perf[@]}" | median)

# ray-mpi: rank 0 on one node gets a 64 MiB object made by rank 1 on another.
csv=$WORK/get.csv
srun --mpi=pmix -N2 -n2 --chdir="$WORK" "$DEST/microbench" --only get_64MiB_remote \
    --warmup 0.5 --round-time 1 --rounds "$repeat" --csv "$csv" >"$WORK/get.out" 2>&1
rmpi_bw=$(awk -F, '$1 == "get_64MiB_remote" { print $2 }' "$csv" 2>/dev/null)
transports=$(sed -n 's/^# transports=//p' "$csv" 2>/dev/null)

# Start-up: srun of `true` against srun of hello (init, 100 tasks, finalize).
t_true=() t_hello=()
for i in $(seq "$repeat"); do
    t0=$(date +%s.%N); srun -N3 -n6 --chdir="$WORK" true >/dev/null 2>&1; t1=$(date +%s.%N)
    t_true+=("$(echo "$t1 - $t0" | bc -l)")
    t0=$(date +%s.%N); srun --mpi=pmix -N3 -n6 --chdir="$WORK" "$DEST/hello" >/dev/null 2>&1; t1=$(date +%s.%N)
    t_hello+=("$(echo "$t1 - $t0" | bc -l)")
done
m_true=$(printf '%s\n' "${t_true[@]}" | median)
m_hello=$(printf '%s\n' "${t_hello[@]}" | median)
extra=$(echo "$m_hello - $m_true" | bc -l)
ratio=$(echo "scale=3; ${rmpi_bw:-0} / ${perf_bw:-1}" | bc -l)

{
    echo "## Between nodes of the local Slurm cluster"
    echo
    echo "Measured $(date -u '+%Y-%m-%d %H:%M UTC') on $(lscpu | sed -n 's/^Model name: *//p' | head -1)," \
         "$(nproc) cores; 3 simulated nodes (network namespaces, veth, TCP)."
    echo "Command: \`bench/slurm_bench.sh --repeat $repeat\`. Medians of $repeat runs."
    echo
    echo "| what | ray-mpi | limit, same run | ratio | target |"
    echo "| --- | --- | --- | --- | --- |"
    printf '| get of a 64 MiB object from another node | %s GB/s | ucx_perftest tag_bw 64 MiB, tcp: %s GB/s | %s | >= 0.80 |\n' \
        "${rmpi_bw:-failed}" "${perf_bw:-failed}" "$ratio"
    printf '| 6 ranks on 3 nodes: srun to first task result and exit (hello) | %.3f s | srun of `true`: %.3f s | +%.3f s | < 1 s beyond srun |\n' \
        "$m_hello" "$m_true" "$extra"
    echo
    echo "Endpoint transports of the get (rank 0 to 1): ${transports:-?}."
} >"$out"
cat "$out"
rm -rf "$DEST"
