"""The ``sklearn-causal-routing`` command line on simulated logs.

One test drives the installed console script through subprocesses (fit, then
route on stdin); the others call ``cli.main(argv)`` in-process,
which runs the same code without paying for a Python start-up each time.
Routers are tiny (16 hidden units, a few epochs) so that fits take seconds.
"""

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import joblib
import numpy as np
import pytest

from sklearn_causal_routing import cli
from sklearn_causal_routing.logs import read_logs

pytestmark = pytest.mark.filterwarnings(
    "ignore::sklearn_causal_routing.exceptions.OverlapWarning"  # skewed simulated logs
)

TINY = ["--hidden", "16", "--max-epochs", "5", "-q"]


def _main(*argv):
    return cli.main([str(a) for a in argv])


@pytest.fixture(scope="module")
def sim(tmp_path_factory):
    """Train / test logs of one simulated world and a router fitted in-process."""
    folder = tmp_path_factory.mktemp("cli")
    train, test = folder / "train.jsonl", folder / "test.jsonl"
    common = ["--n-models", "3", "--n-features", "8", "-q"]
    assert _main("simulate", "-o", train, "--n-samples", "600", "--seed", "1", *common) == 0
    assert _main("simulate", "-o", test, "--n-samples", "300", "--seed", "2", *common) == 0
    router = folder / "router.joblib"
    assert _main("fit", train, "-o", router, "--cost-weight", "0.3", *TINY) == 0
    return {"dir": folder, "train": train, "test": test, "router": router}


def _script():
    """The installed console script, else ``python -m sklearn_causal_routing.cli``."""
    exe = Path(sys.executable).with_name("sklearn-causal-routing")
    return [str(exe)] if exe.is_file() else [sys.executable, "-m", "sklearn_causal_routing.cli"]


def test_console_script_fit_and_route(sim, tmp_path):
    """``fit`` and ``route`` (stdin to stdout) as the installed console script.

    Two processes only: every Python start-up imports torch. The other
    subcommands run in-process below (and ``route`` on a text pipeline in a
    fresh process in test_text.py).
    """
    env = dict(os.environ, OMP_NUM_THREADS="1")

    def run(*args, stdin=None):
        proc = subprocess.run(_script() + [str(a) for a in args], input=stdin, cwd=tmp_path,
                              capture_output=True, text=True, timeout=300, env=env,
                              check=False)
        assert proc.returncode == 0, proc.stderr[-3000:]
        return proc

    proc = run("fit", sim["train"], "-o", "router.joblib", "--cost-weight", "0.3",
               "--hidden", "16", "--max-epochs", "3")
    assert "600 rows read, 600 kept" in proc.stderr
    assert "epoch" in proc.stderr and "saved the router to router.joblib" in proc.stderr
    assert proc.stdout == ""  # progress goes to stderr only
    logs = read_logs(sim["test"], prompt=None, features="features")
    vectors = "".join(json.dumps(row) + "\n" for row in logs.features[:5].tolist())
    proc = run("route", "router.joblib", stdin=vectors)
    expected = joblib.load(tmp_path / "router.joblib").predict(logs.features[:5])
    assert proc.stdout.splitlines() == expected.tolist()


def test_help_has_examples(capsys):
    assert _main("--help") == 0
    out = capsys.readouterr().out
    for name in ("simulate", "fit", "route", "evaluate"):
        assert name in out
        assert _main(name, "--help") == 0
        text = capsys.readouterr().out
        assert "examples:" in text and f"sklearn-causal-routing {name}" in text


def test_usage_error_status(capsys):
    assert _main("fit") == 2  # the log file is required
    assert "required" in capsys.readouterr().err


def test_simulate_writes_features_and_propensities(sim):
    logs = read_logs(sim["train"], prompt=None, features="features", propensity="propensity")
    assert len(logs) == 600 and logs.features.shape == (600, 8)
    assert set(logs.t.tolist()) == {"small", "medium", "large"}
    assert ((logs.feedback["propensity"] > 0) & (logs.feedback["propensity"] <= 1)).all()
    first = json.loads(open(sim["train"], encoding="utf-8").readline())
    assert first["task"].startswith("task-")


