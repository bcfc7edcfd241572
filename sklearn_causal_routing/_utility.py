"""DoublyRobustUtility: counterfactual utility of every model for every logged query."""

import copy
import threading
import warnings
from collections import OrderedDict
from numbers import Real

import joblib
import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin, clone
from sklearn.linear_model import RidgeCV
from sklearn.utils.parallel import Parallel, delayed
from sklearn.utils.validation import check_is_fitted

from ._dask import fit_utility_dask
from ._feedback import check_logs, grader_fields, records_propensities
from ._pooled import is_pooled
from ._propensity import PropensityModel, overlap_diagnostics, warn_poor_overlap
from .exceptions import JudgeGradeWarning, SmallArmWarning
from .utils._compat import HasMethods, Interval, StrOptions, _fit_context
from .utils._param import NestedDefaultsMixin
from .utils._parallel import N_JOBS_CONSTRAINT, limited, thread_budget
from .utils._warnings import warn
from .utils.validation import (
    check_cost_weight,
    check_features,
    crossfit_splits,
    encode_labels,
    int_seed,
    is_dask_collection,
)

__all__ = ["DoublyRobustUtility"]

#: Fewest rows of a model in a training fold for its outcome model to be fitted.
MIN_ROWS_PER_MODEL = 5


def _default_outcome_model():
    # Ridge with its penalty chosen by efficient leave-one-out: fast (closed form),
    # well behaved on dense sentence embeddings, and never wildly extrapolating.
    return RidgeCV(alphas=np.logspace(-2, 3, 6))


def _check_clip(clip):
    if clip is None:
        return None
    try:
        lo, hi = (float(v) for v in clip)
    except (TypeError, ValueError):
        raise ValueError(
            "clip must be None or a pair of percentiles (low, high) with "
            f"0 <= low < high <= 100, e.g. clip=(5, 95); got {clip!r}."
        ) from None
    if not (0 <= lo < hi <= 100):
        raise ValueError(
            "clip must be a pair of percentiles (low, high) with 0 <= low < high <= "
            f"100, e.g. clip=(5, 95); got {clip!r}."
        )
    return lo, hi


def plan_per_model(X, target, action, rows, classes, estimator, small=None):
    """What :func:`fit_per_model` fits, without fitting: the constants and the fits to run.

    Returns ``(models, fits)``. ``models`` is the list of
    :func:`fit_per_model` with the constants in place and ``None`` where a
    regressor is to be fitted, or ``None`` for a pooled ``estimator``.
    ``fits`` lists ``(slot, rows)``: the index in ``models`` (``None``: the
    pooled model, fitted once) and the rows to fit on, each to run as
    :func:`fit_outcome`. ``small`` is filled as by :func:`fit_per_model`.
    """
    if is_pooled(estimator):
        # one fit on every model's rows; models without rows borrow the shared part
        counts = np.bincount(action[rows], minlength=len(classes))
        if small is not None:
            small.extend((np.asarray(label).item(), 0) for label, n in zip(classes, counts) if n == 0)
        return None, [(None, rows)]
    models, fits = [], []
    fallback = float(np.mean(target[rows]))
    for j, label in enumerate(classes):
        mine = rows[action[rows] == j]
        if mine.size < MIN_ROWS_PER_MODEL:
            if small is not None:
                small.append((np.asarray(label).item(), int(mine.size)))
            models.append(float(np.mean(target[mine])) if mine.size else fallback)
            continue
        values = target[mine]
        if np.ptp(values) == 0:
            models.append(float(values[0]))  # constant outcome: nothing to learn
            continue
        models.append(None)
        fits.append((j, mine))
    return models, fits


def fit_outcome(estimator, X, target, rows, test=None, action=None, n_models=None):
    """One outcome fit, as a joblib task: a clone of ``estimator`` on ``rows``.

    ``action`` and ``n_models`` are given for a pooled estimator (fitted on
    every model's rows at once). Returns the fitted model and its predictions
    for the ``test`` rows (``None`` without ``test``): one column for a
    per-model regressor, one per model for a pooled one.
    """
    if action is not None:
        model = clone(estimator).fit(X[rows], target[rows], action[rows], n_models)
    else:
        model = _default_outcome_model() if estimator is None else clone(estimator)
        model.fit(X[rows], target[rows])
    return model, (None if test is None else model.predict(X[test]))


