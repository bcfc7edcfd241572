"""Fitting and routing on Dask collections (docs/scaling.md), on a two-worker cluster."""

import pickle
import subprocess
import sys
import warnings

import numpy as np
import pytest

from sklearn_causal_routing import (
    DoublyRobustUtility,
    IntegrativeUtility,
    IntervalRouter,
    PropensityModel,
    RegretRouter,
    feedback_from_frame,
    make_feedback,
)
from sklearn_causal_routing.datasets import RoutingWorld

da = pytest.importorskip(
    "dask.array", reason="the Dask tests need the 'dask' extra: pip install -e '.[dask]'"
)
distributed = pytest.importorskip(
    "distributed", reason="the Dask tests need the 'dask' extra: pip install -e '.[dask]'"
)

SEED = 0


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    """A LocalCluster of two single-threaded worker processes."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cluster = distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
            local_directory=str(tmp_path_factory.mktemp("dask")),
        )
    with distributed.Client(cluster) as c:
        yield c
    cluster.close()


@pytest.fixture(scope="module")
def world():
    table = RoutingWorld(random_state=SEED).sample(3000, random_state=SEED)
    logs = table.log("confounded", random_state=SEED)
    return table, logs


def _lazy(logs, rows=700):
    return (da.from_array(logs.X, chunks=(rows, -1)),
            da.from_array(logs.feedback, chunks=(rows,)))


def _same_folds(stage):
    """The in-memory splits of a Dask-fitted stage's folds."""
    return [(np.flatnonzero(stage.folds_ != f), np.flatnonzero(stage.folds_ == f))
            for f in range(int(stage.folds_.max()) + 1)]


def _assert_same_feedback(a, b):
    assert a.dtype == b.dtype
    for field in a.dtype.names:
        np.testing.assert_array_equal(a[field], b[field])


def test_make_feedback_on_dask_columns_equals_numpy(world):
    _, logs = world
    fb = logs.feedback
    lazy = make_feedback(
        da.from_array(fb["action"].astype(object), chunks=500), da.from_array(fb["quality"], chunks=500),
        cost=da.from_array(fb["cost"], chunks=500), propensity=fb["propensity"],
    )
    assert lazy.numblocks == (6,)
    _assert_same_feedback(lazy.compute(), make_feedback(
        fb["action"], fb["quality"], cost=fb["cost"], propensity=fb["propensity"]))


def test_feedback_from_a_dask_dataframe(world):
    pd = pytest.importorskip("pandas")
    dd = pytest.importorskip("dask.dataframe")
    _, logs = world
    fb = logs.feedback
    frame = pd.DataFrame({"model": fb["action"], "grade": fb["quality"], "usd": fb["cost"]})
    lazy = feedback_from_frame(dd.from_pandas(frame, npartitions=3), quality="grade", cost="usd")
    _assert_same_feedback(lazy.compute(), feedback_from_frame(frame, quality="grade", cost="usd"))


def test_bad_values_in_a_dask_column_are_named_when_computed():
    lazy = make_feedback(da.from_array(np.array(["a", "b"] * 3), chunks=3),
                         da.from_array(np.array([1.0, np.nan, 0, 1, 0, 1]), chunks=3))
    with pytest.raises(ValueError, match=r"y \(quality\) contains 1 NaN"):
        lazy.compute()


