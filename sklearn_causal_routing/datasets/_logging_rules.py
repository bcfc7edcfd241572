"""Simulated logging: the rules a gateway picks models by, the draw, the logs.

Every rule maps a full-feedback table to an ``(n_samples, n_models)``
row-stochastic matrix of logging probabilities; :meth:`RoutingTable.log`
draws one model per query from it (:func:`draw_logs`) and returns the
:class:`LoggedData` a production gateway would have recorded. The rules, by name (:data:`LOGGING_POLICIES`):

- ``"uniform"``: a randomised A/B test, no bias;
- ``"confounded"``: task-confounded and accuracy-proportional;
- ``"deterministic"``: the task's best model with probability ``1 - epsilon``;
- ``"strong-rare"``: the confounded rule with the strongest model capped;
- ``"cheap-heavy"``: the cheapest model takes a fixed share of every query.

The benchmark runner's scenarios and the learning curve log through these
rules, so a rule named in one place means the same everywhere.
"""

import numbers
from dataclasses import dataclass

import numpy as np

from .._feedback import make_feedback, records_propensities
from ..utils.validation import decision_matrix, salted_rng

__all__ = [
    "DEFAULT_CHEAP_SHARE",
    "DEFAULT_EPSILON",
    "DEFAULT_SKEW",
    "DEFAULT_STRONG_CAP",
    "LOGGING_POLICIES",
    "SALT_LOG",
    "LoggedData",
    "draw_logs",
    "logging_probabilities",
    "task_means",
]

#: Every named logging rule of :meth:`RoutingTable.logging_probabilities`.
LOGGING_POLICIES = ("uniform", "confounded", "deterministic", "strong-rare", "cheap-heavy")

#: Salt of the logging draws' random stream (see ``utils.validation.salted_rng``).
SALT_LOG = 303

#: Default inverse temperature of the task-confounded logging rule.
DEFAULT_SKEW = 5.0
#: Default exploration mass of the deterministic rule.
DEFAULT_EPSILON = 0.05
#: Default cap on the strongest model's probability under ``"strong-rare"``.
DEFAULT_STRONG_CAP = 0.25
#: Default share of every query given to the cheapest model under ``"cheap-heavy"``.
DEFAULT_CHEAP_SHARE = 0.7


def _truth(table):
    """The table's truth: expected quality when known, else the realised one."""
    return table.quality if table.expected_quality is None else table.expected_quality


def task_means(table):
    """(n, K) mean true quality of each model on each row's task.

    The overall mean per model when the table has no task labels.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_causal_routing.datasets import RoutingTable
    >>> from sklearn_causal_routing.datasets._logging_rules import task_means
    >>> table = RoutingTable(np.zeros((3, 1)), [[1, 0], [0, 1], [1, 1]], np.ones((3, 2)),
    ...                      ["a", "b"], task=["x", "x", "y"])
    >>> task_means(table)
    array([[0.5, 0.5],
           [0.5, 0.5],
           [1. , 1. ]])
    """
    quality = _truth(table)
    if table.task is None:
        return np.broadcast_to(quality.mean(axis=0), quality.shape)
    _, inverse = np.unique(table.task, return_inverse=True)
    inverse = inverse.ravel()
    n_tasks = inverse.max() + 1
    sums = np.zeros((n_tasks, table.n_models))
    np.add.at(sums, inverse, quality)
    means = sums / np.bincount(inverse, minlength=n_tasks)[:, None]
    return means[inverse]


def _check_real(value, name):
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real) or not np.isfinite(value):
        raise TypeError(f"{name} must be a finite real number; got {value!r}.")
    return value


def _check_fraction(value, name, what, *, closed=True):
    if (
        isinstance(value, (bool, np.bool_))
        or not isinstance(value, numbers.Real)
        or not (0 <= value <= 1 if closed else 0 <= value < 1)
    ):
        interval = "[0, 1]" if closed else "[0, 1)"
        raise ValueError(f"{name} must be a number in {interval} ({what}); got {value!r}.")
    return value


def _confounded(table, skew, difficulty):
    _check_real(skew, "skew")
    _check_real(difficulty, "difficulty")
    n, k = table.n_samples, table.n_models
    logits = skew * task_means(table)
    if difficulty:
        hard = -_truth(table).mean(axis=1)
        sd = hard.std()
        hard = (hard - hard.mean()) / sd if sd > 0 else np.zeros(n)
        rank = np.argsort(np.argsort(table.cost.mean(axis=0), kind="stable"))
        size = rank / max(k - 1, 1) - 0.5
        logits = logits + difficulty * hard[:, None] * size[None, :]
    logits = logits - logits.max(axis=1, keepdims=True)
    P = np.exp(logits)
    return P / P.sum(axis=1, keepdims=True)


def _deterministic(table, epsilon):
    _check_fraction(epsilon, "epsilon", "the exploration mass", closed=False)
    n, k = table.n_samples, table.n_models
    if k == 1:
        return np.ones((n, 1))
    best = np.argmax(task_means(table), axis=1)
    P = np.full((n, k), epsilon / (k - 1))
    P[np.arange(n), best] = 1.0 - epsilon
    return P


def _strong_rare(table, skew, difficulty, strong_cap):
    _check_fraction(strong_cap, "strong_cap", "the strongest model's largest probability")
    P = _confounded(table, skew, difficulty)
    if table.n_models == 1:
        return P
    strong = int(np.argmax(_truth(table).mean(axis=0)))
    capped = np.minimum(P[:, strong], strong_cap)
    rest = np.delete(np.arange(P.shape[1]), strong)
    others = P[:, rest] / P[:, rest].sum(axis=1, keepdims=True)
    out = np.empty_like(P)
    out[:, strong] = capped
    out[:, rest] = others * (1.0 - capped)[:, None]
    return out


