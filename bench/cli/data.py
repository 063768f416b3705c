"""``bench data synth | check``: generate a synthetic set, validate a dataset's files."""

from __future__ import annotations

import argparse
import os

from rich.console import Console

from bench.cli.args import data_root, results_root
from bench.errors import BenchError


def cmd_data(args: argparse.Namespace) -> int:
    from bench.registry import dataset_names, get_dataset

    console = Console(emoji=False)
    ds = get_dataset(args.dataset)
    size = None
    if args.profile is not None and ds.synthetic:  # rendered at the protocol's data.size
        from bench.config.profiles import find_profile, resolve_profile

        found = resolve_profile(find_profile(args.profile), list(ds.profile_sections()))
        size = tuple(found["data"]["size"]) if found["data"].get("size") else None
    root = ds.default_root(data_root(args), size)
    if args.action == "synth":
        if not ds.synthetic:
            synthetic = [n for n in dataset_names() if get_dataset(n).synthetic]
            raise BenchError(f"'{ds.name}' is not a synthetic dataset; nothing to generate.",
                             f"Synthetic sets: {', '.join(synthetic)}.")
        import time

        t0 = time.perf_counter()
        made = ds.prepare(root, force=args.force, workers=min(4, os.cpu_count() or 1), size=size)
        verb = "Generated" if made else "Up to date:"
        console.print(f"{verb} {ds.name} at {root} ({time.perf_counter() - t0:.1f} s)")
    info = ds.check_layout(root)
    console.print(f"{ds.name} at {root}: layout OK — train {info.sizes['train']}, "
                  f"val {info.sizes['val']} images of {info.height}×{info.width}")
    if args.action == "check":
        from bench.data.check import cache_path, require_valid

        result = require_valid(ds, root, (info.height, info.width), info.sizes,
                               None if args.no_cache else cache_path(results_root(args), ds, root),
                               "fix them before training on this dataset")
        console.print(f"Every file is valid: {result.summary()}", highlight=False, soft_wrap=True)
    return 0
