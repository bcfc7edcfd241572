"""The utility stage on Dask collections: logs bigger than one machine's memory.

``DoublyRobustUtility.fit`` sends Dask input here. Nothing of the size of the
logs is gathered: the default outcome model (``RidgeCV``, its penalty chosen
by exact leave-one-out) is fitted from per-partition sufficient statistics, one
pass for the sums and one for the leave-one-out errors; the cross-fitting
folds are drawn per partition, so no pass has to number the rows first; and
the doubly robust utilities are lazy Dask arrays, computed partition by
partition when used. What is gathered is one propensity, one model code and
one fold number per row (13 bytes a row, against ``8 * n_features`` for the
features), for exact clip percentiles and the overlap diagnostics.
"""

import sys

import numpy as np
from sklearn.linear_model import RidgeCV

from ._feedback import FEEDBACK_FIELDS, check_feedback, make_feedback
from ._propensity import (
    PropensityModel,
    default_propensity_estimator,
    overlap_diagnostics,
    warn_poor_overlap,
)
from .utils._optional import import_optional
from .utils.validation import (
    FLOAT_DTYPES,
    check_enough_models,
    encode_labels,
    int_seed,
    is_dask_collection,
)

__all__ = [
    "DEFAULT_ALPHAS",
    "block_folds",
    "broadcast",
    "check_dask_logs",
    "dask_inputs",
    "fit_utility_dask",
    "folds_per_partition",
    "partition_offsets",
    "tree_sum",
    "lazy_utilities",
]

#: The penalties the default outcome model chooses from (as ``RidgeCV`` in memory).
DEFAULT_ALPHAS = np.logspace(-2, 3, 6)


def _dask():
    return import_optional("dask", extra="dask", needed_by="fitting on Dask collections")


def _dask_array():
    return import_optional("dask.array", extra="dask", needed_by="fitting on Dask collections")


# --- input ---------------------------------------------------------------------------


def _as_dask_matrix(estimator, X, rows_like=None):
    """``X`` as a float Dask array with one column chunk; sets ``n_features_in_``."""
    da = _dask_array()
    if hasattr(X, "to_dask_array"):  # Dask DataFrame
        names = np.asarray(X.columns, dtype=object)
        X = X.to_dask_array(lengths=True)
        if all(isinstance(c, str) for c in names):
            estimator.feature_names_in_ = names
    elif not is_dask_collection(X):
        X = np.asarray(X)
        chunks = (rows_like.chunks[0], -1) if rows_like is not None else ("auto", -1)
        X = da.from_array(X, chunks=chunks)
    if X.ndim != 2:
        raise ValueError(
            f"X must be a 2-D Dask array of query features (n_samples, n_features); got "
            f"{X.ndim} dimension(s), shape {X.shape}."
        )
    if X.dtype not in FLOAT_DTYPES:
        if X.dtype.kind not in "biuf":
            raise TypeError(f"X must hold numbers; got a Dask array of dtype {X.dtype}.")
        X = X.astype(np.float64)
    if any(np.isnan(c) for c in X.chunks[0]):
        X = X.compute_chunk_sizes()
    estimator.n_features_in_ = int(X.shape[1])
    return X.rechunk({1: -1})


def dask_inputs(estimator, X, y, quality=None, cost=None, propensity=None):
    """Features and feedback of a fit on Dask input, aligned, without a pass over them.

    Returns the features as a Dask array with one column chunk (setting the
    estimator's ``n_features_in_``) and the feedback as a structured Dask
    array with the same row chunks.
    """
    da = _dask_array()
    if quality is not None:
        y = make_feedback(y, quality, cost=cost, propensity=propensity)
    elif cost is not None or propensity is not None:
        raise TypeError(
            "fit: cost= and propensity= go with the separate form fit(X, t, y, "
            "cost=cost, propensity=p); with a feedback array they are already inside it."
        )
    if hasattr(y, "to_dask_array") and getattr(y, "ndim", 1) == 1:  # a Dask Series
        y = y.to_dask_array(lengths=True)
    if not is_dask_collection(y):
        y = check_feedback(y)
        X = _as_dask_matrix(estimator, X)
        y = da.from_array(y, chunks=(X.chunks[0],))
    else:
        X = _as_dask_matrix(estimator, X, rows_like=y)
    names = getattr(y.dtype, "names", None)
    if names is None or any(f not in names for f in FEEDBACK_FIELDS):
        raise TypeError(
            f"y must be the logged feedback, a structured Dask array with fields "
            f"{FEEDBACK_FIELDS}; got a Dask array of dtype {y.dtype}. Build it with "
            "make_feedback(t, y, cost=cost, propensity=None) on Dask columns, or "
            "feedback_from_frame(dask_frame, ...)."
        )
    if any(np.isnan(c) for c in y.chunks[0]):
        y = y.compute_chunk_sizes()
    if y.shape[0] != X.shape[0]:
        raise ValueError(
            f"X has {X.shape[0]} rows but y has {y.shape[0]}; every logged request needs "
            "its features and its feedback."
        )
    if y.chunks[0] != X.chunks[0]:
        y = y.rechunk((X.chunks[0],))
    return X, y


