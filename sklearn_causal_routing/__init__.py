"""Train LLM routers from biased production logs, as scikit-learn estimators.

Propensities, doubly robust counterfactual utilities and regret-minimising
policies (Tsiourvas, Sun and Perakis, arXiv:2505.16037).
"""

from ._feedback import (
    FEEDBACK_FIELDS,
    GRADER_FIELDS,
    check_feedback,
    feedback_from_frame,
    make_feedback,
)
from ._interval import IntervalRouter
from ._propensity import PropensityModel, overlap_diagnostics
from ._router import RegretRouter
from ._utility import DoublyRobustUtility, clear_utility_cache
from .baselines import DecoupledRouter, SingleModelRouter
from .exceptions import OverlapWarning, SmallArmWarning
from .pipeline import Pipeline, make_pipeline

__version__ = "0.1.0.dev0"

__all__ = [
    "FEEDBACK_FIELDS",
    "GRADER_FIELDS",
    "DecoupledRouter",
    "DoublyRobustUtility",
    "IntervalRouter",
    "OverlapWarning",
    "Pipeline",
    "PropensityModel",
    "RegretRouter",
    "SingleModelRouter",
    "SmallArmWarning",
    "check_feedback",
    "clear_utility_cache",
    "feedback_from_frame",
    "make_feedback",
    "make_pipeline",
    "overlap_diagnostics",
]
