#!/bin/bash
# run.sh - ray-mpi's performance report in one command.
#
# Measures the machine's limits (bench/limits.sh: memcpy, ucx_perftest over
# shared memory), then runs bench/microbench (Ray's microbenchmark rows, Ray's
# method) under mpirun at 1, 2 and 4 ranks (1: one rank owning every core, the
# default layout of a node; 4 is oversubscribed on a 2-core machine), and writes
# doc/performance.md: the machine, the date, the exact commands, one table per
# rank count against Ray 2.48's published figures, the limits, and the
# project's targets with met / not met.
#
# usage: bench/run.sh [--smoke] [--out FILE] [--ranks "1 2 4"] [--builddir DIR]
#   --smoke       short rounds and small sizes (~20 s); writes to a temp file
#                 (printed at the end) instead of doc/performance.md, for CI
#   --out FILE    write the report to FILE
#   --ranks LIST  rank counts to run (default "1 2 4"); one rank runs unbound
#                 (mpirun --bind-to none), so that it owns all the cores
#   --builddir D  the build's bench/ directory (default: this script's directory)
# Environment: MPIRUN (default mpirun), MICROBENCH_ARGS (extra microbench options).
# Exit status: 0 when every run finished without a failed row, 1 otherwise
# (the report is written either way).
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
srcroot=$(cd "$here/.." && pwd)
smoke=0
out=""
ranks="1 2 4"
builddir=$here
while [ $# -gt 0 ]; do
    case "$1" in
    --smoke) smoke=1 ;;
    --out) out=$2; shift ;;
    --ranks) ranks=$2; shift ;;
    --builddir) builddir=$(cd "$2" && pwd); shift ;;
    -h|--help) sed -n '2,22p' "$0"; exit 0 ;;
    *) echo "run.sh: unknown option $1" >&2; exit 2 ;;
    esac
    shift
done

mb=$builddir/microbench
if [ ! -x "$mb" ]; then
    echo "run.sh: $mb not built: run 'make -C bench' (after configure) first" >&2
    exit 2
fi
mcbin=$builddir/memcpy_bw
[ -x "$mcbin" ] || mcbin=""

