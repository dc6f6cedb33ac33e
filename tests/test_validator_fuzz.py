"""Hostile article files against the validator (``site_builder.validate.validate_file``, the
per-file step of the MkDocs plugin, and ``checks.check_rendered_html``, its check of the rendered
page): malformed YAML, alias bombs, deep nesting, huge files, invalid UTF-8, random bytes, broken
front-matter delimiters, wrong field types and active HTML.

Properties, for every generated file: no exception escapes; every problem is one line of the form
``path[:line]: field: problem — fix`` naming the file, with a line inside the file; a file with no
problems is a valid article; the call takes under ``PER_FILE_SECONDS`` of CPU (a wall-clock alarm
cuts it off, so a regression fails rather than hangs); hostile files always get a problem (and
alias bombs get one without being expanded: bounded memory). Hypothesis runs are
derandomised and keep no example database, so CI sees the same examples every time.
"""
from __future__ import annotations

import datetime as dt
import re
import shutil
import time
import tracemalloc

import markdown
import pytest
import yaml
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from site_builder.checks import check_collection, check_rendered_html
from site_builder.frontmatter import MAX_FRONT_MATTER_BYTES
from site_builder.schema import LIST_FIELDS
from site_builder.validate import MAX_FILE_BYTES, FileResult, validate_file
from tests.conftest import hard_limit as _hard_limit
from tests.conftest import FIXTURE_KB
from tests.test_site_scan import _build, scan_html

