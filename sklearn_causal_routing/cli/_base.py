"""What every command shares: the registry, the parser, ``main`` and the helpers.

Each command module registers one function with :func:`subcommand`;
:func:`build_parser` builds the argparse parser from the registry and
:func:`main` runs it. The helpers below read a gateway log the way every
command reads one (:func:`read_gateway_logs`, with :func:`add_field_args` for
its options) and load a fitted router (:func:`load_router`).
"""

import argparse
import contextlib
import os
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass

__all__ = [
    "PROG",
    "SUBCOMMANDS",
    "Subcommand",
    "add_field_args",
    "build_parser",
    "is_interval",
    "load_router",
    "logging_policies",
    "main",
    "predict_labels",
    "quiet_embedder",
    "read_gateway_logs",
    "read_table_frame",
    "say",
    "split_router",
    "subcommand",
    "unique_counts",
]

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
    ``None`` or ``False`` (nothing to show), get no ``(default: ...)`` suffix; a
    default of ``0`` is shown.
    """

    def _get_help_string(self, action):
        help_text = action.help or ""
        if "(default" in help_text or action.default is None or action.default is False:
            return help_text
        return super()._get_help_string(action)


_OVERVIEW = f"""\
workflow:
  {PROG} simulate -o train.jsonl --seed 1            # or bring your gateway's logs
  {PROG} fit train.jsonl -o router.joblib --cost-weight 0.3
  {PROG} route router.joblib prompts.jsonl           # model names, one per line
  {PROG} evaluate router.joblib heldout.jsonl        # off-policy value with intervals
  {PROG} learning-curve table.parquet --embeddings X.npy   # is routing worth it?

