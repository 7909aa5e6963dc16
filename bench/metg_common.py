"""metg_common - the Python side of the Task Bench (METG) harness, shared by
metg_mpi4py.py and metg_dask.py.

The kernel and the dependency patterns are the C ones of metg_core.c, loaded
through ctypes (libmetgcore.so, built by `make -C bench`; found through
$METG_CORE_LIB, next to this file in .libs/, or compiled from metg_core.c into a
temporary directory), so every system runs the very same kernel.  The log lines
are Task Bench's, as metg_core.c prints them; the sweep follows metg_sweep()
(metg_core.c): for each pattern a warm-up run, then for s = smin..smax `reps`
runs of 2^(26-s) iterations, stopping early as --stop-below/--max-time say.
"""

import argparse
import ctypes
import os
import struct
import subprocess
import sys
import tempfile
import time

NDOUBLES = 64
OUTPUT_BYTES = NDOUBLES * 8
SWEEP_TOP = 26
MAX_DEPS = 64
PATTERNS = ["trivial", "stencil_1d", "nearest", "spread"]


class Graph(ctypes.Structure):
    # metg_graph_t
    _fields_ = [("type", ctypes.c_int), ("width", ctypes.c_long), ("steps", ctypes.c_long),
                ("radix", ctypes.c_long), ("period", ctypes.c_long),
                ("iterations", ctypes.c_long)]


_lib = None


def _find_lib():
    here = os.path.dirname(os.path.abspath(__file__))
    cands = [os.environ.get("METG_CORE_LIB", ""), os.path.join(here, ".libs", "libmetgcore.so")]
    for c in cands:
        if c and os.path.exists(c):
            return c
    # not built: compile the C source (same flags as the build's default)
    src = os.path.join(here, "metg_core.c")
    out = os.path.join(tempfile.mkdtemp(prefix="metgcore."), "libmetgcore.so")
    subprocess.check_call([os.environ.get("CC", "cc"), "-O2", "-g", "-fPIC", "-shared",
                           "-D_GNU_SOURCE", "-o", out, src, "-lm"])
    os.environ["METG_CORE_LIB"] = out  # workers started later find it
    return out


def lib():
    global _lib
    if _lib is None:
        path = _find_lib()
        L = ctypes.CDLL(path)
        L.metg_graph_init.argtypes = [ctypes.POINTER(Graph), ctypes.c_int, ctypes.c_long,
                                      ctypes.c_long, ctypes.c_long]
        L.metg_graph_init.restype = None
        L.metg_deps.argtypes = [ctypes.POINTER(Graph), ctypes.c_long, ctypes.c_long,
                                ctypes.POINTER(ctypes.c_long)]
        L.metg_deps.restype = ctypes.c_int
        L.metg_rdeps.argtypes = L.metg_deps.argtypes
        L.metg_rdeps.restype = ctypes.c_int
        L.metg_total_deps.argtypes = [ctypes.POINTER(Graph)]
        L.metg_total_deps.restype = ctypes.c_longlong
        L.metg_flops_per_task.argtypes = [ctypes.c_long]
        L.metg_flops_per_task.restype = ctypes.c_longlong
        L.metg_execute_point.argtypes = [ctypes.POINTER(Graph), ctypes.c_long, ctypes.c_long,
                                         ctypes.POINTER(ctypes.c_void_p), ctypes.c_int,
                                         ctypes.c_void_p]
        L.metg_execute_point.restype = ctypes.c_int
        L.metg_kernel_init.argtypes = [ctypes.c_void_p]
        L.metg_kernel.argtypes = [ctypes.c_void_p, ctypes.c_long]
        L.metg_kernel_time_ns.restype = ctypes.c_ulonglong
        L.metg_kernel_time_take.restype = ctypes.c_ulonglong
        _lib = L
    return _lib


def make_graph(pattern, width, steps, iterations):
    g = Graph()
    lib().metg_graph_init(ctypes.byref(g), PATTERNS.index(pattern), width, steps, iterations)
    return g


