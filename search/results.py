"""Result records, grouping per article, and HTML-safe snippets. Pure functions, no model."""
from __future__ import annotations

import html
import re
from dataclasses import asdict, dataclass, field

from search.lexical_tokens import STOP_WORDS

SNIPPET_CHARS = 240
SENTENCE_RE = re.compile(r"(?<=[.!?])\s+|\n+")


@dataclass
class SectionHit:
    chunk: int                 # chunk index in the build
    anchor: str
    heading: str
    heading_path: list[str]
    url: str                   # deep link: article url + "#" + anchor (no anchor for the intro)
    score: float
    lanes: list[str]           # which lanes matched: identifier, lexical, dense
    identifiers: list[str]     # matched identifiers, as written in the KB
    snippet: str = ""          # HTML-safe: escaped text with <mark> around matches


@dataclass
class ArticleResult:
    article_id: str
    title: str
    type: str
    service_area: str
    url: str
    stable_url: str
    score: float
    best: SectionHit
    more: list[SectionHit] = field(default_factory=list)

    @property
    def lanes(self) -> list[str]:
        return self.best.lanes

    def to_json(self) -> dict:
        return asdict(self)


def group_by_article(hits: list[SectionHit], article_of: dict[int, str], k: int,
                     more_per_article: int = 3) -> list[tuple[str, SectionHit, list[SectionHit]]]:
    """Order-preserving grouping: each article appears once, at the rank of its best section;
    up to ``more_per_article`` further sections of the same article are kept after it."""
    order: list[str] = []
    groups: dict[str, list[SectionHit]] = {}
    for hit in hits:
        art = article_of[hit.chunk]
        if art not in groups:
            if len(order) == k:
                continue
            order.append(art)
            groups[art] = []
        same_anchor = any(h.anchor == hit.anchor for h in groups[art])
        if len(groups[art]) <= more_per_article and not same_anchor:
            groups[art].append(hit)
    return [(art, groups[art][0], groups[art][1:]) for art in order]


def query_terms(query: str) -> list[str]:
    """Words and identifiers of the query worth highlighting (≥ 3 characters, no stop words)."""
    terms = {t for t in re.findall(r"[A-Za-z0-9][\w.\-]*[A-Za-z0-9]|\w", query)
             if len(t) >= 3 and t.lower() not in STOP_WORDS}
    return sorted(terms, key=len, reverse=True)


def _term_pattern(terms: list[str]) -> re.Pattern | None:
    if not terms:
        return None
    alternatives = "|".join(re.escape(t) for t in terms)
    return re.compile(rf"(?<![\w-])(?:{alternatives})\w*", re.IGNORECASE)


def best_window(text: str, terms: list[str], width: int = SNIPPET_CHARS) -> str:
    """The ``width``-character stretch of ``text`` around the sentence with most query terms."""
    text = " ".join(text.split())
    if len(text) <= width:
        return text
    pattern = _term_pattern(terms)
    best_pos, best_count = 0, -1
    pos = 0
    for sentence in SENTENCE_RE.split(text):
        start = text.find(sentence, pos)
        pos = max(start, pos)
        count = len(pattern.findall(sentence)) if pattern else 0
        if count > best_count:
            best_pos, best_count = max(start, 0), count
    start = max(0, min(best_pos, len(text) - width))
    window = text[start:start + width]
    return ("… " if start else "") + window + (" …" if start + width < len(text) else "")


def highlight(text: str, terms: list[str]) -> str:
    """Escape ``text`` for HTML, then wrap each term occurrence in ``<mark>``.

    Matches are found in the raw text and every piece is escaped separately, so nothing in the
    input can open a tag: the only markup in the output is ``<mark>``/``</mark>``.
    """
    pattern = _term_pattern(terms)
    if pattern is None:
        return html.escape(text, quote=True)
    out, last = [], 0
    for match in pattern.finditer(text):
        out.append(html.escape(text[last:match.start()], quote=True))
        out.append("<mark>" + html.escape(match.group(0), quote=True) + "</mark>")
        last = match.end()
    out.append(html.escape(text[last:], quote=True))
    return "".join(out)


def snippet(text: str, query: str, identifiers: list[str] = ()) -> str:
    terms = sorted(set(query_terms(query)) | {i for i in identifiers if i}, key=len, reverse=True)
    return highlight(best_window(text, terms), terms)


def best_sentence(text: str, query: str) -> str:
    """The sentence of ``text`` sharing most query terms (the 'why it matched' line)."""
    pattern = _term_pattern(query_terms(query))
    sentences = [s.strip() for s in SENTENCE_RE.split(text) if len(s.strip()) > 20]
    if not sentences:
        return text.strip()[:SNIPPET_CHARS]
    if pattern is None:
        return sentences[0][:SNIPPET_CHARS]
    scored = max(sentences, key=lambda s: len({m.lower() for m in pattern.findall(s)}))
    return scored[:SNIPPET_CHARS * 2]
