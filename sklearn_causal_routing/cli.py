"""The ``sklearn-causal-routing`` command line: simulate, fit, route, evaluate.

From a gateway log file to a routed request, with no Python to write::

    sklearn-causal-routing simulate -o train.jsonl --seed 1
    sklearn-causal-routing fit train.jsonl -o router.joblib --cost-weight 0.3
    echo '[0.1, 0.2, ...]' | sklearn-causal-routing route router.joblib
    sklearn-causal-routing evaluate router.joblib test.jsonl

Each subcommand is one function registered with :func:`subcommand`; its
arguments come from a second small function. ``main(argv)`` parses, runs and
returns the exit status: 0 on success, 1 on an error (printed on stderr
without a traceback; ``--debug`` shows it), 2 on a usage error. Progress goes
to stderr, results to stdout.
"""

import argparse
import contextlib
import json
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["SUBCOMMANDS", "Subcommand", "build_parser", "main", "subcommand"]

PROG = "sklearn-causal-routing"


# --------------------------------------------------------------------------- #
# registry
# --------------------------------------------------------------------------- #
@dataclass(frozen=True)
class Subcommand:
    """A registered subcommand.

    Attributes
    ----------
    name : str
        What the user types after ``sklearn-causal-routing``.
    help : str
        One line for the overview of ``--help``.
    description : str
        Paragraph shown by ``sklearn-causal-routing NAME --help``.
    epilog : str
        Examples shown at the end of that help.
    arguments : callable
        ``arguments(parser)`` adds the subcommand's options.
    run : callable
        ``run(args) -> int``: does the work, returns the exit status.
    """

    name: str
    help: str
    description: str
    epilog: str
    arguments: Callable
    run: Callable


#: The registered subcommands, by name, in registration order.
SUBCOMMANDS = {}


def subcommand(name, *, help, epilog, arguments):
    """Register ``run(args) -> int`` as the subcommand ``name``.

    Parameters
    ----------
    name : str
        The subcommand's name.
    help : str
        One-line summary for the overview.
    epilog : str
        Usage examples for the subcommand's ``--help``.
    arguments : callable
        ``arguments(parser)`` adding its options to an argparse parser.

    Returns
    -------
    register : callable
        Decorator; the decorated function's docstring is the description.

    Examples
    --------
    >>> from sklearn_causal_routing import cli
    >>> @cli.subcommand("hello", help="say hello", epilog="example: hello --name Ada",
    ...                 arguments=lambda p: p.add_argument("--name", default="world"))
    ... def hello(args):
    ...     '''Print a greeting.'''
    ...     print(f"hello {args.name}")
    ...     return 0
    >>> cli.main(["hello", "--name", "Ada"])
    hello Ada
    0
    >>> del cli.SUBCOMMANDS["hello"]
    """

    def register(run):
        description = (run.__doc__ or help).strip()
        SUBCOMMANDS[name] = Subcommand(name, help, description, epilog, arguments, run)
        return run

    return register


class _HelpFormatter(argparse.RawDescriptionHelpFormatter,
                     argparse.ArgumentDefaultsHelpFormatter):
    """Keep the examples' line breaks and show the defaults.

    A help text that already says its default, and an option whose default is
    ``None`` or ``False`` (nothing to show), get no ``(default: ...)`` suffix.
    """

    def _get_help_string(self, action):
        help_text = action.help or ""
        if "(default" in help_text or action.default in (None, False):
            return help_text
        return super()._get_help_string(action)


def build_parser():
    """The argparse parser of the command line, with every registered subcommand.

    Returns
    -------
    parser : argparse.ArgumentParser

    Examples
    --------
    >>> from sklearn_causal_routing.cli import build_parser
    >>> args = build_parser().parse_args(["fit", "logs.jsonl", "-o", "router.joblib"])
    >>> args.command, args.router, args.cost_weight
    ('fit', 'regret', 0.0)
    """
    parser = argparse.ArgumentParser(
        prog=PROG,
        description=(
            "Train LLM routers from biased gateway logs (propensities, doubly robust "
            "utilities, regret-minimising policies) and route prompts with them."
        ),
        epilog=_OVERVIEW,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--debug", action="store_true",
                        help="show the full traceback of errors")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("-q", "--quiet", action="store_true",
                        help="no progress messages on stderr")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for cmd in SUBCOMMANDS.values():
        p = sub.add_parser(
            cmd.name, help=cmd.help, description=cmd.description,
            epilog="examples:\n" + cmd.epilog, parents=[common],
            formatter_class=_HelpFormatter,
        )
        cmd.arguments(p)
        p.set_defaults(_run=cmd.run)
    return parser


