"""The corpus export (contract 1): every non-archived article's metadata and its sections.

Section anchors come from MkDocs' own table of contents and the rendered HTML — never from a
re-implemented slugifier — so a search hit's ``url#anchor`` is always a real element id.
"""
from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass
from html.parser import HTMLParser

from site_builder.schema import Article

SCHEMA_VERSION = 1
EXPORT_NAME = "kb-corpus.json"
BLOCK_TAGS = {"p", "div", "li", "tr", "br", "pre", "table", "ul", "ol", "dl", "dt", "dd", "blockquote",
              "h1", "h2", "h3", "h4", "h5", "h6", "details", "summary"}
HEADING_TAGS = {"h1", "h2", "h3", "h4", "h5", "h6"}
VOID_TAGS = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


@dataclass
class Section:
    heading: str
    level: int
    anchor: str
    text: str


class _SectionSplitter(HTMLParser):
    """Split rendered HTML at the headings the TOC knows about, collecting plain text."""

    def __init__(self, toc_ids: set[str], title: str, drop_staff: bool = False):
        super().__init__(convert_charrefs=True)
        self.toc_ids = toc_ids
        self.drop_staff = drop_staff
        self.sections: list[dict] = [{"heading": title, "level": 1, "anchor": "", "parts": [], "head": None}]
        self.skip_depth = 0  # inside <a class="headerlink"> (the ¶ permalink) or a dropped staff passage
        self.in_heading = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attr = dict(attrs)
        if self.skip_depth:
            self.skip_depth += tag not in VOID_TAGS   # a void element (<br>, <img>) has no end tag
            return
        classes = (attr.get("class") or "").split()
        if (tag == "a" and "headerlink" in classes) or (self.drop_staff and tag in ("div", "details")
                                                         and "staff" in classes):
            self.skip_depth = 1
            return
        if tag in HEADING_TAGS and attr.get("id") in self.toc_ids:
            self.sections.append({"heading": "", "level": int(tag[1]), "anchor": attr["id"], "parts": [], "head": []})
            self.in_heading = True
            return
        if tag in BLOCK_TAGS:
            self.sections[-1]["parts"].append("\n")
        elif tag in ("td", "th"):
            self.sections[-1]["parts"].append(" | ")

    def handle_endtag(self, tag: str) -> None:
        if self.skip_depth:
            self.skip_depth -= tag not in VOID_TAGS
            return
        if tag in HEADING_TAGS and self.in_heading:
            self.in_heading = False
        elif tag in BLOCK_TAGS:
            self.sections[-1]["parts"].append("\n")

    def handle_data(self, data: str) -> None:
        if self.skip_depth:
            return
        target = self.sections[-1]["head"] if self.in_heading else self.sections[-1]["parts"]
        target.append(data)


def _clean(text: str) -> str:
    lines = [re.sub(r"[ \t]+", " ", line).strip() for line in text.splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def flatten_toc(toc) -> list:
    """Depth-first list of MkDocs AnchorLink items."""
    out = []
    for item in toc:
        out.append(item)
        out.extend(flatten_toc(item.children))
    return out


def extract_sections(html: str, toc_ids: set[str], title: str, drop_staff: bool = False) -> list[Section]:
    """Sections of one page: an untitled lead (anchor "") when it has text, then one per TOC heading.
    ``drop_staff`` (a non-internal article) leaves out the text of its staff passages (the
    ``staff`` admonitions, staff.py): staff read them on the page; they are not searchable, so the
    search service cannot return them to a caller who may see the article but not staff detail."""
    splitter = _SectionSplitter(toc_ids, title, drop_staff)
    splitter.feed(html)
    splitter.close()
    sections = []
    for raw in splitter.sections:
        heading = _clean("".join(raw["head"])) if raw["head"] is not None else raw["heading"]
        text = _clean("".join(raw["parts"]))
        if raw["anchor"] or text:
            sections.append(Section(heading, raw["level"], raw["anchor"], text))
    return sections


def article_record(art: Article, url: str, stable_url: str, sections: list[Section], today: dt.date) -> dict:
    """One article's entry in the export."""
    return {
        "id": art.id, "title": art.title, "type": art.type, "service_area": art.service_area,
        "owner": art.owner, "status": art.status, "last_reviewed": art.last_reviewed.isoformat(),
        "review_interval_days": art.review_interval_days, "review_due": art.review_due.isoformat(),
        "review_overdue": art.review_overdue(today), "tags": art.tags, "error_codes": art.error_codes,
        "related_alerts": art.related_alerts, "related": art.related, "severity": art.severity,
        "platforms": art.platforms, "sdk_versions": art.sdk_versions,
        "tested_with": art.tested_with, "audience": art.audience,
        "description": art.description, "source_path": art.src_path, "url": url, "stable_url": stable_url,
        "sections": [vars(s) for s in sections],
    }


def export_document(records: list[dict], built_at: str) -> str:
    """The whole export as JSON text (sorted by id, so identical input gives identical output)."""
    doc = {"schema_version": SCHEMA_VERSION, "built_at": built_at,
           "articles": sorted(records, key=lambda r: r["id"])}
    return json.dumps(doc, ensure_ascii=False, indent=1)
