"""What the policy routers share: training settings, the utility stage, the network.

:class:`~sklearn_causal_routing.RegretRouter` and
:class:`~sklearn_causal_routing.IntervalRouter` both fit a utility stage
(through the in-process cache) and train a skorch policy on its utilities;
this module holds that common part.
"""

import difflib
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.base import clone
from sklearn.utils import Bunch

from ._nets import SKORCH_PREFIXES
from ._propensity import MIN_EFFECTIVE_SAMPLES
from ._utility import DoublyRobustUtility, fit_utility_cached
from .utils._compat import HasMethods, Interval
from .utils._param import check_nested_defaults
from .utils._parallel import N_JOBS_CONSTRAINT
from .utils.validation import int_seed

__all__ = [
    "TRAINING_CONSTRAINTS",
    "PolicyRouterMixin",
    "fallback_report",
    "single_bounds",
    "utility_spread",
]


def single_bounds(values, std_errors, support, spread, z):
    """Lower confidence bounds of the single models' values, wider where support is thin.

    ``values - z * se``, where ``se`` is each model's standard error
    (``std_errors``) except for a model whose ``support`` (Kish's effective
    sample size of the inverse-propensity weights of its logged rows) is
    below ``MIN_EFFECTIVE_SAMPLES``: its ``se`` is at least ``spread /
    sqrt(support)``, ``spread`` being the standard deviation of one logged
    outcome (the logged utilities). A value that rests on a few rows of tiny
    propensity has heavy-tailed DR terms, whose sample standard error can be
    far too small (a handful of lucky rows, or an outcome model fitted on
    them); it is known no better than the mean of that many outcomes.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_causal_routing._policy import single_bounds
    >>> values, se = np.array([0.75, 0.6]), np.array([0.01, 0.02])
    >>> single_bounds(values, se, np.array([4.0, 400.0]), 0.4, 2.0).round(2)  # 0.4 / 2
    array([0.35, 0.56])
    """
    values = np.asarray(values, dtype=np.float64)
    se = np.asarray(std_errors, dtype=np.float64)
    support = np.asarray(support, dtype=np.float64)
    thin = support < MIN_EFFECTIVE_SAMPLES  # NaN (unknown): False
    if np.isfinite(spread) and thin.any():
        floor = spread / np.sqrt(np.maximum(support, np.finfo(np.float64).tiny))
        se = np.where(thin, np.maximum(se, floor), se)
    return values - z * se


def fallback_report(router, best, values, values_lcb, gain, gain_lcb, policy_value,
                    logging, support):
    """The ``fallback_report_`` of a fallback check, from its estimates.

    ``best`` indexes the single model compared with (the best of
    ``values_lcb``, from :func:`single_bounds`); ``logging`` is ``(value,
    gain, gain lower bound)`` of the logging rule (NaN without logged
    propensities); ``support``, each model's effective sample size (NaN when
    unknown). Only the best single model decides: it is what the router falls
    back to; "not > 0" also falls back on a NaN bound.
    """
    logging_value, logging_gain, logging_gain_lcb = logging
    return Bunch(
        policy_value=float(policy_value),
        best_single=np.asarray(router.classes_[best]).item(),
        best_single_value=float(values[best]),
        single_values=values,
        single_values_lcb=values_lcb,
        single_support=np.asarray(support, dtype=np.float64),
        gain=float(gain),
        gain_lcb=float(gain_lcb),
        logging_value=logging_value,
        logging_gain=logging_gain,
        logging_gain_lcb=logging_gain_lcb,
        confidence=float(router.fallback_confidence),
        n_folds=int(router.fallback_cv),
        fell_back=not gain_lcb > 0,
    )


def utility_spread(U):
    """Spread of utilities across models: RMS of each row's deviations from its mean.

    Dividing regrets by it makes the temperature independent of the units of
    quality and cost; 1.0 when all models are tied everywhere.
    """
    centred = U - U.mean(axis=1, keepdims=True)
    scale = float(np.sqrt(np.mean(centred**2)))
    return scale if scale > 0 else 1.0


