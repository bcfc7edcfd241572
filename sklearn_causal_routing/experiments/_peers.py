"""Adapters that give other libraries' policy learners our router interface.

EconML's ``DRPolicyForest`` / ``DRPolicyTree`` and Open Bandit Pipeline's
``IPWLearner`` are optional (``pip install "sklearn-causal-routing[bench]"``);
each adapter imports its library in ``fit`` and raises an ``ImportError`` naming
the extra when it is missing, which the benchmark runner reports as a skipped
peer.
"""

from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, clone
from sklearn.linear_model import LogisticRegression, RidgeCV

from .._feedback import check_logs
from ..base import ROUTER_FIT_DOC, RouterMixin
from ..utils._compat import HasMethods, Interval, StrOptions, _fit_context
from ..utils._optional import import_optional
from ..utils.validation import check_features, encode_labels

__all__ = ["EconMLPolicyRouter", "OBPIPWRouter"]


def _logged_rewards(estimator, X, y, quality, cost, propensity):
    """Checked logs plus the served models as codes and the logged utilities."""
    X, fb, classes = check_logs(estimator, X, y, quality, cost, propensity)
    action = encode_labels(fb["action"], classes)
    reward = fb["quality"] - estimator.cost_weight * fb["cost"]
    return X, fb, classes, action, reward


class EconMLPolicyRouter(RouterMixin, BaseEstimator):
    """EconML's doubly robust policy learners as a router (a benchmark peer).

    Fits ``econml.policy.DRPolicyForest`` or ``DRPolicyTree`` on the logged
    utility ``quality - cost_weight * cost`` with the served model as the
    (categorical) treatment and ``X`` as the features. EconML estimates its own
    propensities and outcome models (recorded propensities are not used: its
    API has no way to pass them).

    Parameters
    ----------
    kind : {"forest", "tree"}, default="forest"
        ``DRPolicyForest`` or ``DRPolicyTree``.
    cost_weight : float, default=0.0
        Utility is ``quality - cost_weight * cost``; fixed at fit time.
    model_regression, model_propensity : estimator, default=None
        EconML's nuisance models; ``None`` uses ``RidgeCV`` (the outcome model
        our :class:`~sklearn_causal_routing.DoublyRobustUtility` defaults to)
        and ``LogisticRegression(max_iter=1000)``.
    n_estimators : int, default=100
        Trees of the forest (ignored by the tree).
    max_depth : int, default=None
        Depth of the policy tree(s); ``None`` means 3 for the tree and
        unlimited for the forest (EconML's defaults).
    cv : int, default=3
        Cross-fitting folds of EconML's nuisance models.
    decision : {"predict", "value"}, default="predict"
        Route with the learner's own ``predict``, or with the argmax of its
        ``predict_value`` (the DR value estimates of each treatment).
    random_state : int or None, default=None
        Seed passed to EconML.

    Attributes
    ----------
    classes_ : ndarray of shape (n_models,)
        Model labels in the logs (EconML's treatment order).
    learner_ : econml policy learner
        The fitted EconML object.
    n_features_in_ : int
        Number of features seen during fit.

    See Also
    --------
    OBPIPWRouter : Open Bandit Pipeline's IPW policy learner.

    References
    ----------
    Athey and Wager (2021), "Policy Learning with Observational Data",
    Econometrica; EconML, https://github.com/py-why/EconML.

    Examples
    --------
    >>> from sklearn_causal_routing.experiments import EconMLPolicyRouter
    >>> from sklearn_causal_routing.datasets import RoutingWorld
    >>> logs = RoutingWorld(random_state=0).sample(300, random_state=1).log(random_state=2)
    >>> router = EconMLPolicyRouter(kind="tree", random_state=0).fit(logs.X, logs.feedback)
    >>> router.predict(logs.X[:3]).shape
    (3,)
    """

    _parameter_constraints = {
        "kind": [StrOptions({"forest", "tree"})],
        "cost_weight": [Interval(Real, 0, None, closed="left")],
        "model_regression": [None, HasMethods(["fit", "predict"])],
        "model_propensity": [None, HasMethods(["fit", "predict_proba"])],
        "n_estimators": [Interval(Integral, 1, None, closed="left")],
        "max_depth": [Interval(Integral, 1, None, closed="left"), None],
        "cv": [Interval(Integral, 2, None, closed="left")],
        "decision": [StrOptions({"predict", "value"})],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        kind="forest",
        *,
        cost_weight=0.0,
        model_regression=None,
        model_propensity=None,
        n_estimators=100,
        max_depth=None,
        cv=3,
        decision="predict",
        random_state=None,
    ):
        self.kind = kind
        self.cost_weight = cost_weight
        self.model_regression = model_regression
        self.model_propensity = model_propensity
        self.n_estimators = n_estimators
        self.max_depth = max_depth
        self.cv = cv
        self.decision = decision
        self.random_state = random_state

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, quality=None, *, cost=None, propensity=None):
        policy = import_optional("econml.policy", extra="bench", needed_by="EconMLPolicyRouter")
        X, fb, self.classes_, action, reward = _logged_rewards(self, X, y, quality, cost, propensity)
        reg = RidgeCV(alphas=np.logspace(-2, 3, 6)) if self.model_regression is None else clone(
            self.model_regression
        )
        prop = (
            LogisticRegression(max_iter=1000)
            if self.model_propensity is None
            else clone(self.model_propensity)
        )
        common = dict(
            model_regression=reg, model_propensity=prop, cv=self.cv,
            random_state=self.random_state,
        )
        if self.kind == "forest":
            learner = policy.DRPolicyForest(
                n_estimators=self.n_estimators, max_depth=self.max_depth, n_jobs=1, **common
            )
        else:
            learner = policy.DRPolicyTree(
                max_depth=3 if self.max_depth is None else self.max_depth, **common
            )
        # treatments as integer codes, so EconML's category order is ours
        self.learner_ = learner.fit(reward, action, X=X)
        return self

    fit.__doc__ = "Fit the EconML policy learner on the logged utilities.\n" + ROUTER_FIT_DOC

    def decision_function(self, X):
        """Per-model scores: EconML's value estimates or a one-hot of its choice.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Query features.

        Returns
        -------
        scores : ndarray of shape (n_samples, n_models)
            With ``decision="value"`` the estimated value of each model
            relative to the first; else one-hot of ``learner_.predict``.
        """
        X = check_features(self, X)
        k = len(self.classes_)
        if self.decision == "value":
            value = self.learner_.predict_value(X)  # (n, k - 1), vs treatment 0
            return np.hstack([np.zeros((X.shape[0], 1)), value.reshape(X.shape[0], k - 1)])
        out = np.zeros((X.shape[0], k))
        out[np.arange(X.shape[0]), np.asarray(self.learner_.predict(X), dtype=int)] = 1.0
        return out


