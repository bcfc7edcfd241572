"""n_jobs and joblib backends: the same result for every n_jobs, threads held to the cores.

Every estimator that fits several models runs its independent fits as joblib
tasks (``sklearn_causal_routing.utils._parallel``). These tests check that
``n_jobs=2`` (loky processes, the threading backend, a Dask cluster) gives the
very numbers ``n_jobs=1`` gives, and that inside a task the thread pools of
BLAS, OpenMP and torch are limited to the task's share of the cores.
"""

import warnings

import joblib
import numpy as np
import pytest
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.utils._param_validation import InvalidParameterError
from threadpoolctl import threadpool_info

from sklearn_causal_routing import (
    DoublyRobustUtility,
    IntegrativeUtility,
    IntervalRouter,
    PooledRidge,
    PropensityModel,
    RegretRouter,
    clear_utility_cache,
    make_feedback,
)
from sklearn_causal_routing._utility import _cache_key
from sklearn_causal_routing.baselines import CarrotRouter, DecoupledRouter
from sklearn_causal_routing.datasets import RoutingWorld, add_judge_grades
from sklearn_causal_routing.utils._parallel import (
    available_cores,
    limit_threads,
    thread_budget,
    xgboost_threads,
)

pytestmark = pytest.mark.filterwarnings("ignore")

UTILITY_ARRAYS = ("quality_", "cost_", "outcome_quality_", "outcome_cost_", "propensity_")


@pytest.fixture(scope="module")
def table():
    return RoutingWorld(n_models=3, n_features=8, random_state=0).sample(400, random_state=1)


@pytest.fixture(scope="module")
def logs(table):
    return table.log("confounded", random_state=2)


@pytest.fixture(scope="module")
def unlogged(logs):
    fb = logs.feedback
    return make_feedback(fb["action"], fb["quality"], cost=fb["cost"])


def _fit(estimator, X, fb):
    clear_utility_cache()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return estimator.fit(X, fb)


def _assert_same_stage(a, b):
    for name in UTILITY_ARRAYS:
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)


# -- the same numbers for every n_jobs -------------------------------------------------


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"quality_model": PooledRidge(), "cost_model": PooledRidge()},
        {"method": "ipw", "clip": None},
    ],
    ids=["ridge", "pooled", "ipw"],
)
def test_utility_same_for_every_n_jobs_logged_propensities(logs, params):
    one = _fit(DoublyRobustUtility(random_state=0, n_jobs=1, **params), logs.X, logs.feedback)
    two = _fit(DoublyRobustUtility(random_state=0, n_jobs=2, **params), logs.X, logs.feedback)
    _assert_same_stage(one, two)
    np.testing.assert_array_equal(one.predict(logs.X), two.predict(logs.X))


def test_utility_same_for_every_n_jobs_estimated_propensities(logs, unlogged):
    # A propensity model whose result does not depend on its thread count.
    prop = PropensityModel(LogisticRegression(max_iter=500))
    one = _fit(DoublyRobustUtility(propensity=prop, random_state=0), logs.X, unlogged)
    two = _fit(DoublyRobustUtility(propensity=prop, random_state=0, n_jobs=2), logs.X, unlogged)
    assert not one.logged_propensity_
    _assert_same_stage(one, two)


def test_default_xgboost_propensities_same_for_every_n_jobs(logs, unlogged):
    # XGBoost's histogram sums are float32 and their order follows its thread
    # count, so the default propensities agree to float32 rounding across n_jobs
    # (the outcome models exactly); fixing its threads makes them identical.
    one = _fit(DoublyRobustUtility(random_state=0), logs.X, unlogged)
    two = _fit(DoublyRobustUtility(random_state=0, n_jobs=2), logs.X, unlogged)
    np.testing.assert_array_equal(one.outcome_quality_, two.outcome_quality_)
    np.testing.assert_allclose(one.propensity_, two.propensity_, rtol=0, atol=1e-6)
    fixed = PropensityModel(n_jobs=1)
    three = _fit(DoublyRobustUtility(propensity=fixed, random_state=0), logs.X, unlogged)
    four = _fit(DoublyRobustUtility(propensity=fixed, random_state=0, n_jobs=2), logs.X, unlogged)
    _assert_same_stage(three, four)


def test_threading_backend_same_result_and_limits_restored(logs):
    before = [(p["filepath"], p["num_threads"]) for p in threadpool_info()]
    one = _fit(DoublyRobustUtility(random_state=0), logs.X, logs.feedback)
    with joblib.parallel_config(backend="threading", n_jobs=2):
        two = _fit(DoublyRobustUtility(random_state=0), logs.X, logs.feedback)
    _assert_same_stage(one, two)
    assert [(p["filepath"], p["num_threads"]) for p in threadpool_info()] == before


