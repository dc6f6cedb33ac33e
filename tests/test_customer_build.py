"""``kb build --audience customer``: a separate site holding only customer articles.

The scan (``leaks``) looks for every withheld article's id and its longest plain sentences in every
file of the output (HTML, JSON, sitemap, scripts), after undoing HTML and JSON escaping.
"""
from __future__ import annotations

import functools
import html
import http.server
import json
import re
import shutil
import threading
from pathlib import Path

import pytest
from click.testing import CliRunner

from kb_cli.main import cli
from site_builder import staff
from site_builder.validate import validate_file
from tests import browser_kit as kit
from tests.conftest import FIXTURE_KB, ROOT

CUSTOMER_FAQ = """---
id: FAQ-UPLOAD-009
title: Uploads larger than the limit
type: faq
service_area: upload
owner: team-media-ingest
last_reviewed: 2026-11-01
status: validated
tags: [upload, limits]
error_codes: ["HTTP 413"]
audience: customer
{related}---
## Issue

Your upload stops with an error once the file is larger than the size allowed for one request.

## Environment

Any browser or mobile app that sends the whole file in a single request.

## Resolution

Split the file into parts and send them one after another with the resumable upload method.{link}

## Cause

The upload endpoint refuses a single request body above its published size limit.
"""

INTERNAL_RB = """---
id: RB-UPLOAD-009
title: Gateway body-limit rejections spike
type: runbook
service_area: upload
owner: team-media-ingest
last_reviewed: 2026-11-01
status: validated
severity: SEV-2
tags: [upload, limits]
error_codes: ["HTTP 413"]
{audience}---
## Meaning

The pelican gateway in the marmalade cluster is rejecting oversized bodies far above its baseline.

## Impact

Creators on the legacy single-request uploader cannot publish anything larger than the limit.

## Diagnosis

Compare the rejection counter with the deploy history of the quartz edge configuration repository.

## Mitigation

Roll back the quartz edge configuration to the previous revision and watch the rejection counter fall.

## Escalation

Page the ingest on-call through the walrus escalation policy when the rollback does not help.

## Verification

The rejection counter returns to its baseline within fifteen minutes of the rollback.
"""


def _kb(tmp_path: Path, faq: str = CUSTOMER_FAQ.format(related="", link=""),
        runbook: str = INTERNAL_RB.format(audience="")) -> Path:
    """The fixture KB (its articles have no audience: internal) plus a customer FAQ and an internal
    runbook on the same topic."""
    kb = tmp_path / "kb"
    shutil.copytree(FIXTURE_KB, kb, ignore=shutil.ignore_patterns("site"))
    (kb / "docs" / "upload" / "too-large.md").write_text(faq, encoding="utf-8")
    (kb / "docs" / "upload" / "body-limit-spike.md").write_text(runbook, encoding="utf-8")
    return kb


def _build(config: Path, site: Path, *extra: str):
    args = ["build", "--mkdocs-config", str(config), "--site-dir", str(site), *extra]
    return CliRunner().invoke(cli, args, obj={}, env={"KB_CONFIG": "", "NO_MKDOCS_2_WARNING": "1"})


