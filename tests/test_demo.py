"""The demo (``python -m sklearn_causal_routing.demo``) says only what its rows show.

Its full output at one setting is also shown in README.md and checked there by
tests/test_docs.py; these tests check what must hold at any setting, on a small
world (300 logged queries: few enough that the RegretRouters fall back to the best
single model, so the fallback marking is exercised).
"""

import io
import re

import pytest

from sklearn_causal_routing.datasets import RoutingWorld
from sklearn_causal_routing.demo import (
    FULL_FEEDBACK,
    ORACLE,
    compare_routers,
    format_comparison,
    main,
    run,
)

COST_WEIGHT = 0.25


@pytest.fixture(scope="module")
def demo():
    out = io.StringIO()
    results = run(n_train=300, n_test=400, cost_weights=[COST_WEIGHT], out=out)
    return results[COST_WEIGHT], out.getvalue()


def _row(text, name):
    """The numbers of one table row: utility, regret, shares (%)."""
    line = next(x for x in text.splitlines() if x.startswith(name + " ") or x == name)
    return [float(v) for v in re.findall(r"\d+\.\d+|\d+(?=%)", line[len(name):])]


def test_prints_plain_names_and_counts(demo):
    _, text = demo
    assert "np." not in text and "int64" not in text, text
    served = re.search(r"calls served in the logs: (.*?)\.\n", text, flags=re.S)
    counts = dict(x.rsplit(" ", 1) for x in served.group(1).replace("\n", " ").split(", "))
    assert sorted(counts) == ["large", "medium", "small", "tiny"]
    assert sum(int(c) for c in counts.values()) == 300


def test_reference_row_is_not_called_an_upper_bound(demo):
    _, text = demo
    flat = " ".join(text.split())
    assert f'"{FULL_FEEDBACK}" is the decoupled baseline' in flat
    assert "a plug-in reference, not an upper bound" in flat
    assert flat.count("upper bound") == 2          # "not an upper bound" and the oracle's


def test_table_matches_results_and_oracle_bounds_every_row(demo):
    rows, text = demo
    oracle = _row(text, ORACLE)[0]
    for name, r in rows.items():
        shown = _row(text, f"{name} *" if r["fell_back"] else name)
        assert shown[:2] == [round(r["utility"], 4), round(r["regret"], 4)], name
        assert shown[2:6] == [round(100 * s) for s in r["shares"].values()], name
        assert r["utility"] <= oracle + 1e-4                  # the oracle is the upper bound
        assert r["regret"] == pytest.approx(oracle - r["utility"], abs=1e-4)


def test_fallback_is_marked_not_warned(demo, recwarn):
    rows, text = demo
    fell_back = [name for name, r in rows.items() if r["fell_back"]]
    assert fell_back, "300 logged queries should give no evidence of a gain"
    for name, r in rows.items():
        marked = any(line.startswith(f"{name} *") for line in text.splitlines())
        assert marked == r["fell_back"], name
        if r["fell_back"]:
            assert max(r["shares"].values()) == 1.0, name
    assert "* fell back to the best single model" in text


def test_held_out_scores_add_a_column():
    world = RoutingWorld(random_state=1)
    train, test = world.sample(300, random_state=2), world.sample(300, random_state=3)
    logs = train.log("confounded", random_state=4)
    test_logs = test.log("confounded", random_state=5)
    rows = compare_routers(train, logs, test, COST_WEIGHT, random_state=0, test_logs=test_logs,
                           hidden_layer_sizes=(8,), max_epochs=2)
    assert list(rows)[-1] == FULL_FEEDBACK
    assert all(isinstance(r["score"], float) for r in rows.values())
    table = format_comparison(rows, test, COST_WEIGHT)
    assert table.splitlines()[0].split()[:5] == ["router", "true", "utility", "regret", "held-out"]


def test_command_line_help(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    assert capsys.readouterr().out.startswith("usage: python -m sklearn_causal_routing.demo")
