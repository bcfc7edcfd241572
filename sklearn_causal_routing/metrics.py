"""Evaluation of routers: off-policy value on logs, true value on full feedback, Pareto / AIQ.

Three families of metrics:

- **Off-policy** (logs only, what you have in production): :func:`policy_value`
  and :func:`evaluate_policy` estimate the mean utility of any routing decisions
  on held-out logs by the direct method, IPS, self-normalised IPS and doubly
  robust estimation, the latter with confidence intervals;
  :func:`effective_sample_size` says how many logged rows the estimate is
  really worth.
- **Full feedback** (every model answered every query, e.g. a simulated world or
  a benchmark table): :func:`true_utility`, :func:`oracle_regret`,
  :func:`model_shares`.
- **Cost-quality trade-off**: :func:`pareto_front`, :func:`pareto_hull`,
  :func:`area_under_pareto` / :func:`aiq` (RouterBench's AIQ),
  :func:`pareto_points` and the plot helper :func:`plot_pareto`.
"""

import inspect
import numbers
from dataclasses import dataclass, field
from itertools import pairwise

import numpy as np
from sklearn.utils import Bunch, check_random_state

from ._feedback import _check_same_length, _encode_actions, check_feedback
from ._utility import DoublyRobustUtility, fit_utility_cached

__all__ = [
    "PolicyEvaluation",
    "ValueEstimate",
    "aiq",
    "area_under_pareto",
    "effective_sample_size",
    "evaluate_policy",
    "evaluation_utility",
    "model_shares",
    "oracle_regret",
    "pareto_front",
    "pareto_hull",
    "pareto_points",
    "plot_pareto",
    "policy_value",
    "true_utility",
]

_METHODS = ("dr", "dm", "ipw", "snips")
#: The estimators of :func:`evaluate_policy`, in its default order.
_DEFAULT_METHODS = ("dm", "ipw", "snips", "dr")
_INTERVALS = ("analytic", "bootstrap")
#: Bootstrap resamples drawn at once (bounds memory at chunk * n_samples indices).
_BOOTSTRAP_CHUNK = 64
_PLOT_HINT = 'pip install "sklearn-causal-routing[plot]"'


# --------------------------------------------------------------------------- #
# off-policy evaluation: shared per-row computation
# --------------------------------------------------------------------------- #
def evaluation_utility(y):
    """The fixed utility stage used to score routers on held-out logs.

    The default :class:`DoublyRobustUtility` with ``random_state=0``; unclipped
    when the logs carry their propensities (the estimate is then unbiased),
    clipped at the default percentiles when propensities must be estimated.
    Being fixed, it scores every candidate of a grid search alike.

    Parameters
    ----------
    y : feedback array
        The held-out logs.

    Returns
    -------
    utility : DoublyRobustUtility
        Unfitted.

    Examples
    --------
    >>> from sklearn_causal_routing import make_feedback
    >>> from sklearn_causal_routing.metrics import evaluation_utility
    >>> evaluation_utility(make_feedback([0, 1], [1.0, 0.0], propensity=[0.5, 0.5])).clip
    """
    logged = not np.isnan(np.asarray(y["propensity"], dtype=np.float64)).any()
    return DoublyRobustUtility(clip=None if logged else (5, 95), random_state=0)


def _decision_matrix(decisions, classes, n):
    decisions = np.asarray(decisions)
    if decisions.ndim == 2:
        if decisions.shape != (n, len(classes)):
            raise ValueError(
                f"decisions as routing probabilities must have shape ({n}, "
                f"{len(classes)}) (rows x models of the logs); got {decisions.shape}."
            )
        pi = decisions.astype(np.float64)
        if not np.all(np.isfinite(pi)) or (pi < 0).any() or not np.allclose(pi.sum(axis=1), 1.0, atol=1e-6):
            raise ValueError(
                "decisions as routing probabilities must be finite, non-negative, with "
                "rows summing to 1; got row sums in "
                f"[{np.nanmin(pi.sum(axis=1)):.3g}, {np.nanmax(pi.sum(axis=1)):.3g}] and "
                f"min entry {np.nanmin(pi):.3g}."
            )
        return pi
    if decisions.shape != (n,):
        raise ValueError(
            f"decisions must hold one model label per logged row ({n}); got shape "
            f"{decisions.shape}."
        )
    idx = _encode_actions(decisions, classes, name="decisions")
    out = np.zeros((n, len(classes)))
    out[np.arange(n), idx] = 1.0
    return out


def _check_cost_weight(cost_weight):
    if isinstance(cost_weight, (bool, np.bool_)) or not isinstance(cost_weight, numbers.Real):
        raise TypeError(f"cost_weight must be a finite number >= 0; got {cost_weight!r}.")
    if not (np.isfinite(cost_weight) and cost_weight >= 0):
        raise ValueError(f"cost_weight must be a finite number >= 0; got {cost_weight!r}.")
    return float(cost_weight)


def _check_logs(X, y):
    fb = check_feedback(y)
    X = np.asarray(X)
    _check_same_length(X, fb)
    return X, fb


def _policy_terms(decisions, X, y, cost_weight):
    """Per-row terms of every off-policy estimator, from one fitted evaluation stage.

    Returns a Bunch with, for each logged row ``i`` (``pi`` the routing
    distribution of ``decisions``, ``t_i`` the logged model, ``e_i`` its
    propensity, ``r_i`` the logged utility):

    - ``dm``: ``sum_t pi(t | x_i) mu_t(x_i)`` (cross-fitted outcome models);
    - ``dr``: ``sum_t pi(t | x_i) U_hat[i, t]`` (cross-fitted DR utilities);
    - ``weight``: ``w_i = pi(t_i | x_i) / e_i``;
    - ``reward``: ``r_i = quality_i - cost_weight * cost_i``.

    Every estimator is a mean (or, for SNIPS, a ratio of means) of these.
    """
    cost_weight = _check_cost_weight(cost_weight)
    X, fb = _check_logs(X, y)
    n = X.shape[0]
    # check the decisions before the (costly) fit: the stage's classes_ are these
    pi = _decision_matrix(decisions, np.unique(fb["action"]), n)
    utility = fit_utility_cached(evaluation_utility(fb), X, fb)
    action = _encode_actions(fb["action"], utility.classes_)
    reward = np.asarray(fb["quality"], dtype=np.float64) - cost_weight * np.asarray(
        fb["cost"], dtype=np.float64
    )
    outcome = utility.outcome_quality_ - cost_weight * utility.outcome_cost_
    return Bunch(
        dm=np.sum(pi * outcome, axis=1),
        dr=np.sum(pi * utility.utilities(cost_weight), axis=1),
        weight=pi[np.arange(n), action] / utility.propensity_,
        reward=reward,
        n=n,
    )