def _plain_sentences(body: str) -> list[str]:
    """Sentences of prose paragraphs, inline Markdown (links, code, emphasis) reduced to its text;
    paragraphs with block syntax (tables, headings, HTML, fences, admonitions) are skipped."""
    out = []
    for para in re.split(r"\n\s*\n", body):
        text = " ".join(line.strip().removeprefix("- ") for line in para.splitlines())
        text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", text).replace("`", "").replace("*", "")
        if not text or re.search(r"[\[\]<>|#{}\\]|^!!!|^\d+\. ", text):
            continue
        out += [s for s in re.split(r"(?<=[.!?])\s+", text) if len(s) >= 40]
    return out


def withheld_marks(docs: Path, audience: str = "customer") -> dict[str, list[str]]:
    """Every article not shared with ``audience`` → its id and its three longest plain sentences."""
    marks = {}
    for path in sorted(docs.rglob("*.md")):
        src = path.relative_to(docs).as_posix()
        art = validate_file(src, src, path.read_bytes()).article
        if art and (art.audience or "internal") != audience:
            marks[f"{src} ({art.id})"] = [art.id] + [_squeezed(p) for p in sorted(_plain_sentences(art.body), key=len)[-3:]]
    return marks


def staff_marks(docs: Path, audience: str = "customer") -> dict[str, list[str]]:
    """Every staff passage of an article shared with ``audience`` → its three longest sentences
    (links reduced to their text) and the PagerDuty handles and channels it names. Team names are
    not marks: the export's ``owner`` field carries them by contract."""
    marks = {}
    for path in sorted(docs.rglob("*.md")):
        src = path.relative_to(docs).as_posix()
        art = validate_file(src, src, path.read_bytes()).article
        if not art or (art.audience or "internal") != audience:
            continue
        for n, passage in enumerate(staff.passage_texts(art.body), 1):
            text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", passage).replace("`", "").replace("*", "")
            text = " ".join(line.strip().removeprefix("- ") for line in text.splitlines())
            sentences = sorted((s for s in re.split(r"(?<=[.!?])\s+", text) if len(s) >= 40), key=len)[-3:]
            tokens = re.findall(r"pd:[\w-]+|(?<![\w/(])#[a-z0-9]+(?:-[a-z0-9]+)+", text)
            found = [_squeezed(p) for p in sentences] + sorted(set(tokens))
            if found:
                marks[f"{src} ({art.id}) staff passage {n}"] = found
    return marks


def _squeezed(text: str) -> str:
    return re.sub(r"\s+", "", text)


def _normalised(path: Path) -> str:
    """The file's text without tags, HTML or JSON escaping, or whitespace (marks are compared the same way)."""
    text = path.read_text(encoding="utf-8", errors="replace")
    if path.suffix == ".json":
        strings: list[str] = []

        def walk(value) -> None:
            if isinstance(value, str):
                strings.append(value)
            elif isinstance(value, dict):
                for k, v in value.items():
                    walk(k), walk(v)
            elif isinstance(value, list):
                for v in value:
                    walk(v)
        walk(json.loads(text))
        text = "\n".join(strings)
    return _squeezed(re.sub(r"<[^>]+>", "", html.unescape(re.sub(r"<[^>]+>", "", text))))


def leaks(site: Path, marks: dict[str, list[str]]) -> list[str]:
    """'file: article: phrase' for every withheld mark found anywhere in the output."""
    found = []
    for path in sorted(p for p in site.rglob("*") if p.is_file() and p.suffix != ".gz"):
        text = _normalised(path)
        for article, phrases in marks.items():
            found += [f"{path.relative_to(site)}: {article}: {p!r}" for p in phrases if p in text]
    return found


def test_customer_site_has_only_customer_articles(tmp_path):
    kb = _kb(tmp_path)
    result = _build(kb / "mkdocs.yml", tmp_path / "site", "--audience", "customer")
    assert result.exit_code == 0, result.output
    site = tmp_path / "site"
    corpus = json.loads((site / "kb-corpus.json").read_text(encoding="utf-8"))
    assert [a["id"] for a in corpus["articles"]] == ["FAQ-UPLOAD-009"]
    assert json.loads((site / "assets/kb/ids.json").read_text()) == ["FAQ-UPLOAD-009"]
    assert sorted(p.name for p in (site / "id").iterdir()) == ["FAQ-UPLOAD-009"]
    assert not (site / "assistant").exists() and not (site / "upload/body-limit-spike").exists()
    assert not (site / "review").exists()                  # the owners' review queue is staff work
    assert not any((site / "assets/kb" / n).exists() for n in ("auth.js", "search.js", "assistant.js", "feedback.js",
                                                               "review.js", "gaps.js", "dashboard.js"))
    home = (site / "index.html").read_text(encoding="utf-8")
    assert "Fixture KB — customer edition" in home and "A tiny knowledge base for tests" not in home
    page = (site / "upload/too-large/index.html").read_text(encoding="utf-8")
    assert "kb-ticket-count" not in page and "team-media-ingest" not in page and ">Owner<" not in page
    assert "data-kb-feedback" not in page and "Review queue" not in page   # no feedback box, no nav entry
    search = json.loads((site / "search/search_index.json").read_text(encoding="utf-8"))
    assert {d["location"].split("#")[0] for d in search["docs"]} <= {"", "upload/", "upload/too-large/", "tags/", "error-codes/"}
    marks = withheld_marks(kb / "docs")
    assert len(marks) == 5 and all(len(p) >= 3 for p in marks.values()), marks   # the scan has something to find
    assert leaks(site, marks) == []


