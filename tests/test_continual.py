"""Keeping a RegretRouter current: reprice, partial_fit and the drift check.

Statistical claims are checked on a simulated world with known truth
(``RoutingTable.value``), fixed seeds and margins that a broken update misses:
e.g. a reprice that did not retrain the policy sends the cheaper model no
more traffic, and one that rescaled the wrong column is far from a refit.
"""

import copy
import pickle
import time
import warnings

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import GridSearchCV, KFold

from sklearn_causal_routing import (
    DriftWarning,
    FallbackWarning,
    OverlapWarning,
    RegretRouter,
    SmallArmWarning,
)
from sklearn_causal_routing import DoublyRobustUtility, make_feedback
from sklearn_causal_routing._continual import borrow_outcomes, replay_weights
from sklearn_causal_routing.utils._stats import mean_lcb
from sklearn_causal_routing.datasets import RoutingTable, RoutingWorld
from sklearn_causal_routing.outcome import PooledRidge

CW = 0.5
#: Small network, few epochs; the check off unless a test needs it.
FAST = dict(cost_weight=CW, hidden_layer_sizes=(32,), max_epochs=30, fallback=None, random_state=0)


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():
        for category in (OverlapWarning, SmallArmWarning, FallbackWarning):
            warnings.simplefilter("ignore", category)
        yield


def _rescaled(fb, model, factor):
    """Logs whose costs of ``model`` are multiplied by ``factor``."""
    fb = fb.copy()
    fb["cost"][fb["action"] == model] *= factor
    return fb


def _repriced_table(table, model, factor):
    """The truth at the new price: ``model``'s cost multiplied by ``factor``."""
    cost = table.cost.copy()
    cost[:, table.model_index([model])[0]] *= factor
    return RoutingTable(table.X, table.quality, cost, table.models,
                        expected_quality=table.expected_quality)


@pytest.fixture(scope="module")
def rounds(world):
    return {
        "day1": world.sample(1500, random_state=21).log(random_state=22),
        "day2": world.sample(1500, random_state=23).log(random_state=24),
        "test": world.sample(5000, random_state=25),
    }


@pytest.fixture(scope="module")
def first(rounds):
    day1 = rounds["day1"]
    return RegretRouter(**FAST).fit(day1.X, day1.feedback)


# --- reprice: what is exact ---------------------------------------------------------


@pytest.mark.parametrize("recorded", [True, False], ids=["logged-propensity", "estimated"])
def test_reprice_utilities_equal_a_refit_on_rescaled_logs(world, recorded):
    logs = world.sample(600, random_state=31).log(random_state=32, record_propensity=recorded)
    # the check on, so that its (unclipped, with logged propensities) stage is repriced too
    kw = dict(FAST, max_epochs=2, fallback="best_single", fallback_cv=2)
    router = RegretRouter(**kw).fit(logs.X, logs.feedback).reprice({"large": 0.4, "tiny": 2.5})
    fb = _rescaled(_rescaled(logs.feedback, "large", 0.4), "tiny", 2.5)
    refit = RegretRouter(**kw).fit(logs.X, fb)
    for name in ("quality", "cost", "eval_quality", "eval_cost", "logged_cost"):
        np.testing.assert_allclose(router.history_[name], refit.history_[name], rtol=0, atol=1e-8,
                                   err_msg=name)
    np.testing.assert_allclose(router.utility_.cost_, refit.utility_.cost_, rtol=0, atol=1e-8)
    new_X = world.sample(200, random_state=33).X
    for ours, theirs in zip(router.utility_.predict_outcomes(new_X),
                            refit.utility_.predict_outcomes(new_X)):
        np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-8)
    # and the cost really moved: the large model's DR cost is 0.4 times what it was
    before = RegretRouter(**kw).fit(logs.X, logs.feedback)
    large = np.flatnonzero(router.classes_ == "large")[0]
    np.testing.assert_allclose(router.history_.cost[:, large], 0.4 * before.history_.cost[:, large])


