"""The fixture KB builds, and its output honours contract 1 and the site features."""
from __future__ import annotations

import json
import re
from pathlib import Path
from urllib.parse import urljoin

from site_builder.links import html_ids


def _export(site: Path) -> dict:
    return json.loads((site / "kb-corpus.json").read_text(encoding="utf-8"))


def _page_html(site: Path, url: str) -> str:
    return (site / url / "index.html").read_text(encoding="utf-8")


def test_export_schema_and_articles(fixture_site: Path):
    doc = _export(fixture_site)
    assert doc["schema_version"] == 1
    ids = [a["id"] for a in doc["articles"]]
    assert ids == sorted(ids) == ["FAQ-DRM-001", "FAQ-PLAYER-001", "FAQ-UPLOAD-001", "RB-CDN-001"]
    faq = next(a for a in doc["articles"] if a["id"] == "FAQ-PLAYER-001")
    assert faq["url"] == "playback/hlsjs-manifest/"
    assert faq["stable_url"] == "id/FAQ-PLAYER-001/"
    assert faq["error_codes"] == ["manifestLoadError", "HTTP 0"]
    assert faq["tested_with"] == ["hls.js 1.6", "Chrome 131"]
    headings = [(s["heading"], s["level"], s["anchor"]) for s in faq["sections"]]
    assert headings == [("Issue", 2, "issue"), ("Environment", 2, "environment"),
                        ("Resolution", 2, "resolution"), ("Cause", 2, "cause")]
    issue = faq["sections"][0]["text"]
    assert "manifestLoadError - fatal: true" in issue  # code blocks are kept as text
    assert "<" not in "".join(s["text"] for s in faq["sections"])  # HTML stripped
    assert "¶" not in "".join(s["text"] + s["heading"] for s in faq["sections"])


def test_every_exported_anchor_exists_in_the_html(fixture_site: Path):
    count = 0
    for art in _export(fixture_site)["articles"]:
        ids = html_ids(_page_html(fixture_site, art["url"]))
        for section in art["sections"]:
            if section["anchor"]:
                assert section["anchor"] in ids, (art["id"], section["anchor"])
                count += 1
    assert count >= 15


def test_stable_id_pages_resolve_and_keep_the_anchor(fixture_site: Path):
    for art in _export(fixture_site)["articles"]:
        page = fixture_site / art["stable_url"] / "index.html"
        html = page.read_text(encoding="utf-8")
        target = re.search(r'data-target="([^"]+)"', html).group(1)
        resolved = urljoin("http://kb.test/" + art["stable_url"], target)
        assert resolved == "http://kb.test/" + art["url"]
        script = re.search(r'<script src="([^"]+)"', html).group(1)
        script_path = urljoin("http://kb.test/" + art["stable_url"], script).removeprefix("http://kb.test/")
        assert "location.hash" in (fixture_site / script_path).read_text()
        assert "onclick" not in html and "<script>" not in html  # no inline script


def test_metadata_header_badges_and_related_links(fixture_site: Path):
    html = _page_html(fixture_site, "cdn/cdn-5xx")
    assert '<code>RB-CDN-001</code>' in html and "<dd>SEV-2</dd>" in html
    assert 'href="../../playback/hlsjs-manifest/"' in html
    draft = _page_html(fixture_site, "upload/413")
    assert "kb-draft" in draft and "review overdue since 2025-04-10" in draft
    assert "kb-overdue" not in html
    assert "Checked against" not in html  # no tested_with, no row


def test_metadata_header_shows_what_the_article_was_checked_against(fixture_site: Path):
    html = _page_html(fixture_site, "playback/hlsjs-manifest")
    assert ('<dt>Checked against</dt><dd><span class="kb-tested">hls.js 1.6</span>, '
            '<span class="kb-tested">Chrome 131</span></dd>') in html


def test_area_index_tags_and_error_code_pages(fixture_site: Path):
    area = _page_html(fixture_site, "playback")
    assert "hls.js manifestLoadError with response code 0" in area and "2026-10-15" in area
    codes = _page_html(fixture_site, "error-codes")
    order = [codes.index(f"<code>{c}</code>") for c in ("6007", "HTTP 0", "HTTP 413", "HTTP 502",
                                                         "LICENSE_REQUEST_FAILED", "manifestLoadError")]
    assert order == sorted(order)
    tags = _page_html(fixture_site, "tags")
    assert 'id="widevine"' in tags


def test_builtin_search_index_keeps_identifiers(fixture_site: Path):
    index = json.loads((fixture_site / "search" / "search_index.json").read_text(encoding="utf-8"))
    separator = index["config"]["separator"]
    tokens = set()
    for doc in index["docs"]:
        tokens.update(t for t in re.split(separator, doc["text"]) if t)
    assert "manifestLoadError" in tokens
    assert "6007" in tokens
    for identifier in ("ERR_HLS_403", "avc1.64001f", "-12660", "EXT-X-TARGETDURATION"):
        assert re.split(separator, identifier) == [identifier]


def test_fixture_uses_the_sites_search_separator():
    import yaml

    def separator(path: Path) -> str:
        plugins = yaml.safe_load(path.read_text())["plugins"]
        return next(p["search"]["separator"] for p in plugins if isinstance(p, dict) and "search" in p)

    root = Path(__file__).resolve().parent.parent
    assert separator(root / "mkdocs.yml") == separator(root / "tests/fixtures/kb/mkdocs.yml")
