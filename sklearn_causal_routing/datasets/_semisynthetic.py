"""A semi-synthetic routing world calibrated on a real full-feedback table.

A real table holds a few thousand queries; the question "how much does routing
gain from *my* number of logs?" needs tables of any size with a known truth.
:class:`SemiSyntheticWorld` fits, on the whole table, one model of each model's
expected quality and one of its expected cost; :meth:`SemiSyntheticWorld.sample`
then draws new queries from the table's feature distribution (its rows,
resampled and jittered) and outcomes from the fitted expectations, so any
number of queries comes with its truth.
"""

import numbers

import numpy as np
from sklearn.base import BaseEstimator, clone
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegressionCV, RidgeCV
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted

from ..utils._compat import HasMethods, Interval, StrOptions, _fit_context
from ..utils.validation import check_int
from ._table import RoutingTable

__all__ = ["SemiSyntheticWorld"]

#: Rows per block when sampling: bounds the temporaries (design matrix, noise)
#: to a few tens of MB whatever ``n_samples``. Part of the random stream: a
#: change changes the tables drawn for a seed.
_CHUNK = 65536

#: Task indicators are multiplied by this before entering the (penalised)
#: calibration models, so their coefficients are in effect unpenalised: the
#: task-level accuracy of every model is kept, only the within-task
#: dependence on the embedding is shrunk.
_TASK_SCALE = 100.0

#: Minority-class rows below which a binary quality column is taken as constant
#: by the default model (3-fold cross-validation needs a few of each).
_MIN_MINORITY = 5

_SALT = 404


def _default_quality_model(binary):
    if binary:
        kw = {}
        params = LogisticRegressionCV().get_params()
        if "l1_ratios" in params and "use_legacy_attributes" in params:
            # scikit-learn >= 1.8: the same L2 model, without its FutureWarnings
            kw = {"l1_ratios": (0.0,), "use_legacy_attributes": False}
        return LogisticRegressionCV(
            Cs=np.logspace(-4, 0, 5), cv=3, scoring="neg_log_loss",
            solver="newton-cholesky", max_iter=1000, **kw
        )
    return RidgeCV(alphas=np.logspace(-3, 4, 8))


def _default_cost_model():
    return RidgeCV(alphas=np.logspace(-3, 4, 8))


class _Constant:
    """A fitted stand-in predicting one value (a constant quality column)."""

    def __init__(self, value):
        self.value = float(value)

    def __repr__(self):
        return f"_Constant({self.value!r})"


def _rng(random_state):
    """A numpy Generator seeded from ``random_state`` (int, RandomState or None)."""
    seed = int(check_random_state(random_state).randint(np.iinfo(np.int32).max))
    return np.random.default_rng([seed, _SALT])


def _check_table(table, name="table"):
    if not isinstance(table, RoutingTable):
        raise TypeError(
            f"{name} must be a full-feedback RoutingTable (every query answered by "
            "every model, with query features); got "
            f"{type(table).__name__}. Load one with "
            "load_routing_table('table.parquet', embeddings='embeddings.npy')."
        )
    if table.n_features == 0:
        raise ValueError(
            f"{name} has no query features (X has 0 columns); the world draws new "
            "queries from the table's features. Load the table with its embeddings: "
            "load_routing_table('table.parquet', embeddings='embeddings.npy')."
        )
    if table.n_samples < 10:
        raise ValueError(
            f"{name} must have at least 10 queries to calibrate a world on; got "
            f"{table.n_samples}."
        )
    return table


