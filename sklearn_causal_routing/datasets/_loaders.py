"""Read full-feedback routing tables from disk.

Two column formats are read:

- ours: one row per query; for every model ``<model>|quality`` and
  ``<model>|cost`` columns (optionally ``<model>|expected_quality``); optional
  ``task``, ``split`` and ``prompt`` columns;
- RouterBench's own (its ``routerbench_0shot.pkl`` / ``routerbench_5shot.pkl``
  pickles): for every model a quality column named ``<model>`` and a
  ``<model>|total_cost`` column (``<model>|model_response`` is ignored); the
  task is in ``eval_name``.

Query features come either in a separate row-aligned array (e.g. ``.npy``
embeddings) or as numeric columns ``x0, x1, ...``. pandas (and pyarrow for
parquet) are optional dependencies, installed with
``pip install "sklearn-causal-routing[data]"``.
"""

import os
import re
from pathlib import Path

import numpy as np

from ..utils._optional import import_optional
from ._table import RoutingTable

__all__ = ["load_routing_table", "load_routerbench_subset", "read_frame"]

_INSTALL = 'pip install "sklearn-causal-routing[data]"'
_QUALITY = "|quality"
_COST = "|cost"
_EXPECTED = "|expected_quality"
_RB_COST = "|total_cost"
_RB_TASK = "eval_name"
_FEATURE = re.compile(r"^x(\d+)$")

#: File names of the RouterBench subset in the shared data folder.
ROUTERBENCH_TABLE = "routerbench_subset.parquet"
ROUTERBENCH_EMBEDDINGS = "routerbench_subset_minilm.npy"


def read_frame(path, *, needed_by="load_routing_table"):
    """A table file (.parquet, .csv or a pickled DataFrame) as a pandas DataFrame.

    The one reader of table files, shared with the command line.

    Parameters
    ----------
    path : str or path-like
        The file; its suffix picks the format.
    needed_by : str, default="load_routing_table"
        What reads it, for the missing-pandas error.

    Returns
    -------
    frame : pandas.DataFrame

    Examples
    --------
    >>> from sklearn_causal_routing.datasets._loaders import read_frame
    >>> read_frame("no/such/table.parquet")
    Traceback (most recent call last):
    ...
    FileNotFoundError: load_routing_table: no file at 'no/such/table.parquet'.
    """
    pd = import_optional("pandas", extra="data", needed_by=needed_by)
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"load_routing_table: no file at {str(path)!r}.")
    suffix = path.suffix.lower()
    if suffix in (".parquet", ".pq"):
        try:
            return pd.read_parquet(path)
        except ImportError as exc:
            raise ImportError(
                f"Reading {path.name} needs pyarrow (or fastparquet); install it "
                f"with {_INSTALL}."
            ) from exc
    if suffix in (".csv", ".gz", ".bz2", ".zip", ".xz"):
        return pd.read_csv(path)
    if suffix in (".pkl", ".pickle"):
        # RouterBench ships its tables as pickled DataFrames; like any pickle,
        # only load files you trust.
        frame = pd.read_pickle(path)
        if not isinstance(frame, pd.DataFrame):
            raise TypeError(
                f"{path.name} must hold a pickled pandas DataFrame (RouterBench's "
                f"format); it holds a {type(frame).__name__}."
            )
        return frame
    raise ValueError(
        f"path_or_frame must be a .parquet, .csv or .pkl file or a pandas DataFrame; "
        f"got a file with suffix {suffix!r} ({str(path)!r})."
    )


def _columns_by_format(columns, fmt):
    """Return (models, quality columns, cost columns, format used)."""
    ours = [c[: -len(_QUALITY)] for c in columns if c.endswith(_QUALITY)]
    rb = [c[: -len(_RB_COST)] for c in columns if c.endswith(_RB_COST)]
    if fmt == "auto":
        fmt = "ours" if ours or not rb else "routerbench"
    if fmt == "ours":
        if not ours:
            raise ValueError(
                "load_routing_table: found no '<model>|quality' columns; expected one "
                "'<model>|quality' and one '<model>|cost' column per model (or "
                "RouterBench's '<model>' and '<model>|total_cost'). Got columns "
                f"{columns[:12]}{' ...' if len(columns) > 12 else ''}."
            )
        missing = [m + _COST for m in ours if m + _COST not in columns]
        if missing:
            raise ValueError(
                f"load_routing_table: model(s) lack their cost column(s) {missing}; "
                "every '<model>|quality' column needs a '<model>|cost' column."
            )
        return ours, [m + _QUALITY for m in ours], [m + _COST for m in ours], fmt
    if fmt != "routerbench":
        raise ValueError(
            f"format must be 'auto', 'ours' or 'routerbench'; got {fmt!r}."
        )
    if not rb:
        raise ValueError(
            "load_routing_table(format='routerbench'): found no '<model>|total_cost' "
            f"columns; got columns {columns[:12]}{' ...' if len(columns) > 12 else ''}."
        )
    missing = [m for m in rb if m not in columns]
    if missing:
        raise ValueError(
            f"load_routing_table: model(s) {missing} have a '|total_cost' column but "
            "no quality column named after the model (RouterBench's format)."
        )
    return rb, list(rb), [m + _RB_COST for m in rb], fmt


