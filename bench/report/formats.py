"""Markdown and CSV renderings of a :class:`~bench.report.view.TableView`, and writing outputs.

* Markdown: a pipe table with paper names (methods, regimes), ``mean ± spread`` cells, the best
  value per regime and column in ``**bold**`` and the second best ``<u>underlined</u>``, the
  footer lines as a paragraph under it.
* CSV: one row per (regime, method), full-precision numbers: for each column ``<key> mean``,
  ``<key> std`` (or ``<key> ci95``), ``<key> n``, and ``<key> paper`` with ``--paper``; the footer
  lines follow as ``#`` comments (``pandas.read_csv(..., comment="#")`` reads it back).
"""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd

from bench.errors import BenchError
from bench.report.names import regime_display
from bench.report.view import PAPER_PREFIX, TableView, fixed, is_finite

FORMATS = ("rich", "markdown", "latex", "csv")
SUFFIX_FORMAT = {".md": "markdown", ".markdown": "markdown", ".tex": "latex", ".csv": "csv",
                 ".txt": "rich"}


def infer_format(fmt: str | None, out: Path | None) -> str:
    """The explicit ``--format``, else the one of ``--out``'s suffix, else ``rich``."""
    if fmt:
        return fmt
    if out is not None and Path(out).suffix.lower() in SUFFIX_FORMAT:
        return SUFFIX_FORMAT[Path(out).suffix.lower()]
    return "rich"


def _md_escape(text: str) -> str:
    return text.replace("|", "\\|")


def to_markdown(view: TableView) -> str:
    """GitHub-flavoured Markdown table plus footer paragraph."""
    header = ["Regime", "Method", *[c.header() for c in view.columns], "n"]
    align = [":--", ":--", *["--:"] * len(view.columns), "--:"]
    lines = ["| " + " | ".join(_md_escape(h) for h in header) + " |",
             "| " + " | ".join(align) + " |"]
    previous = None
    for row in view.rows:
        regime, method = row
        cells = [regime_display(regime) if regime != previous else "", view.method_label(row)]
        for col in view.columns:
            cell = view.cell(row, col)
            if col.kind == "paper" or not is_finite(cell.mean):
                cells.append(cell.text(col.decimals, with_spread=False))
                continue
            mean = f"{fixed(cell.mean, col.decimals)}"
            mean = {1: f"**{mean}**", 2: f"<u>{mean}</u>"}.get(cell.rank or 0, mean)
            spread = f" ± {fixed(cell.spread, col.decimals)}" if is_finite(cell.spread) else ""
            cells.append(mean + spread)
        cells.append(str(view.row_n(row)))
        lines.append("| " + " | ".join(_md_escape(c) for c in cells) + " |")
        previous = regime
    return "\n".join(lines) + "\n\n" + "  \n".join(view.footer) + "\n"


def csv_frame(view: TableView) -> pd.DataFrame:
    """The numbers of the view as a flat DataFrame (see the module docstring for the columns)."""
    spread_name = "std" if view.interval == "std" else "ci95"
    records = []
    for row in view.rows:
        rec: dict[str, object] = {"regime": row[0], "method": row[1],
                                  "selected_on_test": bool(view.marks.get(row))}
        for col in view.columns:
            cell = view.cell(row, col)
            if col.kind == "paper":
                rec[f"{col.key[len(PAPER_PREFIX):]} paper"] = cell.mean
                continue
            rec[f"{col.key} mean"] = cell.mean
            rec[f"{col.key} {spread_name}"] = cell.spread
            rec[f"{col.key} n"] = cell.n
        records.append(rec)
    return pd.DataFrame.from_records(records)


def to_csv(view: TableView) -> str:
    buffer = io.StringIO()
    csv_frame(view).to_csv(buffer, index=False, lineterminator="\n")
    return buffer.getvalue() + "".join(f"# {line}\n" for line in view.footer)


def write_text(text: str, out: Path) -> Path:
    """Write ``text`` to ``out`` (creating its folder); a clear error when that is impossible."""
    out = Path(out)
    if out.is_dir():
        raise BenchError(f"--out {out} is a folder.", "Give a file name, e.g. --out table.tex.")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise BenchError(f"Cannot write {out}: {exc.strerror or exc}.",
                         "Check that the folder can be created and written to.") from None
    return out
