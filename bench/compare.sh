#!/bin/bash
# compare.sh - ray-mpi against MPI, StarPU, mpi4py.futures and Dask with Task
# Bench's METG method, in one command (about 8 minutes on a 2-core machine).
#
# Runs, on this machine:
#   * bench/limits.sh (memcpy and ucx_perftest limits) and bench/microbench's
#     bandwidth rows (put of a large object, get of a 64 MiB remote object);
#   * the peak FLOP/s of the compute_bound kernel on all cores (metg_mpi --peak);
#   * the METG sweeps: plain MPI and ray-mpi tasks on all four patterns, ray-mpi
#     actors, mpi4py.futures and Dask distributed on stencil_1d (each system's
#     sweep starts and stops where its efficiency makes sense, see below); ray-mpi
#     runs a rank per core, and also (stencil_1d) one rank owning all the cores,
#     its default layout on a node (the "one rank" systems); StarPU (bench/metg_starpu,
#     built when libstarpu-dev is installed) on all four patterns;
#   * a round trip and a burst of empty tasks per system (--latency modes);
# then computes METG(50%) with bench/metg_report and writes
# doc/performance-comparison.md with PNG plots in doc/img/ (gnuplot).
#
# usage: bench/compare.sh [--smoke] [--out FILE] [--builddir DIR] [--no-plots]
#   --smoke       tiny sweeps (~1 minute), no plots; report and logs go to a
#                 temp directory (printed at the end)
#   --out FILE    write the report to FILE (plots next to it in img/)
#   --builddir D  the build's bench/ directory (default: this script's directory)
#   --no-plots    skip the PNG plots
# Environment: MPIRUN (default mpirun), COMPARE_SYSTEMS (default "mpi rmpi-tasks
# rmpi-tasks-pinned rmpi-actors rmpi-tasks-1rank rmpi-actors-1rank starpu mpi4py dask"), COMPARE_ROUNDS
# (a whole number >= 1; default 9, 2 with --smoke): how many times the stencil_1d sweeps of MPI,
# ray-mpi tasks and actors (both layouts) and mpi4py.futures run, one after the other in turn,
# for the targets' medians (the first round is the main sweeps).
# Exit status: 0 when every system ran without a failure, 1 otherwise (the
# report is written either way), 2 for a bad option or setting.
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
srcroot=$(cd "$here/.." && pwd)
# The tree measured, taken before this script writes its report and plots into it.
commit=$(git -C "$srcroot" rev-parse --short HEAD 2>/dev/null || echo "none")
dirty=""
git -C "$srcroot" status --porcelain 2>/dev/null | grep -q . && dirty=", with uncommitted changes"
smoke=0
out=""
builddir=$here
plots=1
while [ $# -gt 0 ]; do
    case "$1" in
    --smoke) smoke=1 ;;
    --out) out=$2; shift ;;
    --builddir) builddir=$(cd "$2" && pwd); shift ;;
    --no-plots) plots=0 ;;
    -h|--help) sed -n '2,/^set -uo/p' "$0" | sed '$d'; exit 0 ;;
    *) echo "compare.sh: unknown option $1" >&2; exit 2 ;;
    esac
    shift
done

case "${COMPARE_ROUNDS:-1}" in
'' | *[!0-9]* | 0*) echo "compare.sh: COMPARE_ROUNDS must be a whole number of 1 or more, not '${COMPARE_ROUNDS:-}'" >&2; exit 2 ;;
esac

export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
mpirun=${MPIRUN:-mpirun}
py=/usr/bin/python3 # Debian's mpi4py and dask load only under the system Python
all_systems="mpi rmpi-tasks rmpi-tasks-pinned rmpi-actors rmpi-tasks-1rank rmpi-actors-1rank starpu mpi4py dask"
systems=${COMPARE_SYSTEMS:-$all_systems}

for prog in metg_mpi metg_rmpi metg_report; do
    if [ ! -x "$builddir/$prog" ] || [ ! -e "$builddir/.libs/libmetgcore.so" ]; then
        echo "compare.sh: building the METG programs (make -C $builddir)" >&2
        make -C "$builddir" metg_mpi metg_rmpi metg_report libmetgcore.la >/dev/null ||
            { echo "compare.sh: build failed" >&2; exit 2; }
        break
    fi
done
export METG_CORE_LIB=$builddir/.libs/libmetgcore.so
export PYTHONPATH=$here${PYTHONPATH:+:$PYTHONPATH}

if [ $smoke = 1 ]; then
    workdir=$(mktemp -d /tmp/rmpi-compare.XXXXXX)
    [ -n "$out" ] || out=$workdir/performance-comparison.md
    plots=0
else
    workdir=$(mktemp -d /tmp/rmpi-compare.XXXXXX)
    [ -n "$out" ] || out=$srcroot/doc/performance-comparison.md
fi
outdir=$(cd "$(dirname "$out")" 2>/dev/null && pwd) ||
    { echo "compare.sh: no directory $(dirname "$out") for the report $out" >&2; rm -rf "$workdir"; exit 2; }
imgdir=$outdir/img
logs=$workdir
echo "compare.sh: logs in $logs"

# libtool wrappers (metg_rmpi, microbench link the uninstalled library): run
# mpirun through libtool, which hands it the real binary and the library path.
launcher=()
if head -c 2048 "$builddir/metg_rmpi" 2>/dev/null | grep -q 'libtool'; then
    for d in "$builddir/.." "$srcroot"; do
        [ -x "$d/libtool" ] && { launcher=("$(cd "$d" && pwd)/libtool" --mode=execute); break; }
    done
fi

