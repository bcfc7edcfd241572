"""Tests of DoublyRobustUtility: statistical behaviour on worlds with known truth,
the dm / ipw / dr formulas, clipping, cross-fitting, cost weights, cv, small arms
and the in-process cache of fitted utility stages.

Margins. Estimates are compared with the truth (the mean over the sampled
queries of each model's expected quality / cost) within ``Z`` standard errors,
the standard error of model t being ``sd_i(U_hat[i, t]) / sqrt(n)`` computed from
the same data. With n = 2,000 on the Gaussian-outcome world the DR standard
errors are 0.006 to 0.043 and the naive per-model means are off by 0.055 to
0.209, i.e. by more than the DR margin for every model, so an estimator that
ignored the logging bias fails. Over 12 seeds of that world the largest
|z| was 2.2 (DR) and 3.2 (IPW) across 48 model-seed pairs; Z = 4 leaves room
(two-sided normal tail 6e-5 per comparison) while staying tight.
"""

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge
from sklearn.model_selection import KFold, ShuffleSplit

from sklearn_causal_routing import (
    DoublyRobustUtility,
    OverlapWarning,
    SmallArmWarning,
    clear_utility_cache,
    make_feedback,
)
from sklearn_causal_routing import _utility
from sklearn_causal_routing._utility import fit_utility_cached

Z = 4.0


def _fast(**kw):
    """A DR stage with linear outcome models (fast; deliberately misspecified)."""
    params = dict(quality_model=Ridge(), cost_model=Ridge(), random_state=0)
    params.update(kw)
    return DoublyRobustUtility(**params)


def _se(U):
    return U.std(axis=0, ddof=1) / np.sqrt(U.shape[0])


def _naive_means(logs, classes, field="quality"):
    return np.array([logs.feedback[field][logs.t == c].mean() for c in classes])


@pytest.fixture(scope="module")
def truth(gaussian_table, sorted_columns):
    """Per-model mean expected quality and cost, in sorted label order."""
    order = sorted_columns(gaussian_table)
    return (
        gaussian_table.expected_quality.mean(axis=0)[order],
        gaussian_table.cost.mean(axis=0)[order],
    )


# --------------------------------------------------------------------------- #
# statistical behaviour with known truth
# --------------------------------------------------------------------------- #
def test_naive_means_are_biased_under_confounding(gaussian_logs, truth):
    quality, _ = truth
    classes = np.sort(np.unique(gaussian_logs.t))
    naive = _naive_means(gaussian_logs, classes)
    n_rows = np.array([(gaussian_logs.t == c).sum() for c in classes])
    sd = np.array([gaussian_logs.feedback["quality"][gaussian_logs.t == c].std() for c in classes])
    z_naive = (naive - quality) / (sd / np.sqrt(n_rows))
    # the logger sends each task to the models that do well on it: every
    # model's observed mean overstates its true mean, by far more than noise
    assert (naive - quality > 0.05).all()  # measured 0.055 .. 0.209
    assert (z_naive > 5).all()


@pytest.mark.parametrize("method", ["dr", "ipw"])
def test_recovers_true_mean_quality_with_logged_propensities(gaussian_logs, truth, method):
    quality, _ = truth
    dr = _fast(method=method, clip=None).fit(gaussian_logs.X, gaussian_logs.feedback)
    assert dr.logged_propensity_
    assert_array_equal(dr.classes_, ["large", "medium", "small", "tiny"])
    U = dr.quality_
    est, se = U.mean(axis=0), _se(U)
    assert (np.abs(est - quality) < Z * se).all(), (est, quality, se)
    naive_bias = np.abs(_naive_means(gaussian_logs, dr.classes_) - quality)
    if method == "dr":
        # the margin is tight enough that the naive mean fails it for every model
        assert (Z * se < naive_bias).all()
    else:
        # IPW is noisier; its margin still excludes the naive mean for the two
        # most biased models (small, tiny)
        assert (Z * se < naive_bias)[2:].all()


def test_recovers_true_mean_cost_with_logged_propensities(gaussian_logs, truth):
    _, cost = truth
    dr = _fast(clip=None).fit(gaussian_logs.X, gaussian_logs.feedback)
    est, se = dr.cost_.mean(axis=0), _se(dr.cost_)
    assert (np.abs(est - cost) < Z * se).all()
    # and the combination at a cost weight is the truth's combination
    U = dr.utilities(0.5)
    true_u = truth[0] - 0.5 * cost
    assert (np.abs(U.mean(axis=0) - true_u) < Z * _se(U)).all()


