"""Routing with exploration: ``RouterMixin.route`` and its recorded propensities.

The statistical claims are checked on a simulated world with known truth: the
draws follow the returned probabilities, and logs drawn by ``route`` with
exploration let off-policy estimators value another policy without bias, while
the naive mean of the same logs is far off. The logging router is a
``DecoupledRouter`` (ridge fits: milliseconds); one small ``RegretRouter`` is
refitted on the routed logs.
"""

import numpy as np
import pytest

from sklearn_causal_routing import IntervalRouter, RegretRouter, make_feedback
from sklearn_causal_routing._exploration import mix_routing, route_scores, sample_routes
from sklearn_causal_routing.baselines import DecoupledRouter, SingleModelRouter
from sklearn_causal_routing.base import Routes
from sklearn_causal_routing.datasets import RoutingWorld
from sklearn_causal_routing.metrics import evaluate_policy

pytestmark = [
    pytest.mark.filterwarnings("ignore::sklearn_causal_routing.exceptions.OverlapWarning"),
    pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning"),  # tiny nets
]

W = 0.5  # cost weight: at it the router spreads its decisions over every model
N = 3000


@pytest.fixture(scope="module")
def world_table():
    return RoutingWorld(random_state=0).sample(N, random_state=1)


@pytest.fixture(scope="module")
def router(world_table):
    """A router fitted on task-confounded logs (its decisions use every model)."""
    logs = world_table.log("confounded", random_state=2)
    return DecoupledRouter(cost_weight=W).fit(logs.X, logs.feedback)


def _served(table, routes):
    """Feedback of the routed queries: the table's outcome of each drawn model."""
    idx = table.model_index(routes.model)
    rows = np.arange(table.n_samples)
    return make_feedback(routes.model, table.quality[rows, idx], cost=table.cost[rows, idx],
                         propensity=routes.propensity)


# --------------------------------------------------------------------------- #
# the draw follows the returned probabilities
# --------------------------------------------------------------------------- #
def test_choice_frequencies_match_the_returned_propensities(world_table, router):
    """Each of 6 queries routed 5,000 times: counts within 4.5 sd of n * proba, per cell."""
    reps = 5000
    X = np.repeat(world_table.X[:6], reps, axis=0)
    routes = router.route(X, exploration=0.2, shares={"xl": 0.1, "tiny": 0.05},
                          random_state=0)
    assert isinstance(routes, Routes)
    assert routes.pool.tolist() == ["large", "medium", "small", "tiny", "xl"]
    rows = np.arange(len(X))
    col = np.searchsorted(routes.pool, routes.model)  # the pool is sorted here
    np.testing.assert_array_equal(routes.propensity, routes.proba[rows, col])
    np.testing.assert_allclose(routes.proba.sum(axis=1), 1.0)
    for q in range(6):
        block = slice(q * reps, (q + 1) * reps)
        p = routes.proba[q * reps]
        assert (routes.proba[block] == p).all()
        counts = np.bincount(col[block], minlength=len(p))
        bound = 4.5 * np.sqrt(reps * p * (1 - p)) + 1
        assert (np.abs(counts - reps * p) <= bound).all(), (q, counts, reps * p)
        # the router's own decision: 0.65 + 0.04 (+ 0.05 for tiny), the rest 0.04 (+ shares)
        own = router.predict(world_table.X[q:q + 1])[0]
        expected = 0.04 + np.array([0.0, 0.0, 0.0, 0.05, 0.1])
        expected[routes.pool.tolist().index(own)] += 0.65
        np.testing.assert_allclose(p, expected)


def test_sampler_never_draws_a_zero_probability_column():
    proba = np.array([[0.0, 1.0, 0.0], [0.3, 0.0, 0.7], [0.0, 0.0, 1.0]] * 2000)
    index = sample_routes(proba, random_state=0)
    assert (proba[np.arange(len(proba)), index] > 0).all()
    assert abs(np.mean(index[1::3] == 2) - 0.7) < 0.04


def test_exploration_zero_is_predict(world_table, router):
    X = world_table.X[:400]
    routes = router.route(X)
    np.testing.assert_array_equal(routes.model, router.predict(X))
    assert (routes.propensity == 1).all()
    fb = world_table.log("uniform", random_state=3).feedback
    single = SingleModelRouter(model="medium").fit(world_table.X, fb)  # no decision_function
    np.testing.assert_array_equal(single.route(X).model, single.predict(X))


