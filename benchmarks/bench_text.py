"""Speed of the text path: prompt to model name, and loading big gateway logs.

Targets (issues 6 and 12):

- one prompt end to end (embedding plus decision) in <= 20 ms median on this
  CPU with the default ``PromptEmbedder()``; decisions alone >= 100,000
  queries/s batched;
- the default embeddings within a documented cosine of the float torch model
  on real prompts, and the share of identical routing decisions;
- loading and validating a 1,000,000-row JSONL log in < 60 s with bounded
  memory (streamed).

Measures:

- ``Pipeline([("embed", PromptEmbedder()), ("router", RegretRouter())])``
  ``.predict([prompt])`` on distinct prompts (no cache hits), median and p90
  over ``--n-latency`` calls, batch of one, after warm-up, interleaved with the
  same pipeline on the float torch model (``PromptEmbedder(backend="torch")``)
  and on int8 (``quantize=True``): short gateway-style prompts (10 to 40
  words), and the RouterBench subset's few-shot prompts (truncated by the
  model at 256 word pieces) when the shared data is present; the embedding
  alone; a cache hit;
- on ``--n-agreement`` real prompts of each shared table (RouterBench subset,
  MMLU-Pro): the cosine between the default (and int8) embeddings and the
  float torch ones, and the share of identical decisions of a
  ``DecoupledRouter()`` fitted on the float embeddings of that
  table's train split (confounded logs simulated from the table);
- ``router.predict`` on 100,000 precomputed 384-d embeddings (decisions only);
- ``read_logs`` on a generated 1,000,000-row JSONL log (0.1 % malformed rows,
  ``on_error="skip"``), in a child process so that its peak resident memory
  (``ru_maxrss``) is its own; compared with the size of the arrays returned.

The router is fitted on the RouterBench subset's precomputed MiniLM embeddings
(train split, confounded logs) when ``../shared/data`` is present, else on a
simulated 384-d world; its quality does not matter here, only its size
(default ``RegretRouter``: 200 x 200 hidden units, 11 or 4 models).

Run from the repository root::

    .venv/bin/python benchmarks/bench_text.py --threads 1          # a few minutes
    .venv/bin/python benchmarks/bench_text.py --threads 1 --quick  # 100,000-row log
    .venv/bin/python benchmarks/bench_text.py --threads 1 --text-only  # no log

``--threads 1`` sets torch's thread count, which the default ONNX Runtime
session follows (``PromptEmbedder(n_threads=None)``).
"""

import json
import os
import random
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from _common import (
    emit,
    environment_lines,
    load_now,
    md_table,
    parser,
    progress,
    set_threads,
)

NAME = "bench_text"

_WORDS = ["the", "of", "and", "to", "in", "is", "that", "for", "it", "as", "with", "was", "on", "be", "by", "at", "this", "are", "from", "or", "have", "an", "not", "which", "but", "what", "all", "were", "when", "we", "there", "can", "more", "if", "no", "out", "so", "said", "up", "about", "into", "than", "them", "could", "then", "two", "my", "do", "time", "only", "like", "new", "some", "would", "function", "python", "list", "explain", "write", "summarise", "translate", "email", "customer", "invoice", "error", "code", "table", "data"]
_MODELS = ["small", "medium", "large", "xl"]


def short_prompts(n, seed):
    """Gateway-style prompts of 10 to 40 words, all distinct."""
    rng = random.Random(seed)
    return [
        " ".join(rng.choice(_WORDS) for _ in range(rng.randint(10, 40))) + f" (request {i})"
        for i in range(n)
    ]


def write_big_log(path, n_rows, seed=0, bad_every=1000):
    """A JSONL log of ``n_rows`` lines, one malformed line in every ``bad_every``."""
    rng = random.Random(seed)
    dumps = json.dumps
    with open(path, "w", encoding="utf-8") as f:
        for i in range(n_rows):
            if bad_every and i % bad_every == bad_every - 1:
                f.write('{"prompt": "truncated line", "model": \n' if i % 2 else
                        dumps({"prompt": "no grade", "model": "small", "cost": 0.1}) + "\n")
                continue
            prompt = " ".join(rng.choice(_WORDS) for _ in range(rng.randint(8, 40)))
            f.write(dumps({
                "prompt": f"{prompt} #{i}", "model": rng.choice(_MODELS),
                "quality": float(rng.random() < 0.7), "cost": round(rng.random() * 0.01, 6),
                "propensity": round(rng.uniform(0.05, 1.0), 4), "user": f"u{i % 977}",
            }) + "\n")


