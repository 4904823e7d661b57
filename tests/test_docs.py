"""The README and docs/ hold together: a short README, links that resolve, every option documented,
the demo command the end-to-end test runs, and no install command for a package index adamlr is not on."""

import re
from pathlib import Path

import pytest
import typer.main

from adamlr.cli import app
from tests.test_end_to_end import DEMO

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", ROOT / "CONTRIBUTING.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


def _slug(heading: str) -> str:
    """A heading's anchor as GitHub makes it: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def _anchors(page: Path) -> set[str]:
    text = re.sub(r"```.*?```", "", page.read_text(), flags=re.S)
    return {_slug(line.lstrip("#")) for line in text.splitlines() if line.startswith("#")}


def _links(page: Path) -> list[str]:
    text = re.sub(r"```.*?```|`[^`\n]*`", "", page.read_text(), flags=re.S)  # code is not a link
    return [target for target in LINK.findall(text) if not re.match(r"[a-z]+://", target)]


def test_the_readme_fits_on_a_few_screens():
    assert len((ROOT / "README.md").read_text().splitlines()) <= 200


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_every_link_resolves(page):
    links = _links(page)
    broken = []
    for target in links:
        path, _, anchor = target.partition("#")
        file = (page.parent / path).resolve() if path else page
        if not file.exists():
            broken.append(target)
        elif anchor and file.suffix == ".md" and anchor not in _anchors(file):
            broken.append(target)
    assert not broken, f"{page.name}: links to nothing: {broken}"


def test_the_link_check_can_fail(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("# Title\n\n[a](missing.md) [b](#title) [c](#nowhere) `[d](x.md)` and\n```\n[e](y.md)\n```\n")
    assert _links(page) == ["missing.md", "#title", "#nowhere"]
    assert _anchors(page) == {"title"} and _slug("Cache and journal") == "cache-and-journal"


def test_the_readme_runs_the_demo_the_end_to_end_test_runs():
    readme = (ROOT / "README.md").read_text()
    setup = readme.split("## Set-up: two commands", 1)[1].split("\n## ", 1)[0]
    assert "adamlr " + " ".join(DEMO) in setup
    assert 'pip install -e ".[dev]" && python -m pytest' in setup


@pytest.mark.parametrize("command", ["estimate", "check", "compare"])
def test_every_option_is_documented(command):
    """docs/cli.md names every option of estimate and check; docs/compare.md every option of compare."""
    page = ROOT / "docs" / ("compare.md" if command == "compare" else "cli.md")
    text = page.read_text()
    click_command = typer.main.get_command(app).commands[command]
    flags = [opt for p in click_command.params for opt in p.opts if opt.startswith("--") and opt != "--help"]
    missing = [flag for flag in flags if flag not in text]
    assert not missing, f"{page.name} does not mention {missing}"


def test_no_page_installs_adamlr_from_a_package_index():
    """adamlr is not on PyPI (issue 21): install commands name a clone, a path or a git URL."""
    for page in PAGES:
        for block in re.findall(r"```.*?```", page.read_text(), flags=re.S):
            assert not re.search(r"pip install (-U )?adamlr(\s|$|\[)", block), f"{page.name}: {block}"
