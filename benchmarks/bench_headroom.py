"""How much a router can learn from the logs: the policy network, and the headroom.

Two sections. Every figure is the TRUE mean test utility ``quality - cost_weight *
cost`` averaged over 5 cost weights (0 to the weight at which the cheapest model
becomes the best single model), mean ± std over seeds; every router is trained from
simulated logs of the train split only (``run_benchmark``).

1. **Network** (``--section network``). RM-Softmax (``RegretRouter``) with several
   policy networks: one hidden layer of 64 units (the default), 128 units, two layers
   of 64, two layers of 200 (the default before 2026-11-23) and two layers of 200
   without early stopping; beside ``CarrotRouter(correction="dr")``,
   ``DecoupledRouter`` and ``SingleModelRouter``. Task-confounded logs (the suite's
   ``main`` scenario). Worlds: the RouterBench subset (when present) and
   ``make_routing_table(n, random_state=123)`` for each ``--sim-sizes`` n (70/30
   split).
2. **Headroom** (``--section headroom``; the RouterBench subset, or MMLU-Pro with
   ``--table mmlu_pro``). What can *any* method reach from as many logged outcomes
   as there are train queries (2,205 on RouterBench, 8,372 on MMLU-Pro)? (a) The
   same methods on *uniformly* logged train queries (best possible overlap, no
   confounding). (b) The full-feedback router (per-model RidgeCV on every outcome)
   trained on a random 1/K, 1/4, 1/2 and all of the train queries: 1/K of the
   queries with all K outcomes holds as many observed outcomes as the logs.
3. **Single-model choice** (``--section single``; both real tables). The fallback
   routes everything to one model chosen from the logs; the stress suite compares it
   with the best single model chosen on the *test* queries in hindsight. How close
   can any choice made from the train queries get? The best single model on the
   train queries of each scenario (``main``, ``logs-30``, ``logs-10``) with *every*
   model's outcome known (full information on the same queries), scored on the test
   split: its mean paired difference to the hindsight choice, ± standard error over
   seeds.

Run from the repository root::

    .venv/bin/python benchmarks/bench_headroom.py --threads 1           # ~17 min
    .venv/bin/python benchmarks/bench_headroom.py --threads 1 --quick   # ~2 min
    .venv/bin/python benchmarks/bench_headroom.py --threads 1 --section headroom \
        --table mmlu_pro                                                  # ~9 min
    .venv/bin/python benchmarks/bench_headroom.py --section single        # seconds

The real-table parts skip with a message when the shared data folder is absent.
"""

import time
from pathlib import Path

import numpy as np
from _common import (
    REPO_ROOT,
    emit,
    environment_lines,
    load_shared_table,
    md_table,
    parser,
    progress,
    set_threads,
)

NAME = "bench_headroom"

NETWORKS = {  # besides the built-in "RM-Softmax": the default network, one layer of 64
    "RM-Softmax (128,)": {"hidden_layer_sizes": (128,)},
    "RM-Softmax (64, 64)": {"hidden_layer_sizes": (64, 64)},
    "RM-Softmax (200, 200)": {"hidden_layer_sizes": (200, 200)},
    "RM-Softmax (200, 200), no early stopping": {
        "hidden_layer_sizes": (200, 200), "validation_fraction": None,
    },
}
BASELINES = ["CARROT + DR", "decoupled", "single model (DR)"]
REFS = ["full feedback", "best single (hindsight)"]


def _cell(res, scenario, method):
    mean, std, _ = res.summary(scenario, method)
    return f"{mean:.4f} ± {std:.4f}"


