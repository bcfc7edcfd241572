"""How fitting scales: many cores, a loaded machine, and data held in Dask.

Sections (``--section``; each adds its own table to the report):

``threads``
    A ``DoublyRobustUtility`` with the default XGBoost propensities (the logs
    record none, so they are cross-fitted) and a ``RegretRouter`` (defaults,
    fallback check on) on a simulated world of n=36,000 logged queries x 11
    models x 384-d features (``--quick``: n=6,000), fitted (a) on an idle
    machine and (b) while busy processes (``--busy``, default: one per core)
    keep every core busy. Per stage it prints the idle and loaded seconds and
    their ratio, measured in the same run. The issue's target: loaded <= 2.5x
    idle. ``--old-threads`` approximates the library before its thread limits
    and its OpenMP spin count
    (XGBoost and BLAS at their own default thread counts, no per-task limit);
    to time the old code itself, run this script with ``PYTHONPATH`` pointing
    at a ``git worktree`` of an older commit (it passes ``n_jobs`` only where
    the estimators take it).

``dask``
    Fit time and peak memory of the utility stage (recorded propensities,
    default ``RidgeCV`` outcome models) and of ``RegretRouter``'s policy
    (``--epochs`` epochs, no fallback check, time per epoch) on simulated logs
    of ``--sizes`` queries x ``--models`` models x 384-d float32 features,
    held in memory (numpy) and in Dask (generated partition by partition,
    ``--partition`` rows each, threaded scheduler on the cores given, or a
    two-worker ``LocalCluster`` with ``--cluster``); then the utility stage at
    n=``--k-rows`` for every pool size in ``--k-grid``. Each fit runs in a
    fresh process, so its peak resident memory is its own (on the cluster,
    each worker's too). Prints the log-log slope of fit time in n and in K.
    ``--full-epochs E`` adds a whole default ``RegretRouter`` fit on Dask
    (fallback check on, ``max_epochs=E``) at the largest size, timed, with
    the true value of its decisions against the best single model;
    ``--full-estimated`` makes that fit estimate the propensities
    (cross-fitted ``xgboost.dask`` on a two-worker cluster, none recorded);
    ``--xgboost-rows N`` times the utility stage with propensities estimated
    by cross-fitted ``xgboost.dask`` (none recorded) on a two-worker cluster.

``throughput``
    Routing rows held in Dask: a ``RegretRouter`` (``--hidden``, default
    200-200; two epochs, no fallback check) fitted in memory on ``--fit-rows``
    simulated logs routes ``--route-rows`` rows (default 1,000,000) of 384-d
    float32 features generated with ``dask.array.random`` in ``--partition``-row
    partitions, three ways: numpy ``predict`` on the computed array (the predict
    alone), the lazy ``predict`` computed by the threaded scheduler and by a
    two-worker ``LocalCluster`` (generation included; generation alone is timed
    on the same scheduler). Rows per second and the ratio to numpy, in a fresh
    process.

``outofcore``
    Features of ``--outofcore-factor`` (2.5) times the memory limit of a
    two-worker ``LocalCluster`` (``--worker-memory`` MiB each, default 256)
    persisted on it, spilling to disk; then ``DoublyRobustUtility`` and a
    one-epoch ``RegretRouter`` (no fallback check) fitted on them. Seconds per
    stage, bytes spilled (the workers' ``SpillBuffer`` and disk counters), peak
    RSS of each worker and of the driver, and the stage's mean utility per model
    against the simulation's truth.

``real``
    The real tables in ``--data-dir`` (``--tables``: MMLU-Pro and the
    RouterBench subset; skipped with a message when absent): per seed
    (``--seeds``) and cost weight (the benchmark runner's grid,
    ``--n-cost-weights``), task-confounded logs of the training part and a
    ``RegretRouter`` with defaults fitted in memory and on Dask (four row
    partitions, threaded scheduler); the true test utility of each, of the best
    single model, the paired difference Dask - memory with its standard error,
    each fit's fallback decision, and the same figures for the trained policies'
    own decisions. ``--quick``: the first seed and the middle of the 3-weight
    grid.

Run from the repository root::

    .venv/bin/python benchmarks/bench_scale.py --section threads            # ~15 min
    .venv/bin/python benchmarks/bench_scale.py --section threads --quick    # ~2 min
    .venv/bin/python benchmarks/bench_scale.py --section threads --old-threads
    .venv/bin/python benchmarks/bench_scale.py --section dask --threads 2    # ~20 min
    .venv/bin/python benchmarks/bench_scale.py --section throughput          # ~2 min
    .venv/bin/python benchmarks/bench_scale.py --section outofcore           # ~6 min
    .venv/bin/python benchmarks/bench_scale.py --section real                # ~25 min
    .venv/bin/python benchmarks/bench_scale.py --section real --quick        # ~2 min
"""

import multiprocessing
import os
import time
import warnings
from pathlib import Path

from _common import (REPO_ROOT, emit, environment_lines, md_table, parser, progress,
                     set_threads)

NAME = "bench_scale"
SECTIONS = ("threads", "dask", "throughput", "outofcore", "real")


