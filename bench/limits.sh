#!/bin/bash
# limits.sh - the physical limits of this machine that ray-mpi's figures are
# compared against:
#   * memcpy bandwidth, one thread, page-aligned, warm destination, at
#     64 KiB, 4 MiB, 64 MiB and 800 MB (bench/memcpy_bw);
#   * UCX tag-matching latency (8 B, one way) and bandwidth (64 KiB, 4 MiB,
#     64 MiB) between two processes over shared memory (ucx_perftest
#     tag_lat / tag_bw, server pinned to CPU 0, client to CPU 1).
#
# usage: bench/limits.sh [--smoke] [--repeat N] [--csv FILE] [--memcpy-bw PATH]
#   --smoke       fewer iterations, one repetition (a few seconds in all)
#   --repeat N    run each ucx_perftest N times (default 3) and report the
#                 median; the CSV also keeps the lowest and highest
#   --csv FILE    also write the figures as CSV: test,size_bytes,value,unit,min,max
#   --memcpy-bw   the memcpy_bw binary (default: bench/memcpy_bw next to this
#                 script, else compiled from memcpy_bw.c into a temp dir)
#
# Bandwidths are in GB/s = 1e9 bytes/s.  ucx_perftest prints MB/s meaning
# 2^20 bytes/s; this script converts.  Latency is ucx_perftest's one-way
# average (half the round trip) in microseconds.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
smoke=0
repeat=""
csv=""
memcpy_bin=""
while [ $# -gt 0 ]; do
    case "$1" in
    --smoke) smoke=1 ;;
    --repeat) repeat=$2; shift ;;
    --csv) csv=$2; shift ;;
    --csv=*) csv=${1#--csv=} ;;
    --memcpy-bw) memcpy_bin=$2; shift ;;
    -h|--help) sed -n '2,23p' "$0"; exit 0 ;;
    *) echo "limits.sh: unknown option $1" >&2; exit 2 ;;
    esac
    shift
done

tmp=$(mktemp -d /tmp/rmpi-limits.XXXXXX)
server_pid=""
cleanup() {
    if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; fi
    rm -rf "$tmp"
}
trap cleanup EXIT

ncpu=$(nproc)
cpu_a=0
cpu_b=$(( ncpu > 1 ? 1 : 0 ))

# --- memcpy ------------------------------------------------------------------
if [ -z "$memcpy_bin" ]; then
    # an in-tree build leaves a libtool-free binary here (it links no library)
    if [ -x "$here/memcpy_bw" ]; then
        memcpy_bin=$here/memcpy_bw
    elif [ -x "$PWD/bench/memcpy_bw" ]; then
        memcpy_bin=$PWD/bench/memcpy_bw
    else
        ${CC:-cc} -std=gnu11 -O2 -o "$tmp/memcpy_bw" "$here/memcpy_bw.c"
        memcpy_bin=$tmp/memcpy_bw
    fi
fi
if [ $smoke = 1 ]; then mc_time=0.05; else mc_time=0.3; fi

results=$tmp/results.csv
: > "$results"
taskset -c $cpu_a "$memcpy_bin" -c -t $mc_time 65536 4194304 67108864 800000000 |
    while IFS=, read -r _ size gbps; do
        echo "memcpy,$size,$gbps,GB/s,$gbps,$gbps" >> "$results"
    done

# --- ucx_perftest --------------------------------------------------------------
if ! command -v ucx_perftest >/dev/null; then
    echo "limits.sh: ucx_perftest not found (install ucx-utils)" >&2
    exit 1
fi
# Shared memory only (posix/sysv mappings, cma for large copies) and loopback.
export UCX_TLS=${LIMITS_UCX_TLS:-sm,self}
port=$(( 20000 + ($$ % 20000) ))

