"""
The quality/cost curve of one IntervalRouter, and a budget
==========================================================

One :class:`~sklearn_causal_routing.IntervalRouter` is fitted once, from biased
logs, for every cost weight between 0 and about 946 (at 946 the cheapest model
becomes the best single model on the RouterBench subset). Sweeping the cost
weight at prediction time traces the router's quality/cost curve, which is
plotted against the true mean quality and mean cost of every single model and
of :class:`~sklearn_causal_routing.RegretRouter` fitted separately at a few
cost weights. Then ``calibrate_budget`` picks the cost weight that keeps the
doubly robust estimate of spend, on held-out logs, under a budget, and the
script compares that estimate with the true spend on the test prompts.

Data: the 3-task RouterBench subset in the shared data folder (default
``../shared/data`` from the repository root). When it is absent the script
prints "skipped: ..." and exits 0; ``--simulated`` runs on a simulated
:class:`~sklearn_causal_routing.datasets.RoutingWorld` instead.

Run from anywhere::

    python examples/plot_interval_pareto.py                 # RouterBench, under a minute on CPU
    python examples/plot_interval_pareto.py --simulated
    python examples/plot_interval_pareto.py --quick         # seconds: small simulated world
    python examples/plot_interval_pareto.py --out /tmp/pareto.png

The figure goes to ``--out``, else to ``$SCR_EXAMPLES_OUTPUT/interval_pareto.png``
when that variable names a folder, else to ``examples/output/interval_pareto.png``.
Needs matplotlib (``pip install "sklearn-causal-routing[plot]"``) and, for the
RouterBench data, pandas and pyarrow (``[data]``).
"""

# %%
# Settings
# --------
# Every size is a command-line option, so that the test suite can run the
# script in seconds (``--quick``).

import argparse
import os
import sys
import time
import warnings
from pathlib import Path

import numpy as np

EXAMPLES = Path(__file__).resolve().parent
REPO = EXAMPLES.parent

parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
parser.add_argument("--data-dir", type=Path, default=REPO.parent / "shared" / "data",
                    help="folder with the RouterBench subset (default: ../shared/data "
                         "from the repository root)")
parser.add_argument("--simulated", action="store_true",
                    help="use a simulated RoutingWorld instead of RouterBench")
parser.add_argument("--quick", action="store_true",
                    help="tiny simulated run for tests (implies --simulated)")
parser.add_argument("--oracle", action="store_true",
                    help="also plot the per-query oracle at each swept cost weight")
parser.add_argument("--out", type=Path, default=None, help="PNG file to write")
parser.add_argument("--seed", type=int, default=0)
args = parser.parse_args()

if args.out is None:
    folder = os.environ.get("SCR_EXAMPLES_OUTPUT")
    args.out = (Path(folder) if folder else EXAMPLES / "output") / "interval_pareto.png"

try:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
except ImportError:
    sys.exit('This example needs matplotlib: pip install "sklearn-causal-routing[plot]"')

from sklearn_causal_routing import IntervalRouter, RegretRouter
from sklearn_causal_routing.datasets import RoutingWorld, load_routerbench_subset
from sklearn_causal_routing.exceptions import OverlapWarning

start = time.perf_counter()

# %%
# Data: biased logs for training, held-out logs for the budget, truth for scoring
# -------------------------------------------------------------------------------
# On RouterBench the predefined train split (2,205 prompts) is logged once with
# the task-confounded rule: each prompt is served by one model, drawn with
# probability proportional to ``exp(5 * the model's mean quality on the
# prompt's task)``. A quarter of those logged rows is kept aside as the
# *held-out logs* on which the budget is calibrated (think: last week's
# traffic); the router is fitted on the rest. The 945 test prompts, with the
# outcome of every model, are the truth the curves are drawn from.

simulated = args.simulated or args.quick
if simulated:
    sizes = (600, 400) if args.quick else (3000, 2000)
    world = RoutingWorld(n_models=3 if args.quick else 4, random_state=args.seed)
    train = world.sample(sizes[0], random_state=args.seed + 1)
    test = world.sample(sizes[1], random_state=args.seed + 2)
    high = 1.0                       # simulated costs are ~0.02 to 1 per call
    cost_unit, quality_unit = "cost units", "expected quality"
    source = f"simulated RoutingWorld ({world.n_models} models)"
