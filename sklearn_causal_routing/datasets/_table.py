"""Full-feedback routing tables and the logs simulated from them.

A :class:`RoutingTable` holds, for every query, the outcome of *every* model: the
known truth against which routers trained from biased logs are scored. Its
:meth:`RoutingTable.log` method plays the old gateway: it picks one model per
query with a (biased) logging rule and keeps only that model's outcome.
"""

import numbers
import numpy as np
from sklearn.model_selection import train_test_split as _sk_train_test_split
from sklearn.utils import check_random_state

from .._feedback import make_feedback
from ..metrics._full_feedback import oracle_mean, regret, routed_mean, shares
from ..utils._optional import import_optional
from ..utils.validation import (
    check_cost_weight,
    check_float_matrix,
    decision_matrix,
    describe,
    encode_labels,
)
from ._logging_rules import (
    DEFAULT_CHEAP_SHARE,
    DEFAULT_EPSILON,
    DEFAULT_SKEW,
    DEFAULT_STRONG_CAP,
    LoggedData,
    draw_logs,
    logging_probabilities,
    task_means,
)

__all__ = ["LoggedData", "RoutingTable"]

# Salts of the random streams (see ``utils.validation.salted_rng``).
SALT_WORLD, SALT_SAMPLE = 101, 202

#: What a table's models are, for the unknown-label error.
_KNOWN = "the table's models"


# --------------------------------------------------------------------------- #
# validation helpers
# --------------------------------------------------------------------------- #
def _check_models(models, n_models):
    arr = np.asarray(models)
    if arr.ndim != 1:
        raise ValueError(
            f"models must be a 1-D sequence of {n_models} model labels (one per "
            f"column of quality); got an array of shape {arr.shape}."
        )
    if arr.shape[0] != n_models:
        raise ValueError(
            f"models must have one label per column of quality: expected "
            f"{n_models} labels, got {arr.shape[0]} ({list(arr.tolist())})."
        )
    values = list(models)
    if all(isinstance(v, str) for v in values):
        arr = np.asarray(values, dtype=str)
    elif all(
        isinstance(v, numbers.Integral) and not isinstance(v, (bool, np.bool_))
        for v in values
    ):
        arr = np.asarray(values, dtype=np.int64)
    else:
        kinds = sorted({type(v).__name__ for v in values})
        raise TypeError(
            "models must hold labels that are all strings or all integers; got "
            f"values of type(s) {kinds}: {values}."
        )
    uniq, counts = np.unique(arr, return_counts=True)
    if (counts > 1).any():
        raise ValueError(
            f"models must be unique labels; got duplicates {uniq[counts > 1].tolist()} "
            f"in {arr.tolist()}."
        )
    return arr


def _check_optional_rows(values, name, n):
    if values is None:
        return None
    arr = np.asarray(values)
    if arr.ndim != 1 or arr.shape[0] != n:
        raise ValueError(
            f"{name} must be a 1-D array with one entry per row of X ({n}); got "
            f"{describe(arr)}."
        )
    return arr