def test_dr_with_estimated_propensities_is_close(gaussian_logs_unlogged, truth):
    """Estimated (logistic) propensities add an error the data-based standard
    error does not contain: over 8 seeds |z| reached 3.7, so the margin here is
    5 SE, and the error must also be at most half of the naive bias."""
    quality, _ = truth
    dr = _fast(clip=None, propensity=LogisticRegression(max_iter=500))
    dr.fit(gaussian_logs_unlogged.X, gaussian_logs_unlogged.feedback)
    assert not dr.logged_propensity_
    est, se = dr.quality_.mean(axis=0), _se(dr.quality_)
    err = np.abs(est - quality)
    assert (err < 5 * se).all(), (est, quality, se)
    naive_bias = np.abs(_naive_means(gaussian_logs_unlogged, dr.classes_) - quality)
    assert (err < 0.5 * naive_bias).all()
    # the propensities really were estimated (not the recorded ones)
    assert np.isnan(gaussian_logs_unlogged.feedback["propensity"]).all()
    assert (dr.propensity_ > 0).all() and (dr.propensity_ <= 1).all()


def test_use_logged_propensity_false_estimates(gaussian_logs):
    dr = _fast(clip=None, use_logged_propensity=False,
               propensity=LogisticRegression(max_iter=300), cv=2)
    dr.fit(gaussian_logs.X, gaussian_logs.feedback)
    assert not dr.logged_propensity_
    assert not np.allclose(dr.propensity_, gaussian_logs.feedback["propensity"])


@settings(max_examples=12, deadline=None, derandomize=True)
@given(
    policy=st.sampled_from(["uniform", "confounded", "deterministic"]),
    skew=st.floats(0.0, 5.0),
    epsilon=st.floats(0.2, 0.6),
    seed=st.integers(0, 2**31 - 1),
)
def test_ips_weights_of_logging_policy_average_to_one(table, policy, skew, epsilon, seed):
    """For every model t, mean_i 1{t_i = t} / e_t(x_i) has expectation exactly 1.

    With quality == 1, IPW's column t is exactly those weights. Its variance
    given X is mean_i (1 / e_t(x_i) - 1) / n, known from the logging matrix.
    """
    logs = table.log(policy, skew=skew, epsilon=epsilon, random_state=seed)
    n = len(logs)
    fb = make_feedback(logs.t, np.ones(n), propensity=logs.feedback["propensity"])
    dr = DoublyRobustUtility(method="ipw", clip=None, cv=2, random_state=0).fit(logs.X, fb)
    weights_mean = dr.quality_.mean(axis=0)
    P = logs.probabilities[:, np.argsort(table.models)]
    se = np.sqrt((1.0 / P - 1.0).mean(axis=0) / n)
    assert (np.abs(weights_mean - 1.0) <= Z * se + 1e-12).all(), (weights_mean, se)


# --------------------------------------------------------------------------- #
# the dm / ipw / dr formulas
# --------------------------------------------------------------------------- #
@pytest.fixture(scope="module")
def fitted_methods(logs):
    return {m: _fast(method=m).fit(logs.X, logs.feedback) for m in ("dr", "ipw", "dm")}


def test_methods_share_nuisances(fitted_methods):
    dr, ipw, dm = (fitted_methods[m] for m in ("dr", "ipw", "dm"))
    for other in (ipw, dm):
        assert_array_equal(dr.propensity_, other.propensity_)
        assert_allclose(dr.outcome_quality_, other.outcome_quality_)


@pytest.mark.parametrize("field", ["quality", "cost"])
def test_dr_formula(fitted_methods, logs, field):
    dr = fitted_methods["dr"]
    mu = getattr(dr, f"outcome_{field}_")
    out = getattr(dr, f"{field}_")
    rows = np.arange(len(logs))
    a = np.searchsorted(dr.classes_, logs.t)
    expected = mu.copy()
    expected[rows, a] += (logs.feedback[field] - mu[rows, a]) / dr.propensity_
    assert_allclose(out, expected)
    # off the logged model the DR estimate is the outcome model's
    other = np.ones_like(mu, dtype=bool)
    other[rows, a] = False
    assert_array_equal(out[other], mu[other])


