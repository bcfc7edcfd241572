"""Every public estimator through Pipeline, GridSearchCV, clone and joblib."""

import subprocess
import sys
import textwrap
import warnings

import joblib
import numpy as np
import pytest
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.model_selection import GridSearchCV, KFold, cross_val_score
from sklearn.preprocessing import StandardScaler

from sklearn_causal_routing import (
    CarrotRouter,
    DecoupledRouter,
    DoublyRobustUtility,
    ImitationRouter,
    IntervalRouter,
    KNNRouter,
    OverlapWarning,
    Pipeline,
    PropensityModel,
    RegretRouter,
    SingleModelRouter,
    clear_utility_cache,
    make_pipeline,
)
from sklearn_causal_routing.datasets import RoutingWorld

FAST = dict(hidden_layer_sizes=(16,), max_epochs=8)


@pytest.fixture(autouse=True)
def _quiet_overlap():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", OverlapWarning)
        yield


@pytest.fixture(scope="module")
def logs():
    table = RoutingWorld(n_models=3, random_state=0).sample(900, random_state=21)
    return table.log(policy="confounded", random_state=22)


ROUTERS = {
    "rm-softmax": lambda: RegretRouter(cost_weight=0.2, random_state=0, **FAST),
    "rm-classification": lambda: RegretRouter(
        loss="classification", cost_weight=0.2, random_state=0, **FAST
    ),
    "rm-classification-sklearn-policy": lambda: RegretRouter(
        loss="classification", policy=LogisticRegression(max_iter=300), cost_weight=0.2,
        random_state=0,
    ),
    "decoupled": lambda: DecoupledRouter(cost_weight=0.2),
    "single-model": lambda: SingleModelRouter(cost_weight=0.2),
    "imitation": lambda: ImitationRouter(cost_weight=0.2, random_state=0),
    "carrot-dr": lambda: CarrotRouter(correction="dr", cost_weight=0.2),
    "knn": lambda: KNNRouter(cost_weight=0.2),
}


@pytest.mark.parametrize("name", sorted(ROUTERS))
def test_router_in_pipeline_with_all_fit_forms(logs, name):
    fb = logs.feedback
    pipe = Pipeline([("scale", StandardScaler()), ("router", ROUTERS[name]())])
    a = pipe.fit(logs.X, fb).predict(logs.X)
    b = clone(pipe).fit(logs.X, fb["action"], fb["quality"], cost=fb["cost"],
                        propensity=fb["propensity"]).predict(logs.X)
    np.testing.assert_array_equal(a, b)
    # The user's literal call: no cost, no propensity.
    pipe.fit(logs.X, fb["action"], fb["quality"])
    assert pipe.predict(logs.X).shape == (len(fb),)
    assert np.isfinite(pipe.score(logs.X, fb))
    assert np.isfinite(pipe.score(logs.X, fb["action"], fb["quality"], cost=fb["cost"]))


def test_make_pipeline_and_pipeline_errors_keep_sklearn_wording(logs):
    pipe = make_pipeline(StandardScaler(), RegretRouter(**FAST))
    assert isinstance(pipe, Pipeline)
    with pytest.raises(TypeError, match="feedback array and a separate quality"):
        pipe.fit(logs.X, logs.feedback, logs.feedback["quality"])
    with pytest.raises(TypeError, match="y must be the logged feedback"):
        pipe.fit(logs.X, logs.feedback["quality"])


@pytest.mark.parametrize("name", sorted(ROUTERS))
def test_router_cross_val_score_without_scorer(logs, name):
    scores = cross_val_score(ROUTERS[name](), logs.X, logs.feedback, cv=KFold(2))
    assert scores.shape == (2,) and np.all(np.isfinite(scores))


@pytest.mark.parametrize(
    "fixture, n_fits",
    # recorded propensities: clip only reweights one fit per fold (2 folds + refit);
    # estimated: 2 clips x 2 folds, plus the refit. Not 6 x 2 + 1 = 13 either way.
    [("logs", 3), ("logs_unlogged", 5)],
)
def test_grid_search_over_temperature_and_clip_reuses_the_utility_stage(
    request, monkeypatch, fixture, n_fits
):
    logs = request.getfixturevalue(fixture)
    fits = []
    original = DoublyRobustUtility.fit

    def counting_fit(self, X, y, *args, **kwargs):
        if self.random_state == 7:  # the router's stage (the evaluator uses 0)
            fits.append(self.clip)
        return original(self, X, y, *args, **kwargs)

    monkeypatch.setattr(DoublyRobustUtility, "fit", counting_fit)
    clear_utility_cache()
    grid = {"temperature": [0.3, 1.0, 3.0], "utility__clip": [(5, 95), None]}
    # fallback=None: the fallback check refits the stage unclipped, which would be
    # counted here (its caching is checked by
    # test_design_idiom_without_random_state_fits_the_utility_once_per_fold)
    search = GridSearchCV(
        RegretRouter(utility=DoublyRobustUtility(), random_state=7, fallback=None, **FAST),
        grid,
        cv=KFold(2),
    ).fit(logs.X, logs.feedback)
    assert len(fits) == n_fits, fits
    if n_fits == 5:
        expected = [(5, 95)] * 2 + [None] * 2 + [search.best_params_["utility__clip"]]
        assert sorted(map(str, fits)) == sorted(map(str, expected))
    assert search.best_estimator_.temperature in grid["temperature"]
    assert np.isfinite(search.best_score_)


