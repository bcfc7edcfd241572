"""The ``sklearn-causal-routing`` command line: simulate, fit, route, evaluate, and more.

From a gateway log file to a routed request, with no Python to write::

    sklearn-causal-routing simulate -o train.jsonl --seed 1
    sklearn-causal-routing fit train.jsonl -o router.joblib --cost-weight 0.3
    echo '[0.1, 0.2, ...]' | sklearn-causal-routing route router.joblib
    sklearn-causal-routing evaluate router.joblib test.jsonl

Each subcommand is one function registered with :func:`subcommand` in a
module of its own (``_simulate``, ``_fit``, ``_route``, ``_evaluate``,
``_benchmark``, ``_learning_curve``); ``_base`` holds the registry, the
parser, :func:`main` and the helpers the commands share. ``main(argv)``
parses, runs and returns the exit status: 0 on success, 1 on an error
(printed on stderr without a traceback; ``--debug`` shows it), 2 on a usage
error. Progress goes to stderr, results to stdout.
"""

from ._base import SUBCOMMANDS, Subcommand, build_parser, main, subcommand

# Importing a command module registers its subcommand; this is the order of --help.
from . import _simulate, _fit, _route, _evaluate, _benchmark, _learning_curve  # noqa: E402, F401, I001  isort: skip

__all__ = ["SUBCOMMANDS", "Subcommand", "build_parser", "main", "subcommand"]
