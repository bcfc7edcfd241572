"""How many logs it takes: learning curves on worlds calibrated on the real tables.

For each real full-feedback table in the shared data folder (the RouterBench subset,
11 models, and MMLU-Pro, 29 models), a ``SemiSyntheticWorld`` is calibrated on the
whole table (per model: a cross-validated logistic regression of the 0/1 quality and
a ridge regression of the cost on the MiniLM embedding and the task), and
``routing_learning_curve`` trains RM-Softmax (``RegretRouter()``, default settings)
from task-confounded logs (skew 5, propensities recorded) of 2k, 10k, 100k and 1M
sampled queries, and the full-feedback router (per-model RidgeCV on every outcome of
the same queries). Every figure is the TRUE mean utility on a test world of 20,000
queries, averaged over 3 cost weights (0 to where the cheapest model becomes the best
single model); "gain recovered" is (RM-Softmax - best single) / (full feedback - best
single).

Run from the repository root::

    .venv/bin/python benchmarks/bench_learning_curve.py --threads 1           # long: 1M
    .venv/bin/python benchmarks/bench_learning_curve.py --threads 1 --quick   # ~minutes

``--quick`` runs sizes 2,000 and 10,000, one seed and one cost weight (the middle of
the default grid). Skips (exit 0) with a message when the shared data folder is absent.
"""

import sys
import time
from pathlib import Path

import numpy as np
from _common import (
    REPO_ROOT,
    emit,
    environment_lines,
    md_table,
    parser,
    progress,
    set_threads,
)

NAME = "bench_learning_curve"

TABLES = {
    "routerbench": ("RouterBench subset", "routerbench_subset"),
    "mmlu": ("MMLU-Pro", "mmlu_pro"),
}


def _calibration_lines(table, world, test, weights):
    """How the world compares with the real table it was calibrated on."""
    rows = []
    for w in weights:
        rows.append([
            f"{w:.4g}",
            f"{table.oracle_value(w) - table.best_single_model(w)[1]:.4f}",
            f"{test.oracle_value(w) - test.best_single_model(w)[1]:.4f}",
        ])
    within = np.mean([test.expected_quality[test.task == a].std(axis=0).mean()
                      for a in np.unique(test.task)]) if test.task is not None else np.nan
    across = test.expected_quality.std(axis=0).mean()
    return [
        "Oracle gain over the best single model (true utility): the real table (its "
        "0/1 outcomes, which inflate the oracle) vs the calibrated world (its expected "
        "quality).\n",
        md_table(["cost weight", "real table", "world"], rows),
        f"\nSpread of the world's expected quality per model: {across:.3f} over all "
        f"queries, {within:.3f} within a task (the rest is between tasks).",
    ]


def main(argv=None):
    p = parser(__doc__.split("\n\n")[0], NAME)
    p.add_argument("--data-dir", type=Path, default=REPO_ROOT / ".." / "shared" / "data",
                   help="folder with the real tables and their MiniLM embeddings")
    p.add_argument("--tables", nargs="+", choices=list(TABLES), default=list(TABLES))
    p.add_argument("--sizes", type=int, nargs="+", default=[2000, 10000, 100000, 1000000])
    p.add_argument("--seeds", type=int, nargs="+", default=[0])
    p.add_argument("--n-cost-weights", type=int, default=3)
    p.add_argument("--test-size", type=int, default=20000)
    p.add_argument("--middle-weight", action="store_true",
                   help="one cost weight, the middle of the default 3-weight grid (as --quick)")
    args = p.parse_args(argv)
    if args.quick:
        args.sizes, args.seeds = [s for s in args.sizes if s <= 10000][:2] or [2000], [0]

    threads_desc = set_threads(args.threads, args.omp_passive)
    from sklearn_causal_routing.experiments import cost_weight_grid, routing_learning_curve
    from sklearn_causal_routing.datasets import SemiSyntheticWorld, load_routing_table

    t_start = time.perf_counter()
    out = ["# How many logs it takes: learning curves on calibrated worlds\n"]
    out += environment_lines(threads_desc, extra=[
        f"sizes: {args.sizes}; seeds: {args.seeds}; test world: {args.test_size:,} queries",
        "logs: task-confounded (skew 5), propensities recorded; router: RegretRouter() "
        "(RM-Softmax, default settings); full feedback: per-model RidgeCV on every outcome",
    ])
    ran = 0
    for key in args.tables:
        label, stem = TABLES[key]
        path, emb = args.data_dir / f"{stem}.parquet", args.data_dir / f"{stem}_minilm.npy"
        out.append(f"\n## {label}\n")
        if not (path.is_file() and emb.is_file()):
            msg = (f"skipped: {path.name} and {emb.name} are not available under "
                   f"{args.data_dir} (they are not shipped with the project)")
            progress(f"{label}: {msg}")
            out.append(msg + ".")
            continue
        table = load_routing_table(path, embeddings=emb)
        t0 = time.perf_counter()
        world = SemiSyntheticWorld().fit(table)
        t_fit = time.perf_counter() - t0
        progress(f"{label}: world calibrated in {t_fit:.1f}s")
        test = world.sample(args.test_size, random_state=0)
        grid = cost_weight_grid(test, args.n_cost_weights)
        weights = [cost_weight_grid(test, 3)[1]] if args.quick or args.middle_weight else None
        t0 = time.perf_counter()
        res = routing_learning_curve(
            world, args.sizes, seeds=args.seeds, cost_weights=weights,
            n_cost_weights=args.n_cost_weights, test_size=args.test_size,
            progress=sys.stderr,
        )
        t_curve = time.perf_counter() - t0
        out.append(f"{table.n_samples:,} queries x {table.n_models} models; world "
                   f"calibrated in {t_fit:.0f} s; curve run in {t_curve:.0f} s.\n")
        out.append(res.to_markdown())
        out.append("")
        out += _calibration_lines(table, world, test, weights or grid)
        if res.settings["warnings"]:
            out.append("\nWarnings while fitting (count x message):\n")
            out += [f"- {n} x {msg}" for msg, n in sorted(res.settings["warnings"].items(),
                                                          key=lambda kv: -kv[1])[:8]]
        ran += 1
    if not ran:
        print(f"skipped: no real table is available under {args.data_dir} (the shared "
              "data is not shipped with the project)")
        return 0
    out.append(f"\nTotal run {time.perf_counter() - t_start:.0f} s.")
    emit("\n".join(out), args, NAME)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
