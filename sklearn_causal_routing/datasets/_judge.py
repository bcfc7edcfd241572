"""A biased LLM judge and a gold-standard grader on simulated or real logs.

:func:`add_judge_grades` takes a full-feedback :class:`RoutingTable` (whose
realised quality plays the gold-standard grade) and logs drawn from it, and
decides per logged row who graded it: a gold grader (a small random or
targeted subset) or a cheap judge whose grade is the gold grade plus a bias
that depends on the query's task (cluster) and on the model, plus noise. The
truth (bias, gold propensities, the grades of both graders on every row) comes
back with the logs, for tests and benchmarks.
"""

import numbers
from dataclasses import dataclass

import numpy as np

from .._feedback import make_feedback
from ..utils.validation import salted_rng
from ._logging_rules import LoggedData
from ._table import RoutingTable

__all__ = ["JudgedLogs", "add_judge_grades"]

SALT_JUDGE = 404


@dataclass(repr=False)
class JudgedLogs(LoggedData):
    """Logs whose rows were graded either by a gold grader or by a biased judge.

    Returned by :func:`add_judge_grades`. ``feedback`` is what a team would
    have: the gold grade on gold rows, the judge grade on the others, with
    the ``gold`` and ``judge`` fields of :func:`make_feedback`.

    Attributes
    ----------
    X, t, probabilities : ndarray
        As in :class:`LoggedData` (the logs the grades were added to).
    feedback : ndarray of shape (n_samples,)
        Feedback with fields ``action``, ``quality`` (gold grade where
        ``gold``, else judge grade), ``cost``, ``propensity``, ``gold`` and
        ``judge`` (the judge grade on judge rows and on gold rows that carry
        both, NaN otherwise).
    gold : ndarray of bool of shape (n_samples,)
        Which rows were gold-graded.
    gold_propensity : ndarray of shape (n_samples,)
        The true probability that each row was gold-graded.
    judge : ndarray of shape (n_samples,)
        The judge's grade of every row (also where it is not in ``feedback``).
    bias : ndarray of shape (n_samples, n_models)
        True expected bias (judge minus gold) of every model on every row, in
        the table's model order.
    task_bias : ndarray of shape (n_tasks, n_models)
        The bias per task (rows follow ``tasks``) and model.
    tasks : ndarray of shape (n_tasks,)
        Sorted task labels (``["all"]`` when the table has no tasks).
    gold_feedback : ndarray of shape (n_samples,)
        The logs with gold grades on every row (what full gold grading would
        give: the ceiling).
    judge_feedback : ndarray of shape (n_samples,)
        The logs with judge grades on every row.

    Examples
    --------
    >>> from sklearn_causal_routing.datasets import RoutingWorld, add_judge_grades
    >>> table = RoutingWorld(random_state=0).sample(500, random_state=1)
    >>> judged = add_judge_grades(table, table.log(random_state=2), random_state=3)
    >>> judged
    JudgedLogs(n_samples=500, n_models=4, gold rows=57 (11.4%), both grades=0)
    """

    gold: np.ndarray = None
    gold_propensity: np.ndarray = None
    judge: np.ndarray = None
    bias: np.ndarray = None
    task_bias: np.ndarray = None
    tasks: np.ndarray = None
    gold_feedback: np.ndarray = None
    judge_feedback: np.ndarray = None

    def __repr__(self):
        n = self.X.shape[0]
        both = int(np.sum(self.gold & ~np.isnan(self.feedback["judge"])))
        return (
            f"JudgedLogs(n_samples={n}, n_models={self.probabilities.shape[1]}, "
            f"gold rows={int(self.gold.sum())} ({100 * self.gold.mean():.1f}%), "
            f"both grades={both})"
        )


def _check_unit(value, name, *, low_open=False, high_open=False):
    ok = isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))
    ok = ok and np.isfinite(value)
    if ok:
        ok = (value > 0 if low_open else value >= 0) and (value < 1 if high_open else value <= 1)
    if not ok:
        interval = f"{'(' if low_open else '['}0, 1{')' if high_open else ']'}"
        raise ValueError(f"{name} must be a number in {interval}; got {value!r}.")
    return float(value)


