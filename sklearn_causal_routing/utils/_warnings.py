"""One way to warn: at the user's line, not inside this package or scikit-learn."""

import inspect
import os
import warnings

import sklearn

__all__ = ["warn"]

_INTERNAL = (
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep,
    os.path.dirname(os.path.abspath(sklearn.__file__)) + os.sep,
)


def warn(message, category):
    """``warnings.warn`` attributed to the first caller outside the package.

    A fixed ``stacklevel`` points at the wrong line as soon as a call passes
    through scikit-learn's ``_fit_context``, a ``Pipeline`` or a helper; this
    walks the stack instead, past frames of this package and of scikit-learn,
    so the warning names the user's own call.

    Parameters
    ----------
    message : str
    category : type of Warning

    Examples
    --------
    >>> import warnings
    >>> from sklearn_causal_routing.utils._warnings import warn
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     warn("careful", UserWarning)
    >>> caught[0].filename.startswith("<doctest")
    True
    """
    frame = inspect.currentframe().f_back
    level = 2
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(_INTERNAL):
        frame = frame.f_back
        level += 1
    del frame
    warnings.warn(message, category, stacklevel=level)
