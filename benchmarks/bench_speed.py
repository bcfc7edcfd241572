"""Speed of RegretRouter at RouterBench scale on a simulated world.

36,000 logged queries x 11 models x 384-d embeddings (RoutingWorld). Measures:

- ``RegretRouter()`` fit time (defaults, ``random_state`` fixed), with logs that
  lack propensities (the XGBoost propensity model is cross-fitted: the honest
  default path) and with recorded propensities; split into the utility stage
  (``DoublyRobustUtility().fit`` on the same data) and the policy (a refit whose
  utility stage comes from the in-process cache);
- the policy's training time with minibatches fetched whole (the default) and row
  by row (skorch's own ``Dataset``), in the same run;
- batched routing throughput of ``router.predict`` on 100,000 queries;
- single-query latency of ``router.predict(X[i:i+1])`` (median, p99 over 1,000
  calls), against ``LogisticRegression.predict`` on one row measured in the same
  run.

Run from the repository root::

    .venv/bin/python benchmarks/bench_speed.py            # a few minutes
    .venv/bin/python benchmarks/bench_speed.py --quick    # < 1 min
"""

import sys
import time

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

NAME = "bench_speed"


def timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def timed_cpu(fn):
    """(result, wall seconds, CPU seconds of this process, all threads)."""
    c0, t0 = time.process_time(), time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0, time.process_time() - c0


def throughput(predict, X, repeats):
    """Queries per second of ``predict(X)``: median and best over ``repeats``."""
    predict(X[:1000])  # warm-up
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        predict(X)
        times.append(time.perf_counter() - t0)
    times = np.asarray(times)
    return X.shape[0] / np.median(times), X.shape[0] / times.min()


def latency(predict, X, n_calls, warmup=50):
    """Per-call seconds of ``predict(X[i:i+1])`` over ``n_calls`` distinct rows."""
    for i in range(warmup):
        predict(X[i : i + 1])
    out = np.empty(n_calls)
    for i in range(n_calls):
        row = X[i : i + 1]
        t0 = time.perf_counter()
        predict(row)
        out[i] = time.perf_counter() - t0
    return out


def policy_fetch(router, X, seed):
    """Seconds and last validation loss of 3 policy epochs, minibatches fetched whole
    (the package's default) and row by row (skorch's own ``Dataset``)."""
    from skorch.dataset import Dataset
    from torch.utils.data import default_collate

    from sklearn_causal_routing._nets import MLPPolicy, RegretLoss, build_policy_net, fit_net

    U = router.utility_.utilities(router.cost_weight)
    regret = (U.max(axis=1, keepdims=True) - U) / router.utility_scale_
    row_wise = {"dataset": Dataset, "iterator_train__collate_fn": default_collate,
                "iterator_valid__collate_fn": default_collate}
    out = {}
    for name, extra in (("row by row", row_wise), ("whole", {})):
        net = build_policy_net(
            module=MLPPolicy, module_params={"n_features": X.shape[1],
                                             "n_outputs": U.shape[1],
                                             "hidden_layer_sizes": (64,)},
            criterion=RegretLoss, criterion_params={"loss": "softmax", "temperature": 1.0},
            max_epochs=3, lr=1e-3, batch_size=256, validation_fraction=0.1,
            n_iter_no_change=5, seed=seed, verbose=0, device="cpu", extra=extra)
        net, seconds = timed(lambda: fit_net(net, X, regret, seed))
        out[name] = (seconds, float(net.history[-1]["valid_loss"]))
    return out


def verdict(ok):
    return "PASS" if ok else "FAIL"