# --- reprice: what is approximate ---------------------------------------------------


@pytest.fixture(scope="module")
def price_cut(rounds, first):
    """The large model's price falls to a quarter: reprice vs a full refit."""
    day1, test = rounds["day1"], rounds["test"]
    repriced = copy.deepcopy(first)
    start = time.perf_counter()
    repriced.reprice({"large": 0.25})
    reprice_s = time.perf_counter() - start
    start = time.perf_counter()
    refit = RegretRouter(**FAST).fit(day1.X, _rescaled(day1.feedback, "large", 0.25))
    refit_s = time.perf_counter() - start
    truth = _repriced_table(test, "large", 0.25)
    decisions = {name: r.predict(test.X) for name, r in
                 (("old", first), ("repriced", repriced), ("refit", refit))}
    result = {
        "router": repriced,
        "share": {k: float(np.mean(d == "large")) for k, d in decisions.items()},
        "value": {k: truth.value(d, CW) for k, d in decisions.items()},
        "agreement": float(np.mean(decisions["repriced"] == decisions["refit"])),
        "epochs": len(repriced.policy_.history) - len(first.policy_.history),
    }
    print(f"\nprice cut: reprice {reprice_s:.2f} s, full refit {refit_s:.2f} s; {result}")
    return result


def test_price_cut_sends_the_model_more_traffic_and_nears_a_refit(price_cut):
    share, value = price_cut["share"], price_cut["value"]
    # The old router never sends "large" anything at these prices; the refit ~0.3.
    assert share["repriced"] >= share["old"] + 0.1, price_cut
    # At the new prices, the repriced router gains on the old one and is within
    # 0.03 of a full refit (measured: it was above the refit on this seed).
    assert value["repriced"] >= value["old"] + 0.03, price_cut
    assert value["repriced"] >= value["refit"] - 0.03, price_cut
    assert price_cut["agreement"] >= 0.7, price_cut


def test_reprice_trains_a_fifth_of_the_epochs(price_cut):
    # Timing is printed by the fixture; epochs are what it is made of.
    assert 1 <= price_cut["epochs"] <= FAST["max_epochs"] // 5


@pytest.mark.parametrize("refresh", [False, True], ids=["fold-policies-kept", "refreshed"])
def test_reprice_reruns_the_check_at_the_new_prices(rounds, refresh):
    day1 = rounds["day1"]
    router = RegretRouter(**dict(FAST, fallback="best_single", fallback_cv=2))
    router.fit(day1.X, day1.feedback)
    before = [copy.deepcopy(net.module_.state_dict()) for net in router.history_.fold_policies]
    old_values = router.fallback_report_.single_values.copy()
    router.reprice({"large": 0.25}, refresh_check=refresh)
    rows, large = router.history_, np.flatnonzero(router.classes_ == "large")[0]
    new_values = router.fallback_report_.single_values
    # the check values every model at the new prices ...
    np.testing.assert_allclose(new_values, (rows.eval_quality - CW * rows.eval_cost).mean(axis=0))
    assert new_values[large] > old_values[large] + 0.05, (old_values, new_values)
    # ... with its fold policies retrained only when asked
    retrained = [
        any(not torch.equal(weights[name], net.module_.state_dict()[name]) for name in weights)
        for weights, net in zip(before, rows.fold_policies)
    ]
    assert retrained == [refresh, refresh]


def test_reprice_compounds_and_keeps_quality(first):
    router = copy.deepcopy(first).reprice({"medium": 0.5}, max_epochs=1)
    router.reprice({"medium": 4.0}, max_epochs=1)
    medium = np.flatnonzero(first.classes_ == "medium")[0]
    np.testing.assert_allclose(router.history_.cost[:, medium], 2.0 * first.history_.cost[:, medium])
    np.testing.assert_array_equal(router.history_.quality, first.history_.quality)
    np.testing.assert_allclose(router.utility_.cost_scale_, np.where(first.classes_ == "medium", 2.0, 1.0))


# --- partial_fit --------------------------------------------------------------------


