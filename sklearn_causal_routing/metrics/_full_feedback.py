"""Full-feedback metrics: the true value of routing decisions when every model's outcome is known.

:func:`true_utility`, :func:`oracle_regret` and :func:`model_shares` score
decisions against a full-feedback table (every model answered every query, e.g.
a simulated world or a benchmark table). The helpers below them
(:func:`routed_mean`, :func:`oracle_mean`, :func:`regret`, :func:`shares`) are
the one value computation, shared with
:class:`~sklearn_causal_routing.datasets.RoutingTable` and
:func:`~sklearn_causal_routing.metrics.pareto_points`.
"""

import numpy as np

from ..utils.validation import check_cost_weight, check_float_matrix, decision_matrix

__all__ = [
    "column_decisions",
    "column_labels",
    "model_shares",
    "oracle_mean",
    "oracle_regret",
    "outcome_matrices",
    "regret",
    "routed_mean",
    "shares",
    "true_utility",
]


def routed_mean(P, values):
    """Mean over rows of ``sum_k P[i, k] * values[i, k]``: THE value computation.

    Shared by :func:`true_utility`, :func:`oracle_regret`,
    :class:`~sklearn_causal_routing.datasets.RoutingTable` and
    :func:`~sklearn_causal_routing.metrics.pareto_points`; inputs are
    validated by the callers.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_causal_routing.metrics._full_feedback import routed_mean
    >>> routed_mean(np.array([[1.0, 0.0], [0.5, 0.5]]), np.array([[1.0, 0.0], [0.0, 1.0]]))
    0.75
    """
    return float(np.mean(np.sum(P * values, axis=1)))


def oracle_mean(utility):
    """Mean over rows of ``max_k utility[i, k]`` (the per-query oracle).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_causal_routing.metrics._full_feedback import oracle_mean
    >>> oracle_mean(np.array([[1.0, 0.0], [0.0, 0.5]]))
    0.75
    """
    return float(utility.max(axis=1).mean())


def regret(P, utility):
    """Oracle value minus the value of ``P``, on a validated (n, K) utility.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_causal_routing.metrics._full_feedback import regret
    >>> regret(np.array([[0.0, 1.0], [0.0, 1.0]]), np.array([[1.0, 0.0], [0.0, 0.5]]))
    0.5
    """
    return oracle_mean(utility) - routed_mean(P, utility)


def shares(P, labels):
    """``{label: share of calls}`` of a validated routing matrix.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_causal_routing.metrics._full_feedback import shares
    >>> shares(np.array([[1.0, 0.0], [0.5, 0.5]]), ["a", "b"])
    {'a': 0.75, 'b': 0.25}
    """
    return dict(zip(labels, P.mean(axis=0).tolist()))


def outcome_matrices(quality, cost):
    """``quality`` and ``cost`` as finite float (n_samples, n_models) matrices of one shape.

    Examples
    --------
    >>> from sklearn_causal_routing.metrics._full_feedback import outcome_matrices
    >>> outcome_matrices([[1, 0]], [[0.5, 0.1]])[1]
    array([[0.5, 0.1]])
    >>> outcome_matrices([[1, 0]], [[0.5, 0.1, 0.2]])
    Traceback (most recent call last):
    ...
    ValueError: cost must have shape (1, 2) (the shape of quality); got shape (1, 3).
    """
    quality = check_float_matrix(quality, "quality", what=" (n_samples, n_models)")
    if quality.size == 0:
        raise ValueError(
            "quality must be a non-empty 2-D (n_samples, n_models) matrix, one column per "
            f"model; got shape {quality.shape}."
        )
    cost = check_float_matrix(cost, "cost", n_rows=quality.shape[0],
                              n_cols=quality.shape[1], what=" (the shape of quality)")
    return quality, cost


def column_labels(classes, k):
    """The model label of each of ``k`` columns: ``classes``, or ``0 ... k-1`` when ``None``.

    Examples
    --------
    >>> from sklearn_causal_routing.metrics._full_feedback import column_labels
    >>> column_labels(None, 3), column_labels(["a", "b"], 2)
    (array([0, 1, 2]), array(['a', 'b'], dtype='<U1'))
    """
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


def column_decisions(decisions, labels, n, *, indexed):
    """(n, K) routing matrix over columns labelled ``labels`` (:func:`decision_matrix`).

    ``indexed``: the labels are column indices because no ``classes`` were
    given; the unknown-label error then says how to name the columns.

    Examples
    --------
    >>> from sklearn_causal_routing.metrics._full_feedback import column_decisions
    >>> column_decisions(["b"], ["a", "b"], 1, indexed=False)
    array([[0., 1.]])
    """
    known = (
        "the column labels (column indices, as no classes were given: pass "
        "classes=[...] naming the model of each column)"
        if indexed
        else "the column labels (classes)"
    )
    return decision_matrix(decisions, labels, n, name="decisions", known=known)


def _full_feedback(decisions, quality, cost, cost_weight, classes):
    quality, cost = outcome_matrices(quality, cost)
    cost_weight = check_cost_weight(cost_weight)
    labels = column_labels(classes, quality.shape[1])
    P = column_decisions(decisions, labels, quality.shape[0], indexed=classes is None)
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
    return routed_mean(P, utility)


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
    return regret(P, utility)


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
    labels = column_labels(labels, labels.shape[0])
    decisions = np.asarray(decisions)
    if decisions.ndim not in (1, 2) or decisions.shape[0] == 0:
        raise ValueError(
            "decisions must be non-empty model labels of shape (n_samples,) or routing "
            f"probabilities of shape (n_samples, {labels.shape[0]}); got shape {decisions.shape}."
        )
    P = column_decisions(decisions, labels, decisions.shape[0], indexed=False)
    return shares(P, labels.tolist())
