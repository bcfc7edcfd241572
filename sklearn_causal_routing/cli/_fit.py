"""The ``fit`` command: fit a router from a gateway log and save it."""

import contextlib
import os
import sys
import time

from ._base import PROG, add_field_args, read_gateway_logs, say, subcommand


def _arguments(p):
    p.add_argument("logs", help="the training log file")
    p.add_argument("-o", "--out", required=True, help="fitted router file to write (joblib)")
    r = p.add_argument_group(
        "router (cost weights are in quality units per unit of cost, e.g. per USD when "
        "costs are in USD)"
    )
    r.add_argument("--router", choices=("regret", "interval"), default="regret",
                   help="RegretRouter (one cost weight) or IntervalRouter (a range)")
    r.add_argument("--loss", choices=("softmax", "classification"), default="softmax",
                   help="regret router: RM-Softmax or RM-Classification")
    r.add_argument("--cost-weight", type=float, default=0.0,
                   help="regret router: utility = quality - cost_weight * cost")
    r.add_argument("--cost-weight-range", type=float, nargs=2, metavar=("LOW", "HIGH"),
                   default=None,
                   help="interval router: the range of cost weights served (default: from "
                        "0 to where the cheapest model becomes the best single model by the "
                        "logs' mean quality and cost per model; the range used is printed)")
    r.add_argument("--n-intervals", type=int, default=4,
                   help="interval router: intervals of the cost-weight grid")
    r.add_argument("--no-fallback", action="store_true",
                   help="regret router: always route with the trained policy, even when the "
                        "logs give no evidence that it beats the best single model "
                        "(RegretRouter(fallback=None))")
    r.add_argument("--temperature", type=float, default=1.0, help="softmax temperature")
    r.add_argument("--hidden", type=int, nargs="+", default=None, metavar="UNITS",
                   help="hidden layer sizes of the policy network (default: the router's, "
                        "64 for --router regret, 200 200 for --router interval)")
    r.add_argument("--max-epochs", type=int, default=50, help="maximum training epochs")
    r.add_argument("--random-state", type=int, default=0, help="seed of the fit")
    e = p.add_argument_group("prompt embedding (text logs)")
    e.add_argument("--embedding-model", default=None,
                   help="sentence-transformers model folder (default: the bundled "
                        "all-MiniLM-L6-v2 of the 'text' extra)")
    e.add_argument("--embed-batch-size", type=int, default=64,
                   help="prompts per embedding batch")
    add_field_args(p)


_EPILOG = f"""\
  {PROG} fit train.jsonl -o router.joblib --cost-weight 0.3
  {PROG} fit gateway.csv -o router.joblib --prompt-field input --model-field served_by \\
      --quality-field grade --cost-field usd --on-error skip --cost-weight 200
  {PROG} fit train.jsonl -o interval.joblib --router interval --cost-weight-range 0 1000
  {PROG} fit sim.jsonl -o router.joblib --features-field features --max-epochs 20
"""


def default_cost_weight_range(feedback):
    """The interval router's default cost-weight range for these logs, and why.

    From 0 to the cost weight at which the cheapest model becomes the best
    single model, computed by :func:`~sklearn_causal_routing.experiments.cheapest_breakpoint`
    on the logs' mean quality and cost per model (each row weighted by
    1 / propensity when every propensity is logged, which undoes the logging
    rule's bias). Beyond that weight every sensible router sends everything to
    the cheapest model.

    Parameters
    ----------
    feedback : ndarray of shape (n_samples,)
        Logged feedback (:func:`~sklearn_causal_routing.make_feedback`).

    Returns
    -------
    cost_weight_range : tuple of (float, float)
    reason : str
        One line for the progress output.

    Examples
    --------
    >>> from sklearn_causal_routing import make_feedback
    >>> from sklearn_causal_routing.cli._fit import default_cost_weight_range
    >>> fb = make_feedback(["small", "large", "small", "large"], [0.5, 0.9, 0.7, 0.9],
    ...                    cost=[0.001, 0.011, 0.001, 0.011])
    >>> default_cost_weight_range(fb)[0]  # (0.9 - 0.6) / (0.011 - 0.001)
    (0.0, 30.0...)
    """
    import numpy as np

    from ..datasets import RoutingTable
    from ..experiments import cheapest_breakpoint

    models, inverse = np.unique(feedback["action"], return_inverse=True)
    propensity = np.asarray(feedback["propensity"], dtype=np.float64)
    weighted = not np.isnan(propensity).any()
    w = 1.0 / propensity if weighted else np.ones(len(feedback))
    total = np.bincount(inverse, weights=w)
    quality = np.bincount(inverse, weights=w * feedback["quality"]) / total
    cost = np.bincount(inverse, weights=w * feedback["cost"]) / total
    means = ("mean quality and cost per model" + (" (weighted by 1 / propensity)"
                                                  if weighted else ""))
    if np.ptp(cost) == 0:
        return (0.0, 1.0), ("cost-weight range: [0, 1]: every model has the same mean cost "
                            "in the logs, so the cost weight changes no decision")
    summary = RoutingTable(np.zeros((1, 1)), quality[None, :], cost[None, :], models)
    cheapest, high = cheapest_breakpoint(summary)
    cheapest = str(cheapest)
    if high > 0:
        return (0.0, high), (
            f"cost-weight range: [0, {high:.4g}] (quality per unit of cost): up to where "
            f"the cheapest model {cheapest!r} becomes the best single model by the logs' "
            f"{means}"
        )
    spread = np.ptp(quality) if np.ptp(quality) > 0 else 1.0
    high = float(spread / np.ptp(cost))
    return (0.0, high), (
        f"cost-weight range: [0, {high:.4g}] (quality per unit of cost): the cheapest "
        f"model {cheapest!r} is also the best by the logs' {means}; up to where the cost "
        "gap between models outweighs their quality gap"
    )


