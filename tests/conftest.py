"""Shared, seeded test data: small simulated routing worlds and logs drawn from them.

Every fixture is session-scoped and deterministic (fixed seeds), so tests in any
module can reuse the same worlds without paying for them twice. The arrays are
shared between tests: treat them as read-only (copy before modifying).

Fixtures
--------
world, table
    The default :class:`RoutingWorld` (4 models, 0/1 grades) and a 2,000-query
    full-feedback table from it: the known truth.
logs
    Task-confounded logs of ``table`` (``skew=5``: the naive per-model mean
    quality is biased by 0.06 to 0.24), propensities recorded.
logs_unlogged
    The same draws without recorded propensities (``feedback["propensity"]``
    is NaN: they must be estimated).
uniform_logs
    Uniformly randomised logs of ``table`` (an A/B test; no bias, propensity
    1/4 everywhere).
gaussian_world, gaussian_table, gaussian_logs, gaussian_logs_unlogged
    The same world's structure with Gaussian outcome noise (sd 0.1) instead
    of 0/1 grades: same confounding, much less outcome noise, so statistical
    tests can use margins of a few standard errors that a biased estimator
    clearly misses.
sorted_columns
    ``sorted_columns(table)``: the column order that aligns a table's truth
    (models cheapest first) with the library's ``classes_`` (sorted labels).
"""

import numpy as np
import pytest

from sklearn_causal_routing.datasets import RoutingWorld

N_ROWS = 2000
SEED = 0


def _sorted_columns(table):
    """Column order of the library (sorted labels) in terms of the table's columns."""
    return np.argsort(table.models)


@pytest.fixture(scope="session")
def world():
    return RoutingWorld(random_state=SEED)


@pytest.fixture(scope="session")
def table(world):
    return world.sample(N_ROWS, random_state=SEED)


@pytest.fixture(scope="session")
def logs(table):
    return table.log("confounded", random_state=SEED)


@pytest.fixture(scope="session")
def logs_unlogged(table):
    return table.log("confounded", random_state=SEED, record_propensity=False)


@pytest.fixture(scope="session")
def uniform_logs(table):
    return table.log("uniform", random_state=SEED)


@pytest.fixture(scope="session")
def gaussian_world():
    return RoutingWorld(outcome="gaussian", noise=0.1, random_state=SEED)


@pytest.fixture(scope="session")
def gaussian_table(gaussian_world):
    return gaussian_world.sample(N_ROWS, random_state=SEED)


@pytest.fixture(scope="session")
def gaussian_logs(gaussian_table):
    return gaussian_table.log("confounded", random_state=SEED)


@pytest.fixture(scope="session")
def gaussian_logs_unlogged(gaussian_table):
    return gaussian_table.log("confounded", random_state=SEED, record_propensity=False)


@pytest.fixture(scope="session")
def sorted_columns():
    """``sorted_columns(table)``: indices putting the table's models in sorted order.

    The library's ``classes_`` are the sorted model labels, while a
    ``RoutingTable`` keeps its models cheapest first; use this to align truth
    with estimates: ``truth[:, sorted_columns(table)]``.
    """
    return _sorted_columns
