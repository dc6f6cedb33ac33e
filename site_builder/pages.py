"""Generated pages (area indexes, tags, error-code index) and the article metadata header.

Plain functions over Article records; the plugin only decides where their output goes.
"""
from __future__ import annotations

import datetime as dt
import html
import posixpath
import re
from collections import defaultdict
from dataclasses import dataclass, field

from markdown.extensions.toc import slugify

from site_builder.schema import SERVICE_AREAS, Article

TYPE_ORDER = {"runbook": 0, "faq": 1, "reference": 2}


def listed(articles: list[Article]) -> list[Article]:
    """Articles shown in lists and exported: everything but archived, in a stable order."""
    live = [a for a in articles if a.status != "archived"]
    return sorted(live, key=lambda a: (TYPE_ORDER[a.type], a.title.lower()))


def _rel(from_page: str, to_src: str) -> str:
    return posixpath.relpath(to_src, posixpath.dirname(from_page) or ".")


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _code(text: str) -> str:
    """Inline code showing ``text`` literally: the fence is longer than any backtick run in the
    text, so backticks in an error code cannot close the span early and leave raw HTML behind."""
    fence = "`" * (max((len(run) for run in re.findall("`+", text)), default=0) + 1)
    return f"{fence} {_cell(text)} {fence}" if len(fence) > 1 else f"`{_cell(text)}`"


def _link(from_page: str, art: Article) -> str:
    # backslashes first: a title ending in '\' must not turn the escaped ']' back into a real one
    label = _cell(art.title.replace("\\", "\\\\").replace("[", "\\[").replace("]", "\\]"))
    suffix = " *(draft)*" if art.status == "draft" else ""
    return f"[{label}]({_rel(from_page, art.src_path)}){suffix}"


def area_index(area: str, articles: list[Article]) -> str:
    """Markdown for ``<area>/index.md``: every listed article of the area in one table."""
    page = f"{area}/index.md"
    rows = [a for a in listed(articles) if a.service_area == area]
    out = [f"# {SERVICE_AREAS[area]}", "", f"{len(rows)} article(s) in this service area.", ""]
    out += ["| Article | Type | Error codes | Last reviewed |", "|---|---|---|---|"]
    for art in rows:
        codes = ", ".join(_code(c) for c in art.error_codes) or "—"
        out.append(f"| {_link(page, art)} | {art.type} | {codes} | {art.last_reviewed.isoformat()} |")
    return "\n".join(out) + "\n"


def tags_page(articles: list[Article]) -> str:
    """Markdown for ``tags.md``: each tag, alphabetically, with the articles that carry it."""
    by_tag: dict[str, list[Article]] = defaultdict(list)
    for art in listed(articles):
        for tag in art.tags:
            by_tag[tag].append(art)
    out = ["# Tags", ""]
    for tag in sorted(by_tag):
        out += [f"## {tag}", ""] + [f"- {_link('tags.md', a)}" for a in by_tag[tag]] + [""]
    return "\n".join(out)


def code_anchors(articles: list[Article]) -> dict[str, str]:
    """Every listed error code → its anchor on the error-code index (``/error-codes/#<anchor>``): the
    code itself with runs of characters that are not letters, digits, '_', '.' or ':' as '-';
    codes that would share an anchor get '-2', '-3', … in the index's order."""
    codes = sorted({c for a in listed(articles) for c in a.error_codes}, key=lambda c: (c.lower(), c))
    out: dict[str, str] = {}
    used: set[str] = set()
    for code in codes:
        base = re.sub(r"[^A-Za-z0-9_.:]+", "-", code).strip("-") or "code"
        anchor, n = base, 1
        while anchor.lower() in used:
            n += 1
            anchor = f"{base}-{n}"
        used.add(anchor.lower())
        out[code] = anchor
    return out


CODE_FILTER = ('<div class="kb-code-filter" data-kb-code-filter hidden><label>Filter codes '
               '<input type="search" autocomplete="off" placeholder="e.g. 403, fragLoadError"></label> '
               '<span data-kb-code-count aria-live="polite"></span></div>')


def error_code_page(articles: list[Article]) -> str:
    """Markdown for ``error-codes.md``: every ``error_codes`` entry → articles, alphabetical; each
    row has an anchor (``code_anchors``) and the page a filter box (``assets/kb/article.js``)."""
    by_code: dict[str, list[Article]] = defaultdict(list)
    for art in listed(articles):
        for code in dict.fromkeys(art.error_codes):
            by_code[code].append(art)
    anchors = code_anchors(articles)
    out = ["# Error code index", "", "Every error code, status and identifier the knowledge base covers.", "",
           CODE_FILTER, "", "| Error code | Articles |", "|---|---|"]
    for code in sorted(by_code, key=lambda c: (c.lower(), c)):
        cell = f'<span class="kb-anchor" id="{html.escape(anchors[code], quote=True)}"></span>{_code(code)}'
        out.append(f"| {cell} | {'<br>'.join(_link('error-codes.md', a) for a in by_code[code])} |")
    return "\n".join(out) + "\n"


def _row(label: str, value_html: str) -> str:
    return f"<dt>{html.escape(label)}</dt><dd>{value_html}</dd>"


