"""Gateway logs on disk: JSONL, CSV or Parquet in, prompts and feedback out.

A gateway log has one record per request with (at least) the prompt, the model
that served it, the graded outcome (quality) and the cost; optionally the
probability with which the routing rule of the day picked that model
(propensity) and a flag saying whether the grade is gold-standard. Field names
are configurable. :func:`read_logs` reads a whole file into a
:class:`GatewayLogs` (prompts plus a feedback array from
:func:`~sklearn_causal_routing.make_feedback`), validating every row:
malformed rows are reported with their line number and the reason, and either
stop the read (``on_error="raise"``) or are skipped and counted
(``on_error="skip"``). :func:`iter_logs` streams a big file in chunks;
:func:`write_logs` writes the same formats.

Files are streamed, never loaded whole: memory is bounded by the arrays
returned, plus one chunk of parsed records.
"""

import contextlib
import csv
import gzip
import io
import json
import math
import numbers
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import numpy as np

from ._feedback import make_feedback

__all__ = [
    "GatewayLogs",
    "LogRowError",
    "MalformedLogError",
    "iter_logs",
    "peek_fields",
    "read_logs",
    "write_logs",
]

#: File formats understood by :func:`read_logs` and :func:`write_logs`.
FORMATS = ("jsonl", "csv", "parquet")

_SUFFIXES = {
    ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl",
    ".csv": "csv",
    ".parquet": "parquet", ".pq": "parquet",
}

#: Policies for repeated rows (same prompt or features, model, quality, cost).
DUPLICATE_POLICIES = ("keep", "drop", "raise")

#: At most this many skipped rows are listed one by one (all are counted).
MAX_LISTED = 10_000

_GOLD_WORDS = {
    "true": True, "t": True, "yes": True, "y": True, "1": True,
    "false": False, "f": False, "no": False, "n": False, "0": False,
}


class LogRowError(NamedTuple):
    """One malformed row: where it is and what is wrong with it.

    Attributes
    ----------
    line : int
        Line number in the file (1-based; for CSV the header is line 1), or
        the 1-based row number for Parquet.
    field : str or None
        The offending field, by its name in the file; ``None`` when the record
        itself is unreadable (invalid JSON, wrong number of CSV cells).
    reason : str
        What is wrong.

    Examples
    --------
    >>> from sklearn_causal_routing.logs import LogRowError
    >>> str(LogRowError(7, "quality", "missing field 'quality'"))
    "line 7: missing field 'quality'"
    """

    line: int
    field: object
    reason: str

    def __str__(self):
        return f"line {self.line}: {self.reason}"


class MalformedLogError(ValueError):
    """A row of a gateway log is malformed (raised with ``on_error="raise"``).

    Attributes
    ----------
    path : str
        The file.
    line : int
        Line (or Parquet row) number, 1-based.
    field : str or None
        The offending field.
    reason : str
        What is wrong.

    Examples
    --------
    >>> from sklearn_causal_routing.logs import MalformedLogError
    >>> issubclass(MalformedLogError, ValueError)
    True
    """

    def __init__(self, path, error):
        if not isinstance(path, (str, os.PathLike)):  # a stream, e.g. stdin
            path = getattr(path, "name", "<stream>")
        self.path = str(path)
        self.line, self.field, self.reason = error
        super().__init__(
            f"{self.path}, line {self.line}: {self.reason}. Fix or remove the row, or "
            "pass on_error='skip' to skip malformed rows (they are counted in "
            "n_skipped and listed in skipped)."
        )


class _RowError(Exception):
    def __init__(self, field, reason):
        self.field = field
        self.reason = reason


