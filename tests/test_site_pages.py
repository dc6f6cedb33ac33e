"""The article header's links (audience, tags, copy button, error-code chips to the index's anchors,
edit/history), the error-code index's anchors and filter box, and what the built site carries for
the browser: sitemap.xml, the id list of the 404 page, an offline index without header text."""
from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

from site_builder import pages
from site_builder.schema import Article


def _article(**changes) -> Article:
    fields = dict(id="FAQ-DRM-001", title="DRM licence failures", type="faq", service_area="drm", owner="team-drm",
                  last_reviewed=dt.date(2026, 11, 1), status="validated", src_path="drm/licence.md",
                  tags=["drm", "widevine"], error_codes=["6007", "HTTP 403"], audience="customer")
    fields.update(changes)
    return Article(**{k: v for k, v in fields.items() if k in Article.__dataclass_fields__})


def test_code_anchors_are_unique_and_keep_the_code_readable():
    arts = [_article(error_codes=["HTTP 403", "HTTP-403", "6007", "a/b", "<x>"])]
    anchors = pages.code_anchors(arts)
    assert anchors["6007"] == "6007" and anchors["a/b"] == "a-b" and anchors["<x>"] == "x"
    assert sorted([anchors["HTTP 403"], anchors["HTTP-403"]]) == ["HTTP-403", "HTTP-403-2"]
    assert len(set(a.lower() for a in anchors.values())) == len(anchors)


def test_error_code_index_has_an_anchor_per_code_and_a_filter_box():
    page = pages.error_code_page([_article()])
    assert '<span class="kb-anchor" id="6007"></span>' in page and 'id="HTTP-403"' in page
    assert "data-kb-code-filter" in page


def test_header_shows_audience_tags_copy_button_and_linked_codes():
    links = pages.HeaderLinks(error_codes="../../error-codes/", code_anchors={"6007": "6007", "HTTP 403": "HTTP-403"},
                              tags="../../tags/")
    html = pages.metadata_header(_article(), dt.date(2026, 11, 2), {}, links)
    assert html.startswith('<section class="kb-meta" data-kb-id="FAQ-DRM-001" data-search-exclude>')
    assert "customer-shareable" in html and 'href="../../tags/#widevine"' in html
    assert 'data-kb-copy="id/FAQ-DRM-001/"' in html
    assert '<a class="kb-code-chip" href="../../error-codes/#HTTP-403"><code>HTTP 403</code></a>' in html
    assert "edit this page" not in html
    internal = pages.metadata_header(_article(audience="internal"), dt.date(2026, 11, 2), {})
    assert 'kb-audience-internal">internal<' in internal and "<code>6007</code>" in internal


def test_header_has_edit_and_history_links_when_a_repository_is_configured():
    links = pages.HeaderLinks(edit="https://git.example/kb/edit/main/kb/drm/licence.md",
                              history="https://git.example/kb/commits/main/kb/drm/licence.md")
    html = pages.metadata_header(_article(), dt.date(2026, 11, 2), {}, links)
    assert '<a href="https://git.example/kb/edit/main/kb/drm/licence.md">edit this page</a>' in html
    assert ">history</a>" in html


def test_built_site_has_sitemap_id_list_404_page_and_a_clean_offline_index(real_kb_site: Path):
    sitemap = (real_kb_site / "sitemap.xml").read_text(encoding="utf-8")
    assert len(re.findall(r"<loc>http://127\.0\.0\.1:8000/[^<]*</loc>", sitemap)) >= 80
    ids = json.loads((real_kb_site / "assets" / "kb" / "ids.json").read_text(encoding="utf-8"))
    assert "FAQ-DRM-001" in ids and ids == sorted(ids)
    assert "data-kb-notfound" in (real_kb_site / "404.html").read_text(encoding="utf-8")
    index = (real_kb_site / "search" / "search_index.json").read_text(encoding="utf-8")
    assert "Copy stable URL" not in index and "customer-shareable" not in index   # the header is not indexed