cores=$(nproc)
np=$cores
rel() { case "$1" in "$srcroot"/*) echo "${1#"$srcroot"/}" ;; *) echo "$1" ;; esac; }
has() { case " $systems " in *" $1 "*) return 0 ;; esac; return 1; }

started=$(date -u '+%Y-%m-%d %H:%M:%S UTC')
load_start=$(cut -d' ' -f1-3 /proc/loadavg)
t_start=$(date +%s)
status=0
declare -A cmd rc_of secs note

# run NAME LIMIT_S CMD... : output to $logs/NAME.log, command kept for the report
run() {
    local name=$1 limit=$2; shift 2
    local shown=""
    for a in "$@"; do
        case "$a" in
        "$builddir"/*) shown+=" $(rel "$a")" ;;
        "${launcher[0]:-/nonexistent}"|--mode=execute) ;;
        *) shown+=" $a" ;;
        esac
    done
    cmd[$name]=${shown# }
    echo "== ${cmd[$name]}"
    local t0; t0=$(date +%s)
    timeout -k 10 "$limit" "$@" >"$logs/$name.log" 2>&1
    rc_of[$name]=$?
    secs[$name]=$(( $(date +%s) - t0 ))
    grep -E '^(METG\(|Peak FLOP|latency|bandwidth)' "$logs/$name.log" | sed 's/^/   /'
    if [ "${rc_of[$name]}" != 0 ]; then
        status=1
        echo "compare.sh: $name exited with ${rc_of[$name]} after ${secs[$name]} s:" >&2
        tail -n 15 "$logs/$name.log" >&2
    fi
}

all_runs() { # every run's name, in the order they ran
    local r s
    echo limits microbench peak $all_systems
    for ((r = 2; r <= rounds; r++)); do
        for s in mpi rmpi-tasks rmpi-actors rmpi-tasks-1rank rmpi-actors-1rank mpi4py; do echo "$s-r$r"; done
    done
    echo lat-mpi lat-rmpi lat-starpu lat-mpi4py lat-dask peak-end
}

# --- sweep ranges per system ------------------------------------------------------------
# s: iterations 2^(26-s).  Each range starts where the system is near its best
# efficiency and runs down past its METG; --stop-below ends a sweep once a point is
# under that efficiency (slow systems do not waste time far below their METG).
if [ $smoke = 1 ]; then
    mpi_args=(--type all --steps 50 --sweep 14:20 --reps 1 --warmup-steps 2)
    rt_args=(--type all --steps 50 --sweep 14:18 --reps 1 --warmup-steps 2)
    rp_args=(--type stencil_1d --steps 50 --sweep 14:16 --reps 1 --warmup-steps 2)
    ra_args=(--type stencil_1d --steps 50 --sweep 14:18 --reps 1 --warmup-steps 2)
    r1_args=(--type stencil_1d --steps 50 --sweep 14:18 --reps 1 --warmup-steps 2)
    sp_args=(--type all --steps 50 --sweep 14:16 --reps 1 --warmup-steps 2)
    m4_args=(--type stencil_1d --steps 10 --sweep 12:14 --reps 1 --warmup-steps 1)
    dk_args=(--type stencil_1d --steps 6 --sweep 12:13 --reps 1 --warmup-steps 1)
    peak_args=(--peak --peak-iters 1048576 --peak-reps 3)
    peak_end_args=(--peak --peak-iters 1048576 --peak-reps 2)
    lat_c=2000; py_lat_c=200
    limits_args=(--smoke)
    mb_args=(--smoke --timeout 15)
    lim=60; pylim=60
    rounds=${COMPARE_ROUNDS:-2}
else
    mpi_args=(--type all --steps 1000 --sweep 13:26 --reps 3 --stop-below 0.03 --max-time 40)
    rt_args=(--type all --steps 1000 --sweep 11:24 --reps 3 --stop-below 0.1 --max-time 40)
    rp_args=(--type stencil_1d --steps 1000 --sweep 11:24 --reps 3 --stop-below 0.1 --max-time 40)
    ra_args=(--type all --steps 1000 --sweep 11:24 --reps 3 --stop-below 0.1 --max-time 40)
    r1_args=(--type stencil_1d --steps 1000 --sweep 11:24 --reps 3 --stop-below 0.1 --max-time 40)
    sp_args=(--type all --steps 1000 --sweep 11:22 --reps 3 --stop-below 0.1 --max-time 40)
    m4_args=(--type stencil_1d --steps 200 --sweep 9:18 --reps 2 --stop-below 0.1 --max-time 60)
    dk_args=(--type stencil_1d --steps 50 --sweep 6:16 --reps 2 --stop-below 0.1 --max-time 100)
    peak_args=(--peak --peak-iters 1048576 --peak-reps 30)
    peak_end_args=(--peak --peak-iters 1048576 --peak-reps 30)
    lat_c=20000; py_lat_c=2000
    # 9 rounds: with 5, the same code's medians swung across the 5x line from one
    # comparison to the next (bench/METG_FINDINGS.md, 13); each round takes about 35 s.
    rounds=${COMPARE_ROUNDS:-9}
    limits_args=()
    mb_args=(--only single_client_put_gigabytes,get_64MiB_remote --warmup 0.5 --round-time 1 --rounds 3 --timeout 30)
    lim=400; pylim=400
fi

# --- limits --------------------------------------------------------------------------------
mcbin=$builddir/memcpy_bw
[ -x "$mcbin" ] || mcbin=""
run limits 300 "$here/limits.sh" "${limits_args[@]}" ${mcbin:+--memcpy-bw "$mcbin"} --csv "$logs/limits.csv"
if [ -x "$builddir/microbench" ]; then
    run microbench 120 "${launcher[@]}" "$mpirun" --oversubscribe -n 2 "$builddir/microbench" "${mb_args[@]}" --csv "$logs/microbench.csv"
else
    note[microbench]="bench/microbench is not built"
fi

# --- peak ---------------------------------------------------------------------------------
run peak 120 "$mpirun" --oversubscribe -n "$np" "$builddir/metg_mpi" "${peak_args[@]}"
peak=$(sed -n 's/^Peak FLOP\/s \([0-9.e+-]*\)$/\1/p' "$logs/peak.log" | head -n1)
if [ -z "$peak" ]; then
    echo "compare.sh: no peak FLOP/s: cannot compute efficiency" >&2
    peak=0; status=1
fi
peak_args_common=(--peak-flops "$peak")

# --- the sweeps ---------------------------------------------------------------------------
# sweep NAME SYSTEM [PATTERN]: SYSTEM's METG sweep, logged as NAME; PATTERN replaces
# "--type all" (the later rounds run stencil_1d only).
sweep() {
    local name=$1 t=${3:-all}
    case "$2" in
    mpi) run "$name" $lim "$mpirun" --oversubscribe -n "$np" "$builddir/metg_mpi" "${mpi_args[@]/#all/$t}" "${peak_args_common[@]}" ;;
    rmpi-tasks) run "$name" $lim "${launcher[@]}" "$mpirun" --oversubscribe -n "$np" "$builddir/metg_rmpi" --impl tasks "${rt_args[@]/#all/$t}" "${peak_args_common[@]}" ;;
    rmpi-tasks-pinned) run "$name" $lim "${launcher[@]}" "$mpirun" --oversubscribe -n "$np" "$builddir/metg_rmpi" --impl tasks --pin "${rp_args[@]/#all/$t}" "${peak_args_common[@]}" ;;
    rmpi-actors) run "$name" $lim "${launcher[@]}" "$mpirun" --oversubscribe -n "$np" "$builddir/metg_rmpi" --impl actors "${ra_args[@]/#all/$t}" "${peak_args_common[@]}" ;;
    # one rank, unbound so that it owns every core (mpirun binds a lone rank to one)
    rmpi-tasks-1rank) run "$name" $lim "${launcher[@]}" "$mpirun" --oversubscribe --bind-to none -n 1 "$builddir/metg_rmpi" --impl tasks "${r1_args[@]}" "${peak_args_common[@]}" ;;
    rmpi-actors-1rank) run "$name" $lim "${launcher[@]}" "$mpirun" --oversubscribe --bind-to none -n 1 "$builddir/metg_rmpi" --impl actors "${r1_args[@]}" "${peak_args_common[@]}" ;;
    # one process, a StarPU CPU worker per core
    starpu) run "$name" $lim "$builddir/metg_starpu" --cores "$np" "${sp_args[@]/#all/$t}" "${peak_args_common[@]}" ;;
    mpi4py) run "$name" $pylim "$mpirun" --oversubscribe -n $((np + 1)) -x PYTHONPATH -x METG_CORE_LIB "$py" -m mpi4py.futures "$here/metg_mpi4py.py" "${m4_args[@]/#all/$t}" "${peak_args_common[@]}" ;;
    dask) run "$name" $pylim "$py" "$here/metg_dask.py" --workers "$np" "${dk_args[@]/#all/$t}" "${peak_args_common[@]}" ;;
    esac
}
for s in mpi rmpi-tasks rmpi-tasks-pinned rmpi-actors rmpi-tasks-1rank rmpi-actors-1rank; do
    has $s && sweep $s $s
done
if has starpu; then
    if [ -x "$builddir/metg_starpu" ]; then
        sweep starpu starpu
    else
        note[starpu]="bench/metg_starpu is not built (configure found no starpu-1.3: apt-get install libstarpu-dev)"; status=1
    fi
fi
py_ok() { "$py" -c "import $1" >/dev/null 2>&1; }
if has mpi4py; then
    if py_ok mpi4py.futures; then
        sweep mpi4py mpi4py
    else
        note[mpi4py]="python3-mpi4py is not installed"; status=1
    fi
fi
if has dask; then
    if py_ok distributed; then
        sweep dask dask
    else
        note[dask]="python3-distributed is not installed"; status=1
    fi
fi

# --- more rounds of the stencil_1d sweeps ------------------------------------------------------
# This machine's speed changes within minutes (bench/METG_FINDINGS.md, 4.): one sweep
# per system puts each in a different phase, and a ratio of two METGs inherits both.
# The systems of the targets run in turn, round after round; a ratio is taken within
# a round, and the targets are judged on the median over the rounds.
round_systems=()
for s in mpi rmpi-tasks rmpi-actors rmpi-tasks-1rank rmpi-actors-1rank mpi4py; do
    has "$s" && [ -s "$logs/$s.log" ] && round_systems+=("$s")
done
for ((r = 2; r <= rounds; r++)); do
    for s in "${round_systems[@]}"; do
        sweep "$s-r$r" "$s" stencil_1d
    done
done

# --- latency and tasks/s ---------------------------------------------------------------------
run lat-mpi 60 "$mpirun" --oversubscribe -n "$np" "$builddir/metg_mpi" --latency --count $lat_c
run lat-rmpi 120 "${launcher[@]}" "$mpirun" --oversubscribe -n "$np" "$builddir/metg_rmpi" --latency --count $lat_c
if has starpu && [ -x "$builddir/metg_starpu" ]; then
    run lat-starpu 60 "$builddir/metg_starpu" --cores "$np" --latency --count $lat_c
fi
if has mpi4py && py_ok mpi4py.futures; then
    run lat-mpi4py 120 "$mpirun" --oversubscribe -n $((np + 1)) -x PYTHONPATH -x METG_CORE_LIB "$py" -m mpi4py.futures "$here/metg_mpi4py.py" --latency --count $py_lat_c
fi
if has dask && py_ok distributed; then
    run lat-dask 120 "$py" "$here/metg_dask.py" --workers "$np" --latency --count $((py_lat_c / 4))
fi

# the peak again: the higher of the two is the peak (other work on the machine lowers
# whichever measurement it overlaps).  Each is the median of its repetitions, not the
# best one (bench/METG_FINDINGS.md, 9.)
run peak-end 120 "$mpirun" --oversubscribe -n "$np" "$builddir/metg_mpi" "${peak_end_args[@]}"
peak_start=$peak
peak_end=$(sed -n 's/^Peak FLOP\/s \([0-9.e+-]*\)$/\1/p' "$logs/peak-end.log" | head -n1)
peak=$(awk -v a="$peak_start" -v b="${peak_end:-0}" 'BEGIN { printf "%e\n", (b > a) ? b : a }')
peak_best=$(sed -n 's/^Best FLOP\/s \([0-9.e+-]*\).*/\1/p' "$logs/peak.log" "$logs/peak-end.log" 2>/dev/null | sort -g | tail -n1)

t_total=$(( $(date +%s) - t_start ))
load_end=$(cut -d' ' -f1-3 /proc/loadavg)

# --- METG ------------------------------------------------------------------------------------
all=$logs/points.txt
: > "$all"
for s in $all_systems; do
    [ -s "$logs/$s.log" ] || continue
    cc=$np
    "$builddir/metg_report" --peak-flops "${peak:-0}" --cores "$cc" --label "$s" "$logs/$s.log" >> "$all" 2>>"$logs/report.err" || true
    "$builddir/metg_report" --peak-flops "${peak:-0}" --cores "$cc" --label "$s" --best "$logs/$s.log" |
        sed 's/^/best-/' >> "$all" 2>>"$logs/report.err" || true
done
# The rounds' stencil_1d METGs: "ROUND KIND SYSTEM stencil_1d STATUS VALUE" (round 1:
# the main sweeps).
rall=$logs/rounds.txt
: > "$rall"
for ((r = 1; r <= rounds; r++)); do
    for s in "${round_systems[@]}"; do
        log=$logs/$s.log
        [ $r -gt 1 ] && log=$logs/$s-r$r.log
        [ -s "$log" ] || continue
        "$builddir/metg_report" --peak-flops "${peak:-0}" --cores "$np" --label "$s" "$log" 2>>"$logs/report.err" |
            awk -v r=$r '($1 == "metg" || $1 == "kmetg") && $3 == "stencil_1d" { print r, $0 }' >> "$rall"
    done
done
# rounds_table KIND: one row per round and the medians (ratios within a round)
rounds_table() {
    awk -v k="$1" -v n="$rounds" '
    function us(v) { if (v == "") return "-"; v *= 1e6
        if (v >= 1000) return sprintf("%.2f ms", v / 1000); if (v >= 10) return sprintf("%.1f us", v)
        return sprintf("%.2f us", v) }
    function med(a, m,   i, j, t, c) { c = 0
        for (i = 1; i <= m; i++) if (a[i] != "") { c++; b[c] = a[i] + 0 }
        for (i = 1; i <= c; i++) for (j = i + 1; j <= c; j++) if (b[j] < b[i]) { t = b[i]; b[i] = b[j]; b[j] = t }
        if (c == 0) return ""; return (c % 2) ? b[(c + 1) / 2] : (b[c / 2] + b[c / 2 + 1]) / 2 }
    function cell(v, st) { return (st == "ok") ? us(v) : (st == "above") ? "> " us(v) : (st == "below") ? "<= " us(v) : "-" }
    function rat(a, b) { return (a == "" || b == "" || b == 0) ? "" : a / b }
    function rc(v) { return (v == "") ? "-" : sprintf("%.3gx", v) }
    function dash(v) { return (v == "") ? "-" : v }
    $2 == k { st[$1, $3] = $5; val[$1, $3] = $6; if ($5 == "ok") v[$1, $3] = $6 }
    function sc(r, sys) { return cell(val[r, sys], st[r, sys]) }
    END {
        for (r = 1; r <= n; r++) {
            m[r] = v[r, "mpi"]; t[r] = v[r, "rmpi-tasks"]; a[r] = v[r, "rmpi-actors"]; p[r] = v[r, "mpi4py"]
            t1[r] = v[r, "rmpi-tasks-1rank"]; a1[r] = v[r, "rmpi-actors-1rank"]
            rt[r] = rat(t[r], m[r]); ra[r] = rat(a[r], m[r]); rp[r] = rat(p[r], t[r])
            rt1[r] = rat(t1[r], m[r]); ra1[r] = rat(a1[r], m[r])
            printf "| %d | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", r,
                sc(r, "mpi"), sc(r, "rmpi-tasks"), sc(r, "rmpi-actors"), sc(r, "rmpi-tasks-1rank"),
                sc(r, "rmpi-actors-1rank"), sc(r, "mpi4py"),
                rc(rt[r]), rc(ra[r]), rc(rt1[r]), rc(ra1[r]), rc(rp[r])
        }
        printf "| median | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", us(med(m, n)), us(med(t, n)),
            us(med(a, n)), us(med(t1, n)), us(med(a1, n)), us(med(p, n)),
            rc(med(rt, n)), rc(med(ra, n)), rc(med(rt1, n)), rc(med(ra1, n)), rc(med(rp, n))
        # for the verdicts: "#V NAME median met_count counted"
        verdict("tasks", rt, "<=", 10); verdict("actors", ra, "<=", 5)
        verdict("tasks-1rank", rt1, "<=", 10); verdict("actors-1rank", ra1, "<=", 5)
        verdict("mpi4py", rp, ">=", 100)
    }
    function verdict(name, x, op, q,   r, cnt, k) {
        cnt = k = 0
        for (r = 1; r <= n; r++)
            if (x[r] != "") { cnt++; if ((op == "<=") ? (x[r] <= q) : (x[r] >= q)) k++ }
        printf "#V %s %s %d %d\n", name, dash(med(x, n)), k, cnt
    }' "$rall"
}
maxeff=$(awk '$1 == "point" { if ($9 > m) m = $9 } END { printf "%.3f\n", m + 0 }' "$all")
kind=metg # which METG the helpers read: metg (Task Bench's), kmetg (kernel time), best-metg
metg() { # SYSTEM PATTERN -> "status value_s"
    awk -v k="$kind" -v s="$1" -v t="$2" '$1 == k && $2 == s && $3 == t { print $4, $5; exit }' "$all"
}
us() { awk -v v="$1" 'BEGIN { if (v == "") { print "-"; exit }
    v *= 1e6; if (v >= 100000) printf "%.0f ms\n", v / 1000; else if (v >= 1000) printf "%.1f ms\n", v / 1000;
    else if (v >= 100) printf "%.0f us\n", v; else if (v >= 10) printf "%.1f us\n", v; else printf "%.2f us\n", v }'; }
metg_cell() { # SYSTEM PATTERN -> the table's cell
    local r st v
    r=$(metg "$1" "$2")
    [ -n "$r" ] || { echo "-"; return; }
    st=${r%% *}; v=${r#* }
    case "$st" in
    ok) us "$v" ;;
    above) echo "> $(us "$v") (never 50%)" ;;
    below) echo "<= $(us "$v") (all >= 50%)" ;;
    *) echo "-" ;;
    esac
}
best_cell() { # SYSTEM PATTERN -> METG from the fastest repetitions
    local r st v
    r=$(awk -v s="$1" -v t="$2" '$1 == "best-metg" && $2 == s && $3 == t { print $4, $5; exit }' "$all")
    [ -n "$r" ] || { echo "-"; return; }
    st=${r%% *}; v=${r#* }
    case "$st" in ok) us "$v" ;; above) echo "> $(us "$v")" ;; below) echo "<= $(us "$v")" ;; *) echo "-" ;; esac
}
metg_val() { local r; r=$(metg "$1" "$2"); [ -n "$r" ] && echo "${r#* }"; }
metg_st() { local r; r=$(metg "$1" "$2"); [ -n "$r" ] && echo "${r%% *}"; }
lat() { # LOG KEY -> value
    sed -n "s/^latency $2 \([0-9.]*\).*/\1/p" "$logs/$1.log" 2>/dev/null | head -n1
}
fmt() {
    awk -v v="$1" 'BEGIN {
        if (v == "") { print "-"; exit }
        if (v >= 1000) { s = sprintf("%.0f", v); o = "";
            while (length(s) > 3) { o = "," substr(s, length(s) - 2) o; s = substr(s, 1, length(s) - 3) }
            print s o }
        else if (v >= 100) printf "%.0f\n", v
        else if (v >= 10) printf "%.1f\n", v
        else printf "%.2f\n", v }'
}
limit() { awk -F, -v t="$1" -v s="$2" '$1 == t && $2 == s { print $3; exit }' "$logs/limits.csv" 2>/dev/null; }
mbrow() { awk -F, -v n="$1" '!/^#/ && $1 == n && $9 == "ok" { print $2; exit }' "$logs/microbench.csv" 2>/dev/null; }

