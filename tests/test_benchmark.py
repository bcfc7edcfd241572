"""The benchmark runner, its scenarios, the peer adapters and the report writer."""

import json

import numpy as np
import pytest
from numpy.testing import assert_allclose

from sklearn_causal_routing import cli
from sklearn_causal_routing.experiments import (
    METHODS,
    SCENARIOS,
    EconMLPolicyRouter,
    OBPIPWRouter,
    Scenario,
    cost_weight_grid,
    run_benchmark,
    write_report,
)
from sklearn_causal_routing.datasets import make_routing_table


def benchmark_main(argv):
    """``sklearn-causal-routing benchmark ARGV``, in-process."""
    return cli.main(["benchmark", *argv])


@pytest.fixture(scope="module")
def table():
    return make_routing_table(900, random_state=0)


@pytest.fixture(scope="module")
def small_run(table):
    return run_benchmark(
        table, methods=["decoupled", "single model (DR)"], scenarios=["main", "logs-30"],
        seeds=[0, 1], n_cost_weights=3, score_methods=(), progress=None,
    )


def test_scenario_logging_rules_do_what_they_say(table):
    strong = int(np.argmax(table.utility(0.0).mean(axis=0)))
    cheap = int(np.argmin(table.cost.mean(axis=0)))
    for name in SCENARIOS:
        P = SCENARIOS[name].logging_probabilities(table)
        assert P.shape == (table.n_samples, table.n_models)
        assert_allclose(P.sum(axis=1), 1.0)
        assert (P > 0).all(), name
    P = SCENARIOS["strong-rare"].logging_probabilities(table)
    assert P[:, strong].max() <= 0.25 + 1e-12
    # the cap binds: under plain confounded logs the strongest model gets more
    assert SCENARIOS["main"].logging_probabilities(table)[:, strong].max() > 0.3
    P = SCENARIOS["cheap-heavy"].logging_probabilities(table)
    assert P[:, cheap].mean() >= 0.7
    with pytest.raises(ValueError, match="policy must be"):
        Scenario("bad", "x", policy="random").logging_probabilities(table)


def test_cost_weight_grid_ends_where_the_cheapest_model_wins(table):
    grid = cost_weight_grid(table, n=4)
    assert grid[0] == 0.0 and len(grid) == 4
    cheap = table.models[int(np.argmin(table.cost.mean(axis=0)))]
    assert table.best_single_model(grid[-1] * 1.001)[0] == cheap
    assert table.best_single_model(grid[-1] * 0.9)[0] != cheap
    with pytest.raises(ValueError, match="n must be an integer >= 1; got 0"):
        cost_weight_grid(table, n=0)


def test_run_records_truth_for_every_method_seed_and_weight(small_run, table):
    res = small_run
    weights = res.settings["cost_weights"]
    assert len(weights) == 3 and res.settings["seeds"] == [0, 1]
    for scenario in ("main", "logs-30"):
        for method in ("oracle", "full feedback", "decoupled", "single model (DR)"):
            values = res.values(scenario, method)
            assert values.shape == (2, 3) and np.isfinite(values).all()
    # regret is oracle minus value; the oracle dominates everything
    for r in res.records:
        assert r["regret"] >= -1e-12
        assert_allclose(r["value"], r["quality"] - r["cost_weight"] * r["cost"], atol=1e-9)
    # the decoupled router is fitted once per seed and swept over the weights
    fits = res.values("main", "decoupled", "fit_time")
    assert (fits[:, 0] > 0).all() and (fits[:, 1:] == 0).all()
    # a method trained from 30% of the logs is not better than from all of them
    full_logs = res.summary("main", "decoupled")[0]
    few_logs = res.summary("logs-30", "decoupled")[0]
    assert few_logs <= full_logs + 0.02
    # references agree with the table's own truth on the test split
    oracle = res.summary("main", "oracle")[0]
    assert oracle > res.summary("main", "best single (hindsight)")[0]


def test_run_is_reproducible(table):
    kw = dict(methods=["decoupled"], seeds=[3], n_cost_weights=2, score_methods=(),
              progress=None)
    a = run_benchmark(table, **kw).values("main", "decoupled")
    b = run_benchmark(table, **kw).values("main", "decoupled")
    assert_allclose(a, b)


def test_run_checks_its_arguments(table):
    with pytest.raises(ValueError, match=r"methods: unknown name\(s\) \['RM'\]"):
        run_benchmark(table, methods=["RM"], progress=None)
    with pytest.raises(ValueError, match="scenarios: unknown scenario 'heavy'"):
        run_benchmark(table, scenarios=["heavy"], progress=None)
    with pytest.raises(ValueError, match="seeds must name at least one seed"):
        run_benchmark(table, seeds=[], progress=None)