Run `{PROG} COMMAND --help` for the options and examples of each command.
"""


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


def _error_text(exc):
    """One line for an error: its message (a KeyError's key is no message)."""
    if isinstance(exc, KeyError) and exc.args and isinstance(exc.args[0], str):
        text = exc.args[0]
    else:
        text = str(exc)
    if isinstance(exc, KeyError) or not text:
        text = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    return text


def main(argv=None):
    """Run the command line.

    Errors end the command with one line on stderr,
    ``sklearn-causal-routing COMMAND: error: ...`` (``--debug`` shows the
    traceback instead); warnings are printed as one line each,
    ``sklearn-causal-routing COMMAND: warning: ...``, without the source line.

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
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, usage errors
        return int(exc.code or 0)
    args.argv = argv  # what was typed, for reports that show their command
    try:
        with _warnings_as_lines(args.command):
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
        print(f"{PROG} {args.command}: error: {_error_text(exc)}", file=sys.stderr)
        return 1


@contextlib.contextmanager
def _warnings_as_lines(command):
    """Show each distinct warning once, as one line on stderr, without its source line.

    The warning filters are left as they are (``-W``, ``PYTHONWARNINGS``); only
    the way a shown warning is printed changes.
    """
    seen = set()

    def show(message, category, filename, lineno, file=None, line=None):
        text = str(message)
        if text in seen:
            return
        seen.add(text)
        print(f"{PROG} {command}: warning: {text}", file=sys.stderr, flush=True)

    with warnings.catch_warnings():
        warnings.showwarning = show
        yield


# --------------------------------------------------------------------------- #
# helpers
# --------------------------------------------------------------------------- #
_T0 = time.perf_counter()


def say(args, msg):
    """Print a progress line on stderr, unless ``--quiet``."""
    if not getattr(args, "quiet", False):
        print(f"[{time.perf_counter() - _T0:7.1f}s] {msg}", file=sys.stderr, flush=True)


def unique_counts(values):
    """The distinct values and how often each occurs, as two lists."""
    import numpy as np

    labels, counts = np.unique(values, return_counts=True)
    return labels.tolist(), counts.tolist()


def logging_policies():
    """The names of the library's logging rules (``datasets.LOGGING_POLICIES``)."""
    from .. import datasets

    return tuple(datasets.LOGGING_POLICIES)


def read_table_frame(path, command):
    """A full-feedback table file as a DataFrame, read as ``load_routing_table`` reads it."""
    from ..datasets._loaders import read_frame

    return read_frame(path, needed_by=f"{PROG} {command}")


def add_field_args(p, *, outcome=True):
    """Add the options naming the fields of a log file (and how to read it)."""
    from ..logs import FORMATS

    g = p.add_argument_group("log fields (names of the fields in the log file)")
    g.add_argument("--format", choices=FORMATS, default=None,
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
                   help="field with the logged probability of the served model; every row "
                        "must have it (default: 'propensity' when every row of the log has "
                        "it; none: estimated; some: an error)")
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
    from ..logs import peek_fields

    if text is None:  # fit: decide from the file
        if args.features_field:
            return None, args.features_field
        fields = peek_fields(path, format=args.format)
        if args.prompt_field in fields or "features" not in fields:
            return args.prompt_field, None
        say(args, f"the log has no {args.prompt_field!r} field: using its 'features' field")
        return None, "features"
    if text:
        return args.prompt_field, None
    return None, args.features_field or "features"


def _propensity_field(args, path):
    """The propensity field to read (or None), and the line saying why.

    The rule: ``--no-propensity`` estimates; ``--propensity-field NAME`` reads
    NAME, which every row must have; otherwise the field ``propensity`` is
    read when every record has a value for it, propensities are estimated
    when no record has one, and a log where only some records have one is an
    error (mixing recorded and estimated propensities would weight the two
    kinds of rows on different scales).
    """
    from ..logs import count_fields

    if args.no_propensity:
        return None, "propensities: estimated by cross-fitting (--no-propensity)"
    if args.propensity_field is not None:
        return args.propensity_field, (f"propensities: logged (field "
                                       f"{args.propensity_field!r}, --propensity-field)")
    name = "propensity"
    n, counts = count_fields(path, [name], format=args.format)
    have = counts[name]
    if have == 0:
        return None, (f"propensities: no row has a {name!r} field: estimated by "
                      "cross-fitting")
    if have == n:
        return name, f"propensities: logged in all {n:,} rows (field {name!r})"
    raise ValueError(
        f"{path}: {n - have:,} of {n:,} rows have no {name!r} value (the other {have:,} "
        "have one), so the log neither records every propensity nor none. Pass "
        "--no-propensity to estimate every row's propensity, or --propensity-field "
        f"{name} to read it and stop at the first row lacking it (with --on-error skip: "
        "skip those rows)."
    )


def read_gateway_logs(args, path, *, text=None):
    """Read a log file as the command-line options say; print what was read.

    Parameters
    ----------
    args : argparse.Namespace
        Parsed options from :func:`add_field_args`.
    path : str
        The log file.
    text : bool or None, default=None
        Whether the router takes prompt text (``None``: decide from the file).

    Returns
    -------
    logs : GatewayLogs
    """
    from ..logs import MalformedLogError, read_logs

    prompt, features = _input_fields(args, path, text=text)
    propensity, how = _propensity_field(args, path)
    say(args, f"reading {path}")
    try:
        logs = read_logs(
            path, format=args.format, prompt=prompt, features=features,
            model=args.model_field, quality=args.quality_field,
            cost=args.cost_field or None, propensity=propensity, gold=args.gold_field,
            on_error=args.on_error, duplicates=args.duplicates,
        )
    except MalformedLogError as exc:
        raise ValueError(exc.message(skip="--on-error skip")) from None
    except ValueError as exc:  # duplicates="raise": name the options as typed here
        text = str(exc)
        for value in ("keep", "drop"):
            text = text.replace(f"duplicates={value!r}", f"--duplicates {value}")
        if text == str(exc):
            raise
        raise ValueError(text) from None
    say(args, logs.summary())
    say(args, how)
    return logs


def load_router(path):
    """The fitted router (or pipeline) saved in ``path`` by ``fit``."""
    import joblib

    if not os.path.isfile(path):
        raise FileNotFoundError(f"No router file at {path!r}; create one with `{PROG} fit`.")
    try:
        router = joblib.load(path)
    except Exception as exc:  # noqa: BLE001 - unpickling raises anything at all
        detail = _error_text(exc)
        raise ValueError(
            f"{path} is not a router file written by `{PROG} fit`: it could not be "
            f"loaded ({type(exc).__name__}: {detail}). Create one with "
            f"`{PROG} fit LOGS -o {path}`."
        ) from None
    if not hasattr(router, "predict"):
        raise TypeError(
            f"{path} holds a {type(router).__name__}, not a fitted router; create one "
            f"with `{PROG} fit LOGS -o {path}`."
        )
    return router


def split_router(router):
    """(preprocessing steps or None, final router, takes text?)."""
    from ..text import PromptEmbedder

    steps = getattr(router, "steps", None)
    if steps:
        final = steps[-1][1]
        pre = router[:-1] if len(steps) > 1 else None
        text = any(isinstance(step, PromptEmbedder) for _, step in steps[:-1])
        return pre, final, text
    return None, router, False


def is_interval(router):
    """Whether ``router`` is a fitted interval router (routes at any cost weight)."""
    return hasattr(router, "cost_weight_range_")


def predict_labels(final, X, cost_weight):
    """The router's decisions; ``cost_weight`` only for interval routers."""
    if is_interval(final):
        return final.predict(X, cost_weight=cost_weight)
    if cost_weight is not None and cost_weight != getattr(final, "cost_weight", None):
        raise ValueError(
            f"--cost-weight applies to interval routers (`{PROG} fit --router interval`); "
            f"this {type(final).__name__} was fitted for cost_weight="
            f"{getattr(final, 'cost_weight', None)!r}. Refit it at the cost weight you "
            "want, or fit an interval router."
        )
    return final.predict(X)


def quiet_embedder(router, quiet):
    """Progress bars of a text pipeline's embedder on (None = auto) or off."""
    from ..text import PromptEmbedder

    for _, step in getattr(router, "steps", []):
        if isinstance(step, PromptEmbedder):
            step.set_params(show_progress=False if quiet else None)
