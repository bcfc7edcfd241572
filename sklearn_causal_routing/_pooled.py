"""Pooled outcome models: the protocol and the multi-task ridge."""

from numbers import Integral

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin

from .utils._compat import Interval, StrOptions, _fit_context, validate_data
from .utils.validation import check_features

__all__ = ["PooledOutcomeMixin", "PooledRidge", "is_pooled"]


class PooledOutcomeMixin:
    """Mixin marking an outcome model fitted once over all logged models.

    Subclasses implement ``fit(X, y, models, n_models=None)`` (``models``: the
    integer index of each row's serving model) and ``predict(X, models=None)``:
    the ``(n_samples, n_models)`` matrix of predicted outcomes, or, with
    ``models`` given, each row's prediction for its own model.

    Examples
    --------
    >>> from sklearn_causal_routing.outcome import PooledRidge, is_pooled
    >>> from sklearn.linear_model import RidgeCV
    >>> is_pooled(PooledRidge()), is_pooled(RidgeCV())
    (True, False)
    """

    _pooled_outcome = True

    def _check_models(self, models, n_samples, n_models, reset):
        models = np.asarray(models)
        if models.shape != (n_samples,) or not np.issubdtype(models.dtype, np.integer):
            raise ValueError(
                f"models must be an int array of shape ({n_samples},) holding each row's "
                f"model index; got dtype {models.dtype} and shape {models.shape}."
            )
        if reset:
            n_models = int(models.max()) + 1 if n_models is None else int(n_models)
        if models.size and (models.min() < 0 or models.max() >= n_models):
            raise ValueError(
                f"models must hold indices in [0, {n_models - 1}]; got values from "
                f"{models.min()} to {models.max()}."
            )
        return models.astype(np.intp), n_models

    def predict(self, X, models=None):
        """Predicted outcome of every model (or of each row's own model).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Query features.
        models : array-like of int, shape (n_samples,), default=None
            If given, return each row's prediction for this model index only.

        Returns
        -------
        y : ndarray of shape (n_samples, n_models) or (n_samples,)
            Predicted outcomes.
        """
        X = check_features(self, X)
        if models is not None:  # validate before the (possibly costly) prediction
            models, _ = self._check_models(models, X.shape[0], self.n_models_, reset=False)
        out = self._predict_matrix(X)
        return out if models is None else out[np.arange(out.shape[0]), models]

    def score(self, X, y, models):
        """R^2 of each row's prediction for its own model.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Query features.
        y : array-like of shape (n_samples,)
            Observed outcomes.
        models : array-like of int, shape (n_samples,)
            Index of the model that served each row.

        Returns
        -------
        score : float
        """
        from sklearn.metrics import r2_score

        return r2_score(y, self.predict(X, models))


def is_pooled(estimator):
    """Whether ``estimator`` is a pooled outcome model (one fit for all models).

    Parameters
    ----------
    estimator : object
        An outcome model.

    Returns
    -------
    pooled : bool

    Examples
    --------
    >>> from sklearn_causal_routing.outcome import PooledRidge, is_pooled
    >>> is_pooled(PooledRidge())
    True
    """
    return bool(getattr(estimator, "_pooled_outcome", False))


def _stack_apply(A, x):
    """``A[k] @ x[k]`` for a stack of matrices (K, d, d) and vectors (K, d), through BLAS."""
    return np.matmul(A, x[:, :, None])[:, :, 0]


def _group_stats(X, y, models, folds, n_models, n_folds):
    """Per (fold, model): row count and sums of x, y, x x^T, x y and y^2."""
    d = X.shape[1]
    n = np.zeros((n_folds, n_models))
    sx = np.zeros((n_folds, n_models, d))
    sy = np.zeros((n_folds, n_models))
    sxx = np.zeros((n_folds, n_models, d, d))
    sxy = np.zeros((n_folds, n_models, d))
    syy = np.zeros((n_folds, n_models))
    for f in range(n_folds):
        for t in range(n_models):
            rows = np.flatnonzero((folds == f) & (models == t))
            if rows.size == 0:
                continue
            Xr, yr = X[rows], y[rows]
            n[f, t] = rows.size
            sx[f, t] = Xr.sum(axis=0)
            sy[f, t] = yr.sum()
            sxx[f, t] = Xr.T @ Xr
            sxy[f, t] = Xr.T @ yr
            syy[f, t] = yr @ yr
    return n, sx, sy, sxx, sxy, syy