@pytest.fixture(scope="module")
def second_round(rounds, first):
    day1, day2, test = rounds["day1"], rounds["day2"], rounds["test"]
    updated = copy.deepcopy(first).partial_fit(day2.X, day2.feedback)
    both = RegretRouter(**FAST).fit(
        np.vstack([day1.X, day2.X]), np.concatenate([day1.feedback, day2.feedback])
    )
    values = {name: test.value(r.predict(test.X), CW) for name, r in
              (("first", first), ("updated", updated), ("both", both))}
    print(f"\npartial_fit: true values {values}")
    return {"updated": updated, "both": both, "values": values}


def test_partial_fit_keeps_or_improves_and_nears_a_fit_on_both(second_round):
    v = second_round["values"]
    assert v["updated"] >= v["first"] - 0.01, v
    assert v["updated"] >= v["both"] - 0.02, v


def test_partial_fit_keeps_every_row_with_memory_one(rounds, second_round):
    history = second_round["updated"].history_
    assert history.X.shape == (3000, rounds["day1"].X.shape[1])
    np.testing.assert_array_equal(history.weight, 1.0)
    assert second_round["updated"].n_updates_ == 1


def test_memory_zero_equals_a_fit_on_the_new_logs(rounds, first):
    day2 = rounds["day2"]
    forgetful = copy.deepcopy(first).set_params(memory=0.0)
    forgetful.partial_fit(day2.X, day2.feedback, max_epochs=1)
    fresh = RegretRouter(**dict(FAST, max_epochs=1)).fit(day2.X, day2.feedback)
    assert forgetful.history_.X.shape[0] == day2.X.shape[0]
    for name in ("quality", "cost", "eval_quality", "eval_cost", "fold"):
        np.testing.assert_array_equal(forgetful.history_[name], fresh.history_[name], err_msg=name)


def test_memory_down_weights_past_rounds(rounds, first):
    day2 = rounds["day2"]
    router = copy.deepcopy(first).set_params(memory=0.5)
    router.partial_fit(day2.X[:300], day2.feedback[:300], max_epochs=1)
    router.partial_fit(day2.X[300:600], day2.feedback[300:600], max_epochs=1)
    expected = np.concatenate([np.full(1500, 0.25), np.full(300, 0.5), np.full(300, 1.0)])
    np.testing.assert_array_equal(router.history_.weight, expected)


def test_replay_weights_stand_for_every_kept_row():
    rng = np.random.default_rng(0)
    # 200 kept rows, 50 dropped (weight 0), then 100 new rows
    weight = np.concatenate([rng.uniform(0.2, 1.0, 200), np.zeros(50), np.ones(100)])
    values = rng.normal(1.0, 1.0, weight.size)
    draws = np.array([replay_weights(weight, 100, 0.5, rng) for _ in range(4000)])
    np.testing.assert_array_equal(draws[:, -100:], 1.0)  # the new rows, as they are
    assert np.all((draws[:, :250] > 0).sum(axis=1) == 50)  # 0.5 x 100 replayed
    assert np.all(draws[:, 200:250] == 0)  # never a dropped row
    totals = draws @ values
    se = totals.std(ddof=1) / np.sqrt(len(totals))
    assert abs(totals.mean() - weight @ values) < 4 * se  # unbiased for the whole loss
    unweighted = (draws > 0) @ (weight * values)  # a sample not reweighted: far off
    assert abs(unweighted.mean() - weight @ values) > 40 * se
    assert replay_weights(weight, 100, 5.0, rng) is weight  # all 200 fit: no sampling


