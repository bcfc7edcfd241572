"""PropensityModel: which model would the old routing rule have picked?"""


import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.exceptions import DataConversionWarning
from sklearn.utils import Bunch

from ._feedback import check_feedback, make_feedback
from .exceptions import OverlapWarning
from .utils._compat import HasMethods, _fit_context, validate_data
from .utils._param import NestedDefaultsMixin
from .utils._parallel import N_JOBS_CONSTRAINT, xgboost_threads
from .utils._stats import kish_ess
from .utils.validation import (
    FLOAT_DTYPES,
    check_enough_models,
    check_features,
    check_same_length,
    encode_labels,
    int_seed,
    reject_dask,
)
from .utils._warnings import warn

__all__ = ["PropensityModel", "overlap_diagnostics"]

#: Below this many effective samples a model's reweighted outcomes are unreliable.
MIN_EFFECTIVE_SAMPLES = 30
#: Propensities below this are treated as a sign of (near) missing support.
MIN_PROPENSITY = 1e-3


def default_propensity_estimator(random_state, n_jobs=None):
    """The default XGBoost classifier of the logged model, with an explicit thread count.

    ``n_jobs`` as for :func:`~sklearn_causal_routing.utils._parallel.xgboost_threads`:
    ``None`` gives it the cores of the task it runs in (all available cores
    outside any task), never XGBoost's own default of every core of the
    machine, whose spinning OpenMP threads fight other work for the cores.
    """
    from xgboost import XGBClassifier

    # Shallow, column-subsampled trees with coarse histograms: propensities need
    # calibrated probabilities more than sharp decisions (measurements behind the
    # choice: docs/reference/propensity.md).
    return XGBClassifier(
        n_estimators=40,
        max_depth=3,
        learning_rate=0.2,
        subsample=0.8,
        colsample_bytree=0.2,
        max_bin=32,
        tree_method="hist",
        random_state=random_state,
        n_jobs=xgboost_threads(n_jobs),
    )


def _labels_and_logged(y):
    """Split ``y`` (labels or feedback) into action labels and logged propensities."""
    if getattr(getattr(y, "dtype", None), "names", None) is not None:
        y = check_feedback(y)
        logged = np.asarray(y["propensity"], dtype=np.float64)
        return y["action"], (None if np.isnan(logged).any() else logged)
    if y is None:
        make_feedback(None, [])  # raises the "y is required" error
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] == 1:
        warn(
            "A column-vector y was passed when a 1d array was expected; it is ravelled.",
            DataConversionWarning,
        )
        y = y.ravel()
    return make_feedback(y, np.zeros(y.shape[0] if y.ndim else 0))["action"], None


def expand_proba(classifier, X, n_models):
    """``classifier.predict_proba(X)`` as (n, n_models) columns, one per model index.

    The classifier was fitted on integer model indices and may have seen only
    some of them; the models it never saw get probability zero.
    """
    proba = np.zeros((X.shape[0], n_models))
    proba[:, np.asarray(classifier.classes_, dtype=np.int64)] = classifier.predict_proba(X)
    return proba


