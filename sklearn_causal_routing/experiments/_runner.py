"""Train every router from simulated logs of a full-feedback table; score the truth.

The runner takes a full-feedback :class:`~sklearn_causal_routing.datasets.RoutingTable`
(every query answered by every model), and for each scenario and seed it

1. splits the table into train and test queries (the table's own ``split``
   column when it has ``"train"`` / ``"test"``, else a seeded 70/30 split);
2. logs the training queries with the scenario's logging rule (one model per
   query, its outcome only, see :meth:`RoutingTable.log`);
3. trains every method from those logs alone, at every cost weight of the grid
   (methods whose decisions read ``cost_weight`` at predict time are fitted once
   and swept);
4. scores each method's test decisions against the full table (true utility,
   regret against the per-query oracle, mean quality, mean cost, call shares)
   and, on logs of the test queries, checks whether the off-policy DR interval
   of ``router.score`` covers the true value.
"""

import sys
import time
import warnings
from dataclasses import dataclass, field, replace

import numpy as np

from ..datasets import LOGGING_POLICIES
from ..utils._optional import import_optional
from ..utils.validation import check_int

__all__ = [
    "METHODS",
    "REFERENCES",
    "SCENARIOS",
    "BenchmarkResult",
    "FullFeedbackRouter",
    "Scenario",
    "cheapest_breakpoint",
    "cost_weight_grid",
    "run_benchmark",
]


# --------------------------------------------------------------------------- #
# scenarios: how the logs were made and which nuisance models are used
# --------------------------------------------------------------------------- #
@dataclass(frozen=True)
class Scenario:
    """One way of producing training logs (and the nuisance models used).

    Parameters
    ----------
    name : str
        Short name used in reports and on the command line.
    description : str
        One line for the report.
    policy : str, default="confounded"
        Logging rule, one of ``datasets.LOGGING_POLICIES``: ``"confounded"``,
        ``"uniform"``, ``"deterministic"``, ``"strong-rare"`` (the confounded
        rule with the strongest model's probability capped at ``strong_cap``)
        or ``"cheap-heavy"`` (the cheapest model takes ``cheap_share`` of every
        query); see :meth:`RoutingTable.logging_probabilities`.
    skew : float, default=5.0
        Inverse temperature of the confounded rule.
    record_propensity : bool, default=True
        Whether the logs carry the logging probabilities; if not, they are
        estimated by the propensity model.
    propensity : {"xgboost", "logistic"}, default="xgboost"
        Propensity model when propensities are estimated.
    outcome : {"linear", "mlp"}, default="linear"
        Outcome (quality and cost) model of the DR utilities and of the
        outcome-regression baselines: ``RidgeCV`` (the library default) or
        ``MLPRegressor``.
    log_fraction : float, default=1.0
        Fraction of the training queries that are logged (a seeded subsample).
    strong_cap, cheap_share : float
        Parameters of the ``"strong-rare"`` and ``"cheap-heavy"`` rules.
    """

    name: str
    description: str
    policy: str = "confounded"
    skew: float = 5.0
    record_propensity: bool = True
    propensity: str = "xgboost"
    outcome: str = "linear"
    log_fraction: float = 1.0
    strong_cap: float = 0.25
    cheap_share: float = 0.7

    def logging_probabilities(self, table):
        """The (n, K) logging matrix of this scenario on ``table``."""
        if self.policy not in LOGGING_POLICIES:
            raise ValueError(
                f"Scenario {self.name!r}: policy must be one of {list(LOGGING_POLICIES)}; "
                f"got {self.policy!r}."
            )
        return table.logging_probabilities(
            self.policy, skew=self.skew, strong_cap=self.strong_cap,
            cheap_share=self.cheap_share,
        )