def test_custom_methods_run_beside_the_built_in_ones(table):
    from sklearn_causal_routing import RegretRouter
    from sklearn_causal_routing.baselines import DecoupledRouter

    tiny = RegretRouter(hidden_layer_sizes=(8,), max_epochs=3)
    kw = dict(seeds=[0, 1], n_cost_weights=2, progress=None,
              methods=["RM-Softmax", "decoupled", ("mine", DecoupledRouter()), ("tiny", tiny)])
    res = run_benchmark(table, **kw)
    family = {r["method"]: r["family"] for r in res.records}
    assert family["mine"] == family["tiny"] == "custom" and family["decoupled"] == "baseline"
    # the same estimator as the built-in method gives the same decisions
    assert_allclose(res.values("main", "mine"), res.values("main", "decoupled"))
    # cloned per fit, seeded by the run's seed: reproducible, and the user's object untouched
    assert_allclose(res.values("main", "tiny"), run_benchmark(table, **kw).values("main", "tiny"))
    assert tiny.random_state is None and not hasattr(tiny, "policy_")
    # the target "RM-Softmax beats every baseline and peer" ignores the user's variants
    from sklearn_causal_routing.experiments._report import _targets

    line = _targets(res, "main")[0]
    assert "tiny" not in line and "mine" not in line


def test_custom_methods_are_checked(table):
    from sklearn.linear_model import LogisticRegression

    from sklearn_causal_routing.baselines import DecoupledRouter

    with pytest.raises(TypeError, match="estimator of 'lr' must be .* without cost_weight"):
        run_benchmark(table, methods=[("lr", LogisticRegression())], progress=None)
    with pytest.raises(ValueError, match="a custom method needs a new name .* 'decoupled'"):
        run_benchmark(table, methods=[("decoupled", DecoupledRouter())], progress=None)
    with pytest.raises(ValueError, match="names must be unique"):
        run_benchmark(table, methods=[("a", DecoupledRouter()), ("a", DecoupledRouter())],
                      progress=None)
    with pytest.raises(TypeError, match=r"a method name or a \(name, estimator\) pair"):
        run_benchmark(table, methods=[DecoupledRouter()], progress=None)


def test_score_interval_is_checked_against_truth(table):
    res = run_benchmark(table, methods=["RM-Softmax"], seeds=[0], n_cost_weights=2,
                        progress=None)
    rows = [r for r in res.records if r["method"] == "RM-Softmax"]
    for r in rows:
        assert r["ci_low"] < r["score"] < r["ci_high"]
        assert abs(r["score"] - r["value"]) < 0.1


def test_report_has_tables_targets_and_figure(small_run, tmp_path):
    pytest.importorskip("matplotlib")
    path = tmp_path / "sub" / "report.md"
    text = write_report(small_run, path, title="Test run", extra_lines=["- data: sim"])
    assert path.read_text() == text
    assert text.startswith("# Test run\n")
    assert "- data: sim" in text
    assert "## Scenario `main`" in text and "## Scenario `logs-30`" in text
    assert "| decoupled" in text and "cw=0 " in text
    png = path.with_suffix(".png")
    assert png.exists() and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # one row per method in the summary table of each scenario
    summary = text.split("## Scenario `main`")[1].split("Per cost weight")[0]
    assert summary.count("| decoupled ") == 1 and summary.count("| oracle ") == 1


@pytest.mark.parametrize(
    "make",
    [lambda: EconMLPolicyRouter(kind="tree", random_state=0), lambda: OBPIPWRouter()],
    ids=["econml-tree", "obp-ipw"],
)
def test_peers_route_and_beat_a_random_model(make, table):
    name = "econml" if "EconML" in type(make()).__name__ else "obp"
    pytest.importorskip(name)
    train, test = table.train_test_split(test_size=0.3, random_state=0)
    logs = train.log(random_state=1)
    router = make().fit(logs.X, logs.feedback)
    decisions = router.predict(test.X)
    assert set(decisions) <= set(table.models)
    mean_model = np.mean([test.value(np.full(test.n_samples, m), 0.0) for m in table.models])
    assert test.value(decisions, 0.0) > mean_model
    assert router.score(test.X, test.log(random_state=2).feedback) == pytest.approx(
        test.value(decisions, 0.0), abs=0.1
    )
    with pytest.raises(ValueError, match="rows but the feedback y has"):
        make().fit(logs.X[:5], logs.feedback)


def test_missing_peer_is_skipped_with_a_message(table, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "obp", None)
    monkeypatch.setitem(sys.modules, "obp.policy", None)
    res = run_benchmark(table, methods=["OBP IPWLearner", "decoupled"], seeds=[0],
                        n_cost_weights=2, progress=None)
    assert "OBP IPWLearner" in res.skipped
    assert 'pip install "sklearn-causal-routing[bench]"' in res.skipped["OBP IPWLearner"]
    assert "OBP IPWLearner" not in res.methods()
    with pytest.raises(ImportError, match=r"sklearn-causal-routing\[bench\]"):
        OBPIPWRouter().fit(table.X, table.log(random_state=0).feedback)


