"""Behaviour shared by every router: routing decisions, with exploration, scored off-policy."""

import numpy as np

from ._dask_policy import lazy_method, lazy_score
from ._exploration import Routes, route_scores
from ._feedback import resolve_feedback
from .utils._param import check_nested_defaults
from .utils.validation import is_dask_collection

__all__ = ["ROUTER_FIT_DOC", "RouterMixin", "Routes", "check_nested_defaults"]

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
        if is_dask_collection(X):
            return lazy_method(self, "predict", X, dtype=np.asarray(self.classes_).dtype)
        scores = self.decision_function(X)
        return self.classes_[np.argmax(scores, axis=1)]

    def route(self, X, *, exploration=0.0, shares=None, pool=None, random_state=None,
              **predict_params):
        """Route each query with controlled exploration; return each draw's probability.

        Per query, the model is drawn from a mixture: with probability
        ``1 - exploration - sum(shares.values())`` the router's own decision
        (its best-scored model in ``pool``), ``exploration`` spread uniformly
        over ``pool``, and each model named in ``shares`` its fixed share. The
        probability of the drawn model is returned with it: written to the
        log as the row's ``propensity``, it makes the next fit on those logs
        unbiased by construction (see :func:`~sklearn_causal_routing.write_logs`).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Query features.
        exploration : float, default=0.0
            Probability in [0, 1) spread uniformly over the pool, so that every
            pool model is logged on every kind of query.
        shares : dict of {model label: float}, default=None
            Fixed traffic share in [0, 1) of each named model, on every query.
            A model the router was never fitted on may be named (a new model
            entering the pool has no logs; its share is its only traffic).
        pool : sequence of model labels, default=None
            The models that may be chosen. ``None``: ``classes_`` followed by
            the new models of ``shares``. A model left out is never chosen:
            the router's decision becomes its best-scored model in the pool.
        random_state : int, RandomState instance or None, default=None
            Seed of the draws; the same seed gives the same routes. Pass one
            ``RandomState`` to consecutive batches for one stream of draws.
        **predict_params
            Passed to ``decision_function`` (e.g. ``cost_weight=`` of
            :class:`IntervalRouter`).

        Returns
        -------
        routes : Routes
            A named tuple: ``model`` (n_samples,), the drawn models;
            ``propensity`` (n_samples,), the probability of each draw;
            ``proba`` (n_samples, n_pool), the routing distribution; ``pool``
            (n_pool,), the models of its columns.

        Notes
        -----
        With ``exploration=0``, no shares and the default pool, ``model`` is
        :meth:`predict` and every propensity is 1. The router's scores are its
        ``decision_function``; a router without one (``SingleModelRouter``)
        is scored by its ``predict_proba``.

        Removing a model with ``pool`` needs no refit and is exact for the
        routing rule (the best-scored remaining model, the rule ``predict``
        would follow had the removed model scored lowest) but approximate for
        the policy: it was not trained without that model, so its ranking of
        the rest is the one it learnt beside it. A router whose scores do not
        rank the rest (one that sends every query to one model, or a
        ``RegretRouter`` that fell back) raises an error when that model
        leaves the pool.

        Examples
        --------
        >>> from sklearn_causal_routing.baselines import DecoupledRouter
        >>> from sklearn_causal_routing.datasets import RoutingWorld
        >>> logs = RoutingWorld(random_state=0).sample(500, random_state=1).log(random_state=2)
        >>> router = DecoupledRouter(cost_weight=0.5).fit(logs.X, logs.feedback)
        >>> routes = router.route(logs.X, exploration=0.1, shares={"xl": 0.05},
        ...                       random_state=0)
        >>> routes.pool.tolist()
        ['large', 'medium', 'small', 'tiny', 'xl']
        >>> routes.proba[0].round(3).tolist()
        [0.02, 0.02, 0.02, 0.87, 0.07]
        >>> float(routes.propensity.min()) >= 0.02
        True
        """
        if hasattr(self, "decision_function"):
            scores = self.decision_function(X, **predict_params)
        else:
            scores = self.predict_proba(X, **predict_params)
        return route_scores(scores, self.classes_, exploration=exploration, shares=shares,
                            pool=pool, random_state=random_state, router=type(self).__name__)

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
            under this router; on Dask input, a lazy Dask scalar (the
            evaluation stage is fitted at once, the decisions and their
            values are mapped over the partitions when computed).
        """
        from .metrics import policy_value

        if is_dask_collection(X) or is_dask_collection(y):
            return lazy_score(self, X, y, quality, cost, propensity)
        fb = resolve_feedback(y, quality, cost, propensity, caller="score")
        return policy_value(self.predict(X), X, fb, cost_weight=self.cost_weight)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.required = True
        return tags
