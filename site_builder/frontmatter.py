"""Split a Markdown file into YAML front matter and body, safely.

Refuses (with a Problem, never an exception) files that are not UTF-8, front matter over 8 KB,
YAML anchors/aliases (alias bombs), collections nested deeper than ``MAX_DEPTH`` (the composer
recurses per level), values the constructor rejects (``2026-02-30``) and front matter that is not
a mapping. Only ``yaml.safe_load`` is used, and only after the event scan has proven there are no
aliases and no deep nesting.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import yaml

from site_builder.errors import Problem
from site_builder.markdown_scan import LINE_BREAK_RE

MAX_FRONT_MATTER_BYTES = 8 * 1024
MAX_DEPTH = 8  # the schema needs 2 (a mapping of lists); PyYAML's composer recurses per level


@dataclass
class ParsedFile:
    """The result of reading one source file; ``meta`` is None when the front matter is unusable."""

    text: str
    meta: dict | None
    body: str
    body_line: int  # 1-based line number where the body starts
    key_lines: dict[str, int] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)


def decode(path: str, raw: bytes) -> tuple[str | None, Problem | None]:
    """Decode ``raw`` as UTF-8 (a BOM is tolerated); name the byte offset when that fails."""
    try:
        return raw.decode("utf-8-sig"), None
    except UnicodeDecodeError as exc:
        return None, Problem(path, None, "encoding",
                             f"not valid UTF-8 at byte offset {exc.start}",
                             "re-save the file as UTF-8")


def _find_block(text: str) -> tuple[str, int, int] | None:
    """Return (yaml_text, yaml_start_line, body_start_index) or None if no front matter block."""
    lines = text.splitlines(keepends=True)
    if not lines or lines[0].rstrip("\r\n") != "---":
        return None
    offset = len(lines[0])
    for i, line in enumerate(lines[1:], start=1):
        if line.rstrip("\r\n") in ("---", "..."):
            return "".join(lines[1:i]), 2, offset + len(line)
        offset += len(line)
    return None


def _key_lines(yaml_text: str, first_line: int) -> dict[str, int]:
    node = yaml.compose(yaml_text, Loader=yaml.SafeLoader)
    if not isinstance(node, yaml.MappingNode):
        return {}
    return {str(k.value): k.start_mark.line + first_line for k, _ in node.value}


def _scan_events(path: str, yaml_text: str, first_line: int) -> Problem | None:
    """The first alias/anchor or over-deep nesting, from the parser's events (no objects built)."""
    depth = 0
    for event in yaml.parse(yaml_text, Loader=yaml.SafeLoader):
        line = event.start_mark.line + first_line
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
            return Problem(path, line, "front matter", "uses YAML anchors or aliases (&name / *name)",
                           "write every value out in full")
        depth += isinstance(event, yaml.CollectionStartEvent) - isinstance(event, yaml.CollectionEndEvent)
        if depth > MAX_DEPTH:
            return Problem(path, line, "front matter", f"nests lists or mappings over {MAX_DEPTH} levels deep",
                           "use 'key: value' lines and flat lists such as tags: [a, b]")
    return None


def _bad_value_line(yaml_text: str, first_line: int) -> int | None:
    """Line of the first top-level value the safe constructor refuses, if one can be found."""
    loader = yaml.SafeLoader(yaml_text)
    try:
        node = loader.get_single_node()
        for _key, value in node.value if isinstance(node, yaml.MappingNode) else []:
            try:
                loader.construct_object(value, deep=True)
            except (ValueError, yaml.YAMLError):
                return value.start_mark.line + first_line
    except yaml.YAMLError:
        pass
    finally:
        loader.dispose()
    return None


def parse(path: str, text: str) -> ParsedFile:
    """Parse ``text`` (already decoded) into a ParsedFile; problems are collected, not raised."""
    block = _find_block(text)
    if block is None:
        return ParsedFile(text, None, text, 1, problems=[Problem(
            path, 1, "front matter", "missing YAML front matter block",
            "start the file with '---', the fields (id, title, type, …), then '---'")])
    yaml_text, first_line, body_start = block
    body_line = len(LINE_BREAK_RE.findall(text[:body_start])) + 1
    result = ParsedFile(text, None, text[body_start:], body_line)
    if len(yaml_text.encode("utf-8")) > MAX_FRONT_MATTER_BYTES:
        result.problems.append(Problem(path, 1, "front matter",
                                       f"is {len(yaml_text.encode('utf-8'))} bytes, over the 8 KB limit",
                                       "move long text into the article body"))
        return result
    try:
        problem = _scan_events(path, yaml_text, first_line)
        if problem:
            result.problems.append(problem)
            return result
        meta = yaml.safe_load(yaml_text)
        key_lines = _key_lines(yaml_text, first_line)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + first_line if mark else 1
        reason = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        result.problems.append(Problem(path, line, "front matter", f"invalid YAML: {reason}",
                                       "fix the YAML syntax (quote values containing ':' or starting with '-')"))
        return result
    except ValueError as exc:  # raised by the constructor without a mark: 2026-13-45, a 5000-digit integer
        result.problems.append(Problem(path, _bad_value_line(yaml_text, first_line), "front matter",
                                       f"invalid value: {str(exc).splitlines()[0][:200]}",
                                       "write dates as real YYYY-MM-DD days and numbers as plain integers, or quote the value"))
        return result
    if not isinstance(meta, dict):
        result.problems.append(Problem(path, 1, "front matter",
                                       f"is a {type(meta).__name__}, not a mapping",
                                       "write 'key: value' lines between the '---' markers"))
        return result
    result.meta, result.key_lines = meta, key_lines
    return result
