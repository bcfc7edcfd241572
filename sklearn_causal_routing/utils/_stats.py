"""Small numerical helpers: effective sample size, softmax, confidence bounds."""

import numpy as np

__all__ = ["kish_ess", "mean_lcb", "softmax"]


def kish_ess(weights, groups=None, n_groups=None):
    """Kish's effective sample size ``(sum w)^2 / sum w^2``, overall or per group.

    Parameters
    ----------
    weights : ndarray of shape (n,)
        Non-negative importance weights.
    groups : ndarray of int of shape (n,), default=None
        Group of each weight (e.g. the logged model's column); with it the result
        has one entry per group.
    n_groups : int, default=None
        Number of groups (``groups.max() + 1`` when ``None``).

    Returns
    -------
    ess : float or ndarray of shape (n_groups,)
        0 where every weight is 0.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_causal_routing.utils._stats import kish_ess
    >>> kish_ess(np.ones(4)), kish_ess(np.array([1.0, 0, 0, 0]))
    (4.0, 1.0)
    >>> kish_ess(np.array([1.0, 1, 2, 0]), np.array([0, 0, 1, 1]), 3)
    array([2., 1., 0.])
    """
    w = np.asarray(weights, dtype=np.float64)
    if groups is None:
        total_sq = float(np.sum(w * w))
        return float(np.sum(w) ** 2 / total_sq) if total_sq > 0 else 0.0
    sum_w = np.bincount(groups, weights=w, minlength=n_groups or 0)
    sum_w2 = np.bincount(groups, weights=w * w, minlength=n_groups or 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(sum_w2 > 0, sum_w**2 / sum_w2, 0.0)


def mean_lcb(values, z, weight=None):
    """Mean of paired differences and its one-sided normal lower confidence bound.

    ``mean - z * se``. Unweighted, ``se = sd / sqrt(n)`` (``ddof=1``); with
    ``weight`` (rows of weight 0 dropped), the weighted mean and
    ``se = sqrt(n / (n - 1) * sum w_i**2 (v_i - mean)**2) / sum w_i``, which
    is the unweighted one for equal weights. Identical pairs, or a single
    one, give a bound equal to the mean (no evidence of a gain).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_causal_routing.utils._stats import mean_lcb
    >>> mean_lcb(np.array([1.0, 3.0]), 1.0)
    (2.0, 1.0)
    >>> v = np.array([1.0, 3.0, 2.0])
    >>> mean_lcb(v, 1.0) == mean_lcb(v, 1.0, weight=np.full(3, 0.5))
    True
    >>> mean_lcb(v, 1.0, weight=np.array([1.0, 1.0, 0.0]))
    (2.0, 1.0)
    """
    if weight is None:
        mean = float(np.mean(values))
        sd = float(np.std(values, ddof=1)) if values.size > 1 else 0.0
        return mean, float(mean - z * sd / np.sqrt(values.size))
    keep = weight > 0
    values, weight = values[keep], weight[keep]
    total = float(np.sum(weight))
    mean = float(np.sum(weight * values) / total)
    n = values.size
    if n < 2:
        return mean, mean
    se = float(np.sqrt(n / (n - 1) * np.sum(weight**2 * (values - mean) ** 2)) / total)
    return mean, mean - z * se


def softmax(z):
    """Row-wise softmax of a float matrix (a new array; ``z`` is left alone).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_causal_routing.utils._stats import softmax
    >>> softmax(np.array([[0.0, 0.0], [0.0, np.log(3.0)]]))
    array([[0.5 , 0.5 ],
           [0.25, 0.75]])
    """
    z = z - z.max(axis=1, keepdims=True)
    np.exp(z, out=z)
    z /= z.sum(axis=1, keepdims=True)
    return z
