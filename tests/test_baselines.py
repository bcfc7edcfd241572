"""Tests of the reference routers in sklearn_causal_routing.baselines."""

import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.base import clone
from sklearn.dummy import DummyRegressor
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge
from sklearn.model_selection import GridSearchCV, KFold
from sklearn.neighbors import KNeighborsRegressor
from sklearn.utils._param_validation import InvalidParameterError

from sklearn_causal_routing import (
    CarrotRouter,
    DecoupledRouter,
    DoublyRobustUtility,
    ImitationRouter,
    KNNRouter,
    OverlapWarning,
    PropensityModel,
    SingleModelRouter,
    SmallArmWarning,
    make_feedback,
)
from sklearn_causal_routing.metrics import policy_value


# --------------------------------------------------------------------------- #
# DecoupledRouter
# --------------------------------------------------------------------------- #
@pytest.fixture(scope="module")
def linear_logs():
    """Two models with exactly linear quality and constant cost.

    quality_a = 1 + 2 x0, quality_b = 3 - x1; cost_a = 0.1, cost_b = 1.0.
    """
    rng = np.random.default_rng(0)
    n = 200
    X = rng.normal(size=(n, 2))
    t = rng.choice(["a", "b"], size=n)
    qa, qb = 1 + 2 * X[:, 0], 3 - X[:, 1]
    q = np.where(t == "a", qa, qb)
    c = np.where(t == "a", 0.1, 1.0)
    X_new = rng.normal(size=(50, 2))
    truth = {
        "a": (1 + 2 * X_new[:, 0], np.full(50, 0.1)),
        "b": (3 - X_new[:, 1], np.full(50, 1.0)),
    }
    return X, make_feedback(t, q, cost=c, propensity=np.full(n, 0.5)), X_new, truth


@pytest.mark.parametrize("cost_weight", [0.0, 0.5, 3.0])
def test_decoupled_recovers_per_model_regressions(linear_logs, cost_weight):
    X, fb, X_new, truth = linear_logs
    router = DecoupledRouter(LinearRegression(), LinearRegression(), cost_weight=cost_weight)
    router.fit(X, fb)
    assert_array_equal(router.classes_, ["a", "b"])
    expected = np.c_[
        truth["a"][0] - cost_weight * truth["a"][1],
        truth["b"][0] - cost_weight * truth["b"][1],
    ]
    U = router.predict_utility(X_new)
    assert_allclose(U, expected, atol=1e-8)
    assert_array_equal(router.predict(X_new), np.array(["a", "b"])[np.argmax(expected, axis=1)])
    proba = router.predict_proba(X_new)
    assert proba.shape == (50, 2)
    assert set(np.unique(proba)) <= {0.0, 1.0}
    assert_array_equal(proba.sum(axis=1), 1.0)
    assert_array_equal(router.classes_[proba.argmax(axis=1)], router.predict(X_new))
    # constant costs are stored as constants, not regressions
    assert router.cost_models_ == [0.1, 1.0]


def test_decoupled_cost_weight_shifts_decisions_to_cheap_model(linear_logs):
    X, fb, X_new, _ = linear_logs
    share_a = [
        np.mean(DecoupledRouter(LinearRegression(), LinearRegression(), cost_weight=cw)
                .fit(X, fb).predict(X_new) == "a")
        for cw in (0.0, 1.0, 20.0)
    ]
    assert share_a[0] < share_a[1] < share_a[2] == 1.0


def test_decoupled_score_is_policy_value_of_its_decisions(logs):
    router = DecoupledRouter(Ridge(), Ridge(), cost_weight=0.25).fit(logs.X, logs.feedback)
    expected = policy_value(router.predict(logs.X), logs.X, logs.feedback, cost_weight=0.25)
    assert router.score(logs.X, logs.feedback) == pytest.approx(expected)


