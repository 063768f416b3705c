"""The rows a ``bench run`` names: methods crossed with the ``--weighting`` axis.

A row is a method with a task weighting, written ``method+weighting`` (``sl+dwa``) or the method
alone for equal weights (``sl``): the same name a table row carries. ``--methods`` may name rows
directly (``--methods sl+uncertainty,xtc``, or a set of rows such as ``table5``); ``--weighting``
crosses every plain method with each weighting given.
"""

from __future__ import annotations

from bench.errors import BenchError
from bench.metadata import EQUAL, ROW_SEPARATOR, row_key, split_row
from bench.registry import method_info


def parse_weightings(text: str | None) -> list[str] | None:
    """``--weighting equal,dwa`` → validated names (``all``: every registered weighting)."""
    from bench.registry import weighting_info, weighting_names

    if text is None:
        return None
    names = [n.strip() for n in text.split(",") if n.strip()]
    if not names:
        raise BenchError("No weighting given.", "Use e.g. --weighting equal,dwa (or all).")
    out: list[str] = []
    for name in names:
        if name == "all":
            out += weighting_names()
        else:
            weighting_info(name)
            out.append(name)
    return list(dict.fromkeys(out))


def cross_weightings(rows: list[str], weightings: list[str] | None
                     ) -> tuple[list[str], list[str]]:
    """``rows`` with every plain method crossed with ``weightings``; and notes on what was left out.

    Rows that name their weighting keep it. A method that takes no weighting (STL: independent
    networks) keeps only its equal-weight row, with a note; nothing left at all is an error.
    """
    if not weightings:
        return rows, []
    out: list[str] = []
    notes: list[str] = []
    for row in rows:
        method, _ = split_row(row)
        if ROW_SEPARATOR in row:
            out.append(row)
        elif not method_info(method).weighted:
            if EQUAL in weightings:
                out.append(method)
            others = [w for w in weightings if w != EQUAL]
            if others:
                notes.append(f"{method} takes no task weighting (independent networks): "
                             f"no {method} runs for {', '.join(others)}")
        else:
            out += [row_key(method, w) for w in weightings]
    out = list(dict.fromkeys(out))
    if not out:
        raise BenchError(f"No runs left: {', '.join(rows)} take no task weighting.",
                         "Add --weighting equal, or choose methods that share a network.")
    return out, notes