def _point_estimate(method, terms):
    if method in ("dm", "dr"):
        return float(np.mean(terms[method]))
    w, r = terms.weight, terms.reward
    if method == "ipw":
        return float(np.mean(w * r))
    total = np.sum(w)
    return float(np.sum(w * r) / total) if total > 0 else float("nan")


def _influence(method, terms, value):
    """Per-row influence terms whose sample mean's standard error is the estimator's."""
    if method in ("dm", "dr"):
        return terms[method]
    w, r = terms.weight, terms.reward
    if method == "ipw":
        return w * r
    # SNIPS = mean(w r) / mean(w); delta method around (mean(w r), mean(w)).
    return w * (r - value) / np.mean(w)


def _bootstrap_replicates(methods, terms, n_bootstrap, random_state):
    """(n_methods, n_bootstrap) estimates on row resamples, nuisances held fixed."""
    rng = check_random_state(random_state)
    n = terms.n
    columns = {
        "dm": terms.dm,
        "dr": terms.dr,
        "ipw": terms.weight * terms.reward,
        "w": terms.weight,
    }
    out = np.empty((len(methods), n_bootstrap))
    for start in range(0, n_bootstrap, _BOOTSTRAP_CHUNK):
        stop = min(start + _BOOTSTRAP_CHUNK, n_bootstrap)
        idx = rng.randint(0, n, size=(stop - start, n))  # the same resamples for all methods
        means = {}
        for j, method in enumerate(methods):
            if method == "snips":
                if "w" not in means:
                    means["w"] = columns["w"][idx].mean(axis=1)
                if "ipw" not in means:
                    means["ipw"] = columns["ipw"][idx].mean(axis=1)
                ratio = np.full(stop - start, np.nan)  # undefined where no weight
                ok = means["w"] > 0
                ratio[ok] = means["ipw"][ok] / means["w"][ok]
                out[j, start:stop] = ratio
            else:
                if method not in means:
                    means[method] = columns[method][idx].mean(axis=1)
                out[j, start:stop] = means[method]
    return out


def _kish(weight):
    total_sq = float(np.sum(weight**2))
    return float(np.sum(weight) ** 2 / total_sq) if total_sq > 0 else 0.0


def _check_methods(methods):
    if isinstance(methods, str):
        methods = (methods,)
    try:
        methods = tuple(methods)
    except TypeError:
        raise TypeError(
            f"methods must be a sequence of estimator names from {_DEFAULT_METHODS}, "
            f"e.g. methods=('dr', 'snips'); got {methods!r}."
        ) from None
    if not methods:
        raise ValueError(
            f"methods must name at least one estimator from {_DEFAULT_METHODS}; got an "
            "empty sequence."
        )
    unknown = [m for m in methods if not isinstance(m, str) or m not in _METHODS]
    if unknown:
        raise ValueError(
            f"methods must be names from {_DEFAULT_METHODS}; got unknown "
            f"{unknown} in {list(methods)}."
        )
    return tuple(dict.fromkeys(methods))  # drop repeats, keep order


def _check_confidence_level(confidence_level):
    if (
        isinstance(confidence_level, (bool, np.bool_))
        or not isinstance(confidence_level, numbers.Real)
        or not 0 < confidence_level < 1
    ):
        raise ValueError(
            "confidence_level must be a number in the open interval (0, 1), e.g. "
            f"confidence_level=0.95; got {confidence_level!r}."
        )
    return float(confidence_level)


def _check_n_bootstrap(n_bootstrap):
    if (
        isinstance(n_bootstrap, (bool, np.bool_))
        or not isinstance(n_bootstrap, numbers.Integral)
        or n_bootstrap < 1
    ):
        raise ValueError(
            "n_bootstrap must be an integer >= 1 (the number of row resamples), e.g. "
            f"n_bootstrap=1000; got {n_bootstrap!r}."
        )
    return int(n_bootstrap)


# --------------------------------------------------------------------------- #
# off-policy evaluation: public API
# --------------------------------------------------------------------------- #
def policy_value(decisions, X, y, *, cost_weight=0.0, method="dr"):
    """Estimate the mean utility a router's decisions would have had on logs.

    Parameters
    ----------
    decisions : array-like of shape (n_samples,) or (n_samples, n_models)
        The model each logged query would be routed to, or routing
        probabilities with columns in the sorted order of the logged models.
    X : array-like of shape (n_samples, n_features)
        Features of the logged queries.
    y : feedback array
        The logged feedback (:func:`make_feedback`).
    cost_weight : float, default=0.0
        Utility is ``quality - cost_weight * cost``.
    method : {"dr", "dm", "ipw", "snips"}, default="dr"
        Doubly robust, direct method (outcome models only), inverse propensity
        scoring, or self-normalised IPS (the IPS sum divided by the sum of the
        matched weights instead of ``n``).

    Returns
    -------
    value : float
        Estimated mean utility per query.

    See Also
    --------
    evaluate_policy : The same estimates with standard errors and confidence
        intervals, and the effective sample size.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_causal_routing import make_feedback
    >>> from sklearn_causal_routing.metrics import policy_value
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(400, 2))
    >>> t = rng.choice(["a", "b"], size=400)
    >>> fb = make_feedback(t, (t == "b") * 1.0, propensity=np.full(400, 0.5))
    >>> round(policy_value(np.full(400, "b"), X, fb), 2)
    1.0
    >>> round(policy_value(np.full(400, "a"), X, fb), 2)
    0.0
    """
    if method not in _METHODS:
        raise ValueError(f"method must be one of {_METHODS}; got {method!r}.")
    return _point_estimate(method, _policy_terms(decisions, X, y, cost_weight))


@dataclass(frozen=True)
class ValueEstimate:
    """One off-policy estimate of a policy's value, with its confidence interval.

    Attributes
    ----------
    method : str
        ``"dm"``, ``"ipw"``, ``"snips"`` or ``"dr"``.
    value : float
        Point estimate of the mean utility per query.
    std_error : float
        Standard error (analytic: from the per-row influence terms; bootstrap:
        the standard deviation of the bootstrap replicates).
    ci_low, ci_high : float
        Bounds of the confidence interval.

    Examples
    --------
    >>> from sklearn_causal_routing.metrics import ValueEstimate
    >>> ValueEstimate("dr", 0.5, 0.01, 0.48, 0.52).ci_high
    0.52
    """

    method: str
    value: float
    std_error: float
    ci_low: float
    ci_high: float

    def to_dict(self):
        """The estimate as a plain dict (JSON-serialisable floats).

        Returns
        -------
        estimate : dict
            Keys ``value``, ``std_error``, ``ci_low``, ``ci_high``.
        """
        return {
            "value": float(self.value),
            "std_error": float(self.std_error),
            "ci_low": float(self.ci_low),
            "ci_high": float(self.ci_high),
        }


