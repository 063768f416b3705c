"""The selection flags every command that names runs shares, and their :class:`GridRequest`.

``--dataset``, ``--methods`` (a set, methods or rows ``method+weighting``), ``--weighting``,
``--regimes``, ``--seeds``, ``--profile``, ``--set`` and the folders ``--data-root`` and
``--results``: the same names, meanings and checks in ``bench run``, ``status``, ``power``,
``tune``, ``perf``, ``table``, ``report`` and ``check`` (:mod:`bench.grid.request`).
"""

from __future__ import annotations

import argparse

from bench.cli.args import add_folder_options, data_root, results_root
from bench.grid.request import GridRequest


def add_selection_options(p: argparse.ArgumentParser, *, methods_default: str = "all",
                          methods_help: str | None = None, dataset_default: str | None =
                          "synthetic-nyuv2", seeds_help: str | None = None,
                          regimes_help: str | None = None, folders: bool = True) -> None:
    """Add the selection flags to ``p`` (``dataset_default`` None: ``--dataset`` is required)."""
    g = p.add_argument_group("which runs (the same flags as bench run)")
    if dataset_default is None:
        g.add_argument("--dataset", required=True)
    else:
        g.add_argument("--dataset", default=dataset_default, help=f"default: {dataset_default}")
    g.add_argument("--methods", "--method", dest="methods", metavar="M[,M…]",
                   help=methods_help or f"'all', a method set, methods or rows method+weighting "
                                        f"(default: {methods_default}; see bench list)")
    g.add_argument("--weighting", metavar="W[,W…]",
                   help="task weightings crossed with every method (default: equal; 'all'). A "
                        "method may also name its own: --methods sl+dwa")
    g.add_argument("--regimes", metavar="R[,R…]",
                   help=regimes_help or "comma list (default: the dataset's paper regimes; full "
                                        "for SL and STL)")
    g.add_argument("--seeds", metavar="S[,S…]",
                   help=seeds_help or "comma list of integers 0 … 2**32-1 (default: the "
                                      "dataset's)")
    g.add_argument("--profile", help="profile name or path to a .json (default: the dataset's)")
    g.add_argument("--set", action="append", metavar="KEY=VALUE",
                   help="override a profile value, e.g. --set train.epochs=3 (repeatable)")
    if folders:
        add_folder_options(p)
    p.set_defaults(default_methods=methods_default)


def request_from_args(args: argparse.Namespace) -> GridRequest:
    """The :class:`GridRequest` of a command line parsed with :func:`add_selection_options`."""
    return GridRequest(dataset=args.dataset, methods=args.methods,
                       weighting=getattr(args, "weighting", None),
                       regimes=getattr(args, "regimes", None), seeds=getattr(args, "seeds", None),
                       profile=getattr(args, "profile", None), sets=tuple(args.set or ()),
                       results=results_root(args), data_root=data_root(args),
                       default_methods=getattr(args, "default_methods", "all"),
                       track=getattr(args, "track", None))
