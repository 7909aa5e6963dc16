#!/usr/bin/python3
"""metg_dask - Dask distributed in the Task Bench comparison.

A LocalCluster of worker processes with one thread each (2 by default: the
cores); the client submits every task with client.submit, passing the futures of
its dependencies from the previous timestep as arguments (Dask resolves them),
and drops its references to a timestep once the next one is submitted (futures
nothing consumes are kept until the end).  Same kernel, patterns and log lines as
the C implementations (metg_common.py).

    /usr/bin/python3 bench/metg_dask.py [--workers 2] [options]
"""

import logging
import os
import sys
import warnings

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, here)
os.environ["PYTHONPATH"] = here + (":" + os.environ["PYTHONPATH"]
                                   if os.environ.get("PYTHONPATH") else "")

import metg_common as mc  # noqa: E402


def run_graph(client, g):
    desc = mc.desc_of(g)
    w = g.width
    prev = None
    pending = []
    client.run(mc.take_kernel_time)  # reset the workers' kernel time
    t0 = mc.now()
    for t in range(g.steps):
        cur = []
        for p in range(w):
            ins = [prev[d] for d in mc.deps(g, t, p)]
            cur.append(client.submit(mc.run_point, desc, t, p, *ins, pure=False))
        if prev is not None:
            for q in range(w):
                if not mc.has_consumers(g, t - 1, q):
                    pending.append((prev[q], t - 1, q))
        prev = cur  # the last references to timestep t - 1 go here
    last = client.gather(prev)
    for p in range(w):
        mc.check_result(last[p], g.steps - 1, p)
    if pending:
        vals = client.gather([f for f, _, _ in pending])
        for v, (_, t, p) in zip(vals, pending):
            mc.check_result(v, t, p)
    e = mc.now() - t0
    del prev, pending
    k = sum(client.run(mc.take_kernel_time).values())
    return e, k


def latency(client, count):
    for phase in (0, 1):
        n = count if phase else count // 10 + 1
        t0 = mc.now()
        for _ in range(n):
            client.submit(mc.empty, pure=False).result()
        e = mc.now() - t0
        if phase:
            print("latency dask_task_roundtrip_us %.3f" % (e / n * 1e6))
    for phase in (0, 1):
        n = count if phase else count // 10 + 1
        t0 = mc.now()
        fs = [client.submit(mc.empty, pure=False) for _ in range(n)]
        client.gather(fs)
        e = mc.now() - t0
        del fs
        if phase:
            print("latency dask_task_burst_per_s %.1f (%d calls)" % (n / e, n))
    sys.stdout.flush()


def main():
    ap = mc.parser("metg_dask.py")
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 2,
                    help="worker processes, one thread each (the cores)")
    a = mc.finish_args(ap.parse_args())
    mc.lib()
    warnings.filterwarnings("ignore")
    from dask.distributed import Client, LocalCluster
    cluster = LocalCluster(n_workers=a.workers, threads_per_worker=1, processes=True,
                           dashboard_address=None, silence_logs=logging.ERROR)
    client = Client(cluster)
    try:
        client.wait_for_workers(a.workers)
        if a.latency:
            latency(client, a.count)
            return 0
        print("metg_dask: Dask distributed %s, LocalCluster of %d worker processes x 1 "
              "thread, client.submit with futures as dependencies"
              % (__import__("distributed").__version__, a.workers), flush=True)
        mc.sweep(a, "dask", a.workers, lambda g: run_graph(client, g))
    finally:
        client.close()
        cluster.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
