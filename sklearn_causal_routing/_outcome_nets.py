"""A pooled outcome model with one shared network and one head per model."""

from numbers import Integral, Real

import numpy as np
import torch
from skorch import NeuralNet
from sklearn.base import BaseEstimator, RegressorMixin
from torch import nn

from ._nets import policy_logits, training_settings
from ._pooled import PooledOutcomeMixin
from .utils._compat import Interval, _fit_context, validate_data
from .utils.validation import int_seed

__all__ = ["PooledMLP", "SharedHeadsModule"]


class SharedHeadsModule(nn.Module):
    """A shared MLP trunk with one linear head per model and a shared linear skip.

    ``forward(X)`` returns the ``(n, n_models)`` matrix
    ``trunk(X) @ (w + D) + X @ s + b``: the shared head ``w`` (one column,
    broadcast), per-model deviations ``D`` (one column per model; the low-rank
    ``U @ V.T`` with model embeddings ``V`` when ``rank`` is set), a shared
    linear skip ``s`` and per-model intercepts ``b``. ``forward(X, models)``
    returns each row's entry for its own model.

    Parameters
    ----------
    n_features : int
        Input dimension.
    n_models : int
        Number of models (heads).
    hidden_layer_sizes : tuple of int, default=(64,)
        Widths of the trunk's hidden layers (ReLU).
    rank : int, default=None
        ``None``: a free deviation column per model. An int: ``D = U @ V.T``
        with a shared ``(hidden, rank)`` basis ``U`` and a ``rank``-dimensional
        embedding ``V[t]`` per model.
    intercepts : sequence of float, default=None
        Initial per-model intercepts ``b``; ``None`` starts them at zero.

    Examples
    --------
    >>> import torch
    >>> from sklearn_causal_routing._outcome_nets import SharedHeadsModule
    >>> module = SharedHeadsModule(3, 4, hidden_layer_sizes=(8,))
    >>> module(torch.zeros(5, 3)).shape
    torch.Size([5, 4])
    >>> module(torch.zeros(5, 3), torch.tensor([0, 1, 2, 3, 0])).shape
    torch.Size([5])
    """

    def __init__(self, n_features, n_models, hidden_layer_sizes=(64,), rank=None, intercepts=None):
        super().__init__()
        layers, width = [], n_features
        for size in hidden_layer_sizes:
            layers += [nn.Linear(width, size), nn.ReLU()]
            width = size
        self.trunk = nn.Sequential(*layers)
        self.skip = nn.Linear(n_features, 1, bias=False)
        nn.init.zeros_(self.skip.weight)
        bound = 1.0 / np.sqrt(width)
        self.shared_head = nn.Parameter(torch.empty(width, 1).uniform_(-bound, bound))
        self.rank = rank
        if rank is None:
            self.deviation = nn.Parameter(torch.zeros(width, n_models))
        else:
            self.basis = nn.Parameter(torch.empty(width, rank).uniform_(-bound, bound))
            self.embedding = nn.Parameter(0.1 * torch.randn(n_models, rank))
        if intercepts is None:
            intercepts = np.zeros(n_models)
        self.intercept = nn.Parameter(
            torch.as_tensor(np.asarray(intercepts, dtype=np.float32)).clone()
        )

    def heads(self):
        """Head weights of every model, shape (hidden, n_models)."""
        return self.shared_head + self._deviation()

    def _deviation(self):
        return self.deviation if self.rank is None else self.basis @ self.embedding.T

    def forward(self, X, models=None):
        out = self.trunk(X) @ self.heads() + self.skip(X) + self.intercept
        if models is None:
            return out
        return out.gather(1, models.long().reshape(-1, 1)).squeeze(1)

    def weight_penalty(self):
        """Squared norm of the shared weights (trunk, skip, shared head; no biases)."""
        total = self.skip.weight.square().sum() + self.shared_head.square().sum()
        for layer in self.trunk:
            if isinstance(layer, nn.Linear):
                total = total + layer.weight.square().sum()
        return total

    def deviation_penalty(self):
        """Squared norm of the per-model head parameters (``D``, or ``U`` and ``V``)."""
        if self.rank is None:
            return self.deviation.square().sum()
        return self.basis.square().sum() + self.embedding.square().sum()


class _PenalisedNet(NeuralNet):
    """A skorch net adding the two ridge penalties to the training loss only.

    Validation losses (and so early stopping) see the plain squared error.
    """

    def __init__(self, *args, penalty=0.0, model_penalty=0.0, **kwargs):
        super().__init__(*args, **kwargs)
        self.penalty = penalty
        self.model_penalty = model_penalty

    def get_loss(self, y_pred, y_true, X=None, training=False):
        loss = super().get_loss(y_pred, y_true, X=X, training=training)
        if training:
            module = self.module_
            loss = (
                loss
                + self.penalty * module.weight_penalty()
                + self.model_penalty * module.deviation_penalty()
            )
        return loss