def main(argv=None):
    p = parser(__doc__.split("\n\n")[0], NAME)
    p.add_argument("--n-samples", type=int, default=36_000, help="logged queries to fit on")
    p.add_argument("--n-models", type=int, default=11)
    p.add_argument("--n-features", type=int, default=384)
    p.add_argument("--n-predict", type=int, default=100_000,
                   help="queries routed in the batched throughput test")
    p.add_argument("--n-latency", type=int, default=1_000, help="single-query calls timed")
    p.add_argument("--repeats", type=int, default=5, help="repeats of the batched test")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--fit-target", type=float, default=60.0, help="seconds")
    p.add_argument("--throughput-target", type=float, default=100_000.0, help="queries/s")
    args = p.parse_args(argv)
    if args.quick:
        args.n_samples = min(args.n_samples, 3_000)
        args.n_predict = min(args.n_predict, 20_000)
        args.n_latency = min(args.n_latency, 200)
        args.repeats = min(args.repeats, 2)

    threads_desc = set_threads(args.threads, args.omp_passive)
    from sklearn.linear_model import LogisticRegression

    from sklearn_causal_routing import DoublyRobustUtility, PropensityModel, RegretRouter
    from sklearn_causal_routing import _utility
    from sklearn_causal_routing.datasets import RoutingWorld

    seed = args.seed
    tally = WarningTally()

    # ------------------------------------------------------------------ data
    world, t_world = timed(lambda: RoutingWorld(
        n_models=args.n_models, n_features=args.n_features, random_state=seed))
    table, t_sample = timed(lambda: world.sample(args.n_samples, random_state=seed + 1))
    (X_pred, _), t_sample_x = timed(lambda: world.sample_X(args.n_predict, random_state=seed + 2))
    logs_est, t_log = timed(lambda: table.log(
        "confounded", record_propensity=False, random_state=seed + 3))
    logs_rec = table.log("confounded", record_propensity=True, random_state=seed + 3)
    assert (logs_est.t == logs_rec.t).all()
    X = logs_est.X
    progress(
        f"world {t_world:.2f}s, sample {args.n_samples} x {args.n_models} models x "
        f"{args.n_features}-d: {t_sample:.2f}s, sample_X {args.n_predict}: "
        f"{t_sample_x:.2f}s, log: {t_log:.2f}s"
    )

    # ------------------------------------------------------------------ fits
    fit_rows = []
    results = {}
    routers = {}
    for mode, logs in (("estimated (XGBoost)", logs_est), ("recorded", logs_rec)):
        fb = logs.feedback
        _utility.clear_utility_cache()
        with tally:
            util, t_util, c_util = timed_cpu(
                lambda: DoublyRobustUtility(random_state=seed).fit(X, fb))
        progress(f"[{mode}] DoublyRobustUtility().fit: {t_util:.1f}s (load {load_now()})")
        t_prop = c_prop = None
        if mode.startswith("estimated"):
            # One cross-fitting fold's propensity model (2/3 of the rows); the stage
            # fits one per fold (cv=3).
            rows = np.random.RandomState(seed).permutation(X.shape[0])[: 2 * X.shape[0] // 3]
            with tally:
                _, t_prop, c_prop = timed_cpu(
                    lambda: PropensityModel(random_state=seed).fit(X[rows], logs.t[rows]))
            progress(f"[{mode}] PropensityModel.fit on one fold (2/3 rows): {t_prop:.1f}s")
        _utility.clear_utility_cache()
        with tally:
            router, t_cold, c_cold = timed_cpu(lambda: RegretRouter(random_state=seed).fit(X, fb))
        progress(f"[{mode}] RegretRouter().fit (cold): {t_cold:.1f}s, "
                 f"{len(router.policy_.history)} epochs (load {load_now()})")
        with tally:
            _, t_warm, c_warm = timed_cpu(lambda: RegretRouter(random_state=seed).fit(X, fb))
        progress(f"[{mode}] RegretRouter().fit (utility stage cached): {t_warm:.1f}s")
        _, t_hash = timed(lambda: _utility._cache_key(DoublyRobustUtility(random_state=seed), X, fb))
        routers[mode] = router
        results[mode] = dict(util=t_util, cold=t_cold, warm=t_warm, hash=t_hash, prop=t_prop,
                             epochs=len(router.policy_.history))
        fit_rows.append([
            mode, f"{t_cold:.1f} ({c_cold:.1f})", f"{t_util:.1f} ({c_util:.1f})",
            f"{3 * t_prop:.1f} ({3 * c_prop:.1f})" if t_prop is not None else "—",
            f"{t_warm:.1f} ({c_warm:.1f})", f"{t_hash:.2f}", str(len(router.policy_.history)),
            f"{t_util / t_cold:.0%}",
            f"≤ {args.fit_target:g} s: {verdict(t_cold <= args.fit_target)}",
        ])

    # ------------------------------------------- policy epochs: how batches are fetched
    fetch = policy_fetch(routers["recorded"], X, seed)
    progress("policy, 3 epochs: " + ", ".join(f"{k} {v[0]:.1f}s" for k, v in fetch.items()))

    # ----------------------------------------------------------- prediction
    router = routers["estimated (XGBoost)"]
    ref_rows = np.random.RandomState(seed).permutation(X.shape[0])[:5000]
    lr, t_lr = timed(lambda: LogisticRegression(max_iter=300).fit(X[ref_rows], logs_est.t[ref_rows]))
    progress(f"reference LogisticRegression fitted on 5000 rows in {t_lr:.1f}s")

    X32 = X_pred.astype(np.float32)
    tp64 = throughput(router.predict, X_pred, args.repeats)
    tp32 = throughput(router.predict, X32, args.repeats)
    tp_lr = throughput(lr.predict, X_pred, args.repeats)
    progress(f"throughput router {tp64[0]:,.0f} q/s (float64), {tp32[0]:,.0f} q/s (float32); "
             f"LogisticRegression {tp_lr[0]:,.0f} q/s")

    lat_router = latency(router.predict, X_pred, args.n_latency)
    lat_lr = latency(lr.predict, X_pred, args.n_latency)

    import torch

    module = router.policy_.module_
    module.eval()

    def forward_only(row):
        with torch.no_grad():
            return module(torch.from_numpy(row.astype(np.float32)))

    lat_fwd = latency(forward_only, X_pred, args.n_latency)
    module.train(False)

    from sklearn.utils.validation import validate_data

    def validation_only(row):
        return validate_data(router, row, dtype=[np.float32, np.float64], reset=False)

    lat_val = latency(validation_only, X_pred, args.n_latency)
    progress(f"latency median router {np.median(lat_router) * 1e6:.0f} us, "
             f"LogisticRegression {np.median(lat_lr) * 1e6:.0f} us")

    # ---------------------------------------------------------------- report
    out = ["# RegretRouter speed at RouterBench scale (simulated world)\n"]
    out += environment_lines(threads_desc, extra=[
        f"world: RoutingWorld(n_models={args.n_models}, n_features={args.n_features}, "
        f"random_state={seed}); {args.n_samples:,} logged queries "
        "(table.log('confounded')), routers with default parameters and "
        f"random_state={seed}",
        f"data generation: RoutingWorld(...) {t_world:.2f} s, sample({args.n_samples:,}) "
        f"{t_sample:.2f} s, sample_X({args.n_predict:,}) {t_sample_x:.2f} s, "
        f"log() {t_log:.2f} s",
        "all timings on this machine in this run; figures under load are indicative, "
        "ratios against same-run references are the comparable ones",
    ])

    out.append("\n## Fit time\n")
    out.append(
        "`cold` = `RegretRouter(random_state=0).fit(X, fb)` after `clear_utility_cache()` "
        "(the figure that matters to a user); `utility stage` = "
        "`DoublyRobustUtility(random_state=0).fit(X, fb)` alone; `propensity x3` = three "
        "times one fold's `PropensityModel` fit on 2/3 of the rows (the stage cross-fits "
        "one per fold); `policy` = a second router fit, whose utility stage is served by "
        "the cache (it still hashes the data: `hash`). Wall seconds, with the process's "
        "CPU seconds (all threads) in parentheses: on a loaded machine wall >> CPU; with "
        "`--threads 1` the CPU figure approximates the wall time on an idle core.\n"
    )
    out.append(md_table(
        ["propensities", "cold fit s (cpu)", "utility stage s (cpu)", "propensity x3 s (cpu)",
         "policy s (cpu)",
         "hash s", "epochs", "utility share", "target"],
        fit_rows,
    ))

    out.append("\n## Policy training: minibatches fetched whole or row by row\n")
    (t_row, loss_row), (t_batch, loss_batch) = fetch["row by row"], fetch["whole"]
    out.append(
        f"The default policy network, 3 epochs on the {X.shape[0]:,} recorded-propensity "
        "utilities, same seed: the package's `BatchDataset` (one indexing step per "
        "minibatch) against skorch's own `Dataset` (torch asks it for one row at a time).\n")
    out.append(md_table(
        ["minibatches fetched", "s", "ratio", "last validation loss"],
        [["row by row (skorch's Dataset)", f"{t_row:.2f}", "1.00", f"{loss_row:.6f}"],
         ["whole (BatchDataset, the default)", f"{t_batch:.2f}", f"{t_batch / t_row:.2f}",
          f"{loss_batch:.6f}"]],
    ))
    out.append(f"\nSame batches, same training: identical losses: {loss_row == loss_batch}.")

    out.append("\n## Routing throughput and latency\n")
    rows = [
        ["router.predict, batch float64", f"{tp64[0]:,.0f}", f"{tp64[1]:,.0f}",
         f"{tp64[0] / tp_lr[0]:.2f}",
         f"≥ {args.throughput_target:,.0f} q/s: {verdict(tp64[0] >= args.throughput_target)}"],
        ["router.predict, batch float32", f"{tp32[0]:,.0f}", f"{tp32[1]:,.0f}",
         f"{tp32[0] / tp_lr[0]:.2f}",
         f"≥ {args.throughput_target:,.0f} q/s: {verdict(tp32[0] >= args.throughput_target)}"],
        ["LogisticRegression.predict (reference)", f"{tp_lr[0]:,.0f}", f"{tp_lr[1]:,.0f}",
         "1.00", ""],
    ]
    out.append(f"Batch of {args.n_predict:,} queries, {args.repeats} repeats.\n")
    out.append(md_table(["", "median q/s", "best q/s", "ratio vs LR", "target"], rows))

    def us(a, q):
        return f"{np.percentile(a, q) * 1e6:,.0f}"

    med_lr = np.median(lat_lr)
    rows = [
        ["router.predict(X[i:i+1])", us(lat_router, 50), us(lat_router, 99),
         f"{np.median(lat_router) / med_lr:.1f}"],
        ["  of which the torch forward pass (policy_.module_)", us(lat_fwd, 50),
         us(lat_fwd, 99), f"{np.median(lat_fwd) / med_lr:.1f}"],
        ["  of which sklearn validate_data(router, row, reset=False)", us(lat_val, 50),
         us(lat_val, 99), f"{np.median(lat_val) / med_lr:.1f}"],
        ["LogisticRegression.predict(X[i:i+1]) (reference)", us(lat_lr, 50), us(lat_lr, 99),
         "1.0"],
    ]
    out.append(f"\nSingle-query latency over {args.n_latency:,} calls (µs). The two "
               "'of which' rows time those steps alone, outside predict:\n")
    out.append(md_table(["", "median µs", "p99 µs", "median ratio vs LR"], rows))

    out.append("\n## Warnings raised during the fits\n")
    out += [f"- {line}" for line in tally.lines()]
    out.append(f"\nLoad average at end: {load_now()}.")
    emit("\n".join(out), args, NAME)
    return 0


if __name__ == "__main__":
    sys.exit(main())
