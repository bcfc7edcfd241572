"""Pooled outcome models (sklearn_causal_routing.outcome)."""

import pickle

import joblib
import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import RidgeCV
from sklearn.neural_network import MLPRegressor

from sklearn_causal_routing import DoublyRobustUtility
from sklearn_causal_routing.datasets import RoutingWorld
from sklearn_causal_routing.outcome import PooledMLP, PooledRidge, is_pooled

# --------------------------------------------------------------------------- #
# PooledMLP: one shared network, one head per model
# --------------------------------------------------------------------------- #

K = 6
FAST = dict(hidden_layer_sizes=(16,), max_epochs=5, random_state=0)


def _shared_structure(n, rng, k=K, d=6):
    """Outcomes sharing a nonlinear function of x, plus per-model offsets and slopes."""
    X = rng.normal(size=(n, d))
    f = np.sin(2 * X[:, 0]) + X[:, 1] * X[:, 2] + 0.5 * np.abs(X[:, 3])
    Y = f[:, None] + np.linspace(-1, 1, k) + 0.3 * np.outer(X[:, 4], np.linspace(-1, 1, k))
    return X, Y


@pytest.fixture(scope="module")
def few_rows():
    """40 logged rows per model (240 in all) and a large noiseless test set."""
    rng = np.random.default_rng(0)
    X, Y = _shared_structure(240, rng)
    models = rng.permutation(np.arange(240) % K)
    y = Y[np.arange(240), models] + 0.3 * rng.normal(size=240)
    X_test, Y_test = _shared_structure(2000, rng)
    return X, y, models, X_test, Y_test


@pytest.fixture(scope="module")
def fitted(few_rows):
    X, y, models, _, _ = few_rows
    return PooledMLP(**FAST).fit(X, y, models)


def test_pooling_beats_independent_fits_when_each_model_has_few_rows(few_rows):
    X, y, models, X_test, Y_test = few_rows
    pooled = PooledMLP(lr=1e-2, validation_fraction=None, max_epochs=100, random_state=0)
    mse_pooled = np.mean((pooled.fit(X, y, models).predict(X_test) - Y_test) ** 2)
    mse_separate = {}
    for name, make in {
        "ridge": RidgeCV,
        "mlp": lambda: MLPRegressor(hidden_layer_sizes=(64,), max_iter=2000, random_state=0),
    }.items():
        pred = np.column_stack(
            [make().fit(X[models == t], y[models == t]).predict(X_test) for t in range(K)]
        )
        mse_separate[name] = np.mean((pred - Y_test) ** 2)
    mse_linear = np.mean((PooledRidge().fit(X, y, models).predict(X_test) - Y_test) ** 2)
    # about 0.2 against 1.2 (per-model MLPs), 1.8 (per-model ridges), 1.7 (pooled ridge)
    assert mse_pooled < 0.5 * min(mse_separate.values()), (mse_pooled, mse_separate)
    assert mse_pooled < 0.5 * mse_linear, (mse_pooled, mse_linear)


def test_predict_shapes_and_model_selection(few_rows, fitted):
    X, y, models, _, _ = few_rows
    full = fitted.predict(X)
    assert full.shape == (240, K) and full.dtype == np.float64
    np.testing.assert_array_equal(fitted.predict(X, models), full[np.arange(240), models])
    assert fitted.predict(X[:1]).shape == (1, K)
    assert np.isfinite(fitted.score(X, y, models))
    assert fitted.n_models_ == K and fitted.n_features_in_ == X.shape[1]
    assert fitted.n_rows_.tolist() == [40] * K
    assert 1 <= fitted.n_epochs_ <= 5
    assert is_pooled(fitted)


def test_predictions_are_in_the_targets_units(few_rows):
    X, y, models, _, _ = few_rows
    scale, shift = 1e-4, 3e-4  # costs in USD
    est = PooledMLP(lr=1e-2, validation_fraction=None, max_epochs=30, random_state=0)
    small = est.fit(X, shift + scale * y, models).predict(X)
    plain = clone(est).fit(X, y, models).predict(X)
    np.testing.assert_allclose(small, shift + scale * plain, rtol=1e-4, atol=1e-9)


def test_low_rank_heads(few_rows):
    X, y, models, _, _ = few_rows
    est = PooledMLP(rank=2, **FAST).fit(X, y, models)
    assert est.net_.module_.embedding.shape == (K, 2)
    assert est.predict(X).shape == (240, K)