def test_ipw_formula(fitted_methods, logs):
    ipw = fitted_methods["ipw"]
    rows = np.arange(len(logs))
    a = np.searchsorted(ipw.classes_, logs.t)
    expected = np.zeros((len(logs), 4))
    expected[rows, a] = logs.feedback["quality"] / ipw.propensity_
    assert_allclose(ipw.quality_, expected)


def test_dm_is_the_outcome_models(fitted_methods):
    dm = fitted_methods["dm"]
    assert_array_equal(dm.quality_, dm.outcome_quality_)
    assert_array_equal(dm.cost_, dm.outcome_cost_)
    # DM is smooth: it is not the DR estimate
    assert not np.allclose(dm.quality_, fitted_methods["dr"].quality_)


# --------------------------------------------------------------------------- #
# clipping
# --------------------------------------------------------------------------- #
def test_clipping_at_percentiles_bounds_the_weights(logs):
    raw = logs.feedback["propensity"]
    dr = _fast(clip=(5, 95)).fit(logs.X, logs.feedback)
    lo, hi = dr.clip_bounds_
    assert_allclose([lo, hi], np.percentile(raw, [5, 95]))
    assert_allclose(dr.propensity_, np.clip(raw, lo, hi))
    assert (1.0 / dr.propensity_).max() <= 1.0 / lo + 1e-12
    assert (1.0 / raw).max() > 1.5 / lo  # clipping did bind
    assert dr.overlap_.clipped_share == pytest.approx(
        np.mean((raw < lo) | (raw > hi)))
    # at most 10% lie strictly outside the 5th / 95th percentiles (fewer here:
    # the confounded logger's propensities take few distinct values, with ties)
    assert 0.0 < dr.overlap_.clipped_share <= 0.10 + 1e-9


def test_no_clipping(logs):
    dr = _fast(clip=None).fit(logs.X, logs.feedback)
    assert dr.clip_bounds_ is None
    assert_array_equal(dr.propensity_, logs.feedback["propensity"])
    assert dr.overlap_.clipped_share == 0.0


def test_clip_as_list_and_full_range(logs):
    a = _fast(clip=[0, 100]).fit(logs.X, logs.feedback)
    assert_array_equal(a.propensity_, logs.feedback["propensity"])
    tight = _fast(clip=[25, 75]).fit(logs.X, logs.feedback)
    default = _fast().fit(logs.X, logs.feedback)
    assert tight.clip_bounds_[0] > default.clip_bounds_[0]
    assert tight.clip_bounds_[1] < default.clip_bounds_[1]
    assert (1.0 / tight.propensity_).max() < (1.0 / default.propensity_).max()


def test_clipping_estimated_propensities(logs_unlogged):
    dr = _fast(clip=(5, 95), propensity=LogisticRegression(max_iter=300), cv=2)
    dr.fit(logs_unlogged.X, logs_unlogged.feedback)
    lo, hi = dr.clip_bounds_
    assert dr.propensity_.min() == pytest.approx(lo)
    assert dr.propensity_.max() == pytest.approx(hi)


# --------------------------------------------------------------------------- #
# cross-fitting
# --------------------------------------------------------------------------- #
SEEN = 1000.0


class MarkerRegressor(RegressorMixin, BaseEstimator):
    """Predicts 0 for rows it was not fitted on and SEEN for rows it was.

    Column 0 of X is the row id. Remembers the ids it was fitted on.
    """

    def fit(self, X, y):
        self.fit_ids_ = np.sort(X[:, 0].astype(int))
        return self

    def predict(self, X):
        return np.where(np.isin(X[:, 0].astype(int), self.fit_ids_), SEEN, 0.0)


class MarkerClassifier(ClassifierMixin, BaseEstimator):
    """Uniform probabilities on unseen rows, a lopsided row on rows it saw."""

    def fit(self, X, y):
        self.classes_ = np.unique(y)
        self.fit_ids_ = X[:, 0].astype(int)
        return self

    def predict_proba(self, X):
        k = len(self.classes_)
        P = np.full((X.shape[0], k), 1.0 / k)
        seen = np.isin(X[:, 0].astype(int), self.fit_ids_)
        P[seen] = 0.1 / (k - 1)
        P[seen, 0] = 0.9
        return P


