"""RegretRouter: a routing policy trained to minimise decision regret."""

import warnings
from numbers import Integral, Real
from statistics import NormalDist

import numpy as np
from sklearn.base import BaseEstimator, clone
from sklearn.utils import Bunch
from sklearn.utils.parallel import Parallel, delayed
from sklearn.utils.validation import has_fit_parameter

from ._continual import ContinualRouterMixin, new_round, pessimism_penalty, single_support
from ._dask_policy import fit_router_dask, lazy_method
from ._nets import MLPPolicy, RegretLoss, build_policy_net, fit_net, fit_net_warm, policy_logits
from ._policy import (
    TRAINING_CONSTRAINTS,
    PolicyRouterMixin,
    fallback_report,
    single_bounds,
    utility_spread,
)
from ._feedback import check_logs
from ._propensity import expand_proba
from .base import RouterMixin
from .exceptions import FallbackWarning
from .utils._compat import HasMethods, Interval, StrOptions, _fit_context
from .utils._parallel import limited, thread_budget
from .utils._stats import mean_lcb, softmax
from .utils._warnings import warn
from .utils.validation import check_features, crossfit_splits, int_seed, is_dask_collection

__all__ = ["RegretRouter"]


def _fit_fold_policy(router, X, U, weight, train, test, warm, epochs):
    """One fold policy of the fallback check, as a joblib task: the policy and its
    decisions on the ``test`` rows (``train``: the rows it trains on; ``epochs=0``:
    ``warm`` as it is, untrained)."""
    if epochs == 0:
        return warm, np.argmax(router._policy_scores(warm, X[test]), axis=1)
    policy = router._fit_policy(
        X[train], U[train], utility_spread(U[train]),
        weight=None if weight is None else weight[train], warm=warm, epochs=epochs,
    )
    return policy, np.argmax(router._policy_scores(policy, X[test]), axis=1)