# --------------------------------------------------------------------------- #
# the result
# --------------------------------------------------------------------------- #
@dataclass(repr=False)
class GatewayLogs:
    """Prompts (or features) and feedback read from a gateway log.

    Returned by :func:`read_logs` (and, one chunk at a time, by
    :func:`iter_logs`).

    Attributes
    ----------
    feedback : ndarray of shape (n_samples,)
        Structured array from :func:`~sklearn_causal_routing.make_feedback`:
        ``action`` (the model, as str), ``quality``, ``cost`` (0 when no cost
        field was read), ``propensity`` (NaN when no propensity field was
        read) and, when a gold field was read, ``gold`` and ``judge``.
    prompts : ndarray of object of shape (n_samples,) or None
        The prompt text of each kept row (``None`` when no prompt field was
        read).
    features : ndarray of shape (n_samples, n_features) or None
        The numeric feature vector of each kept row, when a features field was
        read.
    lines : ndarray of int of shape (n_samples,)
        Line (Parquet: row) number of each kept row in the file.
    n_read : int
        Records read (kept, skipped and dropped duplicates; blank lines of a
        JSONL file are not records).
    n_skipped : int
        Malformed rows skipped (``on_error="skip"``).
    skipped : list of LogRowError
        The skipped rows with the reason (the first 10,000 when there are
        more; ``n_skipped`` counts them all).
    n_duplicates : int or None
        Rows that repeat an earlier row (same prompt or features, model,
        quality and cost). Dropped with ``duplicates="drop"``, kept (and only
        counted) with ``"keep"``. ``None`` when not checked (:func:`iter_logs`).
    duplicates : str
        The duplicate policy applied.
    path : str
        The file read.
    format : str
        Its format: ``"jsonl"``, ``"csv"`` or ``"parquet"``.

    Examples
    --------
    >>> import json, os, tempfile
    >>> from sklearn_causal_routing.logs import read_logs
    >>> path = os.path.join(tempfile.mkdtemp(), "logs.jsonl")
    >>> rows = [{"prompt": "2 + 2?", "model": "small", "quality": 1, "cost": 0.1},
    ...         {"prompt": "Prove it.", "model": "large", "quality": 0, "cost": 2.0}]
    >>> with open(path, "w") as f:
    ...     _ = f.write("\\n".join(json.dumps(r) for r in rows))
    ...
    >>> logs = read_logs(path)
    >>> logs
    GatewayLogs(n_samples=2, models=['large', 'small'], n_skipped=0, n_duplicates=0)
    >>> logs.X
    array(['2 + 2?', 'Prove it.'], dtype=object)
    """

    feedback: np.ndarray
    prompts: object = None
    features: object = None
    lines: object = None
    n_read: int = 0
    n_skipped: int = 0
    skipped: list = field(default_factory=list)
    n_duplicates: object = 0
    duplicates: str = "keep"
    path: str = ""
    format: str = ""

    @property
    def X(self):
        """The router's input: the prompts when read, else the features."""
        return self.prompts if self.prompts is not None else self.features

    @property
    def t(self):
        """The model that served each kept row (``feedback["action"]``)."""
        return self.feedback["action"]

    def __len__(self):
        return self.feedback.shape[0]

    def __repr__(self):
        models = np.unique(self.feedback["action"]).tolist()
        shown = models if len(models) <= 6 else models[:5] + ["..."]
        return (
            f"GatewayLogs(n_samples={len(self)}, models={shown}, "
            f"n_skipped={self.n_skipped}, n_duplicates={self.n_duplicates})"
        )

    def summary(self, max_errors=5):
        """A few lines saying what was read, skipped and dropped, and why.

        Parameters
        ----------
        max_errors : int, default=5
            How many skipped rows to list by line number.

        Returns
        -------
        text : str

        Examples
        --------
        >>> import numpy as np
        >>> from sklearn_causal_routing import make_feedback
        >>> from sklearn_causal_routing.logs import GatewayLogs, LogRowError
        >>> logs = GatewayLogs(make_feedback(["a"], [1.0]), n_read=2, n_skipped=1,
        ...                    skipped=[LogRowError(2, "quality", "missing field 'quality'")],
        ...                    path="logs.jsonl", format="jsonl")
        >>> print(logs.summary())
        logs.jsonl: 2 rows read, 1 kept, 1 malformed row skipped, 0 duplicates (kept)
          skipped by field: quality 1
          line 2: missing field 'quality'
        """
        kept = len(self)
        s = "" if self.n_skipped == 1 else "s"
        parts = [f"{self.n_read:,} rows read", f"{kept:,} kept"]
        if self.n_skipped:
            parts.append(f"{self.n_skipped:,} malformed row{s} skipped")
        if self.n_duplicates is not None:
            how = "dropped" if self.duplicates == "drop" else "kept"
            d = "" if self.n_duplicates == 1 else "s"
            parts.append(f"{self.n_duplicates:,} duplicate{d} ({how})")
        lines = [f"{self.path}: " + ", ".join(parts)]
        if self.n_skipped:
            counts = {}
            for err in self.skipped:
                key = err.field if err.field is not None else "<record>"
                counts[key] = counts.get(key, 0) + 1
            by = ", ".join(f"{k} {v:,}" for k, v in sorted(counts.items(), key=lambda kv: -kv[1]))
            more = "" if len(self.skipped) == self.n_skipped else f" (of the first {len(self.skipped):,})"
            lines.append(f"  skipped by field{more}: {by}")
            lines += [f"  {err}" for err in self.skipped[:max_errors]]
            if self.n_skipped > max_errors:
                lines.append(f"  ... and {self.n_skipped - max_errors:,} more")
        return "\n".join(lines)


# --------------------------------------------------------------------------- #
# format detection and record readers
# --------------------------------------------------------------------------- #
def _detect_format(path, format):
    if format is not None:
        if format not in FORMATS:
            raise ValueError(
                f"format must be one of {list(FORMATS)} or None (from the file "
                f"extension); got {format!r}."
            )
        return format
    name = Path(path).name.lower()
    name = name.removesuffix(".gz")
    suffix = Path(name).suffix
    if suffix not in _SUFFIXES:
        raise ValueError(
            f"Cannot tell the format of {str(path)!r} from its extension {suffix!r}; "
            f"pass format= one of {list(FORMATS)} (known extensions: "
            f"{sorted(_SUFFIXES)}, optionally followed by .gz)."
        )
    return _SUFFIXES[suffix]


def _open_binary(path, mode="rb"):
    if str(path).lower().endswith(".gz"):
        return gzip.open(path, mode)
    return open(path, mode)


def _check_path(path):
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(
            f"path must be a str or path-like naming a log file; got {type(path).__name__}."
        )
    if not Path(path).is_file():
        raise FileNotFoundError(f"No log file at {str(path)!r}.")
    return str(path)


def _jsonl_records(source):
    """Yield ``(line, dict)`` or ``(line, _RowError)`` for each non-blank line.

    ``source`` is a path or a binary file object (e.g. ``sys.stdin.buffer``).
    """
    loads = json.loads
    cm = _open_binary(source) if isinstance(source, (str, os.PathLike)) else (
        contextlib.nullcontext(source))
    with cm as f:
        for line_no, raw in enumerate(f, 1):
            if not raw.strip():
                continue
            try:
                rec = loads(raw)
            except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError
                msg = exc.msg if hasattr(exc, "msg") else str(exc)
                col = f" at column {exc.colno}" if hasattr(exc, "colno") else ""
                yield line_no, _RowError(None, f"invalid JSON ({msg}{col})")
                continue
            if type(rec) is not dict:
                yield line_no, _RowError(
                    None, f"not a JSON object (got a JSON {type(rec).__name__})"
                )
                continue
            yield line_no, rec