# CPU seconds per file: wall time would depend on whatever else the CI machine runs; the wall
# clock still bounds every call through hard_limit (a regression fails instead of hanging)
PER_FILE_SECONDS = 2.0
HARD_LIMIT_SECONDS = 20.0
FUZZ = settings(derandomize=True, database=None, deadline=dt.timedelta(seconds=10),
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
MARKDOWN_EXTENSIONS = ["toc", "admonition", "tables", "def_list", "pymdownx.details", "pymdownx.superfences",
                       "pymdownx.highlight"]  # as in mkdocs.yml

FRONT = """id: FAQ-TEST-{n:03d}
title: Licence request fails {n}
type: faq
service_area: drm
owner: team-drm
last_reviewed: 2026-11-01
status: validated
tags: [drm, widevine]
error_codes: ["6007", "HTTP 403"]
"""
BODY = """## Issue

Playback stops with `6007` → the licence proxy answers 403.

## Environment

Web players (Shaka 4.x).

## Resolution

Re-issue the playback token.

## Cause

The token expired.
"""


def good(n: int = 1, front: str | None = None, body: str = BODY) -> str:
    return "---\n" + (FRONT.format(n=n) if front is None else front) + "---\n" + body


def hard_limit(seconds: float = HARD_LIMIT_SECONDS):
    """Raise TimeoutError after ``seconds`` (tests.conftest.hard_limit, with this file's default)."""
    return _hard_limit(seconds)


def validate(raw: bytes | str, name: str = "a.md", timed: bool = True) -> FileResult:
    """Run the validator on one file and check the properties every result must have."""
    raw = raw.encode("utf-8") if isinstance(raw, str) else raw
    path = f"docs/t/{name}"
    start = time.process_time()
    with hard_limit():
        result = validate_file(path, f"t/{name}", raw)
    elapsed = time.process_time() - start
    assert elapsed < PER_FILE_SECONDS or not timed, f"validation took {elapsed:.2f} CPU s for {len(raw)} bytes"
    lined = any(p.line is not None for p in result.problems)
    lines = len(raw.decode("utf-8", errors="replace").splitlines()) + 1 if lined else 0
    for problem in result.problems:
        text = str(problem)
        assert problem.path == path and "\n" not in text, text
        assert re.fullmatch(rf"{re.escape(path)}(:[1-9][0-9]*)?: \S.*?: \S.* — \S.*", text), text
        assert problem.line is None or 1 <= problem.line <= lines, (problem.line, lines, text)
    if not result.problems:
        assert result.article is not None
    return result


def render(body: str) -> str:
    return markdown.Markdown(extensions=MARKDOWN_EXTENSIONS).convert(body)


def all_problems(result: FileResult, path: str = "docs/t/a.md") -> list:
    """What the plugin reports for a file: the per-file validation plus the rendered-page check."""
    return result.problems + check_rendered_html(path, render(result.body), result.body, result.body_line)


def is_active(html: str) -> bool:
    """The independent scanner of test_site_scan finds something, or there is a <script> at all."""
    found = scan_html(html)
    return bool(found.findings or found.inline_scripts or re.search(r"<script\b", html, re.I))


def fields(result: FileResult) -> set[str]:
    return {p.field for p in result.problems}


def test_the_good_article_is_valid():
    result = validate(good())
    assert result.problems == [] and result.article.id == "FAQ-TEST-001"


# --- front matter --------------------------------------------------------------------------------

YAML_ALPHABET = st.sampled_from(list("abcdefghijklmnopqrstuvwxyz0123456789 :-[]{},&*!|>'\"#%@`?\n\t\\.") + ["é", "→", "\x85"])


@settings(FUZZ, max_examples=300)
@given(noise=st.text(alphabet=YAML_ALPHABET, max_size=300), where=st.integers(0, 9), replace=st.booleans())
def test_malformed_front_matter_gives_problems_not_exceptions(noise, where, replace):
    lines = FRONT.format(n=1).splitlines(keepends=True)
    lines[where:where + replace] = [noise + "\n"]
    result = validate(good(front="".join(lines)))
    if result.problems == []:  # the noise happened to be harmless YAML: the article is intact
        assert result.article.id == "FAQ-TEST-001"


SCALAR_FIELDS = ("id", "title", "type", "service_area", "owner", "status", "severity", "audience", "description")
WRONG_FOR = {
    **{f: st.one_of(st.lists(st.text(max_size=5), max_size=3), st.dictionaries(st.text(max_size=3), st.integers(), max_size=2))
       for f in SCALAR_FIELDS},
    **{f: st.one_of(st.integers(), st.floats(allow_nan=False), st.booleans(), st.dictionaries(st.text(max_size=3), st.text(max_size=3), min_size=1, max_size=2),
                    st.lists(st.one_of(st.none(), st.lists(st.integers(), max_size=2), st.just("")), min_size=1, max_size=3))
       for f in LIST_FIELDS},
    "last_reviewed": st.one_of(st.booleans(), st.integers(), st.lists(st.dates(), min_size=1, max_size=2),
                               st.sampled_from(["2026-02-30", "2026-13-01", "yesterday", "0000-01-01"])),
    "review_interval_days": st.one_of(st.text(min_size=1, max_size=5).filter(lambda s: not s.strip().isdigit()),
                                      st.integers(max_value=0), st.integers(min_value=731), st.booleans(),
                                      st.floats(1.5, 100.5)),
}


@settings(FUZZ, max_examples=300)
@given(data=st.data(), field=st.sampled_from(sorted(WRONG_FOR)))
def test_wrong_field_types_are_named(data, field):
    value = data.draw(WRONG_FOR[field])
    flow = yaml.safe_dump([value], allow_unicode=True, default_flow_style=True, width=10_000)
    assert flow.startswith("[") and flow.endswith("]\n")
    line = f"{field}: {flow[1:-2]}\n"
    if field == "last_reviewed" and isinstance(value, str):
        line = f"{field}: {value}\n"  # unquoted, so YAML's own date rule meets 2026-02-30
    front = "".join(x for x in FRONT.format(n=1).splitlines(keepends=True) if not x.startswith(field + ":"))
    result = validate(good(front=front + line))
    assert result.article is None
    assert field in fields(result) or "front matter" in fields(result), (value, [str(p) for p in result.problems])


KNOWN = set(WRONG_FOR) | set(LIST_FIELDS) | set(SCALAR_FIELDS)


@settings(FUZZ, max_examples=200)
@given(key=st.one_of(st.from_regex(r"[a-z_]{1,12}", fullmatch=True), st.text(max_size=6)).filter(
           lambda k: k not in KNOWN and k != "<<"),  # '<<' is YAML's merge key, not a field
       value=st.one_of(st.integers(), st.text(max_size=10)))
def test_unknown_fields_are_named_on_one_line(key, value):
    result = validate(good(front=FRONT.format(n=1) + yaml.safe_dump({key: value}, width=10_000)))
    assert any(p.field in (key, repr(key)) and p.problem == "is not a known field" for p in result.problems), result.problems


# --- alias bombs and deep nesting ----------------------------------------------------------------

def alias_bomb(levels: int, width: int, style: str) -> str:
    lines = ['lol0: &a0 "lol"']
    for i in range(1, levels):
        refs = ", ".join(f"*a{i - 1}" for _ in range(width))
        lines.append(f"lol{i}: &a{i} [{refs}]" if style == "flow" else f"lol{i}: &a{i}\n" +
                     "".join(f"  - *a{i - 1}\n" for _ in range(width)).rstrip("\n"))
    if style == "merge":
        lines = ["base: &b {owner: x, tags: [y]}", "<<: *b"] + lines
    return "\n".join(lines) + "\n"


@settings(FUZZ, max_examples=60)
@given(levels=st.integers(2, 12), width=st.integers(2, 12), style=st.sampled_from(["flow", "block", "merge"]),
       first=st.booleans())
def test_alias_bombs_are_refused_without_expansion(levels, width, style, first):
    bomb = alias_bomb(levels, width, style)
    front = bomb + FRONT.format(n=1) if first else FRONT.format(n=1) + bomb
    tracemalloc.start()
    try:
        result = validate(good(front=front))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 8 * 1024 * 1024, f"peak {peak} bytes: the bomb was expanded"  # 12**11 strings would be terabytes
    assert result.article is None
    expected = ("over the 8 KB limit" if len(front.encode()) > MAX_FRONT_MATTER_BYTES
                else "uses YAML anchors or aliases (&name / *name)")
    assert [p.problem for p in result.problems if p.field == "front matter"][0].endswith(expected), result.problems


@settings(FUZZ, max_examples=40)
@given(depth=st.integers(9, 4000), flow=st.sampled_from(["[]", "{}"]))
def test_deep_nesting_is_refused(depth, flow):
    opener, closer = flow
    inner = "x" if opener == "[" else "k: v"
    front = FRONT.format(n=1) + "tags: " + (opener * depth + inner + closer * depth)[:MAX_FRONT_MATTER_BYTES - 300] + "\n"
    result = validate(good(front=front))
    assert result.article is None and "front matter" in fields(result), result.problems


# --- size, encoding, bytes -----------------------------------------------------------------------

# (line start, repeated unit, line end): each line defeated a backtracking regex of the old checks
# (minutes to hours at this size); '\n' makes a quarter of a million lines
PATHOLOGICAL = [("", "<a", ""), ("", "<a ", ""), ("x", "`", ""), ("", "``a`", ""), ("# a", " ", "b"), ("## a", " \t", "#b"),
                ("", "[](", ""), ("", "[", ""), ("", "<!--", ""), ("", "<![CDATA[", ""), ("<", " ", "x"),
                ("<a", " onx=", ""), ("href=", " ", "x"), ("", "\\`", ""), ("](", " ", "x"), ("", "&#", ""),
                ("", "x", ""), ("", "\n", "")]


def body_of(pattern: tuple[str, str, str], size: int, per_line: int) -> bytes:
    """A good article padded to ``size`` bytes with lines of ``pattern``: ``per_line`` units per
    line, or one endless line when 0."""
    prefix, unit, suffix = pattern
    head = good().encode("utf-8")
    room = size - len(head)
    if per_line:
        line = (prefix + unit * per_line + suffix + "\n").encode("utf-8")
        return head + (line * (room // len(line) + 1))[:room]
    fill = (unit.encode("utf-8") * (room // len(unit.encode("utf-8")) + 1))
    return head + prefix.encode("utf-8") + fill[:room - len(prefix) - len(suffix)] + suffix.encode("utf-8")


@pytest.mark.parametrize("per_line", [0, 7])
@pytest.mark.parametrize("pattern", PATHOLOGICAL, ids=[repr("".join(p))[:20] for p in PATHOLOGICAL])
def test_pathological_bodies_just_under_the_limit_are_fast(pattern, per_line):
    raw = body_of(pattern, MAX_FILE_BYTES - 2048, per_line)
    assert len(raw) == MAX_FILE_BYTES - 2048
    result = validate(raw)
    start = time.process_time()
    with hard_limit():
        check_rendered_html("docs/t/a.md", result.body, result.body, result.body_line)  # the body as if it were HTML
    assert time.process_time() - start < PER_FILE_SECONDS


@settings(FUZZ, max_examples=10)
@given(pattern=st.sampled_from(PATHOLOGICAL), size=st.sampled_from([MAX_FILE_BYTES // 4, MAX_FILE_BYTES + 1, 3_000_000]),
       per_line=st.sampled_from([0, 1, 7]))
def test_huge_files_are_bounded_in_memory_and_refused_over_the_limit(pattern, size, per_line):
    """Memory under tracemalloc (which slows Python code several times, hence a quarter-size file
    below the limit: the checks are linear, the time test above covers the full size)."""
    raw = body_of(pattern, size, per_line)
    tracemalloc.start()
    try:
        result = validate(raw, timed=False)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    if len(raw) > MAX_FILE_BYTES:
        assert [str(p) for p in result.problems] == [
            f"docs/t/a.md: file: is {len(raw)} bytes, over the {MAX_FILE_BYTES // 1024} KB limit — split it into several articles"]
        assert result.source == "" and peak < 1024 * 1024  # refused before decoding: Markdown never sees it
    else:
        assert peak < 16 * 1024 * 1024, peak  # 256 bytes per byte of input, at most


def test_the_size_limit_is_generous_for_real_articles():
    body = BODY + "\n".join(f"Step {i}: check the licence proxy logs for request {i}." for i in range(3000))
    raw = good(body=body).encode("utf-8")
    assert 100_000 < len(raw) < MAX_FILE_BYTES
    assert validate(raw).problems == []


INVALID_UTF8 = [b"\xff", b"\xfe", b"\xc3\x28", b"\xe2\x82", b"\xed\xa0\x80", b"\xf8\x88\x80\x80\x80", b"\xc0\xaf", b"\x80"]


@settings(FUZZ, max_examples=150)
@given(bad=st.sampled_from(INVALID_UTF8), where=st.floats(0, 1), extra=st.binary(max_size=8))
def test_invalid_utf8_names_the_byte_offset(bad, where, extra):
    text = good().encode("utf-8")
    cut = int(where * len(text))
    raw = text[:cut] + bad + extra + text[cut:]
    try:
        raw.decode("utf-8")
        assume(False)  # the bytes happened to form valid UTF-8
    except UnicodeDecodeError as exc:
        offset = exc.start
    result = validate(raw)
    assert [str(p) for p in result.problems] == [
        f"docs/t/a.md: encoding: not valid UTF-8 at byte offset {offset} — re-save the file as UTF-8"]


@settings(FUZZ, max_examples=300)
@given(noise=st.binary(max_size=3000), frame=st.sampled_from(["none", "front", "both"]))
def test_random_bytes_give_problems(noise, frame):
    raw = {"none": noise, "front": b"---\n" + noise, "both": b"---\n" + noise + b"\n---\n"}[frame]
    assert validate(raw).problems


DELIMITER_CASES = [
    ("missing opener", lambda t: t.removeprefix("---\n"), "missing YAML front matter block"),
    ("missing closer", lambda t: t.replace("---\n## Issue", "## Issue"), "missing YAML front matter block"),
    ("duplicated opener", lambda t: "---\n" + t, "is a NoneType, not a mapping"),
    ("blank line first", lambda t: "\n" + t, "missing YAML front matter block"),
    ("trailing space", lambda t: "--- \n" + t.removeprefix("---\n"), "missing YAML front matter block"),
    ("four dashes", lambda t: "----\n" + t.removeprefix("---\n"), "missing YAML front matter block"),
    ("closer twice", lambda t: t.replace("---\n## Issue", "---\n---\n## Issue"), None),  # a horizontal rule
    ("dots closer", lambda t: t.replace("---\n## Issue", "...\n## Issue"), None),
    ("crlf", lambda t: t.replace("\n", "\r\n"), None),
    ("bom", lambda t: "\ufeff" + t, None),
]


@pytest.mark.parametrize("name,change,expected", DELIMITER_CASES, ids=[c[0] for c in DELIMITER_CASES])
def test_front_matter_delimiters(name, change, expected):
    result = validate(change(good()))
    if expected is None:
        assert result.problems == [] and result.article.id == "FAQ-TEST-001"
    else:
        assert any(p.field == "front matter" and expected in p.problem for p in result.problems), result.problems


@settings(FUZZ, max_examples=150)
@given(lines=st.lists(st.sampled_from(["---", "...", "--- x", "", "id: FAQ-TEST-001", "- a", "key: [", "## Issue", "---\r"]),
                      max_size=12))
def test_random_delimiter_soup(lines):
    validate("\n".join(lines))


# --- active HTML ---------------------------------------------------------------------------------

JS_URLS = st.sampled_from(["javascript:alert(1)", "JaVaScRiPt:alert(1)", " javascript:alert(1)", "java\tscript:alert(1)",
                           "&#106;avascript:alert(1)", "&#x6A;avascript&colon;alert(1)", "javascript&#58;alert(1)",
                           "vbscript:msgbox(1)", "java&#x0A;script:alert(1)"])
URL_ATTRS = st.sampled_from(["href", "src", "action", "formaction", "xlink:href", "data", "poster", "values"])
TAGS = st.sampled_from(["a", "img", "svg", "div", "form", "button", "video", "details", "math", "p", "input"])
HANDLERS = st.from_regex(r"on[a-z]{2,12}", fullmatch=True)


@st.composite
def active_html(draw) -> str:
    tag, kind = draw(TAGS), draw(st.sampled_from(["handler", "url", "element", "comment", "cdata", "style"]))
    sep = draw(st.sampled_from([" ", "\n", "\t", " \n  ", "/"]))
    quote = "" if sep == "/" else draw(st.sampled_from(['"', "'", ""]))  # Markdown escapes <a/x="…">
    if kind == "handler":
        attr = f"{draw(HANDLERS)}={quote}alert(1){quote}"
    elif kind == "url":
        url = draw(JS_URLS)
        url = "javascript:alert(1)" if not quote and re.search(r"\s", url) else url
        attr = f"{draw(URL_ATTRS)}={quote}{url}{quote}"
    else:
        attr = f"{draw(HANDLERS)}=alert(1)"
    inner = f"<{tag}/{attr}>x</{tag}>" if sep == "/" else f'<{tag} class="x"{sep}{attr}>x</{tag}>'
    if kind == "element":
        element = draw(st.sampled_from(["script", "iframe", "object", "embed", "SCRIPT", "base", "applet"]))
        inner = f"<{element} src=\"x\">x</{element}>"
    elif kind == "comment":
        inner = f"<!-->{inner}-->"
    elif kind == "cdata":
        inner = f"<![CDATA[>{inner}]]>"
    elif kind == "style":
        inner = f"<svg><style>{inner}</style></svg>"
    wrapper = draw(st.sampled_from(["{}", "<div>{}</div>", "Text {} text.", '<div title="`">{}</div><span title="`"></span>',
                                    "- item {}", "> quoted {}", "| a | b |\n|---|---|\n| {} | x |"]))
    if wrapper.startswith("|"):
        inner = inner.replace("\n", " ")  # a newline would end the table row
    return wrapper.format(inner)


@settings(FUZZ, max_examples=250)
@given(snippet=active_html(), section=st.sampled_from(["Issue", "Environment", "Resolution", "Cause"]))
def test_active_html_is_always_rejected(snippet, section):
    body = BODY.replace(f"## {section}\n\n", f"## {section}\n\n{snippet}\n\n")
    assert is_active(render(body)), f"generator bug: Markdown neutralised {snippet!r}"
    html_problems = [str(p) for p in all_problems(validate(good(body=body))) if p.field == "html"]
    assert html_problems, f"active HTML not rejected: {snippet!r}"
    assert all(p.startswith("docs/t/a.md") for p in html_problems)


MARKUP_SOUP = st.lists(st.sampled_from([
    "<img src=x onerror=y>", '<a href="javascript:x">', "<svg/onload=y>", "<img", "<a", "<svg", "<div>", "</div>", " src=x", " href=", "javascript:x", "&#106;avascript:x", " onerror=y",
    "\nonload=y", ">", '"', "'", "`", "``", "```\n", "\n", "\n\n", "    ", "> ", "- ", "| ", "[x](", ")", "]: ",
    "<!--", "-->", "<!-->", "<![CDATA[", "]]>", "<style>", "\\", "x", " "]), max_size=30).map("".join)


@settings(FUZZ, max_examples=300)
@given(soup=MARKUP_SOUP)
def test_random_markup_never_renders_active_html_unreported(soup):
    """Differential: whenever the independent scanner finds active HTML in what Markdown renders
    from random markup, the validator has reported an html problem for the file."""
    body = BODY + "\n" + soup
    reported = all_problems(validate(good(body=body)))
    if is_active(render(body)):
        assert [p for p in reported if p.field == "html"], (soup, render(body))


@pytest.mark.parametrize("body", [
    "Use `<script>` and `onerror=` only in code.", "```html\n<img src=x onerror=alert(1)>\n```",
    "Compare [a](https://example.com/javascript-guide) and <https://example.com>.", "An <abbr title=\"x\">ABR</abbr> ladder.",
    "Press <kbd>Ctrl</kbd> and check ONLINE=1 and a > b onload = yes.",
])
def test_harmless_markup_is_allowed(body):
    full = BODY.replace("Re-issue the playback token.", body)
    assert not is_active(render(full))
    assert all_problems(validate(good(body=full))) == []


# --- one bad file does not stop the others -------------------------------------------------------

HOSTILE = st.one_of(st.binary(max_size=500), active_html().map(lambda s: good(7, body=BODY + s)),
                    st.builds(lambda lv, w: good(7, front=alias_bomb(lv, w, "flow") + FRONT.format(n=7)),
                              st.integers(2, 9), st.integers(2, 9)),
                    st.text(alphabet=YAML_ALPHABET, max_size=200).map(lambda t: "---\n" + t + "\n---\n"))


@settings(FUZZ, max_examples=80)
@given(hostile=st.lists(HOSTILE, min_size=1, max_size=4), position=st.integers(0, 2))
def test_good_files_in_the_same_run_are_still_validated(hostile, position):
    files = [("good1.md", good(1)), ("good2.md", good(2)), ("bad-field.md", good(3).replace("status: validated", "statu: x"))]
    files[position:position] = [(f"hostile{i}.md", h) for i, h in enumerate(hostile)]
    results = {name: validate(raw, name) for name, raw in files}
    reported = {name: all_problems(r, f"docs/t/{name}") for name, r in results.items()}
    articles = [r.article for r in results.values() if r.article]
    problems = check_collection(articles, {a.src_path: f"docs/{a.src_path}" for a in articles})
    assert reported["good1.md"] == [] and reported["good2.md"] == []
    assert {"FAQ-TEST-001", "FAQ-TEST-002"} <= {a.id for a in articles}
    assert "statu" in fields(results["bad-field.md"])
    for name, _ in files[position:position + len(hostile)]:
        assert reported[name], name
    assert not [p for p in problems if p.path in ("docs/t/good1.md", "docs/t/good2.md")]


def test_a_real_build_lists_every_hostile_file_and_spares_the_good_ones(tmp_path):
    kb = tmp_path / "kb"
    shutil.copytree(FIXTURE_KB, kb, ignore=shutil.ignore_patterns("site"))
    hostile = {
        "bomb.md": (good(11, front=alias_bomb(9, 9, "flow") + FRONT.format(n=11)), "front matter: uses YAML anchors"),
        "huge.md": (good(12, body=BODY + "<a" * 2_000_000), "file: is 4000"),
        "latin1.md": (good(13).encode("utf-8") + "café".encode("latin-1"), "encoding: not valid UTF-8 at byte offset"),
        "script.md": (good(14, body=BODY + '<img src=x\nonerror="alert(1)">'), "html: has an event-handler attribute"),
        "date.md": (good(15).replace("2026-11-01", "2026-02-30"), "front matter: invalid value: day is out of range"),
        "type.md": (good(16).replace("type: faq", "type: [faq]"), "type: unknown value ['faq']"),
        "deep.md": (good(17, front=FRONT.format(n=17) + "x: " + "[" * 500 + "]" * 500 + "\n"), "front matter: nests"),
        "nofront.md": (BODY, "front matter: missing YAML front matter block"),
        "typo.md": (good(18).replace("owner:", "ownr:"), "ownr: is not a known field"),
    }
    for name, (content, _) in {**hostile, "ok1.md": (good(19), ""), "ok2.md": (good(20), "")}.items():
        (kb / "docs" / "drm" / name).write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    start = time.perf_counter()
    with hard_limit(60):
        message = _build(kb, tmp_path / "site")
    assert time.perf_counter() - start < 30
    for name, (_, expected) in hostile.items():
        assert re.search(rf"^  docs/drm/{re.escape(name)}(:\d+)?: {re.escape(expected)}", message, re.M), (name, message)
    assert "ok1.md" not in message and "ok2.md" not in message and "Traceback" not in message


@settings(FUZZ, max_examples=300)
@given(html=st.lists(st.sampled_from(list("<>!-[]/?=\"' abc\n&#;") + ["<![", "<!--", "-->", "]]>", "on", "CDATA[", "<svg>",
                                                                      "<style>", "script"]), max_size=80).map("".join))
def test_the_rendered_check_never_raises(html):
    for problem in check_rendered_html("docs/t/a.md", html, html, 1):
        assert str(problem).startswith("docs/t/a.md") and problem.field == "html"


@pytest.mark.parametrize("odd", ["\u2028", "\x0b", "\x0c", "\x85", "\u2029", "\x1c"])
def test_line_numbers_count_only_real_line_breaks(odd):
    """A line separator that is not a newline (which str.splitlines() would split at) must not shift
    the line numbers of later problems: they are the lines an editor shows."""
    body = BODY.replace("Web players (Shaka 4.x).", f"Web players{odd}(Shaka 4.x){odd}and TVs.") + "\n# Oops\n"
    text = good(body=body)
    result = validate(text)
    [problem] = [p for p in result.problems if "level-1 heading" in p.problem]
    assert problem.line == text.split("\n").index("# Oops") + 1


@pytest.mark.parametrize("pattern", ["[](", "[", "![](", "[a]("])
def test_bracket_floods_are_refused_without_rendering(pattern):
    """Python-Markdown's link parsing is quadratic in a paragraph's unclosed '[' (seconds for a
    24 KB file): such a paragraph is a problem at its first line, and the page source is emptied so
    MkDocs does not spend that time; the same brackets inside a code block are fine."""
    flood = " ".join([pattern] * 8000)
    result = validate(good(body=BODY + "\nSome text.\n\n" + flood + "\n\nMore.\n"))
    [problem] = [p for p in result.problems if "'[' characters" in p.problem]
    assert problem.line == good(body=BODY + "\nSome text.\n\n").count("\n") + 1 and result.source == ""
    fenced = validate(good(body=BODY + "\n```json\n" + flood + "\n```\n"))
    assert not fenced.problems and fenced.source
    few = validate(good(body=BODY + "\n" + " ".join(["[a](#b)"] * 400) + "\n"))
    assert not few.problems
    page = validate_file("docs/index.md", "index.md", ("# Home\n\n" + flood + "\n").encode())   # a site page
    assert [p.line for p in page.problems] == [3] and page.source == ""
