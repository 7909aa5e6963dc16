#!/usr/bin/env bash
# Every test of ray-mpi, from a built or unbuilt tree:
#   1. make check: Criterion unit tests, the multi-rank suite (singleton, 1, 2 and
#      4 ranks under mpirun), the start-up tests and the examples;
#   2. the same suite built with AddressSanitizer and UndefinedBehaviorSanitizer;
#   3. the Slurm tests on a real local Slurm cluster (root only);
#   4. a smoke run of the benchmarks;
#   5. a smoke run of the Task Bench (METG) comparison (bench/compare.sh --smoke);
#   6. a build of the release tarball (make dist).
# Ends with a line "N passed, N failed, N skipped"; exits non-zero on any failure.
#   RMPI_SKIP="san slurm bench metg dist" tests/run-all.sh   leaves those parts out
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
pass=0 fail=0 skip=0
failed=()
log() { printf '\n=== %s\n' "$*"; }
skipped() { case " ${RMPI_SKIP:-} " in *" $1 "*) return 0 ;; esac; return 1; }

if [ "$(id -u)" -eq 0 ]; then
    export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
fi
jobs=$(nproc)

# Add the counts of an automake test-suite.log.
count_suite() { # name logfile
    local t p f e s x
    if [ ! -f "$2" ]; then
        echo "$1: no $2"; fail=$((fail + 1)); failed+=("$1"); return
    fi
    p=$(sed -n 's/^# PASS: *//p' "$2" | head -1)
    f=$(sed -n 's/^# FAIL: *//p' "$2" | head -1)
    e=$(sed -n 's/^# ERROR: *//p' "$2" | head -1)
    s=$(sed -n 's/^# SKIP: *//p' "$2" | head -1)
    x=$(sed -n 's/^# XPASS: *//p' "$2" | head -1)
    pass=$((pass + ${p:-0}))
    fail=$((fail + ${f:-0} + ${e:-0} + ${x:-0}))
    skip=$((skip + ${s:-0}))
    if [ $((${f:-0} + ${e:-0} + ${x:-0})) -ne 0 ]; then
        # the tests that failed, from their .trs files (the log quotes sub-results too)
        failed+=("$1: $(find "$(dirname "$2")" -name '*.trs' -exec grep -l '^:test-result: \(FAIL\|ERROR\|XPASS\)' {} + |
                        sed 's/\.trs$//' | tr '\n' ' ')")
    fi
    echo "$1: ${p:-0} passed, $((${f:-0} + ${e:-0})) failed, ${s:-0} skipped"
}

build() { # dir configure-args...
    local dir=$1; shift
    mkdir -p "$dir"
    ( cd "$dir" &&
      { [ -f Makefile ] || ./configure "$@" >configure.out 2>&1 ||
          { tail -30 configure.out; exit 1; }; } &&
      make -j"$jobs" >make.out 2>&1 || { tail -40 make.out; exit 1; } )
}

log "build"
[ -x configure ] || autoreconf -fi >/dev/null 2>&1 || { echo "autoreconf failed"; exit 1; }
if build "$top" --prefix="$top/install"; then
    pass=$((pass + 1)); echo "build: ok"
else
    echo "build: FAILED"; echo "0 passed, 1 failed"; exit 1
fi

log "make check"
rm -f tests/test-suite.log
make -C tests check >check.out 2>&1
tail -15 check.out
count_suite "check" tests/test-suite.log
[ -f tests/test-suite.log ] && grep -q '^# FAIL: *[1-9]\|^# ERROR: *[1-9]' tests/test-suite.log &&
    sed -n '/^FAIL:\|^ERROR:/,/^$/p' tests/test-suite.log | head -80

log "make installcheck"
if make install >install.out 2>&1 && make -C examples installcheck >installcheck.out 2>&1; then
    pass=$((pass + 1)); echo "installcheck: ok"
else
    fail=$((fail + 1)); failed+=("installcheck"); tail -20 installcheck.out install.out
fi

if skipped dist; then
    log "release tarball: skipped (RMPI_SKIP)"
else
    # What a user of a release gets: make dist, then a build of the unpacked tarball
    # (make distcheck would run the whole suite a second time).
    log "release tarball (make dist, then build it)"
    rm -rf "$top/build-dist" && mkdir -p "$top/build-dist"
    if make dist >dist.out 2>&1 && tar xzf ray-mpi-*.tar.gz -C "$top/build-dist" &&
        (cd "$top/build-dist"/ray-mpi-* && ./configure >configure.out 2>&1 && make -j2 >make.out 2>&1) \
            >>dist.out 2>&1; then
        pass=$((pass + 1)); echo "release tarball: ok"
    else
        fail=$((fail + 1)); failed+=("release tarball"); tail -20 dist.out
        tail -20 "$top/build-dist"/ray-mpi-*/make.out "$top/build-dist"/ray-mpi-*/configure.out 2>/dev/null
    fi
    rm -rf "$top/build-dist" ray-mpi-*.tar.gz
fi

if skipped san; then
    log "sanitizers: skipped (RMPI_SKIP)"
