"""Bad input across PropensityModel, DoublyRobustUtility, the baselines and
make_feedback: each error has the right type and names the argument at fault."""

import re

import numpy as np
import pytest
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge
from sklearn.svm import LinearSVC
from sklearn.utils._param_validation import InvalidParameterError

from sklearn_causal_routing import (
    DecoupledRouter,
    DoublyRobustUtility,
    PropensityModel,
    SingleModelRouter,
    make_feedback,
)

N = 60


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(N, 3))
    t = np.array(["a", "b", "c"] * (N // 3))
    q = rng.normal(size=N)
    c = rng.random(N)
    p = np.full(N, 1 / 3)
    return X, t, q, c, p


def _dru():
    return DoublyRobustUtility(quality_model=Ridge(), cost_model=Ridge(),
                               propensity=LogisticRegression(), random_state=0)


ESTIMATORS = {
    "PropensityModel": lambda: PropensityModel(LogisticRegression()),
    "DoublyRobustUtility": _dru,
    "DecoupledRouter": lambda: DecoupledRouter(Ridge(), Ridge()),
    "SingleModelRouter": lambda: SingleModelRouter(utility=_dru()),
}
# the estimators that accept the separate form fit(X, t, quality, cost=..., propensity=...)
SEPARATE_FORM = [k for k in ESTIMATORS if k != "PropensityModel"]


def _feedback(t, q, c, p):
    """A feedback array built by hand, bypassing make_feedback's checks."""
    out = np.empty(len(t), dtype=[("action", "<U8"), ("quality", float), ("cost", float),
                                  ("propensity", float)])
    out["action"], out["quality"], out["cost"], out["propensity"] = t, q, c, p
    return out


# --------------------------------------------------------------------------- #
# shapes and lengths
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize("name", ESTIMATORS)
def test_mismatched_lengths(data, name):
    X, t, q, c, p = data
    fb = make_feedback(t[:-1], q[:-1], cost=c[:-1], propensity=p[:-1])
    with pytest.raises(ValueError, match=rf"X has {N} rows but the feedback y has {N - 1} entries"):
        ESTIMATORS[name]().fit(X, fb)


@pytest.mark.parametrize("name", SEPARATE_FORM)
@pytest.mark.parametrize(
    "field, match",
    [("quality", r"y \(quality\) has 59 entries but t has 60"),
     ("cost", r"cost has 59 entries but t has 60"),
     ("propensity", r"propensity has 59 entries but t has 60")],
)
def test_mismatched_lengths_separate_form(data, name, field, match):
    X, t, q, c, p = data
    kw = {"quality": q, "cost": c, "propensity": p}
    kw[field] = kw[field][:-1]
    with pytest.raises(ValueError, match=match):
        ESTIMATORS[name]().fit(X, t, kw.pop("quality"), **kw)


@pytest.mark.parametrize("name", ESTIMATORS)
def test_mismatched_labels_length_on_labels_only(data, name):
    X, t, q, c, p = data
    if name == "PropensityModel":
        with pytest.raises(ValueError, match=r"X has 60 rows but the feedback y has 59"):
            ESTIMATORS[name]().fit(X, t[:-1])
    else:
        with pytest.raises(ValueError, match=r"has 60 entries but t has 59"):
            ESTIMATORS[name]().fit(X, t[:-1], q)


@pytest.mark.parametrize("name", ESTIMATORS)
@pytest.mark.parametrize("value, match", [(np.nan, "Input X contains NaN"),
                                          (np.inf, "Input X contains infinity"),
                                          (-np.inf, "Input X contains infinity")])
def test_non_finite_X(data, name, value, match):
    X, t, q, c, p = data
    X = X.copy()
    X[5, 1] = value
    with pytest.raises(ValueError, match=match):
        ESTIMATORS[name]().fit(X, make_feedback(t, q, cost=c, propensity=p))


@pytest.mark.parametrize("name", ESTIMATORS)
def test_1d_X(data, name):
    X, t, q, c, p = data
    with pytest.raises(ValueError, match="Expected 2D array"):
        ESTIMATORS[name]().fit(X[:, 0], make_feedback(t, q, cost=c, propensity=p))


@pytest.mark.parametrize("name", ESTIMATORS)
def test_empty_input(data, name):
    X, t, q, c, p = data
    fb = make_feedback(t, q, cost=c, propensity=p)
    with pytest.raises(ValueError, match=r"0 sample\(s\)"):
        ESTIMATORS[name]().fit(X[:0], fb[:0])


def test_empty_feedback():
    with pytest.raises(ValueError, match="t is empty"):
        make_feedback([], [])


@pytest.mark.parametrize("name", ESTIMATORS)
def test_single_logged_model(data, name):
    X, t, q, c, p = data
    fb = make_feedback(np.full(N, "a"), q, cost=c, propensity=np.ones(N))
    with pytest.raises(ValueError, match="the logs contain a single model"):
        ESTIMATORS[name]().fit(X, fb)


def test_single_logged_model_message_prints_plain_label(data):
    X, t, q, c, p = data
    with pytest.raises(ValueError, match=r"a single model \(one class: 'a'\)"):
        PropensityModel(LogisticRegression()).fit(X, np.full(N, "a"))


@pytest.mark.parametrize("name", ESTIMATORS)
def test_wrong_number_of_features_at_predict(data, name):
    X, t, q, c, p = data
    est = ESTIMATORS[name]().fit(X, make_feedback(t, q, cost=c, propensity=p))
    with pytest.raises(ValueError, match=r"X has 2 features, but \w+ is expecting 3 features"):
        est.predict_proba(X[:, :2]) if hasattr(est, "predict_proba") else est.predict(X[:, :2])


# --------------------------------------------------------------------------- #
# non-finite outcomes
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize("name", SEPARATE_FORM)
@pytest.mark.parametrize("field, match", [("quality", r"y \(quality\) contains 1 NaN or infinite"),
                                          ("cost", r"cost contains 1 NaN or infinite")])
@pytest.mark.parametrize("value", [np.nan, np.inf])
def test_non_finite_outcomes_separate_form(data, name, field, match, value):
    X, t, q, c, p = data
    kw = {"quality": q.copy(), "cost": c.copy()}
    kw[field][7] = value
    with pytest.raises(ValueError, match=match + r".*row 7"):
        ESTIMATORS[name]().fit(X, t, kw["quality"], cost=kw["cost"])


@pytest.mark.parametrize("name", ESTIMATORS)
@pytest.mark.parametrize("field", ["quality", "cost"])
def test_non_finite_outcomes_in_hand_built_feedback(data, name, field):
    X, t, q, c, p = data
    fb = _feedback(t, q, c, p)
    fb[field][3] = np.nan
    with pytest.raises(ValueError, match=rf"y\['{field}'\] contains 1 NaN"):
        ESTIMATORS[name]().fit(X, fb)


@pytest.mark.parametrize("bad, match", [(["x", "y"], r"y \(quality\) must be numeric"),
                                        ([[1.0], [2.0]], r"y \(quality\) must be 1-D")])
def test_make_feedback_bad_quality(bad, match):
    with pytest.raises((TypeError, ValueError), match=match):
        make_feedback(["a", "b"], bad)


def test_make_feedback_bad_cost():
    with pytest.raises(TypeError, match="cost must be numeric"):
        make_feedback(["a", "b"], [1.0, 0.0], cost=["cheap", "dear"])


def test_make_feedback_2d_labels():
    with pytest.raises(ValueError, match=r"t must be 1-D.*shape \(2, 1\)"):
        make_feedback(np.array([["a"], ["b"]]), [1.0, 0.0])


def test_make_feedback_non_numeric_propensity_names_it():
    with pytest.raises((TypeError, ValueError), match="propensity"):
        make_feedback(["a", "b"], [1.0, 0.0], propensity=["high", "low"])


# --------------------------------------------------------------------------- #
# propensities outside (0, 1]
# --------------------------------------------------------------------------- #
BAD_PROPENSITIES = {
    "zero": (0.0, r"propensity must lie in \(0, 1\].*first 0.0 at row 4"),
    "negative": (-0.2, r"propensity must lie in \(0, 1\].*first -0.2 at row 4"),
    "above-one": (1.5, r"propensity must lie in \(0, 1\].*first 1.5 at row 4"),
    "inf": (np.inf, r"propensity must lie in \(0, 1\].*first inf at row 4"),
    "partly-nan": (np.nan, r"propensity is missing \(NaN\) for 1 of 60 rows"),
}


@pytest.mark.parametrize("case", BAD_PROPENSITIES)
def test_make_feedback_bad_propensity(data, case):
    X, t, q, c, p = data
    value, match = BAD_PROPENSITIES[case]
    p = p.copy()
    p[4] = value
    with pytest.raises(ValueError, match=match):
        make_feedback(t, q, cost=c, propensity=p)


@pytest.mark.parametrize("name", ESTIMATORS)
@pytest.mark.parametrize("case", BAD_PROPENSITIES)
def test_estimators_reject_bad_propensity(data, name, case):
    X, t, q, c, p = data
    value, match = BAD_PROPENSITIES[case]
    p = p.copy()
    p[4] = value
    with pytest.raises(ValueError, match=match):
        ESTIMATORS[name]().fit(X, _feedback(t, q, c, p))
    if name in SEPARATE_FORM:
        with pytest.raises(ValueError, match=match):
            ESTIMATORS[name]().fit(X, t, q, cost=c, propensity=p)


def test_propensity_one_is_allowed(data):
    X, t, q, c, p = data
    fb = make_feedback(t, q, propensity=np.ones(N))
    assert (fb["propensity"] == 1).all()


# --------------------------------------------------------------------------- #
# parameters
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize("method", ["DR", "aipw", None, 3])
def test_unknown_method(data, method):
    X, t, q, c, p = data
    with pytest.raises(InvalidParameterError, match="The 'method' parameter of DoublyRobustUtility"):
        DoublyRobustUtility(method=method).fit(X, t, q, propensity=p)
    assert issubclass(InvalidParameterError, ValueError)


@pytest.mark.parametrize(
    "clip, exc, match",
    [
        ("5-95", InvalidParameterError, "The 'clip' parameter of DoublyRobustUtility"),
        (5, InvalidParameterError, "The 'clip' parameter of DoublyRobustUtility"),
        ((95, 5), ValueError, r"clip must be a pair of percentiles .*got \(95, 5\)"),
        ((5, 5), ValueError, r"clip must be a pair of percentiles .*got \(5, 5\)"),
        ((-1, 50), ValueError, r"clip must be a pair .*0 <= low < high <= 100"),
        ((5, 101), ValueError, r"clip must be a pair .*0 <= low < high <= 100"),
        ((5, np.nan), ValueError, r"clip must be a pair"),
        ((5,), ValueError, r"clip must be None or a pair of percentiles .*got \(5,\)"),
        ((1, 50, 99), ValueError, r"clip must be None or a pair"),
        (("low", "high"), ValueError, r"clip must be None or a pair"),
    ],
)
def test_bad_clip(data, clip, exc, match):
    X, t, q, c, p = data
    with pytest.raises(exc, match=match):
        DoublyRobustUtility(clip=clip, quality_model=Ridge(), cost_model=Ridge()).fit(
            X, t, q, propensity=p)


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: DoublyRobustUtility(cv=1), "The 'cv' parameter of DoublyRobustUtility"),
        (lambda: DoublyRobustUtility(cv="three"), "The 'cv' parameter"),
        (lambda: DoublyRobustUtility(cost_weight=np.nan), "The 'cost_weight' parameter"),
        (lambda: DoublyRobustUtility(cost_weight="high"), "The 'cost_weight' parameter"),
        (lambda: DoublyRobustUtility(quality_model="ridge"), "The 'quality_model' parameter"),
        (lambda: DoublyRobustUtility(propensity=LinearRegression()), "The 'propensity' parameter"),
        (lambda: DoublyRobustUtility(use_logged_propensity="yes"), "use_logged_propensity"),
        (lambda: PropensityModel(LinearSVC()), "The 'estimator' parameter of PropensityModel"),
        (lambda: PropensityModel(use_logged=1.0), "The 'use_logged' parameter"),
        (lambda: PropensityModel(random_state="seed"), "The 'random_state' parameter"),
        (lambda: DecoupledRouter(cost_model="x"), "The 'cost_model' parameter of DecoupledRouter"),
        (lambda: DecoupledRouter(cost_weight=np.inf), "The 'cost_weight' parameter of DecoupledRouter"),
        (lambda: SingleModelRouter(model=["a"]), "The 'model' parameter of SingleModelRouter"),
        (lambda: SingleModelRouter(utility=Ridge()), "The 'utility' parameter of SingleModelRouter"),
    ],
)
def test_bad_parameters(data, make, match):
    X, t, q, c, p = data
    est = make()
    with pytest.raises(InvalidParameterError, match=match):
        if isinstance(est, PropensityModel):
            est.fit(X, t)
        else:
            est.fit(X, t, q, cost=c, propensity=p)