@dataclass(frozen=True)
class HeaderLinks:
    """Where the article header's links go, relative to the article page."""
    error_codes: str = ""                                  # the error-code index page ("" = no links)
    code_anchors: dict[str, str] = field(default_factory=dict)
    tags: str = ""                                         # the tags page ("" = no links)
    edit: str = ""                                         # "edit this page" (needs repo_url)
    history: str = ""                                      # the file's history (needs repo_url)


def _id_value(art: Article) -> str:
    """The id, a button copying the stable URL (assets/kb/article.js) and where the result shows."""
    e = html.escape
    return (f'<code>{e(art.id)}</code> <button type="button" class="kb-copy" data-kb-copy="id/{e(art.id)}/" '
            f'title="Copy the stable URL /id/{e(art.id)}/">Copy stable URL</button>'
            f'<span class="kb-copy-result" data-kb-copy-result aria-live="polite"></span>')


def _codes_value(codes: list[str], links: HeaderLinks) -> str:
    e = html.escape
    if not links.error_codes:
        return " ".join(f"<code>{e(c)}</code>" for c in codes)
    return " ".join(f'<a class="kb-code-chip" href="{e(links.error_codes)}#{e(links.code_anchors.get(c, c))}">'
                    f"<code>{e(c)}</code></a>" for c in codes)


def _audience_and_tags(art: Article, links: HeaderLinks) -> list[str]:
    """Header rows: who may see the article, and its tags (linked to the tags page)."""
    e = html.escape
    rows = []
    if art.audience:
        shareable = "customer-shareable" if art.audience == "customer" else art.audience
        rows.append(_row("Audience", f'<span class="kb-badge kb-audience-{e(art.audience)}">{e(shareable)}</span>'))
    if art.tags:
        tags = [f'<a class="kb-tag" href="{e(links.tags)}#{e(slugify(t, "-"))}">{e(t)}</a>' if links.tags
                else f'<span class="kb-tag">{e(t)}</span>' for t in art.tags]
        rows.append(_row("Tags", " ".join(tags)))
    return rows


def _source_links(links: HeaderLinks) -> list[str]:
    e = html.escape
    parts = [f'<a href="{e(u)}">{label}</a>' for u, label in ((links.edit, "edit this page"), (links.history, "history")) if u]
    return [_row("Source", " · ".join(parts))] if parts else []


def tested_with_row(art: Article) -> list[str]:
    """The header row naming what the article's facts were checked against (none when unset)."""
    if not art.tested_with:
        return []
    checked = ", ".join(f'<span class="kb-tested">{html.escape(t)}</span>' for t in art.tested_with)
    return [_row("Checked against", checked)]


def metadata_header(art: Article, today: dt.date, related_urls: dict[str, tuple[str, str]],
                    links: HeaderLinks | None = None, staff: bool = True) -> str:
    """HTML block shown at the top of an article. ``related_urls`` maps id → (relative url, title).
    ``staff=False`` (the customer build) leaves out what only staff may see: the owning team, the
    internal alert names and the "Linked to N tickets" box."""
    e = html.escape
    links = links or HeaderLinks()
    badges = [f'<span class="kb-badge kb-type-{e(art.type)}">{e(art.type)}</span>']
    if art.status == "draft":
        badges.append('<span class="kb-badge kb-draft">draft — not yet validated</span>')
    if art.status == "archived":
        badges.append('<span class="kb-badge kb-archived">archived</span>')
    if art.review_overdue(today):
        badges.append(f'<span class="kb-badge kb-overdue">review overdue since {art.review_due.isoformat()}</span>')
    rows = [_row("ID", _id_value(art)), _row("Type", e(art.type))] + ([_row("Owner", e(art.owner))] if staff else [])
    rows += [_row("Status", e(art.status)), _row("Last reviewed", e(art.last_reviewed.isoformat()))]
    if art.severity:
        rows.append(_row("Severity", e(art.severity)))
    rows += _audience_and_tags(art, links)
    rows += tested_with_row(art)
    if art.error_codes:
        rows.append(_row("Error codes", _codes_value(art.error_codes, links)))
    if art.related_alerts and staff:
        rows.append(_row("Alerts", " ".join(f"<code>{e(c)}</code>" for c in art.related_alerts)))
    if art.related:
        related = [f'<a href="{e(related_urls[r][0])}">{e(related_urls[r][1])}</a>' for r in art.related
                   if r in related_urls]
        rows.append(_row("Related", " · ".join(related)))
    rows += _source_links(links)
    # <section>, not <div>: material's search parser matches end tags by name, so the first inner </div>
    # would end the exclusion; the header stays out of the offline index (its text made every teaser)
    tickets = f'<span class="kb-ticket-count" data-kb-article="{e(art.id)}" hidden></span>' if staff else ""
    return (f'<section class="kb-meta" data-kb-id="{e(art.id)}" data-search-exclude>'
            f'<div class="kb-badges">{"".join(badges)}{tickets}</div>'
            f'<dl class="kb-meta-fields">{"".join(rows)}</dl></section>\n')


def feedback_footer(art: Article) -> str:
    """The place at the end of an article (staff build only) where feedback.js puts "Helpful / Not
    helpful" and "Flag this section"; empty without the search service."""
    return (f'\n<section class="kb-feedback-box" data-kb-feedback="{html.escape(art.id)}" data-search-exclude '
            f'aria-label="Feedback on this article" hidden></section>\n')
