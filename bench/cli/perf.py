"""``bench perf``: step time and FLOPs of each method relative to SL (see :mod:`bench.studies.perf`)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from bench.cli.selection import add_selection_options, request_from_args
from bench.errors import BenchError


def cmd_perf(args: argparse.Namespace) -> int:
    import torch
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    from bench.cli.args import split_list, table_console
    from bench.config.profiles import resolve_profile
    from bench.engine.allocator import keep_freed_memory
    from bench.engine.threads import CPU_THREADS
    from bench.grid.request import select
    from bench.studies.perf import LOOP_REFERENCE, measure

    for flag, value in (("--seeds", args.seeds), ("--set", args.set)):
        if value:
            raise BenchError(f"bench perf times one random batch per method; {flag} names "
                             "nothing it uses.",
                             "Leave it out; choose the network with --arch, --width and --size.")
    selection = select(request_from_args(args))
    ds = selection.dataset
    if len(selection.regimes or ()) > 1:
        raise BenchError(f"bench perf draws its batch's labels from one regime, not "
                         f"--regimes {args.regimes}.", "Give one, e.g. --regime onelabel.")
    regime = (selection.regimes or ["onelabel"])[0]
    rows = list(selection.rows)
    for row in list(rows):  # a weighted row is compared with its method's equal-weight row
        if "+" in row and row.split("+")[0] not in rows:
            rows.insert(rows.index(row), row.split("+")[0])
    methods = [m for m in dict.fromkeys(rows) if m != "sl"]
    methods = ["sl", *methods] + ([LOOP_REFERENCE] if args.loop_reference else [])
    try:
        height, width_px = (int(v) for v in args.size.lower().split("x"))
    except ValueError:
        raise BenchError(f"Bad --size '{args.size}'.", "Write HxW, e.g. --size 64x96.") from None
    profile = resolve_profile(selection.profile, list(ds.profile_sections()))
    stages = int(args.stages or profile["model"].get("stages", 5))
    if height % 2 ** stages or width_px % 2 ** stages:
        raise BenchError(f"--size {args.size} is not divisible by {2 ** stages} (SegNet's "
                         f"{stages} stages).")
    if args.rounds < 1 or args.batch < 1 or args.warmup < 0:
        raise BenchError("--rounds and --batch must be at least 1, --warmup at least 0.")
    device = "cuda" if torch.cuda.is_available() else "cpu"
    malloc = ""
    if device == "cpu":  # as a run on the CPU (bench.engine.allocator)
        torch.set_num_threads(args.threads or CPU_THREADS)
        malloc = f", malloc {keep_freed_memory().split(' (')[0]}"
    variants = tuple(split_list(args.variants) or ["fp32"])
    arch = args.arch or str(profile.get("model", {}).get("arch") or "segnet")
    err = Console(stderr=True, emoji=False)
    err.print(f"perf: {ds.name} tasks, {arch}, {height}×{width_px}, batch {args.batch}, width "
              f"{args.width}, regime {regime}, {device}, {torch.get_num_threads()} threads, "
              f"{args.rounds} interleaved rounds of one step each{malloc}")
    results = measure(methods, ds.name, width=args.width, batch=args.batch, height=height,
                      width_px=width_px, regime=regime, rounds=args.rounds,
                      warmup=args.warmup, device=device, variants=variants,
                      progress=lambda text: err.print(f"  {text}"), arch=arch,
                      stages=stages if stages != 5 else None)
    bases = {r.variant: r for r in results if r.method == "sl"}
    speedups = any(r.speedups for r in results)
    table = Table(title=f"Training step time relative to SL ({ds.name}, {arch}, "
                        f"{height}×{width_px}, "
                        f"batch {args.batch}, width {args.width}, {regime}, {device}, "
                        f"{torch.get_num_threads()} thread(s); median [IQR] over "
                        f"{args.rounds} interleaved rounds)",
                  title_justify="left", header_style="bold")
    columns = ["method", "step (ms)", "× SL time", "GFLOP / step", "× SL FLOPs",
               "time ratio / FLOP ratio"] + (["speed-up vs fp32"] if speedups else [])
    weighted = any("+" in r.method for r in results)
    if weighted:
        columns += ["× equal weights time", "× equal weights FLOPs"]
    by_key = {(r.method, r.variant): r for r in results}
    for col in columns:
        table.add_column(col, justify="left" if col == "method" else "right")
    for r in results:
        lo, mid, hi = r.ratio()
        fr = r.flop_ratio(bases[r.variant])
        row = [escape(r.label), f"{r.step_s * 1000:.0f}", f"{mid:.2f} [{lo:.2f}–{hi:.2f}]",
               f"{r.flops / 1e9:.2f}", f"{fr:.2f}",
               f"{mid / fr:.2f} [{lo / fr:.2f}–{hi / fr:.2f}]"]
        if speedups:
            s = r.speedup()
            row.append(f"{s[1]:.2f} [{s[0]:.2f}–{s[2]:.2f}]" if s else "")
        if weighted:
            equal = by_key.get((r.equal_row(), r.variant))
            row += ([f"{r.step_s / equal.step_s:.2f}", f"{r.flop_ratio(equal):.2f}"] if equal
                    else ["", ""])
        table.add_row(*row)
    table_console().print(table)
    if args.out:
        Path(args.out).write_text(json.dumps({
            "dataset": ds.name, "size": [height, width_px], "batch": args.batch,
            "width": args.width, "arch": arch, "regime": regime, "device": device,
            "threads": torch.get_num_threads(), "rounds": args.rounds,
            "results": [r.to_dict(bases[r.variant]) for r in results]}, indent=1))
    return 0


def add_perf_command(sub: Any) -> None:
    p = sub.add_parser("perf", help="training-step time of each method relative to SL")
    add_selection_options(p, methods_help="'all' or a comma list (SL always included); with "
                                          "--weighting each method also with those weightings, "
                                          "beside its equal-weight row",
                          regimes_help="the label mask of the batch (one; default onelabel)",
                          folders=False)
    p.add_argument("--arch", help="backbone (segnet, resnet18_aspp; default: the dataset's "
                                  "default profile's model.arch)")
    p.add_argument("--size", default="64x96", help="HxW of the batch (default 64x96)")
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--width", type=float, default=1.0, help="network width multiplier (default 1)")
    p.add_argument("--stages", type=int, help="SegNet stages (default: the profile's model.stages)")
    p.add_argument("--regime", dest="regimes", help="alias of --regimes (one regime)")
    p.add_argument("--rounds", type=int, default=10,
                   help="interleaved rounds, one timed step of every method each (default 10)")
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--variants", default="fp32",
                   help="comma list of fp32, bf16, channels_last, bf16+channels_last, fp16 "
                        "(CUDA); with fp32 among them each row also gets its speed-up")
    p.add_argument("--threads", type=int, default=None,
                   help="CPU intra-op threads (default: a run's, 1)")
    p.add_argument("--loop-reference", action="store_true",
                   help="also time xtc computed with the official code's per-image loop")
    p.add_argument("--out", help="also write the results as JSON")
    p.set_defaults(func=cmd_perf)