@dataclass(frozen=True)
class PolicyEvaluation:
    """What :func:`evaluate_policy` returns: estimates, intervals, overlap.

    Attributes
    ----------
    estimates : dict of str to ValueEstimate
        One entry per requested method, in the requested order.
    effective_sample_size : float
        Kish's effective sample size of the importance weights,
        ``(sum_i w_i)**2 / sum_i w_i**2`` with ``w_i = pi(t_i | x_i) / e_i``.
    n_samples : int
        Number of logged rows.
    mean_weight : float
        The SNIPS normaliser ``sum_i w_i / n`` (expectation 1 with correct
        propensities; far from 1 signals wrong propensities or poor overlap).
    cost_weight : float
        The cost weight of the utility.
    confidence_level : float
        Nominal coverage of the intervals.
    interval : str
        ``"analytic"`` or ``"bootstrap"``.
    n_bootstrap : int or None
        Number of resamples (``None`` for analytic intervals).

    Examples
    --------
    >>> from sklearn_causal_routing.metrics import PolicyEvaluation, ValueEstimate
    >>> res = PolicyEvaluation({"dr": ValueEstimate("dr", 0.5, 0.01, 0.48, 0.52)},
    ...                        effective_sample_size=80.0, n_samples=100)
    >>> res.to_dict()["estimates"]["dr"]["ci_low"]
    0.48
    """

    estimates: dict
    effective_sample_size: float
    n_samples: int
    mean_weight: float = float("nan")
    cost_weight: float = 0.0
    confidence_level: float = 0.95
    interval: str = "analytic"
    n_bootstrap: int = field(default=None)

    def to_dict(self):
        """The evaluation as nested plain dicts (JSON-serialisable).

        Returns
        -------
        result : dict
            ``n_samples``, ``effective_sample_size``, ``mean_weight``,
            ``cost_weight``, ``confidence_level``, ``interval``,
            ``n_bootstrap`` and ``estimates`` (``{method: {"value",
            "std_error", "ci_low", "ci_high"}}``).
        """
        return {
            "n_samples": int(self.n_samples),
            "effective_sample_size": float(self.effective_sample_size),
            "mean_weight": float(self.mean_weight),
            "cost_weight": float(self.cost_weight),
            "confidence_level": float(self.confidence_level),
            "interval": self.interval,
            "n_bootstrap": self.n_bootstrap,
            "estimates": {m: e.to_dict() for m, e in self.estimates.items()},
        }

    def __str__(self):
        pct = f"{100 * self.confidence_level:g}%"
        how = "analytic CI" if self.interval == "analytic" else (
            f"bootstrap CI, {self.n_bootstrap} resamples"
        )
        title = (
            f"Off-policy value per query (cost_weight={self.cost_weight:g}, "
            f"{self.n_samples} logged rows, {pct} {how})"
        )
        lines = [
            title,
            f"{'method':<8}{'value':>11}{'std_error':>11}{'ci_low':>11}{'ci_high':>11}",
        ]
        for m, e in self.estimates.items():
            lines.append(
                f"{m:<8}{e.value:>11.4f}{e.std_error:>11.4f}{e.ci_low:>11.4f}{e.ci_high:>11.4f}"
            )
        lines.append(
            f"effective sample size: {self.effective_sample_size:.1f} of {self.n_samples} "
            f"(mean importance weight {self.mean_weight:.3f})"
        )
        return "\n".join(lines)

    def __repr__(self):
        inner = ", ".join(f"{m}={e.value:.4g}" for m, e in self.estimates.items())
        return (
            f"PolicyEvaluation({inner}, n_samples={self.n_samples}, "
            f"effective_sample_size={self.effective_sample_size:.1f})"
        )


