"""Keeping a fitted RegretRouter current: new prices, new logs, drift.

:class:`ContinualRouterMixin` gives :class:`~sklearn_causal_routing.RegretRouter`
its :meth:`~ContinualRouterMixin.reprice` (a model's price changed: rescale the
cost part of the kept utilities, retrain the policy warm) and
:meth:`~ContinualRouterMixin.partial_fit` (new logs arrived: check them for
drift, cross-fit the utility stage on them, retrain the policy warm on the kept
and the new utilities); :func:`new_round` is the per-row record those keep.
"""

import copy
import numbers
import warnings
from statistics import NormalDist

import numpy as np
from sklearn.exceptions import NotFittedError
from sklearn.utils import Bunch

from ._feedback import resolve_feedback
from ._nets import grow_outputs
from ._policy import utility_spread
from ._utility import logged_quality, with_outcome_columns
from .exceptions import DriftWarning
from .metrics import evaluate_policy
from .utils._stats import kish_ess, mean_lcb
from .utils._warnings import warn
from .utils.validation import (
    check_enough_models,
    check_features,
    check_same_length,
    crossfit_splits,
    encode_labels,
    int_seed,
)

__all__ = [
    "ContinualRouterMixin",
    "borrow_outcomes",
    "new_round",
    "outcome_sources",
    "pessimism_penalty",
    "replay_weights",
    "single_support",
]

#: Fields of ``history_`` with one entry per kept row (``fold_policies`` and
#: ``fill_stages`` are not).
ROW_FIELDS = (
    "X", "quality", "cost", "eval_quality", "eval_cost", "action",
    "logged_quality", "logged_cost", "recorded", "propensity", "weight", "fold", "filled",
)
#: The (n, K) fields of ``history_``: one column per model of ``classes_``.
MODEL_FIELDS = ("quality", "cost", "eval_quality", "eval_cost")


def _columns(stage, part, classes, fill):
    """``stage``'s (n, K') ``part`` matrix in the columns of ``classes`` (K >= K').

    Models the stage never saw get ``fill`` (outcome-model predictions).
    """
    values = getattr(stage, part)
    if np.array_equal(stage.classes_, classes):
        return values
    out = np.array(fill, dtype=np.float64, copy=True)
    out[:, encode_labels(stage.classes_, classes)] = values
    return out


#: A model logged fewer times than this in a round is *rarely logged* there:
#: its outcome model in that round is fitted on a handful of rows (the mean of
#: them below ``MIN_ROWS_PER_MODEL`` per fold), so an update takes its outcome
#: model from an earlier round that logged it at least this often. The same 30
#: as the overlap diagnostics' smallest effective sample size.
WELL_LOGGED = 30


def _n_logged(stage, label):
    """Rows of model ``label`` in the logs ``stage`` was fitted on (0: unknown model)."""
    if label not in stage.classes_:
        return 0
    return int(stage.overlap_.n_logged[encode_labels([label], stage.classes_)[0]])


def outcome_sources(stages, labels):
    """Which of ``stages`` (fitted utility stages, newest first) predicts each model.

    For each of ``labels``, the newest stage that logged it at least
    ``WELL_LOGGED`` times; failing that, the newest that knows it; ``None``
    when none does. Returns a list, one stage (or ``None``) per label.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.utils import Bunch
    >>> from sklearn_causal_routing._continual import outcome_sources
    >>> def stage(name, counts):
    ...     return Bunch(name=name, classes_=np.array(["a", "b"]),
    ...                  overlap_=Bunch(n_logged=np.array(counts)))
    >>> new, old = stage("new", [500, 3]), stage("old", [400, 200])
    >>> [s.name for s in outcome_sources([new, old], ["a", "b"])]
    ['new', 'old']
    """
    out = []
    for label in labels:
        known = [s for s in stages if label in s.classes_]
        well = [s for s in known if _n_logged(s, label) >= WELL_LOGGED]
        out.append(well[0] if well else (known[0] if known else None))
    return out