else
    log "make check under AddressSanitizer + UndefinedBehaviorSanitizer"
    export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:allow_user_segv_handler=1:detect_stack_use_after_return=0"
    export LSAN_OPTIONS="suppressions=$top/tests/lsan.supp:print_suppressions=0"
    export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
    # A separate copy of the sources: automake's VPATH builds need an unconfigured
    # source tree, and this one is configured in place.
    rm -rf "$top/build-san" && mkdir -p "$top/build-san"
    git -C "$top" ls-files -z --cached --others --exclude-standard |
        (cd "$top" && tar --null -T - -cf -) | tar -xf - -C "$top/build-san"
    if (cd "$top/build-san" && autoreconf -fi >/dev/null 2>&1) &&
       build "$top/build-san" --enable-sanitizers; then
        rm -f build-san/tests/test-suite.log
        make -C build-san/tests check RMPI_TEST_MEMORY_COUNT=20000 >san.out 2>&1
        tail -15 san.out
        count_suite "sanitizers" build-san/tests/test-suite.log
        [ -f build-san/tests/test-suite.log ] &&
            sed -n '/^FAIL:\|^ERROR:/,/^$/p' build-san/tests/test-suite.log | head -80
    else
        fail=$((fail + 1)); failed+=("sanitizer build")
    fi
    unset ASAN_OPTIONS LSAN_OPTIONS UBSAN_OPTIONS
fi

if skipped slurm; then
    log "slurm: skipped (RMPI_SKIP)"
elif [ "$(id -u)" -ne 0 ]; then
    log "slurm: skipped (needs root for the local cluster's namespaces)"
    skip=$((skip + 1))
else
    log "Slurm cluster tests"
    { tests/slurm/run.sh --keep; tests/slurm/raympi.sh; tests/slurm/shared_node.sh; } >slurm.out 2>&1
    rc=$?
    tail -30 slurm.out
    p=$(grep -c '^PASS ' slurm.out)
    f=$(grep -c '^FAIL ' slurm.out)
    pass=$((pass + p)); fail=$((fail + f))
    [ "$f" -eq 0 ] || failed+=("slurm: $(grep '^FAIL' slurm.out | tr '\n' ' ')")
    if [ $rc -ne 0 ] && [ "$f" -eq 0 ]; then
        fail=$((fail + 1)); failed+=("slurm: exit status $rc")
    fi
    echo "slurm: $p passed, $f failed"
    slurm/cluster.sh down >/dev/null 2>&1
fi

if skipped bench; then
    log "bench: skipped (RMPI_SKIP)"
else
    log "benchmark smoke run"
    if bench/run.sh --smoke >bench.out 2>&1; then
        pass=$((pass + 1)); tail -25 bench.out
    else
        fail=$((fail + 1)); failed+=("bench smoke"); tail -40 bench.out
    fi
fi

if skipped metg; then
    log "Task Bench (METG) comparison: skipped (RMPI_SKIP)"
else
    # A short run of each implementation (MPI, ray-mpi tasks and actors, StarPU,
    # mpi4py.futures, Dask, the latency runs): each run is one test.
    log "Task Bench (METG) comparison smoke run"
    # Bad settings stop it at once, with a message and exit status 2.
    COMPARE_ROUNDS=0 bench/compare.sh --smoke >compare-bad.out 2>&1
    rc1=$?
    bench/compare.sh --smoke --out /nonexistent-dir/report.md >>compare-bad.out 2>&1
    rc2=$?
    if [ "$rc1" = 2 ] && [ "$rc2" = 2 ] &&
        grep -q "COMPARE_ROUNDS must be a whole number of 1 or more, not '0'" compare-bad.out &&
        grep -q "no directory /nonexistent-dir for the report" compare-bad.out; then
        pass=$((pass + 1)); echo "compare.sh bad settings: ok"
    else
        fail=$((fail + 1)); failed+=("compare.sh bad settings (exit $rc1, $rc2)"); cat compare-bad.out
    fi
    # metg_starpu (when built) refuses bad options with a message and exit status 2.
    if [ -x bench/metg_starpu ]; then
        ok=1
        for bad in "--bogus|unknown option --bogus" "--latency --count 0|--count needs a whole number of 1 or more, not '0'" \
                   "--sweep 5|bad value for --sweep: 5"; do
            args=${bad%%|*}; msg=${bad#*|}
            # shellcheck disable=SC2086
            bench/metg_starpu $args >starpu-bad.out 2>&1
            rc=$?
            if [ "$rc" != 2 ] || ! grep -qF -- "$msg" starpu-bad.out; then
                ok=0; echo "metg_starpu $args: exit $rc"; cat starpu-bad.out
            fi
        done
        if [ $ok = 1 ]; then
            pass=$((pass + 1)); echo "metg_starpu bad options: ok"
        else
            fail=$((fail + 1)); failed+=("metg_starpu bad options")
        fi
    fi
    timeout -k 10 240 bench/compare.sh --smoke >compare.out 2>&1
    rc=$?
    tail -12 compare.out
    p=$(grep -c '^compare.sh: run .* exit 0$' compare.out)
    f=$(grep '^compare.sh: run ' compare.out | grep -vc ' exit 0$')
    pass=$((pass + p)); fail=$((fail + f))
    [ "$f" -eq 0 ] || failed+=("metg: $(grep '^compare.sh: run ' compare.out | grep -v ' exit 0$' | tr '\n' ' ')")
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
        fail=$((fail + 1)); failed+=("metg comparison: exit status $rc"); tail -40 compare.out
    fi
    # The report is whole: no awk or shell error on the way, every target row there.
    report=$(sed -n 's/^compare.sh: report written to \([^ ]*\) .*/\1/p' compare.out)
    if [ -s "$report" ] && ! grep -qE '^(awk|mawk|gawk): |syntax error' compare.out &&
        [ "$(grep -c '^| ray-mpi actors, one rank, within 5x of MPI |' "$report")" = 4 ]; then
        pass=$((pass + 1)); p=$((p + 1))
    else
        fail=$((fail + 1)); f=$((f + 1)); failed+=("metg report incomplete: ${report:-none}")
        grep -E 'awk|syntax error' compare.out | head -5
    fi
    echo "metg: $p passed, $f failed"
fi

log "summary"
for f in "${failed[@]+"${failed[@]}"}"; do echo "FAILED $f"; done
echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
