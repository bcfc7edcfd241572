"""The ``evaluate`` command: off-policy value of a fitted router on held-out logs."""

import json
import re
import warnings

from ._base import (
    PROG,
    add_field_args,
    is_interval,
    load_router,
    quiet_embedder,
    read_gateway_logs,
    say,
    split_router,
    subcommand,
    unique_counts,
)


def _arguments(p):
    p.add_argument("router", help="fitted router file (from `fit`)")
    p.add_argument("logs", help="held-out log file (not used for fitting)")
    p.add_argument("--cost-weight", type=float, default=None,
                   help="utility = quality - cost_weight * cost, cost_weight in quality per "
                        "unit of cost (default: the router's own; required for interval "
                        "routers without a budget)")
    p.add_argument("--methods", nargs="+", choices=("dm", "ipw", "snips", "dr"),
                   default=["dm", "ipw", "snips", "dr"], help="off-policy estimators")
    p.add_argument("--confidence-level", type=float, default=0.95,
                   help="coverage of the confidence intervals")
    p.add_argument("--interval", choices=("analytic", "bootstrap"), default="analytic",
                   help="normal-approximation or bootstrap intervals")
    p.add_argument("--n-bootstrap", type=int, default=1000, help="bootstrap resamples")
    p.add_argument("--random-state", type=int, default=0, help="seed of the bootstrap")
    p.add_argument("--no-baselines", action="store_true",
                   help="do not evaluate the single-model policies for comparison")
    p.add_argument("--json", action="store_true", help="print the results as JSON")
    add_field_args(p)


_EPILOG = f"""\
  {PROG} evaluate router.joblib test.jsonl
  {PROG} evaluate router.joblib test.jsonl --interval bootstrap --n-bootstrap 2000
  {PROG} evaluate interval.joblib test.jsonl --cost-weight 250 --json
"""


def _logged_policy(feedback, cost_weight, confidence_level):
    import numpy as np
    from scipy.stats import norm

    r = feedback["quality"] - cost_weight * feedback["cost"]
    se = float(np.std(r, ddof=1) / np.sqrt(r.size)) if r.size > 1 else float("nan")
    z = float(norm.ppf(0.5 + confidence_level / 2))
    v = float(np.mean(r))
    return {"value": v, "std_error": se, "ci_low": v - z * se, "ci_high": v + z * se}


def _unseen_models(final, feedback):
    """``{model: rows}`` for the logged models that the router was not fitted with."""
    classes = {str(c) for c in final.classes_.tolist()}
    labels, counts = unique_counts(feedback["action"])
    return {label: count for label, count in zip(labels, counts) if str(label) not in classes}


def _unseen_note(unseen, final):
    shown = ", ".join(f"{model!r} ({rows:,} rows)" for model, rows in unseen.items())
    s = "" if len(unseen) == 1 else "s"
    return (
        f"{len(unseen)} model{s} of the held-out logs the router never saw: {shown}. The "
        f"router routes only to {final.classes_.tolist()}, so no value is given for always "
        f"routing to {'it' if len(unseen) == 1 else 'them'}; to compare, refit on logs "
        f"where {'it is' if len(unseen) == 1 else 'they are'} served."
    )


def _only_about(message, models):
    """Whether a warning listing models (``'name' (...)`` or ``'name': ...``) lists only ``models``."""
    named = set(re.findall(r"'([^']+)'(?: \(|:)", message))
    return bool(named) and named <= {str(m) for m in models}


@subcommand("evaluate", help="off-policy value of a fitted router on held-out logs",
            epilog=_EPILOG, arguments=_arguments)
