"""PooledRidge: the multi-task ridge outcome model, alone and inside the stages."""

import pickle

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.linear_model import Ridge, RidgeCV

from sklearn_causal_routing import DoublyRobustUtility
from sklearn_causal_routing.baselines import CarrotRouter, DecoupledRouter
from sklearn_causal_routing.outcome import PooledRidge, is_pooled


def _multitask(n=1500, d=20, k=5, deviation=0.3, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    models = rng.integers(0, k, n)
    shared = rng.normal(size=d)
    slopes = shared + deviation * rng.normal(size=(k, d))
    offsets = np.linspace(0, 1, k)

    def truth(X, models):
        return np.einsum("nd,nd->n", X, slopes[models]) + offsets[models]

    y = truth(X, models) + rng.normal(size=n)
    return X, y, models, truth


def _augmented_ridge(X, y, models, k, alpha, lam):
    """Ridge on per-model-centred [x, x * one_hot(model)] with two penalties, by hand."""
    d = X.shape[1]
    xbar = np.array([X[models == t].mean(0) for t in range(k)])
    ybar = np.array([y[models == t].mean() for t in range(k)])
    Xc, yc = X - xbar[models], y - ybar[models]
    blocks, pens = [], []
    if np.isfinite(alpha):
        blocks.append(Xc)
        pens += [alpha] * d
    if np.isfinite(lam):
        blocks += [Xc * (models == t)[:, None] for t in range(k)]
        pens += [lam] * (d * k)
    Z = np.hstack(blocks)
    w = np.linalg.solve(Z.T @ Z + np.diag(pens), Z.T @ yc)
    shared = w[:d] if np.isfinite(alpha) else np.zeros(d)
    rest = w[d:] if np.isfinite(alpha) else w
    slopes = shared + (rest.reshape(k, d) if np.isfinite(lam) else np.zeros((k, d)))
    return lambda Xn: np.einsum("ntd,td->nt", Xn[:, None, :] - xbar[None], slopes) + ybar


@pytest.mark.parametrize("alpha, lam", [(1.0, 9.0), (10.0, 0.5), (np.inf, 3.0), (2.0, np.inf)])
def test_solution_equals_the_augmented_ridge(alpha, lam):
    X, y, models, _ = _multitask(n=400, d=6, k=3)
    est = PooledRidge(alphas=[alpha], model_alphas=[lam]).fit(X, y, models)
    by_hand = _augmented_ridge(X, y, models, 3, alpha, lam)
    np.testing.assert_allclose(est.predict(X[:50]), by_hand(X[:50]), atol=1e-9)


def test_no_shared_part_is_independent_per_model_ridges():
    X, y, models, _ = _multitask(n=600, d=8, k=3)
    est = PooledRidge(alphas=[np.inf], model_alphas=[2.0]).fit(X, y, models)
    for t in range(3):
        ridge = Ridge(alpha=2.0).fit(X[models == t], y[models == t])
        np.testing.assert_allclose(est.predict(X[:20])[:, t], ridge.predict(X[:20]), atol=1e-9)


def test_cross_validation_reads_how_much_the_slopes_differ():
    X, y, models, _ = _multitask(deviation=0.0, seed=1)
    shared = PooledRidge().fit(X, y, models)
    X, y, models, _ = _multitask(deviation=3.0, seed=1)
    separate = PooledRidge().fit(X, y, models)
    assert shared.model_alpha_ >= 100  # identical slopes: deviations shrunk away
    assert separate.model_alpha_ <= 1  # very different slopes: deviations kept
    assert shared.cv_mse_.shape == (7, 7)


def test_pooling_beats_per_model_ridge_when_each_model_has_few_rows():
    X, y, models, truth = _multitask(n=400, d=30, k=8, deviation=0.2, seed=2)
    rng = np.random.default_rng(3)
    X_new = rng.normal(size=(4000, 30))
    m_new = rng.integers(0, 8, 4000)
    target = truth(X_new, m_new)
    pooled = PooledRidge().fit(X, y, models).predict(X_new, m_new)
    alphas = np.logspace(-2, 3, 6)
    per_model = np.column_stack([
        RidgeCV(alphas=alphas).fit(X[models == t], y[models == t]).predict(X_new)
        for t in range(8)
    ])[np.arange(4000), m_new]
    mse_pooled = np.mean((pooled - target) ** 2)
    mse_separate = np.mean((per_model - target) ** 2)
    # ~50 rows per model in 30 dimensions: per-model fits are far noisier
    assert mse_pooled < 0.5 * mse_separate


def test_a_model_without_rows_gets_the_shared_slope_and_the_mean():
    X, y, models, _ = _multitask(n=500, d=5, k=3, deviation=0.0)
    est = PooledRidge().fit(X, y, models, n_models=4)
    pred = est.predict(X[:10])
    assert pred.shape == (10, 4)
    assert est.n_rows_.tolist()[-1] == 0
    np.testing.assert_allclose(est.coef_[3], est.shared_coef_)
    assert np.all(np.isfinite(pred))


def test_predict_with_models_gathers_each_rows_column():
    X, y, models, _ = _multitask(n=300, d=4, k=3)
    est = PooledRidge().fit(X, y, models)
    full = est.predict(X)
    np.testing.assert_allclose(est.predict(X, models), full[np.arange(300), models])
    assert -1 < est.score(X, y, models) <= 1


def test_clone_and_pickle():
    X, y, models, _ = _multitask(n=300, d=4, k=3)
    est = PooledRidge(cv=4).fit(X, y, models)
    again = pickle.loads(pickle.dumps(est))
    np.testing.assert_array_equal(again.predict(X), est.predict(X))
    assert clone(est).get_params() == est.get_params()
    assert is_pooled(est) and not is_pooled(Ridge())


@pytest.mark.parametrize(
    "kwargs, models, match",
    [
        ({}, np.zeros(10), "models must be an int array"),
        ({}, np.zeros(9, dtype=int), r"shape \(10,\)"),
        ({"n_models": 2}, np.arange(10) % 3, r"indices in \[0, 1\]"),
    ],
)
def test_bad_models_are_named(kwargs, models, match):
    X = np.random.default_rng(0).normal(size=(10, 3))
    with pytest.raises(ValueError, match=match):
        PooledRidge().fit(X, np.arange(10.0), models, **kwargs)


@pytest.mark.parametrize("name", ["alphas", "model_alphas"])
def test_bad_penalty_grid_is_named(name):
    X = np.random.default_rng(0).normal(size=(10, 3))
    with pytest.raises(ValueError, match=f"{name} must be a non-empty"):
        PooledRidge(**{name: [1.0, -1.0]}).fit(X, np.arange(10.0), np.arange(10) % 2)


def test_bad_cv_gets_sklearns_message():
    X = np.random.default_rng(0).normal(size=(10, 3))
    with pytest.raises(ValueError, match="'cv' parameter of PooledRidge"):
        PooledRidge(cv=1).fit(X, np.arange(10.0), np.arange(10) % 2)


def test_predict_before_fit_raises():
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        PooledRidge().predict(np.zeros((2, 3)))


# --- inside the stages ---------------------------------------------------------------


def _pooled_dr(**kw):
    return DoublyRobustUtility(
        quality_model=PooledRidge(), cost_model=PooledRidge(), random_state=0, **kw
    )


def test_dr_with_pooled_outcomes_is_unbiased_for_each_models_mean(
    gaussian_table, gaussian_logs, sorted_columns
):
    dr = _pooled_dr(clip=None).fit(gaussian_logs.X, gaussian_logs.feedback)
    assert all(is_pooled(fold["quality"]) for fold in dr.outcome_models_)
    truth = gaussian_table.utility(0.0)[:, sorted_columns(gaussian_table)].mean(axis=0)
    fb = gaussian_logs.feedback
    naive = np.array([fb["quality"][fb["action"] == m].mean() for m in dr.classes_])
    est = dr.quality_.mean(axis=0)
    se = dr.quality_.std(axis=0, ddof=1) / np.sqrt(len(fb))
    assert (np.abs(est - truth) < 3 * se).all(), (est, truth, se)
    # the margin is tight enough that the biased naive means fail it
    assert (3 * se < np.abs(naive - truth)).all()


def test_plug_in_baselines_take_a_pooled_model(logs):
    dec = DecoupledRouter(quality_model=PooledRidge(), cost_model=PooledRidge()).fit(
        logs.X, logs.feedback
    )
    assert is_pooled(dec.quality_models_)
    assert dec.predict(logs.X[:5]).shape == (5,)
    carrot = CarrotRouter(
        correction="dr", utility=_pooled_dr(), quality_model=PooledRidge(),
        cost_model=PooledRidge(),
    ).fit(logs.X, logs.feedback)
    q, c = carrot.predict_outcomes(logs.X[:5])
    assert q.shape == c.shape == (5, len(carrot.classes_))


def test_integrative_utility_takes_pooled_models():
    from sklearn_causal_routing import IntegrativeUtility
    from sklearn_causal_routing.datasets import add_judge_grades, make_routing_table

    table = make_routing_table(800, random_state=0)
    logs = table.log("confounded", random_state=0)
    judged = add_judge_grades(table, logs, gold_fraction=0.3, random_state=0)
    iu = IntegrativeUtility(
        quality_model=PooledRidge(), cost_model=PooledRidge(), grade_model=PooledRidge(),
        random_state=0,
    ).fit(judged.X, judged.feedback)
    assert is_pooled(iu.outcome_models_[0]["quality"])
    assert np.all(np.isfinite(iu.quality_))


def test_grid_search_reaches_the_pooled_penalties_and_joblib_round_trips(logs, tmp_path):
    import joblib
    from sklearn.model_selection import GridSearchCV

    from sklearn_causal_routing import Pipeline, RegretRouter

    router = RegretRouter(utility=_pooled_dr(), hidden_layer_sizes=(8,), max_epochs=3,
                          fallback=None, random_state=0)
    grid = {"router__utility__quality_model__model_alphas": [(1.0,), (np.inf,)]}
    search = GridSearchCV(Pipeline([("router", router)]), grid, cv=2).fit(
        logs.X[:600], logs.feedback[:600])
    fitted = search.best_estimator_[-1].utility_.outcome_models_[0]["quality"]
    assert fitted.model_alpha_ in (1.0, np.inf)
    path = tmp_path / "router.joblib"
    joblib.dump(search.best_estimator_, path)
    np.testing.assert_array_equal(joblib.load(path).predict(logs.X[:20]),
                                  search.best_estimator_.predict(logs.X[:20]))