def test_interval_router_routes_at_a_given_cost_weight(world_table):
    logs = world_table.subset(np.arange(600)).log("confounded", random_state=4)
    router = IntervalRouter(cost_weight_range=(0.0, 1.0), n_intervals=2,
                            hidden_layer_sizes=(16,), max_epochs=8, random_state=0)
    router.fit(logs.X, logs.feedback)
    for weight in (0.1, 0.9):
        routes = router.route(logs.X, cost_weight=weight, random_state=0)
        np.testing.assert_array_equal(routes.model, router.predict(logs.X, cost_weight=weight))


def test_same_seed_same_routes_and_batches_share_one_stream(world_table, router):
    X = world_table.X[:300]
    a = router.route(X, exploration=0.3, random_state=7)
    b = router.route(X, exploration=0.3, random_state=7)
    np.testing.assert_array_equal(a.model, b.model)
    rng = np.random.RandomState(7)
    batches = [router.route(X[i:i + 100], exploration=0.3, random_state=rng).model
               for i in range(0, 300, 100)]
    np.testing.assert_array_equal(np.concatenate(batches), a.model)
    assert not np.array_equal(router.route(X, exploration=0.3, random_state=8).model, a.model)


# --------------------------------------------------------------------------- #
# new models, and models leaving the pool
# --------------------------------------------------------------------------- #
def test_a_new_model_gets_its_share_and_exploration(world_table, router):
    routes = router.route(world_table.X, exploration=0.1, shares={"xl": 0.05},
                          random_state=1)
    new = routes.model == "xl"
    assert routes.pool.tolist()[-1] == "xl"
    np.testing.assert_allclose(routes.proba[:, -1], 0.05 + 0.1 / 5)
    np.testing.assert_allclose(routes.propensity[new], 0.07)
    assert abs(new.mean() - 0.07) < 4 * np.sqrt(0.07 * 0.93 / N)
    # a new model is never the router's own decision: its share is its only traffic
    alone = router.route(world_table.X, shares={"xl": 0.05}, random_state=1)
    np.testing.assert_allclose(alone.proba[:, -1], 0.05)


def test_pool_restriction_routes_to_the_best_scored_remaining_model(world_table, router):
    X = world_table.X
    scores = router.decision_function(X)
    top = router.classes_[np.bincount(np.argmax(scores, axis=1)).argmax()]
    pool = [m for m in router.classes_.tolist() if m != top]
    routes = router.route(X, exploration=0.3, pool=pool, random_state=0)
    assert top not in set(routes.model.tolist())
    assert routes.pool.tolist() == pool
    cols = [router.classes_.tolist().index(m) for m in pool]
    best = np.array(pool)[np.argmax(scores[:, cols], axis=1)]
    np.testing.assert_array_equal(router.route(X, pool=pool).model, best)
    expected = np.full((len(X), 3), 0.1)
    expected[np.arange(len(X)), [pool.index(m) for m in best]] += 0.7
    np.testing.assert_allclose(routes.proba, expected)
    # a pool with a new model: its share; the old ones keep their scores
    routes = router.route(X, pool=pool + ["xl"], shares={"xl": 0.2}, random_state=0)
    np.testing.assert_allclose(routes.proba[:, -1], 0.2)


def test_a_router_without_a_ranking_says_so_when_its_model_leaves(world_table):
    fb = world_table.log("uniform", random_state=3).feedback
    single = SingleModelRouter(model="medium").fit(world_table.X, fb)
    with pytest.raises(ValueError, match=r"cannot rank the models left in the pool.*"
                                         r"Keep \['medium'\] in the pool"):
        single.route(world_table.X[:5], pool=["tiny", "large"])
    assert (single.route(world_table.X[:5], pool=["medium", "tiny"]).model == "medium").all()