def _check_nonneg(value, name):
    if (
        isinstance(value, (bool, np.bool_))
        or not isinstance(value, numbers.Real)
        or not np.isfinite(value)
        or value < 0
    ):
        raise ValueError(f"{name} must be a finite number >= 0; got {value!r}.")
    return float(value)


def _targeted_propensity(score, fraction, targeting):
    """``sigmoid(a + targeting * score)`` with ``a`` such that the mean is ``fraction``."""
    if targeting == 0:
        return np.full(score.shape, fraction)
    lo, hi = -50.0, 50.0
    for _ in range(200):
        a = 0.5 * (lo + hi)
        mean = np.mean(1.0 / (1.0 + np.exp(-(a + targeting * score))))
        lo, hi = (a, hi) if mean < fraction else (lo, a)
    return 1.0 / (1.0 + np.exp(-(0.5 * (lo + hi) + targeting * score)))


def add_judge_grades(
    table,
    logs,
    *,
    gold_fraction=0.1,
    bias_scale=0.15,
    bias=None,
    noise=0.1,
    targeting=0.0,
    both_fraction=0.0,
    random_state=None,
):
    """Grade logged rows by a gold grader (a few) or a biased judge (the rest).

    The gold grade of a row is the table's realised quality of the logged
    model (the logs' ``quality``). The judge grades row ``i`` (task ``c``,
    logged model ``k``) as ``gold grade + bias[c, k] + N(0, noise**2)``. Each
    row is gold-graded with probability ``gold_propensity[i]``: the same
    ``gold_fraction`` for every row (a random subset), or, with
    ``targeting != 0``, ``sigmoid(a + targeting * s(x_i))`` where ``s`` is a
    standardised projection of the query features on a random direction and
    ``a`` sets the mean to ``gold_fraction`` (gold grading aimed at some
    queries).

    Works on simulated tables (:class:`RoutingWorld`, whose tasks are its
    query clusters) and on real full-feedback tables alike, e.g.
    ``load_routerbench_subset()``: this is how a benchmark turns a real table
    into gold + judge grades.

    Parameters
    ----------
    table : RoutingTable
        The full-feedback table the logs were drawn from (its ``task``
        labels index the bias; without tasks the bias depends on the model
        only).
    logs : LoggedData
        Logs of ``table`` (``table.log(...)``).
    gold_fraction : float, default=0.1
        Mean probability that a row is gold-graded, in (0, 1].
    bias_scale : float, default=0.15
        Standard deviation of the bias per (task, model), drawn as
        ``N(0, bias_scale**2)``; ignored when ``bias`` is given.
    bias : array-like of shape (n_tasks, n_models), default=None
        An explicit bias per task (rows: sorted task labels) and model
        (columns: the table's model order), e.g. the ``task_bias`` of an
        earlier call, to redraw the grading of one fixed judge.
    noise : float, default=0.1
        Standard deviation of the judge's per-row noise.
    targeting : float, default=0.0
        Strength with which the gold propensity depends on the query; 0 gives
        a uniformly random gold subset.
    both_fraction : float, default=0.0
        Share of gold rows that also carry the judge's grade (in the
        ``judge`` field of the feedback).
    random_state : int, RandomState instance or None, default=None
        Seed of the bias (when drawn), the targeting direction, the gold
        draws and the judge's noise.

    Returns
    -------
    judged : JudgedLogs
        The logs with grader fields, and the truth.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_causal_routing.datasets import RoutingWorld, add_judge_grades
    >>> table = RoutingWorld(outcome="gaussian", random_state=0).sample(2000, random_state=1)
    >>> logs = table.log(random_state=2)
    >>> judged = add_judge_grades(table, logs, gold_fraction=0.1, random_state=3)
    >>> judged.feedback.dtype.names
    ('action', 'quality', 'cost', 'propensity', 'gold', 'judge')
    >>> judged.task_bias.shape, judged.tasks.tolist()
    ((4, 4), ['task-0', 'task-1', 'task-2', 'task-3'])
    >>> rows = np.arange(2000)
    >>> k = table.model_index(judged.t)
    >>> err = judged.judge - logs.feedback["quality"] - judged.bias[rows, k]
    >>> round(float(err.std()), 1)  # the judge's noise
    0.1
    """
    if not isinstance(table, RoutingTable):
        raise TypeError(
            f"table must be a RoutingTable (e.g. RoutingWorld().sample(n) or "
            f"load_routerbench_subset()); got {type(table).__name__}."
        )
    if not isinstance(logs, LoggedData):
        raise TypeError(
            "logs must be the LoggedData of table.log(...); got "
            f"{type(logs).__name__}."
        )
    n, k = table.n_samples, table.n_models
    if logs.X.shape[0] != n or logs.probabilities.shape[1] != k:
        raise ValueError(
            f"logs must come from table ({n} rows, {k} models); got logs of "
            f"{logs.X.shape[0]} rows and {logs.probabilities.shape[1]} models. Use "
            "table.log(...)."
        )
    gold_fraction = _check_unit(gold_fraction, "gold_fraction", low_open=True)
    both_fraction = _check_unit(both_fraction, "both_fraction")
    noise = _check_nonneg(noise, "noise")
    bias_scale = _check_nonneg(bias_scale, "bias_scale")
    if (
        isinstance(targeting, (bool, np.bool_))
        or not isinstance(targeting, numbers.Real)
        or not np.isfinite(targeting)
    ):
        raise ValueError(f"targeting must be a finite number; got {targeting!r}.")

    rng = salted_rng(random_state, SALT_JUDGE)
    if table.task is None:
        tasks, task_idx = np.asarray(["all"]), np.zeros(n, dtype=np.int64)
    else:
        tasks, task_idx = np.unique(table.task, return_inverse=True)
        task_idx = task_idx.ravel()
    drawn = rng.normal(scale=bias_scale, size=(len(tasks), k))
    if bias is None:
        task_bias = drawn
    else:
        task_bias = np.asarray(bias, dtype=np.float64)
        if task_bias.shape != (len(tasks), k) or not np.all(np.isfinite(task_bias)):
            raise ValueError(
                f"bias must be a finite (n_tasks, n_models) = ({len(tasks)}, {k}) array "
                f"(rows: tasks {tasks.tolist()}, columns: the table's models); got "
                f"shape {task_bias.shape}."
            )

    direction = rng.normal(size=table.n_features)
    score = table.X @ (direction / np.linalg.norm(direction))
    sd = score.std()
    score = (score - score.mean()) / sd if sd > 0 else np.zeros(n)
    gold_propensity = _targeted_propensity(score, gold_fraction, float(targeting))

    rows = np.arange(n)
    model_idx = table.model_index(logs.t)
    gold_grade = np.asarray(logs.feedback["quality"], dtype=np.float64)
    row_bias = task_bias[task_idx]  # (n, k)
    judge = gold_grade + row_bias[rows, model_idx] + rng.normal(scale=noise, size=n)
    gold = rng.random_sample(n) < gold_propensity
    both = gold & (rng.random_sample(n) < both_fraction)

    fb = logs.feedback
    logged = np.asarray(fb["propensity"], dtype=np.float64)
    prop = None if np.isnan(logged).any() else logged
    feedback = make_feedback(
        fb["action"],
        np.where(gold, gold_grade, judge),
        cost=fb["cost"],
        propensity=prop,
        gold=gold,
        judge=np.where(both, judge, np.nan),
    )
    judge_feedback = make_feedback(fb["action"], judge, cost=fb["cost"], propensity=prop)
    return JudgedLogs(
        X=logs.X,
        t=logs.t,
        feedback=feedback,
        probabilities=logs.probabilities,
        gold=gold,
        gold_propensity=gold_propensity,
        judge=judge,
        bias=row_bias,
        task_bias=task_bias,
        tasks=tasks,
        gold_feedback=fb,
        judge_feedback=judge_feedback,
    )
