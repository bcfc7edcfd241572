"""A RegretRouter fitted on Dask collections: the policy trained on streamed minibatches.

The utility stage is fitted from sufficient statistics (:mod:`._dask`); its
doubly robust utilities stay lazy. The policy network is trained by skorch on
a torch ``IterableDataset`` that computes one partition at a time (the next
one is computed while the network trains on the current one), shuffles its
rows and yields minibatches; the validation rows for early stopping are a
seeded choice of whole partitions (a seeded share of every partition when
there are few), streamed the same way. The fallback check
trains its fold policies the same way and reduces its comparison to sums per
partition. Nothing of the size of the logs is held in memory.
"""

from concurrent.futures import ThreadPoolExecutor
from statistics import NormalDist

import numpy as np
import torch
from sklearn.utils import Bunch
from skorch.helper import predefined_split

from ._dask import (
    check_dask_logs,
    dask_inputs,
    folds_per_partition,
    lazy_utilities,
    partition_offsets,
    tree_sum,
)
from ._utility import DoublyRobustUtility
from ._policy import fallback_report, single_bounds
from ._nets import (
    MLPPolicy,
    RegretLoss,
    build_policy_net,
    policy_logits,
    training_settings,
    warn_if_still_improving,
)
from .utils._optional import import_optional
from .utils.validation import encode_labels, int_seed

__all__ = [
    "fit_interval_dask", "fit_router_dask", "holdout_partitions", "lazy_method", "lazy_score",
    "stream_fit",
]


def _dask():
    return import_optional("dask", extra="dask", needed_by="fitting on Dask collections")


class _PartitionStream(torch.utils.data.IterableDataset):
    """Minibatches of ``(features, target)`` from the partitions of Dask arrays.

    ``X`` and ``target`` are row-aligned Dask arrays; ``keep(i, n)`` gives the
    rows of partition ``i`` (of ``n`` rows) to use. Each pass visits the
    partitions in a new seeded order and shuffles the rows of each.
    """

    def __init__(self, X, target, keep, batch_size, seed, shuffle=True, parts=None):
        self.x_blocks = X.rechunk({1: -1}).to_delayed().ravel()  # one block per partition
        self.t_blocks = target.rechunk({1: -1}).to_delayed().ravel()
        self.sizes = X.chunks[0]
        # the partitions to visit (None: all)
        self.parts = np.arange(len(self.sizes)) if parts is None else np.asarray(parts)
        self.keep = keep
        self.batch_size = batch_size
        self.seed = seed
        self.shuffle = shuffle
        self.passes = 0

    def _load(self, i):
        xb, tb = _dask().compute(self.x_blocks[i], self.t_blocks[i])
        rows = self.keep(i, self.sizes[i])
        return np.asarray(xb[rows], dtype=np.float32), np.asarray(tb[rows], dtype=np.float32)

    def __iter__(self):
        rng = np.random.default_rng([self.seed, self.passes])
        self.passes += 1
        order = list(rng.permutation(self.parts) if self.shuffle else self.parts)
        with ThreadPoolExecutor(1) as pool:  # compute the next partition while training
            pending = pool.submit(self._load, order[0])
            for position in range(len(order)):
                xb, tb = pending.result()
                if position + 1 < len(order):
                    pending = pool.submit(self._load, order[position + 1])
                rows = rng.permutation(len(xb)) if self.shuffle else np.arange(len(xb))
                for start in range(0, len(rows), self.batch_size):
                    idx = rows[start:start + self.batch_size]
                    yield torch.from_numpy(xb[idx]), torch.from_numpy(tb[idx])


def _every_row(i, n):
    return np.ones(n, dtype=bool)


#: Fewest validation partitions for early stopping to hold out whole partitions.
MIN_VALID_PARTITIONS = 2


def holdout_partitions(n_partitions, fraction, seed):
    """The partitions held out for early stopping, or ``None`` (a share of every one).

    With at least ``MIN_VALID_PARTITIONS`` partitions in ``fraction`` of them,
    a seeded choice of ``round(fraction * n_partitions)`` whole partitions
    validates: each partition is then computed once per epoch, by the
    training stream or by the validation one, not by both. With fewer, the
    validation rows are a seeded share of every partition (``None``).

    Examples
    --------
    >>> from sklearn_causal_routing._dask_policy import holdout_partitions
    >>> holdout_partitions(50, 0.1, 0).tolist()
    [1, 10, 28, 36, 38]
    >>> holdout_partitions(10, 0.1, 0) is None
    True
    """
    count = int(round(fraction * n_partitions))
    if count < MIN_VALID_PARTITIONS:
        return None
    return np.sort(np.random.default_rng([seed, 7]).choice(n_partitions, count, replace=False))


