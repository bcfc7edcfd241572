"""Reference routers with the same interface, to compare against on your own logs.

- :class:`SingleModelRouter`: one model for every query (the bar to beat).
- :class:`DecoupledRouter`: per-model regression on the observed rows, then argmax.
- :class:`ImitationRouter`: a classifier of the logged model (what runs today).
- :class:`CarrotRouter`: CARROT's plug-in router, with or without a doubly robust
  correction of the logging bias.
- :class:`KNNRouter`: RouterBench's k-nearest-neighbour router.
"""

from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, clone
from sklearn.linear_model import RidgeCV
from sklearn.neighbors import NearestNeighbors
from sklearn.utils import get_tags
from sklearn.utils.parallel import Parallel, delayed

from ._feedback import check_logs
from ._pooled import is_pooled
from ._propensity import default_propensity_estimator, expand_proba
from ._utility import (
    DoublyRobustUtility,
    fit_per_model,
    fit_utility_cached,
    predict_per_model,
    warn_small_arms,
)
from .base import ROUTER_FIT_DOC, RouterMixin
from .exceptions import SmallArmWarning
from .utils._compat import HasMethods, Interval, StrOptions, _fit_context
from .utils._param import NestedDefaultsMixin
from .utils._parallel import N_JOBS_CONSTRAINT, limited, thread_budget
from .utils._warnings import warn
from .utils.validation import check_cost_weight, check_features, encode_labels, int_seed

__all__ = [
    "CarrotRouter",
    "DecoupledRouter",
    "ImitationRouter",
    "KNNRouter",
    "SingleModelRouter",
]

def _one_hot(idx, k):
    return np.eye(k)[idx]


class _PlugInRouterMixin:
    """Routers that predict every model's quality and cost, then take the argmax.

    Subclasses implement ``_predict_outcomes(X) -> (quality, cost)`` on
    validated features; the cost weight is read at prediction time, so
    ``set_params(cost_weight=...)``, or ``predict(X, cost_weight=...)`` for one
    call, re-routes a fitted router without refitting it.
    """

    def predict_outcomes(self, X):
        """Predicted quality and cost of every model for each query.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Query features.

        Returns
        -------
        quality : ndarray of shape (n_samples, n_models)
            Predicted quality; columns follow ``classes_``.
        cost : ndarray of shape (n_samples, n_models)
            Predicted cost.
        """
        X = check_features(self, X)
        return self._predict_outcomes(X)

    def predict_utility(self, X, cost_weight=None):
        """Predicted utility of every model for each query.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Query features.
        cost_weight : float or array-like of shape (n_samples,), default=None
            Cost weight(s) to route at, one for all queries or one per query;
            ``None`` uses the router's ``cost_weight``.

        Returns
        -------
        U : ndarray of shape (n_samples, n_models)
            Predicted ``quality - cost_weight * cost``; columns follow
            ``classes_``.
        """
        quality, cost = self.predict_outcomes(X)
        return quality - self._weight_at_predict(cost_weight, quality.shape[0]) * cost

    def _weight_at_predict(self, cost_weight, n):
        if cost_weight is None:
            return self.cost_weight
        w = check_cost_weight(cost_weight, n=n)
        return w[:, None]

    def decision_function(self, X, cost_weight=None):
        """Predicted utility of every model (same as :meth:`predict_utility`).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Query features.
        cost_weight : float or array-like of shape (n_samples,), default=None
            As in :meth:`predict_utility`.

        Returns
        -------
        U : ndarray of shape (n_samples, n_models)
            Its row-wise argmax is :meth:`predict`.
        """
        return self.predict_utility(X, cost_weight)

    def predict(self, X, cost_weight=None):
        """Model to route each query to: the highest predicted utility.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Query features.
        cost_weight : float or array-like of shape (n_samples,), default=None
            Cost weight(s) to route at; ``None`` uses the router's
            ``cost_weight``. Routing at another weight needs no refit.

        Returns
        -------
        labels : ndarray of shape (n_samples,)
            Labels from ``classes_``.
        """
        U = self.decision_function(X, cost_weight)  # checks that the router is fitted
        return self.classes_[np.argmax(U, axis=1)]

    def predict_proba(self, X, cost_weight=None):
        """One-hot routing distribution of :meth:`predict`.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Query features.
        cost_weight : float or array-like of shape (n_samples,), default=None
            As in :meth:`predict`.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_models)
            One-hot rows.
        """
        U = self.decision_function(X, cost_weight)
        return _one_hot(np.argmax(U, axis=1), len(self.classes_))


