"""Each validation failure kind has a bad fixture and an asserted message; all are listed at once."""
from __future__ import annotations

import logging
import shutil
from pathlib import Path

import pytest
from mkdocs.exceptions import Abort

from tests.conftest import FIXTURE_KB, build_mkdocs

GOOD_FAQ = """---
id: FAQ-TEST-{n:03d}
title: Test FAQ {n}
type: faq
service_area: playback
owner: team-player-web
last_reviewed: 2026-11-01
status: validated
---
## Issue

Something breaks.

## Environment

Web.

## Resolution

Fix it.

## Cause

Because.
"""


def _build_with(tmp_path: Path, files: dict[str, str | bytes]) -> str:
    """Copy the fixture KB, add/replace ``files`` under docs/, build; return the error text ('' if ok)."""
    kb = tmp_path / "kb"
    shutil.copytree(FIXTURE_KB, kb, ignore=shutil.ignore_patterns("site"))
    for rel, content in files.items():
        target = kb / "docs" / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    return build_errors(kb, tmp_path / "site")


def build_errors(kb: Path, site: Path) -> str:
    """Build the KB in ``kb`` strictly into ``site``; return the error text ('' when the build passed)."""
    errors: list[str] = []
    handler = logging.Handler(logging.ERROR)
    handler.emit = lambda record: errors.append(record.getMessage())
    logging.getLogger("mkdocs").addHandler(handler)
    try:
        build_mkdocs(kb / "mkdocs.yml", site)
    except Abort:
        assert errors, "the build aborted without saying why"
        return "\n".join(errors)
    finally:
        logging.getLogger("mkdocs").removeHandler(handler)
    return ""


def _faq(n: int = 1, **changes: str) -> str:
    text = GOOD_FAQ.format(n=n)
    for old, new in changes.items():
        text = text.replace(old.replace("__", " "), new)
    return text


CASES = [
    ("missing field", _faq(owner__team_player_web="").replace("owner: team-player-web\n", ""),
     "docs/t/a.md:1: owner: is missing — add 'owner:' to the front matter"),
    ("unknown type", _faq().replace("type: faq", "type: guide"),
     "docs/t/a.md:4: type: unknown value 'guide' — use one of: runbook, faq, reference"),
    ("unknown area", _faq().replace("service_area: playback", "service_area: video"),
     "docs/t/a.md:5: service_area: unknown value 'video' — use one of: upload, storage"),
    ("bad date", _faq().replace("2026-11-01", "last tuesday"),
     "docs/t/a.md:7: last_reviewed: 'last tuesday' is not a date — write it as YYYY-MM-DD"),
    ("bad status", _faq().replace("status: validated", "status: done"),
     "docs/t/a.md:8: status: unknown value 'done'"),
    ("id prefix", _faq().replace("FAQ-TEST-001", "RB-TEST-001"),
     "docs/t/a.md:2: id: prefix of 'RB-TEST-001' does not match type 'faq'"),
    ("id form", _faq().replace("FAQ-TEST-001", "faq-1"),
     "docs/t/a.md:2: id: 'faq-1' is not of the form"),
    ("unknown field", _faq().replace("status: validated", "status: validated\nowners: x"),
     "docs/t/a.md:9: owners: is not a known field"),
    ("related unknown", _faq().replace("status: validated", "status: validated\nrelated: [FAQ-NOPE-001]"),
     "docs/t/a.md:9: related: unknown article id 'FAQ-NOPE-001'"),
    ("tested_with not a version", _faq().replace("status: validated", "status: validated\ntested_with: [hls.js]"),
     "docs/t/a.md:9: tested_with: 'hls.js' is not 'Product version' — write the product and the version checked"),
    ("tested_with range", _faq().replace("status: validated", "status: validated\ntested_with: ['hls.js >=1.5']"),
     "docs/t/a.md:9: tested_with: 'hls.js >=1.5' is not 'Product version'"),
    ("tested_with html", _faq().replace("status: validated", "status: validated\ntested_with: ['<b>x</b> 1']"),
     "docs/t/a.md:9: tested_with: '<b>x</b> 1' is not 'Product version'"),
    ("tested_with not a list", _faq().replace("status: validated", "status: validated\ntested_with: FFmpeg 7.1"),
     "docs/t/a.md:9: tested_with: must be a list of non-empty strings"),
    ("tested_with too many", _faq().replace("status: validated", "status: validated\ntested_with: ["
                                            + ", ".join(f"P{i} 1" for i in range(13)) + "]"),
     "docs/t/a.md:9: tested_with: has 13 entries, over 12"),
    ("step run into a paragraph", _faq().replace("Fix it.", "1. **First.** Do this.\n\n   Then check.\n2. **Second.** Do that."),
     "docs/t/a.md:23: lists: numbered step '2.' is run into the paragraph above, so the page shows it as plain text"),
    ("steps run in mid-line", _faq().replace("Fix it.", "Steps: 1. **First.** Do this. 2. **Second.**"),
     "docs/t/a.md:20: lists: numbered step '1.' is run into the paragraph above"),
    ("list after a paragraph", _faq().replace("Fix it.", "Do this:\n1. **First.** a\n2. **Second.** b"),
     "docs/t/a.md:21: lists: numbered step '1.' is run into the paragraph above"),
    ("list restarts", _faq().replace("Fix it.", "1. **First.** a\n\n   Text indented by 3.\n\n2. **Second.** b"),
     "docs/t/a.md:24: lists: step '2.' is shown as '1.': the list restarted or its numbering jumps — indent"),
    ("bullets under a step become steps", _faq().replace(
        "Fix it.", "1. **First.** a\n   - option a\n   - option b\n2. **Second.** b"),
     "docs/t/a.md:23: lists: step '2.' is shown as '4.'"),
    ("missing section", _faq().replace("## Cause", "## Why"),
     "docs/t/a.md: sections: missing required section 'Cause' for a faq"),
    ("runbook sections", _faq().replace("type: faq", "type: runbook").replace("FAQ-TEST", "RB-TEST"),
     "docs/t/a.md: sections: missing required section 'Meaning' for a runbook"),
    ("level-1 heading", _faq().replace("## Issue", "# Big title\n\n## Issue"),
     "docs/t/a.md:10: body: has a level-1 heading '# Big title'"),
    ("broken link", _faq().replace("Fix it.", "See [x](../nowhere/page.md)."),
     "docs/t/a.md:20: link: link to '../nowhere/page.md': no such file (nowhere/page.md)"),
    ("broken anchor", _faq().replace("Fix it.", "See [x](../cdn/cdn-5xx.md#rollback)."),
     "docs/t/a.md:20: link: anchor '#rollback' does not exist in cdn/cdn-5xx.md"),
    ("script", _faq().replace("Fix it.", "<script>alert(1)</script>"),
     "docs/t/a.md:20: html: contains a <script> element"),
    ("iframe", _faq().replace("Fix it.", '<iframe src="https://x"></iframe>'),
     "docs/t/a.md:20: html: contains a <iframe> element"),
    ("object", _faq().replace("Fix it.", '<object data="x.swf"></object>'),
     "docs/t/a.md:20: html: contains a <object> element"),
    ("embed", _faq().replace("Fix it.", '<embed src="x.swf">'),
     "docs/t/a.md:20: html: contains a <embed> element"),
    ("on attribute", _faq().replace("Fix it.", '<img src="x.png" onerror="alert(1)">'),
     "docs/t/a.md:20: html: has an event-handler attribute 'onerror='"),
    ("javascript url", _faq().replace("Fix it.", "[click](javascript:alert(1))"),
     "docs/t/a.md:20: html: has a javascript: URL"),
    ("not a mapping", "---\n- a\n- b\n---\n## Issue\n",
     "docs/t/a.md:1: front matter: is a list, not a mapping"),
    ("alias", _faq().replace("owner: team-player-web", "owner: &o team-player-web\ntags: [*o]"),
     "docs/t/a.md:6: front matter: uses YAML anchors or aliases"),
    ("too large", _faq().replace("status: validated", "status: validated\ndescription: '" + "x" * 9000 + "'"),
     "docs/t/a.md:1: front matter: is 9"),
    ("bad yaml", _faq().replace("title: Test FAQ 1", "title: [unclosed"),
     "docs/t/a.md:4: front matter: invalid YAML"),
    ("no front matter", "## Issue\n\nText\n",
     "docs/t/a.md:1: front matter: missing YAML front matter block"),
    ("invalid utf-8", _faq().encode("utf-8").replace(b"Something", b"Some\xff\xfething"),
     f"docs/t/a.md: encoding: not valid UTF-8 at byte offset {_faq().encode().index(b'Something') + 4} — re-save the file as UTF-8"),
]


