"""Train LLM routers from biased production logs, as scikit-learn estimators.

Propensities, doubly robust counterfactual utilities and regret-minimising
policies (Tsiourvas, Sun and Perakis, arXiv:2505.16037).
"""

from .utils._parallel import calm_openmp

# before torch and XGBoost load libgomp, which reads it once (docs/scaling.md)
calm_openmp()

from ._feedback import (
    FEEDBACK_FIELDS,
    GRADER_FIELDS,
    check_feedback,
    feedback_from_frame,
    make_feedback,
)
from ._integrative import IntegrativeUtility
from ._interval import IntervalRouter
from ._propensity import PropensityModel, overlap_diagnostics
from ._router import RegretRouter
from ._utility import DoublyRobustUtility, clear_utility_cache
from .baselines import (
    CarrotRouter,
    DecoupledRouter,
    ImitationRouter,
    KNNRouter,
    SingleModelRouter,
)
from .exceptions import (
    DriftWarning,
    FallbackWarning,
    JudgeGradeWarning,
    OverlapWarning,
    SmallArmWarning,
    SmallGoldWarning,
)
from .outcome import PooledMLP, PooledRidge
from .logs import GatewayLogs, MalformedLogError, iter_logs, read_logs, write_logs
from .pipeline import Pipeline, make_pipeline
from .text import PromptEmbedder

__version__ = "0.1.0.dev0"

__all__ = [
    "FEEDBACK_FIELDS",
    "GRADER_FIELDS",
    "CarrotRouter",
    "DecoupledRouter",
    "DoublyRobustUtility",
    "DriftWarning",
    "FallbackWarning",
    "GatewayLogs",
    "ImitationRouter",
    "IntegrativeUtility",
    "IntervalRouter",
    "JudgeGradeWarning",
    "KNNRouter",
    "MalformedLogError",
    "OverlapWarning",
    "Pipeline",
    "PooledMLP",
    "PooledRidge",
    "PropensityModel",
    "PromptEmbedder",
    "RegretRouter",
    "SingleModelRouter",
    "SmallArmWarning",
    "SmallGoldWarning",
    "check_feedback",
    "clear_utility_cache",
    "feedback_from_frame",
    "iter_logs",
    "make_feedback",
    "make_pipeline",
    "overlap_diagnostics",
    "read_logs",
    "write_logs",
]
