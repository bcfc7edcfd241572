"""One IntervalRouter for a range of cost weights vs one RegretRouter per weight.

Real data (the 3-task RouterBench subset): the train split is logged with
``table.log("confounded", random_state=seed)`` (skew = the table default); on
those logs we fit ONE ``IntervalRouter(cost_weight_range=(0, W), n_intervals=4)``
and, at 9 cost weights strictly between its grid points, one
``RegretRouter(cost_weight=c)`` per weight, where W is the weight at which the
cheapest model becomes the best single model on the train split. Reported: TRUE
test utility per weight and on average, the paired difference, the fit times;
routing speed at many cost weights (10,000 queries x 100 weights, per-query
weights, single-query latency); and whether the interval router's spend falls
monotonically as the cost weight rises.

Run from the repository root::

    .venv/bin/python benchmarks/bench_interval.py --threads 1           # ~1-2 min
    .venv/bin/python benchmarks/bench_interval.py --quick --threads 1   # < 1 min

Without the data the quality and monotonicity sections are skipped (a
``skipped: ...`` line on stdout) and the speed section runs on a router trained
on a simulated world of RouterBench size; the script still exits 0.
``--speed-only`` runs the speed section alone; ``--simulated-speed`` times the
simulated-world router even when the data is there.
"""

import inspect
import sys
import time
from collections import defaultdict
from functools import partial
from pathlib import Path

import numpy as np
from _common import (
    REPO_ROOT,
    WarningTally,
    emit,
    environment_lines,
    load_now,
    md_table,
    parser,
    progress,
    set_threads,
)
from bench_routerbench import cheapest_breakpoint, mean_std, scan_check, short_model

NAME = "bench_interval"

# Default evaluation points, as fractions of W: the 1/4 point and the midpoint of
# each of the 4 intervals, plus the 3/4 point of the last one (never a grid point).
DEFAULT_FRACTIONS = [1 / 16, 2 / 16, 5 / 16, 6 / 16, 9 / 16, 10 / 16, 13 / 16, 14 / 16, 15 / 16]


def verdict(ok):
    return "PASS" if ok else "FAIL"


def pm(values, nd=3, sign=False):
    """'mean ± std' over seeds (std omitted with one seed)."""
    mean, std = mean_std(values)
    head = f"{mean:+.{nd}f}" if sign else f"{mean:.{nd}f}"
    return head + (f" ± {std:.{nd}f}" if np.isfinite(std) else "")


def timed_cpu(fn):
    """(result, wall seconds, CPU seconds of this process, all threads)."""
    c0, t0 = time.process_time(), time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0, time.process_time() - c0