def evaluate_policy(
    decisions,
    X,
    feedback,
    *,
    cost_weight=0.0,
    methods=("dm", "ipw", "snips", "dr"),
    confidence_level=0.95,
    interval="analytic",
    n_bootstrap=1000,
    random_state=None,
):
    """Off-policy value of routing decisions on logs, with confidence intervals.

    Estimates the mean utility ``quality - cost_weight * cost`` per query that
    ``decisions`` would have had on the logged queries, by several estimators,
    each with a standard error and a confidence interval, plus the effective
    sample size of the importance weights. All estimators share one fitted,
    fixed evaluation stage (:func:`evaluation_utility`), the one behind every
    router's ``score``.

    Parameters
    ----------
    decisions : array-like of shape (n_samples,) or (n_samples, n_models)
        The model each logged query would be routed to (labels present in the
        logs), or routing probabilities with columns in the sorted order of
        the logged models (a router's ``predict_proba`` when its ``classes_``
        are the logged models).
    X : array-like of shape (n_samples, n_features)
        Features of the logged queries (held out from the router's training).
    feedback : feedback array
        The logged feedback (:func:`~sklearn_causal_routing.make_feedback`).
    cost_weight : float, default=0.0
        Utility is ``quality - cost_weight * cost``.
    methods : sequence of {"dm", "ipw", "snips", "dr"}, default=("dm", "ipw", "snips", "dr")
        Estimators to report, in this order (a single name is accepted).
    confidence_level : float, default=0.95
        Nominal coverage of the intervals, in (0, 1).
    interval : {"analytic", "bootstrap"}, default="analytic"
        ``"analytic"``: normal approximation from the per-row influence terms
        (delta method for SNIPS). ``"bootstrap"``: percentile interval over
        ``n_bootstrap`` resamples of the rows, the fitted nuisance models held
        fixed (see Notes).
    n_bootstrap : int, default=1000
        Number of bootstrap resamples (used with ``interval="bootstrap"``).
    random_state : int, RandomState instance or None, default=None
        Seed of the bootstrap resamples. (The evaluation stage itself is always
        fitted with ``random_state=0``.)

    Returns
    -------
    result : PolicyEvaluation
        ``result.estimates[method]`` has ``value``, ``std_error``,
        ``ci_low`` and ``ci_high``; ``result.effective_sample_size``,
        ``result.n_samples``, ``result.mean_weight`` (the SNIPS normaliser);
        ``result.to_dict()``; ``print(result)`` shows a table.

    See Also
    --------
    policy_value : A single point estimate (what ``router.score`` returns).
    effective_sample_size : The effective sample size alone.
    true_utility : The true value, when every model's outcome is known.

    Notes
    -----
    With ``pi(t | x)`` the routing distribution of ``decisions``, ``t_i`` the
    logged model of row ``i``, ``e_i`` its propensity (logged, or estimated by
    cross-fitting and clipped), ``r_i = q_i - lambda c_i`` the logged utility,
    ``mu_t`` the cross-fitted outcome models and ``w_i = pi(t_i | x_i) / e_i``:

    .. math::

        \\hat V_{DM} = \\frac1n \\sum_i \\sum_t \\pi(t|x_i)\\,\\hat\\mu_t(x_i), \\qquad
        \\hat V_{IPS} = \\frac1n \\sum_i w_i r_i,

        \\hat V_{SNIPS} = \\frac{\\sum_i w_i r_i}{\\sum_i w_i}, \\qquad
        \\hat V_{DR} = \\frac1n \\sum_i \\Big[\\sum_t \\pi(t|x_i)\\,\\hat\\mu_t(x_i)
        + w_i \\big(r_i - \\hat\\mu_{t_i}(x_i)\\big)\\Big].

    *SNIPS normaliser.* The SNIPS denominator, divided by ``n``, is
    ``mean_weight = sum_i w_i / n``. With the true propensities
    ``E[w_i | x_i] = sum_t pi(t | x_i) = 1`` for any policy (every model the
    policy may choose has ``e_t(x) > 0``), so ``mean_weight`` has expectation
    1, and SNIPS = IPS / ``mean_weight``. For the logging policy itself every
    ``w_i`` is exactly 1.

    *Analytic intervals.* DM, IPS and DR are means of per-row terms ``psi_i``
    (the bracket above for DR, ``w_i r_i`` for IPS, ``sum_t pi mu`` for DM);
    the standard error is ``sd(psi) / sqrt(n)`` (``ddof=1``) and the interval
    ``value +/- z sd(psi) / sqrt(n)``, ``z`` the normal quantile at
    ``(1 + confidence_level) / 2``. SNIPS, a ratio of means, uses the delta
    method: ``psi_i = w_i (r_i - V_SNIPS) / mean_weight``. Cross-fitting makes
    the DR estimate's dependence on the fitted nuisances second order (the
    product of the outcome-model and propensity errors), so its interval is
    asymptotically valid for the population value; it is conservative for the
    value on the logged queries themselves (it includes the variation of
    ``x``). The DM interval reflects sampling variation only, not the
    outcome models' bias, and under-covers when they are misspecified.

    *Bootstrap intervals.* Rows are resampled with replacement and the
    per-row terms re-averaged (the same resamples for every method; SNIPS as
    the ratio of resampled sums); the interval is the percentile interval and
    ``std_error`` the standard deviation of the replicates. The nuisance
    models (outcome models, propensities) are **not refitted per resample**:
    the bootstrap is conditional on the fitted nuisances. Refitting would cost
    ``n_bootstrap`` cross-fitted fits of every outcome and propensity model,
    and a resample with repeated rows breaks cross-fitting (a row's copies
    would land in both the training and the evaluation folds). For DR (and
    IPS with logged propensities) the nuisance error is second order, so the
    conditional bootstrap is asymptotically equivalent to the analytic
    interval; it differs mainly for small or heavy-tailed samples, where the
    percentile interval can be asymmetric.

    Poor overlap shows as an effective sample size far below ``n``: the
    IPS, SNIPS and DR estimates then rest on a few rows with large weights
    and their intervals are unreliable (the normal approximation fails).

    References
    ----------
    .. [1] Dudík, Langford and Li, "Doubly Robust Policy Evaluation and
       Learning", ICML 2011.
    .. [2] Swaminathan and Joachims, "The Self-Normalized Estimator for
       Counterfactual Learning", NeurIPS 2015.
    .. [3] Kish, "Survey Sampling", Wiley, 1965 (effective sample size).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_causal_routing.datasets import RoutingWorld
    >>> from sklearn_causal_routing.metrics import evaluate_policy
    >>> test = RoutingWorld(n_models=3, random_state=0).sample(1000, random_state=1)
    >>> logs = test.log("confounded", random_state=2)
    >>> decisions = np.full(1000, "medium")
    >>> res = evaluate_policy(decisions, logs.X, logs.feedback, cost_weight=0.3)
    >>> list(res.estimates)
    ['dm', 'ipw', 'snips', 'dr']
    >>> dr = res.estimates["dr"]
    >>> bool(dr.ci_low < dr.value < dr.ci_high)
    True
    >>> bool(dr.ci_low < test.value(decisions, cost_weight=0.3) < dr.ci_high)
    True
    >>> res.n_samples, res.effective_sample_size < res.n_samples
    (1000, True)
    """
    methods = _check_methods(methods)
    confidence_level = _check_confidence_level(confidence_level)
    if interval not in _INTERVALS:
        raise ValueError(
            f"interval must be one of {_INTERVALS}; got {interval!r}."
        )
    n_bootstrap = _check_n_bootstrap(n_bootstrap)
    terms = _policy_terms(decisions, X, feedback, cost_weight)
    values = {m: _point_estimate(m, terms) for m in methods}
    alpha = 1.0 - confidence_level
    estimates = {}
    if interval == "analytic":
        from scipy.stats import norm

        z = float(norm.ppf(1.0 - alpha / 2))
        for m in methods:
            if terms.n > 1 and np.isfinite(values[m]):
                se = float(np.std(_influence(m, terms, values[m]), ddof=1) / np.sqrt(terms.n))
            else:
                se = float("nan")
            estimates[m] = ValueEstimate(m, values[m], se, values[m] - z * se, values[m] + z * se)
    else:
        reps = _bootstrap_replicates(methods, terms, n_bootstrap, random_state)
        for j, m in enumerate(methods):
            r = reps[j][np.isfinite(reps[j])]
            if r.size == 0:
                se = lo = hi = float("nan")
            else:
                se = float(np.std(r, ddof=1)) if r.size > 1 else 0.0
                lo, hi = (float(v) for v in np.quantile(r, [alpha / 2, 1 - alpha / 2]))
            estimates[m] = ValueEstimate(m, values[m], se, lo, hi)
    return PolicyEvaluation(
        estimates=estimates,
        effective_sample_size=_kish(terms.weight),
        n_samples=int(terms.n),
        mean_weight=float(np.mean(terms.weight)),
        cost_weight=float(cost_weight),
        confidence_level=confidence_level,
        interval=interval,
        n_bootstrap=n_bootstrap if interval == "bootstrap" else None,
    )