def _holdout(seed, fraction):
    """``keep`` functions of the training and validation rows (a seeded share per partition)."""

    def valid(i, n):
        return np.random.default_rng([seed, int(i), 7]).random(n) < fraction

    def train(i, n):
        return ~valid(i, n)

    return train, valid


def stream_fit(net, X, target, rows, seed, validation_fraction, batch_size,
               n_iter_no_change, verbose):
    """Fit the skorch ``net`` on the rows ``rows(i, n)`` of streamed partitions.

    ``target`` is the row-aligned Dask array of training targets. The
    validation rows for early stopping (``validation_fraction``; ``None``:
    none) are whole partitions when there are enough of them
    (:func:`holdout_partitions`), else a seeded share of every partition.
    After the fit the net is set
    back to the in-memory settings (``training_settings``), so that a later
    warm retraining trains on arrays.
    """
    n_parts = len(X.chunks[0])
    train_parts = None
    valid_parts = (None if validation_fraction is None
                   else holdout_partitions(n_parts, validation_fraction, seed))
    if validation_fraction is None:
        train_rows, valid = rows, None
    elif valid_parts is not None:  # whole partitions: each computed once per epoch
        train_rows = rows
        train_parts = np.setdiff1d(np.arange(n_parts), valid_parts)
        valid = _PartitionStream(X, target, rows, batch_size, seed, shuffle=False,
                                 parts=valid_parts)
    else:
        in_train, in_valid = _holdout(seed, validation_fraction)
        train_rows = lambda i, n: rows(i, n) & in_train(i, n)  # noqa: E731
        valid = _PartitionStream(X, target, lambda i, n: rows(i, n) & in_valid(i, n),
                                 batch_size, seed, shuffle=False)
    train = _PartitionStream(X, target, train_rows, batch_size, seed, parts=train_parts)
    # the streams yield whole minibatches, shuffled already
    net.set_params(iterator_train__batch_size=None, iterator_valid__batch_size=None,
                   iterator_train__shuffle=False)
    if valid is not None:
        net.set_params(train_split=predefined_split(valid))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        net.fit(train, None)
    # the streams hold the Dask graphs: back to plain attributes (no re-initialisation)
    settings = training_settings(validation_fraction, n_iter_no_change, seed, verbose)
    net.train_split = settings["train_split"]
    net.iterator_train__shuffle = True
    net.iterator_train__batch_size = net.iterator_valid__batch_size = batch_size
    net.module_.eval()
    warn_if_still_improving(net)
    return net


def _train_stream(router, X, regret, n_outputs, rows, seed):
    """Train a RegretRouter's policy network on streamed regrets."""
    net = build_policy_net(
        module=MLPPolicy,
        module_params={
            "n_features": X.shape[1],
            "n_outputs": n_outputs,
            "hidden_layer_sizes": tuple(router.hidden_layer_sizes),
        },
        criterion=RegretLoss,
        criterion_params={"loss": router.loss, "temperature": router.temperature},
        **router._training_params(seed),
    )
    return stream_fit(net, X, regret, rows, seed, router.validation_fraction,
                      router.batch_size, router.n_iter_no_change, router.verbose)


def _regret(U, scale):
    """Lazy regrets of every model, divided by ``scale`` (as ``_fit_policy`` trains on)."""
    return (U.max(axis=1, keepdims=True) - U) / scale


def _lcb(count, total, squares, z):
    """:func:`~sklearn_causal_routing.utils._stats.mean_lcb` from sums (unweighted)."""
    mean = total / count
    var = np.maximum(squares - count * mean**2, 0.0) / max(count - 1, 1)
    return mean, mean - z * np.sqrt(var / count)


def _block_summary(U, fold, n_folds, penalty):
    """Per partition: column sums of U, U**2, and per fold the sums that
    ``utility_spread`` of the training rows of that fold needs."""
    centred = U - U.mean(axis=1, keepdims=True)
    shifted = centred - (penalty - penalty.mean())
    out = {"n": U.shape[0], "sum": U.sum(axis=0), "squares": (U**2).sum(axis=0),
           "centred": float((centred**2).sum()), "fold_n": np.zeros(n_folds),
           "fold_spread": np.zeros(n_folds)}
    for k in range(n_folds):
        rows = fold == k
        out["fold_n"][k] = rows.sum()
        out["fold_spread"][k] = (shifted[rows] ** 2).sum()
    return out


