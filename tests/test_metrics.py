"""Tests of metrics.policy_value: off-policy value of routing decisions on logs.

Truth: ``RoutingTable.value(decisions, cost_weight)`` on the Gaussian-outcome
world (expected quality known). With recorded propensities the evaluation stage
is unclipped, so DR, IPW and SNIPS are (asymptotically, for SNIPS) unbiased;
each is required to land within Z = 4 standard errors of the truth, the
standard error computed from the per-row terms of that estimator. DM (outcome
models only) is not unbiased with linear outcome models, so it is checked
against its definition instead.

SNIPS weights: w_i = pi(t_i | x_i) / e_{t_i}(x_i). IPW = sum_i w_i r_i / n and
SNIPS = sum_i w_i r_i / sum_i w_i, so SNIPS = IPW * n / sum_i w_i, and
E[sum_i w_i] = n for any routing distribution pi (each E[w_i | x_i] =
sum_t pi(t | x_i) = 1). For the logging policy itself every w_i is exactly 1.
"""

import numpy as np
import pytest

from sklearn_causal_routing import DoublyRobustUtility, make_feedback
from sklearn_causal_routing.metrics import evaluation_utility, policy_value

Z = 4.0
METHODS = ("dr", "ipw", "snips")


@pytest.fixture(scope="module")
def setup(gaussian_table, gaussian_logs, sorted_columns):
    order = sorted_columns(gaussian_table)
    classes = gaussian_table.models[order]
    X, fb = gaussian_logs.X, gaussian_logs.feedback
    action = np.searchsorted(classes, gaussian_logs.t)
    util = DoublyRobustUtility(clip=None, random_state=0).fit(X, fb)  # = evaluation_utility(fb)
    return dict(table=gaussian_table, logs=gaussian_logs, order=order, classes=classes,
                X=X, fb=fb, action=action, util=util)


def _decision_sets(s):
    """Named decisions: constant routers, the oracle, a random stochastic policy."""
    table, classes, n = s["table"], s["classes"], s["X"].shape[0]
    rng = np.random.default_rng(0)
    out = {f"always-{c}": np.full(n, c) for c in classes}
    out["oracle"] = table.oracle_decisions(0.0)
    out["oracle-cw0.5"] = table.oracle_decisions(0.5)
    out["random-labels"] = rng.choice(classes, size=n)
    out["dirichlet"] = rng.dirichlet(np.ones(len(classes)), size=n)  # columns: sorted labels
    return out


def _truth(s, decisions, cost_weight):
    if np.ndim(decisions) == 2:  # sorted-label columns -> the table's column order
        P = np.empty_like(decisions)
        P[:, s["order"]] = decisions
        return s["table"].value(P, cost_weight)
    return s["table"].value(decisions, cost_weight)


def _pi(s, decisions):
    if np.ndim(decisions) == 2:
        return decisions
    P = np.zeros((len(decisions), len(s["classes"])))
    P[np.arange(len(decisions)), np.searchsorted(s["classes"], decisions)] = 1.0
    return P


def _standard_error(s, method, pi, cost_weight):
    fb, action, n = s["fb"], s["action"], len(s["action"])
    if method == "dr":
        terms = (pi * s["util"].utilities(cost_weight)).sum(axis=1)
    else:
        w = pi[np.arange(n), action] / fb["propensity"]
        r = fb["quality"] - cost_weight * fb["cost"]
        terms = w * r if method == "ipw" else w * (r - np.sum(w * r) / np.sum(w))
    return terms.std(ddof=1) / np.sqrt(n)


@pytest.mark.parametrize("cost_weight", [0.0, 0.5])
@pytest.mark.parametrize("method", METHODS)
def test_unbiased_with_logged_propensities(setup, method, cost_weight):
    for name, decisions in _decision_sets(setup).items():
        est = policy_value(decisions, setup["X"], setup["fb"], cost_weight=cost_weight, method=method)
        true = _truth(setup, decisions, cost_weight)
        se = _standard_error(setup, method, _pi(setup, decisions), cost_weight)
        assert abs(est - true) < Z * se, (name, est, true, se)


