"""Input validation shared by every estimator, metric and dataset.

One implementation per check: the predict preamble and its dtype rule, the
cost-weight validator, label-to-column encoding and the routing-matrix
converter, cross-fitting folds, integers and seeds. The fit preamble for logs
sits beside the feedback type in :mod:`sklearn_causal_routing._feedback`
(like scikit-survival's ``check_array_survival`` beside ``Surv``).
"""

import numbers

import numpy as np
from sklearn.model_selection import KFold, StratifiedKFold, check_cv
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted

from ._compat import validate_data

__all__ = [
    "FLOAT_DTYPES",
    "check_cost_weight",
    "check_enough_models",
    "check_features",
    "check_float_matrix",
    "check_int",
    "check_same_length",
    "crossfit_splits",
    "decision_matrix",
    "describe",
    "encode_labels",
    "int_seed",
    "is_dask_collection",
    "reject_dask",
    "salted_rng",
]

#: Feature dtypes kept as they are; anything else (ints, bools) becomes float64.
#: Torch policies cast to float32 themselves, so every estimator shares one rule.
FLOAT_DTYPES = (np.float64, np.float32)


def describe(value):
    """A short description of ``value`` for error messages.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_causal_routing.utils.validation import describe
    >>> describe(np.zeros((2, 3))), describe([1, 2]), describe("x")
    ('ndarray of shape (2, 3)', 'list of length 2', "'x'")
    """
    shape = getattr(value, "shape", None)
    if shape is not None:
        return f"{type(value).__name__} of shape {tuple(shape)}"
    if isinstance(value, (list, tuple)):
        return f"{type(value).__name__} of length {len(value)}"
    return repr(value) if len(repr(value)) < 60 else type(value).__name__


def check_int(value, name, low):
    """``value`` as an int, which must be an integer (not a bool) ``>= low``.

    Examples
    --------
    >>> from sklearn_causal_routing.utils.validation import check_int
    >>> check_int(3, "n_samples", 1)
    3
    >>> check_int(0.5, "n_samples", 1)
    Traceback (most recent call last):
    ...
    ValueError: n_samples must be an integer >= 1; got 0.5.
    """
    if (
        isinstance(value, (bool, np.bool_))
        or not isinstance(value, numbers.Integral)
        or value < low
    ):
        raise ValueError(f"{name} must be an integer >= {low}; got {value!r}.")
    return int(value)


def int_seed(random_state):
    """An int seed derived from any ``random_state`` (int, RandomState, None).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_causal_routing.utils.validation import int_seed
    >>> int_seed(7), int_seed(np.random.RandomState(0)) == int_seed(np.random.RandomState(0))
    (7, True)
    """
    if isinstance(random_state, numbers.Integral):
        return int(random_state)
    return int(check_random_state(random_state).randint(np.iinfo(np.int32).max))


def salted_rng(random_state, salt):
    """A RandomState seeded from ``random_state`` and a per-purpose salt.

    Users pass the same seed to ``RoutingWorld``, ``sample`` and ``log``; drawn
    from the same stream, the logging draws would replay the uniforms that
    picked each query's task and the logs would be confounded by the seed
    (task-1 queries all logged to one model). Salting the stream per purpose
    keeps the draws independent and deterministic.

    Examples
    --------
    >>> from sklearn_causal_routing.utils.validation import salted_rng
    >>> salted_rng(0, 1).rand() == salted_rng(0, 1).rand() != salted_rng(0, 2).rand()
    True
    """
    rs = check_random_state(random_state)
    return np.random.RandomState([int(rs.randint(np.iinfo(np.int32).max)), salt])


def check_same_length(X, y, name="y"):
    """Raise unless ``X`` and the feedback ``y`` have one row per logged request."""
    n_x = X.shape[0]
    if n_x != y.shape[0]:
        raise ValueError(
            f"X has {n_x} rows but the feedback {name} has {y.shape[0]} entries; they "
            "must match, one logged request per row."
        )


def check_enough_models(classes, name="y"):
    """Raise unless the logs hold at least two models."""
    if len(classes) < 2:
        raise ValueError(
            f"{name}: the logs contain a single model (one class: "
            f"{np.asarray(classes)[0].item()!r}); at least two "
            "logged models are needed to learn where to route. Add logs in which other "
            "models answered (even a small randomised share is enough)."
        )


def check_features(estimator, X):
    """The predict preamble: fitted check, then ``X`` validated against ``fit``.

    Every estimator's ``predict`` / ``transform`` / ``decision_function``
    starts here, so the not-fitted error, the feature-count and feature-name
    checks and the dtype rule (:data:`FLOAT_DTYPES`) are the same everywhere.
    """
    check_is_fitted(estimator)
    return validate_data(estimator, X, dtype=FLOAT_DTYPES, reset=False)


