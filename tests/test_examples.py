"""Smoke tests of the example scripts in ``examples/``.

Each script runs end to end as a subprocess, as a user would run it, in its
``--quick`` mode (small simulated world, tiny network; no shared data needed),
from a temporary working directory, writing its figure there. The examples
need matplotlib (the ``plot`` extra); without it these tests are skipped.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("matplotlib")

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _run(script, args, cwd, **env):
    return subprocess.run(
        [sys.executable, str(EXAMPLES / script), *args],
        cwd=cwd,                               # the scripts must not depend on the cwd
        check=False,                           # the tests read the exit code
        env=dict(os.environ, MPLBACKEND="Agg", **env),
        capture_output=True,
        text=True,
        timeout=120,
    )


def _check(proc, script, png):
    assert proc.returncode == 0, (
        f"examples/{script} exited with {proc.returncode}\n"
        f"--- stdout ---\n{proc.stdout[-3000:]}\n--- stderr ---\n{proc.stderr[-3000:]}"
    )
    assert png.is_file() and png.stat().st_size > 0, f"{script} wrote no figure to {png}"
    assert png.read_bytes()[:8] == PNG_MAGIC, f"{png} is not a PNG file"
    assert f"Saved {png}" in proc.stdout


def test_route_from_biased_logs(tmp_path):
    png = tmp_path / "figure.png"
    proc = _run("plot_route_from_biased_logs.py", ["--quick", "--out", str(png)], tmp_path)
    _check(proc, "plot_route_from_biased_logs.py", png)
    assert "decoupled, full feedback" in proc.stdout and "np.str_" not in proc.stdout


def test_interval_pareto(tmp_path):
    """``--quick`` runs on a simulated world; the figure goes to $SCR_EXAMPLES_OUTPUT."""
    proc = _run("plot_interval_pareto.py", ["--quick"], tmp_path,
                SCR_EXAMPLES_OUTPUT=str(tmp_path / "figs"))
    _check(proc, "plot_interval_pareto.py", tmp_path / "figs" / "interval_pareto.png")
    assert "chosen cost weight" in proc.stdout


def test_interval_pareto_skips_without_data(tmp_path):
    """Without the RouterBench files the real-data run says why and exits 0."""
    png = tmp_path / "figure.png"
    proc = _run("plot_interval_pareto.py",
                ["--data-dir", str(tmp_path / "absent"), "--out", str(png)], tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.startswith("skipped:"), proc.stdout[-1000:]
    assert not png.exists()


def test_end_to_end_cli_skips_without_data(tmp_path):
    """The command-line example needs the RouterBench prompts; without them it says so.

    Its ``--quick`` run embeds a few hundred real prompts (minutes on a CPU) and is
    left to the user; the commands it calls are tested in tests/test_cli.py.
    """
    proc = _run("end_to_end_cli.py", ["--data-dir", str(tmp_path / "absent")], tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.startswith("skipped:"), proc.stdout[-1000:]
