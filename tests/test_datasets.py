"""Tests of sklearn_causal_routing.datasets: worlds, tables, logging, loaders."""

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose, assert_array_equal

from sklearn_causal_routing.datasets import (
    LoggedData,
    RoutingTable,
    RoutingWorld,
    load_routerbench_subset,
    load_routing_table,
    make_routing_table,
)

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA_CANDIDATES = [Path("/work/shared/data"), REPO_ROOT.parent / "shared" / "data"]
COST_WEIGHTS = (0.0, 0.25, 0.5, 1.0)


# --------------------------------------------------------------------------- #
# fixtures
# --------------------------------------------------------------------------- #
# ``world`` and ``table`` (2,000 queries) come from conftest.py.
@pytest.fixture(scope="module")
def big_table(world):
    return world.sample(20000, random_state=1)


@pytest.fixture
def tiny_table():
    return RoutingTable(
        X=np.arange(8.0).reshape(4, 2),
        quality=[[1.0, 0.0, 0.5], [0.0, 1.0, 0.5], [1.0, 1.0, 0.0], [0.0, 0.0, 1.0]],
        cost=[[0.1, 1.0, 0.5]] * 4,
        models=["a", "b", "c"],
        task=["x", "x", "y", "y"],
        split=["train", "train", "test", "train"],
    )


def _tables_equal(a, b):
    return (
        np.array_equal(a.X, b.X)
        and np.array_equal(a.quality, b.quality)
        and np.array_equal(a.cost, b.cost)
        and np.array_equal(a.models, b.models)
        and np.array_equal(a.task, b.task)
        and np.array_equal(a.expected_quality, b.expected_quality)
    )


# --------------------------------------------------------------------------- #
# RoutingWorld
# --------------------------------------------------------------------------- #
def test_world_is_deterministic():
    a = RoutingWorld(random_state=3).sample(300, random_state=7)
    b = RoutingWorld(random_state=3).sample(300, random_state=7)
    assert _tables_equal(a, b)
    assert not np.array_equal(a.X, RoutingWorld(random_state=3).sample(300, 8).X)
    assert not np.array_equal(
        a.expected_quality, RoutingWorld(random_state=4).sample(300, 7).expected_quality
    )
    assert _tables_equal(make_routing_table(300, random_state=5),
                         RoutingWorld(random_state=5).sample(300, random_state=5))
    X, task = RoutingWorld(random_state=3).sample_X(300, random_state=7)
    assert np.array_equal(X, a.X) and np.array_equal(task, a.task)


def test_world_shapes_and_truth(world, table):
    assert table.X.shape == (2000, 16)
    assert table.quality.shape == table.cost.shape == (2000, 4)
    assert table.expected_quality.shape == (2000, 4)
    assert table.models.tolist() == ["tiny", "small", "medium", "large"]
    assert set(np.unique(table.quality)) <= {0.0, 1.0}
    assert ((table.expected_quality > 0) & (table.expected_quality < 1)).all()
    assert set(np.unique(table.task)) == set(world.tasks)
    np.testing.assert_allclose(world.expected_quality(table.X), table.expected_quality)
    np.testing.assert_allclose(world.expected_cost(table.X), table.cost)
    # realised 0/1 grades are draws from the expected quality
    assert np.abs(table.quality.mean(0) - table.expected_quality.mean(0)).max() < 0.05


def test_world_prices_and_costs(world, table):
    np.testing.assert_allclose(world.prices[[0, -1]], [0.02, 1.0])
    ratios = world.prices[1:] / world.prices[:-1]
    np.testing.assert_allclose(ratios, ratios[0])  # geometric tiers
    assert (table.cost > 0).all()
    # per-query cost = price * one length factor per query: predictable from x
    length = table.cost / world.prices
    np.testing.assert_allclose(length, length[:, :1] * np.ones((1, 4)))
    assert length[:, 0].std() > 0.1
    mean_cost = table.cost.mean(axis=0)
    assert 0.01 < mean_cost[0] < 0.04 and 0.7 < mean_cost[-1] < 1.3


@pytest.mark.parametrize("n_models", [2, 3, 4, 6, 9, 12, 14])
def test_world_model_names(n_models):
    world = RoutingWorld(n_models=n_models, n_tasks=3, n_features=4)
    names = world.models.tolist()
    assert len(names) == n_models == len(set(names))
    assert all(isinstance(m, str) for m in names)
    assert np.all(np.diff(world.prices) > 0)