def test_integrative_same_for_every_n_jobs(table, logs):
    judged = add_judge_grades(table, logs, gold_fraction=0.3, random_state=3)
    one = _fit(IntegrativeUtility(gold_propensity=0.3, random_state=0), judged.X, judged.feedback)
    two = _fit(
        IntegrativeUtility(gold_propensity=0.3, random_state=0, n_jobs=2),
        judged.X, judged.feedback,
    )
    _assert_same_stage(one, two)
    np.testing.assert_array_equal(one.judge_bias_, two.judge_bias_)


def test_regret_router_with_fallback_same_for_every_n_jobs(logs):
    params = dict(
        cost_weight=0.1, hidden_layer_sizes=(8,), max_epochs=4, random_state=0, fallback_cv=2
    )
    one = _fit(RegretRouter(**params), logs.X, logs.feedback)
    two = _fit(RegretRouter(n_jobs=2, **params), logs.X, logs.feedback)
    assert two.utility_.n_jobs == 2  # forwarded to the default stage
    np.testing.assert_array_equal(one.predict_proba(logs.X), two.predict_proba(logs.X))
    np.testing.assert_array_equal(
        one.history_.eval_quality, two.history_.eval_quality
    )
    for key in ("gain", "gain_lcb", "policy_value", "best_single"):
        assert one.fallback_report_[key] == two.fallback_report_[key], key
    X32 = logs.X.astype(np.float32)
    for a, b in zip(one.history_.fold_policies, two.history_.fold_policies):
        np.testing.assert_array_equal(a.predict_proba(X32), b.predict_proba(X32))


def test_router_keeps_the_stages_own_n_jobs(logs):
    router = RegretRouter(
        utility=DoublyRobustUtility(n_jobs=1), n_jobs=2, fallback=None, max_epochs=1,
        hidden_layer_sizes=(4,), random_state=0, keep_history=False,
    )
    assert _fit(router, logs.X, logs.feedback).utility_.n_jobs == 1
    interval = IntervalRouter(
        cost_weight_range=(0, 0.2), n_intervals=1, hidden_layer_sizes=(4,), max_epochs=1,
        random_state=0, n_jobs=-1,
    )
    assert _fit(interval, logs.X, logs.feedback).utility_.n_jobs == -1


@pytest.mark.parametrize(
    "make",
    [
        lambda **kw: DecoupledRouter(cost_weight=0.1, **kw),
        lambda **kw: CarrotRouter(correction="dr", quality_model=Ridge(), cost_weight=0.1, **kw),
    ],
    ids=["decoupled", "carrot-dr"],
)
def test_baselines_same_for_every_n_jobs(logs, make):
    one = _fit(make(), logs.X, logs.feedback)
    two = _fit(make(n_jobs=2), logs.X, logs.feedback)
    for a, b in zip(one.predict_outcomes(logs.X), two.predict_outcomes(logs.X)):
        np.testing.assert_array_equal(a, b)


def test_n_jobs_does_not_change_the_cache_key(logs):
    keys = {
        _cache_key(DoublyRobustUtility(n_jobs=n_jobs, propensity=PropensityModel(n_jobs=n_jobs)),
                   logs.X, logs.feedback)
        for n_jobs in (None, 1, 2, -1)
    }
    assert len(keys) == 1


# -- threads inside a task ----------------------------------------------------------


