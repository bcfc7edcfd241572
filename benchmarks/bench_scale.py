"""How fitting scales: many cores and a loaded machine (and, later, data past memory).

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

Run from the repository root::

    .venv/bin/python benchmarks/bench_scale.py --section threads            # ~15 min
    .venv/bin/python benchmarks/bench_scale.py --section threads --quick    # ~2 min
    .venv/bin/python benchmarks/bench_scale.py --section threads --old-threads
"""

import multiprocessing
import os
import time
import warnings

from _common import emit, environment_lines, md_table, parser, progress, set_threads

NAME = "bench_scale"
SECTIONS = ("threads",)


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
    args = p.parse_args()
    threads = set_threads(args.threads, args.omp_passive)
    parts = [f"# {NAME}", ""] + environment_lines(threads) + [""]
    for section in args.section or SECTIONS:
        parts.append({"threads": section_threads}[section](args))
    emit("\n".join(parts), args, NAME + ("_old" if args.old_threads else ""))


if __name__ == "__main__":
    main()