def test_decoupled_default_models_and_clone(logs):
    router = DecoupledRouter(cost_weight=0.5).fit(logs.X, logs.feedback)
    assert router.quality_model is None and router.cost_model is None
    assert type(router.quality_models_[0]).__name__ == "RidgeCV"
    assert len(router.quality_models_) == len(router.cost_models_) == 4
    again = clone(router).fit(logs.X, logs.feedback)
    assert_array_equal(router.predict(logs.X), again.predict(logs.X))
    assert router.n_features_in_ == 16


def test_decoupled_small_arm_falls_back_to_mean():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(60, 2))
    t = np.array(["a", "b"] * 30, dtype="<U4")
    t[:3] = "rare"
    q = rng.normal(size=60)
    q[:3] = [1.0, 2.0, 6.0]
    with pytest.warns(SmallArmWarning, match=r"rare'\)? \(3 rows\)"):
        router = DecoupledRouter(LinearRegression(), LinearRegression()).fit(X, t, q)
    j = list(router.classes_).index("rare")
    assert router.quality_models_[j] == pytest.approx(3.0)
    assert_allclose(router.predict_utility(X)[:, j], 3.0)


# --------------------------------------------------------------------------- #
# SingleModelRouter
# --------------------------------------------------------------------------- #
@pytest.fixture(scope="module")
def confounded_two_models():
    """Easy queries (x0 < 0) mostly go to 'small', hard ones mostly to 'big'.

    P(grade = 1): small 0.9 on easy, 0.1 on hard (true mean 0.5);
                  big   0.8 on easy, 0.7 on hard (true mean 0.75).
    Logging: P(big | hard) = P(small | easy) = 0.9. The naive means are then
    about 0.82 for small and 0.71 for big: the naive choice is the worse model.
    """
    rng = np.random.default_rng(7)
    n = 3000
    X = rng.normal(size=(n, 2))
    hard = X[:, 0] > 0
    p_big = np.where(hard, 0.9, 0.1)
    big = rng.random(n) < p_big
    t = np.where(big, "big", "small")
    p_grade = np.where(big, np.where(hard, 0.7, 0.8), np.where(hard, 0.1, 0.9))
    q = (rng.random(n) < p_grade).astype(float)
    prop = np.where(big, p_big, 1 - p_big)
    true_means = {"big": np.mean(np.where(hard, 0.7, 0.8)), "small": np.mean(np.where(hard, 0.1, 0.9))}
    return X, make_feedback(t, q, propensity=prop), true_means


def test_single_model_picks_truly_best_where_naive_picks_worse(confounded_two_models):
    X, fb, true_means = confounded_two_models
    naive = {m: fb["quality"][fb["action"] == m].mean() for m in ("big", "small")}
    assert naive["small"] > naive["big"] + 0.05  # the naive choice would be 'small'
    assert true_means["big"] > true_means["small"] + 0.2
    router = SingleModelRouter().fit(X, fb)
    assert router.model_ == "big"
    assert_array_equal(router.classes_, ["big", "small"])
    # the estimated values are the DR means, near the truth (SE ~0.02 here)
    assert_allclose(router.values_, [true_means["big"], true_means["small"]], atol=0.08)
    assert_array_equal(router.predict(X[:4]), ["big"] * 4)


def test_single_model_with_custom_utility(confounded_two_models):
    X, fb, _ = confounded_two_models
    utility = DoublyRobustUtility(method="ipw", clip=None, random_state=0)
    router = SingleModelRouter(utility=utility).fit(X, fb)
    assert router.model_ == "big"
    assert not hasattr(utility, "quality_")  # cloned, not fitted in place


def test_single_model_cost_weight_changes_choice(logs, table):
    """On the default world the truly best constant router is 'large' at cost
    weight 0 and 'small' at 1; the DR estimate agrees."""
    assert table.best_single_model(0.0)[0] == "large"
    assert table.best_single_model(1.0)[0] == "small"
    u = DoublyRobustUtility(quality_model=Ridge(), cost_model=Ridge(), random_state=0)
    assert SingleModelRouter(utility=u).fit(logs.X, logs.feedback).model_ == "large"
    assert SingleModelRouter(utility=u, cost_weight=1.0).fit(logs.X, logs.feedback).model_ == "small"


