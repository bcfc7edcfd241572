"""Torch modules and losses of the routing policies, and their skorch wrapper."""

import re
import sys

import numpy as np
import torch
from skorch import NeuralNet
from skorch.callbacks import EarlyStopping
from skorch.dataset import Dataset, ValidSplit
from skorch.utils import multi_indexing
from sklearn.exceptions import ConvergenceWarning
from torch import nn

from .utils._warnings import warn

__all__ = [
    "IntervalPolicy",
    "IntervalRegretLoss",
    "MLPPolicy",
    "RegretLoss",
    "build_policy_net",
    "fit_net",
    "fit_net_warm",
    "grow_outputs",
    "progress_sink",
    "training_settings",
    "BatchDataset",
    "batch_collate",
    "warn_if_still_improving",
    "grid_position",
    "interpolate_logits",
    "policy_logits",
]

#: Prefixes of skorch settings a router forwards to its policy network.
SKORCH_PREFIXES = (
    "module__",
    "optimizer__",
    "criterion__",
    "iterator_train__",
    "iterator_valid__",
    "callbacks__",
)


class MLPPolicy(nn.Module):
    """A multi-layer perceptron scoring every model for a query.

    ``forward(X)`` returns one logit per model; the routing distribution is
    ``softmax(logits / temperature)``.

    Parameters
    ----------
    n_features : int
        Input dimension.
    n_outputs : int
        Number of models.
    hidden_layer_sizes : tuple of int, default=(200, 200)
        Widths of the hidden layers (ReLU).
    dropout : float, default=0.0
        Dropout after each hidden layer.

    Examples
    --------
    >>> import torch
    >>> from sklearn_causal_routing._nets import MLPPolicy
    >>> MLPPolicy(3, 2, hidden_layer_sizes=(4,))(torch.zeros(5, 3)).shape
    torch.Size([5, 2])
    """

    def __init__(self, n_features, n_outputs, hidden_layer_sizes=(200, 200), dropout=0.0):
        super().__init__()
        layers, width = [], n_features
        for size in hidden_layer_sizes:
            layers += [nn.Linear(width, size), nn.ReLU()]
            if dropout:
                layers.append(nn.Dropout(dropout))
            width = size
        self.body = nn.Sequential(*layers)
        self.head = nn.Linear(width, n_outputs)

    def forward(self, X):
        return self.head(self.body(X))


class RegretLoss(nn.Module):
    """Decision-regret losses of Tsiourvas et al.

    The target is the (scaled) regret matrix ``R[i, t] = max_s U[i, s] -
    U[i, t] >= 0``, optionally followed by one column of row weights (a
    target of ``n_models + 1`` columns): each row's loss is then multiplied
    by its weight before averaging.

    - ``"softmax"`` (RM-Softmax): ``mean_i sum_t softmax(f(x_i) / T)_t R[i, t]``,
      the expected regret of the stochastic policy.
    - ``"classification"`` (RM-Classification): cross-entropy of
      ``softmax(f(x_i) / T)`` toward ``argmin_t R[i, t]``, an upper bound on
      the regret of the argmax policy.

    Parameters
    ----------
    loss : {"softmax", "classification"}, default="softmax"
        Which loss.
    temperature : float, default=1.0
        Softmax temperature ``T``.

    Examples
    --------
    >>> import torch
    >>> from sklearn_causal_routing._nets import RegretLoss
    >>> regret = torch.tensor([[0.0, 1.0]])
    >>> float(RegretLoss()(torch.tensor([[10.0, -10.0]]), regret)) < 1e-6
    True
    >>> weighted = torch.tensor([[0.0, 1.0, 2.0], [1.0, 0.0, 0.0]])  # weights 2 and 0
    >>> float(RegretLoss()(torch.zeros(2, 2), weighted))
    0.5
    """

    def __init__(self, loss="softmax", temperature=1.0):
        super().__init__()
        self.loss = loss
        self.temperature = temperature

    def forward(self, logits, regret):
        weight = None
        k = logits.shape[1]
        if regret.shape[1] == k + 1:  # last column: row weights
            regret, weight = regret[:, :k], regret[:, k]
        z = logits / self.temperature
        if self.loss == "classification":
            per_row = nn.functional.cross_entropy(z, regret.argmin(dim=1), reduction="none")
        else:
            per_row = (torch.softmax(z, dim=1) * regret).sum(dim=1)
        return per_row.mean() if weight is None else (per_row * weight).mean()


