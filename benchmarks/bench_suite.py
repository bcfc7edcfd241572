"""The evaluation suite on the shared RouterBench subset (issue 4's targets).

A thin wrapper around ``sklearn-causal-routing benchmark`` with the shared data
folder filled in: task-confounded logs of the train split, every method trained
from the logs only, true utility on the test split, 5 seeds, 5 cost weights.

Run from the repository root::

    .venv/bin/python benchmarks/bench_suite.py                 # main scenario
    .venv/bin/python benchmarks/bench_suite.py --stress        # + the stress tests
    .venv/bin/python benchmarks/bench_suite.py --seeds 1 --n-cost-weights 2   # smoke

Any other option of the command is passed through (``--methods``, ``--scenarios``,
``--logging-rule``, ``--skew``, ...). Writes ``benchmarks/results/bench_suite.md``
and ``.png`` (git-ignored) unless ``--out`` is given. Skips (exit 0) when the
shared data folder is absent.
"""

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DATA = REPO.parent / "shared" / "data"


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    table = DATA / "routerbench_subset.parquet"
    emb = DATA / "routerbench_subset_minilm.npy"
    if not (table.is_file() and emb.is_file()):
        print(f"skipped: the RouterBench subset is not available under {DATA} "
              "(it is not shipped with the project)")
        return 0
    from sklearn_causal_routing.benchmark._cli import main as run

    if "--out" not in argv:
        argv += ["--out", str(REPO / "benchmarks" / "results" / "bench_suite.md")]
    return run([str(table), "--embeddings", str(emb)] + argv)


if __name__ == "__main__":
    sys.exit(main())