def main(argv=None):
    """Run the command line.

    Parameters
    ----------
    argv : list of str, default=None
        The arguments (without the program name); ``None`` reads ``sys.argv``.

    Returns
    -------
    status : int
        0 on success, 1 on an error, 2 on a usage error.

    Examples
    --------
    >>> from sklearn_causal_routing.cli import main
    >>> main(["fit", "no-such-file.jsonl", "-o", "router.joblib", "--quiet"])
    1
    """
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, usage errors
        return int(exc.code or 0)
    try:
        return int(args._run(args) or 0)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # e.g. `route ... | head`
        with contextlib.suppress(Exception):
            sys.stdout = open(os.devnull, "w")
        return 0
    except (ValueError, TypeError, KeyError, OSError, ImportError) as exc:
        if args.debug:
            raise
        print(f"{PROG} {args.command}: error: {exc}", file=sys.stderr)
        return 1


# --------------------------------------------------------------------------- #
# helpers
# --------------------------------------------------------------------------- #
_T0 = time.perf_counter()


def _say(args, msg):
    if not getattr(args, "quiet", False):
        print(f"[{time.perf_counter() - _T0:7.1f}s] {msg}", file=sys.stderr, flush=True)


def _add_field_args(p, *, outcome=True):
    g = p.add_argument_group("log fields (names of the fields in the log file)")
    g.add_argument("--format", choices=("jsonl", "csv", "parquet"), default=None,
                   help="file format (default: from the extension)")
    g.add_argument("--prompt-field", default="prompt", help="field with the prompt text")
    g.add_argument("--features-field", default=None,
                   help="field with a numeric feature vector, used instead of the prompt "
                        "(default: 'features' when the log has no prompt field)")
    if not outcome:
        return
    g.add_argument("--model-field", default="model", help="field with the serving model")
    g.add_argument("--quality-field", default="quality", help="field with the graded outcome")
    g.add_argument("--cost-field", default="cost",
                   help="field with the cost of the call ('' if costs are not logged)")
    g.add_argument("--propensity-field", default=None,
                   help="field with the logged probability of the served model (default: "
                        "'propensity' when the log has it)")
    g.add_argument("--no-propensity", action="store_true",
                   help="ignore logged propensities: estimate them instead")
    g.add_argument("--gold-field", default=None,
                   help="field with a gold-standard-grade flag (true/false)")
    g.add_argument("--on-error", choices=("raise", "skip"), default="raise",
                   help="malformed rows: stop with their line number, or skip and count them")
    g.add_argument("--duplicates", choices=("keep", "drop", "raise"), default="keep",
                   help="rows repeating an earlier one (same prompt, model, quality, cost)")


def _input_fields(args, path, *, text):
    """(prompt field, features field) to read, given the router's input kind."""
    from .logs import peek_fields

    if text is None:  # fit: decide from the file
        if args.features_field:
            return None, args.features_field
        fields = peek_fields(path, format=args.format)
        if args.prompt_field in fields or "features" not in fields:
            return args.prompt_field, None
        _say(args, f"the log has no {args.prompt_field!r} field: using its 'features' field")
        return None, "features"
    if text:
        return args.prompt_field, None
    return None, args.features_field or "features"


def _read(args, path, *, text=None):
    from .logs import peek_fields, read_logs

    prompt, features = _input_fields(args, path, text=text)
    propensity = args.propensity_field
    if args.no_propensity:
        propensity = None
    elif propensity is None and "propensity" in peek_fields(path, format=args.format):
        propensity = "propensity"
    _say(args, f"reading {path}")
    logs = read_logs(
        path, format=args.format, prompt=prompt, features=features,
        model=args.model_field, quality=args.quality_field, cost=args.cost_field or None,
        propensity=propensity, gold=args.gold_field, on_error=args.on_error,
        duplicates=args.duplicates,
    )
    _say(args, logs.summary())
    _say(args, "propensities: " + (f"logged (field {propensity!r})" if propensity
                                   else "not logged, estimated by cross-fitting"))
    return logs


