"""The user guide and its screenshots stay in step with the browser tests that take them."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
GUIDE = ROOT / "docs" / "guide"
IMAGE_REF = re.compile(r"!\[[^\]]*\]\(img/([a-z0-9-]+)\.png\)")
GUIDE_SHOT = re.compile(r"""guide=["']([a-z0-9-]+)["']""")


def referenced() -> dict[str, list[str]]:
    """Picture name -> guide pages that show it."""
    found: dict[str, list[str]] = {}
    for page in sorted(GUIDE.glob("*.md")):
        for name in IMAGE_REF.findall(page.read_text(encoding="utf-8")):
            found.setdefault(name, []).append(page.name)
    return found


def taken() -> set[str]:
    """Picture names the browser tests save for the guide."""
    return {
        name
        for test in (ROOT / "tests" / "e2e").glob("*.py")
        for name in GUIDE_SHOT.findall(test.read_text(encoding="utf-8"))
    }


def test_every_picture_the_guide_shows_is_taken_by_a_browser_test_and_committed() -> None:
    shown = referenced()
    assert shown, "the guide shows no picture"
    missing_shot = {name: pages for name, pages in shown.items() if name not in taken()}
    assert missing_shot == {}, "no browser test takes these (browser.shot(..., guide=NAME))"
    missing_file = sorted(n for n in shown if not (GUIDE / "img" / f"{n}.png").is_file())
    assert missing_file == [], "run `make screenshots` and commit docs/guide/img"


def test_every_picture_taken_for_the_guide_is_shown_in_it() -> None:
    unused = sorted(taken() - set(referenced()))
    assert unused == [], "shown on no guide page"
    stale = sorted(p.stem for p in (GUIDE / "img").glob("*.png") if p.stem not in taken())
    assert stale == [], "pictures no browser test takes any more: delete them"