def effective_sample_size(decisions, X, feedback):
    """Kish's effective sample size of a policy's importance weights on logs.

    How many logged rows an importance-weighted estimate of ``decisions``'
    value is worth: ``n`` when the policy is the logging policy (all weights
    1), far less when the policy picks models the logger rarely chose.

    Parameters
    ----------
    decisions : array-like of shape (n_samples,) or (n_samples, n_models)
        As in :func:`evaluate_policy`.
    X : array-like of shape (n_samples, n_features)
        Features of the logged queries (used to estimate the propensities
        when the logs did not record them).
    feedback : feedback array
        The logged feedback.

    Returns
    -------
    ess : float
        ``(sum_i w_i)**2 / sum_i w_i**2`` with ``w_i = pi(t_i | x_i) / e_i``;
        0 when the policy never chooses a logged model.

    Notes
    -----
    ``e_i`` is the propensity the evaluation stage uses
    (:func:`evaluation_utility`): the logged one when the feedback records
    propensities (then no model is fitted), else the cross-fitted, clipped
    estimate. The ESS lies in ``[0, n]``; ``n / ESS = 1 + cv(w)**2``, with
    ``cv`` the coefficient of variation of the weights.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_causal_routing import make_feedback
    >>> from sklearn_causal_routing.metrics import effective_sample_size
    >>> fb = make_feedback(["a", "b", "a", "b"], [1.0, 0.0, 1.0, 0.0],
    ...                    propensity=[0.5, 0.5, 0.5, 0.5])
    >>> X = np.zeros((4, 1))
    >>> effective_sample_size(np.full((4, 2), 0.5), X, fb)   # the logging policy
    4.0
    >>> effective_sample_size(np.full(4, "a"), X, fb)         # half the rows count
    2.0
    """
    X, fb = _check_logs(X, feedback)
    logged = np.asarray(fb["propensity"], dtype=np.float64)
    if np.isnan(logged).any():
        return _kish(_policy_terms(decisions, X, fb, 0.0).weight)
    classes = np.unique(fb["action"])
    n = X.shape[0]
    pi = _decision_matrix(decisions, classes, n)
    action = _encode_actions(fb["action"], classes)
    # as DoublyRobustUtility uses logged propensities (unclipped)
    e = np.clip(logged, np.finfo(np.float64).tiny, 1.0)
    return _kish(pi[np.arange(n), action] / e)


# --------------------------------------------------------------------------- #
# full feedback: the known truth
# --------------------------------------------------------------------------- #
def _routed_mean(P, values):
    """Mean over rows of ``sum_k P[i, k] * values[i, k]``: THE value computation.

    Shared by :func:`true_utility`, :func:`oracle_regret`,
    :class:`~sklearn_causal_routing.datasets.RoutingTable` and
    :func:`pareto_points`; inputs are validated by the callers.
    """
    return float(np.mean(np.sum(P * values, axis=1)))


def _oracle_mean(utility):
    """Mean over rows of ``max_k utility[i, k]`` (the per-query oracle)."""
    return float(utility.max(axis=1).mean())


def _regret(P, utility):
    """Oracle value minus the value of ``P``, on a validated (n, K) utility."""
    return _oracle_mean(utility) - _routed_mean(P, utility)


def _shares(P, labels):
    """``{label: share of calls}`` of a validated routing matrix."""
    return dict(zip(labels, P.mean(axis=0).tolist()))


def _full_feedback_matrix(values, name, shape=None):
    try:
        arr = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(
            f"{name} must be a numeric (n_samples, n_models) matrix; got "
            f"{type(values).__name__}."
        ) from None
    if arr.ndim != 2 or arr.size == 0:
        raise ValueError(
            f"{name} must be a non-empty 2-D (n_samples, n_models) matrix, one column "
            f"per model; got shape {arr.shape}."
        )
    if shape is not None and arr.shape != shape:
        raise ValueError(
            f"{name} must have the shape of quality, {shape}; got shape {arr.shape}."
        )
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite; got {int(np.sum(~np.isfinite(arr)))} NaN or infinite values.")
    return arr


def _column_labels(classes, k):
    if classes is None:
        return np.arange(k)
    labels = np.asarray(classes)
    if labels.shape != (k,):
        raise ValueError(
            f"classes must give one model label per column ({k}); got "
            f"{labels.shape[0] if labels.ndim == 1 else labels.shape} labels."
        )
    if len(np.unique(labels)) != k:
        raise ValueError(f"classes must be unique labels; got {labels.tolist()}.")
    return labels


def _routing_matrix(decisions, labels, n):
    """(n, K) routing matrix from labels (of ``labels``) or a row-stochastic matrix."""
    decisions = np.asarray(decisions)
    k = len(labels)
    if decisions.ndim == 2:
        if decisions.shape != (n, k):
            raise ValueError(
                f"decisions as routing probabilities must have shape ({n}, {k}), one "
                f"column per model; got {decisions.shape}."
            )
        return _decision_matrix(decisions, labels, n)
    if decisions.ndim != 1 or decisions.shape[0] != n:
        raise ValueError(
            f"decisions must hold one model label per row ({n}) or routing "
            f"probabilities of shape ({n}, {k}); got shape {decisions.shape}."
        )
    order = np.argsort(labels, kind="stable")
    try:
        idx = _encode_actions(decisions, labels[order], name="decisions")
    except (TypeError, ValueError) as exc:
        if isinstance(exc, ValueError) and "decisions contains" not in str(exc):
            raise
        unknown = np.setdiff1d(np.unique(decisions.astype(str)), labels.astype(str))
        raise ValueError(
            f"decisions contains model label(s) {unknown[:5].tolist()} that are not "
            f"among the column labels {labels.tolist()}; pass classes=[...] naming the "
            "model of each column (without classes, labels are column indices)."
        ) from None
    out = np.zeros((n, k))
    out[np.arange(n), order[idx]] = 1.0
    return out


def _full_feedback(decisions, quality, cost, cost_weight, classes):
    quality = _full_feedback_matrix(quality, "quality")
    cost = _full_feedback_matrix(cost, "cost", shape=quality.shape)
    cost_weight = _check_cost_weight(cost_weight)
    labels = _column_labels(classes, quality.shape[1])
    P = _routing_matrix(decisions, labels, quality.shape[0])
    return P, quality - cost_weight * cost


def true_utility(decisions, quality, cost, *, cost_weight=0.0, classes=None):
    """True mean utility of routing decisions when every model's outcome is known.

    Parameters
    ----------
    decisions : array-like of shape (n_samples,) or (n_samples, n_models)
        The model of each query (labels from ``classes``), or routing
        probabilities with one column per column of ``quality``.
    quality : array-like of shape (n_samples, n_models)
        Quality of every model on every query (full feedback; expected
        quality where known, as in a simulated world).
    cost : array-like of shape (n_samples, n_models)
        Cost of every call.
    cost_weight : float, default=0.0
        Utility is ``quality - cost_weight * cost``.
    classes : array-like of shape (n_models,), default=None
        Model label of each column. ``None``: columns are labelled
        ``0 ... n_models - 1`` (decisions are column indices).

    Returns
    -------
    value : float
        ``mean_i sum_k P[i, k] (quality[i, k] - cost_weight * cost[i, k])``.

    See Also
    --------
    RoutingTable.value : The same on a routing table.

    Examples
    --------
    >>> from sklearn_causal_routing.metrics import true_utility
    >>> quality, cost = [[1.0, 0.0], [0.0, 1.0]], [[1.0, 0.1], [1.0, 0.1]]
    >>> true_utility(["big", "big"], quality, cost, classes=["big", "small"])
    0.5
    >>> true_utility([0, 1], quality, cost, cost_weight=0.5)
    0.7
    """
    P, utility = _full_feedback(decisions, quality, cost, cost_weight, classes)
    return _routed_mean(P, utility)


