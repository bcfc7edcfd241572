"""The cost-quality trade-off: Pareto front, concave hull, AIQ and the plot.

:func:`pareto_front`, :func:`pareto_hull`, :func:`area_under_pareto` /
:func:`aiq` (RouterBench's AIQ), :func:`pareto_points` (a router's true
(cost, quality) points over a sweep of cost weights) and :func:`plot_pareto`.
"""

import inspect
from itertools import pairwise

import numpy as np

from ..utils._optional import import_optional
from ..utils.validation import check_cost_weight
from ._full_feedback import column_decisions, column_labels, outcome_matrices, routed_mean

__all__ = [
    "aiq",
    "area_under_pareto",
    "pareto_front",
    "pareto_hull",
    "pareto_points",
    "plot_pareto",
]


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
    quality, cost = outcome_matrices(quality, cost)
    try:
        weights = np.asarray(cost_weights, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"cost_weights must be a 1-D array of numbers; got {cost_weights!r}.") from None
    if weights.ndim != 1 or weights.size == 0:
        raise ValueError(
            "cost_weights must be a non-empty 1-D array of finite numbers >= 0; got "
            f"{cost_weights!r}."
        )
    weights = np.asarray(
        [check_cost_weight(w, name=f"cost_weights[{j}]") for j, w in enumerate(weights.tolist())]
    )
    labels = column_labels(classes, quality.shape[1])
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
        P = column_decisions(d, labels, n, indexed=classes is None)
        costs[j] = routed_mean(P, cost)
        qualities[j] = routed_mean(P, quality)
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
    plt = import_optional("matplotlib.pyplot", extra="plot", needed_by="plot_pareto")
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
