"""The one place that imports scikit-learn's private helpers.

scikit-learn moves its private utilities between releases; keeping every such
import here means one file to touch when it does.
"""

from sklearn.base import _fit_context
from sklearn.utils._param_validation import (
    HasMethods,
    Hidden,
    Interval,
    StrOptions,
)
from sklearn.utils.validation import validate_data

__all__ = [
    "HasMethods",
    "Hidden",
    "Interval",
    "StrOptions",
    "_fit_context",
    "validate_data",
]