def test_world_gaussian_outcome():
    table = RoutingWorld(outcome="gaussian", noise=0.2).sample(3000, random_state=0)
    resid = table.quality - table.expected_quality
    assert abs(resid.std() - 0.2) < 0.01
    assert abs(resid.mean()) < 0.01


@pytest.mark.parametrize("n_models", [4, 6])
def test_default_world_gives_routing_real_gains(n_models):
    # Calibrated on 20,000 queries: gap at cost weight 0 is 0.10 (4 models) and
    # 0.11 (6 models); here with 5,000 queries the sampling error is < 0.01.
    table = RoutingWorld(n_models=n_models).sample(5000, random_state=0)
    label0, value0 = table.best_single_model(0.0)
    assert label0 == table.models[-1]  # the priciest model is best at cost weight 0 ...
    assert table.oracle_value(0.0) - value0 > 0.08
    # ... but not uniformly: the best single model changes with the cost weight
    assert table.best_single_model(1.0)[0] != label0
    for w in COST_WEIGHTS:
        assert table.oracle_value(w) - table.best_single_model(w)[1] > 0.08
    # bigger is better on average
    assert np.corrcoef(np.arange(n_models), table.expected_quality.mean(0))[0, 1] > 0.8
    # the best model differs between tasks and, within a task, with the query
    best = table.expected_quality.argmax(axis=1)
    per_task = {
        c: np.bincount(best[table.task == c], minlength=n_models) for c in np.unique(table.task)
    }
    assert len({counts.argmax() for counts in per_task.values()}) >= 3
    assert any(np.sort(c)[-2] > 0.05 * c.sum() for c in per_task.values())
    # a cheap model is the best on some task
    assert any(counts.argmax() < n_models - 1 for counts in per_task.values())


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"n_models": 1}, "n_models"),
        ({"n_tasks": 0}, "n_tasks"),
        ({"n_features": 2.5}, "n_features"),
        ({"outcome": "poisson"}, "outcome"),
        ({"noise": -1.0}, "noise"),
    ],
)
def test_world_bad_parameters(kwargs, match):
    with pytest.raises(ValueError, match=match):
        RoutingWorld(**kwargs)


def test_world_bad_inputs(world):
    with pytest.raises(ValueError, match="n_samples"):
        world.sample(0)
    with pytest.raises(ValueError, match=r"X must have shape \(n_samples, 16\)"):
        world.expected_quality(np.zeros((3, 5)))


# --------------------------------------------------------------------------- #
# RoutingTable: construction and slicing
# --------------------------------------------------------------------------- #
def test_table_basics(tiny_table, table):
    assert len(tiny_table) == tiny_table.n_samples == 4
    assert tiny_table.n_models == 3
    assert repr(tiny_table) == "RoutingTable(n_samples=4, n_models=3, models=['a', 'b', 'c'])"
    assert "n_samples=2000" in repr(table)


@pytest.mark.parametrize(
    "change, error, match",
    [
        ({"X": np.zeros(4)}, ValueError, "X must be a 2-D"),
        ({"X": [["a", "b"]] * 4}, TypeError, "X must be a numeric"),
        ({"quality": np.zeros((3, 3))}, ValueError, r"quality must have shape \(4, n_models\)"),
        ({"quality": [[np.nan, 0, 0]] + [[0, 0, 0]] * 3}, ValueError, "quality must be finite"),
        ({"cost": np.zeros((4, 2))}, ValueError, r"cost must have shape \(4, 3\)"),
        ({"models": ["a", "b"]}, ValueError, "models must have one label per column"),
        ({"models": ["a", "a", "b"]}, ValueError, "models must be unique"),
        ({"models": ["a", 1, "b"]}, TypeError, "models must hold labels"),
        ({"models": [0.5, 1.5, 2.5]}, TypeError, "models must hold labels"),
        ({"task": ["x"]}, ValueError, "task must be a 1-D array"),
        ({"split": np.zeros((4, 2))}, ValueError, "split must be a 1-D array"),
        ({"expected_quality": np.zeros((4, 2))}, ValueError, "expected_quality must have shape"),
    ],
)
def test_table_bad_inputs(change, error, match):
    kwargs = dict(
        X=np.zeros((4, 2)), quality=np.zeros((4, 3)), cost=np.zeros((4, 3)),
        models=["a", "b", "c"],
    )
    kwargs.update(change)
    X, quality, cost, models = (kwargs.pop(k) for k in ("X", "quality", "cost", "models"))
    with pytest.raises(error, match=match):
        RoutingTable(X, quality, cost, models, **kwargs)