def _scan(block):
    """A partition's feedback, checked: its labels, each row's index into them, and
    the logged propensities."""
    block = check_feedback(block)
    labels, inverse = np.unique(block["action"], return_inverse=True)
    return [(labels, inverse.astype(np.int32), np.asarray(block["propensity"], dtype=np.float64))]


def check_dask_logs(estimator, X, y, quality=None, cost=None, propensity=None):
    """The fit preamble (``_feedback.check_logs``) for Dask input.

    Returns :func:`dask_inputs`'s features and feedback, the sorted model
    labels and, per row, the model's code and the logged propensity (NaN when
    absent), gathered (12 bytes a row). One pass over the feedback, none over
    the features (their NaN check runs in the sufficient-statistics pass).
    """
    dask = _dask()
    X, y = dask_inputs(estimator, X, y, quality, cost, propensity)
    parts = [p[0] for p in dask.compute(*[dask.delayed(_scan)(b) for b in y.to_delayed().ravel()])]
    classes = np.unique(np.concatenate([labels for labels, _, _ in parts]))
    check_enough_models(classes)
    codes = np.concatenate([
        np.searchsorted(classes, labels).astype(np.int32)[inverse] for labels, inverse, _ in parts
    ])
    logged = np.concatenate([prop for _, _, prop in parts])
    return X, y, classes, codes, logged


# --- folds ---------------------------------------------------------------------------


def block_folds(codes, n_splits, seed, block_index):
    """Cross-fitting fold of each row of one partition, stratified by model.

    Within the partition, each model's rows are shuffled and dealt to the
    folds in turn from a random first fold; the draw depends only on
    ``(seed, block_index)``, so every pass finds the same folds without a
    global numbering of the rows.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_causal_routing._dask import block_folds
    >>> folds = block_folds(np.array([0, 0, 0, 1, 1, 1]), 3, seed=0, block_index=0)
    >>> np.bincount(folds[:3], minlength=3).tolist(), np.bincount(folds[3:]).tolist()
    ([1, 1, 1], [1, 1, 1])
    """
    rng = np.random.default_rng([int(seed), int(block_index)])
    fold = np.empty(len(codes), dtype=np.int8)
    for j in np.unique(codes):
        rows = rng.permutation(np.flatnonzero(codes == j))
        fold[rows] = (np.arange(rows.size) + rng.integers(n_splits)) % n_splits
    return fold


def partition_offsets(chunks):
    """First row of each partition, and the row count at the end: ``len(chunks) + 1`` ints."""
    return np.concatenate([[0], np.cumsum(chunks)]).astype(np.int64)


def folds_per_partition(codes, chunks, n_splits, seed):
    """:func:`block_folds` of every partition (``chunks``: their row counts), concatenated."""
    offsets = partition_offsets(chunks)
    return np.concatenate([
        block_folds(codes[a:b], n_splits, seed, i)
        for i, (a, b) in enumerate(zip(offsets[:-1], offsets[1:]))
    ])


# --- the default outcome model from sufficient statistics -----------------------------