def outcome_tasks(fits, X, target, action, classes, estimator, threads, test=None):
    """The ``fits`` of :func:`plan_per_model` as delayed :func:`fit_outcome` calls.

    Each task is limited to ``threads`` (see
    :func:`~sklearn_causal_routing.utils._parallel.limit_threads`) and
    predicts the ``test`` rows; :func:`fill_models` puts their models in place.
    """
    pooled = len(fits) == 1 and fits[0][0] is None
    extra = {"action": action, "n_models": len(classes)} if pooled else {}
    task = delayed(limited(fit_outcome, threads))
    return [task(estimator, X, target, rows, test, **extra) for _, rows in fits]


def fill_models(models, fits, results):
    """Put the models fitted by the tasks of ``fits`` (:func:`plan_per_model`) in place."""
    for (slot, _), (model, _) in zip(fits, results):
        if slot is None:
            return model  # the pooled model: the one fit
        models[slot] = model
    return models


def fit_per_model(X, target, action, rows, classes, estimator, small=None, n_jobs=None):
    """Fit one outcome model per logged model on its rows among ``rows``.

    A pooled ``estimator`` (see :mod:`sklearn_causal_routing.outcome`) is
    fitted once on all of ``rows`` and returned as it is.

    A model with fewer than ``MIN_ROWS_PER_MODEL`` rows gets the mean of its
    rows (or of all ``rows`` when it has none) and is recorded in ``small`` as
    ``(label, n_rows)``; a
    model whose outcome is constant gets that constant. The fits run as
    joblib tasks, ``n_jobs`` at once, each with its share of the cores.
    """
    models, fits = plan_per_model(X, target, action, rows, classes, estimator, small)
    threads = thread_budget(n_jobs, len(fits))
    tasks = outcome_tasks(fits, X, target, action, classes, estimator, threads)
    return fill_models(models, fits, Parallel(n_jobs=n_jobs)(tasks))


def fill_predictions(models, fits, results, n_rows):
    """The test-row predictions of :func:`outcome_tasks`' tasks, one column per model.

    Equal to ``predict_per_model(fill_models(models, fits, results), X[test])``.
    """
    if fits and fits[0][0] is None:
        return results[0][1]  # the pooled model predicts every column
    out = np.empty((n_rows, len(models)))
    for j, model in enumerate(models):
        if model is not None:
            out[:, j] = model
    for (slot, _), (_, pred) in zip(fits, results):
        out[:, slot] = pred
    return out


# catch_warnings swaps a process-wide filter list: tasks sharing a process (joblib's
# threading backend) take turns, or one could restore another's filters.
_quiet_lock = threading.Lock()


def fit_propensity_fold(estimator, X, labels, train, test, test_action, n_models):
    """One cross-fitting fold's propensity fit, as a joblib task.

    Fits ``estimator`` (a :class:`PropensityModel`) on the ``train`` rows,
    silently (overlap is judged once, on the cross-fitted propensities), and
    returns its ``classes_`` and the propensity of each ``test`` row's logged
    model (column ``test_action``); ``None`` for them when the fold lacks
    some of the ``n_models`` models.
    """
    with _quiet_lock, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        estimator.fit(X[train], labels[train])
    if len(estimator.classes_) != n_models:
        return estimator.classes_, None
    proba = estimator.predict_proba(X[test])
    return estimator.classes_, proba[np.arange(len(test)), test_action]


def predict_per_model(models, X):
    """Stack the predictions of :func:`fit_per_model`'s models, one column each."""
    if is_pooled(models):
        return models.predict(X)
    out = np.empty((X.shape[0], len(models)))
    for j, m in enumerate(models):
        out[:, j] = m if isinstance(m, float) else m.predict(X)
    return out


def warn_small_arms(small):
    """One SmallArmWarning for the ``(label, n_rows)`` pairs of every fit and fold."""
    if not small:
        return
    counts = {}
    for label, n in small:
        counts.setdefault(label, set()).add(n)
    parts = [
        f"{label!r} ({', '.join(str(n) for n in sorted(ns))} rows"
        + (" in the cross-fitting folds)" if len(ns) > 1 else ")")
        for label, ns in sorted(counts.items(), key=lambda kv: str(kv[0]))
    ]
    warn(
        f"Some models have fewer than {MIN_ROWS_PER_MODEL} logged rows to fit their "
        "outcome model on; it falls back to the mean outcome of those rows (a pooled "
        "outcome model: to the shared slope and the mean outcome of all rows): "
        + ", ".join(parts),
        SmallArmWarning,
    )


def _warn_judge_grades(fb):
    gold, _ = grader_fields(fb)
    if not gold.all():
        warn(
            f"The feedback marks {int((~gold).sum())} of {gold.size} rows as judge-graded "
            "(gold=False); DoublyRobustUtility treats every grade as gold, so the "
            "judge's bias passes into the utilities. Use IntegrativeUtility(), which "
            "estimates the bias from the gold rows and corrects the judge grades.",
            JudgeGradeWarning,
        )