def test_subset_and_splits(table, tiny_table):
    mask = table.task == "task-0"
    sub = table.subset(mask)
    assert sub.n_samples == mask.sum()
    np.testing.assert_array_equal(sub.expected_quality, table.expected_quality[mask])
    np.testing.assert_array_equal(table.subset([3, 1]).X, table.X[[3, 1]])
    with pytest.raises(ValueError, match="index as a boolean mask"):
        table.subset(np.ones(3, dtype=bool))
    with pytest.raises(TypeError, match="index must be"):
        table.subset(["a"])

    train, test = table.train_test_split(test_size=0.3, random_state=0)
    assert (train.n_samples, test.n_samples) == (1400, 600)
    rows = {tuple(r) for r in np.vstack([train.X, test.X])}
    assert len(rows) == 2000
    train2, _ = table.train_test_split(test_size=0.3, random_state=0)
    np.testing.assert_array_equal(train.X, train2.X)

    assert tiny_table.split_by("train").n_samples == 3
    with pytest.raises(ValueError, match="no row has split == 'valid'"):
        tiny_table.split_by("valid")
    with pytest.raises(ValueError, match="split is None"):
        table.split_by("train")


# --------------------------------------------------------------------------- #
# values, regret, oracle, shares
# --------------------------------------------------------------------------- #
def test_value_regret_oracle_consistent(table):
    rng = np.random.RandomState(0)
    for w in COST_WEIGHTS:
        oracle = table.oracle_value(w)
        decisions = table.oracle_decisions(w)
        assert table.regret(decisions, w) == pytest.approx(0.0, abs=1e-12)
        assert table.value(decisions, w) == pytest.approx(oracle)
        random_labels = table.models[rng.randint(4, size=table.n_samples)]
        assert table.value(random_labels, w) <= oracle
        P = rng.dirichlet(np.ones(4), size=table.n_samples)
        assert table.value(P, w) <= oracle
        assert table.regret(P, w) >= 0
        assert table.value(P, w) == pytest.approx(
            table.mean_quality(P) - w * table.mean_cost(P)
        )
        singles = table.single_model_values(w)
        for m in table.models:
            assert table.value(np.full(table.n_samples, m), w) == pytest.approx(singles[m])
        label, value = table.best_single_model(w)
        assert value == max(singles.values()) and singles[label] == value
        assert oracle >= value


def test_value_uses_expected_quality(table, tiny_table):
    d = table.oracle_decisions()
    idx = table.model_index(d)
    rows = np.arange(table.n_samples)
    assert table.value(d) == pytest.approx(table.expected_quality[rows, idx].mean())
    np.testing.assert_array_equal(table.utility(0.0, expected=False), table.quality)
    np.testing.assert_array_equal(tiny_table.utility(0.0), tiny_table.quality)
    # labels and one-hot matrices give the same value
    one_hot = np.eye(4)[idx]
    assert table.value(one_hot, 0.5) == pytest.approx(table.value(d, 0.5))


def test_shares(tiny_table):
    shares = tiny_table.shares(["a", "a", "c", "a"])
    assert shares == {"a": 0.75, "b": 0.0, "c": 0.25}
    assert list(shares) == ["a", "b", "c"]
    P = np.full((4, 3), 1 / 3)
    assert sum(tiny_table.shares(P).values()) == pytest.approx(1.0)
    assert tiny_table.oracle_value() == 1.0
    assert tiny_table.mean_quality(["a", "b", "a", "c"]) == 1.0
    assert tiny_table.mean_cost(["a", "b", "a", "c"]) == pytest.approx(0.425)


def test_integer_model_labels():
    table = RoutingTable(np.zeros((3, 1)), [[1, 0], [0, 1], [1, 0]], np.ones((3, 2)), [7, 3])
    assert table.value([7, 3, 7]) == 1.0
    assert table.shares(np.array([3, 3, 7])) == {7: 1 / 3, 3: 2 / 3}
    assert table.best_single_model() == (7, pytest.approx(2 / 3))
    logs = table.log("uniform", random_state=0)
    assert logs.t.dtype.kind == "i" and set(logs.t) <= {3, 7}
    with pytest.raises(ValueError, match=r"model label\(s\) \['7'\] that are not among the table's "
                       r"models: \[7, 3\]\. Labels are compared by value and type"):
        table.value(["7", "7", "7"])