def _busy_loop():  # pragma: no cover - runs in a child process
    x = 0
    while True:
        x = (x * 1103515245 + 12345) % 2147483648


class Busy:
    """``n`` processes that keep ``n`` cores busy while the block runs."""

    def __init__(self, n):
        self.n = n

    def __enter__(self):
        ctx = multiprocessing.get_context("spawn")
        self.procs = [ctx.Process(target=_busy_loop, daemon=True) for _ in range(self.n)]
        for p in self.procs:
            p.start()
        time.sleep(1.0)  # let them reach the loop
        return self

    def __exit__(self, *exc):
        for p in self.procs:
            p.terminate()
        for p in self.procs:
            p.join()


def _old_threads():
    """Approximate the library before its thread limits: no per-task limit, and the
    default XGBoost estimator at XGBoost's own default (every core)."""
    import contextlib

    from sklearn_causal_routing import _propensity
    from sklearn_causal_routing.utils import _parallel

    @contextlib.contextmanager
    def no_limit(threads, *, blas=1):
        yield threads

    _parallel.limit_threads = no_limit
    _propensity.xgboost_threads = lambda n_jobs=None: None


def _takes(cls, name):
    import inspect

    return name in inspect.signature(cls).parameters


def _fit_stages(X, fb, n_jobs, seed):
    """Seconds of the utility stage and of the router given that stage (cached)."""
    from sklearn_causal_routing import DoublyRobustUtility, RegretRouter, clear_utility_cache

    extra = {} if n_jobs is None or not _takes(RegretRouter, "n_jobs") else {"n_jobs": n_jobs}
    clear_utility_cache()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        router = RegretRouter(random_state=seed, **extra)
        t0 = time.perf_counter()
        router._fit_utility(X, fb, router.cost_weight)  # fills the cache, as fit would
        t_utility = time.perf_counter() - t0
        t0 = time.perf_counter()
        router.fit(X, fb)  # the utility stage from the cache: policy and fallback check
        t_router = time.perf_counter() - t0
    assert isinstance(router.utility_, DoublyRobustUtility)
    return {"utility stage (XGBoost propensities)": t_utility,
            "policy + fallback check": t_router,
            "total": t_utility + t_router}


def section_threads(args):
    import numpy as np

    from sklearn_causal_routing.datasets import RoutingWorld

    if args.old_threads:
        _old_threads()
    n = 6_000 if args.quick else args.n
    progress(f"threads: world n={n} x {args.models} models x d={args.dim}")
    world = RoutingWorld(n_models=args.models, n_features=args.dim, random_state=0)
    logs = world.sample(n, random_state=1).log(record_propensity=False, random_state=2)
    X, fb = np.ascontiguousarray(logs.X), logs.feedback
    busy = args.busy or os.cpu_count() or 1
    rows, ratios = [], {}
    idle = _fit_stages(X, fb, args.n_jobs, 0)
    progress(f"idle: {idle}")
    with Busy(busy):
        loaded = _fit_stages(X, fb, args.n_jobs, 0)
    progress(f"loaded ({busy} busy processes): {loaded}")
    for stage in idle:
        ratios[stage] = loaded[stage] / idle[stage]
        rows.append([stage, f"{idle[stage]:.1f}", f"{loaded[stage]:.1f}", f"{ratios[stage]:.2f}"])
    mode = "old-like threads (library defaults)" if args.old_threads else "thread limits"
    lines = [
        f"## Threads: idle vs loaded ({mode}, n_jobs={args.n_jobs})",
        "",
        f"n={n} logged queries x {args.models} models x d={args.dim}; no logged "
        f"propensities; loaded = {busy} busy-loop processes on {os.cpu_count()} cores.",
        "",
        md_table(["stage", "idle s", "loaded s", "loaded / idle"],
                 rows, align="lrrr"),
    ]
    return "\n".join(lines)


def _signal_weights(d):
    """The directions of the features that the simulated quality depends on."""
    import numpy as np

    return np.random.default_rng(1).normal(size=(d, 3)).astype(np.float32) / np.sqrt(d)


def _quality(z0, z1, model):
    """Expected quality of ``model`` given the two signal projections (cost weight 0)."""
    return 0.5 + 0.2 * z0 * (model % 3 == 0) + 0.2 * z1 * (model % 3 == 1) + 0.1 * (model % 2)


def _simulated(n, k, d, partition, lazy, recorded=True):
    """Logs with recorded uniform propensities (``recorded=False``: none recorded);
    features float32, one partition at a time."""
    import dask.array as da
    import numpy as np

    from sklearn_causal_routing import make_feedback

    rng = da.random.default_rng(0)
    X = rng.standard_normal((n, d), chunks=(partition, d), dtype=np.float32)
    t = rng.integers(0, k, size=n, chunks=partition)
    z = X @ da.from_array(_signal_weights(d))
    quality = _quality(z[:, 0], z[:, 1], t)
    propensity = da.full(n, 1.0 / k, chunks=partition) if recorded else None
    fb = make_feedback(t, quality, cost=0.01 * (t + 1), propensity=propensity)
    if lazy:
        return X, fb
    import dask

    return dask.compute(X, fb)