def oracle_regret(decisions, quality, cost, *, cost_weight=0.0, classes=None):
    """Regret of routing decisions against the per-query oracle (full feedback).

    Parameters
    ----------
    decisions : array-like of shape (n_samples,) or (n_samples, n_models)
        As in :func:`true_utility`.
    quality : array-like of shape (n_samples, n_models)
        Quality of every model on every query.
    cost : array-like of shape (n_samples, n_models)
        Cost of every call.
    cost_weight : float, default=0.0
        Utility is ``quality - cost_weight * cost``.
    classes : array-like of shape (n_models,), default=None
        As in :func:`true_utility`.

    Returns
    -------
    regret : float
        ``mean_i max_k U[i, k] - true_utility(decisions, ...)`` with
        ``U = quality - cost_weight * cost``; >= 0, and 0 exactly for the
        oracle's decisions.

    Examples
    --------
    >>> from sklearn_causal_routing.metrics import oracle_regret
    >>> oracle_regret([0, 0], [[1.0, 0.0], [0.0, 1.0]], [[0.0, 0.0], [0.0, 0.0]])
    0.5
    """
    P, utility = _full_feedback(decisions, quality, cost, cost_weight, classes)
    return _regret(P, utility)


def model_shares(decisions, classes):
    """Share of calls each model gets under routing decisions.

    Parameters
    ----------
    decisions : array-like of shape (n_samples,) or (n_samples, n_models)
        Model labels from ``classes``, or routing probabilities with columns
        in the order of ``classes`` (then expected shares).
    classes : array-like of shape (n_models,)
        The model labels (every model, used or not).

    Returns
    -------
    shares : dict
        ``{label: share}`` in ``classes`` order, summing to 1 (0.0 for a
        model never chosen).

    Examples
    --------
    >>> from sklearn_causal_routing.metrics import model_shares
    >>> model_shares(["a", "b", "b", "b"], ["a", "b", "c"])
    {'a': 0.25, 'b': 0.75, 'c': 0.0}
    """
    labels = np.asarray(classes)
    if labels.ndim != 1 or labels.size == 0:
        raise ValueError(
            f"classes must be a non-empty 1-D sequence of model labels; got shape {labels.shape}."
        )
    labels = _column_labels(labels, labels.shape[0])
    decisions = np.asarray(decisions)
    if decisions.ndim not in (1, 2) or decisions.shape[0] == 0:
        raise ValueError(
            "decisions must be non-empty model labels of shape (n_samples,) or routing "
            f"probabilities of shape (n_samples, {labels.shape[0]}); got shape {decisions.shape}."
        )
    P = _routing_matrix(decisions, labels, decisions.shape[0])
    return _shares(P, labels.tolist())


# --------------------------------------------------------------------------- #
# cost-quality trade-off: Pareto front and AIQ
# --------------------------------------------------------------------------- #
def _check_points(costs, qualities):
    arrays = []
    for name, values in (("costs", costs), ("qualities", qualities)):
        try:
            arr = np.asarray(values, dtype=np.float64)
        except (TypeError, ValueError):
            raise TypeError(
                f"{name} must be a 1-D array of numbers; got {type(values).__name__}."
            ) from None
        if arr.ndim != 1:
            raise ValueError(f"{name} must be 1-D (one entry per point); got shape {arr.shape}.")
        arrays.append(arr)
    c, q = arrays
    if c.shape != q.shape:
        raise ValueError(
            "costs and qualities must have the same length (one (cost, quality) pair per "
            f"point); got {c.shape[0]} costs and {q.shape[0]} qualities."
        )
    if c.size == 0:
        raise ValueError("costs and qualities are empty; need at least one (cost, quality) point.")
    for name, arr in (("costs", c), ("qualities", q)):
        bad = ~np.isfinite(arr)
        if bad.any():
            raise ValueError(
                f"{name} must be finite; got {int(bad.sum())} NaN or infinite value(s), "
                f"first at index {int(np.flatnonzero(bad)[0])}."
            )
    return c, q


def _front_index(c, q):
    """Indices of the non-dominated points, by increasing cost (and quality)."""
    order = np.lexsort((-q, c))  # cost ascending, then quality descending
    keep = []
    best = -np.inf
    for i in order:
        if q[i] > best:
            keep.append(i)
            best = q[i]
    return np.asarray(keep, dtype=np.intp)


def pareto_front(costs, qualities, *, return_index=False):
    """The non-dominated (cost, quality) points: no other point is cheaper and better.

    Parameters
    ----------
    costs : array-like of shape (n_points,)
        Mean cost of each point (e.g. a router at one cost weight).
    qualities : array-like of shape (n_points,)
        Mean quality of each point.
    return_index : bool, default=False
        Also return the indices of the front's points in the inputs.

    Returns
    -------
    front_costs : ndarray of shape (n_front,)
        Costs of the front, increasing.
    front_qualities : ndarray of shape (n_front,)
        Qualities of the front, strictly increasing.
    index : ndarray of int of shape (n_front,)
        Only with ``return_index=True``.

    Notes
    -----
    Point ``j`` dominates point ``i`` when ``cost_j <= cost_i`` and
    ``quality_j >= quality_i`` with one inequality strict. Of several
    identical points, the first is kept. Along the front, cost and quality
    both increase strictly: paying more is only on the front if it buys
    quality.

    Examples
    --------
    >>> from sklearn_causal_routing.metrics import pareto_front
    >>> pareto_front([1.0, 2.0, 3.0, 2.5], [0.5, 0.7, 0.6, 0.9])
    (array([1. , 2. , 2.5]), array([0.5, 0.7, 0.9]))
    """
    c, q = _check_points(costs, qualities)
    idx = _front_index(c, q)
    if return_index:
        return c[idx], q[idx], idx
    return c[idx], q[idx]


def pareto_hull(costs, qualities):
    """The non-decreasing concave hull of (cost, quality) points (RouterBench's NDCH).

    The best quality reachable at each cost by the points *and random mixtures
    of them* (routing a fraction of queries by one, the rest by another gives
    every point on the segment between them).

    Parameters
    ----------
    costs : array-like of shape (n_points,)
        Mean cost of each point.
    qualities : array-like of shape (n_points,)
        Mean quality of each point.

    Returns
    -------
    hull_costs : ndarray of shape (n_hull,)
        Vertices of the hull, increasing cost.
    hull_qualities : ndarray of shape (n_hull,)
        Their qualities, strictly increasing; the hull is the piecewise-linear
        interpolation between them, flat at the last quality beyond.

    Notes
    -----
    The upper concave hull of the Pareto front (:func:`pareto_front`): starts
    at the cheapest point (the best of the cheapest, on ties) and ends at the
    point of highest quality; every vertex is a point of the input.

    Examples
    --------
    >>> from sklearn_causal_routing.metrics import pareto_hull
    >>> pareto_hull([0.0, 1.0, 2.0], [0.0, 0.2, 1.0])   # (1, 0.2) is under the chord
    (array([0., 2.]), array([0., 1.]))
    """
    c, q = _check_points(costs, qualities)
    idx = _front_index(c, q)
    hull = []
    for i in idx:  # Andrew's monotone chain, upper part (x increasing, keep right turns)
        while len(hull) >= 2:
            a, b = hull[-2], hull[-1]
            cross = (c[b] - c[a]) * (q[i] - q[a]) - (q[b] - q[a]) * (c[i] - c[a])
            if cross >= 0:  # b is on or below the chord a -> i
                hull.pop()
            else:
                break
        hull.append(i)
    hull = np.asarray(hull, dtype=np.intp)
    return c[hull], q[hull]


