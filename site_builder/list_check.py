"""Numbered steps that Markdown did not render as the list the author wrote.

Python-Markdown reads a ``4. **Step.**`` line that follows a paragraph without a blank line as
more text of that paragraph, and text or code under a step indented by fewer than 4 spaces ends
the list, so the next step starts a new list numbered from 1 again. Runbooks are followed step by
step, so the build refuses both. The check reads the HTML that Markdown rendered (what the reader
sees) and finds each problem's line in the Markdown source.
"""
from __future__ import annotations

import re
from html.parser import HTMLParser

from site_builder.errors import Problem
from site_builder.markdown_scan import LINE_BREAK_RE, prose_lines

STRONG = "\x01"   # stands for <strong> inside a paragraph's text
CODE = "\x02"     # put before the text of inline code, which is never a list marker
LINE_MARKER_RE = re.compile(r"^[ \t]*+(\d{1,9})\.[ \t]++(.*)")
INLINE_MARKER_RE = re.compile(r"[ \t](\d{1,9})\.[ \t]++" + STRONG + "(.*)")
SOURCE_MARKER_RE = re.compile(r"^[ \t]*+(\d{1,9})\.[ \t]++(.*)")
SOURCE_INLINE_RE = re.compile(r"[ \t](\d{1,9})\.[ \t]++\*\*(.*)")
WORD_RE = re.compile(r"[^\W_]+")
LINK_TARGET_RE = re.compile(r"\]\([^)\s]*+\)")
FIRST_WORDS = 3
LOOKAHEAD = 64  # source markers tried per rendered item: matches are near, and the scan stays linear
MAX_PROBLEMS = 20  # per page
RUN_IN_FIX = ("put a blank line before the step, and indent the text and code that belong to the step "
              "above by 4 spaces")
RESTART_FIX = ("indent the text and code between the steps by 4 spaces (not 3) so the steps stay one list, "
               "or number them from 1")


def _words(text: str) -> tuple[str, ...]:
    return tuple(w.lower() for w in WORD_RE.findall(LINK_TARGET_RE.sub("", text)))[:FIRST_WORDS]


class _Steps(HTMLParser):
    """Collects, in document order, ("item", None, words, list no.) for each <li> of an <ol> and
    ("run-in", number, words, None) for each list marker left inside a paragraph's text."""

    MAX_LI_TEXT = 120

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.events: list[list] = []
        self.lists: list[int | None] = []   # open <ol>/<ul>: the <ol>'s number, None for <ul>
        self.ol_count = 0
        self.paragraph: list[str] | None = None
        self.code_depth = 0
        self.item_text: list | None = None  # the event whose first words are still being read

    def handle_starttag(self, tag: str, attrs) -> None:
        if tag in ("ol", "ul"):
            self.ol_count += tag == "ol"
            self.lists.append(self.ol_count if tag == "ol" else None)
        elif tag == "li" and self.lists and self.lists[-1] is not None:
            self.item_text = ["item", None, "", self.lists[-1]]
            self.events.append(self.item_text)
        elif tag == "p":
            self.paragraph = []
        elif tag in ("code", "pre"):
            self.code_depth += 1
        elif tag == "strong" and self.paragraph is not None and not self.code_depth:
            self.paragraph.append(STRONG)

    def handle_endtag(self, tag: str) -> None:
        if tag in ("ol", "ul") and self.lists:
            self.lists.pop()
        elif tag in ("code", "pre"):
            self.code_depth = max(0, self.code_depth - 1)
        elif tag == "p" and self.paragraph is not None:
            self._run_in_markers("".join(self.paragraph))
            self.paragraph = None

    def handle_data(self, data: str) -> None:
        if self.item_text is not None:
            self.item_text[2] += data
            if len(self.item_text[2]) > self.MAX_LI_TEXT:
                self.item_text = None
        if self.paragraph is not None:
            self.paragraph.append(CODE + data if self.code_depth else data)

    def _run_in_markers(self, text: str) -> None:
        for line in text.split("\n"):
            found = LINE_MARKER_RE.match(line) or INLINE_MARKER_RE.search(line)
            if found:
                self.events.append(["run-in", int(found.group(1)), found.group(2), None])


def _source_markers(body: str, body_line: int) -> list[tuple[int, int, tuple[str, ...]]]:
    """(line, number, first words) of every ``N. `` line (or `` N. **`` in a line) outside fenced code."""
    raw = LINE_BREAK_RE.split(body)
    markers = []
    for lineno, _ in prose_lines(body, body_line):
        text = raw[lineno - body_line]
        found = SOURCE_MARKER_RE.match(text) or SOURCE_INLINE_RE.search(text)
        if found:
            markers.append((lineno, int(found.group(1)), _words(found.group(2))))
    return markers


def _locate(events: list[list], markers: list[tuple[int, int, tuple[str, ...]]]) -> list[tuple[int | None, int | None]]:
    """(source line, source number) for each event: the next source marker, in order, with the
    same number (when known) and the same first words."""
    found, start = [], 0
    for kind, number, text, _ in events:
        words = _words(text)
        hit = next((i for i in range(start, min(start + LOOKAHEAD, len(markers)))
                    if (number is None or markers[i][1] == number)
                    and markers[i][2][:len(words)] == words[:len(markers[i][2])]), None)
        if hit is None:
            found.append((None, number))
        else:
            found.append(markers[hit][:2])
            start = hit + 1
    return found


def check_numbered_lists(path: str, html: str, body: str, body_line: int) -> list[Problem]:
    """Steps run into a paragraph, and numbered lists whose source numbers do not run 1, 2, 3…"""
    scanner = _Steps()
    scanner.feed(html)
    scanner.close()
    if not scanner.events:
        return []
    located = _locate(scanner.events, _source_markers(body, body_line))
    problems: list[Problem] = []
    shown: dict[int, int] = {}  # list no. → items so far: the number the page gives the next one
    for (kind, number, _, list_no), (line, src_number) in zip(scanner.events, located):
        if kind == "run-in":
            problems.append(Problem(path, line, "lists", f"numbered step '{number}.' is run into the paragraph "
                                    "above, so the page shows it as plain text", RUN_IN_FIX))
            continue
        if shown.get(list_no, 0) < 0:
            continue  # this list is already reported
        shown[list_no] = shown.get(list_no, 0) + 1
        if src_number is not None and src_number != shown[list_no]:
            problems.append(Problem(path, line, "lists", f"step '{src_number}.' is shown as '{shown[list_no]}.': "
                                    "the list restarted or its numbering jumps", RESTART_FIX))
            shown[list_no] = -1
    return problems[:MAX_PROBLEMS]