# --------------------------------------------------------------------- speed
def speed_section(router, ref, X_pool, c_low, c_high, args, source, pool_desc):
    """Routing at many cost weights; returns markdown lines."""
    rng = np.random.RandomState(args.speed_seed)
    n = args.n_queries
    X = X_pool[rng.randint(0, X_pool.shape[0], size=n)]  # real rows, resampled to n
    weights = np.linspace(c_low, c_high, args.n_weights)
    per_query = rng.uniform(c_low, c_high, size=n)

    router.predict(X[:1000], cost_weight=float(weights[1]))  # warm-up

    def many_weights():
        for c in weights:
            router.predict(X, cost_weight=float(c))

    t_many = []
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        many_weights()
        t_many.append(time.perf_counter() - t0)
    progress(f"speed: {args.n_weights} calls x {n} queries: "
             + ", ".join(f"{t:.3f}s" for t in t_many) + f" (load {load_now()})")

    t_arr = []
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        router.predict(X, cost_weight=per_query)
        t_arr.append(time.perf_counter() - t0)

    # Reference in the same run: the shared forward pass alone, and one call at a
    # scalar weight (the 100-call loop repeats the forward pass each call).
    import torch

    from sklearn_causal_routing._nets import policy_logits

    t_fwd = []
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        policy_logits(router.policy_, X)
        t_fwd.append(time.perf_counter() - t0)

    # The public API for many weights: one forward pass, then the interpolation
    # and argmax per weight.
    def shared_forward():
        router.predict_sweep(X, weights)

    t_shared = []
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        shared_forward()
        t_shared.append(time.perf_counter() - t0)

    c_lat = float(c_low + (c_high - c_low) / 3)
    for i in range(50):
        router.predict(X[i : i + 1], cost_weight=c_lat)
    lat = np.empty(args.n_latency)
    for i in range(args.n_latency):
        row = X_pool[i % X_pool.shape[0] : i % X_pool.shape[0] + 1]
        t0 = time.perf_counter()
        router.predict(row, cost_weight=c_lat)
        lat[i] = time.perf_counter() - t0
    lat_arr = np.empty(args.n_latency)  # per-query array of length 1
    for i in range(args.n_latency):
        row = X_pool[i % X_pool.shape[0] : i % X_pool.shape[0] + 1]
        t0 = time.perf_counter()
        router.predict(row, cost_weight=np.array([c_lat]))
        lat_arr[i] = time.perf_counter() - t0

    # Same-run reference: a RegretRouter (one cost weight) on the same queries.
    ref.predict(X[:1000])
    t_ref = []
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        ref.predict(X)
        t_ref.append(time.perf_counter() - t0)
    for i in range(50):
        ref.predict(X[i : i + 1])
    lat_ref = np.empty(args.n_latency)
    for i in range(args.n_latency):
        row = X_pool[i % X_pool.shape[0] : i % X_pool.shape[0] + 1]
        t0 = time.perf_counter()
        ref.predict(row)
        lat_ref[i] = time.perf_counter() - t0

    med_many = float(np.median(t_many))
    rows = [
        [(f"{args.n_weights} calls `predict(X, cost_weight=c)`, scalar c, "
          f"{n:,} queries each ({args.n_weights * n:,} decisions)"),
         (f"{med_many:.3f} s (best {min(t_many):.3f} s; "
          f"{args.n_weights * n / med_many:,.0f} decisions/s)"),
         "reference: repeats the forward pass per call"],
        [f"1 call `predict(X, cost_weight=array)`, {n:,} queries, each its own weight",
         (f"{np.median(t_arr) * 1e3:.1f} ms (best {min(t_arr) * 1e3:.1f} ms; "
          f"{n / np.median(t_arr):,.0f} queries/s)"), ""],
        [(f"reference: the network's forward pass alone on {n:,} queries (each scalar "
          "call above repeats it)"),
         f"{np.median(t_fwd) * 1e3:.1f} ms", ""],
        [(f"`predict_sweep(X, cost_weights)` with {args.n_weights} weights, {n:,} "
          "queries (one forward pass, then an interpolation and argmax per weight)"),
         f"{np.median(t_shared):.3f} s (best {min(t_shared):.3f} s)",
         f"< {args.speed_target:g} s: {verdict(np.median(t_shared) < args.speed_target)}"],
        [(f"single query, `predict(X[i:i+1], cost_weight={c_lat:.1f})`, median (p99) "
          f"over {args.n_latency:,} calls"),
         f"{np.median(lat) * 1e6:.0f} µs ({np.percentile(lat, 99) * 1e6:.0f} µs)", ""],
        ["single query, cost weight as a 1-element array, median (p99)",
         f"{np.median(lat_arr) * 1e6:.0f} µs ({np.percentile(lat_arr, 99) * 1e6:.0f} µs)",
         ""],
        [(f"reference: `RegretRouter(cost_weight={ref.cost_weight:.3g}).predict(X)`, "
          f"{n:,} queries, one call (x {args.n_weights} = running {args.n_weights} "
          "per-weight routers)"),
         (f"{np.median(t_ref) * 1e3:.1f} ms (x {args.n_weights}: "
          f"{args.n_weights * np.median(t_ref):.2f} s)"), ""],
        ["reference: `RegretRouter.predict` on one query, median (p99)",
         f"{np.median(lat_ref) * 1e6:.0f} µs ({np.percentile(lat_ref, 99) * 1e6:.0f} µs)",
         f"IntervalRouter / RegretRouter: {np.median(lat) / np.median(lat_ref):.2f}x"],
    ]
    out = ["\n## Speed: routing at many cost weights\n"]
    out.append(
        f"Router: {source}. Queries: {n:,} rows drawn with replacement from "
        f"{X_pool.shape[0]:,} feature rows ({pool_desc}), float64; {args.n_weights} cost weights "
        f"evenly spaced over [{c_low:g}, {c_high:.1f}]; per-query weights uniform on the "
        f"range. Wall time, median over {args.repeats} repeats (torch threads: "
        f"{torch.get_num_threads()}; load {load_now()}).\n"
    )
    out.append(md_table(["", "time", "target"], rows, align="lll"))
    return out, med_many