def test_single_model_fixed(logs):
    router = SingleModelRouter(model="medium", cost_weight=0.3).fit(logs.X, logs.feedback)
    assert router.model_ == "medium" and router.values_ is None
    pred = router.predict(logs.X[:5])
    assert_array_equal(pred, ["medium"] * 5)
    assert pred.dtype == router.classes_.dtype
    proba = router.predict_proba(logs.X[:5])
    assert_array_equal(proba, np.tile([0.0, 1.0, 0.0, 0.0], (5, 1)))  # sorted: large, medium, ...
    expected = policy_value(np.full(2000, "medium"), logs.X, logs.feedback, cost_weight=0.3)
    assert router.score(logs.X, logs.feedback) == pytest.approx(expected)


def test_single_model_int_labels():
    rng = np.random.default_rng(2)
    X = rng.normal(size=(90, 2))
    t = np.tile([3, 5, 8], 30)
    fb = make_feedback(t, rng.normal(size=90), propensity=np.full(90, 1 / 3))
    router = SingleModelRouter(model=5).fit(X, fb)
    assert_array_equal(router.predict(X[:2]), [5, 5])
    assert router.predict(X[:2]).dtype.kind == "i"
    assert_array_equal(router.predict_proba(X[:1]), [[0.0, 1.0, 0.0]])


@pytest.mark.parametrize("model", ["gpt-5", "Large", 3])
def test_single_model_unknown_label(logs, model):
    with pytest.raises(ValueError, match=r"model contains model label\(s\).*not among the models in the logs"):
        SingleModelRouter(model=model).fit(logs.X, logs.feedback)


def test_routers_are_not_classifiers():
    """Routers must not be ClassifierMixin: sklearn would stratify on the
    structured feedback."""
    from sklearn.base import is_classifier

    for router in (DecoupledRouter, SingleModelRouter, ImitationRouter, CarrotRouter, KNNRouter):
        assert not is_classifier(router())
        assert router().__sklearn_tags__().target_tags.required
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", OverlapWarning)
        tags = SingleModelRouter().__sklearn_tags__()
    assert tags.target_tags.required


# --------------------------------------------------------------------------- #
# Shared by the new baselines
# --------------------------------------------------------------------------- #
NEW_ROUTERS = {
    "imitation": lambda **kw: ImitationRouter(LogisticRegression(max_iter=500), **kw),
    "carrot": lambda **kw: CarrotRouter(**kw),
    "carrot-dr": lambda **kw: CarrotRouter(correction="dr", **kw),
    "knn": lambda **kw: KNNRouter(**kw),
    "knn-shared": lambda **kw: KNNRouter(neighborhood="shared", **kw),
}


@pytest.fixture(autouse=True)
def _quiet_overlap():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", OverlapWarning)
        yield


@pytest.fixture(scope="module")
def test_table(world):
    """Fresh queries of the default world, to score decisions against the truth."""
    return world.sample(2000, random_state=123)


@pytest.fixture(scope="module")
def gaussian_test_table(gaussian_world):
    return gaussian_world.sample(2000, random_state=123)


