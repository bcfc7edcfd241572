"""Logged feedback as one 1-D structured array.

A routing log has, per request, the model that answered (the *action*), the
graded outcome (*quality*), the *cost* of the call and, when the old routing rule
recorded it, the *propensity* with which it picked that model. Packing those into
one 1-D structured array (the pattern of scikit-survival's ``Surv``) lets
scikit-learn's ``Pipeline``, ``GridSearchCV``, ``cross_val_score`` and joblib
carry the target around as they would any ``y``.
"""

import numbers

import numpy as np

from .utils._compat import validate_data
from .utils._optional import import_optional
from .utils.validation import (
    FLOAT_DTYPES,
    check_enough_models,
    check_same_length,
    is_dask_collection,
    reject_dask,
)

__all__ = [
    "FEEDBACK_FIELDS",
    "GRADER_FIELDS",
    "check_feedback",
    "feedback_from_frame",
    "make_feedback",
    "records_propensities",
]

#: The fields every feedback array has, in order.
FEEDBACK_FIELDS = ("action", "quality", "cost", "propensity")

#: The optional fields saying who graded each row (present when ``gold=`` or
#: ``judge=`` was given to :func:`make_feedback`).
GRADER_FIELDS = ("gold", "judge")

_FACTORY_CALL = "make_feedback(t, y, cost=cost, propensity=None)"

#: Largest absolute quality or cost accepted. Utilities ``quality - c * cost`` and
#: the outcome models' sums of squares must stay far from overflow, where routing
#: would change silently; no real grade or price per call comes near it.
MAX_ABS_OUTCOME = 1e12


def _as_1d(values, name, n=None):
    arr = np.asarray(values)
    if arr.ndim == 0 and n is not None:
        arr = np.full(n, arr.item())
    if arr.ndim != 1:
        raise ValueError(
            f"{name} must be 1-D with one entry per logged request; got an array of "
            f"shape {arr.shape}."
        )
    if n is not None and arr.shape[0] != n:
        raise ValueError(
            f"{name} has {arr.shape[0]} entries but t has {n}; every logged request "
            "needs exactly one value."
        )
    return arr


def _as_finite_float(values, name, n):
    arr = _as_1d(values, name, n)
    try:
        arr = arr.astype(np.float64)
    except (TypeError, ValueError) as exc:
        raise TypeError(
            f"{name} must be numeric; got values of dtype {arr.dtype} ({exc})."
        ) from None
    bad = ~np.isfinite(arr)
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        raise ValueError(
            f"{name} contains {int(bad.sum())} NaN or infinite value(s) (first at "
            f"row {first}: {arr[first]}). Drop or impute those rows before "
            f"building the feedback with {_FACTORY_CALL}."
        )
    _check_magnitude(arr, name)
    return arr


def _check_magnitude(values, name):
    big = np.abs(values) > MAX_ABS_OUTCOME
    if big.any():
        first = int(np.flatnonzero(big)[0])
        raise ValueError(
            f"{name} contains {int(big.sum())} value(s) larger than {MAX_ABS_OUTCOME:g} in "
            f"absolute value (first at row {first}: {values[first]:g}); utilities "
            "quality - cost_weight * cost would overflow and change routing silently. "
            "Rescale it (e.g. cost in dollars, not micro-dollars)."
        )


def _is_missing(value):
    if value is None:
        return True
    if isinstance(value, (float, np.floating)):
        return bool(np.isnan(value))
    # pandas.NA and NaT compare as neither equal nor unequal to themselves
    return type(value).__name__ in {"NAType", "NaTType"}


def _missing_labels_error(mask):
    return ValueError(
        f"t contains {int(mask.sum())} missing model label(s) (first at row "
        f"{int(np.flatnonzero(mask)[0])}); every logged request needs the model that "
        "served it. Drop those rows or fill in the model."
    )


