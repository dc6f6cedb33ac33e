"""Checks over article bodies and over the whole collection. Each returns a list of Problems."""
from __future__ import annotations

import re

from site_builder.errors import Problem
from site_builder.markdown_scan import headings, prose_lines
from site_builder.schema import REQUIRED_SECTIONS, Article

ACTIVE_HTML = (
    (re.compile(r"<\s*(script|iframe|object|embed)\b", re.I), "contains a <{0}> element",
     "remove it; embed media as a link or image"),
    (re.compile(r"<[a-z][^>]*?\s(on[a-z]+)\s*=", re.I), "has an event-handler attribute '{0}='",
     "remove the attribute; articles cannot run scripts"),
    (re.compile(r"(?:\]\(|\]:|href\s*=|src\s*=|<)\s*[\"']?\s*(javascript)\s*:", re.I), "has a {0}: URL",
     "link to an http(s) URL or another article instead"),
)


def check_body(path: str, article_type: str | None, body: str, body_line: int) -> list[Problem]:
    """Required sections for the type, no level-1 heading, no active HTML."""
    problems: list[Problem] = []
    found = headings(body, body_line)
    for lineno, level, text in found:
        if level == 1:
            problems.append(Problem(path, lineno, "body", f"has a level-1 heading '# {text}'",
                                    "remove it; the page title comes from 'title' (use '## ' for sections)"))
    h2 = [text.lower() for _, level, text in found if level == 2]
    for name in REQUIRED_SECTIONS.get(article_type or "", ()):
        if not any(h.startswith(name.lower()) for h in h2):
            problems.append(Problem(path, None, "sections", f"missing required section '{name}' for a {article_type}",
                                    f"add a '## {name}' section (templates: docs/article-format.md)"))
    problems.extend(check_active_html(path, body, body_line))
    return problems


def check_active_html(path: str, body: str, body_line: int) -> list[Problem]:
    """Flag <script>/<iframe>/<object>/<embed>, on*= attributes and javascript: URLs outside code."""
    problems = []
    for lineno, line in prose_lines(body, body_line):
        for pattern, problem, fix in ACTIVE_HTML:
            for match in pattern.finditer(line):
                problems.append(Problem(path, lineno, "html", problem.format(match.group(1).lower()), fix))
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