@pytest.mark.parametrize("name", sorted(NEW_ROUTERS))
def test_new_router_interface(logs, name):
    router = NEW_ROUTERS[name](cost_weight=0.2)
    with pytest.raises(NotFittedError):
        router.predict(logs.X[:2])
    router.fit(logs.X, logs.feedback)
    assert_array_equal(router.classes_, ["large", "medium", "small", "tiny"])
    assert router.n_features_in_ == logs.X.shape[1]
    pred = router.predict(logs.X)
    assert pred.shape == (len(logs.X),) and pred.dtype == router.classes_.dtype
    proba = router.predict_proba(logs.X)
    assert proba.shape == (len(logs.X), 4)
    assert_allclose(proba.sum(axis=1), 1.0)
    assert_array_equal(router.classes_[router.decision_function(logs.X).argmax(axis=1)], pred)
    # score is the evaluator's off-policy value of predict, at the router's cost weight
    expected = policy_value(pred, logs.X, logs.feedback, cost_weight=0.2)
    assert router.score(logs.X, logs.feedback) == pytest.approx(expected)
    # the separate form fits the same router
    fb = logs.feedback
    again = clone(router).fit(logs.X, fb["action"], fb["quality"], cost=fb["cost"],
                              propensity=fb["propensity"])
    assert_array_equal(again.predict(logs.X), pred)
    with pytest.raises(ValueError, match="X has 5 features, but .* is expecting 16"):
        router.predict(logs.X[:3, :5])


@pytest.mark.parametrize("name", sorted(NEW_ROUTERS))
def test_new_router_input_errors(logs, name):
    X, fb = logs.X, logs.feedback
    single = make_feedback(np.full(len(X), "large"), fb["quality"])
    with pytest.raises(ValueError, match="a single model .* at least two"):
        NEW_ROUTERS[name]().fit(X, single)
    X_nan = X.copy()
    X_nan[3, 2] = np.nan
    with pytest.raises(ValueError, match="Input X contains NaN"):
        NEW_ROUTERS[name]().fit(X_nan, fb)
    q = fb["quality"].copy()
    q[0] = np.nan
    with pytest.raises(ValueError, match=r"y \(quality\)"):
        NEW_ROUTERS[name]().fit(X, fb["action"], q)
    with pytest.raises(InvalidParameterError, match="'cost_weight' parameter"):
        NEW_ROUTERS[name](cost_weight=-1.0).fit(X, fb)
    router = NEW_ROUTERS[name]().fit(X[:1000], fb[:1000])
    # Held-out logs in which a model the router picks never appears: its
    # value cannot be estimated there, and the error names the label.
    labels, counts = np.unique(router.predict(X[1000:]), return_counts=True)
    favourite = labels[np.argmax(counts)]
    held_out = np.flatnonzero(fb["action"][1000:] != favourite) + 1000
    assert favourite in router.predict(X[held_out])
    with pytest.raises(ValueError, match=rf"decisions contains model label\(s\) \['{favourite}'\]"):
        router.score(X[held_out], fb[held_out])


@pytest.mark.parametrize("name", ["carrot", "carrot-dr", "knn", "knn-shared"])
def test_cost_weight_sweep_needs_no_refit(logs, name):
    fitted = NEW_ROUTERS[name](cost_weight=0.0).fit(logs.X, logs.feedback)
    quality, cost = fitted.predict_outcomes(logs.X)
    for cw in (0.1, 0.5, 2.0):
        fresh = NEW_ROUTERS[name](cost_weight=cw).fit(logs.X, logs.feedback)
        swept = fitted.set_params(cost_weight=cw)
        assert_allclose(swept.predict_utility(logs.X), quality - cw * cost)
        assert_array_equal(swept.predict(logs.X), fresh.predict(logs.X))
    # or for one call: predict(X, cost_weight=...), one weight or one per query
    fitted.set_params(cost_weight=0.0)
    at_half = NEW_ROUTERS[name](cost_weight=0.5).fit(logs.X, logs.feedback).predict(logs.X)
    assert_array_equal(fitted.predict(logs.X, cost_weight=0.5), at_half)
    per_query = np.where(np.arange(len(logs.X)) % 2 == 0, 0.0, 0.5)
    mixed = fitted.predict(logs.X, cost_weight=per_query)
    assert_array_equal(mixed[::2], fitted.predict(logs.X)[::2])
    assert_array_equal(mixed[1::2], at_half[1::2])
    assert_array_equal(fitted.predict_proba(logs.X, cost_weight=0.5).argmax(axis=1),
                       np.searchsorted(fitted.classes_, at_half))
    assert fitted.cost_weight == 0.0
    for bad in (-1.0, np.nan, [0.1, 0.2], "high"):
        with pytest.raises(ValueError, match="cost_weight must be a finite number >= 0, or an array of one value per query"):
            fitted.predict(logs.X, cost_weight=bad)


