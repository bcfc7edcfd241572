"""Routing with exploration: the mixed routing distribution, its draw and its propensities.

A router's own decision is deterministic (the best-scored model), so logs of
it alone show every model only where it wins and the next fit has no overlap.
:func:`route_scores` mixes that decision with uniform exploration over the
pool and fixed traffic shares for named models (a new model included), draws
one model per query and returns the probability of each draw: the propensity
the next round's logs record, which makes the next fit unbiased by
construction. :meth:`RouterMixin.route <sklearn_causal_routing.base.RouterMixin.route>`
is the user-facing method built on it.
"""

import numbers
from collections.abc import Mapping
from typing import NamedTuple

import numpy as np
from sklearn.utils import check_random_state

from .utils.validation import describe

__all__ = [
    "Routes",
    "check_routing",
    "mix_routing",
    "route_scores",
    "sample_routes",
]


class Routes(NamedTuple):
    """What :meth:`RouterMixin.route` returns: one drawn model per query, with its probability.

    Attributes
    ----------
    model : ndarray of shape (n_samples,)
        The model each query is routed to (labels from ``pool``).
    propensity : ndarray of shape (n_samples,)
        The probability with which that model was drawn, in (0, 1]: record it
        in the log as the row's ``propensity``.
    proba : ndarray of shape (n_samples, n_pool)
        The whole routing distribution of each query; columns follow ``pool``.
    pool : ndarray of shape (n_pool,)
        The models routed to, in column order.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_causal_routing._exploration import route_scores
    >>> routes = route_scores([[2.0, 1.0]], np.array(["a", "b"]), exploration=0.2,
    ...                       random_state=0)
    >>> routes.proba, routes.pool
    (array([[0.9, 0.1]]), array(['a', 'b'], dtype='<U1'))
    """

    model: np.ndarray
    propensity: np.ndarray
    proba: np.ndarray
    pool: np.ndarray


def _is_number(value):
    return isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))


def _check_fraction(value, name):
    if not _is_number(value) or not np.isfinite(value) or not 0 <= value < 1:
        raise ValueError(f"{name} must be a number in [0, 1); got {describe(value)}.")
    return float(value)


def _label_kind(classes):
    """'str', 'int' or None (any label) for labels of the dtype of ``classes``."""
    kind = np.asarray(classes).dtype.kind
    if kind in "US":
        return "str"
    if kind in "iu":
        return "int"
    return None


def _check_label(label, kind, name, classes):
    if kind == "str":
        ok = isinstance(label, (str, np.str_))
    elif kind == "int":
        ok = isinstance(label, (numbers.Integral, np.integer)) and not isinstance(
            label, (bool, np.bool_))
    else:
        ok = True
    if not ok:
        raise TypeError(
            f"{name} must name models by labels of the type of the router's classes_ "
            f"({kind}, e.g. {np.asarray(classes)[0].item()!r}); got {label!r} of type "
            f"{type(label).__name__}."
        )
    return label.item() if isinstance(label, np.generic) else label


