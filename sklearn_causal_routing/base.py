"""Behaviour shared by every router: routing decisions scored off-policy."""

import numpy as np

from ._feedback import resolve_feedback
from .utils._param import check_nested_defaults

__all__ = ["ROUTER_FIT_DOC", "RouterMixin", "check_nested_defaults"]

#: Parameters and Returns of every router's ``fit(X, y, quality=None, *, cost=None,
#: propensity=None)``, appended to a one-line summary as its docstring.
ROUTER_FIT_DOC = """
        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Query features.
        y : feedback array or array-like of shape (n_samples,)
            Logged feedback, or logged model labels with ``quality``.
        quality, cost, propensity : array-like, default=None
            For the form ``fit(X, t, quality, cost=cost)``.

        Returns
        -------
        self
            Fitted router.
"""


class RouterMixin:
    """Mixin for routers: ``score`` is the off-policy value of ``predict``.

    A router has ``classes_`` (model labels), ``cost_weight`` and
    ``decision_function(X)`` scoring every model per query. This mixin gives it
    ``predict(X)`` (the best-scored model) and ``score(X, feedback)``, so that
    ``GridSearchCV(router)`` and ``cross_val_score(router)`` need no scorer.
    Routers deliberately do not inherit ``ClassifierMixin``: scikit-learn
    would then stratify folds on the structured feedback and fail.

    Examples
    --------
    >>> from sklearn_causal_routing.base import RouterMixin
    >>> from sklearn_causal_routing.baselines import SingleModelRouter
    >>> issubclass(SingleModelRouter, RouterMixin)
    True
    """

    def predict(self, X):
        """Model to route each query to: the highest of :meth:`decision_function`.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Query features.

        Returns
        -------
        labels : ndarray of shape (n_samples,)
            Labels from ``classes_``.
        """
        scores = self.decision_function(X)
        return self.classes_[np.argmax(scores, axis=1)]

    def score(self, X, y, quality=None, *, cost=None, propensity=None):
        """Off-policy estimate of the mean utility of this router's decisions.

        The decisions are scored on held-out logs by a doubly robust estimator
        that is fixed (:func:`~sklearn_causal_routing.metrics.evaluation_utility`:
        the default :class:`DoublyRobustUtility` with ``random_state=0``,
        unclipped when the logs carry propensities), so that it does not
        depend on the router's own hyperparameters and ``GridSearchCV``
        compares candidates on an equal footing. Higher is better.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Held-out query features.
        y : feedback array or array-like of shape (n_samples,)
            Held-out logged feedback (or logged labels with ``quality``).
        quality, cost, propensity : array-like, default=None
            For the form ``score(X, t, quality, cost=cost)``.

        Returns
        -------
        value : float
            Estimated mean of ``quality - cost_weight * cost`` per query
            under this router.
        """
        from .metrics import policy_value

        fb = resolve_feedback(y, quality, cost, propensity, caller="score")
        return policy_value(self.predict(X), X, fb, cost_weight=self.cost_weight)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.required = True
        return tags
