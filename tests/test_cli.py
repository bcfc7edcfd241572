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

from sklearn_causal_routing import cli, make_feedback
from sklearn_causal_routing.cli._fit import default_cost_weight_range
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
    """The default cost-weight range comes from the logs and is printed (audit #5)."""
    path = sim["dir"] / "interval.joblib"
    assert _main("fit", sim["train"], "-o", path, "--router", "interval",
                 *TINY[:-1]) == 0
    err = capsys.readouterr().err
    router = joblib.load(path)[-1]
    train = read_logs(sim["train"], prompt=None, features="features",
                      propensity="propensity")
    expected, _ = default_cost_weight_range(train.feedback)
    assert router.cost_weight_range == expected and expected[1] > 0
    line = next(s for s in err.splitlines() if "cost-weight range:" in s)
    assert f"[0, {expected[1]:.4g}]" in line and "--cost-weight-range LOW HIGH" in line
    weight = expected[1] / 2
    assert _main("route", path, sim["test"], "-q") == 1
    assert "pass --cost-weight W" in capsys.readouterr().err
    assert _main("route", path, sim["test"], "--cost-weight", weight, "-q") == 0
    routed = capsys.readouterr().out.splitlines()
    logs = read_logs(sim["test"], prompt=None, features="features")
    assert routed == joblib.load(path).predict(logs.features, cost_weight=weight).tolist()
    assert _main("evaluate", path, sim["test"], "--cost-weight", weight, "--json", "-q") == 0
    assert json.loads(capsys.readouterr().out)["cost_weight"] == weight
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
    assert "line 10: field 'quality' must be a number" in err
    # the hint names the option as typed on the command line, not the Python keyword
    assert "pass --on-error skip" in err and "on_error=" not in err
    assert len(err.strip().splitlines()) == 1
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


def test_subcommand_registry_is_extensible(capsys):
    """A new subcommand is one function plus its registration."""

    @cli.subcommand("twice", help="print a number twice", epilog="  twice 3",
                    arguments=lambda p: p.add_argument("n", type=int))
    def twice(args):
        """Print N, twice."""
        print(args.n * 2)
        return 0

    try:
        assert _main("twice", "21") == 0
        assert capsys.readouterr().out == "42\n"
        assert _main("twice", "--help") == 0
        assert "Print N, twice." in capsys.readouterr().out
    finally:
        del cli.SUBCOMMANDS["twice"]
    assert _main("twice", "21") == 2


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


# --------------------------------------------------------------------------- #
# audit fixes (issue 12)
# --------------------------------------------------------------------------- #
def _rewrite(src, dst, edit):
    """Copy a JSONL log, passing each record (index, dict) through ``edit``."""
    rows = [json.loads(line) for line in Path(src).read_text(encoding="utf-8").splitlines()]
    for i, row in enumerate(rows):
        edit(i, row)
    Path(dst).write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return dst


@pytest.mark.parametrize("missing", [0, 137], ids=["first-row", "later-row"])
def test_propensity_in_some_rows_only_is_an_error_naming_no_propensity(sim, tmp_path,
                                                                       capsys, missing):
    """Audit #1: the decision is per file, whichever row lacks the propensity.

    Before, a first row without one dropped every other row's recorded
    propensity silently, and a later row without one stopped the fit.
    """
    path = _rewrite(sim["train"], tmp_path / "logs.jsonl",
                    lambda i, row: row.pop("propensity") if i == missing else None)
    out = tmp_path / "r.joblib"
    assert _main("fit", path, "-o", out, *TINY) == 1
    err = capsys.readouterr().err
    assert "1 of 600 rows have no 'propensity' value (the other 599 have one)" in err
    assert "--no-propensity" in err and len(err.strip().splitlines()) == 1
    assert not out.exists()
    # estimating every row's propensity is one flag away, and the output says so
    assert _main("evaluate", sim["router"], path, "--no-propensity", "--json",
                 "--methods", "dr", "--no-baselines") == 0
    assert "propensities: estimated by cross-fitting (--no-propensity)" in (
        capsys.readouterr().err)