# perftest TEST SIZE ITERS -> prints the CSV data line of the client
perftest() {
    local test=$1 size=$2 iters=$3 warm=$(( $3 / 10 + 1 )) out
    for _ in 1 2 3 4 5; do
        port=$(( port + 1 ))
        timeout 60 taskset -c $cpu_a ucx_perftest -p $port > "$tmp/server.log" 2>&1 &
        server_pid=$!
        out=""
        for _ in 1 2 3 4 5 6 7 8 9 10; do
            sleep 0.1
            if out=$(timeout 60 taskset -c $cpu_b ucx_perftest 127.0.0.1 -p $port \
                        -t "$test" -s "$size" -n "$iters" -w "$warm" -f -v 2> "$tmp/client.err"); then
                break
            fi
            out=""
            # the server may not be listening yet: retry while it is alive
            kill -0 $server_pid 2>/dev/null || break
        done
        # a server whose client gave up would wait for it: end it
        [ -n "$out" ] || kill $server_pid 2>/dev/null || true
        wait $server_pid 2>/dev/null || true
        server_pid=""
        if [ -n "$out" ]; then
            # the data line follows the header "iterations,..."
            printf '%s\n' "$out" | awk -F, 'h { print; exit } /^iterations,/ { h = 1 }'
            return 0
        fi
    done
    echo "limits.sh: ucx_perftest $test -s $size failed:" >&2
    cat "$tmp/client.err" "$tmp/server.log" >&2
    return 1
}

# columns: iterations,50.0_percentile_lat,avg_lat,overall_lat,avg_bw,overall_bw,avg_mr,overall_mr
if [ $smoke = 1 ]; then
    lat_iters=20000; bw_specs="65536:2000 4194304:50 67108864:6"; repeat=${repeat:-1}
else
    lat_iters=200000; bw_specs="65536:20000 4194304:500 67108864:40"; repeat=${repeat:-3}
fi
# median NAME SIZE UNIT: values on stdin, one a line -> CSV line with min and max
median() {
    sort -g | awk -v n="$1" -v s="$2" -v u="$3" '
        { v[NR] = $1 }
        END { if (NR == 0) exit 1;
              m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2;
              printf "%s,%s,%.3f,%s,%.3f,%.3f\n", n, s, m, u, v[1], v[NR] }'
}
failed=0
for _ in $(seq "$repeat"); do
    perftest tag_lat 8 $lat_iters | awk -F, '{ print $4 }'
done | median ucx_tag_lat 8 us >> "$results" || failed=1
for spec in $bw_specs; do
    size=${spec%:*}; iters=${spec#*:}
    for _ in $(seq "$repeat"); do
        perftest tag_bw "$size" "$iters" | awk -F, '{ printf "%.3f\n", $6 * 1048576 / 1e9 }'
    done | median ucx_tag_bw "$size" GB/s >> "$results" || failed=1
done

# --- report --------------------------------------------------------------------
human() {
    awk -v b="$1" 'BEGIN {
        if (b >= 1048576 && b % 1048576 == 0) printf "%d MiB", b / 1048576;
        else if (b >= 1e6 && b % 1e6 == 0) printf "%d MB", b / 1e6;
        else if (b >= 1024 && b % 1024 == 0) printf "%d KiB", b / 1024;
        else printf "%d B", b }'
}
printf '%-14s %10s %10s %-5s  %s\n' "limit" "size" "value" "unit" "range"
while IFS=, read -r test size value unit lo hi; do
    range=""
    [ "$lo" = "$hi" ] || range="$lo-$hi"
    printf '%-14s %10s %10s %-5s  %s\n' "$test" "$(human "$size")" "$value" "$unit" "$range"
done < "$results"
ucx_ver=$(ucx_info -v 2>/dev/null | awk '/Version/ { print $3; exit }')
echo "(ucx_perftest: UCX ${ucx_ver:-?}, UCX_TLS=$UCX_TLS, median of $repeat runs, CPUs $cpu_a/$cpu_b;" \
     "memcpy: one thread on CPU $cpu_a)"
if [ -n "$csv" ]; then
    { echo "test,size_bytes,value,unit,min,max"; cat "$results"; } > "$csv"
fi
if [ $failed != 0 ]; then
    echo "limits.sh: some ucx_perftest runs failed (their rows are missing)" >&2
    exit 1
fi
