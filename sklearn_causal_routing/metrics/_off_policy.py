"""Off-policy evaluation: the value of routing decisions estimated from logs.

:func:`policy_value` and :func:`evaluate_policy` estimate the mean utility of
any routing decisions on held-out logs by the direct method, IPS,
self-normalised IPS and doubly robust estimation, the latter with confidence
intervals; :func:`effective_sample_size` says how many logged rows the
estimate is really worth. All share one fitted evaluation stage
(:func:`evaluation_utility`).
"""

import numbers
from dataclasses import dataclass, field

import numpy as np
from sklearn.utils import Bunch, check_random_state

from .._feedback import check_feedback, records_propensities
from .._utility import DoublyRobustUtility, fit_utility_cached
from ..utils._stats import kish_ess
from ..utils.validation import (
    check_cost_weight,
    check_same_length,
    decision_matrix,
    encode_labels,
    reject_dask,
)

__all__ = [
    "PolicyEvaluation",
    "ValueEstimate",
    "effective_sample_size",
    "evaluate_policy",
    "evaluation_utility",
    "policy_value",
]


_METHODS = ("dr", "dm", "ipw", "snips")
#: The estimators of :func:`evaluate_policy`, in its default order.
_DEFAULT_METHODS = ("dm", "ipw", "snips", "dr")
_INTERVALS = ("analytic", "bootstrap")
#: Bootstrap resamples drawn at once (bounds memory at chunk * n_samples indices).
_BOOTSTRAP_CHUNK = 64

#: What the models of held-out logs are, for the unknown-label error: decisions
#: can only be valued for models the held-out logs served.
_HELD_OUT = (
    "the models served in the held-out logs being evaluated (a model they never "
    "served cannot be valued from them)"
)


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
    return DoublyRobustUtility(clip=None if records_propensities(y) else (5, 95), random_state=0)


def _check_logs(X, y):
    reject_dask("off-policy evaluation", X=X, y=y)
    fb = check_feedback(y)
    X = np.asarray(X)
    check_same_length(X, fb)
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
    cost_weight = check_cost_weight(cost_weight)
    X, fb = _check_logs(X, y)
    n = X.shape[0]
    # check the decisions before the (costly) fit: the stage's classes_ are these
    pi = decision_matrix(decisions, np.unique(fb["action"]), n, known=_HELD_OUT)
    utility = fit_utility_cached(evaluation_utility(fb), X, fb)
    action = encode_labels(fb["action"], utility.classes_)
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
        effective_sample_size=kish_ess(terms.weight),
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
        return kish_ess(_policy_terms(decisions, X, fb, 0.0).weight)
    classes = np.unique(fb["action"])
    n = X.shape[0]
    pi = decision_matrix(decisions, classes, n, known=_HELD_OUT)
    action = encode_labels(fb["action"], classes)
    # as DoublyRobustUtility uses logged propensities (unclipped)
    e = np.clip(logged, np.finfo(np.float64).tiny, 1.0)
    return kish_ess(pi[np.arange(n), action] / e)