def overlap_diagnostics(propensity, action, classes, *, clip_bounds=None):
    """Summarise how well the logs support reweighting toward each model.

    Parameters
    ----------
    propensity : ndarray of shape (n_samples,)
        Probability with which the logging rule picked the logged model of
        each row (before clipping).
    action : ndarray of shape (n_samples,)
        Column index (into ``classes``) of the logged model of each row.
    classes : ndarray of shape (n_models,)
        Model labels.
    clip_bounds : tuple of float, default=None
        ``(low, high)`` clipping applied to the propensities, if any.

    Returns
    -------
    diagnostics : Bunch
        ``n_logged`` (rows per model), ``effective_sample_size`` (Kish's
        ``(sum w)^2 / sum w^2`` of the inverse-propensity weights of each
        model's rows), ``ess_share`` (that divided by ``n_logged``),
        ``min_propensity`` (per model), ``clipped_share`` (share of rows whose
        propensity was clipped) and ``poor_support`` (models whose effective
        sample size is below ``MIN_EFFECTIVE_SAMPLES`` or whose smallest
        propensity is below ``MIN_PROPENSITY``).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_causal_routing import overlap_diagnostics
    >>> d = overlap_diagnostics(np.array([0.5, 0.5, 0.25, 0.75]),
    ...                         np.array([0, 1, 1, 0]), np.array(["a", "b"]))
    >>> d.effective_sample_size.round(2).tolist()
    [1.92, 1.8]
    """
    propensity = np.asarray(propensity, dtype=np.float64)
    k = len(classes)
    w = 1.0 / propensity
    n_logged = np.bincount(action, minlength=k).astype(np.int64)
    ess = kish_ess(w, action, k)
    with np.errstate(invalid="ignore", divide="ignore"):
        ess_share = np.where(n_logged > 0, ess / np.maximum(n_logged, 1), 0.0)
    min_prop = np.full(k, np.nan)
    for j in range(k):
        rows = action == j
        if rows.any():
            min_prop[j] = propensity[rows].min()
    if clip_bounds is None:
        clipped = 0.0
    else:
        clipped = float(np.mean((propensity < clip_bounds[0]) | (propensity > clip_bounds[1])))
    poor = [
        np.asarray(classes)[j].item()
        for j in range(k)
        if ess[j] < MIN_EFFECTIVE_SAMPLES or not (min_prop[j] >= MIN_PROPENSITY)
    ]
    return Bunch(
        classes=np.asarray(classes),
        n_logged=n_logged,
        effective_sample_size=ess,
        ess_share=ess_share,
        min_propensity=min_prop,
        clipped_share=clipped,
        clip_bounds=clip_bounds,
        poor_support=poor,
    )


def warn_poor_overlap(diag):
    if not diag.poor_support:
        return
    parts = []
    for label in diag.poor_support:
        j = diag.classes.tolist().index(label)
        parts.append(
            f"{label!r}: {diag.n_logged[j]} logged rows, effective sample size "
            f"{diag.effective_sample_size[j]:.1f}, smallest propensity "
            f"{diag.min_propensity[j]:.2g}"
        )
    warn(
        "Poor overlap: the logs give little support to reweighting toward "
        + "; ".join(parts)
        + f". Utilities for these models are noisy (thresholds: effective sample "
        f"size >= {MIN_EFFECTIVE_SAMPLES}, propensity >= {MIN_PROPENSITY}). Consider "
        "logging them more often (e.g. a small uniform exploration share).",
        OverlapWarning,
    )