def outcome_fill(stages, X, classes):
    """Outcome-model predictions of quality and cost in the columns of ``classes``.

    Each model's column comes from its stage among ``stages`` (fitted
    utility stages, newest first; see :func:`outcome_sources`); NaN where
    none knows it.
    """
    n, k = X.shape[0], len(classes)
    quality, cost = np.full((n, k), np.nan), np.full((n, k), np.nan)
    sources = outcome_sources(stages, classes)
    for stage in {id(s): s for s in sources if s is not None}.values():
        cols = np.flatnonzero([s is stage for s in sources])
        q, c = stage.predict_outcomes(X)
        at = encode_labels(classes[cols], stage.classes_)
        quality[:, cols], cost[:, cols] = q[:, at], c[:, at]
    return quality, cost


def borrow_outcomes(stages, earlier, X, fb):
    """``stages`` with their rarely logged models' outcome models taken from ``earlier``.

    ``stages`` are fitted on the same logs with the same outcome models (a
    stage, and the unclipped twin the check values decisions with). A model
    that those logs served fewer than ``WELL_LOGGED`` times gets, on their
    rows, the outcome-model predictions of the newest of ``earlier`` (fitted
    stages, newest first) that logged it at least that often, predicted once
    for every stage, and its DR estimates recomputed with them
    (:func:`~sklearn_causal_routing._utility.with_outcome_columns`). Those
    models never saw the new rows, so this is still cross-fitting; the
    estimates stay unbiased and, where the new rows' own outcome model is the
    mean of a handful of rows, their variance drops (a rarely logged model's
    rows carry the largest weights). Returns a list, one stage per stage
    (``stages`` as they are when no model is borrowed for).
    """
    first = stages[0]
    sources = outcome_sources([first, *earlier], first.classes_)
    cols = np.flatnonzero([s is not first for s in sources])
    if not cols.size:
        return list(stages)
    quality, cost = outcome_fill(earlier, X, first.classes_[cols])
    return [with_outcome_columns(stage, cols, quality, cost, fb) for stage in stages]


def pessimism_penalty(U, filled, weight, z):
    """``z`` times the standard error of each model's mean DR utility.

    Over the rows whose column is a doubly robust estimate (``~filled``: not
    an outcome-model fill), weighted by ``weight`` (``None``: equal); a
    model with fewer than two such rows gets the largest finite penalty of
    the others (0 when there is none). ``z=0`` gives zeros.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_causal_routing._continual import pessimism_penalty
    >>> U = np.array([[1.0, 0.0], [3.0, 0.0], [2.0, 4.0], [2.0, 8.0]])
    >>> filled = np.array([[False, True], [False, True], [False, False], [False, False]])
    >>> pessimism_penalty(U, filled, None, 2.0).round(3)  # model 1: two rows, se 2
    array([0.816, 4.   ])
    """
    k = U.shape[1]
    penalty = np.zeros(k)
    if z == 0:
        return penalty
    weight = np.ones(U.shape[0]) if weight is None else np.asarray(weight, dtype=np.float64)
    filled = np.zeros(U.shape, dtype=bool) if filled is None else filled
    for t in range(k):
        rows = ~filled[:, t] & (weight > 0)
        if np.count_nonzero(rows) < 2:
            penalty[t] = np.nan
            continue
        mean, lcb = mean_lcb(U[rows, t], z, weight=weight[rows])
        penalty[t] = mean - lcb
    finite = np.isfinite(penalty)
    penalty[~finite] = penalty[finite].max() if finite.any() else 0.0
    return penalty


def single_support(rows):
    """Each model's effective sample size in ``rows`` (a ``history_`` Bunch).

    Kish's ``(sum w)^2 / sum w^2`` of ``weight / propensity`` over the rows
    that logged the model: how many equally weighted rows its DR value rests
    on. NaN for every model when the rows do not keep their propensities
    (kept by an older version).
    """
    k = rows.quality.shape[1]
    propensity = rows.get("propensity")
    if propensity is None or not np.all(np.isfinite(propensity)):
        return np.full(k, np.nan)
    return kish_ess(rows.weight / propensity, rows.action, k)


