"""Demo: learn a router from biased logs of a simulated routing world.

Run ``python -m sklearn_causal_routing.demo`` (``--help`` for options). It

1. simulates a routing world (queries in task clusters, models with price
   tiers and per-task skills) and keeps the full-feedback truth for scoring;
2. logs one model per training query with a task-confounded rule (the models
   that look best on a task get most of its traffic), recording propensities;
3. fits, from those logs only, RM-Softmax and RM-Classification
   (:class:`~sklearn_causal_routing.RegretRouter`), the decoupled baseline
   (per-model regression on the observed rows) and the best single model
   estimated from the logs;
4. prints, on fresh test queries, each router's true mean utility, its regret
   against the per-query oracle and its share of calls per model, next to two
   references that are not trained from the logs: the decoupled baseline fitted
   on full feedback (every model's outcome on every training query; a plug-in
   reference, not an upper bound: a router trained on the logs can beat it) and
   the per-query oracle (the true best model for each query: the upper bound).

:func:`compare_routers` does steps 3 and 4 at one cost weight. The example
``examples/plot_route_from_biased_logs.py`` calls it too, and adds what the demo
leaves out: naive against doubly robust per-model estimates, each router's score
on held-out logs (what can be computed without the truth) and a chart.
"""

import argparse
import sys
import textwrap
import time
import warnings

from . import RegretRouter
from .baselines import DecoupledRouter, SingleModelRouter
from .datasets import RoutingWorld
from .exceptions import FallbackWarning, OverlapWarning

#: Name of the plug-in reference row: the decoupled baseline fitted on full feedback.
FULL_FEEDBACK = "decoupled, full feedback"
ORACLE = "oracle (per-query best)"
_REFERENCES = (
    f'References, not trained from the logs: "{FULL_FEEDBACK}" is the decoupled baseline '
    "fitted on every model's outcome for every training query (a plug-in reference, not an "
    "upper bound: a router trained on the logs can beat it); the oracle sends each test "
    "query to its best model in truth (the upper bound)."
)


def make_routers(cost_weight, *, random_state=0, **network):
    """The routers the demo fits from the logs, by name.

    ``network`` (e.g. ``hidden_layer_sizes``, ``max_epochs``) goes to both
    :class:`~sklearn_causal_routing.RegretRouter`.
    """
    return {
        "RM-Softmax": RegretRouter(
            loss="softmax", cost_weight=cost_weight, random_state=random_state, **network
        ),
        "RM-Classification": RegretRouter(
            loss="classification", cost_weight=cost_weight, random_state=random_state, **network
        ),
        "decoupled baseline": DecoupledRouter(cost_weight=cost_weight),
        "best single model (DR)": SingleModelRouter(cost_weight=cost_weight),
    }


def compare_routers(train, logs, test, cost_weight, *, random_state=0, test_logs=None,
                    **network):
    """Fit the demo's routers on ``logs`` and the full-feedback reference on ``train``.

    Parameters
    ----------
    train : RoutingTable
        The training queries with full feedback (only the reference sees it).
    logs : LoggedData
        The logs of ``train`` (``train.log(...)``): what the routers learn from.
    test : RoutingTable
        Fresh queries with known truth, on which every router is scored.
    cost_weight : float
        Price of one unit of cost in units of quality.
    random_state : int, default=0
        Seed of the routers.
    test_logs : LoggedData, default=None
        Held-out logs; when given, each row also has ``"score"``, the router's
        doubly robust ``score`` on them.
    **network
        Passed to both :class:`~sklearn_causal_routing.RegretRouter`.

    Returns
    -------
    rows : dict
        ``{name: {"utility", "regret", "shares", "fit_seconds", "fell_back",
        "router"}}`` for :func:`make_routers` and, last, :data:`FULL_FEEDBACK`: the
        true mean utility on ``test``, the per-query oracle's value minus it, the
        share of calls per model, the fit time, and whether a ``RegretRouter``
        fell back to the best single model (its safe default, instead of a
        ``FallbackWarning``).
    """
    routers = make_routers(cost_weight, random_state=random_state, **network)
    fitted = {}
    rows = {}
    with warnings.catch_warnings():
        # the logs are skewed on purpose; a fallback is marked in the table instead
        warnings.simplefilter("ignore", OverlapWarning)
        warnings.simplefilter("ignore", FallbackWarning)
        for name, router in routers.items():
            start = time.perf_counter()
            fitted[name] = (router.fit(logs.X, logs.feedback), time.perf_counter() - start)
        start = time.perf_counter()
        full = DecoupledRouter(cost_weight=cost_weight).fit(*train.full_feedback())
        fitted[FULL_FEEDBACK] = (full, time.perf_counter() - start)
        oracle = test.oracle_value(cost_weight)
        for name, (router, seconds) in fitted.items():
            decisions = router.predict(test.X)
            value = test.value(decisions, cost_weight)
            rows[name] = {
                "utility": value,
                "regret": oracle - value,
                "shares": test.shares(decisions),
                "fit_seconds": seconds,
                "fell_back": getattr(router, "fallback_", None) is not None,
                "router": router,
            }
            if test_logs is not None:
                rows[name]["score"] = router.score(test_logs.X, test_logs.feedback)
    return rows