class PropensityModel(NestedDefaultsMixin, ClassifierMixin, BaseEstimator):
    """Estimate the probability that the logging rule picked each model.

    An ordinary probabilistic classifier of the logged action ``t`` given the
    query features: ``predict_proba(X)[i, k]`` estimates ``e_k(x_i) = P(t = k |
    x_i)``. After fitting it reports how well the logs support reweighting
    toward each model (``overlap_``) and warns with :class:`OverlapWarning`
    when some model is poorly supported.

    Parameters
    ----------
    estimator : classifier, default=None
        Any scikit-learn classifier with ``predict_proba``. ``None`` uses an
        XGBoost classifier (40 shallow trees on 20% of the columns each, 32
        histogram bins), a fast default on sentence embeddings.
    use_logged : bool, default=True
        When ``y`` is a feedback array that carries the propensities the
        logging rule recorded, :meth:`predict_logged` returns those exact values
        instead of estimates, and the overlap diagnostics use them.
    random_state : int, RandomState instance or None, default=None
        Seed of the default XGBoost estimator (ignored for a user estimator).
    n_jobs : int or None, default=None
        Threads of the default XGBoost estimator (ignored for a user
        estimator, whose own ``n_jobs`` applies). ``None``: the cores of the
        joblib task the fit runs in (e.g. a cross-fitting fold of
        :class:`DoublyRobustUtility`), or every available core
        (``os.sched_getaffinity``, container limits) outside one; ``-1``:
        every available core. The result does not depend on it.

    Attributes
    ----------
    classes_ : ndarray of shape (n_models,)
        Model labels, sorted.
    estimator_ : classifier
        The fitted classifier (trained on integer-encoded labels).
    overlap_ : Bunch
        Diagnostics from :func:`overlap_diagnostics` on the training rows.
    n_features_in_ : int
        Number of features seen during fit.

    See Also
    --------
    DoublyRobustUtility : Uses a propensity model, cross-fitted, to reweight
        logged outcomes.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn_causal_routing import PropensityModel
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(200, 3))
    >>> t = np.where(X[:, 0] + rng.normal(size=200) > 0, "large", "small")
    >>> pm = PropensityModel(LogisticRegression()).fit(X, t)
    >>> pm.classes_
    array(['large', 'small'], dtype='<U5')
    >>> pm.predict_proba(X[:2]).shape
    (2, 2)
    """

    _nested_defaults = {"estimator": "XGBClassifier()"}

    _parameter_constraints = {
        "estimator": [HasMethods(["fit", "predict_proba"]), None],
        "use_logged": ["boolean"],
        "random_state": ["random_state"],
        "n_jobs": N_JOBS_CONSTRAINT,
    }

    def __init__(self, estimator=None, *, use_logged=True, random_state=None, n_jobs=None):
        self.estimator = estimator
        self.use_logged = use_logged
        self.random_state = random_state
        self.n_jobs = n_jobs

    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y):
        """Fit the classifier of the logged action.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Query features.
        y : array-like of shape (n_samples,) or feedback array
            The logged model labels, or a feedback array from
            :func:`make_feedback` (its ``action`` field is used).

        Returns
        -------
        self : PropensityModel
            Fitted estimator.
        """
        reject_dask("PropensityModel.fit", X=X, y=y)
        X = validate_data(self, X, dtype=FLOAT_DTYPES)
        actions, logged = _labels_and_logged(y)
        check_same_length(X, actions)
        self.classes_ = np.unique(actions)
        check_enough_models(self.classes_)
        encoded = encode_labels(actions, self.classes_)
        if self.estimator is None:
            est = default_propensity_estimator(
                None if self.random_state is None else int_seed(self.random_state),
                self.n_jobs,
            )
        else:
            est = clone(self.estimator)
        self.estimator_ = est.fit(X, encoded)
        if logged is not None and self.use_logged:
            prop = logged
        else:
            prop = self._proba(X)[np.arange(len(encoded)), encoded]
        self.overlap_ = overlap_diagnostics(prop, encoded, self.classes_)
        warn_poor_overlap(self.overlap_)
        return self

    def _proba(self, X):
        return expand_proba(self.estimator_, X, len(self.classes_))

    def predict_proba(self, X):
        """Estimated probability of each model under the logging rule.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Query features.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_models)
            Columns follow ``classes_``.
        """
        X = check_features(self, X)
        return self._proba(X)

    def predict(self, X):
        """Most likely logged model for each query.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Query features.

        Returns
        -------
        labels : ndarray of shape (n_samples,)
            Labels from ``classes_``.
        """
        proba = self.predict_proba(X)
        return self.classes_[np.argmax(proba, axis=1)]

    def predict_logged(self, X, y):
        """Propensity of the model that actually served each logged request.

        Returns the logged propensities when ``y`` carries them and
        ``use_logged`` is True, and the estimated ``e_{t_i}(x_i)`` otherwise.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Query features.
        y : array-like of shape (n_samples,) or feedback array
            Logged model labels, or a feedback array.

        Returns
        -------
        propensity : ndarray of shape (n_samples,)
            Values in (0, 1].
        """
        X = check_features(self, X)
        actions, logged = _labels_and_logged(y)
        check_same_length(X, actions)
        if logged is not None and self.use_logged:
            return logged
        idx = encode_labels(actions, self.classes_, name="y (logged models)")
        proba = self._proba(X)
        return proba[np.arange(len(idx)), idx]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        return tags
