"""One way to import an optional dependency and say how to install it."""

import importlib

__all__ = ["import_optional"]


def import_optional(module, *, extra, needed_by):
    """Import ``module``, or raise an ImportError naming the extra that provides it.

    Parameters
    ----------
    module : str
        Dotted module name, e.g. ``"pandas"`` or ``"econml.policy"``.
    extra : str
        The optional extra of sklearn-causal-routing that installs it
        (``"data"``, ``"plot"``, ``"text"``, ``"bench"``).
    needed_by : str
        What needs it, for the message (e.g. ``"read_logs on Parquet files"``).

    Returns
    -------
    module : module
        The imported module.

    Examples
    --------
    >>> from sklearn_causal_routing.utils._optional import import_optional
    >>> import_optional("json", extra="data", needed_by="this example").__name__
    'json'
    >>> import_optional("no_such_module_xyz", extra="plot", needed_by="plot_pareto")
    Traceback (most recent call last):
    ...
    ImportError: plot_pareto needs no_such_module_xyz, which is not installed ...
    """
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        top = module.split(".")[0]
        raise ImportError(
            f"{needed_by} needs {top}, which is not installed ({exc}). Install the "
            f'optional extra {extra!r}: pip install "sklearn-causal-routing[{extra}]"'
        ) from exc
