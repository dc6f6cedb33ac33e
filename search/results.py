"""Result records, grouping per article, and HTML-safe snippets. Pure functions, no model."""
from __future__ import annotations

import bisect
import functools
import html
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

from search.lexical_tokens import STOP_WORDS, _stem, cached_for_short_words

SNIPPET_CHARS = 240
PREPARED_TEXTS = 8192   # section texts whose snippet data stays cached
SENTENCE_RE = re.compile(r"(?<=[.!?])\s+|\n+")
SENTENCE_END_RE = re.compile(r"[.!?] ")   # SENTENCE_RE on whitespace-normalised text, much faster
ESCAPED_RE = re.compile(r"[&<>\"']")      # what html.escape(quote=True) replaces


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

    def to_json(self) -> dict:  # by hand: dataclasses.asdict deep-copies and costs ~40 µs per result
        return {"chunk": self.chunk, "anchor": self.anchor, "heading": self.heading,
                "heading_path": list(self.heading_path), "url": self.url, "score": self.score,
                "lanes": list(self.lanes), "identifiers": list(self.identifiers), "snippet": self.snippet}


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
        return {"article_id": self.article_id, "title": self.title, "type": self.type,
                "service_area": self.service_area, "url": self.url, "stable_url": self.stable_url,
                "score": self.score, "best": self.best.to_json(), "more": [h.to_json() for h in self.more]}


LINK_LIST_HEADINGS = frozenset({"related", "related articles", "related pages", "related runbooks", "see also",
                                "references", "further reading", "links"})


def is_link_list(heading: str) -> bool:
    """A section that only points elsewhere (Related, See also, References, …): by its heading, the
    way the article format names such sections. Its words are other articles' titles, so it must
    never stand for its own article in a ranking."""
    return " ".join(heading.lower().replace(":", " ").split()) in LINK_LIST_HEADINGS


def article_scores(ranked: Mapping[int, float], article_of: Sequence[str] | Mapping[int, str],
                   anchor_of: Sequence[str] | Mapping[int, str], support: float) -> dict[str, float]:
    """Each article's score from its ranked sections: its best section's score plus ``support`` ×
    the best score of another of its sections (an article that answers in two places beats one
    that mentions the words once; passage-score aggregation between MaxP and SumP). Windows of one
    long section are one section: they add nothing. ``ranked`` is best first."""
    best: dict[str, tuple[float, str]] = {}
    second: dict[str, float] = {}
    for chunk, score in ranked.items():
        article = article_of[chunk]
        if article not in best:
            best[article] = (score, anchor_of[chunk])
        elif article not in second and anchor_of[chunk] != best[article][1]:
            second[article] = score
    return {article: score + support * second.get(article, 0.0) for article, (score, _) in best.items()}


def by_article_score(ranked: Mapping[int, float], article_of: Sequence[str] | Mapping[int, str],
                     scores: Mapping[str, float]) -> list[int]:
    """The ranked chunks reordered by their article's score (stable: within an article, and between
    articles of equal score, the ranking's order is kept)."""
    return sorted(ranked, key=lambda chunk: -scores[article_of[chunk]])


def promote(chunks: list[int], article_of: Sequence[str] | Mapping[int, str], articles: Iterable[str],
            within: int) -> list[int]:
    """``chunks`` (best article first) with each of ``articles`` that ranks below the first ``within``
    articles moved up to just inside them (in their ranking order); the articles they pass move down
    one place each. Within an article the chunks keep their order. (The hybrid ranking keeps each
    lane's best article in its top 5 this way; docs/retrieval.md.)"""
    ranking = list(dict.fromkeys(article_of[c] for c in chunks))
    missing = [a for a in dict.fromkeys(articles) if a in ranking[within:]]
    if not missing or within <= 0:
        return chunks
    missing = sorted(missing, key=ranking.index)[:within]
    rest = [a for a in ranking if a not in missing]
    cut = within - len(missing)
    position = {a: i for i, a in enumerate(rest[:cut] + missing + rest[cut:])}
    return sorted(chunks, key=lambda c: position[article_of[c]])


