"""Checks over article bodies and over the whole collection. Each returns a list of Problems.

Active HTML is checked twice: on the Markdown source (fast, with line numbers) and on the HTML
that Markdown rendered (``check_rendered_html``), which sees what the browser will see —
entity-encoded URLs, tags split over lines, HTML blocks that merely look like code.
"""
from __future__ import annotations

import re
from html.parser import HTMLParser

from site_builder.errors import Problem
from site_builder.markdown_scan import headings, prose_lines
from site_builder.schema import REQUIRED_SECTIONS, Article

ELEMENT_FIX = "remove it; embed media as a link or image"
HANDLER_FIX = "remove the attribute; articles cannot run scripts"
URL_FIX = "link to an http(s) URL or another article instead"
# possessive quantifiers (``*+``): no backtracking, so each scan is linear in the line length
ELEMENT_RE = re.compile(r"<\s*+(script|iframe|object|embed)\b", re.I)
JS_URL_RE = re.compile(r"(?:\]\(|\]:|href\s*+=|src\s*+=|<)\s*+[\"']?\s*+(javascript)\s*+:", re.I)
# '<letter' opens a tag, '>' closes it, an on*= attribute counts when a tag is open: one pass,
# where '<[a-z][^>]*?\son…=' would rescan the line from every '<'
TAG_TOKEN_RE = re.compile(r"(<[a-z])|(>)|\s(on[a-z]++)\s*+=", re.I)
ACTIVE_ELEMENTS = {"script", "iframe", "frame", "frameset", "object", "embed", "applet", "base", "meta", "link"}
BAD_SCHEMES = ("javascript:", "vbscript:")
MAX_RENDERED_PROBLEMS = 20  # per page: each one searches the source for its line
MAX_BRACKETS = 500   # per paragraph, outside code: see check_link_brackets
URL_NOISE_RE = re.compile(r"[\x00-\x20\x7f]+")  # browsers drop tabs/newlines inside URLs


def check_body(path: str, article_type: str | None, body: str, body_line: int) -> list[Problem]:
    """Required sections for the type, no level-1 heading, no active HTML."""
    problems: list[Problem] = []
    found = headings(body, body_line)
    for lineno, level, text in found:
        if level == 1:
            problems.append(Problem(path, lineno, "body", f"has a level-1 heading '# {text}'",
                                    "remove it; the page title comes from 'title' (use '## ' for sections)"))
    h2 = [text.lower() for _, level, text in found if level == 2]
    for name in REQUIRED_SECTIONS.get(article_type if isinstance(article_type, str) else "", ()):
        if not any(h.startswith(name.lower()) for h in h2):
            problems.append(Problem(path, None, "sections", f"missing required section '{name}' for a {article_type}",
                                    f"add a '## {name}' section (templates: docs/article-format.md)"))
    problems.extend(check_active_html(path, body, body_line))
    return problems


def check_link_brackets(path: str, body: str, body_line: int) -> list[Problem]:
    """Paragraphs with more than ``MAX_BRACKETS`` '[' outside code. Python-Markdown's link parser
    is quadratic in the unclosed '[' of one paragraph ('[](' × 8,000, 24 KB: 7.5 s to render;
    the busiest paragraph in the KB has 13), so such a file is refused instead of rendered."""
    problems: list[Problem] = []
    start, count, previous = None, 0, None

    def close() -> None:
        if count > MAX_BRACKETS:
            problems.append(Problem(path, start, "body", f"has a paragraph with {count} '[' characters, over "
                                    f"{MAX_BRACKETS}", "split it into shorter paragraphs or put the text in a code block"))

    for lineno, line in prose_lines(body, body_line):
        if not line.strip():
            close()
            start, count = None, 0
        else:
            if start is None or lineno != previous + 1:   # after a blank line or skipped code: a new paragraph
                close()
                start, count = lineno, 0
            count += line.count("[")
        previous = lineno
    close()
    return problems


def check_active_html(path: str, body: str, body_line: int) -> list[Problem]:
    """Flag <script>/<iframe>/<object>/<embed>, on*= attributes and javascript: URLs outside code."""
    problems = []
    for lineno, line in prose_lines(body, body_line):
        for match in ELEMENT_RE.finditer(line):
            problems.append(Problem(path, lineno, "html", f"contains a <{match.group(1).lower()}> element", ELEMENT_FIX))
        in_tag = False
        for match in TAG_TOKEN_RE.finditer(line):
            if match.group(1) or match.group(2):
                in_tag = bool(match.group(1))
            elif in_tag:
                problems.append(Problem(path, lineno, "html",
                                        f"has an event-handler attribute '{match.group(3).lower()}='", HANDLER_FIX))
        for match in JS_URL_RE.finditer(line):
            problems.append(Problem(path, lineno, "html", "has a javascript: URL", URL_FIX))
    return problems


