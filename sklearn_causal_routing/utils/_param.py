"""Parameter helpers shared by the estimators."""

__all__ = ["NestedDefaultsMixin", "check_nested_defaults"]


def check_nested_defaults(estimator, params, defaults):
    """Explain ``set_params(stage__param=...)`` on a stage left at ``None``.

    scikit-learn's ``set_params`` cannot reach a parameter of a nested estimator
    that is ``None`` (built only inside ``fit``) and fails with a bare
    AttributeError; this raises a ValueError showing the call that works.
    ``defaults`` maps each such parameter name to the expression of its default.

    Examples
    --------
    >>> from sklearn_causal_routing import DoublyRobustUtility
    >>> from sklearn_causal_routing.utils._param import check_nested_defaults
    >>> check_nested_defaults(DoublyRobustUtility(), {"propensity__max_depth": 3},
    ...                       {"propensity": "PropensityModel()"})
    Traceback (most recent call last):
    ...
    ValueError: Cannot set 'propensity__max_depth': ...
    """
    for key in sorted(params):
        stage, sep, _ = key.partition("__")
        if sep and stage in defaults and getattr(estimator, stage) is None and stage not in params:
            name = type(estimator).__name__
            raise ValueError(
                f"Cannot set {key!r}: {name}({stage}=None) builds its default "
                f"{stage} only inside fit, so there is nothing to set it on yet. Pass "
                f"it explicitly, e.g. GridSearchCV({name}({stage}={defaults[stage]}), "
                f"{{{key!r}: [...]}})."
            )


class NestedDefaultsMixin:
    """``set_params`` that explains nested keys on stages left at ``None``.

    Subclasses list, in ``_nested_defaults``, each parameter that holds an
    estimator built only inside ``fit`` when ``None``, mapped to the
    expression of its default (see :func:`check_nested_defaults`).
    """

    _nested_defaults = {}

    def set_params(self, **params):
        """Set parameters; nested keys need the sub-estimator given explicitly.

        Parameters
        ----------
        **params : dict
            Estimator parameters, ``stage__param`` style for nested ones.

        Returns
        -------
        self : estimator
            This estimator.
        """
        check_nested_defaults(self, params, self._nested_defaults)
        return super().set_params(**params)