def _action_array(t):
    if t is None:
        raise ValueError(
            "This estimator requires y to be passed, but the target y is None: pass the "
            "logged feedback, make_feedback(t, y, cost=cost), or (PropensityModel) the "
            "model that served each request."
        )
    if hasattr(t, "dtype") and type(t).__module__.startswith("pandas"):
        # nullable pandas columns: turn pd.NA into None before numpy sees them
        t = t.astype(object).where(t.notna(), None).to_numpy()
    t = _as_1d(np.asarray(t), "t")
    if t.shape[0] == 0:
        raise ValueError(
            "t is empty: the feedback needs at least one logged request; got 0 rows."
        )
    if t.dtype.kind == "b":
        raise TypeError(
            "t must hold model labels (strings such as 'gpt-4o' or integers); got "
            "booleans."
        )
    if t.dtype.kind in "iu":
        return t.astype(np.int64)
    if t.dtype.kind == "f":
        missing = np.isnan(t)
        if missing.any():
            raise _missing_labels_error(missing)
        if not np.all(np.isfinite(t)) or not np.all(t == np.round(t)):
            bad = t[~np.isfinite(t) | (t != np.round(t))][:3]
            raise ValueError(
                "t must hold model labels (strings or integers); got continuous "
                f"values such as {bad.tolist()}. Unknown label type: continuous."
            )
        return t.astype(np.int64)
    if t.dtype.kind in "OUS":
        missing = np.array([_is_missing(v) for v in t])
        if missing.any():
            raise _missing_labels_error(missing)
        is_int = np.array([isinstance(v, numbers.Integral) for v in t])
        if is_int.all():
            return t.astype(np.int64)
        is_str = np.array([isinstance(v, (str, np.str_, bytes)) for v in t])
        if is_str.all():
            return t.astype(str)
        kinds = sorted({type(v).__name__ for v in t})
        raise ValueError(
            "t must hold model labels of one kind, all strings or all integers; got a "
            f"mix of {kinds} (Mix of label input types). Convert them, e.g. "
            "t.astype(str)."
        )
    raise TypeError(
        f"t must hold model labels (strings or integers); got dtype {t.dtype}."
    )


def make_feedback(t, y, *, cost=None, propensity=None, gold=None, judge=None):
    """Pack logged routing feedback into one structured array.

    Parameters
    ----------
    t : array-like of shape (n_samples,)
        The model that served each request (str names or int ids).
    y : array-like of shape (n_samples,)
        The graded outcome (quality) of each request; higher is better.
    cost : array-like of shape (n_samples,) or float, default=None
        The cost of each call. ``None`` means cost is not tracked (all zeros).
    propensity : array-like of shape (n_samples,), default=None
        The probability with which the logging rule picked ``t[i]`` for request
        ``i``, when the gateway recorded it; values in (0, 1]. ``None`` means
        unknown (stored as NaN): the propensities are then estimated.
    gold : array-like of bool of shape (n_samples,), default=None
        Who graded each row: ``True`` means ``y[i]`` is a gold-standard grade
        (expert check, rubric, unit test), ``False`` means it is a cheap judge
        grade (LLM-as-judge, crowd preference) that may be biased. ``None``
        means every grade is gold and no grader fields are stored. See
        :class:`IntegrativeUtility`, which corrects the judge grades.
    judge : array-like of shape (n_samples,), default=None
        A judge grade for rows that carry both grades (NaN where a row has
        none). On judge-graded rows (``gold[i]`` False) the judge grade is
        ``y[i]`` itself, so ``judge[i]`` must be NaN or equal to it. Giving
        ``judge`` without ``gold`` means every ``y`` is gold.

    Returns
    -------
    feedback : ndarray of shape (n_samples,)
        Structured array with fields ``action``, ``quality``, ``cost`` and
        ``propensity``, plus ``gold`` (bool) and ``judge`` (float, NaN where
        absent) when ``gold`` or ``judge`` is given; use it as ``y`` in
        ``fit(X, feedback)``.

    See Also
    --------
    feedback_from_frame : Build the same array from a pandas DataFrame.
    check_feedback : Validate a feedback array.

    Examples
    --------
    >>> from sklearn_causal_routing import make_feedback
    >>> fb = make_feedback(["small", "large", "small"], [0.0, 1.0, 1.0],
    ...                    cost=[0.1, 2.0, 0.1])
    >>> fb.dtype.names
    ('action', 'quality', 'cost', 'propensity')
    >>> fb["action"]
    array(['small', 'large', 'small'], dtype='<U5')
    >>> fb["propensity"]
    array([nan, nan, nan])

    Two gold grades and one judge grade; the first row carries both:

    >>> fb = make_feedback(["small", "large", "small"], [0.0, 1.0, 0.8],
    ...                    gold=[True, True, False], judge=[0.4, None, None])
    >>> fb.dtype.names
    ('action', 'quality', 'cost', 'propensity', 'gold', 'judge')
    >>> fb["judge"]
    array([0.4, nan, 0.8])

    Columns held in Dask give the same feedback, lazily, as a Dask array
    with this structured dtype (see ``docs/scaling.md``):

    >>> import dask.array as da
    >>> lazy = make_feedback(da.from_array(["a", "b", "a"], chunks=2),
    ...                      da.from_array([1.0, 0.0, 1.0], chunks=2))
    >>> lazy.dtype.names, lazy.numblocks
    (('action', 'quality', 'cost', 'propensity'), (2,))
    >>> lazy.compute()["action"]
    array(['a', 'b', 'a'], dtype='<U1')
    """
    columns = (t, y, cost, propensity, gold, judge)
    if any(is_dask_collection(v) for v in columns):
        return _dask_feedback(*columns)
    action = _action_array(t)
    n = action.shape[0]
    quality = _as_finite_float(y, "y (quality)", n)
    cost = np.zeros(n) if cost is None else _as_finite_float(cost, "cost", n)
    if propensity is None:
        prop = np.full(n, np.nan)
    else:
        prop = _as_1d(propensity, "propensity", n)
        try:
            prop = prop.astype(np.float64)
        except (TypeError, ValueError):
            raise TypeError(
                "propensity must be numeric probabilities in (0, 1]; got values of "
                f"dtype {prop.dtype} such as {prop[:1].tolist()}."
            ) from None
        _check_propensity_values(prop)
    dtype = [
        ("action", action.dtype),
        ("quality", np.float64),
        ("cost", np.float64),
        ("propensity", np.float64),
    ]
    graders = None
    if gold is not None or judge is not None:
        graders = _grader_arrays(gold, judge, quality, n)
        dtype += [("gold", np.bool_), ("judge", np.float64)]
    out = np.empty(n, dtype=dtype)
    out["action"] = action
    out["quality"] = quality
    out["cost"] = cost
    out["propensity"] = prop
    if graders is not None:
        out["gold"], out["judge"] = graders
    return out