def test_naive_evaluation_would_fail_the_same_margin(setup):
    """The margin is discriminating: the naive mean of each model's observed
    outcomes misses 'always-tiny' by more than Z standard errors of DR (0.21 vs 0.17)."""
    fb, logs = setup["fb"], setup["logs"]
    decisions = np.full(len(fb), "tiny")
    naive = fb["quality"][logs.t == "tiny"].mean()
    se = _standard_error(setup, "dr", _pi(setup, decisions), 0.0)
    assert abs(naive - _truth(setup, decisions, 0.0)) > Z * se


def test_dr_is_the_mean_routed_dr_utility(setup):
    decisions = _decision_sets(setup)["dirichlet"]
    for cw in (0.0, 0.7):
        expected = np.mean(np.sum(decisions * setup["util"].utilities(cw), axis=1))
        assert policy_value(decisions, setup["X"], setup["fb"], cost_weight=cw) == pytest.approx(expected)


def test_dm_uses_outcome_models_only(setup):
    util = setup["util"]
    decisions = _decision_sets(setup)["oracle"]
    pi = _pi(setup, decisions)
    for cw in (0.0, 0.7):
        expected = np.mean(np.sum(pi * (util.outcome_quality_ - cw * util.outcome_cost_), axis=1))
        got = policy_value(decisions, setup["X"], setup["fb"], cost_weight=cw, method="dm")
        assert got == pytest.approx(expected)
    assert got != pytest.approx(policy_value(decisions, setup["X"], setup["fb"], cost_weight=0.7))


def test_evaluation_utility_is_fixed_and_unclipped_when_logged(setup, logs_unlogged):
    u = evaluation_utility(setup["fb"])
    assert u.clip is None and u.random_state == 0 and u.method == "dr"
    assert evaluation_utility(logs_unlogged.feedback).clip == (5, 95)


def test_labels_and_one_hot_matrix_agree(setup):
    decisions = _decision_sets(setup)["random-labels"]
    for method in ("dr", "dm", "ipw", "snips"):
        a = policy_value(decisions, setup["X"], setup["fb"], cost_weight=0.3, method=method)
        b = policy_value(_pi(setup, decisions), setup["X"], setup["fb"], cost_weight=0.3, method=method)
        assert a == pytest.approx(b, rel=1e-12)


def test_snips_weights(setup):
    """SNIPS = IPW * n / sum_i w_i exactly, and sum_i w_i / n is ~1."""
    X, fb, action = setup["X"], setup["fb"], setup["action"]
    n = len(fb)
    for name, decisions in _decision_sets(setup).items():
        pi = _pi(setup, decisions)
        w = pi[np.arange(n), action] / fb["propensity"]
        ipw = policy_value(decisions, X, fb, method="ipw")
        snips = policy_value(decisions, X, fb, method="snips")
        assert snips == pytest.approx(ipw * n / w.sum(), rel=1e-10), name
        # E[w_i | x_i] = 1 with Var[w_i | x_i] = sum_t pi_t^2 / e_t - (sum pi_t)^2
        P = setup["logs"].probabilities[:, setup["order"]]
        var = ((pi**2 / P).sum(axis=1) - 1.0).mean()
        assert abs(w.mean() - 1.0) < Z * np.sqrt(var / n), name


def test_logging_policy_has_unit_weights(setup):
    """Evaluating the logging rule itself: every w_i = 1, so IPW and SNIPS are
    the plain mean of the observed utility."""
    P = setup["logs"].probabilities[:, setup["order"]]
    fb = setup["fb"]
    observed = np.mean(fb["quality"] - 0.4 * fb["cost"])
    for method in ("ipw", "snips"):
        assert policy_value(P, setup["X"], fb, cost_weight=0.4, method=method) == pytest.approx(observed)