class DoublyRobustUtility(NestedDefaultsMixin, TransformerMixin, BaseEstimator):
    """Counterfactual utility of every model for every logged query.

    From logs in which each query was answered by one model, chosen by a biased
    rule, estimate what *every* model would have scored on it. For query ``i``
    and model ``t`` the doubly robust (DR) estimate is

    .. math::

        \\hat U_{it} = \\hat\\mu_t(x_i) + \\frac{1\\{t_i = t\\}}{\\hat e_t(x_i)}
        \\left(u_i - \\hat\\mu_t(x_i)\\right),

    where :math:`\\hat\\mu_t` is an outcome model fitted on the rows that model
    ``t`` served and :math:`\\hat e_t` the propensity. Each row's outcome models
    and propensity come from cross-fitting folds that did not see it. Quality
    and cost are estimated separately; because the utility
    ``quality - cost_weight * cost`` is affine in ``cost_weight``, so is the
    estimate, and :meth:`utilities` recombines it for any cost weight at no
    cost.

    Parameters
    ----------
    method : {"dr", "ipw", "dm"}, default="dr"
        ``"dr"``: doubly robust (above). ``"ipw"``: inverse propensity weighting
        only (:math:`\\hat\\mu = 0`); unbiased with true propensities but noisy.
        ``"dm"``: direct method, the outcome models only; low variance, biased
        when they are misspecified.
    clip : tuple of (float, float) or None, default=(5, 95)
        Percentiles of the propensities of the logged models at which to clip
        them, as in Tsiourvas et al.; bounds the weights at the price of a
        little bias. ``None`` disables clipping.
    cost_weight : float, default=0.0
        Price of one unit of cost in units of quality, used by
        :meth:`fit_transform`, :meth:`transform` and :meth:`predict`. A router
        that holds this estimator sets it to its own ``cost_weight``.
    quality_model : regressor, default=None
        Outcome model of quality, cloned per model and fold. ``None`` uses
        ``RidgeCV`` (penalty chosen by leave-one-out), a fast and stable
        default on sentence embeddings. A pooled outcome model
        (:class:`~sklearn_causal_routing.PooledRidge`,
        :class:`~sklearn_causal_routing.PooledMLP`) is fitted once per fold
        on every model's rows instead.
    cost_model : regressor, default=None
        Outcome model of cost; ``None`` as for ``quality_model``.
    propensity : PropensityModel or classifier, default=None
        Estimator of the logging propensities, used when the feedback does not
        carry them (or ``use_logged_propensity=False``). ``None`` uses
        ``PropensityModel()``. A plain classifier is wrapped in one.
    use_logged_propensity : bool, default=True
        Use the propensities recorded in the feedback, when present, instead of
        estimating them.
    cv : int, cross-validation generator or iterable, default=3
        Cross-fitting folds. An int gives shuffled folds stratified by logged
        model (``StratifiedKFold``), falling back to ``KFold`` when some model
        has fewer rows than folds.
    random_state : int, RandomState instance or None, default=None
        Seeds the fold assignment and the default propensity model.
    n_jobs : int or None, default=None
        Fits to run at once: each fold's propensity model and each fold's
        outcome models (per model, quality and cost) are independent joblib
        tasks. ``None`` means 1 unless in a ``joblib.parallel_config``
        context, ``-1`` every core; ``with joblib.parallel_config(backend=
        "dask"):`` runs them on a Dask cluster. Each task's XGBoost, torch and
        OpenMP threads are held to its share of the cores, and its BLAS to one
        thread, so the result is the same for every ``n_jobs``
        (``docs/scaling.md``).

    Attributes
    ----------
    classes_ : ndarray of shape (n_models,)
        Model labels, sorted; the columns of every utility matrix.
    quality_ : ndarray of shape (n_samples, n_models)
        Cross-fitted counterfactual quality of the training rows.
    cost_ : ndarray of shape (n_samples, n_models)
        Cross-fitted counterfactual cost of the training rows.
    outcome_quality_ : ndarray of shape (n_samples, n_models)
        Cross-fitted outcome-model predictions of quality (the direct method).
    outcome_cost_ : ndarray of shape (n_samples, n_models)
        Cross-fitted outcome-model predictions of cost.
    propensity_ : ndarray of shape (n_samples,)
        Propensity of each row's logged model, after clipping.
    clip_bounds_ : tuple of float or None
        The propensity values at the clipping percentiles.
    logged_propensity_ : bool
        Whether the propensities came from the logs (True) or were estimated.
    overlap_ : Bunch
        Diagnostics from :func:`overlap_diagnostics`.
    outcome_models_ : list of dict
        Per fold, the fitted ``{"quality": [...], "cost": [...]}`` models, one
        per model in ``classes_`` (a float where a model had too few rows).
    n_features_in_ : int
        Number of features seen during fit.

    See Also
    --------
    PropensityModel : The propensity estimator.
    RegretRouter : Learns a routing policy from these utilities.

    Notes
    -----
    The DR estimate is unbiased for the mean utility of each model if either
    the outcome models or the propensities are correct; with cross-fitting,
    errors in the two multiply, so both may converge slowly. IPW alone needs
    correct propensities; DM alone needs correct outcome models.

    References
    ----------
    .. [1] Tsiourvas, Sun and Perakis, "Causal LLM Routing: End-to-End Regret
       Minimization from Observational Data", arXiv:2505.16037, 2025.
    .. [2] Dudík, Langford and Li, "Doubly Robust Policy Evaluation and
       Learning", ICML 2011.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_causal_routing import DoublyRobustUtility, make_feedback
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(300, 4))
    >>> t = rng.choice(["cheap", "strong"], size=300, p=[0.7, 0.3])
    >>> quality = (t == "strong") * 0.3 + 0.5 + 0.1 * rng.normal(size=300)
    >>> fb = make_feedback(t, quality, cost=np.where(t == "strong", 1.0, 0.1),
    ...                    propensity=np.where(t == "strong", 0.3, 0.7))
    >>> dr = DoublyRobustUtility(clip=None, random_state=0)
    >>> U = dr.fit_transform(X, fb)
    >>> U.shape, dr.classes_.tolist()
    ((300, 2), ['cheap', 'strong'])
    >>> U.mean(axis=0).round(1)
    array([0.5, 0.8])
    >>> dr.utilities(cost_weight=0.5).mean(axis=0).round(2)
    array([0.43, 0.32])
    """

    _nested_defaults = {
        "quality_model": "RidgeCV()",
        "cost_model": "RidgeCV()",
        "propensity": "PropensityModel()",
    }

    _parameter_constraints = {
        "method": [StrOptions({"dr", "ipw", "dm"})],
        "clip": [tuple, list, None],
        "cost_weight": [Interval(Real, 0, None, closed="left")],
        "quality_model": [HasMethods(["fit", "predict"]), None],
        "cost_model": [HasMethods(["fit", "predict"]), None],
        "propensity": [HasMethods(["fit", "predict_proba"]), None],
        "use_logged_propensity": ["boolean"],
        "cv": ["cv_object"],
        "random_state": ["random_state"],
        "n_jobs": N_JOBS_CONSTRAINT,
    }

    def __init__(
        self,
        *,
        method="dr",
        clip=(5, 95),
        cost_weight=0.0,
        quality_model=None,
        cost_model=None,
        propensity=None,
        use_logged_propensity=True,
        cv=3,
        random_state=None,
        n_jobs=None,
    ):
        self.method = method
        self.clip = clip
        self.cost_weight = cost_weight
        self.quality_model = quality_model
        self.cost_model = cost_model
        self.propensity = propensity
        self.use_logged_propensity = use_logged_propensity
        self.cv = cv
        self.random_state = random_state
        self.n_jobs = n_jobs

    def _propensity_estimator(self):
        if self.propensity is None:
            seed = None if self.random_state is None else int_seed(self.random_state)
            return PropensityModel(random_state=seed)
        if isinstance(self.propensity, PropensityModel):
            return clone(self.propensity)
        return PropensityModel(clone(self.propensity))

    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y, quality=None, *, cost=None, propensity=None):
        """Cross-fit the nuisance models and the counterfactual utilities.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Query features (e.g. prompt embeddings).
        y : feedback array or array-like of shape (n_samples,)
            The feedback from :func:`make_feedback`; or, with ``quality``
            given, the logged model labels ``t``.
        quality : array-like of shape (n_samples,), default=None
            Logged quality, for the form ``fit(X, t, quality, cost=cost)``.
        cost : array-like of shape (n_samples,), default=None
            Logged cost, with ``quality``.
        propensity : array-like of shape (n_samples,), default=None
            Logged propensities, with ``quality``.

        Returns
        -------
        self : DoublyRobustUtility
            Fitted estimator.
        """
        if is_dask_collection(X) or is_dask_collection(y):
            small = []
            fit_utility_dask(self, X, y, quality, cost, propensity, small=small,
                             clip=_check_clip(self.clip), min_rows=MIN_ROWS_PER_MODEL)
            warn_small_arms(small)
            return self
        X, fb, self.classes_ = check_logs(self, X, y, quality, cost, propensity)
        _warn_judge_grades(fb)
        clip = _check_clip(self.clip)
        action = encode_labels(fb["action"], self.classes_)
        q = np.asarray(fb["quality"], dtype=np.float64)
        c = np.asarray(fb["cost"], dtype=np.float64)
        logged = np.asarray(fb["propensity"], dtype=np.float64)
        self.logged_propensity_ = bool(self.use_logged_propensity and records_propensities(fb))

        n, k = X.shape[0], len(self.classes_)
        mu_q = np.empty((n, k))
        mu_c = np.empty((n, k))
        prop = logged.copy() if self.logged_propensity_ else np.empty(n)
        small = []
        splits = list(crossfit_splits(self.cv, X, [action], self.random_state))
        outcomes = (("quality", q, self.quality_model, mu_q), ("cost", c, self.cost_model, mu_c))
        # Every fold's propensity fit and outcome fits are independent joblib tasks.
        plans = [
            {name: plan_per_model(X, target, action, train, self.classes_, est, small)
             for name, target, est, _ in outcomes}
            for train, _ in splits
        ]
        n_tasks = sum(len(fits) for plan in plans for _, fits in plan.values())
        n_tasks += 0 if self.logged_propensity_ else len(splits)
        threads = thread_budget(self.n_jobs, n_tasks)
        labels = np.asarray(fb["action"])
        tasks = []
        for (train, test), plan in zip(splits, plans):
            if not self.logged_propensity_:
                tasks.append(delayed(limited(fit_propensity_fold, threads))(
                    self._propensity_estimator(), X, labels, train, test, action[test], k
                ))
            for name, target, est, _ in outcomes:
                fits = plan[name][1]
                tasks += outcome_tasks(fits, X, target, action, self.classes_, est, threads, test)
        results = iter(Parallel(n_jobs=self.n_jobs)(tasks))
        self.outcome_models_ = []
        for (train, test), plan in zip(splits, plans):
            if not self.logged_propensity_:
                fold_classes, fold_prop = next(results)
                if fold_prop is None:
                    raise ValueError(
                        "A cross-fitting training fold lacks some logged model; use "
                        "fewer folds (cv) or more logs. Models present: "
                        f"{fold_classes.tolist()} of {self.classes_.tolist()}."
                    )
                prop[test] = fold_prop
            models = {}
            for name, _, _, out in outcomes:
                fitted, fits = plan[name]
                done = [next(results) for _ in fits]
                out[test] = fill_predictions(fitted, fits, done, len(test))
                models[name] = fill_models(fitted, fits, done)
            self.outcome_models_.append(models)
        warn_small_arms(small)
        self.outcome_quality_ = mu_q
        self.outcome_cost_ = mu_c
        self._weight_outcomes(prop, q, c, action, clip)
        return self

    def _weight_outcomes(self, prop, q, c, action, clip):
        """The part of ``fit`` after the nuisance models: clip the propensities,
        combine the cross-fitted outcome predictions with the logged outcomes."""
        prop = np.clip(prop, np.finfo(np.float64).tiny, 1.0)
        if clip is not None:
            self.clip_bounds_ = tuple(np.percentile(prop, clip))
            clipped = np.clip(prop, *self.clip_bounds_)
        else:
            self.clip_bounds_ = None
            clipped = prop
        self.overlap_ = overlap_diagnostics(
            prop, action, self.classes_, clip_bounds=self.clip_bounds_
        )
        warn_poor_overlap(self.overlap_)
        self.propensity_ = clipped
        self.quality_ = self._combine(self.outcome_quality_, q, action, clipped)
        self.cost_ = self._combine(self.outcome_cost_, c, action, clipped)

    def _reclipped(self, fb, clip):
        """This stage as a fit with ``clip`` instead would be, without refitting.

        Only for a stage fitted on logged propensities: the propensities are
        then the logged ones, and neither the folds nor the outcome models
        depend on ``clip``, so only the final weighting is redone. ``fb`` is
        the feedback the stage was fitted on.
        """
        stage = copy.copy(self)
        stage.clip = clip
        action = encode_labels(fb["action"], self.classes_)
        stage._weight_outcomes(
            np.asarray(fb["propensity"], dtype=np.float64),
            np.asarray(fb["quality"], dtype=np.float64),
            np.asarray(fb["cost"], dtype=np.float64),
            action, _check_clip(clip),
        )
        return stage

    def _combine(self, mu, target, action, prop):
        rows = np.arange(len(action))
        if self.method == "dm":
            return mu
        if self.method == "ipw":
            out = np.zeros_like(mu)
            out[rows, action] = target / prop
            return out
        out = mu.copy()
        out[rows, action] += (target - mu[rows, action]) / prop
        return out

    def fit_transform(self, X, y, quality=None, *, cost=None, propensity=None):
        """Fit and return the cross-fitted utilities of the training rows.

        Unlike ``fit(X, y).transform(X)``, which gives the outcome-model
        predictions, this returns the doubly robust estimates, each row's from
        nuisance models that did not see it.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Query features.
        y : feedback array or array-like of shape (n_samples,)
            As in :meth:`fit`.
        quality, cost, propensity : array-like, default=None
            As in :meth:`fit`.

        Returns
        -------
        U : ndarray of shape (n_samples, n_models)
            ``quality_ - cost_weight * cost_``.
        """
        return self.fit(X, y, quality, cost=cost, propensity=propensity).utilities()

    def utilities(self, cost_weight=None):
        """Cross-fitted training utilities at any cost weight, without refitting.

        Parameters
        ----------
        cost_weight : float, default=None
            ``None`` uses the ``cost_weight`` parameter.

        Returns
        -------
        U : ndarray of shape (n_samples, n_models)
            ``quality_ - cost_weight * cost_``.
        """
        check_is_fitted(self)
        if not hasattr(self, "quality_"):
            raise ValueError(
                "This stage was fitted on Dask collections and then pickled: its lazy "
                "training utilities are graphs over the logs and are not pickled (the "
                "outcome models and propensities are). Refit it on the logs to get them; "
                "predict_outcomes(X) works as it is."
            )
        cw = self.cost_weight if cost_weight is None else check_cost_weight(cost_weight)
        return self.quality_ - cw * self.cost_

    def __getstate__(self):
        # A stage fitted on Dask holds its training utilities as lazy Dask arrays:
        # graphs over the logs (their data, or futures of a cluster). A pickle of the
        # stage, or of a router, must not carry them (docs/scaling.md).
        state = dict(super().__getstate__())  # a copy: it may be our own __dict__
        for key in [k for k, v in state.items() if is_dask_collection(v)]:
            del state[key]
        return state

    def predict_outcomes(self, X):
        """Outcome-model estimates of quality and cost for new queries.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Query features.

        Returns
        -------
        quality : ndarray of shape (n_samples, n_models)
            Predicted quality, averaged over the cross-fitting folds' models.
        cost : ndarray of shape (n_samples, n_models)
            Predicted cost, likewise.
        """
        X = check_features(self, X)
        quality = np.mean(
            [predict_per_model(m["quality"], X) for m in self.outcome_models_], axis=0
        )
        cost = np.mean([predict_per_model(m["cost"], X) for m in self.outcome_models_], axis=0)
        scale = getattr(self, "cost_scale_", None)  # set by rescale_cost
        return quality, (cost if scale is None else cost * scale)

    def rescale_cost(self, scale):
        """A copy of this fitted stage with each model's cost multiplied by a factor.

        For a price change: the cross-fitted cost estimates ``cost_`` and
        ``outcome_cost_`` and the cost predictions of :meth:`predict_outcomes`
        of model ``classes_[k]`` are multiplied by ``scale[k]``; quality,
        propensities and the outcome models themselves are untouched. This
        stage is left as it is (its arrays may be shared, read-only, with the
        in-process cache); cost arrays it does not hold (a stage a router
        keeps only to predict outcomes) stay absent.

        The result equals a refit on logs whose costs of each model were
        multiplied by its factor (up to rounding) when the cost outcome
        models are linear in their targets, as the default ``RidgeCV`` is (its
        predictions are linear in ``y`` and its leave-one-out choice of
        ``alpha`` does not depend on the scale of ``y``): the DR estimate
        ``mu + 1{t_i = t} (c_i - mu) / e`` is then linear in the costs of model
        ``t``, and the propensities and cross-fitting folds do not depend on
        costs. It is approximate for a pooled cost model (its shared part mixes
        the models' costs) and for a model with fewer than
        ``MIN_ROWS_PER_MODEL`` rows in a fold and none of its own (its cost is
        then the mean over every model's rows).

        Parameters
        ----------
        scale : array-like of shape (n_models,)
            Non-negative factor per model, columns as ``classes_``.

        Returns
        -------
        stage : DoublyRobustUtility
            A fitted shallow copy with the rescaled cost; its ``cost_scale_``
            is the product of every factor applied so far.

        Examples
        --------
        >>> import numpy as np
        >>> from sklearn_causal_routing import DoublyRobustUtility, make_feedback
        >>> rng = np.random.default_rng(0)
        >>> X, t = rng.normal(size=(200, 3)), rng.choice(["a", "b"], size=200)
        >>> fb = make_feedback(t, rng.random(200), cost=np.where(t == "a", 1.0, 2.0))
        >>> dr = DoublyRobustUtility(random_state=0).fit(X, fb)
        >>> cheaper = dr.rescale_cost([1.0, 0.5])
        >>> bool(np.allclose(cheaper.cost_[:, 1], 0.5 * dr.cost_[:, 1]))
        True
        >>> cheaper.predict_outcomes(X[:2])[1].round(2)
        array([[1., 1.],
               [1., 1.]])
        """
        check_is_fitted(self)
        scale = np.asarray(scale, dtype=np.float64)
        if scale.shape != self.classes_.shape or not np.all(np.isfinite(scale)) or np.any(scale < 0):
            raise ValueError(
                f"scale must hold one finite factor >= 0 per model ({len(self.classes_)}, "
                f"columns as classes_={self.classes_.tolist()}); got {scale.tolist()!r}."
            )
        stage = copy.copy(self)
        for name in ("cost_", "outcome_cost_"):  # absent from a stage kept without rows
            if hasattr(self, name):
                setattr(stage, name, getattr(self, name) * scale)
        previous = getattr(self, "cost_scale_", None)
        stage.cost_scale_ = scale if previous is None else previous * scale
        return stage

    def predict(self, X, cost_weight=None):
        """Outcome-model utilities of every model for new queries.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Query features.
        cost_weight : float, default=None
            ``None`` uses the ``cost_weight`` parameter.

        Returns
        -------
        U : ndarray of shape (n_samples, n_models)
            Predicted ``quality - cost_weight * cost``; columns follow
            ``classes_``.
        """
        quality, cost = self.predict_outcomes(X)
        cw = self.cost_weight if cost_weight is None else check_cost_weight(cost_weight)
        return quality - cw * cost

    def transform(self, X):
        """Outcome-model utilities for new queries (same as :meth:`predict`).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Query features.

        Returns
        -------
        U : ndarray of shape (n_samples, n_models)
            Predicted utilities at ``cost_weight``.
        """
        return self.predict(X)


    def get_feature_names_out(self, input_features=None):
        """One output feature per model: ``utility_<label>``.

        Parameters
        ----------
        input_features : ignored
            Present for API consistency.

        Returns
        -------
        names : ndarray of str
            Output feature names.
        """
        check_is_fitted(self)
        return np.asarray([f"utility_{c}" for c in self.classes_], dtype=object)