def test_replay_trains_on_the_new_rows_and_a_sample(rounds, monkeypatch):
    day1, day2 = rounds["day1"], rounds["day2"]
    router = RegretRouter(**dict(FAST, fallback="best_single", fallback_cv=2, replay=0.5))
    router.fit(day1.X, day1.feedback)
    trained = []
    fit_policy = RegretRouter._fit_policy

    def spy(self, X, U, scale, weight=None, **kwargs):
        trained.append(X.shape[0] if weight is None else int((weight > 0).sum()))
        return fit_policy(self, X, U, scale, weight=weight, **kwargs)

    monkeypatch.setattr(RegretRouter, "_fit_policy", spy)
    router.partial_fit(day2.X[:600], day2.feedback[:600], max_epochs=1)
    # the policy: 600 new rows + 300 of the 1500 kept; each fold policy about half
    assert trained[0] == 900
    assert len(trained) == 3 and sum(trained[1:]) == 900
    # every row is kept and valued, with its own weight
    np.testing.assert_array_equal(router.history_.weight, 1.0)
    assert router.history_.X.shape[0] == 2100


def test_partial_fit_with_replay_routes_as_well(rounds, first, second_round):
    day2, test = rounds["day2"], rounds["test"]
    replayed = copy.deepcopy(first).set_params(replay=0.5).partial_fit(day2.X, day2.feedback)
    v = dict(second_round["values"], replayed=test.value(replayed.predict(test.X), CW))
    print(f"\nreplay: true values {v}")
    assert v["replayed"] >= v["first"] - 0.01, v
    assert v["replayed"] >= v["both"] - 0.02, v


# --- drift ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def checked(rounds):
    """A router with the fallback check (the drift check's reference value)."""
    day1 = rounds["day1"]
    return RegretRouter(**dict(FAST, fallback="best_single", fallback_cv=2)).fit(day1.X, day1.feedback)


def test_no_drift_warning_when_the_world_stays(rounds, checked):
    day2 = rounds["day2"]
    with warnings.catch_warnings():
        warnings.simplefilter("error", DriftWarning)
        router = copy.deepcopy(checked).partial_fit(day2.X, day2.feedback, max_epochs=2)
    report = router.drift_report_
    assert report.skipped is None and not report.drifted, report
    assert report.difference_ci_low < 0 < report.difference_ci_high


def test_drift_warning_when_the_favourite_model_gets_worse(world, checked):
    table = world.sample(1500, random_state=41)
    # the model the router sends most traffic to now fails every query
    favourite = checked.classes_[np.argmax(
        [np.mean(checked.predict(table.X) == m) for m in checked.classes_])]
    k = table.model_index([favourite])[0]
    quality, expected = table.quality.copy(), table.expected_quality.copy()
    quality[:, k] = 0.0
    expected[:, k] = 0.0
    worse = RoutingTable(table.X, quality, table.cost, table.models, task=table.task,
                         expected_quality=expected).log(random_state=43)
    router = copy.deepcopy(checked)
    with pytest.warns(DriftWarning, match="fell by"):
        router.partial_fit(worse.X, worse.feedback, max_epochs=2)
    report = router.drift_report_
    assert report.drifted and report.difference_ci_high < 0, report


def test_drift_check_skipped_without_the_fallback_check(second_round):
    assert "fallback=None" in second_round["updated"].drift_report_.skipped


# --- scikit-learn machinery ---------------------------------------------------------


def test_pickle_round_trip_keeps_history_and_continues(rounds, second_round):
    router = second_round["updated"]
    loaded = pickle.loads(pickle.dumps(router))
    X = rounds["test"].X[:500]
    np.testing.assert_array_equal(loaded.predict(X), router.predict(X))
    np.testing.assert_array_equal(loaded.history_.cost, router.history_.cost)
    loaded.reprice({"small": 0.5}, max_epochs=1)  # read-only arrays came back writable or not: no matter
    assert loaded.history_.X.shape[0] == router.history_.X.shape[0]


def test_clone_and_grid_search(rounds):
    day1 = rounds["day1"]
    router = RegretRouter(**dict(FAST, max_epochs=3), memory=0.5, keep_history=True)
    assert clone(router).get_params()["memory"] == 0.5
    assert not hasattr(clone(router), "history_")
    search = GridSearchCV(router, {"temperature": [0.5, 2.0]}, cv=KFold(2)).fit(
        day1.X[:600], day1.feedback[:600]
    )
    best = search.best_estimator_
    assert best.history_.X.shape[0] == 600
    best.partial_fit(day1.X[600:900], day1.feedback[600:900], max_epochs=1)
    assert best.history_.X.shape[0] == 900


