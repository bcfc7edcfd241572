"""How many logs it takes: the learning curve on a semi-synthetic world.

A real full-feedback table holds a few thousand queries; gateways log millions.
:func:`routing_learning_curve` calibrates a
:class:`~sklearn_causal_routing.datasets.SemiSyntheticWorld` on the table,
samples training worlds of several sizes, logs them with a biased rule, trains
a router from the logs and a full-feedback router on the same queries, and
scores both, with the best single model and the oracle, on a large test world
whose truth is known. The share of the full-feedback gain that the router
recovers, per size, answers "is routing worth it on my logs?".
"""

import numbers
import sys
import time
import warnings
from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from ..datasets import LOGGING_POLICIES
from ..utils._markdown import markdown_table
from ..utils.validation import check_cost_weight, check_int

__all__ = ["LearningCurveResult", "routing_learning_curve"]

#: Default sizes of the training logs.
DEFAULT_SIZES = (2000, 10000, 100000, 1000000)

#: Reference rows of every learning curve, besides the router.
FULL_FEEDBACK = "full feedback"
BEST_SINGLE = "best single (hindsight)"
ORACLE = "oracle"
LOGGER = "logging policy"


# --------------------------------------------------------------------------- #
# the result
# --------------------------------------------------------------------------- #
@dataclass
class LearningCurveResult:
    """What :func:`routing_learning_curve` measured.

    Attributes
    ----------
    records : list of dict
        One per (size, seed, cost weight, method), with keys ``size``,
        ``seed``, ``cost_weight``, ``method`` (the router's name,
        ``"full feedback"``, ``"best single (hindsight)"``, ``"oracle"`` or
        ``"logging policy"``), ``value`` (true mean utility on the test
        world), ``quality`` and ``cost`` (true means of the decisions) and
        ``fit_time`` (seconds; NaN for the reference rows that need no fit).
    settings : dict
        The run's settings: ``router`` (its name), ``sizes``, ``seeds``,
        ``cost_weights``, ``test_size``, ``logging``, ``skew``, the table's
        ``n_samples``, ``n_models``, ``n_features``, ``models``, and
        ``warnings`` (``{message: count}`` of the warnings raised while
        fitting, which the run records instead of printing).

    Examples
    --------
    >>> from sklearn_causal_routing.experiments import LearningCurveResult
    >>> res = LearningCurveResult(
    ...     records=[{"size": 100, "seed": 0, "cost_weight": 0.0, "method": m, "value": v}
    ...              for m, v in [("R", 0.6), ("full feedback", 0.7),
    ...                           ("best single (hindsight)", 0.5), ("oracle", 0.9)]],
    ...     settings={"router": "R", "sizes": [100], "seeds": [0], "cost_weights": [0.0]})
    >>> res.recovered_share()
    {100: 0.5}
    """

    records: list = field(default_factory=list)
    settings: dict = field(default_factory=dict)

    @property
    def router(self):
        """Name of the router trained from the logs."""
        return self.settings["router"]

    def methods(self):
        """The method names, in the order of the records."""
        seen = []
        for r in self.records:
            if r["method"] not in seen:
                seen.append(r["method"])
        return seen

    def values(self, method, key="value"):
        """``key`` of ``method`` as an array of shape (n_sizes, n_seeds, n_cost_weights).

        Parameters
        ----------
        method : str
            A method name (see :meth:`methods`).
        key : str, default="value"
            A record key: ``"value"``, ``"quality"``, ``"cost"`` or
            ``"fit_time"``.

        Returns
        -------
        values : ndarray of shape (n_sizes, n_seeds, n_cost_weights)
            NaN where nothing was recorded.
        """
        sizes = list(self.settings["sizes"])
        seeds = list(self.settings["seeds"])
        weights = list(self.settings["cost_weights"])
        out = np.full((len(sizes), len(seeds), len(weights)), np.nan)
        for r in self.records:
            if r["method"] == method:
                out[sizes.index(r["size"]), seeds.index(r["seed"]),
                    weights.index(r["cost_weight"])] = r.get(key, np.nan)
        return out

    def recovered_share(self, *, by_cost_weight=False):
        """Share of the full-feedback gain over the best single model that the router recovers.

        ``(router - best single) / (full feedback - best single)``, with each
        term the true test value summed over seeds (and cost weights): a ratio
        of mean gains, not a mean of ratios, so that a cost weight where full
        feedback barely beats the best single model cannot blow it up. 1 means
        the logs taught the router as much as full feedback on the same
        queries; 0 that it is no better than the best single model; negative,
        that it is worse. NaN when full feedback gains nothing.

        Parameters
        ----------
        by_cost_weight : bool, default=False
            Also split by cost weight.

        Returns
        -------
        shares : dict
            ``{size: share}``, or ``{(size, cost_weight): share}``.

        Examples
        --------
        >>> from sklearn_causal_routing.experiments import LearningCurveResult
        >>> recs = [{"size": 10, "seed": s, "cost_weight": 0.0, "method": m, "value": v}
        ...         for s, vals in [(0, (0.6, 0.8, 0.5)), (1, (0.5, 0.6, 0.5))]
        ...         for m, v in zip(["R", "full feedback", "best single (hindsight)"], vals)]
        >>> res = LearningCurveResult(recs, {"router": "R", "sizes": [10], "seeds": [0, 1],
        ...                                  "cost_weights": [0.0]})
        >>> res.recovered_share()   # (0.1 + 0.0) / (0.3 + 0.1)
        {10: 0.25}
        """
        router = self.values(self.router)
        full = self.values(FULL_FEEDBACK)
        best = self.values(BEST_SINGLE)
        sizes = list(self.settings["sizes"])
        weights = list(self.settings["cost_weights"])

        def share(sl):
            num = np.nansum(router[sl] - best[sl])
            den = np.nansum(full[sl] - best[sl])
            return float(num / den) if den > 0 else float("nan")

        if by_cost_weight:
            return {(n, w): share((i, slice(None), j))
                    for i, n in enumerate(sizes) for j, w in enumerate(weights)}
        return {n: share((i,)) for i, n in enumerate(sizes)}

    def to_frame(self):
        """The records as a tidy pandas DataFrame (one row per record).

        Returns
        -------
        frame : pandas.DataFrame
            Columns ``size``, ``seed``, ``cost_weight``, ``method``, ``value``,
            ``quality``, ``cost``, ``fit_time``.
        """
        import pandas as pd

        return pd.DataFrame.from_records(self.records)

    def to_markdown(self, *, by_cost_weight=True, digits=4):
        """The learning curve as markdown tables.

        Parameters
        ----------
        by_cost_weight : bool, default=True
            Add a second table with each cost weight's values and share.
        digits : int, default=4
            Decimals of the utilities.

        Returns
        -------
        text : str
            A summary table (one row per size: the true test utility of the
            router, full feedback, the best single model and the oracle,
            averaged over cost weights and seeds, the router's fit time and
            the share of the full-feedback gain recovered), then the detail
            table.
        """
        s = self.settings
        sizes, weights = list(s["sizes"]), list(s["cost_weights"])
        cols = [self.router, FULL_FEEDBACK, BEST_SINGLE, ORACLE]
        means = {m: self.values(m) for m in cols}
        fit = self.values(self.router, "fit_time")
        shares = self.recovered_share()
        f = f"{{:.{digits}f}}"

        def pct(x):
            return "n/a" if not np.isfinite(x) else f"{100 * x:.0f}%"

        test_size = s.get("test_size")
        test_size = f"{test_size:,}" if isinstance(test_size, numbers.Integral) else "?"
        lines = [
            f"Learning curve of {self.router} from {s.get('logging', '?')} logs "
            f"(skew {s.get('skew', '?')}): true mean utility on a test world of "
            f"{test_size} queries, averaged over {len(weights)} cost "
            f"weight(s) ({', '.join(f'{w:.4g}' for w in weights)}) and {len(s['seeds'])} "
            "seed(s). Gain recovered = (router - best single) / (full feedback - best "
            "single).",
            "",
        ]
        rows = []
        for i, n in enumerate(sizes):
            row = [f"{n:,}"] + [f.format(np.nanmean(means[m][i])) for m in cols]
            row += [f"{np.nansum(fit[i]) / max(1, len(s['seeds'])):.1f}", pct(shares[n])]
            rows.append(row)
        headers = ["logged queries", *cols, "router fit (s)", "gain recovered"]
        lines.append(markdown_table(headers, rows, align=["right"] * len(headers)))
        if by_cost_weight and len(weights) > 1:
            by_w = self.recovered_share(by_cost_weight=True)
            rows = []
            for i, n in enumerate(sizes):
                for j, w in enumerate(weights):
                    row = [f"{n:,}", f"{w:.4g}"]
                    row += [f.format(np.nanmean(means[m][i, :, j])) for m in cols]
                    row.append(pct(by_w[(n, w)]))
                    rows.append(row)
            headers = ["logged queries", "cost weight", *cols, "gain recovered"]
            lines += ["", markdown_table(headers, rows, align=["right"] * len(headers))]
        return "\n".join(lines)

    def __str__(self):
        return self.to_markdown()