def _network_section(worlds, seeds, quick):
    from sklearn_causal_routing import DoublyRobustUtility, RegretRouter
    from sklearn_causal_routing.experiments import run_benchmark

    networks = dict(list(NETWORKS.items())[2:3]) if quick else NETWORKS
    # the run sets each variant's random_state to the seed, which also seeds its
    # utility stage: the same stage as the built-in RM-Softmax's, served by the cache
    methods = ["RM-Softmax"] + [
        (name, RegretRouter(utility=DoublyRobustUtility(), **kw))
        for name, kw in networks.items()
    ] + BASELINES
    results = {}
    for label, table in worlds.items():
        t0 = time.perf_counter()
        results[label] = run_benchmark(table, methods=methods, seeds=seeds,
                                       score_methods=(), progress=None)
        progress(f"network: {label} done in {time.perf_counter() - t0:.0f} s")
    rows = [[m if m != "RM-Softmax" else "RM-Softmax (64,), the default"]
            + [_cell(r, "main", m) for r in results.values()]
            for m in ["RM-Softmax"] + list(networks) + BASELINES + REFS]
    return md_table(["method"] + list(results), rows), results


def _headroom_section(table, seeds, quick, confounded=None):
    """``confounded``: the network section's run on ``table`` (its ``main`` scenario
    holds the same methods and seeds), reused instead of training them again."""
    from sklearn_causal_routing.experiments import Scenario, run_benchmark
    from sklearn_causal_routing.experiments._runner import FullFeedbackRouter, _split

    uniform = Scenario("uniform", "uniform logging", policy="uniform")
    methods = ["RM-Softmax"] + BASELINES
    scenarios = [uniform] if confounded is not None else ["main", uniform]
    t0 = time.perf_counter()
    res = run_benchmark(table, methods=methods, scenarios=scenarios, seeds=seeds,
                        score_methods=(), progress=None)
    progress(f"headroom: logged runs done in {time.perf_counter() - t0:.0f} s")
    confounded = res if confounded is None else confounded
    lines = [("(a) Logged: the same number of logs (one outcome per train query), "
              "task-confounded vs uniform.\n")]
    rows = [[m, _cell(confounded, "main", m), _cell(res, "uniform", m)]
            for m in methods + REFS]
    lines.append(md_table(["method", "confounded (skew 5)", "uniform"], rows))

    grid = res.settings["cost_weights"]
    models = np.asarray(table.models)
    k = table.n_models
    fractions = [1 / k, 0.5, 1.0] if quick else [1 / k, 0.25, 0.5, 1.0]
    rows = []
    for frac in fractions:
        vals = []
        for seed in seeds:
            train, test = _split(table, seed)  # the runner's split of this seed
            rng = np.random.default_rng(seed)
            n = round(frac * train.n_samples)
            sub = train.subset(np.sort(rng.choice(train.n_samples, n, replace=False)))
            full = FullFeedbackRouter().fit(sub.X, sub.utility(0.0), sub.cost)
            vals.append(np.mean([test.value(models[full.decisions(test.X, c)], c)
                                 for c in grid]))
        vals = np.asarray(vals)
        spread = vals.std(ddof=1) if len(vals) > 1 else 0.0
        rows.append([f"{frac:.3f} ({n:,} queries, {n * k:,} outcomes)",
                     f"{vals.mean():.4f} ± {spread:.4f}"])
    lines.append("\n(b) Full feedback (every model's outcome) on a random share of the "
                 f"{train.n_samples:,} train queries; the logs hold {train.n_samples:,} "
                 "outcomes.\n")
    lines.append(md_table(["share of train queries", "mean utility"], rows))
    full = confounded.summary("main", "full feedback")[0]
    best = confounded.summary("main", "best single (hindsight)")[0]
    lines.append(
        f"\nFor reference, on the confounded logs: full feedback on every train query "
        f"{full:.4f}, the best single model in hindsight {best:.4f}; half the "
        f"full-feedback gain is {best + (full - best) / 2:.4f}."
    )
    return "\n".join(lines)