class SemiSyntheticWorld(BaseEstimator):
    """A routing world calibrated on a real full-feedback table, truth known at any size.

    :meth:`fit` learns, on the whole table, each model's expected quality and
    expected cost as functions of the query; :meth:`sample` draws any number
    of new queries from the table's feature distribution, with those
    expectations as the truth and realised outcomes drawn from them. The
    result is a :class:`RoutingTable` like the ones :class:`RoutingWorld`
    gives, so ``table.log(...)``, ``value``, ``oracle_value`` and
    ``best_single_model`` work on it and score against the truth.

    Parameters
    ----------
    quality_model : estimator, default=None
        Model of one model's quality, cloned per model and fitted on the
        design matrix (see Notes). For 0/1 quality, a classifier with
        ``predict_proba``; ``None`` uses a logistic regression whose penalty is
        chosen by 3-fold cross-validated log-loss
        (``LogisticRegressionCV(Cs=np.logspace(-4, 0, 5), cv=3,
        scoring="neg_log_loss", solver="newton-cholesky")``). For other
        quality, a regressor; ``None`` uses ``RidgeCV``.
    cost_model : regressor, default=None
        Model of one model's cost, cloned per model; ``None`` uses ``RidgeCV``.
        Predictions are clipped to the model's observed cost range.
    n_components : int or None, default=64
        The embedding enters the calibration models through a whitened PCA with
        this many components (at most the number of features); ``None`` uses
        the standardised features. Fewer components: a smoother truth and a
        faster fit.
    use_task : {"auto", True, False}, default="auto"
        Add the table's task labels to the calibration models (as nearly
        unpenalised indicators); ``"auto"``: when the table has them. Sampled
        queries keep the task of the row they were drawn from.
    jitter : float, default=0.1
        Standard deviation of the Gaussian noise added to each resampled
        query's features, as a fraction of each feature's standard deviation
        in the table (0: exact copies of the table's rows).

    Attributes
    ----------
    models_ : ndarray of shape (n_models,)
        Model labels, in the table's order.
    binary_ : bool
        Whether the table's quality is 0/1 (then realised quality is a
        Bernoulli draw of the expected one).
    n_features_in_ : int
        Number of query features.
    normalized_ : bool
        Whether the table's feature rows have unit L2 norm (sampled rows are
        then re-normalised after the jitter).
    tasks_ : ndarray or None
        Task labels used by the calibration models (None without tasks).
    quality_models_ : list of length n_models
        One fitted quality model per model (a constant for a column without
        enough of both outcomes).
    cost_models_ : list of length n_models
        One fitted cost model per model.
    quality_noise_ : ndarray of shape (n_models,) or None
        For non-binary quality, the standard deviation of each model's
        residuals on the table: realised quality is the expected one plus
        Gaussian noise of that size. None for 0/1 quality.
    cost_range_ : ndarray of shape (2, n_models)
        Observed minimum and maximum cost of each model.
    jitter_scale_ : ndarray of shape (n_features,)
        Standard deviation of the feature noise.

    See Also
    --------
    RoutingWorld : A fully simulated world.
    sklearn_causal_routing.experiments.routing_learning_curve : The learning
        curve that samples this world at several sizes.

    Notes
    -----
    The design matrix of the calibration models is the whitened PCA (or the
    standardised features) of the query embedding ``x``, plus the task
    indicators multiplied by 100 so that the models' penalties leave the
    task-level accuracies alone. With 0/1 quality the default world is

    .. math:: q_k(x) = \\sigma(a_{k,\\mathrm{task}(x)} + w_k^\\top z(x)),

    fitted by cross-validated logistic regression, and realised quality is
    ``Bernoulli(q_k(x))``. Cost is deterministic given the query: its fitted
    expectation ``c_k(x)``, clipped to the observed range (the per-call noise
    of real costs is not simulated; the table keeps one cost per call).

    The truth is only as rich as the calibration models: what they cannot
    express (per-query quirks of real outcomes beyond what the embedding and
    the task predict) is absent from the world, and the per-query oracle of a
    sampled table is therefore lower than the real table's, whose realised
    0/1 outcomes inflate it. New queries are resampled table rows with a
    little noise, so a large sample repeats the table's few thousand queries
    in slightly different forms rather than bringing new kinds of query.

    Examples
    --------
    >>> from sklearn_causal_routing.datasets import SemiSyntheticWorld, make_routing_table
    >>> table = make_routing_table(600, random_state=0)
    >>> world = SemiSyntheticWorld().fit(table)
    >>> big = world.sample(5000, random_state=0)
    >>> big
    RoutingTable(n_samples=5000, n_models=4, models=['tiny', 'small', 'medium', 'large'])
    >>> big.X.dtype == table.X.dtype, big.expected_quality.shape
    (True, (5000, 4))
    >>> logs = big.log("confounded", random_state=0)   # biased logs, truth known
    >>> big.oracle_value(0.5) > big.best_single_model(0.5)[1]
    True
    """

    _parameter_constraints = {
        "quality_model": [HasMethods(["fit"]), None],
        "cost_model": [HasMethods(["fit", "predict"]), None],
        "n_components": [Interval(numbers.Integral, 1, None, closed="left"), None],
        "use_task": [StrOptions({"auto"}), "boolean"],
        "jitter": [Interval(numbers.Real, 0, None, closed="left")],
    }

    def __init__(
        self, quality_model=None, cost_model=None, *, n_components=64, use_task="auto",
        jitter=0.1,
    ):
        self.quality_model = quality_model
        self.cost_model = cost_model
        self.n_components = n_components
        self.use_task = use_task
        self.jitter = jitter

    # ------------------------------------------------------------------ fitting
    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, table, y=None):
        """Calibrate the world on a full-feedback table.

        Parameters
        ----------
        table : RoutingTable
            Every query answered by every model, with query features ``X``
            (e.g. from :func:`load_routing_table` with ``embeddings=``).
        y : None
            Ignored.

        Returns
        -------
        self : SemiSyntheticWorld
            Fitted world.
        """
        table = _check_table(table)
        X = table.X
        if X.dtype not in (np.float32, np.float64):
            X = X.astype(np.float64)
        self.reference_X_ = X  # resampled by sample(); not copied
        self.n_features_in_ = X.shape[1]
        self.models_ = table.models.copy()
        quality = table.quality
        self.binary_ = bool(np.isin(quality, (0.0, 1.0)).all())

        if self.use_task is True and table.task is None:
            raise ValueError(
                "use_task=True needs the table's task labels, but table.task is None. "
                "Use SemiSyntheticWorld(use_task='auto') (or False), or load the "
                "table with a task column."
            )
        with_task = table.task is not None and self.use_task in ("auto", True)
        self.tasks_ = np.unique(table.task) if with_task else None
        self.reference_task_ = table.task

        norms = np.linalg.norm(X, axis=1)
        self.normalized_ = bool(np.allclose(norms, 1.0, rtol=0, atol=1e-3))
        std = X.std(axis=0, dtype=np.float64)
        self.jitter_scale_ = (self.jitter * std).astype(X.dtype)

        n_comp = None
        if self.n_components is not None:
            n_comp = min(self.n_components, X.shape[1], X.shape[0] - 1)
        if n_comp is not None and n_comp >= 1:
            self.pca_ = PCA(n_components=n_comp, whiten=True, svd_solver="full").fit(X)
        else:
            self.pca_ = None
            self.feature_mean_ = X.mean(axis=0, dtype=np.float64)
            self.feature_scale_ = np.where(std > 1e-12, std, 1.0)
        Z = self._design(X, table.task)

        self.quality_models_ = []
        for k in range(quality.shape[1]):
            self.quality_models_.append(self._fit_quality(Z, quality[:, k]))
        self.cost_range_ = np.vstack([table.cost.min(axis=0), table.cost.max(axis=0)])
        model = _default_cost_model() if self.cost_model is None else self.cost_model
        self.cost_models_ = [clone(model).fit(Z, table.cost[:, k])
                             for k in range(table.n_models)]
        if self.binary_:
            self.quality_noise_ = None
        else:
            self.quality_range_ = np.vstack([quality.min(axis=0), quality.max(axis=0)])
            residual = quality - self._expected_quality_design(Z)
            self.quality_noise_ = residual.std(axis=0)
        return self

    def _fit_quality(self, Z, y):
        if self.binary_:
            positives = int(y.sum())
            minority = min(positives, y.size - positives)
            if self.quality_model is None and minority < _MIN_MINORITY:
                return _Constant(y.mean())
            if minority == 0:
                return _Constant(y.mean())
            model = _default_quality_model(True) if self.quality_model is None else clone(
                self.quality_model)
            if not hasattr(model, "predict_proba"):
                raise TypeError(
                    "quality_model must be a classifier with predict_proba for 0/1 "
                    f"quality (the expected quality is P(quality=1)); got "
                    f"{type(model).__name__}. Use e.g. LogisticRegression(), or None."
                )
            return model.fit(Z, y.astype(np.int64))
        if np.ptp(y) == 0:
            return _Constant(y[0])
        model = _default_quality_model(False) if self.quality_model is None else clone(
            self.quality_model)
        return model.fit(Z, y)

    # ------------------------------------------------------------------ truth
    def _design(self, X, task):
        """The calibration models' inputs: projected features (+ task indicators)."""
        if self.pca_ is not None:
            Z = self.pca_.transform(X).astype(np.float64, copy=False)
        else:
            Z = (np.asarray(X, dtype=np.float64) - self.feature_mean_) / self.feature_scale_
        if self.tasks_ is None:
            return Z
        onehot = (np.asarray(task)[:, None] == self.tasks_[None, :]) * _TASK_SCALE
        return np.hstack([Z, onehot])

    def _expected_quality_design(self, Z):
        out = np.empty((Z.shape[0], len(self.models_)))
        for k, model in enumerate(self.quality_models_):
            if isinstance(model, _Constant):
                out[:, k] = model.value
            elif self.binary_:
                col = list(model.classes_).index(1)
                out[:, k] = model.predict_proba(Z)[:, col]
            else:
                out[:, k] = model.predict(Z)
        if not self.binary_:
            np.clip(out, self.quality_range_[0], self.quality_range_[1], out=out)
        return out

    def _expected_cost_design(self, Z):
        out = np.column_stack([m.predict(Z) for m in self.cost_models_])
        return np.clip(out, self.cost_range_[0], self.cost_range_[1], out=out)

    def _check_query(self, X, task):
        check_is_fitted(self)
        X = np.asarray(X)
        if X.ndim != 2 or X.shape[1] != self.n_features_in_:
            raise ValueError(
                f"X must have shape (n_samples, {self.n_features_in_}) for this world; "
                f"got shape {X.shape}."
            )
        if self.tasks_ is None:
            return X, None
        if task is None:
            raise ValueError(
                "task is required: this world was calibrated with the table's task "
                f"labels ({self.tasks_.tolist()[:5]}...); pass task=<one label per "
                "row>, or calibrate with SemiSyntheticWorld(use_task=False)."
            )
        task = np.asarray(task)
        if task.shape != (X.shape[0],):
            raise ValueError(
                f"task must have one label per row of X ({X.shape[0]}); got shape "
                f"{task.shape}."
            )
        unknown = np.setdiff1d(np.unique(task), self.tasks_)
        if unknown.size:
            raise ValueError(
                f"task contains label(s) {unknown.tolist()[:5]} unseen in the "
                f"calibration table; known tasks: {self.tasks_.tolist()}."
            )
        return X, task

    def expected_quality(self, X, task=None):
        """The world's expected quality of every model on given queries.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Query features.
        task : array-like of shape (n_samples,), default=None
            Task labels; required when the world was calibrated with tasks.

        Returns
        -------
        quality : ndarray of shape (n_samples, n_models)

        Examples
        --------
        >>> from sklearn_causal_routing.datasets import SemiSyntheticWorld, make_routing_table
        >>> table = make_routing_table(400, random_state=0)
        >>> world = SemiSyntheticWorld().fit(table)
        >>> world.expected_quality(table.X[:2], table.task[:2]).shape
        (2, 4)
        """
        X, task = self._check_query(X, task)
        return self._expected_quality_design(self._design(X, task))

    def expected_cost(self, X, task=None):
        """The world's cost of every model on given queries.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Query features.
        task : array-like of shape (n_samples,), default=None
            Task labels; required when the world was calibrated with tasks.

        Returns
        -------
        cost : ndarray of shape (n_samples, n_models)

        Examples
        --------
        >>> from sklearn_causal_routing.datasets import SemiSyntheticWorld, make_routing_table
        >>> table = make_routing_table(400, random_state=0)
        >>> world = SemiSyntheticWorld().fit(table)
        >>> bool((world.expected_cost(table.X, table.task) > 0).all())
        True
        """
        X, task = self._check_query(X, task)
        return self._expected_cost_design(self._design(X, task))

    # --------------------------------------------------------------- sampling
    def sample(self, n_samples, random_state=None):
        """Draw a full-feedback table of new queries, with the world's truth.

        Parameters
        ----------
        n_samples : int
            Number of queries (>= 1). Memory is about ``n_samples * (n_features
            * itemsize + 3 * n_models * 8)`` bytes: 1.6 GB for a million
            384-dimensional float32 embeddings and 11 models.
        random_state : int, RandomState instance or None, default=None
            Seed of the queries and outcomes; the same world and seed give the
            same table.

        Returns
        -------
        table : RoutingTable
            ``X`` (resampled table rows plus jitter, in the table's float
            dtype), ``task`` (of the resampled rows), ``expected_quality`` (the
            truth), realised ``quality`` drawn from it and ``cost`` (its
            expectation).

        Examples
        --------
        >>> from sklearn_causal_routing.datasets import SemiSyntheticWorld, make_routing_table
        >>> world = SemiSyntheticWorld().fit(make_routing_table(400, random_state=0))
        >>> world.sample(3, random_state=0).quality.shape
        (3, 4)
        """
        check_is_fitted(self)
        n = check_int(n_samples, "n_samples", 1)
        rng = _rng(random_state)
        ref = self.reference_X_
        n_models = len(self.models_)
        idx = rng.integers(0, ref.shape[0], size=n)
        X = np.empty((n, ref.shape[1]), dtype=ref.dtype)
        expected = np.empty((n, n_models))
        cost = np.empty((n, n_models))
        quality = np.empty((n, n_models))
        task_all = self.reference_task_
        for start in range(0, n, _CHUNK):
            rows = slice(start, min(n, start + _CHUNK))
            block = ref[idx[rows]]
            if self.jitter > 0:
                noise = rng.standard_normal(block.shape, dtype=block.dtype)
                noise *= self.jitter_scale_
                block += noise
                del noise
            if self.normalized_:
                norms = np.linalg.norm(block, axis=1, keepdims=True)
                block /= np.where(norms > 0, norms, 1.0).astype(block.dtype)
            X[rows] = block
            task = None if task_all is None else task_all[idx[rows]]
            Z = self._design(block, task)
            del block
            expected[rows] = self._expected_quality_design(Z)
            cost[rows] = self._expected_cost_design(Z)
            del Z
            if self.binary_:
                quality[rows] = rng.random(expected[rows].shape) < expected[rows]
            else:
                quality[rows] = expected[rows] + rng.normal(
                    scale=self.quality_noise_, size=expected[rows].shape
                )
        return RoutingTable(
            X,
            quality,
            cost,
            self.models_.copy(),
            task=None if task_all is None else task_all[idx],
            expected_quality=expected,
        )