@pytest.mark.parametrize("name", sorted(NEW_ROUTERS))
def test_new_router_grid_search_over_cost_weight_and_pickle(logs, name):
    import pickle

    search = GridSearchCV(NEW_ROUTERS[name](), {"cost_weight": [0.0, 0.5]}, cv=KFold(2))
    search.fit(logs.X[:800], logs.feedback[:800])
    assert np.isfinite(search.best_score_)
    best = search.best_estimator_
    restored = pickle.loads(pickle.dumps(best))
    assert_array_equal(restored.predict_proba(logs.X[:50]), best.predict_proba(logs.X[:50]))


# --------------------------------------------------------------------------- #
# ImitationRouter
# --------------------------------------------------------------------------- #
def test_imitation_reproduces_a_near_deterministic_logger(table, test_table):
    logs = table.log("deterministic", epsilon=0.05, random_state=0)
    router = ImitationRouter(random_state=0).fit(logs.X, logs.feedback)
    P = test_table.logging_probabilities("deterministic", epsilon=0.05)
    logger_mode = test_table.models[P.argmax(axis=1)]
    decisions = router.predict(test_table.X)
    assert np.mean(decisions == logger_mode) > 0.97
    assert test_table.value(decisions) == pytest.approx(test_table.value(logger_mode), abs=0.01)
    # ... and the logger's value, up to its 5% exploration
    assert test_table.value(decisions) == pytest.approx(test_table.value(P), abs=0.03)


def test_imitation_copies_a_bad_logger_where_learning_from_outcomes_does_not(table, test_table):
    """A logger that mostly sends each task to its worst model: imitating it is
    far below the best single model, which the outcome-based routers beat."""

    def worst_first(t):
        means = t._task_means()
        P = np.full(means.shape, 0.1 / 3)
        P[np.arange(len(means)), means.argmin(axis=1)] = 0.9
        return P

    logs = table.log(worst_first, random_state=0)
    imitation = ImitationRouter(random_state=0).fit(logs.X, logs.feedback)
    best_single = test_table.best_single_model(0.0)[1]
    imitated = test_table.value(imitation.predict(test_table.X))
    assert imitated < best_single - 0.3
    carrot = CarrotRouter(correction="dr").fit(logs.X, logs.feedback)
    assert test_table.value(carrot.predict(test_table.X)) > best_single


def test_imitation_ignores_outcomes_and_cost_weight(logs):
    fb = logs.feedback
    est = LogisticRegression(max_iter=500)
    ref = ImitationRouter(est).fit(logs.X, fb).predict(logs.X)
    rng = np.random.default_rng(0)
    scrambled = make_feedback(fb["action"], rng.permutation(fb["quality"]), cost=rng.random(len(fb)))
    assert_array_equal(ImitationRouter(est, cost_weight=5.0).fit(logs.X, scrambled).predict(logs.X), ref)


def test_imitation_proba_is_the_propensity_model(logs):
    """The default classifier is the library's propensity default, so predict_proba
    is the same estimate of the logging rule as PropensityModel's."""
    router = ImitationRouter(random_state=3).fit(logs.X, logs.feedback)
    pm = PropensityModel(random_state=3).fit(logs.X, logs.t)
    assert_allclose(router.predict_proba(logs.X), pm.predict_proba(logs.X), rtol=1e-6)
    assert_array_equal(router.predict(logs.X), pm.predict(logs.X))
    assert type(router.estimator_).__name__ == "XGBClassifier"


