"""A scikit-learn Pipeline that also accepts ``fit(X, t, y, cost=...)``."""

from sklearn import pipeline as _skpipeline
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import check_is_fitted

from ._feedback import resolve_feedback

__all__ = ["Pipeline", "make_pipeline"]


def _final_has(attr):
    """``available_if`` check: the last step has ``attr``."""

    def check(self):
        return hasattr(self._final_estimator, attr)

    return check


def _feedback_or_y(y, quality, cost, propensity, caller):
    if quality is None and cost is None and propensity is None:
        return y  # fit(X, feedback) or an ordinary y: scikit-learn's business
    return resolve_feedback(y, quality, cost, propensity, caller=caller)


class Pipeline(_skpipeline.Pipeline):
    """scikit-learn's ``Pipeline``, also accepting logs as ``fit(X, t, y)``.

    Identical to :class:`sklearn.pipeline.Pipeline` except that ``fit`` and
    ``score`` accept the served models and outcomes as
    separate arrays, ``fit(X, t, y, cost=cost, propensity=p)``, and pack them
    into a feedback array (:func:`make_feedback`) before passing it down as
    ``y``. ``fit(X, feedback)`` works as with any target. When the last step
    is a router, :meth:`route` (routing with exploration) and, for routers
    that have it, :meth:`partial_fit` (a new round of logs) run it on the
    inputs transformed by the fitted earlier steps.

    Parameters
    ----------
    steps : list of (str, estimator) tuples
        As in scikit-learn; the last step is typically a router.
    memory : str or object with the joblib.Memory interface, default=None
        As in scikit-learn.
    transform_input : list of str, default=None
        As in scikit-learn.
    verbose : bool, default=False
        As in scikit-learn.

    See Also
    --------
    make_pipeline : Build one without naming the steps.

    Examples
    --------
    >>> from sklearn.preprocessing import StandardScaler
    >>> from sklearn_causal_routing import Pipeline, RegretRouter
    >>> from sklearn_causal_routing.datasets import RoutingWorld
    >>> logs = RoutingWorld(n_models=3, random_state=0).sample(600, random_state=1).log(random_state=2)
    >>> fb = logs.feedback
    >>> pipe = Pipeline([("scale", StandardScaler()),
    ...                  ("router", RegretRouter(hidden_layer_sizes=(16,), max_epochs=5,
    ...                                          random_state=0))])
    >>> pipe.fit(logs.X, fb["action"], fb["quality"], cost=fb["cost"]).predict(logs.X[:2]).shape
    (2,)
    """

    def fit(self, X, y=None, quality=None, *, cost=None, propensity=None, **params):
        """Fit the steps; ``y`` may be a feedback array or the labels ``t``.

        Parameters
        ----------
        X : iterable
            Training data for the first step.
        y : feedback array or array-like, default=None
            The feedback; or, with ``quality`` given, the logged model labels.
        quality : array-like of shape (n_samples,), default=None
            Logged quality, for ``fit(X, t, quality, cost=cost)``.
        cost : array-like of shape (n_samples,), default=None
            Logged cost, with ``quality``.
        propensity : array-like of shape (n_samples,), default=None
            Logged propensities, with ``quality``.
        **params : dict
            Step parameters, as in scikit-learn (``step__param``).

        Returns
        -------
        self : Pipeline
            Fitted pipeline.
        """
        y = _feedback_or_y(y, quality, cost, propensity, "Pipeline.fit")
        return super().fit(X, y, **params)

    def score(self, X, y=None, quality=None, *, cost=None, propensity=None, **params):
        """Score with the last step (``y`` as in :meth:`fit`).

        Parameters
        ----------
        X : iterable
            Data to score on.
        y : feedback array or array-like, default=None
            As in :meth:`fit`.
        quality, cost, propensity : array-like, default=None
            As in :meth:`fit`.
        **params : dict
            Passed to the last step's ``score``.

        Returns
        -------
        score : float
            The last step's score (for routers: the off-policy value).
        """
        y = _feedback_or_y(y, quality, cost, propensity, "Pipeline.score")
        return super().score(X, y, **params)

    def _transform_to_final(self, X):
        Xt = X
        for _, _, transformer in self._iter(with_final=False, filter_passthrough=True):
            Xt = transformer.transform(Xt)
        return Xt

    @available_if(_final_has("route"))
    def route(self, X, **params):
        """Route with exploration: the last step's ``route`` on the transformed ``X``.

        Parameters
        ----------
        X : iterable
            Inputs of the first step (e.g. prompt texts).
        **params : dict
            Passed to the router's ``route`` (``exploration``, ``shares``,
            ``pool``, ``random_state``, ...).

        Returns
        -------
        routes : Routes
            The drawn models and the propensity of each (see
            :meth:`~sklearn_causal_routing.base.RouterMixin.route`).

        Examples
        --------
        >>> from sklearn.preprocessing import StandardScaler
        >>> from sklearn_causal_routing import Pipeline
        >>> from sklearn_causal_routing.baselines import DecoupledRouter
        >>> from sklearn_causal_routing.datasets import RoutingWorld
        >>> logs = RoutingWorld(random_state=0).sample(500, random_state=1).log(random_state=2)
        >>> pipe = Pipeline([("scale", StandardScaler()), ("router", DecoupledRouter())])
        >>> routes = pipe.fit(logs.X, logs.feedback).route(logs.X[:3], exploration=0.1,
        ...                                                random_state=0)
        >>> routes.propensity.shape
        (3,)
        """
        check_is_fitted(self)
        return self._final_estimator.route(self._transform_to_final(X), **params)

    @available_if(_final_has("partial_fit"))
    def partial_fit(self, X, y=None, quality=None, *, cost=None, propensity=None, **params):
        """A new round of logs for the last step; the earlier steps are not refitted.

        The fitted earlier steps (e.g. a prompt embedder, a scaler) transform
        ``X``, and the router's ``partial_fit`` continues on the result.

        Parameters
        ----------
        X : iterable
            Inputs of the first step for the new logs.
        y : feedback array or array-like, default=None
            As in :meth:`fit`.
        quality, cost, propensity : array-like, default=None
            As in :meth:`fit`.
        **params : dict
            Passed to the last step's ``partial_fit`` (e.g. ``max_epochs``).

        Returns
        -------
        self : Pipeline
            The updated pipeline.
        """
        check_is_fitted(self)
        y = _feedback_or_y(y, quality, cost, propensity, "Pipeline.partial_fit")
        self._final_estimator.partial_fit(self._transform_to_final(X), y, **params)
        return self


def make_pipeline(*steps, memory=None, transform_input=None, verbose=False):
    """Build a :class:`Pipeline` from estimators, naming the steps automatically.

    Parameters
    ----------
    *steps : list of estimators
        The steps, the last typically a router.
    memory : str or object with the joblib.Memory interface, default=None
        As in scikit-learn.
    transform_input : list of str, default=None
        As in scikit-learn.
    verbose : bool, default=False
        As in scikit-learn.

    Returns
    -------
    pipeline : Pipeline
        A pipeline accepting ``fit(X, t, y)``.

    Examples
    --------
    >>> from sklearn.preprocessing import StandardScaler
    >>> from sklearn_causal_routing import RegretRouter, make_pipeline
    >>> make_pipeline(StandardScaler(), RegretRouter()).steps[1][0]
    'regretrouter'
    """
    return Pipeline(
        _skpipeline._name_estimators(steps),
        memory=memory,
        transform_input=transform_input,
        verbose=verbose,
    )
