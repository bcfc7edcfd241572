"""Writing gateway logs: :func:`write_logs`, the inverse of :func:`read_logs`."""

import csv
import io
import json

import numpy as np

from .._feedback import check_feedback
from ._files import detect_format, open_log

__all__ = ["write_logs"]

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
    fb = check_feedback(feedback, name="feedback")
    n = fb.shape[0]
    fmt = detect_format(path, format)
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
        with open_log(path, "wb") as fb_out:
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
    with open_log(path, "wb") as fb_out:
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