def _kind(values):
    kinds = {type(v.item() if isinstance(v, np.generic) else v).__name__ for v in values}
    return "/".join(sorted(kinds))


def encode_labels(labels, classes, *, name="y['action']", known="classes_, the models seen in fit"):
    """Column index in ``classes`` of each label; unknown labels raise.

    Parameters
    ----------
    labels : array-like of shape (n,)
        Model labels to encode.
    classes : ndarray of shape (k,)
        The known labels, in any order.
    name : str
        How the caller calls ``labels``, for the error.
    known : str
        What ``classes`` are, for the error (e.g. the models of the held-out
        logs, or those the router was fitted on).

    Returns
    -------
    index : ndarray of int of shape (n,)

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_causal_routing.utils.validation import encode_labels
    >>> encode_labels(["b", "a", "b"], np.array(["a", "b"]))
    array([1, 0, 1])
    >>> encode_labels(["c"], np.array(["a", "b"]), name="decisions",
    ...               known="the models of the held-out logs")
    Traceback (most recent call last):
    ...
    ValueError: decisions contains model label(s) ['c'] that are not among the models of the held-out logs: ['a', 'b'].
    """
    labels = np.asarray(labels)
    classes = np.asarray(classes)
    order = np.argsort(classes, kind="stable")
    try:
        sorted_classes = classes[order]
        idx = np.clip(np.searchsorted(sorted_classes, labels), 0, len(classes) - 1)
        unknown = sorted_classes[idx] != labels
    except TypeError:  # labels and classes of types numpy cannot compare
        unknown = np.ones(labels.shape, dtype=bool)
        idx = np.zeros(labels.shape, dtype=np.intp)
    if np.any(unknown):
        bad = list(dict.fromkeys(labels[unknown].tolist()))
        msg = (
            f"{name} contains model label(s) {bad[:5]} that are not among {known}: "
            f"{classes.tolist()}."
        )
        if _kind(labels[unknown]) != _kind(classes):
            msg += (
                f" Labels are compared by value and type: these are "
                f"{_kind(labels[unknown])}, the known ones {_kind(classes)} (e.g. 1 is "
                "not '1'); convert one to the other."
            )
        raise ValueError(msg)
    return order[idx]


def decision_matrix(decisions, labels, n, *, name="decisions", columns=None,
                    known="classes_, the models seen in fit"):
    """(n, K) routing probabilities over ``labels`` from labels or a stochastic matrix.

    The one label-to-decision-matrix converter: policy values, full-feedback
    metrics and routing tables all go through it.

    Parameters
    ----------
    decisions : array-like of shape (n,) or (n, k)
        One model label per row, or routing probabilities (rows sum to one)
        whose columns follow ``columns`` (default: ``labels``).
    labels : ndarray of shape (K,)
        Models of the output columns, in order.
    n : int
        Number of rows expected.
    name : str
        How the caller calls ``decisions``, for errors.
    columns : array-like of shape (k,), default=None
        Models of the columns of a probability matrix, a subset of ``labels``
        in any order (e.g. a router's ``classes_``).
    known : str
        What ``labels`` are, for the unknown-label error.

    Returns
    -------
    P : ndarray of shape (n, K)

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_causal_routing.utils.validation import decision_matrix
    >>> decision_matrix(["b", "a"], np.array(["a", "b"]), 2)
    array([[0., 1.],
           [1., 0.]])
    >>> decision_matrix([[0.25, 0.75]], np.array(["a", "b", "c"]), 1, columns=["c", "a"])
    array([[0.75, 0.  , 0.25]])
    """
    arr = np.asarray(decisions)
    labels = np.asarray(labels)
    k = len(labels)
    if arr.ndim == 2:
        cols = labels if columns is None else np.asarray(columns)
        if arr.shape != (n, len(cols)):
            raise ValueError(
                f"{name} as routing probabilities must have shape ({n}, {len(cols)}), "
                f"one row per query and one column per model; got {arr.shape}."
            )
        try:
            P = arr.astype(np.float64)
        except (TypeError, ValueError):
            raise ValueError(f"{name} as a 2-D matrix must hold numbers (routing probabilities).") from None
        sums = P.sum(axis=1)
        if not np.all(np.isfinite(P)) or (P < 0).any() or not np.allclose(sums, 1.0, atol=1e-6):
            raise ValueError(
                f"{name} as routing probabilities must be finite, non-negative, with "
                f"rows summing to 1; got row sums in [{np.nanmin(sums):.3g}, "
                f"{np.nanmax(sums):.3g}] and min entry {np.nanmin(P):.3g}."
            )
        if columns is None:
            return P
        out = np.zeros((n, k))
        out[:, encode_labels(cols, labels, name="columns", known=known)] = P
        return out
    if arr.ndim != 1 or arr.shape[0] != n:
        raise ValueError(
            f"{name} must hold one model label per row ({n}) or routing "
            f"probabilities of shape ({n}, {k}); got shape {arr.shape}."
        )
    out = np.zeros((n, k))
    out[np.arange(n), encode_labels(arr, labels, name=name, known=known)] = 1.0
    return out