def _load_router(path):
    import joblib

    if not os.path.isfile(path):
        raise FileNotFoundError(f"No router file at {path!r}; create one with `{PROG} fit`.")
    router = joblib.load(path)
    if not hasattr(router, "predict"):
        raise TypeError(
            f"{path} holds a {type(router).__name__}, not a fitted router; create one "
            f"with `{PROG} fit LOGS -o {path}`."
        )
    return router


def _split_router(router):
    """(preprocessing steps or None, final router, takes text?)."""
    from .text import PromptEmbedder

    steps = getattr(router, "steps", None)
    if steps:
        final = steps[-1][1]
        pre = router[:-1] if len(steps) > 1 else None
        text = any(isinstance(step, PromptEmbedder) for _, step in steps[:-1])
        return pre, final, text
    return None, router, False


def _is_interval(router):
    return hasattr(router, "cost_weight_range_")


def _predict(final, X, cost_weight):
    if _is_interval(final):
        return final.predict(X, cost_weight=cost_weight)
    if cost_weight is not None and cost_weight != getattr(final, "cost_weight", None):
        raise ValueError(
            f"--cost-weight applies to interval routers (`{PROG} fit --router interval`); "
            f"this {type(final).__name__} was fitted for cost_weight="
            f"{getattr(final, 'cost_weight', None)!r}. Refit it at the cost weight you "
            "want, or fit an interval router."
        )
    return final.predict(X)


def _quiet_embedder(router, quiet):
    """Progress bars of a text pipeline's embedder on (None = auto) or off."""
    from .text import PromptEmbedder

    for _, step in getattr(router, "steps", []):
        if isinstance(step, PromptEmbedder):
            step.set_params(show_progress=False if quiet else None)


# --------------------------------------------------------------------------- #
# simulate
# --------------------------------------------------------------------------- #
_OVERVIEW = f"""\
workflow:
  {PROG} simulate -o train.jsonl --seed 1            # or bring your gateway's logs
  {PROG} fit train.jsonl -o router.joblib --cost-weight 0.3
  {PROG} route router.joblib prompts.jsonl           # model names, one per line
  {PROG} evaluate router.joblib heldout.jsonl        # off-policy value with intervals
  {PROG} learning-curve table.parquet --embeddings X.npy   # is routing worth it?

Run `{PROG} COMMAND --help` for the options and examples of each command.
"""


def _simulate_arguments(p):
    p.add_argument("-o", "--out", required=True,
                   help="log file to write (.jsonl, .csv or .parquet; .jsonl.gz works)")
    src = p.add_argument_group("source (default: a simulated RoutingWorld)")
    src.add_argument("--table", default=None,
                     help="a full-feedback table (.parquet / .csv with '<model>|quality' "
                          "and '<model>|cost' columns) to log from instead")
    src.add_argument("--embeddings", default=None,
                     help="with --table: a row-aligned .npy of query features")
    src.add_argument("--split", default=None,
                     help="with --table: keep the rows whose 'split' column equals this")
    src.add_argument("--with-features", action="store_true",
                     help="with --table: also write the features (always written for a "
                          "simulated world, which has no prompt text)")
    src.add_argument("--n-samples", type=int, default=None,
                     help="queries to draw (world; default 2000) or to sample from the table "
                          "(default: all rows)")
    src.add_argument("--n-models", type=int, default=4, help="world: number of models")
    src.add_argument("--n-tasks", type=int, default=4, help="world: number of tasks")
    src.add_argument("--n-features", type=int, default=16, help="world: feature dimension")
    src.add_argument("--outcome", choices=("bernoulli", "gaussian"), default="bernoulli",
                     help="world: 0/1 grades or Gaussian quality")
    src.add_argument("--world-seed", type=int, default=0,
                     help="world: seed of the world itself (keep it fixed across train/test)")
    log = p.add_argument_group("logging rule")
    log.add_argument("--policy", choices=("confounded", "uniform", "deterministic"),
                     default="confounded", help="rule that picked the served model")
    log.add_argument("--skew", type=float, default=5.0,
                     help="bias of 'confounded': p ~ exp(skew * the model's task accuracy)")
    log.add_argument("--difficulty", type=float, default=0.0,
                     help="'confounded': strength of 'hard queries go to the big model'")
    log.add_argument("--epsilon", type=float, default=0.05,
                     help="'deterministic': exploration mass")
    log.add_argument("--no-propensity", action="store_true",
                     help="do not record the logging probability")
    p.add_argument("--seed", type=int, default=0,
                   help="seed of the queries drawn and of the logging draws")
    p.add_argument("--format", choices=("jsonl", "csv", "parquet"), default=None,
                   help="output format (default: from the extension)")