_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def progress_sink(text):
    r"""Print skorch's epoch table to stderr, in colour only on a terminal.

    stdout stays free for results (the command line's ``route`` writes its
    decisions there), and a log file redirected from stderr gets plain text.

    Examples
    --------
    >>> import contextlib, io
    >>> from sklearn_causal_routing._nets import progress_sink
    >>> buf = io.StringIO()
    >>> with contextlib.redirect_stderr(buf):
    ...     progress_sink("\x1b[36m0.5000\x1b[0m")
    >>> buf.getvalue()
    '0.5000\n'
    """
    stream = sys.stderr
    isatty = getattr(stream, "isatty", None)
    if not (isatty is not None and isatty()):
        text = _ANSI.sub("", text)
    print(text, file=stream, flush=True)


class BatchDataset(Dataset):
    """skorch's ``Dataset``, fetched a minibatch at a time.

    torch's ``DataLoader`` asks a dataset for one row at a time and stacks
    the rows, unless the dataset has ``__getitems__``. Here one fancy
    indexing of ``X`` and ``y`` gives the whole minibatch (with
    :func:`batch_collate` as the loader's ``collate_fn``): the same batches,
    in the same order, as row by row, at a fraction of the per-batch cost
    (1.7x to 3x less time per epoch for a small MLP on 384 features:
    ``benchmarks/bench_speed.py``).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_causal_routing._nets import BatchDataset, batch_collate
    >>> data = BatchDataset(np.arange(12.0).reshape(6, 2), np.arange(6.0))
    >>> X, y = batch_collate(data.__getitems__([4, 1]))
    >>> X.tolist(), y.tolist()
    ([[8.0, 9.0], [2.0, 3.0]], [4.0, 1.0])
    """

    def __getitems__(self, indices):
        if self.X_is_ndframe:  # a DataFrame's columns, as skorch's row-wise path does
            return [self[i] for i in indices]
        index = np.asarray(indices, dtype=np.intp)
        y = np.zeros(len(index), dtype=np.float32) if self.y is None else _take(
            self.y, index, self.y_indexing
        )
        return self.transform(_take(self.X, index, self.X_indexing), y)


def _take(data, index, indexing):
    """Rows ``index`` of ``data``: numpy arrays (and dicts of them) indexed
    directly, anything else through skorch (whose generic path inspects every
    index in Python)."""
    if isinstance(data, np.ndarray):
        return data[index]
    if isinstance(data, dict) and all(isinstance(v, np.ndarray) for v in data.values()):
        return {key: value[index] for key, value in data.items()}
    return multi_indexing(data, index, indexing)


def batch_collate(batch):
    """The ``collate_fn`` for :class:`BatchDataset`: a fetched minibatch as tensors.

    A list of rows (row-wise fetching) is stacked as torch's default does.
    """
    if isinstance(batch, list):
        return torch.utils.data.default_collate(batch)
    return torch.utils.data.default_convert(batch)


def training_settings(validation_fraction, n_iter_no_change, seed, verbose):
    """The skorch settings every network of the package trains with.

    A held-out ``validation_fraction`` (``None``: none) with early stopping
    after ``n_iter_no_change`` epochs without improvement (the best epoch's
    weights restored), shuffled training batches, and, when ``verbose``, the
    epoch table through :func:`progress_sink`.

    Examples
    --------
    >>> from sklearn_causal_routing._nets import training_settings
    >>> sorted(training_settings(None, 5, 0, 0))[:3]
    ['callbacks', 'dataset', 'iterator_train__collate_fn']
    >>> training_settings(0.1, 5, 0, 1)["callbacks"][0][0]
    'early_stopping'
    """
    params = dict(
        train_split=None, callbacks=[], iterator_train__shuffle=True, verbose=verbose,
        # minibatches fetched whole (BatchDataset), not row by row
        dataset=BatchDataset, iterator_train__collate_fn=batch_collate,
        iterator_valid__collate_fn=batch_collate,
    )
    if validation_fraction is not None:
        params["train_split"] = ValidSplit(validation_fraction, stratified=False, random_state=seed)
        params["callbacks"] = [
            ("early_stopping", EarlyStopping(patience=n_iter_no_change, load_best=True))
        ]
    if verbose:
        params["callbacks__print_log__sink"] = progress_sink
    return params