def _block_stats(xb, codes, fold, targets, n_splits, k):
    """Per (fold, model): rows, sums of x, x x', y, x y, y**2 and the range of y."""
    d = xb.shape[1]
    xb = np.asarray(xb, dtype=np.float64)
    if not np.all(np.isfinite(xb)):
        bad = np.flatnonzero(~np.all(np.isfinite(xb), axis=1))
        raise ValueError(
            f"X contains NaN or infinite values ({bad.size} row(s) of a partition); "
            "drop or impute them before fitting."
        )
    out = {
        "n": np.zeros((n_splits, k)),
        "sx": np.zeros((n_splits, k, d)),
        "sxx": np.zeros((n_splits, k, d, d)),
        "sy": np.zeros((n_splits, k, 2)),
        "sxy": np.zeros((n_splits, k, d, 2)),
        "syy": np.zeros((n_splits, k, 2)),
        "ymin": np.full((n_splits, k, 2), np.inf),
        "ymax": np.full((n_splits, k, 2), -np.inf),
    }
    for g in range(n_splits):
        for j in range(k):
            rows = np.flatnonzero((fold == g) & (codes == j))
            if rows.size == 0:
                continue
            xg, yg = xb[rows], targets[rows]
            out["n"][g, j] = rows.size
            out["sx"][g, j] = xg.sum(axis=0)
            out["sxx"][g, j] = xg.T @ xg
            out["sy"][g, j] = yg.sum(axis=0)
            out["sxy"][g, j] = xg.T @ yg
            out["syy"][g, j] = (yg**2).sum(axis=0)
            out["ymin"][g, j] = yg.min(axis=0)
            out["ymax"][g, j] = yg.max(axis=0)
    return out


def _add_stats(a, b):
    out = {key: a[key] + b[key] for key in a if key not in ("ymin", "ymax")}
    out["ymin"] = np.minimum(a["ymin"], b["ymin"])
    out["ymax"] = np.maximum(a["ymax"], b["ymax"])
    return out


def broadcast(dask, obj):
    """``obj`` for every task of a graph, sent to the workers once.

    Where a ``distributed.Client`` computes the graph, ``obj`` is scattered to
    every worker (a large object inside the graph would go through the
    scheduler, which warns about large graphs and holds it); elsewhere it is
    one key of the graph.
    """
    distributed = sys.modules.get("distributed")
    if distributed is not None:
        try:
            client = distributed.default_client()
        except ValueError:  # no client
            client = None
        from dask.base import get_scheduler

        if client is not None and get_scheduler() == client.get:
            return client.scatter(obj, broadcast=True, hash=False)
    return dask.delayed(obj, pure=True)


def tree_sum(dask, parts, add):
    """Reduce delayed ``parts`` pairwise, so no task holds more than two of them."""
    while len(parts) > 1:
        parts = [
            dask.delayed(add)(parts[i], parts[i + 1]) if i + 1 < len(parts) else parts[i]
            for i in range(0, len(parts), 2)
        ]
    return parts[0]


def _training_stats(stats, f):
    """The statistics of training fold ``f``: every fold's but ``f``'s."""
    others = [g for g in range(stats["n"].shape[0]) if g != f]
    out = {key: stats[key][others].sum(axis=0) for key in stats if key not in ("ymin", "ymax")}
    out["ymin"] = stats["ymin"][others].min(axis=0)
    out["ymax"] = stats["ymax"][others].max(axis=0)
    return out


def _eigen(train):
    """Per model: mean of x, eigendecomposition of the centred Gram matrix, and the
    projection of the centred ``X'y`` on its eigenvectors."""
    n = np.maximum(train["n"], 1.0)[:, None]
    xm = train["sx"] / n
    ym = train["sy"] / n
    gram = train["sxx"] - n[..., None] * xm[:, :, None] * xm[:, None, :]
    lam, V = np.linalg.eigh(gram)
    lam = np.clip(lam, 0.0, None)
    b = train["sxy"] - n[..., None] * xm[:, :, None] * ym[:, None, :]
    g = np.einsum("kde,kdt->ket", V, b)
    return xm, ym, lam, V, g