# --- in-process cache of fitted utility stages -------------------------------------
#
# GridSearchCV clones the router for every candidate and fold. Candidates that differ
# only in policy settings (temperature, network size, ...) would refit the same
# utility stage on the same fold; the cache returns the fitted one instead. The key is
# a content hash of the data and of every utility parameter except ``cost_weight``
# and ``n_jobs`` (which gives the same result)
# (utilities are recombined per cost weight without refitting), and, when every
# propensity is logged, except ``clip`` (the hit is reweighted, ``_reclipped``). With an int
# random_state a hit is exactly what a refit would give; with random_state=None every
# candidate shares the first draw of the folds (common random numbers, the fair way
# to compare them). A RandomState instance is consumed as it is used, so stages
# seeded by one are never cached.

_CACHE_SIZE = 6
_cache = OrderedDict()
_cache_stats = {"hits": 0, "misses": 0}


def _without_n_jobs(value):
    """A nested estimator as hashed for the cache: its ``n_jobs`` set aside too."""
    if isinstance(value, BaseEstimator) and value.get_params(deep=False).get("n_jobs") is not None:
        return clone(value).set_params(n_jobs=None)
    return value


def logged_quality(stage, fb):
    """The logged quality fitted ``stage``'s DR estimates use, from ``fb``: the
    judge-corrected one of an IntegrativeUtility, else the feedback's."""
    corrected = getattr(stage, "corrected_quality_", None)
    return np.asarray(fb["quality"], dtype=np.float64) if corrected is None else corrected