def test_deterministic_with_an_int_random_state(few_rows, fitted):
    X, y, models, _, _ = few_rows
    again = PooledMLP(**FAST).fit(X, y, models)
    np.testing.assert_array_equal(again.predict(X), fitted.predict(X))
    other = PooledMLP(**{**FAST, "random_state": 1}).fit(X, y, models)
    assert not np.allclose(other.predict(X), fitted.predict(X))


def test_pickle_joblib_and_clone(few_rows, fitted, tmp_path):
    X = few_rows[0]
    again = pickle.loads(pickle.dumps(fitted))
    np.testing.assert_array_equal(again.predict(X), fitted.predict(X))
    joblib.dump(fitted, tmp_path / "pooled.joblib")
    np.testing.assert_array_equal(joblib.load(tmp_path / "pooled.joblib").predict(X),
                                  fitted.predict(X))
    twin = clone(fitted)
    assert twin.get_params() == fitted.get_params() and not hasattr(twin, "net_")


def test_a_model_without_rows_gets_the_shared_head_and_the_mean(few_rows):
    X, y, models, _, _ = few_rows
    est = PooledMLP(**FAST).fit(X, y, models, n_models=K + 1)
    pred = est.predict(X)
    assert pred.shape == (240, K + 1) and np.isfinite(pred).all()
    assert est.n_rows_[-1] == 0
    module = est.net_.module_
    assert float(module.intercept[-1].detach()) == 0.0  # the mean outcome, standardised
    assert not module.deviation[:, -1].any()  # the shared head


@pytest.mark.parametrize(
    "kwargs, models, match",
    [
        ({}, np.zeros(10), "models must be an int array"),
        ({}, np.zeros(9, dtype=int), r"shape \(10,\)"),
        ({"n_models": 2}, np.arange(10) % 3, r"indices in \[0, 1\]"),
        ({}, np.arange(10) % 3 - 1, r"indices in \[0, 1\]; got values from -1"),
    ],
)
def test_bad_models_are_named(kwargs, models, match):
    X = np.random.default_rng(0).normal(size=(10, 3))
    with pytest.raises(ValueError, match=match):
        PooledMLP(**FAST).fit(X, np.arange(10.0), models, **kwargs)


def test_bad_models_at_predict_are_named(few_rows, fitted):
    X = few_rows[0][:5]
    with pytest.raises(ValueError, match=r"indices in \[0, 5\]"):
        fitted.predict(X, models=np.array([0, 1, 2, 3, 6]))
    with pytest.raises(ValueError, match="models must be an int array"):
        fitted.predict(X, models=np.zeros(5))
    with pytest.raises(ValueError, match=r"shape \(5,\)"):
        fitted.predict(X, models=np.zeros(4, dtype=int))


@pytest.mark.parametrize(
    "params, match",
    [
        ({"alpha": -1.0}, "'alpha' parameter of PooledMLP"),
        ({"lr": 0.0}, "'lr' parameter of PooledMLP"),
        ({"rank": 0}, "'rank' parameter of PooledMLP"),
        ({"hidden_layer_sizes": (8, 0)}, "hidden_layer_sizes must hold positive"),
    ],
)
def test_bad_parameters_are_named(params, match):
    X = np.random.default_rng(0).normal(size=(10, 3))
    with pytest.raises(ValueError, match=match):
        PooledMLP(**params).fit(X, np.arange(10.0), np.arange(10) % 2)


def test_predict_before_fit_raises():
    with pytest.raises(NotFittedError):
        PooledMLP().predict(np.zeros((2, 3)))


def test_doubly_robust_utility_with_pooled_mlps():
    world = RoutingWorld(n_models=3, random_state=0)
    logs = world.sample(600, random_state=1).log(random_state=2)
    net = PooledMLP(hidden_layer_sizes=(16,), max_epochs=10, random_state=0)
    dr = DoublyRobustUtility(quality_model=net, cost_model=clone(net), cv=2, random_state=0)
    dr.fit(logs.X, logs.feedback)
    assert all(is_pooled(fold["quality"]) for fold in dr.outcome_models_)
    quality, cost = dr.predict_outcomes(logs.X[:50])
    assert quality.shape == cost.shape == (50, 3)
    assert np.isfinite(quality).all() and np.isfinite(cost).all()


def test_verbose_epoch_table_goes_to_stderr_like_the_policies(few_rows, capsys):
    X, y, models, _, _ = few_rows
    PooledMLP(**{**FAST, "max_epochs": 2}, verbose=1).fit(X, y, models)
    out, err = capsys.readouterr()
    assert out == "" and "epoch" in err and "valid_loss" in err
    assert "\x1b[" not in err  # captured stderr is not a terminal: plain text