def test_cross_fitting_fold_lacking_a_model(data):
    """Estimated propensities need every model in every training fold."""
    X, t, q, c, p = data
    t = t.copy()
    t[t == "c"] = "a"
    t[0] = "c"  # one row: the fold that tests it has no 'c' to train on
    with pytest.raises(ValueError, match=r"training fold lacks some logged model; use fewer folds \(cv\)"):
        _dru().fit(X, t, q)


def test_predict_logged_unknown_label(data):
    X, t, q, c, p = data
    pm = PropensityModel(LogisticRegression()).fit(X, t)
    with pytest.raises(ValueError, match=r"y \(logged models\) contains model label\(s\) \['zz'\]"):
        pm.predict_logged(X[:2], np.array(["a", "zz"]))


def test_predict_logged_length_mismatch(data):
    X, t, q, c, p = data
    pm = PropensityModel(LogisticRegression()).fit(X, t)
    with pytest.raises(ValueError, match="X has 10 rows"):
        pm.predict_logged(X[:10], t)


def test_predict_logged_length_mismatch_with_recorded_propensities(data):
    X, t, q, c, p = data
    fb = make_feedback(t, q, propensity=p)
    pm = PropensityModel(LogisticRegression()).fit(X, fb)
    with pytest.raises(ValueError, match="X has 10 rows"):
        pm.predict_logged(X[:10], fb)