#: The named scenarios; ``main`` is the headline setting, the others are the
#: stress tests.
SCENARIOS = {
    s.name: s
    for s in [
        Scenario("main", "task-confounded logs (skew 5), propensities recorded"),
        Scenario(
            "strong-rare",
            "heavy skew: the strongest model gets at most 25% of any query",
            policy="strong-rare",
        ),
        Scenario(
            "cheap-heavy",
            "heavy skew: the cheapest model serves 70% of the calls",
            policy="cheap-heavy",
        ),
        Scenario(
            "propensity-xgboost",
            "propensities not recorded; estimated by XGBoost (the default model)",
            record_propensity=False,
        ),
        Scenario(
            "propensity-logistic",
            "propensities not recorded; misspecified: logistic regression",
            record_propensity=False,
            propensity="logistic",
        ),
        Scenario(
            "outcome-mlp",
            "outcome models are MLPs instead of the default linear RidgeCV",
            outcome="mlp",
        ),
        Scenario("logs-30", "only 30% of the training queries are logged", log_fraction=0.3),
        Scenario("logs-10", "only 10% of the training queries are logged", log_fraction=0.1),
    ]
}


# --------------------------------------------------------------------------- #
# methods
# --------------------------------------------------------------------------- #
@dataclass(frozen=True)
class _Method:
    name: str
    family: str  # "ours", "baseline" or "peer"
    make: object  # make(ctx) -> unfitted estimator with cost_weight
    sweep: bool = False  # decisions read cost_weight at predict time: fit once


def _ctx_utility(ctx):
    from .._propensity import PropensityModel
    from .._utility import DoublyRobustUtility

    kw = {"random_state": ctx["seed"]}
    if ctx["scenario"].propensity == "logistic":
        from sklearn.linear_model import LogisticRegression

        kw["propensity"] = PropensityModel(estimator=LogisticRegression(max_iter=1000))
    if ctx["scenario"].outcome == "mlp":
        kw["quality_model"] = _mlp()
        kw["cost_model"] = _mlp()
    return DoublyRobustUtility(**kw)


def _mlp():
    from sklearn.compose import TransformedTargetRegressor
    from sklearn.neural_network import MLPRegressor
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    net = MLPRegressor(hidden_layer_sizes=(64,), alpha=1e-2, early_stopping=True,
                       max_iter=200, random_state=0)
    # costs are tiny (USD); standardise the target so the net sees unit scale
    return TransformedTargetRegressor(
        regressor=make_pipeline(StandardScaler(), net), transformer=StandardScaler()
    )


def _outcome_kw(ctx):
    if ctx["scenario"].outcome == "mlp":
        return {"quality_model": _mlp(), "cost_model": _mlp()}
    return {}


def _regret(loss):
    def make(ctx):
        from .._router import RegretRouter

        return RegretRouter(loss=loss, utility=_ctx_utility(ctx), random_state=ctx["seed"])

    return make


def _single(ctx):
    from ..baselines import SingleModelRouter

    return SingleModelRouter(utility=_ctx_utility(ctx))


def _decoupled(ctx):
    from ..baselines import DecoupledRouter

    return DecoupledRouter(**_outcome_kw(ctx))


def _econml(kind):
    def make(ctx):
        from ._peers import EconMLPolicyRouter

        return EconMLPolicyRouter(kind=kind, random_state=ctx["seed"])

    return make


def _obp(ctx):
    from ._peers import OBPIPWRouter

    return OBPIPWRouter(random_state=ctx["seed"])


def _optional_baselines():
    """Baselines that exist in ``sklearn_causal_routing.baselines``."""
    from .. import baselines

    out = []
    if hasattr(baselines, "ImitationRouter"):
        out.append(_Method(
            "imitate logger", "baseline",
            lambda ctx: baselines.ImitationRouter(random_state=ctx["seed"]), sweep=True,
        ))
    if hasattr(baselines, "CarrotRouter"):
        out.append(_Method(
            "CARROT", "baseline",
            lambda ctx: baselines.CarrotRouter(**_outcome_kw(ctx)), sweep=True,
        ))
        out.append(_Method(
            "CARROT + DR", "baseline",
            lambda ctx: baselines.CarrotRouter(correction="dr", utility=_ctx_utility(ctx)),
            sweep=True,
        ))
    if hasattr(baselines, "KNNRouter"):
        out.append(_Method("kNN", "baseline", lambda ctx: baselines.KNNRouter(), sweep=True))
    return out


