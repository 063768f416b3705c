"""``bench tune``: equal-budget hyper-parameter search per method (see :mod:`bench.tune`)."""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.console import Console

from bench.cliargs import add_folder_options, data_root, results_root
from bench.errors import BenchError
from bench.metadata import ROW_SEPARATOR


def cmd_tune(args: argparse.Namespace) -> int:
    from bench.grid import prepare_dataset
    from bench.profiles import check_override_keys, find_profile, parse_overrides, resolve_profile
    from bench.regimes import parse_regime
    from bench.registry import expand_methods, get_dataset
    from bench.tune import TuneRequest, run_tuning

    console = Console(stderr=True, emoji=False, highlight=False)
    ds = get_dataset(args.dataset)
    methods = expand_methods(args.methods)
    weighted = [m for m in methods if ROW_SEPARATOR in m]
    if weighted:
        raise BenchError(f"bench tune tunes methods with equal weights, not the rows "
                         f"{', '.join(weighted)}.",
                         "Tune the method alone; its tuned section methods.<method> applies to "
                         "every weighting: bench run --profile TUNED.json --weighting W.")
    if args.trials < 1:
        raise BenchError(f"--trials must be at least 1, got {args.trials}.")
    if args.epochs is not None and args.epochs < 1:
        raise BenchError(f"--epochs must be at least 1, got {args.epochs}.")
    profile = find_profile(args.profile or ds.default_profile)
    overrides = tuple(parse_overrides(args.set or []))
    check_override_keys(overrides)
    merged = resolve_profile(profile, list(getattr(ds, "profile_keys", (ds.name,))), overrides)
    if not merged["data"]["val_fraction"]:
        raise BenchError("bench tune selects on the validation split, but the profile holds "
                         "none out (data.val_fraction is 0).",
                         "Use a profile with data.val_fraction > 0, or --set "
                         "data.val_fraction=0.1.")
    regime = parse_regime(args.regime).name
    layout = prepare_dataset(ds.name, data_root(args))
    if args.heartbeat < 1:
        raise BenchError(f"--heartbeat must be at least 1 s, got {args.heartbeat}.")
    request = TuneRequest(methods, ds.name, regime, profile, args.trials, args.epochs, args.seed,
                          results_root(args), layout, overrides, heartbeat=args.heartbeat,
                          grace=3 * args.heartbeat)
    out = Path(args.out) if args.out else (request.root / f"{ds.name}-{regime.replace(':', '_')}"
                                                          f"-{profile.id}.json")
    try:
        path = run_tuning(request, out, log=console.print)
    except KeyboardInterrupt:
        console.print("Interrupted. Finished trials are kept in the study; run the same command "
                      "again to continue it.")
        return 130
    console.print(f"Wrote the tuned profile {path}; use it with bench run --profile {path}")
    return 0


def add_tune_command(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("tune", help="equal-budget hyper-parameter search on the validation split "
                                    "(Optuna TPE, median pruning); writes a profile")
    p.add_argument("--methods", required=True, help="methods (comma list or a set) to tune")
    p.add_argument("--dataset", default="synthetic-nyuv2")
    p.add_argument("--regime", default="onelabel", help="label regime of the trials")
    p.add_argument("--trials", type=int, default=20, help="trials per method (default 20)")
    p.add_argument("--epochs", type=int, help="epochs per trial (default: the profile's)")
    p.add_argument("--profile", help="base profile (default: the dataset's)")
    p.add_argument("--seed", type=int, default=0, help="seed of every trial and of the sampler")
    p.add_argument("--set", action="append", metavar="KEY=VALUE")
    p.add_argument("--out", help="tuned profile to write (default: RESULTS/tuning/…json)")
    p.add_argument("--heartbeat", type=int, default=15,
                   help="seconds between a running trial's heartbeats; a trial silent for 3× "
                        "that (its process was killed) is failed and retried (default 15)")
    add_folder_options(p)
    p.set_defaults(func=cmd_tune)
