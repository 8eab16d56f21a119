"""The pages whose code the tests run, and the fenced blocks in them.

The conventions (stated in the README's "Development" section and in docs/server-api.md):

* every fenced ``python`` block compiles (top-level ``await`` allowed: the fragments are
  the bodies of coroutines);
* a block whose first line is ``# runnable`` is a complete program that must exit cleanly;
* a block whose first line is ``# <file>.py  (serve it: <command>)`` is a server: the tests
  write it to ``<file>.py`` and start ``<command>`` (on a free port in place of 3000), then
  run the page's ``# runnable`` blocks against it;
* in a tour page's checked section, the Python fragments use only the library's names and
  run against a live server and client, and every topic shows Node beside Python;
* every ``js`` block runs under Node, unless its first line says ``(not run: <why>)``.

The guides under docs/guides/ have their own tests (tests/docs/test_guides.py).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

ROOT = Path(__file__).resolve().parents[2]
RUNNABLE = "# runnable"
SERVER_LINE = re.compile(r"^# (?P<module>\w+)\.py  \(serve it: (?P<command>[^)]+)\)$")
NOT_RUN_LINE = re.compile(r"\(not run: (?P<why>[^)]+)\)")
CHECKED_SECTION = "## API by example"

Role = Literal["server", "client"]


@dataclass(frozen=True)
class Page:
    """A Markdown file whose code blocks are tested."""

    path: str  # relative to the repository root
    role: Role | None = None  # a tour: its checked section's fragments run in this role
    names: bool = False  # every Python block's names are checked (tours: the checked section)

    @property
    def text(self) -> str:
        return (ROOT / self.path).read_text(encoding="utf-8")


TOURS = (
    Page("docs/server-api.md", role="server", names=True),
    Page("docs/client-api.md", role="client", names=True),
)
NAME_CHECKED = (Page("docs/cluster.md", names=True),)


def pages() -> list[Page]:
    """README.md, SECURITY.md and every docs/*.md (not docs/guides/: tested on their own)."""
    special = {p.path: p for p in (*TOURS, *NAME_CHECKED)}
    paths = ["README.md", "SECURITY.md"]
    paths += sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "docs").glob("*.md"))
    return [special.get(path, Page(path)) for path in paths]


@dataclass(frozen=True)
class Block:
    """One fenced block of a page."""

    page: Page
    line: int  # 1-based line of its first code line
    section: str  # the ``## `` heading it is under
    code: str

    @property
    def first_line(self) -> str:
        return self.code.split("\n", 1)[0]

    @property
    def runnable(self) -> bool:
        return self.code.startswith(RUNNABLE)

    @property
    def server(self) -> re.Match[str] | None:
        """The module name and the command of a server block, else None."""
        return SERVER_LINE.match(self.first_line)

    @property
    def checked(self) -> bool:
        """In a tour's checked section (names checked, fragments run)."""
        return self.page.role is not None and self.section.startswith(CHECKED_SECTION)

    def __str__(self) -> str:
        return f"{self.page.path}:{self.line}"


def fenced_blocks(page: Page, language: str) -> Iterator[Block]:
    """The fenced blocks of ``language`` in ``page``, with their line and section."""
    section = ""
    lines = page.text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("## "):
            section = line.strip()
        if line.strip() == f"```{language}":
            start = i + 1
            end = start
            while end < len(lines) and lines[end].strip() != "```":
                end += 1
            assert end < len(lines), f"unclosed block at {page.path}:{start}"
            yield Block(page, start + 1, section, "\n".join(lines[start:end]) + "\n")
            i = end
        i += 1


def blocks(language: str) -> list[Block]:
    """The ``language`` blocks of every tested page."""
    return [b for page in pages() for b in fenced_blocks(page, language)]


def section_text(page: Page, heading: str) -> str:
    """The text of the ``## `` section of ``page`` that starts with ``heading``."""
    text = page.text
    start = text.index("\n" + heading) + 1
    end = text.find("\n## ", start + 1)
    return text[start:] if end < 0 else text[start:end]