class RegretRouter(ContinualRouterMixin, RouterMixin, PolicyRouterMixin, BaseEstimator):
    """Route each query to a model, trained from biased logs to minimise regret.

    Fitting runs two stages. First a :class:`DoublyRobustUtility` turns the
    logs (one model's outcome per query, picked by a biased rule) into
    cross-fitted counterfactual utilities ``U[i, t]`` of every model ``t`` for
    every logged query ``i``, at ``cost_weight``. Then a policy ``f(x)`` is
    trained to minimise the decision regret against those utilities: an MLP on
    the query features, trained through skorch (RM-Softmax or
    RM-Classification), or, for RM-Classification, any scikit-learn classifier.

    Safe by default: unless the logs show, at ``fallback_confidence``, that the
    trained policy beats always calling the best single model, the router
    routes every query to that model instead and warns
    (:class:`~sklearn_causal_routing.exceptions.FallbackWarning`); see
    ``fallback``.

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
        two layers of 200 (see ``docs/reference/router.md``).
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
    n_jobs : int or None, default=None
        Fits to run at once, as joblib tasks (``None``: 1 unless in a
        ``joblib.parallel_config`` context; ``-1``: every core), each with its
        share of the cores for torch, XGBoost, OpenMP and BLAS threads. Passed
        to the utility stage when the stage's own ``n_jobs`` is ``None``; the
        ``fallback_cv`` fold policies of the fallback check train in
        parallel. The result does not depend on it. See ``docs/scaling.md``.
    fallback : {"best_single"} or None, default="best_single"
        What to do when the logs give no evidence that the policy beats the
        best single model. ``"best_single"``: after training, a cross-fitted
        check (``fallback_cv`` folds) compares the policy's decisions with
        always calling the single model with the highest lower confidence
        bound on its value (which may differ from the argmax of
        ``constant_values_``; see Notes); when the doubly robust lower
        confidence bound of the gain is not above zero, the router routes
        every query to that model (``fallback_``) and raises a
        :class:`~sklearn_causal_routing.exceptions.FallbackWarning`. With
        recorded propensities, the gain over the logging rule is reported
        too (``fallback_report_``), but does not decide. The check costs
        about ``fallback_cv`` extra policy fits, each on
        ``(fallback_cv - 1) / fallback_cv`` of the rows (with recorded
        propensities, the unclipped utilities it values decisions with are
        the stage's own fit reweighted, not a refit). ``None`` skips the
        check and always routes
        with the trained policy.
    fallback_confidence : float, default=0.95
        One-sided level of the lower confidence bounds of the check (in
        (0, 1)); higher falls back more often.
    fallback_cv : int, default=3
        Folds of the cross-fitted check (>= 2): each fold's decisions come
        from a policy trained, with the same settings, on the other folds.
    keep_history : bool, default=True
        Keep what the router trained on (``history_``): the features (as
        float32), the cross-fitted quality and cost utilities, the logged
        outcomes and the fallback check's fold policies. :meth:`reprice` and
        :meth:`partial_fit` need it. Memory, and pickle size, grow by about
        ``4 * n_features + 33 * n_models + 48`` bytes per kept row
        (e.g. 17 MB for 10,000 rows of 384-dimensional embeddings and 10
        models) plus ``fallback_cv`` small networks. ``False`` keeps none of
        it.
    memory : float, default=1.0
        Weight, in ``[0, 1]``, that each past round of logs keeps at every
        :meth:`partial_fit`: a row logged ``r`` rounds ago weighs
        ``memory ** r`` in the policy's loss and in the check. ``1`` keeps
        every past row at full weight (as a fit on all logs would), ``0``
        forgets the past (rows of weight 0 are dropped from ``history_``).
    replay : float or None, default=1.0
        What the warm retraining of :meth:`partial_fit` trains on besides
        the new rows: a uniform sample of ``replay`` times as many kept rows
        as there are new ones (all of them when there are fewer), drawn
        afresh at each update, each weighted by the inverse of its chance of
        being drawn, so that the loss over the sample is an unbiased
        estimate of the loss over every kept row. An update then costs in
        proportion to the new logs, not to the history. The fallback check's
        fold policies train on the same rows; decisions are still valued on
        every kept row. ``None`` trains on every kept row (an update's cost
        grows with the history).
    drift_confidence : float or None, default=0.99
        Two-sided level of the drift check of :meth:`partial_fit` (in
        (0, 1)); ``None`` turns the check off.
    pessimism : float, default=0.0
        ``z >= 0``: before the policy is trained, each model's utilities are
        lowered by ``z`` times the standard error of its mean DR utility
        (``pessimism_penalty_``), computed over the rows where that model has
        a DR estimate (a model that entered by :meth:`partial_fit` has one
        only on the logs since). A model with few logged rows, whose mean is
        uncertain, is then chosen only where its estimated advantage exceeds
        its uncertainty. ``0`` (the default) turns it off; the fallback
        check values decisions without it. See ``docs/continual.md``.
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
    fallback_ : str, int or None
        The model (from ``classes_``) every query is routed to when the router
        fell back; ``None`` when it routes with ``policy_``.
    fallback_report_ : Bunch or None
        The check behind ``fallback_`` (``None`` with ``fallback=None``), all
        values DR estimates of mean utility per query on the training logs:
        ``policy_value`` (the cross-fitted policy), ``single_values`` and
        ``single_values_lcb`` (each model's value and its lower confidence
        bound; columns as ``classes_``), ``single_support`` (each model's
        effective sample size: Kish's of the inverse propensities of its
        logged rows; below 30 its bound is widened, see Notes),
        ``best_single`` (the label with the highest bound) and
        ``best_single_value``, ``gain`` (policy minus best
        single) and ``gain_lcb`` (its lower confidence bound),
        ``logging_value``, ``logging_gain`` and ``logging_gain_lcb`` (the
        logging rule, valued on-policy by the logged utilities; NaN when the
        logs did not record propensities; reported, not used to decide),
        ``confidence``, ``n_folds`` and ``fell_back`` (``gain_lcb <= 0``).
    reference_value_ : Bunch
        The router's value per query estimated on its training logs, which
        :meth:`partial_fit` compares new logs with: ``value``,
        ``std_error`` and ``source`` (``"cross-fitted check"``: the value of
        the fallback check's out-of-fold decisions, or of the best single
        model when it fell back). NaN with ``fallback=None``: the policy's
        in-sample value would be optimistic, so there is no drift check.
    history_ : Bunch or None
        What the router trained on (``keep_history=True``), one row per kept
        logged row: ``X``, ``quality`` and ``cost`` (the DR utilities the
        policy trains on), ``eval_quality`` and ``eval_cost`` (those the
        check values decisions with), ``action``, ``logged_quality`` and
        ``logged_cost``, ``recorded`` (whether the row's propensity was
        logged), ``propensity`` (of the logged model, as the check weighted
        it), ``weight``, ``fold`` (of the check) and ``fold_policies``;
        ``filled`` ((n, n_models) bool: the column is an outcome-model
        prediction, not a DR estimate, e.g. for a model added by
        :meth:`partial_fit` on rows logged before it joined) and
        ``fill_stages`` (earlier utility stages still needed to predict
        models the newest logs did not serve, or served fewer than 30
        times; kept without their per-row arrays); ``None`` with
        ``keep_history=False``.
    drift_report_ : Bunch or None
        The drift check of the last :meth:`partial_fit` (``None`` before
        one); see :meth:`partial_fit`.
    n_updates_ : int
        Number of :meth:`partial_fit` rounds since :meth:`fit`.
    pessimism_penalty_ : ndarray of shape (n_models,)
        What was subtracted from each model's training utilities
        (``pessimism`` times the standard error of its mean; zeros with
        ``pessimism=0``).
    n_features_in_ : int
        Number of features seen during fit.

    See Also
    --------
    DoublyRobustUtility : The utility stage.
    IntervalRouter : One router for a whole range of cost weights.
    SingleModelRouter : Always the best single model.

    Notes
    -----
    With scaled DR utilities ``U`` and regret ``R[i, t] = max_s U[i, s] -
    U[i, t]``, RM-Softmax minimises

    .. math:: \\frac{1}{n}\\sum_i \\sum_t \\mathrm{softmax}(f(x_i)/T)_t R_{it},

    RM-Classification the cross-entropy toward :math:`\\arg\\max_t U_{it}`.
    Training stops when the regret on the held-out ``validation_fraction``
    stops improving, and the best epoch is kept.

    The fallback check splits the rows into ``fallback_cv`` shuffled folds
    and routes each fold's rows, :math:`d_i`, with a policy trained on the
    other folds. It values decisions with cross-fitted DR utilities
    :math:`V` (unscaled): the stage's ``U``, except that when the logs
    recorded propensities the stage is taken with ``clip=None`` (as
    ``score`` does; the same fit, reweighted), because clipping biases the values of rarely logged
    models upward and could make the worst model look best. For a column
    :math:`A` of paired values let
    :math:`\\mathrm{LCB}(A) = \\bar A - z_{\\alpha}\\, s_A / \\sqrt{n}`,
    :math:`z_{\\alpha}` the standard normal quantile at
    ``fallback_confidence`` and :math:`s_A` the standard deviation
    (``ddof=1``). The best single model is
    :math:`b = \\arg\\max_t \\mathrm{LCB}(V_{\\cdot t})`, the model with the best
    lower bound on its value rather than the best mean, which on small or
    skewed logs tends to be a rarely logged model that was lucky. For the
    same reason, where a model's logged rows give an effective sample size
    below 30 (``single_support``), :math:`s_A / \\sqrt{n}` in its bound is
    at least :math:`s_u / \\sqrt{\\mathrm{support}}`, :math:`s_u` the
    standard deviation of the logged utilities: the terms of a model logged
    a few times with tiny propensities are heavy-tailed, and their sample
    standard deviation understates the uncertainty. With
    paired differences :math:`D_i = V_{i d_i} - V_{i b}`, the router falls
    back to :math:`b` when :math:`\\mathrm{LCB}(D) \\le 0`. The check is
    conservative: its policies see fewer rows than ``policy_``.
    When the logs recorded propensities, the same bound is reported for
    :math:`D'_i = V_{i d_i} - u_i`, :math:`u_i` the logged utility (the
    logging rule valued on-policy). It does not trigger the fallback: a
    policy that beats :math:`b` but not the logging rule would lose value by
    falling back to :math:`b`; whether to keep the logging rule is the user's
    call.

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
    >>> sorted(router.fallback_report_)[:3]
    ['best_single', 'best_single_value', 'confidence']
    """

    _parameter_constraints = {
        **TRAINING_CONSTRAINTS,
        "loss": [StrOptions({"softmax", "classification"})],
        "cost_weight": [Interval(Real, 0, None, closed="left")],
        "policy": [HasMethods(["fit", "predict_proba"]), None],
        "fallback": [StrOptions({"best_single"}), None],
        "fallback_confidence": [Interval(Real, 0, 1, closed="neither")],
        "fallback_cv": [Interval(Integral, 2, None, closed="left")],
        "keep_history": ["boolean"],
        "memory": [Interval(Real, 0, 1, closed="both")],
        "replay": [Interval(Real, 0, None, closed="left"), None],
        "drift_confidence": [Interval(Real, 0, 1, closed="neither"), None],
        "pessimism": [Interval(Real, 0, None, closed="left")],
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
        fallback="best_single",
        fallback_confidence=0.95,
        fallback_cv=3,
        keep_history=True,
        memory=1.0,
        replay=1.0,
        drift_confidence=0.99,
        pessimism=0.0,
        n_jobs=None,
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
        self.fallback = fallback
        self.fallback_confidence = fallback_confidence
        self.fallback_cv = fallback_cv
        self.keep_history = keep_history
        self.memory = memory
        self.replay = replay
        self.drift_confidence = drift_confidence
        self.pessimism = pessimism
        self.n_jobs = n_jobs
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

        Warns
        -----
        FallbackWarning
            When the fallback check finds no evidence that the policy beats
            the best single model; the router then routes every query to
            ``fallback_``.

        Notes
        -----
        ``X`` and ``y`` may be Dask collections (a Dask array of features and
        feedback from :func:`make_feedback` on Dask columns, or
        :func:`feedback_from_frame` on a Dask DataFrame): the utility stage is
        then fitted from sufficient statistics and the policy on minibatches
        streamed from the partitions, and no ``history_`` is kept (see
        ``docs/scaling.md``).
        """
        if is_dask_collection(X) or is_dask_collection(y):
            return fit_router_dask(self, X, y, quality, cost, propensity)
        X, fb, _ = check_logs(self, X, y, quality, cost, propensity)
        if self.policy is None:
            self._check_network()
        if self.policy is not None and self.loss != "classification":
            raise ValueError(
                "policy: a scikit-learn classifier can only be trained with "
                f"loss='classification' (RM-Classification); got loss={self.loss!r}. "
                "Use RegretRouter(loss='classification', policy=clf), or policy=None "
                "for the MLP policy."
            )
        if self.fallback is not None and X.shape[0] < self.fallback_cv:
            raise ValueError(
                f"fallback_cv={self.fallback_cv} folds need at least as many logged rows; "
                f"got {X.shape[0]}. Use fewer folds (e.g. fallback_cv=2) or turn the check "
                "off with RegretRouter(fallback=None)."
            )
        self.utility_ = self._fit_utility(X, fb, self.cost_weight)
        self.classes_ = self.utility_.classes_
        U = self.utility_.utilities(self.cost_weight)
        self.constant_values_ = U.mean(axis=0)
        self.utility_scale_ = utility_spread(U)
        self.pessimism_penalty_ = pessimism_penalty(U, None, None, self.pessimism)
        self.policy_ = self._fit_policy(X, U - self.pessimism_penalty_, self.utility_scale_)
        self.drift_report_ = None
        self.n_updates_ = 0
        rows = None
        if self.fallback is not None or self.keep_history:
            folds = crossfit_splits(
                self.fallback_cv, X, [], int_seed(self.random_state), name="fallback_cv"
            )
            # without the check, nothing values decisions: no unclipped stage
            evaluation = self.utility_ if self.fallback is None else self._evaluation_stage(X, fb)
            rows = new_round(X, fb, self.utility_, evaluation, folds, self.classes_)
        self._check_and_keep(X, rows)
        return self

    def _check_and_keep(self, X, rows, warm=None, epochs=None, train_weight=None):
        """Run the fallback check on ``rows`` (a history Bunch); set the fallback,
        the reference value and ``history_``. ``warm``: fold policies to start from;
        ``train_weight``: the fold policies' training weights, when not ``rows.weight``."""
        self.fallback_ = None
        self.fallback_report_ = None
        if self.fallback is not None:
            report, policies, terms = self._fallback_check(X, rows, warm, epochs, train_weight)
            self._adopt_check(report, *mean_lcb(terms, 1.0, weight=rows.weight))
        else:
            # Without the check there is no out-of-fold value of the policy; its
            # in-sample value is optimistic, so the drift check is skipped.
            policies = None
            self.reference_value_ = Bunch(value=np.nan, std_error=np.nan, source=None)
        self.history_ = None
        if self.keep_history:
            rows.X = np.asarray(rows.X, dtype=np.float32)
            rows.fold_policies = policies
            self.history_ = rows

    def _fit_policy(self, X, U, scale, weight=None, warm=None, epochs=None):
        """Train a policy on utilities ``U`` divided by ``scale``; sets no attribute.

        ``weight``: row weights (rows of weight 0 are left out); ``warm``: a
        fitted policy network to continue training for at most ``epochs``.
        """
        regret = (U.max(axis=1, keepdims=True) - U) / scale
        if weight is not None:
            keep = weight > 0
            X, regret, weight = X[keep], regret[keep], weight[keep]
            weight = None if np.all(weight == weight[0]) else weight / weight.mean()
        if self.policy is not None:
            clf = clone(self.policy)
            if weight is None:
                return clf.fit(X, np.argmin(regret, axis=1))
            if not has_fit_parameter(clf, "sample_weight"):
                raise ValueError(
                    f"policy: {type(clf).__name__}.fit takes no sample_weight, which "
                    f"down-weighting past logs needs (memory={self.memory}). Use "
                    "memory=0 or 1, a classifier whose fit takes sample_weight, or "
                    "policy=None (the MLP policy)."
                )
            return clf.fit(X, np.argmin(regret, axis=1), sample_weight=weight)
        seed = int_seed(self.random_state)
        target = regret if weight is None else np.column_stack([regret, weight])
        if warm is not None:
            return fit_net_warm(warm, X, target, seed, epochs)
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
        return fit_net(net, X, target, seed)

    def _evaluation_stage(self, X, fb):
        """The stage the check values decisions with: ``utility_``, unclipped where it can be.

        With logged propensities, clipping them only adds bias, and on confounded
        logs with weak outcome models that bias can crown the wrong best single
        model; the stage is then taken with ``clip=None`` (the cache reweights the same fit),
        as :func:`~sklearn_causal_routing.metrics.evaluation_utility` does for
        ``score``.
        """
        stage = self.utility_
        if not getattr(stage, "logged_propensity_", False) or getattr(stage, "clip", None) is None:
            return stage
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the stage's warnings were raised by fit
            return self._fit_utility(X, fb, self.cost_weight, clip=None)

    def _fallback_check(self, X, rows, warm=None, epochs=None, train_weight=None):
        """Cross-fitted DR comparison of the policy with the best single model.

        ``rows`` holds the utilities, folds and weights (:func:`new_round`);
        ``warm``, one fitted policy per fold to continue training;
        ``train_weight``, the fold policies' row weights in training when not
        ``rows.weight`` (rows of weight 0 left out; decisions are valued on
        every row, with ``rows.weight``). Returns the report, the fold
        policies and the per-row values of the router's decisions (for
        ``reference_value_``).
        """
        n = X.shape[0]
        cw = self.cost_weight
        U = rows.quality - cw * rows.cost
        w = None if np.all(rows.weight == rows.weight[0]) else rows.weight
        tw = w if train_weight is None else train_weight
        trains = [np.flatnonzero(rows.fold != k) for k in range(self.fallback_cv)]
        if tw is not None:
            trains = [train[tw[train] > 0] for train in trains]
        # the fold policies are trained as policy_ is: with the same penalty
        U = U - self.pessimism_penalty_
        decisions = np.empty(n, dtype=np.intp)
        # The fold policies train as independent joblib tasks, each seeded as a
        # sequential fit would be and held to its share of the cores. They need
        # the router's settings and classes_, not its fitted stage: send a clone.
        worker = clone(self)
        worker.classes_ = self.classes_
        task = delayed(limited(_fit_fold_policy, thread_budget(self.n_jobs, self.fallback_cv)))
        folds = [np.flatnonzero(rows.fold == k) for k in range(self.fallback_cv)]
        fitted = Parallel(n_jobs=self.n_jobs)(
            task(worker, X, U, tw, trains[k], folds[k], None if warm is None else warm[k], epochs)
            for k in range(self.fallback_cv)
        )
        policies = [policy for policy, _ in fitted]
        for test, (_, decided) in zip(folds, fitted):
            decisions[test] = decided
        V = rows.eval_quality - cw * rows.eval_cost
        routed = V[np.arange(n), decisions]
        z = NormalDist().inv_cdf(self.fallback_confidence)
        values, se = np.array([mean_lcb(V[:, t], 1.0, weight=w) for t in range(V.shape[1])]).T
        se = values - se
        logged = rows.logged_quality - cw * rows.logged_cost
        support = single_support(rows)
        spread = np.std(logged[rows.weight > 0]) if np.all(np.isfinite(logged)) else np.nan
        # The model with the best lower bound, not the best mean: on small or
        # skewed logs, a rarely logged model's mean is the noisiest, and the
        # largest of noisy means is biased upward (the winner's curse); a bound
        # resting on few effective rows is widened (single_bounds).
        values_lcb = single_bounds(values, se, support, spread, z)
        best = int(np.argmax(values_lcb))
        gain, gain_lcb = mean_lcb(routed - V[:, best], z, weight=w)
        logging = (np.nan, np.nan, np.nan)
        recorded = rows.get("recorded")
        if recorded is None:  # kept by an older version: NaN quality where not recorded
            recorded = np.isfinite(logged)
        if np.all(recorded):  # the logging rule is valued only where every round recorded
            logging = (mean_lcb(logged, z, weight=w)[0], *mean_lcb(routed - logged, z, weight=w))
        report = fallback_report(self, best, values, values_lcb, gain, gain_lcb,
                                 np.mean(routed), logging, support)
        return report, policies, (V[:, best] if report.fell_back else routed)

    def _adopt_check(self, report, value, lcb):
        """Keep the check's ``report``; fall back (and warn) if it says so; the
        router's cross-fitted value and its one-standard-error bound become
        ``reference_value_``."""
        self.fallback_report_ = report
        if report.fell_back:
            self.fallback_ = report.best_single
            self._warn_fallback(report)
        self.reference_value_ = Bunch(value=float(value), std_error=float(value - lcb),
                                      source="cross-fitted check")

    def _warn_fallback(self, report):
        warn(
            f"RegretRouter falls back to routing every query to {report.best_single!r}, "
            f"the best single model on the logs: at cost_weight={self.cost_weight}, the "
            "cross-fitted doubly robust estimate of the trained policy's gain over it is "
            f"{report.gain:.4g} per query, with a {report.confidence:.0%} lower confidence "
            f"bound of {report.gain_lcb:.4g}, not above 0. The trained policy is kept in "
            "policy_ (its decisions: policy_predict(X)); details in fallback_report_. To "
            "always route with the trained policy, pass RegretRouter(fallback=None).",
            FallbackWarning,
        )

    # -- routing ------------------------------------------------------------------

    def _policy_scores(self, policy, X):
        """Scores whose argmax is the policy's decision: logits, or classifier probabilities."""
        if self.policy is None:
            return policy_logits(policy, X)
        return expand_proba(policy, X, len(self.classes_))

    def _decision_scores(self, X):
        """The policy's scores, or one-hot on ``fallback_`` when fallen back."""
        fallback = getattr(self, "fallback_", None)
        if fallback is None:
            return self._policy_scores(self.policy_, X)
        scores = np.zeros((X.shape[0], len(self.classes_)))
        scores[:, np.flatnonzero(self.classes_ == fallback)[0]] = 1.0
        return scores

    def decision_function(self, X):
        """Policy scores of every model for each query (higher = preferred).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Query features.

        Returns
        -------
        scores : ndarray of shape (n_samples, n_models)
            The MLP's logits (or the classifier policy's probabilities); when
            the router fell back, 1 for ``fallback_`` and 0 elsewhere.
        """
        if is_dask_collection(X):
            return lazy_method(self, "decision_function", X, len(self.classes_))
        return self._decision_scores(check_features(self, X))

    def policy_predict(self, X):
        """The trained policy's own decisions, whether or not the router fell back.

        Equal to :meth:`predict` unless ``fallback_`` is set. To value them on
        held-out logs, pass them to
        :func:`~sklearn_causal_routing.metrics.policy_value`.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Query features.

        Returns
        -------
        labels : ndarray of shape (n_samples,)
            Labels from ``classes_``: the highest-scored model of ``policy_``.
        """
        scores = self._policy_scores(self.policy_, check_features(self, X))
        return self.classes_[np.argmax(scores, axis=1)]

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
            classifier's probabilities otherwise; one-hot on ``fallback_``
            when the router fell back. Columns follow ``classes_``.
        """
        if is_dask_collection(X):
            return lazy_method(self, "predict_proba", X, len(self.classes_))
        scores = self.decision_function(X)
        if self.policy is not None or getattr(self, "fallback_", None) is not None:
            return scores
        return softmax(scores.astype(np.float64) / self.temperature)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.non_deterministic = self.random_state is None
        return tags