# --------------------------------------------------------------------------- #
# before fit
# --------------------------------------------------------------------------- #
UNFITTED_CALLS = [
    pytest.param("PropensityModel", "predict_proba", id="PropensityModel.predict_proba"),
    pytest.param("PropensityModel", "predict", id="PropensityModel.predict"),
    pytest.param("PropensityModel", "predict_logged", id="PropensityModel.predict_logged"),
    pytest.param("PropensityModel", "score", id="PropensityModel.score"),
    pytest.param("DoublyRobustUtility", "predict", id="DoublyRobustUtility.predict"),
    pytest.param("DoublyRobustUtility", "transform", id="DoublyRobustUtility.transform"),
    pytest.param("DoublyRobustUtility", "predict_outcomes", id="DoublyRobustUtility.predict_outcomes"),
    pytest.param("DoublyRobustUtility", "utilities", id="DoublyRobustUtility.utilities"),
    pytest.param("DoublyRobustUtility", "get_feature_names_out",
                 id="DoublyRobustUtility.get_feature_names_out"),
    pytest.param("DecoupledRouter", "predict", id="DecoupledRouter.predict"),
    pytest.param("DecoupledRouter", "predict_proba", id="DecoupledRouter.predict_proba"),
    pytest.param("DecoupledRouter", "predict_utility", id="DecoupledRouter.predict_utility"),
    pytest.param("DecoupledRouter", "score", id="DecoupledRouter.score"),
    pytest.param("SingleModelRouter", "predict", id="SingleModelRouter.predict"),
    pytest.param("SingleModelRouter", "predict_proba", id="SingleModelRouter.predict_proba"),
    pytest.param("SingleModelRouter", "score", id="SingleModelRouter.score"),
]