def _add(a, b):
    return {key: a[key] + b[key] for key in a}


def _spread(total, count, k):
    scale = float(np.sqrt(total / (count * k))) if count else 0.0
    return scale if scale > 0 else 1.0


def _block_check(xb, V, outcome, fold, nets, with_logged):
    """Per partition of the check: the sums behind its lower confidence bounds.

    ``V``: each model's utility per row; ``outcome``: the logged utility, whose
    mean is the logging rule's value when ``with_logged`` (its propensities
    were recorded)."""
    decisions = np.empty(len(xb), dtype=np.intp)
    for k, net in enumerate(nets):
        rows = np.flatnonzero(fold == k)
        if rows.size:
            decisions[rows] = np.argmax(policy_logits(net, xb[rows]), axis=1)
    routed = V[np.arange(len(V)), decisions]
    gain = routed[:, None] - V
    out = {"n": len(V), "V": V.sum(axis=0), "V2": (V**2).sum(axis=0),
           "outcome": outcome.sum(), "outcome2": (outcome**2).sum(),
           "routed": routed.sum(), "routed2": (routed**2).sum(),
           "gain": gain.sum(axis=0), "gain2": (gain**2).sum(axis=0)}
    if with_logged:
        diff = routed - outcome
        out.update(logged=outcome.sum(), diff=diff.sum(), diff2=(diff**2).sum())
    return out


def fit_router_dask(router, X, y, quality=None, cost=None, propensity=None):
    """``RegretRouter.fit`` on Dask input; sets the same fitted attributes.

    Differences from the in-memory fit (docs/scaling.md): the policy must be
    the MLP (``policy=None``); no ``history_`` is kept (it would hold the
    logs), so ``partial_fit`` continues from the new logs alone; the fallback
    check's folds are drawn per partition.
    """
    dask = _dask()
    da = import_optional("dask.array", extra="dask", needed_by="fitting on Dask collections")
    if router.policy is not None:
        raise ValueError(
            "On Dask input the policy is the MLP trained on streamed minibatches; a "
            f"scikit-learn classifier policy needs every row in memory; got policy="
            f"{router.policy!r}. Use policy=None."
        )
    router._check_network()
    X, fb = dask_inputs(router, X, y, quality, cost, propensity)  # the stage scans them
    cw = router.cost_weight
    stage = router._fit_utility(X, fb, cw)
    router.utility_ = stage
    router.classes_ = stage.classes_
    k = len(router.classes_)
    seed = int_seed(router.random_state)
    U = stage.utilities(cw)
    n_folds = router.fallback_cv
    check_folds = _check_folds(X, seed, n_folds)
    fold_da = da.from_array(check_folds, chunks=(X.chunks[0],))

    def summarise(penalty):
        """One pass: constant values, utility spread, pessimism, per-fold spreads."""
        parts = [dask.delayed(_block_summary)(u, f, n_folds, penalty)
                 for u, f in zip(U.to_delayed().ravel(), fold_da.to_delayed().ravel())]
        return tree_sum(dask, parts, _add).compute()

    summary = summarise(np.zeros(k))
    n = summary["n"]
    mean = summary["sum"] / n
    std = np.sqrt(np.maximum(summary["squares"] - n * mean**2, 0.0) / max(n - 1, 1))
    router.constant_values_ = mean
    router.utility_scale_ = _spread(summary["centred"], n, k)
    penalty = np.zeros(k) if router.pessimism == 0 else router.pessimism * std / np.sqrt(n)
    router.pessimism_penalty_ = penalty
    if penalty.any():  # the fold spreads are of the penalised utilities
        summary = summarise(penalty)
    trained = U - penalty
    router.policy_ = _train_stream(router, X, _regret(trained, router.utility_scale_), k,
                                   _every_row, seed)
    router.drift_report_ = None
    router.n_updates_ = 0
    router.history_ = None
    router.fallback_ = None
    router.fallback_report_ = None
    router.reference_value_ = Bunch(value=np.nan, std_error=np.nan, source=None)
    if router.fallback is not None:
        _fallback_check(router, X, fb, stage, trained, check_folds, summary, seed)
    return router


