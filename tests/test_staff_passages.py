"""Staff-only passages (site_builder/staff.py): what the audience build strips, what the check
refuses outside them, and what the corpus export leaves out of a shared article."""
from __future__ import annotations

import re

import pytest

from site_builder import export, staff
from site_builder.validate import validate_file

PASSAGE_CASES = {
    "plain": ("Before.\n\n!!! staff \"Escalation (staff only)\"\n    Page team-x.\n\nAfter.\n",
              "Before.\n\n\nAfter.\n"),
    "collapsible open, blank lines inside": ("A.\n\n???+ staff \"T\"\n    one\n\n\n    two\n\nB.\n", "A.\n\n\nB.\n"),
    "collapsible closed, no title": ("A.\n\n??? staff\n    one\nB.\n", "A.\n\nB.\n"),
    "at the end of the file, no newline": ("A.\n\n!!! staff \"End\"\n    last line", "A.\n"),
    "at the end of the file, trailing blanks": ("A.\n\n!!! staff \"End\"\n    last\n\n\n", "A.\n\n\n\n"),
    "fenced code inside, with a marker in it": (
        "A.\n\n!!! staff \"T\"\n    ```text\n    !!! staff \"not a passage\"\n\n    x\n    ```\n    more\n\nB.\n",
        "A.\n\n\nB.\n"),
    "tab indentation": ("A.\n\n!!! staff \"T\"\n\tpd:x-primary\n\t\n\tmore\n\nB.\n", "A.\n\n\nB.\n"),
    "inside a list item": ("1. Step.\n\n    !!! staff \"T\"\n        team-x\n\n2. Next.\n", "1. Step.\n\n\n2. Next.\n"),
    "nested admonition inside": ("!!! staff \"T\"\n    !!! note\n        inner\n    outer\nEnd.\n", "End.\n"),
    "two passages": ("!!! staff\n    a\n\nMid.\n\n??? staff\n    b\n", "\nMid.\n\n"),
    # Python-Markdown ends the admonition at a line indented by less than 4: that text is shared
    "under-indented text after it": ("!!! staff\n    a\n\n  shared text\n", "\n  shared text\n"),
    "under-indented text right after the marker": ("!!! staff\n  shared\n    b\n", "  shared\n    b\n"),
}


@pytest.mark.parametrize("text, expected", PASSAGE_CASES.values(), ids=PASSAGE_CASES.keys())
def test_strip_removes_every_passage_and_nothing_else(text, expected):
    assert staff.strip(text) == expected
    blanked = staff.blank(text)
    assert blanked.count("\n") == text.count("\n")   # line numbers survive
    assert re.sub(r"\n+", "\n", blanked).strip() == re.sub(r"\n+", "\n", expected).strip()


@pytest.mark.parametrize("text", [
    "```markdown\n!!! staff \"Example\"\n    shown as code\n```\n",          # a marker inside fenced code
    "~~~~\n!!! staff\n    x\n~~~~\n",
    "!!! note \"Staff\"\n    not a staff passage\n",
    "!!! staff-notes\n    another type\n",
    "!!! warning staff\n    staff is not the type here\n",
    "Text !!! staff inline\n",
])
def test_only_staff_admonitions_outside_code_are_passages(text):
    assert staff.strip(text) == text and staff.passages(text.split("\n")) == []


def test_code_after_a_passage_is_still_seen_as_code():
    text = "!!! staff\n    a\n\n```\n!!! staff \"inside code\"\n    b\n```\n!!! staff\n    c\n"
    assert staff.strip(text) == "\n```\n!!! staff \"inside code\"\n    b\n```\n"


def test_under_indented_text_is_checked_as_shared_text():
    assert staff.check_staff_detail("x.md", "!!! staff\n    Page pd:a-primary.\n\n  Ask #ops-chat.\n", 1)[0].line == 4


def test_staff_lines_and_texts():
    text = "A.\n\n!!! staff \"T\"\n    first line\n\n    ```\n    code\n    ```\nB.\n"
    assert staff.staff_lines(text, 10) == {12, 13, 14, 15, 16, 17}
    assert staff.passage_texts(text) == ["first line\n\n```\ncode\n```"]


def test_hostile_input_is_linear():
    """A huge body of markers and indented lines: one pass, no quadratic rescans."""
    text = ("!!! staff\n" + "    x\n" * 50) * 2000 + "```\n" * 1000 + "\t" * 100_000
    assert staff.strip(text).count("x") == 0
    assert staff.check_staff_detail("x.md", "team-" * 20_000 + " #a-" * 20_000, 1)