def _dask_feedback(t, y, cost, propensity, gold, judge):
    """:func:`make_feedback` block by block on Dask columns: a lazy structured array.

    Each block is built (and validated) by :func:`make_feedback` when it is
    computed, so a bad value raises then, naming its row within the block.
    The columns are aligned to the row chunks of ``t``; the dtype of the
    ``action`` field is fixed up front (for labels of dtype object, by one
    pass over ``t`` for the longest label).
    """
    da = import_optional("dask.array", extra="dask", needed_by="make_feedback on Dask columns")

    def as_dask(values, like=None):
        if values is None or np.ndim(values) == 0:
            return values
        if hasattr(values, "to_dask_array"):  # a Dask Series
            return values.to_dask_array(lengths=True)
        if is_dask_collection(values):
            return values
        values = np.asarray(values)
        return da.from_array(values, chunks=(like.chunks[0],) if like is not None else "auto")

    t = as_dask(t)
    if t is None or not is_dask_collection(t):
        raise TypeError(
            "make_feedback on Dask columns needs t (the served models) as a Dask array "
            f"or Series, like the other columns; got {type(t).__name__}."
        )
    columns = [as_dask(v, t) for v in (y, cost, propensity, gold, judge)]
    if t.ndim != 1:
        raise ValueError(f"t must be 1-D with one entry per logged request; got shape {t.shape}.")
    kind = t.dtype.kind
    if kind in "iuf":
        action_dtype = np.dtype(np.int64)
    elif kind == "U":
        action_dtype = t.dtype
    else:  # object or bytes labels: one pass for the longest label
        width = t.map_blocks(
            lambda b: np.array([max((len(str(v)) for v in b), default=1)]),
            chunks=((1,) * t.numblocks[0],), dtype=np.int64,
        ).max().compute()
        action_dtype = np.dtype(f"<U{max(int(width), 1)}")
    fields = [("action", action_dtype), ("quality", np.float64), ("cost", np.float64),
              ("propensity", np.float64)]
    if gold is not None or judge is not None:
        fields += [("gold", np.bool_), ("judge", np.float64)]
    dtype = np.dtype(fields)
    lazy = [i for i, v in enumerate(columns) if is_dask_collection(v)]
    scalars = [None if is_dask_collection(v) else v for v in columns]

    def block(tb, *parts):
        values = list(scalars)
        for i, part in zip(lazy, parts):
            values[i] = part
        y_, cost_, prop_, gold_, judge_ = values
        fb = make_feedback(tb, y_, cost=cost_, propensity=prop_, gold=gold_, judge=judge_)
        return fb.astype(dtype)

    return da.map_blocks(block, t, *(columns[i] for i in lazy), dtype=dtype)


