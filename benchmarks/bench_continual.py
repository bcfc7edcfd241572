"""A simulated deployment: a router kept current day by day on a real table.

Days of traffic are drawn from a real full-feedback table, MMLU-Pro by default (29
models, 14 subjects, every model's graded outcome and cost known; ``--table
routerbench_subset`` for the RouterBench subset, 11 models, 3,150 prompts). The pool starts without the strongest
model (the best single model of the table at the chosen cost weight); on day
``--new-model-day`` it is added and gets a traffic share; on day ``--price-day`` one
model's price halves (every call of it costs half from then on). Each day:

1. the continual router routes the day's queries with exploration (its own decisions,
   with the propensity of each), and the gateway logs the outcome and cost of the
   chosen model;
2. every router is scored on the day's queries against the truth (mean true
   ``quality - cost_weight * cost`` at that day's prices, one deterministic decision
   per query among the day's pool);
3. the routers are updated: the continual one with ``partial_fit`` on that day's logs
   only (``reprice`` on the price day), the refit one by ``fit`` on all logs so far
   (older logs re-priced), the never-updated one not at all.

Compared, per day and cumulatively: the continual router, a router refitted from
scratch on all logs so far, a router never updated, the best single model of the
day's pool (in hindsight, chosen anew each day) and the per-query oracle; cumulatively
also routing everything, all along, to the best model of the initial pool (in
hindsight). Update times are wall seconds of the update calls, measured in the same
run. The report also says what the continual and the refit router routed each day
with: a model they fell back to, or their policy.

Run from the repository root::

    .venv/bin/python benchmarks/bench_continual.py --threads 1
    .venv/bin/python benchmarks/bench_continual.py --threads 1 --quick   # 5 smaller days
    .venv/bin/python benchmarks/bench_continual.py --threads 1 --table routerbench_subset --per-day 350

Skips with a message when the shared data folder lacks the table.
"""

import copy
import time
import warnings

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

NAME = "bench_continual"


def _sub_table(table, rows, models, cost_scale):
    """The table restricted to ``rows`` and ``models``, costs at the day's prices."""
    from sklearn_causal_routing.datasets import RoutingTable

    labels = list(table.models)
    cols = [labels.index(m) for m in models]
    cost = table.cost[np.ix_(rows, cols)] * np.array([cost_scale.get(m, 1.0) for m in models])
    return RoutingTable(
        table.X[rows], table.quality[np.ix_(rows, cols)], cost, list(models),
        task=None if table.task is None else table.task[rows],
    )


def _router(args, seed):
    from sklearn_causal_routing import DoublyRobustUtility, PooledRidge, RegretRouter

    if args.outcome == "pooled":  # the new model borrows strength from the others
        utility = DoublyRobustUtility(quality_model=PooledRidge(), cost_model=PooledRidge(),
                                      random_state=seed)
    else:  # the default per-model RidgeCV
        utility = DoublyRobustUtility(random_state=seed)
    extra = {} if args.replay == "default" else {
        "replay": None if args.replay == "none" else float(args.replay)}
    return RegretRouter(cost_weight=args.cost_weight, utility=utility,
                        memory=args.memory, random_state=seed, **extra)


def _decide(router, X, pool):
    """Deterministic decisions among ``pool`` (a model left out never chosen)."""
    return router.route(X, pool=[m for m in pool if m in set(router.classes_)]).model


def _logged(day_table, routes):
    """The gateway's log of one day: the chosen model's outcome and cost."""
    from sklearn_causal_routing import make_feedback

    idx = day_table.model_index(routes.model)
    rows = np.arange(day_table.n_samples)
    return make_feedback(routes.model, day_table.quality[rows, idx],
                         cost=day_table.cost[rows, idx], propensity=routes.propensity)