def _all_methods():
    methods = [
        _Method("RM-Softmax", "ours", _regret("softmax")),
        _Method("RM-Classification", "ours", _regret("classification")),
        _Method("single model (DR)", "baseline", _single),
        _Method("decoupled", "baseline", _decoupled, sweep=True),
    ]
    methods += _optional_baselines()
    methods += [
        _Method("EconML DRPolicyForest", "peer", _econml("forest")),
        _Method("EconML DRPolicyTree", "peer", _econml("tree")),
        _Method("OBP IPWLearner", "peer", _obp),
    ]
    return {m.name: m for m in methods}


#: Methods trained from the logs, by name (ours, baselines, peers).
METHODS = _all_methods()

#: Reference rows computed from the full table, not from logs.
REFERENCES = (
    "oracle",
    "full feedback",
    "best single (hindsight)",
    "logging policy",
)


class FullFeedbackRouter:
    """Regression of quality and cost on every train row of the table; route by argmax.

    The full-feedback reference of :func:`run_benchmark` and
    :func:`routing_learning_curve`: trained on every model's outcome for every
    training query, which logs never give.

    ``regressor=None``: one multi-output ``RidgeCV`` per target (a penalty per
    model); otherwise the regressor, cloned per model.

    Examples
    --------
    >>> from sklearn_causal_routing.datasets import make_routing_table
    >>> from sklearn_causal_routing.experiments._runner import FullFeedbackRouter
    >>> table = make_routing_table(300, random_state=0)
    >>> full = FullFeedbackRouter().fit(table.X, table.quality, table.cost)
    >>> full.decisions(table.X[:4], cost_weight=0.0).shape
    (4,)
    """

    def __init__(self, regressor=None):
        self.regressor = regressor

    def fit(self, X, quality, cost):
        from sklearn.base import clone
        from sklearn.linear_model import RidgeCV

        if self.regressor is None:
            alphas = np.logspace(-2, 3, 6)
            self.q = [RidgeCV(alphas=alphas, alpha_per_target=True).fit(X, quality)]
            self.c = [RidgeCV(alphas=alphas, alpha_per_target=True).fit(X, cost)]
        else:
            self.q = [clone(self.regressor).fit(X, quality[:, k]) for k in range(quality.shape[1])]
            self.c = [clone(self.regressor).fit(X, cost[:, k]) for k in range(cost.shape[1])]
        return self

    @staticmethod
    def _predict(models, X):
        if len(models) == 1:
            return models[0].predict(X).reshape(X.shape[0], -1)
        return np.column_stack([m.predict(X) for m in models])

    def outcomes(self, X):
        """Predicted quality and cost, each of shape (n, n_models)."""
        return self._predict(self.q, X), self._predict(self.c, X)

    def decisions(self, X, cost_weight):
        """Column index of the highest predicted utility per query."""
        quality, cost = self.outcomes(X)
        return np.argmax(quality - cost_weight * cost, axis=1)