def test_bad_decisions(table):
    with pytest.raises(ValueError, match=r"decisions contains model label\(s\) "
                       r"\['gpt-9'\].*\['tiny', 'small', 'medium', 'large'\]"):
        table.value(np.full(table.n_samples, "gpt-9"))
    with pytest.raises(ValueError, match=r"decisions must hold one model label per row \(2000\)"):
        table.value(["tiny"])
    with pytest.raises(ValueError, match="decisions as routing probabilities must be .* rows summing to 1"):
        table.value(np.ones((table.n_samples, 4)))
    with pytest.raises(ValueError, match=r"decisions as routing probabilities must have shape \(2000, 4\)"):
        table.value(np.ones((table.n_samples, 3)) / 3)
    with pytest.raises(ValueError, match="cost_weight must be a finite number >= 0"):
        table.oracle_value(-1.0)
    with pytest.raises(ValueError, match="cost_weight must be a finite number"):
        table.utility("high")


@settings(max_examples=25, deadline=None)
@given(
    shift=st.floats(-5, 5),
    weight=st.floats(0, 2),
    seed=st.integers(0, 2**16),
)
def test_oracle_invariances(shift, weight, seed):
    rng = np.random.RandomState(seed)
    q, c = rng.rand(30, 3), rng.rand(30, 3)
    table = RoutingTable(rng.rand(30, 2), q, c, ["a", "b", "c"])
    shifted = RoutingTable(table.X, q + shift, c, ["a", "b", "c"])
    # adding a constant to every model's quality changes no decision
    np.testing.assert_array_equal(
        table.oracle_decisions(weight), shifted.oracle_decisions(weight)
    )
    # any policy's value lies between the per-query worst and the oracle
    P = rng.dirichlet(np.ones(3), size=30)
    u = table.utility(weight)
    assert u.min(1).mean() - 1e-12 <= table.value(P, weight) <= table.oracle_value(weight) + 1e-12


# --------------------------------------------------------------------------- #
# logging
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize("policy", ["uniform", "confounded", "deterministic"])
def test_logging_probabilities_row_stochastic(table, policy):
    P = table.logging_probabilities(policy)
    assert P.shape == (table.n_samples, 4)
    assert (P >= 0).all()
    np.testing.assert_allclose(P.sum(axis=1), 1.0)


def test_logging_policies(table):
    np.testing.assert_allclose(table.logging_probabilities("uniform"), 0.25)
    np.testing.assert_allclose(table.logging_probabilities("confounded", skew=0.0), 0.25)
    # confounded: probabilities order models as their mean quality on the task
    P = table.logging_probabilities("confounded")
    for c in np.unique(table.task):
        rows = table.task == c
        task_means = table.expected_quality[rows].mean(0)
        np.testing.assert_array_equal(np.argsort(P[rows][0]), np.argsort(task_means))
        np.testing.assert_allclose(P[rows], P[rows][:1].repeat(rows.sum(), 0))
    # deterministic: 1 - epsilon on the task's best model
    D = table.logging_probabilities("deterministic", epsilon=0.1)
    np.testing.assert_allclose(np.sort(D, axis=1)[:, -1], 0.9)
    np.testing.assert_allclose(np.sort(D, axis=1)[:, :-1], 0.1 / 3)
    np.testing.assert_array_equal(D.argmax(1), P.argmax(1))
    # "hard queries go to the big model"
    H = table.logging_probabilities("confounded", difficulty=3.0)
    hard = table.expected_quality.mean(1) < np.median(table.expected_quality.mean(1))
    assert H[hard, -1].mean() > P[hard, -1].mean()
    assert H[~hard, -1].mean() < P[~hard, -1].mean()
    # a callable
    C = table.logging_probabilities(lambda t: np.tile([0.7, 0.1, 0.1, 0.1], (t.n_samples, 1)))
    np.testing.assert_allclose(C[:, 0], 0.7)


