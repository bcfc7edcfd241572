"""Log files: their formats, opening them, and reading their records.

Each record reader yields ``(line number, dict)`` per record, or ``(line
number, RowError)`` for a record that cannot be read at all (invalid JSON, a
CSV record with the wrong number of cells); validating the fields of a record
is :mod:`._parse`'s job.
"""

import contextlib
import csv
import gzip
import io
import json
import os
from pathlib import Path

from ..utils._optional import import_optional
from ._result import RowError

__all__ = [
    "FORMATS",
    "check_path",
    "count_fields",
    "csv_records",
    "detect_format",
    "guess_format",
    "jsonl_records",
    "open_log",
    "parquet_records",
    "peek_fields",
]

#: File formats understood by :func:`read_logs` and :func:`write_logs`.
FORMATS = ("jsonl", "csv", "parquet")

_SUFFIXES = {
    ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl",
    ".csv": "csv",
    ".parquet": "parquet", ".pq": "parquet",
}


def guess_format(path):
    """The log format a file name implies, or ``None`` when its extension is unknown.

    Parameters
    ----------
    path : str or path-like
        A file name; a trailing ``.gz`` is looked through.

    Returns
    -------
    format : {"jsonl", "csv", "parquet"} or None

    See Also
    --------
    read_logs : Reads the formats named here.

    Examples
    --------
    >>> from sklearn_causal_routing.logs import guess_format
    >>> guess_format("gateway.ndjson.gz"), guess_format("logs.PARQUET"), guess_format("notes.txt")
    ('jsonl', 'parquet', None)
    """
    name = Path(path).name.lower().removesuffix(".gz")
    return _SUFFIXES.get(Path(name).suffix)


def detect_format(path, format):
    """``format`` checked, or the format of ``path`` from its extension (else raise)."""
    if format is not None:
        if format not in FORMATS:
            raise ValueError(
                f"format must be one of {list(FORMATS)} or None (from the file "
                f"extension); got {format!r}."
            )
        return format
    fmt = guess_format(path)
    if fmt is None:
        suffix = Path(Path(path).name.lower().removesuffix(".gz")).suffix
        raise ValueError(
            f"Cannot tell the format of {str(path)!r} from its extension {suffix!r}; "
            f"pass format= one of {list(FORMATS)} (known extensions: "
            f"{sorted(_SUFFIXES)}, optionally followed by .gz)."
        )
    return fmt


def open_log(path, mode="rb"):
    """Open a log file in binary mode, decompressing it when its name ends in ``.gz``.

    Parameters
    ----------
    path : str or path-like
        The file.
    mode : {"rb", "wb"}, default="rb"
        Read or write.

    Returns
    -------
    file : binary file object
        Use it as a context manager.

    Examples
    --------
    >>> import os, tempfile
    >>> from sklearn_causal_routing.logs import open_log
    >>> path = os.path.join(tempfile.mkdtemp(), "prompts.txt.gz")
    >>> with open_log(path, "wb") as f:
    ...     _ = f.write(b"2 + 2?\\n")
    >>> with open_log(path) as f:
    ...     f.read()
    b'2 + 2?\\n'
    """
    if mode not in ("rb", "wb"):
        raise ValueError(f"mode must be 'rb' or 'wb'; got {mode!r}.")
    if str(path).lower().endswith(".gz"):
        return gzip.open(path, mode)
    return open(path, mode)


def check_path(path):
    """``path`` as a str, after checking that it names an existing file."""
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(
            f"path must be a str or path-like naming a log file; got {type(path).__name__}."
        )
    if not Path(path).is_file():
        raise FileNotFoundError(f"No log file at {str(path)!r}.")
    return str(path)


def jsonl_records(source):
    """Yield ``(line, dict)`` or ``(line, RowError)`` for each non-blank line.

    ``source`` is a path or a binary file object (e.g. ``sys.stdin.buffer``).
    The column of a JSON error counts characters from 1 on the line itself (a
    record cut short is reported at the end of its line).
    """
    loads = json.loads
    cm = open_log(source) if isinstance(source, (str, os.PathLike)) else (
        contextlib.nullcontext(source))
    with cm as f:
        for line_no, raw in enumerate(f, 1):
            raw = raw.rstrip(b"\r\n")
            if not raw.strip():
                continue
            try:
                rec = loads(raw)
            except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError
                msg = exc.msg if hasattr(exc, "msg") else str(exc)
                col = f" at column {exc.colno}" if hasattr(exc, "colno") else ""
                yield line_no, RowError(None, f"invalid JSON ({msg}{col})")
                continue
            if type(rec) is not dict:
                yield line_no, RowError(
                    None, f"not a JSON object (got a JSON {type(rec).__name__})"
                )
                continue
            yield line_no, rec