def _block_loo(xb, codes, fold, targets, eig, alphas, n_splits, k):
    """Sum of squared leave-one-out residuals per (fold, model, target, alpha)."""
    xb = np.asarray(xb, dtype=np.float64)
    out = np.zeros((n_splits, k, 2, len(alphas)))
    for f in range(n_splits):
        xm, ym, lam, V, g, n = eig[f]
        for j in range(k):
            rows = np.flatnonzero((fold != f) & (codes == j))
            if rows.size == 0 or n[j] < 1:
                continue
            z = (xb[rows] - xm[j]) @ V[j]
            inv = 1.0 / (lam[j][:, None] + alphas[None, :])
            h = 1.0 / n[j] + (z**2) @ inv
            for t in range(2):
                fitted = ym[j, t] + z @ (g[j][:, t][:, None] * inv)
                out[f, j, t] = (((targets[rows, t][:, None] - fitted) / (1.0 - h)) ** 2).sum(axis=0)
    return out


def _ridge(coef, intercept, alpha, score, d):
    """A ``RidgeCV`` carrying fitted coefficients, as a fit in memory would leave it."""
    model = RidgeCV(alphas=DEFAULT_ALPHAS)
    model.coef_, model.intercept_ = coef, float(intercept)
    model.alpha_, model.best_score_ = float(alpha), float(score)
    model.n_features_in_ = d
    return model


def _fit_outcome_models(stats, loo, n_splits, classes, small, min_rows):
    """Per fold, ``{"quality": [...], "cost": [...]}`` as ``fit_per_model`` returns."""
    models = []
    k, d = len(classes), stats["sx"].shape[2]
    for f in range(n_splits):
        train = _training_stats(stats, f)
        xm, ym, lam, V, g = _eigen(train)
        fold_models = {"quality": [], "cost": []}
        total = train["n"].sum()
        for t, name in enumerate(("quality", "cost")):
            overall = train["sy"][:, t].sum() / max(total, 1.0)
            for j in range(k):
                n = train["n"][j]
                if n < min_rows:
                    if t == 0:
                        small.append((np.asarray(classes[j]).item(), int(n)))
                    fold_models[name].append(float(train["sy"][j, t] / n) if n else float(overall))
                    continue
                if train["ymax"][j, t] == train["ymin"][j, t]:
                    fold_models[name].append(float(train["ymin"][j, t]))
                    continue
                best = int(np.argmin(loo[f, j, t]))  # first of ties, as RidgeCV
                alpha = DEFAULT_ALPHAS[best]
                coef = V[j] @ (g[j][:, t] / (lam[j] + alpha))
                fold_models[name].append(
                    _ridge(coef, ym[j, t] - xm[j] @ coef, alpha, -loo[f, j, t, best] / n, d)
                )
        models.append(fold_models)
    return models


def _linear_form(models, d):
    """Per fold, the outcome models as one matrix and intercept: ``X @ W + b``."""
    W = np.zeros((len(models), d, len(models[0])))
    b = np.zeros((len(models), len(models[0])))
    for f, fold_models in enumerate(models):
        for j, m in enumerate(fold_models):
            if isinstance(m, float):
                b[f, j] = m
            else:
                W[f, :, j], b[f, j] = m.coef_, m.intercept_
    return W, b


# --- propensities ----------------------------------------------------------------------


def _chosen(proba, codes):
    return proba[np.arange(len(codes)), codes]


def _estimated_propensities(stage, X, codes_da, fold_da, n_splits):
    """Cross-fitted XGBoost propensities through ``xgboost.dask`` (needs a Client)."""
    da = _dask_array()
    import_optional("distributed", extra="dask", needed_by="propensities on Dask input")
    xgb_dask = import_optional("xgboost.dask", extra="dask", needed_by="propensities on Dask input")
    from distributed import default_client

    try:
        client = default_client()
    except ValueError:
        raise ValueError(
            "Estimating propensities on Dask input trains XGBoost with xgboost.dask, "
            "which needs a dask.distributed Client; none is running. Start one "
            "(from distributed import Client; client = Client()) or log the "
            "propensities with the feedback (make_feedback(..., propensity=p))."
        ) from None
    propensity = stage.propensity
    estimator = propensity.estimator if isinstance(propensity, PropensityModel) else propensity
    seed = None if stage.random_state is None else int_seed(stage.random_state)
    if estimator is None:
        params = default_propensity_estimator(seed).get_params()
    elif type(estimator).__name__ in ("XGBClassifier", "DaskXGBClassifier"):
        params = estimator.get_params()
    else:
        raise ValueError(
            "On Dask input the propensities are the logged ones or are estimated by "
            "XGBoost through xgboost.dask; propensity must be None, PropensityModel() "
            f"or an XGBClassifier, got {type(estimator).__name__}. Log the "
            "propensities with the feedback, or pass propensity=None."
        )
    params = {key: v for key, v in params.items() if key not in ("n_jobs", "nthread")}
    prop = None
    for f in range(n_splits):
        clf = xgb_dask.DaskXGBClassifier(**params)
        clf.client = client
        train = fold_da != f  # the training rows only: zero weights would still be binned
        clf.fit(X[train], codes_da[train])
        proba = clf.predict_proba(X)
        mine = da.blockwise(_chosen, "i", proba, "ij", codes_da, "i", concatenate=True,
                            dtype=np.float64)
        prop = mine * (fold_da == f) if prop is None else prop + mine * (fold_da == f)
    return np.asarray(prop.compute(), dtype=np.float64)