def test_grid_search_over_skorch_settings(logs):
    search = GridSearchCV(
        RegretRouter(random_state=0, **FAST),
        {"module__dropout": [0.0, 0.3], "optimizer__weight_decay": [1e-4, 1e-2]},
        cv=KFold(2),
    ).fit(logs.X, logs.feedback)
    assert set(search.best_params_) == {"module__dropout", "optimizer__weight_decay"}


def test_grid_search_over_propensity_settings(logs):
    fb = logs.feedback.copy()
    fb["propensity"] = np.nan  # force estimation
    utility = DoublyRobustUtility(propensity=PropensityModel(LogisticRegression()))
    search = GridSearchCV(
        RegretRouter(utility=utility, random_state=0, **FAST),
        {"utility__propensity__estimator__C": [0.1, 10.0]},
        cv=KFold(2),
    ).fit(logs.X, fb)
    assert search.best_params_["utility__propensity__estimator__C"] in (0.1, 10.0)


ALL_ESTIMATORS = {
    **ROUTERS,
    "utility": lambda: DoublyRobustUtility(quality_model=Ridge(), random_state=0),
    "propensity": lambda: PropensityModel(random_state=0),
}


def _predict(est, X):
    if isinstance(est, DoublyRobustUtility):
        return est.predict(X)
    if isinstance(est, PropensityModel):
        return est.predict_proba(X)
    return est.predict_proba(X)


@pytest.mark.parametrize("name", sorted(ALL_ESTIMATORS))
def test_clone_and_joblib_round_trip_in_a_fresh_process(logs, name, tmp_path):
    est = ALL_ESTIMATORS[name]()
    cloned = clone(est)
    assert cloned.get_params().keys() == est.get_params().keys()
    y = logs.feedback if name != "propensity" else logs.t
    est.fit(logs.X, y)
    expected = _predict(est, logs.X)
    path = tmp_path / "est.joblib"
    joblib.dump(est, path)
    np.save(tmp_path / "X.npy", logs.X)
    method = "predict" if name == "utility" else "predict_proba"
    script = textwrap.dedent(
        f"""
        import joblib, numpy as np
        est = joblib.load({str(path)!r})
        X = np.load({str(tmp_path / 'X.npy')!r})
        np.save({str(tmp_path / 'out.npy')!r}, est.{method}(X))
        """
    )
    subprocess.run([sys.executable, "-c", script], check=True, timeout=120)
    np.testing.assert_array_equal(np.load(tmp_path / "out.npy"), expected)


def test_pickled_pipeline_routes_in_a_fresh_process(logs, tmp_path):
    fb = logs.feedback
    pipe = Pipeline([("scale", StandardScaler()), ("router", RegretRouter(random_state=0, **FAST))])
    pipe.fit(logs.X, fb["action"], fb["quality"], cost=fb["cost"])
    joblib.dump(pipe, tmp_path / "pipe.joblib")
    np.save(tmp_path / "X.npy", logs.X[:50])
    script = (
        "import joblib, numpy as np;"
        f"p = joblib.load({str(tmp_path / 'pipe.joblib')!r});"
        f"print(','.join(map(str, p.predict(np.load({str(tmp_path / 'X.npy')!r})))))"
    )
    out = subprocess.run([sys.executable, "-c", script], check=True, capture_output=True,
                         text=True, timeout=120).stdout.strip()
    assert out.split(",") == [str(v) for v in pipe.predict(logs.X[:50])]