def test_simulate_from_table_with_prompts(tmp_path):
    pd = pytest.importorskip("pandas")
    from sklearn_causal_routing.datasets import make_routing_table

    table = make_routing_table(50, n_features=2)
    frame = table.to_frame(features=False)
    frame["prompt"] = [f"question {i}" for i in range(50)]
    frame["split"] = np.where(np.arange(50) < 30, "train", "test")
    frame.to_csv(tmp_path / "table.csv", index=False)
    out = tmp_path / "logs.csv"
    assert _main("simulate", "--table", tmp_path / "table.csv", "--split", "train",
                 "--n-samples", "20", "--policy", "uniform", "-o", out, "-q") == 0
    logs = read_logs(out, propensity="propensity")
    assert len(logs) == 20 and logs.prompts[0].startswith("question ")
    np.testing.assert_allclose(logs.feedback["propensity"], 0.25)
    assert isinstance(pd.read_csv(out), pd.DataFrame)


def test_fit_saves_a_feature_pipeline(sim):
    pipe = joblib.load(sim["router"])
    assert [name for name, _ in pipe.steps] == ["router"]
    router = pipe[-1]
    assert router.cost_weight == 0.3 and router.hidden_layer_sizes == (16,)
    assert router.classes_.tolist() == ["large", "medium", "small"]
    assert router.verbose == 0  # the epoch table was progress for the fit only
    test = read_logs(sim["test"], prompt=None, features="features")
    assert np.isfinite(pipe.score(test.features, test.feedback))


def test_route_stdin_lines_and_jsonl(sim, monkeypatch, capsys):
    logs = read_logs(sim["test"], prompt=None, features="features")
    expected = joblib.load(sim["router"]).predict(logs.features).tolist()
    lines = "".join(" ".join(map(str, row)) + "\n" for row in logs.features[:7].tolist())
    monkeypatch.setattr(sys, "stdin", io.StringIO(lines))
    assert _main("route", sim["router"], "-q", "--batch-size", "3") == 0
    assert capsys.readouterr().out.splitlines() == expected[:7]
    # a JSONL file (the test log itself): its features field, every row in order
    assert _main("route", sim["router"], sim["test"], "-q") == 0
    assert capsys.readouterr().out.splitlines() == expected
    # JSON records on stdin need --input-format jsonl; the error says so
    monkeypatch.setattr(sys, "stdin", io.StringIO(open(sim["test"]).readline()))
    assert _main("route", sim["router"], "-q") == 1
    assert "--input-format jsonl" in capsys.readouterr().err


def test_route_regret_router_rejects_other_cost_weight(sim, capsys):
    assert _main("route", sim["router"], sim["test"], "--cost-weight", "0.9", "-q") == 1
    assert "--cost-weight applies to interval routers" in capsys.readouterr().err


def test_evaluate_json(sim, capsys):
    assert _main("evaluate", sim["router"], sim["test"], "--json", "-q") == 0
    res = json.loads(capsys.readouterr().out)
    assert res["n_samples"] == 300 and res["cost_weight"] == 0.3
    assert list(res["estimates"]) == ["dm", "ipw", "snips", "dr"]
    for est in res["estimates"].values():
        assert est["ci_low"] < est["value"] < est["ci_high"]
    assert abs(sum(res["shares"].values()) - 1) < 1e-9
    assert set(res["single_models_dr"]) == {"large", "medium", "small"}
    assert res["logged_policy"]["ci_low"] < res["logged_policy"]["value"]


def test_evaluate_table(sim, capsys):
    assert _main("evaluate", sim["router"], sim["test"], "--methods", "dr", "-q",
                 "--interval", "bootstrap", "--n-bootstrap", "200") == 0
    out = capsys.readouterr().out
    assert "bootstrap CI, 200 resamples" in out
    assert "routing shares:" in out and "always medium (dr)" in out


