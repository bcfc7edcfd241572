"""Why RM-Softmax recovers less of the full-feedback gain on the MMLU-Pro world at 100k logs.

On the ``SemiSyntheticWorld`` calibrated on MMLU-Pro (29 models), RM-Softmax trained
from 100,000 task-confounded logs recovers far less of the full-feedback gain than on
the RouterBench world (11 models), and the share varies a lot from one draw of the
logs to the next. This script separates the information in the logs from the way the
policy learns it. For each draw (a training world and its logs; the test world and
the cost weight, the middle of the default 3-weight grid, are fixed):

- **references**: full feedback (per-model ``RidgeCV`` on every outcome of the same
  queries), the best single model on the training world (hindsight), the per-query
  oracle, and two task-level routers: the task-level oracle (each task to its best
  model on the test world's truth) and **per-task IPW from the logs** (each task to
  the model with the best self-normalised inverse-propensity estimate of its mean
  utility within that task, from the logged rows and their recorded propensities).
  The task label is not a feature of any router; the per-task estimate only shows
  how much of the gain the logs carry. The same estimate per cluster of a k-means
  of the logged embeddings (50 clusters) needs no label.
- **policy variants** (``RegretRouter(fallback=None)``, the same cached utility
  stage per draw, so only the policy network differs): the default (early stopping
  on a 10% validation split, best epoch restored), keeping the last epoch's weights,
  10 epochs without a validation split, a 30% validation split, batches of 2,048
  with the last epoch kept, and dropout 0.3.

Every figure is the TRUE mean test utility, and "share" is (router - best single) /
(full feedback - best single). Run from the repository root::

    .venv/bin/python benchmarks/bench_policy_training.py --threads 1            # ~12 min
    .venv/bin/python benchmarks/bench_policy_training.py --threads 1 --quick    # ~2 min
    .venv/bin/python benchmarks/bench_policy_training.py --table routerbench_subset

``--quick`` draws 10,000 logs once. Skips (exit 0) with a message when the shared data
folder is absent.
"""

import time
from pathlib import Path

import numpy as np
from _common import (
    SHARED_DATA,
    emit,
    environment_lines,
    load_shared_table,
    md_table,
    parser,
    progress,
    set_threads,
)

NAME = "bench_policy_training"

#: Clusters of the label-free per-cluster reference (k-means on the embedding).
CLUSTERS = 50

VARIANTS = {
    "default (best epoch restored)": {},
    "last epoch kept": {"callbacks__early_stopping__load_best": False},
    "10 epochs, no validation split": {"validation_fraction": None, "max_epochs": 10},
    "30% validation split": {"validation_fraction": 0.3},
    "batches of 2,048, last epoch kept": {
        "batch_size": 2048, "callbacks__early_stopping__load_best": False,
    },
    "dropout 0.3": {"module__dropout": 0.3},
}


def _per_group_decisions(test, test_group, logs, logs_group, models, w, truth=False):
    """Each group of queries to one model: its best by the test truth, or by SNIPW."""
    decisions = np.empty(test.n_samples, dtype=models.dtype)
    if truth:
        U = test.utility(w)
    else:
        fb = logs.feedback
        action = np.searchsorted(models, fb["action"])
        u = fb["quality"] - w * fb["cost"]
        weight = 1.0 / fb["propensity"]
    for group in np.unique(test_group):
        if truth:
            best = np.argmax(U[test_group == group].mean(axis=0))
        else:
            est = np.full(len(models), -np.inf)
            for k in range(len(models)):
                rows = (logs_group == group) & (action == k)
                if rows.any():
                    est[k] = np.sum(weight[rows] * u[rows]) / np.sum(weight[rows])
            best = np.argmax(est)
        decisions[test_group == group] = models[best]
    return decisions


