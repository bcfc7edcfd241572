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
    p.add_argument("--output-format", choices=("names", "jsonl"), default="names",
                   help="'names': one model name per line; 'jsonl': one record per input "
                        "with its 'row' (0-based), 'prompt' (or 'features'), the chosen "
                        "'model' and its 'propensity', a log that read_logs reads once the "
                        "gateway adds 'quality' and 'cost'")
    g = p.add_argument_group("exploration (record the propensities with --output-format "
                             "jsonl)")
    g.add_argument("--exploration", type=float, default=0.0,
                   help="probability in [0, 1) spread uniformly over the pool")
    g.add_argument("--share", action="append", default=[], metavar="MODEL=FRACTION",
                   help="a fixed traffic share for MODEL, which may be a model the router "
                        "was never fitted on (repeatable)")
    g.add_argument("--pool", default=None, metavar="MODEL,...",
                   help="the models that may be chosen (default: the router's models and "
                        "those of --share); a model left out is never chosen")
    g.add_argument("--seed", type=int, default=None,
                   help="seed of the exploration draws (default: fresh draws each run)")


_EPILOG = f"""\
  echo "Write a Python function that reverses a list." | {PROG} route router.joblib
  {PROG} route router.joblib prompts.txt > models.txt           # one prompt per line
  {PROG} route router.joblib requests.jsonl --prompt-field input
  {PROG} route interval.joblib prompts.txt --cost-weight 250
  {PROG} route sim_router.joblib test.jsonl                      # a features log
  {PROG} route router.joblib prompts.txt --exploration 0.05 --share new-model=0.02 \\
      --output-format jsonl -o routed.jsonl             # the model and its propensity
  {PROG} route router.joblib prompts.txt --pool small,medium     # 'large' left the pool
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


def _label(name, classes):
    """A model name from the command line as a label of the router's type."""
    import numpy as np

    if np.asarray(classes).dtype.kind in "iu":
        try:
            return int(name)
        except ValueError:
            pass  # a new model's name that is no integer: route's type check says so
    return name


def _routing_options(args, classes):
    """``route``'s keyword arguments from --exploration, --share, --pool and --seed."""
    import numpy as np

    shares = {}
    for item in args.share:
        name, sep, value = item.rpartition("=")
        try:
            fraction = float(value)
        except ValueError:
            fraction = None
        if not sep or not name or fraction is None:
            raise ValueError(f"--share takes MODEL=FRACTION, e.g. new-model=0.05; got {item!r}.")
        label = _label(name, classes)
        if label in shares:
            raise ValueError(f"--share names {name!r} twice; give each model one share.")
        shares[label] = fraction
    pool = None
    if args.pool is not None:
        pool = [_label(name.strip(), classes) for name in args.pool.split(",") if name.strip()]
    return {"exploration": args.exploration, "shares": shares, "pool": pool,
            "random_state": np.random.RandomState(args.seed)}


def _records(X, routes, start, text):
    """JSONL records of routed inputs, as a log that read_logs reads."""
    field = "prompt" if text else "features"
    values = X.tolist() if hasattr(X, "tolist") else list(X)
    return "".join(
        json.dumps({"row": start + i, field: value, "model": model,
                    "propensity": propensity}) + "\n"
        for i, (value, model, propensity) in enumerate(
            zip(values, routes.model.tolist(), routes.propensity.tolist()))
    )


@subcommand("route", help="route prompts (file or stdin) to model names (stdout)",
            epilog=_EPILOG, arguments=_arguments)
def route(args):
    """Route each input to a model; write the model names one per line.

    The output has one line per input, in input order. Routers fitted on
    prompt text take prompts (one per line, or the prompt field of a
    jsonl/csv/parquet file); routers fitted on features take feature vectors.
    With --exploration or --share the model is drawn from a mixture of the
    router's decision, uniform exploration and fixed shares; --output-format
    jsonl writes each draw's probability as its 'propensity', so that the next
    fit on those logs is unbiased by construction.
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
    from .._exploration import check_routing

    options = _routing_options(args, final.classes_)
    check_routing(final.classes_, exploration=options["exploration"],  # before any output
                  shares=options["shares"], pool=options["pool"])
    explore = args.exploration > 0 or any(options["shares"].values())
    if explore and args.output_format == "names":
        say(args, "note: routing with exploration; --output-format jsonl records the "
                  "propensities the next fit needs")
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
                if not is_interval(final) and args.cost_weight is not None:
                    predict_labels(final, Xt, args.cost_weight)  # the --cost-weight check
                params = {"cost_weight": args.cost_weight} if is_interval(final) else {}
                routes = final.route(Xt, **options, **params)
                if args.output_format == "jsonl":
                    out.write(_records(X, routes, n, text))
                else:
                    out.write("".join(f"{label}\n" for label in routes.model.tolist()))
                out.flush()
                n += len(routes.model)
        except MalformedLogError as exc:  # no row may be skipped: outputs match inputs
            raise ValueError(
                f"{exc.path}, line {exc.line}: {exc.reason}. Every input row needs its "
                f"input field ({n:,} inputs routed before it): fix or remove the row."
            ) from None
    say(args, f"routed {n:,} inputs")
    return 0
