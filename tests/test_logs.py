"""Reading and writing gateway logs: good, malformed and duplicated rows."""

import gzip
import json
import sys

import numpy as np
import pytest

from sklearn_causal_routing import make_feedback
from sklearn_causal_routing.logs import (
    GatewayLogs,
    MalformedLogError,
    count_fields,
    guess_format,
    iter_inputs,
    iter_logs,
    open_log,
    peek_fields,
    read_logs,
    write_logs,
)

GOOD = [
    {"prompt": "What is 2 + 2?", "model": "small", "quality": 1, "cost": 0.001,
     "propensity": 0.8, "gold": True},
    {"prompt": "Prove Fermat's last theorem.", "model": "large", "quality": 0.25,
     "cost": 0.05, "propensity": 0.6, "gold": False},
    {"prompt": "Translate 'chat' to English.", "model": "small", "quality": 0.0,
     "cost": 0.002, "propensity": 0.3, "gold": True},
]


def _jsonl(path, records):
    """Write records (dicts, or raw strings written as they are) one per line."""
    with open(path, "w", encoding="utf-8") as f:
        f.writelines((rec if isinstance(rec, str) else json.dumps(rec)) + "\n" for rec in records)
    return path


# --------------------------------------------------------------------------- #
# good files
# --------------------------------------------------------------------------- #
def test_good_jsonl(tmp_path):
    path = _jsonl(tmp_path / "logs.jsonl", GOOD)
    logs = read_logs(path, propensity="propensity", gold="gold")
    assert isinstance(logs, GatewayLogs)
    assert logs.prompts.tolist() == [r["prompt"] for r in GOOD]
    assert logs.X is logs.prompts and logs.features is None
    fb = logs.feedback
    assert fb.dtype.names == ("action", "quality", "cost", "propensity", "gold", "judge")
    assert fb["action"].tolist() == ["small", "large", "small"]
    np.testing.assert_array_equal(fb["quality"], [1.0, 0.25, 0.0])
    np.testing.assert_array_equal(fb["cost"], [0.001, 0.05, 0.002])
    np.testing.assert_array_equal(fb["propensity"], [0.8, 0.6, 0.3])
    assert fb["gold"].tolist() == [True, False, True]
    assert logs.lines.tolist() == [1, 2, 3]
    assert (logs.n_read, logs.n_skipped, logs.n_duplicates) == (3, 0, 0)
    assert logs.format == "jsonl" and len(logs) == 3
    assert logs.t.tolist() == ["small", "large", "small"]


def test_optional_fields_not_read_by_default(tmp_path):
    """Without propensity= and gold=, those fields are ignored: propensity NaN."""
    logs = read_logs(_jsonl(tmp_path / "logs.jsonl", GOOD))
    assert logs.feedback.dtype.names == ("action", "quality", "cost", "propensity")
    assert np.isnan(logs.feedback["propensity"]).all()


def test_missing_optional_fields(tmp_path):
    """A log without propensity, gold or cost fields reads with those not given."""
    rows = [{"prompt": f"q{i}", "model": "a" if i % 2 else "b", "quality": i % 3 == 0}
            for i in range(6)]
    logs = read_logs(_jsonl(tmp_path / "bare.jsonl", rows), cost=None)
    np.testing.assert_array_equal(logs.feedback["cost"], np.zeros(6))
    assert np.isnan(logs.feedback["propensity"]).all()
    # booleans are grades 1 / 0 (thumbs up / down)
    np.testing.assert_array_equal(logs.feedback["quality"], [1, 0, 0, 1, 0, 0])
    # but a configured field must be in every row
    with pytest.raises(MalformedLogError, match=r"line 1: missing field 'propensity'"):
        read_logs(tmp_path / "bare.jsonl", cost=None, propensity="propensity")


def test_blank_lines_and_line_numbers(tmp_path):
    path = _jsonl(tmp_path / "logs.jsonl", [GOOD[0], "", "   ", GOOD[1], "{bad json"])
    logs = read_logs(path, on_error="skip")
    assert logs.lines.tolist() == [1, 4]  # blank lines are not records but count as lines
    assert logs.n_read == 3
    assert [(e.line, e.field) for e in logs.skipped] == [(5, None)]
    assert "invalid JSON" in logs.skipped[0].reason