def test_snips_is_invariant_to_rescaled_propensities(setup):
    """Halving every propensity doubles IPW and leaves SNIPS unchanged."""
    fb = setup["fb"]
    half = make_feedback(fb["action"], fb["quality"], cost=fb["cost"], propensity=fb["propensity"] / 2)
    decisions = _decision_sets(setup)["oracle"]
    X = setup["X"]
    assert policy_value(decisions, X, half, method="ipw") == pytest.approx(
        2 * policy_value(decisions, X, fb, method="ipw"))
    assert policy_value(decisions, X, half, method="snips") == pytest.approx(
        policy_value(decisions, X, fb, method="snips"))


def test_better_policy_scores_higher(setup):
    """The true ranking oracle > best single model > worst single model is kept."""
    X, fb, n = setup["X"], setup["fb"], setup["X"].shape[0]
    oracle = policy_value(setup["table"].oracle_decisions(0.0), X, fb)
    best = policy_value(np.full(n, "large"), X, fb)
    worst = policy_value(np.full(n, "tiny"), X, fb)
    assert oracle > best > worst


def test_int_labels(setup):
    fb = setup["fb"]
    codes = setup["action"] + 100
    fbi = make_feedback(codes, fb["quality"], cost=fb["cost"], propensity=fb["propensity"])
    decisions = _decision_sets(setup)["random-labels"]
    for method in METHODS:
        a = policy_value(decisions, setup["X"], fb, method=method)
        b = policy_value(np.searchsorted(setup["classes"], decisions) + 100, setup["X"], fbi, method=method)
        assert a == pytest.approx(b)


# --------------------------------------------------------------------------- #
# errors
# --------------------------------------------------------------------------- #
@pytest.fixture(scope="module")
def small(logs):
    return logs.X[:300], logs.feedback[:300]


def test_unknown_label(small):
    X, fb = small
    decisions = np.full(300, "large")
    decisions[7] = "gpt-5"
    with pytest.raises(ValueError, match=r"decisions contains model label\(s\) \['gpt-5'\].*classes_"):
        policy_value(decisions, X, fb)


def test_labels_of_the_wrong_type(small):
    X, fb = small
    with pytest.raises(ValueError, match="decisions contains model label"):
        policy_value(np.zeros(300, dtype=int), X, fb)


@pytest.mark.parametrize("shape", [(299,), (301,), (300, 3), (300, 5), (299, 4), (300, 4, 1)])
def test_wrong_shapes(small, shape):
    X, fb = small
    decisions = np.full(shape, 0.25) if len(shape) > 1 else np.full(shape, "large")
    with pytest.raises(ValueError, match="decisions"):
        policy_value(decisions, X, fb)


def test_mismatched_X(small):
    X, fb = small
    with pytest.raises(ValueError, match=r"X has 299 rows but the feedback y has 300"):
        policy_value(np.full(300, "large"), X[:299], fb)


def test_unknown_method(small):
    X, fb = small
    with pytest.raises(ValueError, match=r"method must be one of \('dr', 'dm', 'ipw', 'snips'\); got 'IPS'"):
        policy_value(np.full(300, "large"), X, fb, method="IPS")


def test_y_must_be_feedback(small):
    X, fb = small
    with pytest.raises(TypeError, match="y must be the logged feedback"):
        policy_value(np.full(300, "large"), X, fb["quality"])


@pytest.mark.parametrize("bad", ["sum-two", "negative", "nan"])
def test_non_stochastic_matrix(small, bad):
    X, fb = small
    P = np.full((300, 4), 0.25)
    if bad == "sum-two":
        P *= 2
    elif bad == "negative":
        P[0] = [1.5, -0.5, 0.0, 0.0]
    else:
        P[0, 0] = np.nan
    with pytest.raises(ValueError, match="decisions"):
        policy_value(P, X, fb)
