"""Full-feedback routing tables and the logs simulated from them.

A :class:`RoutingTable` holds, for every query, the outcome of *every* model: the
known truth against which routers trained from biased logs are scored. Its
:meth:`RoutingTable.log` method plays the old gateway: it picks one model per
query with a (biased) logging rule and keeps only that model's outcome.
"""

import numbers
from dataclasses import dataclass

import numpy as np
from sklearn.model_selection import train_test_split as _sk_train_test_split
from sklearn.utils import check_random_state

from .._feedback import make_feedback
from ..metrics import _oracle_mean, _regret, _routed_mean, _shares

__all__ = ["LoggedData", "RoutingTable"]

#: Logging rules understood by :meth:`RoutingTable.logging_probabilities`.
LOGGING_POLICIES = ("uniform", "confounded", "deterministic")

#: Default inverse temperature of the task-confounded logging rule.
DEFAULT_SKEW = 5.0

_ROW_SUM_TOL = 1e-6

# Salts of the random streams (see ``_salted_rng``).
SALT_WORLD, SALT_SAMPLE, SALT_LOG = 101, 202, 303


def _salted_rng(random_state, salt):
    """A RandomState seeded from ``random_state`` and a per-purpose salt.

    Users pass the same seed to ``RoutingWorld``, ``sample`` and ``log``; drawn
    from the same stream, the logging draws would replay the uniforms that
    picked each query's task and the logs would be confounded by the seed
    (task-1 queries all logged to one model). Salting the stream per purpose
    keeps the draws independent and deterministic.
    """
    rs = check_random_state(random_state)
    return np.random.RandomState([int(rs.randint(np.iinfo(np.int32).max)), salt])


# --------------------------------------------------------------------------- #
# validation helpers
# --------------------------------------------------------------------------- #
def _describe(value):
    """A short description of ``value`` for error messages."""
    shape = getattr(value, "shape", None)
    if shape is not None:
        return f"{type(value).__name__} of shape {tuple(shape)}"
    if isinstance(value, (list, tuple)):
        return f"{type(value).__name__} of length {len(value)}"
    return repr(value) if len(repr(value)) < 60 else type(value).__name__


def _check_float_matrix(values, name, *, n_rows=None, n_cols=None, what=""):
    try:
        arr = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise TypeError(
            f"{name} must be a numeric array{what}; got {_describe(values)} that "
            f"cannot be converted to float ({exc})."
        ) from None
    if arr.ndim != 2:
        raise ValueError(
            f"{name} must be a 2-D array{what}; got an array of shape {arr.shape}."
        )
    expected = (
        f"({'n_samples' if n_rows is None else n_rows}, "
        f"{'n_models' if n_cols is None else n_cols})"
    )
    if (n_rows is not None and arr.shape[0] != n_rows) or (
        n_cols is not None and arr.shape[1] != n_cols
    ):
        raise ValueError(
            f"{name} must have shape {expected}{what}; got shape {arr.shape}."
        )
    bad = ~np.isfinite(arr)
    if bad.any():
        row, col = np.argwhere(bad)[0]
        raise ValueError(
            f"{name} must be finite; got {int(bad.sum())} NaN or infinite value(s), "
            f"first at [{row}, {col}]: {arr[row, col]}."
        )
    return arr


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
            f"{_describe(arr)}."
        )
    return arr


def _check_cost_weight(cost_weight):
    if isinstance(cost_weight, (bool, np.bool_)) or not isinstance(
        cost_weight, numbers.Real
    ):
        raise TypeError(
            f"cost_weight must be a non-negative real number; got {cost_weight!r}."
        )
    if not np.isfinite(cost_weight) or cost_weight < 0:
        raise ValueError(
            f"cost_weight must be a finite number >= 0 (utility = quality - "
            f"cost_weight * cost); got {cost_weight!r}."
        )
    return float(cost_weight)