def test_utility_stage_agrees_with_memory_on_the_same_folds(world):
    _, logs = world
    X, fb = _lazy(logs)
    stage = DoublyRobustUtility(random_state=SEED).fit(X, fb)
    assert stage.quality_.shape == (3000, len(stage.classes_))
    assert hasattr(stage.quality_, "dask")  # lazy, never held whole
    memory = DoublyRobustUtility(random_state=SEED, cv=_same_folds(stage)).fit(logs.X, logs.feedback)
    np.testing.assert_allclose(stage.quality_.compute(), memory.quality_, rtol=0, atol=1e-9)
    np.testing.assert_allclose(stage.cost_.compute(), memory.cost_, rtol=0, atol=1e-9)
    assert stage.clip_bounds_ == pytest.approx(memory.clip_bounds_)
    for fold, fold_memory in zip(stage.outcome_models_, memory.outcome_models_):
        for a, b in zip(fold["quality"], fold_memory["quality"]):
            assert a.alpha_ == b.alpha_  # exact leave-one-out from sufficient statistics
            np.testing.assert_allclose(a.coef_, b.coef_, atol=1e-9)
    np.testing.assert_allclose(stage.predict(logs.X[:50]), memory.predict(logs.X[:50]), atol=1e-9)


def test_dask_folds_are_stratified_within_partitions(world):
    _, logs = world
    X, fb = _lazy(logs)
    stage = DoublyRobustUtility(random_state=SEED).fit(X, fb)
    codes = np.searchsorted(stage.classes_, logs.feedback["action"])
    for j in range(len(stage.classes_)):
        per_fold = np.bincount(stage.folds_[codes == j], minlength=3)
        assert per_fold.max() - per_fold.min() <= X.numblocks[0]  # at most one per partition


def test_estimated_propensities_need_a_client(world):
    # before any test that starts the module's cluster
    _, logs = world
    fb = logs.feedback.copy()
    fb["propensity"] = np.nan
    X, _ = _lazy(logs)
    with pytest.raises(ValueError, match="needs a dask.distributed Client"):
        DoublyRobustUtility(random_state=SEED).fit(X, da.from_array(fb, chunks=(700,)))


def test_estimated_propensities_through_xgboost_dask(world, client):
    _, logs = world
    fb = logs.feedback.copy()
    fb["propensity"] = np.nan
    X, fbd = _lazy(logs)
    fbd = da.from_array(fb, chunks=(700,))
    stage = DoublyRobustUtility(random_state=SEED).fit(X, fbd)
    assert not stage.logged_propensity_
    memory = DoublyRobustUtility(random_state=SEED, cv=_same_folds(stage)).fit(logs.X, fb)
    # distributed XGBoost is not the single-machine one: close, not equal
    assert np.corrcoef(stage.propensity_, memory.propensity_)[0, 1] > 0.9
    np.testing.assert_allclose(stage.quality_.mean(axis=0).compute(),
                               memory.quality_.mean(axis=0), atol=0.03)


def test_utility_stage_on_the_cluster_equals_the_threaded_one(world, client):
    import dask

    _, logs = world
    X, fb = _lazy(logs)
    on_cluster = DoublyRobustUtility(random_state=SEED).fit(X, fb)  # decompositions scattered
    with dask.config.set(scheduler="threads"):
        threaded = DoublyRobustUtility(random_state=SEED).fit(X, fb)
        np.testing.assert_allclose(on_cluster.quality_.compute(), threaded.quality_.compute(),
                                   rtol=0, atol=1e-12)
    assert [m.alpha_ for m in on_cluster.outcome_models_[0]["quality"]] == [
        m.alpha_ for m in threaded.outcome_models_[0]["quality"]]


def test_other_outcome_models_are_refused_on_dask(world):
    from sklearn.linear_model import Ridge

    _, logs = world
    with pytest.raises(ValueError, match="quality_model=Ridge"):
        DoublyRobustUtility(quality_model=Ridge()).fit(*_lazy(logs))