def build_policy_net(
    *,
    module,
    module_params,
    criterion,
    criterion_params,
    max_epochs,
    lr,
    batch_size,
    validation_fraction,
    n_iter_no_change,
    seed,
    verbose,
    device,
    extra,
):
    """Assemble the skorch net; ``extra`` holds user ``module__``/``optimizer__``/... settings."""
    params = dict(
        module=module,
        criterion=criterion,
        optimizer=torch.optim.AdamW,
        optimizer__weight_decay=1e-4,
        lr=lr,
        max_epochs=max_epochs,
        batch_size=batch_size,
        device=device,
        **training_settings(validation_fraction, n_iter_no_change, seed, verbose),
    )
    params.update({f"module__{k}": v for k, v in module_params.items()})
    params.update({f"criterion__{k}": v for k, v in criterion_params.items()})
    params.update(extra)
    return NeuralNet(**params)


def fit_net(net, X, y, seed):
    """Fit a skorch net with torch seeded (without touching the global stream)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        net.fit(np.asarray(X, dtype=np.float32), np.asarray(y, dtype=np.float32))
    net.module_.eval()  # routing only from here on (dropout off)
    warn_if_still_improving(net)
    return net


#: Warm retraining: factor on the output layer before it (argmax unchanged, softmax
#: unsaturated, so models the policy had ruled out can gain traffic again) and on the
#: learning rate during it. Chosen on simulated price cuts (docs/continual.md).
WARM_HEAD_SHRINK = 0.3
WARM_LR_FACTOR = 10.0


def fit_net_warm(net, X, y, seed, epochs):
    """Continue training a fitted skorch net for at most ``epochs`` epochs.

    The module's weights and the optimizer's state are kept (skorch's
    ``partial_fit``); early stopping, when the net has it, restarts its
    patience and restores the best epoch of this run. Before the run, the
    output layer (``module_.head``, when the module has one) is multiplied by
    ``WARM_HEAD_SHRINK``: the decisions are unchanged, but the softmax is no
    longer saturated, so a model whose probability had gone to ~0 still gets
    a gradient; during it the learning rate is ``WARM_LR_FACTOR`` times the
    net's. ``net`` is changed in place and returned. No convergence warning:
    a warm run is short by design.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_causal_routing._nets import (
    ...     MLPPolicy, RegretLoss, build_policy_net, fit_net, fit_net_warm)
    >>> net = build_policy_net(
    ...     module=MLPPolicy, module_params=dict(n_features=2, n_outputs=2,
    ...     hidden_layer_sizes=(4,)), criterion=RegretLoss, criterion_params={},
    ...     max_epochs=2, lr=1e-2, batch_size=8, validation_fraction=None,
    ...     n_iter_no_change=2, seed=0, verbose=0, device="cpu", extra={})
    >>> X, R = np.zeros((16, 2)), np.tile([0.0, 1.0], (16, 1))
    >>> len(fit_net_warm(fit_net(net, X, R, 0), X, R, 0, epochs=3).history)
    5
    """
    head = getattr(net.module_, "head", None)
    if isinstance(head, nn.Linear):
        with torch.no_grad():
            head.weight.mul_(WARM_HEAD_SHRINK)
            head.bias.mul_(WARM_HEAD_SHRINK)
    groups = net.optimizer_.param_groups
    rates = [group["lr"] for group in groups]
    for group in groups:
        group["lr"] *= WARM_LR_FACTOR
    try:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            net.partial_fit(np.asarray(X, dtype=np.float32), np.asarray(y, dtype=np.float32),
                            epochs=epochs)
    finally:
        for group, rate in zip(net.optimizer_.param_groups, rates):
            group["lr"] = rate
    net.module_.eval()
    return net


def grow_outputs(net, index, n_outputs):
    """Give a fitted skorch policy net more outputs (models), in place.

    The output layer (``module_.head``) becomes ``n_outputs`` wide: its old
    rows (weights and biases) move to positions ``index`` (one per old
    output), every other row is new, with the mean of the old rows' weights
    and the smallest old bias. A new output's logit is then
    ``mean_k logit_k(x) - mean(b) + min(b)``, never above the largest old
    logit: the grown policy routes as before and starts by not preferring a
    new model; warm retraining (:func:`fit_net_warm`) moves it. The body is
    kept; the optimizer is re-created for the new parameters (its moment
    estimates are lost). Returns ``net``.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_causal_routing._nets import (
    ...     MLPPolicy, RegretLoss, build_policy_net, fit_net, grow_outputs, policy_logits)
    >>> net = build_policy_net(
    ...     module=MLPPolicy, module_params=dict(n_features=2, n_outputs=2,
    ...     hidden_layer_sizes=(4,)), criterion=RegretLoss, criterion_params={},
    ...     max_epochs=2, lr=1e-2, batch_size=8, validation_fraction=None,
    ...     n_iter_no_change=2, seed=0, verbose=0, device="cpu", extra={})
    >>> X = np.random.RandomState(0).normal(size=(16, 2))
    >>> net = fit_net(net, X, np.tile([0.0, 1.0], (16, 1)), 0)
    >>> before = policy_logits(net, X)
    >>> after = policy_logits(grow_outputs(net, np.array([1, 2]), 3), X)
    >>> after.shape, bool(np.allclose(after[:, 1:], before, atol=1e-6))
    ((16, 3), True)
    >>> bool((after[:, 0] <= after[:, 1:].max(axis=1) + 1e-6).all())
    True
    """
    head = net.module_.head
    index = np.asarray(index, dtype=np.int64)
    fresh = np.setdiff1d(np.arange(n_outputs), index)
    grown = nn.Linear(head.in_features, n_outputs).to(
        device=head.weight.device, dtype=head.weight.dtype)
    with torch.no_grad():
        grown.weight[torch.as_tensor(index)] = head.weight
        grown.bias[torch.as_tensor(index)] = head.bias
        if fresh.size:
            grown.weight[torch.as_tensor(fresh)] = head.weight.mean(dim=0)
            grown.bias[torch.as_tensor(fresh)] = head.bias.min()
    net.module_.head = grown
    net.module__n_outputs = int(n_outputs)  # what a re-initialised module would be built with
    net.initialize_optimizer()
    net.module_.eval()
    return net


#: Relative fall of the validation loss over the last epochs that counts as "still
#: improving" when training stops at ``max_epochs`` (a plateau's jitter is far below).
STILL_IMPROVING = 0.01


def warn_if_still_improving(net, window=5):
    """Warn when training hit ``max_epochs`` while the validation loss still fell."""
    history = net.history
    if net.train_split is None or not history or len(history) < net.max_epochs:
        return
    losses = [row.get("valid_loss") for row in history]
    if any(v is None for v in losses) or not history[-1].get("valid_loss_best", False):
        return
    k = min(window, len(losses) - 1)
    before, last = losses[-1 - k], losses[-1]
    fall = (before - last) / max(abs(before), 1e-12)
    if k and fall > STILL_IMPROVING:
        warn(
            f"The policy network stopped at max_epochs={net.max_epochs} while its "
            f"validation loss was still falling ({fall:.1%} over the last {k} epochs, "
            "best at the last one); it is probably under-trained. Increase max_epochs "
            f"(e.g. max_epochs={2 * net.max_epochs}).",
            ConvergenceWarning,
        )


def policy_logits(net, X, chunk=65536):
    """Raw logits of a fitted skorch policy, computed without skorch's loader."""
    module = net.module_
    if module.training:  # routers put it in eval mode after fit; this is a guard
        module.eval()
    parts = []
    with torch.no_grad():
        for start in range(0, X.shape[0], chunk):
            xb = torch.from_numpy(np.ascontiguousarray(X[start : start + chunk], dtype=np.float32))
            parts.append(module(xb.to(net.device)).cpu().numpy())
    return np.concatenate(parts) if len(parts) != 1 else parts[0]


