"""Routers learned from task-confounded logs of a 3-task RouterBench subset.

Real full-feedback data (every prompt answered by all 11 models): on the train
split we simulate biased logs (``table.log(policy="confounded")``: one model per
prompt, drawn with probability ~ exp(skew * the model's mean quality on the
prompt's task)) and train every router on those logs alone. On the test split
we score the routers' decisions against the full table (TRUE utility
``quality - cost_weight * cost``), at cost weights from 0 to the point where
the cheapest model becomes the best single model on the train split.

Run from the repository root::

    .venv/bin/python benchmarks/bench_routerbench.py            # ~10-20 min
    .venv/bin/python benchmarks/bench_routerbench.py --quick    # ~1-2 min

Skips (exit 0) when the shared data folder is absent.
"""

import inspect
import sys
import time
from collections import defaultdict
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

NAME = "bench_routerbench"

# Methods, in report order. "fitted" ones are trained from the logs.
RM_SOFTMAX = "RM-Softmax (RegretRouter, loss='softmax')"
RM_SOFTMAX_STOCH = "RM-Softmax, sampling predict_proba"
RM_CLASS = "RM-Classification (RegretRouter, loss='classification')"
DECOUPLED = "DecoupledRouter (per-model ridge on observed rows)"
SINGLE = "SingleModelRouter() (best model by DR on the logs)"
FULL = "full-feedback router (per-model RidgeCV on all train rows)"
HINDSIGHT = "best single model, hindsight on test (reference)"
LOGGER = "logging policy itself (confounded)"
ORACLE = "per-query oracle (upper bound)"
METHODS = [ORACLE, FULL, HINDSIGHT, RM_SOFTMAX, RM_SOFTMAX_STOCH, RM_CLASS, SINGLE,
           DECOUPLED, LOGGER]
SHORT = {
    ORACLE: "oracle",
    FULL: "full feedback",
    HINDSIGHT: "best single (hindsight)",
    RM_SOFTMAX: "RM-Softmax",
    RM_SOFTMAX_STOCH: "RM-Softmax (stochastic)",
    RM_CLASS: "RM-Classification",
    SINGLE: "SingleModelRouter",
    DECOUPLED: "DecoupledRouter",
    LOGGER: "logger",
}
LOG_TRAINED = [RM_SOFTMAX, RM_CLASS, DECOUPLED, SINGLE]

# Same penalty grid as the library's default outcome model (DoublyRobustUtility),
# so that the full-feedback router differs from the decoupled one only in its data.
RIDGE_ALPHAS = np.logspace(-2, 3, 6)


class FullFeedbackRouter:
    """Upper reference: per-model RidgeCV for quality and cost on ALL train rows.

    Uses the full table (every model's outcome on every training prompt), which
    logs never give. ``RidgeCV(alpha_per_target=True)`` on the (n, K) targets is
    the same as one RidgeCV per model (each column picks its own penalty by
    efficient leave-one-out), in one decomposition of X.
    """

    def fit(self, X, quality, cost, models):
        from sklearn.linear_model import RidgeCV

        self.models = np.asarray(models)
        self.quality_model = RidgeCV(alphas=RIDGE_ALPHAS, alpha_per_target=True).fit(X, quality)
        self.cost_model = RidgeCV(alphas=RIDGE_ALPHAS, alpha_per_target=True).fit(X, cost)
        return self

    def predict(self, X, cost_weight):
        u = self.quality_model.predict(X) - cost_weight * self.cost_model.predict(X)
        return self.models[np.argmax(u, axis=1)]


def cheapest_breakpoint(table):
    """(cheapest model, the weight from which it is the best single model):
    the package's closed form, re-exported for the other benchmark scripts."""
    from sklearn_causal_routing.experiments import cheapest_breakpoint as closed_form

    return closed_form(table)