@pytest.fixture(scope="module")
def id_logs():
    rng = np.random.default_rng(5)
    n = 300
    X = np.c_[np.arange(n), rng.normal(size=(n, 2))]
    t = rng.choice(["a", "b", "c"], size=n)
    q = rng.normal(size=n)
    c = rng.random(n)
    return X, t, q, c


@pytest.mark.parametrize("cv", [3, 5])
def test_cross_fitting_no_row_sees_its_own_nuisance(id_logs, cv):
    X, t, q, c = id_logs
    dr = DoublyRobustUtility(quality_model=MarkerRegressor(), cost_model=MarkerRegressor(),
                             propensity=MarkerClassifier(), clip=None, cv=cv, random_state=0)
    dr.fit(X, t, q, cost=c)
    assert not dr.logged_propensity_
    # any nuisance fitted on its own row would have left a SEEN / 0.9 / 0.05 mark
    assert_array_equal(dr.outcome_quality_, 0.0)
    assert_array_equal(dr.outcome_cost_, 0.0)
    assert_allclose(dr.propensity_, 1.0 / 3)
    assert len(dr.outcome_models_) == cv


def test_cross_fitting_folds_and_per_model_rows(id_logs):
    """With explicit folds: fold f's model-j outcome model is fitted on exactly
    the training rows of fold f that model j served."""
    X, t, q, c = id_logs
    folds = list(KFold(3, shuffle=True, random_state=1).split(X))
    dr = DoublyRobustUtility(quality_model=MarkerRegressor(), cost_model=MarkerRegressor(),
                             clip=None, cv=folds).fit(X, t, q, cost=c, propensity=np.full(300, 1 / 3))
    classes = dr.classes_
    for (train, _), models in zip(folds, dr.outcome_models_):
        for j, label in enumerate(classes):
            expected = np.sort(train[t[train] == label])
            assert_array_equal(models["quality"][j].fit_ids_, expected)
            assert_array_equal(models["cost"][j].fit_ids_, expected)
    assert_array_equal(dr.outcome_quality_, 0.0)


def test_cv_as_splitter_and_int(logs):
    assert len(_fast(cv=KFold(4, shuffle=True, random_state=0)).fit(
        logs.X, logs.feedback).outcome_models_) == 4
    assert len(_fast(cv=2).fit(logs.X, logs.feedback).outcome_models_) == 2


def test_int_cv_is_seeded_and_stratified(id_logs):
    X, t, q, c = id_logs
    p = np.full(300, 1 / 3)
    kw = dict(quality_model=LinearRegression(), cost_model=LinearRegression(), clip=None, cv=3)
    a = DoublyRobustUtility(random_state=0, **kw).fit(X, t, q, cost=c, propensity=p)
    b = DoublyRobustUtility(random_state=0, **kw).fit(X, t, q, cost=c, propensity=p)
    d = DoublyRobustUtility(random_state=1, **kw).fit(X, t, q, cost=c, propensity=p)
    assert_array_equal(a.quality_, b.quality_)
    assert not np.allclose(a.quality_, d.quality_)  # other folds
    # stratified: every training fold holds ~2/3 of each model's rows
    counts = np.array([(t == lab).sum() for lab in a.classes_])
    kw["quality_model"] = MarkerRegressor()
    m = DoublyRobustUtility(random_state=0, **kw).fit(X, t, q, cost=c, propensity=p)
    for models in m.outcome_models_:
        sizes = np.array([len(mod.fit_ids_) for mod in models["quality"]])
        assert (np.abs(sizes - 2 * counts / 3) <= 1).all()


def test_cv_that_does_not_partition_rows_is_rejected(logs):
    with pytest.raises(ValueError, match="cv"):
        _fast(cv=ShuffleSplit(2, test_size=0.2, random_state=0)).fit(logs.X, logs.feedback)


# --------------------------------------------------------------------------- #
# cost weights: affine, no refit
# --------------------------------------------------------------------------- #
class CountingRegressor(RegressorMixin, BaseEstimator):
    n_fits = 0

    def fit(self, X, y):
        type(self).n_fits += 1
        self.coef_ = np.linalg.lstsq(np.c_[np.ones(len(X)), X], y, rcond=None)[0]
        return self

    def predict(self, X):
        return np.c_[np.ones(len(X)), X] @ self.coef_