def _check_folds(X, seed, n_folds):
    """The fallback check's fold of every row, drawn per partition (not stratified)."""
    return folds_per_partition(np.zeros(X.shape[0], dtype=np.int64), X.chunks[0], n_folds,
                               seed + 1)


def _fallback_check(router, X, fb, stage, trained, folds, summary, seed):
    """The cross-fitted check of ``RegretRouter._fallback_check``, reduced over partitions."""
    dask = _dask()
    da = import_optional("dask.array", extra="dask", needed_by="fitting on Dask collections")
    k, cw, n_folds = len(router.classes_), router.cost_weight, router.fallback_cv
    chunks = (X.chunks[0],)
    offsets = partition_offsets(X.chunks[0])
    nets = []
    for fold in range(n_folds):
        scale = _spread(summary["fold_spread"].sum() - summary["fold_spread"][fold],
                        summary["n"] - summary["fold_n"][fold], k)
        rows = lambda i, n_rows, fold=fold: folds[offsets[i]:offsets[i] + n_rows] != fold  # noqa: E731
        nets.append(_train_stream(router, X, _regret(trained, scale), k, rows, seed))
    # values decisions unclipped where the propensities were logged
    if stage.logged_propensity_ and stage.clip is not None:
        logged = fb["propensity"].astype(np.float64).clip(np.finfo(np.float64).tiny, 1.0)
        lazy = lazy_utilities(stage, X, fb, logged)
        V = lazy[:, :, 0] - cw * lazy[:, :, 1]
    else:
        V = stage.utilities(cw)
    with_logged = bool(stage.logged_propensity_)
    outcome = fb["quality"].astype(np.float64) - cw * fb["cost"].astype(np.float64)
    nets_d = dask.delayed(nets, pure=True)
    parts = [
        dask.delayed(_block_check)(x, v, o, f, nets_d, with_logged)
        for x, v, o, f in zip(X.to_delayed().ravel(), V.to_delayed().ravel(),
                              outcome.to_delayed().ravel(),
                              da.from_array(folds, chunks=chunks).to_delayed().ravel())
    ]
    s = tree_sum(dask, parts, _add).compute()
    z = NormalDist().inv_cdf(router.fallback_confidence)
    n = s["n"]
    values, lcb1 = _lcb(n, s["V"], s["V2"], 1.0)
    # each model's effective rows, as the overlap diagnostics count them (of the
    # propensities before clipping: where the check values clipped ones, a
    # conservative count); the spread of one logged outcome, as in memory
    support = np.asarray(stage.overlap_.effective_sample_size, dtype=np.float64)
    spread = np.sqrt(max(s["outcome2"] / n - (s["outcome"] / n) ** 2, 0.0))
    values_lcb = single_bounds(values, values - lcb1, support, spread, z)
    best = int(np.argmax(values_lcb))
    gain, gain_lcb = (float(v) for v in _lcb(n, s["gain"][best], s["gain2"][best], z))
    logging = (np.nan, np.nan, np.nan)
    if with_logged:
        logging = (float(s["logged"] / n), *(float(v) for v in _lcb(n, s["diff"], s["diff2"], z)))
    report = fallback_report(router, best, values, values_lcb, gain, gain_lcb,
                             s["routed"] / n, logging, support)
    # the value of what the router does (the fallback model's, or the policy's), with
    # one standard error, as the in-memory check keeps it
    if report.fell_back:
        value, lcb = _lcb(n, s["V"][best], s["V2"][best], 1.0)
    else:
        value, lcb = _lcb(n, s["routed"], s["routed2"], 1.0)
    router._adopt_check(report, value, lcb)


def lazy_method(estimator, method, X, n_columns=None, dtype=np.float64, per_row=None,
                **params):
    """``estimator.method(X, **params)`` over the row partitions of a Dask array, lazily.

    The estimator enters the task graph once (one key), not once per
    partition. ``n_columns=None`` for a 1-D result (one label per row).
    ``params`` are passed whole; ``per_row`` maps parameter names to arrays
    with one value per row (e.g. a cost weight per query), passed partition
    by partition.
    """
    dask = _dask()
    da = import_optional("dask.array", extra="dask", needed_by="routing Dask input")
    X = X.rechunk({1: -1})
    names, row_args = [], []
    for name, value in (per_row or {}).items():
        if np.ndim(value) != 1 or value.shape[0] != X.shape[0]:
            raise ValueError(
                f"{name} must be one value, or one per query ({X.shape[0]} values); got an "
                f"array of shape {np.shape(value)}."
            )
        names.append(name)
        row_args += [da.asarray(value).rechunk((X.chunks[0],)), "i"]

    def call(block, est, *values):
        return getattr(est, method)(block, **params, **dict(zip(names, values)))

    est = dask.delayed(estimator, pure=True)
    if n_columns is None:
        return da.blockwise(call, "i", X, "ij", est, None, *row_args, concatenate=True,
                            dtype=dtype, meta=np.empty((0,), dtype))
    return da.blockwise(call, "ij", X, "ij", est, None, *row_args, concatenate=True,
                        dtype=dtype, adjust_chunks={"j": (n_columns,)},
                        meta=np.empty((0, 0), dtype))