def _dask_fit(n, k, d, partition, mode, epochs, queue, recorded=True):  # pragma: no cover
    import resource

    from sklearn_causal_routing import DoublyRobustUtility, RegretRouter

    warnings.simplefilter("ignore")
    out = {}
    client = None
    if mode == "cluster":
        from distributed import Client, LocalCluster

        cluster = LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None)
        client = Client(cluster)
    X, fb = _simulated(n, k, d, partition, lazy=mode != "memory", recorded=recorded)
    t0 = time.perf_counter()
    DoublyRobustUtility(random_state=0).fit(X, fb)
    out["stage"] = time.perf_counter() - t0
    if epochs:
        t0 = time.perf_counter()
        router = RegretRouter(random_state=0, fallback=None, max_epochs=epochs,
                              n_iter_no_change=epochs + 1).fit(X, fb)
        out["epoch"] = (time.perf_counter() - t0 - out["stage"]) / len(router.policy_.history)
    out["peak_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    if client is not None:
        out["worker_mib"] = max(client.run(_own_peak_mib).values())
        client.close()
        cluster.close()  # before the process ends: no worker restarts while it exits
    queue.put(out)


def _dask_fit_estimated(n, k, d, partition, mode, epochs, queue):  # pragma: no cover
    """:func:`_dask_fit` on logs without recorded propensities."""
    _dask_fit(n, k, d, partition, mode, epochs, queue, recorded=False)


def _own_peak_mib():
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _true_utilities(X, k):
    """The simulated logs' expected quality of every model (cost weight 0), from X."""
    import numpy as np

    z = X @ _signal_weights(X.shape[1])
    return _quality(z[:, [0]], z[:, [1]], np.arange(k))


def _full_fit(n, k, d, partition, epochs, queue, recorded=True):  # pragma: no cover
    """The default RegretRouter (fallback check on) on Dask, timed, and its true value;
    without recorded propensities (XGBoost's, through xgboost.dask) on a two-worker
    LocalCluster."""
    import numpy as np

    from sklearn_causal_routing import RegretRouter

    warnings.simplefilter("ignore")
    client = cluster = None
    if not recorded:
        from distributed import Client, LocalCluster

        cluster = LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None)
        client = Client(cluster)
    X, fb = _simulated(n, k, d, partition, lazy=True, recorded=recorded)
    t0 = time.perf_counter()
    router = RegretRouter(random_state=0, max_epochs=epochs).fit(X, fb)
    seconds = time.perf_counter() - t0
    X_test = np.random.default_rng(7).standard_normal((20_000, d)).astype(np.float32)
    U = _true_utilities(X_test, k)
    chosen = np.searchsorted(router.classes_, router.predict(X_test))
    out = {"seconds": seconds, "epochs": len(router.policy_.history),
           "fell_back": router.fallback_ is not None,
           "value": float(U[np.arange(len(U)), chosen].mean()),
           "best_single": float(U.mean(axis=0).max()), "oracle": float(U.max(axis=1).mean()),
           "peak_mib": _own_peak_mib(), "propensities": "recorded" if recorded else "xgboost.dask"}
    if client is not None:
        client.close()
        cluster.close()
    queue.put(out)


def _full_fit_estimated(n, k, d, partition, epochs, queue):  # pragma: no cover
    _full_fit(n, k, d, partition, epochs, queue, recorded=False)


def _in_child(target, *args):
    """``target(*args, queue)`` in a fresh spawned process; what it puts on the queue."""
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=target, args=(*args, queue))
    proc.start()
    out = queue.get()
    proc.join()
    return out


def _slope(xs, ys):
    import numpy as np

    return float(np.polyfit(np.log(xs), np.log(ys), 1)[0])


