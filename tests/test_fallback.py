"""RegretRouter's fallback to the best single model, on worlds with known truth.

The worlds use Gaussian outcome noise (sd 0.1; conftest's ``gaussian_world``)
so that the doubly robust check, which values decisions without clipping the
recorded propensities, has the power to see a real routing edge on 3,000 logs.
Where the features carry no information, the truth-level checks use logs of a
randomised A/B test: with task-confounded logs and useless features the outcome
models cannot help, and which single model is best is itself uncertain.
"""

import pickle
import warnings
from statistics import NormalDist

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.utils._param_validation import InvalidParameterError

from sklearn_causal_routing import (
    OverlapWarning,
    RegretRouter,
    SingleModelRouter,
    make_feedback,
    overlap_diagnostics,
)
from sklearn_causal_routing._policy import single_bounds
from sklearn_causal_routing.exceptions import FallbackWarning

CW = 0.25
FAST = dict(cost_weight=CW, hidden_layer_sizes=(32,), max_epochs=15, random_state=0)
REPORT_FIELDS = {
    "policy_value", "best_single", "best_single_value", "gain", "gain_lcb",
    "logging_value", "logging_gain", "logging_gain_lcb", "confidence", "n_folds",
    "fell_back", "single_values", "single_values_lcb", "single_support",
}


