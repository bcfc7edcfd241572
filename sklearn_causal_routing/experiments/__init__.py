"""Experiments on full-feedback tables: benchmarks against baselines and peers, learning curves.

Simulate biased logs from a full-feedback table (every query answered by every
model), train every method from the logs alone, and score its decisions against
the truth. Run it from Python (:func:`run_benchmark`, :func:`write_report`) or
from the shell::

    sklearn-causal-routing benchmark TABLE.parquet --embeddings X.npy --out report.md

The peers (EconML, Open Bandit Pipeline) are optional:
``pip install "sklearn-causal-routing[bench]"``.
"""

from ._learning_curve import LearningCurveResult, routing_learning_curve
from ._peers import EconMLPolicyRouter, OBPIPWRouter
from ._report import plot_benchmark_pareto, write_report
from ._runner import (
    METHODS,
    REFERENCES,
    SCENARIOS,
    BenchmarkResult,
    Scenario,
    cheapest_breakpoint,
    cost_weight_grid,
    run_benchmark,
)

__all__ = [
    "METHODS",
    "REFERENCES",
    "SCENARIOS",
    "BenchmarkResult",
    "EconMLPolicyRouter",
    "LearningCurveResult",
    "OBPIPWRouter",
    "Scenario",
    "cheapest_breakpoint",
    "cost_weight_grid",
    "plot_benchmark_pareto",
    "routing_learning_curve",
    "run_benchmark",
    "write_report",
]