def test_keep_history_false_stores_nothing_and_says_how_to_continue(rounds):
    day1 = rounds["day1"]
    router = RegretRouter(**dict(FAST, max_epochs=2), keep_history=False).fit(
        day1.X[:400], day1.feedback[:400]
    )
    assert router.history_ is None
    with pytest.raises(ValueError, match="keep_history=True"):
        router.reprice({"large": 0.5})
    with pytest.raises(ValueError, match="keep_history=True"):
        router.partial_fit(day1.X[400:600], day1.feedback[400:600])


# --- errors -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "cost_scale, error, match",
    [
        ({"huge": 0.5}, ValueError, r"cost_scale contains model label\(s\) \['huge'\]"),
        ({"large": -0.5}, ValueError, r"cost_scale\['large'\] must be a finite number >= 0"),
        ({"large": float("nan")}, ValueError, "finite number"),
        ({"large": "half"}, ValueError, "finite number"),
        ({}, TypeError, "non-empty dict"),
        (0.5, TypeError, "non-empty dict"),
    ],
)
def test_reprice_rejects_bad_cost_scales(first, cost_scale, error, match):
    router = copy.deepcopy(first)
    before = router.history_.cost
    with pytest.raises(error, match=match):
        router.reprice(cost_scale)
    assert router.history_.cost is before  # nothing changed


def test_reprice_rejects_bad_max_epochs(first):
    with pytest.raises(ValueError, match="max_epochs must be None or an int >= 1"):
        copy.deepcopy(first).reprice({"large": 0.5}, max_epochs=0)


def test_continuing_before_fit_says_to_fit(rounds):
    day1 = rounds["day1"]
    with pytest.raises(NotFittedError, match=r"Call router.fit\(X, feedback\) first"):
        RegretRouter().partial_fit(day1.X, day1.feedback)
    with pytest.raises(NotFittedError, match="not fitted yet"):
        RegretRouter().reprice({"large": 0.5})


def test_partial_fit_rejects_other_features(rounds, first):
    day2 = rounds["day2"]
    with pytest.raises(ValueError, match="features"):
        copy.deepcopy(first).partial_fit(day2.X[:, :5], day2.feedback)


def test_partial_fit_with_a_model_missing_from_the_new_logs(rounds, first):
    day2 = rounds["day2"]
    served = day2.feedback["action"] != "tiny"
    router = copy.deepcopy(first).partial_fit(day2.X[served], day2.feedback[served], max_epochs=1)
    tiny = np.flatnonzero(first.classes_ == "tiny")[0]
    new_rows = router.history_.quality[1500:]
    # the missing model's column comes from the previous stage's outcome models
    expected = first.utility_.predict_outcomes(day2.X[served])[0][:, tiny]
    np.testing.assert_allclose(new_rows[:, tiny], expected)


def _own_traffic(table, served, share, seed):
    """The logs of a router that fell back to ``served``: every other model gets
    ``share`` of the traffic (exploration), with the propensities recorded."""
    k = len(table.models)
    p = np.full(k, share)
    p[list(table.models).index(served)] = 1 - share * (k - 1)
    a = np.random.default_rng(seed).choice(k, size=table.n_samples, p=p)
    rows = np.arange(table.n_samples)
    return make_feedback(table.models[a], table.quality[rows, a], cost=table.cost[rows, a],
                         propensity=p[a])


