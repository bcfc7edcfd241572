"""Routing data: simulated worlds, full-feedback tables, logging rules, loaders.

A :class:`RoutingTable` holds the outcome of every model on every query (the
truth for scoring); :meth:`RoutingTable.log` draws biased observational logs
from it with one of the logging rules named in :data:`LOGGING_POLICIES`;
:class:`RoutingWorld` simulates such tables; the loaders read real ones
(RouterBench column format); :class:`SemiSyntheticWorld` is calibrated on a
real table and samples tables of any size with a known truth.
"""

from ._judge import JudgedLogs, add_judge_grades
from ._loaders import load_routerbench_subset, load_routing_table
from ._logging_rules import LOGGING_POLICIES, LoggedData
from ._semisynthetic import SemiSyntheticWorld
from ._table import RoutingTable
from ._world import RoutingWorld, make_routing_table

__all__ = [
    "LOGGING_POLICIES",
    "JudgedLogs",
    "LoggedData",
    "RoutingTable",
    "RoutingWorld",
    "SemiSyntheticWorld",
    "add_judge_grades",
    "load_routerbench_subset",
    "load_routing_table",
    "make_routing_table",
]