#: Constraints of the training parameters every policy router has.
TRAINING_CONSTRAINTS = {
    "temperature": [Interval(Real, 0, None, closed="neither")],
    "utility": [HasMethods(["fit", "utilities"]), None],
    "hidden_layer_sizes": [tuple, list],
    "max_epochs": [Interval(Integral, 1, None, closed="left")],
    "lr": [Interval(Real, 0, None, closed="neither")],
    "batch_size": [Interval(Integral, 1, None, closed="left")],
    "validation_fraction": [Interval(Real, 0, 1, closed="neither"), None],
    "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
    "random_state": ["random_state"],
    "verbose": ["verbose"],
    "device": [str],
    "n_jobs": N_JOBS_CONSTRAINT,
}



class PolicyRouterMixin:
    """What routers with a utility stage and a skorch policy share.

    skorch-style ``module__*`` / ``optimizer__*`` parameters are stored as
    attributes by ``__init__``, reported by ``get_params`` and accepted by
    ``set_params``, so ``clone`` and ``GridSearchCV`` handle them like any other
    parameter; the utility stage is fitted through the in-process cache.
    """

    def _store_skorch_params(self, kwargs):
        for key, value in kwargs.items():
            if not key.startswith(SKORCH_PREFIXES):
                names = list(self._get_param_names())
                hint = difflib.get_close_matches(key, names, n=1)
                hint = f" Did you mean {hint[0]!r}?" if hint else ""
                raise TypeError(
                    f"{type(self).__name__}.__init__() got an unexpected keyword argument "
                    f"{key!r}.{hint} Settings of the policy network must start with one "
                    f"of {', '.join(SKORCH_PREFIXES)} (e.g. module__dropout=0.1, "
                    "optimizer__weight_decay=1e-3)."
                )
            setattr(self, key, value)

    def _fit_utility(self, X, fb, cost_weight=0.0, **params):
        """Fit (or fetch from the cache) the utility stage, seeded by the router.

        ``params`` override settings of the stage (e.g. ``clip=None``); the
        router's ``n_jobs`` reaches a stage whose own ``n_jobs`` is ``None``.
        """
        utility = DoublyRobustUtility() if self.utility is None else clone(self.utility)
        stage_params = utility.get_params(deep=False)
        if stage_params.get("random_state", 0) is None and self.random_state is not None:
            utility.set_params(random_state=int_seed(self.random_state))
        if "n_jobs" in stage_params and stage_params["n_jobs"] is None:
            utility.set_params(n_jobs=self.n_jobs)
        utility.set_params(cost_weight=cost_weight, **params)
        return fit_utility_cached(utility, X, fb)

    def _training_params(self, seed):
        """The keyword arguments of ``build_policy_net`` shared by policy routers."""
        return dict(
            max_epochs=self.max_epochs,
            lr=self.lr,
            batch_size=self.batch_size,
            validation_fraction=self.validation_fraction,
            n_iter_no_change=self.n_iter_no_change,
            seed=seed,
            verbose=self.verbose,
            device=self.device,
            extra=self._skorch_params(),
        )

    def _skorch_params(self):
        return {k: v for k, v in vars(self).items() if k.startswith(SKORCH_PREFIXES)}

    def get_params(self, deep=True):
        params = super().get_params(deep=deep)
        params.update(self._skorch_params())
        return params

    def set_params(self, **params):
        skorch = {k: v for k, v in params.items() if k.startswith(SKORCH_PREFIXES)}
        for key, value in skorch.items():
            setattr(self, key, value)
        rest = {k: v for k, v in params.items() if k not in skorch}
        check_nested_defaults(self, rest, {"utility": "DoublyRobustUtility()"})
        return super().set_params(**rest)

    def _check_network(self):
        """Hidden layers and device, checked before torch sees them."""
        sizes = self.hidden_layer_sizes
        if len(sizes) == 0 or not all(
            isinstance(h, Integral) and not isinstance(h, bool) and h >= 1 for h in sizes
        ):
            raise ValueError(
                "hidden_layer_sizes must be a non-empty tuple of integers >= 1 (the width "
                f"of each hidden layer), e.g. hidden_layer_sizes=(64,); got {sizes!r}."
            )
        try:
            device = torch.device(self.device)
        except (RuntimeError, TypeError):
            raise ValueError(
                "device must be a torch device such as 'cpu', 'cuda' or 'cuda:0'; got "
                f"{self.device!r}."
            ) from None
        if device.type == "cuda" and not torch.cuda.is_available():
            raise ValueError(
                f"device={self.device!r} asks for a CUDA GPU, but torch sees none "
                f"(torch {torch.__version__}); use device='cpu'."
            )
