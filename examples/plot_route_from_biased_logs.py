"""
Learn a router from biased logs, and check it against the truth
===============================================================

A walkthrough on a simulated routing world, where the outcome of every model on
every query is known, so that routers trained from the logs alone can be scored
against the truth:

1. a gateway served each training query with one model, chosen by a biased
   rule (each task goes mostly to the models that look good on it);
2. the naive per-model averages of those logs are biased; the doubly robust
   estimates are not;
3. from the logs only, fit :class:`~sklearn_causal_routing.RegretRouter` with
   RM-Softmax and with RM-Classification, the decoupled per-model regression
   baseline and the best single model (estimated from the logs), and, as a
   plug-in reference, the decoupled baseline on *full feedback* (every model's
   outcome on every training query): not an upper bound, since a flexible
   router trained on the logs can beat it;
4. print each router's true mean utility, its regret against the per-query
   oracle, its share of calls and its doubly robust score on held-out logs (the
   number you can compute in production), and save a bar chart of the regrets.

Step 3 is the comparison of ``python -m sklearn_causal_routing.demo``, through the
same function (:func:`sklearn_causal_routing.demo.compare_routers`), so that the two
cannot drift apart; this walkthrough adds steps 1, 2, the held-out scores and the
chart.

Run from anywhere::

    python examples/plot_route_from_biased_logs.py            # under a minute on CPU
    python examples/plot_route_from_biased_logs.py --quick    # seconds, for tests
    python examples/plot_route_from_biased_logs.py --out /tmp/routers.png

The figure goes to ``--out``, else to
``$SCR_EXAMPLES_OUTPUT/route_from_biased_logs.png`` when that variable names a
folder, else to ``examples/output/route_from_biased_logs.png``. Needs
matplotlib (``pip install "sklearn-causal-routing[plot]"``).
"""

# %%
# Settings
# --------

import argparse
import os
import sys
import time
import warnings
from pathlib import Path

import numpy as np

EXAMPLES = Path(__file__).resolve().parent

parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
parser.add_argument("--quick", action="store_true",
                    help="small world, one cost weight, tiny networks (for tests)")
parser.add_argument("--out", type=Path, default=None, help="PNG file to write")
parser.add_argument("--seed", type=int, default=0)
args = parser.parse_args()

if args.out is None:
    folder = os.environ.get("SCR_EXAMPLES_OUTPUT")
    args.out = (Path(folder) if folder else EXAMPLES / "output") / "route_from_biased_logs.png"

try:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
except ImportError:
    sys.exit('This example needs matplotlib: pip install "sklearn-causal-routing[plot]"')

from sklearn_causal_routing import DoublyRobustUtility
from sklearn_causal_routing.datasets import RoutingWorld
from sklearn_causal_routing.demo import compare_routers, format_comparison
from sklearn_causal_routing.exceptions import OverlapWarning

start = time.perf_counter()
n_train, n_test = (800, 1000) if args.quick else (3000, 4000)
cost_weights = [0.25] if args.quick else [0.0, 0.25, 0.5]
net = {"hidden_layer_sizes": (16,), "max_epochs": 5} if args.quick else {}

# %%
# A world, and the logs its gateway kept
# --------------------------------------
# Four models in price tiers (cheapest first). Queries come from task clusters;
# every task has a specialist, and harder queries hurt cheap models more. The
# logging rule sends each task mostly to the models with the best mean quality
# on it (``skew=5``) and records the probability it used.

world = RoutingWorld(n_models=4, random_state=args.seed)
train = world.sample(n_train, random_state=args.seed + 1)
test = world.sample(n_test, random_state=args.seed + 2)
logs = train.log("confounded", random_state=args.seed + 3)
test_logs = test.log("confounded", random_state=args.seed + 4)   # held-out logs
models = list(world.models)

print(f"{len(models)} models {[str(m) for m in models]}, "
      f"prices per call {np.round(world.prices, 3).tolist()}")
print(f"{n_train} logged training queries, {n_test} test queries.\n")
print("Share of each task's queries served by each model (rows: tasks):")
print(f"{'':>8}" + "".join(f"{m:>8}" for m in models))
for task in np.unique(train.task):
    served = logs.t[train.task == task]
    print(f"{task:>8}" + "".join(f"{np.mean(served == m):8.2f}" for m in models))