def _peak_rss_mb():
    """Peak resident memory of this process (VmHWM), in MiB.

    ``ru_maxrss`` would do, except that a child inherits its parent's value at
    fork; VmHWM belongs to the address space created at exec.
    """
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:  # pragma: no cover - not Linux
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def load_child(path):
    """Run in a child process: read the log, print timings and memory as JSON."""
    import sklearn_causal_routing.logs as logs_module  # imports numpy, torch, ...

    rss_before = _peak_rss_mb()
    t0, c0 = time.perf_counter(), time.process_time()
    logs = logs_module.read_logs(path, propensity="propensity", on_error="skip")
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    rss_after = _peak_rss_mb()
    out_bytes = (
        logs.feedback.nbytes + logs.lines.nbytes + logs.prompts.nbytes
        + sum(sys.getsizeof(p) for p in logs.prompts)
    )
    print(json.dumps({
        "seconds": seconds, "cpu_seconds": cpu, "rows": len(logs), "n_read": logs.n_read,
        "n_skipped": logs.n_skipped, "n_duplicates": logs.n_duplicates,
        "rss_before_mb": rss_before, "rss_peak_mb": rss_after,
        "output_mb": out_bytes / 2**20,
    }))


def fit_router(data_dir, seed):
    from sklearn_causal_routing import RegretRouter
    from sklearn_causal_routing.datasets import RoutingWorld, load_routerbench_subset

    try:
        table = load_routerbench_subset(data_dir)
        train, source = table.split_by("train"), "RouterBench subset (train split, 11 models)"
        prompts = [str(p) for p in table.split_by("test").prompt]
    except (FileNotFoundError, ImportError) as exc:
        progress(f"RouterBench subset not available ({str(exc)[:80]}...): simulated world")
        train = RoutingWorld(n_features=384, random_state=seed).sample(2205, random_state=seed)
        source, prompts = "simulated RoutingWorld (384-d, 4 models)", None
    logs = train.log("confounded", random_state=seed)
    router = RegretRouter(cost_weight=0.0, random_state=seed, max_epochs=10)
    router.fit(logs.X.astype(np.float32), logs.feedback)
    return router, source, prompts


def _load_table(data_dir, name):
    """The shared table (precomputed float MiniLM embeddings as ``X``), or None."""
    from sklearn_causal_routing.datasets import load_routerbench_subset, load_routing_table

    try:
        if name == "routerbench":
            table = load_routerbench_subset(data_dir)
        else:
            table = load_routing_table(Path(data_dir) / "mmlu_pro.parquet",
                                       embeddings=Path(data_dir) / "mmlu_pro_minilm.npy")
    except (FileNotFoundError, ImportError) as exc:
        progress(f"{name} table not available ({str(exc)[:80]}...): skipped")
        return None
    return table


def agreement(data_dir, embedders, n_prompts, seed):
    """Cosine to the float torch embeddings and routing agreement on real prompts.

    For each shared table: a ``DecoupledRouter()`` (one ridge regression of
    quality per model, route to the best prediction) is fitted on confounded
    logs simulated from the table's train split, with the float MiniLM
    embeddings precomputed in the shared folder; ``n_prompts`` prompts drawn at random from the whole table
    are embedded by every embedder of ``embedders`` (the first is the float
    torch reference) and routed. Returns markdown rows and a dict of figures.
    """
    from sklearn_causal_routing import DecoupledRouter

    names = list(embedders)
    ref = names[0]
    rows, figures = [], {}
    for table_name, label in [("routerbench", "RouterBench subset"),
                              ("mmlu_pro", "MMLU-Pro")]:
        table = _load_table(data_dir, table_name)
        if table is None:
            continue
        train = table.split_by("train")
        logs = train.log("confounded", random_state=seed)
        # RegretRouter collapses to one model on these tables (even with
        # fallback=None), which would make any agreement trivially 100 %
        router = DecoupledRouter()
        router.fit(logs.X.astype(np.float32), logs.feedback)
        rng = np.random.RandomState(seed)
        idx = np.sort(rng.choice(len(table.prompt), size=min(n_prompts, len(table.prompt)),
                                 replace=False))
        prompts = [str(p) for p in np.asarray(table.prompt)[idx]]
        is_test = np.asarray(table.split)[idx] == "test"
        E = {}
        for name in names:
            progress(f"  {label}: embedding {len(prompts)} prompts with {name}")
            t0 = time.perf_counter()
            E[name] = embedders[name].transform(prompts)
            progress(f"    {time.perf_counter() - t0:.0f}s")
        decided = {name: router.predict(E[name]) for name in names}
        values, counts = np.unique(decided[ref], return_counts=True)
        top = counts.max() / counts.sum()
        pre = np.sum(E[ref] * table.X[idx], axis=1)
        figures[table_name] = {"precomputed_cos_min": float(pre.min())}
        for name in names[1:]:
            cos = np.sum(E[name] * E[ref], axis=1)  # unit-norm rows
            same = decided[name] == decided[ref]
            figures[table_name][name] = {
                "cos_min": float(cos.min()), "cos_p1": float(np.percentile(cos, 1)),
                "cos_median": float(np.median(cos)), "agreement": float(same.mean()),
                "agreement_test": float(same[is_test].mean()),
            }
            rows.append([
                label, name, f"{len(prompts):,} ({is_test.sum():,} test)",
                f"{cos.min():.6f}", f"{np.percentile(cos, 1):.6f}", f"{np.median(cos):.6f}",
                f"{same.mean():.2%} ({(~same).sum()} differ)", f"{same[is_test].mean():.2%}",
                f"{len(values)} models, top {top:.0%}",
            ])
    return rows, figures