def test_propensity_model_in_pipeline_and_grid_search(logs):
    pipe = Pipeline([("scale", StandardScaler()), ("propensity", PropensityModel(LogisticRegression()))])
    search = GridSearchCV(pipe, {"propensity__estimator__C": [0.01, 1.0]}, cv=3).fit(logs.X, logs.t)
    proba = search.predict_proba(logs.X)
    assert proba.shape == (len(logs.t), 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    # The logging rule is task-confounded, so the served model is predictable.
    assert search.best_score_ > 1.0 / 3 + 0.1


def test_utility_stage_in_pipeline_as_a_transformer(logs):
    pipe = Pipeline([("scale", StandardScaler()), ("utility", DoublyRobustUtility(random_state=0))])
    U_train = pipe.fit_transform(logs.X, logs.feedback)
    U_new = pipe.transform(logs.X[:10])
    assert U_train.shape == (len(logs.X), 3) and U_new.shape == (10, 3)
    assert list(pipe.get_feature_names_out()) == [f"utility_{m}" for m in pipe[-1].classes_]
    # fit_transform gives the cross-fitted DR estimates, transform the outcome
    # models' predictions (as with scikit-learn's TargetEncoder).
    assert not np.allclose(U_train[:10], U_new)


def test_design_idiom_without_random_state_fits_the_utility_once_per_fold(logs, monkeypatch):
    seen = []
    original = DoublyRobustUtility.fit

    def counting_fit(self, X, y, *args, **kwargs):
        if self.random_state is None:  # the router's stage (the evaluator uses 0)
            seen.append(len(X))
        return original(self, X, y, *args, **kwargs)

    monkeypatch.setattr(DoublyRobustUtility, "fit", counting_fit)
    clear_utility_cache()
    GridSearchCV(
        RegretRouter(utility=DoublyRobustUtility(), **FAST),
        {"temperature": [0.5, 1.0, 2.0]},
        cv=KFold(2),
    ).fit(logs.X, logs.feedback)
    # One fit per fold plus the refit on all rows, whatever the number of temperatures;
    # with recorded propensities, the fallback check's unclipped stage is the same
    # fit reweighted (no second fit).
    assert sorted(seen) == [450, 450, 900]


@pytest.mark.parametrize(
    "make, key, stage",
    [
        (lambda: PropensityModel(), "estimator__C", LogisticRegression()),
        (lambda: DoublyRobustUtility(), "quality_model__alpha", Ridge()),
        (lambda: RegretRouter(), "utility__clip", DoublyRobustUtility()),
        (lambda: IntervalRouter(), "utility__clip", DoublyRobustUtility()),
        (lambda: DecoupledRouter(), "cost_model__alpha", Ridge()),
        (lambda: SingleModelRouter(), "utility__clip", DoublyRobustUtility()),
        (lambda: ImitationRouter(), "estimator__C", LogisticRegression()),
        (lambda: CarrotRouter(), "quality_model__alpha", Ridge()),
    ],
)
def test_every_stage_built_in_fit_explains_nested_keys(make, key, stage):
    # scikit-learn's own error would be a bare AttributeError on None
    est = make()
    name, attr = type(est).__name__, key.split("__")[0]
    with pytest.raises(ValueError, match=rf"GridSearchCV\({name}\({attr}=\w+\(\)\), \{{'{key}'"):
        est.set_params(**{key: 1})
    # the documented idiom: pass the stage explicitly, then its parameters are reachable
    value = (5, 95) if key.endswith("clip") else 0.5
    est = make().set_params(**{attr: stage})
    est.set_params(**{key: value})
    assert est.get_params()[key] == value


def test_pipeline_routes_and_updates_through_its_last_step():
    from sklearn.preprocessing import StandardScaler

    from sklearn_causal_routing import DoublyRobustUtility, Pipeline, RegretRouter

    world = RoutingWorld(n_models=3, random_state=0)
    day1 = world.sample(600, random_state=1).log(random_state=2)
    day2 = world.sample(600, random_state=3).log(random_state=4)
    pipe = Pipeline([("scale", StandardScaler()),
                     ("router", RegretRouter(hidden_layer_sizes=(8,), max_epochs=5,
                                             fallback=None, random_state=0))])
    pipe.fit(day1.X, day1.feedback)
    Xt = pipe[0].transform(day2.X)
    got = pipe.route(day2.X, exploration=0.2, random_state=7)
    want = pipe[-1].route(Xt, exploration=0.2, random_state=7)
    np.testing.assert_array_equal(got.model, want.model)
    np.testing.assert_allclose(got.propensity, want.propensity)
    mean_before = pipe[0].mean_.copy()
    fb = day2.feedback
    pipe.partial_fit(day2.X, fb["action"], fb["quality"], cost=fb["cost"],
                     propensity=fb["propensity"])
    assert pipe[-1].n_updates_ == 1 and pipe[-1].history_.X.shape[0] == 1200
    np.testing.assert_array_equal(pipe[0].mean_, mean_before)  # earlier steps not refitted
    # a last step without route / partial_fit: the pipeline has neither
    stage = Pipeline([("scale", StandardScaler()), ("utility", DoublyRobustUtility())])
    assert not hasattr(stage, "route") and not hasattr(stage, "partial_fit")