names_of() {
    case "$1" in
    mpi) echo "MPI (non-blocking p2p)" ;;
    rmpi-tasks) echo "ray-mpi tasks" ;;
    rmpi-tasks-pinned) echo "ray-mpi tasks, pinned" ;;
    rmpi-actors) echo "ray-mpi actors" ;;
    rmpi-tasks-1rank) echo "ray-mpi tasks, one rank" ;;
    rmpi-actors-1rank) echo "ray-mpi actors, one rank" ;;
    starpu) echo "StarPU" ;;
    mpi4py) echo "mpi4py.futures" ;;
    dask) echo "Dask distributed" ;;
    esac
}

# --- plots -----------------------------------------------------------------------------------
plot_status="not drawn (--smoke or --no-plots)"
if [ $plots = 1 ]; then
    if ! command -v gnuplot >/dev/null; then
        plot_status="not drawn: gnuplot is not installed (apt-get install gnuplot-nox)"
    else
        mkdir -p "$imgdir"
        gp=$logs/plot.gp
        {
            echo "set terminal pngcairo size 1100,560 font ',11' noenhanced"
            echo "set output '$imgdir/metg-efficiency-stencil_1d.png'"
            echo "set logscale x"
            echo "set xlabel 'task granularity (us) = wall time x cores / tasks'"
            echo "set ylabel 'efficiency (FLOP/s / peak FLOP/s)'"
            echo "set yrange [0:*]"
            echo "set grid"
            echo "set key outside right top"
            echo "set title 'Task Bench compute_bound, stencil_1d, width $np, $cores cores ($(date -u +%Y-%m-%d))'"
            printf "plot 0.5 title 'METG threshold (50%%)' with lines dashtype 2 lc rgb 'gray'"
            for s in $all_systems; do
                awk -v s="$s" '$1 == "point" && $2 == s && $3 == "stencil_1d" { print $8 * 1e6, $9 }' "$all" > "$logs/eff-$s.dat"
                [ -s "$logs/eff-$s.dat" ] && printf ", '%s' using 1:2 title '%s' with linespoints pt 7" "$logs/eff-$s.dat" "$(names_of "$s")"
            done
            echo
            echo "set output '$imgdir/metg-kernel-efficiency-stencil_1d.png'"
            echo "set ylabel 'efficiency (kernel time / (wall time x cores))'"
            echo "set yrange [0:1.05]"
            echo "set title 'Same runs, kernel-time efficiency, stencil_1d, $cores cores ($(date -u +%Y-%m-%d))'"
            printf "plot 0.5 title 'METG threshold (50%%)' with lines dashtype 2 lc rgb 'gray'"
            for s in $all_systems; do
                awk -v s="$s" '$1 == "point" && $2 == s && $3 == "stencil_1d" && $11 >= 0 { print $8 * 1e6, $11 }' "$all" > "$logs/keff-$s.dat"
                [ -s "$logs/keff-$s.dat" ] && printf ", '%s' using 1:2 title '%s' with linespoints pt 7" "$logs/keff-$s.dat" "$(names_of "$s")"
            done
            echo
            echo "set output '$imgdir/metg-bars.png'"
            echo "unset logscale x"
            echo "set logscale y"
            echo "set yrange [*:*]"
            echo "set style fill solid 0.7"
            echo "set boxwidth 0.6"
            echo "set xlabel ''"
            echo "set ylabel 'METG(50%), stencil_1d (us, log scale)'"
            echo "set title 'METG(50%) per system, stencil_1d, $cores cores ($(date -u +%Y-%m-%d)); lower is better'"
            echo "unset key"
            echo "set xtics rotate by -20"
            i=0
            : > "$logs/bars.dat"
            for s in $all_systems; do
                v=$(metg_val "$s" stencil_1d)
                [ -n "$v" ] || continue
                st=$(metg_st "$s" stencil_1d)
                lbl=$(names_of "$s"); [ "$st" = above ] && lbl="$lbl (>)"
                echo "$i \"$lbl\" $(awk -v v="$v" 'BEGIN { print v * 1e6 }')" >> "$logs/bars.dat"
                i=$((i + 1))
            done
            echo "plot '$logs/bars.dat' using 1:3:xtic(2) with boxes lc rgb '#4477aa', '' using 1:3:(sprintf('%.3g us', \$3)) with labels offset 0,1"
        } > "$gp"
        if gnuplot "$gp" 2>"$logs/gnuplot.err"; then
            plot_status="drawn"
        else
            plot_status="failed: $(head -c 300 "$logs/gnuplot.err")"
            status=1
        fi
    fi
