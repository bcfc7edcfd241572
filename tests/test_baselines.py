"""Tests of the reference routers: DecoupledRouter and SingleModelRouter."""

import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.base import clone
from sklearn.linear_model import LinearRegression, Ridge

from sklearn_causal_routing import (
    DecoupledRouter,
    DoublyRobustUtility,
    OverlapWarning,
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
    with pytest.raises(ValueError, match=r"model contains model label\(s\).*known models"):
        SingleModelRouter(model=model).fit(logs.X, logs.feedback)


def test_routers_are_not_classifiers():
    """Routers must not be ClassifierMixin: sklearn would stratify on the
    structured feedback."""
    from sklearn.base import is_classifier

    assert not is_classifier(DecoupledRouter())
    assert not is_classifier(SingleModelRouter())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", OverlapWarning)
        tags = SingleModelRouter().__sklearn_tags__()
    assert tags.target_tags.required
