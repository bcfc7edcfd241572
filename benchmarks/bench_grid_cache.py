"""Grid search over the policy temperature: utility-stage fits saved by the cache.

``GridSearchCV(RegretRouter(utility=DoublyRobustUtility(), random_state=0,
max_epochs=...), {"temperature": [0.3, 1, 3]}, cv=3)`` on logs from a simulated
world. The candidates differ only in a policy setting, so on each fold they
need the same fitted utility stage; the library's in-process cache
(``sklearn_causal_routing._utility``) should fit it once per fold instead of
once per candidate and fold. The search is run with the cache and with it
disabled (``_utility._CACHE_SIZE = 0``), counting the utility-stage fits and
timing both.

Run from the repository root::

    .venv/bin/python benchmarks/bench_grid_cache.py            # a few minutes
    .venv/bin/python benchmarks/bench_grid_cache.py --quick    # < 1 min
"""

import sys
import time
from collections import Counter
from contextlib import contextmanager

import numpy as np

from _common import (
    WarningTally,
    emit,
    environment_lines,
    load_now,
    md_table,
    parser,
    progress,
    set_threads,
)

NAME = "bench_grid_cache"


@contextmanager
def count_utility_fits():
    """Count every ``DoublyRobustUtility.fit`` call, split into calls made while
    scoring (inside ``metrics.policy_value``, which ``router.score`` uses) and
    the others (the routers' utility stage). Patches and restores two
    attributes; the package itself is not modified."""
    from sklearn_causal_routing import DoublyRobustUtility, metrics

    counts = Counter()
    scoring = [False]
    orig_fit = DoublyRobustUtility.fit
    orig_value = metrics.policy_value

    def fit(self, X, y, *args, **kwargs):
        counts["scoring" if scoring[0] else "training"] += 1
        return orig_fit(self, X, y, *args, **kwargs)

    def policy_value(*args, **kwargs):
        scoring[0] = True
        try:
            return orig_value(*args, **kwargs)
        finally:
            scoring[0] = False

    DoublyRobustUtility.fit = fit
    metrics.policy_value = policy_value
    try:
        yield counts
    finally:
        DoublyRobustUtility.fit = orig_fit
        metrics.policy_value = orig_value


@contextmanager
def utility_cache(enabled):
    """Leave the cache as it is, or disable it by setting its size to 0."""
    from sklearn_causal_routing import _utility

    saved = _utility._CACHE_SIZE
    if not enabled:
        _utility._CACHE_SIZE = 0
    try:
        yield
    finally:
        _utility._CACHE_SIZE = saved


def run_search(make_search, X, fb, cache, tally):
    from sklearn_causal_routing import _utility

    with utility_cache(cache), count_utility_fits() as counts, tally:
        _utility.clear_utility_cache()
        search = make_search()
        c0, t0 = time.process_time(), time.perf_counter()
        search.fit(X, fb)
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        stats = dict(_utility._cache_stats)
        cached_now = len(_utility._cache)
    _utility.clear_utility_cache()
    return dict(
        wall=wall, cpu=cpu, hits=stats["hits"], misses=stats["misses"], kept=cached_now,
        training=counts["training"], scoring=counts["scoring"],
        scores=np.asarray(search.cv_results_["mean_test_score"], dtype=float),
        best=search.best_params_,
    )


