"""The evaluation suite on a shared real table (RouterBench subset or MMLU-Pro).

A thin wrapper around ``sklearn-causal-routing benchmark`` with the shared data
folder filled in: task-confounded logs of the train split, every method trained
from the logs only, true utility on the test split, 5 seeds, 5 cost weights.

Run from the repository root::

    .venv/bin/python benchmarks/bench_suite.py                 # RouterBench, main scenario
    .venv/bin/python benchmarks/bench_suite.py --stress        # + the stress tests
    .venv/bin/python benchmarks/bench_suite.py --table mmlu_pro   # the 29-model table
    .venv/bin/python benchmarks/bench_suite.py --seeds 1 --n-cost-weights 2   # smoke

``--table`` names a table of the shared data folder (``routerbench_subset``, the
default, or ``mmlu_pro``).

Any other option of the command is passed through (``--methods``, ``--scenarios``,
``--logging-rule``, ``--skew``, ...). Writes ``benchmarks/results/bench_suite.md``
and ``.png`` (git-ignored) unless ``--out`` is given. Skips (exit 0) when the
shared data folder is absent.
"""

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DATA = REPO.parent / "shared" / "data"
TABLES = {"routerbench_subset": "RouterBench subset", "mmlu_pro": "MMLU-Pro"}


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    name = "routerbench_subset"
    if "--table" in argv:
        i = argv.index("--table")
        name = argv[i + 1] if i + 1 < len(argv) else ""
        del argv[i : i + 2]
    if name not in TABLES:
        print(f"--table must be one of {', '.join(TABLES)}; got {name!r}", file=sys.stderr)
        return 2
    table = DATA / f"{name}.parquet"
    emb = DATA / f"{name}_minilm.npy"
    if not (table.is_file() and emb.is_file()):
        print(f"skipped: the {TABLES[name]} table is not available under {DATA} "
              "(it is not shipped with the project)")
        return 0
    from sklearn_causal_routing.cli import main as cli_main

    def run(args):
        return cli_main(["benchmark", *args])

    if "--out" not in argv:
        suffix = "" if name == "routerbench_subset" else f"_{name}"
        argv += ["--out", str(REPO / "benchmarks" / "results" / f"bench_suite{suffix}.md")]
    return run([str(table), "--embeddings", str(emb)] + argv)


if __name__ == "__main__":
    sys.exit(main())