def run(args):
    table = load_shared_table(args.table)
    if table is None:
        return [f"skipped: the {args.table} table is not available under {SHARED_DATA} "
                "(it is not shipped with the project)"]
    rng = np.random.default_rng(args.seed)
    models = [str(m) for m in table.models]
    cw = args.cost_weight
    values = np.array(list(table.single_model_values(cw).values()))
    ranked = [str(models[j]) for j in np.argsort(values)[::-1]]
    strongest = ranked[0]
    # the price cut goes to the cheapest of the next five best models (so it matters)
    repriced = min(ranked[1:6], key=lambda m: table.cost[:, models.index(m)].mean())
    order = rng.permutation(table.n_samples)
    days = np.array_split(order[: args.days * args.per_day], args.days)
    initial_pool = [m for m in models if m != strongest]
    progress(f"strongest model {strongest!r} enters on day {args.new_model_day}; "
             f"{repriced!r} halves its price on day {args.price_day}; "
             f"cost weight {cw:g}; {args.days} days x {args.per_day} queries")

    names = ["continual", "refit from scratch", "never updated",
             "best single (hindsight)", "oracle"]
    daily = {n: [] for n in names}
    times = {"continual": [], "refit from scratch": []}
    events = []
    routed = []  # per day: what the continual and the refit router routed with
    all_logs = []  # (X, feedback, day) of every day so far, costs at their day's prices
    cost_scale = {}
    pool = list(initial_pool)
    fixed = {}  # cumulative true utility of routing everything to one model
    t_reprice = np.nan

    # day 0: logs of the old rule (task-confounded) on the initial pool
    day0 = _sub_table(table, days[0], pool, cost_scale)
    logs0 = day0.log(policy="confounded", random_state=args.seed)
    all_logs.append([logs0.X, logs0.feedback])
    t0 = time.perf_counter()
    continual = _router(args, args.seed).fit(logs0.X, logs0.feedback)
    fit0 = time.perf_counter() - t0
    refit = continual  # identical until the first update (then replaced, not updated)
    frozen = copy.deepcopy(continual)  # partial_fit updates in place: keep a copy
    progress(f"day 0: initial fit {fit0:.1f} s")

    for d in range(1, args.days):
        if d == args.new_model_day:
            pool = list(models)
            events.append(f"day {d}: {strongest!r} joins the pool with a "
                          f"{args.new_share:.0%} traffic share")
        if d == args.price_day:
            cost_scale = {repriced: 0.5}
            t0 = time.perf_counter()
            continual.reprice({repriced: 0.5})
            t_reprice = time.perf_counter() - t0
            events.append(f"day {d}: {repriced!r} halves its price; continual reprice "
                          f"{t_reprice:.1f} s")
            for i, (Xl, fb) in enumerate(all_logs):  # old logs re-priced for the refit
                fb = fb.copy()
                fb["cost"] = np.where(fb["action"] == repriced, fb["cost"] * 0.5, fb["cost"])
                all_logs[i] = [Xl, fb]
        day = _sub_table(table, days[d], pool, cost_scale)
        truth = day.utility(cw)
        # what each router routes with today: one model (it fell back) or its policy
        routed.append([getattr(r, "fallback_", None) or "its policy" for r in (continual, refit)])
        state = f"continual with {routed[-1][0]}, refit with {routed[-1][1]}"
        # score today's decisions (every router routes among today's pool)
        for name, router in (("continual", continual), ("refit from scratch", refit),
                             ("never updated", frozen)):
            daily[name].append(day.value(_decide(router, day.X, pool), cw))
        daily["best single (hindsight)"].append(float(truth.mean(axis=0).max()))
        for j, m in enumerate(day.models):  # each model's day, for one model all along
            fixed[str(m)] = fixed.get(str(m), 0.0) + float(truth[:, j].mean())
        daily["oracle"].append(float(truth.max(axis=1).mean()))
        # the continual router's own traffic, with exploration, is today's log
        shares = {strongest: args.new_share} if d >= args.new_model_day and (
            strongest not in set(continual.classes_) or d < args.new_model_day + 2) else None
        routes = continual.route(day.X, exploration=args.exploration, shares=shares,
                                 pool=pool, random_state=args.seed + d)
        fb = _logged(day, routes)
        all_logs.append([day.X, fb])
        # updates
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            t0 = time.perf_counter()
            continual.partial_fit(day.X, fb)
            times["continual"].append(time.perf_counter() - t0)
            X_all = np.vstack([x for x, _ in all_logs])
            fb_all = np.concatenate([f for _, f in all_logs])
            t0 = time.perf_counter()
            refit = _router(args, args.seed).fit(X_all, fb_all)
            times["refit from scratch"].append(time.perf_counter() - t0)
        progress(f"day {d}: " + ", ".join(f"{n} {daily[n][-1]:.4f}" for n in names)
                 + f" | update {times['continual'][-1]:.1f} s vs refit "
                 f"{times['refit from scratch'][-1]:.1f} s | routed: {state}")

    rows = []
    for i in range(len(daily["oracle"])):
        rows.append([f"{i + 1}"] + [f"{daily[n][i]:.4f}" for n in names]
                    + [f"{times['continual'][i]:.1f}", f"{times['refit from scratch'][i]:.1f}"]
                    + routed[i])
    rows.append(["mean"] + [f"{np.mean(daily[n]):.4f}" for n in names]
                + [f"{np.mean(times['continual']):.1f}",
                   f"{np.mean(times['refit from scratch']):.1f}", "", ""])
    lines = [
        f"# Continual routing on {args.table} ({args.days} days x {args.per_day} queries, "
        f"cost weight {cw:g})", "",
        *[f"- {e}" for e in events], "",
        md_table(["day"] + names + ["continual update (s)", "refit (s)",
                                    "continual routed with", "refit routed with"], rows), "",
    ]
    after = slice(args.new_model_day - 1, None)
    gap = np.array(daily["refit from scratch"][after]) - np.array(daily["continual"][after])
    lines += [
        "- after the new model arrives: continual minus refit, per day: "
        + ", ".join(f"{-g:+.4f}" for g in gap),
        f"- update time, continual / refit: "
        f"{np.mean(times['continual']) / np.mean(times['refit from scratch']):.2f}",
        f"- reprice / refit on day {args.price_day}: {t_reprice:.1f} s / "
        f"{times['refit from scratch'][args.price_day - 1]:.1f} s = "
        f"{t_reprice / times['refit from scratch'][args.price_day - 1]:.2f}",
        f"- cumulative: continual {np.sum(daily['continual']):.3f}, never updated "
        f"{np.sum(daily['never updated']):.3f}, best single {np.sum(daily['best single (hindsight)']):.3f}",
        f"- one model all along, the best of the initial pool in hindsight "
        f"({max(initial_pool, key=fixed.get)!r}): cumulative "
        f"{max(fixed[m] for m in initial_pool):.3f}",
    ]
    return lines


