"""Helpers shared by the benchmark scripts (not part of the package).

Progress goes to stderr, the report (markdown) to stdout and, unless
``--no-save``, to ``benchmarks/results/<name>.md`` (git-ignored).
"""

import argparse
import datetime as _dt
import os
import platform
import sys
import time
import warnings
from collections import Counter
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
RESULTS_DIR = BENCH_DIR / "results"
#: The shared data folder beside the repository (not shipped with the project).
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"

_T0 = time.perf_counter()
_LIMITER = None  # keeps a threadpoolctl limit alive for the whole run


def progress(msg):
    """One progress line on stderr, stamped with the seconds since start."""
    print(f"[{time.perf_counter() - _T0:8.1f}s] {msg}", file=sys.stderr, flush=True)


def add_common_args(parser, name):
    parser.add_argument(
        "--quick", action="store_true", help="fast smoke run (small sizes, one seed)"
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=0,
        help=(
            "limit BLAS / OpenMP (XGBoost) / torch threads to N for the whole run; "
            "0 (default) leaves every library at its own default. On a shared, "
            "loaded machine N=1 avoids pathological oversubscription."
        ),
    )
    parser.add_argument(
        "--omp-passive",
        action="store_true",
        help="set OMP_WAIT_POLICY=PASSIVE before torch / XGBoost load OpenMP, so idle "
        "OpenMP threads sleep instead of spinning (helps on a loaded machine)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help=f"markdown file to write (default: benchmarks/results/{name}.md, "
        f"or {name}_quick.md with --quick)",
    )
    parser.add_argument("--no-save", action="store_true", help="print only, write no file")
    return parser


def set_threads(n, omp_passive=False):
    """Apply ``--threads`` (and ``--omp-passive``); return a one-line description of
    the thread settings. Call before anything imports torch or XGBoost."""
    global _LIMITER
    if omp_passive:
        if "torch" in sys.modules or "xgboost" in sys.modules:
            raise RuntimeError("--omp-passive must be applied before torch is imported")
        os.environ["OMP_WAIT_POLICY"] = "PASSIVE"
    # the package first, as a user imports it: its import-time settings (the OpenMP
    # spin count, docs/scaling.md) must precede torch's loading of OpenMP
    import sklearn_causal_routing  # noqa: F401
    import torch
    from threadpoolctl import threadpool_info, threadpool_limits

    if n and n > 0:
        _LIMITER = threadpool_limits(limits=n)
        torch.set_num_threads(n)
    pools = Counter()
    for info in threadpool_info():
        pools[f"{info['internal_api']}={info['num_threads']}"] += 1
    pools_txt = ", ".join(sorted(pools)) or "none loaded yet"
    how = f"limited to {n}" if n and n > 0 else "library defaults"
    wait = os.environ.get("OMP_WAIT_POLICY", "unset")
    spin = os.environ.get("GOMP_SPINCOUNT", "unset")
    try:
        cores = len(os.sched_getaffinity(0))
        load = os.getloadavg()[0]
    except (AttributeError, OSError):  # pragma: no cover
        cores, load = os.cpu_count() or 1, 0.0
    if not (n and n > 0) and load > cores:
        progress(
            f"note: load average {load:.1f} on {cores} core(s) and library-default "
            "threads: multi-threaded BLAS / OpenMP / torch can be many times slower "
            "than usual under such load; consider --threads 1 (or --omp-passive)"
        )
    return (f"{how} (torch={torch.get_num_threads()}; threadpools: {pools_txt}; "
            f"OMP_WAIT_POLICY={wait}; GOMP_SPINCOUNT={spin})")


def environment_lines(threads_desc, extra=()):
    """Markdown bullet lines describing the machine and the software."""
    import numpy
    import sklearn
    import torch

    import sklearn_causal_routing

    versions = [
        f"sklearn_causal_routing {sklearn_causal_routing.__version__}",
        f"numpy {numpy.__version__}",
        f"scikit-learn {sklearn.__version__}",
        f"torch {torch.__version__}",
    ]
    for mod in ("xgboost", "skorch"):
        try:
            versions.append(f"{mod} {__import__(mod).__version__}")
        except ImportError:  # pragma: no cover
            versions.append(f"{mod} missing")
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        cpus = os.cpu_count()
    try:
        load = "{:.2f} {:.2f} {:.2f}".format(*os.getloadavg())
    except OSError:  # pragma: no cover
        load = "n/a"
    now = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        f"- run: {now}; `{' '.join([Path(sys.argv[0]).name] + sys.argv[1:])}`",
        f"- machine: {platform.machine()}, {cpus} usable CPU core(s), load average "
        f"(1/5/15 min) at start: {load}",
        f"- threads: {threads_desc}",
        f"- python {platform.python_version()}; " + ", ".join(versions),
    ]
    lines += [f"- {e}" for e in extra]
    return lines


def load_now():
    try:
        return "{:.2f}".format(os.getloadavg()[0])
    except OSError:  # pragma: no cover
        return "n/a"


def load_shared_table(stem, data_dir=SHARED_DATA):
    """The real table ``<stem>.parquet`` of the shared data folder with its MiniLM
    embeddings, or ``None`` when either file is absent (the caller says it skips)."""
    from sklearn_causal_routing.datasets import load_routing_table

    path, emb = Path(data_dir) / f"{stem}.parquet", Path(data_dir) / f"{stem}_minilm.npy"
    if not (path.is_file() and emb.is_file()):
        return None
    return load_routing_table(path, embeddings=emb)


def md_table(headers, rows, align=None):
    """A GitHub markdown table; ``align`` is a string of 'l'/'r' per column.

    The package's one table writer (``markdown_table``), with the scripts'
    short alignment spelling. Imported here, not at the top: the package
    loads torch, which ``--omp-passive`` must precede.
    """
    from sklearn_causal_routing.utils._markdown import markdown_table

    if align is not None:
        align = ["left" if a == "l" else "right" for a in align]
    return markdown_table(headers, rows, align=align)


def emit(text, args, name):
    """Print the report and write it under benchmarks/results/ unless --no-save."""
    print(text)
    if args.no_save:
        return
    out = args.out or RESULTS_DIR / (f"{name}_quick.md" if args.quick else f"{name}.md")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text + "\n")
    progress(f"report written to {out}")


class WarningTally:
    """Record warnings raised inside ``with tally:`` blocks and count them."""

    def __init__(self):
        self.counts = Counter()

    def __enter__(self):
        self._cm = warnings.catch_warnings(record=True)
        self._log = self._cm.__enter__()
        warnings.simplefilter("always")
        return self

    def __exit__(self, *exc):
        for w in self._log:
            msg = " ".join(str(w.message).split())
            if len(msg) > 160:
                msg = msg[:157] + "..."
            self.counts[(w.category.__name__, msg)] += 1
        return self._cm.__exit__(*exc)

    def lines(self):
        if not self.counts:
            return ["none"]
        return [f"{n} x {cat}: {msg}" for (cat, msg), n in self.counts.most_common()]


def parser(description, name):
    p = argparse.ArgumentParser(
        description=description, formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    return add_common_args(p, name)