# --- the fit ---------------------------------------------------------------------------


def _block_utilities(xb, fbb, fold, prop, W_q, b_q, W_c, b_c, method, classes):
    """Outcome predictions and DR estimates of one partition: (rows, K, 4) float64
    with, on the last axis, DR quality, DR cost, predicted quality, predicted cost."""
    xb = np.asarray(xb, dtype=np.float64)
    codes = encode_labels(fbb["action"], classes)
    n, k = xb.shape[0], W_q.shape[2]
    out = np.empty((n, k, 4))
    for f in range(W_q.shape[0]):
        rows = np.flatnonzero(fold == f)
        if rows.size:
            out[rows, :, 2] = xb[rows] @ W_q[f] + b_q[f]
            out[rows, :, 3] = xb[rows] @ W_c[f] + b_c[f]
    idx = np.arange(n)
    for t, field in ((0, "quality"), (1, "cost")):
        target = np.asarray(fbb[field], dtype=np.float64)
        mu = out[:, :, 2 + t]
        if method == "dm":
            out[:, :, t] = mu
        elif method == "ipw":
            out[:, :, t] = 0.0
            out[idx, codes, t] = target / prop
        else:
            out[:, :, t] = mu
            out[idx, codes, t] += (target - mu[idx, codes]) / prop
    return out


def lazy_utilities(stage, X, fb, propensity):
    """The utilities of a Dask-fitted stage on its training rows, lazily.

    Parameters
    ----------
    stage : DoublyRobustUtility
        Fitted on Dask input (it has ``folds_``).
    X, fb : dask.array.Array
        Its training features and feedback, chunked as in the fit.
    propensity : ndarray or dask.array.Array of shape (n_samples,)
        The propensities to reweight with (clipped or not).

    Returns
    -------
    utilities : dask.array.Array of shape (n_samples, n_models, 4)
        On the last axis: DR quality, DR cost, predicted quality, predicted
        cost; each partition computed when used, from the outcome models of
        the fold that did not see its rows.
    """
    da = _dask_array()
    chunks = (X.chunks[0],)
    fold = da.from_array(stage.folds_, chunks=chunks)
    if not is_dask_collection(propensity):
        propensity = da.from_array(np.asarray(propensity, dtype=np.float64), chunks=chunks)
    d = X.shape[1]
    W_q, b_q = _linear_form([m["quality"] for m in stage.outcome_models_], d)
    W_c, b_c = _linear_form([m["cost"] for m in stage.outcome_models_], d)
    return da.blockwise(
        _block_utilities, "iab", X, "ic", fb, "i", fold, "i", propensity, "i",
        W_q, None, b_q, None, W_c, None, b_c, None, stage.method, None,
        stage.classes_, None, new_axes={"a": len(stage.classes_), "b": 4},
        concatenate=True, dtype=np.float64,
    )