fi

# --- the report ------------------------------------------------------------------------------
cpu_model=$(lscpu 2>/dev/null | sed -n 's/^Model name: *//p' | head -n1)
hv=$(lscpu 2>/dev/null | sed -n 's/^Hypervisor vendor: *//p' | head -n1)
mem=$(awk '/^MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)
os=$(sed -n 's/^PRETTY_NAME="\{0,1\}\([^"]*\)"\{0,1\}$/\1/p' /etc/os-release 2>/dev/null)
ompi_ver=$($mpirun --version 2>/dev/null | head -n1)
ucx_ver=$(ucx_info -v 2>/dev/null | awk '/Version/ { print $3; exit }')
m4_ver=$($py -c 'import mpi4py; print(mpi4py.__version__)' 2>/dev/null)
dk_ver=$($py -c 'import distributed; print(distributed.__version__)' 2>/dev/null)
sp_ver=$(pkg-config --modversion starpu-1.3 2>/dev/null)
[ -x "$builddir/metg_starpu" ] || sp_ver=""

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "" || b == 0) print ""; else printf "%.3g\n", a / b }'; }
target_row() { # DESC NUM_SYS DEN_SYS OP REQUIRED : is METG(NUM) / METG(DEN) OP REQUIRED?
    # A METG not bracketed by the sweep is only a bound: "above" (METG > v) or "below"
    # (METG <= v); the ratio is then an interval, and the verdict is given only when
    # the whole interval decides it.
    local rn rd
    rn=$(metg "$2" stencil_1d); rd=$(metg "$3" stencil_1d)
    local out
    out=$(awk -v a="$rn" -v b="$rd" -v op="$4" -v q="$5" 'BEGIN {
        if (a == "" || b == "") { print "-|n/a (not measured)"; exit }
        split(a, A, " "); split(b, B, " ")
        inf = 1e300
        alo = A[2]; ahi = A[2]; if (A[1] == "above") ahi = inf; if (A[1] == "below") alo = 0
        blo = B[2]; bhi = B[2]; if (B[1] == "above") bhi = inf; if (B[1] == "below") blo = 0
        rlo = (bhi >= inf) ? 0 : alo / bhi
        rhi = (blo <= 0 || ahi >= inf) ? inf : ahi / blo
        if (rlo == rhi) r = sprintf("%.3gx", rlo)
        else r = sprintf("%s..%s", (rlo > 0) ? sprintf("%.3gx", rlo) : "0", (rhi >= inf) ? "inf" : sprintf("%.3gx", rhi))
        if (op == "<=") v = (rhi <= q) ? "met" : (rlo > q) ? "**not met**" : "undetermined (a METG is only bounded)"
        else v = (rlo >= q) ? "met" : (rhi < q) ? "**not met**" : "undetermined (a METG is only bounded)"
        print r "|" v }')
    echo "| $1 | $kl | $(metg_cell "$2" stencil_1d) / $(metg_cell "$3" stencil_1d) | ${out%%|*} | $4 $5x | ${out#*|} |"
}