def _csv_records(path, needed):
    """Yield ``(line, dict)`` for each CSV record; empty cells are missing values."""
    with _open_binary(path) as fb:
        f = io.TextIOWrapper(fb, encoding="utf-8", newline="")
        reader = csv.reader(f)
        try:
            header = next(reader)
        except StopIteration:
            return
        except UnicodeDecodeError as exc:
            raise ValueError(f"{path}: the CSV header is not valid UTF-8 ({exc}).") from None
        _check_columns(path, header, needed, "CSV header")
        n_cols = len(header)
        previous_end = reader.line_num
        while True:
            start = previous_end + 1
            try:
                row = next(reader)
            except StopIteration:
                return
            except UnicodeDecodeError as exc:
                raise ValueError(
                    f"{path}: invalid UTF-8 after line {previous_end} ({exc}); re-encode "
                    "the file as UTF-8."
                ) from None
            except csv.Error as exc:
                previous_end = reader.line_num
                yield start, _RowError(None, f"unreadable CSV record ({exc})")
                continue
            previous_end = reader.line_num
            if not row:
                continue  # blank line
            if len(row) != n_cols:
                yield start, _RowError(
                    None, f"the record has {len(row)} cells but the header has {n_cols}"
                )
                continue
            yield start, {k: (v if v != "" else None) for k, v in zip(header, row)}


def _parquet_records(path, needed, chunk_size):
    try:
        import pyarrow.parquet as pq
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            "Reading Parquet logs needs pyarrow: pip install "
            f'"sklearn-causal-routing[data]" ({exc}).'
        ) from None
    pf = pq.ParquetFile(path)
    names = pf.schema_arrow.names
    _check_columns(path, names, needed, "Parquet schema")
    row = 0
    for batch in pf.iter_batches(batch_size=chunk_size, columns=list(needed)):
        for rec in batch.to_pylist():
            row += 1
            yield row, rec


def _check_columns(path, present, needed, where):
    missing = [f"{role}={name!r}" for name, role in needed.items() if name not in present]
    if missing:
        raise ValueError(
            f"{path}: the {where} has no column for {', '.join(missing)}; it has "
            f"{list(present)[:20]}. Name the columns, e.g. read_logs(path, "
            "prompt='input', model='served_by', quality='grade', cost='usd')."
        )


def peek_fields(path, *, format=None):
    """The field names of a log file, from its header or first record.

    Parameters
    ----------
    path : str or path-like
        A JSONL, CSV or Parquet log (optionally gzipped, except Parquet).
    format : {"jsonl", "csv", "parquet"}, default=None
        ``None`` infers it from the extension.

    Returns
    -------
    fields : list of str
        Column names (CSV, Parquet) or the keys of the first JSON object.

    Examples
    --------
    >>> import os, tempfile
    >>> from sklearn_causal_routing.logs import peek_fields
    >>> path = os.path.join(tempfile.mkdtemp(), "logs.csv")
    >>> with open(path, "w") as f:
    ...     _ = f.write("prompt,model,quality\\nhi,small,1\\n")
    ...
    >>> peek_fields(path)
    ['prompt', 'model', 'quality']
    """
    path = _check_path(path)
    fmt = _detect_format(path, format)
    if fmt == "parquet":
        import pyarrow.parquet as pq

        return list(pq.ParquetFile(path).schema_arrow.names)
    if fmt == "csv":
        with _open_binary(path) as fb:
            f = io.TextIOWrapper(fb, encoding="utf-8", newline="")
            return next(csv.reader(f), [])
    for _, rec in _jsonl_records(path):
        if isinstance(rec, dict):
            return list(rec)
    return []


# --------------------------------------------------------------------------- #
# per-row validation
# --------------------------------------------------------------------------- #
def _shown(value):
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _number(value, name):
    cls = value.__class__
    if cls is float or cls is int:
        out = float(value)
    elif cls is bool:
        out = 1.0 if value else 0.0
    elif value is None:
        raise _RowError(name, f"missing field {name!r}")
    elif isinstance(value, str):
        try:
            out = float(value)
        except ValueError:
            raise _RowError(name, f"field {name!r} must be a number; got {_shown(value)}") from None
    elif isinstance(value, numbers.Real):
        out = float(value)
    else:
        raise _RowError(name, f"field {name!r} must be a number; got {_shown(value)}")
    if not math.isfinite(out):
        raise _RowError(name, f"field {name!r} must be finite; got {_shown(value)}")
    return out


def _flag(value, name):
    if value is True or value is False:
        return value
    if value is None:
        raise _RowError(name, f"missing field {name!r}")
    if isinstance(value, numbers.Integral) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in _GOLD_WORDS:
        return _GOLD_WORDS[value.strip().lower()]
    raise _RowError(
        name, f"field {name!r} must be a boolean (true/false, 1/0); got {_shown(value)}"
    )