def scan_check(table, cheapest, cw_star, n_grid=4001):
    """Brute-force check of the breakpoint: first weight of a grid on [0, 2 * cw_star]
    at which ``table.best_single_model`` is the cheapest model; also the grid step."""
    hi = 2 * cw_star if cw_star > 0 else 1.0
    grid = np.linspace(0, hi, n_grid)
    for cw in grid:
        if str(table.best_single_model(float(cw))[0]) == cheapest:
            return float(cw), float(grid[1] - grid[0])
    return float("nan"), float(grid[1] - grid[0])


def reorder_proba(proba, router_classes, table):
    """Router's predict_proba columns (sorted labels) -> the table's model order."""
    P = np.zeros((proba.shape[0], table.n_models))
    P[:, table.model_index(np.asarray(router_classes))] = proba
    return P


def short_model(name):
    name = str(name).split("/")[-1]
    return name if len(name) <= 22 else name[:21] + "~"


def fmt(x, nd=3):
    if x is None or (isinstance(x, float) and not np.isfinite(x)):
        return "n/a"
    return f"{x:.{nd}f}"


def mean_std(values):
    values = np.asarray(values, dtype=float)
    mean = float(values.mean())
    std = float(values.std(ddof=1)) if values.size > 1 else float("nan")
    return mean, std