def section_dask(args):
    d = args.dim
    modes = ["memory", "dask"] + (["cluster"] if args.cluster else [])
    rows, times = [], {m: [] for m in modes}
    for n in args.sizes:
        for mode in modes:
            if mode == "memory" and n > args.memory_max:
                continue
            progress(f"dask: n={n} K={args.models} {mode}")
            r = _in_child(_dask_fit, n, args.models, d, args.partition, mode, args.epochs)
            times[mode].append((n, r["stage"]))
            size = n * d * 4 / 2**20
            rows.append([f"{n:,}", mode, f"{r['stage']:.1f}",
                         f"{r['epoch']:.1f}" if "epoch" in r else "-",
                         f"{size:.0f}", f"{r['peak_mib']:.0f}",
                         f"{r['worker_mib']:.0f}" if "worker_mib" in r else "-",
                         f"{r['peak_mib'] / size:.2f}"])
    lines = [
        f"## Dask: fit time and peak memory in n (K={args.models}, d={d}, float32, "
        f"recorded propensities, partitions of {args.partition:,} rows)",
        "",
        md_table(["n", "where", "utility stage s", "policy s / epoch", "features MiB",
                  "peak RSS MiB (driver)", "peak RSS MiB (a worker)", "driver / features"],
                 rows, align="lrrrrrrr"),
        "",
    ]
    for mode in modes:
        pts = times[mode]
        if len(pts) > 1:
            lines.append(f"- log-log slope of the utility stage's time in n ({mode}): "
                         f"{_slope(*zip(*pts)):.2f}")
    rows, pts = [], []
    for k in args.k_grid:
        progress(f"dask: n={args.k_rows} K={k}")
        r = _in_child(_dask_fit, args.k_rows, k, d, args.partition, "dask", 0)
        pts.append((k, r["stage"]))
        rows.append([str(k), f"{r['stage']:.1f}", f"{r['peak_mib']:.0f}"])
    lines += [
        "",
        f"## Dask: the utility stage in K (n={args.k_rows:,}, d={d})",
        "",
        md_table(["K", "utility stage s", "peak RSS MiB"], rows, align="rrr"),
        "",
        f"- log-log slope in K: {_slope(*zip(*pts)):.2f}" if len(pts) > 1 else "",
    ]
    if args.xgboost_rows:
        n = args.xgboost_rows
        progress(f"dask: the utility stage with xgboost.dask propensities, n={n}, cluster")
        r = _in_child(_dask_fit_estimated, n, args.models, d, args.partition, "cluster", 0)
        lines += [
            "",
            f"## Dask: the utility stage with estimated propensities (cross-fitted "
            f"xgboost.dask on a two-worker LocalCluster), n={n:,}, K={args.models}",
            "",
            md_table(["utility stage s", "min", "peak RSS MiB (driver)",
                      "peak RSS MiB (a worker)"],
                     [[f"{r['stage']:.0f}", f"{r['stage'] / 60:.1f}", f"{r['peak_mib']:.0f}",
                       f"{r['worker_mib']:.0f}"]], align="rrrr"),
        ]
    if args.full_epochs:
        n = args.full_rows or max(args.sizes)
        progress(f"dask: the whole default fit, n={n}, max_epochs={args.full_epochs}")
        target = _full_fit_estimated if args.full_estimated else _full_fit
        r = _in_child(target, n, args.models, d, args.partition, args.full_epochs)
        lines += [
            "",
            f"## Dask: a whole RegretRouter fit (defaults, fallback check on, "
            f"max_epochs={args.full_epochs}), n={n:,}, K={args.models}",
            "",
            md_table(["propensities", "fit s", "fit min", "policy epochs", "fell back",
                      "true value", "best single", "oracle", "peak RSS MiB"],
                     [[r["propensities"], f"{r['seconds']:.0f}", f"{r['seconds'] / 60:.1f}",
                       str(r["epochs"]), str(r["fell_back"]), f"{r['value']:.4f}",
                       f"{r['best_single']:.4f}", f"{r['oracle']:.4f}",
                       f"{r['peak_mib']:.0f}"]], align="lrrrlrrrr"),
        ]
    return "\n".join(lines)


def _peak_rss_mib():
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _throughput(fit_rows, rows, k, d, partition, hidden, threads, queue):  # pragma: no cover
    """Route ``rows`` lazily generated rows with numpy, the threaded scheduler and a
    two-worker LocalCluster (child process)."""
    import dask
    import dask.array as da
    import distributed
    import numpy as np

    from sklearn_causal_routing import RegretRouter

    warnings.simplefilter("ignore")
    if threads:
        set_threads(threads)
    out = {}
    Xt, fb = _simulated(fit_rows, k, d, partition, lazy=False)
    t0 = time.perf_counter()
    router = RegretRouter(hidden_layer_sizes=tuple(hidden), max_epochs=2, fallback=None,
                          random_state=0).fit(Xt, fb)
    out["fit"] = time.perf_counter() - t0
    del Xt, fb
    # other rows than the training ones (seed 1), generated partition by partition
    X = da.random.default_rng(1).standard_normal((rows, d), chunks=(partition, d),
                                                 dtype=np.float32)

    def timed(f, *a):
        t0 = time.perf_counter()
        value = f(*a)
        return value, time.perf_counter() - t0

    def lazy_ways(where):
        router.predict(X[:partition]).compute()  # warm-up: imports, the router's first trip
        out["gen_" + where] = timed(X.sum().compute)[1]
        labels, out[where] = timed(router.predict(X).compute)
        return labels

    with dask.config.set(scheduler="threads"):
        by_threads = lazy_ways("threads")
        Xn, out["gen_memory"] = timed(X.compute)
    by_numpy, out["numpy"] = timed(router.predict, Xn)
    del Xn
    out["agree_threads"] = float(np.mean(by_threads == by_numpy))
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster):
        by_cluster = lazy_ways("cluster")
    out["agree_cluster"] = float(np.mean(by_cluster == by_numpy))
    out["peak_mib"] = _peak_rss_mib()
    queue.put(out)