class _RowParser:
    """Validate one record (a dict) against the configured field names."""

    def __init__(self, *, prompt, model, quality, cost, propensity, gold, features):
        self.prompt, self.model, self.quality, self.cost = prompt, model, quality, cost
        self.propensity, self.gold, self.features = propensity, gold, features
        self.dim = None

    def needed(self):
        """``{field name in the file: role}`` for the fields that are read."""
        roles = ("prompt", "model", "quality", "cost", "propensity", "gold", "features")
        return {getattr(self, r): r for r in roles if getattr(self, r) is not None}

    def parse(self, rec):
        get = rec.get
        prompt = None
        if self.prompt is not None:
            prompt = get(self.prompt)
            if prompt.__class__ is not str:
                if prompt is None:
                    raise _RowError(self.prompt, self._missing(self.prompt, rec))
                if not isinstance(prompt, str):
                    raise _RowError(
                        self.prompt,
                        f"field {self.prompt!r} (the prompt) must be a string; got "
                        f"{_shown(prompt)}",
                    )
        model = None
        if self.model is not None:
            model = get(self.model)
            if model.__class__ is not str or not model:
                model = self._model(model, rec)
        quality = cost = propensity = gold = feats = None
        if self.quality is not None:
            quality = get(self.quality)
            if quality is None:
                raise _RowError(self.quality, self._missing(self.quality, rec))
            quality = _number(quality, self.quality)
        if self.cost is not None:
            cost = get(self.cost)
            if cost is None:
                raise _RowError(self.cost, self._missing(self.cost, rec))
            cost = _number(cost, self.cost)
            if cost < 0:
                raise _RowError(self.cost, f"field {self.cost!r} (cost) must be >= 0; got {cost!r}")
        if self.propensity is not None:
            propensity = get(self.propensity)
            if propensity is None:
                raise _RowError(self.propensity, self._missing(self.propensity, rec))
            propensity = _number(propensity, self.propensity)
            if not 0 < propensity <= 1:
                raise _RowError(
                    self.propensity,
                    f"field {self.propensity!r} (propensity) must be in (0, 1]; got "
                    f"{propensity!r}",
                )
        if self.gold is not None:
            gold = get(self.gold)
            if gold is None:
                raise _RowError(self.gold, self._missing(self.gold, rec))
            gold = _flag(gold, self.gold)
        if self.features is not None:
            feats = get(self.features)
            if feats is None:
                raise _RowError(self.features, self._missing(self.features, rec))
            feats = self._features(feats)
        return prompt, model, quality, cost, propensity, gold, feats

    def _missing(self, name, rec):
        if name in rec:
            return f"field {name!r} is empty (null)"
        return f"missing field {name!r}; the record has fields {sorted(rec)[:10]}"

    def _model(self, value, rec):
        name = self.model
        if value is None:
            raise _RowError(name, self._missing(name, rec))
        if isinstance(value, numbers.Integral) and not isinstance(value, bool):
            return str(value)
        if isinstance(value, str):  # empty
            raise _RowError(name, f"field {name!r} (the model) is empty")
        raise _RowError(
            name, f"field {name!r} (the model) must be a string; got {_shown(value)}"
        )

    def _features(self, value):
        name = self.features
        if value is None:
            raise _RowError(name, f"missing field {name!r}")
        if isinstance(value, str):  # CSV: a JSON array or space/comma separated numbers
            text = value.strip()
            try:
                value = json.loads(text) if text.startswith("[") else text.replace(",", " ").split()
            except ValueError:
                raise _RowError(
                    name, f"field {name!r} must be a list of numbers; got {_shown(value)}"
                ) from None
        if not isinstance(value, (list, tuple)) or not value:
            raise _RowError(
                name, f"field {name!r} must be a non-empty list of numbers; got {_shown(value)}"
            )
        try:
            arr = [float(v) for v in value if not isinstance(v, bool)]
        except (TypeError, ValueError):
            raise _RowError(
                name, f"field {name!r} must be a list of numbers; got {_shown(value)}"
            ) from None
        if len(arr) != len(value) or not all(math.isfinite(v) for v in arr):
            raise _RowError(name, f"field {name!r} must hold finite numbers; got {_shown(value)}")
        if self.dim is None:
            self.dim = len(arr)
        elif len(arr) != self.dim:
            raise _RowError(
                name,
                f"field {name!r} has {len(arr)} values but earlier rows have {self.dim}",
            )
        return arr


def _check_option(value, name, options):
    if value not in options:
        raise ValueError(f"{name} must be one of {list(options)}; got {value!r}.")


def _check_field(value, name, required):
    if value is None and not required:
        return
    if not isinstance(value, str) or not value:
        need = "a field name (str)" + ("" if required else " or None")
        raise TypeError(f"{name} must be {need}; got {value!r}.")


def _check_chunk_size(chunk_size):
    if (
        isinstance(chunk_size, bool)
        or not isinstance(chunk_size, numbers.Integral)
        or chunk_size < 1
    ):
        raise ValueError(f"chunk_size must be an integer >= 1; got {chunk_size!r}.")
    return int(chunk_size)


def _make_parser(prompt, model, quality, cost, propensity, gold, features, *, need_outcome=True):
    for name, value, required in (
        ("model", model, need_outcome), ("quality", quality, need_outcome),
        ("prompt", prompt, False), ("cost", cost, False),
        ("propensity", propensity, False), ("gold", gold, False),
        ("features", features, False),
    ):
        _check_field(value, name, required)
    if prompt is None and features is None:
        raise ValueError(
            "prompt and features are both None: the logs need the router's input, a "
            "prompt field (prompt='prompt') or a numeric features field "
            "(features='features')."
        )
    names = [v for v in (prompt, model, quality, cost, propensity, gold, features) if v is not None]
    if len(set(names)) != len(names):
        raise ValueError(f"Field names must differ from one another; got {names}.")
    return _RowParser(prompt=prompt, model=model, quality=quality, cost=cost,
                      propensity=propensity, gold=gold, features=features)


