"""Behaviour shared by every router: routing decisions scored off-policy."""

import numpy as np

from ._feedback import _resolve_feedback

__all__ = ["RouterMixin", "check_nested_defaults"]


def check_nested_defaults(estimator, params, defaults):
    """Explain ``set_params(stage__param=...)`` on a stage left at ``None``.

    scikit-learn's ``set_params`` cannot reach a parameter of a nested estimator
    that is ``None`` (built only inside ``fit``) and fails with a bare
    AttributeError; this raises a ValueError showing the call that works.
    ``defaults`` maps each such parameter name to the expression of its default.
    """
    for key in sorted(params):
        stage, sep, _ = key.partition("__")
        if sep and stage in defaults and getattr(estimator, stage) is None and stage not in params:
            name = type(estimator).__name__
            raise ValueError(
                f"Cannot set {key!r}: {name}({stage}=None) builds its default "
                f"{stage} only inside fit, so there is nothing to set it on yet. Pass "
                f"it explicitly, e.g. GridSearchCV({name}({stage}={defaults[stage]}), "
                f"{{{key!r}: [...]}})."
            )


class NestedDefaultsMixin:
    """``set_params`` that explains nested keys on stages left at ``None``.

    Subclasses list, in ``_nested_defaults``, each parameter that holds an
    estimator built only inside ``fit`` when ``None``, mapped to the
    expression of its default (see :func:`check_nested_defaults`).
    """

    _nested_defaults = {}

    def set_params(self, **params):
        """Set parameters; nested keys need the sub-estimator given explicitly.

        Parameters
        ----------
        **params : dict
            Estimator parameters, ``stage__param`` style for nested ones.

        Returns
        -------
        self : estimator
            This estimator.
        """
        check_nested_defaults(self, params, self._nested_defaults)
        return super().set_params(**params)


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

        fb = _resolve_feedback(y, quality, cost, propensity, caller="score")
        return policy_value(self.predict(X), X, fb, cost_weight=self.cost_weight)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.required = True
        return tags