def evaluate(args):
    """Estimate the value of a fitted router's decisions on held-out logs.

    The router routes every logged query; the mean utility its decisions would
    have had is estimated from the logs by the direct method (DM), inverse
    propensity scoring (IPW), self-normalised IPS (SNIPS) and doubly robust
    estimation (DR), each with a confidence interval, and the effective sample
    size of the importance weights. For reference, the logged policy's own
    mean utility and (unless --no-baselines) the DR value of always routing to
    each single model are shown: a router that does not beat the best single
    model should not ship. Models of the held-out logs that the router never
    saw are named, with their rows, and get no value.
    """
    import numpy as np

    from ..exceptions import OverlapWarning, SmallArmWarning
    from ..metrics import evaluate_policy

    router = load_router(args.router)
    pre, final, text = split_router(router)
    quiet_embedder(router, args.quiet)
    logs = read_gateway_logs(args, args.logs, text=text)
    cost_weight = args.cost_weight
    if cost_weight is None:
        if is_interval(final):
            budget = getattr(final, "budget_", None)
            if budget is None:
                lo, hi = final.cost_weight_range_
                raise ValueError(
                    f"this interval router serves cost weights in [{lo:g}, {hi:g}]; pass "
                    "--cost-weight W to evaluate it at one of them."
                )
            cost_weight = float(budget.cost_weight)
        else:
            cost_weight = float(getattr(final, "cost_weight", 0.0))
    unseen = _unseen_models(final, logs.feedback)
    if unseen:
        say(args, _unseen_note(unseen, final))
    if pre is not None:
        say(args, f"embedding {len(logs):,} prompts")
    X = pre.transform(logs.X) if pre is not None else logs.X
    if is_interval(final):
        decisions = final.predict(X, cost_weight=cost_weight)
    else:
        decisions = final.predict(X)
    say(args, "estimating the value (cross-fitting the evaluation models)")
    kwargs = dict(cost_weight=cost_weight, methods=tuple(args.methods),
                  confidence_level=args.confidence_level, interval=args.interval,
                  n_bootstrap=args.n_bootstrap, random_state=args.random_state)
    with warnings.catch_warnings(record=True) as caught:
        for category in (SmallArmWarning, OverlapWarning):
            warnings.simplefilter("always", category)
        res = evaluate_policy(decisions, X, logs.feedback, **kwargs)
        baselines = {}
        if not args.no_baselines:
            for model in np.unique(logs.feedback["action"]).tolist():
                if model in unseen:
                    continue
                single = evaluate_policy(
                    np.full(len(logs), model), X, logs.feedback,
                    **{**kwargs, "methods": ("dr",), "interval": "analytic"},
                )
                baselines[model] = single.estimates["dr"].to_dict()
    for w in caught:  # the unseen models' rows are too few: the note above says why
        if (issubclass(w.category, (SmallArmWarning, OverlapWarning))
                and _only_about(str(w.message), unseen)):
            continue
        warnings.warn(w.message, w.category, stacklevel=1)
    labels, counts = unique_counts(decisions)
    shares = {label: count / len(decisions) for label, count in zip(labels, counts)}
    logged = _logged_policy(logs.feedback, cost_weight, args.confidence_level)
    if args.json:
        out = {"router": args.router, "logs": args.logs, "n_read": logs.n_read,
               "n_skipped": logs.n_skipped, "n_duplicates": logs.n_duplicates,
               **res.to_dict(), "shares": shares, "logged_policy": logged,
               "single_models_dr": baselines, "unseen_models": unseen}
        print(json.dumps(out, indent=2))
        return 0
    print(res)
    print("routing shares: " + ", ".join(f"{k} {v:.1%}" for k, v in shares.items()))
    pct = f"{100 * args.confidence_level:g}%"
    rows = [("logged (observed mean)", logged)]
    rows += [(f"always {model} (dr)", est) for model, est in baselines.items()]
    width = max(len(name) for name, _ in rows) + 2
    print(f"\nreference policies ({pct} analytic CI)")
    print(f"{'policy':<{width}}{'value':>11}{'ci_low':>11}{'ci_high':>11}")
    for name, est in rows:
        print(f"{name:<{width}}{est['value']:>11.4f}{est['ci_low']:>11.4f}"
              f"{est['ci_high']:>11.4f}")
    if unseen:
        print("\n" + _unseen_note(unseen, final))
    return 0