# --------------------------------------------------------------------------- #
# the table
# --------------------------------------------------------------------------- #
class RoutingTable:
    """A full-feedback routing table: every query answered by every model.

    The known truth for scoring routers. ``quality[i, k]`` and ``cost[i, k]``
    are the outcome and cost of sending query ``i`` to ``models[k]``. Simulated
    worlds also fill ``expected_quality``, the noise-free truth from which the
    realised ``quality`` was drawn; scoring then uses it.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        Query features (e.g. prompt embeddings).
    quality : array-like of shape (n_samples, n_models)
        Realised outcome of every model on every query (higher is better), e.g.
        0/1 graded correctness.
    cost : array-like of shape (n_samples, n_models)
        Cost of every call.
    models : sequence of length n_models
        Unique model labels, all strings or all integers, in column order.
    task : array-like of shape (n_samples,), default=None
        Task (or domain) label of each query, used by the task-confounded
        logging rule.
    expected_quality : array-like of shape (n_samples, n_models), default=None
        Expected outcome (the truth that ``quality`` is a noisy draw of), when
        known, as in a simulated world.
    split : array-like of shape (n_samples,), default=None
        A predefined split label per row (e.g. ``"train"`` / ``"test"``); see
        :meth:`split_by`.
    prompt : array-like of shape (n_samples,), default=None
        The query text, when available.

    Attributes
    ----------
    X, quality, cost, task, expected_quality, split, prompt : ndarray or None
        The validated inputs.
    models : ndarray of shape (n_models,)
        Model labels (dtype ``str`` or ``int64``).

    See Also
    --------
    RoutingWorld : Simulated worlds that sample such tables.
    load_routing_table : Read a table from parquet / csv / a DataFrame.
    sklearn_causal_routing.metrics.true_utility : The value, regret and shares
        below from bare ``(n, n_models)`` matrices (the same implementation).

    Notes
    -----
    For a routing decision ``d`` (a label per row, or a row-stochastic matrix
    ``P`` of routing probabilities), the true value at cost weight ``w`` is

    .. math:: V(d) = \\frac{1}{n} \\sum_i \\sum_k P_{ik} (q_{ik} - w\\, c_{ik}),

    with ``q`` the expected quality when known, else the realised one. The
    per-query oracle takes ``max_k`` inside the sum; ``regret = oracle - V``.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_causal_routing.datasets import RoutingTable
    >>> table = RoutingTable(
    ...     X=np.eye(3), quality=[[1, 0], [0, 1], [1, 1]],
    ...     cost=[[0.1, 1.0], [0.1, 1.0], [0.1, 1.0]], models=["small", "large"])
    >>> table
    RoutingTable(n_samples=3, n_models=2, models=['small', 'large'])
    >>> table.oracle_value()
    1.0
    >>> table.value(["small", "small", "large"])
    0.666...
    >>> table.best_single_model(cost_weight=0.5)
    ('small', 0.616...)
    """

    def __init__(
        self,
        X,
        quality,
        cost,
        models,
        *,
        task=None,
        expected_quality=None,
        split=None,
        prompt=None,
    ):
        X_arr = np.asarray(X)
        if X_arr.dtype.kind != "f":
            X_arr = check_float_matrix(X, "X", what=" (n_samples, n_features)")
        else:
            if X_arr.ndim != 2:
                raise ValueError(
                    "X must be a 2-D array (n_samples, n_features); got an array "
                    f"of shape {X_arr.shape}."
                )
            if not np.all(np.isfinite(X_arr)):
                raise ValueError("X must be finite; got NaN or infinite values.")
        n = X_arr.shape[0]
        if n == 0:
            raise ValueError("X must have at least one row; got 0 rows.")
        quality = check_float_matrix(quality, "quality", n_rows=n)
        k = quality.shape[1]
        if k == 0:
            raise ValueError("quality must have at least one column (model); got 0.")
        self.X = X_arr
        self.quality = quality
        self.cost = check_float_matrix(cost, "cost", n_rows=n, n_cols=k)
        self.models = _check_models(models, k)
        self.task = _check_optional_rows(task, "task", n)
        self.expected_quality = (
            None
            if expected_quality is None
            else check_float_matrix(
                expected_quality, "expected_quality", n_rows=n, n_cols=k
            )
        )
        self.split = _check_optional_rows(split, "split", n)
        self.prompt = _check_optional_rows(prompt, "prompt", n)

    # ------------------------------------------------------------------ basics
    @property
    def n_samples(self):
        """Number of queries (rows)."""
        return self.X.shape[0]

    @property
    def n_models(self):
        """Number of models (columns of ``quality``)."""
        return self.quality.shape[1]

    @property
    def n_features(self):
        """Number of query features (columns of ``X``)."""
        return self.X.shape[1]

    def __len__(self):
        return self.n_samples

    def __repr__(self):
        models = self.models.tolist()
        shown = models if len(models) <= 6 else models[:5] + ["..."]
        return (
            f"RoutingTable(n_samples={self.n_samples}, n_models={self.n_models}, "
            f"models={shown})"
        )

    def _labels(self):
        """Model labels as plain Python objects (dict keys)."""
        return self.models.tolist()

    # ---------------------------------------------------------------- slicing
    def subset(self, index):
        """Return the table restricted to some rows.

        Parameters
        ----------
        index : array-like of bool of shape (n_samples,) or of int
            A boolean mask or integer row indices.

        Returns
        -------
        table : RoutingTable
            A new table with those rows (copies).

        Examples
        --------
        >>> from sklearn_causal_routing.datasets import make_routing_table
        >>> table = make_routing_table(50)
        >>> table.subset(table.task == "task-0").n_samples
        16
        """
        idx = np.asarray(index)
        if idx.dtype.kind == "b":
            if idx.shape != (self.n_samples,):
                raise ValueError(
                    f"index as a boolean mask must have shape ({self.n_samples},); "
                    f"got shape {idx.shape}."
                )
            idx = np.flatnonzero(idx)
        elif idx.dtype.kind in "iu" or idx.size == 0:
            idx = idx.astype(np.intp).ravel()
            if idx.size and (idx.min() < -self.n_samples or idx.max() >= self.n_samples):
                raise IndexError(
                    f"index has row numbers outside [0, {self.n_samples}); got "
                    f"min {idx.min()}, max {idx.max()}."
                )
        else:
            raise TypeError(
                "index must be a boolean mask or integer row indices; got an array "
                f"of dtype {idx.dtype}."
            )

        def take(a):
            return None if a is None else a[idx]

        return RoutingTable(
            self.X[idx],
            self.quality[idx],
            self.cost[idx],
            self.models.copy(),
            task=take(self.task),
            expected_quality=take(self.expected_quality),
            split=take(self.split),
            prompt=take(self.prompt),
        )

    def train_test_split(self, test_size=0.3, random_state=None):
        """Split the rows at random into a train and a test table.

        Parameters
        ----------
        test_size : float or int, default=0.3
            Fraction (in (0, 1)) or number of rows for the test table.
        random_state : int, RandomState instance or None, default=None
            Seed of the shuffle.

        Returns
        -------
        train, test : RoutingTable
            Disjoint tables covering all rows.

        Examples
        --------
        >>> from sklearn_causal_routing.datasets import make_routing_table
        >>> train, test = make_routing_table(100).train_test_split(random_state=0)
        >>> len(train), len(test)
        (70, 30)
        """
        train_idx, test_idx = _sk_train_test_split(
            np.arange(self.n_samples),
            test_size=test_size,
            random_state=check_random_state(random_state),
        )
        return self.subset(np.sort(train_idx)), self.subset(np.sort(test_idx))

    def split_by(self, value):
        """Return the rows whose ``split`` label equals ``value``.

        Parameters
        ----------
        value : object
            A split label, e.g. ``"train"`` or ``"test"``.

        Returns
        -------
        table : RoutingTable

        Examples
        --------
        >>> import numpy as np
        >>> from sklearn_causal_routing.datasets import RoutingTable
        >>> table = RoutingTable(np.zeros((3, 1)), np.ones((3, 2)), np.ones((3, 2)),
        ...                      ["a", "b"], split=["train", "test", "train"])
        >>> len(table.split_by("train"))
        2
        """
        if self.split is None:
            raise ValueError(
                "split_by needs the table's split labels, but split is None. Pass "
                "split=... to RoutingTable (or a 'split' column to "
                "load_routing_table), or use table.train_test_split(test_size=0.3)."
            )
        mask = self.split == value
        if not mask.any():
            raise ValueError(
                f"split_by: no row has split == {value!r}; the split labels are "
                f"{np.unique(self.split).tolist()}."
            )
        return self.subset(mask)

    # ------------------------------------------------------------- utilities
    def utility(self, cost_weight=0.0, *, expected=True):
        """Per-query, per-model utility ``quality - cost_weight * cost``.

        Parameters
        ----------
        cost_weight : float, default=0.0
            Price of one unit of cost in units of quality (>= 0).
        expected : bool, default=True
            Use ``expected_quality`` when the table has it (simulated worlds);
            otherwise, or with ``expected=False``, the realised ``quality``.

        Returns
        -------
        utility : ndarray of shape (n_samples, n_models)

        Examples
        --------
        >>> import numpy as np
        >>> from sklearn_causal_routing.datasets import RoutingTable
        >>> table = RoutingTable(np.zeros((1, 1)), [[1.0, 0.5]], [[2.0, 0.0]], [0, 1])
        >>> table.utility(0.25)
        array([[0.5, 0.5]])
        """
        cost_weight = check_cost_weight(cost_weight)
        quality = self._truth_quality(expected)
        return quality - cost_weight * self.cost

    def _truth_quality(self, expected=True):
        if expected and self.expected_quality is not None:
            return self.expected_quality
        return self.quality

    def oracle_decisions(self, cost_weight=0.0):
        """Labels of the per-query best model (ties go to the first model).

        Parameters
        ----------
        cost_weight : float, default=0.0

        Returns
        -------
        decisions : ndarray of shape (n_samples,)

        Examples
        --------
        >>> import numpy as np
        >>> from sklearn_causal_routing.datasets import RoutingTable
        >>> table = RoutingTable(np.zeros((2, 1)), [[1, 0], [0, 1]], np.zeros((2, 2)),
        ...                      ["a", "b"])
        >>> table.oracle_decisions()
        array(['a', 'b'], dtype='<U1')
        """
        return self.models[np.argmax(self.utility(cost_weight), axis=1)]

    def oracle_value(self, cost_weight=0.0):
        """Mean utility of the per-query oracle (best model for every query).

        Parameters
        ----------
        cost_weight : float, default=0.0

        Returns
        -------
        value : float

        Examples
        --------
        >>> from sklearn_causal_routing.datasets import make_routing_table
        >>> table = make_routing_table(500)
        >>> table.oracle_value() > table.best_single_model()[1]
        True
        """
        return oracle_mean(self.utility(cost_weight))

    def _decision_matrix(self, decisions, classes=None):
        """(n, K) routing probabilities from labels or a stochastic matrix.

        A matrix's columns follow ``classes`` when given (e.g. a router's sorted
        ``classes_``), else the table's ``models``.
        """
        if classes is not None:
            classes = self._label_indices(np.asarray(classes), "classes")
            classes = self.models[classes]
        return decision_matrix(decisions, self.models, self.n_samples, columns=classes,
                               known=_KNOWN)

    def _label_indices(self, labels, name="decisions"):
        return encode_labels(labels, self.models, name=name, known=_KNOWN)

    def value(self, decisions, cost_weight=0.0, *, classes=None):
        """True mean utility of routing each query as decided.

        Parameters
        ----------
        decisions : array-like of shape (n_samples,) or (n_samples, n_models)
            Model labels (from ``models``), one per row, or a row-stochastic
            matrix of routing probabilities (then the expected utility).
        classes : array-like of shape (n_models,), default=None
            Model labels of the matrix's columns, e.g. ``router.classes_``
            (sorted) for ``router.predict_proba(X)``; ``None`` means the
            columns follow ``models``.
        cost_weight : float, default=0.0

        Returns
        -------
        value : float

        Examples
        --------
        >>> import numpy as np
        >>> from sklearn_causal_routing.datasets import RoutingTable
        >>> table = RoutingTable(np.zeros((2, 1)), [[1, 0], [0, 1]], np.zeros((2, 2)),
        ...                      ["a", "b"])
        >>> table.value(["a", "a"])
        0.5
        >>> table.value([[0.5, 0.5], [0.0, 1.0]])
        0.75
        """
        P = self._decision_matrix(decisions, classes=classes)
        return routed_mean(P, self.utility(cost_weight))

    def regret(self, decisions, cost_weight=0.0, *, classes=None):
        """Oracle value minus the value of ``decisions`` (>= 0).

        Parameters
        ----------
        decisions : array-like of shape (n_samples,) or (n_samples, n_models)
            As in :meth:`value`.
        classes : array-like of shape (n_models,), default=None
            As in :meth:`value`.
        cost_weight : float, default=0.0

        Returns
        -------
        regret : float

        Examples
        --------
        >>> from sklearn_causal_routing.datasets import make_routing_table
        >>> table = make_routing_table(200)
        >>> table.regret(table.oracle_decisions(0.5), cost_weight=0.5)
        0.0
        """
        P = self._decision_matrix(decisions, classes=classes)
        return regret(P, self.utility(cost_weight))

    def shares(self, decisions, *, classes=None):
        """Share of calls each model gets under ``decisions``.

        Parameters
        ----------
        decisions : array-like of shape (n_samples,) or (n_samples, n_models)
            As in :meth:`value`.
        classes : array-like of shape (n_models,), default=None
            As in :meth:`value`.

        Returns
        -------
        shares : dict
            ``{model label: share}`` over all models, in ``models`` order
            (0.0 for unused models); the shares sum to 1.

        Examples
        --------
        >>> import numpy as np
        >>> from sklearn_causal_routing.datasets import RoutingTable
        >>> table = RoutingTable(np.zeros((4, 1)), np.ones((4, 3)), np.ones((4, 3)),
        ...                      ["a", "b", "c"])
        >>> table.shares(["a", "b", "b", "b"])
        {'a': 0.25, 'b': 0.75, 'c': 0.0}
        """
        P = self._decision_matrix(decisions, classes=classes)
        return shares(P, self._labels())

    def mean_quality(self, decisions, *, classes=None):
        """True mean (expected, when known) quality of ``decisions``.

        Parameters
        ----------
        decisions : array-like of shape (n_samples,) or (n_samples, n_models)
            As in :meth:`value`.
        classes : array-like of shape (n_models,), default=None
            As in :meth:`value`.

        Returns
        -------
        quality : float

        Examples
        --------
        >>> import numpy as np
        >>> from sklearn_causal_routing.datasets import RoutingTable
        >>> table = RoutingTable(np.zeros((2, 1)), [[1, 0], [0, 1]], [[1, 2], [1, 2]],
        ...                      ["a", "b"])
        >>> table.mean_quality(["a", "b"]), table.mean_cost(["a", "b"])
        (1.0, 1.5)
        """
        P = self._decision_matrix(decisions, classes=classes)
        return routed_mean(P, self._truth_quality())

    def mean_cost(self, decisions, *, classes=None):
        """True mean cost per query of ``decisions``.

        Parameters
        ----------
        decisions : array-like of shape (n_samples,) or (n_samples, n_models)
            As in :meth:`value`.
        classes : array-like of shape (n_models,), default=None
            As in :meth:`value`.

        Returns
        -------
        cost : float

        Examples
        --------
        >>> import numpy as np
        >>> from sklearn_causal_routing.datasets import RoutingTable
        >>> table = RoutingTable(np.zeros((2, 1)), np.ones((2, 2)), [[1, 2], [1, 2]],
        ...                      ["a", "b"])
        >>> table.mean_cost(["b", "b"])
        2.0
        """
        P = self._decision_matrix(decisions, classes=classes)
        return routed_mean(P, self.cost)

    def single_model_values(self, cost_weight=0.0):
        """Value of always routing to each model.

        Parameters
        ----------
        cost_weight : float, default=0.0

        Returns
        -------
        values : dict
            ``{model label: value}`` in ``models`` order.

        Examples
        --------
        >>> from sklearn_causal_routing.datasets import make_routing_table
        >>> values = make_routing_table(500).single_model_values()
        >>> list(values)
        ['tiny', 'small', 'medium', 'large']
        """
        means = self.utility(cost_weight).mean(axis=0)
        return dict(zip(self._labels(), means.tolist()))

    def best_single_model(self, cost_weight=0.0):
        """The best constant router and its value.

        Parameters
        ----------
        cost_weight : float, default=0.0

        Returns
        -------
        label : str or int
            The model whose constant routing has the highest value.
        value : float
            Its value.

        Examples
        --------
        >>> from sklearn_causal_routing.datasets import make_routing_table
        >>> table = make_routing_table(500)
        >>> table.best_single_model(0.0)[0], table.best_single_model(1.0)[0]
        ('large', 'small')
        """
        values = self.single_model_values(cost_weight)
        label = max(values, key=values.get)
        return label, values[label]

    # ---------------------------------------------------------------- logging
    def _task_means(self):
        """(n, K) mean quality of each model on each row's task."""
        return task_means(self)

    def logging_probabilities(
        self,
        policy="confounded",
        *,
        skew=DEFAULT_SKEW,
        difficulty=0.0,
        epsilon=DEFAULT_EPSILON,
        strong_cap=DEFAULT_STRONG_CAP,
        cheap_share=DEFAULT_CHEAP_SHARE,
    ):
        """Routing probabilities of a (biased) logging rule.

        Parameters
        ----------
        policy : {"confounded", "uniform", "deterministic", "strong-rare", \
"cheap-heavy"} or callable, default="confounded"
            The rule the old gateway used (``datasets.LOGGING_POLICIES`` lists
            the names):

            - ``"uniform"``: every model with probability ``1 / n_models``
              (a randomised A/B test; no bias).
            - ``"confounded"``: task-confounded and accuracy-proportional,
              ``p(t | x) ∝ exp(skew * q_task(t) + difficulty * h(x) * s(t))``
              where ``q_task(t)`` is model ``t``'s mean quality on the query's
              task (the overall mean when ``task`` is None), ``h(x)`` the
              standardised difficulty of the query (minus its mean quality
              over models) and ``s(t)`` the model's centred price rank in
              [-0.5, 0.5]: with ``difficulty > 0`` hard queries go to the big
              model.
            - ``"deterministic"``: probability ``1 - epsilon`` to the task's best
              model (by ``q_task``), ``epsilon`` spread evenly over the rest.
            - ``"strong-rare"``: the confounded rule with the strongest model
              (highest mean quality) capped at ``strong_cap`` on every query,
              the rest renormalised over the other models.
            - ``"cheap-heavy"``: the cheapest model (lowest mean cost) takes
              ``cheap_share`` of every query's probability, the rest spread by
              the confounded rule.
            - a callable ``policy(table) -> (n_samples, n_models)`` returning a
              row-stochastic matrix.
        skew : float, default=5.0
            Inverse temperature of ``"confounded"`` (and of the two rules built
            on it). With qualities in [0, 1], a gap of 0.2 in task accuracy
            makes the better model ``exp(1) ≈ 2.7`` times as likely; 5 gives
            clearly biased logs in which every model is still logged on every
            task, 10 a near-deterministic logger (see the datasets guide for
            the propensities each gives).
        difficulty : float, default=0.0
            Strength of the "hard queries go to the big model" term of
            ``"confounded"`` (0 disables it). Difficulty is computed from the
            table's truth (expected quality when known), so on a simulated
            world it is a function of ``x``.
        epsilon : float, default=0.05
            Exploration mass of ``"deterministic"``, in [0, 1).
        strong_cap : float, default=0.25
            Largest probability of the strongest model under ``"strong-rare"``.
        cheap_share : float, default=0.7
            Share of every query given to the cheapest model under
            ``"cheap-heavy"``.

        Returns
        -------
        probabilities : ndarray of shape (n_samples, n_models)
            Row-stochastic.

        Notes
        -----
        ``q_task`` and the difficulty are computed on *this* table (expected
        quality when available, else realised quality): log the training rows
        with ``table.split_by("train").log(...)``.

        Examples
        --------
        >>> from sklearn_causal_routing.datasets import make_routing_table
        >>> table = make_routing_table(1000)
        >>> P = table.logging_probabilities("confounded")
        >>> P.shape, bool(abs(P.sum(axis=1) - 1).max() < 1e-12)
        ((1000, 4), True)
        >>> table.logging_probabilities("uniform")[0]
        array([0.25, 0.25, 0.25, 0.25])
        >>> float(table.logging_probabilities("strong-rare")[:, 3].max())
        0.25
        """
        return logging_probabilities(
            self, policy, skew=skew, difficulty=difficulty, epsilon=epsilon,
            strong_cap=strong_cap, cheap_share=cheap_share,
        )

    def log(
        self,
        policy="confounded",
        *,
        skew=DEFAULT_SKEW,
        difficulty=0.0,
        epsilon=DEFAULT_EPSILON,
        strong_cap=DEFAULT_STRONG_CAP,
        cheap_share=DEFAULT_CHEAP_SHARE,
        record_propensity=True,
        random_state=None,
    ):
        """Simulate observational logs: one model per query, its outcome only.

        Parameters
        ----------
        policy : {"confounded", "uniform", "deterministic", "strong-rare", \
"cheap-heavy"} or callable, default="confounded"
            The logging rule; see :meth:`logging_probabilities`.
        skew, difficulty, epsilon, strong_cap, cheap_share : float
            Parameters of the rules; see :meth:`logging_probabilities`.
        record_propensity : bool, default=True
            Store the probability of the served model in
            ``feedback["propensity"]``; otherwise NaN (to be estimated).
        random_state : int, RandomState instance or None, default=None
            Seed of the draws.

        Returns
        -------
        logs : LoggedData
            ``X``, ``t`` (served models), ``feedback`` (realised quality and cost
            of the served model, propensity) and ``probabilities``.

        Examples
        --------
        >>> from sklearn_causal_routing.datasets import make_routing_table
        >>> table = make_routing_table(300)
        >>> logs = table.log("confounded", random_state=0)
        >>> logs.t[:3]
        array(['medium', 'medium', 'tiny'], dtype='<U6')
        >>> bool((logs.feedback["propensity"]
        ...       == logs.probabilities[range(300), table.model_index(logs.t)]).all())
        True
        """
        P = self.logging_probabilities(
            policy, skew=skew, difficulty=difficulty, epsilon=epsilon,
            strong_cap=strong_cap, cheap_share=cheap_share,
        )
        return draw_logs(self, P, record_propensity=record_propensity,
                         random_state=random_state)

    def full_feedback(self):
        """Every (query, model) pair as a log row: what full feedback looks like.

        Training a router on these rows gives the *full-feedback* reference (a
        reference, not an upper bound: a better model class trained on logs can
        beat it; the per-query oracle is the bound): e.g.
        ``DecoupledRouter().fit(*table.full_feedback())`` is a per-model
        regression trained on every model's outcome for every query.

        Returns
        -------
        X : ndarray of shape (n_samples * n_models, n_features)
            Each query's features, repeated once per model.
        feedback : ndarray of shape (n_samples * n_models,)
            Realised quality and cost of every model on every query, with
            propensity ``1 / n_models`` (a uniform logger that tried them all).

        Examples
        --------
        >>> from sklearn_causal_routing.datasets import make_routing_table
        >>> X, fb = make_routing_table(100).full_feedback()
        >>> X.shape, fb.shape
        ((400, 16), (400,))
        """
        k = self.n_models
        X = np.repeat(self.X, k, axis=0)
        t = np.tile(self.models, self.n_samples)
        feedback = make_feedback(
            t,
            self.quality.ravel(),
            cost=self.cost.ravel(),
            propensity=np.full(self.n_samples * k, 1.0 / k),
        )
        return X, feedback

    def model_index(self, labels):
        """Column indices of model labels.

        Parameters
        ----------
        labels : array-like of shape (n,)
            Labels from ``models``.

        Returns
        -------
        index : ndarray of int of shape (n,)

        Examples
        --------
        >>> import numpy as np
        >>> from sklearn_causal_routing.datasets import RoutingTable
        >>> table = RoutingTable(np.zeros((1, 1)), [[1, 0, 1]], [[1, 2, 3]],
        ...                      ["a", "b", "c"])
        >>> table.model_index(["c", "a"])
        array([2, 0])
        """
        labels = np.asarray(labels)
        if labels.ndim != 1:
            raise ValueError(f"labels must be 1-D; got shape {labels.shape}.")
        return self._label_indices(labels, "labels")

    # ----------------------------------------------------------------- export
    def to_frame(self, *, features=True):
        """The table as a DataFrame in the column format of :func:`load_routing_table`.

        Columns: ``task``, ``split``, ``prompt`` (those that are set), then
        ``<model>|quality`` and ``<model>|cost`` per model (and
        ``<model>|expected_quality`` when known), then the features as
        ``x0``, ``x1``, ... when ``features=True``. Requires pandas.

        Parameters
        ----------
        features : bool, default=True
            Include ``X`` as numeric columns ``x0 ... x{d-1}``.

        Returns
        -------
        frame : pandas.DataFrame

        Examples
        --------
        >>> from sklearn_causal_routing.datasets import make_routing_table
        >>> df = make_routing_table(5, n_features=2).to_frame()
        >>> list(df.columns)[:3]
        ['task', 'tiny|quality', 'tiny|cost']
        """
        pd = import_optional("pandas", extra="data", needed_by="RoutingTable.to_frame")
        columns = {}
        for name in ("task", "split", "prompt"):
            values = getattr(self, name)
            if values is not None:
                columns[name] = values
        for j, model in enumerate(self._labels()):
            columns[f"{model}|quality"] = self.quality[:, j]
            columns[f"{model}|cost"] = self.cost[:, j]
            if self.expected_quality is not None:
                columns[f"{model}|expected_quality"] = self.expected_quality[:, j]
        if features:
            for j in range(self.n_features):
                columns[f"x{j}"] = self.X[:, j]
        return pd.DataFrame(columns)