def _single_section(tables, seeds):
    """The best single model on each scenario's train queries, with every outcome known."""
    from sklearn_causal_routing.experiments._runner import (
        SCENARIOS,
        _simulate_logs,
        _split,
        cost_weight_grid,
    )

    rows = []
    for label, table in tables.items():
        grid = cost_weight_grid(_split(table, seeds[0])[0], 5)  # the runner's grid
        for name in ("main", "logs-30", "logs-10"):
            diffs, n_train = [], 0
            for seed in seeds:
                train_full, test = _split(table, seed)
                train, _ = _simulate_logs(train_full, SCENARIOS[name], seed)
                n_train = train.n_samples
                diff = []
                for w in grid:
                    pick = train.best_single_model(w)[0]
                    value = test.value(np.full(test.n_samples, pick), w)
                    diff.append(value - test.best_single_model(w)[1])
                diffs.append(np.mean(diff))
            diffs = np.asarray(diffs)
            se = diffs.std(ddof=1) / np.sqrt(diffs.size) if diffs.size > 1 else float("nan")
            rows.append([label, name, f"{n_train:,}", f"{diffs.mean():+.4f} ± {se:.4f}",
                         " ".join(f"{d:+.4f}" for d in diffs)])
    return md_table(["table", "scenario", "train queries",
                     "full-information choice vs hindsight (± s.e.)", "per seed"], rows)


def main(argv=None):
    p = parser(__doc__.split("\n\n")[0], NAME)
    p.add_argument("--data-dir", type=Path, default=REPO_ROOT / ".." / "shared" / "data",
                   help="folder with routerbench_subset.parquet and the MiniLM embeddings")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    p.add_argument("--sim-sizes", type=int, nargs="*", default=[2000, 6000],
                   help="sizes of the simulated tables of the network section")
    p.add_argument("--section", choices=("network", "headroom", "single", "all"),
                   default="all")
    p.add_argument("--table", choices=("routerbench_subset", "mmlu_pro"),
                   default="routerbench_subset", help="real table of the headroom section")
    args = p.parse_args(argv)
    if args.quick:
        args.seeds, args.sim_sizes = args.seeds[:2], [1000]

    threads_desc = set_threads(args.threads, args.omp_passive)
    from sklearn_causal_routing.datasets import (
        load_routerbench_subset,
        make_routing_table,
    )

    t_start = time.perf_counter()
    try:
        rb = load_routerbench_subset(args.data_dir)
    except FileNotFoundError as exc:
        rb = None
        progress(f"skipped (RouterBench parts): the subset is not available ({exc})")
    out = ["# How much a router can learn from the logs\n"]
    out += environment_lines(threads_desc, extra=[
        f"seeds: {args.seeds}; TRUE mean test utility over 5 cost weights, ± std over seeds",
        "logs: task-confounded (skew 5), propensities recorded, unless stated",
    ])
    network_runs = {}
    if args.section in ("network", "all"):
        worlds = {} if rb is None else {"RouterBench subset": rb}
        worlds.update({f"simulated, n={n:,}": make_routing_table(n, random_state=123)
                       for n in args.sim_sizes})
        out.append("\n## Policy network of RM-Softmax\n")
        table_md, network_runs = _network_section(worlds, args.seeds, args.quick)
        out.append(table_md)
    if args.section in ("headroom", "all"):
        if args.table == "routerbench_subset":
            label, table = "RouterBench subset", rb
        else:
            label, table = "MMLU-Pro", load_shared_table(args.table, args.data_dir)
        out.append(f"\n## Headroom on {label}\n")
        if table is None:
            out.append(f"skipped: {label} is not available under {args.data_dir}.")
        else:
            out.append(_headroom_section(table, args.seeds, args.quick,
                                         network_runs.get(label)))
    if args.section in ("single", "all"):
        tables = {"RouterBench subset": rb,
                  "MMLU-Pro": load_shared_table("mmlu_pro", args.data_dir)}
        out.append("\n## Choosing the single model: the best any choice from the train "
                   "queries can do\n")
        out += [f"skipped: {k} is not available under {args.data_dir}.\n"
                for k, v in tables.items() if v is None]
        tables = {k: v for k, v in tables.items() if v is not None}
        if tables:
            out.append(_single_section(tables, args.seeds))
    out.append(f"\nTotal run {time.perf_counter() - t_start:.0f} s.")
    emit("\n".join(out), args, NAME)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