else:
    try:
        table = load_routerbench_subset(args.data_dir)
    except FileNotFoundError as exc:
        print(f"skipped: the RouterBench subset is not available ({exc}). "
              "Pass --data-dir DIR, or --simulated to run on a simulated world.")
        sys.exit(0)
    train, test = table.split_by("train"), table.split_by("test")
    # The cost weight at which the cheapest model becomes the best single model
    # on the training prompts (about 946 USD^-1): past it, nothing changes.
    high = 946.0
    cost_unit, quality_unit = "USD", "graded correctness, 0 or 1"
    source = "RouterBench subset (3 tasks, 11 models)"

logs = train.log("confounded", random_state=args.seed)
rng = np.random.RandomState(args.seed)
held_out = rng.rand(len(train)) < 0.25
X_fit, fb_fit = logs.X[~held_out], logs.feedback[~held_out]
X_cal, fb_cal = logs.X[held_out], logs.feedback[held_out]
short = {m: str(m).split("/")[-1] for m in test.models}
print(f"{source}: {len(fb_fit)} logged rows to fit, {len(fb_cal)} held-out logged rows, "
      f"{len(test)} test queries with every model's outcome.")

# %%
# One fit for the whole range
# ---------------------------
# The doubly robust stage is fitted once (quality and cost apart); the network
# learns endpoint heads at ``n_intervals + 1`` grid points and a correction per
# interval, and ``predict(X, cost_weight=c)`` interpolates for any ``c`` in the
# range.

net = {"hidden_layer_sizes": (16,), "max_epochs": 5} if args.quick else {}
with warnings.catch_warnings():
    warnings.simplefilter("ignore", OverlapWarning)
    tic = time.perf_counter()
    router = IntervalRouter(cost_weight_range=(0.0, high), random_state=args.seed, **net)
    router.fit(X_fit, fb_fit)
    fit_seconds = time.perf_counter() - tic
print(f"IntervalRouter fitted in {fit_seconds:.1f} s on the grid {np.round(router.grid_, 3)}, "
      f"{len(router.policy_.history)} epochs.")

# %%
# Sweep the cost weight and score against the truth
# -------------------------------------------------
# For each cost weight, the router's decisions on the test queries give a true
# mean quality and a true mean cost per query: one point of its quality/cost
# curve. No refitting: only ``predict`` changes. The sweep is denser at small
# cost weights (quadratic spacing), where the expensive model drops out and the
# decisions change fastest; an evenly spaced sweep of 41 points jumps from
# ~24 to ~47 and misses the operating points in between.

sweep = high * np.linspace(0.0, 1.0, 11 if args.quick else 41) ** 2
points = []
for c, decisions in zip(sweep, router.predict_sweep(test.X, sweep)):   # one network pass
    points.append((test.mean_cost(decisions), test.mean_quality(decisions),
                   test.value(decisions, c), test.best_single_model(c)))

print(f"\n{'cost weight':>11}  {'quality':>7}  {'cost':>9}  {'utility':>7}  "
      f"{'best single':>11}  (its utility)")
for c, (cost, quality, value, (best, best_value)) in zip(sweep, points):
    print(f"{c:11.4g}  {quality:7.3f}  {cost:9.3g}  {value:7.3f}  "
          f"{short[best]:>11.11}  ({best_value:.3f})")

gap = np.array([value - best_value for _, _, value, (_, best_value) in points])
print(f"\nTrue utility minus the best single model's, over the sweep: mean {gap.mean():+.4f}, "
      f"min {gap.min():+.4f}, max {gap.max():+.4f}.")

singles = {m: (test.mean_cost(np.full(len(test), m)), test.mean_quality(np.full(len(test), m)))
           for m in test.models}

# %%
# For comparison: RegretRouter refitted at a few cost weights
# -----------------------------------------------------------
# A ``RegretRouter`` serves one cost weight. Fitted at the middle of each
# interval of the grid (where the interval router interpolates), with the same
# seed, it reuses the cached utility stage, so each costs only its network.

