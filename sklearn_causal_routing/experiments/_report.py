"""Markdown report and Pareto figure of a :class:`BenchmarkResult`."""

import os
from pathlib import Path

import numpy as np

from ..metrics import area_under_pareto
from ..utils._markdown import markdown_table
from ..utils._optional import import_optional

__all__ = ["plot_benchmark_pareto", "write_report"]

_REFERENCE_ORDER = ("oracle", "full feedback", "best single (hindsight)", "logging policy")


def _order(result, scenario):
    methods = result.methods(scenario)
    refs = [m for m in _REFERENCE_ORDER if m in methods]
    return refs + [m for m in methods if m not in refs]


def _pm(mean, std, nd=3):
    return f"{mean:.{nd}f}" + ("" if not np.isfinite(std) else f" ± {std:.{nd}f}")


def _mean_curve(result, scenario, method):
    q = np.nanmean(result.values(scenario, method, "quality"), axis=0)
    c = np.nanmean(result.values(scenario, method, "cost"), axis=0)
    return c, q


def _aiq(costs, qualities, cost_range):
    return float(area_under_pareto(costs, qualities, cost_range=cost_range))


def _targets(result, scenario):
    """The benchmark's three targets, checked on ``scenario``; list of lines."""
    methods = result.methods(scenario)
    if "RM-Softmax" not in methods:
        return []
    ours = result.summary(scenario, "RM-Softmax")[0]
    lines = []
    family = {r["method"]: r["family"] for r in result.records if r["scenario"] == scenario}
    # every built-in method; the user's own ("custom") variants are not the target's
    others = [m for m in methods if m not in _REFERENCE_ORDER and m != "RM-Softmax"
              and family.get(m) != "custom"]
    if others:
        beaten = [(m, result.summary(scenario, m)[0]) for m in others]
        worse = [f"{m} ({v:.3f})" for m, v in beaten if v > ours]
        lines.append(
            f"- RM-Softmax ({ours:.3f}) ≥ every baseline and peer: "
            + ("**met**" if not worse else "**not met**, higher: " + ", ".join(worse))
        )
    if "full feedback" in methods and "decoupled" in methods:
        full = result.summary(scenario, "full feedback")[0]
        dec = result.summary(scenario, "decoupled")[0]
        gap_ours, gap_dec = full - ours, full - dec
        ok = gap_ours <= gap_dec / 3
        lines.append(
            f"- gap to full feedback ≤ 1/3 of the decoupled gap: RM-Softmax gap "
            f"{gap_ours:.4f}, decoupled gap {gap_dec:.4f} (1/3 = {gap_dec / 3:.4f}): "
            + ("**met**" if ok else "**not met**")
        )
    per_seed = {}
    for r in result.records:
        if r["scenario"] == scenario and r["method"] == "RM-Softmax" and np.isfinite(r["ci_low"]):
            per_seed.setdefault(r["seed"], []).append(r["ci_low"] <= r["value"] <= r["ci_high"])
    if per_seed:
        covered = [c for v in per_seed.values() for c in v]
        share = float(np.mean(covered))
        lines.append(
            f"- `router.score`'s {100 * result.settings['confidence_level']:.0f}% DR interval "
            f"on held-out test logs covers the true test utility in {100 * share:.0f}% of "
            f"(seed, cost weight) cases ({sum(covered)}/{len(covered)}): "
            + ("**met** (≥ 90%)" if share >= 0.9 else "**not met** (< 90%)")
        )
    return lines


