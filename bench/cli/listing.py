"""``bench list``: everything registered (methods, sets, weightings, datasets, tasks, backbones,
launchers), the regimes and the profiles, one line each."""

from __future__ import annotations

import argparse

from rich.console import Console
from rich.markup import escape


def cmd_list(args: argparse.Namespace) -> int:
    from bench.config.profiles import find_profile, profile_names
    from bench.labels.regimes import REGIME_KINDS
    from bench.registry import (
        ARCHITECTURES,
        LAUNCHERS,
        TASKS,
        dataset_names,
        describe_dataset,
        entries,
        get_dataset,
        method_info,
        method_names,
        method_sets,
        weighting_info,
        weighting_names,
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
    section("Weightings (--weighting)", [(n, weighting_info(n).summary)
                                         for n in weighting_names()])
    datasets = []
    for name in dataset_names():
        ds = get_dataset(name)
        datasets.append((name, f"{describe_dataset(name)}; default regimes "
                               f"{', '.join(ds.default_regimes)}; profile {ds.default_profile}"))
    section("Datasets", datasets)
    for title, registry in (("Tasks", TASKS), ("Backbones (model.arch)", ARCHITECTURES),
                            ("Launchers (bench run --launcher)", LAUNCHERS)):
        section(title, [(name, e.summary) for name, e in sorted(entries(registry).items())])
    section("Regimes", list(REGIME_KINDS.items()))
    section("Profiles", [(n, find_profile(n).description) for n in profile_names()])
    return 0