def test_propensity_rule_is_said_in_one_line(sim, tmp_path, capsys):
    """All rows: used (one line says so); no row: estimated (one line says so)."""
    args = ["--json", "--methods", "dr", "--no-baselines"]
    assert _main("evaluate", sim["router"], sim["test"], *args) == 0
    err = capsys.readouterr().err
    assert "propensities: logged in all 300 rows (field 'propensity')" in err
    none = _rewrite(sim["test"], tmp_path / "none.jsonl", lambda i, row: row.pop("propensity"))
    assert _main("evaluate", sim["router"], none, *args) == 0
    err = capsys.readouterr().err
    assert "propensities: no row has a 'propensity' field: estimated by cross-fitting" in err
    # the recorded propensities are what the evaluation uses: IPW differs without them
    assert _main("evaluate", sim["router"], sim["test"], "--json", "--methods", "ipw",
                 "--no-baselines", "-q") == 0
    logged = json.loads(capsys.readouterr().out)["estimates"]["ipw"]["value"]
    assert _main("evaluate", sim["router"], none, "--json", "--methods", "ipw",
                 "--no-baselines", "-q") == 0
    estimated = json.loads(capsys.readouterr().out)["estimates"]["ipw"]["value"]
    assert logged != estimated


def test_evaluate_names_models_the_router_never_saw(sim, tmp_path, capsys):
    """Audit #2: no value for "always <unseen model>", a clear note instead."""
    path = _rewrite(sim["test"], tmp_path / "test.jsonl",
                    lambda i, row: row.update(model="newcomer") if i < 4 else None)
    assert _main("evaluate", sim["router"], path, "--methods", "dr") == 0
    captured = capsys.readouterr()
    out, err = captured.out, captured.err
    assert "always newcomer" not in out
    note = ("1 model of the held-out logs the router never saw: 'newcomer' (4 rows). The "
            "router routes only to ['large', 'medium', 'small'], so no value is given")
    assert note in out and note in err
    assert "always medium (dr)" in out
    # no warning about fitting an outcome model on the unseen model's few rows
    assert not [line for line in err.splitlines() if "warning" in line and "newcomer" in line]
    assert "site-packages" not in err  # warnings are one line each, without source lines
    assert _main("evaluate", sim["router"], path, "--methods", "dr", "--json", "-q") == 0
    res = json.loads(capsys.readouterr().out)
    assert res["unseen_models"] == {"newcomer": 4}
    assert set(res["single_models_dr"]) == {"large", "medium", "small"}


def test_bad_router_files_give_one_line_errors(tmp_path, capsys):
    """Audit #4: unreadable router files end in one line, never a traceback."""
    contents = {
        "garbage": os.urandom(256),
        "text": b"hello world, not a pickle\n",
        "memo": b"\x80\x04h\x44.",  # a pickle reading a memo entry it never wrote
        "empty": b"",
    }
    for name, content in contents.items():
        path = tmp_path / f"{name}.joblib"
        path.write_bytes(content)
        assert _main("route", path, "-q") == 1, name
        err = capsys.readouterr().err
        assert len(err.strip().splitlines()) == 1, err
        assert f"{path} is not a router file written by `sklearn-causal-routing fit`" in err
        assert "Traceback" not in err
    joblib.dump(123, tmp_path / "int.joblib")
    assert _main("evaluate", tmp_path / "int.joblib", tmp_path / "x.jsonl", "-q") == 1
    assert "holds a int, not a fitted router" in capsys.readouterr().err


def test_truncated_json_row_error_points_at_its_end(sim, tmp_path, capsys):
    """Audit #4: a record cut short is reported at the end of its line, not column 1."""
    lines = Path(sim["train"]).read_text(encoding="utf-8").splitlines()[:50]
    cut = lines[4][:60]
    lines[4] = cut
    path = tmp_path / "cut.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert _main("fit", path, "-o", tmp_path / "r.joblib", "-q") == 1
    err = capsys.readouterr().err
    assert "line 5: invalid JSON (" in err and f"at column {len(cut) + 1})" in err


def test_default_cost_weight_range_follows_the_cost_units():
    """Audit #5: USD costs give a range in the thousands, not (0, 1)."""
    # small: quality 0.6 at $0.0002; large: quality 0.9 at $0.0032 per call
    fb = make_feedback(["small", "large"] * 50, [0.6, 0.9] * 50, cost=[2e-4, 3.2e-3] * 50)
    (low, high), reason = default_cost_weight_range(fb)
    assert low == 0 and high == pytest.approx(0.3 / 3e-3)
    assert "'small' becomes the best single model" in reason
    # the same logs priced in cents: the range scales by 1/100
    fb_cents = make_feedback(fb["action"], fb["quality"], cost=100 * fb["cost"])
    assert default_cost_weight_range(fb_cents)[0][1] == pytest.approx(high / 100)
    # logged propensities reweight the per-model means (undoing the logging rule)
    fb_prop = make_feedback(["small", "small", "large", "large"], [0.0, 1.0, 0.9, 0.9],
                            cost=[2e-4] * 2 + [3.2e-3] * 2, propensity=[0.9, 0.1, 0.5, 0.5])
    # Hajek mean of small: (0 / 0.9 + 1 / 0.1) / (1 / 0.9 + 1 / 0.1) = 0.9, as good as large
    (_, high), reason = default_cost_weight_range(fb_prop)
    assert high > 0 and "is also the best" in reason and "1 / propensity" in reason
    # costs that do not differ: the cost weight changes nothing
    assert default_cost_weight_range(make_feedback(["a", "b"], [0.0, 1.0]))[0] == (0.0, 1.0)


