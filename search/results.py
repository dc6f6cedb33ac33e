"""Result records, grouping per article, and HTML-safe snippets. Pure functions, no model."""
from __future__ import annotations

import html
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

from search.lexical_tokens import STOP_WORDS, _stem

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
    snippet: str = ""          # best section only; HTML-safe: escaped text with <mark> around matches


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


def group_by_article(hits: list[SectionHit], article_of: Sequence[str] | dict[int, str], k: int,
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


WORD_RE = re.compile(r"[A-Za-z0-9][\w.\-]*[A-Za-z0-9]|[A-Za-z0-9]")


def _key(word: str) -> str:
    return _stem(word.lower())


def query_terms(query: str) -> set[str]:
    """Stemmed keys of the query's words and identifiers worth highlighting (≥ 3 characters, no stop words)."""
    return {_key(t) for t in WORD_RE.findall(query) if len(t) >= 3 and t.lower() not in STOP_WORDS}


def _spans(text: str, terms: set[str]) -> list[tuple[int, int]]:
    return [(m.start(), m.end()) for m in WORD_RE.finditer(text) if len(m.group(0)) >= 3 and _key(m.group(0)) in terms]


def raw_terms(query: str, limit: int = 40) -> list[str]:
    """Lower-case query words for choosing the snippet window (longest first, at most ``limit``)."""
    words = {t.lower() for t in WORD_RE.findall(query) if len(t) >= 3 and t.lower() not in STOP_WORDS}
    return sorted(words, key=len, reverse=True)[:limit]


def best_window(text: str, words: list[str], width: int = SNIPPET_CHARS) -> str:
    """The ``width``-character stretch of ``text`` starting at the sentence that contains most
    query words (substring counts: cheap enough to run on every returned section)."""
    text = " ".join(text.split())
    if len(text) <= width:
        return text
    best_pos, best_count, pos = 0, -1, 0
    for sentence in SENTENCE_RE.split(text):
        start = text.find(sentence, pos)
        pos = max(start, pos)
        low = sentence.lower()
        count = sum(1 for w in words if w in low)
        if count > best_count:
            best_pos, best_count = max(start, 0), count
    start = max(0, min(best_pos, len(text) - width))
    window = text[start:start + width]
    return ("… " if start else "") + window + (" …" if start + width < len(text) else "")


def highlight(text: str, terms: set[str]) -> str:
    """Escape ``text`` for HTML, then wrap each word matching a query term in ``<mark>``.

    Matches are found in the raw text and every piece is escaped separately, so nothing in the
    input can open a tag: the only markup in the output is ``<mark>``/``</mark>``.
    """
    out, last = [], 0
    for start, end in _spans(text, terms) if terms else ():
        out.append(html.escape(text[last:start], quote=True))
        out.append("<mark>" + html.escape(text[start:end], quote=True) + "</mark>")
        last = end
    out.append(html.escape(text[last:], quote=True))
    return "".join(out)


def snippet(text: str, query: str) -> str:
    return Snippets(query)(text)


class Snippets:
    """Snippets for one query: the query's terms are computed once, not once per section."""

    def __init__(self, query: str):
        self.terms = query_terms(query)
        self.words = raw_terms(query)

    def __call__(self, text: str) -> str:
        return highlight(best_window(text, self.words), self.terms)


def best_sentence(text: str, query: str) -> str:
    """The sentence of ``text`` sharing most query terms (the 'why it matched' line)."""
    terms = query_terms(query)
    sentences = [s.strip() for s in SENTENCE_RE.split(text) if len(s.strip()) > 20]
    if not sentences:
        return text.strip()[:SNIPPET_CHARS]
    scored = max(sentences, key=lambda s: len({_key(s[a:b]) for a, b in _spans(s, terms)}))
    return scored[:SNIPPET_CHARS * 2]