def test_model_ids_are_read_as_strings(tmp_path):
    rows = [{"prompt": "a", "model": 3, "quality": 1, "cost": 0},
            {"prompt": "b", "model": "gpt", "quality": 0, "cost": 0}]
    logs = read_logs(_jsonl(tmp_path / "logs.jsonl", rows))
    assert logs.feedback["action"].tolist() == ["3", "gpt"]


def test_csv_custom_fields_and_multiline_prompt(tmp_path):
    path = tmp_path / "gateway.csv"
    path.write_text(
        "input,served_by,grade,usd,p\n"
        'hello,small,1,0.001,0.5\n'
        '"a prompt\nover two lines",large,0,0.05,0.25\n'
        "third,small,oops,0.001,0.5\n"
        ",small,1,0.001,0.5\n",
        encoding="utf-8",
    )
    logs = read_logs(path, prompt="input", model="served_by", quality="grade",
                     cost="usd", propensity="p", on_error="skip")
    assert logs.prompts.tolist() == ["hello", "a prompt\nover two lines"]
    assert logs.lines.tolist() == [2, 3]
    # the record after the two-line prompt starts on line 5; empty cells are missing
    assert [(e.line, e.field) for e in logs.skipped] == [(5, "grade"), (6, "input")]
    assert "field 'grade' must be a number; got 'oops'" in logs.skipped[0].reason
    assert "field 'input' is empty" in logs.skipped[1].reason
    np.testing.assert_array_equal(logs.feedback["propensity"], [0.5, 0.25])