class DecoupledRouter(NestedDefaultsMixin, _PlugInRouterMixin, RouterMixin, BaseEstimator):
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
        Utility is ``quality - cost_weight * cost``. Read at prediction time:
        changing it with ``set_params`` needs no refit.
    n_jobs : int or None, default=None
        Regressions to fit at once, as joblib tasks (``None``: 1 unless in a
        ``joblib.parallel_config`` context; ``-1``: every core). The result
        does not depend on it (``docs/scaling.md``).

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
    CarrotRouter : The same plug-in rule, optionally fitted to doubly robust
        pseudo-outcomes that correct the logging bias.
    RegretRouter : Corrects for the logging bias and minimises regret.

    Examples
    --------
    >>> from sklearn_causal_routing.baselines import DecoupledRouter
    >>> from sklearn_causal_routing.datasets import RoutingWorld
    >>> logs = RoutingWorld(random_state=0).sample(500, random_state=1).log(random_state=2)
    >>> DecoupledRouter(cost_weight=0.2).fit(logs.X, logs.feedback).predict(logs.X[:2]).shape
    (2,)
    """

    _nested_defaults = {"quality_model": "RidgeCV()", "cost_model": "RidgeCV()"}

    _parameter_constraints = {
        "quality_model": [HasMethods(["fit", "predict"]), None],
        "cost_model": [HasMethods(["fit", "predict"]), None],
        "cost_weight": [Interval(Real, 0, None, closed="left")],
        "n_jobs": N_JOBS_CONSTRAINT,
    }

    def __init__(self, quality_model=None, cost_model=None, *, cost_weight=0.0, n_jobs=None):
        self.quality_model = quality_model
        self.cost_model = cost_model
        self.cost_weight = cost_weight
        self.n_jobs = n_jobs

    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y, quality=None, *, cost=None, propensity=None):
        X, fb, self.classes_ = check_logs(self, X, y, quality, cost, propensity)
        self.quality_models_, self.cost_models_ = _fit_observed_rows(
            X, fb, self.classes_, self.quality_model, self.cost_model, self.n_jobs
        )
        return self

    fit.__doc__ = "Fit one quality and one cost regressor per model.\n" + ROUTER_FIT_DOC

    def _predict_outcomes(self, X):
        return predict_per_model(self.quality_models_, X), predict_per_model(self.cost_models_, X)


def _fit_observed_rows(X, fb, classes, quality_model, cost_model, n_jobs=None):
    """Per-model quality and cost regressions on the rows each model served."""
    action = encode_labels(fb["action"], classes)
    rows, small = np.arange(X.shape[0]), []
    quality, cost = (
        fit_per_model(X, np.asarray(fb[name]), action, rows, classes, est, small, n_jobs)
        for name, est in (("quality", quality_model), ("cost", cost_model))
    )
    warn_small_arms(small)
    return quality, cost


class SingleModelRouter(NestedDefaultsMixin, RouterMixin, BaseEstimator):
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

    See Also
    --------
    ImitationRouter : The other reference that ignores the query's outcome
        structure: it copies the logging rule.
    sklearn_causal_routing.metrics.policy_value : The off-policy value behind
        :meth:`score`.

    Examples
    --------
    >>> from sklearn_causal_routing.baselines import SingleModelRouter
    >>> from sklearn_causal_routing.datasets import RoutingWorld
    >>> logs = RoutingWorld(random_state=0).sample(500, random_state=1).log(random_state=2)
    >>> SingleModelRouter(model="large").fit(logs.X, logs.feedback).predict(logs.X[:2])
    array(['large', 'large'], dtype='<U6')
    """

    _nested_defaults = {"utility": "DoublyRobustUtility()"}

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
        X, fb, self.classes_ = check_logs(self, X, y, quality, cost, propensity)
        if self.model is not None:
            encode_labels(np.asarray([self.model]), self.classes_, name="model",
                          known="the models in the logs (classes_)")
            self.model_ = self.model
            self.values_ = None
            return self
        utility = DoublyRobustUtility(random_state=0) if self.utility is None else clone(self.utility)
        self.values_ = fit_utility_cached(utility, X, fb).utilities(self.cost_weight).mean(axis=0)
        self.model_ = self.classes_[int(np.argmax(self.values_))]
        return self

    fit.__doc__ = "Pick the model (estimating every model's value if needed).\n" + ROUTER_FIT_DOC

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
        X = check_features(self, X)
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
        return _one_hot(encode_labels(labels, self.classes_), len(self.classes_))


