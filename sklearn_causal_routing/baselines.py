"""Reference routers with the same interface, to compare against on your own logs."""

from numbers import Real

import numpy as np
from sklearn.base import BaseEstimator, clone
from sklearn.utils.validation import check_is_fitted

from ._compat import HasMethods, Interval, _fit_context, validate_data
from ._feedback import _check_same_length, _encode_actions, _resolve_feedback
from ._propensity import _check_enough_models
from ._utility import (
    DoublyRobustUtility,
    fit_per_model,
    fit_utility_cached,
    predict_per_model,
    warn_small_arms,
)
from .base import RouterMixin

__all__ = ["DecoupledRouter", "SingleModelRouter"]

_FIT_DOC = """
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


def _prepare(estimator, X, y, quality, cost, propensity):
    X = validate_data(estimator, X, dtype=[np.float64, np.float32])
    fb = _resolve_feedback(y, quality, cost, propensity)
    _check_same_length(X, fb)
    classes = np.unique(fb["action"])
    _check_enough_models(classes)
    return X, fb, classes


def _one_hot(idx, k):
    out = np.zeros((len(idx), k))
    out[np.arange(len(idx)), idx] = 1.0
    return out


class DecoupledRouter(RouterMixin, BaseEstimator):
    """Predict-then-select: per-model regression on the observed rows only.

    For each model, regress quality and cost on the queries that model served,
    then route each new query to the model with the highest predicted
    ``quality - cost_weight * cost``. This is what most teams build first; it
    ignores how the logged model was chosen, so it extrapolates each model's
    outcome to queries unlike those it was logged on.

    Parameters
    ----------
    quality_model : regressor, default=None
        Cloned per model; ``None`` uses the same ``RidgeCV`` default as
        :class:`DoublyRobustUtility`.
    cost_model : regressor, default=None
        Likewise for cost.
    cost_weight : float, default=0.0
        Utility is ``quality - cost_weight * cost``.

    Attributes
    ----------
    classes_ : ndarray of shape (n_models,)
        Model labels.
    quality_models_, cost_models_ : list
        One fitted regressor (or constant) per model.
    n_features_in_ : int
        Number of features seen during fit.

    See Also
    --------
    RegretRouter : Corrects for the logging bias and minimises regret.

    Examples
    --------
    >>> from sklearn_causal_routing.baselines import DecoupledRouter
    >>> from sklearn_causal_routing.datasets import RoutingWorld
    >>> logs = RoutingWorld(random_state=0).sample(500, random_state=1).log(random_state=2)
    >>> DecoupledRouter(cost_weight=0.2).fit(logs.X, logs.feedback).predict(logs.X[:2]).shape
    (2,)
    """

    _parameter_constraints = {
        "quality_model": [HasMethods(["fit", "predict"]), None],
        "cost_model": [HasMethods(["fit", "predict"]), None],
        "cost_weight": [Interval(Real, 0, None, closed="left")],
    }

    def __init__(self, quality_model=None, cost_model=None, *, cost_weight=0.0):
        self.quality_model = quality_model
        self.cost_model = cost_model
        self.cost_weight = cost_weight

    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y, quality=None, *, cost=None, propensity=None):
        X, fb, self.classes_ = _prepare(self, X, y, quality, cost, propensity)
        action = _encode_actions(fb["action"], self.classes_)
        rows = np.arange(X.shape[0])
        small = []
        self.quality_models_ = fit_per_model(
            X, np.asarray(fb["quality"]), action, rows, self.classes_, self.quality_model, small
        )
        self.cost_models_ = fit_per_model(
            X, np.asarray(fb["cost"]), action, rows, self.classes_, self.cost_model, small
        )
        warn_small_arms(small)
        return self

    fit.__doc__ = "Fit one quality and one cost regressor per model.\n" + _FIT_DOC

    def predict_utility(self, X):
        """Predicted utility of every model for each query.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Query features.

        Returns
        -------
        U : ndarray of shape (n_samples, n_models)
            Predicted ``quality - cost_weight * cost``.
        """
        check_is_fitted(self)
        X = validate_data(self, X, dtype=[np.float64, np.float32], reset=False)
        quality = predict_per_model(self.quality_models_, X)
        return quality - self.cost_weight * predict_per_model(self.cost_models_, X)

    decision_function = predict_utility

    def predict_proba(self, X):
        """One-hot routing distribution of :meth:`predict`.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Query features.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_models)
            One-hot rows.
        """
        return _one_hot(np.argmax(self.decision_function(X), axis=1), len(self.classes_))


class SingleModelRouter(RouterMixin, BaseEstimator):
    """Route every query to one model: a given one, or the best on the logs.

    With ``model=None`` the model is chosen by its doubly robust estimate of
    mean utility on the training logs (biased logs make the naive mean of each
    model's observed outcomes misleading).

    Parameters
    ----------
    model : str or int, default=None
        The model to always use; ``None`` picks the best estimated one.
    cost_weight : float, default=0.0
        Utility is ``quality - cost_weight * cost``.
    utility : DoublyRobustUtility, default=None
        Estimator of the models' utilities when ``model=None``; ``None`` uses
        ``DoublyRobustUtility(random_state=0)``.

    Attributes
    ----------
    classes_ : ndarray of shape (n_models,)
        Model labels in the logs.
    model_ : str or int
        The model every query goes to.
    values_ : ndarray of shape (n_models,) or None
        Estimated mean utility of each model (when ``model=None``).
    n_features_in_ : int
        Number of features seen during fit.

    Examples
    --------
    >>> from sklearn_causal_routing.baselines import SingleModelRouter
    >>> from sklearn_causal_routing.datasets import RoutingWorld
    >>> logs = RoutingWorld(random_state=0).sample(500, random_state=1).log(random_state=2)
    >>> SingleModelRouter(model="large").fit(logs.X, logs.feedback).predict(logs.X[:2])
    array(['large', 'large'], dtype='<U6')
    """

    _parameter_constraints = {
        "model": [str, Real, None],
        "cost_weight": [Interval(Real, 0, None, closed="left")],
        "utility": [HasMethods(["fit", "utilities"]), None],
    }

    def __init__(self, model=None, *, cost_weight=0.0, utility=None):
        self.model = model
        self.cost_weight = cost_weight
        self.utility = utility

    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y, quality=None, *, cost=None, propensity=None):
        X, fb, self.classes_ = _prepare(self, X, y, quality, cost, propensity)
        if self.model is not None:
            _encode_actions(np.asarray([self.model]), self.classes_, name="model")
            self.model_ = self.model
            self.values_ = None
            return self
        utility = DoublyRobustUtility(random_state=0) if self.utility is None else clone(self.utility)
        self.values_ = fit_utility_cached(utility, X, fb).utilities(self.cost_weight).mean(axis=0)
        self.model_ = self.classes_[int(np.argmax(self.values_))]
        return self

    fit.__doc__ = "Pick the model (estimating every model's value if needed).\n" + _FIT_DOC

    def predict(self, X):
        """``model_`` for every query.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Query features.

        Returns
        -------
        labels : ndarray of shape (n_samples,)
            All equal to ``model_``.
        """
        check_is_fitted(self)
        X = validate_data(self, X, dtype=[np.float64, np.float32], reset=False)
        return np.full(X.shape[0], self.model_, dtype=self.classes_.dtype)

    def predict_proba(self, X):
        """One-hot routing distribution on ``model_``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Query features.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_models)
            One-hot rows.
        """
        labels = self.predict(X)
        return _one_hot(_encode_actions(labels, self.classes_), len(self.classes_))
