"""RegretRouter: a routing policy trained to minimise decision regret."""

import difflib
from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, clone
from sklearn.utils.validation import check_is_fitted

from ._compat import HasMethods, Interval, StrOptions, _fit_context, validate_data
from ._feedback import _check_same_length, _resolve_feedback
from ._nets import (
    SKORCH_PREFIXES,
    MLPPolicy,
    RegretLoss,
    build_policy_net,
    fit_net,
    policy_logits,
)
from ._propensity import _seed, expand_proba
from ._utility import DoublyRobustUtility, fit_utility_cached
from .base import RouterMixin, check_nested_defaults

__all__ = ["RegretRouter"]


def _utility_spread(U):
    """Spread of utilities across models: RMS of each row's deviations from its mean.

    Dividing regrets by it makes the temperature independent of the units of
    quality and cost; 1.0 when all models are tied everywhere.
    """
    centred = U - U.mean(axis=1, keepdims=True)
    scale = float(np.sqrt(np.mean(centred**2)))
    return scale if scale > 0 else 1.0


def _softmax(z):
    z = z - z.max(axis=1, keepdims=True)
    np.exp(z, out=z)
    z /= z.sum(axis=1, keepdims=True)
    return z


#: Constraints of the training parameters every policy router has.
_TRAINING_CONSTRAINTS = {
    "temperature": [Interval(Real, 0, None, closed="neither")],
    "utility": [HasMethods(["fit", "utilities"]), None],
    "hidden_layer_sizes": [tuple, list],
    "max_epochs": [Interval(Integral, 1, None, closed="left")],
    "lr": [Interval(Real, 0, None, closed="neither")],
    "batch_size": [Interval(Integral, 1, None, closed="left")],
    "validation_fraction": [Interval(Real, 0, 1, closed="neither"), None],
    "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
    "random_state": ["random_state"],
    "verbose": ["verbose"],
    "device": [str],
}


class _PolicyRouterMixin:
    """What routers with a utility stage and a skorch policy share.

    skorch-style ``module__*`` / ``optimizer__*`` parameters are stored as
    attributes by ``__init__``, reported by ``get_params`` and accepted by
    ``set_params``, so ``clone`` and ``GridSearchCV`` handle them like any other
    parameter; the utility stage is fitted through the in-process cache.
    """

    def _store_skorch_params(self, kwargs):
        for key, value in kwargs.items():
            if not key.startswith(SKORCH_PREFIXES):
                names = list(self._get_param_names())
                hint = difflib.get_close_matches(key, names, n=1)
                hint = f" Did you mean {hint[0]!r}?" if hint else ""
                raise TypeError(
                    f"{type(self).__name__}.__init__() got an unexpected keyword argument "
                    f"{key!r}.{hint} Settings of the policy network must start with one "
                    f"of {', '.join(SKORCH_PREFIXES)} (e.g. module__dropout=0.1, "
                    "optimizer__weight_decay=1e-3)."
                )
            setattr(self, key, value)

    def _fit_utility(self, X, fb, cost_weight=0.0):
        """Fit (or fetch from the cache) the utility stage, seeded by the router."""
        utility = DoublyRobustUtility() if self.utility is None else clone(self.utility)
        if utility.get_params().get("random_state", 0) is None and self.random_state is not None:
            utility.set_params(random_state=_seed(self.random_state))
        utility.set_params(cost_weight=cost_weight)
        return fit_utility_cached(utility, X, fb)

    def _training_params(self, seed):
        """The keyword arguments of ``build_policy_net`` shared by policy routers."""
        return dict(
            max_epochs=self.max_epochs,
            lr=self.lr,
            batch_size=self.batch_size,
            validation_fraction=self.validation_fraction,
            n_iter_no_change=self.n_iter_no_change,
            seed=seed,
            verbose=self.verbose,
            device=self.device,
            extra=self._skorch_params(),
        )

    def _skorch_params(self):
        return {k: v for k, v in vars(self).items() if k.startswith(SKORCH_PREFIXES)}

    def get_params(self, deep=True):
        params = super().get_params(deep=deep)
        params.update(self._skorch_params())
        return params

    def set_params(self, **params):
        skorch = {k: v for k, v in params.items() if k.startswith(SKORCH_PREFIXES)}
        for key, value in skorch.items():
            setattr(self, key, value)
        rest = {k: v for k, v in params.items() if k not in skorch}
        check_nested_defaults(self, rest, {"utility": "DoublyRobustUtility()"})
        return super().set_params(**rest)