def _format_table(header, rows):
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    line = lambda r: "  ".join(  # noqa: E731
        str(c).ljust(w) if i == 0 else str(c).rjust(w) for i, (c, w) in enumerate(zip(r, widths))
    ).rstrip()
    return "\n".join([line(header), line(["-" * w for w in widths]), *map(line, rows)])


def format_comparison(rows, test, cost_weight):
    """The comparison of :func:`compare_routers` as a text table.

    One line per router (true utility, regret, share of calls per model, and the
    held-out DR score when the rows have one, fit time), then the per-query oracle;
    a router that fell back to the best single model is marked ``*``.
    """
    models = [str(m) for m in test.models]
    scored = all("score" in r for r in rows.values())
    header = ["router", "true utility", "regret", *(["held-out DR"] if scored else []),
              *models, "fit"]
    lines = [
        [
            f"{name} *" if r["fell_back"] else name,
            f"{r['utility']:.4f}",
            f"{r['regret']:.4f}",
            *([f"{r['score']:.4f}"] if scored else []),
            *(f"{100 * r['shares'][m]:.0f}%" for m in test.models),
            f"{r['fit_seconds']:6.1f}s",
        ]
        for name, r in rows.items()
    ]
    oracle = test.oracle_value(cost_weight)
    lines.append([ORACLE, f"{oracle:.4f}", "0.0000", *([""] if scored else []),
                  *("" for _ in models), ""])
    table = _format_table(header, lines)
    if any(r["fell_back"] for r in rows.values()):
        table += ("\n* fell back to the best single model on the logs: the logs show no gain "
                  "for the\n  trained policy (RegretRouter(fallback=None) keeps it)")
    return table


def run(
    *,
    n_train=6000,
    n_test=10000,
    n_models=4,
    cost_weights=(0.0, 0.25, 0.5),
    skew=5.0,
    seed=0,
    out=sys.stdout,
):
    """Run the demo and print the comparison; return the results as a dict.

    Parameters
    ----------
    n_train : int, default=6000
        Number of logged training queries.
    n_test : int, default=10000
        Number of fresh test queries scored against the truth.
    n_models : int, default=4
        Number of models in the simulated world.
    cost_weights : sequence of float, default=(0.0, 0.25, 0.5)
        Prices of one unit of cost in units of quality.
    skew : float, default=5.0
        Strength of the logging rule's bias (0 = uniform logging).
    seed : int, default=0
        Seed of the world, the logs and the routers.
    out : file-like, default=sys.stdout
        Where to print.

    Returns
    -------
    results : dict
        ``{cost_weight: {router name: {"utility", "regret", "shares", "fit_seconds",
        "router"}}}`` (see :func:`compare_routers`).

    Examples
    --------
    >>> import io
    >>> from sklearn_causal_routing.demo import run
    >>> res = run(n_train=500, n_test=500, cost_weights=[0.2], out=io.StringIO())
    >>> list(res[0.2])[:2], list(res[0.2])[-1]
    (['RM-Softmax', 'RM-Classification'], 'decoupled, full feedback')
    """
    world = RoutingWorld(n_models=n_models, random_state=seed)
    train = world.sample(n_train, random_state=seed + 1)
    test = world.sample(n_test, random_state=seed + 2)
    logs = train.log(policy="confounded", skew=skew, random_state=seed + 3)
    served = ", ".join(f"{m} {int((logs.t == m).sum())}" for m in world.models)
    intro = [
        f"Simulated world: {n_models} models ({', '.join(map(str, world.models))}; cheapest "
        f"first), {n_train} logged training queries, {n_test} test queries.",
        f"Logging rule: task-confounded (skew={skew:g}); calls served in the logs: {served}.",
        _REFERENCES,
    ]
    print("\n".join(textwrap.fill(p, 88) for p in intro) + "\n", file=out)
    results = {}
    for cw in cost_weights:
        cw = float(cw)
        results[cw] = compare_routers(train, logs, test, cw, random_state=seed)
        label, best = test.best_single_model(cw)
        print(f"cost_weight = {cw:g}  (best single model in truth: {label}, utility {best:.4f})",
              file=out)
        print(format_comparison(results[cw], test, cw) + "\n", file=out)
    return results


def main(argv=None):
    """Command-line entry point of the demo."""
    parser = argparse.ArgumentParser(
        prog="python -m sklearn_causal_routing.demo",
        description="Learn LLM routers from biased logs of a simulated world and compare "
        "them against the truth.",
    )
    parser.add_argument("--n-train", type=int, default=6000, help="logged training queries")
    parser.add_argument("--n-test", type=int, default=10000, help="test queries")
    parser.add_argument("--n-models", type=int, default=4, help="models in the world")
    parser.add_argument(
        "--cost-weights", type=float, nargs="+", default=[0.0, 0.25, 0.5],
        help="cost weights to compare at",
    )
    parser.add_argument("--skew", type=float, default=5.0, help="logging bias (0 = uniform)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    run(
        n_train=args.n_train,
        n_test=args.n_test,
        n_models=args.n_models,
        cost_weights=args.cost_weights,
        skew=args.skew,
        seed=args.seed,
    )


if __name__ == "__main__":
    main()
