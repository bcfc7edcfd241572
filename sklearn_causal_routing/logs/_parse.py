"""Validating the records of a log: one row parser, and rows gathered into column chunks.

:func:`make_parser` checks the configured field names and returns a parser
that turns one record into typed values (or raises ``RowError`` naming the
field and the reason); :func:`iter_chunks` runs it over a file and gathers the
kept rows into arrays, chunk by chunk.
"""

import json
import math
import numbers

import numpy as np

from .._feedback import make_feedback
from ._files import csv_records, jsonl_records, parquet_records
from ._result import LogRowError, MalformedLogError, RowError

__all__ = [
    "check_chunk_size",
    "check_option",
    "concat",
    "iter_chunks",
    "make_parser",
    "to_feedback",
]

_GOLD_WORDS = {
    "true": True, "t": True, "yes": True, "y": True, "1": True,
    "false": False, "f": False, "no": False, "n": False, "0": False,
}


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
        raise RowError(name, f"missing field {name!r}")
    elif isinstance(value, str):
        try:
            out = float(value)
        except ValueError:
            raise RowError(name, f"field {name!r} must be a number; got {_shown(value)}") from None
    elif isinstance(value, numbers.Real):
        out = float(value)
    else:
        raise RowError(name, f"field {name!r} must be a number; got {_shown(value)}")
    if not math.isfinite(out):
        raise RowError(name, f"field {name!r} must be finite; got {_shown(value)}")
    return out


def _flag(value, name):
    if value is True or value is False:
        return value
    if value is None:
        raise RowError(name, f"missing field {name!r}")
    if isinstance(value, numbers.Integral) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in _GOLD_WORDS:
        return _GOLD_WORDS[value.strip().lower()]
    raise RowError(
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
                    raise RowError(self.prompt, self._missing(self.prompt, rec))
                if not isinstance(prompt, str):
                    raise RowError(
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
                raise RowError(self.quality, self._missing(self.quality, rec))
            quality = _number(quality, self.quality)
        if self.cost is not None:
            cost = get(self.cost)
            if cost is None:
                raise RowError(self.cost, self._missing(self.cost, rec))
            cost = _number(cost, self.cost)
            if cost < 0:
                raise RowError(self.cost, f"field {self.cost!r} (cost) must be >= 0; got {cost!r}")
        if self.propensity is not None:
            propensity = get(self.propensity)
            if propensity is None:
                raise RowError(self.propensity, self._missing(self.propensity, rec))
            propensity = _number(propensity, self.propensity)
            if not 0 < propensity <= 1:
                raise RowError(
                    self.propensity,
                    f"field {self.propensity!r} (propensity) must be in (0, 1]; got "
                    f"{propensity!r}",
                )
        if self.gold is not None:
            gold = get(self.gold)
            if gold is None:
                raise RowError(self.gold, self._missing(self.gold, rec))
            gold = _flag(gold, self.gold)
        if self.features is not None:
            feats = get(self.features)
            if feats is None:
                raise RowError(self.features, self._missing(self.features, rec))
            feats = self._features(feats)
        return prompt, model, quality, cost, propensity, gold, feats

    def _missing(self, name, rec):
        if name in rec:
            return f"field {name!r} is empty (null)"
        return f"missing field {name!r}; the record has fields {sorted(rec)[:10]}"

    def _model(self, value, rec):
        name = self.model
        if value is None:
            raise RowError(name, self._missing(name, rec))
        if isinstance(value, numbers.Integral) and not isinstance(value, bool):
            return str(value)
        if isinstance(value, str):  # empty
            raise RowError(name, f"field {name!r} (the model) is empty")
        raise RowError(
            name, f"field {name!r} (the model) must be a string; got {_shown(value)}"
        )

    def _features(self, value):
        name = self.features
        if value is None:
            raise RowError(name, f"missing field {name!r}")
        if isinstance(value, str):  # CSV: a JSON array or space/comma separated numbers
            text = value.strip()
            try:
                value = json.loads(text) if text.startswith("[") else text.replace(",", " ").split()
            except ValueError:
                raise RowError(
                    name, f"field {name!r} must be a list of numbers; got {_shown(value)}"
                ) from None
        if not isinstance(value, (list, tuple)) or not value:
            raise RowError(
                name, f"field {name!r} must be a non-empty list of numbers; got {_shown(value)}"
            )
        try:
            arr = [float(v) for v in value if not isinstance(v, bool)]
        except (TypeError, ValueError):
            raise RowError(
                name, f"field {name!r} must be a list of numbers; got {_shown(value)}"
            ) from None
        if len(arr) != len(value) or not all(math.isfinite(v) for v in arr):
            raise RowError(name, f"field {name!r} must hold finite numbers; got {_shown(value)}")
        if self.dim is None:
            self.dim = len(arr)
        elif len(arr) != self.dim:
            raise RowError(
                name,
                f"field {name!r} has {len(arr)} values but earlier rows have {self.dim}",
            )
        return arr


def check_option(value, name, options):
    """Raise a ValueError unless ``value`` is one of ``options``."""
    if value not in options:
        raise ValueError(f"{name} must be one of {list(options)}; got {value!r}.")


def _check_field(value, name, required):
    if value is None and not required:
        return
    if not isinstance(value, str) or not value:
        need = "a field name (str)" + ("" if required else " or None")
        raise TypeError(f"{name} must be {need}; got {value!r}.")


def check_chunk_size(chunk_size):
    """``chunk_size`` as an int, after checking it is an integer >= 1."""
    if (
        isinstance(chunk_size, bool)
        or not isinstance(chunk_size, numbers.Integral)
        or chunk_size < 1
    ):
        raise ValueError(f"chunk_size must be an integer >= 1; got {chunk_size!r}.")
    return int(chunk_size)


def make_parser(prompt, model, quality, cost, propensity, gold, features, *, need_outcome=True):
    """The row parser of the configured field names, after checking them."""
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
        return jsonl_records(path)
    if fmt == "csv":
        return csv_records(path, parser.needed())
    return parquet_records(path, parser.needed(), chunk_size)


def iter_chunks(path, fmt, parser, *, on_error, chunk_size):
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
            if rec.__class__ is RowError:
                raise rec
            values = parse(rec)
        except RowError as err:
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


def concat(parts, key):
    """Column ``key`` of the chunks ``parts`` as one array (``None`` if not read)."""
    if parts[0][key] is None:
        return None
    arrays = [p[key] for p in parts if p["n"]]
    if not arrays:
        return parts[0][key]
    return arrays[0] if len(arrays) == 1 else np.concatenate(arrays)


def to_feedback(cols):
    """The feedback array of a chunk's columns."""
    return make_feedback(
        cols["model"], cols["quality"], cost=cols["cost"], propensity=cols["propensity"],
        gold=cols["gold"],
    )