def _records(path, fmt, parser, chunk_size):
    if fmt == "jsonl":
        return _jsonl_records(path)
    if fmt == "csv":
        return _csv_records(path, parser.needed())
    return _parquet_records(path, parser.needed(), chunk_size)


def _iter_chunks(path, fmt, parser, *, on_error, chunk_size):
    """Yield ``(columns, errors, n_read)`` per chunk of ``chunk_size`` kept rows."""
    cols = [[] for _ in range(7)]
    lines, errors, n_read = [], [], 0
    parse = parser.parse

    def flush():
        out = _columns(cols, lines, parser)
        for c in cols:
            c.clear()
        lines.clear()
        return out

    for line_no, rec in _records(path, fmt, parser, chunk_size):
        n_read += 1
        try:
            if rec.__class__ is _RowError:
                raise rec
            values = parse(rec)
        except _RowError as err:
            error = LogRowError(line_no, err.field, err.reason)
            if on_error == "raise":
                raise MalformedLogError(path, error) from None
            errors.append(error)
            continue
        for c, v in zip(cols, values):
            c.append(v)
        lines.append(line_no)
        if len(lines) >= chunk_size:
            yield flush(), errors, n_read
            errors, n_read = [], 0
    if lines or errors or n_read:
        yield flush(), errors, n_read


def _columns(cols, lines, parser):
    prompts, models, quality, cost, propensity, gold, feats = cols
    n = len(lines)
    out = {"lines": np.asarray(lines, dtype=np.int64), "n": n}
    out["prompt"] = np.array(prompts, dtype=object) if parser.prompt is not None else None
    out["model"] = np.array(models, dtype=str) if parser.model is not None else None
    for key, values, present in (
        ("quality", quality, parser.quality), ("cost", cost, parser.cost),
        ("propensity", propensity, parser.propensity),
    ):
        out[key] = np.array(values, dtype=np.float64) if present is not None else None
    out["gold"] = np.array(gold, dtype=bool) if parser.gold is not None else None
    if parser.features is not None:
        out["features"] = (
            np.array(feats, dtype=np.float64) if n else np.empty((0, parser.dim or 0))
        )
    else:
        out["features"] = None
    return out


def _concat(parts, key):
    if parts[0][key] is None:
        return None
    arrays = [p[key] for p in parts if p["n"]]
    if not arrays:
        return parts[0][key]
    return arrays[0] if len(arrays) == 1 else np.concatenate(arrays)


def _feedback(cols):
    return make_feedback(
        cols["model"], cols["quality"], cost=cols["cost"], propensity=cols["propensity"],
        gold=cols["gold"],
    )


# --------------------------------------------------------------------------- #
# duplicates
# --------------------------------------------------------------------------- #
def _duplicate_rows(cols):
    """Indices of rows repeating an earlier row, and of the row each repeats."""
    n = cols["n"]
    if n < 2:
        return np.empty(0, dtype=np.intp), np.empty(0, dtype=np.intp)
    key = cols["prompt"] if cols["prompt"] is not None else None
    if key is None:
        feats = np.ascontiguousarray(cols["features"])
        key = [row.tobytes() for row in feats]
    models, quality = cols["model"].tolist(), cols["quality"].tolist()
    cost = cols["cost"].tolist() if cols["cost"] is not None else [0.0] * n
    h = np.fromiter(
        (hash(k) for k in zip(key, models, quality, cost)), dtype=np.int64, count=n
    )
    order = np.argsort(h, kind="stable")
    hs = h[order]
    same = np.flatnonzero(hs[1:] == hs[:-1]) + 1
    if same.size == 0:
        return np.empty(0, dtype=np.intp), np.empty(0, dtype=np.intp)
    # first row of each run of equal hashes (stable sort: the earliest row)
    starts = np.flatnonzero(np.r_[True, hs[1:] != hs[:-1]])
    run_first = order[starts[np.searchsorted(starts, same, side="right") - 1]]
    dup, first = order[same], run_first
    # confirm: equal hashes of unequal rows (a collision) are not duplicates
    keep = [
        key[i] == key[j] and models[i] == models[j] and quality[i] == quality[j]
        and cost[i] == cost[j]
        for i, j in zip(dup.tolist(), first.tolist())
    ]
    keep = np.asarray(keep, dtype=bool)
    dup, first = dup[keep], first[keep]
    order = np.argsort(dup)
    return dup[order], first[order]


def _take(cols, index):
    out = {}
    for key, value in cols.items():
        out[key] = value[index] if isinstance(value, np.ndarray) else value
    out["n"] = out["lines"].shape[0]
    return out


