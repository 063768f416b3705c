"""``bench list``: the registered methods, sets, weightings, datasets, regimes and profiles."""

from __future__ import annotations

import argparse

from rich.console import Console
from rich.markup import escape


def cmd_list(args: argparse.Namespace) -> int:
    from bench.config.profiles import find_profile, profile_names
    from bench.labels.regimes import REGIME_KINDS
    from bench.registry import (
        dataset_names,
        describe_dataset,
        get_dataset,
        method_info,
        method_names,
        method_sets,
    )

    console = Console(soft_wrap=True, highlight=False, emoji=False)

    def section(title: str, rows: list[tuple[str, str]]) -> None:
        console.print(f"[bold]{title}[/]")
        width = max(len(name) for name, _ in rows)
        for name, text in rows:
            console.print(f"  [cyan]{escape(name.ljust(width))}[/]  {escape(text)}")
        console.print()

    section("Methods", [(n, method_info(n).summary + ("" if method_info(n).in_all else
                                                      " [not in --methods all]"))
                        for n in method_names()])
    section("Method sets", [(name, ", ".join(members))
                            for name, members in method_sets().items()])
    from bench.registry import weighting_info, weighting_names

    section("Weightings (--weighting)", [(n, weighting_info(n).summary)
                                         for n in weighting_names()])
    datasets = []
    for name in dataset_names():
        ds = get_dataset(name)
        datasets.append((name, f"{describe_dataset(name)}; default regimes "
                               f"{', '.join(ds.default_regimes)}; profile {ds.default_profile}"))
    section("Datasets", datasets)
    section("Regimes", list(REGIME_KINDS.items()))
    section("Profiles", [(n, find_profile(n).description) for n in profile_names()])
    return 0