def _grader_arrays(gold, judge, quality, n):
    """Validate ``gold=`` / ``judge=`` and return (gold mask, judge grades)."""
    if gold is None:
        gold_mask = np.ones(n, dtype=bool)
    else:
        gold_arr = _as_1d(gold, "gold", n)
        if gold_arr.dtype.kind == "b":
            gold_mask = gold_arr
        elif gold_arr.dtype.kind in "iuf" and np.isin(gold_arr, (0, 1)).all():
            gold_mask = gold_arr.astype(bool)
        else:
            received = np.unique(gold_arr.astype(object).astype(str))[:5].tolist()
            raise ValueError(
                "gold must be one bool per row (True = gold-standard grade, False = "
                f"judge grade); got values of dtype {gold_arr.dtype} such as {received}."
            )
    if judge is None:
        judge_arr = np.full(n, np.nan)
    else:
        judge_arr = _as_1d(judge, "judge", n)
        try:
            judge_arr = np.array(
                [np.nan if _is_missing(v) else v for v in judge_arr.tolist()],
                dtype=np.float64,
            )
        except (TypeError, ValueError):
            raise TypeError(
                "judge must hold numeric judge grades (NaN where a row has none); got "
                f"values of dtype {judge_arr.dtype}."
            ) from None
        if np.isinf(judge_arr).any():
            raise ValueError("judge contains infinite value(s); use NaN for 'no judge grade'.")
    on_judge_rows = ~gold_mask & ~np.isnan(judge_arr)
    clash = on_judge_rows & (judge_arr != quality)
    if clash.any():
        first = int(np.flatnonzero(clash)[0])
        raise ValueError(
            f"judge disagrees with y on {int(clash.sum())} judge-graded row(s) (first at "
            f"row {first}: judge={judge_arr[first]}, y={quality[first]}). On rows with "
            "gold=False, y already is the judge grade; leave judge NaN there."
        )
    judge_arr = np.where(gold_mask, judge_arr, quality)
    return gold_mask, judge_arr


def grader_fields(y):
    """Return ``(gold, judge)`` for a feedback array, with defaults when absent.

    Feedback without grader fields counts as all gold with no judge grades.
    """
    names = y.dtype.names
    if "gold" in names:
        return np.asarray(y["gold"], dtype=bool), np.asarray(y["judge"], dtype=np.float64)
    return np.ones(y.shape[0], dtype=bool), np.full(y.shape[0], np.nan)


def _check_propensity_values(prop):
    known = ~np.isnan(prop)
    if known.any() and not known.all():
        raise ValueError(
            f"propensity is missing (NaN) for {int((~known).sum())} of {prop.size} "
            "rows; give it for every row or for none (propensity=None) so that it is "
            "estimated."
        )
    bad = known & ~((prop > 0) & (prop <= 1))
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        raise ValueError(
            "propensity must lie in (0, 1]: it is the probability that the logging "
            f"rule picked the served model. Got {int(bad.sum())} value(s) outside, "
            f"first {prop[first]} at row {first}. A zero propensity means the model "
            "could never have been logged there, so its outcome cannot be reweighted."
        )