regret_points = []
mids = (router.grid_[:-1] + router.grid_[1:]) / 2
with warnings.catch_warnings():
    warnings.simplefilter("ignore", OverlapWarning)
    for c in mids:
        single = RegretRouter(cost_weight=c, random_state=args.seed, **net).fit(X_fit, fb_fit)
        d_single = single.predict(test.X)
        d_interval = router.predict(test.X, cost_weight=c)
        regret_points.append((test.mean_cost(d_single), test.mean_quality(d_single)))
        print(f"cost weight {c:8.4g}: true utility RegretRouter {test.value(d_single, c):.3f}, "
              f"IntervalRouter {test.value(d_interval, c):.3f}, "
              f"best single model {test.best_single_model(c)[1]:.3f}")

# %%
# A budget instead of a cost weight
# ---------------------------------
# ``calibrate_budget`` scans cost weights in the fitted range and, on the
# held-out logs, estimates the mean spend of each (doubly robust: the logs show
# only the served model's cost) and the share of calls per model. It keeps the
# smallest cost weight within budget (the least price on cost, hence the most
# quality the budget allows); ``predict`` then uses it by default.
#
# Which spends can the router reach at all? A scan with an unlimited budget
# returns the estimated spend of every candidate (``budget_.candidate_costs``).
# The budget here is halfway between the lowest and the highest of them; on
# the RouterBench subset, where the router sends everything to gpt-4 at cost
# weight 0, that is about half of gpt-4's mean cost per query.

warnings.simplefilter("ignore", OverlapWarning)   # small held-out logs: some models are rare
reachable = router.calibrate_budget(X_cal, fb_cal, max_cost=np.inf).budget_.candidate_costs
max_cost = 0.5 * (reachable.min() + reachable.max())
router.calibrate_budget(X_cal, fb_cal, max_cost=max_cost)
budget = router.budget_
decisions = router.predict(test.X)              # at budget.cost_weight
true_cost, true_quality = test.mean_cost(decisions), test.mean_quality(decisions)
top = [(m, s) for m, s in sorted(budget.estimated_shares.items(), key=lambda kv: -kv[1])[:3]
       if s >= 0.005]
print(f"\nBudget: mean cost per query <= {max_cost:.3g} {cost_unit}.")
print(f"  chosen cost weight      {budget.cost_weight:.4g}")
print(f"  estimated (held-out)    cost {budget.estimated_cost:.3g}, "
      f"quality {budget.estimated_quality:.3f}, shares "
      + ", ".join(f"{short[m]} {s:.2f}" for m, s in top))
print(f"  true (test queries)     cost {true_cost:.3g}, quality {true_quality:.3f}")

# The estimated quality/cost curve behind the choice: the distinct operating
# points of the scan just below and above the chosen weight, estimated on the
# held-out logs and true on the test queries.
chosen = int(np.searchsorted(budget.candidates, budget.cost_weight))   # sorted grid
scan = router.predict_sweep(test.X, budget.candidates)                # (n_candidates, n)
rows, last = [], None
for i, c in enumerate(budget.candidates):
    key = (test.mean_cost(scan[i]), test.mean_quality(scan[i]))
    if key != last or i == chosen:             # a new operating point, or the choice
        rows.append((i, c, budget.candidate_costs[i], budget.candidate_qualities[i], *key))
    last = key
at = next(k for k, row in enumerate(rows) if row[0] == chosen)
print(f"  {'cost weight':>11}  {'in budget':>9}  {'est. cost':>9}  {'est. quality':>12}  "
      f"{'true cost':>9}  {'true quality':>12}")
for i, c, est_cost, est_quality, cost, quality in rows[max(at - 2, 0):at + 3]:
    print(f"  {c:11.4g}  {'yes' if est_cost <= max_cost else 'no':>9}  {est_cost:9.3g}  "
          f"{est_quality:12.3f}  {cost:9.3g}  {quality:12.3f}"
          + ("  <- chosen" if i == chosen else ""))

try:                                            # a budget no cost weight in range meets
    router.calibrate_budget(X_cal, fb_cal, max_cost=0.5 * min(c for c, _ in singles.values()))
