"""Gold grades plus biased judge grades on the RouterBench subset (Meta-Router setting).

Real full-feedback data (every prompt answered by all 11 models, 0/1 graded). On the
train split we simulate task-confounded logs (``table.log(policy="confounded")``,
propensities recorded) and then who graded each logged row
(``datasets.add_judge_grades``): a random 5% or 10% of rows keep the real 0/1 grade
as the *gold* grade; the others get a *judge* grade, the gold grade plus a bias that
depends on the task and the model (N(0, 0.2^2) per (task, model), one judge per
seed) plus N(0, 0.1^2) noise. The 5% gold set is a subset of the 10% one (same
seed). RegretRouters (RM-Softmax, default settings) are trained on

(a) judge grades on every row,
(b) the gold rows only,
(c) gold + judge grades with ``IntegrativeUtility`` (bias learner "dr" and "r",
    gold propensity known: the gold fraction),
(d) gold grades on every row (the ceiling),

and scored by their TRUE mean utility ``quality - cost_weight * cost`` on the test
split (full table), at 3 cost weights: 0, 1/3 and 2/3 of the weight at which the
cheapest model becomes the best single model on the train split.

Run from the repository root::

    .venv/bin/python benchmarks/bench_gold.py --threads 1           # ~5-10 min
    .venv/bin/python benchmarks/bench_gold.py --threads 1 --quick   # ~1 min

Skips (exit 0) when the shared data folder is absent.
"""

import time
import warnings
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

NAME = "bench_gold"

JUDGE = "(a) judge grades only"
GOLD_ONLY = "(b) gold rows only"
IU_DR = "(c) IntegrativeUtility, bias_learner='dr'"
IU_R = "(c) IntegrativeUtility, bias_learner='r'"
CEILING = "(d) gold grades everywhere (ceiling)"
ARMS = [JUDGE, GOLD_ONLY, IU_DR, IU_R, CEILING]
PER_FRACTION = [GOLD_ONLY, IU_DR, IU_R]  # arms that depend on the gold fraction