def check_routing(classes, *, exploration=0.0, shares=None, pool=None):
    """Validate the routing options; return the pool and where each pool model lives.

    Parameters
    ----------
    classes : ndarray of shape (n_models,)
        The models the router was fitted on (``classes_``).
    exploration : float, default=0.0
        Probability in [0, 1) spread uniformly over the pool.
    shares : mapping of model label to float, default=None
        Fixed traffic share in [0, 1) of each named model, which may be a model
        the router was never fitted on.
    pool : sequence of model labels, default=None
        The models that may be chosen; ``None``: ``classes`` followed by the
        models of ``shares`` not among them.

    Returns
    -------
    pool : ndarray of shape (n_pool,)
        The pool's labels, in column order of the routing distribution.
    column : ndarray of int of shape (n_pool,)
        Column of each pool model in ``classes`` (-1 for a model the router
        was not fitted on).
    exploration : float
    share : ndarray of shape (n_pool,)
        Fixed share of each pool model (0 for those without one).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_causal_routing._exploration import check_routing
    >>> pool, column, eps, share = check_routing(
    ...     np.array(["a", "b"]), exploration=0.1, shares={"new": 0.05})
    >>> pool.tolist(), column.tolist(), eps, share.tolist()
    (['a', 'b', 'new'], [0, 1, -1], 0.1, [0.0, 0.0, 0.05])
    >>> check_routing(np.array(["a", "b"]), exploration=0.5, shares={"a": 0.5})
    Traceback (most recent call last):
    ...
    ValueError: exploration + sum(shares) must be < 1, leaving the router's own decision a share; got 0.5 + 0.5 = 1.
    """
    classes = np.asarray(classes)
    kind = _label_kind(classes)
    exploration = _check_fraction(exploration, "exploration")
    if shares is None:
        shares = {}
    if not isinstance(shares, Mapping):
        raise TypeError(
            "shares must be a mapping of model label to traffic share, e.g. "
            f"{{'new-model': 0.05}}; got {describe(shares)}."
        )
    share_of = {}
    for label, value in shares.items():
        label = _check_label(label, kind, "shares", classes)
        share_of[label] = _check_fraction(value, f"shares[{label!r}]")
    total = exploration + sum(share_of.values())
    if total >= 1:
        raise ValueError(
            "exploration + sum(shares) must be < 1, leaving the router's own decision a "
            f"share; got {exploration:g} + {sum(share_of.values()):g} = {total:g}."
        )
    known = classes.tolist()
    if pool is None:
        labels = known + [label for label in share_of if label not in known]
    else:
        if isinstance(pool, (str, bytes)) or not hasattr(pool, "__iter__"):
            raise TypeError(
                "pool must be a sequence of model labels, e.g. ['small', 'large']; got "
                f"{describe(pool)}."
            )
        labels = [_check_label(label, kind, "pool", classes) for label in pool]
        if not labels:
            raise ValueError("pool must name at least one model; got an empty pool.")
        repeated = sorted({label for label in labels if labels.count(label) > 1}, key=str)
        if repeated:
            raise ValueError(f"pool must name each model once; got {repeated} repeated.")
        outside = [label for label in share_of if label not in labels]
        if outside:
            raise ValueError(
                f"shares names model(s) {outside} that are not in the pool {labels}: a "
                "model that left the pool gets no traffic. Add them to pool or drop "
                "their shares."
            )
    column = np.array([known.index(label) if label in known else -1 for label in labels],
                      dtype=np.intp)
    if not (column >= 0).any():
        raise ValueError(
            f"pool must include at least one model the router was fitted on (classes_: "
            f"{known}) for its own decision; got {labels}."
        )
    pool_arr = np.array(labels, dtype=classes.dtype if kind is None else None)
    share = np.array([share_of.get(label, 0.0) for label in labels])
    return pool_arr, column, exploration, share


def mix_routing(decision, n_pool, *, exploration=0.0, share=None):
    """The routing distribution: own decision, uniform exploration, fixed shares.

    Parameters
    ----------
    decision : array-like of int of shape (n_samples,)
        Column (in the pool) of the router's own decision for each query.
    n_pool : int
        Number of models in the pool.
    exploration : float, default=0.0
        Mass spread uniformly over the pool.
    share : array-like of shape (n_pool,), default=None
        Fixed mass of each pool model.

    Returns
    -------
    proba : ndarray of shape (n_samples, n_pool)
        ``(1 - exploration - sum(share)) * onehot(decision) + exploration / n_pool
        + share``; rows sum to one.

    Examples
    --------
    >>> from sklearn_causal_routing._exploration import mix_routing
    >>> mix_routing([0, 2], 3, exploration=0.3, share=[0.0, 0.0, 0.1])
    array([[0.7, 0.1, 0.2],
           [0.1, 0.1, 0.8]])
    """
    decision = np.asarray(decision, dtype=np.intp)
    share = np.zeros(n_pool) if share is None else np.asarray(share, dtype=np.float64)
    own = 1.0 - exploration - share.sum()
    proba = np.tile(exploration / n_pool + share, (decision.shape[0], 1))
    proba[np.arange(decision.shape[0]), decision] += own
    return proba