# %%
# The naive averages of the logs are biased
# -----------------------------------------
# Each model was logged on the queries the old rule chose for it, so the mean
# quality of its logged rows is not its mean quality on all queries. The doubly
# robust estimate (cross-fitted outcome models, corrected by inverse
# propensities) recovers it from the same logs.

with warnings.catch_warnings():
    warnings.simplefilter("ignore", OverlapWarning)
    dr = DoublyRobustUtility(random_state=args.seed).fit(logs.X, logs.feedback)
dr_quality = dict(zip(dr.classes_, dr.quality_.mean(axis=0)))
true_quality = dict(zip(models, train.expected_quality.mean(axis=0)))

print(f"\n{'model':>8}  {'logged rows':>11}  {'naive mean':>10}  {'DR estimate':>11}  {'truth':>6}")
for m in models:
    rows = logs.t == m
    print(f"{m:>8}  {rows.sum():11d}  {logs.feedback['quality'][rows].mean():10.3f}  "
          f"{dr_quality[m]:11.3f}  {true_quality[m]:6.3f}")

# %%
# Fit every router from the logs, at each cost weight
# ---------------------------------------------------
# The routers are the demo's (``demo.make_routers``): RM-Softmax, RM-Classification,
# the decoupled baseline and the best single model, all fitted from the logs
# only. They share one seed, so the RegretRouters and the single-model router
# reuse one fitted utility stage (see the utility cache in the docs): only the
# networks are trained per cost weight. ``compare_routers`` also fits the
# full-feedback reference, which sees every model's outcome on every training
# query (``train.full_feedback()``). It is the decoupled per-model ridge
# regression, a plug-in rule, so a flexible router trained on logs can come
# close to it or, at some cost weights, beat it.

results = {}                 # {cost_weight: {router: {"utility", "regret", "score", ...}}}
for cw in cost_weights:
    results[cw] = compare_routers(train, logs, test, cw, random_state=args.seed,
                                  test_logs=test_logs, **net)

# %%
# The true utility table
# ----------------------
# ``true utility``: mean of ``expected quality - cost_weight * cost`` of the
# router's decisions on the test queries; ``regret``: the per-query oracle's
# value minus that; ``held-out DR``: the router's ``score`` on held-out logs,
# which is all you can compute without the truth. The ordering of the DR column
# should agree with the truth up to noise. A ``*`` marks a RegretRouter that
# fell back to the best single model (its safe default when the logs show no
# gain for its policy).

for cw in cost_weights:
    best, best_value = test.best_single_model(cw)
    print(f"\ncost_weight = {cw:g}: true best single model {best}, utility {best_value:.4f}")
    print(format_comparison(results[cw], test, cw))

# %%
# A bar chart of the true regrets
# -------------------------------
# Lower is better; the dashed line in each group is the regret of the true best
# single model, the bar a router must clear to be worth deploying.

names = list(results[cost_weights[0]])
colors = ["tab:blue", "tab:cyan", "tab:orange", "tab:gray", "tab:green"]
width = 0.8 / len(names)
fig, ax = plt.subplots(figsize=(9, 5), constrained_layout=True)
for k, (name, color) in enumerate(zip(names, colors)):
    x = np.arange(len(cost_weights)) + (k - (len(names) - 1) / 2) * width
    ax.bar(x, [results[cw][name]["regret"] for cw in cost_weights], width, label=name,
           color=color, hatch="//" if "full feedback" in name else None, edgecolor="white")
for g, cw in enumerate(cost_weights):
    single_regret = test.oracle_value(cw) - test.best_single_model(cw)[1]
    ax.hlines(single_regret, g - 0.45, g + 0.45, colors="k", linestyles="--", lw=1,
              label="true best single model" if g == 0 else None)
ax.set_xticks(np.arange(len(cost_weights)),
              [f"cost_weight = {cw:g}" for cw in cost_weights])
ax.set_ylabel("true regret vs per-query oracle\n(expected quality minus cost_weight x cost; "
              "lower is better)")
ax.set_title(f"Routers trained on biased logs ({n_train} queries), "
             f"scored on {n_test} test queries with known truth")
ax.legend(fontsize=8, ncol=2)
ax.grid(axis="y", alpha=0.3)

args.out.parent.mkdir(parents=True, exist_ok=True)
fig.savefig(args.out, dpi=120)
print(f"\nSaved {args.out} ({time.perf_counter() - start:.0f} s in all).")
