"""Outcome models that pool what every model's logged rows teach.

Logs hold one model's outcome per query, so a per-model outcome regression
sees only about ``n / n_models`` rows. The models here are fitted once on all
logged rows, with the serving model as an input, and predict every model's
outcome for every query: a model with few rows borrows strength from the
others.

A *pooled* outcome model has ``fit(X, y, models)``, where ``models`` holds the
integer index (``0 .. n_models - 1``) of the model that served each row, and
``predict(X)`` returning an ``(n_samples, n_models)`` matrix. Every stage that
fits outcome models (:class:`~sklearn_causal_routing.DoublyRobustUtility`,
:class:`~sklearn_causal_routing.IntegrativeUtility`, the plug-in baselines)
accepts one wherever it accepts a per-model regressor.
"""

from ._outcome_nets import PooledMLP
from ._pooled import PooledOutcomeMixin, PooledRidge, is_pooled

__all__ = ["PooledMLP", "PooledOutcomeMixin", "PooledRidge", "is_pooled"]
