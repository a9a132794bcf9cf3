"""Docs, docstrings and comments refer only to files inside the repository.

No paths outside it, no section numbers of a design document that is not here, no style-guide
item numbers and no issue numbers: each names the doc in ``docs/`` that holds the point instead
(``docs/contributing.md``, Comments and docs).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
# Folders whose code, docstrings and comments are checked, and the suffixes checked there.
CODE_DIRS = ("models", "ingest", "dashboard", "bench", "scripts", "migrations", "tests")
CODE_SUFFIXES = {".py", ".sh", ".ini", ".mako", ".toml", ".cfg"}
TOP_FILES = (
    "README.md",
    "Makefile",
    "pyproject.toml",
    "gunicorn.conf.py",
    "Procfile",
    "Procfile.demo",
)
SKIP_DIRS = {".git", ".data", "__pycache__", "node_modules"}
# This file spells the forbidden forms out as examples.
SELF = Path(__file__).resolve()

OUTSIDE_PATH = re.compile(r"\.\./shared\b|/work/shared\b")
DESIGN_CITATION = re.compile(r"\bDESIGN(?:\.md\b|\s*§)|§\s*\d")
STYLE_CITATION = re.compile(r"\bSTYLE(?:\s+\d+|\.md\b)")
# "issue 4", "Issue 6, point 4", "(issue 5)", "issues 4 and 6", "issue #12". Not the verb:
# "to issue 3 requests", "it issues 2 queries", and never "issues" without a number.
ISSUE = re.compile(
    r"(?P<before>\b[\w']+\s+)?\b(?P<word>[Ii]ssues?)\s+(?P<hash>#)?(?P<number>\d+)(?P<after>.{0,12})"
)
VERB_BEFORE = {
    "to", "will", "would", "can", "could", "may", "might", "must", "should", "shall",
    "we", "they", "it", "which", "that", "who", "and", "then", "also", "never", "not",
}  # fmt: skip
CITATION_AFTER = re.compile(r"(?:\s*(?:[,.;:)\]]|$)|\s+(?:points?|and|or)\b)")


def cites_an_issue(line: str) -> str | None:
    """The issue citation in ``line``, or None when every "issue N" there is the verb."""
    for match in ISSUE.finditer(line):
        citation = f"{match['word']} {match['hash'] or ''}{match['number']}"
        if match["hash"]:
            return citation
        before = (match["before"] or "").strip().lower()
        if before in VERB_BEFORE:
            continue
        if match["word"].endswith("s") and not CITATION_AFTER.match(match["after"]):
            continue  # "the worker issues 2 queries"
        return citation
    return None


def forbidden_reference(line: str) -> str | None:
    """What in ``line`` refers outside the repository, or None."""
    for pattern in (OUTSIDE_PATH, DESIGN_CITATION, STYLE_CITATION):
        match = pattern.search(line)
        if match:
            return match.group(0)
    return cites_an_issue(line)


def checked_files() -> Iterator[Path]:
    """Every doc, the top-level files, and the code of the checked folders."""
    for name in TOP_FILES:
        if (ROOT / name).is_file():
            yield ROOT / name
    for path in sorted((ROOT / "docs").rglob("*.md")):
        yield path
    for folder in CODE_DIRS:
        for path in sorted((ROOT / folder).rglob("*")):
            if SKIP_DIRS.intersection(path.relative_to(ROOT).parts) or path.resolve() == SELF:
                continue
            if path.is_file() and (path.suffix in CODE_SUFFIXES or path.suffix == ".md"):
                yield path


def test_no_doc_or_comment_refers_outside_the_repository() -> None:
    problems = []
    files = list(checked_files())
    for path in files:
        text = path.read_text(encoding="utf-8", errors="replace")
        for number, line in enumerate(text.splitlines(), start=1):
            found = forbidden_reference(line)
            if found:
                where = path.relative_to(ROOT)
                problems.append(f"{where}:{number}: {found!r} in: {line.strip()[:120]}")
    assert len(files) > 100, "the scan found too few files: is ROOT right?"
    assert not problems, (
        "Refer to the doc in docs/ that holds the point (e.g. 'docs/architecture.md, Access "
        "control'), not to files outside the repository, design sections or issue numbers:\n"
        + "\n".join(problems)
    )


@pytest.mark.parametrize(
    "line",
    [
        "More: `../shared/DESIGN.md`.",
        "see /work/shared/STYLE.md",
        '"""Data quality (DESIGN §8): check results."""',
        "Where DESIGN.md is silent, this is what we chose.",
        "DESIGN §6 and §6a are the contract",
        "layer (§7).",
        "travel as JSON (STYLE 7), and",
        "as STYLE.md asks",
        "Issue 4 builds three levels of progressive disclosure",
        "**Not done yet:** live refresh (issue 4 point 6).",
        "Issue 6, point 4 (sources, keys, log viewers).",
        "Issue 6, points 1 and 3. Code:",
        "on the 2-core machine (issue 5).",
        "the note on issue 2 asks for one.",
        "fixed in issues 4 and 6",
        "see issue #12",
        "# the status reads without colour (DESIGN §6a, issue 4).",
    ],
)
def test_citations_are_flagged(line: str) -> None:
    assert forbidden_reference(line) is not None


@pytest.mark.parametrize(
    "line",
    [
        "Known issues are listed on GitHub; report issues there.",
        "The worker issues 2 queries per batch.",
        "it would issue 3 requests where one does",
        "we issue 10 reads at once",
        "Design: the issue is that 5 workers share one core.",
        "docs/architecture.md, Access control",
        "A STYLE attribute of 4 properties",
        "the section numbers 6 and 7 of the design",
    ],
)
def test_ordinary_words_are_not_flagged(line: str) -> None:
    assert forbidden_reference(line) is None
