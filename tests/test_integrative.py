"""Tests of IntegrativeUtility (gold + judge grades, judge bias corrected) and of
add_judge_grades, on simulated worlds with known truth.

Worlds. The Gaussian-outcome world of conftest (4 models, 4 tasks, 2,000 logged
queries, task-confounded logs with recorded propensities). One fixed judge
(``JUDGE``: bias ~ N(0, 0.2^2) per task and model, noise sd 0.1) grades the rows
that are not gold; 10% of rows are gold, at random or targeted at some queries.

Margins (measured before the thresholds were set; see each test):
- routing by the utility stage, mean true test utility over cost weights
  {0, 0.25, 0.5} and 4 seeds: corrected grades 0.746 (DR-learner) and 0.752
  (R-learner), gold grades everywhere 0.754, judge grades only 0.702, the gold
  rows only 0.702. The test asks corrected >= judge-only + 0.03, >= gold-only +
  0.03 and >= ceiling - 0.02.
- the mean estimated bias per model, averaged over 16 redraws of the gold set
  and the judge's noise, against the true mean bias of the rows each model
  served: within 4 standard errors of the redraws and 0.02 in absolute terms,
  (measured |mean error| <= 0.026, 4 SE = 0.02-0.04); leaving the judge
  uncorrected would be off by the bias itself (0.03-0.3 per model).
"""

import pickle
import warnings

import joblib
import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.model_selection import GridSearchCV
from sklearn.preprocessing import StandardScaler

from sklearn_causal_routing import (
    DoublyRobustUtility,
    IntegrativeUtility,
    IntervalRouter,
    JudgeGradeWarning,
    Pipeline,
    RegretRouter,
    SmallGoldWarning,
    clear_utility_cache,
    make_feedback,
)
from sklearn_causal_routing._utility import _cache_key, fit_utility_cached
from sklearn_causal_routing.datasets import JudgedLogs, RoutingWorld, add_judge_grades

COST_WEIGHTS = (0.0, 0.25, 0.5)
Z = 4.0


