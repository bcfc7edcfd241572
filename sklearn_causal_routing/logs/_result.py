"""What reading a gateway log returns and raises.

:class:`GatewayLogs` (the prompts or features and the feedback read),
:class:`LogRowError` (one malformed row) and :class:`MalformedLogError` (the
error a malformed row raises with ``on_error="raise"``).
"""

import os
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

__all__ = ["GatewayLogs", "LogRowError", "MalformedLogError", "RowError"]


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
        super().__init__(self.message())

    def message(self, skip="on_error='skip'"):
        """The error message, with ``skip`` spelling the option that skips bad rows.

        Parameters
        ----------
        skip : str, default="on_error='skip'"
            How the caller passes the skip option: the command line says
            ``"--on-error skip"``.

        Returns
        -------
        message : str

        Examples
        --------
        >>> from sklearn_causal_routing.logs import LogRowError, MalformedLogError
        >>> err = MalformedLogError("logs.jsonl", LogRowError(3, None, "invalid JSON"))
        >>> print(err.message(skip="--on-error skip"))
        logs.jsonl, line 3: invalid JSON. Fix or remove the row, or pass --on-error skip
        to skip malformed rows (they are counted and listed).
        """
        counted = ("counted in n_skipped and listed in skipped" if skip == "on_error='skip'"
                   else "counted and listed")
        return (
            f"{self.path}, line {self.line}: {self.reason}. Fix or remove the row, or "
            f"pass {skip} to skip malformed rows (they are {counted})."
        )


class RowError(Exception):
    """Raised by the row readers and the row parser; becomes a :class:`LogRowError`."""

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


