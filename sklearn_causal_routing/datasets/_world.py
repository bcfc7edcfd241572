"""A simulated routing world with known truth.

Queries live in clusters (tasks) of an embedding space; models come in price
tiers; each model's expected quality is a smooth, nonlinear function of the
query, so that the best model differs between tasks and, within a task, with
the query. Sampling a :class:`RoutingWorld` gives a full-feedback
:class:`RoutingTable`, from which biased logs are drawn with
:meth:`RoutingTable.log`.
"""

import numbers

import numpy as np
from ..utils.validation import check_int, salted_rng
from ._table import SALT_SAMPLE, SALT_WORLD, RoutingTable

__all__ = ["RoutingWorld", "make_routing_table"]

# Model names, from smallest to largest, and the order in which they are used:
# n_models=4 gives tiny < small < medium < large.
_LADDER = (
    "nano", "micro", "tiny", "mini", "small", "base",
    "medium", "plus", "large", "xl", "xxl", "ultra",
)
_PRIORITY = (
    "small", "large", "medium", "tiny", "xl", "nano",
    "mini", "xxl", "base", "plus", "micro", "ultra",
)

# Constants shaping the expected quality (logit scale); see RoutingWorld Notes.
_SHAPE = {
    "skill_sd": 0.4,
    "specialist_boost": 2.5,
    "model_gamma": (0.4, 0.8),
    "intercept": 0.6,
    "tier_gain": 1.25,
    "sensitivity": (1.3, 0.9),
}

_MIN_PRICE = 0.02
_MAX_PRICE = 1.0


def _tier_names(n_models):
    if n_models > len(_LADDER):
        return [f"model-{k}" for k in range(n_models)]
    chosen = set(_PRIORITY[:n_models])
    return [name for name in _LADDER if name in chosen]


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