class _Solver:
    """Ridge with a shared slope and per-model deviations, from sufficient statistics.

    Model ``t`` predicts ``ybar_t + (x - xbar_t) @ (b0 + d_t)``: its own
    (unpenalised) intercept and a slope shrunk toward the shared one, with the
    penalty ``alpha * |b0|^2 + lam * sum_t |d_t|^2``. Eliminating ``d_t``
    leaves a ``d x d`` system for ``b0``:
    ``(lam * sum_t G_t A_t + alpha I) b0 = lam * sum_t A_t r_t`` with the
    centred Gram matrix ``G_t``, ``r_t = X_t^T y_t`` (centred) and
    ``A_t = (G_t + lam I)^{-1}``; then ``b0 + d_t = A_t (lam b0 + r_t)``.
    """

    def __init__(self, n, sx, sy, sxx, sxy, shrink_intercepts=False):
        total = n.sum()
        has = n > 0
        safe = np.where(has, n, 1.0)
        gx = sx.sum(axis=0) / total
        gy = sy.sum() / total
        if shrink_intercepts:
            # one centre for all; the last column is the constant, left uncentred, so
            # per-model intercepts are deviations penalised like the slopes
            gx[-1] = 0.0
            self.xbar = np.broadcast_to(gx, sx.shape)
            self.ybar = np.full(n.shape, gy)
        else:
            self.xbar = np.where(has[:, None], sx / safe[:, None], gx)
            self.ybar = np.where(has, sy / safe, gy)
        xs = self.xbar[:, :, None] * sx[:, None, :]
        G = (sxx - xs - np.transpose(xs, (0, 2, 1))
             + n[:, None, None] * self.xbar[:, :, None] * self.xbar[:, None, :])
        self.r = sxy - self.ybar[:, None] * sx - self.xbar * (sy - n * self.ybar)[:, None]
        G = 0.5 * (G + np.transpose(G, (0, 2, 1)))
        self.w, self.V = np.linalg.eigh(G)
        np.maximum(self.w, 0.0, out=self.w)
        self.G_sum = G.sum(axis=0)
        self.r_sum = self.r.sum(axis=0)
        self.Vr = np.matmul(self.r[:, None, :], self.V)[:, 0, :]  # V_t^T r_t
        self.d = G.shape[1]

    def shared_system(self, lam):
        """``(lam sum_t G_t A_t, lam sum_t A_t r_t)``; their limits when lam is inf."""
        if np.isinf(lam):
            return self.G_sum, self.r_sum
        shrink = self.w / (self.w + lam)  # eigenvalues of lam G_t A_t / lam
        # sum_t V_t diag(lam * shrink_t) V_t^T as one (d x Kd) @ (Kd x d) product
        k, d = self.w.shape
        left = (self.V * (lam * shrink)[:, None, :]).transpose(1, 0, 2).reshape(d, k * d)
        B = left @ self.V.transpose(1, 0, 2).reshape(d, k * d).T
        rhs = _stack_apply(self.V, (lam / (self.w + lam)) * self.Vr).sum(axis=0)
        return B, rhs

    def slopes(self, lam, b0):
        """Per-model slopes ``b0 + d_t``, shape (n_models, d)."""
        if np.isinf(lam):
            return np.broadcast_to(b0, self.V.shape[:2]).copy()
        proj = np.matmul(lam * b0, self.V) + self.Vr  # V_t^T (lam b0) + V_t^T r_t
        return _stack_apply(self.V, proj / (self.w + lam))

    def shared(self, B, rhs, alpha):
        if np.isinf(alpha):
            return np.zeros(self.d)
        return np.linalg.solve(B + alpha * np.eye(self.d), rhs)

    def coefficients(self, slopes):
        """``coef`` (n_models, d) and ``intercept`` (n_models,) of ``X @ coef.T + b``."""
        return slopes, self.ybar - np.einsum("kd,kd->k", self.xbar, slopes)