# --------------------------------------------------------------------------- #
# public readers
# --------------------------------------------------------------------------- #
def read_logs(
    path,
    *,
    format=None,
    prompt="prompt",
    model="model",
    quality="quality",
    cost="cost",
    propensity=None,
    gold=None,
    features=None,
    on_error="raise",
    duplicates="keep",
    chunk_size=100_000,
):
    """Read a gateway log (JSONL, CSV or Parquet) into prompts and feedback.

    Every row is validated; a malformed row either stops the read with its
    line number and the reason (``on_error="raise"``) or is skipped and
    counted (``on_error="skip"``). The file is streamed in chunks: memory is
    bounded by the arrays returned.

    Parameters
    ----------
    path : str or path-like
        The log file. ``.jsonl`` / ``.ndjson`` / ``.json`` (one JSON object per
        line), ``.csv`` (a header row, then one request per row) or
        ``.parquet``; JSONL and CSV may be gzipped (``.jsonl.gz``).
    format : {"jsonl", "csv", "parquet"}, default=None
        ``None`` infers it from the extension.
    prompt : str or None, default="prompt"
        Field with the prompt text (a string; may be empty). ``None`` when the
        logs carry features instead.
    model : str, default="model"
        Field with the model that served the request (a string; integers are
        read as strings).
    quality : str, default="quality"
        Field with the graded outcome, a finite number (``true`` / ``false``
        read as 1 / 0, so thumbs-up flags work).
    cost : str or None, default="cost"
        Field with the cost of the call, a finite number >= 0. ``None``: cost
        not tracked (all zeros).
    propensity : str or None, default=None
        Field with the probability, in (0, 1], with which the logging rule
        picked the served model, when the gateway recorded it. ``None``: not
        read (propensities are then estimated by the router).
    gold : str or None, default=None
        Field with a boolean flag, true where the grade is gold-standard and
        false where it is a cheap judge grade (see
        :func:`~sklearn_causal_routing.make_feedback`). ``None``: not read.
    features : str or None, default=None
        Field with a numeric feature vector (a JSON list; in CSV a JSON array
        or space-separated numbers), e.g. simulated logs, which have no text.
        Every row must have the same length.
    on_error : {"raise", "skip"}, default="raise"
        What a malformed row does: raise :class:`MalformedLogError` naming the
        line and the reason, or be skipped (counted in ``n_skipped``, listed
        in ``skipped``).
    duplicates : {"keep", "drop", "raise"}, default="keep"
        What to do with a row that repeats an earlier row exactly: same
        prompt (or features), model, quality and cost. ``"keep"`` keeps it
        (repeated identical requests are real traffic) and counts it in
        ``n_duplicates``; ``"drop"`` keeps only the first occurrence (for
        double-logged requests); ``"raise"`` raises a ``ValueError`` naming
        both lines. Propensity and gold flag are not compared.
    chunk_size : int, default=100000
        Rows parsed per chunk.

    Returns
    -------
    logs : GatewayLogs
        ``prompts`` (or ``features``), ``feedback``, the source ``lines`` of
        the kept rows and the counts ``n_read``, ``n_skipped`` and
        ``n_duplicates``.

    Raises
    ------
    MalformedLogError
        With ``on_error="raise"``, at the first malformed row.
    ValueError
        If a configured column is absent from a CSV header or Parquet schema,
        no row is valid, or ``duplicates="raise"`` finds a repeated row.

    See Also
    --------
    iter_logs : The same, one chunk at a time.
    write_logs : Write logs in these formats.

    Notes
    -----
    Line numbers count physical lines from 1: for CSV the header is line 1
    and a record spanning several lines is reported at its first line; for
    Parquet they are 1-based row numbers. Blank lines are not records. In CSV
    an empty cell is a missing value. Every configured field must be present
    in every row: a row lacking, say, the propensity is malformed (so that
    the propensity is either recorded for all rows or estimated for all).

    Examples
    --------
    >>> import os, tempfile
    >>> from sklearn_causal_routing.logs import read_logs
    >>> path = os.path.join(tempfile.mkdtemp(), "gateway.csv")
    >>> with open(path, "w") as f:
    ...     _ = f.write("input,served_by,grade,usd\\n"
    ...             "What is 2 + 2?,small,1,0.001\\n"
    ...             "Prove Fermat's last theorem,large,oops,0.05\\n"
    ...             "What is 2 + 2?,small,1,0.001\\n")
    ...
    >>> logs = read_logs(path, prompt="input", model="served_by", quality="grade",
    ...                  cost="usd", on_error="skip")
    >>> print(logs.summary())
    /...gateway.csv: 3 rows read, 2 kept, 1 malformed row skipped, 1 duplicate (kept)
      skipped by field: grade 1
      line 3: field 'grade' must be a number; got 'oops'
    >>> logs.feedback["action"], logs.feedback["cost"]
    (array(['small', 'small'], dtype='<U5'), array([0.001, 0.001]))
    """
    path = _check_path(path)
    fmt = _detect_format(path, format)
    _check_option(on_error, "on_error", ("raise", "skip"))
    _check_option(duplicates, "duplicates", DUPLICATE_POLICIES)
    chunk_size = _check_chunk_size(chunk_size)
    parser = _make_parser(prompt, model, quality, cost, propensity, gold, features)

    parts, skipped, n_skipped, n_read = [], [], 0, 0
    for cols, errors, n in _iter_chunks(path, fmt, parser, on_error=on_error,
                                        chunk_size=chunk_size):
        parts.append(cols)
        n_read += n
        n_skipped += len(errors)
        room = MAX_LISTED - len(skipped)
        if room > 0:
            skipped.extend(errors[:room])
    kept = sum(p["n"] for p in parts)
    if kept == 0:
        detail = "; ".join(str(e) for e in skipped[:3])
        raise ValueError(
            f"{path}: no valid rows ({n_read} read, {n_skipped} malformed)"
            + (f"; first problems: {detail}" if detail else "")
            + ". Check the field names: "
            f"{', '.join(f'{r}={n!r}' for n, r in parser.needed().items())}."
        )
    cols = {key: _concat(parts, key) for key in parts[0] if key != "n"}
    cols["n"] = kept
    del parts

    dup, first = _duplicate_rows(cols)
    if dup.size and duplicates == "raise":
        lines = cols["lines"]
        raise ValueError(
            f"{path}: {dup.size} row(s) repeat an earlier row (same prompt, model, quality "
            f"and cost); first: line {lines[dup[0]]} repeats line {lines[first[0]]}. Pass "
            "duplicates='keep' to keep repeated requests or duplicates='drop' to keep "
            "only the first occurrence."
        )
    if dup.size and duplicates == "drop":
        mask = np.ones(kept, dtype=bool)
        mask[dup] = False
        cols = _take(cols, mask)
    return GatewayLogs(
        feedback=_feedback(cols),
        prompts=cols["prompt"],
        features=cols["features"],
        lines=cols["lines"],
        n_read=n_read,
        n_skipped=n_skipped,
        skipped=skipped,
        n_duplicates=int(dup.size),
        duplicates=duplicates,
        path=path,
        format=fmt,
    )