class RoutingWorld:
    """A simulated LLM-routing world: tasks, price tiers, known truth.

    A data generator, not an estimator: every parameter of the world (task
    centres, skills, prices, ...) is drawn once from ``random_state`` in
    ``__init__``, so one world object is one fixed world; :meth:`sample` then
    draws queries and outcomes from it.

    Parameters
    ----------
    n_models : int, default=4
        Number of models (>= 2). Names are price tiers, cheapest first
        (``"tiny", "small", "medium", "large"`` for 4; up to 12 named tiers,
        ``"model-0", ...`` beyond).
    n_tasks : int, default=4
        Number of tasks: Gaussian clusters of queries in feature space.
    n_features : int, default=16
        Dimension of the query embedding ``X``.
    outcome : {"bernoulli", "gaussian"}, default="bernoulli"
        Realised quality: 0/1 grades drawn with the expected quality, or the
        expected quality plus ``N(0, noise**2)`` noise.
    noise : float, default=0.1
        Standard deviation of the Gaussian outcome noise (unused for
        ``"bernoulli"``).
    random_state : int, RandomState instance or None, default=0
        Seed of the world's parameters.

    Attributes
    ----------
    models : ndarray of str of shape (n_models,)
        Model names, cheapest first.
    prices : ndarray of shape (n_models,)
        Price per call of each model before the query-length factor:
        geometric from 0.02 to 1.0.
    tasks : ndarray of str of shape (n_tasks,)
        Task labels ``"task-0", ...``.
    task_weights : ndarray of shape (n_tasks,)
        Share of queries from each task.
    task_centers : ndarray of shape (n_tasks, n_features)
        Centres of the task clusters.
    task_skills : ndarray of shape (n_tasks, n_models)
        Per-task skill offsets (on the logit scale) of each model, centred per
        model over tasks (so that on average the price tier decides). Every
        task has a *specialist* (cheaper models first), so cheap models win on
        some tasks.

    See Also
    --------
    RoutingTable : What :meth:`sample` returns.
    make_routing_table : One-call shortcut.

    Notes
    -----
    A query of task ``c`` is ``x = m_c + N(0, I)``. With tier ``s_k`` in
    [0, 1] (cheapest 0, priciest 1), the expected quality is

    .. math::

        q_k(x) = \\sigma\\big(b + a\\, s_k + \\sum_c r_c(x)\\, \\delta_{ck}
                 - (\\lambda_0 - \\lambda_1 s_k)\\, h(x) + \\gamma_k g_k(x)\\big)

    where ``r_c(x)`` is the (soft, nearly one-hot) posterior membership of
    ``x`` in task ``c``, ``delta`` the task skills, ``h(x)`` a nonlinear
    per-query difficulty (hurting cheap models more than expensive ones) and
    ``g_k`` a small model-specific nonlinearity. So ``q`` depends on ``x`` only:
    a router that sees ``x`` can in principle learn it.

    The cost of sending ``x`` to model ``k`` is ``prices[k] * L(x)`` with a
    positive query-length factor ``L(x)`` in about [0.6, 1.6] (mean about 1),
    deterministic given ``x``. Mean costs per call thus span about [0.02, 1],
    and cost weights in roughly [0, 1] trade quality against cost
    meaningfully: at 0 the largest model is the best constant router, at 1
    one of the cheapest ones. On the default world (4 models) the per-query
    oracle beats the best single model by about 0.10 in expected quality at
    cost weight 0 and by about 0.2 in utility at cost weights 0.25 to 1.

    Examples
    --------
    >>> from sklearn_causal_routing.datasets import RoutingWorld
    >>> world = RoutingWorld(n_models=4, random_state=0)
    >>> world.models
    array(['tiny', 'small', 'medium', 'large'], dtype='<U6')
    >>> table = world.sample(1000, random_state=0)
    >>> table
    RoutingTable(n_samples=1000, n_models=4, models=['tiny', 'small', 'medium', 'large'])
    >>> round(table.oracle_value() - table.best_single_model()[1], 2)
    0.1...
    """

    def __init__(
        self,
        n_models=4,
        n_tasks=4,
        n_features=16,
        *,
        outcome="bernoulli",
        noise=0.1,
        random_state=0,
    ):
        self.n_models = check_int(n_models, "n_models", 2)
        self.n_tasks = check_int(n_tasks, "n_tasks", 1)
        self.n_features = check_int(n_features, "n_features", 1)
        if outcome not in ("bernoulli", "gaussian"):
            raise ValueError(
                f"outcome must be 'bernoulli' (0/1 grades) or 'gaussian'; got "
                f"{outcome!r}."
            )
        self.outcome = outcome
        if (
            isinstance(noise, (bool, np.bool_))
            or not isinstance(noise, numbers.Real)
            or not np.isfinite(noise)
            or noise < 0
        ):
            raise ValueError(f"noise must be a finite number >= 0; got {noise!r}.")
        self.noise = float(noise)
        self.random_state = random_state
        rng = salted_rng(random_state, SALT_WORLD)
        K, C, d = self.n_models, self.n_tasks, self.n_features

        self.models = np.asarray(_tier_names(K), dtype=str)
        tier = np.linspace(0.0, 1.0, K)
        self._tier = tier
        self.prices = _MIN_PRICE * (_MAX_PRICE / _MIN_PRICE) ** tier
        self.tasks = np.asarray([f"task-{c}" for c in range(C)], dtype=str)
        self.task_weights = rng.dirichlet(np.full(C, 4.0))
        # typical distance between two centres ~ 6 within-cluster sds
        self.task_centers = rng.normal(scale=6.0 / np.sqrt(2 * d), size=(C, d))

        # Task skills: noise plus one specialist per task. Specialists are the
        # non-largest models first (in random order), so that on some tasks a
        # cheaper model beats the largest one.
        shape = _SHAPE
        skills = rng.normal(scale=shape["skill_sd"], size=(C, K))
        order = np.concatenate([rng.permutation(K - 1), [K - 1]])
        for c in range(C):
            skills[c, order[c % K]] += shape["specialist_boost"]
        # centre each model's skills over tasks: on average the tier decides
        self.task_skills = skills - self.task_weights @ skills

        # directions for difficulty, length and model-specific nonlinearities
        def unit(size):
            v = rng.normal(size=size)
            return v / np.linalg.norm(v, axis=-1, keepdims=True)

        self._v_difficulty = unit((2, d))
        self._v_length = unit(d)
        self._v_model = unit((K, d))
        self._gamma_model = rng.uniform(*shape["model_gamma"], size=K)
        self._intercept = shape["intercept"]
        self._tier_gain = shape["tier_gain"]
        # lambda_0, lambda_1: difficulty hurts cheap models more
        self._sensitivity = shape["sensitivity"]
        # centre the length direction on the query mixture and scale the length
        # factor to mean 1 (from a fixed reference sample), so that the mean
        # cost per call of model k is about prices[k]
        self._length_offset = float(self.task_weights @ self.task_centers @ self._v_length)
        self._length_scale = 1.0
        X_ref, _ = self._draw_X(4096, np.random.RandomState(0))
        self._length_scale = float(self._length(X_ref).mean())

    def __repr__(self):
        return (
            f"RoutingWorld(n_models={self.n_models}, n_tasks={self.n_tasks}, "
            f"n_features={self.n_features}, outcome={self.outcome!r}, "
            f"noise={self.noise!r}, random_state={self.random_state!r})"
        )

    # ------------------------------------------------------------------ truth
    def _check_X(self, X):
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[1] != self.n_features:
            raise ValueError(
                f"X must have shape (n_samples, {self.n_features}) for this world; "
                f"got shape {X.shape}."
            )
        return X

    def _membership(self, X):
        centers = self.task_centers
        d2 = (
            (X**2).sum(axis=1)[:, None]
            - 2.0 * X @ centers.T
            + (centers**2).sum(axis=1)[None, :]
        )
        logits = np.log(self.task_weights)[None, :] - 0.5 * d2
        logits -= logits.max(axis=1, keepdims=True)
        r = np.exp(logits)
        return r / r.sum(axis=1, keepdims=True)

    def difficulty(self, X):
        """Per-query difficulty ``h(x)`` (about mean 0, sd 1 within a task).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        h : ndarray of shape (n_samples,)

        Examples
        --------
        >>> from sklearn_causal_routing.datasets import RoutingWorld
        >>> world = RoutingWorld()
        >>> world.difficulty(world.sample(3, random_state=0).X).shape
        (3,)
        """
        X = self._check_X(X)
        z = X @ self._v_difficulty.T
        return np.tanh(1.5 * z[:, 0]) + 0.35 * (z[:, 1] ** 2 - 1.0)

    def expected_quality(self, X):
        """True expected quality of every model on every query.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        quality : ndarray of shape (n_samples, n_models)
            Values in (0, 1).

        Examples
        --------
        >>> from sklearn_causal_routing.datasets import RoutingWorld
        >>> import numpy as np
        >>> world = RoutingWorld()
        >>> table = world.sample(10, random_state=0)
        >>> np.allclose(world.expected_quality(table.X), table.expected_quality)
        True
        """
        X = self._check_X(X)
        h = self.difficulty(X)
        lam0, lam1 = self._sensitivity
        tier = self._tier
        logit = (
            self._intercept
            + self._tier_gain * tier[None, :]
            + self._membership(X) @ self.task_skills
            - (lam0 - lam1 * tier)[None, :] * h[:, None]
            + self._gamma_model[None, :] * np.tanh(1.5 * X @ self._v_model.T)
        )
        return _sigmoid(logit)

    def expected_cost(self, X):
        """Cost of every model on every query (``prices * L(x)``).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        cost : ndarray of shape (n_samples, n_models)

        Examples
        --------
        >>> from sklearn_causal_routing.datasets import RoutingWorld
        >>> world = RoutingWorld()
        >>> world.prices.round(3)
        array([0.02 , 0.074, 0.271, 1.   ])
        >>> world.expected_cost(world.sample(500, random_state=0).X).mean(axis=0).round(2)
        array([0.02, 0.07, 0.27, 0.98])
        """
        X = self._check_X(X)
        return self._length(X)[:, None] * self.prices[None, :]

    def _length(self, X):
        z = X @ self._v_length - self._length_offset
        return np.exp(0.5 * np.tanh(z)) / self._length_scale

    # --------------------------------------------------------------- sampling
    def sample_X(self, n_samples, random_state=None):
        """Draw queries and their task labels.

        Parameters
        ----------
        n_samples : int
        random_state : int, RandomState instance or None, default=None

        Returns
        -------
        X : ndarray of shape (n_samples, n_features)
        task : ndarray of str of shape (n_samples,)
            The same as ``sample(n_samples, random_state)`` gives.

        Examples
        --------
        >>> from sklearn_causal_routing.datasets import RoutingWorld
        >>> X, task = RoutingWorld().sample_X(5, random_state=0)
        >>> X.shape, task.shape
        ((5, 16), (5,))
        """
        return self._draw_X(n_samples, salted_rng(random_state, SALT_SAMPLE))

    def _draw_X(self, n_samples, rng):
        n = check_int(n_samples, "n_samples", 1)
        c = rng.choice(self.n_tasks, size=n, p=self.task_weights)
        X = self.task_centers[c] + rng.normal(size=(n, self.n_features))
        return X, self.tasks[c]

    def sample(self, n_samples, random_state=None):
        """Draw a full-feedback table from the world.

        Parameters
        ----------
        n_samples : int
            Number of queries.
        random_state : int, RandomState instance or None, default=None
            Seed of the queries and outcomes; the same world and seed give the
            same table.

        Returns
        -------
        table : RoutingTable
            With ``X``, realised ``quality``, ``cost``, ``task`` and the truth
            ``expected_quality``.

        Examples
        --------
        >>> from sklearn_causal_routing.datasets import RoutingWorld
        >>> table = RoutingWorld(outcome="gaussian").sample(200, random_state=1)
        >>> table.quality.shape, table.expected_quality.shape
        ((200, 4), (200, 4))
        """
        rng = salted_rng(random_state, SALT_SAMPLE)
        X, task = self._draw_X(n_samples, rng)
        expected = self.expected_quality(X)
        if self.outcome == "bernoulli":
            quality = (rng.random_sample(expected.shape) < expected).astype(np.float64)
        else:
            quality = expected + rng.normal(scale=self.noise, size=expected.shape)
        return RoutingTable(
            X,
            quality,
            self.expected_cost(X),
            self.models.copy(),
            task=task,
            expected_quality=expected,
        )


def make_routing_table(n_samples=2000, *, random_state=0, **world_params):
    """Sample a full-feedback table from a :class:`RoutingWorld`.

    Shortcut for ``RoutingWorld(random_state=random_state, **world_params)
    .sample(n_samples, random_state=random_state)``.

    Parameters
    ----------
    n_samples : int, default=2000
        Number of queries.
    random_state : int, RandomState instance or None, default=0
        Seed of both the world and the sample.
    **world_params
        Passed to :class:`RoutingWorld` (``n_models``, ``n_tasks``,
        ``n_features``, ``outcome``, ``noise``).

    Returns
    -------
    table : RoutingTable

    Examples
    --------
    >>> from sklearn_causal_routing.datasets import make_routing_table
    >>> make_routing_table(100, n_models=6)
    RoutingTable(n_samples=100, n_models=6, models=['nano', 'tiny', 'small', 'medium', 'large', 'xl'])
    """
    world = RoutingWorld(random_state=random_state, **world_params)
    return world.sample(n_samples, random_state=random_state)