@pytest.mark.parametrize("name,content,expected", CASES, ids=[c[0] for c in CASES])
def test_each_bad_article_fails_with_a_clear_message(tmp_path, name, content, expected):
    message = _build_with(tmp_path, {"t/a.md": content})
    assert expected in message, message


def test_well_formed_steps_pass(tmp_path):
    steps = ("Intro.\n\n1. **First.** a\n   wrapped line\n    - option a\n    - option b\n2. **Second.** b\n\n"
             "    ```bash\n    echo 3. **not a step**\n    ```\n\n    Good: `1. **x**` prints.\n\n3. **Third.** c\n\n"
             "Version 2. Then text, and `4. **code**`.\n\n**Other group**\n\n1. Again from one.\n")
    assert _build_with(tmp_path, {"t/a.md": _faq().replace("Fix it.", steps)}) == ""


def test_code_blocks_may_show_html_and_links(tmp_path):
    text = _faq().replace("Fix it.", "```html\n<script src=x></script> [a](nope.md)\n```\n\nUse `<iframe>` tags.")
    assert _build_with(tmp_path, {"t/a.md": text}) == ""


def test_duplicate_ids_and_every_problem_in_one_run(tmp_path):
    message = _build_with(tmp_path, {
        "t/a.md": _faq(1),
        "t/b.md": _faq(1),
        "t/c.md": _faq(3).replace("type: faq", "type: guide"),
        "t/d.md": _faq(4).replace("Fix it.", "<script>x</script>"),
    })
    assert "docs/t/b.md:2: id: duplicate id 'FAQ-TEST-001', already used by docs/t/a.md" in message
    assert "docs/t/c.md:4: type: unknown value 'guide'" in message
    assert "docs/t/d.md:20: html: contains a <script> element" in message
    assert message.startswith("3 problem(s)")


def test_archived_articles_are_built_but_not_exported(tmp_path):
    assert _build_with(tmp_path, {"t/a.md": _faq().replace("status: validated", "status: archived")}) == ""
    import json
    export = json.loads((tmp_path / "site" / "kb-corpus.json").read_text())
    assert "FAQ-TEST-001" not in [a["id"] for a in export["articles"]]
    assert (tmp_path / "site" / "id" / "FAQ-TEST-001" / "index.html").exists()