def test_fit_help_says_the_cost_weight_units(capsys):
    assert _main("fit", "--help") == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "utility = quality - cost_weight * cost (default: 0.0)" in text  # 0 is shown
    assert "quality units per unit of cost, e.g. per USD" in text
    assert "where the cheapest model becomes the best single model" in text


def test_simulate_offers_every_logging_rule(tmp_path, capsys):
    """The --policy choices are datasets.LOGGING_POLICIES, and each one runs."""
    from sklearn_causal_routing.datasets import LOGGING_POLICIES

    assert _main("simulate", "--help") == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "{" + ",".join(LOGGING_POLICIES) + "}" in text
    for policy in LOGGING_POLICIES:
        out = tmp_path / f"{policy}.jsonl"
        assert _main("simulate", "-o", out, "--n-samples", "40", "--policy", policy,
                     "--n-features", "2", "-q") == 0, capsys.readouterr().err
        assert len(read_logs(out, prompt=None, features="features")) == 40
    # the rules' own parameters: the cheapest model takes (at least) its share
    out = tmp_path / "cheap.jsonl"
    assert _main("simulate", "-o", out, "--n-samples", "400", "--policy", "cheap-heavy",
                 "--cheap-share", "0.9", "--n-features", "2", "-q") == 0
    served = read_logs(out, prompt=None, features="features").t.tolist()
    assert served.count("tiny") > 0.8 * len(served)
    assert _main("simulate", "-o", out, "--policy", "uniform", "--strong-cap", "0.1") == 1
    assert "--strong-cap goes with --policy strong-rare" in capsys.readouterr().err
    for command in ("benchmark", "learning-curve"):  # the experiments offer them all too
        assert _main(command, "--help") == 0
        text = " ".join(capsys.readouterr().out.split())
        assert "{" + ",".join(LOGGING_POLICIES) + "}" in text


def test_experiments_do_not_import_the_command_line():
    """The command line imports experiments, never the reverse (imports inside
    functions included); ``experiments/__main__`` is an entry point nothing imports."""
    import ast

    import sklearn_causal_routing.experiments as experiments

    folder = Path(experiments.__file__).parent
    for path in sorted(folder.glob("*.py")):
        if path.name == "__main__.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom):
                names = [node.module or ""] + [a.name for a in node.names]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            else:
                continue
            assert not any(n == "cli" or n.split(".")[-1] == "cli" or ".cli." in n
                           or n.startswith("cli.") for n in names), (path.name, names)


def test_module_entry_points(tmp_path):
    """``python -m`` of the command line and of the experiments package still run."""
    env = dict(os.environ, OMP_NUM_THREADS="1")
    for module, expected in (("sklearn_causal_routing.cli", "workflow:"),
                             ("sklearn_causal_routing.experiments", "scenarios:")):
        proc = subprocess.run([sys.executable, "-m", module, "--help"], cwd=tmp_path,
                              capture_output=True, text=True, timeout=300, env=env,
                              check=False)
        assert proc.returncode == 0, proc.stderr[-2000:]
        assert expected in proc.stdout


def test_benchmark_report_shows_the_command_as_typed(tmp_path, capsys):
    """The report's command line is the arguments given, not the process's sys.argv."""
    from sklearn_causal_routing.datasets import make_routing_table

    table = make_routing_table(300, random_state=0)
    np.save(tmp_path / "X.npy", table.X)
    table.to_frame(features=False).to_csv(tmp_path / "t.csv", index=False)
    argv = [str(tmp_path / "t.csv"), "--embeddings", str(tmp_path / "X.npy"), "--methods",
            "single model (DR)", "--seeds", "1", "--n-cost-weights", "2", "-q",
            "--out", str(tmp_path / "r.md")]
    assert _main("benchmark", *argv) == 0
    capsys.readouterr()
    report = (tmp_path / "r.md").read_text(encoding="utf-8")
    quoted = " ".join(f"'{a}'" if " " in a else a for a in argv)
    assert f"- command: `sklearn-causal-routing benchmark {quoted}`" in report