class ImitationRouter(NestedDefaultsMixin, RouterMixin, BaseEstimator):
    """Imitate the logging rule: a classifier of the logged model, then argmax.

    The "what we run today" baseline. It learns which model the old rule sent
    each query to and routes every new query to the most likely one. It reads
    neither the outcomes nor the costs of the logs, so ``cost_weight`` changes
    no decision (it only sets the utility that :meth:`score` reports).

    Parameters
    ----------
    estimator : classifier, default=None
        Any scikit-learn classifier with ``predict_proba``, cloned and fitted
        on the integer-encoded logged models. ``None`` uses the library's
        propensity default (the XGBoost classifier of
        :class:`PropensityModel`), so that ``predict_proba`` is the same
        estimate of the logging rule the doubly robust routers reweight with.
    cost_weight : float, default=0.0
        Utility ``quality - cost_weight * cost`` reported by :meth:`score`;
        ignored by :meth:`fit` and :meth:`predict`.
    random_state : int, RandomState instance or None, default=None
        Seed of the default XGBoost classifier (ignored for a user estimator).

    Attributes
    ----------
    classes_ : ndarray of shape (n_models,)
        Model labels, sorted.
    estimator_ : classifier
        The fitted classifier (trained on integer-encoded labels).
    n_features_in_ : int
        Number of features seen during fit.

    See Also
    --------
    PropensityModel : The same classifier, used to estimate propensities.
    SingleModelRouter : The other policy-free reference: one model for all.

    Notes
    -----
    With :math:`\\hat e_t(x)` the classifier's estimate of
    :math:`P(t_{\\text{logged}} = t \\mid x)`, the router is
    :math:`\\hat\\pi(x) = \\arg\\max_t \\hat e_t(x)`: the *mode* of the logging
    rule. It can be much worse than the rule itself, and than any single
    model. The old rule was chosen for reasons outside the logs (habit,
    latency, a stale price list, a bias toward the big model on hard
    queries); imitating it carries them over, and taking the mode of a
    stochastic rule removes the exploration that made it safe, routing every
    query of a region to the one model that was only *mostly* chosen there.
    Nothing in the imitation is corrected by the observed outcomes. Report it
    next to the learned routers to show what learning from outcomes adds.

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn_causal_routing.baselines import ImitationRouter
    >>> from sklearn_causal_routing.datasets import RoutingWorld
    >>> logs = RoutingWorld(random_state=0).sample(500, random_state=1).log(random_state=2)
    >>> router = ImitationRouter(LogisticRegression()).fit(logs.X, logs.feedback)
    >>> router.predict_proba(logs.X[:2]).shape
    (2, 4)
    >>> bool((router.predict(logs.X) == logs.t).mean() > 0.5)
    True
    """

    _nested_defaults = {"estimator": "XGBClassifier()"}

    _parameter_constraints = {
        "estimator": [HasMethods(["fit", "predict_proba"]), None],
        "cost_weight": [Interval(Real, 0, None, closed="left")],
        "random_state": ["random_state"],
    }

    def __init__(self, estimator=None, *, cost_weight=0.0, random_state=None):
        self.estimator = estimator
        self.cost_weight = cost_weight
        self.random_state = random_state

    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y, quality=None, *, cost=None, propensity=None):
        X, fb, self.classes_ = check_logs(self, X, y, quality, cost, propensity)
        action = encode_labels(fb["action"], self.classes_)
        if self.estimator is None:
            seed = None if self.random_state is None else int_seed(self.random_state)
            est = default_propensity_estimator(seed)
        else:
            est = clone(self.estimator)
        self.estimator_ = est.fit(X, action)
        return self

    fit.__doc__ = (
        "Fit the classifier of the logged model (outcomes and costs are unused).\n" + ROUTER_FIT_DOC
    )

    def predict_proba(self, X):
        """Estimated probability that the logging rule picks each model.

        Sampling from these rows replays the (estimated) stochastic logging
        rule; :meth:`predict` takes their argmax.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Query features.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_models)
            Columns follow ``classes_``.
        """
        X = check_features(self, X)
        return expand_proba(self.estimator_, X, len(self.classes_))

    def decision_function(self, X):
        """Scores whose argmax is :meth:`predict`: the probabilities above.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Query features.

        Returns
        -------
        scores : ndarray of shape (n_samples, n_models)
            Same as :meth:`predict_proba`.
        """
        return self.predict_proba(X)


