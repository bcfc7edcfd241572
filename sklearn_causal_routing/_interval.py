"""IntervalRouter: one fitted router for every cost weight in a range."""

from numbers import Integral

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils import Bunch
from sklearn.utils.validation import check_is_fitted

from ._dask_policy import fit_interval_dask, lazy_method, lazy_score
from ._feedback import check_feedback, check_logs, resolve_feedback
from ._nets import (
    IntervalPolicy,
    IntervalRegretLoss,
    build_policy_net,
    fit_net,
    interpolate_logits,
    policy_logits,
)
from ._policy import TRAINING_CONSTRAINTS, PolicyRouterMixin, utility_spread
from ._utility import fit_utility_cached
from .base import RouterMixin
from .utils._compat import Interval, StrOptions, _fit_context
from .utils._stats import softmax
from .utils.validation import (
    check_cost_weight,
    check_features,
    check_same_length,
    encode_labels,
    int_seed,
    is_dask_collection,
    reject_dask,
)

__all__ = ["IntervalRouter"]


class IntervalRouter(RouterMixin, PolicyRouterMixin, BaseEstimator):
    """One router for every cost weight in a range, fitted once.

    Users differ in how much they will pay for quality, and change their mind
    per request. Utilities ``quality - c * cost`` are lines in the cost weight
    ``c``, so the best model is piecewise constant in ``c``. The interval
    router fits the doubly robust utility stage once (quality and cost apart),
    then one network with a shared body, an *endpoint head* ``E_j(x)`` per grid
    point ``g_j`` and a *correction head* ``G_j(x)`` per interval. At a cost
    weight ``c`` in ``[g_j, g_{j+1}]``, with ``lam = (c - g_j) / (g_{j+1} - g_j)``,

    .. math::

        f(x, c) = (1 - \\lambda) E_j(x) + \\lambda E_{j+1}(x)
                  + \\lambda (1 - \\lambda) G_j(x),

    exact at the grid points and interpolating in between. The network is
    trained on the RM-Softmax regret of the endpoint heads at the grid points
    plus that of ``f(x, c)`` at cost weights drawn uniformly in the range
    (four per row and batch; ``criterion__n_draws`` changes it).

    Parameters
    ----------
    cost_weight_range : tuple of (float, float), default=(0.0, 1.0)
        The range ``[low, high]`` of cost weights to serve, ``0 <= low < high``.
    n_intervals : int, default=4
        Number of equal intervals of the grid (``n_intervals + 1`` points).
    cost_weights : array-like of float, default=None
        An explicit, strictly increasing grid of at least two cost weights;
        overrides ``cost_weight_range`` and ``n_intervals`` (the range is then
        its first and last point).
    temperature : float, default=1.0
        Softmax temperature of the RM-Softmax loss, on utilities divided by
        their spread across models at each cost weight.
    utility : DoublyRobustUtility, default=None
        The utility stage; ``None`` means ``DoublyRobustUtility()``.
    hidden_layer_sizes : tuple of int, default=(200, 200)
        Hidden layers of the shared body.
    max_epochs : int, default=50
        Maximum number of training epochs.
    lr : float, default=1e-3
        Learning rate (AdamW).
    batch_size : int, default=256
        Mini-batch size.
    validation_fraction : float or None, default=0.1
        Share of rows held out for early stopping on the regret at the grid
        points and interval midpoints. ``None`` trains for ``max_epochs``.
    n_iter_no_change : int, default=5
        Patience of early stopping, in epochs.
    out_of_range : {"raise", "clip"}, default="raise"
        What a cost weight outside the fitted range does at prediction:
        raise a ``ValueError`` naming the range, or be clipped into it.
    random_state : int, RandomState instance or None, default=None
        Seeds torch, the validation split and (when it has none) the utility
        stage.
    verbose : int, default=0
        skorch's verbosity.
    device : str, default="cpu"
        Torch device.
    n_jobs : int or None, default=None
        Fits to run at once, as joblib tasks (``None``: 1 unless in a
        ``joblib.parallel_config`` context; ``-1``: every core), each with its
        share of the cores for torch, XGBoost, OpenMP and BLAS threads. Passed
        to the utility stage when the stage's own ``n_jobs`` is ``None``.
        The result does not depend on it. See ``docs/scaling.md``.
    **kwargs
        skorch settings (``module__dropout``, ``optimizer__weight_decay``, ...),
        as for :class:`RegretRouter`.

    Attributes
    ----------
    classes_ : ndarray of shape (n_models,)
        Model labels.
    grid_ : ndarray of shape (n_intervals + 1,)
        The grid of cost weights.
    cost_weight_range_ : tuple of float
        The fitted range ``(grid_[0], grid_[-1])``.
    utility_ : DoublyRobustUtility
        The fitted utility stage.
    policy_ : skorch.NeuralNet
        The fitted interval network.
    utility_scales_ : ndarray of shape (n_intervals + 1,)
        Spread of the training utilities at each grid point.
    budget_ : Bunch
        Set by :meth:`calibrate_budget`: the chosen cost weight, the budget
        and the estimated spend and shares it reaches.
    n_features_in_ : int
        Number of features seen during fit.

    See Also
    --------
    RegretRouter : A router for one cost weight.

    References
    ----------
    .. [1] Tsiourvas, Sun and Perakis, "Causal LLM Routing: End-to-End Regret
       Minimization from Observational Data", arXiv:2505.16037, 2025.

    Examples
    --------
    >>> from sklearn_causal_routing import IntervalRouter
    >>> from sklearn_causal_routing.datasets import RoutingWorld
    >>> logs = RoutingWorld(n_models=3, random_state=0).sample(800, random_state=1).log(random_state=2)
    >>> router = IntervalRouter(cost_weight_range=(0.0, 0.6), n_intervals=3,
    ...                         hidden_layer_sizes=(32,), max_epochs=10, random_state=0)
    >>> router.fit(logs.X, logs.feedback).grid_
    array([0. , 0.2, 0.4, 0.6])
    >>> router.predict(logs.X[:4], cost_weight=0.25).shape
    (4,)
    >>> router.predict_proba(logs.X[:2], cost_weight=[0.0, 0.6]).shape
    (2, 3)
    """

    _parameter_constraints = {
        **TRAINING_CONSTRAINTS,
        "cost_weight_range": [tuple, list],
        "n_intervals": [Interval(Integral, 1, None, closed="left")],
        "cost_weights": ["array-like", None],
        "out_of_range": [StrOptions({"raise", "clip"})],
    }

    def __init__(
        self,
        *,
        cost_weight_range=(0.0, 1.0),
        n_intervals=4,
        cost_weights=None,
        temperature=1.0,
        utility=None,
        hidden_layer_sizes=(200, 200),
        max_epochs=50,
        lr=1e-3,
        batch_size=256,
        validation_fraction=0.1,
        n_iter_no_change=5,
        out_of_range="raise",
        random_state=None,
        verbose=0,
        device="cpu",
        n_jobs=None,
        **kwargs,
    ):
        self.cost_weight_range = cost_weight_range
        self.n_intervals = n_intervals
        self.cost_weights = cost_weights
        self.temperature = temperature
        self.utility = utility
        self.hidden_layer_sizes = hidden_layer_sizes
        self.max_epochs = max_epochs
        self.lr = lr
        self.batch_size = batch_size
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.out_of_range = out_of_range
        self.random_state = random_state
        self.verbose = verbose
        self.device = device
        self.n_jobs = n_jobs
        self._store_skorch_params(kwargs)

    def _grid(self):
        if self.cost_weights is not None:
            grid = np.asarray(self.cost_weights, dtype=np.float64).ravel()
            if grid.size < 2:
                raise ValueError(
                    "cost_weights must hold at least two cost weights (the ends of one "
                    f"interval); got {grid.tolist()}. Use e.g. cost_weights=[0, 0.5, 1]."
                )
            if not (np.all(np.isfinite(grid)) and np.all(np.diff(grid) > 0) and grid[0] >= 0):
                raise ValueError(
                    "cost_weights must be finite, >= 0 and strictly increasing; got "
                    f"{grid.tolist()}."
                )
            return grid
        try:
            low, high = (float(v) for v in self.cost_weight_range)
        except (TypeError, ValueError):
            raise ValueError(
                "cost_weight_range must be a pair (low, high) with 0 <= low < high, e.g. "
                f"cost_weight_range=(0, 1000); got {self.cost_weight_range!r}."
            ) from None
        if not (np.isfinite(low) and np.isfinite(high) and 0 <= low < high):
            raise ValueError(
                "cost_weight_range must be a pair (low, high) with 0 <= low < high (a "
                f"cost weight prices cost in units of quality); got {self.cost_weight_range!r}."
            )
        return np.linspace(low, high, self.n_intervals + 1)

    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y, quality=None, *, cost=None, propensity=None):
        """Fit the utility stage once, then the interval network.

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
        self : IntervalRouter
            Fitted router.

        Notes
        -----
        ``X`` and ``y`` may be Dask collections, as for
        :meth:`RegretRouter.fit`: the utility stage is fitted from sufficient
        statistics and the interval network on minibatches streamed from the
        partitions (see ``docs/scaling.md``).
        """
        if is_dask_collection(X) or is_dask_collection(y):
            return fit_interval_dask(self, X, y, quality, cost, propensity)
        X, fb, _ = check_logs(self, X, y, quality, cost, propensity)
        self._check_network()
        grid = self._grid()
        self.grid_ = grid
        self.cost_weight_range_ = (float(grid[0]), float(grid[-1]))
        self.utility_ = self._fit_utility(X, fb)
        self.classes_ = self.utility_.classes_
        Q, C = self.utility_.quality_, self.utility_.cost_
        self.utility_scales_ = np.array([utility_spread(Q - c * C) for c in grid])
        seed = int_seed(self.random_state)
        net = self._build_net(X.shape[1], seed)
        self.policy_ = fit_net(net, X, np.hstack([Q, C]), seed)
        self.budget_ = None
        return self

    def _build_net(self, n_features, seed):
        """The interval network, untrained (for the in-memory and the Dask fit)."""
        grid = self.grid_
        return build_policy_net(
            module=IntervalPolicy,
            module_params={
                "n_features": n_features,
                "n_outputs": len(self.classes_),
                "n_grid": len(grid),
                "hidden_layer_sizes": tuple(self.hidden_layer_sizes),
            },
            criterion=IntervalRegretLoss,
            criterion_params={
                "grid": grid.tolist(),
                "scales": self.utility_scales_.tolist(),
                "temperature": self.temperature,
                # several cost weights per row and batch: a less noisy interpolation
                # (docs/reference/interval.md, "The loss")
                "n_draws": 4,
            },
            **self._training_params(seed),
        )

    # -- routing ------------------------------------------------------------------

    def _lazy(self, method, X, cost_weight):
        """``method`` over the partitions of a Dask array, lazily, at ``cost_weight``."""
        check_is_fitted(self)
        shape = {} if method == "predict" else {"n_columns": len(self.classes_)}
        dtype = np.asarray(self.classes_).dtype if method == "predict" else np.float64
        if cost_weight is None or np.ndim(cost_weight) == 0:
            return lazy_method(self, method, X, dtype=dtype, cost_weight=cost_weight, **shape)
        return lazy_method(self, method, X, dtype=dtype, per_row={"cost_weight": cost_weight},
                           **shape)

    def _cost_weights(self, cost_weight, n):
        if cost_weight is None:
            if self.budget_ is None:
                raise ValueError(
                    "cost_weight is required: give the price of cost in units of quality "
                    f"within the fitted range {self.cost_weight_range_}, e.g. "
                    "predict(X, cost_weight=...), or calibrate one to a budget first "
                    "with calibrate_budget(X_logs, feedback, max_cost=...)."
                )
            cost_weight = self.budget_.cost_weight
        return check_cost_weight(
            cost_weight, n=n, fitted_range=self.cost_weight_range_,
            clip=self.out_of_range == "clip",
        )

    def decision_function(self, X, cost_weight=None):
        """Logits of every model for each query at its cost weight.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Query features.
        cost_weight : float or array-like of shape (n_samples,), default=None
            The cost weight, for all queries or one per query; ``None`` uses
            the one chosen by :meth:`calibrate_budget`.

        Returns
        -------
        scores : ndarray of shape (n_samples, n_models)
            Interpolated logits; higher is preferred. On a Dask array, a lazy
            Dask array.
        """
        if is_dask_collection(X):
            return self._lazy("decision_function", X, cost_weight)
        X = check_features(self, X)
        c = self._cost_weights(cost_weight, X.shape[0])
        endpoints, corrections = self.policy_.module_.split(policy_logits(self.policy_, X))
        if c.size and np.all(c == c[0]):
            c = float(c[0])  # one cost weight for all queries: the sliced fast path
        return interpolate_logits(endpoints, corrections, self.grid_, c)

    def predict(self, X, cost_weight=None):
        """Model to route each query to at its cost weight.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Query features.
        cost_weight : float or array-like of shape (n_samples,), default=None
            As in :meth:`decision_function`.

        Returns
        -------
        labels : ndarray of shape (n_samples,)
            Labels from ``classes_``. On a Dask array, a lazy Dask array.
        """
        if is_dask_collection(X):
            return self._lazy("predict", X, cost_weight)
        scores = self.decision_function(X, cost_weight)
        return self.classes_[np.argmax(scores, axis=1)]

    def predict_sweep(self, X, cost_weights):
        """Route every query at each of several cost weights, in one pass.

        Equivalent to ``[predict(X, c) for c in cost_weights]`` but runs the
        network once: for Pareto curves, budget scans and what-if analyses.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Query features.
        cost_weights : array-like of shape (n_cost_weights,)
            Cost weights within the fitted range.

        Returns
        -------
        labels : ndarray of shape (n_cost_weights, n_samples)
            Row ``k`` holds the decisions at ``cost_weights[k]``. On a Dask
            array, a lazy Dask array.

        Examples
        --------
        >>> from sklearn_causal_routing import IntervalRouter
        >>> from sklearn_causal_routing.datasets import RoutingWorld
        >>> logs = RoutingWorld(random_state=0).sample(600, random_state=1).log(random_state=2)
        >>> router = IntervalRouter(hidden_layer_sizes=(16,), max_epochs=5, random_state=0)
        >>> router.fit(logs.X, logs.feedback).predict_sweep(logs.X[:5], [0.0, 0.5, 1.0]).shape
        (3, 5)
        """
        if is_dask_collection(X):
            weights = np.asarray(cost_weights, dtype=np.float64).ravel()
            self._cost_weights(weights, weights.shape[0])  # out of range raises now
            labels = lazy_method(self, "_sweep_rows", X, n_columns=len(weights),
                                 dtype=np.asarray(self.classes_).dtype, cost_weights=weights)
            return labels.T
        return self.classes_[self._sweep_indices(X, cost_weights)]

    def _sweep_rows(self, X, cost_weights):
        """The sweep's labels with one row per query (a partition of a Dask sweep)."""
        return self.classes_[self._sweep_indices(X, cost_weights)].T

    def _sweep_indices(self, X, cost_weights):
        X = check_features(self, X)
        weights = np.asarray(cost_weights, dtype=np.float64).ravel()
        weights = self._cost_weights(weights, weights.shape[0])
        endpoints, corrections = self.policy_.module_.split(policy_logits(self.policy_, X))
        return np.stack(
            [
                np.argmax(interpolate_logits(endpoints, corrections, self.grid_, float(c)), axis=1)
                for c in weights
            ]
        ).reshape(len(weights), X.shape[0])

    def predict_proba(self, X, cost_weight=None):
        """Routing distribution ``softmax(f(x, c) / temperature)``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Query features.
        cost_weight : float or array-like of shape (n_samples,), default=None
            As in :meth:`decision_function`.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_models)
            Columns follow ``classes_``. On a Dask array, a lazy Dask array.
        """
        if is_dask_collection(X):
            return self._lazy("predict_proba", X, cost_weight)
        scores = self.decision_function(X, cost_weight)
        return softmax(scores.astype(np.float64) / self.temperature)

    def score(self, X, y, quality=None, *, cost=None, propensity=None, cost_weight=None):
        """Off-policy (DR) estimate of the mean utility of the router's decisions.

        As :meth:`RegretRouter.score`, at ``cost_weight``. With
        ``cost_weight=None`` and no calibrated budget, the mean of the values
        at the grid points, a summary of the whole range that
        ``GridSearchCV`` can maximise.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Held-out query features.
        y : feedback array or array-like of shape (n_samples,)
            Held-out logged feedback (or labels with ``quality``).
        quality, cost, propensity : array-like, default=None
            For the form ``score(X, t, quality, cost=cost)``.
        cost_weight : float, default=None
            Cost weight to score at.

        Returns
        -------
        value : float
            Estimated mean utility per query; on Dask input, a lazy Dask
            scalar (as :meth:`RegretRouter.score`).
        """
        from .metrics import policy_value

        if is_dask_collection(X) or is_dask_collection(y):
            check_is_fitted(self)
            if cost_weight is None and getattr(self, "budget_", None) is None:
                weights = self.grid_
            else:
                weights = [self._cost_weights(cost_weight, 1)[0]]
            return lazy_score(self, X, y, quality, cost, propensity, cost_weights=weights)
        fb = resolve_feedback(y, quality, cost, propensity, caller="score")
        if cost_weight is None and getattr(self, "budget_", None) is None:
            check_is_fitted(self)
            return float(
                np.mean(
                    [
                        policy_value(self.predict(X, c), X, fb, cost_weight=c)
                        for c in self.grid_
                    ]
                )
            )
        c = self.budget_.cost_weight if cost_weight is None else check_cost_weight(cost_weight)
        return policy_value(self.predict(X, c), X, fb, cost_weight=c)

    # -- budgets ------------------------------------------------------------------

    def calibrate_budget(self, X, y, *, max_cost=None, max_share=None, n_candidates=201):
        """Choose the cost weight whose estimated spend meets a budget.

        On held-out logs, estimate for each candidate cost weight in the
        fitted range (``n_candidates`` evenly spaced) the mean cost per query
        and the share of calls per model that routing at that weight would
        produce: the mean cost by the fixed doubly robust evaluator of
        :meth:`score` (the logs show only the served model's cost), the shares
        directly from the decisions. The smallest weight that meets every
        constraint (the least price on cost, hence the most quality the budget
        allows) becomes the default ``cost_weight`` of :meth:`predict`.

        Unlike RouteLLM's threshold calibration, which trades off two models,
        this works for any number of models and for budgets on spend and on
        the share of calls to given models at once.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Held-out query features (a sample of the traffic to serve).
        y : feedback array
            Held-out logged feedback for those queries.
        max_cost : float, default=None
            Maximum mean cost per query.
        max_share : dict, default=None
            ``{model: maximum share of calls}``, e.g. ``{"gpt-4": 0.2}``.
        n_candidates : int, default=201
            Number of candidate cost weights scanned.

        Returns
        -------
        self : IntervalRouter
            With ``budget_`` set.

        Raises
        ------
        ValueError
            If no cost weight in the fitted range meets the budget; the message
            gives the lowest spend / shares reachable.

        Examples
        --------
        >>> from sklearn_causal_routing import IntervalRouter
        >>> from sklearn_causal_routing.datasets import RoutingWorld
        >>> world = RoutingWorld(random_state=0)
        >>> logs = world.sample(1000, random_state=1).log(random_state=2)
        >>> heldout = world.sample(1000, random_state=3).log(random_state=4)
        >>> router = IntervalRouter(hidden_layer_sizes=(16,), max_epochs=5, random_state=0)
        >>> router.fit(logs.X, logs.feedback).calibrate_budget(
        ...     heldout.X, heldout.feedback, max_cost=0.2)
        IntervalRouter(...)
        >>> router.budget_.estimated_cost <= 0.2
        True
        >>> router.predict(heldout.X[:3]).shape  # at router.budget_.cost_weight
        (3,)
        """
        from .metrics import evaluation_utility

        check_is_fitted(self)
        if max_cost is None and not max_share:
            raise ValueError(
                "calibrate_budget needs a budget: max_cost=<mean cost per query> and/or "
                "max_share={model: share}; got neither."
            )
        reject_dask("IntervalRouter.calibrate_budget", X=X, y=y)
        X = check_features(self, X)
        fb = check_feedback(y)
        check_same_length(X, fb)
        max_share = dict(max_share or {})
        share_idx = {}
        for model, share in max_share.items():
            share_idx[model] = int(encode_labels(np.asarray([model]), self.classes_, name="max_share")[0])
            if not 0 <= share <= 1:
                raise ValueError(f"max_share[{model!r}] must lie in [0, 1]; got {share!r}.")
        evaluator = fit_utility_cached(evaluation_utility(fb), X, fb)
        cols = encode_labels(self.classes_, evaluator.classes_, name="router models")
        Qe, Ce = evaluator.quality_[:, cols], evaluator.cost_[:, cols]
        candidates = np.linspace(*self.cost_weight_range_, int(n_candidates))
        decisions = self._sweep_indices(X, candidates)  # (n_candidates, n_samples)
        rows = np.arange(X.shape[0])
        spend = Ce[rows, decisions].mean(axis=1)
        quality = Qe[rows, decisions].mean(axis=1)
        shares = np.stack(
            [np.bincount(d, minlength=len(self.classes_)) / len(d) for d in decisions]
        )
        ok = np.ones(len(candidates), dtype=bool)
        if max_cost is not None:
            ok &= spend <= max_cost
        for model, share in max_share.items():
            ok &= shares[:, share_idx[model]] <= share
        if not ok.any():
            parts = []
            if max_cost is not None:
                parts.append(f"lowest estimated mean cost {spend.min():.4g} (budget {max_cost:g})")
            for model, share in max_share.items():
                parts.append(
                    f"lowest share of {model!r} {shares[:, share_idx[model]].min():.3f} "
                    f"(budget {share:g})"
                )
            raise ValueError(
                "No cost weight in the fitted range "
                f"{self.cost_weight_range_} meets the budget: "
                + "; ".join(parts)
                + ". Refit with a higher cost_weight_range upper end, or relax the budget."
            )
        # The smallest feasible cost weight puts the least price on cost, hence
        # the most quality the budget allows (the estimated quality along the
        # candidates is too noisy to maximise directly).
        best = int(np.flatnonzero(ok)[0])
        self.budget_ = Bunch(
            cost_weight=float(candidates[best]),
            max_cost=max_cost,
            max_share=max_share,
            estimated_cost=float(spend[best]),
            estimated_quality=float(quality[best]),
            estimated_shares=dict(zip(self.classes_.tolist(), shares[best].tolist())),
            candidates=candidates,
            candidate_costs=spend,
            candidate_qualities=quality,
        )
        return self