def test_the_scan_finds_what_a_full_build_contains(tmp_path):
    """The same scan over the ordinary build (no --audience) finds every internal article: it can fail."""
    kb = _kb(tmp_path)
    result = _build(kb / "mkdocs.yml", tmp_path / "site")
    assert result.exit_code == 0, result.output
    found = leaks(tmp_path / "site", withheld_marks(kb / "docs"))
    for article in withheld_marks(kb / "docs"):
        assert any(f": {article}: " in line for line in found), article
    assert any(line.startswith("kb-corpus.json: ") for line in found)
    assert any(line.startswith("search/search_index.json: ") for line in found)


def test_links_to_withheld_articles_fail_the_build_naming_both(tmp_path, caplog):
    faq = CUSTOMER_FAQ.format(related="related: [RB-UPLOAD-009, FAQ-DRM-001]\n",
                              link="\nIf that fails, see [the spike runbook](body-limit-spike.md#diagnosis) or "
                                   "[this](/id/FAQ-PLAYER-001/).")
    partner = INTERNAL_RB.format(audience="audience: partner\n")
    kb = _kb(tmp_path, faq=faq, runbook=partner)
    result = _build(kb / "mkdocs.yml", tmp_path / "site", "--audience", "customer")
    assert result.exit_code != 0
    out = caplog.text   # MkDocs logs the problems; the CLI says they are listed above
    assert ("docs/upload/too-large.md:12: related: customer article FAQ-UPLOAD-009 lists partner article "
            "RB-UPLOAD-009 (docs/upload/body-limit-spike.md)") in out
    assert "lists internal article FAQ-DRM-001 (docs/drm/shaka-6007.md)" in out
    assert "link: customer article FAQ-UPLOAD-009 links to partner article RB-UPLOAD-009" in out
    assert "links to internal article FAQ-PLAYER-001 (docs/playback/hlsjs-manifest.md)" in out
    assert "4 problem(s)" in out, out   # every problem in one run, each said once
    assert _build(kb / "mkdocs.yml", tmp_path / "full").exit_code == 0   # the ordinary build is unaffected


def test_audience_needs_its_own_site_dir(tmp_path):
    result = CliRunner().invoke(cli, ["build", "--audience", "customer"], obj={}, env={"KB_CONFIG": ""})
    assert result.exit_code == 2 and "--audience needs --site-dir" in result.output
    result = CliRunner().invoke(cli, ["build", "--audience", "partner", "--site-dir", str(tmp_path)], obj={})
    assert result.exit_code == 2 and "'partner' is not 'customer'" in result.output


def test_real_kb_customer_build_leaks_no_internal_article(tmp_path):
    site = tmp_path / "customer"
    result = _build(ROOT / "mkdocs.yml", site, "--audience", "customer")
    assert result.exit_code == 0, result.output
    marks = withheld_marks(ROOT / "kb")
    assert len(marks) >= 30 and all(len(p) == 4 for p in marks.values()), marks   # id + 3 sentences each
    passages = staff_marks(ROOT / "kb")
    assert len(passages) >= 60 and sum(map(len, passages.values())) >= 100, passages
    assert leaks(site, {**marks, **passages}) == []
    corpus = json.loads((site / "kb-corpus.json").read_text(encoding="utf-8"))
    assert corpus["articles"] and all(not i.split(" (")[1].rstrip(")") in {a["id"] for a in corpus["articles"]}
                                      for i in marks)


