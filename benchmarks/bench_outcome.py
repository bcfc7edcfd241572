"""Outcome models on the real tables: per-model ridges against pooled ones.

For each seed, the runner's ``main`` scenario logs the train split (task-confounded,
skew 5, propensities recorded); each outcome model is fitted on the logged rows
(quality and cost), and the plug-in router routes each test query to the argmax of
``quality - cost_weight * cost``. Figures: TRUE mean test utility averaged over the
runner's 5 cost weights, mean over seeds, the paired difference to the best single
model in hindsight (with its standard error over seeds), and the share of the
full-feedback router's gain recovered. Swept over the cost weights from one fit.

Run from the repository root::

    .venv/bin/python benchmarks/bench_outcome.py --threads 1            # both tables
    .venv/bin/python benchmarks/bench_outcome.py --threads 1 --quick    # 2 seeds, RouterBench
    .venv/bin/python benchmarks/bench_outcome.py --tables mmlu_pro --mlp  # + PooledMLP

Skips a table with a message when the shared data folder lacks it.
"""

import time

import numpy as np
from _common import REPO_ROOT, emit, environment_lines, md_table, parser, progress, set_threads

NAME = "bench_outcome"
DATA = REPO_ROOT.parent / "shared" / "data"


def _variants(mlp):
    from sklearn.linear_model import RidgeCV

    from sklearn_causal_routing.outcome import PooledMLP, PooledRidge

    out = {
        "per-model RidgeCV (the default)": lambda: RidgeCV(alphas=np.logspace(-2, 3, 6)),
        "PooledRidge()": lambda: PooledRidge(),
        'PooledRidge(intercepts="shrunk")': lambda: PooledRidge(intercepts="shrunk"),
    }
    if mlp:
        out["PooledMLP(random_state=0)"] = lambda: PooledMLP(random_state=0)
    return out


def _run_table(table, seeds, variants):
    from sklearn_causal_routing._utility import fit_per_model, predict_per_model
    from sklearn_causal_routing.experiments._runner import (
        SCENARIOS,
        FullFeedbackRouter,
        _simulate_logs,
        _split,
        cost_weight_grid,
    )

    models = np.asarray(table.models)
    values = {name: [] for name in ["best single (hindsight)", "full feedback", *variants]}
    for seed in seeds:
        train_full, test = _split(table, seed)
        train, logs = _simulate_logs(train_full, SCENARIOS["main"], seed)
        grid = cost_weight_grid(train_full, 5)
        fb = logs.feedback
        classes = np.unique(fb["action"])
        action = np.searchsorted(classes, fb["action"])
        rows = np.arange(len(fb))
        X = logs.X.astype(np.float64)

        def mean_value(decide):
            return float(np.mean([test.value(decide(cw), cw) for cw in grid]))

        values["best single (hindsight)"].append(mean_value(
            lambda cw: np.full(test.n_samples, test.best_single_model(cw)[0])))
        full = FullFeedbackRouter().fit(train.X, train.utility(0.0), train.cost)
        values["full feedback"].append(mean_value(lambda cw: models[full.decisions(test.X, cw)]))
        for name, make in variants.items():
            t0 = time.perf_counter()
            q = predict_per_model(
                fit_per_model(X, fb["quality"], action, rows, classes, make()), test.X)
            c = predict_per_model(
                fit_per_model(X, fb["cost"], action, rows, classes, make()), test.X)
            values[name].append(mean_value(lambda cw: classes[np.argmax(q - cw * c, axis=1)]))
            progress(f"seed {seed} {name}: {values[name][-1]:.4f} "
                     f"({time.perf_counter() - t0:.1f} s)")
    best = np.array(values["best single (hindsight)"])
    gain = np.mean(np.array(values["full feedback"]) - best)
    rows = []
    for name, vals in values.items():
        vals = np.array(vals)
        diff = vals - best
        se = np.std(diff, ddof=1) / np.sqrt(len(diff)) if len(diff) > 1 else float("nan")
        rows.append([name, f"{vals.mean():.4f}", f"{diff.mean():+.4f} ± {se:.4f}",
                     f"{diff.mean() / gain:.0%}" if gain > 0 else "n/a"])
    return md_table(["outcome model (plug-in argmax)", "true utility",
                     "vs best single (± s.e.)", "full-feedback gain recovered"], rows)


def main(argv=None):
    p = parser(__doc__.splitlines()[0], NAME)
    p.add_argument("--tables", default="routerbench_subset,mmlu_pro",
                   help="comma-separated tables of the shared data folder")
    p.add_argument("--seeds", type=int, default=5, help="number of seeds (default 5)")
    p.add_argument("--mlp", action="store_true", help="also PooledMLP (slower)")
    args = p.parse_args(argv)
    threads = set_threads(args.threads, args.omp_passive)
    from sklearn_causal_routing.datasets import load_routing_table

    seeds = list(range(2 if args.quick else args.seeds))
    names = ["routerbench_subset"] if args.quick else args.tables.split(",")
    lines = [f"# {NAME}", "", *environment_lines(threads), ""]
    for name in names:
        path, emb = DATA / f"{name}.parquet", DATA / f"{name}_minilm.npy"
        if not (path.is_file() and emb.is_file()):
            lines += [f"## {name}", "", f"skipped: {path} is not available", ""]
            continue
        table = load_routing_table(path, embeddings=emb)
        t0 = time.perf_counter()
        body = _run_table(table, seeds, _variants(args.mlp))
        lines += [f"## {name} ({len(seeds)} seeds, {time.perf_counter() - t0:.0f} s)", "",
                  body, ""]
    emit("\n".join(lines), args, NAME)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
