"""Off-policy evaluation of routers on logged feedback."""

import numpy as np

from ._feedback import _check_same_length, _encode_actions, check_feedback
from ._utility import DoublyRobustUtility, fit_utility_cached

__all__ = ["evaluation_utility", "policy_value"]

_METHODS = ("dr", "dm", "ipw", "snips")


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
    if not (np.isfinite(cost_weight) and cost_weight >= 0):
        raise ValueError(f"cost_weight must be a finite number >= 0; got {cost_weight!r}.")
    fb = check_feedback(y)
    X = np.asarray(X)
    _check_same_length(X, fb)
    utility = fit_utility_cached(evaluation_utility(fb), X, fb)
    pi = _decision_matrix(decisions, utility.classes_, X.shape[0])
    if method in ("dr", "dm"):
        if method == "dm":
            U = utility.outcome_quality_ - cost_weight * utility.outcome_cost_
        else:
            U = utility.utilities(cost_weight)
        return float(np.mean(np.sum(pi * U, axis=1)))
    action = _encode_actions(fb["action"], utility.classes_)
    reward = fb["quality"] - cost_weight * fb["cost"]
    w = pi[np.arange(len(action)), action] / utility.propensity_
    if method == "ipw":
        return float(np.mean(w * reward))
    return float(np.sum(w * reward) / np.sum(w)) if np.sum(w) > 0 else float("nan")