def _load_table(args):
    import numpy as np

    from .datasets import load_routing_table
    from .datasets._loaders import _import_pandas, _read_frame

    pd = _import_pandas()
    frame = _read_frame(args.table, pd)
    embeddings = args.embeddings
    has_x = any(str(c).startswith("x") and str(c)[1:].isdigit() for c in frame.columns)
    if embeddings is None and not has_x:
        if "prompt" not in frame.columns:
            raise ValueError(
                f"{args.table} has neither prompts (a 'prompt' column) nor features "
                "('x0', 'x1', ... columns); pass --embeddings FEATURES.npy."
            )
        if args.with_features:
            raise ValueError("--with-features needs features: pass --embeddings FEATURES.npy.")
        embeddings = np.zeros((len(frame), 0))
    table = load_routing_table(frame, embeddings=embeddings)
    if args.split is not None:
        table = table.split_by(args.split)
    if args.n_samples is not None:
        if not 0 < args.n_samples <= len(table):
            raise ValueError(
                f"--n-samples must be in [1, {len(table)}] (the table's rows); got "
                f"{args.n_samples}."
            )
        rng = np.random.RandomState(args.seed)
        table = table.subset(np.sort(rng.choice(len(table), args.n_samples, replace=False)))
    return table


def _simulate_epilog():
    return f"""\
  # biased logs of a simulated world (features, no prompt text); train and test logs
  # come from the same world (--world-seed) with different query draws (--seed)
  {PROG} simulate -o train.jsonl --n-samples 5000 --seed 1
  {PROG} simulate -o test.jsonl --n-samples 2000 --seed 2

  # logs of a full-feedback table with prompts (RouterBench format), train split only
  {PROG} simulate --table ../shared/data/routerbench_subset.parquet --split train \\
      --policy confounded --skew 5 -o routerbench_train.jsonl
"""


@subcommand("simulate", help="write a biased log file from a simulated world or a table",
            epilog=_simulate_epilog(), arguments=_simulate_arguments)
def simulate(args):
    """Write a gateway log drawn with a biased logging rule.

    The source is a simulated RoutingWorld (queries are feature vectors: the
    log has a 'features' field and no prompt) or a full-feedback table (every
    model's outcome on every query; its prompts are written when it has a
    'prompt' column). One model per query is drawn with the logging rule and
    only that model's quality and cost are kept, with the probability of the
    draw ('propensity') unless --no-propensity.
    """
    from .datasets import RoutingWorld
    from .logs import write_logs

    if args.table is None:
        for name in ("embeddings", "split"):
            if getattr(args, name) is not None:
                raise ValueError(f"--{name} goes with --table.")
        n = 2000 if args.n_samples is None else args.n_samples
        if n < 1:
            raise ValueError(f"--n-samples must be >= 1; got {n}.")
        world = RoutingWorld(n_models=args.n_models, n_tasks=args.n_tasks,
                             n_features=args.n_features, outcome=args.outcome,
                             random_state=args.world_seed)
        table = world.sample(n, random_state=args.seed)
        source = f"simulated RoutingWorld (world seed {args.world_seed})"
    else:
        table = _load_table(args)
        source = args.table
    logs = table.log(args.policy, skew=args.skew, difficulty=args.difficulty,
                     epsilon=args.epsilon, record_propensity=not args.no_propensity,
                     random_state=args.seed)
    prompts = table.prompt
    if prompts is not None:
        prompts = [str(p) for p in prompts]
    with_features = prompts is None or args.with_features
    extra = {}
    for name in ("task", "split"):
        values = getattr(table, name)
        if values is not None:
            extra[name] = [str(v) for v in values]
    write_logs(args.out, logs.feedback, prompts=prompts,
               features=logs.X if with_features else None, extra=extra, format=args.format)
    shares = dict(zip(*_unique_counts(logs.t)))
    _say(args, f"wrote {len(logs)} rows to {args.out} from {source}, logged with the "
               f"{args.policy!r} rule; served: {shares}")
    return 0