def main(argv=None):
    p = parser(__doc__, NAME)
    p.add_argument("--table", choices=("mmlu_pro", "routerbench_subset"), default="mmlu_pro",
                   help="the full-feedback table the traffic is drawn from (routerbench_subset "
                        "has 3,150 prompts: use --per-day 350)")
    p.add_argument("--days", type=int, default=8)
    p.add_argument("--per-day", type=int, default=1400)
    p.add_argument("--new-model-day", type=int, default=3)
    p.add_argument("--price-day", type=int, default=5)
    p.add_argument("--new-share", type=float, default=0.1)
    p.add_argument("--exploration", type=float, default=0.05)
    p.add_argument("--memory", type=float, default=1.0)
    p.add_argument("--cost-weight", type=float, default=None)
    p.add_argument("--replay", default="default",
                   help="RegretRouter(replay=...): a number r (partial_fit trains on the "
                        "new rows and r times as many kept rows), 'none' (every kept row) "
                        "or 'default' (the library's default)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--outcome", choices=("ridge", "pooled"), default="ridge",
                   help="outcome models of the utility stage: per-model RidgeCV (the "
                        "default) or PooledRidge (slower: a 29-model pooled fit per fold)")
    args = p.parse_args(argv)
    if args.quick:
        args.days, args.per_day, args.new_model_day, args.price_day = 5, 600, 2, 3
    set_threads(args.threads)
    if args.cost_weight is None:
        table = load_shared_table(args.table)
        if table is not None:
            from sklearn_causal_routing.experiments import cost_weight_grid

            args.cost_weight = float(cost_weight_grid(table, 5)[2])
    lines = environment_lines(f"{args.threads} thread(s)") + [""] + run(args)
    emit("\n".join(lines), args, NAME)


if __name__ == "__main__":
    main()