def grid_position(grid, cost_weight, lib=np):
    """Interval ``j`` of the grid holding each cost weight, and the position in it.

    Returns ``(j, lam)`` with ``grid[j] <= c <= grid[j + 1]`` (the end intervals
    extend outwards) and ``lam = (c - g_j) / (g_{j+1} - g_j)``. ``cost_weight``
    is a scalar or one value per row; ``lib`` is numpy or torch.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_causal_routing._nets import grid_position
    >>> grid_position(np.array([0.0, 1.0, 3.0]), 2.0)
    (1, 0.5)
    """
    m = grid.shape[0] - 1
    if lib is np:
        j = np.clip(np.searchsorted(grid, cost_weight, side="right") - 1, 0, m - 1)
        if np.ndim(j) == 0:
            j = int(j)
    else:
        j = torch.clamp(torch.searchsorted(grid, cost_weight, right=True) - 1, 0, m - 1)
    lam = (cost_weight - grid[j]) / (grid[j + 1] - grid[j])
    return j, (float(lam) if lib is np and np.ndim(lam) == 0 else lam)


def interpolate_logits(endpoints, corrections, grid, cost_weight, lib=np):
    """Logits at the cost weight(s) from the interval model's heads.

    ``endpoints`` has shape (n, m + 1, K) (one head per grid point),
    ``corrections`` (n, m, K) (one per interval), ``grid`` (m + 1,) and
    ``cost_weight`` is a scalar (all rows) or has shape (n,). In the interval
    ``[g_j, g_{j+1}]`` containing ``c``, with ``lam = (c - g_j) / (g_{j+1} - g_j)``::

        logits = (1 - lam) * E_j + lam * E_{j+1} + lam * (1 - lam) * G_j

    so the endpoint heads are exact at the grid points and the correction
    vanishes there. ``lib`` is numpy or torch.
    """
    j, lam = grid_position(grid, cost_weight, lib)
    if lib is np and np.ndim(cost_weight) == 0:
        # one cost weight for every row (the common case): slice, don't gather
        return (
            (1 - lam) * endpoints[:, j]
            + lam * endpoints[:, j + 1]
            + lam * (1 - lam) * corrections[:, j]
        )
    lam = lam[:, None]
    rows = lib.arange(endpoints.shape[0])
    return (
        (1 - lam) * endpoints[rows, j]
        + lam * endpoints[rows, j + 1]
        + lam * (1 - lam) * corrections[rows, j]
    )


