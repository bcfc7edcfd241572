"""The ``benchmark`` command: every method, baseline and peer on a full-feedback table."""

import json
import shlex
import sys
from dataclasses import replace
from pathlib import Path

from ._base import PROG, logging_policies, read_table_frame, subcommand

_EPILOG = """\
  # the RouterBench subset in our column format, 5 seeds, headline scenario
  sklearn-causal-routing benchmark ../shared/data/routerbench_subset.parquet \\
      --embeddings ../shared/data/routerbench_subset_minilm.npy --out report.md

  # RouterBench's own pickle (quality in '<model>', cost in '<model>|total_cost'),
  # prompts embedded with PromptEmbedder (needs the 'text' extra)
  sklearn-causal-routing benchmark routerbench_0shot.pkl --embed-prompts --out rb.md

  # the stress tests: heavy skew, misspecified nuisances, fewer logs
  sklearn-causal-routing benchmark TABLE.parquet --embeddings X.npy --stress

  # a different logging rule and skew for the headline scenario, a few methods
  sklearn-causal-routing benchmark TABLE.parquet --embeddings X.npy \\
      --logging-rule deterministic --methods RM-Softmax,decoupled,kNN

methods: {methods}
scenarios: {scenarios}
"""


def _epilog():
    """The examples and the lists of methods and scenarios, for ``--help``."""
    from ..experiments import METHODS, SCENARIOS

    return _EPILOG.format(
        methods=", ".join(METHODS),
        scenarios="; ".join(f"{k} ({v.description})" for k, v in SCENARIOS.items()),
    )


def _arguments(parser):
    parser.add_argument("table", type=Path,
                        help="full-feedback table: .parquet, .csv or .pkl (ours or "
                        "RouterBench's format)")
    parser.add_argument("--embeddings", type=Path, default=None,
                        help=".npy array of query features, row-aligned with the table "
                        "(default: x0, x1, ... columns of the table)")
    parser.add_argument("--embed-prompts", action="store_true",
                        help="embed the table's prompt column with PromptEmbedder "
                        "(all-MiniLM-L6-v2, offline; needs the 'text' extra)")
    parser.add_argument("--format", choices=["auto", "ours", "routerbench"], default="auto",
                        help="column format of the table (default: auto)")
    parser.add_argument("--methods", default=None,
                        help="comma-separated method names (default: all)")
    parser.add_argument("--scenarios", default="main",
                        help="comma-separated scenario names (default: main)")
    parser.add_argument("--stress", action="store_true",
                        help="run every scenario (the stress tests)")
    parser.add_argument("--logging-rule", default=None, choices=logging_policies(),
                        help="logging rule of the main scenario (default: confounded)")
    parser.add_argument("--skew", type=float, default=None,
                        help="skew of the main scenario's logging rule (default: 5)")
    parser.add_argument("--seeds", type=int, default=5,
                        help="number of seeds, 0..N-1 (default: 5)")
    parser.add_argument("--cost-weights", default=None,
                        help="comma-separated cost weights (default: an even grid from "
                        "0 to where the cheapest model becomes the best single model)")
    parser.add_argument("--n-cost-weights", type=int, default=5,
                        help="size of the default grid (default: 5)")
    parser.add_argument("--out", type=Path, default=Path("benchmark_report.md"),
                        help="markdown report; the Pareto PNG goes beside it "
                        "(default: benchmark_report.md)")
    parser.add_argument("--json", type=Path, default=None,
                        help="also write every measurement as JSON records")


def _load(args):
    from ..datasets import load_routing_table

    embeddings = args.embeddings
    if args.embed_prompts:
        frame = read_table_frame(args.table, "benchmark --embed-prompts")
        if "prompt" not in frame.columns:
            raise ValueError(
                f"--embed-prompts: the table {str(args.table)!r} has no 'prompt' column."
            )
        from ..text import PromptEmbedder

        embeddings = PromptEmbedder().fit_transform(frame["prompt"].astype(str).to_numpy())
        return load_routing_table(frame, embeddings=embeddings, format=args.format)
    return load_routing_table(args.table, embeddings=embeddings, format=args.format)


def _options(args):
    """The arguments typed after ``benchmark``."""
    argv = getattr(args, "argv", [])
    return argv[argv.index("benchmark") + 1:] if "benchmark" in argv else argv


@subcommand("benchmark", help="compare every method, baseline and peer on a full-feedback table",
            epilog=_epilog(), arguments=_arguments)
def benchmark(args):
    """Benchmark routers on a full-feedback table.

    Simulates biased logs with a named logging rule, trains every method
    (RM-Softmax, RM-Classification, the baselines, and the EconML / Open
    Bandit Pipeline peers when the 'bench' extra is installed) from the logs
    only, scores the true test utility per cost weight, and writes a markdown
    report with a Pareto PNG. See docs/benchmark.md.
    """
    import numpy as np

    from ..experiments import METHODS, SCENARIOS, run_benchmark, write_report

    table = _load(args)
    names = [s.strip() for s in args.scenarios.split(",") if s.strip()]
    if args.stress:
        names = list(SCENARIOS)
    scenarios = []
    for name in names:
        if name not in SCENARIOS:
            raise ValueError(f"--scenarios: unknown scenario {name!r}; choose from "
                             f"{', '.join(SCENARIOS)}.")
        scenario = SCENARIOS[name]
        if name == "main" and (args.logging_rule or args.skew is not None):
            scenario = replace(
                scenario,
                policy=args.logging_rule or scenario.policy,
                skew=scenario.skew if args.skew is None else args.skew,
                description=f"{args.logging_rule or scenario.policy} logs (skew "
                f"{scenario.skew if args.skew is None else args.skew:g}), propensities "
                "recorded",
            )
        scenarios.append(scenario)
    methods = None
    if args.methods:
        methods = [m.strip() for m in args.methods.split(",") if m.strip()]
        unknown = [m for m in methods if m not in METHODS]
        if unknown:
            raise ValueError(f"--methods: unknown method(s) {unknown}; choose from "
                             f"{', '.join(METHODS)}.")
    cost_weights = None
    if args.cost_weights:
        cost_weights = [float(c) for c in args.cost_weights.split(",")]
    result = run_benchmark(
        table,
        methods=methods,
        scenarios=scenarios,
        seeds=list(range(args.seeds)),
        cost_weights=cost_weights,
        n_cost_weights=args.n_cost_weights,
        progress=None if args.quiet else sys.stderr,
    )
    text = write_report(
        result, args.out,
        title=f"Routing benchmark: {args.table.name}",
        extra_lines=[f"- command: `{PROG} benchmark {shlex.join(_options(args))}`"],
    )
    if args.json is not None:
        records = [
            {k: (float(v) if isinstance(v, (np.floating, float)) else v) for k, v in r.items()}
            for r in result.records
        ]
        args.json.write_text(json.dumps({"settings": result.settings, "skipped": result.skipped,
                                         "records": records}, indent=1, default=str))
    if not args.quiet:
        print(f"report written to {args.out} (Pareto figure: {args.out.with_suffix('.png')})",
              file=sys.stderr)
    print(text)
    return 0