def csv_records(path, needed):
    """Yield ``(line, dict)`` for each CSV record; empty cells are missing values."""
    with open_log(path) as fb:
        f = io.TextIOWrapper(fb, encoding="utf-8", newline="")
        reader = csv.reader(f)
        try:
            header = next(reader)
        except StopIteration:
            return
        except UnicodeDecodeError as exc:
            raise ValueError(f"{path}: the CSV header is not valid UTF-8 ({exc}).") from None
        check_columns(path, header, needed, "CSV header")
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
                yield start, RowError(None, f"unreadable CSV record ({exc})")
                continue
            previous_end = reader.line_num
            if not row:
                continue  # blank line
            if len(row) != n_cols:
                yield start, RowError(
                    None, f"the record has {len(row)} cells but the header has {n_cols}"
                )
                continue
            yield start, {k: (v if v != "" else None) for k, v in zip(header, row)}


def _import_parquet():
    return import_optional("pyarrow.parquet", extra="data", needed_by="Reading Parquet logs")


def parquet_records(path, needed, chunk_size):
    """Yield ``(row, dict)`` for each Parquet row (1-based), reading only ``needed``."""
    pq = _import_parquet()
    pf = pq.ParquetFile(path)
    names = pf.schema_arrow.names
    check_columns(path, names, needed, "Parquet schema")
    row = 0
    for batch in pf.iter_batches(batch_size=chunk_size, columns=list(needed)):
        for rec in batch.to_pylist():
            row += 1
            yield row, rec


def check_columns(path, present, needed, where):
    """Raise naming the configured fields that a CSV header or Parquet schema lacks."""
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

    See Also
    --------
    count_fields : How many records of the whole file have each field.

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
    path = check_path(path)
    fmt = detect_format(path, format)
    if fmt == "parquet":
        return list(_import_parquet().ParquetFile(path).schema_arrow.names)
    if fmt == "csv":
        with open_log(path) as fb:
            f = io.TextIOWrapper(fb, encoding="utf-8", newline="")
            return next(csv.reader(f), [])
    for _, rec in jsonl_records(path):
        if isinstance(rec, dict):
            return list(rec)
    return []


def count_fields(path, fields=None, *, format=None):
    """How many records of a log file have a value for each field.

    Reads the whole file (:func:`peek_fields` reads only the first record):
    JSONL records need not all have the same fields, and a CSV or Parquet
    column may be empty on some rows.

    Parameters
    ----------
    path : str or path-like
        A JSONL, CSV or Parquet log (optionally gzipped, except Parquet).
    fields : sequence of str, default=None
        The fields to count; ``None`` counts every field seen.
    format : {"jsonl", "csv", "parquet"}, default=None
        ``None`` infers it from the extension.

    Returns
    -------
    n_records : int
        Readable records (a line of invalid JSON or a CSV record with the
        wrong number of cells is not one).
    counts : dict of str to int
        Per field, the records where it is present and not missing (JSON
        ``null``, an empty CSV cell, a Parquet null); 0 for a requested field
        that no record has.

    See Also
    --------
    peek_fields : The fields of the first record only.
    read_logs : Reads the file, requiring every configured field in every row.

    Examples
    --------
    >>> import json, os, tempfile
    >>> from sklearn_causal_routing.logs import count_fields
    >>> path = os.path.join(tempfile.mkdtemp(), "logs.jsonl")
    >>> rows = [{"prompt": "hi", "model": "a", "quality": 1},
    ...         {"prompt": "yo", "model": "b", "quality": 0, "propensity": 0.4},
    ...         {"prompt": "ok", "model": "a", "quality": 1, "propensity": None}]
    >>> with open(path, "w") as f:
    ...     _ = f.write("\\n".join(json.dumps(r) for r in rows))
    >>> count_fields(path, ["propensity", "cost"])
    (3, {'propensity': 1, 'cost': 0})
    """
    path = check_path(path)
    fmt = detect_format(path, format)
    if fields is not None:
        if isinstance(fields, str):
            fields = [fields]
        fields = list(fields)
        bad = [f for f in fields if not isinstance(f, str)]
        if bad:
            raise TypeError(f"fields must be field names (str); got {bad[0]!r}.")
    counts = dict.fromkeys(fields or (), 0)
    n = 0
    if fmt == "parquet":
        pf = _import_parquet().ParquetFile(path)
        names = pf.schema_arrow.names
        wanted = [f for f in (names if fields is None else fields) if f in names]
        counts.update(dict.fromkeys(wanted, 0))
        n = pf.metadata.num_rows
        if wanted:
            for batch in pf.iter_batches(columns=wanted):
                for name in wanted:
                    column = batch.column(name)
                    counts[name] += len(column) - column.null_count
        return n, counts
    records = (jsonl_records(path) if fmt == "jsonl" else
               csv_records(path, {}))
    for _, rec in records:
        if rec.__class__ is RowError:
            continue
        n += 1
        for key in (rec if fields is None else fields):
            if rec.get(key) is not None:
                counts[key] = counts.get(key, 0) + 1
    return n, counts