# --------------------------------------------------------------------------- #
# the routers given by the user
# --------------------------------------------------------------------------- #
def _is_router(estimator):
    return hasattr(estimator, "get_params") and "cost_weight" in estimator.get_params(deep=False)


def _router_name(router):
    loss = router.get_params(deep=False).get("loss")
    if type(router).__name__ == "RegretRouter" and loss in ("softmax", "classification"):
        return {"softmax": "RM-Softmax", "classification": "RM-Classification"}[loss]
    return type(router).__name__


def _configured(estimator, cost_weight, seed):
    from sklearn.base import clone

    est = clone(estimator)
    params = est.get_params(deep=False)
    new = {"cost_weight": cost_weight}
    if "random_state" in params:
        new["random_state"] = seed
    return est.set_params(**new)


# --------------------------------------------------------------------------- #
# validation
# --------------------------------------------------------------------------- #
def _distinct_ints(values, name, low, what, example):
    """A non-empty sequence of distinct integers >= ``low`` as a list of int."""
    try:
        values = list(values)
    except TypeError:
        raise TypeError(
            f"{name} must be a sequence of {what}, e.g. {name}={example}; got {values!r}."
        ) from None
    if not values:
        raise ValueError(
            f"{name} must be a non-empty sequence of {what}, e.g. {name}={example}; got []."
        )
    try:
        out = [check_int(v, f"{name}[{i}]", low) for i, v in enumerate(values)]
    except ValueError as exc:
        raise ValueError(
            f"{name} must be a non-empty sequence of {what}, e.g. {name}={example}; "
            f"got {values!r} (invalid: {exc})"
        ) from None
    if len(set(out)) != len(out):
        raise ValueError(f"{name} must be distinct; got {values!r}.")
    return out