def desc_of(g):
    """The graph as a plain tuple (what travels to the workers)."""
    return (g.type, g.width, g.steps, g.radix, g.period, g.iterations)


def graph_of(desc):
    g = Graph()
    g.type, g.width, g.steps, g.radix, g.period, g.iterations = desc
    return g


def deps(g, t, p):
    buf = (ctypes.c_long * MAX_DEPS)()
    n = lib().metg_deps(ctypes.byref(g), t, p, buf)
    return list(buf[:n])


def has_consumers(g, t, p):
    buf = (ctypes.c_long * MAX_DEPS)()
    return lib().metg_rdeps(ctypes.byref(g), t, p, buf) > 0


# ---- the task (runs on the workers) -------------------------------------------------

def run_point(desc, t, p, *inputs):
    """One task: check the inputs' tags, run the kernel, return the 512-byte buffer."""
    L = lib()
    g = graph_of(desc)
    n = len(inputs)
    ptrs = (ctypes.c_void_p * max(n, 1))()
    keep = []
    for i, b in enumerate(inputs):
        if len(b) != OUTPUT_BYTES:
            raise ValueError("input %d has %d bytes" % (i, len(b)))
        cb = ctypes.create_string_buffer(b, OUTPUT_BYTES)
        keep.append(cb)
        ptrs[i] = ctypes.cast(cb, ctypes.c_void_p)
    out = ctypes.create_string_buffer(OUTPUT_BYTES)
    rc = L.metg_execute_point(ctypes.byref(g), t, p, ptrs, n, out)
    if rc != 0:
        raise ValueError("timestep %d point %d: wrong input %d" % (t, p, -1 - rc))
    return out.raw


def run_point_timed(desc, t, p, *inputs):
    """run_point, returning (buffer, kernel nanoseconds of this task)."""
    k0 = lib().metg_kernel_time_ns()
    b = run_point(desc, t, p, *inputs)
    return b, lib().metg_kernel_time_ns() - k0


def take_kernel_time():
    """This process's kernel time since the last call, in seconds (and reset)."""
    return lib().metg_kernel_time_take() * 1e-9


def empty():
    return None


def check_result(b, t, p):
    if not isinstance(b, (bytes, bytearray)) or len(b) != OUTPUT_BYTES:
        raise RuntimeError("timestep %d point %d returned %r" % (t, p, type(b)))
    tag = struct.unpack_from("dd", b, 0)
    if tag != (float(t), float(p)):
        raise RuntimeError("timestep %d point %d returned the tag %r" % (t, p, tag))


# ---- the log ----------------------------------------------------------------------

def print_config(g, out=sys.stdout):
    w = out.write
    w("Running Task Benchmark\n")
    w("  Configuration:\n")
    w("    Task Graph 1:\n")
    w("      Time Steps: %d\n" % g.steps)
    w("      Max Width: %d\n" % g.width)
    w("      Dependence Type: %s\n" % PATTERNS[g.type])
    w("      Radix: %d\n" % g.radix)
    w("      Period: %d\n" % g.period)
    w("      Fraction Connected: %f\n" % 0.25)
    w("      Kernel:\n")
    w("        Type: compute_bound\n")
    w("        Iterations: %d\n" % g.iterations)
    w("        Samples: 16\n")
    w("        Imbalance: %f\n" % 0.0)
    w("      Output Bytes: %d\n" % OUTPUT_BYTES)
    w("      Scratch Bytes: 0\n")


def print_kernel_time(kernel_s, out=sys.stdout):
    if kernel_s is not None and kernel_s >= 0:
        out.write("Kernel Time %e seconds\n" % kernel_s)
        out.flush()


