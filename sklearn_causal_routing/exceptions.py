"""Warnings and errors raised by sklearn-causal-routing.

Each warning has its own class so that users can filter it precisely, e.g.
``warnings.simplefilter("ignore", OverlapWarning)``.
"""

__all__ = [
    "DriftWarning",
    "FallbackWarning",
    "JudgeGradeWarning",
    "OverlapWarning",
    "SmallArmWarning",
    "SmallGoldWarning",
]


class OverlapWarning(UserWarning):
    """The logs give poor support to some model.

    Raised when some model was logged so rarely, or with such small
    propensities, that reweighting its outcomes rests on few effective
    samples. Counterfactual utilities for that model are then noisy, and a
    router may be unable to learn when to choose it.

    Examples
    --------
    >>> import warnings
    >>> from sklearn_causal_routing.exceptions import OverlapWarning
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore", OverlapWarning)
    ...     warnings.warn("few effective samples", OverlapWarning)
    """


class SmallArmWarning(UserWarning):
    """Some model has too few logged rows in a cross-fitting fold.

    Its outcome model then falls back to the mean outcome of that model's
    rows (or to the overall mean when it has none), and the warning says so.

    Examples
    --------
    >>> from sklearn_causal_routing.exceptions import SmallArmWarning
    >>> issubclass(SmallArmWarning, UserWarning)
    True
    """


class SmallGoldWarning(UserWarning):
    """Too few gold-standard grades to estimate the judge's bias for some model.

    Raised by :class:`~sklearn_causal_routing.IntegrativeUtility` when the
    effective number of gold-graded rows of a model (Kish's effective sample
    size under the inverse gold propensities) is small: that model's bias
    estimate, and hence its corrected judge grades, are then noisy.

    Examples
    --------
    >>> from sklearn_causal_routing.exceptions import SmallGoldWarning
    >>> issubclass(SmallGoldWarning, UserWarning)
    True
    """


class JudgeGradeWarning(UserWarning):
    """Judge grades were used as if they were gold-standard grades.

    Raised by :class:`~sklearn_causal_routing.DoublyRobustUtility` when the
    feedback marks some rows as judge-graded (``make_feedback(..., gold=...)``):
    it treats every grade as gold, so the judge's bias passes into the
    utilities. :class:`~sklearn_causal_routing.IntegrativeUtility` corrects it.

    Examples
    --------
    >>> import warnings
    >>> from sklearn_causal_routing.exceptions import JudgeGradeWarning
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore", JudgeGradeWarning)
    ...     warnings.warn("judge grades used as gold", JudgeGradeWarning)
    """


class FallbackWarning(UserWarning):
    """A trained router routes every query to the best single model instead.

    Raised by :class:`~sklearn_causal_routing.RegretRouter` (with its default
    ``fallback="best_single"``) when the cross-fitted doubly robust lower
    confidence bound on the gain of its policy over the best single model
    is not above zero: the logs give no evidence that routing per query
    beats always calling that model. The message names the model, the
    estimated gain and its bound; the trained policy is kept, and
    ``fallback=None`` turns the check off.

    Examples
    --------
    >>> import warnings
    >>> from sklearn_causal_routing.exceptions import FallbackWarning
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore", FallbackWarning)
    ...     warnings.warn("routing everything to 'large'", FallbackWarning)
    """


class DriftWarning(UserWarning):
    """A router's value on new logs differs from the value estimated before.

    Raised by :meth:`RegretRouter.partial_fit
    <sklearn_causal_routing.RegretRouter.partial_fit>` before it updates: the
    doubly robust value of the router's decisions on the new logs lies
    outside the interval of the value estimated when it was last fitted (the
    interval of their difference excludes zero). The world, the traffic or the
    logging changed; the numbers are in ``drift_report_``.

    Examples
    --------
    >>> import warnings
    >>> from sklearn_causal_routing.exceptions import DriftWarning
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore", DriftWarning)
    ...     warnings.warn("value fell from 0.61 to 0.48", DriftWarning)
    """