def fit_utility_dask(stage, X, y, quality=None, cost=None, propensity=None, *, small, clip,
                     min_rows):
    """Fit ``stage`` (a DoublyRobustUtility) on Dask input; see the module docstring.

    ``small`` collects ``(label, n_rows)`` of models too small to fit;
    ``clip`` is the checked percentile pair or None; ``min_rows`` is
    ``MIN_ROWS_PER_MODEL``. Returns the propensities before clipping (for the
    caller's diagnostics) after setting the fitted attributes.
    """
    dask = _dask()
    da = _dask_array()
    for name in ("quality_model", "cost_model"):
        if getattr(stage, name) is not None:
            raise ValueError(
                f"On Dask input the outcome models are fitted from sufficient statistics, "
                f"which only the default (RidgeCV) allows; got {name}="
                f"{getattr(stage, name)!r}. Pass {name}=None, or compute the data into "
                "memory for other outcome models."
            )
    if not isinstance(stage.cv, (int, np.integer)) or isinstance(stage.cv, bool):
        raise ValueError(
            "On Dask input the cross-fitting folds are drawn per partition; cv must be "
            f"an int (the number of folds), got cv={stage.cv!r}."
        )
    X, fb, classes, codes, logged = check_dask_logs(stage, X, y, quality, cost, propensity)
    stage.classes_ = classes
    n_splits, k = int(stage.cv), len(classes)
    seed = int_seed(stage.random_state)  # None: one draw, shared by every pass
    chunks = X.chunks[0]
    fold = folds_per_partition(codes, chunks, n_splits, seed)
    counts = np.zeros((n_splits, k), dtype=np.int64)
    np.add.at(counts, (fold, codes), 1)
    lacking = [np.asarray(classes[j]).item() for j in range(k)
               if any(counts[:, j].sum() - counts[f, j] == 0 for f in range(n_splits))]
    codes_da = da.from_array(codes, chunks=(chunks,))
    fold_da = da.from_array(fold, chunks=(chunks,))
    targets_da = da.stack(
        [fb["quality"].astype(np.float64), fb["cost"].astype(np.float64)], axis=1
    ).rechunk((chunks, 2))

    # pass 1: sufficient statistics per (fold, model)
    xs = X.to_delayed().ravel()
    cs, fs, ts = codes_da.to_delayed().ravel(), fold_da.to_delayed().ravel(), targets_da.to_delayed().ravel()
    parts = [dask.delayed(_block_stats)(x, c, f, t, n_splits, k) for x, c, f, t in zip(xs, cs, fs, ts)]
    stats = tree_sum(dask, parts, _add_stats).compute()

    # pass 2: exact leave-one-out errors of every penalty
    eig = []
    for f in range(n_splits):
        train = _training_stats(stats, f)
        eig.append((*_eigen(train), train["n"]))
    eig_d = broadcast(dask, eig)  # cv * K * d**2 floats: 65 MB at K=11, d=384
    alphas = DEFAULT_ALPHAS
    parts = [dask.delayed(_block_loo)(x, c, f, t, eig_d, alphas, n_splits, k)
             for x, c, f, t in zip(xs, cs, fs, ts)]
    loo = tree_sum(dask, parts, np.add).compute()
    del eig, eig_d

    stage.outcome_models_ = _fit_outcome_models(stats, loo, n_splits, classes, small, min_rows)
    stage.logged_propensity_ = bool(stage.use_logged_propensity and not np.isnan(logged).any())
    if stage.logged_propensity_:
        prop = logged
    else:
        if lacking:
            raise ValueError(
                "A cross-fitting training fold lacks some logged model; use fewer folds "
                f"(cv) or more logs. Models absent from a training fold: {lacking}."
            )
        prop = _estimated_propensities(stage, X, codes_da, fold_da, n_splits)
    prop = np.clip(prop, np.finfo(np.float64).tiny, 1.0)
    if clip is not None:
        stage.clip_bounds_ = tuple(np.percentile(prop, clip))
        clipped = np.clip(prop, *stage.clip_bounds_)
    else:
        stage.clip_bounds_ = None
        clipped = prop
    stage.overlap_ = overlap_diagnostics(prop, codes, classes, clip_bounds=stage.clip_bounds_)
    warn_poor_overlap(stage.overlap_)
    stage.propensity_ = clipped
    stage.folds_ = fold
    lazy = lazy_utilities(stage, X, fb, clipped)
    stage.quality_ = lazy[:, :, 0]
    stage.cost_ = lazy[:, :, 1]
    stage.outcome_quality_ = lazy[:, :, 2]
    stage.outcome_cost_ = lazy[:, :, 3]
    return stage
