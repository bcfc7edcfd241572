"""Reading gateway logs: the whole file (:func:`read_logs`), in chunks
(:func:`iter_logs`), or only the router's inputs (:func:`iter_inputs`).
"""

import sys

import numpy as np

from .._feedback import make_feedback
from ._files import check_path, detect_format
from ._parse import (
    check_chunk_size,
    check_option,
    concat,
    iter_chunks,
    make_parser,
    to_feedback,
)
from ._result import GatewayLogs

__all__ = ["DUPLICATE_POLICIES", "MAX_LISTED", "iter_inputs", "iter_logs", "read_logs"]

#: Policies for repeated rows (same prompt or features, model, quality, cost).
DUPLICATE_POLICIES = ("keep", "drop", "raise")

#: At most this many skipped rows are listed one by one (all are counted).
MAX_LISTED = 10_000


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
    path = check_path(path)
    fmt = detect_format(path, format)
    check_option(on_error, "on_error", ("raise", "skip"))
    check_option(duplicates, "duplicates", DUPLICATE_POLICIES)
    chunk_size = check_chunk_size(chunk_size)
    parser = make_parser(prompt, model, quality, cost, propensity, gold, features)

    parts, skipped, n_skipped, n_read = [], [], 0, 0
    for cols, errors, n in iter_chunks(path, fmt, parser, on_error=on_error,
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
    cols = {key: concat(parts, key) for key in parts[0] if key != "n"}
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
        feedback=to_feedback(cols),
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
    path = check_path(path)
    fmt = detect_format(path, format)
    check_option(on_error, "on_error", ("raise", "skip"))
    chunk_size = check_chunk_size(chunk_size)
    parser = make_parser(prompt, model, quality, cost, propensity, gold, features)
    for cols, errors, n_read in iter_chunks(path, fmt, parser, on_error=on_error,
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
            feedback=to_feedback(cols), prompts=cols["prompt"], features=cols["features"],
            lines=cols["lines"], n_read=n_read, n_skipped=len(errors), skipped=errors,
            n_duplicates=None, duplicates="keep", path=path, format=fmt,
        )


def iter_inputs(path, *, format=None, prompt="prompt", features=None, chunk_size=10_000):
    """Stream the router's inputs (prompts or feature vectors) from a file.

    Only the input field is read (no model, quality or cost): this reads the
    queries to route. Every row must have it; a malformed row raises, so that
    outputs computed chunk by chunk stay aligned with the inputs.

    Parameters
    ----------
    path : str, path-like or "-"
        A JSONL, CSV or Parquet file (JSONL and CSV optionally gzipped), or
        ``"-"`` for JSONL records on standard input.
    format : {"jsonl", "csv", "parquet"}, default=None
        ``None`` infers it from the extension (JSONL for ``"-"``).
    prompt : str, default="prompt"
        Field with the prompt text; ignored when ``features`` is given.
    features : str, default=None
        Field with a numeric feature vector, read instead of the prompt.
    chunk_size : int, default=10000
        Rows per array yielded.

    Yields
    ------
    X : ndarray
        The prompts of a chunk (object array of str, shape ``(n,)``) or its
        feature vectors (shape ``(n, n_features)``).

    Raises
    ------
    MalformedLogError
        At the first row lacking a valid input field.

    See Also
    --------
    read_logs : Read the logged feedback as well.

    Examples
    --------
    >>> import json, os, tempfile
    >>> from sklearn_causal_routing.logs import iter_inputs
    >>> path = os.path.join(tempfile.mkdtemp(), "requests.jsonl")
    >>> with open(path, "w") as f:
    ...     _ = f.write("\\n".join(json.dumps({"input": q}) for q in ["2 + 2?", "Hi", "Why?"]))
    >>> [X.tolist() for X in iter_inputs(path, prompt="input", chunk_size=2)]
    [['2 + 2?', 'Hi'], ['Why?']]
    """
    if isinstance(path, str) and path == "-":  # stdin, JSONL only
        fmt = "jsonl" if format is None else format
        if fmt != "jsonl":
            raise ValueError(f"stdin is read as JSONL; got format {fmt!r}.")
        path = sys.stdin.buffer
    else:
        path = check_path(path)
        fmt = detect_format(path, format)
    chunk_size = check_chunk_size(chunk_size)
    if features is not None:
        prompt = None
    parser = make_parser(prompt, None, None, None, None, None, features, need_outcome=False)
    for cols, _, _ in iter_chunks(path, fmt, parser, on_error="raise",
                                  chunk_size=chunk_size):
        if cols["n"]:
            yield cols["prompt"] if features is None else cols["features"]