def with_outcome_columns(stage, columns, quality, cost, fb):
    """A copy of fitted ``stage`` with other outcome predictions for some models.

    The cross-fitted outcome predictions of the models at ``columns`` (of
    ``classes_``) become ``quality`` and ``cost`` (each of shape
    ``(n_samples, len(columns))``), and the DR estimates ``quality_`` and
    ``cost_`` are recomputed from them with the stage's propensities and the
    logged outcomes of ``fb`` (the feedback it was fitted on). Valid cross-fitting
    as long as whatever made the predictions never saw these rows (e.g. an
    outcome model of an earlier round of logs). ``stage`` is left as it is.
    """
    out = copy.copy(stage)
    action = encode_labels(fb["action"], stage.classes_)
    out.outcome_quality_ = stage.outcome_quality_.copy()
    out.outcome_cost_ = stage.outcome_cost_.copy()
    out.outcome_quality_[:, columns] = quality
    out.outcome_cost_[:, columns] = cost
    out.quality_ = stage._combine(
        out.outcome_quality_, logged_quality(stage, fb), action, stage.propensity_
    )
    out.cost_ = stage._combine(
        out.outcome_cost_, np.asarray(fb["cost"], dtype=np.float64), action, stage.propensity_
    )
    return out


def _clip_free(utility, fb):
    """Whether ``utility`` fitted on ``fb`` follows, without a refit, from the
    same stage fitted with another ``clip`` (see ``DoublyRobustUtility._reclipped``):
    a plain stage that uses the logged propensities, all of them recorded."""
    return (type(utility) is DoublyRobustUtility and bool(utility.use_logged_propensity)
            and records_propensities(fb))