_DR_ALPHAS = np.logspace(-2, 4, 7)


def _fit_all_rows(X, Y, estimator, n_jobs=None):
    """Fit a regressor of every column of ``Y`` on all rows.

    One multi-output fit when the estimator supports it (the default
    ``RidgeCV`` chooses a penalty per column from a single decomposition of
    ``X``), one clone per column otherwise.
    """
    Y = np.array(Y, dtype=np.float64)  # a private, writable copy of cached arrays
    if estimator is None:
        return RidgeCV(alphas=_DR_ALPHAS, alpha_per_target=True).fit(X, Y)
    if is_pooled(estimator):
        # every row carries every model's target: stack the columns as models
        n, k = Y.shape
        return clone(estimator).fit(
            np.tile(X, (k, 1)), Y.T.ravel(), np.repeat(np.arange(k), n), k
        )
    if get_tags(estimator).target_tags.multi_output:
        return clone(estimator).fit(X, Y)
    threads = thread_budget(n_jobs, Y.shape[1])
    return Parallel(n_jobs=n_jobs)(
        delayed(limited(clone(estimator).fit, threads))(X, Y[:, j]) for j in range(Y.shape[1])
    )


def _predict_columns(models, X, n_models):
    if isinstance(models, list) or is_pooled(models):
        return predict_per_model(models, X)
    return np.asarray(models.predict(X), dtype=np.float64).reshape(X.shape[0], n_models)