def _unique_counts(values):
    import numpy as np

    labels, counts = np.unique(values, return_counts=True)
    return labels.tolist(), counts.tolist()


# --------------------------------------------------------------------------- #
# fit
# --------------------------------------------------------------------------- #
def _fit_arguments(p):
    p.add_argument("logs", help="the training log file")
    p.add_argument("-o", "--out", required=True, help="fitted router file to write (joblib)")
    r = p.add_argument_group("router")
    r.add_argument("--router", choices=("regret", "interval"), default="regret",
                   help="RegretRouter (one cost weight) or IntervalRouter (a range)")
    r.add_argument("--loss", choices=("softmax", "classification"), default="softmax",
                   help="regret router: RM-Softmax or RM-Classification")
    r.add_argument("--cost-weight", type=float, default=0.0,
                   help="regret router: utility = quality - cost_weight * cost")
    r.add_argument("--cost-weight-range", type=float, nargs=2, metavar=("LOW", "HIGH"),
                   default=None, help="interval router: the range of cost weights served "
                                      "(default: 0 to 1)")
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
    _add_field_args(p)


def _fit_epilog():
    return f"""\
  {PROG} fit train.jsonl -o router.joblib --cost-weight 0.3
  {PROG} fit gateway.csv -o router.joblib --prompt-field input --model-field served_by \\
      --quality-field grade --cost-field usd --on-error skip --cost-weight 200
  {PROG} fit train.jsonl -o interval.joblib --router interval --cost-weight-range 0 1000
  {PROG} fit sim.jsonl -o router.joblib --features-field features --max-epochs 20
"""


@subcommand("fit", help="fit a router from a log file and save it",
            epilog=_fit_epilog(), arguments=_fit_arguments)
def fit(args):
    """Fit a router from a gateway log and save it with joblib.

    The log is read and validated (malformed rows stop the fit with their line
    number, or are skipped and counted with --on-error skip). With prompt text
    the saved file is a Pipeline of a PromptEmbedder (sentence embeddings,
    needs the 'text' extra) and the router, so that `route` takes raw prompts;
    with a features field it is a Pipeline of the router alone. Logged
    propensities are used when the log has them, else estimated.
    """
    import joblib

    from . import IntervalRouter, Pipeline, RegretRouter

    if args.router == "regret" and args.cost_weight_range is not None:
        raise ValueError("--cost-weight-range goes with --router interval.")
    if args.router == "interval" and args.cost_weight != 0.0:
        raise ValueError(
            "--cost-weight goes with --router regret; an interval router serves the range "
            "--cost-weight-range LOW HIGH and takes the cost weight at route time."
        )
    out_dir = os.path.dirname(os.path.abspath(args.out))
    if not os.path.isdir(out_dir):
        raise FileNotFoundError(f"The folder of --out {args.out!r} does not exist.")
    logs = _read(args, args.logs)
    common = dict(temperature=args.temperature, max_epochs=args.max_epochs,
                  random_state=args.random_state, verbose=0 if args.quiet else 1)
    if args.hidden is not None:
        common["hidden_layer_sizes"] = tuple(args.hidden)
    if args.router == "interval" and args.no_fallback:
        raise ValueError("--no-fallback goes with --router regret; the interval router has "
                         "no fallback check.")
    if args.router == "regret":
        router = RegretRouter(loss=args.loss, cost_weight=args.cost_weight,
                              fallback=None if args.no_fallback else "best_single", **common)
    else:
        router = IntervalRouter(cost_weight_range=tuple(args.cost_weight_range or (0.0, 1.0)),
                                n_intervals=args.n_intervals, **common)
    steps = [("router", router)]
    if logs.prompts is not None:
        from .text import PromptEmbedder

        embedder = PromptEmbedder(model_name_or_path=args.embedding_model,
                                  batch_size=args.embed_batch_size,
                                  show_progress=False if args.quiet else True)
        steps.insert(0, ("embed", embedder))
        _say(args, f"embedding {len(logs):,} prompts, then fitting the "
                   f"{type(router).__name__} ({len(set(logs.t.tolist()))} models)")
    else:
        _say(args, f"fitting the {type(router).__name__} on {logs.features.shape[1]} "
                   f"features ({len(set(logs.t.tolist()))} models)")
    pipe = Pipeline(steps)
    start = time.perf_counter()
    with contextlib.redirect_stdout(sys.stderr):  # skorch's epoch table is progress
        pipe.fit(logs.X, logs.feedback)
    for _, step in pipe.steps[:-1]:
        step.set_params(show_progress=None)  # saved with the automatic default
    router = pipe[-1]
    router.set_params(verbose=0)
    joblib.dump(pipe, args.out)
    _say(args, f"fitted in {time.perf_counter() - start:.1f}s; models {router.classes_.tolist()}")
    values = getattr(router, "constant_values_", None)
    if values is not None:
        best = int(values.argmax())
        _say(args, f"best single model on the training logs (DR): "
                   f"{router.classes_[best]} ({values[best]:.4f})")
    report = getattr(router, "fallback_report_", None)
    if report is not None:
        verdict = (f"routing everything to {report.best_single}" if report.fell_back
                   else "routing with the trained policy")
        _say(args, f"fallback check: gain over {report.best_single} {report.gain:+.4f} per "
                   f"query ({report.confidence:.0%} lower bound {report.gain_lcb:+.4f}): "
                   f"{verdict}")
    _say(args, f"saved the router to {args.out} ({os.path.getsize(args.out) / 1e6:.2f} MB)")
    return 0


