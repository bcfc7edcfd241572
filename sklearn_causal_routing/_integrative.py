"""IntegrativeUtility: few gold grades plus many cheap judge grades, judge bias corrected."""

from numbers import Real

import numpy as np
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression, RidgeCV
from sklearn.utils import Bunch
from sklearn.utils.parallel import Parallel

from ._feedback import check_logs, grader_fields, make_feedback
from ._utility import (
    MIN_ROWS_PER_MODEL,
    DoublyRobustUtility,
    fill_predictions,
    outcome_tasks,
    plan_per_model,
    predict_per_model,
)
from .exceptions import SmallGoldWarning
from .utils._compat import HasMethods, Interval, StrOptions, _fit_context
from .utils._parallel import thread_budget
from .utils._stats import kish_ess
from .utils.validation import check_features, crossfit_splits, encode_labels
from .utils._warnings import warn

__all__ = ["IntegrativeUtility"]

#: Below this effective number of gold rows a model's judge bias is poorly estimated.
MIN_GOLD_EFFECTIVE_SAMPLES = 10

_GOLD_CALL = "make_feedback(t, y, cost=cost, gold=is_gold)"


def _default_bias_model():
    # The pseudo-outcomes are heavy-tailed (gold residuals are divided by the gold
    # propensity); a wide penalty grid lets leave-one-out shrink toward the
    # per-model mean bias when the gold set cannot support more.
    return RidgeCV(alphas=np.logspace(-2, 4, 7))


def _default_gold_propensity_model():
    return LogisticRegression(C=1.0, max_iter=1000)


def _check_gold_clip(gold_clip):
    try:
        lo, hi = (float(v) for v in gold_clip)
    except (TypeError, ValueError):
        raise ValueError(
            "gold_clip must be a pair of probabilities (low, high) with 0 < low < high "
            f"<= 1, e.g. gold_clip=(0.01, 0.99); got {gold_clip!r}."
        ) from None
    if not (0 < lo < hi <= 1):
        raise ValueError(
            "gold_clip must be a pair of probabilities (low, high) with 0 < low < high "
            f"<= 1 (bounds on the gold propensity, not percentiles), e.g. "
            f"gold_clip=(0.01, 0.99); got {gold_clip!r}."
        )
    return lo, hi


def _normalised(weights, groups, n_rows):
    """Scale ``weights`` so that they average one over each group's rows."""
    totals = np.bincount(groups, weights=weights, minlength=len(n_rows))
    scale = np.divide(n_rows, totals, out=np.zeros(len(n_rows)), where=totals > 0)
    return weights * scale[groups]