def test_a_rarely_logged_model_borrows_an_earlier_outcome_model(world, first):
    """Logs of a router that fell back to 'small' hold about 15 rows of 'large': its
    outcome model within them is the mean of a few rows. The earlier round's, fitted
    on its 581 rows there, values it far better: over 10 draws of the logs, the root
    mean squared error of large's mean DR utility on the new rows (the policy's
    stage, clipped as by default) drops by more than half."""
    table = world.sample(1500, random_state=23)
    t = list(table.models).index("large")
    truth = np.mean(table.quality[:, t] - CW * table.cost[:, t])
    errors = {"own": [], "borrowed": []}
    for seed in range(10):
        fb = _own_traffic(table, "small", 0.01, seed)
        stage = DoublyRobustUtility(random_state=0).fit(table.X, fb)
        borrowed, = borrow_outcomes([stage], [first.utility_], table.X, fb)
        for name, s in (("own", stage), ("borrowed", borrowed)):
            errors[name].append(np.mean(s.utilities(CW)[:, 0]) - truth)
        # only large's (and medium's and tiny's) columns changed, from the earlier stage
        mu = first.utility_.predict_outcomes(table.X)[0]
        np.testing.assert_allclose(borrowed.outcome_quality_[:, [0, 1, 3]], mu[:, [0, 1, 3]])
        np.testing.assert_array_equal(borrowed.quality_[:, 2], stage.quality_[:, 2])
    rmse = {name: np.sqrt(np.mean(np.square(e))) for name, e in errors.items()}
    assert rmse["borrowed"] < 0.5 * rmse["own"], rmse


def test_partial_fit_keeps_the_stage_it_borrows_from(rounds, world, first):
    table = world.sample(1500, random_state=23)
    fb = _own_traffic(table, "small", 0.01, 0)
    router = copy.deepcopy(first)
    earlier = router.utility_
    router.partial_fit(table.X, fb, max_epochs=1)
    # kept without its per-row arrays: it only predicts outcomes from now on
    kept, = router.history_.fill_stages
    assert kept.outcome_models_ is earlier.outcome_models_ and not hasattr(kept, "quality_")
    assert len(pickle.dumps(kept)) < len(pickle.dumps(earlier)) / 3
    np.testing.assert_array_equal(kept.predict_outcomes(table.X[:5])[1],
                                  earlier.predict_outcomes(table.X[:5])[1])
    expected, = borrow_outcomes(
        [DoublyRobustUtility(random_state=0).fit(table.X, fb)], [first.utility_], table.X, fb
    )
    np.testing.assert_allclose(router.history_.quality[1500:], expected.quality_)
    # each kept row keeps its propensity, and the support counts both rounds
    np.testing.assert_array_equal(router.history_.propensity[1500:], expected.propensity_)
    assert router.history_.propensity.shape == (3000,)


