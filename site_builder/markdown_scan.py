"""Line-level views of a Markdown body that skip code: fenced blocks and inline code spans.

Checks for headings, links and active HTML must not fire on examples inside code, because
MkDocs escapes code and such text is harmless there.
"""
from __future__ import annotations

import re
from collections.abc import Iterator

FENCE_RE = re.compile(r"^\s{0,3}(`{3,}|~{3,})")
INLINE_CODE_RE = re.compile(r"(`+)(?:.+?)\1")
HEADING_RE = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")


def prose_lines(body: str, first_line: int) -> Iterator[tuple[int, str]]:
    """Yield (line number, text) for lines outside fenced code, with inline code blanked out."""
    fence: str | None = None
    for offset, line in enumerate(body.splitlines()):
        match = FENCE_RE.match(line)
        if fence is None and match:
            fence = match.group(1)[0] * 3
            continue
        if fence is not None:
            if line.strip().startswith(fence):
                fence = None
            continue
        yield first_line + offset, INLINE_CODE_RE.sub(lambda m: " " * len(m.group(0)), line)


def headings(body: str, first_line: int) -> list[tuple[int, int, str]]:
    """Return (line number, level, text) for every ATX heading outside code."""
    found = []
    for lineno, line in prose_lines(body, first_line):
        match = HEADING_RE.match(line)
        if match:
            found.append((lineno, len(match.group(1)), match.group(2).strip()))
    return found