class RegretRouter(RouterMixin, _PolicyRouterMixin, BaseEstimator):
    """Route each query to a model, trained from biased logs to minimise regret.

    Fitting runs two stages. First a :class:`DoublyRobustUtility` turns the
    logs (one model's outcome per query, picked by a biased rule) into
    cross-fitted counterfactual utilities ``U[i, t]`` of every model ``t`` for
    every logged query ``i``, at ``cost_weight``. Then a policy ``f(x)`` is
    trained to minimise the decision regret against those utilities: an MLP on
    the query features, trained through skorch (RM-Softmax or
    RM-Classification), or, for RM-Classification, any scikit-learn classifier.

    Parameters
    ----------
    loss : {"softmax", "classification"}, default="softmax"
        ``"softmax"`` (RM-Softmax) minimises the expected regret of the policy
        ``softmax(f(x) / temperature)``; ``"classification"``
        (RM-Classification) fits ``f`` by cross-entropy toward the model with
        the highest estimated utility.
    temperature : float, default=1.0
        Softmax temperature. Utilities are divided by their spread across
        models (``utility_scale_``) before training, so the temperature does not
        depend on the units of quality and cost.
    cost_weight : float, default=0.0
        Utility is ``quality - cost_weight * cost``.
    utility : DoublyRobustUtility, default=None
        The utility stage; ``None`` means ``DoublyRobustUtility()``. Its
        ``cost_weight`` is overridden by the router's. To grid-search its
        parameters, pass it explicitly:
        ``GridSearchCV(RegretRouter(utility=DoublyRobustUtility()),
        {"utility__clip": [...]})``.
    policy : classifier, default=None
        ``None`` trains the torch MLP policy. With ``loss="classification"``,
        any scikit-learn classifier may be given instead; it is fitted on the
        argmax labels.
    hidden_layer_sizes : tuple of int, default=(64,)
        Hidden layers of the MLP policy. One layer of 64 units is the default
        because the regret targets are noisy counterfactual estimates: on
        simulated worlds of 1,400 to 14,000 logged queries and on the
        RouterBench subset it routed better, and more stably across seeds, than
        two layers of 200 (see ``docs/estimators/router.md``).
    max_epochs : int, default=50
        Maximum number of training epochs of the MLP.
    lr : float, default=1e-3
        Learning rate (AdamW).
    batch_size : int, default=256
        Mini-batch size.
    validation_fraction : float or None, default=0.1
        Share of rows held out to stop training early when the validation loss
        (expected regret for RM-Softmax, cross-entropy for RM-Classification)
        stops improving, restoring the best epoch. ``None`` trains for
        ``max_epochs``.
    n_iter_no_change : int, default=5
        Patience of early stopping, in epochs.
    random_state : int, RandomState instance or None, default=None
        Seeds torch, the validation split and, when the utility stage has no
        ``random_state`` of its own, the utility stage. With an int, fitting is
        deterministic, and grid-search candidates that differ only in policy
        settings reuse one fitted utility stage.
    verbose : int, default=0
        skorch's verbosity (per-epoch losses when > 0).
    device : str, default="cpu"
        Torch device of the policy.
    **kwargs
        skorch settings of the policy network, with prefixes ``module__``,
        ``optimizer__``, ``criterion__``, ``iterator_train__``,
        ``iterator_valid__`` and ``callbacks__`` (e.g. ``module__dropout=0.1``,
        ``optimizer__weight_decay=1e-3``). All are grid-searchable.

    Attributes
    ----------
    classes_ : ndarray of shape (n_models,)
        Model labels; the columns of :meth:`predict_proba`.
    utility_ : DoublyRobustUtility
        The fitted utility stage.
    policy_ : skorch.NeuralNet or classifier
        The fitted policy.
    utility_scale_ : float
        Spread of the training utilities across models, by which they were
        divided before training.
    constant_values_ : ndarray of shape (n_models,)
        DR estimate, on the training logs, of the mean utility of always
        routing to each model.
    n_features_in_ : int
        Number of features seen during fit.

    See Also
    --------
    DoublyRobustUtility : The utility stage.
    IntervalRouter : One router for a whole range of cost weights.

    Notes
    -----
    With scaled DR utilities ``U`` and regret ``R[i, t] = max_s U[i, s] -
    U[i, t]``, RM-Softmax minimises

    .. math:: \\frac{1}{n}\\sum_i \\sum_t \\mathrm{softmax}(f(x_i)/T)_t R_{it},

    RM-Classification the cross-entropy toward :math:`\\arg\\max_t U_{it}`.
    Training stops when the regret on the held-out ``validation_fraction``
    stops improving, and the best epoch is kept.

    References
    ----------
    .. [1] Tsiourvas, Sun and Perakis, "Causal LLM Routing: End-to-End Regret
       Minimization from Observational Data", arXiv:2505.16037, 2025.

    Examples
    --------
    >>> from sklearn_causal_routing import RegretRouter
    >>> from sklearn_causal_routing.datasets import RoutingWorld
    >>> world = RoutingWorld(n_models=3, random_state=0)
    >>> logs = world.sample(1000, random_state=1).log(random_state=2)
    >>> router = RegretRouter(cost_weight=0.2, hidden_layer_sizes=(32,),
    ...                       max_epochs=10, random_state=0)
    >>> router.fit(logs.X, logs.feedback).predict(logs.X[:3]).shape
    (3,)
    >>> router.predict_proba(logs.X[:3]).shape
    (3, 3)
    """

    _parameter_constraints = {
        **_TRAINING_CONSTRAINTS,
        "loss": [StrOptions({"softmax", "classification"})],
        "cost_weight": [Interval(Real, 0, None, closed="left")],
        "policy": [HasMethods(["fit", "predict_proba"]), None],
    }

    def __init__(
        self,
        *,
        loss="softmax",
        temperature=1.0,
        cost_weight=0.0,
        utility=None,
        policy=None,
        hidden_layer_sizes=(64,),
        max_epochs=50,
        lr=1e-3,
        batch_size=256,
        validation_fraction=0.1,
        n_iter_no_change=5,
        random_state=None,
        verbose=0,
        device="cpu",
        **kwargs,
    ):
        self.loss = loss
        self.temperature = temperature
        self.cost_weight = cost_weight
        self.utility = utility
        self.policy = policy
        self.hidden_layer_sizes = hidden_layer_sizes
        self.max_epochs = max_epochs
        self.lr = lr
        self.batch_size = batch_size
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.random_state = random_state
        self.verbose = verbose
        self.device = device
        self._store_skorch_params(kwargs)

    # -- fitting ------------------------------------------------------------------


    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y, quality=None, *, cost=None, propensity=None):
        """Fit the utility stage, then the policy.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Query features (e.g. prompt embeddings).
        y : feedback array or array-like of shape (n_samples,)
            The logged feedback from :func:`make_feedback`; or, with ``quality``
            given, the logged model labels ``t``.
        quality : array-like of shape (n_samples,), default=None
            Logged quality, for the form ``fit(X, t, quality, cost=cost)``.
        cost : array-like of shape (n_samples,), default=None
            Logged cost, with ``quality``.
        propensity : array-like of shape (n_samples,), default=None
            Logged propensities, with ``quality``.

        Returns
        -------
        self : RegretRouter
            Fitted router.
        """
        X = validate_data(self, X, dtype=[np.float32, np.float64])
        fb = _resolve_feedback(y, quality, cost, propensity)
        _check_same_length(X, fb)
        if self.policy is not None and self.loss != "classification":
            raise ValueError(
                "policy: a scikit-learn classifier can only be trained with "
                f"loss='classification' (RM-Classification); got loss={self.loss!r}. "
                "Use RegretRouter(loss='classification', policy=clf), or policy=None "
                "for the MLP policy."
            )
        self.utility_ = self._fit_utility(X, fb, self.cost_weight)
        self.classes_ = self.utility_.classes_
        U = self.utility_.utilities(self.cost_weight)
        self.constant_values_ = U.mean(axis=0)
        self.policy_ = self._fit_policy(X, U)
        return self

    def _scaled_regret(self, U):
        self.utility_scale_ = _utility_spread(U)
        return (U.max(axis=1, keepdims=True) - U) / self.utility_scale_

    def _fit_policy(self, X, U):
        regret = self._scaled_regret(U)
        if self.policy is not None:
            return clone(self.policy).fit(X, np.argmin(regret, axis=1))
        seed = _seed(self.random_state)
        net = build_policy_net(
            module=MLPPolicy,
            module_params={
                "n_features": X.shape[1],
                "n_outputs": len(self.classes_),
                "hidden_layer_sizes": tuple(self.hidden_layer_sizes),
            },
            criterion=RegretLoss,
            criterion_params={"loss": self.loss, "temperature": self.temperature},
            **self._training_params(seed),
        )
        return fit_net(net, X, regret, seed)

    # -- routing ------------------------------------------------------------------

    def _validate_X(self, X):
        check_is_fitted(self)
        return validate_data(self, X, dtype=[np.float32, np.float64], reset=False)

    def _decision_scores(self, X):
        """Scores whose argmax is the decision: logits, or classifier probabilities."""
        if self.policy is None:
            return policy_logits(self.policy_, X)
        return expand_proba(self.policy_, X, len(self.classes_))

    def decision_function(self, X):
        """Policy scores of every model for each query (higher = preferred).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Query features.

        Returns
        -------
        scores : ndarray of shape (n_samples, n_models)
            The MLP's logits (or the classifier policy's probabilities).
        """
        return self._decision_scores(self._validate_X(X))

    def predict_proba(self, X):
        """Routing distribution over models for each query.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Query features.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_models)
            ``softmax(logits / temperature)`` for the MLP policy, the
            classifier's probabilities otherwise; columns follow ``classes_``.
        """
        scores = self.decision_function(X)
        if self.policy is not None:
            return scores
        return _softmax(scores.astype(np.float64) / self.temperature)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.non_deterministic = self.random_state is None
        return tags