def section_throughput(args):
    d, rows = args.dim, args.route_rows
    if args.quick:
        rows = min(rows, 100_000)
    progress(f"throughput: fit on n={args.fit_rows} x K={args.models}, route {rows:,} rows")
    r = _in_child(_throughput, args.fit_rows, rows, args.models, d, args.partition,
                  args.hidden, args.threads)
    base = rows / r["numpy"]
    table = [["numpy `predict` in the driver (features in memory)", f"{r['numpy']:.2f}",
              f"{base:,.0f}", "1.00", "-", "-"]]
    for key, label in (("threads", "Dask, threaded scheduler"),
                       ("cluster", "Dask, LocalCluster (2 workers x 1 thread)")):
        gen, total = r["gen_" + key], r[key]
        net = f"{rows / (total - gen):,.0f}" if total > gen else "-"
        table.append([label, f"{total:.2f}", f"{rows / total:,.0f}",
                      f"{rows / total / base:.2f}", f"{gen:.2f}", net])
    lines = [
        f"## Throughput: routing {rows:,} rows ({rows * d * 4 / 2**20:,.0f} MiB of "
        f"{d}-d float32 features, partitions of {args.partition:,} rows)",
        "",
        f"`RegretRouter(hidden_layer_sizes={tuple(args.hidden)}, max_epochs=2, "
        f"fallback=None)` fitted in memory on n={args.fit_rows:,} simulated logs x "
        f"{args.models} models ({r['fit']:.1f} s). The features are generated with "
        "`dask.array.random`; the Dask timings are `router.predict(X).compute()`, "
        "generation included (after a warm-up on one partition); \"generation alone\" is "
        "`X.sum().compute()` on the same scheduler, and the last column is rows / (total "
        "- generation alone), a rough figure: generation and routing overlap across "
        "partitions. The numpy timing is `router.predict` alone, on the computed array "
        f"(computing it took {r['gen_memory']:.1f} s).",
        "",
        md_table(["where", "seconds", "rows/s", "/ numpy", "generation alone s",
                  "rows/s net of generation"], table, align="lrrrrr"),
        "",
        f"- decisions equal to numpy's: threaded {r['agree_threads']:.4f}, cluster "
        f"{r['agree_cluster']:.4f} (fraction of rows)",
        f"- peak RSS of the driver process: {r['peak_mib']:,.0f} MiB (it holds the "
        "computed features for the numpy timing)",
    ]
    return "\n".join(lines)


def _spill_stats(dask_worker):  # pragma: no cover - runs on a worker
    """Bytes on disk now (pickled), keys on disk, and bytes written / read in all."""
    data = dask_worker.data
    now = getattr(data, "spilled_total", None)
    moved = {"disk-write": 0, "disk-read": 0}
    for key, value in getattr(dask_worker, "digests_total", {}).items():
        if isinstance(key, tuple) and key[-1] == "bytes":
            for name in moved:
                if name in key:
                    moved[name] += value
    return {"disk": None if now is None else int(now.disk),
            "keys": len(getattr(data, "slow", ())),
            "written": int(moved["disk-write"]), "read": int(moved["disk-read"])}


def _dir_bytes(path):
    return sum(os.path.getsize(os.path.join(root, f))
               for root, _, files in os.walk(path) for f in files
               if os.path.exists(os.path.join(root, f)))


def _outofcore(n, k, d, partition, limit_mib, threads, queue):  # pragma: no cover
    """Persist logs bigger than two workers' memory limit, then fit (child process)."""
    import tempfile

    import dask
    import distributed
    import numpy as np

    from sklearn_causal_routing import DoublyRobustUtility, RegretRouter

    warnings.simplefilter("ignore")
    if threads:
        set_threads(threads)
    out = {}
    # spill by the managed-memory target only: no pause, no restart of a worker whose
    # process (Python, numpy, torch) alone may be near a small limit
    settings = {"distributed.worker.memory.pause": False,
                "distributed.worker.memory.terminate": False}
    with tempfile.TemporaryDirectory(prefix="bench_scale_") as tmp, dask.config.set(settings):
        cluster = distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, memory_limit=limit_mib * 2**20,
            dashboard_address=None, local_directory=tmp)
        try:
            with distributed.Client(cluster) as client:
                X, fb = _simulated(n, k, d, partition, lazy=True)
                out["x_bytes"], out["fb_bytes"] = X.nbytes, fb.nbytes
                t0 = time.perf_counter()
                X, fb = client.persist([X, fb])
                distributed.wait([X, fb])
                out["persist"] = time.perf_counter() - t0
                out["spill_persist"] = client.run(_spill_stats)
                out["dir_persist"] = _dir_bytes(tmp)
                t0 = time.perf_counter()
                stage = DoublyRobustUtility(random_state=0).fit(X, fb)
                out["stage"] = time.perf_counter() - t0
                t0 = time.perf_counter()
                out["mean"] = np.asarray(stage.utilities(0.0).mean(axis=0).compute())
                out["mean_s"] = time.perf_counter() - t0
                out["classes"] = np.asarray(stage.classes_)
                t0 = time.perf_counter()
                router = RegretRouter(random_state=0, fallback=None, max_epochs=1,
                                      n_iter_no_change=2).fit(X, fb)
                out["router"] = time.perf_counter() - t0
                out["epochs"] = len(router.policy_.history)
                out["spill_end"] = client.run(_spill_stats)
                out["worker_peak"] = client.run(_peak_rss_mib)
        finally:
            cluster.close()
    out["driver_peak"] = _peak_rss_mib()
    queue.put(out)