# --------------------------------------------------------------------------- #
# route
# --------------------------------------------------------------------------- #
def _route_arguments(p):
    p.add_argument("router", help="fitted router file (from `fit`)")
    p.add_argument("input", nargs="?", default="-",
                   help="prompts: a file, or '-' for stdin")
    p.add_argument("--input-format", choices=("lines", "jsonl", "csv", "parquet"),
                   default=None,
                   help="'lines': one prompt (or feature vector, a JSON array or "
                        "space-separated numbers) per line; jsonl/csv/parquet: read the "
                        "prompt (or features) field. Default: from the file extension, "
                        "'lines' for stdin and other files")
    p.add_argument("--prompt-field", default="prompt", help="jsonl/csv/parquet: prompt field")
    p.add_argument("--features-field", default=None,
                   help="jsonl/csv/parquet: features field, for routers fitted on features "
                        "(default 'features')")
    p.add_argument("--cost-weight", type=float, default=None,
                   help="interval routers: the cost weight to route at (default: the one "
                        "chosen by calibrate_budget)")
    p.add_argument("--batch-size", type=int, default=256,
                   help="inputs routed at once (1 answers each stdin line at once)")
    p.add_argument("-o", "--output", default="-", help="where to write the model names")


def _route_epilog():
    return f"""\
  echo "Write a Python function that reverses a list." | {PROG} route router.joblib
  {PROG} route router.joblib prompts.txt > models.txt           # one prompt per line
  {PROG} route router.joblib requests.jsonl --prompt-field input
  {PROG} route interval.joblib prompts.txt --cost-weight 250
  {PROG} route sim_router.joblib test.jsonl                      # a features log
"""


def _line_batches(stream, batch_size, text):
    import numpy as np

    batch = []
    for line_no, line in enumerate(stream, 1):
        line = line.rstrip("\r\n")
        if text:
            batch.append(line)
        else:
            batch.append(_parse_vector(line, line_no))
        if len(batch) >= batch_size:
            yield np.array(batch, dtype=object) if text else np.array(batch)
            batch = []
    if batch:
        yield np.array(batch, dtype=object) if text else np.array(batch)