def _check_cost_weights(cost_weights):
    try:
        grid = list(cost_weights)
    except TypeError:
        raise TypeError(
            "cost_weights must be None or a sequence of numbers >= 0, e.g. "
            f"cost_weights=(0.0, 0.5); got {cost_weights!r}."
        ) from None
    if not grid:
        raise ValueError(
            "cost_weights must be None (cost_weight_grid on the test world) or a non-empty "
            "sequence of finite numbers >= 0; got []."
        )
    grid = [check_cost_weight(w, name=f"cost_weights[{j}]") for j, w in enumerate(grid)]
    if len(set(grid)) != len(grid):
        raise ValueError(f"cost_weights must be distinct; got {grid!r}.")
    return grid


def _resolve_world(table):
    from ..datasets import RoutingTable, SemiSyntheticWorld

    if isinstance(table, SemiSyntheticWorld):
        from sklearn.utils.validation import check_is_fitted

        check_is_fitted(table)
        return table, {"n_samples": table.reference_X_.shape[0]}
    if not isinstance(table, RoutingTable):
        raise TypeError(
            "table must be a full-feedback RoutingTable (every query answered by every "
            "model, with query features) or a fitted SemiSyntheticWorld; got "
            f"{type(table).__name__}. Load one with "
            "load_routing_table('table.parquet', embeddings='embeddings.npy')."
        )
    if table.n_features == 0:
        raise ValueError(
            "table has no query features (X has 0 columns); the learning curve samples "
            "new queries from them and the routers read them. Load the table with its "
            "embeddings: load_routing_table('table.parquet', embeddings='embeddings.npy')."
        )
    return SemiSyntheticWorld().fit(table), {"n_samples": table.n_samples}