STAFF_PASSAGE = """
!!! staff "Escalation (staff only)"
    If many creators hit this at once, page the ingest on-call (`pd:ingest-primary`) in #ingest-escalations
    and follow [the spike runbook](body-limit-spike.md#escalation) for the walrus escalation policy.
"""


def test_staff_passages_stay_on_the_staff_site(tmp_path, monkeypatch):
    """A customer FAQ's staff passage (with a link to the internal runbook): on the staff site it
    renders as a staff admonition, out of the corpus export; the customer site has no trace of it;
    the same scan finds it in the customer site when stripping is switched off."""
    faq = CUSTOMER_FAQ.format(related="", link="") + STAFF_PASSAGE
    kb = _kb(tmp_path, faq=faq)
    marks = staff_marks(kb / "docs")
    assert len(next(iter(marks.values()))) == 3, marks   # one sentence, the handle, the channel
    assert _build(kb / "mkdocs.yml", tmp_path / "site", "--audience", "customer").exit_code == 0
    assert leaks(tmp_path / "site", marks) == []
    assert _build(kb / "mkdocs.yml", tmp_path / "full").exit_code == 0
    page = (tmp_path / "full/upload/too-large/index.html").read_text(encoding="utf-8")
    assert '<div class="admonition staff">' in page and 'href="../body-limit-spike/#escalation"' in page
    assert not [line for line in leaks(tmp_path / "full", marks) if line.startswith("kb-corpus.json")]
    assert [line for line in leaks(tmp_path / "full", marks) if line.startswith("upload/too-large/index.html")]
    monkeypatch.setattr(staff, "strip", lambda text: text)   # stripping off: the scan must find the passage
    result = _build(kb / "mkdocs.yml", tmp_path / "unstripped", "--audience", "customer", "--no-strict")
    assert result.exit_code == 0, result.output
    assert len(leaks(tmp_path / "unstripped", marks)) >= 3


def test_links_outside_staff_passages_still_fail_the_build(tmp_path, caplog):
    faq = CUSTOMER_FAQ.format(related="", link="\nSee [the spike runbook](body-limit-spike.md#diagnosis).") + STAFF_PASSAGE
    kb = _kb(tmp_path, faq=faq)
    assert _build(kb / "mkdocs.yml", tmp_path / "site", "--audience", "customer").exit_code != 0
    assert "docs/upload/too-large.md:24: link: customer article FAQ-UPLOAD-009 links to internal article" in caplog.text
    assert "1 problem(s)" in caplog.text, caplog.text   # the link in the staff passage is not one


@pytest.mark.slow
@pytest.mark.skipif(not (kit.CHROMIUM.exists() and kit.CHROMEDRIVER.exists()), reason="needs Debian chromium")
def test_customer_site_searches_offline_without_errors(tmp_path):
    """No service scripts: MkDocs' offline search answers from the customer pages only, and the
    pages raise no script errors."""
    kb = _kb(tmp_path)
    assert _build(kb / "mkdocs.yml", tmp_path / "site", "--audience", "customer").exit_code == 0
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path / "site"))
    handler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    driver = kit.make_driver()
    try:
        kit.load(driver, f"http://127.0.0.1:{server.server_address[1]}/")
        assert driver.title.endswith("Fixture KB — customer edition")
        driver.execute_script("document.getElementById('__search').click()")
        box = driver.find_element("css selector", "[data-md-component=search-query]")
        kit.wait(driver, lambda d: box.is_displayed())
        box.send_keys("upload")
        kit.wait(driver, lambda d: d.find_elements("css selector", ".md-search-result__item"))
        results = " ".join(e.text for e in driver.find_elements("css selector", ".md-search-result__item"))
        assert "Uploads larger than the limit" in results and "Gateway body-limit" not in results
        assert not [entry for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]
    finally:
        driver.quit()
        server.shutdown()