def latencies(calls, n, warmup=5):
    """Wall and CPU milliseconds per call of each ``calls[name](i)``, interleaved.

    The calls take turns (call 0 of each, then call 1 of each, ...), so that a
    burst of load from other processes hits them all alike. CPU time (this
    process, all threads) is less sensitive to that load than wall time.
    """
    for i in range(warmup):
        for fn in calls.values():
            fn(n + i)
    wall = {name: [] for name in calls}
    cpu = {name: [] for name in calls}
    for i in range(n):
        for name, fn in calls.items():
            t0, c0 = time.perf_counter(), time.process_time()
            fn(i)
            wall[name].append(time.perf_counter() - t0)
            cpu[name].append(time.process_time() - c0)
    return ({k: np.asarray(v) * 1000 for k, v in wall.items()},
            {k: np.asarray(v) * 1000 for k, v in cpu.items()})


def main():
    p = parser(__doc__.split("\n\n")[0], NAME)
    p.add_argument("--data-dir", type=Path, default=Path("../shared/data"))
    p.add_argument("--n-latency", type=int, default=200, help="single-prompt calls timed")
    p.add_argument("--n-rows", type=int, default=None,
                   help="rows of the generated JSONL log (default 1,000,000; --quick 100,000)")
    p.add_argument("--log-path", type=Path, default=None,
                   help="where to generate the log (default /tmp/scr_bench_<rows>.jsonl; "
                        "reused when present)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--n-agreement", type=int, default=1000,
                   help="real prompts per table for the cosine and routing agreement "
                        "(default 1,000; --quick 200)")
    p.add_argument("--text-only", action="store_true",
                   help="skip the JSONL log generation and loading")
    p.add_argument("--load-child", type=Path, default=None, help=argparse_hidden())
    args = p.parse_args()
    if args.load_child is not None:
        return load_child(args.load_child)
    threads_desc = set_threads(args.threads, args.omp_passive)
    n_rows = args.n_rows or (100_000 if args.quick else 1_000_000)
    n_lat = 40 if args.quick else args.n_latency
    load_start = load_now()

    from sklearn_causal_routing import Pipeline
    from sklearn_causal_routing.text import PromptEmbedder

    progress("fitting a router on precomputed embeddings")
    router, source, rb_prompts = fit_router(args.data_dir, args.seed)
    t0 = time.perf_counter()
    float_embedder = PromptEmbedder(backend="torch").fit(["warm up"])
    progress(f"float torch model loaded in {time.perf_counter() - t0:.1f}s")
    t0 = time.perf_counter()
    embedder = PromptEmbedder().fit(["warm up"])  # the default: ONNX Runtime, float
    progress(f"default embedder (ONNX export and session) ready in "
             f"{time.perf_counter() - t0:.1f}s")
    session = embedder._model()
    threads_note = (f"default PromptEmbedder(): ONNX Runtime session with "
                    f"{session.n_threads} intra-op thread(s) (n_threads=None follows "
                    f"torch.get_num_threads() = {torch_threads()})")
    pipe = Pipeline([("embed", embedder), ("router", router)])
    pipe_float = Pipeline([("embed", float_embedder), ("router", router)])
    # int8 linear layers: same router, for latency only (a real one is fitted on
    # quantized embeddings, which a Pipeline does)
    q_embedder = PromptEmbedder(quantize=True).fit(["warm up"])
    pipe_q = Pipeline([("embed", q_embedder), ("router", router)])

    rows = []
    n_extra = 5
    a = short_prompts(n_lat + n_extra, args.seed)
    b = short_prompts(n_lat + n_extra, args.seed + 1)
    X1 = embedder.transform(a[:1])
    short_default = "end to end, short prompt (10-40 words): default PromptEmbedder()"
    short_float = "end to end, short prompt: float torch, PromptEmbedder(backend='torch')"
    calls = {
        short_default: lambda i: pipe.predict([a[i]]),
        short_float: lambda i: pipe_float.predict([a[i]]),
        "end to end, short prompt: int8, PromptEmbedder(quantize=True)": (
            lambda i: pipe_q.predict([a[i]])),
        "embedding only, short prompt, default": lambda i: embedder.transform([b[i]]),
        "decision only, one query": lambda i: router.predict(X1),
        "end to end, repeated prompt (cache hit)": lambda i: pipe.predict([a[0]]),
    }
    long_default = "end to end, RouterBench few-shot prompt (~256 word pieces), default"
    long_float = "end to end, RouterBench few-shot prompt, float torch"
    if rb_prompts is not None:
        calls[long_default] = lambda i: pipe.predict([rb_prompts[i]])
        calls[long_float] = lambda i: pipe_float.predict([rb_prompts[i]])
    progress(f"single-prompt latencies, {n_lat} calls each, interleaved (load {load_now()})")
    wall, cpu = latencies(calls, n_lat, warmup=n_extra)
    for name in calls:
        fmt = ".2f" if np.median(wall[name]) < 5 else ".1f"
        target = "<= 20 ms median" if name == short_default else ""
        rows.append([name, f"{np.median(wall[name]):{fmt}}",
                     f"{np.percentile(wall[name], 90):{fmt}}",
                     f"{np.median(cpu[name]):{fmt}}", target])
    ratio = np.median(wall[short_float]) / np.median(wall[short_default])
    ratio_cpu = np.median(cpu[short_float]) / np.median(cpu[short_default])
    ratio_long = (np.median(wall[long_float]) / np.median(wall[long_default])
                  if rb_prompts is not None else float("nan"))

    n_agree = 200 if args.quick else args.n_agreement
    progress(f"cosine and routing agreement on {n_agree} real prompts per table")
    agree_rows, agree = agreement(args.data_dir, {
        "float torch": PromptEmbedder(backend="torch", cache_size=0),
        "default PromptEmbedder()": PromptEmbedder(cache_size=0),
        "int8, quantize=True": PromptEmbedder(quantize=True, cache_size=0),
    }, n_agree, args.seed)

    progress("batched embedding throughput (short prompts)")
    batch = short_prompts(512, args.seed + 2)
    t0 = time.perf_counter()
    PromptEmbedder(cache_size=0).fit(batch[:1]).transform(batch)
    emb_rate = len(batch) / (time.perf_counter() - t0)
    t0 = time.perf_counter()
    PromptEmbedder(backend="torch", cache_size=0).fit(batch[:1]).transform(batch)
    emb_rate_float = len(batch) / (time.perf_counter() - t0)

    progress("batched decisions on 100,000 embeddings")
    rng = np.random.RandomState(args.seed)
    X = rng.normal(size=(100_000, router.n_features_in_)).astype(np.float32)
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    router.predict(X[:1000])
    times = []
    for _ in range(3 if args.quick else 5):
        t0 = time.perf_counter()
        router.predict(X)
        times.append(time.perf_counter() - t0)
    dec_rate = X.shape[0] / np.median(times)

    load = None if args.text_only else load_big_log(args, n_rows)

    out = [f"# {NAME}: prompt text to model name; big gateway logs", ""]
    out += environment_lines(threads_desc, extra=[
        f"router: default RegretRouter (200 x 200 hidden units) fitted on {source}; "
        "embedder: PromptEmbedder() (all-MiniLM-L6-v2, CPU)", threads_note,
        f"load average at start {load_start}, at end {load_now()} (the machine is shared: "
        "figures above 1 per core mean other processes compete for the CPU)",
    ])
    out += ["", "## One prompt, end to end (ms per call, distinct prompts)", ""]
    out.append(md_table(["call", "median (wall)", "p90 (wall)", "median (CPU)", "target"],
                        rows, align="lrrrl"))
    out += ["", "CPU: this process's CPU seconds per call (all threads), less "
            "sensitive than wall time to other processes competing for the cores. "
            "The calls take turns (interleaved), so load hits them alike.", "",
            f"Float torch / default, short prompt: {ratio:.2f}x faster (wall medians), "
            f"{ratio_cpu:.2f}x (CPU); few-shot prompt: {ratio_long:.2f}x (wall)."]
    out += ["", "## Default and int8 embeddings against the float torch model, real prompts",
            ""]
    if agree_rows:
        out.append(md_table(
            ["table", "embedder", "prompts", "cosine min", "cosine 1st pct",
             "cosine median", "same decision", "same (test rows)", "float decisions"],
            agree_rows, align="llrrrrrrl"))
        out += ["", "Router: DecoupledRouter() (ridge quality model per model) fitted on the precomputed float MiniLM embeddings of the table's train "
                "split (confounded logs); prompts drawn at random from the whole table. "
                "'float decisions': distinct models the float path routes to and the "
                "share of the most chosen one.", "",
                "Float torch against the precomputed MiniLM embeddings of the shared "
                "folder, minimum cosine: " + ", ".join(
                    f"{k} {v['precomputed_cos_min']:.6f}" for k, v in agree.items()) + "."]
    else:
        out.append("Skipped: the shared data folder is absent.")
    out += ["", "## Batched", ""]
    out.append(md_table(
        ["what", "rate", "target"],
        [["decisions only (router.predict, 100,000 x 384 float32)",
          f"{dec_rate:,.0f} queries/s", ">= 100,000 queries/s"],
         ["embedding, batches of 64 short prompts, default",
          f"{emb_rate:,.0f} prompts/s", ""],
         ["embedding, batches of 64 short prompts, float torch",
          f"{emb_rate_float:,.0f} prompts/s", ""]],
        align="lrl",
    ))
    if load is not None:
        out += log_section(load, n_rows)
    emit("\n".join(out), args, NAME)