def test_utilities_are_affine_in_cost_weight_without_refit(logs):
    dr = DoublyRobustUtility(quality_model=CountingRegressor(), cost_model=CountingRegressor(),
                             random_state=0).fit(logs.X, logs.feedback)
    fits = CountingRegressor.n_fits
    assert fits > 0
    for cw in (0.0, 0.3, 2.5):
        assert_allclose(dr.utilities(cw), dr.quality_ - cw * dr.cost_)
    U0, U1 = dr.utilities(0.0), dr.utilities(1.0)
    assert_allclose(dr.utilities(0.37), U0 + 0.37 * (U1 - U0))
    assert_array_equal(dr.utilities(0.0), dr.quality_)
    assert not np.allclose(U0, U1)  # the costs differ between models
    dr.set_params(cost_weight=0.8)
    assert_allclose(dr.utilities(), dr.quality_ - 0.8 * dr.cost_)
    assert_allclose(dr.predict(logs.X[:5], cost_weight=0.8), dr.predict(logs.X[:5]))
    assert CountingRegressor.n_fits == fits  # nothing was refitted


def test_fit_transform_uses_cost_weight_param(logs):
    dr = _fast(cost_weight=0.5)
    U = dr.fit_transform(logs.X, logs.feedback)
    assert_allclose(U, dr.quality_ - 0.5 * dr.cost_)


def test_shapes_of_fit_transform_predict_transform(logs, table):
    dr = _fast()
    U = dr.fit_transform(logs.X, logs.feedback)
    assert U.shape == (2000, 4)
    X_new = table.X[:7] + 0.1
    P = dr.predict(X_new)
    assert P.shape == (7, 4)
    assert_array_equal(dr.transform(X_new), P)
    q, c = dr.predict_outcomes(X_new)
    assert q.shape == c.shape == (7, 4)
    assert_allclose(dr.predict(X_new, cost_weight=0.2), q - 0.2 * c)
    # predict averages the cross-fitting folds' outcome models
    by_hand = np.mean([[m.predict(X_new) for m in fold["quality"]] for fold in dr.outcome_models_],
                      axis=0).T
    assert_allclose(q, by_hand)
    # fit_transform gives the DR estimates; transform the outcome models only
    assert not np.allclose(dr.transform(logs.X), U)
    assert_array_equal(dr.get_feature_names_out(),
                       ["utility_large", "utility_medium", "utility_small", "utility_tiny"])
    assert dr.n_features_in_ == 16


def test_int_labels(logs):
    codes = np.searchsorted(["large", "medium", "small", "tiny"], logs.t) * 10
    fb = make_feedback(codes, logs.feedback["quality"], cost=logs.feedback["cost"],
                       propensity=logs.feedback["propensity"])
    a = _fast().fit(logs.X, fb)
    b = _fast().fit(logs.X, logs.feedback)
    assert_array_equal(a.classes_, [0, 10, 20, 30])
    assert_allclose(a.quality_, b.quality_)