def sample_routes(proba, *, random_state=None):
    """Draw one column per row of a row-stochastic matrix.

    Parameters
    ----------
    proba : ndarray of shape (n_samples, n_pool)
        Routing probabilities; rows sum to one.
    random_state : int, RandomState instance or None, default=None
        Seed of the draws. A ``RandomState`` passed for consecutive batches
        gives the same draws as one call on all rows.

    Returns
    -------
    index : ndarray of int of shape (n_samples,)
        The drawn column of each row; never a column of probability 0.

    Examples
    --------
    >>> from sklearn_causal_routing._exploration import sample_routes
    >>> sample_routes([[0.0, 1.0], [1.0, 0.0]], random_state=0)
    array([1, 0])
    """
    proba = np.asarray(proba, dtype=np.float64)
    u = check_random_state(random_state).random_sample(proba.shape[0])
    cum = np.cumsum(proba, axis=1)
    cum /= cum[:, -1:]  # the last entry is exactly 1 > u: some column is always drawn
    return np.argmax(cum > u[:, None], axis=1)


def _pool_decision(scores, classes, column, router):
    """Pool column of the best-scored fitted pool model of each query."""
    scores = np.asarray(scores, dtype=np.float64)
    fitted = column >= 0
    if fitted.all() and len(column) == len(classes) and (column == np.arange(len(classes))).all():
        return np.argmax(scores, axis=1)  # the whole fitted pool, in order: predict's rule
    masked = np.full_like(scores, -np.inf)
    masked[:, column[fitted]] = scores[:, column[fitted]]
    best = np.argmax(masked, axis=1)  # first of ties, in classes_ order, as predict
    top = masked.max(axis=1)
    own = np.argmax(scores, axis=1)
    left = ~np.isin(own, column[fitted])  # the router's own choice left the pool
    tied = left & ((masked == top[:, None]).sum(axis=1) > 1)
    if tied.any():
        gone = sorted(set(np.asarray(classes)[own[tied]].tolist()), key=str)
        raise ValueError(
            f"{router} cannot rank the models left in the pool: on {int(tied.sum())} "
            f"queries its choice {gone} is not in the pool and its scores tie among the "
            "pool's models (a router that sends every query to one model, such as "
            "SingleModelRouter or a RegretRouter that fell back, scores only that "
            f"model). Keep {gone} in the pool, or refit the router on the pool's models."
        )
    where = np.full(len(classes), -1, dtype=np.intp)
    where[column[fitted]] = np.flatnonzero(fitted)
    return where[best]


def route_scores(scores, classes, *, exploration=0.0, shares=None, pool=None,
                 random_state=None, router="the router"):
    """Route each query from a router's scores: its decision mixed with exploration.

    Parameters
    ----------
    scores : array-like of shape (n_samples, n_models)
        The router's scores (higher is preferred); columns follow ``classes``.
    classes : ndarray of shape (n_models,)
        The models the router was fitted on.
    exploration, shares, pool : see :func:`check_routing`
        The routing options.
    random_state : int, RandomState instance or None, default=None
        Seed of the draws.
    router : str, default="the router"
        How errors call the router.

    Returns
    -------
    routes : Routes
        The drawn model of each query, its probability, the whole distribution
        and the pool.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_causal_routing._exploration import route_scores
    >>> routes = route_scores([[0.1, 0.9], [0.8, 0.2]], np.array(["a", "b"]),
    ...                       pool=["a"], shares={"a": 0.1}, random_state=0)
    >>> routes.model.tolist(), routes.propensity.tolist()
    (['a', 'a'], [1.0, 1.0])
    """
    classes = np.asarray(classes)
    pool, column, exploration, share = check_routing(
        classes, exploration=exploration, shares=shares, pool=pool)
    scores = np.asarray(scores)
    if scores.ndim != 2 or scores.shape[1] != len(classes):
        raise ValueError(
            f"scores must have shape (n_samples, {len(classes)}), one column per model "
            f"of classes_; got shape {scores.shape}."
        )
    decision = _pool_decision(scores, classes, column, router)
    proba = mix_routing(decision, len(pool), exploration=exploration, share=share)
    index = sample_routes(proba, random_state=random_state)
    return Routes(pool[index], proba[np.arange(len(index)), index], proba, pool)