def write_report(result, path, *, title="Routing benchmark", png=True, extra_lines=()):
    """Write a markdown report (and a Pareto PNG beside it) for a benchmark run.

    Parameters
    ----------
    result : BenchmarkResult
        From :func:`run_benchmark`.
    path : str or path-like
        The markdown file to write; the figure goes to the same name with a
        ``.png`` suffix.
    title : str, default="Routing benchmark"
        First heading.
    png : bool, default=True
        Also draw the Pareto figure of the first scenario (needs matplotlib;
        skipped with a line in the report when it is missing).
    extra_lines : sequence of str, default=()
        Lines added under the title (e.g. the data source and command).

    Returns
    -------
    text : str
        The markdown written.

    Examples
    --------
    >>> import tempfile, os
    >>> from sklearn_causal_routing.experiments import run_benchmark, write_report
    >>> from sklearn_causal_routing.datasets import make_routing_table
    >>> res = run_benchmark(make_routing_table(600, random_state=0),
    ...                     methods=["decoupled"], seeds=[0], n_cost_weights=2,
    ...                     score_methods=(), progress=None)
    >>> with tempfile.TemporaryDirectory() as d:
    ...     text = write_report(res, os.path.join(d, "report.md"), png=False)
    >>> text.splitlines()[0]
    '# Routing benchmark'
    """
    path = Path(path)
    s = result.settings
    out = [f"# {title}", ""]
    out += list(extra_lines)
    out += [
        f"- table: {s['n_samples']} queries, {s['n_models']} models, "
        f"{s['n_features']} features",
        f"- seeds: {s['seeds']} (mean ± sample std over seeds)",
        "- cost weights: " + ", ".join(f"{c:.4g}" for c in s["cost_weights"]),
        "- values are TRUE mean test utilities (quality - cost_weight * cost) of each "
        "method's decisions on the held-out queries, from the full table; every "
        "non-reference method was trained on the simulated logs only",
    ]
    if result.skipped:
        out.append("- skipped: " + "; ".join(f"{m}: {r}" for m, r in result.skipped.items()))
    png_path = path.with_suffix(".png")
    os.makedirs(path.parent, exist_ok=True)
    if png and s["scenarios"]:
        try:
            plot_benchmark_pareto(result, s["scenarios"][0], png_path)
            out.append(f"- Pareto figure ({s['scenarios'][0]}): ![pareto]({png_path.name})")
        except ImportError as exc:
            out.append(f"- Pareto figure not drawn: {exc}")

    for scenario in s["scenarios"]:
        out += ["", f"## Scenario `{scenario}`: {s['scenario_descriptions'][scenario]}", ""]
        target_lines = _targets(result, scenario)
        if target_lines:
            out += ["Targets:", ""] + target_lines + [""]
        rows = []
        oracle = result.summary(scenario, "oracle")[0] if "oracle" in result.methods(scenario) else np.nan
        for m in _order(result, scenario):
            mean, std, _ = result.summary(scenario, m)
            fit = result.values(scenario, m, "fit_time")
            fit_per_seed = np.nansum(fit, axis=1)
            c, q = _mean_curve(result, scenario, m)
            rows.append([
                m, _pm(mean, std), f"{oracle - mean:.3f}",
                f"{_aiq(c, q, s['cost_range']):.3f}" if m != "logging policy" else "",
                f"{np.mean(fit_per_seed):.1f}" if np.any(fit_per_seed > 0) else "",
            ])
        out += [
            "Mean true test utility over the cost-weight grid; regret against the "
            "per-query oracle; AIQ = RouterBench's area under the non-decreasing concave "
            "hull of the (mean cost, mean quality) points over the grid, averaged over "
            f"the common cost range {s['cost_range'][0]:.4g} to {s['cost_range'][1]:.4g} "
            "(cheapest to dearest model; 0 below a method's cheapest point, see "
            "`metrics.area_under_pareto`); fit time = seconds per seed for the whole "
            "grid.",
            "",
            markdown_table(["method", "utility", "regret", "AIQ", "fit s/seed"], rows),
            "",
            "Per cost weight (mean over seeds):",
            "",
        ]
        weights = s["cost_weights"]
        rows = []
        for m in _order(result, scenario):
            per_cw = np.nanmean(result.values(scenario, m), axis=0)
            rows.append([m] + [f"{v:.3f}" for v in per_cw])
        out.append(markdown_table(["method"] + [f"cw={w:.4g}" for w in weights], rows))
    text = "\n".join(out) + "\n"
    path.write_text(text)
    return text


def plot_benchmark_pareto(result, scenario, path=None, *, ax=None):
    """Mean quality against mean cost over the cost-weight grid, per method.

    Parameters
    ----------
    result : BenchmarkResult
    scenario : str
        Which scenario's runs to draw.
    path : str or path-like, default=None
        Save the figure there (PNG); ``None`` only draws.
    ax : matplotlib Axes, default=None

    Returns
    -------
    ax : matplotlib Axes
    """
    matplotlib = import_optional("matplotlib", extra="plot", needed_by="the Pareto figure")
    if ax is None and path is not None:
        matplotlib.use("Agg", force=False)
    plt = import_optional("matplotlib.pyplot", extra="plot", needed_by="the Pareto figure")
    own = ax is None
    if own:
        _, ax = plt.subplots(figsize=(8, 5.5))
    # tab20 has 20 distinct colours: dark shades first, then the light ones
    palette = plt.get_cmap("tab20").colors
    palette = palette[0::2] + palette[1::2]
    methods = [m for m in _order(result, scenario) if m != "logging policy"]
    for i, m in enumerate(methods):
        c, q = _mean_curve(result, scenario, m)
        if m in ("oracle", "full feedback"):
            ax.plot(c, q, "k:" if m == "oracle" else "k--", label=m, linewidth=1.2)
            continue
        ax.plot(c, q, "-o", color=palette[i % len(palette)], label=m,
                linewidth=2.8 if m == "RM-Softmax" else 1.2, markersize=3,
                zorder=3 if m == "RM-Softmax" else 2)
    ax.set_xlabel("mean cost per query")
    ax.set_ylabel("mean quality")
    ax.set_title(f"True test quality vs cost over the cost-weight grid ({scenario})")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="lower right")
    if path is not None:
        ax.figure.tight_layout()
        ax.figure.savefig(path, dpi=120)
        if own:
            plt.close(ax.figure)
    return ax