class ThreadRecorder(RegressorMixin, BaseEstimator):
    """A ridge that records the thread pools it was fitted under."""

    def fit(self, X, y):
        import torch

        self.blas_ = {p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"}
        self.openmp_ = {p["num_threads"] for p in threadpool_info() if p["user_api"] == "openmp"}
        self.torch_ = torch.get_num_threads()
        self.xgboost_ = xgboost_threads()
        self.ridge_ = Ridge().fit(X, y)
        return self

    def predict(self, X):
        return self.ridge_.predict(X)


@pytest.mark.parametrize("n_jobs", [1, 2])
def test_thread_limits_in_force_inside_a_task(logs, n_jobs):
    stage = _fit(
        DoublyRobustUtility(quality_model=ThreadRecorder(), n_jobs=n_jobs, random_state=0),
        logs.X, logs.feedback,
    )
    budget = max(1, available_cores() // min(n_jobs, available_cores()))
    recorded = [m for fold in stage.outcome_models_ for m in fold["quality"]]
    assert recorded and all(isinstance(m, ThreadRecorder) for m in recorded)
    for m in recorded:
        assert m.blas_ <= {1}  # BLAS single-threaded: the same numbers for every n_jobs
        assert m.openmp_ <= {budget}
        assert m.torch_ == budget
        assert m.xgboost_ == budget


def test_limit_threads_restores_and_nests():
    import torch

    before_pools = [(p["filepath"], p["num_threads"]) for p in threadpool_info()]
    before_torch = torch.get_num_threads()
    with limit_threads(1):
        assert torch.get_num_threads() == 1
        assert thread_budget(None) == 1  # nested work counts with the outer budget
        with limit_threads(1):
            assert xgboost_threads() == 1
    assert [(p["filepath"], p["num_threads"]) for p in threadpool_info()] == before_pools
    assert torch.get_num_threads() == before_torch
    assert xgboost_threads() == available_cores()


def test_default_xgboost_gets_an_explicit_thread_count(logs):
    y = logs.feedback["action"]
    assert PropensityModel().fit(logs.X, y).estimator_.n_jobs == available_cores()
    assert PropensityModel(n_jobs=1).fit(logs.X, y).estimator_.n_jobs == 1
    with limit_threads(1):
        assert PropensityModel().fit(logs.X, y).estimator_.n_jobs == 1


def test_thread_budget_follows_parallel_config():
    cores = available_cores()
    assert thread_budget(1) == cores
    assert thread_budget(-1) == 1
    assert thread_budget(2, n_tasks=1) == cores
    with joblib.parallel_config(n_jobs=2):
        assert thread_budget(None) == max(1, cores // min(2, cores))


# -- parameter errors ----------------------------------------------------------------


@pytest.mark.parametrize("bad", [0, "x", 1.5])
@pytest.mark.parametrize(
    "make",
    [DoublyRobustUtility, PropensityModel, RegretRouter, DecoupledRouter, IntegrativeUtility],
)
def test_bad_n_jobs_gives_sklearns_message(logs, make, bad):
    with pytest.raises(InvalidParameterError, match=r"The 'n_jobs' parameter of \w+ must be"):
        y = logs.feedback["action"] if make is PropensityModel else logs.feedback
        make(n_jobs=bad).fit(logs.X, y)


# -- other joblib backends -----------------------------------------------------------


def test_dask_backend_same_result(logs, unlogged):
    pytest.importorskip(
        "distributed",
        reason="the Dask backend needs the optional extra: pip install "
        '"sklearn-causal-routing[dask]" (dask and distributed)',
    )
    from distributed import Client, LocalCluster

    one = _fit(DoublyRobustUtility(random_state=0), logs.X, logs.feedback)
    fixed = PropensityModel(n_jobs=1)
    three = _fit(DoublyRobustUtility(propensity=fixed, random_state=0), logs.X, unlogged)
    with LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster, Client(cluster):
        with joblib.parallel_config(backend="dask"):
            two = _fit(DoublyRobustUtility(random_state=0, n_jobs=-1), logs.X, logs.feedback)
            four = _fit(
                DoublyRobustUtility(propensity=fixed, random_state=0, n_jobs=-1),
                logs.X, unlogged,
            )
    _assert_same_stage(one, two)
    _assert_same_stage(three, four)


def test_ray_backend_same_result(logs):
    ray = pytest.importorskip(
        "ray", reason="ray is not installed: pip install 'ray[default]' to test its backend"
    )
    from ray.util.joblib import register_ray

    register_ray()
    one = _fit(DoublyRobustUtility(random_state=0), logs.X, logs.feedback)
    ray.init(num_cpus=2, include_dashboard=False)
    try:
        with joblib.parallel_config(backend="ray"):
            two = _fit(DoublyRobustUtility(random_state=0, n_jobs=2), logs.X, logs.feedback)
    finally:
        ray.shutdown()
    _assert_same_stage(one, two)


def _fresh(code, **env):
    """Run ``code`` in a fresh interpreter without the OpenMP wait settings, plus ``env``."""
    import os
    import subprocess
    import sys

    clean = {k: v for k, v in os.environ.items() if k not in ("GOMP_SPINCOUNT", "OMP_WAIT_POLICY")}
    out = subprocess.run([sys.executable, "-c", code], env={**clean, **env},
                         capture_output=True, text=True, check=True)
    return out.stdout.split()


def test_import_calms_openmp_before_torch_and_xgboost_load():
    # libgomp reads GOMP_SPINCOUNT once, when torch (or XGBoost) loads it: record the
    # setting at the moment each is first imported
    code = """if True:
        import os, sys
        seen = {}
        class Spy:
            def find_spec(self, name, path=None, target=None):
                if name in ("torch", "xgboost"):
                    seen.setdefault(name, os.environ.get("GOMP_SPINCOUNT", "-"))
        sys.meta_path.insert(0, Spy())
        import sklearn_causal_routing
        import xgboost
        print(seen["torch"], seen["xgboost"])
    """
    assert _fresh(code) == ["10000", "10000"]


@pytest.mark.parametrize("env", [{"OMP_WAIT_POLICY": "ACTIVE"}, {"GOMP_SPINCOUNT": "7"}])
def test_the_users_openmp_wait_setting_wins(env):
    code = "import os, sklearn_causal_routing; print(os.environ.get('GOMP_SPINCOUNT', '-'))"
    assert _fresh(code, **env) == [env.get("GOMP_SPINCOUNT", "-")]
