"""SemiSyntheticWorld (a world calibrated on a full-feedback table) and the learning curve.

Simulated tables only (``make_routing_table``); the shared real data is for the
benchmarks.
"""

import re

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression, Ridge

from sklearn_causal_routing import cli
from sklearn_causal_routing.baselines import DecoupledRouter
from sklearn_causal_routing.experiments import LearningCurveResult, routing_learning_curve
from sklearn_causal_routing.datasets import (
    RoutingTable,
    SemiSyntheticWorld,
    make_routing_table,
)


@pytest.fixture(scope="module")
def calib():
    """The full-feedback table the world is calibrated on (0/1 quality, tasks)."""
    return make_routing_table(1500, random_state=3)


@pytest.fixture(scope="module")
def world(calib):
    return SemiSyntheticWorld().fit(calib)


@pytest.fixture(scope="module")
def big(world):
    return world.sample(40000, random_state=0)


# --------------------------------------------------------------------------- #
# the world
# --------------------------------------------------------------------------- #
def test_expected_quality_matches_the_calibration_table(world, calib, big):
    # in sample: the logistic intercepts make the mean prediction the mean outcome
    fitted = world.expected_quality(calib.X, calib.task)
    np.testing.assert_allclose(fitted.mean(axis=0), calib.quality.mean(axis=0), atol=1e-3)
    # a fresh sample of the world keeps each model's mean quality and cost
    np.testing.assert_allclose(big.expected_quality.mean(axis=0),
                               calib.quality.mean(axis=0), atol=0.015)
    np.testing.assert_allclose(big.cost.mean(axis=0) / calib.cost.mean(axis=0), 1.0, atol=0.03)
    # and tracks the simulated truth per query, not just on average
    for k in range(calib.n_models):
        assert np.corrcoef(fitted[:, k], calib.expected_quality[:, k])[0, 1] > 0.6


def test_sampled_table_scores_against_the_truth(big):
    assert big.expected_quality is not None
    np.testing.assert_array_equal(big.utility(0.3), big.expected_quality - 0.3 * big.cost)
    assert big.oracle_value(0.3) > big.best_single_model(0.3)[1]


def test_realised_quality_averages_to_the_expected(big):
    q, e = big.quality, big.expected_quality
    assert set(np.unique(q)) == {0.0, 1.0}
    n = q.shape[0]
    se = np.sqrt(e.mean(axis=0) * (1 - e.mean(axis=0)) / n)
    assert np.all(np.abs(q.mean(axis=0) - e.mean(axis=0)) < 4 * se)  # 4 se ~ 0.01
    # and per query: queries with a higher expectation succeed more often
    for k in range(q.shape[1]):
        bins = np.digitize(e[:, k], np.quantile(e[:, k], [0.2, 0.4, 0.6, 0.8]))
        for b in range(5):
            rows = bins == b
            assert abs(q[rows, k].mean() - e[rows, k].mean()) < 0.025


def test_cost_is_the_expected_cost(world, big):
    rows = slice(0, 500)
    np.testing.assert_allclose(big.cost[rows], world.expected_cost(big.X[rows], big.task[rows]))
    assert (big.cost > 0).all()