@subcommand("fit", help="fit a router from a log file and save it",
            epilog=_EPILOG, arguments=_arguments)
def fit(args):
    """Fit a router from a gateway log and save it with joblib.

    The log is read and validated (malformed rows stop the fit with their line
    number, or are skipped and counted with --on-error skip). With prompt text
    the saved file is a Pipeline of a PromptEmbedder (sentence embeddings,
    needs the 'text' extra) and the router, so that `route` takes raw prompts;
    with a features field it is a Pipeline of the router alone. Logged
    propensities (a 'propensity' field) are used when every row has one and
    estimated when none has; a log where only some rows have one is an error
    naming --no-propensity.
    """
    import joblib

    from .. import IntervalRouter, Pipeline, RegretRouter

    if args.router == "regret" and args.cost_weight_range is not None:
        raise ValueError("--cost-weight-range goes with --router interval.")
    if args.router == "interval" and args.cost_weight != 0.0:
        raise ValueError(
            "--cost-weight goes with --router regret; an interval router serves the range "
            "--cost-weight-range LOW HIGH and takes the cost weight at route time."
        )
    if args.router == "interval" and args.no_fallback:
        raise ValueError("--no-fallback goes with --router regret; the interval router has "
                         "no fallback check.")
    out_dir = os.path.dirname(os.path.abspath(args.out))
    if not os.path.isdir(out_dir):
        raise FileNotFoundError(f"The folder of --out {args.out!r} does not exist.")
    logs = read_gateway_logs(args, args.logs)
    common = dict(temperature=args.temperature, max_epochs=args.max_epochs,
                  random_state=args.random_state, verbose=0 if args.quiet else 1)
    if args.hidden is not None:
        common["hidden_layer_sizes"] = tuple(args.hidden)
    if args.router == "regret":
        router = RegretRouter(loss=args.loss, cost_weight=args.cost_weight,
                              fallback=None if args.no_fallback else "best_single", **common)
    else:
        if args.cost_weight_range is None:
            cost_weight_range, reason = default_cost_weight_range(logs.feedback)
            say(args, reason + "; set it with --cost-weight-range LOW HIGH")
        else:
            cost_weight_range = tuple(args.cost_weight_range)
        router = IntervalRouter(cost_weight_range=cost_weight_range,
                                n_intervals=args.n_intervals, **common)
    steps = [("router", router)]
    n_models = len(set(logs.t.tolist()))
    if logs.prompts is not None:
        from ..text import PromptEmbedder

        embedder = PromptEmbedder(model_name_or_path=args.embedding_model,
                                  batch_size=args.embed_batch_size,
                                  show_progress=False if args.quiet else True)
        steps.insert(0, ("embed", embedder))
        say(args, f"embedding {len(logs):,} prompts, then fitting the "
                  f"{type(router).__name__} ({n_models} models)")
    else:
        say(args, f"fitting the {type(router).__name__} on {logs.features.shape[1]} "
                  f"features ({n_models} models)")
    pipe = Pipeline(steps)
    start = time.perf_counter()
    with contextlib.redirect_stdout(sys.stderr):  # skorch's epoch table is progress
        pipe.fit(logs.X, logs.feedback)
    for _, step in pipe.steps[:-1]:
        step.set_params(show_progress=None)  # saved with the automatic default
    router = pipe[-1]
    router.set_params(verbose=0)
    joblib.dump(pipe, args.out)
    say(args, f"fitted in {time.perf_counter() - start:.1f}s; models {router.classes_.tolist()}")
    values = getattr(router, "constant_values_", None)
    if values is not None:
        best = int(values.argmax())
        say(args, f"best single model on the training logs (DR): "
                  f"{router.classes_[best]} ({values[best]:.4f})")
    report = getattr(router, "fallback_report_", None)
    if report is not None:
        verdict = (f"routing everything to {report.best_single}" if report.fell_back
                   else "routing with the trained policy")
        say(args, f"fallback check: gain over {report.best_single} {report.gain:+.4f} per "
                  f"query ({report.confidence:.0%} lower bound {report.gain_lcb:+.4f}): "
                  f"{verdict}")
    say(args, f"saved the router to {args.out} ({os.path.getsize(args.out) / 1e6:.2f} MB)")
    return 0
