"""Rich terminal rendering of a :class:`~bench.report.view.TableView`."""

from __future__ import annotations

import io

from rich.console import Console
from rich.table import Table
from rich.text import Text

from bench.report.view import Cell, Column, TableView, fixed, format_value, is_finite

RANK_STYLE = {1: "bold", 2: "underline"}


def cell_text(cell: Cell, column: Column) -> Text:
    """Mean (bold if best, underlined if second) then ``± spread``; paper values dimmed."""
    if not is_finite(cell.mean):
        return Text("—", style="dim")
    if column.kind == "paper":
        return Text(f"{fixed(cell.mean, column.decimals)}", style="cyan")
    text = Text(f"{fixed(cell.mean, column.decimals)}", style=RANK_STYLE.get(cell.rank or 0, ""))
    if is_finite(cell.spread):
        text.append(f" ± {fixed(cell.spread, column.decimals)}")
    return text


def rich_table(view: TableView, title: str) -> Table:
    table = Table(title=title, header_style="bold", title_justify="left")
    table.add_column("Regime")
    table.add_column("Method")
    for col in view.columns:
        table.add_column(col.header(), justify="right", style="cyan" if col.kind == "paper" else "")
    table.add_column("n", justify="right")
    previous = None
    for row in view.rows:
        regime, method = row
        if previous is not None and regime != previous:
            table.add_section()
        cells: list[Text | str] = [regime if regime != previous else "",
                                   view.method_label(row, display=False)]
        cells += [cell_text(view.cell(row, c), c) for c in view.columns]
        cells.append(str(view.row_n(row)))
        table.add_row(*cells)
        previous = regime
    return table


def render_rich(view: TableView, console: Console, title: str) -> None:
    """Print the table and its footer lines."""
    console.print(rich_table(view, title))
    for line in view.footer:
        console.print(line, style="dim", highlight=False, markup=False)


def render_text(view: TableView, title: str, width: int = 200) -> str:
    """The rich table as plain text (no colours), for ``--format rich --out FILE``."""
    buffer = io.StringIO()
    console = Console(file=buffer, width=width, color_system=None, emoji=False,
                      force_terminal=False)
    render_rich(view, console, title)
    return buffer.getvalue()


__all__ = ["cell_text", "format_value", "render_rich", "render_text", "rich_table"]