def test_imitation_int_labels_and_estimator_check():
    rng = np.random.default_rng(4)
    X = rng.normal(size=(120, 2))
    t = np.where(X[:, 0] > 0, 7, 2)
    router = ImitationRouter(LogisticRegression()).fit(X, t, rng.random(120))
    assert_array_equal(router.classes_, [2, 7])
    assert np.mean(router.predict(X) == t) > 0.9
    with pytest.raises(InvalidParameterError, match="'estimator' parameter"):
        ImitationRouter(Ridge()).fit(X, t, rng.random(120))


# --------------------------------------------------------------------------- #
# CarrotRouter
# --------------------------------------------------------------------------- #
def test_carrot_without_correction_is_the_decoupled_router(logs):
    carrot = CarrotRouter(cost_weight=0.3).fit(logs.X, logs.feedback)
    decoupled = DecoupledRouter(cost_weight=0.3).fit(logs.X, logs.feedback)
    assert_allclose(carrot.predict_utility(logs.X), decoupled.predict_utility(logs.X))
    assert carrot.utility_ is None


def test_carrot_dr_regresses_the_pseudo_outcomes(logs):
    utility = DoublyRobustUtility(random_state=0)
    router = CarrotRouter(LinearRegression(), Ridge(alpha=2.0), correction="dr",
                          utility=utility).fit(logs.X, logs.feedback)
    U = router.utility_
    assert_allclose(U.quality_, utility.fit(logs.X, logs.feedback).quality_)
    quality, cost = router.predict_outcomes(logs.X[:40])
    assert_allclose(quality, LinearRegression().fit(logs.X, U.quality_).predict(logs.X[:40]))
    assert_allclose(cost, Ridge(alpha=2.0).fit(logs.X, U.cost_).predict(logs.X[:40]))
    # least squares on all rows: the mean prediction is the mean pseudo-outcome,
    # i.e. the DR estimate of each model's mean quality
    assert_allclose(router.predict_outcomes(logs.X)[0].mean(axis=0), U.quality_.mean(axis=0))


def test_carrot_dr_single_output_regressor_is_fitted_per_model(logs):
    hgb = HistGradientBoostingRegressor(max_iter=5, random_state=0)
    router = CarrotRouter(hgb, correction="dr").fit(logs.X, logs.feedback)
    assert isinstance(router.quality_models_, list) and len(router.quality_models_) == 4
    assert type(router.cost_models_).__name__ == "RidgeCV"  # multi-output default
    j = 2
    expected = clone(hgb).fit(logs.X, router.utility_.quality_[:, j]).predict(logs.X[:5])
    assert_allclose(router.predict_outcomes(logs.X[:5])[0][:, j], expected)


def test_carrot_dr_corrects_what_the_logger_biased(confounded_two_models):
    """With constant regressors the uncorrected router is the naive per-model
    mean, which under this logger picks the truly worse model for every query;
    the DR-corrected one picks the better model."""
    X, fb, true_means = confounded_two_models
    naive = CarrotRouter(DummyRegressor(), DummyRegressor()).fit(X, fb)
    corrected = CarrotRouter(DummyRegressor(), DummyRegressor(), correction="dr").fit(X, fb)
    assert (naive.predict(X) == "small").all()
    assert (corrected.predict(X) == "big").all()
    estimated = corrected.predict_outcomes(X[:1])[0][0]
    assert_allclose(estimated, [true_means["big"], true_means["small"]], atol=0.08)
    assert true_means["big"] - true_means["small"] > 0.2