def _cache_key(utility, X, fb, ignore=()):
    # neither cost_weight (recombined at no cost) nor n_jobs (same result) changes the fit
    params = {
        k: _without_n_jobs(v)
        for k, v in utility.get_params(deep=False).items()
        if k not in ("cost_weight", "n_jobs", *ignore)
    }
    return joblib.hash((type(utility).__qualname__, params, X, fb))


def fit_utility_cached(utility, X, fb):
    """Fit ``utility`` on ``(X, fb)``, or return the identical stage fitted before.

    Parameters
    ----------
    utility : DoublyRobustUtility
        Unfitted utility stage.
    X : ndarray of shape (n_samples, n_features)
        Query features.
    fb : feedback array
        Logged feedback.

    Returns
    -------
    utility : DoublyRobustUtility
        Fitted; on a cache hit, a shallow copy of the stage fitted earlier
        (sharing its arrays) with this ``utility``'s ``cost_weight``. The
        fitted arrays of a cached stage are read-only, since other routers
        share them.
    """
    random_state = getattr(utility, "random_state", None)
    if is_dask_collection(X):  # hashing would compute the logs; nothing to share
        return utility.fit(X, fb)
    if _CACHE_SIZE <= 0 or isinstance(random_state, (np.random.RandomState, np.random.Generator)):
        return utility.fit(X, fb)
    # With every propensity logged, clip only reweights the cross-fitted outcome
    # predictions: stages that differ in clip alone share one entry (one fit).
    clip_free = _clip_free(utility, fb)
    key = _cache_key(utility, X, fb, ignore=("clip",) if clip_free else ())
    if key in _cache:
        _cache.move_to_end(key)
        _cache_stats["hits"] += 1
        cached = _cache[key]
        if clip_free and _check_clip(cached.clip) != _check_clip(utility.clip):
            hit = cached._reclipped(fb, utility.clip)
        else:
            # A shallow copy shares the fitted arrays but carries the caller's cost_weight.
            hit = copy.copy(cached)
        hit.cost_weight = utility.cost_weight
        return hit
    _cache_stats["misses"] += 1
    fitted = utility.fit(X, fb)
    for name in ("quality_", "cost_", "outcome_quality_", "outcome_cost_", "propensity_"):
        array = getattr(fitted, name, None)
        if isinstance(array, np.ndarray):
            array.flags.writeable = False  # shared by every hit: read-only
    _cache[key] = copy.copy(fitted)
    while len(_cache) > _CACHE_SIZE:
        _cache.popitem(last=False)
    return fitted


def clear_utility_cache():
    """Empty the in-process cache of fitted utility stages.

    Routers memoize their utility stage on a content hash of the data and of the
    stage's parameters (all but ``cost_weight``), so that grid-search candidates
    differing only in policy settings share one fitted stage. Clear the cache to
    force a refit, e.g. to draw new cross-fitting folds with
    ``random_state=None``, or to free memory.

    Examples
    --------
    >>> from sklearn_causal_routing import clear_utility_cache
    >>> clear_utility_cache()
    """
    _cache.clear()
    _cache_stats.update(hits=0, misses=0)