def _check_stochastic(P, name, n, k):
    P = _check_float_matrix(P, name, n_rows=n, n_cols=k, what=" of routing probabilities")
    if (P < 0).any():
        raise ValueError(f"{name} must hold probabilities >= 0; got min {P.min():g}.")
    sums = P.sum(axis=1)
    if not np.allclose(sums, 1.0, atol=_ROW_SUM_TOL, rtol=0):
        worst = int(np.argmax(np.abs(sums - 1.0)))
        raise ValueError(
            f"{name} must be row-stochastic (each row sums to 1); row {worst} sums "
            f"to {sums[worst]:.6g}."
        )
    return P


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
        recorded = not np.isnan(self.feedback["propensity"]).any()
        return (
            f"LoggedData(n_samples={self.X.shape[0]}, n_features={self.X.shape[1]}, "
            f"n_models={self.probabilities.shape[1]}, "
            f"propensity {'recorded' if recorded else 'not recorded'})"
        )


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
            X_arr = _check_float_matrix(X, "X", what=" (n_samples, n_features)")
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
        quality = _check_float_matrix(quality, "quality", n_rows=n)
        k = quality.shape[1]
        if k == 0:
            raise ValueError("quality must have at least one column (model); got 0.")
        self.X = X_arr
        self.quality = quality
        self.cost = _check_float_matrix(cost, "cost", n_rows=n, n_cols=k)
        self.models = _check_models(models, k)
        self.task = _check_optional_rows(task, "task", n)
        self.expected_quality = (
            None
            if expected_quality is None
            else _check_float_matrix(
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
        cost_weight = _check_cost_weight(cost_weight)
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
        return _oracle_mean(self.utility(cost_weight))

    def _decision_matrix(self, decisions, name="decisions", classes=None):
        """(n, K) routing probabilities from labels or a stochastic matrix.

        A matrix's columns follow ``classes`` when given (e.g. a router's sorted
        ``classes_``), else the table's ``models``.
        """
        arr = np.asarray(decisions)
        n, k = self.n_samples, self.n_models
        if arr.ndim == 2:
            if classes is None:
                return _check_stochastic(arr, name, n, k)
            classes = np.asarray(classes)
            if arr.shape[1:] != classes.shape:
                raise ValueError(
                    f"{name} has {arr.shape[1] if arr.ndim == 2 else '?'} columns but "
                    f"classes names {classes.shape[0]} models; they must match."
                )
            P = _check_stochastic(arr, name, n, classes.shape[0])
            out = np.zeros((n, k))
            out[:, self._label_indices(classes, "classes")] = P
            return out
        if arr.ndim != 1:
            raise ValueError(
                f"{name} must be model labels of shape ({n},) or routing "
                f"probabilities of shape ({n}, {k}); got shape {arr.shape}."
            )
        if arr.shape[0] != n:
            raise ValueError(
                f"{name} must have one model label per row ({n} rows); got "
                f"{arr.shape[0]} labels."
            )
        return np.eye(k)[self._label_indices(arr, name)]

    def _label_indices(self, labels, name="decisions"):
        lookup = {label: j for j, label in enumerate(self._labels())}
        try:
            uniq, inverse = np.unique(labels, return_inverse=True)
        except TypeError:  # mixed, unorderable labels (object arrays)
            uniq, inverse = np.unique(labels.astype(str), return_inverse=True)
        codes = []
        unknown = []
        for u in uniq.tolist():
            valid = isinstance(u, (str, int)) and not isinstance(u, bool)
            j = lookup.get(u) if valid else None
            if j is None:
                unknown.append(u)
            codes.append(-1 if j is None else j)
        if unknown:
            raise ValueError(
                f"{name} contains unknown model label(s) {unknown[:5]}"
                f"{' ...' if len(unknown) > 5 else ''}; the table's models are "
                f"{self._labels()}."
            )
        return np.asarray(codes, dtype=np.intp)[inverse.ravel()]

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
        return _routed_mean(P, self.utility(cost_weight))

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
        return _regret(P, self.utility(cost_weight))

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
        return _shares(P, self._labels())

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
        return _routed_mean(P, self._truth_quality())

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
        return _routed_mean(P, self.cost)

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
        quality = self._truth_quality()
        if self.task is None:
            return np.broadcast_to(quality.mean(axis=0), quality.shape)
        _, inverse = np.unique(self.task, return_inverse=True)
        inverse = inverse.ravel()
        n_tasks = inverse.max() + 1
        sums = np.zeros((n_tasks, self.n_models))
        np.add.at(sums, inverse, quality)
        means = sums / np.bincount(inverse, minlength=n_tasks)[:, None]
        return means[inverse]

    def logging_probabilities(
        self, policy="confounded", *, skew=DEFAULT_SKEW, difficulty=0.0, epsilon=0.05
    ):
        """Routing probabilities of a (biased) logging rule.

        Parameters
        ----------
        policy : {"confounded", "uniform", "deterministic"} or callable, \
default="confounded"
            The rule the old gateway used:

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
            - a callable ``policy(table) -> (n_samples, n_models)`` returning a
              row-stochastic matrix.
        skew : float, default=5.0
            Inverse temperature of ``"confounded"``. With qualities in [0, 1], a
            gap of 0.2 in task accuracy makes the better model ``exp(1) ≈ 2.7``
            times as likely; 5 gives clearly biased logs in which every model is
            still logged on every task: propensities >= ~0.02 (inverse weights
            <= ~50) on the default :class:`RoutingWorld`, >= ~0.03 on the
            11-model RouterBench subset, where it shifts the naive per-model
            mean quality by up to 0.22 and 0.13 respectively. ``skew=10``
            drives the smallest propensities below 0.001 on the simulated
            world (a near-deterministic logger).
        difficulty : float, default=0.0
            Strength of the "hard queries go to the big model" term of
            ``"confounded"`` (0 disables it). Difficulty is computed from the
            table's truth (expected quality when known), so on a simulated
            world it is a function of ``x``.
        epsilon : float, default=0.05
            Exploration mass of ``"deterministic"``, in [0, 1).

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
        """
        n, k = self.n_samples, self.n_models
        if callable(policy):
            return _check_stochastic(policy(self), "policy(table)", n, k)
        if policy == "uniform":
            return np.full((n, k), 1.0 / k)
        if policy == "confounded":
            for name, val in (("skew", skew), ("difficulty", difficulty)):
                if isinstance(val, (bool, np.bool_)) or not isinstance(val, numbers.Real) or not np.isfinite(val):
                    raise TypeError(f"{name} must be a finite real number; got {val!r}.")
            logits = skew * self._task_means()
            if difficulty:
                hard = -self._truth_quality().mean(axis=1)
                sd = hard.std()
                hard = (hard - hard.mean()) / sd if sd > 0 else np.zeros(n)
                rank = np.argsort(np.argsort(self.cost.mean(axis=0), kind="stable"))
                size = rank / max(k - 1, 1) - 0.5
                logits = logits + difficulty * hard[:, None] * size[None, :]
            logits = logits - logits.max(axis=1, keepdims=True)
            P = np.exp(logits)
            return P / P.sum(axis=1, keepdims=True)
        if policy == "deterministic":
            if (
                isinstance(epsilon, (bool, np.bool_))
                or not isinstance(epsilon, numbers.Real)
                or not 0 <= epsilon < 1
            ):
                raise ValueError(
                    f"epsilon must be a number in [0, 1) (the exploration mass); got "
                    f"{epsilon!r}."
                )
            if k == 1:
                return np.ones((n, 1))
            best = np.argmax(self._task_means(), axis=1)
            P = np.full((n, k), epsilon / (k - 1))
            P[np.arange(n), best] = 1.0 - epsilon
            return P
        raise ValueError(
            f"policy must be one of {list(LOGGING_POLICIES)} or a callable "
            f"policy(table) -> (n_samples, n_models) matrix; got {policy!r}."
        )

    def log(
        self,
        policy="confounded",
        *,
        skew=DEFAULT_SKEW,
        difficulty=0.0,
        epsilon=0.05,
        record_propensity=True,
        random_state=None,
    ):
        """Simulate observational logs: one model per query, its outcome only.

        Parameters
        ----------
        policy : {"confounded", "uniform", "deterministic"} or callable, \
default="confounded"
            The logging rule; see :meth:`logging_probabilities`.
        skew : float, default=5.0
            See :meth:`logging_probabilities`.
        difficulty : float, default=0.0
            See :meth:`logging_probabilities`.
        epsilon : float, default=0.05
            See :meth:`logging_probabilities`.
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
            policy, skew=skew, difficulty=difficulty, epsilon=epsilon
        )
        rng = _salted_rng(random_state, SALT_LOG)
        cum = np.cumsum(P, axis=1)
        cum[:, -1] = 1.0
        u = rng.random_sample(self.n_samples)
        idx = np.minimum((u[:, None] >= cum).sum(axis=1), self.n_models - 1)
        # never pick a zero-probability model (u can tie a flat cumulative sum)
        rows = np.arange(self.n_samples)
        zero = P[rows, idx] <= 0
        if zero.any():
            idx[zero] = np.argmax(P[zero], axis=1)
        t = self.models[idx]
        feedback = make_feedback(
            t,
            self.quality[rows, idx],
            cost=self.cost[rows, idx],
            propensity=P[rows, idx] if record_propensity else None,
        )
        return LoggedData(X=self.X, t=t, feedback=feedback, probabilities=P)

    def full_feedback(self):
        """Every (query, model) pair as a log row: what full feedback looks like.

        Training a router on these rows gives the *full-feedback* reference, an
        upper bound that observational logs cannot reach: e.g.
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
        from ._loaders import _import_pandas

        pd = _import_pandas()
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