def main(argv=None):
    p = parser(__doc__.split("\n\n")[0], NAME)
    p.add_argument("--data-dir", type=Path, default=SHARED_DATA)
    p.add_argument("--table", choices=("mmlu_pro", "routerbench_subset"), default="mmlu_pro")
    p.add_argument("--size", type=int, default=100000, help="logged queries per draw")
    p.add_argument("--draws", type=int, nargs="+", default=[11, 21, 31, 41, 51],
                   help="seeds of the training worlds and their logs")
    args = p.parse_args(argv)
    if args.quick:
        args.size, args.draws = 10000, args.draws[:1]
    threads = set_threads(args.threads, args.omp_passive)

    table = load_shared_table(args.table, args.data_dir)
    if table is None:
        print(f"skipped: {args.table} is not available under {args.data_dir} (the shared "
              "data is not shipped with the project)")
        return 0

    from sklearn.cluster import KMeans

    from sklearn_causal_routing import RegretRouter
    from sklearn_causal_routing.datasets import SemiSyntheticWorld
    from sklearn_causal_routing.experiments import cost_weight_grid
    from sklearn_causal_routing.experiments._runner import FullFeedbackRouter

    t_start = time.perf_counter()
    world = SemiSyntheticWorld().fit(table)
    test = world.sample(20000, random_state=0)
    w = cost_weight_grid(test, 3)[1]
    models = np.asarray(world.models_)
    progress(f"world calibrated; cost weight {w:.4g}")

    refs = ["full feedback", "best single (hindsight)", "oracle", "task-level oracle",
            "per-task IPW from the logs",
            f"per-cluster IPW from the logs ({CLUSTERS} k-means clusters)"]
    values = {name: [] for name in refs + list(VARIANTS)}
    epochs = {name: [] for name in VARIANTS}
    for draw in args.draws:
        train = world.sample(args.size, random_state=draw)
        logs = train.log("confounded", skew=5.0, random_state=draw + 1)
        full = FullFeedbackRouter().fit(train.X, train.quality, train.cost)
        q, c = full.outcomes(test.X)
        values["full feedback"].append(test.value(models[np.argmax(q - w * c, axis=1)], w))
        best = train.best_single_model(w)[0]
        values["best single (hindsight)"].append(
            test.value(np.full(test.n_samples, best, dtype=models.dtype), w))
        values["oracle"].append(test.oracle_value(w))
        values["task-level oracle"].append(test.value(_per_group_decisions(
            test, test.task, logs, train.task, models, w, truth=True), w))
        values["per-task IPW from the logs"].append(test.value(_per_group_decisions(
            test, test.task, logs, train.task, models, w), w))
        km = KMeans(CLUSTERS, n_init=1, random_state=0).fit(logs.X)
        values[f"per-cluster IPW from the logs ({CLUSTERS} k-means clusters)"].append(
            test.value(_per_group_decisions(test, km.predict(test.X), logs, km.labels_,
                                            models, w), w))
        for name, params in VARIANTS.items():
            t0 = time.perf_counter()
            router = RegretRouter(cost_weight=w, fallback=None, random_state=0, **params)
            router.fit(logs.X, logs.feedback)
            values[name].append(test.value(router.predict(test.X), w))
            epochs[name].append(len(router.policy_.history))
            progress(f"draw {draw} {name}: {values[name][-1]:.4f} "
                     f"({epochs[name][-1]} epochs, {time.perf_counter() - t0:.0f} s)")

    base = np.asarray(values["best single (hindsight)"])
    gain = np.asarray(values["full feedback"]) - base
    rows = []
    for name, vals in values.items():
        vals = np.asarray(vals)
        share = (vals - base) / gain
        rows.append([
            name, f"{vals.mean():.4f}",
            f"{np.sum(vals - base) / np.sum(gain):.0%}",
            " ".join(f"{s:.0%}" for s in share),
            f"{np.mean(epochs[name]):.0f}" if name in epochs else "",
        ])
    lines = [f"# {NAME}", "", *environment_lines(threads, extra=[
        f"table: {args.table}; {args.size:,} task-confounded logs (skew 5) per draw; "
        f"draws {args.draws}; cost weight {w:.4g}; test world 20,000 queries",
    ]), "", md_table(["router", "true utility", "share of the full-feedback gain",
                      "share per draw", "epochs"], rows),
        f"\nTotal run {time.perf_counter() - t_start:.0f} s."]
    emit("\n".join(lines), args, NAME)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