def feedback_from_frame(
    df, *, action="model", quality="quality", cost=None, propensity=None, gold=None,
    judge=None,
):
    """Build a feedback array from the named columns of a DataFrame.

    Parameters
    ----------
    df : pandas.DataFrame or dask.dataframe.DataFrame
        One row per logged request. A Dask DataFrame gives lazy feedback, a
        Dask array (see :func:`make_feedback`).
    action : str, default="model"
        Column with the model that served each request.
    quality : str, default="quality"
        Column with the graded outcome.
    cost : str, default=None
        Column with the cost of each call; ``None`` means no cost column.
    propensity : str, default=None
        Column with the logged probability of the served model, if recorded.
    gold : str, default=None
        Column of bools, True where the grade is gold-standard (see
        :func:`make_feedback`); ``None`` means all grades are gold.
    judge : str, default=None
        Column with a judge grade for rows that carry both grades.

    Returns
    -------
    feedback : ndarray of shape (n_samples,)
        As returned by :func:`make_feedback`.

    Examples
    --------
    >>> import pandas as pd
    >>> from sklearn_causal_routing import feedback_from_frame
    >>> logs = pd.DataFrame({"model": ["a", "b"], "grade": [1.0, 0.0],
    ...                      "usd": [0.01, 0.002]})
    >>> fb = feedback_from_frame(logs, quality="grade", cost="usd")
    >>> fb["cost"]
    array([0.01 , 0.002])
    """
    columns = {
        "action": action, "quality": quality, "cost": cost, "propensity": propensity,
        "gold": gold, "judge": judge,
    }
    missing = [f"{k}={v!r}" for k, v in columns.items() if v is not None and v not in df.columns]
    if missing:
        raise KeyError(
            f"feedback_from_frame: column(s) {', '.join(missing)} not found in the "
            f"DataFrame; it has columns {list(df.columns)}. Name the columns, e.g. "
            "feedback_from_frame(df, action='model', quality='grade', cost='usd')."
        )
    if is_dask_collection(df):  # a Dask DataFrame: lazy columns, lazy feedback
        def get(name):
            if name is None:
                return None
            column = df[name]
            if column.dtype.kind not in "biuf":  # labels: plain objects, as numpy keeps them
                column = column.astype(object)
            return column.to_dask_array(lengths=True)
    else:
        get = lambda name: None if name is None else df[name].to_numpy()  # noqa: E731
    return make_feedback(
        get(action), get(quality), cost=get(cost), propensity=get(propensity),
        gold=get(gold), judge=get(judge),
    )


def records_propensities(y):
    """Whether every row of the feedback ``y`` carries its logged propensity.

    Examples
    --------
    >>> from sklearn_causal_routing import make_feedback
    >>> from sklearn_causal_routing._feedback import records_propensities
    >>> records_propensities(make_feedback(["a", "b"], [1.0, 0.0], propensity=[0.5, 0.5]))
    True
    >>> records_propensities(make_feedback(["a", "b"], [1.0, 0.0]))
    False
    """
    return not np.isnan(np.asarray(y["propensity"], dtype=np.float64)).any()


def check_feedback(y, *, name="y"):
    """Validate a feedback array and return it.

    Parameters
    ----------
    y : ndarray of shape (n_samples,)
        A structured array as built by :func:`make_feedback`.
    name : str, default="y"
        How the argument is called in the caller, for error messages.

    Returns
    -------
    y : ndarray of shape (n_samples,)
        The same array, checked.

    Raises
    ------
    TypeError
        If ``y`` is not a structured array with the feedback fields.
    ValueError
        If it is empty, not 1-D, or holds NaN / infinite outcomes or invalid
        propensities.

    Examples
    --------
    >>> from sklearn_causal_routing import check_feedback, make_feedback
    >>> check_feedback(make_feedback([0, 1], [1.0, 0.5])).shape
    (2,)
    >>> try:
    ...     check_feedback([0.3, 0.5])
    ... except TypeError as exc:
    ...     print(str(exc)[:40])
    y must be the logged feedback, a structu
    """
    fields = getattr(getattr(y, "dtype", None), "names", None)
    if fields is None:
        received = type(y).__name__
        if hasattr(y, "dtype"):
            received += f" of dtype {y.dtype}"
        raise TypeError(
            f"{name} must be the logged feedback, a structured array with fields "
            f"{FEEDBACK_FIELDS}; got {received}. Build it with {_FACTORY_CALL}, or "
            "pass the served models and outcomes separately: fit(X, t, y, cost=cost)."
        )
    missing = [f for f in FEEDBACK_FIELDS if f not in fields]
    if missing:
        raise TypeError(
            f"{name} is a structured array but lacks the field(s) {missing}; it has "
            f"{fields}. Build it with {_FACTORY_CALL}."
        )
    if y.ndim != 1:
        raise ValueError(f"{name} must be 1-D; got shape {y.shape}.")
    if y.shape[0] == 0:
        raise ValueError(f"{name} is empty: got 0 logged requests.")
    for field in ("quality", "cost"):
        values = y[field]
        if not np.all(np.isfinite(values)):
            raise ValueError(
                f"{name}['{field}'] contains {int((~np.isfinite(values)).sum())} NaN "
                f"or infinite value(s); rebuild it with {_FACTORY_CALL}, which names "
                "the rows."
            )
        _check_magnitude(np.asarray(values, dtype=np.float64), f"{name}['{field}']")
    _check_propensity_values(np.asarray(y["propensity"], dtype=np.float64))
    if "gold" in fields:
        if "judge" not in fields or y["gold"].dtype.kind != "b":
            raise TypeError(
                f"{name} has a 'gold' field but it is not bool, or the 'judge' field "
                f"is missing; build it with make_feedback(t, y, gold=gold, judge=judge)."
            )
        judge_rows = ~y["gold"]
        if np.any(judge_rows & ~np.isfinite(y["judge"])):
            raise ValueError(
                f"{name}['judge'] must hold the grade on judge-graded rows (gold False); "
                "rebuild it with make_feedback(t, y, gold=gold)."
            )
    return y