def cheapest_breakpoint(table):
    """The cheapest model and the cost weight from which it is the best single model.

    Utilities are lines in the cost weight, so the best single model by mean
    utility changes at finitely many weights; the last change is where the
    cheapest model ``c`` (by mean cost) wins:
    ``max(0, max_m (q_m - q_c) / (c_m - c_c))`` over the pricier models ``m``
    (``q`` the mean quality, expected quality when the table knows it).

    Parameters
    ----------
    table : RoutingTable
        Usually the training part.

    Returns
    -------
    model : object
        Label of the cheapest model.
    weight : float
        The breakpoint (0 when the cheapest model is also the best).

    Examples
    --------
    >>> from sklearn_causal_routing.experiments import cheapest_breakpoint
    >>> from sklearn_causal_routing.datasets import make_routing_table
    >>> table = make_routing_table(500, random_state=0)
    >>> model, weight = cheapest_breakpoint(table)
    >>> str(model), bool(table.best_single_model(1.001 * weight)[0] == model)
    ('tiny', True)
    """
    q = table.utility(0.0).mean(axis=0)
    c = table.cost.mean(axis=0)
    cheap = int(np.argmin(c))
    ratios = [(q[m] - q[cheap]) / (c[m] - c[cheap]) for m in range(len(c)) if c[m] > c[cheap]]
    return table.models[cheap], float(max([0.0] + ratios))


def cost_weight_grid(table, n=5):
    """Evenly spaced cost weights from 0 to where the cheapest model wins.

    The upper end is :func:`cheapest_breakpoint`: beyond it every sensible
    router sends everything to the cheapest model.

    Parameters
    ----------
    table : RoutingTable
        Usually the training part.
    n : int, default=5
        Number of weights (>= 1).

    Returns
    -------
    weights : list of float

    Examples
    --------
    >>> from sklearn_causal_routing.experiments import cost_weight_grid
    >>> from sklearn_causal_routing.datasets import make_routing_table
    >>> grid = cost_weight_grid(make_routing_table(500, random_state=0), n=3)
    >>> len(grid), grid[0]
    (3, 0.0)
    """
    n = check_int(n, "n", 1)
    top = cheapest_breakpoint(table)[1]
    return [float(w) for w in np.linspace(0.0, top, n)]


# --------------------------------------------------------------------------- #
# results
# --------------------------------------------------------------------------- #
@dataclass
class BenchmarkResult:
    """What :func:`run_benchmark` measured.

    Attributes
    ----------
    records : list of dict
        One per (scenario, seed, cost weight, method) with keys ``scenario``,
        ``seed``, ``cost_weight``, ``method``, ``family``, ``value`` (true
        mean test utility), ``regret`` (oracle value minus value),
        ``quality``, ``cost`` (true means of the decisions), ``fit_time``
        (seconds; for swept methods the single fit is charged to the first
        weight), ``score``, ``ci_low``, ``ci_high`` (DR estimate and interval
        on test logs, NaN where not computed), ``shares`` (dict of call shares),
        ``fell_back`` (whether the router fell back to a single model, see
        ``RegretRouter(fallback=...)``).
    skipped : dict
        Method name -> reason it was not run (e.g. a missing optional peer).
    settings : dict
        The run's settings (table summary, cost weights, seeds, scenarios).
    """

    records: list = field(default_factory=list)
    skipped: dict = field(default_factory=dict)
    settings: dict = field(default_factory=dict)

    def methods(self, scenario=None):
        seen = []
        for r in self.records:
            if (scenario is None or r["scenario"] == scenario) and r["method"] not in seen:
                seen.append(r["method"])
        return seen

    def values(self, scenario, method, key="value"):
        """Array of shape (n_seeds, n_cost_weights) of ``key``."""
        seeds = self.settings["seeds"]
        weights = self.settings["cost_weights"]
        out = np.full((len(seeds), len(weights)), np.nan)
        for r in self.records:
            if r["scenario"] == scenario and r["method"] == method:
                out[seeds.index(r["seed"]), weights.index(r["cost_weight"])] = r[key]
        return out

    def summary(self, scenario, method):
        """Mean over the cost-weight grid per seed, then mean and std over seeds."""
        per_seed = np.nanmean(self.values(scenario, method), axis=1)
        std = float(np.std(per_seed, ddof=1)) if per_seed.size > 1 else float("nan")
        return float(np.mean(per_seed)), std, per_seed


