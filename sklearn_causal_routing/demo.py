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
   against the per-query oracle and its share of calls per model, next to a
   router trained with full feedback (an upper reference logs cannot reach).
"""

import argparse
import sys
import time
import warnings

import numpy as np

from .baselines import DecoupledRouter, SingleModelRouter
from ._router import RegretRouter
from .datasets import RoutingWorld
from .exceptions import OverlapWarning


def _routers(cost_weight, seed):
    return {
        "RM-Softmax": RegretRouter(loss="softmax", cost_weight=cost_weight, random_state=seed),
        "RM-Classification": RegretRouter(
            loss="classification", cost_weight=cost_weight, random_state=seed
        ),
        "decoupled baseline": DecoupledRouter(cost_weight=cost_weight),
        "best single model (DR)": SingleModelRouter(cost_weight=cost_weight),
    }


def _format_table(header, rows):
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    line = lambda r: "  ".join(  # noqa: E731
        str(c).ljust(w) if i == 0 else str(c).rjust(w) for i, (c, w) in enumerate(zip(r, widths))
    )
    return "\n".join([line(header), line(["-" * w for w in widths]), *map(line, rows)])


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
        ``{cost_weight: {router name: {"utility", "regret", "shares"}}}``.

    Examples
    --------
    >>> import io
    >>> from sklearn_causal_routing.demo import run
    >>> res = run(n_train=500, n_test=500, cost_weights=[0.2], out=io.StringIO())
    >>> sorted(res[0.2])[:2]
    ['RM-Classification', 'RM-Softmax']
    """
    world = RoutingWorld(n_models=n_models, random_state=seed)
    train = world.sample(n_train, random_state=seed + 1)
    test = world.sample(n_test, random_state=seed + 2)
    logs = train.log(policy="confounded", skew=skew, random_state=seed + 3)
    models = list(world.models)
    print(
        f"Simulated world: {n_models} models {models}, {n_train} logged training queries, "
        f"{n_test} test queries.\nLogging rule: task-confounded (skew={skew}); the logs "
        f"served {dict(zip(*np.unique(logs.t, return_counts=True)))}.\n",
        file=out,
    )
    results = {}
    for cw in cost_weights:
        cw = float(cw)
        oracle = test.oracle_value(cw)
        rows = []
        results[cw] = {}
        full = DecoupledRouter(cost_weight=cw).fit(*train.full_feedback())
        entries = {}
        for name, router in _routers(cw, seed).items():
            start = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", OverlapWarning)
                router.fit(logs.X, logs.feedback)
            entries[name] = (router.predict(test.X), time.perf_counter() - start)
        entries["full feedback (reference)"] = (full.predict(test.X), float("nan"))
        for name, (decisions, seconds) in entries.items():
            value = test.value(decisions, cw)
            shares = test.shares(decisions)
            results[cw][name] = {"utility": value, "regret": oracle - value, "shares": shares}
            rows.append(
                [
                    name,
                    f"{value:.4f}",
                    f"{oracle - value:.4f}",
                    *(f"{100 * shares[m]:.0f}%" for m in models),
                    "-" if np.isnan(seconds) else f"{seconds:.1f}s",
                ]
            )
        label, best = test.best_single_model(cw)
        rows.append(["oracle (per-query best)", f"{oracle:.4f}", "0.0000", *("" for _ in models), ""])
        print(f"cost_weight = {cw:g}  (best single model in truth: {label}, utility {best:.4f})", file=out)
        header = ["router", "true utility", "regret", *models, "fit"]
        print(_format_table(header, rows) + "\n", file=out)
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
