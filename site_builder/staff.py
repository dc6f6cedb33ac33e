"""Staff-only passages: ``!!! staff "Title"`` (or the collapsible ``??? staff`` / ``???+ staff``)
admonitions in an article, with their content indented under the marker as usual.

The internal site renders them as an admonition styled "Staff only" (assets/staff.css). An
audience build (``kb build --audience customer``) removes them from the Markdown before anything
renders (``strip``); the corpus export leaves their text out of a non-internal article's sections
(export.py), so the search service cannot hand it to a non-staff caller; and ``check_staff_detail``
refuses on-call handles, channels and team names in a non-internal article outside such passages.

Plain functions over text; every scan is one pass, linear in the body's length.
"""
from __future__ import annotations

import re

from site_builder.errors import Problem
from site_builder.markdown_scan import LINE_BREAK_RE

# the marker: '!!!', '???' or '???+', then 'staff' as the admonition's type (its first class)
MARKER_RE = re.compile(r"^([ \t]*)(?:!!!|\?\?\?\+?)[ \t]+staff(?=[ \t\"]|$)")
FENCE_RE = re.compile(r"^[ \t]*(`{3,}|~{3,})")
FIX = ("say what the customer should do or send, and move the internal detail (team, rotation, channel, "
       "internal runbook) into a '!!! staff \"Escalation (staff only)\"' passage")
# Staff-only detail a customer must not read. Possessive/atomic-free patterns, linear per line.
DETAIL_PATTERNS = (
    (re.compile(r"(?<![\w-])pd:[a-z0-9][\w-]*+", re.I), "a PagerDuty handle"),
    (re.compile(r"(?<![\w/&#.(\"'=:-])#[a-z0-9]++(?:-[a-z0-9]++)++(?![\w-])"), "a chat channel"),
    (re.compile(r"(?<![\w-])team-[a-z0-9][\w-]*+", re.I), "an internal team name"),
    (re.compile(r"\(staff knowledge base\)", re.I), "a pointer to the staff knowledge base"),
)


def _indent(line: str) -> int:
    """Width of the leading whitespace, a tab advancing to the next multiple of 4 (as Markdown counts)."""
    width = 0
    for char in line:
        if char == " ":
            width += 1
        elif char == "\t":
            width += 4 - width % 4
        else:
            break
    return width


def passages(lines: list[str]) -> list[tuple[int, int]]:
    """(first, end) line indexes (0-based, end exclusive) of every staff passage: the marker line
    and every following line that is blank or indented by 4 more than the marker (as Python-Markdown's
    admonition reads its content; a line indented less is outside, rendered as shared text), without
    the blank lines at its end. Markers inside fenced code outside a passage are examples."""
    found: list[tuple[int, int]] = []
    fence: str | None = None
    i = 0
    while i < len(lines):
        line = lines[i]
        match = FENCE_RE.match(line)
        if fence is not None:
            if match and match.group(1)[0] == fence[0] and len(match.group(1)) >= len(fence) \
                    and not line.strip()[len(match.group(1)):].strip():
                fence = None
            i += 1
            continue
        if match:
            fence = match.group(1)
            i += 1
            continue
        marker = MARKER_RE.match(line)
        if not marker:
            i += 1
            continue
        depth, end, last = _indent(marker.group(1)), i + 1, i + 1
        while end < len(lines) and (not lines[end].strip() or _indent(lines[end]) >= depth + 4):
            end += 1
            if lines[end - 1].strip():
                last = end
        found.append((i, last))
        i = last
    return found


def _lines(text: str) -> list[str]:
    return LINE_BREAK_RE.split(text)


def strip(text: str) -> str:
    """The text without its staff passages (what an audience build renders). Lines keep their
    original line breaks; each removed passage leaves the blank lines around it."""
    kept = _lines(text)
    for first, end in reversed(passages(kept)):
        del kept[first:end]
    return "\n".join(kept)


def blank(text: str) -> str:
    """The text with every line of a staff passage emptied: same line count, so checks that read it
    report the same line numbers as the file."""
    lines = _lines(text)
    for first, end in passages(lines):
        lines[first:end] = [""] * (end - first)
    return "\n".join(lines)


def staff_lines(text: str, first_line: int) -> set[int]:
    """The file line numbers (``first_line`` is the text's first) that belong to a staff passage."""
    return {first_line + n for first, end in passages(_lines(text)) for n in range(first, end)}


def passage_texts(text: str) -> list[str]:
    """Each staff passage's content (without the marker line), dedented: for tests and reviews."""
    lines = _lines(text)
    out = []
    for first, end in passages(lines):
        body = [line.expandtabs(4) for line in lines[first + 1:end]]
        width = min((_indent(line) for line in body if line.strip()), default=0)
        out.append("\n".join(line[width:] for line in body))
    return out


def check_staff_detail(path: str, body: str, body_line: int) -> list[Problem]:
    """In a non-internal article, outside staff passages (code included: it is shown too), no
    PagerDuty handle, chat channel, team name or pointer to the staff knowledge base."""
    problems = []
    for offset, line in enumerate(_lines(blank(body))):
        for pattern, what in DETAIL_PATTERNS:
            for match in pattern.finditer(line):
                if what == "a chat channel" and _in_url(line, match.start()):
                    continue
                problems.append(Problem(path, body_line + offset, "audience",
                                        f"names {what} ({match.group(0)!r}) outside a staff passage", FIX))
    return problems


def _in_url(line: str, at: int) -> bool:
    """Whether position ``at`` is inside a URL (a '#fragment-like-this' of a link, not a channel)."""
    word_start = max(line.rfind(" ", 0, at), line.rfind("\t", 0, at)) + 1
    return "://" in line[word_start:at]