# --------------------------------------------------------------------------- #
# the run
# --------------------------------------------------------------------------- #
def _progress(msg, stream):
    if stream is not None:
        print(msg, file=stream, flush=True)


def _fmt_eta(seconds):
    seconds = int(round(seconds))
    return f"{seconds // 60}m{seconds % 60:02d}s"


def _split(table, seed):
    split = getattr(table, "split", None)
    if split is not None:
        labels = set(np.asarray(split).astype(str).tolist())
        if {"train", "test"} <= labels:
            return table.split_by("train"), table.split_by("test")
    return table.train_test_split(test_size=0.3, random_state=seed)


def _simulate_logs(table, scenario, seed):
    """Simulated logs of ``table`` under ``scenario`` (its logging rule, its log_fraction)."""
    train = table
    if scenario.log_fraction < 1.0:
        rng = np.random.default_rng(seed + 7919)
        n = max(2 * table.n_models, int(round(scenario.log_fraction * table.n_samples)))
        idx = np.sort(rng.choice(table.n_samples, size=min(n, table.n_samples), replace=False))
        train = table.subset(idx)
    P = scenario.logging_probabilities(train)
    logs = train.log(
        lambda _t: P, record_propensity=scenario.record_propensity, random_state=seed
    )
    return train, logs


def run_benchmark(
    table,
    *,
    methods=None,
    scenarios=("main",),
    seeds=(0, 1, 2, 3, 4),
    cost_weights=None,
    n_cost_weights=5,
    score_methods=("RM-Softmax",),
    confidence_level=0.95,
    progress=sys.stderr,
):
    """Train every method from simulated biased logs and score it on the truth.

    Parameters
    ----------
    table : RoutingTable
        A full-feedback table (e.g. from
        :func:`~sklearn_causal_routing.datasets.load_routing_table`).
    methods : list of str or (str, estimator) pairs, default=None
        Names from :data:`METHODS`; ``None`` runs all. A peer whose optional
        package is missing is skipped and reported in ``result.skipped``. A
        ``(name, estimator)`` pair adds your own router (family ``"custom"``):
        any estimator with a ``cost_weight`` parameter, ``fit(X, feedback)``
        and ``predict(X)``. It is cloned for every seed and cost weight, and its
        ``random_state`` (if it has one) is set to the seed; the scenario's
        propensity and outcome settings are not applied to it.
    scenarios : sequence of str or Scenario, default=("main",)
        Names from :data:`SCENARIOS` or :class:`Scenario` objects.
    seeds : sequence of int, default=(0, 1, 2, 3, 4)
        One run per seed (logging draw, subsample, training seeds).
    cost_weights : sequence of float, default=None
        The grid; ``None`` uses :func:`cost_weight_grid` on the training part.
    n_cost_weights : int, default=5
        Size of the default grid.
    score_methods : sequence of str, default=("RM-Softmax",)
        Methods whose ``score`` interval on test logs is checked against the
        truth (costs one DR fit per seed; the test logs use the scenario's
        logging rule with propensities recorded).
    confidence_level : float, default=0.95
        Of those intervals.
    progress : file-like or None, default=sys.stderr
        Where progress lines go (``None``: silent).

    Returns
    -------
    result : BenchmarkResult

    Examples
    --------
    >>> from sklearn_causal_routing.experiments import run_benchmark
    >>> from sklearn_causal_routing.datasets import make_routing_table
    >>> table = make_routing_table(600, random_state=0)
    >>> res = run_benchmark(table, methods=["decoupled"], seeds=[0],
    ...                     n_cost_weights=2, score_methods=(), progress=None)
    >>> sorted(res.methods())  # doctest: +NORMALIZE_WHITESPACE
    ['best single (hindsight)', 'decoupled', 'full feedback', 'logging policy',
     'oracle']
    """
    from .._utility import clear_utility_cache

    registry = _resolve_methods(methods)
    names = list(registry)
    scen = []
    for s in scenarios:
        if isinstance(s, Scenario):
            scen.append(s)
        elif s in SCENARIOS:
            scen.append(SCENARIOS[s])
        else:
            raise ValueError(
                f"scenarios: unknown scenario {s!r}; choose from {list(SCENARIOS)} or "
                "pass a Scenario."
            )
    seeds = [int(s) for s in seeds]
    if not seeds:
        raise ValueError("seeds must name at least one seed; got an empty sequence.")

    result = BenchmarkResult()
    for name in names:
        reason = _peer_missing(name)
        if reason:
            result.skipped[name] = reason
            _progress(f"skipping {name}: {reason}", progress)
    run_names = [n for n in names if n not in result.skipped]

    train0, _ = _split(table, seeds[0])
    grid = cost_weight_grid(train0, n_cost_weights) if cost_weights is None else [
        float(c) for c in cost_weights
    ]
    result.settings = {
        "n_samples": table.n_samples,
        "n_models": table.n_models,
        "n_features": table.n_features,
        "models": [str(m) for m in table.models],
        # AIQ's common cost range: the cheapest to the dearest model (mean cost)
        "cost_range": (float(table.cost.mean(axis=0).min()),
                       float(table.cost.mean(axis=0).max())),
        "seeds": seeds,
        "cost_weights": grid,
        "scenarios": [s.name for s in scen],
        "scenario_descriptions": {s.name: s.description for s in scen},
        "confidence_level": confidence_level,
        "score_methods": [m for m in score_methods if m in run_names],
    }

    units = len(scen) * len(seeds)
    done, t_start = 0, time.perf_counter()
    for scenario in scen:
        for seed in seeds:
            t_unit = time.perf_counter()
            clear_utility_cache()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                _run_unit(result, table, scenario, seed, grid,
                          {n: registry[n] for n in run_names}, score_methods,
                          confidence_level)
            done += 1
            elapsed = time.perf_counter() - t_start
            eta = elapsed / done * (units - done)
            main = [
                f"{m} {np.mean(result.values(scenario.name, m)[seeds.index(seed)]):.3f}"
                for m in ("RM-Softmax", "decoupled", "full feedback")
                if m in result.methods(scenario.name)
            ]
            _progress(
                f"[{done}/{units}] {scenario.name} seed {seed}: "
                f"{time.perf_counter() - t_unit:.0f}s; " + ", ".join(main)
                + f"; elapsed {_fmt_eta(elapsed)}, ETA {_fmt_eta(eta)}",
                progress,
            )
    return result