def _check_grid(values, name):
    grid = np.atleast_1d(np.asarray(values, dtype=float))
    if grid.ndim != 1 or grid.size == 0 or np.isnan(grid).any() or (grid <= 0).any():
        raise ValueError(
            f"{name} must be a non-empty 1-D sequence of penalties > 0 (np.inf allowed); "
            f"got {values!r}."
        )
    return grid


class PooledRidge(PooledOutcomeMixin, RegressorMixin, BaseEstimator):
    """Multi-task ridge: one shared outcome slope, per-model slopes shrunk toward it.

    Model ``t``'s outcome is predicted as ``a_t + x @ (b + d_t)``: a per-model
    intercept ``a_t``, a slope ``b`` shared by every model, and a per-model
    deviation ``d_t``, fitted on all logged rows at once with the penalty

    .. math:: \\alpha \\lVert b \\rVert^2 + \\lambda \\sum_t \\lVert d_t \\rVert^2 .

    A large ``model_alpha`` (:math:`\\lambda`) ties every model to the shared
    slope; ``alpha = inf`` removes the shared part and gives independent
    per-model ridges (the per-model ``RidgeCV`` default of the utility stages
    is this corner of the grid). Both penalties are chosen by ``cv``-fold
    cross-validation on the pooled squared error, from per-fold sufficient
    statistics, so the search costs a few ``d x d`` eigendecompositions per
    model whatever the number of rows.

    Parameters
    ----------
    alphas : array-like of float, default=(0.01, 0.1, 1, 10, 100, 1000, inf)
        Candidate penalties of the shared slope; ``inf`` drops it.
    model_alphas : array-like of float, default=(0.01, 0.1, 1, 10, 100, 1000, inf)
        Candidate penalties of the per-model deviations; ``inf`` gives every
        model the shared slope (intercepts stay per model).
    cv : int, default=3
        Folds of the penalty search. Rows are assigned to folds in turn within
        each model, so the search is deterministic and every fold sees every
        model.

    Attributes
    ----------
    alpha_ : float
        Chosen penalty of the shared slope.
    model_alpha_ : float
        Chosen penalty of the per-model deviations.
    coef_ : ndarray of shape (n_models, n_features)
        Slope of each model, shared part included.
    shared_coef_ : ndarray of shape (n_features,)
        The shared slope ``b``.
    intercept_ : ndarray of shape (n_models,)
        Intercept of each model.
    cv_mse_ : ndarray of shape (len(alphas), len(model_alphas))
        Cross-validated mean squared error of each pair of penalties.
    n_models_ : int
        Number of models.
    n_rows_ : ndarray of shape (n_models,)
        Logged rows of each model; a model without rows gets the shared slope
        and the mean outcome.
    n_features_in_ : int
        Number of features seen during fit.

    See Also
    --------
    DoublyRobustUtility : Uses it through ``quality_model`` / ``cost_model``.

    Notes
    -----
    With centred per-model Gram matrices :math:`G_t` and cross-products
    :math:`r_t`, eliminating the deviations gives
    :math:`(\\lambda \\sum_t G_t (G_t + \\lambda I)^{-1} + \\alpha I)\\, b =
    \\lambda \\sum_t (G_t + \\lambda I)^{-1} r_t` and
    :math:`b + d_t = (G_t + \\lambda I)^{-1} (\\lambda b + r_t)`. This is the
    ridge regression on ``[x, one_hot(t), x * one_hot(t)]`` with the two
    blocks of slopes penalised separately (Evgeniou and Pontil's regularised
    multi-task learning).

    References
    ----------
    .. [1] Evgeniou and Pontil, "Regularized multi-task learning", KDD 2004.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_causal_routing.outcome import PooledRidge
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(600, 5))
    >>> models = rng.integers(0, 3, size=600)
    >>> slope = np.array([1.0, -1.0, 0.5, 0.0, 0.0])
    >>> y = X @ slope + 0.3 * models + 0.1 * rng.normal(size=600)
    >>> est = PooledRidge().fit(X, y, models)
    >>> est.predict(X[:2]).shape
    (2, 3)
    >>> est.intercept_.round(1)
    array([0. , 0.3, 0.6])
    >>> bool(est.model_alpha_ >= 10)   # the slopes are shared: deviations shrunk
    True
    """

    _parameter_constraints = {
        "intercepts": [StrOptions({"free", "shrunk"})],
        "alphas": ["array-like"],
        "model_alphas": ["array-like"],
        "cv": [Interval(Integral, 2, None, closed="left")],
    }

    _default_grid = (0.01, 0.1, 1.0, 10.0, 100.0, 1000.0, np.inf)

    def __init__(self, *, intercepts="free", alphas=_default_grid, model_alphas=_default_grid,
                 cv=3):
        self.intercepts = intercepts
        self.alphas = alphas
        self.model_alphas = model_alphas
        self.cv = cv

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, models, n_models=None):
        """Fit on the logged rows of every model at once.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Query features.
        y : array-like of shape (n_samples,)
            Logged outcome of each row.
        models : array-like of int, shape (n_samples,)
            Index of the model that served each row.
        n_models : int, default=None
            Number of models (columns of :meth:`predict`); ``None`` uses
            ``models.max() + 1``.

        Returns
        -------
        self : PooledRidge
            Fitted estimator.
        """
        X, y = validate_data(self, X, y, dtype=np.float64, y_numeric=True)
        models, k = self._check_models(models, X.shape[0], n_models, reset=True)
        shrink = self.intercepts == "shrunk"
        if shrink:  # the constant column carries the per-model intercept deviations
            X = np.hstack([X, np.ones((X.shape[0], 1))])
        alphas = _check_grid(self.alphas, "alphas")
        lams = _check_grid(self.model_alphas, "model_alphas")
        self.n_models_ = k
        self.n_rows_ = np.bincount(models, minlength=k)

        # folds in turn within each model: deterministic and stratified
        folds = np.empty(X.shape[0], dtype=np.intp)
        for t in range(k):
            rows = np.flatnonzero(models == t)
            folds[rows] = np.arange(rows.size) % self.cv
        n, sx, sy, sxx, sxy, syy = _group_stats(X, y, models, folds, k, self.cv)

        sse = np.zeros((alphas.size, lams.size))
        for f in range(self.cv):
            keep = np.arange(self.cv) != f
            solver = _Solver(n[keep].sum(0), sx[keep].sum(0), sy[keep].sum(0),
                             sxx[keep].sum(0), sxy[keep].sum(0), shrink)
            for j, lam in enumerate(lams):
                B, rhs = solver.shared_system(lam)
                for i, alpha in enumerate(alphas):
                    coef, icpt = solver.coefficients(solver.slopes(lam, solver.shared(B, rhs, alpha)))
                    # sum over held-out rows of (y - x coef - icpt)^2, from the fold's sums
                    quad = np.einsum("kd,kd->k", _stack_apply(sxx[f], coef), coef)
                    sse[i, j] += np.sum(
                        syy[f] - 2 * np.einsum("kd,kd->k", coef, sxy[f]) - 2 * icpt * sy[f]
                        + quad + 2 * icpt * np.einsum("kd,kd->k", coef, sx[f])
                        + n[f] * icpt**2
                    )
        self.cv_mse_ = sse / X.shape[0]
        i, j = np.unravel_index(np.argmin(self.cv_mse_), self.cv_mse_.shape)
        self.alpha_, self.model_alpha_ = float(alphas[i]), float(lams[j])

        solver = _Solver(n.sum(0), sx.sum(0), sy.sum(0), sxx.sum(0), sxy.sum(0), shrink)
        B, rhs = solver.shared_system(self.model_alpha_)
        shared = solver.shared(B, rhs, self.alpha_)
        coef, intercept = solver.coefficients(solver.slopes(self.model_alpha_, shared))
        if shrink:  # fold the constant column back into the intercepts
            intercept = intercept + coef[:, -1]
            coef, shared = coef[:, :-1], shared[:-1]
        self.coef_, self.intercept_, self.shared_coef_ = coef, intercept, shared
        return self

    def _predict_matrix(self, X):
        """``(n_samples, n_models)`` predictions on validated features."""
        out = X @ self.coef_.T.astype(X.dtype, copy=False) + self.intercept_
        return np.asarray(out, dtype=np.float64)
