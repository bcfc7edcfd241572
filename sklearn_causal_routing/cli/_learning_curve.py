"""The ``learning-curve`` command: is routing worth it on my logs?"""

import json
import sys
from pathlib import Path

from ._base import logging_policies, subcommand

_EPILOG = """\
  # is routing worth it on my logs? 2k to 1M logged queries (the 1M point takes
  # on the order of an hour and several GB of memory)
  sklearn-causal-routing learning-curve ../shared/data/routerbench_subset.parquet \\
      --embeddings ../shared/data/routerbench_subset_minilm.npy

  # a quick look: two sizes, one cost weight, markdown also written to a file
  sklearn-causal-routing learning-curve TABLE.parquet --embeddings X.npy \\
      --sizes 2000,10000 --cost-weights 0 --out curve.md

  # three seeds, uniformly randomised logs (an A/B test) instead of biased ones
  sklearn-causal-routing learning-curve TABLE.parquet --embeddings X.npy \\
      --seeds 3 --logging-rule uniform
"""


def _int_list(text):
    try:
        values = [int(float(v)) for v in text.replace("_", "").split(",") if v.strip()]
    except ValueError:
        raise ValueError(
            f"--sizes must be comma-separated positive integers, e.g. 2000,10000; got "
            f"{text!r}."
        ) from None
    return values


def _arguments(parser):
    parser.add_argument("table", type=Path,
                        help="your full-feedback table (every query answered by every "
                        "model): .parquet, .csv or .pkl (ours or RouterBench's format)")
    parser.add_argument("--embeddings", type=Path, default=None,
                        help=".npy array of query features, row-aligned with the table "
                        "(default: x0, x1, ... columns of the table)")
    parser.add_argument("--format", choices=["auto", "ours", "routerbench"], default="auto",
                        help="column format of the table (default: auto)")
    parser.add_argument("--sizes", default=None,
                        help="comma-separated numbers of logged queries (default: "
                        "routing_learning_curve's, 2000,10000,100000,1000000)")
    parser.add_argument("--seeds", type=int, default=1,
                        help="number of seeds, 0..N-1 (default: 1)")
    parser.add_argument("--cost-weights", default=None,
                        help="comma-separated cost weights (default: an even grid of "
                        "--n-cost-weights from 0 to where the cheapest model becomes the "
                        "best single model)")
    parser.add_argument("--n-cost-weights", type=int, default=3,
                        help="size of the default grid (default: 3)")
    parser.add_argument("--test-size", type=int, default=20000,
                        help="queries in the test world (default: 20000)")
    parser.add_argument("--logging-rule", default="confounded", choices=logging_policies(),
                        help="logging rule of the simulated gateway (default: confounded)")
    parser.add_argument("--skew", type=float, default=5.0,
                        help="skew of the confounded rule (default: 5)")
    parser.add_argument("--out", type=Path, default=None,
                        help="also write the markdown to this file")
    parser.add_argument("--json", type=Path, default=None,
                        help="also write every measurement as JSON records")


@subcommand("learning-curve",
            help="is routing worth it on my logs? true gain vs number of logged queries",
            epilog=_EPILOG, arguments=_arguments)
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
    import numpy as np

    from ..datasets import load_routing_table
    from ..experiments import routing_learning_curve

    sizes = {} if args.sizes is None else {"sizes": _int_list(args.sizes)}
    cost_weights = None
    if args.cost_weights:
        try:
            cost_weights = [float(c) for c in args.cost_weights.split(",") if c.strip()]
        except ValueError:
            raise ValueError(
                "--cost-weights must be comma-separated numbers >= 0, e.g. 0,500; got "
                f"{args.cost_weights!r}."
            ) from None
    if args.seeds < 1:
        raise ValueError(f"--seeds must be >= 1 (the number of seeds); got {args.seeds}.")
    table = load_routing_table(args.table, embeddings=args.embeddings, format=args.format)
    result = routing_learning_curve(
        table,
        **sizes,
        cost_weights=cost_weights,
        n_cost_weights=args.n_cost_weights,
        logging=args.logging_rule,
        skew=args.skew,
        test_size=args.test_size,
        seeds=list(range(args.seeds)),
        progress=None if args.quiet else sys.stderr,
    )
    text = f"# Learning curve: {args.table.name}\n\n" + result.to_markdown()
    if args.out is not None:
        args.out.write_text(text + "\n")
    if args.json is not None:
        records = [{k: (float(v) if isinstance(v, (np.floating, float)) else v)
                    for k, v in r.items()} for r in result.records]
        args.json.write_text(json.dumps({"settings": result.settings, "records": records},
                                        indent=1, default=str))
    print(text)
    return 0