def group_by_article(ranked: Iterable[int], article_of: Sequence[str] | Mapping[int, str],
                     anchor_of: Sequence[str] | Mapping[int, str], k: int,
                     more_per_article: int = 3,
                     shown: Sequence[bool] | None = None) -> list[tuple[str, list[int]]]:
    """Order-preserving grouping of ranked chunk numbers: each of the first ``k`` articles appears
    once, at the rank of its best section, with up to ``more_per_article`` further sections (other
    anchors) of it after that one. Returns (article, its kept chunks, best first) in rank order.

    ``shown[chunk]`` False: the chunk still places its article (e.g. a section heading with no text
    of its own, whose title matched) but is not one of the sections listed; an article none of
    whose ranked chunks may be shown gets an empty list (the caller picks a section to show)."""
    groups: dict[str, list[int]] = {}   # insertion order is rank order
    seen: set[tuple[str, str]] = set()
    for chunk in ranked:
        article = article_of[chunk]
        kept = groups.get(article)
        if kept is None:
            if len(groups) == k:
                continue
            kept = groups[article] = []
        section = (article, anchor_of[chunk])
        if len(kept) <= more_per_article and section not in seen and (shown is None or shown[chunk]):
            kept.append(chunk)
            seen.add(section)
    return list(groups.items())


WORD_RE = re.compile(r"[A-Za-z0-9][\w.\-]*[A-Za-z0-9]|[A-Za-z0-9]")


@cached_for_short_words
def _key(word: str) -> str:
    return _stem(word.lower())


@cached_for_short_words
def _term(word: str) -> str | None:
    """A query word's highlight key; None for words shorter than 3 characters and stop words."""
    return None if len(word) < 3 or word.lower() in STOP_WORDS else _key(word)


@functools.lru_cache(maxsize=16)
def query_terms(query: str) -> frozenset[str]:
    """Stemmed keys of the query's words and identifiers worth highlighting (≥ 3 characters, no stop
    words). Cached for the last few queries: the ticket assistant asks again for every suggestion's
    'why it matched' sentence (``best_sentence``), and a 20,000-character ticket × k = 50 made this
    the largest cost of a request (issue 17; docs/performance.md)."""
    terms = set(map(_term, WORD_RE.findall(query)))
    terms.discard(None)
    return frozenset(terms)   # shared by the callers of the cache: immutable


def _spans(text: str, terms: set[str]) -> list[tuple[int, int]]:
    return [(m.start(), m.end()) for m in WORD_RE.finditer(text) if len(m.group(0)) >= 3 and _key(m.group(0)) in terms]


class Prepared(NamedTuple):
    """A section's text made ready for snippets once (cached per text, see ``prepare``):
    whitespace-normalised, where each sentence starts, where each stemmed word key occurs and in
    which sentences."""
    text: str
    sentence_starts: list[int]
    spans: dict[str, list[tuple[int, int]]]   # stemmed key → (start, end) of its words (≥ 3 characters)
    sentences: dict[str, tuple[int, ...]]     # stemmed key → the sentences it occurs in (distinct)


@functools.lru_cache(maxsize=PREPARED_TEXTS)
def prepare(text: str) -> Prepared:
    text = " ".join(text.split())
    # white space is single spaces now, so SENTENCE_RE's sentence ends are just "[.!?] "
    starts = [0] + [m.end() for m in SENTENCE_END_RE.finditer(text)]
    spans: dict[str, list[tuple[int, int]]] = {}
    for m in WORD_RE.finditer(text):
        a, b = m.span()
        if b - a >= 3:
            spans.setdefault(_key(m[0]), []).append((a, b))
    sentences = {key: tuple(sorted({bisect.bisect_right(starts, a) - 1 for a, _ in where}))
                 for key, where in spans.items()}
    return Prepared(text, starts, spans, sentences)