def _parse_vector(line, line_no):
    text = line.strip()
    if text.startswith("{"):
        raise ValueError(
            f"input line {line_no}: a JSON object, but 'lines' input takes one feature "
            "vector per line; pass --input-format jsonl (and --features-field NAME) to "
            "read the features field of JSON records."
        )
    try:
        values = json.loads(text) if text.startswith("[") else [
            float(v) for v in text.replace(",", " ").split()
        ]
        values = [float(v) for v in values]
    except (TypeError, ValueError):
        raise ValueError(
            f"input line {line_no}: expected a feature vector (a JSON array or numbers "
            f"separated by spaces); got {text[:60]!r}."
        ) from None
    if not values:
        raise ValueError(f"input line {line_no}: empty feature vector.")
    return values


def _input_format(args):
    if args.input_format is not None:
        return args.input_format
    if args.input == "-":
        return "lines"
    from .logs import _SUFFIXES

    name = args.input.lower().removesuffix(".gz")
    return _SUFFIXES.get(os.path.splitext(name)[1], "lines")


@subcommand("route", help="route prompts (file or stdin) to model names (stdout)",
            epilog=_route_epilog(), arguments=_route_arguments)
def route(args):
    """Route each input to a model; write the model names one per line.

    The output has one line per input, in input order. Routers fitted on
    prompt text take prompts (one per line, or the prompt field of a
    jsonl/csv/parquet file); routers fitted on features take feature vectors.
    """
    from .logs import _open_binary, _read_inputs

    if args.batch_size < 1:
        raise ValueError(f"--batch-size must be >= 1; got {args.batch_size}.")
    router = _load_router(args.router)
    pre, final, text = _split_router(router)
    _quiet_embedder(router, args.quiet)
    if args.cost_weight is None and _is_interval(final) and getattr(final, "budget_", None) is None:
        lo, hi = final.cost_weight_range_
        raise ValueError(
            f"this interval router serves cost weights in [{lo:g}, {hi:g}]; pass "
            "--cost-weight W to route at one of them."
        )
    fmt = _input_format(args)
    _say(args, f"routing {'prompts' if text else 'feature vectors'} from "
               f"{'stdin' if args.input == '-' else args.input} ({fmt}) with "
               f"{type(final).__name__} over {final.classes_.tolist()}")
    with contextlib.ExitStack() as stack:
        if fmt == "lines":
            if args.input == "-":
                stream = sys.stdin
            else:
                if not os.path.isfile(args.input):
                    raise FileNotFoundError(f"No input file at {args.input!r}.")
                raw = stack.enter_context(_open_binary(args.input))
                import io

                stream = io.TextIOWrapper(raw, encoding="utf-8")
            batches = _line_batches(stream, args.batch_size, text)
        else:
            if args.input == "-" and fmt != "jsonl":
                raise ValueError(
                    f"--input-format {fmt} reads a file; stdin takes 'lines' or 'jsonl'."
                )
            batches = _read_inputs(
                args.input, format=fmt, prompt=args.prompt_field,
                features=None if text else (args.features_field or "features"),
                chunk_size=args.batch_size,
            )
        out = sys.stdout if args.output == "-" else stack.enter_context(
            open(args.output, "w", encoding="utf-8"))
        n = 0
        for X in batches:
            Xt = pre.transform(X) if pre is not None else X
            labels = _predict(final, Xt, args.cost_weight)
            out.write("".join(f"{label}\n" for label in labels.tolist()))
            out.flush()
            n += len(labels)
    _say(args, f"routed {n:,} inputs")
    return 0


# --------------------------------------------------------------------------- #
# evaluate
# --------------------------------------------------------------------------- #
def _evaluate_arguments(p):
    p.add_argument("router", help="fitted router file (from `fit`)")
    p.add_argument("logs", help="held-out log file (not used for fitting)")
    p.add_argument("--cost-weight", type=float, default=None,
                   help="utility = quality - cost_weight * cost (default: the router's "
                        "own; required for interval routers without a budget)")
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
    _add_field_args(p)