def print_timing(g, elapsed, out=sys.stdout):
    tasks = g.width * g.steps
    flops = tasks * lib().metg_flops_per_task(g.iterations)
    w = out.write
    w("Total Tasks %d\n" % tasks)
    w("Total Dependencies %d\n" % lib().metg_total_deps(ctypes.byref(g)))
    w("  Unable to estimate local/nonlocal dependencies\n")
    w("Total FLOPs %d\n" % flops)
    w("Total Bytes 0\n")
    w("Elapsed Time %e seconds\n" % elapsed)
    w("FLOP/s %e\n" % (flops / elapsed if elapsed > 0 else 0.0))
    w("B/s %e\n" % 0.0)
    w("Transfer (estimated):\n")
    w("  Unable to estimate local/nonlocal transfer\n")
    out.flush()


# ---- options and the sweep ----------------------------------------------------------

def parser(prog):
    ap = argparse.ArgumentParser(prog=prog)
    ap.add_argument("--type", default="stencil_1d",
                    help="patterns, comma separated, or all (stencil_1d)")
    ap.add_argument("--width", type=int, default=0, help="points per timestep (the workers)")
    ap.add_argument("--steps", type=int, default=1000)
    ap.add_argument("--sweep", default="0:21", help="S0:S1, iterations 2^(26-s)")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--peak-flops", type=float, default=0.0)
    ap.add_argument("--stop-below", type=float, default=0.0)
    ap.add_argument("--max-time", type=float, default=0.0)
    ap.add_argument("--warmup-steps", type=int, default=10)
    ap.add_argument("--cores", type=int, default=0)
    ap.add_argument("--smoke", action="store_true",
                    help="--steps 20 --sweep 14:18 --reps 1 --warmup-steps 2")
    ap.add_argument("--latency", action="store_true",
                    help="round trip and burst of empty tasks instead")
    ap.add_argument("--count", type=int, default=2000, help="round trips of --latency")
    return ap


def finish_args(a):
    if a.smoke:
        a.steps, a.sweep, a.reps, a.warmup_steps = 20, "14:18", 1, 2
    s0, s1 = a.sweep.split(":")
    a.smin, a.smax = int(s0), int(s1)
    a.types = PATTERNS if a.type == "all" else a.type.split(",")
    for t in a.types:
        if t not in PATTERNS:
            raise SystemExit("unknown pattern %s" % t)
    return a


def sweep_iterations(s):
    return 1 if s >= SWEEP_TOP else 1 << (SWEEP_TOP - s)


def sweep(a, label, cores, run):
    """run(graph) -> (elapsed seconds, kernel seconds or None); raises on failure."""
    width = a.width or cores
    for pattern in a.types:
        if a.warmup_steps > 0:
            run(make_graph(pattern, width, a.warmup_steps, sweep_iterations(a.smax)))
        spent = 0.0
        results = []
        for s in range(a.smin, a.smax + 1):
            g = make_graph(pattern, width, a.steps, sweep_iterations(s))
            total = 0.0
            ktotal = 0.0
            for _ in range(a.reps):
                e, k = run(g)
                print_config(g)
                print_timing(g, e)
                print_kernel_time(k)
                total += e
                spent += e
                ktotal = ktotal + k if (k is not None and ktotal is not None) else None
            mean = total / a.reps
            flops = g.width * g.steps * lib().metg_flops_per_task(g.iterations)
            eff = flops / mean / a.peak_flops if a.peak_flops > 0 else 0.0
            keff = ktotal / (total * (a.cores or cores)) if ktotal is not None else None
            gran = mean * (a.cores or cores) / (g.width * g.steps)
            results.append((g.iterations, mean, gran, eff))
            print("METG   %s %s iterations %d mean %.6e s granularity %.3f us efficiency %.4f"
                  " kernel-time efficiency %s" % (label, pattern, g.iterations, mean, gran * 1e6,
                                                  eff, "-" if keff is None else "%.4f" % keff),
                  flush=True)
            # as metg_sweep: the kernel-time efficiency decides where there is one
            stop_eff = keff if keff is not None else (eff if a.peak_flops > 0 else None)
            if stop_eff is not None and a.stop_below > 0 and stop_eff < a.stop_below:
                break
            if a.max_time > 0 and spent >= a.max_time:
                break


def now():
    return time.perf_counter()