def replay_weights(weight, n_new, replay, rng):
    """Training weights of an update: the last ``n_new`` rows, and a replayed sample.

    Of the earlier rows of positive ``weight``, a uniform sample of
    ``ceil(replay * n_new)`` is drawn without replacement and each drawn
    row's weight multiplied by the inverse of its chance of being drawn, so
    that the weighted loss over the sample is an unbiased estimate of the
    loss over all of them; the other earlier rows get weight 0 (left out of
    training). When the sample would hold every earlier row, ``weight`` is
    returned as it is.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_causal_routing._continual import replay_weights
    >>> w = replay_weights(np.ones(10), 2, 1.0, np.random.default_rng(0))
    >>> w[-2:], int((w[:-2] > 0).sum()), float(w.sum())
    (array([1., 1.]), 2, 10.0)
    """
    old = np.flatnonzero(weight[: weight.shape[0] - n_new] > 0)
    size = int(np.ceil(replay * n_new))
    if size >= old.size:
        return weight
    out = np.zeros_like(weight, dtype=np.float64)
    out[weight.shape[0] - n_new:] = weight[weight.shape[0] - n_new:]
    drawn = rng.choice(old, size=size, replace=False)
    out[drawn] = weight[drawn] * (old.size / size)
    return out


def new_round(X, fb, stage, evaluation, folds, classes, previous=None):
    """One round of logs, as ``history_`` keeps it (see ``RegretRouter.history_``).

    Parameters
    ----------
    X : ndarray of shape (n, n_features)
    fb : feedback array
    stage, evaluation : DoublyRobustUtility
        The fitted utility stage (what the policy trains on) and the one the
        check values decisions with (the same object, or an unclipped copy).
    folds : list of (train, test)
        The check's folds.
    classes : ndarray of shape (K,)
        The router's models; the stages may lack some of them.
    previous : list of DoublyRobustUtility, default=None
        Stages of earlier rounds, newest first: their outcome models fill the
        columns of models the new logs did not serve (the direct method).

    Returns
    -------
    rows : Bunch
        ``X``, ``quality``, ``cost``, ``eval_quality``, ``eval_cost``,
        ``action``, ``logged_quality``, ``logged_cost``, ``recorded``
        (whether the logs recorded their propensities), ``propensity`` (of
        the logged model, as ``evaluation`` weighted it), ``weight`` (ones),
        ``fold`` and ``filled`` ((n, K) bool: the column is an outcome-model
        fill, not a DR estimate).
    """
    n = X.shape[0]
    fill_q = fill_c = None
    filled = np.zeros((n, len(classes)), dtype=bool)
    if not np.array_equal(stage.classes_, classes):
        fill_q, fill_c = outcome_fill(previous, X, classes)
        filled[:, ~np.isin(classes, stage.classes_)] = True
    quality = _columns(stage, "quality_", classes, fill_q)
    cost = _columns(stage, "cost_", classes, fill_c)
    if evaluation is stage:
        eval_quality, eval_cost = quality, cost
    else:
        eval_quality = _columns(evaluation, "quality_", classes, fill_q)
        eval_cost = _columns(evaluation, "cost_", classes, fill_c)
    fold = np.empty(n, dtype=np.intp)
    for k, (_, test) in enumerate(folds):
        fold[test] = k
    return Bunch(
        X=X,
        quality=quality,
        cost=cost,
        eval_quality=eval_quality,
        eval_cost=eval_cost,
        action=encode_labels(fb["action"], classes),
        logged_quality=logged_quality(stage, fb),
        logged_cost=np.asarray(fb["cost"], dtype=np.float64),
        recorded=np.full(n, bool(getattr(stage, "logged_propensity_", False))),
        propensity=np.asarray(evaluation.propensity_, dtype=np.float64),
        weight=np.ones(n),
        fold=fold,
        filled=filled,
    )


def _rescaled_stage(stage, scale, classes):
    """``stage.rescale_cost`` with ``scale`` given per model of ``classes``."""
    return stage.rescale_cost(scale[encode_labels(stage.classes_, classes)])