def test_benchmark_command_reads_both_formats(table, tmp_path):
    pytest.importorskip("pyarrow")
    pytest.importorskip("matplotlib")
    ours = tmp_path / "table.parquet"
    # realised grades only (RouterBench's format has no expected quality)
    frame = table.to_frame()
    frame.drop(columns=[c for c in frame.columns if c.endswith("|expected_quality")]).to_parquet(ours)
    # the same table in RouterBench's pickle layout, features in a .npy
    frame = table.to_frame(features=False)
    rb = {"eval_name": frame["task"]} if "task" in frame else {}
    for m in table.models:
        rb[str(m)] = frame[f"{m}|quality"]
        rb[f"{m}|total_cost"] = frame[f"{m}|cost"]
    import pandas as pd

    pickle = tmp_path / "rb.pkl"
    pd.DataFrame(rb).to_pickle(pickle)
    np.save(tmp_path / "X.npy", table.X)
    out = {}
    for name, args in {
        "ours": [str(ours)],
        "rb": [str(pickle), "--embeddings", str(tmp_path / "X.npy")],
    }.items():
        report = tmp_path / f"{name}.md"
        code = benchmark_main(args + ["--methods", "decoupled", "--seeds", "2",
                                      "--n-cost-weights", "2", "--out", str(report),
                                      "--json", str(tmp_path / f"{name}.json"), "--quiet"])
        assert code == 0 and report.exists() and report.with_suffix(".png").exists()
        out[name] = json.loads((tmp_path / f"{name}.json").read_text())
    values = {k: [r["value"] for r in v["records"]] for k, v in out.items()}
    assert_allclose(values["ours"], values["rb"])
    assert benchmark_main([str(ours), "--methods", "nope", "--quiet"]) == 1


def test_benchmark_is_a_subcommand_of_the_command_line(table, tmp_path, capsys):
    np.save(tmp_path / "X.npy", table.X)
    frame = table.to_frame(features=False)
    frame.to_csv(tmp_path / "table.csv", index=False)
    code = cli.main(["benchmark", str(tmp_path / "table.csv"), "--embeddings",
                     str(tmp_path / "X.npy"), "--methods", "single model (DR)",
                     "--seeds", "1", "--n-cost-weights", "2", "--quiet",
                     "--out", str(tmp_path / "r.md")])
    assert code == 0
    assert "| single model (DR)" in capsys.readouterr().out
    assert cli.main(["benchmark", "x.csv", "--scenarios", "nope", "--quiet"]) == 1
    assert "no file" in capsys.readouterr().err


def test_every_method_and_scenario_is_listed_in_the_command_help(capsys):
    assert cli.main(["benchmark", "--help"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    for name in list(METHODS) + list(SCENARIOS):
        assert name in out


def test_misspecified_scenarios_swap_the_nuisance_models(table, monkeypatch):
    from sklearn_causal_routing.experiments import _runner

    seen = []
    real = _runner._ctx_utility

    def spy(ctx):
        utility = real(ctx)
        seen.append((ctx["scenario"].name, utility))
        return utility

    monkeypatch.setattr(_runner, "_ctx_utility", spy)
    res = run_benchmark(table, methods=["single model (DR)"],
                        scenarios=["propensity-logistic", "outcome-mlp"], seeds=[0],
                        cost_weights=[0.0], score_methods=(), progress=None)
    kinds = {name: u for name, u in seen}
    prop = kinds["propensity-logistic"].propensity
    assert type(prop.estimator).__name__ == "LogisticRegression"
    assert "MLPRegressor" in repr(kinds["outcome-mlp"].quality_model)
    for scenario in ("propensity-logistic", "outcome-mlp"):
        assert np.isfinite(res.values(scenario, "single model (DR)")).all()
    # propensities are not recorded in the propensity scenarios
    logs = _runner._simulate_logs(table, SCENARIOS["propensity-logistic"], 0)[1]
    assert np.isnan(logs.feedback["propensity"]).all()
    logs = _runner._simulate_logs(table, SCENARIOS["logs-10"], 0)[1]
    assert len(logs) == round(0.1 * table.n_samples)


def test_records_say_which_fits_fell_back():
    from sklearn_causal_routing import RegretRouter

    table = make_routing_table(400, random_state=0)
    tiny = dict(hidden_layer_sizes=(4,), max_epochs=2)
    res = run_benchmark(
        table, methods=[("safe", RegretRouter(**tiny)),
                        ("raw", RegretRouter(fallback=None, **tiny))],
        seeds=[0], n_cost_weights=2, score_methods=(), progress=None,
    )
    flags = {m: [r["fell_back"] for r in res.records if r["method"] == m]
             for m in ("safe", "raw", "oracle")}
    assert flags["raw"] == [False, False] and flags["oracle"] == [False, False]
    # two epochs of a 4-unit net on 280 logs show no gain: the default falls back
    assert flags["safe"] == [True, True]


def test_old_benchmark_module_name_warns_and_gives_the_same_objects():
    import importlib
    import sys

    from sklearn_causal_routing import experiments

    sys.modules.pop("sklearn_causal_routing.benchmark", None)
    with pytest.warns(FutureWarning, match="renamed sklearn_causal_routing.experiments"):
        old = importlib.import_module("sklearn_causal_routing.benchmark")
    assert old.run_benchmark is experiments.run_benchmark
    assert set(old.__all__) == set(experiments.__all__)