def main(argv=None):
    p = parser(__doc__.split("\n\n")[0], NAME)
    p.add_argument("--n-samples", type=int, default=4000, help="logged queries")
    p.add_argument("--n-models", type=int, default=4)
    p.add_argument("--n-features", type=int, default=16)
    p.add_argument("--max-epochs", type=int, default=20)
    p.add_argument("--cv", type=int, default=3)
    p.add_argument("--temperatures", type=float, nargs="+", default=[0.3, 1.0, 3.0])
    p.add_argument("--cost-weight", type=float, default=0.0,
                   help="RegretRouter cost_weight (the router's default is 0)")
    p.add_argument("--record-propensity", action="store_true",
                   help="log WITH propensities (then no propensity model is fitted and "
                   "the utility stage is much cheaper); default: not recorded")
    p.add_argument("--repeats", type=int, default=1,
                   help="repeat the with/without pair (order alternates)")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    if args.quick:
        args.n_samples = min(args.n_samples, 1500)
        args.max_epochs = min(args.max_epochs, 3)
        args.repeats = 1

    threads_desc = set_threads(args.threads, args.omp_passive)
    from sklearn.model_selection import GridSearchCV

    from sklearn_causal_routing import DoublyRobustUtility, RegretRouter, _utility
    from sklearn_causal_routing.datasets import RoutingWorld

    world = RoutingWorld(n_models=args.n_models, n_features=args.n_features,
                         random_state=args.seed)
    table = world.sample(args.n_samples, random_state=args.seed + 1)
    logs = table.log("confounded", record_propensity=args.record_propensity,
                     random_state=args.seed + 2)
    X, fb = logs.X, logs.feedback
    grid = {"temperature": list(args.temperatures)}

    def make_search():
        router = RegretRouter(utility=DoublyRobustUtility(), random_state=0,
                              max_epochs=args.max_epochs, cost_weight=args.cost_weight)
        return GridSearchCV(router, grid, cv=args.cv)

    tally = WarningTally()
    # Warm-up (imports, torch / XGBoost initialisation), not timed.
    small = slice(0, min(600, X.shape[0]))
    with tally:
        RegretRouter(utility=DoublyRobustUtility(), random_state=0, max_epochs=1).fit(
            X[small], fb[small])
    _utility.clear_utility_cache()

    runs = {True: [], False: []}
    for r in range(args.repeats):
        order = (True, False) if r % 2 == 0 else (False, True)
        for cache in order:
            res = run_search(make_search, X, fb, cache, tally)
            runs[cache].append(res)
            progress(
                f"repeat {r} cache={'on ' if cache else 'off'}: {res['wall']:.1f}s wall, "
                f"{res['cpu']:.1f}s CPU, utility fits training={res['training']} "
                f"scoring={res['scoring']}, cache hits={res['hits']} misses={res['misses']} "
                f"(load {load_now()})"
            )

    # hashing cost of one cache lookup on the full data (the largest key computed)
    t0 = time.perf_counter()
    _utility._cache_key(DoublyRobustUtility(random_state=0), X, fb)
    t_hash = time.perf_counter() - t0

    n_cand = len(args.temperatures)
    on, off = runs[True], runs[False]

    def med(rs, key):
        return float(np.median([x[key] for x in rs]))

    out = ["# GridSearchCV over the temperature: the utility-stage cache\n"]
    out += environment_lines(threads_desc, extra=[
        f"world: RoutingWorld(n_models={args.n_models}, n_features={args.n_features}, "
        f"random_state={args.seed}); {args.n_samples:,} logged queries, "
        f"table.log('confounded', record_propensity={args.record_propensity})"
        + ("" if args.record_propensity else " -> the XGBoost propensity model is fitted"),
        f"search: GridSearchCV(RegretRouter(utility=DoublyRobustUtility(), "
        f"random_state=0, max_epochs={args.max_epochs}, cost_weight={args.cost_weight:g}), "
        f"{grid}, cv={args.cv}) (refit=True, n_jobs=None); {args.repeats} repeat(s)",
        "cache disabled by setting sklearn_causal_routing._utility._CACHE_SIZE = 0 "
        + ("(the cache is then bypassed: no lookup, no hashing)"
           if off[0]["hits"] + off[0]["misses"] == 0
           else "(every lookup then misses and nothing is kept; keys are still hashed)"),
    ])

    out.append("\n## Utility-stage fits\n")
    out.append(
        "`training` = `DoublyRobustUtility.fit` calls made by the routers' fits "
        f"({n_cand} candidates x {args.cv} folds + 1 refit without a cache); `scoring` = "
        "those made by `router.score` (the fixed DR evaluator on each held-out fold); "
        "hits / misses = `_utility._cache_stats` after `clear_utility_cache()`, which "
        "cover both kinds of lookup.\n"
    )
    rows = []
    for label, rs in (("with cache", on), ("without cache", off)):
        x = rs[0]
        rows.append([label, str(x["training"]), str(x["scoring"]),
                     str(x["training"] + x["scoring"]), str(x["hits"]), str(x["misses"]),
                     f"{med(rs, 'wall'):.1f}", f"{med(rs, 'cpu'):.1f}"])
    out.append(md_table(["", "training fits", "scoring fits", "total fits", "cache hits",
                         "cache misses", "wall s", "CPU s"], rows))
    saved_train = off[0]["training"] - on[0]["training"]
    saved_total = (off[0]["training"] + off[0]["scoring"]) - (on[0]["training"] + on[0]["scoring"])
    exp_on = args.cv + 1
    exp_off = n_cand * args.cv + 1
    ok_counts = on[0]["training"] == exp_on and off[0]["training"] == exp_off
    diffs = [float(np.max(np.abs(a["scores"] - b["scores"]))) for a in on for b in off]
    out.append("")
    out.append(f"- utility-stage fits saved: {saved_train} of {off[0]['training']} in training "
               f"(expected {exp_off} -> {exp_on}: {'as expected' if ok_counts else 'UNEXPECTED'}), "
               f"{saved_total} of {off[0]['training'] + off[0]['scoring']} counting scoring")
    out.append(f"- time ratio without / with cache: wall {med(off, 'wall') / med(on, 'wall'):.2f}x, "
               f"CPU {med(off, 'cpu') / med(on, 'cpu'):.2f}x (median over repeats)")
    out.append(f"- hashing one cache key on the full data: {t_hash * 1e3:.0f} ms "
               f"(one per lookup: {on[0]['hits'] + on[0]['misses']} lookups in the cached "
               "search, on folds of 1/3 to 2/3 of the data and the full data)")
    out.append(f"- mean CV scores identical with and without cache: "
               f"{'yes' if max(diffs) == 0 else f'no (max |diff| {max(diffs):.2e})'}; "
               f"best params {on[0]['best']} (with) / {off[0]['best']} (without)")
    rows = [[f"{t:g}", f"{s:.4f}"] for t, s in zip(args.temperatures, on[0]["scores"])]
    out.append("\nMean CV score (DR value on the held-out folds) per temperature:\n")
    out.append(md_table(["temperature", "mean_test_score"], rows))
    out.append("\nThe cache is per process: with `GridSearchCV(n_jobs>1)` each worker "
               "process has its own, so fewer fits are shared.")
    out.append("\n## Warnings raised during the searches\n")
    out += [f"- {line}" for line in tally.lines()]
    out.append(f"\nLoad average at end: {load_now()}.")
    emit("\n".join(out), args, NAME)
    return 0


if __name__ == "__main__":
    sys.exit(main())