class OBPIPWRouter(RouterMixin, BaseEstimator):
    """Open Bandit Pipeline's ``IPWLearner`` as a router (a benchmark peer).

    OBP reduces off-policy learning to cost-sensitive classification: a
    classifier trained on the logged rows, each weighted by its utility over
    its propensity. Utilities are shifted to be non-negative (OBP's reduction
    needs non-negative rewards; a constant shift does not change the optimal
    policy). Propensities are the recorded ones, or the ones a
    :class:`~sklearn_causal_routing.PropensityModel` estimates when the logs
    lack them.

    Parameters
    ----------
    cost_weight : float, default=0.0
        Utility is ``quality - cost_weight * cost``; fixed at fit time.
    base_classifier : classifier, default=None
        OBP's base classifier; ``None`` uses ``LogisticRegression(max_iter=1000)``.
    random_state : int or None, default=None
        Seed of the propensity model when propensities are estimated.

    Attributes
    ----------
    classes_ : ndarray of shape (n_models,)
        Model labels in the logs.
    learner_ : obp.policy.IPWLearner
        The fitted OBP object.
    n_features_in_ : int
        Number of features seen during fit.

    Notes
    -----
    Open Bandit Pipeline 0.5 requires Python < 3.11; on newer Pythons pip
    installs 0.4.1, which works with current scikit-learn.

    References
    ----------
    Saito et al. (2021), "Open Bandit Dataset and Pipeline", NeurIPS Datasets
    and Benchmarks.

    Examples
    --------
    >>> from sklearn_causal_routing.experiments import OBPIPWRouter
    >>> from sklearn_causal_routing.datasets import RoutingWorld
    >>> logs = RoutingWorld(random_state=0).sample(300, random_state=1).log(random_state=2)
    >>> OBPIPWRouter().fit(logs.X, logs.feedback).predict(logs.X[:3]).shape
    (3,)
    """

    _parameter_constraints = {
        "cost_weight": [Interval(Real, 0, None, closed="left")],
        "base_classifier": [None, HasMethods(["fit", "predict"])],
        "random_state": ["random_state"],
    }

    def __init__(self, *, cost_weight=0.0, base_classifier=None, random_state=None):
        self.cost_weight = cost_weight
        self.base_classifier = base_classifier
        self.random_state = random_state

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, quality=None, *, cost=None, propensity=None):
        obp_policy = import_optional("obp.policy", extra="bench", needed_by="OBPIPWRouter")
        X, fb, self.classes_, action, reward = _logged_rewards(self, X, y, quality, cost, propensity)
        pscore = np.asarray(fb["propensity"], dtype=np.float64)
        if np.isnan(pscore).any():
            from .._propensity import PropensityModel

            model = PropensityModel(random_state=self.random_state).fit(X, fb["action"])
            pscore = model.predict_proba(X)[np.arange(len(action)), action]
        base = (
            LogisticRegression(max_iter=1000)
            if self.base_classifier is None
            else clone(self.base_classifier)
        )
        learner = obp_policy.IPWLearner(n_actions=len(self.classes_), base_classifier=base)
        learner.fit(context=X, action=action, reward=reward - reward.min(), pscore=pscore)
        self.learner_ = learner
        return self

    fit.__doc__ = "Fit OBP's IPW learner on the logged rows.\n" + ROUTER_FIT_DOC

    def decision_function(self, X):
        """One-hot of OBP's chosen model per query.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Query features.

        Returns
        -------
        scores : ndarray of shape (n_samples, n_models)
        """
        X = check_features(self, X)
        # IPWLearner.predict returns (n, n_actions, len_list) one-hot decisions
        return np.asarray(self.learner_.predict(context=X), dtype=np.float64)[:, :, 0]