def resolve_feedback(y, quality=None, cost=None, propensity=None, *, caller="fit"):
    """Accept ``fit(X, feedback)`` and ``fit(X, t, y, cost=...)`` alike."""
    if quality is None:
        if cost is not None or propensity is not None:
            raise TypeError(
                f"{caller}: cost= and propensity= go with the separate form "
                f"{caller}(X, t, y, cost=cost, propensity=p); with a feedback array "
                "they are already inside it."
            )
        return check_feedback(y)
    if getattr(getattr(y, "dtype", None), "names", None) is not None:
        raise TypeError(
            f"{caller}: got a feedback array and a separate quality; pass either "
            f"{caller}(X, feedback) or {caller}(X, t, y, cost=cost)."
        )
    return make_feedback(y, quality, cost=cost, propensity=propensity)


def check_logs(estimator, X, y, quality=None, cost=None, propensity=None):
    """The fit preamble for logs: features, feedback and the logged models, checked.

    Every estimator fitted on logs starts here (scikit-survival's
    ``check_array_survival`` is the model): ``X`` goes through scikit-learn's
    ``validate_data`` (setting ``n_features_in_`` and ``feature_names_in_``),
    ``y`` is a feedback array or the ``(t, y, cost=..., propensity=...)`` form,
    both must have one row per logged request, and the logs must hold at least
    two models.

    Parameters
    ----------
    estimator : estimator
        The estimator being fitted.
    X : array-like of shape (n_samples, n_features)
    y : feedback array or array-like of shape (n_samples,)
        Logged feedback, or the served models when ``quality`` is given.
    quality, cost, propensity : array-like, default=None
        For the form ``fit(X, t, quality, cost=cost, propensity=p)``.

    Returns
    -------
    X : ndarray of shape (n_samples, n_features)
        Float features (:data:`~sklearn_causal_routing.utils.validation.FLOAT_DTYPES`).
    feedback : ndarray of shape (n_samples,)
        Checked feedback array.
    classes : ndarray of shape (n_models,)
        Sorted labels of the logged models.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_causal_routing import DoublyRobustUtility
    >>> from sklearn_causal_routing._feedback import check_logs
    >>> X, fb, classes = check_logs(DoublyRobustUtility(), np.eye(3), ["a", "b", "a"],
    ...                             [1.0, 0.0, 1.0], cost=[1.0, 0.1, 1.0])
    >>> X.dtype, classes.tolist()
    (dtype('float64'), ['a', 'b'])
    """
    reject_dask(f"{type(estimator).__name__}.fit", X=X, y=y, quality=quality)
    X = validate_data(estimator, X, dtype=FLOAT_DTYPES)
    fb = resolve_feedback(y, quality, cost, propensity)
    check_same_length(X, fb)
    classes = np.unique(fb["action"])
    check_enough_models(classes)
    return X, fb, classes