def _fit(router, X, fb):
    """Fit, returning the router and the FallbackWarnings raised (others ignored)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("ignore")
        warnings.simplefilter("always", FallbackWarning)
        router.fit(X, fb)
    return router, [w for w in caught if issubclass(w.category, FallbackWarning)]


@pytest.fixture(scope="module")
def world_data(gaussian_world):
    train = gaussian_world.sample(3000, random_state=100)
    rng = np.random.default_rng(0)
    return {
        "train": train,
        "logs": train.log("confounded", random_state=200),
        "ab_logs": train.log("uniform", random_state=201),
        "test": gaussian_world.sample(4000, random_state=7),
        # features that carry no information about which model wins
        "X_noise": rng.normal(size=train.X.shape),
        "X_noise_test": rng.normal(size=(4000, train.X.shape[1])),
    }


@pytest.fixture(scope="module")
def learned(world_data):
    logs = world_data["logs"]
    return _fit(RegretRouter(**FAST), logs.X, logs.feedback)


@pytest.fixture(scope="module")
def noise(world_data):
    d = world_data
    return _fit(RegretRouter(**FAST), d["X_noise"], d["ab_logs"].feedback)


@pytest.fixture(scope="module")
def noise_off(world_data):
    d = world_data
    return _fit(RegretRouter(fallback=None, **FAST), d["X_noise"], d["ab_logs"].feedback)


# --- (1) a real, learnable edge: no fallback -------------------------------------


def test_learnable_world_does_not_fall_back(learned, world_data):
    router, caught = learned
    test = world_data["test"]
    assert caught == []
    assert router.fallback_ is None and not router.fallback_report_.fell_back
    assert router.fallback_report_.gain_lcb > 0
    value = test.value(router.predict(test.X), CW)
    best_single = test.best_single_model(CW)[1]
    # Seeds fixed; the router gains ~0.1 on the truth here.
    assert value >= best_single + 0.05, (value, best_single)
    np.testing.assert_array_equal(router.predict(test.X), router.policy_predict(test.X))


# --- (2) no information in the features: fallback -----------------------------------


def test_uninformative_features_fall_back_to_the_best_single_model(noise, world_data):
    router, caught = noise
    test, X_test = world_data["test"], world_data["X_noise_test"]
    report = router.fallback_report_
    assert report.fell_back and router.fallback_ == report.best_single
    assert len(caught) == 1
    message = str(caught[0].message)
    assert repr(report.best_single) in message
    assert f"{report.gain:.4g}" in message and f"{report.gain_lcb:.4g}" in message
    assert "fallback=None" in message

    np.testing.assert_array_equal(router.predict(X_test), np.full(len(X_test), router.fallback_))
    proba = router.predict_proba(X_test[:5])
    expected = np.zeros((5, len(router.classes_)))
    expected[:, list(router.classes_).index(router.fallback_)] = 1.0
    np.testing.assert_array_equal(proba, expected)
    np.testing.assert_array_equal(router.decision_function(X_test[:5]), expected)

    # The fallen-back router is, on the truth, as good as the best single model
    # (up to which model the logs crowned), and no worse than the policy it replaced.
    value = test.value(router.predict(X_test), CW)
    best_single = test.best_single_model(CW)[1]
    assert value >= best_single - 0.02, (value, best_single)
    assert value >= test.value(router.policy_predict(X_test), CW)


def test_uninformative_features_on_confounded_logs_fall_back(world_data):
    d = world_data
    router, caught = _fit(RegretRouter(**FAST), d["X_noise"], d["logs"].feedback)
    assert router.fallback_report_.fell_back and len(caught) == 1
    X_test = d["X_noise_test"]
    np.testing.assert_array_equal(router.predict(X_test), np.full(len(X_test), router.fallback_))
    # the kept policy is still there, and routes to several models
    assert len(np.unique(router.policy_predict(X_test))) > 1


def test_score_follows_the_fallback(noise, world_data):
    router, _ = noise
    heldout = world_data["test"].log("confounded", random_state=300)
    X = world_data["X_noise_test"]
    single = SingleModelRouter(router.fallback_, cost_weight=CW).fit(X, heldout.feedback)
    assert router.score(X, heldout.feedback) == pytest.approx(single.score(X, heldout.feedback))


def test_the_check_does_not_touch_the_trained_policy(noise, noise_off, world_data):
    on, off = noise[0], noise_off[0]
    X_test = world_data["X_noise_test"]
    assert on.utility_scale_ == off.utility_scale_
    np.testing.assert_array_equal(on.policy_predict(X_test), off.policy_predict(X_test))
    np.testing.assert_array_equal(on.predict_proba(X_test[:1]).max(), 1.0)


# --- (3) fallback=None ---------------------------------------------------------------


def test_fallback_none_never_falls_back(noise_off, world_data):
    router, caught = noise_off
    X_test = world_data["X_noise_test"]
    assert caught == []
    assert router.fallback_ is None and router.fallback_report_ is None
    np.testing.assert_array_equal(router.predict(X_test), router.policy_predict(X_test))
    np.testing.assert_allclose(router.predict_proba(X_test[:5]).sum(axis=1), 1.0, rtol=1e-6)


# --- (4) the report ------------------------------------------------------------------


def test_report_fields_with_recorded_propensities(learned, world_data):
    router, _ = learned
    fb = world_data["logs"].feedback
    r = router.fallback_report_
    assert set(r) == REPORT_FIELDS
    assert r.confidence == 0.95 and r.n_folds == 3
    assert r.best_single in router.classes_
    best = int(np.argmax(r.single_values_lcb))
    assert r.best_single == router.classes_[best]
    assert r.best_single_value == r.single_values[best]
    assert (r.single_values_lcb < r.single_values).all()
    assert r.gain == pytest.approx(r.policy_value - r.best_single_value)
    assert r.gain_lcb < r.gain
    assert r.fell_back == (r.gain_lcb <= 0)
    assert r.logging_value == pytest.approx(np.mean(fb["quality"] - CW * fb["cost"]))
    assert r.logging_gain == pytest.approx(r.policy_value - r.logging_value)
    assert r.logging_gain_lcb < r.logging_gain
    # the best single model of the (unclipped) DR check is the true best here
    assert r.best_single == world_data["test"].best_single_model(CW)[0]


def test_report_support_is_each_models_effective_rows(learned, world_data):
    router, _ = learned
    r = router.fallback_report_
    fb = world_data["logs"].feedback
    # the check's DR terms use the logged propensities, unclipped
    action = np.searchsorted(router.classes_, fb["action"])
    expected = overlap_diagnostics(fb["propensity"], action, router.classes_)
    np.testing.assert_allclose(r.single_support, expected.effective_sample_size)


def test_thin_support_bounds_keep_their_confidence():
    """A model logged on 1,400 rows with propensity 0.3 and, later, only through a
    0.0018 exploration share on 2,800 more (about 5 rows of weight 555): its DR terms
    are heavy-tailed. With an outcome model that is off (0.8 for a true mean of 0.5),
    the plain normal 95% bound lies above the truth in about 12% of draws; widened for
    the thin support (effective sample size about 10), in about 5%."""
    rng = np.random.default_rng(0)
    draws, z, truth, mu = 2000, 1.645, 0.5, 0.8
    p = np.r_[np.full(1400, 0.3), np.full(2800, 0.0018)]
    logged = rng.random((draws, p.size)) < p
    y = (rng.random((draws, p.size)) < truth).astype(float)
    V = mu + logged * (y - mu) / p
    mean, se = V.mean(axis=1), V.std(axis=1, ddof=1) / np.sqrt(p.size)
    w = np.where(logged, 1 / p, 0.0)
    support = w.sum(axis=1) ** 2 / (w**2).sum(axis=1)
    assert np.median(support) < 30
    plain = np.mean(mean - z * se > truth)
    widened = np.mean(single_bounds(mean, se, support, 0.5, z) > truth)
    assert plain > 0.09 and widened < 0.07, (plain, widened)


def test_the_check_widens_the_bounds_of_thinly_supported_models(learned):
    router, _ = learned
    r = router.fallback_report_
    rows = router.history_
    V = rows.eval_quality - CW * rows.eval_cost
    se = np.array([np.std(V[:, t], ddof=1) for t in range(V.shape[1])]) / np.sqrt(len(V))
    spread = np.std(rows.logged_quality - CW * rows.logged_cost)
    z = NormalDist().inv_cdf(router.fallback_confidence)
    expected = single_bounds(r.single_values, se, r.single_support, spread, z)
    np.testing.assert_allclose(r.single_values_lcb, expected)
    # with every model supported here, they are the plain normal bounds
    assert (r.single_support >= 30).all()
    np.testing.assert_allclose(r.single_values_lcb, r.single_values - z * se)


def test_report_without_recorded_propensities(world_data):
    d = world_data
    logs = d["train"].log("confounded", random_state=200, record_propensity=False)
    router, caught = _fit(RegretRouter(**FAST), logs.X, logs.feedback)
    r = router.fallback_report_
    assert set(r) == REPORT_FIELDS
    assert np.isnan(r.logging_value) and np.isnan(r.logging_gain)
    assert np.isnan(r.logging_gain_lcb)
    assert r.fell_back == (r.gain_lcb <= 0) == bool(caught)
    # estimated propensities: the check values decisions with the stage's own U
    np.testing.assert_allclose(r.single_values, router.constant_values_)
    assert r.best_single == router.classes_[np.argmax(r.single_values_lcb)]


def test_a_better_logging_rule_does_not_make_the_router_fall_back(gaussian_world):
    # A logging rule that peeked at each query's realised outcomes beats any
    # router that sees only the features; the router still beats the best single
    # model, so falling back to that model would only lose value.
    def peek(table):
        z = 5.0 * (table.quality - CW * table.cost)
        p = np.exp(z - z.max(axis=1, keepdims=True))
        return p / p.sum(axis=1, keepdims=True)

    train = gaussian_world.sample(2000, random_state=0)
    logs = train.log(peek, random_state=0)
    router, caught = _fit(RegretRouter(fallback_confidence=0.9, **FAST), logs.X, logs.feedback)
    r = router.fallback_report_
    assert r.confidence == 0.9
    assert r.logging_gain_lcb < 0 < r.gain_lcb, r
    assert not r.fell_back and router.fallback_ is None and caught == []


# --- (5) parameter validation --------------------------------------------------------


@pytest.fixture(scope="module")
def tiny():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(12, 3))
    fb = make_feedback(np.array(["a", "b", "c"] * 4), rng.normal(size=12))
    return X, fb


@pytest.mark.parametrize(
    "params, name",
    [
        ({"fallback": "x"}, "fallback"),
        ({"fallback": "best"}, "fallback"),
        ({"fallback_confidence": 1.5}, "fallback_confidence"),
        ({"fallback_confidence": 0.0}, "fallback_confidence"),
        ({"fallback_cv": 1}, "fallback_cv"),
        ({"fallback_cv": 2.5}, "fallback_cv"),
    ],
)
def test_bad_fallback_parameters_give_sklearns_message(tiny, params, name):
    X, fb = tiny
    message = rf"The '{name}' parameter of RegretRouter must be"
    with pytest.raises(InvalidParameterError, match=message):
        RegretRouter(**params).fit(X, fb)


def test_more_folds_than_rows_names_the_parameter(tiny):
    X, fb = tiny
    with pytest.raises(ValueError, match=r"fallback_cv=20 .* got 12.*fallback=None"):
        RegretRouter(fallback_cv=20).fit(X, fb)


def test_fallback_parameters_are_params():
    router = RegretRouter(fallback=None, fallback_confidence=0.9, fallback_cv=5)
    params = clone(router).get_params()
    got = params["fallback"], params["fallback_confidence"], params["fallback_cv"]
    assert got == (None, 0.9, 5)


# --- (6) clone and pickle --------------------------------------------------------------


def test_pickle_and_clone_of_a_fallen_back_router(noise, world_data):
    router, _ = noise
    d = world_data
    X_test = d["X_noise_test"]
    restored = pickle.loads(pickle.dumps(router))
    assert restored.fallback_ == router.fallback_
    np.testing.assert_array_equal(restored.predict(X_test), router.predict(X_test))
    np.testing.assert_array_equal(restored.predict_proba(X_test), router.predict_proba(X_test))
    np.testing.assert_array_equal(restored.policy_predict(X_test), router.policy_predict(X_test))

    refit, caught = _fit(clone(router), d["X_noise"], d["ab_logs"].feedback)
    assert len(caught) == 1 and refit.fallback_ == router.fallback_
    np.testing.assert_equal(dict(refit.fallback_report_), dict(router.fallback_report_))
    np.testing.assert_array_equal(refit.predict(X_test), router.predict(X_test))


@pytest.fixture(autouse=True)
def _quiet_overlap():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", OverlapWarning)
        yield