@pytest.fixture(scope="module")
def dask_router(world, client):
    _, logs = world
    X, fb = _lazy(logs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return RegretRouter(random_state=SEED, max_epochs=15).fit(X, fb)


def test_router_on_dask_is_as_good_as_in_memory(world, dask_router):
    table, logs = world
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        memory = RegretRouter(random_state=SEED, max_epochs=15).fit(logs.X, logs.feedback)
    test = RoutingWorld(random_state=SEED).sample(2000, random_state=SEED + 1)  # same world

    def value(router):
        return test.value(router.policy_predict(test.X))

    assert dask_router.history_ is None and dask_router.fallback_report_ is not None
    assert dask_router.fallback_report_.best_single == memory.fallback_report_.best_single
    # each model's support: the same effective sample size of the logged propensities
    np.testing.assert_allclose(dask_router.fallback_report_.single_support,
                               memory.fallback_report_.single_support)
    assert value(dask_router) == pytest.approx(value(memory), abs=0.02)
    # the world has routing signal: the check keeps both policies, which beat the best
    # single model; their reference values (one standard error) agree
    assert dask_router.fallback_ is None and memory.fallback_ is None
    best_single = max(test.single_model_values().values())
    assert value(dask_router) > best_single + 0.02
    assert dask_router.reference_value_.std_error == pytest.approx(
        memory.reference_value_.std_error, rel=0.25)


def test_early_stopping_holds_out_whole_partitions_when_there_are_enough(world, monkeypatch):
    """20 partitions: 2 whole ones validate, the 18 others train; each partition is
    computed by one stream only, and the router routes as well as in memory."""
    from sklearn_causal_routing import _dask_policy

    table, logs = world
    X, fb = _lazy(logs, rows=150)
    loads = []
    load = _dask_policy._PartitionStream._load

    def spy(self, i):
        loads.append((self.shuffle, int(i)))  # the validation stream does not shuffle
        return load(self, i)

    monkeypatch.setattr(_dask_policy._PartitionStream, "_load", spy)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        router = RegretRouter(random_state=SEED, max_epochs=15, fallback=None).fit(X, fb)
        memory = RegretRouter(random_state=SEED, max_epochs=15, fallback=None).fit(
            logs.X, logs.feedback)
    held = _dask_policy.holdout_partitions(20, 0.1, SEED)
    assert held.size == 2
    assert {i for shuffled, i in loads if not shuffled} == set(held.tolist())
    assert {i for shuffled, i in loads if shuffled} == set(range(20)) - set(held.tolist())
    assert "valid_loss" in router.policy_.history[-1]
    test = RoutingWorld(random_state=SEED).sample(2000, random_state=SEED + 1)
    dask_value, memory_value = (test.value(r.predict(test.X)) for r in (router, memory))
    assert dask_value == pytest.approx(memory_value, abs=0.02)
    assert dask_value > max(test.single_model_values().values()) + 0.02


def test_predict_on_dask_is_lazy_and_equals_numpy(world, dask_router):
    test = RoutingWorld(random_state=SEED).sample(1000, random_state=SEED + 2)  # same world
    lazy = dask_router.predict(da.from_array(test.X, chunks=(300, -1)))
    assert hasattr(lazy, "dask")
    np.testing.assert_array_equal(lazy.compute(), dask_router.predict(test.X))
    proba = dask_router.predict_proba(da.from_array(test.X, chunks=(300, -1)))
    np.testing.assert_allclose(proba.compute(), dask_router.predict_proba(test.X))


def _score_stage(logs):
    """In memory, the evaluation stage that ``score`` fits on the Dask logs (unclipped,
    as propensities are logged; random_state=0), on the same folds."""
    folds = DoublyRobustUtility(clip=None, random_state=0).fit(*_lazy(logs))
    stage = DoublyRobustUtility(clip=None, random_state=0, cv=_same_folds(folds))
    return stage.fit(logs.X, logs.feedback)


def test_score_on_dask_is_the_dr_value_on_the_same_folds(world, dask_router):
    _, logs = world
    X, fb = _lazy(logs)
    lazy = dask_router.score(X, fb)
    assert hasattr(lazy, "dask")
    stage = _score_stage(logs)
    U = stage.utilities(dask_router.cost_weight)
    chosen = np.searchsorted(stage.classes_, dask_router.predict(logs.X))
    assert float(lazy.compute()) == pytest.approx(U[np.arange(len(U)), chosen].mean(), abs=1e-9)


def test_pickled_dask_fitted_router_routes_numpy_in_a_fresh_process(world, dask_router, tmp_path):
    test = RoutingWorld(random_state=SEED).sample(200, random_state=SEED + 3)  # same world
    path = tmp_path / "router.pkl"
    path.write_bytes(pickle.dumps(dask_router))
    np.save(tmp_path / "X.npy", test.X)
    code = (
        "import pickle, sys, numpy as np; r = pickle.load(open(sys.argv[1], 'rb')); "
        "print(','.join(map(str, r.predict(np.load(sys.argv[2])))))"
    )
    out = subprocess.run([sys.executable, "-c", code, str(path), str(tmp_path / "X.npy")],
                         capture_output=True, text=True, check=True)
    assert out.stdout.strip().split(",") == [str(v) for v in dask_router.predict(test.X)]
    assert len(path.read_bytes()) < 2_000_000


@pytest.mark.parametrize("fitted", ["dask_router", "dask_interval"])
def test_pickled_dask_fitted_router_holds_no_logs(world, fitted, request):
    """The stage's lazy utilities are graphs over the logs: a pickle leaves them out."""
    _, logs = world
    router = request.getfixturevalue(fitted)
    blob = pickle.dumps(router)
    for rows in (slice(0, 20), slice(1400, 1420)):  # in the first and third partitions
        assert logs.X[rows].tobytes() not in blob
        assert logs.feedback[rows].tobytes() not in blob
    stage = pickle.loads(blob).utility_
    assert hasattr(router.utility_.quality_, "dask")  # the fitted object keeps them
    with pytest.raises(ValueError, match="fitted on Dask collections and then pickled"):
        stage.utilities()
    np.testing.assert_allclose(stage.predict_outcomes(logs.X[:5])[0],
                               router.utility_.predict_outcomes(logs.X[:5])[0])


INTERVAL = dict(cost_weight_range=(0.0, 1.0), hidden_layer_sizes=(64,), max_epochs=15,
                random_state=SEED)


@pytest.fixture(scope="module")
def dask_interval(world, client):
    _, logs = world
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return IntervalRouter(**INTERVAL).fit(*_lazy(logs))


def test_interval_router_on_dask_is_as_good_as_in_memory(world, dask_interval):
    _, logs = world
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        memory = IntervalRouter(**INTERVAL).fit(logs.X, logs.feedback)
    test = RoutingWorld(random_state=SEED).sample(2000, random_state=SEED + 1)  # same world
    # the spreads at the grid points come from one pass of sums (other folds: close)
    np.testing.assert_allclose(dask_interval.utility_scales_, memory.utility_scales_, rtol=0.05)
    on_dask, in_memory, best_single = [], [], []
    for c in dask_interval.grid_:
        on_dask.append(test.value(dask_interval.predict(test.X, c), cost_weight=c))
        in_memory.append(test.value(memory.predict(test.X, c), cost_weight=c))
        best_single.append(max(test.single_model_values(cost_weight=c).values()))
    # minibatch order and validation rows differ: close over the range, not equal
    assert np.mean(on_dask) == pytest.approx(np.mean(in_memory), abs=0.02)
    np.testing.assert_allclose(on_dask, in_memory, atol=0.04)
    # the world has routing signal at every cost weight: both beat the best single model
    assert np.all(np.array(on_dask) > np.array(best_single) + 0.02)


def test_interval_router_routes_dask_input_lazily(world, dask_interval):
    test = RoutingWorld(random_state=SEED).sample(1000, random_state=SEED + 2)
    X = da.from_array(test.X, chunks=(300, -1))
    weights = np.linspace(0.0, 1.0, len(test.X))
    for cost_weight in (0.3, weights, da.from_array(weights, chunks=250)):
        local = weights if hasattr(cost_weight, "dask") else cost_weight
        lazy = dask_interval.predict(X, cost_weight=cost_weight)
        assert hasattr(lazy, "dask")
        np.testing.assert_array_equal(lazy.compute(), dask_interval.predict(test.X, local))
        np.testing.assert_allclose(dask_interval.predict_proba(X, cost_weight).compute(),
                                   dask_interval.predict_proba(test.X, local))
    sweep = dask_interval.predict_sweep(X, [0.0, 0.5, 1.0])
    assert sweep.shape == (3, len(test.X))
    np.testing.assert_array_equal(sweep.compute(),
                                  dask_interval.predict_sweep(test.X, [0.0, 0.5, 1.0]))
    with pytest.raises(ValueError, match="cost_weight"):
        dask_interval.predict(X, cost_weight=2.0).compute()
    with pytest.raises(ValueError, match="one per query"):
        dask_interval.predict(X, cost_weight=weights[:10])


def test_interval_score_on_dask_is_the_grid_mean_of_dr_values(world, dask_interval):
    _, logs = world
    X, fb = _lazy(logs)
    lazy = dask_interval.score(X, fb)
    assert hasattr(lazy, "dask")
    stage = _score_stage(logs)
    values = []
    for c in dask_interval.grid_:
        U = stage.utilities(c)
        chosen = np.searchsorted(stage.classes_, dask_interval.predict(logs.X, c))
        values.append(U[np.arange(len(U)), chosen].mean())
    assert float(lazy.compute()) == pytest.approx(np.mean(values), abs=1e-9)
    at = dask_interval.score(X, fb, cost_weight=0.5).compute()
    assert float(at) == pytest.approx(np.mean(values[2]), abs=1e-9)  # 0.5 is grid_[2]


@pytest.mark.parametrize("estimator", [PropensityModel(), IntegrativeUtility()],
                         ids=["PropensityModel", "IntegrativeUtility"])
def test_fits_without_a_dask_path_refuse_dask_input_by_name(world, estimator):
    _, logs = world
    X, fb = _lazy(logs)
    with pytest.raises(TypeError, match=r"X is a Dask collection.*X\.compute\(\)"):
        estimator.fit(X, fb)


def test_fit_on_data_bigger_than_the_workers_memory_spills(tmp_path):
    """Persisted features of twice the workers' memory limit spill to disk; the fit ends."""
    import dask

    limit = 64 * 2**20
    # spill by the managed-memory target only: no pause, no restart of a worker whose
    # process (Python, numpy, torch) alone is near this small limit
    settings = {"distributed.worker.memory.pause": False,
                "distributed.worker.memory.terminate": False}
    with dask.config.set(settings), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cluster = distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
            memory_limit=limit, local_directory=str(tmp_path),
        )
        try:
            with distributed.Client(cluster) as c:
                n, d, rows = 132_000, 256, 6_000  # 270 MB: twice 2 workers x 64 MiB
                X = da.random.default_rng(SEED).standard_normal((n, d), chunks=(rows, d))
                assert X.nbytes >= 2 * 2 * limit
                t = da.from_array(np.resize(np.array(["a", "b", "c"]), n), chunks=rows)
                quality = X[:, 0] * (t == "a") + X[:, 1] * (t == "b") + 0.1
                fb = make_feedback(t, quality, cost=(t == "c") * 1.0,
                                   propensity=da.full(n, 1 / 3, chunks=rows))
                X = X.persist()
                distributed.wait(X)
                spilled = c.run(lambda dask_worker: len(dask_worker.data.slow))
                assert sum(spilled.values()) > 0, spilled
                stage = DoublyRobustUtility(random_state=SEED).fit(X, fb)
                U = stage.utilities().mean(axis=0).compute()
        finally:
            cluster.close()
    # every model's true mean quality is 0.1; the DR means recover it
    np.testing.assert_allclose(U, [0.1, 0.1, 0.1], atol=0.03)
