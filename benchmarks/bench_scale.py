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
    fresh process, so its peak resident memory is its own. Prints the log-log
    slope of fit time in n and in K.

Run from the repository root::

    .venv/bin/python benchmarks/bench_scale.py --section threads            # ~15 min
    .venv/bin/python benchmarks/bench_scale.py --section threads --quick    # ~2 min
    .venv/bin/python benchmarks/bench_scale.py --section threads --old-threads
    .venv/bin/python benchmarks/bench_scale.py --section dask --threads 2    # ~20 min
"""

import multiprocessing
import os
import time
import warnings

from _common import emit, environment_lines, md_table, parser, progress, set_threads

NAME = "bench_scale"
SECTIONS = ("threads", "dask")


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


def _simulated(n, k, d, partition, lazy):
    """Logs with recorded uniform propensities; features float32, one partition at a time."""
    import dask.array as da
    import numpy as np

    from sklearn_causal_routing import make_feedback

    rng = da.random.default_rng(0)
    X = rng.standard_normal((n, d), chunks=(partition, d), dtype=np.float32)
    t = rng.integers(0, k, size=n, chunks=partition)
    w = da.from_array(np.random.default_rng(1).normal(size=(d, 3)).astype(np.float32) / np.sqrt(d))
    z = X @ w
    quality = 0.5 + 0.2 * z[:, 0] * (t % 3 == 0) + 0.2 * z[:, 1] * (t % 3 == 1) + 0.1 * (t % 2)
    fb = make_feedback(t, quality, cost=0.01 * (t + 1), propensity=da.full(n, 1.0 / k, chunks=partition))
    if lazy:
        return X, fb
    import dask

    return dask.compute(X, fb)


def _dask_fit(n, k, d, partition, mode, epochs, queue):  # pragma: no cover - child process
    import resource

    import dask

    from sklearn_causal_routing import DoublyRobustUtility, RegretRouter

    warnings.simplefilter("ignore")
    out = {}
    client = None
    if mode == "cluster":
        from distributed import Client, LocalCluster

        client = Client(LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None))
    X, fb = _simulated(n, k, d, partition, lazy=mode != "memory")
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
        client.close()
    queue.put(out)


def _in_child(*args):
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_dask_fit, args=(*args, queue))
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
            r = _in_child(n, args.models, d, args.partition, mode, args.epochs)
            times[mode].append((n, r["stage"]))
            size = n * d * 4 / 2**20
            rows.append([f"{n:,}", mode, f"{r['stage']:.1f}",
                         f"{r['epoch']:.1f}" if "epoch" in r else "-",
                         f"{size:.0f}", f"{r['peak_mib']:.0f}", f"{r['peak_mib'] / size:.2f}"])
    lines = [
        f"## Dask: fit time and peak memory in n (K={args.models}, d={d}, float32, "
        f"recorded propensities, partitions of {args.partition:,} rows)",
        "",
        md_table(["n", "where", "utility stage s", "policy s / epoch", "features MiB",
                  "peak RSS MiB", "peak / features"], rows, align="lrrrrrr"),
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
        r = _in_child(args.k_rows, k, d, args.partition, "dask", 0)
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
    p.add_argument("--partition", type=int, default=20_000, help="rows per partition (dask)")
    p.add_argument("--epochs", type=int, default=2, help="policy epochs timed (dask; 0: none)")
    p.add_argument("--cluster", action="store_true",
                   help="also fit on a two-worker LocalCluster (dask)")
    p.add_argument("--k-grid", type=int, nargs="+", default=[2, 11, 29, 50, 100],
                   help="pool sizes (dask)")
    p.add_argument("--k-rows", type=int, default=100_000, help="logged queries of the K sweep")
    args = p.parse_args()
    threads = set_threads(args.threads, args.omp_passive)
    parts = [f"# {NAME}", ""] + environment_lines(threads) + [""]
    for section in args.section or SECTIONS:
        parts.append({"threads": section_threads, "dask": section_dask}[section](args))
    emit("\n".join(parts), args, NAME + ("_old" if args.old_threads else ""))


if __name__ == "__main__":
    main()