class IntervalPolicy(nn.Module):
    """A shared MLP body with one head per grid point and one per interval.

    ``forward(X)`` returns the heads' logits flattened to shape
    ``(n, (2 m + 1) K)``: first the ``m + 1`` endpoint heads, then the ``m``
    interval corrections; :func:`interpolate_logits` turns them into logits at
    any cost weight.

    Parameters
    ----------
    n_features : int
        Input dimension.
    n_outputs : int
        Number of models ``K``.
    n_grid : int
        Number of grid points ``m + 1`` (>= 2).
    hidden_layer_sizes : tuple of int, default=(200, 200)
        Hidden layers of the shared body.
    dropout : float, default=0.0
        Dropout after each hidden layer.

    Examples
    --------
    >>> import torch
    >>> from sklearn_causal_routing._nets import IntervalPolicy
    >>> IntervalPolicy(3, 2, n_grid=4, hidden_layer_sizes=(8,))(torch.zeros(5, 3)).shape
    torch.Size([5, 14])
    """

    def __init__(self, n_features, n_outputs, n_grid, hidden_layer_sizes=(200, 200), dropout=0.0):
        super().__init__()
        self.body = MLPPolicy(n_features, 1, hidden_layer_sizes, dropout).body
        width = hidden_layer_sizes[-1] if hidden_layer_sizes else n_features
        self.n_outputs, self.n_grid = n_outputs, n_grid
        self.endpoints = nn.Linear(width, n_grid * n_outputs)
        self.corrections = nn.Linear(width, (n_grid - 1) * n_outputs)

    def forward(self, X):
        h = self.body(X)
        return torch.cat([self.endpoints(h), self.corrections(h)], dim=1)

    def split(self, out):
        """Endpoint (n, m + 1, K) and correction (n, m, K) logits of ``forward``'s output."""
        k, g = self.n_outputs, self.n_grid
        n = out.shape[0]
        return out[:, : g * k].reshape(n, g, k), out[:, g * k :].reshape(n, g - 1, k)


