"""Evaluation of routers: off-policy value on logs, true value on full feedback, Pareto / AIQ.

Three families of metrics, one module each:

- **Off-policy** (logs only, what you have in production; ``_off_policy``):
  :func:`policy_value` and :func:`evaluate_policy` estimate the mean utility of
  any routing decisions on held-out logs by the direct method, IPS,
  self-normalised IPS and doubly robust estimation, the latter with confidence
  intervals; :func:`effective_sample_size` says how many logged rows the
  estimate is really worth.
- **Full feedback** (every model answered every query, e.g. a simulated world or
  a benchmark table; ``_full_feedback``): :func:`true_utility`,
  :func:`oracle_regret`, :func:`model_shares`.
- **Cost-quality trade-off** (``_pareto``): :func:`pareto_front`,
  :func:`pareto_hull`, :func:`area_under_pareto` / :func:`aiq` (RouterBench's
  AIQ), :func:`pareto_points` and the plot helper :func:`plot_pareto`.
"""

from ._full_feedback import model_shares, oracle_regret, true_utility
from ._off_policy import (
    PolicyEvaluation,
    ValueEstimate,
    effective_sample_size,
    evaluate_policy,
    evaluation_utility,
    policy_value,
)
from ._pareto import aiq, area_under_pareto, pareto_front, pareto_hull, pareto_points, plot_pareto

__all__ = [
    "PolicyEvaluation",
    "ValueEstimate",
    "aiq",
    "area_under_pareto",
    "effective_sample_size",
    "evaluate_policy",
    "evaluation_utility",
    "model_shares",
    "oracle_regret",
    "pareto_front",
    "pareto_hull",
    "pareto_points",
    "plot_pareto",
    "policy_value",
    "true_utility",
]