{
    echo "# ray-mpi against MPI, StarPU, mpi4py.futures and Dask: Task Bench METG"
    echo
    if [ $smoke = 1 ]; then
        echo "**Smoke run** (\`bench/compare.sh --smoke\`): tiny sweeps that check that every"
        echo "implementation runs; these figures are not measurements."
        echo
    fi
    echo "Written by \`bench/compare.sh$( [ $smoke = 1 ] && echo ' --smoke')\` on $started (whole run: ${t_total} s)."
    echo
    echo "## Machine"
    echo
    echo "| | |"
    echo "| --- | --- |"
    echo "| CPU | ${cpu_model:-?}${hv:+ (virtual machine, $hv)} |"
    echo "| cores | $cores |"
    echo "| memory | $mem |"
    echo "| OS | ${os:-?}, Linux $(uname -r) |"
    echo "| load average (1, 5, 15 min) | before the run $load_start; after it $load_end |"
    echo "| MPI | ${ompi_ver:-?} |"
    echo "| UCX | ${ucx_ver:-?} |"
    echo "| StarPU | ${sp_ver:-not built} |"
    echo "| mpi4py | ${m4_ver:-not installed} |"
    echo "| Dask distributed | ${dk_ver:-not installed} |"
    echo "| ray-mpi | commit $commit$dirty |"
    echo
    if awk -v l="${load_start%% *}" -v c="$cores" 'BEGIN { exit !(l > 0.5 * c) }'; then
        echo "The load average before the run ($load_start on $cores cores) says other work shared"
        echo "the CPUs: every figure below, the peak included, is noisy and likely low."
        echo
    fi
    echo "## Commands"
    echo
    echo '```sh'
    echo "export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1"
    echo "export METG_CORE_LIB=$(rel "$builddir")/.libs/libmetgcore.so PYTHONPATH=bench"
    for n in limits microbench peak $all_systems lat-mpi lat-rmpi lat-starpu lat-mpi4py lat-dask peak-end; do
        [ -n "${cmd[$n]:-}" ] && echo "${cmd[$n]}"
    done
    if [ "$rounds" -ge 2 ] && [ ${#round_systems[@]} -gt 0 ]; then
        echo "# rounds 2 to $rounds, each running in turn:"
        for s in "${round_systems[@]}"; do
            [ -n "${cmd[$s-r2]:-}" ] && echo "${cmd[$s-r2]}"
        done
    fi
    echo "bench/metg_report --peak-flops $peak --cores $np --label SYSTEM LOG   # per system"
    echo '```'
    echo
    echo "All of it is \`bench/compare.sh$( [ $smoke = 1 ] && echo ' --smoke')\`."
    [ ${#launcher[@]} -gt 0 ] && echo "Programs linking the uninstalled library are started through \`libtool --mode=execute\`."
    echo
    echo "## Method"
    echo
    echo "Task Bench's (Slaughter et al., SC'20), implemented in \`bench/metg_core.c\`:"
    echo
    echo "- Kernel compute_bound: 64 doubles, \`A[i] = A[i]*A[i] + A[i]\` per iteration, FLOPs per"
    echo "  task = 128 x iterations + 64. Every system runs the same C kernel (the Python peers"
    echo "  call it through ctypes from \`libmetgcore.so\`). A task checks that its inputs are the"
    echo "  outputs of the right (timestep, point) and returns its 64 doubles (512 bytes)."
    echo "- Graph: width = total cores = $np, dependency patterns trivial, stencil_1d, nearest"
    echo "  (radix 5), spread (radix 5). The iteration count is swept as 2^(26-s); each point"
    echo "  is run several times and the mean wall time is used, as Task Bench's analysis does."
    echo "- Peak FLOP/s: \`metg_mpi --peak\`, every core running the kernel at once at"
    echo "  $(grep -o 'x [0-9]* iterations' "$logs/peak.log" 2>/dev/null | head -n1 | sed 's/^x //') per task, the median of the"
    echo "  repetitions (Task Bench takes the best; here a few repetitions run up to twice as"
    echo "  fast as the rest, a speed the sweeps rarely see: the best was $(awk -v p="$peak_best" 'BEGIN { printf "%.3e", p }') FLOP/s),"
    echo "  measured before the sweeps and again after them; the higher is the peak:"
    echo "  $(awk -v p="$peak_start" 'BEGIN { printf "%.3e", p }') and $(awk -v p="${peak_end:-0}" 'BEGIN { printf "%.3e", p }') FLOP/s, so"
    echo "  **$(awk -v p="$peak" 'BEGIN { printf "%.3e", p }') FLOP/s** on $np cores ($(awk -v p="$peak" -v n="$np" 'BEGIN { printf "%.3e", p / n }') per core)."
    echo "- Efficiency = achieved FLOP/s / peak; granularity = wall time x cores / tasks;"
    echo "  every run also reports its tasks' summed kernel time (\"Kernel Time\", our addition"
    echo "  to Task Bench's lines), which gives a second, peak-free efficiency (below);"
    echo "  METG(50%) = the granularity of the smallest-granularity point at or above 50%,"
    echo "  linearly interpolated to exactly 50% with the next point of the sweep"
    echo "  (\`bench/metg_report\`, the same code for every system)."
    echo "- With width $np, stencil_1d, nearest and spread give every task the same inputs"
    echo "  (all $np points of the previous timestep: nearest's radix 5 is clipped at the edges,"
    echo "  and spread's 5 points collide; Task Bench itself rejects spread with width < radix,"
    echo "  here a collision counts once, and spread's period is Task Bench's 3 capped at"
    echo "  ceil(width / radix) = 1)."
    echo "- Per system: \`metg_mpi\` (one rank per core, each owning width/size columns,"
    echo "  MPI_Isend/Irecv of the 512-byte outputs per timestep); \`metg_rmpi --impl tasks\`"
    echo "  (one rmpi_submit per task with the dependency refs as \`rmpi_ref()\` arguments, the whole"
    echo "  graph submitted timestep by timestep, refs released when the next timestep is"
    echo "  submitted; placement by ray-mpi's scheduler); \`metg_rmpi --impl actors\` (one actor per"
    echo "  column, round-robin over the ranks with \`opts.rank\`, a \`step\` call per timestep with the"
    echo "  dependency refs); \`metg_starpu\` (one process, a StarPU CPU worker per core and the main"
    echo "  thread submitting the whole graph; each point has a 512-byte buffer per timestep parity,"
    echo "  a task writes its own and reads its dependencies', and StarPU's data dependencies make"
    echo "  the edges, as in Task Bench's StarPU implementation; a write also waits for the reads of"
    echo "  the buffer's contents of two timesteps back, edges the trivial pattern gets too);"
    echo "  \`metg_mpi4py.py\` (\`mpirun -n $((np + 1)) python3 -m mpi4py.futures\`:"
    echo "  $np pool workers, one submit per task, the submitter waits for a task's inputs and"
    echo "  passes their values); \`metg_dask.py\` (LocalCluster of $np worker processes x 1"
    echo "  thread, \`client.submit\` with the dependency futures as arguments)."
    echo "- Deviations, to fit the comparison into about 10 minutes on $cores cores: the sweeps"
    echo "  do not start at s = 0 (2^26 iterations: 2-7 s per task here) but near each"
    echo "  system's best efficiency, and stop once a point falls under the \`--stop-below\`"
    echo "  kernel-time efficiency; mpi4py.futures runs $(printf '%s ' "${m4_args[@]}" | sed -n 's/.*--steps \([0-9]*\).*/\1/p') timesteps and Dask $(printf '%s ' "${dk_args[@]}" | sed -n 's/.*--steps \([0-9]*\).*/\1/p') instead of 1000"
    echo "  (at their METG a 1000-step graph takes minutes per run). ray-mpi's ranks run one"
    echo "  executor each, so rank 0's driver thread shares a core with an executor."
    echo "- ray-mpi runs in two layouts. \"ray-mpi tasks\" and \"ray-mpi actors\": a rank per core,"
    echo "  like MPI (the tasks and the actors' calls cross ranks over UCX). \"..., one rank\": one"
    echo "  rank owning all $np cores (\`mpirun --bind-to none -n 1\`), ray-mpi's default layout on a"
    echo "  node (\`slurm/cpu-job.sbatch\`, doc/running-on-slurm.md): $np executor threads and the"
    echo "  driver in one process, no transport between them; stencil_1d only. The targets are"
    echo "  judged for both."
    echo
    echo "## METG(50%)"
    echo
    echo "| system | trivial | stencil_1d | nearest | spread | stencil_1d, fastest reps |"
    echo "| --- | ---: | ---: | ---: | ---: | ---: |"
    for s in $all_systems; do
        grep -q "^metg $s " "$all" || { [ -n "${note[$s]:-}" ] && echo "| $(names_of "$s") | ${note[$s]} | | | | |"; continue; }
        echo "| $(names_of "$s") | $(metg_cell "$s" trivial) | $(metg_cell "$s" stencil_1d) | $(metg_cell "$s" nearest) | $(metg_cell "$s" spread) | $(best_cell "$s" stencil_1d) |"
    done
    echo
    echo "Task Bench's METG uses the mean wall time of a point's repetitions (the first four"
    echo "columns). The last column computes METG from the fastest repetition of each point"
    echo "instead: not Task Bench's method, a view of the same runs that discounts"
    echo "interference from other work on a shared machine."
    if awk -v m="$maxeff" 'BEGIN { exit !(m > 1.05) }'; then
        echo "**Caution:** some points reached an efficiency of $maxeff, above 1: the peak was"
        echo "measured while other work slowed the kernel more than during those runs, so it is"
        echo "underestimated and every efficiency is overstated (METGs are too small by a similar"
        echo "factor for every system; the ratios between systems are less affected)."
    fi
    echo
    echo "\"> X (never 50%)\": no point of the sweep reached 50% efficiency, X is the largest"
    echo "granularity measured; \"<= X (all >= 50%)\": every point did, X is the smallest."
    echo "For reference (anchors): Task Bench's published stencil_1d METG on one 32-core Cori"
    echo "Haswell node: MPI 4.6 us, Charm++ 12 us, Realm 59 us, PaRSEC 79-100 us, StarPU"
    echo "0.65-0.74 ms, Dask 186 ms, Spark 373 ms; measured earlier on this project's 2-core"
    echo "build machines, width 2: MPI ~1.6 us, StarPU 1.3.10 ~37 us, Dask 2022.12 ~50 ms."
    echo
    echo "## METG(50%) with kernel-time efficiency"
    echo
    echo "The same runs, with efficiency = the kernel's wall time summed over all tasks /"
    echo "(wall time x cores): the share of the cores' time spent in the kernel. It needs no"
    echo "peak, so a machine whose CPU capacity changes during the run (other work, a virtual"
    echo "machine's steal) distorts it far less than the peak-based figure. Not Task Bench's"
    echo "definition; both equal when the kernel runs at its peak speed throughout."
    echo
    echo "| system | trivial | stencil_1d | nearest | spread |"
    echo "| --- | ---: | ---: | ---: | ---: |"
    kind=kmetg
    for s in $all_systems; do
        grep -q "^kmetg $s " "$all" || continue
        echo "| $(names_of "$s") | $(metg_cell "$s" trivial) | $(metg_cell "$s" stencil_1d) | $(metg_cell "$s" nearest) | $(metg_cell "$s" spread) |"
    done
    kind=metg
    echo
    echo "## Targets (stencil_1d)"
    echo
    echo "The project's targets, on each system's stencil_1d METG, with both efficiencies. A METG"
    echo "the sweep did not bracket is a bound, so the ratio is an interval; the verdict is"
    echo "given when the whole interval decides it."
    [ "$rounds" -ge 2 ] && echo "These are the main sweeps' (round 1's) verdicts; the next section judges the targets on all $rounds rounds."
    echo
    echo "| target | efficiency | METG (a / b) | ratio a/b | required | verdict |"
    echo "| --- | --- | ---: | ---: | ---: | --- |"
    for kind in metg kmetg; do
        kl=$( [ $kind = metg ] && echo "peak (Task Bench)" || echo "kernel time" )
        target_row "ray-mpi tasks within 10x of MPI" rmpi-tasks mpi "<=" 10
        target_row "ray-mpi actors within 5x of MPI" rmpi-actors mpi "<=" 5
        target_row "ray-mpi tasks, one rank, within 10x of MPI" rmpi-tasks-1rank mpi "<=" 10
        target_row "ray-mpi actors, one rank, within 5x of MPI" rmpi-actors-1rank mpi "<=" 5
        target_row "mpi4py.futures at least 100x ray-mpi tasks" mpi4py rmpi-tasks ">=" 100
        target_row "Dask at least 100x ray-mpi tasks" dask rmpi-tasks ">=" 100
    done
    kind=metg
    echo
    if [ "$rounds" -ge 2 ] && [ -s "$rall" ]; then
        echo "## Targets over $rounds rounds (stencil_1d)"
        echo
        echo "The stencil_1d sweeps of $(for s in "${round_systems[@]}"; do printf '%s, ' "$(names_of "$s")"; done | sed 's/, $//')"
        echo "ran $rounds times, in turn (round 1 is the main sweeps above; the other rounds repeat their"
        echo "stencil_1d part with the same options). This machine's speed changes within minutes"
        echo "(\`bench/METG_FINDINGS.md\`, 4.), and one sweep per system puts each system in a different"
        echo "phase; so a ratio is taken within a round, and the targets are judged on the median"
        echo "of the rounds' ratios. \"-\": a METG the round's sweep did not bracket (no ratio)."
        echo
        for kind in kmetg metg; do
            kl=$( [ $kind = metg ] && echo "peak-based efficiency (Task Bench)" || echo "kernel-time efficiency" )
            echo "**METG(50%), $kl:**"
            echo
            echo "| round | MPI | ray-mpi tasks | ray-mpi actors | tasks, one rank | actors, one rank | mpi4py.futures | tasks / MPI | actors / MPI | tasks, one rank / MPI | actors, one rank / MPI | mpi4py / tasks |"
            echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
            rounds_table $kind | grep -v '^#V'
            echo
        done
        echo "| target | efficiency | median ratio | rounds meeting it | required | verdict |"
        echo "| --- | --- | ---: | ---: | ---: | --- |"
        for kind in kmetg metg; do
            kl=$( [ $kind = metg ] && echo "peak (Task Bench)" || echo "kernel time" )
            rounds_table $kind | awk -v kl="$kl" '
                /^#V/ { d = "mpi4py.futures at least 100x ray-mpi tasks"
                    if ($2 == "tasks") d = "ray-mpi tasks within 10x of MPI"
                    if ($2 == "actors") d = "ray-mpi actors within 5x of MPI"
                    if ($2 == "tasks-1rank") d = "ray-mpi tasks, one rank, within 10x of MPI"
                    if ($2 == "actors-1rank") d = "ray-mpi actors, one rank, within 5x of MPI"
                    q = ($2 ~ /^tasks/) ? "<= 10x" : ($2 ~ /^actors/) ? "<= 5x" : ">= 100x"
                    if ($3 == "-") { printf "| %s | %s | - | - | %s | n/a (no round bracketed both) |\n", d, kl, q; next }
                    ok = ($2 == "mpi4py") ? ($3 >= 100) : ($2 ~ /^tasks/) ? ($3 <= 10) : ($3 <= 5)
                    printf "| %s | %s | %.3gx | %d of %d | %s | %s |\n", d, kl, $3, $4, $5, q, ok ? "met" : "**not met**" }'
        done
        kind=metg
        echo
    fi
    echo "## Efficiency by granularity (stencil_1d)"
    echo
    if [ "$plot_status" = drawn ]; then
        echo "![efficiency vs granularity](img/metg-efficiency-stencil_1d.png)"
        echo
        echo "![kernel-time efficiency vs granularity](img/metg-kernel-efficiency-stencil_1d.png)"
        echo
        echo "![METG per system](img/metg-bars.png)"
        echo
    else
        echo "Plots: $plot_status."
        echo
    fi
    for s in $all_systems; do
        grep -q "^point $s stencil_1d " "$all" || continue
        echo "**$(names_of "$s")** (run time ${secs[$s]:-?} s, exit status ${rc_of[$s]:-?})"
        echo
        echo "| iterations | reps | mean wall time | stddev | granularity | efficiency (peak) | efficiency (kernel time) | tasks/s |"
        echo "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
        awk -v s="$s" '$1 == "point" && $2 == s && $3 == "stencil_1d" {
            g = $8 * 1e6; gs = (g >= 1000) ? sprintf("%.2f ms", g / 1000) : sprintf("%.2f us", g);
            ke = ($11 == "" || $11 < 0) ? "-" : sprintf("%.3f", $11);
            printf "| %d | %d | %.4g s | %.2g s | %s | %.3f | %s | %.0f |\n", $4, $5, $6, $7, gs, $9, ke, $10 }' "$all"
        echo
    done
    echo "## Best efficiency reached"
    echo
    echo "The highest efficiency of any point of each sweep (kernel-time efficiency; the"
    echo "peak-based one in parentheses). A system whose best stays under 0.5 has no METG(50%)"
    echo "on that pattern, whatever the task size: its overhead grows with the task size"
    echo "(see \`bench/METG_FINDINGS.md\`)."
    echo
    echo "| system | trivial | stencil_1d | nearest | spread |"
    echo "| --- | ---: | ---: | ---: | ---: |"
    besteff() { awk -v s="$1" -v t="$2" '$1 == "point" && $2 == s && $3 == t {
            if ($11 > k) k = $11; if ($9 > p) p = $9; n++ }
        END { if (n) printf "%.2f (%.2f)\n", k, p; else print "-" }' "$all"; }
    for s in $all_systems; do
        grep -q "^point $s " "$all" || continue
        echo "| $(names_of "$s") | $(besteff "$s" trivial) | $(besteff "$s" stencil_1d) | $(besteff "$s" nearest) | $(besteff "$s" spread) |"
    done
    echo
    echo "## Round trip and tasks/s"
    echo
    echo "One empty task submitted and its result got, repeated (round trip); a burst of empty"
    echo "tasks submitted, then all results got (tasks/s). Plain MPI has no tasks: its row is a"
    echo "ping-pong of a small message and a burst of 8-byte Isends, the transport's floor."
    echo "\"graph tasks/s\" is the stencil_1d graph's throughput at its smallest task size."
    echo "A ray-mpi task that placement keeps on the driver's rank (the scheduler's choice for"
    echo "most of them here) runs on the driver's thread once the driver waits for it (tasks run"
    echo "by the thread waiting for them, doc/architecture.md): that row is a submit, a run"
    echo "and a get in one thread; the rank 1 row is the round trip between ranks."
    echo
    echo "| system | round trip | burst | graph tasks/s (stencil_1d, smallest tasks) |"
    echo "| --- | ---: | ---: | ---: |"
    gtp() { awk -v s="$1" '$1 == "point" && $2 == s && $3 == "stencil_1d" { v = $10 } END { if (v != "") printf "%.0f\n", v }' "$all"; }
    echo "| MPI (8 B ping-pong; Isend burst) | $(fmt "$(lat lat-mpi mpi_pingpong_8B_roundtrip_us)") us | $(fmt "$(lat lat-mpi mpi_burst_msgs_per_s)") msg/s | $(fmt "$(gtp mpi)") |"
    echo "| ray-mpi tasks (scheduler's choice) | $(fmt "$(lat lat-rmpi rmpi_task_roundtrip_us)") us | $(fmt "$(lat lat-rmpi rmpi_task_burst_per_s)") /s | $(fmt "$(gtp rmpi-tasks)") |"
    echo "| ray-mpi tasks on rank 1 | $(fmt "$(lat lat-rmpi rmpi_task_rank1_roundtrip_us)") us | $(fmt "$(lat lat-rmpi rmpi_task_rank1_burst_per_s)") /s | |"
    echo "| ray-mpi actor calls (actor on rank 1) | $(fmt "$(lat lat-rmpi rmpi_actor_roundtrip_us)") us | $(fmt "$(lat lat-rmpi rmpi_actor_burst_per_s)") /s | $(fmt "$(gtp rmpi-actors)") |"
    echo "| StarPU (one process, $np workers) | $(fmt "$(lat lat-starpu starpu_task_roundtrip_us)") us | $(fmt "$(lat lat-starpu starpu_task_burst_per_s)") /s | $(fmt "$(gtp starpu)") |"
    echo "| mpi4py.futures | $(fmt "$(lat lat-mpi4py mpi4py_task_roundtrip_us)") us | $(fmt "$(lat lat-mpi4py mpi4py_task_burst_per_s)") /s | $(fmt "$(gtp mpi4py)") |"
    echo "| Dask distributed | $(fmt "$(lat lat-dask dask_task_roundtrip_us)") us | $(fmt "$(lat lat-dask dask_task_burst_per_s)") /s | $(fmt "$(gtp dask)") |"
    echo
    echo "Counts: ray-mpi, StarPU and MPI $lat_c round trips; mpi4py.futures $py_lat_c, Dask $((py_lat_c / 4)) (bursts of"
    echo "the same size, ray-mpi's capped at 100,000)."
    echo
    echo "## Bandwidth"
    echo
    echo "| what | size | GB/s |"
    echo "| --- | ---: | ---: |"
    echo "| memcpy, one thread (bench/limits.sh) | 64 MiB | $(fmt "$(limit memcpy 67108864)") |"
    echo "| memcpy, one thread (bench/limits.sh) | 800 MB | $(fmt "$(limit memcpy 800000000)") |"
    echo "| ucx_perftest tag_bw over shared memory (bench/limits.sh) | 64 MiB | $(fmt "$(limit ucx_tag_bw 67108864)") |"
    echo "| MPI_Send/Recv, rank 0 to 1 (metg_mpi --latency) | 64 MiB | $(sed -n 's/^bandwidth mpi_send_64MiB_GBps //p' "$logs/lat-mpi.log" 2>/dev/null | head -n1) |"
    echo "| ray-mpi get of a 64 MiB object made on rank 1 (microbench get_64MiB_remote) | 64 MiB | $(fmt "$(mbrow get_64MiB_remote)") |"
    echo "| ray-mpi put (microbench single_client_put_gigabytes) | $( [ $smoke = 1 ] && echo 16 MB || echo 800 MB) | $(fmt "$(mbrow single_client_put_gigabytes)") |"
    echo
    echo "ucx_perftest: server on CPU 0, client on CPU 1, UCX_TLS=sm,self; GB = 1e9 bytes."
    [ -n "${note[microbench]:-}" ] && echo "microbench: ${note[microbench]}."
    echo "The Python peers' bandwidth is not measured here."
    echo
    echo "## Runs"
    echo
    echo "| run | seconds | exit status |"
    echo "| --- | ---: | ---: |"
    for n in $(all_runs); do
        [ -n "${cmd[$n]:-}" ] && echo "| $n | ${secs[$n]} | ${rc_of[$n]}$( [ "${rc_of[$n]}" = 124 ] && echo ' (timed out)') |"
    done
    for n in "${!note[@]}"; do echo "| $n | - | not run: ${note[$n]} |"; done
    echo
    echo "Every run's own log (Task Bench's lines per run) stays in the temporary directory"
    echo "only; \`bench/METG_FINDINGS.md\` records the problems the comparison found in ray-mpi."
} > "$out"

echo
for n in $(all_runs); do
    [ -n "${cmd[$n]:-}" ] && echo "compare.sh: run $n exit ${rc_of[$n]}"
done
for n in "${!note[@]}"; do
    case "$n" in microbench) ;; *) echo "compare.sh: run $n exit 127 (${note[$n]})" ;; esac
done
echo "compare.sh: report written to $out (${t_total} s); logs in $logs"
grep -E '^\| (MPI|ray-mpi|StarPU|mpi4py|Dask)' "$out" | head -8
exit $status
