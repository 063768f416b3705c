"""Paper-style LaTeX tables (pandas ``Styler.to_latex``) and compiling them with pdflatex.

The table follows the paper's Tables 1, 2, 4 and 6: booktabs rules, one multirow block per
regime (full / random / one / 1:9 / 9:1) separated by ``\\midrule``, the task as a column group
over its metrics, ↑ / ↓ in every metric header, the best mean per regime and column in
``\\textbf`` and the second best ``\\underline`` d (ranks from :mod:`bench.report.view`), numbers
rounded like the paper (each metric's ``decimals`` from the record: mIoU 2, depth 4, normals 2;
Δm 2) with the spread over seeds in small type after the mean. The caption states the statistic,
the regimes, the Δm baseline and the metric of each task. The document needs
``\\usepackage{booktabs}`` and ``\\usepackage{multirow}`` (listed in a comment at the top).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from bench.errors import BenchError
from bench.report.names import regime_display, regime_meaning
from bench.report.view import Cell, Column, TableView, fixed, is_finite

PACKAGES = ("booktabs", "multirow")
_LATEX_SPECIAL = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#",
                  "_": r"\_", "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}",
                  "^": r"\textasciicircum{}"}
_LATEX_UNICODE = {"Δ": r"$\Delta$", "±": r"$\pm$", "↑": r"$\uparrow$", "↓": r"$\downarrow$",
                  "°": r"$^\circ$", "·": r"$\cdot$", "√": r"$\surd$", "Σ": r"$\Sigma$",
                  "−": "-", "…": r"\dots{}", "×": r"$\times$", "—": "---", "–": "--",
                  "‘": "`", "’": "'", "†": r"$^\dagger$"}


def latex_escape(text: str) -> str:
    """Plain text → LaTeX source (special characters escaped, a few symbols as math)."""
    parts = text.split("Δm")
    return r"$\Delta_m$".join("".join(_LATEX_SPECIAL.get(ch, _LATEX_UNICODE.get(ch, ch))
                                       for ch in part) for part in parts)


def arrow_tex(higher_is_better: bool) -> str:
    return r"$\uparrow$" if higher_is_better else r"$\downarrow$"


def header_tex(col: Column) -> tuple[str, str]:
    """(group, label) header cells of a column."""
    if col.kind == "delta":
        return "", r"$\Delta_m$ (\%) " + arrow_tex(True)
    if col.kind == "paper":
        return col.task_title or col.task or "", "paper"
    return (col.task_title or col.task or "",
            f"{latex_escape(col.label)} {arrow_tex(col.higher_is_better)}")


def cell_tex(cell: Cell, col: Column, with_spread: bool = True) -> str:
    """``\\textbf{40.12}{\\scriptsize$\\pm$0.31}`` (bold for rank 1, underline for rank 2)."""
    if not is_finite(cell.mean):
        return "--"
    mean = fixed(cell.mean, col.decimals)
    if mean.startswith("-"):
        mean = "$-$" + mean[1:]
    if col.kind != "paper":
        mean = {1: rf"\textbf{{{mean}}}", 2: rf"\underline{{{mean}}}"}.get(cell.rank or 0, mean)
    if with_spread and col.kind != "paper" and is_finite(cell.spread):
        mean += rf"{{\scriptsize$\pm${fixed(cell.spread, col.decimals)}}}"
    return mean


def caption_text(view: TableView, profile: str | None = None) -> str:
    """One paragraph: dataset, statistic, regimes, Δm baseline and metrics, marks."""
    ns = sorted({view.row_n(r) for r in view.rows})
    seeds = f"{ns[0]} seed{'s' if ns[0] != 1 else ''}" if len(ns) == 1 else \
        f"{ns[0]}–{ns[-1]} seeds"
    spread = {"std": " ± standard deviation", "ci": " ± half-width of the 95 % t confidence "
              "interval"}[view.interval] if ns[-1] > 1 else ""
    parts = [f"Results on {view.names.dataset_display}"
             + (f" (profile {profile})" if profile else "")
             + f": test-split metrics, mean over {seeds}{spread}. {view.protocol}"]
    tasks = list(dict.fromkeys(c.task for c in view.metric_columns if c.task))
    parts.append("; ".join(f"‘{regime_display(r)}’: {regime_meaning(r, tasks)}"
                           for r in view.regimes()) + ".")
    base = view.baseline.split("@")
    where = f"in regime ‘{regime_display(base[1])}’" if view.baseline_fixed else \
        "of the same regime (‘full’ where it has none)"
    metrics = ", ".join(f"{c.label} {c.arrow}" for c in view.delta_metrics)
    parts.append(f"Δm: mean relative gain (%) over {view.names.method(base[0])} {where} on "
                 f"{metrics}.")
    parts.append("Best per regime in bold, second best underlined.")
    parts += view.setup
    if any(c.kind == "paper" for c in view.columns):
        parts.append("‘paper’: published in Li et al., CVPR 2022.")
    return " ".join(parts)


def view_frame(view: TableView, with_spread: bool = True) -> pd.DataFrame:
    """The view as a DataFrame of LaTeX cell strings with (regime, method) × (group, label)."""
    index = pd.MultiIndex.from_tuples(
        [(latex_escape(regime_display(r)), latex_escape(view.method_label((r, m))))
         for r, m in view.rows])
    columns = pd.MultiIndex.from_tuples([header_tex(c) for c in view.columns])
    data = [[cell_tex(view.cell(row, c), c, with_spread) for c in view.columns]
            for row in view.rows]
    return pd.DataFrame(data, index=index, columns=columns, dtype=object)


def to_latex(view: TableView, *, profile: str | None = None, label: str | None = None,
             with_spread: bool = True) -> str:
    """The paper-style table (``table`` or, when wide, ``table*`` environment)."""
    frame = view_frame(view, with_spread)
    wide = len(view.columns) > (4 if with_spread else 6)
    styler = frame.style
    tex = styler.to_latex(
        environment="table*" if wide else "table", position="t", position_float="centering",
        hrules=True, multirow_align="c", multicol_align="c", clines="skip-last;data",
        column_format="ll" + "r" * len(view.columns),
        caption=latex_escape(caption_text(view, profile)),
        label=label or f"tab:{re.sub(r'[^A-Za-z0-9]+', '-', view.dataset)}")
    # regime blocks: booktabs \midrule between them instead of \cline, none before \bottomrule
    tex = re.sub(r"\\cline\{[0-9-]+\}\n(?=\\bottomrule)", "", tex)
    tex = re.sub(r"\\cline\{[0-9-]+\}", r"\\midrule", tex)
    comments = [f"% needs \\usepackage{{{','.join(PACKAGES)}}}"]
    comments += ["% " + line for line in view.footer]
    return "\n".join(comments) + "\n" + tex


# ---------------------------------------------------------------------------------------------
def pdflatex_available() -> bool:
    return shutil.which("pdflatex") is not None


def standalone_document(table_tex: str) -> str:
    """A minimal article around one table, with the packages the table needs."""
    return ("\\documentclass{article}\n\\usepackage[T1]{fontenc}\n"
            + "".join(f"\\usepackage{{{p}}}\n" for p in PACKAGES)
            + "\\usepackage[margin=1.5cm,landscape]{geometry}\n\\pagestyle{empty}\n"
            + "\\begin{document}\n" + table_tex + "\n\\end{document}\n")


def compile_latex(table_tex: str, pdf_out: Path, timeout: float = 60.0) -> Path:
    """Compile ``table_tex`` in :func:`standalone_document` with pdflatex; the PDF at ``pdf_out``.

    Raises :class:`BenchError` with the end of pdflatex's log when it fails.
    """
    if not pdflatex_available():
        raise BenchError("pdflatex is not installed.", "apt-get install texlive-latex-base "
                         "texlive-latex-recommended texlive-latex-extra")
    with tempfile.TemporaryDirectory(prefix="bench-tex-") as tmp:
        src = Path(tmp) / "table.tex"
        src.write_text(standalone_document(table_tex), encoding="utf-8")
        proc = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error",
                               "table.tex"], cwd=tmp, capture_output=True, text=True,
                              timeout=timeout, check=False)
        pdf = Path(tmp) / "table.pdf"
        if proc.returncode != 0 or not pdf.is_file():
            tail = "\n".join(proc.stdout.splitlines()[-25:])
            raise BenchError("pdflatex could not compile the table.", tail)
        pdf_out = Path(pdf_out)
        pdf_out.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(pdf, pdf_out)
    return pdf_out


def render_png(pdf: Path, png_out: Path, dpi: int = 200) -> Path:
    """First page of ``pdf`` as a PNG cropped to its content (needs ``pdftoppm``, poppler)."""
    import matplotlib.image as mpimg

    if shutil.which("pdftoppm") is None:
        raise BenchError("pdftoppm is not installed.", "apt-get install poppler-utils")
    png_out = Path(png_out)
    png_out.parent.mkdir(parents=True, exist_ok=True)
    stem = png_out.with_suffix("")
    subprocess.run(["pdftoppm", "-png", "-r", str(dpi), "-singlefile", "-f", "1", str(pdf),
                    str(stem)], check=True, capture_output=True, timeout=60)
    image = mpimg.imread(str(stem) + ".png")
    ink = np.where((image[..., :3] < 0.98).any(axis=-1))
    if ink[0].size:
        pad = int(dpi / 10)
        y0, y1 = max(ink[0].min() - pad, 0), min(ink[0].max() + pad, image.shape[0])
        x0, x1 = max(ink[1].min() - pad, 0), min(ink[1].max() + pad, image.shape[1])
        image = image[y0:y1, x0:x1]
    mpimg.imsave(str(png_out), image)
    return png_out