def _custom_method(name, estimator):
    """A ``(name, estimator)`` pair of ``run_benchmark(methods=...)`` as a method."""
    from sklearn.base import clone

    missing = [m for m in ("fit", "predict", "get_params") if not hasattr(estimator, m)]
    if missing or "cost_weight" not in estimator.get_params(deep=False):
        raise TypeError(
            f"methods: the estimator of {name!r} must be a scikit-learn estimator with a "
            "cost_weight parameter, fit(X, feedback) and predict(X) (e.g. a RegretRouter); "
            f"got {type(estimator).__name__}"
            + (f" without {', '.join(missing)}." if missing else " without cost_weight.")
        )

    def make(ctx):
        est = clone(estimator)
        if "random_state" in est.get_params(deep=False):
            est.set_params(random_state=ctx["seed"])
        return est

    return _Method(name, "custom", make)


def _resolve_methods(methods):
    """``run_benchmark``'s ``methods`` as an ordered {name: _Method}."""
    if methods is None:
        return dict(METHODS)
    registry, unknown = {}, []
    for m in methods:
        if isinstance(m, str):
            if m in METHODS:
                registry[m] = METHODS[m]
            else:
                unknown.append(m)
            continue
        try:
            name, estimator = m
        except (TypeError, ValueError):
            raise TypeError(
                "methods: each entry must be a method name or a (name, estimator) pair; "
                f"got {m!r}."
            ) from None
        if not isinstance(name, str) or name in METHODS or name in REFERENCES:
            raise ValueError(
                f"methods: a custom method needs a new name (a str that is not a built-in "
                f"method or reference row); got {name!r}."
            )
        registry[name] = _custom_method(name, estimator)
    if unknown:
        raise ValueError(
            f"methods: unknown name(s) {unknown}; choose from {list(METHODS)}, or pass "
            "(name, estimator) pairs for your own routers."
        )
    if len(registry) != len(methods):
        raise ValueError(f"methods: names must be unique; got {list(methods)!r}.")
    return registry