def iter_logs(
    path,
    *,
    format=None,
    prompt="prompt",
    model="model",
    quality="quality",
    cost="cost",
    propensity=None,
    gold=None,
    features=None,
    on_error="raise",
    chunk_size=100_000,
):
    """Stream a gateway log in chunks of validated rows.

    For files too big to hold at once: each chunk is a :class:`GatewayLogs`
    of at most ``chunk_size`` kept rows, with the rows skipped since the
    previous chunk. Duplicates are not looked for (``n_duplicates`` is
    ``None``): that needs the whole file, see :func:`read_logs`.

    Parameters
    ----------
    path : str or path-like
        The log file, as for :func:`read_logs`.
    format, prompt, model, quality, cost, propensity, gold, features, on_error
        As for :func:`read_logs`.
    chunk_size : int, default=100000
        Kept rows per chunk.

    Yields
    ------
    chunk : GatewayLogs
        ``n_read`` and ``n_skipped`` count the records of this chunk only.

    See Also
    --------
    read_logs : The whole file at once, with duplicate handling.

    Examples
    --------
    >>> import json, os, tempfile
    >>> from sklearn_causal_routing.logs import iter_logs
    >>> path = os.path.join(tempfile.mkdtemp(), "logs.jsonl")
    >>> with open(path, "w") as f:
    ...     for i in range(5):
    ...         _ = f.write(json.dumps({"prompt": f"q{i}", "model": "a", "quality": 1,
    ...                                 "cost": 0.5}) + "\\n")
    >>> [len(chunk) for chunk in iter_logs(path, chunk_size=2)]
    [2, 2, 1]
    """
    path = _check_path(path)
    fmt = _detect_format(path, format)
    _check_option(on_error, "on_error", ("raise", "skip"))
    chunk_size = _check_chunk_size(chunk_size)
    parser = _make_parser(prompt, model, quality, cost, propensity, gold, features)
    for cols, errors, n_read in _iter_chunks(path, fmt, parser, on_error=on_error,
                                             chunk_size=chunk_size):
        if cols["n"] == 0:
            if errors:  # trailing malformed rows: an empty chunk that reports them
                empty = make_feedback(np.array(["?"]), [0.0])[:0]
                yield GatewayLogs(feedback=empty, prompts=cols["prompt"],
                                  features=cols["features"], lines=cols["lines"],
                                  n_read=n_read, n_skipped=len(errors), skipped=errors,
                                  n_duplicates=None, duplicates="keep", path=path,
                                  format=fmt)
            continue
        yield GatewayLogs(
            feedback=_feedback(cols), prompts=cols["prompt"], features=cols["features"],
            lines=cols["lines"], n_read=n_read, n_skipped=len(errors), skipped=errors,
            n_duplicates=None, duplicates="keep", path=path, format=fmt,
        )


def _read_inputs(path, *, format=None, prompt="prompt", features=None, chunk_size=10_000):
    """Yield arrays of router inputs (prompts or feature rows) from a file.

    Used by the command line's ``route``: only the input field is read, and
    every row must have it (a malformed row raises, so that outputs stay
    aligned with inputs).
    """
    if path == "-":  # stdin, JSONL only
        fmt = "jsonl" if format is None else format
        if fmt != "jsonl":
            raise ValueError(f"stdin is read as JSONL or lines; got format {fmt!r}.")
        import sys

        path = sys.stdin.buffer
    else:
        path = _check_path(path)
        fmt = _detect_format(path, format)
    if features is not None:
        prompt = None
    parser = _make_parser(prompt, None, None, None, None, None, features, need_outcome=False)
    for cols, _, _ in _iter_chunks(path, fmt, parser, on_error="raise",
                                   chunk_size=chunk_size):
        if cols["n"]:
            yield cols["prompt"] if features is None else cols["features"]


# --------------------------------------------------------------------------- #
# writer
# --------------------------------------------------------------------------- #
_DEFAULT_FIELDS = {
    "prompt": "prompt", "model": "model", "quality": "quality", "cost": "cost",
    "propensity": "propensity", "gold": "gold", "features": "features",
}


def _plain(value):
    """A JSON-serialisable Python scalar."""
    if isinstance(value, np.generic):
        return value.item()
    return value