def main(argv=None):
    p = parser(__doc__.split("\n\n")[0], NAME)
    p.add_argument("--data-dir", type=Path, default=REPO_ROOT / ".." / "shared" / "data",
                   help="folder with routerbench_subset.parquet and the MiniLM embeddings")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4],
                   help="seeds of the logs, the judge, the gold draw and the routers")
    p.add_argument("--gold-fractions", type=float, nargs="+", default=[0.05, 0.10])
    p.add_argument("--bias-scale", type=float, default=0.2,
                   help="sd of the judge's bias per (task, model)")
    p.add_argument("--judge-noise", type=float, default=0.1)
    args = p.parse_args(argv)
    if args.quick:
        args.seeds = args.seeds[:1]

    threads_desc = set_threads(args.threads, args.omp_passive)

    from sklearn_causal_routing import (
        DoublyRobustUtility,
        IntegrativeUtility,
        RegretRouter,
        _utility,
    )
    from sklearn_causal_routing.experiments import cheapest_breakpoint
    from sklearn_causal_routing.datasets import (
        add_judge_grades,
        load_routerbench_subset,
    )

    try:
        table = load_routerbench_subset(args.data_dir)
    except FileNotFoundError as exc:
        print(f"skipped: the RouterBench subset is not available ({exc})")
        return 0

    train, test = table.split_by("train"), table.split_by("test")
    cw_star = cheapest_breakpoint(train)[1]
    cost_weights = [0.0, cw_star / 3, 2 * cw_star / 3]
    if args.quick:
        cost_weights = cost_weights[:2]
    fractions = sorted(args.gold_fractions)
    progress(f"train {len(train)} / test {len(test)} prompts, {train.n_models} models; "
             f"cost weights {[round(c, 1) for c in cost_weights]}; gold fractions {fractions}")

    # value[(arm, fraction)][seed] -> list over cost weights (fraction None: all)
    value = defaultdict(lambda: defaultdict(list))
    bias_err = defaultdict(list)  # (arm, fraction) -> mean |bias error| per seed
    gold_counts = defaultdict(list)  # fraction -> (min, median) gold rows per model
    fit_time = defaultdict(list)
    tally = WarningTally()
    t_start = time.perf_counter()

    def router(utility, cw, seed):
        return RegretRouter(utility=utility, cost_weight=cw, random_state=seed)

    for seed in args.seeds:
        _utility.clear_utility_cache()
        logs = train.log("confounded", random_state=seed)
        judged = {
            f: add_judge_grades(train, logs, gold_fraction=f, bias_scale=args.bias_scale,
                                noise=args.judge_noise, random_state=seed)
            for f in fractions
        }
        any_j = judged[fractions[0]]
        rows = np.arange(len(train))
        served = any_j.bias[rows, train.model_index(any_j.t)]
        models = np.sort(train.models)
        true_bias = np.array([served[any_j.t == m].mean() for m in models])
        bias_err[("uncorrected", None)].append(float(np.abs(true_bias).mean()))

        plans = [(JUDGE, None, lambda seed=seed: DoublyRobustUtility(random_state=seed), any_j.X,
                  any_j.judge_feedback),
                 (CEILING, None, lambda seed=seed: DoublyRobustUtility(random_state=seed), any_j.X,
                  any_j.gold_feedback)]
        for f in fractions:
            j = judged[f]
            counts = np.array([np.sum(j.gold & (j.t == m)) for m in models])
            gold_counts[f].append((int(counts.min()), float(np.median(counts))))
            plans += [
                (GOLD_ONLY, f, lambda seed=seed: DoublyRobustUtility(random_state=seed), j.X[j.gold],
                 j.gold_feedback[j.gold]),
                (IU_DR, f, lambda f=f, seed=seed: IntegrativeUtility(gold_propensity=f, random_state=seed),
                 j.X, j.feedback),
                (IU_R, f, lambda f=f, seed=seed: IntegrativeUtility(
                    bias_learner="r", gold_propensity=f, random_state=seed), j.X, j.feedback),
            ]
        for arm, f, make_utility, X, fb in plans:
            for cw in cost_weights:
                t0 = time.perf_counter()
                with tally:
                    est = router(make_utility(), cw, seed).fit(X, fb)
                fit_time[arm].append(time.perf_counter() - t0)
                value[(arm, f)][seed].append(test.value(est.predict(test.X), cw))
            if arm in (IU_DR, IU_R):
                bias_err[(arm, f)].append(float(np.abs(est.utility_.bias_.mean - true_bias).mean()))
            progress(f"seed {seed} {arm} gold={f}: "
                     + ", ".join(f"{v:.3f}" for v in value[(arm, f)][seed])
                     + f" (load {load_now()})")

    # ------------------------------------------------------------------ report
    seeds = args.seeds

    def per_seed(arm, f):
        key = (arm, None if arm not in PER_FRACTION else f)
        return np.array([np.mean(value[key][s]) for s in seeds])

    def per_cw(arm, f):
        key = (arm, None if arm not in PER_FRACTION else f)
        return [np.mean([value[key][s][k] for s in seeds]) for k in range(len(cost_weights))]

    out = ["# Gold + judge grades on the RouterBench subset (IntegrativeUtility)\n"]
    out += environment_lines(
        threads_desc,
        extra=[
            (f"data: {args.data_dir} -> {len(train)} train / {len(test)} test prompts, "
             f"{train.n_models} models"),
            ("logs: train split, table.log('confounded', random_state=seed), propensities "
             "recorded"),
            (f"grading: add_judge_grades(train, logs, gold_fraction=f, bias_scale="
             f"{args.bias_scale}, noise={args.judge_noise}, random_state=seed); judge bias "
             "per (task, model); gold rows a random subset (5% nested in 10%)"),
            ("routers: RegretRouter(utility=..., cost_weight=cw, random_state=seed), default "
             "RM-Softmax settings; IntegrativeUtility(gold_propensity=f)"),
            (f"seeds: {seeds}; values: TRUE mean utility on the test split; ± = std over "
             "seeds; Δ = paired difference vs (c) dr"),
            ("cost weights: " + ", ".join(f"{c:.1f}" for c in cost_weights)
             + f" (0, 1/3, 2/3 of {cw_star:.1f}, where the cheapest model becomes the best "
             "single model on train)"),
        ],
    )
    for f in fractions:
        mins = [m for m, _ in gold_counts[f]]
        meds = [m for _, m in gold_counts[f]]
        out.append(f"\n## {100 * f:.0f}% gold rows\n")
        out.append(f"Gold rows per model: min {min(mins)}-{max(mins)}, median "
                   f"{np.median(meds):.0f} (over seeds).\n")
        ref = per_seed(IU_DR, f)
        headers = (["arm", "mean utility"]
                   + [f"cw={c:.0f}" for c in cost_weights] + ["Δ vs (c) dr"])
        rows = []
        for arm in ARMS:
            ps = per_seed(arm, f)
            d = ps - ref
            rows.append([arm, f"{ps.mean():.3f} ± {ps.std(ddof=1) if len(ps) > 1 else 0:.3f}"]
                        + [f"{v:.3f}" for v in per_cw(arm, f)]
                        + ["" if arm == IU_DR else f"{d.mean():+.3f} ± "
                           f"{d.std(ddof=1) if len(d) > 1 else 0:.3f}"])
        out.append(md_table(headers, rows))
    out.append("\n## Bias estimates\n")
    out.append("Mean over models and seeds of |estimated - true| mean bias of the rows each "
               "model served; 'uncorrected' = the true bias itself (error of trusting the "
               "judge).\n")
    rows = [["uncorrected", "", f"{np.mean(bias_err[('uncorrected', None)]):.3f}"]]
    for f in fractions:
        for arm in (IU_DR, IU_R):
            rows.append([arm, f"{100 * f:.0f}%", f"{np.mean(bias_err[(arm, f)]):.3f}"])
    out.append(md_table(["estimator", "gold", "mean |error|"], rows))
    out.append("\n## Fit time and warnings\n")
    out.append("Seconds per RegretRouter fit (utility stage cached across cost weights); "
               f"total run {time.perf_counter() - t_start:.0f} s.\n")
    out.append(md_table(["arm", "mean s / fit"],
                        [[a, f"{np.mean(fit_time[a]):.1f}"] for a in ARMS]))
    out.append("\nWarnings raised while fitting:\n")
    out += [f"- {line}" for line in tally.lines()]
    emit("\n".join(out), args, NAME)
    return 0


if __name__ == "__main__":
    with warnings.catch_warnings():
        raise SystemExit(main())