def _load_embeddings(embeddings, n):
    if isinstance(embeddings, (str, os.PathLike)):
        path = Path(embeddings)
        if not path.exists():
            raise FileNotFoundError(
                f"embeddings: no .npy file at {str(path)!r}."
            )
        embeddings = np.load(path)
    X = np.asarray(embeddings)
    if X.ndim != 2 or X.shape[0] != n:
        raise ValueError(
            f"embeddings must be an array (or .npy path) of shape ({n}, n_features), "
            f"row-aligned with the table; got shape {X.shape}."
        )
    if X.dtype.kind not in "fiu":
        raise TypeError(f"embeddings must be numeric; got dtype {X.dtype}.")
    return X if X.dtype.kind == "f" else X.astype(np.float64)


def load_routing_table(
    path_or_frame,
    *,
    embeddings=None,
    task_column="task",
    split_column="split",
    prompt_column="prompt",
    format="auto",
):
    """Read a full-feedback routing table (ours or RouterBench's format).

    Parameters
    ----------
    path_or_frame : str, path-like or pandas.DataFrame
        A ``.parquet``, ``.csv`` or ``.pkl`` file, or an already loaded
        DataFrame, with one row per query and, for every model, columns
        ``<model>|quality`` and ``<model>|cost`` (optionally
        ``<model>|expected_quality``), or RouterBench's ``<model>`` and
        ``<model>|total_cost``. Only unpickle files you trust.
    embeddings : array-like of shape (n_samples, n_features) or path, default=None
        Query features, row-aligned with the table, or a path to a ``.npy``
        file holding them. ``None`` reads numeric feature columns ``x0, x1,
        ...`` from the table (as written by :meth:`RoutingTable.to_frame`); it
        is an error if there are none.
    task_column, split_column, prompt_column : str or None
        Columns holding the task, split and prompt text; used when present,
        ignored when absent or ``None``. In RouterBench's format a missing
        ``task`` column falls back to ``eval_name``.
    format : {"auto", "ours", "routerbench"}, default="auto"
        The column format; ``"auto"`` reads ours when there are
        ``|quality`` columns, else RouterBench's when there are
        ``|total_cost`` columns.

    Returns
    -------
    table : RoutingTable
        Models in the order of their quality columns.

    Raises
    ------
    ImportError
        If pandas (or, for parquet, pyarrow) is not installed.
    ValueError
        If no model columns are found, a model lacks its cost (or quality)
        column, or there are no features.

    See Also
    --------
    load_routerbench_subset : The shared RouterBench subset.
    RoutingTable.to_frame : Write a table in this format.

    Examples
    --------
    >>> import pandas as pd
    >>> from sklearn_causal_routing.datasets import load_routing_table
    >>> df = pd.DataFrame({"task": ["qa", "code"],
    ...                    "small|quality": [1.0, 0.0], "small|cost": [0.1, 0.2],
    ...                    "large|quality": [1.0, 1.0], "large|cost": [1.0, 2.0]})
    >>> table = load_routing_table(df, embeddings=[[0.0, 1.0], [1.0, 0.0]])
    >>> table
    RoutingTable(n_samples=2, n_models=2, models=['small', 'large'])
    >>> table.task
    array(['qa', 'code'], dtype=object)

    RouterBench's own format (as in its ``routerbench_5shot.pkl``):

    >>> rb = pd.DataFrame({"eval_name": ["mbpp", "arc"],
    ...                    "small": [0.0, 1.0], "small|total_cost": [1e-4, 2e-4],
    ...                    "large": [1.0, 1.0], "large|total_cost": [3e-3, 4e-3]})
    >>> table = load_routing_table(rb, embeddings=[[0.0, 1.0], [1.0, 0.0]])
    >>> table.models.tolist(), table.task.tolist()
    (['small', 'large'], ['mbpp', 'arc'])
    """
    pd = import_optional("pandas", extra="data", needed_by="load_routing_table")
    if isinstance(path_or_frame, pd.DataFrame):
        df = path_or_frame
    elif isinstance(path_or_frame, (str, os.PathLike)):
        df = read_frame(path_or_frame)
    else:
        raise TypeError(
            "path_or_frame must be a path to a .parquet / .csv file or a pandas "
            f"DataFrame; got {type(path_or_frame).__name__}."
        )
    columns = [str(c) for c in df.columns]
    models, quality_cols, cost_cols, fmt = _columns_by_format(columns, format)
    if fmt == "routerbench" and task_column == "task" and "task" not in columns:
        task_column = _RB_TASK
    n = len(df)
    quality = df[quality_cols].to_numpy(dtype=np.float64)
    cost = df[cost_cols].to_numpy(dtype=np.float64)
    expected = None
    if fmt == "ours" and all(m + _EXPECTED in columns for m in models):
        expected = df[[m + _EXPECTED for m in models]].to_numpy(dtype=np.float64)

    if embeddings is not None:
        X = _load_embeddings(embeddings, n)
    else:
        feats = sorted(
            (int(m.group(1)), c) for c in columns if (m := _FEATURE.match(c))
        )
        if not feats:
            raise ValueError(
                "load_routing_table: the query features are required: pass "
                "embeddings=<(n_samples, n_features) array or path to a .npy file> "
                "or store them as numeric columns 'x0', 'x1', ... in the table; "
                "found neither."
            )
        X = df[[c for _, c in feats]].to_numpy(dtype=np.float64)

    def column(name):
        if name is None or name not in columns:
            return None
        return df[name].to_numpy()

    return RoutingTable(
        X,
        quality,
        cost,
        models,
        task=column(task_column),
        expected_quality=expected,
        split=column(split_column),
        prompt=column(prompt_column),
    )