DETAIL_CASES = {
    "pagerduty": ("Page the on-call (pd:delivery-primary).", "a PagerDuty handle ('pd:delivery-primary')"),
    "channel": ("Ask in #support-escalations.", "a chat channel ('#support-escalations')"),
    "team": ("Escalate to team-media-pipeline.", "an internal team name ('team-media-pipeline')"),
    "team in code": ("Escalate to `team-drm`.", "an internal team name ('team-drm')"),
    "staff kb": ("See *Limits* (staff knowledge base).", "a pointer to the staff knowledge base"),
}


@pytest.mark.parametrize("line, problem", DETAIL_CASES.values(), ids=DETAIL_CASES.keys())
def test_the_check_names_file_line_and_detail(line, problem):
    body = f"Intro.\n\n{line}\n"
    found = staff.check_staff_detail("kb/x/y.md", body, 20)
    assert len(found) == 1 and str(found[0]).startswith(f"kb/x/y.md:22: audience: names {problem}"), found
    assert "!!! staff" in found[0].fix
    assert staff.check_staff_detail("kb/x/y.md", f"!!! staff \"T\"\n    {line}\n", 1) == []


@pytest.mark.parametrize("line", [
    "See https://html.spec.whatwg.org/multipage/media.html#the-track-element for details.",
    "Open <https://example.org/#some-anchor> or https://example.org/x?a=1#top-of-page.",
    "[Collect data](#how-to-verify-collect-data) and [runbook](/id/RB-CDN-001/#mitigation).",
    "The tag `#EXT-X-PROGRAM-DATE-TIME` and `#EXT-X-DISCONTINUITY`, colour #fff, `#EXTM3U`.",
    "A team of engineers; cross-team-work; steam-x; pd-value; updated:2026.",
])
def test_the_check_ignores_urls_hls_tags_and_ordinary_words(line):
    assert staff.check_staff_detail("x.md", line, 1) == []


FAQ = """---
id: FAQ-TEST-001
title: Test FAQ
type: faq
service_area: playback
owner: team-player-web
last_reviewed: 2026-11-01
status: validated
{audience}---
## Issue

Something breaks.

## Environment

Web.

## Resolution

Escalate to team-player-web (pd:player-primary) in #support-escalations.

!!! staff "Escalation (staff only)"
    Page team-player-web (pd:player-primary) in #support-escalations.

## Cause

Because.
"""


@pytest.mark.parametrize("audience", ["customer", "partner"])
def test_shared_articles_fail_validation_outside_passages_only(audience):
    result = validate_file("kb/playback/x.md", "playback/x.md",
                           FAQ.format(audience=f"audience: {audience}\n").encode())
    lines = {(p.line, p.problem.split(" (")[0]) for p in result.problems}
    assert lines == {(21, "names an internal team name"), (21, "names a PagerDuty handle"),
                     (21, "names a chat channel")}, result.problems


def test_internal_articles_may_name_anything():
    for head in ("", "audience: internal\n"):
        assert validate_file("kb/playback/x.md", "playback/x.md", FAQ.format(audience=head).encode()).problems == []


HTML = """<p>Lead text.</p>
<h2 id="resolution">Resolution</h2>
<p>Contact support.</p>
<div class="admonition staff"><p class="admonition-title">Escalation (staff only)</p>
<p>Page <code>team-x</code><br />(pd:x-primary) <img alt="" src="a.png" /><br>
<a href="rb.md">the runbook</a></p>
<div class="admonition note"><p>nested</p></div></div>
<p>After the passage.</p>
<details class="staff"><summary>More (staff only)</summary><p>Ask in #support-escalations.</p></details>
<details class="note"><summary>Note</summary><p>Shared detail.</p></details>
"""


def test_export_leaves_staff_passages_out_of_shared_articles():
    shared = {s.anchor: s.text for s in export.extract_sections(HTML, {"resolution"}, "T", drop_staff=True)}
    assert shared["resolution"].split() == ["Contact", "support.", "After", "the", "passage.", "Note", "Shared",
                                            "detail."]
    internal = {s.anchor: s.text for s in export.extract_sections(HTML, {"resolution"}, "T")}
    assert "pd:x-primary" in internal["resolution"] and "#support-escalations" in internal["resolution"]
    assert "After the passage." in internal["resolution"]
