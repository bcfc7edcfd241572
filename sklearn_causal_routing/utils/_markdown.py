"""One markdown table writer for reports, the demo and the benchmark scripts."""

__all__ = ["markdown_table"]


def markdown_table(headers, rows, *, align=None):
    """A GitHub-flavoured markdown table as a string (no trailing newline).

    Parameters
    ----------
    headers : sequence of str
        Column titles.
    rows : iterable of sequences
        Cells, converted with ``str``; each row has ``len(headers)`` cells.
    align : sequence of {"left", "right"}, default=None
        Per-column alignment; by default the first column is left-aligned and
        the others right-aligned (labels, then numbers).

    Returns
    -------
    table : str
        Header, separator and one line per row, columns padded to a common width.

    Examples
    --------
    >>> from sklearn_causal_routing.utils._markdown import markdown_table
    >>> print(markdown_table(["router", "utility"], [["RM-Softmax", "0.661"]]))
    | router     | utility |
    |:-----------|--------:|
    | RM-Softmax |   0.661 |
    """
    headers = [str(h) for h in headers]
    rows = [[str(c) for c in row] for row in rows]
    for row in rows:
        if len(row) != len(headers):
            raise ValueError(
                f"every row must have {len(headers)} cells (one per header); got a row "
                f"with {len(row)}: {row}."
            )
    if align is None:
        align = ["left"] + ["right"] * (len(headers) - 1)
    widths = [max([len(h)] + [len(r[j]) for r in rows]) for j, h in enumerate(headers)]

    def line(cells):
        return "| " + " | ".join(
            c.ljust(w) if a == "left" else c.rjust(w) for c, w, a in zip(cells, widths, align)
        ) + " |"

    sep = "|" + "|".join(
        (":" + "-" * (w + 1)) if a == "left" else ("-" * (w + 1) + ":")
        for w, a in zip(widths, align)
    ) + "|"
    return "\n".join([line(headers), sep] + [line(r) for r in rows])
