#!/usr/bin/python3
"""metg_mpi4py - mpi4py.futures in the Task Bench comparison.

One executor.submit per task; the submitter resolves the dependencies: before it
submits timestep t it waits for the results of timestep t - 1 that the task needs
and passes them as arguments (mpi4py.futures cannot take futures as arguments).
Same kernel, patterns and log lines as the C implementations (metg_common.py).

    mpirun -n 3 python3 -m mpi4py.futures bench/metg_mpi4py.py [options]
    (rank 0 runs this script, the other ranks are the pool's workers; width =
    the workers)
"""

import concurrent.futures as cf
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import metg_common as mc  # noqa: E402
from mpi4py.futures import MPIPoolExecutor  # noqa: E402


def run_graph(ex, g):
    desc = mc.desc_of(g)
    w = g.width
    prev = None
    pending = []  # futures nothing consumes: (future, t, p)
    kernel_ns = [0]
    got = {}

    def value(f):
        # a task returns (buffer, its kernel time): count each task's time once
        if f not in got:
            b, ns = f.result()
            kernel_ns[0] += ns
            got[f] = b
        return got[f]

    t0 = mc.now()
    for t in range(g.steps):
        cur = []
        values = {}
        for p in range(w):
            ins = []
            for d in mc.deps(g, t, p):
                if d not in values:
                    values[d] = value(prev[d])
                ins.append(values[d])
            cur.append(ex.submit(mc.run_point_timed, desc, t, p, *ins))
        if prev is not None:
            for q in range(w):
                if not mc.has_consumers(g, t - 1, q):
                    pending.append((prev[q], t - 1, q))
            for f in prev:
                got.pop(f, None)  # the driver's copies of timestep t - 1 go
        prev = cur
    for p in range(w):
        mc.check_result(value(prev[p]), g.steps - 1, p)
    for f, t, p in pending:
        mc.check_result(value(f), t, p)
    return mc.now() - t0, kernel_ns[0] * 1e-9


def latency(ex, count):
    for phase in (0, 1):
        n = count if phase else count // 10 + 1
        t0 = mc.now()
        for _ in range(n):
            ex.submit(mc.empty).result()
        e = mc.now() - t0
        if phase:
            print("latency mpi4py_task_roundtrip_us %.3f" % (e / n * 1e6))
    for phase in (0, 1):
        n = count if phase else count // 10 + 1
        t0 = mc.now()
        fs = [ex.submit(mc.empty) for _ in range(n)]
        for f in fs:
            f.result()
        e = mc.now() - t0
        if phase:
            print("latency mpi4py_task_burst_per_s %.1f (%d calls)" % (n / e, n))
    sys.stdout.flush()


def main():
    a = mc.finish_args(mc.parser("metg_mpi4py.py").parse_args())
    mc.lib()  # load (or build) the kernel before the workers need it
    with MPIPoolExecutor() as ex:
        # the pool's size: ask the workers who they are
        ex.submit(mc.empty).result()
        workers = ex.num_workers if hasattr(ex, "num_workers") else 0
        if not workers:
            from mpi4py import MPI
            workers = MPI.COMM_WORLD.Get_size() - 1
        if a.latency:
            latency(ex, a.count)
            return 0
        print("metg_mpi4py: mpi4py.futures, %d workers, one submit per task, dependencies "
              "resolved by the submitter" % workers, flush=True)
        mc.sweep(a, "mpi4py", workers, lambda g: run_graph(ex, g))
    return 0


if __name__ == "__main__":
    sys.exit(main())