#: The fitted arrays of a utility stage (and of IntegrativeUtility) with one
#: entry per row it was fitted on. A stage kept in ``fill_stages`` only predicts
#: outcomes: it keeps none of them (with a million rows a day, they are GBs).
ROW_ARRAYS = (
    "quality_", "cost_", "outcome_quality_", "outcome_cost_", "propensity_",
    "corrected_quality_", "gold_propensity_",
)


def _without_rows(stage):
    """A shallow copy of fitted ``stage`` without its ``ROW_ARRAYS``."""
    out = copy.copy(stage)
    for name in ROW_ARRAYS:
        out.__dict__.pop(name, None)
    return out


def _needed(stages, classes, newest):
    """The ``stages`` (newest first) that predict some model of ``classes`` for
    an update after ``newest`` (:func:`outcome_sources`), without their rows."""
    sources = outcome_sources([newest, *stages], classes)
    return [_without_rows(s) for s in stages if any(src is s for src in sources)]


class ContinualRouterMixin:
    """``reprice`` and ``partial_fit`` for a router that keeps its ``history_``.

    The host class provides ``_fit_utility``, ``_evaluation_stage``,
    ``_fit_policy``, ``_check_and_keep`` and ``predict``.
    """

    def _check_continuable(self, method):
        if not hasattr(self, "policy_"):
            raise NotFittedError(
                f"{method} continues a fitted {type(self).__name__}; this one is not "
                "fitted yet. Call router.fit(X, feedback) first."
            )
        if getattr(self, "history_", None) is None:
            raise ValueError(
                f"{method} needs what the router trained on, and this router was fitted "
                f"with keep_history={self.keep_history!r} (or unpickled from an older "
                "version). Refit with RegretRouter(keep_history=True).fit(X, feedback)."
            )

    def _warm_epochs(self, max_epochs):
        if max_epochs is None:
            return max(1, self.max_epochs // 5)
        if (
            isinstance(max_epochs, (bool, np.bool_))
            or not isinstance(max_epochs, numbers.Integral)
            or max_epochs < 1
        ):
            raise ValueError(
                f"max_epochs must be None or an int >= 1 (epochs of warm training); "
                f"got {max_epochs!r}."
            )
        return int(max_epochs)

    def _retrain(self, max_epochs, n_new=None, refresh_check=True):
        """Retrain the policy (and the check) warm on ``history_``; on its last
        ``n_new`` rows and a replayed sample of the others when ``replay`` is set.
        ``refresh_check=False`` re-runs the check with its fold policies as they are."""
        rows = self.history_
        epochs = self._warm_epochs(max_epochs)
        U = rows.quality - self.cost_weight * rows.cost
        self.constant_values_ = np.average(U, axis=0, weights=rows.weight)
        self.utility_scale_ = utility_spread(U)
        self.pessimism_penalty_ = pessimism_penalty(
            U, rows.get("filled"), rows.weight, self.pessimism
        )
        train_weight = rows.weight
        if n_new is not None and self.replay is not None:
            rng = np.random.default_rng([int_seed(self.random_state), self.n_updates_])
            train_weight = replay_weights(rows.weight, n_new, self.replay, rng)
        self.policy_ = self._fit_policy(
            rows.X, U - self.pessimism_penalty_, self.utility_scale_, weight=train_weight,
            warm=self.policy_ if self.policy is None else None, epochs=epochs,
        )
        kept = rows.fold_policies
        if kept is not None and len(kept) != self.fallback_cv:
            kept = None  # fallback_cv changed since: train them afresh
        if kept is not None and not refresh_check:
            self._check_and_keep(rows.X, rows, warm=kept, epochs=0)
            return
        self._check_and_keep(rows.X, rows, warm=kept if self.policy is None else None,
                             epochs=epochs,
                             train_weight=None if train_weight is rows.weight else train_weight)

    # -- prices ---------------------------------------------------------------------

    def reprice(self, cost_scale, *, max_epochs=None, refresh_check=False):
        """Re-route after price changes, without refitting the utility stage.

        The cost of each model named in ``cost_scale`` is multiplied by its
        factor in everything the router kept: the cross-fitted DR cost
        utilities of every kept row (``history_``), the logged costs, and the
        utility stage's cost estimates and predictions
        (:meth:`DoublyRobustUtility.rescale_cost`). Then the policy is
        retrained from its current weights on the repriced utilities, and the
        fallback check is re-run at the new prices, so the router may fall
        back, or stop falling back.

        Parameters
        ----------
        cost_scale : dict
            ``{model: factor}``: the new price of ``model`` divided by the
            price its kept costs were logged at (e.g. ``{"large": 0.5}``
            when its price halves). Models from ``classes_``; factors finite
            and ``>= 0``. Factors compound over calls.
        max_epochs : int, default=None
            Most epochs of each warm retraining (early stopping still
            applies); ``None`` is a fifth of ``max_epochs`` (at least one).
        refresh_check : bool, default=False
            Whether to retrain the fallback check's fold policies too.
            ``False``: the check values, at the new prices, the out-of-fold
            decisions of its fold policies as they are (trained at the old
            prices, retrained warm at the next :meth:`partial_fit`): valid
            estimates, of policies that have not adapted to the new prices
            yet, so the check is conservative until then (it may fall back
            to the best single model at the new prices where the retrained
            policy would beat it). ``True`` retrains them warm as well, at
            about ``fallback_cv`` times the cost of the policy's retraining.

        Returns
        -------
        self : RegretRouter
            The repriced router.

        Warns
        -----
        FallbackWarning
            When the re-run check falls back.

        Notes
        -----
        *Exact*: the repriced utilities equal those of a refit on logs whose
        costs of each model are multiplied by its factor (same seed; equal up
        to rounding, about 1e-12) when every logged cost of that model scales
        by the same factor and the cost outcome model is linear in its target,
        as the default ``RidgeCV`` is. *Approximate*: a pooled cost outcome
        model (its shared part mixes the models' costs); a model too rarely
        logged to have an outcome model in some fold; and the policy, which is
        retrained for a few epochs from its current weights rather than from
        scratch, so its decisions are close to, not equal to, a full refit's.

        Examples
        --------
        >>> from sklearn_causal_routing import RegretRouter
        >>> from sklearn_causal_routing.datasets import RoutingWorld
        >>> logs = RoutingWorld(random_state=0).sample(1000, random_state=1).log(
        ...     random_state=2)
        >>> router = RegretRouter(cost_weight=0.3, hidden_layer_sizes=(16,),
        ...                       max_epochs=20, fallback=None, random_state=0)
        >>> router = router.fit(logs.X, logs.feedback)
        >>> before = (router.predict(logs.X) == "large").mean()
        >>> router = router.reprice({"large": 0.1}, max_epochs=5)  # a 90% price cut
        >>> after = (router.predict(logs.X) == "large").mean()
        >>> bool(after > before)
        True
        """
        self._check_continuable("reprice")
        scale = self._check_cost_scale(cost_scale)
        rows = self.history_
        aliased = rows.eval_cost is rows.cost
        rows.cost = rows.cost * scale
        rows.eval_cost = rows.cost if aliased else rows.eval_cost * scale
        rows.logged_cost = rows.logged_cost * scale[rows.action]
        self.utility_ = _rescaled_stage(self.utility_, scale, self.classes_)
        rows.fill_stages = [
            _rescaled_stage(stage, scale, self.classes_) for stage in rows.get("fill_stages", [])
        ]
        self._retrain(max_epochs, refresh_check=refresh_check)
        return self

    def _check_cost_scale(self, cost_scale):
        """``{model: factor}`` as one factor per column of ``classes_``."""
        if not isinstance(cost_scale, dict) or not cost_scale:
            raise TypeError(
                "cost_scale must be a non-empty dict {model: factor}, e.g. "
                f"router.reprice({{{np.asarray(self.classes_[0]).item()!r}: 0.5}}); got "
                f"{cost_scale!r}."
            )
        scale = np.ones(len(self.classes_))
        labels = list(cost_scale)
        index = encode_labels(
            np.asarray(labels), self.classes_, name="cost_scale",
            known="classes_, the models the router routes to",
        )
        for label, j in zip(labels, index):
            factor = cost_scale[label]
            if (
                isinstance(factor, (bool, np.bool_))
                or not isinstance(factor, numbers.Real)
                or not np.isfinite(factor)
                or factor < 0
            ):
                raise ValueError(
                    f"cost_scale[{label!r}] must be a finite number >= 0 (new price / old "
                    f"price, e.g. 0.5 when the price halves); got {factor!r}."
                )
            scale[j] = float(factor)
        return scale

    # -- new logs -------------------------------------------------------------------

    def partial_fit(self, X, y, quality=None, *, cost=None, propensity=None, max_epochs=None):
        """Continue from the fitted router on a new round of logs.

        1. *Drift check* (``drift_confidence`` not None): the router's
           decisions on the new logs are valued off-policy
           (:func:`~sklearn_causal_routing.metrics.evaluate_policy`, doubly
           robust) and compared with ``reference_value_``, estimated when it
           was last fitted; when the interval of the difference excludes 0, a
           :class:`~sklearn_causal_routing.exceptions.DriftWarning` is raised.
           The numbers are in ``drift_report_``.
        2. The utility stage is cross-fitted on the new logs alone (with the
           router's seed: the same utilities as a fit on them), except that a
           model they logged fewer than 30 times takes its outcome model from
           the last round that logged it at least that often
           (:func:`borrow_outcomes`).
        3. The kept rows' weights are multiplied by ``memory`` (rows of
           weight 0 dropped) and the new rows appended with weight 1.
        4. The policy is retrained from its current weights on all kept
           utilities with those row weights, and the fallback check re-run,
           warm, on them.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Features of the new logged queries (same features as in fit).
        y : feedback array or array-like of shape (n_samples,)
            The new logged feedback (or logged labels with ``quality``). It
            may lack some models of ``classes_``: their utilities on the new
            rows are an earlier stage's outcome-model predictions. It may
            hold models outside ``classes_``: they join the pool (see Notes).
        quality, cost, propensity : array-like, default=None
            For the form ``partial_fit(X, t, quality, cost=cost)``.
        max_epochs : int, default=None
            Most epochs of each warm retraining; ``None`` is a fifth of
            ``max_epochs`` (at least one).

        Returns
        -------
        self : RegretRouter
            The updated router.

        Warns
        -----
        DriftWarning
            When the router's value on the new logs falls outside the
            interval estimated before.
        FallbackWarning
            When the re-run check falls back.

        Notes
        -----
        ``partial_fit`` rather than ``warm_start=True``: scikit-learn's
        ``warm_start`` refits on the data passed, here the point is to add
        new logs to those kept, with the past down-weighted; ``fit`` always
        starts afresh.

        ``drift_report_`` holds ``reference_value`` and
        ``reference_std_error`` (from ``reference_value_``), ``value``,
        ``std_error``, ``ci_low`` and ``ci_high`` (the DR estimate on the new
        logs and its interval at ``drift_confidence``), ``difference``
        (new minus reference) with ``difference_ci_low`` and
        ``difference_ci_high`` (normal, standard errors combined),
        ``confidence``, ``n_samples`` and ``drifted``; ``skipped`` says why
        when the check could not run (e.g. the router routes to a model the
        new logs never served, which they cannot value).

        *A new model* (served in the new logs, not in ``classes_``) joins
        the pool: ``classes_`` grows (sorted; ``history_.action`` is
        re-indexed), the kept rows get its columns from the new stage's
        outcome-model predictions on their features (flagged in
        ``history_.filled``: it never served them, so there is no DR
        correction; with a pooled outcome model such as
        :class:`~sklearn_causal_routing.outcome.PooledRidge` they borrow
        strength from the other models), and the policy network, and the
        check's, grow one output per new model, initialised so that they do
        not prefer it (:func:`~sklearn_causal_routing._nets.grow_outputs`)
        before the warm retraining. ``pessimism > 0`` makes the router send
        it queries only where its estimated advantage exceeds its
        uncertainty.

        With ``memory=1`` the policy trains on the same utilities as a fit
        on all rounds would, except that each round's utilities are
        cross-fitted within that round (the stage is not refitted on the
        pooled logs); with ``memory=0`` on those of a fit on the new logs
        only (when they logged every model at least 30 times). The policy
        itself is retrained warm, so it is close to, not equal to, a refit's.

        Examples
        --------
        >>> from sklearn_causal_routing import RegretRouter
        >>> from sklearn_causal_routing.datasets import RoutingWorld
        >>> world = RoutingWorld(n_models=3, random_state=0)
        >>> day1 = world.sample(600, random_state=1).log(random_state=2)
        >>> day2 = world.sample(600, random_state=3).log(random_state=4)
        >>> router = RegretRouter(cost_weight=0.3, hidden_layer_sizes=(16,),
        ...                       max_epochs=10, fallback=None, random_state=0)
        >>> router = router.fit(day1.X, day1.feedback)
        >>> router = router.partial_fit(day2.X, day2.feedback)
        >>> router.history_.X.shape, router.n_updates_
        ((1200, 16), 1)
        >>> router.drift_report_.skipped  # the reference value comes from the check
        'no reference value: it comes from the fallback check, which fallback=None turns off'
        """
        self._check_continuable("partial_fit")
        X = check_features(self, X)
        fb = resolve_feedback(y, quality, cost, propensity, caller="partial_fit")
        check_same_length(X, fb)
        served = np.unique(fb["action"])
        unknown = served[~np.isin(served, self.classes_)]
        if unknown.size and np.asarray(unknown).dtype.kind != self.classes_.dtype.kind:
            raise ValueError(
                f"partial_fit: the new logs' model labels {unknown.tolist()} are not of "
                f"the kind of classes_ ({self.classes_.tolist()}); labels must be all "
                "strings or all integers."
            )
        check_enough_models(served, name="y (the new logs)")
        self.drift_report_ = self._drift_check(X, fb)

        seed = int_seed(self.random_state)
        old = self.history_
        fill_stages = [self.utility_, *old.get("fill_stages", [])]
        stage = self.utility_ = self._fit_utility(X, fb, self.cost_weight)
        # as in fit: without the check nothing values decisions, no unclipped stage
        evaluation = stage if self.fallback is None else self._evaluation_stage(X, fb)
        twins = borrow_outcomes([stage] if evaluation is stage else [stage, evaluation],
                                fill_stages, X, fb)
        stage, evaluation = twins[0], twins[-1]
        self.utility_ = stage
        if unknown.size:
            self._add_models(unknown, stage)
        folds = crossfit_splits(self.fallback_cv, X, [], seed, name="fallback_cv")
        rows = new_round(X, fb, stage, evaluation, folds, self.classes_, fill_stages)
        rows.X = np.asarray(X, dtype=np.float32)
        weight = old.weight * self.memory
        keep = weight > 0
        if old.get("filled") is None:  # kept before filled existed: all DR estimates
            old.filled = np.zeros(old.quality.shape, dtype=bool)
        if old.get("propensity") is None:  # kept before propensity was: unknown
            old.propensity = np.full(old.X.shape[0], np.nan)
        if old.get("recorded") is None:  # kept when quality was NaN where not recorded
            old.recorded = np.isfinite(old.logged_quality)
        history = Bunch(**{
            name: np.concatenate([old[name][keep], rows[name]]) for name in ROW_FIELDS
            if name != "weight"
        })
        history.weight = np.concatenate([weight[keep], rows.weight])
        history.fold_policies = old.fold_policies
        # stages still needed to fill the models the newest logs did not serve
        history.fill_stages = _needed(fill_stages, self.classes_, stage)
        self.history_ = history
        self.n_updates_ = getattr(self, "n_updates_", 0) + 1
        self._retrain(max_epochs, n_new=X.shape[0])
        return self

    def _add_models(self, labels, stage):
        """Grow ``classes_`` by the (new) ``labels``; fill their columns in ``history_``.

        The kept rows' columns of a new model are ``stage``'s outcome-model
        predictions on their features (that model never served them: no DR
        correction), flagged in ``history_.filled``; the policy networks grow
        one output per new model (:func:`~sklearn_causal_routing._nets.grow_outputs`).
        """
        classes = np.union1d(self.classes_, labels)  # sorted, as everywhere
        index = encode_labels(self.classes_, classes)
        new = encode_labels(labels, classes)
        rows = self.history_
        n, k = rows.X.shape[0], len(classes)
        quality, cost = stage.predict_outcomes(rows.X)
        at = encode_labels(labels, stage.classes_)
        for name in MODEL_FIELDS:
            grown = np.empty((n, k))
            grown[:, index] = rows[name]
            grown[:, new] = (quality if "quality" in name else cost)[:, at]
            rows[name] = grown
        filled = np.ones((n, k), dtype=bool)
        filled[:, index] = rows.get("filled", np.zeros((n, len(index)), dtype=bool))
        rows.filled = filled
        rows.action = index[rows.action]
        if self.policy is None:  # a classifier policy is refitted from scratch anyway
            grow_outputs(self.policy_, index, k)
            for net in rows.fold_policies or ():
                grow_outputs(net, index, k)
        self.classes_ = classes
        self.constant_values_ = np.average(
            rows.quality - self.cost_weight * rows.cost, axis=0, weights=rows.weight
        )

    def _drift_check(self, X, fb):
        """Value of the router on the new logs against ``reference_value_``."""
        if self.drift_confidence is None:
            return None
        conf = float(self.drift_confidence)
        ref = self.reference_value_
        report = Bunch(
            reference_value=float(ref.value), reference_std_error=float(ref.std_error),
            value=np.nan, std_error=np.nan, ci_low=np.nan, ci_high=np.nan,
            difference=np.nan, difference_ci_low=np.nan, difference_ci_high=np.nan,
            confidence=conf, n_samples=int(X.shape[0]), drifted=False, skipped=None,
        )
        if not np.isfinite(ref.value):
            report.skipped = (
                "no reference value: it comes from the fallback check, which "
                "fallback=None turns off"
            )
            return report
        decisions = self.predict(X)
        unserved = np.setdiff1d(np.unique(decisions), np.unique(fb["action"]))
        if unserved.size:
            report.skipped = (
                f"the router routes to {unserved.tolist()}, which the new logs never "
                "served: they cannot value it"
            )
            return report
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # overlap etc.: the update's own fit warns
            res = evaluate_policy(
                decisions, X, fb, cost_weight=self.cost_weight, methods=("dr",),
                confidence_level=conf,
            ).estimates["dr"]
        z = NormalDist().inv_cdf(0.5 + conf / 2)
        diff = res.value - ref.value
        se = float(np.hypot(res.std_error, ref.std_error))
        report.update(
            value=res.value, std_error=res.std_error, ci_low=res.ci_low, ci_high=res.ci_high,
            difference=diff, difference_ci_low=diff - z * se, difference_ci_high=diff + z * se,
        )
        report.drifted = bool(abs(diff) > z * se)
        if report.drifted:
            warn(
                f"{type(self).__name__}: its value on the new logs, {res.value:.4g} per "
                f"query ({conf:.0%} interval [{res.ci_low:.4g}, {res.ci_high:.4g}]), "
                f"{'fell' if diff < 0 else 'rose'} by {abs(diff):.4g} from the "
                f"{ref.value:.4g} estimated before ({ref.source}); the {conf:.0%} interval "
                f"of the difference, [{diff - z * se:.4g}, {diff + z * se:.4g}], excludes "
                "0. The world, the traffic or the logging changed: the update goes on; "
                "details in drift_report_. Consider memory < 1 to forget older logs.",
                DriftWarning,
            )
        return report