def _window(prep: Prepared, terms: set[str], width: int) -> tuple[int, int, list[tuple[int, int]]]:
    """(start, end) of the ``width``-character window beginning at the sentence with most distinct
    query terms (the first such sentence), and the spans of query terms inside it."""
    matched = prep.spans.keys() & terms
    start, end = 0, len(prep.text)
    if end > width:
        starts = prep.sentence_starts
        counts = [0] * len(starts)
        for term in matched:
            for sentence in prep.sentences[term]:
                counts[sentence] += 1
        start = max(0, min(starts[counts.index(max(counts))], end - width))
        end = start + width
    inside = [span for term in matched for span in prep.spans[term] if start <= span[0] and span[1] <= end]
    inside.sort()
    return start, end, [(a - start, b - start) for a, b in inside]


def best_window(text: str, words: list[str], width: int = SNIPPET_CHARS) -> str:
    """The ``width``-character stretch of ``text`` starting at the sentence that contains most query words."""
    prep = prepare(text)
    start, end, _ = _window(prep, {_key(w) for w in words}, width)
    return _ellipsis(prep, start, end, prep.text[start:end])


def _ellipsis(prep: Prepared, start: int, end: int, body: str) -> str:
    """``body`` (the window start..end of the text) with "…" where the text goes on."""
    return ("… " if start else "") + body + (" …" if end < len(prep.text) else "")


def _marked(text: str, spans) -> str:
    """Escape ``text`` piece by piece, wrapping the (start, end) ``spans`` in ``<mark>``."""
    escape = html.escape if ESCAPED_RE.search(text) else str   # most snippet windows have nothing to escape
    out, last = [], 0
    for start, end in spans:
        out.append(escape(text[last:start]) + "<mark>" + escape(text[start:end]) + "</mark>")
        last = end
    out.append(escape(text[last:]))
    return "".join(out)


def highlight(text: str, terms: set[str]) -> str:
    """Escape ``text`` for HTML, then wrap each word matching a query term in ``<mark>``.

    Matches are found in the raw text and every piece is escaped separately, so nothing in the
    input can open a tag: the only markup in the output is ``<mark>``/``</mark>``.
    """
    return _marked(text, _spans(text, terms) if terms else ())


def snippet(text: str, query: str) -> str:
    return Snippets(query)(text)


class Snippets:
    """Snippets for one query: the query's terms are computed once, each section's words once per text."""

    def __init__(self, query: str):
        self.terms = query_terms(query)

    def __call__(self, text: str, width: int = SNIPPET_CHARS) -> str:
        prep = prepare(text)
        start, end, spans = _window(prep, self.terms, width)
        return _ellipsis(prep, start, end, _marked(prep.text[start:end], spans))


@functools.lru_cache(maxsize=PREPARED_TEXTS)
def sentence_keys(text: str) -> tuple[tuple[str, frozenset[str]], ...]:
    """A section's sentences for ``best_sentence`` (stripped, over 20 characters), each with the
    stemmed keys of its words of ≥ 3 characters. Cached per text like ``prepare``: a suggestion for
    a 20,000-character ticket with ``k`` = 50 split and stemmed 50 sections per request (issue 17)."""
    sentences = [s.strip() for s in SENTENCE_RE.split(text) if len(s.strip()) > 20]
    return tuple((s, frozenset(_key(m[0]) for m in WORD_RE.finditer(s) if len(m[0]) >= 3)) for s in sentences)


def best_sentence(text: str, query: str) -> str:
    """The sentence of ``text`` sharing most query terms (the 'why it matched' line; the first of
    those that share most)."""
    terms = query_terms(query)
    sentences = sentence_keys(text)
    if not sentences:
        return text.strip()[:SNIPPET_CHARS]
    sentence, _keys = max(sentences, key=lambda s: len(s[1] & terms))
    return sentence[:SNIPPET_CHARS * 2]