def fit_speed_pair(X, fb, high, n_intervals, seed):
    """An IntervalRouter on [0, high] and, as the same-run speed reference, a
    RegretRouter at high / 3 (its utility stage comes from the cache)."""
    from sklearn_causal_routing import IntervalRouter, RegretRouter

    router, t_fit, _ = timed_cpu(partial(IntervalRouter(
        cost_weight_range=(0.0, high), n_intervals=n_intervals, random_state=seed).fit,
        X, fb))
    ref = RegretRouter(cost_weight=high / 3, random_state=seed).fit(X, fb)
    progress(f"speed router: IntervalRouter fit {t_fit:.1f}s "
             f"({len(router.policy_.history)} epochs); reference RegretRouter fitted")
    return router, ref, t_fit


def simulated_router(args, seed):
    """IntervalRouter on a RouterBench-sized simulated world (no real data)."""
    from sklearn_causal_routing.datasets import RoutingWorld

    world = RoutingWorld(n_models=11, n_features=384, random_state=seed)
    table = world.sample(args.sim_samples, random_state=seed + 1)
    logs = table.log("confounded", random_state=seed + 2)
    _, cw_star = cheapest_breakpoint(table)
    high = cw_star if cw_star > 0 else 1.0
    progress(f"simulated world: {args.sim_samples} rows x 11 models x 384-d; range "
             f"[0, {high:.3g}]")
    router, ref, t_fit = fit_speed_pair(logs.X, logs.feedback, high, args.n_intervals, seed)
    X_pool, _ = world.sample_X(20_000, random_state=seed + 3)
    source = (f"`IntervalRouter(cost_weight_range=(0, {high:.3g}), "
              f"n_intervals={args.n_intervals}, random_state={seed})` fitted in {t_fit:.1f} s "
              f"on {args.sim_samples:,} confounded logs of "
              "`RoutingWorld(n_models=11, n_features=384)`")
    return router, ref, X_pool, 0.0, high, source