def _cheap_heavy(table, skew, difficulty, cheap_share):
    _check_fraction(cheap_share, "cheap_share", "the cheapest model's share of every query")
    P = _confounded(table, skew, difficulty)
    cheap = int(np.argmin(table.cost.mean(axis=0)))
    out = P * (1.0 - cheap_share)
    out[:, cheap] += cheap_share
    return out


def logging_probabilities(
    table,
    policy="confounded",
    *,
    skew=DEFAULT_SKEW,
    difficulty=0.0,
    epsilon=DEFAULT_EPSILON,
    strong_cap=DEFAULT_STRONG_CAP,
    cheap_share=DEFAULT_CHEAP_SHARE,
):
    """The (n, K) logging matrix of a named rule, or of a callable, on ``table``.

    See :meth:`RoutingTable.logging_probabilities` for the rules and their
    parameters (this is its implementation).

    Examples
    --------
    >>> from sklearn_causal_routing.datasets import make_routing_table
    >>> from sklearn_causal_routing.datasets._logging_rules import logging_probabilities
    >>> table = make_routing_table(200)
    >>> P = logging_probabilities(table, "cheap-heavy", cheap_share=0.5)
    >>> bool(P[:, 0].min() >= 0.5), P.shape
    (True, (200, 4))
    """
    n, k = table.n_samples, table.n_models
    if callable(policy):
        P = policy(table)
        if np.ndim(P) != 2:
            raise ValueError(
                f"policy(table) must return a ({n}, {k}) matrix of routing probabilities; "
                f"got shape {np.shape(P)}."
            )
        return decision_matrix(P, table.models, n, name="policy(table)")
    if policy == "uniform":
        return np.full((n, k), 1.0 / k)
    if policy == "confounded":
        return _confounded(table, skew, difficulty)
    if policy == "deterministic":
        return _deterministic(table, epsilon)
    if policy == "strong-rare":
        return _strong_rare(table, skew, difficulty, strong_cap)
    if policy == "cheap-heavy":
        return _cheap_heavy(table, skew, difficulty, cheap_share)
    raise ValueError(
        f"policy must be one of {list(LOGGING_POLICIES)} or a callable "
        f"policy(table) -> (n_samples, n_models) matrix; got {policy!r}."
    )


# --------------------------------------------------------------------------- #
# logged data
# --------------------------------------------------------------------------- #
@dataclass(repr=False)
class LoggedData:
    """Observational routing logs drawn from a full-feedback table.

    Returned by :meth:`RoutingTable.log`: one served model per query, with only
    that model's realised outcome, as a production gateway would record it.

    Attributes
    ----------
    X : ndarray of shape (n_samples, n_features)
        The query features (embeddings).
    t : ndarray of shape (n_samples,)
        The model that served each query (labels from ``RoutingTable.models``).
    feedback : ndarray of shape (n_samples,)
        Structured array from :func:`~sklearn_causal_routing.make_feedback` with
        fields ``action`` (= ``t``), ``quality`` and ``cost`` (the realised
        outcome and cost of the served model) and ``propensity`` (the logging
        probability of the served model, or NaN when not recorded).
    probabilities : ndarray of shape (n_samples, n_models)
        The full logging matrix the models were drawn from (for tests and
        diagnostics; a real gateway rarely has it).

    Examples
    --------
    >>> from sklearn_causal_routing.datasets import RoutingWorld
    >>> logs = RoutingWorld().sample(100, random_state=0).log(random_state=0)
    >>> logs
    LoggedData(n_samples=100, n_features=16, n_models=4, propensity recorded)
    >>> logs.feedback.dtype.names
    ('action', 'quality', 'cost', 'propensity')
    """

    X: np.ndarray
    t: np.ndarray
    feedback: np.ndarray
    probabilities: np.ndarray

    def __len__(self):
        return self.X.shape[0]

    def __repr__(self):
        recorded = records_propensities(self.feedback)
        return (
            f"LoggedData(n_samples={self.X.shape[0]}, n_features={self.X.shape[1]}, "
            f"n_models={self.probabilities.shape[1]}, "
            f"propensity {'recorded' if recorded else 'not recorded'})"
        )


def draw_logs(table, P, *, record_propensity=True, random_state=None):
    """One model per query drawn from the logging matrix ``P``; its outcome only.

    The implementation of :meth:`RoutingTable.log` once its rule gave ``P``.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_causal_routing.datasets import make_routing_table
    >>> from sklearn_causal_routing.datasets._logging_rules import draw_logs
    >>> table = make_routing_table(5)
    >>> draw_logs(table, np.eye(4)[[0, 1, 2, 3, 0]], random_state=0).t.tolist()
    ['tiny', 'small', 'medium', 'large', 'tiny']
    """
    rng = salted_rng(random_state, SALT_LOG)
    cum = np.cumsum(P, axis=1)
    cum[:, -1] = 1.0
    u = rng.random_sample(table.n_samples)
    idx = np.minimum((u[:, None] >= cum).sum(axis=1), table.n_models - 1)
    # never pick a zero-probability model (u can tie a flat cumulative sum)
    rows = np.arange(table.n_samples)
    zero = P[rows, idx] <= 0
    if zero.any():
        idx[zero] = np.argmax(P[zero], axis=1)
    t = table.models[idx]
    feedback = make_feedback(
        t,
        table.quality[rows, idx],
        cost=table.cost[rows, idx],
        propensity=P[rows, idx] if record_propensity else None,
    )
    return LoggedData(X=table.X, t=t, feedback=feedback, probabilities=P)