def load_routerbench_subset(data_dir="../shared/data"):
    """Load the 3-task RouterBench subset from the shared data folder.

    3,150 prompts (ARC-Challenge, Winogrande, MBPP) answered by 11 models, with
    0/1 graded quality, cost in USD, a predefined ``split`` (2,205 train /
    945 test) and 384-dimensional MiniLM prompt embeddings as ``X``. The files
    are not part of the package: they live in the project's shared data folder.

    Parameters
    ----------
    data_dir : str or path-like, default="../shared/data"
        Folder holding ``routerbench_subset.parquet`` and
        ``routerbench_subset_minilm.npy`` (row-aligned); relative paths are
        relative to the current working directory (the default fits a run from
        the project root).

    Returns
    -------
    table : RoutingTable
        ``X`` of shape (3150, 384), 11 models.

    Raises
    ------
    FileNotFoundError
        If the folder or one of the files is absent (benchmarks catch it and
        skip).
    ImportError
        If pandas or pyarrow is not installed.

    See Also
    --------
    load_routing_table : The generic reader.

    Notes
    -----
    Costs are in USD per call (about 1e-4 to 5e-3), so meaningful cost weights
    are in the hundreds to thousands, unlike :class:`RoutingWorld` (0 to 1).

    References
    ----------
    Hu et al. (2024), "RouterBench: A Benchmark for Multi-LLM Routing System".

    Examples
    --------
    >>> from sklearn_causal_routing.datasets import load_routerbench_subset
    >>> try:
    ...     table = load_routerbench_subset("/nonexistent")
    ... except FileNotFoundError as exc:
    ...     print(str(exc).split(":")[0])
    RouterBench subset not found
    """
    folder = Path(data_dir)
    table_path = folder / ROUTERBENCH_TABLE
    emb_path = folder / ROUTERBENCH_EMBEDDINGS
    for path in (table_path, emb_path):
        if not path.is_file():
            raise FileNotFoundError(
                "RouterBench subset not found: expected the shared data folder "
                f"{str(folder)!r} (resolved: {str(folder.resolve())!r}) to hold "
                f"{ROUTERBENCH_TABLE!r} and {ROUTERBENCH_EMBEDDINGS!r}, but "
                f"{str(path)!r} is missing. The data is not shipped with the "
                "package; pass data_dir=<path to the shared data folder> "
                "(default '../shared/data', relative to the project root)."
            )
    return load_routing_table(table_path, embeddings=emb_path)