def _quiet(func, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return func(*args, **kwargs)


@pytest.fixture(scope="module")
def judge_bias(gaussian_table, gaussian_logs):
    """One fixed judge: (n_tasks, n_models) bias, sd 0.2."""
    return add_judge_grades(
        gaussian_table, gaussian_logs, bias_scale=0.2, random_state=0
    ).task_bias


@pytest.fixture(scope="module")
def judged(gaussian_table, gaussian_logs, judge_bias):
    return add_judge_grades(
        gaussian_table, gaussian_logs, gold_fraction=0.1, bias=judge_bias, random_state=1
    )


@pytest.fixture(scope="module")
def test_table(gaussian_world):
    return gaussian_world.sample(4000, random_state=99)


def _true_mean_bias(table, judged):
    """True mean bias of the rows each model served, in sorted label order."""
    rows = np.arange(table.n_samples)
    served = judged.bias[rows, table.model_index(judged.t)]
    return np.array([served[judged.t == m].mean() for m in np.sort(table.models)])


def _fast(**kw):
    params = {"random_state": 0}
    params.update(kw)
    return IntegrativeUtility(**params)


@pytest.fixture(scope="module")
def fitted(judged):
    return _quiet(_fast(gold_propensity=0.1).fit, judged.X, judged.feedback)


# --------------------------------------------------------------------------- #
# routing with known truth
# --------------------------------------------------------------------------- #
def _routing_value(utility, test_table):
    """True test value of routing by the argmax of the utility stage's outcome models."""
    values = []
    for cw in COST_WEIGHTS:
        U = utility.predict(test_table.X, cost_weight=cw)
        values.append(test_table.value(utility.classes_[np.argmax(U, axis=1)], cw))
    return np.mean(values)


@pytest.fixture(scope="module")
def routing_values(gaussian_table, judge_bias, test_table):
    arms = {}
    for seed in range(4):
        logs = gaussian_table.log("confounded", random_state=seed)
        j = add_judge_grades(
            gaussian_table, logs, gold_fraction=0.1, bias=judge_bias, random_state=10 + seed
        )
        fits = {
            "judge only": (DoublyRobustUtility(random_state=0), j.X, j.judge_feedback),
            "gold rows only": (
                DoublyRobustUtility(random_state=0), j.X[j.gold], j.gold_feedback[j.gold]
            ),
            "corrected dr": (_fast(), j.X, j.feedback),
            "corrected r": (_fast(bias_learner="r"), j.X, j.feedback),
            "gold everywhere": (DoublyRobustUtility(random_state=0), j.X, j.gold_feedback),
        }
        for name, (util, X, fb) in fits.items():
            _quiet(util.fit, X, fb)
            arms.setdefault(name, []).append(_routing_value(util, test_table))
    return {name: float(np.mean(v)) for name, v in arms.items()}


@pytest.mark.parametrize("arm", ["corrected dr", "corrected r"])
def test_corrected_grades_route_better_than_judge_or_gold_alone(routing_values, arm):
    v = routing_values
    assert v[arm] >= v["judge only"] + 0.03, v
    assert v[arm] >= v["gold rows only"] + 0.03, v
    assert v[arm] >= v["gold everywhere"] - 0.02, v


def test_regret_router_on_corrected_grades(judged, test_table):
    """The full router (policy network) trained on corrected grades: better than
    one trained on judge grades, near one trained on gold grades everywhere.

    Measured on this draw: judge 0.692, corrected 0.726, gold everywhere 0.781
    (true test utility at cost weight 0.25). On two other draws of the gold set
    the corrected router reached 0.784 and 0.724: one policy network varies by
    about 0.03 between draws, hence the wider margin to the ceiling here; the
    four-seed test above pins the utility stage within 0.02 of it."""
    values = {}
    kw = {"cost_weight": 0.25, "hidden_layer_sizes": (32,), "max_epochs": 30, "random_state": 0}
    for name, util, fb in (
        ("judge", DoublyRobustUtility(random_state=0), judged.judge_feedback),
        ("corrected", _fast(gold_propensity=0.1), judged.feedback),
        ("gold", DoublyRobustUtility(random_state=0), judged.gold_feedback),
    ):
        router = _quiet(RegretRouter(utility=util, **kw).fit, judged.X, fb)
        values[name] = test_table.value(router.predict(test_table.X), 0.25)
    assert values["corrected"] >= values["judge"] + 0.02, values
    assert values["corrected"] >= values["gold"] - 0.07, values


# --------------------------------------------------------------------------- #
# the bias estimate
# --------------------------------------------------------------------------- #
def _redraws(table, logs, judge_bias, n_reps, **grading):
    for rep in range(n_reps):
        yield add_judge_grades(table, logs, bias=judge_bias, random_state=100 + rep, **grading)


@pytest.mark.parametrize(
    "learner, targeting", [("dr", 0.0), ("dr", 1.0), ("r", 0.0)]
)
def test_bias_estimate_is_unbiased_with_known_gold_propensity(
    gaussian_table, gaussian_logs, judge_bias, learner, targeting
):
    errors = []
    for j in _redraws(gaussian_table, gaussian_logs, judge_bias, 16, gold_fraction=0.1,
                      targeting=targeting):
        iu = _quiet(
            _fast(bias_learner=learner, gold_propensity=j.gold_propensity,
                  shrink_bias=False).fit,
            j.X, j.feedback,
        )
        truth = _true_mean_bias(gaussian_table, j)
        errors.append(iu.bias_.mean - truth)
    errors = np.array(errors)
    mean, se = errors.mean(axis=0), errors.std(axis=0, ddof=1) / np.sqrt(len(errors))
    assert (np.abs(mean) < Z * se + 1e-3).all(), (mean, se)
    assert (np.abs(mean) < 0.03).all(), mean


def test_shrinkage_is_mild_with_enough_gold_and_strong_with_little(judged):
    """Empirical-Bayes shrinkage of the mean biases: little with ~50 gold rows per
    model; strong for a model left with 3 gold rows (it borrows the others' bias);
    none with shrink_bias=False."""
    with_shrink = _quiet(_fast(gold_propensity=0.1).fit, judged.X, judged.feedback)
    assert (with_shrink.bias_.shrinkage > 0.8).all()
    assert np.isfinite(with_shrink.bias_shift_).all()
    fb = judged.feedback.copy()
    rare = np.flatnonzero(fb["gold"] & (fb["action"] == "tiny"))[3:]
    fb["gold"][rare] = False
    fb["quality"][rare] = fb["judge"][rare] = judged.judge[rare]
    few = _quiet(_fast(gold_propensity=0.1).fit, judged.X, fb)
    raw = _quiet(_fast(gold_propensity=0.1, shrink_bias=False).fit, judged.X, fb)
    tiny = list(few.classes_).index("tiny")
    # measured: 0.13 for 'tiny', 0.50 to 0.91 for the others
    assert few.bias_.shrinkage[tiny] < 0.3
    assert few.bias_.shrinkage[tiny] < 0.5 * np.delete(few.bias_.shrinkage, tiny).min()
    assert_allclose(raw.bias_.shrinkage, 1.0)
    assert_allclose(raw.bias_shift_, 0.0)


def test_bias_estimate_with_estimated_gold_propensity(gaussian_table, gaussian_logs, judge_bias):
    """Estimated (logistic) gold propensities on a targeted gold set: each model's
    mean bias within 0.06 of the truth on average over 6 redraws (measured: at most
    0.041, single redraws up to 0.15 for the least-served model)."""
    errors = []
    for j in _redraws(gaussian_table, gaussian_logs, judge_bias, 6, gold_fraction=0.1,
                      targeting=1.0):
        iu = _quiet(_fast().fit, j.X, j.feedback)
        assert not iu.gold_propensity_known_
        errors.append(iu.bias_.mean - _true_mean_bias(gaussian_table, j))
        # the estimated propensity tracks the true one
        assert np.corrcoef(iu.gold_propensity_, j.gold_propensity)[0, 1] > 0.8
    assert (np.abs(np.mean(errors, axis=0)) < 0.06).all(), np.mean(errors, axis=0)


def test_bias_depends_on_the_query(fitted, judged, gaussian_table):
    """The estimated b(x, t) follows the task structure of the true bias: at each
    row's logged model it is closer to the truth than the best constant per model
    (the true mean bias of the model's rows) could be. Measured: 0.069 vs 0.107."""
    rows = np.arange(gaussian_table.n_samples)
    truth = judged.bias[rows, gaussian_table.model_index(judged.t)]
    best_constant = np.zeros_like(truth)
    for m in np.unique(judged.t):
        best_constant[judged.t == m] = truth[judged.t == m].mean()
    err = np.abs(fitted.judge_bias_ - truth).mean()
    assert err < 0.8 * np.abs(best_constant - truth).mean()


def test_more_than_two_models():
    world = RoutingWorld(n_models=6, outcome="gaussian", random_state=3)
    table = world.sample(3000, random_state=0)
    j = add_judge_grades(table, table.log("uniform", random_state=0), gold_fraction=0.15,
                         bias_scale=0.2, random_state=0)
    iu = _quiet(_fast(gold_propensity=0.15).fit, j.X, j.feedback)
    assert iu.bias_.mean.shape == (6,) and iu.quality_.shape == (3000, 6)
    truth = _true_mean_bias(table, j)
    err = iu.bias_.mean - truth
    # measured: mean |error| 0.023, max 0.066; leaving the judge uncorrected would
    # be off by the true bias itself, mean |bias| 0.13 here
    assert np.abs(err).mean() < 0.04 and np.abs(err).max() < 0.1, err
    assert np.abs(truth).mean() > 2.5 * np.abs(err).mean()


@pytest.mark.parametrize("both_fraction", [0.5, 1.0])
def test_rows_with_both_grades(gaussian_table, gaussian_logs, judge_bias, both_fraction):
    j = add_judge_grades(gaussian_table, gaussian_logs, gold_fraction=0.1, bias=judge_bias,
                         both_fraction=both_fraction, random_state=1)
    both = j.gold & ~np.isnan(j.feedback["judge"])
    assert both.any()
    for learner in ("dr", "r"):
        iu = _quiet(_fast(bias_learner=learner, gold_propensity=0.1).fit, j.X, j.feedback)
        assert iu.bias_.n_both.sum() == both.sum()
        # gold rows keep their gold grade even when they also carry a judge grade
        assert_array_equal(iu.corrected_quality_[both], j.feedback["quality"][both])
        err = iu.bias_.mean - _true_mean_bias(gaussian_table, j)
        # measured: max |error| 0.052, mean 0.02 (true mean biases: 0.03 to 0.3)
        assert np.abs(err).max() < 0.08 and np.abs(err).mean() < 0.035, (learner, err)


# --------------------------------------------------------------------------- #
# fitted state and diagnostics
# --------------------------------------------------------------------------- #
def test_fitted_attributes(fitted, judged):
    n, k = judged.X.shape[0], 4
    assert_array_equal(fitted.classes_, ["large", "medium", "small", "tiny"])
    for name in ("quality_", "cost_", "outcome_quality_", "outcome_cost_"):
        assert getattr(fitted, name).shape == (n, k)
    assert fitted.propensity_.shape == (n,)
    assert fitted.logged_propensity_
    assert fitted.gold_propensity_known_
    assert_allclose(fitted.gold_propensity_, 0.1)
    b = fitted.bias_
    assert set(b) >= {"mean", "std", "n_gold", "n_judge", "n_both", "gold_effective_sample_size"}
    assert b.n_gold.sum() == judged.gold.sum()
    assert b.n_judge.sum() == (~judged.gold).sum()
    assert (b.std >= 0).all()
    # constant gold propensity: the effective gold sample size is the gold count
    assert_allclose(fitted.gold_effective_sample_size_, b.n_gold)
    assert_allclose(fitted.utilities(0.3), fitted.quality_ - 0.3 * fitted.cost_)


def test_corrected_quality(fitted, judged):
    gold = judged.gold
    q = judged.feedback["quality"]
    assert_array_equal(fitted.corrected_quality_[gold], q[gold])
    assert_allclose(fitted.corrected_quality_[~gold], q[~gold] - fitted.judge_bias_[~gold])
    action = np.searchsorted(fitted.classes_, judged.t)
    B = fitted.predict_bias(judged.X)
    assert B.shape == (len(gold), 4)
    assert_allclose(B[np.arange(len(gold)), action], fitted.judge_bias_)
    # the corrected judge grades are closer to the gold grades than the raw ones
    true_gold = judged.gold_feedback["quality"]
    raw_err = np.abs(q[~gold] - true_gold[~gold]).mean()
    new_err = np.abs(fitted.corrected_quality_[~gold] - true_gold[~gold]).mean()
    assert new_err < 0.75 * raw_err


def test_equals_dr_on_the_corrected_feedback(fitted, judged):
    """The utilities are DoublyRobustUtility's on the corrected grades."""
    fb = make_feedback(judged.t, fitted.corrected_quality_, cost=judged.feedback["cost"],
                       propensity=judged.feedback["propensity"])
    dr = DoublyRobustUtility(random_state=0).fit(judged.X, fb)
    assert_allclose(dr.quality_, fitted.quality_)
    assert_allclose(dr.cost_, fitted.cost_)


def test_small_gold_warning(judged):
    fb = judged.feedback.copy()
    rare = np.flatnonzero(fb["gold"] & (fb["action"] == "tiny"))[3:]
    fb["gold"][rare] = False  # 'tiny' keeps 3 gold rows; the others are judge rows
    fb["quality"][rare] = fb["judge"][rare] = judged.judge[rare]
    with pytest.warns(SmallGoldWarning, match=r"'tiny' \(3 gold rows"):
        iu = _fast(gold_propensity=0.1).fit(judged.X, fb)
    assert iu.bias_.n_gold[list(iu.classes_).index("tiny")] == 3


def test_no_small_gold_warning_on_regular_data(judged):
    with warnings.catch_warnings():
        warnings.simplefilter("error", SmallGoldWarning)
        warnings.simplefilter("error", JudgeGradeWarning)
        _fast(gold_propensity=0.1).fit(judged.X, judged.feedback)


def test_doubly_robust_utility_warns_on_judge_grades(judged):
    with pytest.warns(JudgeGradeWarning, match="IntegrativeUtility"):
        DoublyRobustUtility(random_state=0).fit(judged.X, judged.feedback)
    with warnings.catch_warnings():
        warnings.simplefilter("error", JudgeGradeWarning)
        DoublyRobustUtility(random_state=0).fit(judged.X, judged.gold_feedback)
        gold_marked = make_feedback(judged.t, judged.gold_feedback["quality"],
                                    gold=np.ones(len(judged.t), dtype=bool))
        DoublyRobustUtility(random_state=0).fit(judged.X, gold_marked)


def test_gold_propensity_forms_agree(judged):
    a = _quiet(_fast(gold_propensity=0.1).fit, judged.X, judged.feedback)
    b = _quiet(_fast(gold_propensity=np.full(len(judged.t), 0.1)).fit, judged.X, judged.feedback)
    c = _quiet(_fast(gold_propensity=lambda X: np.full(X.shape[0], 0.1)).fit,
               judged.X, judged.feedback)
    assert_allclose(a.quality_, b.quality_)
    assert_allclose(a.quality_, c.quality_)


def test_gold_clip_bounds_the_propensities(judged):
    iu = _quiet(_fast(gold_propensity=judged.gold_propensity * 0 + 0.001,
                      gold_clip=(0.05, 0.9)).fit, judged.X, judged.feedback)
    assert_allclose(iu.gold_propensity_, 0.05)


def test_user_models(judged):
    iu = _fast(
        gold_propensity_model=LogisticRegression(C=0.1, max_iter=500),
        grade_model=Ridge(),
        bias_model=Ridge(alpha=10.0),
        bias_learner="r",
    )
    _quiet(iu.fit, judged.X, judged.feedback)
    assert isinstance(iu.bias_models_[0], Ridge)


def test_deterministic_with_random_state(judged):
    a = _quiet(_fast().fit, judged.X, judged.feedback)
    b = _quiet(_fast().fit, judged.X, judged.feedback)
    assert_array_equal(a.quality_, b.quality_)
    assert_array_equal(a.judge_bias_, b.judge_bias_)


# --------------------------------------------------------------------------- #
# bad input
# --------------------------------------------------------------------------- #
def test_no_gold_rows(judged):
    fb = judged.feedback.copy()
    fb["gold"] = False
    fb["judge"] = judged.judge
    fb["quality"] = judged.judge
    with pytest.raises(ValueError, match="0 gold rows.*make_feedback"):
        _fast().fit(judged.X, fb)


def test_no_judge_grades(judged):
    with pytest.raises(ValueError, match="DoublyRobustUtility"):
        _fast().fit(judged.X, judged.gold_feedback)


def test_gold_rows_for_only_some_models(judged):
    fb = judged.feedback.copy()
    tiny = fb["gold"] & (fb["action"] == "tiny")
    fb["quality"][tiny] = judged.judge[tiny]
    fb["judge"][tiny] = judged.judge[tiny]
    fb["gold"][tiny] = False
    with pytest.raises(ValueError, match=r"No gold rows for 'tiny'.*'tiny': 0"):
        _fast().fit(judged.X, fb)


@pytest.mark.parametrize("bad", [0.0, 1.5, -0.1])
def test_gold_propensity_float_out_of_range(judged, bad):
    with pytest.raises(ValueError, match="gold_propensity"):
        _fast(gold_propensity=bad).fit(judged.X, judged.feedback)


def test_gold_propensity_array_errors(judged):
    n = len(judged.t)
    with pytest.raises(ValueError, match=r"one gold propensity per row of X \(2000\).*callable"):
        _fast(gold_propensity=np.full(n - 1, 0.1)).fit(judged.X, judged.feedback)
    p = np.full(n, 0.1)
    p[5] = 0.0
    with pytest.raises(ValueError, match=r"\(0, 1\].*first 0.0 at row 5"):
        _fast(gold_propensity=p).fit(judged.X, judged.feedback)
    with pytest.raises(ValueError, match=r"gold_propensity\(X\)"):
        _fast(gold_propensity=lambda X: np.full(3, 0.1)).fit(judged.X, judged.feedback)


@pytest.mark.parametrize("bad", [(0.0, 0.9), (0.5, 0.2), (0.1,), "x"])
def test_gold_clip_errors(judged, bad):
    with pytest.raises(ValueError, match="gold_clip"):
        _fast(gold_clip=bad).fit(judged.X, judged.feedback)


def test_bias_learner_error(judged):
    with pytest.raises(ValueError, match="bias_learner"):
        _fast(bias_learner="x").fit(judged.X, judged.feedback)


def test_not_fitted():
    with pytest.raises(NotFittedError):
        IntegrativeUtility().predict_bias(np.zeros((2, 3)))
    with pytest.raises(NotFittedError):
        IntegrativeUtility().utilities()


def test_nested_param_on_default_stage_shows_the_call():
    with pytest.raises(ValueError, match=r"IntegrativeUtility\(bias_model=RidgeCV\(\)\)"):
        IntegrativeUtility().set_params(bias_model__alpha=1.0)
    iu = IntegrativeUtility(bias_model=Ridge()).set_params(bias_model__alpha=3.0)
    assert iu.bias_model.alpha == 3.0


# --------------------------------------------------------------------------- #
# scikit-learn integration
# --------------------------------------------------------------------------- #
def test_clone_and_params():
    iu = IntegrativeUtility(bias_learner="r", gold_propensity=0.2, clip=None, cv=4)
    params = clone(iu).get_params()
    assert params["bias_learner"] == "r" and params["gold_propensity"] == 0.2
    assert params["clip"] is None and params["cv"] == 4


def test_cache_key_includes_the_new_params(judged):
    X, fb = judged.X, judged.feedback
    base = _cache_key(_fast(), X, fb)
    assert _cache_key(_fast(bias_learner="r"), X, fb) != base
    assert _cache_key(_fast(gold_propensity=0.1), X, fb) != base
    assert _cache_key(_fast(gold_clip=(0.05, 0.95)), X, fb) != base
    assert _cache_key(DoublyRobustUtility(random_state=0), X, fb) != base
    assert _cache_key(_fast(cost_weight=3.0), X, fb) == base
    clear_utility_cache()
    first = _quiet(fit_utility_cached, _fast(gold_propensity=0.1), X, fb)
    again = fit_utility_cached(_fast(gold_propensity=0.1, cost_weight=0.5), X, fb)
    assert again.quality_ is first.quality_ and again.cost_weight == 0.5
    assert again.bias_ is first.bias_
    clear_utility_cache()


def test_pipeline_gridsearch_joblib(judged, tmp_path):
    X, fb = judged.X[:1200], judged.feedback[:1200]
    router = RegretRouter(
        utility=IntegrativeUtility(gold_propensity=0.1, random_state=0),
        hidden_layer_sizes=(16,), max_epochs=5, random_state=0,
    )
    search = GridSearchCV(router, {"utility__bias_learner": ["dr", "r"]}, cv=2)
    _quiet(search.fit, X, fb)
    assert search.best_params_["utility__bias_learner"] in ("dr", "r")
    assert np.isfinite(search.best_score_)

    pipe = Pipeline([("scale", StandardScaler()), ("router", clone(router))])
    _quiet(pipe.fit, X, fb)
    decisions = pipe.predict(X[:20])

    path = tmp_path / "pipe.joblib"
    joblib.dump(pipe, path)
    assert_array_equal(joblib.load(path).predict(X[:20]), decisions)
    iu = pipe.named_steps["router"].utility_
    assert isinstance(iu, IntegrativeUtility)
    restored = pickle.loads(pickle.dumps(iu))
    assert_allclose(restored.predict_bias(X[:5]), iu.predict_bias(X[:5]))


def test_interval_router_accepts_it(judged):
    router = IntervalRouter(
        cost_weight_range=(0.0, 0.5), n_intervals=2,
        utility=IntegrativeUtility(gold_propensity=0.1, random_state=0),
        hidden_layer_sizes=(16,), max_epochs=3, random_state=0,
    )
    _quiet(router.fit, judged.X, judged.feedback)
    assert isinstance(router.utility_, IntegrativeUtility)
    assert router.predict(judged.X[:4], cost_weight=0.3).shape == (4,)


# --------------------------------------------------------------------------- #
# add_judge_grades
# --------------------------------------------------------------------------- #
def test_add_judge_grades_truth(judged, gaussian_table, gaussian_logs):
    assert isinstance(judged, JudgedLogs)
    n = gaussian_table.n_samples
    rows = np.arange(n)
    k = gaussian_table.model_index(judged.t)
    fb = judged.feedback
    assert fb.dtype.names == ("action", "quality", "cost", "propensity", "gold", "judge")
    assert_array_equal(fb["gold"], judged.gold)
    gold_grade = gaussian_logs.feedback["quality"]
    assert_array_equal(fb["quality"][judged.gold], gold_grade[judged.gold])
    assert_array_equal(fb["quality"][~judged.gold], judged.judge[~judged.gold])
    assert np.isnan(fb["judge"][judged.gold]).all()  # both_fraction=0
    noise = judged.judge - gold_grade - judged.bias[rows, k]
    assert abs(noise.mean()) < 0.01 and abs(noise.std() - 0.1) < 0.01
    # bias depends on the task and the model
    task_idx = np.searchsorted(judged.tasks, gaussian_table.task)
    assert_array_equal(judged.bias, judged.task_bias[task_idx])
    assert_allclose(judged.gold_propensity, 0.1)
    assert abs(judged.gold.mean() - 0.1) < 0.02
    assert_array_equal(judged.judge_feedback["quality"], judged.judge)
    assert judged.gold_feedback is gaussian_logs.feedback


def test_add_judge_grades_targeted(gaussian_table, gaussian_logs):
    j = add_judge_grades(gaussian_table, gaussian_logs, gold_fraction=0.1, targeting=1.0,
                         random_state=0)
    assert abs(j.gold_propensity.mean() - 0.1) < 1e-6
    assert j.gold_propensity.min() < 0.03 and j.gold_propensity.max() > 0.3
    # a logistic function of x: a linear classifier recovers its logit exactly
    logit = np.log(j.gold_propensity / (1 - j.gold_propensity))
    A = np.hstack([gaussian_table.X, np.ones((gaussian_table.n_samples, 1))])
    resid = logit - A @ np.linalg.lstsq(A, logit, rcond=None)[0]
    assert np.abs(resid).max() < 1e-8


def test_add_judge_grades_without_tasks_and_deterministic(gaussian_table):
    table = gaussian_table.subset(np.arange(300))
    table.task = None
    logs = table.log("uniform", random_state=0)
    a = add_judge_grades(table, logs, random_state=5)
    b = add_judge_grades(table, logs, random_state=5)
    assert a.tasks.tolist() == ["all"] and a.task_bias.shape == (1, 4)
    assert_array_equal(a.judge, b.judge)
    assert_array_equal(a.gold, b.gold)


def test_add_judge_grades_errors(gaussian_table, gaussian_logs):
    with pytest.raises(ValueError, match=r"gold_fraction must be a number in \(0, 1\]"):
        add_judge_grades(gaussian_table, gaussian_logs, gold_fraction=0.0)
    with pytest.raises(ValueError, match="both_fraction"):
        add_judge_grades(gaussian_table, gaussian_logs, both_fraction=2)
    with pytest.raises(ValueError, match="noise"):
        add_judge_grades(gaussian_table, gaussian_logs, noise=-1)
    with pytest.raises(ValueError, match=r"bias must be a finite \(n_tasks, n_models\) = \(4, 4\)"):
        add_judge_grades(gaussian_table, gaussian_logs, bias=np.zeros((2, 4)))
    with pytest.raises(TypeError, match="RoutingTable"):
        add_judge_grades(gaussian_logs, gaussian_logs)
    other = gaussian_table.subset(np.arange(100)).log(random_state=0)
    with pytest.raises(ValueError, match="logs must come from table"):
        add_judge_grades(gaussian_table, other)