def test_logging_bad_policy(table):
    with pytest.raises(ValueError, match="policy must be one of"):
        table.logging_probabilities("random")
    with pytest.raises(ValueError, match="epsilon must be a number in"):
        table.logging_probabilities("deterministic", epsilon=1.5)
    with pytest.raises(TypeError, match="skew"):
        table.logging_probabilities("confounded", skew="big")
    with pytest.raises(ValueError, match=r"policy\(table\) as routing probabilities must be .* rows summing to 1"):
        table.logging_probabilities(lambda t: np.ones((t.n_samples, 4)))
    with pytest.raises(ValueError, match=r"policy\(table\) must return a \(2000, 4\) matrix"):
        table.logging_probabilities(lambda t: np.full(t.n_samples, 0.25))
    with pytest.raises(ValueError, match=r"strong_cap must be a number in \[0, 1\]"):
        table.logging_probabilities("strong-rare", strong_cap=1.5)
    with pytest.raises(ValueError, match=r"cheap_share must be a number in \[0, 1\]"):
        table.logging_probabilities("cheap-heavy", cheap_share=-0.1)


def _runner_rule_before_the_move(table, policy, skew=5.0, strong_cap=0.25, cheap_share=0.7):
    """The benchmark runner's own strong-rare / cheap-heavy code, as it was before
    the rules moved to datasets (the reference the moved rules must reproduce)."""
    P = table.logging_probabilities("confounded", skew=skew)
    if policy == "strong-rare":
        strong = int(np.argmax(table.utility(0.0).mean(axis=0)))
        capped = np.minimum(P[:, strong], strong_cap)
        rest = np.delete(np.arange(P.shape[1]), strong)
        others = P[:, rest] / P[:, rest].sum(axis=1, keepdims=True)
        out = np.empty_like(P)
        out[:, strong] = capped
        out[:, rest] = others * (1.0 - capped)[:, None]
        return out
    cheap = int(np.argmin(table.cost.mean(axis=0)))
    out = P * (1.0 - cheap_share)
    out[:, cheap] += cheap_share
    return out


def test_every_logging_rule_is_reachable_from_datasets(table):
    from sklearn_causal_routing import datasets
    from sklearn_causal_routing.experiments import SCENARIOS

    assert "LOGGING_POLICIES" in datasets.__all__
    assert datasets.LOGGING_POLICIES == (
        "uniform", "confounded", "deterministic", "strong-rare", "cheap-heavy")
    # every scenario of the benchmark logs with a rule datasets names
    assert {s.policy for s in SCENARIOS.values()} <= set(datasets.LOGGING_POLICIES)
    for policy in datasets.LOGGING_POLICIES:
        P = table.logging_probabilities(policy)
        assert P.shape == (table.n_samples, table.n_models), policy
        assert_allclose(P.sum(axis=1), 1.0, err_msg=policy)
        logs = table.log(policy, random_state=0)
        served = table.model_index(logs.t)
        assert_array_equal(logs.feedback["propensity"], P[np.arange(table.n_samples), served])
    # the moved rules are bit for bit what the runner computed, with its defaults
    # and with other parameters, and the runner's scenarios now call them
    for policy in ("strong-rare", "cheap-heavy"):
        assert_array_equal(table.logging_probabilities(policy),
                           _runner_rule_before_the_move(table, policy))
        assert_array_equal(SCENARIOS[policy].logging_probabilities(table),
                           _runner_rule_before_the_move(table, policy))
        assert_array_equal(
            table.logging_probabilities(policy, skew=2.0, strong_cap=0.1, cheap_share=0.5),
            _runner_rule_before_the_move(table, policy, 2.0, 0.1, 0.5))
    strong = int(np.argmax(table.utility(0.0).mean(axis=0)))
    assert table.logging_probabilities("strong-rare", strong_cap=0.1)[:, strong].max() <= 0.1
    cheap = int(np.argmin(table.cost.mean(axis=0)))
    assert table.logging_probabilities("cheap-heavy", cheap_share=0.5)[:, cheap].min() >= 0.5