# --------------------------------------------------------------------------- #
# validation
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize("kwargs, error, match", [
    (dict(exploration=1.0), ValueError, r"exploration must be a number in \[0, 1\); got 1.0"),
    (dict(exploration=-0.1), ValueError, r"exploration must be a number in \[0, 1\)"),
    (dict(exploration=True), ValueError, r"exploration must be a number in \[0, 1\); got True"),
    (dict(exploration="0.1"), ValueError, r"exploration must be a number"),
    (dict(exploration=float("nan")), ValueError, r"exploration must be a number"),
    (dict(shares={"xl": 1.0}), ValueError, r"shares\['xl'\] must be a number in \[0, 1\)"),
    (dict(shares=[("xl", 0.1)]), TypeError, r"shares must be a mapping .* got list"),
    (dict(shares={3: 0.1}), TypeError, r"shares must name models by labels of the type .* "
                                       r"\(str, e.g. 'large'\); got 3 of type int"),
    (dict(exploration=0.6, shares={"xl": 0.3, "tiny": 0.1}), ValueError,
     r"exploration \+ sum\(shares\) must be < 1.*got 0.6 \+ 0.4 = 1"),
    (dict(pool=[]), ValueError, r"pool must name at least one model; got an empty pool"),
    (dict(pool="large"), TypeError, r"pool must be a sequence of model labels.*got 'large'"),
    (dict(pool=["large", "tiny", "large"]), ValueError, r"each model once; got \['large'\]"),
    (dict(pool=["xl"], shares={"xl": 0.1}), ValueError,
     r"at least one model the router was fitted on"),
    (dict(pool=["large", "tiny"], shares={"xl": 0.1}), ValueError,
     r"shares names model\(s\) \['xl'\] that are not in the pool \['large', 'tiny'\]"),
])
def test_validation_errors_name_the_argument(world_table, router, kwargs, error, match):
    with pytest.raises(error, match=match):
        router.route(world_table.X[:3], **kwargs)


def test_integer_labels():
    routes = route_scores([[0.0, 1.0]], np.array([3, 7]), shares={9: 0.1}, random_state=0)
    assert routes.pool.tolist() == [3, 7, 9] and routes.model.dtype.kind == "i"
    with pytest.raises(TypeError, match=r"\(int, e.g. 3\); got '9' of type str"):
        route_scores([[0.0, 1.0]], np.array([3, 7]), pool=[3, "9"])
    np.testing.assert_allclose(mix_routing([1], 3, exploration=0.3), [[0.1, 0.8, 0.1]])


# --------------------------------------------------------------------------- #
# the point: logs that carry their propensities value any other policy
# --------------------------------------------------------------------------- #
def test_explored_logs_value_another_policy_without_bias(world_table, router):
    """Logs of ``route(exploration=0.1)`` value "always large" (rarely chosen) without bias.

    The router picks ``large`` on about 4% of the queries, where it is
    estimated best: the naive mean of the rows it served is about 0.2 too
    high. IPS with the recorded propensities is unbiased: over 300 routing
    draws its mean is within 4 standard errors of the exact truth (the
    table's utilities of ``large``), and one draw's doubly robust interval
    covers the table's true value.
    """
    table = world_table
    target = np.full(N, "large")
    utility = table.utility(W, expected=False)[:, table.model_index(["large"])[0]]
    truth = table.value(target, W)
    ips, naive = [], []
    for seed in range(300):
        routes = router.route(table.X, exploration=0.1, random_state=seed)
        served = routes.model == "large"
        ips.append(np.mean(served * utility / routes.propensity))
        naive.append(utility[served].mean())
    ips, naive = np.array(ips), np.array(naive)
    se = ips.std(ddof=1) / np.sqrt(len(ips))
    assert abs(ips.mean() - utility.mean()) < 4 * se, (ips.mean(), utility.mean(), se)
    assert naive.mean() - truth > 0.15  # selection: large served where it looks best

    fb = _served(table, router.route(table.X, exploration=0.1, random_state=0))
    dr = evaluate_policy(target, table.X, fb, cost_weight=W, methods=("dr",)).estimates["dr"]
    assert dr.ci_low <= truth <= dr.ci_high, (dr, truth)
    assert naive.mean() > dr.ci_high + 0.05

    # the next fit reads the recorded propensities
    refit = RegretRouter(cost_weight=W, hidden_layer_sizes=(16,), max_epochs=8,
                         fallback=None, random_state=0).fit(table.X, fb)
    assert refit.utility_.logged_propensity_
    np.testing.assert_array_equal(refit.route(table.X[:200]).model,
                                  refit.predict(table.X[:200]))