class IntegrativeUtility(DoublyRobustUtility):
    """Doubly robust utilities from a few gold grades and many judge grades.

    Reliable grades (expert checks, rubric scoring, unit tests) are expensive;
    LLM-judge grades are cheap and plentiful but biased, and the bias depends
    on the query and on the model graded. Following Meta-Router (Zhang et al.),
    which grader graded a row is a *treatment* and the judge's bias
    ``b(x, t) = E[judge grade - gold grade | x, t]`` a conditional average
    treatment effect. This estimator learns ``b`` for every model from the
    rows marked gold (``make_feedback(..., gold=...)``), subtracts it from the
    judge grades, keeps the gold grades, and then computes the doubly robust
    utilities of :class:`DoublyRobustUtility` on the corrected grades, with
    the same logging propensities, outcome models and cross-fitting. It is a
    drop-in replacement for :class:`DoublyRobustUtility` in
    :class:`RegretRouter` and :class:`IntervalRouter`.

    Parameters
    ----------
    bias_learner : {"dr", "r"}, default="dr"
        How the bias is learned from cross-fitted nuisances: ``"dr"``
        regresses doubly robust pseudo-outcomes on ``x`` (DR-learner);
        ``"r"`` regresses outcome residuals on grader residuals (R-learner,
        a weighted regression). See Notes.
    gold_propensity : float, array-like of shape (n_samples,), callable or None, \
default=None
        Probability that a row was gold-graded, when known: a float in (0, 1]
        for a random subset; a per-row array (ties the estimator to one
        training set, so not for cross-validation); or a callable
        ``gold_propensity(X) -> (n_samples,)`` for targeted gold grading.
        ``None`` estimates it with ``gold_propensity_model``.
    gold_propensity_model : classifier, default=None
        Classifier of "gold-graded" on the query features and the one-hot
        logged model, cross-fitted; ``None`` uses ``LogisticRegression()``.
    gold_clip : tuple of (float, float), default=(0.01, 0.99)
        Bounds (probabilities, not percentiles) into which gold propensities
        are clipped before they are inverted.
    grade_model : regressor, default=None
        Outcome model of the gold grades and of the judge grades, cloned per
        model and fold; ``None`` uses ``RidgeCV``.
    bias_model : regressor, default=None
        Final-stage regressor of the bias on ``x``, one per model; must accept
        ``sample_weight`` for ``bias_learner="r"``. ``None`` uses ``RidgeCV``
        with penalties up to 1e4, which shrinks toward each model's mean bias
        when the gold set is small.
    shrink_bias : bool, default=True
        Shrink each model's mean bias toward the precision-weighted mean over
        models, by as much as its sampling noise warrants (empirical Bayes;
        see Notes). Matters when some models have few gold rows; ``False``
        keeps the DR-learner's unbiased per-model estimate.
    method : {"dr", "ipw", "dm"}, default="dr"
        As in :class:`DoublyRobustUtility`, for the utilities of the corrected
        grades.
    clip : tuple of (float, float) or None, default=(5, 95)
        Percentile clipping of the logging propensities, as in
        :class:`DoublyRobustUtility`.
    cost_weight : float, default=0.0
        Price of one unit of cost in units of quality.
    quality_model, cost_model : regressor, default=None
        Outcome models of the (corrected) quality and of the cost.
    propensity : PropensityModel or classifier, default=None
        Estimator of the logging propensities.
    use_logged_propensity : bool, default=True
        Use the logging propensities recorded in the feedback, when present.
    cv : int, cross-validation generator or iterable, default=3
        Cross-fitting folds, for the bias nuisances and the utilities. An int
        gives folds stratified by logged model and grader.
    random_state : int, RandomState instance or None, default=None
        Seeds the folds and the default propensity models.
    n_jobs : int or None, default=None
        Fits to run at once, as joblib tasks: the grade models (per fold,
        grader and model) and then those of :class:`DoublyRobustUtility`.
        ``None`` means 1 unless in a ``joblib.parallel_config`` context,
        ``-1`` every core. The result does not depend on it (see
        ``docs/scaling.md``).

    Attributes
    ----------
    bias_ : Bunch
        Per model (columns follow ``classes_``): ``mean`` and ``std`` of the
        estimated bias over the training rows the model served (NaN for a
        model without judge grades), ``n_gold``, ``n_judge``, ``n_both``
        (rows with a gold grade, a judge grade, both),
        ``gold_effective_sample_size`` and ``shrinkage`` (the weight kept on
        the model's own mean bias; 1 = not shrunk).
    gold_effective_sample_size_ : ndarray of shape (n_models,)
        Kish's effective sample size of each model's gold rows under the
        weights ``1 / gold_propensity_``.
    gold_propensity_ : ndarray of shape (n_samples,)
        Gold propensity of each training row, after clipping.
    gold_propensity_known_ : bool
        Whether it was given (True) or estimated.
    judge_bias_ : ndarray of shape (n_samples,)
        Estimated bias ``b(x_i, t_i)`` at each training row's logged model.
    corrected_quality_ : ndarray of shape (n_samples,)
        The grades the utilities are computed from: the gold grade on gold
        rows, the judge grade minus ``judge_bias_`` on judge rows.
    bias_models_ : list
        The final-stage bias model of each model (a float where a model had
        too few rows or no judge grades).
    bias_shift_ : ndarray of shape (n_models,)
        Shift added to each model's bias predictions by ``shrink_bias``.
    classes_, quality_, cost_, outcome_quality_, outcome_cost_, propensity_, \
clip_bounds_, logged_propensity_, overlap_, outcome_models_, n_features_in_
        As in :class:`DoublyRobustUtility`, for the corrected grades.

    See Also
    --------
    DoublyRobustUtility : The same utilities when every grade is gold.
    make_feedback : ``gold=`` and ``judge=`` mark who graded each row.

    Notes
    -----
    On row ``i`` with logged model ``t``, let ``Y`` be the gold grade, seen
    when ``O_Y = 1`` (probability ``pi_Y(x) = p(x)``, the gold propensity),
    and ``J`` the judge grade, seen when ``O_J = 1`` (probability
    ``pi_J(x) = 1 - p(x) + s p(x)``, ``s`` being the share of gold rows that
    also carry a judge grade). With cross-fitted per-model outcome models
    ``m_Y(x, t)`` (fitted on gold rows) and ``m_J(x, t)`` (on judge grades),
    the DR-learner regresses, per model, the pseudo-outcome

    .. math::

        \\phi = m_J - m_Y + \\frac{O_J (J - m_J)}{\\pi_J}
                - \\frac{O_Y (Y - m_Y)}{\\pi_Y},

    whose conditional mean is ``b(x, t)`` when either the outcome models or
    the gold propensity are right; with a known gold propensity the mean of
    the fitted bias over a model's rows (ridge with an unpenalised intercept)
    equals the mean pseudo-outcome, an unbiased estimate of the mean bias.
    Without rows carrying both grades, ``pi_J = 1 - p`` and ``phi`` is the
    usual DR-learner pseudo-outcome of the treatment "graded by the judge".

    The R-learner treats every observed grade as one pseudo-row with
    treatment ``W`` (1 = judge), ``pi = pi_J / (pi_J + pi_Y)`` and
    ``m = pi m_J + (1 - pi) m_Y``, and minimises
    ``sum ((R - m) - (W - pi) b(x))^2``: a regression of ``(R - m) / (W -
    pi)`` on ``x`` with weights ``(W - pi)^2``. It targets an
    overlap-weighted bias, lower in variance than the DR-learner's.

    With ``shrink_bias``, each model's mean pseudo-outcome ``a_t`` (its
    mean bias), with sampling variance ``v_t``, is pulled toward the
    precision-weighted mean ``a`` over models: the bias function is shifted
    by ``(lambda_t - 1)(a_t - a)`` with ``lambda_t = tau^2 / (tau^2 + v_t)``,
    ``tau^2`` being the between-model variance of the mean biases (method of
    moments). With many gold rows ``lambda_t`` is near 1; with two or three
    it is small, and a model's bias is borrowed from the others instead of
    resting on a couple of gold residuals divided by the gold propensity.

    The corrected grade is ``J - b(x, t)`` on judge rows and ``Y`` on gold
    rows (also those with a judge grade); the utilities are then
    :class:`DoublyRobustUtility`'s. Assumed: which grader graded a row
    depends on ``(x, t)`` only (no hidden selection), and every model has
    some gold rows.

    References
    ----------
    .. [1] Zhang, Xie, Yang and Wu, "Meta-Router: Bridging Gold-standard and
       Preference-based Evaluations in Large Language Model Routing",
       arXiv:2509.25535, 2025.
    .. [2] Kennedy, "Towards optimal doubly robust estimation of heterogeneous
       causal effects", arXiv:2004.14497, 2020 (DR-learner).
    .. [3] Nie and Wager, "Quasi-oracle estimation of heterogeneous treatment
       effects", Biometrika, 2021 (R-learner).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_causal_routing import IntegrativeUtility, make_feedback
    >>> rng = np.random.default_rng(0)
    >>> n = 2000
    >>> X = rng.normal(size=(n, 3))
    >>> t = rng.choice(["cheap", "strong"], size=n)
    >>> gold_grade = 0.5 + 0.3 * (t == "strong") + 0.1 * rng.normal(size=n)
    >>> judge_grade = gold_grade + np.where(t == "cheap", 0.4, 0.0)  # flatters cheap
    >>> is_gold = rng.random(n) < 0.1
    >>> fb = make_feedback(t, np.where(is_gold, gold_grade, judge_grade),
    ...                    propensity=np.full(n, 0.5), gold=is_gold)
    >>> iu = IntegrativeUtility(gold_propensity=0.1, clip=None, random_state=0)
    >>> U = iu.fit_transform(X, fb)
    >>> iu.bias_.mean.round(1)
    array([ 0.4, -0. ])
    >>> U.mean(axis=0).round(1)
    array([0.5, 0.8])
    """

    _nested_defaults = {
        **DoublyRobustUtility._nested_defaults,
        "bias_model": "RidgeCV()",
        "grade_model": "RidgeCV()",
        "gold_propensity_model": "LogisticRegression()",
    }

    _parameter_constraints = {
        **DoublyRobustUtility._parameter_constraints,
        "bias_learner": [StrOptions({"dr", "r"})],
        "gold_propensity": [Interval(Real, 0, 1, closed="right"), "array-like", callable, None],
        "gold_propensity_model": [HasMethods(["fit", "predict_proba"]), None],
        "gold_clip": [tuple, list],
        "grade_model": [HasMethods(["fit", "predict"]), None],
        "bias_model": [HasMethods(["fit", "predict"]), None],
        "shrink_bias": ["boolean"],
    }

    def __init__(
        self,
        *,
        bias_learner="dr",
        gold_propensity=None,
        gold_propensity_model=None,
        gold_clip=(0.01, 0.99),
        grade_model=None,
        bias_model=None,
        shrink_bias=True,
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
        super().__init__(
            method=method,
            clip=clip,
            cost_weight=cost_weight,
            quality_model=quality_model,
            cost_model=cost_model,
            propensity=propensity,
            use_logged_propensity=use_logged_propensity,
            cv=cv,
            random_state=random_state,
            n_jobs=n_jobs,
        )
        self.bias_learner = bias_learner
        self.gold_propensity = gold_propensity
        self.gold_propensity_model = gold_propensity_model
        self.gold_clip = gold_clip
        self.grade_model = grade_model
        self.bias_model = bias_model
        self.shrink_bias = shrink_bias

    # -- nuisances ----------------------------------------------------------------

    def _known_gold_propensity(self, X, n):
        gp = self.gold_propensity
        if callable(gp):
            values, what = gp(X), "gold_propensity(X)"
        elif isinstance(gp, Real):
            return np.full(n, float(gp))
        else:
            values, what = gp, "gold_propensity"
        try:
            p = np.asarray(values, dtype=np.float64)
        except (TypeError, ValueError):
            raise TypeError(
                f"{what} must give numeric probabilities in (0, 1], one per row; got "
                f"{type(values).__name__}."
            ) from None
        if p.shape != (n,):
            hint = (
                " A per-row array ties the estimator to one training set; for "
                "cross-validation pass a float or a callable gold_propensity(X)."
                if what == "gold_propensity"
                else ""
            )
            raise ValueError(
                f"{what} must hold one gold propensity per row of X ({n}); got shape "
                f"{p.shape}.{hint}"
            )
        bad = ~((p > 0) & (p <= 1))
        if bad.any():
            first = int(np.flatnonzero(bad)[0])
            raise ValueError(
                f"{what} must lie in (0, 1] (the probability that a row was "
                f"gold-graded); got {int(bad.sum())} value(s) outside, first {p[first]} "
                f"at row {first}."
            )
        return p

    def _estimate_gold_propensity(self, X, action, gold, splits):
        k = len(self.classes_)
        Z = np.hstack([X, np.eye(k)[action]])
        p = np.empty(X.shape[0])
        for train, test in splits:
            target = gold[train].astype(np.int64)
            if target.min() == target.max():  # a fold with one grader only
                p[test] = float(target[0])
                continue
            if self.gold_propensity_model is None:
                clf = _default_gold_propensity_model()
            else:
                clf = clone(self.gold_propensity_model)
            clf.fit(Z[train], target)
            col = int(np.flatnonzero(np.asarray(clf.classes_) == 1)[0])
            p[test] = clf.predict_proba(Z[test])[:, col]
        return p

    # -- fitting ------------------------------------------------------------------

    def _check_graders(self, gold, has_judge, action):
        k = len(self.classes_)
        labels = [np.asarray(c).item() for c in self.classes_]
        if not gold.any():
            raise ValueError(
                "IntegrativeUtility needs some gold-standard grades to estimate the "
                f"judge's bias; the feedback has 0 gold rows of {gold.size}. Mark the "
                f"gold-graded rows with {_GOLD_CALL}."
            )
        if not has_judge.any():
            raise ValueError(
                "IntegrativeUtility corrects judge grades, but the feedback has none: "
                f"all {gold.size} rows are gold-graded and carry no judge grade. Mark "
                f"the judge-graded rows with {_GOLD_CALL} (gold=False), or use "
                "DoublyRobustUtility() when every grade is gold."
            )
        n_gold = np.bincount(action[gold], minlength=k)
        missing = [f"{labels[j]!r}" for j in range(k) if n_gold[j] == 0]
        if missing:
            counts = ", ".join(f"{labels[j]!r}: {n_gold[j]}" for j in range(k))
            raise ValueError(
                "Every model needs gold-graded rows: the judge's bias for a model can "
                "only be estimated from gold grades of that model's answers. No gold "
                f"rows for {', '.join(missing)} (gold rows per model: {counts}). Have a "
                "few of their rows gold-graded, or drop those models' rows."
            )

    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y, quality=None, *, cost=None, propensity=None):
        """Estimate the judge's bias, correct the judge grades, cross-fit utilities.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Query features.
        y : feedback array
            Feedback from :func:`make_feedback` with ``gold=`` (and possibly
            ``judge=``); or, with ``quality`` given, the logged model labels
            (all grades then count as gold, which is an error here).
        quality, cost, propensity : array-like, default=None
            For the form ``fit(X, t, quality, cost=cost)``.

        Returns
        -------
        self : IntegrativeUtility
            Fitted estimator.
        """
        X_in = X  # the DoublyRobustUtility fit below validates it again, names included
        X, fb, self.classes_ = check_logs(self, X, y, quality, cost, propensity)
        lo, hi = _check_gold_clip(self.gold_clip)
        k = len(self.classes_)
        action = encode_labels(fb["action"], self.classes_)
        gold, judge = grader_fields(fb)
        has_judge = ~np.isnan(judge)
        self._check_graders(gold, has_judge, action)

        n = X.shape[0]
        grade_y = np.where(gold, np.asarray(fb["quality"], dtype=np.float64), 0.0)
        grade_j = np.where(has_judge, judge, 0.0)
        # cross-fitting folds stratified by (logged model, grader) when each cell
        # has enough rows, else by logged model
        strata = [action * 2 + gold.astype(np.int64), action]
        splits = crossfit_splits(self.cv, X, strata, self.random_state)

        self.gold_propensity_known_ = self.gold_propensity is not None
        if self.gold_propensity_known_:
            p = self._known_gold_propensity(X, n)
        else:
            p = self._estimate_gold_propensity(X, action, gold, splits)
        p = np.clip(p, lo, hi)
        self.gold_propensity_ = p
        share_both = float(np.mean(has_judge[gold]))
        pi_y = p
        pi_j = (1.0 - p) + share_both * p

        m_y = np.empty((n, k))
        m_j = np.empty((n, k))
        # the grade models of every fold and grader run as independent joblib tasks
        plans = []
        for train, test in splits:
            for rows, target, out in (
                (train[gold[train]], grade_y, m_y),
                (train[has_judge[train]], grade_j, m_j),
            ):
                if rows.size == 0:  # a fold without one kind of grade: fold mean
                    out[test] = float(np.mean(target[train]))
                    continue
                models, fits = plan_per_model(
                    X, target, action, rows, self.classes_, self.grade_model
                )
                plans.append((models, fits, target, test, out))
        threads = thread_budget(self.n_jobs, sum(len(plan[1]) for plan in plans))
        tasks = [
            task
            for models, fits, target, test, _ in plans
            for task in outcome_tasks(
                fits, X, target, action, self.classes_, self.grade_model, threads, test
            )
        ]
        results = iter(Parallel(n_jobs=self.n_jobs)(tasks))
        for models, fits, _, test, out in plans:
            out[test] = fill_predictions(models, fits, [next(results) for _ in fits], len(test))
        rows = np.arange(n)
        my, mj = m_y[rows, action], m_j[rows, action]

        if self.bias_learner == "dr":
            # inverse-propensity weights, normalised to mean one over each model's
            # rows (Hajek): the same target, much less variance with few gold rows
            n_rows = np.bincount(action, minlength=k)
            w_j = _normalised(has_judge / pi_j, action, n_rows)
            w_y = _normalised(gold / pi_y, action, n_rows)
            phi = mj - my + w_j * (grade_j - mj) - w_y * (grade_y - my)
            Xb, target, weight, groups = X, phi, None, action
        else:
            pi = pi_j / (pi_j + pi_y)
            m = pi * mj + (1 - pi) * my
            jr, gr = np.flatnonzero(has_judge), np.flatnonzero(gold)
            Xb = np.vstack([X[jr], X[gr]])
            target = np.concatenate(
                [(grade_j[jr] - m[jr]) / (1 - pi[jr]), (grade_y[gr] - m[gr]) / (0 - pi[gr])]
            )
            weight = np.concatenate([(1 - pi[jr]) ** 2, pi[gr] ** 2])
            groups = np.concatenate([action[jr], action[gr]])

        n_judge = np.bincount(action[has_judge], minlength=k)
        self.bias_models_ = self._fit_bias_models(Xb, target, weight, groups, n_judge)
        shrinkage = self._shrinkage(target, weight, groups, n_judge)
        B = predict_per_model(self.bias_models_, X) + self.bias_shift_
        self.judge_bias_ = B[rows, action]
        self.corrected_quality_ = np.where(
            gold, np.asarray(fb["quality"], dtype=np.float64), judge - self.judge_bias_
        )

        n_gold = np.bincount(action[gold], minlength=k)
        self.gold_effective_sample_size_ = kish_ess(1.0 / p[gold], action[gold], k)
        mean = np.full(k, np.nan)
        std = np.full(k, np.nan)
        for j in range(k):
            if n_judge[j]:
                served = B[action == j, j]
                mean[j], std[j] = served.mean(), served.std()
        self.bias_ = Bunch(
            classes=self.classes_,
            mean=mean,
            std=std,
            n_gold=n_gold,
            n_judge=n_judge,
            n_both=np.bincount(action[gold & has_judge], minlength=k),
            gold_effective_sample_size=self.gold_effective_sample_size_,
            shrinkage=shrinkage,
            learner=self.bias_learner,
        )
        self._warn_small_gold(n_gold)

        logged = np.asarray(fb["propensity"], dtype=np.float64)
        corrected = make_feedback(
            fb["action"],
            self.corrected_quality_,
            cost=fb["cost"],
            propensity=None if np.isnan(logged).any() else logged,
        )
        return super().fit(X_in, corrected)

    def _fit_bias_models(self, Xb, target, weight, groups, n_judge):
        models = []
        for j in range(len(self.classes_)):
            mine = np.flatnonzero(groups == j)
            w = None if weight is None else weight[mine]
            if n_judge[j] == 0:
                models.append(0.0)  # nothing of this model to correct
                continue
            values = target[mine]
            if mine.size < MIN_ROWS_PER_MODEL or np.ptp(values) == 0:
                models.append(float(np.average(values, weights=w)))
                continue
            est = _default_bias_model() if self.bias_model is None else clone(self.bias_model)
            if w is None:
                est.fit(Xb[mine], values)
            else:
                est.fit(Xb[mine], values, sample_weight=w)
            models.append(est)
        return models

    def _shrinkage(self, target, weight, groups, n_judge):
        """Empirical-Bayes shrinkage of each model's mean bias toward the pooled one.

        Sets ``bias_shift_`` (added to every bias prediction) and returns the
        weight ``lambda_t`` kept on each model's own mean bias (1 = none).
        """
        k = len(self.classes_)
        self.bias_shift_ = np.zeros(k)
        keep = np.ones(k)
        active = np.flatnonzero(n_judge > 0)
        if not self.shrink_bias or active.size < 2:
            return keep
        w = np.ones_like(target) if weight is None else weight
        means, variances = np.empty(active.size), np.empty(active.size)
        for i, j in enumerate(active):
            mine = groups == j
            total = w[mine].sum()
            means[i] = np.sum(w[mine] * target[mine]) / total
            variances[i] = np.sum((w[mine] * (target[mine] - means[i])) ** 2) / total**2
        # between-model variance of the true mean biases, by the method of moments
        tau2 = max(float(np.var(means, ddof=1) - np.mean(variances)), 0.0)
        precision = 1.0 / (variances + tau2 + 1e-12)
        pooled = np.sum(precision * means) / np.sum(precision)
        lam = tau2 / (tau2 + variances + 1e-12)
        keep[active] = lam
        self.bias_shift_[active] = (lam - 1.0) * (means - pooled)
        return keep

    def _warn_small_gold(self, n_gold):
        ess = self.gold_effective_sample_size_
        small = np.flatnonzero(ess < MIN_GOLD_EFFECTIVE_SAMPLES)
        if small.size == 0:
            return
        parts = ", ".join(
            f"{np.asarray(self.classes_[j]).item()!r} ({n_gold[j]} gold rows, effective "
            f"sample size {ess[j]:.1f})"
            for j in small
        )
        warn(
            "Few gold grades to estimate the judge's bias for " + parts + f" (fewer than "
            f"{MIN_GOLD_EFFECTIVE_SAMPLES} effective gold rows). Their bias estimate, "
            "and so their corrected grades, are noisy; have more of their rows "
            "gold-graded (the gold set may target these models).",
            SmallGoldWarning,
        )

    def predict_bias(self, X):
        """Estimated judge bias of every model on new queries.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Query features.

        Returns
        -------
        bias : ndarray of shape (n_samples, n_models)
            ``b(x, t)``, judge grade minus gold grade; columns follow
            ``classes_``. Zero for a model without judge grades.
        """
        X = check_features(self, X)
        return predict_per_model(self.bias_models_, X) + self.bias_shift_