def test_interval_router(sim, capsys):
    path = sim["dir"] / "interval.joblib"
    assert _main("fit", sim["train"], "-o", path, "--router", "interval",
                 "--cost-weight-range", "0", "1", *TINY) == 0
    assert _main("route", path, sim["test"], "-q") == 1
    assert "pass --cost-weight W" in capsys.readouterr().err
    assert _main("route", path, sim["test"], "--cost-weight", "0.5", "-q") == 0
    routed = capsys.readouterr().out.splitlines()
    logs = read_logs(sim["test"], prompt=None, features="features")
    assert routed == joblib.load(path).predict(logs.features, cost_weight=0.5).tolist()
    assert _main("evaluate", path, sim["test"], "--cost-weight", "0.5", "--json", "-q") == 0
    assert json.loads(capsys.readouterr().out)["cost_weight"] == 0.5
    assert _main("fit", sim["train"], "-o", path, "--cost-weight-range", "0", "1", "-q") == 1
    assert "--cost-weight-range goes with --router interval" in capsys.readouterr().err


def test_fit_malformed_rows(sim, tmp_path, capsys):
    bad = tmp_path / "bad.jsonl"
    lines = open(sim["train"], encoding="utf-8").read().splitlines()[:200]
    lines[9] = lines[9].replace('"quality": ', '"quality": "n/a", "x": ')
    lines[19] = "{truncated"
    bad.write_text("\n".join(lines) + "\n", encoding="utf-8")
    out = tmp_path / "r.joblib"
    assert _main("fit", bad, "-o", out, *TINY) == 1
    err = capsys.readouterr().err
    assert "line 10: field 'quality' must be a number" in err and "--on-error" not in err
    assert "on_error='skip'" in err
    assert _main("fit", bad, "-o", out, "--on-error", "skip", "--hidden", "16",
                 "--max-epochs", "2") == 0
    err = capsys.readouterr().err
    assert "200 rows read, 198 kept, 2 malformed rows skipped" in err
    assert "line 20: invalid JSON" in err
    assert out.is_file()


def test_fit_errors(sim, tmp_path, capsys):
    assert _main("fit", tmp_path / "absent.jsonl", "-o", tmp_path / "r.joblib", "-q") == 1
    assert "No log file" in capsys.readouterr().err
    assert _main("fit", sim["train"], "-o", tmp_path / "no" / "dir" / "r.joblib", "-q") == 1
    assert "does not exist" in capsys.readouterr().err
    assert _main("fit", sim["train"], "-o", tmp_path / "r.joblib", "--model-field",
                 "served_by", "-q") == 1
    assert "missing field 'served_by'" in capsys.readouterr().err
    assert _main("route", tmp_path / "absent.joblib", "-q") == 1
    assert "create one with `sklearn-causal-routing fit`" in capsys.readouterr().err


def test_subcommand_registry_is_extensible(capsys, monkeypatch):
    """A new subcommand is one function plus its registration."""
    monkeypatch.setattr(cli, "SUBCOMMANDS", dict(cli.SUBCOMMANDS))

    @cli.subcommand("twice", help="print a number twice", epilog="  twice 3",
                    arguments=lambda p: p.add_argument("n", type=int))
    def twice(args):
        """Print N, twice."""
        print(args.n * 2)
        return 0

    assert _main("twice", "21") == 0
    assert capsys.readouterr().out == "42\n"
    assert _main("twice", "--help") == 0
    assert "Print N, twice." in capsys.readouterr().out


def test_fit_reports_the_fallback_check_and_can_turn_it_off(sim, tmp_path, capsys):
    out = tmp_path / "r.joblib"
    assert _main("fit", sim["train"], "-o", out, "--hidden", "8", "--max-epochs", "2",
                 "--cost-weight", "0.3") == 0
    err = capsys.readouterr().err
    router = joblib.load(out)[-1]
    line = next(s for s in err.splitlines() if "fallback check:" in s)
    verdict = ("routing everything to" if router.fallback_ is not None
               else "routing with the trained policy")
    assert verdict in line and str(router.fallback_report_.best_single) in line
    assert _main("fit", sim["train"], "-o", out, "--no-fallback", *TINY) == 0
    router = joblib.load(out)[-1]
    assert router.fallback is None and router.fallback_ is None
    assert _main("fit", sim["train"], "-o", out, "--router", "interval", "--no-fallback",
                 "-q") == 1
    assert "--no-fallback goes with --router regret" in capsys.readouterr().err