def load_big_log(args, n_rows):
    """Generate (if needed) and load the big JSONL log in a child process."""
    path = args.log_path or Path(f"/tmp/scr_bench_{n_rows}.jsonl")
    if not path.is_file():
        progress(f"generating a {n_rows:,}-row JSONL log at {path}")
        t0 = time.perf_counter()
        write_big_log(path, n_rows, seed=args.seed)
        progress(f"  written in {time.perf_counter() - t0:.0f}s")
    size_mb = path.stat().st_size / 2**20
    progress(f"loading {path} ({size_mb:.0f} MB) in a child process (load {load_now()})")
    child = subprocess.run(
        [sys.executable, __file__, "--load-child", str(path)],
        capture_output=True, text=True, check=True, cwd=os.getcwd(),
    )
    load = json.loads(child.stdout.strip().splitlines()[-1])
    progress(f"  {load['seconds']:.1f}s, peak RSS {load['rss_peak_mb']:.0f} MB")
    load["size_mb"] = size_mb
    return load


def log_section(load, n_rows):
    size_mb = load["size_mb"]
    out = ["", f"## Loading a {n_rows:,}-row JSONL log", ""]
    out.append(md_table(
        ["measure", "value"],
        [["file size", f"{size_mb:,.0f} MB"],
         ["read_logs(..., propensity='propensity', on_error='skip')",
          f"{load['seconds']:.1f} s wall, {load['cpu_seconds']:.1f} s CPU (target < 60 s)"],
         ["rows kept / read / skipped (malformed) / duplicates",
          f"{load['rows']:,} / {load['n_read']:,} / {load['n_skipped']:,} / "
          f"{load['n_duplicates']:,}"],
         ["rows per second", f"{load['n_read'] / load['seconds']:,.0f}"],
         ["peak RSS of the loading process (VmHWM)",
          f"{load['rss_peak_mb']:,.0f} MB ({load['rss_before_mb']:,.0f} MB after the "
          "imports, before reading)"],
         ["size of the arrays returned (prompts as Python str, feedback, lines)",
          f"{load['output_mb']:,.0f} MB"]],
        align="lr",
    ))
    out += ["", "The log is streamed line by line and parsed in chunks of 100,000 rows; "
            "the memory beyond the imports is the arrays returned plus one chunk of "
            "parsed values and the concatenation."]
    return out


def torch_threads():
    import torch

    return torch.get_num_threads()


def argparse_hidden():
    import argparse

    return argparse.SUPPRESS


if __name__ == "__main__":
    main()