tmp=$(mktemp -d /tmp/rmpi-bench.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
if [ -z "$out" ]; then
    if [ $smoke = 1 ]; then
        out=$(mktemp /tmp/rmpi-performance.XXXXXX.md)
    else
        out=$srcroot/doc/performance.md
    fi
fi

export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
mpirun=${MPIRUN:-mpirun}
# Run a snapshot of the benchmark and of the library taken now: the tree may be
# rebuilt while this runs, and both rank counts must measure the same build.
# An uninstalled libtool build has the real binary in .libs/ and the library in
# src/.libs/.
snap=$tmp/snapshot
mkdir -p "$snap"
mb_run=$mb
lib_note=""
if head -c 4096 "$mb" 2>/dev/null | grep -q 'libtool'; then
    real=""
    for c in "$builddir/.libs/lt-microbench" "$builddir/.libs/microbench"; do
        [ -x "$c" ] && { real=$c; break; }
    done
    libdir=""
    for d in "$builddir/../src/.libs" "$srcroot/src/.libs"; do
        [ -e "$d/libraympi.so.0" ] && { libdir=$(cd "$d" && pwd); break; }
    done
    if [ -z "$real" ] || [ -z "$libdir" ]; then
        echo "run.sh: cannot find the real microbench binary or src/.libs/libraympi.so.0" >&2
        exit 2
    fi
    cp "$real" "$snap/microbench"
    cp -L "$libdir"/libraympi.so.0 "$snap/"
    mb_run=$snap/microbench
    export LD_LIBRARY_PATH="$snap${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
    lib_note="src/.libs/libraympi.so.0 built $(date -u -r "$libdir/libraympi.so.0" '+%Y-%m-%d %H:%M:%S UTC')"
else
    cp "$mb" "$snap/microbench"
    mb_run=$snap/microbench
fi

if [ $smoke = 1 ]; then
    mb_args=(--smoke --timeout 15)
    limits_args=(--smoke)
    run_limit=60
else
    mb_args=(--max-row-time 20 --timeout 30)
    limits_args=()
    run_limit=240
fi
# shellcheck disable=SC2206
mb_args+=(${MICROBENCH_ARGS:-})

rel() { # a path relative to the source root where possible, for the report
    case "$1" in "$srcroot"/*) echo "${1#"$srcroot"/}" ;; *) echo "$1" ;; esac
}

started=$(date -u '+%Y-%m-%d %H:%M:%S UTC')
load_start=$(cut -d' ' -f1-3 /proc/loadavg)
cpu_busy() { # percent of all CPU time that was not idle during the next $1 seconds
    local a b c d e f g h t1 i1 t2 i2
    read -r _ a b c d e f g h _ < /proc/stat; t1=$((a+b+c+d+e+f+g+h)); i1=$((d+e))
    sleep "$1"
    read -r _ a b c d e f g h _ < /proc/stat; t2=$((a+b+c+d+e+f+g+h)); i2=$((d+e))
    echo $(( t2 > t1 ? 100 - 100 * (i2 - i1) / (t2 - t1) : 0 ))
}
busy_start=$(cpu_busy 2)
if [ "$busy_start" -gt 10 ]; then
    echo "run.sh: warning: the CPUs were ${busy_start}% busy before the run: other work shares them" >&2
fi
t_start=$(date +%s)
status=0

# --- limits ---------------------------------------------------------------------
limits_cmd="bench/limits.sh ${limits_args[*]:-}${mcbin:+ --memcpy-bw $(rel "$mcbin")}"
echo "== $limits_cmd"
"$here/limits.sh" "${limits_args[@]}" ${mcbin:+--memcpy-bw "$mcbin"} --csv "$tmp/limits.csv" |
    tee "$tmp/limits.txt"
[ "${PIPESTATUS[0]}" = 0 ] || { echo "run.sh: limits.sh failed" >&2; status=1; }

# --- microbench -----------------------------------------------------------------
declare -A cmd rc_of secs
for n in $ranks; do
    csv=$tmp/mb-$n.csv
    # One rank alone would be bound to one core by mpirun: unbound it owns them all.
    bind=()
    [ "$n" = 1 ] && bind=(--bind-to none)
    args=(--oversubscribe --allow-run-as-root "${bind[@]}" -n "$n" "$mb_run" "${mb_args[@]}" --csv "$csv")
    cmd[$n]="$mpirun --oversubscribe --allow-run-as-root ${bind[*]:+${bind[*]} }-n $n $(rel "$mb") ${mb_args[*]} --csv FILE"
    echo
    echo "== ${cmd[$n]}"
    t0=$(date +%s)
    timeout -k 5 $run_limit "$mpirun" "${args[@]}" 2>&1 | tee "$tmp/mb-$n.txt"
    rc_of[$n]=${PIPESTATUS[0]}
    secs[$n]=$(( $(date +%s) - t0 ))
    if [ "${rc_of[$n]}" != 0 ]; then
        status=1
        echo "run.sh: microbench at $n ranks exited with ${rc_of[$n]} after ${secs[$n]} s" >&2
    fi
done
t_total=$(( $(date +%s) - t_start ))

# --- report -----------------------------------------------------------------------
limit() { # limit TEST SIZE -> value
    awk -F, -v t="$1" -v s="$2" '$1 == t && $2 == s { print $3; exit }' "$tmp/limits.csv" 2>/dev/null
}
field() { # field N NAME CSVFILE -> column N of row NAME
    awk -F, -v c="$1" -v nm="$2" '!/^#/ && $1 == nm { print $c; exit }' "$3" 2>/dev/null
}
meta() { # meta KEY CSVFILE
    sed -n "s/^# $1=//p" "$2" 2>/dev/null | head -n1
}
fmt() { # a figure with thousands separators (>= 1000) or 3 significant digits
    awk -v v="$1" 'BEGIN {
        if (v == "") { print "-"; exit }
        if (v >= 1000) { s = sprintf("%.0f", v); o = "";
            while (length(s) > 3) { o = "," substr(s, length(s) - 2) o; s = substr(s, 1, length(s) - 3) }
            print s o }
        else if (v >= 100) printf "%.0f\n", v
        else if (v >= 10) printf "%.1f\n", v
        else printf "%.2f\n", v }'
}

memcpy800=$(limit memcpy 800000000)
tagbw64=$(limit ucx_tag_bw 67108864)
cpu_model=$(lscpu 2>/dev/null | sed -n 's/^Model name: *//p' | head -n1)
cores=$(nproc)
threads_per_core=$(lscpu 2>/dev/null | sed -n 's/^Thread(s) per core: *//p' | head -n1)
mem=$(awk '/^MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)
os=$(sed -n 's/^PRETTY_NAME="\{0,1\}\([^"]*\)"\{0,1\}$/\1/p' /etc/os-release 2>/dev/null)
hv=$(lscpu 2>/dev/null | sed -n 's/^Hypervisor vendor: *//p' | head -n1)
ucx_ver=$(ucx_info -v 2>/dev/null | awk '/Version/ { print $3; exit }')
ompi_ver=$($mpirun --version 2>/dev/null | head -n1)
commit=$(git -C "$srcroot" rev-parse --short HEAD 2>/dev/null || echo "none (uncommitted tree)")
dirty=""
if git -C "$srcroot" status --porcelain 2>/dev/null | grep -q .; then dirty=", with uncommitted changes"; fi

{
    echo "# ray-mpi performance"
    echo
    if [ $smoke = 1 ]; then
        echo "**Smoke run** (\`bench/run.sh --smoke\`): short rounds and small sizes; these"
        echo "figures check that the benchmark runs and are not measurements."
        echo
    fi
    echo "Written by \`bench/run.sh\` on $started (whole run: ${t_total} s)."
    echo
    echo "## Machine"
    echo
    echo "| | |"
    echo "| --- | --- |"
    echo "| CPU | ${cpu_model:-?}${hv:+ (virtual machine, $hv)} |"
    echo "| cores | $cores (threads per core: ${threads_per_core:-?}) |"
    echo "| memory | $mem |"
    echo "| CPU busy in the 2 s before the run | ${busy_start}% (load average $load_start) |"
    echo "| OS | ${os:-?}, Linux $(uname -r) |"
    echo "| MPI | ${ompi_ver:-?} |"
    echo "| UCX | ${ucx_ver:-?} |"
    echo "| ray-mpi | commit $commit$dirty |"
    if [ "$busy_start" -gt 10 ]; then
        echo
        echo "Other work was running on this machine when the run started (the CPUs were"
        echo "${busy_start}% busy): it shared the $cores cores, so the figures below, limits"
        echo "included, are likely low and noisy."
    fi
    echo
    echo "## Commands"
    echo
    echo '```sh'
    echo "export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1"
    echo "$limits_cmd"
    for n in $ranks; do echo "${cmd[$n]}"; done
    echo '```'
    echo
    echo "All of it is \`bench/run.sh$( [ $smoke = 1 ] && echo ' --smoke')\`."
    echo "\`bench/microbench\` runs as a copy taken at the start of the run (with a copy of"
    echo "the library next to it on LD_LIBRARY_PATH when it is an uninstalled libtool build),"
    echo "so that a rebuild during the run cannot mix builds${lib_note:+; library: $lib_note}."
    echo
    echo "## Method"
    echo
    echo "Ray's microbenchmark method (\`ray microbenchmark\`, ray_perf.py): a 1 s warm-up, then"
    echo "4 rounds of at least 2 s each; a round calls the benchmark in steps of (warm-up calls"
    echo "/ 10 + 1) until its time is up; throughput = calls x multiplier / elapsed; the table"
    echo "gives the mean and the population standard deviation of the rounds. Tasks return"
    echo "\"ok\". Rank 0 is the driver and the only rank that prints."
    echo "Ray's figures are Ray 2.48.0's published ones, from one AWS m5.16xlarge (64 vCPU);"
    echo "this machine has $cores cores, so 4 ranks are oversubscribed. Ratio = ray-mpi / Ray."
    echo
    echo "- single_client_get_calls: get of a held 8-byte put object. single_client_put_calls:"
    echo "  put of an 8-byte value, released at once."
    echo "- single_client_put_gigabytes: put (then release) of one page-aligned buffer of"
    echo "  \`--put-size\` bytes (800,000,000 here; Ray puts 838,860,800 bytes and counts 0.8 GB);"
    echo "  GB = 1e9 bytes."
    echo "- single_client_tasks_sync: submit one task and get it (placement keeps nearly every"
    echo "  one on the driver's rank, where the driver runs the task it waits for: bench/FINDINGS.md,"
    echo "  4.). single_client_tasks_async:"
    echo "  submit 1,000 tasks, then get them all, counted as 1,000 calls;"
    echo "  single_client_tasks_and_get_batch is the same call counted as 1."
    echo "- single_client_wait_1k_refs: submit 1,000 tasks, then \`rmpi_wait\` for one ready ref at a"
    echo "  time, dropping it from the list (1,000 waits per call)."
    echo "- multi_client_tasks_async: 4 submitter tasks, each submitting 10,000 tasks and getting"
    echo "  them (40,000 tasks per call), as Ray's version."
    echo "- get_64MiB_remote (no Ray figure): a task pinned to rank 1 (\`opts.rank\`) returns"
    echo "  64 MiB through \`rmpi_task_return_buffer\`; the driver waits for it with \`rmpi_wait\`,"
    echo "  and only its \`rmpi_get\` is timed: GB/s = bytes / time inside \`rmpi_get\`."
    echo "- Actor rows (Ray's Actor with small_value): actors are placed round-robin from the"
    echo "  last rank, so the 1_1 actor lives on another rank than the driver, as Ray's actor"
    echo "  lives in another process. 1_1_actor_calls_sync: one call and get;"
    echo "  1_1_actor_calls_async: 1,000 calls, then get all; 1_1_actor_calls_concurrent: the"
    echo "  same with max_concurrency 16; 1_n_actor_calls_async: 5,000 calls to each of n actors"
    echo "  (n = the job's cpus); n_n_actor_calls_async: 4 submitter tasks x 5,000 calls"
    echo "  round-robin over the n actors; n_n_actor_calls_with_arg_async: n submitters x 1,000"
    echo "  calls with a put ref argument; create_10k_actors: create 10,000 actors (placed by the"
    echo "  scheduler) and call each once (Ray's scale envelope: 551 actors/s)."
    echo
    for n in $ranks; do
        csv=$tmp/mb-$n.csv
        if [ "$n" = 1 ]; then
            echo "## 1 rank (the default layout: one rank owning all the cores)"
            echo
            echo "The layout \`slurm/cpu-job.sbatch\` uses: the driver and every executor in one process,"
            echo "no transport between them. The actors live on the driver's rank; get_64MiB_remote"
            echo "needs a second rank."
        else
            echo "## $n ranks"
        fi
        echo
        if [ -s "$csv" ]; then
            echo "CPUs per rank (rank:cpus, from \`rmpi_stats().num_cpus\` on each rank): $(meta cpus_per_rank "$csv");"
            echo "store capacity per rank (rank:MiB): $(meta store_mib_per_rank "$csv");"
            echo "transports from rank 0 (\`rmpi_peer_transports\`): $(meta transports "$csv")."
            echo "Parameters: $(meta warmup_s "$csv" | sed 's/^/warmup_s=/')."
            echo "Run time ${secs[$n]} s, exit status ${rc_of[$n]}$( [ "${rc_of[$n]}" = 124 ] && echo " (killed by run.sh's ${run_limit} s limit)")."
            echo
            echo "| benchmark | ray-mpi mean | stddev | unit | Ray 2.48 | ratio | rounds, calls | note |"
            echo "| --- | ---: | ---: | --- | ---: | ---: | --- | --- |"
            awk -F, '!/^#/ && $1 != "name"' "$csv" | while IFS=, read -r name mean sd unit ray ratio rounds calls st note; do
                if [ "$st" = ok ] || [ -n "$mean" ]; then
                    r=$( [ -n "$ratio" ] && awk -v x="$ratio" 'BEGIN { printf (x >= 10 ? "%.0fx" : "%.2fx"), x }' || echo "-")
                    rayf=$( [ "$ray" != "" ] && [ "$ray" != 0 ] && fmt "$ray" || echo "-")
                    [ "$st" = ok ] || note="FAILED: $note"
                    echo "| $name | $(fmt "$mean") | $(fmt "$sd") | $unit | $rayf | $r | $rounds, $calls | ${note} |"
                else
                    echo "| $name | - | - | $unit | $( [ "$ray" != 0 ] && fmt "$ray" || echo -) | - | - | ${st^^}: ${note} |"
                fi
            done
            missing=""
            for want in $(meta rows "$csv" | tr ',' ' '); do
                [ -n "$(field 1 "$want" "$csv")" ] || missing="$missing $want"
            done
            if [ -n "$missing" ]; then
                echo
                echo "Not measured (the run ended first, exit status ${rc_of[$n]}$( [ "${rc_of[$n]}" = 124 ] && echo ": killed by run.sh's ${run_limit} s limit")):$missing."
            fi
        else
            echo "No results: the run failed (exit status ${rc_of[$n]} after ${secs[$n]} s). Its output:"
            echo
            echo '```'
            tail -n 30 "$tmp/mb-$n.txt"
            echo '```'
        fi
        echo
    done

    echo "## Limits of this machine (same run)"
    echo
    echo "memcpy: one thread on CPU 0, page-aligned separate mappings, warm destination, median"
    echo "of batches (\`bench/memcpy_bw\`). ucx_perftest (UCX ${ucx_ver:-?}): server on CPU 0, client"
    echo "on CPU 1, UCX_TLS=sm,self (shared memory), \`tag_lat\` one-way latency and \`tag_bw\`"
    echo "bandwidth, median of the runs (range in the last column). GB/s = 1e9 bytes/s"
    echo "(ucx_perftest's MB/s are MiB/s and are converted). On the project's build machines"
    echo "800 MB copies have repeatably run faster than 64 MiB ones (about 9-11 against 5-7 GB/s,"
    echo "with a step between 128 and 256 MiB), most likely glibc's memcpy changing its copy loop"
    echo "for very large sizes; the put target is judged against the 800 MB figure."
    echo
    echo "| limit | size | value | unit | range |"
    echo "| --- | ---: | ---: | --- | --- |"
    awk -F, 'NR > 1 {
        b = $2
        if (b >= 1048576 && b % 1048576 == 0) sz = sprintf("%d MiB", b / 1048576)
        else if (b >= 1e6 && b % 1e6 == 0) sz = sprintf("%d MB", b / 1e6)
        else if (b >= 1024 && b % 1024 == 0) sz = sprintf("%d KiB", b / 1024)
        else sz = sprintf("%d B", b)
        rg = ($5 == $6) ? "" : $5 "-" $6
        printf "| %s | %s | %s | %s | %s |\n", $1, sz, $3, $4, rg }' "$tmp/limits.csv" 2>/dev/null
    echo

    echo "## Other reports"
    echo
    echo "- \`doc/performance-slurm.md\` (\`bench/slurm_bench.sh\`): objects between nodes of the local"
    echo "  Slurm cluster against ucx_perftest between the same namespaces, and job start-up."
    echo "- \`doc/performance-comparison.md\` (\`bench/compare.sh\`): Task Bench METG of ray-mpi"
    echo "  tasks and actors against plain MPI, StarPU, mpi4py.futures and Dask, with plots."
    echo "  It is a file of its own: each script rewrites its report whole, and the two runs"
    echo "  (7-8 and 4-6 minutes here) are repeated separately."
    echo
    echo "## Targets"
    echo
    echo "The ratios the project aims at, checked at every rank count of this run."
    echo
    echo "| target | ranks | measured | required | met |"
    echo "| --- | ---: | ---: | ---: | --- |"
    for n in $ranks; do
        csv=$tmp/mb-$n.csv
        target_line() { # NAME UNIT REQUIRED DESCRIPTION [PCT_BASE PCT_NAME]
            local v req=$3 verdict shown st
            v=$(field 2 "$1" "$csv")
            st=$(field 9 "$1" "$csv")
            [ "$st" = ok ] || v=""
            if [ "$st" = skipped ]; then
                verdict="n/a ($(field 10 "$1" "$csv"))"
            elif [ -z "$req" ]; then
                verdict="n/a (limit not measured)"
            elif [ -z "$v" ]; then
                verdict="n/a (row failed or missing)"
            elif awk -v a="$v" -v b="$req" 'BEGIN { exit !(a >= b) }'; then
                verdict="met"
            else
                verdict="**not met**"
            fi
            shown="$(fmt "$v") $2"
            if [ -n "${5:-}" ] && [ -n "$v" ]; then
                shown="$shown ($(awk -v a="$v" -v b="$5" 'BEGIN { printf "%.0f%%", 100 * a / b }') of $6)"
            fi
            [ -n "$v" ] || shown="-"
            echo "| $4 | $n | $shown | $( [ -n "$req" ] && echo "$(fmt "$req") $2" || echo "-") | $verdict |"
        }
        target_line single_client_tasks_sync /s 20000 "single_client_tasks_sync >= 20,000/s"
        target_line single_client_tasks_async /s 200000 "single_client_tasks_async >= 200,000/s"
        target_line single_client_get_calls /s 500000 "single_client_get_calls >= 500,000/s"
        req=""
        [ -n "$memcpy800" ] && req=$(awk -v m="$memcpy800" 'BEGIN { printf "%.3f", 0.5 * m }')
        target_line single_client_put_gigabytes GB/s "$req" \
            "single_client_put_gigabytes >= 50% of memcpy at 800 MB ($(fmt "$memcpy800") GB/s)" \
            "$memcpy800" "memcpy"
        req=""
        [ -n "$tagbw64" ] && req=$(awk -v m="$tagbw64" 'BEGIN { printf "%.3f", 0.7 * m }')
        target_line get_64MiB_remote GB/s "$req" \
            "get_64MiB_remote >= 70% of ucx tag_bw at 64 MiB ($(fmt "$tagbw64") GB/s)" \
            "$tagbw64" "tag_bw"
        target_line 1_1_actor_calls_sync /s 20000 "1_1_actor_calls_sync >= 20,000/s"
        target_line 1_1_actor_calls_async /s 200000 "1_1_actor_calls_async >= 200,000/s"
        target_line n_n_actor_calls_async /s 200000 "n_n_actor_calls_async >= 200,000/s"
        target_line create_10k_actors /s 5000 \
            "10,000 actors created and called once in under 2 s (>= 5,000/s)"
    done
    if [ $smoke = 1 ]; then
        echo
        echo "(Smoke run: put size and round times are reduced, so the targets are not judged"
        echo "fairly here.)"
    fi
} > "$out"

echo
echo "run.sh: report written to $out (${t_total} s)"
exit $status