def section_outofcore(args):
    import numpy as np

    d = args.dim
    limit_mib = 64 if args.quick else args.worker_memory
    total = 2 * limit_mib * 2**20
    n = int(args.outofcore_factor * total / (d * 4))
    progress(f"outofcore: n={n:,} x d={d} on 2 workers x {limit_mib} MiB")
    r = _in_child(_outofcore, n, args.models, d, args.partition, limit_mib, args.threads)
    mib = 2**20

    def per_worker(values, fmt):
        return ", ".join(fmt(v) for _, v in sorted(values.items()))

    def spilled(stats):
        return per_worker(stats, lambda s: "n/a" if s["disk"] is None else
                          f"{s['disk'] / mib:,.0f} MiB ({s['keys']} keys)")

    def moved(stats, key):
        return per_worker(stats, lambda s: f"{s[key] / mib:,.0f}")

    truth = 0.5 + 0.1 * (r["classes"] % 2)  # _simulated: mean quality per model, cost weight 0
    finite = bool(np.isfinite(r["mean"]).all())
    policy = r["router"] - r["stage"]
    rows = [
        ["features (n x d float32)", f"{r['x_bytes'] / mib:,.0f} MiB (n={n:,}, d={d})"],
        ["feedback (structured)", f"{r['fb_bytes'] / mib:,.0f} MiB"],
        ["workers' total memory limit", f"2 x {limit_mib} MiB = {2 * limit_mib} MiB"],
        ["features / limit; (features + feedback) / limit",
         f"{r['x_bytes'] / total:.2f}; {(r['x_bytes'] + r['fb_bytes']) / total:.2f}"],
        ["persist s (generate and hold on the workers)", f"{r['persist']:.1f}"],
        ["on disk after persist, per worker", spilled(r["spill_persist"])],
        ["local_directory after persist", f"{r['dir_persist'] / mib:,.0f} MiB"],
        ["utility stage s (`DoublyRobustUtility`)", f"{r['stage']:.1f}"],
        ["mean utilities pass s", f"{r['mean_s']:.1f}"],
        ["router fit s (stage again + policy)", f"{r['router']:.1f}"],
        [f"policy s (router - stage; {r['epochs']} epoch(s))", f"{policy:.1f}"],
        ["on disk at the end, per worker", spilled(r["spill_end"])],
        ["written to disk in all, per worker (MiB)", moved(r["spill_end"], "written")],
        ["read back from disk in all, per worker (MiB)", moved(r["spill_end"], "read")],
        ["peak RSS per worker (MiB)", per_worker(r["worker_peak"], lambda v: f"{v:,.0f}")],
        ["peak RSS of the driver (MiB)", f"{r['driver_peak']:,.0f}"],
        ["stage's mean utility per model (cost weight 0)",
         " ".join(f"{v:.3f}" for v in r["mean"])],
        ["max abs error vs the true means (0.5 / 0.6)",
         f"{np.max(np.abs(r['mean'] - truth)):.4f}"],
        ["all finite", "yes" if finite else "NO"],
    ]
    lines = [
        f"## Out of core: a fit on {r['x_bytes'] / total:.1f}x the workers' memory",
        "",
        f"A `LocalCluster` of 2 workers x 1 thread, `memory_limit={limit_mib} MiB` each, "
        "spilling to a temporary `local_directory` (pause and terminate thresholds off); "
        f"simulated logs of {args.models} models (recorded propensities) persisted on it "
        f"in partitions of {args.partition:,} rows, then "
        "`DoublyRobustUtility(random_state=0)` and `RegretRouter(random_state=0, "
        "fallback=None, max_epochs=1, n_iter_no_change=2)` fitted on the persisted "
        "collections (the router fits its own stage again). Disk figures come from each "
        "worker's `SpillBuffer` (`spilled_total`) and its `disk-write` / `disk-read` "
        "byte counters.",
        "",
        md_table(["quantity", "value"], rows, align="ll"),
    ]
    return "\n".join(lines)


REAL_TABLES = {"mmlu_pro": "MMLU-Pro", "routerbench": "RouterBench subset"}


def _load_real(key, data_dir):
    """The real table ``key``, or None when its files are absent."""
    from sklearn_causal_routing.datasets import load_routerbench_subset, load_routing_table

    if key == "routerbench":
        try:
            return load_routerbench_subset(data_dir)
        except FileNotFoundError:
            return None
    path, emb = data_dir / f"{key}.parquet", data_dir / f"{key}_minilm.npy"
    if not (path.is_file() and emb.is_file()):
        return None
    return load_routing_table(path, embeddings=emb)


def _split(table, seed):
    """As the benchmark runner: the table's own train / test split, else 70/30 by seed."""
    import numpy as np

    split = getattr(table, "split", None)
    if split is not None and {"train", "test"} <= set(np.asarray(split).astype(str).tolist()):
        return table.split_by("train"), table.split_by("test")
    return table.train_test_split(test_size=0.3, random_state=seed)