def _check_cost_range(cost_range):
    try:
        lo, hi = (float(v) for v in cost_range)
    except (TypeError, ValueError):
        raise ValueError(
            "cost_range must be None or a pair (c_min, c_max) of finite numbers with "
            f"c_min <= c_max, e.g. cost_range=(0.0, 2.5); got {cost_range!r}."
        ) from None
    if not (np.isfinite(lo) and np.isfinite(hi) and lo <= hi):
        raise ValueError(
            "cost_range must be a pair (c_min, c_max) of finite numbers with c_min <= "
            f"c_max; got {cost_range!r}."
        )
    return lo, hi


def area_under_pareto(costs, qualities, *, cost_range=None, normalize=True):
    """Area under the non-decreasing concave hull of (cost, quality) points: AIQ.

    RouterBench's *Average Improvement in Quality* (Hu et al., 2024) of a
    router evaluated at several settings (e.g. a sweep of cost weights), each
    giving one (mean cost, mean quality) point.

    Parameters
    ----------
    costs : array-like of shape (n_points,)
        Mean cost per query of each point.
    qualities : array-like of shape (n_points,)
        Mean quality per query of each point.
    cost_range : tuple of (float, float) or None, default=None
        The cost interval ``[c_min, c_max]`` integrated over. ``None`` uses the
        points' own range. To compare routers, give them all the same range
        (e.g. from the cheapest to the most expensive single model).
    normalize : bool, default=True
        Divide the area by ``c_max - c_min`` (the AIQ, on the scale of
        quality); ``False`` returns the raw area.

    Returns
    -------
    area : float
        With ``normalize=True``, the mean hull quality over the cost range.

    Notes
    -----
    With ``h`` the non-decreasing concave hull of the points
    (:func:`pareto_hull`: the upper concave hull of the Pareto front, the
    qualities reachable by mixing the points at random),

    .. math::

        \\mathrm{AIQ} = \\frac{1}{c_{\\max} - c_{\\min}}
        \\int_{c_{\\min}}^{c_{\\max}} \\tilde h(c)\\, dc,

    where ``h~`` equals ``h`` (linear between hull vertices) on the points'
    cost range ``[c_0, c_last]``, stays flat at the highest quality beyond
    ``c_last`` (paying more can always buy the best point), and is **0 below
    the cheapest point** ``c_0`` (the router cannot operate that cheaply), as
    in RouterBench's reference code, which integrates each router's hull from
    its cheapest point and divides by the full range. A router that never
    reaches the cheap end of a common cost range is thereby penalised; put
    qualities on a scale where 0 is "no answer" (e.g. accuracy) when using a
    common range. The integral is exact (trapezoids between vertices). With a
    zero-width range (``c_min == c_max``, e.g. a single point and
    ``cost_range=None``) the normalised value is ``h~(c_min)``, the limit of
    the mean, and the raw area is 0.

    References
    ----------
    .. [1] Hu, Bieker, Li, Jiang, Zhang, Kadlec and Lim, "RouterBench: A
       Benchmark for Multi-LLM Routing System", arXiv:2403.12031, 2024.

    Examples
    --------
    >>> from sklearn_causal_routing.metrics import area_under_pareto
    >>> area_under_pareto([0.0, 1.0], [0.0, 1.0])            # a diagonal: mean 0.5
    0.5
    >>> area_under_pareto([0.0, 1.0], [0.0, 1.0], cost_range=(0.0, 2.0))  # flat beyond
    0.75
    >>> area_under_pareto([1.0], [0.8], cost_range=(0.0, 2.0))   # 0 below its cost
    0.4
    """
    hc, hq = pareto_hull(costs, qualities)
    if cost_range is None:
        c = np.asarray(costs, dtype=np.float64)  # validated by pareto_hull
        lo, hi = float(c.min()), float(c.max())
    else:
        lo, hi = _check_cost_range(cost_range)

    def h(c):
        return np.where(c < hc[0], 0.0, np.interp(c, hc, hq))

    if hi == lo:
        return float(h(np.asarray([lo]))[0]) if normalize else 0.0
    # breakpoints: the range ends and hull vertices strictly inside
    inner = hc[(hc > lo) & (hc < hi)]
    xs = np.concatenate([[lo], inner, [hi]])
    area = 0.0
    for a, b in pairwise(xs):
        if b <= hc[0]:
            continue  # 0 below the cheapest point
        a = max(a, hc[0])
        ya, yb = np.interp([a, b], hc, hq)
        area += 0.5 * (ya + yb) * (b - a)
    return float(area / (hi - lo)) if normalize else float(area)


def aiq(costs, qualities, *, cost_range=None):
    """RouterBench's AIQ: the normalised area under the non-decreasing concave hull.

    Same as ``area_under_pareto(costs, qualities, cost_range=cost_range)``;
    see :func:`area_under_pareto` for the definition.

    Parameters
    ----------
    costs : array-like of shape (n_points,)
        Mean cost per query of each point.
    qualities : array-like of shape (n_points,)
        Mean quality per query of each point.
    cost_range : tuple of (float, float) or None, default=None
        The cost interval integrated over; ``None``: the points' own range.

    Returns
    -------
    aiq : float
        Mean hull quality over the cost range.

    Examples
    --------
    >>> from sklearn_causal_routing.metrics import aiq
    >>> aiq([0.0, 0.5, 1.0], [0.2, 0.8, 0.9])
    0.675
    """
    return area_under_pareto(costs, qualities, cost_range=cost_range, normalize=True)


def _predict_accepts_cost_weight(router):
    try:
        return "cost_weight" in inspect.signature(router.predict).parameters
    except (TypeError, ValueError):
        return False