class IntervalRegretLoss(nn.Module):
    """RM-Softmax regret of the interval model, at the grid points and between.

    The target is ``[Q, C]`` of shape (n, 2K): counterfactual quality and cost.
    The loss is the mean RM-Softmax regret of the endpoint heads at the grid
    points plus that of the interpolated logits at one cost weight per row,
    drawn uniformly in the range while training (the interval midpoints, in
    turn, for validation, so that early stopping compares like with like).
    Regrets at ``c`` are divided by the spread of the utilities at ``c``
    (linear between the grid points' spreads, ``scales``).

    Parameters
    ----------
    grid : sequence of float
        Grid of cost weights (increasing, >= 2 points).
    scales : sequence of float
        Utility spread at each grid point.
    temperature : float, default=1.0
        Softmax temperature.
    n_draws : int, default=1
        Cost weights drawn per row and batch while training.

    Examples
    --------
    >>> import torch
    >>> from sklearn_causal_routing._nets import IntervalRegretLoss
    >>> loss = IntervalRegretLoss([0.0, 1.0], [1.0, 1.0])
    >>> target = torch.tensor([[1.0, 0.0, 0.0, 0.0]])  # Q = (1, 0), C = (0, 0)
    >>> out = torch.tensor([[9.0, -9.0, 9.0, -9.0, 0.0, 0.0]])
    >>> float(loss(out, target)) < 1e-6
    True
    """

    def __init__(self, grid, scales, temperature=1.0, n_draws=1):
        super().__init__()
        self.register_buffer("grid", torch.as_tensor(np.asarray(grid), dtype=torch.float32))
        self.register_buffer("scales", torch.as_tensor(np.asarray(scales), dtype=torch.float32))
        self.temperature = temperature
        self.n_draws = n_draws

    def _regret_loss(self, logits, U, scale):
        regret = (U.max(dim=1, keepdim=True).values - U) / scale
        return (torch.softmax(logits / self.temperature, dim=1) * regret).sum(dim=1).mean()

    def forward(self, out, target):
        k = target.shape[1] // 2
        Q, C = target[:, :k], target[:, k:]
        n, g = out.shape[0], self.grid.shape[0]
        endpoints = out[:, : g * k].reshape(n, g, k)
        corrections = out[:, g * k :].reshape(n, g - 1, k)
        loss = sum(
            self._regret_loss(endpoints[:, j], Q - self.grid[j] * C, self.scales[j])
            for j in range(g)
        ) / g
        lo, hi = self.grid[0], self.grid[-1]
        mids = (self.grid[:-1] + self.grid[1:]) / 2
        draws = self.n_draws if self.training else 1
        between = 0.0
        for _ in range(draws):
            if self.training:
                c = lo + (hi - lo) * torch.rand(n, device=out.device)
            else:
                c = mids[torch.arange(n, device=out.device) % (g - 1)]
            logits = interpolate_logits(endpoints, corrections, self.grid, c, lib=torch)
            j, lam = grid_position(self.grid, c, lib=torch)
            scale = ((1 - lam) * self.scales[j] + lam * self.scales[j + 1])[:, None]
            between = between + self._regret_loss(logits, Q - c[:, None] * C, scale)
        return loss + between / draws