def _real_fits(table, seeds, grid):
    """Per (seed, cost weight): true test utility of the memory and Dask fits."""
    import dask
    import dask.array as da
    import numpy as np

    from sklearn_causal_routing import RegretRouter, clear_utility_cache

    records = []
    for seed in seeds:
        train, test = _split(table, seed)
        logs = train.log("confounded", random_state=seed)  # the runner's "main" logs
        X, fb = np.ascontiguousarray(logs.X), logs.feedback
        rows = -(-len(X) // 4)  # four partitions
        inputs = {"memory": (X, fb),
                  "dask": (da.from_array(X, chunks=(rows, -1)), da.from_array(fb, chunks=(rows,)))}
        for c in grid:
            rec = {"seed": seed, "c": c, "best": max(test.single_model_values(c).values())}
            for where, (Xf, fbf) in inputs.items():
                clear_utility_cache()  # a whole fit each time, as on Dask (no cache there)
                t0 = time.perf_counter()
                with warnings.catch_warnings(), dask.config.set(scheduler="threads"):
                    warnings.simplefilter("ignore")
                    router = RegretRouter(cost_weight=c, random_state=seed).fit(Xf, fbf)
                rec[where + "_s"] = time.perf_counter() - t0
                rec[where] = test.value(router.predict(test.X), cost_weight=c)
                rec[where + "_policy"] = test.value(router.policy_predict(test.X), cost_weight=c)
                rec[where + "_fb"] = router.fallback_
                rec[where + "_ep"] = len(router.policy_.history)
            progress(f"real: seed {seed} c={c:.4g}: memory {rec['memory']:.4f} "
                     f"({rec['memory_s']:.0f} s), dask {rec['dask']:.4f} ({rec['dask_s']:.0f} s)"
                     f", best single {rec['best']:.4f}")
            records.append(rec)
    return records


def section_real(args):
    import numpy as np

    from sklearn_causal_routing.experiments import cost_weight_grid

    seeds = args.seeds[:1] if args.quick else args.seeds
    summary, details, skipped = [], [], []
    for key in args.tables:
        label = REAL_TABLES[key]
        table = _load_real(key, args.data_dir)
        if table is None:
            msg = (f"{label}: skipped, its files are not under {args.data_dir} (the shared "
                   "data are not shipped with the project)")
            progress(msg)
            skipped.append(msg)
            continue
        train0, _ = _split(table, seeds[0])
        grid = (cost_weight_grid(train0, 3)[1:2] if args.quick
                else cost_weight_grid(train0, args.n_cost_weights))
        progress(f"real: {label}, {table.n_samples:,} queries x {table.n_models} models, "
                 f"seeds {seeds}, cost weights {[round(c, 4) for c in grid]}")
        recs = _real_fits(table, seeds, grid)

        def paired(key):
            """Mean of Dask - memory over the fits, ± its standard error."""
            diff = np.array([r["dask" + key] - r["memory" + key] for r in recs])
            se = f"{diff.std(ddof=1) / np.sqrt(len(diff)):.4f}" if len(diff) > 1 else "n/a"
            return f"{diff.mean():+.4f} ± {se}"

        def mean(key):
            return f"{np.mean([r[key] for r in recs]):.4f}"

        def fell_back(where):
            return f"{sum(r[where + '_fb'] is not None for r in recs)}/{len(recs)}"

        same = sum(r["memory_fb"] == r["dask_fb"] for r in recs)
        summary.append([
            label, f"{table.n_samples:,} x {table.n_models}", str(len(recs)),
            mean("memory"), mean("dask"), mean("best"), paired(""),
            f"{mean('memory_policy')} / {mean('dask_policy')}", paired("_policy"),
            fell_back("memory"), fell_back("dask"), f"{same}/{len(recs)}",
            f"{np.mean([r['memory_s'] for r in recs]):.1f}",
            f"{np.mean([r['dask_s'] for r in recs]):.1f}",
        ])
        details += [[label, str(r["seed"]), f"{r['c']:.4g}", f"{r['memory']:.4f}",
                     f"{r['dask']:.4f}", f"{r['dask'] - r['memory']:+.4f}", f"{r['best']:.4f}",
                     *("-" if r[w] is None else str(r[w]) for w in ("memory_fb", "dask_fb")),
                     f"{r['memory_policy']:.4f} / {r['dask_policy']:.4f}",
                     f"{r['memory_ep']} / {r['dask_ep']}"] for r in recs]
    lines = [
        "## Real tables: true test utility, fitted in memory vs on Dask",
        "",
        "Per seed the table is split as the benchmark runner does (its own train / test "
        "split where it has one, else 70/30 by seed), the training part is logged with "
        "task-confounded propensities (skew 5, recorded: the runner's `main` scenario), "
        "and `RegretRouter(cost_weight=c, random_state=seed)` (defaults, fallback check "
        "on) is fitted on the logs in memory and as Dask arrays of four row partitions "
        "(threaded scheduler); each is scored by its true utility on the test part. "
        "\"Policy alone\" is the true utility of the trained policy's own decisions "
        "(`policy_predict`), whether or not the router fell back. "
        + ("Cost weight: the middle of the runner's 3-weight grid (`--quick`)."
           if args.quick else
           f"Cost weights: the runner's {args.n_cost_weights}-weight grid "
           "(`cost_weight_grid`: 0 to where the cheapest model wins)."),
        "",
    ]
    if summary:
        lines += [
            md_table(["table", "queries x models", "fits", "memory", "dask", "best single",
                      "dask - memory ± s.e.", "policy alone: memory / dask",
                      "policy alone: dask - memory ± s.e.", "fell back (memory)",
                      "fell back (dask)", "same fallback decision", "memory fit s",
                      "dask fit s"],
                     summary, align="lrrrrrrrrrrrrr"),
            "",
            md_table(["table", "seed", "cost weight", "memory", "dask", "dask - memory",
                      "best single", "memory fallback", "dask fallback",
                      "policy alone (memory / dask)", "policy epochs (memory / dask)"],
                     details, align="lrrrrrrllrr"),
        ]
    lines += [f"- {msg}." for msg in skipped]
    return "\n".join(lines)


def main():
    p = parser(__doc__.splitlines()[0], NAME)
    p.add_argument("--section", choices=SECTIONS, action="append",
                   help="section(s) to run (default: all)")
    p.add_argument("--n", type=int, default=36_000, help="logged queries (threads)")
    p.add_argument("--models", type=int, default=11, help="models in the pool")
    p.add_argument("--dim", type=int, default=384, help="feature dimension")
    p.add_argument("--n-jobs", type=int, default=None,
                   help="n_jobs of the estimators (default: theirs, None)")
    p.add_argument("--busy", type=int, default=0,
                   help="busy processes for the loaded runs (0: one per core)")
    p.add_argument("--old-threads", action="store_true",
                   help="approximate the library before its thread limits")
    p.add_argument("--sizes", type=int, nargs="+", default=[36_000, 100_000, 300_000, 1_000_000],
                   help="logged queries (dask)")
    p.add_argument("--memory-max", type=int, default=300_000,
                   help="largest n also fitted in memory (dask)")
    p.add_argument("--partition", type=int, default=20_000,
                   help="rows per partition (dask, throughput, outofcore)")
    p.add_argument("--epochs", type=int, default=2, help="policy epochs timed (dask; 0: none)")
    p.add_argument("--cluster", action="store_true",
                   help="also fit on a two-worker LocalCluster (dask)")
    p.add_argument("--k-grid", type=int, nargs="+", default=[2, 11, 29, 50, 100],
                   help="pool sizes (dask)")
    p.add_argument("--k-rows", type=int, default=100_000, help="logged queries of the K sweep")
    p.add_argument("--full-epochs", type=int, default=0,
                   help="also time a whole default RegretRouter fit on Dask (fallback check "
                   "on) with this max_epochs (dask; 0: skip)")
    p.add_argument("--xgboost-rows", type=int, default=0,
                   help="also time the utility stage with cross-fitted xgboost.dask "
                   "propensities on a two-worker LocalCluster at this many rows (dask; 0: skip)")
    p.add_argument("--full-estimated", action="store_true",
                   help="the whole fit without recorded propensities: cross-fitted "
                   "xgboost.dask ones, on a two-worker LocalCluster (dask)")
    p.add_argument("--full-rows", type=int, default=None,
                   help="logged queries of the whole fit (default: the largest of --sizes)")
    p.add_argument("--fit-rows", type=int, default=20_000,
                   help="logged queries the routed router is fitted on (throughput)")
    p.add_argument("--hidden", type=int, nargs="+", default=[200, 200],
                   help="hidden_layer_sizes of the routed router (throughput)")
    p.add_argument("--route-rows", type=int, default=1_000_000,
                   help="rows routed (throughput; --quick: at most 100,000)")
    p.add_argument("--worker-memory", type=int, default=256,
                   help="memory_limit of each of the two workers, MiB (outofcore; --quick: 64)")
    p.add_argument("--outofcore-factor", type=float, default=2.5,
                   help="features as a multiple of the workers' total memory limit (outofcore)")
    p.add_argument("--data-dir", type=Path, default=REPO_ROOT.parent / "shared" / "data",
                   help="folder with the real tables and their MiniLM embeddings (real)")
    p.add_argument("--tables", nargs="+", choices=list(REAL_TABLES), default=list(REAL_TABLES),
                   help="real tables (real)")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2],
                   help="seeds of the split, the logs and the fits (real; --quick: the first)")
    p.add_argument("--n-cost-weights", type=int, default=5,
                   help="size of the runner's cost-weight grid (real; --quick: one weight, "
                   "the middle of the 3-weight grid)")
    args = p.parse_args()
    if args.old_threads:  # before its import-time setting, libgomp spun 300,000 times
        os.environ.setdefault("GOMP_SPINCOUNT", "300000")
    threads = set_threads(args.threads, args.omp_passive)
    parts = [f"# {NAME}", ""] + environment_lines(threads) + [""]
    for section in args.section or SECTIONS:
        parts.append({"threads": section_threads, "dask": section_dask,
                      "throughput": section_throughput, "outofcore": section_outofcore,
                      "real": section_real}[section](args))
    emit("\n".join(parts), args, NAME + ("_old" if args.old_threads else ""))


if __name__ == "__main__":
    main()