def test_sample_is_deterministic(world):
    a, b = world.sample(700, random_state=5), world.sample(700, random_state=5)
    c = world.sample(700, random_state=6)
    for name in ("X", "quality", "cost", "expected_quality", "task"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    assert not np.array_equal(a.X, c.X)


def test_features_keep_the_table_dimension_and_dtype(world, calib):
    sample = world.sample(100, random_state=0)
    assert sample.X.shape == (100, calib.n_features)
    assert sample.X.dtype == calib.X.dtype == np.float64
    # float32 embeddings, L2-normalised: float32 rows of unit norm
    X32 = (calib.X / np.linalg.norm(calib.X, axis=1, keepdims=True)).astype(np.float32)
    t32 = RoutingTable(X32, calib.quality, calib.cost, calib.models, task=calib.task)
    w32 = SemiSyntheticWorld(n_components=8).fit(t32)
    assert w32.normalized_
    s32 = w32.sample(3000, random_state=0)
    assert s32.X.dtype == np.float32 and s32.X.shape == (3000, calib.n_features)
    np.testing.assert_allclose(np.linalg.norm(s32.X, axis=1), 1.0, atol=1e-5)
    # the jitter moves the rows a little, not far
    assert 0 < np.abs(s32.X - X32[np.argmax(s32.X @ X32.T, axis=1)]).max() < 0.5


def test_non_binary_quality():
    table = make_routing_table(800, outcome="gaussian", random_state=1)
    world = SemiSyntheticWorld(use_task=False).fit(table)
    assert not world.binary_ and world.tasks_ is None
    assert np.all((world.quality_noise_ > 0.05) & (world.quality_noise_ < 0.3))
    sample = world.sample(20000, random_state=0)
    np.testing.assert_allclose(sample.quality.mean(axis=0),
                               sample.expected_quality.mean(axis=0), atol=0.01)
    np.testing.assert_allclose(sample.expected_quality.mean(axis=0),
                               table.quality.mean(axis=0), atol=0.02)
    # use_task=False: expected quality needs no task
    assert world.expected_quality(table.X[:3]).shape == (3, table.n_models)


def test_user_models(calib):
    world = SemiSyntheticWorld(LogisticRegression(C=0.1, max_iter=1000), Ridge(), jitter=0.0,
                               n_components=None).fit(calib)
    sample = world.sample(50, random_state=0)
    assert sample.quality.shape == (50, calib.n_models)
    # no jitter: every sampled query is one of the table's
    assert np.isin(sample.X[:, 0], calib.X[:, 0]).all()


def test_world_errors(world, calib):
    with pytest.raises(ValueError, match="n_samples must be an integer >= 1"):
        world.sample(0)
    with pytest.raises(TypeError, match="table must be a full-feedback RoutingTable"):
        SemiSyntheticWorld().fit(calib.X)
    no_features = RoutingTable(np.zeros((20, 0)), np.ones((20, 2)), np.ones((20, 2)), ["a", "b"])
    with pytest.raises(ValueError, match="table has no query features"):
        SemiSyntheticWorld().fit(no_features)
    with pytest.raises(ValueError, match="jitter"):
        SemiSyntheticWorld(jitter=-1.0).fit(calib)
    with pytest.raises(ValueError, match="task is required"):
        world.expected_quality(calib.X[:2])
    with pytest.raises(ValueError, match="X must have shape"):
        world.expected_cost(calib.X[:2, :3], calib.task[:2])
    untasked = RoutingTable(calib.X, calib.quality, calib.cost, calib.models)
    with pytest.raises(ValueError, match="use_task=True needs the table's task"):
        SemiSyntheticWorld(use_task=True).fit(untasked)
    with pytest.raises(TypeError, match="quality_model must be a classifier"):
        SemiSyntheticWorld(quality_model=Ridge()).fit(calib)


# --------------------------------------------------------------------------- #
# the learning curve
# --------------------------------------------------------------------------- #
@pytest.fixture(scope="module")
def curve(world):
    return routing_learning_curve(world, sizes=(300, 1200), router=DecoupledRouter(),
                                  n_cost_weights=2, test_size=3000, seeds=(0, 1),
                                  progress=None)


def test_curve_records(curve):
    methods = ["oracle", "best single (hindsight)", "logging policy", "full feedback",
               "DecoupledRouter"]
    assert curve.methods() == methods
    assert curve.router == "DecoupledRouter"
    assert len(curve.records) == 2 * 2 * 2 * len(methods)
    assert curve.settings["sizes"] == [300, 1200] and curve.settings["seeds"] == [0, 1]
    oracle = curve.values("oracle")
    for m in methods:
        assert np.all(curve.values(m) <= oracle + 1e-12)
    # the test world and hence the oracle are the same for every size and seed
    np.testing.assert_allclose(oracle, oracle[:1, :1, :].repeat(2, 0).repeat(2, 1))
    frame = curve.to_frame()
    assert list(frame.columns[:5]) == ["size", "seed", "cost_weight", "method", "value"]


def test_recovered_share_by_hand(curve):
    by_size = {}
    for size in (300, 1200):
        def total(method):
            return sum(r["value"] for r in curve.records
                       if r["size"] == size and r["method"] == method)

        best = total("best single (hindsight)")
        by_size[size] = (total("DecoupledRouter") - best) / (total("full feedback") - best)
    shares = curve.recovered_share()
    assert shares.keys() == by_size.keys()
    for size, share in by_size.items():
        assert shares[size] == pytest.approx(share, rel=1e-12)
    per_weight = curve.recovered_share(by_cost_weight=True)
    assert len(per_weight) == 4
    text = curve.to_markdown()
    assert "gain recovered" in text and re.search(r"^\| +1,200 \|", text, flags=re.M)
    # both tables come from the package's one markdown writer: padded, aligned columns
    tables = [t for t in text.split("\n\n") if t.startswith("| logged queries")]
    assert len(tables) == 2
    for table in tables:
        lines = table.splitlines()
        assert len({len(line) for line in lines}) == 1 and lines[1].startswith("|---")
    assert f"{100 * by_size[1200]:.0f}%" in text
    assert str(curve) == text


def test_curve_is_deterministic(world, curve):
    again = routing_learning_curve(world, sizes=(300,), router=DecoupledRouter(),
                                   n_cost_weights=2, test_size=3000, seeds=(0,),
                                   progress=None)
    first = [r for r in curve.records if r["size"] == 300 and r["seed"] == 0]
    assert [r["value"] for r in again.records] == [r["value"] for r in first]


def test_curve_full_feedback_options(calib):
    """A regressor plug-in and a router fitted on table.full_feedback()."""
    for ff in (Ridge(alpha=1.0), DecoupledRouter()):
        res = routing_learning_curve(calib, sizes=(400,), router=DecoupledRouter(),
                                     full_feedback_router=ff, cost_weights=[0.5],
                                     test_size=1000, progress=None)
        assert np.isfinite(res.values("full feedback")).all()
        assert res.settings["cost_weights"] == [0.5]


def test_recovered_share_nan_without_gain():
    records = [{"size": 10, "seed": 0, "cost_weight": 0.0, "method": m, "value": 0.5}
               for m in ("R", "full feedback", "best single (hindsight)", "oracle")]
    res = LearningCurveResult(records, {"router": "R", "sizes": [10], "seeds": [0],
                                        "cost_weights": [0.0]})
    assert np.isnan(res.recovered_share()[10])
    assert "n/a" in res.to_markdown()


@pytest.mark.parametrize("sizes, match", [
    ((0, 100), "sizes must be a non-empty sequence of positive integers"),
    ((-5,), r"invalid: sizes\[0\] must be an integer >= 1; got -5"),
    ((), "sizes must be a non-empty"),
    ((100.5,), "sizes must be"),
    (100, "sizes must be a sequence"),
])
def test_curve_bad_sizes(calib, sizes, match):
    with pytest.raises((ValueError, TypeError), match=match):
        routing_learning_curve(calib, sizes=sizes, router=DecoupledRouter(), progress=None)


def test_curve_bad_inputs(calib):
    no_features = RoutingTable(np.zeros((20, 0)), np.ones((20, 2)), np.ones((20, 2)), ["a", "b"])
    with pytest.raises(ValueError, match="table has no query features"):
        routing_learning_curve(no_features, sizes=(100,), progress=None)
    with pytest.raises(TypeError, match="table must be a full-feedback RoutingTable"):
        routing_learning_curve(calib.to_frame(), sizes=(100,), progress=None)
    with pytest.raises(TypeError, match="router must be a scikit-learn estimator with a "
                                        "cost_weight"):
        routing_learning_curve(calib, sizes=(100,), router=LogisticRegression(),
                               progress=None)
    with pytest.raises(ValueError, match=r"cost_weights\[0\] must be a finite number >= 0"):
        routing_learning_curve(calib, sizes=(100,), cost_weights=[-1.0], progress=None)
    with pytest.raises(ValueError, match="cost_weights must be distinct"):
        routing_learning_curve(calib, sizes=(100,), cost_weights=[0.5, 0.5], progress=None)
    with pytest.raises(ValueError, match="test_size must be an integer >= 1"):
        routing_learning_curve(calib, sizes=(100,), test_size=0, progress=None)
    with pytest.raises(ValueError, match="seeds must be a non-empty"):
        routing_learning_curve(calib, sizes=(100,), seeds=(), progress=None)
    with pytest.raises(ValueError, match=r"seeds\[1\] must be an integer >= 0; got -1"):
        routing_learning_curve(calib, sizes=(100,), seeds=(0, -1), progress=None)
    with pytest.raises(ValueError, match="logging must be one of"):
        routing_learning_curve(calib, sizes=(100,), logging="random", progress=None)


def test_cli_learning_curve(tmp_path, capsys):
    path = tmp_path / "table.csv"
    make_routing_table(400, random_state=2).to_frame().to_csv(path, index=False)
    out = tmp_path / "curve.md"
    status = cli.main(["learning-curve", str(path), "--sizes", "300", "--cost-weights", "0.4",
                       "--test-size", "800", "--out", str(out), "--quiet"])
    printed = capsys.readouterr().out
    assert status == 0
    assert "RM-Softmax" in printed and "gain recovered" in printed
    assert re.search(r"^\| +300 \|", printed, flags=re.M)
    assert out.read_text().strip() == printed.strip()
    assert cli.main(["learning-curve", str(path), "--sizes", "0", "--quiet"]) == 1
    assert "sizes must be" in capsys.readouterr().err
