"""``bench tune``: equal-budget hyper-parameter search per method (see :mod:`bench.studies.tune`)."""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.console import Console

from bench.cli.selection import add_selection_options, request_from_args
from bench.config.profiles import resolve_profile
from bench.errors import BenchError, interrupted_exit_code, interrupted_word
from bench.grid.request import build_grid, select
from bench.metadata import ROW_SEPARATOR


def cmd_tune(args: argparse.Namespace) -> int:
    from bench.studies.tune import TuneRequest, run_tuning

    console = Console(stderr=True, emoji=False, highlight=False)
    if args.methods is None:
        raise BenchError("bench tune needs the methods to tune.", "Add --methods M[,M…].")
    if args.trials < 1:
        raise BenchError(f"--trials must be at least 1, got {args.trials}.")
    if args.epochs is not None and args.epochs < 1:
        raise BenchError(f"--epochs must be at least 1, got {args.epochs}.")
    if args.heartbeat < 1:
        raise BenchError(f"--heartbeat must be at least 1 s, got {args.heartbeat}.")
    if args.seeds is not None:
        raise BenchError("bench tune runs every trial with one seed: --seed N, not --seeds.")
    request = request_from_args(args)
    request = type(request)(**{**request.__dict__, "seeds": str(args.seed)})
    selection = select(request)
    weighted = [r for r in selection.rows if ROW_SEPARATOR in r]
    if weighted:
        raise BenchError(f"bench tune tunes methods with equal weights, not the rows "
                         f"{', '.join(weighted)}.",
                         "Tune the method alone; its tuned section methods.<method> applies to "
                         "every weighting: bench run --profile TUNED.json --weighting W.")
    merged = resolve_profile(selection.profile, list(selection.dataset.profile_sections()),
                             selection.overrides)
    if not merged["data"]["val_fraction"]:
        raise BenchError("bench tune selects on the validation split, but the profile holds "
                         "none out (data.val_fraction is 0).",
                         "Use a profile with data.val_fraction > 0, or --set "
                         "data.val_fraction=0.1.")
    if len(selection.regimes or ()) != 1:
        raise BenchError(f"bench tune tunes on one label regime, not --regimes {args.regimes}.",
                         "Give one, e.g. --regime onelabel.")
    regime = selection.regimes[0]
    # the base configuration of every method, planned and checked like a grid that trains
    grid = build_grid(request, train=True)
    tune = TuneRequest(selection.rows, selection.dataset.name, regime, selection.profile,
                       args.trials, args.epochs, args.seed, request.results, grid.layout,
                       selection.overrides, heartbeat=args.heartbeat, grace=3 * args.heartbeat)
    out = Path(args.out) if args.out else (tune.root / f"{tune.dataset}-{regime.replace(':', '_')}"
                                                       f"-{selection.profile.id}.json")
    try:
        path = run_tuning(tune, out, log=console.print)
    except KeyboardInterrupt as exc:
        console.print(f"{interrupted_word(exc)}. "
                      "Finished trials are kept in the study; run the same command again to "
                      "continue it.")
        return interrupted_exit_code(exc)
    console.print(f"Wrote the tuned profile {path}; use it with bench run --profile {path}")
    return 0


def add_tune_command(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("tune", help="equal-budget hyper-parameter search on the validation split "
                                    "(Optuna TPE, median pruning); writes a profile")
    add_selection_options(p, methods_help="methods (comma list or a set) to tune (required)",
                          regimes_help="the label regime of the trials (one; default onelabel)")
    p.add_argument("--regime", dest="regimes", help="alias of --regimes (one regime)")
    p.add_argument("--trials", type=int, default=20, help="trials per method (default 20)")
    p.add_argument("--epochs", type=int, help="epochs per trial (default: the profile's)")
    p.add_argument("--seed", type=int, default=0, help="seed of every trial and of the sampler")
    p.add_argument("--out", help="tuned profile to write (default: RESULTS/tuning/…json)")
    p.add_argument("--heartbeat", type=int, default=15,
                   help="seconds between a running trial's heartbeats; a trial silent for 3× "
                        "that (its process was killed) is failed and retried (default 15)")
    p.set_defaults(func=cmd_tune, regimes="onelabel")