except ValueError as exc:
    print(f"\nAn infeasible budget raises ValueError:\n  {exc}")

# %%
# The figure
# ----------
# Mean true quality against mean true cost per query (log scale), on the test
# queries. The router's points are coloured by cost weight and joined in the
# order of the sweep. The right panel zooms on the router's cheap operating
# points (the grey box on the left).

from matplotlib.patches import Rectangle

costs = np.array([p[0] for p in points])
qualities = np.array([p[1] for p in points])
oracle = [test.oracle_decisions(c) for c in sweep] if args.oracle else None


def draw(ax, annotate_fontsize):
    ax.plot(costs, qualities, color="0.6", lw=1, zorder=1)
    sc = ax.scatter(costs, qualities, c=sweep, cmap="viridis", s=30, zorder=3,
                    edgecolor="k", linewidth=0.3,
                    label="IntervalRouter: one fit, cost weight swept")
    for m, (cost, quality) in singles.items():
        ax.scatter(cost, quality, marker="s", color="tab:red", s=30, zorder=2)
        ax.annotate(short[m], (cost, quality), textcoords="offset points", xytext=(4, 3),
                    fontsize=annotate_fontsize, color="tab:red")
    ax.scatter([], [], marker="s", color="tab:red", s=30, label="single model")
    ax.scatter(*zip(*regret_points), marker="x", color="black", s=45, zorder=4,
               label="RegretRouter refitted at an interval midpoint")
    ax.scatter(true_cost, true_quality, marker="*", s=240, color="tab:orange", edgecolor="k",
               zorder=5, label=f"calibrated to the budget (cost weight {budget.cost_weight:.3g})")
    ax.axvline(max_cost, color="tab:orange", ls="--", lw=1, label="budget: max mean cost")
    if oracle is not None:
        ax.plot([test.mean_cost(d) for d in oracle], [test.mean_quality(d) for d in oracle],
                "o:", color="tab:blue", ms=3, label="per-query oracle (needs the truth)")
    ax.set_xscale("log")
    ax.set_xlabel(f"mean cost per query ({cost_unit}, log scale)")
    ax.set_ylabel(f"mean quality ({quality_unit})")
    ax.grid(True, which="both", alpha=0.3)
    return sc


fig, (ax, zoom) = plt.subplots(1, 2, figsize=(15, 7), constrained_layout=True,
                               gridspec_kw={"width_ratios": [3, 2]})
sc = draw(ax, 7)
draw(zoom, 9)
# zoom box: the router's points that cost at most twice the sweep's median and the
# RegretRouter points, with a margin
cheap = costs <= 2 * np.median(costs)
box_c = np.r_[costs[cheap], [c for c, _ in regret_points]]
box_q = np.r_[qualities[cheap], [q for _, q in regret_points]]
lo_c, hi_c = box_c.min() / 1.15, box_c.max() * 1.15
pad = 0.15 * max(box_q.max() - box_q.min(), 0.02)
lo_q, hi_q = box_q.min() - pad, box_q.max() + pad
zoom.set_xscale("linear")                       # a narrow range: linear reads better
zoom.ticklabel_format(axis="x", style="sci", scilimits=(-3, 3))
zoom.set_xlabel(f"mean cost per query ({cost_unit})")
zoom.set_xlim(lo_c, hi_c)
zoom.set_ylim(lo_q, hi_q)
ax.add_patch(Rectangle((lo_c, lo_q), hi_c - lo_c, hi_q - lo_q, fill=False, color="0.4",
                       ls="-", lw=1, zorder=0))
ax.set_title(f"One IntervalRouter for cost weights 0 to {high:g}:\n"
             f"true quality and cost on {len(test)} test queries, {source}", fontsize=11)
zoom.set_title("zoom on the box", fontsize=11)
ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.11), ncol=3)
fig.colorbar(sc, ax=zoom, label=f"cost weight (quality per {cost_unit})")

args.out.parent.mkdir(parents=True, exist_ok=True)
fig.savefig(args.out, dpi=110)
print(f"\nSaved {args.out} ({time.perf_counter() - start:.0f} s in all).")