# --------------------------------------------------------------------------- #
# route with exploration (issue 14): the routed log records its propensities
# --------------------------------------------------------------------------- #
def test_route_with_exploration_writes_a_log_that_fit_reads_back(sim, tmp_path, capsys):
    """route -> a gateway adds the outcomes -> read_logs / fit get the propensities back."""
    from sklearn_causal_routing.datasets import RoutingWorld

    routed = tmp_path / "routed.jsonl"
    assert _main("route", sim["router"], sim["test"], "--exploration", "0.3",
                 "--share", "xl=0.1", "--seed", "3", "--batch-size", "64",
                 "--output-format", "jsonl", "-o", routed, "-q") == 0
    records = [json.loads(line) for line in routed.read_text(encoding="utf-8").splitlines()]
    assert [r["row"] for r in records] == list(range(300))
    test = read_logs(sim["test"], prompt=None, features="features")
    np.testing.assert_array_equal([r["features"] for r in records], test.features)
    # the same draws as route() in Python with one stream seeded by --seed
    routes = joblib.load(sim["router"])[-1].route(
        test.features, exploration=0.3, shares={"xl": 0.1},
        random_state=np.random.RandomState(3))
    assert [r["model"] for r in records] == routes.model.tolist()
    np.testing.assert_allclose([r["propensity"] for r in records], routes.propensity)
    assert "xl" in routes.model and set(routes.propensity[routes.model == "xl"]) == {0.175}

    # the gateway serves each routed request and logs its outcome (here: the world's truth)
    world = RoutingWorld(n_models=3, n_features=8, random_state=0)  # `simulate`'s world
    quality, cost = world.expected_quality(test.features), world.expected_cost(test.features)
    for i, r in enumerate(records):
        k = world.models.tolist().index(r["model"]) if r["model"] != "xl" else None
        r["quality"] = 0.9 if k is None else float(quality[i, k])
        r["cost"] = 2.0 if k is None else float(cost[i, k])
    served = tmp_path / "served.jsonl"
    served.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    logs = read_logs(served, prompt=None, features="features", propensity="propensity")
    np.testing.assert_array_equal(logs.t, routes.model)
    np.testing.assert_allclose(logs.feedback["propensity"], routes.propensity)
    assert _main("fit", served, "-o", tmp_path / "next.joblib", *TINY[:-1]) == 0
    assert "propensities: logged in all 300 rows (field 'propensity')" in capsys.readouterr().err
    assert "xl" in joblib.load(tmp_path / "next.joblib")[-1].classes_


def test_route_jsonl_without_exploration_is_predict_with_propensity_one(sim, capsys):
    assert _main("route", sim["router"], sim["test"], "--output-format", "jsonl", "-q") == 0
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    test = read_logs(sim["test"], prompt=None, features="features")
    expected = joblib.load(sim["router"]).predict(test.features).tolist()
    assert [r["model"] for r in records] == expected
    assert {r["propensity"] for r in records} == {1.0}


def test_route_pool_leaves_a_model_out(sim, tmp_path, capsys):
    """--pool: the best-scored model left; a router that fell back has no ranking to use."""
    fallen = joblib.load(sim["router"])[-1]
    assert fallen.fallback_ == "large"  # the small fixture router routes everything there
    assert _main("route", sim["router"], sim["test"], "--pool", "medium,small", "-q") == 1
    assert "RegretRouter cannot rank the models left in the pool" in capsys.readouterr().err
    path = tmp_path / "policy.joblib"
    assert _main("fit", sim["train"], "-o", path, "--cost-weight", "0.3", "--no-fallback",
                 *TINY) == 0
    router = joblib.load(path)[-1]
    test = read_logs(sim["test"], prompt=None, features="features")
    scores = router.decision_function(test.features)
    top = router.classes_[np.bincount(np.argmax(scores, axis=1)).argmax()]
    pool = [m for m in router.classes_.tolist() if m != top]
    assert _main("route", path, sim["test"], "--pool", ",".join(pool), "-q") == 0
    names = capsys.readouterr().out.splitlines()
    assert top not in names and len(names) == 300 and len(set(names)) == 2
    cols = [router.classes_.tolist().index(m) for m in pool]
    assert names == np.array(pool)[np.argmax(scores[:, cols], axis=1)].tolist()


@pytest.mark.parametrize("options, message", [
    (["--share", "xl"], "--share takes MODEL=FRACTION, e.g. new-model=0.05; got 'xl'"),
    (["--share", "xl=0.1", "--share", "xl=0.2"], "--share names 'xl' twice"),
    (["--exploration", "1"], "exploration must be a number in [0, 1); got 1.0"),
    (["--pool", "small", "--share", "xl=0.1"], "shares names model(s) ['xl'] that are not "
                                                "in the pool ['small']"),
])
def test_route_exploration_errors(sim, capsys, options, message):
    assert _main("route", sim["router"], sim["test"], *options, "-q") == 1
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1
