"""One source file in, its problems out: the per-file validation the plugin runs in ``on_files``.

A plain function over bytes, so it can be tested (and fuzzed) without MkDocs. It never raises
for anything in the file: every fault becomes a Problem naming the file, and the work is bounded
(files over ``MAX_FILE_BYTES`` are refused before anything else reads them).
"""
from __future__ import annotations

import html
from dataclasses import dataclass, field

import yaml

from site_builder import checks, staff
from site_builder.errors import Problem
from site_builder.frontmatter import decode, parse
from site_builder.schema import Article, validate_meta

MAX_FILE_BYTES = 256 * 1024  # the largest article is ~12 KB; a several-MB file is a mistake or an attack


@dataclass
class FileResult:
    """``source`` is what MkDocs renders ('' when unreadable); ``article`` is set when the front
    matter is valid; ``body``/``body_line`` locate the Markdown body in the file."""

    source: str
    article: Article | None = None
    body: str = ""
    body_line: int = 1
    problems: list[Problem] = field(default_factory=list)


def validate_file(shown: str, src_uri: str, raw: bytes) -> FileResult:
    """Validate one file. ``shown`` is the path used in messages; ``src_uri`` is relative to the
    docs directory — a file at its top level (``index.md``) is a site page, not an article."""
    if len(raw) > MAX_FILE_BYTES:
        return FileResult("", problems=[Problem(shown, None, "file", f"is {len(raw)} bytes, over the "
                                                f"{MAX_FILE_BYTES // 1024} KB limit", "split it into several articles")])
    text, problem = decode(shown, raw)
    if problem:
        return FileResult("", problems=[problem])
    if "/" not in src_uri:
        return _refuse_bracket_floods(FileResult(text, body=text, problems=checks.check_active_html(shown, text, 1)), shown)
    parsed = parse(shown, text)
    result = FileResult(parsed.body, body=parsed.body, body_line=parsed.body_line, problems=list(parsed.problems))
    article_type = None
    if parsed.meta is not None:
        art, found = validate_meta(shown, src_uri, parsed.meta, parsed.key_lines, parsed.body, parsed.body_line)
        result.problems.extend(found)
        article_type = parsed.meta.get("type")
        if art:
            result.article = art
            # the theme puts these into the page unescaped (<meta content="…">): escape here
            head = {"title": art.title, **({"description": html.escape(art.description)} if art.description else {})}
            result.source = "---\n" + yaml.safe_dump(head, allow_unicode=True) + "---\n" + parsed.body
            if (art.audience or "internal") != "internal":   # shared text: staff detail only in staff passages
                result.problems.extend(staff.check_staff_detail(shown, parsed.body, parsed.body_line))
    result.problems.extend(checks.check_body(shown, article_type, parsed.body, parsed.body_line))
    return _refuse_bracket_floods(result, shown)


def _refuse_bracket_floods(result: FileResult, shown: str) -> FileResult:
    """A body Python-Markdown would take seconds to render gets a problem and an empty source: the
    build fails on the problem anyway, without spending that time first."""
    floods = checks.check_link_brackets(shown, result.body, result.body_line)
    if floods:
        result.problems.extend(floods)
        result.source = ""
    return result