class PooledMLP(PooledOutcomeMixin, RegressorMixin, BaseEstimator):
    """One network for every model's outcome: a shared trunk and one head per model.

    The query features pass through a shared multi-layer perceptron (the
    *trunk*); model ``t``'s outcome is a linear head on its output plus a
    linear term in the features shared by all models:

    .. math:: \\hat y_t(x) = b_t + h(x)^\\top (w + d_t) + x^\\top s .

    The trunk ``h``, the shared head ``w`` and the skip ``s`` are learnt from
    every logged row; a model's deviation ``d_t`` and intercept ``b_t`` only
    from its own rows, with ``d_t`` shrunk toward zero (so toward the shared
    head) by ``model_alpha``. With ``rank`` set, ``d_t = U v_t`` with a
    shared basis ``U`` and a ``rank``-dimensional embedding ``v_t`` per model
    (as in matrix-factorisation routers). The loss is the squared error of the
    observed entry only (each row's own model's head). A model without logged
    rows gets the shared head and the mean outcome of all rows.

    Features and the target are standardised inside (costs in USD are tiny,
    grades are 0/1) and predictions are returned in the target's units.

    Parameters
    ----------
    hidden_layer_sizes : tuple of int or int, default=(64,)
        Widths of the shared trunk's hidden layers (ReLU); ``()`` gives a
        linear multi-task model (per-model slopes shrunk toward a shared one,
        like :class:`PooledRidge` with fixed penalties).
    rank : int, default=None
        ``None``: a free head deviation per model. An int: low-rank deviations
        through model embeddings of this size.
    alpha : float, default=1.0
        L2 penalty of the shared weights (trunk, shared head and skip; not the
        biases), on the summed squared error of the standardised target as in
        ridge regression (divided by the training rows in each batch's mean
        loss, so its weight falls as rows accumulate).
    model_alpha : float, default=10.0
        L2 penalty of the per-model deviations, on the same scale: large
        values tie every model to the shared head (intercepts stay per model).
    lr : float, default=1e-3
        Adam learning rate. With logs of a few hundred rows an epoch is only
        a few steps and the validation split a handful of rows, so early
        stopping can end training before the trunk has learnt much: there,
        ``lr=1e-2`` with ``validation_fraction=None`` and a fixed
        ``max_epochs`` (about 100) works better. On wide inputs (sentence
        embeddings) and thousands of rows, ``1e-2`` gives noisier fits with
        a clearly worse held-out error.
    batch_size : int, default=64
        Mini-batch size.
    max_epochs : int, default=200
        Maximum passes over the training rows.
    validation_fraction : float or None, default=0.1
        Fraction of rows held out for early stopping (the best epoch's weights
        are kept); ``None`` trains for ``max_epochs``.
    n_iter_no_change : int, default=10
        Epochs without improvement of the validation loss before stopping.
    random_state : int, RandomState instance or None, default=None
        Seeds the initialisation, shuffling and validation split. With an int,
        fitting is deterministic on a given device and thread count.
    verbose : int, default=0
        skorch's verbosity.
    device : str, default="cpu"
        Torch device.

    Attributes
    ----------
    net_ : skorch.NeuralNet
        The fitted network (module: :class:`SharedHeadsModule`).
    n_models_ : int
        Number of models.
    n_rows_ : ndarray of shape (n_models,)
        Logged rows of each model.
    n_epochs_ : int
        Epochs trained.
    x_mean_, x_scale_ : ndarray of shape (n_features,)
        Feature standardisation.
    y_mean_, y_scale_ : float
        Target standardisation.
    n_features_in_ : int
        Number of features seen during fit.

    See Also
    --------
    PooledRidge : The linear pooled model (shared slope, shrunk per-model slopes).
    DoublyRobustUtility : Uses it through ``quality_model`` / ``cost_model``.

    Notes
    -----
    Training minimises, over mini-batches ``B`` of the ``n`` training rows
    (row ``i`` served by model ``t_i``, standardised outcome ``z_i``),

    .. math:: \\frac{1}{|B|} \\sum_{i \\in B} (z_i - \\hat z_{t_i}(x_i))^2
              + \\frac{\\alpha}{n} \\lVert \\theta_{shared} \\rVert^2
              + \\frac{\\lambda}{n} \\sum_t \\lVert d_t \\rVert^2

    with Adam, where :math:`\\lambda` is ``model_alpha`` (with ``rank``, the
    last term is :math:`\\lVert U \\rVert^2 + \\sum_t \\lVert v_t \\rVert^2`).
    Intercepts start at each model's mean outcome.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_causal_routing.outcome import PooledMLP
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(300, 4))
    >>> models = rng.integers(0, 3, size=300)
    >>> y = np.sin(2 * X[:, 0]) + 0.5 * models + 0.1 * rng.normal(size=300)
    >>> est = PooledMLP(hidden_layer_sizes=(16,), max_epochs=20, random_state=0)
    >>> est = est.fit(X, y, models)
    >>> est.predict(X[:5]).shape
    (5, 3)
    >>> est.predict(X[:5], models=models[:5]).shape
    (5,)
    """

    _parameter_constraints = {
        "hidden_layer_sizes": ["array-like", Interval(Integral, 1, None, closed="left")],
        "rank": [Interval(Integral, 1, None, closed="left"), None],
        "alpha": [Interval(Real, 0, None, closed="left")],
        "model_alpha": [Interval(Real, 0, None, closed="left")],
        "lr": [Interval(Real, 0, None, closed="neither")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "max_epochs": [Interval(Integral, 1, None, closed="left")],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither"), None],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
        "device": [str],
    }

    def __init__(
        self,
        *,
        hidden_layer_sizes=(64,),
        rank=None,
        alpha=1.0,
        model_alpha=10.0,
        lr=1e-3,
        batch_size=64,
        max_epochs=200,
        validation_fraction=0.1,
        n_iter_no_change=10,
        random_state=None,
        verbose=0,
        device="cpu",
    ):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.rank = rank
        self.alpha = alpha
        self.model_alpha = model_alpha
        self.lr = lr
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.random_state = random_state
        self.verbose = verbose
        self.device = device

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, models, n_models=None):
        """Fit the network on each row's observed outcome.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Query features.
        y : array-like of shape (n_samples,)
            Observed outcome of each row (of its serving model).
        models : array-like of int, shape (n_samples,)
            Index (``0 .. n_models - 1``) of the model that served each row.
        n_models : int, default=None
            Number of models; ``None`` uses ``max(models) + 1``.

        Returns
        -------
        self : PooledMLP
            Fitted estimator.
        """
        X, y = validate_data(self, X, y, dtype=np.float64, y_numeric=True)
        models, k = self._check_models(models, X.shape[0], n_models, reset=True)
        sizes = tuple(int(s) for s in np.atleast_1d(self.hidden_layer_sizes))
        if any(s < 1 for s in sizes):
            raise ValueError(
                "hidden_layer_sizes must hold positive layer widths, e.g. (64,); got "
                f"{self.hidden_layer_sizes!r}."
            )
        self.n_models_ = k
        self.n_rows_ = np.bincount(models, minlength=k)

        self.x_mean_ = X.mean(axis=0)
        scale = X.std(axis=0)
        self.x_scale_ = np.where(scale > 0, scale, 1.0)
        self.y_mean_ = float(y.mean())
        y_scale = float(y.std())
        self.y_scale_ = y_scale if y_scale > 0 else 1.0
        Z = ((X - self.x_mean_) / self.x_scale_).astype(np.float32)
        z = ((y - self.y_mean_) / self.y_scale_).astype(np.float32)
        sums = np.bincount(models, weights=z, minlength=k)
        intercepts = sums / np.maximum(self.n_rows_, 1)  # 0 (the mean) without rows

        seed = int_seed(self.random_state)
        n_train = X.shape[0]
        if self.validation_fraction is not None:
            n_train = max(1, int(round(n_train * (1 - self.validation_fraction))))
        self.net_ = _PenalisedNet(
            SharedHeadsModule,
            criterion=nn.MSELoss,
            optimizer=torch.optim.Adam,
            lr=self.lr,
            max_epochs=self.max_epochs,
            batch_size=self.batch_size,
            device=self.device,
            **training_settings(
                self.validation_fraction, self.n_iter_no_change, seed, self.verbose
            ),
            penalty=self.alpha / n_train,
            model_penalty=self.model_alpha / n_train,
            module__n_features=X.shape[1],
            module__n_models=k,
            module__hidden_layer_sizes=sizes,
            module__rank=self.rank,
            module__intercepts=intercepts,
        )
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            self.net_.fit({"X": Z, "models": models.astype(np.int64)}, z)
        self.net_.module_.eval()
        self.n_epochs_ = len(self.net_.history)
        return self

    def _predict_matrix(self, X):
        """``(n_samples, n_models)`` predictions on validated features."""
        Z = (X - self.x_mean_) / self.x_scale_
        return policy_logits(self.net_, Z).astype(np.float64) * self.y_scale_ + self.y_mean_

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.non_deterministic = self.random_state is None
        return tags