class CarrotRouter(NestedDefaultsMixin, _PlugInRouterMixin, RouterMixin, BaseEstimator):
    """CARROT: predict each model's quality and cost, route to the best trade-off.

    The cost-aware plug-in router of Somerstep et al. (2025): estimate, for
    every model, the expected quality and the expected cost of a query with
    two separate regressions, and route to the model maximising predicted
    ``quality - cost_weight * cost``. CARROT was designed for full-feedback
    data (every model answered every training query); on logs, only the
    served model's outcome is seen, and ``correction`` says what to regress:

    - ``correction=None``: each model's quality and cost are regressed on the
      rows that model served. With the same regressors this makes exactly the
      decisions of :class:`DecoupledRouter` (the two differ only by name); it
      is here so that the pair ``None`` / ``"dr"`` varies the correction alone.
    - ``correction="dr"``: both are regressed, on *all* rows, on the
      cross-fitted doubly robust pseudo-outcomes of :class:`DoublyRobustUtility`
      (its ``quality_`` and ``cost_`` matrices, an unbiased completion of the
      full-feedback table that CARROT assumes): a DR-learner of every model's
      quality and cost.

    Parameters
    ----------
    quality_model : regressor, default=None
        Regressor of quality. With ``correction=None`` it is cloned per model
        (``None``: the ``RidgeCV`` default of :class:`DoublyRobustUtility`).
        With ``"dr"`` it is fitted once to the ``(n_samples, n_models)``
        pseudo-outcomes if it supports multi-output targets, else cloned per
        model (``None``: ``RidgeCV`` with penalties from 1e-2 to 1e4, one per
        model: pseudo-outcomes are noisy and need more shrinkage).
    cost_model : regressor, default=None
        Likewise for cost; may be of a different family (costs are often
        nearly a function of the model's price and the query's length).
    correction : {"dr"} or None, default=None
        ``None``: fit on the observed rows; ``"dr"``: fit on doubly robust
        pseudo-outcomes.
    cost_weight : float, default=0.0
        Utility is ``quality - cost_weight * cost``. Read at prediction time:
        the two fitted regressions serve every cost weight, so a sweep over
        cost weights is ``set_params(cost_weight=w)`` with no refit.
    utility : DoublyRobustUtility, default=None
        The pseudo-outcome estimator for ``correction="dr"`` (ignored
        otherwise); ``None`` uses ``DoublyRobustUtility(random_state=0)``. It
        is fitted through the in-process cache, so candidates of a grid search
        that share it (and the logs) share one fit.
    n_jobs : int or None, default=None
        Regressions to fit at once, as joblib tasks (``None``: 1 unless in a
        ``joblib.parallel_config`` context; ``-1``: every core) and
        passed to ``utility`` when its own ``n_jobs`` is ``None``. The result
        does not depend on it (``docs/scaling.md``).

    Attributes
    ----------
    classes_ : ndarray of shape (n_models,)
        Model labels, sorted.
    quality_models_, cost_models_ : list or regressor
        ``correction=None`` (or a single-output regressor with ``"dr"``): a
        list with one fitted regressor (or constant) per model. A multi-output
        regressor with ``"dr"``: that regressor, whose ``predict`` returns one
        column per model.
    utility_ : DoublyRobustUtility or None
        The fitted pseudo-outcome stage (``"dr"``), else None.
    n_features_in_ : int
        Number of features seen during fit.

    See Also
    --------
    DecoupledRouter : The uncorrected plug-in router under its usual name.
    DoublyRobustUtility : The pseudo-outcomes of ``correction="dr"``.
    RegretRouter : Trains the routing policy on the decision loss instead.

    Notes
    -----
    CARROT routes with the plug-in rule

    .. math:: \\hat\\pi(x) = \\arg\\max_t\\ \\hat q_t(x) - w\\, \\hat c_t(x),

    where :math:`\\hat q_t` and :math:`\\hat c_t` estimate
    :math:`E[\\text{quality} \\mid x, t]` and :math:`E[\\text{cost} \\mid x, t]`;
    the paper shows the rule is minimax rate optimal when the estimates are.
    Regressed on the rows model :math:`t` served, they estimate
    :math:`E[\\cdot \\mid x, t_{\\text{logged}} = t]`, which equals the target
    only if nothing that drove the old rule's choice also drives the outcome
    beyond :math:`x`, and which extrapolates to queries the old rule rarely
    sent to :math:`t`. With ``"dr"`` the target of the regression at row
    :math:`i` is the pseudo-outcome

    .. math:: \\tilde q_{it} = \\hat\\mu_t(x_i) + \\frac{1\\{t_i = t\\}}{\\hat e_t(x_i)}
              \\left(q_i - \\hat\\mu_t(x_i)\\right)

    (and likewise for cost), whose conditional mean given :math:`x_i` is
    :math:`E[q \\mid x_i, t]` when either the outcome model :math:`\\hat\\mu` or
    the propensity :math:`\\hat e` is right (Kennedy's DR-learner). Being
    affine in :math:`w`, the utility needs no separate model per cost weight.

    References
    ----------
    .. [1] Somerstep et al., "CARROT: A Cost Aware Rate Optimal Router",
       arXiv:2502.03261, 2025.
    .. [2] Kennedy, "Towards optimal doubly robust estimation of heterogeneous
       causal effects", Electronic Journal of Statistics, 2023
       (arXiv:2004.14497).

    Examples
    --------
    >>> from sklearn_causal_routing.baselines import CarrotRouter
    >>> from sklearn_causal_routing.datasets import RoutingWorld
    >>> logs = RoutingWorld(random_state=0).sample(1500, random_state=1).log(random_state=2)
    >>> router = CarrotRouter(correction="dr").fit(logs.X, logs.feedback)
    >>> quality, cost = router.predict_outcomes(logs.X[:3])
    >>> quality.shape, router.classes_.tolist()
    ((3, 4), ['large', 'medium', 'small', 'tiny'])
    >>> cheap = router.set_params(cost_weight=10.0).predict(logs.X)  # no refit
    >>> bool((cheap == "tiny").mean() > 0.9)
    True
    """

    _nested_defaults = {
        "quality_model": "RidgeCV()",
        "cost_model": "RidgeCV()",
        "utility": "DoublyRobustUtility()",
    }

    _parameter_constraints = {
        "quality_model": [HasMethods(["fit", "predict"]), None],
        "cost_model": [HasMethods(["fit", "predict"]), None],
        "correction": [StrOptions({"dr"}), None],
        "cost_weight": [Interval(Real, 0, None, closed="left")],
        "utility": [HasMethods(["fit", "utilities"]), None],
        "n_jobs": N_JOBS_CONSTRAINT,
    }

    def __init__(
        self, quality_model=None, cost_model=None, *, correction=None, cost_weight=0.0,
        utility=None, n_jobs=None,
    ):
        self.quality_model = quality_model
        self.cost_model = cost_model
        self.correction = correction
        self.cost_weight = cost_weight
        self.utility = utility
        self.n_jobs = n_jobs

    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y, quality=None, *, cost=None, propensity=None):
        X, fb, self.classes_ = check_logs(self, X, y, quality, cost, propensity)
        if self.correction is None:
            self.utility_ = None
            self.quality_models_, self.cost_models_ = _fit_observed_rows(
                X, fb, self.classes_, self.quality_model, self.cost_model, self.n_jobs
            )
            return self
        utility = DoublyRobustUtility(random_state=0) if self.utility is None else clone(self.utility)
        if utility.get_params(deep=False).get("n_jobs", 0) is None:
            utility.set_params(n_jobs=self.n_jobs)
        self.utility_ = fit_utility_cached(utility, X, fb)
        missing = [a for a in ("quality_", "cost_") if not hasattr(self.utility_, a)]
        if missing:
            raise TypeError(
                f"CarrotRouter(correction='dr') regresses the utility stage's per-model "
                f"pseudo-outcomes, but {type(self.utility_).__name__} has no {missing} "
                "after fit. Pass a DoublyRobustUtility, e.g. "
                "CarrotRouter(correction='dr', utility=DoublyRobustUtility(clip=None))."
            )
        self.quality_models_ = _fit_all_rows(
            X, self.utility_.quality_, self.quality_model, self.n_jobs
        )
        self.cost_models_ = _fit_all_rows(X, self.utility_.cost_, self.cost_model, self.n_jobs)
        return self

    fit.__doc__ = (
        "Fit the quality and cost regressions (on doubly robust pseudo-outcomes "
        "with ``correction='dr'``).\n" + ROUTER_FIT_DOC
    )

    def _predict_outcomes(self, X):
        k = len(self.classes_)
        return (
            _predict_columns(self.quality_models_, X, k),
            _predict_columns(self.cost_models_, X, k),
        )


