"""The ``simulate`` command: write a biased gateway log from a simulated world or a table."""

from ._base import PROG, logging_policies, read_table_frame, say, subcommand, unique_counts


def _arguments(p):
    from ..logs import FORMATS

    p.add_argument("-o", "--out", required=True,
                   help="log file to write (.jsonl, .csv or .parquet; .jsonl.gz works)")
    src = p.add_argument_group("source (default: a simulated RoutingWorld)")
    src.add_argument("--table", default=None,
                     help="a full-feedback table (.parquet / .csv with '<model>|quality' "
                          "and '<model>|cost' columns) to log from instead")
    src.add_argument("--embeddings", default=None,
                     help="with --table: a row-aligned .npy of query features")
    src.add_argument("--split", default=None,
                     help="with --table: keep the rows whose 'split' column equals this")
    src.add_argument("--with-features", action="store_true",
                     help="with --table: also write the features (always written for a "
                          "simulated world, which has no prompt text)")
    src.add_argument("--n-samples", type=int, default=None,
                     help="queries to draw (world; default 2000) or to sample from the table "
                          "(default: all rows)")
    src.add_argument("--n-models", type=int, default=4, help="world: number of models")
    src.add_argument("--n-tasks", type=int, default=4, help="world: number of tasks")
    src.add_argument("--n-features", type=int, default=16, help="world: feature dimension")
    src.add_argument("--outcome", choices=("bernoulli", "gaussian"), default="bernoulli",
                     help="world: 0/1 grades or Gaussian quality")
    src.add_argument("--world-seed", type=int, default=0,
                     help="world: seed of the world itself (keep it fixed across train/test)")
    log = p.add_argument_group("logging rule")
    log.add_argument("--policy", choices=logging_policies(), default="confounded",
                     help="rule that picked the served model (see "
                          "RoutingTable.logging_probabilities)")
    log.add_argument("--skew", type=float, default=5.0,
                     help="bias of 'confounded' (and of 'strong-rare' and 'cheap-heavy', "
                          "built on it): p ~ exp(skew * the model's task accuracy)")
    log.add_argument("--difficulty", type=float, default=0.0,
                     help="'confounded': strength of 'hard queries go to the big model'")
    log.add_argument("--epsilon", type=float, default=0.05,
                     help="'deterministic': exploration mass")
    log.add_argument("--strong-cap", type=float, default=None,
                     help="'strong-rare': the strongest model's largest probability on any "
                          "query (default: the rule's, 0.25)")
    log.add_argument("--cheap-share", type=float, default=None,
                     help="'cheap-heavy': the cheapest model's share of every query "
                          "(default: the rule's, 0.7)")
    log.add_argument("--no-propensity", action="store_true",
                     help="do not record the logging probability")
    p.add_argument("--seed", type=int, default=0,
                   help="seed of the queries drawn and of the logging draws")
    p.add_argument("--format", choices=FORMATS, default=None,
                   help="output format (default: from the extension)")


def _load_table(args):
    import numpy as np

    from ..datasets import load_routing_table

    frame = read_table_frame(args.table, "simulate --table")
    embeddings = args.embeddings
    has_x = any(str(c).startswith("x") and str(c)[1:].isdigit() for c in frame.columns)
    if embeddings is None and not has_x:
        if "prompt" not in frame.columns:
            raise ValueError(
                f"{args.table} has neither prompts (a 'prompt' column) nor features "
                "('x0', 'x1', ... columns); pass --embeddings FEATURES.npy."
            )
        if args.with_features:
            raise ValueError("--with-features needs features: pass --embeddings FEATURES.npy.")
        embeddings = np.zeros((len(frame), 0))
    table = load_routing_table(frame, embeddings=embeddings)
    if args.split is not None:
        table = table.split_by(args.split)
    if args.n_samples is not None:
        if not 0 < args.n_samples <= len(table):
            raise ValueError(
                f"--n-samples must be in [1, {len(table)}] (the table's rows); got "
                f"{args.n_samples}."
            )
        rng = np.random.RandomState(args.seed)
        table = table.subset(np.sort(rng.choice(len(table), args.n_samples, replace=False)))
    return table


_EPILOG = f"""\
  # biased logs of a simulated world (features, no prompt text); train and test logs
  # come from the same world (--world-seed) with different query draws (--seed)
  {PROG} simulate -o train.jsonl --n-samples 5000 --seed 1
  {PROG} simulate -o test.jsonl --n-samples 2000 --seed 2

  # logs of a full-feedback table with prompts (RouterBench format), train split only
  {PROG} simulate --table ../shared/data/routerbench_subset.parquet --split train \\
      --policy confounded --skew 5 -o routerbench_train.jsonl
"""


@subcommand("simulate", help="write a biased log file from a simulated world or a table",
            epilog=_EPILOG, arguments=_arguments)
def simulate(args):
    """Write a gateway log drawn with a biased logging rule.

    The source is a simulated RoutingWorld (queries are feature vectors: the
    log has a 'features' field and no prompt) or a full-feedback table (every
    model's outcome on every query; its prompts are written when it has a
    'prompt' column). One model per query is drawn with the logging rule and
    only that model's quality and cost are kept, with the probability of the
    draw ('propensity') unless --no-propensity.
    """
    from ..datasets import RoutingWorld
    from ..logs import write_logs

    if args.table is None:
        for name in ("embeddings", "split"):
            if getattr(args, name) is not None:
                raise ValueError(f"--{name} goes with --table.")
        n = 2000 if args.n_samples is None else args.n_samples
        if n < 1:
            raise ValueError(f"--n-samples must be >= 1; got {n}.")
        world = RoutingWorld(n_models=args.n_models, n_tasks=args.n_tasks,
                             n_features=args.n_features, outcome=args.outcome,
                             random_state=args.world_seed)
        table = world.sample(n, random_state=args.seed)
        source = f"simulated RoutingWorld (world seed {args.world_seed})"
    else:
        table = _load_table(args)
        source = args.table
    rule = {name: getattr(args, name) for name in ("strong_cap", "cheap_share")
            if getattr(args, name) is not None}
    for name, policy in (("strong_cap", "strong-rare"), ("cheap_share", "cheap-heavy")):
        if name in rule and args.policy != policy:
            raise ValueError(f"--{name.replace('_', '-')} goes with --policy {policy}; got "
                             f"--policy {args.policy}.")
    logs = table.log(args.policy, skew=args.skew, difficulty=args.difficulty,
                     epsilon=args.epsilon, record_propensity=not args.no_propensity,
                     random_state=args.seed, **rule)
    prompts = table.prompt
    if prompts is not None:
        prompts = [str(p) for p in prompts]
    with_features = prompts is None or args.with_features
    extra = {}
    for name in ("task", "split"):
        values = getattr(table, name)
        if values is not None:
            extra[name] = [str(v) for v in values]
    write_logs(args.out, logs.feedback, prompts=prompts,
               features=logs.X if with_features else None, extra=extra, format=args.format)
    shares = dict(zip(*unique_counts(logs.t)))
    say(args, f"wrote {len(logs)} rows to {args.out} from {source}, logged with the "
              f"{args.policy!r} rule; served: {shares}")
    return 0