def test_carrot_dr_beats_uncorrected_on_confounded_world(gaussian_logs, gaussian_test_table):
    """Task-confounded logs of the simulated world: at every cost weight the DR
    learner routes better than the regressions on observed rows (true value on
    fresh queries; measured gain 0.010 to 0.019)."""
    uncorrected = CarrotRouter().fit(gaussian_logs.X, gaussian_logs.feedback)
    corrected = CarrotRouter(correction="dr").fit(gaussian_logs.X, gaussian_logs.feedback)
    gains = []
    for cw in (0.0, 0.1, 0.3, 0.6):
        value = {
            name: gaussian_test_table.value(
                r.set_params(cost_weight=cw).predict(gaussian_test_table.X), cost_weight=cw
            )
            for name, r in (("none", uncorrected), ("dr", corrected))
        }
        gains.append(value["dr"] - value["none"])
    assert min(gains) > 0.005 and np.mean(gains) > 0.01, gains


def test_carrot_grid_search_reuses_one_utility_fit(logs, monkeypatch):
    from sklearn_causal_routing import clear_utility_cache

    fits = []
    original = DoublyRobustUtility.fit

    def counting_fit(self, X, y, *args, **kwargs):
        if self.random_state == 11:
            fits.append(self.clip)
        return original(self, X, y, *args, **kwargs)

    monkeypatch.setattr(DoublyRobustUtility, "fit", counting_fit)
    clear_utility_cache()
    search = GridSearchCV(
        CarrotRouter(correction="dr", utility=DoublyRobustUtility(random_state=11)),
        {"cost_weight": [0.0, 0.3, 1.0], "quality_model": [None, Ridge()]},
        cv=KFold(2),
    ).fit(logs.X, logs.feedback)
    assert len(fits) == 3  # one per fold plus the refit, not 6 per fold
    assert search.best_params_["cost_weight"] in (0.0, 0.3, 1.0)


def test_carrot_nested_utility_parameters(logs):
    with pytest.raises(ValueError, match=r"CarrotRouter\(utility=DoublyRobustUtility\(\)\)"):
        CarrotRouter(correction="dr").set_params(utility__clip=None)
    router = CarrotRouter(correction="dr", utility=DoublyRobustUtility(random_state=0))
    router.set_params(utility__clip=None).fit(logs.X, logs.feedback)
    assert router.utility_.clip_bounds_ is None
    with pytest.raises(InvalidParameterError, match="'correction' parameter"):
        CarrotRouter(correction="ipw").fit(logs.X, logs.feedback)


# --------------------------------------------------------------------------- #
# KNNRouter
# --------------------------------------------------------------------------- #
@pytest.fixture(scope="module")
def line_logs():
    """Six queries on a line, two models; distances are easy to read off."""
    X = np.array([[0.0], [1.0], [2.0], [3.0], [10.0], [11.0]])
    t = np.array(["a", "b", "a", "b", "a", "a"])
    q = np.array([1.0, 0.0, 0.5, 1.0, 0.2, 0.4])
    c = np.array([1.0, 2.0, 1.0, 2.0, 1.0, 1.0])
    return X, make_feedback(t, q, cost=c)


def test_knn_per_model_neighbours_by_hand(line_logs):
    X, fb = line_logs
    router = KNNRouter(2).fit(X, fb)
    quality, cost = router.predict_outcomes([[1.4], [10.4]])
    # x=1.4: a's nearest served rows are x=2 (0.5), x=0 (1.0); b's: x=1 (0.0), x=3 (1.0)
    # x=10.4: a's are x=10 (0.2), x=11 (0.4); b's are x=3 and x=1
    assert_allclose(quality, [[0.75, 0.5], [0.3, 0.5]])
    assert_allclose(cost, [[1.0, 2.0], [1.0, 2.0]])
    distance = KNNRouter(2, weights="distance").fit(X, fb)
    # x=1.4, model a: weights 1/0.6 (x=2) and 1/1.4 (x=0)
    w = np.array([1 / 0.6, 1 / 1.4])
    assert distance.predict_outcomes([[1.4]])[0][0, 0] == pytest.approx(w @ [0.5, 1.0] / w.sum())
    # a query on a training point takes that point's outcome only
    assert distance.predict_outcomes([[2.0]])[0][0, 0] == pytest.approx(0.5)
    assert_array_equal(KNNRouter(2, cost_weight=1.0).fit(X, fb).predict([[1.4]]), ["a"])
    assert_array_equal(router.predict([[1.4]]), ["a"])


