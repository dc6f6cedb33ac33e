"""The worst request within the API's limits stays bounded (issue 17, scripts/worst_case.py): a
20,000-character ticket is read by each pass once, and a query matching the identifiers of a huge
index makes a bounded number of candidates. Counts, not timings (docs/performance.md has those)."""
from __future__ import annotations

import types
from pathlib import Path

import numpy as np
import pytest

from search import dense, identifiers, lexical_tokens, results
from search.build import LoadedBuild
from search.ident_index import IdentifierIndex
from search.lexical import LexicalIndex
from search.results import SENTENCE_RE, WORD_RE, _key, best_sentence, query_terms
from search.searcher import Searcher, SearchConfig
from search.ticket import ticket_query
from tests.fake_encoder import FakeEncoder

ARTICLES = 40


def fake_build(tmp_path: Path) -> LoadedBuild:
    """40 one-section articles (whose words share nothing with the codes) declaring PLAYER_STALL_001; the first 5 also declare DRM_LICENSE_002
    (more identifier evidence for a query naming both). Flat dense index of FakeEncoder vectors."""
    encoder = FakeEncoder()
    texts = [f"Notes for region {n} about the upload queue and thumbnails." for n in range(ARTICLES)]
    articles = {f"A{n}": {"id": f"A{n}", "title": f"Article {n}", "type": "runbook", "service_area": "playback",
                          "url": f"/a{n}/", "stable_url": f"/id/a{n}/", "tags": [],
                          "error_codes": ["PLAYER_STALL_001"] + (["DRM_LICENSE_002"] if n < 5 else [])}
                for n in range(ARTICLES)}
    chunks = [{"article_id": f"A{n}", "anchor": "", "heading": "", "heading_path": [], "text": text}
              for n, text in enumerate(texts)]
    chunk_ns = [types.SimpleNamespace(article_id=c["article_id"], heading="", text=c["text"]) for c in chunks]
    article_ns = [types.SimpleNamespace(id=a["id"], error_codes=a["error_codes"], related_alerts=[])
                  for a in articles.values()]
    index, _kind = dense.build_index(encoder.encode(texts), ann_threshold=10**6)
    lexical = LexicalIndex.build([lexical_tokens.tokenize(t) for t in texts])
    return LoadedBuild(tmp_path, {"build_id": "fake"}, chunks, articles, [c["article_id"] for c in chunks], index,
                       lexical, IdentifierIndex.build(chunk_ns, article_ns))


@pytest.fixture
def recorded_extra(monkeypatch):
    """The ``extra`` ids (lexical and identifier candidates) each dense.candidates call receives."""
    seen: list[np.ndarray] = []
    real = dense.candidates

    def recording(index, query, n, allowed=None, extra=None, vectors=None):
        seen.append(np.array(extra))
        return real(index, query, n, allowed, extra, vectors)

    monkeypatch.setattr("search.searcher.dense.candidates", recording)
    return seen


def test_identifier_hits_beyond_the_cap_do_not_all_become_candidates(tmp_path, recorded_extra):
    build = fake_build(tmp_path)
    capped = Searcher(build, FakeEncoder(), SearchConfig(max_identifier_candidates=8))
    response = capped.search("PLAYER_STALL_001 DRM_LICENSE_002", k=10, mode="hybrid")
    extra = set(recorded_extra[-1].tolist())
    assert len(extra) == 8   # the query's words are in no section: every extra candidate is an identifier hit
    assert set(range(5)) <= extra   # the 5 sections declaring both codes have the most identifier evidence
    assert extra == set(range(8))   # then the others by chunk number
    assert response.matched_articles == ARTICLES   # the count still covers every article that matched
    assert set(response.identifiers) == {"PLAYER_STALL_001", "DRM_LICENSE_002"}
    # a hit beyond the cap that another lane brings in (here the dense lane: the index is tiny)
    # keeps its identifier tier and evidence
    assert len(response.results) == 10 and all("identifier" in r.best.lanes for r in response.results)


def test_below_the_cap_every_identifier_hit_is_a_candidate(tmp_path, recorded_extra):
    build = fake_build(tmp_path)
    assert SearchConfig().max_identifier_candidates >= 2000   # far above the KB's ~1,000 chunks in all
    Searcher(build, FakeEncoder()).search("PLAYER_STALL_001", k=10, mode="hybrid")
    assert set(recorded_extra[-1].tolist()) == set(range(ARTICLES))


