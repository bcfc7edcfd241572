"""Independent fits through joblib, each keeping its libraries' threads within its cores.

Estimators that fit several models (cross-fitting folds x models x quality and
cost) run those fits as joblib tasks, so that ``n_jobs`` has scikit-learn's
meaning and ``with joblib.parallel_config(backend="dask"):`` spreads them over
a cluster unchanged. Inside each task, the libraries with thread pools of
their own are held to the task's share of the cores: OpenMP (scikit-learn's,
torch's) and torch to :func:`thread_budget`, XGBoost through
:func:`xgboost_threads`, and BLAS to one thread. Busy threads then never
outnumber the cores, and spinning OpenMP or BLAS threads of one library do not
steal the cores another library's threads are waiting for.

BLAS runs single-threaded inside a task whatever the budget because OpenBLAS's
results change in the last bits with its thread count (e.g. ``RidgeCV``'s
decomposition): with one thread, a fit gives the same numbers for every
``n_jobs``. XGBoost's histogram trees and torch's small networks give the same
numbers for any thread count, so they get the whole budget.
"""

import contextlib
import contextvars
import functools
import os
import sys
import threading
from numbers import Integral

import joblib
from threadpoolctl import threadpool_limits

from ._compat import Interval

__all__ = [
    "N_JOBS_CONSTRAINT",
    "OPENMP_SPIN_COUNT",
    "available_cores",
    "calm_openmp",
    "limit_threads",
    "limited",
    "thread_budget",
    "xgboost_threads",
]

#: ``_parameter_constraints`` entry of ``n_jobs``: scikit-learn's meaning, 0 refused.
N_JOBS_CONSTRAINT = [
    Interval(Integral, None, -1, closed="right"),
    Interval(Integral, 1, None, closed="left"),
    None,
]

#: Iterations an idle OpenMP thread of libgomp (torch's, XGBoost's) spins before it
#: sleeps, set by :func:`calm_openmp` on import (libgomp's default: 300,000).
OPENMP_SPIN_COUNT = 10_000


def calm_openmp(environ=None):
    """Let idle OpenMP threads sleep soon instead of spinning; return whether it did.

    After each parallel region, libgomp's threads spin (300,000 iterations by
    default) before they sleep. A policy network or XGBoost fit runs
    thousands of short regions, so on a machine whose cores another process
    keeps busy, the spinning threads take the cores the working ones wait
    for: a fit ran 5-18x slower than on an idle machine (docs/scaling.md).
    With ``GOMP_SPINCOUNT=10000`` (:data:`OPENMP_SPIN_COUNT`) the loaded fit
    took about 2x the idle one and the idle fit kept its speed within noise.
    libgomp reads the setting once, when it loads, so the package calls this
    on import, before torch and XGBoost load; it does nothing where
    ``OMP_WAIT_POLICY`` or ``GOMP_SPINCOUNT`` is set already (the user's
    setting wins) or where torch was imported first.

    Parameters
    ----------
    environ : mapping, default=None
        The environment to set; ``None`` means ``os.environ``.

    Returns
    -------
    set : bool
        Whether ``GOMP_SPINCOUNT`` was set.

    Examples
    --------
    >>> from sklearn_causal_routing.utils._parallel import calm_openmp
    >>> env = {}
    >>> calm_openmp(env), env
    (True, {'GOMP_SPINCOUNT': '10000'})
    >>> calm_openmp({"OMP_WAIT_POLICY": "ACTIVE"})
    False
    """
    environ = os.environ if environ is None else environ
    if "OMP_WAIT_POLICY" in environ or "GOMP_SPINCOUNT" in environ:
        return False
    environ["GOMP_SPINCOUNT"] = str(OPENMP_SPIN_COUNT)
    return True


# The budget of the task running in this thread (None outside any task).
_budget = contextvars.ContextVar("sklearn_causal_routing_thread_budget", default=None)
# Tasks that share a process (joblib's threading backend, a Dask worker with
# several threads) share its thread pools: the first to enter sets the limits,
# the last to leave restores them.
_lock = threading.Lock()
_active = {"count": 0, "restore": None}


def available_cores():
    """Cores this process may run on: its CPU affinity and cgroup quota, at least 1.

    Returns
    -------
    n_cores : int
        ``joblib.cpu_count()`` (which honours ``os.sched_getaffinity`` and
        container CPU limits).

    Examples
    --------
    >>> from sklearn_causal_routing.utils._parallel import available_cores
    >>> available_cores() >= 1
    True
    """
    return max(1, int(joblib.cpu_count()))