class KNNRouter(_PlugInRouterMixin, RouterMixin, BaseEstimator):
    """RouterBench's k-nearest-neighbour router, on logged feedback.

    For a new query, average the observed quality and cost of its nearest
    training queries, per model, and route to the model with the highest
    ``quality - cost_weight * cost``. With full feedback (every model answered
    every training query) this is RouterBench's kNN router; on logs only the
    served model's outcome is observed, and ``neighborhood`` says which
    neighbours inform each model.

    Parameters
    ----------
    n_neighbors : int, default=10
        Number of neighbours ``k``. Must not exceed the number of training
        rows.
    weights : {"uniform", "distance"} or callable, default="uniform"
        Weight of each neighbour in the average, as in
        ``KNeighborsRegressor``: equal, inverse distance (neighbours at
        distance zero, if any, take all the weight), or a function of the
        ``(n_queries, k)`` distance array returning weights of the same shape.
    metric : str or callable, default="euclidean"
        Distance of :class:`~sklearn.neighbors.NearestNeighbors`. On
        unit-normalised sentence embeddings "euclidean" and "cosine" rank
        neighbours alike.
    neighborhood : {"per_model", "shared"}, default="per_model"
        ``"per_model"``: for each model, the ``k`` nearest among the training
        queries *that model served* (a model with fewer rows uses all of them,
        with a :class:`SmallArmWarning`). Every model's estimate rests on ``k``
        outcomes, but for a model the old rule rarely sent such queries to,
        they may be far away. ``"shared"``: the ``k`` nearest training queries
        overall (RouterBench's literal rule); each model averages the
        neighbours it served, and a model that served none of them falls back
        to its mean over all its logged rows. Under a biased logger most
        neighbours were served by the same few models, so the others rest on
        one or two outcomes or on the fallback.
    cost_weight : float, default=0.0
        Utility is ``quality - cost_weight * cost``. Read at prediction time:
        ``set_params(cost_weight=w)`` needs no refit.
    n_jobs : int, default=None
        Parallel jobs of the neighbour searches.

    Attributes
    ----------
    classes_ : ndarray of shape (n_models,)
        Model labels, sorted.
    neighbors_ : list of NearestNeighbors
        ``"per_model"``: one index per model, over the rows it served;
        ``"shared"``: one index over all rows.
    index_rows_ : list of ndarray of int
        The logged rows behind each index of ``neighbors_``.
    logged_action_ : ndarray of int of shape (n_logged,)
        Column (into ``classes_``) of the model that served each logged row.
    logged_quality_, logged_cost_ : ndarray of shape (n_logged,)
        Observed quality and cost of each logged row.
    quality_means_, cost_means_ : ndarray of shape (n_models,)
        Mean observed quality and cost of each model over its logged rows
        (the ``"shared"`` fallback).
    n_features_in_ : int
        Number of features seen during fit.

    See Also
    --------
    DecoupledRouter : Per-model regression on observed rows;
        ``DecoupledRouter(KNeighborsRegressor(k), KNeighborsRegressor(k))``
        is the ``"per_model"`` rule.
    CarrotRouter : Plug-in router with a doubly robust correction.

    Notes
    -----
    With :math:`N_t(x)` the neighbours that inform model :math:`t` and
    :math:`w_j` their weights,

    .. math:: \\hat q_t(x) = \\frac{\\sum_{j \\in N_t(x)} w_j q_j}
              {\\sum_{j \\in N_t(x)} w_j}, \\qquad
              \\hat\\pi(x) = \\arg\\max_t\\ \\hat q_t(x) - w\\, \\hat c_t(x),

    and :math:`\\hat c_t` likewise. Only observed outcomes enter, so the
    estimate inherits the logger's bias wherever :math:`N_t(x)` is not
    representative of the queries near :math:`x` (no propensity correction).
    Fitting stores the training queries; prediction is one exact neighbour
    search per model (``"per_model"``) or one in total (``"shared"``).

    References
    ----------
    .. [1] Hu et al., "RouterBench: A Benchmark for Multi-LLM Routing
       System", arXiv:2403.12031, 2024.

    Examples
    --------
    >>> from sklearn_causal_routing.baselines import KNNRouter
    >>> from sklearn_causal_routing.datasets import RoutingWorld
    >>> logs = RoutingWorld(random_state=0).sample(600, random_state=1).log(random_state=2)
    >>> router = KNNRouter(n_neighbors=20).fit(logs.X, logs.feedback)
    >>> router.predict_utility(logs.X[:2]).shape
    (2, 4)
    >>> router.predict_outcomes(logs.X[:1])[0].round(2)  # quality of each model
    array([[1.  , 0.95, 0.5 , 0.65]])
    """

    _parameter_constraints = {
        "n_neighbors": [Interval(Integral, 1, None, closed="left")],
        "weights": [StrOptions({"uniform", "distance"}), callable],
        "metric": [str, callable],
        "neighborhood": [StrOptions({"per_model", "shared"})],
        "cost_weight": [Interval(Real, 0, None, closed="left")],
        "n_jobs": [Integral, None],
    }

    def __init__(
        self, n_neighbors=10, *, weights="uniform", metric="euclidean",
        neighborhood="per_model", cost_weight=0.0, n_jobs=None,
    ):
        self.n_neighbors = n_neighbors
        self.weights = weights
        self.metric = metric
        self.neighborhood = neighborhood
        self.cost_weight = cost_weight
        self.n_jobs = n_jobs

    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y, quality=None, *, cost=None, propensity=None):
        X, fb, self.classes_ = check_logs(self, X, y, quality, cost, propensity)
        n, k = X.shape[0], self.n_neighbors
        if k > n:
            raise ValueError(
                f"n_neighbors={k} is larger than the number of training rows ({n}); "
                f"a query cannot have more neighbours than there are logged queries. "
                f"Use KNNRouter(n_neighbors={n}) or fewer, or more logs."
            )
        action = encode_labels(fb["action"], self.classes_)
        self.logged_action_ = action
        self.logged_quality_ = np.asarray(fb["quality"], dtype=np.float64)
        self.logged_cost_ = np.asarray(fb["cost"], dtype=np.float64)
        counts = np.bincount(action, minlength=len(self.classes_))
        self.quality_means_ = np.bincount(action, weights=self.logged_quality_) / counts
        self.cost_means_ = np.bincount(action, weights=self.logged_cost_) / counts

        def index(rows, n_neighbors):
            nn = NearestNeighbors(n_neighbors=n_neighbors, metric=self.metric, n_jobs=self.n_jobs)
            return nn.fit(X[rows])

        if self.neighborhood == "shared":
            self.index_rows_ = [np.arange(n)]
            self.neighbors_ = [index(self.index_rows_[0], k)]
            return self
        self.index_rows_ = [np.flatnonzero(action == j) for j in range(len(self.classes_))]
        self.neighbors_ = [index(rows, min(k, rows.size)) for rows in self.index_rows_]
        small = [
            f"{np.asarray(label).item()!r} ({rows.size} rows)"
            for label, rows in zip(self.classes_, self.index_rows_)
            if rows.size < k
        ]
        if small:
            warn(
                f"Some models served fewer than n_neighbors={k} logged queries; their "
                "estimates average all of them, whatever the query: " + ", ".join(small),
                SmallArmWarning,
            )
        return self

    fit.__doc__ = "Index the logged queries for the neighbour searches.\n" + ROUTER_FIT_DOC

    def _weights(self, dist):
        """Neighbour weights; ``inf`` distances mark non-neighbours (weight 0)."""
        if self.weights == "uniform":
            return np.isfinite(dist).astype(np.float64)
        if self.weights == "distance":
            with np.errstate(divide="ignore"):
                w = 1.0 / dist
            exact = dist == 0
            hit = exact.any(axis=1)
            w[hit] = exact[hit]
            return w
        finite = np.isfinite(dist)
        w = np.asarray(self.weights(np.where(finite, dist, 0.0)), dtype=np.float64)
        if w.shape != dist.shape:
            raise ValueError(
                f"weights, a callable, must return an array of the shape of the distances "
                f"it is given {dist.shape}; got shape {w.shape}."
            )
        return w * finite

    def _predict_outcomes(self, X):
        """Neighbour averages of every model's quality and cost."""
        m, n_models = X.shape[0], len(self.classes_)
        quality, cost = np.empty((m, n_models)), np.empty((m, n_models))
        if self.neighborhood == "per_model":
            for j, (nn, rows) in enumerate(zip(self.neighbors_, self.index_rows_)):
                dist, ind = nn.kneighbors(X)
                w = self._weights(dist)
                w /= w.sum(axis=1, keepdims=True)
                quality[:, j] = np.sum(w * self.logged_quality_[rows[ind]], axis=1)
                cost[:, j] = np.sum(w * self.logged_cost_[rows[ind]], axis=1)
            return quality, cost
        dist, ind = self.neighbors_[0].kneighbors(X)
        served = self.logged_action_[ind]
        q, c = self.logged_quality_[ind], self.logged_cost_[ind]
        for j in range(n_models):
            w = self._weights(np.where(served == j, dist, np.inf))
            total = w.sum(axis=1)
            some = total > 0
            safe = np.where(some, total, 1.0)
            quality[:, j] = np.where(some, np.sum(w * q, axis=1) / safe, self.quality_means_[j])
            cost[:, j] = np.where(some, np.sum(w * c, axis=1) / safe, self.cost_means_[j])
        return quality, cost