class _Inputs:
    """Stands in for an estimator while checking held-out Dask logs (gets ``n_features_in_``)."""


def _chosen_values(U, decisions, classes):
    codes = encode_labels(decisions, classes, name="the router's decisions",
                          known="the models served in the held-out logs")
    return U[np.arange(len(U)), codes]


def lazy_score(router, X, y, quality=None, cost=None, propensity=None, cost_weights=None):
    """``RouterMixin.score`` on Dask input: the mean DR value of the decisions, lazily.

    The evaluation stage (:func:`~sklearn_causal_routing.metrics.evaluation_utility`'s
    settings: ``random_state=0``, unclipped when propensities are logged) is
    fitted on the held-out Dask logs at once; the decisions and their values
    are a map over the partitions, computed with the returned scalar. With
    ``cost_weights`` (an interval router), the mean of the values at each,
    the router predicting at that cost weight.
    """
    X, fb, _, _, logged = check_dask_logs(_Inputs(), X, y, quality, cost, propensity)
    stage = DoublyRobustUtility(clip=None if np.isfinite(logged).all() else (5, 95),
                                random_state=0).fit(X, fb)
    da = import_optional("dask.array", extra="dask", needed_by="score on Dask input")
    dtype = np.asarray(router.classes_).dtype
    values = []
    for c in [router.cost_weight] if cost_weights is None else cost_weights:
        params = {} if cost_weights is None else {"cost_weight": float(c)}
        decisions = lazy_method(router, "predict", X, dtype=dtype, **params)
        chosen = da.blockwise(_chosen_values, "i", stage.utilities(c), "ij", decisions, "i",
                              stage.classes_, None, concatenate=True, dtype=np.float64)
        values.append(chosen.mean())
    return values[0] if len(values) == 1 else da.stack(values).mean()


def _spread_sums(Q, C):
    """Per partition: the sums behind the utility spread at any cost weight."""
    q = Q - Q.mean(axis=1, keepdims=True)
    c = C - C.mean(axis=1, keepdims=True)
    return {"n": Q.size, "qq": float((q * q).sum()), "qc": float((q * c).sum()),
            "cc": float((c * c).sum())}


def fit_interval_dask(router, X, y, quality=None, cost=None, propensity=None):
    """``IntervalRouter.fit`` on Dask input; sets the same fitted attributes.

    The utility stage is fitted on Dask; the utility spread at every grid
    point comes from one pass of sums (the spread of ``Q - c C`` is a
    quadratic in ``c``); the interval network trains on ``[Q, C]`` streamed
    from the partitions.
    """
    dask = _dask()
    da = import_optional("dask.array", extra="dask", needed_by="fitting on Dask collections")
    router._check_network()
    X, fb = dask_inputs(router, X, y, quality, cost, propensity)
    grid = router._grid()
    router.grid_ = grid
    router.cost_weight_range_ = (float(grid[0]), float(grid[-1]))
    stage = router._fit_utility(X, fb)
    router.utility_ = stage
    router.classes_ = stage.classes_
    Q, C = stage.quality_.rechunk({1: -1}), stage.cost_.rechunk({1: -1})
    parts = [dask.delayed(_spread_sums)(q, c)
             for q, c in zip(Q.to_delayed().ravel(), C.to_delayed().ravel())]
    s = tree_sum(dask, parts, _add).compute()
    router.utility_scales_ = np.array(
        [_spread(max(s["qq"] - 2 * c * s["qc"] + c * c * s["cc"], 0.0), s["n"], 1) for c in grid]
    )
    seed = int_seed(router.random_state)
    router.policy_ = stream_fit(router._build_net(X.shape[1], seed), X, da.hstack([Q, C]),
                                _every_row, seed, router.validation_fraction,
                                router.batch_size, router.n_iter_no_change, router.verbose)
    router.budget_ = None
    return router