def main(argv=None):
    p = parser(__doc__.split("\n\n")[0], NAME)
    p.add_argument(
        "--data-dir",
        type=Path,
        default=REPO_ROOT / ".." / "shared" / "data",
        help="folder with routerbench_subset.parquet and routerbench_subset_minilm.npy "
        "(relative paths: relative to the current directory)",
    )
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2],
                   help="logging / training seeds (one run per seed)")
    p.add_argument("--n-cost-weights", type=int, default=5,
                   help="evenly spaced cost weights from 0 to the cheapest-model point")
    p.add_argument("--skew", type=float, default=None,
                   help="inverse temperature of the confounded logger "
                   "(default: RoutingTable.log's default)")
    p.add_argument("--estimate-propensity", action="store_true",
                   help="log WITHOUT recorded propensities (the XGBoost propensity "
                   "model is then fitted); default: propensities recorded")
    p.add_argument("--test-log-offset", type=int, default=1000,
                   help="the test split is logged with seed + this, for router.score")
    args = p.parse_args(argv)
    if args.quick:
        args.seeds = args.seeds[:1]
        args.n_cost_weights = 2

    threads_desc = set_threads(args.threads, args.omp_passive)  # before torch loads

    from sklearn_causal_routing import RegretRouter, _utility
    from sklearn_causal_routing.baselines import DecoupledRouter, SingleModelRouter
    from sklearn_causal_routing.datasets import RoutingTable, load_routerbench_subset

    try:
        table = load_routerbench_subset(args.data_dir)
    except FileNotFoundError as exc:
        print(f"skipped: the RouterBench subset is not available ({exc})")
        return 0

    default_skew = inspect.signature(RoutingTable.log).parameters["skew"].default
    skew = default_skew if args.skew is None else args.skew
    log_kw = {"policy": "confounded", "record_propensity": not args.estimate_propensity}
    if args.skew is not None:
        log_kw["skew"] = args.skew

    train, test = table.split_by("train"), table.split_by("test")
    models = [str(m) for m in table.models]
    cheapest, cw_star = cheapest_breakpoint(train)
    cheapest = str(cheapest)
    cw_scan, cw_step = scan_check(train, cheapest, cw_star)
    cost_weights = [float(c) for c in np.linspace(0.0, cw_star, args.n_cost_weights)]
    progress(
        f"train {len(train)} / test {len(test)} prompts, {len(models)} models; cheapest "
        f"model {cheapest!r} is the best single model on train from cost weight "
        f"{cw_star:.2f}; cost weights {[round(c, 1) for c in cost_weights]}"
    )

    # value[method][seed] -> list over cost weights; fits[method] -> list of (s, cold)
    value = defaultdict(lambda: defaultdict(list))
    dr_est = defaultdict(lambda: defaultdict(list))
    shares = defaultdict(list)  # cost weight index -> list of share dicts (RM-Softmax)
    chosen = defaultdict(list)  # cost weight index -> SingleModelRouter picks
    fits = defaultdict(list)
    epochs = defaultdict(list)
    tally = WarningTally()

    # Full-feedback reference: independent of the seed; fitted once.
    cpu_time = defaultdict(list)
    c0, t0 = time.process_time(), time.perf_counter()
    full = FullFeedbackRouter().fit(train.X, train.utility(0.0), train.cost, train.models)
    fits[FULL].append((time.perf_counter() - t0, False))
    cpu_time[FULL].append(time.process_time() - c0)

    def timed_fit(method, make, X, fb):
        misses = _utility._cache_stats["misses"]
        with tally:
            c0, t0 = time.process_time(), time.perf_counter()
            est = make().fit(X, fb)
            dt, cpu = time.perf_counter() - t0, time.process_time() - c0
        cold = _utility._cache_stats["misses"] > misses
        fits[method].append((dt, cold))
        cpu_time[method].append(cpu)
        return est

    for seed in args.seeds:
        _utility.clear_utility_cache()
        logs = train.log(random_state=seed, **log_kw)
        test_logs = test.log(random_state=seed + args.test_log_offset, **log_kw)
        logger_P = test.logging_probabilities("confounded", skew=skew)
        for j, cw in enumerate(cost_weights):
            truth = {
                ORACLE: test.oracle_value(cw),
                HINDSIGHT: test.best_single_model(cw)[1],
                FULL: test.value(full.predict(test.X, cw), cw),
                LOGGER: test.value(logger_P, cw),
            }
            routers = {
                RM_SOFTMAX: lambda: RegretRouter(loss="softmax", cost_weight=cw, random_state=seed),
                RM_CLASS: lambda: RegretRouter(
                    loss="classification", cost_weight=cw, random_state=seed
                ),
                DECOUPLED: lambda: DecoupledRouter(cost_weight=cw),
                SINGLE: lambda: SingleModelRouter(cost_weight=cw),
            }
            for method, make in routers.items():
                router = timed_fit(method, make, logs.X, logs.feedback)
                decisions = router.predict(test.X)
                truth[method] = test.value(decisions, cw)
                with tally:
                    dr_est[method][seed].append(router.score(test_logs.X, test_logs.feedback))
                if method == RM_SOFTMAX:
                    P = reorder_proba(router.predict_proba(test.X), router.classes_, test)
                    truth[RM_SOFTMAX_STOCH] = test.value(P, cw)
                    shares[j].append(test.shares(decisions))
                    epochs[method].append(len(router.policy_.history))
                elif method == RM_CLASS:
                    epochs[method].append(len(router.policy_.history))
                elif method == SINGLE:
                    chosen[j].append(str(router.model_))
            for method, v in truth.items():
                value[method][seed].append(v)
            progress(
                f"seed {seed} cw {cw:7.1f}: "
                + ", ".join(f"{SHORT[m]} {truth[m]:.3f}" for m in METHODS if m in truth)
                + f" (load {load_now()})"
            )

    # ------------------------------------------------------------------ report
    seeds = args.seeds
    n_cw = len(cost_weights)

    def per_seed_mean(method):  # mean over cost weights, one per seed
        return [float(np.mean(value[method][s])) for s in seeds]

    def per_cw_mean(method):  # mean over seeds, one per cost weight
        return [float(np.mean([value[method][s][j] for s in seeds])) for j in range(n_cw)]

    oracle_seed = per_seed_mean(ORACLE)
    single_seed = per_seed_mean(SINGLE)
    hind_seed = per_seed_mean(HINDSIGHT)
    out = []
    out.append("# RouterBench subset: routers learned from task-confounded logs\n")
    out += environment_lines(
        threads_desc,
        extra=[
            f"data: {args.data_dir} -> {len(train)} train / {len(test)} test prompts, "
            f"{len(models)} models, {table.n_features}-d MiniLM embeddings",
            f"logs: train split logged with table.log(policy='confounded', skew={skew:g}"
            f"{'' if args.skew is not None else ' (table default)'}, "
            f"record_propensity={not args.estimate_propensity}, random_state=seed); "
            f"test split logged with random_state=seed+{args.test_log_offset} "
            "(only for router.score)",
            f"seeds: {seeds}; every router trained on the train logs only; "
            "values are TRUE mean utilities on the test split (full table)",
            f"cost weights: cheapest model by mean train cost is {cheapest!r}; it becomes "
            f"the best single model on train at cost weight {cw_star:.2f} (closed form; "
            f"scan of best_single_model on a grid of step {cw_step:.2f}: first at "
            f"{cw_scan:.2f}); {n_cw} evenly spaced weights: "
            + ", ".join(f"{c:.1f}" for c in cost_weights),
        ],
    )

    out.append("\n## Mean true test utility over the cost weights\n")
    out.append(
        "Mean over the cost weights; ± is the sample std over seeds; regret = oracle - "
        "value; Δ columns are paired (same seed) differences of the mean."
    )
    rows = []
    for m in METHODS:
        ps = per_seed_mean(m)
        mean, std = mean_std(ps)
        regret = float(np.mean(np.subtract(oracle_seed, ps)))
        d_single = mean_std(np.subtract(ps, single_seed))
        d_hind = float(np.mean(np.subtract(ps, hind_seed)))
        rows.append([
            m,
            f"{mean:.3f} ± {fmt(std)}",
            f"{regret:.3f}",
            f"{d_single[0]:+.3f}" + (f" ± {d_single[1]:.3f}" if np.isfinite(d_single[1]) else ""),
            f"{d_hind:+.3f}",
        ])
    out.append("")
    out.append(md_table(
        ["router", "mean utility", "regret vs oracle", "Δ vs SingleModelRouter",
         "Δ vs best single (hindsight)"],
        rows,
    ))

    out.append("\n## True test utility per cost weight (mean over seeds)\n")
    headers = ["router"] + [f"cw={c:.0f}" for c in cost_weights]
    rows = [[SHORT[m]] + [f"{v:.3f}" for v in per_cw_mean(m)] for m in METHODS]
    out.append(md_table(headers, rows))
    out.append("\nRegret vs the per-query oracle per cost weight:\n")
    oracle_cw = per_cw_mean(ORACLE)
    rows = [
        [SHORT[m]] + [f"{o - v:.3f}" for o, v in zip(oracle_cw, per_cw_mean(m))]
        for m in METHODS if m != ORACLE
    ]
    out.append(md_table(headers, rows))
    rows = []
    for j, cw in enumerate(cost_weights):
        hind_model = test.best_single_model(cw)[0]
        picks = ", ".join(f"{short_model(k)} x{v}" for k, v in
                          sorted(_count(chosen[j]).items(), key=lambda kv: -kv[1]))
        rows.append([f"{cw:.1f}", short_model(hind_model), picks])
    out.append("\nSingle model chosen (hindsight on test vs SingleModelRouter by DR on the "
               "train logs, per seed):\n")
    out.append(md_table(["cost weight", "hindsight best", "SingleModelRouter picks"], rows,
                        align="rll"))

    out.append("\n## RM-Softmax: share of calls per model on the test split\n")
    out.append("Mean over seeds; models with a share < 1% are omitted.\n")
    rows = []
    for j, cw in enumerate(cost_weights):
        mean_share = {m: float(np.mean([s[m] for s in shares[j]])) for m in models}
        top = sorted(mean_share.items(), key=lambda kv: -kv[1])
        txt = ", ".join(f"{short_model(m)} {100 * s:.0f}%" for m, s in top if s >= 0.01)
        n_used = sum(s > 0 for s in mean_share.values())
        rows.append([f"{cw:.1f}", str(n_used), txt])
    out.append(md_table(["cost weight", "models used", "shares"], rows, align="rrl"))

    out.append("\n## Off-policy estimate vs truth: router.score on held-out test logs\n")
    out.append(
        "`router.score(X_test, fb_test)` (DR on the logged test split) against the true "
        "value of the same decisions on the full test table; mean over seeds.\n"
    )
    rows = []
    for j, cw in enumerate(cost_weights):
        est = [dr_est[RM_SOFTMAX][s][j] for s in seeds]
        tru = [value[RM_SOFTMAX][s][j] for s in seeds]
        err = np.subtract(est, tru)
        rows.append([f"{cw:.1f}", f"{np.mean(est):.3f}", f"{np.mean(tru):.3f}",
                     f"{np.mean(err):+.3f}", f"{np.max(np.abs(err)):.3f}"])
    out.append("RM-Softmax per cost weight:\n")
    out.append(md_table(["cost weight", "DR estimate", "true value", "error (mean)",
                         "max |error| over seeds"], rows))
    rows = []
    for m in LOG_TRAINED:
        est = np.array([dr_est[m][s] for s in seeds])
        tru = np.array([value[m][s] for s in seeds])
        err = est - tru
        rows.append([SHORT[m], f"{est.mean():.3f}", f"{tru.mean():.3f}",
                     f"{err.mean():+.3f}", f"{np.abs(err).mean():.3f}"])
    out.append("\nAll log-trained routers (means over seeds and cost weights):\n")
    out.append(md_table(["router", "DR estimate", "true value", "mean error",
                         "mean |error|"], rows))
    # Would model selection by score have picked the right router?
    agree = 0
    total = 0
    for s in seeds:
        for j in range(n_cw):
            by_est = max(LOG_TRAINED, key=lambda m: dr_est[m][s][j])
            best_true = max(value[m][s][j] for m in LOG_TRAINED)
            agree += value[by_est][s][j] >= best_true - 1e-12  # ties count as right
            total += 1
    out.append(f"\nSelecting among the {len(LOG_TRAINED)} log-trained routers by "
               f"`score` picks a truly best one (ties count) in {agree}/{total} "
               "(seed, cost weight) cases.")

    out.append("\n## Fit time\n")
    ref = float(np.mean([t for t, _ in fits[DECOUPLED]]))
    out.append(
        "Seconds per `fit` call, measured in this run (see load above; indicative only). "
        "For routers with a DR utility stage (RM-*, SingleModelRouter): *warm* = the "
        "stage came from the in-process cache (a router at another cost weight, or the "
        "other RM loss, fitted it already for this seed); *cold* = the stage was "
        "fitted in that call (a standalone fit costs about the cold time). Ratio = mean fit time / "
        f"mean DecoupledRouter fit time ({ref:.2f} s, same run). CPU s = the process's "
        "CPU seconds (all threads) per fit: on a loaded machine wall >> CPU.\n"
    )
    rows = []
    for m in [RM_SOFTMAX, RM_CLASS, SINGLE, DECOUPLED, FULL]:
        all_t = [t for t, _ in fits[m]]
        cold = [t for t, c in fits[m] if c]
        warm = [t for t, c in fits[m] if not c]
        ep = f"{np.mean(epochs[m]):.0f}" if epochs.get(m) else ""
        staged = m in (RM_SOFTMAX, RM_CLASS, SINGLE)
        rows.append([
            SHORT[m], str(len(all_t)), f"{np.mean(all_t):.2f}",
            f"{np.mean(cpu_time[m]):.2f}",
            f"{np.mean(cold):.2f} ({len(cold)})" if cold and staged else "—",
            f"{np.mean(warm):.2f} ({len(warm)})" if warm and staged else "—",
            f"{np.mean(all_t) / ref:.2f}", ep,
        ])
    out.append(md_table(["router", "fits", "mean s", "CPU s", "cold s (n)", "warm s (n)",
                         "ratio vs Decoupled", "epochs (mean)"], rows))
    out.append("\nThe full-feedback router is fitted once (it does not depend on the seed).")

    out.append("\n## Warnings raised during fit / score\n")
    out += [f"- {line}" for line in tally.lines()]
    out.append(f"\nLoad average at end: {load_now()}.")
    emit("\n".join(out), args, NAME)
    return 0


def _count(items):
    counts = defaultdict(int)
    for it in items:
        counts[it] += 1
    return counts


if __name__ == "__main__":
    sys.exit(main())