# ---------------------------------------------------------------------- main
def main(argv=None):
    p = parser(__doc__.split("\n\n")[0], NAME)
    p.add_argument(
        "--data-dir",
        type=Path,
        default=REPO_ROOT / ".." / "shared" / "data",
        help="folder with routerbench_subset.parquet and routerbench_subset_minilm.npy",
    )
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2],
                   help="logging / training seeds (one run per seed)")
    p.add_argument("--n-intervals", type=int, default=4)
    p.add_argument("--fractions", type=float, nargs="+", default=DEFAULT_FRACTIONS,
                   help="evaluation cost weights as fractions of W (must avoid grid points)")
    p.add_argument("--n-monotone", type=int, default=50,
                   help="cost weights scanned for the monotonicity check")
    p.add_argument("--n-queries", type=int, default=10_000, help="queries per speed call")
    p.add_argument("--n-weights", type=int, default=100, help="cost weights in the speed loop")
    p.add_argument("--n-latency", type=int, default=1_000, help="single-query calls timed")
    p.add_argument("--repeats", type=int, default=3, help="repeats of the batched timings")
    p.add_argument("--speed-target", type=float, default=1.0,
                   help="seconds for n-weights calls on n-queries")
    p.add_argument("--speed-seed", type=int, default=0)
    p.add_argument("--sim-samples", type=int, default=5_000,
                   help="rows of the simulated world (speed section without data)")
    p.add_argument("--simulated-speed", action="store_true",
                   help="time the speed section on a simulated-world router even when "
                   "the real data is available")
    p.add_argument("--speed-only", action="store_true",
                   help="skip the quality and monotonicity sections")
    args = p.parse_args(argv)
    if args.quick:
        args.seeds = args.seeds[:1]
        args.fractions = [args.fractions[0], args.fractions[len(args.fractions) // 2],
                          args.fractions[-1]]
        args.n_monotone = min(args.n_monotone, 20)
        args.n_latency = min(args.n_latency, 200)
        args.repeats = min(args.repeats, 2)
        args.sim_samples = min(args.sim_samples, 2_000)

    threads_desc = set_threads(args.threads, args.omp_passive)  # before torch loads

    from sklearn_causal_routing import IntervalRouter, RegretRouter, _utility
    from sklearn_causal_routing.datasets import RoutingTable, load_routerbench_subset

    table = None
    if not args.speed_only or not args.simulated_speed:
        try:
            table = load_routerbench_subset(args.data_dir)
        except FileNotFoundError as exc:
            print(f"skipped: the RouterBench subset is not available ({exc}); the "
                  "quality and monotonicity sections need it. The speed section runs on "
                  "a simulated world instead.\n")

    out = ["# IntervalRouter: one router for a range of cost weights\n"]
    tally = WarningTally()
    speed_router = speed_ref = None

    if table is not None and not args.speed_only:
        skew = inspect.signature(RoutingTable.log).parameters["skew"].default
        train, test = table.split_by("train"), table.split_by("test")
        models = [str(m) for m in table.models]
        cheapest, W = cheapest_breakpoint(train)
        cheapest = str(cheapest)
        cw_scan, cw_step = scan_check(train, cheapest, W)
        grid = np.linspace(0.0, W, args.n_intervals + 1)
        weights = sorted(float(f * W) for f in args.fractions)
        for c in weights:
            if not 0 < c < W or np.isclose(c, grid).any():
                p.error(f"evaluation cost weight {c:.2f} is not strictly between grid "
                        f"points {np.round(grid, 2).tolist()}; change --fractions")
        progress(
            f"train {len(train)} / test {len(test)} prompts, {len(models)} models; cheapest "
            f"{cheapest!r} best single model on train from W = {W:.2f}; grid "
            f"{[round(float(g), 1) for g in grid]}; evaluation weights "
            f"{[round(c, 1) for c in weights]}"
        )
        mono_weights = np.linspace(0.0, W, args.n_monotone)
        i_cheap = models.index(cheapest)

        val_int = defaultdict(list)  # seed -> per weight
        val_rm = defaultdict(list)
        val_int_grid = defaultdict(list)
        oracle = [test.oracle_value(c) for c in weights]
        hind = [test.best_single_model(c) for c in weights]
        fit_int, fit_int_cpu, ep_int = [], [], []
        fit_rm_cold, fit_rm_warm_sum, fit_rm_cpu, ep_rm, cold_flags = [], [], [], [], []
        int_cold = []
        mono = {}
        rm_cost = defaultdict(list)
        for seed in args.seeds:
            logs = train.log("confounded", random_state=seed)
            # Interval router: cold (utility stage fitted in the call).
            _utility.clear_utility_cache()
            misses = _utility._cache_stats["misses"]
            with tally:
                irouter, t, cpu = timed_cpu(partial(IntervalRouter(
                    cost_weight_range=(0.0, W), n_intervals=args.n_intervals,
                    random_state=seed).fit, logs.X, logs.feedback))
            int_cold.append(_utility._cache_stats["misses"] > misses)
            fit_int.append(t)
            fit_int_cpu.append(cpu)
            ep_int.append(len(irouter.policy_.history))
            progress(f"seed {seed}: IntervalRouter fit {t:.1f}s ({ep_int[-1]} epochs; "
                     f"load {load_now()})")
            if speed_router is None:
                speed_router = irouter  # seed 0's router serves the speed section
            val_int_grid[seed] = [test.value(irouter.predict(test.X, cost_weight=g), g)
                                  for g in grid]
            # Per-weight RegretRouters. Clear the cache again, so that the first one
            # fits its own utility stage (cold); the other 8 get it from the cache.
            _utility.clear_utility_cache()
            cold_t, warm_t, cpus, eps, flags = None, [], [], [], []
            for c in weights:
                misses = _utility._cache_stats["misses"]
                with tally:
                    rrouter, t, cpu = timed_cpu(partial(RegretRouter(
                        cost_weight=c, random_state=seed).fit, logs.X, logs.feedback))
                cold = _utility._cache_stats["misses"] > misses
                flags.append(cold)
                if cold_t is None and cold:
                    cold_t = t
                else:
                    warm_t.append(t)
                cpus.append(cpu)
                eps.append(len(rrouter.policy_.history))
                if speed_ref is None:
                    speed_ref = rrouter  # same-run reference for the speed section
                d_rm = rrouter.predict(test.X)
                val_rm[seed].append(test.value(d_rm, c))
                rm_cost[seed].append(test.mean_cost(d_rm))
                val_int[seed].append(test.value(irouter.predict(test.X, cost_weight=c), c))
                progress(f"seed {seed} cw {c:6.1f}: interval {val_int[seed][-1]:.4f}, "
                         f"RegretRouter {val_rm[seed][-1]:.4f} (fit {t:.1f}s, "
                         f"{'cold' if cold else 'warm'})")
            fit_rm_cold.append(cold_t if cold_t is not None else float("nan"))
            fit_rm_warm_sum.append(float(np.sum(warm_t)))
            fit_rm_cpu.append(float(np.sum(cpus)))
            ep_rm.append(float(np.mean(eps)))
            cold_flags.append(flags)
            # Monotonicity on the test split.
            costs, cheap_share, per_query_up, top = [], [], [], []
            prev = None
            for c in mono_weights:
                d = irouter.predict(test.X, cost_weight=float(c))
                costs.append(test.mean_cost(d))
                sh = test.shares(d)
                cheap_share.append(sh[table.models[i_cheap]])
                top.append(max(sh.items(), key=lambda kv: kv[1]))
                idx = test.model_index(d)
                if prev is not None:
                    rows = np.arange(len(idx))
                    per_query_up.append(float(np.mean(
                        test.cost[rows, idx] > test.cost[rows, prev] + 1e-15)))
                prev = idx
            mono[seed] = {"cost": np.array(costs), "share": np.array(cheap_share),
                          "up": np.array(per_query_up), "top": top}

        seeds = args.seeds
        n_w = len(weights)
        I = np.array([val_int[s] for s in seeds])  # (seeds, weights)
        R = np.array([val_rm[s] for s in seeds])
        D = I - R

        out += environment_lines(
            threads_desc,
            extra=[
                (f"data: {args.data_dir} -> {len(train)} train / {len(test)} test prompts, "
                 f"{len(models)} models, {table.n_features}-d MiniLM embeddings"),
                (f"logs: train split logged with table.log('confounded', skew={skew:g} "
                 "(table default), record_propensity=True, random_state=seed)"),
                (f"seeds: {seeds}; routers trained on the train logs only; values are "
                 "TRUE mean utilities `quality - cost_weight * cost` on the test split"),
                f"range: [0, W], W = {W:.2f}: the weight at which the cheapest model "
                f"{cheapest!r} becomes the best single model on train (closed form; scan "
                f"step {cw_step:.2f}: first at {cw_scan:.2f}); grid of "
                f"`IntervalRouter(cost_weight_range=(0, W), n_intervals={args.n_intervals},"
                " random_state=seed)`: " + ", ".join(f"{g:.1f}" for g in grid),
                "evaluation weights (strictly between grid points; fractions of W "
                + ", ".join(f"{f:.4g}" for f in sorted(args.fractions)) + "): "
                + ", ".join(f"{c:.1f}" for c in weights)
                + "; at each a `RegretRouter(cost_weight=c, random_state=seed)`",
            ],
        )

        out.append("\n## True test utility: one IntervalRouter vs one RegretRouter per weight\n")
        out.append(
            "Mean over seeds (± sample std over seeds); Δ = IntervalRouter - RegretRouter, "
            "paired by seed. Best single model (hindsight on test) and the per-query "
            "oracle are references (no training, seed-free).\n"
        )
        rows = []
        for j, c in enumerate(weights):
            rows.append([
                f"{c:.1f}", f"{c / W:.4g}", pm(I[:, j], 4), pm(R[:, j], 4),
                pm(D[:, j], 4, sign=True),
                f"{hind[j][1]:.4f} ({short_model(hind[j][0])})", f"{oracle[j]:.4f}",
            ])
        rows.append([
            "**mean**", "", f"**{pm(I.mean(axis=1), 4)}**", f"**{pm(R.mean(axis=1), 4)}**",
            f"**{pm(D.mean(axis=1), 4, sign=True)}**",
            f"{np.mean([h[1] for h in hind]):.4f}", f"{np.mean(oracle):.4f}",
        ])
        out.append(md_table(
            ["cost weight", "/ W", "IntervalRouter", "RegretRouter (per weight)", "Δ (paired)",
             "best single (hindsight)", "oracle"], rows))
        n_lose = int(np.sum(D.mean(axis=0) < 0))
        worst = int(np.argmin(D.mean(axis=0)))
        out.append(
            f"\nThe IntervalRouter is behind the per-weight router at {n_lose}/{n_w} "
            f"weights (mean over seeds); largest shortfall {D.mean(axis=0)[worst]:+.4f} at "
            f"{weights[worst]:.1f}. Regret vs oracle (mean over weights): IntervalRouter "
            f"{np.mean(oracle) - I.mean():.4f}, RegretRouters {np.mean(oracle) - R.mean():.4f}. "
            f"Δ vs best single (hindsight), mean over weights: IntervalRouter "
            f"{I.mean() - np.mean([h[1] for h in hind]):+.4f}, RegretRouters "
            f"{R.mean() - np.mean([h[1] for h in hind]):+.4f}."
        )
        G = np.array([val_int_grid[s] for s in seeds])
        out.append("\nIntervalRouter at its own grid points (endpoint heads; no per-weight "
                   "router fitted there):\n")
        out.append(md_table(
            ["cost weight"] + [f"{g:.1f}" for g in grid],
            [["IntervalRouter"] + [pm(G[:, k], 4) for k in range(len(grid))],
             ["best single (hindsight)"] + [f"{test.best_single_model(g)[1]:.4f}" for g in grid],
             ["oracle"] + [f"{test.oracle_value(g):.4f}" for g in grid]]))

        out.append("\n## Fit time\n")
        rm_total = np.add(fit_rm_cold, fit_rm_warm_sum)
        out.append(
            "Wall seconds per seed (mean ± std over seeds; load at end of run below). The "
            "in-process utility-stage cache was cleared before the IntervalRouter fit and "
            "again before the first RegretRouter, so both pay for one DR utility stage: "
            "the **first (cold)** RegretRouter fits it; the other "
            f"{n_w - 1} are **warm** (the stage, which does not depend on the cost weight, "
            f"comes from the cache; only the policy is fitted). Without the cache, {n_w} "
            f"standalone fits would cost about {n_w} x the cold fit.\n"
        )
        frows = [
            ["IntervalRouter, 1 fit (cold)", pm(fit_int, 1), pm(fit_int_cpu, 1),
             f"{np.mean(ep_int):.0f}", "1.00"],
            ["RegretRouter, first fit (cold)", pm(fit_rm_cold, 1), "",
             "", f"{np.mean(fit_rm_cold) / np.mean(fit_int):.2f}"],
            [f"RegretRouter, other {n_w - 1} fits (warm), sum", pm(fit_rm_warm_sum, 1), "",
             "", f"{np.mean(fit_rm_warm_sum) / np.mean(fit_int):.2f}"],
            [f"RegretRouter, all {n_w} fits, sum", pm(rm_total, 1), pm(fit_rm_cpu, 1),
             f"{np.mean(ep_rm):.0f} (mean)", f"{np.mean(rm_total) / np.mean(fit_int):.2f}"],
            [f"{n_w} standalone cold RegretRouter fits (estimate: {n_w} x cold)",
             f"{n_w * np.mean(fit_rm_cold):.1f}", "", "",
             f"{n_w * np.mean(fit_rm_cold) / np.mean(fit_int):.2f}"],
        ]
        out.append(md_table(["", "wall s", "CPU s", "epochs", "ratio vs IntervalRouter"],
                            frows))
        if not all(int_cold) or any(f[0] is not True or any(f[1:]) for f in cold_flags):
            out.append("\nNote: cache hits/misses did not follow the expected pattern "
                       f"(interval cold: {int_cold}; RegretRouter cold flags: {cold_flags}).")

        out.append("\n## Monotonicity of the IntervalRouter's spend (test split)\n")
        out.append(
            f"{args.n_monotone} cost weights evenly spaced over [0, {W:.1f}]; decisions "
            "of `predict(X_test, cost_weight=c)`; TRUE mean cost per query of the chosen "
            f"models and share of calls to the cheapest model ({short_model(cheapest)}). "
            "Largest increase = max over consecutive weights of cost(c_next) - cost(c) "
            "(≤ 0 means the spend never rises); per-query = share of test queries whose "
            "chosen model gets dearer between consecutive weights (max over steps).\n"
        )
        mrows = []
        for s in seeds:
            m = mono[s]
            dc = np.diff(m["cost"])
            ds = np.diff(m["share"])
            span = m["cost"][0] - m["cost"][-1]
            k = int(np.argmax(dc))
            if dc[k] > 1e-15:
                (a, sa), (b, sb) = m["top"][k], m["top"][k + 1]
                inc = (f"{dc[k]:+.3g} ({100 * dc[k] / m['cost'][k]:+.2g}% of the cost "
                       f"there; {100 * dc[k] / span:.2g}% of the c=0 -> W span)")
                where = (f"{mono_weights[k]:.0f} -> {mono_weights[k + 1]:.0f}: "
                         f"{short_model(a)} {sa:.0%} -> {short_model(b)} {sb:.0%}")
            else:
                inc, where = f"{dc[k]:+.3g} (never rises)", "—"
            mrows.append([
                str(s), f"{m['cost'][0]:.3g} -> {m['cost'][-1]:.3g}", inc, where,
                str(int(np.sum(dc > 1e-15))),
                f"{m['share'][0]:.1%} -> {m['share'][-1]:.1%}",
                "yes" if ds.min() < -1e-12 else "no",
                f"{ds.min():+.1%}" if ds.min() < -1e-12 else "—",
                f"{m['up'].max():.1%}",
            ])
        out.append(md_table(
            ["seed", "mean cost c=0 -> W", "largest increase", "where (top model before -> after)",
             "steps with an increase",
             "cheapest share c=0 -> W", "cheapest share ever falls", "largest fall",
             "per-query: dearer model (max)"], mrows))
        rm_up = [float(np.max(np.diff(rm_cost[s]))) for s in seeds]
        out.append(
            f"\nFor contrast, the {n_w} independent RegretRouters' mean cost at increasing "
            "weights: largest increase between consecutive weights per seed "
            + ", ".join(f"{u:+.3g}" for u in rm_up)
            + " (nothing ties them together)."
        )
    else:
        out += environment_lines(threads_desc)

    # ------------------------------------------------------------------ speed
    if speed_router is not None and not args.simulated_speed:
        X_pool = table.X
        source = (f"the seed-{args.seeds[0]} real-data `IntervalRouter` above "
                  f"(range [0, {speed_router.cost_weight_range_[1]:.1f}])")
        lo, hi = speed_router.cost_weight_range_
    elif table is not None and not args.simulated_speed:
        # --speed-only with data: fit one real-data router.
        train = table.split_by("train")
        _, W = cheapest_breakpoint(train)
        logs = train.log("confounded", random_state=args.seeds[0])
        with tally:
            speed_router, speed_ref, t = fit_speed_pair(
                logs.X, logs.feedback, W, args.n_intervals, args.seeds[0])
        X_pool, lo, hi = table.X, 0.0, W
        source = (f"`IntervalRouter(cost_weight_range=(0, {W:.1f}), "
                  f"n_intervals={args.n_intervals})` on the RouterBench train logs "
                  f"(seed {args.seeds[0]}; fit {t:.1f} s)")
    else:
        with tally:
            speed_router, speed_ref, X_pool, lo, hi, source = simulated_router(
                args, args.seeds[0])
    pool_desc = ("the RouterBench embeddings, train + test"
                 if table is not None and X_pool is table.X else "simulated queries")
    speed_lines, _ = speed_section(speed_router, speed_ref, X_pool, lo, hi, args, source,
                                   pool_desc)
    out += speed_lines

    out.append("\n## Warnings raised during fit\n")
    out += [f"- {line}" for line in tally.lines()]
    out.append(f"\nLoad average at end: {load_now()}.")
    emit("\n".join(out), args, NAME)
    return 0


if __name__ == "__main__":
    sys.exit(main())