def pareto_points(router, X, quality, cost, cost_weights, *, classes=None, fit=None):
    """(mean cost, mean quality) of a router's decisions at each of several cost weights.

    The true trade-off curve of a router on a full-feedback table, the input
    of :func:`pareto_front`, :func:`aiq` and :func:`plot_pareto`.

    Parameters
    ----------
    router : router, callable or sequence of routers
        How to get decisions at a cost weight ``w``, tried in this order:

        - ``fit=(X_train, y_train)`` given: ``clone(router).set_params(
          cost_weight=w).fit(X_train, y_train).predict(X)`` (any router);
        - an object with ``predict_sweep(X, cost_weights)``
          (:class:`IntervalRouter`): one pass for every weight;
        - an object whose ``predict`` takes ``cost_weight``:
          ``router.predict(X, cost_weight=w)``;
        - a callable ``router(w)`` returning the decisions for ``X``;
        - a sequence of fitted routers, one per cost weight:
          ``router[j].predict(X)``.
    X : array-like of shape (n_samples, n_features)
        Query features of the table.
    quality : array-like of shape (n_samples, n_models)
        True quality of every model on every query.
    cost : array-like of shape (n_samples, n_models)
        Cost of every call.
    cost_weights : array-like of shape (n_weights,)
        Cost weights to sweep.
    classes : array-like of shape (n_models,), default=None
        Model label of each column of ``quality`` and ``cost`` (e.g. a
        table's ``models``), against which the decisions' labels are matched.
        ``None``: columns are labelled ``0 ... n_models - 1``. (A router's
        ``classes_`` are sorted, a table's columns need not be: pass the
        table's labels.)
    fit : tuple (X_train, y_train) or None, default=None
        Training data to refit a clone of ``router`` at each cost weight, for
        routers trained for one cost weight (e.g. :class:`RegretRouter`).

    Returns
    -------
    costs : ndarray of shape (n_weights,)
        Mean cost per query at each cost weight.
    qualities : ndarray of shape (n_weights,)
        Mean quality per query at each cost weight.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_causal_routing.metrics import pareto_points
    >>> quality = np.array([[0.2, 0.9], [0.6, 0.7]])
    >>> cost = np.array([[0.1, 1.0], [0.1, 1.0]])
    >>> oracle = lambda w: np.argmax(quality - w * cost, axis=1)   # decisions at w
    >>> pareto_points(oracle, None, quality, cost, [0.0, 0.5, 10.0])
    (array([1.  , 0.55, 0.1 ]), array([0.8 , 0.75, 0.4 ]))
    """
    quality = _full_feedback_matrix(quality, "quality")
    cost = _full_feedback_matrix(cost, "cost", shape=quality.shape)
    try:
        weights = np.asarray(cost_weights, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"cost_weights must be a 1-D array of numbers; got {cost_weights!r}.") from None
    if weights.ndim != 1 or weights.size == 0 or not np.all(np.isfinite(weights)) or (weights < 0).any():
        raise ValueError(
            "cost_weights must be a non-empty 1-D array of finite numbers >= 0; got "
            f"{cost_weights!r}."
        )
    labels = _column_labels(classes, quality.shape[1])
    n = quality.shape[0]

    if fit is not None:
        from sklearn.base import clone

        X_train, y_train = fit
        decisions = [
            clone(router).set_params(cost_weight=float(w)).fit(X_train, y_train).predict(X)
            for w in weights
        ]
    elif hasattr(router, "predict_sweep"):
        decisions = list(router.predict_sweep(X, weights))
    elif hasattr(router, "predict") and _predict_accepts_cost_weight(router):
        decisions = [router.predict(X, cost_weight=float(w)) for w in weights]
    elif isinstance(router, (list, tuple)):
        if len(router) != weights.size:
            raise ValueError(
                f"router as a sequence must hold one fitted router per cost weight "
                f"({weights.size}); got {len(router)}."
            )
        decisions = [r.predict(X) for r in router]
    elif callable(router) and not hasattr(router, "predict"):
        decisions = [router(float(w)) for w in weights]
    else:
        raise TypeError(
            f"Cannot sweep cost weights with {type(router).__name__}: its predict takes no "
            "cost_weight and its decisions were trained for one cost weight. Refit it per "
            "weight with pareto_points(router, X, quality, cost, cost_weights, "
            "fit=(X_train, feedback_train)), or pass a callable cost_weight -> decisions "
            "or one fitted router per cost weight."
        )
    costs, qualities = np.empty(weights.size), np.empty(weights.size)
    for j, d in enumerate(decisions):
        P = _routing_matrix(d, labels, n)
        costs[j] = _routed_mean(P, cost)
        qualities[j] = _routed_mean(P, quality)
    return costs, qualities


def plot_pareto(points_by_name, ax=None, *, hull=True, cost_range=None, annotate=True):
    """Plot routers' (cost, quality) points and their hulls, one colour each.

    Parameters
    ----------
    points_by_name : dict
        ``{name: (costs, qualities)}``, e.g. from :func:`pareto_points`; a
        single model is a one-point entry.
    ax : matplotlib Axes, default=None
        Where to draw; ``None`` uses the current axes.
    hull : bool, default=True
        Draw each entry's non-decreasing concave hull (:func:`pareto_hull`)
        as a dashed line.
    cost_range : tuple of (float, float) or None, default=None
        Cost range of the AIQ in the legend; ``None``: the range of all
        points together (a common range, so the AIQs are comparable).
    annotate : bool, default=True
        Show each entry's AIQ in the legend.

    Returns
    -------
    ax : matplotlib Axes

    Notes
    -----
    Requires matplotlib: ``pip install "sklearn-causal-routing[plot]"``.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from sklearn_causal_routing.metrics import plot_pareto
    >>> ax = plot_pareto({"router": ([0.1, 0.5, 1.0], [0.5, 0.8, 0.85]),
    ...                   "large": ([1.0], [0.8])})
    >>> ax.get_xlabel()
    'mean cost per query'
    """
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            f"plot_pareto needs matplotlib, which is not installed; {_PLOT_HINT}"
        ) from exc
    if not isinstance(points_by_name, dict) or not points_by_name:
        raise ValueError(
            "points_by_name must be a non-empty dict {name: (costs, qualities)}; got "
            f"{type(points_by_name).__name__}."
        )
    checked = {}
    for name, pts in points_by_name.items():
        try:
            c, q = pts
        except (TypeError, ValueError):
            raise ValueError(
                f"points_by_name[{name!r}] must be a pair (costs, qualities); got {pts!r}."
            ) from None
        checked[name] = _check_points(np.atleast_1d(c), np.atleast_1d(q))
    if cost_range is None:
        all_c = np.concatenate([c for c, _ in checked.values()])
        cost_range = (float(all_c.min()), float(all_c.max()))
    if ax is None:
        ax = plt.gca()
    for name, (c, q) in checked.items():
        label = str(name)
        if annotate:
            label = f"{label} (AIQ {aiq(c, q, cost_range=cost_range):.3f})"
        (line,) = ax.plot(c, q, "o", label=label)
        if hull and c.size > 1:
            hc, hq = pareto_hull(c, q)
            hc = np.append(hc, max(cost_range[1], hc[-1]))
            hq = np.append(hq, hq[-1])
            ax.plot(hc, hq, "--", color=line.get_color(), alpha=0.7)
    ax.set_xlabel("mean cost per query")
    ax.set_ylabel("mean quality")
    ax.legend()
    return ax
