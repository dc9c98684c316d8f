"""The French user guide (docs/guide/*.md) read for the app: which page documents a test, and its text cut into
blocks the app can draw without a browser leaving the intranet.

One markdown page per image/report test (`docs/guide/<key>.md`), one per study page (`mr-image`, `mr-linac`), and
one page for the logged tests (`releves.md`) with a `## <test name>` section each. In the app a page is shown as
text and pictures: an image line `![caption](images/x.png)` becomes a picture block, a link to another page of the
guide becomes its plain text (the app shows one page at a time, there is nothing to follow) and a link back to the
index is left out, and nothing else is changed. The pages are written without raw HTML (tests/test_guide.py) and Streamlit escapes HTML in markdown.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

GUIDE_DIR = Path(__file__).resolve().parent.parent / "docs" / "guide"
LOGGED_PAGE = "releves.md"

_IMAGE_LINE = re.compile(r"^!\[(?P<alt>[^\]]*)\]\((?P<src>[^)\s]+)\)\s*$")
_LINK = re.compile(r"(?<!!)\[(?P<text>[^\]]+)\]\((?P<target>[^)\s]+)\)")
_SECTION = re.compile(r"^## ", re.M)
# « · [retour au sommaire](index.md) »: in the app the guide is one page at a time, there is no index to go back to.
_TO_INDEX = re.compile(r"[ \t]*·?[ \t]*\[[^\]]+\]\(index\.md\)")


@dataclass(frozen=True)
class Block:
    """A piece of a guide page: `kind` "text" (markdown) or "image" (`path` of the PNG, `text` its caption)."""

    kind: str
    text: str
    path: Path | None = None


def page_path(key: str, guide_dir: Path = GUIDE_DIR) -> Path | None:
    """The guide page of the test or study page `key` (`<key>.md`), else None (a logged test: see `logged_section`)."""
    path = guide_dir / f"{key}.md"
    return path if path.is_file() else None


def logged_section(text: str, name: str) -> str | None:
    """The section `## <name>` of the logged tests' page, with the page's introduction (its text before the first
    section) above it; None when the page has no such section."""
    parts = _SECTION.split(text)
    intro, sections = parts[0], parts[1:]
    for section in sections:
        title = section.split("\n", 1)[0].strip()
        if title.casefold() == name.strip().casefold():
            return intro.rstrip() + "\n\n## " + section
    return None


def page_text(key: str, name_fr: str | None = None, guide_dir: Path = GUIDE_DIR) -> str | None:
    """The markdown the app shows for the test `key`: its own page, else (a logged test, whose French name is
    `name_fr`) its section of the logged tests' page, else that page's introduction (a logged test a department
    defined itself: how every logged test is entered); None when there is no guide at all."""
    path = page_path(key, guide_dir)
    if path is not None:
        return path.read_text(encoding="utf-8")
    logged = guide_dir / LOGGED_PAGE
    if name_fr is None or not logged.is_file():
        return None
    text = logged.read_text(encoding="utf-8")
    return logged_section(text, name_fr) or _SECTION.split(text)[0]


def images_of(text: str) -> list[str]:
    """The relative paths of the pictures a page shows (its `![…](…)` lines)."""
    return [m.group("src") for line in text.splitlines() if (m := _IMAGE_LINE.match(line.strip()))]


def links_of(text: str) -> list[str]:
    """The targets of the page's links (other pages of the guide, with or without an `#anchor`)."""
    return [m.group("target") for m in _LINK.finditer(text)]


def blocks(text: str, guide_dir: Path = GUIDE_DIR) -> list[Block]:
    """The page cut into text and pictures for the app; links become their text (links back to the index are left
    out); a picture whose file is missing becomes its caption in italics (never a broken image)."""
    out: list[Block] = []
    lines: list[str] = []

    def flush() -> None:
        body = "\n".join(lines).strip()
        if body:
            out.append(Block("text", _LINK.sub(lambda m: m.group("text"), _TO_INDEX.sub("", body))))
        lines.clear()

    for line in text.splitlines():
        m = _IMAGE_LINE.match(line.strip())
        if m is None:
            lines.append(line)
            continue
        flush()
        path = (guide_dir / m.group("src")).resolve()
        if path.is_file() and guide_dir.resolve() in path.parents:
            out.append(Block("image", m.group("alt"), path))
        else:
            out.append(Block("text", f"*{m.group('alt')}*"))
    flush()
    return out