class _ActiveHTML(HTMLParser):
    """Collects (needle to find in the source, problem, fix) for active HTML in rendered HTML.

    Comments, ``<![CDATA[…]]>`` and ``<style>`` text are scanned as HTML too: browsers end
    comments at ``<!-->`` or ``--!>`` and leave ``<style>`` inside ``<svg>`` as markup, where
    this parser would see only text. Nesting is bounded, so the work stays linear.
    """

    MAX_DEPTH = 4

    def __init__(self, depth: int = 0) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[tuple[str, str, str]] = []
        self.depth = depth
        self._style = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ACTIVE_ELEMENTS:
            self.found.append((rf"<\s*{tag}\b", f"contains a <{tag}> element", ELEMENT_FIX))
        for name, value in attrs:
            if name.startswith("on"):
                self.found.append((rf"\b{re.escape(name)}\s*=", f"has an event-handler attribute '{name}='", HANDLER_FIX))
            cleaned = URL_NOISE_RE.sub("", value or "").lower()
            for scheme in BAD_SCHEMES:
                if scheme in cleaned:
                    self.found.append((rf"{scheme[:-1]}\s*:", f"has a {scheme} URL", URL_FIX))
        self._style = tag == "style"

    handle_startendtag = handle_starttag

    def handle_endtag(self, tag: str) -> None:
        self._style = False

    def _nested(self, text: str) -> None:
        if self.depth >= self.MAX_DEPTH:
            self.found.append(("<!", f"has comments or declarations nested over {self.MAX_DEPTH} deep",
                               "remove the HTML comments"))
            return
        inner = _ActiveHTML(self.depth + 1)
        inner.feed(text + ">")
        inner.close()
        self.found += inner.found

    def handle_data(self, data: str) -> None:
        if self._style:
            self._nested(data)

    def handle_comment(self, data: str) -> None:
        self._nested(data)

    def unknown_decl(self, data: str) -> None:
        self._nested(data)

    def handle_pi(self, data: str) -> None:
        self._nested(data)

    def parse_html_declaration(self, i: int) -> int:
        try:
            return super().parse_html_declaration(i)
        except AssertionError:  # Python < 3.13 asserts on '<![junk'; browsers read a bogus comment to '>'
            end = self.rawdata.find(">", i + 2)
            if end < 0:
                return -1
            self.handle_comment(self.rawdata[i + 2:end])
            return end + 1


def check_rendered_html(path: str, html: str, body: str, body_line: int) -> list[Problem]:
    """Active HTML in a page as Markdown rendered it; the line is where the source shows it, if
    it does (an entity-encoded ``&#106;avascript:`` has no line). Same messages as the source check."""
    scanner = _ActiveHTML()
    scanner.feed(html + ">")  # '>' completes a tag left open at the end, as the page around it would
    scanner.close()
    lines = list(prose_lines(body, body_line))
    problems = []
    for needle, problem, fix in list(dict.fromkeys(scanner.found))[:MAX_RENDERED_PROBLEMS]:
        pattern = re.compile(needle, re.I)
        line = next((n for n, text in lines if pattern.search(text)), None)
        problems.append(Problem(path, line, "html", problem, fix))
    return problems


def check_collection(articles: list[Article], paths: dict[str, str]) -> list[Problem]:
    """Duplicate ids and ``related`` ids that do not exist. ``paths`` maps src_path → display path."""
    problems: list[Problem] = []
    first: dict[str, Article] = {}
    for art in sorted(articles, key=lambda a: a.src_path):
        if art.id in first:
            problems.append(Problem(paths[art.src_path], art.key_lines.get("id"), "id",
                                    f"duplicate id {art.id!r}, already used by {paths[first[art.id].src_path]}",
                                    "give this article a new id; ids are never reused"))
        else:
            first[art.id] = art
    for art in articles:
        for rel in art.related:
            if rel not in first:
                problems.append(Problem(paths[art.src_path], art.key_lines.get("related"), "related",
                                        f"unknown article id {rel!r}", "use the id of an existing article"))
    return problems
