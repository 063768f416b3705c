"""The README and ``docs/`` stay true: a short README whose quick start CI runs, links that
resolve, and no text that names an issue of the tracker."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def quick_start() -> list[str]:
    text = (ROOT / "README.md").read_text()
    block = re.search(r"^## Quick start\s*$.*?^```[^\n]*\n(.*?)^```", text, re.S | re.M)
    return [line for line in block.group(1).splitlines() if line.strip()]


def slug(heading: str) -> str:
    """GitHub's anchor of a Markdown heading."""
    text = re.sub(r"[`*_]", "", heading.strip().lower())
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(page: Path) -> set[str]:
    text = re.sub(r"^```.*?^```", "", page.read_text(), flags=re.S | re.M)
    return {slug(h) for h in re.findall(r"^#+ (.+)$", text, re.M)}


def test_the_readme_is_short_and_its_quick_start_is_two_commands_that_ci_runs():
    assert len((ROOT / "README.md").read_text().splitlines()) <= 250
    commands = quick_start()
    assert len(commands) == 2
    assert commands[1] in (ROOT / ".ci" / "run").read_text()


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_every_link_resolves(page):
    text = re.sub(r"^```.*?^```", "", page.read_text(), flags=re.S | re.M)
    bad = []
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if target.startswith(("http://", "https://", "mailto:")):
            continue
        path, _, anchor = target.partition("#")
        file = (page.parent / path).resolve() if path else page
        if not file.exists():
            bad.append(f"{target}: no such file")
        elif anchor and file.suffix == ".md" and anchor not in anchors(file):
            bad.append(f"{target}: no such heading")
    assert bad == []


def test_no_text_names_an_issue_number():
    files = [*PAGES, *(ROOT / "bench").rglob("*.py"), *(ROOT / "methods").rglob("*.py")]
    named = [f"{p.relative_to(ROOT)}:{i}" for p in files
             for i, line in enumerate(p.read_text().splitlines(), 1)
             if re.search(r"\b[Ii]ssues? ?#?\d+", line)]
    assert named == []


def test_every_test_the_reliability_page_names_exists():
    """A promise is only as good as its test: each ``file.py::test`` of the page is real."""
    text = (ROOT / "docs" / "reliability.md").read_text()
    missing = []
    for row in [line for line in text.splitlines() if line.startswith("| **")]:
        current = None
        for file, name in re.findall(r"`(?:(test_\w+\.py))?(?:::(test_\w+))?", row):
            if file:
                current = file
            if name and current:
                source = (ROOT / "tests" / current).read_text()
                if not re.search(rf"^def {name}\(", source, re.M):
                    missing.append(f"{current}::{name}")
            elif file and not (ROOT / "tests" / file).is_file():
                missing.append(file)
    assert missing == []
