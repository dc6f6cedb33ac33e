"""Line-level views of a Markdown body that skip code: fenced blocks and inline code spans.

Checks for headings, links and active HTML must not fire on examples inside code, because
MkDocs escapes code and such text is harmless there. Every scan here is linear in the line
length: articles are untrusted input, and a backtracking regex over a long line can take hours.
"""
from __future__ import annotations

import re
from collections.abc import Iterator

# Line breaks as editors and Python-Markdown count them. str.splitlines() also breaks at \x0b, \x0c,
# \x1c–\x1e, \x85, \u2028 and \u2029, which made reported line numbers drift past such characters.
LINE_BREAK_RE = re.compile(r"\r\n|\r|\n")

FENCE_RE = re.compile(r"^\s{0,3}(`{3,}|~{3,})")
BACKTICKS_RE = re.compile(r"`+")
HEADING_RE = re.compile(r"^(#{1,6})\s+(.+)$")


def blank_code_spans(line: str) -> str:
    """Replace inline code spans with spaces. A span opens with a run of n backticks that no
    backslash escapes and closes at the next run of exactly n (as Python-Markdown reads them); a
    run with no closer is literal text."""
    runs = [m.span() for m in BACKTICKS_RE.finditer(line)]
    if len(runs) < 2:
        return line
    next_same: list[int | None] = [None] * len(runs)
    last_of_length: dict[int, int] = {}
    for i in range(len(runs) - 1, -1, -1):
        length = runs[i][1] - runs[i][0]
        next_same[i] = last_of_length.get(length)
        last_of_length[length] = i
    out, i, done = [], 0, 0
    while i < len(runs):
        j, k = next_same[i], runs[i][0]
        while k > 0 and line[k - 1] == "\\":  # each backslash run precedes one backtick run: linear
            k -= 1
        if j is None or (runs[i][0] - k) % 2:
            i += 1
            continue
        start, end = runs[i][0], runs[j][1]
        out += [line[done:start], " " * (end - start)]
        done, i = end, j + 1
    return "".join(out) + line[done:]


def prose_lines(body: str, first_line: int) -> Iterator[tuple[int, str]]:
    """Yield (line number, text) for lines outside fenced code, with inline code blanked out."""
    fence: str | None = None
    for offset, line in enumerate(LINE_BREAK_RE.split(body)):
        match = FENCE_RE.match(line)
        if fence is None and match:
            fence = match.group(1)[0] * 3
            continue
        if fence is not None:
            if line.strip().startswith(fence):
                fence = None
            continue
        yield first_line + offset, blank_code_spans(line)


def headings(body: str, first_line: int) -> list[tuple[int, int, str]]:
    """Return (line number, level, text) for every ATX heading outside code."""
    found = []
    for lineno, line in prose_lines(body, first_line):
        match = HEADING_RE.match(line)
        if match:
            # closing '#'s stripped in Python: the regex form '(.+?)\s*#*\s*$' is cubic on long lines
            found.append((lineno, len(match.group(1)), match.group(2).strip().rstrip("#").strip()))
    return found