def _evaluate_epilog():
    return f"""\
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


@subcommand("evaluate", help="off-policy value of a fitted router on held-out logs",
            epilog=_evaluate_epilog(), arguments=_evaluate_arguments)
def evaluate(args):
    """Estimate the value of a fitted router's decisions on held-out logs.

    The router routes every logged query; the mean utility its decisions would
    have had is estimated from the logs by the direct method (DM), inverse
    propensity scoring (IPW), self-normalised IPS (SNIPS) and doubly robust
    estimation (DR), each with a confidence interval, and the effective sample
    size of the importance weights. For reference, the logged policy's own
    mean utility and (unless --no-baselines) the DR value of always routing to
    each single model are shown: a router that does not beat the best single
    model should not ship.
    """
    import numpy as np

    from .metrics import evaluate_policy

    router = _load_router(args.router)
    pre, final, text = _split_router(router)
    _quiet_embedder(router, args.quiet)
    logs = _read(args, args.logs, text=text)
    cost_weight = args.cost_weight
    if cost_weight is None:
        if _is_interval(final):
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
    if pre is not None:
        _say(args, f"embedding {len(logs):,} prompts")
    X = pre.transform(logs.X) if pre is not None else logs.X
    if _is_interval(final):
        decisions = final.predict(X, cost_weight=cost_weight)
    else:
        decisions = final.predict(X)
    _say(args, "estimating the value (cross-fitting the evaluation models)")
    kwargs = dict(cost_weight=cost_weight, methods=tuple(args.methods),
                  confidence_level=args.confidence_level, interval=args.interval,
                  n_bootstrap=args.n_bootstrap, random_state=args.random_state)
    res = evaluate_policy(decisions, X, logs.feedback, **kwargs)
    labels, counts = _unique_counts(decisions)
    shares = {label: count / len(decisions) for label, count in zip(labels, counts)}
    logged = _logged_policy(logs.feedback, cost_weight, args.confidence_level)
    baselines = {}
    if not args.no_baselines:
        for model in np.unique(logs.feedback["action"]).tolist():
            single = evaluate_policy(np.full(len(logs), model), X, logs.feedback,
                                     **{**kwargs, "methods": ("dr",), "interval": "analytic"})
            baselines[model] = single.estimates["dr"].to_dict()
    if args.json:
        out = {"router": args.router, "logs": args.logs, "n_read": logs.n_read,
               "n_skipped": logs.n_skipped, "n_duplicates": logs.n_duplicates,
               **res.to_dict(), "shares": shares, "logged_policy": logged,
               "single_models_dr": baselines}
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
    return 0


def _benchmark_arguments(p):
    from .experiments._cli import add_arguments

    add_arguments(p)


def _benchmark_epilog():
    from .experiments._cli import epilog

    return epilog().removeprefix("examples:\n")


@subcommand("benchmark", help="compare every method, baseline and peer on a full-feedback table",
            epilog=_benchmark_epilog(), arguments=_benchmark_arguments)
def benchmark(args):
    """Benchmark routers on a full-feedback table.

    Simulates biased logs with a named logging rule, trains every method
    (RM-Softmax, RM-Classification, the baselines, and the EconML / Open
    Bandit Pipeline peers when the 'bench' extra is installed) from the logs
    only, scores the true test utility per cost weight, and writes a markdown
    report with a Pareto PNG. See docs/benchmark.md.
    """
    from .experiments._cli import run

    return run(args)


def _learning_curve_arguments(p):
    from .experiments._curve_cli import add_arguments

    add_arguments(p)


def _learning_curve_epilog():
    from .experiments._curve_cli import epilog

    return epilog()


@subcommand("learning-curve",
            help="is routing worth it on my logs? true gain vs number of logged queries",
            epilog=_learning_curve_epilog(), arguments=_learning_curve_arguments)
def learning_curve(args):
    """How the gain of routing grows with the size of the logs.

    Calibrates a semi-synthetic world on your full-feedback table (expected
    quality and cost per model and query, from models fitted on the whole
    table), samples training worlds of each --sizes, logs them with a biased
    rule, trains RM-Softmax from the logs and a full-feedback router on the
    same queries, and prints, per size, the true test utility of both, of the
    best single model and of the oracle, and the share of the full-feedback
    gain the router recovers. Large sizes take long: a million queries, about
    an hour. See docs/learning_curve.md.
    """
    from .experiments._curve_cli import run

    return run(args)


if __name__ == "__main__":  # python -m sklearn_causal_routing.cli
    sys.exit(main())