def thread_budget(n_jobs=None, n_tasks=None):
    """Threads each task may use when ``n_jobs`` tasks run at once.

    The cores available (:func:`available_cores`, or the budget of the
    enclosing task when called inside one) divided by the number of tasks
    that run at once: ``joblib.effective_n_jobs(n_jobs)`` (scikit-learn's
    meaning: ``None`` is 1 unless a ``joblib.parallel_config`` context says
    otherwise, ``-1`` is all cores), at most ``n_tasks``.

    Parameters
    ----------
    n_jobs : int or None, default=None
        Tasks run at once, as for ``joblib.Parallel``.
    n_tasks : int or None, default=None
        How many tasks there are, if known: fewer tasks than workers leave
        each task more threads.

    Returns
    -------
    threads : int
        At least 1.

    Examples
    --------
    >>> from sklearn_causal_routing.utils._parallel import available_cores, thread_budget
    >>> thread_budget(None) == available_cores()
    True
    >>> thread_budget(-1)
    1
    """
    cores = available_cores()
    outer = _budget.get()
    if outer is not None:
        cores = min(cores, outer)
    workers = max(1, int(joblib.effective_n_jobs(n_jobs)))
    if n_tasks is not None:
        workers = min(workers, max(1, int(n_tasks)))
    return max(1, cores // min(workers, cores))


def xgboost_threads(n_jobs=None):
    """The ``n_jobs`` to give an XGBoost model: an explicit count, never all cores blindly.

    Parameters
    ----------
    n_jobs : int or None, default=None
        ``None``: the budget of the task this runs in (see
        :func:`limit_threads`), or every available core outside any task.
        Otherwise as in scikit-learn (``-1``: every available core; ``-2``: all
        but one).

    Returns
    -------
    threads : int
        At least 1.

    Examples
    --------
    >>> from sklearn_causal_routing.utils._parallel import limit_threads, xgboost_threads
    >>> with limit_threads(1):
    ...     xgboost_threads()
    1
    >>> xgboost_threads(3)
    3
    """
    if n_jobs is None:
        outer = _budget.get()
        return available_cores() if outer is None else outer
    if n_jobs < 0:
        return max(1, available_cores() + 1 + n_jobs)
    return int(n_jobs)


def _set_limits(threads, blas):
    """Apply the limits; return the function that restores the previous ones."""
    torch = sys.modules.get("torch")  # limit torch only where it is loaded already
    # torch's thread count is its OpenMP pool's: read it before threadpoolctl
    # changes that pool, restore it before threadpoolctl restores the pool
    previous = torch.get_num_threads() if torch is not None else None
    controller = threadpool_limits(limits={"openmp": threads, "blas": blas})
    if torch is not None and torch.get_num_threads() != threads:
        torch.set_num_threads(threads)

    def restore():
        if torch is not None and torch.get_num_threads() != previous:
            torch.set_num_threads(previous)
        controller.restore_original_limits()

    return restore


@contextlib.contextmanager
def limit_threads(threads, *, blas=1):
    """Hold OpenMP, torch and BLAS thread pools to a task's share of the cores.

    OpenMP pools (through threadpoolctl) and torch (``torch.set_num_threads``,
    when torch is loaded) are limited to ``threads`` and BLAS to ``blas``; the
    previous settings are restored on exit. Inside the block,
    :func:`xgboost_threads` and :func:`thread_budget` count with ``threads``
    cores. Tasks running at once in one process share its pools: the first
    to enter sets the limits and the last to leave restores them.

    Parameters
    ----------
    threads : int
        Threads of the OpenMP pools and of torch, at least 1.
    blas : int or None, default=1
        Threads of BLAS; one by default, so that results do not depend on the
        thread count (see the module's docstring). ``None``: ``threads``.

    Yields
    ------
    threads : int
        The budget in force.

    Examples
    --------
    >>> from threadpoolctl import threadpool_info
    >>> from sklearn_causal_routing.utils._parallel import limit_threads
    >>> with limit_threads(1):
    ...     {pool["num_threads"] for pool in threadpool_info()} <= {1}
    True
    """
    threads = max(1, int(threads))
    blas = threads if blas is None else max(1, int(blas))
    with _lock:
        if _active["count"] == 0:
            _active["restore"] = _set_limits(threads, blas)
        _active["count"] += 1
    token = _budget.set(threads)
    try:
        yield threads
    finally:
        _budget.reset(token)
        with _lock:
            _active["count"] -= 1
            if _active["count"] == 0:
                _active.pop("restore")()
                _active["restore"] = None


def _call_limited(function, threads, *args, **kwargs):
    with limit_threads(threads):
        return function(*args, **kwargs)


def limited(function, threads):
    """``function`` to run as a joblib task under :func:`limit_threads` (``threads``).

    Pickles when ``function`` does (a module-level function), so it travels
    to loky, Dask and Ray workers.

    Parameters
    ----------
    function : callable
        The task.
    threads : int
        Its thread budget, usually ``thread_budget(n_jobs, n_tasks)``.

    Returns
    -------
    task : callable
        Takes ``function``'s arguments.

    Examples
    --------
    >>> from sklearn.utils.parallel import Parallel, delayed
    >>> from sklearn_causal_routing.utils._parallel import limited, xgboost_threads
    >>> Parallel(n_jobs=1)(delayed(limited(xgboost_threads, 1))() for _ in range(2))
    [1, 1]
    """
    return functools.partial(_call_limited, function, threads)