def check_cost_weight(cost_weight, *, n=None, name="cost_weight", fitted_range=None, clip=False):
    """The one cost-weight validator: a finite number >= 0, or one per query.

    Parameters
    ----------
    cost_weight : float or array-like of shape (n,)
        Price of one unit of cost in units of quality.
    n : int, default=None
        Number of queries; when given, an array of one weight per query is
        accepted and the result is an array of shape (n,).
    name : str
        The argument's name, for errors.
    fitted_range : (float, float), default=None
        When given, weights must lie in ``[low, high]`` (a router fitted for
        that range), or are clipped into it with ``clip=True``.
    clip : bool, default=False
        Clip weights outside ``fitted_range`` instead of raising.

    Returns
    -------
    cost_weight : float, or ndarray of shape (n,) when ``n`` is given

    Examples
    --------
    >>> from sklearn_causal_routing.utils.validation import check_cost_weight
    >>> check_cost_weight(2)
    2.0
    >>> check_cost_weight([0.5, 1.0], n=2)
    array([0.5, 1. ])
    >>> check_cost_weight(-1)
    Traceback (most recent call last):
    ...
    ValueError: cost_weight must be a finite number >= 0 (utility = quality - cost_weight * cost); got -1.
    >>> check_cost_weight(3.0, n=1, fitted_range=(0.0, 2.0))
    Traceback (most recent call last):
    ...
    ValueError: cost_weight [3.0] lies outside the fitted range [0, 2]...
    """
    what = "a finite number >= 0" + (f", or an array of one value per query ({n})" if n is not None else "")
    if isinstance(cost_weight, (bool, np.bool_)):
        raise ValueError(f"{name} must be {what}; got {cost_weight!r}.")
    try:
        w = np.asarray(cost_weight, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be {what}; got {describe(cost_weight)}.") from None
    if w.ndim > 1 or (w.ndim == 1 and (n is None or w.shape[0] != n)):
        raise ValueError(f"{name} must be {what}; got an array of shape {w.shape}.")
    # a fitted range (whose low end is >= 0) speaks for itself below
    negative = (w < 0) if fitted_range is None else np.zeros(w.shape, dtype=bool)
    if not np.all(np.isfinite(w)) or negative.any():
        shown = cost_weight if w.ndim == 0 else w[~np.isfinite(w) | negative][:3].tolist()
        raise ValueError(
            f"{name} must be {what} (utility = quality - cost_weight * cost); got {shown!r}."
        )
    if fitted_range is not None:
        low, high = fitted_range
        outside = (w < low) | (w > high)
        if np.any(outside):
            if not clip:
                bad = np.unique(np.atleast_1d(w)[np.atleast_1d(outside)])[:3].tolist()
                raise ValueError(
                    f"{name} {bad} lies outside the fitted range [{low:g}, {high:g}]. The "
                    "router was trained for that range only; refit with a wider "
                    "cost_weight_range, or pass out_of_range='clip' to use the nearest end."
                )
            w = np.clip(w, low, high)
    if n is not None:
        return np.full(n, float(w)) if w.ndim == 0 else w
    return float(w)


def crossfit_splits(cv, X, strata, random_state, *, name="cv"):
    """Cross-fitting folds: every row in exactly one test fold.

    Parameters
    ----------
    cv : int or cross-validation splitter
        An int gives shuffled folds stratified by the first of ``strata``
        whose every class has at least ``cv`` rows (``KFold`` when none has);
        anything else goes through :func:`sklearn.model_selection.check_cv`.
    X : ndarray of shape (n, d)
    strata : list of ndarray of int of shape (n,)
        Stratifications to try, finest first (e.g. logged model x grader,
        then logged model).
    random_state : int, RandomState instance or None
    name : str
        The parameter's name, for errors.

    Returns
    -------
    splits : list of (train, test) index arrays

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_causal_routing.utils.validation import crossfit_splits
    >>> X, t = np.zeros((6, 1)), np.array([0, 1, 0, 1, 0, 1])
    >>> [len(test) for _, test in crossfit_splits(3, X, [t], 0)]
    [2, 2, 2]
    >>> crossfit_splits(3, X[:2], [t[:2]], 0)
    Traceback (most recent call last):
    ...
    ValueError: cv=3 cross-fitting folds need at least 3 rows...
    """
    n = X.shape[0]
    if isinstance(cv, numbers.Integral) and not isinstance(cv, (bool, np.bool_)):
        if cv < 2:
            raise ValueError(f"{name} must be at least 2 cross-fitting folds; got {name}={cv}.")
        if n < cv:
            raise ValueError(
                f"{name}={cv} cross-fitting folds need at least {cv} rows (one per test "
                f"fold); got {n} logged rows. Use more logs or {name}={max(n, 2)}."
            )
        seed = None if random_state is None else int_seed(random_state)
        for s in strata:
            counts = np.bincount(s)
            if counts[counts > 0].min() >= cv:
                return list(StratifiedKFold(cv, shuffle=True, random_state=seed).split(X, s))
        return list(KFold(cv, shuffle=True, random_state=seed).split(X))
    splits = list(check_cv(cv).split(X, strata[0] if strata else None))
    covered = np.bincount(np.concatenate([test for _, test in splits]), minlength=n)
    if not np.all(covered == 1):
        raise ValueError(
            f"{name} must put every row in exactly one test fold (cross-fitting needs an "
            f"out-of-fold estimate for each row); with {name}={cv!r}, "
            f"{int(np.sum(covered == 0))} rows are in no test fold and "
            f"{int(np.sum(covered > 1))} in several. Use an int or a KFold-like "
            "splitter."
        )
    return splits


def check_float_matrix(values, name, *, n_rows=None, n_cols=None, what=""):
    """``values`` as a finite float64 2-D array, with the given numbers of rows and columns.

    The one numeric-matrix check of full-feedback tables and metrics (quality,
    cost, features, routing probabilities).

    Parameters
    ----------
    values : array-like
        The matrix.
    name : str
        The argument's name, for errors.
    n_rows, n_cols : int, default=None
        Required numbers of rows and columns (any when ``None``).
    what : str, default=""
        Appended to the argument's name in errors, e.g. ``" (n_samples, n_features)"``.

    Returns
    -------
    matrix : ndarray of float64 of shape (n_rows, n_cols)

    Examples
    --------
    >>> from sklearn_causal_routing.utils.validation import check_float_matrix
    >>> check_float_matrix([[1, 2]], "cost", n_cols=2)
    array([[1., 2.]])
    >>> check_float_matrix([[1, 2]], "cost", n_rows=2)
    Traceback (most recent call last):
    ...
    ValueError: cost must have shape (2, n_models); got shape (1, 2).
    >>> check_float_matrix([[1.0, float("nan")]], "quality")
    Traceback (most recent call last):
    ...
    ValueError: quality must be finite; got 1 NaN or infinite value(s), first at [0, 1]: nan.
    """
    try:
        arr = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise TypeError(
            f"{name} must be a numeric array{what}; got {describe(values)} that "
            f"cannot be converted to float ({exc})."
        ) from None
    if arr.ndim != 2:
        raise ValueError(f"{name} must be a 2-D array{what}; got an array of shape {arr.shape}.")
    if (n_rows is not None and arr.shape[0] != n_rows) or (
        n_cols is not None and arr.shape[1] != n_cols
    ):
        expected = (
            f"({'n_samples' if n_rows is None else n_rows}, "
            f"{'n_models' if n_cols is None else n_cols})"
        )
        raise ValueError(f"{name} must have shape {expected}{what}; got shape {arr.shape}.")
    bad = ~np.isfinite(arr)
    if bad.any():
        row, col = np.argwhere(bad)[0]
        raise ValueError(
            f"{name} must be finite; got {int(bad.sum())} NaN or infinite value(s), "
            f"first at [{row}, {col}]: {arr[row, col]}."
        )
    return arr


def is_dask_collection(value):
    """Whether ``value`` is a Dask collection (array, DataFrame, Series, ...).

    Tells without importing Dask: every Dask collection has a task graph
    (``__dask_graph__``); numpy arrays and pandas frames have none.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_causal_routing.utils.validation import is_dask_collection
    >>> is_dask_collection(np.zeros(3))
    False
    """
    graph = getattr(value, "__dask_graph__", None)
    return callable(graph) and not isinstance(value, type) and graph() is not None


#: The estimators whose ``fit`` takes Dask collections (docs/scaling.md).
DASK_FITS = "DoublyRobustUtility, RegretRouter and IntervalRouter"


def reject_dask(caller, **values):
    """Raise a ``TypeError`` when one of ``values`` is a Dask collection.

    For the fits and functions that need every row in memory: computing a
    Dask collection silently could exhaust memory, so the user decides.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_causal_routing.utils.validation import reject_dask
    >>> reject_dask("PropensityModel.fit", X=np.zeros((2, 2)))  # numpy passes
    """
    for name, value in values.items():
        if is_dask_collection(value):
            raise TypeError(
                f"{caller} needs its input in memory; {name} is a Dask collection "
                f"({type(value).__name__}). Fits on Dask collections exist for "
                f"{DASK_FITS} (docs/scaling.md); if the data fit in memory, pass "
                f"{name}.compute()."
            )