def test_knn_shared_neighbourhood_and_fallback(line_logs):
    X, fb = line_logs
    router = KNNRouter(2, neighborhood="shared").fit(X, fb)
    assert_allclose(router.quality_means_, [(1.0 + 0.5 + 0.2 + 0.4) / 4, 0.5])
    quality, cost = router.predict_outcomes([[1.4], [10.4]])
    # x=1.4: the 2 nearest overall are x=1 (b, 0.0) and x=2 (a, 0.5)
    # x=10.4: x=10 and x=11, both a; b has no neighbour and falls back to its mean
    assert_allclose(quality, [[0.5, 0.0], [0.3, 0.5]])
    assert_allclose(cost, [[1.0, 2.0], [1.0, 2.0]])
    assert len(router.neighbors_) == 1


@pytest.mark.parametrize("weights", ["uniform", "distance"])
def test_knn_per_model_matches_sklearn_neighbours_regression(logs, weights):
    ours = KNNRouter(7, weights=weights, cost_weight=0.4).fit(logs.X, logs.feedback)
    theirs = DecoupledRouter(
        KNeighborsRegressor(7, weights=weights), KNeighborsRegressor(7, weights=weights),
        cost_weight=0.4,
    ).fit(logs.X, logs.feedback)
    assert_allclose(ours.predict_utility(logs.X[:300]), theirs.predict_utility(logs.X[:300]))


def test_knn_callable_weights_and_metric(line_logs):
    X, fb = line_logs
    uniform = KNNRouter(2).fit(X, fb).predict_outcomes([[1.4]])[0]
    ones = KNNRouter(2, weights=lambda d: np.ones_like(d)).fit(X, fb).predict_outcomes([[1.4]])[0]
    assert_allclose(ones, uniform)
    bad = KNNRouter(2, weights=lambda d: d[:, :1]).fit(X, fb)
    with pytest.raises(ValueError, match="weights, a callable, must return"):
        bad.predict([[1.4]])
    manhattan = KNNRouter(2, metric="manhattan").fit(X, fb)
    assert_allclose(manhattan.predict_outcomes([[1.4]])[0], uniform)


def test_knn_beats_best_single_model_on_uniform_logs(uniform_logs, test_table):
    for cw in (0.0, 0.3):
        router = KNNRouter(30, cost_weight=cw).fit(uniform_logs.X, uniform_logs.feedback)
        value = test_table.value(router.predict(test_table.X), cost_weight=cw)
        assert value > test_table.best_single_model(cw)[1] + 0.04
        assert value < test_table.oracle_value(cw)


def test_knn_neighbour_count_errors_and_small_models(line_logs):
    X, fb = line_logs
    with pytest.raises(InvalidParameterError, match="'n_neighbors' parameter of KNNRouter"):
        KNNRouter(0).fit(X, fb)
    with pytest.raises(ValueError, match=r"n_neighbors=7 is larger than the number of "
                                         r"training rows \(6\).*KNNRouter\(n_neighbors=6\)"):
        KNNRouter(7).fit(X, fb)
    with pytest.warns(SmallArmWarning, match=r"fewer than n_neighbors=3.*'b' \(2 rows\)"):
        router = KNNRouter(3).fit(X, fb)
    assert_allclose(router.predict_outcomes([[100.0]])[0][0, 1], 0.5)  # b: both its rows
    with warnings.catch_warnings():
        warnings.simplefilter("error", SmallArmWarning)
        KNNRouter(3, neighborhood="shared").fit(X, fb)  # shared neighbourhoods: no warning