def _seed_int(*parts):
    return int(np.random.SeedSequence([int(p) for p in parts]).generate_state(1)[0] >> 1)


# --------------------------------------------------------------------------- #
# the curve
# --------------------------------------------------------------------------- #
def routing_learning_curve(
    table,
    sizes=DEFAULT_SIZES,
    *,
    router=None,
    full_feedback_router=None,
    cost_weights=None,
    n_cost_weights=3,
    logging="confounded",
    skew=5.0,
    test_size=20000,
    seeds=(0,),
    random_state=0,
    progress=sys.stderr,
):
    """How the true gain of a router trained from logs grows with the number of logs.

    Calibrates a :class:`~sklearn_causal_routing.datasets.SemiSyntheticWorld`
    on ``table`` (each query's expected quality and cost per model, from models
    fitted on the whole table), then, for every size and seed:

    1. samples a training world of ``size`` new queries and logs it with the
       ``logging`` rule (one model per query, its outcome only, propensities
       recorded);
    2. trains ``router`` from those logs, at every cost weight;
    3. trains the full-feedback reference on the same queries with every
       model's realised outcome;
    4. picks the best single model by its true mean utility on the training
       world (in hindsight);

    and scores all of them, with the per-query oracle and the logging policy,
    on one fixed test world of ``test_size`` queries against its truth.

    Parameters
    ----------
    table : RoutingTable or SemiSyntheticWorld
        Your full-feedback sample (every query answered by every model, with
        query features and, ideally, task labels), or a world already fitted on
        it (to choose the calibration models).
    sizes : sequence of int, default=(2000, 10000, 100000, 1000000)
        Numbers of logged queries. A million 384-dimensional float32 queries
        take 1.5 GB (13 GB at the peak of a measured run with 29 models), and
        the router's training time grows linearly with the size (measured
        times and memory: ``docs/learning_curve.md``).
    router : estimator, default=None
        The router trained from the logs: any estimator with a ``cost_weight``
        parameter, ``fit(X, feedback)`` and ``predict(X)``. Cloned for every
        size, seed and cost weight, with ``random_state`` (if it has one) set to
        the seed. ``None`` uses ``RegretRouter()`` (RM-Softmax, default
        settings).
    full_feedback_router : estimator, default=None
        The reference trained with every model's outcome on the same queries.
        ``None``: per-model ``RidgeCV`` of quality and cost, routing to the
        highest predicted utility (as in :func:`run_benchmark`). A regressor
        (no ``cost_weight`` parameter): the same plug-in rule with that
        regressor, cloned per model. A router (with ``cost_weight``): cloned,
        fitted per cost weight on ``train.full_feedback()`` (every
        (query, model) pair as a log row; ``size * n_models`` rows, so mind the
        memory at large sizes).
    cost_weights : sequence of float, default=None
        Cost weights; ``None`` uses :func:`cost_weight_grid` on the test world
        (``n_cost_weights`` weights from 0 to where the cheapest model becomes
        the best single model).
    n_cost_weights : int, default=3
        Size of the default grid (every weight costs one router fit per size
        and seed).
    logging : {"confounded", "uniform", "deterministic", "strong-rare", \
"cheap-heavy"} or callable, default="confounded"
        The logging rule (``datasets.LOGGING_POLICIES``); see
        :meth:`RoutingTable.logging_probabilities`.
    skew : float, default=5.0
        Inverse temperature of the confounded rule.
    test_size : int, default=20000
        Queries in the test world.
    seeds : sequence of int, default=(0,)
        One training world, logging draw and router seed per seed.
    random_state : int, RandomState instance or None, default=0
        Seed of the worlds drawn (the test world and, with each seed, the
        training worlds).
    progress : file-like or None, default=sys.stderr
        Where progress lines go (``None``: silent).

    Returns
    -------
    result : LearningCurveResult
        Tidy records (size, seed, cost weight, method, true value) and
        :meth:`~LearningCurveResult.recovered_share`; ``print(result)`` shows
        the markdown tables.

    See Also
    --------
    sklearn_causal_routing.datasets.SemiSyntheticWorld : The world.
    run_benchmark : Every method on the real table's own queries.

    Notes
    -----
    The world's truth is only as rich as its calibration models (by default a
    cross-validated logistic regression per model on the embedding and the
    task): the curve measures how fast a router learns *that* truth from
    biased logs, not the per-query quirks of the real outcomes. See
    ``docs/learning_curve.md``.

    Examples
    --------
    >>> from sklearn_causal_routing.baselines import DecoupledRouter
    >>> from sklearn_causal_routing.experiments import routing_learning_curve
    >>> from sklearn_causal_routing.datasets import make_routing_table
    >>> table = make_routing_table(500, random_state=0)
    >>> res = routing_learning_curve(table, sizes=(300, 1000), router=DecoupledRouter(),
    ...                              n_cost_weights=2, test_size=2000, progress=None)
    >>> sorted(res.recovered_share())
    [300, 1000]
    >>> res.methods()
    ['oracle', 'best single (hindsight)', 'logging policy', 'full feedback', 'DecoupledRouter']
    """
    from .._router import RegretRouter
    from .._utility import clear_utility_cache
    from ._runner import FullFeedbackRouter, cost_weight_grid

    sizes = _distinct_ints(sizes, "sizes", 1, "positive integers (numbers of logged queries)",
                           "(2000, 10000)")
    seeds = _distinct_ints(seeds, "seeds", 0, "ints >= 0", "(0, 1)")
    test_size = check_int(test_size, "test_size", 1)
    n_cost_weights = check_int(n_cost_weights, "n_cost_weights", 1)
    if router is None:
        router = RegretRouter()
    if not _is_router(router) or not hasattr(router, "fit") or not hasattr(router, "predict"):
        raise TypeError(
            "router must be a scikit-learn estimator with a cost_weight parameter, "
            "fit(X, feedback) and predict(X), e.g. RegretRouter(); got "
            f"{type(router).__name__}."
        )
    if full_feedback_router is not None and not hasattr(full_feedback_router, "fit"):
        raise TypeError(
            "full_feedback_router must be None, a regressor (fitted per model on every "
            "outcome) or a router with a cost_weight parameter; got "
            f"{type(full_feedback_router).__name__}."
        )
    if isinstance(logging, str) and logging not in LOGGING_POLICIES:
        raise ValueError(
            f"logging must be one of {list(LOGGING_POLICIES)} or a callable "
            f"policy(table) -> (n_samples, n_models) matrix; got {logging!r}."
        )
    name = _router_name(router)
    if name in (FULL_FEEDBACK, BEST_SINGLE, ORACLE, LOGGER):
        name = f"{name} (router)"

    from sklearn.utils import check_random_state

    t_start = time.perf_counter()
    world, info = _resolve_world(table)
    base = int(check_random_state(random_state).randint(np.iinfo(np.int32).max))
    _say(progress, f"world calibrated in {time.perf_counter() - t_start:.1f}s")
    test = world.sample(test_size, random_state=_seed_int(base, 0))
    if cost_weights is None:
        grid = cost_weight_grid(test, n_cost_weights)
    else:
        grid = _check_cost_weights(cost_weights)
    P_logger = test.logging_probabilities(logging, skew=skew)
    models = np.asarray(world.models_)

    result = LearningCurveResult(settings={
        "router": name,
        "sizes": sizes,
        "seeds": seeds,
        "cost_weights": grid,
        "test_size": test_size,
        "logging": logging if isinstance(logging, str) else getattr(logging, "__name__",
                                                                    "custom"),
        "skew": float(skew),
        "n_samples": info["n_samples"],
        "n_models": len(models),
        "n_features": world.n_features_in_,
        "models": [str(m) for m in models],
        "warnings": {},
    })
    warned = Counter()

    def record(size, seed, w, method, decisions, fit_time=np.nan):
        result.records.append({
            "size": size, "seed": seed, "cost_weight": w, "method": method,
            "value": test.value(decisions, w),
            "quality": test.mean_quality(decisions), "cost": test.mean_cost(decisions),
            "fit_time": fit_time,
        })

    units, done = len(sizes) * len(seeds), 0
    for size in sizes:
        for seed in seeds:
            t0 = time.perf_counter()
            train = world.sample(size, random_state=_seed_int(base, 1, seed, size))
            logs = train.log(logging, skew=skew, random_state=_seed_int(base, 2, seed, size))
            t_sample = time.perf_counter() - t0

            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                t1 = time.perf_counter()
                full = None
                if full_feedback_router is None or not _is_router(full_feedback_router):
                    full = FullFeedbackRouter(full_feedback_router).fit(
                        train.X, train.quality, train.cost)
                    q_hat, c_hat = full.outcomes(test.X)
                t_full = time.perf_counter() - t1
                ff_X = ff_fb = None
                if full is None:
                    ff_X, ff_fb = train.full_feedback()
                for w in grid:
                    record(size, seed, w, ORACLE, test.oracle_decisions(w))
                    best = train.best_single_model(w)[0]
                    record(size, seed, w, BEST_SINGLE,
                           np.full(test.n_samples, best, dtype=models.dtype))
                    record(size, seed, w, LOGGER, P_logger)
                    if full is not None:
                        decisions = models[np.argmax(q_hat - w * c_hat, axis=1)]
                        record(size, seed, w, FULL_FEEDBACK, decisions,
                               t_full if w == grid[0] else 0.0)
                    else:
                        t1 = time.perf_counter()
                        est = _configured(full_feedback_router, w, seed).fit(ff_X, ff_fb)
                        record(size, seed, w, FULL_FEEDBACK, est.predict(test.X),
                               time.perf_counter() - t1)
                    t1 = time.perf_counter()
                    est = _configured(router, w, seed).fit(logs.X, logs.feedback)
                    fit_time = time.perf_counter() - t1
                    record(size, seed, w, name, est.predict(test.X), fit_time)
            for wmsg in caught:
                warned[f"{wmsg.category.__name__}: {' '.join(str(wmsg.message).split())[:200]}"] \
                    += 1
            del train, logs, ff_X, ff_fb, full, est
            clear_utility_cache()
            done += 1
            last = [r for r in result.records if r["size"] == size and r["seed"] == seed]
            mean = {m: np.mean([r["value"] for r in last if r["method"] == m])
                    for m in (name, FULL_FEEDBACK, BEST_SINGLE)}
            gain = mean[FULL_FEEDBACK] - mean[BEST_SINGLE]
            share = (f"{100 * (mean[name] - mean[BEST_SINGLE]) / gain:.0f}%" if gain > 0
                     else "n/a")
            _say(progress,
                 f"[{done}/{units}] size {size:,} seed {seed}: sample+log {t_sample:.1f}s, "
                 f"{name} {sum(r['fit_time'] for r in last if r['method'] == name):.1f}s; "
                 f"{name} {mean[name]:.4f}, full feedback {mean[FULL_FEEDBACK]:.4f}, "
                 f"best single {mean[BEST_SINGLE]:.4f}, gain recovered {share}; "
                 f"elapsed {time.perf_counter() - t_start:.0f}s")
    result.settings["warnings"] = dict(warned)
    return result


def _say(stream, msg):
    if stream is not None:
        print(msg, file=stream, flush=True)