def write_logs(path, feedback, *, prompts=None, features=None, extra=None, format=None,
               fields=None):
    """Write logged feedback as a gateway log (JSONL, CSV or Parquet).

    The inverse of :func:`read_logs`: one record per row with the prompt (or
    the feature vector), the model, quality, cost, the propensity when the
    feedback records it and the gold flag when it has one.

    Parameters
    ----------
    path : str or path-like
        Output file; the format follows the extension (``.jsonl``, ``.csv``,
        ``.parquet``, optionally ``.gz`` for the first two) unless ``format``
        is given. Parent folders must exist.
    feedback : ndarray of shape (n_samples,)
        A feedback array (:func:`~sklearn_causal_routing.make_feedback`).
    prompts : array-like of str of shape (n_samples,), default=None
        The prompt of each row.
    features : array-like of shape (n_samples, n_features), default=None
        A numeric feature vector per row (written as a list; in CSV as a JSON
        array). At least one of ``prompts`` and ``features`` is required.
    extra : dict of str to array-like of shape (n_samples,), default=None
        More fields to write (e.g. ``{"task": table.task}``).
    format : {"jsonl", "csv", "parquet"}, default=None
        ``None`` infers it from the extension.
    fields : dict, default=None
        Field names to use instead of the defaults ``{"prompt": "prompt",
        "model": "model", "quality": "quality", "cost": "cost", "propensity":
        "propensity", "gold": "gold", "features": "features"}`` (only the
        ones to change).

    Returns
    -------
    path : str
        The file written.

    See Also
    --------
    read_logs : Read it back.

    Examples
    --------
    >>> import os, tempfile
    >>> from sklearn_causal_routing import make_feedback
    >>> from sklearn_causal_routing.logs import read_logs, write_logs
    >>> fb = make_feedback(["small", "large"], [1.0, 0.0], cost=[0.1, 2.0],
    ...                    propensity=[0.7, 0.3])
    >>> path = write_logs(os.path.join(tempfile.mkdtemp(), "logs.jsonl"), fb,
    ...                   prompts=["2 + 2?", "Prove it."])
    >>> print(open(path).readline().strip())
    {"prompt": "2 + 2?", "model": "small", "quality": 1.0, "cost": 0.1, "propensity": 0.7}
    >>> read_logs(path, propensity="propensity").feedback["propensity"]
    array([0.7, 0.3])
    """
    from ._feedback import check_feedback

    fb = check_feedback(feedback, name="feedback")
    n = fb.shape[0]
    fmt = _detect_format(path, format)
    names = dict(_DEFAULT_FIELDS)
    if fields is not None:
        unknown = sorted(set(fields) - set(names))
        if unknown:
            raise ValueError(
                f"fields has unknown key(s) {unknown}; the keys are {sorted(names)}."
            )
        names.update(fields)
    if prompts is None and features is None:
        raise ValueError(
            "write_logs needs the router's input: prompts=<one str per row> or "
            "features=<(n_samples, n_features) array>; got neither."
        )
    columns = {}
    if prompts is not None:
        prompts = np.asarray(prompts, dtype=object)
        if prompts.shape != (n,):
            raise ValueError(
                f"prompts must have one entry per feedback row ({n}); got shape "
                f"{prompts.shape}."
            )
        bad = [i for i, p in enumerate(prompts.tolist()) if not isinstance(p, str)]
        if bad:
            raise TypeError(
                f"prompts must be str; row {bad[0]} is {type(prompts[bad[0]]).__name__}."
            )
        columns[names["prompt"]] = prompts.tolist()
    if features is not None:
        features = np.asarray(features, dtype=np.float64)
        if features.ndim != 2 or features.shape[0] != n:
            raise ValueError(
                f"features must have shape ({n}, n_features), one row per feedback row; "
                f"got shape {features.shape}."
            )
    columns[names["model"]] = fb["action"].tolist()
    columns[names["quality"]] = fb["quality"].tolist()
    columns[names["cost"]] = fb["cost"].tolist()
    prop = np.asarray(fb["propensity"], dtype=np.float64)
    if not np.isnan(prop).any():
        columns[names["propensity"]] = prop.tolist()
    if "gold" in fb.dtype.names:
        columns[names["gold"]] = fb["gold"].tolist()
    for key, values in (extra or {}).items():
        values = np.asarray(values)
        if values.shape != (n,):
            raise ValueError(
                f"extra[{key!r}] must have one entry per row ({n}); got shape {values.shape}."
            )
        if key in columns or key == names["features"]:
            raise ValueError(f"extra[{key!r}] clashes with a field already written.")
        columns[key] = [_plain(v) for v in values.tolist()]
    feature_rows = features.tolist() if features is not None else None

    keys = list(columns)
    if feature_rows is not None:
        keys.append(names["features"])
    if fmt == "parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        data = dict(columns)
        if feature_rows is not None:
            data[names["features"]] = pa.array(feature_rows, type=pa.list_(pa.float64()))
        pq.write_table(pa.table(data), str(path))
        return str(path)
    value_lists = [columns[k] for k in columns]
    if fmt == "jsonl":
        dumps = json.dumps
        with _open_binary(path, "wb") as fb_out:
            f = io.TextIOWrapper(fb_out, encoding="utf-8", newline="\n")
            for i in range(n):
                rec = {k: v[i] for k, v in zip(columns, value_lists)}
                if feature_rows is not None:
                    rec[names["features"]] = feature_rows[i]
                f.write(dumps(rec, ensure_ascii=False))
                f.write("\n")
            f.flush()
            f.detach()
        return str(path)
    with _open_binary(path, "wb") as fb_out:
        f = io.TextIOWrapper(fb_out, encoding="utf-8", newline="")
        writer = csv.writer(f)
        writer.writerow(keys)
        for i in range(n):
            row = [_csv_cell(v[i]) for v in value_lists]
            if feature_rows is not None:
                row.append(json.dumps(feature_rows[i]))
            writer.writerow(row)
        f.flush()
        f.detach()
    return str(path)


def _csv_cell(value):
    if value is True or value is False:
        return "true" if value else "false"
    if value is None:
        return ""
    return value