class CountingPattern:
    """A compiled pattern that records the length of every text its ``finditer`` reads."""

    def __init__(self, pattern, reads: list[int]):
        self.pattern, self.reads = pattern, reads

    def finditer(self, text):
        self.reads.append(len(text))
        return self.pattern.finditer(text)


def test_a_long_ticket_is_read_by_the_identifier_patterns_once_per_text(tmp_path, monkeypatch):
    build = fake_build(tmp_path)
    searcher = Searcher(build, FakeEncoder())
    reads: list[int] = []
    (kind, first), *others = identifiers.PATTERNS   # every pass over a text starts with the first pattern
    monkeypatch.setattr(identifiers, "PATTERNS", ((kind, CountingPattern(first, reads)), *others))
    if hasattr(identifiers, "spelled"):
        identifiers.spelled.cache_clear()   # the texts below are read afresh
    body = ("The player stalls with PLAYER_STALL_001 and fragLoadError, HTTP 403 on the segment.\n" * 240)[:20000]
    ticket = ticket_query(body, subject="Stalls")
    response = searcher.search(ticket.query, k=50, focus=ticket.focus)
    # the cleaner's text and the searchable text (they differ: the subject line), each read once;
    # was four: extraction and spellings, in the cleaner and again in the search
    assert len([n for n in reads if n > 10000]) == 2
    assert "PLAYER_STALL_001" in response.identifiers and "fragLoadError" in ticket.cleaned.identifiers


def test_tokenize_looks_each_distinct_word_up_once(monkeypatch):
    calls: list[str] = []
    real = lexical_tokens._word_tokens
    monkeypatch.setattr(lexical_tokens, "_word_tokens", lambda word: calls.append(word) or real(word))
    text = "buffering fragLoadError the buffering " * 500
    assert lexical_tokens.tokenize(text) == [t for w in WORD_RE_LEXICAL.findall(text) for t in real(w)]
    assert sorted(calls) == ["buffering", "fragLoadError", "the"]


WORD_RE_LEXICAL = lexical_tokens.WORD_RE


def reference_best_sentence(text: str, query: str) -> str:
    """``best_sentence`` before its sentences were cached per section, verbatim."""
    terms = query_terms(query)
    sentences = [s.strip() for s in SENTENCE_RE.split(text) if len(s.strip()) > 20]
    if not sentences:
        return text.strip()[:results.SNIPPET_CHARS]

    def spans(s):
        return [(m.start(), m.end()) for m in WORD_RE.finditer(s) if len(m.group(0)) >= 3 and _key(m.group(0)) in terms]

    scored = max(sentences, key=lambda s: len({_key(s[a:b]) for a, b in spans(s)}))
    return scored[:results.SNIPPET_CHARS * 2]


@pytest.mark.parametrize("text", [
    "Short.", "", "The player stalls on 4G. Clear the cache and retry!\nThen reload the page: it works again?",
    "A sentence that mentions buffering once. Another one mentions buffering and stalls twice, with stalls.\n\n"
    "Thirdly fragLoadError appears in the player log when the CDN returns HTTP 403 for the segment.",
    "x" * 300 + ". " + "buffering " * 40])
@pytest.mark.parametrize("query", ["buffering stalls", "fragLoadError 403", "nothing in common", "the a of"])
def test_best_sentence_reads_each_section_once_and_answers_as_before(text, query):
    assert best_sentence(text, query) == reference_best_sentence(text, query)
    misses = results.sentence_keys.cache_info().misses
    for _ in range(3):
        best_sentence(text, query + " again")
    assert results.sentence_keys.cache_info().misses == misses   # the section's sentences were split and stemmed once


def test_best_keeps_what_a_stable_sort_by_score_keeps():
    from search.searcher import _best

    rng = np.random.default_rng(0)
    for _ in range(200):
        scores = rng.integers(0, 5, 60).astype(float) / 4   # many ties
        ids = np.sort(rng.choice(60, rng.integers(0, 60), replace=False))
        n = int(rng.integers(0, 70))
        expected = ids[np.argsort(-scores[ids], kind="stable")][:n]
        assert sorted(_best(scores, ids, n).tolist()) == sorted(expected.tolist())
