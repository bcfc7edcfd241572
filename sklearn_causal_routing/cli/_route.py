"""The ``route`` command: route prompts (or feature vectors) to model names."""

import contextlib
import io
import json
import os
import sys

from ._base import (
    PROG,
    is_interval,
    load_router,
    predict_labels,
    quiet_embedder,
    say,
    split_router,
    subcommand,
)


def _arguments(p):
    p.add_argument("router", help="fitted router file (from `fit`)")
    p.add_argument("input", nargs="?", default="-",
                   help="prompts: a file, or '-' for stdin")
    p.add_argument("--input-format", choices=("lines", "jsonl", "csv", "parquet"),
                   default=None,
                   help="'lines': one prompt (or feature vector, a JSON array or "
                        "space-separated numbers) per line; jsonl/csv/parquet: read the "
                        "prompt (or features) field. Default: from the file extension, "
                        "'lines' for stdin and other files")
    p.add_argument("--prompt-field", default="prompt", help="jsonl/csv/parquet: prompt field")
    p.add_argument("--features-field", default=None,
                   help="jsonl/csv/parquet: features field, for routers fitted on features "
                        "(default 'features')")
    p.add_argument("--cost-weight", type=float, default=None,
                   help="interval routers: the cost weight to route at (default: the one "
                        "chosen by calibrate_budget)")
    p.add_argument("--batch-size", type=int, default=256,
                   help="inputs routed at once (1 answers each stdin line at once)")
    p.add_argument("-o", "--output", default="-", help="where to write the model names")


_EPILOG = f"""\
  echo "Write a Python function that reverses a list." | {PROG} route router.joblib
  {PROG} route router.joblib prompts.txt > models.txt           # one prompt per line
  {PROG} route router.joblib requests.jsonl --prompt-field input
  {PROG} route interval.joblib prompts.txt --cost-weight 250
  {PROG} route sim_router.joblib test.jsonl                      # a features log
"""


def _line_batches(stream, batch_size, text):
    import numpy as np

    batch = []
    for line_no, line in enumerate(stream, 1):
        line = line.rstrip("\r\n")
        if text:
            batch.append(line)
        else:
            batch.append(_parse_vector(line, line_no))
        if len(batch) >= batch_size:
            yield np.array(batch, dtype=object) if text else np.array(batch)
            batch = []
    if batch:
        yield np.array(batch, dtype=object) if text else np.array(batch)


def _parse_vector(line, line_no):
    text = line.strip()
    if text.startswith("{"):
        raise ValueError(
            f"input line {line_no}: a JSON object, but 'lines' input takes one feature "
            "vector per line; pass --input-format jsonl (and --features-field NAME) to "
            "read the features field of JSON records."
        )
    try:
        values = json.loads(text) if text.startswith("[") else [
            float(v) for v in text.replace(",", " ").split()
        ]
        values = [float(v) for v in values]
    except (TypeError, ValueError):
        raise ValueError(
            f"input line {line_no}: expected a feature vector (a JSON array or numbers "
            f"separated by spaces); got {text[:60]!r}."
        ) from None
    if not values:
        raise ValueError(f"input line {line_no}: empty feature vector.")
    return values


def _input_format(args):
    if args.input_format is not None:
        return args.input_format
    if args.input == "-":
        return "lines"
    from ..logs import guess_format

    return guess_format(args.input) or "lines"


@subcommand("route", help="route prompts (file or stdin) to model names (stdout)",
            epilog=_EPILOG, arguments=_arguments)
def route(args):
    """Route each input to a model; write the model names one per line.

    The output has one line per input, in input order. Routers fitted on
    prompt text take prompts (one per line, or the prompt field of a
    jsonl/csv/parquet file); routers fitted on features take feature vectors.
    """
    from ..logs import MalformedLogError, iter_inputs, open_log

    if args.batch_size < 1:
        raise ValueError(f"--batch-size must be >= 1; got {args.batch_size}.")
    router = load_router(args.router)
    pre, final, text = split_router(router)
    quiet_embedder(router, args.quiet)
    if args.cost_weight is None and is_interval(final) and getattr(final, "budget_", None) is None:
        lo, hi = final.cost_weight_range_
        raise ValueError(
            f"this interval router serves cost weights in [{lo:g}, {hi:g}]; pass "
            "--cost-weight W to route at one of them."
        )
    fmt = _input_format(args)
    say(args, f"routing {'prompts' if text else 'feature vectors'} from "
              f"{'stdin' if args.input == '-' else args.input} ({fmt}) with "
              f"{type(final).__name__} over {final.classes_.tolist()}")
    with contextlib.ExitStack() as stack:
        if fmt == "lines":
            if args.input == "-":
                stream = sys.stdin
            else:
                if not os.path.isfile(args.input):
                    raise FileNotFoundError(f"No input file at {args.input!r}.")
                raw = stack.enter_context(open_log(args.input))
                stream = io.TextIOWrapper(raw, encoding="utf-8")
            batches = _line_batches(stream, args.batch_size, text)
        else:
            if args.input == "-" and fmt != "jsonl":
                raise ValueError(
                    f"--input-format {fmt} reads a file; stdin takes 'lines' or 'jsonl'."
                )
            batches = iter_inputs(
                args.input, format=fmt, prompt=args.prompt_field,
                features=None if text else (args.features_field or "features"),
                chunk_size=args.batch_size,
            )
        out = sys.stdout if args.output == "-" else stack.enter_context(
            open(args.output, "w", encoding="utf-8"))
        n = 0
        try:
            for X in batches:
                Xt = pre.transform(X) if pre is not None else X
                labels = predict_labels(final, Xt, args.cost_weight)
                out.write("".join(f"{label}\n" for label in labels.tolist()))
                out.flush()
                n += len(labels)
        except MalformedLogError as exc:  # no row may be skipped: outputs match inputs
            raise ValueError(
                f"{exc.path}, line {exc.line}: {exc.reason}. Every input row needs its "
                f"input field ({n:,} inputs routed before it): fix or remove the row."
            ) from None
    say(args, f"routed {n:,} inputs")
    return 0