@pytest.mark.parametrize("name, method", UNFITTED_CALLS)
def test_not_fitted_error(data, name, method):
    X, t, q, c, p = data
    est = ESTIMATORS[name]()
    args = {
        "predict_logged": (X, t),
        "utilities": (),
        "get_feature_names_out": (),
        "score": (X, t if name == "PropensityModel" else make_feedback(t, q, propensity=p)),
    }.get(method, (X,))
    with pytest.raises(NotFittedError, match=f"This {name} instance is not fitted yet"):
        getattr(est, method)(*args)


# --- audit of issue "One house", item 6: inputs that used to slip through ----------


def test_integrative_utility_keeps_feature_names_of_a_dataframe():
    pd = pytest.importorskip("pandas")
    from sklearn_causal_routing import IntegrativeUtility

    rng = np.random.default_rng(0)
    n = 240
    X = pd.DataFrame(rng.normal(size=(n, 3)), columns=["len", "code", "math"])
    t = np.array(["a", "b"] * (n // 2))
    gold = np.arange(n) % 3 == 0
    q = rng.normal(size=n)
    judge = q + 0.3  # a biased judge; gold rows carry both grades
    fb = make_feedback(t, np.where(gold, q, judge), cost=rng.random(n), gold=gold,
                       judge=judge, propensity=np.full(n, 0.5))
    iu = IntegrativeUtility(quality_model=Ridge(), cost_model=Ridge(), grade_model=Ridge(),
                            random_state=0).fit(X, fb)
    assert list(iu.feature_names_in_) == ["len", "code", "math"]
    with pytest.raises(ValueError, match="feature names"):
        iu.predict_bias(X.rename(columns={"len": "length"}))


@pytest.mark.parametrize("bad", [np.nan, -1.0, np.inf, "x"])
def test_utilities_reject_the_cost_weights_the_constructor_rejects(data, bad):
    X, t, q, c, p = data
    dr = _dru().fit(X, t, q, cost=c)
    with pytest.raises((ValueError, TypeError), match="cost_weight must be a finite number >= 0"):
        dr.utilities(bad)
    with pytest.raises((ValueError, TypeError), match="cost_weight must be a finite number >= 0"):
        dr.predict(X[:2], cost_weight=bad)


@pytest.mark.parametrize("field", ["y (quality)", "cost"])
def test_outcomes_large_enough_to_overflow_are_rejected(data, field):
    X, t, q, c, p = data
    q, c = q.copy(), c.copy()
    (q if field == "y (quality)" else c)[3] = 1e300
    with pytest.raises(ValueError, match=rf"{re.escape(field)} contains 1 value\(s\) larger than 1e\+12"):
        make_feedback(t, q, cost=c)


def test_hand_built_feedback_with_overflowing_cost_is_rejected(data):
    X, t, q, c, p = data
    fb = make_feedback(t, q, cost=c)
    fb["cost"][0] = 1e200
    with pytest.raises(ValueError, match=r"y\['cost'\] contains 1 value\(s\) larger than"):
        _dru().fit(X, fb)


@pytest.mark.parametrize("make", ["RegretRouter", "IntervalRouter"])
@pytest.mark.parametrize(
    "params, match",
    [
        ({"device": "banana"}, r"device must be a torch device such as 'cpu'.*got 'banana'"),
        ({"hidden_layer_sizes": (0,)}, r"hidden_layer_sizes must be a non-empty tuple of integers >= 1"),
        ({"hidden_layer_sizes": ()}, r"hidden_layer_sizes must be a non-empty tuple"),
        ({"hidden_layer_sizes": (8, 2.5)}, r"hidden_layer_sizes must be a non-empty tuple"),
    ],
)
def test_policy_network_settings_are_checked_before_torch(data, make, params, match):
    import sklearn_causal_routing as scr

    X, t, q, c, p = data
    router = getattr(scr, make)(utility=_dru(), max_epochs=2, random_state=0, **params)
    with pytest.raises(ValueError, match=match):
        router.fit(X, t, q, cost=c)


def test_cuda_device_without_a_gpu_says_so(data):
    import torch

    from sklearn_causal_routing import RegretRouter

    if torch.cuda.is_available():
        pytest.skip("this machine has a CUDA GPU")
    X, t, q, c, p = data
    with pytest.raises(ValueError, match="asks for a CUDA GPU, but torch sees none"):
        RegretRouter(utility=_dru(), device="cuda", max_epochs=2).fit(X, t, q, cost=c)


def test_fewer_rows_than_cross_fitting_folds_names_cv(data):
    X, t, q, c, p = data
    dr = DoublyRobustUtility(quality_model=Ridge(), cost_model=Ridge(),
                             propensity=LogisticRegression(), cv=5)
    with pytest.raises(ValueError, match=r"cv=5 cross-fitting folds need at least 5 rows.*got 2"):
        dr.fit(X[:2], ["a", "b"], q[:2], cost=c[:2])