def test_csv_missing_column_names_it(tmp_path):
    path = tmp_path / "gateway.csv"
    path.write_text("prompt,model,grade\nhi,small,1\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"no column for quality='quality'.*'grade'"):
        read_logs(path, cost=None)


def test_csv_wrong_cell_count(tmp_path):
    path = tmp_path / "gateway.csv"
    path.write_text("prompt,model,quality,cost\nhi,small,1,0.1\nhi,small,1\n",
                    encoding="utf-8")
    logs = read_logs(path, on_error="skip")
    assert logs.skipped[0].line == 3
    assert "3 cells but the header has 4" in logs.skipped[0].reason


# --------------------------------------------------------------------------- #
# malformed rows
# --------------------------------------------------------------------------- #
MALFORMED = [
    (GOOD[0], None),
    ("{not json", "invalid JSON"),
    ("[1, 2, 3]", "not a JSON object"),
    ({"prompt": "x", "model": "small", "cost": 0.1}, "missing field 'quality'"),
    ({"prompt": "x", "model": "small", "quality": "high", "cost": 0.1},
     "field 'quality' must be a number; got 'high'"),
    ({"prompt": "x", "model": "small", "quality": 1, "cost": -0.1},
     "field 'cost' (cost) must be >= 0"),
    ({"prompt": "x", "model": "small", "quality": 1, "cost": 0.1, "propensity": 0},
     "field 'propensity' (propensity) must be in (0, 1]"),
    ({"prompt": "x", "model": "", "quality": 1, "cost": 0.1, "propensity": 0.5},
     "field 'model' (the model) is empty"),
    ({"prompt": None, "model": "small", "quality": 1, "cost": 0.1, "propensity": 0.5},
     "field 'prompt' is empty (null)"),
    ({"prompt": 42, "model": "small", "quality": 1, "cost": 0.1, "propensity": 0.5},
     "field 'prompt' (the prompt) must be a string"),
    ({"prompt": "x", "model": "small", "quality": "nan", "cost": 0.1, "propensity": 0.5},
     "field 'quality' must be finite"),
    (GOOD[1], None),
]


def test_malformed_rows_skipped_with_line_and_reason(tmp_path):
    path = _jsonl(tmp_path / "logs.jsonl", [rec for rec, _ in MALFORMED])
    logs = read_logs(path, propensity="propensity", on_error="skip")
    expected = [(i + 1, why) for i, (_, why) in enumerate(MALFORMED) if why]
    assert logs.n_skipped == len(expected) == len(logs.skipped)
    for err, (line, why) in zip(logs.skipped, expected):
        assert err.line == line
        assert why in err.reason, (err, why)
    assert logs.lines.tolist() == [1, len(MALFORMED)]
    assert logs.n_read == len(MALFORMED)
    text = logs.summary()
    assert f"{len(expected)} malformed rows skipped" in text
    assert "line 2: invalid JSON" in text


def test_malformed_row_raises_by_default(tmp_path):
    path = _jsonl(tmp_path / "logs.jsonl", [rec for rec, _ in MALFORMED])
    with pytest.raises(MalformedLogError) as info:
        read_logs(path, propensity="propensity")
    err = info.value
    assert (err.line, err.field) == (2, None)
    assert "logs.jsonl, line 2: invalid JSON" in str(err)
    assert "on_error='skip'" in str(err)
    assert isinstance(err, ValueError)


def test_all_rows_bad(tmp_path):
    path = _jsonl(tmp_path / "logs.jsonl", [{"text": "x", "model": "a", "quality": 1}] * 3)
    with pytest.raises(ValueError, match=r"no valid rows \(3 read, 3 malformed\).*line 1"):
        read_logs(path, on_error="skip")


def test_skipped_list_is_capped_but_all_counted(tmp_path, monkeypatch):
    # the constant read_logs reads lives in the module that defines read_logs
    monkeypatch.setattr(sys.modules[read_logs.__module__], "MAX_LISTED", 2)
    path = _jsonl(tmp_path / "logs.jsonl", [GOOD[0]] + ["{"] * 5)
    logs = read_logs(path, on_error="skip", chunk_size=2)
    assert logs.n_skipped == 5 and len(logs.skipped) == 2
    assert "of the first 2" in logs.summary()


def test_features_field(tmp_path):
    rows = [{"features": [0.5, 1.0], "model": "a", "quality": 1, "cost": 0.1},
            {"features": [1.5, -2.0], "model": "b", "quality": 0, "cost": 0.2},
            {"features": [1.0], "model": "b", "quality": 0, "cost": 0.2},
            {"features": ["x", 1], "model": "b", "quality": 0, "cost": 0.2}]
    logs = read_logs(_jsonl(tmp_path / "sim.jsonl", rows), prompt=None,
                     features="features", on_error="skip")
    assert logs.prompts is None and logs.X is logs.features
    np.testing.assert_array_equal(logs.features, [[0.5, 1.0], [1.5, -2.0]])
    assert [e.line for e in logs.skipped] == [3, 4]
    assert "has 1 values but earlier rows have 2" in logs.skipped[0].reason


# --------------------------------------------------------------------------- #
# duplicates
# --------------------------------------------------------------------------- #
DUPLICATED = [GOOD[0], GOOD[1], GOOD[0], dict(GOOD[0], cost=0.003), GOOD[0], GOOD[1]]


def test_duplicates_keep_counts(tmp_path):
    logs = read_logs(_jsonl(tmp_path / "logs.jsonl", DUPLICATED))
    assert len(logs) == 6 and logs.n_duplicates == 3  # rows 3, 5 and 6
    assert "3 duplicates (kept)" in logs.summary()


def test_duplicates_drop_keeps_first(tmp_path):
    logs = read_logs(_jsonl(tmp_path / "logs.jsonl", DUPLICATED), duplicates="drop")
    assert logs.lines.tolist() == [1, 2, 4]  # line 4 differs in cost: not a duplicate
    assert logs.n_duplicates == 3
    np.testing.assert_array_equal(logs.feedback["cost"], [0.001, 0.05, 0.003])


def test_duplicates_raise_names_lines(tmp_path):
    with pytest.raises(ValueError, match=r"3 row\(s\) repeat.*line 3 repeats line 1"):
        read_logs(_jsonl(tmp_path / "logs.jsonl", DUPLICATED), duplicates="raise")


def test_duplicates_across_chunks_and_features(tmp_path):
    rows = [{"features": [float(i % 3), 1.0], "model": "a", "quality": 1, "cost": 0}
            for i in range(7)]
    logs = read_logs(_jsonl(tmp_path / "f.jsonl", rows), prompt=None, features="features",
                     duplicates="drop", chunk_size=2)
    assert logs.lines.tolist() == [1, 2, 3] and logs.n_duplicates == 4


# --------------------------------------------------------------------------- #
# streaming, writing, formats
# --------------------------------------------------------------------------- #
def test_iter_logs_matches_read_logs(tmp_path):
    rows = [dict(GOOD[i % 3], prompt=f"p{i}") for i in range(10)]
    rows.insert(4, "{oops")
    path = _jsonl(tmp_path / "logs.jsonl", rows)
    chunks = list(iter_logs(path, chunk_size=4, on_error="skip"))
    assert [len(c) for c in chunks] == [4, 4, 2]
    assert [c.n_skipped for c in chunks] == [0, 1, 0]
    assert all(c.n_duplicates is None for c in chunks)
    whole = read_logs(path, on_error="skip", chunk_size=3)
    streamed = np.concatenate([c.feedback for c in chunks])
    for field in whole.feedback.dtype.names:  # NaN propensities: compare field by field
        np.testing.assert_array_equal(streamed[field], whole.feedback[field])
    assert np.concatenate([c.prompts for c in chunks]).tolist() == whole.prompts.tolist()
    assert sum(c.n_read for c in chunks) == whole.n_read == 11


@pytest.mark.parametrize("name", ["logs.jsonl", "logs.jsonl.gz", "logs.csv", "logs.parquet"])
def test_write_read_round_trip(tmp_path, name):
    rng = np.random.default_rng(0)
    n = 25
    fb = make_feedback(rng.choice(["a", "b", "c"], n), rng.random(n), cost=rng.random(n) / 7,
                       propensity=rng.uniform(0.1, 1, n), gold=rng.random(n) < 0.5)
    prompts = [f"prompt {i}, with \"quotes\", commas\nand a newline" for i in range(n)]
    X = rng.normal(size=(n, 3))
    path = write_logs(tmp_path / name, fb, prompts=prompts, features=X,
                      extra={"task": np.repeat(["x", "y", "z", "w", "v"], 5)})
    assert set(peek_fields(path)) == {"prompt", "model", "quality", "cost", "propensity",
                                      "gold", "task", "features"}
    logs = read_logs(path, propensity="propensity", gold="gold", features="features")
    assert logs.prompts.tolist() == prompts
    np.testing.assert_array_equal(logs.features, X)  # floats round-trip exactly
    for field in ("action", "quality", "cost", "propensity", "gold"):
        np.testing.assert_array_equal(logs.feedback[field], fb[field])


def test_gzip_is_read(tmp_path):
    path = tmp_path / "logs.jsonl.gz"
    with gzip.open(path, "wt", encoding="utf-8") as f:
        f.write(json.dumps(GOOD[0]) + "\n")
    assert read_logs(path).prompts.tolist() == [GOOD[0]["prompt"]]


def test_write_logs_custom_fields_and_no_propensity(tmp_path):
    fb = make_feedback(["a", "b"], [1.0, 0.0], cost=[0.1, 0.2])
    path = write_logs(tmp_path / "out.csv", fb, prompts=["x", "y"],
                      fields={"prompt": "input", "model": "served_by"})
    assert peek_fields(path) == ["input", "served_by", "quality", "cost"]
    with pytest.raises(ValueError, match="unknown key"):
        write_logs(tmp_path / "out.csv", fb, prompts=["x", "y"], fields={"promt": "p"})
    with pytest.raises(ValueError, match="needs the router's input"):
        write_logs(tmp_path / "out.csv", fb)


def test_argument_errors(tmp_path):
    path = _jsonl(tmp_path / "logs.jsonl", GOOD)
    with pytest.raises(ValueError, match=r"on_error must be one of \['raise', 'skip'\]"):
        read_logs(path, on_error="ignore")
    with pytest.raises(ValueError, match=r"duplicates must be one of"):
        read_logs(path, duplicates="first")
    with pytest.raises(ValueError, match=r"chunk_size must be an integer >= 1; got 0"):
        read_logs(path, chunk_size=0)
    (tmp_path / "logs.txt").write_text("")
    with pytest.raises(ValueError, match=r"Cannot tell the format.*'\.txt'"):
        read_logs(tmp_path / "logs.txt")
    assert len(read_logs(path, format="jsonl")) == 3
    with pytest.raises(FileNotFoundError, match="No log file"):
        read_logs(tmp_path / "absent.jsonl")
    with pytest.raises(ValueError, match="prompt and features are both None"):
        read_logs(path, prompt=None)
    with pytest.raises(TypeError, match="quality must be a field name"):
        read_logs(path, quality=None)


# --------------------------------------------------------------------------- #
# what the command line needs, public (issue 12)
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize("record, at", [
    ('{"prompt": "x", "model": "a"', None),  # cut short: the end of the line, not column 1
    ('{"prompt": "x", "model": }', "}"),
    ('  {"prompt": "é€", "x": tru}', "tru"),  # counted in characters, not bytes
])
def test_json_error_column_is_on_the_line(tmp_path, record, at):
    path = _jsonl(tmp_path / "logs.jsonl", [GOOD[0], record])
    logs = read_logs(path, on_error="skip")
    assert [e.line for e in logs.skipped] == [2]
    column = len(record) + 1 if at is None else record.index(at) + 1
    assert logs.skipped[0].reason.endswith(f"at column {column})")


def test_malformed_log_error_message_names_the_callers_option(tmp_path):
    path = _jsonl(tmp_path / "logs.jsonl", ["{bad"])
    with pytest.raises(MalformedLogError) as info:
        read_logs(path)
    assert "pass on_error='skip'" in str(info.value)
    text = info.value.message(skip="--on-error skip")
    assert "pass --on-error skip" in text and "on_error=" not in text
    assert text.startswith(f"{path}, line 1: invalid JSON")


@pytest.mark.parametrize("suffix", [".jsonl", ".csv", ".parquet"])
def test_count_fields_counts_values_in_every_row(tmp_path, suffix):
    fb = make_feedback(["a", "b", "a", "c"], [1.0, 0.0, 1.0, 0.5], cost=[0.1, 0.2, 0.3, 0.4])
    path = write_logs(tmp_path / f"logs{suffix}", fb, prompts=["p", "q", "r", "s"],
                      extra={"propensity": np.array([0.5, np.nan, 0.2, np.nan]),
                             "flag": np.array(["x", "y", "z", "w"])})
    if suffix == ".jsonl":  # JSON has no NaN: make them nulls and drop a key altogether
        rows = [json.loads(line) for line in open(path, encoding="utf-8")]
        rows[1]["propensity"] = None
        del rows[3]["propensity"]
        _jsonl(path, rows)
    elif suffix == ".csv":  # empty cells
        text = open(path, encoding="utf-8").read().replace(",nan,", ",,")
        open(path, "w", encoding="utf-8").write(text)
    else:
        pa = pytest.importorskip("pyarrow")
        pq = pytest.importorskip("pyarrow.parquet")
        table = pq.read_table(path)
        column = pa.array([0.5, None, 0.2, None], type=pa.float64())
        table = table.set_column(table.schema.get_field_index("propensity"), "propensity",
                                 column)
        pq.write_table(table, path)
    n, counts = count_fields(path, ["propensity", "flag", "gold"])
    assert n == 4 and counts == {"propensity": 2, "flag": 4, "gold": 0}
    n, every = count_fields(path)
    assert every["model"] == 4 and every["propensity"] == 2


def test_count_fields_skips_unreadable_records(tmp_path):
    path = _jsonl(tmp_path / "logs.jsonl", [GOOD[0], "{oops", "[1]", GOOD[1]])
    assert count_fields(path, "propensity") == (2, {"propensity": 2})
    with pytest.raises(TypeError, match="field names"):
        count_fields(path, [1])


def test_guess_format_and_open_log(tmp_path):
    assert guess_format("a/b/LOGS.NDJSON") == "jsonl"
    assert guess_format("x.csv.gz") == "csv" and guess_format("x.pq") == "parquet"
    assert guess_format("prompts.txt") is None and guess_format("noext") is None
    path = tmp_path / "x.txt.gz"
    with open_log(path, "wb") as f:
        f.write(b"hello\n")
    assert gzip.open(path).read() == b"hello\n"
    with open_log(path) as f:
        assert f.read() == b"hello\n"
    with pytest.raises(ValueError, match="mode must be 'rb' or 'wb'"):
        open_log(path, "r")


def test_iter_inputs_reads_only_the_input_field(tmp_path):
    rows = [{"input": f"q{i}", "vec": [i, i + 1]} for i in range(5)]
    path = _jsonl(tmp_path / "requests.jsonl", rows)
    chunks = list(iter_inputs(path, prompt="input", chunk_size=2))
    assert [c.tolist() for c in chunks] == [["q0", "q1"], ["q2", "q3"], ["q4"]]
    X = np.concatenate(list(iter_inputs(path, features="vec", chunk_size=3)))
    np.testing.assert_array_equal(X, [[i, i + 1] for i in range(5)])
    _jsonl(path, rows[:2] + [{"vec": [0, 1]}] + rows[3:])  # a row without its input
    with pytest.raises(MalformedLogError, match="line 3: missing field 'input'"):
        list(iter_inputs(path, prompt="input"))
