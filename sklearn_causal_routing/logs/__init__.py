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
:func:`iter_inputs` streams only the queries to route; :func:`write_logs`
writes the same formats. :func:`peek_fields` and :func:`count_fields` say
which fields a file has before reading it.

Files are streamed, never loaded whole: memory is bounded by the arrays
returned, plus one chunk of parsed records.

The modules, one job each: ``_result`` (what a read returns and raises),
``_files`` (formats, opening files, reading records), ``_parse`` (validating
rows), ``_read`` (the readers), ``_write`` (the writer).
"""

from ._files import FORMATS, count_fields, guess_format, open_log, peek_fields
from ._read import DUPLICATE_POLICIES, MAX_LISTED, iter_inputs, iter_logs, read_logs
from ._result import GatewayLogs, LogRowError, MalformedLogError
from ._write import write_logs

__all__ = [
    "GatewayLogs",
    "LogRowError",
    "MalformedLogError",
    "count_fields",
    "guess_format",
    "iter_inputs",
    "iter_logs",
    "open_log",
    "peek_fields",
    "read_logs",
    "write_logs",
]
