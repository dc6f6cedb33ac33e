"""Internal link and anchor checks, from the Markdown source (for line numbers) against the
anchors MkDocs actually rendered (every ``id="…"`` of each page), never re-slugified."""
from __future__ import annotations

import posixpath
import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from site_builder.errors import Problem
from site_builder.markdown_scan import prose_lines

INLINE_LINK_RE = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+[\"'][^\"']*[\"'])?\s*\)")
REF_DEF_RE = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)")
ID_ATTR_RE = re.compile(r"""\sid=["']([^"']+)["']""")
STABLE_RE = re.compile(r"^/id/([A-Z0-9-]+)/?$")


def html_ids(html: str) -> set[str]:
    """All element ids in a rendered page: the anchors a link may point at."""
    return set(ID_ATTR_RE.findall(html))


@dataclass
class LinkTargets:
    """What links may point at: documentation pages and other files, page anchors, article ids."""

    doc_pages: set[str]
    other_files: set[str]
    anchors: dict[str, set[str]]
    id_to_src: dict[str, str]
    withheld: set[str] = field(default_factory=set)  # src paths and ids left out of this build (see audience.py)


def _targets(body: str, first_line: int):
    for lineno, line in prose_lines(body, first_line):
        for match in INLINE_LINK_RE.finditer(line):
            yield lineno, match.group(1)
        match = REF_DEF_RE.match(line)
        if match:
            yield lineno, match.group(1)


def _resolve(src_uri: str, target: str, known: LinkTargets) -> tuple[str | None, str, str | None]:
    """Return (page src_uri or None, fragment, problem) for one link target."""
    path, _, fragment = target.partition("#")
    stable = STABLE_RE.match(path)
    if stable:
        if stable.group(1) in known.withheld:
            return None, "", None   # reported by audience.leak_problems, naming both articles
        page = known.id_to_src.get(stable.group(1))
        return page, fragment, None if page else f"stable link to unknown article id {stable.group(1)!r}"
    if path.startswith("/"):
        return None, "", f"absolute link {target!r} is not portable"
    if not path:
        return src_uri, fragment, None
    resolved = posixpath.normpath(posixpath.join(posixpath.dirname(src_uri), path))
    if resolved in known.withheld:
        return None, "", None
    if resolved in known.doc_pages:
        return resolved, fragment, None
    if path.endswith("/") and posixpath.join(resolved, "index.md") in known.doc_pages:
        return posixpath.join(resolved, "index.md"), fragment, None
    if resolved in known.other_files:
        return None, "", None
    return None, "", f"link to {target!r}: no such file ({resolved})"


def linked_pages(src_uri: str, body: str, body_line: int, known: LinkTargets) -> Iterator[tuple[int, str]]:
    """(line, page src_uri) of every internal link of a body that resolves to a known page."""
    for lineno, target in _targets(body, body_line):
        if not re.match(r"^[a-z][a-z0-9+.-]*:", target, re.I):
            page, _, _ = _resolve(src_uri, target, known)
            if page and page != src_uri:
                yield lineno, page


def check_links(path: str, src_uri: str, body: str, body_line: int, known: LinkTargets) -> list[Problem]:
    """Every internal link's file and anchor must exist; external URLs are not fetched."""
    problems = []
    for lineno, target in _targets(body, body_line):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.I):
            continue  # http:, https:, mailto: … (javascript: is caught by the HTML check)
        page, fragment, problem = _resolve(src_uri, target, known)
        if problem:
            problems.append(Problem(path, lineno, "link", problem,
                                    "point the link at an existing .md file, relative to this one"))
        elif page and fragment and fragment not in known.anchors.get(page, set()):
            problems.append(Problem(path, lineno, "link", f"anchor '#{fragment}' does not exist in {page}",
                                    "use a heading anchor of that page (lower-case, '-' for spaces)"))
    return problems