def test_two_rounds_missing_a_model_then_reprice(rounds, first):
    """A model absent from two rounds in a row is filled by the last stage that knew it."""
    day2 = rounds["day2"]
    served = day2.feedback["action"] != "tiny"
    half = np.flatnonzero(served)
    a, b = half[: half.size // 2], half[half.size // 2 :]
    router = copy.deepcopy(first)
    router.partial_fit(day2.X[a], day2.feedback[a], max_epochs=1)
    router.partial_fit(day2.X[b], day2.feedback[b], max_epochs=1)
    tiny = np.flatnonzero(router.classes_ == "tiny")[0]
    expected = first.utility_.predict_outcomes(day2.X[b])[0][:, tiny]
    np.testing.assert_allclose(router.history_.quality[-b.size:, tiny], expected)
    assert router.history_.filled[-b.size:, tiny].all()
    assert not router.history_.filled[:1500].any()
    # the newest stage lacks tiny: reprice maps the factors to its own models
    router.reprice({"tiny": 0.5, "large": 0.8}, max_epochs=1)
    assert np.all(np.isfinite(router.history_.cost))


# --- a new model enters the pool ----------------------------------------------------

NEW = "aaa"  #: sorts before every other model: every old column moves


def _renamed(table):
    """The 5-model world's strongest model (``large``), renamed ``NEW``."""
    models = np.where(table.models == "large", NEW, table.models)
    return RoutingTable(table.X, table.quality, table.cost, models, task=table.task,
                        expected_quality=table.expected_quality)


def _without(table, label):
    keep = table.models != label
    return RoutingTable(table.X, table.quality[:, keep], table.cost[:, keep],
                        table.models[keep], task=table.task,
                        expected_quality=table.expected_quality[:, keep])


def _routed_feedback(router, table, seed):
    """Route ``table`` with 10% exploration and a 10% share for NEW; log the outcomes."""
    routes = router.route(table.X, exploration=0.1, shares={NEW: 0.1}, random_state=seed)
    col = table.model_index(routes.model)
    rows = np.arange(table.n_samples)
    return make_feedback(routes.model, table.quality[rows, col], cost=table.cost[rows, col],
                         propensity=routes.propensity)


def _pooled():
    return DoublyRobustUtility(quality_model=PooledRidge(), cost_model=PooledRidge())


@pytest.fixture(scope="module")
def entry():
    """Day 1: four models (no NEW), confounded logs. Day 2: the router's own routes with a
    10% share for NEW (about 270 of 2,000 rows). At cost weight 0.5, NEW truly wins 38%
    of queries."""
    world = RoutingWorld(n_models=5, random_state=0)
    full1 = _renamed(world.sample(3000, random_state=10))
    day1 = _without(full1, NEW).log(random_state=11)
    full2 = _renamed(world.sample(2000, random_state=12))
    test = _renamed(world.sample(5000, random_state=13))
    out = {"full1": full1, "day1": day1, "full2": full2, "test": test}
    for name, utility in (("pooled", _pooled), ("ridge", lambda: None)):
        first = RegretRouter(**FAST, utility=utility()).fit(day1.X, day1.feedback)
        fb2 = _routed_feedback(first, full2, seed=0)
        grown = copy.deepcopy(first).partial_fit(full2.X, fb2)
        out[name] = {"first": first, "fb2": fb2, "grown": grown}
    pooled = out["pooled"]
    X_all = np.vstack([day1.X, full2.X])
    fb_all = np.concatenate([day1.feedback, pooled["fb2"].astype(day1.feedback.dtype)])
    pooled["refit"] = RegretRouter(**FAST, utility=_pooled()).fit(X_all, fb_all)
    return out


def test_new_model_joins_sorted_and_old_rows_are_remapped(entry):
    grown, first, day1 = entry["pooled"]["grown"], entry["pooled"]["first"], entry["day1"]
    assert first.classes_.tolist() == ["medium", "small", "tiny", "xl"]
    assert grown.classes_.tolist() == [NEW, "medium", "small", "tiny", "xl"]
    assert 200 <= np.sum(entry["pooled"]["fb2"]["action"] == NEW) <= 350
    history = grown.history_
    np.testing.assert_array_equal(grown.classes_[history.action[:3000]], day1.t)
    # old columns kept, at their new positions; the new one filled and flagged
    np.testing.assert_array_equal(history.quality[:3000, 1:], first.history_.quality)
    np.testing.assert_array_equal(history.cost[:3000, 1:], first.history_.cost)
    assert history.filled[:3000, 0].all() and not history.filled[:3000, 1:].any()
    assert not history.filled[3000:].any()
    stage_q, stage_c = grown.utility_.predict_outcomes(day1.X)
    np.testing.assert_allclose(history.quality[:3000, 0], stage_q[:, 0], rtol=1e-5)
    np.testing.assert_allclose(history.cost[:3000, 0], stage_c[:, 0], rtol=1e-5)
    assert grown.constant_values_.shape == (5,)
    assert grown.decision_function(day1.X[:3]).shape == (3, 5)


def test_new_model_gets_its_wins_and_nears_a_refit(entry):
    test, pooled = entry["test"], entry["pooled"]
    U = test.utility(CW)
    wins = U.argmax(axis=1) == test.model_index([NEW])[0]
    assert 0.3 < wins.mean() < 0.45
    values = {name: test.value(pooled[name].predict(test.X), CW)
              for name in ("first", "grown", "refit")}
    decisions = pooled["grown"].predict(test.X)
    print(f"\nnew model: true values {values}, share where it wins "
          f"{np.mean(decisions[wins] == NEW):.2f}")
    # it goes where it truly wins, and rarely elsewhere
    assert np.mean(decisions[wins] == NEW) > 0.85
    assert np.mean(decisions[~wins] == NEW) < 0.2
    assert values["grown"] > values["first"] + 0.1           # measured 0.749 vs 0.583
    assert values["grown"] > values["refit"] - 0.02          # refit: 0.751


def test_pooled_outcome_model_borrows_strength_for_the_new_model(entry):
    """At ~270 rows, PooledRidge's quality estimates of NEW on the old rows are closer to
    the truth than per-model RidgeCV's (measured MAE 0.135 vs 0.165)."""
    truth = entry["full1"].expected_quality[:, entry["full1"].model_index([NEW])[0]]
    mae = {name: np.mean(np.abs(entry[name]["grown"].history_.quality[:3000, 0] - truth))
           for name in ("pooled", "ridge")}
    assert mae["pooled"] < mae["ridge"] - 0.015, mae
    assert mae["pooled"] < 0.15, mae


def test_grown_router_pickles_and_maps_columns(entry):
    grown, test = entry["pooled"]["grown"], entry["test"]
    again = pickle.loads(pickle.dumps(grown))
    np.testing.assert_array_equal(again.predict(test.X), grown.predict(test.X))
    P = again.predict_proba(test.X[:500])
    assert P.shape == (500, 5)
    np.testing.assert_array_equal(again.classes_[P.argmax(axis=1)], grown.predict(test.X[:500]))
    # the columns follow classes_: the routing distribution is worth what the decisions are
    head = test.subset(np.arange(500))
    assert head.value(P, CW, classes=again.classes_) == pytest.approx(
        head.value(again.predict(head.X), CW), abs=0.02)
    again.partial_fit(entry["full2"].X[:600], entry["pooled"]["fb2"][:600], max_epochs=1)
    assert again.n_updates_ == 2


def test_new_model_with_the_check_and_a_classifier_policy(entry):
    from sklearn.linear_model import LogisticRegression

    day1, full2, fb2 = entry["day1"], entry["full2"], entry["pooled"]["fb2"]
    checked = RegretRouter(**dict(FAST, max_epochs=3, fallback="best_single", fallback_cv=2))
    checked.fit(day1.X[:1000], day1.feedback[:1000]).partial_fit(full2.X, fb2, max_epochs=2)
    assert checked.classes_[0] == NEW
    assert checked.fallback_report_.single_values.shape == (5,)
    assert all(net.module_.head.out_features == 5 for net in checked.history_.fold_policies)
    clf = RegretRouter(cost_weight=CW, loss="classification", fallback=None, random_state=0,
                       policy=LogisticRegression(max_iter=300))
    clf.fit(day1.X[:1000], day1.feedback[:1000]).partial_fit(full2.X, fb2)
    assert clf.predict_proba(full2.X[:5]).shape == (5, 5)
    assert np.mean(clf.predict(entry["test"].X) == NEW) > 0.2


def test_pessimism_penalty_is_z_standard_errors_over_dr_rows(entry):
    grown = entry["pooled"]["grown"]
    assert np.all(grown.pessimism_penalty_ == 0)            # the default: off
    router = copy.deepcopy(grown).set_params(pessimism=2.0)
    router.reprice({NEW: 1.0}, max_epochs=1)                # retrain with the penalty
    history = router.history_
    U = history.quality - CW * history.cost
    # NEW: its standard error over the 2,000 new rows only (no DR estimate before)
    mean, lcb = mean_lcb(U[3000:, 0], 2.0)
    assert router.pessimism_penalty_[0] == pytest.approx(mean - lcb)
    mean, lcb = mean_lcb(U[:, 1], 2.0)
    assert router.pessimism_penalty_[1] == pytest.approx(mean - lcb)
    assert np.all(router.pessimism_penalty_ > 0)