def test_log_records_what_was_served(table):
    logs = table.log("confounded", random_state=0)
    assert isinstance(logs, LoggedData) and len(logs) == table.n_samples
    assert "propensity recorded" in repr(logs)
    idx = table.model_index(logs.t)
    rows = np.arange(table.n_samples)
    np.testing.assert_array_equal(logs.feedback["action"], logs.t)
    np.testing.assert_array_equal(logs.feedback["quality"], table.quality[rows, idx])
    np.testing.assert_array_equal(logs.feedback["cost"], table.cost[rows, idx])
    np.testing.assert_array_equal(logs.feedback["propensity"], logs.probabilities[rows, idx])
    np.testing.assert_array_equal(logs.probabilities, table.logging_probabilities("confounded"))
    assert logs.X is table.X
    # deterministic under random_state
    again = table.log("confounded", random_state=0)
    np.testing.assert_array_equal(logs.t, again.t)
    assert not np.array_equal(logs.t, table.log("confounded", random_state=1).t)
    # propensities can be withheld
    hidden = table.log("confounded", record_propensity=False, random_state=0)
    assert np.isnan(hidden.feedback["propensity"]).all()
    np.testing.assert_array_equal(hidden.t, logs.t)
    assert "not recorded" in repr(hidden)


def test_uniform_logging_shares(big_table):
    logs = big_table.log("uniform", random_state=0)
    shares = np.array(list(big_table.shares(logs.t).values()))
    # sd of a share is sqrt(0.25 * 0.75 / 20000) ~ 0.003; margin 0.015 = 5 sd
    np.testing.assert_allclose(shares, 0.25, atol=0.015)


def test_log_seed_does_not_collide_with_sample_seed(world):
    # Same seed for sample and log must not couple the draws (a real bug: the
    # uniforms that picked the task would pick the logged model).
    table = world.sample(20000, random_state=0)
    logs = table.log("uniform", random_state=0)
    for c in np.unique(table.task):
        rows = table.task == c
        shares = np.bincount(table.model_index(logs.t[rows]), minlength=4) / rows.sum()
        np.testing.assert_allclose(shares, 0.25, atol=0.05)


def test_confounded_logs_are_biased_and_ipw_recovers(big_table):
    """The naive per-model mean is biased; IPW with recorded propensities is not.

    On 20,000 queries of the default world with the default confounded logging
    (skew=5), the naive mean of observed quality overstates every model's true
    mean, by about +0.05 to +0.22; the IPW mean's standard error is at most
    ~0.02. Margins: naive bias > 0.1 for the cheapest model and > 4 standard
    errors for at least 3 of 4 models; IPW within 4 standard errors (and 0.06).
    """
    table = big_table
    logs = table.log("confounded", random_state=0)
    fb = logs.feedback
    n = table.n_samples
    biased = 0
    for j, m in enumerate(table.models):
        served = logs.t == m
        true = table.quality[:, j].mean()  # IPW is unbiased for it exactly
        naive = fb["quality"][served].mean()
        naive_se = fb["quality"][served].std() / np.sqrt(served.sum())
        terms = np.where(served, fb["quality"] / fb["propensity"], 0.0)
        ipw, ipw_se = terms.mean(), terms.std() / np.sqrt(n)
        assert abs(ipw - true) < min(4 * ipw_se, 0.06), (m, ipw, true, ipw_se)
        if naive - true > 4 * naive_se:
            biased += 1
        if j == 0:
            assert naive - true > 0.1, (m, naive, true)
    assert biased >= 3


# --------------------------------------------------------------------------- #
# loaders
# --------------------------------------------------------------------------- #
def _small_table():
    return RoutingWorld(n_features=3).sample(40, random_state=0)


def _assert_round_trip(loaded, original):
    np.testing.assert_allclose(loaded.X, original.X)
    np.testing.assert_allclose(loaded.quality, original.quality)
    np.testing.assert_allclose(loaded.cost, original.cost)
    np.testing.assert_allclose(loaded.expected_quality, original.expected_quality)
    assert loaded.models.tolist() == original.models.tolist()
    assert loaded.task.tolist() == original.task.tolist()


@pytest.mark.parametrize("fmt", ["parquet", "csv", "frame"])
def test_load_routing_table_round_trip(tmp_path, fmt):
    pytest.importorskip("pandas")
    if fmt == "parquet":
        pytest.importorskip("pyarrow")
    table = _small_table()
    df = table.to_frame()
    if fmt == "frame":
        source = df
    else:
        source = tmp_path / f"table.{fmt}"
        getattr(df, f"to_{fmt}")(source, index=False)
    _assert_round_trip(load_routing_table(source), table)

    # embeddings given separately, as an array or a .npy path
    no_x = table.to_frame(features=False)
    np.save(tmp_path / "emb.npy", table.X)
    _assert_round_trip(load_routing_table(no_x, embeddings=table.X), table)
    _assert_round_trip(load_routing_table(no_x, embeddings=tmp_path / "emb.npy"), table)


