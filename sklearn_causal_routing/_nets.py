"""Torch modules and losses of the routing policies, and their skorch wrapper."""

import numpy as np
import torch
from skorch import NeuralNet
from skorch.callbacks import EarlyStopping
from skorch.dataset import ValidSplit
from torch import nn

__all__ = ["MLPPolicy", "RegretLoss", "build_policy_net", "policy_logits"]

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
    prior : sequence of float, default=None
        Initial output biases (e.g. to start from a preferred model); ``None``
        keeps torch's default initialisation.

    Examples
    --------
    >>> import torch
    >>> from sklearn_causal_routing._nets import MLPPolicy
    >>> MLPPolicy(3, 2, hidden_layer_sizes=(4,))(torch.zeros(5, 3)).shape
    torch.Size([5, 2])
    """

    def __init__(self, n_features, n_outputs, hidden_layer_sizes=(200, 200), dropout=0.0, prior=None):
        super().__init__()
        layers, width = [], n_features
        for size in hidden_layer_sizes:
            layers += [nn.Linear(width, size), nn.ReLU()]
            if dropout:
                layers.append(nn.Dropout(dropout))
            width = size
        self.body = nn.Sequential(*layers)
        self.head = nn.Linear(width, n_outputs)
        if prior is not None:
            with torch.no_grad():
                self.head.bias.copy_(torch.as_tensor(np.asarray(prior), dtype=torch.float32))
                self.head.weight.mul_(0.1)

    def forward(self, X):
        return self.head(self.body(X))


class RegretLoss(nn.Module):
    """Decision-regret losses of Tsiourvas et al.

    The target is the (scaled) regret matrix ``R[i, t] = max_s U[i, s] -
    U[i, t] >= 0``.

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
    """

    def __init__(self, loss="softmax", temperature=1.0):
        super().__init__()
        self.loss = loss
        self.temperature = temperature

    def forward(self, logits, regret):
        z = logits / self.temperature
        if self.loss == "classification":
            return nn.functional.cross_entropy(z, regret.argmin(dim=1))
        return (torch.softmax(z, dim=1) * regret).sum(dim=1).mean()


def build_policy_net(
    *,
    n_features,
    n_outputs,
    loss,
    temperature,
    hidden_layer_sizes,
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
    callbacks = []
    train_split = None
    if validation_fraction:
        train_split = ValidSplit(validation_fraction, stratified=False, random_state=seed)
        callbacks.append(
            ("early_stopping", EarlyStopping(patience=n_iter_no_change, load_best=True))
        )
    params = dict(
        module=MLPPolicy,
        module__n_features=n_features,
        module__n_outputs=n_outputs,
        module__hidden_layer_sizes=tuple(hidden_layer_sizes),
        criterion=RegretLoss,
        criterion__loss=loss,
        criterion__temperature=temperature,
        optimizer=torch.optim.AdamW,
        optimizer__weight_decay=1e-4,
        lr=lr,
        max_epochs=max_epochs,
        batch_size=batch_size,
        train_split=train_split,
        callbacks=callbacks,
        iterator_train__shuffle=True,
        verbose=verbose,
        device=device,
    )
    params.update(extra)
    return NeuralNet(**params)


def policy_logits(net, X, chunk=65536):
    """Raw logits of a fitted skorch policy, computed without skorch's loader."""
    module = net.module_
    if module.training:  # routers put it in eval mode after fit; this is a guard
        module.eval()
    out = np.empty((X.shape[0], module.head.out_features), dtype=np.float32)
    with torch.no_grad():
        for start in range(0, X.shape[0], chunk):
            xb = torch.from_numpy(np.ascontiguousarray(X[start : start + chunk], dtype=np.float32))
            out[start : start + chunk] = module(xb.to(net.device)).cpu().numpy()
    return out