def _peer_missing(name):
    module = {"EconML DRPolicyForest": "econml", "EconML DRPolicyTree": "econml",
              "OBP IPWLearner": "obp"}.get(name)
    if module is None:
        return None
    try:
        import_optional(module, extra="bench", needed_by=name)
    except ImportError as exc:
        return str(exc)
    return None


def _run_unit(result, table, scenario, seed, grid, methods, score_methods, level):
    from ..metrics import evaluate_policy

    train_full, test = _split(table, seed)
    train, logs = _simulate_logs(train_full, scenario, seed)
    test_logs = None
    if any(m in methods for m in score_methods):
        test_scn = replace(scenario, log_fraction=1.0)
        P_test = test_scn.logging_probabilities(test)
        test_logs = test.log(lambda _t: P_test, record_propensity=True,
                             random_state=seed + 1000)
    models = np.asarray(table.models)
    full = FullFeedbackRouter().fit(train.X, train.utility(0.0), train.cost)
    P_logger = scenario.logging_probabilities(test)
    ctx = {"seed": seed, "scenario": scenario}
    oracle_value = {cw: test.oracle_value(cw) for cw in grid}

    def record(method, family, cw, decisions, fit_time=0.0, score=np.nan, ci=(np.nan, np.nan),
               fell_back=False):
        value = test.value(decisions, cw)
        result.records.append({
            "scenario": scenario.name, "seed": seed, "cost_weight": cw,
            "method": method, "family": family, "value": value,
            "regret": oracle_value[cw] - value,
            "quality": test.mean_quality(decisions), "cost": test.mean_cost(decisions),
            "fit_time": fit_time, "score": score, "ci_low": ci[0], "ci_high": ci[1],
            "shares": test.shares(decisions) if np.ndim(decisions) == 1 else {},
            "fell_back": fell_back,
        })

    for cw in grid:
        record("oracle", "reference", cw, test.oracle_decisions(cw))
        record("full feedback", "reference", cw, models[full.decisions(test.X, cw)])
        best = test.best_single_model(cw)[0]
        record("best single (hindsight)", "reference", cw,
               np.full(test.n_samples, best, dtype=models.dtype))
        record("logging policy", "reference", cw, P_logger)

    for name, method in methods.items():
        fitted = None
        for cw in grid:
            fit_time = 0.0
            if fitted is None or not method.sweep:
                est = method.make(ctx)
                est.set_params(cost_weight=cw)
                t0 = time.perf_counter()
                fitted = est.fit(logs.X, logs.feedback)
                fit_time = time.perf_counter() - t0
            else:
                fitted.set_params(cost_weight=cw)
            decisions = fitted.predict(test.X)
            score, ci = np.nan, (np.nan, np.nan)
            if name in score_methods and test_logs is not None:
                # the test logs are logs of the same test queries, row for row
                ev = evaluate_policy(
                    decisions, test_logs.X, test_logs.feedback,
                    cost_weight=cw, methods=("dr",), confidence_level=level,
                )
                est_dr = ev.estimates["dr"]
                score, ci = est_dr.value, (est_dr.ci_low, est_dr.ci_high)
            record(name, method.family, cw, decisions, fit_time, score, ci,
                   fell_back=getattr(fitted, "fallback_", None) is not None)