def test_load_routing_table_columns(tmp_path):
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame({
        "prompt": ["2+2?", "def f():"], "task": ["math", "code"], "split": ["train", "test"],
        "b|quality": [1.0, 0.0], "b|cost": [0.1, 0.2],
        "a|quality": [0.0, 1.0], "a|cost": [1.0, 2.0],
        "x1": [0.5, 0.6], "x0": [0.1, 0.2], "x10": [9.0, 9.0],
    })
    table = load_routing_table(df)
    assert table.models.tolist() == ["b", "a"]  # column order
    np.testing.assert_array_equal(table.X, [[0.1, 0.5, 9.0], [0.2, 0.6, 9.0]])
    assert table.prompt.tolist() == ["2+2?", "def f():"]
    assert table.split_by("test").task.tolist() == ["code"]
    assert table.expected_quality is None
    assert load_routing_table(df, task_column=None, split_column="nope").task is None


def test_load_routing_table_errors(tmp_path):
    pd = pytest.importorskip("pandas")
    base = {"a|quality": [1.0, 0.0], "a|cost": [0.1, 0.2]}
    with pytest.raises(ValueError, match=r"no '<model>\|quality' columns"):
        load_routing_table(pd.DataFrame({"q": [1.0]}), embeddings=[[0.0]])
    with pytest.raises(ValueError, match=r"lack their cost column.*'b\|cost'"):
        load_routing_table(pd.DataFrame({**base, "b|quality": [1.0, 1.0]}), embeddings=np.eye(2))
    with pytest.raises(ValueError, match="embeddings="):
        load_routing_table(pd.DataFrame(base))
    with pytest.raises(ValueError, match=r"embeddings must be an array .* of shape \(2, n_features\)"):
        load_routing_table(pd.DataFrame(base), embeddings=np.eye(3))
    with pytest.raises(FileNotFoundError, match="embeddings"):
        load_routing_table(pd.DataFrame(base), embeddings=tmp_path / "missing.npy")
    with pytest.raises(ValueError, match=r"path_or_frame must be a .parquet, .csv or .pkl"):
        (tmp_path / "table.json").write_text("{}")
        load_routing_table(tmp_path / "table.json")
    with pytest.raises(TypeError, match="path_or_frame must be"):
        load_routing_table({"a|quality": [1.0]})
    with pytest.raises(FileNotFoundError, match="no file"):
        load_routing_table(tmp_path / "missing.parquet")


def _routerbench_frame(pd):
    # RouterBench's own pickle layout: quality in a column named after the model,
    # cost in '<model>|total_cost', responses beside them, task in 'eval_name'.
    return pd.DataFrame({
        "sample_id": ["mbpp.1", "arc.1", "arc.2"],
        "prompt": ["write code", "a question", "another"],
        "eval_name": ["mbpp", "arc-challenge", "arc-challenge"],
        "oracle_model_to_route_to": ["gpt-4", "llama", "llama"],
        "llama": [0.0, 1.0, 1.0],
        "llama|model_response": ["...", "B", "C"],
        "llama|total_cost": [1e-4, 2e-4, 1e-4],
        "gpt-4": [1.0, 1.0, 0.0],
        "gpt-4|model_response": ["def f(): ...", "B", "A"],
        "gpt-4|total_cost": [3e-3, 4e-3, 5e-3],
    })


def test_load_routing_table_reads_routerbench_pickles(tmp_path):
    pd = pytest.importorskip("pandas")
    path = tmp_path / "routerbench_5shot.pkl"
    _routerbench_frame(pd).to_pickle(path)
    emb = np.arange(6.0).reshape(3, 2)
    table = load_routing_table(path, embeddings=emb)
    assert table.models.tolist() == ["llama", "gpt-4"]
    assert_array_equal(table.quality, [[0.0, 1.0], [1.0, 1.0], [1.0, 0.0]])
    assert_allclose(table.cost, [[1e-4, 3e-3], [2e-4, 4e-3], [1e-4, 5e-3]])
    assert table.task.tolist() == ["mbpp", "arc-challenge", "arc-challenge"]
    assert table.prompt.tolist() == ["write code", "a question", "another"]
    assert_array_equal(table.X, emb)
    # the same table written in our format reads back identically
    ours = tmp_path / "ours.parquet"
    pytest.importorskip("pyarrow")
    table.to_frame().to_parquet(ours)
    back = load_routing_table(ours)
    assert back.models.tolist() == table.models.tolist()
    assert_array_equal(back.quality, table.quality)
    assert_array_equal(back.cost, table.cost)
    assert_array_equal(back.X, table.X)