# --------------------------------------------------------------------------- #
# small arms
# --------------------------------------------------------------------------- #
def _with_rare(n=200, rare_quality=(0.0, 3.0, 9.0), seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 2))
    t = np.array(["a", "b"] * (n // 2), dtype="<U4")
    r = len(rare_quality)
    t[:r] = "rare"
    q = rng.normal(size=n)
    q[:r] = rare_quality
    p = np.where(t == "rare", 0.01, 0.5)
    return X, t, q, p


def test_small_arm_warning_and_fallback_to_fold_mean():
    X, t, q, p = _with_rare()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", OverlapWarning)
        with pytest.warns(SmallArmWarning, match=r"rare'\)? \(2 rows\)"):
            dr = _fast(clip=None, cv=3).fit(X, t, q, propensity=p)
    j = list(dr.classes_).index("rare")
    # each fold's "rare" outcome model is the mean of the 2 rare rows it saw
    pair_means = {1.5, 4.5, 6.0}
    for fold in dr.outcome_models_:
        assert isinstance(fold["quality"][j], float)
        assert fold["quality"][j] in pair_means
    assert set(np.unique(dr.outcome_quality_[:, j])) <= pair_means
    # the other models are not small and are regressions
    assert not isinstance(dr.outcome_models_[0]["quality"][0], float)


def test_small_arm_with_no_rows_in_a_fold_uses_overall_mean():
    X, t, q, p = _with_rare(rare_quality=(50.0,))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", OverlapWarning)
        with pytest.warns(SmallArmWarning, match=r"\(0, 1 rows in the cross-fitting folds\)"):
            dr = _fast(clip=None, cv=3).fit(X, t, q, propensity=p)
    j = list(dr.classes_).index("rare")
    values = [fold["quality"][j] for fold in dr.outcome_models_]
    # one fold had the rare row in its test part: it falls back to the mean of
    # all its training rows (small); the others use the rare row's 50.0
    assert sorted(values)[-2:] == [50.0, 50.0]
    assert abs(sorted(values)[0]) < 1.0


def test_small_arm_warning_prints_plain_labels():
    X, t, q, p = _with_rare()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", OverlapWarning)
        with pytest.warns(SmallArmWarning) as record:
            _fast(clip=None, cv=3).fit(X, t, q, propensity=p)
    msg = str(record[0].message)
    assert "np.str_" not in msg and "'rare' (2 rows)" in msg


def test_no_small_arm_warning_on_regular_logs(logs):
    with warnings.catch_warnings():
        warnings.simplefilter("error", SmallArmWarning)
        _fast().fit(logs.X, logs.feedback)


# --------------------------------------------------------------------------- #
# the utility cache
# --------------------------------------------------------------------------- #
@pytest.fixture
def empty_cache():
    clear_utility_cache()
    yield _utility._cache_stats
    clear_utility_cache()


def test_cache_hit_returns_the_fitted_stage(logs, empty_cache):
    first = fit_utility_cached(_fast(), logs.X, logs.feedback)
    assert empty_cache == {"hits": 0, "misses": 1}
    again = _fast()
    second = fit_utility_cached(again, logs.X.copy(), logs.feedback.copy())  # equal content
    assert empty_cache == {"hits": 1, "misses": 1}
    assert second.quality_ is first.quality_  # shares the fitted arrays, no refit
    assert_array_equal(second.quality_, first.quality_)
    # a hit is what a refit would have given
    fresh = _fast().fit(logs.X, logs.feedback)
    assert_array_equal(fresh.quality_, second.quality_)
    assert_array_equal(fresh.cost_, second.cost_)
    assert_array_equal(fresh.propensity_, second.propensity_)


@pytest.mark.parametrize(
    "change",
    [{"clip": None}, {"method": "ipw"}, {"cv": 2}, {"random_state": 1},
     {"quality_model": Ridge(alpha=3.0)}],
    ids=lambda d: next(iter(d)),
)
def test_cache_miss_on_other_params(logs_unlogged, empty_cache, change):
    # estimated propensities: every parameter, clip included, changes the fit
    first = fit_utility_cached(_fast(), logs_unlogged.X, logs_unlogged.feedback)
    other = fit_utility_cached(_fast(**change), logs_unlogged.X, logs_unlogged.feedback)
    assert empty_cache == {"hits": 0, "misses": 2}
    assert other is not first


@pytest.mark.parametrize("clip", [None, (1, 99), [30.0, 70.0]])
def test_cache_reweights_one_fit_for_every_clip_when_propensities_are_logged(
    logs, empty_cache, clip
):
    first = fit_utility_cached(_fast(), logs.X, logs.feedback)  # clip=(5, 95)
    kept = first.quality_.copy()
    other = fit_utility_cached(_fast(clip=clip, cost_weight=0.4), logs.X, logs.feedback)
    assert empty_cache == {"hits": 1, "misses": 1}  # no second fit
    fresh = _fast(clip=clip).fit(logs.X, logs.feedback)
    assert other.clip == clip and other.cost_weight == 0.4
    assert other.clip_bounds_ == fresh.clip_bounds_
    for name in ("quality_", "cost_", "propensity_", "outcome_quality_", "outcome_cost_"):
        assert_allclose(getattr(other, name), getattr(fresh, name), rtol=0, atol=1e-12)
    assert other.overlap_.keys() == fresh.overlap_.keys()
    assert_array_equal(first.quality_, kept)  # the cached stage is untouched
    assert first.clip == (5, 95)
    # the clipped and unclipped estimates really differ: the test would see a mix-up
    assert not np.allclose(other.quality_, first.quality_)


@pytest.mark.parametrize(
    "fixture, params",
    [("logs_unlogged", {}), ("logs", {"use_logged_propensity": False})],
    ids=["estimated", "logged-but-unused"],
)
def test_cache_refits_for_another_clip_when_propensities_are_estimated(
    request, empty_cache, fixture, params
):
    logs = request.getfixturevalue(fixture)
    fit_utility_cached(_fast(**params), logs.X, logs.feedback)
    fit_utility_cached(_fast(clip=None, **params), logs.X, logs.feedback)
    assert empty_cache == {"hits": 0, "misses": 2}


def test_cache_miss_on_other_data(logs, empty_cache):
    fit_utility_cached(_fast(), logs.X, logs.feedback)
    fb = logs.feedback.copy()
    fb["quality"][0] = 1.0 - fb["quality"][0]
    fit_utility_cached(_fast(), logs.X, fb)
    assert empty_cache["misses"] == 2 and empty_cache["hits"] == 0


def test_cache_never_stores_stages_seeded_by_a_random_state_instance(logs, empty_cache):
    """A RandomState is consumed as it is used: such stages are always refitted."""
    rs = np.random.RandomState(0)
    a = _fast(random_state=rs)
    b = _fast(random_state=rs)
    assert fit_utility_cached(a, logs.X, logs.feedback) is a
    assert fit_utility_cached(b, logs.X, logs.feedback) is b
    assert hasattr(b, "quality_")
    assert empty_cache == {"hits": 0, "misses": 0}
    assert len(_utility._cache) == 0


def test_cache_shares_one_draw_for_random_state_none(logs, empty_cache):
    """random_state=None is memoized (since c2ecbbd): grid-search candidates share
    the first draw of the folds (common random numbers) until the cache is cleared."""
    first = fit_utility_cached(_fast(random_state=None), logs.X, logs.feedback)
    second = fit_utility_cached(_fast(random_state=None), logs.X, logs.feedback)
    assert second.quality_ is first.quality_
    assert empty_cache == {"hits": 1, "misses": 1}
    clear_utility_cache()
    third = fit_utility_cached(_fast(random_state=None), logs.X, logs.feedback)
    assert third is not first
    # a fresh draw of the folds: the cross-fitted estimates differ
    assert not np.allclose(third.quality_, first.quality_)


def test_cache_is_bounded(logs, empty_cache):
    X, fb = logs.X[:300], logs.feedback[:300]
    for seed in range(_utility._CACHE_SIZE + 2):
        fit_utility_cached(_fast(random_state=seed, cv=2), X, fb)
    assert len(_utility._cache) == _utility._CACHE_SIZE
    # the oldest entry was evicted: fitting it again is a miss
    fit_utility_cached(_fast(random_state=0, cv=2), X, fb)
    assert empty_cache["hits"] == 0


def test_cache_hit_honours_callers_cost_weight(logs, empty_cache):
    fit_utility_cached(_fast(cost_weight=0.0), logs.X, logs.feedback)
    hit = fit_utility_cached(_fast(cost_weight=1.0), logs.X, logs.feedback)
    assert empty_cache["hits"] == 1
    assert_allclose(hit.utilities(), hit.quality_ - 1.0 * hit.cost_)


def test_small_arm_warning_points_at_the_callers_line_and_names_each_model_once():
    from sklearn.linear_model import LogisticRegression, Ridge

    rng = np.random.default_rng(0)
    n = 200
    X = rng.normal(size=(n, 3))
    t = np.array(["a"] * 190 + ["b"] * 6 + ["c"] * 4)
    dr = DoublyRobustUtility(quality_model=Ridge(), cost_model=Ridge(),
                             propensity=LogisticRegression(), random_state=0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        dr.fit(X, t, rng.normal(size=n), cost=rng.random(n))
    small = [w for w in caught if issubclass(w.category, SmallArmWarning)]
    assert len(small) == 1
    assert small[0].filename == __file__  # not scikit-learn's base.py
    msg = str(small[0].message)
    assert msg.count("'c' (") == 1 and msg.count("'b' (") == 1
    assert "rows in the cross-fitting folds" in msg