def test_load_routing_table_format_errors(tmp_path):
    pd = pytest.importorskip("pandas")
    frame = _routerbench_frame(pd)
    with pytest.raises(ValueError, match=r"found no '<model>\|quality' columns"):
        load_routing_table(frame, embeddings=np.eye(3), format="ours")
    with pytest.raises(ValueError, match="format must be 'auto', 'ours' or 'routerbench'"):
        load_routing_table(frame, embeddings=np.eye(3), format="csv")
    with pytest.raises(ValueError, match=r"have a '\|total_cost' column but no quality"):
        load_routing_table(frame.drop(columns=["gpt-4"]), embeddings=np.eye(3))
    with pytest.raises(ValueError, match=r"found no '<model>\|total_cost'"):
        load_routing_table(pd.DataFrame({"q": [1.0]}), embeddings=[[0.0]], format="routerbench")
    path = tmp_path / "not_a_frame.pkl"
    pd.Series([1, 2]).to_pickle(path)
    with pytest.raises(TypeError, match="must hold a pickled pandas DataFrame"):
        load_routing_table(path, embeddings=np.eye(2))


def test_loaders_need_pandas(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "pandas", None)
    with pytest.raises(ImportError, match=r'pip install "sklearn-causal-routing\[data\]"'):
        load_routing_table("anything.parquet")
    with pytest.raises(ImportError, match="pandas"):
        _small_table().to_frame()


def test_load_routerbench_subset_missing_dir(tmp_path):
    with pytest.raises(FileNotFoundError, match="routerbench_subset.parquet.*shared data"):
        load_routerbench_subset(tmp_path / "nowhere")
    np.save(tmp_path / "routerbench_subset_minilm.npy", np.zeros((1, 1)))
    (tmp_path / "routerbench_subset.parquet").write_bytes(b"")
    (tmp_path / "routerbench_subset_minilm.npy").unlink()
    with pytest.raises(FileNotFoundError, match="routerbench_subset_minilm.npy"):
        load_routerbench_subset(tmp_path)


def test_load_routerbench_subset_real_data():
    data_dir = next((d for d in SHARED_DATA_CANDIDATES
                     if (d / "routerbench_subset.parquet").is_file()), None)
    if data_dir is None:
        pytest.skip(
            "shared RouterBench data not found in "
            f"{[str(d) for d in SHARED_DATA_CANDIDATES]}; the test needs "
            "routerbench_subset.parquet and routerbench_subset_minilm.npy there."
        )
    pytest.importorskip("pyarrow")
    table = load_routerbench_subset(data_dir)
    assert table.X.shape == (3150, 384)
    assert table.n_models == 11
    assert set(np.unique(table.task)) == {"arc-challenge", "winogrande", "mbpp"}
    assert table.split_by("train").n_samples == 2205
    assert table.expected_quality is None
    assert table.oracle_value() == pytest.approx(0.976, abs=0.001)
    # default confounded logging on it: overlapping but clearly biased
    P = table.logging_probabilities()
    assert 0.02 < P.min() and P.max() < 0.35


def test_value_reads_matrix_columns_in_the_order_of_classes():
    from sklearn_causal_routing.datasets import make_routing_table

    table = make_routing_table(300, random_state=0)
    order = np.argsort(table.models)  # a router's classes_ are sorted labels
    P_models = np.eye(table.n_models)[np.arange(300) % table.n_models]
    P_sorted = P_models[:, order]
    assert table.value(P_sorted, 0.3, classes=table.models[order]) == table.value(P_models, 0.3)
    assert table.shares(P_sorted, classes=table.models[order]) == table.shares(P_models)
    # Only the columns a router knows: the others get probability zero.
    sub = table.models[:2]
    P_sub = np.tile([1.0, 0.0], (300, 1))
    assert table.value(P_sub, classes=sub) == table.value(np.full(300, sub[0]))
    with pytest.raises(ValueError, match="classes"):
        table.value(P_sorted, classes=np.array(["nope"] * table.n_models))
